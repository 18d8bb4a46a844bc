//! Demangled C++ user symbols and the `perf`/`raw` stack modes on the live kernel.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::*;

/// A C++ program whose `shop::poke(int)` (mangled `_ZN4shop4pokeEi`) runs a few times, then
/// stays alive a moment so that its mappings can still be read when stacks are printed.
const SHOP_PROGRAM: &str = r#"
#include <unistd.h>
namespace shop {
int __attribute__((noinline)) poke(int x) {
    asm volatile("" ::: "memory");
    return x * 3 + 1;
}
}
int main(int argc, char **) {
    int total = 0;
    for (int round = 0; round < 3; round++) {
        total += shop::poke(round + argc);
    }
    usleep(300000);
    return total == 12345;
}
"#;

/// Compiles [`SHOP_PROGRAM`] into a fresh directory, or says why it cannot.
fn compile_shop_program(test: &str) -> Option<PathBuf> {
    let directory =
        std::env::temp_dir().join(format!("bpfscope-demangle-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&directory).ok()?;
    let source = directory.join("shop.cpp");
    let binary = directory.join("shop");
    std::fs::write(&source, SHOP_PROGRAM).ok()?;
    let compiled = Command::new("g++")
        .args(["-O1", "-fno-omit-frame-pointer", "-o"])
        .arg(&binary)
        .arg(&source)
        .output();
    match compiled {
        Ok(output) if output.status.success() => Some(binary),
        Ok(output) => {
            eprintln!(
                "skipping {test}: g++ failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            None
        }
        Err(error) => {
            eprintln!("skipping {test}: no g++ ({error})");
            None
        }
    }
}

fn run_with_environment(args: &[&str], environment: &[(&str, &str)]) -> Output {
    Command::new(bpfscope())
        .args(args)
        .envs(environment.iter().copied())
        .env_remove("BPFSCOPE_CPP_DEMANGLE")
        .output()
        .expect("bpfscope runs")
}

fn stdout_of_success(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn shop_script(binary: &Path, action: &str) -> String {
    format!(
        "uprobe:{}:_ZN4shop4pokeEi /pid == cpid/ {{ {action}; exit() }}",
        binary.display()
    )
}

#[test]
fn cpp_user_symbols_are_printed_demangled_unless_turned_off() {
    let test = "cpp_user_symbols_are_printed_demangled_unless_turned_off";
    if skip_unless_root(test) {
        return;
    }
    let Some(binary) = compile_shop_program(test) else {
        return;
    };
    let script = shop_script(
        &binary,
        "printf(\"<%s>\\n\", usym(reg(\"ip\"))); print(ustack(1))",
    );
    let command = binary.display().to_string();
    let arguments = ["-e", script.as_str(), "-c", command.as_str()];

    let stdout = stdout_of_success(&run_with_environment(&arguments, &[]));
    assert!(stdout.contains("<shop::poke(int)>\n"), "{stdout}");
    assert!(stdout.contains("\n        shop::poke(int)+0\n"), "{stdout}");

    // bpftrace's knob: BPFTRACE_CPP_DEMANGLE=0 prints the names as the symbol table has them.
    let stdout = stdout_of_success(&run_with_environment(
        &arguments,
        &[("BPFTRACE_CPP_DEMANGLE", "0")],
    ));
    assert!(stdout.contains("<_ZN4shop4pokeEi>\n"), "{stdout}");
    assert!(stdout.contains("\n        _ZN4shop4pokeEi+0\n"), "{stdout}");
    let _ = std::fs::remove_dir_all(binary.parent().unwrap_or(&binary));
}

#[test]
fn perf_mode_user_frames_show_address_demangled_symbol_and_file() {
    let test = "perf_mode_user_frames_show_address_demangled_symbol_and_file";
    if skip_unless_root(test) {
        return;
    }
    let Some(binary) = compile_shop_program(test) else {
        return;
    };
    let script = shop_script(&binary, "printf(\"~P~%s~E~\\n\", ustack(perf, 1))");
    let command = binary.display().to_string();
    let stdout = stdout_of_success(&run_with_environment(
        &["-e", script.as_str(), "-c", command.as_str()],
        &[],
    ));
    // A tab, the bare hex address, the demangled frame and the mapped file.
    let frames = lines_between(&stdout, "~P~", "~E~");
    let frame = frames.first().copied().unwrap_or_default();
    let (address, rest) = frame
        .strip_prefix('\t')
        .and_then(|frame| frame.split_once(' '))
        .unwrap_or_default();
    assert!(is_hex(address), "{stdout}");
    assert_eq!(
        rest,
        format!("shop::poke(int)+0 ({})", binary.display()),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(binary.parent().unwrap_or(&binary));
}

/// The lines of `text` between the `start` and `end` markers (the stack's leading newline
/// excluded).
fn lines_between<'a>(text: &'a str, start: &str, end: &str) -> Vec<&'a str> {
    let Some(from) = text.find(start) else {
        return Vec::new();
    };
    let after = &text[from + start.len()..];
    let Some(to) = after.find(end) else {
        return Vec::new();
    };
    after[..to]
        .lines()
        .filter(|line| !line.is_empty())
        .collect()
}

fn is_hex(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_uppercase())
}

#[test]
fn raw_and_perf_stack_modes_print_lines_of_their_shape() {
    let test = "raw_and_perf_stack_modes_print_lines_of_their_shape";
    if skip_unless_root(test) {
        return;
    }
    // The shell asks for its parent's pid at startup, then waits for `sleep` (so its maps
    // are still there when the stacks are symbolized).
    let output = run_with_environment(
        &[
            "-e",
            "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { \
               printf(\"~K~%s~U~%s~P~%s~E~\\n\", kstack(raw), ustack(perf), kstack(perf, 2)); \
               @[kstack(raw, 2)] = count(); @b[kstack(2)] = count(); exit() }",
            "-c",
            "/bin/sh -c 'sleep 0.3; true'",
        ],
        &[],
    );
    let stdout = stdout_of_success(&output);

    let raw_kernel = lines_between(&stdout, "~K~", "~U~");
    assert!(!raw_kernel.is_empty(), "{stdout}");
    for line in &raw_kernel {
        // Kernel addresses, bare lowercase hex, not indented.
        assert!(
            is_hex(line) && line.len() == 16 && line.starts_with("ffff"),
            "{line:?} in {stdout}"
        );
    }

    let perf_user = lines_between(&stdout, "~U~", "~P~");
    assert!(!perf_user.is_empty(), "{stdout}");
    for line in &perf_user {
        let frame = line
            .strip_prefix('\t')
            .unwrap_or_else(|| panic!("{stdout}"));
        let (address, rest) = frame.split_once(' ').unwrap_or_default();
        assert!(is_hex(address), "{line:?} in {stdout}");
        assert!(
            rest.ends_with(')') && rest.contains(" ("),
            "{line:?} in {stdout}"
        );
    }
    // The syscall wrapper is libc's `getppid`, named with its offset and libc's path.
    assert!(
        perf_user
            .iter()
            .any(|line| line.contains(" getppid+") && line.contains("libc.so")),
        "{stdout}"
    );

    let perf_kernel = lines_between(&stdout, "~P~", "~E~");
    assert_eq!(perf_kernel.len(), 2, "{stdout}");
    for line in &perf_kernel {
        let frame = line
            .strip_prefix('\t')
            .unwrap_or_else(|| panic!("{stdout}"));
        let (address, symbol) = frame.split_once(' ').unwrap_or_default();
        assert!(is_hex(address) && address.starts_with("ffff"), "{stdout}");
        let (name, offset) = symbol.rsplit_once('+').unwrap_or_default();
        assert!(
            !name.is_empty() && offset.parse::<u64>().is_ok(),
            "{stdout}"
        );
    }

    // Map keys: raw frames are not indented there either, while bpftrace-mode ones are.
    let raw_key = lines_between(&stdout, "@[\n", "]: 1");
    assert_eq!(raw_key.len(), 2, "{stdout}");
    assert!(raw_key.iter().all(|line| is_hex(line)), "{stdout}");
    let symbolized_key = lines_between(&stdout, "@b[\n", "]: 1");
    assert_eq!(symbolized_key.len(), 2, "{stdout}");
    assert!(
        symbolized_key
            .iter()
            .all(|line| line.starts_with("    ") && line.contains('+')),
        "{stdout}"
    );
}

#[test]
fn unknown_stack_modes_are_refused_with_the_valid_ones_named() {
    let output = run_with_environment(
        &[
            "-e",
            "tracepoint:syscalls:sys_enter_getppid { print(ustack(fancy)) }",
            "--dry-run",
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("unknown stack mode 'fancy'") && stderr.contains("perf or raw"),
        "{stderr}"
    );
}
