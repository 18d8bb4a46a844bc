//! The minimal BTF a program with several BPF functions must come with: one `FUNC` per function, and the `func_info` records that place them.
//!
//! Why: the kernel accepts the address of a callback (`ld_imm64` with `BPF_PSEUDO_FUNC`, as
//! `bpf_for_each_map_elem` needs) only when the program carries BTF `func_info` saying the
//! callback is a static function. Nothing else is described: the types are a single `long`.

/// `struct bpf_func_info`: the function starting at instruction `insn_offset` has BTF type `type_id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct FuncInfo {
    pub insn_offset: u32,
    pub type_id: u32,
}

/// The BTF blob (to load with `BPF_BTF_LOAD`) and its func_info records, in instruction order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionBtf {
    pub blob: Vec<u8>,
    pub func_info: Vec<FuncInfo>,
}

const BTF_MAGIC: u16 = 0xeb9f;
const BTF_KIND_INT: u32 = 1;
const BTF_KIND_FUNC: u32 = 12;
const BTF_KIND_FUNC_PROTO: u32 = 13;
const BTF_INT_SIGNED: u32 = 1;
const LINKAGE_STATIC: u32 = 0;
const LINKAGE_GLOBAL: u32 = 1;

/// Describes a program whose functions start at `function_starts` (the main program at 0 is
/// implied; the others are callbacks taking `(map, key, value, context)` and returning `long`).
pub fn function_btf(function_starts: &[usize]) -> FunctionBtf {
    let mut strings: Vec<u8> = vec![0];
    let mut add_string = |text: &str| -> u32 {
        let offset = strings.len() as u32;
        strings.extend_from_slice(text.as_bytes());
        strings.push(0);
        offset
    };
    let long_name = add_string("long");
    let parameter_names: Vec<u32> = ["map", "key", "value", "context"]
        .iter()
        .map(|name| add_string(name))
        .collect();
    let context_name = parameter_names.last().copied().unwrap_or(0);
    let mut types: Vec<u32> = Vec::new();
    // [1] long
    types.extend([
        long_name,
        BTF_KIND_INT << 24,
        8,
        (BTF_INT_SIGNED << 24) | 64,
    ]);
    // [2] long (long context): the main program.
    types.extend([0, (BTF_KIND_FUNC_PROTO << 24) | 1, 1, context_name, 1]);
    // [3] long (long map, long key, long value, long context): callbacks.
    types.extend([0, (BTF_KIND_FUNC_PROTO << 24) | 4, 1]);
    for name in &parameter_names {
        types.extend([*name, 1]);
    }
    let mut next_type_id = 4u32;
    let mut func_info = Vec::new();
    let mut starts: Vec<usize> = function_starts
        .iter()
        .copied()
        .filter(|start| *start != 0)
        .collect();
    starts.sort_unstable();
    starts.dedup();
    let main_name = add_string("bpfscope_main");
    types.extend([main_name, (BTF_KIND_FUNC << 24) | LINKAGE_GLOBAL, 2]);
    func_info.push(FuncInfo {
        insn_offset: 0,
        type_id: next_type_id,
    });
    next_type_id += 1;
    for (index, start) in starts.iter().enumerate() {
        let name = add_string(&format!("bpfscope_callback_{}", index + 1));
        types.extend([name, (BTF_KIND_FUNC << 24) | LINKAGE_STATIC, 3]);
        func_info.push(FuncInfo {
            insn_offset: u32::try_from(*start).unwrap_or(u32::MAX),
            type_id: next_type_id,
        });
        next_type_id += 1;
    }
    let type_bytes = (types.len() * 4) as u32;
    let mut blob = Vec::with_capacity(24 + type_bytes as usize + strings.len());
    blob.extend(BTF_MAGIC.to_le_bytes());
    blob.push(1); // version
    blob.push(0); // flags
    for word in [24u32, 0, type_bytes, type_bytes, strings.len() as u32] {
        blob.extend(word.to_le_bytes());
    }
    for word in types {
        blob.extend(word.to_le_bytes());
    }
    blob.extend(strings);
    FunctionBtf { blob, func_info }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_func_per_function_in_instruction_order() {
        let btf = function_btf(&[40, 12, 0]);
        assert_eq!(
            btf.func_info,
            vec![
                FuncInfo {
                    insn_offset: 0,
                    type_id: 4
                },
                FuncInfo {
                    insn_offset: 12,
                    type_id: 5
                },
                FuncInfo {
                    insn_offset: 40,
                    type_id: 6
                },
            ]
        );
        assert_eq!(&btf.blob[..2], &[0x9f, 0xeb]);
        let type_length = u32::from_le_bytes(btf.blob[12..16].try_into().unwrap()) as usize;
        let string_length = u32::from_le_bytes(btf.blob[20..24].try_into().unwrap()) as usize;
        assert_eq!(btf.blob.len(), 24 + type_length + string_length);
        assert!(String::from_utf8_lossy(&btf.blob).contains("bpfscope_callback_2"));
    }
}
