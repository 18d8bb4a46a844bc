//! Loops over maps, `len(@m)` and `strcontains` with a run-time needle, through the binary.
//!
//! bpftrace 0.17 has no `for ($kv : @map)` (it arrived in 0.21: "syntax error, unexpected for")
//! and no `len()`, so these are checked against hand-worked values, not against bpftrace.

mod support;

use support::*;

#[test]
fn for_over_a_map_with_continue_break_and_len() {
    if skip_unless_root("for_over_a_map_with_continue_break_and_len") {
        return;
    }
    let script = r#"BEGIN {
  @m[1] = 10; @m[2] = 20; @m[3] = 30;
  for ($kv : @m) { @sum = sum($kv.1); if ($kv.0 == 2) { continue; } @seen[$kv.0] = 1; }
  $n = 0;
  for ($kv : @m) { $n++; if ($n == 2) { break; } }
  printf("len=%d visited=%d\n", len(@m), $n);
  $needle = "ll";
  printf("contains=%d\n", strcontains("hello", $needle));
  exit();
}"#;
    let output = run(&["-e", script]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    for expected in [
        "len=3 visited=2",
        "contains=1",
        "@sum: 60",
        "@seen[1]: 1",
        "@seen[3]: 1",
    ] {
        assert!(lines.contains(&expected), "no {expected:?} in:\n{stdout}");
    }
    assert!(
        !lines.iter().any(|line| line.starts_with("@seen[2]")),
        "continue skipped key 2:\n{stdout}"
    );
}

#[test]
fn looping_over_a_histogram_is_a_located_error() {
    let output = run(&[
        "--dry-run",
        "-e",
        "BEGIN { @h = hist(5); for ($kv : @h) { printf(\"%d\\n\", $kv.0); } }",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("for loop cannot walk a hist map"),
        "unexpected message:\n{stderr}"
    );
    assert!(stderr.contains("stdin:1:"), "not located:\n{stderr}");
}

#[test]
fn for_over_a_map_with_key_and_value_variables() {
    if skip_unless_root("for_over_a_map_with_key_and_value_variables") {
        return;
    }
    let script =
        "BEGIN { @m[1] = 10; @m[2] = 20; for ($k, $v : @m) { @s = sum($k * $v); } exit(); }";
    let output = run(&["-e", script]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.lines().any(|line| line == "@s: 50"),
        "no @s: 50 in:\n{stdout}"
    );
}
