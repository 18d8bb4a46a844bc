//! Attaching loaded programs; every attachment is a file descriptor, so closing it (or dying) detaches.
//!
//! Tracepoints, kprobes and uprobes get ONE perf event (pid -1, cpu 0 — or the target pid on any
//! CPU): the kernel runs the BPF program of a trace event on every CPU regardless of the perf
//! event's CPU, and one perf event per CPU would run the program once per CPU for each hit.
//! Sampling perf events (software/hardware) are per CPU by nature and get one event per online CPU.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use bpfscope_bpf::Sample;

use crate::error::RuntimeError;
use crate::sys;

/// Reason shown when the kprobe PMU does not exist.
pub const NO_KPROBE_PMU_REASON: &str =
    "CONFIG_KPROBES is not set in this kernel (no kprobe PMU in /sys/bus/event_source/devices)";
/// Reason shown when the uprobe PMU does not exist.
pub const NO_UPROBE_PMU_REASON: &str =
    "CONFIG_UPROBE_EVENTS is not set in this kernel (no uprobe PMU in /sys/bus/event_source/devices)";

/// The file descriptors that keep one probe attached. Dropping it detaches.
#[derive(Debug, Default)]
pub struct Attachment {
    /// perf events carrying the program (disabled explicitly before closing).
    perf_events: Vec<OwnedFd>,
    /// raw tracepoint / bpf link descriptors.
    links: Vec<OwnedFd>,
}

impl Attachment {
    /// How many kernel attachments this probe holds (perf events + links).
    pub fn len(&self) -> usize {
        self.perf_events.len() + self.links.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Detaches now: stops the perf events, then closes everything.
    pub fn detach(&mut self) {
        for event in &self.perf_events {
            // Best effort: closing detaches anyway; disabling first stops events immediately.
            let _ = sys::perf_event_disable(event.as_fd());
        }
        self.perf_events.clear();
        self.links.clear();
    }
}

fn perf_attach(
    program: BorrowedFd<'_>,
    event: OwnedFd,
    what: &str,
) -> Result<OwnedFd, RuntimeError> {
    sys::perf_event_set_bpf(event.as_fd(), program).map_err(|error| {
        RuntimeError::syscall(format!("attaching the program to {what}"), error)
    })?;
    sys::perf_event_enable(event.as_fd())
        .map_err(|error| RuntimeError::syscall(format!("enabling {what}"), error))?;
    Ok(event)
}

/// Reads a tracepoint's id from `<tracefs>/events/CATEGORY/NAME/id`. Names with `/` or `..` are refused.
pub fn tracepoint_id(tracefs_root: &Path, category: &str, name: &str) -> Result<u64, RuntimeError> {
    let unsafe_component =
        |part: &str| part.is_empty() || part.contains('/') || part == "." || part == "..";
    if unsafe_component(category) || unsafe_component(name) {
        return Err(RuntimeError::Unsupported(format!(
            "invalid tracepoint name {category}:{name}"
        )));
    }
    let path = tracefs_root
        .join("events")
        .join(category)
        .join(name)
        .join("id");
    let text = std::fs::read_to_string(&path).map_err(|error| {
        if error.kind() == io::ErrorKind::NotFound {
            RuntimeError::Unsupported(format!(
                "tracepoint {category}:{name} does not exist ({} not found)",
                path.display()
            ))
        } else {
            RuntimeError::syscall(format!("reading {}", path.display()), error)
        }
    })?;
    text.trim().parse().map_err(|_| {
        RuntimeError::Unsupported(format!("malformed tracepoint id in {}", path.display()))
    })
}

/// `tracepoint:CATEGORY:NAME` for a program of type tracepoint.
pub fn attach_tracepoint(
    program: BorrowedFd<'_>,
    tracefs_root: &Path,
    category: &str,
    name: &str,
) -> Result<Attachment, RuntimeError> {
    let id = tracepoint_id(tracefs_root, category, name)?;
    let mut attr = sys::new_perf_event_attr();
    attr.type_ = perf_event_open_sys::bindings::PERF_TYPE_TRACEPOINT;
    attr.config = id;
    attr.__bindgen_anon_1.sample_period = 1;
    attr.__bindgen_anon_2.wakeup_events = 1;
    let what = format!("tracepoint {category}:{name}");
    let event = sys::perf_event_open(&mut attr, -1, 0).map_err(|error| {
        RuntimeError::syscall(format!("opening a perf event for {what}"), error)
    })?;
    Ok(Attachment {
        perf_events: vec![perf_attach(program, event, &what)?],
        links: Vec::new(),
    })
}

/// `rawtracepoint:NAME` for a program of type raw tracepoint.
pub fn attach_raw_tracepoint(
    program: BorrowedFd<'_>,
    name: &str,
) -> Result<Attachment, RuntimeError> {
    let c_name = CString::new(name)
        .map_err(|_| RuntimeError::Unsupported(format!("invalid raw tracepoint name {name:?}")))?;
    let link = sys::bpf_raw_tracepoint_open(program, Some(&c_name)).map_err(|error| {
        RuntimeError::syscall(format!("attaching to raw tracepoint {name}"), error)
    })?;
    Ok(Attachment {
        perf_events: Vec::new(),
        links: vec![link],
    })
}

/// tp_btf, fentry and fexit programs attach where their load-time BTF id says.
pub fn attach_tracing(program: BorrowedFd<'_>, what: &str) -> Result<Attachment, RuntimeError> {
    let link = sys::bpf_raw_tracepoint_open(program, None)
        .map_err(|error| RuntimeError::syscall(format!("attaching {what}"), error))?;
    Ok(Attachment {
        perf_events: Vec::new(),
        links: vec![link],
    })
}

fn probe_pmu(
    pmu_name: &str,
    is_return: bool,
    missing_reason: &str,
) -> Result<(u32, u64), RuntimeError> {
    let pmu_type = sys::pmu_type(pmu_name).map_err(|error| {
        if error.kind() == io::ErrorKind::NotFound {
            RuntimeError::Unsupported(missing_reason.to_string())
        } else {
            RuntimeError::syscall(format!("reading the {pmu_name} PMU type"), error)
        }
    })?;
    let mut config = 0u64;
    if is_return {
        let bit = sys::pmu_format_bit(pmu_name, "retprobe").map_err(|error| {
            RuntimeError::syscall(format!("reading the {pmu_name} PMU retprobe bit"), error)
        })?;
        config |= 1u64 << bit;
    }
    Ok((pmu_type, config))
}

/// `kprobe:FUNCTION+OFFSET` / `kretprobe:FUNCTION` through the kprobe PMU (program type kprobe).
pub fn attach_kprobe(
    program: BorrowedFd<'_>,
    function: &str,
    offset: u64,
    is_return: bool,
) -> Result<Attachment, RuntimeError> {
    let (pmu_type, config) = probe_pmu("kprobe", is_return, NO_KPROBE_PMU_REASON)?;
    let c_function = CString::new(function).map_err(|_| {
        RuntimeError::Unsupported(format!("invalid kernel function name {function:?}"))
    })?;
    let mut attr = sys::new_perf_event_attr();
    attr.type_ = pmu_type;
    attr.config = config;
    attr.__bindgen_anon_1.sample_period = 1;
    attr.__bindgen_anon_2.wakeup_events = 1;
    attr.__bindgen_anon_3.kprobe_func = c_function.as_ptr() as u64;
    attr.__bindgen_anon_4.probe_offset = offset;
    let what = format!(
        "{}:{function}",
        if is_return { "kretprobe" } else { "kprobe" }
    );
    let event = sys::perf_event_open(&mut attr, -1, 0)
        .map_err(|error| RuntimeError::syscall(format!("creating {what}"), error))?;
    Ok(Attachment {
        perf_events: vec![perf_attach(program, event, &what)?],
        links: Vec::new(),
    })
}

/// Several kernel functions with one kprobe_multi link (program loaded with expected attach type
/// BPF_TRACE_KPROBE_MULTI).
pub fn attach_kprobe_multi(
    program: BorrowedFd<'_>,
    functions: &[&str],
    is_return: bool,
) -> Result<Attachment, RuntimeError> {
    let symbols: Vec<CString> = functions
        .iter()
        .map(|function| CString::new(*function))
        .collect::<Result<_, _>>()
        .map_err(|_| RuntimeError::Unsupported("invalid kernel function name".to_string()))?;
    let link =
        sys::bpf_link_create_kprobe_multi(program, &symbols, is_return).map_err(|error| {
            RuntimeError::syscall(
                format!(
                    "creating a kprobe_multi link on {} functions",
                    functions.len()
                ),
                error,
            )
        })?;
    Ok(Attachment {
        perf_events: Vec::new(),
        links: vec![link],
    })
}

/// `uprobe:PATH:...` / `uretprobe:` at a file offset through the uprobe PMU (program type kprobe).
pub fn attach_uprobe(
    program: BorrowedFd<'_>,
    path: &str,
    file_offset: u64,
    is_return: bool,
    pid: Option<i32>,
    ref_ctr_offset: u64,
) -> Result<Attachment, RuntimeError> {
    let (pmu_type, mut config) = probe_pmu("uprobe", is_return, NO_UPROBE_PMU_REASON)?;
    if ref_ctr_offset != 0 {
        // The kernel increments the USDT semaphore at this file offset while the probe is
        // attached (the uprobe PMU's `ref_ctr_offset` config field, Linux 4.20+).
        let bit = sys::pmu_format_field_start("uprobe", "ref_ctr_offset").map_err(|_| {
            RuntimeError::Unsupported(
                "this kernel's uprobe PMU has no ref_ctr_offset: USDT semaphores cannot be set (Linux 4.20+ needed)".to_string(),
            )
        })?;
        config |= ref_ctr_offset << bit;
    }
    let c_path = CString::new(path)
        .map_err(|_| RuntimeError::Unsupported(format!("invalid file path {path:?}")))?;
    let mut attr = sys::new_perf_event_attr();
    attr.type_ = pmu_type;
    attr.config = config;
    attr.__bindgen_anon_1.sample_period = 1;
    attr.__bindgen_anon_2.wakeup_events = 1;
    attr.__bindgen_anon_3.uprobe_path = c_path.as_ptr() as u64;
    attr.__bindgen_anon_4.probe_offset = file_offset;
    let what = format!(
        "{}:{path}+{file_offset:#x}",
        if is_return { "uretprobe" } else { "uprobe" }
    );
    let (event_pid, cpu) = match pid {
        Some(pid) => (pid, -1),
        None => (-1, 0),
    };
    let event = sys::perf_event_open(&mut attr, event_pid, cpu)
        .map_err(|error| RuntimeError::syscall(format!("creating {what}"), error))?;
    Ok(Attachment {
        perf_events: vec![perf_attach(program, event, &what)?],
        links: Vec::new(),
    })
}

/// A sampling perf event (software, hardware, `profile:`, `interval:`) on every online CPU, or
/// only the first one (`interval:` fires once per period system-wide).
pub fn attach_perf_event(
    program: BorrowedFd<'_>,
    perf_type: u32,
    config: u64,
    sample: Sample,
    one_cpu: bool,
) -> Result<Attachment, RuntimeError> {
    let cpus = sys::online_cpus()
        .map_err(|error| RuntimeError::syscall("reading /sys/devices/system/cpu/online", error))?;
    let cpus: Vec<u32> = if one_cpu {
        cpus.into_iter().take(1).collect()
    } else {
        cpus
    };
    let mut attachment = Attachment::default();
    for cpu in cpus {
        let mut attr = sys::new_perf_event_attr();
        attr.type_ = perf_type;
        attr.config = config;
        match sample {
            Sample::Period(period) => attr.__bindgen_anon_1.sample_period = period.max(1),
            Sample::Frequency(frequency) => {
                attr.__bindgen_anon_1.sample_freq = frequency.max(1);
                attr.set_freq(1);
            }
        }
        let what = format!("perf event type {perf_type} config {config} on CPU {cpu}");
        let event = sys::perf_event_open(&mut attr, -1, cpu as i32).map_err(|error| {
            if perf_type == perf_event_open_sys::bindings::PERF_TYPE_HARDWARE
                && matches!(error.raw_os_error(), Some(libc::ENOENT) | Some(libc::EOPNOTSUPP))
            {
                RuntimeError::Unsupported(format!(
                    "hardware event {config} is not available: no hardware PMU (virtual machine without PMU passthrough?)"
                ))
            } else {
                RuntimeError::syscall(format!("opening {what}"), error)
            }
        })?;
        attachment
            .perf_events
            .push(perf_attach(program, event, &what)?);
    }
    Ok(attachment)
}
