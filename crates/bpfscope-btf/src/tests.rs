//! Unit tests on hand-assembled BTF blobs, plus live checks against the running kernel's BTF.

use super::*;
use crate::builder::BtfBuilder;
use std::sync::Arc;

/// A small kernel-like world: ints, typedefs, a file struct, `vfs_read`, a task struct with an
/// anonymous union and bitfields, enums, a function pointer member.
struct Sample {
    bytes: Vec<u8>,
    int: u32,
    char_type: u32,
    file: u32,
    task: u32,
    vfs_read: u32,
    handler: u32,
    state_enum: u32,
    big_enum: u32,
}

fn sample() -> Sample {
    let mut b = BtfBuilder::new();
    let int = b.int("int", 4, true); // 1
    let char_type = b.int("char", 1, true); // 2
    let long = b.int("long int", 8, true); // 3
    let ulong = b.int("long unsigned int", 8, false); // 4
    let size_t = b.reference(Kind::Typedef, "size_t", ulong);
    let ssize_t = b.reference(Kind::Typedef, "ssize_t", long);
    let loff_t = b.reference(Kind::Typedef, "loff_t", long);
    let file = b.composite(
        false,
        "file",
        16,
        &[("f_flags", int, 0, 0), ("f_pos", loff_t, 64, 0)],
    );
    let file_ptr = b.reference(Kind::Ptr, "", file);
    let char_ptr = b.reference(Kind::Ptr, "", char_type);
    let loff_ptr = b.reference(Kind::Ptr, "", loff_t);
    let proto = b.func_proto(
        ssize_t,
        &[
            ("file", file_ptr),
            ("buf", char_ptr),
            ("count", size_t),
            ("pos", loff_ptr),
        ],
    );
    let vfs_read = b.func("vfs_read", proto, 1);
    // const char *const *argv
    let const_char = b.reference(Kind::Const, "", char_type);
    let const_char_ptr = b.reference(Kind::Ptr, "", const_char);
    let const_ptr = b.reference(Kind::Const, "", const_char_ptr);
    let argv_type = b.reference(Kind::Ptr, "", const_ptr);
    let exec_proto = b.func_proto(int, &[("filename", const_char_ptr), ("argv", argv_type)]);
    b.func("do_execve", exec_proto, 0);
    // void (*handler)(int, ...)
    let handler_proto = b.func_proto(0, &[("sig", int), ("", 0)]);
    let handler = b.reference(Kind::Ptr, "", handler_proto);
    let comm = b.array(char_type, int, 16);
    let state_enum = b.enumeration("task_state", 4, false, &[("RUNNING", 0), ("SLEEPING", 1)]);
    let big_enum = b.enumeration64("big", &[("HUGE", 1 << 40), ("SMALL", 3)]);
    let task_ptr_fwd = b.reference(Kind::Fwd, "task_struct", 0);
    let parent = b.reference(Kind::Ptr, "", task_ptr_fwd);
    let anon = b.composite(
        true,
        "",
        8,
        &[("pid_alias", int, 0, 0), ("raw", long, 0, 0)],
    );
    let task = b.composite(
        false,
        "task_struct",
        64,
        &[
            ("state", state_enum, 0, 0),
            ("flag_a", int, 32, 1),
            ("flag_b", int, 33, 3),
            ("", anon, 64, 0),
            ("parent", parent, 128, 0),
            ("tgid", int, 192, 0),
            ("comm", comm, 224, 0),
            ("handler", handler, 384, 0),
        ],
    );
    Sample {
        bytes: b.build(),
        int,
        char_type,
        file,
        task,
        vfs_read,
        handler: handler_proto,
        state_enum,
        big_enum,
    }
}

#[test]
fn parses_and_finds_by_name() {
    let sample = sample();
    let btf = Btf::parse(&sample.bytes[..]).unwrap();
    assert_eq!(btf.find(Kind::Int, "int"), Some(TypeId(sample.int)));
    assert_eq!(btf.find(Kind::Struct, "file"), Some(TypeId(sample.file)));
    assert_eq!(btf.find(Kind::Struct, "nope"), None);
    assert_eq!(
        btf.find_c_type("struct task_struct"),
        Some(TypeId(sample.task))
    );
    assert_eq!(btf.find_c_type("enum big"), Some(TypeId(sample.big_enum)));
    assert_eq!(btf.find_c_type("union task_struct"), None);
    assert_eq!(btf.function_count(), 2);
    let names: Vec<&str> = btf
        .functions()
        .map(|function| function.unwrap().name)
        .collect();
    assert_eq!(names, ["vfs_read", "do_execve"]);
    let function = btf.function(TypeId(sample.vfs_read)).unwrap();
    assert_eq!(function.linkage, Linkage::Global);
    assert_eq!(
        btf.type_by_id(TypeId(sample.char_type)).unwrap().name,
        "char"
    );
    assert_eq!(btf.pointer_size(), 8);
}

#[test]
fn prototypes_render_like_libbpf() {
    let sample = sample();
    let btf = Btf::parse(sample.bytes.clone()).unwrap();
    let proto = btf.func_proto(TypeId(sample.vfs_read)).unwrap();
    let rendered: Vec<String> = proto
        .params
        .iter()
        .map(|param| format!("{} {}", btf.type_name(param.ty).unwrap(), param.name))
        .collect();
    assert_eq!(
        rendered,
        [
            "struct file * file",
            "char * buf",
            "size_t count",
            "loff_t * pos"
        ]
    );
    assert_eq!(btf.type_name(proto.return_type).unwrap(), "ssize_t");
    let execve = btf.find(Kind::Func, "do_execve").unwrap();
    let proto = btf.func_proto(execve).unwrap();
    assert_eq!(
        btf.type_name(proto.params[1].ty).unwrap(),
        "const char * const *"
    );
    assert_eq!(
        btf.decl(proto.params[1].ty, "argv").unwrap(),
        "const char * const *argv"
    );
    assert_eq!(
        btf.definition(execve).unwrap(),
        "int do_execve(const char *filename, const char * const *argv);"
    );
    let handler_ptr = btf
        .find_member(TypeId(sample.task), "handler")
        .unwrap()
        .unwrap()
        .ty;
    assert_eq!(
        btf.decl(handler_ptr, "cb").unwrap(),
        "void (*cb)(int sig, ...)"
    );
    assert_eq!(
        btf.type_name(handler_ptr).unwrap(),
        "void (*)(int sig, ...)"
    );
    let handler_proto = btf.func_proto(TypeId(sample.handler)).unwrap();
    assert!(handler_proto.variadic);
    let comm = btf
        .find_member(TypeId(sample.task), "comm")
        .unwrap()
        .unwrap()
        .ty;
    assert_eq!(btf.decl(comm, "comm").unwrap(), "char comm[16]");
    assert_eq!(btf.type_name(comm).unwrap(), "char[16]");
}

#[test]
fn struct_layout_sizes_and_members() {
    let sample = sample();
    let btf = Btf::parse(&sample.bytes[..]).unwrap();
    let task = TypeId(sample.task);
    assert_eq!(btf.size_of(task).unwrap(), 64);
    assert_eq!(btf.align_of(task).unwrap(), 8);
    let members = btf.members(task).unwrap();
    assert_eq!(members.len(), 8);
    assert_eq!(
        (
            members[1].name,
            members[1].bit_offset,
            members[1].bitfield_size
        ),
        ("flag_a", 32, 1)
    );
    assert_eq!(
        (
            members[2].name,
            members[2].bit_offset,
            members[2].bitfield_size
        ),
        ("flag_b", 33, 3)
    );
    let parent = btf.find_member(task, "parent").unwrap().unwrap();
    assert_eq!(parent.byte_offset(), 16);
    assert_eq!(btf.size_of(parent.ty).unwrap(), 8);
    assert_eq!(
        btf.find_member(task, "tgid")
            .unwrap()
            .unwrap()
            .byte_offset(),
        24
    );
    // Through the anonymous union at byte 8.
    let raw = btf.find_member(task, "raw").unwrap().unwrap();
    assert_eq!(raw.bit_offset, 64);
    assert!(btf.find_member(task, "missing").unwrap().is_none());
    let comm = btf.find_member(task, "comm").unwrap().unwrap();
    assert_eq!(btf.size_of(comm.ty).unwrap(), 16);
    assert_eq!(btf.array(comm.ty).unwrap().count, 16);
    let enum_info = btf.enum_info(TypeId(sample.big_enum)).unwrap();
    assert_eq!(enum_info.values[0].value, 1 << 40);
    let size_t = btf.find(Kind::Typedef, "size_t").unwrap();
    assert_eq!(btf.kind(btf.resolve(size_t).unwrap()).unwrap(), Kind::Int);
    assert!(!btf.int_info(btf.resolve(size_t).unwrap()).unwrap().signed);
    assert!(btf.members(TypeId(sample.state_enum)).is_err());
}

#[test]
fn definitions_render_like_bpftool() {
    let sample = sample();
    let btf = Btf::parse(&sample.bytes[..]).unwrap();
    let expected = "struct task_struct {\n\
        \tenum task_state state;\n\
        \tint flag_a: 1;\n\
        \tint flag_b: 3;\n\
        \tunion {\n\
        \t\tint pid_alias;\n\
        \t\tlong int raw;\n\
        \t};\n\
        \tstruct task_struct *parent;\n\
        \tint tgid;\n\
        \tchar comm[16];\n\
        \tvoid (*handler)(int sig, ...);\n\
        \tlong: 64;\n\
        };";
    assert_eq!(btf.definition(TypeId(sample.task)).unwrap(), expected);
    assert_eq!(
        btf.definition(TypeId(sample.state_enum)).unwrap(),
        "enum task_state {\n\tRUNNING = 0,\n\tSLEEPING = 1,\n};"
    );
    assert_eq!(
        btf.definition(TypeId(sample.big_enum)).unwrap(),
        "enum big {\n\tHUGE = 1099511627776ULL,\n\tSMALL = 3ULL,\n};"
    );
    assert_eq!(
        btf.definition(btf.find(Kind::Typedef, "size_t").unwrap())
            .unwrap(),
        "typedef long unsigned int size_t;"
    );
}

#[test]
fn split_btf_continues_ids_and_strings() {
    let sample = sample();
    let base = Arc::new(Btf::parse(sample.bytes.clone()).unwrap());
    let base_strings = base.strings_end_offset().unwrap();
    let mut split = BtfBuilder::split(base.next_id() - 1, base_strings);
    let file_ptr = base.find_all("file")[0];
    let ptr = split.reference(Kind::Ptr, "", file_ptr.0);
    // Reuses a base string offset for the param name: "file".
    let proto = split.func_proto(sample.int, &[("file", ptr)]);
    let function = split.func("mod_open", proto, 0);
    let module = Btf::parse_split(split.build(), base.clone()).unwrap();
    assert_eq!(module.first_own_id(), TypeId(base.next_id()));
    assert_eq!(module.function_count(), 1);
    let found = module.functions().next().unwrap().unwrap();
    assert_eq!((found.id, found.name), (TypeId(function), "mod_open"));
    let params = module.func_proto(found.id).unwrap().params;
    assert_eq!(module.type_name(params[0].ty).unwrap(), "struct file *");
    assert_eq!(
        module.find(Kind::Struct, "task_struct"),
        Some(TypeId(sample.task))
    );
    assert_eq!(module.find(Kind::Func, "mod_open"), Some(TypeId(function)));
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    let bytes = sample().bytes;
    for cut in 0..bytes.len() {
        let _ = Btf::parse(&bytes[..cut]).map(|btf| exercise(&btf));
    }
    // Flip each byte of the blob in turn and use whatever still parses.
    for position in 0..bytes.len() {
        for flip in [0xff, 0x80, 0x01] {
            let mut broken = bytes.clone();
            broken[position] ^= flip;
            if let Ok(btf) = Btf::parse(&broken[..]) {
                exercise(&btf);
            }
        }
    }
    assert!(matches!(
        Btf::parse(&b"hello world, not BTF at all"[..]),
        Err(BtfError::BadMagic { .. })
    ));
    assert!(matches!(
        Btf::parse(&bytes[..10]),
        Err(BtfError::Truncated { .. })
    ));
}

#[test]
fn self_referencing_types_stop() {
    let mut b = BtfBuilder::new();
    // typedef a -> typedef b -> typedef a: a loop only garbage BTF has.
    b.reference(Kind::Typedef, "a", 2);
    b.reference(Kind::Typedef, "b", 1);
    // An anonymous struct containing itself.
    b.composite(false, "", 8, &[("x", 3, 0, 0)]);
    let btf = Btf::parse(b.build()).unwrap();
    assert!(matches!(
        btf.resolve(TypeId(1)),
        Err(BtfError::TooDeep { .. })
    ));
    assert!(btf.size_of(TypeId(1)).is_err());
    // A typedef renders as its name without following it.
    assert_eq!(btf.type_name(TypeId(1)).unwrap(), "a");
    assert!(btf.definition(TypeId(3)).is_err());
}

/// Calls every accessor on every type; only errors are allowed, never panics or hangs.
pub(crate) fn exercise(btf: &Btf<'_>) {
    for id in btf.type_ids().chain([TypeId(0), TypeId(u32::MAX)]) {
        let _ = btf.type_by_id(id);
        let _ = btf.resolve(id);
        let _ = btf.size_of(id);
        let _ = btf.align_of(id);
        let _ = btf.members(id);
        let _ = btf.func_proto(id);
        let _ = btf.enum_info(id);
        let _ = btf.int_info(id);
        let _ = btf.array(id);
        let _ = btf.type_name(id);
        let _ = btf.definition(id);
        let _ = btf.find_member(id, "x");
    }
    for function in btf.functions() {
        let _ = function;
    }
    let _ = btf.find(Kind::Struct, "task_struct");
}

/// The live kernel's BTF, or None (with a printed reason) where there is none.
fn live_vmlinux() -> Option<Vec<u8>> {
    match std::fs::read("/sys/kernel/btf/vmlinux") {
        Ok(bytes) => Some(bytes),
        Err(error) => {
            eprintln!("skipping: cannot read /sys/kernel/btf/vmlinux: {error}");
            None
        }
    }
}

#[test]
fn live_vfs_read_prototype() {
    let Some(bytes) = live_vmlinux() else { return };
    let btf = Btf::parse(&bytes[..]).unwrap();
    let vfs_read = btf
        .find(Kind::Func, "vfs_read")
        .expect("vfs_read in vmlinux BTF");
    let proto = btf.func_proto(vfs_read).unwrap();
    let rendered: Vec<String> = proto
        .params
        .iter()
        .map(|param| format!("{} {}", btf.type_name(param.ty).unwrap(), param.name))
        .collect();
    assert_eq!(
        rendered,
        [
            "struct file * file",
            "char * buf",
            "size_t count",
            "loff_t * pos"
        ]
    );
    assert_eq!(btf.type_name(proto.return_type).unwrap(), "ssize_t");
    assert!(
        btf.function_count() > 10_000,
        "only {} FUNCs",
        btf.function_count()
    );
    // Every FUNC prototype renders.
    for function in btf.functions() {
        let function = function.unwrap();
        let proto = btf.func_proto(function.proto).unwrap();
        for param in proto.params {
            btf.type_name(param.ty).unwrap();
        }
    }
}

#[test]
fn live_task_struct_offsets_match_bpftool() {
    let Some(bytes) = live_vmlinux() else { return };
    let btf = Btf::parse(&bytes[..]).unwrap();
    let task = btf.find_c_type("struct task_struct").unwrap();
    let parent = btf.find_member(task, "parent").unwrap().unwrap();
    let tgid = btf.find_member(task, "tgid").unwrap().unwrap();
    assert_eq!(btf.type_name(parent.ty).unwrap(), "struct task_struct *");
    assert_eq!(btf.type_name(tgid.ty).unwrap(), "pid_t");
    assert_eq!(btf.size_of(tgid.ty).unwrap(), 4);
    // Cross-check with bpftool's raw dump when it is installed.
    let Ok(output) = std::process::Command::new("bpftool")
        .args([
            "btf",
            "dump",
            "file",
            "/sys/kernel/btf/vmlinux",
            "format",
            "raw",
        ])
        .output()
    else {
        eprintln!("skipping bpftool comparison: bpftool not runnable");
        return;
    };
    let text = String::from_utf8_lossy(&output.stdout);
    let header = format!("[{}] STRUCT 'task_struct'", task.0);
    let mut lines = text.lines().skip_while(|line| !line.starts_with(&header));
    assert!(lines.next().is_some(), "bpftool shows no {header}");
    let mut offsets = std::collections::HashMap::new();
    for line in lines.take_while(|line| line.starts_with('\t')) {
        let name = line
            .trim()
            .split('\'')
            .nth(1)
            .unwrap_or_default()
            .to_string();
        let bits = line
            .split("bits_offset=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next());
        if let Some(bits) = bits.and_then(|bits| bits.parse::<u32>().ok()) {
            offsets.insert(name, bits);
        }
    }
    assert_eq!(
        offsets.get("parent"),
        Some(&parent.bit_offset),
        "parent offset"
    );
    assert_eq!(offsets.get("tgid"), Some(&tgid.bit_offset), "tgid offset");
}

#[test]
#[ignore = "timing print; run with --ignored --nocapture"]
fn live_timing_all_prototypes() {
    let Some(bytes) = live_vmlinux() else { return };
    let start = std::time::Instant::now();
    let btf = Btf::parse(&bytes[..]).unwrap();
    let parsed = start.elapsed();
    let mut out = String::new();
    let mut count = 0;
    for function in btf.functions() {
        let function = function.unwrap();
        let proto = btf.func_proto(function.proto).unwrap();
        for param in proto.params {
            btf.decl_into(&mut out, param.ty, "").unwrap();
            out.push(' ');
            out.push_str(param.name);
            out.push('\n');
            count += 1;
        }
    }
    let rendered = start.elapsed();
    let task = btf.find_c_type("struct task_struct").unwrap();
    let indexed = start.elapsed();
    let definition = btf.definition(task).unwrap();
    eprintln!(
        "parse {parsed:?}, render {count} params of {} funcs {:?} ({} bytes), name index {:?}, task_struct definition {} bytes {:?}",
        btf.function_count(),
        rendered - parsed,
        out.len(),
        indexed - rendered,
        definition.len(),
        start.elapsed() - indexed
    );
}

#[test]
#[ignore = "writes definitions to $BTF_DEFS_OUT for a diff against bpftool"]
fn live_dump_definitions_for_comparison() {
    let Some(bytes) = live_vmlinux() else { return };
    let Ok(target) = std::env::var("BTF_DEFS_OUT") else {
        return;
    };
    let btf = Btf::parse(&bytes[..]).unwrap();
    let mut out = String::new();
    for id in btf.type_ids() {
        let Ok(kind) = btf.kind(id) else { continue };
        if matches!(kind, Kind::Struct | Kind::Union | Kind::Enum | Kind::Enum64)
            && !btf.name_of(id).unwrap().is_empty()
        {
            out.push_str(&btf.definition(id).unwrap());
            out.push('\n');
        }
    }
    std::fs::write(target, out).unwrap();
}
