//! Printed maps of bpfscope against bpftrace 0.17's for the same events, text and JSON, byte for byte.
//!
//! Two kinds of events, both deterministic:
//! - `BEGIN`-only scripts with literal values, run to completion by each tool in turn;
//! - syscall tracepoints filtered by the pid of a `dd` that waits on its stdin until both tracers
//!   are attached, so both tracers see exactly the same syscalls.
//!
//! What is compared: everything each tool prints after its "Attaching N probes..." banner (0.17
//! prints the banner on stdout, bpfscope on stderr). Where bpftrace 0.17 is wrong or arbitrary,
//! the test asserts bpfscope's (newest bpftrace's) behaviour instead and says why at the case.

mod support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

/// Whether this host can run the comparison; prints the reason when it cannot.
fn skip_comparison(test: &str) -> bool {
    if skip_unless_root(test) {
        return true;
    }
    if !bpftrace_available() {
        eprintln!("skipping {test}: bpftrace is not installed");
        return true;
    }
    false
}

/// Drops the attach banner (0.17 prints it on stdout, text or JSON); everything else stays.
fn without_banner(stdout: &str) -> String {
    stdout
        .split_inclusive('\n')
        .filter(|line| {
            !(line.starts_with("Attaching ") && line.trim_end().ends_with("...")
                || line.starts_with("{\"type\": \"attached_probes\""))
        })
        .collect()
}

/// JSON output without blank lines. bpftrace 0.17 writes the two-newline separator it prints before
/// the exit maps to stdout in JSON mode too, which breaks NDJSON; bpfscope writes none (asserted by
/// `assert_json_lines_only`), so bpftrace's output is compared without them.
fn without_blank_lines(stdout: &str) -> String {
    stdout
        .split_inclusive('\n')
        .filter(|line| !line.trim().is_empty())
        .collect()
}

/// Every line of bpfscope's JSON output is one JSON object.
fn assert_json_lines_only(output: &str, script: &str) {
    for line in output.lines() {
        assert!(
            line.starts_with('{') && line.ends_with('}'),
            "bpfscope -f json printed a line that is not an object: {line:?}\nscript: {script}"
        );
    }
}

/// Runs `program [-f json] -e script` to completion and returns its stdout without the banner.
fn run_to_exit(program: &str, script: &str, json: bool) -> String {
    let mut command = Command::new(program);
    if json {
        command.args(["-f", "json"]);
    }
    let output = command
        .arg("-e")
        .arg(script)
        .stdin(Stdio::null())
        .output()
        .expect("tracer runs");
    assert!(
        output.status.success(),
        "{program} failed on {script}:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    without_banner(&String::from_utf8_lossy(&output.stdout))
}

/// Both tools' outputs for a `BEGIN`-only script: (ours, theirs), text or JSON.
fn both_outputs(script: &str, json: bool) -> (String, String) {
    let ours = run_to_exit(bpfscope(), script, json);
    let theirs = run_to_exit("bpftrace", script, json);
    if json {
        assert_json_lines_only(&ours, script);
        (ours, without_blank_lines(&theirs))
    } else {
        (ours, theirs)
    }
}

/// The script prints the same maps in both tools, in text and in JSON.
fn assert_same_maps(script: &str) {
    for json in [false, true] {
        let (ours, theirs) = both_outputs(script, json);
        assert!(
            !ours.trim().is_empty(),
            "bpfscope printed nothing for {script}"
        );
        assert_eq!(
            ours,
            theirs,
            "{} output differs for {script}\n--- bpfscope:\n{ours}\n--- bpftrace 0.17:\n{theirs}",
            if json { "JSON" } else { "text" }
        );
    }
}

#[test]
fn count_scalar_integer_string_and_tuple_keys() {
    if skip_comparison("count_scalar_integer_string_and_tuple_keys") {
        return;
    }
    assert_same_maps(
        "BEGIN { @c = count(); @c = count(); @c = count(); \
         @i[7] = count(); @i[-5] = count(); @i[-5] = count(); @i[1] = count(); @i[1] = count(); @i[1] = count(); \
         @s[\"zz\"] = count(); @s[\"a\"] = count(); @s[\"a\"] = count(); @s[\"mm\"] = count(); @s[\"mm\"] = count(); @s[\"mm\"] = count(); \
         @t[\"x\", 2] = count(); @t[\"y\", 1] = count(); @t[\"y\", 1] = count(); \
         @ = count(); exit(); }",
    );
}

#[test]
fn sum_avg_min_max_with_negative_values() {
    if skip_comparison("sum_avg_min_max_with_negative_values") {
        return;
    }
    assert_same_maps(
        "BEGIN { @s = sum(5); @s = sum(-12); @s = sum(3); \
         @ks[\"a\"] = sum(10); @ks[\"b\"] = sum(-4); @ks[\"c\"] = sum(100); \
         @a = avg(10); @a = avg(3); @a = avg(-20); \
         @ka[1] = avg(7); @ka[2] = avg(8); @ka[2] = avg(10); @ka[3] = avg(-1); \
         @mn = min(10); @mn = min(-3); @mn = min(7); @mx = max(10); @mx = max(-3); @mx = max(17); \
         @km[\"p\"] = min(4); @km[\"q\"] = min(2); @kx[\"p\"] = max(4); @kx[\"q\"] = max(9); exit(); }",
    );
}

#[test]
fn stats_scalar_and_keyed() {
    if skip_comparison("stats_scalar_and_keyed") {
        return;
    }
    assert_same_maps(
        "BEGIN { @st = stats(10); @st = stats(-3); @st = stats(7); \
         @ks[1] = stats(5); @ks[2] = stats(100); @ks[2] = stats(1); @ks[3] = stats(0); exit(); }",
    );
}

#[test]
fn hist_negative_zero_small_and_suffixed_buckets() {
    if skip_comparison("hist_negative_zero_small_and_suffixed_buckets") {
        return;
    }
    assert_same_maps(
        "BEGIN { @h = hist(-5); @h = hist(0); @h = hist(1); @h = hist(1); @h = hist(5); \
         @h = hist(1500); @h = hist(3000000); @h = hist(3000000); @h = hist(3000000); exit(); }",
    );
    assert_same_maps(
        "BEGIN { @k[\"x\"] = hist(5); @k[\"y\"] = hist(5); @k[\"y\"] = hist(100); \
         @k[\"z\"] = hist(1); @k[\"z\"] = hist(2); @k[\"z\"] = hist(3); @k[\"z\"] = hist(1000000000); exit(); }",
    );
}

/// bpftrace 0.17 is wrong for values of 2^32 and above: `hist(5000000000)` lands in `[2G, 4G)`,
/// and 2^40, 2^50, 2^60 all land in one bucket labelled `{"min": -2147483648, "max": 0}` in JSON
/// (a 32-bit overflow in its bucket arithmetic). Newer bpftrace puts them in `[4G, 8G)`, `[1T, 2T)`,
/// `[1P, 2P)` and `[1E, 2E)`, which is what bpfscope must print.
#[test]
fn hist_values_of_4g_and_above_get_their_own_buckets() {
    if skip_unless_root("hist_values_of_4g_and_above_get_their_own_buckets") {
        return;
    }
    let script = "BEGIN { @h = hist(1024); @h = hist(5000000000); @h = hist(1099511627776); \
                  @h = hist(1125899906842624); @h = hist(1152921504606846976); exit(); }";
    let text = run_to_exit(bpfscope(), script, false);
    let full_bar = format!("|{}|", "@".repeat(52));
    let rows: Vec<&str> = text.lines().filter(|line| line.starts_with('[')).collect();
    // One row per power of two from [1K, 2K) to [1E, 2E): 2^10 .. 2^60.
    assert_eq!(rows.len(), 51, "text:\n{text}");
    for label in ["[1K, 2K)", "[4G, 8G)", "[1T, 2T)", "[1P, 2P)", "[1E, 2E)"] {
        let expected = format!("{label:<16}{:>8} {full_bar}", 1);
        assert!(
            rows.contains(&expected.as_str()),
            "no row {expected:?} in:\n{text}"
        );
    }
    assert!(
        rows.contains(&format!("{:<16}{:>8} |{}|", "[2G, 4G)", 0, " ".repeat(52)).as_str()),
        "text:\n{text}"
    );
    let json = run_to_exit(bpfscope(), script, true);
    assert_json_lines_only(&json, script);
    for bucket in [
        "{\"min\": 4294967296, \"max\": 8589934591, \"count\": 1}",
        "{\"min\": 1099511627776, \"max\": 2199023255551, \"count\": 1}",
        "{\"min\": 1152921504606846976, \"max\": 2305843009213693951, \"count\": 1}]}}",
    ] {
        assert!(json.contains(bucket), "no bucket {bucket} in:\n{json}");
    }
    assert!(!json.contains('-'), "no negative bucket bounds: {json}");
}

#[test]
fn lhist_below_inside_above_range_and_k_steps() {
    if skip_comparison("lhist_below_inside_above_range_and_k_steps") {
        return;
    }
    assert_same_maps(
        "BEGIN { @l = lhist(-5, 0, 100, 10); @l = lhist(0, 0, 100, 10); @l = lhist(15, 0, 100, 10); \
         @l = lhist(15, 0, 100, 10); @l = lhist(99, 0, 100, 10); @l = lhist(100, 0, 100, 10); \
         @l = lhist(5000, 0, 100, 10); \
         @o = lhist(30, 20, 60, 5); @o = lhist(44, 20, 60, 5); \
         @k = lhist(3000, 0, 10240, 1024); @k = lhist(9000, 0, 10240, 1024); @k = lhist(1, 0, 10240, 1024); \
         @t[1, \"a\"] = lhist(3, 0, 10, 1); @t[2, \"b\"] = lhist(3, 0, 10, 1); @t[2, \"b\"] = lhist(7, 0, 10, 1); \
         exit(); }",
    );
}

/// lhist labels with a step that is not a multiple of 1024: bpftrace 0.17 suffixes every bound
/// that happens to be a multiple of 1024, giving mixed rows like `[1K, 1536)` and `[1536, 2K)`;
/// newer bpftrace uses K/M suffixes only when the step is a multiple of 1024, as bpfscope does.
/// JSON has numeric bounds and must be equal.
#[test]
fn lhist_labels_use_suffixes_only_for_k_steps() {
    if skip_comparison("lhist_labels_use_suffixes_only_for_k_steps") {
        return;
    }
    let script = "BEGIN { @l = lhist(600, 0, 4096, 512); @l = lhist(2600, 0, 4096, 512); \
                  @l = lhist(2600, 0, 4096, 512); exit(); }";
    let (ours, _) = both_outputs(script, false);
    let half_bar = format!("|{:<52}|", "@".repeat(26));
    let full_bar = format!("|{}|", "@".repeat(52));
    let empty_bar = format!("|{}|", " ".repeat(52));
    let expected = format!(
        "\n\n@l: \n\
         [512, 1024)            1 {half_bar}\n\
         [1024, 1536)           0 {empty_bar}\n\
         [1536, 2048)           0 {empty_bar}\n\
         [2048, 2560)           0 {empty_bar}\n\
         [2560, 3072)           2 {full_bar}\n\n"
    );
    assert_eq!(ours, expected);
    let (ours_json, theirs_json) = both_outputs(script, true);
    assert_eq!(ours_json, theirs_json);
}

#[test]
fn plain_values_strings_and_tuples() {
    if skip_comparison("plain_values_strings_and_tuples") {
        return;
    }
    assert_same_maps(
        "BEGIN { @x = 5; @y = -3; @m[1] = 10; @m[2] = 5; @m[3] = 7; \
         @s[\"a\"] = \"hello\"; @s[\"b\"] = \"abc\"; @str = \"v\"; \
         @t[1, \"x\"] = 3; @t[2, \"y\"] = 1; @k[\"ab\", \"cd\"] = 4; @k[\"ab\", \"c\"] = 2; \
         @tv = (1, \"two\"); @u[3] = (4, \"x\"); exit(); }",
    );
}

/// `print`, `clear`, `zero` and `delete` in BEGIN and END. print/clear/zero are asynchronous in
/// both tools: they act when user space handles them, after the probe that asked has finished.
#[test]
fn print_clear_zero_and_delete() {
    if skip_comparison("print_clear_zero_and_delete") {
        return;
    }
    assert_same_maps("BEGIN { @c = count(); @c = count(); print(@c); @c = count(); exit(); }");
    assert_same_maps(
        "BEGIN { @m[1] = count(); @m[2] = count(); @m[2] = count(); print(@m); clear(@m); @n[3] = count(); exit(); }",
    );
    assert_same_maps("BEGIN { @h = hist(5); @h = hist(10); print(@h); zero(@h); @h = hist(100); @g = 1; exit(); }");
    assert_same_maps("BEGIN { @m[1] = 5; @m[2] = 6; @m[3] = 7; delete(@m[2]); exit(); }");
    assert_same_maps(
        "BEGIN { @a[1] = count(); @b[\"k\"] = sum(4); @b[\"j\"] = sum(5); exit(); } \
         END { @e = max(9); clear(@a); delete(@b[\"k\"]); }",
    );
    assert_same_maps("BEGIN { @a = count(); @a = count(); @b[1] = 7; exit(); } END { zero(@a); }");
}

/// `print(@m, top)` keeps the `top` largest entries, `print(@m, 0, div)` divides every value.
#[test]
fn print_with_top_and_div() {
    if skip_comparison("print_with_top_and_div") {
        return;
    }
    assert_same_maps(
        "BEGIN { @m[1] = count(); @m[2] = count(); @m[2] = count(); \
         @n[\"a\"] = 10; @n[\"b\"] = 25; @n[\"c\"] = 40; \
         @h[1] = hist(5); @h[2] = hist(6); @h[2] = hist(100); exit(); } \
         END { print(@n, 2); print(@n, 0, 10); print(@m, 1); print(@h, 1); }",
    );
}

/// Aggregations read as numbers inside probes (bpftrace >= 0.21): 0.17 refuses `@c + 1` with
/// "Type mismatch for '+': comparing 'count' with 'int64'", so only bpfscope's output is checked.
#[test]
fn aggregations_read_as_numbers_in_probes() {
    if skip_unless_root("aggregations_read_as_numbers_in_probes") {
        return;
    }
    let script = "BEGIN { @c = count(); @c = count(); @d = @c + 1; @s = sum(4); @s = sum(6); @e = @s; exit(); }";
    assert_eq!(
        run_to_exit(bpfscope(), script, false),
        "\n\n@c: 2\n@d: 3\n@e: 10\n@s: 10\n"
    );
}

/// Entries whose sort values tie: bpftrace 0.17 prints them in the kernel's hash order, which is
/// arbitrary; bpfscope (like newer bpftrace) sorts ties by key. Same lines, ours in key order.
#[test]
fn tied_values_are_sorted_by_key() {
    if skip_comparison("tied_values_are_sorted_by_key") {
        return;
    }
    let script = "BEGIN { @[\"zz\"] = count(); @[\"a\"] = count(); @[\"a\"] = count(); \
                  @[\"mm\"] = count(); @[\"mm\"] = count(); @z[3] = 0; @z[1] = 0; @z[2] = 0; exit(); }";
    let (ours, theirs) = both_outputs(script, false);
    assert_eq!(
        ours, "\n\n@[zz]: 1\n@[a]: 2\n@[mm]: 2\n@z[1]: 0\n@z[2]: 0\n@z[3]: 0\n",
        "ours:\n{ours}"
    );
    let sorted = |text: &str| {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        lines.sort();
        lines
    };
    assert_eq!(sorted(&ours), sorted(&theirs), "bpftrace 0.17:\n{theirs}");
    let (ours_json, _) = both_outputs(script, true);
    assert_eq!(
        ours_json,
        "{\"type\": \"map\", \"data\": {\"@\": {\"zz\": 1, \"a\": 2, \"mm\": 2}}}\n\
         {\"type\": \"map\", \"data\": {\"@z\": {\"1\": 0, \"2\": 0, \"3\": 0}}}\n"
    );
}

/// Integer literals above i64::MAX are unsigned: newer bpftrace prints 18446744073709551615, 0.17
/// wraps it to -1.
#[test]
fn unsigned_values_above_i64_max_print_unsigned() {
    if skip_unless_root("unsigned_values_above_i64_max_print_unsigned") {
        return;
    }
    let script = "BEGIN { @x = 18446744073709551615; @y = -9223372036854775807; exit(); }";
    assert_eq!(
        run_to_exit(bpfscope(), script, false),
        "\n\n@x: 18446744073709551615\n@y: -9223372036854775807\n"
    );
    assert_eq!(
        run_to_exit(bpfscope(), script, true),
        "{\"type\": \"map\", \"data\": {\"@x\": 18446744073709551615}}\n\
         {\"type\": \"map\", \"data\": {\"@y\": -9223372036854775807}}\n"
    );
}

// ---- Triggered events: syscalls of one `dd` -------------------------------------------------
//
// The scripts aggregate so that no two entries of a map tie on their sort value (sums of byte
// counts rather than counts where the counts would be equal): bpftrace 0.17 prints ties in hash
// order, which would make the byte-for-byte comparison flaky (see `tied_values_are_sorted_by_key`).

/// A tracer whose stdout goes to a file (not `-o`: bpftrace 0.17 writes its exit separator to
/// stdout even with `-o`, so only stdout holds its whole output).
struct StdoutTracer {
    child: Child,
    stdout_path: PathBuf,
    stderr_path: PathBuf,
}

impl StdoutTracer {
    fn start(
        program: &str,
        script: &str,
        json: bool,
        directory: &Path,
        name: &str,
    ) -> StdoutTracer {
        let stdout_path = directory.join(format!("{name}.out"));
        let stderr_path = directory.join(format!("{name}.err"));
        let mut command = Command::new(program);
        if json {
            command.args(["-f", "json"]);
        }
        let child = command
            .arg("-e")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout_path).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
            .spawn()
            .expect("tracer starts");
        let mut tracer = StdoutTracer {
            child,
            stdout_path,
            stderr_path,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let (stdout, stderr) = tracer.contents();
            if stdout.contains("Attaching")
                || stdout.contains("attached_probes")
                || stderr.contains("Attaching")
            {
                return tracer;
            }
            if let Ok(Some(status)) = tracer.child.try_wait() {
                panic!("{program} exited ({status}) before attaching: {stderr}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "{program} did not attach within 60 s: {}",
            tracer.contents().1
        );
    }

    fn contents(&self) -> (String, String) {
        let read = |path: &Path| {
            let mut text = String::new();
            if let Ok(mut file) = std::fs::File::open(path) {
                let _ = file.read_to_string(&mut text);
            }
            text
        };
        (read(&self.stdout_path), read(&self.stderr_path))
    }

    /// Sends SIGINT, waits; returns (success, stdout without banner, stderr).
    fn stop(&mut self) -> (bool, String, String) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().expect("tracer exits");
        let (stdout, stderr) = self.contents();
        (status.success(), without_banner(&stdout), stderr)
    }
}

impl Drop for StdoutTracer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `dd` that starts copying only when released: `sh` waits for a line on stdin, then execs dd
/// (same pid), which reads `blocks` blocks of `block_size` bytes from /dev/zero.
struct PausedDd {
    child: Child,
}

impl PausedDd {
    fn spawn(block_size: u32, blocks: u32) -> PausedDd {
        let command_line = format!(
            "read line; exec dd if=/dev/zero of=/dev/null bs={block_size} count={blocks} status=none"
        );
        let child = Command::new("/bin/sh")
            .args(["-c", &command_line])
            .env("LC_ALL", "C")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sh starts");
        PausedDd { child }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn release_and_wait(&mut self) {
        if let Some(mut stdin) = self.child.stdin.take() {
            stdin.write_all(b"go\n").expect("release dd");
        }
        let status = self.child.wait().expect("dd exits");
        assert!(status.success(), "dd failed: {status}");
    }
}

impl Drop for PausedDd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `script` (with `PID` replaced by the dd's pid) in both tools while one dd runs, and
/// returns (ours, theirs) after the banner.
fn outputs_for_dd(
    script: &str,
    json: bool,
    block_size: u32,
    blocks: u32,
    name: &str,
) -> (String, String) {
    let directory = temp_dir(name);
    let mut dd = PausedDd::spawn(block_size, blocks);
    let script = script.replace("PID", &dd.pid().to_string());
    let mut ours = StdoutTracer::start(bpfscope(), &script, json, &directory, "bpfscope");
    let mut theirs = StdoutTracer::start("bpftrace", &script, json, &directory, "bpftrace");
    // Both announce attaching just before the probes go live; give them a moment.
    std::thread::sleep(Duration::from_millis(1000));
    dd.release_and_wait();
    std::thread::sleep(Duration::from_millis(500));
    let (ours_ok, ours_output, ours_stderr) = ours.stop();
    let (_, theirs_output, _) = theirs.stop();
    assert!(ours_ok, "bpfscope failed on {script}: {ours_stderr}");
    let _ = std::fs::remove_dir_all(&directory);
    if json {
        assert_json_lines_only(&ours_output, &script);
        (ours_output, without_blank_lines(&theirs_output))
    } else {
        (ours_output, theirs_output)
    }
}

fn assert_same_maps_for_dd(script: &str, block_size: u32, blocks: u32, name: &str) {
    for json in [false, true] {
        let (ours, theirs) =
            outputs_for_dd(script, json, block_size, blocks, &format!("{name}-{json}"));
        assert!(
            !ours.trim().is_empty(),
            "bpfscope printed nothing for {script}"
        );
        assert_eq!(
            ours,
            theirs,
            "{} output differs for {script}\n--- bpfscope:\n{ours}\n--- bpftrace 0.17:\n{theirs}",
            if json { "JSON" } else { "text" }
        );
    }
}

#[test]
fn read_syscalls_of_one_process_all_aggregations() {
    if skip_comparison("read_syscalls_of_one_process_all_aggregations") {
        return;
    }
    assert_same_maps_for_dd(
        "tracepoint:syscalls:sys_enter_read /pid == PID/ { \
           @r[args->count] = count(); @h = hist(args->count); @l = lhist(args->count, 0, 10000, 1000); \
           @s = stats(args->count); @a = avg(args->count); @mn = min(args->count); @mx = max(args->count); \
           @sum = sum(args->count); @t[comm, args->fd] = sum(args->count); @n = count(); }",
        4000,
        5,
        "dd-reads",
    );
}

#[test]
fn keyed_histograms_and_return_values_of_one_process() {
    if skip_comparison("keyed_histograms_and_return_values_of_one_process") {
        return;
    }
    assert_same_maps_for_dd(
        "tracepoint:syscalls:sys_enter_read /pid == PID/ { @hf[args->fd] = hist(args->count); } \
         tracepoint:syscalls:sys_exit_read /pid == PID/ { @ret = hist(args->ret); \
           @lr[comm] = lhist(args->ret, 0, 5000, 1000); } \
         tracepoint:syscalls:sys_enter_write /pid == PID/ { @w[args->fd] = sum(args->count); @wc = count(); }",
        3000,
        6,
        "dd-keyed",
    );
}

#[test]
fn map_reads_in_predicates_and_delete_of_one_process() {
    if skip_comparison("map_reads_in_predicates_and_delete_of_one_process") {
        return;
    }
    assert_same_maps_for_dd(
        "tracepoint:syscalls:sys_enter_read /pid == PID/ { @start[tid] = args->count; } \
         tracepoint:syscalls:sys_exit_read /pid == PID && @start[tid]/ { \
           @pairs[@start[tid], args->ret] = sum(args->ret); delete(@start[tid]); } \
         tracepoint:syscalls:sys_exit_read /pid == PID/ { @last = args->ret; @seen[\"exit\"] = sum(1); }",
        2000,
        4,
        "dd-predicates",
    );
}
