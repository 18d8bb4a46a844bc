//! Everything that can be wrong with BTF bytes or with a question asked of them.

use crate::types::{Kind, TypeId};

/// Why BTF could not be parsed, or why a type question has no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BtfError {
    #[error("BTF is truncated: {what}")]
    Truncated { what: &'static str },
    #[error("not BTF: bad magic 0x{found:04x} (expected 0xeb9f)")]
    BadMagic { found: u16 },
    #[error("unsupported BTF version {version} (only version 1 is known)")]
    UnsupportedVersion { version: u8 },
    #[error("bad BTF header: {reason}")]
    BadHeader { reason: String },
    #[error("bad BTF string section: {reason}")]
    BadStringSection { reason: &'static str },
    #[error("BTF type {id} is truncated")]
    TruncatedType { id: TypeId },
    #[error("BTF type {id} has unknown kind {kind}")]
    UnknownKind { id: TypeId, kind: u32 },
    #[error("BTF has too many types for 32-bit type ids")]
    TooManyTypes,
    #[error("BTF blob is larger than 4 GiB")]
    TooLarge,
    #[error("no BTF type with id {id}")]
    NoSuchType { id: TypeId },
    #[error("BTF string offset {offset} is out of range")]
    BadStringOffset { offset: u32 },
    #[error("BTF string at offset {offset} is not valid UTF-8")]
    InvalidUtf8 { offset: u32 },
    #[error("BTF type {id} is a {found}, expected {expected}")]
    WrongKind {
        id: TypeId,
        found: Kind,
        expected: &'static str,
    },
    #[error("BTF type {id} has no size ({kind})")]
    NoSize { id: TypeId, kind: Kind },
    #[error("BTF type {id} has no alignment ({kind})")]
    NoAlignment { id: TypeId, kind: Kind },
    #[error("BTF type chain starting at {id} is too deep (a loop?)")]
    TooDeep { id: TypeId },
    #[error("BTF type {id} ({kind}) cannot appear in a C declaration")]
    NotDeclarable { id: TypeId, kind: Kind },
    #[error("C rendering of BTF type {id} exceeds the output limit")]
    OutputTooLarge { id: TypeId },
    #[error("size of BTF type {id} overflows")]
    SizeOverflow { id: TypeId },
}
