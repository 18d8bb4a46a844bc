//! Temporaries give their stack back after each statement: long scripts fit the 512-byte frame.

mod support;

use support::*;

#[test]
fn two_hundred_string_map_assignments_in_one_begin_load_and_run() {
    if skip_unless_root("two_hundred_string_map_assignments_in_one_begin_load_and_run") {
        return;
    }
    let mut script = String::from("BEGIN {\n");
    for index in 0..200 {
        script.push_str(&format!("  @m[\"key{index}\"] = \"value{index}\";\n"));
    }
    script.push_str("  exit();\n}\n");
    let output = run(&["-e", &script]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    let entries: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with("@m["))
        .collect();
    assert_eq!(entries.len(), 200, "{stdout}");
    for index in [0, 99, 199] {
        let expected = format!("@m[key{index}]: value{index}");
        assert!(
            entries.contains(&expected.as_str()),
            "no {expected:?} in:\n{stdout}"
        );
    }
}

#[test]
fn the_branches_of_an_if_share_their_temporaries_stack() {
    if skip_unless_root("the_branches_of_an_if_share_their_temporaries_stack") {
        return;
    }
    // Each branch alone needs most of the frame; together they would not fit without reuse.
    let mut then_branch = String::new();
    let mut else_branch = String::new();
    for index in 0..60 {
        then_branch.push_str(&format!(
            "@a[\"then-key-{index}\", {index}] = \"then-value-{index}\"; "
        ));
        else_branch.push_str(&format!(
            "@b[\"else-key-{index}\", {index}] = \"else-value-{index}\"; "
        ));
    }
    let script = format!(
        "BEGIN {{ if (pid > 0) {{ {then_branch} }} else {{ {else_branch} }} \
         printf(\"a=%d\\n\", len(@a)); clear(@a); exit(); }}"
    );
    let output = run(&["-e", &script]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.lines().any(|line| line == "a=60"), "{stdout}");
}
