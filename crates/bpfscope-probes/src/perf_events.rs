//! Perf events for `software:` and `hardware:` probes: bpftrace's names and default periods,
//! `perf list cache`-style hardware-cache events, and PMU events from sysfs.
//!
//! Naming, as `-l` prints it (every name ends with `:`, where a count may follow when probing):
//! - `software:cpu-clock:`, `software:cpu:` (bpftrace's names and aliases);
//! - `hardware:cpu-cycles:`, `hardware:cycles:` (bpftrace's names and aliases);
//! - `hardware:L1-dcache-load-misses:` (hardware-cache events, named as `perf list cache` does);
//! - `hardware:PMU/EVENT/:`, e.g. `hardware:msr/tsc/:` for `/sys/bus/event_source/devices/msr/events/tsc`
//!   (perf's `PMU/EVENT/` spelling; the slashes keep them apart from the generic names).

use std::collections::BTreeSet;

use crate::{KernelFs, ProbeEntry, ProbeError, Provider};

/// `perf_event_attr.type` values from `<linux/perf_event.h>`.
pub const PERF_TYPE_HARDWARE: u32 = 0;
pub const PERF_TYPE_SOFTWARE: u32 = 1;
pub const PERF_TYPE_HW_CACHE: u32 = 3;

/// Where the kernel lists dynamic PMUs, each with `type`, `events/` and `format/`.
const PMU_DEVICES_DIR: &str = "/sys/bus/event_source/devices";

/// Period used for hardware-cache and PMU events, which bpftrace has no default for: a
/// sample every million events keeps the overhead low on busy counters.
pub const DEFAULT_PERIOD_FOR_OTHER_HARDWARE_EVENTS: u64 = 1_000_000;

/// A generic perf event with bpftrace's name, alias and default sampling period.
#[derive(Clone, Copy, Debug)]
pub struct NamedPerfEvent {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub config: u64,
    pub default_period: u64,
}

const fn event(
    name: &'static str,
    alias: Option<&'static str>,
    config: u64,
    default_period: u64,
) -> NamedPerfEvent {
    NamedPerfEvent {
        name,
        alias,
        config,
        default_period,
    }
}

/// `PERF_COUNT_SW_*` events with bpftrace's names, aliases and default periods.
pub const SOFTWARE_EVENTS: [NamedPerfEvent; 11] = [
    event("alignment-faults", None, 7, 1),
    event("bpf-output", None, 10, 1),
    event("context-switches", Some("cs"), 3, 1000),
    event("cpu-clock", Some("cpu"), 0, 1_000_000),
    event("cpu-migrations", None, 4, 1),
    event("dummy", None, 9, 1),
    event("emulation-faults", None, 8, 1),
    event("major-faults", None, 6, 1),
    event("minor-faults", None, 5, 100),
    event("page-faults", Some("faults"), 2, 100),
    event("task-clock", None, 1, 1),
];

/// `PERF_COUNT_HW_*` events with bpftrace's names, aliases and default periods.
pub const HARDWARE_EVENTS: [NamedPerfEvent; 10] = [
    event("backend-stalls", None, 8, 1_000_000),
    event("branch-instructions", Some("branches"), 4, 100_000),
    event("branch-misses", None, 5, 100_000),
    event("bus-cycles", None, 6, 100_000),
    event("cache-misses", None, 3, 1_000_000),
    event("cache-references", None, 2, 1_000_000),
    event("cpu-cycles", Some("cycles"), 0, 1_000_000),
    event("frontend-stalls", None, 7, 1_000_000),
    event("instructions", None, 1, 1_000_000),
    event("ref-cycles", None, 9, 1_000_000),
];

/// `PERF_COUNT_HW_CACHE_*` ids with perf's names, and which operations each cache supports
/// (perf lists only these combinations: e.g. there is no `L1-icache-stores`).
const CACHES: [(&str, u64, &[CacheOp]); 7] = [
    (
        "L1-dcache",
        0,
        &[CacheOp::Load, CacheOp::Store, CacheOp::Prefetch],
    ),
    ("L1-icache", 1, &[CacheOp::Load, CacheOp::Prefetch]),
    (
        "LLC",
        2,
        &[CacheOp::Load, CacheOp::Store, CacheOp::Prefetch],
    ),
    (
        "dTLB",
        3,
        &[CacheOp::Load, CacheOp::Store, CacheOp::Prefetch],
    ),
    ("iTLB", 4, &[CacheOp::Load]),
    ("branch", 5, &[CacheOp::Load]),
    (
        "node",
        6,
        &[CacheOp::Load, CacheOp::Store, CacheOp::Prefetch],
    ),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CacheOp {
    Load,
    Store,
    Prefetch,
}

impl CacheOp {
    /// `PERF_COUNT_HW_CACHE_OP_*`.
    fn id(self) -> u64 {
        match self {
            CacheOp::Load => 0,
            CacheOp::Store => 1,
            CacheOp::Prefetch => 2,
        }
    }

    /// The word perf uses: `loads`/`load-misses`.
    fn word(self) -> &'static str {
        match self {
            CacheOp::Load => "load",
            CacheOp::Store => "store",
            CacheOp::Prefetch => "prefetch",
        }
    }

    fn plural(self) -> &'static str {
        match self {
            CacheOp::Load => "loads",
            CacheOp::Store => "stores",
            CacheOp::Prefetch => "prefetches",
        }
    }
}

/// Every hardware-cache event as `(name, config)`; config is `cache | op << 8 | result << 16`.
pub fn hardware_cache_events() -> Vec<(String, u64)> {
    let mut events = Vec::new();
    for (cache_name, cache_id, operations) in CACHES {
        for operation in operations {
            let config = cache_id | (operation.id() << 8);
            events.push((format!("{cache_name}-{}", operation.plural()), config));
            events.push((
                format!("{cache_name}-{}-misses", operation.word()),
                config | (1 << 16),
            ));
        }
    }
    events
}

fn named_events(provider: Provider) -> &'static [NamedPerfEvent] {
    match provider {
        Provider::Software => &SOFTWARE_EVENTS,
        Provider::Hardware => &HARDWARE_EVENTS,
        _ => &[],
    }
}

/// Lists `software:` or `hardware:` events whose target (e.g. `cpu-clock:`, with the trailing
/// colon) satisfies `matches`, sorted and deduplicated as bpftrace does. Perf events have no
/// arguments, so `verbose` adds nothing. A machine without PMUs in sysfs lists just the generic
/// names; other providers list nothing.
pub fn list_perf_events(
    fs: &KernelFs,
    provider: Provider,
    matches: &dyn Fn(&str) -> bool,
    verbose: bool,
) -> Result<Vec<ProbeEntry>, ProbeError> {
    let _ = verbose;
    let mut targets = BTreeSet::new();
    for named in named_events(provider) {
        targets.insert(format!("{}:", named.name));
        if let Some(alias) = named.alias {
            targets.insert(format!("{alias}:"));
        }
    }
    if provider == Provider::Hardware {
        targets.extend(
            hardware_cache_events()
                .into_iter()
                .map(|(name, _)| format!("{name}:")),
        );
        targets.extend(
            list_pmu_events(fs)
                .into_iter()
                .map(|(pmu, event)| format!("{pmu}/{event}/:")),
        );
    }
    Ok(targets
        .into_iter()
        .filter(|target| matches(target))
        .map(|target| ProbeEntry::new(provider, target))
        .collect())
}

/// `(pmu, event)` for every file in `/sys/bus/event_source/devices/*/events/`, skipping the
/// `.unit`/`.scale`/`.per-pkg`/`.snapshot` companions. Unreadable directories give nothing.
pub fn list_pmu_events(fs: &KernelFs) -> Vec<(String, String)> {
    let mut events = Vec::new();
    for pmu in fs.list_dir(PMU_DEVICES_DIR).unwrap_or_default() {
        let Ok(names) = fs.list_dir(&format!("{PMU_DEVICES_DIR}/{pmu}/events")) else {
            continue;
        };
        events.extend(
            names
                .into_iter()
                .filter(|name| !name.contains('.'))
                .map(|name| (pmu.clone(), name)),
        );
    }
    events
}

/// `(perf_type, config, default_period)` for a generic software, hardware or hardware-cache
/// event name or alias (a trailing `:` is allowed). PMU events need sysfs: see [`resolve_pmu_event`].
pub fn resolve_perf_event(provider: Provider, name: &str) -> Option<(u32, u64, u64)> {
    let name = name.strip_suffix(':').unwrap_or(name);
    let perf_type = match provider {
        Provider::Software => PERF_TYPE_SOFTWARE,
        Provider::Hardware => PERF_TYPE_HARDWARE,
        _ => return None,
    };
    if let Some(named) = named_events(provider)
        .iter()
        .find(|named| named.name == name || named.alias == Some(name))
    {
        return Some((perf_type, named.config, named.default_period));
    }
    if provider == Provider::Hardware {
        return hardware_cache_events()
            .into_iter()
            .find(|(cache_name, _)| cache_name == name)
            .map(|(_, config)| {
                (
                    PERF_TYPE_HW_CACHE,
                    config,
                    DEFAULT_PERIOD_FOR_OTHER_HARDWARE_EVENTS,
                )
            });
    }
    None
}

/// A PMU event resolved to `perf_event_attr` fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PmuEvent {
    pub perf_type: u32,
    pub config: u64,
    pub config1: u64,
    pub config2: u64,
    pub default_period: u64,
}

/// Resolves `PMU/EVENT/` (or `PMU/EVENT`, with an optional trailing `:`) from sysfs:
/// `devices/PMU/type`, the event's `term=value,...` text and the `format/` bit layouts.
/// `Ok(None)` when there is no such PMU event.
pub fn resolve_pmu_event(fs: &KernelFs, name: &str) -> Result<Option<PmuEvent>, ProbeError> {
    let name = name.strip_suffix(':').unwrap_or(name);
    let name = name.strip_suffix('/').unwrap_or(name);
    let Some((pmu, event)) = name.split_once('/') else {
        return Ok(None);
    };
    if [pmu, event]
        .iter()
        .any(|part| part.is_empty() || part.contains('/') || *part == "..")
    {
        return Ok(None);
    }
    let device = format!("{PMU_DEVICES_DIR}/{pmu}");
    let Ok(event_text) = fs.read_to_string(&format!("{device}/events/{event}")) else {
        return Ok(None);
    };
    let type_path = format!("{device}/type");
    let type_text = fs
        .read_to_string(&type_path)
        .map_err(|source| ProbeError::Io {
            path: type_path.clone(),
            source,
        })?;
    let perf_type = type_text
        .trim()
        .parse::<u32>()
        .map_err(|_| ProbeError::BadFile {
            path: type_path,
            reason: format!("not a PMU type number: {:?}", type_text.trim()),
        })?;
    let mut formats = Vec::new();
    for term in fs.list_dir(&format!("{device}/format")).unwrap_or_default() {
        if let Ok(text) = fs.read_to_string(&format!("{device}/format/{term}")) {
            formats.push((term, text));
        }
    }
    let words = encode_pmu_event(&event_text, &formats).map_err(|reason| ProbeError::BadFile {
        path: format!("{device}/events/{event}"),
        reason,
    })?;
    Ok(Some(PmuEvent {
        perf_type,
        config: words[0],
        config1: words[1],
        config2: words[2],
        default_period: DEFAULT_PERIOD_FOR_OTHER_HARDWARE_EVENTS,
    }))
}

/// Encodes a sysfs event description (`event=0x3c,umask=0x01,edge`) into `[config, config1,
/// config2]` using the PMU's `format/` files (`(term, "config:0-7")`). A term without a value
/// means 1, as in perf; terms the PMU does not describe are ignored.
pub fn encode_pmu_event(
    event_text: &str,
    formats: &[(String, String)],
) -> Result<[u64; 3], String> {
    let mut words = [0u64; 3];
    for term in event_text
        .trim()
        .split(',')
        .map(str::trim)
        .filter(|term| !term.is_empty())
    {
        let (key, value_text) = term.split_once('=').unwrap_or((term, "1"));
        let value =
            parse_number(value_text.trim()).ok_or_else(|| format!("bad value in term '{term}'"))?;
        let Some((_, layout_text)) = formats.iter().find(|(name, _)| name == key.trim()) else {
            continue;
        };
        let (word_index, ranges) = parse_pmu_format(layout_text)
            .ok_or_else(|| format!("bad format for term '{key}': {layout_text:?}"))?;
        let mut remaining = value;
        for (low, high) in ranges {
            let width = high - low + 1;
            let mask = if width >= 64 {
                u64::MAX
            } else {
                (1u64 << width) - 1
            };
            if let Some(word) = words.get_mut(word_index) {
                *word |= (remaining & mask) << low;
            }
            remaining = if width >= 64 { 0 } else { remaining >> width };
        }
    }
    Ok(words)
}

/// Parses a PMU `format/` file such as `config:0-7` or `config1:0-15,32-35` into the word index
/// (0 for `config`, 1 for `config1`, 2 for `config2`) and inclusive bit ranges.
pub fn parse_pmu_format(text: &str) -> Option<(usize, Vec<(u32, u32)>)> {
    let (word, ranges_text) = text.trim().split_once(':')?;
    let word_index = match word {
        "config" => 0,
        "config1" => 1,
        "config2" => 2,
        _ => return None,
    };
    let mut ranges = Vec::new();
    for range in ranges_text.split(',') {
        let (low, high) = match range.split_once('-') {
            Some((low, high)) => (
                low.trim().parse::<u32>().ok()?,
                high.trim().parse::<u32>().ok()?,
            ),
            None => {
                let bit = range.trim().parse::<u32>().ok()?;
                (bit, bit)
            }
        };
        if low > high || high > 63 {
            return None;
        }
        ranges.push((low, high));
    }
    Some((word_index, ranges))
}

fn parse_number(text: &str) -> Option<u64> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture_fs() -> KernelFs {
        KernelFs::rooted(format!("{}/test_data/host", env!("CARGO_MANIFEST_DIR")))
    }

    fn targets(provider: Provider, pattern: &str) -> Vec<String> {
        let glob = crate::glob::Glob::new(pattern).unwrap();
        list_perf_events(
            &fixture_fs(),
            provider,
            &|target| glob.matches(target),
            false,
        )
        .unwrap()
        .into_iter()
        .map(|entry| entry.full_name())
        .collect()
    }

    #[test]
    fn software_names_and_aliases_sorted() {
        let listed = targets(Provider::Software, "*");
        assert_eq!(listed.len(), 14);
        assert_eq!(
            listed.first().map(String::as_str),
            Some("software:alignment-faults:")
        );
        let cpu: Vec<_> = listed
            .iter()
            .filter(|name| name.starts_with("software:cpu"))
            .collect();
        assert_eq!(
            cpu,
            [
                "software:cpu-clock:",
                "software:cpu-migrations:",
                "software:cpu:"
            ]
        );
        assert!(listed.contains(&"software:cs:".to_string()));
        assert!(listed.contains(&"software:faults:".to_string()));
    }

    #[test]
    fn hardware_generic_cache_and_pmu() {
        let listed = targets(Provider::Hardware, "*");
        for expected in [
            "hardware:cycles:",
            "hardware:branches:",
            "hardware:L1-dcache-load-misses:",
            "hardware:L1-icache-loads:",
            "hardware:iTLB-load-misses:",
            "hardware:msr/tsc/:",
            "hardware:cpu/mem-loads/:",
        ] {
            assert!(
                listed.contains(&expected.to_string()),
                "{expected} missing from {listed:?}"
            );
        }
        assert!(!listed.contains(&"hardware:L1-icache-stores:".to_string()));
        assert!(!listed
            .iter()
            .any(|name| name.contains(".unit") || name.contains(".scale")));
        assert_eq!(
            targets(Provider::Hardware, "msr/*"),
            ["hardware:msr/smi/:", "hardware:msr/tsc/:"]
        );
    }

    #[test]
    fn resolves_names_aliases_and_cache_events() {
        assert_eq!(
            resolve_perf_event(Provider::Software, "cpu-clock"),
            Some((1, 0, 1_000_000))
        );
        assert_eq!(
            resolve_perf_event(Provider::Software, "cs:"),
            Some((1, 3, 1000))
        );
        assert_eq!(
            resolve_perf_event(Provider::Software, "faults"),
            Some((1, 2, 100))
        );
        assert_eq!(
            resolve_perf_event(Provider::Hardware, "cycles"),
            Some((0, 0, 1_000_000))
        );
        assert_eq!(
            resolve_perf_event(Provider::Hardware, "branch-misses"),
            Some((0, 5, 100_000))
        );
        let llc_store_misses = resolve_perf_event(Provider::Hardware, "LLC-store-misses").unwrap();
        assert_eq!(
            (llc_store_misses.0, llc_store_misses.1),
            (3, 2 | (1 << 8) | (1 << 16))
        );
        assert_eq!(resolve_perf_event(Provider::Hardware, "cpu-clock"), None);
        assert_eq!(resolve_perf_event(Provider::Tracepoint, "cpu-clock"), None);
    }

    #[test]
    fn pmu_events_from_sysfs() {
        let fs = fixture_fs();
        let tsc = resolve_pmu_event(&fs, "msr/tsc/").unwrap().unwrap();
        assert_eq!((tsc.perf_type, tsc.config), (9, 0));
        let smi = resolve_pmu_event(&fs, "msr/smi/:").unwrap().unwrap();
        assert_eq!(smi.config, 4);
        let mem_loads = resolve_pmu_event(&fs, "cpu/mem-loads/").unwrap().unwrap();
        assert_eq!(
            (mem_loads.perf_type, mem_loads.config, mem_loads.config1),
            (4, 0x01cd, 3)
        );
        assert_eq!(resolve_pmu_event(&fs, "cpu/nope/").unwrap(), None);
        assert_eq!(resolve_pmu_event(&fs, "../x/").unwrap(), None);
    }

    #[test]
    fn pmu_format_parsing() {
        assert_eq!(parse_pmu_format("config:0-7\n"), Some((0, vec![(0, 7)])));
        assert_eq!(
            parse_pmu_format("config1:0-3,8"),
            Some((1, vec![(0, 3), (8, 8)]))
        );
        assert_eq!(parse_pmu_format("config:9-3"), None);
        assert_eq!(parse_pmu_format("config:0-64"), None);
        let formats = vec![("split".to_string(), "config:0-3,8-11".to_string())];
        assert_eq!(encode_pmu_event("split=0xab", &formats), Ok([0xa0b, 0, 0]));
        assert!(encode_pmu_event("split=zz", &formats).is_err());
    }
}
