//! `bpfscope -l [PATTERN]` and `-lv`: list probe points, mounting tracefs first when it is missing.

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use anyhow::Context;
use bpfscope_probes::catalog::{self, Listing};
use bpfscope_probes::{KernelFs, ProbeError};

use crate::args::Cli;

pub fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    let patterns = cli.script_or_pattern.as_deref().unwrap_or("");
    let fs = KernelFs::live();
    let listing = list_mounting_tracefs(&fs, patterns, cli.verbose)?;
    let mut stderr = std::io::stderr().lock();
    for note in &listing.notes {
        writeln!(stderr, "{note}")?;
    }
    let stdout = std::io::stdout().lock();
    let mut out = BufWriter::with_capacity(1 << 16, stdout);
    if crate::wants_json(cli) {
        catalog::render_json(&listing, cli.verbose, &mut out)?;
    } else {
        catalog::render_text(&listing, cli.verbose, &mut out)?;
    }
    out.flush()?;
    if listing.entries.is_empty() && listing.type_definitions.is_empty() && !patterns.is_empty() {
        writeln!(stderr, "No probes matched '{patterns}'")?;
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Lists probes; when tracefs is not mounted, mounts it (saying so) and tries again.
pub fn list_mounting_tracefs(fs: &KernelFs, patterns: &str, verbose: bool) -> anyhow::Result<Listing> {
    match catalog::list(fs, patterns, verbose) {
        Err(ProbeError::TracefsMissing) => {
            mount_tracefs()?;
            catalog::list(fs, patterns, verbose).context("listing probes after mounting tracefs")
        }
        other => Ok(other?),
    }
}

/// Mounts tracefs at /sys/kernel/tracing and tells the user, since it changes the system.
pub fn mount_tracefs() -> anyhow::Result<()> {
    bpfscope_runtime::sys::mount_tracefs().with_context(|| {
        "tracefs is not mounted and mounting it failed; as root run: \
         mount -t tracefs tracefs /sys/kernel/tracing"
    })?;
    eprintln!("bpfscope: tracefs was not mounted; mounted it at /sys/kernel/tracing");
    Ok(())
}
