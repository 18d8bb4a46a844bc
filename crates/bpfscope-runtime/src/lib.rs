//! The only crate that makes syscalls: bpf(), perf_event_open, mount, ring buffers.
