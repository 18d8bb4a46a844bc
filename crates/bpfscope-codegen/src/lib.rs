//! Typed program to BPF instructions: lowering, register allocation with spilling, stack layout.
//!
//! Entry point: [`compile`]. Records sent to user space start with a u64 action id indexing
//! `CompiledProgram::actions`; their fields sit at the offsets the actions give.

pub mod context;
pub mod ir;
pub mod lower;
pub mod maps;
pub mod regalloc;

use bpfscope_bpf::disasm::disassemble;
use bpfscope_bpf::{CompiledProgram, ProgramSpec};
use bpfscope_check::TypedProgram;
use bpfscope_syntax::Diagnostic;

/// Knobs of code generation.
#[derive(Clone, Debug)]
pub struct CodegenOptions {
    /// Size of the event ring buffer in bytes (a power of two, multiple of the page size).
    /// The kernel maps the whole buffer, twice, into the reader at once, so it counts fully
    /// towards resident memory: 4 MiB holds ~80,000 typical records, plenty for a reader that
    /// drains on every wake-up, at 8 MiB of RSS.
    pub ringbuf_bytes: u32,
    /// Flags passed to `bpf_ringbuf_submit` (0: the kernel decides when to wake the reader;
    /// `BPF_RB_NO_WAKEUP` = 1 leaves it to a polling reader).
    pub submit_flags: u32,
    /// How many elements `join()` used as a value reads.
    pub join_max_items: u32,
    /// CPUs the kernel may run on (`/sys/devices/system/cpu/possible`): reading an aggregation
    /// inside a probe merges this many per-CPU values (unrolled, at most 1024).
    pub possible_cpus: u32,
}

impl Default for CodegenOptions {
    fn default() -> CodegenOptions {
        CodegenOptions {
            ringbuf_bytes: 4 << 20,
            submit_flags: 0,
            join_max_items: 16,
            possible_cpus: 64,
        }
    }
}

/// Compiles every probe of a checked program into loadable BPF.
pub fn compile(
    program: &TypedProgram,
    options: &CodegenOptions,
) -> Result<CompiledProgram, Vec<Diagnostic>> {
    let mut diagnostics = Vec::new();
    let mut programs = Vec::new();
    let mut scratch_bytes = 0u32;
    let mut big_buffer_bytes = 0u32;
    for probe in &program.probes {
        let lowered = match lower::Lowering::lower(program, probe, options) {
            Ok(lowered) => lowered,
            Err(errors) => {
                for error in errors {
                    let diagnostic = Diagnostic::error(error.span, error.message);
                    if !diagnostics.contains(&diagnostic) {
                        diagnostics.push(diagnostic);
                    }
                }
                continue;
            }
        };
        scratch_bytes = scratch_bytes.max(lowered.scratch_bytes);
        big_buffer_bytes = big_buffer_bytes.max(lowered.big_buffer_bytes);
        match link_functions(&lowered) {
            Ok(linked) => programs.push(ProgramSpec {
                probe_name: probe.probe_name.clone(),
                attach: probe.attach.clone(),
                insns: linked.insns,
                map_relocations: linked.map_relocations,
                line_of_insn: linked.line_of_insn,
                function_starts: linked.function_starts,
            }),
            Err((span, error)) => diagnostics.push(Diagnostic::error(
                span.unwrap_or(probe.span),
                format!("{}: {error}", probe.probe_name),
            )),
        }
    }
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    // `.zero` initialises new aggregation values and clears big keys: as large as either.
    let zero_bytes = program
        .resources
        .maps
        .iter()
        .map(|map| {
            // `argv()` values are never initialised from `.zero` (their header says how much
            // is valid), and would not fit a per-CPU value.
            let argv_value = matches!(
                map.value,
                bpfscope_check::MapValueKind::Plain(bpfscope_check::Type::Argv { .. })
            );
            let value_size = if argv_value { 8 } else { map.value_size() };
            value_size.max(map.key_size())
        })
        .max()
        .unwrap_or(8);
    // The order is fixed: the internal maps at the indices `maps` names, then the script's
    // maps from `FIRST_SCRIPT_MAP_INDEX` in the checker's order.
    let mut maps = vec![
        maps::ringbuf_spec(options.ringbuf_bytes),
        maps::lost_counter_spec(),
        maps::scratch_spec(scratch_bytes),
        maps::zero_spec(zero_bytes),
        maps::globals_spec(),
        maps::dropped_updates_spec(
            (bpfscope_check::FIRST_SCRIPT_MAP_INDEX + program.resources.maps.len()) as u32,
        ),
        maps::big_buffer_spec(big_buffer_bytes, options.possible_cpus),
    ];
    debug_assert_eq!(maps.len(), bpfscope_check::FIRST_SCRIPT_MAP_INDEX);
    maps.extend(program.resources.maps.iter().map(maps::script_map_spec));
    Ok(CompiledProgram {
        programs,
        maps,
        actions: program.resources.actions.clone(),
        ringbuf_map: Some(maps::RINGBUF_MAP_INDEX),
        lost_counter_map: Some(maps::LOST_MAP_INDEX),
        globals_map: Some(maps::GLOBALS_MAP_INDEX),
        dropped_updates_map: Some(maps::DROPPED_UPDATES_MAP_INDEX),
    })
}

/// A probe's functions laid out one after another: the main one, then its callbacks.
struct LinkedProgram {
    insns: Vec<bpfscope_bpf::Insn>,
    map_relocations: Vec<bpfscope_bpf::MapRelocation>,
    line_of_insn: Vec<u32>,
    function_starts: Vec<usize>,
}

/// The kernel's stack limit for a whole chain of BPF function frames.
const COMBINED_STACK_LIMIT: u32 = 512;

/// The kernel counts each frame of a call chain rounded up to 32 bytes.
fn kernel_frame_size(stack_bytes: u32) -> u32 {
    stack_bytes.max(1).div_ceil(32) * 32
}

/// Allocates registers for every function of a probe, lays them out after the main one and
/// points each callback reference at its function. A failure names the loop it comes from.
fn link_functions(
    lowered: &lower::LoweredProbe,
) -> Result<LinkedProgram, (Option<bpfscope_syntax::Span>, regalloc::AllocationError)> {
    let main = regalloc::allocate_and_emit(&lowered.insns, lowered.frame_bytes)
        .map_err(|error| (None, error))?;
    let mut insns = main.insns;
    let mut map_relocations = main.map_relocations;
    let mut line_of_insn = main.line_of_insn;
    let mut references: Vec<(usize, u32)> = main.function_references;
    let mut function_starts = Vec::new();
    let mut chain_bytes: Vec<u32> = Vec::new();
    let main_frame = kernel_frame_size(main.stack_bytes);
    for function in &lowered.functions {
        let emitted = regalloc::allocate_and_emit(&function.insns, function.frame_bytes)
            .map_err(|error| (Some(function.span), error))?;
        let below = match function.caller {
            Some(caller) => chain_bytes
                .get(caller as usize)
                .copied()
                .unwrap_or(main_frame),
            None => main_frame,
        };
        let chain = below + kernel_frame_size(emitted.stack_bytes);
        if chain > COMBINED_STACK_LIMIT {
            return Err((
                Some(function.span),
                regalloc::AllocationError::StackTooLarge { needed: chain },
            ));
        }
        chain_bytes.push(chain);
        let start = insns.len();
        function_starts.push(start);
        map_relocations.extend(emitted.map_relocations.iter().map(|relocation| {
            bpfscope_bpf::MapRelocation {
                insn_index: relocation.insn_index + start,
                map_index: relocation.map_index,
            }
        }));
        references.extend(
            emitted
                .function_references
                .iter()
                .map(|(index, target)| (index + start, *target)),
        );
        insns.extend(emitted.insns);
        line_of_insn.extend(emitted.line_of_insn);
    }
    for (index, target) in references {
        let start = function_starts
            .get(target as usize)
            .copied()
            .ok_or_else(|| {
                (
                    None,
                    regalloc::AllocationError::Internal(format!("no function #{target}")),
                )
            })?;
        let offset = i32::try_from(start as i64 - index as i64 - 1)
            .map_err(|_| (None, regalloc::AllocationError::JumpTooFar))?;
        if let Some(insn) = insns.get_mut(index) {
            insn.imm = offset;
        }
    }
    Ok(LinkedProgram {
        insns,
        map_relocations,
        line_of_insn,
        function_starts,
    })
}

/// `-d bpf`: every program's disassembly, with the script line each run of instructions implements.
pub fn disassemble_program(compiled: &CompiledProgram, source: &str) -> String {
    let source_lines: Vec<&str> = source.lines().collect();
    let map_name = |index: i32| {
        compiled
            .maps
            .get(usize::try_from(index).ok()?)
            .map(|map| map.name.clone())
    };
    let mut out = String::new();
    for program in &compiled.programs {
        out.push_str(&format!("{}:\n", program.probe_name));
        let mut last_line = 0;
        for line in disassemble(&program.insns, &map_name) {
            let script_line = program.line_of_insn.get(line.index).copied().unwrap_or(0);
            if script_line != 0 && script_line != last_line {
                let text = source_lines
                    .get(script_line as usize - 1)
                    .map(|text| text.trim())
                    .unwrap_or("");
                out.push_str(&format!("; {script_line}: {text}\n"));
                last_line = script_line;
            }
            out.push_str(&format!("{:>5}: {}\n", line.index, line.text));
        }
        out.push('\n');
    }
    out
}
