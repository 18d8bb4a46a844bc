//! The entry point of `-l`/`-lv`: splits patterns, dispatches to every probe source, renders text or JSON.

use std::cell::RefCell;
use std::collections::HashSet;
use std::io::Write;

use serde::Serialize;

use crate::glob::Glob;
use crate::{
    elf, kernel_funcs, perf_events, tracefs, usdt, KernelFs, ProbeArg, ProbeEntry, ProbeError,
    Provider, Stability,
};

/// What `-l`/`-lv` prints.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listing {
    pub entries: Vec<ProbeEntry>,
    /// One-line notes for stderr (which source kprobes came from, unreadable files...), each once.
    pub notes: Vec<String>,
    /// BTF definitions as C, for `-lv 'struct X'` / `union X` / `enum X` patterns.
    pub type_definitions: Vec<String>,
}

/// Text appended to a tracepoint line when the listing also has a kprobe/fentry for the same event.
pub const STABLE_MARKER: &str = "  (stable: prefer over kprobe/fentry)";

/// Lists the probes matching `patterns` (comma-separated; empty means every kernel provider).
///
/// `provider:target` patterns go to that provider (aliases and any case accepted); a pattern
/// without a provider, or whose provider field has a wildcard, is matched against the full name
/// `provider:target` of every provider in `Provider::in_kernel_list`, as bpftrace does.
pub fn list(fs: &KernelFs, patterns: &str, verbose: bool) -> Result<Listing, ProbeError> {
    let mut listing = Listing::default();
    let mut entries = Vec::new();
    let mut sink = |entry: &ProbeEntry| {
        entries.push(entry.clone());
        Ok(())
    };
    list_into(
        fs,
        &split_patterns(patterns),
        verbose,
        &|_| true,
        &|_, _| true,
        &mut listing.notes,
        &mut listing.type_definitions,
        &mut sink,
    )?;
    listing.entries = entries;
    dedup_notes(&mut listing.notes);
    Ok(listing)
}

/// What a streamed listing leaves once every entry has been handed out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListingSummary {
    /// How many entries were emitted.
    pub entry_count: usize,
    /// One-line notes for stderr, each distinct note once.
    pub notes: Vec<String>,
    /// BTF definitions as C, to print after the entries.
    pub type_definitions: Vec<String>,
}

/// Like `list`, but hands each entry to `emit` as soon as its provider produced it, with whether
/// it gets the `STABLE_MARKER` (same rule as `render_text`), so a full listing (~220k entries)
/// is never held in memory. Entries, order and dedup are exactly those of `list`.
pub fn list_each(
    fs: &KernelFs,
    patterns: &str,
    verbose: bool,
    emit: &mut dyn FnMut(&ProbeEntry, bool) -> std::io::Result<()>,
) -> Result<ListingSummary, ProbeError> {
    let patterns = split_patterns(patterns);
    let marked_event_keys = stable_event_keys(fs, &patterns);
    let mut summary = ListingSummary::default();
    let mut entry_count = 0;
    let mut sink = |entry: &ProbeEntry| {
        let marked = entry.provider == Provider::Tracepoint
            && !marked_event_keys.is_empty()
            && marked_event_keys.contains(event_key_of_tracepoint(&entry.target));
        entry_count += 1;
        emit(entry, marked)
    };
    list_into(
        fs,
        &patterns,
        verbose,
        &|_| true,
        &|_, _| true,
        &mut summary.notes,
        &mut summary.type_definitions,
        &mut sink,
    )?;
    summary.entry_count = entry_count;
    dedup_notes(&mut summary.notes);
    Ok(summary)
}

fn dedup_notes(notes: &mut Vec<String>) {
    let mut seen_notes = HashSet::new();
    notes.retain(|note| seen_notes.insert(note.clone()));
}

fn split_patterns(patterns: &str) -> Vec<&str> {
    let patterns: Vec<&str> = patterns
        .split(',')
        .map(str::trim)
        .filter(|pattern| !pattern.is_empty())
        .collect();
    if patterns.is_empty() {
        vec!["*"]
    } else {
        patterns
    }
}

/// A set of event keys (`(is_syscall, event)`), probed with borrowed names and a cheap hash:
/// a full `-l` checks tens of thousands of function names against it.
#[derive(Default)]
struct EventKeys {
    syscalls: HashSet<String, FastHash>,
    others: HashSet<String, FastHash>,
}

impl EventKeys {
    fn side(&self, is_syscall: bool) -> &HashSet<String, FastHash> {
        if is_syscall {
            &self.syscalls
        } else {
            &self.others
        }
    }

    fn contains(&self, (is_syscall, event): (bool, &str)) -> bool {
        self.side(is_syscall).contains(event)
    }

    fn insert(&mut self, (is_syscall, event): (bool, &str)) {
        let side = if is_syscall {
            &mut self.syscalls
        } else {
            &mut self.others
        };
        if !side.contains(event) {
            side.insert(event.to_string());
        }
    }

    fn is_empty(&self) -> bool {
        self.syscalls.is_empty() && self.others.is_empty()
    }
}

/// FNV-1a as a `BuildHasher`: short ASCII keys, no untrusted input to defend against.
#[derive(Clone, Copy, Default)]
struct FastHash;

impl std::hash::BuildHasher for FastHash {
    type Hasher = FnvHasher;
    fn build_hasher(&self) -> FnvHasher {
        FnvHasher(0xcbf2_9ce4_8422_2325)
    }
}

struct FnvHasher(u64);

impl std::hash::Hasher for FnvHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// The event keys of the tracepoints that get the stable marker: those that some kprobe,
/// kretprobe, fentry or fexit entry of the same listing also observes. Computed before
/// streaming, in two cheap passes: the tracepoints' keys, then only the kernel functions whose
/// key is among them.
fn stable_event_keys(fs: &KernelFs, patterns: &[&str]) -> EventKeys {
    // Only a listing that can hold kprobe/fentry entries marks anything: skip both passes
    // otherwise (`-l 'tracepoint:*'` would read available_events twice for nothing).
    let may_list_kernel_functions = patterns.iter().any(|pattern| match split_pattern(pattern) {
        Ok(PatternKind::Provider(provider, _)) => {
            matches!(provider, Provider::Kprobe | Provider::Fentry)
        }
        Ok(PatternKind::FullName(_)) => true,
        Err(_) => false,
    });
    if !may_list_kernel_functions {
        return EventKeys::default();
    }
    // The marker is about kprobe/fentry entries; kretprobe and fexit list the same functions,
    // so scanning them again would only double the cost of a full `-l`.
    let is_kernel_function =
        |provider: Provider| matches!(provider, Provider::Kprobe | Provider::Fentry);
    let mut ignored_notes = Vec::new();
    let mut ignored_types = Vec::new();
    let mut tracepoint_keys = EventKeys::default();
    let _ = list_into(
        fs,
        patterns,
        false,
        &|provider| provider == Provider::Tracepoint,
        &|_, _| true,
        &mut ignored_notes,
        &mut ignored_types,
        &mut |entry| {
            tracepoint_keys.insert(event_key_of_tracepoint(&entry.target));
            Ok(())
        },
    );
    if tracepoint_keys.is_empty() {
        return tracepoint_keys;
    }
    let mut function_keys = EventKeys::default();
    if patterns == ["*"] {
        // Everything is listed: every kprobe/fentry function counts, so walk their names.
        kernel_funcs::for_each_kprobe_or_fentry_name(fs, &mut ignored_notes, &mut |name| {
            let key = event_key_of_kernel_function(name);
            if tracepoint_keys.contains(key) {
                function_keys.insert(key);
            }
        });
        return function_keys;
    }
    let _ = list_into(
        fs,
        patterns,
        false,
        &is_kernel_function,
        &|_, target| tracepoint_keys.contains(event_key_of_kernel_function(target)),
        &mut ignored_notes,
        &mut ignored_types,
        &mut |entry| {
            function_keys.insert(event_key_of_kernel_function(&entry.target));
            Ok(())
        },
    );
    function_keys
}

/// The streaming core of `list` and `list_each`: only providers accepted by `wanted`, only
/// targets accepted by `also` (on top of the pattern), each entry handed to `sink`.
#[allow(clippy::too_many_arguments)]
fn list_into(
    fs: &KernelFs,
    patterns: &[&str],
    verbose: bool,
    wanted: &dyn Fn(Provider) -> bool,
    also: &dyn Fn(Provider, &str) -> bool,
    notes: &mut Vec<String>,
    type_definitions: &mut Vec<String>,
    sink: &mut dyn FnMut(&ProbeEntry) -> std::io::Result<()>,
) -> Result<(), ProbeError> {
    let mut seen_full_names = HashSet::new();
    // Each source lists a provider's probes once, so only several patterns can repeat a probe.
    let several_patterns = patterns.len() > 1;
    let mut deduplicating_sink = |entry: &ProbeEntry| {
        if several_patterns && !seen_full_names.insert(entry.full_name()) {
            return Ok(());
        }
        sink(entry)
    };
    for pattern in patterns {
        if let Some(query) = type_query(pattern) {
            // Only the real listing (which wants every provider) describes types; the marker
            // passes want either tracepoints or kernel functions.
            if wanted(Provider::Tracepoint) && wanted(Provider::Kprobe) {
                match kernel_funcs::describe_type(fs, query)? {
                    Some(definition) => type_definitions.push(definition),
                    None => notes.push(format!("no BTF type matches '{query}'")),
                }
            }
            continue;
        }
        match split_pattern(pattern)? {
            PatternKind::Provider(provider, target) => {
                if wanted(provider) {
                    list_provider(
                        fs,
                        provider,
                        target,
                        verbose,
                        &|target| also(provider, target),
                        notes,
                        &mut deduplicating_sink,
                    )?;
                }
            }
            PatternKind::FullName(glob) => {
                for provider in Provider::ALL
                    .into_iter()
                    .filter(|provider| provider.in_kernel_list() && wanted(*provider))
                {
                    if !provider_can_match(&glob, provider) {
                        continue;
                    }
                    match list_provider_by_full_name(
                        fs,
                        provider,
                        &glob,
                        verbose,
                        &|target| also(provider, target),
                        notes,
                        &mut deduplicating_sink,
                    ) {
                        Ok(()) => {}
                        Err(ProbeError::TracefsMissing) => return Err(ProbeError::TracefsMissing),
                        Err(error @ ProbeError::Io { .. }) if is_output_error(&error) => {
                            return Err(error)
                        }
                        // One unreadable source must not hide the others in a catch-all search.
                        Err(error) => notes.push(format!("{}: {error}", provider.name())),
                    }
                }
            }
        }
    }
    Ok(())
}

fn is_output_error(error: &ProbeError) -> bool {
    matches!(error, ProbeError::Io { path, .. } if path == OUTPUT_PATH)
}

/// The `path` of `ProbeError::Io` when writing the listing failed.
const OUTPUT_PATH: &str = "<output>";

fn emit_all(
    entries: Result<Vec<ProbeEntry>, ProbeError>,
    also: &dyn Fn(&str) -> bool,
    sink: &mut dyn FnMut(&ProbeEntry) -> std::io::Result<()>,
) -> Result<(), ProbeError> {
    for entry in entries?.iter().filter(|entry| also(&entry.target)) {
        sink(entry).map_err(|source| ProbeError::Io {
            path: OUTPUT_PATH.to_string(),
            source,
        })?;
    }
    Ok(())
}

/// `struct X`, `union X`, `enum X`: a BTF type query rather than a probe pattern.
fn type_query(pattern: &str) -> Option<&str> {
    ["struct ", "union ", "enum "]
        .iter()
        .any(|keyword| pattern.starts_with(keyword))
        .then_some(pattern)
}

enum PatternKind<'a> {
    Provider(Provider, &'a str),
    FullName(Glob),
}

fn has_wildcard(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

fn split_pattern(pattern: &str) -> Result<PatternKind<'_>, ProbeError> {
    match pattern.split_once(':') {
        Some((provider_name, target)) if !has_wildcard(provider_name) => {
            let provider =
                Provider::from_name(provider_name).ok_or_else(|| ProbeError::UnknownProvider {
                    given: provider_name.to_string(),
                    valid: valid_provider_names(),
                })?;
            Ok(PatternKind::Provider(provider, target))
        }
        _ => Ok(PatternKind::FullName(Glob::new(pattern)?)),
    }
}

fn valid_provider_names() -> String {
    Provider::ALL
        .iter()
        .map(|provider| provider.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether a full-name glob could match anything of `provider` (skips whole sources early).
fn provider_can_match(glob: &Glob, provider: Provider) -> bool {
    let prefix = glob.literal_prefix();
    let provider_prefix = format!("{}:", provider.name());
    if prefix.len() >= provider_prefix.len() {
        prefix.starts_with(&provider_prefix)
    } else {
        provider_prefix.starts_with(&prefix)
    }
}

/// The probes of `provider` whose target matches `target_pattern`.
fn list_provider(
    fs: &KernelFs,
    provider: Provider,
    target_pattern: &str,
    verbose: bool,
    also: &dyn Fn(&str) -> bool,
    notes: &mut Vec<String>,
    sink: &mut dyn FnMut(&ProbeEntry) -> std::io::Result<()>,
) -> Result<(), ProbeError> {
    let target_pattern = if target_pattern.is_empty() {
        "*"
    } else {
        target_pattern
    };
    match provider {
        Provider::Tracepoint => {
            let glob = Glob::new(target_pattern)?;
            let matches = |target: &str| also(target) && glob.matches(target);
            tracefs::for_each_tracepoint(fs, &matches, verbose, notes, sink)
        }
        Provider::Rawtracepoint
        | Provider::Kprobe
        | Provider::Kretprobe
        | Provider::Fentry
        | Provider::Fexit => {
            let glob = Glob::new(target_pattern)?;
            // `fentry:vfs_read` means the function in any module (targets are `vmlinux:vfs_read`).
            let pattern_has_module = target_pattern.contains(':');
            let matches = |target: &str| {
                (glob.matches(target)
                    || (!pattern_has_module
                        && target
                            .rsplit_once(':')
                            .is_some_and(|(_, function)| glob.matches(function))))
                    && also(target)
            };
            kernel_funcs::for_each_kernel_function(fs, provider, &matches, verbose, notes, sink)
        }
        Provider::Uprobe | Provider::Uretprobe => emit_all(
            elf::list_uprobes(fs, provider, target_pattern, verbose),
            also,
            sink,
        ),
        Provider::Usdt => emit_all(usdt::list_usdt(fs, target_pattern, verbose), also, sink),
        Provider::Software | Provider::Hardware => {
            // Targets are `EVENT:`; a count after the event (`cpu-clock:1000`) does not narrow it.
            let event = target_pattern
                .split(':')
                .next()
                .filter(|event| !event.is_empty())
                .unwrap_or("*");
            let glob = Glob::new(&format!("{event}:"))?;
            emit_all(
                perf_events::list_perf_events(
                    fs,
                    provider,
                    &|target| glob.matches(target),
                    verbose,
                ),
                also,
                sink,
            )
        }
        Provider::Profile | Provider::Interval => {
            let unit = target_pattern
                .split(':')
                .next()
                .filter(|unit| !unit.is_empty())
                .unwrap_or("*");
            let glob = Glob::new(&format!("{unit}:"))?;
            emit_all(
                Ok(timer_unit_entries(provider, &|target| glob.matches(target))),
                also,
                sink,
            )
        }
        Provider::Watchpoint | Provider::Iter | Provider::Begin | Provider::End => Ok(()),
    }
}

/// The time units of `profile:`/`interval:` as newest bpftrace lists them (`profile:hz:`), sorted.
fn timer_unit_entries(provider: Provider, matches: &dyn Fn(&str) -> bool) -> Vec<ProbeEntry> {
    ["hz:", "ms:", "s:", "us:"]
        .into_iter()
        .filter(|target| matches(target))
        .map(|target| ProbeEntry::new(provider, target))
        .collect()
}

/// The probes of `provider` whose full name `provider:target` matches `glob`.
fn list_provider_by_full_name(
    fs: &KernelFs,
    provider: Provider,
    glob: &Glob,
    verbose: bool,
    also: &dyn Fn(&str) -> bool,
    notes: &mut Vec<String>,
    sink: &mut dyn FnMut(&ProbeEntry) -> std::io::Result<()>,
) -> Result<(), ProbeError> {
    // One reused buffer: kernel function sources call this for tens of thousands of names.
    let full_name = RefCell::new(String::new());
    let matches = |target: &str| {
        // The cheap checks first: `*` matches everything, and `also` rejects most names early.
        if !also(target) {
            return false;
        }
        if glob.matches_everything() {
            return true;
        }
        let mut buffer = full_name.borrow_mut();
        buffer.clear();
        buffer.push_str(provider.name());
        buffer.push(':');
        buffer.push_str(target);
        glob.matches(&buffer)
    };
    let everything = |_: &str| true;
    match provider {
        Provider::Tracepoint => tracefs::for_each_tracepoint(fs, &matches, verbose, notes, sink),
        Provider::Rawtracepoint
        | Provider::Kprobe
        | Provider::Kretprobe
        | Provider::Fentry
        | Provider::Fexit => {
            kernel_funcs::for_each_kernel_function(fs, provider, &matches, verbose, notes, sink)
        }
        Provider::Software | Provider::Hardware => emit_all(
            perf_events::list_perf_events(fs, provider, &matches, verbose),
            &everything,
            sink,
        ),
        Provider::Profile | Provider::Interval => emit_all(
            Ok(timer_unit_entries(provider, &matches)),
            &everything,
            sink,
        ),
        // Userspace providers need a path; the rest have nothing to list.
        _ => Ok(()),
    }
}

/// Strips the architecture and wrapper prefixes the kernel puts on syscall entry points.
const SYSCALL_FUNCTION_PREFIXES: [&str; 10] = [
    "__x64_sys_",
    "__ia32_sys_",
    "__x64_compat_sys_",
    "__ia32_compat_sys_",
    "__arm64_sys_",
    "__s390x_sys_",
    "__riscv_sys_",
    "__se_sys_",
    "__do_sys_",
    "sys_",
];

/// What a probe observes, so that a tracepoint and a kernel function for the same event compare
/// equal: `(true, "execve")` for syscalls, `(false, name)` otherwise.
fn event_key_of_kernel_function(target: &str) -> (bool, &str) {
    let function = target.rsplit(':').next().unwrap_or(target);
    let function = function.split('.').next().unwrap_or(function);
    SYSCALL_FUNCTION_PREFIXES
        .iter()
        .find_map(|prefix| function.strip_prefix(prefix))
        .map_or((false, function), |syscall| (true, syscall))
}

fn event_key_of_tracepoint(target: &str) -> (bool, &str) {
    let (category, event) = target.split_once(':').unwrap_or(("", target));
    if category == "syscalls" {
        if let Some(syscall) = event
            .strip_prefix("sys_enter_")
            .or_else(|| event.strip_prefix("sys_exit_"))
        {
            return (true, syscall);
        }
    }
    (false, event)
}

/// Full names of the tracepoints that have a kprobe/fentry twin in the same listing.
fn tracepoints_with_kernel_function_twins(listing: &Listing) -> HashSet<String> {
    let function_keys: HashSet<(bool, &str)> = listing
        .entries
        .iter()
        .filter(|entry| {
            matches!(
                entry.provider,
                Provider::Kprobe | Provider::Kretprobe | Provider::Fentry | Provider::Fexit
            )
        })
        .map(|entry| event_key_of_kernel_function(&entry.target))
        .collect();
    if function_keys.is_empty() {
        return HashSet::new();
    }
    listing
        .entries
        .iter()
        .filter(|entry| entry.provider == Provider::Tracepoint)
        .filter(|entry| function_keys.contains(&event_key_of_tracepoint(&entry.target)))
        .map(ProbeEntry::full_name)
        .collect()
}

/// Prints one probe per line (`provider:target`), with `    TYPE NAME` argument lines in verbose
/// mode, exactly as bpftrace; then any type definitions.
pub fn render_text(listing: &Listing, verbose: bool, out: &mut dyn Write) -> std::io::Result<()> {
    let marked = tracepoints_with_kernel_function_twins(listing);
    let mut buffer = String::with_capacity(listing.entries.len() * 48);
    for entry in &listing.entries {
        let is_marked = !marked.is_empty() && marked.contains(&entry.full_name());
        push_text_entry(&mut buffer, entry, is_marked, verbose);
    }
    push_text_type_definitions(&mut buffer, &listing.type_definitions);
    out.write_all(buffer.as_bytes())
}

/// One entry as `render_text` prints it, for streamed listings (`list_each`).
pub fn write_text_entry(
    entry: &ProbeEntry,
    marked: bool,
    verbose: bool,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let mut buffer = String::with_capacity(64);
    push_text_entry(&mut buffer, entry, marked, verbose);
    out.write_all(buffer.as_bytes())
}

/// The type definitions as `render_text` prints them after the entries.
pub fn write_text_type_definitions(
    type_definitions: &[String],
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let mut buffer = String::new();
    push_text_type_definitions(&mut buffer, type_definitions);
    out.write_all(buffer.as_bytes())
}

fn push_text_entry(buffer: &mut String, entry: &ProbeEntry, marked: bool, verbose: bool) {
    buffer.push_str(entry.provider.name());
    buffer.push(':');
    buffer.push_str(&entry.target);
    if marked {
        buffer.push_str(STABLE_MARKER);
    }
    buffer.push('\n');
    if verbose {
        for arg in &entry.args {
            buffer.push_str("    ");
            for piece in tracefs::arg_text_pieces(arg) {
                buffer.push_str(piece);
            }
            buffer.push('\n');
        }
    }
}

fn push_text_type_definitions(buffer: &mut String, type_definitions: &[String]) {
    for definition in type_definitions {
        buffer.push_str(definition);
        if !definition.ends_with('\n') {
            buffer.push('\n');
        }
    }
}

#[derive(Serialize)]
struct JsonProbe<'a> {
    provider: &'static str,
    probe: String,
    stability: Stability,
    #[serde(skip_serializing_if = "Option::is_none")]
    args: Option<&'a [ProbeArg]>,
}

#[derive(Serialize)]
struct JsonTypeDefinition<'a> {
    type_definition: &'a str,
}

/// Prints one JSON object per line: `{"provider", "probe", "stability", "args"}` (args only in
/// verbose mode, each with type, name and, where known, offset, size and signedness), then one
/// `{"type_definition": ...}` per type definition.
pub fn render_json(listing: &Listing, verbose: bool, out: &mut dyn Write) -> std::io::Result<()> {
    let mut buffer = Vec::with_capacity(listing.entries.len() * 96);
    for entry in &listing.entries {
        write_json_entry(entry, verbose, &mut buffer)?;
    }
    write_json_type_definitions(&listing.type_definitions, &mut buffer)?;
    out.write_all(&buffer)
}

/// One entry as `render_json` prints it, for streamed listings (`list_each`).
pub fn write_json_entry(
    entry: &ProbeEntry,
    verbose: bool,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let probe = JsonProbe {
        provider: entry.provider.name(),
        probe: entry.full_name(),
        stability: entry.provider.stability(),
        args: verbose.then_some(entry.args.as_slice()),
    };
    let mut line = serde_json::to_vec(&probe).map_err(std::io::Error::other)?;
    line.push(b'\n');
    out.write_all(&line)
}

/// The type definitions as `render_json` prints them after the entries.
pub fn write_json_type_definitions(
    type_definitions: &[String],
    out: &mut dyn Write,
) -> std::io::Result<()> {
    for definition in type_definitions {
        let mut line = serde_json::to_vec(&JsonTypeDefinition {
            type_definition: definition,
        })
        .map_err(std::io::Error::other)?;
        line.push(b'\n');
        out.write_all(&line)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture_fs() -> KernelFs {
        KernelFs::rooted(format!("{}/test_data/host", env!("CARGO_MANIFEST_DIR")))
    }

    fn names(listing: &Listing) -> Vec<String> {
        listing.entries.iter().map(ProbeEntry::full_name).collect()
    }

    #[test]
    fn unknown_provider_lists_valid_ones() {
        let error = list(&fixture_fs(), "bogus:foo", false).unwrap_err();
        let text = error.to_string();
        assert!(matches!(error, ProbeError::UnknownProvider { .. }));
        assert!(
            text.contains("bogus") && text.contains("tracepoint") && text.contains("kprobe"),
            "{text}"
        );
    }

    #[test]
    fn malformed_pattern_is_an_error() {
        assert!(matches!(
            list(&fixture_fs(), "tracepoint:sys[", false),
            Err(ProbeError::BadPattern { .. })
        ));
    }

    #[test]
    fn aliases_and_case() {
        let listing = list(&fixture_fs(), "T:sched:*", false).unwrap();
        assert_eq!(
            names(&listing),
            [
                "tracepoint:sched:sched_no_format_file",
                "tracepoint:sched:sched_process_exec",
                "tracepoint:sched:sched_switch"
            ]
        );
    }

    #[test]
    fn software_and_profile_targets() {
        let listing = list(&fixture_fs(), "s:cpu*,profile:*,i:s", false).unwrap();
        assert_eq!(
            names(&listing),
            [
                "software:cpu-clock:",
                "software:cpu-migrations:",
                "software:cpu:",
                "profile:hz:",
                "profile:ms:",
                "profile:s:",
                "profile:us:",
                "interval:s:"
            ]
        );
    }

    #[test]
    fn duplicates_across_patterns_are_dropped() {
        let listing = list(
            &fixture_fs(),
            "t:sched:sched_switch,tracepoint:sched:sched_s*",
            false,
        )
        .unwrap();
        assert_eq!(names(&listing), ["tracepoint:sched:sched_switch"]);
    }

    #[test]
    fn event_keys_normalise_syscalls() {
        assert_eq!(
            event_key_of_kernel_function("__x64_sys_execve"),
            (true, "execve")
        );
        assert_eq!(
            event_key_of_kernel_function("vmlinux:__se_sys_execveat"),
            (true, "execveat")
        );
        assert_eq!(
            event_key_of_kernel_function("vfs_read.cold"),
            (false, "vfs_read")
        );
        assert_eq!(
            event_key_of_tracepoint("syscalls:sys_exit_execve"),
            (true, "execve")
        );
        assert_eq!(
            event_key_of_tracepoint("sched:sched_switch"),
            (false, "sched_switch")
        );
    }

    #[test]
    fn stable_marker_only_in_mixed_listings() {
        let mut listing = Listing::default();
        listing.entries.push(ProbeEntry::new(
            Provider::Tracepoint,
            "syscalls:sys_enter_execve",
        ));
        listing.entries.push(ProbeEntry::new(
            Provider::Tracepoint,
            "syscalls:sys_enter_read",
        ));
        let mut pure = Vec::new();
        render_text(&listing, false, &mut pure).unwrap();
        assert_eq!(
            String::from_utf8(pure).unwrap(),
            "tracepoint:syscalls:sys_enter_execve\ntracepoint:syscalls:sys_enter_read\n"
        );
        listing
            .entries
            .push(ProbeEntry::new(Provider::Kprobe, "__x64_sys_execve"));
        let mut mixed = Vec::new();
        render_text(&listing, false, &mut mixed).unwrap();
        assert_eq!(
            String::from_utf8(mixed).unwrap(),
            format!(
                "tracepoint:syscalls:sys_enter_execve{STABLE_MARKER}\ntracepoint:syscalls:sys_enter_read\nkprobe:__x64_sys_execve\n"
            )
        );
    }

    /// `list_each` streams exactly what `list` + `render_text` print, marker included.
    fn assert_streamed_equals_collected(fs: &KernelFs, patterns: &str, verbose: bool) {
        let listing = list(fs, patterns, verbose).unwrap();
        let mut collected = Vec::new();
        render_text(&listing, verbose, &mut collected).unwrap();
        let mut streamed = Vec::new();
        let summary = list_each(fs, patterns, verbose, &mut |entry, marked| {
            write_text_entry(entry, marked, verbose, &mut streamed)
        })
        .unwrap();
        write_text_type_definitions(&summary.type_definitions, &mut streamed).unwrap();
        assert_eq!(summary.entry_count, listing.entries.len(), "{patterns}");
        assert_eq!(summary.notes, listing.notes, "{patterns}");
        assert_eq!(
            String::from_utf8(streamed).unwrap(),
            String::from_utf8(collected).unwrap(),
            "{patterns}"
        );
    }

    #[test]
    fn streamed_listing_equals_collected_listing() {
        let fs = fixture_fs();
        for patterns in [
            "",
            "*",
            "*execve*",
            "t:sched:sched_switch,tracepoint:sched:sched_s*",
            "s:cpu*,profile:*,i:s",
        ] {
            assert_streamed_equals_collected(&fs, patterns, false);
            assert_streamed_equals_collected(&fs, patterns, true);
        }
    }

    #[test]
    fn live_streamed_listing_equals_collected_listing() {
        let fs = KernelFs::live();
        if !fs.exists("/sys/kernel/btf/vmlinux") || !fs.exists("/sys/kernel/tracing/events") {
            eprintln!("skipping: no kernel BTF or tracefs");
            return;
        }
        assert_streamed_equals_collected(&fs, "*execve*", false);
        assert_streamed_equals_collected(
            &fs,
            "kprobe:vfs_r*,fentry:vfs_r*,t:syscalls:*read*",
            true,
        );
        let listing = list(&fs, "*execve*", false).unwrap();
        let mut text = Vec::new();
        render_text(&listing, false, &mut text).unwrap();
        // The marker must really show up (the test above could pass with none at all).
        assert!(String::from_utf8(text).unwrap().contains(STABLE_MARKER));
    }

    #[test]
    fn json_lines() {
        let listing = list(&fixture_fs(), "tracepoint:sched:sched_switch", true).unwrap();
        let mut out = Vec::new();
        render_json(&listing, true, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let value: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(value["provider"], "tracepoint");
        assert_eq!(value["probe"], "tracepoint:sched:sched_switch");
        assert_eq!(value["stability"], "stable");
        assert_eq!(value["args"][0]["type"], "char[16]");
        assert_eq!(value["args"][0]["name"], "prev_comm");
        assert_eq!(value["args"][0]["offset"], 8);
        assert_eq!(value["args"][0]["size"], 16);
        let mut terse = Vec::new();
        render_json(&listing, false, &mut terse).unwrap();
        assert!(!String::from_utf8(terse).unwrap().contains("args"));
    }
}
