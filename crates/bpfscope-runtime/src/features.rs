//! `--info`: what works on this kernel, found by really loading and attaching trivial programs.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use bpfscope_bpf::insn::{self, R0, R1, R10, R2, R3};
use bpfscope_bpf::{Insn, Sample};

use crate::attach;
use crate::error::RuntimeError;
use crate::load::{self, ProgramKind};
use crate::ringbuf::RingBufferConsumer;
use crate::sys::{self, attach_type, prog_type};

/// What the caller looked up for us (BTF lives in another crate; this one makes syscalls only).
#[derive(Clone, Debug, Default)]
pub struct FeatureProbeInputs {
    /// BTF id of the typedef `btf_trace_sched_switch` in vmlinux BTF (for tp_btf).
    pub tp_btf_sched_switch_btf_id: Option<u32>,
    /// BTF id of a kernel FUNC such as `vfs_read` (for fentry/fexit).
    pub fentry_function_btf_id: Option<u32>,
    /// Kernel function to kprobe; `vfs_read` when None.
    pub kprobe_function: Option<String>,
    /// An ELF file and the file offset of a function in it (e.g. `/proc/self/exe`), for uprobes.
    pub uprobe_target: Option<(PathBuf, u64)>,
    /// tracefs root; found automatically when None.
    pub tracefs_root: Option<PathBuf>,
}

/// One capability `--info` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Feature {
    Tracepoint,
    RawTracepoint,
    TpBtf,
    Kprobe,
    Kretprobe,
    KprobeMulti,
    Fentry,
    Fexit,
    Uprobe,
    Uretprobe,
    SoftwareEvents,
    HardwareEvents,
    RingBuffer,
    ProgTestRun,
    ProbeWriteUser,
}

impl Feature {
    pub const ALL: [Feature; 15] = [
        Feature::Tracepoint,
        Feature::RawTracepoint,
        Feature::TpBtf,
        Feature::Kprobe,
        Feature::Kretprobe,
        Feature::KprobeMulti,
        Feature::Fentry,
        Feature::Fexit,
        Feature::Uprobe,
        Feature::Uretprobe,
        Feature::SoftwareEvents,
        Feature::HardwareEvents,
        Feature::RingBuffer,
        Feature::ProgTestRun,
        Feature::ProbeWriteUser,
    ];

    /// The name `--info` prints.
    pub fn name(self) -> &'static str {
        match self {
            Feature::Tracepoint => "tracepoint",
            Feature::RawTracepoint => "rawtracepoint",
            Feature::TpBtf => "tp_btf",
            Feature::Kprobe => "kprobe",
            Feature::Kretprobe => "kretprobe",
            Feature::KprobeMulti => "kprobe_multi (wildcard kprobes)",
            Feature::Fentry => "fentry",
            Feature::Fexit => "fexit",
            Feature::Uprobe => "uprobe",
            Feature::Uretprobe => "uretprobe",
            Feature::SoftwareEvents => "software events",
            Feature::HardwareEvents => "hardware events",
            Feature::RingBuffer => "ring buffer map",
            Feature::ProgTestRun => "BPF_PROG_TEST_RUN (BEGIN/END)",
            Feature::ProbeWriteUser => "bpf_probe_write_user",
        }
    }
}

/// Whether a feature works here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FeatureStatus {
    Available,
    /// Tried and failed; the reason in words.
    Unavailable(String),
    /// Could not be tried (e.g. no BTF id given); the reason in words.
    NotTested(String),
}

impl FeatureStatus {
    pub fn is_available(&self) -> bool {
        *self == FeatureStatus::Available
    }
}

/// Everything `--info` learns from the kernel (the CLI renders it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeatureReport {
    pub kernel_release: String,
    /// Lockdown mode (`none`, `integrity`, `confidentiality`) when securityfs shows it.
    pub lockdown: Option<String>,
    /// Why the lockdown mode is unknown, or how it was inferred.
    pub lockdown_note: Option<String>,
    /// `/proc/sys/kernel/unprivileged_bpf_disabled`.
    pub unprivileged_bpf_disabled: Option<i64>,
    /// `/proc/sys/kernel/perf_event_paranoid`.
    pub perf_event_paranoid: Option<i64>,
    /// `/proc/sys/net/core/bpf_jit_enable` (1 or 2 = enabled; absent when the JIT is always on).
    pub jit_enable: Option<i64>,
    pub vmlinux_btf_present: bool,
    pub tracefs_root: Option<PathBuf>,
    /// One entry per [`Feature::ALL`], in that order.
    pub results: Vec<(Feature, FeatureStatus)>,
}

impl FeatureReport {
    pub fn status(&self, feature: Feature) -> Option<&FeatureStatus> {
        self.results
            .iter()
            .find(|(candidate, _)| *candidate == feature)
            .map(|(_, status)| status)
    }
}

/// Extracts the selected mode from `none [integrity] confidentiality`. Pure.
pub fn parse_lockdown(text: &str) -> Option<String> {
    let start = text.find('[')?;
    let end = start + text.get(start..)?.find(']')?;
    text.get(start + 1..end)
        .map(str::to_string)
        .filter(|mode| !mode.is_empty())
}

fn read_integer(path: &str) -> Option<i64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The kernel-internal ENOTSUPP (524) that some bpf paths leak to user space.
const KERNEL_ENOTSUPP: i32 = 524;

const RETURN_ZERO: [Insn; 2] = [insn::mov64_imm(R0, 0), insn::exit()];

fn load_trivial(kind: ProgramKind, insns: &[Insn]) -> Result<OwnedFd, RuntimeError> {
    load::load_program(kind, insns, "bpfscope_probe", "feature probe", &[])
}

fn plain(prog_type: u32) -> ProgramKind {
    ProgramKind {
        prog_type,
        expected_attach_type: 0,
        attach_btf_id: 0,
    }
}

fn errno_of(error: &RuntimeError) -> Option<i32> {
    match error {
        RuntimeError::Syscall { source, .. } => source.raw_os_error(),
        RuntimeError::VerifierRejected(rejection) => rejection.error.raw_os_error(),
        _ => None,
    }
}

/// A human reason from a failed try; `Unsupported` errors already are one.
fn reason(error: &RuntimeError) -> String {
    match error {
        RuntimeError::VerifierRejected(rejection) if rejection.log.trim().is_empty() => {
            format!(
                "the kernel refused to load the program ({})",
                rejection.error
            )
        }
        other => other.to_string(),
    }
}

fn status_of(result: Result<(), RuntimeError>) -> FeatureStatus {
    match result {
        Ok(()) => FeatureStatus::Available,
        Err(error) => FeatureStatus::Unavailable(reason(&error)),
    }
}

fn probe_tracepoint(tracefs_root: Option<&Path>) -> FeatureStatus {
    let Some(root) = tracefs_root else {
        return FeatureStatus::NotTested(
            "tracefs is not mounted (mount -t tracefs tracefs /sys/kernel/tracing)".into(),
        );
    };
    let candidates = [
        ("syscalls", "sys_enter_getppid"),
        ("sched", "sched_process_exec"),
        ("sched", "sched_switch"),
    ];
    let Some((category, name)) = candidates.iter().find(|(category, name)| {
        root.join("events")
            .join(category)
            .join(name)
            .join("id")
            .exists()
    }) else {
        return FeatureStatus::NotTested("none of the usual tracepoints exists in tracefs".into());
    };
    status_of(
        load_trivial(plain(prog_type::TRACEPOINT), &RETURN_ZERO).and_then(|program| {
            attach::attach_tracepoint(program.as_fd(), root, category, name).map(drop)
        }),
    )
}

fn probe_raw_tracepoint() -> FeatureStatus {
    status_of(
        load_trivial(plain(prog_type::RAW_TRACEPOINT), &RETURN_ZERO).and_then(|program| {
            attach::attach_raw_tracepoint(program.as_fd(), "sched_switch").map(drop)
        }),
    )
}

fn probe_tracing(btf_id: Option<u32>, expected_attach_type: u32, what: &str) -> FeatureStatus {
    let Some(btf_id) = btf_id else {
        return FeatureStatus::NotTested(format!(
            "no BTF id given for {what} (is /sys/kernel/btf/vmlinux present?)"
        ));
    };
    let kind = ProgramKind {
        prog_type: prog_type::TRACING,
        expected_attach_type,
        attach_btf_id: btf_id,
    };
    let result = load_trivial(kind, &RETURN_ZERO);
    match result {
        Err(error) if errno_of(&error) == Some(libc::EPERM) || errno_of(&error) == Some(KERNEL_ENOTSUPP) => {
            FeatureStatus::Unavailable(format!(
                "the kernel refused to load an {what} program ({}): BPF trampolines are not available here",
                if errno_of(&error) == Some(libc::EPERM) { "EPERM" } else { "ENOTSUPP" }
            ))
        }
        Err(error) => FeatureStatus::Unavailable(reason(&error)),
        Ok(program) => status_of(attach::attach_tracing(program.as_fd(), what).map(drop)),
    }
}

fn probe_kprobe(function: &str, is_return: bool) -> FeatureStatus {
    status_of(
        load_trivial(plain(prog_type::KPROBE), &RETURN_ZERO).and_then(|program| {
            attach::attach_kprobe(program.as_fd(), function, 0, is_return).map(drop)
        }),
    )
}

fn probe_kprobe_multi(function: &str) -> FeatureStatus {
    if sys::pmu_type("kprobe").is_err() {
        return FeatureStatus::Unavailable(attach::NO_KPROBE_PMU_REASON.to_string());
    }
    let kind = ProgramKind {
        prog_type: prog_type::KPROBE,
        expected_attach_type: attach_type::TRACE_KPROBE_MULTI,
        attach_btf_id: 0,
    };
    match load_trivial(kind, &RETURN_ZERO) {
        Err(error) => FeatureStatus::Unavailable(format!(
            "the kernel does not accept kprobe_multi programs ({}); needs Linux 5.18+",
            reason(&error)
        )),
        Ok(program) => match attach::attach_kprobe_multi(program.as_fd(), &[function], false) {
            Ok(_) => FeatureStatus::Available,
            Err(error)
                if errno_of(&error) == Some(libc::EOPNOTSUPP)
                    || errno_of(&error) == Some(KERNEL_ENOTSUPP) =>
            {
                FeatureStatus::Unavailable(
                    "CONFIG_FPROBE is not set in this kernel (kprobe_multi links refused)".into(),
                )
            }
            Err(error) => FeatureStatus::Unavailable(reason(&error)),
        },
    }
}

fn probe_uprobe(target: Option<&(PathBuf, u64)>, is_return: bool) -> FeatureStatus {
    let Some((path, offset)) = target else {
        return FeatureStatus::NotTested("no ELF file and function offset given to probe".into());
    };
    let path_text = path.to_string_lossy();
    status_of(
        load_trivial(plain(prog_type::KPROBE), &RETURN_ZERO).and_then(|program| {
            attach::attach_uprobe(program.as_fd(), &path_text, *offset, is_return, None, 0)
                .map(drop)
        }),
    )
}

fn probe_perf_event(perf_type: u32, config: u64) -> FeatureStatus {
    let result = load_trivial(plain(prog_type::PERF_EVENT), &RETURN_ZERO).and_then(|program| {
        attach::attach_perf_event(
            program.as_fd(),
            perf_type,
            config,
            Sample::Period(10_000_000),
            true,
        )
        .map(drop)
    });
    match result {
        Err(_)
            if perf_type == perf_event_open_sys::bindings::PERF_TYPE_HARDWARE
                && !Path::new("/sys/bus/event_source/devices/cpu").exists() =>
        {
            FeatureStatus::Unavailable(
                "no hardware PMU (virtual machine without PMU passthrough)".into(),
            )
        }
        other => status_of(other),
    }
}

fn probe_ring_buffer() -> FeatureStatus {
    let size = sys::page_size() as u32;
    let result = sys::bpf_map_create(
        bpfscope_bpf::MapKind::Ringbuf as u32,
        0,
        0,
        size,
        0,
        "bpfscope_probe",
    )
    .map_err(|error| RuntimeError::syscall("creating a ring buffer map (needs Linux 5.8+)", error))
    .and_then(|map| RingBufferConsumer::new(map.as_fd(), size).map(drop));
    status_of(result)
}

fn probe_test_run() -> FeatureStatus {
    let insns = [insn::mov64_imm(R0, 42), insn::exit()];
    let result = load_trivial(plain(prog_type::RAW_TRACEPOINT), &insns).and_then(|program| {
        let value = load::run_once(&program).map_err(|error| {
            RuntimeError::syscall("BPF_PROG_TEST_RUN of a raw tracepoint program", error)
        })?;
        if value == 42 {
            Ok(())
        } else {
            Err(RuntimeError::Unsupported(format!(
                "BPF_PROG_TEST_RUN returned {value} instead of 42"
            )))
        }
    });
    status_of(result)
}

/// Loads (without attaching) a program calling bpf_probe_write_user(NULL, &zero, 8).
fn probe_write_user(lockdown: Option<&str>) -> FeatureStatus {
    const BPF_FUNC_PROBE_WRITE_USER: i32 = 36;
    let insns = [
        insn::st_mem(insn::BPF_DW, R10, -8, 0),
        insn::mov64_imm(R1, 0),
        insn::mov64_reg(R2, R10),
        insn::alu64_imm(insn::BPF_ADD, R2, -8),
        insn::mov64_imm(R3, 8),
        insn::call(BPF_FUNC_PROBE_WRITE_USER),
        insn::mov64_imm(R0, 0),
        insn::exit(),
    ];
    match load_trivial(plain(prog_type::TRACEPOINT), &insns) {
        Ok(_) => FeatureStatus::Available,
        Err(RuntimeError::VerifierRejected(rejection))
            if rejection.log.contains("unknown func")
                || rejection.log.contains("cannot use helper") =>
        {
            FeatureStatus::Unavailable(format!(
                "the kernel does not offer the helper to programs: kernel lockdown ({}) forbids it",
                lockdown.unwrap_or("integrity or higher")
            ))
        }
        Err(error) => FeatureStatus::Unavailable(reason(&error)),
    }
}

/// Tries one feature (as `--info` does for all of them), e.g. to explain why a script's probe
/// type cannot run here.
pub fn probe_feature(feature: Feature, inputs: &FeatureProbeInputs) -> FeatureStatus {
    let tracefs_root = inputs.tracefs_root.clone().or_else(sys::find_tracefs);
    let lockdown = std::fs::read_to_string("/sys/kernel/security/lockdown")
        .ok()
        .and_then(|text| parse_lockdown(&text));
    probe_feature_with(
        feature,
        inputs,
        tracefs_root.as_deref(),
        lockdown.as_deref(),
    )
}

fn probe_feature_with(
    feature: Feature,
    inputs: &FeatureProbeInputs,
    tracefs_root: Option<&Path>,
    lockdown: Option<&str>,
) -> FeatureStatus {
    let kprobe_function = inputs.kprobe_function.as_deref().unwrap_or("vfs_read");
    match feature {
        Feature::Tracepoint => probe_tracepoint(tracefs_root),
        Feature::RawTracepoint => probe_raw_tracepoint(),
        Feature::TpBtf => probe_tracing(
            inputs.tp_btf_sched_switch_btf_id,
            attach_type::TRACE_RAW_TP,
            "tp_btf",
        ),
        Feature::Kprobe => probe_kprobe(kprobe_function, false),
        Feature::Kretprobe => probe_kprobe(kprobe_function, true),
        Feature::KprobeMulti => probe_kprobe_multi(kprobe_function),
        Feature::Fentry => probe_tracing(
            inputs.fentry_function_btf_id,
            attach_type::TRACE_FENTRY,
            "fentry",
        ),
        Feature::Fexit => probe_tracing(
            inputs.fentry_function_btf_id,
            attach_type::TRACE_FEXIT,
            "fexit",
        ),
        Feature::Uprobe => probe_uprobe(inputs.uprobe_target.as_ref(), false),
        Feature::Uretprobe => probe_uprobe(inputs.uprobe_target.as_ref(), true),
        Feature::SoftwareEvents => probe_perf_event(
            perf_event_open_sys::bindings::PERF_TYPE_SOFTWARE,
            u64::from(perf_event_open_sys::bindings::PERF_COUNT_SW_CPU_CLOCK),
        ),
        Feature::HardwareEvents => probe_perf_event(
            perf_event_open_sys::bindings::PERF_TYPE_HARDWARE,
            u64::from(perf_event_open_sys::bindings::PERF_COUNT_HW_CPU_CYCLES),
        ),
        Feature::RingBuffer => probe_ring_buffer(),
        Feature::ProgTestRun => probe_test_run(),
        Feature::ProbeWriteUser => probe_write_user(lockdown),
    }
}

/// Tries every feature and gathers the kernel facts. Needs root for meaningful answers.
pub fn probe_features(inputs: &FeatureProbeInputs) -> FeatureReport {
    let tracefs_root = inputs.tracefs_root.clone().or_else(sys::find_tracefs);
    let (lockdown, mut lockdown_note) =
        match std::fs::read_to_string("/sys/kernel/security/lockdown") {
            Ok(text) => (parse_lockdown(&text), None),
            Err(error) => (
                None,
                Some(format!(
                    "/sys/kernel/security/lockdown is unreadable ({error}); is securityfs mounted?"
                )),
            ),
        };
    let mut results = Vec::with_capacity(Feature::ALL.len());
    for feature in Feature::ALL {
        let status = probe_feature_with(
            feature,
            inputs,
            tracefs_root.as_deref(),
            lockdown.as_deref(),
        );
        results.push((feature, status));
    }
    if lockdown.is_none() {
        let write_user_refused = results
            .iter()
            .any(|(feature, status)| *feature == Feature::ProbeWriteUser && !status.is_available());
        if write_user_refused {
            lockdown_note = Some(format!(
                "{} — bpf_probe_write_user is refused, which suggests lockdown integrity or higher",
                lockdown_note.unwrap_or_default()
            ));
        }
    }
    FeatureReport {
        kernel_release: sys::kernel_release().unwrap_or_else(|error| format!("unknown ({error})")),
        lockdown,
        lockdown_note,
        unprivileged_bpf_disabled: read_integer("/proc/sys/kernel/unprivileged_bpf_disabled"),
        perf_event_paranoid: read_integer("/proc/sys/kernel/perf_event_paranoid"),
        jit_enable: read_integer("/proc/sys/net/core/bpf_jit_enable"),
        vmlinux_btf_present: Path::new("/sys/kernel/btf/vmlinux").exists(),
        tracefs_root,
        results,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockdown_mode_is_the_bracketed_word() {
        assert_eq!(
            parse_lockdown("none [integrity] confidentiality\n"),
            Some("integrity".into())
        );
        assert_eq!(
            parse_lockdown("[none] integrity confidentiality"),
            Some("none".into())
        );
        assert_eq!(parse_lockdown("none integrity"), None);
        assert_eq!(parse_lockdown("[]"), None);
    }
}
