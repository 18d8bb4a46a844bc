//! The lesson's refused line (`@execs[tid] = join(args->argv)`) and an execsnoop with return values, run for real.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::*;

const REFUSED_LINE: &str =
    "tracepoint:syscalls:sys_enter_execve,tracepoint:syscalls:sys_enter_execveat \
     {@execs[tid] = join(args->argv);}";

/// argv kept at enter, keyed by tid; printed with the return value at exit, then deleted.
const EXECSNOOP: &str = "
tracepoint:syscalls:sys_enter_execve,tracepoint:syscalls:sys_enter_execveat {
  @execs[tid] = join(args->argv);
}
tracepoint:syscalls:sys_exit_execve,tracepoint:syscalls:sys_exit_execveat /has_key(@execs, tid)/ {
  printf(\"%d %s %d %s\\n\", pid, comm, args->ret, @execs[tid]);
  delete(@execs, tid);
}";

/// Runs `/bin/echo marker more` and returns its pid.
fn exec_echo(marker: &str) -> u32 {
    let mut child = Command::new("/bin/echo")
        .args([marker, "more"])
        .stdout(Stdio::null())
        .spawn()
        .expect("echo runs");
    let pid = child.id();
    child.wait().expect("echo exits");
    pid
}

/// Tries to run a file that does not exist: execve fails with ENOENT (-2).
fn exec_missing(marker: &str) {
    let result = Command::new(format!("/nonexistent-bpfscope-{marker}"))
        .arg(marker)
        .stdout(Stdio::null())
        .spawn();
    assert!(result.is_err(), "a missing file cannot run");
}

#[test]
fn refused_line_keeps_joined_argv_in_a_map() {
    if skip_unless_root("refused_line_keeps_joined_argv_in_a_map") {
        return;
    }
    let directory = temp_dir("refused-line");
    let mut tracer = Tracer::start(bpfscope(), REFUSED_LINE, &directory, "bpfscope");
    let marker = format!("refused-{}", std::process::id());
    let pid = exec_echo(&marker);
    std::thread::sleep(Duration::from_millis(300));
    let (success, output, stderr) = tracer.stop();
    assert!(success, "bpfscope failed: {stderr}");
    let expected = format!("@execs[{pid}]: /bin/echo {marker} more");
    assert!(
        output.lines().any(|line| line == expected),
        "no line {expected:?} in:\n{output}"
    );
}

#[test]
fn execsnoop_prints_return_values_of_good_and_failing_execs() {
    if skip_unless_root("execsnoop_prints_return_values_of_good_and_failing_execs") {
        return;
    }
    let directory = temp_dir("execsnoop");
    let mut tracer = Tracer::start(bpfscope(), EXECSNOOP, &directory, "bpfscope");
    let marker = format!("snoop-{}", std::process::id());
    let pid = exec_echo(&marker);
    exec_missing(&marker);
    std::thread::sleep(Duration::from_millis(300));
    let (success, output, stderr) = tracer.stop();
    assert!(success, "bpfscope failed: {stderr}");
    let lines: Vec<&str> = output
        .lines()
        .filter(|line| line.contains(&marker))
        .collect();
    let good = format!("{pid} echo 0 /bin/echo {marker} more");
    assert!(lines.contains(&good.as_str()), "no {good:?} in:\n{output}");
    let failing: Vec<&&str> = lines
        .iter()
        .filter(|line| line.contains("/nonexistent-bpfscope-"))
        .collect();
    assert!(!failing.is_empty(), "no failing exec in:\n{output}");
    for line in failing {
        let fields: Vec<&str> = line.split(' ').collect();
        assert_eq!(fields.get(2), Some(&"-2"), "ret of a missing file: {line}");
        assert!(
            line.ends_with(&format!(" /nonexistent-bpfscope-{marker} {marker}")),
            "argv of the failing exec: {line}"
        );
    }
    // Every entry was deleted at exit: nothing of ours is left in the map.
    assert!(
        !output
            .lines()
            .any(|line| line.starts_with("@execs[") && line.contains(&marker)),
        "entries left in @execs:\n{output}"
    );
}
