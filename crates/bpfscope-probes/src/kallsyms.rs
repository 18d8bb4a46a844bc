//! Pure, fast parsers of `/proc/kallsyms` and tracefs `available_filter_functions`.
//!
//! Both borrow from the text (no allocation per symbol): `/proc/kallsyms` has ~200k lines.

/// One line of `/proc/kallsyms`: `ffffffff81000000 T _stext` or `... t name\t[module]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KallsymsEntry<'a> {
    /// Zero when `kptr_restrict` hides addresses.
    pub address: u64,
    /// The nm-style type letter (`T`/`t` text, `D`/`d` data, `B`/`b` bss, `R`/`r` rodata, ...).
    pub symbol_type: u8,
    pub name: &'a str,
    /// The module name without brackets; None for vmlinux.
    pub module: Option<&'a str>,
}

impl KallsymsEntry<'_> {
    /// Whether the symbol is code (`t`/`T`), i.e. a function that could be probed.
    pub fn is_text(&self) -> bool {
        matches!(self.symbol_type, b't' | b'T')
    }
}

/// A function name with the module it lives in (None for vmlinux).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KernelFunction<'a> {
    pub name: &'a str,
    pub module: Option<&'a str>,
}

/// Every well-formed line of `/proc/kallsyms`; malformed lines are skipped.
pub fn parse_kallsyms_entries(text: &str) -> Vec<KallsymsEntry<'_>> {
    // ~25 bytes per line: reserve once instead of growing repeatedly.
    let mut entries = Vec::with_capacity(text.len() / 32);
    for line in text.lines() {
        if let Some(entry) = parse_kallsyms_line(line) {
            entries.push(entry);
        }
    }
    entries
}

/// The text symbols (`t`/`T`) of `/proc/kallsyms`: the kernel functions, with their modules.
pub fn parse_kallsyms(text: &str) -> Vec<KernelFunction<'_>> {
    let mut functions = Vec::with_capacity(text.len() / 32);
    for line in text.lines() {
        if let Some(entry) = parse_kallsyms_line(line) {
            if entry.is_text() {
                functions.push(KernelFunction {
                    name: entry.name,
                    module: entry.module,
                });
            }
        }
    }
    functions
}

fn parse_kallsyms_line(line: &str) -> Option<KallsymsEntry<'_>> {
    let (address_text, rest) = line.split_once(' ')?;
    let address = u64::from_str_radix(address_text, 16).ok()?;
    let (symbol_type, rest) = rest.split_once(' ')?;
    let [symbol_type] = symbol_type.as_bytes() else {
        return None;
    };
    let (name, module) = match rest.split_once('\t') {
        Some((name, module_text)) => (name, bracketed(module_text.trim())),
        None => (rest, None),
    };
    if name.is_empty() {
        return None;
    }
    Some(KallsymsEntry {
        address,
        symbol_type: *symbol_type,
        name,
        module,
    })
}

/// The `(name, module)` of one `/proc/kallsyms` line when it is a text symbol (`t`/`T`), as
/// bytes, so a streaming reader can feed lines straight from a fixed buffer.
pub fn text_symbol_of_line(line: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    // "ADDRESS TYPE NAME[\t[MODULE]]". On 64-bit kernels the address is 16 hex digits, so
    // the type letter sits at a fixed place: reject the other ~40% of lines without scanning.
    if line.get(16) == Some(&b' ') && !matches!(line.get(17), Some(b't' | b'T')) {
        return None;
    }
    let space = find_byte(line, b' ')?;
    let address = line.get(..space)?;
    if address.is_empty() || address.len() > 16 || !address.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let rest = line.get(space + 1..)?;
    let (Some(b't' | b'T'), Some(b' ')) = (rest.first(), rest.get(1)) else {
        return None;
    };
    let rest = rest.get(2..)?;
    let (name, module) = match find_byte(rest, b'\t') {
        Some(tab) => {
            let module_text = rest.get(tab + 1..).unwrap_or(&[]).trim_ascii();
            let module = module_text
                .strip_prefix(b"[")
                .and_then(|inner| inner.strip_suffix(b"]"));
            (rest.get(..tab)?, module)
        }
        None => (rest, None),
    };
    (!name.is_empty()).then_some((name, module))
}

/// The index of the first `needle` in `bytes`, eight bytes at a time (kallsyms is ~10 MB).
pub fn find_byte(bytes: &[u8], needle: u8) -> Option<usize> {
    let pattern = u64::from_ne_bytes([needle; 8]);
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_ne_bytes(word) ^ pattern;
        // A byte of `word` is zero exactly where the needle is; this bit trick flags such bytes.
        if (word.wrapping_sub(0x0101_0101_0101_0101) & !word & 0x8080_8080_8080_8080) != 0 {
            return chunk
                .iter()
                .position(|&byte| byte == needle)
                .map(|index| offset + index);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&byte| byte == needle)
        .map(|index| offset + index)
}

/// `[name]` → `name`.
fn bracketed(text: &str) -> Option<&str> {
    text.strip_prefix('[')?
        .strip_suffix(']')
        .filter(|inner| !inner.is_empty())
}

/// Lines of `available_filter_functions`: `func` or `func [module]`. Newer kernels list
/// unattachable addresses as `__ftrace_invalid_address___N`; those are dropped.
pub fn parse_available_filter_functions(text: &str) -> Vec<KernelFunction<'_>> {
    let mut functions = Vec::with_capacity(text.len() / 24);
    for line in text.lines() {
        let line = line.trim_end();
        let (name, module) = match line.split_once(' ') {
            Some((name, rest)) => (name, bracketed(rest.trim())),
            None => (line, None),
        };
        if name.is_empty() || name.starts_with("__ftrace_invalid_address__") {
            continue;
        }
        functions.push(KernelFunction { name, module });
    }
    functions
}

#[cfg(test)]
mod tests {
    use super::*;

    const KALLSYMS: &str = include_str!("../test_data/kallsyms/kallsyms");
    const FILTER_FUNCTIONS: &str = include_str!("../test_data/kallsyms/available_filter_functions");

    #[test]
    fn kallsyms_text_symbols_with_modules() {
        let functions = parse_kallsyms(KALLSYMS);
        assert!(functions.contains(&KernelFunction {
            name: "vfs_read",
            module: None
        }));
        assert!(functions.contains(&KernelFunction {
            name: "ext4_file_open",
            module: Some("ext4")
        }));
        // Data symbols are not functions.
        assert!(!functions.iter().any(|function| function.name == "jiffies"));
        let entries = parse_kallsyms_entries(KALLSYMS);
        let jiffies = entries
            .iter()
            .find(|entry| entry.name == "jiffies")
            .unwrap();
        assert_eq!(
            (jiffies.symbol_type, jiffies.address),
            (b'D', 0xffffffff82a05000)
        );
        // The malformed line is skipped, not fatal.
        assert_eq!(entries.len(), KALLSYMS.lines().count() - 1);
    }

    #[test]
    fn filter_functions_with_modules() {
        let functions = parse_available_filter_functions(FILTER_FUNCTIONS);
        assert_eq!(
            functions[0],
            KernelFunction {
                name: "vfs_read",
                module: None
            }
        );
        assert!(functions.contains(&KernelFunction {
            name: "ext4_file_open",
            module: Some("ext4")
        }));
        assert!(!functions
            .iter()
            .any(|function| function.name.starts_with("__ftrace_invalid")));
        assert_eq!(functions.len(), 4);
    }

    #[test]
    fn byte_line_parser_agrees_with_the_text_parser() {
        let from_bytes: Vec<(String, Option<String>)> = KALLSYMS
            .lines()
            .filter_map(|line| text_symbol_of_line(line.as_bytes()))
            .map(|(name, module)| {
                (
                    String::from_utf8_lossy(name).into_owned(),
                    module.map(|module| String::from_utf8_lossy(module).into_owned()),
                )
            })
            .collect();
        let from_text: Vec<(String, Option<String>)> = parse_kallsyms(KALLSYMS)
            .into_iter()
            .map(|function| {
                (
                    function.name.to_string(),
                    function.module.map(str::to_string),
                )
            })
            .collect();
        assert!(!from_text.is_empty());
        assert_eq!(from_bytes, from_text);
    }

    #[test]
    fn garbage_does_not_panic() {
        for text in [
            "",
            "\n\n",
            "zz T x",
            "ffff",
            "ffff T",
            "ffff TT name",
            "ffff T \t[",
            "x [",
            " [m]",
        ] {
            let _ = parse_kallsyms_entries(text);
            let _ = parse_available_filter_functions(text);
            let _ = text_symbol_of_line(text.as_bytes());
        }
    }

    #[test]
    fn live_kallsyms_is_fast_and_has_vfs_read() {
        let Ok(text) = std::fs::read_to_string("/proc/kallsyms") else {
            eprintln!("skipping: /proc/kallsyms unreadable");
            return;
        };
        let start = std::time::Instant::now();
        let functions = parse_kallsyms(&text);
        eprintln!(
            "parsed {} text symbols in {:?}",
            functions.len(),
            start.elapsed()
        );
        assert!(functions
            .iter()
            .any(|function| function.name == "vfs_read" && function.module.is_none()));
    }
}
