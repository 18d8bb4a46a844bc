//! `strcontains` with a literal needle on a 1024-byte string loads (a bounded loop, not an
//! unrolled comparison at every start position) and finds the needle anywhere in it.

mod support;

use std::process::Command;

use support::*;

#[test]
fn a_literal_needle_in_a_1024_byte_string_loads_and_matches() {
    if skip_unless_root("a_literal_needle_in_a_1024_byte_string_loads_and_matches") {
        return;
    }
    // A path of about 450 bytes whose 11-byte needle sits at its end, far past where a
    // 64-byte string would stop.
    let directory = temp_dir("strcontains-long").join("a".repeat(200));
    std::fs::create_dir_all(&directory).expect("long directory");
    let file = directory.join(format!("{}tail-needle", "b".repeat(200)));
    std::fs::write(&file, "x\n").expect("long file");
    let file_text = file.to_string_lossy().into_owned();
    assert!(file_text.len() > 400, "{file_text}");
    let script = r#"tracepoint:syscalls:sys_enter_openat /pid == cpid/ {
  $s = str(args.filename);
  if (strcontains($s, "tail-needle")) { @tail = count(); }
  if (strcontains($s, "etc/hostnam")) { @hostname = count(); }
  if (strcontains($s, "not-present")) { @missing = count(); }
}"#;
    let command = format!("/bin/cat /etc/hostname {file_text}");
    let output = Command::new(bpfscope())
        .env("BPFSCOPE_STRLEN", "1024")
        .args(["-c", &command, "-e", script])
        .output()
        .expect("bpfscope runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let _ = std::fs::remove_file(&file);
    assert!(
        output.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines.contains(&"@tail: 1"), "{stdout}");
    assert!(lines.contains(&"@hostname: 1"), "{stdout}");
    assert!(!stdout.contains("@missing"), "{stdout}");
}
