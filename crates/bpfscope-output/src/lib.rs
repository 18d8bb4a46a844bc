//! Events and map snapshots to bpftrace-identical text or JSON lines.
