//! Byte-for-byte comparisons with output captured from bpftrace 0.17 (test_data/*.bt and their outputs).
//!
//! Each test rebuilds, by hand, the records or map snapshots the `.bt` script produces and checks
//! that bpfscope prints exactly what bpftrace printed. Maps are given as two per-CPU slots so that
//! merging is exercised too.

use std::path::PathBuf;

use bpfscope_bpf::{Action, Field, MapKind, MapLayout, MapSpec, MapValue, ValueType};
use bpfscope_output::maps::{
    hist_bucket_index, lhist_bucket_count, lhist_bucket_index, HIST_BUCKET_COUNT,
};
use bpfscope_output::{
    print_attached_probes, print_maps_at_exit, EventPrinter, MapEntry, OutputFormat, TextStyle,
};

const STRING_CAPACITY: u32 = 64;
const RAW: TextStyle = TextStyle {
    escape_control: false,
};
const ESCAPING: TextStyle = TextStyle {
    escape_control: true,
};

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("test_data")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
}

/// bpftrace 0.17 prints two empty lines at exit in JSON mode too; bpfscope keeps JSON one object per line.
fn without_empty_lines(text: &str) -> String {
    text.lines()
        .filter(|line| !line.is_empty())
        .map(|line| format!("{line}\n"))
        .collect()
}

fn int_type() -> ValueType {
    ValueType::Int {
        bytes: 8,
        signed: true,
    }
}

fn str_type() -> ValueType {
    ValueType::Str {
        capacity: STRING_CAPACITY,
    }
}

fn spec(name: &str, key: Vec<ValueType>, value: MapValue) -> MapSpec {
    let key_size = key.iter().map(ValueType::size).sum::<u32>().max(8);
    MapSpec {
        name: name.to_string(),
        kind: MapKind::PercpuHash,
        key_size,
        value_size: 8,
        max_entries: 4096,
        layout: Some(MapLayout { key, value }),
    }
}

fn int_bytes(value: i64) -> Vec<u8> {
    value.to_le_bytes().to_vec()
}

fn str_bytes(text: &str) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    bytes.resize(STRING_CAPACITY as usize, 0);
    bytes
}

fn scalar_key() -> Vec<u8> {
    int_bytes(0)
}

/// A u64 counter split over two CPUs.
fn split_counter(total: u64) -> Vec<Vec<u8>> {
    vec![
        (total / 2).to_le_bytes().to_vec(),
        (total - total / 2).to_le_bytes().to_vec(),
    ]
}

fn plain(value: Vec<u8>) -> Vec<Vec<u8>> {
    vec![value]
}

/// `{value, set flag}` for min/max, with a second CPU that never stored a value.
fn min_max_slots(value: i64) -> Vec<Vec<u8>> {
    let mut set = int_bytes(value);
    set.extend_from_slice(&1u64.to_le_bytes());
    vec![set, vec![0u8; 16]]
}

/// `{count, total}` for avg/stats, all on the second CPU.
fn average_slots(count: u64, total: i64) -> Vec<Vec<u8>> {
    let mut slot = count.to_le_bytes().to_vec();
    slot.extend_from_slice(&total.to_le_bytes());
    vec![vec![0u8; 16], slot]
}

fn bucket_slots(
    values: &[i64],
    bucket_of: impl Fn(i64) -> usize,
    bucket_count: usize,
) -> Vec<Vec<u8>> {
    let mut cpu_buckets = [vec![0u64; bucket_count], vec![0u64; bucket_count]];
    for (index, &value) in values.iter().enumerate() {
        if let Some(bucket) = cpu_buckets[index % 2].get_mut(bucket_of(value)) {
            *bucket += 1;
        }
    }
    cpu_buckets
        .iter()
        .map(|buckets| {
            buckets
                .iter()
                .flat_map(|count| count.to_le_bytes())
                .collect()
        })
        .collect()
}

fn hist_slots(values: &[i64]) -> Vec<Vec<u8>> {
    bucket_slots(values, hist_bucket_index, HIST_BUCKET_COUNT)
}

fn lhist_slots(values: &[i64], min: i64, max: i64, step: i64) -> Vec<Vec<u8>> {
    bucket_slots(
        values,
        |value| lhist_bucket_index(value, min, max, step),
        lhist_bucket_count(min, max, step),
    )
}

fn key_of(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

/// The maps of test_data/maps_basic.bt.
fn maps_basic() -> Vec<(MapSpec, Vec<MapEntry>)> {
    let int_key = || vec![int_type()];
    vec![
        // Deliberately not in name order: printing sorts by name.
        (
            spec("@z", vec![], MapValue::Plain(str_type())),
            vec![(scalar_key(), plain(str_bytes("str")))],
        ),
        (
            spec("@a", int_key(), MapValue::Count),
            vec![
                (int_bytes(2), split_counter(2)),
                (int_bytes(1), split_counter(1)),
            ],
        ),
        (
            spec("@b", vec![], MapValue::Plain(int_type())),
            vec![(scalar_key(), plain(int_bytes(5)))],
        ),
        (
            spec("@c", vec![], MapValue::Sum { signed: true }),
            vec![(scalar_key(), vec![int_bytes(7), int_bytes(0)])],
        ),
        (
            spec("@d", int_key(), MapValue::Sum { signed: true }),
            vec![
                (int_bytes(1), vec![int_bytes(4), int_bytes(5)]),
                (int_bytes(3), vec![int_bytes(-2), int_bytes(0)]),
            ],
        ),
        (
            spec("@e", vec![], MapValue::Avg { signed: true }),
            vec![(scalar_key(), average_slots(2, 9))],
        ),
        (
            spec("@f", int_key(), MapValue::Min { signed: true }),
            vec![
                (int_bytes(2), min_max_slots(4)),
                (int_bytes(1), min_max_slots(-3)),
            ],
        ),
        (
            spec("@g", int_key(), MapValue::Max { signed: true }),
            vec![
                (int_bytes(1), min_max_slots(9)),
                (int_bytes(2), min_max_slots(3)),
            ],
        ),
        (
            spec("@i", int_key(), MapValue::Avg { signed: true }),
            vec![
                (int_bytes(1), average_slots(1, 10)),
                (int_bytes(2), average_slots(1, -3)),
            ],
        ),
        (
            spec("@j", int_key(), MapValue::Stats { signed: true }),
            vec![
                (int_bytes(1), average_slots(1, 10)),
                (int_bytes(2), average_slots(2, -7)),
            ],
        ),
        (
            spec("@k", vec![str_type()], MapValue::Plain(int_type())),
            vec![
                (str_bytes("b"), plain(int_bytes(2))),
                (str_bytes("x"), plain(int_bytes(1))),
            ],
        ),
        (
            spec("@s", vec![], MapValue::Stats { signed: true }),
            vec![(scalar_key(), average_slots(1, 4))],
        ),
        (
            spec(
                "@t",
                vec![int_type(), str_type()],
                MapValue::Plain(int_type()),
            ),
            vec![(key_of(&[int_bytes(1), str_bytes("x")]), plain(int_bytes(2)))],
        ),
        (
            spec(
                "@u",
                vec![int_type(), str_type()],
                MapValue::Plain(int_type()),
            ),
            vec![
                (
                    key_of(&[int_bytes(2), str_bytes("tab\there")]),
                    plain(int_bytes(5)),
                ),
                (key_of(&[int_bytes(1), str_bytes("b")]), plain(int_bytes(3))),
            ],
        ),
    ]
}

/// The maps of test_data/maps_hist.bt.
fn maps_hist() -> Vec<(MapSpec, Vec<MapEntry>)> {
    let minus_three_to_299: Vec<i64> = (-3..300).collect();
    let sevens: Vec<i64> = (-12..5000).step_by(7).collect();
    let zero_to_twelve: Vec<i64> = (0..13).collect();
    vec![
        (
            spec("@zz", vec![], MapValue::Plain(int_type())),
            vec![(scalar_key(), plain(int_bytes(1)))],
        ),
        (
            spec("@aa", vec![], MapValue::Plain(int_type())),
            vec![(scalar_key(), plain(int_bytes(2)))],
        ),
        (
            spec("@h", vec![], MapValue::Hist),
            vec![(scalar_key(), hist_slots(&minus_three_to_299))],
        ),
        (
            spec(
                "@l",
                vec![],
                MapValue::Lhist {
                    min: 0,
                    max: 100,
                    step: 10,
                },
            ),
            vec![(scalar_key(), lhist_slots(&minus_three_to_299, 0, 100, 10))],
        ),
        (
            spec("@big", vec![], MapValue::Hist),
            vec![(scalar_key(), hist_slots(&[5_000_000, 0, 3_000_000_000]))],
        ),
        (
            spec("@k", vec![int_type(), str_type()], MapValue::Hist),
            vec![
                (key_of(&[int_bytes(2), str_bytes("b")]), hist_slots(&[2, 3])),
                (key_of(&[int_bytes(1), str_bytes("a")]), hist_slots(&[1])),
            ],
        ),
        (
            spec("@neg", vec![], MapValue::Hist),
            vec![(scalar_key(), hist_slots(&[-5]))],
        ),
        (
            spec("@one", vec![], MapValue::Hist),
            vec![(scalar_key(), hist_slots(&[1]))],
        ),
        (
            spec("@zero", vec![], MapValue::Hist),
            vec![(scalar_key(), hist_slots(&[0]))],
        ),
        (
            spec(
                "@lk",
                vec![],
                MapValue::Lhist {
                    min: 0,
                    max: 4096,
                    step: 1024,
                },
            ),
            vec![(scalar_key(), lhist_slots(&sevens, 0, 4096, 1024))],
        ),
        (
            spec(
                "@n",
                vec![],
                MapValue::Lhist {
                    min: 1000,
                    max: 1100,
                    step: 50,
                },
            ),
            vec![(scalar_key(), lhist_slots(&sevens, 1000, 1100, 50))],
        ),
        (
            spec(
                "@odd",
                vec![],
                MapValue::Lhist {
                    min: 0,
                    max: 10,
                    step: 3,
                },
            ),
            vec![(scalar_key(), lhist_slots(&zero_to_twelve, 0, 10, 3))],
        ),
        (
            spec(
                "@lm",
                vec![int_type()],
                MapValue::Lhist {
                    min: 0,
                    max: 10,
                    step: 1,
                },
            ),
            vec![(int_bytes(5), lhist_slots(&[3], 0, 10, 1))],
        ),
    ]
}

fn print_exit(maps: &[(MapSpec, Vec<MapEntry>)], format: OutputFormat, style: TextStyle) -> String {
    let mut out = Vec::new();
    print_attached_probes(1, format, &mut out).expect("writing to a Vec");
    let borrowed = maps
        .iter()
        .map(|(spec, entries)| (spec, entries.clone()))
        .collect();
    print_maps_at_exit(borrowed, format, style, &mut out).expect("maps print");
    String::from_utf8(out).expect("fixture output is UTF-8")
}

#[test]
fn basic_maps_text_matches_bpftrace() {
    let expected = fixture("maps_basic.bpftrace-0.17.txt");
    assert_eq!(print_exit(&maps_basic(), OutputFormat::Text, RAW), expected);
    // With escaping (the default), only the tab in the @u key changes.
    let escaped = expected.replace("tab\there", "tab\\x09here");
    assert_eq!(
        print_exit(&maps_basic(), OutputFormat::Text, ESCAPING),
        escaped
    );
}

#[test]
fn basic_maps_json_matches_bpftrace() {
    let expected = without_empty_lines(&fixture("maps_basic.bpftrace-0.17.json"));
    assert_eq!(
        print_exit(&maps_basic(), OutputFormat::Json, ESCAPING),
        expected
    );
}

#[test]
fn histogram_maps_text_matches_bpftrace() {
    let expected = fixture("maps_hist.bpftrace-0.17.txt");
    assert_eq!(
        print_exit(&maps_hist(), OutputFormat::Text, ESCAPING),
        expected
    );
}

#[test]
fn histogram_maps_json_matches_bpftrace() {
    // bpftrace 0.17 computes JSON bucket bounds in 32-bit ints: [2G, 4G) came out as
    // min -2147483648, max 0. bpfscope prints the true bounds (text labels were right in 0.17).
    let expected = without_empty_lines(&fixture("maps_hist.bpftrace-0.17.json")).replace(
        "{\"min\": -2147483648, \"max\": 0, \"count\": 1}",
        "{\"min\": 2147483648, \"max\": 4294967295, \"count\": 1}",
    );
    assert!(
        expected.contains("4294967295"),
        "the 0.17 overflow is still in the fixture"
    );
    assert_eq!(
        print_exit(&maps_hist(), OutputFormat::Json, ESCAPING),
        expected
    );
}

/// The printf calls of test_data/printf.bt as actions, and records carrying their arguments.
fn printf_actions_and_records() -> (Vec<Action>, Vec<Vec<u8>>) {
    let script = fixture("printf.bt");
    // Pull each `printf("...", args)` format out of the script; escapes there are \n and \x.. only.
    let formats: Vec<String> = script
        .split("printf(\"")
        .skip(1)
        .filter_map(|rest| {
            rest.split_once("\", ")
                .or_else(|| rest.split_once("\")"))
                .map(|(format, _)| format)
        })
        .map(|format| format.replace("\\n", "\n").replace("\\xc3\\xa9", "\u{e9}"))
        .collect();
    enum Arg {
        I(i64),
        S(&'static str),
    }
    use Arg::{I, S};
    let arguments: Vec<Vec<Arg>> = vec![
        vec![I(-5), S("ab"), I(255), I(7)],
        vec![S("abcdef"), S("abcdef"), I(42), I(42), I(42)],
        vec![
            I(-1),
            I(-1),
            I(-1),
            I(-1),
            I(70000),
            I(300),
            I(-9),
            I(-1),
            I(-1),
            I(-1),
            I(-1),
        ],
        vec![
            I(65),
            I(48879),
            I(65),
            I(65),
            I(66),
            I(4_000_000_000),
            I(-2_147_483_648),
        ],
        vec![
            I(0),
            I(65),
            I(123456),
            I(255),
            I(255),
            S("xyz"),
            S("\u{e9}"),
        ],
        vec![I(100)],
    ];
    assert_eq!(
        formats.len(),
        arguments.len(),
        "formats found in printf.bt: {formats:?}"
    );
    let mut actions = Vec::new();
    let mut records = Vec::new();
    for (action_id, (format, args)) in formats.into_iter().zip(arguments).enumerate() {
        let mut record = (action_id as u64).to_le_bytes().to_vec();
        let mut fields = Vec::new();
        for arg in args {
            let offset = record.len() as u32;
            match arg {
                I(value) => {
                    fields.push(Field {
                        offset,
                        ty: int_type(),
                    });
                    record.extend_from_slice(&value.to_le_bytes());
                }
                S(text) => {
                    fields.push(Field {
                        offset,
                        ty: str_type(),
                    });
                    record.extend_from_slice(&str_bytes(text));
                }
            }
        }
        actions.push(Action::Printf {
            format,
            args: fields,
        });
        records.push(record);
    }
    (actions, records)
}

fn print_records(format: OutputFormat) -> String {
    let (actions, records) = printf_actions_and_records();
    let mut printer = EventPrinter::new(&actions, format).expect("formats parse");
    let mut out = Vec::new();
    print_attached_probes(1, format, &mut out).expect("writing to a Vec");
    for record in &records {
        printer
            .print_record(record, &mut out)
            .expect("record prints");
    }
    String::from_utf8(out).expect("UTF-8")
}

#[test]
fn printf_text_matches_bpftrace_except_documented_percent_quirk() {
    let expected = fixture("printf.bpftrace-0.17.txt");
    // bpftrace 0.17 printed a "%%" that no conversion follows literally; newer bpftrace and C print "%".
    // It also printed two empty lines at exit, which the exit path (print_maps_at_exit) produces.
    let expected = expected.replace("% 100%%\n\n\n", "% 100%\n");
    assert_eq!(print_records(OutputFormat::Text), expected);
}

#[test]
fn printf_json_matches_bpftrace_except_documented_quirks() {
    let expected = without_empty_lines(&fixture("printf.bpftrace-0.17.json"))
        .replace("% 100%%\\n", "% 100%\\n")
        // bpftrace 0.17 sign-extended bytes >= 0x80 into "\uffffffc3"; bpfscope keeps valid UTF-8 as is.
        .replace("\\uffffffc3\\uffffffa9", "\u{e9}");
    assert_eq!(print_records(OutputFormat::Json), expected);
}

/// test_data/print_top_div.bt: `print(@m [, top [, div]])`, print of hist/stats/avg and of an
/// empty map, then exit with every map cleared.
fn print_top_div_output(format: OutputFormat) -> String {
    use bpfscope_output::print_map;
    let int_key = || vec![int_type()];
    let m = spec("@m", int_key(), MapValue::Plain(int_type()));
    let m_entries: Vec<MapEntry> = vec![
        (int_bytes(1), plain(int_bytes(3))),
        (int_bytes(2), plain(int_bytes(1))),
        (int_bytes(3), plain(int_bytes(2))),
    ];
    let h = spec("@h", vec![], MapValue::Hist);
    let s = spec("@s", vec![], MapValue::Stats { signed: true });
    let a = spec("@a", vec![], MapValue::Avg { signed: true });
    let e = spec("@e", int_key(), MapValue::Count);
    let end_action = vec![Action::Printf {
        format: "end\n".to_string(),
        args: vec![],
    }];
    let mut printer = EventPrinter::new(&end_action, format).expect("format parses");

    let mut out = Vec::new();
    print_attached_probes(1, format, &mut out).expect("writing to a Vec");
    print_map(&m, m_entries.clone(), format, None, None, &mut out).expect("prints");
    print_map(&m, m_entries.clone(), format, Some(2), None, &mut out).expect("prints");
    print_map(&m, m_entries, format, Some(2), Some(2), &mut out).expect("prints");
    print_map(
        &h,
        vec![(scalar_key(), hist_slots(&[3]))],
        format,
        None,
        None,
        &mut out,
    )
    .expect("prints");
    print_map(
        &s,
        vec![(scalar_key(), average_slots(1, 5))],
        format,
        None,
        None,
        &mut out,
    )
    .expect("prints");
    print_map(
        &a,
        vec![(scalar_key(), average_slots(1, 9))],
        format,
        Some(0),
        Some(2),
        &mut out,
    )
    .expect("prints");
    print_map(&e, vec![], format, None, None, &mut out).expect("prints");
    printer
        .print_record(&0u64.to_le_bytes(), &mut out)
        .expect("prints");
    let cleared = vec![
        (&m, vec![]),
        (&h, vec![]),
        (&s, vec![]),
        (&a, vec![]),
        (&e, vec![]),
    ];
    print_maps_at_exit(cleared, format, ESCAPING, &mut out).expect("prints");
    String::from_utf8(out).expect("UTF-8")
}

#[test]
fn print_with_top_and_div_and_cleared_maps_match_bpftrace() {
    assert_eq!(
        print_top_div_output(OutputFormat::Text),
        fixture("print_top_div.bpftrace-0.17.txt")
    );
    let expected_json = without_empty_lines(&fixture("print_top_div.bpftrace-0.17.json"));
    assert_eq!(print_top_div_output(OutputFormat::Json), expected_json);
}

#[test]
fn garbage_map_snapshots_are_errors_not_panics() {
    use bpfscope_output::print_map;
    let kinds = [
        MapValue::Count,
        MapValue::Sum { signed: true },
        MapValue::Min { signed: false },
        MapValue::Max { signed: true },
        MapValue::Avg { signed: true },
        MapValue::Stats { signed: false },
        MapValue::Hist,
        MapValue::Lhist {
            min: 0,
            max: 100,
            step: 10,
        },
        MapValue::Lhist {
            min: 0,
            max: i64::MAX,
            step: 1,
        },
        MapValue::Lhist {
            min: 5,
            max: 0,
            step: 0,
        },
        MapValue::Plain(str_type()),
        MapValue::Plain(ValueType::Buffer { capacity: 2 }),
    ];
    for kind in kinds {
        let map = spec("@x", vec![int_type(), str_type()], kind);
        for length in [0usize, 1, 7, 9, 15, 17, 100] {
            let garbage = vec![0xa5u8; length];
            for format in [OutputFormat::Text, OutputFormat::Json] {
                let mut out = Vec::new();
                let entries = vec![(garbage.clone(), vec![garbage.clone(), vec![]])];
                // Only the absence of a panic matters here; most of these are errors.
                let _ = print_map(&map, entries, format, Some(1), Some(0), &mut out);
            }
        }
    }
    let no_layout = MapSpec {
        layout: None,
        ..spec("@y", vec![], MapValue::Count)
    };
    assert!(print_map(
        &no_layout,
        vec![],
        OutputFormat::Text,
        None,
        None,
        &mut Vec::new()
    )
    .is_err());
}
