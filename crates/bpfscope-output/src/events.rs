//! Ring-buffer records to output: `printf`, `join`, `time`, `cat`, `print(value)` and control actions.
//!
//! Every record starts with a little-endian `u64` action id indexing `CompiledProgram::actions`;
//! field offsets are from the record's start. Text output is bpftrace 0.17's; JSON output is
//! bpftrace's NDJSON (`{"type": "printf", "data": "..."}` ...).

use std::io::{Read, Write};

use bpfscope_bpf::{Action, Field};

use crate::escape::push_json_string;
use crate::printf::PrintfFormat;
use crate::time_format::format_local_now;
use crate::value::{
    decode_value, push_traced_text, push_value_json, push_value_text, read_unsigned, until_nul,
    DecodedValue, TextStyle,
};
use crate::{OutputError, OutputFormat};

/// bpftrace's `time()` format when the script gives none.
pub const DEFAULT_TIME_FORMAT: &str = "%H:%M:%S\n";

/// bpftrace's default `max_cat_bytes`: `cat()` prints at most this much of a file.
pub const DEFAULT_CAT_MAX_BYTES: usize = 10_240;

/// Printed after the last `join()` item when the record says items were left out or cut.
pub const JOIN_TRUNCATION_MARKER: &str = "...";

/// Choices that change how events print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventPrinterOptions {
    /// Text output: replace control characters and invalid UTF-8 in traced strings by `\xNN`
    /// (bpftrace 0.17 prints them raw). Has no effect on JSON, whose escaping always applies.
    pub escape_control: bool,
    /// `cat()` prints at most this many bytes of a file.
    pub cat_max_bytes: usize,
}

impl Default for EventPrinterOptions {
    fn default() -> Self {
        EventPrinterOptions {
            escape_control: true,
            cat_max_bytes: DEFAULT_CAT_MAX_BYTES,
        }
    }
}

/// What the caller must do after a record was printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventOutcome {
    Continue,
    /// `exit()`: stop tracing, run END, print the maps.
    Exit,
    /// `print(@map [, top [, div]])`: snapshot map `CompiledProgram::maps[map_index]` and print it
    /// with [`crate::print_map`], passing `top` and `div` on.
    PrintMap {
        map_index: usize,
        top: Option<usize>,
        div: Option<u64>,
    },
    /// `clear(@map)` (`zero == false`) or `zero(@map)` (`zero == true`) of `CompiledProgram::maps[index]`.
    ClearMap(usize, bool),
    /// `system()`: the caller runs this command with `sh -c` and prints what it writes.
    RunCommand(String),
    /// The record printed nothing because of a problem the user should see on stderr
    /// (for example a `cat()` of a missing file); tracing goes on.
    Warning(String),
}

#[derive(Clone, Debug)]
enum PreparedAction {
    System {
        format: PrintfFormat,
        args: Vec<Field>,
    },
    Printf {
        format: PrintfFormat,
        args: Vec<Field>,
    },
    Join {
        separator: String,
        count_offset: u32,
        items_offset: u32,
        item_capacity: u32,
        max_items: u32,
        truncated_offset: u32,
    },
    Time {
        format: String,
    },
    Cat {
        format: PrintfFormat,
        args: Vec<Field>,
    },
    PrintValue {
        value: Field,
    },
    PrintMap {
        map_index: usize,
        top: u64,
        div: u64,
    },
    ClearMap {
        map_index: usize,
        zero: bool,
    },
    Exit,
}

/// Formats records for one compiled program; printf formats are parsed once, here.
#[derive(Clone, Debug)]
pub struct EventPrinter {
    actions: Vec<PreparedAction>,
    format: OutputFormat,
    options: EventPrinterOptions,
    scratch: Vec<u8>,
}

impl EventPrinter {
    /// Prepares `actions` with default options; fails if a printf or cat format does not parse.
    pub fn new(actions: &[Action], format: OutputFormat) -> Result<EventPrinter, OutputError> {
        EventPrinter::with_options(actions, format, EventPrinterOptions::default())
    }

    pub fn with_options(
        actions: &[Action],
        format: OutputFormat,
        options: EventPrinterOptions,
    ) -> Result<EventPrinter, OutputError> {
        let mut prepared = Vec::with_capacity(actions.len());
        for (action_id, action) in actions.iter().enumerate() {
            let parse = |text: &str| {
                PrintfFormat::parse(text)
                    .map_err(|source| OutputError::Format { action_id, source })
            };
            prepared.push(match action {
                Action::Printf { format, args } => PreparedAction::Printf {
                    format: parse(format)?,
                    args: args.clone(),
                },
                Action::Join {
                    separator,
                    count_offset,
                    items_offset,
                    item_capacity,
                    max_items,
                    truncated_offset,
                } => PreparedAction::Join {
                    separator: separator.clone(),
                    count_offset: *count_offset,
                    items_offset: *items_offset,
                    item_capacity: *item_capacity,
                    max_items: *max_items,
                    truncated_offset: *truncated_offset,
                },
                Action::Time { format } => PreparedAction::Time {
                    format: format.clone(),
                },
                Action::Cat { format, args } => PreparedAction::Cat {
                    format: parse(format)?,
                    args: args.clone(),
                },
                Action::System { format, args } => PreparedAction::System {
                    format: parse(format)?,
                    args: args.clone(),
                },
                Action::PrintValue { value } => PreparedAction::PrintValue {
                    value: value.clone(),
                },
                Action::PrintMap {
                    map_index,
                    top,
                    div,
                } => PreparedAction::PrintMap {
                    map_index: *map_index,
                    top: *top,
                    div: *div,
                },
                Action::ClearMap { map_index, zero } => PreparedAction::ClearMap {
                    map_index: *map_index,
                    zero: *zero,
                },
                Action::Exit => PreparedAction::Exit,
            });
        }
        Ok(EventPrinter {
            actions: prepared,
            format,
            options,
            scratch: Vec::new(),
        })
    }

    fn text_style(&self) -> TextStyle {
        TextStyle {
            escape_control: self.options.escape_control && self.format == OutputFormat::Text,
        }
    }

    /// Prints one ring-buffer record. Never panics: short or garbage records are errors.
    pub fn print_record(
        &mut self,
        record: &[u8],
        out: &mut dyn Write,
    ) -> Result<EventOutcome, OutputError> {
        let action_id = read_unsigned(record, 0, 8)?;
        let action_count = self.actions.len();
        let action = usize::try_from(action_id)
            .ok()
            .and_then(|index| self.actions.get(index))
            .ok_or(OutputError::UnknownAction {
                action_id,
                action_count,
            })?;
        let style = self.text_style();
        let format = self.format;
        let mut text = std::mem::take(&mut self.scratch);
        text.clear();
        let outcome = match action {
            PreparedAction::Printf {
                format: printf_format,
                args,
            } => {
                let values = decode_fields(action_id, args, record)?;
                printf_format.format(&values, style, &mut text);
                write_event(format, "printf", &text, out)?;
                EventOutcome::Continue
            }
            PreparedAction::Join {
                separator,
                count_offset,
                items_offset,
                item_capacity,
                max_items,
                truncated_offset,
            } => {
                // An item capacity of 0 would let a hostile count loop billions of times over empty items.
                let count = if *item_capacity == 0 {
                    0
                } else {
                    read_unsigned(record, *count_offset as usize, 4)?.min(u64::from(*max_items))
                };
                for item_index in 0..count {
                    let item_offset = u64::from(*items_offset)
                        .saturating_add(item_index.saturating_mul(u64::from(*item_capacity)));
                    let item_offset = usize::try_from(item_offset).unwrap_or(usize::MAX);
                    let item = record
                        .get(item_offset..item_offset.saturating_add(*item_capacity as usize))
                        .ok_or(OutputError::ShortData {
                            what: "join item".to_string(),
                            needed: item_offset.saturating_add(*item_capacity as usize),
                            available: record.len(),
                        })?;
                    if item_index > 0 {
                        text.extend_from_slice(separator.as_bytes());
                    }
                    push_traced_text(until_nul(item), style, &mut text);
                }
                if read_unsigned(record, *truncated_offset as usize, 1)? != 0 {
                    if count > 0 {
                        text.extend_from_slice(separator.as_bytes());
                    }
                    text.extend_from_slice(JOIN_TRUNCATION_MARKER.as_bytes());
                }
                if format == OutputFormat::Text {
                    text.push(b'\n');
                }
                write_event(format, "join", &text, out)?;
                EventOutcome::Continue
            }
            PreparedAction::Time {
                format: time_format,
            } => {
                text.extend_from_slice(&format_local_now(time_format));
                write_event(format, "time", &text, out)?;
                EventOutcome::Continue
            }
            PreparedAction::System {
                format: command_format,
                args,
            } => {
                let values = decode_fields(action_id, args, record)?;
                let mut command = Vec::new();
                command_format.format(
                    &values,
                    TextStyle {
                        escape_control: false,
                    },
                    &mut command,
                );
                EventOutcome::RunCommand(String::from_utf8_lossy(&command).into_owned())
            }
            PreparedAction::Cat {
                format: path_format,
                args,
            } => {
                let values = decode_fields(action_id, args, record)?;
                let mut path = Vec::new();
                path_format.format(
                    &values,
                    TextStyle {
                        escape_control: false,
                    },
                    &mut path,
                );
                let path_text = String::from_utf8_lossy(&path).into_owned();
                match read_file_prefix(&path_text, self.options.cat_max_bytes) {
                    Ok(contents) => {
                        text.extend_from_slice(&contents);
                        write_event(format, "cat", &text, out)?;
                        EventOutcome::Continue
                    }
                    Err(error) => {
                        EventOutcome::Warning(format!("failed to open file '{path_text}': {error}"))
                    }
                }
            }
            PreparedAction::PrintValue { value } => {
                let decoded = decode_value(&value.ty, record, value.offset as usize)?;
                match format {
                    OutputFormat::Text => {
                        push_value_text(&decoded, style, &mut text);
                        text.push(b'\n');
                        out.write_all(&text)?;
                    }
                    OutputFormat::Json => {
                        let mut line = String::from("{\"type\": \"value\", \"data\": ");
                        push_value_json(&decoded, &mut line);
                        line.push_str("}\n");
                        out.write_all(line.as_bytes())?;
                    }
                }
                EventOutcome::Continue
            }
            PreparedAction::PrintMap {
                map_index,
                top,
                div,
            } => EventOutcome::PrintMap {
                map_index: *map_index,
                top: (*top > 0).then(|| usize::try_from(*top).unwrap_or(usize::MAX)),
                div: (*div > 0).then_some(*div),
            },
            PreparedAction::ClearMap { map_index, zero } => {
                EventOutcome::ClearMap(*map_index, *zero)
            }
            PreparedAction::Exit => EventOutcome::Exit,
        };
        self.scratch = text;
        Ok(outcome)
    }
}

fn decode_fields<'a>(
    action_id: u64,
    fields: &[Field],
    record: &'a [u8],
) -> Result<Vec<DecodedValue<'a>>, OutputError> {
    fields
        .iter()
        .enumerate()
        .map(|(argument_index, field)| {
            decode_value(&field.ty, record, field.offset as usize).map_err(|error| {
                OutputError::BadArgument {
                    action_id,
                    argument_index,
                    message: error.to_string(),
                }
            })
        })
        .collect()
}

/// Writes one event: raw bytes in text mode, `{"type": TYPE, "data": "..."}` in JSON mode.
fn write_event(
    format: OutputFormat,
    json_type: &str,
    text: &[u8],
    out: &mut dyn Write,
) -> Result<(), OutputError> {
    match format {
        OutputFormat::Text => out.write_all(text)?,
        OutputFormat::Json => {
            let mut line = format!("{{\"type\": \"{json_type}\", \"data\": ");
            push_json_string(text, &mut line);
            line.push_str("}\n");
            out.write_all(line.as_bytes())?;
        }
    }
    Ok(())
}

fn read_file_prefix(path: &str, max_bytes: usize) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let mut contents = Vec::new();
    file.take(max_bytes as u64).read_to_end(&mut contents)?;
    Ok(contents)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfscope_bpf::ValueType;

    fn record(action_id: u64, payload: &[u8]) -> Vec<u8> {
        let mut bytes = action_id.to_le_bytes().to_vec();
        bytes.extend_from_slice(payload);
        bytes
    }

    fn printed(printer: &mut EventPrinter, record: &[u8]) -> (String, Option<EventOutcome>) {
        let mut out = Vec::new();
        let outcome = printer.print_record(record, &mut out).ok();
        (String::from_utf8_lossy(&out).into_owned(), outcome)
    }

    fn str_field(offset: u32, capacity: u32) -> Field {
        Field {
            offset,
            ty: ValueType::Str { capacity },
        }
    }

    fn int_field(offset: u32) -> Field {
        Field {
            offset,
            ty: ValueType::Int {
                bytes: 8,
                signed: true,
            },
        }
    }

    /// The execsnoop one-liner of issue 3: `printf("%-6d %-8s", pid, comm); join(args->argv);`.
    fn execsnoop_actions() -> Vec<Action> {
        vec![
            Action::Printf {
                format: "%-6d %-8s".to_string(),
                args: vec![int_field(8), str_field(16, 16)],
            },
            Action::Join {
                separator: " ".to_string(),
                count_offset: 8,
                items_offset: 16,
                item_capacity: 8,
                max_items: 4,
                truncated_offset: 12,
            },
            Action::Exit,
        ]
    }

    fn printf_record(pid: i64, comm: &[u8]) -> Vec<u8> {
        let mut payload = pid.to_le_bytes().to_vec();
        let mut comm_field = comm.to_vec();
        comm_field.resize(16, 0);
        payload.extend_from_slice(&comm_field);
        record(0, &payload)
    }

    fn join_record(items: &[&[u8]], truncated: bool) -> Vec<u8> {
        let mut payload = (items.len() as u32).to_le_bytes().to_vec();
        payload.extend_from_slice(&[u8::from(truncated), 0, 0, 0]);
        for slot in 0..4 {
            let mut item = items
                .get(slot)
                .map(|item| item.to_vec())
                .unwrap_or_default();
            item.resize(8, 0);
            payload.extend_from_slice(&item);
        }
        record(1, &payload)
    }

    #[test]
    fn execsnoop_text_line_matches_bpftrace() {
        let mut printer =
            EventPrinter::new(&execsnoop_actions(), OutputFormat::Text).expect("formats parse");
        let (first, outcome) = printed(&mut printer, &printf_record(4242, b"bash"));
        assert_eq!(outcome, Some(EventOutcome::Continue));
        let (second, _) = printed(&mut printer, &join_record(&[b"ls", b"-l", b"/tmp"], false));
        assert_eq!(format!("{first}{second}"), "4242   bash    ls -l /tmp\n");
        let (exit_text, exit_outcome) = printed(&mut printer, &record(2, &[]));
        assert_eq!(
            (exit_text.as_str(), exit_outcome),
            ("", Some(EventOutcome::Exit))
        );
    }

    #[test]
    fn join_json_and_truncation_marker() {
        let mut printer =
            EventPrinter::new(&execsnoop_actions(), OutputFormat::Json).expect("formats parse");
        let (json, _) = printed(&mut printer, &join_record(&[b"sh", b"-c", b"a\"b"], false));
        assert_eq!(json, "{\"type\": \"join\", \"data\": \"sh -c a\\\"b\"}\n");
        let (truncated, _) = printed(&mut printer, &join_record(&[b"a", b"b", b"c", b"d"], true));
        assert_eq!(
            truncated,
            "{\"type\": \"join\", \"data\": \"a b c d ...\"}\n"
        );
        let (printf_json, _) = printed(&mut printer, &printf_record(1, b"x\x1by"));
        assert_eq!(
            printf_json,
            "{\"type\": \"printf\", \"data\": \"1      x\\u001by     \"}\n"
        );
    }

    #[test]
    fn text_escapes_control_characters_from_traced_strings_only() {
        let actions = vec![Action::Printf {
            format: "%s|\n".to_string(),
            args: vec![str_field(8, 16)],
        }];
        let mut printer = EventPrinter::new(&actions, OutputFormat::Text).expect("format parses");
        let (text, _) = printed(&mut printer, &record(0, b"a\x1b[31mb\n\xff\0\0\0\0\0\0\0"));
        assert_eq!(text, "a\\x1b[31mb\\x0a\\xff|\n");
        let raw_options = EventPrinterOptions {
            escape_control: false,
            ..EventPrinterOptions::default()
        };
        let mut raw_printer = EventPrinter::with_options(&actions, OutputFormat::Text, raw_options)
            .expect("format parses");
        let mut out = Vec::new();
        let _ = raw_printer.print_record(&record(0, b"a\x1bb\0\0\0\0\0\0\0\0\0\0\0\0\0"), &mut out);
        assert_eq!(out, b"a\x1bb|\n");
    }

    #[test]
    fn join_escapes_items_in_text() {
        let mut printer =
            EventPrinter::new(&execsnoop_actions(), OutputFormat::Text).expect("formats parse");
        let (text, _) = printed(&mut printer, &join_record(&[b"esc\x1bx", b"\xff"], false));
        assert_eq!(text, "esc\\x1bx \\xff\n");
    }

    #[test]
    fn print_value_time_and_control_actions() {
        let actions = vec![
            Action::PrintValue {
                value: Field {
                    offset: 8,
                    ty: ValueType::Tuple(vec![
                        (
                            0,
                            ValueType::Int {
                                bytes: 8,
                                signed: true,
                            },
                        ),
                        (8, ValueType::Str { capacity: 8 }),
                    ]),
                },
            },
            Action::Time {
                format: "[%%]\n".to_string(),
            },
            Action::PrintMap {
                map_index: 3,
                top: 2,
                div: 0,
            },
            Action::ClearMap {
                map_index: 2,
                zero: true,
            },
        ];
        let mut payload = 1i64.to_le_bytes().to_vec();
        payload.extend_from_slice(b"two\0\0\0\0\0");
        let mut text_printer = EventPrinter::new(&actions, OutputFormat::Text).expect("no formats");
        assert_eq!(
            printed(&mut text_printer, &record(0, &payload)).0,
            "(1, two)\n"
        );
        assert_eq!(printed(&mut text_printer, &record(1, &[])).0, "[%]\n");
        assert_eq!(
            printed(&mut text_printer, &record(2, &[])).1,
            Some(EventOutcome::PrintMap {
                map_index: 3,
                top: Some(2),
                div: None
            })
        );
        assert_eq!(
            printed(&mut text_printer, &record(3, &[])).1,
            Some(EventOutcome::ClearMap(2, true))
        );
        let mut json_printer = EventPrinter::new(&actions, OutputFormat::Json).expect("no formats");
        assert_eq!(
            printed(&mut json_printer, &record(0, &payload)).0,
            "{\"type\": \"value\", \"data\": [1,\"two\"]}\n"
        );
        assert_eq!(
            printed(&mut json_printer, &record(1, &[])).0,
            "{\"type\": \"time\", \"data\": \"[%]\\n\"}\n"
        );
    }

    #[test]
    fn cat_prints_file_prefix_or_warns() {
        let directory =
            std::env::temp_dir().join(format!("bpfscope-output-cat-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&directory);
        let path = directory.join("catme");
        let _ = std::fs::write(&path, b"line1\nline2\n");
        let actions = vec![Action::Cat {
            format: path.to_string_lossy().into_owned(),
            args: vec![],
        }];
        let mut json_printer =
            EventPrinter::new(&actions, OutputFormat::Json).expect("format parses");
        assert_eq!(
            printed(&mut json_printer, &record(0, &[])).0,
            "{\"type\": \"cat\", \"data\": \"line1\\nline2\\n\"}\n"
        );
        let options = EventPrinterOptions {
            cat_max_bytes: 3,
            ..EventPrinterOptions::default()
        };
        let mut short_printer = EventPrinter::with_options(&actions, OutputFormat::Text, options)
            .expect("format parses");
        assert_eq!(printed(&mut short_printer, &record(0, &[])).0, "lin");
        let missing = vec![Action::Cat {
            format: "/nonexistent/%d".to_string(),
            args: vec![int_field(8)],
        }];
        let mut missing_printer =
            EventPrinter::new(&missing, OutputFormat::Text).expect("format parses");
        let (text, outcome) = printed(&mut missing_printer, &record(0, &5i64.to_le_bytes()));
        assert_eq!(text, "");
        assert!(
            matches!(outcome, Some(EventOutcome::Warning(message)) if message.contains("/nonexistent/5"))
        );
        let _ = std::fs::remove_dir_all(&directory);
    }

    #[test]
    fn short_and_garbage_records_are_errors_not_panics() {
        let mut printer =
            EventPrinter::new(&execsnoop_actions(), OutputFormat::Text).expect("formats parse");
        let full_printf = printf_record(1, b"comm");
        let full_join = join_record(&[b"a", b"b"], false);
        for cut in 0..full_printf.len() {
            let mut out = Vec::new();
            assert!(printer
                .print_record(full_printf.get(..cut).unwrap_or_default(), &mut out)
                .is_err());
        }
        for cut in 0..full_join.len() {
            let mut out = Vec::new();
            let _ = printer.print_record(full_join.get(..cut).unwrap_or_default(), &mut out);
        }
        let mut out = Vec::new();
        assert!(matches!(
            printer.print_record(&record(99, &[]), &mut out),
            Err(OutputError::UnknownAction { .. })
        ));
        assert!(printer
            .print_record(&record(u64::MAX, &[0xff; 64]), &mut out)
            .is_err());
        // A count far beyond max_items and a huge item capacity must not over-read.
        let hostile = vec![Action::Join {
            separator: ",".to_string(),
            count_offset: 8,
            items_offset: u32::MAX - 2,
            item_capacity: u32::MAX,
            max_items: u32::MAX,
            truncated_offset: 8,
        }];
        let mut hostile_printer =
            EventPrinter::new(&hostile, OutputFormat::Text).expect("no formats");
        assert!(hostile_printer
            .print_record(&record(0, &[0xff; 16]), &mut out)
            .is_err());
    }

    #[test]
    fn bad_format_is_reported_at_construction() {
        let actions = vec![Action::Printf {
            format: "%f".to_string(),
            args: vec![int_field(8)],
        }];
        assert!(matches!(
            EventPrinter::new(&actions, OutputFormat::Text),
            Err(OutputError::Format { action_id: 0, .. })
        ));
    }
}
