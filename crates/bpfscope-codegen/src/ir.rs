//! The codegen's intermediate form: BPF-shaped instructions over unlimited virtual registers, with labels.
//!
//! Lowering emits this; `regalloc` maps virtual registers onto r6-r9 (spilling the rest to the
//! stack) and resolves labels. Physical registers never appear here: helper arguments are
//! listed in [`IrInsn::Call`] and placed into r1-r5 only when the call is emitted, so r0-r5 are
//! free for the allocator's spill temporaries everywhere else.

/// A virtual register holding a 64-bit value (a scalar or a pointer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VReg(pub u32);

/// A jump target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Label(pub u32);

/// The second operand of an ALU or compare instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    Reg(VReg),
    Imm(i32),
}

/// What memory is addressed from: the frame pointer r10 or a register holding a pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    Frame,
    Reg(VReg),
}

/// A helper argument as it will be placed into r1-r5.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallArg {
    Reg(VReg),
    Imm(i64),
    /// `r10 + offset`: the address of a stack slot.
    FrameAddress(i16),
    /// The map with this index in `CompiledProgram::maps` (an `ld_imm64` with a relocation).
    Map(usize),
    /// `base + offset` where base is a register holding a pointer.
    RegPlusOffset(VReg, i32),
    /// The address of BPF function number `n` of the probe (a callback), resolved when the
    /// functions are laid out one after another (an `ld_imm64` with `BPF_PSEUDO_FUNC`).
    Function(u32),
}

/// BPF memory access widths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    B1,
    B2,
    B4,
    B8,
}

impl Width {
    pub fn code(self) -> u8 {
        match self {
            Width::B1 => bpfscope_bpf::insn::BPF_B,
            Width::B2 => bpfscope_bpf::insn::BPF_H,
            Width::B4 => bpfscope_bpf::insn::BPF_W,
            Width::B8 => bpfscope_bpf::insn::BPF_DW,
        }
    }

    pub fn from_bytes(bytes: u32) -> Option<Width> {
        match bytes {
            1 => Some(Width::B1),
            2 => Some(Width::B2),
            4 => Some(Width::B4),
            8 => Some(Width::B8),
            _ => None,
        }
    }

    pub fn bytes(self) -> u32 {
        match self {
            Width::B1 => 1,
            Width::B2 => 2,
            Width::B4 => 4,
            Width::B8 => 8,
        }
    }
}

/// One instruction of the intermediate form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IrInsn {
    /// The program's context pointer (r1 at entry). Must be the very first instruction.
    TakeContext {
        dst: VReg,
    },
    /// Argument register `register` (1-5) at function entry. All of them come first, before
    /// anything that could clobber r1-r5.
    TakeArgument {
        dst: VReg,
        register: u8,
    },
    Label(Label),
    /// 64-bit `dst = src`.
    Move {
        dst: VReg,
        src: Operand,
    },
    /// `dst = value` with any 64-bit value.
    LoadImm64 {
        dst: VReg,
        value: u64,
    },
    /// 64-bit `dst op= src` (`op` is a `BPF_*` ALU operation such as `BPF_ADD`).
    Alu {
        op: u8,
        dst: VReg,
        src: Operand,
    },
    /// 32-bit `dst op= src` (clears the upper half).
    Alu32 {
        op: u8,
        dst: VReg,
        src: Operand,
    },
    /// `dst = -dst`.
    Negate {
        dst: VReg,
    },
    /// `dst = r10 + offset`.
    FrameAddress {
        dst: VReg,
        offset: i16,
    },
    /// `dst = *(width *)(base + offset)`.
    Load {
        width: Width,
        dst: VReg,
        base: Base,
        offset: i16,
    },
    /// `*(width *)(base + offset) = src`.
    Store {
        width: Width,
        base: Base,
        offset: i16,
        src: Operand,
    },
    /// `lock *(u64 *)(base + offset) += src`.
    AtomicAdd64 {
        base: VReg,
        offset: i16,
        src: VReg,
    },
    Jump(Label),
    /// `if lhs op rhs goto target` (`op` is a `BPF_J*` operation).
    Branch {
        op: u8,
        lhs: VReg,
        rhs: Operand,
        target: Label,
    },
    /// Calls a helper with up to five arguments; its result (r0) goes to `result`.
    Call {
        helper: i32,
        args: Vec<CallArg>,
        result: Option<VReg>,
    },
    /// Returns `value` from the program.
    Exit {
        value: i32,
    },
    /// The script line that the following instructions implement (for `-d bpf` and verifier errors).
    Line(u32),
}

/// Collects instructions, hands out fresh virtual registers and labels.
#[derive(Debug, Default)]
pub struct IrBuilder {
    pub insns: Vec<IrInsn>,
    next_vreg: u32,
    next_label: u32,
}

impl IrBuilder {
    pub fn new() -> IrBuilder {
        IrBuilder::default()
    }

    pub fn vreg(&mut self) -> VReg {
        let vreg = VReg(self.next_vreg);
        self.next_vreg += 1;
        vreg
    }

    pub fn label(&mut self) -> Label {
        let label = Label(self.next_label);
        self.next_label += 1;
        label
    }

    pub fn vreg_count(&self) -> u32 {
        self.next_vreg
    }

    pub fn push(&mut self, insn: IrInsn) {
        self.insns.push(insn);
    }

    pub fn place(&mut self, label: Label) {
        self.push(IrInsn::Label(label));
    }

    /// A new register holding `value`.
    pub fn constant(&mut self, value: i64) -> VReg {
        let dst = self.vreg();
        match i32::try_from(value) {
            Ok(small) => self.push(IrInsn::Move {
                dst,
                src: Operand::Imm(small),
            }),
            Err(_) => self.push(IrInsn::LoadImm64 {
                dst,
                value: value as u64,
            }),
        }
        dst
    }

    /// A new register holding a copy of `src`.
    pub fn copy(&mut self, src: VReg) -> VReg {
        let dst = self.vreg();
        self.push(IrInsn::Move {
            dst,
            src: Operand::Reg(src),
        });
        dst
    }

    pub fn alu(&mut self, op: u8, dst: VReg, src: Operand) {
        self.push(IrInsn::Alu { op, dst, src });
    }

    pub fn call(&mut self, helper: bpfscope_bpf::helpers::Helper, args: Vec<CallArg>) -> VReg {
        let result = self.vreg();
        self.push(IrInsn::Call {
            helper: helper.id,
            args,
            result: Some(result),
        });
        result
    }

    pub fn call_discarding(&mut self, helper: bpfscope_bpf::helpers::Helper, args: Vec<CallArg>) {
        self.push(IrInsn::Call {
            helper: helper.id,
            args,
            result: None,
        });
    }

    pub fn load(&mut self, width: Width, base: Base, offset: i16) -> VReg {
        let dst = self.vreg();
        self.push(IrInsn::Load {
            width,
            dst,
            base,
            offset,
        });
        dst
    }

    pub fn store(&mut self, width: Width, base: Base, offset: i16, src: Operand) {
        self.push(IrInsn::Store {
            width,
            base,
            offset,
            src,
        });
    }

    pub fn branch(&mut self, op: u8, lhs: VReg, rhs: Operand, target: Label) {
        self.push(IrInsn::Branch {
            op,
            lhs,
            rhs,
            target,
        });
    }

    pub fn jump(&mut self, target: Label) {
        self.push(IrInsn::Jump(target));
    }
}

impl IrInsn {
    /// Virtual registers read by this instruction.
    pub fn uses(&self) -> Vec<VReg> {
        let mut used = Vec::new();
        let operand = |operand: &Operand, used: &mut Vec<VReg>| {
            if let Operand::Reg(vreg) = operand {
                used.push(*vreg);
            }
        };
        match self {
            IrInsn::Move { src, .. } => operand(src, &mut used),
            IrInsn::Alu { dst, src, .. } | IrInsn::Alu32 { dst, src, .. } => {
                used.push(*dst);
                operand(src, &mut used);
            }
            IrInsn::Negate { dst } => used.push(*dst),
            IrInsn::Load {
                base: Base::Reg(base),
                ..
            } => used.push(*base),
            IrInsn::Store { base, src, .. } => {
                if let Base::Reg(base) = base {
                    used.push(*base);
                }
                operand(src, &mut used);
            }
            IrInsn::AtomicAdd64 { base, src, .. } => {
                used.push(*base);
                used.push(*src);
            }
            IrInsn::Branch { lhs, rhs, .. } => {
                used.push(*lhs);
                operand(rhs, &mut used);
            }
            IrInsn::Call { args, .. } => {
                for arg in args {
                    match arg {
                        CallArg::Reg(vreg) | CallArg::RegPlusOffset(vreg, _) => used.push(*vreg),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        used
    }

    /// The virtual register written by this instruction, if any.
    pub fn def(&self) -> Option<VReg> {
        match self {
            IrInsn::TakeContext { dst }
            | IrInsn::TakeArgument { dst, .. }
            | IrInsn::Move { dst, .. }
            | IrInsn::LoadImm64 { dst, .. }
            | IrInsn::Alu { dst, .. }
            | IrInsn::Alu32 { dst, .. }
            | IrInsn::Negate { dst }
            | IrInsn::FrameAddress { dst, .. }
            | IrInsn::Load { dst, .. } => Some(*dst),
            IrInsn::Call { result, .. } => *result,
            _ => None,
        }
    }
}
