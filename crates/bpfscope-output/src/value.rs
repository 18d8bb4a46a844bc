//! Decoding values from record and map bytes (by `ValueType`) and rendering them as bpftrace text or JSON.

use bpfscope_bpf::{StackMode, ValueType};

use crate::escape::{escape_control_bytes, push_json_string};
use crate::OutputError;

/// Bytes of the `u32` length header that starts every `ValueType::Buffer` (see [`decode_value`]).
pub const BUFFER_LENGTH_HEADER_BYTES: u32 = 4;

/// A value read out of a record or a map slot; borrows string and buffer bytes from the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodedValue<'a> {
    /// An integer, as its 64-bit two's complement bits (sign- or zero-extended from its width).
    Integer {
        bits: u64,
        signed: bool,
    },
    Bool(bool),
    /// String bytes up to (not including) the first NUL, or the whole buffer when there is none.
    Str(&'a [u8]),
    Pointer(u64),
    Tuple(Vec<DecodedValue<'a>>),
    Buffer(&'a [u8]),
    /// The frames of a kernel stack, printed as `mode` says.
    KernelStack {
        mode: StackMode,
        addresses: Vec<u64>,
    },
    /// The frames of a user stack and the process they belong to (whose maps symbolize them).
    UserStack {
        pid: u32,
        mode: StackMode,
        addresses: Vec<u64>,
    },
    KernelSymbol(u64),
    UserSymbol(u64),
    /// Text made in user space from a raw value (a `strftime()` timestamp), printed like a string.
    Formatted(Vec<u8>),
    /// A copied C struct/union: its members by name, in order.
    Record(Vec<(String, DecodedValue<'a>)>),
    /// A C array inside a copied struct.
    Array(Vec<DecodedValue<'a>>),
    /// `argv()`: a process's arguments and what was left out of them.
    Argv(crate::argv::DecodedArgv<'a>),
}

impl DecodedValue<'_> {
    /// The value as a signed number, for sorting and arithmetic (unsigned values above `i64::MAX` saturate
    /// through `i128`, so nothing wraps).
    pub fn as_sort_number(&self) -> Option<i128> {
        match self {
            DecodedValue::Integer { bits, signed: true } => Some(i128::from(*bits as i64)),
            DecodedValue::Integer {
                bits,
                signed: false,
            } => Some(i128::from(*bits)),
            DecodedValue::Bool(flag) => Some(i128::from(u8::from(*flag))),
            DecodedValue::Pointer(address)
            | DecodedValue::KernelSymbol(address)
            | DecodedValue::UserSymbol(address) => Some(i128::from(*address)),
            _ => None,
        }
    }
}

fn slice_at<'a>(
    bytes: &'a [u8],
    offset: usize,
    length: usize,
    what: &str,
) -> Result<&'a [u8], OutputError> {
    offset
        .checked_add(length)
        .and_then(|end| bytes.get(offset..end))
        .ok_or_else(|| OutputError::ShortData {
            what: what.to_string(),
            needed: offset.saturating_add(length),
            available: bytes.len(),
        })
}

/// Reads a little-endian unsigned integer of `width` bytes (1, 2, 4 or 8) at `offset`.
pub fn read_unsigned(bytes: &[u8], offset: usize, width: usize) -> Result<u64, OutputError> {
    let field = slice_at(bytes, offset, width, "integer")?;
    match width {
        1 | 2 | 4 | 8 => {
            let mut buffer = [0u8; 8];
            buffer
                .get_mut(..width)
                .ok_or(OutputError::UnsupportedIntegerWidth(width))?
                .copy_from_slice(field);
            Ok(u64::from_le_bytes(buffer))
        }
        other => Err(OutputError::UnsupportedIntegerWidth(other)),
    }
}

fn sign_extend(bits: u64, width: usize) -> u64 {
    match width {
        1 => bits as u8 as i8 as i64 as u64,
        2 => bits as u16 as i16 as i64 as u64,
        4 => bits as u32 as i32 as i64 as u64,
        _ => bits,
    }
}

/// Returns the bytes before the first NUL, or all of them.
pub fn until_nul(bytes: &[u8]) -> &[u8] {
    match bytes.iter().position(|&byte| byte == 0) {
        Some(nul_index) => bytes.get(..nul_index).unwrap_or(bytes),
        None => bytes,
    }
}

/// Decodes one value of type `ty` stored at `offset` in `bytes`.
///
/// Layouts (all little-endian): integers take their width; `Bool` one byte; `Str` a NUL-terminated
/// string in `capacity` bytes; `Pointer`/symbols 8 bytes; `Tuple` fields at their own offsets;
/// `Buffer { capacity }` a `u32` count of valid bytes followed by `capacity - 4` data bytes;
/// stacks a `u64` frame count followed by `depth` `u64` addresses.
pub fn decode_value<'a>(
    ty: &ValueType,
    bytes: &'a [u8],
    offset: usize,
) -> Result<DecodedValue<'a>, OutputError> {
    match ty {
        ValueType::Int {
            bytes: width,
            signed,
        } => {
            let width = usize::from(*width);
            let raw = read_unsigned(bytes, offset, width)?;
            let bits = if *signed {
                sign_extend(raw, width)
            } else {
                raw
            };
            Ok(DecodedValue::Integer {
                bits,
                signed: *signed,
            })
        }
        ValueType::Bool => Ok(DecodedValue::Bool(read_unsigned(bytes, offset, 1)? != 0)),
        ValueType::Str { capacity } => {
            let field = slice_at(bytes, offset, *capacity as usize, "string")?;
            Ok(DecodedValue::Str(until_nul(field)))
        }
        ValueType::Pointer => Ok(DecodedValue::Pointer(read_unsigned(bytes, offset, 8)?)),
        ValueType::Timestamp { format } => {
            let nanoseconds = read_unsigned(bytes, offset, 8)?;
            Ok(DecodedValue::Formatted(
                crate::time_format::format_boot_timestamp(format, nanoseconds),
            ))
        }
        ValueType::KernelSymbol => Ok(DecodedValue::KernelSymbol(read_unsigned(bytes, offset, 8)?)),
        ValueType::InetAddress => {
            let family = read_unsigned(bytes, offset, 8)?;
            let address = slice_at(bytes, offset.saturating_add(8), 16, "inet address")?;
            Ok(DecodedValue::Formatted(
                inet_address_text(family, address).into_bytes(),
            ))
        }
        ValueType::UserSymbol => Ok(DecodedValue::UserSymbol(read_unsigned(bytes, offset, 8)?)),
        ValueType::UserName => Ok(DecodedValue::Formatted(
            crate::users::user_name(read_unsigned(bytes, offset, 8)?).into_bytes(),
        )),
        ValueType::Tuple(fields) => {
            let mut elements = Vec::with_capacity(fields.len());
            for (field_offset, field_type) in fields {
                let element_offset =
                    offset
                        .checked_add(*field_offset as usize)
                        .ok_or(OutputError::ShortData {
                            what: "tuple".to_string(),
                            needed: usize::MAX,
                            available: bytes.len(),
                        })?;
                elements.push(decode_value(field_type, bytes, element_offset)?);
            }
            Ok(DecodedValue::Tuple(elements))
        }
        ValueType::Buffer { capacity } => {
            let data_capacity = capacity.saturating_sub(BUFFER_LENGTH_HEADER_BYTES) as usize;
            let valid_length = read_unsigned(bytes, offset, 4)? as usize;
            let data_offset = offset.saturating_add(BUFFER_LENGTH_HEADER_BYTES as usize);
            let data = slice_at(
                bytes,
                data_offset,
                valid_length.min(data_capacity),
                "buffer",
            )?;
            Ok(DecodedValue::Buffer(data))
        }
        ValueType::Record { fields, .. } => {
            let mut members = Vec::with_capacity(fields.len());
            for field in fields {
                let member_offset = offset.saturating_add(field.offset as usize);
                members.push((
                    field.name.clone(),
                    decode_value(&field.ty, bytes, member_offset)?,
                ));
            }
            Ok(DecodedValue::Record(members))
        }
        ValueType::CArray { element, length } => {
            let stride = element.size() as usize;
            let mut elements = Vec::new();
            for index in 0..*length as usize {
                let element_offset = offset.saturating_add(index.saturating_mul(stride));
                elements.push(decode_value(element, bytes, element_offset)?);
            }
            Ok(DecodedValue::Array(elements))
        }
        ValueType::Argv { capacity, max_args } => {
            crate::argv::decode_argv(bytes, offset, *capacity, *max_args)
                .map(DecodedValue::Argv)
                .ok_or(OutputError::ShortData {
                    what: "argv".to_string(),
                    needed: offset.saturating_add(bpfscope_bpf::ARGV_HEADER_BYTES as usize),
                    available: bytes.len(),
                })
        }
        ValueType::Bitfield {
            load_bytes,
            shift_left,
            shift_right,
            signed,
        } => {
            let loaded = read_unsigned(bytes, offset, usize::from(*load_bytes))?;
            let shifted = loaded.wrapping_shl(u32::from(*shift_left));
            let bits = if *signed {
                (shifted as i64).wrapping_shr(u32::from(*shift_right)) as u64
            } else {
                shifted.wrapping_shr(u32::from(*shift_right))
            };
            Ok(DecodedValue::Integer {
                bits,
                signed: *signed,
            })
        }
        ValueType::KernelStack { depth, mode } | ValueType::UserStack { depth, mode } => {
            // The count word: frames in the low 32 bits, the process id (user stacks) above.
            let count_word = read_unsigned(bytes, offset, 8)?;
            let frame_count = (count_word & 0xffff_ffff).min(u64::from(*depth)) as usize;
            let mut addresses = Vec::with_capacity(frame_count);
            for frame_index in 0..frame_count {
                let frame_offset = offset
                    .saturating_add(8)
                    .saturating_add(frame_index.saturating_mul(8));
                let address = read_unsigned(bytes, frame_offset, 8)?;
                // A zero return address ends the walk (bpftrace prints nothing after it).
                if address == 0 {
                    break;
                }
                addresses.push(address);
            }
            if matches!(ty, ValueType::KernelStack { .. }) {
                Ok(DecodedValue::KernelStack {
                    mode: *mode,
                    addresses,
                })
            } else {
                Ok(DecodedValue::UserStack {
                    pid: (count_word >> 32) as u32,
                    mode: *mode,
                    addresses,
                })
            }
        }
    }
}

/// `ntop()`'s text: dotted IPv4 for family 2 (`AF_INET`), RFC 5952 IPv6 for 10 (`AF_INET6`),
/// as `inet_ntop` writes them; other families print as an empty string.
pub fn inet_address_text(family: u64, address: &[u8]) -> String {
    const AF_INET: u64 = 2;
    const AF_INET6: u64 = 10;
    match family {
        AF_INET => match address.get(..4).map(<[u8; 4]>::try_from) {
            Some(Ok(octets)) => std::net::Ipv4Addr::from(octets).to_string(),
            _ => String::new(),
        },
        AF_INET6 => match address.get(..16).map(<[u8; 16]>::try_from) {
            Some(Ok(octets)) => std::net::Ipv6Addr::from(octets).to_string(),
            _ => String::new(),
        },
        _ => String::new(),
    }
}

/// How strings from traced data are written in text output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TextStyle {
    /// Replace control characters and invalid UTF-8 in traced strings by `\xNN`.
    pub escape_control: bool,
}

/// Appends traced string bytes for text output, escaping them if the style says so.
pub fn push_traced_text(bytes: &[u8], style: TextStyle, out: &mut Vec<u8>) {
    if style.escape_control {
        escape_control_bytes(bytes, out);
    } else {
        out.extend_from_slice(bytes);
    }
}

/// Formats an integer's decimal text.
pub fn integer_text(bits: u64, signed: bool) -> String {
    if signed {
        (bits as i64).to_string()
    } else {
        bits.to_string()
    }
}

/// Appends `%r`-style rendering of a buffer: printable ASCII kept, other bytes as `\xNN`.
pub fn push_buffer_escaped(data: &[u8], out: &mut Vec<u8>) {
    for &byte in data {
        if (0x20..0x7f).contains(&byte) {
            out.push(byte);
        } else {
            out.extend_from_slice(format!("\\x{:02x}", byte).as_bytes());
        }
    }
}

/// Appends `%rx`-style rendering: every byte as `\xNN`.
pub fn push_buffer_all_hex_escaped(data: &[u8], out: &mut Vec<u8>) {
    for &byte in data {
        out.extend_from_slice(format!("\\x{:02x}", byte).as_bytes());
    }
}

/// Appends `%rh`-style rendering: two hex digits per byte, separated by spaces.
pub fn push_buffer_hex_dump(data: &[u8], out: &mut Vec<u8>) {
    for (index, byte) in data.iter().enumerate() {
        if index > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(format!("{:02x}", byte).as_bytes());
    }
}

/// Turns addresses into `(symbol name, offset into the symbol)`. Built by the caller (from
/// `/proc/kallsyms`, `/proc/PID/maps` and ELF symbol tables) so that this crate reads no files.
pub trait Symbolizer: Send + Sync {
    /// The kernel symbol containing `address`.
    fn kernel_symbol(&self, address: u64) -> Option<(String, u64)>;
    /// The symbol containing `address` in process `pid` (0: the process is not known).
    fn user_symbol(&self, pid: u32, address: u64) -> Option<(String, u64)>;
    /// The path of the file mapped at `address` in process `pid` (`perf`-mode user stacks
    /// name it after each frame).
    fn user_module(&self, _pid: u32, _address: u64) -> Option<String> {
        None
    }
}

static INSTALLED_SYMBOLIZER: std::sync::RwLock<Option<std::sync::Arc<dyn Symbolizer>>> =
    std::sync::RwLock::new(None);

/// Makes `symbolizer` name the stacks and symbols printed from now on (until replaced).
pub fn install_symbolizer(symbolizer: std::sync::Arc<dyn Symbolizer>) {
    if let Ok(mut installed) = INSTALLED_SYMBOLIZER.write() {
        *installed = Some(symbolizer);
    }
}

fn installed_symbolizer() -> Option<std::sync::Arc<dyn Symbolizer>> {
    INSTALLED_SYMBOLIZER
        .read()
        .ok()
        .and_then(|installed| installed.clone())
}

/// The symbol containing a frame's address and the offset into it, when one is known.
fn frame_symbol(
    symbolizer: Option<&dyn Symbolizer>,
    user_pid: Option<u32>,
    address: u64,
) -> Option<(String, u64)> {
    symbolizer.and_then(|symbolizer| match user_pid {
        Some(pid) => symbolizer.user_symbol(pid, address),
        None => symbolizer.kernel_symbol(address),
    })
}

/// A frame as bpftrace prints it: `symbol+offset`, or the hex address when nothing names it.
fn frame_text(symbolizer: Option<&dyn Symbolizer>, user_pid: Option<u32>, address: u64) -> String {
    match frame_symbol(symbolizer, user_pid, address) {
        Some((name, offset)) => format!("{name}+{offset}"),
        None => format!("0x{address:x}"),
    }
}

/// A frame as `perf` mode prints it after the tab: the bare hex address, then the frame as
/// bpftrace prints it; user frames end with the mapped file in parentheses (`[unknown]`
/// when no symbol names the address, as perf writes).
fn perf_frame_text(
    symbolizer: Option<&dyn Symbolizer>,
    user_pid: Option<u32>,
    address: u64,
) -> String {
    let symbol = frame_symbol(symbolizer, user_pid, address);
    let symbol_text = match &symbol {
        Some((name, offset)) => format!("{name}+{offset}"),
        None => format!("0x{address:x}"),
    };
    let Some(pid) = user_pid else {
        return format!("{address:x} {symbol_text}");
    };
    let module = symbolizer
        .filter(|_| symbol.is_some())
        .and_then(|symbolizer| symbolizer.user_module(pid, address))
        .unwrap_or_else(|| "[unknown]".to_string());
    format!("{address:x} {symbol_text} ({module})")
}

/// The text of one frame in `mode`, without the indentation or tab that leads its line.
fn stack_frame_text(
    symbolizer: Option<&dyn Symbolizer>,
    user_pid: Option<u32>,
    mode: StackMode,
    address: u64,
) -> String {
    match mode {
        StackMode::Bpftrace => frame_text(symbolizer, user_pid, address),
        StackMode::Perf => perf_frame_text(symbolizer, user_pid, address),
        StackMode::Raw => format!("{address:x}"),
    }
}

/// A symbol as `ksym()`/`usym()` print it: the name alone, or the hex address.
fn symbol_text(user: bool, address: u64) -> String {
    let symbolizer = installed_symbolizer();
    let symbol = symbolizer.as_deref().and_then(|symbolizer| {
        if user {
            symbolizer.user_symbol(0, address)
        } else {
            symbolizer.kernel_symbol(address)
        }
    });
    match symbol {
        Some((name, _)) => name,
        None => format!("0x{address:x}"),
    }
}

/// bpftrace prints one frame per line after a leading newline: in `bpftrace` mode indented by
/// `indent` spaces (8 in printed values, 4 in map keys), in `perf` mode after a tab, in `raw`
/// mode not indented at all.
fn push_stack_text(
    addresses: &[u64],
    user_pid: Option<u32>,
    mode: StackMode,
    indent: usize,
    out: &mut Vec<u8>,
) {
    // Raw stacks name nothing: no need to read symbol tables for them.
    let symbolizer = match mode {
        StackMode::Raw => None,
        StackMode::Bpftrace | StackMode::Perf => installed_symbolizer(),
    };
    out.push(b'\n');
    for address in addresses {
        match mode {
            StackMode::Bpftrace => out.extend(std::iter::repeat_n(b' ', indent)),
            StackMode::Perf => out.push(b'\t'),
            StackMode::Raw => {}
        }
        let frame = stack_frame_text(symbolizer.as_deref(), user_pid, mode, *address);
        out.extend_from_slice(frame.as_bytes());
        out.push(b'\n');
    }
}

/// The stack's frames as text lines (for JSON).
fn stack_frame_texts(addresses: &[u64], user_pid: Option<u32>, mode: StackMode) -> Vec<String> {
    let symbolizer = match mode {
        StackMode::Raw => None,
        StackMode::Bpftrace | StackMode::Perf => installed_symbolizer(),
    };
    addresses
        .iter()
        .map(|address| stack_frame_text(symbolizer.as_deref(), user_pid, mode, *address))
        .collect()
}

/// Appends a map key element as bpftrace prints it between `@map[` and `]`: stacks with
/// frames indented by 4, everything else as [`push_value_text`].
pub fn push_map_key_text(value: &DecodedValue<'_>, style: TextStyle, out: &mut Vec<u8>) {
    match value {
        DecodedValue::KernelStack { mode, addresses } => {
            push_stack_text(addresses, None, *mode, 4, out)
        }
        DecodedValue::UserStack {
            pid,
            mode,
            addresses,
        } => push_stack_text(addresses, Some(*pid), *mode, 4, out),
        other => push_value_text(other, style, out),
    }
}

/// Appends the bpftrace text form of a value: integers in decimal, strings unquoted,
/// tuples as `(a, b)`, booleans `true`/`false`, pointers as `0x...`.
pub fn push_value_text(value: &DecodedValue<'_>, style: TextStyle, out: &mut Vec<u8>) {
    match value {
        DecodedValue::Integer { bits, signed } => {
            out.extend_from_slice(integer_text(*bits, *signed).as_bytes())
        }
        DecodedValue::Bool(flag) => out.extend_from_slice(if *flag { b"true" } else { b"false" }),
        DecodedValue::Str(bytes) => push_traced_text(bytes, style, out),
        DecodedValue::Formatted(bytes) => push_traced_text(bytes, style, out),
        DecodedValue::Pointer(address) => {
            out.extend_from_slice(format!("0x{:x}", address).as_bytes())
        }
        DecodedValue::KernelSymbol(address) => {
            out.extend_from_slice(symbol_text(false, *address).as_bytes())
        }
        DecodedValue::UserSymbol(address) => {
            out.extend_from_slice(symbol_text(true, *address).as_bytes())
        }
        DecodedValue::Tuple(elements) => {
            out.push(b'(');
            for (index, element) in elements.iter().enumerate() {
                if index > 0 {
                    out.extend_from_slice(b", ");
                }
                push_value_text(element, style, out);
            }
            out.push(b')');
        }
        DecodedValue::Buffer(data) => push_buffer_escaped(data, out),
        DecodedValue::Record(members) => {
            // bpftrace's struct form: `{ .a = 1, .b = { .c = 2 } }`; an empty struct is `{}`.
            if members.is_empty() {
                out.extend_from_slice(b"{}");
                return;
            }
            out.extend_from_slice(b"{ ");
            for (index, (name, member)) in members.iter().enumerate() {
                if index > 0 {
                    out.extend_from_slice(b", ");
                }
                out.push(b'.');
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b" = ");
                push_value_text(member, style, out);
            }
            out.extend_from_slice(b" }");
        }
        DecodedValue::Argv(argv) => crate::argv::push_argv_text(argv, out),
        DecodedValue::Array(elements) => {
            out.push(b'[');
            for (index, element) in elements.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                push_value_text(element, style, out);
            }
            out.push(b']');
        }
        DecodedValue::KernelStack { mode, addresses } => {
            push_stack_text(addresses, None, *mode, 8, out)
        }
        DecodedValue::UserStack {
            pid,
            mode,
            addresses,
        } => push_stack_text(addresses, Some(*pid), *mode, 8, out),
    }
}

/// Appends the bpftrace JSON form of a value: numbers, strings, `true`/`false`, tuples as
/// `[a,b]` (bpftrace writes no space after commas in arrays), stacks as arrays of hex strings.
pub fn push_value_json(value: &DecodedValue<'_>, out: &mut String) {
    match value {
        DecodedValue::Integer { bits, signed } => out.push_str(&integer_text(*bits, *signed)),
        DecodedValue::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        DecodedValue::Str(bytes) => push_json_string(bytes, out),
        DecodedValue::Formatted(bytes) => push_json_string(bytes, out),
        DecodedValue::Pointer(address) => {
            push_json_string(format!("0x{:x}", address).as_bytes(), out)
        }
        DecodedValue::KernelSymbol(address) => {
            push_json_string(symbol_text(false, *address).as_bytes(), out)
        }
        DecodedValue::UserSymbol(address) => {
            push_json_string(symbol_text(true, *address).as_bytes(), out)
        }
        DecodedValue::Tuple(elements) => {
            out.push('[');
            for (index, element) in elements.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                push_value_json(element, out);
            }
            out.push(']');
        }
        DecodedValue::Buffer(data) => {
            let mut rendered = Vec::new();
            push_buffer_escaped(data, &mut rendered);
            push_json_string(&rendered, out);
        }
        DecodedValue::Record(members) => {
            out.push('{');
            for (index, (name, member)) in members.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                push_json_string(name.as_bytes(), out);
                out.push_str(": ");
                push_value_json(member, out);
                if let DecodedValue::Argv(argv) = member {
                    // Arrays cannot say they were cut: a sibling member does.
                    out.push_str(", ");
                    push_json_string(format!("{name}_truncated").as_bytes(), out);
                    out.push_str(": ");
                    crate::argv::push_argv_cut_json(argv.cut, out);
                }
            }
            out.push('}');
        }
        DecodedValue::Argv(argv) => crate::argv::push_argv_json(argv, out),
        DecodedValue::Array(elements) => {
            out.push('[');
            for (index, element) in elements.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                push_value_json(element, out);
            }
            out.push(']');
        }
        DecodedValue::KernelStack { mode, addresses }
        | DecodedValue::UserStack {
            mode, addresses, ..
        } => {
            let user_pid = match value {
                DecodedValue::UserStack { pid, .. } => Some(*pid),
                _ => None,
            };
            out.push('[');
            let frames = stack_frame_texts(addresses, user_pid, *mode);
            for (index, frame) in frames.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                push_json_string(frame.as_bytes(), out);
            }
            out.push(']');
        }
    }
}

/// Appends a value as it appears inside a JSON object key: the text form, unescaped for control
/// characters (JSON escaping handles them).
pub fn push_value_key_text(value: &DecodedValue<'_>, out: &mut Vec<u8>) {
    match value {
        DecodedValue::Tuple(elements) => {
            for (index, element) in elements.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                push_value_key_text(element, out);
            }
        }
        other => push_value_text(
            other,
            TextStyle {
                escape_control: false,
            },
            out,
        ),
    }
}

/// Orders two values as bpftrace's newest versions sort map keys: integers numerically,
/// strings and buffers bytewise, tuples field by field.
pub fn compare_values(left: &DecodedValue<'_>, right: &DecodedValue<'_>) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (left, right) {
        (DecodedValue::Str(a), DecodedValue::Str(b))
        | (DecodedValue::Buffer(a), DecodedValue::Buffer(b)) => a.cmp(b),
        (DecodedValue::Formatted(a), DecodedValue::Formatted(b)) => a.cmp(b),
        (DecodedValue::Tuple(a), DecodedValue::Tuple(b)) => {
            for (element_a, element_b) in a.iter().zip(b.iter()) {
                let ordering = compare_values(element_a, element_b);
                if ordering != Ordering::Equal {
                    return ordering;
                }
            }
            a.len().cmp(&b.len())
        }
        (
            DecodedValue::KernelStack { addresses: a, .. },
            DecodedValue::KernelStack { addresses: b, .. },
        ) => a.cmp(b),
        (
            DecodedValue::UserStack {
                pid: pid_a,
                addresses: a,
                ..
            },
            DecodedValue::UserStack {
                pid: pid_b,
                addresses: b,
                ..
            },
        ) => (pid_a, a).cmp(&(pid_b, b)),
        _ => match (left.as_sort_number(), right.as_sort_number()) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => Ordering::Equal,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inet_addresses_print_as_inet_ntop_does() {
        let mut record = vec![2u8, 0, 0, 0, 0, 0, 0, 0, 127, 0, 0, 1];
        record.resize(24, 0);
        let decoded = decode_value(&ValueType::InetAddress, &record, 0).ok();
        assert_eq!(
            decoded,
            Some(DecodedValue::Formatted(b"127.0.0.1".to_vec()))
        );
        let mut six = [0u8; 16];
        six[0] = 0xfe;
        six[1] = 0x80;
        six[15] = 1;
        assert_eq!(inet_address_text(10, &six), "fe80::1");
        assert_eq!(inet_address_text(7, &six), "");
        assert!(decode_value(&ValueType::InetAddress, &record[..20], 0).is_err());
    }

    #[test]
    fn decodes_signed_and_unsigned_integers_of_every_width() {
        let bytes = [0xffu8; 8];
        let signed_byte = decode_value(
            &ValueType::Int {
                bytes: 1,
                signed: true,
            },
            &bytes,
            0,
        );
        assert_eq!(
            signed_byte.ok(),
            Some(DecodedValue::Integer {
                bits: u64::MAX,
                signed: true
            })
        );
        let unsigned_half = decode_value(
            &ValueType::Int {
                bytes: 2,
                signed: false,
            },
            &bytes,
            0,
        );
        assert_eq!(
            unsigned_half.ok(),
            Some(DecodedValue::Integer {
                bits: 0xffff,
                signed: false
            })
        );
        assert!(decode_value(
            &ValueType::Int {
                bytes: 8,
                signed: false
            },
            &bytes,
            1
        )
        .is_err());
        assert!(decode_value(
            &ValueType::Int {
                bytes: 3,
                signed: false
            },
            &bytes,
            0
        )
        .is_err());
    }

    #[test]
    fn decodes_tuple_with_string_and_renders_text_and_json() {
        let mut bytes = vec![1u8, 0, 0, 0, 0, 0, 0, 0];
        bytes.extend_from_slice(b"two\0\0\0\0\0");
        let ty = ValueType::Tuple(vec![
            (
                0,
                ValueType::Int {
                    bytes: 8,
                    signed: true,
                },
            ),
            (8, ValueType::Str { capacity: 8 }),
        ]);
        let value = decode_value(&ty, &bytes, 0).unwrap_or(DecodedValue::Bool(false));
        let mut text = Vec::new();
        push_value_text(
            &value,
            TextStyle {
                escape_control: true,
            },
            &mut text,
        );
        assert_eq!(text, b"(1, two)");
        let mut json = String::new();
        push_value_json(&value, &mut json);
        assert_eq!(json, r#"[1,"two"]"#);
    }

    #[test]
    fn buffer_renderings_match_bpftrace() {
        let data = b"ab\x01\xff\"\\";
        let mut escaped = Vec::new();
        push_buffer_escaped(data, &mut escaped);
        assert_eq!(escaped, b"ab\\x01\\xff\"\\");
        let mut all_hex = Vec::new();
        push_buffer_all_hex_escaped(b"ab\x01", &mut all_hex);
        assert_eq!(all_hex, b"\\x61\\x62\\x01");
        let mut dump = Vec::new();
        push_buffer_hex_dump(b"ab\x01", &mut dump);
        assert_eq!(dump, b"61 62 01");
    }

    #[test]
    fn buffer_length_header_is_clamped_to_capacity() {
        let mut bytes = vec![200u8, 0, 0, 0];
        bytes.extend_from_slice(b"abcd");
        let value = decode_value(&ValueType::Buffer { capacity: 8 }, &bytes, 0);
        assert_eq!(value.ok(), Some(DecodedValue::Buffer(b"abcd")));
    }
}

#[cfg(test)]
mod struct_print_tests {
    use super::*;
    use bpfscope_bpf::RecordField;

    fn field(name: &str, offset: u32, ty: ValueType) -> RecordField {
        RecordField {
            name: name.to_string(),
            offset,
            ty,
        }
    }

    #[test]
    fn copied_structs_print_as_bpftrace_prints_structs() {
        let inner = ValueType::Record {
            size: 4,
            fields: vec![field(
                "val",
                0,
                ValueType::Int {
                    bytes: 4,
                    signed: false,
                },
            )],
        };
        let layout = ValueType::Record {
            size: 40,
            fields: vec![
                field(
                    "pid",
                    0,
                    ValueType::Int {
                        bytes: 4,
                        signed: true,
                    },
                ),
                field("uid", 4, inner),
                field("next", 8, ValueType::Pointer),
                field("comm", 16, ValueType::Str { capacity: 8 }),
                field(
                    "pair",
                    24,
                    ValueType::CArray {
                        element: Box::new(ValueType::Int {
                            bytes: 2,
                            signed: false,
                        }),
                        length: 2,
                    },
                ),
                field(
                    "bits",
                    28,
                    ValueType::Bitfield {
                        load_bytes: 1,
                        shift_left: 60,
                        shift_right: 61,
                        signed: false,
                    },
                ),
            ],
        };
        let mut bytes = vec![0u8; 40];
        bytes[..4].copy_from_slice(&(-7i32).to_le_bytes());
        bytes[4..8].copy_from_slice(&1000u32.to_le_bytes());
        bytes[8..16].copy_from_slice(&0xffff_8881_0000_1000u64.to_le_bytes());
        bytes[16..20].copy_from_slice(b"bash");
        bytes[24..26].copy_from_slice(&3u16.to_le_bytes());
        bytes[26..28].copy_from_slice(&9u16.to_le_bytes());
        // Bits 1..=3 of the byte hold 5.
        bytes[28] = 0b0000_1010;
        let decoded = decode_value(&layout, &bytes, 0).ok();
        let Some(decoded) = decoded else {
            panic!("the struct did not decode");
        };
        let mut text = Vec::new();
        push_value_text(
            &decoded,
            TextStyle {
                escape_control: false,
            },
            &mut text,
        );
        assert_eq!(
            String::from_utf8_lossy(&text),
            "{ .pid = -7, .uid = { .val = 1000 }, .next = 0xffff888100001000, .comm = bash, \
             .pair = [3,9], .bits = 5 }"
        );
        let mut json = String::new();
        push_value_json(&decoded, &mut json);
        assert_eq!(
            json,
            "{\"pid\": -7, \"uid\": {\"val\": 1000}, \"next\": \"0xffff888100001000\", \
             \"comm\": \"bash\", \"pair\": [3,9], \"bits\": 5}"
        );
        assert!(decode_value(&layout, &bytes[..20], 0).is_err());
    }

    #[test]
    fn empty_structs_print_as_empty_braces() {
        let layout = ValueType::Record {
            size: 0,
            fields: Vec::new(),
        };
        let decoded = decode_value(&layout, &[], 0).ok();
        let mut text = Vec::new();
        if let Some(decoded) = decoded {
            push_value_text(
                &decoded,
                TextStyle {
                    escape_control: false,
                },
                &mut text,
            );
        }
        assert_eq!(text, b"{}");
    }
}

#[cfg(test)]
mod stack_mode_tests {
    use super::*;

    /// Names one kernel function and one user function for the stack-mode tests.
    struct FixtureSymbolizer;

    impl Symbolizer for FixtureSymbolizer {
        fn kernel_symbol(&self, address: u64) -> Option<(String, u64)> {
            let start = 0xffff_ffff_8100_0000;
            (start..start + 0x100)
                .contains(&address)
                .then(|| ("do_syscall_64".to_string(), address - start))
        }
        fn user_symbol(&self, _pid: u32, address: u64) -> Option<(String, u64)> {
            (0x1000..0x1100)
                .contains(&address)
                .then(|| ("shop::poke(int)".to_string(), address - 0x1000))
        }
        fn user_module(&self, _pid: u32, _address: u64) -> Option<String> {
            Some("/opt/shop/bin".to_string())
        }
    }

    #[test]
    fn stack_frames_print_in_each_mode_as_bpftrace_does() {
        let symbolizer: Option<&dyn Symbolizer> = Some(&FixtureSymbolizer);
        let kernel = 0xffff_ffff_8100_0012;
        let frame = |user_pid, mode, address| stack_frame_text(symbolizer, user_pid, mode, address);
        assert_eq!(frame(None, StackMode::Bpftrace, kernel), "do_syscall_64+18");
        assert_eq!(
            frame(None, StackMode::Perf, kernel),
            "ffffffff81000012 do_syscall_64+18"
        );
        assert_eq!(frame(None, StackMode::Raw, kernel), "ffffffff81000012");
        assert_eq!(
            frame(Some(7), StackMode::Bpftrace, 0x1004),
            "shop::poke(int)+4"
        );
        assert_eq!(
            frame(Some(7), StackMode::Perf, 0x1004),
            "1004 shop::poke(int)+4 (/opt/shop/bin)"
        );
        // Unnamed user frames: the address twice and `[unknown]`, as perf and bpftrace write.
        assert_eq!(
            frame(Some(7), StackMode::Perf, 0x2000),
            "2000 0x2000 ([unknown])"
        );
        assert_eq!(frame(None, StackMode::Perf, 0x2000), "2000 0x2000");
    }

    #[test]
    fn stacks_decode_with_their_mode_and_raw_ones_print_bare_addresses() {
        // Count word: 3 frames (the third is 0 and ends the walk), process 42 above.
        let mut bytes = (3u64 | (42u64 << 32)).to_le_bytes().to_vec();
        for address in [0x7f00_0000_1234u64, 0x5555_0000_0042, 0] {
            bytes.extend_from_slice(&address.to_le_bytes());
        }
        let user_raw = ValueType::UserStack {
            depth: 3,
            mode: StackMode::Raw,
        };
        let decoded = decode_value(&user_raw, &bytes, 0).ok();
        assert_eq!(
            decoded,
            Some(DecodedValue::UserStack {
                pid: 42,
                mode: StackMode::Raw,
                addresses: vec![0x7f00_0000_1234, 0x5555_0000_0042],
            })
        );
        let mut text = Vec::new();
        if let Some(value) = &decoded {
            push_value_text(
                value,
                TextStyle {
                    escape_control: false,
                },
                &mut text,
            );
        }
        assert_eq!(text, b"\n7f0000001234\n555500000042\n");
        let mut json = String::new();
        if let Some(value) = &decoded {
            push_value_json(value, &mut json);
        }
        assert_eq!(json, r#"["7f0000001234","555500000042"]"#);
        let kernel_perf = ValueType::KernelStack {
            depth: 1,
            mode: StackMode::Perf,
        };
        assert_eq!(
            decode_value(&kernel_perf, &bytes[..16], 0).ok(),
            Some(DecodedValue::KernelStack {
                mode: StackMode::Perf,
                addresses: vec![0x7f00_0000_1234],
            })
        );
        // A record cut short is an error, not a panic.
        assert!(decode_value(&user_raw, &bytes[..12], 0).is_err());
    }
}
