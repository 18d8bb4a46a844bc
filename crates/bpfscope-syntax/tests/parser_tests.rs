//! Parser tests: printed AST and rendered diagnostics compared with expected text.

use bpfscope_syntax::{parse, print_program, render_all};

/// Parses `source`, asserts there is no diagnostic, and compares the printed tree.
fn check_ast(source: &str, expected: &str) {
    let (program, diagnostics) = parse(source);
    let rendered = render_all(&diagnostics, "stdin", source);
    assert!(rendered.is_empty(), "unexpected diagnostics:\n{rendered}");
    let actual = print_program(&program);
    let expected = expected.trim_start_matches('\n');
    assert_eq!(actual, expected, "\n--- actual ---\n{actual}--- expected ---\n{expected}");
}

/// Parses `source` and compares all rendered diagnostics.
fn check_errors(source: &str, expected: &str) {
    let (_, diagnostics) = parse(source);
    let actual = render_all(&diagnostics, "stdin", source);
    let expected = expected.trim_start_matches('\n');
    assert_eq!(actual, expected, "\n--- actual ---\n{actual}--- expected ---\n{expected}");
}

