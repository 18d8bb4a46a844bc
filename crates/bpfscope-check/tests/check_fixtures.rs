//! Checker tests on fixture tracepoint formats: types, located errors, did-you-mean, printf checks. No root needed.

use bpfscope_check::{
    check, CheckOptions, CheckOutput, FixtureProbeInfo, Type, TypedExprKind, TypedStatementKind,
};

const EXECVE_FORMAT: &str = "name: sys_enter_execve
ID: 862
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;
\tfield:const char * filename;\toffset:16;\tsize:8;\tsigned:0;
\tfield:const char *const * argv;\toffset:24;\tsize:8;\tsigned:0;
\tfield:const char *const * envp;\toffset:32;\tsize:8;\tsigned:0;

print fmt: \"filename: 0x%08lx\", ((unsigned long)(REC->filename))
";

const EXECVEAT_FORMAT: &str = "name: sys_enter_execveat
ID: 860
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;
\tfield:int fd;\toffset:16;\tsize:8;\tsigned:0;
\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;
\tfield:const char *const * argv;\toffset:32;\tsize:8;\tsigned:0;
\tfield:const char *const * envp;\toffset:40;\tsize:8;\tsigned:0;
\tfield:int flags;\toffset:48;\tsize:8;\tsigned:0;

print fmt: \"fd: 0x%08lx\", ((unsigned long)(REC->fd))
";

const SWITCH_FORMAT: &str = "name: sched_switch
ID: 300
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;
\tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;

print fmt: \"prev_comm=%s\", REC->prev_comm
";

fn fixtures() -> FixtureProbeInfo {
    FixtureProbeInfo::default()
        .with_tracepoint("syscalls", "sys_enter_execve", EXECVE_FORMAT)
        .with_tracepoint("syscalls", "sys_enter_execveat", EXECVEAT_FORMAT)
        .with_tracepoint("sched", "sched_switch", SWITCH_FORMAT)
}

fn run(source: &str) -> CheckOutput {
    let (ast, parse_diagnostics) = bpfscope_syntax::parse(source);
    assert!(
        parse_diagnostics.is_empty(),
        "parse errors: {parse_diagnostics:?}"
    );
    check(&ast, source, &fixtures(), &CheckOptions::default())
}

fn messages(output: &CheckOutput) -> Vec<String> {
    output
        .diagnostics
        .iter()
        .map(|diagnostic| diagnostic.message.clone())
        .collect()
}

#[test]
fn multi_probe_block_is_checked_per_layout() {
    let output = run("tracepoint:syscalls:sys_enter_execve,tracepoint:syscalls:sys_enter_execveat { printf(\"%-6d %-8s\", pid, comm); join(args->argv);}");
    assert!(!output.has_errors(), "{:?}", output.diagnostics);
    assert_eq!(output.program.probes.len(), 2);
    let argv_offsets: Vec<u32> = output
        .program
        .probes
        .iter()
        .filter_map(|probe| match &probe.body.get(1)?.kind {
            TypedStatementKind::EmitJoin { array, .. } => match &array.kind {
                TypedExprKind::ContextField { offset, .. } => Some(*offset),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(argv_offsets, vec![24, 32]);
    // The printf is shared: one Printf and one Join action.
    assert_eq!(output.program.resources.actions.len(), 2);
}

#[test]
fn wildcard_attach_points_expand() {
    let output = run("tracepoint:syscalls:sys_enter_exec* { printf(\"%s\\n\", comm); }");
    assert!(!output.has_errors(), "{:?}", output.diagnostics);
    let names: Vec<&str> = output
        .program
        .probes
        .iter()
        .map(|probe| probe.probe_name.as_str())
        .collect();
    assert_eq!(
        names,
        vec![
            "tracepoint:syscalls:sys_enter_execve",
            "tracepoint:syscalls:sys_enter_execveat"
        ]
    );
}

#[test]
fn unknown_builtin_is_located_with_a_suggestion() {
    let source = "BEGIN { printf(\"%d\\n\", pidd); }";
    let output = run(source);
    let diagnostic = output.diagnostics.first().expect("an error");
    assert_eq!(diagnostic.message, "Unknown identifier: 'pidd'");
    let span = diagnostic.span.expect("located");
    assert_eq!(&source[span.start..span.end], "pidd");
    assert!(
        diagnostic.notes.iter().any(|note| note.contains("'pid'")),
        "{:?}",
        diagnostic.notes
    );
}

#[test]
fn unknown_function_and_field_suggest_close_names() {
    let output = run("tracepoint:syscalls:sys_enter_execve { prinft(\"x\"); printf(\"%s\", str(args->filenam)); }");
    let all = messages(&output);
    assert!(
        all.contains(&"Unknown function: 'prinft'".to_string()),
        "{all:?}"
    );
    assert!(
        all.contains(&"Struct/union of type 'struct _tracepoint_syscalls_sys_enter_execve' does not contain a field named 'filenam'".to_string()),
        "{all:?}"
    );
    // Several errors from one run.
    assert!(output.diagnostics.len() >= 2);
    assert!(output.diagnostics.iter().any(|diagnostic| diagnostic
        .notes
        .iter()
        .any(|note| note.contains("'filename'"))));
}

#[test]
fn printf_argument_mismatches() {
    let source = "BEGIN { printf(\"%d %s\\n\", comm, 5); printf(\"%d %d\\n\", 1); }";
    let output = run(source);
    let all = messages(&output);
    assert!(
        all.contains(
            &"printf: %d specifier expects a value of type integer (string[16] supplied)"
                .to_string()
        ),
        "{all:?}"
    );
    assert!(
        all.contains(
            &"printf: Not enough arguments for format string (1 supplied, 2 expected)".to_string()
        ),
        "{all:?}"
    );
    let first = output
        .diagnostics
        .first()
        .and_then(|diagnostic| diagnostic.span)
        .expect("located");
    assert_eq!(&source[first.start..first.end], "comm");
}

#[test]
fn type_errors_are_located() {
    let source = "BEGIN { $x = 1; $x = comm; $y = comm + 1; }";
    let output = run(source);
    let all = messages(&output);
    assert!(
        all.iter()
            .any(|message| message.starts_with("Type mismatch for $x")),
        "{all:?}"
    );
    assert!(
        all.iter()
            .any(|message| message.contains("Type mismatch for '+'")),
        "{all:?}"
    );
}

#[test]
fn missing_tracepoint_is_an_error_at_the_attach_point() {
    let source = "tracepoint:syscalls:sys_enter_nonexistent { exit(); }";
    let output = run(source);
    let diagnostic = output.diagnostics.first().expect("an error");
    assert_eq!(
        diagnostic.message,
        "tracepoint not found: syscalls:sys_enter_nonexistent"
    );
    let span = diagnostic.span.expect("located");
    assert_eq!(
        &source[span.start..span.end],
        "tracepoint:syscalls:sys_enter_nonexistent"
    );
}

#[test]
fn field_types_follow_the_format() {
    let output = run("tracepoint:sched:sched_switch { $c = args.prev_comm; $p = args->prev_pid; }");
    assert!(!output.has_errors(), "{:?}", output.diagnostics);
    let variables = &output.program.probes[0].variables;
    // Stored strings hold at least max_strlen (64) bytes, like bpftrace's.
    assert_eq!(variables[0].ty, Type::Str { capacity: 64 });
    assert_eq!(
        variables[1].ty,
        Type::Int {
            bytes: 8,
            signed: true
        }
    );
}

#[test]
fn arg_builtins_only_where_the_probe_has_them() {
    let output = run("tracepoint:sched:sched_switch { printf(\"%d\", arg0); }");
    assert!(
        messages(&output)[0].contains("arg0 builtin can only be used"),
        "{:?}",
        output.diagnostics
    );
}

#[test]
fn new_builtins_and_functions_type_check() {
    let output = run(
        r#"BEGIN { $t = strftime("%H:%M:%S.%f", nsecs); printf("%s %d %d %s\n", $t, elapsed, cpid, probe);
  @m[1] = 2; @c = count(); if (has_key(@m, 1) && @c > 0 && strncmp("a", "b", 1) == 0 && strcontains("abc", "b")) { print(@m, 2, 10); } }"#,
    );
    assert!(!output.has_errors(), "{:?}", messages(&output));
    let print_map = output
        .program
        .resources
        .actions
        .iter()
        .find(|action| matches!(action, bpfscope_bpf::Action::PrintMap { .. }));
    assert!(matches!(
        print_map,
        Some(bpfscope_bpf::Action::PrintMap {
            top: 2,
            div: 10,
            ..
        })
    ));
    let timestamp = output
        .program
        .resources
        .actions
        .iter()
        .find_map(|action| match action {
            bpfscope_bpf::Action::Printf { args, .. } => args.first().cloned(),
            _ => None,
        });
    assert_eq!(
        timestamp.map(|field| field.ty),
        Some(bpfscope_bpf::ValueType::Timestamp {
            format: "%H:%M:%S.%f".to_string()
        })
    );
}

#[test]
fn loops_and_unsupported_forms_get_located_messages() {
    let too_long = run("BEGIN { for ($i : 0..5000) { printf(\"x\\n\"); } }");
    assert!(
        messages(&too_long)
            .iter()
            .any(|message| message.contains("5000 rounds")),
        "{:?}",
        messages(&too_long)
    );
    let over_hist = run("BEGIN { @m = hist(1); for ($kv : @m) { printf(\"x\\n\"); } }");
    assert!(messages(&over_hist)
        .iter()
        .any(|message| message.contains("for loop cannot walk a hist map")));
    let hist_read = run("BEGIN { @h = hist(1); if (@h > 1) { exit(); } }");
    assert!(messages(&hist_read)
        .iter()
        .any(|message| message.contains("cannot be read inside a probe")));
    let ok = run("BEGIN { for ($i : 0..10) { if ($i == 3) { break; } } }");
    assert!(!ok.has_errors(), "{:?}", messages(&ok));
}

#[test]
fn map_size_comes_from_the_options() {
    let (ast, _) = bpfscope_syntax::parse("BEGIN { @m[1] = 1; }");
    let options = CheckOptions {
        max_map_entries: 10,
        ..CheckOptions::default()
    };
    let output = check(&ast, "BEGIN { @m[1] = 1; }", &fixtures(), &options);
    assert_eq!(output.program.resources.maps[0].max_entries, 10);
}

#[test]
fn for_over_maps_gives_key_value_tuples_scoped_to_the_loop() {
    let output = run(r#"BEGIN { @a[1] = "x"; @b[2, "k"] = count(); $kv = 5;
  for ($kv : @a) { printf("%d %s\n", $kv.0, $kv.1); if ($kv.0 == 1) { break; } continue; }
  for ($kv : @b) { printf("%d %s %d\n", $kv.0.0, $kv.0.1, $kv.1); }
  $kv = 6; printf("%d %d\n", $kv, len(@a)); }"#);
    assert!(!output.has_errors(), "{:?}", messages(&output));
    let probe = &output.program.probes[0];
    let loops: Vec<(usize, usize)> = probe
        .body
        .iter()
        .filter_map(|statement| match &statement.kind {
            TypedStatementKind::ForMap { variable, map, .. } => Some((*variable, *map)),
            _ => None,
        })
        .collect();
    assert_eq!(loops.len(), 2);
    // Each loop has its own variable; the outer `$kv` (an integer) is untouched.
    assert_ne!(loops[0].0, loops[1].0);
    assert_eq!(
        probe.variables[loops[0].0].ty,
        Type::Tuple(vec![Type::INT64, Type::Str { capacity: 64 }])
    );
    assert_eq!(
        probe.variables[loops[1].0].ty,
        Type::Tuple(vec![
            Type::Tuple(vec![Type::INT64, Type::Str { capacity: 8 }]),
            Type::UINT64
        ])
    );
    assert!(probe.variables[0].ty.is_integer());
}

#[test]
fn len_and_strcontains_with_variables_type_check() {
    let output = run(
        r#"BEGIN { @m[1] = 1; $n = "b"; if (len(@m) > 0 && strcontains("abc", $n)) { exit(); } }"#,
    );
    assert!(!output.has_errors(), "{:?}", messages(&output));
    let bad =
        run(r#"BEGIN { @m[1] = 1; $x = len(@m[1]); $y = len(5); $z = strcontains("a", 1); }"#);
    let texts = messages(&bad);
    assert!(
        texts
            .iter()
            .any(|text| text.contains("len() counts a whole map")),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|text| text.contains("len() expects a map")),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|text| text.contains("strcontains() expects strings")),
        "{texts:?}"
    );
}

#[test]
fn for_over_a_map_with_key_and_value_variables() {
    let output = run(r#"BEGIN { @t[1, "x"] = "v"; $k = 7;
  for ($k, $v : @t) { printf("%d %s %s\n", $k.0, $k.1, $v); }
  $k = 8; }"#);
    assert!(!output.has_errors(), "{:?}", messages(&output));
    let probe = &output.program.probes[0];
    let loops: Vec<(usize, Option<usize>)> = probe
        .body
        .iter()
        .filter_map(|statement| match &statement.kind {
            TypedStatementKind::ForMap {
                variable,
                value_variable,
                ..
            } => Some((*variable, *value_variable)),
            _ => None,
        })
        .collect();
    assert_eq!(loops.len(), 1);
    let (key, value) = loops[0];
    let value = value.expect("the value has its own variable");
    assert_eq!(
        probe.variables[key].ty,
        Type::Tuple(vec![Type::INT64, Type::Str { capacity: 8 }])
    );
    assert_eq!(probe.variables[value].ty, Type::Str { capacity: 64 });
    // The loop's `$k` is not the outer integer `$k`.
    assert!(probe
        .variables
        .iter()
        .any(|variable| variable.ty == Type::INT64));
    let repeated = run(r#"BEGIN { @m[1] = 2; for ($k, $k : @m) { } }"#);
    assert!(
        messages(&repeated)
            .iter()
            .any(|text| text.contains("need two names")),
        "{:?}",
        messages(&repeated)
    );
}
