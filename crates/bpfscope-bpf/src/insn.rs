//! The 8-byte BPF instruction and the opcode constants of the kernel's uapi (`linux/bpf.h`, `bpf_common.h`).

/// One BPF instruction exactly as the kernel reads it (`struct bpf_insn`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Insn {
    pub code: u8,
    /// Low nibble: destination register; high nibble: source register.
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            regs: (dst & 0xf) | ((src & 0xf) << 4),
            off,
            imm,
        }
    }
    pub const fn dst(&self) -> u8 {
        self.regs & 0xf
    }
    pub const fn src(&self) -> u8 {
        self.regs >> 4
    }
}

// Instruction classes.
pub const BPF_LD: u8 = 0x00;
pub const BPF_LDX: u8 = 0x01;
pub const BPF_ST: u8 = 0x02;
pub const BPF_STX: u8 = 0x03;
pub const BPF_ALU: u8 = 0x04;
pub const BPF_JMP: u8 = 0x05;
pub const BPF_JMP32: u8 = 0x06;
pub const BPF_ALU64: u8 = 0x07;

// Sizes.
pub const BPF_W: u8 = 0x00;
pub const BPF_H: u8 = 0x08;
pub const BPF_B: u8 = 0x10;
pub const BPF_DW: u8 = 0x18;

// Modes.
pub const BPF_IMM: u8 = 0x00;
pub const BPF_MEM: u8 = 0x60;
pub const BPF_ATOMIC: u8 = 0xc0;

// ALU operations.
pub const BPF_ADD: u8 = 0x00;
pub const BPF_SUB: u8 = 0x10;
pub const BPF_MUL: u8 = 0x20;
pub const BPF_DIV: u8 = 0x30;
pub const BPF_OR: u8 = 0x40;
pub const BPF_AND: u8 = 0x50;
pub const BPF_LSH: u8 = 0x60;
pub const BPF_RSH: u8 = 0x70;
pub const BPF_NEG: u8 = 0x80;
pub const BPF_MOD: u8 = 0x90;
pub const BPF_XOR: u8 = 0xa0;
pub const BPF_MOV: u8 = 0xb0;
pub const BPF_ARSH: u8 = 0xc0;
pub const BPF_END: u8 = 0xd0;

// Jump operations.
pub const BPF_JA: u8 = 0x00;
pub const BPF_JEQ: u8 = 0x10;
pub const BPF_JGT: u8 = 0x20;
pub const BPF_JGE: u8 = 0x30;
pub const BPF_JSET: u8 = 0x40;
pub const BPF_JNE: u8 = 0x50;
pub const BPF_JSGT: u8 = 0x60;
pub const BPF_JSGE: u8 = 0x70;
pub const BPF_CALL: u8 = 0x80;
pub const BPF_EXIT: u8 = 0x90;
pub const BPF_JLT: u8 = 0xa0;
pub const BPF_JLE: u8 = 0xb0;
pub const BPF_JSLT: u8 = 0xc0;
pub const BPF_JSLE: u8 = 0xd0;

// Operand source.
pub const BPF_K: u8 = 0x00;
pub const BPF_X: u8 = 0x08;

/// `src_reg` of a 16-byte `ld_imm64` whose immediate is a map file descriptor.
pub const BPF_PSEUDO_MAP_FD: u8 = 1;
/// `src_reg` of a 16-byte `ld_imm64` whose immediate is a map fd and whose second half an offset into its value.
pub const BPF_PSEUDO_MAP_VALUE: u8 = 2;
/// `src_reg` of a `call` to a BPF function of the same program (`imm` = relative offset).
pub const BPF_PSEUDO_CALL: u8 = 1;
/// `src_reg` of an `ld_imm64` that loads the address of a BPF function (a callback), `imm` =
/// the function's first instruction relative to the one after the `ld_imm64`'s first half.
pub const BPF_PSEUDO_FUNC: u8 = 4;

/// Registers. r0: return value; r1-r5: arguments (clobbered by calls); r6-r9: callee-saved; r10: frame pointer.
pub const R0: u8 = 0;
pub const R1: u8 = 1;
pub const R2: u8 = 2;
pub const R3: u8 = 3;
pub const R4: u8 = 4;
pub const R5: u8 = 5;
pub const R6: u8 = 6;
pub const R7: u8 = 7;
pub const R8: u8 = 8;
pub const R9: u8 = 9;
pub const R10: u8 = 10;

/// `dst = imm` (64-bit).
pub const fn mov64_imm(dst: u8, imm: i32) -> Insn {
    Insn::new(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm)
}
/// `dst = src` (64-bit).
pub const fn mov64_reg(dst: u8, src: u8) -> Insn {
    Insn::new(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0)
}
/// `dst op= imm` (64-bit).
pub const fn alu64_imm(op: u8, dst: u8, imm: i32) -> Insn {
    Insn::new(BPF_ALU64 | op | BPF_K, dst, 0, 0, imm)
}
/// `dst op= src` (64-bit).
pub const fn alu64_reg(op: u8, dst: u8, src: u8) -> Insn {
    Insn::new(BPF_ALU64 | op | BPF_X, dst, src, 0, 0)
}
/// `dst = *(size *)(src + off)`.
pub const fn ldx_mem(size: u8, dst: u8, src: u8, off: i16) -> Insn {
    Insn::new(BPF_LDX | size | BPF_MEM, dst, src, off, 0)
}
/// `*(size *)(dst + off) = src`.
pub const fn stx_mem(size: u8, dst: u8, src: u8, off: i16) -> Insn {
    Insn::new(BPF_STX | size | BPF_MEM, dst, src, off, 0)
}
/// `*(size *)(dst + off) = imm`.
pub const fn st_mem(size: u8, dst: u8, off: i16, imm: i32) -> Insn {
    Insn::new(BPF_ST | size | BPF_MEM, dst, 0, off, imm)
}
/// `if dst op imm goto pc + off + 1`.
pub const fn jmp_imm(op: u8, dst: u8, imm: i32, off: i16) -> Insn {
    Insn::new(BPF_JMP | op | BPF_K, dst, 0, off, imm)
}
/// `if dst op src goto pc + off + 1`.
pub const fn jmp_reg(op: u8, dst: u8, src: u8, off: i16) -> Insn {
    Insn::new(BPF_JMP | op | BPF_X, dst, src, off, 0)
}
/// `goto pc + off + 1`.
pub const fn ja(off: i16) -> Insn {
    Insn::new(BPF_JMP | BPF_JA, 0, 0, off, 0)
}
/// Calls helper `id`; arguments in r1-r5, result in r0.
pub const fn call(helper_id: i32) -> Insn {
    Insn::new(BPF_JMP | BPF_CALL, 0, 0, 0, helper_id)
}
/// Calls the BPF function starting `offset + 1` instructions further (BPF-to-BPF call).
pub const fn pseudo_call(offset: i32) -> Insn {
    Insn::new(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, offset)
}
/// The two halves of `dst = &function`, the function starting `offset + 1` instructions
/// after the first half (callbacks of `bpf_for_each_map_elem`, `bpf_loop`).
pub const fn ld_pseudo_func(dst: u8, offset: i32) -> [Insn; 2] {
    [
        Insn::new(BPF_LD | BPF_DW | BPF_IMM, dst, BPF_PSEUDO_FUNC, 0, offset),
        Insn::new(0, 0, 0, 0, 0),
    ]
}
/// Returns r0.
pub const fn exit() -> Insn {
    Insn::new(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
}
/// The two halves of `dst = imm64`.
pub const fn ld_imm64(dst: u8, imm: u64) -> [Insn; 2] {
    [
        Insn::new(BPF_LD | BPF_DW | BPF_IMM, dst, 0, 0, imm as u32 as i32),
        Insn::new(0, 0, 0, 0, (imm >> 32) as u32 as i32),
    ]
}
/// The two halves of `dst = map_fd` (patched by the kernel into a map pointer).
pub const fn ld_map_fd(dst: u8, map_fd: i32) -> [Insn; 2] {
    [
        Insn::new(BPF_LD | BPF_DW | BPF_IMM, dst, BPF_PSEUDO_MAP_FD, 0, map_fd),
        Insn::new(0, 0, 0, 0, 0),
    ]
}

/// `lock *(size *)(dst + off) += src` (`BPF_ATOMIC` add without fetch); `size` is `BPF_W` or `BPF_DW`.
pub const fn atomic_add(size: u8, dst: u8, src: u8, off: i16) -> Insn {
    Insn::new(BPF_STX | size | BPF_ATOMIC, dst, src, off, BPF_ADD as i32)
}
/// `dst op= imm` (32-bit; the upper half of `dst` becomes zero).
pub const fn alu32_imm(op: u8, dst: u8, imm: i32) -> Insn {
    Insn::new(BPF_ALU | op | BPF_K, dst, 0, 0, imm)
}
/// `dst op= src` (32-bit; the upper half of `dst` becomes zero).
pub const fn alu32_reg(op: u8, dst: u8, src: u8) -> Insn {
    Insn::new(BPF_ALU | op | BPF_X, dst, src, 0, 0)
}
