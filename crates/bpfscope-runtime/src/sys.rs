//! Thin safe wrappers over the raw syscalls (bpf, perf_event_open, ioctl, mmap, epoll, mount, uname).
//!
//! Every wrapper turns `-1`/errno into `std::io::Error` and every new file descriptor into an
//! `OwnedFd`, so whatever is created is closed on drop — and since every attachment is a file
//! descriptor (perf event, raw tracepoint, bpf link), the kernel detaches it even after SIGKILL.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

pub use perf_event_open_sys::bindings::perf_event_attr;

// `enum bpf_cmd` values used here.
const BPF_MAP_CREATE: u32 = 0;
const BPF_MAP_LOOKUP_ELEM: u32 = 1;
const BPF_MAP_UPDATE_ELEM: u32 = 2;
const BPF_MAP_DELETE_ELEM: u32 = 3;
const BPF_MAP_GET_NEXT_KEY: u32 = 4;
const BPF_PROG_LOAD: u32 = 5;
const BPF_PROG_TEST_RUN: u32 = 10;
const BPF_OBJ_GET_INFO_BY_FD: u32 = 15;
const BPF_BTF_GET_FD_BY_ID: u32 = 19;
const BPF_BTF_GET_NEXT_ID: u32 = 23;
const BPF_RAW_TRACEPOINT_OPEN: u32 = 17;
const BPF_BTF_LOAD: u32 = 18;
const BPF_LINK_CREATE: u32 = 28;

/// `enum bpf_prog_type` values bpfscope loads.
pub mod prog_type {
    pub const KPROBE: u32 = 2;
    pub const TRACEPOINT: u32 = 5;
    pub const PERF_EVENT: u32 = 7;
    pub const RAW_TRACEPOINT: u32 = 17;
    pub const TRACING: u32 = 26;
}

/// `enum bpf_attach_type` values bpfscope uses.
pub mod attach_type {
    pub const TRACE_RAW_TP: u32 = 23;
    pub const TRACE_FENTRY: u32 = 24;
    pub const TRACE_FEXIT: u32 = 25;
    pub const PERF_EVENT: u32 = 41;
    pub const TRACE_KPROBE_MULTI: u32 = 42;
}

/// `BPF_ANY` flag of map updates: create or replace.
pub const BPF_ANY: u64 = 0;

/// `union bpf_attr` for BPF_MAP_CREATE, up to `map_name` (explicit fields, no implicit padding,
/// because the kernel rejects non-zero bytes it does not know).
#[repr(C)]
#[derive(Default)]
struct MapCreateAttr {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    inner_map_fd: u32,
    numa_node: u32,
    map_name: [u8; 16],
}

/// `union bpf_attr` for the element commands (lookup, update, delete, get_next_key).
#[repr(C)]
#[derive(Default)]
struct MapElemAttr {
    map_fd: u32,
    padding: u32,
    key: u64,
    value_or_next_key: u64,
    flags: u64,
}

/// `union bpf_attr` for BPF_PROG_LOAD, up to `attach_prog_fd`.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
    prog_btf_fd: u32,
    func_info_rec_size: u32,
    func_info: u64,
    func_info_cnt: u32,
    line_info_rec_size: u32,
    line_info: u64,
    line_info_cnt: u32,
    attach_btf_id: u32,
    attach_prog_fd: u32,
    padding: u32,
}

/// `union bpf_attr` for BPF_*_GET_NEXT_ID and BPF_*_GET_FD_BY_ID (`start_id`/`btf_id` share
/// the first word).
#[repr(C)]
#[derive(Default)]
struct ObjectIdAttr {
    id: u32,
    next_id: u32,
    open_flags: u32,
}

/// `union bpf_attr` for BPF_OBJ_GET_INFO_BY_FD.
#[repr(C)]
#[derive(Default)]
struct ObjectInfoAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}

/// `struct bpf_btf_info`.
#[repr(C)]
#[derive(Default)]
struct BtfInfo {
    btf: u64,
    btf_size: u32,
    id: u32,
    name: u64,
    name_len: u32,
    kernel_btf: u32,
}

/// `union bpf_attr` for BPF_PROG_TEST_RUN.
#[repr(C)]
#[derive(Default)]
struct TestRunAttr {
    prog_fd: u32,
    retval: u32,
    data_size_in: u32,
    data_size_out: u32,
    data_in: u64,
    data_out: u64,
    repeat: u32,
    duration: u32,
    ctx_size_in: u32,
    ctx_size_out: u32,
    ctx_in: u64,
    ctx_out: u64,
    flags: u32,
    cpu: u32,
}

/// `union bpf_attr` for BPF_BTF_LOAD, up to `btf_log_level`.
#[repr(C)]
#[derive(Default)]
struct BtfLoadAttr {
    btf: u64,
    btf_log_buf: u64,
    btf_size: u32,
    btf_log_size: u32,
    btf_log_level: u32,
    padding: u32,
}

/// `union bpf_attr` for BPF_RAW_TRACEPOINT_OPEN.
#[repr(C)]
#[derive(Default)]
struct RawTracepointOpenAttr {
    name: u64,
    prog_fd: u32,
    padding: u32,
}

/// `union bpf_attr` for BPF_LINK_CREATE with the kprobe_multi member of the union (the largest
/// we use; for other attach types the tail stays zero).
#[repr(C)]
#[derive(Default)]
struct LinkCreateAttr {
    prog_fd: u32,
    target_fd: u32,
    attach_type: u32,
    flags: u32,
    /// kprobe_multi: flags; tracing: target_btf_id.
    union_word_0: u32,
    /// kprobe_multi: cnt.
    union_word_1: u32,
    /// kprobe_multi: syms (pointer to an array of C string pointers).
    union_word_2: u64,
    union_word_3: u64,
    union_word_4: u64,
}

const _: () = assert!(std::mem::size_of::<MapCreateAttr>() == 44);
const _: () = assert!(std::mem::size_of::<MapElemAttr>() == 32);
const _: () = assert!(std::mem::size_of::<ProgLoadAttr>() == 120);
const _: () = assert!(std::mem::size_of::<TestRunAttr>() == 72);
const _: () = assert!(std::mem::size_of::<BtfLoadAttr>() == 32);
const _: () = assert!(std::mem::size_of::<RawTracepointOpenAttr>() == 16);
const _: () = assert!(std::mem::size_of::<LinkCreateAttr>() == 48);
const _: () = assert!(std::mem::size_of::<ObjectIdAttr>() == 12);
const _: () = assert!(std::mem::size_of::<ObjectInfoAttr>() == 16);
const _: () = assert!(std::mem::size_of::<BtfInfo>() == 32);

/// Calls bpf(cmd, attr, sizeof attr); the return value is an fd or 0.
fn bpf<T>(command: u32, attr: &mut T) -> io::Result<i64> {
    // SAFETY: `attr` is a live, fully initialised #[repr(C)] struct without implicit padding
    // whose size we pass; the kernel reads (and for some commands writes) at most that many bytes.
    // Pointers stored inside it are kept alive by the callers for the duration of the call.
    let result = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            command as libc::c_long,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result)
    }
}

/// Wraps a freshly returned file descriptor.
fn owned_fd_from_syscall_result(result: i64) -> io::Result<OwnedFd> {
    let raw =
        RawFd::try_from(result).map_err(|_| io::Error::other("file descriptor out of range"))?;
    if raw < 0 {
        return Err(io::Error::other("negative file descriptor"));
    }
    // SAFETY: the kernel just returned this descriptor to us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Copies a name into the kernel's 16-byte object-name field: at most 15 bytes of [A-Za-z0-9_.]
/// (other characters are rejected by the kernel, so they become `_`).
fn object_name(name: &str) -> [u8; 16] {
    let mut field = [0u8; 16];
    for (slot, byte) in field.iter_mut().take(15).zip(name.bytes()) {
        *slot = if byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'.' {
            byte
        } else {
            b'_'
        };
    }
    field
}

/// BPF_MAP_CREATE.
pub fn bpf_map_create(
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    name: &str,
) -> io::Result<OwnedFd> {
    let mut attr = MapCreateAttr {
        map_type,
        key_size,
        value_size,
        max_entries,
        map_flags,
        map_name: object_name(name),
        ..MapCreateAttr::default()
    };
    owned_fd_from_syscall_result(bpf(BPF_MAP_CREATE, &mut attr)?)
}

/// BPF_MAP_LOOKUP_ELEM. `value` must be as large as the kernel writes (value size, or the rounded
/// value size times possible CPUs for per-CPU maps). Returns false when the key is absent.
pub fn bpf_map_lookup_elem(map: BorrowedFd<'_>, key: &[u8], value: &mut [u8]) -> io::Result<bool> {
    let mut attr = MapElemAttr {
        map_fd: map.as_raw_fd() as u32,
        key: key.as_ptr() as u64,
        value_or_next_key: value.as_mut_ptr() as u64,
        ..MapElemAttr::default()
    };
    match bpf(BPF_MAP_LOOKUP_ELEM, &mut attr) {
        Ok(_) => Ok(true),
        Err(error) if error.raw_os_error() == Some(libc::ENOENT) => Ok(false),
        Err(error) => Err(error),
    }
}

/// BPF_MAP_UPDATE_ELEM.
pub fn bpf_map_update_elem(
    map: BorrowedFd<'_>,
    key: &[u8],
    value: &[u8],
    flags: u64,
) -> io::Result<()> {
    let mut attr = MapElemAttr {
        map_fd: map.as_raw_fd() as u32,
        key: key.as_ptr() as u64,
        value_or_next_key: value.as_ptr() as u64,
        flags,
        ..MapElemAttr::default()
    };
    bpf(BPF_MAP_UPDATE_ELEM, &mut attr).map(|_| ())
}

/// BPF_MAP_DELETE_ELEM. Returns false when the key was absent.
pub fn bpf_map_delete_elem(map: BorrowedFd<'_>, key: &[u8]) -> io::Result<bool> {
    let mut attr = MapElemAttr {
        map_fd: map.as_raw_fd() as u32,
        key: key.as_ptr() as u64,
        ..MapElemAttr::default()
    };
    match bpf(BPF_MAP_DELETE_ELEM, &mut attr) {
        Ok(_) => Ok(true),
        Err(error) if error.raw_os_error() == Some(libc::ENOENT) => Ok(false),
        Err(error) => Err(error),
    }
}

/// BPF_MAP_GET_NEXT_KEY. `key` None asks for the first key. Returns false at the end.
pub fn bpf_map_get_next_key(
    map: BorrowedFd<'_>,
    key: Option<&[u8]>,
    next_key: &mut [u8],
) -> io::Result<bool> {
    let mut attr = MapElemAttr {
        map_fd: map.as_raw_fd() as u32,
        key: key.map_or(0, |key| key.as_ptr() as u64),
        value_or_next_key: next_key.as_mut_ptr() as u64,
        ..MapElemAttr::default()
    };
    match bpf(BPF_MAP_GET_NEXT_KEY, &mut attr) {
        Ok(_) => Ok(true),
        Err(error) if error.raw_os_error() == Some(libc::ENOENT) => Ok(false),
        Err(error) => Err(error),
    }
}

/// What BPF_PROG_LOAD needs.
#[derive(Clone, Copy, Debug)]
pub struct ProgLoadRequest<'a> {
    pub prog_type: u32,
    pub expected_attach_type: u32,
    pub attach_btf_id: u32,
    pub insns: &'a [bpfscope_bpf::Insn],
    pub license: &'a CStr,
    pub name: &'a str,
    /// The BTF object describing the program's functions and their func_info records
    /// (needed when the program has callbacks).
    pub functions: Option<(BorrowedFd<'a>, &'a [bpfscope_bpf::func_btf::FuncInfo])>,
    /// The kernel module BTF object that `attach_btf_id` is an id of (fentry/fexit on a module
    /// function); None for vmlinux.
    pub attach_btf_object: Option<BorrowedFd<'a>>,
}

/// BPF_PROG_LOAD. With `log` the verifier writes its log there at `log_level`.
pub fn bpf_prog_load(
    request: &ProgLoadRequest<'_>,
    log: Option<(&mut [u8], u32)>,
) -> io::Result<OwnedFd> {
    let insn_count = u32::try_from(request.insns.len())
        .map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?;
    let mut attr = ProgLoadAttr {
        prog_type: request.prog_type,
        insn_cnt: insn_count,
        insns: request.insns.as_ptr() as u64,
        license: request.license.as_ptr() as u64,
        prog_name: object_name(request.name),
        expected_attach_type: request.expected_attach_type,
        attach_btf_id: request.attach_btf_id,
        // `attach_btf_obj_fd` shares this word with `attach_prog_fd`.
        attach_prog_fd: request
            .attach_btf_object
            .map_or(0, |object| object.as_raw_fd() as u32),
        ..ProgLoadAttr::default()
    };
    if let Some((btf, func_info)) = request.functions {
        attr.prog_btf_fd = btf.as_raw_fd() as u32;
        attr.func_info_rec_size = std::mem::size_of::<bpfscope_bpf::func_btf::FuncInfo>() as u32;
        attr.func_info = func_info.as_ptr() as u64;
        attr.func_info_cnt = u32::try_from(func_info.len())
            .map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?;
    }
    if let Some((buffer, level)) = log {
        attr.log_level = level;
        attr.log_size = u32::try_from(buffer.len()).unwrap_or(u32::MAX);
        attr.log_buf = buffer.as_mut_ptr() as u64;
    }
    owned_fd_from_syscall_result(bpf(BPF_PROG_LOAD, &mut attr)?)
}

/// BPF_BTF_LOAD of a raw BTF blob. With `log` the kernel writes its BTF verifier log there.
pub fn bpf_btf_load(blob: &[u8], log: Option<&mut [u8]>) -> io::Result<OwnedFd> {
    let mut attr = BtfLoadAttr {
        btf: blob.as_ptr() as u64,
        btf_size: u32::try_from(blob.len())
            .map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?,
        ..BtfLoadAttr::default()
    };
    if let Some(buffer) = log {
        attr.btf_log_level = 1;
        attr.btf_log_size = u32::try_from(buffer.len()).unwrap_or(u32::MAX);
        attr.btf_log_buf = buffer.as_mut_ptr() as u64;
    }
    owned_fd_from_syscall_result(bpf(BPF_BTF_LOAD, &mut attr)?)
}

/// BPF_PROG_TEST_RUN with only a context (the way raw tracepoint programs are run). Returns r0.
pub fn bpf_prog_test_run_with_context(program: BorrowedFd<'_>, context: &[u8]) -> io::Result<u32> {
    let mut attr = TestRunAttr {
        prog_fd: program.as_raw_fd() as u32,
        ctx_size_in: u32::try_from(context.len())
            .map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?,
        ctx_in: if context.is_empty() {
            0
        } else {
            context.as_ptr() as u64
        },
        ..TestRunAttr::default()
    };
    bpf(BPF_PROG_TEST_RUN, &mut attr)?;
    Ok(attr.retval)
}

/// BPF_RAW_TRACEPOINT_OPEN: attaches a raw tracepoint program to `name`, or (name None) a
/// tracing program (tp_btf, fentry, fexit) to the target given at load time.
pub fn bpf_raw_tracepoint_open(
    program: BorrowedFd<'_>,
    name: Option<&CStr>,
) -> io::Result<OwnedFd> {
    let mut attr = RawTracepointOpenAttr {
        name: name.map_or(0, |name| name.as_ptr() as u64),
        prog_fd: program.as_raw_fd() as u32,
        padding: 0,
    };
    owned_fd_from_syscall_result(bpf(BPF_RAW_TRACEPOINT_OPEN, &mut attr)?)
}

/// BPF_BTF_GET_NEXT_ID: the id of the next loaded BTF object after `start_id`, or None at the end.
pub fn bpf_btf_get_next_id(start_id: u32) -> io::Result<Option<u32>> {
    let mut attr = ObjectIdAttr {
        id: start_id,
        ..ObjectIdAttr::default()
    };
    match bpf(BPF_BTF_GET_NEXT_ID, &mut attr) {
        Ok(_) => Ok(Some(attr.next_id)),
        Err(error) if error.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(error) => Err(error),
    }
}

/// BPF_BTF_GET_FD_BY_ID.
pub fn bpf_btf_get_fd_by_id(id: u32) -> io::Result<OwnedFd> {
    let mut attr = ObjectIdAttr {
        id,
        ..ObjectIdAttr::default()
    };
    owned_fd_from_syscall_result(bpf(BPF_BTF_GET_FD_BY_ID, &mut attr)?)
}

/// BPF_OBJ_GET_INFO_BY_FD of a BTF object: its name (a module's name, `vmlinux`, or empty for
/// a program's BTF) and whether it is the kernel's own BTF.
pub fn bpf_btf_object_name(btf: BorrowedFd<'_>) -> io::Result<(String, bool)> {
    let mut name = [0u8; 64];
    let mut info = BtfInfo {
        name: name.as_mut_ptr() as u64,
        name_len: name.len() as u32,
        ..BtfInfo::default()
    };
    let mut attr = ObjectInfoAttr {
        bpf_fd: btf.as_raw_fd() as u32,
        info_len: std::mem::size_of::<BtfInfo>() as u32,
        info: &mut info as *mut BtfInfo as u64,
    };
    bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr)?;
    let end = name
        .iter()
        .position(|byte| *byte == 0)
        .unwrap_or(name.len());
    let text = String::from_utf8_lossy(name.get(..end).unwrap_or_default()).into_owned();
    Ok((text, info.kernel_btf != 0))
}

/// The loaded kernel BTF object of module `module` (walks every BTF object id), or None when no
/// such module is loaded.
pub fn kernel_module_btf_object(module: &str) -> io::Result<Option<OwnedFd>> {
    let mut id = 0;
    while let Some(next) = bpf_btf_get_next_id(id)? {
        id = next;
        let fd = match bpf_btf_get_fd_by_id(id) {
            Ok(fd) => fd,
            // Unloaded between the two calls.
            Err(error) if error.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(error) => return Err(error),
        };
        let (name, is_kernel) = bpf_btf_object_name(std::os::fd::AsFd::as_fd(&fd))?;
        if is_kernel && name == module {
            return Ok(Some(fd));
        }
    }
    Ok(None)
}

/// BPF_LINK_CREATE of a kprobe_multi link on the given kernel function names.
pub fn bpf_link_create_kprobe_multi(
    program: BorrowedFd<'_>,
    symbols: &[CString],
    is_return: bool,
) -> io::Result<OwnedFd> {
    const BPF_F_KPROBE_MULTI_RETURN: u32 = 1;
    let symbol_pointers: Vec<*const libc::c_char> =
        symbols.iter().map(|symbol| symbol.as_ptr()).collect();
    let mut attr = LinkCreateAttr {
        prog_fd: program.as_raw_fd() as u32,
        attach_type: attach_type::TRACE_KPROBE_MULTI,
        union_word_0: if is_return {
            BPF_F_KPROBE_MULTI_RETURN
        } else {
            0
        },
        union_word_1: u32::try_from(symbol_pointers.len())
            .map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?,
        union_word_2: symbol_pointers.as_ptr() as u64,
        ..LinkCreateAttr::default()
    };
    owned_fd_from_syscall_result(bpf(BPF_LINK_CREATE, &mut attr)?)
}

/// A zeroed `perf_event_attr` with its size set.
pub fn new_perf_event_attr() -> perf_event_attr {
    perf_event_attr {
        size: std::mem::size_of::<perf_event_attr>() as u32,
        ..perf_event_attr::default()
    }
}

/// perf_event_open(attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC).
pub fn perf_event_open(attr: &mut perf_event_attr, pid: i32, cpu: i32) -> io::Result<OwnedFd> {
    let flags = perf_event_open_sys::bindings::PERF_FLAG_FD_CLOEXEC as libc::c_ulong;
    // SAFETY: `attr` is a fully initialised perf_event_attr with its size field set; the string
    // pointers it may carry in config1 (kprobe function, uprobe path) are kept alive by the caller.
    let result = unsafe { perf_event_open_sys::perf_event_open(attr, pid, cpu, -1, flags) };
    if result < 0 {
        return Err(io::Error::last_os_error());
    }
    owned_fd_from_syscall_result(i64::from(result))
}

/// PERF_EVENT_IOC_SET_BPF: runs `program` whenever the perf event fires.
pub fn perf_event_set_bpf(event: BorrowedFd<'_>, program: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: plain ioctl on a perf event fd with an integer argument.
    let result = unsafe {
        perf_event_open_sys::ioctls::SET_BPF(event.as_raw_fd(), program.as_raw_fd() as u32)
    };
    if result < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// PERF_EVENT_IOC_ENABLE.
pub fn perf_event_enable(event: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: plain ioctl on a perf event fd with an integer argument.
    let result = unsafe { perf_event_open_sys::ioctls::ENABLE(event.as_raw_fd(), 0) };
    if result < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// PERF_EVENT_IOC_DISABLE.
pub fn perf_event_disable(event: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: plain ioctl on a perf event fd with an integer argument.
    let result = unsafe { perf_event_open_sys::ioctls::DISABLE(event.as_raw_fd(), 0) };
    if result < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The system page size.
pub fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size)
        .ok()
        .filter(|size| *size > 0)
        .unwrap_or(4096)
}

/// A shared memory mapping of a file descriptor, unmapped on drop.
#[derive(Debug)]
pub struct SharedMapping {
    address: *mut u8,
    length: usize,
}

impl SharedMapping {
    /// mmap(NULL, length, prot, MAP_SHARED, fd, offset).
    pub fn new(
        fd: BorrowedFd<'_>,
        length: usize,
        writable: bool,
        offset: usize,
    ) -> io::Result<SharedMapping> {
        let protection = if writable {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_READ
        };
        let offset = libc::off_t::try_from(offset)
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: a fresh shared mapping chosen by the kernel; it aliases no Rust object.
        let address = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                length,
                protection,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                offset,
            )
        };
        if address == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(SharedMapping {
            address: address as *mut u8,
            length,
        })
    }

    pub fn as_ptr(&self) -> *mut u8 {
        self.address
    }

    pub fn len(&self) -> usize {
        self.length
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }
}

impl Drop for SharedMapping {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the region this value mapped; no references into it outlive self.
        unsafe {
            libc::munmap(self.address as *mut libc::c_void, self.length);
        }
    }
}

/// An epoll instance.
#[derive(Debug)]
pub struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: no pointer arguments.
        let result = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if result < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Epoll {
            fd: owned_fd_from_syscall_result(i64::from(result))?,
        })
    }

    /// Watches `fd` for readability; `token` comes back from `wait`.
    pub fn add_readable(&self, fd: BorrowedFd<'_>, token: u64) -> io::Result<()> {
        let mut event = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // SAFETY: `event` is a valid epoll_event for the duration of the call.
        let result = unsafe {
            libc::epoll_ctl(
                self.fd.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                fd.as_raw_fd(),
                &mut event,
            )
        };
        if result < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits up to `timeout_ms`; returns the tokens of ready descriptors (empty on timeout or
    /// when a signal interrupted the wait, so the caller re-checks its flags).
    pub fn wait(&self, timeout_ms: i32) -> io::Result<Vec<u64>> {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 8];
        // SAFETY: the kernel writes at most `events.len()` entries into our array.
        let result = unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                events.as_mut_ptr(),
                events.len() as i32,
                timeout_ms,
            )
        };
        if result < 0 {
            let error = io::Error::last_os_error();
            if error.raw_os_error() == Some(libc::EINTR) {
                return Ok(Vec::new());
            }
            return Err(error);
        }
        let ready = usize::try_from(result).unwrap_or(0);
        Ok(events.iter().take(ready).map(|event| event.u64).collect())
    }
}

/// pidfd_open(pid): a descriptor that becomes readable when the process exits.
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: no pointer arguments.
    let result = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if result < 0 {
        return Err(io::Error::last_os_error());
    }
    owned_fd_from_syscall_result(result)
}

/// Where tracefs is normally mounted.
pub const TRACEFS_MOUNT_POINT: &str = "/sys/kernel/tracing";

/// `mount -t tracefs tracefs /sys/kernel/tracing`.
pub fn mount_tracefs() -> io::Result<()> {
    mount_pseudo_filesystem("tracefs", TRACEFS_MOUNT_POINT)
}

/// `mount -t securityfs securityfs /sys/kernel/security` (where the lockdown mode is read).
pub fn mount_securityfs() -> io::Result<()> {
    mount_pseudo_filesystem("securityfs", "/sys/kernel/security")
}

fn mount_pseudo_filesystem(filesystem: &str, target: &str) -> io::Result<()> {
    let source = CString::new(filesystem).map_err(io::Error::other)?;
    let target = CString::new(target).map_err(io::Error::other)?;
    // SAFETY: all pointers are valid NUL-terminated strings that outlive the call; no data argument.
    let result = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            source.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if result < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The tracefs root: `/sys/kernel/tracing` or the legacy `/sys/kernel/debug/tracing`, if mounted.
pub fn find_tracefs() -> Option<PathBuf> {
    ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
        .iter()
        .map(PathBuf::from)
        .find(|root| root.join("events").is_dir())
}

/// The kernel release (`uname -r`).
pub fn kernel_release() -> io::Result<String> {
    // SAFETY: utsname is plain bytes; all-zero is a valid value.
    let mut names: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uname writes into the struct we own.
    if unsafe { libc::uname(&mut names) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let bytes: Vec<u8> = names
        .release
        .iter()
        .take_while(|c| **c != 0)
        .map(|c| *c as u8)
        .collect();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Parses a kernel CPU list (`0-3,5,7-8`) into CPU numbers. Pure; `None` on malformed text.
pub fn parse_cpu_list(text: &str) -> Option<Vec<u32>> {
    let mut cpus = Vec::new();
    for part in text.trim().split(',').filter(|part| !part.is_empty()) {
        match part.split_once('-') {
            Some((first, last)) => {
                let first: u32 = first.trim().parse().ok()?;
                let last: u32 = last.trim().parse().ok()?;
                if last < first || last - first > 65_536 {
                    return None;
                }
                cpus.extend(first..=last);
            }
            None => cpus.push(part.trim().parse().ok()?),
        }
    }
    Some(cpus)
}

fn read_cpu_list(path: &Path) -> io::Result<Vec<u32>> {
    let text = std::fs::read_to_string(path)?;
    parse_cpu_list(&text)
        .filter(|cpus| !cpus.is_empty())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("malformed CPU list in {}", path.display()),
            )
        })
}

/// The possible CPUs (the kernel sizes per-CPU map values by their count).
pub fn possible_cpus() -> io::Result<Vec<u32>> {
    read_cpu_list(Path::new("/sys/devices/system/cpu/possible"))
}

/// The online CPUs (where per-CPU perf events are opened).
pub fn online_cpus() -> io::Result<Vec<u32>> {
    read_cpu_list(Path::new("/sys/devices/system/cpu/online"))
}

/// A perf PMU's dynamic type number from `/sys/bus/event_source/devices/NAME/type`.
pub fn pmu_type(pmu_name: &str) -> io::Result<u32> {
    let path = Path::new("/sys/bus/event_source/devices")
        .join(pmu_name)
        .join("type");
    let text = std::fs::read_to_string(&path)?;
    text.trim().parse().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("malformed {}", path.display()),
        )
    })
}

/// The config bit of a PMU format flag (`config:0` in `.../format/retprobe`).
pub fn pmu_format_bit(pmu_name: &str, flag: &str) -> io::Result<u32> {
    let path = Path::new("/sys/bus/event_source/devices")
        .join(pmu_name)
        .join("format")
        .join(flag);
    let text = std::fs::read_to_string(&path)?;
    parse_pmu_format_bit(&text).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("malformed {}", path.display()),
        )
    })
}

/// The first bit of a PMU format field written `config:N` or `config:N-M` (e.g. the uprobe
/// PMU's `ref_ctr_offset`, `config:32-63`).
pub fn pmu_format_field_start(pmu_name: &str, field: &str) -> io::Result<u32> {
    let path = Path::new("/sys/bus/event_source/devices")
        .join(pmu_name)
        .join("format")
        .join(field);
    let text = std::fs::read_to_string(&path)?;
    let start = text.trim().split('-').next().unwrap_or("");
    parse_pmu_format_bit(start).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("malformed {}", path.display()),
        )
    })
}

/// Parses `config:N` into N. Pure.
pub fn parse_pmu_format_bit(text: &str) -> Option<u32> {
    let bit: u32 = text.trim().strip_prefix("config:")?.parse().ok()?;
    (bit < 64).then_some(bit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_parse() {
        assert_eq!(parse_cpu_list("0-1\n"), Some(vec![0, 1]));
        assert_eq!(parse_cpu_list("0,2-4,7"), Some(vec![0, 2, 3, 4, 7]));
        assert_eq!(parse_cpu_list("5"), Some(vec![5]));
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("x"), None);
    }

    #[test]
    fn pmu_format_bits_parse() {
        assert_eq!(parse_pmu_format_bit("config:0\n"), Some(0));
        assert_eq!(parse_pmu_format_bit("config:63"), Some(63));
        assert_eq!(parse_pmu_format_bit("config:64"), None);
        assert_eq!(parse_pmu_format_bit("config1:0-63"), None);
    }

    #[test]
    fn object_names_are_sanitised_and_truncated() {
        let field = object_name("tracepoint:syscalls:sys_enter_getppid");
        assert_eq!(&field[..15], b"tracepoint_sysc");
        assert_eq!(field[15], 0);
    }
}
