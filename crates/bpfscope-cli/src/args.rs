//! Command-line flags, compatible with bpftrace's where they overlap.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

/// bpfscope: trace the Linux kernel and programs with the bpftrace language, compiled straight to BPF.
#[derive(Debug, Parser)]
#[command(
    name = "bpfscope",
    version,
    about,
    after_help = "EXAMPLES:\n  \
        bpfscope -l 'tracepoint:syscalls:*'       list probes matching a wildcard\n  \
        bpfscope -lv tracepoint:syscalls:sys_enter_execve   show a probe's arguments\n  \
        bpfscope -lv 'struct task_struct'         print a kernel type from BTF\n  \
        bpfscope --info                            what this kernel can trace\n  \
        bpfscope -e 'tracepoint:syscalls:sys_enter_execve { printf(\"%s\\n\", comm); }'"
)]
pub struct Cli {
    /// List probes matching PATTERN (wildcards `*`, `?`, `[...]`; comma-separated patterns).
    #[arg(short = 'l', long = "list")]
    pub list: bool,

    /// Verbose: with -l, also print each probe's arguments and types.
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,

    /// Run this program text.
    #[arg(short = 'e', value_name = "PROGRAM")]
    pub program: Option<String>,

    /// Output format of events, maps and listings.
    #[arg(short = 'f', long = "format", value_enum, default_value = "text")]
    pub format: OutputFormat,

    /// Print what this kernel supports (probe types, BTF, lockdown, tracefs), found by trying.
    #[arg(long = "info")]
    pub info: bool,

    /// Write program output to FILE instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Quiet: do not print "Attaching N probes...".
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,

    /// Run COMMAND, trace while it runs, exit when it exits.
    #[arg(short = 'c', long = "cmd", value_name = "COMMAND")]
    pub command: Option<String>,

    /// Target process id for uprobes, USDT and pid filtering.
    #[arg(short = 'p', long = "pid", value_name = "PID")]
    pub pid: Option<i32>,

    /// Print a compiler stage instead of (or before) running: ast, types, bpf, verifier, all.
    #[arg(
        short = 'd',
        long = "debug",
        value_name = "STAGE",
        value_delimiter = ','
    )]
    pub debug_stages: Vec<String>,

    /// Compile and load the programs, but do not attach or run them.
    #[arg(long = "dry-run")]
    pub dry_run: bool,

    /// Allow unsafe functions (system, signal, override).
    #[arg(long = "unsafe")]
    pub allow_unsafe: bool,

    /// Add `#include FILE` before the program (kernel types come from BTF).
    #[arg(long = "include", value_name = "FILE")]
    pub includes: Vec<String>,

    /// Add a C include directory.
    #[arg(short = 'I', value_name = "DIR")]
    pub include_dirs: Vec<PathBuf>,

    /// A script file to run, or with -l a probe pattern.
    #[arg(value_name = "FILE|PATTERN")]
    pub script_or_pattern: Option<String>,

    /// Positional parameters of the script ($1, $2, ...).
    #[arg(
        value_name = "ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub positional: Vec<String>,
}
