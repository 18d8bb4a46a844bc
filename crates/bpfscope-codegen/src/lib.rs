//! Typed program to BPF instructions: lowering, register allocation, stack layout.
