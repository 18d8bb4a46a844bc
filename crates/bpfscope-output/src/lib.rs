//! Events and map snapshots to bpftrace-identical text or JSON lines.
//!
//! - [`printf`]: bpftrace's printf formats, parsed once and applied to decoded record values.
//! - [`events`]: [`events::EventPrinter`] turns ring-buffer records into output lines.
//! - [`maps`]: per-CPU merging, sorting and printing of map snapshots (`print(@m)`, exit).
//! - [`escape`]: control-character escaping for text, always-valid-UTF-8 escaping for JSON.
//! - [`value`]: decoding `ValueType`s from bytes and rendering them.
//!
//! Nothing here panics on short or garbage input: decoding failures are [`OutputError`]s.

pub mod argv;
pub mod escape;
pub mod events;
pub mod maps;
pub mod printf;
mod time_format;
pub mod users;
pub mod value;

pub use events::{EventOutcome, EventPrinter, EventPrinterOptions};
pub use maps::{print_map, print_map_with_style, print_maps_at_exit, MapEntry};
pub use printf::{PrintfFormat, PrintfFormatError};
pub use value::{install_symbolizer, Symbolizer, TextStyle};

/// `-f text` (bpftrace's default) or `-f json` (one JSON object per line).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
}

/// Why a record or a map snapshot could not be printed.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("record too short: {what} needs {needed} bytes, the record has {available}")]
    ShortData {
        what: String,
        needed: usize,
        available: usize,
    },
    #[error("unsupported integer width {0} (expected 1, 2, 4 or 8 bytes)")]
    UnsupportedIntegerWidth(usize),
    #[error("record names action id {action_id}, but the program has only {action_count} actions")]
    UnknownAction { action_id: u64, action_count: usize },
    #[error("printf argument {argument_index} of action {action_id}: {message}")]
    BadArgument {
        action_id: u64,
        argument_index: usize,
        message: String,
    },
    #[error("invalid printf format in action {action_id}: {source}")]
    Format {
        action_id: usize,
        #[source]
        source: PrintfFormatError,
    },
    #[error("map {map}: value of {actual} bytes, expected {expected} for its kind")]
    MapValueSize {
        map: String,
        expected: usize,
        actual: usize,
    },
    #[error("map {map} has no layout, so it cannot be printed")]
    MapWithoutLayout { map: String },
    #[error("writing output: {0}")]
    Write(#[from] std::io::Error),
}

/// `Attaching N probes...`, as bpftrace prints it before tracing starts (JSON: `attached_probes`).
pub fn print_attached_probes(
    probe_count: u64,
    format: OutputFormat,
    out: &mut dyn std::io::Write,
) -> Result<(), OutputError> {
    match format {
        OutputFormat::Text => {
            let noun = if probe_count == 1 { "probe" } else { "probes" };
            writeln!(out, "Attaching {probe_count} {noun}...")?;
        }
        OutputFormat::Json => writeln!(
            out,
            "{{\"type\": \"attached_probes\", \"data\": {{\"probes\": {probe_count}}}}}"
        )?,
    }
    Ok(())
}

/// `Lost N events`, the count of records the kernel could not put into the ring buffer
/// (JSON: `lost_events`).
pub fn print_lost_events(
    lost_count: u64,
    format: OutputFormat,
    out: &mut dyn std::io::Write,
) -> Result<(), OutputError> {
    match format {
        OutputFormat::Text => writeln!(out, "Lost {lost_count} events")?,
        OutputFormat::Json => writeln!(
            out,
            "{{\"type\": \"lost_events\", \"data\": {{\"events\": {lost_count}}}}}"
        )?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attached_probes_and_lost_events_lines() {
        let mut out = Vec::new();
        let results = [
            print_attached_probes(1, OutputFormat::Text, &mut out),
            print_attached_probes(2, OutputFormat::Text, &mut out),
            print_attached_probes(1, OutputFormat::Json, &mut out),
            print_lost_events(7, OutputFormat::Text, &mut out),
            print_lost_events(7, OutputFormat::Json, &mut out),
        ];
        assert!(results.iter().all(Result::is_ok));
        assert_eq!(
            String::from_utf8_lossy(&out),
            "Attaching 1 probe...\nAttaching 2 probes...\n{\"type\": \"attached_probes\", \"data\": {\"probes\": 1}}\n\
             Lost 7 events\n{\"type\": \"lost_events\", \"data\": {\"events\": 7}}\n"
        );
    }
}
