//! Kernel-function probe sources for `-l/-lv`: kprobe/kretprobe, fentry/fexit and rawtracepoint
//! from `available_filter_functions`, `/proc/kallsyms` and kernel BTF (vmlinux and modules).
//!
//! Naming follows newest bpftrace: `kprobe:vfs_read` and `kprobe:MODULE:func`,
//! `fentry:vmlinux:vfs_read` and `fentry:MODULE:func`, `rawtracepoint:vmlinux:sched_switch`.

use crate::kallsyms::{parse_available_filter_functions, KernelFunction};
use crate::{KernelFs, ProbeArg, ProbeEntry, ProbeError, Provider};
use bpfscope_btf::{Btf, FuncProto, Kind, TypeId};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";
const BTF_DIRECTORY: &str = "/sys/kernel/btf";
const KALLSYMS: &str = "/proc/kallsyms";
const FILTER_FUNCTIONS_PATHS: [&str; 2] = [
    "/sys/kernel/tracing/available_filter_functions",
    "/sys/kernel/debug/tracing/available_filter_functions",
];
/// BTF FUNC prefixes of the stubs the kernel generates per raw tracepoint (bpftrace's order).
const RAW_TRACEPOINT_PREFIXES: [&str; 2] = ["__probestub_", "__traceiter_"];
/// The providers whose traceable functions come from the same source (one shared note).
const KERNEL_FUNCTION_PROVIDERS: &str = "kprobe/kretprobe/fentry/fexit";
/// Arguments passed in registers: fentry/fexit cannot see more (bpftrace skips such functions).
const REGISTER_ARGUMENTS: usize = if cfg!(target_arch = "aarch64") { 8 } else { 6 };

/// The most arguments a BPF trampoline passes on this kernel: x86-64 trampolines take up to
/// 12 since Linux 6.6, before that only the register arguments. An unreadable release counts
/// as old, so nothing is listed that could fail to attach.
fn trampoline_argument_limit(fs: &KernelFs) -> usize {
    const X86_MANY_ARGUMENTS_SINCE: (u32, u32) = (6, 6);
    const MAX_BPF_FUNC_ARGS: usize = 12;
    if cfg!(target_arch = "x86_64") {
        let release = fs
            .read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default();
        if kernel_version(&release).is_some_and(|version| version >= X86_MANY_ARGUMENTS_SINCE) {
            return MAX_BPF_FUNC_ARGS;
        }
    }
    REGISTER_ARGUMENTS
}

/// `(major, minor)` of a release string such as `6.12.57+deb13-amd64`.
fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut numbers = release
        .trim()
        .split(|character: char| !character.is_ascii_digit());
    let major = numbers.next()?.parse().ok()?;
    let minor = numbers.next()?.parse().ok()?;
    Some((major, minor))
}

/// Kernel BTF: vmlinux plus every module's split BTF.
#[derive(Debug)]
pub struct KernelBtf {
    pub vmlinux: Arc<Btf<'static>>,
    /// `(module name, split BTF)`, sorted by name.
    pub modules: Vec<(String, Btf<'static>)>,
    /// Modules whose BTF could not be read or parsed, with the reason.
    pub broken_modules: Vec<(String, String)>,
}

impl KernelBtf {
    /// `("vmlinux", vmlinux)` followed by every module, in that order.
    pub fn objects(&self) -> impl Iterator<Item = (&str, &Btf<'static>)> {
        std::iter::once(("vmlinux", &*self.vmlinux))
            .chain(self.modules.iter().map(|(name, btf)| (name.as_str(), btf)))
    }
}

/// Reads and parses vmlinux BTF (read once per call, owned bytes).
pub fn load_vmlinux_btf(fs: &KernelFs) -> Result<Btf<'static>, ProbeError> {
    let bytes = fs
        .read_for_process_lifetime(VMLINUX_BTF)
        .map_err(|source| ProbeError::Io {
            path: VMLINUX_BTF.to_string(),
            source,
        })?;
    Btf::parse(bytes).map_err(|error| ProbeError::BadFile {
        path: VMLINUX_BTF.to_string(),
        reason: error.to_string(),
    })
}

/// vmlinux and module BTF, read once per process and root, then shared.
pub fn load_kernel_btf(fs: &KernelFs) -> Result<Arc<KernelBtf>, ProbeError> {
    static CACHE: Mutex<Option<(PathBuf, Arc<KernelBtf>)>> = Mutex::new(None);
    let root = fs.path("/");
    if let Ok(cache) = CACHE.lock() {
        if let Some((cached_root, btf)) = cache.as_ref() {
            if *cached_root == root {
                return Ok(btf.clone());
            }
        }
    }
    let vmlinux = Arc::new(load_vmlinux_btf(fs)?);
    let mut modules = Vec::new();
    let mut broken_modules = Vec::new();
    for name in fs.list_dir(BTF_DIRECTORY).unwrap_or_default() {
        if name == "vmlinux" {
            continue;
        }
        let path = format!("{BTF_DIRECTORY}/{name}");
        match fs.read(&path) {
            Ok(bytes) => match Btf::parse_split(bytes, vmlinux.clone()) {
                Ok(btf) => modules.push((name, btf)),
                Err(error) => broken_modules.push((name, error.to_string())),
            },
            Err(error) => broken_modules.push((name, error.to_string())),
        }
    }
    let loaded = Arc::new(KernelBtf {
        vmlinux,
        modules,
        broken_modules,
    });
    if let Ok(mut cache) = CACHE.lock() {
        *cache = Some((root, loaded.clone()));
    }
    Ok(loaded)
}

/// A function of a kernel module as fentry/fexit attach to it, from the module's split BTF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleFunction {
    /// The FUNC's id in the module's split BTF (what BPF_PROG_LOAD's `attach_btf_id` wants,
    /// together with the module's BTF object).
    pub btf_id: u32,
    /// Parameters: name and BTF type id (ids from `first_module_type_id` on are the module's
    /// own types; lower ids are vmlinux types).
    pub parameters: Vec<(String, u32)>,
    pub return_type: u32,
    pub first_module_type_id: u32,
}

/// Finds `function` in the BTF of kernel module `module` (`/sys/kernel/btf/MODULE`).
pub fn module_function(
    fs: &KernelFs,
    module: &str,
    function: &str,
) -> Result<ModuleFunction, ProbeError> {
    let path = format!("{BTF_DIRECTORY}/{module}");
    let kernel = load_kernel_btf(fs)?;
    let Some((_, module_btf)) = kernel.modules.iter().find(|(name, _)| name == module) else {
        let reason = match kernel
            .broken_modules
            .iter()
            .find(|(name, _)| name == module)
        {
            Some((_, reason)) => format!("its BTF cannot be read: {reason}"),
            None => "the module is not loaded, or was built without BTF (lsmod; modprobe it first)"
                .to_string(),
        };
        return Err(ProbeError::BadFile { path, reason });
    };
    let first_module_type_id = kernel.vmlinux.next_id();
    let Some(id) = module_btf
        .find(Kind::Func, function)
        .filter(|id| id.0 >= first_module_type_id)
    else {
        return Err(ProbeError::BadFile {
            path,
            reason: format!(
                "module '{module}' has no function '{function}' (list them with: bpfscope -l 'fentry:{module}:*')"
            ),
        });
    };
    let prototype = module_btf
        .func_proto(id)
        .map_err(|error| ProbeError::BadFile {
            path: path.clone(),
            reason: format!("{function}: {error}"),
        })?;
    Ok(ModuleFunction {
        btf_id: id.0,
        parameters: prototype
            .params
            .iter()
            .map(|param| (param.name.to_string(), param.ty.0))
            .collect(),
        return_type: prototype.return_type.0,
        first_module_type_id,
    })
}

/// A set of (module, function) names, stored as hashes: no allocation per name, and a false
/// positive needs a 64-bit collision.
#[derive(Debug, Default)]
struct FunctionSet {
    hashes: Vec<u64>,
}

fn function_hash(module: Option<&str>, name: &str) -> u64 {
    function_hash_of_bytes(module.map(str::as_bytes), name.as_bytes())
}

fn function_hash_of_bytes(module: Option<&[u8]>, name: &[u8]) -> u64 {
    // FNV-1a over "module\0name".
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let module = module.unwrap_or(&[]);
    for &byte in module.iter().chain(&[0]).chain(name) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

impl FunctionSet {
    fn from_functions(functions: &[KernelFunction<'_>]) -> FunctionSet {
        let mut hashes: Vec<u64> = functions
            .iter()
            .map(|function| function_hash(function.module, function.name))
            .collect();
        hashes.sort_unstable();
        hashes.dedup();
        FunctionSet { hashes }
    }

    /// Text symbols straight from `/proc/kallsyms` text (same result as `parse_kallsyms`).
    #[cfg(test)]
    fn from_kallsyms_text(text: &str) -> FunctionSet {
        let mut hashes: Vec<u64> = text
            .lines()
            .filter_map(|line| crate::kallsyms::text_symbol_of_line(line.as_bytes()))
            .map(|(name, module)| function_hash_of_bytes(module, name))
            .collect();
        hashes.sort_unstable();
        hashes.dedup();
        FunctionSet { hashes }
    }

    /// Text symbols of a `/proc/kallsyms` stream, read through one fixed buffer: the file is
    /// ~10 MB and only the hashes are kept.
    fn from_kallsyms_reader(mut reader: impl std::io::Read) -> std::io::Result<FunctionSet> {
        let mut hashes = Vec::with_capacity(1 << 18);
        let mut buffer = vec![0u8; 1 << 16];
        // Bytes of an unfinished line are moved to the front before the next read.
        let mut filled = 0;
        while let Some(free) = buffer.get_mut(filled..) {
            if free.is_empty() {
                // A line longer than the buffer cannot be a symbol: drop it.
                filled = 0;
                continue;
            }
            let read = match reader.read(free) {
                Ok(read) => read,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            };
            let end_of_file = read == 0;
            filled += read;
            let valid = buffer.get(..filled).unwrap_or(&[]);
            let complete = if end_of_file {
                filled
            } else {
                valid
                    .iter()
                    .rposition(|&byte| byte == b'\n')
                    .map_or(0, |newline| newline + 1)
            };
            let mut rest = valid.get(..complete).unwrap_or(&[]);
            while !rest.is_empty() {
                let (line, next) = match crate::kallsyms::find_byte(rest, b'\n') {
                    Some(newline) => (&rest[..newline], &rest[newline + 1..]),
                    None => (rest, &[][..]),
                };
                rest = next;
                if let Some((name, module)) = crate::kallsyms::text_symbol_of_line(line) {
                    hashes.push(function_hash_of_bytes(module, name));
                }
            }
            if end_of_file {
                break;
            }
            buffer.copy_within(complete..filled, 0);
            filled -= complete;
        }
        hashes.sort_unstable();
        hashes.dedup();
        Ok(FunctionSet { hashes })
    }

    #[cfg(test)]
    fn contains(&self, module: Option<&str>, name: &str) -> bool {
        self.hashes
            .binary_search(&function_hash(module, name))
            .is_ok()
    }
}

/// Which functions the kernel lets us trace, and where that knowledge came from.
enum Traceable {
    /// The text of `available_filter_functions`.
    FilterFunctions { text: String },
    /// Unreadable: the reason, for the note.
    Unavailable { reason: String },
}

fn read_filter_functions(fs: &KernelFs) -> Traceable {
    let mut reasons = Vec::new();
    for path in FILTER_FUNCTIONS_PATHS {
        match fs.read_to_string(path) {
            Ok(text) => return Traceable::FilterFunctions { text },
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => reasons.push(format!("{path}: {error}")),
        }
    }
    if reasons.is_empty() {
        reasons.push("tracefs is not mounted (no available_filter_functions)".to_string());
    }
    Traceable::Unavailable {
        reason: reasons.join("; "),
    }
}

/// Text symbols of `/proc/kallsyms` as a set, read once per process and root (~45 ms to read).
fn kallsyms_text_set(fs: &KernelFs) -> Result<Arc<FunctionSet>, ProbeError> {
    static CACHE: Mutex<Option<(PathBuf, Arc<FunctionSet>)>> = Mutex::new(None);
    let root = fs.path("/");
    if let Ok(cache) = CACHE.lock() {
        if let Some((cached_root, set)) = cache.as_ref() {
            if *cached_root == root {
                return Ok(set.clone());
            }
        }
    }
    let set = std::fs::File::open(fs.path(KALLSYMS))
        .and_then(FunctionSet::from_kallsyms_reader)
        .map_err(|source| ProbeError::Io {
            path: KALLSYMS.to_string(),
            source,
        })?;
    let set = Arc::new(set);
    if let Ok(mut cache) = CACHE.lock() {
        *cache = Some((root, set.clone()));
    }
    Ok(set)
}

/// Renders parameter types once per distinct type (prototypes share most of them).
struct ArgRenderer<'b> {
    btf: &'b Btf<'static>,
    /// Rendered type and size, indexed by type id.
    rendered: Vec<Option<(String, Option<u32>)>>,
}

impl<'b> ArgRenderer<'b> {
    fn new(btf: &'b Btf<'static>) -> ArgRenderer<'b> {
        ArgRenderer {
            btf,
            rendered: Vec::new(),
        }
    }

    fn arg(&mut self, ty: TypeId, name: String) -> ProbeArg {
        let index = ty.0 as usize;
        // Only valid ids are cached, so the table never exceeds the BTF's type count.
        if index >= self.rendered.len() && ty.0 < self.btf.next_id() {
            self.rendered.resize(self.btf.next_id() as usize, None);
        }
        let btf = self.btf;
        let slot = self.rendered.get_mut(index);
        let (text, size) = match slot {
            Some(Some(rendered)) => (rendered.0.clone(), rendered.1),
            Some(slot) => {
                let text = if ty == TypeId::VOID {
                    "void".to_string()
                } else {
                    btf.type_name(ty).unwrap_or_else(|_| "?".to_string())
                };
                let size = btf
                    .size_of(ty)
                    .ok()
                    .and_then(|size| u32::try_from(size).ok());
                *slot = Some((text.clone(), size));
                (text, size)
            }
            None => ("?".to_string(), None),
        };
        ProbeArg {
            ty: text,
            name,
            offset: None,
            size,
            signed: None,
        }
    }

    /// fentry: `TYPE NAME` per parameter; fexit adds `TYPE retval` (none for void).
    fn fentry_args(&mut self, proto: &FuncProto<'_>, with_retval: bool) -> Vec<ProbeArg> {
        let mut args: Vec<ProbeArg> = proto
            .params
            .iter()
            .map(|param| self.arg(param.ty, param.name.to_string()))
            .collect();
        if with_retval && proto.return_type != TypeId::VOID {
            args.push(self.arg(proto.return_type, "retval".to_string()));
        }
        args
    }

    /// kprobe: `TYPE argN`, floats skipped (they are not in the argument registers).
    fn kprobe_args(&mut self, function: TypeId) -> Vec<ProbeArg> {
        let Ok(proto) = self.btf.func_proto(function) else {
            return Vec::new();
        };
        let mut args = Vec::with_capacity(proto.params.len());
        for param in &proto.params {
            if self
                .btf
                .kind(param.ty)
                .is_ok_and(|kind| kind == Kind::Float)
            {
                continue;
            }
            let name = format!("arg{}", args.len());
            args.push(self.arg(param.ty, name));
        }
        args
    }

    /// kretprobe: `TYPE retval`, or a lone `void` for functions returning nothing.
    fn kretprobe_args(&mut self, function: TypeId) -> Vec<ProbeArg> {
        let Ok(proto) = self.btf.func_proto(function) else {
            return Vec::new();
        };
        if proto.return_type == TypeId::VOID {
            return vec![ProbeArg {
                ty: "void".to_string(),
                name: String::new(),
                offset: None,
                size: None,
                signed: None,
            }];
        }
        vec![self.arg(proto.return_type, "retval".to_string())]
    }

    /// rawtracepoint: the stub's parameters after the leading `void *__data`.
    fn raw_tracepoint_args(&mut self, function: TypeId) -> Vec<ProbeArg> {
        let Ok(proto) = self.btf.func_proto(function) else {
            return Vec::new();
        };
        proto
            .params
            .iter()
            .skip(1)
            .map(|param| self.arg(param.ty, param.name.to_string()))
            .collect()
    }
}

/// The probes of one kernel-function provider whose target (the text after `provider:`)
/// satisfies `matches`, sorted by target; with `verbose`, their arguments from BTF.
/// Explanations for the user (which source was used and why) are pushed to `notes`.
pub fn list_kernel_functions(
    fs: &KernelFs,
    provider: Provider,
    matches: &dyn Fn(&str) -> bool,
    verbose: bool,
    notes: &mut Vec<String>,
) -> Result<Vec<ProbeEntry>, ProbeError> {
    let mut entries = Vec::new();
    for_each_kernel_function(fs, provider, matches, verbose, notes, &mut |entry| {
        entries.push(entry.clone());
        Ok(())
    })?;
    Ok(entries)
}

/// Like `list_kernel_functions`, but hands each entry to `emit` in order instead of collecting
/// them: a full listing has ~50k entries per provider. An `emit` error stops the listing and is
/// returned as `ProbeError::Io` on `<output>`.
pub fn for_each_kernel_function(
    fs: &KernelFs,
    provider: Provider,
    matches: &dyn Fn(&str) -> bool,
    verbose: bool,
    notes: &mut Vec<String>,
    emit: &mut dyn FnMut(&ProbeEntry) -> std::io::Result<()>,
) -> Result<(), ProbeError> {
    let kprobe_like = matches!(provider, Provider::Kprobe | Provider::Kretprobe);
    let fentry_like = matches!(provider, Provider::Fentry | Provider::Fexit);
    let mut entries = if kprobe_like {
        match read_filter_functions(fs) {
            Traceable::FilterFunctions { text } => {
                list_kprobes_from_filter_functions(fs, provider, &text, matches, verbose)
            }
            Traceable::Unavailable { .. } => {
                return emit_from_table(fs, provider, matches, verbose, notes, emit);
            }
        }
    } else if fentry_like {
        return emit_from_table(fs, provider, matches, verbose, notes, emit);
    } else if provider == Provider::Rawtracepoint {
        list_raw_tracepoints(fs, matches, verbose, notes)?
    } else {
        Vec::new()
    };
    entries.sort_by(|left, right| left.target.cmp(&right.target));
    entries.dedup_by(|later, earlier| later.target == earlier.target);
    for entry in &entries {
        emit(entry).map_err(output_error)?;
    }
    Ok(())
}

/// Calls `visit` with the function name (no module prefix) of every entry that `kprobe:*` and
/// `fentry:*` list, each at least once: the stable marker of a full `-l` needs only the names,
/// and walking them directly costs a fraction of listing both providers.
pub fn for_each_kprobe_or_fentry_name(
    fs: &KernelFs,
    notes: &mut Vec<String>,
    visit: &mut dyn FnMut(&str),
) {
    if let Traceable::FilterFunctions { text } = read_filter_functions(fs) {
        for function in parse_available_filter_functions(&text) {
            visit(function.name);
        }
    }
    // From the table: every traceable function (kprobe fallback), a superset of fentry's.
    let Some(table) = traceable_table(fs, notes) else {
        return;
    };
    let objects: Vec<(&str, &Btf<'static>)> = table.btf.objects().collect();
    for function in table.functions.iter().filter(|function| function.traceable) {
        if let Some((_, object_btf)) = objects.get(function.object as usize) {
            visit(function.name(object_btf));
        }
    }
}

fn output_error(source: std::io::Error) -> ProbeError {
    ProbeError::Io {
        path: "<output>".to_string(),
        source,
    }
}

/// One BTF function that the kernel lets us trace.
#[derive(Clone, Copy, Debug)]
struct TraceableFunction {
    /// Index into `KernelBtf::objects()` (0 is vmlinux).
    object: u32,
    id: TypeId,
    /// Its prototype parses and its arguments fit in registers (fentry/fexit can attach).
    fentry_ok: bool,
    /// The kernel can trace it (it is in the traceable set): only these are listed.
    traceable: bool,
    /// Where its name is in its object's BTF strings ([`Btf::name_span`]).
    name_offset: u32,
    name_length: u32,
}

impl TraceableFunction {
    fn name<'btf>(&self, object_btf: &'btf Btf<'static>) -> &'btf str {
        object_btf
            .string_with_length(self.name_offset, self.name_length)
            .unwrap_or("")
    }
}

/// The traceable BTF functions (BTF ∩ traceable set), computed once per process and root and
/// shared by kprobe, kretprobe, fentry and fexit, with their two sort orders built on demand.
#[derive(Debug)]
struct TraceableTable {
    btf: Arc<KernelBtf>,
    functions: Vec<TraceableFunction>,
    note: Option<String>,
    /// Indices of `functions` sorted by kprobe target (`name`, `module:name`).
    kprobe_order: Vec<u32>,
    /// Indices of `functions` sorted by fentry target (`object:name`).
    fentry_order: Vec<u32>,
}

impl TraceableTable {
    fn object(&self, index: u32) -> Option<(&str, &Btf<'static>)> {
        self.btf.objects().nth(index as usize)
    }

    /// The target prefix and name of a function (`("", name)` for vmlinux kprobes).
    fn target_parts(&self, function: &TraceableFunction, kprobe_like: bool) -> (&str, &str) {
        let Some((object, object_btf)) = self.object(function.object) else {
            return ("", "");
        };
        let name = function.name(object_btf);
        let prefix = if kprobe_like && function.object == 0 {
            ""
        } else {
            object
        };
        (prefix, name)
    }

    fn order(&self, kprobe_like: bool) -> &[u32] {
        if kprobe_like {
            &self.kprobe_order
        } else {
            &self.fentry_order
        }
    }
}

/// Indices of `functions` sorted by their kprobe-style or fentry-style target.
fn target_order(btf: &KernelBtf, functions: &[TraceableFunction], kprobe_like: bool) -> Vec<u32> {
    // Objects are few: look them up by index. Names come from their cached spans, cheaply.
    let objects: Vec<(&str, &Btf<'static>)> = btf.objects().collect();
    let parts = |index: u32| -> (&str, &str) {
        let Some(function) = functions.get(index as usize) else {
            return ("", "");
        };
        let Some((object, object_btf)) = objects.get(function.object as usize) else {
            return ("", "");
        };
        let prefix = if kprobe_like && function.object == 0 {
            ""
        } else {
            object
        };
        (prefix, function.name(object_btf))
    };
    let mut order: Vec<u32> = (0..functions.len() as u32).collect();
    // Stable: among equal targets the first in BTF order wins.
    order.sort_by(|left, right| compare_targets(parts(*left), parts(*right)));
    order
}

/// Compares targets `prefix:name` (or `name` without a prefix) as strings, without building them.
fn compare_targets(left: (&str, &str), right: (&str, &str)) -> std::cmp::Ordering {
    // Same prefix (the common case: both in vmlinux): the names decide.
    if left.0 == right.0 {
        return left.1.cmp(right.1);
    }
    target_bytes(left).cmp(target_bytes(right))
}

/// The bytes of target `prefix:name` (or `name` without a prefix), without building it.
fn target_bytes<'a>((prefix, name): (&'a str, &'a str)) -> impl Iterator<Item = u8> + 'a {
    let separator: &'static [u8] = if prefix.is_empty() { b"" } else { b":" };
    prefix
        .as_bytes()
        .iter()
        .chain(separator)
        .chain(name.as_bytes())
        .copied()
}

/// The shared table, or None (with a note) when kernel BTF is unavailable.
fn traceable_table(fs: &KernelFs, notes: &mut Vec<String>) -> Option<Arc<TraceableTable>> {
    static CACHE: Mutex<Option<(PathBuf, Arc<TraceableTable>)>> = Mutex::new(None);
    let btf = kernel_btf_or_note(fs, "kernel function probes", notes)?;
    let root = fs.path("/");
    if let Ok(cache) = CACHE.lock() {
        if let Some((cached_root, table)) = cache.as_ref() {
            if *cached_root == root {
                notes.extend(table.note.clone());
                return Some(table.clone());
            }
        }
    }
    // Peak memory matters here (`-l` must stay lean): one vector of functions, their name hashes
    // beside it, and index vectors for the orders, nothing copied.
    let mut functions: Vec<TraceableFunction> = Vec::new();
    let mut hashes: Vec<u64> = Vec::new();
    let trampoline_arguments = trampoline_argument_limit(fs);
    let (kprobe_order, fentry_order, by_hash, (traceable, note)) = std::thread::scope(|scope| {
        // Reading /proc/kallsyms costs the kernel tens of ms: overlap it with the BTF work.
        let traceable_job = scope.spawn(|| traceable_functions(fs));
        for (object_index, (object, object_btf)) in btf.objects().enumerate() {
            let module = (object != "vmlinux").then_some(object);
            for function in object_btf.functions() {
                let Ok(function) = function else { continue };
                let Ok((name_offset, name_length)) = object_btf.name_span(function.id) else {
                    continue;
                };
                // Variadic functions cannot be traced by a trampoline at all.
                let fentry_ok = object_btf.func_proto(function.proto).is_ok_and(|proto| {
                    !proto.variadic && proto.params.len() <= trampoline_arguments
                });
                hashes.push(function_hash(module, function.name));
                functions.push(TraceableFunction {
                    object: object_index as u32,
                    id: function.id,
                    fentry_ok,
                    traceable: false,
                    name_offset,
                    name_length,
                });
            }
        }
        // Sorting needs no kallsyms: do it while the kernel is still producing it.
        let kprobe_order = target_order(&btf, &functions, true);
        let fentry_order = target_order(&btf, &functions, false);
        // Indices in hash order, so that marking the traceable ones is one merge.
        let mut by_hash: Vec<u32> = (0..functions.len() as u32).collect();
        by_hash.sort_unstable_by_key(|index| hashes.get(*index as usize).copied().unwrap_or(0));
        let traceable = traceable_job.join().unwrap_or_else(|_| {
            (
                None,
                Some(format!(
                    "{KERNEL_FUNCTION_PROVIDERS} functions: checking which functions are \
                     traceable failed"
                )),
            )
        });
        (kprobe_order, fentry_order, by_hash, traceable)
    });
    match &traceable {
        None => functions
            .iter_mut()
            .for_each(|function| function.traceable = true),
        Some(set) => {
            // Both are in hash order: walk them together.
            let mut set_hashes = set.hashes.iter().peekable();
            for index in &by_hash {
                let Some(hash) = hashes.get(*index as usize) else {
                    continue;
                };
                while set_hashes.next_if(|known| *known < hash).is_some() {}
                if set_hashes.peek() == Some(&hash) {
                    if let Some(function) = functions.get_mut(*index as usize) {
                        function.traceable = true;
                    }
                }
            }
        }
    }
    drop(by_hash);
    drop(hashes);
    notes.extend(note.clone());
    let table = Arc::new(TraceableTable {
        btf: btf.clone(),
        functions,
        note,
        kprobe_order,
        fentry_order,
    });
    if let Ok(mut cache) = CACHE.lock() {
        *cache = Some((root, table.clone()));
    }
    Some(table)
}

/// kprobe/kretprobe (fallback) and fentry/fexit entries from the shared table, in target order,
/// reusing one entry so nothing is allocated per function unless arguments are asked for.
fn emit_from_table(
    fs: &KernelFs,
    provider: Provider,
    matches: &dyn Fn(&str) -> bool,
    verbose: bool,
    notes: &mut Vec<String>,
    emit: &mut dyn FnMut(&ProbeEntry) -> std::io::Result<()>,
) -> Result<(), ProbeError> {
    let Some(table) = traceable_table(fs, notes) else {
        return Ok(());
    };
    let kprobe_like = matches!(provider, Provider::Kprobe | Provider::Kretprobe);
    let mut renderers: Vec<ArgRenderer<'_>> = if verbose {
        table
            .btf
            .objects()
            .map(|(_, object_btf)| ArgRenderer::new(object_btf))
            .collect()
    } else {
        Vec::new()
    };
    let mut entry = ProbeEntry::new(provider, String::new());
    let mut previous_target = String::new();
    let mut emitted_any = false;
    for index in table.order(kprobe_like) {
        let Some(function) = table.functions.get(*index as usize) else {
            continue;
        };
        if !function.traceable || (!kprobe_like && !function.fentry_ok) {
            continue;
        }
        let (prefix, name) = table.target_parts(function, kprobe_like);
        entry.target.clear();
        if !prefix.is_empty() {
            entry.target.push_str(prefix);
            entry.target.push(':');
        }
        entry.target.push_str(name);
        if !matches(&entry.target) {
            continue;
        }
        if emitted_any && entry.target == previous_target {
            continue;
        }
        if let Some(renderer) = renderers.get_mut(function.object as usize) {
            entry.args = match provider {
                Provider::Kprobe => renderer.kprobe_args(function.id),
                Provider::Kretprobe => renderer.kretprobe_args(function.id),
                _ => match renderer.btf.func_proto(function.id) {
                    Ok(proto) => renderer.fentry_args(&proto, provider == Provider::Fexit),
                    Err(_) => Vec::new(),
                },
            };
        }
        emit(&entry).map_err(output_error)?;
        previous_target.clone_from(&entry.target);
        emitted_any = true;
    }
    Ok(())
}

/// BTF for listing, or None with a note saying what is missing.
fn kernel_btf_or_note(
    fs: &KernelFs,
    what: &str,
    notes: &mut Vec<String>,
) -> Option<Arc<KernelBtf>> {
    match load_kernel_btf(fs) {
        Ok(btf) => {
            for (module, reason) in &btf.broken_modules {
                notes.push(format!("skipping BTF of module {module}: {reason}"));
            }
            Some(btf)
        }
        Err(error) => {
            notes.push(format!(
                "{what} need kernel BTF, which is unavailable: {error}"
            ));
            None
        }
    }
}

fn kprobe_target(module: Option<&str>, name: &str) -> String {
    match module {
        Some(module) if module != "vmlinux" => format!("{module}:{name}"),
        _ => name.to_string(),
    }
}

/// kprobe/kretprobe entries from a readable `available_filter_functions`, unsorted.
fn list_kprobes_from_filter_functions(
    fs: &KernelFs,
    provider: Provider,
    text: &str,
    matches: &dyn Fn(&str) -> bool,
    verbose: bool,
) -> Vec<ProbeEntry> {
    let mut entries = Vec::new();
    let btf = if verbose {
        load_kernel_btf(fs).ok()
    } else {
        None
    };
    let mut renderers: Vec<(&str, ArgRenderer<'_>)> = match &btf {
        Some(btf) => btf
            .objects()
            .map(|(name, object)| (name, ArgRenderer::new(object)))
            .collect(),
        None => Vec::new(),
    };
    for function in parse_available_filter_functions(text) {
        // `.part.N` clones cannot be probed by name.
        if function.name.contains(".part.") {
            continue;
        }
        let target = kprobe_target(function.module, function.name);
        if !matches(&target) {
            continue;
        }
        let mut entry = ProbeEntry::new(provider, target);
        let object = function.module.unwrap_or("vmlinux");
        if let Some((_, renderer)) = renderers.iter_mut().find(|(name, _)| *name == object) {
            if let Some(id) = renderer.btf.find(Kind::Func, function.name) {
                entry.args = if provider == Provider::Kprobe {
                    renderer.kprobe_args(id)
                } else {
                    renderer.kretprobe_args(id)
                };
            }
        }
        entries.push(entry);
    }
    entries
}

/// The functions that can be attached to, and the note explaining the source when it is not
/// `available_filter_functions`. The note is the same for every kernel-function provider, so a
/// listing of several of them says it once.
fn traceable_functions(fs: &KernelFs) -> (Option<Arc<FunctionSet>>, Option<String>) {
    match read_filter_functions(fs) {
        Traceable::FilterFunctions { text } => {
            (Some(Arc::new(FunctionSet::from_functions(&parse_available_filter_functions(&text)))), None)
        }
        Traceable::Unavailable { reason } => match kallsyms_text_set(fs) {
            Ok(set) => (
                Some(set),
                Some(format!(
                    "{KERNEL_FUNCTION_PROVIDERS} functions: available_filter_functions is unreadable ({reason}); listed \
                     BTF functions that are text symbols in /proc/kallsyms instead"
                )),
            ),
            Err(error) => (
                None,
                Some(format!(
                    "{KERNEL_FUNCTION_PROVIDERS} functions: neither available_filter_functions ({reason}) nor \
                     /proc/kallsyms ({error}) is readable; listed every BTF function, some may not attach"
                )),
            ),
        },
    }
}

fn list_raw_tracepoints(
    fs: &KernelFs,
    matches: &dyn Fn(&str) -> bool,
    verbose: bool,
    notes: &mut Vec<String>,
) -> Result<Vec<ProbeEntry>, ProbeError> {
    let mut entries = Vec::new();
    let Some(btf) = kernel_btf_or_note(fs, "rawtracepoint probes", notes) else {
        return Ok(entries);
    };
    for (object, object_btf) in btf.objects() {
        let mut renderer = ArgRenderer::new(object_btf);
        let mut seen = std::collections::HashSet::new();
        for function in object_btf.functions() {
            let Ok(function) = function else { continue };
            let Some(event) = RAW_TRACEPOINT_PREFIXES
                .iter()
                .find_map(|prefix| function.name.strip_prefix(prefix))
            else {
                continue;
            };
            if event.is_empty() || !seen.insert(event) {
                continue;
            }
            let target = format!("{object}:{event}");
            if !matches(&target) {
                continue;
            }
            let mut entry = ProbeEntry::new(Provider::Rawtracepoint, target);
            if verbose {
                entry.args = renderer.raw_tracepoint_args(function.id);
            }
            entries.push(entry);
        }
    }
    Ok(entries)
}

/// The C definition of `struct X`, `union X` or `enum X` from kernel BTF (vmlinux first, then
/// modules); None when no such type exists or the query is not of that form.
pub fn describe_type(fs: &KernelFs, query: &str) -> Result<Option<String>, ProbeError> {
    let btf = load_kernel_btf(fs)?;
    for (object, object_btf) in btf.objects() {
        let Some(id) = object_btf.find_c_type(query) else {
            continue;
        };
        // Split BTF finds base types too: only report a module when the type is its own.
        if object != "vmlinux" && id < object_btf.first_own_id() {
            continue;
        }
        let definition = object_btf
            .definition(id)
            .map_err(|error| ProbeError::BadFile {
                path: format!("{BTF_DIRECTORY}/{object}"),
                reason: error.to_string(),
            })?;
        return Ok(Some(definition));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    #[test]
    fn kernel_versions_and_trampoline_argument_limits() {
        assert_eq!(kernel_version("6.12.57+deb13-amd64"), Some((6, 12)));
        assert_eq!(kernel_version("6.1.0-37-amd64\n"), Some((6, 1)));
        assert_eq!(kernel_version("garbage"), None);
        assert_eq!(kernel_version(""), None);
        let directory =
            std::env::temp_dir().join(format!("bpfscope-osrelease-{}", std::process::id()));
        let proc_kernel = directory.join("proc/sys/kernel");
        std::fs::create_dir_all(&proc_kernel).unwrap();
        let fs = KernelFs::rooted(&directory);
        assert_eq!(
            trampoline_argument_limit(&fs),
            REGISTER_ARGUMENTS,
            "unreadable: old"
        );
        std::fs::write(proc_kernel.join("osrelease"), "6.1.0-37-amd64\n").unwrap();
        assert_eq!(trampoline_argument_limit(&fs), REGISTER_ARGUMENTS);
        std::fs::write(proc_kernel.join("osrelease"), "6.18.44-fc\n").unwrap();
        let expected = if cfg!(target_arch = "x86_64") {
            12
        } else {
            REGISTER_ARGUMENTS
        };
        assert_eq!(trampoline_argument_limit(&fs), expected);
        let _ = std::fs::remove_dir_all(&directory);
    }

    use super::*;
    use bpfscope_btf::builder::BtfBuilder;

    const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/test_data/btf/root");

    /// The fixture's BTF: a vmlinux with `vfs_read`, a void function, a 7-argument function,
    /// raw tracepoint stubs and `struct task_struct`; a module `ext4` with `ext4_file_open`.
    fn fixture_btf() -> (Vec<u8>, Vec<u8>) {
        let mut b = BtfBuilder::new();
        let int = b.int("int", 4, true);
        let char_type = b.int("char", 1, true);
        let long = b.int("long int", 8, true);
        let ulong = b.int("long unsigned int", 8, false);
        let size_t = b.reference(Kind::Typedef, "size_t", ulong);
        let ssize_t = b.reference(Kind::Typedef, "ssize_t", long);
        let loff_t = b.reference(Kind::Typedef, "loff_t", long);
        let file = b.composite(false, "file", 8, &[("f_pos", loff_t, 0, 0)]);
        let file_ptr = b.reference(Kind::Ptr, "", file);
        let char_ptr = b.reference(Kind::Ptr, "", char_type);
        let loff_ptr = b.reference(Kind::Ptr, "", loff_t);
        let void_ptr = b.reference(Kind::Ptr, "", 0);
        let proto = b.func_proto(
            ssize_t,
            &[
                ("file", file_ptr),
                ("buf", char_ptr),
                ("count", size_t),
                ("pos", loff_ptr),
            ],
        );
        b.func("vfs_read", proto, 1);
        let void_proto = b.func_proto(0, &[("file", file_ptr)]);
        b.func("fput", void_proto, 1);
        let many = b.func_proto(
            int,
            &[
                ("a", int),
                ("b", int),
                ("c", int),
                ("d", int),
                ("e", int),
                ("f", int),
                ("g", int),
            ],
        );
        b.func("seven_args", many, 1);
        b.func("not_in_kallsyms", void_proto, 0);
        let fwd = b.reference(Kind::Fwd, "task_struct", 0);
        let task_ptr = b.reference(Kind::Ptr, "", fwd);
        let switch_proto = b.func_proto(
            0,
            &[("__data", void_ptr), ("preempt", int), ("prev", task_ptr)],
        );
        b.func("__probestub_sched_switch", switch_proto, 0);
        let iter_proto = b.func_proto(
            int,
            &[("__data", void_ptr), ("preempt", int), ("prev", task_ptr)],
        );
        b.func("__traceiter_sched_switch", iter_proto, 1);
        let pid_t = b.reference(Kind::Typedef, "pid_t", int);
        b.composite(
            false,
            "task_struct",
            16,
            &[("parent", task_ptr, 0, 0), ("tgid", pid_t, 64, 0)],
        );
        let vmlinux = b.build();
        let base = Btf::parse(vmlinux.clone()).unwrap();
        let mut module = BtfBuilder::split_on(&base).unwrap();
        let open_proto = module.func_proto(int, &[("file", file_ptr)]);
        module.func("ext4_file_open", open_proto, 0);
        (vmlinux, module.build())
    }

    fn fixture() -> KernelFs {
        let (vmlinux, ext4) = fixture_btf();
        let directory = PathBuf::from(FIXTURE).join("sys/kernel/btf");
        // The committed fixture must be what the builder makes; regenerate on request.
        if std::env::var_os("BPFSCOPE_REGENERATE_FIXTURES").is_some() {
            std::fs::create_dir_all(&directory).unwrap();
            std::fs::write(directory.join("vmlinux"), &vmlinux).unwrap();
            std::fs::write(directory.join("ext4"), &ext4).unwrap();
        }
        assert_eq!(
            std::fs::read(directory.join("vmlinux")).unwrap(),
            vmlinux,
            "stale fixture vmlinux"
        );
        assert_eq!(
            std::fs::read(directory.join("ext4")).unwrap(),
            ext4,
            "stale fixture ext4"
        );
        KernelFs::rooted(FIXTURE)
    }

    fn listing(provider: Provider, verbose: bool) -> (Vec<String>, Vec<ProbeEntry>, Vec<String>) {
        let mut notes = Vec::new();
        let entries =
            list_kernel_functions(&fixture(), provider, &|_| true, verbose, &mut notes).unwrap();
        let names = entries.iter().map(|entry| entry.full_name()).collect();
        (names, entries, notes)
    }

    fn arg_lines(entry: &ProbeEntry) -> Vec<String> {
        entry
            .args
            .iter()
            .map(|arg| format!("{} {}", arg.ty, arg.name))
            .collect()
    }

    #[test]
    fn fentry_from_btf_filtered_by_kallsyms() {
        let (names, entries, notes) = listing(Provider::Fentry, true);
        assert_eq!(
            names,
            [
                "fentry:ext4:ext4_file_open",
                "fentry:vmlinux:__probestub_sched_switch",
                "fentry:vmlinux:__traceiter_sched_switch",
                "fentry:vmlinux:fput",
                "fentry:vmlinux:vfs_read",
            ]
        );
        let vfs_read = entries
            .iter()
            .find(|entry| entry.target == "vmlinux:vfs_read")
            .unwrap();
        assert_eq!(
            arg_lines(vfs_read),
            [
                "struct file * file",
                "char * buf",
                "size_t count",
                "loff_t * pos"
            ]
        );
        assert_eq!(vfs_read.args[2].size, Some(8));
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("/proc/kallsyms"), "{notes:?}");
    }

    #[test]
    fn fexit_adds_retval_except_for_void() {
        let (_, entries, _) = listing(Provider::Fexit, true);
        let vfs_read = entries
            .iter()
            .find(|entry| entry.target == "vmlinux:vfs_read")
            .unwrap();
        assert_eq!(arg_lines(vfs_read).last().unwrap(), "ssize_t retval");
        let fput = entries
            .iter()
            .find(|entry| entry.target == "vmlinux:fput")
            .unwrap();
        assert_eq!(arg_lines(fput), ["struct file * file"]);
    }

    #[test]
    fn kprobes_fall_back_to_btf_and_kallsyms() {
        // The fixture has no tracefs: the fallback is used and said once.
        let (names, entries, notes) = listing(Provider::Kprobe, true);
        assert!(names.contains(&"kprobe:vfs_read".to_string()), "{names:?}");
        assert!(
            names.contains(&"kprobe:ext4:ext4_file_open".to_string()),
            "{names:?}"
        );
        assert!(names.contains(&"kprobe:seven_args".to_string()));
        assert!(!names.iter().any(|name| name.contains("not_in_kallsyms")));
        assert_eq!(
            notes
                .iter()
                .filter(|note| note.contains("available_filter_functions"))
                .count(),
            1
        );
        let vfs_read = entries
            .iter()
            .find(|entry| entry.target == "vfs_read")
            .unwrap();
        assert_eq!(
            arg_lines(vfs_read),
            [
                "struct file * arg0",
                "char * arg1",
                "size_t arg2",
                "loff_t * arg3"
            ]
        );
        let (_, entries, _) = listing(Provider::Kretprobe, true);
        let vfs_read = entries
            .iter()
            .find(|entry| entry.target == "vfs_read")
            .unwrap();
        assert_eq!(arg_lines(vfs_read), ["ssize_t retval"]);
    }

    #[test]
    fn raw_tracepoints_from_stubs() {
        let (names, entries, _) = listing(Provider::Rawtracepoint, true);
        assert_eq!(names, ["rawtracepoint:vmlinux:sched_switch"]);
        assert_eq!(
            arg_lines(&entries[0]),
            ["int preempt", "struct task_struct * prev"]
        );
    }

    #[test]
    fn fast_kallsyms_set_equals_the_parser() {
        let text = std::fs::read_to_string(format!("{FIXTURE}/proc/kallsyms")).unwrap();
        let fast = FunctionSet::from_kallsyms_text(&text);
        let parsed = FunctionSet::from_functions(&crate::kallsyms::parse_kallsyms(&text));
        assert_eq!(fast.hashes, parsed.hashes);
        assert!(fast.contains(Some("ext4"), "ext4_file_open"));
        assert!(!fast.contains(None, "ext4_file_open"));
        assert!(!fast.contains(None, "jiffies"));
    }

    #[test]
    fn matcher_filters_before_work() {
        let mut notes = Vec::new();
        let entries = list_kernel_functions(
            &fixture(),
            Provider::Fentry,
            &|target| target.ends_with(":vfs_read"),
            false,
            &mut notes,
        )
        .unwrap();
        assert_eq!(entries.len(), 1);
        assert!(entries[0].args.is_empty());
    }

    #[test]
    fn describes_types() {
        let fs = fixture();
        let text = describe_type(&fs, "struct task_struct").unwrap().unwrap();
        assert_eq!(
            text,
            "struct task_struct {\n\tstruct task_struct *parent;\n\tpid_t tgid;\n};"
        );
        assert!(describe_type(&fs, "struct nope").unwrap().is_none());
        assert!(describe_type(&fs, "task_struct").unwrap().is_none());
    }

    #[test]
    fn missing_btf_is_a_note_not_an_error() {
        let mut notes = Vec::new();
        let fs = KernelFs::rooted(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/test_data/btf/does-not-exist"
        ));
        let entries =
            list_kernel_functions(&fs, Provider::Fentry, &|_| true, false, &mut notes).unwrap();
        assert!(entries.is_empty());
        assert_eq!(notes.len(), 1);
        assert!(load_vmlinux_btf(&fs).is_err());
    }

    fn live() -> Option<KernelFs> {
        let fs = KernelFs::live();
        if !fs.exists(VMLINUX_BTF) {
            eprintln!("skipping: no {VMLINUX_BTF}");
            return None;
        }
        Some(fs)
    }

    #[test]
    fn live_vfs_read_everywhere() {
        let Some(fs) = live() else { return };
        let mut notes = Vec::new();
        let is_vfs_read = |target: &str| target == "vfs_read" || target == "vmlinux:vfs_read";
        let fentry =
            list_kernel_functions(&fs, Provider::Fentry, &is_vfs_read, true, &mut notes).unwrap();
        assert_eq!(fentry.len(), 1);
        assert_eq!(
            arg_lines(&fentry[0]),
            [
                "struct file * file",
                "char * buf",
                "size_t count",
                "loff_t * pos"
            ]
        );
        let fexit =
            list_kernel_functions(&fs, Provider::Fexit, &is_vfs_read, true, &mut notes).unwrap();
        assert_eq!(arg_lines(&fexit[0]).last().unwrap(), "ssize_t retval");
        let kprobe =
            list_kernel_functions(&fs, Provider::Kprobe, &is_vfs_read, true, &mut notes).unwrap();
        assert_eq!(kprobe[0].full_name(), "kprobe:vfs_read");
        assert_eq!(
            arg_lines(&kprobe[0]),
            [
                "struct file * arg0",
                "char * arg1",
                "size_t arg2",
                "loff_t * arg3"
            ]
        );
        let raw = list_kernel_functions(
            &fs,
            Provider::Rawtracepoint,
            &|target| target == "vmlinux:sched_switch",
            true,
            &mut notes,
        )
        .unwrap();
        assert_eq!(raw.len(), 1);
        assert_eq!(raw[0].args[0].name, "preempt");
        let definition = describe_type(&fs, "struct task_struct").unwrap().unwrap();
        assert!(definition.starts_with("struct task_struct {\n"));
        assert!(definition.contains("\tstruct task_struct *parent;\n"));
    }

    #[test]
    #[ignore = "timing print; run with --release --ignored --nocapture"]
    fn live_timing_fentry_listing() {
        let Some(fs) = live() else { return };
        let start = std::time::Instant::now();
        let mut notes = Vec::new();
        let entries =
            list_kernel_functions(&fs, Provider::Fentry, &|_| true, true, &mut notes).unwrap();
        let listed = start.elapsed();
        let mut out = String::new();
        for entry in &entries {
            out.push_str(&entry.full_name());
            out.push('\n');
            for arg in &entry.args {
                out.push_str("    ");
                out.push_str(&arg.ty);
                out.push(' ');
                out.push_str(&arg.name);
                out.push('\n');
            }
        }
        eprintln!(
            "fentry -lv: {} probes listed in {listed:?}, formatted {} bytes in {:?}; notes {notes:?}",
            entries.len(),
            out.len(),
            start.elapsed() - listed
        );
    }
}
