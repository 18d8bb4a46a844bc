//! `bpfscope execsnoop` end to end: exec lines, errno names, lifetime/CPU/exit status, escaping, summary.

mod support;

use std::ffi::OsString;
use std::io::Read;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

/// `bpfscope execsnoop OPTIONS -o FILE` running in the background.
struct Execsnoop {
    child: Child,
    output_path: PathBuf,
    stderr_path: PathBuf,
}

fn read_lossy(path: &Path) -> String {
    let mut bytes = Vec::new();
    if let Ok(mut file) = std::fs::File::open(path) {
        let _ = file.read_to_end(&mut bytes);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

impl Execsnoop {
    fn start(options: &[&str], directory: &Path, name: &str) -> Execsnoop {
        let output_path = directory.join(format!("{name}.out"));
        let stderr_path = directory.join(format!("{name}.err"));
        // In JSON mode the `attached_probes` record goes to stdout, not to the -o file.
        let stdout_path = directory.join(format!("{name}.stdout"));
        let child = Command::new(bpfscope())
            .arg("execsnoop")
            .args(options)
            .arg("-o")
            .arg(&output_path)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout_path).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
            .spawn()
            .expect("bpfscope execsnoop starts");
        let mut tracer = Execsnoop {
            child,
            output_path,
            stderr_path,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if read_lossy(&tracer.stderr_path).contains("Attaching")
                || read_lossy(&stdout_path).contains("attached_probes")
            {
                std::thread::sleep(Duration::from_millis(300));
                return tracer;
            }
            if let Ok(Some(status)) = tracer.child.try_wait() {
                panic!(
                    "execsnoop exited ({status}) before attaching: {}",
                    read_lossy(&tracer.stderr_path)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "execsnoop did not attach: {}",
            read_lossy(&tracer.stderr_path)
        );
    }

    /// SIGINT, wait, and return the output file's raw bytes.
    fn stop(&mut self) -> Vec<u8> {
        std::thread::sleep(Duration::from_millis(300));
        // SAFETY: kill(2) on our own child's pid has no memory effects.
        unsafe {
            kill(self.child.id() as i32, 2);
        }
        let status = self.child.wait().expect("execsnoop exits");
        assert!(
            status.success(),
            "execsnoop failed: {}",
            read_lossy(&self.stderr_path)
        );
        std::fs::read(&self.output_path).unwrap_or_default()
    }
}

impl Drop for Execsnoop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[repr(C)]
struct TimeValue {
    seconds: i64,
    microseconds: i64,
}

#[repr(C)]
struct ResourceUsage {
    user_time: TimeValue,
    system_time: TimeValue,
    rest: [i64; 14],
}

extern "C" {
    fn kill(pid: i32, signal: i32) -> i32;
    fn wait4(pid: i32, status: *mut i32, options: i32, usage: *mut ResourceUsage) -> i32;
}

/// Waits for `child` with wait4 and returns (raw wait status, user+system CPU in µs).
fn wait_with_rusage(child: &Child) -> (i32, i64) {
    let mut status = 0;
    let mut usage = ResourceUsage {
        user_time: TimeValue {
            seconds: 0,
            microseconds: 0,
        },
        system_time: TimeValue {
            seconds: 0,
            microseconds: 0,
        },
        rest: [0; 14],
    };
    // SAFETY: the pointers are to live locals of the right layout (x86_64 struct rusage).
    let reaped = unsafe { wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(reaped, child.id() as i32, "wait4 reaps the child");
    let micros = |time: &TimeValue| time.seconds * 1_000_000 + time.microseconds;
    (
        status,
        micros(&usage.user_time) + micros(&usage.system_time),
    )
}

fn lines_with<'a>(output: &'a str, marker: &str) -> Vec<&'a str> {
    output
        .lines()
        .filter(|line| line.contains(marker))
        .collect()
}

const BURN_PROGRAM: &str = "import sys, time\n\
start = time.process_time()\n\
while time.process_time() - start < float(sys.argv[1]): pass\n\
sys.exit(int(sys.argv[2]))";

fn skip_without_python(test: &str) -> bool {
    if Path::new("/usr/bin/python3").exists() {
        return false;
    }
    eprintln!("skipping {test}: needs /usr/bin/python3 to burn CPU");
    true
}

#[test]
fn exec_lines_show_pid_ppid_and_errno_names() {
    if skip_unless_root("exec_lines_show_pid_ppid_and_errno_names") {
        return;
    }
    let directory = temp_dir("execsnoop-lines");
    let marker = format!("lines-{}", std::process::id());
    let our_pid = std::process::id().to_string();
    let mut tracer = Execsnoop::start(&["--ppid", &our_pid], &directory, "lines");
    let mut child = Command::new("/bin/echo")
        .args([&marker, "second"])
        .stdout(Stdio::null())
        .spawn()
        .expect("echo runs");
    let child_pid = child.id();
    child.wait().expect("echo exits");
    let missing = Command::new(format!("/nonexistent-{marker}"))
        .arg(&marker)
        .spawn();
    assert!(missing.is_err());
    let output = String::from_utf8_lossy(&tracer.stop()).into_owned();
    let lines = lines_with(&output, &marker);
    let good: Vec<&&str> = lines
        .iter()
        .filter(|line| line.contains("/bin/echo"))
        .collect();
    assert_eq!(good.len(), 1, "one line for the echo exec in:\n{output}");
    let fields: Vec<&str> = good[0].split_whitespace().collect();
    assert_eq!(
        fields.first().copied(),
        Some(child_pid.to_string().as_str())
    );
    assert_eq!(
        fields.get(1).copied(),
        Some(our_pid.as_str()),
        "{}",
        good[0]
    );
    assert_eq!(fields.get(3).copied(), Some("echo"));
    assert_eq!(fields.get(4).copied(), Some("0"));
    assert!(good[0].ends_with(&format!("/bin/echo {marker} second")));
    let failed: Vec<&&str> = lines
        .iter()
        .filter(|line| line.contains("/nonexistent-"))
        .collect();
    assert_eq!(
        failed.len(),
        1,
        "one line for the failed exec in:\n{output}"
    );
    let fields: Vec<&str> = failed[0].split_whitespace().collect();
    assert_eq!(fields.get(1).copied(), Some(our_pid.as_str()));
    assert_eq!(fields.get(4).copied(), Some("ENOENT"), "{}", failed[0]);
}

#[test]
fn lifetime_shows_cpu_time_exit_code_and_signal() {
    if skip_unless_root("lifetime_shows_cpu_time_exit_code_and_signal")
        || skip_without_python("lifetime_shows_cpu_time_exit_code_and_signal")
    {
        return;
    }
    let directory = temp_dir("execsnoop-lifetime");
    let marker = format!("life-{}", std::process::id());
    let our_pid = std::process::id().to_string();
    let mut tracer = Execsnoop::start(&["--lifetime", "--ppid", &our_pid], &directory, "life");
    // Reaped by wait4 (for its rusage), not by Child::wait.
    #[allow(clippy::zombie_processes)]
    let burner = Command::new("/usr/bin/python3")
        .args(["-c", BURN_PROGRAM, "0.2", "3", &marker])
        .spawn()
        .expect("python runs");
    let (status, rusage_cpu_us) = wait_with_rusage(&burner);
    assert_eq!((status >> 8) & 0xff, 3, "the burner exits 3");
    let mut killed = Command::new("/bin/sh")
        .args(["-c", "kill -9 $$", &marker])
        .spawn()
        .expect("sh runs");
    killed.wait().expect("sh ends");
    let output = String::from_utf8_lossy(&tracer.stop()).into_owned();
    let lines = lines_with(&output, &marker);
    let burn_line = lines
        .iter()
        .find(|line| line.contains("python3"))
        .unwrap_or_else(|| panic!("no python line in:\n{output}"));
    // PID PPID UID COMM RET EXIT LIFE(ms) CPU(ms) ARGS
    let fields: Vec<&str> = burn_line.split_whitespace().collect();
    assert_eq!(fields.get(5).copied(), Some("3"), "{burn_line}");
    let traced_cpu_ms: f64 = fields
        .get(7)
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| panic!("no CPU(ms) in {burn_line}"));
    let rusage_cpu_ms = rusage_cpu_us as f64 / 1000.0;
    assert!(
        (traced_cpu_ms - rusage_cpu_ms).abs() <= rusage_cpu_ms * 0.10,
        "CPU {traced_cpu_ms} ms traced vs {rusage_cpu_ms} ms from wait4: {burn_line}"
    );
    let lifetime_ms: f64 = fields
        .get(6)
        .and_then(|text| text.parse().ok())
        .unwrap_or(0.0);
    assert!(lifetime_ms >= traced_cpu_ms * 0.9, "{burn_line}");
    let killed_line = lines
        .iter()
        .find(|line| line.contains("kill -9"))
        .unwrap_or_else(|| panic!("no sh line in:\n{output}"));
    assert_eq!(
        killed_line.split_whitespace().nth(5),
        Some("SIGKILL"),
        "{killed_line}"
    );
}

#[test]
fn hostile_argv_is_escaped_in_text_and_valid_in_json() {
    if skip_unless_root("hostile_argv_is_escaped_in_text_and_valid_in_json") {
        return;
    }
    let directory = temp_dir("execsnoop-escape");
    let marker = format!("escape-{}", std::process::id());
    let hostile: Vec<OsString> = vec![
        OsString::from(marker.clone()),
        OsString::from("two\nlines"),
        OsString::from("\u{1b}[2J"),
        OsString::from_vec(vec![b'b', 0xff, 0xfe, b'x']),
    ];
    for format in ["text", "json"] {
        let our_pid = std::process::id().to_string();
        let mut tracer = Execsnoop::start(&["-f", format, "--ppid", &our_pid], &directory, format);
        Command::new("/bin/echo")
            .args(&hostile)
            .stdout(Stdio::null())
            .status()
            .expect("echo runs");
        let output = tracer.stop();
        if format == "text" {
            assert!(!output.contains(&0x1b), "raw ESC reached the output");
            let text = String::from_utf8(output).expect("text output is UTF-8");
            let lines = lines_with(&text, &marker);
            assert_eq!(lines.len(), 1, "one line per exec in:\n{text}");
            assert!(
                lines[0].ends_with(&format!("{marker} two\\x0alines \\x1b[2J b\\xff\\xfex")),
                "{}",
                lines[0]
            );
        } else {
            let text = String::from_utf8(output).expect("JSON output is UTF-8");
            let mut found = 0;
            for line in text.lines().filter(|line| !line.trim().is_empty()) {
                let value: serde_json::Value = serde_json::from_str(line)
                    .unwrap_or_else(|error| panic!("invalid JSON {line:?}: {error}"));
                let data = value["data"].as_str().unwrap_or_default();
                if data.contains(&marker) {
                    found += 1;
                    assert!(data.contains("two\nlines"), "{data:?}");
                    assert!(data.contains("\u{1b}[2J"), "{data:?}");
                }
            }
            assert_eq!(found, 1, "one JSON record with the marker in:\n{text}");
        }
    }
}

#[test]
fn summary_ranks_commands_by_cpu_time() {
    if skip_unless_root("summary_ranks_commands_by_cpu_time")
        || skip_without_python("summary_ranks_commands_by_cpu_time")
    {
        return;
    }
    let directory = temp_dir("execsnoop-summary");
    // Three command names (comm comes from the file name exec'd), three CPU costs.
    let commands = [
        ("burn_light", 0.02),
        ("burn_medium", 0.06),
        ("burn_heavy", 0.12),
    ];
    for (name, _) in commands {
        let link = directory.join(name);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink("/usr/bin/python3.11", &link).expect("symlink");
    }
    let mut tracer = Execsnoop::start(&["--summary", "-n", "burn_"], &directory, "summary");
    for _ in 0..3 {
        for (name, seconds) in commands {
            Command::new(directory.join(name))
                .args(["-c", BURN_PROGRAM, &seconds.to_string(), "0"])
                .status()
                .expect("burner runs");
        }
    }
    let output = String::from_utf8_lossy(&tracer.stop()).into_owned();
    // `@cpu_total_us[burn_x]: N`, printed in ascending order of N.
    let ranking: Vec<(String, u64)> = output
        .lines()
        .filter_map(|line| line.strip_prefix("@cpu_total_us["))
        .filter_map(|rest| {
            let (name, value) = rest.split_once("]: ")?;
            Some((name.to_string(), value.trim().parse().ok()?))
        })
        .collect();
    let names: Vec<&str> = ranking.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        ["burn_light", "burn_medium", "burn_heavy"],
        "ranking in:\n{output}"
    );
    let executions: Vec<&str> = output
        .lines()
        .filter(|line| line.starts_with("@execs[burn_"))
        .collect();
    assert_eq!(executions.len(), 3, "{output}");
    assert!(
        executions.iter().all(|line| line.ends_with(": 3")),
        "{output}"
    );
}

#[test]
fn lifetime_and_ancestors_together() {
    if skip_unless_root("lifetime_and_ancestors_together") {
        return;
    }
    let directory = temp_dir("execsnoop-ancestors");
    let marker = format!("anc-{}", std::process::id());
    let our_pid = std::process::id().to_string();
    let mut tracer = Execsnoop::start(
        &["--lifetime", "--ancestors", "--ppid", &our_pid],
        &directory,
        "ancestors",
    );
    let mut child = Command::new("/bin/sh")
        .args(["-c", "exit 4", &marker])
        .spawn()
        .expect("sh runs");
    child.wait().expect("sh ends");
    let output = String::from_utf8_lossy(&tracer.stop()).into_owned();
    let lines = lines_with(&output, &marker);
    let line = lines
        .first()
        .unwrap_or_else(|| panic!("no line for {marker} in:\n{output}"));
    // PID PPID UID COMM RET EXIT LIFE(ms) CPU(ms) ANCESTORS ARGS
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fields.get(1).copied(), Some(our_pid.as_str()), "{line}");
    assert_eq!(fields.get(5).copied(), Some("4"), "{line}");
    // The first ancestor is the parent: the forking thread of this test, named after the test.
    let own_comm = std::fs::read_to_string("/proc/thread-self/comm").expect("comm");
    let ancestors = fields.get(8).copied().unwrap_or("");
    assert!(
        ancestors.starts_with(own_comm.trim_end()),
        "ancestors {ancestors:?} should start with {own_comm:?}: {line}"
    );
}
