//! `CType`: the language's view of a C type (integers, pointers, arrays, structs, enums).

use std::fmt;

use bpfscope_btf::TypeId;

/// Pointer size on the only target we generate code for (BPF is 64-bit).
pub const POINTER_BYTES: u32 = 8;

/// Where a struct/union/enum is defined: kernel BTF or a C definition written in the script.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DefinitionOrigin {
    Btf(TypeId),
    /// Index into the script's definitions of that kind (records and enums are numbered apart).
    Script(u32),
}

/// `struct` or `union`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordKind {
    Struct,
    Union,
}

impl RecordKind {
    pub fn keyword(self) -> &'static str {
        match self {
            RecordKind::Struct => "struct",
            RecordKind::Union => "union",
        }
    }
}

/// A struct or union, referred to by its definition's id: members are looked up on demand, so
/// that self-referencing kernel types (`task_struct.parent`) cost nothing until used.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RecordType {
    pub kind: RecordKind,
    pub origin: DefinitionOrigin,
    /// Empty for anonymous structs/unions.
    pub name: String,
    /// Bytes; 0 for a forward declaration whose definition is unknown.
    pub size: u32,
    pub align: u32,
}

/// An enum: its integer representation plus where its enumerators live.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EnumType {
    pub origin: DefinitionOrigin,
    /// Empty for anonymous enums.
    pub name: String,
    pub bytes: u8,
    pub signed: bool,
}

/// A C type as the language sees it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CType {
    Void,
    /// An integer of 1, 2, 4 or 8 bytes. `is_char` marks plain `char`, whose arrays read as
    /// strings with `str()` and print as strings.
    Int {
        bytes: u8,
        signed: bool,
        is_char: bool,
    },
    Bool,
    Pointer(Box<CType>),
    /// `length` 0 is a flexible array member (`char data[]`).
    Array {
        element: Box<CType>,
        length: u32,
    },
    Record(RecordType),
    Enum(EnumType),
    /// A pointer to a function: 8 opaque bytes (callable in C, only printable here).
    FunctionPointer,
    /// Anything the language cannot compute with (`float`, `__int128`): sized, named, opaque.
    Opaque {
        name: String,
        size: u32,
        align: u32,
    },
}

impl CType {
    pub const fn int(bytes: u8, signed: bool) -> CType {
        CType::Int {
            bytes,
            signed,
            is_char: false,
        }
    }

    /// Plain `char`: signed, as the x86_64 ABI says (BTF records no sign for it).
    pub const CHAR: CType = CType::Int {
        bytes: 1,
        signed: true,
        is_char: true,
    };

    pub fn pointer_to(target: CType) -> CType {
        CType::Pointer(Box::new(target))
    }

    pub fn array_of(element: CType, length: u32) -> CType {
        CType::Array {
            element: Box::new(element),
            length,
        }
    }

    /// `sizeof`: bytes the type occupies (`void` and functions: 0).
    pub fn size(&self) -> u64 {
        match self {
            CType::Void => 0,
            CType::Int { bytes, .. } => u64::from(*bytes),
            CType::Bool => 1,
            CType::Pointer(_) | CType::FunctionPointer => u64::from(POINTER_BYTES),
            CType::Array { element, length } => element.size().saturating_mul(u64::from(*length)),
            CType::Record(record) => u64::from(record.size),
            CType::Enum(enumeration) => u64::from(enumeration.bytes),
            CType::Opaque { size, .. } => u64::from(*size),
        }
    }

    /// `_Alignof`, as the x86_64 SysV ABI lays out structs.
    pub fn align(&self) -> u32 {
        match self {
            CType::Void => 1,
            CType::Int { bytes, .. } => u32::from(*bytes).clamp(1, 8),
            CType::Bool => 1,
            CType::Pointer(_) | CType::FunctionPointer => POINTER_BYTES,
            CType::Array { element, .. } => element.align(),
            CType::Record(record) => record.align.max(1),
            CType::Enum(enumeration) => u32::from(enumeration.bytes).clamp(1, 8),
            CType::Opaque { align, .. } => (*align).max(1),
        }
    }

    /// The step of pointer arithmetic on a pointer to this type (`void *` steps by 1, as GNU C).
    pub fn pointer_arithmetic_step(&self) -> u64 {
        match self {
            CType::Void | CType::FunctionPointer => 1,
            other => other.size().max(1),
        }
    }

    pub fn is_integer(&self) -> bool {
        matches!(self, CType::Int { .. } | CType::Bool | CType::Enum(_))
    }

    pub fn is_signed(&self) -> bool {
        match self {
            CType::Int { signed, .. } => *signed,
            CType::Enum(enumeration) => enumeration.signed,
            _ => false,
        }
    }

    pub fn is_pointer(&self) -> bool {
        matches!(self, CType::Pointer(_) | CType::FunctionPointer)
    }

    /// `char[N]`: what bpftrace reads as a string.
    pub fn is_char_array(&self) -> bool {
        matches!(self, CType::Array { element, .. } if matches!(**element, CType::Int { is_char: true, .. }))
    }

    /// The pointee of a pointer.
    pub fn pointee(&self) -> Option<&CType> {
        match self {
            CType::Pointer(target) => Some(target),
            _ => None,
        }
    }

    /// The struct/union itself, or the one a pointer points at (what `.`/`->` act on).
    pub fn record(&self) -> Option<&RecordType> {
        match self {
            CType::Record(record) => Some(record),
            CType::Pointer(target) => match &**target {
                CType::Record(record) => Some(record),
                _ => None,
            },
            _ => None,
        }
    }

    /// C rendering with a declarator: `render_declaration("x")` of `char[16]` is `char x[16]`.
    pub fn render_declaration(&self, declarator: &str) -> String {
        let mut rendered = String::new();
        render_into(&mut rendered, self, declarator.to_string());
        rendered
    }
}

fn base_name(ty: &CType) -> String {
    match ty {
        CType::Void => "void".to_string(),
        CType::Int {
            bytes,
            signed,
            is_char,
        } => match (bytes, signed, is_char) {
            (1, _, true) => "char",
            (1, true, false) => "signed char",
            (1, false, false) => "unsigned char",
            (2, true, _) => "short",
            (2, false, _) => "unsigned short",
            (4, true, _) => "int",
            (4, false, _) => "unsigned int",
            (_, true, _) => "long",
            (_, false, _) => "unsigned long",
        }
        .to_string(),
        CType::Bool => "bool".to_string(),
        CType::Record(record) if record.name.is_empty() => {
            format!("{} (anonymous)", record.kind.keyword())
        }
        CType::Record(record) => format!("{} {}", record.kind.keyword(), record.name),
        CType::Enum(enumeration) if enumeration.name.is_empty() => "enum (anonymous)".to_string(),
        CType::Enum(enumeration) => format!("enum {}", enumeration.name),
        CType::Opaque { name, .. } => name.clone(),
        // Pointers, arrays and function pointers are declarators, handled by the caller.
        CType::Pointer(_) | CType::Array { .. } | CType::FunctionPointer => String::new(),
    }
}

/// C's inside-out declarator syntax: pointers prefix, arrays suffix, parentheses where a
/// pointer wraps an array.
fn render_into(out: &mut String, ty: &CType, declarator: String) {
    match ty {
        CType::Pointer(target) => {
            let inner = if matches!(**target, CType::Array { .. }) {
                format!("(*{declarator})")
            } else {
                format!("*{declarator}")
            };
            render_into(out, target, inner);
        }
        CType::Array { element, length } => {
            let suffix = if *length == 0 {
                format!("{declarator}[]")
            } else {
                format!("{declarator}[{length}]")
            };
            render_into(out, element, suffix);
        }
        CType::FunctionPointer => {
            out.push_str("void (*");
            out.push_str(&declarator);
            out.push_str(")(...)");
        }
        base => {
            out.push_str(&base_name(base));
            if declarator.starts_with('[') || declarator.is_empty() {
                out.push_str(&declarator);
            } else {
                out.push(' ');
                out.push_str(&declarator);
            }
        }
    }
}

impl fmt::Display for CType {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.render_declaration(""))
    }
}

/// How code generation extracts a bitfield: load `load_bytes` bytes (little endian,
/// zero-extended to 64 bits) at the member's byte offset, shift left by `shift_left`, then
/// shift right by `shift_right` (arithmetic when `signed`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Bitfield {
    pub load_bytes: u8,
    pub shift_left: u8,
    pub shift_right: u8,
    pub signed: bool,
    /// The field's width in bits (for printing and stores).
    pub bits: u8,
    /// The field's first bit within the loaded value.
    pub bit_in_load: u8,
}

impl Bitfield {
    /// The extraction recipe for a `bits`-wide field starting `bit_in_byte` (0..8) bits into
    /// its first byte; None when the field cannot fit one 8-byte load.
    pub fn for_field(bit_in_byte: u32, bits: u32, signed: bool) -> Option<Bitfield> {
        if bits == 0 || bit_in_byte >= 8 {
            return None;
        }
        let end = bit_in_byte.checked_add(bits)?;
        let load_bytes: u32 = [1u32, 2, 4, 8].into_iter().find(|bytes| end <= bytes * 8)?;
        Some(Bitfield {
            load_bytes: load_bytes as u8,
            shift_left: (64 - end) as u8,
            shift_right: (64 - bits) as u8,
            signed,
            bits: bits as u8,
            bit_in_load: bit_in_byte as u8,
        })
    }

    /// Applies the recipe to a loaded value (what the generated code does; for tests and for
    /// user-space decoding of copied structs).
    pub fn extract(&self, loaded: u64) -> u64 {
        let shifted = loaded.wrapping_shl(u32::from(self.shift_left));
        if self.signed {
            (shifted as i64).wrapping_shr(u32::from(self.shift_right)) as u64
        } else {
            shifted.wrapping_shr(u32::from(self.shift_right))
        }
    }
}
