//! Helpers shared by the codegen tests that load programs into the real kernel (need root).

#![allow(dead_code)]

use bpfscope_bpf::{Action, CompiledProgram, ValueType};
use bpfscope_check::{check, CheckOptions, KernelProbeInfo};
use bpfscope_codegen::{compile, disassemble_program, CodegenOptions};
use bpfscope_probes::KernelFs;
use bpfscope_runtime::{Control, Session, SessionOptions};

pub fn can_run_bpf() -> bool {
    let is_root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("Uid:"))
                .map(|line| line.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    if !is_root || !std::path::Path::new("/sys/kernel/tracing/events/syscalls").exists() {
        eprintln!("skipping: needs root and tracefs at /sys/kernel/tracing");
        return false;
    }
    true
}

pub fn compile_and_load(source: &str) -> (CompiledProgram, Session) {
    let (ast, diagnostics) = bpfscope_syntax::parse(source);
    assert!(diagnostics.is_empty(), "parse: {diagnostics:?}");
    let info = KernelProbeInfo {
        fs: KernelFs::live(),
    };
    let checked = check(&ast, source, &info, &CheckOptions::default());
    assert!(!checked.has_errors(), "check: {:?}", checked.diagnostics);
    let options = CodegenOptions {
        ringbuf_bytes: 1 << 20,
        ..CodegenOptions::default()
    };
    let compiled = compile(&checked.program, &options).expect("compiles");
    match Session::load(&compiled, SessionOptions::default()) {
        Ok(session) => (compiled, session),
        Err(error) => {
            let log = match &error {
                bpfscope_runtime::RuntimeError::VerifierRejected(rejection) => {
                    rejection.log.clone()
                }
                _ => String::new(),
            };
            let tail: Vec<&str> = log
                .lines()
                .rev()
                .take(30)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            panic!(
                "{error}\n{}\n{}",
                tail.join("\n"),
                disassemble_program(&compiled, source)
            );
        }
    }
}

pub fn map_index(compiled: &CompiledProgram, name: &str) -> usize {
    compiled
        .maps
        .iter()
        .position(|map| map.name == name)
        .unwrap_or_else(|| panic!("no map {name}"))
}

pub fn c_string(bytes: &[u8]) -> String {
    let end = bytes
        .iter()
        .position(|byte| *byte == 0)
        .unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

pub fn u64_at(bytes: &[u8], offset: usize) -> u64 {
    u64::from_le_bytes(bytes[offset..offset + 8].try_into().expect("8 bytes"))
}

#[derive(Debug)]
pub struct Line {
    pub ints: Vec<i64>,
    pub strings: Vec<String>,
}

pub fn decode_printf(actions: &[Action], record: &[u8]) -> Option<Line> {
    let Some(Action::Printf { args, .. }) = actions.get(u64_at(record, 0) as usize) else {
        return None;
    };
    let mut line = Line {
        ints: Vec::new(),
        strings: Vec::new(),
    };
    for field in args {
        let offset = field.offset as usize;
        match field.ty {
            ValueType::Int { .. } => line.ints.push(u64_at(record, offset) as i64),
            ValueType::Str { capacity } => line
                .strings
                .push(c_string(&record[offset..offset + capacity as usize])),
            _ => {}
        }
    }
    Some(line)
}

/// Runs a BEGIN-only program through the real kernel and returns its printf lines.
pub fn begin_lines(source: &str) -> Vec<Line> {
    let (compiled, mut session) = compile_and_load(source);
    let mut lines = Vec::new();
    session
        .run_begin(&mut |_, record| {
            if let Some(line) = decode_printf(&compiled.actions, record) {
                lines.push(line);
            }
            Control::Continue
        })
        .expect("BEGIN runs");
    lines
}
