//! Name resolution and type checking of bpftrace programs.
