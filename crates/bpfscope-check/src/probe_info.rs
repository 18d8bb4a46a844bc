//! What the checker needs to know about probes on this system, behind a trait so tests use fixtures.

use std::sync::Arc;

use bpfscope_btf::Btf;
use bpfscope_probes::glob::Glob;
use bpfscope_probes::tracefs::{self, TracepointFormat};
use bpfscope_probes::KernelFs;

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
