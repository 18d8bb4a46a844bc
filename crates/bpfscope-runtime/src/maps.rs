//! BPF maps created from a `MapSpec`: element access with per-CPU value buffers, iteration, snapshots.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use bpfscope_bpf::{MapKind, MapSpec};

use crate::error::RuntimeError;
use crate::sys;

/// A map's entries at one moment: each key with its value per CPU (one value for non-per-CPU maps).
pub type MapSnapshot = Vec<(Vec<u8>, Vec<Vec<u8>>)>;

/// A created map; closed (and freed by the kernel once no program uses it) on drop.
#[derive(Debug)]
pub struct Map {
    pub spec: MapSpec,
    fd: OwnedFd,
    /// Number of possible CPUs, which per-CPU values are sized by.
    possible_cpu_count: usize,
}

/// Whether a spec is a script map without keys stored as a one-entry array (codegen's
/// `maps::script_map_spec`): its value ends with an 8-byte "exists" word, non-zero (on any CPU)
/// when the script has set the map; when it is zero the whole value is zero. [`Map`] shows such
/// a map as the hash the checker describes: one key of 8 zero bytes, present only when set, with
/// values without the word.
pub fn is_keyless_script_array(spec: &MapSpec) -> bool {
    matches!(spec.kind, MapKind::Array | MapKind::PercpuArray)
        && spec
            .layout
            .as_ref()
            .is_some_and(|layout| layout.key.is_empty())
        && spec.value_size >= 8
}

/// The key user space uses for a map without keys (the checker's one zero u64).
const KEYLESS_SCRIPT_KEY: [u8; 8] = [0; 8];
/// The kernel key of a one-entry array: index 0.
const ARRAY_INDEX_ZERO: [u8; 4] = [0; 4];

/// Whether values of this map kind are stored once per CPU.
pub fn is_per_cpu(kind: MapKind) -> bool {
    matches!(kind, MapKind::PercpuHash | MapKind::PercpuArray)
}

/// Hash maps with values above this size (`argv()` values) allocate entries when they are
/// inserted instead of all at creation: 4096 entries of 32 KiB would pin 128 MiB up front.
const PREALLOCATED_VALUE_LIMIT: u32 = 4096;

/// `BPF_F_NO_PREALLOC` for big-valued hash maps (see [`PREALLOCATED_VALUE_LIMIT`]), else 0.
fn creation_flags(spec: &MapSpec) -> u32 {
    const BPF_F_NO_PREALLOC: u32 = 1;
    let hash = matches!(spec.kind, MapKind::Hash | MapKind::PercpuHash);
    if hash && spec.value_size > PREALLOCATED_VALUE_LIMIT {
        BPF_F_NO_PREALLOC
    } else {
        0
    }
}

impl Map {
    /// Creates the map the spec describes.
    pub fn create(spec: &MapSpec) -> Result<Map, RuntimeError> {
        let possible_cpu_count = sys::possible_cpus()
            .map_err(|error| {
                RuntimeError::syscall("reading /sys/devices/system/cpu/possible", error)
            })?
            .len();
        let (key_size, value_size) = match spec.kind {
            // The kernel insists on zero key and value sizes for ring buffers.
            MapKind::Ringbuf => (0, 0),
            _ => (spec.key_size, spec.value_size),
        };
        if spec.kind == MapKind::Ringbuf {
            let page = sys::page_size() as u32;
            if !spec.max_entries.is_power_of_two() || !spec.max_entries.is_multiple_of(page) {
                return Err(RuntimeError::InvalidProgram(format!(
                    "ring buffer {} has size {}, which is not a power-of-2 multiple of the page size {page}",
                    spec.name, spec.max_entries
                )));
            }
        }
        let fd = sys::bpf_map_create(
            spec.kind as u32,
            key_size,
            value_size,
            spec.max_entries,
            creation_flags(spec),
            &spec.name,
        )
        .map_err(|error| {
            RuntimeError::syscall(
                format!(
                    "creating map {} ({:?}, key {} bytes, value {} bytes, {} entries)",
                    spec.name, spec.kind, spec.key_size, spec.value_size, spec.max_entries
                ),
                error,
            )
        })?;
        Ok(Map {
            spec: spec.clone(),
            fd,
            possible_cpu_count,
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// How many values one lookup returns: the possible CPU count for per-CPU maps, else 1.
    pub fn values_per_key(&self) -> usize {
        if is_per_cpu(self.spec.kind) {
            self.possible_cpu_count
        } else {
            1
        }
    }

    /// The stride of one value in the kernel's lookup buffer (per-CPU values are 8-byte aligned).
    fn value_stride(&self) -> usize {
        let size = self.spec.value_size as usize;
        if is_per_cpu(self.spec.kind) {
            size.div_ceil(8) * 8
        } else {
            size
        }
    }

    /// The size of the buffer the kernel reads/writes for one key's value(s).
    pub fn value_buffer_size(&self) -> usize {
        self.value_stride() * self.values_per_key()
    }

    /// The value size the script sees: without the "exists" word of a keyless array.
    pub fn script_value_size(&self) -> usize {
        let size = self.spec.value_size as usize;
        if is_keyless_script_array(&self.spec) {
            size.saturating_sub(8)
        } else {
            size
        }
    }

    /// The key of a keyless array as callers give it: 8 zero bytes (or the array's 4-byte index 0).
    fn check_keyless_key(&self, key: &[u8]) -> Result<(), RuntimeError> {
        if key == KEYLESS_SCRIPT_KEY || key == ARRAY_INDEX_ZERO {
            return Ok(());
        }
        Err(RuntimeError::InvalidProgram(format!(
            "key of {} bytes for map {}, which has no keys (8 zero bytes)",
            key.len(),
            self.spec.name
        )))
    }

    /// Whether any CPU's value of a keyless array has its "exists" word set.
    fn keyless_is_set(values: &[Vec<u8>]) -> bool {
        values.iter().any(|value| {
            let word_start = value.len().saturating_sub(8);
            value
                .get(word_start..)
                .is_some_and(|word| word.iter().any(|byte| *byte != 0))
        })
    }

    fn check_key(&self, key: &[u8]) -> Result<(), RuntimeError> {
        if is_keyless_script_array(&self.spec) {
            return self.check_keyless_key(key);
        }
        if key.len() != self.spec.key_size as usize {
            return Err(RuntimeError::InvalidProgram(format!(
                "key of {} bytes for map {} whose keys have {} bytes",
                key.len(),
                self.spec.name,
                self.spec.key_size
            )));
        }
        Ok(())
    }

    /// Looks up `key`; returns its value per CPU (one entry for non-per-CPU maps), or None.
    pub fn lookup(&self, key: &[u8]) -> Result<Option<Vec<Vec<u8>>>, RuntimeError> {
        self.check_key(key)?;
        if is_keyless_script_array(&self.spec) {
            let Some(mut values) = self.raw_lookup(&ARRAY_INDEX_ZERO)? else {
                return Ok(None);
            };
            if !Self::keyless_is_set(&values) {
                return Ok(None);
            }
            let size = self.script_value_size();
            for value in &mut values {
                value.truncate(size);
            }
            return Ok(Some(values));
        }
        self.raw_lookup(key)
    }

    /// Looks up `key` as the kernel stores it (whole values, "exists" words included).
    fn raw_lookup(&self, key: &[u8]) -> Result<Option<Vec<Vec<u8>>>, RuntimeError> {
        let mut buffer = vec![0u8; self.value_buffer_size()];
        let found = sys::bpf_map_lookup_elem(self.fd(), key, &mut buffer).map_err(|error| {
            RuntimeError::syscall(format!("reading map {}", self.spec.name), error)
        })?;
        Ok(found.then(|| self.split_values(&buffer)))
    }

    fn split_values(&self, buffer: &[u8]) -> Vec<Vec<u8>> {
        let stride = self.value_stride().max(1);
        let size = self.spec.value_size as usize;
        buffer
            .chunks(stride)
            .take(self.values_per_key())
            .map(|chunk| chunk.get(..size).unwrap_or(chunk).to_vec())
            .collect()
    }

    /// Sets `key` to `values`: one value (or, for per-CPU maps, one value per possible CPU, or a
    /// single value written to every CPU).
    /// A keyless array takes values without its "exists" word, and is set afterwards.
    pub fn update(&self, key: &[u8], values: &[&[u8]]) -> Result<(), RuntimeError> {
        self.check_key(key)?;
        if is_keyless_script_array(&self.spec) {
            let size = self.script_value_size();
            let mut whole_values = Vec::with_capacity(values.len());
            for value in values {
                if value.len() != size {
                    return Err(RuntimeError::InvalidProgram(format!(
                        "value of {} bytes for map {} whose values have {size} bytes",
                        value.len(),
                        self.spec.name
                    )));
                }
                let mut whole = vec![0u8; self.spec.value_size as usize];
                if let Some(slot) = whole.get_mut(..size) {
                    slot.copy_from_slice(value);
                }
                let word_start = whole.len().saturating_sub(8);
                if let Some(word) = whole.get_mut(word_start..) {
                    word.copy_from_slice(&1u64.to_ne_bytes());
                }
                whole_values.push(whole);
            }
            let borrowed: Vec<&[u8]> = whole_values.iter().map(Vec::as_slice).collect();
            return self.raw_update(&ARRAY_INDEX_ZERO, &borrowed);
        }
        self.raw_update(key, values)
    }

    /// Writes whole values (as the kernel stores them) under `key`.
    fn raw_update(&self, key: &[u8], values: &[&[u8]]) -> Result<(), RuntimeError> {
        let size = self.spec.value_size as usize;
        let stride = self.value_stride();
        let mut buffer = vec![0u8; self.value_buffer_size()];
        let count = self.values_per_key();
        if values.len() != 1 && values.len() != count {
            return Err(RuntimeError::InvalidProgram(format!(
                "{} values for map {} which takes 1 or {count}",
                values.len(),
                self.spec.name
            )));
        }
        for cpu in 0..count {
            let value = values
                .get(cpu)
                .or_else(|| values.first())
                .copied()
                .unwrap_or(&[]);
            if value.len() != size {
                return Err(RuntimeError::InvalidProgram(format!(
                    "value of {} bytes for map {} whose values have {size} bytes",
                    value.len(),
                    self.spec.name
                )));
            }
            if let Some(slot) = buffer.get_mut(cpu * stride..cpu * stride + size) {
                slot.copy_from_slice(value);
            }
        }
        sys::bpf_map_update_elem(self.fd(), key, &buffer, sys::BPF_ANY).map_err(|error| {
            RuntimeError::syscall(format!("writing map {}", self.spec.name), error)
        })
    }

    /// Deletes `key`; returns whether it existed. (Arrays cannot delete: use `zero`.)
    pub fn delete(&self, key: &[u8]) -> Result<bool, RuntimeError> {
        self.check_key(key)?;
        if is_keyless_script_array(&self.spec) {
            // An array entry cannot go: all zero (the word too) is the unset state.
            let existed = self.lookup(key)?.is_some();
            if existed {
                self.write_keyless_unset()?;
            }
            return Ok(existed);
        }
        sys::bpf_map_delete_elem(self.fd(), key).map_err(|error| {
            RuntimeError::syscall(format!("deleting from map {}", self.spec.name), error)
        })
    }

    /// The key after `key` (the first key for None), or None at the end.
    pub fn next_key(&self, key: Option<&[u8]>) -> Result<Option<Vec<u8>>, RuntimeError> {
        if let Some(key) = key {
            self.check_key(key)?;
        }
        let mut next = vec![0u8; self.spec.key_size as usize];
        let found = sys::bpf_map_get_next_key(self.fd(), key, &mut next).map_err(|error| {
            RuntimeError::syscall(format!("iterating map {}", self.spec.name), error)
        })?;
        Ok(found.then_some(next))
    }

    /// All keys now in the map.
    pub fn keys(&self) -> Result<Vec<Vec<u8>>, RuntimeError> {
        if self.spec.kind == MapKind::Ringbuf {
            return Ok(Vec::new());
        }
        if is_keyless_script_array(&self.spec) {
            let is_set = self.lookup(&KEYLESS_SCRIPT_KEY)?.is_some();
            return Ok(if is_set {
                vec![KEYLESS_SCRIPT_KEY.to_vec()]
            } else {
                Vec::new()
            });
        }
        let mut keys = Vec::new();
        let mut current: Option<Vec<u8>> = None;
        // Bounded: a hash map being updated concurrently can restart iteration from its start,
        // so never loop more than a generous multiple of its capacity.
        let limit = (self.spec.max_entries as usize)
            .saturating_mul(4)
            .saturating_add(16);
        while keys.len() < limit {
            match self.next_key(current.as_deref())? {
                Some(next) => {
                    keys.push(next.clone());
                    current = Some(next);
                }
                None => break,
            }
        }
        Ok(keys)
    }

    /// All entries: each key with its value per CPU. Keys deleted during the walk are skipped.
    pub fn snapshot(&self) -> Result<MapSnapshot, RuntimeError> {
        let mut entries = Vec::new();
        for key in self.keys()? {
            if let Some(values) = self.lookup(&key)? {
                entries.push((key, values));
            }
        }
        Ok(entries)
    }

    /// A keyless array back to its unset state: every CPU's value all zero, "exists" word too.
    fn write_keyless_unset(&self) -> Result<(), RuntimeError> {
        let zero = vec![0u8; self.spec.value_size as usize];
        self.raw_update(&ARRAY_INDEX_ZERO, &[&zero])
    }

    /// Removes every entry (hash maps) or zeroes every slot (arrays); a keyless array becomes
    /// unset, as an emptied hash.
    pub fn clear(&self) -> Result<(), RuntimeError> {
        if is_keyless_script_array(&self.spec) {
            return self.write_keyless_unset();
        }
        match self.spec.kind {
            MapKind::Array | MapKind::PercpuArray => self.zero(),
            MapKind::Ringbuf => Ok(()),
            MapKind::Hash | MapKind::PercpuHash | MapKind::LruHash => {
                for key in self.keys()? {
                    self.delete(&key)?;
                }
                Ok(())
            }
        }
    }

    /// Sets every existing entry's value to zero bytes (a set keyless array stays set).
    pub fn zero(&self) -> Result<(), RuntimeError> {
        let zero = vec![0u8; self.script_value_size()];
        for key in self.keys()? {
            self.update(&key, &[&zero])?;
        }
        Ok(())
    }

    /// Sums slot `index` of a per-CPU (or plain) array of u64 counters over all CPUs.
    pub fn sum_u64_slot(&self, index: u32) -> Result<u64, RuntimeError> {
        let key = index.to_ne_bytes();
        let values = self
            .lookup(key.get(..self.spec.key_size as usize).unwrap_or(&key))?
            .unwrap_or_default();
        Ok(values
            .iter()
            .filter_map(|value| {
                value
                    .get(..8)
                    .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
            })
            .map(u64::from_ne_bytes)
            .fold(0u64, u64::wrapping_add))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfscope_bpf::{MapLayout, MapValue};

    /// `@x = count()` as codegen stores it: a one-entry per-CPU array, 8 value bytes + the word.
    fn keyless_count_spec() -> MapSpec {
        MapSpec {
            name: "@x".to_string(),
            kind: MapKind::PercpuArray,
            key_size: 4,
            value_size: 16,
            max_entries: 1,
            layout: Some(MapLayout {
                key: Vec::new(),
                value: MapValue::Count,
            }),
        }
    }

    #[test]
    fn keyless_array_reads_as_a_hash_with_one_optional_key() {
        let spec = keyless_count_spec();
        assert!(is_keyless_script_array(&spec));
        let map = match Map::create(&spec) {
            Ok(map) => map,
            Err(error) => {
                eprintln!("skipping: cannot create BPF maps here: {error}");
                return;
            }
        };
        let key = [0u8; 8];
        assert_eq!(map.script_value_size(), 8);
        // Never set: no key, as an empty hash.
        assert!(map.keys().expect("keys").is_empty());
        assert!(map.lookup(&key).expect("lookup").is_none());
        assert!(map.snapshot().expect("snapshot").is_empty());
        // Set to 0: present, with a value without the word.
        map.update(&key, &[&0u64.to_ne_bytes()]).expect("update");
        let values = map.lookup(&key).expect("lookup").expect("set");
        assert!(values.iter().all(|value| value == &0u64.to_ne_bytes()));
        map.update(&key, &[&7u64.to_ne_bytes()]).expect("update");
        assert_eq!(map.keys().expect("keys"), vec![key.to_vec()]);
        // zero(): still present, value 0.
        map.zero().expect("zero");
        let values = map.lookup(&key).expect("lookup").expect("still set");
        assert!(values.iter().all(|value| value == &0u64.to_ne_bytes()));
        // clear(): unset, and the raw value (word included) is all zero.
        map.clear().expect("clear");
        assert!(map.snapshot().expect("snapshot").is_empty());
        let raw = map.raw_lookup(&[0u8; 4]).expect("raw").expect("entry");
        assert!(raw.iter().flatten().all(|byte| *byte == 0));
        // delete(): says whether it was set.
        map.update(&key, &[&3u64.to_ne_bytes()]).expect("update");
        assert!(map.delete(&key).expect("delete"));
        assert!(!map.delete(&key).expect("delete again"));
        assert!(map.lookup(&[1u8; 8]).is_err());
    }
}
