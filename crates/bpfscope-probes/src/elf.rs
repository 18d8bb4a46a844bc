//! Function symbols of ELF files and their file offsets, for listing and attaching uprobes.
//!
//! [`function_symbols`] is a pure parser over the file's bytes. Uprobes attach at *file offsets*,
//! not virtual addresses, so every symbol carries the offset obtained through the `PT_LOAD`
//! segment that maps it. [`list_uprobes`] and [`resolve_uprobe`] add the file-system side: target
//! resolution (`libc` → `/lib/x86_64-linux-gnu/libc.so.6`), separate debug files, and errors
//! that say what to do.

use object::elf;
use object::read::elf::{ElfFile, FileHeader, ProgramHeader, SectionHeader, Sym};
use object::{Endianness, Object};

use crate::glob::Glob;
use crate::ldcache::{has_wildcard, resolve_binaries, resolve_binary};
use crate::{KernelFs, ProbeEntry, ProbeError, Provider};

/// The `path` of errors from the pure parsers, which never know the file name;
/// the file-system functions replace it with the real path.
pub(crate) const UNNAMED_ELF_DATA: &str = "<ELF data>";

/// One function symbol of an ELF file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfSymbol {
    pub name: String,
    /// Virtual address as linked (`st_value`).
    pub address: u64,
    /// Size in bytes; 0 when the symbol table does not say.
    pub size: u64,
    /// Where the function's first byte is in the file, through the `PT_LOAD` segment that maps
    /// it; this is what a uprobe attaches to. `None` when no segment maps the address.
    pub file_offset: Option<u64>,
    /// Visible outside its object file (global or weak binding), rather than `static`.
    pub is_global: bool,
    /// `STT_GNU_IFUNC`: the address is a resolver that picks the real implementation at load time.
    pub is_indirect_function: bool,
}

/// The two ELF classes, from the identification byte after the magic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ElfClass {
    Elf32,
    Elf64,
}

impl ElfClass {
    /// Size in bytes of an address in this class.
    pub(crate) fn address_size(self) -> usize {
        match self {
            ElfClass::Elf32 => 4,
            ElfClass::Elf64 => 8,
        }
    }
}

pub(crate) fn bad_elf(reason: impl Into<String>) -> ProbeError {
    ProbeError::BadFile {
        path: UNNAMED_ELF_DATA.to_string(),
        reason: reason.into(),
    }
}

/// The error for bytes that `object` could not make sense of.
pub(crate) fn corrupt_elf(error: object::read::Error) -> ProbeError {
    bad_elf(format!(
        "truncated or corrupt ELF file ({error}); the file may be damaged or still being written"
    ))
}

/// Replaces the placeholder path of a pure parser's error with the real one.
pub(crate) fn attribute_to_path(error: ProbeError, path: &str) -> ProbeError {
    match error {
        ProbeError::BadFile {
            path: placeholder,
            reason,
        } if placeholder == UNNAMED_ELF_DATA => ProbeError::BadFile {
            path: path.to_string(),
            reason,
        },
        other => other,
    }
}

/// Checks the ELF magic and class, with a message that helps when the file is something else.
pub(crate) fn elf_class(bytes: &[u8]) -> Result<ElfClass, ProbeError> {
    if bytes.is_empty() {
        return Err(bad_elf("empty file, not an ELF binary"));
    }
    if !bytes.starts_with(b"\x7fELF") {
        if bytes.starts_with(b"\x7fEL") || b"\x7fELF".starts_with(bytes) {
            return Err(bad_elf("truncated ELF file (shorter than its header)"));
        }
        let hint = if bytes.starts_with(b"#!") {
            " (a script: trace its interpreter, e.g. the python or bash binary, instead)"
        } else if bytes.starts_with(b"!<arch>") {
            " (a static archive: uprobes need a linked executable or shared library)"
        } else {
            ""
        };
        return Err(bad_elf(format!(
            "not an ELF file{hint}; uprobes and USDT probes need an executable or shared library"
        )));
    }
    match bytes.get(4) {
        Some(1) => Ok(ElfClass::Elf32),
        Some(2) => Ok(ElfClass::Elf64),
        Some(other) => Err(bad_elf(format!(
            "corrupt ELF file: unknown ELF class {other}"
        ))),
        None => Err(bad_elf("truncated ELF file (shorter than its header)")),
    }
}

/// One `PT_LOAD` segment: the file range that the loader maps at a virtual address range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct LoadSegment {
    virtual_address: u64,
    file_offset: u64,
    file_size: u64,
}

/// Translates link-time virtual addresses into file offsets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct AddressMap {
    segments: Vec<LoadSegment>,
    /// Used only when the file has no program headers (relocatable objects, some debug files):
    /// allocated sections with file contents, as (address, size, offset).
    sections: Vec<(u64, u64, u64)>,
}

impl AddressMap {
    pub(crate) fn from_elf<Elf: FileHeader<Endian = Endianness>>(
        file: &ElfFile<'_, Elf>,
    ) -> AddressMap {
        let endian = file.endian();
        let segments = file
            .elf_program_headers()
            .iter()
            .filter(|header| header.p_type(endian) == elf::PT_LOAD)
            .map(|header| LoadSegment {
                virtual_address: header.p_vaddr(endian).into(),
                file_offset: header.p_offset(endian).into(),
                file_size: header.p_filesz(endian).into(),
            })
            .collect();
        let sections = file
            .elf_section_table()
            .iter()
            .filter(|section| section.sh_type(endian) != elf::SHT_NOBITS)
            .filter(|section| section.sh_flags(endian).0 & elf::SHF_ALLOC.0 != 0)
            .map(|section| {
                (
                    section.sh_addr(endian).into(),
                    section.sh_size(endian).into(),
                    section.sh_offset(endian).into(),
                )
            })
            .collect();
        AddressMap { segments, sections }
    }

    /// The file offset of `address`, if a segment (or, without segments, a section) holds it
    /// in the file. Addresses only in memory (`.bss`) have none.
    pub(crate) fn file_offset(&self, address: u64) -> Option<u64> {
        if !self.segments.is_empty() {
            return self.segments.iter().find_map(|segment| {
                let delta = address.checked_sub(segment.virtual_address)?;
                (delta < segment.file_size)
                    .then(|| segment.file_offset.checked_add(delta))
                    .flatten()
            });
        }
        self.sections
            .iter()
            .find_map(|(section_address, size, offset)| {
                let delta = address.checked_sub(*section_address)?;
                (delta < *size).then(|| offset.checked_add(delta)).flatten()
            })
    }
}

/// Reads the function symbols of one symbol table (`.symtab` or `.dynsym`) into `symbols`.
fn collect_function_symbols<Elf: FileHeader<Endian = Endianness>>(
    file: &ElfFile<'_, Elf>,
    table: &object::read::elf::SymbolTable<'_, Elf>,
    map: &AddressMap,
    symbols: &mut Vec<ElfSymbol>,
) {
    let endian = file.endian();
    for symbol in table.iter() {
        let symbol_type = symbol.st_type();
        let is_indirect_function = symbol_type == elf::STT_GNU_IFUNC;
        if symbol_type != elf::STT_FUNC && !is_indirect_function {
            continue;
        }
        if symbol.st_shndx(endian) == elf::SHN_UNDEF {
            continue; // an import: the code is in another file
        }
        let address: u64 = symbol.st_value(endian).into();
        if address == 0 {
            continue;
        }
        let Ok(name_bytes) = table.symbol_name(endian, symbol) else {
            continue;
        };
        if name_bytes.is_empty() {
            continue;
        }
        let name = String::from_utf8_lossy(name_bytes).into_owned();
        let bind = symbol.st_bind();
        symbols.push(ElfSymbol {
            name,
            address,
            size: symbol.st_size(endian).into(),
            file_offset: map.file_offset(address),
            is_global: bind == elf::STB_GLOBAL || bind == elf::STB_WEAK,
            is_indirect_function,
        });
    }
}

/// Sorts by name then address and removes the copies `.symtab` and `.dynsym` both hold,
/// keeping the one that knows the size and is global.
fn deduplicate(symbols: &mut Vec<ElfSymbol>) {
    symbols.sort_by(|left, right| {
        (
            left.name.as_str(),
            left.address,
            std::cmp::Reverse(left.size),
            !left.is_global,
        )
            .cmp(&(
                right.name.as_str(),
                right.address,
                std::cmp::Reverse(right.size),
                !right.is_global,
            ))
    });
    symbols
        .dedup_by(|later, earlier| later.name == earlier.name && later.address == earlier.address);
}

/// What the symbol tables of one parsed file hold.
struct SymbolTables {
    symbols: Vec<ElfSymbol>,
    /// Whether a full `.symtab` was present (not only the exported `.dynsym`).
    has_full_symbol_table: bool,
    build_id: Option<Vec<u8>>,
    debug_link: Option<String>,
}

fn read_symbol_tables_generic<Elf: FileHeader<Endian = Endianness>>(
    bytes: &[u8],
    offsets_from: Option<&AddressMap>,
) -> Result<SymbolTables, ProbeError> {
    let file = ElfFile::<Elf>::parse(bytes).map_err(corrupt_elf)?;
    let own_map = AddressMap::from_elf(&file);
    let map = offsets_from.unwrap_or(&own_map);
    let mut symbols = Vec::new();
    collect_function_symbols(&file, file.elf_symbol_table(), map, &mut symbols);
    collect_function_symbols(&file, file.elf_dynamic_symbol_table(), map, &mut symbols);
    deduplicate(&mut symbols);
    Ok(SymbolTables {
        symbols,
        has_full_symbol_table: !file.elf_symbol_table().is_empty(),
        build_id: file.build_id().ok().flatten().map(<[u8]>::to_vec),
        debug_link: file
            .gnu_debuglink()
            .ok()
            .flatten()
            .map(|(name, _crc)| String::from_utf8_lossy(name).into_owned()),
    })
}

fn read_symbol_tables(
    bytes: &[u8],
    offsets_from: Option<&AddressMap>,
) -> Result<SymbolTables, ProbeError> {
    match elf_class(bytes)? {
        ElfClass::Elf32 => {
            read_symbol_tables_generic::<elf::FileHeader32<Endianness>>(bytes, offsets_from)
        }
        ElfClass::Elf64 => {
            read_symbol_tables_generic::<elf::FileHeader64<Endianness>>(bytes, offsets_from)
        }
    }
}

/// The address-to-offset map of a file, for files whose symbols come from a separate debug file.
fn address_map(bytes: &[u8]) -> Result<AddressMap, ProbeError> {
    match elf_class(bytes)? {
        ElfClass::Elf32 => {
            let file =
                ElfFile::<elf::FileHeader32<Endianness>>::parse(bytes).map_err(corrupt_elf)?;
            Ok(AddressMap::from_elf(&file))
        }
        ElfClass::Elf64 => {
            let file =
                ElfFile::<elf::FileHeader64<Endianness>>::parse(bytes).map_err(corrupt_elf)?;
            Ok(AddressMap::from_elf(&file))
        }
    }
}

/// The function symbols (`STT_FUNC`, `STT_GNU_IFUNC`, defined, non-zero address) of an ELF file,
/// from `.symtab` and `.dynsym`, deduplicated and sorted by name then address.
///
/// A stripped file yields only its exported functions (`.dynsym`), or nothing.
pub fn function_symbols(bytes: &[u8]) -> Result<Vec<ElfSymbol>, ProbeError> {
    read_symbol_tables(bytes, None).map(|tables| tables.symbols)
}

/// Reads a uprobe/USDT target, turning "not found" and "not readable" into advice.
pub(crate) fn read_target(fs: &KernelFs, path: &str) -> Result<Vec<u8>, ProbeError> {
    fs.read(path).map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => ProbeError::BadFile {
            path: path.to_string(),
            reason:
                "no such file; check the path, or give a library name (libc) or program name (bash)"
                    .to_string(),
        },
        std::io::ErrorKind::IsADirectory => ProbeError::BadFile {
            path: path.to_string(),
            reason: "is a directory; name an executable or shared library in it".to_string(),
        },
        _ => ProbeError::Io {
            path: path.to_string(),
            source: error,
        },
    })
}

/// Where distributions install separate debug files for a build id
/// (`/usr/lib/debug/.build-id/ab/cdef....debug`).
fn debug_file_candidates(path: &str, tables: &SymbolTables) -> Vec<String> {
    let mut candidates = Vec::new();
    if let Some(build_id) = &tables.build_id {
        if let Some((first, rest)) = build_id.split_first() {
            let rest_hex: String = rest.iter().map(|byte| format!("{byte:02x}")).collect();
            candidates.push(format!(
                "/usr/lib/debug/.build-id/{first:02x}/{rest_hex}.debug"
            ));
        }
    }
    if let Some(link) = &tables.debug_link {
        if !link.contains('/') {
            let directory = path
                .rsplit_once('/')
                .map(|(directory, _)| directory)
                .unwrap_or("");
            candidates.push(format!("{directory}/{link}"));
            candidates.push(format!("{directory}/.debug/{link}"));
            candidates.push(format!("/usr/lib/debug{directory}/{link}"));
        }
    }
    candidates
}

/// The function symbols of the file at `path`; when the file only has `.dynsym`, the full
/// `.symtab` of its separate debug file (by build id or debug link) is added if installed.
pub fn load_function_symbols(
    fs: &KernelFs,
    path: &str,
) -> Result<(Vec<ElfSymbol>, bool), ProbeError> {
    let bytes = read_target(fs, path)?;
    let tables =
        read_symbol_tables(&bytes, None).map_err(|error| attribute_to_path(error, path))?;
    if tables.has_full_symbol_table {
        return Ok((tables.symbols, true));
    }
    for candidate in debug_file_candidates(path, &tables) {
        let Ok(debug_bytes) = fs.read(&candidate) else {
            continue;
        };
        // Debug files keep the addresses but not the code: offsets come from the real file.
        let Ok(map) = address_map(&bytes) else { break };
        let Ok(debug_tables) = read_symbol_tables(&debug_bytes, Some(&map)) else {
            continue;
        };
        if debug_tables.symbols.is_empty() {
            continue;
        }
        let mut symbols = tables.symbols;
        symbols.extend(debug_tables.symbols);
        deduplicate(&mut symbols);
        return Ok((symbols, true));
    }
    Ok((tables.symbols, false))
}

/// Splits `BINARY:REST` at the first `:` outside double quotes, removing the quotes
/// (`"/opt/my:app":main` names a path with a colon).
pub(crate) fn split_binary_and_rest(target: &str) -> (String, Option<&str>) {
    if let Some(quoted) = target.strip_prefix('"') {
        if let Some(end) = quoted.find('"') {
            let binary = quoted.get(..end).unwrap_or_default().to_string();
            let after = quoted.get(end + 1..).unwrap_or_default();
            return (binary, after.strip_prefix(':'));
        }
    }
    match target.split_once(':') {
        Some((binary, rest)) => (binary.to_string(), Some(rest)),
        None => (target.to_string(), None),
    }
}

/// The stripped-binary advice, shared by listing and attaching.
fn no_symbols_error(path: &str) -> ProbeError {
    ProbeError::BadFile {
        path: path.to_string(),
        reason: "has no function symbols (stripped); install its debug symbols (e.g. the \
                 package's -dbg or -dbgsym package) or attach to an address (uprobe:BINARY:0xADDR)"
            .to_string(),
    }
}

/// Lists the function probes of `target_pattern` = `BINARY:FUNCTION_GLOB`, e.g.
/// `/usr/bin/bash:read*` or `libc:malloc`, named as bpftrace names them
/// (`uprobe:/usr/bin/bash:readline`).
///
/// `BINARY` may be a path, a library name or a program name (see [`resolve_binary`]); a path may
/// hold wildcards, and then files that are not ELF or have no symbols are skipped silently.
/// A missing function part means every function. With `verbose`, bpftrace prints the DWARF
/// parameters; bpfscope reads no DWARF yet, so entries carry no arguments either way.
pub fn list_uprobes(
    fs: &KernelFs,
    provider: Provider,
    target_pattern: &str,
    verbose: bool,
) -> Result<Vec<ProbeEntry>, ProbeError> {
    // Without DWARF there are no parameter names or types to show, as in bpftrace.
    let _ = verbose;
    if !matches!(provider, Provider::Uprobe | Provider::Uretprobe) {
        return Err(ProbeError::BadPattern {
            pattern: target_pattern.to_string(),
            reason: format!("{} is not a uprobe provider", provider.name()),
        });
    }
    let (binary_pattern, function_pattern) = split_binary_and_rest(target_pattern);
    let function_glob = Glob::new(
        function_pattern
            .filter(|rest| !rest.is_empty())
            .unwrap_or("*"),
    )?;
    let binaries = resolve_binaries(fs, &binary_pattern)?;
    let several_files = has_wildcard(&binary_pattern);
    let mut entries = Vec::new();
    for binary in &binaries {
        let symbols = match load_function_symbols(fs, binary) {
            Ok((symbols, _)) if symbols.is_empty() && !several_files => {
                return Err(no_symbols_error(binary));
            }
            Ok((symbols, _)) => symbols,
            Err(_) if several_files => continue,
            Err(error) => return Err(error),
        };
        let mut names: Vec<&str> = symbols
            .iter()
            .map(|symbol| symbol.name.as_str())
            .filter(|name| function_glob.matches(name))
            .collect();
        names.dedup(); // symbols are sorted by name
        entries.extend(
            names
                .into_iter()
                .map(|name| ProbeEntry::new(provider, format!("{binary}:{name}"))),
        );
    }
    entries.sort_by(|left, right| left.target.cmp(&right.target));
    entries.dedup_by(|later, earlier| later.target == earlier.target);
    Ok(entries)
}

/// Parses a number as bpftrace accepts it in probe specs: `0x1f`, or decimal.
fn parse_number(text: &str) -> Option<u64> {
    let text = text.trim();
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// Levenshtein distance, bounded: gives up (returns `limit + 1`) once every path exceeds `limit`.
fn edit_distance(left: &str, right: &str, limit: usize) -> usize {
    let left: Vec<char> = left.chars().collect();
    let right: Vec<char> = right.chars().collect();
    if left.len().abs_diff(right.len()) > limit {
        return limit + 1;
    }
    let mut previous: Vec<usize> = (0..=right.len()).collect();
    let mut current = vec![0; right.len() + 1];
    for (row, left_char) in left.iter().enumerate() {
        current[0] = row + 1;
        let mut row_minimum = current[0];
        for (column, right_char) in right.iter().enumerate() {
            let substitution = previous[column] + usize::from(left_char != right_char);
            current[column + 1] = substitution
                .min(previous[column + 1] + 1)
                .min(current[column] + 1);
            row_minimum = row_minimum.min(current[column + 1]);
        }
        if row_minimum > limit {
            return limit + 1;
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[right.len()]
}

/// The closest symbol name to `wanted`, if one is close enough to be a likely typo.
pub(crate) fn closest_name<'a>(
    wanted: &str,
    names: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (wanted.chars().count() / 4).clamp(1, 3);
    names
        .map(|name| (edit_distance(wanted, name, limit), name))
        .filter(|(distance, _)| *distance <= limit)
        .min()
        .map(|(_, name)| name)
}

/// Where a uprobe on `path_or_lib` at `symbol_or_offset` attaches: the resolved path and the
/// file offset the kernel wants.
///
/// `symbol_or_offset` is `FUNCTION`, `FUNCTION+OFFSET` (`readline+0x10`, checked against the
/// function's size) or a number, which is a virtual address as `readelf -s`/`nm` print them
/// and is translated to its file offset.
pub fn resolve_uprobe(
    fs: &KernelFs,
    path_or_lib: &str,
    symbol_or_offset: &str,
) -> Result<(String, u64), ProbeError> {
    let path = resolve_binary(fs, path_or_lib)?;
    if let Some(address) = parse_number(symbol_or_offset) {
        let bytes = read_target(fs, &path)?;
        let map = address_map(&bytes).map_err(|error| attribute_to_path(error, &path))?;
        let file_offset = map
            .file_offset(address)
            .ok_or_else(|| ProbeError::BadFile {
                path: path.clone(),
                reason: format!(
                "address {address:#x} is not in any loaded segment of the file; give an address \
                 as `readelf -s` or `nm` prints it"
            ),
            })?;
        return Ok((path, file_offset));
    }
    let (function_name, offset_in_function) = match symbol_or_offset.rsplit_once('+') {
        Some((name, offset_text)) => {
            let offset = parse_number(offset_text).ok_or_else(|| ProbeError::BadPattern {
                pattern: symbol_or_offset.to_string(),
                reason: format!(
                    "'{offset_text}' is not an offset; write FUNCTION+0x10 or FUNCTION+16"
                ),
            })?;
            (name, offset)
        }
        None => (symbol_or_offset, 0),
    };
    let (symbols, _) = load_function_symbols(fs, &path)?;
    if symbols.is_empty() {
        return Err(no_symbols_error(&path));
    }
    // Prefer the exported definition when static functions share the name.
    let symbol = symbols
        .iter()
        .filter(|symbol| symbol.name == function_name)
        .max_by_key(|symbol| (symbol.is_global, symbol.size))
        .ok_or_else(|| {
            let suggestion = closest_name(
                function_name,
                symbols.iter().map(|symbol| symbol.name.as_str()),
            )
            .map(|name| format!("; did you mean '{name}'?"))
            .unwrap_or_default();
            ProbeError::BadFile {
                path: path.clone(),
                reason: format!(
                    "no function '{function_name}' in its symbol tables{suggestion} \
                     (list them with: bpfscope -l 'uprobe:{path}:*')"
                ),
            }
        })?;
    if symbol.size > 0 && offset_in_function >= symbol.size {
        return Err(ProbeError::BadFile {
            path: path.clone(),
            reason: format!(
                "offset {offset_in_function:#x} is past the end of '{function_name}' ({} bytes long)",
                symbol.size
            ),
        });
    }
    let file_offset = symbol
        .file_offset
        .and_then(|offset| offset.checked_add(offset_in_function))
        .ok_or_else(|| ProbeError::BadFile {
            path: path.clone(),
            reason: format!(
                "function '{function_name}' at {:#x} is not in any loaded segment (corrupt file?)",
                symbol.address
            ),
        })?;
    Ok((path, file_offset))
}

/// The link-time address of the symbol `name` (any kind: variables too) from `.symtab` or
/// `.dynsym`, e.g. for `%rip`-relative USDT operands like `-8@counter(%rip)`.
pub fn symbol_address(bytes: &[u8], name: &str) -> Option<u64> {
    use object::{ObjectSymbol, ObjectSymbolTable};
    let file = object::File::parse(bytes).ok()?;
    let from_table = |table: Option<object::SymbolTable<'_, '_>>| {
        table?
            .symbols()
            .find(|symbol| symbol.name() == Ok(name) && symbol.address() != 0)
            .map(|symbol| symbol.address())
    };
    from_table(file.symbol_table()).or_else(|| from_table(file.dynamic_symbol_table()))
}

/// [`symbol_address`] of a file named by path or library name.
pub fn symbol_address_in(fs: &KernelFs, path_or_lib: &str, name: &str) -> Option<u64> {
    let path = resolve_binary(fs, path_or_lib).ok()?;
    let bytes = read_target(fs, &path).ok()?;
    symbol_address(&bytes, name)
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

    /// A root under which the fixture directory is `/fixtures` (a symlink in a temporary dir).
    fn fixture_fs() -> KernelFs {
        KernelFs::rooted(fixture_directory())
    }

    fn find<'a>(symbols: &'a [ElfSymbol], name: &str) -> &'a ElfSymbol {
        symbols.iter().find(|symbol| symbol.name == name).unwrap()
    }

    #[test]
    fn pie_fixture_symbols_with_offsets() {
        // Values from `readelf -sW usdt_sample` and its program headers (text: vaddr == offset).
        let symbols = function_symbols(&fixture("usdt_sample")).unwrap();
        let add = find(&symbols, "add_numbers");
        assert_eq!(
            (add.address, add.size, add.file_offset),
            (0x115a, 5, Some(0x115a))
        );
        assert!(add.is_global);
        let helper = find(&symbols, "local_helper");
        assert_eq!(
            (helper.address, helper.size, helper.file_offset),
            (0x1139, 33, Some(0x1139))
        );
        assert!(!helper.is_global);
        assert_eq!(find(&symbols, "main").size, 105);
        // Imports (undefined) are not functions of this file.
        assert!(symbols
            .iter()
            .all(|symbol| symbol.name != "__libc_start_main"));
        // Sorted by name, no duplicates.
        let names: Vec<&str> = symbols.iter().map(|symbol| symbol.name.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(names, sorted);
    }

    #[test]
    fn non_pie_offsets_go_through_the_load_segment() {
        // LOAD 0x001000 → 0x401000, so 0x401147 is at file offset 0x1147.
        let symbols = function_symbols(&fixture("usdt_sample.nopie")).unwrap();
        let add = find(&symbols, "add_numbers");
        assert_eq!((add.address, add.file_offset), (0x401147, Some(0x1147)));
        assert_eq!(find(&symbols, "local_helper").file_offset, Some(0x1126));
    }

    #[test]
    fn stripped_fixture_keeps_only_exports() {
        let symbols = function_symbols(&fixture("usdt_sample.stripped")).unwrap();
        assert!(symbols.iter().all(|symbol| symbol.name != "local_helper"));
        let fs = fixture_fs();
        let error = list_uprobes(&fs, Provider::Uprobe, "/usdt_sample.stripped:*", false)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("stripped") && error.contains("debug"),
            "{error}"
        );
    }

    #[test]
    fn listing_and_resolving_on_fixtures() {
        let fs = fixture_fs();
        let entries = list_uprobes(&fs, Provider::Uprobe, "/usdt_sample:*_*", false).unwrap();
        let names: Vec<String> = entries.iter().map(ProbeEntry::full_name).collect();
        assert!(
            names.contains(&"uprobe:/usdt_sample:add_numbers".to_string()),
            "{names:?}"
        );
        assert!(
            names.contains(&"uprobe:/usdt_sample:local_helper".to_string()),
            "{names:?}"
        );
        assert!(!names.contains(&"uprobe:/usdt_sample:main".to_string()));
        let entries = list_uprobes(&fs, Provider::Uretprobe, "/usdt_sample*:main", true).unwrap();
        let names: Vec<String> = entries.iter().map(ProbeEntry::full_name).collect();
        assert_eq!(
            names,
            // The stripped copy has no `main` symbol left and the C source is not ELF: both skipped.
            [
                "uretprobe:/usdt_sample.nopie:main",
                "uretprobe:/usdt_sample:main"
            ]
        );
        assert!(entries.iter().all(|entry| entry.args.is_empty()));

        assert_eq!(
            resolve_uprobe(&fs, "/usdt_sample.nopie", "add_numbers")
                .unwrap()
                .1,
            0x1147
        );
        assert_eq!(
            resolve_uprobe(&fs, "/usdt_sample.nopie", "add_numbers+0x4")
                .unwrap()
                .1,
            0x114b
        );
        assert_eq!(
            resolve_uprobe(&fs, "/usdt_sample.nopie", "main+16")
                .unwrap()
                .1,
            0x114c + 16
        );
        assert_eq!(
            resolve_uprobe(&fs, "/usdt_sample.nopie", "0x401147")
                .unwrap()
                .1,
            0x1147
        );
        assert_eq!(
            resolve_uprobe(&fs, "/usdt_sample", "local_helper")
                .unwrap()
                .1,
            0x1139
        );
    }

    #[test]
    fn resolve_errors_say_what_to_do() {
        let fs = fixture_fs();
        let error = resolve_uprobe(&fs, "/usdt_sample", "add_number")
            .unwrap_err()
            .to_string();
        assert!(error.contains("did you mean 'add_numbers'"), "{error}");
        let error = resolve_uprobe(&fs, "/usdt_sample", "zzzzzzzzzz")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("no function 'zzzzzzzzzz'") && !error.contains("did you mean"),
            "{error}"
        );
        let error = resolve_uprobe(&fs, "/usdt_sample", "add_numbers+0x40")
            .unwrap_err()
            .to_string();
        assert!(error.contains("past the end"), "{error}");
        let error = resolve_uprobe(&fs, "/usdt_sample", "add_numbers+zz")
            .unwrap_err()
            .to_string();
        assert!(error.contains("not an offset"), "{error}");
        let error = resolve_uprobe(&fs, "/usdt_sample", "0x99999999")
            .unwrap_err()
            .to_string();
        assert!(error.contains("not in any loaded segment"), "{error}");
        let error = resolve_uprobe(&fs, "/no/such/file", "main")
            .unwrap_err()
            .to_string();
        assert!(error.contains("no such file"), "{error}");
        let error = resolve_uprobe(&fs, "/usdt_sample.c", "main")
            .unwrap_err()
            .to_string();
        assert!(error.contains("not an ELF file"), "{error}");
        let error = resolve_uprobe(&fs, "/build_fixtures.sh", "main")
            .unwrap_err()
            .to_string();
        assert!(error.contains("script"), "{error}");
    }

    #[test]
    fn truncated_and_garbage_files_are_errors_not_panics() {
        let bytes = fixture("usdt_sample");
        // Every prefix either parses (symbols may be lost) or is a clear error; none panics.
        let mut errors = 0;
        for length in (0..bytes.len()).step_by(7) {
            match function_symbols(&bytes[..length]) {
                Ok(_) => {}
                Err(error) => {
                    errors += 1;
                    let text = error.to_string();
                    assert!(
                        text.contains("truncated")
                            || text.contains("corrupt")
                            || text.contains("empty"),
                        "{text}"
                    );
                }
            }
        }
        assert!(errors > 0);
        assert!(function_symbols(b"")
            .unwrap_err()
            .to_string()
            .contains("empty"));
        assert!(function_symbols(b"\x7fEL")
            .unwrap_err()
            .to_string()
            .contains("truncated"));
        assert!(function_symbols(b"hello world, no elf here")
            .unwrap_err()
            .to_string()
            .contains("not an ELF"));
        // Deterministic pseudo-random corruption of the real file.
        let mut state = 0x1234_5678_u32;
        for _ in 0..300 {
            let mut damaged = bytes.clone();
            for _ in 0..16 {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let position = (state as usize >> 4) % damaged.len();
                damaged[position] = (state >> 24) as u8;
            }
            let _ = function_symbols(&damaged);
        }
    }

    #[test]
    fn edit_distance_and_suggestions() {
        assert_eq!(edit_distance("malloc", "maloc", 3), 1);
        assert_eq!(edit_distance("readline", "readlien", 3), 2);
        assert_eq!(edit_distance("abc", "abcdefghij", 3), 4);
        let names = ["malloc", "calloc", "free", "realloc"];
        assert_eq!(closest_name("maloc", names.iter().copied()), Some("malloc"));
        assert_eq!(closest_name("frees", names.iter().copied()), Some("free"));
        assert_eq!(closest_name("pthread_create", names.iter().copied()), None);
    }

    #[test]
    fn binary_and_rest_split() {
        assert_eq!(
            split_binary_and_rest("/usr/bin/bash:read*"),
            ("/usr/bin/bash".to_string(), Some("read*"))
        );
        assert_eq!(split_binary_and_rest("libc"), ("libc".to_string(), None));
        assert_eq!(
            split_binary_and_rest("\"/opt/a:b\":main"),
            ("/opt/a:b".to_string(), Some("main"))
        );
    }

    /// Reads `readelf -sW` and `readelf -lW` of a live binary to get the expected offset.
    fn readelf_offset(path: &str, function: &str) -> Option<u64> {
        let symbols = std::process::Command::new("readelf")
            .args(["-sW", path])
            .output()
            .ok()?;
        let symbols = String::from_utf8_lossy(&symbols.stdout).into_owned();
        let address = symbols.lines().find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.len() >= 8
                && fields[3] == "FUNC"
                && fields[7] == function
                && fields[6] != "UND")
                .then(|| u64::from_str_radix(fields[1], 16).ok())
                .flatten()
        })?;
        let headers = std::process::Command::new("readelf")
            .args(["-lW", path])
            .output()
            .ok()?;
        let headers = String::from_utf8_lossy(&headers.stdout).into_owned();
        headers.lines().find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.first() != Some(&"LOAD") {
                return None;
            }
            let number = |text: &str| u64::from_str_radix(text.trim_start_matches("0x"), 16).ok();
            let (offset, vaddr, file_size) =
                (number(fields[1])?, number(fields[2])?, number(fields[4])?);
            (address >= vaddr && address < vaddr + file_size).then(|| address - vaddr + offset)
        })
    }

    #[test]
    fn live_bash_readline_matches_readelf() {
        let fs = KernelFs::live();
        if !fs.exists("/usr/bin/bash") {
            println!("skipped: /usr/bin/bash is not installed");
            return;
        }
        let Some(expected) = readelf_offset("/usr/bin/bash", "readline") else {
            println!("skipped: readelf is not installed or bash has no readline symbol");
            return;
        };
        let (path, offset) = resolve_uprobe(&fs, "/usr/bin/bash", "readline").unwrap();
        assert_eq!(path, "/usr/bin/bash");
        assert_eq!(offset, expected);
        let (path, offset) = resolve_uprobe(&fs, "bash", "readline").unwrap();
        assert!(path.ends_with("/bash"));
        assert_eq!(offset, expected);
        let entries =
            list_uprobes(&fs, Provider::Uprobe, "/usr/bin/bash:readline*", false).unwrap();
        assert!(entries
            .iter()
            .any(|entry| entry.full_name() == "uprobe:/usr/bin/bash:readline"));
        assert!(entries
            .iter()
            .all(|entry| entry.target.starts_with("/usr/bin/bash:readline")));
    }

    #[test]
    fn live_libc_malloc_resolves_by_library_name() {
        let fs = KernelFs::live();
        let Ok(libc) = resolve_binary(&fs, "libc") else {
            println!("skipped: no libc found on this machine");
            return;
        };
        let Some(expected) = readelf_offset(&libc, "malloc") else {
            println!("skipped: readelf is not installed");
            return;
        };
        assert_eq!(
            resolve_uprobe(&fs, "libc", "malloc").unwrap(),
            (libc.clone(), expected)
        );
        let entries = list_uprobes(&fs, Provider::Uprobe, "libc:malloc", false).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].target, format!("{libc}:malloc"));
    }
}
