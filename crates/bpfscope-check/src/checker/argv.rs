//! `argv()`: a process's whole argument list as one value, with explicit limits and a record of what did not fit.

use bpfscope_syntax::{Expr, ExprKind, Span};

use super::{expr_node, ProbeChecker};
use crate::typed::{TypedExpr, TypedExprKind};
use crate::types::{AddressSpace, Type};

/// Arguments shown by default. Counting happens in user space, so this costs nothing in BPF.
pub const DEFAULT_ARGV_MAX_ARGS: u32 = 1024;
/// Argument bytes captured by default: room for a 10,000-byte argument next to a thousand
/// short ones, sent to user space only as far as they are used.
pub const DEFAULT_ARGV_MAX_BYTES: u32 = 32 * 1024;
/// The most argument bytes one value may capture (the kernel's own limit for one argument is
/// 128 KiB; the whole list may be larger, and is then marked as cut).
pub const ARGV_MAX_BYTES_LIMIT: u32 = 256 * 1024;
/// Strings read one by one from an array (`argv(args.argv)`) stop after this many: the
/// kernel verifies the loop round by round.
pub const ARGV_ARRAY_MAX_ARGS_LIMIT: u32 = 1024;

impl ProbeChecker<'_> {
    /// `argv([max_args [, max_bytes]])` reads the current process's arguments from its memory
    /// (right after an exec, the new program's, as the kernel copied them);
    /// `argv(array [, max_args [, max_bytes]])` reads a user `char **` array such as
    /// `args.argv` of `sys_enter_execve`.
    pub(super) fn argv_call(&mut self, arguments: &[Expr], span: Span) -> Option<TypedExpr> {
        if arguments.len() > 3 {
            self.error(
                span,
                "argv() takes at most three arguments: argv([array,] [max_args [, max_bytes]])",
            );
            return None;
        }
        let reads_array = arguments
            .first()
            .is_some_and(|first| !matches!(first.kind, ExprKind::Integer(_)));
        let (array, limits) = if reads_array {
            (arguments.first(), arguments.get(1..).unwrap_or(&[]))
        } else {
            (None, arguments)
        };
        if limits.len() > 2 {
            self.error(
                span,
                "argv(): too many limits: argv([array,] [max_args [, max_bytes]])",
            );
            return None;
        }
        let max_args_limit = if array.is_some() {
            ARGV_ARRAY_MAX_ARGS_LIMIT
        } else {
            u32::MAX
        };
        let max_args = match limits.first() {
            Some(limit) => self.argv_limit(limit, "max_args", 1, max_args_limit)?,
            None => DEFAULT_ARGV_MAX_ARGS.min(max_args_limit),
        };
        let max_bytes = match limits.get(1) {
            Some(limit) => self.argv_limit(limit, "max_bytes", 16, ARGV_MAX_BYTES_LIMIT)?,
            None => DEFAULT_ARGV_MAX_BYTES,
        };
        // A power of two: the array reader keeps its write offset in bounds with a mask, and
        // needs as much again as slack (it never fills more than the first half).
        let capacity = if array.is_some() {
            max_bytes.next_power_of_two().saturating_mul(2)
        } else {
            max_bytes
        };
        let ty = Type::Argv { capacity, max_args };
        let kind = match array {
            Some(array) => {
                let typed = self.expr(array)?;
                let space = match &typed.ty {
                    Type::Pointer { space, .. } => *space,
                    Type::Int { .. } if self.attach.user_pointers => AddressSpace::User,
                    Type::Int { .. } => AddressSpace::Kernel,
                    other => {
                        self.error(
                            array.span,
                            format!("argv() expects an array of strings (char **), got {other}"),
                        );
                        return None;
                    }
                };
                TypedExprKind::ArrayArgv {
                    array: Box::new(typed),
                    space,
                }
            }
            None => self.task_argv_kind(span)?,
        };
        Some(expr_node(kind, ty, span))
    }

    /// Where `task->mm->arg_start` and `arg_end` are, from the kernel's BTF.
    fn task_argv_kind(&mut self, span: Span) -> Option<TypedExprKind> {
        let kernel_types = self.kernel_types(span)?;
        let offsets = (|| {
            let task = kernel_types.resolve_type_name("struct task_struct")?;
            let mm = kernel_types.resolve_type_name("struct mm_struct")?;
            Ok::<_, bpfscope_ktypes::KtypesError>((
                kernel_types.offset_of(&task, "mm")?,
                kernel_types.offset_of(&mm, "arg_start")?,
                kernel_types.offset_of(&mm, "arg_end")?,
            ))
        })();
        match offsets {
            Ok((task_mm, arg_start, arg_end)) => Some(TypedExprKind::TaskArgv {
                task_mm_offset: u32::try_from(task_mm).ok()?,
                mm_arg_start_offset: u32::try_from(arg_start).ok()?,
                mm_arg_end_offset: u32::try_from(arg_end).ok()?,
            }),
            Err(error) => {
                self.error(
                    span,
                    format!("argv() needs task_struct.mm and mm_struct.arg_start/arg_end from the kernel's BTF: {error}"),
                );
                None
            }
        }
    }

    /// An `argv()` value may end a tuple or record but not sit inside one: it is sent only as
    /// far as its captured bytes go, so nothing may follow it.
    pub(super) fn require_argv_last(&mut self, elements: &[TypedExpr]) -> Option<()> {
        let last = elements.len().saturating_sub(1);
        for (index, element) in elements.iter().enumerate() {
            if element.ty.holds_argv() && index != last {
                self.error(
                    element.span,
                    "an argv() value must be the last element of a tuple or record",
                );
                return None;
            }
        }
        Some(())
    }

    fn argv_limit(&mut self, limit: &Expr, name: &str, min: u32, max: u32) -> Option<u32> {
        match limit.kind {
            ExprKind::Integer(value) if value >= u64::from(min) && value <= u64::from(max) => {
                u32::try_from(value).ok()
            }
            _ => {
                self.error(
                    limit.span,
                    format!("argv(): {name} must be an integer literal from {min} to {max}"),
                );
                None
            }
        }
    }
}
