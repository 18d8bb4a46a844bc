//! What the compiler hands to the runtime and the output layer: programs, maps, and event layouts.
//!
//! This is the whole contract between compiling and running: `runtime` and `output` never see the AST.

/// A compiled bpftrace program: everything needed to load, attach, run and print.
#[derive(Clone, Debug, Default)]
pub struct CompiledProgram {
    pub programs: Vec<ProgramSpec>,
    pub maps: Vec<MapSpec>,
    /// Indexed by the action id stored in the first 8 bytes of every ring-buffer record.
    pub actions: Vec<Action>,
    /// Index into `maps` of the ring buffer that carries events, if any program emits one.
    pub ringbuf_map: Option<usize>,
    /// Index into `maps` of the per-CPU array whose slot 0 counts records that did not fit in the ring buffer.
    pub lost_counter_map: Option<usize>,
    /// Index into `maps` of the array of values user space fills before attaching (one `u64`
    /// per [`GlobalSlot`]): programs read `elapsed`'s start time and `cpid` from it.
    pub globals_map: Option<usize>,
    /// Index into `maps` of the per-CPU array that counts, at slot `i`, the updates of map `i`
    /// that the kernel refused because the map was full (`E2BIG`).
    pub dropped_updates_map: Option<usize>,
}

/// The slots of the globals map (`CompiledProgram::globals_map`), each a `u64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum GlobalSlot {
    /// `CLOCK_MONOTONIC` (the clock of `nsecs`) when the session started: `elapsed` subtracts it.
    StartNanoseconds = 0,
    /// The pid of the `-c` command (0 without one): `cpid`.
    ChildPid = 1,
}

impl GlobalSlot {
    /// How many slots the globals map has.
    pub const COUNT: u32 = 2;
}

/// One BPF program and where it attaches.
#[derive(Clone, Debug)]
pub struct ProgramSpec {
    /// The probe as the user wrote it (after wildcard expansion), for messages: `tracepoint:syscalls:sys_enter_execve`.
    pub probe_name: String,
    pub attach: AttachTarget,
    pub insns: Vec<crate::Insn>,
    /// Instruction indices of `ld_imm64` whose `imm` holds an index into `CompiledProgram::maps`,
    /// to be replaced by the map's file descriptor at load time.
    pub map_relocations: Vec<MapRelocation>,
    /// For each instruction, the 1-based script line that produced it (0 = none), to point
    /// verifier rejections back at the script.
    pub line_of_insn: Vec<u32>,
    /// Where the program's BPF functions other than the main one start (callbacks of
    /// `bpf_for_each_map_elem`), in instruction indices; empty for a single-function program.
    /// The runtime describes them to the kernel with BTF `func_info` ([`crate::func_btf`]).
    pub function_starts: Vec<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapRelocation {
    pub insn_index: usize,
    pub map_index: usize,
}

/// Where a program attaches, which also decides its BPF program type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttachTarget {
    /// Runs once before all others (`BEGIN`), via `BPF_PROG_TEST_RUN` of a raw tracepoint program.
    Begin,
    /// Runs once at exit (`END`), the same way.
    End,
    /// `tracepoint:CATEGORY:NAME`: perf event of the tracepoint's id, program type tracepoint.
    Tracepoint { category: String, name: String },
    /// `rawtracepoint:NAME`: `BPF_RAW_TRACEPOINT_OPEN`.
    RawTracepoint { name: String },
    /// `kprobe:FUNC+OFFSET` / `kretprobe:FUNC` through the kprobe PMU.
    Kprobe {
        function: String,
        offset: u64,
        is_return: bool,
    },
    /// `uprobe:PATH:SYMBOL` / `uretprobe:` through the uprobe PMU, at a file offset.
    Uprobe {
        path: String,
        file_offset: u64,
        is_return: bool,
        pid: Option<i32>,
        /// File offset of a USDT semaphore the kernel increments while attached (0: none).
        ref_ctr_offset: u64,
    },
    /// `fentry:`/`fexit:` (BPF trampolines), by BTF id of the function.
    Fentry {
        function: String,
        btf_id: u32,
        is_return: bool,
    },
    /// A perf event (software, hardware, `profile:`, `interval:`), program type perf_event.
    PerfEvent {
        perf_type: u32,
        config: u64,
        sample: Sample,
        one_cpu: bool,
    },
}

/// How often a perf event fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sample {
    Period(u64),
    Frequency(u64),
}

/// Kernel map types used by bpfscope (values of `enum bpf_map_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum MapKind {
    Hash = 1,
    Array = 2,
    PercpuHash = 5,
    PercpuArray = 6,
    LruHash = 9,
    Ringbuf = 27,
}

/// A map to create before loading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapSpec {
    /// The script's name for it (`@execs`), or an internal name (`.ringbuf`, `.lost`, `.scratch`).
    pub name: String,
    pub kind: MapKind,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    /// How user space reads keys and values to print the map; `None` for internal maps.
    pub layout: Option<MapLayout>,
}

/// How to decode and print a script map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapLayout {
    pub key: Vec<ValueType>,
    pub value: MapValue,
}

/// The value kind of a script map, which decides how per-CPU values merge and how it prints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapValue {
    Plain(ValueType),
    Count,
    Sum { signed: bool },
    Min { signed: bool },
    Max { signed: bool },
    Avg { signed: bool },
    Stats { signed: bool },
    Hist,
    Lhist { min: i64, max: i64, step: i64 },
}

/// A value as laid out in an event record or map slot.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ValueType {
    Int {
        bytes: u8,
        signed: bool,
    },
    Bool,
    /// A NUL-terminated string in a buffer of `capacity` bytes.
    Str {
        capacity: u32,
    },
    /// A kernel or user address, printed as hex.
    Pointer,
    /// Several values one after another, printed `(a, b)`.
    Tuple(Vec<(u32, ValueType)>),
    /// Raw bytes printed as a hex dump or escaped string (`buf()`).
    Buffer {
        capacity: u32,
    },
    /// A `u64` boot-clock timestamp in nanoseconds, printed as local wall-clock time with a
    /// strftime `format` (`strftime()`; `%f` is microseconds, as in bpftrace).
    Timestamp {
        format: String,
    },
    /// Stack addresses to symbolize, printed as `mode` says.
    KernelStack {
        depth: u32,
        mode: StackMode,
    },
    UserStack {
        depth: u32,
        mode: StackMode,
    },
    /// A kernel symbol address printed as a name (`ksym`).
    KernelSymbol,
    UserSymbol,
    /// `username(uid)`: a `u64` user id printed as the user's name from `/etc/passwd` (the
    /// number when it has none).
    UserName,
    /// `ntop()`: a `u64` address family (2: IPv4, 10: IPv6) then 16 address bytes in network
    /// order (IPv4 uses the first 4), printed as an IP address.
    InetAddress,
    /// A C struct or union copied whole from kernel memory, printed as bpftrace prints
    /// structs: `{ .a = 1, .b = { .c = 2 } }`. `size` is the copied byte count.
    Record {
        size: u32,
        fields: Vec<RecordField>,
    },
    /// A C array (not of `char`) inside a copied struct, printed `[1,2,3]`; elements follow
    /// one another `element.size()` bytes apart.
    CArray {
        element: Box<ValueType>,
        length: u32,
    },
    /// A bitfield inside a copied struct: `load_bytes` little-endian bytes are loaded, shifted
    /// left by `shift_left` then right by `shift_right` (arithmetically when `signed`) in 64 bits.
    Bitfield {
        load_bytes: u8,
        shift_left: u8,
        shift_right: u8,
        signed: bool,
    },
    /// `argv()`: a process's arguments as the kernel keeps them (NUL-terminated strings one
    /// after another). A `u32` count of bytes captured, a `u32` count of bytes that did not
    /// fit (`u32::MAX` when the amount is unknown), then `capacity` bytes. At most `max_args`
    /// arguments are shown; more are reported as cut.
    Argv {
        capacity: u32,
        max_args: u32,
    },
}

/// How a `kstack`/`ustack` is printed (bpftrace's stack modes): part of the stack's type, so
/// equal frames taken with different modes print differently.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum StackMode {
    /// One `symbol+offset` per line, indented.
    #[default]
    Bpftrace,
    /// `perf script`'s form: a tab, the hex address, the symbol (and for user frames the
    /// mapped file in parentheses).
    Perf,
    /// Hex addresses only, unsymbolized.
    Raw,
}

impl StackMode {
    /// The mode named `name` in `kstack(name)` or the `stack_mode` setting.
    pub fn from_name(name: &str) -> Option<StackMode> {
        match name {
            "bpftrace" => Some(StackMode::Bpftrace),
            "perf" => Some(StackMode::Perf),
            "raw" => Some(StackMode::Raw),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            StackMode::Bpftrace => "bpftrace",
            StackMode::Perf => "perf",
            StackMode::Raw => "raw",
        }
    }
}

/// One printed member of a [`ValueType::Record`]: its name and where it is in the record.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RecordField {
    pub name: String,
    pub offset: u32,
    pub ty: ValueType,
}

impl ValueType {
    /// Bytes this value takes in a record.
    pub fn size(&self) -> u32 {
        match self {
            ValueType::Int { bytes, .. } => u32::from(*bytes),
            ValueType::Bool => 1,
            ValueType::Str { capacity } | ValueType::Buffer { capacity } => *capacity,
            ValueType::Pointer
            | ValueType::KernelSymbol
            | ValueType::UserName
            | ValueType::UserSymbol
            | ValueType::Timestamp { .. } => 8,
            ValueType::Tuple(fields) => fields
                .iter()
                .map(|(offset, ty)| offset + ty.size())
                .max()
                .unwrap_or(0),
            ValueType::KernelStack { depth, .. } | ValueType::UserStack { depth, .. } => {
                8 + depth * 8
            }
            ValueType::InetAddress => 24,
            ValueType::Record { size, .. } => *size,
            ValueType::CArray { element, length } => element.size().saturating_mul(*length),
            ValueType::Bitfield { load_bytes, .. } => u32::from(*load_bytes),
            ValueType::Argv { capacity, .. } => ARGV_HEADER_BYTES.saturating_add(*capacity),
        }
    }
}

/// Bytes before the argument bytes of a [`ValueType::Argv`]: captured count, missing count.
pub const ARGV_HEADER_BYTES: u32 = 8;

/// [`ValueType::Argv`]'s missing count when the arguments were cut at an unknown amount.
pub const ARGV_MISSING_UNKNOWN: u32 = u32::MAX;

/// A field of an event record: where it is and what it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub offset: u32,
    pub ty: ValueType,
}

/// What user space does with a ring-buffer record. Every record starts with a `u64` action id,
/// so offsets below are from the record's start and are at least 8.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// `printf(format, args...)`, formatted as bpftrace does.
    Printf { format: String, args: Vec<Field> },
    /// `join(array [, sep])`: a `u32` count at `count_offset`, then `max_items` strings of `item_capacity`
    /// bytes starting at `items_offset`; a `u8` truncation flag at `truncated_offset`.
    Join {
        separator: String,
        count_offset: u32,
        items_offset: u32,
        item_capacity: u32,
        max_items: u32,
        truncated_offset: u32,
    },
    /// `time(format)`: prints the wall clock with a strftime format.
    Time { format: String },
    /// `cat(path_format, args...)`: prints a file's contents.
    Cat { format: String, args: Vec<Field> },
    /// `system(command_format, args...)` (`--unsafe`): runs the formatted command with
    /// `sh -c` in user space; its output is printed.
    System { format: String, args: Vec<Field> },
    /// `print(value)` of a non-map value.
    PrintValue { value: Field },
    /// `print(@map [, top [, div]])`: prints one map now; `top` keeps the largest N entries
    /// (0: all), `div` divides printed values (0: no division).
    PrintMap {
        map_index: usize,
        top: u64,
        div: u64,
    },
    /// `clear(@map)` / `zero(@map)` done from user space, where the kernel side cannot iterate.
    ClearMap { map_index: usize, zero: bool },
    /// `exit()`: stop tracing, run END, print maps.
    Exit,
}
