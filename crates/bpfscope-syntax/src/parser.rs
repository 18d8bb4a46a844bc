//! Recursive-descent parser with a Pratt loop for binary operators; recovers from errors.
//!
//! Error recovery: a bad statement is skipped up to the next `;` or the `}` of its block, a
//! bad probe header up to the end of its block, so one run reports several errors. Nesting
//! is limited so that hostile input yields a diagnostic instead of a stack overflow (the
//! limit also protects later passes, which recurse over the tree).

use std::collections::VecDeque;

use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::lexer::{Lexer, Punct, Token, TokenKind};

/// Maximum depth of nested constructs (parentheses, blocks, unary chains, and the length of
/// one chain of binary operators), so that every pass over the tree has a bounded recursion.
pub const MAXIMUM_NESTING_DEPTH: usize = 128;

/// Number of syntax errors after which the parser stops reading.
pub const MAXIMUM_DIAGNOSTICS: usize = 50;

/// Parses a whole program. Never fails and never panics: problems come back as diagnostics,
/// sorted by position, and the program holds everything that could be parsed.
pub fn parse(source: &str) -> (Program, Vec<Diagnostic>) {
    let mut parser = Parser::new(source);
    let program = parser.parse_program();
    let mut diagnostics = parser.diagnostics;
    diagnostics.extend(parser.lexer.take_diagnostics());
    diagnostics.sort_by_key(|diagnostic| diagnostic.span.map(|span| (span.start, span.end)));
    diagnostics.dedup();
    (program, diagnostics)
}

/// Words with a fixed meaning at the start of a statement.
pub fn is_keyword(word: &str) -> bool {
    matches!(
        word,
        "if" | "else" | "unroll" | "while" | "for" | "break" | "continue" | "return" | "let"
    )
}

/// Words that make `(word ...)` a cast rather than a parenthesised expression.
fn is_type_name(word: &str) -> bool {
    let builtin_type_names = [
        "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool", "string",
        "inet", "buffer", "char", "short", "int", "long", "void", "signed", "unsigned", "float",
        "double", "u8", "u16", "u32", "u64", "s8", "s16", "s32", "s64", "struct", "union", "enum",
        "const", "volatile", "typeof",
    ];
    if builtin_type_names.contains(&word) {
        return true;
    }
    let is_kernel_fixed_width = (word.starts_with("__u") || word.starts_with("__s"))
        && word.len() > 3
        && word.bytes().skip(3).all(|byte| byte.is_ascii_digit());
    is_kernel_fixed_width || (word.ends_with("_t") && word.len() > 2)
}

/// Words of multi-word C base types (`unsigned long long`, `long int`).
fn is_c_base_type_word(word: &str) -> bool {
    matches!(
        word,
        "unsigned" | "signed" | "short" | "long" | "int" | "char"
    )
}

/// Marker: a diagnostic has already been recorded for this failure.
#[derive(Debug)]
struct Reported;

type ParseResult<T> = Result<T, Reported>;

struct Parser<'source> {
    source: &'source str,
    lexer: Lexer<'source>,
    lookahead: VecDeque<Token>,
    diagnostics: Vec<Diagnostic>,
    /// End offset of the last consumed token, for building spans.
    previous_end: usize,
    depth: usize,
    /// Set after the nesting limit was hit: the rest of the input is ignored.
    abandoned: bool,
    /// True while parsing a predicate outside brackets: `/` ends the predicate.
    slash_ends_expression: bool,
}

impl<'source> Parser<'source> {
    fn new(source: &'source str) -> Parser<'source> {
        Parser {
            source,
            lexer: Lexer::new(source),
            lookahead: VecDeque::new(),
            diagnostics: Vec::new(),
            previous_end: 0,
            depth: 0,
            abandoned: false,
            slash_ends_expression: false,
        }
    }

    // ---- token access -------------------------------------------------------------------

    fn end_of_file_token(&self) -> Token {
        Token {
            kind: TokenKind::EndOfFile,
            span: Span::new(self.source.len(), self.source.len()),
        }
    }

    fn peek_nth(&mut self, index: usize) -> Token {
        if self.abandoned {
            return self.end_of_file_token();
        }
        while self.lookahead.len() <= index {
            let token = self.lexer.next_token();
            let is_end = token.kind == TokenKind::EndOfFile;
            self.lookahead.push_back(token);
            if is_end {
                break;
            }
        }
        match self.lookahead.get(index) {
            Some(token) => token.clone(),
            None => self.end_of_file_token(),
        }
    }

    fn peek(&mut self) -> Token {
        self.peek_nth(0)
    }

    fn peek_kind(&mut self) -> TokenKind {
        self.peek().kind
    }

    fn advance(&mut self) -> Token {
        let token = self.peek();
        if token.kind != TokenKind::EndOfFile {
            self.lookahead.pop_front();
            self.previous_end = token.span.end;
        }
        token
    }

    /// Forgets lookahead and restarts lexing at `offset` (for attach points).
    fn reset_lexer_to(&mut self, offset: usize) {
        self.lookahead.clear();
        // Errors from lexing this text as ordinary tokens no longer apply.
        self.lexer.forget_diagnostics_from(offset);
        self.lexer.set_position(offset);
    }

    fn at_punct(&mut self, punct: Punct) -> bool {
        self.peek_kind() == TokenKind::Punct(punct)
    }

    fn nth_is_punct(&mut self, index: usize, punct: Punct) -> bool {
        self.peek_nth(index).kind == TokenKind::Punct(punct)
    }

    fn eat_punct(&mut self, punct: Punct) -> bool {
        if self.at_punct(punct) {
            self.advance();
            true
        } else {
            false
        }
    }

    fn at_keyword(&mut self, keyword: &str) -> bool {
        matches!(self.peek_kind(), TokenKind::Identifier(word) if word == keyword)
    }

    fn nth_is_identifier(&mut self, index: usize) -> bool {
        matches!(self.peek_nth(index).kind, TokenKind::Identifier(_))
    }

    fn push_diagnostic(&mut self, diagnostic: Diagnostic) {
        // One error per place: unwinding from a failure at the end of the input would
        // otherwise report "unexpected end of file" once per open construct.
        let repeats_place = self
            .diagnostics
            .last()
            .is_some_and(|previous| previous.span == diagnostic.span);
        if self.abandoned || repeats_place {
            return;
        }
        if self.diagnostics.len() >= MAXIMUM_DIAGNOSTICS {
            // Past this point more messages help nobody and cost time on garbage input.
            self.diagnostics.push(Diagnostic::error(
                diagnostic.span.unwrap_or_default(),
                format!("too many errors ({MAXIMUM_DIAGNOSTICS}), stopping here"),
            ));
            self.abandoned = true;
            return;
        }
        self.diagnostics.push(diagnostic);
    }

    /// Reports `syntax error, unexpected X[, expecting Y]` at the next token.
    fn unexpected<T>(&mut self, expecting: &str) -> ParseResult<T> {
        let token = self.peek();
        let mut message = format!("syntax error, unexpected {}", token.kind.describe());
        if !expecting.is_empty() {
            message.push_str(", expecting ");
            message.push_str(expecting);
        }
        self.push_diagnostic(Diagnostic::error(token.span, message));
        Err(Reported)
    }

    fn expect_punct(&mut self, punct: Punct) -> ParseResult<Span> {
        if self.at_punct(punct) {
            Ok(self.advance().span)
        } else {
            self.unexpected(punct.text())
        }
    }

    fn expect_identifier(&mut self) -> ParseResult<(String, Span)> {
        let token = self.peek();
        match token.kind {
            TokenKind::Identifier(name) => {
                self.advance();
                Ok((name, token.span))
            }
            _ => self.unexpected("identifier"),
        }
    }

    fn expect_variable(&mut self) -> ParseResult<(String, Span)> {
        let token = self.peek();
        match token.kind {
            TokenKind::Variable(name) => {
                self.advance();
                Ok((name, token.span))
            }
            _ => self.unexpected("variable"),
        }
    }

    /// Enters one nesting level; fails (and abandons the input) past the limit.
    fn enter(&mut self, extra_depth: usize) -> ParseResult<()> {
        self.depth += 1;
        if self.depth + extra_depth > MAXIMUM_NESTING_DEPTH {
            return self.too_deep();
        }
        Ok(())
    }

    /// Reports the nesting limit and abandons the rest of the input.
    fn too_deep<T>(&mut self) -> ParseResult<T> {
        let span = self.peek().span;
        self.push_diagnostic(Diagnostic::error(
            span,
            format!("program is nested too deeply (more than {MAXIMUM_NESTING_DEPTH} levels)"),
        ));
        self.abandoned = true;
        Err(Reported)
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Runs `parse` with `/` allowed as division (inside brackets of a predicate).
    fn with_slash_as_division<T>(
        &mut self,
        parse: impl FnOnce(&mut Self) -> ParseResult<T>,
    ) -> ParseResult<T> {
        let saved = std::mem::replace(&mut self.slash_ends_expression, false);
        let result = parse(self);
        self.slash_ends_expression = saved;
        result
    }

    // ---- recovery ---------------------------------------------------------------------

    /// Skips to just after the next `;` of this block, or to its `}` (not consumed).
    fn recover_to_statement_end(&mut self) {
        let mut brace_depth = 0usize;
        loop {
            match self.peek_kind() {
                TokenKind::EndOfFile => return,
                TokenKind::Punct(Punct::Semicolon) if brace_depth == 0 => {
                    self.advance();
                    return;
                }
                TokenKind::Punct(Punct::RightBrace) => {
                    if brace_depth == 0 {
                        return;
                    }
                    brace_depth -= 1;
                    self.advance();
                }
                TokenKind::Punct(Punct::LeftBrace) => {
                    brace_depth += 1;
                    self.advance();
                }
                _ => {
                    self.advance();
                }
            }
        }
    }

    /// Skips past the end of the current top-level item (its closing `}` at depth 0).
    fn recover_to_top_level(&mut self) {
        let mut brace_depth = 0usize;
        loop {
            match self.advance().kind {
                TokenKind::EndOfFile => return,
                TokenKind::Punct(Punct::LeftBrace) => brace_depth += 1,
                TokenKind::Punct(Punct::RightBrace) => {
                    brace_depth = brace_depth.saturating_sub(1);
                    if brace_depth == 0 {
                        return;
                    }
                }
                TokenKind::Punct(Punct::Semicolon) if brace_depth == 0 => return,
                _ => {}
            }
        }
    }

    // ---- top level --------------------------------------------------------------------

    fn parse_program(&mut self) -> Program {
        let mut program = Program::default();
        loop {
            let token = self.peek();
            let result = match &token.kind {
                TokenKind::EndOfFile => break,
                TokenKind::PreprocessorLine(text) => {
                    self.advance();
                    self.record_preprocessor_line(&mut program, text, token.span);
                    Ok(())
                }
                TokenKind::Identifier(word) => {
                    let word = word.clone();
                    self.parse_top_level_item(&mut program, &word)
                }
                _ => self.parse_probe().map(|probe| program.probes.push(probe)),
            };
            if result.is_err() {
                self.recover_to_top_level();
            }
        }
        program
    }

    fn parse_top_level_item(&mut self, program: &mut Program, word: &str) -> ParseResult<()> {
        let is_c_definition = matches!(word, "struct" | "union" | "enum")
            && (self.nth_is_punct(1, Punct::LeftBrace)
                || (self.nth_is_identifier(1) && self.nth_is_punct(2, Punct::LeftBrace)));
        if is_c_definition {
            let definition = self.parse_c_definition()?;
            program.c_definitions.push(definition);
        } else if word == "config" && self.nth_is_punct(1, Punct::Assign) {
            let entries = self.parse_config()?;
            program.config.extend(entries);
        } else if word == "import" && matches!(self.peek_nth(1).kind, TokenKind::String(_)) {
            let import = self.parse_import()?;
            program.imports.push(import);
        } else if word == "macro" && self.nth_is_identifier(1) {
            let definition = self.parse_macro()?;
            program.macros.push(definition);
        } else if word == "fn" && self.nth_is_identifier(1) {
            let definition = self.parse_function()?;
            program.functions.push(definition);
        } else if word == "let" && matches!(self.peek_nth(1).kind, TokenKind::Map(_)) {
            let declaration = self.parse_map_declaration()?;
            program.map_declarations.push(declaration);
        } else {
            let probe = self.parse_probe()?;
            program.probes.push(probe);
        }
        Ok(())
    }

    fn record_preprocessor_line(&mut self, program: &mut Program, text: &str, span: Span) {
        let Some(after_include) = text
            .strip_prefix('#')
            .map(str::trim_start)
            .and_then(|rest| rest.strip_prefix("include"))
        else {
            program.preprocessor_lines.push(PreprocessorLine {
                text: text.to_string(),
                span,
            });
            return;
        };
        let argument = after_include.trim();
        let (closing, is_system) = if argument.starts_with('<') {
            ('>', true)
        } else {
            ('"', false)
        };
        let inner = argument.get(1..).unwrap_or("");
        let well_formed = (argument.starts_with('<') || argument.starts_with('"'))
            && inner.find(closing).is_some_and(|end| end > 0);
        if !well_formed {
            self.push_diagnostic(
                Diagnostic::error(span, "invalid #include: expected <file> or \"file\"")
                    .with_hint("write e.g. #include <linux/sched.h>"),
            );
            return;
        }
        let path = inner.split(closing).next().unwrap_or("").to_string();
        program.includes.push(Include {
            path,
            is_system,
            span,
        });
    }

    fn parse_c_definition(&mut self) -> ParseResult<CDefinition> {
        let keyword_token = self.advance();
        let keyword = match &keyword_token.kind {
            TokenKind::Identifier(word) if word == "union" => CDefinitionKeyword::Union,
            TokenKind::Identifier(word) if word == "enum" => CDefinitionKeyword::Enum,
            _ => CDefinitionKeyword::Struct,
        };
        let name = match self.peek_kind() {
            TokenKind::Identifier(name) => {
                self.advance();
                Some(name)
            }
            _ => None,
        };
        self.expect_punct(Punct::LeftBrace)?;
        let mut brace_depth = 1usize;
        while brace_depth > 0 {
            match self.advance().kind {
                TokenKind::EndOfFile => {
                    return self.unexpected("}");
                }
                TokenKind::Punct(Punct::LeftBrace) => brace_depth += 1,
                TokenKind::Punct(Punct::RightBrace) => brace_depth -= 1,
                _ => {}
            }
        }
        let span = Span::new(keyword_token.span.start, self.previous_end);
        self.eat_punct(Punct::Semicolon);
        Ok(CDefinition {
            keyword,
            name,
            text: span.text(self.source).to_string(),
            span,
        })
    }

    fn parse_config(&mut self) -> ParseResult<Vec<ConfigEntry>> {
        self.advance();
        self.expect_punct(Punct::Assign)?;
        self.expect_punct(Punct::LeftBrace)?;
        let mut entries = Vec::new();
        loop {
            if self.eat_punct(Punct::RightBrace) {
                break;
            }
            if self.eat_punct(Punct::Semicolon) || self.eat_punct(Punct::Comma) {
                continue;
            }
            let (key, key_span) = self.expect_identifier()?;
            self.expect_punct(Punct::Assign)?;
            let value = self.parse_expression()?;
            let span = key_span.to(value.span);
            entries.push(ConfigEntry {
                key,
                key_span,
                value,
                span,
            });
            if !self.at_punct(Punct::RightBrace)
                && !self.at_punct(Punct::Semicolon)
                && !self.at_punct(Punct::Comma)
            {
                return self.unexpected("; or }");
            }
        }
        self.eat_punct(Punct::Semicolon);
        Ok(entries)
    }

    fn parse_import(&mut self) -> ParseResult<Import> {
        let keyword = self.advance();
        let path_token = self.advance();
        let path = match path_token.kind {
            TokenKind::String(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            _ => String::new(),
        };
        let span = keyword.span.to(path_token.span);
        self.expect_punct(Punct::Semicolon)?;
        Ok(Import { path, span })
    }

    fn parse_macro(&mut self) -> ParseResult<MacroDefinition> {
        let keyword = self.advance();
        let (name, name_span) = self.expect_identifier()?;
        self.expect_punct(Punct::LeftParen)?;
        let mut parameters = Vec::new();
        while !self.eat_punct(Punct::RightParen) {
            let token = self.peek();
            let (kind, parameter_name) = match token.kind {
                TokenKind::Variable(parameter_name) => {
                    (MacroParameterKind::Variable, parameter_name)
                }
                TokenKind::Map(parameter_name) => (MacroParameterKind::Map, parameter_name),
                TokenKind::Identifier(parameter_name) => {
                    (MacroParameterKind::Expression, parameter_name)
                }
                _ => return self.unexpected("macro parameter"),
            };
            self.advance();
            parameters.push(MacroParameter {
                kind,
                name: parameter_name,
                span: token.span,
            });
            if !self.eat_punct(Punct::Comma) && !self.at_punct(Punct::RightParen) {
                return self.unexpected(", or )");
            }
        }
        let body = self.parse_block()?;
        Ok(MacroDefinition {
            name,
            name_span,
            parameters,
            span: keyword.span.to(body.span),
            body,
        })
    }

    fn parse_function(&mut self) -> ParseResult<FunctionDefinition> {
        let keyword = self.advance();
        let (name, name_span) = self.expect_identifier()?;
        self.expect_punct(Punct::LeftParen)?;
        let mut parameters = Vec::new();
        while !self.eat_punct(Punct::RightParen) {
            let (parameter_name, parameter_span) = self.expect_variable()?;
            self.expect_punct(Punct::Colon)?;
            let type_spec = self.parse_type()?;
            parameters.push(FunctionParameter {
                name: parameter_name,
                name_span: parameter_span,
                span: parameter_span.to(type_spec.span),
                type_spec,
            });
            if !self.eat_punct(Punct::Comma) && !self.at_punct(Punct::RightParen) {
                return self.unexpected(", or )");
            }
        }
        let return_type = if self.eat_punct(Punct::Colon) {
            Some(self.parse_type()?)
        } else {
            None
        };
        let body = self.parse_block()?;
        Ok(FunctionDefinition {
            name,
            name_span,
            parameters,
            return_type,
            span: keyword.span.to(body.span),
            body,
        })
    }

    fn parse_map_declaration(&mut self) -> ParseResult<MapDeclaration> {
        let keyword = self.advance();
        let map_token = self.advance();
        let map_name = match map_token.kind {
            TokenKind::Map(name) => name,
            _ => String::new(),
        };
        self.expect_punct(Punct::Assign)?;
        let (map_kind, map_kind_span) = self.expect_identifier()?;
        self.expect_punct(Punct::LeftParen)?;
        let arguments = self.parse_comma_separated_until(Punct::RightParen)?;
        let span = Span::new(keyword.span.start, self.previous_end);
        self.expect_punct(Punct::Semicolon)?;
        Ok(MapDeclaration {
            map_name,
            map_name_span: map_token.span,
            map_kind,
            map_kind_span,
            arguments,
            span,
        })
    }

    fn parse_probe(&mut self) -> ParseResult<Probe> {
        let first = self.peek();
        self.reset_lexer_to(first.span.start);
        let mut attach_points = Vec::new();
        loop {
            match self.lexer.scan_attach_point() {
                Some((raw, span)) => attach_points.push(AttachPoint { raw, span }),
                None => {
                    let expecting = if attach_points.is_empty() {
                        "probe"
                    } else {
                        "attach point"
                    };
                    return self.unexpected(expecting);
                }
            }
            if !self.eat_punct(Punct::Comma) {
                break;
            }
            self.reset_lexer_to(self.previous_end);
        }
        let start = attach_points
            .first()
            .map_or(first.span.start, |point| point.span.start);
        let predicate = if self.at_punct(Punct::Slash) {
            self.advance();
            let saved = std::mem::replace(&mut self.slash_ends_expression, true);
            let predicate = self.parse_expression();
            self.slash_ends_expression = saved;
            let predicate = predicate?;
            self.expect_punct(Punct::Slash)?;
            Some(predicate)
        } else {
            None
        };
        if !self.at_punct(Punct::LeftBrace) {
            let expecting = if predicate.is_some() {
                "{"
            } else {
                "{ or , or /"
            };
            let result = self.unexpected(expecting);
            if predicate.is_some() {
                if let Some(last) = self.diagnostics.last_mut() {
                    last.hints.push(
                        "a predicate ends at the first '/': write a division inside it in parentheses, e.g. /(a / 2) > 1/"
                            .to_string(),
                    );
                }
            }
            return result;
        }
        let body = self.parse_block()?;
        Ok(Probe {
            attach_points,
            predicate,
            span: Span::new(start, body.span.end),
            body,
        })
    }

    // ---- statements -------------------------------------------------------------------

    /// `{ statements }`; statement errors are reported and skipped inside.
    fn parse_block(&mut self) -> ParseResult<Block> {
        let open = self.expect_punct(Punct::LeftBrace)?;
        self.enter(0)?;
        let result = self.parse_block_contents(open);
        self.leave();
        result
    }

    fn parse_block_contents(&mut self, open: Span) -> ParseResult<Block> {
        let mut statements = Vec::new();
        loop {
            if self.eat_punct(Punct::Semicolon) {
                continue;
            }
            if self.at_punct(Punct::RightBrace) {
                let close = self.advance().span;
                return Ok(Block {
                    statements,
                    span: open.to(close),
                });
            }
            if self.peek_kind() == TokenKind::EndOfFile {
                // Keep what was parsed (useful for `-d ast`); the error is enough to stop.
                let _: ParseResult<()> = self.unexpected("}");
                return Ok(Block {
                    statements,
                    span: Span::new(open.start, self.previous_end),
                });
            }
            match self.parse_statement() {
                Ok((statement, ends_with_block)) => {
                    statements.push(statement);
                    let separated = ends_with_block
                        || self.eat_punct(Punct::Semicolon)
                        || self.at_punct(Punct::RightBrace);
                    if !separated {
                        let _: ParseResult<()> = self.unexpected("; or }");
                        self.recover_to_statement_end();
                    }
                }
                Err(Reported) => {
                    if self.abandoned {
                        return Err(Reported);
                    }
                    self.recover_to_statement_end();
                }
            }
        }
    }

    /// One statement, and whether it ended with a block (then no `;` is needed).
    fn parse_statement(&mut self) -> ParseResult<(Statement, bool)> {
        let start = self.peek().span.start;
        let (kind, ends_with_block) = self.parse_statement_kind()?;
        let span = Span::new(start, self.previous_end.max(start));
        Ok((Statement { kind, span }, ends_with_block))
    }

    fn parse_statement_kind(&mut self) -> ParseResult<(StatementKind, bool)> {
        if self.at_punct(Punct::LeftBrace) {
            return Ok((StatementKind::Block(self.parse_block()?), true));
        }
        if let TokenKind::Identifier(word) = self.peek_kind() {
            match word.as_str() {
                "if" => return Ok((self.parse_if()?, true)),
                "unroll" => {
                    self.advance();
                    let count = self.parse_expression()?;
                    let body = self.parse_block()?;
                    return Ok((StatementKind::Unroll { count, body }, true));
                }
                "while" => {
                    self.advance();
                    let condition = self.parse_expression()?;
                    let body = self.parse_block()?;
                    return Ok((StatementKind::While { condition, body }, true));
                }
                "for" => return Ok((self.parse_for()?, true)),
                "break" => {
                    self.advance();
                    return Ok((StatementKind::Break, false));
                }
                "continue" => {
                    self.advance();
                    return Ok((StatementKind::Continue, false));
                }
                "return" => {
                    self.advance();
                    let value =
                        if self.at_punct(Punct::Semicolon) || self.at_punct(Punct::RightBrace) {
                            None
                        } else {
                            Some(self.parse_expression()?)
                        };
                    return Ok((StatementKind::Return(value), false));
                }
                "let" => return Ok((self.parse_let()?, false)),
                "else" => return self.unexpected(""),
                _ => {}
            }
        }
        let target = self.parse_expression()?;
        let Some(operator) = self.peek_assign_operator() else {
            return Ok((StatementKind::Expression(target), false));
        };
        self.advance();
        let value = self.parse_expression()?;
        let kind = match target.kind {
            ExprKind::Variable(name) => StatementKind::AssignVariable {
                name,
                name_span: target.span,
                operator,
                value,
            },
            ExprKind::Map(map) => StatementKind::AssignMap {
                map,
                operator,
                value,
            },
            ExprKind::Identifier(name) if name == "_" && operator == AssignOperator::Assign => {
                StatementKind::Discard(value)
            }
            _ => {
                self.push_diagnostic(Diagnostic::error(
                    target.span,
                    "only variables and maps can be assigned to",
                ));
                return Err(Reported);
            }
        };
        Ok((kind, false))
    }

    fn peek_assign_operator(&mut self) -> Option<AssignOperator> {
        let TokenKind::Punct(punct) = self.peek_kind() else {
            return None;
        };
        let compound = |operator| Some(AssignOperator::Compound(operator));
        match punct {
            Punct::Assign => Some(AssignOperator::Assign),
            Punct::PlusAssign => compound(BinaryOperator::Add),
            Punct::MinusAssign => compound(BinaryOperator::Subtract),
            Punct::StarAssign => compound(BinaryOperator::Multiply),
            Punct::SlashAssign => compound(BinaryOperator::Divide),
            Punct::PercentAssign => compound(BinaryOperator::Modulo),
            Punct::AmpersandAssign => compound(BinaryOperator::BitwiseAnd),
            Punct::PipeAssign => compound(BinaryOperator::BitwiseOr),
            Punct::CaretAssign => compound(BinaryOperator::BitwiseXor),
            Punct::ShiftLeftAssign => compound(BinaryOperator::ShiftLeft),
            Punct::ShiftRightAssign => compound(BinaryOperator::ShiftRight),
            _ => None,
        }
    }

    fn parse_if(&mut self) -> ParseResult<StatementKind> {
        self.advance();
        let condition = self.parse_expression()?;
        let then_block = self.parse_block()?;
        let else_block = if self.at_keyword("else") {
            self.advance();
            if self.at_keyword("if") {
                let start = self.peek().span.start;
                self.enter(0)?;
                let nested = self.parse_if();
                self.leave();
                let nested = nested?;
                let span = Span::new(start, self.previous_end);
                Some(Block {
                    statements: vec![Statement { kind: nested, span }],
                    span,
                })
            } else {
                Some(self.parse_block()?)
            }
        } else {
            None
        };
        Ok(StatementKind::If {
            condition,
            then_block,
            else_block,
        })
    }

    fn parse_for(&mut self) -> ParseResult<StatementKind> {
        self.advance();
        let parenthesised = self.eat_punct(Punct::LeftParen);
        let (variable, variable_span) = self.expect_variable()?;
        // `for ($key, $value : @map)`: the two-variable form (a bpfscope extension).
        let value_variable = if self.eat_punct(Punct::Comma) {
            Some(self.expect_variable()?)
        } else {
            None
        };
        self.expect_punct(Punct::Colon)?;
        let kind_without_body = if let TokenKind::Map(name) = self.peek_kind() {
            let name_span = self.advance().span;
            Err(MapAccess {
                name,
                name_span,
                keys: Vec::new(),
                span: name_span,
            })
        } else {
            let start = self.with_slash_as_division(|parser| parser.parse_expression())?;
            self.expect_punct(Punct::DotDot)?;
            let end = self.with_slash_as_division(|parser| parser.parse_expression())?;
            Ok((start, end))
        };
        if parenthesised {
            self.expect_punct(Punct::RightParen)?;
        }
        let body = self.parse_block()?;
        if let (Some((_, value_span)), Ok(_)) = (&value_variable, &kind_without_body) {
            self.push_diagnostic(Diagnostic::error(
                *value_span,
                "a range loop binds one variable: write `for ($i : start..end)`",
            ));
            return Err(Reported);
        }
        Ok(match kind_without_body {
            Err(map) => StatementKind::ForMap {
                variable,
                variable_span,
                value_variable,
                map,
                body,
            },
            Ok((start, end)) => StatementKind::ForRange {
                variable,
                variable_span,
                start,
                end,
                body,
            },
        })
    }

    fn parse_let(&mut self) -> ParseResult<StatementKind> {
        self.advance();
        let (name, name_span) = self.expect_variable()?;
        let type_annotation = if self.eat_punct(Punct::Colon) {
            Some(self.parse_type()?)
        } else {
            None
        };
        let value = if self.eat_punct(Punct::Assign) {
            Some(self.parse_expression()?)
        } else {
            None
        };
        Ok(StatementKind::VariableDeclaration {
            name,
            name_span,
            type_annotation,
            value,
        })
    }

    // ---- types ------------------------------------------------------------------------

    fn parse_type(&mut self) -> ParseResult<TypeSpec> {
        let start = self.peek().span.start;
        while self.at_keyword("const") || self.at_keyword("volatile") {
            self.advance();
        }
        let (word, word_span) = self.expect_identifier()?;
        let mut base = match word.as_str() {
            "struct" | "union" | "enum" => {
                let keyword = match word.as_str() {
                    "union" => CDefinitionKeyword::Union,
                    "enum" => CDefinitionKeyword::Enum,
                    _ => CDefinitionKeyword::Struct,
                };
                let (name, _) = self.expect_identifier()?;
                TypeSpecKind::Tagged { keyword, name }
            }
            "typeof" => {
                self.expect_punct(Punct::LeftParen)?;
                let value = self.with_slash_as_division(|parser| parser.parse_expression())?;
                self.expect_punct(Punct::RightParen)?;
                TypeSpecKind::Typeof(Box::new(value))
            }
            _ if is_c_base_type_word(&word) => {
                let mut words = vec![word];
                while let TokenKind::Identifier(next) = self.peek_kind() {
                    if !is_c_base_type_word(&next) {
                        break;
                    }
                    self.advance();
                    words.push(next);
                }
                TypeSpecKind::Named(words.join(" "))
            }
            _ => TypeSpecKind::Named(word),
        };
        let _ = word_span;
        let mut type_levels = 0usize;
        loop {
            if self.at_keyword("const") || self.at_keyword("volatile") {
                self.advance();
            } else if self.at_punct(Punct::Star) {
                self.advance();
                let element = TypeSpec {
                    kind: base,
                    span: Span::new(start, self.previous_end),
                };
                base = TypeSpecKind::Pointer(Box::new(element));
            } else if self.at_punct(Punct::LeftBracket) {
                self.advance();
                let length = match self.peek_kind() {
                    TokenKind::Integer(length) => {
                        self.advance();
                        Some(length)
                    }
                    _ => None,
                };
                let element = TypeSpec {
                    kind: base,
                    span: Span::new(start, self.previous_end),
                };
                self.expect_punct(Punct::RightBracket)?;
                base = TypeSpecKind::Array {
                    element: Box::new(element),
                    length,
                };
            } else {
                break;
            }
            type_levels += 1;
            if self.depth + type_levels > MAXIMUM_NESTING_DEPTH {
                return self.too_deep();
            }
        }
        Ok(TypeSpec {
            kind: base,
            span: Span::new(start, self.previous_end),
        })
    }

    /// True at `(` when what follows is a type and `)`, i.e. a cast.
    fn looks_like_cast(&mut self) -> bool {
        if !self.at_punct(Punct::LeftParen) {
            return false;
        }
        let TokenKind::Identifier(word) = self.peek_nth(1).kind else {
            return false;
        };
        if matches!(
            word.as_str(),
            "struct" | "union" | "enum" | "const" | "volatile" | "typeof"
        ) {
            return true;
        }
        let after = self.peek_nth(2).kind;
        let follows_like_type = matches!(
            after,
            TokenKind::Punct(Punct::RightParen)
                | TokenKind::Punct(Punct::Star)
                | TokenKind::Punct(Punct::LeftBracket)
                | TokenKind::Identifier(_)
        );
        if is_type_name(&word) {
            return follows_like_type;
        }
        // `(name *)` or `(name **)`: an unknown type name used as a pointer.
        if after == TokenKind::Punct(Punct::Star) {
            let mut index = 3;
            while self.nth_is_punct(index, Punct::Star) && index < 16 {
                index += 1;
            }
            return self.nth_is_punct(index, Punct::RightParen);
        }
        false
    }

    // ---- expressions ------------------------------------------------------------------

    fn parse_expression(&mut self) -> ParseResult<Expr> {
        self.enter(0)?;
        let result = self.parse_ternary();
        self.leave();
        result
    }

    fn parse_ternary(&mut self) -> ParseResult<Expr> {
        let condition = self.parse_binary(1)?;
        if !self.at_punct(Punct::Question) {
            return Ok(condition);
        }
        self.advance();
        let then_value = if self.eat_punct(Punct::Colon) {
            None
        } else {
            let value = self.parse_expression()?;
            self.expect_punct(Punct::Colon)?;
            Some(Box::new(value))
        };
        let else_value = self.parse_expression()?;
        let span = condition.span.to(else_value.span);
        Ok(Expr::new(
            ExprKind::Ternary {
                condition: Box::new(condition),
                then_value,
                else_value: Box::new(else_value),
            },
            span,
        ))
    }

    fn peek_binary_operator(&mut self) -> Option<BinaryOperator> {
        let TokenKind::Punct(punct) = self.peek_kind() else {
            return None;
        };
        Some(match punct {
            Punct::Star => BinaryOperator::Multiply,
            Punct::Slash if !self.slash_ends_expression => BinaryOperator::Divide,
            Punct::Percent => BinaryOperator::Modulo,
            Punct::Plus => BinaryOperator::Add,
            Punct::Minus => BinaryOperator::Subtract,
            Punct::ShiftLeft => BinaryOperator::ShiftLeft,
            Punct::ShiftRight => BinaryOperator::ShiftRight,
            Punct::Less => BinaryOperator::Less,
            Punct::LessEqual => BinaryOperator::LessEqual,
            Punct::Greater => BinaryOperator::Greater,
            Punct::GreaterEqual => BinaryOperator::GreaterEqual,
            Punct::EqualEqual => BinaryOperator::Equal,
            Punct::NotEqual => BinaryOperator::NotEqual,
            Punct::Ampersand => BinaryOperator::BitwiseAnd,
            Punct::Caret => BinaryOperator::BitwiseXor,
            Punct::Pipe => BinaryOperator::BitwiseOr,
            Punct::AndAnd => BinaryOperator::LogicalAnd,
            Punct::OrOr => BinaryOperator::LogicalOr,
            _ => return None,
        })
    }

    /// Pratt loop: operators binding at least as tight as `minimum_precedence`.
    fn parse_binary(&mut self, minimum_precedence: u8) -> ParseResult<Expr> {
        let mut left = self.parse_unary()?;
        let mut chain_length = 0usize;
        while let Some(operator) = self.peek_binary_operator() {
            let precedence = operator.precedence();
            if precedence < minimum_precedence {
                break;
            }
            chain_length += 1;
            // A long chain is a deep left-leaning tree for every later pass.
            if self.depth + chain_length > MAXIMUM_NESTING_DEPTH {
                return self.too_deep();
            }
            self.advance();
            self.enter(chain_length)?;
            let right = self.parse_binary(precedence + 1);
            self.leave();
            let right = right?;
            let span = left.span.to(right.span);
            left = Expr::new(
                ExprKind::Binary {
                    operator,
                    left: Box::new(left),
                    right: Box::new(right),
                },
                span,
            );
        }
        Ok(left)
    }

    fn parse_unary(&mut self) -> ParseResult<Expr> {
        self.enter(0)?;
        let result = self.parse_unary_inner();
        self.leave();
        result
    }

    fn parse_unary_inner(&mut self) -> ParseResult<Expr> {
        let token = self.peek();
        let unary_operator = match token.kind {
            TokenKind::Punct(Punct::Minus) => Some(UnaryOperator::Negate),
            TokenKind::Punct(Punct::Bang) => Some(UnaryOperator::LogicalNot),
            TokenKind::Punct(Punct::Tilde) => Some(UnaryOperator::BitwiseNot),
            TokenKind::Punct(Punct::Star) => Some(UnaryOperator::Dereference),
            TokenKind::Punct(Punct::Ampersand) => Some(UnaryOperator::AddressOf),
            _ => None,
        };
        if let Some(operator) = unary_operator {
            self.advance();
            let operand = self.parse_unary()?;
            let span = token.span.to(operand.span);
            return Ok(Expr::new(
                ExprKind::Unary {
                    operator,
                    operand: Box::new(operand),
                },
                span,
            ));
        }
        if matches!(
            token.kind,
            TokenKind::Punct(Punct::PlusPlus) | TokenKind::Punct(Punct::MinusMinus)
        ) {
            self.advance();
            let target = self.parse_unary()?;
            let span = token.span.to(target.span);
            return Ok(Expr::new(
                ExprKind::IncrementDecrement {
                    target: Box::new(target),
                    increment: token.kind == TokenKind::Punct(Punct::PlusPlus),
                    prefix: true,
                },
                span,
            ));
        }
        if self.looks_like_cast() {
            self.advance();
            let target_type = self.with_slash_as_division(|parser| parser.parse_type())?;
            self.expect_punct(Punct::RightParen)?;
            let value = self.parse_unary()?;
            let span = token.span.to(value.span);
            return Ok(Expr::new(
                ExprKind::Cast {
                    target_type,
                    value: Box::new(value),
                },
                span,
            ));
        }
        let primary = self.parse_primary()?;
        self.parse_postfix(primary)
    }

    fn parse_postfix(&mut self, mut expression: Expr) -> ParseResult<Expr> {
        let mut postfix_count = 0usize;
        loop {
            let token = self.peek();
            let is_postfix = match &token.kind {
                TokenKind::Punct(Punct::Dot) | TokenKind::Punct(Punct::Arrow) => {
                    let arrow = token.kind == TokenKind::Punct(Punct::Arrow);
                    self.advance();
                    let member = self.peek();
                    match member.kind {
                        TokenKind::Identifier(field) => {
                            self.advance();
                            let span = expression.span.to(member.span);
                            expression = Expr::new(
                                ExprKind::FieldAccess {
                                    base: Box::new(expression),
                                    field,
                                    field_span: member.span,
                                    arrow,
                                },
                                span,
                            );
                        }
                        TokenKind::Integer(index) if !arrow => {
                            self.advance();
                            let Ok(index) = u32::try_from(index) else {
                                self.push_diagnostic(Diagnostic::error(
                                    member.span,
                                    "tuple index too large",
                                ));
                                return Err(Reported);
                            };
                            let span = expression.span.to(member.span);
                            expression = Expr::new(
                                ExprKind::TupleIndex {
                                    base: Box::new(expression),
                                    index,
                                    index_span: member.span,
                                },
                                span,
                            );
                        }
                        _ => return self.unexpected("field name"),
                    }
                    true
                }
                TokenKind::Punct(Punct::LeftBracket) => {
                    self.advance();
                    let index = self.with_slash_as_division(|parser| parser.parse_expression())?;
                    let close = self.expect_punct(Punct::RightBracket)?;
                    let span = expression.span.to(close);
                    expression = Expr::new(
                        ExprKind::Index {
                            base: Box::new(expression),
                            index: Box::new(index),
                        },
                        span,
                    );
                    true
                }
                TokenKind::Punct(Punct::PlusPlus) | TokenKind::Punct(Punct::MinusMinus) => {
                    self.advance();
                    let span = expression.span.to(token.span);
                    expression = Expr::new(
                        ExprKind::IncrementDecrement {
                            target: Box::new(expression),
                            increment: token.kind == TokenKind::Punct(Punct::PlusPlus),
                            prefix: false,
                        },
                        span,
                    );
                    true
                }
                _ => false,
            };
            if !is_postfix {
                return Ok(expression);
            }
            postfix_count += 1;
            if self.depth + postfix_count > MAXIMUM_NESTING_DEPTH {
                return self.too_deep();
            }
        }
    }

    fn parse_comma_separated_until(&mut self, close: Punct) -> ParseResult<Vec<Expr>> {
        self.with_slash_as_division(|parser| {
            let mut items = Vec::new();
            while !parser.eat_punct(close) {
                items.push(parser.parse_expression()?);
                if !parser.eat_punct(Punct::Comma) && !parser.at_punct(close) {
                    return parser.unexpected(&format!(", or {}", close.text()));
                }
            }
            Ok(items)
        })
    }

    fn parse_primary(&mut self) -> ParseResult<Expr> {
        let token = self.peek();
        let kind = match token.kind {
            TokenKind::Integer(value) => {
                self.advance();
                ExprKind::Integer(value)
            }
            TokenKind::String(bytes) => {
                self.advance();
                ExprKind::String(bytes)
            }
            TokenKind::Variable(name) => {
                self.advance();
                ExprKind::Variable(name)
            }
            TokenKind::PositionalParameter(number) => {
                self.advance();
                ExprKind::PositionalParameter(number)
            }
            TokenKind::PositionalParameterCount => {
                self.advance();
                ExprKind::PositionalParameterCount
            }
            TokenKind::Map(_) => {
                let map = self.parse_map_access()?;
                let span = map.span;
                return Ok(Expr::new(ExprKind::Map(map), span));
            }
            TokenKind::Identifier(name) => {
                return self.parse_identifier_expression(name, token.span)
            }
            TokenKind::Punct(Punct::LeftParen) => return self.parse_parenthesised(),
            TokenKind::Punct(Punct::LeftBrace) => return self.parse_block_expression(),
            _ => return self.unexpected(""),
        };
        Ok(Expr::new(kind, token.span))
    }

    fn parse_map_access(&mut self) -> ParseResult<MapAccess> {
        let token = self.advance();
        let TokenKind::Map(name) = token.kind else {
            return self.unexpected("map");
        };
        let mut keys = Vec::new();
        if self.eat_punct(Punct::LeftBracket) {
            keys = self.parse_comma_separated_until(Punct::RightBracket)?;
            if keys.is_empty() {
                self.push_diagnostic(Diagnostic::error(
                    Span::new(token.span.start, self.previous_end),
                    "map key missing between [ and ]",
                ));
                return Err(Reported);
            }
        }
        Ok(MapAccess {
            name,
            name_span: token.span,
            keys,
            span: Span::new(token.span.start, self.previous_end),
        })
    }

    fn parse_identifier_expression(&mut self, name: String, span: Span) -> ParseResult<Expr> {
        if is_keyword(&name) {
            return self.unexpected("");
        }
        self.advance();
        match name.as_str() {
            "true" => return Ok(Expr::new(ExprKind::Boolean(true), span)),
            "false" => return Ok(Expr::new(ExprKind::Boolean(false), span)),
            "sizeof" if self.at_punct(Punct::LeftParen) => {
                self.advance();
                let argument = self.parse_type_or_expression()?;
                let close = self.expect_punct(Punct::RightParen)?;
                return Ok(Expr::new(
                    ExprKind::Sizeof(Box::new(argument)),
                    span.to(close),
                ));
            }
            "offsetof" if self.at_punct(Punct::LeftParen) => {
                self.advance();
                let target = self.parse_type_or_expression()?;
                self.expect_punct(Punct::Comma)?;
                let mut fields = vec![self.expect_identifier()?.0];
                while self.eat_punct(Punct::Dot) {
                    fields.push(self.expect_identifier()?.0);
                }
                let close = self.expect_punct(Punct::RightParen)?;
                return Ok(Expr::new(
                    ExprKind::Offsetof {
                        target: Box::new(target),
                        fields,
                    },
                    span.to(close),
                ));
            }
            _ => {}
        }
        if self.at_punct(Punct::LeftParen) {
            self.advance();
            let arguments = self.parse_comma_separated_until(Punct::RightParen)?;
            return Ok(Expr::new(
                ExprKind::Call {
                    function: name,
                    function_span: span,
                    arguments,
                },
                Span::new(span.start, self.previous_end),
            ));
        }
        Ok(Expr::new(ExprKind::Identifier(name), span))
    }

    /// Inside `sizeof(...)`/`offsetof(...)`: a type if it starts like one, else an expression.
    fn parse_type_or_expression(&mut self) -> ParseResult<SizeofArgument> {
        let starts_like_type = match self.peek_kind() {
            TokenKind::Identifier(word) => {
                matches!(
                    word.as_str(),
                    "struct" | "union" | "enum" | "const" | "volatile"
                ) || (is_type_name(&word)
                    && matches!(
                        self.peek_nth(1).kind,
                        TokenKind::Punct(Punct::RightParen)
                            | TokenKind::Punct(Punct::Comma)
                            | TokenKind::Punct(Punct::Star)
                            | TokenKind::Punct(Punct::LeftBracket)
                            | TokenKind::Identifier(_)
                    ))
            }
            _ => false,
        };
        if starts_like_type {
            Ok(SizeofArgument::Type(
                self.with_slash_as_division(|parser| parser.parse_type())?,
            ))
        } else {
            Ok(SizeofArgument::Expr(self.with_slash_as_division(
                |parser| parser.parse_expression(),
            )?))
        }
    }

    /// `( ... )`: grouping, tuple, or record.
    fn parse_parenthesised(&mut self) -> ParseResult<Expr> {
        let open = self.advance().span;
        self.with_slash_as_division(|parser| {
            if parser.at_punct(Punct::RightParen) {
                let close = parser.advance().span;
                return Ok(Expr::new(ExprKind::Tuple(Vec::new()), open.to(close)));
            }
            if parser.nth_is_identifier(0) && parser.nth_is_punct(1, Punct::Assign) {
                return parser.parse_record_rest(open);
            }
            let first = parser.parse_expression()?;
            if parser.at_punct(Punct::RightParen) {
                let close = parser.advance().span;
                // Grouping keeps the inner node; the span grows to include the parentheses
                // so that diagnostics point at what the user wrote.
                return Ok(Expr::new(first.kind, open.to(close)));
            }
            parser.expect_punct(Punct::Comma)?;
            let mut elements = vec![first];
            elements.extend(parser.parse_comma_separated_until(Punct::RightParen)?);
            Ok(Expr::new(
                ExprKind::Tuple(elements),
                Span::new(open.start, parser.previous_end),
            ))
        })
    }

    fn parse_record_rest(&mut self, open: Span) -> ParseResult<Expr> {
        let mut fields = Vec::new();
        while !self.eat_punct(Punct::RightParen) {
            let (name, name_span) = self.expect_identifier()?;
            self.expect_punct(Punct::Assign)?;
            let value = self.parse_expression()?;
            fields.push(RecordField {
                name,
                name_span,
                value,
            });
            if !self.eat_punct(Punct::Comma) && !self.at_punct(Punct::RightParen) {
                return self.unexpected(", or )");
            }
        }
        Ok(Expr::new(
            ExprKind::Record(fields),
            Span::new(open.start, self.previous_end),
        ))
    }

    /// `{ statements; value }` in expression position.
    fn parse_block_expression(&mut self) -> ParseResult<Expr> {
        let block = self.with_slash_as_division(|parser| parser.parse_block())?;
        let mut statements = block.statements;
        match statements.pop() {
            Some(Statement {
                kind: StatementKind::Expression(value),
                ..
            }) => Ok(Expr::new(
                ExprKind::BlockExpression {
                    statements,
                    value: Box::new(value),
                },
                block.span,
            )),
            _ => {
                self.push_diagnostic(Diagnostic::error(
                    block.span,
                    "a block used as a value must end with an expression",
                ));
                Err(Reported)
            }
        }
    }
}
