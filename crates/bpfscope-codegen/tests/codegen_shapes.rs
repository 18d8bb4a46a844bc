//! Codegen without the kernel: disassembly shapes, spilling under register pressure, stack limits.

use bpfscope_check::{check, CheckOptions, FixtureProbeInfo};
use bpfscope_codegen::{compile, disassemble_program, CodegenOptions};

const GETPPID_FORMAT: &str = "name: sys_enter_getppid
ID: 200
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;

print fmt: \"\"
";

fn compile_text(source: &str) -> (bpfscope_bpf::CompiledProgram, String) {
    compile_with(source, &CheckOptions::default())
}

fn compile_with(source: &str, options: &CheckOptions) -> (bpfscope_bpf::CompiledProgram, String) {
    let (ast, diagnostics) = bpfscope_syntax::parse(source);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let info = FixtureProbeInfo::default().with_tracepoint(
        "syscalls",
        "sys_enter_getppid",
        GETPPID_FORMAT,
    );
    let checked = check(&ast, source, &info, options);
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    let compiled = compile(&checked.program, &CodegenOptions::default()).expect("compiles");
    let text = disassemble_program(&compiled, source);
    (compiled, text)
}

#[test]
fn printf_of_pid_and_comm_has_the_verifier_idioms() {
    let (compiled, text) =
        compile_text("tracepoint:syscalls:sys_enter_getppid { printf(\"%d %s\\n\", pid, comm); }");
    assert!(text.contains("call bpf_ringbuf_reserve#131"), "{text}");
    assert!(text.contains("r1 = map[.ringbuf] ll"), "{text}");
    // The reserve result is null-checked before use, and the lost counter is bumped atomically.
    assert!(
        text.contains("r7 != 0 goto") || text.contains("!= 0 goto"),
        "{text}"
    );
    assert!(text.contains("r1 = map[.lost] ll"), "{text}");
    assert!(text.contains("lock *(u64 *)"), "{text}");
    assert!(text.contains("call bpf_get_current_pid_tgid#14"), "{text}");
    assert!(text.contains(">>= 32"), "{text}");
    assert!(text.contains("call bpf_get_current_comm#16"), "{text}");
    assert!(text.contains("call bpf_ringbuf_submit#132"), "{text}");
    assert!(
        text.contains("; 1: tracepoint:syscalls:sys_enter_getppid"),
        "{text}"
    );
    let program = &compiled.programs[0];
    assert_eq!(program.insns.len(), program.line_of_insn.len());
    assert_eq!(program.map_relocations.len(), 2);
    assert_eq!(
        compiled.maps.len(),
        bpfscope_check::FIRST_SCRIPT_MAP_INDEX,
        "only the internal maps"
    );
}

#[test]
fn forty_distinct_builtins_in_one_expression_spill_and_compile() {
    let builtins = [
        "pid", "tid", "uid", "gid", "nsecs", "cpu", "rand", "curtask",
    ];
    let mut expression = String::new();
    for index in 0..40 {
        if index > 0 {
            expression.push_str(" + (");
        }
        expression.push_str(builtins[index % builtins.len()]);
        expression.push_str(&format!(" * {}", index + 1));
    }
    expression.push_str(&")".repeat(39));
    let source =
        format!("tracepoint:syscalls:sys_enter_getppid {{ printf(\"%d\\n\", {expression}); }}");
    let (compiled, text) = compile_text(&source);
    // Right-nested additions keep ~40 values live: the allocator must have spilled to the stack.
    assert!(text.contains("*(u64 *)(r10 - "), "{text}");
    assert!(compiled.programs[0].insns.len() > 200);
}

#[test]
fn long_strings_go_to_the_scratch_map() {
    let (compiled, text) = compile_with(
        "tracepoint:syscalls:sys_enter_getppid { $s = str(curtask); printf(\"%s\\n\", $s); }",
        &CheckOptions {
            max_strlen: 200,
            ..CheckOptions::default()
        },
    );
    assert!(
        compiled.maps.iter().any(|map| map.name == ".scratch"),
        "{:?}",
        compiled.maps
    );
    assert!(text.contains("map[.scratch]"), "{text}");
}

#[test]
fn map_loops_become_callbacks_with_function_info() {
    let (compiled, text) = compile_text(
        r#"BEGIN { @m[1] = 2; $total = 0; for ($kv : @m) { $total += $kv.1; if ($kv.0 > 5) { break; } }
  printf("%d %d\n", $total, len(@m)); }"#,
    );
    let program = &compiled.programs[0];
    // The loop body and the empty counting callback of len().
    assert_eq!(program.function_starts.len(), 2, "{text}");
    assert_eq!(program.insns.len(), program.line_of_insn.len());
    let for_each_calls = program
        .insns
        .iter()
        .filter(|insn| insn.code == 0x85 && insn.src() == 0 && insn.imm == 164)
        .count();
    assert_eq!(for_each_calls, 2, "{text}");
    // Every callback address points at the first instruction of a function.
    for (index, insn) in program.insns.iter().enumerate() {
        if insn.code == 0x18 && insn.src() == bpfscope_bpf::insn::BPF_PSEUDO_FUNC {
            let target = (index as i64 + 1 + i64::from(insn.imm)) as usize;
            assert!(program.function_starts.contains(&target), "{text}");
        }
    }
    assert!(text.contains("call bpf_for_each_map_elem#164"), "{text}");
    assert!(text.contains("= function <"), "{text}");
    // `break` is the callback returning 1.
    assert!(
        text.contains("r0 = 1\n") || text.contains("r0 = 1 "),
        "{text}"
    );
}

#[test]
fn strcontains_with_a_variable_needle_is_a_loop() {
    let (compiled, text) =
        compile_text(r#"BEGIN { $n = "lo"; printf("%d\n", strcontains("hello", $n)); }"#);
    let program = &compiled.programs[0];
    let backward_jumps = program
        .insns
        .iter()
        .filter(|insn| {
            insn.code & 0x07 == 0x05 && insn.code != 0x85 && insn.code != 0x95 && insn.off < 0
        })
        .count();
    assert!(backward_jumps >= 2, "{text}");
}
