//! Prints the disassembly of the lesson's one-liners against the live tracefs (a debugging aid; asserts they compile).

use bpfscope_check::{check, CheckOptions, KernelProbeInfo};
use bpfscope_codegen::{compile, disassemble_program, CodegenOptions};
use bpfscope_probes::KernelFs;

#[test]
fn dump() {
    let Ok(source) = std::env::var("BPFSCOPE_DUMP") else {
        return;
    };
    let (ast, diagnostics) = bpfscope_syntax::parse(&source);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let info = KernelProbeInfo {
        fs: KernelFs::live(),
    };
    let checked = check(&ast, &source, &info, &CheckOptions::default());
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    println!("{}", bpfscope_check::dump::dump_types(&checked.program));
    let compiled = compile(&checked.program, &CodegenOptions::default()).expect("compiles");
    println!("{}", disassemble_program(&compiled, &source));
}
