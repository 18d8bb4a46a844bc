//! Kernel types in the checker on fixture BTF: casts, member chains, bitfields, strings,
//! sizeof/offsetof, enums, errors with suggestions, and BTF loaded only when needed.

use std::cell::Cell;
use std::sync::Arc;

use bpfscope_btf::builder::BtfBuilder;
use bpfscope_btf::{Btf, Kind};
use bpfscope_check::{
    check, CheckOptions, CheckOutput, FixtureProbeInfo, ProbeInfo, Type, TypedExpr, TypedExprKind,
    TypedStatementKind,
};
use bpfscope_probes::tracefs::TracepointFormat;
use bpfscope_syntax::BinaryOperator;

/// `struct task_struct` (id 7) of 48 bytes: state, two bitfields, pid, tgid, parent, comm.
fn fixture_btf() -> Btf<'static> {
    let mut builder = BtfBuilder::new();
    let int = builder.int("int", 4, true); // 1
    let unsigned_int = builder.int("unsigned int", 4, false); // 2
    let char_type = builder.int("char", 1, false); // 3
    let pid = builder.reference(Kind::Typedef, "pid_t", int); // 4
    let task_pointer = builder.reference(Kind::Ptr, "", 7); // 5
    let comm = builder.array(char_type, int, 16); // 6
    let task = builder.composite(
        false,
        "task_struct",
        48,
        &[
            ("state", unsigned_int, 0, 0),
            ("flags_low", unsigned_int, 32, 3),
            ("prio_delta", int, 35, 5),
            ("pid", pid, 64, 0),
            ("tgid", pid, 96, 0),
            ("parent", task_pointer, 128, 0),
            ("comm", comm, 192, 0),
        ],
    ); // 7
    assert_eq!(task, 7);
    builder.enumeration(
        "bpf_map_type",
        4,
        false,
        &[("BPF_MAP_TYPE_UNSPEC", 0), ("BPF_MAP_TYPE_HASH", 1)],
    );
    Btf::parse(builder.build()).expect("fixture BTF parses")
}

/// Fixture probe facts that count how often BTF was asked for.
struct CountingInfo {
    inner: FixtureProbeInfo,
    btf_requests: Cell<u32>,
}

impl ProbeInfo for CountingInfo {
    fn tracepoint_format(&self, category: &str, event: &str) -> Result<TracepointFormat, String> {
        self.inner.tracepoint_format(category, event)
    }
    fn expand_tracepoints(&self, pattern: &str) -> Result<Vec<(String, String)>, String> {
        self.inner.expand_tracepoints(pattern)
    }
    fn kernel_btf(&self) -> Result<Arc<Btf<'static>>, String> {
        self.btf_requests.set(self.btf_requests.get() + 1);
        self.inner.kernel_btf()
    }
}

fn run_with(source: &str, with_btf: bool) -> (CheckOutput, u32) {
    let (ast, diagnostics) = bpfscope_syntax::parse(source);
    assert!(diagnostics.is_empty(), "parse: {diagnostics:?}");
    let mut inner = FixtureProbeInfo::default();
    if with_btf {
        inner = inner.with_btf(fixture_btf());
    }
    let info = CountingInfo {
        inner,
        btf_requests: Cell::new(0),
    };
    let output = check(&ast, source, &info, &CheckOptions::default());
    let requests = info.btf_requests.get();
    (output, requests)
}

fn messages(output: &CheckOutput) -> Vec<String> {
    output
        .diagnostics
        .iter()
        .map(|diagnostic| diagnostic.message.clone())
        .collect()
}

/// The values of the first printf (or other emit) in the first probe.
fn emitted_values(output: &CheckOutput) -> Vec<TypedExpr> {
    output.program.probes[0]
        .body
        .iter()
        .find_map(|statement| match &statement.kind {
            TypedStatementKind::Emit { values, .. } => Some(values.clone()),
            _ => None,
        })
        .expect("an emit")
}

/// The byte offset a member read adds to its base: `*(base + offset)`.
fn read_offset(expr: &TypedExpr) -> Option<(i64, &TypedExpr)> {
    let TypedExprKind::Dereference { pointer, .. } = &expr.kind else {
        return None;
    };
    let TypedExprKind::Binary {
        op: BinaryOperator::Add,
        left,
        right,
    } = &pointer.kind
    else {
        return None;
    };
    let TypedExprKind::Integer(offset) = right.kind else {
        return None;
    };
    let TypedExprKind::Cast(base) = &left.kind else {
        return None;
    };
    Some((offset, base))
}

#[test]
fn member_chain_reads_each_hop_at_its_btf_offset() {
    let (output, requests) = run_with(
        r#"BEGIN { $task = (struct task_struct *)curtask; printf("%d %s\n", $task->parent->tgid, curtask->comm); }"#,
        true,
    );
    assert!(!output.has_errors(), "{:?}", messages(&output));
    assert_eq!(requests, 1, "BTF is loaded once");
    let values = emitted_values(&output);
    // tgid: a signed 4-byte int at 12 in the parent, read through `parent` at 16.
    assert_eq!(
        values[0].ty,
        Type::Int {
            bytes: 4,
            signed: true
        }
    );
    let (tgid_offset, parent) = read_offset(&values[0]).expect("tgid read");
    assert_eq!(tgid_offset, 12);
    let (parent_offset, task) = read_offset(parent).expect("parent read");
    assert_eq!(parent_offset, 16);
    assert!(matches!(task.kind, TypedExprKind::Variable(_)));
    assert_eq!(task.ty.to_string(), "struct task_struct *");
    // comm: char[16] as a 16-byte string at 24 of curtask.
    assert_eq!(values[1].ty, Type::Str { capacity: 16 });
    let (comm_offset, _) = read_offset(&values[1]).expect("comm read");
    assert_eq!(comm_offset, 24);
}

#[test]
fn bitfields_are_loaded_then_shifted() {
    let (output, _) = run_with(
        r#"BEGIN { $t = (struct task_struct *)0; printf("%d %d\n", $t->flags_low, $t->prio_delta); }"#,
        true,
    );
    assert!(!output.has_errors(), "{:?}", messages(&output));
    let values = emitted_values(&output);
    for (value, shifts, signed) in [(&values[0], (61, 61), false), (&values[1], (56, 59), true)] {
        let TypedExprKind::Binary {
            op: BinaryOperator::ShiftRight,
            left,
            right,
        } = &value.kind
        else {
            panic!("not a shift: {value:?}");
        };
        assert_eq!(
            value.ty.is_signed(),
            signed,
            "arithmetic shift for signed fields"
        );
        assert!(matches!(right.kind, TypedExprKind::Integer(bits) if bits == shifts.1));
        let TypedExprKind::Binary {
            op: BinaryOperator::ShiftLeft,
            left: loaded,
            right: left_bits,
        } = &left.kind
        else {
            panic!("no left shift: {left:?}");
        };
        assert!(matches!(left_bits.kind, TypedExprKind::Integer(bits) if bits == shifts.0));
        // Both fields start in byte 4 of the struct.
        assert_eq!(read_offset(loaded).map(|(offset, _)| offset), Some(4));
    }
}

#[test]
fn sizeof_offsetof_enums_and_script_structs() {
    let (output, _) = run_with(
        r#"struct pair { int a; char b[3]; long c; };
BEGIN { printf("%d %d %d %d %d %s\n", sizeof(struct task_struct), offsetof(struct task_struct, comm),
  BPF_MAP_TYPE_HASH, sizeof(struct pair), offsetof(struct pair, c), ((struct pair *)0)->b); }"#,
        true,
    );
    assert!(!output.has_errors(), "{:?}", messages(&output));
    let values = emitted_values(&output);
    let integers: Vec<Option<i64>> = values
        .iter()
        .take(5)
        .map(|value| match value.kind {
            TypedExprKind::Integer(number) => Some(number),
            _ => None,
        })
        .collect();
    assert_eq!(
        integers,
        vec![Some(48), Some(24), Some(1), Some(16), Some(8)]
    );
    assert_eq!(values[5].ty, Type::Str { capacity: 3 });
}

#[test]
fn pointer_arithmetic_steps_by_the_struct_size() {
    let (output, _) = run_with(
        r#"BEGIN { $t = (struct task_struct *)1000; printf("%d %d\n", ($t + 2)->pid, $t[1].tgid); }"#,
        true,
    );
    assert!(!output.has_errors(), "{:?}", messages(&output));
    let values = emitted_values(&output);
    for value in &values {
        let (_, base) = read_offset(value).expect("member read");
        let TypedExprKind::Binary { left, .. } = &base.kind else {
            panic!("no pointer arithmetic: {base:?}");
        };
        // Codegen scales by the pointee's size: it must be the struct's 48 bytes.
        let Type::Pointer { pointee, .. } = &left.ty else {
            panic!("left side is not the pointer: {left:?}");
        };
        assert_eq!(pointee.size(), 48);
    }
}

#[test]
fn unknown_members_and_types_get_suggestions() {
    let (output, _) = run_with(
        r#"BEGIN { printf("%d %d\n", curtask->tgdi, ((struct task_strut *)0)->pid); }"#,
        true,
    );
    let texts = messages(&output);
    assert!(
        texts.contains(&"no member 'tgdi' in struct task_struct; did you mean 'tgid'?".to_string()),
        "{texts:?}"
    );
    assert!(
        texts.iter().any(|text| text
            .contains("unknown type 'struct task_strut'; did you mean 'struct task_struct'?")),
        "{texts:?}"
    );
}

#[test]
fn btf_is_loaded_only_when_kernel_types_are_used() {
    let (output, requests) = run_with(
        r#"BEGIN { printf("%d %d\n", pid, curtask); $x = (uint32)5; exit(); }"#,
        true,
    );
    assert!(!output.has_errors(), "{:?}", messages(&output));
    assert_eq!(requests, 0);
    let (output, _) = run_with(r#"BEGIN { printf("%d\n", curtask->pid); }"#, false);
    let texts = messages(&output);
    assert!(
        texts
            .iter()
            .any(|text| text.contains("kernel types need the kernel's BTF")),
        "{texts:?}"
    );
}
