//! The first SIGINT makes the poll loop return `StopReason::Signal` (own test binary: the flag is process-wide).

use bpfscope_bpf::CompiledProgram;
use bpfscope_runtime::{Control, Session, SessionOptions, StopReason};

#[test]
fn first_sigint_stops_polling() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipping first_sigint_stops_polling: needs root to use bpf()");
        return;
    }
    let options = SessionOptions {
        handle_stop_signals: true,
        ..SessionOptions::default()
    };
    let mut session =
        Session::load(&CompiledProgram::default(), options).expect("load empty program");
    assert!(!bpfscope_runtime::signals::stop_requested());
    // SAFETY: raising a signal whose handler the session just installed.
    assert_eq!(unsafe { libc::raise(libc::SIGINT) }, 0);
    let started = std::time::Instant::now();
    let reason = session.poll(&mut |_, _| Control::Continue).expect("poll");
    assert_eq!(reason, StopReason::Signal);
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    session
        .finish(&mut |_, _| Control::Continue)
        .expect("finish");
}

#[test]
fn second_stop_signal_exits_at_once_with_130() {
    // SAFETY: the child only calls async-signal-safe functions (sigaction, raise, _exit).
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: as above.
        unsafe {
            if bpfscope_runtime::signals::install_stop_signal_handlers().is_err() {
                libc::_exit(2);
            }
            libc::raise(libc::SIGTERM);
            libc::raise(libc::SIGINT);
            // Reaching this means the second signal did not exit.
            libc::_exit(0);
        }
    }
    let mut status = 0;
    // SAFETY: waits for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status));
    assert_eq!(libc::WEXITSTATUS(status), 130);
}
