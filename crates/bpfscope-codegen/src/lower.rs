//! Lowering of one typed probe to the intermediate form: expressions, statements, records, and the verifier's idioms.

use crate::context;
use crate::ir::{Base, CallArg, IrBuilder, IrInsn, Label, Operand, VReg, Width};
use crate::maps::{
    BIGBUF_MAP_INDEX, DROPPED_UPDATES_MAP_INDEX, GLOBALS_MAP_INDEX, LOST_MAP_INDEX,
    RINGBUF_MAP_INDEX, SCRATCH_MAP_INDEX, ZERO_MAP_INDEX,
};
use crate::CodegenOptions;
use bpfscope_bpf::helpers::{self, Helper};
use bpfscope_bpf::insn::*;
use bpfscope_bpf::{Action, GlobalSlot, ValueType};
use bpfscope_check::typed::*;
use bpfscope_check::{
    lhist_buckets, AddressSpace, Aggregation, ScriptMap, Type, FIRST_SCRIPT_MAP_INDEX, HIST_BUCKETS,
};
use bpfscope_syntax::{BinaryOperator, Span};

/// Stack bytes the lowering may use for its own slots; the rest is left for spills.
const FRAME_BUDGET: u32 = 320;
/// Aggregates up to this size live on the stack; bigger ones go to the per-CPU scratch map.
const STACK_AGGREGATE_LIMIT: u32 = 64;
/// Copies up to this size are unrolled loads/stores; bigger ones use `probe_read_kernel`.
const UNROLLED_COPY_LIMIT: u32 = 64;
/// Instructions an unrolled `strcontains` with a literal needle may take before it loops.
const STRCONTAINS_UNROLLED_LIMIT: u64 = 4096;
/// Instructions the kernel verifier may walk through a loop (its limit is 1,000,000 in all;
/// the rest is left for the code around the loop and its branches).
const LOOP_VERIFIER_BUDGET: u64 = 300_000;
/// Ends a `join()` value that did not fit (too many items or too long), as the printed
/// `join()` statement does.
const JOIN_TRUNCATION_MARK: &str = "...";
/// `-E2BIG`: what `bpf_map_update_elem` returns when a hash map has no room for a new key.
const MAP_FULL_ERROR: i32 = -7;

/// A place in memory: a frame offset or a register holding a pointer, plus an offset.
#[derive(Clone, Copy, Debug)]
pub struct Place {
    pub base: Base,
    pub offset: i32,
}

impl Place {
    fn at(self, extra: u32) -> Place {
        Place {
            base: self.base,
            offset: self.offset + extra as i32,
        }
    }

    fn call_arg(self) -> CallArg {
        match self.base {
            Base::Frame => CallArg::FrameAddress(self.offset as i16),
            Base::Reg(vreg) => CallArg::RegPlusOffset(vreg, self.offset),
        }
    }
}

/// Where a scratch variable lives (always memory, so loops and branches need no register merging).
#[derive(Clone, Copy, Debug)]
struct VariableStorage {
    place: Place,
    size: u32,
}

/// A problem found while lowering, with where it comes from.
#[derive(Clone, Debug)]
pub struct LoweringError {
    pub span: Span,
    pub message: String,
}

/// Stack the main function of a probe with `for` loops over maps keeps for its own slots:
/// less than usual, because the kernel adds every callback's frame to it (512 bytes in all).
const FRAME_BUDGET_WITH_CALLBACKS: u32 = 192;
/// Stack a callback keeps for its own slots (the rest goes to the scratch map).
const CALLBACK_FRAME_BUDGET: u32 = 96;

/// Where the `argv()` header is in a value that ends with one: the value itself, or the last
/// member of a tuple or record (the checker puts nothing after an `argv()`).
fn trailing_argv_offset(ty: &ValueType) -> Option<u32> {
    match ty {
        ValueType::Argv { .. } => Some(0),
        ValueType::Tuple(fields) => {
            let (offset, last) = fields.last()?;
            Some(offset + trailing_argv_offset(last)?)
        }
        ValueType::Record { fields, .. } => {
            let last = fields.last()?;
            Some(last.offset + trailing_argv_offset(&last.ty)?)
        }
        _ => None,
    }
}

/// Records larger than this are built in the per-CPU big buffer and copied into the ring
/// buffer, instead of being reserved there (a reservation this big would crowd out events).
const RESERVED_RECORD_LIMIT: u32 = 8192;

/// The most instructions an unrolled `regex_match()` may take: jumps from its first byte to its
/// end must fit a 16-bit offset.
const REGEX_UNROLLED_LIMIT: usize = 30_000;

/// The result of lowering one probe.
pub struct LoweredProbe {
    pub insns: Vec<IrInsn>,
    pub frame_bytes: u32,
    pub scratch_bytes: u32,
    /// Bytes of the per-CPU big buffer (`.bigbuf`) the probe uses for `argv()` records.
    pub big_buffer_bytes: u32,
    /// The probe's callbacks, numbered as `CallArg::Function` refers to them.
    pub functions: Vec<LoweredFunction>,
}

/// A BPF function besides the main one: the body of a `for` loop over a map (or the empty
/// callback that counts entries for `len()`), called by `bpf_for_each_map_elem`.
#[derive(Clone, Debug)]
pub struct LoweredFunction {
    pub insns: Vec<IrInsn>,
    pub frame_bytes: u32,
    /// The function whose frame is below this one's at run time (`None`: the main function).
    pub caller: Option<u32>,
    /// The loop it implements, for messages.
    pub span: Span,
}

/// The variables a loop over a map fills: one `(key, value)` tuple, or a key and a value.
#[derive(Clone, Copy, Debug)]
struct LoopVariables {
    /// The `(key, value)` tuple, or the key alone when `value` is set.
    key_or_entry: usize,
    value: Option<usize>,
}

/// Slots in the probe's (main function's) frame that callbacks share with it.
#[derive(Clone, Copy, Debug)]
struct SharedSlots {
    /// The program's context pointer, stored for callbacks (tracepoint fields in loop bodies).
    context: i32,
    /// Set to 1 by a `return` inside a loop body: the callers stop as well.
    return_flag: i32,
}

/// What a function lowered as a callback knows about its surroundings.
#[derive(Clone, Copy, Debug)]
struct CallbackState {
    /// The probe's frame pointer, passed as the callback's context argument (r4).
    probe_frame: VReg,
    /// Its own number among the probe's functions.
    function: u32,
}

pub struct Lowering<'a> {
    builder: IrBuilder,
    program: &'a TypedProgram,
    probe: &'a TypedProbe,
    options: &'a CodegenOptions,
    /// Stack in use now: variables and shared slots, plus the current statement's temporaries.
    frame_bytes: u32,
    /// The most stack ever in use: temporaries are given back after each statement.
    frame_peak: u32,
    context: VReg,
    scratch_base: VReg,
    /// Scratch-map bytes in use now (given back after each statement, like the stack).
    scratch_bytes: u32,
    /// The most scratch-map bytes ever in use.
    scratch_peak: u32,
    /// The largest record or value built in the big buffer (`argv()`), 0 if none.
    big_buffer_bytes: u32,
    variables: Vec<VariableStorage>,
    /// (continue target, break target) of the enclosing loops.
    loops: Vec<(Label, Label)>,
    exit_label: Label,
    errors: Vec<LoweringError>,
    /// Stack bytes the lowering's own slots may take before values go to the scratch map.
    frame_budget: u32,
    /// The probe's callbacks (`None` while one is being lowered).
    functions: Vec<Option<LoweredFunction>>,
    shared: Option<SharedSlots>,
    /// Set when this is a callback rather than the main function.
    callback: Option<CallbackState>,
}

impl<'a> Lowering<'a> {
    pub fn lower(
        program: &'a TypedProgram,
        probe: &'a TypedProbe,
        options: &'a CodegenOptions,
    ) -> Result<LoweredProbe, Vec<LoweringError>> {
        let mut builder = IrBuilder::new();
        let context = builder.vreg();
        let scratch_base = builder.vreg();
        let exit_label = builder.label();
        let mut lowering = Lowering {
            builder,
            program,
            probe,
            options,
            frame_bytes: 0,
            frame_peak: 0,
            context,
            scratch_base,
            scratch_bytes: 0,
            scratch_peak: 0,
            big_buffer_bytes: 0,
            variables: Vec::new(),
            loops: Vec::new(),
            exit_label,
            errors: Vec::new(),
            frame_budget: if statements_have_map_loops(&probe.body) {
                FRAME_BUDGET_WITH_CALLBACKS
            } else {
                FRAME_BUDGET
            },
            functions: Vec::new(),
            shared: None,
            callback: None,
        };
        // With loops over maps, variables live in the scratch map: the callbacks share them,
        // and the verifier does not track map memory, so a counter that a loop body changes
        // does not make it verify the body again for every value the counter could take.
        let shared_variables = statements_have_map_loops(&probe.body);
        for variable in &probe.variables {
            let size = variable.ty.record_size().max(8).div_ceil(8) * 8;
            let place = if shared_variables {
                lowering.allocate_scratch(size)
            } else {
                lowering.allocate(size)
            };
            lowering.variables.push(VariableStorage { place, size });
        }
        // Slots that outlive any one statement are taken before the first one.
        if shared_variables {
            lowering.shared_slots();
        }
        lowering.line(probe.span);
        if let Some(predicate) = &probe.predicate {
            let exit = lowering.exit_label;
            lowering.branch_if_false(predicate, exit);
        }
        lowering.statements(&probe.body);
        lowering.builder.place(exit_label);
        lowering.builder.push(IrInsn::Exit { value: 0 });
        if !lowering.errors.is_empty() {
            return Err(lowering.errors);
        }
        let body = std::mem::take(&mut lowering.builder.insns);
        lowering.prologue();
        let mut insns = std::mem::take(&mut lowering.builder.insns);
        insns.extend(body);
        Ok(LoweredProbe {
            insns,
            frame_bytes: lowering.frame_bytes.max(lowering.frame_peak),
            scratch_bytes: lowering.scratch_bytes.max(lowering.scratch_peak),
            big_buffer_bytes: lowering.big_buffer_bytes,
            functions: lowering.functions.into_iter().flatten().collect(),
        })
    }

    /// Lowers the body of `for ($variable : @map)` as a callback of `bpf_for_each_map_elem`:
    /// `(map, key, value, probe frame)` in r1-r4, returns 0 to go on and 1 to stop. The
    /// script's variables stay in the probe's frame (or the per-CPU scratch map), reached
    /// through the frame pointer passed as the context argument, so that the loop body and
    /// the code around it see the same `$variables`.
    fn lower_callback(
        &mut self,
        variable: LoopVariables,
        map: usize,
        body: &[TypedStatement],
        span: Span,
        shared: SharedSlots,
        function: u32,
    ) -> LoweredFunction {
        let mut builder = IrBuilder::new();
        let context = builder.vreg();
        let scratch_base = builder.vreg();
        let probe_frame = builder.vreg();
        let key = builder.vreg();
        let value = builder.vreg();
        let exit_label = builder.label();
        let parent_scratch_base = self.scratch_base;
        let variables: Vec<VariableStorage> = self
            .variables
            .iter()
            .map(|storage| VariableStorage {
                place: Place {
                    base: match storage.place.base {
                        Base::Reg(base) if base == parent_scratch_base => Base::Reg(scratch_base),
                        _ => Base::Reg(probe_frame),
                    },
                    offset: storage.place.offset,
                },
                size: storage.size,
            })
            .collect();
        let scratch_start = self.scratch_bytes;
        let mut child = Lowering {
            builder,
            program: self.program,
            probe: self.probe,
            options: self.options,
            frame_bytes: 0,
            frame_peak: 0,
            context,
            scratch_base,
            scratch_bytes: scratch_start,
            scratch_peak: scratch_start,
            big_buffer_bytes: 0,
            variables,
            loops: Vec::new(),
            exit_label,
            errors: Vec::new(),
            frame_budget: CALLBACK_FRAME_BUDGET,
            functions: std::mem::take(&mut self.functions),
            shared: Some(shared),
            callback: Some(CallbackState {
                probe_frame,
                function,
            }),
        };
        child.line(span);
        child.load_loop_variable(variable, map, key, value);
        child.statements(body);
        child.builder.place(exit_label);
        child.builder.push(IrInsn::Exit { value: 0 });
        let body_insns = std::mem::take(&mut child.builder.insns);
        // Entry: the arguments first (r1-r5 are clobbered by anything else), then the context
        // pointer from the probe's frame, then the scratch buffer if anything lives there.
        child.line(span);
        child.builder.push(IrInsn::TakeArgument {
            dst: key,
            register: R2,
        });
        child.builder.push(IrInsn::TakeArgument {
            dst: value,
            register: R3,
        });
        child.builder.push(IrInsn::TakeArgument {
            dst: probe_frame,
            register: R4,
        });
        let context_offset = i16::try_from(shared.context).unwrap_or(-8);
        child.builder.push(IrInsn::Load {
            width: Width::B8,
            dst: context,
            base: Base::Reg(probe_frame),
            offset: context_offset,
        });
        let uses_scratch = child.scratch_bytes.max(child.scratch_peak) > scratch_start
            || child.variables.iter().any(
                |storage| matches!(storage.place.base, Base::Reg(base) if base == scratch_base),
            );
        if uses_scratch {
            let key_slot = child.zero_key();
            let pointer = child.builder.vreg();
            child.builder.push(IrInsn::Call {
                helper: helpers::MAP_LOOKUP_ELEM.id,
                args: vec![CallArg::Map(SCRATCH_MAP_INDEX), key_slot.call_arg()],
                result: Some(pointer),
            });
            child
                .builder
                .branch(BPF_JEQ, pointer, Operand::Imm(0), exit_label);
            child.builder.push(IrInsn::Move {
                dst: scratch_base,
                src: Operand::Reg(pointer),
            });
        }
        let mut insns = std::mem::take(&mut child.builder.insns);
        insns.extend(body_insns);
        self.scratch_bytes = self
            .scratch_bytes
            .max(child.scratch_bytes.max(child.scratch_peak));
        self.big_buffer_bytes = self.big_buffer_bytes.max(child.big_buffer_bytes);
        self.errors.append(&mut child.errors);
        self.functions = std::mem::take(&mut child.functions);
        LoweredFunction {
            insns,
            frame_bytes: child.frame_bytes.max(child.frame_peak),
            caller: self.callback.map(|callback| callback.function),
            span,
        }
    }

    /// At the start of a loop body: `$variable = (key, value)` from the entry's pointers, or
    /// `$key = key; $value = value` for the two-variable form.
    fn load_loop_variable(&mut self, variable: LoopVariables, map: usize, key: VReg, value: VReg) {
        let (Some(storage), Some(script_map), Some(declared)) = (
            self.variables.get(variable.key_or_entry).copied(),
            self.script_map(map),
            self.probe.variables.get(variable.key_or_entry),
        ) else {
            return;
        };
        let (key_destination, value_destination) = match variable.value {
            Some(value_variable) => {
                let Some(value_storage) = self.variables.get(value_variable).copied() else {
                    return;
                };
                (storage.place, value_storage.place)
            }
            None => {
                let Type::Tuple(elements) = &declared.ty else {
                    return;
                };
                let (offsets, _) = bpfscope_check::types::tuple_layout(elements);
                let (Some(&key_offset), Some(&value_offset)) = (offsets.first(), offsets.get(1))
                else {
                    return;
                };
                (storage.place.at(key_offset), storage.place.at(value_offset))
            }
        };
        let value_place = Place {
            base: Base::Reg(value),
            offset: 0,
        };
        if let Some((exists_offset, per_cpu)) = self.keyless_array(map) {
            // The array's one entry is visited even when unset: skip it then (the body is not
            // run, as for an empty hash). Its key is a u32 index; the script sees a zero u64.
            let set = if per_cpu {
                self.keyless_is_set(map, exists_offset, per_cpu)
            } else {
                self.load_place(Width::B8, value_place.at(exists_offset))
            };
            let exit = self.exit_label;
            self.builder.branch(BPF_JEQ, set, Operand::Imm(0), exit);
            self.store_place(Width::B8, key_destination, Operand::Imm(0));
        } else {
            let key_place = Place {
                base: Base::Reg(key),
                offset: 0,
            };
            self.copy(key_place, key_destination, script_map.key_size());
        }
        match &script_map.value {
            MapValueKind::Plain(ty) if !ty.is_scalar() => {
                self.copy(value_place, value_destination, script_map.value_size());
            }
            // Scalars, counts, sums, and min/max (whose value comes before its "set" flag).
            _ => {
                let loaded = self.load_place(Width::B8, value_place);
                self.store_place(Width::B8, value_destination, Operand::Reg(loaded));
            }
        }
    }

    /// The probe-frame slots callbacks share, allocated by the main function on first need.
    fn shared_slots(&mut self) -> SharedSlots {
        if let Some(shared) = self.shared {
            return shared;
        }
        let context = i32::from(self.stack_slot());
        let return_flag = i32::from(self.stack_slot());
        let shared = SharedSlots {
            context,
            return_flag,
        };
        self.shared = Some(shared);
        shared
    }

    /// A shared slot as this function addresses it.
    fn shared_place(&self, offset: i32) -> Place {
        match self.callback {
            Some(callback) => Place {
                base: Base::Reg(callback.probe_frame),
                offset,
            },
            None => Place {
                base: Base::Frame,
                offset,
            },
        }
    }

    /// The probe's frame pointer as a helper argument (the callbacks' context).
    fn probe_frame_arg(&self) -> CallArg {
        match self.callback {
            Some(callback) => CallArg::Reg(callback.probe_frame),
            None => CallArg::FrameAddress(0),
        }
    }

    /// `for ($variable : @map) { body }` through `bpf_for_each_map_elem`.
    fn for_map(
        &mut self,
        variable: LoopVariables,
        map: usize,
        body: &[TypedStatement],
        span: Span,
    ) {
        let shared = self.shared_slots();
        if self.callback.is_none() {
            let context_place = self.shared_place(shared.context);
            self.store_place(Width::B8, context_place, Operand::Reg(self.context));
            let flag_place = self.shared_place(shared.return_flag);
            self.store_place(Width::B8, flag_place, Operand::Imm(0));
        }
        let function = self.functions.len() as u32;
        self.functions.push(None);
        let lowered = self.lower_callback(variable, map, body, span, shared, function);
        if let Some(slot) = self.functions.get_mut(function as usize) {
            *slot = Some(lowered);
        }
        self.line(span);
        self.builder.call_discarding(
            helpers::FOR_EACH_MAP_ELEM,
            vec![
                CallArg::Map(FIRST_SCRIPT_MAP_INDEX + map),
                CallArg::Function(function),
                self.probe_frame_arg(),
                CallArg::Imm(0),
            ],
        );
        if statements_have_return(body) {
            let flag_place = self.shared_place(shared.return_flag);
            let flag = self.load_place(Width::B8, flag_place);
            let go_on = self.builder.label();
            self.builder.branch(BPF_JEQ, flag, Operand::Imm(0), go_on);
            match self.callback {
                Some(_) => self.builder.push(IrInsn::Exit { value: 1 }),
                None => {
                    let exit = self.exit_label;
                    self.builder.jump(exit);
                }
            }
            self.builder.place(go_on);
        }
    }

    /// `len(@map)`: `bpf_for_each_map_elem` with a callback that does nothing returns how
    /// many entries it visited.
    fn map_length(&mut self, map: usize, span: Span) -> VReg {
        if let Some((exists_offset, per_cpu)) = self.keyless_array(map) {
            // An array always has its one entry: count it only when set.
            return self.keyless_is_set(map, exists_offset, per_cpu);
        }
        let function = self.functions.len() as u32;
        self.functions.push(Some(LoweredFunction {
            insns: vec![IrInsn::Exit { value: 0 }],
            frame_bytes: 0,
            caller: self.callback.map(|callback| callback.function),
            span,
        }));
        self.call(
            helpers::FOR_EACH_MAP_ELEM,
            vec![
                CallArg::Map(FIRST_SCRIPT_MAP_INDEX + map),
                CallArg::Function(function),
                CallArg::Imm(0),
                CallArg::Imm(0),
            ],
        )
    }

    /// Entry code: take the context, find the scratch buffer, zero the variables.
    fn prologue(&mut self) {
        self.line(self.probe.span);
        self.builder.push(IrInsn::TakeContext { dst: self.context });
        if self.scratch_bytes.max(self.scratch_peak) > 0 {
            let key = self.zero_key();
            let pointer = self.builder.vreg();
            self.builder.push(IrInsn::Call {
                helper: helpers::MAP_LOOKUP_ELEM.id,
                args: vec![CallArg::Map(SCRATCH_MAP_INDEX), key.call_arg()],
                result: Some(pointer),
            });
            let exit = self.exit_label;
            self.builder.branch(BPF_JEQ, pointer, Operand::Imm(0), exit);
            self.builder.push(IrInsn::Move {
                dst: self.scratch_base,
                src: Operand::Reg(pointer),
            });
        }
        // The verifier refuses reads of stack never written: variables start as zero. Those
        // in the scratch map (probes with loops over maps) would keep the last run's values.
        let shared_variables = statements_have_map_loops(&self.probe.body);
        for storage in self.variables.clone() {
            if shared_variables && !matches!(storage.place.base, Base::Frame) {
                self.zero_fill_exact(storage.place, storage.size);
            }
            if let Base::Frame = storage.place.base {
                for chunk in (0..storage.size).step_by(8) {
                    let place = storage.place.at(chunk);
                    self.builder.store(
                        Width::B8,
                        Base::Frame,
                        place.offset as i16,
                        Operand::Imm(0),
                    );
                }
            }
        }
    }

    fn error(&mut self, span: Span, message: impl Into<String>) {
        self.errors.push(LoweringError {
            span,
            message: message.into(),
        });
    }

    fn line(&mut self, span: Span) {
        let line = self.program.line_of(span.start);
        self.builder.push(IrInsn::Line(line));
    }

    /// Memory for `size` bytes: the stack when small, else the per-CPU scratch map.
    fn allocate(&mut self, size: u32) -> Place {
        let size = size.max(1).div_ceil(8) * 8;
        if size <= STACK_AGGREGATE_LIMIT && self.frame_bytes + size <= self.frame_budget {
            self.frame_bytes += size;
            Place {
                base: Base::Frame,
                offset: -(self.frame_bytes as i32),
            }
        } else {
            let offset = self.scratch_bytes;
            self.scratch_bytes += size;
            Place {
                base: Base::Reg(self.scratch_base),
                offset: offset as i32,
            }
        }
    }

    /// Memory in the per-CPU scratch map, whatever the size.
    fn allocate_scratch(&mut self, size: u32) -> Place {
        let offset = self.scratch_bytes;
        self.scratch_bytes += size.max(1).div_ceil(8) * 8;
        Place {
            base: Base::Reg(self.scratch_base),
            offset: offset as i32,
        }
    }

    /// An 8-byte stack slot.
    fn stack_slot(&mut self) -> i16 {
        self.frame_bytes += 8;
        -(self.frame_bytes as i32) as i16
    }

    /// A zeroed 4-byte key on the stack (a fresh slot each time keeps the verifier's view simple).
    fn zero_key(&mut self) -> Place {
        let offset = self.stack_slot();
        self.builder
            .store(Width::B8, Base::Frame, offset, Operand::Imm(0));
        Place {
            base: Base::Frame,
            offset: i32::from(offset),
        }
    }

    fn call(&mut self, helper: Helper, args: Vec<CallArg>) -> VReg {
        self.builder.call(helper, args)
    }

    // ---------------------------------------------------------------- statements

    fn statements(&mut self, statements: &[TypedStatement]) {
        for statement in statements {
            self.statement(statement);
        }
    }

    /// One statement; its temporaries' stack and scratch-map space is free again after it, so
    /// that long scripts and the two branches of an `if` share the same slots.
    fn statement(&mut self, statement: &TypedStatement) {
        let frame_mark = self.frame_bytes;
        let scratch_mark = self.scratch_bytes;
        self.statement_without_reuse(statement);
        self.frame_peak = self.frame_peak.max(self.frame_bytes);
        self.scratch_peak = self.scratch_peak.max(self.scratch_bytes);
        self.frame_bytes = frame_mark;
        self.scratch_bytes = scratch_mark;
    }

    fn statement_without_reuse(&mut self, statement: &TypedStatement) {
        self.line(statement.span);
        match &statement.kind {
            TypedStatementKind::Expression(expr) => {
                if expr.ty.is_scalar() {
                    self.scalar(expr);
                } else if expr.ty.record_size() > 0 {
                    let place = self.allocate(expr.ty.record_size());
                    self.aggregate_into(expr, place, expr.ty.record_size());
                }
            }
            TypedStatementKind::Emit { action_id, values } => self.emit_record(*action_id, values),
            TypedStatementKind::EmitBare { action_id } => self.emit_record(*action_id, &[]),
            TypedStatementKind::EmitJoin {
                action_id,
                array,
                space,
            } => self.emit_join(*action_id, array, *space),
            TypedStatementKind::AssignVariable { variable, value } => {
                let Some(storage) = self.variables.get(*variable).copied() else {
                    return;
                };
                if value.ty.is_scalar() {
                    let register = self.scalar(value);
                    self.store_place(Width::B8, storage.place, Operand::Reg(register));
                } else {
                    self.aggregate_into(value, storage.place, storage.size);
                }
            }
            TypedStatementKind::If {
                condition,
                then_body,
                else_body,
            } => {
                let else_label = self.builder.label();
                let end_label = self.builder.label();
                self.branch_if_false(condition, else_label);
                self.statements(then_body);
                self.builder.jump(end_label);
                self.builder.place(else_label);
                self.statements(else_body);
                self.builder.place(end_label);
            }
            TypedStatementKind::While { condition, body } => {
                let head = self.builder.label();
                let end = self.builder.label();
                self.builder.place(head);
                self.branch_if_false(condition, end);
                self.loops.push((head, end));
                self.statements(body);
                self.loops.pop();
                self.builder.jump(head);
                self.builder.place(end);
            }
            TypedStatementKind::Unroll { count, body } => {
                for _ in 0..*count {
                    self.statements(body);
                }
            }
            TypedStatementKind::ForRange {
                variable,
                start,
                end,
                max_iterations,
                body,
            } => self.for_range(*variable, start, end, *max_iterations, body, statement.span),
            TypedStatementKind::ForMap {
                variable,
                value_variable,
                map,
                body,
            } => self.for_map(
                LoopVariables {
                    key_or_entry: *variable,
                    value: *value_variable,
                },
                *map,
                body,
                statement.span,
            ),
            TypedStatementKind::MapUpdate { map, keys, value } => {
                self.map_update(*map, keys, value)
            }
            TypedStatementKind::MapAggregate {
                map,
                keys,
                aggregation,
                value,
            } => self.map_aggregate(*map, keys, *aggregation, value.as_ref()),
            TypedStatementKind::MapDelete { map, keys } => self.map_delete(*map, keys),
            TypedStatementKind::Break | TypedStatementKind::Continue => {
                let is_break = matches!(statement.kind, TypedStatementKind::Break);
                let Some(&(head, end)) = self.loops.last() else {
                    // Directly in a loop body over a map: the callback's answer to the kernel.
                    if self.callback.is_some() {
                        self.builder.push(IrInsn::Exit {
                            value: i32::from(is_break),
                        });
                    }
                    return;
                };
                let target = if matches!(statement.kind, TypedStatementKind::Break) {
                    end
                } else {
                    head
                };
                self.builder.jump(target);
            }
            TypedStatementKind::Signal { signal } => {
                let number = self.scalar(signal);
                self.call(helpers::SEND_SIGNAL, vec![CallArg::Reg(number)]);
            }
            TypedStatementKind::Override { value } => {
                let value = self.scalar(value);
                let context = self.context;
                self.call(
                    helpers::OVERRIDE_RETURN,
                    vec![CallArg::Reg(context), CallArg::Reg(value)],
                );
            }
            TypedStatementKind::Return => {
                if self.callback.is_some() {
                    // Leaves the probe: every enclosing loop over a map sees the flag and stops.
                    let shared = self.shared_slots();
                    let flag_place = self.shared_place(shared.return_flag);
                    self.store_place(Width::B8, flag_place, Operand::Imm(1));
                    self.builder.push(IrInsn::Exit { value: 1 });
                    return;
                }
                let exit = self.exit_label;
                self.builder.jump(exit);
            }
        }
    }

    /// `for ($i : start..end)`: a loop the verifier walks round by round, bounded by
    /// `max_iterations` (a hidden counter) so that it always ends.
    fn for_range(
        &mut self,
        variable: usize,
        start: &TypedExpr,
        end: &TypedExpr,
        max_iterations: u32,
        body: &[TypedStatement],
        span: Span,
    ) {
        let Some(storage) = self.variables.get(variable).copied() else {
            return;
        };
        let first = self.scalar(start);
        self.store_place(Width::B8, storage.place, Operand::Reg(first));
        let last = self.scalar(end);
        let end_slot = self.stack_slot();
        self.builder
            .store(Width::B8, Base::Frame, end_slot, Operand::Reg(last));
        let rounds_slot = self.stack_slot();
        self.builder
            .store(Width::B8, Base::Frame, rounds_slot, Operand::Imm(0));
        let head = self.builder.label();
        let next = self.builder.label();
        let done = self.builder.label();
        self.builder.place(head);
        let rounds = self.builder.load(Width::B8, Base::Frame, rounds_slot);
        self.builder.branch(
            BPF_JGE,
            rounds,
            Operand::Imm(max_iterations.min(i32::MAX as u32) as i32),
            done,
        );
        let current = self.load_place(Width::B8, storage.place);
        let limit = self.builder.load(Width::B8, Base::Frame, end_slot);
        self.builder
            .branch(BPF_JSGE, current, Operand::Reg(limit), done);
        let body_start = self.builder.insns.len();
        self.loops.push((next, done));
        self.statements(body);
        self.loops.pop();
        let body_length = (self.builder.insns.len() - body_start) as u64 + 12;
        if body_length.saturating_mul(u64::from(max_iterations)) > LOOP_VERIFIER_BUDGET {
            self.error(
                span,
                format!(
                    "this loop is too big for the kernel verifier: about {body_length} instructions \
                     per round, {max_iterations} rounds; make the body or the range smaller"
                ),
            );
        }
        self.builder.place(next);
        let current = self.load_place(Width::B8, storage.place);
        self.builder.alu(BPF_ADD, current, Operand::Imm(1));
        self.store_place(Width::B8, storage.place, Operand::Reg(current));
        let rounds = self.builder.load(Width::B8, Base::Frame, rounds_slot);
        self.builder.alu(BPF_ADD, rounds, Operand::Imm(1));
        self.builder
            .store(Width::B8, Base::Frame, rounds_slot, Operand::Reg(rounds));
        self.builder.jump(head);
        self.builder.place(done);
    }

    /// After a map update whose result is `status`: a full map (`-E2BIG`) bumps that map's
    /// `.dropped` counter on this CPU, so that user space can say it lost updates.
    fn count_if_map_full(&mut self, map: usize, status: VReg) {
        let done = self.builder.label();
        self.builder
            .branch(BPF_JNE, status, Operand::Imm(MAP_FULL_ERROR), done);
        let key_offset = self.stack_slot();
        self.builder.store(
            Width::B8,
            Base::Frame,
            key_offset,
            Operand::Imm((FIRST_SCRIPT_MAP_INDEX + map) as i32),
        );
        let counter = self.call(
            helpers::MAP_LOOKUP_ELEM,
            vec![
                CallArg::Map(DROPPED_UPDATES_MAP_INDEX),
                CallArg::FrameAddress(key_offset),
            ],
        );
        self.builder.branch(BPF_JEQ, counter, Operand::Imm(0), done);
        let one = self.builder.constant(1);
        self.builder.push(IrInsn::AtomicAdd64 {
            base: counter,
            offset: 0,
            src: one,
        });
        self.builder.place(done);
    }

    /// A `u64` the runtime wrote into the globals map before loading.
    fn global(&mut self, slot: GlobalSlot) -> VReg {
        let key_offset = self.stack_slot();
        self.builder.store(
            Width::B8,
            Base::Frame,
            key_offset,
            Operand::Imm(slot as i32),
        );
        let pointer = self.call(
            helpers::MAP_LOOKUP_ELEM,
            vec![
                CallArg::Map(GLOBALS_MAP_INDEX),
                CallArg::FrameAddress(key_offset),
            ],
        );
        let result = self.builder.constant(0);
        let done = self.builder.label();
        self.builder.branch(BPF_JEQ, pointer, Operand::Imm(0), done);
        let value = self.builder.load(Width::B8, Base::Reg(pointer), 0);
        self.builder.push(IrInsn::Move {
            dst: result,
            src: Operand::Reg(value),
        });
        self.builder.place(done);
        result
    }

    /// Reads an aggregation inside a probe: the per-CPU values of the key merged as user space
    /// merges them (sum of counts/sums, min of mins, max of maxes, total / count for avg).
    fn aggregate_read(&mut self, map: usize, keys: &[TypedExpr], expr: &TypedExpr) -> VReg {
        let Some(script_map) = self.script_map(map) else {
            return self.builder.constant(0);
        };
        let value_kind = script_map.value.clone();
        let key = self.map_key(map, keys);
        let total_slot = self.stack_slot();
        let count_slot = self.stack_slot();
        self.builder
            .store(Width::B8, Base::Frame, total_slot, Operand::Imm(0));
        self.builder
            .store(Width::B8, Base::Frame, count_slot, Operand::Imm(0));
        let done = self.builder.label();
        let cpus = self.options.possible_cpus.clamp(1, 1024);
        for cpu in 0..cpus {
            let pointer = self.call(
                helpers::MAP_LOOKUP_PERCPU_ELEM,
                vec![
                    CallArg::Map(FIRST_SCRIPT_MAP_INDEX + map),
                    key.call_arg(),
                    CallArg::Imm(i64::from(cpu)),
                ],
            );
            // An absent key is absent on every CPU; past the last CPU the helper says NULL too.
            self.builder.branch(BPF_JEQ, pointer, Operand::Imm(0), done);
            match value_kind {
                MapValueKind::Count | MapValueKind::Sum { .. } => {
                    let value = self.builder.load(Width::B8, Base::Reg(pointer), 0);
                    let total = self.builder.load(Width::B8, Base::Frame, total_slot);
                    self.builder.alu(BPF_ADD, total, Operand::Reg(value));
                    self.builder
                        .store(Width::B8, Base::Frame, total_slot, Operand::Reg(total));
                }
                MapValueKind::Avg { .. } => {
                    let count = self.builder.load(Width::B8, Base::Reg(pointer), 0);
                    let value = self.builder.load(Width::B8, Base::Reg(pointer), 8);
                    let sum = self.builder.load(Width::B8, Base::Frame, count_slot);
                    self.builder.alu(BPF_ADD, sum, Operand::Reg(count));
                    self.builder
                        .store(Width::B8, Base::Frame, count_slot, Operand::Reg(sum));
                    let total = self.builder.load(Width::B8, Base::Frame, total_slot);
                    self.builder.alu(BPF_ADD, total, Operand::Reg(value));
                    self.builder
                        .store(Width::B8, Base::Frame, total_slot, Operand::Reg(total));
                }
                MapValueKind::Min { signed } | MapValueKind::Max { signed } => {
                    // [value, set flag]; `count_slot` says whether any CPU had a value yet.
                    let next = self.builder.label();
                    let take = self.builder.label();
                    let set = self.builder.load(Width::B8, Base::Reg(pointer), 8);
                    self.builder.branch(BPF_JEQ, set, Operand::Imm(0), next);
                    let value = self.builder.load(Width::B8, Base::Reg(pointer), 0);
                    let seen = self.builder.load(Width::B8, Base::Frame, count_slot);
                    self.builder.branch(BPF_JEQ, seen, Operand::Imm(0), take);
                    let best = self.builder.load(Width::B8, Base::Frame, total_slot);
                    let is_min = matches!(value_kind, MapValueKind::Min { .. });
                    let keep = match (is_min, signed) {
                        (true, true) => BPF_JSGE,
                        (true, false) => BPF_JGE,
                        (false, true) => BPF_JSLE,
                        (false, false) => BPF_JLE,
                    };
                    self.builder.branch(keep, value, Operand::Reg(best), next);
                    self.builder.place(take);
                    self.builder
                        .store(Width::B8, Base::Frame, total_slot, Operand::Reg(value));
                    self.builder
                        .store(Width::B8, Base::Frame, count_slot, Operand::Imm(1));
                    self.builder.place(next);
                }
                _ => {
                    self.error(expr.span, "this aggregation cannot be read inside a probe");
                    break;
                }
            }
        }
        self.builder.place(done);
        let total = self.builder.load(Width::B8, Base::Frame, total_slot);
        if let MapValueKind::Avg { signed } = value_kind {
            let count = self.builder.load(Width::B8, Base::Frame, count_slot);
            let end = self.builder.label();
            let result = self.builder.constant(0);
            self.builder.branch(BPF_JEQ, count, Operand::Imm(0), end);
            if signed {
                // BPF division is unsigned: divide the magnitude and put the sign back.
                let positive = self.builder.label();
                self.builder
                    .branch(BPF_JSGE, total, Operand::Imm(0), positive);
                self.builder.push(IrInsn::Negate { dst: total });
                self.builder.alu(BPF_DIV, total, Operand::Reg(count));
                self.builder.push(IrInsn::Negate { dst: total });
                self.builder.push(IrInsn::Move {
                    dst: result,
                    src: Operand::Reg(total),
                });
                self.builder.jump(end);
                self.builder.place(positive);
            }
            self.builder.alu(BPF_DIV, total, Operand::Reg(count));
            self.builder.push(IrInsn::Move {
                dst: result,
                src: Operand::Reg(total),
            });
            self.builder.place(end);
            return result;
        }
        total
    }

    /// `strncmp(a, b, n)`: 0 when the first `n` bytes are equal or both strings end together
    /// before that, 1 otherwise (unrolled byte compares).
    fn string_n_compare(&mut self, left: &TypedExpr, right: &TypedExpr, length: u32) -> VReg {
        let length = length.min(left.ty.size()).min(right.ty.size());
        let left_place = self.aggregate_place(left);
        let right_place = self.aggregate_place(right);
        let result = self.builder.constant(1);
        let differ = self.builder.label();
        let equal = self.builder.label();
        for index in 0..length {
            let a = self.load_place(Width::B1, left_place.at(index));
            let b = self.load_place(Width::B1, right_place.at(index));
            self.builder.branch(BPF_JNE, a, Operand::Reg(b), differ);
            self.builder.branch(BPF_JEQ, a, Operand::Imm(0), equal);
        }
        self.builder.place(equal);
        self.builder.push(IrInsn::Move {
            dst: result,
            src: Operand::Imm(0),
        });
        self.builder.place(differ);
        result
    }

    /// `regex_match(s, "re")`: the DFA run over the string's bytes, unrolled. The state lives
    /// in a stack slot; each byte moves it by range comparisons. A match state ends the search
    /// with 1, the dead state with 0; at the string's end (NUL or the buffer's end) the state
    /// says whether `$`-like endings match.
    fn regex_match(
        &mut self,
        haystack: &TypedExpr,
        dfa: &bpfscope_check::regex_dfa::ByteDfa,
        span: Span,
    ) -> VReg {
        let result = self.builder.constant(1);
        let capacity = haystack.ty.size();
        let per_byte: usize = dfa
            .states
            .iter()
            .map(|state| 2 + 3 * state.transitions.len())
            .sum::<usize>()
            + 8;
        // Jumps to the end must stay within their 16-bit offsets.
        if per_byte.saturating_mul(capacity as usize) > REGEX_UNROLLED_LIMIT {
            self.error(
                span,
                format!(
                    "regex_match(): this pattern over a {capacity}-byte string needs about {} instructions, more than a BPF jump can span ({REGEX_UNROLLED_LIMIT}); use a simpler pattern or a shorter string (str(x, N))",
                    per_byte.saturating_mul(capacity as usize)
                ),
            );
            return result;
        }
        let place = self.aggregate_place(haystack);
        let state_slot = self.stack_slot();
        self.builder.store(
            Width::B8,
            Base::Frame,
            state_slot,
            Operand::Imm(dfa.start as i32),
        );
        let matched = self.builder.label();
        let no_match = self.builder.label();
        let at_end = self.builder.label();
        if dfa.start >= dfa.first_match_state {
            let target = if dfa.start >= dfa.dead_state {
                no_match
            } else {
                matched
            };
            self.builder.jump(target);
        }
        for index in 0..capacity {
            let byte = self.load_place(Width::B1, place.at(index));
            self.builder.branch(BPF_JEQ, byte, Operand::Imm(0), at_end);
            let state = self.builder.load(Width::B8, Base::Frame, state_slot);
            let moved = self.builder.label();
            for (number, dfa_state) in dfa.states.iter().enumerate() {
                let other_state = self.builder.label();
                self.builder
                    .branch(BPF_JNE, state, Operand::Imm(number as i32), other_state);
                for (low, high, next) in &dfa_state.transitions {
                    let other_range = self.builder.label();
                    if *low > 0 {
                        self.builder.branch(
                            BPF_JLT,
                            byte,
                            Operand::Imm(i32::from(*low)),
                            other_range,
                        );
                    }
                    if *high < u8::MAX {
                        self.builder.branch(
                            BPF_JGT,
                            byte,
                            Operand::Imm(i32::from(*high)),
                            other_range,
                        );
                    }
                    self.builder.store(
                        Width::B8,
                        Base::Frame,
                        state_slot,
                        Operand::Imm(*next as i32),
                    );
                    self.builder.jump(moved);
                    self.builder.place(other_range);
                }
                self.builder.jump(moved);
                self.builder.place(other_state);
            }
            self.builder.place(moved);
            let state = self.builder.load(Width::B8, Base::Frame, state_slot);
            self.builder.branch(
                BPF_JGE,
                state,
                Operand::Imm(dfa.dead_state as i32),
                no_match,
            );
            self.builder.branch(
                BPF_JGE,
                state,
                Operand::Imm(dfa.first_match_state as i32),
                matched,
            );
        }
        self.builder.place(at_end);
        let state = self.builder.load(Width::B8, Base::Frame, state_slot);
        for (number, dfa_state) in dfa.states.iter().enumerate() {
            if dfa_state.matches_at_end {
                self.builder
                    .branch(BPF_JEQ, state, Operand::Imm(number as i32), matched);
            }
        }
        self.builder.place(no_match);
        self.builder.push(IrInsn::Move {
            dst: result,
            src: Operand::Imm(0),
        });
        self.builder.place(matched);
        result
    }

    /// `strcontains(s, "needle")`: tries the needle at every position (unrolled).
    fn string_contains(&mut self, haystack: &TypedExpr, needle: &[u8]) -> VReg {
        let result = self.builder.constant(1);
        if needle.is_empty() {
            return result;
        }
        let capacity = haystack.ty.size();
        let needle_length = needle.len() as u32;
        // Unrolled, every start position costs two instructions per needle byte: past a few
        // thousand, jumps overflow their 16-bit offsets and the verifier gives up.
        let unrolled_instructions = u64::from(capacity) * (2 * u64::from(needle_length) + 2);
        if unrolled_instructions > STRCONTAINS_UNROLLED_LIMIT {
            return self.string_contains_looped(haystack, needle, capacity);
        }
        let place = self.aggregate_place(haystack);
        let found = self.builder.label();
        let not_found = self.builder.label();
        for start in 0..capacity.saturating_sub(needle_length - 1) {
            let next = self.builder.label();
            for (index, byte) in needle.iter().enumerate() {
                let at = self.load_place(Width::B1, place.at(start + index as u32));
                if index == 0 {
                    // The string ended before the needle could start: nowhere further.
                    self.builder.branch(BPF_JEQ, at, Operand::Imm(0), not_found);
                }
                self.builder
                    .branch(BPF_JNE, at, Operand::Imm(i32::from(*byte)), next);
            }
            self.builder.jump(found);
            self.builder.place(next);
        }
        self.builder.place(not_found);
        self.builder.push(IrInsn::Move {
            dst: result,
            src: Operand::Imm(0),
        });
        self.builder.place(found);
        result
    }

    /// `strcontains(s, "literal")` on a long string: a bounded loop over the start positions
    /// (verified round by round), the comparison with the literal unrolled inside it.
    fn string_contains_looped(
        &mut self,
        haystack: &TypedExpr,
        needle: &[u8],
        capacity: u32,
    ) -> VReg {
        let needle_length = needle.len() as u32;
        if needle_length > capacity {
            return self.builder.constant(0);
        }
        let place = self.aggregate_place(haystack);
        let haystack_pointer = self.place_pointer(place);
        let result = self.builder.constant(0);
        let found = self.builder.label();
        let done = self.builder.label();
        let outer = self.builder.label();
        let next_start = self.builder.label();
        // Starts past this one leave too few bytes for the needle.
        let start_limit = capacity - needle_length + 1;
        let start = self.builder.constant(0);
        self.builder.place(outer);
        self.builder
            .branch(BPF_JGE, start, Operand::Imm(start_limit as i32), done);
        let at = self.builder.copy(haystack_pointer);
        self.builder.alu(BPF_ADD, at, Operand::Reg(start));
        // One branch per start position, not one per needle byte: the verifier keeps every
        // untaken branch pending, and more than 8192 of them make it give up.
        let difference = self.builder.constant(0);
        for (index, byte) in needle.iter().enumerate() {
            let seen = self.builder.load(Width::B1, Base::Reg(at), index as i16);
            if index == 0 {
                // The string ended before the needle could start: nowhere further.
                self.builder.branch(BPF_JEQ, seen, Operand::Imm(0), done);
            }
            self.builder
                .alu(BPF_XOR, seen, Operand::Imm(i32::from(*byte)));
            self.builder.alu(BPF_OR, difference, Operand::Reg(seen));
        }
        self.builder
            .branch(BPF_JNE, difference, Operand::Imm(0), next_start);
        self.builder.jump(found);
        self.builder.place(next_start);
        self.builder.alu(BPF_ADD, start, Operand::Imm(1));
        self.builder.jump(outer);
        self.builder.place(found);
        self.builder.push(IrInsn::Move {
            dst: result,
            src: Operand::Imm(1),
        });
        self.builder.place(done);
        result
    }

    /// `strcontains(s, needle)` with a needle known only at run time: a loop over the start
    /// positions with an inner loop over the needle. The kernel verifies it round by round,
    /// so the two capacities bound the work (checked by the caller's budget).
    fn string_contains_dynamic(&mut self, haystack: &TypedExpr, needle: &TypedExpr) -> VReg {
        let haystack_capacity = haystack.ty.size();
        let needle_capacity = needle.ty.size();
        let rounds = u64::from(haystack_capacity) * u64::from(needle_capacity);
        if rounds * 14 > LOOP_VERIFIER_BUDGET {
            self.error(
                needle.span,
                format!(
                    "strcontains() of a {haystack_capacity}-byte string with a {needle_capacity}-byte \
                     needle that is not a literal is too much work for the kernel verifier; \
                     use a literal needle or shorter strings (str(s, N))"
                ),
            );
            return self.builder.constant(0);
        }
        let haystack_place = self.aggregate_place(haystack);
        let needle_place = self.aggregate_place(needle);
        let haystack_pointer = self.place_pointer(haystack_place);
        let needle_pointer = self.place_pointer(needle_place);
        let result = self.builder.constant(0);
        let found = self.builder.label();
        let done = self.builder.label();
        let outer = self.builder.label();
        let inner = self.builder.label();
        let next_start = self.builder.label();
        let first = self.builder.load(Width::B1, Base::Reg(needle_pointer), 0);
        // The empty string is in every string.
        self.builder.branch(BPF_JEQ, first, Operand::Imm(0), found);
        let start = self.builder.constant(0);
        let index = self.builder.constant(0);
        self.builder.place(outer);
        self.builder
            .branch(BPF_JGE, start, Operand::Imm(haystack_capacity as i32), done);
        let at = self.builder.copy(haystack_pointer);
        self.builder.alu(BPF_ADD, at, Operand::Reg(start));
        let character = self.builder.load(Width::B1, Base::Reg(at), 0);
        self.builder
            .branch(BPF_JEQ, character, Operand::Imm(0), done);
        self.builder.push(IrInsn::Move {
            dst: index,
            src: Operand::Imm(0),
        });
        self.builder.place(inner);
        // The whole needle matched (up to its NUL or its capacity).
        self.builder
            .branch(BPF_JGE, index, Operand::Imm(needle_capacity as i32), found);
        let needle_at = self.builder.copy(needle_pointer);
        self.builder.alu(BPF_ADD, needle_at, Operand::Reg(index));
        let wanted = self.builder.load(Width::B1, Base::Reg(needle_at), 0);
        self.builder.branch(BPF_JEQ, wanted, Operand::Imm(0), found);
        let position = self.builder.copy(start);
        self.builder.alu(BPF_ADD, position, Operand::Reg(index));
        // The haystack ends before the needle does: no later start can match either.
        self.builder.branch(
            BPF_JGE,
            position,
            Operand::Imm(haystack_capacity as i32),
            done,
        );
        let haystack_at = self.builder.copy(haystack_pointer);
        self.builder
            .alu(BPF_ADD, haystack_at, Operand::Reg(position));
        let seen = self.builder.load(Width::B1, Base::Reg(haystack_at), 0);
        self.builder
            .branch(BPF_JNE, seen, Operand::Reg(wanted), next_start);
        self.builder.alu(BPF_ADD, index, Operand::Imm(1));
        self.builder.jump(inner);
        self.builder.place(next_start);
        self.builder.alu(BPF_ADD, start, Operand::Imm(1));
        self.builder.jump(outer);
        self.builder.place(found);
        self.builder.push(IrInsn::Move {
            dst: result,
            src: Operand::Imm(1),
        });
        self.builder.place(done);
        result
    }

    fn store_place(&mut self, width: Width, place: Place, value: Operand) {
        match i16::try_from(place.offset) {
            Ok(offset) => self.builder.store(width, place.base, offset, value),
            Err(_) => {
                let pointer = self.place_pointer(place);
                self.builder.store(width, Base::Reg(pointer), 0, value);
            }
        }
    }

    fn load_place(&mut self, width: Width, place: Place) -> VReg {
        match i16::try_from(place.offset) {
            Ok(offset) => self.builder.load(width, place.base, offset),
            Err(_) => {
                let pointer = self.place_pointer(place);
                self.builder.load(width, Base::Reg(pointer), 0)
            }
        }
    }

    /// A register holding the address of `place`.
    fn place_pointer(&mut self, place: Place) -> VReg {
        let pointer = self.builder.vreg();
        match place.base {
            Base::Frame => self.builder.push(IrInsn::FrameAddress {
                dst: pointer,
                offset: place.offset as i16,
            }),
            Base::Reg(base) => {
                self.builder.push(IrInsn::Move {
                    dst: pointer,
                    src: Operand::Reg(base),
                });
                self.builder
                    .alu(BPF_ADD, pointer, Operand::Imm(place.offset));
            }
        }
        pointer
    }

    /// Reserves a ring-buffer record; on failure bumps the lost counter and jumps to `skip`.
    fn reserve(&mut self, size: u32, action_id: u64, skip: Label) -> VReg {
        let flags = 0;
        let record = self.call(
            helpers::RINGBUF_RESERVE,
            vec![
                CallArg::Map(RINGBUF_MAP_INDEX),
                CallArg::Imm(i64::from(size)),
                CallArg::Imm(flags),
            ],
        );
        let reserved = self.builder.label();
        self.builder
            .branch(BPF_JNE, record, Operand::Imm(0), reserved);
        self.count_lost();
        self.builder.jump(skip);
        self.builder.place(reserved);
        self.builder.store(
            Width::B8,
            Base::Reg(record),
            0,
            Operand::Imm(action_id as i32),
        );
        record
    }

    /// `.lost[0] += 1` on this CPU, so that printed + lost = produced.
    fn count_lost(&mut self) {
        let key = self.zero_key();
        let counter = self.call(
            helpers::MAP_LOOKUP_ELEM,
            vec![CallArg::Map(LOST_MAP_INDEX), key.call_arg()],
        );
        let done = self.builder.label();
        self.builder.branch(BPF_JEQ, counter, Operand::Imm(0), done);
        let one = self.builder.constant(1);
        self.builder.push(IrInsn::AtomicAdd64 {
            base: counter,
            offset: 0,
            src: one,
        });
        self.builder.place(done);
    }

    fn submit(&mut self, record: VReg) {
        let flags = i64::from(self.options.submit_flags);
        self.builder.call_discarding(
            helpers::RINGBUF_SUBMIT,
            vec![CallArg::Reg(record), CallArg::Imm(flags)],
        );
    }

    fn action(&self, action_id: u64) -> Option<&'a Action> {
        self.program.resources.actions.get(action_id as usize)
    }

    fn emit_record(&mut self, action_id: u64, values: &[TypedExpr]) {
        let fields = match self.action(action_id) {
            Some(
                Action::Printf { args, .. }
                | Action::Cat { args, .. }
                | Action::System { args, .. },
            ) => args.clone(),
            Some(Action::PrintValue { value }) => vec![value.clone()],
            Some(_) => Vec::new(),
            None => {
                self.error(
                    self.probe.span,
                    format!("internal compiler error: no action #{action_id}"),
                );
                return;
            }
        };
        let size = fields
            .iter()
            .map(|field| field.offset + field.ty.size().div_ceil(8) * 8)
            .max()
            .unwrap_or(8)
            .max(8);
        let skip = self.builder.label();
        let argv_offset = fields
            .iter()
            .find_map(|field| trailing_argv_offset(&field.ty).map(|offset| field.offset + offset));
        // Scalar fields are stored with 16-bit instruction offsets: a record whose scalars
        // sit beyond that cannot be built.
        if fields
            .iter()
            .any(|field| field.offset > i16::MAX as u32 && field.ty.size() <= 8)
        {
            self.error(
                self.probe.span,
                "a printed record is too large: put big values (structs, argv()) last",
            );
            return;
        }
        let in_big_buffer = argv_offset.is_some() || size > RESERVED_RECORD_LIMIT;
        let record = match in_big_buffer {
            true => {
                let record = self.big_buffer(size, skip);
                self.builder.store(
                    Width::B8,
                    Base::Reg(record),
                    0,
                    Operand::Imm(action_id as i32),
                );
                record
            }
            false => self.reserve(size, action_id, skip),
        };
        for (field, value) in fields.iter().zip(values) {
            let place = Place {
                base: Base::Reg(record),
                offset: field.offset as i32,
            };
            if value.ty.is_scalar() {
                let register = self.scalar(value);
                self.store_place(Width::B8, place, Operand::Reg(register));
            } else {
                self.aggregate_into(value, place, field.ty.size());
            }
        }
        match argv_offset {
            Some(argv_offset) => self.output_argv_record(record, argv_offset, size),
            None if in_big_buffer => self.output_record(record, size),
            None => self.submit(record),
        }
        self.builder.place(skip);
    }

    /// This CPU's entry of `.bigbuf`, for a record or value of `size` bytes (programs do not
    /// migrate while they run); jumps to `skip` if it cannot be found.
    fn big_buffer(&mut self, size: u32, skip: Label) -> VReg {
        self.big_buffer_bytes = self.big_buffer_bytes.max(size);
        let cpu = self.call(helpers::GET_SMP_PROCESSOR_ID, vec![]);
        let key = self.stack_slot();
        self.builder
            .store(Width::B8, Base::Frame, key, Operand::Reg(cpu));
        let entry = self.call(
            helpers::MAP_LOOKUP_ELEM,
            vec![CallArg::Map(BIGBUF_MAP_INDEX), CallArg::FrameAddress(key)],
        );
        self.builder.branch(BPF_JEQ, entry, Operand::Imm(0), skip);
        entry
    }

    /// Sends a whole record built in the big buffer (a big struct printed whole).
    fn output_record(&mut self, record: VReg, size: u32) {
        let flags = i64::from(self.options.submit_flags);
        let status = self.call(
            helpers::RINGBUF_OUTPUT,
            vec![
                CallArg::Map(RINGBUF_MAP_INDEX),
                CallArg::Reg(record),
                CallArg::Imm(i64::from(size)),
                CallArg::Imm(flags),
            ],
        );
        let sent = self.builder.label();
        self.builder.branch(BPF_JEQ, status, Operand::Imm(0), sent);
        self.count_lost();
        self.builder.place(sent);
    }

    /// Sends a record built in the big buffer as far as its `argv()` bytes go (the argv field
    /// is last), so a short command line costs a short record however large the limit.
    fn output_argv_record(&mut self, record: VReg, argv_offset: u32, size: u32) {
        let length = self
            .builder
            .load(Width::B4, Base::Reg(record), argv_offset as i16);
        let header = (argv_offset + bpfscope_bpf::ARGV_HEADER_BYTES) as i32;
        self.builder.alu(BPF_ADD, length, Operand::Imm(header));
        let within = self.builder.label();
        self.builder
            .branch(BPF_JLE, length, Operand::Imm(size as i32), within);
        self.builder.push(IrInsn::Move {
            dst: length,
            src: Operand::Imm(size as i32),
        });
        self.builder.place(within);
        let flags = i64::from(self.options.submit_flags);
        let status = self.call(
            helpers::RINGBUF_OUTPUT,
            vec![
                CallArg::Map(RINGBUF_MAP_INDEX),
                CallArg::Reg(record),
                CallArg::Reg(length),
                CallArg::Imm(flags),
            ],
        );
        let sent = self.builder.label();
        self.builder.branch(BPF_JEQ, status, Operand::Imm(0), sent);
        self.count_lost();
        self.builder.place(sent);
    }

    /// `argv(array)`: the strings of a NULL-terminated user or kernel `char **`, one after
    /// another with their NULs, in at most half of `capacity` bytes: the other half is slack
    /// that lets the verifier accept a read at any offset below the half. Everything the loop
    /// needs from one round to the next lives in stack slots (registers are not kept across
    /// a loop's back edge).
    fn array_argv_into(
        &mut self,
        array: &TypedExpr,
        space: AddressSpace,
        max_args: u32,
        destination: Place,
        capacity: u32,
    ) {
        let limit = (capacity / 2).max(1);
        self.store_place(Width::B8, destination, Operand::Imm(0));
        let array_pointer = self.scalar(array);
        let array_slot = self.stack_slot();
        self.builder.store(
            Width::B8,
            Base::Frame,
            array_slot,
            Operand::Reg(array_pointer),
        );
        let item_slot = self.stack_slot();
        let offset_slot = self.stack_slot();
        let index_slot = self.stack_slot();
        let byte_slot = self.stack_slot();
        for slot in [offset_slot, index_slot] {
            self.builder
                .store(Width::B8, Base::Frame, slot, Operand::Imm(0));
        }
        let head = self.builder.label();
        let after_loop = self.builder.label();
        let cut = self.builder.label();
        let done = self.builder.label();
        self.builder.place(head);
        let index = self.builder.load(Width::B8, Base::Frame, index_slot);
        self.builder
            .branch(BPF_JGE, index, Operand::Imm(max_args as i32), after_loop);
        let element = self.builder.load(Width::B8, Base::Frame, array_slot);
        self.builder.alu(BPF_LSH, index, Operand::Imm(3));
        self.builder.alu(BPF_ADD, element, Operand::Reg(index));
        let status = self.call(
            Self::read_helper(space, false),
            vec![
                CallArg::FrameAddress(item_slot),
                CallArg::Imm(8),
                CallArg::Reg(element),
            ],
        );
        self.builder.branch(BPF_JNE, status, Operand::Imm(0), done);
        let item = self.builder.load(Width::B8, Base::Frame, item_slot);
        self.builder.branch(BPF_JEQ, item, Operand::Imm(0), done);
        let offset = self.builder.load(Width::B8, Base::Frame, offset_slot);
        self.builder
            .branch(BPF_JGE, offset, Operand::Imm(limit as i32), cut);
        let at = self.place_pointer(destination);
        self.builder.alu(
            BPF_ADD,
            at,
            Operand::Imm(bpfscope_bpf::ARGV_HEADER_BYTES as i32),
        );
        let masked = self.builder.copy(offset);
        self.builder
            .alu(BPF_AND, masked, Operand::Imm(limit as i32 - 1));
        self.builder.alu(BPF_ADD, at, Operand::Reg(masked));
        let room = self.builder.constant(i64::from(limit));
        self.builder.alu(BPF_SUB, room, Operand::Reg(offset));
        let copied = self.call(
            Self::read_helper(space, true),
            vec![CallArg::Reg(at), CallArg::Reg(room), CallArg::Reg(item)],
        );
        // The count includes the NUL; a string that cannot be read ends the list.
        self.builder.branch(BPF_JSLE, copied, Operand::Imm(0), done);
        let offset = self.builder.load(Width::B8, Base::Frame, offset_slot);
        let next_offset = self.builder.copy(offset);
        self.builder.alu(BPF_ADD, next_offset, Operand::Reg(copied));
        self.builder.store(
            Width::B8,
            Base::Frame,
            offset_slot,
            Operand::Reg(next_offset),
        );
        let fitted = self.builder.label();
        self.builder
            .branch(BPF_JLT, next_offset, Operand::Imm(limit as i32), fitted);
        // The string filled the rest: it was cut unless its own last byte was the NUL.
        let item = self.builder.load(Width::B8, Base::Frame, item_slot);
        self.builder.alu(BPF_ADD, item, Operand::Reg(copied));
        self.builder.alu(BPF_SUB, item, Operand::Imm(1));
        self.builder
            .store(Width::B8, Base::Frame, byte_slot, Operand::Imm(0));
        self.builder.call_discarding(
            Self::read_helper(space, false),
            vec![
                CallArg::FrameAddress(byte_slot),
                CallArg::Imm(1),
                CallArg::Reg(item),
            ],
        );
        let last_byte = self.builder.load(Width::B1, Base::Frame, byte_slot);
        self.builder
            .branch(BPF_JNE, last_byte, Operand::Imm(0), cut);
        self.builder.place(fitted);
        let index = self.builder.load(Width::B8, Base::Frame, index_slot);
        self.builder.alu(BPF_ADD, index, Operand::Imm(1));
        self.builder
            .store(Width::B8, Base::Frame, index_slot, Operand::Reg(index));
        self.builder.jump(head);
        self.builder.place(after_loop);
        // Every allowed string was read: one more pointer means some were left out.
        let element = self.builder.load(Width::B8, Base::Frame, array_slot);
        let status = self.call(
            Self::read_helper(space, false),
            vec![
                CallArg::FrameAddress(item_slot),
                CallArg::Imm(8),
                CallArg::RegPlusOffset(element, (max_args as i32).saturating_mul(8)),
            ],
        );
        self.builder.branch(BPF_JNE, status, Operand::Imm(0), done);
        let item = self.builder.load(Width::B8, Base::Frame, item_slot);
        self.builder.branch(BPF_JEQ, item, Operand::Imm(0), done);
        self.builder.place(cut);
        self.store_place(
            Width::B4,
            destination.at(4),
            Operand::Imm(bpfscope_bpf::ARGV_MISSING_UNKNOWN as i32),
        );
        self.builder.place(done);
        let offset = self.builder.load(Width::B8, Base::Frame, offset_slot);
        self.store_place(Width::B4, destination, Operand::Reg(offset));
    }

    /// `argv()`: the current process's arguments, `mm->arg_start..arg_end`, in one read of at
    /// most `capacity` bytes. The header says how many bytes were captured and how many did
    /// not fit; a kernel thread (no `mm`) has none.
    fn task_argv_into(
        &mut self,
        (task_mm_offset, arg_start_offset, arg_end_offset): (u32, u32, u32),
        destination: Place,
        capacity: u32,
    ) {
        self.store_place(Width::B8, destination, Operand::Imm(0));
        let done = self.builder.label();
        let task = self.call(helpers::GET_CURRENT_TASK, vec![]);
        let slot = self.stack_slot();
        let status = self.call(
            helpers::PROBE_READ_KERNEL,
            vec![
                CallArg::FrameAddress(slot),
                CallArg::Imm(8),
                CallArg::RegPlusOffset(task, task_mm_offset as i32),
            ],
        );
        self.builder.branch(BPF_JNE, status, Operand::Imm(0), done);
        let mm = self.builder.load(Width::B8, Base::Frame, slot);
        self.builder.branch(BPF_JEQ, mm, Operand::Imm(0), done);
        let end_slot = self.stack_slot();
        let status = self.call(
            helpers::PROBE_READ_KERNEL,
            vec![
                CallArg::FrameAddress(slot),
                CallArg::Imm(8),
                CallArg::RegPlusOffset(mm, arg_start_offset as i32),
            ],
        );
        self.builder.branch(BPF_JNE, status, Operand::Imm(0), done);
        let status = self.call(
            helpers::PROBE_READ_KERNEL,
            vec![
                CallArg::FrameAddress(end_slot),
                CallArg::Imm(8),
                CallArg::RegPlusOffset(mm, arg_end_offset as i32),
            ],
        );
        self.builder.branch(BPF_JNE, status, Operand::Imm(0), done);
        let start = self.builder.load(Width::B8, Base::Frame, slot);
        let total = self.builder.load(Width::B8, Base::Frame, end_slot);
        self.builder
            .branch(BPF_JLE, total, Operand::Reg(start), done);
        self.builder.alu(BPF_SUB, total, Operand::Reg(start));
        let captured = self.builder.copy(total);
        let within = self.builder.label();
        self.builder
            .branch(BPF_JLE, captured, Operand::Imm(capacity as i32), within);
        self.builder.push(IrInsn::Move {
            dst: captured,
            src: Operand::Imm(capacity as i32),
        });
        self.builder.place(within);
        let missing = self.builder.copy(total);
        self.builder.alu(BPF_SUB, missing, Operand::Reg(captured));
        self.store_place(Width::B4, destination.at(4), Operand::Reg(missing));
        let data = self.place_pointer(destination);
        self.builder.alu(
            BPF_ADD,
            data,
            Operand::Imm(bpfscope_bpf::ARGV_HEADER_BYTES as i32),
        );
        let status = self.call(
            helpers::PROBE_READ_USER,
            vec![
                CallArg::Reg(data),
                CallArg::Reg(captured),
                CallArg::Reg(start),
            ],
        );
        let read = self.builder.label();
        self.builder.branch(BPF_JEQ, status, Operand::Imm(0), read);
        // Unreadable (not expected: the kernel just wrote these pages): all of it is missing.
        self.store_place(Width::B4, destination.at(4), Operand::Reg(total));
        self.builder.jump(done);
        self.builder.place(read);
        self.store_place(Width::B4, destination, Operand::Reg(captured));
        self.builder.place(done);
    }

    fn read_helper(space: AddressSpace, string: bool) -> Helper {
        match (space, string) {
            (AddressSpace::User, false) => helpers::PROBE_READ_USER,
            (AddressSpace::User, true) => helpers::PROBE_READ_USER_STR,
            (AddressSpace::Kernel, false) => helpers::PROBE_READ_KERNEL,
            (AddressSpace::Kernel, true) => helpers::PROBE_READ_KERNEL_STR,
        }
    }

    /// `join(array)` as a statement: up to N strings into one record.
    fn emit_join(&mut self, action_id: u64, array: &TypedExpr, space: AddressSpace) {
        let Some(Action::Join {
            count_offset,
            items_offset,
            item_capacity,
            max_items,
            truncated_offset,
            ..
        }) = self.action(action_id).cloned()
        else {
            self.error(
                array.span,
                "internal compiler error: join without a Join action",
            );
            return;
        };
        let size = items_offset + item_capacity * max_items;
        let skip = self.builder.label();
        let array_pointer = self.scalar(array);
        let pointer_slot = self.stack_slot();
        let record = self.reserve(size, action_id, skip);
        self.builder.store(
            Width::B4,
            Base::Reg(record),
            count_offset as i16,
            Operand::Imm(0),
        );
        self.builder.store(
            Width::B1,
            Base::Reg(record),
            truncated_offset as i16,
            Operand::Imm(0),
        );
        let done = self.builder.label();
        for index in 0..=max_items {
            let status = self.call(
                Self::read_helper(space, false),
                vec![
                    CallArg::FrameAddress(pointer_slot),
                    CallArg::Imm(8),
                    CallArg::RegPlusOffset(array_pointer, (index * 8) as i32),
                ],
            );
            self.builder.branch(BPF_JNE, status, Operand::Imm(0), done);
            let item = self.builder.load(Width::B8, Base::Frame, pointer_slot);
            self.builder.branch(BPF_JEQ, item, Operand::Imm(0), done);
            if index == max_items {
                // One more element than fits: say the output was cut.
                self.builder.store(
                    Width::B1,
                    Base::Reg(record),
                    truncated_offset as i16,
                    Operand::Imm(1),
                );
                break;
            }
            // argv strings always live in the traced process; other arrays follow the pointer's space.
            self.builder.call_discarding(
                Self::read_helper(space, true),
                vec![
                    CallArg::RegPlusOffset(record, (items_offset + index * item_capacity) as i32),
                    CallArg::Imm(i64::from(item_capacity)),
                    CallArg::Reg(item),
                ],
            );
            self.builder.store(
                Width::B4,
                Base::Reg(record),
                count_offset as i16,
                Operand::Imm(index as i32 + 1),
            );
        }
        self.builder.place(done);
        self.submit(record);
        self.builder.place(skip);
    }

    // ---------------------------------------------------------------- conditions

    fn comparison_jump(op: BinaryOperator, signed: bool) -> Option<u8> {
        Some(match (op, signed) {
            (BinaryOperator::Equal, _) => BPF_JEQ,
            (BinaryOperator::NotEqual, _) => BPF_JNE,
            (BinaryOperator::Less, false) => BPF_JLT,
            (BinaryOperator::Less, true) => BPF_JSLT,
            (BinaryOperator::LessEqual, false) => BPF_JLE,
            (BinaryOperator::LessEqual, true) => BPF_JSLE,
            (BinaryOperator::Greater, false) => BPF_JGT,
            (BinaryOperator::Greater, true) => BPF_JSGT,
            (BinaryOperator::GreaterEqual, false) => BPF_JGE,
            (BinaryOperator::GreaterEqual, true) => BPF_JSGE,
            _ => return None,
        })
    }

    /// Whether a comparison is signed. As in C, a signed and an unsigned 64-bit value compare
    /// as unsigned (`arg0 > 0` on a kernel address is true); a literal takes the other side's sign.
    fn comparison_is_signed(left: &TypedExpr, right: &TypedExpr) -> bool {
        let literal = |expr: &TypedExpr| matches!(expr.kind, TypedExprKind::Integer(_));
        match (literal(left), literal(right)) {
            (true, false) => right.ty.is_signed(),
            (false, true) => left.ty.is_signed(),
            _ => left.ty.is_signed() && right.ty.is_signed(),
        }
    }

    fn inverse_jump(op: u8) -> u8 {
        match op {
            BPF_JEQ => BPF_JNE,
            BPF_JNE => BPF_JEQ,
            BPF_JLT => BPF_JGE,
            BPF_JGE => BPF_JLT,
            BPF_JLE => BPF_JGT,
            BPF_JGT => BPF_JLE,
            BPF_JSLT => BPF_JSGE,
            BPF_JSGE => BPF_JSLT,
            BPF_JSLE => BPF_JSGT,
            BPF_JSGT => BPF_JSLE,
            other => other,
        }
    }

    /// Jumps to `target` when `condition` is false (zero).
    fn branch_if_false(&mut self, condition: &TypedExpr, target: Label) {
        match &condition.kind {
            TypedExprKind::Binary { op, left, right }
                if left.ty.is_scalar() && right.ty.is_scalar() =>
            {
                let signed = Self::comparison_is_signed(left, right);
                if let Some(jump) = Self::comparison_jump(*op, signed) {
                    let left = self.scalar(left);
                    let right = self.scalar(right);
                    self.builder.branch(
                        Self::inverse_jump(jump),
                        left,
                        Operand::Reg(right),
                        target,
                    );
                    return;
                }
            }
            TypedExprKind::Logical {
                and: true,
                left,
                right,
            } => {
                self.branch_if_false(left, target);
                self.branch_if_false(right, target);
                return;
            }
            TypedExprKind::Unary {
                op: UnaryOp::LogicalNot,
                operand,
            } => {
                let value = self.scalar(operand);
                self.builder.branch(BPF_JNE, value, Operand::Imm(0), target);
                return;
            }
            _ => {}
        }
        let value = self.scalar(condition);
        self.builder.branch(BPF_JEQ, value, Operand::Imm(0), target);
    }

    // ---------------------------------------------------------------- scalars

    /// Evaluates an integer/pointer expression into a fresh register the caller owns.
    fn scalar(&mut self, expr: &TypedExpr) -> VReg {
        match &expr.kind {
            TypedExprKind::Integer(value) => self.builder.constant(*value),
            TypedExprKind::Bool(value) => self.builder.constant(i64::from(*value)),
            TypedExprKind::Builtin(builtin) => self.builtin(*builtin, expr.span),
            TypedExprKind::ContextField { offset, access, .. } => match access {
                ContextFieldAccess::Load { bytes, signed } => context::load_tracepoint_field(
                    &mut self.builder,
                    self.context,
                    *offset,
                    *bytes,
                    *signed,
                ),
                _ => {
                    self.error(expr.span, "this field is not a number");
                    self.builder.constant(0)
                }
            },
            TypedExprKind::Variable(index) => match self.variables.get(*index).copied() {
                Some(storage) => self.load_place(Width::B8, storage.place),
                None => self.builder.constant(0),
            },
            TypedExprKind::Unary { op, operand } => {
                let value = self.scalar(operand);
                match op {
                    UnaryOp::Negate => self.builder.push(IrInsn::Negate { dst: value }),
                    UnaryOp::BitwiseNot => self.builder.alu(BPF_XOR, value, Operand::Imm(-1)),
                    UnaryOp::LogicalNot => return self.truth(value, BPF_JEQ),
                }
                value
            }
            TypedExprKind::Binary { op, left, right } => self.binary(*op, left, right, expr),
            TypedExprKind::Logical { and, left, right } => {
                let result = self.builder.constant(i64::from(!*and));
                let done = self.builder.label();
                let left = self.scalar(left);
                // `a && b`: false as soon as a is false; `a || b`: true as soon as a is true.
                let short_circuit = if *and { BPF_JEQ } else { BPF_JNE };
                self.builder
                    .branch(short_circuit, left, Operand::Imm(0), done);
                let right = self.scalar(right);
                self.builder
                    .branch(short_circuit, right, Operand::Imm(0), done);
                self.builder.push(IrInsn::Move {
                    dst: result,
                    src: Operand::Imm(i32::from(*and)),
                });
                self.builder.place(done);
                result
            }
            TypedExprKind::Ternary {
                condition,
                then_value,
                else_value,
            } => {
                let result = self.builder.vreg();
                let else_label = self.builder.label();
                let done = self.builder.label();
                self.branch_if_false(condition, else_label);
                let then_register = self.scalar(then_value);
                self.builder.push(IrInsn::Move {
                    dst: result,
                    src: Operand::Reg(then_register),
                });
                self.builder.jump(done);
                self.builder.place(else_label);
                let else_register = self.scalar(else_value);
                self.builder.push(IrInsn::Move {
                    dst: result,
                    src: Operand::Reg(else_register),
                });
                self.builder.place(done);
                result
            }
            TypedExprKind::Cast(value) => {
                let register = self.scalar(value);
                match &expr.ty {
                    Type::Bool => return self.truth(register, BPF_JNE),
                    Type::Int { bytes, signed } if *bytes < 8 => {
                        let shift = 64 - i32::from(*bytes) * 8;
                        self.builder.alu(BPF_LSH, register, Operand::Imm(shift));
                        self.builder.alu(
                            if *signed { BPF_ARSH } else { BPF_RSH },
                            register,
                            Operand::Imm(shift),
                        );
                    }
                    _ => {}
                }
                register
            }
            TypedExprKind::Dereference { pointer, space } => {
                let bytes = match &pointer.ty {
                    Type::Pointer { pointee, .. } if pointee.is_scalar() => {
                        pointee.size().clamp(1, 8)
                    }
                    _ => 8,
                };
                let signed = expr.ty.is_signed();
                let address = self.scalar(pointer);
                let slot = self.stack_slot();
                self.builder
                    .store(Width::B8, Base::Frame, slot, Operand::Imm(0));
                self.builder.call_discarding(
                    Self::read_helper(*space, false),
                    vec![
                        CallArg::FrameAddress(slot),
                        CallArg::Imm(i64::from(bytes)),
                        CallArg::Reg(address),
                    ],
                );
                let width = Width::from_bytes(bytes).unwrap_or(Width::B8);
                let value = self.builder.load(width, Base::Frame, slot);
                if signed && bytes < 8 {
                    let shift = 64 - bytes as i32 * 8;
                    self.builder.alu(BPF_LSH, value, Operand::Imm(shift));
                    self.builder.alu(BPF_ARSH, value, Operand::Imm(shift));
                }
                value
            }
            TypedExprKind::MapRead { map, keys } => {
                let pointer = self.map_lookup(*map, keys);
                let result = self.builder.constant(0);
                let done = self.builder.label();
                self.builder.branch(BPF_JEQ, pointer, Operand::Imm(0), done);
                let value = self.builder.load(Width::B8, Base::Reg(pointer), 0);
                self.builder.push(IrInsn::Move {
                    dst: result,
                    src: Operand::Reg(value),
                });
                self.builder.place(done);
                result
            }
            TypedExprKind::AggregateRead { map, keys } => self.aggregate_read(*map, keys, expr),
            TypedExprKind::MapHasKey { map, keys } => {
                let pointer = self.map_lookup(*map, keys);
                self.truth(pointer, BPF_JNE)
            }
            TypedExprKind::StringNCompare {
                left,
                right,
                length,
            } => self.string_n_compare(left, right, *length),
            TypedExprKind::RegexMatch { haystack, dfa } => {
                self.regex_match(haystack, dfa, expr.span)
            }
            TypedExprKind::StringContains { haystack, needle } => match &needle.kind {
                TypedExprKind::String(bytes) => self.string_contains(haystack, bytes),
                _ => self.string_contains_dynamic(haystack, needle),
            },
            TypedExprKind::MapLength { map } => self.map_length(*map, expr.span),
            TypedExprKind::TupleIndex { .. }
            | TypedExprKind::ArrayIndex { .. }
            | TypedExprKind::CopiedMember { .. } => {
                // Element of an aggregate: materialise it, then load the element.
                let (place, element_type) = match self.element_place(expr) {
                    Some(found) => found,
                    None => return self.builder.constant(0),
                };
                let bytes = element_type.size().clamp(1, 8);
                let width = Width::from_bytes(bytes).unwrap_or(Width::B8);
                let value = self.load_place(width, place);
                if element_type.is_signed() && bytes < 8 {
                    let shift = 64 - bytes as i32 * 8;
                    self.builder.alu(BPF_LSH, value, Operand::Imm(shift));
                    self.builder.alu(BPF_ARSH, value, Operand::Imm(shift));
                }
                value
            }
            _ => {
                self.error(
                    expr.span,
                    format!("a value of type '{}' cannot be used as a number", expr.ty),
                );
                self.builder.constant(0)
            }
        }
    }

    /// The place and type of a tuple element or array element with a constant index.
    fn element_place(&mut self, expr: &TypedExpr) -> Option<(Place, Type)> {
        match &expr.kind {
            TypedExprKind::CopiedMember { record, offset } => {
                let place = self.aggregate_place(record);
                Some((place.at(*offset), expr.ty.clone()))
            }
            TypedExprKind::TupleIndex { tuple, index } => {
                let elements = match &tuple.ty {
                    Type::Tuple(elements) => elements.clone(),
                    Type::Record(fields) => bpfscope_check::types::record_types(fields),
                    _ => return None,
                };
                let elements = &elements;
                let (offsets, _) = bpfscope_check::types::tuple_layout(elements);
                let place = self.aggregate_place(tuple);
                Some((
                    place.at(*offsets.get(*index)?),
                    elements.get(*index)?.clone(),
                ))
            }
            TypedExprKind::ArrayIndex { array, index } => {
                let TypedExprKind::Integer(position) = index.kind else {
                    self.error(index.span, "array indices must be constant here");
                    return None;
                };
                let element_size = match &array.ty {
                    Type::Array { element, .. } => element.size(),
                    _ => 1,
                };
                if position < 0
                    || (position as u64 + 1) * u64::from(element_size) > u64::from(array.ty.size())
                {
                    self.error(index.span, "array index out of bounds");
                    return None;
                }
                let place = self.aggregate_place(array);
                Some((place.at(position as u32 * element_size), expr.ty.clone()))
            }
            _ => None,
        }
    }

    /// 1 if `value op 0` else 0.
    fn truth(&mut self, value: VReg, jump_if_true: u8) -> VReg {
        let result = self.builder.constant(1);
        let done = self.builder.label();
        self.builder
            .branch(jump_if_true, value, Operand::Imm(0), done);
        self.builder.push(IrInsn::Move {
            dst: result,
            src: Operand::Imm(0),
        });
        self.builder.place(done);
        result
    }

    fn binary(
        &mut self,
        op: BinaryOperator,
        left: &TypedExpr,
        right: &TypedExpr,
        expr: &TypedExpr,
    ) -> VReg {
        if matches!(left.ty, Type::Str { .. }) {
            return self.string_equality(op, left, right);
        }
        if let Some(jump) = Self::comparison_jump(op, Self::comparison_is_signed(left, right)) {
            let left = self.scalar(left);
            let right = self.scalar(right);
            let result = self.builder.constant(1);
            let done = self.builder.label();
            self.builder.branch(jump, left, Operand::Reg(right), done);
            self.builder.push(IrInsn::Move {
                dst: result,
                src: Operand::Imm(0),
            });
            self.builder.place(done);
            return result;
        }
        let left_register = self.scalar(left);
        let right_register = self.scalar(right);
        // Pointer arithmetic steps by the pointee's size, as in C.
        if let (Type::Pointer { pointee, .. }, false) = (&left.ty, right.ty.is_pointer()) {
            let step = pointee.size().max(1);
            if step > 1 {
                self.builder
                    .alu(BPF_MUL, right_register, Operand::Imm(step as i32));
            }
        }
        let alu = match op {
            BinaryOperator::Add => BPF_ADD,
            BinaryOperator::Subtract => BPF_SUB,
            BinaryOperator::Multiply => BPF_MUL,
            BinaryOperator::Divide => BPF_DIV,
            BinaryOperator::Modulo => BPF_MOD,
            BinaryOperator::BitwiseAnd => BPF_AND,
            BinaryOperator::BitwiseOr => BPF_OR,
            BinaryOperator::BitwiseXor => BPF_XOR,
            BinaryOperator::ShiftLeft => BPF_LSH,
            BinaryOperator::ShiftRight if expr.ty.is_signed() => BPF_ARSH,
            BinaryOperator::ShiftRight => BPF_RSH,
            _ => {
                self.error(
                    expr.span,
                    format!("operator '{}' is not supported here", op.symbol()),
                );
                BPF_ADD
            }
        };
        self.builder
            .alu(alu, left_register, Operand::Reg(right_register));
        left_register
    }

    /// `a == b` / `a != b` on strings: byte by byte up to the first NUL, unrolled.
    fn string_equality(&mut self, op: BinaryOperator, left: &TypedExpr, right: &TypedExpr) -> VReg {
        let length = left.ty.size().min(right.ty.size());
        let left_place = self.aggregate_place(left);
        let right_place = self.aggregate_place(right);
        let equal_value = i32::from(op == BinaryOperator::Equal);
        let result = self.builder.constant(i64::from(1 - equal_value));
        let done = self.builder.label();
        let equal = self.builder.label();
        for index in 0..length {
            let a = self.load_place(Width::B1, left_place.at(index));
            let b = self.load_place(Width::B1, right_place.at(index));
            self.builder.branch(BPF_JNE, a, Operand::Reg(b), done);
            self.builder.branch(BPF_JEQ, a, Operand::Imm(0), equal);
        }
        // Equal over the whole shorter capacity: equal only if the longer one ends there.
        let left_longer = left.ty.size() > length;
        let right_longer = right.ty.size() > length;
        if left_longer || right_longer {
            let place = if left_longer { left_place } else { right_place };
            let next = self.load_place(Width::B1, place.at(length));
            self.builder.branch(BPF_JNE, next, Operand::Imm(0), done);
        }
        self.builder.place(equal);
        self.builder.push(IrInsn::Move {
            dst: result,
            src: Operand::Imm(equal_value),
        });
        self.builder.place(done);
        result
    }

    /// The high or low 32 bits of a helper's 64-bit result.
    fn half_of_helper_result(&mut self, helper: Helper, high: bool) -> VReg {
        let value = self.call(helper, vec![]);
        if high {
            self.builder.alu(BPF_RSH, value, Operand::Imm(32));
        } else {
            self.builder.push(IrInsn::Alu32 {
                op: BPF_MOV,
                dst: value,
                src: Operand::Reg(value),
            });
        }
        value
    }

    fn builtin(&mut self, builtin: Builtin, span: Span) -> VReg {
        match builtin {
            // Both helpers pack two 32-bit ids into one u64: tgid/gid high, pid/uid low.
            Builtin::Pid => self.half_of_helper_result(helpers::GET_CURRENT_PID_TGID, true),
            Builtin::Tid => self.half_of_helper_result(helpers::GET_CURRENT_PID_TGID, false),
            Builtin::Gid => self.half_of_helper_result(helpers::GET_CURRENT_UID_GID, true),
            Builtin::Uid => self.half_of_helper_result(helpers::GET_CURRENT_UID_GID, false),
            Builtin::Nsecs => self.call(helpers::KTIME_GET_NS, vec![]),
            Builtin::Cpu => self.call(helpers::GET_SMP_PROCESSOR_ID, vec![]),
            Builtin::Rand => self.call(helpers::GET_PRANDOM_U32, vec![]),
            Builtin::CurrentTask => self.call(helpers::GET_CURRENT_TASK, vec![]),
            Builtin::Arg(index) => {
                context::load_raw_tracepoint_arg(&mut self.builder, self.context, index)
            }
            Builtin::ContextWord(offset) => {
                context::load_context_word(&mut self.builder, self.context, offset)
            }
            Builtin::Elapsed => {
                let now = self.call(helpers::KTIME_GET_NS, vec![]);
                let start = self.global(GlobalSlot::StartNanoseconds);
                self.builder.alu(BPF_SUB, now, Operand::Reg(start));
                now
            }
            Builtin::Cpid => self.global(GlobalSlot::ChildPid),
            Builtin::Comm => {
                self.error(span, "comm is a string, not a number");
                self.builder.constant(0)
            }
            Builtin::Stack { .. } => {
                self.error(span, "a stack is not a number");
                self.builder.constant(0)
            }
            Builtin::CgroupId => self.call(helpers::GET_CURRENT_CGROUP_ID, vec![]),
        }
    }

    /// `kstack`/`ustack` into `destination`: `bpf_get_stack` writes the frames after the count
    /// word (and zeroes the bytes it does not fill, so equal stacks make equal map keys); the
    /// count word holds the frame count, and for user stacks the process id in its high half,
    /// which user space needs to find the process's mappings.
    fn stack_into(&mut self, user: bool, depth: u32, destination: Place, capacity: u32) {
        let frames = depth.min(capacity.saturating_sub(8) / 8);
        if frames == 0 {
            self.zero_fill_exact(destination, capacity);
            return;
        }
        const BPF_F_USER_STACK: i64 = 1 << 8;
        let flags = if user { BPF_F_USER_STACK } else { 0 };
        let written = self.call(
            helpers::GET_STACK,
            vec![
                CallArg::Reg(self.context),
                destination.at(8).call_arg(),
                CallArg::Imm(i64::from(frames) * 8),
                CallArg::Imm(flags),
            ],
        );
        let counted = self.builder.label();
        self.builder
            .branch(BPF_JSGE, written, Operand::Imm(0), counted);
        self.builder.push(IrInsn::Move {
            dst: written,
            src: Operand::Imm(0),
        });
        self.builder.place(counted);
        self.builder.alu(BPF_RSH, written, Operand::Imm(3));
        if user {
            let process = self.call(helpers::GET_CURRENT_PID_TGID, vec![]);
            self.builder.alu(BPF_RSH, process, Operand::Imm(32));
            self.builder.alu(BPF_LSH, process, Operand::Imm(32));
            self.builder.alu(BPF_OR, written, Operand::Reg(process));
        }
        self.store_place(Width::B8, destination, Operand::Reg(written));
        let used = (frames + 1) * 8;
        if capacity > used {
            self.zero_fill_exact(destination.at(used), capacity - used);
        }
    }

    // ---------------------------------------------------------------- aggregates

    /// A place holding the value of an aggregate expression (its variable, or a fresh temporary).
    fn aggregate_place(&mut self, expr: &TypedExpr) -> Place {
        if let TypedExprKind::Variable(index) = &expr.kind {
            if let Some(storage) = self.variables.get(*index) {
                return storage.place;
            }
        }
        let size = expr.ty.record_size().max(1);
        let place = self.allocate(size);
        self.aggregate_into(expr, place, size);
        place
    }

    /// Writes the value of an aggregate expression (string, tuple, array) into `destination`,
    /// at most `capacity` bytes.
    ///
    /// Every byte of `destination` up to `capacity` is written, the bytes after a string's NUL
    /// as zeros: values used as map keys must be equal byte for byte when they print the same.
    fn aggregate_into(&mut self, expr: &TypedExpr, destination: Place, capacity: u32) {
        let outer_capacity = capacity;
        let capacity = capacity.min(expr.ty.record_size().max(1));
        self.aggregate_value_into(expr, destination, capacity);
        if outer_capacity > capacity {
            self.zero_fill_exact(destination.at(capacity), outer_capacity - capacity);
        }
    }

    /// The body of `aggregate_into` for a capacity no larger than the expression's own size.
    fn aggregate_value_into(&mut self, expr: &TypedExpr, destination: Place, capacity: u32) {
        match &expr.kind {
            TypedExprKind::String(bytes) => {
                let mut padded = bytes.clone();
                padded.resize(capacity as usize, 0);
                if let Some(last) = padded.last_mut() {
                    *last = 0;
                }
                self.store_bytes(&padded, destination);
            }
            TypedExprKind::Builtin(Builtin::Stack { user, depth }) => {
                self.stack_into(*user, *depth, destination, capacity);
            }
            TypedExprKind::TaskArgv {
                task_mm_offset,
                mm_arg_start_offset,
                mm_arg_end_offset,
            } => {
                let data_capacity = capacity.saturating_sub(bpfscope_bpf::ARGV_HEADER_BYTES);
                self.task_argv_into(
                    (*task_mm_offset, *mm_arg_start_offset, *mm_arg_end_offset),
                    destination,
                    data_capacity,
                );
            }
            TypedExprKind::ArrayArgv { array, space } => {
                if let Type::Argv { max_args, .. } = expr.ty {
                    let data_capacity = capacity.saturating_sub(bpfscope_bpf::ARGV_HEADER_BYTES);
                    self.array_argv_into(array, *space, max_args, destination, data_capacity);
                }
            }
            TypedExprKind::Builtin(Builtin::Comm) => {
                // get_current_comm needs at least the full 16 bytes to NUL-terminate properly.
                if capacity >= 16 {
                    // The kernel pads the 16 bytes with zeros; the rest is ours to clear.
                    self.builder.call_discarding(
                        helpers::GET_CURRENT_COMM,
                        vec![destination.call_arg(), CallArg::Imm(16)],
                    );
                    if capacity > 16 {
                        self.zero_fill_exact(destination.at(16), capacity - 16);
                    }
                } else {
                    let temporary = self.allocate(16);
                    self.builder.call_discarding(
                        helpers::GET_CURRENT_COMM,
                        vec![temporary.call_arg(), CallArg::Imm(16)],
                    );
                    self.copy(temporary, destination, capacity);
                }
            }
            TypedExprKind::Variable(index) => {
                if let Some(storage) = self.variables.get(*index).copied() {
                    let copied = capacity.min(storage.size);
                    self.copy(storage.place, destination, copied);
                    if capacity > copied {
                        self.zero_fill_exact(destination.at(copied), capacity - copied);
                    }
                }
            }
            TypedExprKind::ContextField { offset, access, .. } => match access {
                ContextFieldAccess::Inline { bytes } => {
                    let read = capacity.min(*bytes);
                    let is_string = matches!(expr.ty, Type::Str { .. });
                    if is_string || read < capacity {
                        self.zero_fill_exact(destination, capacity);
                    }
                    // A `char[N]` field may hold old bytes after its NUL: the string read stops
                    // there and leaves the zeros, so equal strings make equal keys.
                    self.builder.call_discarding(
                        if is_string {
                            helpers::PROBE_READ_KERNEL_STR
                        } else {
                            helpers::PROBE_READ_KERNEL
                        },
                        vec![
                            destination.call_arg(),
                            CallArg::Imm(i64::from(read)),
                            CallArg::RegPlusOffset(self.context, *offset as i32),
                        ],
                    );
                }
                ContextFieldAccess::DataLoc => {
                    let address =
                        context::data_loc_address(&mut self.builder, self.context, *offset);
                    // The string read does not clear the bytes after the NUL.
                    self.zero_fill_exact(destination, capacity);
                    self.builder.call_discarding(
                        helpers::PROBE_READ_KERNEL_STR,
                        vec![
                            destination.call_arg(),
                            CallArg::Imm(i64::from(capacity)),
                            CallArg::Reg(address),
                        ],
                    );
                }
                ContextFieldAccess::Load { .. } => {
                    self.error(
                        expr.span,
                        "internal compiler error: scalar field as aggregate",
                    );
                }
            },
            TypedExprKind::ReadString {
                pointer,
                space,
                length,
            } => {
                let address = self.scalar(pointer);
                let size = match length {
                    None => CallArg::Imm(i64::from(capacity)),
                    Some(length) => {
                        // Read length + 1 bytes (for the NUL), clamped to the buffer so the verifier
                        // can prove the write stays inside it.
                        let size = self.scalar(length);
                        self.builder.alu(BPF_ADD, size, Operand::Imm(1));
                        let within = self.builder.label();
                        self.builder
                            .branch(BPF_JLE, size, Operand::Imm(capacity as i32), within);
                        self.builder.push(IrInsn::Move {
                            dst: size,
                            src: Operand::Imm(capacity as i32),
                        });
                        self.builder.place(within);
                        CallArg::Reg(size)
                    }
                };
                // Bytes past a short read stay as they were: clear them so the string ends and
                // equal strings are equal byte for byte.
                self.zero_fill_exact(destination, capacity);
                self.builder.call_discarding(
                    Self::read_helper(*space, true),
                    vec![destination.call_arg(), size, CallArg::Reg(address)],
                );
            }
            TypedExprKind::JoinString {
                array,
                space,
                separator,
            } => {
                // The verifier checks `offset + size` with both at their maxima, so the working
                // buffer has twice the capacity; the string itself never passes `capacity`.
                let full = expr.ty.record_size().max(2);
                let working = self.allocate_scratch(full * 2);
                // The scratch map keeps earlier runs' bytes: the copied part must be zeros.
                self.zero_fill_exact(working, full);
                self.join_string(array, *space, separator, working, full);
                self.copy(working, destination, capacity);
            }
            TypedExprKind::Ternary {
                condition,
                then_value,
                else_value,
            } => {
                let else_label = self.builder.label();
                let done = self.builder.label();
                self.branch_if_false(condition, else_label);
                self.zero_fill(destination, capacity);
                self.aggregate_into(then_value, destination, capacity);
                self.builder.jump(done);
                self.builder.place(else_label);
                self.zero_fill(destination, capacity);
                self.aggregate_into(else_value, destination, capacity);
                self.builder.place(done);
            }
            TypedExprKind::Tuple(elements) => {
                let types: Vec<Type> = elements.iter().map(|element| element.ty.clone()).collect();
                let (offsets, _) = bpfscope_check::types::tuple_layout(&types);
                for (element, offset) in elements.iter().zip(offsets) {
                    let place = destination.at(offset);
                    if element.ty.is_scalar() {
                        let value = self.scalar(element);
                        self.store_place(Width::B8, place, Operand::Reg(value));
                    } else {
                        // The padding up to the next element is zeroed too.
                        let size = element.ty.record_size().div_ceil(8) * 8;
                        self.aggregate_into(element, place, size);
                    }
                }
            }
            TypedExprKind::MapRead { map, keys } if matches!(expr.ty, Type::Argv { .. }) => {
                // Only the header needs clearing (nothing captured), and only the captured
                // bytes need copying.
                let pointer = self.map_lookup(*map, keys);
                self.zero_fill_exact(destination, bpfscope_bpf::ARGV_HEADER_BYTES);
                let done = self.builder.label();
                self.builder.branch(BPF_JEQ, pointer, Operand::Imm(0), done);
                let length = self.builder.load(Width::B4, Base::Reg(pointer), 0);
                self.builder.alu(
                    BPF_ADD,
                    length,
                    Operand::Imm(bpfscope_bpf::ARGV_HEADER_BYTES as i32),
                );
                let within = self.builder.label();
                self.builder
                    .branch(BPF_JLE, length, Operand::Imm(capacity as i32), within);
                self.builder.push(IrInsn::Move {
                    dst: length,
                    src: Operand::Imm(capacity as i32),
                });
                self.builder.place(within);
                self.builder.call_discarding(
                    helpers::PROBE_READ_KERNEL,
                    vec![
                        destination.call_arg(),
                        CallArg::Reg(length),
                        CallArg::Reg(pointer),
                    ],
                );
                self.builder.place(done);
            }
            TypedExprKind::MapRead { map, keys } => {
                let pointer = self.map_lookup(*map, keys);
                self.zero_fill(destination, capacity);
                let done = self.builder.label();
                self.builder.branch(BPF_JEQ, pointer, Operand::Imm(0), done);
                let stored = self
                    .script_map(*map)
                    .map(ScriptMap::value_size)
                    .unwrap_or(0);
                self.copy(
                    Place {
                        base: Base::Reg(pointer),
                        offset: 0,
                    },
                    destination,
                    capacity.min(stored),
                );
                self.builder.place(done);
            }
            TypedExprKind::TupleIndex { .. } | TypedExprKind::CopiedMember { .. } => {
                if let Some((place, _)) = self.element_place(expr) {
                    self.copy(place, destination, capacity);
                    // A `char[N]` member copied from the kernel may fill all N bytes.
                    if matches!(expr.ty, Type::Str { .. }) && capacity > 0 {
                        self.store_place(Width::B1, destination.at(capacity - 1), Operand::Imm(0));
                    }
                }
            }
            // A `char[N]` member of a kernel struct: N bytes read as they are (a bad pointer
            // reads as zeros, an empty string), the last one cleared so the string ends.
            // Read as a string (after zeroing) so old bytes after the NUL never reach a key.
            TypedExprKind::Dereference { pointer, space } => {
                let address = self.scalar(pointer);
                let is_string = matches!(expr.ty, Type::Str { .. });
                if is_string {
                    self.zero_fill_exact(destination, capacity);
                }
                self.builder.call_discarding(
                    Self::read_helper(*space, is_string),
                    vec![
                        destination.call_arg(),
                        CallArg::Imm(i64::from(capacity)),
                        CallArg::Reg(address),
                    ],
                );
            }
            _ => self.error(
                expr.span,
                format!("values of type '{}' are not supported here yet", expr.ty),
            ),
        }
    }

    fn store_bytes(&mut self, bytes: &[u8], destination: Place) {
        let mut offset = 0usize;
        while offset < bytes.len() {
            let remaining = bytes.len() - offset;
            let (width, chunk) = if remaining >= 4 {
                (Width::B4, 4)
            } else {
                (Width::B1, 1)
            };
            let mut value = [0u8; 4];
            for (index, byte) in bytes.iter().skip(offset).take(chunk).enumerate() {
                if let Some(slot) = value.get_mut(index) {
                    *slot = *byte;
                }
            }
            let immediate = if chunk == 4 {
                i32::from_le_bytes(value)
            } else {
                i32::from(value[0])
            };
            self.store_place(
                width,
                destination.at(offset as u32),
                Operand::Imm(immediate),
            );
            offset += chunk;
        }
    }

    /// Zeroes all `size` bytes: a string's bytes after its NUL must be zeros, or equal
    /// strings would make different map keys.
    fn zero_fill(&mut self, destination: Place, size: u32) {
        self.zero_fill_exact(destination, size);
    }

    fn copy(&mut self, source: Place, destination: Place, size: u32) {
        if size <= UNROLLED_COPY_LIMIT {
            let mut offset = 0;
            while offset < size {
                let (width, step) = if size - offset >= 8 {
                    (Width::B8, 8)
                } else {
                    (Width::B1, 1)
                };
                let value = self.load_place(width, source.at(offset));
                self.store_place(width, destination.at(offset), Operand::Reg(value));
                offset += step;
            }
        } else {
            self.builder.call_discarding(
                helpers::PROBE_READ_KERNEL,
                vec![
                    destination.call_arg(),
                    CallArg::Imm(i64::from(size)),
                    source.call_arg(),
                ],
            );
        }
    }

    /// `join(array, sep)` as a string value: strings appended one after another with bounded
    /// offsets the verifier can follow.
    fn join_string(
        &mut self,
        array: &TypedExpr,
        space: AddressSpace,
        separator: &[u8],
        destination: Place,
        capacity: u32,
    ) {
        if capacity < 2 {
            return;
        }
        let max_items = self.options.join_max_items;
        self.store_place(Width::B1, destination, Operand::Imm(0));
        let array_pointer = self.scalar(array);
        let pointer_slot = self.stack_slot();
        let length_slot = self.stack_slot();
        self.builder
            .store(Width::B8, Base::Frame, length_slot, Operand::Imm(0));
        let done = self.builder.label();
        // Reached when the text does not fit: it ends with JOIN_TRUNCATION_MARK instead.
        let truncated = self.builder.label();
        let base = self.place_pointer(destination);
        for index in 0..max_items {
            let status = self.call(
                Self::read_helper(space, false),
                vec![
                    CallArg::FrameAddress(pointer_slot),
                    CallArg::Imm(8),
                    CallArg::RegPlusOffset(array_pointer, (index * 8) as i32),
                ],
            );
            self.builder.branch(BPF_JNE, status, Operand::Imm(0), done);
            let item = self.builder.load(Width::B8, Base::Frame, pointer_slot);
            self.builder.branch(BPF_JEQ, item, Operand::Imm(0), done);
            if index > 0 {
                for byte in separator {
                    let length = self.builder.load(Width::B8, Base::Frame, length_slot);
                    self.builder.branch(
                        BPF_JGE,
                        length,
                        Operand::Imm(capacity as i32 - 1),
                        truncated,
                    );
                    let at = self.builder.copy(base);
                    self.builder.alu(BPF_ADD, at, Operand::Reg(length));
                    self.builder
                        .store(Width::B1, Base::Reg(at), 0, Operand::Imm(i32::from(*byte)));
                    self.builder.alu(BPF_ADD, length, Operand::Imm(1));
                    self.builder
                        .store(Width::B8, Base::Frame, length_slot, Operand::Reg(length));
                }
            }
            let length = self.builder.load(Width::B8, Base::Frame, length_slot);
            self.builder.branch(
                BPF_JGE,
                length,
                Operand::Imm(capacity as i32 - 1),
                truncated,
            );
            let at = self.builder.copy(base);
            self.builder.alu(BPF_ADD, at, Operand::Reg(length));
            let room = self.builder.constant(i64::from(capacity));
            self.builder.alu(BPF_SUB, room, Operand::Reg(length));
            let copied = self.call(
                Self::read_helper(space, true),
                vec![CallArg::Reg(at), CallArg::Reg(room), CallArg::Reg(item)],
            );
            // `copied` counts the NUL; a failed read (<= 0) ends the list.
            self.builder.branch(BPF_JSLE, copied, Operand::Imm(0), done);
            self.builder.alu(BPF_SUB, copied, Operand::Imm(1));
            self.builder.alu(BPF_ADD, copied, Operand::Reg(length));
            self.builder
                .store(Width::B8, Base::Frame, length_slot, Operand::Reg(copied));
        }
        // All the items that fit were read: one more means some were left out.
        let status = self.call(
            Self::read_helper(space, false),
            vec![
                CallArg::FrameAddress(pointer_slot),
                CallArg::Imm(8),
                CallArg::RegPlusOffset(array_pointer, (max_items * 8) as i32),
            ],
        );
        self.builder.branch(BPF_JNE, status, Operand::Imm(0), done);
        let item = self.builder.load(Width::B8, Base::Frame, pointer_slot);
        self.builder
            .branch(BPF_JNE, item, Operand::Imm(0), truncated);
        self.builder.place(done);
        // Terminate at the final length (a failed read may have left bytes past it).
        let length = self.builder.load(Width::B8, Base::Frame, length_slot);
        let end = self.builder.label();
        // A string that filled the buffer was most likely cut.
        self.builder.branch(
            BPF_JGE,
            length,
            Operand::Imm(capacity as i32 - 1),
            truncated,
        );
        let at = self.builder.copy(base);
        self.builder.alu(BPF_ADD, at, Operand::Reg(length));
        self.builder
            .store(Width::B1, Base::Reg(at), 0, Operand::Imm(0));
        self.builder.jump(end);
        self.builder.place(truncated);
        // The mark goes right after the text, or at the very end when the text fills the buffer.
        let mark = JOIN_TRUNCATION_MARK.as_bytes();
        let mark_room = mark.len() as i32 + 1;
        if capacity as i32 > mark_room {
            let length = self.builder.load(Width::B8, Base::Frame, length_slot);
            let last_start = capacity as i32 - mark_room;
            let within = self.builder.label();
            self.builder
                .branch(BPF_JLE, length, Operand::Imm(last_start), within);
            self.builder.push(IrInsn::Move {
                dst: length,
                src: Operand::Imm(last_start),
            });
            self.builder.place(within);
            let at = self.builder.copy(base);
            self.builder.alu(BPF_ADD, at, Operand::Reg(length));
            for (index, byte) in mark.iter().chain(std::iter::once(&0u8)).enumerate() {
                self.builder.store(
                    Width::B1,
                    Base::Reg(at),
                    index as i16,
                    Operand::Imm(i32::from(*byte)),
                );
            }
        } else {
            self.builder.store(
                Width::B1,
                Base::Reg(base),
                (capacity - 1) as i16,
                Operand::Imm(0),
            );
        }
        self.builder.place(end);
    }

    // ---------------------------------------------------------------- maps

    fn script_map(&self, map: usize) -> Option<&'a ScriptMap> {
        self.program.resources.maps.get(map)
    }

    /// Zeroes exactly `size` bytes (map keys and stack values must be fully defined).
    fn zero_fill_exact(&mut self, destination: Place, size: u32) {
        if size <= 256 {
            let mut offset = 0;
            while offset < size {
                // Wide stores only where aligned: the verifier refuses misaligned stack access.
                let aligned = (destination.offset + offset as i32).rem_euclid(8) == 0;
                let (width, step) = if aligned && size - offset >= 8 {
                    (Width::B8, 8)
                } else {
                    (Width::B1, 1)
                };
                self.store_place(width, destination.at(offset), Operand::Imm(0));
                offset += step;
            }
            return;
        }
        let zero = self.zero_memory();
        let done = self.builder.label();
        self.builder.branch(BPF_JEQ, zero, Operand::Imm(0), done);
        self.builder.call_discarding(
            helpers::PROBE_READ_KERNEL,
            vec![
                destination.call_arg(),
                CallArg::Imm(i64::from(size)),
                CallArg::Reg(zero),
            ],
        );
        self.builder.place(done);
    }

    /// A pointer to the never-written `.zero` map value (or null, which callers check).
    fn zero_memory(&mut self) -> VReg {
        let key = self.zero_key();
        self.call(
            helpers::MAP_LOOKUP_ELEM,
            vec![CallArg::Map(ZERO_MAP_INDEX), key.call_arg()],
        )
    }

    /// Builds a map's key in memory, zeroed first so that bytes after a string's NUL never
    /// make equal keys differ.
    fn map_key(&mut self, map: usize, keys: &[TypedExpr]) -> Place {
        let Some(script_map) = self.script_map(map) else {
            return self.zero_key();
        };
        let size = script_map.key_size();
        let offsets = script_map.key_offsets();
        let types = script_map.keys.clone();
        let place = self.allocate(size);
        self.zero_fill_exact(place, size);
        for ((key, offset), ty) in keys.iter().zip(offsets).zip(types) {
            let at = place.at(offset);
            if key.ty.is_scalar() {
                let value = self.scalar(key);
                self.store_place(Width::B8, at, Operand::Reg(value));
            } else {
                self.aggregate_into(key, at, ty.record_size());
            }
        }
        place
    }

    fn map_lookup(&mut self, map: usize, keys: &[TypedExpr]) -> VReg {
        let key = self.map_key(map, keys);
        self.call(
            helpers::MAP_LOOKUP_ELEM,
            vec![CallArg::Map(FIRST_SCRIPT_MAP_INDEX + map), key.call_arg()],
        )
    }

    fn map_update(&mut self, map: usize, keys: &[TypedExpr], value: &TypedExpr) {
        if let Some((exists_offset, _)) = self.keyless_array(map) {
            self.keyless_update(map, value, exists_offset);
            return;
        }
        let Some(size) = self.script_map(map).map(ScriptMap::value_size) else {
            return;
        };
        let key = self.map_key(map, keys);
        if matches!(value.ty, Type::Argv { .. }) {
            // Too big for the stack and the scratch map: built in this CPU's big buffer.
            let skip = self.builder.label();
            let buffer = self.big_buffer(size, skip);
            let place = Place {
                base: Base::Reg(buffer),
                offset: 0,
            };
            self.aggregate_into(value, place, size);
            let status = self.call(
                helpers::MAP_UPDATE_ELEM,
                vec![
                    CallArg::Map(FIRST_SCRIPT_MAP_INDEX + map),
                    key.call_arg(),
                    CallArg::Reg(buffer),
                    CallArg::Imm(0),
                ],
            );
            self.count_if_map_full(map, status);
            self.builder.place(skip);
            return;
        }
        let place = self.allocate(size);
        if value.ty.is_scalar() {
            let register = self.scalar(value);
            self.store_place(Width::B8, place, Operand::Reg(register));
        } else {
            // `aggregate_into` writes every byte, stack or scratch map alike.
            self.aggregate_into(value, place, size);
        }
        let status = self.call(
            helpers::MAP_UPDATE_ELEM,
            vec![
                CallArg::Map(FIRST_SCRIPT_MAP_INDEX + map),
                key.call_arg(),
                place.call_arg(),
                CallArg::Imm(0),
            ],
        );
        self.count_if_map_full(map, status);
    }

    /// Creates the key with `initial` (a place holding a whole value) if absent.
    fn insert_if_absent(&mut self, map: usize, key: Place, initial: CallArg) {
        const BPF_NOEXIST: i64 = 1;
        let status = self.call(
            helpers::MAP_UPDATE_ELEM,
            vec![
                CallArg::Map(FIRST_SCRIPT_MAP_INDEX + map),
                key.call_arg(),
                initial,
                CallArg::Imm(BPF_NOEXIST),
            ],
        );
        self.count_if_map_full(map, status);
    }

    /// For a map without keys, stored as a one-entry array: the offset of its "exists" word
    /// (see `maps::keyless_exists_offset`) and whether it is per-CPU. `None` for hash maps.
    fn keyless_array(&self, map: usize) -> Option<(u32, bool)> {
        let script_map = self.script_map(map)?;
        crate::maps::is_keyless_array(script_map).then(|| {
            (
                crate::maps::keyless_exists_offset(script_map),
                script_map.is_per_cpu(),
            )
        })
    }

    /// Looks up the single entry of a keyless array map (never NULL in practice, but the
    /// verifier wants the check, which callers do).
    fn keyless_lookup(&mut self, map: usize) -> VReg {
        let key = self.zero_key();
        self.call(
            helpers::MAP_LOOKUP_ELEM,
            vec![CallArg::Map(FIRST_SCRIPT_MAP_INDEX + map), key.call_arg()],
        )
    }

    /// The value of a keyless array map on each CPU that has one (just the one value for a
    /// plain array): `each` runs with its pointer; a NULL pointer (past the last CPU) ends.
    fn for_each_keyless_value(
        &mut self,
        map: usize,
        per_cpu: bool,
        done: Label,
        each: &mut dyn FnMut(&mut Self, VReg),
    ) {
        let key = self.zero_key();
        let cpus = if per_cpu {
            self.options.possible_cpus.clamp(1, 1024)
        } else {
            1
        };
        for cpu in 0..cpus {
            let pointer = if per_cpu {
                self.call(
                    helpers::MAP_LOOKUP_PERCPU_ELEM,
                    vec![
                        CallArg::Map(FIRST_SCRIPT_MAP_INDEX + map),
                        key.call_arg(),
                        CallArg::Imm(i64::from(cpu)),
                    ],
                )
            } else {
                self.call(
                    helpers::MAP_LOOKUP_ELEM,
                    vec![CallArg::Map(FIRST_SCRIPT_MAP_INDEX + map), key.call_arg()],
                )
            };
            self.builder.branch(BPF_JEQ, pointer, Operand::Imm(0), done);
            each(self, pointer);
        }
    }

    /// 1 when a keyless array map has been set (on any CPU, for per-CPU maps), else 0: what
    /// "the key exists" means for it.
    fn keyless_is_set(&mut self, map: usize, exists_offset: u32, per_cpu: bool) -> VReg {
        let result = self.builder.constant(0);
        let done = self.builder.label();
        self.for_each_keyless_value(map, per_cpu, done, &mut |lowering, pointer| {
            let word = lowering.load_place(
                Width::B8,
                Place {
                    base: Base::Reg(pointer),
                    offset: exists_offset as i32,
                },
            );
            let unset = lowering.builder.label();
            lowering
                .builder
                .branch(BPF_JEQ, word, Operand::Imm(0), unset);
            lowering.builder.push(IrInsn::Move {
                dst: result,
                src: Operand::Imm(1),
            });
            lowering.builder.jump(done);
            lowering.builder.place(unset);
        });
        self.builder.place(done);
        result
    }

    /// `delete(@x)` of a keyless array map: an array entry cannot go away, so its value and
    /// "exists" word become zero on every CPU (the unset state).
    fn keyless_clear(&mut self, map: usize, exists_offset: u32, per_cpu: bool) {
        let done = self.builder.label();
        self.for_each_keyless_value(map, per_cpu, done, &mut |lowering, pointer| {
            let value = Place {
                base: Base::Reg(pointer),
                offset: 0,
            };
            lowering.zero_fill_exact(value, exists_offset);
            lowering.store_place(Width::B8, value.at(exists_offset), Operand::Imm(0));
        });
        self.builder.place(done);
    }

    /// `delete(@map[key])`, or `delete(@x)` of a map without keys.
    fn map_delete(&mut self, map: usize, keys: &[TypedExpr]) {
        if let Some((exists_offset, per_cpu)) = self.keyless_array(map) {
            self.keyless_clear(map, exists_offset, per_cpu);
            return;
        }
        let key = self.map_key(map, keys);
        self.builder.call_discarding(
            helpers::MAP_DELETE_ELEM,
            vec![CallArg::Map(FIRST_SCRIPT_MAP_INDEX + map), key.call_arg()],
        );
    }

    /// `@x = value` for a map without keys: a scalar is stored straight into the array entry
    /// (an inlined lookup, no update helper); a bigger value is built in memory with its
    /// "exists" word and written by `bpf_map_update_elem`.
    fn keyless_update(&mut self, map: usize, value: &TypedExpr, exists_offset: u32) {
        let Some(size) = self.script_map(map).map(ScriptMap::value_size) else {
            return;
        };
        if value.ty.is_scalar() {
            let register = self.scalar(value);
            let pointer = self.keyless_lookup(map);
            let done = self.builder.label();
            self.builder.branch(BPF_JEQ, pointer, Operand::Imm(0), done);
            let entry = Place {
                base: Base::Reg(pointer),
                offset: 0,
            };
            self.store_place(Width::B8, entry, Operand::Reg(register));
            self.store_place(Width::B8, entry.at(exists_offset), Operand::Imm(1));
            self.builder.place(done);
            return;
        }
        let place = self.allocate(exists_offset + 8);
        if exists_offset > size {
            // The padding before the word is part of the value the helper copies.
            self.zero_fill_exact(place.at(size), exists_offset - size);
        }
        self.aggregate_into(value, place, size);
        self.store_place(Width::B8, place.at(exists_offset), Operand::Imm(1));
        let key = self.zero_key();
        self.builder.call_discarding(
            helpers::MAP_UPDATE_ELEM,
            vec![
                CallArg::Map(FIRST_SCRIPT_MAP_INDEX + map),
                key.call_arg(),
                place.call_arg(),
                CallArg::Imm(0),
            ],
        );
    }

    /// An aggregation into a map without keys: one (inlined) lookup of the array entry, the
    /// update in place, and the "exists" word set. `@ = count()` is lookup, load, add 1, store.
    fn keyless_aggregate(
        &mut self,
        map: usize,
        aggregation: Aggregation,
        value: Option<&TypedExpr>,
        exists_offset: u32,
    ) {
        let signed = value.is_some_and(|value| value.ty.is_signed());
        let amount = value.map(|value| self.scalar(value));
        let amount_operand = amount.map(Operand::Reg).unwrap_or(Operand::Imm(1));
        let bucket = match (aggregation, amount) {
            (Aggregation::Lhist { min, max, step }, Some(amount)) => Some((
                self.lhist_bucket(amount, min, max, step),
                lhist_buckets(min, max, step),
            )),
            (Aggregation::Hist, Some(amount)) => Some((self.hist_bucket(amount), HIST_BUCKETS)),
            _ => None,
        };
        let pointer = self.keyless_lookup(map);
        let done = self.builder.label();
        let mark = self.builder.label();
        self.builder.branch(BPF_JEQ, pointer, Operand::Imm(0), done);
        match aggregation {
            Aggregation::Count | Aggregation::Sum | Aggregation::Avg | Aggregation::Stats => {
                self.add_to_total(pointer, aggregation, amount_operand);
            }
            Aggregation::Min | Aggregation::Max => {
                // (The checker always gives min/max a value; 1 stands in otherwise, as for count.)
                let amount = amount.unwrap_or_else(|| self.builder.constant(1));
                self.keep_min_or_max(pointer, aggregation, signed, amount, mark);
            }
            Aggregation::Hist | Aggregation::Lhist { .. } => {
                // (The checker always gives hist/lhist a value: bucket 0 stands in otherwise.)
                let (bucket, buckets) =
                    bucket.unwrap_or_else(|| (self.builder.constant(0), HIST_BUCKETS));
                self.bump_bucket(pointer, bucket, buckets);
            }
        }
        self.builder.place(mark);
        self.store_place(
            Width::B8,
            Place {
                base: Base::Reg(pointer),
                offset: exists_offset as i32,
            },
            Operand::Imm(1),
        );
        self.builder.place(done);
    }

    /// Count/Sum values are `[total]`, Avg/Stats `[count, total]`: adds `amount` to the total
    /// (and 1 to the count). Per-CPU values, so no atomics are needed.
    fn add_to_total(&mut self, pointer: VReg, aggregation: Aggregation, amount: Operand) {
        let with_count = matches!(aggregation, Aggregation::Avg | Aggregation::Stats);
        let total_offset: i16 = if with_count { 8 } else { 0 };
        let total = self
            .builder
            .load(Width::B8, Base::Reg(pointer), total_offset);
        self.builder.alu(BPF_ADD, total, amount);
        self.builder.store(
            Width::B8,
            Base::Reg(pointer),
            total_offset,
            Operand::Reg(total),
        );
        if with_count {
            let count = self.builder.load(Width::B8, Base::Reg(pointer), 0);
            self.builder.alu(BPF_ADD, count, Operand::Imm(1));
            self.builder
                .store(Width::B8, Base::Reg(pointer), 0, Operand::Reg(count));
        }
    }

    /// Min/Max values are `[value, set flag]` (the flag says whether this CPU has a value yet):
    /// jumps to `kept` when the current value stays, else writes `amount` and sets the flag.
    fn keep_min_or_max(
        &mut self,
        pointer: VReg,
        aggregation: Aggregation,
        signed: bool,
        amount: VReg,
        kept: Label,
    ) {
        let write = self.builder.label();
        let set = self.builder.load(Width::B8, Base::Reg(pointer), 8);
        self.builder.branch(BPF_JEQ, set, Operand::Imm(0), write);
        let current = self.builder.load(Width::B8, Base::Reg(pointer), 0);
        let keep = match (aggregation, signed) {
            (Aggregation::Min, true) => BPF_JSGE,
            (Aggregation::Min, false) => BPF_JGE,
            (_, true) => BPF_JSLE,
            (_, false) => BPF_JLE,
        };
        self.builder
            .branch(keep, amount, Operand::Reg(current), kept);
        self.builder.place(write);
        self.builder
            .store(Width::B8, Base::Reg(pointer), 0, Operand::Reg(amount));
        self.builder
            .store(Width::B8, Base::Reg(pointer), 8, Operand::Imm(1));
    }

    /// Adds one to histogram bucket `bucket` of the value at `pointer`, the index clamped so
    /// the verifier can see it stays inside the value.
    fn bump_bucket(&mut self, pointer: VReg, bucket: VReg, buckets: u32) {
        let last = buckets.saturating_sub(1) as i32;
        let within = self.builder.label();
        self.builder
            .branch(BPF_JLE, bucket, Operand::Imm(last), within);
        self.builder.push(IrInsn::Move {
            dst: bucket,
            src: Operand::Imm(last),
        });
        self.builder.place(within);
        self.builder.alu(BPF_LSH, bucket, Operand::Imm(3));
        let slot = self.builder.copy(pointer);
        self.builder.alu(BPF_ADD, slot, Operand::Reg(bucket));
        let count = self.builder.load(Width::B8, Base::Reg(slot), 0);
        self.builder.alu(BPF_ADD, count, Operand::Imm(1));
        self.builder
            .store(Width::B8, Base::Reg(slot), 0, Operand::Reg(count));
    }

    fn map_aggregate(
        &mut self,
        map: usize,
        keys: &[TypedExpr],
        aggregation: Aggregation,
        value: Option<&TypedExpr>,
    ) {
        if let Some((exists_offset, _)) = self.keyless_array(map) {
            self.keyless_aggregate(map, aggregation, value, exists_offset);
            return;
        }
        let signed = value.is_some_and(|value| value.ty.is_signed());
        let amount = match value {
            Some(value) => self.scalar(value),
            None => self.builder.constant(1),
        };
        let key = self.map_key(map, keys);
        let map_arg = CallArg::Map(FIRST_SCRIPT_MAP_INDEX + map);
        match aggregation {
            Aggregation::Count | Aggregation::Sum | Aggregation::Avg | Aggregation::Stats => {
                // Count/Sum: [total]; Avg/Stats: [count, total]. Per-CPU, so no atomics needed.
                let with_count = matches!(aggregation, Aggregation::Avg | Aggregation::Stats);
                let total_offset: i16 = if with_count { 8 } else { 0 };
                let pointer = self.call(helpers::MAP_LOOKUP_ELEM, vec![map_arg, key.call_arg()]);
                let absent = self.builder.label();
                let done = self.builder.label();
                self.builder
                    .branch(BPF_JEQ, pointer, Operand::Imm(0), absent);
                self.add_to_total(pointer, aggregation, Operand::Reg(amount));
                self.builder.jump(done);
                self.builder.place(absent);
                let initial = self.allocate(if with_count { 16 } else { 8 });
                if with_count {
                    self.store_place(Width::B8, initial, Operand::Imm(1));
                }
                self.store_place(
                    Width::B8,
                    initial.at(total_offset as u32),
                    Operand::Reg(amount),
                );
                self.insert_if_absent(map, key, initial.call_arg());
                self.builder.place(done);
            }
            Aggregation::Min | Aggregation::Max => {
                // [value, set flag]
                let pointer = self.call(helpers::MAP_LOOKUP_ELEM, vec![map_arg, key.call_arg()]);
                let absent = self.builder.label();
                let done = self.builder.label();
                self.builder
                    .branch(BPF_JEQ, pointer, Operand::Imm(0), absent);
                self.keep_min_or_max(pointer, aggregation, signed, amount, done);
                self.builder.jump(done);
                self.builder.place(absent);
                let initial = self.allocate(16);
                self.store_place(Width::B8, initial, Operand::Reg(amount));
                self.store_place(Width::B8, initial.at(8), Operand::Imm(1));
                self.insert_if_absent(map, key, initial.call_arg());
                self.builder.place(done);
            }
            Aggregation::Hist | Aggregation::Lhist { .. } => {
                let (bucket, buckets) = match aggregation {
                    Aggregation::Lhist { min, max, step } => (
                        self.lhist_bucket(amount, min, max, step),
                        lhist_buckets(min, max, step),
                    ),
                    _ => (self.hist_bucket(amount), HIST_BUCKETS),
                };
                let pointer = self.builder.vreg();
                let found = self.call(helpers::MAP_LOOKUP_ELEM, vec![map_arg, key.call_arg()]);
                self.builder.push(IrInsn::Move {
                    dst: pointer,
                    src: Operand::Reg(found),
                });
                let present = self.builder.label();
                let done = self.builder.label();
                self.builder
                    .branch(BPF_JNE, pointer, Operand::Imm(0), present);
                // A new key starts from an all-zero bucket array, copied from `.zero`.
                let zero = self.zero_memory();
                self.builder.branch(BPF_JEQ, zero, Operand::Imm(0), done);
                self.insert_if_absent(map, key, CallArg::Reg(zero));
                let again = self.call(helpers::MAP_LOOKUP_ELEM, vec![map_arg, key.call_arg()]);
                self.builder.push(IrInsn::Move {
                    dst: pointer,
                    src: Operand::Reg(again),
                });
                self.builder.branch(BPF_JEQ, pointer, Operand::Imm(0), done);
                self.builder.place(present);
                self.bump_bucket(pointer, bucket, buckets);
                self.builder.place(done);
            }
        }
    }

    /// hist() bucket: 0 for negative, 1 for zero, 2 + floor(log2(v)) otherwise.
    fn hist_bucket(&mut self, value: VReg) -> VReg {
        let bucket = self.builder.constant(0);
        let done = self.builder.label();
        self.builder.branch(BPF_JSLT, value, Operand::Imm(0), done);
        self.builder.push(IrInsn::Move {
            dst: bucket,
            src: Operand::Imm(1),
        });
        self.builder.branch(BPF_JEQ, value, Operand::Imm(0), done);
        let remaining = self.builder.copy(value);
        let log = self.builder.constant(2);
        for shift in [32, 16, 8, 4, 2, 1] {
            let shifted = self.builder.copy(remaining);
            self.builder.alu(BPF_RSH, shifted, Operand::Imm(shift));
            let skip = self.builder.label();
            self.builder.branch(BPF_JEQ, shifted, Operand::Imm(0), skip);
            self.builder.push(IrInsn::Move {
                dst: remaining,
                src: Operand::Reg(shifted),
            });
            self.builder.alu(BPF_ADD, log, Operand::Imm(shift));
            self.builder.place(skip);
        }
        self.builder.push(IrInsn::Move {
            dst: bucket,
            src: Operand::Reg(log),
        });
        self.builder.place(done);
        bucket
    }

    /// lhist() bucket: 0 below min, 1 + (v - min) / step inside, the last one at or above max.
    fn lhist_bucket(&mut self, value: VReg, min: i64, max: i64, step: i64) -> VReg {
        let regular = i64::from(lhist_buckets(min, max, step).saturating_sub(2));
        let bucket = self.builder.constant(0);
        let done = self.builder.label();
        let minimum = self.builder.constant(min);
        self.builder
            .branch(BPF_JSLT, value, Operand::Reg(minimum), done);
        let offset = self.builder.copy(value);
        self.builder.alu(BPF_SUB, offset, Operand::Reg(minimum));
        let step_register = self.builder.constant(step);
        self.builder
            .alu(BPF_DIV, offset, Operand::Reg(step_register));
        let limit = self.builder.constant(regular);
        let inside = self.builder.label();
        self.builder
            .branch(BPF_JLT, offset, Operand::Reg(limit), inside);
        self.builder.push(IrInsn::Move {
            dst: offset,
            src: Operand::Reg(limit),
        });
        self.builder.place(inside);
        self.builder.alu(BPF_ADD, offset, Operand::Imm(1));
        self.builder.push(IrInsn::Move {
            dst: bucket,
            src: Operand::Reg(offset),
        });
        self.builder.place(done);
        bucket
    }
}

/// Whether statements contain a `for` loop over a map (at any depth).
fn statements_have_map_loops(statements: &[TypedStatement]) -> bool {
    statements.iter().any(|statement| match &statement.kind {
        TypedStatementKind::ForMap { .. } => true,
        TypedStatementKind::If {
            then_body,
            else_body,
            ..
        } => statements_have_map_loops(then_body) || statements_have_map_loops(else_body),
        TypedStatementKind::While { body, .. }
        | TypedStatementKind::Unroll { body, .. }
        | TypedStatementKind::ForRange { body, .. } => statements_have_map_loops(body),
        _ => false,
    })
}

/// Whether statements contain a `return` (at any depth).
fn statements_have_return(statements: &[TypedStatement]) -> bool {
    statements.iter().any(|statement| match &statement.kind {
        TypedStatementKind::Return => true,
        TypedStatementKind::If {
            then_body,
            else_body,
            ..
        } => statements_have_return(then_body) || statements_have_return(else_body),
        TypedStatementKind::While { body, .. }
        | TypedStatementKind::Unroll { body, .. }
        | TypedStatementKind::ForRange { body, .. }
        | TypedStatementKind::ForMap { body, .. } => statements_have_return(body),
        _ => false,
    })
}
