//! A readable disassembler for `-d bpf`: one line per instruction in the kernel verifier's notation.

use crate::helpers::helper_display_name;
use crate::insn::*;

/// One disassembled instruction: its index and text (`r1 = *(u64 *)(r10 - 8)`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisassembledInsn {
    pub index: usize,
    pub text: String,
}

/// Disassembles a program. `map_name` turns the immediate of a map-loading `ld_imm64` (a map
/// index before relocation, a file descriptor after) into a name; `None` prints the number.
pub fn disassemble(
    insns: &[Insn],
    map_name: &dyn Fn(i32) -> Option<String>,
) -> Vec<DisassembledInsn> {
    let mut lines = Vec::with_capacity(insns.len());
    let mut index = 0;
    while let Some(insn) = insns.get(index) {
        let next = insns.get(index + 1);
        let (text, width) = disassemble_one(insn, next, index, map_name);
        lines.push(DisassembledInsn { index, text });
        index += width;
    }
    lines
}

/// Disassembles a whole program into text, one `  12: text` line per instruction.
pub fn disassemble_to_string(insns: &[Insn], map_name: &dyn Fn(i32) -> Option<String>) -> String {
    let mut text = String::new();
    for line in disassemble(insns, map_name) {
        text.push_str(&format!("{:>5}: {}\n", line.index, line.text));
    }
    text
}

fn size_name(code: u8) -> &'static str {
    match code & 0x18 {
        BPF_B => "u8",
        BPF_H => "u16",
        BPF_W => "u32",
        _ => "u64",
    }
}

fn memory_operand(code: u8, base: u8, off: i16) -> String {
    let sign = if off < 0 { '-' } else { '+' };
    format!(
        "*({} *)(r{base} {sign} {})",
        size_name(code),
        i32::from(off).unsigned_abs()
    )
}

fn alu_operator(op: u8) -> Option<&'static str> {
    Some(match op {
        BPF_ADD => "+=",
        BPF_SUB => "-=",
        BPF_MUL => "*=",
        BPF_DIV => "/=",
        BPF_OR => "|=",
        BPF_AND => "&=",
        BPF_LSH => "<<=",
        BPF_RSH => ">>=",
        BPF_MOD => "%=",
        BPF_XOR => "^=",
        BPF_MOV => "=",
        BPF_ARSH => "s>>=",
        _ => return None,
    })
}

fn jump_operator(op: u8) -> Option<&'static str> {
    Some(match op {
        BPF_JEQ => "==",
        BPF_JGT => ">",
        BPF_JGE => ">=",
        BPF_JSET => "&",
        BPF_JNE => "!=",
        BPF_JSGT => "s>",
        BPF_JSGE => "s>=",
        BPF_JLT => "<",
        BPF_JLE => "<=",
        BPF_JSLT => "s<",
        BPF_JSLE => "s<=",
        _ => return None,
    })
}

fn jump_target(index: usize, off: i32) -> String {
    let target = index as i64 + 1 + i64::from(off);
    format!("goto pc{off:+} <{target}>")
}

/// Returns the text and how many instruction slots it used (2 for `ld_imm64`).
fn disassemble_one(
    insn: &Insn,
    next: Option<&Insn>,
    index: usize,
    map_name: &dyn Fn(i32) -> Option<String>,
) -> (String, usize) {
    let class = insn.code & 0x07;
    let dst = insn.dst();
    let src = insn.src();
    let unknown = || format!("unknown opcode {:#04x}", insn.code);
    match class {
        BPF_ALU64 | BPF_ALU => {
            let prefix = if class == BPF_ALU64 { 'r' } else { 'w' };
            let op = insn.code & 0xf0;
            let from_register = insn.code & BPF_X != 0;
            if op == BPF_NEG {
                return (format!("{prefix}{dst} = -{prefix}{dst}"), 1);
            }
            if op == BPF_END {
                let order = if from_register { "be" } else { "le" };
                return (format!("r{dst} = {order}{} r{dst}", insn.imm), 1);
            }
            let Some(operator) = alu_operator(op) else {
                return (unknown(), 1);
            };
            let operand = if from_register {
                format!("{prefix}{src}")
            } else {
                format!("{}", insn.imm)
            };
            (format!("{prefix}{dst} {operator} {operand}"), 1)
        }
        BPF_LDX => (
            format!("r{dst} = {}", memory_operand(insn.code, src, insn.off)),
            1,
        ),
        BPF_STX if insn.code & 0xe0 == BPF_ATOMIC => {
            let operation = match insn.imm {
                0x00 => "+=",
                0x40 => "|=",
                0x50 => "&=",
                0xa0 => "^=",
                _ => {
                    return (
                        format!(
                            "atomic op {:#x} on {}",
                            insn.imm,
                            memory_operand(insn.code, dst, insn.off)
                        ),
                        1,
                    )
                }
            };
            (
                format!(
                    "lock {} {operation} r{src}",
                    memory_operand(insn.code, dst, insn.off)
                ),
                1,
            )
        }
        BPF_STX => (
            format!("{} = r{src}", memory_operand(insn.code, dst, insn.off)),
            1,
        ),
        BPF_ST => (
            format!(
                "{} = {}",
                memory_operand(insn.code, dst, insn.off),
                insn.imm
            ),
            1,
        ),
        BPF_LD if insn.code == BPF_LD | BPF_DW | BPF_IMM => {
            let high = next.map(|half| half.imm as u32 as u64).unwrap_or(0);
            let value = (high << 32) | u64::from(insn.imm as u32);
            let text = match src {
                BPF_PSEUDO_MAP_FD => {
                    let name = map_name(insn.imm).unwrap_or_else(|| format!("#{}", insn.imm));
                    format!("r{dst} = map[{name}] ll")
                }
                BPF_PSEUDO_MAP_VALUE => {
                    let name = map_name(insn.imm).unwrap_or_else(|| format!("#{}", insn.imm));
                    format!("r{dst} = map_value[{name}] + {high} ll")
                }
                BPF_PSEUDO_FUNC => format!(
                    "r{dst} = function <{}>",
                    index as i64 + 1 + i64::from(insn.imm)
                ),
                _ => format!("r{dst} = {value:#x} ll"),
            };
            (text, 2)
        }
        BPF_JMP | BPF_JMP32 => {
            let op = insn.code & 0xf0;
            match op {
                BPF_JA => (jump_target(index, i32::from(insn.off)), 1),
                BPF_CALL if src == BPF_PSEUDO_CALL => (
                    format!("call function <{}>", index as i64 + 1 + i64::from(insn.imm)),
                    1,
                ),
                BPF_CALL => (
                    format!("call {}#{}", helper_display_name(insn.imm), insn.imm),
                    1,
                ),
                BPF_EXIT => ("exit".to_string(), 1),
                _ => {
                    let Some(operator) = jump_operator(op) else {
                        return (unknown(), 1);
                    };
                    let prefix = if class == BPF_JMP { 'r' } else { 'w' };
                    let operand = if insn.code & BPF_X != 0 {
                        format!("{prefix}{src}")
                    } else {
                        format!("{}", insn.imm)
                    };
                    let target = jump_target(index, i32::from(insn.off));
                    (format!("if {prefix}{dst} {operator} {operand} {target}"), 1)
                }
            }
        }
        _ => (unknown(), 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_maps(_: i32) -> Option<String> {
        None
    }

    #[test]
    fn prints_common_instructions() {
        let mut insns = vec![
            ldx_mem(BPF_DW, R1, R10, -8),
            stx_mem(BPF_W, R10, R2, -16),
            st_mem(BPF_B, R10, -1, 0),
            alu64_imm(BPF_ADD, R1, 8),
            mov64_reg(R6, R1),
            call(14),
            jmp_imm(BPF_JEQ, R0, 0, 3),
            exit(),
        ];
        insns.extend(ld_map_fd(R1, 2));
        let names = |index: i32| (index == 2).then(|| ".ringbuf".to_string());
        let text = disassemble_to_string(&insns, &names);
        let expected = "    0: r1 = *(u64 *)(r10 - 8)\n    1: *(u32 *)(r10 - 16) = r2\n    2: *(u8 *)(r10 - 1) = 0\n    3: r1 += 8\n    4: r6 = r1\n    5: call bpf_get_current_pid_tgid#14\n    6: if r0 == 0 goto pc+3 <10>\n    7: exit\n    8: r1 = map[.ringbuf] ll\n";
        assert_eq!(text, expected);
    }

    #[test]
    fn wide_immediate_and_truncated_input() {
        let insns = ld_imm64(R3, 0x1_0000_0002);
        assert_eq!(disassemble(&insns, &no_maps)[0].text, "r3 = 0x100000002 ll");
        // A lone first half must not panic.
        assert_eq!(disassemble(&insns[..1], &no_maps)[0].text, "r3 = 0x2 ll");
    }
}
