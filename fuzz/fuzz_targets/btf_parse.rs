//! Fuzzes the BTF reader: parse, then walk every type, function and member and render them as C.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(btf) = bpfscope_btf::Btf::parse(data) else {
        return;
    };
    for id in btf.type_ids() {
        let _ = btf.type_by_id(id);
        let _ = btf.name_of(id);
        let _ = btf.size_of(id);
        let _ = btf.members(id);
        let _ = btf.func_proto(id);
        let _ = btf.enum_info(id);
        let _ = btf.resolve(id);
    }
    for function in btf.functions().take(64) {
        let _ = function;
    }
    let _ = btf.find_c_type("struct task_struct");
});
