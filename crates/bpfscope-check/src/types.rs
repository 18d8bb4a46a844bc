//! The checker's types: integers of each width and sign, booleans, strings with a capacity, pointers, arrays, tuples.

use bpfscope_bpf::{StackMode, ValueType};
use bpfscope_ktypes::CType;

/// Which address space a pointer points into, deciding `probe_read_user` vs `probe_read_kernel`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddressSpace {
    Kernel,
    User,
}

/// A type of a bpftrace value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    Int {
        bytes: u8,
        signed: bool,
    },
    Bool,
    /// A NUL-terminated string in a buffer of `capacity` bytes (the NUL included).
    Str {
        capacity: u32,
    },
    Pointer {
        pointee: Box<Type>,
        space: AddressSpace,
    },
    Array {
        element: Box<Type>,
        length: u32,
    },
    Tuple(Vec<Type>),
    /// A record (named tuple) `(a = 1, b = "x")`: laid out as a tuple, printed with names.
    Record(Vec<(String, Type)>),
    /// A `strftime(format, nsecs)` result: the nanoseconds, formatted in user space.
    Timestamp {
        format: String,
    },
    /// `kstack`/`ustack`: a frame count word (the process id in its high half for user
    /// stacks) followed by `depth` return addresses, symbolized in user space and printed
    /// as `mode` says.
    Stack {
        user: bool,
        depth: u32,
        mode: StackMode,
    },
    /// `ksym(addr)`/`usym(addr)`: an address printed as the name of the symbol containing it.
    Symbol {
        user: bool,
    },
    /// `username(uid)`: a user id printed as the user's name.
    UserName,
    /// `ntop()`: an address family word, then 16 address bytes (see `ValueType::InetAddress`).
    Inet,
    /// The `args` record of a probe: usable only through field access.
    Context,
    /// The result of a function that returns nothing (`printf`, `exit`).
    Void,
    /// A struct, union or non-`char` array in kernel memory (from BTF or a C definition in
    /// the script), held by its address: members and elements are read one at a time with
    /// `probe_read_kernel`, never the whole object.
    KernelObject(Box<CType>),
    /// A struct or union copied out of kernel memory into a variable or map value
    /// (`$task = *curtask`): its members are read from the copy, and it prints as `layout`.
    CopiedRecord {
        ctype: Box<CType>,
        layout: Box<ValueType>,
    },
    /// `argv()`: a process's arguments, NUL-separated, after a header of captured and
    /// missing byte counts (see `ValueType::Argv`). Too big for the stack: it is only built
    /// straight into a record or a map value.
    Argv {
        capacity: u32,
        max_args: u32,
    },
}

impl Type {
    pub const INT64: Type = Type::Int {
        bytes: 8,
        signed: true,
    };
    pub const UINT64: Type = Type::Int {
        bytes: 8,
        signed: false,
    };
    pub const UINT32: Type = Type::Int {
        bytes: 4,
        signed: false,
    };

    pub fn is_integer(&self) -> bool {
        matches!(self, Type::Int { .. } | Type::Bool)
    }

    pub fn is_pointer(&self) -> bool {
        matches!(self, Type::Pointer { .. })
    }

    /// Integers, booleans, pointers and timestamps live in one register.
    pub fn is_scalar(&self) -> bool {
        self.is_integer()
            || self.is_pointer()
            || matches!(
                self,
                Type::Timestamp { .. } | Type::Symbol { .. } | Type::UserName
            )
    }

    /// Whether the value is an `argv()` or ends with one (as the last element of a tuple or
    /// record, where the checker allows it).
    pub fn holds_argv(&self) -> bool {
        match self {
            Type::Argv { .. } => true,
            Type::Tuple(elements) => elements.last().is_some_and(Type::holds_argv),
            Type::Record(fields) => fields.last().is_some_and(|(_, ty)| ty.holds_argv()),
            _ => false,
        }
    }

    pub fn is_signed(&self) -> bool {
        matches!(self, Type::Int { signed: true, .. })
    }

    /// Bytes the value occupies in memory (record, map, stack).
    pub fn size(&self) -> u32 {
        match self {
            Type::Int { bytes, .. } => u32::from(*bytes),
            Type::Bool => 1,
            Type::Str { capacity } => *capacity,
            Type::Pointer { .. }
            | Type::Timestamp { .. }
            | Type::Symbol { .. }
            | Type::UserName => 8,
            Type::Stack { depth, .. } => depth.saturating_add(1).saturating_mul(8),
            Type::Inet => 24,
            Type::Array { element, length } => element.size().saturating_mul(*length),
            Type::Tuple(elements) => tuple_layout(elements).1,
            Type::Record(fields) => tuple_layout(&record_types(fields)).1,
            Type::KernelObject(ctype) => u32::try_from(ctype.size()).unwrap_or(u32::MAX),
            Type::Argv { capacity, .. } => {
                bpfscope_bpf::ARGV_HEADER_BYTES.saturating_add(*capacity)
            }
            Type::CopiedRecord { ctype, .. } => u32::try_from(ctype.size()).unwrap_or(u32::MAX),
            Type::Context | Type::Void => 0,
        }
    }

    /// The layout used in records and maps; `None` for types that cannot be stored.
    ///
    /// Scalars widen to 8 bytes so that user space reads one size (bpftrace 0.17 keeps all
    /// integers 64-bit); booleans print as the integers 0/1 as in 0.17.
    pub fn value_type(&self) -> Option<ValueType> {
        Some(match self {
            Type::Int { signed, .. } => ValueType::Int {
                bytes: 8,
                signed: *signed,
            },
            Type::Bool => ValueType::Int {
                bytes: 8,
                signed: false,
            },
            Type::Str { capacity } => ValueType::Str {
                capacity: *capacity,
            },
            Type::Pointer { .. } => ValueType::Pointer,
            Type::Timestamp { format } => ValueType::Timestamp {
                format: format.clone(),
            },
            Type::Stack {
                user: false,
                depth,
                mode,
            } => ValueType::KernelStack {
                depth: *depth,
                mode: *mode,
            },
            Type::Stack {
                user: true,
                depth,
                mode,
            } => ValueType::UserStack {
                depth: *depth,
                mode: *mode,
            },
            Type::Symbol { user: false } => ValueType::KernelSymbol,
            Type::Symbol { user: true } => ValueType::UserSymbol,
            Type::UserName => ValueType::UserName,
            Type::Inet => ValueType::InetAddress,
            Type::Array { .. } => ValueType::Buffer {
                capacity: self.size(),
            },
            Type::Tuple(elements) => {
                let (offsets, _) = tuple_layout(elements);
                let mut fields = Vec::new();
                for (offset, element) in offsets.iter().zip(elements) {
                    fields.push((*offset, element.value_type()?));
                }
                ValueType::Tuple(fields)
            }
            Type::Record(named) => {
                let types = record_types(named);
                let (offsets, size) = tuple_layout(&types);
                let mut fields = Vec::new();
                for ((name, element), offset) in named.iter().zip(offsets) {
                    fields.push(bpfscope_bpf::RecordField {
                        name: name.clone(),
                        offset,
                        ty: element.value_type()?,
                    });
                }
                ValueType::Record { size, fields }
            }
            Type::Argv { capacity, max_args } => ValueType::Argv {
                capacity: *capacity,
                max_args: *max_args,
            },
            Type::CopiedRecord { layout, .. } => (**layout).clone(),
            Type::Context | Type::Void | Type::KernelObject(_) => return None,
        })
    }

    /// Bytes a value takes in a record as [`Type::value_type`] lays it out.
    pub fn record_size(&self) -> u32 {
        self.value_type().map(|value| value.size()).unwrap_or(0)
    }
}

/// The types of a record's fields, in order.
pub fn record_types(fields: &[(String, Type)]) -> Vec<Type> {
    fields.iter().map(|(_, ty)| ty.clone()).collect()
}

/// Offsets of tuple elements as stored (each 8-aligned, scalars widened to 8) and the total size.
pub fn tuple_layout(elements: &[Type]) -> (Vec<u32>, u32) {
    let mut offsets = Vec::with_capacity(elements.len());
    let mut offset = 0u32;
    for element in elements {
        offsets.push(offset);
        offset = offset.saturating_add(element.record_size().div_ceil(8) * 8);
    }
    (offsets, offset)
}

impl std::fmt::Display for Type {
    /// bpftrace's spelling: `int64`, `uint32`, `string[16]`, `const char *`-like `int8 *`.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Type::Int { bytes, signed } => {
                write!(
                    formatter,
                    "{}int{}",
                    if *signed { "" } else { "u" },
                    u32::from(*bytes) * 8
                )
            }
            Type::Bool => write!(formatter, "bool"),
            Type::Str { capacity } => write!(formatter, "string[{capacity}]"),
            Type::Pointer { pointee, space } => {
                write!(formatter, "{pointee} *")?;
                if *space == AddressSpace::User {
                    write!(formatter, " (user)")?;
                }
                Ok(())
            }
            Type::Array { element, length } => write!(formatter, "{element}[{length}]"),
            Type::Tuple(elements) => {
                write!(formatter, "(")?;
                for (index, element) in elements.iter().enumerate() {
                    if index > 0 {
                        write!(formatter, ", ")?;
                    }
                    write!(formatter, "{element}")?;
                }
                write!(formatter, ")")
            }
            Type::Record(fields) => {
                write!(formatter, "(")?;
                for (index, (name, element)) in fields.iter().enumerate() {
                    if index > 0 {
                        write!(formatter, ", ")?;
                    }
                    write!(formatter, "{name}={element}")?;
                }
                write!(formatter, ")")
            }
            Type::Timestamp { .. } => write!(formatter, "timestamp"),
            Type::Stack { user, depth, mode } => {
                let kind = if *user { "u" } else { "k" };
                match mode {
                    StackMode::Bpftrace => write!(formatter, "{kind}stack[{depth}]"),
                    _ => write!(formatter, "{kind}stack({})[{depth}]", mode.name()),
                }
            }
            Type::Symbol { user } => write!(formatter, "{}sym", if *user { "u" } else { "k" }),
            Type::Inet => write!(formatter, "inet"),
            Type::UserName => write!(formatter, "username"),
            Type::Context => write!(formatter, "args"),
            Type::Void => write!(formatter, "void"),
            Type::KernelObject(ctype) => write!(formatter, "{ctype}"),
            Type::Argv { capacity, .. } => write!(formatter, "argv[{capacity}]"),
            Type::CopiedRecord { ctype, .. } => write!(formatter, "{ctype}"),
        }
    }
}

/// The language's type of a value of C type `ctype` read from kernel memory: integers keep
/// their width and sign, enums are their integer, `char[N]` is a string of N characters,
/// pointers point into kernel memory, and structs, unions and other arrays stay in memory.
pub fn type_of_ctype(ctype: &CType) -> Type {
    match ctype {
        CType::Int { bytes, signed, .. } => Type::Int {
            bytes: *bytes,
            signed: *signed,
        },
        CType::Bool => Type::Int {
            bytes: 1,
            signed: false,
        },
        CType::Enum(enumeration) => Type::Int {
            bytes: enumeration.bytes.clamp(1, 8),
            signed: enumeration.signed,
        },
        CType::Pointer(target) => Type::Pointer {
            pointee: Box::new(pointee_type_of_ctype(target)),
            space: AddressSpace::Kernel,
        },
        CType::FunctionPointer => Type::Pointer {
            pointee: Box::new(Type::Int {
                bytes: 1,
                signed: false,
            }),
            space: AddressSpace::Kernel,
        },
        // As bpftrace: `char comm[16]` is a string[16] (its last byte read as the NUL).
        array if array.is_char_array() && array.size() > 0 => Type::Str {
            capacity: u32::try_from(array.size()).unwrap_or(u32::MAX),
        },
        other => Type::KernelObject(Box::new(other.clone())),
    }
}

/// The pointee of a kernel pointer to `target`: `void *` steps by one byte, as in GNU C.
pub fn pointee_type_of_ctype(target: &CType) -> Type {
    match target {
        CType::Void | CType::FunctionPointer | CType::Opaque { size: 0, .. } => Type::Int {
            bytes: 1,
            signed: false,
        },
        other => type_of_ctype(other),
    }
}

/// The type of a tracepoint field from its `format` line.
///
/// `char name[N]` is a string of capacity N (bpftrace converts char arrays to strings),
/// `__data_loc char[]` a string read from the record's tail, `T *` a pointer (user space for
/// `syscalls:*` arguments, which point into the calling process), else an integer of the
/// field's size and signedness.
pub fn tracepoint_field_type(
    type_text: &str,
    size: u32,
    signed: bool,
    array_len: Option<u32>,
    is_data_loc: bool,
    user_pointers: bool,
    max_strlen: u32,
) -> Type {
    let base = type_text
        .replace("__attribute__((user))", "")
        .replace("__user", "");
    let stars = base.matches('*').count();
    let base_words: Vec<&str> = base
        .split(|character: char| character == '*' || character.is_whitespace())
        .filter(|word| !word.is_empty() && *word != "const" && *word != "volatile")
        .collect();
    let is_char = base_words
        .last()
        .is_some_and(|word| *word == "char" || word.starts_with("char["));
    if is_data_loc {
        return Type::Str {
            capacity: max_strlen,
        };
    }
    if stars > 0 {
        let space = if user_pointers {
            AddressSpace::User
        } else {
            AddressSpace::Kernel
        };
        let mut pointee = if is_char {
            Type::Int {
                bytes: 1,
                signed: true,
            }
        } else {
            Type::Int { bytes: 8, signed }
        };
        for _ in 1..stars {
            pointee = Type::Pointer {
                pointee: Box::new(pointee),
                space,
            };
        }
        return Type::Pointer {
            pointee: Box::new(pointee),
            space,
        };
    }
    if let Some(length) = array_len {
        if is_char {
            return Type::Str {
                capacity: length.max(1),
            };
        }
        let element_size = size.checked_div(length).unwrap_or(size);
        let bytes = match element_size {
            1 | 2 | 4 | 8 => element_size as u8,
            _ => 1,
        };
        return Type::Array {
            element: Box::new(Type::Int { bytes, signed }),
            length,
        };
    }
    let bytes = match size {
        1 | 2 | 4 | 8 => size as u8,
        _ => 8,
    };
    Type::Int { bytes, signed }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_types_from_format_text() {
        let argv = tracepoint_field_type("const char *const *", 8, false, None, false, true, 64);
        assert_eq!(argv.to_string(), "int8 * (user) * (user)");
        let comm = tracepoint_field_type("char", 16, true, Some(16), false, false, 64);
        assert_eq!(comm, Type::Str { capacity: 16 });
        let pid = tracepoint_field_type("pid_t", 4, true, None, false, false, 64);
        assert_eq!(
            pid,
            Type::Int {
                bytes: 4,
                signed: true
            }
        );
        let name = tracepoint_field_type("__data_loc char[]", 4, false, None, true, false, 64);
        assert_eq!(name, Type::Str { capacity: 64 });
    }

    #[test]
    fn tuple_layout_aligns_to_eight() {
        let (offsets, size) = tuple_layout(&[Type::INT64, Type::Str { capacity: 5 }, Type::Bool]);
        assert_eq!(offsets, vec![0, 8, 16]);
        assert_eq!(size, 24);
    }
}
