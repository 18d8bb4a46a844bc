//! Untyped abstract syntax tree of a bpftrace-language program; every node carries a byte span.
//!
//! The tree keeps what the user wrote, without resolving names: builtins such as `pid`,
//! `comm`, `args` or `curtask` are plain [`ExprKind::Identifier`]s, calls are
//! [`ExprKind::Call`] whatever the function, and attach points keep their raw text. The
//! checker gives them meaning. Nothing here knows about types beyond the syntax of casts.

/// A half-open byte range `start..end` into the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Span {
    /// Offset of the first byte.
    pub start: usize,
    /// Offset one past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` (inclusive) to `end` (exclusive).
    pub const fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// The smallest span covering both `self` and `other`.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// Number of bytes covered.
    pub fn len(self) -> usize {
        self.end.saturating_sub(self.start)
    }

    /// True when the span covers no byte (e.g. end of input).
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// The covered text, or "" if the span is outside `source` or not on char boundaries.
    pub fn text(self, source: &str) -> &str {
        source.get(self.start..self.end).unwrap_or("")
    }
}

/// A whole script: C definitions, configuration, and probes, in source order per kind.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Program {
    /// `#include <linux/sched.h>` / `#include "x.h"` lines.
    pub includes: Vec<Include>,
    /// Other preprocessor lines (`#define`, `#ifdef`, ...), kept verbatim.
    pub preprocessor_lines: Vec<PreprocessorLine>,
    /// Top-level C `struct`/`union`/`enum` definitions, kept as text for the checker.
    pub c_definitions: Vec<CDefinition>,
    /// Entries of `config = { key = value; ... }` blocks.
    pub config: Vec<ConfigEntry>,
    /// `import "file";` statements (0.26).
    pub imports: Vec<Import>,
    /// `macro name(...) { ... }` definitions (0.24+).
    pub macros: Vec<MacroDefinition>,
    /// `let @map = hash(N);` declarations (0.24+).
    pub map_declarations: Vec<MapDeclaration>,
    /// `fn name($a: T): R { ... }` subprograms (undocumented in bpftrace, parsed anyway).
    pub functions: Vec<FunctionDefinition>,
    /// Probes with their action blocks, in source order.
    pub probes: Vec<Probe>,
}

/// One `#include` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    /// The header path without delimiters, e.g. `linux/sched.h`.
    pub path: String,
    /// True for `<...>`, false for `"..."`.
    pub is_system: bool,
    /// The whole line without its newline.
    pub span: Span,
}

/// A preprocessor line other than `#include`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreprocessorLine {
    /// The whole line (including `#`, and continuation lines joined as written).
    pub text: String,
    pub span: Span,
}

/// The keyword that starts a C definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CDefinitionKeyword {
    Struct,
    Union,
    Enum,
}

/// A top-level C definition such as `struct foo { int a; char c[4]; };`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CDefinition {
    pub keyword: CDefinitionKeyword,
    /// The tag name (`foo`), or None for an anonymous definition.
    pub name: Option<String>,
    /// The full definition text from the keyword to the closing `}` (the `;` is excluded).
    pub text: String,
    pub span: Span,
}

/// One `key = value` entry of a `config = { ... }` block.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigEntry {
    pub key: String,
    pub key_span: Span,
    /// An integer, string, boolean or bare identifier (e.g. `perf`, `warn`).
    pub value: Expr,
    pub span: Span,
}

/// `import "path";`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub path: String,
    pub span: Span,
}

/// A bpftrace macro definition.
#[derive(Debug, Clone, PartialEq)]
pub struct MacroDefinition {
    pub name: String,
    pub name_span: Span,
    pub parameters: Vec<MacroParameter>,
    pub body: Block,
    pub span: Span,
}

/// What a macro parameter stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacroParameterKind {
    /// `$x`: a scratch variable.
    Variable,
    /// `@m`: a map.
    Map,
    /// `x`: any expression.
    Expression,
}

/// One macro parameter; `name` excludes the `$`/`@` sigil.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroParameter {
    pub kind: MacroParameterKind,
    pub name: String,
    pub span: Span,
}

/// `let @name = kind(arguments...);`, e.g. `let @a = lruhash(100);`.
#[derive(Debug, Clone, PartialEq)]
pub struct MapDeclaration {
    /// Map name without `@` ("" for the anonymous map `@`).
    pub map_name: String,
    pub map_name_span: Span,
    /// `hash`, `lruhash`, `percpuhash`, `percpulruhash`, ...
    pub map_kind: String,
    pub map_kind_span: Span,
    pub arguments: Vec<Expr>,
    pub span: Span,
}

/// `fn name($a: T, ...): R { ... }`.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionDefinition {
    pub name: String,
    pub name_span: Span,
    pub parameters: Vec<FunctionParameter>,
    pub return_type: Option<TypeSpec>,
    pub body: Block,
    pub span: Span,
}

/// `$name: type` in a function signature; `name` excludes the `$`.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionParameter {
    pub name: String,
    pub name_span: Span,
    pub type_spec: TypeSpec,
    pub span: Span,
}

/// A probe: attach points, optional predicate, action block.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// At least one attach point when parsing succeeded.
    pub attach_points: Vec<AttachPoint>,
    /// The `/ expr /` filter.
    pub predicate: Option<Expr>,
    pub body: Block,
    /// From the first attach point to the closing `}`.
    pub span: Span,
}

/// One attach point, exactly as written (quotes kept, whitespace inside removed never).
///
/// Examples: `tracepoint:syscalls:sys_enter_execve`, `kprobe:vfs_*`, `interval:s:1`,
/// `BEGIN`, `uprobe:/bin/bash:readline`, `uprobe:libc:malloc+0x10`, `usdt:/path:prov:name`,
/// `uprobe:"/path with space":f`. Splitting into provider and parts is the probes crate's job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachPoint {
    pub raw: String,
    pub span: Span,
}

impl AttachPoint {
    /// The text before the first `:` (the whole text for `BEGIN`/`END`), e.g. `tracepoint`.
    pub fn provider(&self) -> &str {
        self.raw.split(':').next().unwrap_or("")
    }
}

/// `{ statements }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub statements: Vec<Statement>,
    /// From `{` to `}` inclusive.
    pub span: Span,
}

/// A statement with its span (the terminating `;` excluded).
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub kind: StatementKind,
    pub span: Span,
}

/// `=` or one of the compound assignment operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignOperator {
    /// `=`
    Assign,
    /// `op=` with `op` one of `+ - * / % & | ^ << >>`.
    Compound(BinaryOperator),
}

impl AssignOperator {
    /// The operator as written, e.g. `+=`.
    pub fn symbol(self) -> &'static str {
        match self {
            AssignOperator::Assign => "=",
            AssignOperator::Compound(operator) => match operator {
                BinaryOperator::Add => "+=",
                BinaryOperator::Subtract => "-=",
                BinaryOperator::Multiply => "*=",
                BinaryOperator::Divide => "/=",
                BinaryOperator::Modulo => "%=",
                BinaryOperator::BitwiseAnd => "&=",
                BinaryOperator::BitwiseOr => "|=",
                BinaryOperator::BitwiseXor => "^=",
                BinaryOperator::ShiftLeft => "<<=",
                BinaryOperator::ShiftRight => ">>=",
                // Never produced by the parser; kept total so printing cannot fail.
                _ => "?=",
            },
        }
    }
}

/// The statements of the language.
#[derive(Debug, Clone, PartialEq)]
pub enum StatementKind {
    /// An expression evaluated for its effect, e.g. `printf(...)`, `join(args->argv)`, `$x++`.
    Expression(Expr),
    /// `$name op value`; `name` excludes the `$`.
    AssignVariable {
        name: String,
        name_span: Span,
        operator: AssignOperator,
        value: Expr,
    },
    /// `@map[keys] op value`.
    AssignMap {
        map: MapAccess,
        operator: AssignOperator,
        value: Expr,
    },
    /// `_ = value;` (explicitly discarded value, 0.25).
    Discard(Expr),
    /// `let $name [: type] [= value];` (0.22+); `name` excludes the `$`.
    VariableDeclaration {
        name: String,
        name_span: Span,
        type_annotation: Option<TypeSpec>,
        value: Option<Expr>,
    },
    /// `if (condition) { ... } [else ...]`. An `else if` is an `else_block` holding one `If`.
    If {
        condition: Expr,
        then_block: Block,
        else_block: Option<Block>,
    },
    /// `unroll (count) { ... }`.
    Unroll {
        count: Expr,
        body: Block,
    },
    /// `while (condition) { ... }`.
    While {
        condition: Expr,
        body: Block,
    },
    /// `for ($variable : @map) { ... }`; `variable` excludes the `$`.
    ///
    /// bpfscope extension: `for ($key, $value : @map)` binds the key and the value to two
    /// variables instead of one `(key, value)` tuple; `value_variable` holds the second.
    ForMap {
        variable: String,
        variable_span: Span,
        value_variable: Option<(String, Span)>,
        map: MapAccess,
        body: Block,
    },
    /// `for ($variable : start..end) { ... }` (half-open range).
    ForRange {
        variable: String,
        variable_span: Span,
        start: Expr,
        end: Expr,
        body: Block,
    },
    Break,
    Continue,
    /// `return [value];`
    Return(Option<Expr>),
    /// A nested `{ ... }`.
    Block(Block),
}

/// An expression with its span.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

impl Expr {
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        Expr { kind, span }
    }
}

/// A map reference `@name`, `@name[key]`, `@name[k1, k2]`; also used as assignment target.
#[derive(Debug, Clone, PartialEq)]
pub struct MapAccess {
    /// Map name without `@`; "" for the anonymous map `@`.
    pub name: String,
    pub name_span: Span,
    /// Empty for `@name`; one element for `@name[k]`; several for `@name[k1, k2]`.
    pub keys: Vec<Expr>,
    /// From `@` to the closing `]` (or the end of the name).
    pub span: Span,
}

/// The expressions of the language.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// Integer literal (decimal, hex, octal, binary, `_` separators, C suffixes ignored).
    /// Duration literals (`10ms`) are already converted to nanoseconds here.
    Integer(u64),
    /// String literal with escapes decoded; may hold any bytes (`\xff`).
    String(Vec<u8>),
    /// `true` / `false`.
    Boolean(bool),
    /// A bare name: builtins (`pid`, `comm`, `args`, `arg0`, `retval`, `curtask`, ...),
    /// 0-argument macros, enum constants, config values. Resolved by the checker.
    Identifier(String),
    /// `$name`; the name excludes the `$`.
    Variable(String),
    /// `$1`, `$2`, ... (the number, 1-based).
    PositionalParameter(u32),
    /// `$#`.
    PositionalParameterCount,
    /// `@name`, `@name[k]`, `@name[k1, k2]`, `@`.
    Map(MapAccess),
    /// `base.field` or `base->field` (`arrow` tells which was written).
    FieldAccess {
        base: Box<Expr>,
        field: String,
        field_span: Span,
        arrow: bool,
    },
    /// `tuple.0`.
    TupleIndex {
        base: Box<Expr>,
        index: u32,
        index_span: Span,
    },
    /// `base[index]`.
    Index { base: Box<Expr>, index: Box<Expr> },
    /// `function(arguments...)`; builtins, functions and macros alike.
    Call {
        function: String,
        function_span: Span,
        arguments: Vec<Expr>,
    },
    /// `(type) value`.
    Cast {
        target_type: TypeSpec,
        value: Box<Expr>,
    },
    Unary {
        operator: UnaryOperator,
        operand: Box<Expr>,
    },
    Binary {
        operator: BinaryOperator,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    /// `condition ? then_value : else_value`; `then_value` is None for `a ?: b`.
    Ternary {
        condition: Box<Expr>,
        then_value: Option<Box<Expr>>,
        else_value: Box<Expr>,
    },
    /// `++x`, `x++`, `--x`, `x--` on a variable or map.
    IncrementDecrement {
        target: Box<Expr>,
        increment: bool,
        prefix: bool,
    },
    /// `(a, b)`, `(a,)`, `()`.
    Tuple(Vec<Expr>),
    /// `(name = value, ...)` named tuple (0.25).
    Record(Vec<RecordField>),
    /// `sizeof(type)` or `sizeof(expr)`.
    Sizeof(Box<SizeofArgument>),
    /// `offsetof(type, field.subfield)`.
    Offsetof {
        target: Box<SizeofArgument>,
        fields: Vec<String>,
    },
    /// `{ statements; value }` used as a value (0.24 block expression).
    BlockExpression {
        statements: Vec<Statement>,
        value: Box<Expr>,
    },
    /// Placeholder produced after a syntax error so the tree stays complete.
    Error,
}

/// One `name = value` of a record literal.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordField {
    pub name: String,
    pub name_span: Span,
    pub value: Expr,
}

/// The operand of `sizeof`/`offsetof`: a type or an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum SizeofArgument {
    Type(TypeSpec),
    Expr(Expr),
}

/// Prefix operators (increment/decrement are [`ExprKind::IncrementDecrement`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOperator {
    /// `-x`
    Negate,
    /// `!x`
    LogicalNot,
    /// `~x`
    BitwiseNot,
    /// `*p`
    Dereference,
    /// `&x`
    AddressOf,
}

impl UnaryOperator {
    pub fn symbol(self) -> &'static str {
        match self {
            UnaryOperator::Negate => "-",
            UnaryOperator::LogicalNot => "!",
            UnaryOperator::BitwiseNot => "~",
            UnaryOperator::Dereference => "*",
            UnaryOperator::AddressOf => "&",
        }
    }
}

/// Binary operators, C precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOperator {
    Multiply,
    Divide,
    Modulo,
    Add,
    Subtract,
    ShiftLeft,
    ShiftRight,
    Less,
    LessEqual,
    Greater,
    GreaterEqual,
    Equal,
    NotEqual,
    BitwiseAnd,
    BitwiseXor,
    BitwiseOr,
    LogicalAnd,
    LogicalOr,
}

impl BinaryOperator {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOperator::Multiply => "*",
            BinaryOperator::Divide => "/",
            BinaryOperator::Modulo => "%",
            BinaryOperator::Add => "+",
            BinaryOperator::Subtract => "-",
            BinaryOperator::ShiftLeft => "<<",
            BinaryOperator::ShiftRight => ">>",
            BinaryOperator::Less => "<",
            BinaryOperator::LessEqual => "<=",
            BinaryOperator::Greater => ">",
            BinaryOperator::GreaterEqual => ">=",
            BinaryOperator::Equal => "==",
            BinaryOperator::NotEqual => "!=",
            BinaryOperator::BitwiseAnd => "&",
            BinaryOperator::BitwiseXor => "^",
            BinaryOperator::BitwiseOr => "|",
            BinaryOperator::LogicalAnd => "&&",
            BinaryOperator::LogicalOr => "||",
        }
    }

    /// Binding strength; higher binds tighter. `||` is 1, `* / %` is 10.
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOperator::LogicalOr => 1,
            BinaryOperator::LogicalAnd => 2,
            BinaryOperator::BitwiseOr => 3,
            BinaryOperator::BitwiseXor => 4,
            BinaryOperator::BitwiseAnd => 5,
            BinaryOperator::Equal | BinaryOperator::NotEqual => 6,
            BinaryOperator::Less
            | BinaryOperator::LessEqual
            | BinaryOperator::Greater
            | BinaryOperator::GreaterEqual => 7,
            BinaryOperator::ShiftLeft | BinaryOperator::ShiftRight => 8,
            BinaryOperator::Add | BinaryOperator::Subtract => 9,
            BinaryOperator::Multiply | BinaryOperator::Divide | BinaryOperator::Modulo => 10,
        }
    }
}

/// A type as written in a cast, `let` annotation, `sizeof` or signature.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeSpec {
    pub kind: TypeSpecKind,
    pub span: Span,
}

/// The shapes a written type can have.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeSpecKind {
    /// A single- or multi-word name: `uint32`, `int8`, `bool`, `string`, `inet`, `buffer`,
    /// `char`, `void`, `unsigned long`, `uint64_t`, `pid_t` (words joined by one space;
    /// `const`/`volatile` qualifiers are dropped).
    Named(String),
    /// `struct X`, `union X`, `enum X`.
    Tagged {
        keyword: CDefinitionKeyword,
        name: String,
    },
    /// `T *`.
    Pointer(Box<TypeSpec>),
    /// `T[N]` (e.g. `int8[4]`, `string[64]`); `length` is None for `T[]`.
    Array {
        element: Box<TypeSpec>,
        length: Option<u64>,
    },
    /// `typeof(expr)`.
    Typeof(Box<Expr>),
}
