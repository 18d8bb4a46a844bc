//! Fuzzes the whole compile path without a kernel: parse, check against fixture tracepoints, generate BPF.
#![no_main]

use bpfscope_check::{CheckOptions, FixtureProbeInfo};
use libfuzzer_sys::fuzz_target;

const EXECVE_FORMAT: &str = include_str!("../../crates/bpfscope-probes/test_data/tracefs/sys_enter_execve.format");
const SCHED_SWITCH_FORMAT: &str = include_str!("../../crates/bpfscope-probes/test_data/tracefs/sched_switch.format");

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let (program, diagnostics) = bpfscope_syntax::parse(source);
    if diagnostics.iter().any(|diagnostic| diagnostic.is_error()) {
        return;
    }
    let probe_info = FixtureProbeInfo::default()
        .with_tracepoint("syscalls", "sys_enter_execve", EXECVE_FORMAT)
        .with_tracepoint("sched", "sched_switch", SCHED_SWITCH_FORMAT);
    let checked = bpfscope_check::check(&program, source, &probe_info, &CheckOptions::default());
    if checked.has_errors() {
        return;
    }
    let _ = bpfscope_codegen::compile(&checked.program, &bpfscope_codegen::CodegenOptions::default());
});
