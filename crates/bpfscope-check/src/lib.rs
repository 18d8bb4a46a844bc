//! Name resolution and type checking of bpftrace programs: the untyped AST becomes a typed program plus its resources.

pub mod checker;
pub mod dump;
pub mod printf;
pub mod probe_info;
pub mod regex_dfa;
pub mod typed;
pub mod types;

pub use checker::{check, CheckOptions, CheckOutput, FOR_RANGE_MAX_ITERATIONS};
pub use probe_info::{FixtureProbeInfo, KernelProbeInfo, ProbeInfo};
pub use typed::*;
pub use types::{AddressSpace, Type};
