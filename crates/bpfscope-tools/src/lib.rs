//! Built-in tools: scripts in bpfscope's own language, completed from command-line options.

pub mod execsnoop;

pub use execsnoop::{
    execsnoop_script, ExecOutcomeFilter, ExecsnoopError, ExecsnoopOptions, TimeColumn,
};
