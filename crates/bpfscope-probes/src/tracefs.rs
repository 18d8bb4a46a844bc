//! Tracepoints from tracefs: `available_events`, per-event `format` files, and their `-l/-lv` entries.

use std::borrow::Cow;

use crate::{KernelFs, ProbeArg, ProbeEntry, ProbeError, Provider};

/// Where tracefs may be mounted, in the order they are tried.
const TRACEFS_CANDIDATE_ROOTS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// One `field:` line of a tracepoint `format` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatField {
    /// The C type exactly as `bpftrace -lv` prints it before the name, e.g. `const char *const *`,
    /// `__data_loc char[]`, or `char` for `char comm[16]` (the `[16]` is in `array_len`).
    pub type_text: String,
    /// The field name without any `[N]` suffix.
    pub name: String,
    /// `Some(N)` for `NAME[N]`; `Some(0)` for a flexible `NAME[]`; `None` when not an array or
    /// when the length is not a plain number (then `is_array` still says it is an array).
    pub array_len: Option<u32>,
    /// Whether the declaration has a `[...]` suffix after the name.
    pub is_array: bool,
    pub offset: u32,
    pub size: u32,
    pub signed: bool,
    /// `__data_loc TYPE[] NAME`: a 32-bit (offset | length << 16) locator of data after the record.
    pub is_data_loc: bool,
    /// `__rel_loc TYPE[] NAME`: like `__data_loc`, with the offset relative to the field's end.
    pub is_rel_loc: bool,
    /// The text between `field:` and `;`, verbatim: what `bpftrace -lv` prints after four spaces.
    pub declaration: String,
}

/// A parsed tracepoint `format` file.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TracepointFormat {
    /// The event id (`ID:` line), used with `perf_event_open(PERF_TYPE_TRACEPOINT)`.
    pub id: Option<u32>,
    /// Every field, including the leading `common_*` ones.
    pub fields: Vec<FormatField>,
    /// How many leading entries of `fields` are the common header (everything before the first
    /// empty line, which is also what bpftrace skips when it prints `-lv` arguments).
    pub common_field_count: usize,
}

impl TracepointFormat {
    /// The event's own fields, without the common header.
    pub fn event_fields(&self) -> &[FormatField] {
        self.fields.get(self.common_field_count..).unwrap_or(&[])
    }

    /// The field called `name`, common ones included.
    pub fn field(&self, name: &str) -> Option<&FormatField> {
        self.fields.iter().find(|field| field.name == name)
    }

    /// The size of the record as the kernel lays it out: the end of the furthest field.
    pub fn record_size(&self) -> u32 {
        self.fields
            .iter()
            .map(|field| field.offset.saturating_add(field.size))
            .max()
            .unwrap_or(0)
    }
}

/// The tracefs root that has `available_events`, or `None` when tracefs is not mounted.
pub fn locate(fs: &KernelFs) -> Option<&'static str> {
    TRACEFS_CANDIDATE_ROOTS
        .into_iter()
        .find(|root| fs.exists(&format!("{root}/available_events")))
}

/// Parses `available_events` (`category:event` per line) into `(category, event)` pairs, in file
/// order. Lines without a `:` or with an empty part are skipped.
pub fn parse_available_events(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let (category, event) = line.trim().split_once(':')?;
            let (category, event) = (category.trim(), event.trim());
            if category.is_empty() || event.is_empty() {
                return None;
            }
            Some((category.to_string(), event.to_string()))
        })
        .collect()
}

/// Parses a tracepoint `format` file.
///
/// Lines other than `ID:` and `field:` ones (name, `format:`, `print fmt:`) are ignored; a field
/// line without a readable `offset` or `size` is an error, since the record layout would be wrong.
pub fn parse_format(text: &str) -> Result<TracepointFormat, ProbeError> {
    let mut format = TracepointFormat::default();
    let mut common_field_count = 0;
    format.id = visit_format(text, |field, before_first_empty_line| {
        // Fields before the first empty line are the header; with no empty line at all, every
        // field is (and bpftrace prints no arguments).
        if before_first_empty_line {
            common_field_count += 1;
        }
        format.fields.push(field.to_owned_field());
    })?;
    format.common_field_count = common_field_count;
    Ok(format)
}

/// One `field:` line, borrowing from the format text.
struct FieldView<'a> {
    declaration: &'a str,
    type_text: Cow<'a, str>,
    name: &'a str,
    is_array: bool,
    array_len: Option<u32>,
    offset: u32,
    size: u32,
    signed: bool,
}

impl FieldView<'_> {
    fn to_owned_field(&self) -> FormatField {
        FormatField {
            is_data_loc: self.type_text.starts_with("__data_loc"),
            is_rel_loc: self.type_text.starts_with("__rel_loc"),
            type_text: self.type_text.to_string(),
            name: self.name.to_string(),
            array_len: self.array_len,
            is_array: self.is_array,
            offset: self.offset,
            size: self.size,
            signed: self.signed,
            declaration: self.declaration.to_string(),
        }
    }

    /// The `-lv` argument; see [`field_to_probe_arg`].
    fn to_probe_arg(&self) -> ProbeArg {
        let declaration = self.declaration.trim_end();
        let array_suffix = match declaration.rfind('[') {
            Some(position) if self.is_array => declaration.get(position..).unwrap_or(""),
            _ => "",
        };
        let mut ty = String::with_capacity(self.type_text.len() + array_suffix.len());
        ty.push_str(&self.type_text);
        ty.push_str(array_suffix);
        let mut arg = ProbeArg {
            ty,
            name: self.name.to_string(),
            offset: Some(self.offset),
            size: Some(self.size),
            signed: Some(self.signed),
        };
        if !pieces_spell(&arg_text_pieces(&arg), self.declaration) {
            arg.ty = self.declaration.to_string();
            arg.name = String::new();
        }
        arg
    }
}

/// Walks a format file, calling `on_field(field, before_first_empty_line)` for each `field:`
/// line; returns the `ID:`. bpftrace skips everything up to the first empty line (the header and
/// the common fields) when it prints arguments.
fn visit_format<'a>(
    text: &'a str,
    mut on_field: impl FnMut(FieldView<'a>, bool),
) -> Result<Option<u32>, ProbeError> {
    let mut id = None;
    let mut seen_empty_line = false;
    for (line_index, line) in text.split('\n').enumerate() {
        if line.is_empty() {
            seen_empty_line = true;
            continue;
        }
        let trimmed = line.trim_start_matches([' ', '\t']);
        // Dispatch on the first byte: this runs for every line of ~2,300 files in `-lv`.
        if !matches!(trimmed.as_bytes().first(), Some(b'f' | b'I' | b'p')) {
            continue;
        }
        if trimmed.starts_with("print fmt:") {
            // The last line the kernel writes; skipping it saves scanning ~1 MB in `-lv`.
            break;
        }
        if let Some(id_text) = trimmed.strip_prefix("ID:") {
            id = Some(
                id_text
                    .trim()
                    .parse()
                    .map_err(|_| bad_format_line(line_index, "invalid ID"))?,
            );
        } else if let Some(rest) = trimmed.strip_prefix("field:") {
            let field =
                parse_field_line(rest).map_err(|reason| bad_format_line(line_index, reason))?;
            on_field(field, !seen_empty_line);
        }
    }
    Ok(id)
}

fn bad_format_line(line_index: usize, reason: &str) -> ProbeError {
    ProbeError::BadFile {
        path: "tracepoint format".to_string(),
        reason: format!("line {}: {reason}", line_index + 1),
    }
}

/// Parses what follows `field:` on one line: `DECL;\toffset:N;\tsize:N;\tsigned:N;`.
fn parse_field_line(rest: &str) -> Result<FieldView<'_>, &'static str> {
    let (declaration, attributes) = rest.split_once(';').unwrap_or((rest, ""));
    let (mut offset, mut size, mut signed) = (None, None, false);
    // Byte-level on purpose: this runs for every field of ~2,300 files in `-lv 'tracepoint:*'`.
    for attribute in attributes.as_bytes().split(|byte| *byte == b';') {
        let attribute = attribute.trim_ascii();
        let Some(colon) = attribute.iter().position(|byte| *byte == b':') else {
            continue;
        };
        let (key, value) = (
            attribute.get(..colon).unwrap_or(b""),
            attribute.get(colon + 1..).unwrap_or(b""),
        );
        match key {
            b"offset" => offset = Some(parse_decimal_u32(value).ok_or("invalid offset")?),
            b"size" => size = Some(parse_decimal_u32(value).ok_or("invalid size")?),
            b"signed" => signed = value.trim_ascii() == b"1",
            _ => {}
        }
    }
    let offset = offset.ok_or("field without offset")?;
    let size = size.ok_or("field without size")?;
    let (type_text, name, is_array, array_len) =
        split_declaration(declaration).ok_or("field declaration without a name")?;
    Ok(FieldView {
        declaration,
        type_text,
        name,
        is_array,
        array_len,
        offset,
        size,
        signed,
    })
}

fn parse_decimal_u32(digits: &[u8]) -> Option<u32> {
    let digits = digits.trim_ascii();
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u32, |value, byte| {
        let digit = byte.checked_sub(b'0').filter(|digit| *digit <= 9)?;
        value.checked_mul(10)?.checked_add(u32::from(digit))
    })
}

/// Splits `TYPE NAME[N]` (the kernel always prints a space between type and name) into
/// `(type, name, is_array, array_len)`.
fn split_declaration(declaration: &str) -> Option<(Cow<'_, str>, &str, bool, Option<u32>)> {
    let trimmed = declaration.trim();
    let (type_part, name_part) = match trimmed.rfind([' ', '\t']) {
        Some(position) => (
            trimmed.get(..position)?.trim_end(),
            trimmed.get(position..)?.trim_start(),
        ),
        None => ("", trimmed),
    };
    // A name glued to its pointer stars (`char *p`) keeps the stars with the type.
    let star_count = name_part.len() - name_part.trim_start_matches('*').len();
    let (stars, name_with_suffix) = name_part.split_at(star_count);
    let type_text = match (type_part, stars) {
        (type_text, "") => Cow::Borrowed(type_text),
        ("", stars) => Cow::Borrowed(stars),
        (type_text, stars) => Cow::Owned(format!("{type_text} {stars}")),
    };
    let (name, is_array, array_len) = match name_with_suffix.split_once('[') {
        Some((name, suffix)) => {
            let length_text = suffix.strip_suffix(']').unwrap_or(suffix).trim();
            let array_len = if length_text.is_empty() {
                Some(0)
            } else {
                length_text.parse::<u32>().ok()
            };
            (name, true, array_len)
        }
        None => (name_with_suffix, false, None),
    };
    if name.is_empty() {
        return None;
    }
    Some((type_text, name, is_array, array_len))
}

/// The `-lv` arguments of a format file: the fields after the first empty line, as bpftrace.
fn parse_event_args(text: &str) -> Result<Vec<ProbeArg>, ProbeError> {
    let mut args = Vec::new();
    visit_format(text, |field, before_first_empty_line| {
        if !before_first_empty_line {
            args.push(field.to_probe_arg());
        }
    })?;
    Ok(args)
}

/// The `-lv` argument for one field. `render_arg_text` turns it back into `field.declaration`
/// byte for byte; where that round trip would fail, the declaration is kept whole in `ty`.
pub fn field_to_probe_arg(field: &FormatField) -> ProbeArg {
    FieldView {
        declaration: &field.declaration,
        type_text: Cow::Borrowed(&field.type_text),
        name: &field.name,
        is_array: field.is_array,
        array_len: field.array_len,
        offset: field.offset,
        size: field.size,
        signed: field.signed,
    }
    .to_probe_arg()
}

/// Whether the concatenation of `pieces` is exactly `text`, without building it.
fn pieces_spell(pieces: &[&str], text: &str) -> bool {
    let mut rest = text;
    for piece in pieces {
        match rest.strip_prefix(piece) {
            Some(after) => rest = after,
            None => return false,
        }
    }
    rest.is_empty()
}

/// The pieces of `TYPE NAME` as a C declaration, to be written one after the other: array types
/// put their `[N]` after the name (`char comm[16]`), while `__data_loc char[] name` keeps its
/// brackets in the type, as the kernel prints them.
pub fn arg_text_pieces(arg: &ProbeArg) -> [&str; 4] {
    if arg.name.is_empty() {
        return [&arg.ty, "", "", ""];
    }
    if arg.ty.is_empty() {
        return [&arg.name, "", "", ""];
    }
    let keeps_brackets = arg.ty.starts_with("__data_loc") || arg.ty.starts_with("__rel_loc");
    if arg.ty.ends_with(']') && !keeps_brackets {
        if let Some(position) = arg.ty.find('[') {
            let (element_type, suffix) = arg.ty.split_at(position);
            return [element_type.trim_end(), " ", &arg.name, suffix];
        }
    }
    [&arg.ty, " ", &arg.name, ""]
}

/// `TYPE NAME` as `-lv` prints it (see [`arg_text_pieces`]).
pub fn render_arg_text(arg: &ProbeArg) -> String {
    arg_text_pieces(arg).concat()
}

/// Rejects names that would leave the `events/` directory.
fn check_path_component(component: &str) -> Result<(), ProbeError> {
    if component.is_empty() || component == "." || component == ".." || component.contains('/') {
        return Err(ProbeError::BadPattern {
            pattern: component.to_string(),
            reason: "not a tracepoint category or event name".to_string(),
        });
    }
    Ok(())
}

fn format_path(root: &str, category: &str, event: &str) -> String {
    format!("{root}/events/{category}/{event}/format")
}

/// Reads and parses `events/CATEGORY/EVENT/format`, for typing `args` in the compiler.
pub fn read_format(
    fs: &KernelFs,
    category: &str,
    event: &str,
) -> Result<TracepointFormat, ProbeError> {
    check_path_component(category)?;
    check_path_component(event)?;
    let root = locate(fs).ok_or(ProbeError::TracefsMissing)?;
    let path = format_path(root, category, event);
    let bytes = fs.read(&path).map_err(|source| ProbeError::Io {
        path: path.clone(),
        source,
    })?;
    parse_format(&decode(&bytes)).map_err(|error| with_path(error, &path))
}

fn with_path(error: ProbeError, path: &str) -> ProbeError {
    match error {
        ProbeError::BadFile { reason, .. } => ProbeError::BadFile {
            path: path.to_string(),
            reason,
        },
        other => other,
    }
}

/// Tracepoints whose `category:event` satisfies `matches`, sorted as bpftrace sorts them; with
/// `verbose`, their arguments from the `format` files.
pub fn list_tracepoints(
    fs: &KernelFs,
    matches: &dyn Fn(&str) -> bool,
    verbose: bool,
    notes: &mut Vec<String>,
) -> Result<Vec<ProbeEntry>, ProbeError> {
    let mut entries = Vec::new();
    for_each_tracepoint(fs, matches, verbose, notes, &mut |entry| {
        entries.push(entry.clone());
        Ok(())
    })?;
    Ok(entries)
}

/// [`list_tracepoints`], handing each entry to `emit` as soon as its arguments are read, so
/// that `-lv 'tracepoint:*'` holds one entry at a time instead of ~14,000 arguments.
pub fn for_each_tracepoint(
    fs: &KernelFs,
    matches: &dyn Fn(&str) -> bool,
    verbose: bool,
    notes: &mut Vec<String>,
    emit: &mut dyn FnMut(&ProbeEntry) -> std::io::Result<()>,
) -> Result<(), ProbeError> {
    let root = locate(fs).ok_or(ProbeError::TracefsMissing)?;
    let events_path = format!("{root}/available_events");
    let bytes = read_small_file(fs, &events_path).map_err(|source| ProbeError::Io {
        path: events_path,
        source,
    })?;
    let text = decode(&bytes);
    let mut targets: Vec<String> = parse_available_events(&text)
        .into_iter()
        .map(|(category, event)| format!("{category}:{event}"))
        .filter(|target| matches(target))
        .collect();
    targets.sort_unstable();
    targets.dedup();
    let mut entry = ProbeEntry::new(Provider::Tracepoint, String::new());
    let output_error = |source| ProbeError::Io {
        path: "<output>".to_string(),
        source,
    };
    if !verbose {
        for target in targets {
            entry.target = target;
            emit(&entry).map_err(output_error)?;
        }
        return Ok(());
    }
    // A reader thread reads the files in order while this thread parses and prints: the
    // kernel's time (~10 ms for ~2,300 files, under one mutex) and ours then overlap. Files
    // travel in batches inside recycled buffers, so the hand-over costs neither a wake-up per
    // file nor an allocation.
    const FILES_PER_BATCH: usize = 32;
    let (full_sender, full_receiver) = std::sync::mpsc::sync_channel::<FormatBatch>(8);
    let (empty_sender, empty_receiver) = std::sync::mpsc::channel::<Vec<u8>>();
    let targets = &targets;
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut path = String::new();
            for (batch_index, batch_targets) in targets.chunks(FILES_PER_BATCH).enumerate() {
                let mut bytes = empty_receiver.try_recv().unwrap_or_default();
                bytes.clear();
                let mut files = Vec::with_capacity(batch_targets.len());
                for target in batch_targets {
                    let start = bytes.len();
                    let result = format_path_into(&mut path, root, target)
                        .and_then(|()| append_format_file(fs, &path, &mut bytes));
                    files.push(
                        result
                            .map(|()| start..bytes.len())
                            .map_err(|error| (path.clone(), error)),
                    );
                }
                let batch = FormatBatch {
                    first: batch_index * FILES_PER_BATCH,
                    bytes,
                    files,
                };
                if full_sender.send(batch).is_err() {
                    return; // The printer stopped (e.g. a closed pipe).
                }
            }
        });
        for batch in full_receiver {
            for (offset, file) in batch.files.iter().enumerate() {
                let Some(target) = targets.get(batch.first + offset) else {
                    continue;
                };
                entry.target.clone_from(target);
                entry.args.clear();
                let parsed = match file {
                    Ok(range) => {
                        parse_event_args(&decode(batch.bytes.get(range.clone()).unwrap_or(&[])))
                            .map_err(|error| error.to_string())
                    }
                    Err((path, error)) => Err(format!("cannot read {path}: {error}")),
                };
                match parsed {
                    Ok(args) => entry.args = args,
                    Err(error) => notes.push(format!("tracepoint:{target}: no arguments: {error}")),
                }
                emit(&entry).map_err(output_error)?;
            }
            let _ = empty_sender.send(batch.bytes);
        }
        Ok(())
    })
}

/// Format files read by the reader thread: their texts one after the other in `bytes`.
struct FormatBatch {
    /// Index in the target list of the first file.
    first: usize,
    bytes: Vec<u8>,
    /// Each file's range in `bytes`, or the path and error when it could not be read.
    files: Vec<Result<std::ops::Range<usize>, (String, std::io::Error)>>,
}

/// `ROOT/events/CATEGORY/EVENT/format` of target `CATEGORY:EVENT`, into a reused string.
fn format_path_into(path: &mut String, root: &str, target: &str) -> std::io::Result<()> {
    let (category, event) = target.split_once(':').ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "not CATEGORY:EVENT")
    })?;
    path.clear();
    path.push_str(root);
    path.push_str("/events/");
    path.push_str(category);
    path.push('/');
    path.push_str(event);
    path.push_str("/format");
    Ok(())
}

/// Appends a format file to `bytes`, stopping after its last line (see [`format_text_is_complete`]).
fn append_format_file(
    fs: &KernelFs,
    system_path: &str,
    bytes: &mut Vec<u8>,
) -> std::io::Result<()> {
    use std::io::Read;
    let mut file = std::fs::File::open(fs.path(system_path))?;
    let start = bytes.len();
    loop {
        if bytes.capacity() - bytes.len() < 4096 {
            bytes.reserve(8192);
        }
        let length = bytes.len();
        bytes.resize(bytes.capacity(), 0);
        let result = file.read(bytes.get_mut(length..).unwrap_or_default());
        match result {
            Ok(0) => {
                bytes.truncate(length);
                return Ok(());
            }
            Ok(count) => {
                bytes.truncate(length + count);
                if format_text_is_complete(bytes.get(start..).unwrap_or_default()) {
                    return Ok(());
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => bytes.truncate(length),
            Err(error) => {
                bytes.truncate(start);
                return Err(error);
            }
        }
    }
}

/// Reads a tracefs file with a few large `read` calls. tracefs files report size 0, so
/// `std::fs::read` would start with tiny reads and grow: ~7 reads per format file instead of 2,
/// and each read makes the kernel regenerate text.
fn read_small_file(fs: &KernelFs, system_path: &str) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    read_small_file_into(fs, system_path, &mut bytes)?;
    Ok(bytes)
}

/// Like [`read_small_file`], into a buffer reused across files (its old contents are replaced).
fn read_small_file_into(
    fs: &KernelFs,
    system_path: &str,
    bytes: &mut Vec<u8>,
) -> std::io::Result<()> {
    read_until_complete(fs, system_path, bytes, &|_| false)
}

/// Whether a `format` file's text is complete: it ends with the `print fmt:` line, the last
/// record the kernel writes. Knowing this saves the final `read` that would return 0, which
/// takes the kernel's event mutex again, for each of ~2,300 files.
fn format_text_is_complete(bytes: &[u8]) -> bool {
    let Some(without_newline) = bytes.strip_suffix(b"\n") else {
        return false;
    };
    let last_line_start = without_newline
        .iter()
        .rposition(|byte| *byte == b'\n')
        .map_or(0, |position| position + 1);
    without_newline
        .get(last_line_start..)
        .is_some_and(|line| line.starts_with(b"print fmt: "))
}

/// Reads a file with large `read` calls until end of file, or until `is_complete` says the
/// contents so far are all there is.
fn read_until_complete(
    fs: &KernelFs,
    system_path: &str,
    bytes: &mut Vec<u8>,
    is_complete: &dyn Fn(&[u8]) -> bool,
) -> std::io::Result<()> {
    use std::io::Read;
    let mut file = std::fs::File::open(fs.path(system_path))?;
    if bytes.len() < 8192 {
        bytes.resize(8192, 0);
    }
    let mut length = 0;
    let result = loop {
        if length == bytes.len() {
            bytes.resize(bytes.len() * 2, 0);
        }
        let Some(spare) = bytes.get_mut(length..) else {
            break Ok(());
        };
        match file.read(spare) {
            Ok(0) => break Ok(()),
            Ok(count) => {
                length += count;
                if is_complete(bytes.get(..length).unwrap_or(&[])) {
                    break Ok(());
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => break Err(error),
        }
    };
    bytes.truncate(length);
    result
}

/// Decodes file contents; invalid UTF-8 (never seen in tracefs) is replaced rather than refused.
fn decode(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!("{}/test_data/tracefs/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    fn arg_lines(format: &TracepointFormat) -> Vec<String> {
        format
            .event_fields()
            .iter()
            .map(|field| render_arg_text(&field_to_probe_arg(field)))
            .collect()
    }

    #[test]
    fn sys_enter_execve_format() {
        let format = parse_format(&fixture("sys_enter_execve.format")).unwrap();
        assert_eq!(format.common_field_count, 4);
        assert_eq!(format.fields.len(), 8);
        assert!(format.id.is_some());
        let argv = format.field("argv").unwrap();
        assert_eq!(argv.type_text, "const char *const *");
        assert_eq!(argv.declaration, "const char *const * argv");
        assert_eq!((argv.offset, argv.size, argv.signed), (24, 8, false));
        assert!(!argv.is_array && !argv.is_data_loc);
        let common_pid = format.field("common_pid").unwrap();
        assert_eq!(
            (common_pid.offset, common_pid.size, common_pid.signed),
            (4, 4, true)
        );
        assert_eq!(
            arg_lines(&format),
            [
                "int __syscall_nr",
                "const char * filename",
                "const char *const * argv",
                "const char *const * envp"
            ]
        );
        assert_eq!(format.record_size(), 40);
    }

    #[test]
    fn sched_process_exec_data_loc() {
        let format = parse_format(&fixture("sched_process_exec.format")).unwrap();
        let filename = format.field("filename").unwrap();
        assert!(filename.is_data_loc);
        assert_eq!(filename.type_text, "__data_loc char[]");
        assert_eq!(filename.array_len, None);
        assert!(!filename.is_array);
        let arg = field_to_probe_arg(filename);
        assert_eq!(arg.ty, "__data_loc char[]");
        assert_eq!(arg.name, "filename");
        assert_eq!(
            arg_lines(&format),
            ["__data_loc char[] filename", "pid_t pid", "pid_t old_pid"]
        );
        assert!(format.field("pid").unwrap().signed);
    }

    #[test]
    fn sched_switch_char_arrays() {
        let format = parse_format(&fixture("sched_switch.format")).unwrap();
        let prev_comm = format.field("prev_comm").unwrap();
        assert_eq!(prev_comm.type_text, "char");
        assert_eq!(prev_comm.array_len, Some(16));
        assert!(prev_comm.is_array);
        assert_eq!(prev_comm.size, 16);
        let arg = field_to_probe_arg(prev_comm);
        assert_eq!(
            (arg.ty.as_str(), arg.name.as_str()),
            ("char[16]", "prev_comm")
        );
        assert_eq!(render_arg_text(&arg), "char prev_comm[16]");
        assert_eq!(
            arg_lines(&format).first().map(String::as_str),
            Some("char prev_comm[16]")
        );
        let prev_state = format.field("prev_state").unwrap();
        assert!(prev_state.signed);
    }

    #[test]
    fn signed_fields() {
        let format = parse_format(&fixture("sys_exit_execve.format")).unwrap();
        let ret = format.field("ret").unwrap();
        assert!(ret.signed);
        assert_eq!(ret.type_text, "long");
    }

    #[test]
    fn flexible_array_and_unparsed_length() {
        let text = "format:\n\tfield:int common_pid;\toffset:0;\tsize:4;\tsigned:1;\n\n\
                    \tfield:unsigned long ips[];\toffset:8;\tsize:0;\tsigned:0;\n\
                    \tfield:char name[LEN];\toffset:8;\tsize:4;\tsigned:0;\n";
        let format = parse_format(text).unwrap();
        let ips = format.field("ips").unwrap();
        assert_eq!(
            (ips.type_text.as_str(), ips.array_len, ips.is_array),
            ("unsigned long", Some(0), true)
        );
        let name = format.field("name").unwrap();
        assert_eq!((name.array_len, name.is_array), (None, true));
        assert_eq!(
            arg_lines(&format),
            ["unsigned long ips[]", "char name[LEN]"]
        );
    }

    #[test]
    fn no_empty_line_means_no_event_args_like_bpftrace() {
        let text = "ID: 5\n\tfield:int a;\toffset:0;\tsize:4;\tsigned:1;\n";
        let format = parse_format(text).unwrap();
        assert_eq!(format.id, Some(5));
        assert_eq!(format.fields.len(), 1);
        assert!(format.event_fields().is_empty());
    }

    #[test]
    fn malformed_formats_are_errors_not_panics() {
        assert!(parse_format("\n\tfield:int a;\toffset:x;\tsize:4;\n").is_err());
        assert!(parse_format("\n\tfield:int a;\tsize:4;\n").is_err());
        assert!(parse_format("\n\tfield:;\toffset:0;\tsize:4;\n").is_err());
        assert!(parse_format("ID: nope\n").is_err());
        for garbage in [
            "",
            "\n",
            "field:",
            "\tfield:[",
            "\tfield:a[;offset:1;size:1",
            "ID:",
            "\u{0}\u{ffff}[]*;:",
        ] {
            let _ = parse_format(garbage);
            let _ = parse_available_events(garbage);
        }
    }

    #[test]
    fn odd_declarations_round_trip_through_the_fallback() {
        let text = "\n\tfield: int  weird ;\toffset:0;\tsize:4;\tsigned:1;\n\tfield:char *p;\toffset:8;\tsize:8;\tsigned:0;\n";
        let format = parse_format(text).unwrap();
        assert_eq!(arg_lines(&format), [" int  weird ", "char *p"]);
        assert_eq!(format.field("p").unwrap().type_text, "char *");
    }

    #[test]
    fn format_completeness_is_recognised_only_at_the_print_fmt_line() {
        let whole = fixture("sched_switch.format");
        assert!(format_text_is_complete(whole.as_bytes()));
        let cut = whole.get(..whole.len() - 1).unwrap_or_default();
        assert!(!format_text_is_complete(cut.as_bytes()));
        let before_print_fmt = whole.split("print fmt").next().unwrap_or_default();
        assert!(!format_text_is_complete(before_print_fmt.as_bytes()));
        assert!(!format_text_is_complete(b"\tfield:print fmt: x;\n"));
        assert!(format_text_is_complete(b"print fmt: \"\"\n"));
        assert!(!format_text_is_complete(b""));
    }

    #[test]
    fn available_events_lines() {
        let parsed = parse_available_events(
            "syscalls:sys_enter_execve\nbad line\n:x\ny:\nsched:sched_switch\n\n",
        );
        assert_eq!(
            parsed,
            [
                ("syscalls".to_string(), "sys_enter_execve".to_string()),
                ("sched".to_string(), "sched_switch".to_string())
            ]
        );
    }

    #[test]
    fn read_format_rejects_path_escapes() {
        let fs = KernelFs::rooted(format!("{}/test_data/host", env!("CARGO_MANIFEST_DIR")));
        assert!(matches!(
            read_format(&fs, "..", "x"),
            Err(ProbeError::BadPattern { .. })
        ));
        assert!(matches!(
            read_format(&fs, "a/b", "x"),
            Err(ProbeError::BadPattern { .. })
        ));
    }
}
