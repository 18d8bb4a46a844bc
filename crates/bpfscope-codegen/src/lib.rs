//! Typed program to BPF instructions: lowering, register allocation with spilling, stack layout.

pub mod ir;
pub mod regalloc;
