//! Ctrl-C / SIGTERM: the first signal asks the poll loop to stop, the second exits at once (130).

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};

static STOP_SIGNALS_RECEIVED: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_stop_signal(_signal: libc::c_int) {
    // Only async-signal-safe work here: an atomic increment and, the second time, _exit.
    if STOP_SIGNALS_RECEIVED.fetch_add(1, Ordering::SeqCst) >= 1 {
        // SAFETY: _exit is async-signal-safe; the kernel closes our fds and so detaches every probe.
        unsafe { libc::_exit(130) };
    }
}

/// Installs the SIGINT and SIGTERM handlers. Without SA_RESTART, so a blocking epoll_wait
/// returns EINTR and the poll loop sees the request at once.
pub fn install_stop_signal_handlers() -> io::Result<()> {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: sigaction is plain data; all-zero is a valid starting value (empty mask, no flags).
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_stop_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: `action` is initialised, the handler is async-signal-safe, old action not wanted.
        let result = unsafe {
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut())
        };
        if result < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Whether a stop signal arrived since the handlers were installed.
pub fn stop_requested() -> bool {
    STOP_SIGNALS_RECEIVED.load(Ordering::SeqCst) > 0
}

/// Treats the session as if a first stop signal had arrived (used by tests and `exit()`).
pub fn request_stop() {
    STOP_SIGNALS_RECEIVED.fetch_max(1, Ordering::SeqCst);
}
