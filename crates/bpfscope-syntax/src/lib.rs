//! bpftrace-language lexer, parser, AST and diagnostics; no IO.
//!
//! Entry point: [`parse`] turns source text into a [`Program`] plus a list of
//! [`Diagnostic`]s. It never fails and never panics: on a syntax error it reports, skips to
//! the next statement or probe, and keeps going, so one run shows several errors.

pub mod ast;
pub mod diagnostic;
pub mod lexer;
pub mod parser;
pub mod printer;

pub use ast::*;
pub use diagnostic::{did_you_mean, render, render_all, Diagnostic, Severity};
pub use parser::parse;
pub use printer::{print_expression, print_program, type_spec_to_string};
