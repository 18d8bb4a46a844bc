//! Finds a uprobe/USDT target the way the dynamic linker and the shell would: `libc` → `/lib/.../libc.so.6`.
//!
//! Library names are looked up in `/etc/ld.so.cache` (the `glibc-ld.so.cache1.1` format, parsed by
//! the pure [`parse_ld_so_cache`]) and then in the standard library directories; bare program
//! names are looked up in the standard program directories; anything with a `/` is a path.

use crate::glob::Glob;
use crate::{KernelFs, ProbeError};

/// The magic that starts the current (glibc ≥ 2.32 only writes this one) cache format.
const NEW_FORMAT_MAGIC: &[u8] = b"glibc-ld.so.cache1.1";
/// The magic of the pre-2.32 format, which may precede the new one in the same file.
const OLD_FORMAT_MAGIC: &[u8] = b"ld.so-1.7.0";
/// Header of the new format: magic+version (20), nlibs, len_strings, flags+3 pad,
/// extension_offset, 3 unused words.
const NEW_FORMAT_HEADER_SIZE: usize = 48;
/// flags (i32), key, value, osversion (u32 each), hwcap (u64).
const NEW_FORMAT_ENTRY_SIZE: usize = 24;
/// Old format: magic padded to 12 bytes, then nlibs, then 12-byte entries.
const OLD_FORMAT_HEADER_SIZE: usize = 16;
const OLD_FORMAT_ENTRY_SIZE: usize = 12;

/// `FLAG_ELF_LIBC6` in the low byte of an entry's flags: a glibc-linked ELF library.
const CACHE_FLAG_TYPE_MASK: i32 = 0x00ff;
const CACHE_FLAG_ELF_LIBC6: i32 = 0x0003;
/// The architecture bits of an entry's flags (x86-64 is `FLAG_X8664_LIB64`, aarch64 `FLAG_AARCH64_LIB64`).
const CACHE_FLAG_ARCH_MASK: i32 = 0xff00;

/// Where the dynamic linker looks when the cache has no answer, in its order (Debian multiarch first).
const STANDARD_LIBRARY_DIRECTORIES: &[&str] = &[
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib/aarch64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
    "/usr/local/lib",
];

/// Where bare program names (`bash`) are looked for. bpftrace resolves such names through `$PATH`
/// (as `which` does); we use the standard `PATH` directories rather than this process's `$PATH`
/// so that the answer does not depend on the environment bpfscope was started from (sudo resets it).
const STANDARD_PROGRAM_DIRECTORIES: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// One library the cache knows: its soname-like key and the file it stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LdCacheEntry {
    /// The name programs ask for, e.g. `libc.so.6`.
    pub name: String,
    /// The file, e.g. `/lib/x86_64-linux-gnu/libc.so.6`.
    pub path: String,
    /// Raw `flags` word: library type in the low byte, architecture in the next.
    pub flags: i32,
    /// Non-zero for libraries in `glibc-hwcaps` subdirectories (preferred on capable CPUs).
    pub hwcap: u64,
}

impl LdCacheEntry {
    /// Whether the dynamic linker of this build's architecture could load this entry.
    pub fn is_for_this_architecture(&self) -> bool {
        if self.flags & CACHE_FLAG_TYPE_MASK != CACHE_FLAG_ELF_LIBC6 {
            return false;
        }
        match host_architecture_flag() {
            Some(expected) => self.flags & CACHE_FLAG_ARCH_MASK == expected,
            None => true,
        }
    }
}

/// The architecture byte ldconfig writes for libraries of the architecture we run on.
fn host_architecture_flag() -> Option<i32> {
    if cfg!(target_arch = "x86_64") {
        Some(0x0300)
    } else if cfg!(target_arch = "aarch64") {
        Some(0x0a00)
    } else {
        None
    }
}

fn bad_cache(reason: impl Into<String>) -> ProbeError {
    ProbeError::BadFile {
        path: "/etc/ld.so.cache".to_string(),
        reason: format!("{}; regenerate it with `ldconfig`", reason.into()),
    }
}

fn read_u32_le(bytes: &[u8], offset: usize) -> Option<u32> {
    let word = bytes.get(offset..offset.checked_add(4)?)?;
    Some(u32::from_le_bytes([word[0], word[1], word[2], word[3]]))
}

fn read_u64_le(bytes: &[u8], offset: usize) -> Option<u64> {
    let low = read_u32_le(bytes, offset)?;
    let high = read_u32_le(bytes, offset.checked_add(4)?)?;
    Some(u64::from(low) | (u64::from(high) << 32))
}

/// The NUL-terminated string at `offset`, or `None` when it runs off the end or is not UTF-8.
fn read_c_string(bytes: &[u8], offset: usize) -> Option<&str> {
    let tail = bytes.get(offset..)?;
    let length = tail.iter().position(|byte| *byte == 0)?;
    std::str::from_utf8(tail.get(..length)?).ok()
}

/// Parses an `ld.so.cache` in the new format (alone, or after an old-format section).
///
/// Entries are returned in file order, which is the dynamic linker's order of preference.
/// Only little-endian caches are read (the format is host-endian and we run on x86-64/aarch64).
pub fn parse_ld_so_cache(bytes: &[u8]) -> Result<Vec<LdCacheEntry>, ProbeError> {
    let new_format_start = if bytes.starts_with(NEW_FORMAT_MAGIC) {
        0
    } else if bytes.starts_with(OLD_FORMAT_MAGIC) {
        // Compatibility files put the old table first; the new header follows it, 8-byte aligned.
        let old_count =
            read_u32_le(bytes, 12).ok_or_else(|| bad_cache("truncated old-format header"))?;
        let old_end = (old_count as usize)
            .checked_mul(OLD_FORMAT_ENTRY_SIZE)
            .and_then(|size| size.checked_add(OLD_FORMAT_HEADER_SIZE))
            .ok_or_else(|| bad_cache("absurd old-format entry count"))?;
        let aligned = old_end
            .checked_add(7)
            .map(|end| end & !7)
            .unwrap_or(usize::MAX);
        match bytes.get(aligned..) {
            Some(rest) if rest.starts_with(NEW_FORMAT_MAGIC) => aligned,
            _ => {
                return Err(bad_cache(
                    "only the pre-glibc-2.32 format is present, which is not supported",
                ))
            }
        }
    } else {
        return Err(bad_cache("not an ld.so.cache file (unknown magic)"));
    };
    let cache = bytes.get(new_format_start..).unwrap_or_default();
    if cache.len() < NEW_FORMAT_HEADER_SIZE {
        return Err(bad_cache("truncated header"));
    }
    let library_count =
        read_u32_le(cache, 20).ok_or_else(|| bad_cache("truncated header"))? as usize;
    let entries_end = library_count
        .checked_mul(NEW_FORMAT_ENTRY_SIZE)
        .and_then(|size| size.checked_add(NEW_FORMAT_HEADER_SIZE))
        .filter(|end| *end <= cache.len())
        .ok_or_else(|| {
            bad_cache(format!(
                "{library_count} entries do not fit in the file (truncated?)"
            ))
        })?;
    let mut entries = Vec::with_capacity(library_count);
    let mut entry_offset = NEW_FORMAT_HEADER_SIZE;
    while entry_offset < entries_end {
        let flags = read_u32_le(cache, entry_offset).map(|word| word as i32);
        let key_offset = read_u32_le(cache, entry_offset + 4);
        let value_offset = read_u32_le(cache, entry_offset + 8);
        let hwcap = read_u64_le(cache, entry_offset + 16);
        let (Some(flags), Some(key_offset), Some(value_offset), Some(hwcap)) =
            (flags, key_offset, value_offset, hwcap)
        else {
            return Err(bad_cache("truncated entry table"));
        };
        // String offsets in the new format count from the start of its header.
        let name = read_c_string(cache, key_offset as usize);
        let path = read_c_string(cache, value_offset as usize);
        let (Some(name), Some(path)) = (name, path) else {
            return Err(bad_cache(format!(
                "entry {} points outside the string table",
                (entry_offset - NEW_FORMAT_HEADER_SIZE) / NEW_FORMAT_ENTRY_SIZE
            )));
        };
        entries.push(LdCacheEntry {
            name: name.to_string(),
            path: path.to_string(),
            flags,
            hwcap,
        });
        entry_offset += NEW_FORMAT_ENTRY_SIZE;
    }
    Ok(entries)
}

/// The stem every acceptable file name for `name` starts with: `libc`, `libc.so`, `c` → `libc.so`;
/// `libc.so.6` stays `libc.so.6`.
fn library_stem(name: &str) -> String {
    let with_prefix = if name.starts_with("lib") {
        name.to_string()
    } else {
        format!("lib{name}")
    };
    if with_prefix.contains(".so") {
        with_prefix
    } else {
        format!("{with_prefix}.so")
    }
}

/// Whether a library file name satisfies the stem: exactly it, or it followed by a version (`.6`).
fn library_name_matches(file_name: &str, stem: &str) -> bool {
    file_name == stem
        || file_name
            .strip_prefix(stem)
            .is_some_and(|rest| rest.starts_with('.'))
}

fn has_elf_magic(fs: &KernelFs, system_path: &str) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(fs.path(system_path))
        .and_then(|mut file| file.read_exact(&mut magic))
        .is_ok_and(|()| magic == *b"\x7fELF")
}

fn is_regular_file(fs: &KernelFs, system_path: &str) -> bool {
    std::fs::metadata(fs.path(system_path)).is_ok_and(|metadata| metadata.is_file())
}

/// Looks a library name up in `/etc/ld.so.cache`; entries whose file is gone or is not ELF
/// (e.g. a `libc.so` linker script) are skipped as the dynamic linker would fail on them.
fn find_library_in_cache(fs: &KernelFs, name: &str) -> Option<String> {
    let bytes = fs.read("/etc/ld.so.cache").ok()?;
    let entries = parse_ld_so_cache(&bytes).ok()?;
    let stem = library_stem(name);
    entries
        .iter()
        .filter(|entry| entry.is_for_this_architecture())
        .filter(|entry| library_name_matches(&entry.name, &stem))
        .find(|entry| has_elf_magic(fs, &entry.path))
        .map(|entry| entry.path.clone())
}

fn find_library_in_standard_directories(fs: &KernelFs, name: &str) -> Option<String> {
    let stem = library_stem(name);
    for directory in STANDARD_LIBRARY_DIRECTORIES {
        let Ok(file_names) = fs.list_dir(directory) else {
            continue;
        };
        // Exact names first, then the lowest versioned name (sorted order) for determinism.
        let mut candidates: Vec<&String> = file_names
            .iter()
            .filter(|file_name| library_name_matches(file_name, &stem))
            .collect();
        candidates.sort_by_key(|file_name| (file_name.as_str() != stem, file_name.len()));
        for file_name in candidates {
            let path = format!("{directory}/{file_name}");
            if has_elf_magic(fs, &path) {
                return Some(path);
            }
        }
    }
    None
}

fn find_program_in_standard_directories(fs: &KernelFs, name: &str) -> Option<String> {
    STANDARD_PROGRAM_DIRECTORIES
        .iter()
        .map(|directory| format!("{directory}/{name}"))
        .find(|path| is_regular_file(fs, path))
}

/// Whether a name is spelled like a library (`libc`, `libssl.so.3`, `foo.so`) rather than a program.
fn looks_like_library_name(name: &str) -> bool {
    name.starts_with("lib") || name.contains(".so")
}

/// Resolves a uprobe/USDT target to the system path of one file.
///
/// - A name containing `/` is a path (relative ones are made absolute on the live system);
///   it must exist.
/// - A library name (`libc`, `libc.so`, `libc.so.6`) is found like the dynamic linker finds it:
///   `/etc/ld.so.cache` first, then the standard library directories.
/// - A bare program name (`bash`) is looked up in the standard `PATH` directories, as bpftrace
///   resolves it through `PATH`.
///
/// The returned path is the name to show (`/lib/x86_64-linux-gnu/libc.so.6`), not canonicalized,
/// so that listings keep the name the user or the cache gave.
pub fn resolve_binary(fs: &KernelFs, name: &str) -> Result<String, ProbeError> {
    if name.is_empty() {
        return Err(ProbeError::BadPattern {
            pattern: name.to_string(),
            reason:
                "no binary given; name a path (/usr/bin/bash), a program (bash) or a library (libc)"
                    .to_string(),
        });
    }
    if name.contains('/') {
        let system_path = if !name.starts_with('/') && fs.is_live() {
            match std::env::current_dir() {
                Ok(directory) => directory.join(name).to_string_lossy().into_owned(),
                Err(_) => name.to_string(),
            }
        } else {
            name.to_string()
        };
        if !fs.exists(&system_path) {
            return Err(ProbeError::BadFile {
                path: system_path,
                reason: "no such file; check the path, or give a library name (libc) or a program \
                         name (bash) to have it looked up"
                    .to_string(),
            });
        }
        return Ok(system_path);
    }
    let found = if looks_like_library_name(name) {
        find_library_in_cache(fs, name)
            .or_else(|| find_library_in_standard_directories(fs, name))
            .or_else(|| find_program_in_standard_directories(fs, name))
    } else {
        find_program_in_standard_directories(fs, name)
            .or_else(|| find_library_in_cache(fs, name))
            .or_else(|| find_library_in_standard_directories(fs, name))
    };
    found.ok_or_else(|| ProbeError::BadFile {
        path: name.to_string(),
        reason: format!(
            "not found as a library (ld.so.cache, {}) nor as a program ({}); give the full path",
            STANDARD_LIBRARY_DIRECTORIES.join(", "),
            STANDARD_PROGRAM_DIRECTORIES.join(", ")
        ),
    })
}

/// Whether a target names several files by wildcard (`/usr/lib/*/libc.so.6`).
pub fn has_wildcard(target: &str) -> bool {
    target.contains(['*', '?', '['])
}

/// Resolves a target that may hold wildcards in its path (`/usr/bin/*sh`) to every matching
/// regular file, sorted; without wildcards this is [`resolve_binary`].
///
/// Wildcards are only accepted in paths (containing `/`): a wildcard library or program name
/// would need a search of every process (bpftrace's `-p`), which is not supported.
pub fn resolve_binaries(fs: &KernelFs, target: &str) -> Result<Vec<String>, ProbeError> {
    if !has_wildcard(target) {
        return resolve_binary(fs, target).map(|path| vec![path]);
    }
    if !target.starts_with('/') {
        return Err(ProbeError::BadPattern {
            pattern: target.to_string(),
            reason: "wildcards in the binary are only supported in absolute paths \
                     (e.g. /usr/lib/*/libc.so.6); give the path of the binary or library"
                .to_string(),
        });
    }
    let mut prefixes = vec![String::new()];
    let components: Vec<&str> = target
        .split('/')
        .filter(|component| !component.is_empty())
        .collect();
    for (index, component) in components.iter().enumerate() {
        let is_last = index + 1 == components.len();
        let mut next_prefixes = Vec::new();
        if has_wildcard(component) {
            let glob = Glob::new(component)?;
            for prefix in &prefixes {
                let directory = if prefix.is_empty() {
                    "/".to_string()
                } else {
                    prefix.clone()
                };
                let Ok(names) = fs.list_dir(&directory) else {
                    continue;
                };
                // Hidden files are matched only by a pattern that starts with a dot, as in the shell.
                next_prefixes.extend(
                    names
                        .iter()
                        .filter(|name| !name.starts_with('.') || component.starts_with('.'))
                        .filter(|name| glob.matches(name))
                        .map(|name| format!("{prefix}/{name}")),
                );
            }
        } else {
            next_prefixes.extend(
                prefixes
                    .iter()
                    .map(|prefix| format!("{prefix}/{component}")),
            );
        }
        prefixes = if is_last {
            next_prefixes
                .into_iter()
                .filter(|path| is_regular_file(fs, path))
                .collect()
        } else {
            next_prefixes
                .into_iter()
                .filter(|path| std::fs::metadata(fs.path(path)).is_ok_and(|meta| meta.is_dir()))
                .collect()
        };
    }
    prefixes.sort();
    prefixes.dedup();
    Ok(prefixes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes a new-format cache holding `entries` as (flags, name, path), string table after the entries.
    fn build_cache(entries: &[(i32, &str, &str)]) -> Vec<u8> {
        let mut strings = Vec::new();
        let strings_start = NEW_FORMAT_HEADER_SIZE + entries.len() * NEW_FORMAT_ENTRY_SIZE;
        let mut table = Vec::new();
        for (flags, name, path) in entries {
            let key_offset = strings_start + strings.len();
            strings.extend_from_slice(name.as_bytes());
            strings.push(0);
            let value_offset = strings_start + strings.len();
            strings.extend_from_slice(path.as_bytes());
            strings.push(0);
            table.extend_from_slice(&flags.to_le_bytes());
            table.extend_from_slice(&(key_offset as u32).to_le_bytes());
            table.extend_from_slice(&(value_offset as u32).to_le_bytes());
            table.extend_from_slice(&0u32.to_le_bytes());
            table.extend_from_slice(&0u64.to_le_bytes());
        }
        let mut bytes = NEW_FORMAT_MAGIC.to_vec();
        bytes.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&(strings.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&[2, 0, 0, 0]);
        bytes.extend_from_slice(&[0u8; 16]);
        assert_eq!(bytes.len(), NEW_FORMAT_HEADER_SIZE);
        bytes.extend_from_slice(&table);
        bytes.extend_from_slice(&strings);
        bytes
    }

    #[test]
    fn parses_synthetic_cache_in_order() {
        let bytes = build_cache(&[
            (0x0303, "libz.so.1", "/lib/x86_64-linux-gnu/libz.so.1"),
            (0x0303, "libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6"),
            (0x0003, "libc.so.6", "/lib32/libc.so.6"),
        ]);
        let entries = parse_ld_so_cache(&bytes).unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[1].name, "libc.so.6");
        assert_eq!(entries[1].path, "/lib/x86_64-linux-gnu/libc.so.6");
        assert_eq!(entries[2].flags, 0x0003);
        if cfg!(target_arch = "x86_64") {
            assert!(entries[1].is_for_this_architecture());
            assert!(!entries[2].is_for_this_architecture());
        }
    }

    #[test]
    fn parses_new_format_after_old_format() {
        let new_part = build_cache(&[(0x0303, "libm.so.6", "/lib/x86_64-linux-gnu/libm.so.6")]);
        // Old header with one 12-byte entry: 16 + 12 = 28, aligned to 32.
        let mut bytes = b"ld.so-1.7.0\0".to_vec();
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&[0u8; 12]);
        bytes.extend_from_slice(&[0u8; 4]);
        let new_start = bytes.len();
        assert_eq!(new_start, 32);
        bytes.extend_from_slice(&new_part);
        let entries = parse_ld_so_cache(&bytes).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].path, "/lib/x86_64-linux-gnu/libm.so.6");
    }

    #[test]
    fn damaged_caches_are_errors_not_panics() {
        let bytes = build_cache(&[(0x0303, "libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6")]);
        for length in 0..bytes.len() {
            let result = parse_ld_so_cache(&bytes[..length]);
            assert!(result.is_err(), "prefix of {length} bytes parsed");
        }
        assert!(
            parse_ld_so_cache(b"garbage garbage garbage garbage garbage garbage garbage").is_err()
        );
        let mut huge_count = bytes.clone();
        huge_count[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
        let error = parse_ld_so_cache(&huge_count).unwrap_err().to_string();
        assert!(error.contains("ldconfig"), "{error}");
    }

    #[test]
    fn library_names_match_like_the_dynamic_linker() {
        assert_eq!(library_stem("libc"), "libc.so");
        assert_eq!(library_stem("c"), "libc.so");
        assert_eq!(library_stem("libc.so"), "libc.so");
        assert_eq!(library_stem("libc.so.6"), "libc.so.6");
        assert!(library_name_matches("libc.so.6", "libc.so"));
        assert!(library_name_matches("libc.so", "libc.so"));
        assert!(!library_name_matches("libcap.so.2", "libc.so"));
        assert!(!library_name_matches("libc.so.60", "libc.so.6"));
    }

    #[test]
    fn rooted_lookup_uses_cache_then_directories() {
        let root = std::env::temp_dir().join(format!("bpfscope-ldcache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(root.join("opt/libs")).unwrap();
        std::fs::create_dir_all(root.join("usr/lib")).unwrap();
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        let arch = host_architecture_flag().unwrap_or(0x0300) | CACHE_FLAG_ELF_LIBC6;
        let cache = build_cache(&[
            (arch, "libgone.so.1", "/opt/libs/libgone.so.1"),
            (arch, "libfoo.so.2", "/opt/libs/libfoo.so.2"),
        ]);
        std::fs::write(root.join("etc/ld.so.cache"), cache).unwrap();
        std::fs::write(root.join("opt/libs/libfoo.so.2"), b"\x7fELF fake").unwrap();
        std::fs::write(root.join("usr/lib/libbar.so.1"), b"\x7fELF fake").unwrap();
        std::fs::write(root.join("usr/lib/libbar.so"), b"INPUT(linker script)").unwrap();
        std::fs::write(root.join("usr/bin/tool"), b"#!/bin/sh\n").unwrap();
        let fs = KernelFs::rooted(&root);
        assert_eq!(
            resolve_binary(&fs, "libfoo").unwrap(),
            "/opt/libs/libfoo.so.2"
        );
        assert_eq!(
            resolve_binary(&fs, "libfoo.so.2").unwrap(),
            "/opt/libs/libfoo.so.2"
        );
        // Not in the cache: found in a standard directory, skipping the linker script.
        assert_eq!(
            resolve_binary(&fs, "libbar").unwrap(),
            "/usr/lib/libbar.so.1"
        );
        assert_eq!(resolve_binary(&fs, "tool").unwrap(), "/usr/bin/tool");
        let error = resolve_binary(&fs, "libgone").unwrap_err().to_string();
        assert!(error.contains("not found"), "{error}");
        let error = resolve_binary(&fs, "/opt/libs/missing")
            .unwrap_err()
            .to_string();
        assert!(error.contains("no such file"), "{error}");
        assert_eq!(
            resolve_binaries(&fs, "/opt/*/libfoo*").unwrap(),
            vec!["/opt/libs/libfoo.so.2"]
        );
        assert_eq!(
            resolve_binaries(&fs, "/usr/lib/libbar.so*").unwrap(),
            vec!["/usr/lib/libbar.so", "/usr/lib/libbar.so.1"]
        );
        assert!(resolve_binaries(&fs, "lib*").is_err());
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn live_libc_resolves_through_ld_so_cache() {
        let fs = KernelFs::live();
        let Ok(bytes) = fs.read("/etc/ld.so.cache") else {
            println!("skipped: /etc/ld.so.cache is not readable on this machine");
            return;
        };
        let entries = parse_ld_so_cache(&bytes).unwrap();
        let Some(libc) = entries
            .iter()
            .find(|entry| entry.name == "libc.so.6" && entry.is_for_this_architecture())
        else {
            println!("skipped: the cache has no libc.so.6 for this architecture");
            return;
        };
        for name in ["libc", "libc.so", "libc.so.6", "c"] {
            assert_eq!(
                resolve_binary(&fs, name).unwrap(),
                libc.path,
                "resolving {name}"
            );
        }
        let bash = resolve_binary(&fs, "bash").unwrap();
        assert!(bash.ends_with("/bash"), "{bash}");
    }
}
