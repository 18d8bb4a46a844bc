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
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecsnoopOptions {
    pub time: TimeColumn,
    /// Only execs whose command name (comm) contains this text.
    pub command_contains: Option<String>,
    /// Only execs whose joined argv contains this text.
    pub argument_contains: Option<String>,
    pub uid: Option<u32>,
    /// Only execs whose parent process (real_parent's tgid) is this one.
    pub parent_pid: Option<u32>,
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
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExecsnoopError {
    #[error("--summary aggregates by command; it does not combine with --lifetime or --ancestors")]
    SummaryExcludesLineOptions,
}

/// One printf column: its header, its conversion(s) and the script expressions they print.
struct Column {
    header: &'static str,
    conversion: String,
    arguments: Vec<String>,
}

impl Column {
    fn new(header: &'static str, conversion: &str, arguments: &[&str]) -> Column {
        Column {
            header,
            conversion: conversion.to_string(),
            arguments: arguments
                .iter()
                .map(|argument| argument.to_string())
                .collect(),
        }
    }
}

/// Where a line's values come from: the exec happening now, or an image recorded at its exec.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LineSource {
    /// At the exec syscall's exit: `nsecs`, `$ppid`, `comm`, `$ret_text`, `$argv` are current.
    ExecNow,
    /// An image that ends now (exit or re-exec): its values were stored under `pid` at exec.
    RecordedImage(ImageEnd),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ImageEnd {
    ExitedWithCode,
    KilledBySignal,
    ReplacedByExec,
}

/// Builds the complete program text for these options.
pub fn execsnoop_script(options: &ExecsnoopOptions) -> Result<String, ExecsnoopError> {
    if options.summary_interval_seconds.is_some() && (options.lifetime || options.ancestors) {
        return Err(ExecsnoopError::SummaryExcludesLineOptions);
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
                if options.header && !summary {
                    script.push_str(&header_statement(options));
                }
            }
            "//@@ON_EXEC@@" => script.push_str(&on_exec_statements(options)),
            "//@@ON_EXIT@@" => script.push_str(&on_exit_statements(options)),
            "//@@EXTRA_PROBES@@" => script.push_str(&extra_probes(options)),
            "//@@END@@" => script.push_str(&end_statements(options)),
            _ if line.contains("if (@@FILTER@@)") => {
                // An image replaced by a new exec ends here, whatever the new exec's filters say.
                if tracks_images {
                    script.push_str(&on_reexec_statements(options));
                }
                script.push_str(&line.replace("@@FILTER@@", &filter_expression(options)?));
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
fn filter_expression(options: &ExecsnoopOptions) -> Result<String, ExecsnoopError> {
    let mut conditions = Vec::new();
    match options.outcome {
        ExecOutcomeFilter::All => {}
        ExecOutcomeFilter::FailedOnly => conditions.push("$ret < 0".to_string()),
        ExecOutcomeFilter::SuccessfulOnly => conditions.push("$ret == 0".to_string()),
    }
    if let Some(uid) = options.uid {
        conditions.push(format!("uid == {uid}"));
    }
    if let Some(parent_pid) = options.parent_pid {
        conditions.push(format!("$ppid == {parent_pid}"));
    }
    if let Some(text) = &options.command_contains {
        conditions.push(format!("strcontains(comm, {})", string_literal(text)));
    }
    if let Some(text) = &options.argument_contains {
        conditions.push(format!("strcontains($argv, {})", string_literal(text)));
    }
    if conditions.is_empty() {
        return Ok("1".to_string());
    }
    Ok(conditions.join(" && "))
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
            columns.push(Column::new("TIME    ", "%-8s", &[timestamp]));
        }
        TimeColumn::SinceStart => {
            // `elapsed` is now; a recorded image's exec was (nsecs - exec time) earlier.
            let elapsed_at_exec = if recorded {
                "(elapsed - (nsecs - @execsnoop_exec_ns[pid]))"
            } else {
                "elapsed"
            };
            let seconds = format!("{elapsed_at_exec} / 1000000000");
            let milliseconds = format!("({elapsed_at_exec} / 1000000) % 1000");
            columns.push(Column {
                header: "TIME(s)   ",
                conversion: "%6d.%03d".to_string(),
                arguments: vec![seconds, milliseconds],
            });
        }
    }
    columns.push(Column::new("PID    ", "%-7d", &["pid"]));
    if recorded {
        columns.push(Column::new(
            "PPID   ",
            "%-7d",
            &["@execsnoop_exec_ppid[pid]"],
        ));
        columns.push(Column::new("UID   ", "%-6d", &["@execsnoop_exec_uid[pid]"]));
        columns.push(Column::new(
            "COMM            ",
            "%-16s",
            &["@execsnoop_exec_comm[pid]"],
        ));
        columns.push(Column::new("RET    ", "%-7s", &["\"0\""]));
    } else {
        columns.push(Column::new("PPID   ", "%-7d", &["$ppid"]));
        columns.push(Column::new("UID   ", "%-6d", &["uid"]));
        columns.push(Column::new("COMM            ", "%-16s", &["comm"]));
        columns.push(Column::new("RET    ", "%-7s", &["$ret_text"]));
    }
    if options.lifetime {
        match source {
            LineSource::ExecNow => {
                columns.push(Column::new("EXIT    ", "%-8s", &["\"-\""]));
                columns.push(Column::new("LIFE(ms)   ", "%11s", &["\"-\""]));
                columns.push(Column::new("CPU(ms)   ", "%10s", &["\"-\""]));
            }
            LineSource::RecordedImage(end) => {
                match end {
                    ImageEnd::ExitedWithCode => {
                        columns.push(Column::new("EXIT    ", "%-8d", &["$exit_code"]))
                    }
                    ImageEnd::KilledBySignal => columns.push(Column::new(
                        "EXIT    ",
                        "%-8s",
                        &["@execsnoop_signal[$exit_signal]"],
                    )),
                    ImageEnd::ReplacedByExec => {
                        columns.push(Column::new("EXIT    ", "%-8s", &["\"exec\""]))
                    }
                }
                columns.push(Column::new(
                    "LIFE(ms)   ",
                    "%7d.%03d",
                    &["$lifetime_us / 1000", "$lifetime_us % 1000"],
                ));
                columns.push(Column::new(
                    "CPU(ms)   ",
                    "%6d.%03d",
                    &["$cpu_us / 1000", "$cpu_us % 1000"],
                ));
            }
        }
    }
    if options.ancestors {
        // Read now through real_parent; an orphan's chain is its new parent's (init).
        columns.push(Column::new(
            "ANCESTORS",
            "%s<%s<%s<%s",
            &[
                "$task->real_parent->comm",
                "$task->real_parent->real_parent->comm",
                "$task->real_parent->real_parent->real_parent->comm",
                "$task->real_parent->real_parent->real_parent->real_parent->comm",
            ],
        ));
    }
    let argv = if recorded {
        "@execsnoop_exec_argv[pid]"
    } else {
        "$argv"
    };
    columns.push(Column::new("ARGS", "%s", &[argv]));
    columns
}

/// `printf("...\n", ...);` printing these columns separated by one space.
fn printf_statement(columns: &[Column], indent: &str) -> String {
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

/// What happens for an exec that passed the filters.
fn on_exec_statements(options: &ExecsnoopOptions) -> String {
    let indent = "    ";
    let mut statements = String::new();
    if options.summary_interval_seconds.is_some() {
        statements.push_str(&format!("{indent}@execs[comm] = count();\n"));
        statements.push_str(&format!(
            "{indent}if ($ret < 0) {{\n{indent}  @failures[comm] = count();\n{indent}}} else {{\n"
        ));
        statements.push_str(&record_image_statements(options, &format!("{indent}  ")));
        statements.push_str(&format!("{indent}}}\n"));
        return statements;
    }
    if options.lifetime {
        // A successful exec is printed when its image ends, with what it cost.
        statements.push_str(&format!("{indent}if ($ret == 0) {{\n"));
        statements.push_str(&record_image_statements(options, &format!("{indent}  ")));
        statements.push_str(&format!("{indent}}} else {{\n"));
        statements.push_str(&printf_statement(
            &line_columns(options, LineSource::ExecNow),
            &format!("{indent}  "),
        ));
        statements.push_str(&format!("{indent}}}\n"));
        return statements;
    }
    statements.push_str(&printf_statement(
        &line_columns(options, LineSource::ExecNow),
        indent,
    ));
    statements
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
        store("execsnoop_exec_argv", "$argv");
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
        // At exit the task's own comm is the key. A string read back from a map value makes
        // a different key for the same name (the bytes after its NUL are not zeroed: a
        // compiler bug, reported), so the stored names serve only after a re-exec, where the
        // task's comm is already the new program's.
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
        statements.push_str(&printf_statement(
            &line_columns(options, LineSource::RecordedImage(end)),
            indent,
        ));
    }
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
    for map in maps {
        let _ = writeln!(statements, "{indent}delete(@{map}, pid);");
    }
    statements
}

/// At a successful exec: the image it replaces, if recorded, ends here.
fn on_reexec_statements(options: &ExecsnoopOptions) -> String {
    let mut statements = String::from("  if ($ret == 0 && has_key(@execsnoop_exec_ns, pid)) {\n");
    statements.push_str(&report_image_statements(
        options,
        ImageEnd::ReplacedByExec,
        "    ",
    ));
    statements.push_str("  }\n");
    statements
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
        maps.extend([
            "execsnoop_exec_ns",
            "execsnoop_exec_cpu_ns",
            "execsnoop_exec_comm",
        ]);
    }
    if options.lifetime {
        maps.extend([
            "execsnoop_exec_argv",
            "execsnoop_exec_ppid",
            "execsnoop_exec_uid",
            "execsnoop_signal",
        ]);
    }
    if options.summary_interval_seconds.is_some() {
        maps.push("execsnoop_exec_parent");
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
            "printf(\"%-7d %-7d %-6d %-16s %-7s %s\\n\", pid, $ppid, uid, comm, $ret_text, $argv);"
        ));
        assert!(!script.contains("sched_process_exit"));
        assert!(!script.contains("@@"));
    }

    #[test]
    fn filters_become_one_predicate() {
        let options = ExecsnoopOptions {
            command_contains: Some("ba\"sh".to_string()),
            argument_contains: Some("x\ny".to_string()),
            uid: Some(1000),
            parent_pid: Some(42),
            outcome: ExecOutcomeFilter::FailedOnly,
            ..ExecsnoopOptions::default()
        };
        let script = execsnoop_script(&options).unwrap();
        parses(&script);
        assert!(script.contains(
            "if ($ret < 0 && uid == 1000 && $ppid == 42 && strcontains(comm, \"ba\\\"sh\") && strcontains($argv, \"x\\x0ay\")) {"
        ));
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
    fn string_literals_escape_everything_unprintable() {
        assert_eq!(string_literal("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(string_literal("é\u{1b}"), "\"\\xc3\\xa9\\x1b\"");
    }
}
