//! BPF helper function ids (`enum bpf_func_id` in the kernel's uapi) with their names, for codegen and disassembly.

/// A kernel BPF helper: its stable numeric id and its name without the `bpf_` prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Helper {
    pub id: i32,
    pub name: &'static str,
}

macro_rules! helpers {
    ($($constant:ident = $id:literal, $name:literal;)*) => {
        $(pub const $constant: Helper = Helper { id: $id, name: $name };)*
        /// Every helper this table knows, in id order.
        pub const ALL_HELPERS: &[Helper] = &[$($constant),*];
    };
}

helpers! {
    MAP_LOOKUP_ELEM = 1, "map_lookup_elem";
    MAP_UPDATE_ELEM = 2, "map_update_elem";
    MAP_DELETE_ELEM = 3, "map_delete_elem";
    PROBE_READ = 4, "probe_read";
    KTIME_GET_NS = 5, "ktime_get_ns";
    TRACE_PRINTK = 6, "trace_printk";
    GET_PRANDOM_U32 = 7, "get_prandom_u32";
    GET_SMP_PROCESSOR_ID = 8, "get_smp_processor_id";
    TAIL_CALL = 12, "tail_call";
    GET_CURRENT_PID_TGID = 14, "get_current_pid_tgid";
    GET_CURRENT_UID_GID = 15, "get_current_uid_gid";
    GET_CURRENT_COMM = 16, "get_current_comm";
    PERF_EVENT_OUTPUT = 25, "perf_event_output";
    GET_STACKID = 27, "get_stackid";
    GET_CURRENT_TASK = 35, "get_current_task";
    PROBE_READ_STR = 45, "probe_read_str";
    OVERRIDE_RETURN = 58, "override_return";
    GET_STACK = 67, "get_stack";
    GET_CURRENT_CGROUP_ID = 80, "get_current_cgroup_id";
    SEND_SIGNAL = 109, "send_signal";
    PROBE_READ_USER = 112, "probe_read_user";
    PROBE_READ_KERNEL = 113, "probe_read_kernel";
    PROBE_READ_USER_STR = 114, "probe_read_user_str";
    PROBE_READ_KERNEL_STR = 115, "probe_read_kernel_str";
    KTIME_GET_BOOT_NS = 125, "ktime_get_boot_ns";
    RINGBUF_OUTPUT = 130, "ringbuf_output";
    RINGBUF_RESERVE = 131, "ringbuf_reserve";
    RINGBUF_SUBMIT = 132, "ringbuf_submit";
    RINGBUF_DISCARD = 133, "ringbuf_discard";
    RINGBUF_QUERY = 134, "ringbuf_query";
    GET_CURRENT_TASK_BTF = 158, "get_current_task_btf";
    KTIME_GET_COARSE_NS = 160, "ktime_get_coarse_ns";
    FOR_EACH_MAP_ELEM = 164, "for_each_map_elem";
    GET_FUNC_IP = 173, "get_func_ip";
    LOOP = 181, "loop";
    MAP_LOOKUP_PERCPU_ELEM = 195, "map_lookup_percpu_elem";
    KTIME_GET_TAI_NS = 208, "ktime_get_tai_ns";
}

/// The helper with this id, if the table knows it.
pub fn helper_by_id(id: i32) -> Option<Helper> {
    ALL_HELPERS.iter().copied().find(|helper| helper.id == id)
}

/// The helper's name as the disassembly prints it (`bpf_get_current_pid_tgid`), or `helper_N` if unknown.
pub fn helper_display_name(id: i32) -> String {
    match helper_by_id(id) {
        Some(helper) => format!("bpf_{}", helper.name),
        None => format!("helper_{id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_sorted() {
        let ids: Vec<i32> = ALL_HELPERS.iter().map(|helper| helper.id).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(ids, sorted);
    }

    #[test]
    fn looks_up_names() {
        assert_eq!(helper_display_name(14), "bpf_get_current_pid_tgid");
        assert_eq!(helper_display_name(131), "bpf_ringbuf_reserve");
        assert_eq!(helper_display_name(9999), "helper_9999");
    }
}
