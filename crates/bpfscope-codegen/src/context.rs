//! Reading a probe's context: tracepoint record fields at fixed offsets, raw tracepoint arguments as a u64 array.

use crate::ir::{Base, IrBuilder, Operand, VReg, Width};
use bpfscope_bpf::insn::*;

/// A tracepoint field loaded straight from the record (the verifier allows aligned loads from
/// a tracepoint context), sign-extended to 64 bits when the format says it is signed.
pub fn load_tracepoint_field(
    builder: &mut IrBuilder,
    context: VReg,
    offset: u32,
    bytes: u8,
    signed: bool,
) -> VReg {
    let width = Width::from_bytes(u32::from(bytes)).unwrap_or(Width::B8);
    let value = builder.load(width, Base::Reg(context), offset as i16);
    if signed && bytes < 8 {
        let shift = 64 - i32::from(bytes) * 8;
        builder.alu(BPF_LSH, value, Operand::Imm(shift));
        builder.alu(BPF_ARSH, value, Operand::Imm(shift));
    }
    value
}

/// The address of a `__data_loc` field's bytes: the low 16 bits of the u32 at `offset` are
/// the data's offset from the record start.
pub fn data_loc_address(builder: &mut IrBuilder, context: VReg, offset: u32) -> VReg {
    let locator = builder.load(Width::B4, Base::Reg(context), offset as i16);
    builder.alu(BPF_AND, locator, Operand::Imm(0xffff));
    let address = builder.copy(context);
    builder.alu(BPF_ADD, address, Operand::Reg(locator));
    address
}

/// `argN` of a raw tracepoint: `struct bpf_raw_tracepoint_args { __u64 args[]; }`.
pub fn load_raw_tracepoint_arg(builder: &mut IrBuilder, context: VReg, index: u8) -> VReg {
    builder.load(Width::B8, Base::Reg(context), i16::from(index) * 8)
}

/// The u64 at `offset` of the context: a `struct pt_regs` register (kprobe, uprobe, USDT) or
/// an fentry/fexit argument slot. Both allow direct, aligned 8-byte context loads.
pub fn load_context_word(builder: &mut IrBuilder, context: VReg, offset: i16) -> VReg {
    builder.load(Width::B8, Base::Reg(context), offset)
}
