//! The kernel maps of a compiled program: the internal ones every program shares (event ring buffer, lost counter, scratch buffer...) and the one each script map becomes.

use bpfscope_bpf::{MapKind, MapSpec};
use bpfscope_check::ScriptMap;

pub const RINGBUF_MAP_INDEX: usize = 0;
pub const LOST_MAP_INDEX: usize = 1;
/// Memory for values larger than the stack allows (always created, 8 bytes when unused).
pub const SCRATCH_MAP_INDEX: usize = 2;
/// A per-CPU array never written: zeroed memory to initialise new aggregation values.
pub const ZERO_MAP_INDEX: usize = 3;
/// Values user space writes before loading: the start time (`elapsed`) and the `-c` pid (`cpid`).
pub const GLOBALS_MAP_INDEX: usize = 4;
/// Per-CPU counters of updates refused because a map was full, one slot per map index.
pub const DROPPED_UPDATES_MAP_INDEX: usize = 5;
/// Room for records too large for the scratch map (`argv()`): one entry per possible CPU.
pub const BIGBUF_MAP_INDEX: usize = 6;

pub fn globals_spec() -> MapSpec {
    MapSpec {
        name: ".globals".to_string(),
        kind: MapKind::Array,
        key_size: 4,
        value_size: 8,
        max_entries: bpfscope_bpf::GlobalSlot::COUNT,
        layout: None,
    }
}

/// One counter per map of the compiled program (`map_count` of them, internal ones included, so
/// that a slot index is a map index).
pub fn dropped_updates_spec(map_count: u32) -> MapSpec {
    MapSpec {
        name: ".dropped".to_string(),
        kind: MapKind::PercpuArray,
        key_size: 4,
        value_size: 8,
        max_entries: map_count.max(1),
        layout: None,
    }
}

pub fn ringbuf_spec(bytes: u32) -> MapSpec {
    MapSpec {
        name: ".ringbuf".to_string(),
        kind: MapKind::Ringbuf,
        key_size: 0,
        value_size: 0,
        max_entries: bytes,
        layout: None,
    }
}

pub fn lost_counter_spec() -> MapSpec {
    MapSpec {
        name: ".lost".to_string(),
        kind: MapKind::PercpuArray,
        key_size: 4,
        value_size: 8,
        max_entries: 1,
        layout: None,
    }
}

pub fn scratch_spec(bytes: u32) -> MapSpec {
    MapSpec {
        name: ".scratch".to_string(),
        kind: MapKind::PercpuArray,
        key_size: 4,
        value_size: bytes.max(8).div_ceil(8) * 8,
        max_entries: 1,
        layout: None,
    }
}

pub fn zero_spec(bytes: u32) -> MapSpec {
    MapSpec {
        name: ".zero".to_string(),
        kind: MapKind::PercpuArray,
        key_size: 4,
        value_size: bytes.max(8).div_ceil(8) * 8,
        max_entries: 1,
        layout: None,
    }
}

/// Whether a script map is stored as a one-entry array instead of a hash: maps without keys
/// (`@ = count()`, `@x = 1`, `@h = hist(n)`). The kernel inlines array lookups into JIT'd
/// programs and computes no hash, which is the whole per-event cost of `@ = count()`.
pub fn is_keyless_array(map: &ScriptMap) -> bool {
    map.keys.is_empty()
}

/// Where the "exists" word of a keyless array map sits: after the value rounded up to 8 bytes.
///
/// An array entry always exists, so this word says whether the script has set the map (non-zero)
/// or not (zero: never assigned, deleted or cleared). Whenever it is zero the whole value is zero
/// too, so that reading an unset map gives 0 without looking at the word, as an absent hash key
/// does. For per-CPU arrays the map is set when any CPU's word is non-zero. User space
/// (`bpfscope_runtime::Map`) reads and writes the same layout: the word is the value's last 8 bytes.
pub fn keyless_exists_offset(map: &ScriptMap) -> u32 {
    map.value_size().div_ceil(8) * 8
}

/// The kernel map for a script map: the checker's hash spec, or for a map without keys a
/// one-entry (per-CPU) array whose value ends with the "exists" word.
pub fn script_map_spec(map: &ScriptMap) -> MapSpec {
    let mut spec = map.spec();
    if is_keyless_array(map) {
        spec.kind = if map.is_per_cpu() {
            MapKind::PercpuArray
        } else {
            MapKind::Array
        };
        spec.key_size = 4;
        spec.value_size = keyless_exists_offset(map) + 8;
        spec.max_entries = 1;
    }
    spec
}

/// `.bigbuf`: an array with one `bytes`-sized entry per possible CPU, each program using its
/// own CPU's. A plain array, because per-CPU map values are limited to 32 KiB.
pub fn big_buffer_spec(bytes: u32, possible_cpus: u32) -> MapSpec {
    MapSpec {
        name: ".bigbuf".to_string(),
        kind: MapKind::Array,
        key_size: 4,
        value_size: bytes.max(8).div_ceil(8) * 8,
        max_entries: possible_cpus.max(1),
        layout: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfscope_check::{MapValueKind, Type};

    fn script_map(keys: Vec<Type>, value: MapValueKind) -> ScriptMap {
        ScriptMap {
            name: "@m".to_string(),
            keys,
            value,
            max_entries: 4096,
        }
    }

    #[test]
    fn keyless_aggregation_is_a_one_entry_per_cpu_array_with_an_exists_word() {
        let spec = script_map_spec(&script_map(Vec::new(), MapValueKind::Count));
        assert_eq!(spec.kind, MapKind::PercpuArray);
        assert_eq!(
            (spec.key_size, spec.value_size, spec.max_entries),
            (4, 16, 1)
        );
        let min = script_map(Vec::new(), MapValueKind::Min { signed: true });
        assert_eq!(keyless_exists_offset(&min), 16);
        assert_eq!(script_map_spec(&min).value_size, 24);
        assert!(script_map_spec(&min).layout.is_some());
    }

    #[test]
    fn keyless_plain_value_is_an_array_and_keyed_maps_stay_hashes() {
        let plain = script_map(Vec::new(), MapValueKind::Plain(Type::INT64));
        let spec = script_map_spec(&plain);
        assert_eq!(spec.kind, MapKind::Array);
        assert_eq!((spec.key_size, spec.value_size), (4, 16));
        let keyed = script_map(vec![Type::UINT64], MapValueKind::Count);
        let keyed_spec = script_map_spec(&keyed);
        assert_eq!(keyed_spec, keyed.spec());
        assert_eq!(keyed_spec.kind, MapKind::PercpuHash);
    }
}
