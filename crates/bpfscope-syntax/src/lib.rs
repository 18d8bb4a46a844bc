//! bpftrace-language lexer, parser, AST and diagnostics; no IO.
