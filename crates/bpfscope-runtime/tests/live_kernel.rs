//! Tests against the running kernel (as root): maps, loads, real tracepoint events, BEGIN/END, -c, features.
//!
//! Each test prints why and returns early when not root, so the suite passes (vacuously) elsewhere.

use std::os::fd::AsFd;

use bpfscope_bpf::insn::{
    self, BPF_ADD, BPF_DW, BPF_JEQ, BPF_JNE, BPF_LSH, BPF_RSH, BPF_W, R0, R1, R10, R2, R3, R4, R6,
};
use bpfscope_bpf::{
    AttachTarget, CompiledProgram, Insn, MapKind, MapRelocation, MapSpec, ProgramSpec, Sample,
};
use bpfscope_runtime::features::{self, Feature, FeatureProbeInputs, FeatureStatus};
use bpfscope_runtime::load::{self, ProgramKind};
use bpfscope_runtime::sys::{self, prog_type};
use bpfscope_runtime::{
    Control, Map, PausedChild, RuntimeError, Session, SessionOptions, StopReason,
};

const BPF_FUNC_MAP_LOOKUP_ELEM: i32 = 1;
const BPF_FUNC_GET_CURRENT_PID_TGID: i32 = 14;
const BPF_FUNC_RINGBUF_OUTPUT: i32 = 130;

fn running_as_root(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!("skipping {test}: needs root to use bpf()");
    }
    root
}

fn current_tid() -> u32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() as u32 }
}

fn map_spec(
    name: &str,
    kind: MapKind,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
) -> MapSpec {
    MapSpec {
        name: name.to_string(),
        kind,
        key_size,
        value_size,
        max_entries,
        layout: None,
    }
}

/// Instructions plus the map relocations of their ld_imm64s, with forward jumps to one `out` label.
#[derive(Default)]
struct ProgramBuilder {
    insns: Vec<Insn>,
    relocations: Vec<MapRelocation>,
    jumps_to_out: Vec<usize>,
}

impl ProgramBuilder {
    fn push(&mut self, insn: Insn) -> &mut Self {
        self.insns.push(insn);
        self
    }
    fn load_map(&mut self, register: u8, map_index: usize) -> &mut Self {
        self.relocations.push(MapRelocation {
            insn_index: self.insns.len(),
            map_index,
        });
        self.insns
            .extend(insn::ld_imm64(register, map_index as u64));
        self
    }
    fn jump_to_out_if(&mut self, op: u8, register: u8, imm: i32) -> &mut Self {
        self.jumps_to_out.push(self.insns.len());
        self.insns.push(insn::jmp_imm(op, register, imm, 0));
        self
    }
    /// Emits `out: r0 = 0; exit` and resolves the jumps.
    fn finish(mut self, probe_name: &str, attach: AttachTarget) -> ProgramSpec {
        let out = self.insns.len();
        for index in &self.jumps_to_out {
            if let Some(jump) = self.insns.get_mut(*index) {
                jump.off = (out - index - 1) as i16;
            }
        }
        self.insns.push(insn::mov64_imm(R0, 0));
        self.insns.push(insn::exit());
        let line_of_insn = vec![1; self.insns.len()];
        ProgramSpec {
            probe_name: probe_name.to_string(),
            attach,
            insns: self.insns,
            map_relocations: self.relocations,
            line_of_insn,
            function_starts: Vec::new(),
        }
    }
}

/// Emits a 16-byte record {u64 action, u64 pid_tgid} to map 0 (ring buffer), counting failures in
/// map 1 (per-CPU array slot 0). With `only_tgid_or_tid`, records only for that tgid (upper
/// half, `match_upper`) or tid (lower half).
fn record_program(
    action: i32,
    filter: Option<(u32, bool)>,
    probe_name: &str,
    attach: AttachTarget,
) -> ProgramSpec {
    let mut builder = ProgramBuilder::default();
    builder
        .push(insn::call(BPF_FUNC_GET_CURRENT_PID_TGID))
        .push(insn::mov64_reg(R6, R0));
    if let Some((wanted, match_upper)) = filter {
        builder.push(insn::mov64_reg(R1, R0));
        if !match_upper {
            builder.push(insn::alu64_imm(BPF_LSH, R1, 32));
        }
        builder
            .push(insn::alu64_imm(BPF_RSH, R1, 32))
            .jump_to_out_if(BPF_JNE, R1, wanted as i32);
    }
    builder
        .push(insn::st_mem(BPF_DW, R10, -16, action))
        .push(insn::stx_mem(BPF_DW, R10, R6, -8))
        .load_map(R1, 0)
        .push(insn::mov64_reg(R2, R10))
        .push(insn::alu64_imm(BPF_ADD, R2, -16))
        .push(insn::mov64_imm(R3, 16))
        .push(insn::mov64_imm(R4, 0))
        .push(insn::call(BPF_FUNC_RINGBUF_OUTPUT))
        .jump_to_out_if(BPF_JEQ, R0, 0)
        .push(insn::st_mem(BPF_W, R10, -20, 0))
        .load_map(R1, 1)
        .push(insn::mov64_reg(R2, R10))
        .push(insn::alu64_imm(BPF_ADD, R2, -20))
        .push(insn::call(BPF_FUNC_MAP_LOOKUP_ELEM))
        .jump_to_out_if(BPF_JEQ, R0, 0)
        .push(insn::ldx_mem(BPF_DW, R1, R0, 0))
        .push(insn::alu64_imm(BPF_ADD, R1, 1))
        .push(insn::stx_mem(BPF_DW, R0, R1, 0));
    builder.finish(probe_name, attach)
}

fn compiled_with(programs: Vec<ProgramSpec>, ring_buffer_size: u32) -> CompiledProgram {
    CompiledProgram {
        programs,
        maps: vec![
            map_spec(".ringbuf", MapKind::Ringbuf, 0, 0, ring_buffer_size),
            map_spec(".lost", MapKind::PercpuArray, 4, 8, 1),
        ],
        actions: Vec::new(),
        ringbuf_map: Some(0),
        lost_counter_map: Some(1),
        globals_map: None,
        dropped_updates_map: None,
    }
}

/// Decodes {action, pid_tgid} records.
fn decode(record: &[u8]) -> (u64, u64) {
    let word = |range: std::ops::Range<usize>| {
        record
            .get(range)
            .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
            .map(u64::from_ne_bytes)
            .unwrap_or(u64::MAX)
    };
    (word(0..8), word(8..16))
}

#[test]
fn every_map_kind_round_trips_values() {
    if !running_as_root("every_map_kind_round_trips_values") {
        return;
    }
    let cpus = sys::possible_cpus().expect("possible CPUs").len();
    for kind in [
        MapKind::Hash,
        MapKind::Array,
        MapKind::LruHash,
        MapKind::PercpuHash,
        MapKind::PercpuArray,
    ] {
        // A 12-byte value checks the per-CPU 8-byte rounding.
        let map = Map::create(&map_spec("test_map", kind, 4, 12, 8)).expect("create map");
        let key = 3u32.to_ne_bytes();
        let value: Vec<u8> = (1..=12).collect();
        map.update(&key, &[&value]).expect("update");
        let values = map.lookup(&key).expect("lookup").expect("present");
        let expected_copies = if bpfscope_runtime::maps::is_per_cpu(kind) {
            cpus
        } else {
            1
        };
        assert_eq!(values.len(), expected_copies, "{kind:?}");
        assert!(
            values.iter().all(|copy| copy == &value),
            "{kind:?}: {values:?}"
        );
        let snapshot = map.snapshot().expect("snapshot");
        let entry = snapshot
            .iter()
            .find(|(snapshot_key, _)| snapshot_key.as_slice() == key)
            .expect("key in snapshot");
        assert_eq!(entry.1.len(), expected_copies);
        if matches!(kind, MapKind::Array | MapKind::PercpuArray) {
            assert_eq!(snapshot.len(), 8, "{kind:?}: arrays list every slot");
            map.clear().expect("zero array");
            assert_eq!(
                map.lookup(&key).expect("lookup").expect("present")[0],
                vec![0u8; 12]
            );
        } else {
            assert_eq!(snapshot.len(), 1, "{kind:?}");
            let other_key = 5u32.to_ne_bytes();
            map.update(&other_key, &[&value]).expect("update other");
            assert_eq!(map.keys().expect("keys").len(), 2);
            assert!(map.delete(&key).expect("delete"));
            assert!(!map.delete(&key).expect("delete again"));
            assert_eq!(map.lookup(&key).expect("lookup"), None);
            map.clear().expect("clear");
            assert!(map.keys().expect("keys").is_empty(), "{kind:?}");
        }
    }
    // Per-CPU counters sum over CPUs.
    let counters =
        Map::create(&map_spec("counters", MapKind::PercpuArray, 4, 8, 1)).expect("create");
    let per_cpu: Vec<Vec<u8>> = (0..cpus as u64)
        .map(|cpu| (cpu + 10).to_ne_bytes().to_vec())
        .collect();
    let slices: Vec<&[u8]> = per_cpu.iter().map(Vec::as_slice).collect();
    counters
        .update(&0u32.to_ne_bytes(), &slices)
        .expect("update per CPU");
    let expected: u64 = (0..cpus as u64).map(|cpu| cpu + 10).sum();
    assert_eq!(counters.sum_u64_slot(0).expect("sum"), expected);
    // Ring buffer maps are created and mapped.
    let ring = Map::create(&map_spec("ring", MapKind::Ringbuf, 0, 0, 4096 * 4)).expect("ringbuf");
    let consumer = bpfscope_runtime::ringbuf::RingBufferConsumer::new(ring.fd(), 4096 * 4)
        .expect("mmap ringbuf");
    assert_eq!(consumer.pending_bytes(), 0);
    // A wrong key size is an error, not a panic.
    assert!(matches!(
        counters.lookup(&[0u8; 3]),
        Err(RuntimeError::InvalidProgram(_))
    ));
}

#[test]
fn trivial_programs_load_as_tracepoint_and_raw_tracepoint() {
    if !running_as_root("trivial_programs_load_as_tracepoint_and_raw_tracepoint") {
        return;
    }
    let insns = [insn::mov64_imm(R0, 0), insn::exit()];
    for prog_type in [prog_type::TRACEPOINT, prog_type::RAW_TRACEPOINT] {
        let kind = ProgramKind {
            prog_type,
            expected_attach_type: 0,
            attach_btf_id: 0,
        };
        load::load_program(kind, &insns, "trivial", "test", &[]).expect("load trivial program");
    }
}

#[test]
fn verifier_rejection_carries_log_and_script_line() {
    if !running_as_root("verifier_rejection_carries_log_and_script_line") {
        return;
    }
    // `exit` without setting r0 is rejected.
    let insns = [insn::mov64_imm(R1, 1), insn::exit()];
    let kind = ProgramKind {
        prog_type: prog_type::TRACEPOINT,
        expected_attach_type: 0,
        attach_btf_id: 0,
    };
    let error = load::load_program(kind, &insns, "bad", "tracepoint:test:bad", &[4, 7])
        .expect_err("must be rejected");
    let RuntimeError::VerifierRejected(rejection) = &error else {
        panic!("unexpected error {error}")
    };
    assert!(
        rejection.log.contains("R0 !read_ok"),
        "log was: {}",
        rejection.log
    );
    assert_eq!(rejection.insn_index, Some(1));
    assert_eq!(rejection.script_line, Some(7));
    let message = error.to_string();
    assert!(
        message.contains("tracepoint:test:bad") && message.contains("line 7"),
        "{message}"
    );
}

#[test]
fn getppid_tracepoint_records_carry_our_pid_and_nothing_is_lost_silently() {
    if !running_as_root("getppid_tracepoint_records_carry_our_pid") {
        return;
    }
    if sys::find_tracefs().is_none() {
        eprintln!("skipping: tracefs is not mounted");
        return;
    }
    let tid = current_tid();
    let attach = AttachTarget::Tracepoint {
        category: "syscalls".into(),
        name: "sys_enter_getppid".into(),
    };
    let program = record_program(
        0,
        Some((tid, false)),
        "tracepoint:syscalls:sys_enter_getppid",
        attach,
    );

    // 1. A few calls, all delivered.
    let compiled = compiled_with(vec![program.clone()], 64 * 1024);
    let mut session = Session::load(&compiled, SessionOptions::default()).expect("load session");
    assert_eq!(session.attach_all().expect("attach"), 1);
    for _ in 0..5 {
        // SAFETY: getppid has no preconditions.
        unsafe { libc::getppid() };
    }
    let mut records = Vec::new();
    let mut collect = |_: &[Map], record: &[u8]| {
        records.push(decode(record));
        if records.len() == 5 {
            Control::Exit
        } else {
            Control::Continue
        }
    };
    assert_eq!(session.poll(&mut collect).expect("poll"), StopReason::Exit);
    session.finish(&mut collect).expect("finish");
    let pid = u64::from(std::process::id());
    assert_eq!(records.len(), 5, "{records:?}");
    for (action, pid_tgid) in &records {
        assert_eq!(*action, 0);
        assert_eq!(pid_tgid >> 32, pid);
        assert_eq!(pid_tgid & 0xffff_ffff, u64::from(tid));
    }
    assert_eq!(session.lost_events().expect("lost"), 0);
    drop(session);

    // 2. More calls than a one-page ring buffer holds, nobody consuming: delivered + lost = calls.
    let compiled = compiled_with(vec![program], sys::page_size() as u32);
    let mut session = Session::load(&compiled, SessionOptions::default()).expect("load session");
    session.attach_all().expect("attach");
    let calls = 1000u64;
    for _ in 0..calls {
        // SAFETY: getppid has no preconditions.
        unsafe { libc::getppid() };
    }
    session.detach_all();
    let mut delivered = 0u64;
    session
        .finish(&mut |_, _| {
            delivered += 1;
            Control::Continue
        })
        .expect("finish");
    let lost = session.lost_events().expect("lost");
    assert!(
        lost > 0,
        "a one-page ring buffer cannot hold {calls} records"
    );
    assert_eq!(delivered + lost, calls, "delivered {delivered} lost {lost}");
}

#[test]
fn begin_and_end_run_once_through_test_run() {
    if !running_as_root("begin_and_end_run_once_through_test_run") {
        return;
    }
    let begin = record_program(7, None, "BEGIN", AttachTarget::Begin);
    let end = record_program(8, None, "END", AttachTarget::End);
    let compiled = compiled_with(vec![begin, end], 16 * 1024);
    let mut session = Session::load(&compiled, SessionOptions::default()).expect("load");
    assert_eq!(session.attachable_probe_count(), 0);
    let mut records = Vec::new();
    let mut collect = |_: &[Map], record: &[u8]| {
        records.push(decode(record));
        Control::Continue
    };
    assert_eq!(
        session.run_begin(&mut collect).expect("BEGIN"),
        Control::Continue
    );
    assert_eq!(session.attach_all().expect("attach nothing"), 0);
    session.finish(&mut collect).expect("END");
    let pid = u64::from(std::process::id());
    assert_eq!(
        records
            .iter()
            .map(|(action, _)| *action)
            .collect::<Vec<_>>(),
        vec![7, 8]
    );
    assert!(
        records.iter().all(|(_, pid_tgid)| pid_tgid >> 32 == pid),
        "{records:?}"
    );
}

#[test]
fn child_command_is_traced_from_its_start_and_ends_the_session() {
    if !running_as_root("child_command_is_traced_from_its_start") || sys::find_tracefs().is_none() {
        return;
    }
    let child = PausedChild::spawn(&["sh".to_string(), "-c".to_string(), "exit 3".to_string()])
        .expect("spawn");
    let child_pid = child.pid() as u32;
    let attach = AttachTarget::Tracepoint {
        category: "syscalls".into(),
        name: "sys_enter_exit_group".into(),
    };
    let program = record_program(
        0,
        Some((child_pid, true)),
        "tracepoint:syscalls:sys_enter_exit_group",
        attach,
    );
    let compiled = compiled_with(vec![program], 16 * 1024);
    let options = SessionOptions {
        child: Some(child),
        ..SessionOptions::default()
    };
    let mut session = Session::load(&compiled, options).expect("load");
    assert_eq!(session.child_pid(), Some(child_pid as i32));
    let mut records = Vec::new();
    let reason = session
        .run(&mut |_, record| {
            records.push(decode(record));
            Control::Continue
        })
        .expect("run");
    assert_eq!(reason, StopReason::ChildExited(3));
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(
        records.first().map(|(_, pid_tgid)| pid_tgid >> 32),
        Some(u64::from(child_pid))
    );
}

#[test]
fn interval_style_perf_event_fires() {
    if !running_as_root("interval_style_perf_event_fires") {
        return;
    }
    let attach = AttachTarget::PerfEvent {
        perf_type: perf_event_open_sys::bindings::PERF_TYPE_SOFTWARE,
        config: u64::from(perf_event_open_sys::bindings::PERF_COUNT_SW_CPU_CLOCK),
        sample: Sample::Period(1_000_000),
        one_cpu: true,
    };
    let program = record_program(0, None, "interval:ms:1", attach);
    let compiled = compiled_with(vec![program], 64 * 1024);
    let mut session = Session::load(&compiled, SessionOptions::default()).expect("load");
    session.attach_all().expect("attach");
    let started = std::time::Instant::now();
    let mut count = 0;
    let reason = session
        .poll(&mut |_, _| {
            count += 1;
            if count == 20 {
                Control::Exit
            } else {
                Control::Continue
            }
        })
        .expect("poll");
    assert_eq!(reason, StopReason::Exit);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn feature_probe_reports_what_this_kernel_can_do() {
    if !running_as_root("feature_probe_reports_what_this_kernel_can_do") {
        return;
    }
    let report = features::probe_features(&FeatureProbeInputs::default());
    eprintln!("{report:#?}");
    assert_eq!(report.results.len(), Feature::ALL.len());
    assert!(!report.kernel_release.is_empty());
    if report.tracefs_root.is_some() {
        assert_eq!(
            report.status(Feature::Tracepoint),
            Some(&FeatureStatus::Available)
        );
    }
    assert_eq!(
        report.status(Feature::RawTracepoint),
        Some(&FeatureStatus::Available)
    );
    assert_eq!(
        report.status(Feature::RingBuffer),
        Some(&FeatureStatus::Available)
    );
    assert_eq!(
        report.status(Feature::ProgTestRun),
        Some(&FeatureStatus::Available)
    );
    assert_eq!(
        report.status(Feature::SoftwareEvents),
        Some(&FeatureStatus::Available)
    );
    if !std::path::Path::new("/sys/bus/event_source/devices/kprobe").exists() {
        let expected =
            FeatureStatus::Unavailable(bpfscope_runtime::attach::NO_KPROBE_PMU_REASON.to_string());
        assert_eq!(report.status(Feature::Kprobe), Some(&expected));
        assert_eq!(report.status(Feature::Kretprobe), Some(&expected));
    } else {
        eprintln!(
            "this kernel has kprobes; kprobe={:?}",
            report.status(Feature::Kprobe)
        );
    }
    // Without inputs, the BTF- and ELF-dependent probes are not tried.
    assert!(matches!(
        report.status(Feature::Fentry),
        Some(FeatureStatus::NotTested(_))
    ));
    assert!(matches!(
        report.status(Feature::Uprobe),
        Some(FeatureStatus::NotTested(_))
    ));
}

#[test]
fn uprobe_on_a_function_of_this_test_binary_attaches() {
    if !running_as_root("uprobe_on_a_function_of_this_test_binary_attaches") {
        return;
    }
    if !std::path::Path::new("/sys/bus/event_source/devices/uprobe").exists() {
        eprintln!("skipping: no uprobe PMU");
        return;
    }
    // File offset 0 of /bin/true is not an instruction start we would hit; attaching there is
    // still accepted by the kernel (it checks the offset lies in the file), which is what we test.
    let program = load::load_program(
        ProgramKind {
            prog_type: prog_type::KPROBE,
            expected_attach_type: 0,
            attach_btf_id: 0,
        },
        &[insn::mov64_imm(R0, 0), insn::exit()],
        "uprobe_test",
        "uprobe:test",
        &[],
    )
    .expect("load kprobe-type program");
    let attachment =
        bpfscope_runtime::attach::attach_uprobe(program.as_fd(), "/bin/true", 0x40, false, None, 0)
            .expect("attach uprobe");
    assert_eq!(attachment.len(), 1);
}

/// BTF ids looked up with bpftool (the BTF reader lives in another crate), if it is installed.
fn btf_ids_from_bpftool() -> Option<(u32, u32)> {
    let output = std::process::Command::new("bpftool")
        .args(["btf", "dump", "file", "/sys/kernel/btf/vmlinux"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let id_of = |needle: &str| {
        text.lines()
            .find(|line| line.contains(needle))
            .and_then(|line| line.strip_prefix('['))
            .and_then(|rest| rest.split(']').next())
            .and_then(|id| id.parse().ok())
    };
    Some((
        id_of("] TYPEDEF 'btf_trace_sched_switch' ")?,
        id_of("] FUNC 'vfs_read' ")?,
    ))
}

#[test]
fn feature_probe_tries_tp_btf_fentry_and_uprobe_when_given_targets() {
    if !running_as_root("feature_probe_tries_tp_btf_fentry_and_uprobe_when_given_targets") {
        return;
    }
    let Some((sched_switch_id, vfs_read_id)) = btf_ids_from_bpftool() else {
        eprintln!("skipping: bpftool is not installed or vmlinux BTF is missing");
        return;
    };
    let inputs = FeatureProbeInputs {
        tp_btf_sched_switch_btf_id: Some(sched_switch_id),
        fentry_function_btf_id: Some(vfs_read_id),
        uprobe_target: Some(("/bin/true".into(), 0x40)),
        ..FeatureProbeInputs::default()
    };
    let report = features::probe_features(&inputs);
    eprintln!("{:#?}", report.results);
    assert_eq!(
        report.status(Feature::TpBtf),
        Some(&FeatureStatus::Available)
    );
    assert_eq!(
        report.status(Feature::Uprobe),
        Some(&FeatureStatus::Available)
    );
    assert_eq!(
        report.status(Feature::Uretprobe),
        Some(&FeatureStatus::Available)
    );
    // fentry either works, or fails with an explanation (never "not tested" once given an id).
    for feature in [Feature::Fentry, Feature::Fexit] {
        match report.status(feature) {
            Some(FeatureStatus::Available) => {}
            Some(FeatureStatus::Unavailable(reason)) => assert!(!reason.is_empty()),
            other => panic!("{feature:?}: {other:?}"),
        }
    }
}

#[inline(never)]
#[no_mangle]
pub extern "C" fn bpfscope_runtime_uprobe_target(value: u64) -> u64 {
    std::hint::black_box(value.wrapping_mul(3))
}

/// The file and file offset of a code address of this process, from /proc/self/maps.
fn file_offset_of_address(address: u64) -> Option<(String, u64)> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let (start, end) = fields.next()?.split_once('-')?;
        let (start, end) = (
            u64::from_str_radix(start, 16).ok()?,
            u64::from_str_radix(end, 16).ok()?,
        );
        let _permissions = fields.next()?;
        let offset = u64::from_str_radix(fields.next()?, 16).ok()?;
        let path = fields.nth(2)?;
        (start <= address && address < end && path.starts_with('/'))
            .then(|| (path.to_string(), address - start + offset))
    })
}

#[test]
fn uprobe_and_uretprobe_fire_on_a_function_of_this_test_binary() {
    if !running_as_root("uprobe_and_uretprobe_fire_on_a_function_of_this_test_binary") {
        return;
    }
    if !std::path::Path::new("/sys/bus/event_source/devices/uprobe").exists() {
        eprintln!("skipping: no uprobe PMU");
        return;
    }
    let address = bpfscope_runtime_uprobe_target as *const () as u64;
    let (path, file_offset) =
        file_offset_of_address(address).expect("own function in /proc/self/maps");
    let tid = current_tid();
    let entry = record_program(
        1,
        Some((tid, false)),
        "uprobe:test",
        AttachTarget::Uprobe {
            path: path.clone(),
            file_offset,
            is_return: false,
            pid: None,
            ref_ctr_offset: 0,
        },
    );
    let exit = record_program(
        2,
        Some((tid, false)),
        "uretprobe:test",
        AttachTarget::Uprobe {
            path,
            file_offset,
            is_return: true,
            pid: Some(std::process::id() as i32),
            ref_ctr_offset: 0,
        },
    );
    let compiled = compiled_with(vec![entry, exit], 16 * 1024);
    let mut session = Session::load(&compiled, SessionOptions::default()).expect("load");
    assert_eq!(session.attach_all().expect("attach"), 2);
    for value in 0..3 {
        bpfscope_runtime_uprobe_target(value);
    }
    session.detach_all();
    let mut actions = Vec::new();
    session
        .finish(&mut |_, record| {
            let (action, pid_tgid) = decode(record);
            assert_eq!(pid_tgid >> 32, u64::from(std::process::id()));
            actions.push(action);
            Control::Continue
        })
        .expect("finish");
    assert_eq!(actions, vec![1, 2, 1, 2, 1, 2]);
}

/// Throughput: 2,000,000 traced getppid() calls consumed on another thread; prints the per-call
/// overhead and checks delivered + lost = calls. `cargo test -- --ignored throughput`.
#[test]
#[ignore = "benchmark: run explicitly"]
fn throughput_of_two_million_getppid_events() {
    if !running_as_root("throughput_of_two_million_getppid_events") || sys::find_tracefs().is_none()
    {
        return;
    }
    const CALLS: u64 = 2_000_000;
    let call_loop = || {
        let started = std::time::Instant::now();
        for _ in 0..CALLS {
            // SAFETY: getppid has no preconditions.
            unsafe { libc::getppid() };
        }
        started.elapsed()
    };
    let baseline = call_loop();
    let (tid_sender, tid_receiver) = std::sync::mpsc::channel();
    let (done_sender, done_receiver) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        tid_sender.send(current_tid()).ok();
        done_receiver.recv().ok();
        call_loop()
    });
    let tid = tid_receiver.recv().expect("worker tid");
    let attach = AttachTarget::Tracepoint {
        category: "syscalls".into(),
        name: "sys_enter_getppid".into(),
    };
    let program = record_program(
        0,
        Some((tid, false)),
        "tracepoint:syscalls:sys_enter_getppid",
        attach,
    );
    let compiled = compiled_with(vec![program], 8 * 1024 * 1024);
    let mut session = Session::load(&compiled, SessionOptions::default()).expect("load");
    session.attach_all().expect("attach");
    done_sender.send(()).expect("start worker");
    let mut delivered = 0u64;
    let mut lost = 0u64;
    while !worker.is_finished() || delivered + lost < CALLS {
        session.poll_once(&mut |_, _| {
            delivered += 1;
            Control::Continue
        });
        lost = session.lost_events().expect("lost");
        if worker.is_finished()
            && session.records_delivered() == delivered
            && delivered + lost >= CALLS
        {
            break;
        }
    }
    let traced = worker.join().expect("worker");
    session
        .finish(&mut |_, _| {
            delivered += 1;
            Control::Continue
        })
        .expect("finish");
    let lost = session.lost_events().expect("lost");
    let per_call_ns = (traced.as_nanos() as f64 - baseline.as_nanos() as f64) / CALLS as f64;
    eprintln!(
        "baseline {:?}, traced {:?}, overhead {per_call_ns:.0} ns/call, delivered {delivered}, lost {lost}",
        baseline, traced
    );
    assert_eq!(delivered + lost, CALLS);
}
