//! Diagnostics as data, rendered in bpftrace's `stdin:1:5-12: ERROR: message` format.
//!
//! The format users know from bpftrace: a location line, the source line, a `~` marker under
//! the span, then optional `HINT:` lines. When the span crosses lines, bpftrace prints only
//! `stdin:2-3: ERROR: message` without source or marker; so do we. Columns are 1-based byte
//! columns, the end column is exclusive. Tabs in the echoed line become 4 spaces (as bpftrace
//! does) and the marker is shifted to match.

use crate::ast::Span;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    /// The word bpftrace prints: `ERROR` or `WARNING`.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Error => "ERROR",
            Severity::Warning => "WARNING",
        }
    }
}

/// A located message about the program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Where the problem is; None for messages about the program as a whole.
    pub span: Option<Span>,
    pub message: String,
    /// Extra lines printed verbatim after the marker (e.g. `Did you mean ...?`).
    pub notes: Vec<String>,
    /// Advice, each printed as `HINT: ...`.
    pub hints: Vec<String>,
}

impl Diagnostic {
    /// An error at `span`.
    pub fn error(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            span: Some(span),
            message: message.into(),
            notes: Vec::new(),
            hints: Vec::new(),
        }
    }

    /// A warning at `span`.
    pub fn warning(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(span, message)
        }
    }

    /// An error without a location.
    pub fn error_without_location(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            span: None,
            ..Diagnostic::error(Span::default(), message)
        }
    }

    /// Adds a `HINT:` line.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hints.push(hint.into());
        self
    }

    /// Adds a verbatim note line.
    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Width of a tab in the echoed source line; bpftrace expands tabs to 4 spaces.
const TAB_WIDTH: usize = 4;

/// Line number (1-based) and byte offset of the start of that line, for `offset`.
fn line_of_offset(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let bytes_before = source.as_bytes().get(..offset).unwrap_or(&[]);
    let line_number = 1 + bytes_before.iter().filter(|byte| **byte == b'\n').count();
    let line_start = bytes_before
        .iter()
        .rposition(|byte| *byte == b'\n')
        .map_or(0, |newline| newline + 1);
    (line_number, line_start)
}

/// The text of the line starting at `line_start`, without its newline.
fn line_text(source: &[u8], line_start: usize) -> &[u8] {
    let rest = source.get(line_start..).unwrap_or(&[]);
    let line_length = rest
        .iter()
        .position(|byte| *byte == b'\n')
        .unwrap_or(rest.len());
    rest.get(..line_length).unwrap_or(rest)
}

/// Display width of bytes in the echoed line: tabs count [`TAB_WIDTH`], other bytes 1.
fn display_width(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .map(|byte| if *byte == b'\t' { TAB_WIDTH } else { 1 })
        .sum()
}

/// Renders one diagnostic; `file_name` is `stdin` for `-e` programs, else the script path.
/// The result ends with a newline.
pub fn render(diagnostic: &Diagnostic, file_name: &str, source: &str) -> String {
    let mut output = String::new();
    let label = diagnostic.severity.label();
    match diagnostic.span {
        None => {
            output.push_str(&format!("{label}: {}\n", diagnostic.message));
        }
        Some(span) => {
            let start = span.start.min(source.len());
            let end = span.end.clamp(start, source.len());
            let (start_line, start_line_offset) = line_of_offset(source, start);
            // A span ending right after a newline still ends on the line of its last byte.
            let last_byte_offset = if end > start { end - 1 } else { start };
            let (end_line, _) = line_of_offset(source, last_byte_offset);
            if end_line != start_line {
                output.push_str(&format!(
                    "{file_name}:{start_line}-{end_line}: {label}: {}\n",
                    diagnostic.message
                ));
            } else {
                let bytes = source.as_bytes();
                let line = line_text(bytes, start_line_offset);
                let start_column = start - start_line_offset + 1;
                // An empty span (e.g. end of input) is shown as one column wide.
                let end_column = (end - start_line_offset + 1).max(start_column + 1);
                output.push_str(&format!(
                    "{file_name}:{start_line}:{start_column}-{end_column}: {label}: {}\n",
                    diagnostic.message
                ));
                let echoed_line = String::from_utf8_lossy(line).replace('\t', "    ");
                output.push_str(&echoed_line);
                output.push('\n');
                let before_span = line.get(..start - start_line_offset).unwrap_or(line);
                let inside_span = line
                    .get(start - start_line_offset..end - start_line_offset)
                    .unwrap_or(&[]);
                output.push_str(&" ".repeat(display_width(before_span)));
                output.push_str(&"~".repeat(display_width(inside_span).max(1)));
                output.push('\n');
            }
        }
    }
    for note in &diagnostic.notes {
        output.push_str(note);
        output.push('\n');
    }
    for hint in &diagnostic.hints {
        output.push_str(&format!("HINT: {hint}\n"));
    }
    output
}

/// Renders several diagnostics one after the other, in the given order.
pub fn render_all(diagnostics: &[Diagnostic], file_name: &str, source: &str) -> String {
    diagnostics
        .iter()
        .map(|diagnostic| render(diagnostic, file_name, source))
        .collect()
}

/// Edit distance between two strings, by chars: insertions, deletions, substitutions and
/// transpositions of adjacent chars each cost 1 (optimal string alignment), because swapped
/// letters (`pdi` for `pid`) are the most common typo.
pub fn edit_distance(left: &str, right: &str) -> usize {
    let left_chars: Vec<char> = left.chars().collect();
    let right_chars: Vec<char> = right.chars().collect();
    let columns = right_chars.len() + 1;
    let mut table = vec![0usize; (left_chars.len() + 1) * columns];
    let cell = |table: &Vec<usize>, row: usize, column: usize| -> usize {
        table
            .get(row * columns + column)
            .copied()
            .unwrap_or(usize::MAX / 2)
    };
    for row in 0..=left_chars.len() {
        for column in 0..=right_chars.len() {
            let value = if row == 0 {
                column
            } else if column == 0 {
                row
            } else {
                let left_char = left_chars.get(row - 1);
                let right_char = right_chars.get(column - 1);
                let substitution_cost = usize::from(left_char != right_char);
                let mut best = (cell(&table, row - 1, column) + 1)
                    .min(cell(&table, row, column - 1) + 1)
                    .min(cell(&table, row - 1, column - 1) + substitution_cost);
                let is_transposition = row > 1
                    && column > 1
                    && left_char == right_chars.get(column - 2)
                    && left_chars.get(row - 2) == right_char;
                if is_transposition {
                    best = best.min(cell(&table, row - 2, column - 2) + 1);
                }
                best
            };
            if let Some(slot) = table.get_mut(row * columns + column) {
                *slot = value;
            }
        }
    }
    cell(&table, left_chars.len(), right_chars.len())
}

/// The candidate closest to `name`, if close enough to be a plausible typo.
///
/// "Close enough" is an edit distance of at most a third of the name's length (at least 1,
/// at most 3), so `comn` suggests `comm` but `x` suggests nothing useful like `pid`. Ties go
/// to the first candidate. An exact match is not a suggestion and returns None.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let name_length = name.chars().count();
    let allowed_distance = (name_length / 3).clamp(1, 3);
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        if candidate == name {
            // The name is known: nothing to suggest.
            return None;
        }
        let distance = edit_distance(name, candidate);
        // A one-letter name is within distance 1 of every other one-letter name: no advice.
        if distance > allowed_distance || distance >= name_length.max(candidate.len()) {
            continue;
        }
        if best.is_none_or(|(best_distance, _)| distance < best_distance) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_single_line_error_like_bpftrace() {
        let source = "tracepoint:syscalls:sys_enter_execve,tracepoint:syscalls:sys_enter_execveat {@execs[tid] = join(args->argv);}";
        let start = source.find("join").unwrap_or(0);
        let diagnostic = Diagnostic::error(
            Span::new(start, start + "join(args->argv)".len()),
            "join() should not be used in an assignment or as a map key",
        );
        let expected = format!(
            "stdin:1:92-108: ERROR: join() should not be used in an assignment or as a map key\n{source}\n{}{}\n",
            " ".repeat(91),
            "~".repeat(16)
        );
        assert_eq!(render(&diagnostic, "stdin", source), expected);
    }

    #[test]
    fn renders_multi_line_span_without_source() {
        let source = "BEGIN { @x[1] = \njoin(\n\"a\"); }";
        let start = source.find("join").unwrap_or(0);
        let end = source.find(')').unwrap_or(0) + 1;
        let diagnostic = Diagnostic::error(Span::new(start, end), "bad");
        assert_eq!(
            render(&diagnostic, "stdin", source),
            "stdin:2-3: ERROR: bad\n"
        );
    }

    #[test]
    fn expands_tabs_in_echo_and_marker() {
        let source = "BEGIN\t{ \t$x = \"\u{e9}\" + 1; }";
        let start = source.find('"').unwrap_or(0);
        let end = source.find(';').unwrap_or(0);
        let diagnostic = Diagnostic::warning(Span::new(start, end), "mismatch")
            .with_hint("cast it")
            .with_note("note line");
        let expected = "stdin:1:15-23: WARNING: mismatch\nBEGIN    {     $x = \"\u{e9}\" + 1; }\n                    ~~~~~~~~\nnote line\nHINT: cast it\n";
        assert_eq!(render(&diagnostic, "stdin", source), expected);
    }

    #[test]
    fn renders_empty_span_at_end_of_input_as_one_column() {
        let source = "BEGIN {";
        let diagnostic = Diagnostic::error(Span::new(7, 7), "unexpected end of file");
        assert_eq!(
            render(&diagnostic, "x.bt", source),
            "x.bt:1:8-9: ERROR: unexpected end of file\nBEGIN {\n       ~\n"
        );
    }

    #[test]
    fn out_of_range_span_does_not_panic() {
        let diagnostic = Diagnostic::error(Span::new(100, 50), "weird");
        assert_eq!(
            render(&diagnostic, "stdin", "ab"),
            "stdin:1:3-4: ERROR: weird\nab\n  ~\n"
        );
        let no_location = Diagnostic::error_without_location("whole program");
        assert_eq!(
            render(&no_location, "stdin", "ab"),
            "ERROR: whole program\n"
        );
    }

    #[test]
    fn suggests_close_names_only() {
        let builtins = ["pid", "tid", "comm", "nsecs", "curtask", "retval"];
        assert_eq!(did_you_mean("comn", builtins), Some("comm"));
        assert_eq!(did_you_mean("curtsak", builtins), Some("curtask"));
        assert_eq!(did_you_mean("nsec", builtins), Some("nsecs"));
        assert_eq!(did_you_mean("pdi", builtins), Some("pid"));
        assert_eq!(did_you_mean("zzzzzz", builtins), None);
        assert_eq!(did_you_mean("pid", builtins), None);
        assert_eq!(did_you_mean("x", ["y"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
