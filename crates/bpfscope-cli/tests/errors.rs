//! Every user mistake gets a located message and exit code 1, never a panic.

mod support;

use support::*;

/// Runs a one-liner that must fail; returns stderr.
fn failing(program: &str) -> String {
    let output = run(&["-e", program]);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        output.status.code(),
        Some(1),
        "exit code for {program:?}; stderr:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn syntax_error_is_located() {
    let stderr = failing("tracepoint:syscalls:sys_enter_execve { printf(\"%d\\n\", pid) ");
    assert!(
        stderr.starts_with("stdin:1:60-61: ERROR: syntax error, unexpected end of file"),
        "{stderr}"
    );
    assert!(
        stderr.contains("\n                                                           ~\n"),
        "{stderr}"
    );
}

#[test]
fn unknown_builtin_suggests_the_close_one() {
    if skip_unless_root("unknown_builtin_suggests_the_close_one") {
        return;
    }
    let stderr = failing("tracepoint:syscalls:sys_enter_execve { printf(\"%d\\n\", pdi); }");
    assert!(
        stderr.starts_with("stdin:1:55-58: ERROR: Unknown identifier: 'pdi'"),
        "{stderr}"
    );
    assert!(stderr.contains("Did you mean 'pid'?"), "{stderr}");
}

#[test]
fn wrong_argument_type_is_located() {
    if skip_unless_root("wrong_argument_type_is_located") {
        return;
    }
    let stderr = failing("tracepoint:syscalls:sys_enter_execve { printf(\"%d\\n\", comm); }");
    assert!(
        stderr.starts_with(
            "stdin:1:55-59: ERROR: printf: %d specifier expects a value of type integer"
        ),
        "{stderr}"
    );
}

#[test]
fn missing_tracepoint_names_it_and_how_to_list() {
    if skip_unless_root("missing_tracepoint_names_it_and_how_to_list") {
        return;
    }
    let stderr = failing("tracepoint:syscalls:sys_enter_nothere { printf(\"%d\\n\", pid); }");
    assert!(
        stderr.starts_with("stdin:1:1-38: ERROR: tracepoint not found: syscalls:sys_enter_nothere"),
        "{stderr}"
    );
    assert!(stderr.contains("bpfscope -l 'tracepoint:*'"), "{stderr}");
}

#[test]
fn missing_script_file_is_explained() {
    let output = run(&["/nonexistent/script.bt"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr)
        .contains("cannot read script file '/nonexistent/script.bt'"));
}

#[test]
fn garbage_programs_never_panic() {
    for program in [
        "",
        "{",
        "}",
        "BEGIN",
        "BEGIN {",
        "@",
        "$",
        "/",
        "BEGIN { @x[ = 1 }",
        "k:f { ((((( }",
        "\u{1}\u{7f}\u{1b}[2J",
    ] {
        let output = run(&["-e", program]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{program:?}: {stderr}");
        assert_ne!(output.status.code(), Some(101), "{program:?}");
    }
}

#[test]
fn full_map_is_reported_once_by_name() {
    if skip_unless_root("full_map_is_reported_once_by_name") {
        return;
    }
    let output = std::process::Command::new(bpfscope())
        .env("BPFSCOPE_MAP_KEYS_MAX", "5")
        .args([
            "-e",
            "BEGIN { $i = 0; while ($i < 20) { @m[$i] = $i; $i++; } exit(); }",
        ])
        .output()
        .expect("bpfscope runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("is full"))
        .collect();
    assert_eq!(
        warnings,
        ["bpfscope: warning: map @m is full (5 entries): 15 updates were dropped; raise the limit with BPFSCOPE_MAP_KEYS_MAX=N"],
        "{stderr}"
    );
    // The five entries that fit are all kept and printed.
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout
            .lines()
            .filter(|line| line.starts_with("@m["))
            .count(),
        5,
        "{stdout}"
    );
}

#[test]
fn config_blocks_apply_known_keys_and_refuse_unknown_ones() {
    let output = run(&["-e", "config = { nosuch = 1 } BEGIN { exit(); }"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("stdin:1:12-18: ERROR: unknown config key: nosuch"),
        "{stderr}"
    );
    let output = run(&[
        "-d",
        "types",
        "--dry-run",
        "-e",
        "config = { stack_mode = raw; max_map_keys = 7; log_size = 5 } BEGIN { @[kstack] = count(); exit(); }",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stderr.contains("WARNING: config key log_size has no effect"),
        "{stderr}"
    );
    if is_root() {
        assert!(output.status.success(), "{stderr}");
        assert!(stdout.contains("kstack(raw)"), "{stdout}");
    }
}

#[test]
fn argv_values_misused_are_located_errors() {
    let cases = [
        (
            "tracepoint:sched:sched_process_exec { $a = argv(); }",
            "stdin:1:44-50: ERROR: an argv() value (32776 bytes) is too big for a variable",
        ),
        (
            "tracepoint:sched:sched_process_exec { printf(\"%s %s\\n\", argv(), argv()); }",
            "ERROR: one record can hold only one argv() value",
        ),
        (
            "tracepoint:sched:sched_process_exec { print((argv(), 1)); }",
            "ERROR: an argv() value must be the last element of a tuple or record",
        ),
        (
            "tracepoint:sched:sched_process_exec { @ = argv(); }",
            "ERROR: argv() values can be stored only in maps with keys",
        ),
        (
            "BEGIN { print(argv(1, 8)); }",
            "ERROR: argv(): max_bytes must be an integer literal from 16 to 262144",
        ),
        (
            "BEGIN { if (regex_match(comm, \"a(\")) { exit(); } }",
            "ERROR: regex_match(): invalid regular expression",
        ),
    ];
    for (program, expected) in cases {
        let output = run(&["-e", program]);
        assert!(!output.status.success(), "{program} should fail");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{program}: {stderr}");
    }
}
