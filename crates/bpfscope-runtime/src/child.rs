//! `-c CMD`: a child process forked paused (its pid known before programs load), released after attaching.
//!
//! The child blocks reading a pipe before exec; writing one byte releases it, closing the pipe
//! without writing (parent gave up or died) makes it exit 127 without running the command.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::RuntimeError;
use crate::sys;

/// A forked child waiting for `release` before it execs the command.
#[derive(Debug)]
pub struct PausedChild {
    pid: i32,
    /// Write end of the release pipe; None once released.
    release_pipe: Option<OwnedFd>,
    /// Readable when the child exits (for the poll loop).
    pidfd: Option<OwnedFd>,
    /// The wait status once reaped.
    exit_status: Option<i32>,
}

/// Finds `program` like execvp does: as given if it has a `/`, else in each `$PATH` directory.
pub fn resolve_command(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(PathBuf::from(program));
    }
    let search_path =
        std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&search_path)
        .map(|directory| directory.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

impl PausedChild {
    /// Forks a child that will exec `argv` (argv[0] searched in PATH) once released.
    pub fn spawn(argv: &[String]) -> Result<PausedChild, RuntimeError> {
        let program = argv
            .first()
            .ok_or_else(|| RuntimeError::Unsupported("empty command".to_string()))?;
        let path = resolve_command(program)
            .ok_or_else(|| RuntimeError::Unsupported(format!("command not found: {program}")))?;
        let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|_| {
            RuntimeError::Unsupported(format!("invalid command path {}", path.display()))
        })?;
        let c_arguments: Vec<CString> = argv
            .iter()
            .map(|argument| CString::new(argument.as_bytes()))
            .collect::<Result<_, _>>()
            .map_err(|_| {
                RuntimeError::Unsupported("command argument contains a NUL byte".to_string())
            })?;
        let mut argument_pointers: Vec<*const libc::c_char> = c_arguments
            .iter()
            .map(|argument| argument.as_ptr())
            .collect();
        argument_pointers.push(std::ptr::null());

        let mut pipe_ends = [0 as libc::c_int; 2];
        // SAFETY: pipe2 writes two descriptors into the array we own.
        if unsafe { libc::pipe2(pipe_ends.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
            return Err(RuntimeError::syscall(
                "creating the -c release pipe",
                io::Error::last_os_error(),
            ));
        }
        // SAFETY: both descriptors were just created by pipe2 and are owned by nobody else.
        let (read_end, write_end) = unsafe {
            (
                OwnedFd::from_raw_fd(pipe_ends[0]),
                OwnedFd::from_raw_fd(pipe_ends[1]),
            )
        };

        // SAFETY: after fork the child only calls async-signal-safe functions (close, read, execv,
        // _exit) on data prepared before the fork, so forking a multi-threaded process is sound.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(RuntimeError::syscall(
                "forking the -c command",
                io::Error::last_os_error(),
            ));
        }
        if pid == 0 {
            // Child.
            // SAFETY: see above; nothing here allocates or takes locks.
            unsafe {
                libc::close(write_end.as_raw_fd());
                let mut byte = 0u8;
                let got = loop {
                    let result = libc::read(
                        read_end.as_raw_fd(),
                        &mut byte as *mut u8 as *mut libc::c_void,
                        1,
                    );
                    if result < 0 && *libc::__errno_location() == libc::EINTR {
                        continue;
                    }
                    break result;
                };
                if got == 1 {
                    libc::execv(c_path.as_ptr(), argument_pointers.as_ptr());
                }
                libc::_exit(127);
            }
        }
        drop(read_end);
        let pidfd = sys::pidfd_open(pid).ok();
        Ok(PausedChild {
            pid,
            release_pipe: Some(write_end),
            pidfd,
            exit_status: None,
        })
    }

    /// The child's pid (bpftrace's `cpid`), valid before it runs the command.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Lets the child exec the command.
    pub fn release(&mut self) -> Result<(), RuntimeError> {
        if let Some(pipe) = self.release_pipe.take() {
            let byte = [1u8];
            // SAFETY: writes one byte from our buffer to a pipe we own.
            let result =
                unsafe { libc::write(pipe.as_raw_fd(), byte.as_ptr() as *const libc::c_void, 1) };
            if result != 1 {
                return Err(RuntimeError::syscall(
                    "releasing the -c command",
                    io::Error::last_os_error(),
                ));
            }
        }
        Ok(())
    }

    /// A descriptor readable once the child exited, if pidfd_open is available.
    pub fn exit_notifier(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.pidfd.as_ref().map(|fd| fd.as_fd())
    }

    /// Reaps the child if it exited; returns its exit code (128+signal when killed).
    pub fn try_wait(&mut self) -> Result<Option<i32>, RuntimeError> {
        if let Some(status) = self.exit_status {
            return Ok(Some(exit_code_of(status)));
        }
        let mut status = 0;
        // SAFETY: waits for our own child, status written into a local.
        let result = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
        if result < 0 {
            return Err(RuntimeError::syscall(
                "waiting for the -c command",
                io::Error::last_os_error(),
            ));
        }
        if result == 0 {
            return Ok(None);
        }
        self.exit_status = Some(status);
        Ok(Some(exit_code_of(status)))
    }
}

fn exit_code_of(status: i32) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        status
    }
}

impl Drop for PausedChild {
    fn drop(&mut self) {
        // Never released: closing the pipe makes it exit 127 without running anything; reap it.
        if self.release_pipe.take().is_some() && self.exit_status.is_none() {
            let mut status = 0;
            // SAFETY: waits for our own child, which exits as soon as its read returns 0.
            unsafe { libc::waitpid(self.pid, &mut status, 0) };
        }
    }
}
