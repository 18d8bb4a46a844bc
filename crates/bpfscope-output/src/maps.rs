//! Map snapshots to bpftrace text or JSON: per-CPU merging, sorting, `top`/`div`, histograms.
//!
//! # Value layouts the code generator must produce (all little-endian)
//!
//! Keys: the `MapLayout::key` types back to back, no padding (an empty key list is a scalar map
//! such as `@x`, whose key bytes are ignored). Values, one slot per CPU for per-CPU maps:
//!
//! | `MapValue`        | value bytes                                                                   |
//! |-------------------|-------------------------------------------------------------------------------|
//! | `Plain(ty)`       | `ty` at offset 0 (not per-CPU)                                                |
//! | `Count`           | `u64` count                                                                   |
//! | `Sum`             | 64-bit sum (`i64` if `signed`)                                                |
//! | `Min` / `Max`     | 64-bit value, then `u64` "set" flag (non-zero once this CPU stored a value); CPUs whose flag is 0 are ignored. An 8-byte value (no flag) counts as always set. |
//! | `Avg` / `Stats`   | `u64` count, then 64-bit total                                                |
//! | `Hist`            | [`HIST_BUCKET_COUNT`] `u64` counters, see [`hist_bucket_index`]               |
//! | `Lhist{min,max,step}` | [`lhist_bucket_count`] `u64` counters, see [`lhist_bucket_index`]        |
//!
//! Text output follows bpftrace 0.17 byte for byte; where 0.17 prints entries in the kernel's hash
//! order (ties of the sort value, and maps not sorted by value), entries are sorted by key instead,
//! as newer bpftrace does.

use std::cmp::Ordering;
use std::io::Write;

use bpfscope_bpf::{MapLayout, MapSpec, MapValue, ValueType};

use crate::escape::push_json_string;
use crate::value::{
    compare_values, decode_value, integer_text, push_map_key_text, push_value_json,
    push_value_key_text, push_value_text, read_unsigned, DecodedValue, TextStyle,
};
use crate::{OutputError, OutputFormat};

/// One map entry as read from the kernel: the key bytes and one value per CPU (one value for
/// maps that are not per-CPU).
pub type MapEntry = (Vec<u8>, Vec<Vec<u8>>);

/// Buckets of a `hist()` value: negative values, zero, then `[2^k, 2^(k+1))` for k = 0..=63.
pub const HIST_BUCKET_COUNT: usize = 66;

/// Width of histogram bars, in `@` characters.
const BAR_WIDTH: u128 = 52;

/// The bucket a `hist()` value falls in: 0 for negative values, 1 for 0, `2 + floor(log2(v))` otherwise.
pub fn hist_bucket_index(value: i64) -> usize {
    if value < 0 {
        0
    } else if value == 0 {
        1
    } else {
        2 + (63 - value.leading_zeros() as usize)
    }
}

/// Buckets of an `lhist(v, min, max, step)` value: one below `min`, `(max - min) / step` regular
/// ones, one at or above the last regular bucket's end (labelled `[max, ...)`, as bpftrace does).
pub fn lhist_bucket_count(min: i64, max: i64, step: i64) -> usize {
    lhist_regular_bucket_count(min, max, step).saturating_add(2)
}

fn lhist_regular_bucket_count(min: i64, max: i64, step: i64) -> usize {
    if step <= 0 || max <= min {
        return 0;
    }
    usize::try_from((i128::from(max) - i128::from(min)) / i128::from(step)).unwrap_or(0)
}

/// The bucket an `lhist()` value falls in: 0 below `min`, `1 + (v - min) / step` inside, the last
/// bucket when that index passes the regular buckets.
pub fn lhist_bucket_index(value: i64, min: i64, max: i64, step: i64) -> usize {
    let regular = lhist_regular_bucket_count(min, max, step);
    if value < min {
        return 0;
    }
    let offset_in_steps = (i128::from(value) - i128::from(min)) / i128::from(step.max(1));
    match usize::try_from(offset_in_steps) {
        Ok(index) if index < regular => index.saturating_add(1),
        _ => regular.saturating_add(1),
    }
}

/// A map value after merging the per-CPU slots.
#[derive(Clone, Debug)]
enum MergedValue<'a> {
    Plain(DecodedValue<'a>),
    Number {
        bits: u64,
        signed: bool,
    },
    Average {
        count: u64,
        total_bits: u64,
        signed: bool,
        with_stats: bool,
    },
    Buckets(Vec<u64>),
}

impl MergedValue<'_> {
    /// The number bpftrace sorts entries by, if the value kind is sorted by value.
    fn sort_number(&self) -> Option<i128> {
        match self {
            MergedValue::Plain(DecodedValue::Integer { bits, signed })
            | MergedValue::Number { bits, signed } => Some(if *signed {
                i128::from(*bits as i64)
            } else {
                i128::from(*bits)
            }),
            MergedValue::Plain(_) => None,
            MergedValue::Average {
                count,
                total_bits,
                signed,
                ..
            } => Some(average(*count, *total_bits, *signed, None)),
            MergedValue::Buckets(buckets) => {
                Some(buckets.iter().map(|&count| i128::from(count)).sum())
            }
        }
    }
}

fn average(count: u64, total_bits: u64, signed: bool, div: Option<u64>) -> i128 {
    // C integer division (truncating towards zero), as bpftrace computes `total / count`.
    let mean = if count == 0 {
        0
    } else if signed {
        i128::from(total_bits as i64) / i128::from(count)
    } else {
        i128::from(total_bits / count)
    };
    divide(mean, div)
}

fn divide(value: i128, div: Option<u64>) -> i128 {
    match div {
        Some(divisor) if divisor > 0 => value / i128::from(divisor),
        _ => value,
    }
}

fn value_too_short(spec: &MapSpec, expected: usize, actual: usize) -> OutputError {
    OutputError::MapValueSize {
        map: spec.name.clone(),
        expected,
        actual,
    }
}

fn merge_values<'a>(
    spec: &MapSpec,
    layout: &MapLayout,
    per_cpu: &'a [Vec<u8>],
) -> Result<MergedValue<'a>, OutputError> {
    let read_u64 = |slot: &[u8], offset: usize| -> Result<u64, OutputError> {
        read_unsigned(slot, offset, 8).map_err(|_| value_too_short(spec, offset + 8, slot.len()))
    };
    match &layout.value {
        MapValue::Plain(ty) => {
            let first = per_cpu.first().map(Vec::as_slice).unwrap_or_default();
            let decoded = decode_value(ty, first, 0)
                .map_err(|_| value_too_short(spec, ty.size() as usize, first.len()))?;
            Ok(MergedValue::Plain(decoded))
        }
        MapValue::Count => {
            let mut total = 0u64;
            for slot in per_cpu {
                total = total.wrapping_add(read_u64(slot, 0)?);
            }
            Ok(MergedValue::Number {
                bits: total,
                signed: false,
            })
        }
        MapValue::Sum { signed } => {
            let mut total = 0u64;
            for slot in per_cpu {
                total = total.wrapping_add(read_u64(slot, 0)?);
            }
            Ok(MergedValue::Number {
                bits: total,
                signed: *signed,
            })
        }
        MapValue::Min { signed } | MapValue::Max { signed } => {
            let want_minimum = matches!(layout.value, MapValue::Min { .. });
            let mut best: Option<i128> = None;
            for slot in per_cpu {
                let bits = read_u64(slot, 0)?;
                let is_set = if slot.len() >= 16 {
                    read_u64(slot, 8)? != 0
                } else {
                    true
                };
                if !is_set {
                    continue;
                }
                let number = if *signed {
                    i128::from(bits as i64)
                } else {
                    i128::from(bits)
                };
                best = Some(match best {
                    None => number,
                    Some(current) if want_minimum => current.min(number),
                    Some(current) => current.max(number),
                });
            }
            // The number came from 64 bits, so converting back is exact.
            let bits = best.map(|number| number as u64).unwrap_or(0);
            Ok(MergedValue::Number {
                bits,
                signed: *signed,
            })
        }
        MapValue::Avg { signed } | MapValue::Stats { signed } => {
            let mut count = 0u64;
            let mut total_bits = 0u64;
            for slot in per_cpu {
                count = count.wrapping_add(read_u64(slot, 0)?);
                total_bits = total_bits.wrapping_add(read_u64(slot, 8)?);
            }
            let with_stats = matches!(layout.value, MapValue::Stats { .. });
            Ok(MergedValue::Average {
                count,
                total_bits,
                signed: *signed,
                with_stats,
            })
        }
        MapValue::Hist | MapValue::Lhist { .. } => {
            let bucket_count = match &layout.value {
                MapValue::Lhist { min, max, step } => lhist_bucket_count(*min, *max, *step),
                _ => HIST_BUCKET_COUNT,
            };
            let needed_bytes = bucket_count.saturating_mul(8);
            // Check every slot before allocating, so a bogus layout cannot make us allocate more
            // than the snapshot itself holds.
            if let Some(short_slot) = per_cpu.iter().find(|slot| slot.len() < needed_bytes) {
                return Err(value_too_short(spec, needed_bytes, short_slot.len()));
            }
            let mut buckets = if per_cpu.is_empty() {
                Vec::new()
            } else {
                vec![0u64; bucket_count]
            };
            for slot in per_cpu {
                for (index, bucket) in buckets.iter_mut().enumerate() {
                    *bucket = bucket.wrapping_add(read_u64(slot, index * 8)?);
                }
            }
            Ok(MergedValue::Buckets(buckets))
        }
    }
}

fn decode_key<'a>(
    spec: &MapSpec,
    key_types: &[ValueType],
    key: &'a [u8],
) -> Result<Vec<DecodedValue<'a>>, OutputError> {
    let mut offset = 0usize;
    let mut parts = Vec::with_capacity(key_types.len());
    for key_type in key_types {
        let part = decode_value(key_type, key, offset).map_err(|_| OutputError::ShortData {
            what: format!("key of map {}", spec.name),
            needed: offset.saturating_add(key_type.size() as usize),
            available: key.len(),
        })?;
        parts.push(part);
        offset = offset.saturating_add(key_type.size() as usize);
    }
    Ok(parts)
}

fn compare_keys(left: &[DecodedValue<'_>], right: &[DecodedValue<'_>]) -> Ordering {
    for (part_left, part_right) in left.iter().zip(right.iter()) {
        let ordering = compare_values(part_left, part_right);
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    left.len().cmp(&right.len())
}

/// Formats a number with bpftrace's power-of-1024 suffixes (`1K`, `16M`, `8E`) when it is a
/// non-zero multiple of 1024.
fn number_with_suffix(number: i128) -> String {
    const SUFFIXES: [&str; 6] = ["K", "M", "G", "T", "P", "E"];
    let mut reduced = number;
    let mut suffix = "";
    for candidate in SUFFIXES {
        if reduced != 0 && reduced % 1024 == 0 {
            reduced /= 1024;
            suffix = candidate;
        } else {
            break;
        }
    }
    format!("{reduced}{suffix}")
}

/// One printable histogram row: its text label and its JSON bounds.
struct BucketBounds {
    label: String,
    json_min: Option<i128>,
    json_max: Option<i128>,
}

fn hist_bounds(index: usize) -> BucketBounds {
    match index {
        0 => BucketBounds {
            label: "(..., 0)".to_string(),
            json_min: None,
            json_max: Some(-1),
        },
        1 => BucketBounds {
            label: "[0]".to_string(),
            json_min: Some(0),
            json_max: Some(0),
        },
        2 => BucketBounds {
            label: "[1]".to_string(),
            json_min: Some(1),
            json_max: Some(1),
        },
        _ => {
            let power = (index - 2).min(126) as u32;
            let low = 1i128 << power;
            let high = 1i128 << (power + 1);
            BucketBounds {
                label: format!(
                    "[{}, {})",
                    number_with_suffix(low),
                    number_with_suffix(high)
                ),
                json_min: Some(low),
                json_max: Some(high - 1),
            }
        }
    }
}

fn lhist_bounds(index: usize, min: i64, max: i64, step: i64) -> BucketBounds {
    let regular = lhist_regular_bucket_count(min, max, step);
    // bpftrace abbreviates with K/M... only when the step is a multiple of 1024.
    let show = |number: i128| {
        if step % 1024 == 0 {
            number_with_suffix(number)
        } else {
            number.to_string()
        }
    };
    let (min, max, step) = (i128::from(min), i128::from(max), i128::from(step));
    if index == 0 {
        BucketBounds {
            label: format!("(..., {})", show(min)),
            json_min: None,
            json_max: Some(min - 1),
        }
    } else if index > regular {
        BucketBounds {
            label: format!("[{}, ...)", show(max)),
            json_min: Some(max),
            json_max: None,
        }
    } else {
        let low = min + (index as i128 - 1) * step;
        let high = low + step;
        BucketBounds {
            label: format!("[{}, {})", show(low), show(high)),
            json_min: Some(low),
            json_max: Some(high - 1),
        }
    }
}

/// The range of buckets bpftrace prints: first to last non-zero one.
fn nonzero_bucket_range(buckets: &[u64]) -> Option<(usize, usize)> {
    let first = buckets.iter().position(|&count| count != 0)?;
    let last = buckets.iter().rposition(|&count| count != 0)?;
    Some((first, last))
}

fn bucket_bounds(value_kind: &MapValue, index: usize) -> BucketBounds {
    match value_kind {
        MapValue::Lhist { min, max, step } => lhist_bounds(index, *min, *max, *step),
        _ => hist_bounds(index),
    }
}

fn divided_buckets(buckets: &[u64], div: Option<u64>) -> Vec<u64> {
    buckets
        .iter()
        .map(|&count| match div {
            Some(divisor) if divisor > 0 => count / divisor,
            _ => count,
        })
        .collect()
}

fn push_histogram_text(value_kind: &MapValue, buckets: &[u64], out: &mut Vec<u8>) {
    let Some((first, last)) = nonzero_bucket_range(buckets) else {
        return;
    };
    let shown = buckets.get(first..=last).unwrap_or_default();
    let largest = u128::from(shown.iter().copied().max().unwrap_or(0).max(1));
    for (offset, &count) in shown.iter().enumerate() {
        let bounds = bucket_bounds(value_kind, first + offset);
        let bar_length = (u128::from(count) * BAR_WIDTH / largest) as usize;
        let bar = "@".repeat(bar_length);
        let row = format!("{:<16}{:>8} |{:<52}|\n", bounds.label, count, bar);
        out.extend_from_slice(row.as_bytes());
    }
}

fn push_histogram_json(value_kind: &MapValue, buckets: &[u64], out: &mut String) {
    out.push('[');
    if let Some((first, last)) = nonzero_bucket_range(buckets) {
        for (offset, &count) in buckets
            .get(first..=last)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            if offset > 0 {
                out.push_str(", ");
            }
            let bounds = bucket_bounds(value_kind, first + offset);
            out.push('{');
            if let Some(min) = bounds.json_min {
                out.push_str(&format!("\"min\": {min}, "));
            }
            if let Some(max) = bounds.json_max {
                out.push_str(&format!("\"max\": {max}, "));
            }
            out.push_str(&format!("\"count\": {count}}}"));
        }
    }
    out.push(']');
}

fn number_text(bits: u64, signed: bool, div: Option<u64>) -> String {
    match div {
        Some(divisor) if divisor > 0 => {
            let number = if signed {
                i128::from(bits as i64)
            } else {
                i128::from(bits)
            };
            (number / i128::from(divisor)).to_string()
        }
        _ => integer_text(bits, signed),
    }
}

fn stats_parts(count: u64, total_bits: u64, signed: bool, div: Option<u64>) -> (u64, i128, i128) {
    let total = if signed {
        i128::from(total_bits as i64)
    } else {
        i128::from(total_bits)
    };
    (
        count,
        average(count, total_bits, signed, div),
        divide(total, div),
    )
}

/// Prints one map snapshot (`print(@m [, top [, div]])` or at exit) as bpftrace does.
///
/// `entries` hold raw keys and per-CPU values (see the module docs for layouts). `top` keeps the
/// `top` largest entries after sorting; `div` divides printed values. An empty map prints an empty
/// line in text (as bpftrace 0.17 does) and nothing in JSON.
pub fn print_map(
    spec: &MapSpec,
    entries: Vec<MapEntry>,
    format: OutputFormat,
    top: Option<usize>,
    div: Option<u64>,
    out: &mut dyn Write,
) -> Result<(), OutputError> {
    print_map_with_style(
        spec,
        &entries,
        format,
        top,
        div,
        TextStyle {
            escape_control: true,
        },
        out,
    )
}

/// [`print_map`] with a choice about escaping control characters in text keys and values.
pub fn print_map_with_style(
    spec: &MapSpec,
    entries: &[MapEntry],
    format: OutputFormat,
    top: Option<usize>,
    div: Option<u64>,
    style: TextStyle,
    out: &mut dyn Write,
) -> Result<(), OutputError> {
    let layout = spec
        .layout
        .as_ref()
        .ok_or_else(|| OutputError::MapWithoutLayout {
            map: spec.name.clone(),
        })?;
    let mut decoded = Vec::with_capacity(entries.len());
    for (key, per_cpu) in entries {
        let key_parts = decode_key(spec, &layout.key, key)?;
        let value = merge_values(spec, layout, per_cpu)?;
        decoded.push((key_parts, value));
    }
    decoded.sort_by(|(left_key, _), (right_key, _)| compare_keys(left_key, right_key));
    // Stable: entries with equal values stay in key order.
    decoded.sort_by_key(|(_, value)| value.sort_number());
    if let Some(limit) = top.filter(|&limit| limit > 0) {
        let skip = decoded.len().saturating_sub(limit);
        decoded.drain(..skip);
    }
    let is_scalar = layout.key.is_empty();
    let bytes = match format {
        OutputFormat::Text => map_text(spec, layout, &decoded, is_scalar, div, style),
        OutputFormat::Json => map_json(spec, layout, &decoded, is_scalar, div).into_bytes(),
    };
    out.write_all(&bytes)?;
    Ok(())
}

fn map_text(
    spec: &MapSpec,
    layout: &MapLayout,
    decoded: &[(Vec<DecodedValue<'_>>, MergedValue<'_>)],
    is_scalar: bool,
    div: Option<u64>,
    style: TextStyle,
) -> Vec<u8> {
    let mut out = Vec::new();
    if decoded.is_empty() {
        // bpftrace 0.17 prints an empty map (e.g. after clear()) as an empty line, plus the
        // closing empty line of the avg/stats group.
        out.push(b'\n');
        if matches!(layout.value, MapValue::Avg { .. } | MapValue::Stats { .. }) {
            out.push(b'\n');
        }
        return out;
    }
    let mut ends_with_stats_group = false;
    for (key, value) in decoded {
        out.extend_from_slice(spec.name.as_bytes());
        if !is_scalar {
            out.push(b'[');
            for (index, part) in key.iter().enumerate() {
                if index > 0 {
                    out.extend_from_slice(b", ");
                }
                push_map_key_text(part, style, &mut out);
            }
            out.push(b']');
        }
        out.extend_from_slice(b": ");
        match value {
            MergedValue::Plain(plain) => {
                if let (DecodedValue::Integer { bits, signed }, Some(_)) = (plain, div) {
                    out.extend_from_slice(number_text(*bits, *signed, div).as_bytes());
                } else {
                    push_value_text(plain, style, &mut out);
                }
                out.push(b'\n');
            }
            MergedValue::Number { bits, signed } => {
                out.extend_from_slice(number_text(*bits, *signed, div).as_bytes());
                out.push(b'\n');
            }
            MergedValue::Average {
                count,
                total_bits,
                signed,
                with_stats: false,
            } => {
                out.extend_from_slice(
                    format!("{}\n", average(*count, *total_bits, *signed, div)).as_bytes(),
                );
                ends_with_stats_group = true;
            }
            MergedValue::Average {
                count,
                total_bits,
                signed,
                with_stats: true,
            } => {
                let (count, mean, total) = stats_parts(*count, *total_bits, *signed, div);
                out.extend_from_slice(
                    format!("count {count}, average {mean}, total {total}\n").as_bytes(),
                );
                ends_with_stats_group = true;
            }
            MergedValue::Buckets(buckets) => {
                out.push(b'\n');
                push_histogram_text(&layout.value, &divided_buckets(buckets, div), &mut out);
                out.push(b'\n');
            }
        }
    }
    // bpftrace ends a group of avg/stats lines with an empty line.
    if ends_with_stats_group {
        out.push(b'\n');
    }
    out
}

fn map_json(
    spec: &MapSpec,
    layout: &MapLayout,
    decoded: &[(Vec<DecodedValue<'_>>, MergedValue<'_>)],
    is_scalar: bool,
    div: Option<u64>,
) -> String {
    if decoded.is_empty() {
        return String::new();
    }
    let json_type = match layout.value {
        MapValue::Avg { .. } | MapValue::Stats { .. } => "stats",
        MapValue::Hist | MapValue::Lhist { .. } => "hist",
        _ => "map",
    };
    let mut out = format!("{{\"type\": \"{json_type}\", \"data\": {{");
    push_json_string(spec.name.as_bytes(), &mut out);
    out.push_str(": ");
    if !is_scalar {
        out.push('{');
    }
    for (index, (key, value)) in decoded.iter().enumerate() {
        if is_scalar && index > 0 {
            // A scalar map has one entry; more would be a runtime bug, and JSON cannot show them.
            break;
        }
        if !is_scalar {
            if index > 0 {
                out.push_str(", ");
            }
            let mut key_text = Vec::new();
            for (part_index, part) in key.iter().enumerate() {
                if part_index > 0 {
                    key_text.push(b',');
                }
                push_value_key_text(part, &mut key_text);
            }
            push_json_string(&key_text, &mut out);
            out.push_str(": ");
        }
        match value {
            MergedValue::Plain(plain) => match (plain, div) {
                (DecodedValue::Integer { bits, signed }, Some(_)) => {
                    out.push_str(&number_text(*bits, *signed, div))
                }
                _ => push_value_json(plain, &mut out),
            },
            MergedValue::Number { bits, signed } => out.push_str(&number_text(*bits, *signed, div)),
            MergedValue::Average {
                count,
                total_bits,
                signed,
                with_stats: false,
            } => out.push_str(&average(*count, *total_bits, *signed, div).to_string()),
            MergedValue::Average {
                count,
                total_bits,
                signed,
                with_stats: true,
            } => {
                let (count, mean, total) = stats_parts(*count, *total_bits, *signed, div);
                out.push_str(&format!(
                    "{{\"count\": {count}, \"average\": {mean}, \"total\": {total}}}"
                ));
            }
            MergedValue::Buckets(buckets) => {
                push_histogram_json(&layout.value, &divided_buckets(buckets, div), &mut out)
            }
        }
    }
    if !is_scalar {
        out.push('}');
    }
    out.push_str("}}\n");
    out
}

/// Prints every script map at exit as bpftrace 0.17 does: in text mode an empty line pair first
/// (bpftrace prints `\n\n` at exit even when no map follows), then the maps ordered by name.
/// Maps without a layout (internal ones) are skipped. JSON output gets no empty lines, so that it
/// stays one JSON object per line (bpftrace 0.17 prints the two empty lines there too).
pub fn print_maps_at_exit(
    maps: Vec<(&MapSpec, Vec<MapEntry>)>,
    format: OutputFormat,
    style: TextStyle,
    out: &mut dyn Write,
) -> Result<(), OutputError> {
    if format == OutputFormat::Text {
        out.write_all(b"\n\n")?;
    }
    let mut printable: Vec<(&MapSpec, Vec<MapEntry>)> = maps
        .into_iter()
        .filter(|(spec, _)| spec.layout.is_some())
        .collect();
    printable.sort_by(|(left, _), (right, _)| left.name.as_bytes().cmp(right.name.as_bytes()));
    for (spec, entries) in printable {
        print_map_with_style(spec, &entries, format, None, None, style, out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_indexes_follow_the_documented_layout() {
        assert_eq!(hist_bucket_index(-5), 0);
        assert_eq!(hist_bucket_index(0), 1);
        assert_eq!(hist_bucket_index(1), 2);
        assert_eq!(hist_bucket_index(5), 4);
        assert_eq!(hist_bucket_index(i64::MAX), 64);
        assert_eq!(lhist_bucket_count(0, 10, 3), 5);
        assert_eq!(lhist_bucket_index(-1, 0, 10, 3), 0);
        assert_eq!(lhist_bucket_index(8, 0, 10, 3), 3);
        // bpftrace puts 9 in the overflow bucket labelled [10, ...).
        assert_eq!(lhist_bucket_index(9, 0, 10, 3), 4);
        assert_eq!(lhist_bucket_index(i64::MAX, 0, 100, 10), 11);
        assert_eq!(lhist_bucket_index(i64::MIN, 0, 100, 10), 0);
        // Absurd ranges saturate instead of overflowing.
        assert_eq!(
            lhist_bucket_index(i64::MAX, i64::MIN, i64::MAX, 1),
            usize::MAX
        );
    }

    #[test]
    fn suffixes_and_labels() {
        assert_eq!(number_with_suffix(512), "512");
        assert_eq!(number_with_suffix(1024), "1K");
        assert_eq!(number_with_suffix(3072), "3K");
        assert_eq!(number_with_suffix(1 << 64), "16E");
        assert_eq!(hist_bounds(65).label, "[8E, 16E)");
        assert_eq!(lhist_bounds(0, 1000, 1100, 50).label, "(..., 1000)");
        assert_eq!(lhist_bounds(3, 1000, 1100, 50).label, "[1100, ...)");
    }
}
