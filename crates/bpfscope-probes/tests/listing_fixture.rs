//! `-l`/`-lv` against a fixture tree laid out like `/` (no root, no live kernel needed).

use bpfscope_probes::catalog::{self, Listing};
use bpfscope_probes::{KernelFs, ProbeError, Provider};

fn fixture_fs() -> KernelFs {
    KernelFs::rooted(format!("{}/test_data/host", env!("CARGO_MANIFEST_DIR")))
}

fn text(listing: &Listing, verbose: bool) -> String {
    let mut out = Vec::new();
    catalog::render_text(listing, verbose, &mut out).expect("writing to a Vec cannot fail");
    String::from_utf8(out).expect("listing output is UTF-8")
}

#[test]
fn tracepoints_sorted_deduplicated_with_bpftrace_args() {
    let listing = catalog::list(&fixture_fs(), "tracepoint:*", true).unwrap();
    let expected = "\
tracepoint:sched:sched_no_format_file
tracepoint:sched:sched_process_exec
    __data_loc char[] filename
    pid_t pid
    pid_t old_pid
tracepoint:sched:sched_switch
    char prev_comm[16]
    pid_t prev_pid
    int prev_prio
    long prev_state
    char next_comm[16]
    pid_t next_pid
    int next_prio
tracepoint:syscalls:sys_enter_execve
    int __syscall_nr
    const char * filename
    const char *const * argv
    const char *const * envp
tracepoint:syscalls:sys_enter_execveat
    int __syscall_nr
    int fd
    const char * filename
    const char *const * argv
    const char *const * envp
    int flags
tracepoint:syscalls:sys_exit_execve
    int __syscall_nr
    long ret
tracepoint:syscalls:sys_exit_execveat
    int __syscall_nr
    long ret
";
    assert_eq!(text(&listing, true), expected);
    // The event without a format file is still listed, and the reason is said once.
    let missing_notes: Vec<_> = listing
        .notes
        .iter()
        .filter(|note| note.contains("sched_no_format_file"))
        .collect();
    assert_eq!(missing_notes.len(), 1, "{:?}", listing.notes);
    let plain = catalog::list(&fixture_fs(), "tracepoint:*", false).unwrap();
    assert_eq!(plain.entries.len(), 7);
    assert!(plain.entries.iter().all(|entry| entry.args.is_empty()));
}

#[test]
fn tracepoint_args_carry_layout() {
    let listing = catalog::list(&fixture_fs(), "t:syscalls:sys_enter_execve", true).unwrap();
    let entry = listing.entries.first().expect("one tracepoint");
    assert_eq!(entry.full_name(), "tracepoint:syscalls:sys_enter_execve");
    let layout: Vec<(&str, &str, Option<u32>, Option<u32>)> = entry
        .args
        .iter()
        .map(|arg| (arg.ty.as_str(), arg.name.as_str(), arg.offset, arg.size))
        .collect();
    assert_eq!(
        layout,
        [
            ("int", "__syscall_nr", Some(8), Some(4)),
            ("const char *", "filename", Some(16), Some(8)),
            ("const char *const *", "argv", Some(24), Some(8)),
            ("const char *const *", "envp", Some(32), Some(8)),
        ]
    );
    let format =
        bpfscope_probes::tracefs::read_format(&fixture_fs(), "syscalls", "sys_enter_execve")
            .unwrap();
    assert_eq!(format.field("argv").map(|field| field.offset), Some(24));
}

#[test]
fn pattern_without_provider_searches_every_kernel_provider() {
    let listing = catalog::list(&fixture_fs(), "*execve*", false).unwrap();
    let tracepoints: Vec<String> = listing
        .entries
        .iter()
        .filter(|entry| entry.provider == Provider::Tracepoint)
        .map(|entry| entry.full_name())
        .collect();
    assert_eq!(
        tracepoints,
        [
            "tracepoint:syscalls:sys_enter_execve",
            "tracepoint:syscalls:sys_enter_execveat",
            "tracepoint:syscalls:sys_exit_execve",
            "tracepoint:syscalls:sys_exit_execveat",
        ]
    );
    // The fixture has no BTF or kallsyms: kernel functions are absent, with an explanation.
    assert!(!listing.notes.is_empty());
    assert!(listing
        .entries
        .iter()
        .all(|entry| !entry.full_name().starts_with("software:")));
}

#[test]
fn wildcard_in_provider_field_matches_full_names() {
    let listing = catalog::list(&fixture_fs(), "t*:sched:sched_s*", false).unwrap();
    let names: Vec<String> = listing
        .entries
        .iter()
        .map(|entry| entry.full_name())
        .collect();
    assert_eq!(names, ["tracepoint:sched:sched_switch"]);
}

#[test]
fn pmu_events_are_listed_under_hardware() {
    let listing = catalog::list(&fixture_fs(), "hardware:msr/*", false).unwrap();
    assert_eq!(
        text(&listing, false),
        "hardware:msr/smi/:\nhardware:msr/tsc/:\n"
    );
    let cache = catalog::list(&fixture_fs(), "h:LLC-*", false).unwrap();
    assert_eq!(cache.entries.len(), 6);
}

#[test]
fn json_listing_is_one_object_per_line() {
    let listing = catalog::list(
        &fixture_fs(),
        "tracepoint:syscalls:*,software:cpu-clock",
        true,
    )
    .unwrap();
    let mut out = Vec::new();
    catalog::render_json(&listing, true, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let objects: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect();
    assert_eq!(objects.len(), 5);
    assert_eq!(objects[0]["probe"], "tracepoint:syscalls:sys_enter_execve");
    assert_eq!(objects[0]["stability"], "stable");
    assert_eq!(objects[0]["args"][2]["type"], "const char *const *");
    assert_eq!(objects[0]["args"][2]["name"], "argv");
    assert_eq!(objects[0]["args"][2]["offset"], 24);
    assert_eq!(objects[4]["probe"], "software:cpu-clock:");
    assert_eq!(objects[4]["args"], serde_json::json!([]));
}

#[test]
fn missing_tracefs_is_reported_for_the_cli_to_mount() {
    // A root without sys/kernel/tracing: the CLI mounts tracefs and retries on this error.
    let fs = KernelFs::rooted(format!("{}/test_data/tracefs", env!("CARGO_MANIFEST_DIR")));
    assert!(matches!(
        catalog::list(&fs, "tracepoint:*", false),
        Err(ProbeError::TracefsMissing)
    ));
    assert!(matches!(
        catalog::list(&fs, "*execve*", false),
        Err(ProbeError::TracefsMissing)
    ));
}

#[test]
fn errors_for_bad_patterns() {
    assert!(matches!(
        catalog::list(&fixture_fs(), "nosuch:x", false),
        Err(ProbeError::UnknownProvider { .. })
    ));
    assert!(matches!(
        catalog::list(&fixture_fs(), "t:[abc", false),
        Err(ProbeError::BadPattern { .. })
    ));
}
