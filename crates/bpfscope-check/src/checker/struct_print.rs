//! `print(*ptr)` and `print(ptr->member)` of a kernel struct: one copy, printed in user space.
//!
//! Unlike member accesses (one `probe_read_kernel` per hop), printing a whole struct copies it
//! with a single read into the event record; user space then walks the BTF layout computed
//! here (a [`ValueType::Record`]) and prints `{ .a = 1, .b = { .c = 2 } }` as bpftrace does.

use bpfscope_bpf::{Field, RecordField, ValueType};
use bpfscope_ktypes::{CType, KernelTypes};
use bpfscope_syntax::{Diagnostic, Span};

use super::{expr_node, ProbeChecker};
use crate::typed::{TypedExpr, TypedExprKind};
use crate::types::{AddressSpace, Type};

/// The largest struct copied whole into one event record (`task_struct` is about 10 KiB;
/// records this big are built in the per-CPU big buffer, not reserved in the ring buffer).
pub const MAX_PRINTED_STRUCT_BYTES: u32 = 64 * 1024;

/// Nesting deeper than this prints the inner struct as `{}` (BTF types cannot recurse by
/// value, but the limit keeps a malformed BTF from blowing the stack).
const MAX_PRINTED_NESTING: usize = 16;

/// Offset of the printed value in the record: right after the `u64` action id.
const PRINTED_VALUE_OFFSET: u32 = 8;

/// The print layout of a value of C type `ctype` inside a copied struct; `None` for members
/// that are not printed (flexible arrays, opaque types such as `float`).
pub fn printed_layout_of_ctype(
    kernel_types: &KernelTypes,
    ctype: &CType,
    depth: usize,
) -> Option<ValueType> {
    Some(match ctype {
        CType::Int { bytes, signed, .. } => ValueType::Int {
            bytes: *bytes,
            signed: *signed,
        },
        CType::Bool => ValueType::Bool,
        CType::Enum(enumeration) => ValueType::Int {
            bytes: enumeration.bytes.clamp(1, 8),
            signed: enumeration.signed,
        },
        CType::Pointer(_) | CType::FunctionPointer => ValueType::Pointer,
        array if array.is_char_array() && array.size() > 0 => ValueType::Str {
            capacity: u32::try_from(array.size()).ok()?,
        },
        CType::Array { element, length } if *length > 0 => ValueType::CArray {
            element: Box::new(printed_layout_of_ctype(kernel_types, element, depth + 1)?),
            length: *length,
        },
        CType::Record(_) => printed_record_layout(kernel_types, ctype, depth)?,
        CType::Array { .. } | CType::Void | CType::Opaque { .. } => return None,
    })
}

/// The print layout of a struct/union: its direct members, anonymous members' fields inline
/// (as C names them), bitfields extracted in user space.
fn printed_record_layout(
    kernel_types: &KernelTypes,
    ctype: &CType,
    depth: usize,
) -> Option<ValueType> {
    let size = u32::try_from(ctype.size()).ok()?;
    let mut fields = Vec::new();
    if depth <= MAX_PRINTED_NESTING {
        collect_printed_fields(kernel_types, ctype, 0, depth, &mut fields);
    }
    Some(ValueType::Record { size, fields })
}

fn collect_printed_fields(
    kernel_types: &KernelTypes,
    ctype: &CType,
    base_offset: u32,
    depth: usize,
    fields: &mut Vec<RecordField>,
) {
    let Ok(members) = kernel_types.fields(ctype) else {
        return;
    };
    for member in members {
        let offset = base_offset.saturating_add(member.byte_offset);
        if member.name.is_empty() {
            if member.ty.record().is_some() && depth < MAX_PRINTED_NESTING {
                collect_printed_fields(kernel_types, &member.ty, offset, depth + 1, fields);
            }
            continue;
        }
        let ty = match &member.bitfield {
            Some(bitfield) => ValueType::Bitfield {
                load_bytes: bitfield.load_bytes,
                shift_left: bitfield.shift_left,
                shift_right: bitfield.shift_right,
                signed: bitfield.signed,
            },
            None => match printed_layout_of_ctype(kernel_types, &member.ty, depth + 1) {
                Some(ty) => ty,
                None => continue,
            },
        };
        fields.push(RecordField {
            name: member.name,
            offset,
            ty,
        });
    }
}

impl ProbeChecker<'_> {
    /// For `print(value)` where `value` is a struct/union in kernel memory: the expression
    /// that copies it whole (a kernel read of its bytes) and the record field that prints it.
    /// `None` (after a diagnostic) when it cannot be printed.
    pub(super) fn struct_print_value(
        &mut self,
        value: &TypedExpr,
        span: Span,
    ) -> Option<(TypedExpr, Field)> {
        let Type::KernelObject(ctype) = &value.ty else {
            return None;
        };
        let ctype = (**ctype).clone();
        let size = u32::try_from(ctype.size()).unwrap_or(u32::MAX);
        if size > MAX_PRINTED_STRUCT_BYTES {
            let message = format!(
                "{ctype} is {size} bytes, too big to print whole (at most \
                 {MAX_PRINTED_STRUCT_BYTES} bytes are copied into one event)"
            );
            self.state.diagnostics.push(
                Diagnostic::error(value.span, message)
                    .with_hint("print its members instead, e.g. print(ptr->member)"),
            );
            return None;
        }
        let layout = {
            let kernel_types = self.kernel_types(span)?;
            printed_layout_of_ctype(kernel_types, &ctype, 0)
        };
        let Some(layout) = layout.filter(|_| size > 0) else {
            self.error(
                value.span,
                format!("Value of type '{ctype}' cannot be printed"),
            );
            return None;
        };
        // The object's typed expression evaluates to its address: read `size` bytes there.
        let bytes_type = Type::Array {
            element: Box::new(Type::Int {
                bytes: 1,
                signed: false,
            }),
            length: size,
        };
        let address = TypedExpr {
            ty: Type::Pointer {
                pointee: Box::new(bytes_type.clone()),
                space: AddressSpace::Kernel,
            },
            ..value.clone()
        };
        let copy = expr_node(
            TypedExprKind::Dereference {
                pointer: Box::new(address),
                space: AddressSpace::Kernel,
            },
            bytes_type,
            value.span,
        );
        Some((
            copy,
            Field {
                offset: PRINTED_VALUE_OFFSET,
                ty: layout,
            },
        ))
    }
}
