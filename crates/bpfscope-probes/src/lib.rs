//! The probe catalog: every provider bpfscope knows, wildcard matching, and per-probe argument layouts.
//!
//! Pure parsers (`tracefs`, `kallsyms`, `elf`, `usdt`, ...) take bytes and never touch the system.
//! Everything read from the live machine goes through [`KernelFs`], which a test points at a
//! fixture directory laid out like `/`.

pub mod catalog;
pub mod elf;
pub mod glob;
pub mod kallsyms;
pub mod kernel_fs;
pub mod kernel_funcs;
pub mod ldcache;
pub mod perf_events;
pub mod tracefs;
pub mod usdt;

pub use kernel_fs::KernelFs;

use serde::Serialize;

/// A probe provider, with bpftrace's canonical name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Tracepoint,
    Rawtracepoint,
    Kprobe,
    Kretprobe,
    Fentry,
    Fexit,
    Uprobe,
    Uretprobe,
    Usdt,
    Software,
    Hardware,
    Profile,
    Interval,
    Watchpoint,
    Iter,
    Begin,
    End,
}

impl Provider {
    /// Every provider, in the order `-l` prints them when a pattern has no provider.
    pub const ALL: [Provider; 17] = [
        Provider::Tracepoint,
        Provider::Rawtracepoint,
        Provider::Kprobe,
        Provider::Kretprobe,
        Provider::Fentry,
        Provider::Fexit,
        Provider::Uprobe,
        Provider::Uretprobe,
        Provider::Usdt,
        Provider::Software,
        Provider::Hardware,
        Provider::Profile,
        Provider::Interval,
        Provider::Watchpoint,
        Provider::Iter,
        Provider::Begin,
        Provider::End,
    ];

    /// The canonical name used in probe specifications and listings.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Tracepoint => "tracepoint",
            Provider::Rawtracepoint => "rawtracepoint",
            Provider::Kprobe => "kprobe",
            Provider::Kretprobe => "kretprobe",
            Provider::Fentry => "fentry",
            Provider::Fexit => "fexit",
            Provider::Uprobe => "uprobe",
            Provider::Uretprobe => "uretprobe",
            Provider::Usdt => "usdt",
            Provider::Software => "software",
            Provider::Hardware => "hardware",
            Provider::Profile => "profile",
            Provider::Interval => "interval",
            Provider::Watchpoint => "watchpoint",
            Provider::Iter => "iter",
            Provider::Begin => "BEGIN",
            Provider::End => "END",
        }
    }

    /// Resolves a provider name or alias, case-insensitively as bpftrace ≥ 0.24 does
    /// (`t`, `k`, `kfunc` → fentry, ...).
    pub fn from_name(name: &str) -> Option<Provider> {
        let lower = name.to_ascii_lowercase();
        Some(match lower.as_str() {
            "tracepoint" | "t" => Provider::Tracepoint,
            "rawtracepoint" | "rt" => Provider::Rawtracepoint,
            "kprobe" | "k" => Provider::Kprobe,
            "kretprobe" | "kr" => Provider::Kretprobe,
            "fentry" | "f" | "kfunc" => Provider::Fentry,
            "fexit" | "fr" | "kretfunc" => Provider::Fexit,
            "uprobe" | "u" => Provider::Uprobe,
            "uretprobe" | "ur" => Provider::Uretprobe,
            "usdt" => Provider::Usdt,
            "software" | "s" => Provider::Software,
            "hardware" | "h" => Provider::Hardware,
            "profile" | "p" => Provider::Profile,
            "interval" | "i" => Provider::Interval,
            "watchpoint" | "w" => Provider::Watchpoint,
            "iter" | "it" => Provider::Iter,
            "begin" => Provider::Begin,
            "end" => Provider::End,
            // `U` is usdt's alias; it is the one alias that is case-sensitive in bpftrace.
            _ if name == "U" => Provider::Usdt,
            _ => return None,
        })
    }

    /// Whether a pattern without a provider (`-l '*execve*'`) searches this provider,
    /// as bpftrace's `show_in_kernel_list`.
    pub fn in_kernel_list(self) -> bool {
        matches!(
            self,
            Provider::Tracepoint
                | Provider::Rawtracepoint
                | Provider::Kprobe
                | Provider::Kretprobe
                | Provider::Fentry
                | Provider::Fexit
                | Provider::Software
                | Provider::Hardware
        )
    }

    /// Tracepoints and USDT probes are stable interfaces; kernel functions change between releases.
    pub fn stability(self) -> Stability {
        match self {
            Provider::Tracepoint | Provider::Usdt | Provider::Software | Provider::Hardware => {
                Stability::Stable
            }
            _ => Stability::Unstable,
        }
    }
}

/// Whether a probe point is a stable interface (the lesson's advice: prefer stable ones).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stability {
    Stable,
    Unstable,
}

/// One argument of a probe as `-lv` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProbeArg {
    /// The C type as bpftrace prints it (`const char *const *`).
    #[serde(rename = "type")]
    pub ty: String,
    pub name: String,
    /// Byte offset in the probe's context record, where the layout is known (tracepoints).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u32>,
    /// Whether the value is signed, where the source says so (tracepoint `signed:` field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed: Option<bool>,
}

/// One probe point, named as bpftrace names it: `provider:rest` (e.g. `tracepoint:syscalls:sys_enter_execve`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeEntry {
    pub provider: Provider,
    /// Everything after `provider:`.
    pub target: String,
    /// Filled only when arguments were asked for (`-lv`).
    pub args: Vec<ProbeArg>,
}

impl ProbeEntry {
    pub fn new(provider: Provider, target: impl Into<String>) -> ProbeEntry {
        ProbeEntry {
            provider,
            target: target.into(),
            args: Vec::new(),
        }
    }

    /// The full name, `provider:target`.
    pub fn full_name(&self) -> String {
        format!("{}:{}", self.provider.name(), self.target)
    }
}

/// Something `-l` could not read or understand, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("unknown probe type '{given}'; valid types: {valid}")]
    UnknownProvider { given: String, valid: String },
    #[error("invalid probe pattern '{pattern}': {reason}")]
    BadPattern { pattern: String, reason: String },
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    BadFile { path: String, reason: String },
    #[error("tracefs is not mounted; mount it with: mount -t tracefs tracefs /sys/kernel/tracing")]
    TracefsMissing,
}
