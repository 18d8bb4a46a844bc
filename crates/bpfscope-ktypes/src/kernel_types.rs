//! `KernelTypes`: names, members, layouts and enum values, from BTF and script definitions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use bpfscope_btf::{Btf, Kind, Member, TypeId};

use crate::ctype::{Bitfield, CType, DefinitionOrigin, EnumType, RecordKind, RecordType};
use crate::error::{DefinitionError, KtypesError};
use crate::script::{Definition, ScriptDefinitions, ScriptTables};
use crate::suggest::closest_name;

/// Deepest pointer/array/anonymous-member nesting we follow (real kernels stay far below).
const MAX_NESTING: usize = 48;

/// Where a member is and how to read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberAccess {
    /// From the start of the struct (bitfields: the first byte holding the field).
    pub byte_offset: u32,
    pub bitfield: Option<Bitfield>,
    pub ty: CType,
}

/// One direct member of a struct/union, for printing whole records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldLayout {
    /// Empty for anonymous struct/union members (print their fields inline, as C reads them).
    pub name: String,
    pub byte_offset: u32,
    pub ty: CType,
    pub bitfield: Option<Bitfield>,
}

/// An enumerator found by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnumConstant {
    pub value: i128,
    pub ty: CType,
}

/// The kernel's types (if BTF is loaded) plus the script's own C definitions, which shadow
/// BTF types of the same name as in bpftrace.
pub struct KernelTypes {
    btf: Option<Arc<Btf<'static>>>,
    pub(crate) script: ScriptTables,
    /// Enumerator name → (enum id, value) over all BTF enums; built on first enum lookup.
    btf_enumerators: OnceLock<HashMap<String, (TypeId, i128)>>,
    /// `align_of` walks every nested member; a pointer to `task_struct` should not pay that
    /// walk on each `->`.
    btf_record_align: Mutex<HashMap<TypeId, u32>>,
}

impl std::fmt::Debug for KernelTypes {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("KernelTypes")
            .field("btf", &self.btf)
            .field("script_records", &self.script.records.len())
            .field("script_enums", &self.script.enums.len())
            .finish()
    }
}

impl KernelTypes {
    /// Types from kernel BTF (vmlinux, or a module's split BTF, which includes vmlinux).
    pub fn new(btf: Arc<Btf<'static>>) -> KernelTypes {
        KernelTypes::with_optional_btf(Some(btf))
    }

    /// Only C base types and the script's definitions: for scripts that need no kernel types,
    /// or hosts without BTF (kernel types then fail with [`KtypesError::NoBtf`]).
    pub fn without_btf() -> KernelTypes {
        KernelTypes::with_optional_btf(None)
    }

    pub fn with_optional_btf(btf: Option<Arc<Btf<'static>>>) -> KernelTypes {
        KernelTypes {
            btf,
            script: ScriptTables::default(),
            btf_enumerators: OnceLock::new(),
            btf_record_align: Mutex::new(HashMap::new()),
        }
    }

    pub fn btf(&self) -> Option<&Arc<Btf<'static>>> {
        self.btf.as_ref()
    }

    fn require_btf(&self, spelling: &str) -> Result<&Btf<'static>, KtypesError> {
        self.btf.as_deref().ok_or_else(|| KtypesError::NoBtf {
            spelling: spelling.to_string(),
        })
    }

    /// Parses `text` as C definitions and makes them resolvable by name.
    pub fn define(&mut self, text: &str) -> Result<Vec<Definition>, DefinitionError> {
        let parsed = crate::definitions::parse_c_definitions(text, self)?;
        let definitions = parsed.definitions.clone();
        self.add_definitions(parsed)
            .map_err(|error| DefinitionError::new(0..text.len(), error.to_string()))?;
        Ok(definitions)
    }

    /// Adds definitions parsed against this table as it is now.
    pub fn add_definitions(&mut self, parsed: ScriptDefinitions) -> Result<(), KtypesError> {
        if self.script.append(parsed.tables) {
            Ok(())
        } else {
            Err(KtypesError::StaleDefinitions)
        }
    }

    /// A type by its C spelling: `struct task_struct *`, `unsigned long`, `u32`, `pid_t`,
    /// `char[16]`, `struct sk_buff **`, `const char *`.
    pub fn resolve_type_name(&self, spelling: &str) -> Result<CType, KtypesError> {
        crate::definitions::parse_type_name(spelling, self)
    }

    /// `sizeof(type)`.
    pub fn size_of(&self, ty: &CType) -> u64 {
        ty.size()
    }

    /// `sizeof` of a spelled type.
    pub fn size_of_name(&self, spelling: &str) -> Result<u64, KtypesError> {
        Ok(self.resolve_type_name(spelling)?.size())
    }

    // ---- BTF to CType -------------------------------------------------------------------

    /// The language's view of a BTF type (typedefs and qualifiers dropped).
    pub fn ctype_of_btf(&self, id: TypeId) -> Result<CType, KtypesError> {
        let btf = self.require_btf("a kernel type")?;
        self.convert_btf(btf, id, 0)
    }

    fn convert_btf(&self, btf: &Btf<'_>, id: TypeId, depth: usize) -> Result<CType, KtypesError> {
        if depth > MAX_NESTING {
            return Err(KtypesError::Btf(bpfscope_btf::BtfError::TooDeep { id }));
        }
        let resolved = btf.resolve(id)?;
        let header = btf.type_by_id(resolved)?;
        Ok(match header.kind {
            Kind::Void => CType::Void,
            Kind::Int => {
                let info = btf.int_info(resolved)?;
                let is_char = info.is_char || header.name == "char";
                if info.is_bool || header.name == "_Bool" {
                    CType::Bool
                } else if matches!(info.size, 1 | 2 | 4 | 8) {
                    CType::Int {
                        bytes: info.size as u8,
                        // Plain char is signed on x86_64; BTF leaves its sign unrecorded.
                        signed: info.signed || is_char,
                        is_char,
                    }
                } else {
                    CType::Opaque {
                        name: header.name.to_string(),
                        size: info.size,
                        align: info.size.clamp(1, 16),
                    }
                }
            }
            Kind::Ptr => {
                let target = header.target.unwrap_or(TypeId::VOID);
                let target_resolved = btf.resolve(target)?;
                if btf.kind(target_resolved)? == Kind::FuncProto {
                    CType::FunctionPointer
                } else {
                    CType::pointer_to(self.convert_btf(btf, target, depth + 1)?)
                }
            }
            Kind::Array => {
                let array = btf.array(resolved)?;
                CType::array_of(
                    self.convert_btf(btf, array.element, depth + 1)?,
                    array.count,
                )
            }
            Kind::Struct | Kind::Union => CType::Record(self.btf_record(btf, resolved)?),
            Kind::Fwd => {
                let keyword = if header.kind_flag { "union" } else { "struct" };
                match btf.find_c_type(&format!("{keyword} {}", header.name)) {
                    Some(full) if btf.kind(full).is_ok_and(|kind| kind != Kind::Fwd) => {
                        CType::Record(self.btf_record(btf, full)?)
                    }
                    _ => CType::Record(RecordType {
                        kind: if header.kind_flag {
                            RecordKind::Union
                        } else {
                            RecordKind::Struct
                        },
                        origin: DefinitionOrigin::Btf(resolved),
                        name: header.name.to_string(),
                        size: 0,
                        align: 1,
                    }),
                }
            }
            Kind::Enum | Kind::Enum64 => CType::Enum(EnumType {
                origin: DefinitionOrigin::Btf(resolved),
                name: header.name.to_string(),
                bytes: header.size.unwrap_or(4).clamp(1, 8) as u8,
                signed: header.kind_flag,
            }),
            Kind::Float => {
                let size = header.size.unwrap_or(0);
                CType::Opaque {
                    name: header.name.to_string(),
                    size,
                    align: size.clamp(1, 16),
                }
            }
            Kind::FuncProto | Kind::Func => CType::Opaque {
                name: "function".to_string(),
                size: 0,
                align: 1,
            },
            other => CType::Opaque {
                name: other.name().to_ascii_lowercase(),
                size: 0,
                align: 1,
            },
        })
    }

    fn btf_record(&self, btf: &Btf<'_>, id: TypeId) -> Result<RecordType, KtypesError> {
        let header = btf.type_by_id(id)?;
        let kind = if header.kind == Kind::Union {
            RecordKind::Union
        } else {
            RecordKind::Struct
        };
        Ok(RecordType {
            kind,
            origin: DefinitionOrigin::Btf(id),
            name: header.name.to_string(),
            size: header.size.unwrap_or(0),
            align: self.btf_align(btf, id),
        })
    }

    fn btf_align(&self, btf: &Btf<'_>, id: TypeId) -> u32 {
        if let Ok(cache) = self.btf_record_align.lock() {
            if let Some(align) = cache.get(&id) {
                return *align;
            }
        }
        let align = btf.align_of(id).unwrap_or(1).max(1);
        if let Ok(mut cache) = self.btf_record_align.lock() {
            cache.insert(id, align);
        }
        align
    }

    /// A BTF struct/union id whose members can be read: a forward declaration is replaced by
    /// the full definition of the same name if BTF has one.
    fn complete_btf_record(
        &self,
        btf: &Btf<'_>,
        record: &RecordType,
        id: TypeId,
    ) -> Result<TypeId, KtypesError> {
        let resolved = btf.resolve(id)?;
        if btf.kind(resolved)? != Kind::Fwd {
            return Ok(resolved);
        }
        let spelling = format!("{} {}", record.kind.keyword(), record.name);
        match btf.find_c_type(&spelling) {
            Some(full) if btf.kind(full).is_ok_and(|kind| kind != Kind::Fwd) => Ok(full),
            _ => Err(KtypesError::IncompleteRecord { record: spelling }),
        }
    }

    /// The pointee of a pointer with complete record information (a struct that was only
    /// forward-declared when the pointer was typed gets its size here).
    pub fn deref_pointer(&self, pointer: &CType) -> Option<CType> {
        let target = pointer.pointee()?;
        Some(self.refresh(target))
    }

    /// A record type with its size and alignment re-read from its definition.
    pub fn refresh(&self, ty: &CType) -> CType {
        let CType::Record(record) = ty else {
            return ty.clone();
        };
        match record.origin {
            DefinitionOrigin::Script(id) => self.script.record_type(id).unwrap_or(ty.clone()),
            DefinitionOrigin::Btf(id) => match self.btf.as_deref() {
                Some(btf) => self
                    .complete_btf_record(btf, record, id)
                    .and_then(|full| self.btf_record(btf, full))
                    .map(CType::Record)
                    .unwrap_or(ty.clone()),
                None => ty.clone(),
            },
        }
    }

    // ---- members --------------------------------------------------------------------------

    /// `record.name` or `pointer->name`: where the member is and its type, looking inside
    /// anonymous struct/union members as C does.
    pub fn member(&self, ty: &CType, name: &str) -> Result<MemberAccess, KtypesError> {
        let record = ty.record().ok_or_else(|| KtypesError::NotARecord {
            ty: ty.to_string(),
            member: name.to_string(),
        })?;
        match self.find_member(record, name, 0)? {
            Some(access) => Ok(access),
            None => Err(KtypesError::NoMember {
                record: CType::Record(record.clone()).to_string(),
                member: name.to_string(),
                suggestion: self.suggest_member(record, name),
            }),
        }
    }

    /// The closest member name to a misspelled one.
    pub fn suggest_member(&self, record: &RecordType, wanted: &str) -> Option<String> {
        let names = self.member_names(record).ok()?;
        closest_name(wanted, names.iter().map(String::as_str))
    }

    fn find_member(
        &self,
        record: &RecordType,
        name: &str,
        depth: usize,
    ) -> Result<Option<MemberAccess>, KtypesError> {
        if depth > MAX_NESTING {
            return Ok(None);
        }
        match record.origin {
            DefinitionOrigin::Btf(id) => {
                let btf = self.require_btf(&record.name)?;
                let full = self.complete_btf_record(btf, record, id)?;
                match btf.find_member(full, name)? {
                    Some(member) => self.btf_member_access(btf, record, &member).map(Some),
                    None => Ok(None),
                }
            }
            DefinitionOrigin::Script(id) => {
                let script_record =
                    self.script
                        .record(id)
                        .ok_or_else(|| KtypesError::IncompleteRecord {
                            record: CType::Record(record.clone()).to_string(),
                        })?;
                if let Some(field) = script_record.fields.iter().find(|field| field.name == name) {
                    return script_field_access(record, field).map(Some);
                }
                for field in script_record
                    .fields
                    .iter()
                    .filter(|field| field.name.is_empty())
                {
                    let CType::Record(inner) = &field.ty else {
                        continue;
                    };
                    if let Some(mut access) = self.find_member(inner, name, depth + 1)? {
                        access.byte_offset =
                            access.byte_offset.saturating_add(field.bit_offset / 8);
                        return Ok(Some(access));
                    }
                }
                Ok(None)
            }
        }
    }

    fn btf_member_access(
        &self,
        btf: &Btf<'_>,
        record: &RecordType,
        member: &Member<'_>,
    ) -> Result<MemberAccess, KtypesError> {
        let ty = self.convert_btf(btf, member.ty, 0)?;
        let mut bit_offset = member.bit_offset;
        let mut bits = u32::from(member.bitfield_size);
        // Old BTF (no kind_flag) encodes bitfields in the INT itself.
        if bits == 0 {
            let resolved = btf.resolve(member.ty)?;
            if btf.kind(resolved)? == Kind::Int {
                let info = btf.int_info(resolved)?;
                if u32::from(info.bits) < info.size.saturating_mul(8) || info.bit_offset != 0 {
                    bits = u32::from(info.bits);
                    bit_offset = bit_offset.saturating_add(u32::from(info.bit_offset));
                }
            }
        }
        layout_access(record, member.name, bit_offset, bits, ty)
    }

    /// Names of all members reachable by `.`, anonymous members' fields included.
    pub fn member_names(&self, record: &RecordType) -> Result<Vec<String>, KtypesError> {
        let mut names = Vec::new();
        self.collect_member_names(record, &mut names, 0)?;
        Ok(names)
    }

    fn collect_member_names(
        &self,
        record: &RecordType,
        names: &mut Vec<String>,
        depth: usize,
    ) -> Result<(), KtypesError> {
        if depth > MAX_NESTING {
            return Ok(());
        }
        for field in self.fields_of_record(record)? {
            if field.name.is_empty() {
                if let CType::Record(inner) = &field.ty {
                    self.collect_member_names(inner, names, depth + 1)?;
                }
            } else {
                names.push(field.name);
            }
        }
        Ok(())
    }

    /// The direct members of a struct/union (or of the one a pointer points at), in order,
    /// with their layout: what `print(*$task)` prints.
    pub fn fields(&self, ty: &CType) -> Result<Vec<FieldLayout>, KtypesError> {
        let record = ty.record().ok_or_else(|| KtypesError::NotARecord {
            ty: ty.to_string(),
            member: "*".to_string(),
        })?;
        self.fields_of_record(record)
    }

    fn fields_of_record(&self, record: &RecordType) -> Result<Vec<FieldLayout>, KtypesError> {
        match record.origin {
            DefinitionOrigin::Btf(id) => {
                let btf = self.require_btf(&record.name)?;
                let full = self.complete_btf_record(btf, record, id)?;
                let mut fields = Vec::new();
                for member in btf.members(full)? {
                    let access = self.btf_member_access(btf, record, &member)?;
                    fields.push(FieldLayout {
                        name: member.name.to_string(),
                        byte_offset: access.byte_offset,
                        ty: access.ty,
                        bitfield: access.bitfield,
                    });
                }
                Ok(fields)
            }
            DefinitionOrigin::Script(id) => {
                let script_record =
                    self.script
                        .record(id)
                        .ok_or_else(|| KtypesError::IncompleteRecord {
                            record: CType::Record(record.clone()).to_string(),
                        })?;
                script_record
                    .fields
                    .iter()
                    .map(|field| {
                        let access = script_field_access(record, field)?;
                        Ok(FieldLayout {
                            name: field.name.clone(),
                            byte_offset: access.byte_offset,
                            ty: access.ty,
                            bitfield: access.bitfield,
                        })
                    })
                    .collect()
            }
        }
    }

    /// `offsetof(type, a.b.c)` (array elements as `a[2].b`); through records only, not
    /// through pointers.
    pub fn offset_of(&self, ty: &CType, path: &str) -> Result<u64, KtypesError> {
        let invalid = |reason: &str| KtypesError::InvalidMemberPath {
            path: path.to_string(),
            reason: reason.to_string(),
        };
        let mut current = ty.clone();
        let mut offset: u64 = 0;
        for component in path.split('.').map(str::trim) {
            let (name, mut indices) = match component.find('[') {
                Some(bracket) => (
                    component.get(..bracket).unwrap_or(""),
                    component.get(bracket..).unwrap_or(""),
                ),
                None => (component, ""),
            };
            if name.is_empty() {
                return Err(invalid("empty member name"));
            }
            if !matches!(current, CType::Record(_)) {
                return Err(invalid(&format!(
                    "'{name}' is looked up in {current}, which is not a struct or union"
                )));
            }
            let access = self.member(&current, name)?;
            if access.bitfield.is_some() {
                return Err(KtypesError::BitfieldOffset {
                    path: path.to_string(),
                });
            }
            offset = offset.saturating_add(u64::from(access.byte_offset));
            current = access.ty;
            while !indices.is_empty() {
                let close = indices.find(']').ok_or_else(|| invalid("missing ']'"))?;
                let number = indices.get(1..close).unwrap_or("").trim();
                let element_index: u64 = number
                    .parse()
                    .map_err(|_| invalid(&format!("'{number}' is not an array index")))?;
                let CType::Array { element, .. } = &current else {
                    return Err(invalid(&format!("'{name}' is not an array")));
                };
                offset = offset.saturating_add(element.size().saturating_mul(element_index));
                current = (**element).clone();
                indices = indices.get(close + 1..).unwrap_or("");
            }
        }
        Ok(offset)
    }

    // ---- enums ----------------------------------------------------------------------------

    /// An enumerator by name (`TASK_RUNNING` is a `#define`, so e.g. `BPF_MAP_TYPE_HASH`):
    /// the script's enums first, then kernel BTF.
    pub fn enum_value(&self, name: &str) -> Result<EnumConstant, KtypesError> {
        if let Some((id, value)) = self.script.enumerators.get(name) {
            if let Some(ty) = self.script.enum_type(*id) {
                return Ok(EnumConstant { value: *value, ty });
            }
        }
        let unknown = || KtypesError::UnknownEnumValue {
            name: name.to_string(),
        };
        let Some(btf) = self.btf.as_deref() else {
            return Err(unknown());
        };
        let index = self
            .btf_enumerators
            .get_or_init(|| build_enumerator_index(btf));
        let (id, value) = index.get(name).ok_or_else(unknown)?;
        Ok(EnumConstant {
            value: *value,
            ty: self.convert_btf(btf, *id, 0)?,
        })
    }

    /// The enumerators of an enum type, in declaration order (for printing names).
    pub fn enum_values(&self, ty: &CType) -> Result<Vec<(String, i128)>, KtypesError> {
        let CType::Enum(enumeration) = ty else {
            return Ok(Vec::new());
        };
        match enumeration.origin {
            DefinitionOrigin::Script(id) => Ok(self
                .script
                .enumeration(id)
                .map(|found| found.values.clone())
                .unwrap_or_default()),
            DefinitionOrigin::Btf(id) => {
                let btf = self.require_btf(&enumeration.name)?;
                Ok(btf
                    .enum_info(id)?
                    .values
                    .into_iter()
                    .map(|value| (value.name.to_string(), value.value))
                    .collect())
            }
        }
    }

    // ---- name lookups shared with the definitions parser ----------------------------------

    pub(crate) fn lookup_record(
        &self,
        pending: Option<&ScriptTables>,
        kind: RecordKind,
        name: &str,
    ) -> Result<Option<CType>, KtypesError> {
        let key = (kind, name.to_string());
        for tables in pending.into_iter().chain(std::iter::once(&self.script)) {
            if let Some(id) = tables.record_names.get(&key) {
                return Ok(tables.record_type(*id));
            }
        }
        let spelling = format!("{} {name}", kind.keyword());
        let btf = self.require_btf(&spelling)?;
        match btf.find_c_type(&spelling) {
            Some(id) => Ok(Some(self.convert_btf(btf, id, 0)?)),
            None => Ok(None),
        }
    }

    pub(crate) fn lookup_enum(
        &self,
        pending: Option<&ScriptTables>,
        name: &str,
    ) -> Result<Option<CType>, KtypesError> {
        for tables in pending.into_iter().chain(std::iter::once(&self.script)) {
            if let Some(id) = tables.enum_names.get(name) {
                return Ok(tables.enum_type(*id));
            }
        }
        let spelling = format!("enum {name}");
        let btf = self.require_btf(&spelling)?;
        match btf.find_c_type(&spelling) {
            Some(id) => Ok(Some(self.convert_btf(btf, id, 0)?)),
            None => Ok(None),
        }
    }

    /// A typedef name: the script's, then BTF's, then bpftrace's own integer names.
    pub(crate) fn lookup_typedef(
        &self,
        pending: Option<&ScriptTables>,
        name: &str,
    ) -> Result<Option<CType>, KtypesError> {
        for tables in pending.into_iter().chain(std::iter::once(&self.script)) {
            if let Some(ty) = tables.typedefs.get(name) {
                return Ok(Some(ty.clone()));
            }
        }
        if let Some(btf) = self.btf.as_deref() {
            if let Some(id) = btf.find(Kind::Typedef, name) {
                return Ok(Some(self.convert_btf(btf, id, 0)?));
            }
        }
        if let Some(ty) = bpftrace_integer_name(name) {
            return Ok(Some(ty));
        }
        if self.btf.is_none() {
            return Err(KtypesError::NoBtf {
                spelling: name.to_string(),
            });
        }
        Ok(None)
    }

    pub(crate) fn lookup_enumerator(
        &self,
        pending: Option<&ScriptTables>,
        name: &str,
    ) -> Option<i128> {
        if let Some((_, value)) = pending.and_then(|tables| tables.enumerators.get(name)) {
            return Some(*value);
        }
        self.enum_value(name).ok().map(|constant| constant.value)
    }

    /// For an unknown plain name: the struct/union/enum the user probably meant.
    /// The closest struct/union (`keyword` "struct" or "union") or enum name to a misspelled
    /// tag, from the script's definitions and kernel BTF (a scan, paid only on this error path).
    pub(crate) fn suggest_tag_name(
        &self,
        pending: Option<&ScriptTables>,
        keyword: &str,
        name: &str,
    ) -> Option<String> {
        let wanted_kinds: &[Kind] = match keyword {
            "struct" => &[Kind::Struct],
            "union" => &[Kind::Union],
            "enum" => &[Kind::Enum, Kind::Enum64],
            _ => return None,
        };
        let mut candidates: Vec<&str> = Vec::new();
        for tables in pending.into_iter().chain(std::iter::once(&self.script)) {
            match keyword {
                "enum" => candidates.extend(tables.enum_names.keys().map(String::as_str)),
                _ => candidates.extend(
                    tables
                        .record_names
                        .keys()
                        .filter(|(kind, _)| kind.keyword() == keyword)
                        .map(|(_, name)| name.as_str()),
                ),
            }
        }
        if let Some(btf) = self.btf.as_deref() {
            for id in btf.type_ids() {
                if btf.kind(id).is_ok_and(|kind| wanted_kinds.contains(&kind)) {
                    if let Ok(candidate) = btf.name_of(id) {
                        if !candidate.is_empty() {
                            candidates.push(candidate);
                        }
                    }
                }
            }
        }
        closest_name(name, candidates).map(|found| format!("{keyword} {found}"))
    }

    pub(crate) fn suggest_tagged(
        &self,
        pending: Option<&ScriptTables>,
        name: &str,
    ) -> Option<String> {
        for kind in [RecordKind::Struct, RecordKind::Union] {
            if let Ok(Some(_)) = self.lookup_record(pending, kind, name) {
                return Some(format!("{} {name}", kind.keyword()));
            }
        }
        if let Ok(Some(_)) = self.lookup_enum(pending, name) {
            return Some(format!("enum {name}"));
        }
        let typedef_names = pending
            .into_iter()
            .chain(std::iter::once(&self.script))
            .flat_map(|tables| tables.typedefs.keys().map(String::as_str));
        closest_name(name, typedef_names)
    }
}

/// bpftrace's cast names (`(uint32)x`), which are not C but read like typedefs.
fn bpftrace_integer_name(name: &str) -> Option<CType> {
    Some(match name {
        "int8" => CType::int(1, true),
        "uint8" => CType::int(1, false),
        "int16" => CType::int(2, true),
        "uint16" => CType::int(2, false),
        "int32" => CType::int(4, true),
        "uint32" => CType::int(4, false),
        "int64" => CType::int(8, true),
        "uint64" => CType::int(8, false),
        _ => return None,
    })
}

fn build_enumerator_index(btf: &Btf<'_>) -> HashMap<String, (TypeId, i128)> {
    let mut index = HashMap::new();
    for id in btf.type_ids() {
        if !matches!(btf.kind(id), Ok(Kind::Enum | Kind::Enum64)) {
            continue;
        }
        let Ok(info) = btf.enum_info(id) else {
            continue;
        };
        for value in info.values {
            // The first definition wins, as the lowest id is vmlinux's own.
            index
                .entry(value.name.to_string())
                .or_insert((id, value.value));
        }
    }
    index
}

fn script_field_access(
    record: &RecordType,
    field: &crate::script::ScriptField,
) -> Result<MemberAccess, KtypesError> {
    layout_access(
        record,
        &field.name,
        field.bit_offset,
        field.bitfield_bits,
        field.ty.clone(),
    )
}

/// Byte offset plus, for bitfields, the load-and-shift recipe.
fn layout_access(
    record: &RecordType,
    name: &str,
    bit_offset: u32,
    bits: u32,
    ty: CType,
) -> Result<MemberAccess, KtypesError> {
    if bits == 0 {
        return Ok(MemberAccess {
            byte_offset: bit_offset / 8,
            bitfield: None,
            ty,
        });
    }
    let bitfield = Bitfield::for_field(bit_offset % 8, bits, ty.is_signed()).ok_or_else(|| {
        KtypesError::UnloadableBitfield {
            record: CType::Record(record.clone()).to_string(),
            member: name.to_string(),
            bits,
            bit_offset,
        }
    })?;
    Ok(MemberAccess {
        byte_offset: bit_offset / 8,
        bitfield: Some(bitfield),
        ty,
    })
}
