//! Tables of types defined by the script's own C definitions (records, enums, typedefs).

use std::collections::HashMap;
use std::ops::Range;

use crate::ctype::{CType, DefinitionOrigin, EnumType, RecordKind, RecordType};

/// One member of a script-defined struct/union.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptField {
    /// Empty for anonymous struct/union members and unnamed bitfields.
    pub name: String,
    /// From the start of the containing record.
    pub bit_offset: u32,
    /// Width of a bitfield; 0 when the member is not a bitfield.
    pub bitfield_bits: u32,
    pub ty: CType,
}

/// A script-defined struct or union with its computed layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptRecord {
    pub kind: RecordKind,
    /// Empty for anonymous records (nested `struct { ... };` members).
    pub name: String,
    pub size: u32,
    pub align: u32,
    pub fields: Vec<ScriptField>,
    /// False while its body is being parsed, and for forward declarations.
    pub complete: bool,
}

/// A script-defined enum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptEnum {
    pub name: String,
    pub bytes: u8,
    pub signed: bool,
    pub values: Vec<(String, i128)>,
}

/// What a definition defined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefinitionKind {
    Struct,
    Union,
    Enum,
    Typedef,
}

/// One top-level definition of a script, as parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Definition {
    pub kind: DefinitionKind,
    pub name: String,
    /// For records and enums, the type itself; for typedefs, the aliased type.
    pub ty: CType,
    /// Byte range of the definition in the parsed text.
    pub span: Range<usize>,
}

/// Script types, numbered from `first_record`/`first_enum` so that parsed-but-not-yet-added
/// tables can layer on committed ones with ids that stay valid once appended.
#[derive(Clone, Debug, Default)]
pub struct ScriptTables {
    pub(crate) first_record: u32,
    pub(crate) first_enum: u32,
    pub(crate) records: Vec<ScriptRecord>,
    pub(crate) enums: Vec<ScriptEnum>,
    pub(crate) typedefs: HashMap<String, CType>,
    pub(crate) record_names: HashMap<(RecordKind, String), u32>,
    pub(crate) enum_names: HashMap<String, u32>,
    /// Enumerator name → (enum id, value).
    pub(crate) enumerators: HashMap<String, (u32, i128)>,
}

impl ScriptTables {
    pub(crate) fn layered_on(committed: &ScriptTables) -> ScriptTables {
        ScriptTables {
            first_record: committed.next_record_id(),
            first_enum: committed.next_enum_id(),
            ..ScriptTables::default()
        }
    }

    pub(crate) fn next_record_id(&self) -> u32 {
        self.first_record.saturating_add(self.records.len() as u32)
    }

    pub(crate) fn next_enum_id(&self) -> u32 {
        self.first_enum.saturating_add(self.enums.len() as u32)
    }

    pub(crate) fn record(&self, id: u32) -> Option<&ScriptRecord> {
        self.records
            .get(id.checked_sub(self.first_record)? as usize)
    }

    pub(crate) fn record_mut(&mut self, id: u32) -> Option<&mut ScriptRecord> {
        self.records
            .get_mut(id.checked_sub(self.first_record)? as usize)
    }

    pub(crate) fn enumeration(&self, id: u32) -> Option<&ScriptEnum> {
        self.enums.get(id.checked_sub(self.first_enum)? as usize)
    }

    pub(crate) fn record_type(&self, id: u32) -> Option<CType> {
        let record = self.record(id)?;
        Some(CType::Record(RecordType {
            kind: record.kind,
            origin: DefinitionOrigin::Script(id),
            name: record.name.clone(),
            size: record.size,
            align: record.align,
        }))
    }

    pub(crate) fn enum_type(&self, id: u32) -> Option<CType> {
        let enumeration = self.enumeration(id)?;
        Some(CType::Enum(EnumType {
            origin: DefinitionOrigin::Script(id),
            name: enumeration.name.clone(),
            bytes: enumeration.bytes,
            signed: enumeration.signed,
        }))
    }

    pub(crate) fn add_record(&mut self, record: ScriptRecord) -> u32 {
        let id = self.next_record_id();
        if !record.name.is_empty() {
            self.record_names
                .insert((record.kind, record.name.clone()), id);
        }
        self.records.push(record);
        id
    }

    pub(crate) fn add_enum(&mut self, enumeration: ScriptEnum) -> u32 {
        let id = self.next_enum_id();
        for (name, value) in &enumeration.values {
            self.enumerators.insert(name.clone(), (id, *value));
        }
        if !enumeration.name.is_empty() {
            self.enum_names.insert(enumeration.name.clone(), id);
        }
        self.enums.push(enumeration);
        id
    }

    /// Appends `other`, which must have been layered on `self` as it is now.
    pub(crate) fn append(&mut self, other: ScriptTables) -> bool {
        if other.first_record != self.next_record_id() || other.first_enum != self.next_enum_id() {
            return false;
        }
        self.records.extend(other.records);
        self.enums.extend(other.enums);
        self.typedefs.extend(other.typedefs);
        self.record_names.extend(other.record_names);
        self.enum_names.extend(other.enum_names);
        self.enumerators.extend(other.enumerators);
        true
    }
}

/// The definitions parsed from one text, ready to be added to a [`crate::KernelTypes`].
#[derive(Clone, Debug)]
pub struct ScriptDefinitions {
    pub definitions: Vec<Definition>,
    pub(crate) tables: ScriptTables,
}

impl ScriptDefinitions {
    /// Script-defined records (anonymous nested ones included), in id order.
    pub fn records(&self) -> &[ScriptRecord] {
        &self.tables.records
    }
}
