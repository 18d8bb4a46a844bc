//! Live tests on this kernel's BTF, checked against `bpftool btf dump ... format raw`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use bpfscope_btf::{Btf, TypeId};

use crate::{CType, DefinitionOrigin, KernelTypes};

const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

/// One type of bpftool's raw dump.
#[derive(Debug, Default)]
struct RawDumpType {
    kind: String,
    name: String,
    attributes: HashMap<String, String>,
    /// (name, type id, bit offset, bitfield size)
    members: Vec<(String, u32, u32, u32)>,
}

fn load_vmlinux() -> Option<Arc<Btf<'static>>> {
    let bytes = match std::fs::read(VMLINUX) {
        Ok(bytes) => bytes,
        Err(error) => {
            println!("skipped: cannot read {VMLINUX}: {error}");
            return None;
        }
    };
    match Btf::parse(bytes) {
        Ok(btf) => Some(Arc::new(btf)),
        Err(error) => panic!("{VMLINUX} does not parse: {error}"),
    }
}

fn bpftool_dump() -> Option<HashMap<u32, RawDumpType>> {
    let output = match std::process::Command::new("bpftool")
        .args(["btf", "dump", "file", VMLINUX, "format", "raw"])
        .output()
    {
        Ok(output) if output.status.success() => output,
        Ok(output) => {
            println!(
                "skipped: bpftool failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            return None;
        }
        Err(error) => {
            println!("skipped: bpftool is not available: {error}");
            return None;
        }
    };
    let text = String::from_utf8_lossy(&output.stdout);
    let mut types: HashMap<u32, RawDumpType> = HashMap::new();
    let mut current: Option<u32> = None;
    for line in text.lines() {
        if let Some(member_line) = line.strip_prefix('\t') {
            let Some(id) = current else { continue };
            let mut words = member_line.split_whitespace();
            let name = words.next().unwrap_or("").trim_matches('\'').to_string();
            let fields: HashMap<&str, u32> = words
                .filter_map(|word| word.split_once('='))
                .filter_map(|(key, value)| Some((key, value.parse().ok()?)))
                .collect();
            if let (Some(entry), Some(ty), Some(offset)) = (
                types.get_mut(&id),
                fields.get("type_id"),
                fields.get("bits_offset"),
            ) {
                let bits = fields.get("bitfield_size").copied().unwrap_or(0);
                let name = if name == "(anon)" {
                    String::new()
                } else {
                    name
                };
                entry.members.push((name, *ty, *offset, bits));
            }
            continue;
        }
        let Some(rest) = line.strip_prefix('[') else {
            current = None;
            continue;
        };
        let Some((id, rest)) = rest.split_once("] ") else {
            continue;
        };
        let Ok(id) = id.parse::<u32>() else { continue };
        let mut words = rest.splitn(3, ' ');
        let kind = words.next().unwrap_or("").to_string();
        let name = words.next().unwrap_or("").trim_matches('\'').to_string();
        let attributes = words
            .next()
            .unwrap_or("")
            .split_whitespace()
            .filter_map(|word| word.split_once('='))
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        types.insert(
            id,
            RawDumpType {
                kind,
                name: if name == "(anon)" {
                    String::new()
                } else {
                    name
                },
                attributes,
                members: Vec::new(),
            },
        );
        current = Some(id);
    }
    Some(types)
}

/// Follows typedefs and qualifiers in the dump.
fn dump_resolve(dump: &HashMap<u32, RawDumpType>, mut id: u32) -> u32 {
    for _ in 0..64 {
        match dump.get(&id) {
            Some(entry)
                if matches!(
                    entry.kind.as_str(),
                    "TYPEDEF" | "CONST" | "VOLATILE" | "RESTRICT" | "TYPE_TAG"
                ) =>
            {
                id = entry
                    .attributes
                    .get("type_id")
                    .and_then(|value| value.parse().ok())
                    .unwrap_or(0);
            }
            _ => return id,
        }
    }
    id
}

/// `sizeof` computed from the dump alone.
fn dump_size(dump: &HashMap<u32, RawDumpType>, id: u32) -> Option<u64> {
    let resolved = dump_resolve(dump, id);
    let entry = dump.get(&resolved)?;
    let attribute = |key: &str| -> Option<u64> { entry.attributes.get(key)?.parse().ok() };
    match entry.kind.as_str() {
        "PTR" => Some(8),
        "ARRAY" => Some(dump_size(dump, attribute("type_id")? as u32)? * attribute("nr_elems")?),
        _ => attribute("size"),
    }
}

fn dump_find_struct(dump: &HashMap<u32, RawDumpType>, name: &str) -> Option<u32> {
    dump.iter()
        .filter(|(_, entry)| entry.kind == "STRUCT" && entry.name == name)
        .max_by_key(|(_, entry)| entry.members.len())
        .map(|(id, _)| *id)
}

/// A member's absolute bit offset, looking into anonymous members as C does.
fn dump_find_member(
    dump: &HashMap<u32, RawDumpType>,
    record: u32,
    name: &str,
) -> Option<(u32, u32, u32)> {
    let entry = dump.get(&dump_resolve(dump, record))?;
    if let Some((_, ty, offset, bits)) = entry.members.iter().find(|member| member.0 == name) {
        return Some((*ty, *offset, *bits));
    }
    for (member_name, ty, offset, _) in &entry.members {
        if member_name.is_empty() {
            if let Some((found_ty, found_offset, bits)) = dump_find_member(dump, *ty, name) {
                return Some((found_ty, found_offset + offset, bits));
            }
        }
    }
    None
}

#[test]
fn task_struct_chain_resolves_and_is_fast() {
    let started = Instant::now();
    let Some(btf) = load_vmlinux() else { return };
    let loaded = started.elapsed();
    let types = KernelTypes::new(btf);
    let chain_started = Instant::now();
    let task = types
        .resolve_type_name("struct task_struct *")
        .expect("struct task_struct * on this kernel");
    let parent = types.member(&task, "parent").expect("task->parent");
    let pid = types.member(&parent.ty, "pid").expect("task->parent->pid");
    let tgid = types
        .member(&parent.ty, "tgid")
        .expect("task->parent->tgid");
    let first_chain = chain_started.elapsed();
    let again_started = Instant::now();
    let again = types
        .member(&types.member(&task, "parent").expect("parent").ty, "tgid")
        .expect("again");
    let second_chain = again_started.elapsed();
    println!(
        "vmlinux read+parse {loaded:?}; first `(struct task_struct *)curtask->parent->pid/tgid` \
         resolution (builds the name index) {first_chain:?}; again {second_chain:?}"
    );
    assert_eq!(parent.ty, task, "parent is a struct task_struct *");
    assert_eq!(parent.ty.to_string(), "struct task_struct *");
    assert_eq!(pid.ty, CType::int(4, true), "pid_t is int");
    assert_eq!(tgid.ty, CType::int(4, true));
    assert_eq!(again, tgid);
    assert_eq!(pid.bitfield, None);
    assert_eq!(tgid.byte_offset, pid.byte_offset + 4);
    let comm = types.member(&task, "comm").expect("comm");
    assert!(comm.ty.is_char_array(), "comm is {}", comm.ty);
}

#[test]
fn task_struct_members_match_bpftool() {
    let Some(btf) = load_vmlinux() else { return };
    let Some(dump) = bpftool_dump() else { return };
    let types = KernelTypes::new(btf);
    let task = types
        .resolve_type_name("struct task_struct")
        .expect("task_struct");
    let dump_task = dump_find_struct(&dump, "task_struct").expect("bpftool shows task_struct");
    assert_eq!(
        task.record().map(|record| record.origin),
        Some(DefinitionOrigin::Btf(TypeId(dump_task)))
    );
    let dump_entry = dump.get(&dump_task).expect("entry");
    assert_eq!(
        Some(task.size()),
        dump_entry
            .attributes
            .get("size")
            .and_then(|size| size.parse().ok())
    );
    let mut checked = 0;
    for (name, ty, bit_offset, bits) in &dump_entry.members {
        if name.is_empty() {
            continue;
        }
        let access = types.member(&task, name).expect("member bpftool lists");
        assert_eq!(
            access.byte_offset,
            bit_offset / 8,
            "offset of task_struct.{name}"
        );
        assert_eq!(
            access
                .bitfield
                .map(|field| u32::from(field.bits))
                .unwrap_or(0),
            *bits,
            "bitfield width of task_struct.{name}"
        );
        if let Some(field) = access.bitfield {
            assert_eq!(u32::from(field.bit_in_load), bit_offset % 8, "{name}");
        }
        assert_eq!(
            Some(access.ty.size()),
            dump_size(&dump, *ty),
            "size of task_struct.{name}"
        );
        checked += 1;
    }
    assert!(checked > 50, "only {checked} members checked");
    println!("checked {checked} task_struct members against bpftool");

    // The chain's types, spelled out by bpftool: parent is PTR -> STRUCT task_struct; tgid is
    // a typedef chain ending in INT 'int' size=4 SIGNED.
    let (parent_type, _, _) = dump_find_member(&dump, dump_task, "parent").expect("parent");
    let parent_entry = dump
        .get(&dump_resolve(&dump, parent_type))
        .expect("parent type");
    assert_eq!(parent_entry.kind, "PTR");
    let pointee = parent_entry
        .attributes
        .get("type_id")
        .and_then(|id| id.parse::<u32>().ok());
    let pointee = pointee.map(|id| dump_resolve(&dump, id)).expect("pointee");
    assert_eq!(
        dump.get(&pointee).map(|entry| entry.name.as_str()),
        Some("task_struct")
    );
    let parent = types.member(&task, "parent").expect("parent");
    assert_eq!(
        parent
            .ty
            .pointee()
            .and_then(CType::record)
            .map(|record| record.origin),
        Some(DefinitionOrigin::Btf(TypeId(pointee)))
    );
    let (tgid_type, _, _) = dump_find_member(&dump, dump_task, "tgid").expect("tgid");
    let tgid_int = dump.get(&dump_resolve(&dump, tgid_type)).expect("int");
    assert_eq!(tgid_int.kind, "INT");
    assert_eq!(
        tgid_int.attributes.get("encoding").map(String::as_str),
        Some("SIGNED")
    );
    assert_eq!(
        tgid_int.attributes.get("size").map(String::as_str),
        Some("4")
    );
}

#[test]
fn anonymous_members_match_bpftool() {
    let Some(btf) = load_vmlinux() else { return };
    let Some(dump) = bpftool_dump() else { return };
    let types = KernelTypes::new(btf);
    // sk_buff keeps most of its members in anonymous structs and unions.
    let Some(dump_skb) = dump_find_struct(&dump, "sk_buff") else {
        println!("skipped: no struct sk_buff in this kernel's BTF");
        return;
    };
    let skb = types
        .resolve_type_name("struct sk_buff *")
        .expect("sk_buff");
    let mut checked = 0;
    for name in [
        "next", "dev", "tstamp", "sk", "len", "data_len", "protocol", "data", "head", "cb",
    ] {
        let Some((ty, bit_offset, _)) = dump_find_member(&dump, dump_skb, name) else {
            continue;
        };
        let access = types.member(&skb, name).expect("member bpftool finds");
        assert_eq!(access.byte_offset, bit_offset / 8, "sk_buff.{name}");
        assert_eq!(
            Some(access.ty.size()),
            dump_size(&dump, ty),
            "size of sk_buff.{name}"
        );
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} sk_buff members found");
    let skb_record = types.deref_pointer(&skb).expect("pointee");
    assert_eq!(types.offset_of(&skb_record, "len").ok(), {
        dump_find_member(&dump, dump_skb, "len").map(|(_, offset, _)| u64::from(offset / 8))
    });
}

#[test]
fn kernel_enums_and_misspellings() {
    let Some(btf) = load_vmlinux() else { return };
    let types = KernelTypes::new(btf);
    let started = Instant::now();
    let hash = types
        .enum_value("BPF_MAP_TYPE_HASH")
        .expect("enum bpf_map_type");
    println!(
        "first enumerator lookup (builds the index) {:?}",
        started.elapsed()
    );
    assert_eq!(hash.value, 1);
    assert_eq!(hash.ty.to_string(), "enum bpf_map_type");
    let task = types
        .resolve_type_name("struct task_struct *")
        .expect("task");
    assert_eq!(
        types.member(&task, "tgdi").expect_err("typo").to_string(),
        "no member 'tgdi' in struct task_struct; did you mean 'tgid'?"
    );
    // A script struct pointing at kernel types, as readers write them.
    let mut types = types;
    types
        .define("struct Foo { int a; char name[16]; struct task_struct *t; }")
        .expect("definition");
    let foo = types.resolve_type_name("struct Foo *").expect("Foo");
    let t = types.member(&foo, "t").expect("t");
    assert_eq!(t.byte_offset, 24);
    assert_eq!(types.member(&t.ty, "parent").expect("t->parent").ty, task);
    assert_eq!(types.size_of_name("pid_t"), Ok(4));
    assert_eq!(types.size_of_name("u32"), Ok(4));
}
