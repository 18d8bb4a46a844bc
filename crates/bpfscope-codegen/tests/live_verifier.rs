//! The lesson's one-liners compiled and loaded into the real kernel verifier, then run on real
//! tracepoints with the records decoded. Needs root and BPF; skips with a reason otherwise.

use bpfscope_bpf::{Action, CompiledProgram, ValueType};
use bpfscope_check::{check, CheckOptions, KernelProbeInfo};
use bpfscope_codegen::{compile, disassemble_program, CodegenOptions};
use bpfscope_probes::KernelFs;
use bpfscope_runtime::{Control, Session, SessionOptions};
use std::time::{Duration, Instant};

fn can_run_bpf() -> bool {
    let is_root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("Uid:"))
                .map(|line| line.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    if !is_root {
        eprintln!("skipping: needs root to load BPF programs");
        return false;
    }
    if !std::path::Path::new("/sys/kernel/tracing/events/syscalls").exists() {
        eprintln!(
            "skipping: tracefs with syscall tracepoints is not mounted at /sys/kernel/tracing"
        );
        return false;
    }
    true
}

fn compile_source(source: &str) -> CompiledProgram {
    let (ast, diagnostics) = bpfscope_syntax::parse(source);
    assert!(diagnostics.is_empty(), "parse: {diagnostics:?}");
    let info = KernelProbeInfo {
        fs: KernelFs::live(),
    };
    let checked = check(&ast, source, &info, &CheckOptions::default());
    assert!(!checked.has_errors(), "check: {:?}", checked.diagnostics);
    // A small ring buffer keeps many parallel test sessions cheap.
    let options = CodegenOptions {
        ringbuf_bytes: 1 << 20,
        ..CodegenOptions::default()
    };
    compile(&checked.program, &options).expect("compiles")
}

fn load(source: &str) -> Session {
    let compiled = compile_source(source);
    match Session::load(&compiled, SessionOptions::default()) {
        Ok(session) => session,
        Err(error) => {
            let log = match &error {
                bpfscope_runtime::RuntimeError::VerifierRejected(rejection) => {
                    rejection.log.clone()
                }
                _ => String::new(),
            };
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            panic!(
                "{error}\n{}\n--- program ---\n{}",
                tail.join("\n"),
                disassemble_program(&compiled, source)
            );
        }
    }
}

const EXECVE_BOTH: &str = r#"tracepoint:syscalls:sys_enter_execve,tracepoint:syscalls:sys_enter_execveat { printf("%-6d %-8s", pid, comm); join(args->argv);}"#;
const EXECVE_NSECS: &str =
    r#"tracepoint:syscalls:sys_enter_execve { printf("%ld %s  ", nsecs, comm); join(args->argv);}"#;
const BEGIN_EXIT: &str = r#"BEGIN { printf("ready\n"); exit(); }"#;
const GETPPID: &str = r#"tracepoint:syscalls:sys_enter_getppid { printf("%d %s\n", pid, comm); }"#;

#[test]
fn lesson_one_liners_pass_the_verifier() {
    if !can_run_bpf() {
        return;
    }
    for source in [EXECVE_BOTH, EXECVE_NSECS, BEGIN_EXIT, GETPPID] {
        let session = load(source);
        drop(session);
    }
}

/// A decoded ring-buffer record.
#[derive(Debug)]
enum Decoded {
    Printf {
        format: String,
        ints: Vec<u64>,
        strings: Vec<String>,
    },
    Join {
        items: Vec<String>,
        truncated: bool,
    },
    Exit,
    Other,
}

fn c_string(bytes: &[u8]) -> String {
    let end = bytes
        .iter()
        .position(|byte| *byte == 0)
        .unwrap_or(bytes.len());
    String::from_utf8_lossy(bytes.get(..end).unwrap_or_default()).into_owned()
}

fn decode(actions: &[Action], record: &[u8]) -> Decoded {
    let read_u64 = |offset: usize| {
        record
            .get(offset..offset + 8)
            .map(|bytes| u64::from_le_bytes(bytes.try_into().unwrap_or([0; 8])))
            .unwrap_or(0)
    };
    let id = read_u64(0) as usize;
    match actions.get(id) {
        Some(Action::Printf { format, args }) => {
            let mut ints = Vec::new();
            let mut strings = Vec::new();
            for field in args {
                let offset = field.offset as usize;
                match field.ty {
                    ValueType::Int { .. } => ints.push(read_u64(offset)),
                    ValueType::Str { capacity } => strings.push(c_string(
                        record
                            .get(offset..offset + capacity as usize)
                            .unwrap_or_default(),
                    )),
                    _ => {}
                }
            }
            Decoded::Printf {
                format: format.clone(),
                ints,
                strings,
            }
        }
        Some(Action::Join {
            count_offset,
            items_offset,
            item_capacity,
            truncated_offset,
            ..
        }) => {
            let count = record
                .get(*count_offset as usize..*count_offset as usize + 4)
                .map(|bytes| u32::from_le_bytes(bytes.try_into().unwrap_or([0; 4])))
                .unwrap_or(0);
            let items = (0..count)
                .map(|index| {
                    let start = (*items_offset + index * *item_capacity) as usize;
                    c_string(
                        record
                            .get(start..start + *item_capacity as usize)
                            .unwrap_or_default(),
                    )
                })
                .collect();
            let truncated = record.get(*truncated_offset as usize).copied().unwrap_or(0) != 0;
            Decoded::Join { items, truncated }
        }
        Some(Action::Exit) => Decoded::Exit,
        _ => Decoded::Other,
    }
}

fn collect_for(
    session: &mut Session,
    actions: &[Action],
    wait: Duration,
    done: &mut dyn FnMut(&[Decoded]) -> bool,
) -> Vec<Decoded> {
    let mut decoded = Vec::new();
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        session.poll_once(&mut |_, record| {
            decoded.push(decode(actions, record));
            Control::Continue
        });
        if done(&decoded) {
            break;
        }
    }
    decoded
}

#[test]
fn begin_prints_ready_and_exits() {
    if !can_run_bpf() {
        return;
    }
    let compiled = compile_source(BEGIN_EXIT);
    let mut session = load(BEGIN_EXIT);
    let mut records = Vec::new();
    session
        .run_begin(&mut |_, record| {
            records.push(decode(&compiled.actions, record));
            Control::Continue
        })
        .expect("BEGIN runs");
    assert!(
        matches!(records.first(), Some(Decoded::Printf { format, .. }) if format == "ready\n"),
        "{records:?}"
    );
    assert!(matches!(records.get(1), Some(Decoded::Exit)), "{records:?}");
}

#[test]
fn getppid_records_carry_our_pid_and_comm() {
    if !can_run_bpf() {
        return;
    }
    let compiled = compile_source(GETPPID);
    let mut session = load(GETPPID);
    session.attach_all().expect("attaches");
    let our_pid = std::process::id() as u64;
    for _ in 0..5 {
        // std's parent_id() is the getppid() system call.
        let _ = std::os::unix::process::parent_id();
    }
    let records = collect_for(
        &mut session,
        &compiled.actions,
        Duration::from_secs(3),
        &mut |records| {
            records.iter().filter(|record| matches!(record, Decoded::Printf { ints, .. } if ints.first() == Some(&our_pid))).count() >= 5
        },
    );
    let ours: Vec<&Decoded> = records
        .iter()
        .filter(|record| matches!(record, Decoded::Printf { ints, .. } if ints.first() == Some(&our_pid)))
        .collect();
    assert!(
        ours.len() >= 5,
        "expected 5 records of pid {our_pid}: {records:?}"
    );
    let thread_name = std::fs::read_to_string("/proc/thread-self/comm").unwrap_or_default();
    for record in ours {
        let Decoded::Printf { strings, .. } = record else {
            unreachable!()
        };
        assert_eq!(
            strings.first().map(String::as_str),
            Some(thread_name.trim_end()),
            "comm of {record:?}"
        );
    }
    assert_eq!(session.lost_events().unwrap_or(0), 0);
}

fn exec_records(source: &str) -> (u64, Vec<Decoded>) {
    let compiled = compile_source(source);
    let mut session = load(source);
    session.attach_all().expect("attaches");
    let child = std::process::Command::new("/bin/true")
        .args(["first-arg", "second arg", "x"])
        .spawn()
        .expect("spawns /bin/true");
    let child_pid = u64::from(child.id());
    let mut child = child;
    let _ = child.wait();
    let mut seen_printf = false;
    let records = collect_for(
        &mut session,
        &compiled.actions,
        Duration::from_secs(3),
        &mut |records| {
            seen_printf |= records.iter().any(|record| matches!(record, Decoded::Printf { ints, .. } if ints.first() == Some(&child_pid)));
            seen_printf && matches!(records.last(), Some(Decoded::Join { .. }))
        },
    );
    (child_pid, records)
}

/// The Join record right after the child's printf record (each probe emits printf then join).
fn join_after_printf<'a>(
    records: &'a [Decoded],
    matches_printf: &dyn Fn(&Decoded) -> bool,
) -> Option<&'a Decoded> {
    let position = records.iter().position(matches_printf)?;
    records
        .get(position + 1..)?
        .iter()
        .find(|record| matches!(record, Decoded::Join { .. }))
}

#[test]
fn execve_one_liner_prints_pid_comm_and_argv() {
    if !can_run_bpf() {
        return;
    }
    let (child_pid, records) = exec_records(EXECVE_BOTH);
    let is_child = |record: &Decoded| matches!(record, Decoded::Printf { ints, .. } if ints.first() == Some(&child_pid));
    let printf = records
        .iter()
        .find(|record| is_child(record))
        .unwrap_or_else(|| panic!("no record for pid {child_pid}: {records:?}"));
    let Decoded::Printf {
        format, strings, ..
    } = printf
    else {
        unreachable!()
    };
    assert_eq!(format, "%-6d %-8s");
    // comm is still the parent's (the test thread's) name at sys_enter_execve.
    assert!(!strings.first().map(String::is_empty).unwrap_or(true));
    let Some(Decoded::Join { items, truncated }) = join_after_printf(&records, &is_child) else {
        panic!("no join record: {records:?}");
    };
    assert_eq!(
        items,
        &vec![
            "/bin/true".to_string(),
            "first-arg".to_string(),
            "second arg".to_string(),
            "x".to_string()
        ]
    );
    assert!(!truncated);
}

#[test]
fn execve_nsecs_one_liner_prints_a_timestamp_and_argv() {
    if !can_run_bpf() {
        return;
    }
    let before = std::time::Instant::now();
    let (_, records) = exec_records(EXECVE_NSECS);
    let _ = before;
    let join = records.iter().find(|record| matches!(record, Decoded::Join { items, .. } if items.first().map(String::as_str) == Some("/bin/true") && items.len() == 4));
    assert!(join.is_some(), "{records:?}");
    let nsecs: Vec<u64> = records
        .iter()
        .filter_map(|record| match record {
            Decoded::Printf { ints, .. } => ints.first().copied(),
            _ => None,
        })
        .collect();
    assert!(nsecs.iter().all(|value| *value > 0), "{nsecs:?}");
}

fn forty_builtins_expression() -> String {
    let builtins = [
        "pid", "tid", "uid", "gid", "nsecs", "cpu", "rand", "curtask",
    ];
    let mut expression = String::new();
    for index in 0..40 {
        if index > 0 {
            expression.push_str(" + (");
        }
        expression.push_str(builtins[index % builtins.len()]);
        expression.push_str(&format!(" * {}", index + 1));
    }
    expression.push_str(&")".repeat(39));
    expression
}

#[test]
fn language_breadth_passes_the_verifier() {
    if !can_run_bpf() {
        return;
    }
    let spilling = format!(
        "tracepoint:syscalls:sys_enter_getppid {{ printf(\"%d\\n\", {}); }}",
        forty_builtins_expression()
    );
    let programs = [
        spilling.as_str(),
        r#"tracepoint:syscalls:sys_enter_execve { $f = str(args->filename); if ($f == "/bin/true") { printf("true %s\n", $f); } else { printf("other\n"); } }"#,
        r#"tracepoint:syscalls:sys_enter_getppid /pid > 1 && tid != 0/ { $i = 0; $s = 0; while ($i < 10) { $s += $i; $i++; if ($s > 20) { break; } } printf("%d %d\n", $s, pid > 5 ? (uint32)tid : (int8)uid); }"#,
        r#"tracepoint:syscalls:sys_enter_execve { $j = join(args->argv, ","); printf("%s\n", $j); }"#,
        r#"tracepoint:syscalls:sys_enter_execve { printf("%s %s\n", str(args->filename, 4), str(*args->argv)); }"#,
        r#"tracepoint:sched:sched_process_exec { printf("%s %d\n", args->filename, args->pid); }"#,
        r#"tracepoint:sched:sched_switch { printf("%s %d %s\n", args->prev_comm, args->prev_pid, probe); }"#,
        r#"BEGIN { $t = (1, "two"); print($t); time(); printf("%d %d\n", !(1 < 2) || 3 >= 4, $t.0); unroll(3) { printf("u\n"); } }"#,
        r#"rawtracepoint:sched_switch { printf("%d %x\n", arg0 != 0, ~arg1 & 0xff); }"#,
        r#"tracepoint:syscalls:sys_enter_getppid { $c = comm; if ($c != "nothing") { printf("%s %d\n", $c, -5 / 2 % 3 << 1 >> 1 ^ 7 | 8); return; } exit(); }"#,
    ];
    for source in programs {
        drop(load(source));
    }
}

#[test]
fn join_as_a_value_builds_the_string_in_bpf() {
    if !can_run_bpf() {
        return;
    }
    let source = r#"tracepoint:syscalls:sys_enter_execve { $j = join(args->argv, ","); printf("%d %s\n", pid, $j); }"#;
    let compiled = compile_source(source);
    let mut session = load(source);
    session.attach_all().expect("attaches");
    let mut child = std::process::Command::new("/bin/true")
        .args(["alpha", "beta gamma"])
        .spawn()
        .expect("spawns");
    let child_pid = u64::from(child.id());
    let _ = child.wait();
    let is_child = |record: &Decoded| matches!(record, Decoded::Printf { ints, .. } if ints.first() == Some(&child_pid));
    let records = collect_for(
        &mut session,
        &compiled.actions,
        Duration::from_secs(3),
        &mut |records| records.iter().any(is_child),
    );
    let Some(Decoded::Printf { strings, .. }) = records.iter().find(|record| is_child(record))
    else {
        panic!("no record for {child_pid}: {records:?}");
    };
    assert_eq!(
        strings.first().map(String::as_str),
        Some("/bin/true,alpha,beta gamma")
    );
}
