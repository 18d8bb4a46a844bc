//! The typed program: what the checker hands to codegen. A different tree from the AST, with every name resolved.

use crate::types::{AddressSpace, Type};
use bpfscope_bpf::{Action, AttachTarget, MapKind, MapLayout, MapSpec, MapValue, ValueType};
use bpfscope_syntax::{BinaryOperator, Span};

/// A whole checked program plus what it needs at run time.
#[derive(Clone, Debug, Default)]
pub struct TypedProgram {
    /// One entry per attach point after wildcard expansion: a block attached to two
    /// tracepoints with different layouts is checked, and later compiled, once for each.
    pub probes: Vec<TypedProbe>,
    pub resources: Resources,
    /// Byte offsets where each source line starts, to turn spans into line numbers.
    pub line_starts: Vec<usize>,
}

impl TypedProgram {
    /// The 1-based line of a byte offset.
    pub fn line_of(&self, offset: usize) -> u32 {
        let index = self.line_starts.partition_point(|start| *start <= offset);
        index.max(1) as u32
    }
}

/// Everything the program needs besides its code: ring-buffer actions (printf formats, join
/// layouts, exit...). Action ids are indices into `actions`.
#[derive(Clone, Debug, Default)]
pub struct Resources {
    pub actions: Vec<Action>,
    /// The script's maps; map `i` is `CompiledProgram::maps[FIRST_SCRIPT_MAP_INDEX + i]`.
    pub maps: Vec<ScriptMap>,
}

/// Index in `CompiledProgram::maps` of the first script map; before it come the internal
/// maps `.ringbuf`, `.lost`, `.scratch`, `.zero`, `.globals`, `.dropped` and `.bigbuf` (see
/// the codegen's `maps` module).
pub const FIRST_SCRIPT_MAP_INDEX: usize = 7;

/// Default number of entries of a script map (bpftrace's `max_map_keys`).
pub const DEFAULT_MAP_ENTRIES: u32 = 4096;

/// What a script map stores, as its first use decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapValueKind {
    /// An ordinary value assigned with `=`.
    Plain(Type),
    Count,
    Sum {
        signed: bool,
    },
    Min {
        signed: bool,
    },
    Max {
        signed: bool,
    },
    Avg {
        signed: bool,
    },
    Stats {
        signed: bool,
    },
    Hist,
    Lhist {
        min: i64,
        max: i64,
        step: i64,
    },
}

/// Buckets of a `hist()` value (negative, zero, then one per power of two).
pub const HIST_BUCKETS: u32 = 66;

/// Buckets of `lhist(v, min, max, step)`: below min, `(max - min) / step` regular ones, at or above max.
pub fn lhist_buckets(min: i64, max: i64, step: i64) -> u32 {
    if step <= 0 || max <= min {
        return 2;
    }
    let regular = (i128::from(max) - i128::from(min)) / i128::from(step);
    u32::try_from(regular).unwrap_or(0).saturating_add(2)
}

/// A script map (`@name`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptMap {
    /// The name with its `@` (`@execs`, or `@` for the anonymous map).
    pub name: String,
    /// Key element types, as stored (integers 8 bytes, strings padded to a multiple of 8).
    pub keys: Vec<Type>,
    pub value: MapValueKind,
    pub max_entries: u32,
}

impl ScriptMap {
    /// Key bytes: the elements back to back; a map without keys uses one zero u64.
    pub fn key_size(&self) -> u32 {
        if self.keys.is_empty() {
            return 8;
        }
        self.keys.iter().map(Type::record_size).sum()
    }

    /// Offsets of the key elements.
    pub fn key_offsets(&self) -> Vec<u32> {
        let mut offsets = Vec::new();
        let mut offset = 0;
        for key in &self.keys {
            offsets.push(offset);
            offset += key.record_size();
        }
        offsets
    }

    pub fn value_size(&self) -> u32 {
        match &self.value {
            MapValueKind::Plain(ty) => ty.record_size().max(1),
            MapValueKind::Count | MapValueKind::Sum { .. } => 8,
            MapValueKind::Min { .. } | MapValueKind::Max { .. } => 16,
            MapValueKind::Avg { .. } | MapValueKind::Stats { .. } => 16,
            MapValueKind::Hist => HIST_BUCKETS * 8,
            MapValueKind::Lhist { min, max, step } => lhist_buckets(*min, *max, *step) * 8,
        }
    }

    pub fn is_per_cpu(&self) -> bool {
        !matches!(self.value, MapValueKind::Plain(_))
    }

    /// The kernel map to create, with the layout user space prints it by.
    pub fn spec(&self) -> MapSpec {
        let value = match &self.value {
            MapValueKind::Plain(ty) => MapValue::Plain(ty.value_type().unwrap_or(ValueType::Int {
                bytes: 8,
                signed: true,
            })),
            MapValueKind::Count => MapValue::Count,
            MapValueKind::Sum { signed } => MapValue::Sum { signed: *signed },
            MapValueKind::Min { signed } => MapValue::Min { signed: *signed },
            MapValueKind::Max { signed } => MapValue::Max { signed: *signed },
            MapValueKind::Avg { signed } => MapValue::Avg { signed: *signed },
            MapValueKind::Stats { signed } => MapValue::Stats { signed: *signed },
            MapValueKind::Hist => MapValue::Hist,
            MapValueKind::Lhist { min, max, step } => MapValue::Lhist {
                min: *min,
                max: *max,
                step: *step,
            },
        };
        MapSpec {
            name: self.name.clone(),
            kind: if self.is_per_cpu() {
                MapKind::PercpuHash
            } else {
                MapKind::Hash
            },
            key_size: self.key_size(),
            value_size: self.value_size(),
            max_entries: self.max_entries,
            layout: Some(MapLayout {
                key: self.keys.iter().filter_map(Type::value_type).collect(),
                value,
            }),
        }
    }
}

/// The aggregation functions that can be assigned to a map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregation {
    Count,
    Sum,
    Min,
    Max,
    Avg,
    Stats,
    Hist,
    Lhist { min: i64, max: i64, step: i64 },
}

impl Resources {
    /// The id of `action`, reusing an identical one (the same printf in two expanded probes).
    pub fn add_action(&mut self, action: Action) -> u64 {
        if let Some(index) = self.actions.iter().position(|existing| *existing == action) {
            return index as u64;
        }
        self.actions.push(action);
        (self.actions.len() - 1) as u64
    }
}

/// How a probe's context (the program's r1) is laid out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeContext {
    /// A tracepoint record: fields at their format-file offsets.
    Tracepoint,
    /// `struct bpf_raw_tracepoint_args`: an array of u64 arguments.
    RawTracepoint,
    /// `BEGIN`/`END`: run through `BPF_PROG_TEST_RUN`, no usable context.
    Special,
    /// kprobe, uprobe, USDT: `struct pt_regs`, read with direct context loads.
    PtRegs,
    /// fentry/fexit: an array of u64 slots, the arguments then the return value (the verifier
    /// types each slot from the function's BTF).
    Fentry,
}

/// One attach point's program.
#[derive(Clone, Debug)]
pub struct TypedProbe {
    /// The full probe name (`tracepoint:syscalls:sys_enter_execve`), also the `probe` builtin's value.
    pub probe_name: String,
    pub attach: AttachTarget,
    pub context: ProbeContext,
    pub predicate: Option<TypedExpr>,
    pub body: Vec<TypedStatement>,
    /// Scratch variables (`$x`), indexed by [`TypedExprKind::Variable`].
    pub variables: Vec<Variable>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variable {
    pub name: String,
    pub ty: Type,
}

/// Values that come from the running context rather than the script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    Pid,
    Tid,
    Uid,
    Gid,
    Nsecs,
    Elapsed,
    Cpu,
    Rand,
    Cpid,
    Comm,
    /// `argN` of a raw tracepoint.
    Arg(u8),
    /// The u64 at this byte offset of the context: a `struct pt_regs` register for kprobes,
    /// uprobes and USDT, an argument slot for fentry/fexit.
    ContextWord(i16),
    CurrentTask,
    /// `kstack`/`ustack` (with `depth` frames): written into memory by `bpf_get_stack`.
    Stack {
        user: bool,
        depth: u32,
    },
    /// `cgroup`: the current task's cgroup v2 id.
    CgroupId,
}

/// How a tracepoint field is read from the context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContextFieldAccess {
    /// An integer or pointer loaded directly from the record.
    Load { bytes: u8, signed: bool },
    /// An inline array (`char comm[16]`) copied out of the record.
    Inline { bytes: u32 },
    /// A `__data_loc` string: the u32 at the offset locates the bytes within the record.
    DataLoc,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Negate,
    LogicalNot,
    BitwiseNot,
}

/// A checked expression.
#[derive(Clone, Debug)]
pub struct TypedExpr {
    pub kind: TypedExprKind,
    pub ty: Type,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum TypedExprKind {
    Integer(i64),
    /// A string literal (no NUL; `ty` holds the capacity with it).
    String(Vec<u8>),
    Bool(bool),
    Builtin(Builtin),
    /// `args->name` / `args.name` of a tracepoint.
    ContextField {
        name: String,
        offset: u32,
        access: ContextFieldAccess,
    },
    Variable(usize),
    Unary {
        op: UnaryOp,
        operand: Box<TypedExpr>,
    },
    /// Arithmetic, bitwise and comparison operators (not `&&`/`||`).
    Binary {
        op: BinaryOperator,
        left: Box<TypedExpr>,
        right: Box<TypedExpr>,
    },
    /// Short-circuit `&&` (`and` true) or `||`.
    Logical {
        and: bool,
        left: Box<TypedExpr>,
        right: Box<TypedExpr>,
    },
    Ternary {
        condition: Box<TypedExpr>,
        then_value: Box<TypedExpr>,
        else_value: Box<TypedExpr>,
    },
    /// An integer/pointer conversion to `ty`.
    Cast(Box<TypedExpr>),
    /// `*pointer`, read with `probe_read_{user,kernel}`.
    Dereference {
        pointer: Box<TypedExpr>,
        space: AddressSpace,
    },
    /// `str(pointer [, length])`: `ty` is the string; `length` limits the read further.
    ReadString {
        pointer: Box<TypedExpr>,
        space: AddressSpace,
        length: Option<Box<TypedExpr>>,
    },
    /// `join(array [, sep])` used as a value: a string built in BPF.
    JoinString {
        array: Box<TypedExpr>,
        space: AddressSpace,
        separator: Vec<u8>,
    },
    /// `regex_match(string, "pattern")`: whether the pattern matches anywhere in the string,
    /// by running `dfa` over its bytes (see [`crate::regex_dfa`]).
    RegexMatch {
        haystack: Box<TypedExpr>,
        dfa: std::sync::Arc<crate::regex_dfa::ByteDfa>,
    },
    /// `argv()`: the current process's arguments, read in one piece from its memory between
    /// `mm->arg_start` and `mm->arg_end` (where the kernel copied them at exec). `ty` is
    /// `Type::Argv`; the offsets come from BTF.
    TaskArgv {
        task_mm_offset: u32,
        mm_arg_start_offset: u32,
        mm_arg_end_offset: u32,
    },
    /// `argv(array)`: a NULL-terminated array of string pointers (`args.argv` of execve) read
    /// string by string into the same layout as [`TypedExprKind::TaskArgv`].
    ArrayArgv {
        array: Box<TypedExpr>,
        space: AddressSpace,
    },
    Tuple(Vec<TypedExpr>),
    /// A member of a copied struct (`$task.pid`): `ty` bytes at `offset` in the copy.
    CopiedMember {
        record: Box<TypedExpr>,
        offset: u32,
    },
    TupleIndex {
        tuple: Box<TypedExpr>,
        index: usize,
    },
    /// `@map[keys]`: the value, or zero/empty when the key is absent.
    MapRead {
        map: usize,
        keys: Vec<TypedExpr>,
    },
    /// `@map[keys]` of an aggregation (count, sum, min, max, avg) read inside a probe: the
    /// per-CPU values merged in BPF, as user space would print them.
    AggregateRead {
        map: usize,
        keys: Vec<TypedExpr>,
    },
    /// `has_key(@map, keys)`: whether the key is present.
    MapHasKey {
        map: usize,
        keys: Vec<TypedExpr>,
    },
    /// `strncmp(left, right, length)`: 0 when the first `length` bytes (up to a NUL) are equal, else 1.
    StringNCompare {
        left: Box<TypedExpr>,
        right: Box<TypedExpr>,
        length: u32,
    },
    /// `strcontains(haystack, needle)`: whether the needle occurs in the string. A literal
    /// needle (`TypedExprKind::String`) is matched by unrolled compares, any other string by
    /// a bounded loop over both.
    StringContains {
        haystack: Box<TypedExpr>,
        needle: Box<TypedExpr>,
    },
    /// `len(@map)`: the number of entries, counted in BPF by `bpf_for_each_map_elem`.
    MapLength {
        map: usize,
    },
    /// `array[index]` of an inline array held in memory.
    ArrayIndex {
        array: Box<TypedExpr>,
        index: Box<TypedExpr>,
    },
}

/// A checked statement.
#[derive(Clone, Debug)]
pub struct TypedStatement {
    pub kind: TypedStatementKind,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum TypedStatementKind {
    /// An expression evaluated for its effects only.
    Expression(TypedExpr),
    /// Emits a ring-buffer record for `action_id`, whose fields (from the Action) are `values`.
    /// Used for printf, cat and print: `values[i]` goes to the action's i-th field.
    Emit {
        action_id: u64,
        values: Vec<TypedExpr>,
    },
    /// `join(array)` as a statement: emits the Join record for `action_id`.
    EmitJoin {
        action_id: u64,
        array: TypedExpr,
        space: AddressSpace,
    },
    /// `exit()` and `time()`: a record with only the action id.
    EmitBare {
        action_id: u64,
    },
    AssignVariable {
        variable: usize,
        value: TypedExpr,
    },
    If {
        condition: TypedExpr,
        then_body: Vec<TypedStatement>,
        else_body: Vec<TypedStatement>,
    },
    While {
        condition: TypedExpr,
        body: Vec<TypedStatement>,
    },
    Unroll {
        count: u32,
        body: Vec<TypedStatement>,
    },
    /// `for ($variable : start..end)`: `end` is evaluated once; at most `max_iterations` rounds
    /// run (the loop is verified by the kernel round by round, so it must be bounded).
    ForRange {
        variable: usize,
        start: TypedExpr,
        end: TypedExpr,
        max_iterations: u32,
        body: Vec<TypedStatement>,
    },
    /// `for ($variable : @map) { body }`: runs `body` once per entry with `$variable` =
    /// `(key, value)` (`((k1, k2), value)` for tuple keys). Compiled to `bpf_for_each_map_elem`
    /// with `body` as the callback: `break` stops the walk, `continue` goes to the next entry.
    /// Per-CPU (aggregation) maps give the current CPU's value, as in bpftrace.
    /// With `value_variable` (`for ($key, $value : @map)`, a bpfscope extension) `variable`
    /// holds the key alone and `value_variable` the value.
    ForMap {
        variable: usize,
        value_variable: Option<usize>,
        map: usize,
        body: Vec<TypedStatement>,
    },
    /// `@map[keys] = value`.
    MapUpdate {
        map: usize,
        keys: Vec<TypedExpr>,
        value: TypedExpr,
    },
    /// `@map[keys] = count()` and the other aggregations; `value` is their argument.
    MapAggregate {
        map: usize,
        keys: Vec<TypedExpr>,
        aggregation: Aggregation,
        value: Option<TypedExpr>,
    },
    /// `delete(@map[keys])`.
    MapDelete {
        map: usize,
        keys: Vec<TypedExpr>,
    },
    Break,
    Continue,
    Return,
    /// `signal(N)` (needs `--unsafe`): `bpf_send_signal` to the current process.
    Signal {
        signal: TypedExpr,
    },
    /// `override(rc)` in a kprobe (needs `--unsafe`): `bpf_override_return`.
    Override {
        value: TypedExpr,
    },
}
