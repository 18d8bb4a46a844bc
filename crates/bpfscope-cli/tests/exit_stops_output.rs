//! After `exit()`, events already in flight are not printed (as bpftrace), but `END` still runs.

mod support;

use support::*;

#[test]
fn exit_prints_the_event_that_called_it_and_no_later_one() {
    if skip_unless_root("exit_prints_the_event_that_called_it_and_no_later_one") {
        return;
    }
    // The child calls getppid() 200 times in a burst: many events are in the ring buffer
    // before user space reads the first exit.
    let output = run(&[
        "-c",
        "/usr/bin/perl -e 'getppid() for 1..200'",
        "-e",
        "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { printf(\"hit\\n\"); exit(); } END { printf(\"end\\n\"); }",
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.matches("hit").count(), 1, "{stdout}");
    assert!(
        stdout.trim_end().ends_with("end"),
        "END still runs: {stdout}"
    );
}
