//! `bpfscope -l [PATTERN]` and `-lv`: list probe points, mounting tracefs first when it is missing.

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use anyhow::Context;
use bpfscope_probes::catalog::{self, ListingSummary};
use bpfscope_probes::{KernelFs, ProbeError};

use crate::args::Cli;

pub fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    let patterns = cli.script_or_pattern.as_deref().unwrap_or("");
    let fs = KernelFs::live();
    let stdout = std::io::stdout().lock();
    let mut out = BufWriter::with_capacity(1 << 16, stdout);
    let summary =
        list_mounting_tracefs(&fs, patterns, cli.verbose, crate::wants_json(cli), &mut out)?;
    out.flush()?;
    let mut stderr = std::io::stderr().lock();
    for note in &summary.notes {
        writeln!(stderr, "{note}")?;
    }
    if summary.entry_count == 0 && summary.type_definitions.is_empty() && !patterns.is_empty() {
        writeln!(stderr, "No probes matched '{patterns}'")?;
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Streams the listing to `out` (text or JSON lines), never holding every entry in memory; when
/// tracefs is not mounted, mounts it (saying so) and tries again.
pub fn list_mounting_tracefs(
    fs: &KernelFs,
    patterns: &str,
    verbose: bool,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<ListingSummary> {
    let mut emitted = 0usize;
    let first_try = stream_listing(fs, patterns, verbose, json, out, &mut emitted);
    match first_try {
        // Only retry when nothing was printed yet, or the retry would repeat lines.
        Err(ProbeError::TracefsMissing) if emitted == 0 => {
            mount_tracefs()?;
            stream_listing(fs, patterns, verbose, json, out, &mut emitted)
                .context("listing probes after mounting tracefs")
        }
        other => Ok(other?),
    }
}

fn stream_listing(
    fs: &KernelFs,
    patterns: &str,
    verbose: bool,
    json: bool,
    out: &mut dyn Write,
    emitted: &mut usize,
) -> Result<ListingSummary, ProbeError> {
    let summary = catalog::list_each(fs, patterns, verbose, &mut |entry, marked| {
        *emitted += 1;
        if json {
            catalog::write_json_entry(entry, verbose, out)
        } else {
            catalog::write_text_entry(entry, marked, verbose, out)
        }
    })?;
    let written = if json {
        catalog::write_json_type_definitions(&summary.type_definitions, out)
    } else {
        catalog::write_text_type_definitions(&summary.type_definitions, out)
    };
    written.map_err(|source| ProbeError::Io {
        path: "<output>".to_string(),
        source,
    })?;
    Ok(summary)
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
