//! C rendering of BTF types: declarations as libbpf's `btf_dump__emit_type_decl` writes them
//! (what bpftrace prints in `-lv`) and single-type definitions as `bpftool btf dump format c`.
//!
//! C declarators are written inside-out: the declaration chain (pointer → const → array → int)
//! is pushed on a stack down to its base type, then unwound so that qualifiers of the base type
//! go before it, pointer qualifiers after the `*`, and arrays and function prototypes wrap what
//! remains of the chain in parentheses.

use crate::{enum_value_at, Btf, BtfError, Kind, RawType, TypeId, MAX_DEPTH};
use std::fmt::Write;

/// Rendering stops with an error beyond this much text (garbage BTF can nest exponentially).
const MAX_OUTPUT: usize = 16 << 20;

struct Renderer<'b, 'o> {
    btf: &'b Btf<'b>,
    out: &'o mut String,
    /// Shared declaration stack; each declaration works on its own frame above `start`.
    stack: Vec<TypeId>,
    depth: usize,
    root: TypeId,
}

impl Btf<'_> {
    /// The C declaration of `name` with type `ty`, e.g. `struct file *file`,
    /// `const char * const *argv`, `void (*cb)(int)`, `int a[4]`. With an empty name this is
    /// the type's C spelling (`struct file *`), which is what bpftrace prints before the name.
    pub fn decl(&self, ty: TypeId, name: &str) -> Result<String, BtfError> {
        let mut out = String::new();
        self.decl_into(&mut out, ty, name)?;
        Ok(out)
    }

    /// [`Btf::decl`] appending to `out` (no allocation when `out` has room).
    pub fn decl_into(&self, out: &mut String, ty: TypeId, name: &str) -> Result<(), BtfError> {
        let mut renderer = Renderer {
            btf: self,
            out,
            stack: Vec::new(),
            depth: 0,
            root: ty,
        };
        renderer.emit_decl(ty, name, 0)
    }

    /// The C spelling of a type without a name (`struct file *`, `char[16]`, `u64`).
    pub fn type_name(&self, ty: TypeId) -> Result<String, BtfError> {
        self.decl(ty, "")
    }

    /// The full C definition of a type, ending in `;` (no trailing newline): a struct/union
    /// with every member (anonymous members inline, bitfields `: N`, explicit padding as
    /// bpftool writes it), an enum with its values, a typedef, or a function's prototype.
    pub fn definition(&self, id: TypeId) -> Result<String, BtfError> {
        let mut out = String::new();
        let raw = self.raw(id)?;
        let mut renderer = Renderer {
            btf: self,
            out: &mut out,
            stack: Vec::new(),
            depth: 0,
            root: id,
        };
        match raw.kind {
            Kind::Struct | Kind::Union => renderer.emit_struct_def(&raw, 0)?,
            Kind::Enum | Kind::Enum64 => renderer.emit_enum_def(&raw, 0)?,
            Kind::Fwd => renderer.emit_fwd(&raw)?,
            Kind::Typedef => {
                renderer.out.push_str("typedef ");
                renderer.emit_decl(raw.target(), raw.name()?, 0)?;
            }
            Kind::Func => renderer.emit_decl(raw.target(), raw.name()?, 0)?,
            Kind::Var => renderer.emit_decl(raw.target(), raw.name()?, 0)?,
            _ => renderer.emit_decl(id, "", 0)?,
        }
        out.push(';');
        Ok(out)
    }
}

impl<'b> Renderer<'b, '_> {
    fn check_budget(&self) -> Result<(), BtfError> {
        if self.out.len() > MAX_OUTPUT {
            return Err(BtfError::OutputTooLarge { id: self.root });
        }
        Ok(())
    }

    fn kind_at(&self, index: usize) -> Result<Kind, BtfError> {
        match self.stack.get(index) {
            Some(id) => self.btf.kind(*id),
            None => Ok(Kind::Void),
        }
    }

    fn emit_decl(&mut self, ty: TypeId, name: &str, level: usize) -> Result<(), BtfError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(BtfError::TooDeep { id: ty });
        }
        let start = self.stack.len();
        let mut id = ty;
        loop {
            if self.stack.len() - start > MAX_DEPTH {
                return Err(BtfError::TooDeep { id: ty });
            }
            self.stack.push(id);
            if id == TypeId::VOID {
                break;
            }
            let raw = self.btf.raw(id)?;
            match raw.kind {
                Kind::Ptr
                | Kind::Volatile
                | Kind::Const
                | Kind::Restrict
                | Kind::FuncProto
                | Kind::TypeTag => id = raw.target(),
                Kind::Array => id = self.btf.array(id)?.element,
                Kind::Int
                | Kind::Enum
                | Kind::Enum64
                | Kind::Fwd
                | Kind::Struct
                | Kind::Union
                | Kind::Typedef
                | Kind::Float => break,
                kind => return Err(BtfError::NotDeclarable { id, kind }),
            }
        }
        let result = self.emit_chain(start, name, level);
        self.stack.truncate(start);
        self.depth -= 1;
        result
    }

    /// Writes `const `/`volatile `/`restrict ` for modifiers on top of the frame.
    fn emit_leading_modifiers(&mut self, start: usize) -> Result<(), BtfError> {
        while self.stack.len() > start {
            let word = match self.kind_at(self.stack.len() - 1)? {
                Kind::Volatile => "volatile ",
                Kind::Const => "const ",
                Kind::Restrict => "restrict ",
                _ => return Ok(()),
            };
            self.out.push_str(word);
            self.stack.pop();
        }
        Ok(())
    }

    /// Qualifiers on arrays and function prototypes mean nothing in C (GCC quirks): dropped.
    fn drop_modifiers(&mut self, start: usize) -> Result<(), BtfError> {
        while self.stack.len() > start && self.kind_at(self.stack.len() - 1)?.is_modifier() {
            self.stack.pop();
        }
        Ok(())
    }

    fn emit_name(&mut self, name: &str, last_was_pointer: bool) {
        if !name.is_empty() && !last_was_pointer {
            self.out.push(' ');
        }
        self.out.push_str(name);
    }

    fn emit_chain(&mut self, start: usize, name: &str, level: usize) -> Result<(), BtfError> {
        // True at first so that a lone pointer inside `(*name)` gets no leading space.
        let mut last_was_pointer = true;
        while self.stack.len() > start {
            self.check_budget()?;
            let Some(id) = self.stack.pop() else { break };
            if id == TypeId::VOID {
                self.emit_leading_modifiers(start)?;
                self.out.push_str("void");
                last_was_pointer = false;
                continue;
            }
            let raw = self.btf.raw(id)?;
            match raw.kind {
                Kind::Int | Kind::Float | Kind::Typedef => {
                    self.emit_leading_modifiers(start)?;
                    self.out.push_str(raw.name()?);
                }
                Kind::Struct | Kind::Union => {
                    self.emit_leading_modifiers(start)?;
                    if raw.name_offset == 0 {
                        self.emit_struct_def(&raw, level)?;
                    } else {
                        self.emit_struct_keyword_and_name(&raw)?;
                    }
                }
                Kind::Enum | Kind::Enum64 => {
                    self.emit_leading_modifiers(start)?;
                    if raw.name_offset == 0 {
                        self.emit_enum_def(&raw, level)?;
                    } else {
                        self.out.push_str("enum ");
                        self.out.push_str(raw.name()?);
                    }
                }
                Kind::Fwd => {
                    self.emit_leading_modifiers(start)?;
                    self.emit_fwd(&raw)?;
                }
                Kind::Ptr => self.out.push_str(if last_was_pointer { "*" } else { " *" }),
                Kind::Volatile => self.out.push_str(" volatile"),
                Kind::Const => self.out.push_str(" const"),
                Kind::Restrict => self.out.push_str(" restrict"),
                Kind::TypeTag => {
                    self.emit_leading_modifiers(start)?;
                    let tag = raw.name()?;
                    if raw.kind_flag {
                        let _ = write!(self.out, " __attribute__(({tag}))");
                    } else {
                        let _ = write!(self.out, " __attribute__((btf_type_tag(\"{tag}\")))");
                    }
                }
                Kind::Array => {
                    let count = self.btf.array(id)?.count;
                    self.drop_modifiers(start)?;
                    if self.stack.len() == start {
                        self.emit_name(name, last_was_pointer);
                        let _ = write!(self.out, "[{count}]");
                        return Ok(());
                    }
                    let multidimensional = self.kind_at(self.stack.len() - 1)? == Kind::Array;
                    if !name.is_empty() && !last_was_pointer {
                        self.out.push(' ');
                    }
                    if !multidimensional {
                        self.out.push('(');
                    }
                    self.emit_chain(start, name, level)?;
                    if !multidimensional {
                        self.out.push(')');
                    }
                    let _ = write!(self.out, "[{count}]");
                    return Ok(());
                }
                Kind::FuncProto => {
                    self.drop_modifiers(start)?;
                    if self.stack.len() > start {
                        self.out.push_str(" (");
                        self.emit_chain(start, name, level)?;
                        self.out.push(')');
                    } else {
                        self.emit_name(name, last_was_pointer);
                    }
                    return self.emit_params(&raw, level);
                }
                kind => return Err(BtfError::NotDeclarable { id, kind }),
            }
            last_was_pointer = raw.kind == Kind::Ptr;
        }
        self.emit_name(name, last_was_pointer);
        Ok(())
    }

    fn emit_params(&mut self, proto: &RawType<'_>, level: usize) -> Result<(), BtfError> {
        self.out.push('(');
        let count = usize::from(proto.vlen);
        // No parameters, or a lone `void` one, is C's `(void)`.
        if count == 0 || (count == 1 && self.btf.param_at(proto, 0)?.ty == TypeId::VOID) {
            self.out.push_str("void)");
            return Ok(());
        }
        for index in 0..count {
            self.check_budget()?;
            if index > 0 {
                self.out.push_str(", ");
            }
            let param = self.btf.param_at(proto, index)?;
            // A trailing `void` parameter is how BTF spells `...`.
            if index + 1 == count && param.ty == TypeId::VOID {
                self.out.push_str("...");
                break;
            }
            self.emit_decl(param.ty, param.name, level)?;
        }
        self.out.push(')');
        Ok(())
    }

    fn emit_struct_keyword_and_name(&mut self, raw: &RawType<'_>) -> Result<(), BtfError> {
        self.out.push_str(if raw.kind == Kind::Union {
            "union"
        } else {
            "struct"
        });
        let name = raw.name()?;
        if !name.is_empty() {
            self.out.push(' ');
            self.out.push_str(name);
        }
        Ok(())
    }

    fn emit_fwd(&mut self, raw: &RawType<'_>) -> Result<(), BtfError> {
        self.out
            .push_str(if raw.kind_flag { "union " } else { "struct " });
        self.out.push_str(raw.name()?);
        Ok(())
    }

    fn indent(&mut self, level: usize) {
        for _ in 0..level {
            self.out.push('\t');
        }
    }

    /// Whether a struct's layout can only come from `__attribute__((packed))`.
    fn is_packed(&self, raw: &RawType<'_>) -> Result<bool, BtfError> {
        let mut max_align = 1;
        for index in 0..usize::from(raw.vlen) {
            let member = self.btf.member_at(raw, index)?;
            let align = self.btf.align_of(member.ty).unwrap_or(0);
            if align != 0 && member.bitfield_size == 0 && member.bit_offset % (8 * align) != 0 {
                return Ok(true);
            }
            max_align = max_align.max(align);
        }
        Ok(!raw.word.is_multiple_of(max_align))
    }

    fn emit_struct_def(&mut self, raw: &RawType<'_>, level: usize) -> Result<(), BtfError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(BtfError::TooDeep { id: raw.id });
        }
        let is_struct = raw.kind == Kind::Struct;
        let packed = is_struct && self.is_packed(raw)?;
        self.emit_struct_keyword_and_name(raw)?;
        self.out.push_str(" {");
        let mut offset: i64 = 0;
        let mut previous_was_bitfield = false;
        for index in 0..usize::from(raw.vlen) {
            self.check_budget()?;
            let member = self.btf.member_at(raw, index)?;
            let member_offset = i64::from(member.bit_offset);
            let member_align = if packed {
                1
            } else {
                self.btf.align_of(member.ty).unwrap_or(1).max(1)
            };
            let in_bitfield = previous_was_bitfield && member.bitfield_size != 0;
            self.emit_bit_padding(offset, member_offset, member_align, in_bitfield, level + 1)?;
            self.out.push('\n');
            self.indent(level + 1);
            self.emit_decl(member.ty, member.name, level + 1)?;
            if member.bitfield_size != 0 {
                let _ = write!(self.out, ": {}", member.bitfield_size);
                offset = member_offset + i64::from(member.bitfield_size);
                previous_was_bitfield = true;
            } else {
                let size = self.btf.size_of(member.ty).unwrap_or(0);
                offset =
                    member_offset.saturating_add(i64::try_from(size).unwrap_or(i64::MAX / 16) * 8);
                previous_was_bitfield = false;
            }
            self.out.push(';');
        }
        if is_struct {
            let align = self.btf.align_of(raw.id).unwrap_or(1).max(1);
            self.emit_bit_padding(offset, i64::from(raw.word) * 8, align, false, level + 1)?;
        }
        if raw.vlen > 0 || raw.word > 0 {
            self.out.push('\n');
            self.indent(level);
        }
        self.out.push('}');
        if packed {
            self.out.push_str(" __attribute__((packed))");
        }
        self.depth -= 1;
        Ok(())
    }

    /// Explicit `type: bits;` padding for holes the compiler would not reproduce by itself,
    /// the way bpftool writes it (so the output compiles to the same layout).
    fn emit_bit_padding(
        &mut self,
        mut current: i64,
        next: i64,
        next_align: u32,
        in_bitfield: bool,
        level: usize,
    ) -> Result<(), BtfError> {
        if current >= next {
            return Ok(());
        }
        let long_bits = i64::from(self.btf.pointer_size) * 8;
        let pads: [(&str, i64); 4] = [("long", long_bits), ("int", 32), ("short", 16), ("char", 8)];
        let round_up = |value: i64, unit: i64| (value + unit - 1) / unit * unit;
        let (mut pad_name, mut pad_bits) = pads[0];
        let mut aligned = current;
        for (name, bits) in pads {
            pad_name = name;
            pad_bits = bits;
            aligned = round_up(current, bits);
            if aligned <= next {
                break;
            }
        }
        if aligned > current && aligned <= next {
            let needs_marker = in_bitfield
                || (aligned == next && round_up(current, i64::from(next_align) * 8) != aligned)
                || (aligned != next && next - aligned <= aligned - current);
            if needs_marker {
                self.out.push('\n');
                self.indent(level);
                let _ = write!(
                    self.out,
                    "{pad_name}: {};",
                    if in_bitfield { aligned - current } else { 0 }
                );
            }
            current = aligned;
        }
        while current < next {
            self.check_budget()?;
            let bits = (next - current).min(pad_bits);
            if bits == pad_bits {
                self.out.push('\n');
                self.indent(level);
                let _ = write!(self.out, "{pad_name}: {pad_bits};");
                current += bits;
                continue;
            }
            // The remainder: the smallest type that covers it.
            for (name, size) in pads.iter().rev() {
                pad_name = name;
                pad_bits = *size;
                if pad_bits < bits {
                    continue;
                }
                self.out.push('\n');
                self.indent(level);
                let _ = write!(self.out, "{pad_name}: {bits};");
                current += bits;
                break;
            }
        }
        Ok(())
    }

    fn emit_enum_def(&mut self, raw: &RawType<'_>, level: usize) -> Result<(), BtfError> {
        self.out.push_str("enum");
        let name = raw.name()?;
        if !name.is_empty() {
            self.out.push(' ');
            self.out.push_str(name);
        }
        if raw.vlen == 0 {
            return Ok(());
        }
        self.out.push_str(" {");
        let mut any_high_bits = false;
        for index in 0..usize::from(raw.vlen) {
            self.check_budget()?;
            let (name_offset, value) = enum_value_at(raw, index)?;
            self.out.push('\n');
            self.indent(level + 1);
            self.out.push_str(raw.owner.string_at(name_offset)?);
            if raw.kind == Kind::Enum {
                let _ = write!(self.out, " = {value},");
            } else {
                let bits = value as u64;
                any_high_bits |= bits >> 32 != 0;
                if raw.kind_flag {
                    let _ = write!(self.out, " = {}LL,", bits as i64);
                } else {
                    let _ = write!(self.out, " = {bits}ULL,");
                }
            }
        }
        self.out.push('\n');
        self.indent(level);
        self.out.push('}');
        if raw.word == 1 {
            self.out.push_str(" __attribute__((mode(byte)))");
        } else if raw.word == 8 && self.btf.pointer_size == 8 {
            // An 8-byte enum is natural only when some value needs more than 32 bits.
            let needs_word_mode = raw.kind == Kind::Enum || !any_high_bits;
            if needs_word_mode {
                self.out.push_str(" __attribute__((mode(word)))");
            }
        }
        Ok(())
    }
}
