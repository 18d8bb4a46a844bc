//! Attach points of kprobes, uprobes, USDT, fentry/fexit and perf events, and the builtins that read their contexts.

use super::{expr_node, has_wildcard, ProbeChecker, ResolvedAttach};
use crate::probe_info::ProbeInfo;
use crate::typed::*;
use crate::types::{type_of_ctype, AddressSpace, Type};
use bpfscope_bpf::{AttachTarget, Sample};
use bpfscope_btf::TypeId;
use bpfscope_probes::usdt::{UsdtArgument, UsdtArgumentLocation};
use bpfscope_probes::Provider;
use bpfscope_syntax::{BinaryOperator, Diagnostic, Span};

/// Where x86-64 `struct pt_regs` keeps the registers that carry function arguments
/// (rdi, rsi, rdx, rcx, r8, r9, from arch/x86/include/asm/ptrace.h), and the return value (rax).
pub(super) const PT_REGS_ARGUMENT_OFFSETS: [i16; 6] = [112, 104, 96, 88, 72, 64];
pub(super) const PT_REGS_RETURN_VALUE_OFFSET: i16 = 80;
pub(super) const PT_REGS_IP_OFFSET: i16 = 128;
/// `sp` in `struct pt_regs`: at function entry it points at the return address.
pub(super) const PT_REGS_STACK_POINTER_OFFSET: i16 = 152;

/// What a probe's arguments are, beyond its [`ProbeContext`].
#[derive(Clone, Debug, Default)]
pub(super) enum ProbeArguments {
    /// No `argN`/`retval` (tracepoints have `args`, BEGIN has nothing).
    #[default]
    None,
    /// kprobe/uprobe: registers in `struct pt_regs`; `retval` on the return probe.
    /// `func_from_instruction_pointer`: `func` is the symbol at the probed instruction pointer
    /// instead of a name compiled into each program, so that the programs of a wildcard kprobe
    /// are identical and the runtime can attach ONE of them to every function (kprobe_multi).
    Registers {
        is_return: bool,
        func_from_instruction_pointer: bool,
    },
    /// USDT: each argument's location, from the note; the probe's link-time address and the
    /// link-time addresses of symbols that `%rip`-relative operands name.
    Usdt {
        arguments: Vec<UsdtArgument>,
        probe_address: u64,
        symbols: Vec<(String, u64)>,
    },
    /// fentry/fexit: parameters (name, BTF type id) in u64 context slots, then the return value.
    Fentry {
        parameters: Vec<(String, u32)>,
        return_type: u32,
        is_return: bool,
        /// For a module function: type ids from here on are the module's own BTF types, which
        /// the vmlinux type table cannot describe; such values are read as plain u64.
        module_types_from: Option<u32>,
    },
}

/// Splits `FUNCTION+OFFSET` into the name and the offset (0 without one).
fn function_and_offset(text: &str) -> Result<(String, u64), String> {
    let Some((function, offset)) = text.split_once('+') else {
        return Ok((text.to_string(), 0));
    };
    let offset = offset.trim();
    let parsed = match offset.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => offset.parse(),
    };
    parsed
        .map(|value| (function.to_string(), value))
        .map_err(|_| format!("invalid offset '{offset}' in '{text}'"))
}

/// A perf event's count from its third part (`software:page-faults:100`), else the default.
fn perf_event_count(text: Option<&str>, default_period: u64) -> Result<u64, String> {
    match text {
        None | Some("") => Ok(default_period.max(1)),
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|count| *count > 0)
            .ok_or_else(|| format!("invalid event count '{text}': expected a positive integer")),
    }
}

/// Resolves the attach points of the providers this module handles; `false` when `provider`
/// is none of them.
pub(super) fn resolve_probe_kind(
    provider: Provider,
    rest: &str,
    span: Span,
    probe_info: &dyn ProbeInfo,
    pid: Option<i32>,
    out: &mut Vec<ResolvedAttach>,
    diagnostics: &mut Vec<Diagnostic>,
) -> bool {
    let mut error = |message: String| diagnostics.push(Diagnostic::error(span, message));
    match provider {
        Provider::Kprobe | Provider::Kretprobe => {
            let is_return = provider == Provider::Kretprobe;
            let (target, offset) = match function_and_offset(rest) {
                Ok(parsed) => parsed,
                Err(message) => {
                    error(message);
                    return true;
                }
            };
            if is_return && offset != 0 {
                error("kretprobe cannot have an offset: it fires when the function returns".into());
                return true;
            }
            if target.is_empty() {
                error(format!(
                    "{} needs a kernel function: {0}:FUNCTION",
                    provider.name()
                ));
                return true;
            }
            let targets = if has_wildcard(&target) {
                match probe_info.kernel_functions(provider, &target) {
                    Ok(targets) if !targets.is_empty() => targets,
                    Ok(_) => {
                        error(format!("No probes matched: {}:{target}", provider.name()));
                        return true;
                    }
                    Err(reason) => {
                        error(format!("cannot list kernel functions: {reason}"));
                        return true;
                    }
                }
            } else {
                vec![target.clone()]
            };
            // At a function's entry the instruction pointer is inside that function, both for a
            // kprobe and under kprobe_multi; at a return it is in the caller, so return probes keep
            // their names compiled in (and stay one program per function).
            let func_from_instruction_pointer = targets.len() > 1 && !is_return && offset == 0;
            for target in targets {
                // `module:function`: the kprobe PMU finds the function by name alone.
                let function = target.rsplit(':').next().unwrap_or(&target).to_string();
                let probe_name = if offset != 0 {
                    format!("{}:{target}+{offset}", provider.name())
                } else {
                    format!("{}:{target}", provider.name())
                };
                out.push(ResolvedAttach {
                    probe_name,
                    attach: AttachTarget::Kprobe {
                        function: function.clone(),
                        offset,
                        is_return,
                    },
                    context: ProbeContext::PtRegs,
                    format: None,
                    user_pointers: false,
                    arguments: ProbeArguments::Registers {
                        is_return,
                        func_from_instruction_pointer,
                    },
                    function: Some(function),
                });
            }
        }
        Provider::Uprobe | Provider::Uretprobe => {
            let is_return = provider == Provider::Uretprobe;
            let Some((binary, function)) = rest.split_once(':') else {
                error(format!(
                    "{} needs a binary and a function: {0}:/path/to/binary:FUNCTION (or a library name like libc)",
                    provider.name()
                ));
                return true;
            };
            let targets: Vec<(String, String)> = if has_wildcard(rest) {
                match probe_info.uprobe_targets(provider, rest) {
                    Ok(targets) if !targets.is_empty() => targets,
                    Ok(_) => {
                        error(format!("No probes matched: {}:{rest}", provider.name()));
                        return true;
                    }
                    Err(reason) => {
                        error(format!("cannot list functions of {binary}: {reason}"));
                        return true;
                    }
                }
            } else {
                vec![(binary.to_string(), function.to_string())]
            };
            for (binary, function) in targets {
                match probe_info.resolve_uprobe(&binary, &function) {
                    Ok((path, file_offset)) => {
                        let plain_function = function.split('+').next().unwrap_or(&function);
                        out.push(ResolvedAttach {
                            probe_name: format!("{}:{path}:{function}", provider.name()),
                            attach: AttachTarget::Uprobe {
                                path,
                                file_offset,
                                is_return,
                                pid,
                                ref_ctr_offset: 0,
                            },
                            context: ProbeContext::PtRegs,
                            format: None,
                            user_pointers: true,
                            arguments: ProbeArguments::Registers {
                                is_return,
                                func_from_instruction_pointer: false,
                            },
                            function: Some(plain_function.to_string()),
                        })
                    }
                    Err(reason) => error(format!(
                        "cannot attach {}:{binary}:{function}: {reason}",
                        provider.name()
                    )),
                }
            }
        }
        Provider::Usdt => {
            let parts: Vec<&str> = rest.split(':').collect();
            let (binary, usdt_provider, name) = match parts.as_slice() {
                [binary, name] => (*binary, None, *name),
                [binary, usdt_provider, name] => (*binary, Some(*usdt_provider), *name),
                _ => {
                    error("usdt probes are written usdt:/path/to/binary:[PROVIDER:]NAME".into());
                    return true;
                }
            };
            if has_wildcard(binary) {
                error("usdt probes need one binary: wildcards are allowed in the provider and probe names only (usdt:/path/to/binary:PROVIDER:*)".into());
                return true;
            }
            match probe_info.resolve_usdt(binary, usdt_provider, name) {
                Ok((_, locations)) if locations.is_empty() => {
                    error(format!("No probes matched: usdt:{rest}"));
                }
                Ok((path, locations)) => {
                    for location in locations {
                        let Some(file_offset) = location.file_offset else {
                            error(format!(
                                "usdt:{rest}: the probe's address {:#x} is in no loadable segment of {path}",
                                location.address
                            ));
                            continue;
                        };
                        out.push(ResolvedAttach {
                            probe_name: format!(
                                "usdt:{path}:{}:{}",
                                location.provider, location.name
                            ),
                            attach: AttachTarget::Uprobe {
                                path: path.clone(),
                                file_offset,
                                is_return: false,
                                pid,
                                ref_ctr_offset: location.semaphore_file_offset.unwrap_or(0),
                            },
                            context: ProbeContext::PtRegs,
                            format: None,
                            user_pointers: true,
                            arguments: ProbeArguments::Usdt {
                                arguments: location.arguments.clone(),
                                probe_address: location.address,
                                symbols: location
                                    .arguments
                                    .iter()
                                    .filter_map(|argument| match &argument.location {
                                        UsdtArgumentLocation::Memory {
                                            symbol: Some(symbol),
                                            ..
                                        } => Some((
                                            symbol.clone(),
                                            probe_info.symbol_address(&path, symbol)?,
                                        )),
                                        _ => None,
                                    })
                                    .collect(),
                            },
                            function: None,
                        });
                    }
                }
                Err(reason) => error(format!("cannot attach usdt:{rest}: {reason}")),
            }
        }
        Provider::Fentry | Provider::Fexit => {
            let is_return = provider == Provider::Fexit;
            let function_pattern = match rest.split_once(':') {
                Some(("vmlinux", function)) => function,
                Some((module, function)) => {
                    resolve_module_fentry(provider, module, function, probe_info, out, &mut error);
                    return true;
                }
                None => rest,
            };
            let btf = match probe_info.kernel_btf() {
                Ok(btf) => btf,
                Err(reason) => {
                    error(format!(
                        "{} needs the kernel's BTF, which could not be read: {reason}",
                        provider.name()
                    ));
                    return true;
                }
            };
            let functions = if has_wildcard(function_pattern) {
                match probe_info.kernel_functions(provider, &format!("vmlinux:{function_pattern}"))
                {
                    Ok(targets) if !targets.is_empty() => targets
                        .into_iter()
                        .filter_map(|target| target.strip_prefix("vmlinux:").map(str::to_string))
                        .collect(),
                    Ok(_) => {
                        error(format!("No probes matched: {}:{rest}", provider.name()));
                        return true;
                    }
                    Err(reason) => {
                        error(format!("cannot list kernel functions: {reason}"));
                        return true;
                    }
                }
            } else {
                vec![function_pattern.to_string()]
            };
            for function in functions {
                let Some(id) = btf.find(bpfscope_btf::Kind::Func, &function) else {
                    error(format!(
                        "{}:{function}: the kernel's BTF has no function '{function}'",
                        provider.name()
                    ));
                    continue;
                };
                let prototype = match btf.func_proto(id) {
                    Ok(prototype) => prototype,
                    Err(reason) => {
                        error(format!("{}:{function}: {reason}", provider.name()));
                        continue;
                    }
                };
                let parameters = prototype
                    .params
                    .iter()
                    .map(|param| (param.name.to_string(), param.ty.0))
                    .collect();
                out.push(ResolvedAttach {
                    probe_name: format!("{}:{function}", provider.name()),
                    attach: AttachTarget::Fentry {
                        function: function.clone(),
                        btf_id: id.0,
                        is_return,
                    },
                    context: ProbeContext::Fentry,
                    format: None,
                    user_pointers: false,
                    arguments: ProbeArguments::Fentry {
                        parameters,
                        return_type: prototype.return_type.0,
                        is_return,
                        module_types_from: None,
                    },
                    function: Some(function),
                });
            }
        }
        Provider::Software | Provider::Hardware => {
            let mut parts = rest.splitn(2, ':');
            let name = parts.next().unwrap_or("");
            let count = parts.next();
            let Some((perf_type, config, default_period)) =
                bpfscope_probes::perf_events::resolve_perf_event(provider, name)
            else {
                error(format!(
                    "unknown {} event '{name}'; list them with: bpfscope -l '{0}:*'",
                    provider.name()
                ));
                return true;
            };
            match perf_event_count(count, default_period) {
                Ok(period) => out.push(ResolvedAttach {
                    probe_name: format!("{}:{rest}", provider.name()),
                    attach: AttachTarget::PerfEvent {
                        perf_type,
                        config,
                        sample: Sample::Period(period),
                        one_cpu: false,
                    },
                    context: ProbeContext::Special,
                    format: None,
                    user_pointers: false,
                    arguments: ProbeArguments::None,
                    function: None,
                }),
                Err(message) => error(message),
            }
        }
        _ => return false,
    }
    true
}

/// `fentry:MODULE:FUNCTION` (FUNCTION may be a wildcard): the functions' ids and prototypes come
/// from the module's split BTF; the runtime loads the program against the module's BTF object.
/// The target is spelled `MODULE:FUNCTION` in `AttachTarget::Fentry::function`.
fn resolve_module_fentry(
    provider: Provider,
    module: &str,
    function_pattern: &str,
    probe_info: &dyn ProbeInfo,
    out: &mut Vec<ResolvedAttach>,
    error: &mut dyn FnMut(String),
) {
    let is_return = provider == Provider::Fexit;
    let functions: Vec<String> = if has_wildcard(function_pattern) || has_wildcard(module) {
        match probe_info.kernel_functions(provider, &format!("{module}:{function_pattern}")) {
            Ok(targets) if !targets.is_empty() => targets,
            Ok(_) => {
                error(format!(
                    "No probes matched: {}:{module}:{function_pattern}",
                    provider.name()
                ));
                return;
            }
            Err(reason) => {
                error(format!("cannot list kernel functions: {reason}"));
                return;
            }
        }
    } else {
        vec![format!("{module}:{function_pattern}")]
    };
    for target in functions {
        let Some((module, function)) = target.split_once(':') else {
            continue;
        };
        if module == "vmlinux" {
            error(format!(
                "{}:{target}: a module pattern matched vmlinux; name vmlinux functions without a module",
                provider.name()
            ));
            continue;
        }
        let found = match probe_info.module_function(module, function) {
            Ok(found) => found,
            Err(reason) => {
                error(format!("{}:{target}: {reason}", provider.name()));
                continue;
            }
        };
        out.push(ResolvedAttach {
            probe_name: format!("{}:{target}", provider.name()),
            attach: AttachTarget::Fentry {
                function: target.clone(),
                btf_id: found.btf_id,
                is_return,
            },
            context: ProbeContext::Fentry,
            format: None,
            user_pointers: false,
            arguments: ProbeArguments::Fentry {
                parameters: found.parameters,
                return_type: found.return_type,
                is_return,
                module_types_from: Some(found.first_module_type_id),
            },
            function: Some(function.to_string()),
        });
    }
}

/// A u64 read from the context at `offset`.
fn context_word(offset: i16, span: Span) -> TypedExpr {
    expr_node(
        TypedExprKind::Builtin(Builtin::ContextWord(offset)),
        Type::UINT64,
        span,
    )
}

/// Where x86-64 keeps integer argument `index` (6 and above) at function entry: the caller
/// pushed them right above the return address, so argument 6 is at `sp + 8`, 7 at `sp + 16`...
pub(super) fn stack_argument_displacement(index: u8) -> Option<i64> {
    let past_registers = i64::from(index).checked_sub(PT_REGS_ARGUMENT_OFFSETS.len() as i64)?;
    (past_registers >= 0).then_some(8 + past_registers * 8)
}

/// The saved register at `register_offset` of `pt_regs`, plus `displacement`.
fn register_plus(register_offset: i16, displacement: i64, span: Span) -> TypedExpr {
    expr_node(
        TypedExprKind::Binary {
            op: BinaryOperator::Add,
            left: Box::new(context_word(register_offset, span)),
            right: Box::new(expr_node(
                TypedExprKind::Integer(displacement),
                Type::INT64,
                span,
            )),
        },
        Type::UINT64,
        span,
    )
}

/// `argN` for N >= 6 of a kprobe/uprobe: the u64 at `sp + 8 * (N - 5)`, read from kernel or
/// user memory.
fn stack_argument(index: u8, space: AddressSpace, span: Span) -> TypedExpr {
    let displacement = stack_argument_displacement(index).unwrap_or(8);
    let address = register_plus(PT_REGS_STACK_POINTER_OFFSET, displacement, span);
    let pointer_type = Type::Pointer {
        pointee: Box::new(Type::UINT64),
        space,
    };
    expr_node(
        TypedExprKind::Dereference {
            pointer: Box::new(TypedExpr {
                ty: pointer_type,
                ..address
            }),
            space,
        },
        Type::UINT64,
        span,
    )
}

/// Narrows (and sign-extends) a 64-bit value to an integer of `bytes`.
fn narrowed(value: TypedExpr, bytes: u8, signed: bool) -> TypedExpr {
    let span = value.span;
    let cast = expr_node(
        TypedExprKind::Cast(Box::new(value)),
        Type::Int { bytes, signed },
        span,
    );
    // Values are 64 bits wide once read, as bpftrace widens them.
    TypedExpr {
        ty: Type::Int { bytes: 8, signed },
        ..cast
    }
}

impl ProbeChecker<'_> {
    /// `argN` of a kprobe, uprobe or USDT probe; `None` (with a diagnostic) elsewhere.
    /// `reg("name")`: a whole 64-bit register of the probed code, by the kernel's x86-64
    /// `struct pt_regs` member names (`ip`, `sp`, `ax`, `di`, `r8`, `flags`, ...); only where the
    /// context is a `struct pt_regs` (kprobes, uprobes, USDT).
    pub(super) fn register_by_name(&mut self, name: &str, span: Span) -> Option<TypedExpr> {
        if !matches!(
            self.attach.arguments,
            ProbeArguments::Registers { .. } | ProbeArguments::Usdt { .. }
        ) {
            self.error(
                span,
                "reg() can only be used in kprobe, kretprobe, uprobe, uretprobe and usdt probes",
            );
            return None;
        }
        // Members of `struct pt_regs` that are not general-purpose register names.
        const OTHER_SLOTS: &[(&str, u32)] =
            &[("orig_ax", 120), ("cs", 136), ("flags", 144), ("ss", 160)];
        let offset = OTHER_SLOTS
            .iter()
            .find(|(slot, _)| *slot == name)
            .map(|(_, offset)| *offset)
            .or_else(|| {
                // The table also knows 32/16/8-bit names; reg() always reads the whole register.
                bpfscope_probes::usdt::x86_64_pt_regs_slot(name)
                    .filter(|slot| slot.byte_shift == 0)
                    .map(|slot| slot.offset)
            });
        let Some(offset) = offset.and_then(|offset| i16::try_from(offset).ok()) else {
            self.error(span, format!("'{name}' is not a register name (x86-64 struct pt_regs: ip, sp, bp, ax, bx, cx, dx, si, di, r8..r15, flags, orig_ax, cs, ss)"));
            return None;
        };
        Some(context_word(offset, span))
    }

    pub(super) fn register_argument(&mut self, index: u8, span: Span) -> Option<TypedExpr> {
        match &self.attach.arguments {
            ProbeArguments::Registers { is_return, .. } => {
                if let Some(offset) = PT_REGS_ARGUMENT_OFFSETS.get(usize::from(index)) {
                    return Some(context_word(*offset, span));
                }
                if *is_return {
                    // At the return the stack slots that held the arguments may be reused.
                    self.error(
                        span,
                        format!("arg{index}: return probes can read only arg0..arg5; arguments from the 7th on are on the stack, which the function may have overwritten by the time it returns (read it in the entry probe and keep it in a map)"),
                    );
                    return None;
                }
                let space = if self.attach.user_pointers {
                    AddressSpace::User
                } else {
                    AddressSpace::Kernel
                };
                Some(stack_argument(index, space, span))
            }
            ProbeArguments::Usdt { arguments, .. } => {
                let Some(argument) = arguments.get(usize::from(index)) else {
                    self.error(
                        span,
                        format!(
                            "{} has {} arguments: arg{index} does not exist",
                            self.attach.probe_name,
                            arguments.len()
                        ),
                    );
                    return None;
                };
                let argument = argument.clone();
                self.usdt_argument(&argument, span)
            }
            ProbeArguments::Fentry { .. } => {
                self.error(
                    span,
                    "fentry/fexit arguments are read by name: args.NAME (see bpfscope -lv 'fentry:FUNCTION')",
                );
                None
            }
            ProbeArguments::None => {
                self.error(
                    span,
                    format!("The arg{index} builtin can only be used with 'kprobes', 'uprobes', 'usdt' and 'rawtracepoint' probes"),
                );
                None
            }
        }
    }

    fn usdt_argument(&mut self, argument: &UsdtArgument, span: Span) -> Option<TypedExpr> {
        let register_value = |checker: &mut Self, register: &str| -> Option<TypedExpr> {
            let Some(slot) = bpfscope_probes::usdt::x86_64_pt_regs_slot(register) else {
                checker.error(
                    span,
                    format!(
                        "USDT argument '{}' uses register %{register}, which a probe cannot read",
                        argument.text
                    ),
                );
                return None;
            };
            let mut value = context_word(slot.offset as i16, span);
            if slot.byte_shift > 0 {
                value = expr_node(
                    TypedExprKind::Binary {
                        op: BinaryOperator::ShiftRight,
                        left: Box::new(value),
                        right: Box::new(expr_node(
                            TypedExprKind::Integer(i64::from(slot.byte_shift) * 8),
                            Type::UINT64,
                            span,
                        )),
                    },
                    Type::UINT64,
                    span,
                );
            }
            Some(value)
        };
        match &argument.location {
            UsdtArgumentLocation::Constant { value } => {
                Some(expr_node(TypedExprKind::Integer(*value), Type::INT64, span))
            }
            UsdtArgumentLocation::Register { register } => {
                let value = register_value(self, register)?;
                if argument.size >= 8 {
                    Some(TypedExpr {
                        ty: Type::Int {
                            bytes: 8,
                            signed: argument.signed,
                        },
                        ..value
                    })
                } else {
                    Some(narrowed(value, argument.size, argument.signed))
                }
            }
            UsdtArgumentLocation::Memory {
                base_register,
                index_register,
                scale,
                offset,
                symbol,
            } => {
                if index_register.is_some() {
                    self.error(
                        span,
                        format!(
                            "USDT argument '{}': indexed operands are not supported yet",
                            argument.text
                        ),
                    );
                    return None;
                }
                let _ = scale;
                let base = match (symbol, base_register) {
                    (Some(symbol), _) => {
                        // `symbol(%rip)`: the variable's run-time address is its link-time
                        // address moved by as much as the probe's (the uprobe's ip is the
                        // probe's run-time address when the program runs).
                        let ProbeArguments::Usdt {
                            probe_address,
                            symbols,
                            ..
                        } = &self.attach.arguments
                        else {
                            return None;
                        };
                        let Some((_, symbol_address)) =
                            symbols.iter().find(|(name, _)| name == symbol)
                        else {
                            self.error(
                                span,
                                format!(
                                    "USDT argument '{}': symbol '{symbol}' is not in the binary's symbol tables",
                                    argument.text
                                ),
                            );
                            return None;
                        };
                        let displacement = symbol_address.wrapping_sub(*probe_address) as i64;
                        register_plus(PT_REGS_IP_OFFSET, displacement, span)
                    }
                    (None, Some(base_register)) => register_value(self, base_register)?,
                    (None, None) => {
                        self.error(
                            span,
                            format!("USDT argument '{}' has no base register", argument.text),
                        );
                        return None;
                    }
                };
                let address = expr_node(
                    TypedExprKind::Binary {
                        op: BinaryOperator::Add,
                        left: Box::new(base),
                        right: Box::new(expr_node(
                            TypedExprKind::Integer(*offset),
                            Type::INT64,
                            span,
                        )),
                    },
                    Type::UINT64,
                    span,
                );
                let value_type = Type::Int {
                    bytes: argument.size.clamp(1, 8),
                    signed: argument.signed,
                };
                let pointer_type = Type::Pointer {
                    pointee: Box::new(value_type.clone()),
                    space: AddressSpace::User,
                };
                let read = expr_node(
                    TypedExprKind::Dereference {
                        pointer: Box::new(TypedExpr {
                            ty: pointer_type,
                            ..address
                        }),
                        space: AddressSpace::User,
                    },
                    value_type,
                    span,
                );
                Some(TypedExpr {
                    ty: Type::Int {
                        bytes: 8,
                        signed: argument.signed,
                    },
                    ..read
                })
            }
            UsdtArgumentLocation::Unsupported => {
                self.error(
                    span,
                    format!(
                        "USDT argument '{}' has an operand bpfscope cannot read",
                        argument.text
                    ),
                );
                None
            }
        }
    }

    /// `retval` of a kretprobe, uretprobe or fexit.
    pub(super) fn return_value(&mut self, span: Span) -> Option<TypedExpr> {
        match &self.attach.arguments {
            ProbeArguments::Registers {
                is_return: true, ..
            } => Some(context_word(PT_REGS_RETURN_VALUE_OFFSET, span)),
            ProbeArguments::Fentry {
                parameters,
                return_type,
                is_return: true,
                ..
            } => {
                let slot = (parameters.len() * 8) as i16;
                let return_type = *return_type;
                let value = context_word(slot, span);
                self.btf_typed_slot(value, return_type, span)
            }
            _ => {
                self.error(
                    span,
                    "The retval builtin can only be used with 'kretprobe', 'uretprobe' and 'fexit' probes",
                );
                None
            }
        }
    }

    /// `func`: the traced function's name.
    pub(super) fn function_name(&mut self, span: Span) -> Option<TypedExpr> {
        let Some(function) = self.attach.function.clone() else {
            self.error(
                span,
                "The func builtin can only be used with kprobe, uprobe and fentry probes",
            );
            return None;
        };
        if let ProbeArguments::Registers {
            func_from_instruction_pointer: true,
            ..
        } = self.attach.arguments
        {
            return Some(expr_node(
                TypedExprKind::Cast(Box::new(context_word(PT_REGS_IP_OFFSET, span))),
                Type::Symbol { user: false },
                span,
            ));
        }
        let capacity = function.len() as u32 + 1;
        Some(expr_node(
            TypedExprKind::String(function.into_bytes()),
            Type::Str { capacity },
            span,
        ))
    }

    /// Whether `args` is the fentry/fexit parameter record here.
    pub(super) fn has_fentry_arguments(&self) -> bool {
        matches!(self.attach.arguments, ProbeArguments::Fentry { .. })
    }

    /// `args.NAME` of a rawtracepoint: the tracepoint's arguments, typed from BTF (the
    /// parameters of its `__probestub_`/`__traceiter_` function after `void *__data`), in the
    /// u64 slots of `struct bpf_raw_tracepoint_args`. BTF is read only when `args` is used.
    pub(super) fn raw_tracepoint_argument(&mut self, name: &str, span: Span) -> Option<TypedExpr> {
        let AttachTarget::RawTracepoint { name: event } = &self.attach.attach else {
            return None;
        };
        let event = event.clone();
        let btf = self.kernel_types(span)?.btf()?.clone();
        let Some(function) = ["__probestub_", "__traceiter_"]
            .iter()
            .find_map(|prefix| btf.find(bpfscope_btf::Kind::Func, &format!("{prefix}{event}")))
        else {
            self.error(
                span,
                format!("the kernel's BTF does not describe the arguments of rawtracepoint:{event}; read them as arg0, arg1, ..."),
            );
            return None;
        };
        let parameters: Vec<(String, u32)> = match btf.func_proto(function) {
            Ok(prototype) => prototype
                .params
                .iter()
                .skip(1)
                .map(|param| (param.name.to_string(), param.ty.0))
                .collect(),
            Err(reason) => {
                self.error(span, format!("rawtracepoint:{event}: {reason}"));
                return None;
            }
        };
        let what = (format!("rawtracepoint:{event}"), "argument");
        self.named_context_slot(&parameters, name, &what, span)
    }

    /// The u64 context slot of parameter `name` among `parameters` (name, BTF type id), typed
    /// from BTF; when there is none, an error naming `what` (probe, noun) and the real names.
    fn named_context_slot(
        &mut self,
        parameters: &[(String, u32)],
        name: &str,
        (probe, noun): &(String, &str),
        span: Span,
    ) -> Option<TypedExpr> {
        let Some(index) = parameters
            .iter()
            .position(|(candidate, _)| candidate == name)
        else {
            let names: Vec<&str> = parameters.iter().map(|(name, _)| name.as_str()).collect();
            let mut diagnostic = Diagnostic::error(
                span,
                format!(
                    "{probe} has no {noun} named '{name}'; its {noun}s: {}",
                    names.join(", ")
                ),
            );
            if let Some(suggestion) = bpfscope_syntax::did_you_mean(name, names.iter().copied()) {
                diagnostic = diagnostic.with_note(format!("Did you mean '{suggestion}'?"));
            }
            self.state.diagnostics.push(diagnostic);
            return None;
        };
        let type_id = parameters.get(index).map(|(_, ty)| *ty).unwrap_or(0);
        let value = context_word((index * 8) as i16, span);
        self.btf_typed_slot(value, type_id, span)
    }

    /// `args.NAME` of fentry/fexit: the parameter's u64 context slot, typed from BTF.
    pub(super) fn fentry_argument(&mut self, name: &str, span: Span) -> Option<TypedExpr> {
        let ProbeArguments::Fentry { parameters, .. } = &self.attach.arguments else {
            return None;
        };
        let what = (self.attach.probe_name.clone(), "parameter");
        self.named_context_slot(parameters, name, &what, span)
    }

    /// A u64 context slot given the C type of BTF `type_id`: integers narrowed, pointers typed.
    fn btf_typed_slot(&mut self, value: TypedExpr, type_id: u32, span: Span) -> Option<TypedExpr> {
        if let ProbeArguments::Fentry {
            module_types_from: Some(first_module_type),
            ..
        } = self.attach.arguments
        {
            if type_id >= first_module_type {
                // A type of the module itself: the whole 64-bit slot, untyped.
                return Some(TypedExpr {
                    ty: Type::UINT64,
                    ..value
                });
            }
        }
        let ctype = match self.kernel_types(span)?.ctype_of_btf(TypeId(type_id)) {
            Ok(ctype) => ctype,
            Err(error) => {
                self.error(span, error.to_string());
                return None;
            }
        };
        match type_of_ctype(&ctype) {
            Type::Int { bytes, signed } if bytes < 8 => Some(narrowed(value, bytes, signed)),
            ty @ (Type::Int { .. } | Type::Pointer { .. }) => Some(TypedExpr { ty, ..value }),
            other => {
                self.error(
                    span,
                    format!("arguments of type '{other}' passed by value cannot be read yet"),
                );
                None
            }
        }
    }
}
