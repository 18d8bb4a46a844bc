//! BPF as pure data: instructions and their encodings, helper ids, map specs, event layouts. No syscalls.

pub mod disasm;
pub mod func_btf;
pub mod helpers;
pub mod insn;
pub mod program;

pub use insn::Insn;
pub use program::*;
