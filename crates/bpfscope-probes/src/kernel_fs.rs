//! The one door to the live system's files (`/sys`, `/proc`), re-rootable so that tests read fixtures.

use std::io;
use std::path::{Path, PathBuf};

/// Reads system files below a root: `/` on a live machine, a fixture directory in tests.
///
/// Paths given to its methods are absolute system paths (`/proc/kallsyms`); the root is prefixed.
#[derive(Clone, Debug)]
pub struct KernelFs {
    root: PathBuf,
}

impl KernelFs {
    /// The running system.
    pub fn live() -> KernelFs {
        KernelFs {
            root: PathBuf::from("/"),
        }
    }

    /// A fixture tree laid out like `/` (e.g. `test_data/host/sys/kernel/tracing/...`).
    pub fn rooted(root: impl Into<PathBuf>) -> KernelFs {
        KernelFs { root: root.into() }
    }

    /// Whether this reads the running system.
    pub fn is_live(&self) -> bool {
        self.root == Path::new("/")
    }

    /// Where `system_path` really is under this root.
    pub fn path(&self, system_path: &str) -> PathBuf {
        self.root.join(system_path.trim_start_matches('/'))
    }

    pub fn read(&self, system_path: &str) -> io::Result<Vec<u8>> {
        std::fs::read(self.path(system_path))
    }

    /// The whole file, mapped read-only for the rest of the process when the file system allows
    /// it (sysfs BTF does since Linux 6.16), else read. Kernel BTF is ~6 MB that sysfs hands
    /// out 4 KiB per `read`: mapping it makes a BTF-using script start ~5 ms sooner.
    pub fn read_for_process_lifetime(&self, system_path: &str) -> io::Result<&'static [u8]> {
        let file = std::fs::File::open(self.path(system_path))?;
        // SAFETY: the mapping is private and read-only; kernel BTF and the fixture files this is
        // used on are not modified while we run (a truncated regular file would fault, which
        // is why only these immutable inputs are mapped).
        let mapped = unsafe { memmap2::MmapOptions::new().map_copy_read_only(&file) };
        match mapped {
            // Kept for the whole process: parsed BTF borrows from it and is cached globally.
            Ok(mapping) if !mapping.is_empty() => Ok(&**Box::leak(Box::new(mapping))),
            _ => {
                let bytes = std::fs::read(self.path(system_path))?;
                Ok(Box::leak(bytes.into_boxed_slice()))
            }
        }
    }

    pub fn read_to_string(&self, system_path: &str) -> io::Result<String> {
        std::fs::read_to_string(self.path(system_path))
    }

    pub fn exists(&self, system_path: &str) -> bool {
        self.path(system_path).exists()
    }

    /// The names in a directory, sorted.
    pub fn list_dir(&self, system_path: &str) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(self.path(system_path))? {
            names.push(entry?.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }
}
