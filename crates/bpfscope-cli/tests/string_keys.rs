//! Strings used as map keys are equal byte for byte when they print the same, on the live kernel.
//!
//! A string buffer has a fixed capacity; a short string written where a longer one was must
//! leave zeros after its NUL, or two keys print the same and count separately.

mod support;

use std::collections::HashSet;

use support::*;

/// Runs the binary and returns stdout, failing the test on a non-zero exit.
fn run_script(args: &[&str]) -> String {
    let output = run(args);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The `@map[...]` lines of a map dump, asserting that no key text appears twice.
fn map_lines_with_unique_keys<'text>(
    stdout: &'text str,
    map: &str,
) -> Vec<(&'text str, &'text str)> {
    let prefix = format!("{map}[");
    let mut seen = HashSet::new();
    let mut lines = Vec::new();
    for line in stdout.lines().filter(|line| line.starts_with(&prefix)) {
        let Some((key, value)) = line.rsplit_once("]: ") else {
            continue;
        };
        assert!(seen.insert(key), "key {key:?} printed twice:\n{stdout}");
        lines.push((key, value));
    }
    lines
}

#[test]
fn a_short_string_over_a_long_one_in_a_variable_makes_the_same_key() {
    if skip_unless_root("a_short_string_over_a_long_one_in_a_variable_makes_the_same_key") {
        return;
    }
    // The literal fills the variable; str() then writes a shorter file name over it. The
    // second update builds the key from str() directly: both must land on one key.
    let script = r#"tracepoint:syscalls:sys_enter_openat /pid == cpid/ {
  $s = "a-string-longer-than-any-file-name-we-open-here-0123456789";
  $s = str(args.filename);
  @k[$s] = count();
  @k[str(args.filename)] = count();
}"#;
    let stdout = run_script(&["-c", "cat /etc/hostname", "-e", script]);
    let lines = map_lines_with_unique_keys(&stdout, "@k");
    assert!(
        lines.iter().any(|(key, _)| *key == "@k[/etc/hostname"),
        "no @k[/etc/hostname] in:\n{stdout}"
    );
    // Paths cut at the 64-byte capacity (the test's LD_LIBRARY_PATH) rightly share keys.
    for (key, value) in lines.into_iter().filter(|(key, _)| key.len() < 60) {
        assert_eq!(value, "2", "{key} counted apart:\n{stdout}");
    }
}

#[test]
fn a_comm_read_back_from_a_map_value_makes_one_key_per_command() {
    if skip_unless_root("a_comm_read_back_from_a_map_value_makes_one_key_per_command") {
        return;
    }
    // The execsnoop pattern: comm saved at exec, read back into a variable at exit, used as a
    // key. The padding statements push the saved value into the per-CPU scratch map, where the
    // exit probe's longer padding values were written just before: the 16 bytes of comm must
    // not leave those bytes in the rest of the 64-byte value.
    let exec_padding: String = (0..10)
        .map(|index| {
            format!(
                "@pad[{index}] = \"exec-padding-value-{index}-{}\"; ",
                "x".repeat(38)
            )
        })
        .collect();
    let exit_padding: String = (0..24)
        .map(|index| {
            format!(
                "@pad[{}] = \"exit-padding-value-{index}-{}\"; ",
                index + 100,
                "y".repeat(38)
            )
        })
        .collect();
    let script = format!(
        r#"tracepoint:sched:sched_process_exec {{ {exec_padding} @exec_comm[pid] = comm; }}
tracepoint:sched:sched_process_exit /@exec_comm[pid] == "true"/ {{
  {exit_padding}
  $command = @exec_comm[pid];
  @cpu[$command] = sum(1);
  $command = "a-long-string-in-the-same-variable-before-the-next-read";
  $command = @exec_comm[pid];
  @cpu[$command] = sum(1);
  delete(@exec_comm[pid]);
}}
END {{ clear(@exec_comm); clear(@pad); }}"#
    );
    let stdout = run_script(&[
        "-c",
        "/bin/sh -c '/bin/true; /bin/true; /bin/true; /bin/true; /bin/true; /bin/true'",
        "-e",
        &script,
    ]);
    let lines = map_lines_with_unique_keys(&stdout, "@cpu");
    // Other `true` processes on the machine may add to the sum, never to the keys.
    assert_eq!(lines.len(), 1, "output:\n{stdout}");
    let (key, value) = lines.first().copied().unwrap_or_default();
    assert_eq!(key, "@cpu[true", "output:\n{stdout}");
    let total: u64 = value.parse().unwrap_or(0);
    assert!(total >= 12, "output:\n{stdout}");
}

#[test]
fn map_string_values_rewritten_shorter_make_one_key() {
    if skip_unless_root("map_string_values_rewritten_shorter_make_one_key") {
        return;
    }
    // Many values so that some land in the per-CPU scratch map, which keeps the bytes of the
    // previous (longer) value from one statement to the next.
    let mut script = String::from("BEGIN {\n");
    for index in 0..12 {
        script.push_str(&format!(
            "  @long[{index}] = \"a-long-value-number-{index}-padding-padding-padding\";\n"
        ));
    }
    script.push_str("  @v[1] = str(@long[3]); @v[2] = \"short\";\n");
    script.push_str("  $s = @v[1]; $s = @v[2]; @k[$s] = count(); @k[\"short\"] = count();\n");
    script.push_str("  @k[@v[2]] = count();\n  clear(@long); clear(@v); exit();\n}\n");
    let stdout = run_script(&["-e", &script]);
    let lines = map_lines_with_unique_keys(&stdout, "@k");
    assert_eq!(lines, vec![("@k[short", "3")], "output:\n{stdout}");
}
