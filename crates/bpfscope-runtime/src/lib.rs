//! The only crate that makes syscalls: bpf(), perf_event_open, mount, ring buffers.
//!
//! `sys` wraps the raw calls; `maps`, `load`, `attach` and `ringbuf` build on it; `session` runs a
//! `CompiledProgram` end to end; `features` finds out what works on this kernel for `--info`.

pub mod attach;
pub mod child;
pub mod error;
pub mod features;
pub mod load;
pub mod maps;
pub mod ringbuf;
pub mod session;
pub mod signals;
pub mod sys;

pub use child::PausedChild;
pub use error::{RuntimeError, VerifierRejection};
pub use maps::{Map, MapSnapshot};
pub use ringbuf::Control;
pub use session::{FullMap, Session, SessionOptions, StopReason};
