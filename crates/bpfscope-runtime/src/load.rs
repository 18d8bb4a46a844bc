//! Program loading: BPF_PROG_LOAD with the verifier log kept verbatim, and the rejected instruction found in it.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, OwnedFd};

use bpfscope_bpf::insn::{BPF_DW, BPF_IMM, BPF_LD, BPF_PSEUDO_MAP_FD};
use bpfscope_bpf::{AttachTarget, Insn, MapRelocation};

use crate::error::{RuntimeError, VerifierRejection};
use crate::maps::Map;
use crate::sys::{self, attach_type, prog_type};

/// bpfscope's programs call GPL-only helpers (probe_read, ringbuf...), so they declare GPL.
pub const LICENSE: &CStr = c"GPL";

/// The largest verifier log buffer we grow to (the kernel's own limit is UINT_MAX >> 2).
const MAX_LOG_SIZE: usize = 64 * 1024 * 1024;
const FIRST_LOG_SIZE: usize = 256 * 1024;

/// Program type, expected attach type and attach BTF id of a loadable program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgramKind {
    pub prog_type: u32,
    pub expected_attach_type: u32,
    pub attach_btf_id: u32,
}

impl ProgramKind {
    /// The program type each attach target needs. BEGIN and END are raw tracepoint programs run
    /// with BPF_PROG_TEST_RUN: their context is `struct bpf_raw_tracepoint_args` (u64 args[]).
    pub fn for_target(target: &AttachTarget) -> ProgramKind {
        let plain = |prog_type| ProgramKind {
            prog_type,
            expected_attach_type: 0,
            attach_btf_id: 0,
        };
        match target {
            AttachTarget::Begin | AttachTarget::End | AttachTarget::RawTracepoint { .. } => {
                plain(prog_type::RAW_TRACEPOINT)
            }
            AttachTarget::Tracepoint { .. } => plain(prog_type::TRACEPOINT),
            AttachTarget::Kprobe { .. } | AttachTarget::Uprobe { .. } => plain(prog_type::KPROBE),
            AttachTarget::PerfEvent { .. } => plain(prog_type::PERF_EVENT),
            AttachTarget::Fentry {
                btf_id, is_return, ..
            } => ProgramKind {
                prog_type: prog_type::TRACING,
                expected_attach_type: if *is_return {
                    attach_type::TRACE_FEXIT
                } else {
                    attach_type::TRACE_FENTRY
                },
                attach_btf_id: *btf_id,
            },
        }
    }
}

/// Loads instructions as a program of `kind`. On failure, loads again with a verifier log
/// (growing the buffer while the kernel says it is too small) and returns the log verbatim with
/// the complained-about instruction mapped to its script line through `line_of_insn`.
pub fn load_program(
    kind: ProgramKind,
    insns: &[Insn],
    name: &str,
    probe_name: &str,
    line_of_insn: &[u32],
) -> Result<OwnedFd, RuntimeError> {
    load_program_with_functions(kind, insns, &[], name, probe_name, line_of_insn)
}

/// [`load_program`] for a program made of several BPF functions (callbacks) starting at
/// `function_starts`: the kernel takes callbacks only from programs that carry BTF func_info,
/// so a minimal BTF object describing them is loaded first.
pub fn load_program_with_functions(
    kind: ProgramKind,
    insns: &[Insn],
    function_starts: &[usize],
    name: &str,
    probe_name: &str,
    line_of_insn: &[u32],
) -> Result<OwnedFd, RuntimeError> {
    load_program_for_target_btf(
        kind,
        None,
        insns,
        function_starts,
        name,
        probe_name,
        line_of_insn,
    )
}

/// The module of an fentry/fexit target named `MODULE:FUNCTION` (the checker's spelling for a
/// function of a kernel module; vmlinux functions are named without a module).
pub fn fentry_module(target: &AttachTarget) -> Option<&str> {
    match target {
        AttachTarget::Fentry { function, .. } => function
            .split_once(':')
            .map(|(module, _)| module)
            .filter(|module| *module != "vmlinux"),
        _ => None,
    }
}

/// Loads a program for `target`: fentry/fexit on a module function also gets the module's BTF
/// object (its `attach_btf_id` is an id in that module's split BTF).
pub fn load_program_for(
    target: &AttachTarget,
    insns: &[Insn],
    function_starts: &[usize],
    name: &str,
    probe_name: &str,
    line_of_insn: &[u32],
) -> Result<OwnedFd, RuntimeError> {
    let kind = ProgramKind::for_target(target);
    let Some(module) = fentry_module(target) else {
        return load_program_with_functions(
            kind,
            insns,
            function_starts,
            name,
            probe_name,
            line_of_insn,
        );
    };
    let object = sys::kernel_module_btf_object(module)
        .map_err(|error| {
            RuntimeError::syscall(
                format!("looking for the BTF of kernel module {module}"),
                error,
            )
        })?
        .ok_or_else(|| {
            RuntimeError::Unsupported(format!(
                "{probe_name}: kernel module '{module}' is not loaded (or has no BTF)"
            ))
        })?;
    load_program_for_target_btf(
        kind,
        Some(object.as_fd()),
        insns,
        function_starts,
        name,
        probe_name,
        line_of_insn,
    )
}

fn load_program_for_target_btf(
    kind: ProgramKind,
    attach_btf_object: Option<std::os::fd::BorrowedFd<'_>>,
    insns: &[Insn],
    function_starts: &[usize],
    name: &str,
    probe_name: &str,
    line_of_insn: &[u32],
) -> Result<OwnedFd, RuntimeError> {
    let function_btf = (!function_starts.is_empty())
        .then(|| bpfscope_bpf::func_btf::function_btf(function_starts));
    let btf_fd = match &function_btf {
        Some(function_btf) => Some(load_function_btf(&function_btf.blob, probe_name)?),
        None => None,
    };
    let request = sys::ProgLoadRequest {
        prog_type: kind.prog_type,
        expected_attach_type: kind.expected_attach_type,
        attach_btf_id: kind.attach_btf_id,
        insns,
        license: LICENSE,
        name,
        functions: match (&btf_fd, &function_btf) {
            (Some(fd), Some(function_btf)) => Some((fd.as_fd(), function_btf.func_info.as_slice())),
            _ => None,
        },
        attach_btf_object,
    };
    // First without a log: the verifier runs faster and most programs pass.
    let first_error = match sys::bpf_prog_load(&request, None) {
        Ok(fd) => return Ok(fd),
        Err(error) => error,
    };
    let mut log_size = FIRST_LOG_SIZE;
    let (error, log) = loop {
        let mut buffer = vec![0u8; log_size];
        match sys::bpf_prog_load(&request, Some((&mut buffer, 1))) {
            // Loading with a log succeeded where loading without failed: a transient failure.
            Ok(fd) => return Ok(fd),
            Err(error) if error.raw_os_error() == Some(libc::ENOSPC) && log_size < MAX_LOG_SIZE => {
                log_size *= 4;
            }
            Err(error) => break (error, log_text(&buffer)),
        }
    };
    // Prefer the errno of the plain load when the log load failed only for lack of space.
    let error = if error.raw_os_error() == Some(libc::ENOSPC) {
        first_error
    } else {
        error
    };
    let insn_index = rejected_insn_index(&log);
    let script_line = insn_index
        .and_then(|index| line_of_insn.get(index))
        .copied()
        .filter(|line| *line != 0);
    Err(RuntimeError::VerifierRejected(Box::new(
        VerifierRejection {
            probe_name: probe_name.to_string(),
            error,
            log,
            insn_index,
            script_line,
        },
    )))
}

/// Loads the BTF that describes a program's functions; a refusal comes back with the kernel's log.
fn load_function_btf(blob: &[u8], probe_name: &str) -> Result<OwnedFd, RuntimeError> {
    match sys::bpf_btf_load(blob, None) {
        Ok(fd) => Ok(fd),
        Err(error) => {
            let mut buffer = vec![0u8; 64 * 1024];
            let _ = sys::bpf_btf_load(blob, Some(&mut buffer));
            Err(RuntimeError::InvalidProgram(format!(
                "{probe_name}: the kernel refused the BTF describing the program's functions \
                 ({error}): {}",
                log_text(&buffer).trim()
            )))
        }
    }
}

fn log_text(buffer: &[u8]) -> String {
    let end = buffer
        .iter()
        .position(|byte| *byte == 0)
        .unwrap_or(buffer.len());
    String::from_utf8_lossy(buffer.get(..end).unwrap_or_default()).into_owned()
}

/// The index of the last instruction the verifier printed (`12: (85) call ...`), which is the
/// one it was examining when it gave up. Pure.
pub fn rejected_insn_index(log: &str) -> Option<usize> {
    log.lines().rev().find_map(|line| {
        let (number, rest) = line.split_once(": (")?;
        // Opcode in hex, e.g. `(85)`, so the line is an instruction and not a state line.
        let (opcode, _) = rest.split_once(')')?;
        if opcode.is_empty() || !opcode.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return None;
        }
        number.trim().parse().ok()
    })
}

/// Copies the instructions with every map relocation's `ld_imm64` pointing at the map's fd.
pub fn patch_map_relocations(
    insns: &[Insn],
    relocations: &[MapRelocation],
    maps: &[Map],
    probe_name: &str,
) -> Result<Vec<Insn>, RuntimeError> {
    let mut patched = insns.to_vec();
    for relocation in relocations {
        let map = maps.get(relocation.map_index).ok_or_else(|| {
            RuntimeError::InvalidProgram(format!(
                "{probe_name}: instruction {} refers to map {} but there are {} maps",
                relocation.insn_index,
                relocation.map_index,
                maps.len()
            ))
        })?;
        let insn = patched.get_mut(relocation.insn_index).ok_or_else(|| {
            RuntimeError::InvalidProgram(format!(
                "{probe_name}: map relocation at instruction {} beyond the program's {} instructions",
                relocation.insn_index,
                insns.len()
            ))
        })?;
        if insn.code != BPF_LD | BPF_DW | BPF_IMM {
            return Err(RuntimeError::InvalidProgram(format!(
                "{probe_name}: map relocation at instruction {} which is not ld_imm64",
                relocation.insn_index
            )));
        }
        *insn = Insn::new(
            insn.code,
            insn.dst(),
            BPF_PSEUDO_MAP_FD,
            insn.off,
            fd_number(map),
        );
    }
    Ok(patched)
}

fn fd_number(map: &Map) -> i32 {
    use std::os::fd::AsRawFd;
    map.fd().as_fd().as_raw_fd()
}

/// Runs a loaded raw-tracepoint-type program once with BPF_PROG_TEST_RUN (BEGIN/END). The
/// context is twelve zero u64 arguments, the most a raw tracepoint context may have.
pub fn run_once(program: &OwnedFd) -> io::Result<u32> {
    let context = [0u8; 8 * 12];
    sys::bpf_prog_test_run_with_context(program.as_fd(), &context)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejected_insn_is_the_last_instruction_line() {
        let log =
            "func#0 @0\n0: R1=ctx() R10=fp0\n0: (b7) r0 = 0                        ; R0_w=0\n\
                   1: (85) call bpf_get_current_pid_tgid#14\n2: (95) exit\nR0 !read_ok\n\
                   processed 3 insns (limit 1000000)\n";
        assert_eq!(rejected_insn_index(log), Some(2));
        assert_eq!(
            rejected_insn_index("no instructions here\n12: R1=ctx()\n"),
            None
        );
        assert_eq!(rejected_insn_index(""), None);
    }
}
