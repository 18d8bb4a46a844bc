//! Kernel types from BTF through the binary: the readers' execsnoop with the parent's tgid (run
//! unchanged from its file), the `--include` one-liner, and the type features on real memory.
//!
//! The expected parent is known: the test process forks the traced child itself. Offsets and
//! sizes printed by the scripts are compared with `bpftool btf dump` where bpftool exists.

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

const SEED_ONELINER: &str = "tracepoint:syscalls:sys_enter_execve,tracepoint:syscalls:sys_enter_execveat { time(\"%H:%M:%S \");printf(\"%-6d %-6d %-8s \", pid,curtask->parent->pid, comm); join(args->argv)}";

fn script_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scripts")
        .join(name)
}

fn read_file(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut file) = std::fs::File::open(path) {
        let _ = file.read_to_string(&mut text);
    }
    text
}

/// A tracer started with `arguments`, its stdout and stderr in files, killed when dropped.
struct BackgroundTracer {
    child: Child,
    stdout_path: PathBuf,
    stderr_path: PathBuf,
}

impl BackgroundTracer {
    fn start(arguments: &[&str], directory: &Path) -> BackgroundTracer {
        let stdout_path = directory.join("tracer.out");
        let stderr_path = directory.join("tracer.err");
        let child = Command::new(bpfscope())
            .args(arguments)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout_path).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
            .spawn()
            .expect("bpfscope starts");
        let mut tracer = BackgroundTracer {
            child,
            stdout_path,
            stderr_path,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if read_file(&tracer.stderr_path).contains("Attaching") {
                std::thread::sleep(Duration::from_millis(300));
                return tracer;
            }
            if let Ok(Some(status)) = tracer.child.try_wait() {
                panic!(
                    "bpfscope exited ({status}) before attaching: {}",
                    read_file(&tracer.stderr_path)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "bpfscope did not attach: {}",
            read_file(&tracer.stderr_path)
        );
    }

    /// SIGINT, wait, then (success, stdout, stderr).
    fn stop(&mut self) -> (bool, String, String) {
        // SAFETY: kill(2) on our own child's pid has no memory effects.
        unsafe {
            libc_kill(self.child.id() as i32, 2);
        }
        let status = self.child.wait().expect("tracer exits");
        (
            status.success(),
            read_file(&self.stdout_path),
            read_file(&self.stderr_path),
        )
    }
}

impl Drop for BackgroundTracer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, signal: i32) -> i32;
    #[link_name = "gettid"]
    fn libc_gettid() -> i32;
}

/// Runs `/bin/echo MARKER` from this thread; returns the child's pid.
fn exec_marker(marker: &str) -> u32 {
    let mut child = Command::new("/bin/echo")
        .arg(marker)
        .stdout(Stdio::null())
        .spawn()
        .expect("echo runs");
    let pid = child.id();
    let _ = child.wait();
    pid
}

/// The whitespace-separated words of the one output line holding `marker`.
fn marker_words(output: &str, marker: &str) -> Vec<String> {
    let lines: Vec<&str> = output
        .lines()
        .filter(|line| line.contains(marker))
        .collect();
    assert_eq!(lines.len(), 1, "one line for {marker} in:\n{output}");
    lines[0].split_whitespace().map(str::to_string).collect()
}

fn is_clock_time(word: &str) -> bool {
    let parts: Vec<&str> = word.split(':').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|part| part.len() == 2 && part.bytes().all(|byte| byte.is_ascii_digit()))
}

#[test]
fn readers_execsnoop_script_prints_the_true_parent_tgid() {
    if skip_unless_root("readers_execsnoop_script_prints_the_true_parent_tgid") {
        return;
    }
    let script = script_path("execsnoop_ppid.bt");
    let text = read_file(&script);
    assert!(text.contains("#include <linux/sched.h>") && text.contains("$task->parent->tgid"));
    let directory = temp_dir("btf-execsnoop");
    let script_text = script.to_string_lossy().to_string();
    let mut tracer = BackgroundTracer::start(&[&script_text], &directory);
    let marker = format!("ppid-marker-{}", std::process::id());
    let child_pid = exec_marker(&marker);
    std::thread::sleep(Duration::from_millis(300));
    let (success, stdout, stderr) = tracer.stop();
    assert!(success, "bpfscope failed: {stderr}");
    assert!(
        stdout.starts_with("TIME      PID    PPID   COMM             ARGS\n"),
        "header: {stdout}"
    );
    assert_eq!(
        stderr
            .matches("#include <linux/sched.h> is not needed")
            .count(),
        1,
        "one note: {stderr}"
    );
    let words = marker_words(&stdout, &marker);
    // TIME PID PPID COMM ARGS...: the child execs /bin/echo, forked by this very process.
    assert!(is_clock_time(&words[0]), "time: {words:?}");
    assert_eq!(words[1], child_pid.to_string(), "{words:?}");
    assert_eq!(words[2], std::process::id().to_string(), "{words:?}");
    assert_eq!(words[3], own_comm(), "{words:?}");
    assert_eq!(&words[4..], ["/bin/echo", marker.as_str()], "{words:?}");
}

#[test]
fn include_oneliner_prints_the_parent_thread_pid() {
    if skip_unless_root("include_oneliner_prints_the_parent_thread_pid") {
        return;
    }
    let directory = temp_dir("btf-oneliner");
    let mut tracer = BackgroundTracer::start(
        &["--include", "linux/sched.h", "-e", SEED_ONELINER],
        &directory,
    );
    let marker = format!("oneliner-marker-{}", std::process::id());
    let child_pid = exec_marker(&marker);
    // SAFETY: gettid has no preconditions.
    let forking_thread = unsafe { libc_gettid() };
    std::thread::sleep(Duration::from_millis(300));
    let (success, stdout, stderr) = tracer.stop();
    assert!(success, "bpfscope failed: {stderr}");
    assert!(
        stderr.contains("#include <linux/sched.h> is not needed"),
        "{stderr}"
    );
    let words = marker_words(&stdout, &marker);
    assert!(is_clock_time(&words[0]), "time: {words:?}");
    assert_eq!(words[1], child_pid.to_string(), "{words:?}");
    // `parent` is the task that forked: this test's thread (its pid is the thread id).
    assert_eq!(words[2], forking_thread.to_string(), "{words:?}");
    assert_eq!(&words[4..], ["/bin/echo", marker.as_str()], "{words:?}");
}

/// `size=` of `STRUCT 'name'` and `bits_offset / 8` of its member `member`, per bpftool.
fn bpftool_struct_facts(name: &str, member: &str) -> Option<(u64, u64)> {
    let output = Command::new("bpftool")
        .args([
            "btf",
            "dump",
            "file",
            "/sys/kernel/btf/vmlinux",
            "format",
            "raw",
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let header = format!("STRUCT '{name}' size=");
    let mut lines = text.lines().skip_while(|line| !line.contains(&header));
    let size: u64 = lines
        .next()?
        .split("size=")
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let wanted = format!("'{member}' type_id=");
    let offset_line = lines
        .take_while(|line| line.starts_with('\t'))
        .find(|line| line.trim_start().starts_with(&wanted))?;
    let bits: u64 = offset_line
        .split("bits_offset=")
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some((size, bits / 8))
}

#[test]
fn casts_bitfields_arrays_enums_sizes_and_script_structs_on_real_memory() {
    if skip_unless_root("casts_bitfields_arrays_enums_sizes_and_script_structs_on_real_memory") {
        return;
    }
    let script = script_path("kernel_types_features.bt");
    let output = run(&[&script.to_string_lossy()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    // BEGIN runs in bpfscope itself: comm "bpfscope" = 62 70 66 73 63 6f 70 65.
    // low nibble of 'b' 2, high 6, next byte 'p' 112, 'o' low nibble 0xf as int:4 is -1.
    assert!(lines.contains(&"bits 2 6 112 -1"), "{stdout}");
    // ($two + 1)->a is comm[2] 'f'; $two[2].b is comm[5] 'o'; w[1] is "fs" little endian.
    assert!(lines.contains(&"arith 102 111 29542"), "{stdout}");
    assert!(lines.contains(&"enum 5 0 1"), "{stdout}");
    assert!(
        lines.contains(&"null 0"),
        "a read through NULL is 0:\n{stdout}"
    );
    let task_line = lines
        .iter()
        .find(|line| line.starts_with("task "))
        .expect("task line");
    let task: Vec<&str> = task_line.split_whitespace().collect();
    assert_eq!(task[1], "1", "curtask->pid == pid: {task_line}");
    assert_eq!(task[2], output_pid_hint(&task), "{task_line}");
    assert_eq!(task[3], "bpfscope", "{task_line}");
    assert_eq!(task[4], "112", "comm[1] is 'p': {task_line}");
    assert_eq!(
        task[5],
        std::process::id().to_string(),
        "bpfscope's parent is this test: {task_line}"
    );
    let size_line = lines
        .iter()
        .find(|line| line.starts_with("size "))
        .expect("size line");
    let sizes: Vec<&str> = size_line.split_whitespace().collect();
    assert_eq!(&sizes[3..], ["2", "8"], "script struct sizes: {size_line}");
    match bpftool_struct_facts("task_struct", "pid") {
        Some((size, pid_offset)) => {
            assert_eq!(sizes[1], size.to_string(), "sizeof(struct task_struct)");
            assert_eq!(
                sizes[2],
                pid_offset.to_string(),
                "offsetof(task_struct, pid)"
            );
        }
        None => eprintln!("bpftool not usable: sizes not compared"),
    }
}

/// The tgid printed must be a number (bpfscope's own pid, unknown to the test).
fn output_pid_hint<'a>(task: &[&'a str]) -> &'a str {
    let tgid = task.get(2).copied().unwrap_or("");
    assert!(tgid.parse::<u32>().is_ok(), "tgid {tgid:?}");
    tgid
}

#[test]
fn unknown_structs_and_members_are_located_with_suggestions() {
    let output = run(&[
        "--dry-run",
        "-e",
        "BEGIN { $t = (struct task_struct *)curtask; printf(\"%d\\n\", $t->tgdi); }",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("no member 'tgdi' in struct task_struct; did you mean 'tgid'?"),
        "{stderr}"
    );
    assert!(stderr.contains("stdin:1:"), "not located: {stderr}");
    let output = run(&[
        "--dry-run",
        "-e",
        "BEGIN { printf(\"%d\\n\", ((struct task_strut *)curtask)->pid); }",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("unknown type 'struct task_strut'"),
        "{stderr}"
    );
    assert!(
        stderr.contains("did you mean 'struct task_struct'"),
        "{stderr}"
    );
    assert!(stderr.contains("stdin:1:"), "not located: {stderr}");
}

#[test]
fn rawtracepoint_args_are_typed_from_btf() {
    if skip_unless_root("rawtracepoint_args_are_typed_from_btf") {
        return;
    }
    let directory = temp_dir("btf-rawtracepoint");
    let script = "rawtracepoint:sched_process_exec { printf(\"rtp %d %d %s %s\\n\", \
                  args.p->pid, args.old_pid, args.p->comm, str(args.bprm->filename)); }";
    let mut tracer = BackgroundTracer::start(&["-e", script], &directory);
    let marker = format!("rtp-marker-{}", std::process::id());
    let child_pid = exec_marker(&marker);
    std::thread::sleep(Duration::from_millis(300));
    let (success, stdout, stderr) = tracer.stop();
    assert!(success, "bpfscope failed: {stderr}");
    let expected = format!("rtp {child_pid} {child_pid} echo /bin/echo");
    assert!(
        stdout.lines().any(|line| line == expected),
        "no {expected:?} in:\n{stdout}"
    );
    // A misspelt argument names the real ones.
    let output = run(&[
        "-e",
        "rawtracepoint:sched_switch { printf(\"%d\\n\", args.prv->pid); }",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("rawtracepoint:sched_switch has no argument named 'prv'")
            && stderr.contains("Did you mean 'prev'?"),
        "{stderr}"
    );
}
