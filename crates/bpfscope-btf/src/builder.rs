//! A small BTF writer for tests and fixtures: assemble types in id order, get the bytes.
//!
//! Ids are plain `u32`s (the next type gets the next id); names are interned as given.

use crate::{body_len, Btf, BtfError, Kind};

/// Assembles BTF bytes (little endian).
#[derive(Clone, Debug)]
pub struct BtfBuilder {
    types: Vec<u8>,
    strings: Vec<u8>,
    next_id: u32,
    string_base: u32,
}

impl Default for BtfBuilder {
    fn default() -> Self {
        BtfBuilder::new()
    }
}

impl BtfBuilder {
    /// A builder for base BTF (first id 1).
    pub fn new() -> BtfBuilder {
        BtfBuilder {
            types: Vec::new(),
            strings: vec![0],
            next_id: 1,
            string_base: 0,
        }
    }

    /// A builder for split BTF on top of a base with `base_types` types and `base_strings`
    /// bytes of strings.
    pub fn split(base_types: u32, base_strings: u32) -> BtfBuilder {
        BtfBuilder {
            types: Vec::new(),
            strings: Vec::new(),
            next_id: base_types + 1,
            string_base: base_strings,
        }
    }

    /// A builder for split BTF on top of `base`.
    pub fn split_on(base: &Btf<'_>) -> Result<BtfBuilder, BtfError> {
        Ok(BtfBuilder::split(
            base.next_id() - 1,
            base.strings_end_offset()?,
        ))
    }

    /// The id the next added type gets.
    pub fn next_id(&self) -> u32 {
        self.next_id
    }

    /// Interns `text` and returns its string offset (0 for "").
    pub fn string(&mut self, text: &str) -> u32 {
        if text.is_empty() {
            return 0;
        }
        let offset = self.strings.len() as u32 + self.string_base;
        self.strings.extend_from_slice(text.as_bytes());
        self.strings.push(0);
        offset
    }

    fn words(&mut self, words: &[u32]) {
        for word in words {
            self.types.extend_from_slice(&word.to_le_bytes());
        }
    }

    fn header(&mut self, name: &str, kind: u32, kind_flag: bool, vlen: u32, word: u32) -> u32 {
        let name_offset = self.string(name);
        let info = (u32::from(kind_flag) << 31) | ((kind & 0x1f) << 24) | (vlen & 0xffff);
        self.words(&[name_offset, info, word]);
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// An INT of `size` bytes.
    pub fn int(&mut self, name: &str, size: u32, signed: bool) -> u32 {
        let id = self.header(name, 1, false, 0, size);
        let encoding = if signed { 1 << 24 } else { 0 };
        self.words(&[encoding | (size.saturating_mul(8) & 0xff)]);
        id
    }

    /// A type whose third word is a type id (PTR, TYPEDEF, CONST, VOLATILE, RESTRICT, FWD,
    /// TYPE_TAG, FUNC with static linkage). Other kinds get an empty/zeroed body.
    pub fn reference(&mut self, kind: Kind, name: &str, target: u32) -> u32 {
        let raw = kind as u32;
        let id = self.header(name, raw, false, 0, target);
        for _ in 0..body_len(raw, 0).unwrap_or(0) / 4 {
            self.words(&[0]);
        }
        id
    }

    /// An ARRAY of `count` elements.
    pub fn array(&mut self, element: u32, index: u32, count: u32) -> u32 {
        let id = self.header("", 3, false, 0, 0);
        self.words(&[element, index, count]);
        id
    }

    /// A STRUCT (or UNION) of `size` bytes; members are (name, type, bit offset, bitfield
    /// size). Any bitfield switches to the kind_flag encoding.
    pub fn composite(
        &mut self,
        union: bool,
        name: &str,
        size: u32,
        members: &[(&str, u32, u32, u32)],
    ) -> u32 {
        let kind_flag = members.iter().any(|member| member.3 != 0);
        let id = self.header(
            name,
            if union { 5 } else { 4 },
            kind_flag,
            members.len() as u32,
            size,
        );
        for (member_name, ty, offset, bits) in members {
            let name_offset = self.string(member_name);
            let encoded = if kind_flag {
                (bits << 24) | (offset & 0x00ff_ffff)
            } else {
                *offset
            };
            self.words(&[name_offset, *ty, encoded]);
        }
        id
    }

    /// An ENUM of `size` bytes.
    pub fn enumeration(
        &mut self,
        name: &str,
        size: u32,
        signed: bool,
        values: &[(&str, i32)],
    ) -> u32 {
        let id = self.header(name, 6, signed, values.len() as u32, size);
        for (value_name, value) in values {
            let name_offset = self.string(value_name);
            self.words(&[name_offset, *value as u32]);
        }
        id
    }

    /// An unsigned 8-byte ENUM64.
    pub fn enumeration64(&mut self, name: &str, values: &[(&str, u64)]) -> u32 {
        let id = self.header(name, 19, false, values.len() as u32, 8);
        for (value_name, value) in values {
            let name_offset = self.string(value_name);
            self.words(&[name_offset, *value as u32, (*value >> 32) as u32]);
        }
        id
    }

    /// A FUNC_PROTO; a trailing `("", 0)` parameter makes it variadic.
    pub fn func_proto(&mut self, return_type: u32, params: &[(&str, u32)]) -> u32 {
        let id = self.header("", 13, false, params.len() as u32, return_type);
        for (param_name, ty) in params {
            let name_offset = self.string(param_name);
            self.words(&[name_offset, *ty]);
        }
        id
    }

    /// A FUNC; linkage 0 static, 1 global, 2 extern.
    pub fn func(&mut self, name: &str, proto: u32, linkage: u32) -> u32 {
        self.header(name, 12, false, linkage, proto)
    }

    /// The BTF bytes: header, types, strings.
    pub fn build(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&0xeb9fu16.to_le_bytes());
        bytes.extend_from_slice(&[1, 0]);
        for word in [
            24u32,
            0,
            self.types.len() as u32,
            self.types.len() as u32,
            self.strings.len() as u32,
        ] {
            bytes.extend_from_slice(&word.to_le_bytes());
        }
        bytes.extend_from_slice(&self.types);
        bytes.extend_from_slice(&self.strings);
        bytes
    }
}
