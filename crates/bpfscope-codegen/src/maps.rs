//! The internal maps every compiled program shares: the event ring buffer, the lost counter, the scratch buffer.

use bpfscope_bpf::{MapKind, MapSpec};

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
