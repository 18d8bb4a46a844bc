//! A tracing session: maps created, programs loaded, BEGIN run, probes attached, events polled, END run.
//!
//! Typical use (the CLI): `Session::load` (enough for `--dry-run`), `run_begin`, `attach_all`,
//! `poll` until it returns a [`StopReason`], then `finish` (detach, END, drain), `lost_events`,
//! and `snapshot` of the maps to print.

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use bpfscope_bpf::{AttachTarget, CompiledProgram, GlobalSlot, MapKind};

use crate::attach::{self, Attachment};
use crate::child::PausedChild;
use crate::error::RuntimeError;
use crate::load::{self, ProgramKind};
use crate::maps::{Map, MapSnapshot};
use crate::ringbuf::{Control, RingBufferConsumer};
use crate::signals;
use crate::sys::{self, Epoll};

/// The poll loop wakes at least this often, so records submitted without a wake-up
/// (BPF_RB_NO_WAKEUP) are seen within this delay and no wake-up per event is needed.
pub const POLL_INTERVAL_MS: i32 = 100;

const RING_BUFFER_TOKEN: u64 = 0;
const CHILD_EXIT_TOKEN: u64 = 1;

/// Why `poll` returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The record callback returned `Control::Exit` (the script called `exit()`).
    Exit,
    /// SIGINT or SIGTERM arrived.
    Signal,
    /// The `-c` command exited with this code.
    ChildExited(i32),
}

/// Settings of a session.
#[derive(Debug, Default)]
pub struct SessionOptions {
    /// tracefs root; found automatically (`/sys/kernel/tracing`, `/sys/kernel/debug/tracing`) when None.
    pub tracefs_root: Option<PathBuf>,
    /// The `-c` command, spawned paused by the caller (so its pid can be compiled in as `cpid`).
    pub child: Option<PausedChild>,
    /// Whether to install the SIGINT/SIGTERM handlers (the CLI wants them; tests do not).
    pub handle_stop_signals: bool,
}

/// A script map whose updates the kernel refused because it was full.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FullMap {
    /// The script's name (`@execs`).
    pub name: String,
    pub max_entries: u32,
    /// Updates dropped so far (summed over CPUs).
    pub dropped_updates: u64,
}

/// `CLOCK_MONOTONIC` now, in nanoseconds: the clock of BPF's `ktime_get_ns` (`nsecs`).
fn monotonic_nanoseconds() -> u64 {
    // SAFETY: an all-zero timespec is valid; clock_gettime only writes it.
    let mut now: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: the pointer is valid for the duration of the call.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) } != 0 {
        return 0;
    }
    (now.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(now.tv_nsec as u64)
}

/// Writes the values programs read from the globals map: the start time (`elapsed`) and the
/// `-c` command's pid (`cpid`). Done before loading, so no program ever sees them unset.
fn fill_globals(map: &Map, child_pid: Option<i32>) -> Result<(), RuntimeError> {
    let slots = [
        (GlobalSlot::StartNanoseconds, monotonic_nanoseconds()),
        (
            GlobalSlot::ChildPid,
            child_pid.map_or(0, |pid| u64::try_from(pid).unwrap_or(0)),
        ),
    ];
    for (slot, value) in slots {
        let key = (slot as u32).to_ne_bytes();
        let mut bytes = vec![0u8; map.spec.value_size as usize];
        if let Some(first) = bytes.get_mut(..8) {
            first.copy_from_slice(&value.to_ne_bytes());
        }
        map.update(&key, &[&bytes])?;
    }
    Ok(())
}

/// One loaded program.
#[derive(Debug)]
struct LoadedProgram {
    probe_name: String,
    attach: AttachTarget,
    fd: OwnedFd,
    /// Set when this one program serves several kprobes (or kretprobes) at once through a
    /// kprobe_multi link: every function it attaches to, and how to load it again as a plain
    /// kprobe program should the kernel refuse the link.
    multi: Option<KprobeMultiGroup>,
}

/// Kernel functions that share one kprobe_multi program, and what reloading it per function needs.
#[derive(Debug)]
struct KprobeMultiGroup {
    functions: Vec<String>,
    probe_names: Vec<String>,
    is_return: bool,
    insns: Vec<bpfscope_bpf::Insn>,
    function_starts: Vec<usize>,
    line_of_insn: Vec<u32>,
}

/// The key under which kprobe programs are merged into one kprobe_multi program: entry or return,
/// and the exact instructions (with map fds patched in) and function layout. Programs that differ
/// in anything (e.g. a `func` string of their own) stay apart.
#[derive(Clone, PartialEq, Eq, Hash)]
struct KprobeMultiKey {
    is_return: bool,
    insn_words: Vec<u64>,
    function_starts: Vec<usize>,
}

fn kprobe_multi_key(
    attach: &AttachTarget,
    insns: &[bpfscope_bpf::Insn],
    function_starts: &[usize],
) -> Option<KprobeMultiKey> {
    // kprobe_multi attaches at function entry (or return) only: no offsets.
    let AttachTarget::Kprobe {
        offset: 0,
        is_return,
        ..
    } = attach
    else {
        return None;
    };
    let insn_words = insns
        .iter()
        .map(|insn| {
            u64::from(insn.code)
                | u64::from(insn.regs) << 8
                | u64::from(insn.off as u16) << 16
                | u64::from(insn.imm as u32) << 32
        })
        .collect();
    Some(KprobeMultiKey {
        is_return: *is_return,
        insn_words,
        function_starts: function_starts.to_vec(),
    })
}

/// Whether this kernel attaches kprobe_multi links (Linux 5.18+ with CONFIG_FPROBE), tried for
/// real on `function` with a trivial program.
fn kernel_has_kprobe_multi(function: &str) -> bool {
    let inputs = crate::features::FeatureProbeInputs {
        kprobe_function: Some(function.to_string()),
        ..Default::default()
    };
    crate::features::probe_feature(crate::features::Feature::KprobeMulti, &inputs).is_available()
}

/// Attaches a kprobe_multi group with one link; if the kernel refuses the link after all (a
/// function kprobe_multi cannot hook), loads the program again as a plain kprobe program and
/// attaches it to each function through the kprobe PMU, as without kprobe_multi.
fn attach_kprobe_multi_or_each(
    program: std::os::fd::BorrowedFd<'_>,
    group: &KprobeMultiGroup,
) -> Result<Vec<Attachment>, RuntimeError> {
    let mut functions: Vec<&str> = group.functions.iter().map(String::as_str).collect();
    // The kernel refuses a symbol listed twice.
    functions.sort_unstable();
    functions.dedup();
    if let Ok(attachment) = attach::attach_kprobe_multi(program, &functions, group.is_return) {
        return Ok(vec![attachment]);
    }
    let kind = ProgramKind {
        prog_type: sys::prog_type::KPROBE,
        expected_attach_type: 0,
        attach_btf_id: 0,
    };
    let first_name = group.probe_names.first().map_or("kprobe", String::as_str);
    let plain = load::load_program_with_functions(
        kind,
        &group.insns,
        &group.function_starts,
        &program_name(first_name),
        first_name,
        &group.line_of_insn,
    )?;
    group
        .functions
        .iter()
        .map(|function| attach::attach_kprobe(plain.as_fd(), function, 0, group.is_return))
        .collect()
}

/// The running state of one compiled program.
#[derive(Debug)]
pub struct Session {
    maps: Vec<Map>,
    programs: Vec<LoadedProgram>,
    attachments: Vec<Attachment>,
    ring_buffer: Option<RingBufferConsumer>,
    lost_counter_map: Option<usize>,
    dropped_updates_map: Option<usize>,
    child: Option<PausedChild>,
    epoll: Epoll,
    tracefs_root: Option<PathBuf>,
    handle_stop_signals: bool,
    records_delivered: u64,
}

/// A short kernel-visible name for a program (`bpftool prog` shows it): the probe's last part.
fn program_name(probe_name: &str) -> String {
    probe_name
        .rsplit(':')
        .find(|part| !part.is_empty())
        .unwrap_or("bpfscope")
        .to_string()
}

impl Session {
    /// Creates the maps, patches map references and loads every program (nothing is attached yet:
    /// this is all `--dry-run` does). A verifier rejection comes back with its log.
    pub fn load(
        compiled: &CompiledProgram,
        options: SessionOptions,
    ) -> Result<Session, RuntimeError> {
        let maps = compiled
            .maps
            .iter()
            .map(Map::create)
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(index) = compiled.globals_map {
            let map = maps.get(index).ok_or_else(|| {
                RuntimeError::InvalidProgram(format!("globals map index {index} out of range"))
            })?;
            fill_globals(map, options.child.as_ref().map(PausedChild::pid))?;
        }
        let mut patched = Vec::with_capacity(compiled.programs.len());
        for spec in &compiled.programs {
            let insns = load::patch_map_relocations(
                &spec.insns,
                &spec.map_relocations,
                &maps,
                &spec.probe_name,
            )?;
            patched.push((spec, insns));
        }
        // Identical kprobe programs on several functions (a wildcard) become ONE program on ONE
        // kprobe_multi link where the kernel has them: one load and one attach instead of one
        // per function, which is what makes `kprobe:vfs_*` start quickly.
        let mut groups: std::collections::HashMap<KprobeMultiKey, Vec<usize>> =
            std::collections::HashMap::new();
        for (index, (spec, insns)) in patched.iter().enumerate() {
            if let Some(key) = kprobe_multi_key(&spec.attach, insns, &spec.function_starts) {
                groups.entry(key).or_default().push(index);
            }
        }
        groups.retain(|_, members| members.len() > 1);
        let multi_available = match groups.values().next().and_then(|members| members.first()) {
            Some(first) => match patched.get(*first).map(|(spec, _)| &spec.attach) {
                Some(AttachTarget::Kprobe { function, .. }) => kernel_has_kprobe_multi(function),
                _ => false,
            },
            None => false,
        };
        let mut group_of_program: Vec<Option<usize>> = vec![None; patched.len()];
        let mut group_members: Vec<Vec<usize>> = Vec::new();
        if multi_available {
            for members in groups.into_values() {
                for member in &members {
                    if let Some(slot) = group_of_program.get_mut(*member) {
                        *slot = Some(group_members.len());
                    }
                }
                group_members.push(members);
            }
        }
        let mut programs = Vec::with_capacity(compiled.programs.len());
        for (index, (spec, insns)) in patched.iter().enumerate() {
            let group = group_of_program.get(index).copied().flatten();
            let members = group.and_then(|group| group_members.get(group));
            if let Some(members) = members {
                // Loaded once, with the group's first member; the others ride on its link.
                if members.first() != Some(&index) {
                    continue;
                }
                let (mut functions, mut probe_names) = (Vec::new(), Vec::new());
                for member in members {
                    if let Some((
                        member_spec @ bpfscope_bpf::ProgramSpec {
                            attach: AttachTarget::Kprobe { function, .. },
                            ..
                        },
                        _,
                    )) = patched.get(*member)
                    {
                        functions.push(function.clone());
                        probe_names.push(member_spec.probe_name.clone());
                    }
                }
                let is_return = matches!(
                    spec.attach,
                    AttachTarget::Kprobe {
                        is_return: true,
                        ..
                    }
                );
                let kind = ProgramKind {
                    prog_type: sys::prog_type::KPROBE,
                    expected_attach_type: sys::attach_type::TRACE_KPROBE_MULTI,
                    attach_btf_id: 0,
                };
                let fd = load::load_program_with_functions(
                    kind,
                    insns,
                    &spec.function_starts,
                    &program_name(&spec.probe_name),
                    &spec.probe_name,
                    &spec.line_of_insn,
                )?;
                programs.push(LoadedProgram {
                    probe_name: spec.probe_name.clone(),
                    attach: spec.attach.clone(),
                    fd,
                    multi: Some(KprobeMultiGroup {
                        functions,
                        probe_names,
                        is_return,
                        insns: insns.clone(),
                        function_starts: spec.function_starts.clone(),
                        line_of_insn: spec.line_of_insn.clone(),
                    }),
                });
                continue;
            }
            let fd = load::load_program_for(
                &spec.attach,
                insns,
                &spec.function_starts,
                &program_name(&spec.probe_name),
                &spec.probe_name,
                &spec.line_of_insn,
            )?;
            programs.push(LoadedProgram {
                probe_name: spec.probe_name.clone(),
                attach: spec.attach.clone(),
                fd,
                multi: None,
            });
        }
        let epoll = Epoll::new()
            .map_err(|error| RuntimeError::syscall("creating an epoll instance", error))?;
        let ring_buffer = match compiled.ringbuf_map {
            Some(index) => {
                let map = maps.get(index).ok_or_else(|| {
                    RuntimeError::InvalidProgram(format!(
                        "ring buffer map index {index} out of range"
                    ))
                })?;
                if map.spec.kind != MapKind::Ringbuf {
                    return Err(RuntimeError::InvalidProgram(format!(
                        "map {} is not a ring buffer",
                        map.spec.name
                    )));
                }
                epoll
                    .add_readable(map.fd(), RING_BUFFER_TOKEN)
                    .map_err(|error| RuntimeError::syscall("watching the ring buffer", error))?;
                Some(RingBufferConsumer::new(map.fd(), map.spec.max_entries)?)
            }
            None => None,
        };
        if let Some(index) = compiled.lost_counter_map {
            if maps.get(index).is_none() {
                return Err(RuntimeError::InvalidProgram(format!(
                    "lost counter map index {index} out of range"
                )));
            }
        }
        if let Some(notifier) = options.child.as_ref().and_then(PausedChild::exit_notifier) {
            epoll
                .add_readable(notifier, CHILD_EXIT_TOKEN)
                .map_err(|error| RuntimeError::syscall("watching the -c command", error))?;
        }
        if options.handle_stop_signals {
            signals::install_stop_signal_handlers().map_err(|error| {
                RuntimeError::syscall("installing the SIGINT/SIGTERM handlers", error)
            })?;
        }
        Ok(Session {
            maps,
            programs,
            attachments: Vec::new(),
            ring_buffer,
            lost_counter_map: compiled.lost_counter_map,
            dropped_updates_map: compiled.dropped_updates_map,
            child: options.child,
            epoll,
            tracefs_root: options.tracefs_root,
            handle_stop_signals: options.handle_stop_signals,
            records_delivered: 0,
        })
    }

    /// The maps, indexed like `CompiledProgram::maps`.
    pub fn maps(&self) -> &[Map] {
        &self.maps
    }

    /// The `-c` command's pid, if any.
    pub fn child_pid(&self) -> Option<i32> {
        self.child.as_ref().map(PausedChild::pid)
    }

    /// The `-c` command's exit code once it has exited (for callers that poll with `poll_once`).
    pub fn child_exit_code(&mut self) -> Result<Option<i32>, RuntimeError> {
        match self.child.as_mut() {
            Some(child) => child.try_wait(),
            None => Ok(None),
        }
    }

    /// Records delivered to callbacks so far.
    pub fn records_delivered(&self) -> u64 {
        self.records_delivered
    }

    /// How many programs will be attached by `attach_all` (all but BEGIN/END).
    pub fn attachable_probe_count(&self) -> usize {
        self.programs
            .iter()
            .filter(|program| !matches!(program.attach, AttachTarget::Begin | AttachTarget::End))
            .map(|program| {
                program
                    .multi
                    .as_ref()
                    .map_or(1, |group| group.functions.len())
            })
            .sum()
    }

    /// How many kprobe_multi links `attach_all` creates (each carries several functions).
    pub fn kprobe_multi_link_count(&self) -> usize {
        self.programs
            .iter()
            .filter(|program| program.multi.is_some())
            .count()
    }

    fn run_programs_of(&self, wanted: &AttachTarget) -> Result<(), RuntimeError> {
        for program in self
            .programs
            .iter()
            .filter(|program| &program.attach == wanted)
        {
            load::run_once(&program.fd).map_err(|error| {
                RuntimeError::syscall(
                    format!("running {} (BPF_PROG_TEST_RUN)", program.probe_name),
                    error,
                )
            })?;
        }
        Ok(())
    }

    /// Runs the BEGIN programs, then hands their records to `on_record`. Returns `Exit` when a
    /// record asked to stop (then do not attach: go to `finish`).
    pub fn run_begin(
        &mut self,
        on_record: &mut dyn FnMut(&[Map], &[u8]) -> Control,
    ) -> Result<Control, RuntimeError> {
        self.run_programs_of(&AttachTarget::Begin)?;
        Ok(self.consume_available(on_record))
    }

    /// Attaches every probe program, then releases the `-c` command. Returns how many probes were attached.
    pub fn attach_all(&mut self) -> Result<usize, RuntimeError> {
        let mut attached = 0;
        for program in &self.programs {
            let fd = program.fd.as_fd();
            if let Some(group) = &program.multi {
                attached += group.functions.len();
                self.attachments
                    .extend(attach_kprobe_multi_or_each(fd, group)?);
                continue;
            }
            let attachment = match &program.attach {
                AttachTarget::Begin | AttachTarget::End => continue,
                AttachTarget::Tracepoint { category, name } => {
                    let root = match &self.tracefs_root {
                        Some(root) => root.clone(),
                        None => sys::find_tracefs().ok_or_else(|| {
                            RuntimeError::Unsupported(
                                "tracefs is not mounted (mount -t tracefs tracefs /sys/kernel/tracing)".to_string(),
                            )
                        })?,
                    };
                    attach::attach_tracepoint(fd, &root, category, name)?
                }
                AttachTarget::RawTracepoint { name } => attach::attach_raw_tracepoint(fd, name)?,
                AttachTarget::Kprobe {
                    function,
                    offset,
                    is_return,
                } => attach::attach_kprobe(fd, function, *offset, *is_return)?,
                AttachTarget::Uprobe {
                    path,
                    file_offset,
                    is_return,
                    pid,
                    ref_ctr_offset,
                } => attach::attach_uprobe(
                    fd,
                    path,
                    *file_offset,
                    *is_return,
                    *pid,
                    *ref_ctr_offset,
                )?,
                AttachTarget::Fentry { .. } => attach::attach_tracing(fd, &program.probe_name)?,
                AttachTarget::PerfEvent {
                    perf_type,
                    config,
                    sample,
                    one_cpu,
                } => attach::attach_perf_event(fd, *perf_type, *config, *sample, *one_cpu)?,
            };
            self.attachments.push(attachment);
            attached += 1;
        }
        if let Some(child) = self.child.as_mut() {
            child.release()?;
        }
        Ok(attached)
    }

    /// Hands every record now in the ring buffer to `on_record`.
    fn consume_available(
        &mut self,
        on_record: &mut dyn FnMut(&[Map], &[u8]) -> Control,
    ) -> Control {
        let maps = &self.maps;
        let Some(ring_buffer) = self.ring_buffer.as_mut() else {
            return Control::Continue;
        };
        let (delivered, control) = ring_buffer.consume(&mut |record| on_record(maps, record));
        self.records_delivered += delivered;
        control
    }

    /// Polls the ring buffer until the callback asks to exit, a stop signal arrives, or the `-c`
    /// command exits. Wakes at least every [`POLL_INTERVAL_MS`] and consumes all available
    /// records on each wake-up.
    pub fn poll(
        &mut self,
        on_record: &mut dyn FnMut(&[Map], &[u8]) -> Control,
    ) -> Result<StopReason, RuntimeError> {
        loop {
            if self.handle_stop_signals && signals::stop_requested() {
                return Ok(StopReason::Signal);
            }
            if self.consume_available(on_record) == Control::Exit {
                return Ok(StopReason::Exit);
            }
            if let Some(child) = self.child.as_mut() {
                if let Some(code) = child.try_wait()? {
                    return Ok(StopReason::ChildExited(code));
                }
            }
            self.epoll
                .wait(POLL_INTERVAL_MS)
                .map_err(|error| RuntimeError::syscall("waiting for events (epoll_wait)", error))?;
        }
    }

    /// One round of the poll loop without the stop checks: waits up to [`POLL_INTERVAL_MS`] for
    /// events, then hands every available record to `on_record`. For callers with their own loop.
    pub fn poll_once(&mut self, on_record: &mut dyn FnMut(&[Map], &[u8]) -> Control) -> Control {
        // A failed wait only means we consume without waiting.
        let _ = self.epoll.wait(POLL_INTERVAL_MS);
        self.consume_available(on_record)
    }

    /// Detaches every probe (now: no more events are produced).
    pub fn detach_all(&mut self) {
        for attachment in &mut self.attachments {
            attachment.detach();
        }
        self.attachments.clear();
    }

    /// Detaches, runs END, and hands every remaining record (including END's) to `on_record`.
    pub fn finish(
        &mut self,
        on_record: &mut dyn FnMut(&[Map], &[u8]) -> Control,
    ) -> Result<(), RuntimeError> {
        self.detach_all();
        // Records produced before detaching come first, as they happened first.
        self.drain(on_record);
        self.run_programs_of(&AttachTarget::End)?;
        self.drain(on_record);
        Ok(())
    }

    /// Like [`Session::finish`] after the script called `exit()`: as in bpftrace, records the
    /// probes produced after the exit are not delivered (a probe that fires three times with
    /// `printf(); exit();` prints once); `END` then runs and its records are delivered.
    /// Returns how many records were skipped.
    pub fn finish_after_exit(
        &mut self,
        on_record: &mut dyn FnMut(&[Map], &[u8]) -> Control,
    ) -> Result<u64, RuntimeError> {
        self.detach_all();
        let mut skipped = 0u64;
        loop {
            let before = skipped;
            if let Some(ring_buffer) = self.ring_buffer.as_mut() {
                let (consumed, _) = ring_buffer.consume(&mut |_| Control::Continue);
                skipped += consumed;
            }
            if skipped == before {
                break;
            }
        }
        self.run_programs_of(&AttachTarget::End)?;
        self.drain(on_record);
        Ok(skipped)
    }

    /// Consumes until the buffer is empty, whatever the callback answers (every record is delivered).
    fn drain(&mut self, on_record: &mut dyn FnMut(&[Map], &[u8]) -> Control) {
        loop {
            let before = self.records_delivered;
            self.consume_available(on_record);
            let pending = self
                .ring_buffer
                .as_ref()
                .map_or(0, RingBufferConsumer::pending_bytes);
            if pending == 0 || self.records_delivered == before {
                return;
            }
        }
    }

    /// Events the BPF side could not put in the ring buffer (the lost counter, summed over CPUs).
    pub fn lost_events(&self) -> Result<u64, RuntimeError> {
        match self.lost_counter_map.and_then(|index| self.maps.get(index)) {
            Some(map) => map.sum_u64_slot(0),
            None => Ok(0),
        }
    }

    /// Script maps that were full when an update came: their names, sizes and how many updates
    /// the kernel refused (counted in BPF), so that none is lost silently.
    pub fn full_maps(&self) -> Result<Vec<FullMap>, RuntimeError> {
        let Some(counters) = self
            .dropped_updates_map
            .and_then(|index| self.maps.get(index))
        else {
            return Ok(Vec::new());
        };
        let mut full = Vec::new();
        for (index, map) in self.maps.iter().enumerate() {
            if map.spec.layout.is_none() {
                continue;
            }
            let Ok(slot) = u32::try_from(index) else {
                continue;
            };
            if slot >= counters.spec.max_entries {
                continue;
            }
            let dropped = counters.sum_u64_slot(slot)?;
            if dropped > 0 {
                full.push(FullMap {
                    name: map.spec.name.clone(),
                    max_entries: map.spec.max_entries,
                    dropped_updates: dropped,
                });
            }
        }
        Ok(full)
    }

    /// Every entry of map `map_index`: key bytes with the value bytes of each CPU.
    pub fn snapshot(&self, map_index: usize) -> Result<MapSnapshot, RuntimeError> {
        self.maps
            .get(map_index)
            .ok_or_else(|| {
                RuntimeError::InvalidProgram(format!("map index {map_index} out of range"))
            })?
            .snapshot()
    }

    /// The whole life cycle: BEGIN, attach, poll, then finish. Returns why it stopped.
    pub fn run(
        &mut self,
        on_record: &mut dyn FnMut(&[Map], &[u8]) -> Control,
    ) -> Result<StopReason, RuntimeError> {
        let reason = if self.run_begin(on_record)? == Control::Exit {
            StopReason::Exit
        } else {
            self.attach_all()?;
            self.poll(on_record)?
        };
        self.finish(on_record)?;
        Ok(reason)
    }
}
