//! The `bpfscope` binary.
fn main() {}
