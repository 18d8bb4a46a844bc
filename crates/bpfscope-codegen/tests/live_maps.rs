//! Maps against the real kernel: `@execs[tid] = join(args->argv)` (bpftrace #1390), an execsnoop
//! with return values, and every aggregation read back from the kernel. Needs root; skips otherwise.

mod common;

use bpfscope_bpf::Action;
use bpfscope_check::{check, CheckOptions, KernelProbeInfo};
use bpfscope_codegen::{compile, CodegenOptions};
use bpfscope_probes::KernelFs;
use bpfscope_runtime::{Control, Session, SessionOptions};
use common::*;
use std::time::{Duration, Instant};

#[test]
fn join_result_is_stored_in_a_map_keyed_by_tid() {
    if !can_run_bpf() {
        return;
    }
    let source = "tracepoint:syscalls:sys_enter_execve,tracepoint:syscalls:sys_enter_execveat {@execs[tid] = join(args->argv);}";
    let (compiled, mut session) = compile_and_load(source);
    session.attach_all().expect("attaches");
    let mut child = std::process::Command::new("/bin/true")
        .args(["one", "two three"])
        .spawn()
        .expect("spawns");
    let tid = u64::from(child.id());
    let _ = child.wait();
    session.detach_all();
    let map = &session.maps()[map_index(&compiled, "@execs")];
    let values = map
        .lookup(&tid.to_le_bytes())
        .expect("reads")
        .expect("the child's tid is a key");
    assert_eq!(c_string(&values[0]), "/bin/true one two three");
}

#[test]
fn execsnoop_with_return_values_in_plain_language() {
    if !can_run_bpf() {
        return;
    }
    let source = r#"
tracepoint:syscalls:sys_enter_execve* { @execs[tid] = join(args->argv); }
tracepoint:syscalls:sys_exit_execve* /@execs[tid] != ""/ {
  printf("%-6d %-16s %3d %s\n", pid, comm, args->ret, @execs[tid]);
  delete(@execs[tid]);
}
"#;
    let (compiled, mut session) = compile_and_load(source);
    session.attach_all().expect("attaches");
    let missing = "/nonexistent/bpfscope-missing-binary";
    let _ = std::process::Command::new(missing)
        .arg("never-runs")
        .spawn();
    let mut child = std::process::Command::new("/bin/true")
        .arg("ok-run")
        .spawn()
        .expect("spawns");
    let _ = child.wait();
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        session.poll_once(&mut |_, record| {
            if let Some(line) = decode_printf(&compiled.actions, record) {
                lines.push(line);
            }
            Control::Continue
        });
        let found = |argv: &str| {
            lines
                .iter()
                .any(|line: &Line| line.strings.get(1).map(String::as_str) == Some(argv))
        };
        if found("/bin/true ok-run") && found(&format!("{missing} never-runs")) {
            break;
        }
    }
    let success = lines
        .iter()
        .find(|line| line.strings.get(1).map(String::as_str) == Some("/bin/true ok-run"));
    let failure = lines.iter().find(|line| {
        line.strings
            .get(1)
            .is_some_and(|argv| argv.starts_with(missing))
    });
    let success = success.unwrap_or_else(|| panic!("no successful exec line: {lines:?}"));
    let failure = failure.unwrap_or_else(|| panic!("no failed exec line: {lines:?}"));
    assert_eq!(success.ints.get(1), Some(&0), "{success:?}");
    assert_eq!(success.ints.first(), Some(&i64::from(child.id())));
    // At sys_exit_execve of a successful exec the comm is the new program's.
    assert_eq!(success.strings.first().map(String::as_str), Some("true"));
    assert_eq!(failure.ints.get(1), Some(&-2), "{failure:?}");
    // Entries were deleted at exit.
    let map = &session.maps()[map_index(&compiled, "@execs")];
    assert!(map
        .lookup(&u64::from(child.id()).to_le_bytes())
        .expect("reads")
        .is_none());
}

#[test]
fn aggregations_count_in_the_kernel() {
    if !can_run_bpf() {
        return;
    }
    let source = r#"tracepoint:syscalls:sys_enter_getppid /pid == $$PID$$/ {
  @[pid] = count(); @s[comm] = sum(5); @h = hist(5); @l = lhist(7, 0, 10, 2);
  @mn = min(-3); @mx = max(7); @a = avg(4); @st = stats(10); @x++; @y[pid, comm] = 1;
}"#
    .replace("$$PID$$", &std::process::id().to_string());
    let (compiled, mut session) = compile_and_load(&source);
    session.attach_all().expect("attaches");
    for _ in 0..3 {
        let _ = std::os::unix::process::parent_id();
    }
    session.detach_all();
    let pid = u64::from(std::process::id());
    let per_cpu_sum = |name: &str, key: &[u8], offset: usize| -> i64 {
        let map = &session.maps()[map_index(&compiled, name)];
        let values = map
            .lookup(key)
            .expect("reads")
            .unwrap_or_else(|| panic!("{name}: key missing"));
        values
            .iter()
            .map(|value| u64_at(value, offset) as i64)
            .sum()
    };
    let scalar_key = 0u64.to_le_bytes();
    assert_eq!(per_cpu_sum("@", &pid.to_le_bytes(), 0), 3);
    let mut comm_key = [0u8; 16];
    let comm = std::fs::read_to_string("/proc/thread-self/comm").unwrap_or_default();
    let comm = comm.trim_end().as_bytes();
    comm_key[..comm.len()].copy_from_slice(comm);
    assert_eq!(per_cpu_sum("@s", &comm_key, 0), 15);
    // hist(5): bucket 2 + floor(log2 5) = 4.
    assert_eq!(per_cpu_sum("@h", &scalar_key, 4 * 8), 3);
    // lhist(7, 0, 10, 2): 1 + 7 / 2 = 4.
    assert_eq!(per_cpu_sum("@l", &scalar_key, 4 * 8), 3);
    assert_eq!(per_cpu_sum("@a", &scalar_key, 0), 3);
    assert_eq!(per_cpu_sum("@a", &scalar_key, 8), 12);
    assert_eq!(per_cpu_sum("@st", &scalar_key, 8), 30);
    let min_values = session.maps()[map_index(&compiled, "@mn")]
        .lookup(&scalar_key)
        .expect("reads")
        .expect("set");
    assert!(min_values
        .iter()
        .any(|value| u64_at(value, 8) == 1 && u64_at(value, 0) as i64 == -3));
    let max_values = session.maps()[map_index(&compiled, "@mx")]
        .lookup(&scalar_key)
        .expect("reads")
        .expect("set");
    assert!(max_values
        .iter()
        .any(|value| u64_at(value, 8) == 1 && u64_at(value, 0) == 7));
    assert_eq!(per_cpu_sum("@x", &scalar_key, 0), 3);
    let mut tuple_key = pid.to_le_bytes().to_vec();
    tuple_key.extend_from_slice(&comm_key);
    assert_eq!(per_cpu_sum("@y", &tuple_key, 0), 1);
}

#[test]
fn interval_probe_prints_and_clears_a_map() {
    if !can_run_bpf() {
        return;
    }
    let source = "tracepoint:syscalls:sys_enter_getppid { @c = count(); } interval:ms:100 { print(@c); clear(@c); } profile:hz:99 { @p = count(); }";
    let (compiled, mut session) = compile_and_load(source);
    assert_eq!(session.attach_all().expect("attaches"), 3);
    let mut actions_seen = Vec::new();
    let deadline = Instant::now() + Duration::from_millis(600);
    while Instant::now() < deadline {
        session.poll_once(&mut |_, record| {
            actions_seen.push(compiled.actions.get(u64_at(record, 0) as usize).cloned());
            Control::Continue
        });
    }
    let print = compiled
        .actions
        .iter()
        .position(|action| matches!(action, Action::PrintMap { .. }));
    assert!(print.is_some());
    assert!(
        actions_seen
            .iter()
            .filter(|action| matches!(action, Some(Action::PrintMap { .. })))
            .count()
            >= 2,
        "{actions_seen:?}"
    );
    assert!(actions_seen
        .iter()
        .any(|action| matches!(action, Some(Action::ClearMap { zero: false, .. }))));
}

#[test]
fn aggregations_are_readable_inside_probes() {
    if !can_run_bpf() {
        return;
    }
    let lines = begin_lines(
        r#"BEGIN { @c = count(); @c = count(); @s = sum(5); @s = sum(-7); @a = avg(10); @a = avg(21);
  @mn = min(5); @mn = min(3); @mx = max(9); @k[1] = 2;
  if (@c > 1) { printf("%d %d %d %d %d %d %d\n", @c, (int64)@s, @a, @mn, @mx, has_key(@k, 1), has_key(@k, 2)); } }"#,
    );
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].ints, vec![2, -2, 15, 3, 9, 1, 0]);
}

#[test]
fn range_loops_with_break_and_continue_and_string_functions() {
    if !can_run_bpf() {
        return;
    }
    let lines = begin_lines(
        r#"BEGIN { $s = 0; for ($i : 0..10) { if ($i == 2) { continue; } if ($i == 7) { break; } $s += $i; }
  $t = "hello world";
  printf("%d %d %d %d %d %d %d %d\n", $s, $t == "hello world", $t != "hello", strncmp($t, "help", 3),
    strncmp($t, "help", 4), strcontains($t, "o w"), strcontains($t, "xyz"), elapsed < 10000000000); }"#,
    );
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].ints, vec![19, 1, 1, 0, 1, 1, 0, 1]);
}

#[test]
fn runtime_range_bounds_are_capped_and_verified() {
    if !can_run_bpf() {
        return;
    }
    // The end is only known at run time: the loop is bounded by the hidden round counter.
    let lines = begin_lines(
        r#"BEGIN { $n = 100000; $count = 0; for ($i : 0..$n) { $count++; } printf("%d\n", $count); }"#,
    );
    assert_eq!(
        lines[0].ints,
        vec![i64::from(bpfscope_check::FOR_RANGE_MAX_ITERATIONS)]
    );
}

#[test]
fn full_maps_count_their_dropped_updates() {
    if !can_run_bpf() {
        return;
    }
    let source = "BEGIN { for ($i : 0..20) { @m[$i] = $i; @c[$i] = count(); } }";
    let (ast, _) = bpfscope_syntax::parse(source);
    let info = KernelProbeInfo {
        fs: KernelFs::live(),
    };
    let options = CheckOptions {
        max_map_entries: 5,
        ..CheckOptions::default()
    };
    let checked = check(&ast, source, &info, &options);
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    let compiled = compile(&checked.program, &CodegenOptions::default()).expect("compiles");
    let mut session = Session::load(&compiled, SessionOptions::default()).expect("loads");
    session
        .run_begin(&mut |_, _| Control::Continue)
        .expect("runs");
    let full = session.full_maps().expect("reads counters");
    let summary: Vec<(String, u32, u64)> = full
        .into_iter()
        .map(|map| (map.name, map.max_entries, map.dropped_updates))
        .collect();
    assert_eq!(
        summary,
        vec![("@m".to_string(), 5, 15), ("@c".to_string(), 5, 15)]
    );
}

#[test]
fn cpid_is_the_child_and_probe_is_a_string() {
    if !can_run_bpf() {
        return;
    }
    let source = r#"BEGIN { printf("%d %s\n", cpid, probe); }"#;
    let (ast, _) = bpfscope_syntax::parse(source);
    let info = KernelProbeInfo {
        fs: KernelFs::live(),
    };
    let checked = check(&ast, source, &info, &CheckOptions::default());
    let compiled = compile(&checked.program, &CodegenOptions::default()).expect("compiles");
    let child = bpfscope_runtime::PausedChild::spawn(&["/bin/true".to_string()]).expect("spawns");
    let child_pid = child.pid();
    let options = SessionOptions {
        child: Some(child),
        ..SessionOptions::default()
    };
    let mut session = Session::load(&compiled, options).expect("loads");
    let mut lines = Vec::new();
    session
        .run_begin(&mut |_, record| {
            lines.extend(decode_printf(&compiled.actions, record));
            Control::Continue
        })
        .expect("runs");
    assert_eq!(lines[0].ints, vec![i64::from(child_pid)]);
    assert_eq!(lines[0].strings, vec!["BEGIN".to_string()]);
    session.attach_all().expect("releases the child");
}
