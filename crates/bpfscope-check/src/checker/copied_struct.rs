//! Structs copied out of kernel memory into variables and map values (`$task = *curtask; $task.pid`), and record fields by name.

use bpfscope_syntax::{Diagnostic, Span};

use super::{expr_node, ProbeChecker};
use crate::typed::{TypedExpr, TypedExprKind};
use crate::types::{type_of_ctype, Type};

/// The largest struct a variable or map value may hold: variables live on the stack or in the
/// per-CPU scratch map, whose instructions reach at most 32 KiB.
pub const MAX_COPIED_STRUCT_BYTES: u32 = 4096;

impl ProbeChecker<'_> {
    /// `value` unchanged, or, when it is a struct/union in kernel memory, an expression that
    /// copies it (typed [`Type::CopiedRecord`]) for storing in a variable or a map.
    pub(super) fn copy_if_kernel_record(&mut self, value: TypedExpr) -> Option<TypedExpr> {
        let Type::KernelObject(ctype) = &value.ty else {
            return Some(value);
        };
        if ctype.record().is_none() {
            return Some(value);
        }
        let ctype = ctype.clone();
        let size = u32::try_from(ctype.size()).unwrap_or(u32::MAX);
        if size > MAX_COPIED_STRUCT_BYTES {
            self.state.diagnostics.push(
                Diagnostic::error(
                    value.span,
                    format!(
                        "{ctype} is {size} bytes, too big to copy into a variable or map \
                         (at most {MAX_COPIED_STRUCT_BYTES})"
                    ),
                )
                .with_hint("keep a pointer instead, e.g. $p = &... or read the members you need"),
            );
            return None;
        }
        let span = value.span;
        let (copy, field) = self.struct_print_value(&value, span)?;
        Some(TypedExpr {
            ty: Type::CopiedRecord {
                ctype,
                layout: Box::new(field.ty),
            },
            ..copy
        })
    }

    /// `record.field` on a copied struct, or on a record (named tuple).
    pub(super) fn copied_or_record_member(
        &mut self,
        base: TypedExpr,
        field: &str,
        field_span: Span,
        span: Span,
    ) -> Option<TypedExpr> {
        match base.ty.clone() {
            Type::Record(fields) => {
                let Some(index) = fields.iter().position(|(name, _)| name == field) else {
                    let names: Vec<&str> = fields.iter().map(|(name, _)| name.as_str()).collect();
                    self.error(
                        field_span,
                        format!(
                            "record has no field '{field}' (its fields: {})",
                            names.join(", ")
                        ),
                    );
                    return None;
                };
                let ty = fields.get(index).map(|(_, ty)| ty.clone())?;
                Some(expr_node(
                    TypedExprKind::TupleIndex {
                        tuple: Box::new(base),
                        index,
                    },
                    ty,
                    span,
                ))
            }
            Type::CopiedRecord { ctype, .. } => {
                let found = self.kernel_types(span)?.member(&ctype, field);
                let access = match found {
                    Ok(access) => access,
                    Err(error) => {
                        self.error(field_span, error.to_string());
                        return None;
                    }
                };
                if access.bitfield.is_some() {
                    self.error(
                        field_span,
                        format!("'{field}' is a bitfield: read it through the pointer instead (ptr->{field})"),
                    );
                    return None;
                }
                let ty = match type_of_ctype(&access.ty) {
                    Type::KernelObject(inner) if inner.record().is_some() => {
                        let layout = {
                            let kernel_types = self.kernel_types(span)?;
                            super::struct_print::printed_layout_of_ctype(kernel_types, &inner, 0)
                        };
                        let Some(layout) = layout else {
                            self.error(field_span, format!("member '{field}' cannot be read"));
                            return None;
                        };
                        Type::CopiedRecord {
                            ctype: inner,
                            layout: Box::new(layout),
                        }
                    }
                    Type::KernelObject(_) => {
                        self.error(
                            field_span,
                            format!("member '{field}' is an array: read it through the pointer instead (ptr->{field}[i])"),
                        );
                        return None;
                    }
                    other => other,
                };
                Some(expr_node(
                    TypedExprKind::CopiedMember {
                        record: Box::new(base),
                        offset: access.byte_offset,
                    },
                    ty,
                    span,
                ))
            }
            _ => None,
        }
    }
}
