//! `-l`/`-lv` on the live host (as root), and byte-for-byte against bpftrace when it is installed.
//!
//! Each test prints why it skips when the facility is absent (not root, no tracefs, no bpftrace).

use std::process::Command;

use bpfscope_probes::catalog::{self, Listing};
use bpfscope_probes::{tracefs, KernelFs, Provider};

/// The live system with tracefs mounted, or the reason it cannot be used.
fn live_with_tracefs() -> Result<KernelFs, String> {
    let fs = KernelFs::live();
    if tracefs::locate(&fs).is_some() {
        return Ok(fs);
    }
    // Mounting is the CLI's job in production; the test does it the plain way to get going.
    let mounted = Command::new("mount")
        .args(["-t", "tracefs", "tracefs", "/sys/kernel/tracing"])
        .status()
        .map(|status| status.success())
        .unwrap_or(false);
    if mounted && tracefs::locate(&fs).is_some() {
        Ok(fs)
    } else {
        Err("tracefs is not mounted and could not be mounted (not root?)".to_string())
    }
}

fn render(listing: &Listing, verbose: bool) -> String {
    let mut out = Vec::new();
    catalog::render_text(listing, verbose, &mut out).expect("writing to a Vec cannot fail");
    String::from_utf8(out).expect("listing output is UTF-8")
}

#[test]
fn execve_tracepoints_and_their_args() {
    let fs = match live_with_tracefs() {
        Ok(fs) => fs,
        Err(reason) => return eprintln!("skipped: {reason}"),
    };
    let listing = catalog::list(&fs, "tracepoint:syscalls:*execve*", true).unwrap();
    let names: Vec<String> = listing
        .entries
        .iter()
        .map(|entry| entry.full_name())
        .collect();
    if names.is_empty() {
        return eprintln!(
            "skipped: this kernel has no syscall tracepoints (CONFIG_FTRACE_SYSCALLS unset)"
        );
    }
    assert_eq!(
        names,
        [
            "tracepoint:syscalls:sys_enter_execve",
            "tracepoint:syscalls:sys_enter_execveat",
            "tracepoint:syscalls:sys_exit_execve",
            "tracepoint:syscalls:sys_exit_execveat",
        ]
    );
    let enter = &listing.entries[0];
    let args: Vec<(&str, &str)> = enter
        .args
        .iter()
        .map(|arg| (arg.ty.as_str(), arg.name.as_str()))
        .collect();
    assert_eq!(
        args,
        [
            ("int", "__syscall_nr"),
            ("const char *", "filename"),
            ("const char *const *", "argv"),
            ("const char *const *", "envp"),
        ]
    );
    assert!(enter.args.iter().all(|arg| arg.offset.is_some()
        && arg.size == Some(if arg.name == "__syscall_nr" { 4 } else { 8 })));
    assert!(render(&listing, true).starts_with(
        "tracepoint:syscalls:sys_enter_execve\n    int __syscall_nr\n    const char * filename\n"
    ));
    let format = tracefs::read_format(&fs, "syscalls", "sys_enter_execve").unwrap();
    assert!(format.id.is_some());
    assert_eq!(format.common_field_count, 4);
}

#[test]
fn search_without_provider_finds_execve_tracepoints() {
    let fs = match live_with_tracefs() {
        Ok(fs) => fs,
        Err(reason) => return eprintln!("skipped: {reason}"),
    };
    let listing = catalog::list(&fs, "*execve*", false).unwrap();
    let tracepoints = listing
        .entries
        .iter()
        .filter(|entry| entry.provider == Provider::Tracepoint)
        .count();
    assert!(tracepoints >= 4, "{:?}", listing.entries);
}

/// bpftrace's output for `args`, or why it cannot be had.
fn bpftrace_output(args: &[&str]) -> Result<String, String> {
    let output = Command::new("bpftrace")
        .args(args)
        .output()
        .map_err(|error| format!("bpftrace is not installed ({error})"))?;
    if !output.status.success() {
        return Err(format!(
            "bpftrace failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    String::from_utf8(output.stdout).map_err(|_| "bpftrace printed non-UTF-8".to_string())
}

fn compare_with_bpftrace(pattern: &str, verbose: bool) {
    let fs = match live_with_tracefs() {
        Ok(fs) => fs,
        Err(reason) => return eprintln!("skipped: {reason}"),
    };
    let flag = if verbose { "-lv" } else { "-l" };
    let expected = match bpftrace_output(&[flag, pattern]) {
        Ok(text) => text,
        Err(reason) => return eprintln!("skipped: {reason}"),
    };
    let ours = render(&catalog::list(&fs, pattern, verbose).unwrap(), verbose);
    if ours != expected {
        let first_difference = ours
            .lines()
            .zip(expected.lines())
            .enumerate()
            .find(|(_, (left, right))| left != right)
            .map(|(index, (left, right))| {
                format!("line {}: ours {left:?}, bpftrace {right:?}", index + 1)
            });
        panic!(
            "{flag} '{pattern}' differs from bpftrace ({} vs {} lines); first difference: {}",
            ours.lines().count(),
            expected.lines().count(),
            first_difference.unwrap_or_else(|| "one is a prefix of the other".to_string())
        );
    }
}

#[test]
fn syscall_tracepoints_verbose_match_bpftrace_byte_for_byte() {
    compare_with_bpftrace("tracepoint:syscalls:*", true);
}

#[test]
fn all_tracepoints_match_bpftrace_byte_for_byte() {
    compare_with_bpftrace("tracepoint:*", false);
    compare_with_bpftrace("tracepoint:*", true);
}
