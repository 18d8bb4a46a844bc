//! `config = { key = value; ... }` blocks: bpftrace's settings applied to the checker's options, each unknown or ineffective key said.

use bpfscope_syntax::{ConfigEntry, Diagnostic, ExprKind};

use super::CheckOptions;

/// Keys bpftrace knows that change nothing here (bpfscope sizes these itself); accepted with
/// a warning so that scripts written for bpftrace still run.
const KEYS_WITHOUT_EFFECT: &[&str] = &[
    "lazy_symbolication",
    "log_size",
    "max_bpf_progs",
    "max_cat_bytes",
    "max_probes",
    "max_type_res_iterations",
    "on_stack_limit",
    "perf_rb_pages",
    "print_maps_on_exit",
    "str_trunc_trailer",
    "symbol_source",
    "missing_probes",
    "license",
    "show_debug_info",
];

/// The options `config` entries ask for; diagnostics for values that make no sense and for
/// keys that are unknown (errors) or have no effect here (warnings).
pub fn apply_config(
    entries: &[ConfigEntry],
    options: &CheckOptions,
    diagnostics: &mut Vec<Diagnostic>,
) -> CheckOptions {
    let mut applied = options.clone();
    for entry in entries {
        let key = entry
            .key
            .trim_start_matches("BPFTRACE_")
            .to_ascii_lowercase();
        let integer = match entry.value.kind {
            ExprKind::Integer(value) => Some(value),
            _ => None,
        };
        let word = match &entry.value.kind {
            ExprKind::Identifier(word) => Some(word.clone()),
            ExprKind::String(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
            _ => None,
        };
        match key.as_str() {
            "max_strlen" => match integer {
                Some(value) if (2..=4096).contains(&value) => applied.max_strlen = value as u32,
                _ => diagnostics.push(Diagnostic::error(
                    entry.value.span,
                    "max_strlen must be an integer from 2 to 4096",
                )),
            },
            "max_map_keys" => match integer.and_then(|value| u32::try_from(value).ok()) {
                Some(value) if value > 0 => applied.max_map_entries = value,
                _ => diagnostics.push(Diagnostic::error(
                    entry.value.span,
                    "max_map_keys must be a positive integer",
                )),
            },
            "stack_mode" => match word.as_deref().and_then(bpfscope_bpf::StackMode::from_name) {
                Some(mode) => applied.default_stack_mode = mode,
                None => diagnostics.push(Diagnostic::error(
                    entry.value.span,
                    "stack_mode must be bpftrace, perf or raw",
                )),
            },
            "cpp_demangle" => diagnostics.push(
                Diagnostic::warning(
                    entry.key_span,
                    "config key cpp_demangle is read from the environment here",
                )
                .with_hint("set BPFTRACE_CPP_DEMANGLE=0 to print mangled names"),
            ),
            known if KEYS_WITHOUT_EFFECT.contains(&known) => diagnostics.push(Diagnostic::warning(
                entry.key_span,
                format!("config key {known} has no effect in bpfscope (it sizes this itself)"),
            )),
            unknown => diagnostics.push(
                Diagnostic::error(entry.key_span, format!("unknown config key: {unknown}"))
                    .with_hint("known keys: max_strlen, max_map_keys, stack_mode, cpp_demangle"),
            ),
        }
    }
    applied
}
