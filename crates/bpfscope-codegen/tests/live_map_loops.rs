//! Loops over maps (`for ($kv : @m)`, `bpf_for_each_map_elem` with a callback), `len(@m)` and
//! `strcontains` with a run-time needle, run in the real kernel. Needs root; skips otherwise.
//!
//! bpftrace 0.17 has none of these (for-over-map arrived in 0.21), so the expected values are
//! worked out by hand rather than compared with it.

#![allow(dead_code)]

mod common;

use common::*;

#[test]
fn for_loop_over_a_map_with_continue_and_len() {
    if !can_run_bpf() {
        return;
    }
    let lines = begin_lines(
        r#"BEGIN { @m[1] = 10; @m[2] = 20; @m[3] = 30; $visits = 0;
  for ($kv : @m) { @sum = sum($kv.1); $visits++; if ($kv.0 == 2) { continue; } @seen[$kv.0] = $kv.1 + 1; }
  printf("%d %d %d %d %d %d %d\n", len(@m), @sum, $visits, len(@seen), @seen[1], @seen[2], @seen[3]); }"#,
    );
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].ints, vec![3, 60, 3, 2, 11, 0, 31]);
}

#[test]
fn break_stops_the_walk_and_return_leaves_the_probe() {
    if !can_run_bpf() {
        return;
    }
    let lines = begin_lines(
        r#"BEGIN { @m[1] = 1; @m[2] = 2; @m[3] = 3; @m[4] = 4; $n = 0;
  for ($kv : @m) { $n++; if ($n == 2) { break; } }
  printf("%d\n", $n);
  $n = 0;
  for ($kv : @m) { $n++; if ($n == 3) { printf("returning %d\n", $n); return; } }
  printf("not reached %d\n", $n); }"#,
    );
    let ints: Vec<Vec<i64>> = lines.iter().map(|line| line.ints.clone()).collect();
    assert_eq!(ints, vec![vec![2], vec![3]], "{lines:?}");
}

#[test]
fn string_keys_tuple_keys_string_values_and_aggregations() {
    if !can_run_bpf() {
        return;
    }
    let lines = begin_lines(
        r#"BEGIN { @s["alpha"] = "one"; @s["beta"] = "two";
  @t[1, "x"] = 5; @t[2, "y"] = 6;
  @c["k"] = count(); @c["k"] = count(); @c["k"] = count();
  $found = 0;
  for ($kv : @s) { if ($kv.0 == "beta" && $kv.1 == "two") { $found += 1; } }
  for ($kv : @t) { if ($kv.0.1 == "y") { $found += $kv.0.0 * 10 + $kv.1; } }
  for ($kv : @c) { $found += $kv.1 * 1000; }
  printf("%d %d %d %d\n", $found, len(@s), len(@t), len(@c)); }"#,
    );
    assert_eq!(lines.len(), 1, "{lines:?}");
    // 1 (beta) + 26 (2 * 10 + 6) + 3000 (three counts on this CPU).
    assert_eq!(lines[0].ints, vec![3027, 2, 2, 1]);
}

#[test]
fn nested_map_loops_share_variables() {
    if !can_run_bpf() {
        return;
    }
    let lines = begin_lines(
        r#"BEGIN { @a[1] = 1; @a[2] = 2; @b[10] = 10; @b[20] = 20; @b[30] = 30; $total = 0; $pairs = 0;
  for ($x : @a) { for ($y : @b) { $total += $x.1 * $y.1; $pairs++; } }
  printf("%d %d\n", $total, $pairs); }"#,
    );
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].ints, vec![180, 6]);
}

#[test]
fn loop_bodies_read_tracepoint_fields() {
    if !can_run_bpf() {
        return;
    }
    let source = r#"tracepoint:syscalls:sys_enter_getppid { @m[1] = 5; @m[2] = 7;
  for ($kv : @m) { @seen[$kv.0] = args->__syscall_nr + $kv.1; } }"#;
    let (compiled, mut session) = compile_and_load(source);
    session.attach_all().expect("attaches");
    // SAFETY: getppid has no preconditions.
    unsafe { libc_getppid() };
    session.detach_all();
    let map = &session.maps()[map_index(&compiled, "@seen")];
    let value = map
        .lookup(&2u64.to_le_bytes())
        .expect("reads")
        .expect("key 2 was written");
    // getppid is syscall 110 on x86-64.
    assert_eq!(u64_at(&value[0], 0), 110 + 7);
}

extern "C" {
    #[link_name = "getppid"]
    fn libc_getppid() -> i32;
}

#[test]
fn strcontains_with_a_needle_known_at_run_time() {
    if !can_run_bpf() {
        return;
    }
    let lines = begin_lines(
        r#"BEGIN { $h = "hello world"; $a = "o w"; $b = "world!"; $c = ""; $d = "hello world";
  @n["x"] = "lo"; $e = @n["x"];
  printf("%d %d %d %d %d %d\n", strcontains($h, $a), strcontains($h, $b), strcontains($h, $c),
    strcontains($h, $d), strcontains($h, $e), strcontains($a, $h)); }"#,
    );
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].ints, vec![1, 0, 1, 1, 1, 0]);
}

#[test]
fn for_loop_with_key_and_value_variables() {
    if !can_run_bpf() {
        return;
    }
    let lines = begin_lines(
        r#"BEGIN { @m[1] = 10; @m[2] = 20; @t[3, "ab"] = "cd"; $total = 0; $text = 0;
  for ($k, $v : @m) { $total += $k * $v; }
  for ($key, $value : @t) { if ($key.1 == "ab" && $value == "cd") { $text = $key.0; } }
  printf("%d %d\n", $total, $text); }"#,
    );
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].ints, vec![50, 3]);
}
