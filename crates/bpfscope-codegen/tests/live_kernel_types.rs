//! Kernel-type member chains compiled against the running kernel's BTF: one
//! `probe_read_kernel` per hop, and the verifier accepts the program. Needs root and BTF.

use bpfscope_check::{check, CheckOptions, KernelProbeInfo};
use bpfscope_codegen::{compile, disassemble_program, CodegenOptions};
use bpfscope_probes::KernelFs;
use bpfscope_runtime::{Session, SessionOptions};

#[test]
fn parent_tgid_and_comm_read_one_member_per_hop_and_verify() {
    let is_root = std::fs::read_to_string("/proc/self/status")
        .map(|status| status.lines().any(|line| line.starts_with("Uid:\t0\t")))
        .unwrap_or(false);
    if !is_root || !std::path::Path::new("/sys/kernel/btf/vmlinux").exists() {
        eprintln!("skipping: needs root and /sys/kernel/btf/vmlinux");
        return;
    }
    let source = r#"BEGIN { $t = (struct task_struct *)curtask; printf("%d %s\n", $t->parent->tgid, $t->comm); }"#;
    let (ast, diagnostics) = bpfscope_syntax::parse(source);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let info = KernelProbeInfo {
        fs: KernelFs::live(),
    };
    let checked = check(&ast, source, &info, &CheckOptions::default());
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    let compiled = compile(&checked.program, &CodegenOptions::default()).expect("compiles");
    let text = disassemble_program(&compiled, source);
    // parent, then tgid, then comm: three reads, each of the member alone; the `char[16]`
    // comm as a string so the bytes after its NUL stay zero.
    assert_eq!(text.matches("probe_read_kernel").count(), 3, "{text}");
    assert_eq!(text.matches("probe_read_kernel_str").count(), 1, "{text}");
    assert_eq!(text.matches("get_current_task").count(), 1, "{text}");
    if let Err(error) = Session::load(&compiled, SessionOptions::default()) {
        panic!("the kernel refused the program: {error}");
    }
}
