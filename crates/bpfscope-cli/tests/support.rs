//! Shared helpers of the CLI's end-to-end tests: root checks, running tracers in the background.

#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn bpfscope() -> &'static str {
    env!("CARGO_BIN_EXE_bpfscope")
}

/// Whether the test runs as root; tests that load BPF print why they skip otherwise.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("Uid:"))
                .map(|line| line.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

pub fn skip_unless_root(test: &str) -> bool {
    if is_root() {
        return false;
    }
    eprintln!("skipping {test}: needs root to load BPF programs");
    true
}

pub fn bpftrace_available() -> bool {
    Command::new("bpftrace")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}

pub fn run(args: &[&str]) -> Output {
    Command::new(bpfscope())
        .args(args)
        .output()
        .expect("bpfscope runs")
}

/// A tracer running in the background with its output going to a file.
pub struct Tracer {
    child: Child,
    output_path: PathBuf,
    stderr_path: PathBuf,
}

impl Tracer {
    /// Starts `program -o FILE -e script` and waits until it says it attached (or `ready_text` shows up).
    pub fn start(program: &str, script: &str, directory: &Path, name: &str) -> Tracer {
        let output_path = directory.join(format!("{name}.out"));
        let stderr_path = directory.join(format!("{name}.err"));
        let child = Command::new(program)
            .arg("-o")
            .arg(&output_path)
            .arg("-e")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
            .spawn()
            .expect("tracer starts");
        let mut tracer = Tracer {
            child,
            output_path,
            stderr_path,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let (stdout, stderr) = tracer.contents();
            if stderr.contains("Attaching") || stdout.contains("Attaching") {
                // Attaching is announced just before the probes go live; give them a moment.
                std::thread::sleep(Duration::from_millis(300));
                return tracer;
            }
            if let Ok(Some(status)) = tracer.child.try_wait() {
                panic!("{program} exited ({status}) before attaching: {stderr}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "{program} did not attach within 60 s: {}",
            tracer.contents().1
        );
    }

    fn contents(&self) -> (String, String) {
        let read = |path: &Path| {
            let mut text = String::new();
            if let Ok(mut file) = std::fs::File::open(path) {
                let _ = file.read_to_string(&mut text);
            }
            text
        };
        (read(&self.output_path), read(&self.stderr_path))
    }

    /// Sends SIGINT, waits for the exit, returns (exit success, output file, stderr).
    pub fn stop(&mut self) -> (bool, String, String) {
        // SAFETY: kill(2) on our own child's pid has no memory effects.
        unsafe {
            libc_kill(self.child.id() as i32, 2);
        }
        let status = self.child.wait().expect("tracer exits");
        let (stdout, stderr) = self.contents();
        (status.success(), stdout, stderr)
    }
}

impl Drop for Tracer {
    /// A test that fails midway must not leave its tracer running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, signal: i32) -> i32;
}

/// The kernel's name for this process (what `comm` shows before an exec).
pub fn own_comm() -> String {
    std::fs::read_to_string("/proc/thread-self/comm")
        .expect("comm")
        .trim_end()
        .to_string()
}

pub fn temp_dir(name: &str) -> PathBuf {
    let directory =
        std::env::temp_dir().join(format!("bpfscope-test-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&directory).expect("temp dir");
    directory
}
