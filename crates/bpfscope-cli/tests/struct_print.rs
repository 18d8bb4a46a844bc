//! Printing whole kernel structs (`print(*ptr)`, `print(ptr->member)`) through the binary.
//!
//! The values asserted are known to the test: `BEGIN` runs in the tracer's own process, so the
//! printed `task_struct` carries the pid the script prints with `pid`, and the printed creds
//! carry the test's own uid (the tracer is its child).

mod support;

use support::*;

fn skip_unless_btf_and_root(test: &str) -> bool {
    if skip_unless_root(test) {
        return true;
    }
    if !std::path::Path::new("/sys/kernel/btf/vmlinux").exists() {
        eprintln!("skipping {test}: the kernel has no BTF (/sys/kernel/btf/vmlinux)");
        return true;
    }
    false
}

fn own_uid() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("Uid:"))
                .and_then(|line| line.split_whitespace().nth(1).map(str::to_string))
        })
        .unwrap_or_default()
}

fn run_script(script: &str) -> (bool, String, String) {
    let output = run(&["-e", script]);
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_struct_member_prints_in_braces() {
    if skip_unless_btf_and_root("a_struct_member_prints_in_braces") {
        return;
    }
    let (success, stdout, stderr) = run_script(
        "BEGIN { $task = (struct task_struct *)curtask; print($task->real_cred->uid); exit(); }",
    );
    assert!(success, "stderr: {stderr}");
    let expected = format!("{{ .val = {} }}", own_uid());
    assert_eq!(stdout.lines().next(), Some(expected.as_str()), "{stdout}");
}

#[test]
fn a_dereferenced_struct_prints_every_member_nested() {
    if skip_unless_btf_and_root("a_dereferenced_struct_prints_every_member_nested") {
        return;
    }
    let (success, stdout, stderr) = run_script(
        "BEGIN { $task = (struct task_struct *)curtask; print(*$task->real_cred); exit(); }",
    );
    assert!(success, "stderr: {stderr}");
    let line = stdout.lines().next().unwrap_or_default();
    let uid = own_uid();
    assert!(line.starts_with("{ .usage = { .counter = "), "{line}");
    assert!(
        line.contains(&format!(".uid = {{ .val = {uid} }}, .gid = ")),
        "{line}"
    );
    assert!(
        line.contains(&format!(".euid = {{ .val = {uid} }}")),
        "{line}"
    );
    // Pointers print as hex, and the struct closes with a brace.
    assert!(line.contains(", .user = 0xffff"), "{line}");
    assert!(line.ends_with(" }"), "{line}");
}

#[test]
fn the_whole_task_struct_prints_its_pid_and_comm() {
    if skip_unless_btf_and_root("the_whole_task_struct_prints_its_pid_and_comm") {
        return;
    }
    let (success, stdout, stderr) = run_script(
        "BEGIN { printf(\"pid %d\\n\", pid); print(*(struct task_struct *)curtask); exit(); }",
    );
    assert!(success, "stderr: {stderr}");
    let mut lines = stdout.lines();
    let pid = lines
        .next()
        .and_then(|line| line.strip_prefix("pid "))
        .unwrap_or_default()
        .to_string();
    assert!(pid.parse::<u32>().is_ok(), "{stdout}");
    let task = lines.next().unwrap_or_default();
    assert!(
        task.contains(&format!(".pid = {pid}, .tgid = {pid},")),
        "{task}"
    );
    assert!(task.contains(".comm = bpfscope,"), "{task}");
    // Arrays print as bpftrace prints them: `[a,b]` without spaces.
    assert!(task.contains(".pid_links = [{ .next = "), "{task}");
}

#[test]
fn curtask_dereferences_without_a_cast() {
    if skip_unless_btf_and_root("curtask_dereferences_without_a_cast") {
        return;
    }
    let (success, stdout, stderr) =
        run_script("BEGIN { printf(\"pid %d\\n\", pid); print(*curtask); exit(); }");
    assert!(success, "stderr: {stderr}");
    let mut lines = stdout.lines();
    let pid = lines
        .next()
        .and_then(|line| line.strip_prefix("pid "))
        .unwrap_or_default()
        .to_string();
    let task = lines.next().unwrap_or_default();
    assert!(
        task.contains(&format!(".pid = {pid}, .tgid = {pid},")),
        "{}",
        &task[..task.len().min(300)]
    );
}

#[test]
fn a_struct_too_big_to_copy_is_refused_with_a_located_hint() {
    if skip_unless_btf_and_root("a_struct_too_big_to_copy_is_refused_with_a_located_hint") {
        return;
    }
    let (success, stdout, stderr) =
        run_script("BEGIN { print(*((struct task_struct *)curtask)->nsproxy->net_ns); exit(); }");
    if stderr.contains("bytes, too big") {
        assert!(!success);
        assert!(stdout.is_empty(), "{stdout}");
        assert!(stderr.contains("stdin:1:15-"), "{stderr}");
        assert!(stderr.contains("print its members instead"), "{stderr}");
    } else {
        // A kernel whose struct net fits prints it.
        assert!(success, "stderr: {stderr}");
        assert!(stdout.starts_with("{ "), "{stdout}");
    }
}

#[test]
fn structs_copied_into_variables_and_maps_keep_their_members() {
    if skip_unless_btf_and_root("structs_copied_into_variables_and_maps_keep_their_members") {
        return;
    }
    let (success, stdout, stderr) = run_script(
        "BEGIN { $t = *curtask; $c = *curtask->real_cred; \
         printf(\"%d %d %s %d\\n\", $t.pid, pid, $t.comm, $c.uid.val); \
         @creds[1] = *curtask->real_cred; $r = (a = 7, b = \"x\"); \
         printf(\"%d %s\\n\", $r.a, $r.b); exit(); }",
    );
    assert!(success, "stderr: {stderr}");
    let mut lines = stdout.lines();
    let first: Vec<&str> = lines.next().unwrap_or_default().split(' ').collect();
    assert_eq!(first.len(), 4, "{stdout}");
    assert_eq!(first[0], first[1], "the copy's pid is the pid: {stdout}");
    assert_eq!(first[2], "bpfscope");
    assert_eq!(first[3], own_uid());
    assert_eq!(lines.next(), Some("7 x"));
    let uid_member = format!(".uid = {{ .val = {} }}", own_uid());
    assert!(
        stdout.contains("@creds[1]: { .usage = ") && stdout.contains(&uid_member),
        "{stdout}"
    );
}

#[test]
fn a_struct_too_big_for_a_variable_is_refused() {
    if skip_unless_btf_and_root("a_struct_too_big_for_a_variable_is_refused") {
        return;
    }
    let (success, _, stderr) = run_script(
        "struct big { char bytes[5000]; } BEGIN { $b = *(struct big *)curtask; exit(); }",
    );
    assert!(!success);
    assert!(
        stderr.contains("is 5000 bytes, too big to copy into a variable or map"),
        "{stderr}"
    );
}
