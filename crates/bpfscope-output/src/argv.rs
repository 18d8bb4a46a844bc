//! `argv()` values: the kernel's NUL-separated argument bytes split into arguments, printed so that every byte and every cut is visible.

use bpfscope_bpf::{ARGV_HEADER_BYTES, ARGV_MISSING_UNKNOWN};

use crate::escape::push_json_string_contents;

/// What was left out of an argument list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgvCut {
    /// Bytes past the capture limit (their number is known).
    Bytes(u64),
    /// Arguments past the count limit.
    Arguments(usize),
    /// Something was left out, amount unknown (an array read stopped early).
    Unknown,
}

/// An argument list split out of an `argv()` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedArgv<'a> {
    pub arguments: Vec<&'a [u8]>,
    /// `None` when the whole list is here.
    pub cut: Option<ArgvCut>,
}

/// Splits an `argv()` value: `bytes[offset..]` holds the captured and missing byte counts,
/// then the captured bytes. `None` when the record is too short for what its header says.
pub fn decode_argv(
    bytes: &[u8],
    offset: usize,
    capacity: u32,
    max_args: u32,
) -> Option<DecodedArgv<'_>> {
    let header = bytes.get(offset..offset.checked_add(ARGV_HEADER_BYTES as usize)?)?;
    let captured = u32::from_le_bytes(header.get(0..4)?.try_into().ok()?);
    let missing = u32::from_le_bytes(header.get(4..8)?.try_into().ok()?);
    let data_start = offset.checked_add(ARGV_HEADER_BYTES as usize)?;
    let captured = captured.min(capacity) as usize;
    let data = bytes.get(data_start..data_start.checked_add(captured)?)?;
    let ends_inside_an_argument = data.last().is_some_and(|&last| last != 0);
    let mut arguments: Vec<&[u8]> = data.split(|&byte| byte == 0).collect();
    if !ends_inside_an_argument {
        // The list ends with a NUL (or is empty): the piece after it is not an argument.
        arguments.pop();
    }
    let mut cut = match missing {
        0 if ends_inside_an_argument => Some(ArgvCut::Unknown),
        0 => None,
        ARGV_MISSING_UNKNOWN => Some(ArgvCut::Unknown),
        bytes => Some(ArgvCut::Bytes(u64::from(bytes))),
    };
    let max_args = max_args as usize;
    if arguments.len() > max_args {
        let left_out = arguments.len() - max_args;
        arguments.truncate(max_args);
        // Arguments left out by count are exact; bytes missing past them add nothing more
        // precise, so the count is what is reported.
        cut = Some(match cut {
            None => ArgvCut::Arguments(left_out),
            Some(_) => ArgvCut::Unknown,
        });
    }
    Some(DecodedArgv { arguments, cut })
}

/// Whether an argument prints without quotes: non-empty, valid UTF-8, and only characters
/// that are neither space, control, quote, backslash nor the brackets of the cut mark.
fn prints_bare(argument: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(argument) else {
        return false;
    };
    !text.is_empty()
        && text.chars().all(|character| {
            !character.is_whitespace()
                && !character.is_control()
                && !matches!(character, '"' | '\'' | '\\' | '[' | ']')
        })
}

fn push_quoted_argument(argument: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    let mut remaining = argument;
    while !remaining.is_empty() {
        let (valid, invalid, after) = match std::str::from_utf8(remaining) {
            Ok(text) => (text, &[][..], &[][..]),
            Err(error) => {
                let (valid, rest) = remaining.split_at(error.valid_up_to());
                let invalid_length = error.error_len().unwrap_or(rest.len()).max(1);
                let (invalid, after) = rest.split_at(invalid_length.min(rest.len()));
                (std::str::from_utf8(valid).unwrap_or(""), invalid, after)
            }
        };
        for character in valid.chars() {
            let mut encoded = [0u8; 4];
            let encoded = character.encode_utf8(&mut encoded).as_bytes();
            match character {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                control if control.is_control() => {
                    for byte in encoded {
                        out.extend_from_slice(format!("\\x{byte:02x}").as_bytes());
                    }
                }
                _ => out.extend_from_slice(encoded),
            }
        }
        for byte in invalid {
            out.extend_from_slice(format!("\\x{byte:02x}").as_bytes());
        }
        remaining = after;
    }
    out.push(b'"');
}

/// The text form: arguments separated by one space; an argument that is empty or holds
/// anything but printable non-space characters is written in double quotes with `\"`, `\\`
/// and `\xNN` escapes, so one exec is one line and the argument boundaries survive. A cut is
/// marked after the last argument (`[argv truncated: 12 more bytes]`), and only when something
/// was really left out.
pub fn push_argv_text(argv: &DecodedArgv<'_>, out: &mut Vec<u8>) {
    for (index, argument) in argv.arguments.iter().enumerate() {
        if index > 0 {
            out.push(b' ');
        }
        if prints_bare(argument) {
            out.extend_from_slice(argument);
        } else {
            push_quoted_argument(argument, out);
        }
    }
    if let Some(cut) = argv.cut {
        if !argv.arguments.is_empty() {
            out.push(b' ');
        }
        out.extend_from_slice(cut_mark(cut).as_bytes());
    }
}

/// `[argv truncated: ...]`, saying what is missing.
pub fn cut_mark(cut: ArgvCut) -> String {
    match cut {
        ArgvCut::Bytes(1) => "[argv truncated: 1 more byte]".to_string(),
        ArgvCut::Bytes(bytes) => format!("[argv truncated: {bytes} more bytes]"),
        ArgvCut::Arguments(1) => "[argv truncated: 1 more argument]".to_string(),
        ArgvCut::Arguments(count) => format!("[argv truncated: {count} more arguments]"),
        ArgvCut::Unknown => "[argv truncated]".to_string(),
    }
}

/// The JSON form: an array of strings. Valid UTF-8 is kept (control characters as JSON
/// escapes); a backslash is written `\\` and a byte that is not UTF-8 `\xNN` (as characters
/// of the string), so the exact bytes can always be recovered.
pub fn push_argv_json(argv: &DecodedArgv<'_>, out: &mut String) {
    out.push('[');
    for (index, argument) in argv.arguments.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push('"');
        push_json_argument(argument, out);
        out.push('"');
    }
    out.push(']');
}

/// JSON for the cut: `false`, or an object saying what is missing.
pub fn push_argv_cut_json(cut: Option<ArgvCut>, out: &mut String) {
    match cut {
        None => out.push_str("false"),
        Some(ArgvCut::Bytes(bytes)) => out.push_str(&format!("{{\"missing_bytes\": {bytes}}}")),
        Some(ArgvCut::Arguments(count)) => {
            out.push_str(&format!("{{\"missing_arguments\": {count}}}"))
        }
        Some(ArgvCut::Unknown) => out.push_str("true"),
    }
}

fn push_json_argument(argument: &[u8], out: &mut String) {
    let mut remaining = argument;
    loop {
        match std::str::from_utf8(remaining) {
            Ok(text) => {
                push_json_text_with_escaped_backslashes(text, out);
                return;
            }
            Err(error) => {
                let (valid, rest) = remaining.split_at(error.valid_up_to());
                push_json_text_with_escaped_backslashes(
                    std::str::from_utf8(valid).unwrap_or(""),
                    out,
                );
                let invalid_length = error.error_len().unwrap_or(rest.len()).max(1);
                let (invalid, after) = rest.split_at(invalid_length.min(rest.len()));
                for byte in invalid {
                    // The characters `\xNN`: a JSON backslash escape, then the digits.
                    out.push_str(&format!("\\\\x{byte:02x}"));
                }
                remaining = after;
                if remaining.is_empty() {
                    return;
                }
            }
        }
    }
}

fn push_json_text_with_escaped_backslashes(text: &str, out: &mut String) {
    for piece in text.split_inclusive('\\') {
        match piece.strip_suffix('\\') {
            Some(before) => {
                push_json_string_contents(before.as_bytes(), out);
                // Two backslash characters in the string: `\\\\` in JSON source.
                out.push_str("\\\\\\\\");
            }
            None => push_json_string_contents(piece.as_bytes(), out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(captured: &[u8], missing: u32, capacity: u32) -> Vec<u8> {
        let mut bytes = (captured.len() as u32).to_le_bytes().to_vec();
        bytes.extend_from_slice(&missing.to_le_bytes());
        bytes.extend_from_slice(captured);
        bytes.resize(8 + capacity as usize, 0xaa);
        bytes
    }

    fn text(argv: &DecodedArgv<'_>) -> String {
        let mut out = Vec::new();
        push_argv_text(argv, &mut out);
        String::from_utf8(out).expect("argv text is UTF-8")
    }

    fn json(argv: &DecodedArgv<'_>) -> String {
        let mut out = String::new();
        push_argv_json(argv, &mut out);
        out
    }

    /// Undoes the JSON argument escapes: `\\` to `\`, `\xNN` to the byte.
    fn unescape_json_argument(text: &str) -> Vec<u8> {
        let bytes = text.as_bytes();
        let mut out = Vec::new();
        let mut index = 0;
        while index < bytes.len() {
            match (bytes[index], bytes.get(index + 1)) {
                (b'\\', Some(b'\\')) => {
                    out.push(b'\\');
                    index += 2;
                }
                (b'\\', Some(b'x')) => {
                    let digits = std::str::from_utf8(&bytes[index + 2..index + 4]).unwrap();
                    out.push(u8::from_str_radix(digits, 16).unwrap());
                    index += 4;
                }
                (byte, _) => {
                    out.push(byte);
                    index += 1;
                }
            }
        }
        out
    }

    #[test]
    fn plain_arguments_print_bare_and_empty_ones_quoted() {
        let bytes = value(b"echo\0a b\0\0x\0", 0, 64);
        let argv = decode_argv(&bytes, 0, 64, 100).unwrap();
        assert_eq!(argv.arguments, [&b"echo"[..], b"a b", b"", b"x"]);
        assert_eq!(argv.cut, None);
        assert_eq!(text(&argv), r#"echo "a b" "" x"#);
        assert_eq!(json(&argv), r#"["echo","a b","","x"]"#);
    }

    #[test]
    fn hostile_bytes_are_escaped_in_text_and_recoverable_from_json() {
        let hostile: &[u8] = b"\x1b[2J\nline\"q\\\xff\xfe";
        let mut captured = b"cmd\0".to_vec();
        captured.extend_from_slice(hostile);
        captured.push(0);
        let bytes = value(&captured, 0, 64);
        let argv = decode_argv(&bytes, 0, 64, 100).unwrap();
        let line = text(&argv);
        assert_eq!(line, r#"cmd "\x1b[2J\x0aline\"q\\\xff\xfe""#);
        assert!(!line.bytes().any(|byte| byte < 0x20));
        let rendered = json(&argv);
        let parsed: Vec<String> = serde_json::from_str(&rendered).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(unescape_json_argument(&parsed[1]), hostile);
        assert_eq!(unescape_json_argument(&parsed[0]), b"cmd");
    }

    #[test]
    fn byte_limit_cut_is_marked_with_the_missing_count() {
        // The kernel read 10 of 14 bytes: the last argument is partial.
        let bytes = value(b"ls\0-la\0/us", 4, 10);
        let argv = decode_argv(&bytes, 0, 10, 100).unwrap();
        assert_eq!(argv.arguments, [&b"ls"[..], b"-la", b"/us"]);
        assert_eq!(argv.cut, Some(ArgvCut::Bytes(4)));
        assert_eq!(text(&argv), "ls -la /us [argv truncated: 4 more bytes]");
    }

    #[test]
    fn exactly_full_capture_is_not_marked() {
        let bytes = value(b"ab\0cd\0", 0, 6);
        let argv = decode_argv(&bytes, 0, 6, 2).unwrap();
        assert_eq!(argv.cut, None);
        assert_eq!(text(&argv), "ab cd");
    }

    #[test]
    fn count_limit_keeps_the_first_arguments_and_says_how_many_are_left() {
        let bytes = value(b"a\0b\0c\0d\0", 0, 16);
        let argv = decode_argv(&bytes, 0, 16, 2).unwrap();
        assert_eq!(argv.arguments, [&b"a"[..], b"b"]);
        assert_eq!(argv.cut, Some(ArgvCut::Arguments(2)));
        assert_eq!(text(&argv), "a b [argv truncated: 2 more arguments]");
        let mut cut = String::new();
        push_argv_cut_json(argv.cut, &mut cut);
        assert_eq!(cut, r#"{"missing_arguments": 2}"#);
    }

    #[test]
    fn unknown_cut_and_empty_lists() {
        let bytes = value(b"a\0", ARGV_MISSING_UNKNOWN, 8);
        let argv = decode_argv(&bytes, 0, 8, 10).unwrap();
        assert_eq!(text(&argv), "a [argv truncated]");
        let empty = value(b"", 0, 8);
        let argv = decode_argv(&empty, 0, 8, 10).unwrap();
        assert!(argv.arguments.is_empty());
        assert_eq!(text(&argv), "");
        assert_eq!(json(&argv), "[]");
    }

    #[test]
    fn a_mark_lookalike_argument_is_quoted() {
        let bytes = value(b"x\0[argv\0truncated]\0", 0, 32);
        let argv = decode_argv(&bytes, 0, 32, 10).unwrap();
        assert_eq!(text(&argv), r#"x "[argv" "truncated]""#);
    }

    #[test]
    fn short_or_lying_records_are_refused_without_panicking() {
        assert!(decode_argv(&[1, 2, 3], 0, 8, 1).is_none());
        let mut lying = value(b"abc\0", 0, 4);
        lying[0] = 200; // claims 200 bytes, capped to the capacity of 4
        let argv = decode_argv(&lying, 0, 4, 10).unwrap();
        assert_eq!(argv.arguments, [&b"abc"[..]]);
        assert!(decode_argv(&lying[..9], 0, 4, 10).is_none());
        for cut in 0..lying.len() {
            let _ = decode_argv(&lying[..cut], 0, 4, 10);
        }
    }
}
