//! What the checker needs to know about probes on this system, behind a trait so tests use fixtures.

use std::sync::Arc;

use bpfscope_btf::Btf;
use bpfscope_probes::glob::Glob;
use bpfscope_probes::tracefs::{self, TracepointFormat};
use bpfscope_probes::usdt::UsdtProbe;
use bpfscope_probes::{KernelFs, Provider};

/// Probe facts the checker asks for. The checker itself does no IO.
pub trait ProbeInfo {
    /// The format of `tracepoint:CATEGORY:EVENT`, or why it cannot be had.
    fn tracepoint_format(&self, category: &str, event: &str) -> Result<TracepointFormat, String>;
    /// The `(category, event)` pairs matching a `category:event` pattern with `*`/`?` wildcards, sorted.
    fn expand_tracepoints(&self, pattern: &str) -> Result<Vec<(String, String)>, String>;
    /// The kernel's BTF (vmlinux), asked for only when a script uses kernel types, so that
    /// scripts without them never pay for reading and indexing it.
    fn kernel_btf(&self) -> Result<Arc<Btf<'static>>, String> {
        Err("kernel BTF is not available here".to_string())
    }
    /// Kernel functions matching a wildcard `pattern`, as `-l` names them after `provider:`
    /// (`vfs_read`, `module:function` for kprobes; `vmlinux:vfs_read` for fentry), sorted.
    fn kernel_functions(&self, provider: Provider, pattern: &str) -> Result<Vec<String>, String> {
        let _ = (provider, pattern);
        Err("kernel functions cannot be listed here".to_string())
    }
    /// The BTF id and prototype of `function` in kernel module `module`'s BTF (for
    /// `fentry:MODULE:FUNCTION`).
    fn module_function(
        &self,
        module: &str,
        function: &str,
    ) -> Result<bpfscope_probes::kernel_funcs::ModuleFunction, String> {
        let _ = (module, function);
        Err("module BTF cannot be read here".to_string())
    }
    /// `(binary, function)` pairs matching a `BINARY:FUNCTION` pattern with wildcards.
    fn uprobe_targets(
        &self,
        provider: Provider,
        pattern: &str,
    ) -> Result<Vec<(String, String)>, String> {
        let _ = (provider, pattern);
        Err("binaries cannot be read here".to_string())
    }
    /// The path and file offset of `function` (`name`, `name+OFFSET` or an address) in `binary`
    /// (a path, a library name like `libc`, or a program on PATH).
    fn resolve_uprobe(&self, binary: &str, function: &str) -> Result<(String, u64), String> {
        let _ = (binary, function);
        Err("binaries cannot be read here".to_string())
    }
    /// The path and every location of a USDT probe.
    fn resolve_usdt(
        &self,
        binary: &str,
        provider: Option<&str>,
        name: &str,
    ) -> Result<(String, Vec<UsdtProbe>), String> {
        let _ = (binary, provider, name);
        Err("binaries cannot be read here".to_string())
    }
    /// The link-time address of a symbol (a variable too) in `binary`.
    fn symbol_address(&self, binary: &str, symbol: &str) -> Option<u64> {
        let _ = (binary, symbol);
        None
    }
    /// The address of a kernel symbol (`/proc/kallsyms`), or why there is none.
    fn kernel_symbol_address(&self, symbol: &str) -> Result<u64, String> {
        let _ = symbol;
        Err("kernel symbols cannot be read here".to_string())
    }
    /// The id of the cgroup v2 directory `path` (its inode number), or why there is none.
    fn cgroup_id(&self, path: &str) -> Result<u64, String> {
        let _ = path;
        Err("cgroups cannot be looked up here".to_string())
    }
}

/// Probe facts from the live system (or a fixture tree) through [`KernelFs`].
pub struct KernelProbeInfo {
    pub fs: KernelFs,
}

impl ProbeInfo for KernelProbeInfo {
    fn tracepoint_format(&self, category: &str, event: &str) -> Result<TracepointFormat, String> {
        tracefs::read_format(&self.fs, category, event).map_err(|error| error.to_string())
    }

    fn expand_tracepoints(&self, pattern: &str) -> Result<Vec<(String, String)>, String> {
        let glob = Glob::new(pattern).map_err(|error| error.to_string())?;
        let mut notes = Vec::new();
        let entries =
            tracefs::list_tracepoints(&self.fs, &|target| glob.matches(target), false, &mut notes)
                .map_err(|error| error.to_string())?;
        Ok(entries
            .into_iter()
            .filter_map(|entry| {
                let (category, event) = entry.target.split_once(':')?;
                Some((category.to_string(), event.to_string()))
            })
            .collect())
    }

    fn kernel_btf(&self) -> Result<Arc<Btf<'static>>, String> {
        bpfscope_probes::kernel_funcs::load_vmlinux_btf(&self.fs)
            .map(Arc::new)
            .map_err(|error| error.to_string())
    }

    fn module_function(
        &self,
        module: &str,
        function: &str,
    ) -> Result<bpfscope_probes::kernel_funcs::ModuleFunction, String> {
        bpfscope_probes::kernel_funcs::module_function(&self.fs, module, function)
            .map_err(|error| error.to_string())
    }

    fn kernel_functions(&self, provider: Provider, pattern: &str) -> Result<Vec<String>, String> {
        let glob = Glob::new(pattern).map_err(|error| error.to_string())?;
        let mut notes = Vec::new();
        let entries = bpfscope_probes::kernel_funcs::list_kernel_functions(
            &self.fs,
            provider,
            &|target| glob.matches(target),
            false,
            &mut notes,
        )
        .map_err(|error| error.to_string())?;
        Ok(entries.into_iter().map(|entry| entry.target).collect())
    }

    fn uprobe_targets(
        &self,
        provider: Provider,
        pattern: &str,
    ) -> Result<Vec<(String, String)>, String> {
        let entries = bpfscope_probes::elf::list_uprobes(&self.fs, provider, pattern, false)
            .map_err(|error| error.to_string())?;
        Ok(entries
            .into_iter()
            .filter_map(|entry| {
                let (binary, function) = entry.target.split_once(':')?;
                Some((binary.to_string(), function.to_string()))
            })
            .collect())
    }

    fn resolve_uprobe(&self, binary: &str, function: &str) -> Result<(String, u64), String> {
        bpfscope_probes::elf::resolve_uprobe(&self.fs, binary, function)
            .map_err(|error| error.to_string())
    }

    fn resolve_usdt(
        &self,
        binary: &str,
        provider: Option<&str>,
        name: &str,
    ) -> Result<(String, Vec<UsdtProbe>), String> {
        bpfscope_probes::usdt::resolve_usdt(&self.fs, binary, provider, name)
            .map_err(|error| error.to_string())
    }

    fn symbol_address(&self, binary: &str, symbol: &str) -> Option<u64> {
        bpfscope_probes::elf::symbol_address_in(&self.fs, binary, symbol)
    }

    fn kernel_symbol_address(&self, symbol: &str) -> Result<u64, String> {
        let text = self
            .fs
            .read_to_string("/proc/kallsyms")
            .map_err(|error| format!("reading /proc/kallsyms: {error}"))?;
        let entry = bpfscope_probes::kallsyms::parse_kallsyms_entries(&text)
            .into_iter()
            .find(|entry| entry.name == symbol && entry.module.is_none())
            .ok_or_else(|| format!("no kernel symbol '{symbol}' in /proc/kallsyms"))?;
        if entry.address == 0 {
            return Err(
                "/proc/kallsyms hides addresses (kernel.kptr_restrict; run as root)".into(),
            );
        }
        Ok(entry.address)
    }

    fn cgroup_id(&self, path: &str) -> Result<u64, String> {
        use std::os::unix::fs::MetadataExt;
        // A cgroup v2 id is the inode number of its directory in the cgroup file system.
        let metadata =
            std::fs::metadata(self.fs.path(path)).map_err(|error| format!("{path}: {error}"))?;
        if !metadata.is_dir() {
            return Err(format!("{path} is not a cgroup directory"));
        }
        Ok(metadata.ino())
    }
}

/// Probe facts from format-file texts held in memory, for tests.
#[derive(Default)]
pub struct FixtureProbeInfo {
    /// `(category, event, format file text)`.
    pub tracepoints: Vec<(String, String, String)>,
    /// Kernel BTF for scripts that use kernel types (e.g. built with `BtfBuilder`).
    pub btf: Option<Arc<Btf<'static>>>,
}

impl FixtureProbeInfo {
    pub fn with_tracepoint(
        mut self,
        category: &str,
        event: &str,
        format_text: &str,
    ) -> FixtureProbeInfo {
        self.tracepoints.push((
            category.to_string(),
            event.to_string(),
            format_text.to_string(),
        ));
        self
    }

    pub fn with_btf(mut self, btf: Btf<'static>) -> FixtureProbeInfo {
        self.btf = Some(Arc::new(btf));
        self
    }
}

impl ProbeInfo for FixtureProbeInfo {
    fn tracepoint_format(&self, category: &str, event: &str) -> Result<TracepointFormat, String> {
        let (_, _, text) = self
            .tracepoints
            .iter()
            .find(|(known_category, known_event, _)| {
                known_category == category && known_event == event
            })
            .ok_or_else(|| format!("no such tracepoint {category}:{event}"))?;
        tracefs::parse_format(text).map_err(|error| error.to_string())
    }

    fn expand_tracepoints(&self, pattern: &str) -> Result<Vec<(String, String)>, String> {
        let glob = Glob::new(pattern).map_err(|error| error.to_string())?;
        let mut matches: Vec<(String, String)> = self
            .tracepoints
            .iter()
            .filter(|(category, event, _)| glob.matches(&format!("{category}:{event}")))
            .map(|(category, event, _)| (category.clone(), event.clone()))
            .collect();
        matches.sort();
        matches.dedup();
        Ok(matches)
    }

    fn kernel_btf(&self) -> Result<Arc<Btf<'static>>, String> {
        self.btf
            .clone()
            .ok_or_else(|| "the fixture has no BTF".to_string())
    }
}
