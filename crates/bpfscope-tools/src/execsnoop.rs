//! `execsnoop`: completes the embedded `tools/execsnoop.bt` script from the tool's options.
//!
//! The script does the tracing; this module only writes the parts that depend on options:
//! the filter predicate, the printf statements for the chosen columns, and the lifetime or
//! summary bookkeeping. Nothing here runs anything: the result is program text.

use std::fmt::Write as _;

/// The script, with `//@@NAME@@` lines that [`execsnoop_script`] fills in.
pub const EXECSNOOP_TEMPLATE: &str = include_str!("../tools/execsnoop.bt");

/// Which time column, if any, starts each line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TimeColumn {
    #[default]
    None,
    /// `-T`: wall-clock time HH:MM:SS of the exec.
    WallClock,
    /// `-t`: seconds since the tool started, with milliseconds.
    SinceStart,
}

/// Which execs to report by their result.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExecOutcomeFilter {
    #[default]
    All,
    /// `-x`: only execs that failed.
    FailedOnly,
    /// `--ok`: only execs that succeeded.
    SuccessfulOnly,
}

/// Everything the command line can ask of execsnoop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecsnoopOptions {
    pub time: TimeColumn,
    /// Only execs whose command name (comm) matches this regular expression (unanchored).
    pub command_regex: Option<String>,
    /// Only execs whose joined argv contains this text (looked for in the first
    /// `join()`-sized part of the command line, at the syscall's entry).
    pub argument_contains: Option<String>,
    pub uid: Option<u32>,
    /// Only execs whose parent process (real_parent's tgid) is this one.
    pub parent_pid: Option<u32>,
    /// Only execs in this cgroup (a path under /sys/fs/cgroup, or relative to it).
    pub cgroup_path: Option<String>,
    pub outcome: ExecOutcomeFilter,
    /// One line per program image when it ends (exit or a further exec), with its exit status,
    /// lifetime since exec and CPU time since exec; failed execs are still printed at once.
    pub lifetime: bool,
    /// Add the command names of up to 4 ancestors (parent first).
    pub ancestors: bool,
    /// Aggregate by command instead of printing lines: `Some(0)` prints only at exit,
    /// `Some(n)` also every n seconds (each table then covers the last n seconds).
    pub summary_interval_seconds: Option<u32>,
    /// Print a column header line first (text output).
    pub header: bool,
    /// One JSON record per line (`print` of a record) instead of text columns.
    pub json: bool,
    /// Arguments shown per exec; more are marked as left out.
    pub max_args: u32,
    /// Bytes of arguments captured per exec; more are marked as left out.
    pub max_arg_bytes: u32,
}

impl Default for ExecsnoopOptions {
    fn default() -> ExecsnoopOptions {
        ExecsnoopOptions {
            time: TimeColumn::None,
            command_regex: None,
            argument_contains: None,
            uid: None,
            parent_pid: None,
            cgroup_path: None,
            outcome: ExecOutcomeFilter::All,
            lifetime: false,
            ancestors: false,
            summary_interval_seconds: None,
            header: false,
            json: false,
            max_args: DEFAULT_MAX_ARGS,
            max_arg_bytes: DEFAULT_MAX_ARG_BYTES,
        }
    }
}

/// Arguments shown per exec by default.
pub const DEFAULT_MAX_ARGS: u32 = 1024;
/// Argument bytes captured per exec by default.
pub const DEFAULT_MAX_ARG_BYTES: u32 = 32 * 1024;
/// The language's limits for `argv()` (see the checker): bytes, and strings read from an array.
pub const MAX_ARG_BYTES_LIMIT: u32 = 256 * 1024;
const ARRAY_MAX_ARGS_LIMIT: u32 = 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExecsnoopError {
    #[error("--summary aggregates by command; it does not combine with --lifetime or --ancestors")]
    SummaryExcludesLineOptions,
    #[error("--max-arg-bytes must be from 16 to {MAX_ARG_BYTES_LIMIT} (got {0})")]
    ArgBytesOutOfRange(u32),
    #[error("--max-args must be at least 1")]
    NoArguments,
}

/// One column: its text header and conversion(s) with the script expressions they print,
/// and the same value's JSON member names and expressions.
struct Column {
    header: &'static str,
    conversion: String,
    arguments: Vec<String>,
    json_members: Vec<(&'static str, String)>,
}

impl Column {
    fn new(
        header: &'static str,
        conversion: &str,
        argument: &str,
        json_name: &'static str,
    ) -> Column {
        Column {
            header,
            conversion: conversion.to_string(),
            arguments: vec![argument.to_string()],
            json_members: vec![(json_name, argument.to_string())],
        }
    }

    /// A text-only column (placeholders for values a line does not have).
    fn text_only(header: &'static str, conversion: &str, argument: &str) -> Column {
        Column {
            header,
            conversion: conversion.to_string(),
            arguments: vec![argument.to_string()],
            json_members: Vec::new(),
        }
    }
}

/// Where a line's values come from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LineSource {
    /// At `sched_process_exec`: the new program of a successful exec is running.
    ExecNow,
    /// At the exec syscall's exit, for a failed exec: `$ret`, `$ret_text`, `$argv_ptr`.
    Failed,
    /// An image that ends now (exit or re-exec): its values were stored under `pid` at exec.
    RecordedImage(ImageEnd),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ImageEnd {
    ExitedWithCode,
    KilledBySignal,
    ReplacedByExec,
}

/// Which probe a filter is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ExecPath {
    Succeeded,
    Failed,
}

/// Builds the complete program text for these options.
pub fn execsnoop_script(options: &ExecsnoopOptions) -> Result<String, ExecsnoopError> {
    if options.summary_interval_seconds.is_some() && (options.lifetime || options.ancestors) {
        return Err(ExecsnoopError::SummaryExcludesLineOptions);
    }
    if !(16..=MAX_ARG_BYTES_LIMIT).contains(&options.max_arg_bytes) {
        return Err(ExecsnoopError::ArgBytesOutOfRange(options.max_arg_bytes));
    }
    if options.max_args == 0 {
        return Err(ExecsnoopError::NoArguments);
    }
    let summary = options.summary_interval_seconds.is_some();
    let tracks_images = options.lifetime || summary;

    let mut script = String::new();
    let mut inside_lifetime_block = false;
    for line in EXECSNOOP_TEMPLATE.lines() {
        match line.trim() {
            "//@@BEGIN_LIFETIME@@" => inside_lifetime_block = true,
            "//@@END_LIFETIME@@" => inside_lifetime_block = false,
            _ if inside_lifetime_block && !tracks_images => {}
            "//@@HEADER@@" => {
                if options.header && !summary && !options.json {
                    script.push_str(&header_statement(options));
                }
            }
            "//@@ON_ENTER@@" => script.push_str(&on_enter_statements(options)),
            "//@@EXEC_PRELUDE@@" => script.push_str(&exec_prelude_statements(options)),
            "//@@FAIL_PRELUDE@@" => script.push_str(&fail_prelude_statements(options)),
            "//@@ON_EXEC@@" => script.push_str(&on_exec_statements(options)),
            "//@@ON_FAIL@@" => script.push_str(&on_fail_statements(options)),
            "//@@ON_EXIT@@" => script.push_str(&on_exit_statements(options)),
            "//@@EXTRA_PROBES@@" => script.push_str(&extra_probes(options)),
            "//@@END@@" => script.push_str(&end_statements(options)),
            _ if line.contains("@@FILTER_EXEC@@") => {
                let filter = filter_expression(options, ExecPath::Succeeded);
                script.push_str(&line.replace("@@FILTER_EXEC@@", &filter));
                script.push('\n');
            }
            _ if line.contains("@@FILTER_FAIL@@") => {
                let filter = filter_expression(options, ExecPath::Failed);
                script.push_str(&line.replace("@@FILTER_FAIL@@", &filter));
                script.push('\n');
            }
            _ => {
                script.push_str(line);
                script.push('\n');
            }
        }
    }
    Ok(script)
}

/// The predicate that decides which execs are reported (`1` when there is no filter).
fn filter_expression(options: &ExecsnoopOptions, path: ExecPath) -> String {
    let mut conditions = Vec::new();
    match (options.outcome, path) {
        (ExecOutcomeFilter::FailedOnly, ExecPath::Succeeded)
        | (ExecOutcomeFilter::SuccessfulOnly, ExecPath::Failed) => return "0".to_string(),
        _ => {}
    }
    if let Some(uid) = options.uid {
        conditions.push(format!("uid == {uid}"));
    }
    if let Some(parent_pid) = options.parent_pid {
        conditions.push(format!("$ppid == {parent_pid}"));
    }
    if let Some(pattern) = &options.command_regex {
        conditions.push(format!("regex_match(comm, {})", string_literal(pattern)));
    }
    if let Some(path) = &options.cgroup_path {
        conditions.push(format!("cgroup == cgroupid({})", string_literal(path)));
    }
    if options.argument_contains.is_some() {
        conditions.push("$arg_match".to_string());
    }
    if conditions.is_empty() {
        return "1".to_string();
    }
    conditions.join(" && ")
}

/// A script string literal holding exactly `text`'s bytes: anything but printable ASCII,
/// quotes and backslashes is written as `\xNN`, so user text can never end the literal.
pub fn string_literal(text: &str) -> String {
    let mut literal = String::from("\"");
    for byte in text.bytes() {
        match byte {
            b'"' | b'\\' => {
                literal.push('\\');
                literal.push(byte as char);
            }
            0x20..=0x7e => literal.push(byte as char),
            _ => {
                let _ = write!(literal, "\\x{byte:02x}");
            }
        }
    }
    literal.push('"');
    literal
}

/// The `argv()` call for a line: the new program's memory after a successful exec, the
/// caller's array after a failed one.
fn argv_expression(options: &ExecsnoopOptions, source: LineSource) -> String {
    match source {
        LineSource::ExecNow => format!("argv({}, {})", options.max_args, options.max_arg_bytes),
        LineSource::Failed => format!(
            "argv($argv_ptr, {}, {})",
            options.max_args.min(ARRAY_MAX_ARGS_LIMIT),
            options.max_arg_bytes
        ),
        LineSource::RecordedImage(_) => "@execsnoop_exec_argv[pid]".to_string(),
    }
}

/// The columns of one line, in order, for where its values come from.
fn line_columns(options: &ExecsnoopOptions, source: LineSource) -> Vec<Column> {
    let recorded = matches!(source, LineSource::RecordedImage(_));
    let mut columns = Vec::new();
    match options.time {
        TimeColumn::None => {}
        TimeColumn::WallClock => {
            let timestamp = if recorded {
                "strftime(\"%H:%M:%S\", @execsnoop_exec_ns[pid])"
            } else {
                "strftime(\"%H:%M:%S\", nsecs)"
            };
            columns.push(Column::new("TIME    ", "%-8s", timestamp, "time"));
        }
        TimeColumn::SinceStart => {
            // `elapsed` is now; a recorded image's exec was (nsecs - exec time) earlier.
            let elapsed_at_exec = if recorded {
                "(elapsed - (nsecs - @execsnoop_exec_ns[pid]))"
            } else {
                "elapsed"
            };
            columns.push(Column {
                header: "TIME(s)   ",
                conversion: "%6d.%03d".to_string(),
                arguments: vec![
                    format!("{elapsed_at_exec} / 1000000000"),
                    format!("({elapsed_at_exec} / 1000000) % 1000"),
                ],
                json_members: vec![("elapsed_ms", format!("{elapsed_at_exec} / 1000000"))],
            });
        }
    }
    columns.push(Column::new("PID    ", "%-7d", "pid", "pid"));
    let (ppid, uid, command) = if recorded {
        (
            "@execsnoop_exec_ppid[pid]",
            "@execsnoop_exec_uid[pid]",
            "@execsnoop_exec_comm[pid]",
        )
    } else {
        ("$ppid", "uid", "comm")
    };
    columns.push(Column::new("PPID   ", "%-7d", ppid, "ppid"));
    columns.push(Column::new("UID   ", "%-6d", uid, "uid"));
    columns.push(Column::new(
        "USER    ",
        "%-8s",
        &format!("username({uid})"),
        "user",
    ));
    columns.push(Column::new("COMM            ", "%-16s", command, "comm"));
    let (ret_text, ret, error) = match source {
        LineSource::Failed => ("$ret_text", "$ret", "$ret_text"),
        _ => ("\"0\"", "0", "\"\""),
    };
    columns.push(Column {
        header: "RET    ",
        conversion: "%-7s".to_string(),
        arguments: vec![ret_text.to_string()],
        json_members: vec![("ret", ret.to_string()), ("error", error.to_string())],
    });
    if options.lifetime {
        match source {
            LineSource::ExecNow | LineSource::Failed => {
                columns.push(Column::text_only("EXIT    ", "%-8s", "\"-\""));
                columns.push(Column::text_only("LIFE(ms)   ", "%11s", "\"-\""));
                columns.push(Column::text_only("CPU(ms)   ", "%10s", "\"-\""));
            }
            LineSource::RecordedImage(end) => {
                let (text, conversion, how, exit_code, signal) = match end {
                    ImageEnd::ExitedWithCode => {
                        ("$exit_code", "%-8d", "\"exit\"", "$exit_code", "\"\"")
                    }
                    ImageEnd::KilledBySignal => (
                        "@execsnoop_signal[$exit_signal]",
                        "%-8s",
                        "\"signal\"",
                        "-1",
                        "@execsnoop_signal[$exit_signal]",
                    ),
                    ImageEnd::ReplacedByExec => ("\"exec\"", "%-8s", "\"exec\"", "-1", "\"\""),
                };
                columns.push(Column {
                    header: "EXIT    ",
                    conversion: conversion.to_string(),
                    arguments: vec![text.to_string()],
                    json_members: vec![
                        ("end", how.to_string()),
                        ("exit_code", exit_code.to_string()),
                        ("signal", signal.to_string()),
                    ],
                });
                columns.push(Column {
                    header: "LIFE(ms)   ",
                    conversion: "%7d.%03d".to_string(),
                    arguments: vec![
                        "$lifetime_us / 1000".to_string(),
                        "$lifetime_us % 1000".to_string(),
                    ],
                    json_members: vec![("lifetime_us", "$lifetime_us".to_string())],
                });
                columns.push(Column {
                    header: "CPU(ms)   ",
                    conversion: "%6d.%03d".to_string(),
                    arguments: vec!["$cpu_us / 1000".to_string(), "$cpu_us % 1000".to_string()],
                    json_members: vec![("cpu_us", "$cpu_us".to_string())],
                });
            }
        }
    }
    if options.ancestors {
        // Read now through real_parent; an orphan's chain is its new parent's (init).
        let chain: Vec<String> = (1..=4)
            .map(|depth| format!("$task{}->comm", "->real_parent".repeat(depth)))
            .collect();
        columns.push(Column {
            header: "ANCESTORS",
            conversion: "%s<%s<%s<%s".to_string(),
            arguments: chain.clone(),
            json_members: vec![("ancestors", format!("({})", chain.join(", ")))],
        });
    }
    // Last: the record is sent only as far as the arguments go.
    columns.push(Column::new(
        "ARGS",
        "%s",
        &argv_expression(options, source),
        "argv",
    ));
    columns
}

/// The statement printing one line: `printf` of the columns separated by one space, or in
/// JSON mode `print` of a record with one member per value.
fn line_statement(options: &ExecsnoopOptions, columns: &[Column], indent: &str) -> String {
    if options.json {
        let members: Vec<String> = columns
            .iter()
            .flat_map(|column| &column.json_members)
            .map(|(name, value)| format!("{name} = {value}"))
            .collect();
        return format!("{indent}print(({}));\n", members.join(", "));
    }
    let format: Vec<&str> = columns
        .iter()
        .map(|column| column.conversion.as_str())
        .collect();
    let mut statement = format!("{indent}printf(\"{}\\n\"", format.join(" "));
    for argument in columns.iter().flat_map(|column| &column.arguments) {
        statement.push_str(", ");
        statement.push_str(argument);
    }
    statement.push_str(");\n");
    statement
}

fn header_statement(options: &ExecsnoopOptions) -> String {
    let headers: Vec<&str> = line_columns(options, LineSource::ExecNow)
        .iter()
        .map(|column| column.header)
        .collect();
    format!(
        "  printf(\"%s\\n\", {});\n",
        string_literal(headers.join(" ").trim_end())
    )
}

/// At the syscall's entry: what `--arg` looks for, while the caller's argv is readable.
fn on_enter_statements(options: &ExecsnoopOptions) -> String {
    match &options.argument_contains {
        Some(text) => format!(
            "  @execsnoop_arg_match[tid] = strcontains(join(args.argv), {});\n",
            string_literal(text)
        ),
        None => String::new(),
    }
}

/// At a successful exec, before the filters: the image it replaces ends here, and the
/// `--arg` match made at the entry is taken (under the exec'ing thread's old id).
fn exec_prelude_statements(options: &ExecsnoopOptions) -> String {
    let mut statements = String::new();
    if options.argument_contains.is_some() {
        statements.push_str(
            "  $arg_match = @execsnoop_arg_match[args->old_pid];\n  delete(@execsnoop_arg_match, args->old_pid);\n",
        );
    }
    if options.lifetime || options.summary_interval_seconds.is_some() {
        statements.push_str("  if (has_key(@execsnoop_exec_ns, pid)) {\n");
        statements.push_str(&report_image_statements(
            options,
            ImageEnd::ReplacedByExec,
            "    ",
        ));
        statements.push_str("  }\n");
    }
    statements
}

fn fail_prelude_statements(options: &ExecsnoopOptions) -> String {
    if options.argument_contains.is_some() {
        return "  $arg_match = @execsnoop_arg_match[tid];\n  delete(@execsnoop_arg_match, tid);\n"
            .to_string();
    }
    String::new()
}

/// What happens for a successful exec that passed the filters.
fn on_exec_statements(options: &ExecsnoopOptions) -> String {
    let indent = "    ";
    if options.summary_interval_seconds.is_some() {
        let mut statements = format!("{indent}@execs[comm] = count();\n");
        statements.push_str(&record_image_statements(options, indent));
        return statements;
    }
    if options.lifetime {
        // Printed when the image ends, with what it cost.
        return record_image_statements(options, indent);
    }
    line_statement(options, &line_columns(options, LineSource::ExecNow), indent)
}

/// What happens for a failed exec that passed the filters.
fn on_fail_statements(options: &ExecsnoopOptions) -> String {
    let indent = "    ";
    if options.summary_interval_seconds.is_some() {
        return format!("{indent}@execs[comm] = count();\n{indent}@failures[comm] = count();\n");
    }
    line_statement(options, &line_columns(options, LineSource::Failed), indent)
}

/// Stores what the line (or the summary) needs when this image ends.
fn record_image_statements(options: &ExecsnoopOptions, indent: &str) -> String {
    let mut statements = String::new();
    let mut store = |map: &str, value: &str| {
        let _ = writeln!(statements, "{indent}@{map}[pid] = {value};");
    };
    store("execsnoop_exec_ns", "nsecs");
    store(
        "execsnoop_exec_cpu_ns",
        "$task->se.sum_exec_runtime + $task->signal->sum_sched_runtime",
    );
    store("execsnoop_exec_comm", "comm");
    if options.summary_interval_seconds.is_some() {
        store("execsnoop_exec_parent", "$task->real_parent->comm");
    } else {
        store(
            "execsnoop_exec_argv",
            &argv_expression(options, LineSource::ExecNow),
        );
        store("execsnoop_exec_ppid", "$ppid");
        store("execsnoop_exec_uid", "uid");
    }
    statements
}

/// The CPU time and lifetime of the image recorded under `pid`, as `$cpu_us`/`$lifetime_us`.
fn image_cost_statements(indent: &str) -> String {
    // sum_exec_runtime is the scheduler's nanosecond count (what getrusage() scales utime and
    // stime to); the signal struct adds the process's threads that already ended.
    format!(
        "{indent}$cpu_us = ($task->se.sum_exec_runtime + $task->signal->sum_sched_runtime - @execsnoop_exec_cpu_ns[pid]) / 1000;\n\
         {indent}$lifetime_us = (nsecs - @execsnoop_exec_ns[pid]) / 1000;\n"
    )
}

/// Reports an image that ends now (lines or summary) and forgets it.
fn report_image_statements(options: &ExecsnoopOptions, end: ImageEnd, indent: &str) -> String {
    let mut statements = image_cost_statements(indent);
    if options.summary_interval_seconds.is_some() {
        // After a re-exec the task's comm is already the new program's: the stored names
        // are the ended image's.
        let (command, parent) = match end {
            ImageEnd::ReplacedByExec => {
                ("@execsnoop_exec_comm[pid]", "@execsnoop_exec_parent[pid]")
            }
            ImageEnd::ExitedWithCode | ImageEnd::KilledBySignal => {
                ("comm", "$task->real_parent->comm")
            }
        };
        let _ = write!(
            statements,
            "{indent}@lifetime_avg_us[{command}] = avg($lifetime_us);\n\
             {indent}@cpu_avg_us[{command}] = avg($cpu_us);\n\
             {indent}@cpu_total_us_by_parent[{parent}] = sum($cpu_us);\n\
             {indent}@cpu_total_us[{command}] = sum($cpu_us);\n"
        );
    } else {
        statements.push_str(&line_statement(
            options,
            &line_columns(options, LineSource::RecordedImage(end)),
            indent,
        ));
    }
    for map in image_maps(options) {
        let _ = writeln!(statements, "{indent}delete(@{map}, pid);");
    }
    statements
}

/// The maps holding a recorded image, by pid.
fn image_maps(options: &ExecsnoopOptions) -> Vec<&'static str> {
    let mut maps = vec![
        "execsnoop_exec_ns",
        "execsnoop_exec_cpu_ns",
        "execsnoop_exec_comm",
    ];
    if options.summary_interval_seconds.is_some() {
        maps.push("execsnoop_exec_parent");
    } else {
        maps.extend([
            "execsnoop_exec_argv",
            "execsnoop_exec_ppid",
            "execsnoop_exec_uid",
        ]);
    }
    maps
}

/// At the exit of a process whose exec was recorded.
fn on_exit_statements(options: &ExecsnoopOptions) -> String {
    if options.summary_interval_seconds.is_some() {
        return report_image_statements(options, ImageEnd::ExitedWithCode, "  ");
    }
    let mut statements = String::from("  if ($exit_signal != 0) {\n");
    statements.push_str(&report_image_statements(
        options,
        ImageEnd::KilledBySignal,
        "    ",
    ));
    statements.push_str("  } else {\n");
    statements.push_str(&report_image_statements(
        options,
        ImageEnd::ExitedWithCode,
        "    ",
    ));
    statements.push_str("  }\n");
    statements
}

/// Signal names for the EXIT column (Linux x86 numbering).
const SIGNAL_NAMES: &[&str] = &[
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
];

const SUMMARY_MAPS: &[&str] = &[
    "execs",
    "failures",
    "lifetime_avg_us",
    "cpu_avg_us",
    "cpu_total_us_by_parent",
    "cpu_total_us",
];

fn extra_probes(options: &ExecsnoopOptions) -> String {
    let mut probes = String::new();
    if options.lifetime {
        // Several BEGIN probes, as for the errno table: each stored string takes stack.
        for (chunk_index, chunk) in SIGNAL_NAMES.chunks(16).enumerate() {
            probes.push_str("\nBEGIN\n{\n");
            for (index, name) in chunk.iter().enumerate() {
                let number = chunk_index * 16 + index + 1;
                let _ = writeln!(probes, "  @execsnoop_signal[{number}] = \"{name}\";");
            }
            probes.push_str("}\n");
        }
    }
    if let Some(seconds) = options
        .summary_interval_seconds
        .filter(|seconds| *seconds > 0)
    {
        // Each table covers the last interval; the one printed at exit, the time since.
        let _ = writeln!(probes, "\ninterval:s:{seconds}\n{{");
        probes.push_str("  time(\"\\n%H:%M:%S\\n\");\n");
        for map in SUMMARY_MAPS {
            let _ = writeln!(probes, "  print(@{map});");
        }
        for map in SUMMARY_MAPS {
            let _ = writeln!(probes, "  clear(@{map});");
        }
        probes.push_str("}\n");
    }
    probes
}

fn end_statements(options: &ExecsnoopOptions) -> String {
    let mut maps = Vec::new();
    if options.lifetime || options.summary_interval_seconds.is_some() {
        maps.extend(image_maps(options));
    }
    if options.lifetime {
        maps.push("execsnoop_signal");
    }
    if options.argument_contains.is_some() {
        maps.push("execsnoop_arg_match");
    }
    maps.iter()
        .map(|map| format!("  clear(@{map});\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parses(script: &str) {
        let (_, diagnostics) = bpfscope_syntax::parse(script);
        let errors: Vec<_> = diagnostics.iter().filter(|d| d.is_error()).collect();
        assert!(errors.is_empty(), "{errors:?}\n{script}");
    }

    #[test]
    fn default_script_prints_one_line_per_exec_without_lifetime_probes() {
        let script = execsnoop_script(&ExecsnoopOptions::default()).unwrap();
        parses(&script);
        assert!(script.contains("if (1) {"));
        assert!(script.contains(
            "printf(\"%-7d %-7d %-6d %-8s %-16s %-7s %s\\n\", pid, $ppid, uid, username(uid), comm, \"0\", argv(1024, 32768));"
        ));
        assert!(script.contains(
            "printf(\"%-7d %-7d %-6d %-8s %-16s %-7s %s\\n\", pid, $ppid, uid, username(uid), comm, $ret_text, argv($argv_ptr, 1024, 32768));"
        ));
        assert!(!script.contains("sched_process_exit"));
        assert!(!script.contains("@@"));
    }

    #[test]
    fn filters_become_one_predicate() {
        let options = ExecsnoopOptions {
            command_regex: Some("^ba\"sh".to_string()),
            argument_contains: Some("x\ny".to_string()),
            uid: Some(1000),
            parent_pid: Some(42),
            cgroup_path: Some("/sys/fs/cgroup/user.slice".to_string()),
            outcome: ExecOutcomeFilter::FailedOnly,
            ..ExecsnoopOptions::default()
        };
        let script = execsnoop_script(&options).unwrap();
        parses(&script);
        assert!(script.contains(
            "if (uid == 1000 && $ppid == 42 && regex_match(comm, \"^ba\\\"sh\") && cgroup == cgroupid(\"/sys/fs/cgroup/user.slice\") && $arg_match) {"
        ));
        // Failed only: successful execs are never reported.
        assert!(script.contains("if (0) {"));
        assert!(script.contains("strcontains(join(args.argv), \"x\\x0ay\")"));
        assert!(script.contains("clear(@execsnoop_arg_match);"));
    }

    #[test]
    fn lifetime_and_time_columns_parse_and_print_exit_lines() {
        for time in [
            TimeColumn::None,
            TimeColumn::WallClock,
            TimeColumn::SinceStart,
        ] {
            let options = ExecsnoopOptions {
                time,
                lifetime: true,
                header: true,
                ..ExecsnoopOptions::default()
            };
            let script = execsnoop_script(&options).unwrap();
            parses(&script);
            assert!(script.contains("tracepoint:sched:sched_process_exit"));
            assert!(script.contains("@execsnoop_signal[$exit_signal]"));
            assert!(script.contains("\"exec\""));
            assert!(script.contains("clear(@execsnoop_exec_argv);"));
        }
    }

    #[test]
    fn summary_aggregates_and_prints_every_interval() {
        let options = ExecsnoopOptions {
            summary_interval_seconds: Some(5),
            ..ExecsnoopOptions::default()
        };
        let script = execsnoop_script(&options).unwrap();
        parses(&script);
        assert!(script.contains("interval:s:5"));
        assert!(script.contains("@cpu_total_us[comm] = sum($cpu_us);"));
        assert!(!script.contains("printf(\"%-7d"));
        let at_exit_only = execsnoop_script(&ExecsnoopOptions {
            summary_interval_seconds: Some(0),
            ..ExecsnoopOptions::default()
        })
        .unwrap();
        assert!(!at_exit_only.contains("interval:"));
    }

    #[test]
    fn summary_refuses_line_options() {
        let options = ExecsnoopOptions {
            summary_interval_seconds: Some(1),
            lifetime: true,
            ..ExecsnoopOptions::default()
        };
        assert_eq!(
            execsnoop_script(&options),
            Err(ExecsnoopError::SummaryExcludesLineOptions)
        );
    }

    #[test]
    fn json_mode_prints_records_with_argv_last() {
        let options = ExecsnoopOptions {
            json: true,
            time: TimeColumn::WallClock,
            ancestors: true,
            max_args: 10,
            max_arg_bytes: 100,
            ..ExecsnoopOptions::default()
        };
        let script = execsnoop_script(&options).unwrap();
        parses(&script);
        assert!(script.contains(
            "print((time = strftime(\"%H:%M:%S\", nsecs), pid = pid, ppid = $ppid, uid = uid, user = username(uid), comm = comm, ret = 0, error = \"\", ancestors = ($task->real_parent->comm, $task->real_parent->real_parent->comm, $task->real_parent->real_parent->real_parent->comm, $task->real_parent->real_parent->real_parent->real_parent->comm), argv = argv(10, 100)));"
        ));
        assert!(!script.contains("printf(\"%-7d"));
    }

    #[test]
    fn argument_limits_are_checked() {
        for (max_args, max_arg_bytes, expected) in [
            (0, 100, Err(ExecsnoopError::NoArguments)),
            (1, 8, Err(ExecsnoopError::ArgBytesOutOfRange(8))),
            (1, 1 << 20, Err(ExecsnoopError::ArgBytesOutOfRange(1 << 20))),
        ] {
            let options = ExecsnoopOptions {
                max_args,
                max_arg_bytes,
                ..ExecsnoopOptions::default()
            };
            assert_eq!(execsnoop_script(&options).map(|_| ()), expected);
        }
    }

    #[test]
    fn string_literals_escape_everything_unprintable() {
        assert_eq!(string_literal("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(string_literal("é\u{1b}"), "\"\\xc3\\xa9\\x1b\"");
    }
}
