//! Lazily indexed reader of kernel BTF: types, function prototypes, C rendering.
