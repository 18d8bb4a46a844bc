//! Temporary: dumps parser output for inspection.
#[test]
fn dump() {
    let source = std::env::var("SRC").unwrap_or_default();
    let (program, diagnostics) = bpfscope_syntax::parse(&source);
    print!("{}", bpfscope_syntax::print_program(&program));
    print!("{}", bpfscope_syntax::render_all(&diagnostics, "stdin", &source));
}
