//! Fuzzes the tracefs `format` and `available_events` parsers: any bytes in, no panic out.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = bpfscope_probes::tracefs::parse_format(&text);
    let _ = bpfscope_probes::tracefs::parse_available_events(&text);
});
