//! Lazily indexed reader of kernel BTF: types, function prototypes, C rendering.
//!
//! [`Btf::parse`] makes one linear pass over the type section that records where each type
//! starts (and which types are FUNCs); everything else is decoded on demand. The by-name index
//! is built on the first by-name lookup only. Split BTF (kernel modules) layers on a base with
//! [`Btf::parse_split`]: its type ids and string offsets continue where the base's end.
//!
//! Nothing here does IO or panics: truncated or garbage input yields [`BtfError`].

pub mod builder;
mod error;
mod render;
mod types;

#[cfg(test)]
mod tests;

pub use error::BtfError;
pub use types::{
    ArrayInfo, EnumInfo, EnumValue, FuncProto, Function, IntInfo, Kind, Linkage, Member, Param,
    Type, TypeId,
};

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

const HEADER_LEN: usize = 24;
const MAGIC: u16 = 0xeb9f;
const COMMON_TYPE_LEN: usize = 12;
/// Longest typedef/modifier/array chain or nesting we follow; real kernels stay far below.
pub(crate) const MAX_DEPTH: usize = 64;

/// Parsed BTF: the raw bytes plus the offset of every type.
pub struct Btf<'data> {
    data: Cow<'data, [u8]>,
    big_endian: bool,
    strings_start: usize,
    strings_len: usize,
    /// Whether the whole own string section is ASCII (kernels' always is), so that names need
    /// no UTF-8 validation each time one is read: `-l` reads hundreds of thousands.
    strings_are_ascii: bool,
    /// String offsets below this belong to the base (0 for base BTF).
    string_base: u32,
    /// The id of this blob's first type (1 for base BTF).
    first_id: u32,
    /// Absolute offset in `data` of each own type, indexed by `id - first_id`.
    type_offsets: Vec<u32>,
    /// Ids of own FUNC types, in id order.
    function_ids: Vec<u32>,
    pointer_size: u32,
    base: Option<Arc<Btf<'data>>>,
    /// `(hash of name, id)` of every named own type, sorted; built on first by-name lookup.
    name_index: OnceLock<Vec<(u64, u32)>>,
    /// How many by-name lookups were answered by scanning (see `find_all_into`).
    name_scans: std::sync::atomic::AtomicU32,
    /// Names already scanned for, with the own types found.
    scanned_names: std::sync::Mutex<Vec<(String, Vec<TypeId>)>>,
}

/// By-name lookups answered by a scan before the name index is built.
const NAME_SCANS_BEFORE_INDEX: u32 = 4;

impl std::fmt::Debug for Btf<'_> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Btf")
            .field("bytes", &self.data.len())
            .field("first_id", &self.first_id)
            .field("types", &self.type_offsets.len())
            .field("functions", &self.function_ids.len())
            .field("split", &self.base.is_some())
            .finish()
    }
}

/// A located raw type: the blob that holds it and its decoded header.
#[derive(Clone, Copy)]
pub(crate) struct RawType<'a> {
    pub(crate) owner: &'a Btf<'a>,
    pub(crate) id: TypeId,
    pub(crate) name_offset: u32,
    pub(crate) kind: Kind,
    pub(crate) kind_flag: bool,
    pub(crate) vlen: u16,
    /// Size or referenced type id, depending on the kind.
    pub(crate) word: u32,
    /// Absolute offset of the kind-specific data that follows the common header.
    pub(crate) body: usize,
}

impl<'a> RawType<'a> {
    pub(crate) fn name(&self) -> Result<&'a str, BtfError> {
        self.owner.string_at(self.name_offset)
    }

    /// The `index`th 32-bit word of the kind-specific data.
    pub(crate) fn body_word(&self, index: usize) -> Result<u32, BtfError> {
        let position = index
            .checked_mul(4)
            .and_then(|bytes| bytes.checked_add(self.body))
            .ok_or(BtfError::TruncatedType { id: self.id })?;
        self.owner
            .read_u32(position)
            .ok_or(BtfError::TruncatedType { id: self.id })
    }

    fn target(&self) -> TypeId {
        TypeId(self.word)
    }

    fn expect(&self, expected: &'static str, ok: bool) -> Result<(), BtfError> {
        if ok {
            Ok(())
        } else {
            Err(BtfError::WrongKind {
                id: self.id,
                found: self.kind,
                expected,
            })
        }
    }
}

/// Bytes of kind-specific data after the 12-byte common header, or None for unknown kinds.
pub(crate) fn body_len(kind: u32, vlen: usize) -> Option<usize> {
    Some(match kind {
        0 | 2 | 7 | 8 | 9 | 10 | 11 | 12 | 16 | 18 => 0,
        1 | 14 | 17 => 4,
        3 => 12,
        4 | 5 | 15 | 19 => 12 * vlen,
        6 | 13 => 8 * vlen,
        _ => return None,
    })
}

/// FNV-1a: tiny, decent for identifiers, and stable across runs.
fn name_hash(name: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

impl<'data> Btf<'data> {
    /// Parses base BTF (e.g. `/sys/kernel/btf/vmlinux`), borrowing or owning the bytes.
    pub fn parse(data: impl Into<Cow<'data, [u8]>>) -> Result<Btf<'data>, BtfError> {
        Btf::parse_inner(data.into(), None)
    }

    /// Parses split BTF (e.g. `/sys/kernel/btf/<module>`) on top of `base`.
    pub fn parse_split(
        data: impl Into<Cow<'data, [u8]>>,
        base: Arc<Btf<'data>>,
    ) -> Result<Btf<'data>, BtfError> {
        Btf::parse_inner(data.into(), Some(base))
    }

    fn parse_inner(
        data: Cow<'data, [u8]>,
        base: Option<Arc<Btf<'data>>>,
    ) -> Result<Btf<'data>, BtfError> {
        let bytes: &[u8] = &data;
        if bytes.len() < HEADER_LEN {
            return Err(BtfError::Truncated { what: "header" });
        }
        if u32::try_from(bytes.len()).is_err() {
            return Err(BtfError::TooLarge);
        }
        let magic_bytes = [bytes[0], bytes[1]];
        let big_endian = if u16::from_le_bytes(magic_bytes) == MAGIC {
            false
        } else if u16::from_be_bytes(magic_bytes) == MAGIC {
            true
        } else {
            return Err(BtfError::BadMagic {
                found: u16::from_le_bytes(magic_bytes),
            });
        };
        if bytes[2] != 1 {
            return Err(BtfError::UnsupportedVersion { version: bytes[2] });
        }
        let word = |position: usize| -> u32 {
            let raw = [
                bytes[position],
                bytes[position + 1],
                bytes[position + 2],
                bytes[position + 3],
            ];
            if big_endian {
                u32::from_be_bytes(raw)
            } else {
                u32::from_le_bytes(raw)
            }
        };
        let header_len = word(4) as usize;
        let (type_off, type_len, str_off, str_len) = (
            word(8) as usize,
            word(12) as usize,
            word(16) as usize,
            word(20) as usize,
        );
        if header_len < HEADER_LEN || header_len > bytes.len() {
            return Err(BtfError::BadHeader {
                reason: format!("header length {header_len}"),
            });
        }
        if type_off % 4 != 0 {
            return Err(BtfError::BadHeader {
                reason: format!("type section offset {type_off} is not 4-aligned"),
            });
        }
        let section = |offset: usize, len: usize, what: &str| -> Result<(usize, usize), BtfError> {
            let start = header_len.checked_add(offset);
            let end = start.and_then(|start| start.checked_add(len));
            match (start, end) {
                (Some(start), Some(end)) if end <= bytes.len() => Ok((start, end)),
                _ => Err(BtfError::BadHeader {
                    reason: format!(
                        "{what} section ({offset}+{len}) is outside the {} bytes",
                        bytes.len()
                    ),
                }),
            }
        };
        let (types_start, types_end) = section(type_off, type_len, "type")?;
        let (strings_start, strings_end) = section(str_off, str_len, "string")?;
        let strings = &bytes[strings_start..strings_end];
        if base.is_none() && strings.first() != Some(&0) {
            return Err(BtfError::BadStringSection {
                reason: "must start with an empty string",
            });
        }
        if let Some(last) = strings.last() {
            if *last != 0 {
                return Err(BtfError::BadStringSection {
                    reason: "last string is not NUL-terminated",
                });
            }
        }

        let (first_id, string_base) = match &base {
            Some(base) => (base.next_id(), base.strings_end_offset()?),
            None => (1, 0),
        };

        // The one linear pass: where each type starts, and which types are functions.
        let mut type_offsets = Vec::with_capacity(type_len / 16);
        let mut function_ids = Vec::new();
        let mut long_size = None;
        let mut position = types_start;
        while position < types_end {
            let id = u32::try_from(type_offsets.len())
                .ok()
                .and_then(|count| count.checked_add(first_id))
                .ok_or(BtfError::TooManyTypes)?;
            if types_end - position < COMMON_TYPE_LEN {
                return Err(BtfError::TruncatedType { id: TypeId(id) });
            }
            let info = word(position + 4);
            let raw_kind = (info >> 24) & 0x1f;
            let vlen = (info & 0xffff) as usize;
            let extra = body_len(raw_kind, vlen).ok_or(BtfError::UnknownKind {
                id: TypeId(id),
                kind: raw_kind,
            })?;
            let end = position + COMMON_TYPE_LEN + extra;
            if end > types_end {
                return Err(BtfError::TruncatedType { id: TypeId(id) });
            }
            type_offsets.push(position as u32);
            if raw_kind == 12 {
                function_ids.push(id);
            } else if raw_kind == 1 && long_size.is_none() {
                // The pointer size follows `long` (as libbpf guesses it); INTs are few.
                let name_offset = word(position);
                if let Some(name) = local_string(strings, name_offset.wrapping_sub(string_base)) {
                    if name == b"long int" || name == b"long unsigned int" {
                        long_size = Some(word(position + 8));
                    }
                }
            }
            position = end;
        }
        if type_offsets
            .len()
            .checked_add(first_id as usize)
            .is_none_or(|next| next > u32::MAX as usize)
        {
            return Err(BtfError::TooManyTypes);
        }
        let pointer_size = match (&base, long_size) {
            (Some(base), _) => base.pointer_size,
            (None, Some(size)) if size == 4 || size == 8 => size,
            _ => 8,
        };
        Ok(Btf {
            big_endian,
            strings_start,
            strings_len: strings_end - strings_start,
            strings_are_ascii: bytes[strings_start..strings_end].is_ascii(),
            string_base,
            first_id,
            type_offsets,
            function_ids,
            pointer_size,
            base,
            name_index: OnceLock::new(),
            name_scans: std::sync::atomic::AtomicU32::new(0),
            scanned_names: std::sync::Mutex::new(Vec::new()),
            data,
        })
    }

    /// The id the next type would get: one past the last id (base's included).
    pub fn next_id(&self) -> u32 {
        self.first_id.saturating_add(self.type_offsets.len() as u32)
    }

    /// The first id defined by this blob (1 for base BTF).
    pub fn first_own_id(&self) -> TypeId {
        TypeId(self.first_id)
    }

    /// Number of types defined by this blob itself (without `void` and the base's).
    pub fn own_type_count(&self) -> usize {
        self.type_offsets.len()
    }

    /// The base this split BTF layers on.
    pub fn base(&self) -> Option<&Arc<Btf<'data>>> {
        self.base.as_ref()
    }

    /// Pointer size in bytes (from the size of `long`, 8 if absent).
    pub fn pointer_size(&self) -> u32 {
        self.pointer_size
    }

    pub(crate) fn strings_end_offset(&self) -> Result<u32, BtfError> {
        u32::try_from(self.strings_len)
            .ok()
            .and_then(|len| len.checked_add(self.string_base))
            .ok_or(BtfError::TooLarge)
    }

    fn read_u32(&self, position: usize) -> Option<u32> {
        let bytes = self.data.get(position..position.checked_add(4)?)?;
        let raw = [bytes[0], bytes[1], bytes[2], bytes[3]];
        Some(if self.big_endian {
            u32::from_be_bytes(raw)
        } else {
            u32::from_le_bytes(raw)
        })
    }

    /// The NUL-terminated string at a BTF string offset (offsets continue across split BTF).
    pub fn string_at(&self, offset: u32) -> Result<&str, BtfError> {
        if offset < self.string_base {
            return match &self.base {
                Some(base) => base.string_at(offset),
                None => Err(BtfError::BadStringOffset { offset }),
            };
        }
        let strings = self
            .data
            .get(self.strings_start..self.strings_start + self.strings_len)
            .ok_or(BtfError::BadStringOffset { offset })?;
        let bytes = local_string(strings, offset - self.string_base)
            .ok_or(BtfError::BadStringOffset { offset })?;
        if self.strings_are_ascii {
            // SAFETY: `bytes` is a slice of a section checked to be ASCII at parse time, and
            // every ASCII byte sequence is valid UTF-8.
            return Ok(unsafe { std::str::from_utf8_unchecked(bytes) });
        }
        std::str::from_utf8(bytes).map_err(|_| BtfError::InvalidUtf8 { offset })
    }

    /// Finds the blob holding `id` and the type's decoded header.
    pub(crate) fn raw(&self, id: TypeId) -> Result<RawType<'_>, BtfError> {
        if id.0 < self.first_id {
            return match &self.base {
                Some(base) if id.0 != 0 => base.raw(id),
                _ => Err(BtfError::NoSuchType { id }),
            };
        }
        let index = (id.0 - self.first_id) as usize;
        let position = *self
            .type_offsets
            .get(index)
            .ok_or(BtfError::NoSuchType { id })? as usize;
        let truncated = BtfError::TruncatedType { id };
        let name_offset = self.read_u32(position).ok_or(truncated.clone())?;
        let info = self.read_u32(position + 4).ok_or(truncated.clone())?;
        let word = self.read_u32(position + 8).ok_or(truncated)?;
        let raw_kind = (info >> 24) & 0x1f;
        let kind = Kind::from_raw(raw_kind).ok_or(BtfError::UnknownKind { id, kind: raw_kind })?;
        Ok(RawType {
            owner: self,
            id,
            name_offset,
            kind,
            kind_flag: info >> 31 == 1,
            vlen: (info & 0xffff) as u16,
            word,
            body: position + COMMON_TYPE_LEN,
        })
    }

    /// The kind of a type (`Void` for id 0).
    pub fn kind(&self, id: TypeId) -> Result<Kind, BtfError> {
        if id == TypeId::VOID {
            return Ok(Kind::Void);
        }
        Ok(self.raw(id)?.kind)
    }

    /// A type's common header, decoded. Id 0 is `void` (kind `Void`, empty name).
    pub fn type_by_id(&self, id: TypeId) -> Result<Type<'_>, BtfError> {
        if id == TypeId::VOID {
            return Ok(Type {
                id,
                kind: Kind::Void,
                name: "",
                kind_flag: false,
                vlen: 0,
                size: None,
                target: None,
            });
        }
        let raw = self.raw(id)?;
        Ok(Type {
            id,
            kind: raw.kind,
            name: raw.name()?,
            kind_flag: raw.kind_flag,
            vlen: raw.vlen,
            size: raw.kind.has_size().then_some(raw.word),
            target: raw.kind.has_target().then_some(raw.target()),
        })
    }

    /// Every type id, base's included, in id order (without `void`).
    pub fn type_ids(&self) -> impl Iterator<Item = TypeId> {
        (1..self.next_id()).map(TypeId)
    }

    /// The type's name ("" for anonymous types and `void`).
    pub fn name_of(&self, id: TypeId) -> Result<&str, BtfError> {
        if id == TypeId::VOID {
            return Ok("");
        }
        self.raw(id)?.name()
    }

    /// Where the name of type `id` starts in the string sections, and how long it is: callers
    /// that read the same names many times (`-l` lists each function four times) keep this
    /// and call [`Btf::string_with_length`], which skips decoding the type and finding the NUL.
    pub fn name_span(&self, id: TypeId) -> Result<(u32, u32), BtfError> {
        let raw = self.raw(id)?;
        let name = raw.name()?;
        Ok((raw.name_offset, name.len() as u32))
    }

    /// The string of `length` bytes at string offset `offset`, as [`Btf::name_span`] gave them.
    pub fn string_with_length(&self, offset: u32, length: u32) -> Result<&str, BtfError> {
        if offset < self.string_base {
            return match &self.base {
                Some(base) => base.string_with_length(offset, length),
                None => Err(BtfError::BadStringOffset { offset }),
            };
        }
        let start = self.strings_start + (offset - self.string_base) as usize;
        let end = start + length as usize;
        if end > self.strings_start + self.strings_len {
            return Err(BtfError::BadStringOffset { offset });
        }
        let bytes = self
            .data
            .get(start..end)
            .ok_or(BtfError::BadStringOffset { offset })?;
        if self.strings_are_ascii {
            // SAFETY: a slice of a section checked to be ASCII at parse time is valid UTF-8.
            return Ok(unsafe { std::str::from_utf8_unchecked(bytes) });
        }
        std::str::from_utf8(bytes).map_err(|_| BtfError::InvalidUtf8 { offset })
    }

    fn own_name_index(&self) -> &[(u64, u32)] {
        self.name_index.get_or_init(|| {
            let strings = self
                .data
                .get(self.strings_start..self.strings_start + self.strings_len)
                .unwrap_or(&[]);
            let mut index = Vec::with_capacity(self.type_offsets.len());
            for (index_in_blob, position) in self.type_offsets.iter().enumerate() {
                let Some(name_offset) = self.read_u32(*position as usize) else {
                    continue;
                };
                if name_offset == 0 {
                    continue;
                }
                // Names of split types may live in the base's strings.
                let hash = if name_offset < self.string_base {
                    match self.base.as_ref().map(|base| base.string_at(name_offset)) {
                        Some(Ok(name)) => name_hash(name.as_bytes()),
                        _ => continue,
                    }
                } else {
                    match local_string(strings, name_offset - self.string_base) {
                        Some(name) => name_hash(name),
                        None => continue,
                    }
                };
                index.push((hash, self.first_id + index_in_blob as u32));
            }
            index.sort_unstable();
            index
        })
    }

    /// Every type named `name` (any kind), own types first, then the base's.
    pub fn find_all(&self, name: &str) -> Vec<TypeId> {
        let mut found = Vec::new();
        self.find_all_into(name, &mut found);
        found
    }

    fn find_all_into(&self, name: &str, found: &mut Vec<TypeId>) {
        // A script usually looks up one or two names (`struct task_struct`): scanning for them
        // costs ~1 ms each, building the index ~5 ms. Scan for the first few, index after that.
        let scans_so_far = self
            .name_scans
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if !name.is_empty()
            && self.name_index.get().is_none()
            && scans_so_far < NAME_SCANS_BEFORE_INDEX
        {
            // The checker's two passes ask for the same names: remember what a scan found.
            let remembered = self.scanned_names.lock().ok().and_then(|scanned| {
                scanned
                    .iter()
                    .find(|(scanned_name, _)| scanned_name == name)
                    .map(|(_, ids)| ids.clone())
            });
            match remembered {
                Some(ids) => found.extend(ids),
                None => {
                    let first_new = found.len();
                    self.scan_for_name(name, found);
                    if let Ok(mut scanned) = self.scanned_names.lock() {
                        let ids = found.get(first_new..).unwrap_or_default().to_vec();
                        scanned.push((name.to_string(), ids));
                    }
                }
            }
        } else if !name.is_empty() {
            let hash = name_hash(name.as_bytes());
            let index = self.own_name_index();
            let start = index.partition_point(|(entry_hash, _)| *entry_hash < hash);
            for (entry_hash, id) in index.get(start..).unwrap_or(&[]) {
                if *entry_hash != hash {
                    break;
                }
                if self
                    .name_of(TypeId(*id))
                    .is_ok_and(|found_name| found_name == name)
                {
                    found.push(TypeId(*id));
                }
            }
        }
        if let Some(base) = &self.base {
            base.find_all_into(name, found);
        }
    }

    /// Own types named `name`, found by comparing names in place (no index built).
    fn scan_for_name(&self, name: &str, found: &mut Vec<TypeId>) {
        let strings = self
            .data
            .get(self.strings_start..self.strings_start + self.strings_len)
            .unwrap_or(&[]);
        let wanted = name.as_bytes();
        for (index_in_blob, position) in self.type_offsets.iter().enumerate() {
            let Some(name_offset) = self.read_u32(*position as usize) else {
                continue;
            };
            if name_offset == 0 {
                continue;
            }
            let matches = if name_offset < self.string_base {
                self.base.as_ref().is_some_and(|base| {
                    base.string_at(name_offset)
                        .is_ok_and(|found_name| found_name == name)
                })
            } else {
                // Compare in place: the name, then its NUL; most types differ at the first byte.
                let start = (name_offset - self.string_base) as usize;
                strings.get(start) == wanted.first()
                    && strings.get(start..start + wanted.len()) == Some(wanted)
                    && strings.get(start + wanted.len()) == Some(&0)
            };
            if matches {
                found.push(TypeId(self.first_id + index_in_blob as u32));
            }
        }
    }

    /// The first type of `kind` named `name` (own types before the base's).
    pub fn find(&self, kind: Kind, name: &str) -> Option<TypeId> {
        self.find_all(name)
            .into_iter()
            .find(|id| self.kind(*id).is_ok_and(|found| found == kind))
    }

    /// A struct, union or enum by its C spelling: `struct task_struct`, `union X`, `enum X`
    /// (enum also finds ENUM64). Prefers a full definition over a forward declaration.
    pub fn find_c_type(&self, spelling: &str) -> Option<TypeId> {
        let mut words = spelling.split_whitespace();
        let (keyword, name) = (words.next()?, words.next()?);
        if words.next().is_some() {
            return None;
        }
        let kinds: &[Kind] = match keyword {
            "struct" => &[Kind::Struct],
            "union" => &[Kind::Union],
            "enum" => &[Kind::Enum, Kind::Enum64],
            _ => return None,
        };
        let candidates: Vec<TypeId> = self
            .find_all(name)
            .into_iter()
            .filter(|id| self.kind(*id).is_ok_and(|kind| kinds.contains(&kind)))
            .collect();
        candidates
            .iter()
            .copied()
            .find(|id| self.raw(*id).is_ok_and(|raw| raw.vlen > 0))
            .or_else(|| candidates.first().copied())
    }

    /// Own FUNC types (not the base's), in id order.
    pub fn functions(&self) -> impl Iterator<Item = Result<Function<'_>, BtfError>> + '_ {
        self.function_ids
            .iter()
            .map(|id| self.function(TypeId(*id)))
    }

    /// Number of own FUNC types.
    pub fn function_count(&self) -> usize {
        self.function_ids.len()
    }

    /// A FUNC by id.
    pub fn function(&self, id: TypeId) -> Result<Function<'_>, BtfError> {
        let raw = self.raw(id)?;
        raw.expect("FUNC", raw.kind == Kind::Func)?;
        Ok(Function {
            id,
            name: raw.name()?,
            linkage: Linkage::from_raw(raw.vlen),
            proto: raw.target(),
        })
    }

    /// Follows typedefs and const/volatile/restrict/type-tag modifiers to the underlying type.
    pub fn resolve(&self, id: TypeId) -> Result<TypeId, BtfError> {
        let mut current = id;
        for _ in 0..MAX_DEPTH {
            if current == TypeId::VOID {
                return Ok(current);
            }
            let raw = self.raw(current)?;
            if raw.kind == Kind::Typedef || raw.kind.is_modifier() {
                current = raw.target();
            } else {
                return Ok(current);
            }
        }
        Err(BtfError::TooDeep { id })
    }

    /// Size in bytes, as `sizeof` would give it (pointers: [`Btf::pointer_size`]).
    pub fn size_of(&self, id: TypeId) -> Result<u64, BtfError> {
        self.size_of_at_depth(id, 0)
    }

    fn size_of_at_depth(&self, id: TypeId, depth: usize) -> Result<u64, BtfError> {
        if depth > MAX_DEPTH {
            return Err(BtfError::TooDeep { id });
        }
        let resolved = self.resolve(id)?;
        if resolved == TypeId::VOID {
            return Err(BtfError::NoSize {
                id,
                kind: Kind::Void,
            });
        }
        let raw = self.raw(resolved)?;
        match raw.kind {
            kind if kind.has_size() => Ok(u64::from(raw.word)),
            Kind::Ptr => Ok(u64::from(self.pointer_size)),
            Kind::Array => {
                let array = self.array(resolved)?;
                let element = self.size_of_at_depth(array.element, depth + 1)?;
                element
                    .checked_mul(u64::from(array.count))
                    .ok_or(BtfError::SizeOverflow { id })
            }
            Kind::Var => self.size_of_at_depth(raw.target(), depth + 1),
            kind => Err(BtfError::NoSize { id: resolved, kind }),
        }
    }

    /// Natural alignment in bytes (1 for structs whose layout shows they are packed).
    pub fn align_of(&self, id: TypeId) -> Result<u32, BtfError> {
        self.align_of_at_depth(id, 0)
    }

    fn align_of_at_depth(&self, id: TypeId, depth: usize) -> Result<u32, BtfError> {
        if depth > MAX_DEPTH {
            return Err(BtfError::TooDeep { id });
        }
        if id == TypeId::VOID {
            return Err(BtfError::NoAlignment {
                id,
                kind: Kind::Void,
            });
        }
        let raw = self.raw(id)?;
        match raw.kind {
            Kind::Int | Kind::Enum | Kind::Enum64 | Kind::Float => {
                Ok(raw.word.min(self.pointer_size))
            }
            Kind::Ptr => Ok(self.pointer_size),
            Kind::Array => self.align_of_at_depth(self.array(id)?.element, depth + 1),
            Kind::Typedef | Kind::Volatile | Kind::Const | Kind::Restrict | Kind::TypeTag => {
                self.align_of_at_depth(raw.target(), depth + 1)
            }
            Kind::Struct | Kind::Union => {
                let mut max_align = 1;
                for index in 0..usize::from(raw.vlen) {
                    let member = self.member_at(&raw, index)?;
                    let align = self.align_of_at_depth(member.ty, depth + 1)?;
                    if align == 0 {
                        return Err(BtfError::NoAlignment {
                            id: member.ty,
                            kind: self.kind(member.ty)?,
                        });
                    }
                    max_align = max_align.max(align);
                    // A member off its natural alignment means the struct is packed.
                    if member.bitfield_size == 0 && member.bit_offset % (8 * align) != 0 {
                        return Ok(1);
                    }
                }
                if raw.word % max_align != 0 {
                    return Ok(1);
                }
                Ok(max_align)
            }
            kind => Err(BtfError::NoAlignment { id, kind }),
        }
    }

    /// The encoding of an INT.
    pub fn int_info(&self, id: TypeId) -> Result<IntInfo, BtfError> {
        let raw = self.raw(id)?;
        raw.expect("INT", raw.kind == Kind::Int)?;
        let encoding = raw.body_word(0)?;
        let flags = (encoding >> 24) & 0x0f;
        Ok(IntInfo {
            size: raw.word,
            signed: flags & 1 != 0,
            is_char: flags & 2 != 0,
            is_bool: flags & 4 != 0,
            bit_offset: ((encoding >> 16) & 0xff) as u8,
            bits: (encoding & 0xff) as u8,
        })
    }

    /// Element type, index type and element count of an ARRAY.
    pub fn array(&self, id: TypeId) -> Result<ArrayInfo, BtfError> {
        let raw = self.raw(id)?;
        raw.expect("ARRAY", raw.kind == Kind::Array)?;
        Ok(ArrayInfo {
            element: TypeId(raw.body_word(0)?),
            index: TypeId(raw.body_word(1)?),
            count: raw.body_word(2)?,
        })
    }

    pub(crate) fn member_at<'a>(
        &self,
        raw: &RawType<'a>,
        index: usize,
    ) -> Result<Member<'a>, BtfError> {
        let name_offset = raw.body_word(index * 3)?;
        let ty = TypeId(raw.body_word(index * 3 + 1)?);
        let offset = raw.body_word(index * 3 + 2)?;
        let (bit_offset, bitfield_size) = if raw.kind_flag {
            (offset & 0x00ff_ffff, (offset >> 24) as u8)
        } else {
            (offset, 0)
        };
        Ok(Member {
            name: raw.owner.string_at(name_offset)?,
            ty,
            bit_offset,
            bitfield_size,
        })
    }

    /// Members of a STRUCT or UNION (kind_flag bitfield encoding decoded).
    pub fn members(&self, id: TypeId) -> Result<Vec<Member<'_>>, BtfError> {
        let raw = self.raw(id)?;
        raw.expect(
            "STRUCT or UNION",
            matches!(raw.kind, Kind::Struct | Kind::Union),
        )?;
        (0..usize::from(raw.vlen))
            .map(|index| self.member_at(&raw, index))
            .collect()
    }

    /// Finds a member by name in a struct/union (through typedefs/modifiers), looking inside
    /// anonymous struct/union members as C does; the returned `bit_offset` is from the start of
    /// the outer type.
    pub fn find_member(&self, id: TypeId, name: &str) -> Result<Option<Member<'_>>, BtfError> {
        self.find_member_at_depth(id, name, 0)
    }

    fn find_member_at_depth(
        &self,
        id: TypeId,
        name: &str,
        depth: usize,
    ) -> Result<Option<Member<'_>>, BtfError> {
        if depth > MAX_DEPTH {
            return Err(BtfError::TooDeep { id });
        }
        let resolved = self.resolve(id)?;
        let raw = self.raw(resolved)?;
        raw.expect(
            "STRUCT or UNION",
            matches!(raw.kind, Kind::Struct | Kind::Union),
        )?;
        for index in 0..usize::from(raw.vlen) {
            let member = self.member_at(&raw, index)?;
            if member.name == name {
                return Ok(Some(member));
            }
        }
        // Anonymous members second, so that a direct member always wins.
        for index in 0..usize::from(raw.vlen) {
            let member = self.member_at(&raw, index)?;
            if !member.name.is_empty() {
                continue;
            }
            let inner = self.resolve(member.ty)?;
            if !matches!(self.kind(inner)?, Kind::Struct | Kind::Union) {
                continue;
            }
            if let Some(mut found) = self.find_member_at_depth(inner, name, depth + 1)? {
                found.bit_offset = found.bit_offset.saturating_add(member.bit_offset);
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// Return type and parameters of a FUNC_PROTO, or of a FUNC's prototype.
    pub fn func_proto(&self, id: TypeId) -> Result<FuncProto<'_>, BtfError> {
        let mut raw = self.raw(id)?;
        if raw.kind == Kind::Func {
            raw = self.raw(raw.target())?;
        }
        raw.expect("FUNC_PROTO", raw.kind == Kind::FuncProto)?;
        let mut params = Vec::with_capacity(usize::from(raw.vlen));
        let mut variadic = false;
        for index in 0..usize::from(raw.vlen) {
            let param = self.param_at(&raw, index)?;
            if param.ty == TypeId::VOID && index + 1 == usize::from(raw.vlen) {
                variadic = true;
            } else {
                params.push(param);
            }
        }
        Ok(FuncProto {
            return_type: raw.target(),
            params,
            variadic,
        })
    }

    pub(crate) fn param_at<'a>(
        &self,
        raw: &RawType<'a>,
        index: usize,
    ) -> Result<Param<'a>, BtfError> {
        let name_offset = raw.body_word(index * 2)?;
        let ty = TypeId(raw.body_word(index * 2 + 1)?);
        Ok(Param {
            name: raw.owner.string_at(name_offset)?,
            ty,
        })
    }

    /// Enumerators of an ENUM or ENUM64, with exact values.
    pub fn enum_info(&self, id: TypeId) -> Result<EnumInfo<'_>, BtfError> {
        let raw = self.raw(id)?;
        raw.expect(
            "ENUM or ENUM64",
            matches!(raw.kind, Kind::Enum | Kind::Enum64),
        )?;
        let signed = raw.kind_flag;
        let mut values = Vec::with_capacity(usize::from(raw.vlen));
        for index in 0..usize::from(raw.vlen) {
            let value = enum_value_at(&raw, index)?;
            values.push(EnumValue {
                name: raw.owner.string_at(value.0)?,
                value: value.1,
            });
        }
        Ok(EnumInfo {
            size: raw.word,
            signed,
            values,
        })
    }
}

/// `(name offset, value)` of the `index`th enumerator.
pub(crate) fn enum_value_at(raw: &RawType<'_>, index: usize) -> Result<(u32, i128), BtfError> {
    let signed = raw.kind_flag;
    if raw.kind == Kind::Enum {
        let name_offset = raw.body_word(index * 2)?;
        let bits = raw.body_word(index * 2 + 1)?;
        let value = if signed {
            i128::from(bits as i32)
        } else {
            i128::from(bits)
        };
        Ok((name_offset, value))
    } else {
        let name_offset = raw.body_word(index * 3)?;
        let low = u64::from(raw.body_word(index * 3 + 1)?);
        let high = u64::from(raw.body_word(index * 3 + 2)?);
        let bits = (high << 32) | low;
        let value = if signed {
            i128::from(bits as i64)
        } else {
            i128::from(bits)
        };
        Ok((name_offset, value))
    }
}

/// The bytes of the NUL-terminated string at `offset` in a string section.
fn local_string(strings: &[u8], offset: u32) -> Option<&[u8]> {
    let rest = strings.get(offset as usize..)?;
    let end = memchr_nul(rest)?;
    rest.get(..end)
}

/// The index of the first NUL byte, eight bytes at a time (names are short but many).
fn memchr_nul(bytes: &[u8]) -> Option<usize> {
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes([
            chunk[0], chunk[1], chunk[2], chunk[3], chunk[4], chunk[5], chunk[6], chunk[7],
        ]);
        // A byte is zero exactly where this classic bit trick leaves its high bit set.
        if (word.wrapping_sub(0x0101_0101_0101_0101) & !word & 0x8080_8080_8080_8080) != 0 {
            return chunk
                .iter()
                .position(|byte| *byte == 0)
                .map(|index| offset + index);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|byte| *byte == 0)
        .map(|index| offset + index)
}
