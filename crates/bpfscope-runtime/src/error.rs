//! The runtime's error type: which kernel call failed on what, and verifier rejections with their log.

use std::io;

/// Everything that can go wrong while loading, attaching and running.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A syscall failed; `what` says which and on what, in words a user understands.
    #[error("{what}: {source}")]
    Syscall {
        what: String,
        #[source]
        source: io::Error,
    },
    /// The kernel refused to load a program; carries the verifier log verbatim.
    #[error("{0}")]
    VerifierRejected(Box<VerifierRejection>),
    /// The compiled program is inconsistent (a compiler bug, not a user error).
    #[error("invalid compiled program: {0}")]
    InvalidProgram(String),
    /// The probe type cannot work on this kernel; the message says why.
    #[error("{0}")]
    Unsupported(String),
}

impl RuntimeError {
    /// Builds a [`RuntimeError::Syscall`].
    pub fn syscall(what: impl Into<String>, source: io::Error) -> RuntimeError {
        RuntimeError::Syscall {
            what: what.into(),
            source,
        }
    }
}

/// A program the kernel did not accept.
#[derive(Debug)]
pub struct VerifierRejection {
    /// The probe the program belongs to, as the user wrote it.
    pub probe_name: String,
    /// The errno of BPF_PROG_LOAD (EACCES/EINVAL for verifier rejections, EPERM when refused outright).
    pub error: io::Error,
    /// The verifier log, verbatim (empty when the kernel wrote none).
    pub log: String,
    /// The instruction the verifier complained about (the last `N: (..)` line of the log).
    pub insn_index: Option<usize>,
    /// The 1-based script line that produced that instruction, when known.
    pub script_line: Option<u32>,
}

impl std::fmt::Display for VerifierRejection {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "the kernel rejected the BPF program of {} ({})",
            self.probe_name, self.error
        )?;
        if let Some(line) = self.script_line {
            write!(formatter, " at script line {line}")?;
        }
        if let Some(index) = self.insn_index {
            write!(formatter, " (instruction {index})")?;
        }
        if let Some(reason) = last_meaningful_log_line(&self.log) {
            write!(formatter, ": {reason}")?;
        }
        Ok(())
    }
}

/// The verifier's own words are usually the last non-statistics line of its log.
fn last_meaningful_log_line(log: &str) -> Option<&str> {
    log.lines()
        .rev()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .find(|line| !line.starts_with("processed ") && !line.starts_with("verification time"))
}
