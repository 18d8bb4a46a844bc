//! Fuzzes the ELF symbol reader and the `.note.stapsdt` parser: any bytes in, no panic out.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = bpfscope_probes::elf::function_symbols(data);
    let _ = bpfscope_probes::usdt::parse_stapsdt_notes(data);
});
