//! Register allocation by linear scan over r6-r9 with spilling to stack slots, and emission of final BPF.
//!
//! Why r6-r9 only: helper calls clobber r0-r5, and every value in a tracing program tends to
//! live across one. r1-r3 serve as scratch registers to reload spilled values around an
//! instruction; r1-r5 are otherwise only written when a call's arguments are placed, directly
//! from their sources (r6-r9, spill slots, r10 or immediates), so nothing can collide.

use crate::ir::{Base, CallArg, IrInsn, Label, Operand, VReg};
use bpfscope_bpf::insn::*;
use bpfscope_bpf::{Insn, MapRelocation};
use std::collections::HashMap;

/// The BPF stack limit of one program.
pub const MAX_STACK_BYTES: u32 = 512;

const ALLOCATABLE: [u8; 4] = [R6, R7, R8, R9];
const SCRATCH_A: u8 = R1;
const SCRATCH_B: u8 = R2;

/// Where a virtual register lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    Register(u8),
    /// A stack slot at `r10 + offset` (offset negative, 8-aligned).
    Slot(i16),
}

/// The emitted program.
#[derive(Clone, Debug, Default)]
pub struct Emitted {
    pub insns: Vec<Insn>,
    pub line_of_insn: Vec<u32>,
    pub map_relocations: Vec<MapRelocation>,
    /// `ld_imm64` instructions that must hold the address of BPF function `n` (index of the
    /// first half, function number), patched when the functions are laid out.
    pub function_references: Vec<(usize, u32)>,
    /// How many virtual registers had to live on the stack.
    pub spilled_vregs: usize,
    /// Total stack bytes: the lowering's frame plus spill slots.
    pub stack_bytes: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocationError {
    #[error("the program needs {needed} bytes of stack, more than the kernel's limit of {MAX_STACK_BYTES}; simplify the expressions of this probe")]
    StackTooLarge { needed: u32 },
    #[error("a jump spans more than 32767 instructions; split the probe into smaller ones")]
    JumpTooFar,
    #[error("internal compiler error: {0}")]
    Internal(String),
}

#[derive(Clone, Copy, Debug)]
struct Interval {
    vreg: VReg,
    start: usize,
    end: usize,
}

/// Computes live intervals in program order, widened over loops: a value live into a loop
/// header must survive until the backward jump.
fn live_intervals(insns: &[IrInsn]) -> Vec<Interval> {
    let mut ranges: HashMap<VReg, (usize, usize)> = HashMap::new();
    let touch = |vreg: VReg, position: usize, ranges: &mut HashMap<VReg, (usize, usize)>| {
        let entry = ranges.entry(vreg).or_insert((position, position));
        entry.0 = entry.0.min(position);
        entry.1 = entry.1.max(position);
    };
    for (position, insn) in insns.iter().enumerate() {
        for vreg in insn.uses() {
            touch(vreg, position, &mut ranges);
        }
        if let Some(vreg) = insn.def() {
            touch(vreg, position, &mut ranges);
        }
    }
    let label_positions: HashMap<Label, usize> = insns
        .iter()
        .enumerate()
        .filter_map(|(position, insn)| match insn {
            IrInsn::Label(label) => Some((*label, position)),
            _ => None,
        })
        .collect();
    let backward_jumps: Vec<(usize, usize)> = insns
        .iter()
        .enumerate()
        .filter_map(|(position, insn)| {
            let target = match insn {
                IrInsn::Jump(target) | IrInsn::Branch { target, .. } => target,
                _ => return None,
            };
            let target_position = *label_positions.get(target)?;
            (target_position <= position).then_some((target_position, position))
        })
        .collect();
    let mut changed = !backward_jumps.is_empty();
    while changed {
        changed = false;
        for range in ranges.values_mut() {
            for &(header, latch) in &backward_jumps {
                if range.0 < header && range.1 >= header && range.1 < latch {
                    range.1 = latch;
                    changed = true;
                }
            }
        }
    }
    let mut intervals: Vec<Interval> = ranges
        .into_iter()
        .map(|(vreg, (start, end))| Interval { vreg, start, end })
        .collect();
    intervals.sort_by_key(|interval| (interval.start, interval.vreg));
    intervals
}

/// Assigns every virtual register a register or a stack slot below `frame_bytes`.
fn allocate(insns: &[IrInsn], frame_bytes: u32) -> (HashMap<VReg, Location>, usize, u32) {
    let intervals = live_intervals(insns);
    let mut locations: HashMap<VReg, Location> = HashMap::new();
    let mut active: Vec<(Interval, u8)> = Vec::new();
    let mut free: Vec<u8> = ALLOCATABLE.iter().rev().copied().collect();
    let mut spilled: Vec<Interval> = Vec::new();
    for interval in &intervals {
        active.retain(|(other, register)| {
            if other.end < interval.start {
                free.push(*register);
                false
            } else {
                true
            }
        });
        if let Some(register) = free.pop() {
            locations.insert(interval.vreg, Location::Register(register));
            active.push((*interval, register));
            continue;
        }
        let furthest = active
            .iter()
            .enumerate()
            .max_by_key(|(_, (other, _))| other.end)
            .map(|(index, (other, register))| (index, *other, *register));
        match furthest {
            // The value used furthest away gives up its register for its whole life: it was
            // never emitted yet, so it simply lives on the stack from its start.
            Some((index, other, register)) if other.end > interval.end => {
                active.remove(index);
                spilled.push(other);
                locations.insert(interval.vreg, Location::Register(register));
                active.push((*interval, register));
            }
            _ => spilled.push(*interval),
        }
    }
    // Spill slots, reused once the previous occupant is dead.
    spilled.sort_by_key(|interval| interval.start);
    let mut slot_busy_until: Vec<usize> = Vec::new();
    for interval in &spilled {
        let slot_index = match slot_busy_until.iter().position(|&end| end < interval.start) {
            Some(index) => index,
            None => {
                slot_busy_until.push(0);
                slot_busy_until.len() - 1
            }
        };
        if let Some(busy) = slot_busy_until.get_mut(slot_index) {
            *busy = interval.end;
        }
        let offset = -(frame_bytes as i64) - 8 * (slot_index as i64 + 1);
        locations.insert(
            interval.vreg,
            Location::Slot(offset.max(i64::from(i16::MIN)) as i16),
        );
    }
    let stack_bytes = frame_bytes + 8 * slot_busy_until.len() as u32;
    (locations, spilled.len(), stack_bytes)
}

/// Drops instructions no path reaches (code after a `break` or `return`): the verifier
/// rejects programs with unreachable instructions.
pub fn remove_unreachable(insns: &[IrInsn]) -> Vec<IrInsn> {
    let label_positions: HashMap<Label, usize> = insns
        .iter()
        .enumerate()
        .filter_map(|(position, insn)| match insn {
            IrInsn::Label(label) => Some((*label, position)),
            _ => None,
        })
        .collect();
    let mut reached = vec![false; insns.len()];
    let mut pending = vec![0usize];
    while let Some(position) = pending.pop() {
        let Some(insn) = insns.get(position) else {
            continue;
        };
        if reached.get(position).copied().unwrap_or(true) {
            continue;
        }
        if let Some(flag) = reached.get_mut(position) {
            *flag = true;
        }
        match insn {
            IrInsn::Jump(target) => pending.extend(label_positions.get(target)),
            IrInsn::Branch { target, .. } => {
                pending.extend(label_positions.get(target));
                pending.push(position + 1);
            }
            IrInsn::Exit { .. } => {}
            _ => pending.push(position + 1),
        }
    }
    insns
        .iter()
        .zip(reached)
        .filter(|(insn, reached)| *reached || matches!(insn, IrInsn::Label(_) | IrInsn::Line(_)))
        .map(|(insn, _)| insn.clone())
        .collect()
}

struct Emitter<'a> {
    locations: &'a HashMap<VReg, Location>,
    out: Vec<Insn>,
    lines: Vec<u32>,
    line: u32,
    relocations: Vec<MapRelocation>,
    function_references: Vec<(usize, u32)>,
    label_positions: HashMap<Label, usize>,
    fixups: Vec<(usize, Label)>,
}

impl Emitter<'_> {
    fn emit(&mut self, insn: Insn) {
        self.out.push(insn);
        self.lines.push(self.line);
    }

    fn location(&self, vreg: VReg) -> Location {
        // Every vreg mentioned has a location; a missing one would be a lowering bug, and r9
        // keeps the program well-formed for the verifier to judge instead of panicking here.
        self.locations
            .get(&vreg)
            .copied()
            .unwrap_or(Location::Register(R9))
    }

    /// The register holding `vreg`'s value, loading it into `scratch` if it is spilled.
    fn read(&mut self, vreg: VReg, scratch: u8) -> u8 {
        match self.location(vreg) {
            Location::Register(register) => register,
            Location::Slot(offset) => {
                self.emit(ldx_mem(BPF_DW, scratch, R10, offset));
                scratch
            }
        }
    }

    /// The register to compute `vreg` into: its own, or `scratch` followed by [`Self::finish_write`].
    fn target(&self, vreg: VReg, scratch: u8) -> u8 {
        match self.location(vreg) {
            Location::Register(register) => register,
            Location::Slot(_) => scratch,
        }
    }

    fn finish_write(&mut self, vreg: VReg, scratch: u8) {
        if let Location::Slot(offset) = self.location(vreg) {
            self.emit(stx_mem(BPF_DW, R10, scratch, offset));
        }
    }

    fn load_imm64(&mut self, register: u8, value: i64) {
        match i32::try_from(value) {
            Ok(small) => self.emit(mov64_imm(register, small)),
            Err(_) => {
                for half in ld_imm64(register, value as u64) {
                    self.emit(half);
                }
            }
        }
    }

    fn lower(&mut self, insn: &IrInsn) {
        match insn {
            IrInsn::TakeContext { dst } => match self.location(*dst) {
                Location::Register(register) => self.emit(mov64_reg(register, R1)),
                Location::Slot(offset) => self.emit(stx_mem(BPF_DW, R10, R1, offset)),
            },
            IrInsn::TakeArgument { dst, register } => match self.location(*dst) {
                Location::Register(target) => self.emit(mov64_reg(target, *register)),
                Location::Slot(offset) => self.emit(stx_mem(BPF_DW, R10, *register, offset)),
            },
            IrInsn::Label(label) => {
                self.label_positions.insert(*label, self.out.len());
            }
            IrInsn::Line(line) => self.line = *line,
            IrInsn::Move { dst, src } => match (self.location(*dst), src) {
                (Location::Slot(offset), Operand::Reg(source)) => {
                    let source = self.read(*source, SCRATCH_B);
                    self.emit(stx_mem(BPF_DW, R10, source, offset));
                }
                (_, src) => {
                    let target = self.target(*dst, SCRATCH_A);
                    match src {
                        Operand::Imm(value) => self.emit(mov64_imm(target, *value)),
                        Operand::Reg(source) => {
                            let source = self.read(*source, SCRATCH_B);
                            if source != target {
                                self.emit(mov64_reg(target, source));
                            }
                        }
                    }
                    self.finish_write(*dst, SCRATCH_A);
                }
            },
            IrInsn::LoadImm64 { dst, value } => {
                let target = self.target(*dst, SCRATCH_A);
                self.load_imm64(target, *value as i64);
                self.finish_write(*dst, SCRATCH_A);
            }
            IrInsn::Alu { op, dst, src } | IrInsn::Alu32 { op, dst, src } => {
                let wide = matches!(insn, IrInsn::Alu { .. });
                let target = self.read(*dst, SCRATCH_A);
                match src {
                    Operand::Imm(value) => self.emit(if wide {
                        alu64_imm(*op, target, *value)
                    } else {
                        alu32_imm(*op, target, *value)
                    }),
                    Operand::Reg(source) => {
                        let source = self.read(*source, SCRATCH_B);
                        self.emit(if wide {
                            alu64_reg(*op, target, source)
                        } else {
                            alu32_reg(*op, target, source)
                        });
                    }
                }
                self.finish_write(*dst, SCRATCH_A);
            }
            IrInsn::Negate { dst } => {
                let target = self.read(*dst, SCRATCH_A);
                self.emit(alu64_imm(BPF_NEG, target, 0));
                self.finish_write(*dst, SCRATCH_A);
            }
            IrInsn::FrameAddress { dst, offset } => {
                let target = self.target(*dst, SCRATCH_A);
                self.emit(mov64_reg(target, R10));
                self.emit(alu64_imm(BPF_ADD, target, i32::from(*offset)));
                self.finish_write(*dst, SCRATCH_A);
            }
            IrInsn::Load {
                width,
                dst,
                base,
                offset,
            } => {
                let base_register = match base {
                    Base::Frame => R10,
                    Base::Reg(base) => self.read(*base, SCRATCH_B),
                };
                let target = self.target(*dst, SCRATCH_A);
                self.emit(ldx_mem(width.code(), target, base_register, *offset));
                self.finish_write(*dst, SCRATCH_A);
            }
            IrInsn::Store {
                width,
                base,
                offset,
                src,
            } => {
                let base_register = match base {
                    Base::Frame => R10,
                    Base::Reg(base) => self.read(*base, SCRATCH_A),
                };
                match src {
                    Operand::Imm(value) => {
                        self.emit(st_mem(width.code(), base_register, *offset, *value))
                    }
                    Operand::Reg(source) => {
                        let source = self.read(*source, SCRATCH_B);
                        self.emit(stx_mem(width.code(), base_register, source, *offset));
                    }
                }
            }
            IrInsn::AtomicAdd64 { base, offset, src } => {
                let base_register = self.read(*base, SCRATCH_A);
                let source = self.read(*src, SCRATCH_B);
                self.emit(atomic_add(BPF_DW, base_register, source, *offset));
            }
            IrInsn::Jump(target) => {
                self.fixups.push((self.out.len(), *target));
                self.emit(ja(0));
            }
            IrInsn::Branch {
                op,
                lhs,
                rhs,
                target,
            } => {
                let left = self.read(*lhs, SCRATCH_A);
                let jump = match rhs {
                    Operand::Imm(value) => jmp_imm(*op, left, *value, 0),
                    Operand::Reg(right) => {
                        let right = self.read(*right, SCRATCH_B);
                        jmp_reg(*op, left, right, 0)
                    }
                };
                self.fixups.push((self.out.len(), *target));
                self.emit(jump);
            }
            IrInsn::Call {
                helper,
                args,
                result,
            } => {
                for (index, arg) in args.iter().enumerate().take(5) {
                    let register = R1 + index as u8;
                    match arg {
                        CallArg::Reg(vreg) => match self.location(*vreg) {
                            Location::Register(source) => self.emit(mov64_reg(register, source)),
                            Location::Slot(offset) => {
                                self.emit(ldx_mem(BPF_DW, register, R10, offset))
                            }
                        },
                        CallArg::RegPlusOffset(vreg, offset) => {
                            match self.location(*vreg) {
                                Location::Register(source) => {
                                    self.emit(mov64_reg(register, source))
                                }
                                Location::Slot(slot) => {
                                    self.emit(ldx_mem(BPF_DW, register, R10, slot))
                                }
                            }
                            if *offset != 0 {
                                self.emit(alu64_imm(BPF_ADD, register, *offset));
                            }
                        }
                        CallArg::Imm(value) => self.load_imm64(register, *value),
                        CallArg::FrameAddress(offset) => {
                            self.emit(mov64_reg(register, R10));
                            self.emit(alu64_imm(BPF_ADD, register, i32::from(*offset)));
                        }
                        CallArg::Function(function) => {
                            self.function_references.push((self.out.len(), *function));
                            for half in ld_pseudo_func(register, 0) {
                                self.emit(half);
                            }
                        }
                        CallArg::Map(map_index) => {
                            self.relocations.push(MapRelocation {
                                insn_index: self.out.len(),
                                map_index: *map_index,
                            });
                            for half in ld_map_fd(register, *map_index as i32) {
                                self.emit(half);
                            }
                        }
                    }
                }
                self.emit(call(*helper));
                if let Some(result) = result {
                    match self.location(*result) {
                        Location::Register(register) => self.emit(mov64_reg(register, R0)),
                        Location::Slot(offset) => self.emit(stx_mem(BPF_DW, R10, R0, offset)),
                    }
                }
            }
            IrInsn::Exit { value } => {
                self.emit(mov64_imm(R0, *value));
                self.emit(exit());
            }
        }
    }
}

/// Allocates registers and emits the final instructions. `frame_bytes` is the stack the
/// lowering already laid out (from r10 downwards); spill slots go below it.
pub fn allocate_and_emit(insns: &[IrInsn], frame_bytes: u32) -> Result<Emitted, AllocationError> {
    let frame_bytes = frame_bytes.div_ceil(8) * 8;
    let reachable = remove_unreachable(insns);
    let insns = reachable.as_slice();
    let (locations, spilled_vregs, stack_bytes) = allocate(insns, frame_bytes);
    if stack_bytes > MAX_STACK_BYTES {
        return Err(AllocationError::StackTooLarge {
            needed: stack_bytes,
        });
    }
    let mut emitter = Emitter {
        locations: &locations,
        out: Vec::with_capacity(insns.len() * 2),
        lines: Vec::with_capacity(insns.len() * 2),
        line: 0,
        relocations: Vec::new(),
        function_references: Vec::new(),
        label_positions: HashMap::new(),
        fixups: Vec::new(),
    };
    for insn in insns {
        emitter.lower(insn);
    }
    for (position, label) in std::mem::take(&mut emitter.fixups) {
        let target = *emitter
            .label_positions
            .get(&label)
            .ok_or_else(|| AllocationError::Internal(format!("label {} never placed", label.0)))?;
        let offset = target as i64 - position as i64 - 1;
        let offset = i16::try_from(offset).map_err(|_| AllocationError::JumpTooFar)?;
        if let Some(jump) = emitter.out.get_mut(position) {
            jump.off = offset;
        }
    }
    Ok(Emitted {
        insns: emitter.out,
        line_of_insn: emitter.lines,
        map_relocations: emitter.relocations,
        function_references: emitter.function_references,
        spilled_vregs,
        stack_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::IrBuilder;

    #[test]
    fn spills_when_more_than_four_values_are_live() {
        let mut builder = IrBuilder::new();
        let values: Vec<VReg> = (0..10).map(|value| builder.constant(value)).collect();
        let sum = builder.constant(0);
        for value in &values {
            builder.alu(BPF_ADD, sum, Operand::Reg(*value));
        }
        builder.push(IrInsn::Exit { value: 0 });
        let emitted = allocate_and_emit(&builder.insns, 0).expect("allocates");
        assert!(
            emitted.spilled_vregs >= 7,
            "spilled {}",
            emitted.spilled_vregs
        );
        assert!(emitted.stack_bytes >= 56);
        // Only r0-r3 and r6-r10 appear; every spill reload goes through r10.
        for insn in &emitted.insns {
            assert!(insn.dst() <= 10 && insn.src() <= 10);
        }
    }

    #[test]
    fn resolves_forward_and_backward_labels() {
        let mut builder = IrBuilder::new();
        let counter = builder.constant(0);
        let head = builder.label();
        let done = builder.label();
        builder.place(head);
        builder.branch(BPF_JGE, counter, Operand::Imm(10), done);
        builder.alu(BPF_ADD, counter, Operand::Imm(1));
        builder.jump(head);
        builder.place(done);
        builder.push(IrInsn::Exit { value: 0 });
        let emitted = allocate_and_emit(&builder.insns, 0).expect("allocates");
        // mov, jge +2, add, ja -3, mov r0, exit
        assert_eq!(emitted.insns.len(), 6);
        assert_eq!(emitted.insns[1].off, 2);
        assert_eq!(emitted.insns[3].off, -3);
    }

    #[test]
    fn rejects_oversized_stack() {
        let builder = IrBuilder::new();
        assert!(matches!(
            allocate_and_emit(&builder.insns, 600),
            Err(AllocationError::StackTooLarge { .. })
        ));
    }
}
