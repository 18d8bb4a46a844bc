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
        bpfscope -e 'tracepoint:syscalls:sys_enter_execve { printf(\"%s\\n\", comm); }'\n\n\
        TOOLS (bpfscope TOOL --help for options):\n  \
        execsnoop    one line per exec with PID, PPID, UID, user, RET and the full argv;\n               \
        --lifetime adds exit status, lifetime and CPU time; --summary ranks commands by CPU"
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

/// `bpfscope execsnoop`: trace every exec, with what each new program cost.
#[derive(Debug, Parser)]
#[command(
    name = "bpfscope execsnoop",
    bin_name = "bpfscope execsnoop",
    about = "Trace every exec (execve, execveat, 32-bit callers, programs the kernel starts): \
             one line per exec with PID, PPID, UID and user, COMM, return value (errno name) and \
             the full argv, read from the new program's memory; with --lifetime, each \
             program's exit status, lifetime and CPU time; with --summary, commands ranked by \
             CPU time.",
    after_help = "EXAMPLES:\n  \
        bpfscope execsnoop -T                 wall-clock time on each line\n  \
        bpfscope execsnoop -x -n '^make$'     failed execs of commands named exactly 'make'\n  \
        bpfscope execsnoop --lifetime         exit status, lifetime and CPU time per program\n  \
        bpfscope execsnoop --summary 5        per-command table every 5 s and at exit"
)]
pub struct ExecsnoopArgs {
    /// Print wall-clock time (HH:MM:SS) first.
    #[arg(short = 'T', long = "time", conflicts_with = "timestamp")]
    pub time: bool,

    /// Print seconds since the tool started first.
    #[arg(short = 't', long = "timestamp")]
    pub timestamp: bool,

    /// Only failed execs.
    #[arg(short = 'x', long = "fails", conflicts_with = "successful_only")]
    pub failed_only: bool,

    /// Only successful execs.
    #[arg(long = "ok")]
    pub successful_only: bool,

    /// Only commands whose name (comm) matches REGEX (anywhere; anchor with ^ and $).
    #[arg(short = 'n', long = "name", value_name = "REGEX")]
    pub name: Option<String>,

    /// Only execs whose argv (joined with spaces) contains TEXT.
    #[arg(long = "arg", value_name = "TEXT")]
    pub argument: Option<String>,

    /// Only this user (a user id, or a name from /etc/passwd).
    #[arg(short = 'u', long = "uid", value_name = "USER")]
    pub uid: Option<String>,

    /// Only children of this process.
    #[arg(short = 'P', long = "ppid", value_name = "PID")]
    pub ppid: Option<u32>,

    /// Only execs in this cgroup (v2 path, e.g. /sys/fs/cgroup/system.slice/cron.service).
    #[arg(long = "cgroup", value_name = "PATH")]
    pub cgroup: Option<String>,

    /// Show at most N arguments per exec; more are marked "[argv truncated: K more arguments]".
    #[arg(long = "max-args", value_name = "N", default_value_t = bpfscope_tools::execsnoop::DEFAULT_MAX_ARGS)]
    pub max_args: u32,

    /// Capture at most N bytes of arguments per exec (16 to 262144); more are marked
    /// "[argv truncated: K more bytes]".
    #[arg(long = "max-arg-bytes", value_name = "N", default_value_t = bpfscope_tools::execsnoop::DEFAULT_MAX_ARG_BYTES)]
    pub max_arg_bytes: u32,

    /// Print each program when it ends, with EXIT (code or signal), LIFE (since exec) and CPU
    /// (user+system since exec); failed execs are printed at once.
    #[arg(short = 'L', long = "lifetime")]
    pub lifetime: bool,

    /// Add the command names of 4 ancestors (parent<grandparent<...).
    #[arg(short = 'A', long = "ancestors")]
    pub ancestors: bool,

    /// Aggregate by command: execs, failures, average lifetime, average and total CPU time;
    /// printed every SECONDS (when given) and at exit, sorted by value.
    #[arg(
        short = 's',
        long = "summary",
        value_name = "SECONDS",
        num_args = 0..=1,
        default_missing_value = "0",
        conflicts_with_all = ["lifetime", "ancestors"]
    )]
    pub summary: Option<u32>,

    /// Output format.
    #[arg(short = 'f', long = "format", value_enum, default_value = "text")]
    pub format: OutputFormat,

    /// Write output to FILE instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Quiet: no header and no "Attaching N probes...".
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,

    /// Compile and load, but do not attach or run.
    #[arg(long = "dry-run")]
    pub dry_run: bool,

    /// Print the generated script and exit.
    #[arg(long = "print-script")]
    pub print_script: bool,

    /// Print a compiler stage too: ast, types, bpf, verifier, all.
    #[arg(
        short = 'd',
        long = "debug",
        value_name = "STAGE",
        value_delimiter = ','
    )]
    pub debug_stages: Vec<String>,
}
