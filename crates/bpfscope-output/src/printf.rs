//! bpftrace's `printf`: parse a format once, then format decoded record values with C printf semantics.
//!
//! Accepted conversions: `%d %i %u %o %x %X %c %s %p %r %rx %rh` and `%%`; flags `- + space # 0`;
//! a decimal width and precision; length modifiers `hh h l ll j z t`. `*` widths and floating-point
//! conversions are rejected (BPF has no floats; bpftrace rejects them too).
//!
//! Where bpftrace 0.17 and newer versions differ, this follows the newer ones:
//! - without a length modifier an integer prints with all 64 bits (0.17 handed the 64-bit value to
//!   C's `%d`, which printed only the low 32 bits);
//! - `%%` always prints `%` (0.17 printed `%%` when no conversion followed it in the format);
//! - flags `+`, space and `#` and `%i` are accepted (0.17 rejected them).

use crate::value::{
    integer_text, push_buffer_all_hex_escaped, push_buffer_escaped, push_buffer_hex_dump,
    push_traced_text, push_value_text, DecodedValue, TextStyle,
};

/// A format that could not be parsed, with the byte offset of the offending `%`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("printf format at byte {offset}: {message}")]
pub struct PrintfFormatError {
    pub offset: usize,
    pub message: String,
}

/// The C length modifier, which decides how many bits of the 64-bit value are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LengthModifier {
    None,
    Char,
    Short,
    Long,
    LongLong,
    IntMax,
    Size,
    PtrDiff,
}

/// What a conversion prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conversion {
    /// `%d`, `%i`
    SignedDecimal,
    /// `%u`
    UnsignedDecimal,
    /// `%o`
    Octal,
    /// `%x`
    HexLower,
    /// `%X`
    HexUpper,
    /// `%c`
    Character,
    /// `%s`: any value, in its text form.
    String,
    /// `%p`
    Pointer,
    /// `%r`: a buffer with non-printable bytes as `\xNN`.
    Buffer,
    /// `%rx`: a buffer with every byte as `\xNN`.
    BufferAllHex,
    /// `%rh`: a buffer as space-separated hex bytes.
    BufferHexDump,
}

/// The kind of argument a conversion needs, for the type checker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgumentKind {
    /// An integer, boolean or pointer.
    Integer,
    /// Anything (printed in its text form).
    Any,
    /// A `buf()` value (bpftrace also accepts strings here).
    Buffer,
}

impl Conversion {
    pub fn argument_kind(self) -> ArgumentKind {
        match self {
            Conversion::String => ArgumentKind::Any,
            Conversion::Buffer | Conversion::BufferAllHex | Conversion::BufferHexDump => {
                ArgumentKind::Buffer
            }
            _ => ArgumentKind::Integer,
        }
    }
}

/// One parsed `%...` conversion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversionSpec {
    pub left_align: bool,
    pub force_sign: bool,
    pub space_for_sign: bool,
    pub alternate_form: bool,
    pub zero_pad: bool,
    pub width: usize,
    pub precision: Option<usize>,
    pub length: LengthModifier,
    pub conversion: Conversion,
    /// The conversion as written, for messages.
    pub source: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Literal(Vec<u8>),
    Conversion(ConversionSpec),
}

/// A parsed printf format, ready to format records many times.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrintfFormat {
    pieces: Vec<Piece>,
}

/// Widths and precisions above this are rejected, so a format cannot make one record allocate gigabytes.
const MAX_WIDTH_OR_PRECISION: usize = 65_536;

impl PrintfFormat {
    /// Parses a format whose escapes (`\n`, `\x1b`...) were already resolved by the parser.
    pub fn parse(format: &str) -> Result<PrintfFormat, PrintfFormatError> {
        let bytes = format.as_bytes();
        let mut pieces = Vec::new();
        let mut literal = Vec::new();
        let mut position = 0;
        while let Some(&byte) = bytes.get(position) {
            if byte != b'%' {
                literal.push(byte);
                position += 1;
                continue;
            }
            if bytes.get(position + 1) == Some(&b'%') {
                literal.push(b'%');
                position += 2;
                continue;
            }
            let (spec, next_position) = parse_conversion(bytes, position)?;
            if !literal.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(&mut literal)));
            }
            pieces.push(Piece::Conversion(spec));
            position = next_position;
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Ok(PrintfFormat { pieces })
    }

    /// The conversions in order; there is one argument per conversion.
    pub fn conversions(&self) -> impl Iterator<Item = &ConversionSpec> {
        self.pieces.iter().filter_map(|piece| match piece {
            Piece::Conversion(spec) => Some(spec),
            Piece::Literal(_) => None,
        })
    }

    pub fn argument_count(&self) -> usize {
        self.conversions().count()
    }

    /// Formats `arguments` (one per conversion; missing ones print as nothing) onto `out`.
    pub fn format(&self, arguments: &[DecodedValue<'_>], style: TextStyle, out: &mut Vec<u8>) {
        let mut argument_iter = arguments.iter();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(text) => out.extend_from_slice(text),
                Piece::Conversion(spec) => {
                    if let Some(argument) = argument_iter.next() {
                        format_one(spec, argument, style, out);
                    }
                }
            }
        }
    }
}

fn parse_number(
    bytes: &[u8],
    mut position: usize,
    start_of_conversion: usize,
) -> Result<(usize, usize), PrintfFormatError> {
    let mut number: usize = 0;
    while let Some(digit) = bytes.get(position).filter(|byte| byte.is_ascii_digit()) {
        number = number
            .saturating_mul(10)
            .saturating_add(usize::from(digit - b'0'));
        position += 1;
    }
    if number > MAX_WIDTH_OR_PRECISION {
        return Err(PrintfFormatError {
            offset: start_of_conversion,
            message: format!(
                "width or precision {number} is too large (at most {MAX_WIDTH_OR_PRECISION})"
            ),
        });
    }
    Ok((number, position))
}

fn parse_conversion(
    bytes: &[u8],
    start: usize,
) -> Result<(ConversionSpec, usize), PrintfFormatError> {
    let error = |end: usize, message: String| PrintfFormatError {
        offset: start,
        message: format!(
            "{message} in '{}'",
            String::from_utf8_lossy(bytes.get(start..end.min(bytes.len())).unwrap_or_default())
        ),
    };
    let mut position = start + 1;
    let mut spec = ConversionSpec {
        left_align: false,
        force_sign: false,
        space_for_sign: false,
        alternate_form: false,
        zero_pad: false,
        width: 0,
        precision: None,
        length: LengthModifier::None,
        conversion: Conversion::SignedDecimal,
        source: String::new(),
    };
    while let Some(&flag) = bytes.get(position) {
        match flag {
            b'-' => spec.left_align = true,
            b'+' => spec.force_sign = true,
            b' ' => spec.space_for_sign = true,
            b'#' => spec.alternate_form = true,
            b'0' => spec.zero_pad = true,
            _ => break,
        }
        position += 1;
    }
    if bytes.get(position) == Some(&b'*') {
        return Err(error(
            position + 1,
            "'*' widths are not supported; write the width in the format".to_string(),
        ));
    }
    let (width, after_width) = parse_number(bytes, position, start)?;
    spec.width = width;
    position = after_width;
    if bytes.get(position) == Some(&b'.') {
        if bytes.get(position + 1) == Some(&b'*') {
            return Err(error(
                position + 2,
                "'*' precisions are not supported".to_string(),
            ));
        }
        let (precision, after_precision) = parse_number(bytes, position + 1, start)?;
        spec.precision = Some(precision);
        position = after_precision;
    }
    let remaining = bytes.get(position..).unwrap_or_default();
    let (length, length_bytes) = if remaining.starts_with(b"hh") {
        (LengthModifier::Char, 2)
    } else if remaining.starts_with(b"ll") {
        (LengthModifier::LongLong, 2)
    } else {
        match remaining.first() {
            Some(b'h') => (LengthModifier::Short, 1),
            Some(b'l') => (LengthModifier::Long, 1),
            Some(b'j') => (LengthModifier::IntMax, 1),
            Some(b'z') => (LengthModifier::Size, 1),
            Some(b't') => (LengthModifier::PtrDiff, 1),
            _ => (LengthModifier::None, 0),
        }
    };
    spec.length = length;
    position += length_bytes;
    let conversion = match bytes.get(position) {
        Some(b'd') | Some(b'i') => Conversion::SignedDecimal,
        Some(b'u') => Conversion::UnsignedDecimal,
        Some(b'o') => Conversion::Octal,
        Some(b'x') => Conversion::HexLower,
        Some(b'X') => Conversion::HexUpper,
        Some(b'c') => Conversion::Character,
        Some(b's') => Conversion::String,
        Some(b'p') => Conversion::Pointer,
        Some(b'r') => match bytes.get(position + 1) {
            Some(b'x') => {
                position += 1;
                Conversion::BufferAllHex
            }
            Some(b'h') => {
                position += 1;
                Conversion::BufferHexDump
            }
            _ => Conversion::Buffer,
        },
        Some(b'e' | b'E' | b'f' | b'F' | b'g' | b'G' | b'a' | b'A') => {
            return Err(error(
                position + 1,
                "floating-point conversions are not supported".to_string(),
            ))
        }
        Some(other) if other.is_ascii_graphic() => {
            return Err(error(
                position + 1,
                format!("unsupported format specifier '{}'", char::from(*other)),
            ))
        }
        _ => return Err(error(position, "incomplete format specifier".to_string())),
    };
    spec.conversion = conversion;
    position += 1;
    spec.source =
        String::from_utf8_lossy(bytes.get(start..position).unwrap_or_default()).into_owned();
    Ok((spec, position))
}

/// Truncates the 64-bit value to the width the length modifier names, keeping it as 64 bits.
fn apply_length(bits: u64, length: LengthModifier, signed_conversion: bool) -> u64 {
    match (length, signed_conversion) {
        (LengthModifier::Char, true) => bits as u8 as i8 as i64 as u64,
        (LengthModifier::Char, false) => u64::from(bits as u8),
        (LengthModifier::Short, true) => bits as u16 as i16 as i64 as u64,
        (LengthModifier::Short, false) => u64::from(bits as u16),
        _ => bits,
    }
}

fn integer_bits_of(value: &DecodedValue<'_>) -> Option<u64> {
    match value {
        DecodedValue::Integer { bits, .. } => Some(*bits),
        DecodedValue::Bool(flag) => Some(u64::from(*flag)),
        DecodedValue::Pointer(address)
        | DecodedValue::KernelSymbol(address)
        | DecodedValue::UserSymbol(address) => Some(*address),
        _ => None,
    }
}

/// Pads `body` (already including sign and prefix) to the spec's width.
/// `zero_insert_at` is where zeros go for the `0` flag (after the sign/prefix), if zero padding is allowed.
fn push_padded(
    spec: &ConversionSpec,
    body: &[u8],
    zero_insert_at: Option<usize>,
    out: &mut Vec<u8>,
) {
    let padding = spec.width.saturating_sub(body.len());
    if spec.left_align {
        out.extend_from_slice(body);
        out.resize(out.len() + padding, b' ');
    } else if let (true, Some(split_at)) = (spec.zero_pad, zero_insert_at) {
        let (prefix, digits) = body.split_at(split_at.min(body.len()));
        out.extend_from_slice(prefix);
        out.resize(out.len() + padding, b'0');
        out.extend_from_slice(digits);
    } else {
        out.resize(out.len() + padding, b' ');
        out.extend_from_slice(body);
    }
}

fn format_integer(spec: &ConversionSpec, bits: u64, out: &mut Vec<u8>) {
    let signed_conversion = spec.conversion == Conversion::SignedDecimal;
    let bits = apply_length(bits, spec.length, signed_conversion);
    let (negative, magnitude) = if signed_conversion && (bits as i64) < 0 {
        (true, (bits as i64).unsigned_abs())
    } else {
        (false, bits)
    };
    let mut digits = match spec.conversion {
        Conversion::Octal => format!("{magnitude:o}"),
        Conversion::HexLower => format!("{magnitude:x}"),
        Conversion::HexUpper => format!("{magnitude:X}"),
        _ => magnitude.to_string(),
    };
    if let Some(precision) = spec.precision {
        if precision == 0 && magnitude == 0 {
            digits.clear();
        }
        if digits.len() < precision {
            digits = format!("{}{}", "0".repeat(precision - digits.len()), digits);
        }
    }
    let mut prefix = String::new();
    if signed_conversion {
        if negative {
            prefix.push('-');
        } else if spec.force_sign {
            prefix.push('+');
        } else if spec.space_for_sign {
            prefix.push(' ');
        }
    }
    if spec.alternate_form {
        match spec.conversion {
            Conversion::Octal if !digits.starts_with('0') => digits.insert(0, '0'),
            Conversion::HexLower if magnitude != 0 => prefix.push_str("0x"),
            Conversion::HexUpper if magnitude != 0 => prefix.push_str("0X"),
            _ => {}
        }
    }
    let body = format!("{prefix}{digits}");
    // C ignores the 0 flag when a precision is given for integer conversions.
    let zero_insert_at = if spec.precision.is_none() {
        Some(prefix.len())
    } else {
        None
    };
    push_padded(spec, body.as_bytes(), zero_insert_at, out);
}

fn push_with_precision_and_width(
    spec: &ConversionSpec,
    raw: &[u8],
    style: TextStyle,
    escape: bool,
    out: &mut Vec<u8>,
) {
    let limited = match spec.precision {
        Some(precision) => raw.get(..precision.min(raw.len())).unwrap_or(raw),
        None => raw,
    };
    let mut rendered = Vec::with_capacity(limited.len());
    if escape {
        push_traced_text(limited, style, &mut rendered);
    } else {
        rendered.extend_from_slice(limited);
    }
    push_padded(spec, &rendered, None, out);
}

fn format_one(
    spec: &ConversionSpec,
    argument: &DecodedValue<'_>,
    style: TextStyle,
    out: &mut Vec<u8>,
) {
    match spec.conversion {
        Conversion::SignedDecimal
        | Conversion::UnsignedDecimal
        | Conversion::Octal
        | Conversion::HexLower
        | Conversion::HexUpper => match integer_bits_of(argument) {
            Some(bits) => format_integer(spec, bits, out),
            // The checker rejects this; print the value's text rather than nothing.
            None => format_as_string(spec, argument, style, out),
        },
        Conversion::Character => match integer_bits_of(argument) {
            Some(bits) => {
                let character = [bits as u8];
                push_with_precision_and_width(
                    &ConversionSpec {
                        precision: None,
                        ..spec.clone()
                    },
                    &character,
                    style,
                    true,
                    out,
                );
            }
            None => format_as_string(spec, argument, style, out),
        },
        Conversion::Pointer => match integer_bits_of(argument) {
            Some(0) => push_padded(spec, b"(nil)", None, out),
            Some(address) => {
                let body = format!("0x{address:x}");
                push_padded(spec, body.as_bytes(), Some(2), out);
            }
            None => format_as_string(spec, argument, style, out),
        },
        Conversion::String => format_as_string(spec, argument, style, out),
        Conversion::Buffer | Conversion::BufferAllHex | Conversion::BufferHexDump => {
            let data: &[u8] = match argument {
                DecodedValue::Buffer(data) | DecodedValue::Str(data) => data,
                other => return format_as_string(spec, other, style, out),
            };
            let mut rendered = Vec::new();
            match spec.conversion {
                Conversion::BufferAllHex => push_buffer_all_hex_escaped(data, &mut rendered),
                Conversion::BufferHexDump => push_buffer_hex_dump(data, &mut rendered),
                _ => push_buffer_escaped(data, &mut rendered),
            }
            push_padded(spec, &rendered, None, out);
        }
    }
}

fn format_as_string(
    spec: &ConversionSpec,
    argument: &DecodedValue<'_>,
    style: TextStyle,
    out: &mut Vec<u8>,
) {
    match argument {
        DecodedValue::Str(bytes) => push_with_precision_and_width(spec, bytes, style, true, out),
        DecodedValue::Formatted(bytes) => {
            push_with_precision_and_width(spec, bytes, style, false, out)
        }
        DecodedValue::Integer { bits, signed } => push_with_precision_and_width(
            spec,
            integer_text(*bits, *signed).as_bytes(),
            style,
            false,
            out,
        ),
        other => {
            let mut text = Vec::new();
            push_value_text(other, style, &mut text);
            push_with_precision_and_width(spec, &text, style, false, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ESCAPING: TextStyle = TextStyle {
        escape_control: true,
    };

    fn int(value: i64) -> DecodedValue<'static> {
        DecodedValue::Integer {
            bits: value as u64,
            signed: true,
        }
    }

    fn uint(value: u64) -> DecodedValue<'static> {
        DecodedValue::Integer {
            bits: value,
            signed: false,
        }
    }

    fn formatted(format: &str, arguments: &[DecodedValue<'_>]) -> String {
        let parsed = match PrintfFormat::parse(format) {
            Ok(parsed) => parsed,
            Err(error) => return format!("PARSE ERROR: {error}"),
        };
        assert_eq!(
            parsed.argument_count(),
            arguments.len(),
            "argument count of {format:?}"
        );
        let mut out = Vec::new();
        parsed.format(arguments, ESCAPING, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Each expected string was printed by bpftrace 0.17 on the development host
    /// (see test_data/printf_bpftrace_0.17.txt for the commands and raw output).
    #[test]
    fn matches_bpftrace_017_for_widths_and_length_modifiers() {
        assert_eq!(
            formatted(
                "%-6d|%5s|%x|%lu\n",
                &[int(-5), DecodedValue::Str(b"ab"), int(255), int(7)]
            ),
            "-5    |   ab|ff|7\n"
        );
        assert_eq!(
            formatted(
                "[%5.2s][%-10s][%010d][%.3d][%-05d]",
                &[
                    DecodedValue::Str(b"abcdef"),
                    DecodedValue::Str(b"abcdef"),
                    int(42),
                    int(42),
                    int(42)
                ]
            ),
            "[   ab][abcdef    ][0000000042][042][42   ]"
        );
        assert_eq!(
            formatted("%ld %lld %lu %llu %hd %hhd %zd %hu %hhu %lx\n", &[
                int(-1), int(-1), int(-1), int(-1), int(70000), int(300), int(-9), int(-1), int(-1), int(-1)
            ]),
            "-1 -1 18446744073709551615 18446744073709551615 4464 44 -9 65535 255 ffffffffffffffff\n"
        );
        assert_eq!(
            formatted(
                "[%o][%X][%c][%5c][%-3c|]",
                &[int(65), int(48879), int(65), int(65), int(66)]
            ),
            "[101][BEEF][A][    A][B  |]"
        );
        assert_eq!(
            formatted("[%p][%p]", &[uint(0), uint(0x41)]),
            "[(nil)][0x41]"
        );
        assert_eq!(
            formatted(
                "[%8.3lu][%-8x|][%08x][%.2s]",
                &[
                    uint(123456),
                    uint(255),
                    uint(255),
                    DecodedValue::Str(b"xyz")
                ]
            ),
            "[  123456][ff      |][000000ff][xy]"
        );
        assert_eq!(
            formatted("%10s|", &[DecodedValue::Str("\u{e9}".as_bytes())]),
            "        \u{e9}|"
        );
    }

    #[test]
    fn follows_c_for_flags_bpftrace_017_rejected() {
        assert_eq!(
            formatted(
                "[%+d][% d][%#x][%#o][%#X][%+05d][% 05d]",
                &[int(5), int(5), int(255), int(8), int(0), int(42), int(-3)]
            ),
            "[+5][ 5][0xff][010][0][+0042][-0003]"
        );
        assert_eq!(
            formatted(
                "[%#5.3x][%012.4d][%.0d][%-#8x|][%08p]",
                &[int(10), int(-7), int(0), int(255), uint(255)]
            ),
            "[0x00a][       -0007][][0xff    |][0x0000ff]"
        );
        assert_eq!(
            formatted("[%i][%05s]", &[int(-2), DecodedValue::Str(b"ab")]),
            "[-2][   ab]"
        );
    }

    #[test]
    fn newest_semantics_where_017_differs() {
        // 0.17 printed only the low 32 bits without a length modifier ("5", "ffffffff").
        assert_eq!(
            formatted("%d %x", &[uint(4294967301), int(-1)]),
            "4294967301 ffffffffffffffff"
        );
        // 0.17 printed a trailing "%%" literally.
        assert_eq!(formatted("100%% %d %%", &[int(1)]), "100% 1 %");
    }

    #[test]
    fn buffers_and_escaping() {
        let buffer = DecodedValue::Buffer(b"ab\x01\xff\"\\");
        assert_eq!(
            formatted(
                "%r|%rx|%rh",
                &[
                    buffer.clone(),
                    DecodedValue::Buffer(b"ab\x01"),
                    DecodedValue::Buffer(b"ab\x01")
                ]
            ),
            "ab\\x01\\xff\"\\|\\x61\\x62\\x01|61 62 01"
        );
        assert_eq!(
            formatted(
                "%s|%-8s|",
                &[DecodedValue::Str(b"a\x1bb\n"), DecodedValue::Str(b"\xff")]
            ),
            "a\\x1bb\\x0a|\\xff    |"
        );
        let parsed = PrintfFormat::parse("%s\n").unwrap_or(PrintfFormat { pieces: Vec::new() });
        let mut raw = Vec::new();
        parsed.format(
            &[DecodedValue::Str(b"a\x1bb")],
            TextStyle {
                escape_control: false,
            },
            &mut raw,
        );
        assert_eq!(raw, b"a\x1bb\n");
    }

    #[test]
    fn rejects_unsupported_specifiers_and_counts_arguments() {
        for bad in ["%f", "%e", "%*d", "%.*s", "%n", "%y", "abc %", "%l"] {
            assert!(
                PrintfFormat::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
        let parsed = PrintfFormat::parse("%-6d %-8s %% %rx %lu").map(|format| {
            format
                .conversions()
                .map(|spec| spec.conversion.argument_kind())
                .collect::<Vec<_>>()
        });
        assert_eq!(
            parsed.ok(),
            Some(vec![
                ArgumentKind::Integer,
                ArgumentKind::Any,
                ArgumentKind::Buffer,
                ArgumentKind::Integer
            ])
        );
        assert!(PrintfFormat::parse("%99999999999999999999d").is_err());
    }
}
