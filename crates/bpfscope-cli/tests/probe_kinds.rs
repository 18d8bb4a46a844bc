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

/// perl's `syscall()` calls libc's `syscall(number, a1, ..., a7)`: eight integer arguments, of
/// which the last two are on the stack at the uprobe, and the kernel's `do_futex(uaddr, op, val,
/// timeout, uaddr2, val2, val3)` then gets `val3` (23130) as its seventh, stacked argument.
/// Op 138 is FUTEX_WAKE_BITSET | FUTEX_PRIVATE_FLAG: it wakes nobody and touches no memory.
const PERL_FUTEX_COMMAND: &str = "perl -e 'syscall(202, 4096, 138, 1, 0, 0, 23130, 119)'";

fn perl_available() -> bool {
    Command::new("perl")
        .args(["-e", "1"])
        .output()
        .is_ok_and(|output| output.status.success())
}

#[test]
fn uprobe_reads_stack_arguments() {
    if skip_unless_root("uprobe_reads_stack_arguments") {
        return;
    }
    if !perl_available() {
        eprintln!("skipping uprobe_reads_stack_arguments: perl is not installed");
        return;
    }
    let script = r#"uprobe:libc:syscall /comm == "perl" && arg0 == 202/ {
        printf("stacked %d %d registers %d %d\n", arg6, arg7, arg1, arg2); }"#;
    let (code, stdout, stderr) = run(&["-e", script, "-c", PERL_FUTEX_COMMAND]);
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stdout
            .lines()
            .any(|line| line == "stacked 23130 119 registers 4096 138"),
        "stdout: {stdout}\nstderr: {stderr}"
    );
}

#[test]
fn kprobe_reads_stack_arguments() {
    if skip_unless_root("kprobe_reads_stack_arguments") {
        return;
    }
    if !perl_available() {
        eprintln!("skipping kprobe_reads_stack_arguments: perl is not installed");
        return;
    }
    let script = r#"kprobe:do_futex /comm == "perl" && arg1 == 138/ {
        printf("val3 %d op %d\n", arg6, arg1); exit(); }"#;
    let (code, stdout, stderr) = run(&["-e", script, "-c", PERL_FUTEX_COMMAND]);
    if kernel_has_kprobes() {
        assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
        assert!(
            stdout.lines().any(|line| line == "val3 23130 op 138"),
            "stdout: {stdout}\nstderr: {stderr}"
        );
        // At the return the stacked arguments may be gone: refused with the reason.
        let (code, _, stderr) = run(&[
            "--dry-run",
            "-e",
            r#"kretprobe:do_futex { printf("%d\n", arg6); }"#,
        ]);
        assert_eq!(code, 1, "{stderr}");
        assert!(
            stderr.contains("return probes can read only arg0..arg5"),
            "{stderr}"
        );
    } else {
        assert_eq!(code, 1, "stdout: {stdout}\nstderr: {stderr}");
        assert!(
            stderr.contains("kprobe probes are not available on this kernel"),
            "{stderr}"
        );
    }
}

/// `(major, minor)` of the running kernel.
fn running_kernel_version() -> Option<(u32, u32)> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    let mut numbers = release
        .trim()
        .split(|character: char| !character.is_ascii_digit());
    Some((numbers.next()?.parse().ok()?, numbers.next()?.parse().ok()?))
}

/// A 7-argument function through fentry: since Linux 6.6 an x86 trampoline passes up to 12
/// arguments, so `do_futex` is listed (and wildcards reach it) and its 7th argument reads.
#[test]
fn fentry_reads_a_seventh_argument_on_kernels_that_pass_it() {
    if skip_unless_root("fentry_reads_a_seventh_argument_on_kernels_that_pass_it") {
        return;
    }
    let many_arguments = cfg!(target_arch = "x86_64")
        && running_kernel_version().is_some_and(|version| version >= (6, 6));
    let (_, listing, _) = run(&["-l", "fentry:do_fut*"]);
    assert_eq!(
        listing
            .lines()
            .any(|line| line == "fentry:vmlinux:do_futex"),
        many_arguments,
        "{listing}"
    );
    if !many_arguments || !kernel_must_have_fentry() || !perl_available() {
        eprintln!("skipping the fentry part: needs Linux 6.6+ on x86-64 with fentry, and perl");
        return;
    }
    let script = r#"fentry:do_fute* /comm == "perl" && args.uaddr == 4096/ {
        printf("val3 %d\n", args.val3); exit(); }"#;
    let (code, stdout, stderr) = run(&["-e", script, "-c", PERL_FUTEX_COMMAND]);
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stdout.lines().any(|line| line == "val3 23130"),
        "stdout: {stdout}\nstderr: {stderr}"
    );
}

/// Lines of `bpftool link show` (run as the `-c` command while the probes are attached) that
/// are kprobe_multi links; None without bpftool.
fn kprobe_multi_links_while(script: &str) -> Option<(usize, String, String)> {
    let bpftool_works = Command::new("bpftool")
        .arg("version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !bpftool_works {
        return None;
    }
    let (code, stdout, stderr) = run(&["-e", script, "-c", "bpftool link show"]);
    assert_eq!(code, 0, "{script}\nstdout: {stdout}\nstderr: {stderr}");
    let links = stdout
        .lines()
        .filter(|line| line.contains(": kprobe_multi"))
        .count();
    Some((links, stdout, stderr))
}

#[test]
fn wildcard_kprobes_name_the_function_that_fired() {
    if skip_unless_root("wildcard_kprobes_name_the_function_that_fired") {
        return;
    }
    // Identical programs (here `func` is read from the instruction pointer) share one
    // kprobe_multi link where the kernel has them (6.12), one kprobe each elsewhere (6.1).
    kernel_function_probe(
        r#"kprobe:vfs_rea* { @[func] = count(); }"#,
        "kprobe",
        kernel_has_kprobes(),
        "@[vfs_read]: ",
    );
    // Return probes compile each function's name in: one program per function, still named.
    kernel_function_probe(
        r#"kretprobe:vfs_rea* /retval > 0/ { @[func] = count(); }"#,
        "kretprobe",
        kernel_has_kprobes(),
        "@[vfs_read]: ",
    );
    if !kernel_has_kprobes() {
        return;
    }
    let Some((links, stdout, stderr)) =
        kprobe_multi_links_while(r#"kprobe:vfs_rea*, kretprobe:vfs_rea* { @ = count(); }"#)
    else {
        eprintln!("not counting kprobe_multi links: bpftool is not installed");
        return;
    };
    let expected = match std::env::var("BPFSCOPE_VM_SERIES").as_deref() {
        // 6.1 has no CONFIG_FPROBE: the per-function fallback.
        Ok("6.1") => 0,
        // One link for the entry probes, one for the return probes.
        Ok("6.12") => 2,
        _ => return,
    };
    assert_eq!(links, expected, "stdout: {stdout}\nstderr: {stderr}");
}

#[test]
fn usdt_wildcards_attach_every_matching_probe() {
    if skip_unless_root("usdt_wildcards_attach_every_matching_probe") {
        return;
    }
    let binary = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../bpfscope-probes/test_data/elf/usdt_sample"
    );
    let command = format!("{binary} abcdef");
    let fired = |pattern: &str| -> Vec<String> {
        let script = format!(r#"usdt:{binary}:{pattern} {{ @[probe] = count(); }}"#);
        let (code, stdout, stderr) = run(&["-e", &script, "-c", &command]);
        assert_eq!(code, 0, "{script}\nstdout: {stdout}\nstderr: {stderr}");
        // Keys are `usdt:PATH:PROVIDER:NAME`: keep `PROVIDER:NAME`.
        let mut names: Vec<String> = stdout
            .lines()
            .filter_map(|line| line.strip_prefix("@[usdt:")?.split_once("]: "))
            .filter_map(|(probe, _)| {
                let mut parts = probe.rsplitn(3, ':');
                let name = parts.next()?;
                let provider = parts.next()?;
                Some(format!("{provider}:{name}"))
            })
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        fired("sample:*"),
        ["sample:add_entry", "sample:helper", "sample:request__start"]
    );
    assert_eq!(
        fired("*"),
        [
            "other:tick",
            "sample:add_entry",
            "sample:helper",
            "sample:request__start"
        ]
    );
    assert_eq!(fired("*:t?ck"), ["other:tick"]);
    let (code, _, stderr) = run(&["--dry-run", "-e", &format!("usdt:{binary}:nope:* {{ }}")]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("no USDT probe 'nope:*'"), "{stderr}");
}

#[test]
fn fentry_and_fexit_on_a_module_function() {
    if skip_unless_root("fentry_and_fexit_on_a_module_function") {
        return;
    }
    // The guests' root file system is an overlay, so the overlay module is loaded there and
    // `cat` reads through its ovl_read_iter.
    if !Path::new("/sys/kernel/btf/overlay").exists() {
        assert!(
            !kernel_must_have_fentry(),
            "the test guest should have the overlay module loaded"
        );
        eprintln!(
            "skipping fentry_and_fexit_on_a_module_function: the overlay module is not loaded here"
        );
        return;
    }
    let entry = r#"fentry:overlay:ovl_read_iter /comm == "cat"/ {
        printf("count %d %s\n", args.iter->count, func); exit(); }"#;
    let exit = r#"fexit:overlay:ovl_read_iter /comm == "cat" && retval > 0/ {
        printf("returned %d\n", retval); exit(); }"#;
    for (script, label) in [(entry, "count "), (exit, "returned ")] {
        let (code, stdout, stderr) = run(&["-e", script, "-c", "cat /etc/hostname"]);
        if code == 0 || kernel_must_have_fentry() {
            assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
            assert!(
                numbers_after(&stdout, label).iter().any(|value| *value > 0),
                "{script}\nstdout: {stdout}\nstderr: {stderr}"
            );
        } else {
            assert_eq!(code, 1, "stdout: {stdout}\nstderr: {stderr}");
            assert!(
                stderr.contains("probes are not available on this kernel"),
                "{stderr}"
            );
        }
    }
    if kernel_must_have_fentry() {
        assert!(run(&["-e", entry, "-c", "cat /etc/hostname"])
            .1
            .contains(" ovl_read_iter"));
        let (code, _, stderr) = run(&["--dry-run", "-e", "fentry:overlay:no_such_function { }"]);
        assert_eq!(code, 1, "{stderr}");
        assert!(
            stderr.contains("module 'overlay' has no function 'no_such_function'"),
            "{stderr}"
        );
    }
}
