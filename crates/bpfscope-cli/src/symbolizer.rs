//! Names kernel and user addresses for printed stacks, `ksym` and `usym` (kallsyms, ELF symbols, demangling).

/// Names addresses for printed stacks and `ksym`/`usym`: kernel ones from `/proc/kallsyms`,
/// user ones through `/proc/PID/maps` and the mapped files' ELF symbol tables. Everything is
/// read on first use only (scripts without stacks never pay for it) and kept.
pub(crate) struct LiveSymbolizer {
    /// The process `usym()` values belong to (`-p`, `-c`), or 0.
    default_process: u32,
    /// Whether C++ and Rust user symbols are printed demangled (bpftrace's `cpp_demangle`).
    demangle_user_symbols: bool,
    kernel_symbols: std::sync::OnceLock<Vec<(u64, String)>>,
    process_mappings: std::sync::Mutex<std::collections::HashMap<u32, Vec<ExecutableMapping>>>,
    file_symbols: std::sync::Mutex<
        std::collections::HashMap<String, std::sync::Arc<Vec<bpfscope_probes::elf::ElfSymbol>>>,
    >,
}

/// One executable line of `/proc/PID/maps`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ExecutableMapping {
    start: u64,
    end: u64,
    file_offset: u64,
    path: String,
}

/// The executable, file-backed mappings of a `/proc/PID/maps` text.
fn parse_executable_mappings(text: &str) -> Vec<ExecutableMapping> {
    let mut mappings = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(permissions), Some(offset)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let path = fields.nth(2).unwrap_or("");
        if !permissions.contains('x') || !path.starts_with('/') {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let parsed = (
            u64::from_str_radix(start, 16),
            u64::from_str_radix(end, 16),
            u64::from_str_radix(offset, 16),
        );
        if let (Ok(start), Ok(end), Ok(file_offset)) = parsed {
            mappings.push(ExecutableMapping {
                start,
                end,
                file_offset,
                path: path.to_string(),
            });
        }
    }
    mappings
}

/// The symbol containing `file_offset` (sized symbols first, else the nearest one before it).
fn symbol_at_file_offset(
    symbols: &[bpfscope_probes::elf::ElfSymbol],
    file_offset: u64,
) -> Option<(String, u64)> {
    // Several names often cover one function (`getppid`, `__getppid`, `__GI___getppid` once a
    // debug file adds the local ones): the exported, plainest name is the one people know.
    let preference = |symbol: &bpfscope_probes::elf::ElfSymbol| {
        let underscores = symbol.name.len() - symbol.name.trim_start_matches('_').len();
        (!symbol.is_global, underscores, symbol.name.len())
    };
    let mut containing: Option<(&bpfscope_probes::elf::ElfSymbol, u64)> = None;
    let mut nearest: Option<(&bpfscope_probes::elf::ElfSymbol, u64)> = None;
    for symbol in symbols {
        let Some(start) = symbol.file_offset else {
            continue;
        };
        if start > file_offset || symbol.name.is_empty() {
            continue;
        }
        let distance = file_offset - start;
        if symbol.size > 0 && distance < symbol.size {
            let better = containing.is_none_or(|(best, best_distance)| {
                (distance, preference(symbol)) < (best_distance, preference(best))
            });
            if better {
                containing = Some((symbol, distance));
            }
        }
        if symbol.size == 0 && nearest.is_none_or(|(_, best)| distance < best) {
            nearest = Some((symbol, distance));
        }
    }
    containing
        .or(nearest)
        .map(|(symbol, distance)| (symbol.name.clone(), distance))
}

impl LiveSymbolizer {
    pub(crate) fn new(default_process: u32) -> LiveSymbolizer {
        LiveSymbolizer {
            default_process,
            demangle_user_symbols: demangling_enabled_by_environment(),
            kernel_symbols: std::sync::OnceLock::new(),
            process_mappings: std::sync::Mutex::new(std::collections::HashMap::new()),
            file_symbols: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    fn kernel_symbols(&self) -> &[(u64, String)] {
        self.kernel_symbols.get_or_init(|| {
            let text = std::fs::read_to_string("/proc/kallsyms").unwrap_or_default();
            let mut symbols: Vec<(u64, String)> =
                bpfscope_probes::kallsyms::parse_kallsyms_entries(&text)
                    .into_iter()
                    // Code only: data and per-CPU symbols would name heap addresses wrongly.
                    .filter(|entry| entry.address != 0 && entry.is_text())
                    .map(|entry| (entry.address, entry.name.to_string()))
                    .collect();
            symbols.sort();
            symbols
        })
    }

    fn mapping_of(&self, pid: u32, address: u64) -> Option<ExecutableMapping> {
        let mut cache = self.process_mappings.lock().ok()?;
        let find = |mappings: &Vec<ExecutableMapping>| {
            mappings
                .iter()
                .find(|mapping| (mapping.start..mapping.end).contains(&address))
                .cloned()
        };
        if let Some(found) = cache.get(&pid).and_then(find) {
            return Some(found);
        }
        // Not known yet (or mapped since we looked): read the maps again.
        let text = std::fs::read_to_string(format!("/proc/{pid}/maps")).ok()?;
        let mappings = parse_executable_mappings(&text);
        let found = find(&mappings);
        cache.insert(pid, mappings);
        found
    }

    fn symbols_of_file(
        &self,
        path: &str,
    ) -> Option<std::sync::Arc<Vec<bpfscope_probes::elf::ElfSymbol>>> {
        let mut cache = self.file_symbols.lock().ok()?;
        if let Some(symbols) = cache.get(path) {
            return Some(symbols.clone());
        }
        // A stripped library's full symbol table may sit in a separate debug file (by build
        // id or debug link, e.g. libc6-dbg): frames inside it get their real names.
        let symbols =
            bpfscope_probes::elf::load_function_symbols(&bpfscope_probes::KernelFs::live(), path)
                .map(|(symbols, _)| symbols)
                .unwrap_or_default();
        let symbols = std::sync::Arc::new(symbols);
        cache.insert(path.to_string(), symbols.clone());
        Some(symbols)
    }
}

impl bpfscope_output::Symbolizer for LiveSymbolizer {
    fn kernel_symbol(&self, address: u64) -> Option<(String, u64)> {
        let symbols = self.kernel_symbols();
        let index = symbols.partition_point(|(start, _)| *start <= address);
        let (start, name) = symbols.get(index.checked_sub(1)?)?;
        // Past the last function there is no telling where it ends: give up after a while.
        const LAST_FUNCTION_MAX_SIZE: u64 = 1 << 20;
        if index == symbols.len() && address - start >= LAST_FUNCTION_MAX_SIZE {
            return None;
        }
        Some((name.clone(), address - start))
    }

    fn user_symbol(&self, pid: u32, address: u64) -> Option<(String, u64)> {
        let pid = if pid == 0 { self.default_process } else { pid };
        if pid == 0 {
            return None;
        }
        let mapping = self.mapping_of(pid, address)?;
        let file_offset = address - mapping.start + mapping.file_offset;
        let symbols = self.symbols_of_file(&mapping.path)?;
        let (name, offset) = symbol_at_file_offset(&symbols, file_offset)?;
        if self.demangle_user_symbols {
            Some((demangle_symbol_name(&name), offset))
        } else {
            Some((name, offset))
        }
    }

    fn user_module(&self, pid: u32, address: u64) -> Option<String> {
        let pid = if pid == 0 { self.default_process } else { pid };
        if pid == 0 {
            return None;
        }
        Some(self.mapping_of(pid, address)?.path)
    }
}

/// bpftrace demangles user symbols unless `BPFTRACE_CPP_DEMANGLE=0` (our own name:
/// `BPFSCOPE_CPP_DEMANGLE`, which wins when both are set).
fn demangling_enabled_by_environment() -> bool {
    let setting = std::env::var_os("BPFSCOPE_CPP_DEMANGLE")
        .or_else(|| std::env::var_os("BPFTRACE_CPP_DEMANGLE"));
    match setting {
        Some(value) => !matches!(value.to_str().map(str::trim), Some("0" | "false" | "no")),
        None => true,
    }
}

/// Longest mangled name handed to the demanglers: real names stay far below it, and the
/// limit bounds the time and memory a hostile symbol table can make us spend per frame.
const LONGEST_DEMANGLED_SYMBOL: usize = 4096;

/// A symbol name as bpftrace prints it with `cpp_demangle` on: Rust names (legacy `_ZN...E`
/// with their hash, and v0 `_R...`) without the hash, C++ Itanium names (`_Z...`) as
/// `c++filt` shows them (with the parameter list), anything else unchanged. A name the
/// demanglers reject is returned unchanged.
pub(crate) fn demangle_symbol_name(name: &str) -> String {
    demangled_rust_name(name)
        .or_else(|| demangled_cpp_name(name))
        .unwrap_or_else(|| name.to_string())
}

fn demangled_rust_name(name: &str) -> Option<String> {
    if name.len() > LONGEST_DEMANGLED_SYMBOL {
        return None;
    }
    // Legacy Rust names are also valid C++ names; rustc-demangle only accepts them with the
    // `17h<hash>E` tail, so asking it first keeps C++ names for cpp_demangle.
    let demangled = rustc_demangle::try_demangle(name).ok()?;
    // `{:#}` leaves out the hash (legacy) and the crate disambiguators (v0).
    Some(format!("{demangled:#}"))
}

fn demangled_cpp_name(name: &str) -> Option<String> {
    if !name.starts_with("_Z") || name.len() > LONGEST_DEMANGLED_SYMBOL {
        return None;
    }
    // cpp_demangle limits its own recursion (96 parsing, 128 printing by default); the
    // catch_unwind is a last guard so that a demangler bug on a strange name costs only the
    // demangling, never the trace.
    let demangle = || {
        let symbol = cpp_demangle::Symbol::new(name.as_bytes()).ok()?;
        symbol
            .demangle_with_options(&cpp_demangle::DemangleOptions::default())
            .ok()
    };
    std::panic::catch_unwind(demangle)
        .ok()
        .flatten()
        .filter(|demangled| !demangled.is_empty())
}

#[cfg(test)]
mod tests {
    use super::{demangle_symbol_name, parse_executable_mappings, ExecutableMapping};

    #[test]
    fn demangles_cpp_names_as_cxxfilt_prints_them() {
        // Expected texts are what GNU c++filt 2.44 prints for the same names.
        let cases = [
            ("_ZN4shop4pokeEi", "shop::poke(int)"),
            ("_ZN4shop6WidgetC2Ev", "shop::Widget::Widget()"),
            ("_ZN4shop6WidgetD1Ev", "shop::Widget::~Widget()"),
            (
                "_ZN4shop6WidgetplERKS0_",
                "shop::Widget::operator+(shop::Widget const&)",
            ),
            (
                "_ZNSt6vectorIiSaIiEE9push_backERKi",
                "std::vector<int, std::allocator<int> >::push_back(int const&)",
            ),
            ("_ZNK3foo3BarIiE3getEv", "foo::Bar<int>::get() const"),
            ("_ZN4shop4pokeEi.cold", "shop::poke(int) [clone .cold]"),
            ("_Z3maxIiET_S0_S0_", "int max<int>(int, int)"),
        ];
        for (mangled, expected) in cases {
            assert_eq!(demangle_symbol_name(mangled), expected, "{mangled}");
        }
    }

    #[test]
    fn demangles_rust_names_without_their_hash() {
        assert_eq!(
            demangle_symbol_name("_ZN3std2rt10lang_start17h0123456789abcdefE"),
            "std::rt::lang_start"
        );
        assert_eq!(
            demangle_symbol_name("_ZN4core3fmt5write17h36f29ab2d1e3e7a5E"),
            "core::fmt::write"
        );
        // v0: `mycrate::foo`, the crate disambiguator left out.
        assert_eq!(
            demangle_symbol_name("_RNvCs1234_7mycrate3foo"),
            "mycrate::foo"
        );
    }

    #[test]
    fn leaves_plain_and_broken_names_unchanged() {
        for name in [
            "main",
            "getppid",
            "",
            "_Z",
            "_ZN",
            "_ZN4shop",
            "_Zgarbage!!",
            "_R",
            "_RNvC",
            "\u{0}_Z\u{ff}",
            "__libc_start_main",
        ] {
            assert_eq!(demangle_symbol_name(name), name, "{name:?}");
        }
    }

    #[test]
    fn survives_huge_and_deeply_nested_names() {
        let long_nested = format!("_Z{}", "N1a".repeat(33_333));
        assert_eq!(demangle_symbol_name(&long_nested), long_nested);
        let long_junk = format!("_Z{}", "x".repeat(100_000));
        assert_eq!(demangle_symbol_name(&long_junk), long_junk);
        // Below the length limit, deep nesting is cut by cpp_demangle's recursion limit.
        let deep_templates = format!("_Z1f{}", "I".repeat(2000));
        assert_eq!(demangle_symbol_name(&deep_templates), deep_templates);
        let deep_pointers = format!("_Z1f{}i", "P".repeat(4000));
        let printed = demangle_symbol_name(&deep_pointers);
        assert!(
            printed == deep_pointers || printed.starts_with("f(int"),
            "{printed}"
        );
    }

    #[test]
    fn reads_only_executable_file_mappings() {
        let maps = "5581e000-5581f000 r--p 00000000 fd:01 123 /usr/bin/sleep\n\
                    5581f000-55823000 r-xp 00001000 fd:01 123 /usr/bin/sleep\n\
                    7ffd1000-7ffd3000 r-xp 00000000 00:00 0 [vdso]\n\
                    garbage line\n";
        assert_eq!(
            parse_executable_mappings(maps),
            vec![ExecutableMapping {
                start: 0x5581f000,
                end: 0x55823000,
                file_offset: 0x1000,
                path: "/usr/bin/sleep".to_string(),
            }]
        );
    }
}
