//! Fuzzes the lexer and parser: any text in, a program and diagnostics out, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = bpfscope_syntax::parse(text);
    }
});
