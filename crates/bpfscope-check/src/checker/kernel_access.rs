//! Kernel types in expressions: `curtask`, casts to C types, `->`/`.` chains, indexing, `sizeof`, `offsetof`, enums.
//!
//! Structs, unions and arrays in kernel memory are never copied whole: their typed expression
//! evaluates to their address ([`Type::KernelObject`]) and each member access adds the member's
//! byte offset, so that every hop of `$task->parent->tgid` is one `probe_read_kernel` of the
//! member itself. A read through a bad pointer yields zero (the helper clears its buffer).

use bpfscope_ktypes::{Bitfield, CType, KernelTypes};
use bpfscope_syntax::{
    BinaryOperator, CDefinitionKeyword, Diagnostic, SizeofArgument, Span, TypeSpec, TypeSpecKind,
};

use super::{expr_node, integer_type_named, ProbeChecker};
use crate::typed::{Builtin, TypedExpr, TypedExprKind};
use crate::types::{type_of_ctype, AddressSpace, Type};

/// Kernel types for one check: loaded on first need, shared by both passes and all probes.
#[derive(Default)]
pub(crate) enum KernelTypesSlot {
    #[default]
    NotLoaded,
    Loaded(Box<KernelTypes>),
    /// Loading BTF failed; the reason is reported where kernel types are used.
    Failed(String),
}

/// The C spelling of a type written in a script, for [`KernelTypes::resolve_type_name`].
pub(super) fn c_spelling(spec: &TypeSpec) -> Option<String> {
    Some(match &spec.kind {
        TypeSpecKind::Named(name) => name.clone(),
        TypeSpecKind::Tagged { keyword, name } => {
            let keyword = match keyword {
                CDefinitionKeyword::Struct => "struct",
                CDefinitionKeyword::Union => "union",
                CDefinitionKeyword::Enum => "enum",
            };
            format!("{keyword} {name}")
        }
        TypeSpecKind::Pointer(inner) => format!("{} *", c_spelling(inner)?),
        TypeSpecKind::Array {
            element,
            length: Some(length),
        } => format!("{}[{length}]", c_spelling(element)?),
        TypeSpecKind::Array { element, .. } => format!("{}[]", c_spelling(element)?),
        TypeSpecKind::Typeof(_) => return None,
    })
}

/// The same expression with another type (its code, and so its value, unchanged).
fn retyped(expr: TypedExpr, ty: Type) -> TypedExpr {
    TypedExpr { ty, ..expr }
}

/// An address as a plain 64-bit number, so that adding offsets to it is not scaled.
fn as_address(expr: TypedExpr) -> TypedExpr {
    let span = expr.span;
    expr_node(TypedExprKind::Cast(Box::new(expr)), Type::UINT64, span)
}

fn binary_node(op: BinaryOperator, left: TypedExpr, right: TypedExpr, ty: Type) -> TypedExpr {
    let span = left.span.to(right.span);
    expr_node(
        TypedExprKind::Binary {
            op,
            left: Box::new(left),
            right: Box::new(right),
        },
        ty,
        span,
    )
}

fn kernel_pointer_to(pointee: Type) -> Type {
    Type::Pointer {
        pointee: Box::new(pointee),
        space: AddressSpace::Kernel,
    }
}

impl ProbeChecker<'_> {
    /// The kernel types, loading BTF on first use; reports (at `span`) why they are missing.
    pub(super) fn kernel_types(&mut self, span: Span) -> Option<&KernelTypes> {
        self.load_kernel_types();
        match &self.state.kernel_types {
            KernelTypesSlot::Loaded(_) => {}
            KernelTypesSlot::Failed(reason) => {
                let message = format!(
                    "kernel types need the kernel's BTF, which could not be read: {reason}"
                );
                self.state
                    .diagnostics
                    .push(Diagnostic::error(span, message).with_hint(
                    "bpfscope reads types from /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF=y)",
                ));
                return None;
            }
            KernelTypesSlot::NotLoaded => return None,
        }
        match &self.state.kernel_types {
            KernelTypesSlot::Loaded(types) => Some(types),
            _ => None,
        }
    }

    /// Loads BTF through the probe facts if nobody did yet (the only "IO", behind the trait).
    fn load_kernel_types(&mut self) {
        if matches!(self.state.kernel_types, KernelTypesSlot::NotLoaded) {
            self.state.kernel_types = match self.probe_info.kernel_btf() {
                Ok(btf) => KernelTypesSlot::Loaded(Box::new(KernelTypes::new(btf))),
                Err(reason) => KernelTypesSlot::Failed(reason),
            };
        }
    }

    /// A C type written in the script, resolved against BTF and the script's definitions.
    pub(super) fn resolve_type_spec(&mut self, spec: &TypeSpec) -> Option<CType> {
        let Some(spelling) = c_spelling(spec) else {
            self.error(spec.span, "typeof() is not supported here yet");
            return None;
        };
        let resolved = self.kernel_types(spec.span)?.resolve_type_name(&spelling);
        match resolved {
            Ok(ctype) => Some(ctype),
            Err(error) => {
                self.error(spec.span, error.to_string());
                None
            }
        }
    }

    /// `(struct task_struct *)value`, `(u32)value`, `(pid_t)value`.
    pub(super) fn kernel_cast(
        &mut self,
        target: &TypeSpec,
        value: TypedExpr,
        span: Span,
    ) -> Option<TypedExpr> {
        let ctype = self.resolve_type_spec(target)?;
        let ty = match &ctype {
            CType::Pointer(_) | CType::FunctionPointer => type_of_ctype(&ctype),
            integer if integer.is_integer() => type_of_ctype(integer),
            other => {
                self.error(
                    target.span,
                    format!(
                        "Cannot cast to '{other}': cast to a pointer instead, e.g. ({other} *)"
                    ),
                );
                return None;
            }
        };
        if !value.ty.is_scalar() {
            self.error(span, format!("Cannot cast from '{}' to '{ty}'", value.ty));
            return None;
        }
        Some(expr_node(TypedExprKind::Cast(Box::new(value)), ty, span))
    }

    /// `curtask` is a `struct task_struct *` where it is used as one (a plain number elsewhere,
    /// so that scripts printing it never load BTF).
    pub(super) fn typed_current_task(&mut self, base: TypedExpr) -> Option<TypedExpr> {
        if !matches!(base.kind, TypedExprKind::Builtin(Builtin::CurrentTask)) {
            return Some(base);
        }
        let span = base.span;
        let resolved = self
            .kernel_types(span)?
            .resolve_type_name("struct task_struct *");
        match resolved {
            Ok(ctype) => Some(retyped(base, type_of_ctype(&ctype))),
            Err(error) => {
                self.error(span, error.to_string());
                None
            }
        }
    }

    /// `base->field` / `base.field` on a kernel pointer or in-memory kernel struct.
    pub(super) fn kernel_member(
        &mut self,
        base: TypedExpr,
        field: &str,
        field_span: Span,
        span: Span,
    ) -> Option<TypedExpr> {
        let base = self.typed_current_task(base)?;
        let record = match &base.ty {
            Type::Pointer { pointee, .. } => match &**pointee {
                Type::KernelObject(ctype) if ctype.record().is_some() => (**ctype).clone(),
                _ => None?,
            },
            Type::KernelObject(ctype) if ctype.record().is_some() => (**ctype).clone(),
            _ => None?,
        };
        let found = self.kernel_types(span)?.member(&record, field);
        let access = match found {
            Ok(access) => access,
            Err(error) => {
                self.error(field_span, error.to_string());
                return None;
            }
        };
        let offset = expr_node(
            TypedExprKind::Integer(i64::from(access.byte_offset)),
            Type::UINT64,
            field_span,
        );
        let address = binary_node(BinaryOperator::Add, as_address(base), offset, Type::UINT64);
        let address = TypedExpr { span, ..address };
        Some(self.read_kernel_value(address, &access.ty, access.bitfield))
    }

    /// Whether `kernel_member` can handle a base of this type (else the caller reports).
    pub(super) fn is_kernel_record_base(base: &TypedExpr) -> bool {
        if matches!(base.kind, TypedExprKind::Builtin(Builtin::CurrentTask)) {
            return true;
        }
        match &base.ty {
            Type::Pointer { pointee, .. } => {
                matches!(&**pointee, Type::KernelObject(ctype) if ctype.record().is_some())
            }
            Type::KernelObject(ctype) => ctype.record().is_some(),
            _ => false,
        }
    }

    /// The value of C type `ctype` at kernel `address`: scalars and strings are read,
    /// structs and arrays stay where they are (their address typed as the object).
    fn read_kernel_value(
        &mut self,
        address: TypedExpr,
        ctype: &CType,
        bitfield: Option<Bitfield>,
    ) -> TypedExpr {
        let span = address.span;
        if let Some(recipe) = bitfield {
            let load_type = Type::Int {
                bytes: recipe.load_bytes,
                signed: false,
            };
            let loaded = expr_node(
                TypedExprKind::Dereference {
                    pointer: Box::new(retyped(address, kernel_pointer_to(load_type.clone()))),
                    space: AddressSpace::Kernel,
                },
                load_type,
                span,
            );
            let result_type = Type::Int {
                bytes: 8,
                signed: recipe.signed,
            };
            let left_shift = expr_node(
                TypedExprKind::Integer(i64::from(recipe.shift_left)),
                Type::UINT64,
                span,
            );
            let right_shift = expr_node(
                TypedExprKind::Integer(i64::from(recipe.shift_right)),
                Type::UINT64,
                span,
            );
            let shifted = binary_node(
                BinaryOperator::ShiftLeft,
                loaded,
                left_shift,
                result_type.clone(),
            );
            // The type's sign picks an arithmetic shift for signed fields.
            return retyped(
                binary_node(
                    BinaryOperator::ShiftRight,
                    shifted,
                    right_shift,
                    result_type.clone(),
                ),
                result_type,
            );
        }
        let value_type = type_of_ctype(ctype);
        match value_type {
            Type::KernelObject(_) => retyped(address, value_type),
            other => expr_node(
                TypedExprKind::Dereference {
                    pointer: Box::new(retyped(address, kernel_pointer_to(other.clone()))),
                    space: AddressSpace::Kernel,
                },
                other,
                span,
            ),
        }
    }

    /// `base[index]` where `base` is a pointer to a kernel struct or an array in kernel memory.
    /// None (without a diagnostic) when `base` is neither.
    pub(super) fn kernel_index(
        &mut self,
        base: &TypedExpr,
        index: &TypedExpr,
        span: Span,
    ) -> Option<Option<TypedExpr>> {
        match &base.ty {
            Type::Pointer { pointee, .. } if matches!(**pointee, Type::KernelObject(_)) => {
                // Pointer arithmetic (scaled by the struct's size in codegen), kept in memory.
                let element = (**pointee).clone();
                let sum = binary_node(
                    BinaryOperator::Add,
                    base.clone(),
                    index.clone(),
                    base.ty.clone(),
                );
                Some(Some(TypedExpr {
                    span,
                    ..retyped(sum, element)
                }))
            }
            Type::KernelObject(ctype) => {
                let CType::Array { element, length } = &**ctype else {
                    self.error(
                        span,
                        format!("The [] operator can not be used on values of type '{ctype}'"),
                    );
                    return Some(None);
                };
                if let TypedExprKind::Integer(position) = index.kind {
                    if position < 0 || (*length > 0 && position as u64 >= u64::from(*length)) {
                        self.error(
                            index.span,
                            format!(
                                "index {position} is out of bounds for {ctype} (length {length})"
                            ),
                        );
                        return Some(None);
                    }
                }
                let step = expr_node(
                    TypedExprKind::Integer(element.size().min(i64::MAX as u64) as i64),
                    Type::UINT64,
                    index.span,
                );
                let scaled = binary_node(
                    BinaryOperator::Multiply,
                    as_address(index.clone()),
                    step,
                    Type::UINT64,
                );
                let address = binary_node(
                    BinaryOperator::Add,
                    as_address(base.clone()),
                    scaled,
                    Type::UINT64,
                );
                let element = (**element).clone();
                Some(Some(self.read_kernel_value(
                    TypedExpr { span, ..address },
                    &element,
                    None,
                )))
            }
            _ => None,
        }
    }

    /// `sizeof(type)` or `sizeof(expr)`.
    pub(super) fn size_of(&mut self, argument: &SizeofArgument, span: Span) -> Option<TypedExpr> {
        let size = match argument {
            SizeofArgument::Type(spec) => match &spec.kind {
                TypeSpecKind::Named(name) if integer_type_named(name).is_some() => {
                    u64::from(integer_type_named(name)?.size())
                }
                TypeSpecKind::Named(name) if name == "string" => {
                    u64::from(self.state.options.max_strlen)
                }
                _ => self.resolve_type_spec(spec)?.size(),
            },
            SizeofArgument::Expr(expr) => {
                let typed = self.expr(expr)?;
                u64::from(typed.ty.size())
            }
        };
        Some(expr_node(
            TypedExprKind::Integer(size.min(i64::MAX as u64) as i64),
            Type::UINT64,
            span,
        ))
    }

    /// `offsetof(struct X, a.b)` or `offsetof(expr, a.b)` of a struct in kernel memory.
    pub(super) fn offset_of(
        &mut self,
        target: &SizeofArgument,
        fields: &[String],
        span: Span,
    ) -> Option<TypedExpr> {
        let ctype = match target {
            SizeofArgument::Type(spec) => self.resolve_type_spec(spec)?,
            SizeofArgument::Expr(expr) => {
                let typed = self.expr(expr)?;
                match typed.ty {
                    Type::KernelObject(ctype) => *ctype,
                    other => {
                        self.error(
                            expr.span,
                            format!("offsetof() needs a struct or union, not '{other}'"),
                        );
                        return None;
                    }
                }
            }
        };
        let path = fields.join(".");
        let found = self.kernel_types(span)?.offset_of(&ctype, &path);
        match found {
            Ok(offset) => Some(expr_node(
                TypedExprKind::Integer(offset.min(i64::MAX as u64) as i64),
                Type::UINT64,
                span,
            )),
            Err(error) => {
                self.error(span, error.to_string());
                None
            }
        }
    }

    /// An enumerator of the script's or the kernel's enums, when `name` is one. Silent when
    /// BTF cannot be had: the caller reports the unknown identifier.
    pub(super) fn enum_constant(&mut self, name: &str, span: Span) -> Option<TypedExpr> {
        self.load_kernel_types();
        let KernelTypesSlot::Loaded(types) = &self.state.kernel_types else {
            return None;
        };
        let constant = types.enum_value(name).ok()?;
        let signed = constant.ty.is_signed() || constant.value < 0;
        Some(expr_node(
            TypedExprKind::Integer(constant.value as i64),
            Type::Int { bytes: 8, signed },
            span,
        ))
    }
}
