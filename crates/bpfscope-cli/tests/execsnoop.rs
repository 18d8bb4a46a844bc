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
    assert_eq!(fields.get(3).copied(), Some("root"), "USER: {}", good[0]);
    assert_eq!(fields.get(4).copied(), Some("echo"));
    assert_eq!(fields.get(5).copied(), Some("0"));
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
    assert_eq!(fields.get(5).copied(), Some("ENOENT"), "{}", failed[0]);
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
    // PID PPID UID USER COMM RET EXIT LIFE(ms) CPU(ms) ARGS
    let fields: Vec<&str> = burn_line.split_whitespace().collect();
    assert_eq!(fields.get(6).copied(), Some("3"), "{burn_line}");
    let traced_cpu_ms: f64 = fields
        .get(8)
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| panic!("no CPU(ms) in {burn_line}"));
    let rusage_cpu_ms = rusage_cpu_us as f64 / 1000.0;
    assert!(
        (traced_cpu_ms - rusage_cpu_ms).abs() <= rusage_cpu_ms * 0.10,
        "CPU {traced_cpu_ms} ms traced vs {rusage_cpu_ms} ms from wait4: {burn_line}"
    );
    let lifetime_ms: f64 = fields
        .get(7)
        .and_then(|text| text.parse().ok())
        .unwrap_or(0.0);
    assert!(lifetime_ms >= traced_cpu_ms * 0.9, "{burn_line}");
    let killed_line = lines
        .iter()
        .find(|line| line.contains("kill -9"))
        .unwrap_or_else(|| panic!("no sh line in:\n{output}"));
    assert_eq!(
        killed_line.split_whitespace().nth(6),
        Some("SIGKILL"),
        "{killed_line}"
    );
}

/// The argv of the hostile exec: a marker, an empty argument, a newline, an ESC sequence,
/// invalid UTF-8, a 10,000-byte argument and 1,000 short ones.
fn hostile_arguments(marker: &str) -> Vec<Vec<u8>> {
    let mut arguments: Vec<Vec<u8>> = vec![
        marker.as_bytes().to_vec(),
        Vec::new(),
        b"two\nlines".to_vec(),
        b"\x1b[2J".to_vec(),
        vec![b'b', 0xff, 0xfe, b'x'],
        vec![b'y'; 10_000],
    ];
    arguments.extend((0..1000).map(|index| format!("n{index}").into_bytes()));
    arguments
}

/// The text form bpfscope gives an argument: bare, or quoted with `\"`, `\\`, `\xNN`.
fn expected_argument_text(argument: &[u8]) -> String {
    let bare = !argument.is_empty()
        && std::str::from_utf8(argument).is_ok_and(|text| {
            text.chars().all(|character| {
                !character.is_whitespace()
                    && !character.is_control()
                    && !matches!(character, '"' | '\'' | '\\' | '[' | ']')
            })
        });
    if bare {
        return String::from_utf8_lossy(argument).into_owned();
    }
    let mut text = String::from("\"");
    for &byte in argument {
        match byte {
            b'"' => text.push_str("\\\""),
            b'\\' => text.push_str("\\\\"),
            0x20..=0x7e => text.push(byte as char),
            _ => text.push_str(&format!("\\x{byte:02x}")),
        }
    }
    text.push('"');
    text
}

/// Undoes the escapes of a JSON argv string: `\\` is a backslash, `\xNN` a raw byte.
fn unescape_json_argument(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'\\' && bytes.get(index + 1) == Some(&b'\\') {
            out.push(b'\\');
            index += 2;
        } else if bytes[index] == b'\\' && bytes.get(index + 1) == Some(&b'x') {
            let digits = std::str::from_utf8(&bytes[index + 2..index + 4]).expect("hex digits");
            out.push(u8::from_str_radix(digits, 16).expect("hex byte"));
            index += 4;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    out
}

/// Runs execsnoop with `options`, execs `program` with `arguments` once, and returns the
/// output lines that hold `marker`.
fn trace_one_exec(
    options: &[&str],
    program: &str,
    arguments: &[Vec<u8>],
    marker: &str,
    name: &str,
) -> (Vec<u8>, Vec<String>) {
    let directory = temp_dir("execsnoop-argv");
    let our_pid = std::process::id().to_string();
    let mut all_options = vec!["--ppid", our_pid.as_str()];
    all_options.extend_from_slice(options);
    let mut tracer = Execsnoop::start(&all_options, &directory, name);
    let _ = Command::new(program)
        .args(
            arguments
                .iter()
                .map(|argument| OsString::from_vec(argument.clone())),
        )
        .stdout(Stdio::null())
        .status();
    let output = tracer.stop();
    let text = String::from_utf8_lossy(&output).into_owned();
    let lines = lines_with(&text, marker)
        .into_iter()
        .map(str::to_string)
        .collect();
    (output, lines)
}

#[test]
fn hostile_argv_is_escaped_in_text_and_exact_in_json() {
    if skip_unless_root("hostile_argv_is_escaped_in_text_and_exact_in_json") {
        return;
    }
    let marker = format!("escape-{}", std::process::id());
    let arguments = hostile_arguments(&marker);
    let mut full_argv = vec![b"/bin/echo".to_vec()];
    full_argv.extend(arguments.iter().cloned());
    let expected_text: Vec<String> = full_argv
        .iter()
        .map(|argument| expected_argument_text(argument))
        .collect();

    // Text: one line, every byte visible but escaped, nothing marked as cut.
    let (output, lines) = trace_one_exec(&[], "/bin/echo", &arguments, &marker, "text");
    assert!(!output.contains(&0x1b), "raw ESC reached the output");
    assert_eq!(lines.len(), 1, "one line per exec, got {}", lines.len());
    let line = &lines[0];
    assert!(
        !line.bytes().any(|byte| byte < 0x20),
        "raw control byte in {line:?}"
    );
    assert!(
        line.ends_with(&format!(" {}", expected_text.join(" "))),
        "argv text differs: {}",
        &line[..line.len().min(300)]
    );
    assert!(!line.contains("[argv truncated"), "nothing was cut");

    // JSON: one record whose argv array gives back the exact bytes.
    let (output, lines) = trace_one_exec(&["-f", "json"], "/bin/echo", &arguments, &marker, "json");
    let text = String::from_utf8(output).expect("JSON output is UTF-8");
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|error| panic!("invalid JSON {line:?}: {error}"));
    }
    assert_eq!(lines.len(), 1, "one JSON record per exec");
    let record: serde_json::Value = serde_json::from_str(&lines[0]).expect("JSON");
    let data = &record["data"];
    assert_eq!(data["ret"], 0);
    assert_eq!(data["comm"], "echo");
    assert_eq!(data["argv_truncated"], false);
    let argv: Vec<Vec<u8>> = data["argv"]
        .as_array()
        .expect("argv is an array")
        .iter()
        .map(|argument| unescape_json_argument(argument.as_str().expect("a string")))
        .collect();
    assert_eq!(argv.len(), full_argv.len());
    assert!(
        argv == full_argv,
        "argv bytes differ after the JSON round trip"
    );

    // A failed exec: the arguments come from the caller's array, with the errno name.
    let missing = format!("/nonexistent-{marker}");
    let (_, lines) = trace_one_exec(&["-f", "json"], &missing, &arguments, &marker, "failed");
    assert_eq!(lines.len(), 1, "one record for the failed exec");
    let record: serde_json::Value = serde_json::from_str(&lines[0]).expect("JSON");
    assert_eq!(record["data"]["ret"], -2);
    assert_eq!(record["data"]["error"], "ENOENT");
    let argv: Vec<Vec<u8>> = record["data"]["argv"]
        .as_array()
        .expect("argv is an array")
        .iter()
        .map(|argument| unescape_json_argument(argument.as_str().expect("a string")))
        .collect();
    let mut failed_argv = vec![missing.clone().into_bytes()];
    failed_argv.extend(arguments.iter().cloned());
    assert!(argv == failed_argv, "failed exec's argv differs");
}

#[test]
fn argv_truncation_is_marked_exactly_when_it_happens() {
    if skip_unless_root("argv_truncation_is_marked_exactly_when_it_happens") {
        return;
    }
    let marker = format!("cut-{}", std::process::id());
    let arguments = hostile_arguments(&marker);
    // The kernel's copy: every argument with its NUL, argv[0] included.
    let total_bytes: usize = 10
        + arguments
            .iter()
            .map(|argument| argument.len() + 1)
            .sum::<usize>();
    let total_arguments = 1 + arguments.len();

    // Exactly at the byte limit: complete, so no mark.
    let exact = total_bytes.to_string();
    let (_, lines) = trace_one_exec(
        &["--max-arg-bytes", &exact],
        "/bin/echo",
        &arguments,
        &marker,
        "exact",
    );
    assert_eq!(lines.len(), 1);
    assert!(
        !lines[0].contains("[argv truncated"),
        "marked at exactly the limit"
    );
    assert!(lines[0].ends_with(" n999"), "the last argument is shown");

    // One byte fewer: the last argument's NUL is missing.
    let one_less = (total_bytes - 1).to_string();
    let (_, lines) = trace_one_exec(
        &["--max-arg-bytes", &one_less],
        "/bin/echo",
        &arguments,
        &marker,
        "one-less",
    );
    assert!(
        lines[0].ends_with(" n999 [argv truncated: 1 more byte]"),
        "{}",
        &lines[0][lines[0].len().saturating_sub(80)..]
    );

    // 4096 bytes: the rest is counted.
    let (_, lines) = trace_one_exec(
        &["--max-arg-bytes", "4096"],
        "/bin/echo",
        &arguments,
        &marker,
        "bytes",
    );
    let expected = format!("[argv truncated: {} more bytes]", total_bytes - 4096);
    assert!(
        lines[0].ends_with(&expected),
        "{} does not end with {expected}",
        &lines[0][lines[0].len().saturating_sub(80)..]
    );

    // A count limit: the first arguments, then how many were left out; exact at the limit.
    let (_, lines) = trace_one_exec(
        &["--max-args", "500"],
        "/bin/echo",
        &arguments,
        &marker,
        "count",
    );
    let expected = format!("[argv truncated: {} more arguments]", total_arguments - 500);
    assert!(
        lines[0].ends_with(&expected),
        "{}",
        &lines[0][lines[0].len().saturating_sub(80)..]
    );
    let all = total_arguments.to_string();
    let (_, lines) = trace_one_exec(
        &["--max-args", &all],
        "/bin/echo",
        &arguments,
        &marker,
        "count-exact",
    );
    assert!(!lines[0].contains("[argv truncated"));

    // JSON says the same.
    let (_, lines) = trace_one_exec(
        &["-f", "json", "--max-arg-bytes", "4096"],
        "/bin/echo",
        &arguments,
        &marker,
        "json-cut",
    );
    let record: serde_json::Value = serde_json::from_str(&lines[0]).expect("JSON");
    assert_eq!(
        record["data"]["argv_truncated"]["missing_bytes"],
        (total_bytes - 4096) as u64
    );
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
    // PID PPID UID USER COMM RET EXIT LIFE(ms) CPU(ms) ANCESTORS ARGS
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fields.get(1).copied(), Some(our_pid.as_str()), "{line}");
    assert_eq!(fields.get(6).copied(), Some("4"), "{line}");
    // The first ancestor is the parent: the forking thread of this test, named after the test.
    let own_comm = std::fs::read_to_string("/proc/thread-self/comm").expect("comm");
    let ancestors = fields.get(9).copied().unwrap_or("");
    assert!(
        ancestors.starts_with(own_comm.trim_end()),
        "ancestors {ancestors:?} should start with {own_comm:?}: {line}"
    );
}

/// A tiny static i386 program that calls the 32-bit `execve` (int 0x80) of
/// `/bin/true MARKER`, then exits 1 if that failed.
fn compat_exec_program(marker: &str) -> Vec<u8> {
    const BASE: u32 = 0x0804_8000;
    const HEADERS: u32 = 52 + 32;
    let path = b"/bin/true\0";
    let mut marker_bytes = marker.as_bytes().to_vec();
    marker_bytes.push(0);
    // Code: 5 + 5 + 5 + 2 + 2 (execve) + 5 + 5 + 2 (exit 1) = 31 bytes.
    let code_length = 31u32;
    let path_address = BASE + HEADERS + code_length;
    let marker_address = path_address + path.len() as u32;
    let argv_address = (marker_address + marker_bytes.len() as u32).div_ceil(4) * 4;
    let mut code = Vec::new();
    code.extend([0xb8, 11, 0, 0, 0]); // mov eax, 11 (execve)
    code.push(0xbb); // mov ebx, path
    code.extend(path_address.to_le_bytes());
    code.push(0xb9); // mov ecx, argv
    code.extend(argv_address.to_le_bytes());
    code.extend([0x31, 0xd2]); // xor edx, edx
    code.extend([0xcd, 0x80]); // int 0x80
    code.extend([0xb8, 1, 0, 0, 0]); // mov eax, 1 (exit)
    code.extend([0xbb, 1, 0, 0, 0]); // mov ebx, 1
    code.extend([0xcd, 0x80]); // int 0x80
    assert_eq!(code.len() as u32, code_length);
    let mut body = code;
    body.extend_from_slice(path);
    body.extend_from_slice(&marker_bytes);
    while (BASE + HEADERS + body.len() as u32) < argv_address {
        body.push(0);
    }
    for pointer in [path_address, marker_address, 0] {
        body.extend(pointer.to_le_bytes());
    }
    let total = HEADERS + body.len() as u32;
    let mut elf = vec![0x7f, b'E', b'L', b'F', 1, 1, 1, 0];
    elf.resize(16, 0);
    elf.extend(2u16.to_le_bytes()); // ET_EXEC
    elf.extend(3u16.to_le_bytes()); // EM_386
    elf.extend(1u32.to_le_bytes());
    elf.extend((BASE + HEADERS).to_le_bytes()); // entry
    elf.extend(52u32.to_le_bytes()); // program headers
    elf.extend(0u32.to_le_bytes()); // no section headers
    elf.extend(0u32.to_le_bytes());
    elf.extend(52u16.to_le_bytes());
    elf.extend(32u16.to_le_bytes());
    elf.extend(1u16.to_le_bytes());
    elf.extend([0, 0, 0, 0, 0, 0]);
    elf.extend(1u32.to_le_bytes()); // PT_LOAD
    elf.extend(0u32.to_le_bytes());
    elf.extend(BASE.to_le_bytes());
    elf.extend(BASE.to_le_bytes());
    elf.extend(total.to_le_bytes());
    elf.extend(total.to_le_bytes());
    elf.extend(5u32.to_le_bytes()); // R+X
    elf.extend(0x1000u32.to_le_bytes());
    elf.extend(body);
    elf
}

#[test]
fn execs_by_32_bit_callers_are_seen() {
    if skip_unless_root("execs_by_32_bit_callers_are_seen") {
        return;
    }
    let directory = temp_dir("execsnoop-compat");
    let marker = format!("m32-{}", std::process::id());
    let program = directory.join("exec32");
    std::fs::write(&program, compat_exec_program(&marker)).expect("write the i386 program");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    // Without 32-bit support in this kernel the program cannot run at all: nothing to test.
    match Command::new(&program).status() {
        Ok(status) if status.success() => {}
        other => {
            eprintln!("skipping execs_by_32_bit_callers_are_seen: the i386 program does not run here ({other:?})");
            return;
        }
    }
    let our_pid = std::process::id().to_string();
    let mut tracer = Execsnoop::start(&["--ppid", &our_pid], &directory, "compat");
    let status = Command::new(&program).status().expect("exec32 runs");
    assert!(status.success(), "/bin/true ran from the 32-bit exec");
    let output = String::from_utf8_lossy(&tracer.stop()).into_owned();
    let lines = lines_with(&output, &marker);
    // The syscall tracepoints never fire for 32-bit syscalls: this line comes from
    // sched_process_exec alone.
    assert_eq!(
        lines.len(),
        1,
        "one line for the 32-bit caller's exec in:\n{output}"
    );
    assert!(
        lines[0].ends_with(&format!("/bin/true {marker}")),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].split_whitespace().any(|field| field == "true"),
        "{}",
        lines[0]
    );
}

/// Restores `/proc/sys/kernel/core_pattern` however the test ends.
struct CorePatternGuard(String);

impl Drop for CorePatternGuard {
    fn drop(&mut self) {
        let _ = std::fs::write("/proc/sys/kernel/core_pattern", &self.0);
    }
}

#[test]
fn programs_the_kernel_starts_are_seen() {
    if skip_unless_root("programs_the_kernel_starts_are_seen") {
        return;
    }
    let directory = temp_dir("execsnoop-kernel");
    let marker = format!("kexec-{}", std::process::id());
    let Ok(old_pattern) = std::fs::read_to_string("/proc/sys/kernel/core_pattern") else {
        eprintln!("skipping programs_the_kernel_starts_are_seen: no core_pattern");
        return;
    };
    let _guard = CorePatternGuard(old_pattern.trim_end().to_string());
    // A crash with a piped core pattern makes the kernel start the pipe's program itself
    // (call_usermodehelper): no exec syscall is involved.
    let helper = directory.join("core-helper");
    std::fs::write(&helper, "#!/bin/sh\ncat >/dev/null\n").expect("write helper");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    if std::fs::write(
        "/proc/sys/kernel/core_pattern",
        format!("|{} {marker}", helper.display()),
    )
    .is_err()
    {
        eprintln!("skipping programs_the_kernel_starts_are_seen: core_pattern is read-only");
        return;
    }
    let mut tracer = Execsnoop::start(&["-n", "core-helper"], &directory, "kernel");
    let _ = Command::new("/bin/sh")
        .args(["-c", "ulimit -c unlimited; kill -SEGV $$"])
        .status();
    std::thread::sleep(Duration::from_millis(500));
    let output = String::from_utf8_lossy(&tracer.stop()).into_owned();
    let lines = lines_with(&output, &marker);
    assert_eq!(lines.len(), 1, "one line for the core helper in:\n{output}");
    assert!(
        lines[0].contains(&format!("{} {marker}", helper.display())),
        "{}",
        lines[0]
    );
}

#[test]
fn name_filter_is_a_regular_expression() {
    if skip_unless_root("name_filter_is_a_regular_expression") {
        return;
    }
    let directory = temp_dir("execsnoop-regex");
    let marker = format!("re-{}", std::process::id());
    let our_pid = std::process::id().to_string();
    let mut tracer = Execsnoop::start(
        &["--ppid", &our_pid, "-n", "^(ech.|printf)$"],
        &directory,
        "regex",
    );
    for program in ["/bin/echo", "/bin/true", "/usr/bin/printf"] {
        let _ = Command::new(program)
            .arg(&marker)
            .stdout(Stdio::null())
            .status();
    }
    let output = String::from_utf8_lossy(&tracer.stop()).into_owned();
    let commands: Vec<&str> = lines_with(&output, &marker)
        .iter()
        .filter_map(|line| line.split_whitespace().nth(4))
        .collect();
    assert_eq!(commands, ["echo", "printf"], "in:\n{output}");
    // A pattern that does not compile is refused before anything is loaded.
    let refused = run(&["execsnoop", "-n", "a("]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("unclosed group"));
}

/// Python that execs from a second thread (after a failed try from the same thread), then,
/// in the new program, nothing; the process id stays the leader's.
const THREAD_EXEC_PROGRAM: &str = r#"
import os, sys, threading
marker = sys.argv[1]
def run():
    try:
        os.execv("/nonexistent-" + marker, ["/nonexistent-" + marker, marker])
    except OSError:
        pass
    os.execv("/bin/echo", ["/bin/echo", "thread", marker])
threading.Thread(target=run).start()
threading.Event().wait(5)
"#;

#[test]
fn execs_from_threads_and_by_file_descriptor_are_reported_once() {
    if skip_unless_root("execs_from_threads_and_by_file_descriptor_are_reported_once")
        || skip_without_python("execs_from_threads_and_by_file_descriptor_are_reported_once")
    {
        return;
    }
    let directory = temp_dir("execsnoop-threads");
    let marker = format!("thr-{}", std::process::id());
    let our_pid = std::process::id().to_string();
    let mut tracer = Execsnoop::start(&["--ppid", &our_pid], &directory, "threads");
    let mut threaded = Command::new("/usr/bin/python3")
        .args(["-c", THREAD_EXEC_PROGRAM, &marker])
        .stdout(Stdio::null())
        .spawn()
        .expect("python runs");
    let threaded_pid = threaded.id().to_string();
    threaded.wait().expect("python ends");
    // fexecve: execveat(fd, "", ..., AT_EMPTY_PATH) of an opened /bin/echo.
    let mut by_descriptor = Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import os, sys; fd = os.open('/bin/echo', os.O_RDONLY); os.execve(fd, ['echo', 'fd', sys.argv[1]], {})",
            &marker,
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("python runs");
    let by_descriptor_pid = by_descriptor.id().to_string();
    by_descriptor.wait().expect("fexecve ends");
    let output = String::from_utf8_lossy(&tracer.stop()).into_owned();
    let lines = lines_with(&output, &marker);
    let pid_of = |needle: &str| -> Vec<String> {
        lines
            .iter()
            .filter(|line| line.contains(needle))
            .filter_map(|line| line.split_whitespace().next().map(str::to_string))
            .collect()
    };
    // The thread's exec runs on under the process id, once; its failed try first, once.
    assert_eq!(
        pid_of(&format!("thread {marker}")),
        std::slice::from_ref(&threaded_pid),
        "{output}"
    );
    let failed: Vec<&&str> = lines
        .iter()
        .filter(|line| line.contains(&format!("ENOENT  /nonexistent-{marker} {marker}")))
        .collect();
    assert_eq!(failed.len(), 1, "{output}");
    assert!(failed[0].starts_with(&threaded_pid), "{}", failed[0]);
    assert_eq!(
        pid_of(&format!("fd {marker}")),
        [by_descriptor_pid],
        "{output}"
    );
}
