//! Every probe kind end to end: kprobes and fentry where the kernel has them (the 6.1/6.12 guests
//! of scripts/vmtest.sh) and their explanatory failure where it does not (the CI host), uprobes,
//! USDT, perf events, positional parameters and the `--unsafe` gate.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::{bpfscope, skip_unless_root};

/// Runs bpfscope with `args`, returning (exit code, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(bpfscope())
        .args(args)
        .output()
        .expect("bpfscope runs");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// Whether this kernel has kprobes: the kprobe PMU is how bpfscope attaches them.
fn kernel_has_kprobes() -> bool {
    Path::new("/sys/bus/event_source/devices/kprobe").exists()
}

/// Whether fentry/fexit must work here: inside the test guests (which run kernels that have
/// BPF trampolines); on other kernels the test accepts only the explanatory failure.
fn kernel_must_have_fentry() -> bool {
    std::env::var_os("BPFSCOPE_VM_SERIES").is_some()
}

/// The numbers after `label` on every line that starts with it.
fn numbers_after(stdout: &str, label: &str) -> Vec<i64> {
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix(label))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .collect()
}

/// `script` reads /etc/hostname's length through a kernel-function probe, or fails explaining
/// why where the probe type is missing.
fn kernel_function_probe(script: &str, provider: &str, available: bool, label: &str) {
    let (code, stdout, stderr) = run(&["-e", script, "-c", "cat /etc/hostname"]);
    if available {
        assert_eq!(code, 0, "{script}\nstdout: {stdout}\nstderr: {stderr}");
        let values = numbers_after(&stdout, label);
        assert!(
            values.iter().any(|value| *value > 0),
            "{script}: expected a positive '{label}' value\nstdout: {stdout}\nstderr: {stderr}"
        );
    } else {
        assert_eq!(code, 1, "{script}\nstdout: {stdout}\nstderr: {stderr}");
        assert!(
            stderr.contains(&format!(
                "{provider} probes are not available on this kernel"
            )),
            "{script}: expected the explanatory message, got: {stderr}"
        );
        assert!(
            stderr.contains("HINT:"),
            "{script}: expected a hint: {stderr}"
        );
    }
}

#[test]
fn kprobe_reads_register_arguments() {
    if skip_unless_root("kprobe_reads_register_arguments") {
        return;
    }
    kernel_function_probe(
        r#"kprobe:vfs_read { printf("count %d %s\n", arg2, func); exit(); }"#,
        "kprobe",
        kernel_has_kprobes(),
        "count ",
    );
}

#[test]
fn kretprobe_reads_the_return_value() {
    if skip_unless_root("kretprobe_reads_the_return_value") {
        return;
    }
    kernel_function_probe(
        r#"kretprobe:vfs_read /retval > 0/ { printf("returned %d\n", retval); exit(); }"#,
        "kretprobe",
        kernel_has_kprobes(),
        "returned ",
    );
}

#[test]
fn kprobe_on_a_syscall_suggests_its_tracepoint_where_kprobes_are_missing() {
    if skip_unless_root("kprobe_on_a_syscall_suggests_its_tracepoint") || kernel_has_kprobes() {
        // With kprobes the probe simply runs (covered by the tests above).
        return;
    }
    let (code, _, stderr) = run(&["-e", "kprobe:__x64_sys_execve { @ = count(); }"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("CONFIG_KPROBES"), "{stderr}");
    assert!(
        stderr.contains("use tracepoint:syscalls:sys_enter_execve instead"),
        "{stderr}"
    );
}

#[test]
fn fentry_reads_typed_arguments() {
    if skip_unless_root("fentry_reads_typed_arguments") {
        return;
    }
    let script =
        r#"fentry:vfs_read { printf("count %d pos %d\n", args.count, args.file->f_pos); exit(); }"#;
    let (code, stdout, stderr) = run(&["-e", script, "-c", "cat /etc/hostname"]);
    if code == 0 || kernel_must_have_fentry() {
        assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
        assert!(
            numbers_after(&stdout, "count ")
                .iter()
                .any(|count| *count > 0),
            "stdout: {stdout}\nstderr: {stderr}"
        );
    } else {
        assert_eq!(code, 1, "stdout: {stdout}\nstderr: {stderr}");
        assert!(
            stderr.contains("fentry probes are not available on this kernel"),
            "{stderr}"
        );
    }
}

#[test]
fn fexit_reads_arguments_and_the_return_value() {
    if skip_unless_root("fexit_reads_arguments_and_the_return_value") {
        return;
    }
    let script = r#"fexit:vfs_read /retval > 0/ { printf("returned %d of %d\n", retval, args.count); exit(); }"#;
    let (code, stdout, stderr) = run(&["-e", script, "-c", "cat /etc/hostname"]);
    if code == 0 || kernel_must_have_fentry() {
        assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
        assert!(
            numbers_after(&stdout, "returned ")
                .iter()
                .any(|count| *count > 0),
            "stdout: {stdout}\nstderr: {stderr}"
        );
    } else {
        assert_eq!(code, 1, "stdout: {stdout}\nstderr: {stderr}");
        assert!(
            stderr.contains("fexit probes are not available on this kernel"),
            "{stderr}"
        );
    }
}

#[test]
fn uprobe_and_uretprobe_on_a_libc_function() {
    if skip_unless_root("uprobe_and_uretprobe_on_a_libc_function") {
        return;
    }
    // ls asks for its locale variables with getenv, which returns NULL when they are unset.
    let script = r#"uprobe:libc:getenv { printf("name %s\n", str(arg0)); }
        uretprobe:libc:getenv { printf("back %s %d\n", func, retval == 0 ? 0 : 1); }"#;
    let (code, stdout, stderr) = run(&["-e", script, "-c", "/bin/ls /"]);
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stdout.lines().any(|line| line.starts_with("name L")),
        "expected getenv(\"L...\") calls: {stdout}"
    );
    assert!(stdout.contains("back getenv "), "{stdout}");
}

#[test]
fn uprobe_with_pid_fires_only_in_that_process() {
    if skip_unless_root("uprobe_with_pid_fires_only_in_that_process") {
        return;
    }
    // Pid 1 never calls getenv while the test runs: no event, where without -p the command's
    // calls would print.
    let script = r#"uprobe:libc:getenv { printf("seen\n"); }"#;
    let (code, stdout, stderr) = run(&["-p", "1", "-e", script, "-c", "/bin/ls /"]);
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(!stdout.contains("seen"), "{stdout}");
}

#[test]
fn usdt_arguments_and_semaphores() {
    if skip_unless_root("usdt_arguments_and_semaphores") {
        return;
    }
    let binary = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../bpfscope-probes/test_data/elf/usdt_sample"
    );
    // request__start only fires when its semaphore is set, which the kernel does while the
    // probe is attached; its second argument is a %rip-relative global.
    let script = format!(
        r#"usdt:{binary}:sample:add_entry {{ printf("add %d %d\n", arg0, arg1); }}
        usdt:{binary}:sample:helper {{ printf("helper %s %d %d\n", str(arg0), arg1, arg2); }}
        usdt:{binary}:other:tick {{ printf("tick %d\n", arg0); }}
        usdt:{binary}:sample:request__start {{ printf("start %d %d\n", arg0, arg1); }}"#
    );
    let command = format!("{binary} abcdef");
    let (code, stdout, stderr) = run(&["-e", &script, "-c", &command]);
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    for expected in ["start 2 40", "add 2 2", "tick 44", "helper abcdef 6 -5"] {
        assert!(
            stdout.lines().any(|line| line == expected),
            "missing '{expected}' in: {stdout}\nstderr: {stderr}"
        );
    }
}

#[test]
fn software_event_with_a_count() {
    if skip_unless_root("software_event_with_a_count") {
        return;
    }
    let script = r#"software:page-faults:1 { @faults = count(); }"#;
    let (code, stdout, stderr) = run(&["-e", script, "-c", "/bin/ls /"]);
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    let faults = numbers_after(&stdout, "@faults: ");
    assert!(
        faults.first().is_some_and(|count| *count > 0),
        "stdout: {stdout}"
    );
}

#[test]
fn profile_and_interval_units() {
    if skip_unless_root("profile_and_interval_units") {
        return;
    }
    let script = r#"profile:hz:997 { @samples = count(); } profile:us:2000 { @us = count(); }
        interval:ms:300 { exit(); }"#;
    let (code, stdout, stderr) = run(&["-e", script]);
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("@samples: "), "{stdout}");
    let (code, _, stderr) = run(&["-e", "profile:parsecs:3 { }"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("profile:hz:N"), "{stderr}");
}

#[test]
fn positional_parameters() {
    if skip_unless_root("positional_parameters") {
        return;
    }
    let script = r#"BEGIN { printf("%d %s %d %d\n", $1 + 1, $2, $#, $3); exit(); }"#;
    let (code, stdout, stderr) = run(&["-e", script, "41", "hello"]);
    assert_eq!(code, 0, "stderr: {stderr}");
    assert_eq!(stdout.trim_end(), "42 hello 2 0");
}

#[test]
fn unsafe_functions_need_the_unsafe_flag() {
    for script in [
        r#"BEGIN { signal("KILL"); }"#,
        r#"BEGIN { system("ls"); }"#,
        r#"kprobe:vfs_read { override(-1); }"#,
    ] {
        let (code, _, stderr) = run(&["--dry-run", "-e", script]);
        assert_eq!(code, 1, "{script}: {stderr}");
        assert!(
            stderr.contains("unsafe function") || stderr.contains("not available"),
            "{script}: {stderr}"
        );
    }
    if skip_unless_root("unsafe_functions_need_the_unsafe_flag (signal delivery)") {
        return;
    }
    // With --unsafe, signal() reaches the traced process: sh dies of SIGUSR1 in getenv.
    let (code, _, stderr) = run(&[
        "--unsafe",
        "-e",
        r#"uprobe:libc:getenv { signal("SIGUSR1"); }"#,
        "-c",
        "/bin/ls /",
    ]);
    assert_eq!(code, 0, "{stderr}");
}
