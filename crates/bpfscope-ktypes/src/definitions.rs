//! Parser for the C written in scripts: `struct`/`union`/`enum`/`typedef` definitions and type
//! names, with x86_64 SysV layout (alignment, padding, bitfield packing).

use std::ops::Range;

use crate::ctype::{CType, DefinitionOrigin, RecordKind};
use crate::error::{DefinitionError, KtypesError};
use crate::kernel_types::KernelTypes;
use crate::script::{
    Definition, DefinitionKind, ScriptDefinitions, ScriptEnum, ScriptField, ScriptRecord,
    ScriptTables,
};

/// Deepest nesting of anonymous records, parentheses and pointers accepted.
const MAX_NESTING: usize = 32;

#[derive(Clone, Debug, PartialEq, Eq)]
enum TokenKind {
    Identifier(String),
    Number(i128),
    /// Punctuation, `<<` and `...` included.
    Punct(&'static str),
    End,
}

#[derive(Clone, Debug)]
struct Token {
    kind: TokenKind,
    span: Range<usize>,
}

const PUNCTUATION: [&str; 20] = [
    "...", "<<", ">>", "{", "}", ";", ",", "*", "[", "]", "(", ")", ":", "=", "-", "+", "|", "~",
    "&", "/",
];

fn tokenize(text: &str) -> Result<Vec<Token>, DefinitionError> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut position = 0;
    while position < bytes.len() {
        let byte = bytes.get(position).copied().unwrap_or(0);
        let rest = text.get(position..).unwrap_or("");
        if byte.is_ascii_whitespace() {
            position += 1;
        } else if rest.starts_with("//") {
            position += rest.find('\n').unwrap_or(rest.len());
        } else if rest.starts_with("/*") {
            let end = rest
                .get(2..)
                .and_then(|after| after.find("*/"))
                .ok_or_else(|| {
                    DefinitionError::new(position..text.len(), "unterminated comment")
                })?;
            position += end + 4;
        } else if byte.is_ascii_alphabetic() || byte == b'_' {
            let length = rest
                .bytes()
                .take_while(|next| next.is_ascii_alphanumeric() || *next == b'_')
                .count();
            tokens.push(Token {
                kind: TokenKind::Identifier(rest.get(..length).unwrap_or("").to_string()),
                span: position..position + length,
            });
            position += length;
        } else if byte.is_ascii_digit() {
            let length = rest
                .bytes()
                .take_while(|next| next.is_ascii_alphanumeric())
                .count();
            let literal = rest.get(..length).unwrap_or("");
            let span = position..position + length;
            let value = parse_integer(literal).ok_or_else(|| {
                DefinitionError::new(span.clone(), format!("invalid number '{literal}'"))
            })?;
            tokens.push(Token {
                kind: TokenKind::Number(value),
                span,
            });
            position += length;
        } else if let Some(punct) = PUNCTUATION.iter().find(|punct| rest.starts_with(**punct)) {
            tokens.push(Token {
                kind: TokenKind::Punct(punct),
                span: position..position + punct.len(),
            });
            position += punct.len();
        } else {
            let character = rest.chars().next().unwrap_or('?');
            return Err(DefinitionError::new(
                position..position + character.len_utf8(),
                format!("unexpected character '{character}' in a C definition"),
            ));
        }
    }
    tokens.push(Token {
        kind: TokenKind::End,
        span: text.len()..text.len(),
    });
    Ok(tokens)
}

/// A C integer literal (decimal, `0x` hex, `0` octal, `0b` binary) with `u`/`l` suffixes.
fn parse_integer(literal: &str) -> Option<i128> {
    let digits = literal.trim_end_matches(['u', 'U', 'l', 'L']);
    let (radix, body) = if let Some(hex) = digits.strip_prefix("0x").or(digits.strip_prefix("0X")) {
        (16, hex)
    } else if let Some(binary) = digits.strip_prefix("0b").or(digits.strip_prefix("0B")) {
        (2, binary)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, digits.get(1..)?)
    } else {
        (10, digits)
    };
    if body.is_empty() {
        return None;
    }
    i128::from_str_radix(body, radix).ok()
}

/// Parses script C definitions against `types` (for BTF structs and earlier definitions);
/// the result is added with [`KernelTypes::add_definitions`]. A trailing `;` is optional, as
/// the syntax crate hands definitions over without it.
pub fn parse_c_definitions(
    text: &str,
    types: &KernelTypes,
) -> Result<ScriptDefinitions, DefinitionError> {
    let tokens = tokenize(text)?;
    let mut parser = CParser {
        tokens,
        position: 0,
        types,
        pending: ScriptTables::layered_on(&types.script),
        depth: 0,
    };
    let mut definitions = Vec::new();
    while !parser.at_end() {
        if parser.eat(";") {
            continue;
        }
        parser.parse_top_level(&mut definitions)?;
    }
    parser.complete_self_references();
    for definition in &mut definitions {
        definition.ty = refresh_script_records(&definition.ty, &parser.pending);
    }
    Ok(ScriptDefinitions {
        definitions,
        tables: parser.pending,
    })
}

/// Parses a type name such as `struct task_struct *` or `char[16]`.
pub(crate) fn parse_type_name(spelling: &str, types: &KernelTypes) -> Result<CType, KtypesError> {
    let invalid = |reason: String| KtypesError::InvalidTypeName {
        spelling: spelling.to_string(),
        reason,
    };
    let tokens = tokenize(spelling).map_err(|error| invalid(error.message))?;
    let mut parser = CParser {
        tokens,
        position: 0,
        types,
        pending: ScriptTables::layered_on(&types.script),
        depth: 0,
    };
    let base = parser
        .parse_specifier(false)
        .map_err(|error| error.into_ktypes(spelling))?;
    let declarator = parser
        .parse_declarator(base, false)
        .map_err(|error| error.into_ktypes(spelling))?;
    if !parser.at_end() {
        return Err(invalid(format!(
            "unexpected '{}'",
            parser.current_text(spelling)
        )));
    }
    Ok(declarator.ty)
}

/// A parse failure that may be a type-table answer (unknown struct, missing BTF).
enum ParseFailure {
    Syntax(DefinitionError),
    Types(KtypesError, Range<usize>),
}

impl ParseFailure {
    fn into_definition_error(self) -> DefinitionError {
        match self {
            ParseFailure::Syntax(error) => error,
            ParseFailure::Types(error, span) => DefinitionError::new(span, error.to_string()),
        }
    }

    fn into_ktypes(self, spelling: &str) -> KtypesError {
        match self {
            ParseFailure::Syntax(error) => KtypesError::InvalidTypeName {
                spelling: spelling.to_string(),
                reason: error.message,
            },
            ParseFailure::Types(error, _) => error,
        }
    }
}

impl From<DefinitionError> for ParseFailure {
    fn from(error: DefinitionError) -> ParseFailure {
        ParseFailure::Syntax(error)
    }
}

type ParseResult<T> = Result<T, ParseFailure>;

struct Declarator {
    name: Option<(String, Range<usize>)>,
    ty: CType,
}

struct CParser<'a> {
    tokens: Vec<Token>,
    position: usize,
    types: &'a KernelTypes,
    pending: ScriptTables,
    depth: usize,
}

impl CParser<'_> {
    fn current(&self) -> &Token {
        // `tokenize` always ends with an End token and `advance` never passes it.
        self.tokens
            .get(self.position)
            .or(self.tokens.last())
            .unwrap_or(&END_TOKEN)
    }

    fn current_text<'t>(&self, text: &'t str) -> &'t str {
        text.get(self.current().span.clone())
            .unwrap_or("end of text")
    }

    fn at_end(&self) -> bool {
        self.current().kind == TokenKind::End
    }

    fn advance(&mut self) -> Token {
        let token = self.current().clone();
        if token.kind != TokenKind::End {
            self.position += 1;
        }
        token
    }

    fn is(&self, punct: &str) -> bool {
        matches!(&self.current().kind, TokenKind::Punct(found) if *found == punct)
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(&self.current().kind, TokenKind::Identifier(found) if found == word)
    }

    fn eat(&mut self, punct: &str) -> bool {
        if self.is(punct) {
            self.advance();
            true
        } else {
            false
        }
    }

    fn describe_current(&self) -> String {
        match &self.current().kind {
            TokenKind::Identifier(word) => format!("'{word}'"),
            TokenKind::Number(value) => format!("'{value}'"),
            TokenKind::Punct(punct) => format!("'{punct}'"),
            TokenKind::End => "end of text".to_string(),
        }
    }

    fn error_here(&self, message: String) -> ParseFailure {
        ParseFailure::Syntax(DefinitionError::new(self.current().span.clone(), message))
    }

    fn expect(&mut self, punct: &str) -> ParseResult<Range<usize>> {
        if self.is(punct) {
            Ok(self.advance().span)
        } else {
            Err(self.error_here(format!(
                "expected '{punct}', found {}",
                self.describe_current()
            )))
        }
    }

    fn expect_identifier(&mut self, what: &str) -> ParseResult<(String, Range<usize>)> {
        match self.current().kind.clone() {
            TokenKind::Identifier(word) => {
                let span = self.advance().span;
                Ok((word, span))
            }
            _ => Err(self.error_here(format!(
                "expected {what}, found {}",
                self.describe_current()
            ))),
        }
    }

    fn enter(&mut self) -> ParseResult<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.error_here("definitions nest too deeply".to_string()));
        }
        Ok(())
    }

    fn types_error(error: KtypesError, span: Range<usize>) -> ParseFailure {
        ParseFailure::Types(error, span)
    }

    // ---- top level ------------------------------------------------------------------------

    fn parse_top_level(
        &mut self,
        definitions: &mut Vec<Definition>,
    ) -> Result<(), DefinitionError> {
        self.parse_top_level_inner(definitions)
            .map_err(ParseFailure::into_definition_error)
    }

    fn parse_top_level_inner(&mut self, definitions: &mut Vec<Definition>) -> ParseResult<()> {
        let start = self.current().span.start;
        if self.is_word("typedef") {
            self.advance();
            let base = self.parse_specifier(true)?;
            loop {
                let declarator = self.parse_declarator(base.clone(), true)?;
                let Some((name, name_span)) = declarator.name else {
                    return Err(self.error_here("expected a typedef name".to_string()));
                };
                if self.pending.typedefs.contains_key(&name) {
                    return Err(ParseFailure::Syntax(DefinitionError::new(
                        name_span,
                        format!("typedef '{name}' is defined twice"),
                    )));
                }
                self.pending
                    .typedefs
                    .insert(name.clone(), declarator.ty.clone());
                definitions.push(Definition {
                    kind: DefinitionKind::Typedef,
                    name,
                    ty: declarator.ty,
                    span: start..self.previous_end(),
                });
                if !self.eat(",") {
                    break;
                }
            }
            self.end_of_definition()?;
            return Ok(());
        }
        let is_tagged = self.is_word("struct") || self.is_word("union") || self.is_word("enum");
        if !is_tagged {
            return Err(self.error_here(format!(
                "expected 'struct', 'union', 'enum' or 'typedef', found {}",
                self.describe_current()
            )));
        }
        let ty = self.parse_specifier(true)?;
        let (kind, name) = match &ty {
            CType::Record(record) => (
                match record.kind {
                    RecordKind::Struct => DefinitionKind::Struct,
                    RecordKind::Union => DefinitionKind::Union,
                },
                record.name.clone(),
            ),
            CType::Enum(enumeration) => (DefinitionKind::Enum, enumeration.name.clone()),
            _ => (DefinitionKind::Struct, String::new()),
        };
        definitions.push(Definition {
            kind,
            name,
            ty,
            span: start..self.previous_end(),
        });
        self.end_of_definition()
    }

    fn end_of_definition(&mut self) -> ParseResult<()> {
        if self.eat(";") || self.at_end() {
            Ok(())
        } else {
            Err(self.error_here(format!(
                "expected ';' after the definition, found {}",
                self.describe_current()
            )))
        }
    }

    fn previous_end(&self) -> usize {
        self.position
            .checked_sub(1)
            .and_then(|index| self.tokens.get(index))
            .map(|token| token.span.end)
            .unwrap_or(0)
    }

    // ---- type specifiers ------------------------------------------------------------------

    /// A type specifier: base type words, `struct X`, `struct X { ... }` (when `may_define`),
    /// `enum X { ... }`, or a typedef name; qualifiers are skipped.
    fn parse_specifier(&mut self, may_define: bool) -> ParseResult<CType> {
        let start = self.current().span.start;
        let mut words: Vec<String> = Vec::new();
        while let TokenKind::Identifier(word) = self.current().kind.clone() {
            match word.as_str() {
                "const" | "volatile" | "restrict" | "__restrict" | "__volatile__" | "static"
                | "extern" | "register" | "__user" | "__percpu" | "__rcu" | "__iomem"
                | "__attribute__" => {
                    self.advance();
                    if word == "__attribute__" {
                        self.skip_parenthesized()?;
                    }
                }
                "signed" | "unsigned" | "char" | "short" | "int" | "long" | "_Bool" | "bool"
                | "void" | "float" | "double" | "__signed__" => {
                    self.advance();
                    words.push(word);
                }
                "struct" | "union" | "enum" if words.is_empty() => {
                    let ty = self.parse_tagged(may_define)?;
                    self.skip_qualifiers();
                    return Ok(ty);
                }
                _ if words.is_empty() => {
                    let span = self.advance().span;
                    let ty = self
                        .types
                        .lookup_typedef(Some(&self.pending), &word)
                        .map_err(|error| Self::types_error(error, span.clone()))?;
                    self.skip_qualifiers();
                    return match ty {
                        Some(ty) => Ok(ty),
                        None => Err(Self::types_error(
                            KtypesError::UnknownType {
                                spelling: word.clone(),
                                suggestion: self.types.suggest_tagged(Some(&self.pending), &word),
                            },
                            span,
                        )),
                    };
                }
                _ => break,
            }
        }
        if words.is_empty() {
            return Err(self.error_here(format!(
                "expected a type, found {}",
                self.describe_current()
            )));
        }
        base_type(&words).ok_or_else(|| {
            ParseFailure::Syntax(DefinitionError::new(
                start..self.previous_end(),
                format!("invalid combination of type words '{}'", words.join(" ")),
            ))
        })
    }

    fn skip_qualifiers(&mut self) {
        while self.is_word("const") || self.is_word("volatile") || self.is_word("restrict") {
            self.advance();
        }
    }

    fn skip_parenthesized(&mut self) -> ParseResult<()> {
        self.expect("(")?;
        let mut depth = 1usize;
        while depth > 0 {
            if self.at_end() {
                return Err(self.error_here("unbalanced '('".to_string()));
            }
            if self.is("(") {
                depth += 1;
            } else if self.is(")") {
                depth -= 1;
            }
            self.advance();
        }
        Ok(())
    }

    fn parse_tagged(&mut self, may_define: bool) -> ParseResult<CType> {
        let (keyword, keyword_span) = self.expect_identifier("struct, union or enum")?;
        let name = match self.current().kind.clone() {
            TokenKind::Identifier(name) => {
                self.advance();
                Some(name)
            }
            _ => None,
        };
        let has_body = self.is("{");
        if has_body && !may_define {
            return Err(self.error_here("a definition is not allowed here".to_string()));
        }
        if keyword == "enum" {
            if has_body {
                return self.parse_enum_body(name.unwrap_or_default());
            }
            let Some(name) = name else {
                return Err(self.error_here("expected an enum name or '{'".to_string()));
            };
            return self.lookup_tagged(name, keyword_span, |types, pending, name| {
                types.lookup_enum(Some(pending), name)
            });
        }
        let kind = if keyword == "union" {
            RecordKind::Union
        } else {
            RecordKind::Struct
        };
        if has_body {
            return self.parse_record_body(kind, name.unwrap_or_default());
        }
        let Some(name) = name else {
            return Err(self.error_here(format!("expected a {keyword} name or '{{'")));
        };
        // `struct Foo;` alone declares Foo (a later definition completes it).
        if may_define && self.is(";") && self.lookup_pending_record(kind, &name).is_none() {
            let found = self
                .types
                .lookup_record(Some(&self.pending), kind, &name)
                .ok()
                .flatten();
            if let Some(found) = found {
                return Ok(found);
            }
            let id = self.pending.add_record(ScriptRecord {
                kind,
                name,
                size: 0,
                align: 1,
                fields: Vec::new(),
                complete: false,
            });
            return Ok(self.pending.record_type(id).unwrap_or(CType::Void));
        }
        self.lookup_tagged(name, keyword_span, move |types, pending, name| {
            types.lookup_record(Some(pending), kind, name)
        })
    }

    fn lookup_pending_record(&self, kind: RecordKind, name: &str) -> Option<u32> {
        self.pending
            .record_names
            .get(&(kind, name.to_string()))
            .copied()
    }

    fn lookup_tagged(
        &mut self,
        name: String,
        keyword_span: Range<usize>,
        lookup: impl Fn(&KernelTypes, &ScriptTables, &str) -> Result<Option<CType>, KtypesError>,
    ) -> ParseResult<CType> {
        let span = keyword_span.start..self.previous_end();
        let keyword = self.tokens.iter().find(|token| token.span == keyword_span);
        let keyword = match keyword.map(|token| &token.kind) {
            Some(TokenKind::Identifier(word)) => word.clone(),
            _ => "struct".to_string(),
        };
        match lookup(self.types, &self.pending, &name) {
            Ok(Some(ty)) => Ok(ty),
            Ok(None) => Err(Self::types_error(
                KtypesError::UnknownType {
                    spelling: format!("{keyword} {name}"),
                    suggestion: self
                        .types
                        .suggest_tag_name(Some(&self.pending), &keyword, &name),
                },
                span,
            )),
            Err(error) => Err(Self::types_error(error, span)),
        }
    }

    // ---- struct/union bodies --------------------------------------------------------------

    fn parse_record_body(&mut self, kind: RecordKind, name: String) -> ParseResult<CType> {
        self.enter()?;
        let open_span = self.expect("{")?;
        // Register first, so that members may point at the record being defined.
        let id = match (!name.is_empty())
            .then(|| self.lookup_pending_record(kind, &name))
            .flatten()
        {
            Some(existing) => {
                if self
                    .pending
                    .record(existing)
                    .is_some_and(|record| record.complete)
                {
                    return Err(ParseFailure::Syntax(DefinitionError::new(
                        open_span,
                        format!("{} {name} is defined twice", kind.keyword()),
                    )));
                }
                existing
            }
            None => self.pending.add_record(ScriptRecord {
                kind,
                name: name.clone(),
                size: 0,
                align: 1,
                fields: Vec::new(),
                complete: false,
            }),
        };
        let mut layout = Layout::new(kind);
        while !self.eat("}") {
            if self.at_end() {
                return Err(
                    self.error_here(format!("missing '}}' to close {} {name}", kind.keyword()))
                );
            }
            if self.eat(";") {
                continue;
            }
            self.parse_member_line(&mut layout)?;
        }
        let (size, align) = layout.finish();
        if let Some(record) = self.pending.record_mut(id) {
            record.fields = layout.fields;
            record.size = size;
            record.align = align;
            record.complete = true;
        }
        self.depth -= 1;
        Ok(self.pending.record_type(id).unwrap_or(CType::Void))
    }

    fn parse_member_line(&mut self, layout: &mut Layout) -> ParseResult<()> {
        let base_start = self.current().span.clone();
        let base = self.parse_specifier(true)?;
        // `struct { ... };` inside a record: an anonymous member whose fields read as ours.
        if self.is(";") {
            self.advance();
            if let CType::Record(record) = &base {
                if record.name.is_empty() {
                    return layout.add(self, String::new(), base.clone(), None, base_start);
                }
            }
            // `struct Foo;` or `int;` inside a body declares nothing.
            return Ok(());
        }
        loop {
            let member_start = self.current().span.clone();
            let (name, ty) = if self.is(":") {
                (String::new(), base.clone())
            } else {
                let declarator = self.parse_declarator(base.clone(), true)?;
                let Some((name, _)) = declarator.name else {
                    return Err(self.error_here("expected a member name".to_string()));
                };
                (name, declarator.ty)
            };
            let bits = if self.eat(":") {
                let width_span = self.current().span.clone();
                let width = self.parse_constant()?;
                let width = u32::try_from(width).map_err(|_| {
                    ParseFailure::Syntax(DefinitionError::new(
                        width_span,
                        format!("invalid bitfield width {width}"),
                    ))
                })?;
                Some(width)
            } else {
                None
            };
            layout.add(self, name, ty, bits, member_start)?;
            if !self.eat(",") {
                break;
            }
        }
        self.expect(";")?;
        Ok(())
    }

    // ---- declarators ------------------------------------------------------------------------

    /// `*`s, an optional name (required when `named`), `[N]`s, or `(*name)(params)`.
    fn parse_declarator(&mut self, base: CType, named: bool) -> ParseResult<Declarator> {
        let mut ty = base;
        while self.eat("*") {
            ty = CType::pointer_to(ty);
            self.skip_qualifiers();
        }
        // Function pointer: `ret (*name)(params)`; the parameters do not matter to us.
        if self.is("(") {
            self.advance();
            self.expect("*")?;
            let name = match self.current().kind.clone() {
                TokenKind::Identifier(word) => Some((word, self.advance().span)),
                _ => None,
            };
            let mut dimensions = Vec::new();
            while self.is("[") {
                dimensions.push(self.parse_dimension()?);
            }
            self.expect(")")?;
            self.skip_parenthesized()?;
            let mut ty = CType::FunctionPointer;
            for length in dimensions.into_iter().rev() {
                ty = CType::array_of(ty, length);
            }
            return Ok(Declarator { name, ty });
        }
        let name = match self.current().kind.clone() {
            TokenKind::Identifier(word) if named => Some((word, self.advance().span)),
            _ => None,
        };
        let mut dimensions = Vec::new();
        while self.is("[") {
            dimensions.push(self.parse_dimension()?);
        }
        // `int a[2][3]` is an array of 2 arrays of 3: apply the innermost dimension first.
        for length in dimensions.into_iter().rev() {
            ty = CType::array_of(ty, length);
        }
        Ok(Declarator { name, ty })
    }

    fn parse_dimension(&mut self) -> ParseResult<u32> {
        self.expect("[")?;
        if self.eat("]") {
            return Ok(0);
        }
        let span = self.current().span.clone();
        let value = self.parse_constant()?;
        self.expect("]")?;
        u32::try_from(value).map_err(|_| {
            ParseFailure::Syntax(DefinitionError::new(
                span,
                format!("invalid array length {value}"),
            ))
        })
    }

    // ---- constants and enums ----------------------------------------------------------------

    /// A constant expression: integers, enumerators, unary `-`/`~`, binary `+ - | & << >>`,
    /// parentheses; evaluated left to right with C's precedence for these few operators.
    fn parse_constant(&mut self) -> ParseResult<i128> {
        self.parse_binary(0)
    }

    fn parse_binary(&mut self, minimum_level: u8) -> ParseResult<i128> {
        let mut left = self.parse_unary()?;
        loop {
            let (level, operator) = match &self.current().kind {
                TokenKind::Punct("|") => (1, "|"),
                TokenKind::Punct("&") => (2, "&"),
                TokenKind::Punct("<<") => (3, "<<"),
                TokenKind::Punct(">>") => (3, ">>"),
                TokenKind::Punct("+") => (4, "+"),
                TokenKind::Punct("-") => (4, "-"),
                TokenKind::Punct("*") => (5, "*"),
                TokenKind::Punct("/") => (5, "/"),
                _ => break,
            };
            if level < minimum_level {
                break;
            }
            let span = self.advance().span;
            let right = self.parse_binary(level + 1)?;
            let overflow = || {
                ParseFailure::Syntax(DefinitionError::new(
                    span.clone(),
                    "constant expression overflows",
                ))
            };
            left = match operator {
                "|" => left | right,
                "&" => left & right,
                "<<" => u32::try_from(right)
                    .ok()
                    .filter(|shift| *shift < 127)
                    .and_then(|shift| left.checked_shl(shift))
                    .ok_or_else(overflow)?,
                ">>" => u32::try_from(right)
                    .ok()
                    .filter(|shift| *shift < 127)
                    .map(|shift| left >> shift)
                    .ok_or_else(overflow)?,
                "+" => left.checked_add(right).ok_or_else(overflow)?,
                "-" => left.checked_sub(right).ok_or_else(overflow)?,
                "*" => left.checked_mul(right).ok_or_else(overflow)?,
                _ => left.checked_div(right).ok_or_else(overflow)?,
            };
        }
        Ok(left)
    }

    fn parse_unary(&mut self) -> ParseResult<i128> {
        self.enter()?;
        let value = match self.current().kind.clone() {
            TokenKind::Punct("-") => {
                self.advance();
                self.parse_unary()?.checked_neg().unwrap_or(i128::MAX)
            }
            TokenKind::Punct("~") => {
                self.advance();
                !self.parse_unary()?
            }
            TokenKind::Punct("(") => {
                self.advance();
                let value = self.parse_constant()?;
                self.expect(")")?;
                value
            }
            TokenKind::Number(value) => {
                self.advance();
                value
            }
            TokenKind::Identifier(name) => {
                let span = self.advance().span;
                self.types
                    .lookup_enumerator(Some(&self.pending), &name)
                    .ok_or_else(|| {
                        ParseFailure::Syntax(DefinitionError::new(
                            span,
                            format!("'{name}' is not a known constant"),
                        ))
                    })?
            }
            _ => {
                return Err(self.error_here(format!(
                    "expected a constant, found {}",
                    self.describe_current()
                )))
            }
        };
        self.depth -= 1;
        Ok(value)
    }

    fn parse_enum_body(&mut self, name: String) -> ParseResult<CType> {
        let open_span = self.expect("{")?;
        if !name.is_empty() && self.pending.enum_names.contains_key(&name) {
            return Err(ParseFailure::Syntax(DefinitionError::new(
                open_span,
                format!("enum {name} is defined twice"),
            )));
        }
        let mut values: Vec<(String, i128)> = Vec::new();
        let mut next_value: i128 = 0;
        while !self.eat("}") {
            let (enumerator, span) = self.expect_identifier("an enumerator name")?;
            let value = if self.eat("=") {
                self.parse_constant()?
            } else {
                next_value
            };
            if values.iter().any(|(existing, _)| *existing == enumerator) {
                return Err(ParseFailure::Syntax(DefinitionError::new(
                    span,
                    format!("enumerator '{enumerator}' is defined twice"),
                )));
            }
            // Later enumerators may use earlier ones of the same enum.
            self.pending
                .enumerators
                .insert(enumerator.clone(), (u32::MAX, value));
            values.push((enumerator, value));
            next_value = value.saturating_add(1);
            if !self.eat(",") {
                self.expect("}")?;
                break;
            }
        }
        let signed = values.iter().any(|(_, value)| *value < 0);
        let fits_four_bytes = values.iter().all(|(_, value)| {
            i32::try_from(*value).is_ok() || (!signed && u32::try_from(*value).is_ok())
        });
        let id = self.pending.add_enum(ScriptEnum {
            name,
            bytes: if fits_four_bytes { 4 } else { 8 },
            signed,
            values,
        });
        Ok(self.pending.enum_type(id).unwrap_or(CType::Void))
    }

    /// Pointers and arrays typed while a record was still being defined carry its old size.
    fn complete_self_references(&mut self) {
        let snapshot = self.pending.clone();
        for record in &mut self.pending.records {
            for field in &mut record.fields {
                field.ty = refresh_script_records(&field.ty, &snapshot);
            }
        }
        let typedefs: Vec<(String, CType)> = self
            .pending
            .typedefs
            .iter()
            .map(|(name, ty)| (name.clone(), refresh_script_records(ty, &snapshot)))
            .collect();
        self.pending.typedefs.extend(typedefs);
    }
}

static END_TOKEN: Token = Token {
    kind: TokenKind::End,
    span: 0..0,
};

fn refresh_script_records(ty: &CType, tables: &ScriptTables) -> CType {
    match ty {
        CType::Record(record) => match record.origin {
            DefinitionOrigin::Script(id) => tables.record_type(id).unwrap_or(ty.clone()),
            DefinitionOrigin::Btf(_) => ty.clone(),
        },
        CType::Pointer(target) => CType::pointer_to(refresh_script_records(target, tables)),
        CType::Array { element, length } => {
            CType::array_of(refresh_script_records(element, tables), *length)
        }
        other => other.clone(),
    }
}

/// C base type words in any order: `unsigned long long`, `long unsigned int`, `signed char`.
fn base_type(words: &[String]) -> Option<CType> {
    let count = |word: &str| words.iter().filter(|found| *found == word).count();
    let (signed, unsigned) = (count("signed") + count("__signed__"), count("unsigned"));
    let (chars, shorts, ints, longs) = (count("char"), count("short"), count("int"), count("long"));
    let others = count("void") + count("_Bool") + count("bool") + count("float") + count("double");
    if signed + unsigned > 1 || chars > 1 || shorts > 1 || ints > 1 || longs > 2 {
        return None;
    }
    if others > 0 {
        if words.len() != 1 && !(count("double") == 1 && longs == 1 && words.len() == 2) {
            return None;
        }
        return Some(match words.first().map(String::as_str) {
            Some("void") => CType::Void,
            Some("_Bool" | "bool") => CType::Bool,
            Some("float") => CType::Opaque {
                name: "float".to_string(),
                size: 4,
                align: 4,
            },
            _ if longs == 1 => CType::Opaque {
                name: "long double".to_string(),
                size: 16,
                align: 16,
            },
            _ => CType::Opaque {
                name: "double".to_string(),
                size: 8,
                align: 8,
            },
        });
    }
    let is_signed = unsigned == 0;
    if chars == 1 {
        if shorts + ints + longs > 0 {
            return None;
        }
        return Some(CType::Int {
            bytes: 1,
            signed: is_signed,
            is_char: signed + unsigned == 0,
        });
    }
    if shorts == 1 {
        if longs > 0 {
            return None;
        }
        return Some(CType::int(2, is_signed));
    }
    if longs > 0 {
        return Some(CType::int(8, is_signed));
    }
    Some(CType::int(4, is_signed))
}

/// Struct/union layout as the x86_64 SysV ABI computes it, in bits.
struct Layout {
    kind: RecordKind,
    fields: Vec<ScriptField>,
    bit_offset: u64,
    size_bits: u64,
    align: u32,
}

impl Layout {
    fn new(kind: RecordKind) -> Layout {
        Layout {
            kind,
            fields: Vec::new(),
            bit_offset: 0,
            size_bits: 0,
            align: 1,
        }
    }

    fn add(
        &mut self,
        parser: &CParser<'_>,
        name: String,
        ty: CType,
        bits: Option<u32>,
        span: Range<usize>,
    ) -> ParseResult<()> {
        let fail =
            |message: String| ParseFailure::Syntax(DefinitionError::new(span.clone(), message));
        if !name.is_empty() && self.fields.iter().any(|field| field.name == name) {
            return Err(fail(format!("duplicate member '{name}'")));
        }
        if let CType::Record(record) = &ty {
            if let DefinitionOrigin::Script(id) = record.origin {
                let complete = parser
                    .pending
                    .record(id)
                    .map(|found| found.complete)
                    .unwrap_or(true);
                if !complete {
                    return Err(fail(format!(
                        "member '{name}' has incomplete type {ty} (use a pointer)"
                    )));
                }
            }
        }
        if matches!(ty, CType::Void) {
            return Err(fail(format!("member '{name}' has type void")));
        }
        let size_bits = ty.size().saturating_mul(8);
        let align_bits = u64::from(ty.align()) * 8;
        let start = if self.kind == RecordKind::Union {
            0
        } else {
            self.bit_offset
        };
        let (placed_at, end, bitfield_bits) = match bits {
            Some(width) => {
                if !ty.is_integer() {
                    return Err(fail(format!(
                        "bitfield '{name}' must have an integer type, not {ty}"
                    )));
                }
                if u64::from(width) > size_bits {
                    return Err(fail(format!(
                        "bitfield '{name}' is wider ({width} bits) than its type {ty}"
                    )));
                }
                if width == 0 {
                    if !name.is_empty() {
                        return Err(fail(format!("named bitfield '{name}' has zero width")));
                    }
                    // `int : 0;` closes the current storage unit.
                    self.bit_offset = start.div_ceil(align_bits).saturating_mul(align_bits);
                    return Ok(());
                }
                // A bitfield never straddles a storage unit of its type.
                let unit = size_bits.max(8);
                let mut placed_at = start;
                if placed_at / unit != placed_at.saturating_add(u64::from(width) - 1) / unit {
                    placed_at = placed_at.div_ceil(unit).saturating_mul(unit);
                }
                (placed_at, placed_at.saturating_add(u64::from(width)), width)
            }
            None => {
                let placed_at = start.div_ceil(align_bits).saturating_mul(align_bits);
                (placed_at, placed_at.saturating_add(size_bits), 0)
            }
        };
        // Unnamed bitfields take space but, in the SysV ABI, do not align the record.
        if bits.is_none() || !name.is_empty() {
            self.align = self.align.max(ty.align());
        }
        let bit_offset =
            u32::try_from(placed_at).map_err(|_| fail("the struct is too large".to_string()))?;
        if self.kind == RecordKind::Struct {
            self.bit_offset = end;
        }
        self.size_bits = self.size_bits.max(end);
        if !(name.is_empty() && bits.is_some()) {
            self.fields.push(ScriptField {
                name,
                bit_offset,
                bitfield_bits,
                ty,
            });
        }
        Ok(())
    }

    /// (size, alignment) in bytes.
    fn finish(&self) -> (u32, u32) {
        let align = u64::from(self.align.max(1));
        let bytes = self
            .size_bits
            .div_ceil(8)
            .div_ceil(align)
            .saturating_mul(align);
        (u32::try_from(bytes).unwrap_or(u32::MAX), self.align.max(1))
    }
}
