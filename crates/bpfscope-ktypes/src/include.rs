//! `#include` lines of scripts: kernel headers are answered from BTF instead of being read.

/// What to do with an `#include`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IncludeOutcome {
    /// A kernel (or C library) header: its types come from BTF, nothing needs reading. The
    /// note is for the user, said once per run.
    SatisfiedByBtf { note: String },
    /// A header of the user's own (`"my.h"`, a path): the caller reads it and passes its struct
    /// definitions to [`crate::parse_c_definitions`], or reports it.
    UserHeader { path: String },
}

/// Top-level directories of kernel and libc headers that bpftrace scripts include for types.
const KERNEL_HEADER_DIRECTORIES: [&str; 14] = [
    "linux/",
    "net/",
    "uapi/",
    "asm/",
    "asm-generic/",
    "trace/",
    "kernel/",
    "scsi/",
    "sound/",
    "crypto/",
    "keys/",
    "xen/",
    "rdma/",
    "sys/",
];

/// Whether `#include <path>` (`is_system`) or `#include "path"` is satisfied by kernel BTF.
pub fn include_is_satisfied(path: &str, is_system: bool) -> IncludeOutcome {
    let trimmed = path.trim();
    let kernel_like = KERNEL_HEADER_DIRECTORIES
        .iter()
        .any(|directory| trimmed.starts_with(directory));
    // `<stdint.h>` and friends: C types every script already has.
    let libc_like = is_system && !trimmed.contains('/') && trimmed.ends_with(".h");
    if kernel_like || libc_like {
        IncludeOutcome::SatisfiedByBtf {
            note: format!(
                "#include <{trimmed}> is not needed: bpfscope reads kernel types from BTF \
                 (/sys/kernel/btf/vmlinux); the header was not read"
            ),
        }
    } else {
        IncludeOutcome::UserHeader {
            path: trimmed.to_string(),
        }
    }
}
