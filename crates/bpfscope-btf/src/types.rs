//! Decoded BTF values handed to callers: type ids, kinds, members, parameters, enumerators.

use std::fmt;

/// A BTF type id. Id 0 is `void`; in split BTF ids continue after the base's last id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TypeId(pub u32);

impl TypeId {
    pub const VOID: TypeId = TypeId(0);
}

impl fmt::Display for TypeId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "[{}]", self.0)
    }
}

/// The kind of a BTF type, numbered as in the kernel's `BTF_KIND_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Void,
    Int,
    Ptr,
    Array,
    Struct,
    Union,
    Enum,
    Fwd,
    Typedef,
    Volatile,
    Const,
    Restrict,
    Func,
    FuncProto,
    Var,
    Datasec,
    Float,
    DeclTag,
    TypeTag,
    Enum64,
}

impl Kind {
    /// The kind for a raw `BTF_KIND_*` number, if known.
    pub fn from_raw(raw: u32) -> Option<Kind> {
        Some(match raw {
            0 => Kind::Void,
            1 => Kind::Int,
            2 => Kind::Ptr,
            3 => Kind::Array,
            4 => Kind::Struct,
            5 => Kind::Union,
            6 => Kind::Enum,
            7 => Kind::Fwd,
            8 => Kind::Typedef,
            9 => Kind::Volatile,
            10 => Kind::Const,
            11 => Kind::Restrict,
            12 => Kind::Func,
            13 => Kind::FuncProto,
            14 => Kind::Var,
            15 => Kind::Datasec,
            16 => Kind::Float,
            17 => Kind::DeclTag,
            18 => Kind::TypeTag,
            19 => Kind::Enum64,
            _ => return None,
        })
    }

    /// bpftool's upper-case name (`STRUCT`, `FUNC_PROTO`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Void => "VOID",
            Kind::Int => "INT",
            Kind::Ptr => "PTR",
            Kind::Array => "ARRAY",
            Kind::Struct => "STRUCT",
            Kind::Union => "UNION",
            Kind::Enum => "ENUM",
            Kind::Fwd => "FWD",
            Kind::Typedef => "TYPEDEF",
            Kind::Volatile => "VOLATILE",
            Kind::Const => "CONST",
            Kind::Restrict => "RESTRICT",
            Kind::Func => "FUNC",
            Kind::FuncProto => "FUNC_PROTO",
            Kind::Var => "VAR",
            Kind::Datasec => "DATASEC",
            Kind::Float => "FLOAT",
            Kind::DeclTag => "DECL_TAG",
            Kind::TypeTag => "TYPE_TAG",
            Kind::Enum64 => "ENUM64",
        }
    }

    /// Whether the type's third word is a size (otherwise it is a referenced type id).
    pub fn has_size(self) -> bool {
        matches!(
            self,
            Kind::Int
                | Kind::Struct
                | Kind::Union
                | Kind::Enum
                | Kind::Enum64
                | Kind::Float
                | Kind::Datasec
        )
    }

    /// Whether the type's third word is a referenced type id.
    pub fn has_target(self) -> bool {
        matches!(
            self,
            Kind::Ptr
                | Kind::Typedef
                | Kind::Volatile
                | Kind::Const
                | Kind::Restrict
                | Kind::Func
                | Kind::FuncProto
                | Kind::Var
                | Kind::DeclTag
                | Kind::TypeTag
        )
    }

    /// Qualifiers that C writes next to the type they qualify (and `resolve` skips).
    pub fn is_modifier(self) -> bool {
        matches!(
            self,
            Kind::Volatile | Kind::Const | Kind::Restrict | Kind::TypeTag
        )
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// One BTF type's common header, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Type<'a> {
    pub id: TypeId,
    pub kind: Kind,
    /// Empty for anonymous types and for `void`.
    pub name: &'a str,
    pub kind_flag: bool,
    /// Member/parameter/enumerator count (for FUNC: the linkage).
    pub vlen: u16,
    /// Byte size, for INT, STRUCT, UNION, ENUM, ENUM64, FLOAT, DATASEC.
    pub size: Option<u32>,
    /// The referenced type for PTR, TYPEDEF, modifiers, FUNC (its proto), FUNC_PROTO (its
    /// return type), VAR and DECL_TAG.
    pub target: Option<TypeId>,
}

/// The encoding of a BTF INT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntInfo {
    pub size: u32,
    pub signed: bool,
    pub is_char: bool,
    pub is_bool: bool,
    pub bit_offset: u8,
    pub bits: u8,
}

/// A BTF ARRAY.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArrayInfo {
    pub element: TypeId,
    pub index: TypeId,
    pub count: u32,
}

/// A struct or union member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member<'a> {
    /// Empty for anonymous struct/union members.
    pub name: &'a str,
    pub ty: TypeId,
    /// Offset from the start of the containing struct, in bits.
    pub bit_offset: u32,
    /// Width of a bitfield; 0 when the member is not a bitfield.
    pub bitfield_size: u8,
}

impl Member<'_> {
    /// Byte offset of a non-bitfield member (bitfields: the byte holding the first bit).
    pub fn byte_offset(&self) -> u32 {
        self.bit_offset / 8
    }
}

/// A function parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param<'a> {
    pub name: &'a str,
    pub ty: TypeId,
}

/// A FUNC_PROTO: return type and parameters (a trailing `...` is reported as `variadic`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncProto<'a> {
    pub return_type: TypeId,
    pub params: Vec<Param<'a>>,
    pub variadic: bool,
}

/// Linkage of a BTF FUNC (its `vlen`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Linkage {
    Static,
    Global,
    Extern,
    Other(u16),
}

impl Linkage {
    pub fn from_raw(raw: u16) -> Linkage {
        match raw {
            0 => Linkage::Static,
            1 => Linkage::Global,
            2 => Linkage::Extern,
            other => Linkage::Other(other),
        }
    }
}

/// A BTF FUNC: a named function and its prototype.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Function<'a> {
    pub id: TypeId,
    pub name: &'a str,
    pub linkage: Linkage,
    pub proto: TypeId,
}

/// One enumerator of an ENUM or ENUM64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnumValue<'a> {
    pub name: &'a str,
    /// The value, exact for signed and unsigned 32- and 64-bit enumerators.
    pub value: i128,
}

/// An ENUM or ENUM64 with its enumerators.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnumInfo<'a> {
    pub size: u32,
    pub signed: bool,
    pub values: Vec<EnumValue<'a>>,
}
