//! `bpfscope -l/-lv` on the live host, through the binary.

mod support;

use support::*;

fn stdout_of(args: &[&str]) -> String {
    let output = run(args);
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn execve_search_lists_tracepoints_and_kernel_functions() {
    if skip_unless_root("execve_search_lists_tracepoints_and_kernel_functions") {
        return;
    }
    let listing = stdout_of(&["-l", "*execve*"]);
    for tracepoint in [
        "sys_enter_execve",
        "sys_enter_execveat",
        "sys_exit_execve",
        "sys_exit_execveat",
    ] {
        let line = format!("tracepoint:syscalls:{tracepoint}  (stable: prefer over kprobe/fentry)");
        assert!(
            listing.lines().any(|l| l == line),
            "missing {line}:\n{listing}"
        );
    }
    assert!(
        listing.lines().any(|l| l == "kprobe:__x64_sys_execve"),
        "{listing}"
    );
    assert!(
        listing
            .lines()
            .any(|l| l == "fentry:vmlinux:__x64_sys_execve"),
        "{listing}"
    );
}

#[test]
fn kernel_function_arguments_come_from_btf() {
    if skip_unless_root("kernel_function_arguments_come_from_btf") {
        return;
    }
    assert_eq!(
        stdout_of(&["-lv", "fentry:vfs_read"]),
        "fentry:vmlinux:vfs_read\n    struct file * file\n    char * buf\n    size_t count\n    loff_t * pos\n"
    );
    assert_eq!(
        stdout_of(&["-lv", "kprobe:vfs_read"]),
        "kprobe:vfs_read\n    struct file * arg0\n    char * arg1\n    size_t arg2\n    loff_t * arg3\n"
    );
}

#[test]
fn json_listing_has_stability_and_layout() {
    if skip_unless_root("json_listing_has_stability_and_layout") {
        return;
    }
    let listing = stdout_of(&["-lv", "-f", "json", "tracepoint:syscalls:sys_enter_execve"]);
    let object: serde_json::Value = serde_json::from_str(listing.trim()).expect("one JSON object");
    assert_eq!(object["probe"], "tracepoint:syscalls:sys_enter_execve");
    assert_eq!(object["stability"], "stable");
    assert_eq!(object["args"][2]["name"], "argv");
    assert_eq!(object["args"][2]["type"], "const char *const *");
    assert_eq!(object["args"][2]["offset"], 24);
    assert_eq!(object["args"][2]["size"], 8);
}

#[test]
fn unknown_provider_lists_the_valid_ones() {
    let output = run(&["-l", "bogus:*"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown probe type 'bogus'; valid types: tracepoint,"),
        "{stderr}"
    );
}

#[test]
fn info_tries_probe_types_for_real() {
    if skip_unless_root("info_tries_probe_types_for_real") {
        return;
    }
    let info = stdout_of(&["--info"]);
    assert!(
        info.lines()
            .any(|line| line.trim_start().starts_with("tracepoint")
                && line.trim_end().ends_with("yes")),
        "{info}"
    );
    assert!(info.contains("BTF functions: "), "{info}");
}
