//! kstack/ustack, ksym/usym, reg(), cgroup on the live kernel, printed as bpftrace prints them.

mod support;

use support::*;

const LIBC: &str = "/lib/x86_64-linux-gnu/libc.so.6";

fn run_ok(args: &[&str]) -> String {
    let output = run(args);
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn kernel_and_user_stacks_are_symbolized_one_frame_per_line() {
    if skip_unless_root("kernel_and_user_stacks_are_symbolized_one_frame_per_line") {
        return;
    }
    let stdout = run_ok(&[
        "-e",
        "tracepoint:syscalls:sys_enter_clock_nanosleep /pid == cpid/ { \
           print(kstack); print(ustack); @k[kstack(2)] = count(); exit() }",
        "-c",
        "/usr/bin/sleep 0.3",
    ]);
    // The syscall entry path is on every kernel stack of a syscall tracepoint.
    assert!(
        stdout
            .lines()
            .any(|line| line.starts_with("        do_syscall_64+")),
        "{stdout}"
    );
    // The user stack starts in libc's wrapper, named from libc's ELF symbols through the
    // process's mappings.
    assert!(
        stdout
            .lines()
            .any(|line| line.starts_with("        clock_nanosleep+")),
        "{stdout}"
    );
    // Map keys: `@k[`, then two frames indented by 4, then `]: 1`.
    let key_start = stdout.find("@k[\n").unwrap_or_else(|| panic!("{stdout}"));
    let key_lines: Vec<&str> = stdout[key_start..].lines().take(4).collect();
    assert_eq!(key_lines.len(), 4, "{stdout}");
    assert!(
        key_lines[1].starts_with("    ") && key_lines[1].contains('+'),
        "{stdout}"
    );
    assert!(
        key_lines[2].starts_with("    ") && !key_lines[2].starts_with("     "),
        "{stdout}"
    );
    assert_eq!(key_lines[3], "]: 1", "{stdout}");
}

#[test]
fn uprobe_reg_ip_is_the_probed_function_and_usym_names_it() {
    if skip_unless_root("uprobe_reg_ip_is_the_probed_function_and_usym_names_it") {
        return;
    }
    if !std::path::Path::new(LIBC).exists() {
        eprintln!("skipping: no {LIBC}");
        return;
    }
    let script = format!(
        "uprobe:{LIBC}:clock_nanosleep /pid == cpid/ {{ \
           printf(\"<%s> %d\\n\", usym(reg(\"ip\")), reg(\"sp\") > 0); print(ustack(1)); exit() }}"
    );
    let stdout = run_ok(&["-e", &script, "-c", "/usr/bin/sleep 0.3"]);
    assert!(stdout.contains("<clock_nanosleep> 1\n"), "{stdout}");
    assert!(stdout.contains("\n        clock_nanosleep+0\n"), "{stdout}");
}

#[test]
fn ksym_names_a_kernel_function_address_and_reg_is_refused_on_tracepoints() {
    if skip_unless_root("ksym_names_a_kernel_function_address_and_reg_is_refused_on_tracepoints") {
        return;
    }
    // A heap address (the task) names no function: printed as hex, as bpftrace does.
    let stdout = run_ok(&[
        "-e",
        "tracepoint:syscalls:sys_enter_clock_nanosleep /pid == cpid/ { \
           printf(\"<%s> <0x%lx>\\n\", ksym(curtask), curtask); exit() }",
        "-c",
        "/usr/bin/sleep 0.2",
    ]);
    let line = stdout
        .lines()
        .find(|line| line.starts_with('<'))
        .unwrap_or_default();
    let mut halves = line.split(' ');
    assert_eq!(halves.next(), halves.next(), "{stdout}");
    assert!(line.starts_with("<0xffff"), "{stdout}");
    let output = run(&[
        "-e",
        "tracepoint:syscalls:sys_enter_getpid { print(reg(\"ip\")) }",
        "--dry-run",
    ]);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("reg() can only be used"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn cgroup_is_the_id_of_the_process_cgroup_directory() {
    if skip_unless_root("cgroup_is_the_id_of_the_process_cgroup_directory") {
        return;
    }
    use std::os::unix::fs::MetadataExt;
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let Some(path) = own.lines().find_map(|line| line.strip_prefix("0::")) else {
        eprintln!("skipping: no cgroup v2 line in /proc/self/cgroup");
        return;
    };
    let directory = format!("/sys/fs/cgroup{}", path.trim_end_matches('/'));
    let Ok(metadata) = std::fs::metadata(&directory) else {
        eprintln!("skipping: {directory} is not there");
        return;
    };
    let stdout = run_ok(&[
        "-e",
        "tracepoint:syscalls:sys_enter_clock_nanosleep /pid == cpid/ { \
           printf(\"cgroup=%d\\n\", cgroup); exit() }",
        "-c",
        "/usr/bin/sleep 0.2",
    ]);
    assert!(
        stdout.contains(&format!("cgroup={}\n", metadata.ino())),
        "{directory}: {stdout}"
    );
}

#[test]
fn kaddr_and_cgroupid_are_resolved_when_compiling() {
    if skip_unless_root("kaddr_and_cgroupid_are_resolved_when_compiling") {
        return;
    }
    use std::os::unix::fs::MetadataExt;
    let kallsyms = std::fs::read_to_string("/proc/kallsyms").unwrap_or_default();
    let Some(address) = kallsyms.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let (address, _, name) = (fields.next()?, fields.next()?, fields.next()?);
        (name == "vfs_read" && fields.next().is_none()).then(|| address.to_string())
    }) else {
        eprintln!("skipping: no vfs_read in /proc/kallsyms");
        return;
    };
    let cgroup_root = std::fs::metadata("/sys/fs/cgroup").map(|metadata| metadata.ino());
    let stdout = run_ok(&[
        "-e",
        "BEGIN { printf(\"%016lx %s %s %d\\n\", kaddr(\"vfs_read\"), ksym(kaddr(\"vfs_read\")), \
           ksym(kaddr(\"vfs_read\") + 5), cgroupid(\"/sys/fs/cgroup\")); exit() }",
    ]);
    let expected = format!("{address} vfs_read vfs_read {}\n", cgroup_root.unwrap_or(0));
    assert!(
        stdout.contains(&expected),
        "expected {expected:?} in {stdout}"
    );
    let output = run(&["-e", "BEGIN { print(kaddr(\"no_such_kernel_symbol_zz\")) }"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no kernel symbol"));
}

#[test]
fn ntop_prints_ipv4_and_ipv6_addresses() {
    if skip_unless_root("ntop_prints_ipv4_and_ipv6_addresses") {
        return;
    }
    let stdout = run_ok(&[
        "-e",
        "BEGIN { printf(\"%s|%s\\n\", ntop(0x0100007f), ntop(2, 0x0101a8c0)); \
           @[ntop(0x0200007f)] = count(); exit() }",
    ]);
    assert!(stdout.contains("127.0.0.1|192.168.1.1\n"), "{stdout}");
    assert!(stdout.contains("@[127.0.0.2]: 1\n"), "{stdout}");
    // IPv6 from a 16-byte tracepoint array: a connect to ::1 (refused or not) goes through
    // TCP_SYN_SENT.
    let interfaces = std::fs::read_to_string("/proc/net/if_inet6").unwrap_or_default();
    if !interfaces.contains("00000000000000000000000000000001") {
        eprintln!("skipping the IPv6 half: no ::1 on this host");
        return;
    }
    let directory = temp_dir("ntop_ipv6");
    let mut tracer = Tracer::start(
        bpfscope(),
        "tracepoint:sock:inet_sock_set_state /args.newstate == 2 && args.family == 10/ { \
           printf(\"v6 %s\\n\", ntop(args.daddr_v6)); }",
        &directory,
        "ntop",
    );
    let _ = std::net::TcpStream::connect_timeout(
        &"[::1]:9".parse().expect("address"),
        std::time::Duration::from_millis(300),
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (_, stdout, stderr) = tracer.stop();
    assert!(stdout.contains("v6 ::1\n"), "{stdout}\n{stderr}");
}

#[test]
fn system_runs_the_formatted_command_only_with_unsafe() {
    if skip_unless_root("system_runs_the_formatted_command_only_with_unsafe") {
        return;
    }
    let script =
        "BEGIN { system(\"echo cmd %d %s\", 6 * 7, \"ran\"); printf(\"after\\n\"); exit() }";
    let stdout = run_ok(&["--unsafe", "-e", script]);
    // The command's output comes before what the probe prints next.
    assert!(stdout.contains("cmd 42 ran\nafter\n"), "{stdout}");
    let refused = run(&["-e", script]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("--unsafe"), "{stderr}");
}

/// With libc's separate debug file installed (libc6-dbg), frames in libc that only the debug
/// file names (`__libc_start_call_main`) are named, exported names are preferred over
/// internal aliases (`getppid`, not `__GI___getppid`), and the stack is bpftrace's.
#[test]
fn user_stacks_use_separate_debug_files_and_match_bpftrace() {
    if skip_unless_root("user_stacks_use_separate_debug_files_and_match_bpftrace") {
        return;
    }
    if !std::path::Path::new("/usr/share/doc/libc6-dbg").exists() || !bpftrace_available() {
        eprintln!("skipping: needs libc6-dbg and bpftrace");
        return;
    }
    let directory = temp_dir("stacks-debug-files");
    let source = directory.join("getppid.c");
    let program = directory.join("getppid");
    std::fs::write(
        &source,
        "#include <unistd.h>\nint main(void) { getppid(); sleep(1); return 0; }\n",
    )
    .expect("write the program");
    let compiled = std::process::Command::new("gcc")
        .args(["-O0", "-fno-omit-frame-pointer", "-o"])
        .arg(&program)
        .arg(&source)
        .status();
    if !compiled.is_ok_and(|status| status.success()) {
        eprintln!("skipping: gcc could not build the test program");
        return;
    }
    let program = program.to_string_lossy().into_owned();
    let script = "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { print(ustack); exit(); }";
    let ours = run_ok(&["-c", &program, "-e", script]);
    let frames: Vec<&str> = ours
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    assert_eq!(frames.first().copied(), Some("getppid+7"), "{ours}");
    assert!(
        frames
            .iter()
            .any(|frame| frame.starts_with("__libc_start_call_main+")),
        "{ours}"
    );
    let reference = std::process::Command::new("bpftrace")
        .args(["-c", &program, "-e", script])
        .output()
        .expect("bpftrace runs");
    let theirs = String::from_utf8_lossy(&reference.stdout);
    let their_frames: Vec<&str> = theirs
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("Attaching"))
        .collect();
    assert_eq!(frames, their_frames, "ours:\n{ours}\nbpftrace:\n{theirs}");
}
