//! USDT probes: the `.note.stapsdt` notes of an ELF file, their arguments, and `-l 'usdt:...'`.
//!
//! Each note (owner `stapsdt`, type 3) holds the probe's address, the link-time address of
//! `.stapsdt.base` (to undo prelinking), the semaphore's address (0 when none), then the
//! provider, the name and an argument string like `-4@%edi 8@-16(%rbp)` — one
//! `[-]SIZE@OPERAND` per argument, in the assembler's operand syntax. [`parse_stapsdt_notes`]
//! is pure; [`list_usdt`] resolves the file and names the probes as bpftrace does.

use object::elf;
use object::read::elf::{ElfFile, FileHeader, SectionHeader};
use object::Endianness;

use crate::elf::{
    attribute_to_path, corrupt_elf, elf_class, read_target, split_binary_and_rest, AddressMap,
    ElfClass,
};
use crate::glob::Glob;
use crate::ldcache::{has_wildcard, resolve_binaries};
use crate::{KernelFs, ProbeArg, ProbeEntry, ProbeError, Provider};

/// The note type of SystemTap SDT probe descriptors (`NT_STAPSDT`).
const NOTE_TYPE_STAPSDT: u32 = 3;
const NOTE_OWNER_STAPSDT: &[u8] = b"stapsdt";

/// Where a USDT argument's value is when the probe fires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UsdtArgumentLocation {
    /// In a register, named as written without `%` (`edi`, `rax`, `x0`); see
    /// [`x86_64_pt_regs_slot`] for where it is in `struct pt_regs`.
    Register { register: String },
    /// In memory at `symbol + offset + base_register + index_register * scale`; a missing
    /// part counts as zero. `symbol` appears with `%rip`-relative operands (`counter(%rip)`),
    /// where it names a variable of the same file.
    Memory {
        base_register: Option<String>,
        index_register: Option<String>,
        scale: u8,
        offset: i64,
        symbol: Option<String>,
    },
    /// A value known at compile time (`$-5`).
    Constant { value: i64 },
    /// An operand this parser does not understand; reading it must be refused.
    Unsupported,
}

/// One argument of a USDT probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsdtArgument {
    /// Size of the value in bytes: 1, 2, 4 or 8.
    pub size: u8,
    /// Whether the value must be sign-extended (a negative size in the note).
    pub signed: bool,
    pub location: UsdtArgumentLocation,
    /// The argument as written in the note (`-4@%edi`).
    pub text: String,
}

impl UsdtArgument {
    /// The C type of the value (`int32_t`, `uint64_t`), as listings show it.
    pub fn c_type(&self) -> String {
        format!(
            "{}int{}_t",
            if self.signed { "" } else { "u" },
            u32::from(self.size) * 8
        )
    }
}

/// One USDT probe location. A probe written twice in the source (or inlined) has several
/// locations: one `UsdtProbe` each, with the same provider and name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsdtProbe {
    pub provider: String,
    pub name: String,
    /// Virtual address of the probe's `nop`, adjusted for prelinking.
    pub address: u64,
    /// Where that `nop` is in the file: what the uprobe attaches to. `None` when no loaded
    /// segment maps the address (a corrupt note).
    pub file_offset: Option<u64>,
    /// The address of `.stapsdt.base` recorded in the note (0 in old notes).
    pub base_address: u64,
    /// Virtual address of the probe's semaphore (a `u16` counter a tracer increments to
    /// enable the probe), adjusted for prelinking; `None` when the probe has none.
    pub semaphore_address: Option<u64>,
    /// The semaphore's file offset: the kernel's `ref_ctr_offset` for uprobes.
    pub semaphore_file_offset: Option<u64>,
    /// The argument string as written in the note.
    pub arguments_text: String,
    pub arguments: Vec<UsdtArgument>,
}

impl UsdtProbe {
    /// `PROVIDER:NAME`.
    pub fn qualified_name(&self) -> String {
        format!("{}:{}", self.provider, self.name)
    }
}

/// Where an x86-64 register is in the kernel's `struct pt_regs`, which is what a uprobe sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PtRegsSlot {
    /// Byte offset of the 64-bit register in `struct pt_regs`.
    pub offset: u32,
    /// Bytes to skip inside it: 1 for `%ah`, `%bh`, `%ch`, `%dh`; 0 otherwise.
    pub byte_shift: u8,
    /// Width of the named register in bytes (`%eax` → 4, `%al` → 1).
    pub width: u8,
}

/// The `struct pt_regs` slot of an x86-64 register name (with or without `%`), or `None`
/// for names that are not general-purpose registers (or `%rip`/`%rsp`).
pub fn x86_64_pt_regs_slot(register: &str) -> Option<PtRegsSlot> {
    // (64-bit name, 32-bit, 16-bit, low byte, pt_regs offset), from arch/x86/include/asm/ptrace.h.
    const REGISTERS: &[(&str, &str, &str, &str, u32)] = &[
        ("r15", "r15d", "r15w", "r15b", 0),
        ("r14", "r14d", "r14w", "r14b", 8),
        ("r13", "r13d", "r13w", "r13b", 16),
        ("r12", "r12d", "r12w", "r12b", 24),
        ("rbp", "ebp", "bp", "bpl", 32),
        ("rbx", "ebx", "bx", "bl", 40),
        ("r11", "r11d", "r11w", "r11b", 48),
        ("r10", "r10d", "r10w", "r10b", 56),
        ("r9", "r9d", "r9w", "r9b", 64),
        ("r8", "r8d", "r8w", "r8b", 72),
        ("rax", "eax", "ax", "al", 80),
        ("rcx", "ecx", "cx", "cl", 88),
        ("rdx", "edx", "dx", "dl", 96),
        ("rsi", "esi", "si", "sil", 104),
        ("rdi", "edi", "di", "dil", 112),
        ("rip", "eip", "ip", "", 128),
        ("rsp", "esp", "sp", "spl", 152),
    ];
    const HIGH_BYTES: &[(&str, u32)] = &[("ah", 80), ("ch", 88), ("dh", 96), ("bh", 40)];
    let name = register.strip_prefix('%').unwrap_or(register);
    if let Some((_, offset)) = HIGH_BYTES.iter().find(|(high, _)| *high == name) {
        return Some(PtRegsSlot {
            offset: *offset,
            byte_shift: 1,
            width: 1,
        });
    }
    REGISTERS
        .iter()
        .find_map(|(full, double, word, byte, offset)| {
            let width = if name == *full {
                8
            } else if name == *double {
                4
            } else if name == *word {
                2
            } else if !byte.is_empty() && name == *byte {
                1
            } else {
                return None;
            };
            Some(PtRegsSlot {
                offset: *offset,
                byte_shift: 0,
                width,
            })
        })
}

/// Parses a signed number as assemblers write them: `-16`, `0x10`, `-0x10`.
fn parse_signed_number(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let magnitude = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => i64::from_str_radix(hex, 16).ok()?,
        None if !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit()) => {
            digits.parse().ok()?
        }
        None => return None,
    };
    Some(if negative {
        magnitude.checked_neg()?
    } else {
        magnitude
    })
}

fn is_identifier(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|byte| {
            byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'.' || byte == b'$'
        })
        && !text.as_bytes().first().is_some_and(u8::is_ascii_digit)
}

/// `symbol`, `symbol+8`, `symbol-8`, `-16`, `0x10` or empty: the displacement before `(`.
fn parse_displacement(text: &str) -> Option<(Option<String>, i64)> {
    if text.is_empty() {
        return Some((None, 0));
    }
    if let Some(number) = parse_signed_number(text) {
        return Some((None, number));
    }
    // Split a trailing +N / -N off a symbol; symbol names cannot hold '+' or '-'.
    let split_at = text.rfind(['+', '-']).filter(|position| *position > 0);
    let (symbol, offset) = match split_at {
        Some(position) => {
            let (symbol, offset_text) = text.split_at(position);
            (symbol, parse_signed_number(offset_text)?)
        }
        None => (text, 0),
    };
    is_identifier(symbol).then(|| (Some(symbol.to_string()), offset))
}

fn x86_register_name(text: &str) -> Option<String> {
    let name = text.trim().strip_prefix('%')?;
    (!name.is_empty() && name.bytes().all(|byte| byte.is_ascii_alphanumeric()))
        .then(|| name.to_string())
}

/// x86 AT&T operands: `%reg`, `$imm`, `disp(%base,%index,scale)`, `symbol(%rip)`, `disp`.
fn parse_x86_operand(operand: &str) -> Option<UsdtArgumentLocation> {
    if let Some(register) = operand.strip_prefix('%') {
        return x86_register_name(operand)
            .filter(|_| !register.is_empty())
            .map(|register| UsdtArgumentLocation::Register { register });
    }
    if let Some(immediate) = operand.strip_prefix('$') {
        return parse_signed_number(immediate)
            .map(|value| UsdtArgumentLocation::Constant { value });
    }
    let (displacement_text, inside) = match operand.find('(') {
        Some(open) => {
            let inside = operand.get(open + 1..)?.strip_suffix(')')?;
            (operand.get(..open)?, Some(inside))
        }
        None => (operand, None),
    };
    let (symbol, offset) = parse_displacement(displacement_text)?;
    let (mut base_register, mut index_register, mut scale) = (None, None, 1u8);
    if let Some(inside) = inside {
        let mut parts = inside.split(',');
        let base = parts.next().unwrap_or_default().trim();
        if !base.is_empty() {
            base_register = Some(x86_register_name(base)?);
        }
        if let Some(index) = parts.next() {
            index_register = Some(x86_register_name(index)?);
        }
        if let Some(scale_text) = parts.next() {
            scale = scale_text
                .trim()
                .parse()
                .ok()
                .filter(|value| matches!(value, 1 | 2 | 4 | 8))?;
        }
        if parts.next().is_some() {
            return None;
        }
    } else if symbol.is_none() && displacement_text.is_empty() {
        return None;
    }
    Some(UsdtArgumentLocation::Memory {
        base_register,
        index_register,
        scale,
        offset,
        symbol,
    })
}

fn is_aarch64_register(text: &str) -> bool {
    matches!(text, "sp" | "fp" | "lr" | "xzr" | "wzr")
        || (text.len() >= 2
            && matches!(text.as_bytes().first(), Some(b'x' | b'w'))
            && text
                .get(1..)
                .is_some_and(|digits| digits.bytes().all(|byte| byte.is_ascii_digit())))
}

/// aarch64 operands: `x0`, `w1`, `[sp, 16]`, `[x2]`, `-5`.
fn parse_aarch64_operand(operand: &str) -> Option<UsdtArgumentLocation> {
    if is_aarch64_register(operand) {
        return Some(UsdtArgumentLocation::Register {
            register: operand.to_string(),
        });
    }
    if let Some(inside) = operand
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
    {
        let mut parts = inside.split(',').map(str::trim);
        let base = parts.next().filter(|base| is_aarch64_register(base))?;
        let offset = match parts.next() {
            Some(offset_text) => parse_signed_number(offset_text.trim_start_matches('#'))?,
            None => 0,
        };
        if parts.next().is_some() {
            return None;
        }
        return Some(UsdtArgumentLocation::Memory {
            base_register: Some(base.to_string()),
            index_register: None,
            scale: 1,
            offset,
            symbol: None,
        });
    }
    parse_signed_number(operand.trim_start_matches('#'))
        .map(|value| UsdtArgumentLocation::Constant { value })
}

/// Parses one `[-]SIZE@OPERAND` argument. Notes without `SIZE@` (very old sdt.h) mean a
/// pointer-sized unsigned value. Unknown operands give [`UsdtArgumentLocation::Unsupported`].
pub fn parse_usdt_argument(text: &str, address_size: u8) -> UsdtArgument {
    let (size, signed, operand) = match text.split_once('@') {
        Some((size_text, operand)) => {
            let (signed, digits) = match size_text.strip_prefix('-') {
                Some(digits) => (true, digits),
                None => (false, size_text),
            };
            match digits.parse::<u8>() {
                Ok(size) => (size, signed, operand),
                Err(_) => (0, signed, operand),
            }
        }
        None => (address_size, false, text),
    };
    let location = if !matches!(size, 1 | 2 | 4 | 8) {
        UsdtArgumentLocation::Unsupported
    } else if operand.starts_with(['%', '$']) || operand.contains("(%") {
        parse_x86_operand(operand).unwrap_or(UsdtArgumentLocation::Unsupported)
    } else {
        parse_aarch64_operand(operand)
            .or_else(|| parse_x86_operand(operand))
            .unwrap_or(UsdtArgumentLocation::Unsupported)
    };
    UsdtArgument {
        size: size.max(1),
        signed,
        location,
        text: text.to_string(),
    }
}

/// Splits an argument string into arguments. Arguments are separated by spaces, but aarch64
/// memory operands hold one (`[sp, 16]`), so spaces inside brackets do not separate.
fn split_arguments(text: &str) -> Vec<&str> {
    let mut arguments = Vec::new();
    let mut depth = 0usize;
    let mut start = None;
    for (index, character) in text.char_indices() {
        match character {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if character.is_whitespace() && depth == 0 {
            if let Some(begin) = start.take() {
                arguments.push(text.get(begin..index).unwrap_or_default());
            }
        } else if start.is_none() {
            start = Some(index);
        }
    }
    if let Some(begin) = start {
        arguments.push(text.get(begin..).unwrap_or_default());
    }
    arguments
}

fn read_address(bytes: &[u8], offset: usize, size: usize, endian: Endianness) -> Option<u64> {
    let field = bytes.get(offset..offset.checked_add(size)?)?;
    let mut value = 0u64;
    match endian {
        Endianness::Little => {
            for byte in field.iter().rev() {
                value = (value << 8) | u64::from(*byte);
            }
        }
        Endianness::Big => {
            for byte in field {
                value = (value << 8) | u64::from(*byte);
            }
        }
    }
    Some(value)
}

/// Splits the NUL-terminated strings at the start of `bytes`.
fn next_c_string(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = bytes.iter().position(|byte| *byte == 0)?;
    Some((bytes.get(..end)?, bytes.get(end + 1..)?))
}

fn parse_notes_generic<Elf: FileHeader<Endian = Endianness>>(
    bytes: &[u8],
    class: ElfClass,
) -> Result<Vec<UsdtProbe>, ProbeError> {
    let file = ElfFile::<Elf>::parse(bytes).map_err(corrupt_elf)?;
    let endian = file.endian();
    let sections = file.elf_section_table();
    let map = AddressMap::from_elf(&file);
    // Prelinking moves the file after linking but leaves notes alone: the gap between the
    // recorded and the actual `.stapsdt.base` address is how far everything moved.
    let actual_base = sections
        .section_by_name(endian, b".stapsdt.base")
        .map(|(_, section)| -> u64 { section.sh_addr(endian).into() });
    let address_size = class.address_size();
    let mut probes = Vec::new();
    for (index, section) in sections.enumerate() {
        if section.sh_type(endian) != elf::SHT_NOTE {
            continue;
        }
        if sections.section_name(endian, section).ok() != Some(b".note.stapsdt".as_slice()) {
            continue;
        }
        let Some(mut notes) = section.notes(endian, bytes).map_err(corrupt_elf)? else {
            continue;
        };
        while let Some(note) = notes.next().map_err(corrupt_elf)? {
            if note.name() != NOTE_OWNER_STAPSDT || note.n_type(endian).0 != NOTE_TYPE_STAPSDT {
                continue;
            }
            let description = note.desc();
            let corrupt = || {
                crate::elf::bad_elf(format!(
                    "corrupt USDT note in section {} (.note.stapsdt): descriptor too short or \
                     not NUL-terminated",
                    index.0
                ))
            };
            let pc = read_address(description, 0, address_size, endian).ok_or_else(corrupt)?;
            let base_address = read_address(description, address_size, address_size, endian)
                .ok_or_else(corrupt)?;
            let semaphore = read_address(description, 2 * address_size, address_size, endian)
                .ok_or_else(corrupt)?;
            let strings = description.get(3 * address_size..).ok_or_else(corrupt)?;
            let (provider, rest) = next_c_string(strings).ok_or_else(corrupt)?;
            let (name, rest) = next_c_string(rest).ok_or_else(corrupt)?;
            let (arguments_text, _) = next_c_string(rest).unwrap_or((rest, &[]));
            let adjustment = match actual_base {
                Some(actual) if base_address != 0 => actual.wrapping_sub(base_address),
                _ => 0,
            };
            let address = pc.wrapping_add(adjustment);
            let semaphore_address = (semaphore != 0).then(|| semaphore.wrapping_add(adjustment));
            let arguments_text = String::from_utf8_lossy(arguments_text).into_owned();
            let arguments = split_arguments(&arguments_text)
                .into_iter()
                .map(|argument| parse_usdt_argument(argument, address_size as u8))
                .collect();
            probes.push(UsdtProbe {
                provider: String::from_utf8_lossy(provider).into_owned(),
                name: String::from_utf8_lossy(name).into_owned(),
                address,
                file_offset: map.file_offset(address),
                base_address,
                semaphore_address,
                semaphore_file_offset: semaphore_address
                    .and_then(|address| map.file_offset(address)),
                arguments_text,
                arguments,
            });
        }
    }
    Ok(probes)
}

/// Reads every USDT probe location of an ELF file, in note order. A file without
/// `.note.stapsdt` has none (an empty list, not an error).
pub fn parse_stapsdt_notes(bytes: &[u8]) -> Result<Vec<UsdtProbe>, ProbeError> {
    match elf_class(bytes)? {
        ElfClass::Elf32 => {
            parse_notes_generic::<elf::FileHeader32<Endianness>>(bytes, ElfClass::Elf32)
        }
        ElfClass::Elf64 => {
            parse_notes_generic::<elf::FileHeader64<Endianness>>(bytes, ElfClass::Elf64)
        }
    }
}

/// The USDT probes of the file at `path` (already resolved).
pub fn load_usdt_probes(fs: &KernelFs, path: &str) -> Result<Vec<UsdtProbe>, ProbeError> {
    let bytes = read_target(fs, path)?;
    parse_stapsdt_notes(&bytes).map_err(|error| attribute_to_path(error, path))
}

/// Every location of the USDT probes `[PROVIDER:]NAME` in `path_or_lib` (provider and name are
/// glob patterns: `*` alone matches every probe), for attaching: the resolved path and the locations (each one needs its own uprobe, with the
/// semaphore's file offset as `ref_ctr_offset`). Without a provider, every provider's probe of
/// that name matches, as in bpftrace's `usdt:BINARY:NAME`.
pub fn resolve_usdt(
    fs: &KernelFs,
    path_or_lib: &str,
    provider: Option<&str>,
    name: &str,
) -> Result<(String, Vec<UsdtProbe>), ProbeError> {
    let path = crate::ldcache::resolve_binary(fs, path_or_lib)?;
    let probes = load_usdt_probes(fs, &path)?;
    if probes.is_empty() {
        return Err(ProbeError::BadFile {
            path,
            reason: "has no USDT probes (no .note.stapsdt section); it was built without \
                     sys/sdt.h probes, or they are in one of the libraries it loads"
                .to_string(),
        });
    }
    // Provider and name may be glob patterns (`usdt:BINARY:PROVIDER:*`, `usdt:BINARY:*`).
    let name_pattern = crate::glob::Glob::new(name)?;
    let provider_pattern = provider.map(crate::glob::Glob::new).transpose()?;
    let wanted = |probe: &UsdtProbe| {
        name_pattern.matches(&probe.name)
            && provider_pattern
                .as_ref()
                .is_none_or(|pattern| pattern.matches(&probe.provider))
    };
    let matching: Vec<UsdtProbe> = probes
        .iter()
        .filter(|probe| wanted(probe))
        .cloned()
        .collect();
    if matching.is_empty() {
        let qualified: Vec<String> = probes.iter().map(UsdtProbe::qualified_name).collect();
        let wanted_name = match provider {
            Some(provider) => format!("{provider}:{name}"),
            None => name.to_string(),
        };
        let suggestion = crate::elf::closest_name(
            &wanted_name,
            if provider.is_some() {
                qualified
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .into_iter()
            } else {
                probes
                    .iter()
                    .map(|probe| probe.name.as_str())
                    .collect::<Vec<_>>()
                    .into_iter()
            },
        )
        .map(|close| format!("; did you mean '{close}'?"))
        .unwrap_or_default();
        return Err(ProbeError::BadFile {
            path: path.clone(),
            reason: format!(
                "no USDT probe '{wanted_name}'{suggestion} (list them with: bpfscope -l 'usdt:{path}:*')"
            ),
        });
    }
    Ok((path, matching))
}

/// The `-lv` lines of a probe: one per argument, `TYPE argN` (e.g. `int32_t arg0`).
pub fn usdt_probe_args(probe: &UsdtProbe) -> Vec<ProbeArg> {
    probe
        .arguments
        .iter()
        .enumerate()
        .map(|(index, argument)| ProbeArg {
            ty: argument.c_type(),
            name: format!("arg{index}"),
            offset: None,
            size: Some(u32::from(argument.size)),
            signed: Some(argument.signed),
        })
        .collect()
}

/// Lists the USDT probes of `target_pattern` = `BINARY:[PROVIDER:]NAME` (globs in every part;
/// a missing name means every probe), named as bpftrace does: target `PATH:PROVIDER:NAME`,
/// e.g. `usdt:/usr/bin/gcc-12:libstdcxx:throw`. `BINARY` may be a path (with wildcards), a
/// library name or a program name. A probe with several locations is listed once.
/// With `verbose`, each entry carries one `argN` per argument with its C type.
pub fn list_usdt(
    fs: &KernelFs,
    target_pattern: &str,
    verbose: bool,
) -> Result<Vec<ProbeEntry>, ProbeError> {
    let (binary_pattern, rest) = split_binary_and_rest(target_pattern);
    let rest = rest.filter(|rest| !rest.is_empty()).unwrap_or("*");
    let (provider_pattern, name_pattern) = match rest.split_once(':') {
        Some((provider, name)) => (provider, if name.is_empty() { "*" } else { name }),
        None => ("*", rest),
    };
    let provider_glob = Glob::new(provider_pattern)?;
    let name_glob = Glob::new(name_pattern)?;
    let several_files = has_wildcard(&binary_pattern);
    let mut entries: Vec<ProbeEntry> = Vec::new();
    for binary in resolve_binaries(fs, &binary_pattern)? {
        let probes = match load_usdt_probes(fs, &binary) {
            Ok(probes) => probes,
            Err(_) if several_files => continue,
            Err(error) => return Err(error),
        };
        for probe in probes {
            if !provider_glob.matches(&probe.provider) || !name_glob.matches(&probe.name) {
                continue;
            }
            let mut entry = ProbeEntry::new(
                Provider::Usdt,
                format!("{binary}:{}:{}", probe.provider, probe.name),
            );
            if verbose {
                entry.args = usdt_probe_args(&probe);
            }
            entries.push(entry);
        }
    }
    // Stable sort keeps the first location's arguments when duplicates are removed.
    entries.sort_by(|left, right| left.target.cmp(&right.target));
    entries.dedup_by(|later, earlier| later.target == earlier.target);
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixture_directory() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test_data/elf")
    }

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(fixture_directory().join(name)).unwrap()
    }

    fn register(name: &str) -> UsdtArgumentLocation {
        UsdtArgumentLocation::Register {
            register: name.to_string(),
        }
    }

    fn find<'a>(probes: &'a [UsdtProbe], name: &str) -> &'a UsdtProbe {
        probes.iter().find(|probe| probe.name == name).unwrap()
    }

    #[test]
    fn pie_fixture_notes() {
        // Expected values from `readelf -n usdt_sample` and `readelf -SW usdt_sample`
        // (.probes at 0x4020, file offset 0x3020).
        let probes = parse_stapsdt_notes(&fixture("usdt_sample")).unwrap();
        assert_eq!(probes.len(), 4);
        let add = find(&probes, "add_entry");
        assert_eq!(add.provider, "sample");
        assert_eq!(
            (add.address, add.file_offset, add.base_address),
            (0x115a, Some(0x115a), 0x200e)
        );
        assert_eq!(
            (add.semaphore_address, add.semaphore_file_offset),
            (Some(0x4024), Some(0x3024))
        );
        assert_eq!(add.arguments_text, "-4@%edi -8@%rsi");
        assert_eq!(add.arguments.len(), 2);
        assert_eq!((add.arguments[0].size, add.arguments[0].signed), (4, true));
        assert_eq!(add.arguments[0].location, register("edi"));
        assert_eq!(add.arguments[1].location, register("rsi"));
        assert_eq!(add.arguments[1].c_type(), "int64_t");

        let helper = find(&probes, "helper");
        assert_eq!(helper.arguments_text, "8@%rdi -4@%eax -4@$-5");
        assert_eq!(
            (helper.arguments[0].signed, helper.arguments[0].c_type()),
            (false, "uint64_t".to_string())
        );
        assert_eq!(
            helper.arguments[2].location,
            UsdtArgumentLocation::Constant { value: -5 }
        );

        let start = find(&probes, "request__start");
        assert_eq!(start.semaphore_file_offset, Some(0x3026));
        assert_eq!(
            start.arguments[1].location,
            UsdtArgumentLocation::Memory {
                base_register: Some("rip".to_string()),
                index_register: None,
                scale: 1,
                offset: 0,
                symbol: Some("global_counter".to_string()),
            }
        );
        assert_eq!(find(&probes, "tick").provider, "other");
    }

    #[test]
    fn non_pie_fixture_offsets_differ_from_addresses() {
        let probes = parse_stapsdt_notes(&fixture("usdt_sample.nopie")).unwrap();
        let add = find(&probes, "add_entry");
        assert_eq!((add.address, add.file_offset), (0x401147, Some(0x1147)));
        assert_eq!(
            (add.semaphore_address, add.semaphore_file_offset),
            (Some(0x404024), Some(0x3024))
        );
        // Stripping keeps the notes: they are what tracers need.
        assert_eq!(
            parse_stapsdt_notes(&fixture("usdt_sample.stripped"))
                .unwrap()
                .len(),
            4
        );
    }

    #[test]
    fn prelink_adjustment_moves_addresses() {
        // Rewrite the notes' recorded base (0x200e) to 0x100e, as if the file had been moved
        // by 0x1000 after linking: every probe address must move back by 0x1000.
        let mut bytes = fixture("usdt_sample");
        let recorded = 0x200e_u64.to_le_bytes();
        let mut patched = 0;
        let mut position = 0;
        while let Some(found) = bytes[position..]
            .windows(8)
            .position(|window| window == recorded)
        {
            let at = position + found;
            // Only inside .note.stapsdt (offset 0x3050, size 0x144): the base field of each note.
            if (0x3050..0x3050 + 0x144).contains(&at) {
                bytes[at..at + 8].copy_from_slice(&0x100e_u64.to_le_bytes());
                patched += 1;
            }
            position = at + 1;
        }
        assert_eq!(patched, 4);
        let probes = parse_stapsdt_notes(&bytes).unwrap();
        let add = find(&probes, "add_entry");
        assert_eq!((add.base_address, add.address), (0x100e, 0x115a + 0x1000));
        assert_eq!(add.semaphore_address, Some(0x4024 + 0x1000));
    }

    #[test]
    fn argument_operands() {
        let memory = |base: Option<&str>,
                      index: Option<&str>,
                      scale: u8,
                      offset: i64,
                      symbol: Option<&str>| {
            UsdtArgumentLocation::Memory {
                base_register: base.map(str::to_string),
                index_register: index.map(str::to_string),
                scale,
                offset,
                symbol: symbol.map(str::to_string),
            }
        };
        let cases = [
            (
                "8@-16(%rbp)",
                8,
                false,
                memory(Some("rbp"), None, 1, -16, None),
            ),
            ("-4@(%rax)", 4, true, memory(Some("rax"), None, 1, 0, None)),
            (
                "8@0x10(%rax,%rbx,8)",
                8,
                false,
                memory(Some("rax"), Some("rbx"), 8, 16, None),
            ),
            (
                "4@mp_+44(%rip)",
                4,
                false,
                memory(Some("rip"), None, 1, 44, Some("mp_")),
            ),
            (
                "8@-80(%rbx)",
                8,
                false,
                memory(Some("rbx"), None, 1, -80, None),
            ),
            ("1@%al", 1, false, register("al")),
            (
                "-2@$0x7f",
                2,
                true,
                UsdtArgumentLocation::Constant { value: 0x7f },
            ),
            ("8@x0", 8, false, register("x0")),
            (
                "-4@[sp, 12]",
                4,
                true,
                memory(Some("sp"), None, 1, 12, None),
            ),
            ("4@[x1]", 4, false, memory(Some("x1"), None, 1, 0, None)),
            ("-4@5", 4, true, UsdtArgumentLocation::Constant { value: 5 }),
            ("%rdi", 8, false, register("rdi")),
            ("3@%rdi", 3, false, UsdtArgumentLocation::Unsupported),
            ("8@%", 8, false, UsdtArgumentLocation::Unsupported),
            ("8@(%rax", 8, false, UsdtArgumentLocation::Unsupported),
            (
                "8@1(%rax,%rbx,3)",
                8,
                false,
                UsdtArgumentLocation::Unsupported,
            ),
            ("x@%rdi", 1, false, UsdtArgumentLocation::Unsupported),
        ];
        for (text, size, signed, location) in cases {
            let argument = parse_usdt_argument(text, 8);
            assert_eq!(
                (argument.size, argument.signed, &argument.location),
                (size, signed, &location),
                "{text}"
            );
        }
        assert_eq!(
            split_arguments("-4@[sp, 12]  8@x0 "),
            vec!["-4@[sp, 12]", "8@x0"]
        );
        assert_eq!(split_arguments(""), Vec::<&str>::new());
    }

    #[test]
    fn pt_regs_slots() {
        assert_eq!(
            x86_64_pt_regs_slot("%rdi"),
            Some(PtRegsSlot {
                offset: 112,
                byte_shift: 0,
                width: 8
            })
        );
        assert_eq!(
            x86_64_pt_regs_slot("edi"),
            Some(PtRegsSlot {
                offset: 112,
                byte_shift: 0,
                width: 4
            })
        );
        assert_eq!(
            x86_64_pt_regs_slot("ah"),
            Some(PtRegsSlot {
                offset: 80,
                byte_shift: 1,
                width: 1
            })
        );
        assert_eq!(
            x86_64_pt_regs_slot("r9b"),
            Some(PtRegsSlot {
                offset: 64,
                byte_shift: 0,
                width: 1
            })
        );
        assert_eq!(
            x86_64_pt_regs_slot("rip").map(|slot| slot.offset),
            Some(128)
        );
        assert_eq!(x86_64_pt_regs_slot("xmm0"), None);
    }

    #[test]
    fn listing_fixture_probes() {
        let fs = KernelFs::rooted(fixture_directory());
        let names = |pattern: &str| -> Vec<String> {
            list_usdt(&fs, pattern, false)
                .unwrap()
                .iter()
                .map(ProbeEntry::full_name)
                .collect()
        };
        assert_eq!(
            names("/usdt_sample:*"),
            [
                "usdt:/usdt_sample:other:tick",
                "usdt:/usdt_sample:sample:add_entry",
                "usdt:/usdt_sample:sample:helper",
                "usdt:/usdt_sample:sample:request__start"
            ]
        );
        assert_eq!(names("/usdt_sample"), names("/usdt_sample:*:*"));
        assert_eq!(
            names("/usdt_sample:sample:h*"),
            ["usdt:/usdt_sample:sample:helper"]
        );
        assert_eq!(
            names("/usdt_sample:other:*"),
            ["usdt:/usdt_sample:other:tick"]
        );
        assert_eq!(names("/usdt_sample*:tick").len(), 3);
        let verbose = list_usdt(&fs, "/usdt_sample:sample:add_entry", true).unwrap();
        let args: Vec<(String, String)> = verbose[0]
            .args
            .iter()
            .map(|arg| (arg.ty.clone(), arg.name.clone()))
            .collect();
        assert_eq!(
            args,
            [
                ("int32_t".to_string(), "arg0".to_string()),
                ("int64_t".to_string(), "arg1".to_string())
            ]
        );
        let error = list_usdt(&fs, "/usdt_sample.c:*", false)
            .unwrap_err()
            .to_string();
        assert!(error.contains("not an ELF"), "{error}");
        let error = list_usdt(&fs, "/missing:*", false).unwrap_err().to_string();
        assert!(error.contains("no such file"), "{error}");
    }

    #[test]
    fn resolving_probes_for_attach() {
        let fs = KernelFs::rooted(fixture_directory());
        let (path, probes) =
            resolve_usdt(&fs, "/usdt_sample.nopie", Some("sample"), "add_entry").unwrap();
        assert_eq!(path, "/usdt_sample.nopie");
        assert_eq!(probes.len(), 1);
        assert_eq!(
            (probes[0].file_offset, probes[0].semaphore_file_offset),
            (Some(0x1147), Some(0x3024))
        );
        assert_eq!(
            resolve_usdt(&fs, "/usdt_sample", None, "tick").unwrap().1[0].provider,
            "other"
        );
        let error = resolve_usdt(&fs, "/usdt_sample", Some("sample"), "add_entri")
            .unwrap_err()
            .to_string();
        assert!(error.contains("did you mean 'sample:add_entry'"), "{error}");
        let error = resolve_usdt(&fs, "/usdt_sample", None, "tik")
            .unwrap_err()
            .to_string();
        assert!(error.contains("did you mean 'tick'"), "{error}");
        let error = resolve_usdt(&fs, "/usdt_sample", Some("other"), "helper")
            .unwrap_err()
            .to_string();
        assert!(error.contains("no USDT probe 'other:helper'"), "{error}");
    }

    #[test]
    fn resolving_wildcard_probes() {
        let fs = KernelFs::rooted(fixture_directory());
        let names = |provider: Option<&str>, name: &str| -> Vec<String> {
            let mut names: Vec<String> = resolve_usdt(&fs, "/usdt_sample", provider, name)
                .unwrap()
                .1
                .iter()
                .map(UsdtProbe::qualified_name)
                .collect();
            names.sort();
            names
        };
        assert_eq!(
            names(Some("sample"), "*"),
            ["sample:add_entry", "sample:helper", "sample:request__start"]
        );
        assert_eq!(
            names(None, "*"),
            [
                "other:tick",
                "sample:add_entry",
                "sample:helper",
                "sample:request__start"
            ]
        );
        assert_eq!(names(Some("oth*"), "t?ck"), ["other:tick"]);
        assert_eq!(
            names(None, "*_*"),
            ["sample:add_entry", "sample:request__start"]
        );
        let error = resolve_usdt(&fs, "/usdt_sample", Some("sample"), "zz*")
            .unwrap_err()
            .to_string();
        assert!(error.contains("no USDT probe 'sample:zz*'"), "{error}");
    }

    #[test]
    fn truncated_and_garbage_files_are_errors_not_panics() {
        let bytes = fixture("usdt_sample");
        let mut errors = 0;
        for length in (0..bytes.len()).step_by(5) {
            if parse_stapsdt_notes(&bytes[..length]).is_err() {
                errors += 1;
            }
        }
        assert!(errors > 0);
        // Cutting inside the notes section (offset 0x3050..0x3194) must be an error, since the
        // section header table after it is gone too; corrupt notes themselves must not panic.
        let mut state = 0x9e37_79b9_u32;
        for _ in 0..500 {
            let mut damaged = bytes.clone();
            for _ in 0..4 {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let position = 0x3050 + (state as usize >> 8) % 0x144;
                damaged[position] = (state >> 24) as u8;
            }
            let _ = parse_stapsdt_notes(&damaged);
        }
        assert!(parse_stapsdt_notes(b"\x7fELF\x02\x01\x01").is_err());
    }

    #[test]
    fn live_gcc_or_libstdcxx_has_libstdcxx_probes() {
        let fs = KernelFs::live();
        let candidates = [
            "/usr/bin/gcc-12",
            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
        ];
        let Some(path) = candidates.iter().find(|path| fs.exists(path)) else {
            println!("skipped: neither gcc-12 nor libstdc++.so.6 is installed");
            return;
        };
        let entries = list_usdt(&fs, &format!("{path}:*"), true).unwrap();
        let names: Vec<String> = entries.iter().map(ProbeEntry::full_name).collect();
        for probe in ["catch", "rethrow", "throw"] {
            assert!(
                names.contains(&format!("usdt:{path}:libstdcxx:{probe}")),
                "{names:?}"
            );
        }
        let throw = entries
            .iter()
            .find(|entry| entry.target.ends_with(":throw"))
            .unwrap();
        assert_eq!(throw.args.len(), 2);
        // Every location's file offset is inside the file.
        let size = std::fs::metadata(path).unwrap().len();
        for probe in load_usdt_probes(&fs, path).unwrap() {
            assert!(
                probe.file_offset.is_some_and(|offset| offset < size),
                "{probe:?}"
            );
        }
    }

    #[test]
    fn live_libc_notes_parse() {
        let fs = KernelFs::live();
        let Ok(libc) = crate::ldcache::resolve_binary(&fs, "libc.so.6") else {
            println!("skipped: no libc.so.6 found");
            return;
        };
        let probes = load_usdt_probes(&fs, &libc).unwrap();
        // Debian 12's glibc is built without SDT probes; other distributions' has dozens.
        println!("{libc}: {} USDT probe locations", probes.len());
        for probe in &probes {
            assert!(!probe.provider.is_empty() && !probe.name.is_empty());
        }
    }
}
