//! `bpfscope --info`: what this kernel can trace, found by trying each probe type for real.

use std::io::Write;
use std::process::ExitCode;

use bpfscope_btf::{Btf, Kind};
use bpfscope_probes::{kallsyms, tracefs, KernelFs};
use bpfscope_runtime::features::{self, FeatureProbeInputs, FeatureReport, FeatureStatus};
use serde_json::json;

use crate::args::Cli;

/// Counts of what can be traced, each with where it came from or why it is unknown.
struct Counts {
    kallsyms_symbols: Result<usize, String>,
    traceable_functions: Result<usize, String>,
    btf_functions: Result<usize, String>,
    tracepoints: Result<usize, String>,
}

pub fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    let fs = KernelFs::live();
    if tracefs::locate(&fs).is_none() && bpfscope_runtime::sys::mount_tracefs().is_ok() {
        eprintln!("bpfscope: tracefs was not mounted; mounted it at /sys/kernel/tracing");
    }
    // The lockdown mode is only visible through securityfs.
    if !fs.exists("/sys/kernel/security/lockdown")
        && bpfscope_runtime::sys::mount_securityfs().is_ok()
    {
        eprintln!("bpfscope: securityfs was not mounted; mounted it at /sys/kernel/security to read the lockdown mode");
    }
    let vmlinux_bytes = fs.read("/sys/kernel/btf/vmlinux");
    let vmlinux = vmlinux_bytes
        .as_ref()
        .ok()
        .and_then(|bytes| Btf::parse(bytes.as_slice()).ok());
    let inputs = FeatureProbeInputs {
        tp_btf_sched_switch_btf_id: vmlinux
            .as_ref()
            .and_then(|btf| btf.find(Kind::Typedef, "btf_trace_sched_switch"))
            .map(|id| id.0),
        fentry_function_btf_id: vmlinux
            .as_ref()
            .and_then(|btf| btf.find(Kind::Func, "vfs_read"))
            .map(|id| id.0),
        kprobe_function: Some("vfs_read".to_string()),
        uprobe_target: bpfscope_probes::elf::resolve_uprobe(&fs, "/proc/self/exe", "main")
            .ok()
            .map(|(path, offset)| (path.into(), offset)),
        tracefs_root: tracefs::locate(&fs).map(Into::into),
    };
    let report = features::probe_features(&inputs);
    let counts = Counts {
        kallsyms_symbols: fs
            .read_to_string("/proc/kallsyms")
            .map(|text| text.lines().count())
            .map_err(|error| format!("/proc/kallsyms: {error}")),
        traceable_functions: count_traceable_functions(&fs),
        btf_functions: match (&vmlinux_bytes, &vmlinux) {
            (_, Some(btf)) => Ok(btf.function_count()),
            (Err(error), None) => Err(format!("/sys/kernel/btf/vmlinux: {error}")),
            (Ok(_), None) => Err("/sys/kernel/btf/vmlinux is not valid BTF".to_string()),
        },
        tracepoints: count_tracepoints(&fs),
    };
    let debugfs_mounted = fs
        .read_to_string("/proc/mounts")
        .map(|mounts| {
            mounts
                .lines()
                .any(|line| line.split(' ').nth(2) == Some("debugfs"))
        })
        .unwrap_or(false);
    let mut out = std::io::stdout().lock();
    if crate::wants_json(cli) {
        render_json(&report, &counts, debugfs_mounted, &mut out)?;
    } else {
        render_text(&report, &counts, debugfs_mounted, &mut out)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn count_traceable_functions(fs: &KernelFs) -> Result<usize, String> {
    let mut last_error = String::from("tracefs is not mounted");
    for root in ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"] {
        let path = format!("{root}/available_filter_functions");
        match fs.read_to_string(&path) {
            Ok(text) => return Ok(kallsyms::parse_available_filter_functions(&text).len()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => last_error = format!("{path}: {error}"),
        }
    }
    Err(last_error)
}

fn count_tracepoints(fs: &KernelFs) -> Result<usize, String> {
    let root = tracefs::locate(fs).ok_or_else(|| "tracefs is not mounted".to_string())?;
    let path = format!("{root}/available_events");
    fs.read_to_string(&path)
        .map(|text| tracefs::parse_available_events(&text).len())
        .map_err(|error| format!("{path}: {error}"))
}

fn status_text(status: &FeatureStatus) -> (String, Option<&str>) {
    match status {
        FeatureStatus::Available => ("yes".to_string(), None),
        FeatureStatus::Unavailable(reason) => ("no".to_string(), Some(reason)),
        FeatureStatus::NotTested(reason) => ("not tested".to_string(), Some(reason)),
    }
}

fn optional_number(value: Option<i64>) -> String {
    value.map_or_else(|| "unknown".to_string(), |number| number.to_string())
}

fn count_text(count: &Result<usize, String>) -> String {
    match count {
        Ok(count) => count.to_string(),
        Err(reason) => format!("unknown ({reason})"),
    }
}

fn render_text(
    report: &FeatureReport,
    counts: &Counts,
    debugfs_mounted: bool,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    writeln!(out, "System")?;
    writeln!(out, "  kernel: {}", report.kernel_release)?;
    writeln!(
        out,
        "  BTF: {}",
        if report.vmlinux_btf_present {
            "yes (/sys/kernel/btf/vmlinux)"
        } else {
            "no (kernel types unavailable)"
        }
    )?;
    let lockdown = report
        .lockdown
        .clone()
        .unwrap_or_else(|| "unknown".to_string());
    match &report.lockdown_note {
        Some(note) => writeln!(out, "  lockdown: {lockdown} ({note})")?,
        None => writeln!(out, "  lockdown: {lockdown}")?,
    }
    match &report.tracefs_root {
        Some(root) => writeln!(out, "  tracefs: mounted at {}", root.display())?,
        None => writeln!(
            out,
            "  tracefs: not mounted (mount -t tracefs tracefs /sys/kernel/tracing)"
        )?,
    }
    writeln!(
        out,
        "  debugfs: {}",
        if debugfs_mounted {
            "mounted"
        } else {
            "not mounted (not needed: bpfscope uses tracefs)"
        }
    )?;
    writeln!(
        out,
        "  unprivileged_bpf_disabled: {}",
        optional_number(report.unprivileged_bpf_disabled)
    )?;
    writeln!(
        out,
        "  perf_event_paranoid: {}",
        optional_number(report.perf_event_paranoid)
    )?;
    writeln!(
        out,
        "  bpf_jit_enable: {}",
        optional_number(report.jit_enable)
    )?;
    writeln!(out)?;
    writeln!(out, "Probe types and features (tried on this kernel)")?;
    for (feature, status) in &report.results {
        let (answer, reason) = status_text(status);
        match reason {
            Some(reason) => writeln!(out, "  {:<32} {answer}: {reason}", feature.name())?,
            None => writeln!(out, "  {:<32} {answer}", feature.name())?,
        }
    }
    writeln!(out)?;
    writeln!(out, "Counts")?;
    writeln!(
        out,
        "  kallsyms symbols: {}",
        count_text(&counts.kallsyms_symbols)
    )?;
    writeln!(
        out,
        "  traceable functions (available_filter_functions): {}",
        count_text(&counts.traceable_functions)
    )?;
    writeln!(
        out,
        "  BTF functions: {}",
        count_text(&counts.btf_functions)
    )?;
    writeln!(out, "  tracepoints: {}", count_text(&counts.tracepoints))?;
    Ok(())
}

fn count_json(count: &Result<usize, String>) -> serde_json::Value {
    match count {
        Ok(count) => json!(count),
        Err(reason) => json!({ "unknown": reason }),
    }
}

fn render_json(
    report: &FeatureReport,
    counts: &Counts,
    debugfs_mounted: bool,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let features: Vec<serde_json::Value> = report
        .results
        .iter()
        .map(|(feature, status)| {
            let (answer, reason) = status_text(status);
            json!({ "feature": feature.name(), "status": answer, "reason": reason })
        })
        .collect();
    let value = json!({
        "type": "info",
        "data": {
            "kernel_release": report.kernel_release,
            "btf": report.vmlinux_btf_present,
            "lockdown": report.lockdown,
            "lockdown_note": report.lockdown_note,
            "tracefs": report.tracefs_root.as_ref().map(|root| root.display().to_string()),
            "debugfs_mounted": debugfs_mounted,
            "unprivileged_bpf_disabled": report.unprivileged_bpf_disabled,
            "perf_event_paranoid": report.perf_event_paranoid,
            "bpf_jit_enable": report.jit_enable,
            "features": features,
            "counts": {
                "kallsyms_symbols": count_json(&counts.kallsyms_symbols),
                "traceable_functions": count_json(&counts.traceable_functions),
                "btf_functions": count_json(&counts.btf_functions),
                "tracepoints": count_json(&counts.tracepoints),
            }
        }
    });
    writeln!(out, "{value}")
}
