//! The lesson's one-liners, run for real: their output for real execs, and equality with bpftrace's.

mod support;

use std::process::Command;

use support::*;

const EXEC_ONELINER: &str =
    "tracepoint:syscalls:sys_enter_execve,tracepoint:syscalls:sys_enter_execveat \
     { printf(\"%-6d %-8s\", pid, comm); join(args->argv);}";
const NSECS_ONELINER: &str =
    "tracepoint:syscalls:sys_enter_execve { printf(\"%ld %s  \", nsecs, comm); join(args->argv);}";

/// Runs `/bin/echo` with a marker argument; returns the pid that called execve.
fn exec_marker(marker: &str) -> u32 {
    let mut child = Command::new("/bin/echo")
        .args([marker, "second arg", ""])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

fn marker_lines<'a>(output: &'a str, marker: &str) -> Vec<&'a str> {
    output
        .lines()
        .filter(|line| line.contains(marker))
        .collect()
}

#[test]
fn exec_oneliner_prints_pid_comm_and_argv() {
    if skip_unless_root("exec_oneliner_prints_pid_comm_and_argv") {
        return;
    }
    let directory = temp_dir("exec-oneliner");
    let mut tracer = Tracer::start(bpfscope(), EXEC_ONELINER, &directory, "bpfscope");
    let marker = format!("marker-{}", std::process::id());
    let pid = exec_marker(&marker);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (success, output, stderr) = tracer.stop();
    assert!(success, "bpfscope failed: {stderr}");
    assert!(stderr.contains("Attaching 2 probes..."), "stderr: {stderr}");
    let lines = marker_lines(&output, &marker);
    // The forked child calls execve before it becomes echo, so comm is still ours.
    let expected = format!("{:<6} {:<8}/bin/echo {marker} second arg ", pid, own_comm());
    assert_eq!(lines, vec![expected.as_str()], "whole output:\n{output}");
}

#[test]
fn exec_oneliners_print_what_bpftrace_prints() {
    if skip_unless_root("exec_oneliners_print_what_bpftrace_prints") {
        return;
    }
    if !bpftrace_available() {
        eprintln!("skipping exec_oneliners_print_what_bpftrace_prints: bpftrace is not installed");
        return;
    }
    for (index, script) in [EXEC_ONELINER, NSECS_ONELINER].iter().enumerate() {
        let directory = temp_dir(&format!("compare-{index}"));
        let mut ours = Tracer::start(bpfscope(), script, &directory, "bpfscope");
        let mut theirs = Tracer::start("bpftrace", script, &directory, "bpftrace");
        let marker = format!("cmp{index}-{}", std::process::id());
        // bpftrace 0.17 stops join() at the first empty argument, so compare without one.
        let mut child = Command::new("/bin/echo")
            .args([marker.as_str(), "x y"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        child.wait().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(500));
        let (ours_ok, ours_output, ours_stderr) = ours.stop();
        let (_, theirs_output, _) = theirs.stop();
        assert!(ours_ok, "bpfscope failed: {ours_stderr}");
        let ours_lines = marker_lines(&ours_output, &marker);
        let theirs_lines = marker_lines(&theirs_output, &marker);
        assert_eq!(ours_lines.len(), 1, "bpfscope output:\n{ours_output}");
        if index == 0 {
            assert_eq!(
                ours_lines, theirs_lines,
                "bpftrace output:\n{theirs_output}"
            );
        } else {
            // nsecs differs between two tracers; everything after it must be equal.
            let strip = |line: &str| line.split_once(' ').map(|(_, rest)| rest.to_string());
            assert_eq!(
                ours_lines.iter().map(|l| strip(l)).collect::<Vec<_>>(),
                theirs_lines.iter().map(|l| strip(l)).collect::<Vec<_>>()
            );
            let ours_nsecs: u64 = ours_lines[0]
                .split(' ')
                .next()
                .unwrap()
                .parse()
                .expect("nsecs is a number");
            let theirs_nsecs: u64 = theirs_lines[0].split(' ').next().unwrap().parse().unwrap();
            assert!(
                ours_nsecs.abs_diff(theirs_nsecs) < 1_000_000,
                "both saw the same exec at about the same time"
            );
        }
    }
}

#[test]
fn begin_exit_prints_and_exits_zero() {
    if skip_unless_root("begin_exit_prints_and_exits_zero") {
        return;
    }
    let output = run(&["-e", "BEGIN { printf(\"ready\\n\"); exit(); }"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), "ready\n\n\n");
}
