//! On-demand lexer: turns source text into tokens one at a time, recording lexical errors.
//!
//! The lexer is pulled by the parser rather than run ahead, because probe headers are not
//! made of ordinary tokens (`uprobe:/bin/bash:readline` contains `/` and `:`); the parser
//! asks [`Lexer::scan_attach_point`] for those at the right moment.

use crate::ast::Span;
use crate::diagnostic::Diagnostic;

/// Lexical errors recorded at most; later ones are dropped.
const MAXIMUM_LEXICAL_ERRORS: usize = 50;

/// Punctuation and operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Punct {
    LeftParen,
    RightParen,
    LeftBrace,
    RightBrace,
    LeftBracket,
    RightBracket,
    Comma,
    Semicolon,
    Colon,
    Dot,
    DotDot,
    Arrow,
    Question,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Ampersand,
    Pipe,
    Caret,
    Tilde,
    Bang,
    Less,
    Greater,
    Assign,
    EqualEqual,
    NotEqual,
    LessEqual,
    GreaterEqual,
    ShiftLeft,
    ShiftRight,
    AndAnd,
    OrOr,
    PlusPlus,
    MinusMinus,
    PlusAssign,
    MinusAssign,
    StarAssign,
    SlashAssign,
    PercentAssign,
    AmpersandAssign,
    PipeAssign,
    CaretAssign,
    ShiftLeftAssign,
    ShiftRightAssign,
}

impl Punct {
    /// The punctuation as written.
    pub fn text(self) -> &'static str {
        match self {
            Punct::LeftParen => "(",
            Punct::RightParen => ")",
            Punct::LeftBrace => "{",
            Punct::RightBrace => "}",
            Punct::LeftBracket => "[",
            Punct::RightBracket => "]",
            Punct::Comma => ",",
            Punct::Semicolon => ";",
            Punct::Colon => ":",
            Punct::Dot => ".",
            Punct::DotDot => "..",
            Punct::Arrow => "->",
            Punct::Question => "?",
            Punct::Plus => "+",
            Punct::Minus => "-",
            Punct::Star => "*",
            Punct::Slash => "/",
            Punct::Percent => "%",
            Punct::Ampersand => "&",
            Punct::Pipe => "|",
            Punct::Caret => "^",
            Punct::Tilde => "~",
            Punct::Bang => "!",
            Punct::Less => "<",
            Punct::Greater => ">",
            Punct::Assign => "=",
            Punct::EqualEqual => "==",
            Punct::NotEqual => "!=",
            Punct::LessEqual => "<=",
            Punct::GreaterEqual => ">=",
            Punct::ShiftLeft => "<<",
            Punct::ShiftRight => ">>",
            Punct::AndAnd => "&&",
            Punct::OrOr => "||",
            Punct::PlusPlus => "++",
            Punct::MinusMinus => "--",
            Punct::PlusAssign => "+=",
            Punct::MinusAssign => "-=",
            Punct::StarAssign => "*=",
            Punct::SlashAssign => "/=",
            Punct::PercentAssign => "%=",
            Punct::AmpersandAssign => "&=",
            Punct::PipeAssign => "|=",
            Punct::CaretAssign => "^=",
            Punct::ShiftLeftAssign => "<<=",
            Punct::ShiftRightAssign => ">>=",
        }
    }
}

/// Operators sorted longest first, so that the first match is the longest one.
const PUNCTUATION_BY_LENGTH: &[Punct] = &[
    Punct::ShiftLeftAssign,
    Punct::ShiftRightAssign,
    Punct::DotDot,
    Punct::Arrow,
    Punct::EqualEqual,
    Punct::NotEqual,
    Punct::LessEqual,
    Punct::GreaterEqual,
    Punct::ShiftLeft,
    Punct::ShiftRight,
    Punct::AndAnd,
    Punct::OrOr,
    Punct::PlusPlus,
    Punct::MinusMinus,
    Punct::PlusAssign,
    Punct::MinusAssign,
    Punct::StarAssign,
    Punct::SlashAssign,
    Punct::PercentAssign,
    Punct::AmpersandAssign,
    Punct::PipeAssign,
    Punct::CaretAssign,
    Punct::LeftParen,
    Punct::RightParen,
    Punct::LeftBrace,
    Punct::RightBrace,
    Punct::LeftBracket,
    Punct::RightBracket,
    Punct::Comma,
    Punct::Semicolon,
    Punct::Colon,
    Punct::Dot,
    Punct::Question,
    Punct::Plus,
    Punct::Minus,
    Punct::Star,
    Punct::Slash,
    Punct::Percent,
    Punct::Ampersand,
    Punct::Pipe,
    Punct::Caret,
    Punct::Tilde,
    Punct::Bang,
    Punct::Less,
    Punct::Greater,
    Punct::Assign,
];

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    /// Integer or duration literal, value already computed (durations in nanoseconds).
    Integer(u64),
    /// String literal with escapes decoded.
    String(Vec<u8>),
    /// A name, including keywords (`if`, `struct`, ...) which the parser recognises by text.
    Identifier(String),
    /// `$name` (name without `$`).
    Variable(String),
    /// `$1`, `$2`, ...
    PositionalParameter(u32),
    /// `$#`
    PositionalParameterCount,
    /// `@name` (name without `@`, "" for `@`).
    Map(String),
    /// A whole `#...` line that starts a line (preprocessor directive), continuations joined.
    PreprocessorLine(String),
    Punct(Punct),
    EndOfFile,
}

impl TokenKind {
    /// How the token is named in "unexpected X" messages.
    pub fn describe(&self) -> String {
        match self {
            TokenKind::Integer(_) => "integer".to_string(),
            TokenKind::String(_) => "string".to_string(),
            TokenKind::Identifier(name) => {
                if crate::parser::is_keyword(name) {
                    name.clone()
                } else {
                    "identifier".to_string()
                }
            }
            TokenKind::Variable(_) => "variable".to_string(),
            TokenKind::PositionalParameter(_) | TokenKind::PositionalParameterCount => {
                "positional parameter".to_string()
            }
            TokenKind::Map(_) => "map".to_string(),
            TokenKind::PreprocessorLine(_) => "preprocessor directive".to_string(),
            TokenKind::Punct(punct) => punct.text().to_string(),
            TokenKind::EndOfFile => "end of file".to_string(),
        }
    }
}

/// A token and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

/// Pull lexer over a source string.
#[derive(Debug, Clone)]
pub struct Lexer<'source> {
    source: &'source str,
    position: usize,
    diagnostics: Vec<Diagnostic>,
}

fn is_identifier_start(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_'
}

fn is_identifier_continue(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// Nanoseconds per unit of the duration suffixes (0.24 duration literals).
fn duration_multiplier(suffix: &str) -> Option<u64> {
    match suffix {
        "ns" => Some(1),
        "us" => Some(1_000),
        "ms" => Some(1_000_000),
        "s" => Some(1_000_000_000),
        "m" => Some(60 * 1_000_000_000),
        "h" => Some(3_600 * 1_000_000_000),
        "d" => Some(86_400 * 1_000_000_000),
        _ => None,
    }
}

/// C integer suffixes, accepted and ignored.
fn is_c_integer_suffix(suffix: &str) -> bool {
    matches!(
        suffix.to_ascii_lowercase().as_str(),
        "u" | "l" | "ul" | "lu" | "ll" | "ull" | "llu"
    )
}

impl<'source> Lexer<'source> {
    pub fn new(source: &'source str) -> Lexer<'source> {
        Lexer {
            source,
            position: 0,
            diagnostics: Vec::new(),
        }
    }

    /// Byte offset of the next unread byte.
    pub fn position(&self) -> usize {
        self.position
    }

    /// Moves the read position (used by the parser to re-read text in another mode).
    pub fn set_position(&mut self, position: usize) {
        self.position = position.min(self.source.len());
    }

    /// Takes the lexical errors recorded so far.
    pub fn take_diagnostics(&mut self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.diagnostics)
    }

    /// Drops recorded errors at or after `offset` (that text is about to be re-read).
    pub fn forget_diagnostics_from(&mut self, offset: usize) {
        self.diagnostics
            .retain(|diagnostic| diagnostic.span.is_none_or(|span| span.start < offset));
    }

    fn byte_at(&self, offset: usize) -> Option<u8> {
        self.source.as_bytes().get(offset).copied()
    }

    fn current_byte(&self) -> Option<u8> {
        self.byte_at(self.position)
    }

    fn text(&self, start: usize, end: usize) -> &'source str {
        self.source.get(start..end).unwrap_or("")
    }

    fn error(&mut self, start: usize, end: usize, message: impl Into<String>) {
        // Garbage input could otherwise produce one error per byte.
        if self.diagnostics.len() < MAXIMUM_LEXICAL_ERRORS {
            self.diagnostics
                .push(Diagnostic::error(Span::new(start, end), message));
        }
    }

    /// True when only spaces/tabs precede `offset` on its line.
    fn is_at_line_start(&self, offset: usize) -> bool {
        let before = self.source.as_bytes().get(..offset).unwrap_or(&[]);
        before
            .iter()
            .rev()
            .take_while(|byte| **byte != b'\n')
            .all(|byte| *byte == b' ' || *byte == b'\t' || *byte == b'\r')
    }

    /// Skips whitespace, comments and a shebang line at the very start.
    pub fn skip_trivia(&mut self) {
        loop {
            match self.current_byte() {
                Some(byte) if byte.is_ascii_whitespace() => self.position += 1,
                Some(b'#') if self.position == 0 && self.byte_at(1) == Some(b'!') => {
                    self.skip_to_end_of_line();
                }
                Some(b'/') if self.byte_at(self.position + 1) == Some(b'/') => {
                    self.skip_to_end_of_line();
                }
                Some(b'/') if self.byte_at(self.position + 1) == Some(b'*') => {
                    let comment_start = self.position;
                    match self
                        .source
                        .get(self.position + 2..)
                        .and_then(|rest| rest.find("*/"))
                    {
                        Some(relative_end) => self.position += 2 + relative_end + 2,
                        None => {
                            self.position = self.source.len();
                            self.error(comment_start, comment_start + 2, "unterminated comment");
                        }
                    }
                }
                _ => return,
            }
        }
    }

    fn skip_to_end_of_line(&mut self) {
        while let Some(byte) = self.current_byte() {
            if byte == b'\n' {
                return;
            }
            self.position += 1;
        }
    }

    /// The next token; lexical errors are recorded and the bad text skipped.
    pub fn next_token(&mut self) -> Token {
        loop {
            self.skip_trivia();
            let start = self.position;
            let Some(byte) = self.current_byte() else {
                return Token {
                    kind: TokenKind::EndOfFile,
                    span: Span::new(start, start),
                };
            };
            let kind = match byte {
                b'"' => self.lex_string(),
                b'0'..=b'9' => self.lex_number(),
                b'$' => self.lex_dollar(),
                b'@' => {
                    self.position += 1;
                    let name_start = self.position;
                    while self.current_byte().is_some_and(is_identifier_continue) {
                        self.position += 1;
                    }
                    Some(TokenKind::Map(
                        self.text(name_start, self.position).to_string(),
                    ))
                }
                b'#' if self.is_at_line_start(start) => Some(self.lex_preprocessor_line()),
                _ if is_identifier_start(byte) => {
                    while self.current_byte().is_some_and(is_identifier_continue) {
                        self.position += 1;
                    }
                    Some(TokenKind::Identifier(
                        self.text(start, self.position).to_string(),
                    ))
                }
                _ => self.lex_punct(),
            };
            if let Some(kind) = kind {
                return Token {
                    kind,
                    span: Span::new(start, self.position),
                };
            }
            // Nothing usable here (error already recorded): make sure we moved, then retry.
            if self.position == start {
                self.advance_one_char();
            }
        }
    }

    fn advance_one_char(&mut self) {
        let char_length = self
            .source
            .get(self.position..)
            .and_then(|rest| rest.chars().next())
            .map_or(1, char::len_utf8);
        self.position = (self.position + char_length).min(self.source.len());
    }

    fn lex_punct(&mut self) -> Option<TokenKind> {
        let rest = self.source.get(self.position..).unwrap_or("");
        for punct in PUNCTUATION_BY_LENGTH {
            if rest.starts_with(punct.text()) {
                self.position += punct.text().len();
                return Some(TokenKind::Punct(*punct));
            }
        }
        let start = self.position;
        let bad_char = rest.chars().next().unwrap_or('?');
        self.advance_one_char();
        self.error(
            start,
            self.position,
            format!("invalid character '{}'", bad_char.escape_default()),
        );
        None
    }

    fn lex_preprocessor_line(&mut self) -> TokenKind {
        let start = self.position;
        loop {
            self.skip_to_end_of_line();
            // A backslash before the newline continues the directive on the next line.
            let line_so_far = self.text(start, self.position).trim_end_matches('\r');
            if line_so_far.ends_with('\\') && self.current_byte() == Some(b'\n') {
                self.position += 1;
                continue;
            }
            break;
        }
        TokenKind::PreprocessorLine(self.text(start, self.position).trim_end().to_string())
    }

    fn lex_dollar(&mut self) -> Option<TokenKind> {
        let start = self.position;
        self.position += 1;
        match self.current_byte() {
            Some(b'#') => {
                self.position += 1;
                Some(TokenKind::PositionalParameterCount)
            }
            Some(byte) if byte.is_ascii_digit() => {
                while self
                    .current_byte()
                    .is_some_and(|byte| byte.is_ascii_digit())
                {
                    self.position += 1;
                }
                let digits = self.text(start + 1, self.position);
                match digits.parse::<u32>() {
                    Ok(number) if number > 0 => Some(TokenKind::PositionalParameter(number)),
                    _ => {
                        self.error(
                            start,
                            self.position,
                            format!("invalid positional parameter: ${digits}"),
                        );
                        Some(TokenKind::PositionalParameter(u32::MAX))
                    }
                }
            }
            Some(byte) if is_identifier_start(byte) => {
                while self.current_byte().is_some_and(is_identifier_continue) {
                    self.position += 1;
                }
                Some(TokenKind::Variable(
                    self.text(start + 1, self.position).to_string(),
                ))
            }
            _ => {
                self.error(start, self.position, "expected a variable name after '$'");
                None
            }
        }
    }

    fn lex_number(&mut self) -> Option<TokenKind> {
        let start = self.position;
        while self.current_byte().is_some_and(is_identifier_continue) {
            self.position += 1;
        }
        let text = self.text(start, self.position);
        match parse_integer_literal(text) {
            Ok(value) => Some(TokenKind::Integer(value)),
            Err(message) => {
                self.error(start, self.position, message);
                Some(TokenKind::Integer(0))
            }
        }
    }

    fn lex_string(&mut self) -> Option<TokenKind> {
        let start = self.position;
        self.position += 1;
        let mut value = Vec::new();
        let mut escape_errors = Vec::new();
        loop {
            let Some(byte) = self.current_byte() else {
                self.error(start, self.position, "unterminated string");
                return Some(TokenKind::String(value));
            };
            match byte {
                b'"' => {
                    self.position += 1;
                    break;
                }
                b'\\' => {
                    let escape_start = self.position;
                    self.position += 1;
                    match self.lex_escape() {
                        Ok(bytes) => value.extend_from_slice(&bytes),
                        Err(message) => escape_errors.push((escape_start, message)),
                    }
                }
                _ => {
                    value.push(byte);
                    self.position += 1;
                }
            }
        }
        // bpftrace marks the whole string for escape errors; so do we.
        for (_, message) in escape_errors {
            self.error(start, self.position, message);
        }
        Some(TokenKind::String(value))
    }

    /// Decodes one escape; the position is just after the backslash.
    fn lex_escape(&mut self) -> Result<Vec<u8>, String> {
        let Some(byte) = self.current_byte() else {
            return Err("unterminated string".to_string());
        };
        self.position += 1;
        let simple = match byte {
            b'n' => Some(b'\n'),
            b't' => Some(b'\t'),
            b'r' => Some(b'\r'),
            b'\\' => Some(b'\\'),
            b'"' => Some(b'"'),
            b'\'' => Some(b'\''),
            b'a' => Some(0x07),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'v' => Some(0x0b),
            b'e' => Some(0x1b),
            _ => None,
        };
        if let Some(decoded) = simple {
            return Ok(vec![decoded]);
        }
        match byte {
            b'x' => {
                let digits_start = self.position;
                while self.position < digits_start + 2
                    && self
                        .current_byte()
                        .is_some_and(|byte| byte.is_ascii_hexdigit())
                {
                    self.position += 1;
                }
                let digits = self.text(digits_start, self.position);
                u8::from_str_radix(digits, 16)
                    .map(|decoded| vec![decoded])
                    .map_err(|_| "invalid escape character '\\x': expected hex digits".to_string())
            }
            b'0'..=b'7' => {
                let digits_start = self.position - 1;
                while self.position < digits_start + 3
                    && self
                        .current_byte()
                        .is_some_and(|byte| (b'0'..=b'7').contains(&byte))
                {
                    self.position += 1;
                }
                let digits = self.text(digits_start, self.position);
                match u16::from_str_radix(digits, 8) {
                    Ok(decoded) if decoded <= 0xff => Ok(vec![decoded as u8]),
                    _ => Err(format!(
                        "invalid escape character '\\{digits}': octal value out of range"
                    )),
                }
            }
            b'\n' => Ok(Vec::new()),
            _ => {
                // Step back over a multi-byte char so the message shows it whole.
                self.position -= 1;
                let escaped_char = self
                    .source
                    .get(self.position..)
                    .and_then(|rest| rest.chars().next())
                    .unwrap_or('?');
                self.advance_one_char();
                Err(format!("invalid escape character '\\{escaped_char}'"))
            }
        }
    }

    /// Reads one attach point starting at the current position (after trivia).
    ///
    /// An attach point is a run of non-blank text ending at `,`, `{`, `}`, `;`, `(`, `)`,
    /// whitespace, or a `/` that starts a predicate. A `/` belongs to the attach point when
    /// it follows `:` or continues a path segment (a segment after `:` that began with `/`
    /// or `.`), as in `uprobe:/bin/bash:readline`. Double-quoted parts are taken verbatim.
    /// Returns None (consuming nothing) when no attach point text is here.
    pub fn scan_attach_point(&mut self) -> Option<(String, Span)> {
        self.skip_trivia();
        let start = self.position;
        let mut segment_start = start;
        while let Some(byte) = self.current_byte() {
            match byte {
                b'"' => {
                    let quote_start = self.position;
                    self.position += 1;
                    while let Some(quoted) = self.current_byte() {
                        self.position += 1;
                        if quoted == b'"' {
                            break;
                        }
                    }
                    if self.byte_at(self.position.saturating_sub(1)) != Some(b'"')
                        || self.position == quote_start + 1
                    {
                        self.error(quote_start, self.position, "unterminated string");
                    }
                }
                b':' => {
                    self.position += 1;
                    segment_start = self.position;
                }
                b'/' => {
                    let previous = self.byte_at(self.position.wrapping_sub(1));
                    let segment_first = self.byte_at(segment_start);
                    let continues_path = self.position > start
                        && (previous == Some(b':')
                            || (segment_start < self.position
                                && matches!(segment_first, Some(b'/') | Some(b'.'))));
                    if !continues_path {
                        break;
                    }
                    self.position += 1;
                }
                b',' | b'{' | b'}' | b';' | b'(' | b')' => break,
                _ if byte.is_ascii_whitespace() => break,
                _ => self.advance_one_char(),
            }
        }
        if self.position == start {
            return None;
        }
        Some((
            self.text(start, self.position).to_string(),
            Span::new(start, self.position),
        ))
    }
}

/// Parses an integer literal: decimal, `0x` hex, `0b` binary, `0o`/leading-zero octal,
/// `_` separators, `NeM` scientific notation, C suffixes (ignored), duration suffixes.
pub fn parse_integer_literal(text: &str) -> Result<u64, String> {
    let invalid = || format!("invalid integer literal: {text}");
    let too_large = || format!("integer literal too large: {text}");
    let cleaned: String = text.chars().filter(|c| *c != '_').collect();
    let lower = cleaned.to_ascii_lowercase();
    let (radix, digits_and_suffix) = if let Some(rest) = lower.strip_prefix("0x") {
        (16, rest)
    } else if let Some(rest) = lower.strip_prefix("0b") {
        (2, rest)
    } else if let Some(rest) = lower.strip_prefix("0o") {
        (8, rest)
    } else if lower.len() > 1
        && lower.starts_with('0')
        && lower.as_bytes().get(1).is_some_and(u8::is_ascii_digit)
    {
        (8, lower.get(1..).unwrap_or(""))
    } else {
        (10, lower.as_str())
    };
    let digit_count = digits_and_suffix
        .chars()
        .take_while(|c| c.is_digit(radix))
        .count();
    if digit_count == 0 {
        return Err(invalid());
    }
    let digits = digits_and_suffix.get(..digit_count).unwrap_or("");
    let suffix = digits_and_suffix.get(digit_count..).unwrap_or("");
    let mut value = u64::from_str_radix(digits, radix).map_err(|_| too_large())?;
    if suffix.is_empty() || is_c_integer_suffix(suffix) {
        return Ok(value);
    }
    if radix == 10 {
        if let Some(exponent_text) = suffix.strip_prefix('e') {
            let exponent: u32 = exponent_text.parse().map_err(|_| invalid())?;
            let scale = 10u64.checked_pow(exponent).ok_or_else(too_large)?;
            return value.checked_mul(scale).ok_or_else(too_large);
        }
        if let Some(multiplier) = duration_multiplier(suffix) {
            value = value.checked_mul(multiplier).ok_or_else(too_large)?;
            return Ok(value);
        }
    }
    Err(invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<TokenKind> {
        let mut lexer = Lexer::new(source);
        let mut kinds = Vec::new();
        loop {
            let token = lexer.next_token();
            if token.kind == TokenKind::EndOfFile {
                return kinds;
            }
            kinds.push(token.kind);
        }
    }

    #[test]
    fn integer_literals() {
        assert_eq!(parse_integer_literal("0"), Ok(0));
        assert_eq!(parse_integer_literal("1_000"), Ok(1000));
        assert_eq!(parse_integer_literal("0x1F"), Ok(31));
        assert_eq!(parse_integer_literal("0b101"), Ok(5));
        assert_eq!(parse_integer_literal("0123"), Ok(83));
        assert_eq!(parse_integer_literal("0o17"), Ok(15));
        assert_eq!(parse_integer_literal("1e6"), Ok(1_000_000));
        assert_eq!(parse_integer_literal("10UL"), Ok(10));
        assert_eq!(parse_integer_literal("5ms"), Ok(5_000_000));
        assert_eq!(parse_integer_literal("2s"), Ok(2_000_000_000));
        assert_eq!(parse_integer_literal("1d"), Ok(86_400_000_000_000));
        assert_eq!(parse_integer_literal("18446744073709551615"), Ok(u64::MAX));
        assert!(parse_integer_literal("18446744073709551616").is_err());
        assert!(parse_integer_literal("0x").is_err());
        assert!(parse_integer_literal("12abc").is_err());
        assert!(parse_integer_literal("1e30").is_err());
        assert!(parse_integer_literal("09").is_err());
    }

    #[test]
    fn string_escapes() {
        assert_eq!(
            kinds(r#""a\n\t\\\"\x41\101\0z""#),
            vec![TokenKind::String(b"a\n\t\\\"AA\0z".to_vec())]
        );
        let mut lexer = Lexer::new(r#""a\q""#);
        let _ = lexer.next_token();
        let diagnostics = lexer.take_diagnostics();
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(
            diagnostics.first().map(|d| d.message.as_str()),
            Some("invalid escape character '\\q'")
        );
    }

    #[test]
    fn sigils_and_operators() {
        assert_eq!(
            kinds("$x $1 $# @m @ <<= -> .. ++"),
            vec![
                TokenKind::Variable("x".into()),
                TokenKind::PositionalParameter(1),
                TokenKind::PositionalParameterCount,
                TokenKind::Map("m".into()),
                TokenKind::Map(String::new()),
                TokenKind::Punct(Punct::ShiftLeftAssign),
                TokenKind::Punct(Punct::Arrow),
                TokenKind::Punct(Punct::DotDot),
                TokenKind::Punct(Punct::PlusPlus),
            ]
        );
    }

    #[test]
    fn attach_point_scanning() {
        let scan = |source: &str| {
            let mut lexer = Lexer::new(source);
            lexer.scan_attach_point().map(|(raw, _)| raw)
        };
        assert_eq!(
            scan("uprobe:/bin/bash:readline/pid/"),
            Some("uprobe:/bin/bash:readline".into())
        );
        assert_eq!(scan("kprobe:f/pid == 1/ {}"), Some("kprobe:f".into()));
        assert_eq!(
            scan("uprobe:libc:malloc+0x10{"),
            Some("uprobe:libc:malloc+0x10".into())
        );
        assert_eq!(
            scan("uprobe:\"/a b/c\":f {"),
            Some("uprobe:\"/a b/c\":f".into())
        );
        assert_eq!(scan("kprobe:vfs_[rw]*,x"), Some("kprobe:vfs_[rw]*".into()));
        assert_eq!(
            scan("uprobe:./a.out:main {"),
            Some("uprobe:./a.out:main".into())
        );
        assert_eq!(scan("{"), None);
    }
}
