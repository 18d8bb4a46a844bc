//! The language's model of kernel C types: BTF-backed names, members, layouts, script C definitions.
//!
//! [`KernelTypes`] answers the checker's type questions — `resolve_type_name("struct
//! task_struct *")`, `member(ty, "parent")`, `offset_of`, `size_of`, `enum_value`, `fields` for
//! printing — from kernel BTF and from C definitions written in the script, which shadow BTF
//! types of the same name as in bpftrace. Nothing here does IO: the caller loads BTF (only
//! when a script needs it) and hands it over as an `Arc<Btf>`.

mod ctype;
mod definitions;
mod error;
mod include;
mod kernel_types;
mod script;
mod suggest;

#[cfg(test)]
mod live_tests;
#[cfg(test)]
mod tests;

pub use ctype::{
    Bitfield, CType, DefinitionOrigin, EnumType, RecordKind, RecordType, POINTER_BYTES,
};
pub use definitions::parse_c_definitions;
pub use error::{DefinitionError, KtypesError};
pub use include::{include_is_satisfied, IncludeOutcome};
pub use kernel_types::{EnumConstant, FieldLayout, KernelTypes, MemberAccess};
pub use script::{
    Definition, DefinitionKind, ScriptDefinitions, ScriptEnum, ScriptField, ScriptRecord,
};
pub use suggest::{closest_name, edit_distance};
