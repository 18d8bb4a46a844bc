//! Errors of type questions (unknown names, missing members) and of script C definitions.

use std::ops::Range;

use bpfscope_btf::BtfError;

/// Why a type question has no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KtypesError {
    #[error("no member '{member}' in {record}{}", did_you_mean(.suggestion))]
    NoMember {
        record: String,
        member: String,
        suggestion: Option<String>,
    },
    #[error("cannot access member '{member}' of {ty}: not a struct, union or pointer to one")]
    NotARecord { ty: String, member: String },
    #[error(
        "{record} is only declared (no definition in BTF or the script): its members are unknown"
    )]
    IncompleteRecord { record: String },
    #[error("unknown type '{spelling}'{}", did_you_mean(.suggestion))]
    UnknownType {
        spelling: String,
        suggestion: Option<String>,
    },
    #[error("'{spelling}' needs kernel BTF (/sys/kernel/btf/vmlinux), which is not loaded")]
    NoBtf { spelling: String },
    #[error("invalid type name '{spelling}': {reason}")]
    InvalidTypeName { spelling: String, reason: String },
    #[error("invalid member path '{path}': {reason}")]
    InvalidMemberPath { path: String, reason: String },
    #[error("'{path}' is a bitfield: it has no byte offset")]
    BitfieldOffset { path: String },
    #[error("bitfield '{member}' of {record} cannot be read with one load ({bits} bits at bit {bit_offset})")]
    UnloadableBitfield {
        record: String,
        member: String,
        bits: u32,
        bit_offset: u32,
    },
    #[error("unknown enum value '{name}'")]
    UnknownEnumValue { name: String },
    #[error("kernel BTF: {0}")]
    Btf(#[from] BtfError),
    #[error("script definitions were parsed for another state of the type table (stale ids)")]
    StaleDefinitions,
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(candidate) => format!("; did you mean '{candidate}'?"),
        None => String::new(),
    }
}

/// An error in a script's C definitions, located by a byte range in the text that was parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DefinitionError {
    pub message: String,
    /// Byte range in the parsed text (add the definition's own offset in the script).
    pub span: Range<usize>,
    pub hint: Option<String>,
}

impl DefinitionError {
    pub fn new(span: Range<usize>, message: impl Into<String>) -> DefinitionError {
        DefinitionError {
            message: message.into(),
            span,
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> DefinitionError {
        self.hint = Some(hint.into());
        self
    }
}
