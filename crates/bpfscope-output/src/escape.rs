//! Escaping traced bytes for text output (control characters) and for JSON strings (always valid UTF-8).

/// Appends `bytes` to `out`, replacing every byte below 0x20, the byte 0x7f and every byte that is not
/// part of valid UTF-8 with a `\xNN` escape (two lowercase hex digits).
///
/// Traced data (argv, comm, paths) can hold terminal escape sequences; printing them raw lets a traced
/// program rewrite the operator's terminal. Ordinary printable text, including valid multi-byte UTF-8,
/// is copied unchanged so that ordinary output stays byte-identical to bpftrace's.
pub fn escape_control_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    let mut remaining = bytes;
    while !remaining.is_empty() {
        match std::str::from_utf8(remaining) {
            Ok(valid_text) => {
                escape_control_in_valid_text(valid_text, out);
                return;
            }
            Err(utf8_error) => {
                let (valid_prefix, rest) = remaining.split_at(utf8_error.valid_up_to());
                // The prefix was just validated, so this conversion cannot fail; fall back to nothing.
                escape_control_in_valid_text(std::str::from_utf8(valid_prefix).unwrap_or(""), out);
                let invalid_length = utf8_error.error_len().unwrap_or(rest.len()).max(1);
                let (invalid_bytes, after_invalid) = rest.split_at(invalid_length.min(rest.len()));
                for &byte in invalid_bytes {
                    push_hex_escape(byte, out);
                }
                remaining = after_invalid;
            }
        }
    }
}

/// Returns `true` when `bytes` would be changed by [`escape_control_bytes`].
pub fn needs_control_escape(bytes: &[u8]) -> bool {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.bytes().any(is_control_byte),
        Err(_) => true,
    }
}

fn escape_control_in_valid_text(text: &str, out: &mut Vec<u8>) {
    for &byte in text.as_bytes() {
        if is_control_byte(byte) {
            push_hex_escape(byte, out);
        } else {
            out.push(byte);
        }
    }
}

fn is_control_byte(byte: u8) -> bool {
    byte < 0x20 || byte == 0x7f
}

fn push_hex_escape(byte: u8, out: &mut Vec<u8>) {
    const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"\\x");
    out.push(HEX_DIGITS[usize::from(byte >> 4)]);
    out.push(HEX_DIGITS[usize::from(byte & 0x0f)]);
}

/// Appends `bytes` as the contents of a JSON string (without the surrounding quotes).
///
/// Escapes as bpftrace does: `\"`, `\\`, `\n`, `\r`, `\t`, and `\u00XX` (lowercase hex) for other
/// bytes below 0x20. Unlike bpftrace (which emits raw bytes, or `\uffffffXX` for bytes >= 0x80 in
/// some paths), a byte that is not part of valid UTF-8 becomes `\u00XX` with XX the byte's value:
/// the line stays valid UTF-8 JSON and the original byte value can still be read back
/// (as the Latin-1 code point of the same number).
pub fn push_json_string_contents(bytes: &[u8], out: &mut String) {
    let mut remaining = bytes;
    while !remaining.is_empty() {
        match std::str::from_utf8(remaining) {
            Ok(valid_text) => {
                push_json_valid_text(valid_text, out);
                return;
            }
            Err(utf8_error) => {
                let (valid_prefix, rest) = remaining.split_at(utf8_error.valid_up_to());
                push_json_valid_text(std::str::from_utf8(valid_prefix).unwrap_or(""), out);
                let invalid_length = utf8_error.error_len().unwrap_or(rest.len()).max(1);
                let (invalid_bytes, after_invalid) = rest.split_at(invalid_length.min(rest.len()));
                for &byte in invalid_bytes {
                    push_json_unicode_escape(byte, out);
                }
                remaining = after_invalid;
            }
        }
    }
}

/// Appends `bytes` as a complete JSON string, with quotes.
pub fn push_json_string(bytes: &[u8], out: &mut String) {
    out.push('"');
    push_json_string_contents(bytes, out);
    out.push('"');
}

fn push_json_valid_text(text: &str, out: &mut String) {
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            control if u32::from(control) < 0x20 => {
                // Below 0x20, so the cast to u8 is exact.
                push_json_unicode_escape(u32::from(control) as u8, out);
            }
            other => out.push(other),
        }
    }
}

fn push_json_unicode_escape(byte: u8, out: &mut String) {
    out.push_str(&format!("\\u{:04x}", byte));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped_text(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        escape_control_bytes(bytes, &mut out);
        out
    }

    fn escaped_json(bytes: &[u8]) -> String {
        let mut out = String::new();
        push_json_string(bytes, &mut out);
        out
    }

    #[test]
    fn text_escape_keeps_ordinary_text_and_utf8() {
        assert_eq!(escaped_text(b"bash -c ls"), b"bash -c ls");
        assert_eq!(
            escaped_text("caf\u{e9} \u{1f600}".as_bytes()),
            "caf\u{e9} \u{1f600}".as_bytes()
        );
        assert!(!needs_control_escape(b"plain"));
    }

    #[test]
    fn text_escape_rewrites_escape_newline_del_and_invalid_utf8() {
        assert_eq!(escaped_text(b"a\x1b[2Jb"), b"a\\x1b[2Jb");
        assert_eq!(escaped_text(b"line\nnext\t"), b"line\\x0anext\\x09");
        assert_eq!(escaped_text(b"del\x7f"), b"del\\x7f");
        assert_eq!(escaped_text(b"bad\xff\xfeend"), b"bad\\xff\\xfeend");
        // A truncated multi-byte sequence at the end of a buffer.
        assert_eq!(escaped_text(b"cut\xe2\x82"), b"cut\\xe2\\x82");
        assert!(needs_control_escape(b"\xff"));
    }

    #[test]
    fn json_escape_matches_bpftrace_for_valid_text() {
        assert_eq!(escaped_json(b"a\"b\\c\n"), r#""a\"b\\c\n""#);
        assert_eq!(
            escaped_json(b"t\tr\rb\x08f\x0cd\x7f/"),
            "\"t\\tr\\rb\\u0008f\\u000cd\x7f/\""
        );
        assert_eq!(escaped_json(b"a\x1bb\x01c"), r#""a\u001bb\u0001c""#);
    }

    #[test]
    fn json_escape_of_invalid_utf8_is_valid_json() {
        let json = escaped_json(b"y\xffz\xc3");
        assert_eq!(json, r#""y\u00ffz\u00c3""#);
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(
            parsed,
            serde_json::Value::String("y\u{ff}z\u{c3}".to_string())
        );
    }
}
