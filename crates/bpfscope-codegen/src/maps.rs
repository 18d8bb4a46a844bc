//! The internal maps every compiled program shares: the event ring buffer, the lost counter, the scratch buffer.

use bpfscope_bpf::{MapKind, MapSpec};

pub const RINGBUF_MAP_INDEX: usize = 0;
pub const LOST_MAP_INDEX: usize = 1;
/// Memory for values larger than the stack allows (always created, 8 bytes when unused).
pub const SCRATCH_MAP_INDEX: usize = 2;
/// A per-CPU array never written: zeroed memory to initialise new aggregation values.
pub const ZERO_MAP_INDEX: usize = 3;

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
