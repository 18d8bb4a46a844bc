//! Name resolution and type checking: AST in, typed program and resources out, with located diagnostics.

mod argv;
mod config;
mod copied_struct;
mod kernel_access;
mod probe_kinds;
mod struct_print;

use crate::printf;
use crate::probe_info::ProbeInfo;
use crate::typed::*;
use crate::types::{tracepoint_field_type, AddressSpace, Type};
use bpfscope_bpf::{Action, AttachTarget, Field, ValueType};
use bpfscope_probes::tracefs::TracepointFormat;
use bpfscope_probes::Provider;
use bpfscope_syntax::{
    did_you_mean, AssignOperator, BinaryOperator, Diagnostic, Expr, ExprKind, MapAccess, Program,
    Span, Statement, StatementKind, TypeSpecKind, UnaryOperator,
};
use kernel_access::KernelTypesSlot;
use probe_kinds::ProbeArguments;

/// Limits the checker applies; the defaults follow bpftrace where it has one.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// Capacity of strings read with `str()` and of `__data_loc` fields (bpftrace 0.17: 64).
    pub max_strlen: u32,
    /// How many array elements `join()` reads (bpftrace: 16).
    pub join_max_items: u32,
    /// Capacity of each element `join()` prints (bpftrace: 1024).
    pub join_item_capacity: u32,
    /// Capacity of the string `join()` returns when used as a value.
    pub join_value_capacity: u32,
    /// Entries of every script map (bpftrace's `max_map_keys`, default 4096).
    pub max_map_entries: u32,
    /// The script's positional parameters (`$1` is the first).
    pub positional: Vec<String>,
    /// `--unsafe`: allow `signal`, `system` and `override`.
    pub allow_unsafe: bool,
    /// `-p PID`: uprobes and USDT probes fire only in this process.
    pub pid: Option<i32>,
    /// How `kstack`/`ustack` print when the script names no mode (`config = { stack_mode = perf }`).
    pub default_stack_mode: bpfscope_bpf::StackMode,
}

/// Rounds a `for ($i : a..b)` loop may run: the kernel verifies a loop round by round, so it
/// must be bounded (bigger literal ranges are refused with a message, runtime ends are capped).
pub const FOR_RANGE_MAX_ITERATIONS: u32 = 1024;

impl Default for CheckOptions {
    fn default() -> CheckOptions {
        CheckOptions {
            max_strlen: 64,
            join_max_items: 16,
            join_item_capacity: 1024,
            join_value_capacity: 1024,
            max_map_entries: DEFAULT_MAP_ENTRIES,
            positional: Vec::new(),
            allow_unsafe: false,
            pid: None,
            default_stack_mode: bpfscope_bpf::StackMode::Bpftrace,
        }
    }
}

/// The checker's result: a typed program (complete only when no diagnostic is an error).
#[derive(Debug)]
pub struct CheckOutput {
    pub program: TypedProgram,
    pub diagnostics: Vec<Diagnostic>,
}

impl CheckOutput {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Builtin identifiers, for "did you mean".
const BUILTIN_NAMES: &[&str] = &[
    "pid", "tid", "uid", "gid", "comm", "nsecs", "elapsed", "cpu", "rand", "probe", "args", "cpid",
    "curtask", "arg0", "arg1", "arg2", "arg3", "arg4", "arg5", "arg6", "arg7", "arg8", "arg9",
    "retval", "func", "kstack", "ustack", "cgroup",
];
/// Function names, for "did you mean".
const FUNCTION_NAMES: &[&str] = &[
    "delete",
    "clear",
    "zero",
    "count",
    "sum",
    "min",
    "max",
    "avg",
    "stats",
    "hist",
    "lhist",
    "printf",
    "print",
    "join",
    "str",
    "time",
    "strftime",
    "exit",
    "cat",
    "has_key",
    "strncmp",
    "strcontains",
    "len",
    "kstack",
    "ustack",
    "ksym",
    "usym",
    "reg",
    "kaddr",
    "uaddr",
    "cgroupid",
    "ntop",
    "argv",
    "username",
    "regex_match",
];

/// One attach point after expansion, with what its context looks like.
struct ResolvedAttach {
    probe_name: String,
    attach: AttachTarget,
    context: ProbeContext,
    format: Option<TracepointFormat>,
    /// `syscalls:*` tracepoint pointers point into user memory.
    user_pointers: bool,
    /// What `argN`, `retval` and `args.NAME` read for kprobes, uprobes, USDT and fentry.
    arguments: ProbeArguments,
    /// The traced function, for `func`.
    function: Option<String>,
}

/// Checks a parsed program. `source` is the text it was parsed from (for line numbers).
pub fn check(
    program: &Program,
    source: &str,
    probe_info: &dyn ProbeInfo,
    options: &CheckOptions,
) -> CheckOutput {
    // Attach points are resolved once (they may read tracefs); the blocks are checked twice:
    // the first pass only learns every map's type from its assignments, wherever they are, so
    // that a probe may read a map that a later probe in the text writes (as bpftrace allows).
    let mut attach_diagnostics = Vec::new();
    let configured = config::apply_config(&program.config, options, &mut attach_diagnostics);
    let options = &configured;
    let resolved: Vec<Vec<ResolvedAttach>> = program
        .probes
        .iter()
        .map(|probe| {
            let mut attaches = Vec::new();
            for attach_point in &probe.attach_points {
                resolve_attach_point(
                    attach_point,
                    probe_info,
                    options,
                    &mut attaches,
                    &mut attach_diagnostics,
                );
            }
            attaches
        })
        .collect();
    let mut maps = Vec::new();
    let mut output = None;
    let mut kernel_types = script_definitions(program, probe_info, &mut attach_diagnostics);
    for pass in 0..2 {
        let mut state = GlobalState {
            resources: Resources {
                actions: Vec::new(),
                maps: std::mem::take(&mut maps),
            },
            diagnostics: Vec::new(),
            options: options.clone(),
            learning_maps: pass == 0,
            kernel_types: std::mem::take(&mut kernel_types),
        };
        let probes = check_probes(program, &resolved, &mut state, probe_info);
        kernel_types = std::mem::take(&mut state.kernel_types);
        if pass == 0 {
            maps = state.resources.maps;
            continue;
        }
        let line_starts = std::iter::once(0)
            .chain(
                source
                    .char_indices()
                    .filter(|(_, character)| *character == '\n')
                    .map(|(index, _)| index + 1),
            )
            .collect();
        // The same block checked for several attach points reports the same problem several times.
        let mut unique: Vec<Diagnostic> = Vec::new();
        for diagnostic in attach_diagnostics.drain(..).chain(state.diagnostics) {
            if !unique.contains(&diagnostic) {
                unique.push(diagnostic);
            }
        }
        output = Some(CheckOutput {
            program: TypedProgram {
                probes,
                resources: state.resources,
                line_starts,
            },
            diagnostics: unique,
        });
    }
    output.unwrap_or(CheckOutput {
        program: TypedProgram::default(),
        diagnostics: Vec::new(),
    })
}

/// The script's C definitions (`struct x { ... };`), made resolvable by name. Loads BTF,
/// since definitions may use kernel types; without BTF they can still use C's own.
fn script_definitions(
    program: &Program,
    probe_info: &dyn ProbeInfo,
    diagnostics: &mut Vec<Diagnostic>,
) -> KernelTypesSlot {
    if program.c_definitions.is_empty() {
        return KernelTypesSlot::NotLoaded;
    }
    let mut types = match probe_info.kernel_btf() {
        Ok(btf) => bpfscope_ktypes::KernelTypes::new(btf),
        Err(_) => bpfscope_ktypes::KernelTypes::without_btf(),
    };
    for definition in &program.c_definitions {
        // The parser keeps the text without its `;`, which C needs.
        let text = format!("{};", definition.text);
        if let Err(error) = types.define(&text) {
            let start = definition.span.start.saturating_add(error.span.start);
            let end = definition
                .span
                .start
                .saturating_add(error.span.end)
                .min(definition.span.end)
                .max(start);
            let mut diagnostic = Diagnostic::error(Span::new(start, end), error.message.clone());
            if let Some(hint) = &error.hint {
                diagnostic = diagnostic.with_hint(hint.clone());
            }
            diagnostics.push(diagnostic);
        }
    }
    KernelTypesSlot::Loaded(Box::new(types))
}

fn check_probes<'a>(
    program: &Program,
    resolved: &'a [Vec<ResolvedAttach>],
    state: &mut GlobalState,
    probe_info: &'a dyn ProbeInfo,
) -> Vec<TypedProbe> {
    let mut probes = Vec::new();
    for (probe, attaches) in program.probes.iter().zip(resolved) {
        for attach in attaches {
            let mut checker = ProbeChecker {
                state,
                attach,
                probe_info,
                variables: Vec::new(),
                loop_depth: 0,
            };
            let predicate = probe.predicate.as_ref().and_then(|predicate| {
                let typed = checker.expr(predicate)?;
                checker.require_scalar(&typed, "predicate")?;
                Some(typed)
            });
            let body = checker.block(&probe.body.statements);
            let variables = std::mem::take(&mut checker.variables);
            probes.push(TypedProbe {
                probe_name: attach.probe_name.clone(),
                attach: attach.attach.clone(),
                context: attach.context.clone(),
                predicate,
                body,
                variables,
                span: probe.span,
            });
        }
    }
    probes
}

fn has_wildcard(text: &str) -> bool {
    text.contains('*') || text.contains('?')
}

fn resolve_attach_point(
    attach_point: &bpfscope_syntax::AttachPoint,
    probe_info: &dyn ProbeInfo,
    options: &CheckOptions,
    out: &mut Vec<ResolvedAttach>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let raw = attach_point.raw.as_str();
    let span = attach_point.span;
    let provider_text = attach_point.provider();
    let rest = raw.split_once(':').map(|(_, rest)| rest).unwrap_or("");
    if raw == "BEGIN" || raw == "END" {
        let attach = if raw == "BEGIN" {
            AttachTarget::Begin
        } else {
            AttachTarget::End
        };
        out.push(ResolvedAttach {
            probe_name: raw.to_string(),
            attach,
            context: ProbeContext::Special,
            format: None,
            user_pointers: false,
            arguments: ProbeArguments::None,
            function: None,
        });
        return;
    }
    let Some(provider) = Provider::from_name(provider_text) else {
        let names: Vec<&str> = Provider::ALL
            .iter()
            .map(|provider| provider.name())
            .collect();
        let mut diagnostic =
            Diagnostic::error(span, format!("Invalid probe type: {provider_text}"));
        if let Some(suggestion) = did_you_mean(provider_text, names.iter().copied()) {
            diagnostic = diagnostic.with_note(format!("Did you mean '{suggestion}'?"));
        }
        diagnostics.push(diagnostic);
        return;
    };
    match provider {
        Provider::Tracepoint => {
            let Some((category, event)) = rest.split_once(':') else {
                diagnostics.push(Diagnostic::error(
                    span,
                    "tracepoint probe must have a category and an event: tracepoint:CATEGORY:EVENT",
                ));
                return;
            };
            let targets = if has_wildcard(rest) {
                match probe_info.expand_tracepoints(rest) {
                    Ok(targets) if !targets.is_empty() => targets,
                    Ok(_) => {
                        diagnostics.push(Diagnostic::error(
                            span,
                            format!("No probes matched: tracepoint:{rest}"),
                        ));
                        return;
                    }
                    Err(reason) => {
                        diagnostics.push(Diagnostic::error(
                            span,
                            format!("cannot list tracepoints: {reason}"),
                        ));
                        return;
                    }
                }
            } else {
                vec![(category.to_string(), event.to_string())]
            };
            for (category, event) in targets {
                match probe_info.tracepoint_format(&category, &event) {
                    Ok(format) => out.push(ResolvedAttach {
                        probe_name: format!("tracepoint:{category}:{event}"),
                        attach: AttachTarget::Tracepoint {
                            category: category.clone(),
                            name: event.clone(),
                        },
                        context: ProbeContext::Tracepoint,
                        format: Some(format),
                        user_pointers: category == "syscalls",
                        arguments: ProbeArguments::None,
                        function: None,
                    }),
                    Err(reason) => diagnostics.push(
                        Diagnostic::error(
                            span,
                            format!("tracepoint not found: {category}:{event}"),
                        )
                        .with_note(reason)
                        .with_hint("list the available ones with: bpfscope -l 'tracepoint:*'"),
                    ),
                }
            }
        }
        Provider::Rawtracepoint => {
            let name = rest.rsplit(':').next().unwrap_or("").to_string();
            if name.is_empty() || has_wildcard(&name) {
                diagnostics.push(Diagnostic::error(
                    span,
                    "rawtracepoint needs one tracepoint name (no wildcards)",
                ));
                return;
            }
            out.push(ResolvedAttach {
                probe_name: format!("rawtracepoint:{name}"),
                attach: AttachTarget::RawTracepoint { name },
                context: ProbeContext::RawTracepoint,
                format: None,
                user_pointers: false,
                arguments: ProbeArguments::None,
                function: None,
            });
        }
        Provider::Interval | Provider::Profile => match timer_sample(provider, rest) {
            Ok(sample) => out.push(ResolvedAttach {
                probe_name: format!("{}:{rest}", provider.name()),
                attach: AttachTarget::PerfEvent {
                    perf_type: PERF_TYPE_SOFTWARE,
                    config: PERF_COUNT_SW_CPU_CLOCK,
                    sample,
                    // interval: fires once per period on one CPU; profile: on every CPU.
                    one_cpu: provider == Provider::Interval,
                },
                context: ProbeContext::Special,
                format: None,
                user_pointers: false,
                arguments: ProbeArguments::None,
                function: None,
            }),
            Err(message) => diagnostics.push(Diagnostic::error(span, message)),
        },
        other => {
            if !probe_kinds::resolve_probe_kind(
                other,
                rest,
                span,
                probe_info,
                options.pid,
                out,
                diagnostics,
            ) {
                diagnostics.push(Diagnostic::error(
                    span,
                    format!(
                        "probe type '{}' is not supported yet by this compiler",
                        other.name()
                    ),
                ))
            }
        }
    }
}

struct GlobalState {
    resources: Resources,
    diagnostics: Vec<Diagnostic>,
    options: CheckOptions,
    /// The first pass, which only collects map types (its diagnostics are dropped).
    learning_maps: bool,
    /// Kernel types, loaded when the script first needs them.
    kernel_types: KernelTypesSlot,
}

struct ProbeChecker<'a> {
    state: &'a mut GlobalState,
    attach: &'a ResolvedAttach,
    /// Asked for kernel BTF only when the script uses kernel types.
    probe_info: &'a dyn ProbeInfo,
    variables: Vec<Variable>,
    loop_depth: u32,
}

fn expr_node(kind: TypedExprKind, ty: Type, span: Span) -> TypedExpr {
    TypedExpr { kind, ty, span }
}

impl ProbeChecker<'_> {
    fn error(&mut self, span: Span, message: impl Into<String>) {
        self.state
            .diagnostics
            .push(Diagnostic::error(span, message));
    }

    fn require_scalar(&mut self, expr: &TypedExpr, what: &str) -> Option<()> {
        if expr.ty.is_scalar() {
            Some(())
        } else {
            self.error(expr.span, format!("Invalid type for {what}: {}", expr.ty));
            None
        }
    }

    fn block(&mut self, statements: &[Statement]) -> Vec<TypedStatement> {
        let mut out = Vec::new();
        for statement in statements {
            self.statement(statement, &mut out);
        }
        out
    }

    fn statement(&mut self, statement: &Statement, out: &mut Vec<TypedStatement>) {
        let span = statement.span;
        let push = |kind: TypedStatementKind, out: &mut Vec<TypedStatement>| {
            out.push(TypedStatement { kind, span })
        };
        match &statement.kind {
            StatementKind::Expression(expr) | StatementKind::Discard(expr) => match &expr.kind {
                ExprKind::Call {
                    function,
                    function_span,
                    arguments,
                } => {
                    if let Some(kind) =
                        self.statement_call(function, *function_span, arguments, expr.span)
                    {
                        push(kind, out);
                    }
                }
                ExprKind::IncrementDecrement {
                    target, increment, ..
                } => {
                    let operator = if *increment {
                        BinaryOperator::Add
                    } else {
                        BinaryOperator::Subtract
                    };
                    if let Some(kind) = self.compound_assignment(target, operator, None, span) {
                        push(kind, out);
                    }
                }
                _ => {
                    if let Some(typed) = self.expr(expr) {
                        push(TypedStatementKind::Expression(typed), out);
                    }
                }
            },
            StatementKind::AssignVariable {
                name,
                name_span,
                operator,
                value,
            } => {
                let target = Expr::new(ExprKind::Variable(name.clone()), *name_span);
                let kind = match operator {
                    AssignOperator::Assign => self.assign_variable(name, *name_span, value),
                    AssignOperator::Compound(operator) => {
                        self.compound_assignment(&target, *operator, Some(value), span)
                    }
                };
                if let Some(kind) = kind {
                    push(kind, out);
                }
            }
            StatementKind::VariableDeclaration {
                name,
                name_span,
                value,
                ..
            } => {
                let zero = Expr::new(ExprKind::Integer(0), *name_span);
                if let Some(kind) =
                    self.assign_variable(name, *name_span, value.as_ref().unwrap_or(&zero))
                {
                    push(kind, out);
                }
            }
            StatementKind::AssignMap {
                map,
                operator,
                value,
            } => {
                let kind = match operator {
                    AssignOperator::Assign => self.assign_map(map, value),
                    AssignOperator::Compound(operator) => {
                        let target = Expr::new(ExprKind::Map(map.clone()), map.span);
                        self.compound_assignment(&target, *operator, Some(value), span)
                    }
                };
                if let Some(kind) = kind {
                    push(kind, out);
                }
            }
            StatementKind::If {
                condition,
                then_block,
                else_block,
            } => {
                let condition = self.expr(condition).and_then(|condition| {
                    self.require_scalar(&condition, "if condition")?;
                    Some(condition)
                });
                let then_body = self.block(&then_block.statements);
                let else_body = else_block
                    .as_ref()
                    .map(|block| self.block(&block.statements))
                    .unwrap_or_default();
                if let Some(condition) = condition {
                    push(
                        TypedStatementKind::If {
                            condition,
                            then_body,
                            else_body,
                        },
                        out,
                    );
                }
            }
            StatementKind::While { condition, body } => {
                let condition = self.expr(condition).and_then(|condition| {
                    self.require_scalar(&condition, "while condition")?;
                    Some(condition)
                });
                self.loop_depth += 1;
                let body = self.block(&body.statements);
                self.loop_depth -= 1;
                if let Some(condition) = condition {
                    push(TypedStatementKind::While { condition, body }, out);
                }
            }
            StatementKind::Unroll { count, body } => {
                let count_value = match &count.kind {
                    ExprKind::Integer(value) if (1..=100).contains(value) => Some(*value as u32),
                    _ => {
                        self.error(
                            count.span,
                            "unroll() count must be an integer literal between 1 and 100",
                        );
                        None
                    }
                };
                let body = self.block(&body.statements);
                if let Some(count) = count_value {
                    push(TypedStatementKind::Unroll { count, body }, out);
                }
            }
            StatementKind::Break | StatementKind::Continue => {
                if self.loop_depth == 0 {
                    let word = if matches!(statement.kind, StatementKind::Break) {
                        "break"
                    } else {
                        "continue"
                    };
                    self.error(span, format!("{word} used outside of a loop"));
                } else if matches!(statement.kind, StatementKind::Break) {
                    push(TypedStatementKind::Break, out);
                } else {
                    push(TypedStatementKind::Continue, out);
                }
            }
            StatementKind::Return(value) => {
                if let Some(value) = value {
                    self.error(value.span, "return in a probe takes no value");
                }
                push(TypedStatementKind::Return, out);
            }
            StatementKind::Block(block) => {
                for statement in &block.statements {
                    self.statement(statement, out);
                }
            }
            StatementKind::ForMap {
                variable,
                variable_span,
                value_variable,
                map,
                body,
            } => {
                let value_variable = value_variable
                    .as_ref()
                    .map(|(name, span)| (name.as_str(), *span));
                if let Some(kind) = self.for_map(
                    variable,
                    *variable_span,
                    value_variable,
                    map,
                    &body.statements,
                ) {
                    push(kind, out);
                }
            }
            StatementKind::ForRange {
                variable,
                variable_span,
                start,
                end,
                body,
            } => {
                let start_typed = self.expr(start);
                let end_typed = self.expr(end);
                let (Some(start_typed), Some(end_typed)) = (start_typed, end_typed) else {
                    return;
                };
                for bound in [&start_typed, &end_typed] {
                    if !bound.ty.is_integer() {
                        self.error(
                            bound.span,
                            format!("Loop range bounds must be integers, not '{}'", bound.ty),
                        );
                        return;
                    }
                }
                let max_iterations = match (&start_typed.kind, &end_typed.kind) {
                    (TypedExprKind::Integer(first), TypedExprKind::Integer(last)) => {
                        let rounds = i128::from(*last) - i128::from(*first);
                        if rounds > i128::from(FOR_RANGE_MAX_ITERATIONS) {
                            self.state.diagnostics.push(
                                Diagnostic::error(
                                    end.span,
                                    format!(
                                        "this range has {rounds} rounds; a loop may run at most {FOR_RANGE_MAX_ITERATIONS}"
                                    ),
                                )
                                .with_note("the kernel verifies every round of a loop, so loops must be short"),
                            );
                            return;
                        }
                        rounds.max(0) as u32
                    }
                    _ => FOR_RANGE_MAX_ITERATIONS,
                };
                let name = variable.trim_start_matches('$').to_string();
                let loop_value = Expr::new(ExprKind::Integer(0), *variable_span);
                let Some(TypedStatementKind::AssignVariable {
                    variable: index, ..
                }) = self.assign_variable(&name, *variable_span, &loop_value)
                else {
                    return;
                };
                self.loop_depth += 1;
                let body = self.block(&body.statements);
                self.loop_depth -= 1;
                push(
                    TypedStatementKind::ForRange {
                        variable: index,
                        start: start_typed,
                        end: end_typed,
                        max_iterations,
                        body,
                    },
                    out,
                );
            }
        }
    }

    /// `for ($kv : @map)`: `$kv` is `(key, value)`, the key a tuple when the map has several.
    /// `for ($key, $value : @map)` binds the two halves to two variables instead.
    fn for_map(
        &mut self,
        variable: &str,
        variable_span: Span,
        value_variable: Option<(&str, Span)>,
        access: &MapAccess,
        body: &[Statement],
    ) -> Option<TypedStatementKind> {
        let index = self.existing_map(access);
        let element_type = index.and_then(|index| self.map_entry_type(index, access.span));
        if let Some((value_name, value_span)) = value_variable {
            if value_name.trim_start_matches('$') == variable.trim_start_matches('$') {
                self.error(
                    value_span,
                    format!("the key and the value of a for loop need two names, not ${value_name} twice"),
                );
                return None;
            }
        }
        // The declared types: one `(key, value)` tuple, or the key and the value apart.
        let declared_types: Option<Vec<Type>> =
            element_type.map(|element_type| match (value_variable, element_type) {
                (Some(_), Type::Tuple(halves)) => halves,
                (_, whole) => vec![whole],
            });
        let mut names = vec![(variable.trim_start_matches('$').to_string(), variable_span)];
        if let Some((value_name, value_span)) = value_variable {
            names.push((value_name.trim_start_matches('$').to_string(), value_span));
        }
        // Loop variables belong to the loop (as in bpftrace): fresh variables that hide any
        // other of the same name in the body and are forgotten after it, so that two loops
        // over different maps may both call theirs `$kv`.
        let declared: Option<Vec<usize>> = declared_types.map(|types| {
            names
                .iter()
                .zip(types)
                .map(|((name, _), ty)| {
                    self.variables.push(Variable {
                        name: name.clone(),
                        ty,
                    });
                    self.variables.len() - 1
                })
                .collect()
        });
        // The body is checked even when the map is unknown, so that the maps it assigns are learnt.
        self.loop_depth += 1;
        let body = self.block(body);
        self.loop_depth -= 1;
        for (position, (name, span)) in names.iter().enumerate() {
            let declared_index = declared.as_ref().and_then(|list| list.get(position));
            if let Some(variable) = declared_index.and_then(|index| self.variables.get_mut(*index))
            {
                variable.name = format!("{name} (loop at {})", span.start);
            }
        }
        let declared = declared?;
        Some(TypedStatementKind::ForMap {
            variable: *declared.first()?,
            value_variable: declared.get(1).copied(),
            map: index?,
            body,
        })
    }

    /// The `(key, value)` tuple a for loop over map `index` gives.
    fn map_entry_type(&mut self, index: usize, span: Span) -> Option<Type> {
        let map = self.state.resources.maps.get(index)?.clone();
        let key = match map.keys.as_slice() {
            // A map without keys (`@x = 1`) is stored under one zero u64.
            [] => Type::UINT64,
            [single] => single.clone(),
            several => Type::Tuple(several.to_vec()),
        };
        let value = match &map.value {
            MapValueKind::Plain(ty) => ty.clone(),
            MapValueKind::Count => Type::UINT64,
            MapValueKind::Sum { signed }
            | MapValueKind::Min { signed }
            | MapValueKind::Max { signed } => Type::Int {
                bytes: 8,
                signed: *signed,
            },
            other => {
                self.state.diagnostics.push(
                    Diagnostic::error(
                        span,
                        format!(
                            "a for loop cannot walk a {} map (only plain, count, sum, min and max maps)",
                            describe_map_value(other)
                        ),
                    )
                    .with_hint(format!("print it with print({})", map.name)),
                );
                return None;
            }
        };
        Some(Type::Tuple(vec![key, value]))
    }

    fn find_map(&self, access: &MapAccess) -> Option<usize> {
        let name = format!("@{}", access.name);
        self.state
            .resources
            .maps
            .iter()
            .position(|map| map.name == name)
    }

    /// A map that must already have a type (from an assignment anywhere in the script).
    fn existing_map(&mut self, access: &MapAccess) -> Option<usize> {
        if let Some(index) = self.find_map(access) {
            return Some(index);
        }
        if !self.state.learning_maps {
            let mut diagnostic =
                Diagnostic::error(access.name_span, format!("Undefined map: @{}", access.name));
            let names: Vec<String> = self
                .state
                .resources
                .maps
                .iter()
                .map(|map| map.name.clone())
                .collect();
            if let Some(suggestion) = did_you_mean(
                &format!("@{}", access.name),
                names.iter().map(String::as_str),
            ) {
                diagnostic = diagnostic.with_note(format!("Did you mean '{suggestion}'?"));
            }
            self.state.diagnostics.push(diagnostic);
        }
        None
    }

    fn map_keys(&mut self, access: &MapAccess) -> Option<Vec<TypedExpr>> {
        let keys: Vec<Option<TypedExpr>> = access.keys.iter().map(|key| self.expr(key)).collect();
        keys.into_iter().collect()
    }

    /// How each key element is stored: integers as 8 bytes, strings padded to 8 (aligned stores).
    fn key_types(&mut self, keys: &[TypedExpr]) -> Option<Vec<Type>> {
        let mut types = Vec::new();
        for key in keys {
            types.push(match &key.ty {
                Type::Int { signed, .. } => Type::Int {
                    bytes: 8,
                    signed: *signed,
                },
                Type::Bool | Type::Pointer { .. } => Type::UINT64,
                Type::Str { capacity } => Type::Str {
                    capacity: capacity.div_ceil(8) * 8,
                },
                Type::Stack { .. } | Type::Symbol { .. } | Type::Inet | Type::UserName => {
                    key.ty.clone()
                }
                other => {
                    self.error(key.span, format!("Invalid map key type: {other}"));
                    return None;
                }
            });
        }
        Some(types)
    }

    /// Checks that `keys` fit the map's key: same count, strings where strings are.
    fn check_key_shape(&mut self, index: usize, keys: &[TypedExpr], span: Span) -> Option<()> {
        let map = self.state.resources.maps.get(index)?.clone();
        if map.keys.len() != keys.len() {
            self.error(
                span,
                format!(
                    "Argument mismatch for {}: trying to access with {} keys when map expects {}",
                    map.name,
                    keys.len(),
                    map.keys.len()
                ),
            );
            return None;
        }
        for (expected, key) in map.keys.iter().zip(keys) {
            let fits = (expected.is_integer() && key.ty.is_scalar())
                || matches!((expected, &key.ty), (Type::Str { .. }, Type::Str { .. }))
                || (matches!(expected, Type::Symbol { .. }) && key.ty.is_scalar())
                || expected == &key.ty;
            if !fits {
                self.error(
                    key.span,
                    format!(
                        "Argument mismatch for {}: trying to access with arguments: [{}] when map expects arguments: [{}]",
                        map.name, key.ty, expected
                    ),
                );
                return None;
            }
        }
        Some(())
    }

    /// Gives a map its type at first assignment, or checks a later one against it.
    fn define_map(
        &mut self,
        access: &MapAccess,
        keys: Vec<Type>,
        value: MapValueKind,
    ) -> Option<usize> {
        if let Some(index) = self.find_map(access) {
            let existing = self.state.resources.maps.get(index)?.value.clone();
            let compatible = match (&existing, &value) {
                (MapValueKind::Plain(old), MapValueKind::Plain(new)) => {
                    (old.is_scalar() && new.is_scalar())
                        || matches!((old, new), (Type::Str { .. }, Type::Str { .. }))
                        || old == new
                }
                (old, new) => std::mem::discriminant(old) == std::mem::discriminant(new),
            };
            if !compatible {
                self.error(
                    access.span,
                    format!(
                        "Type mismatch for @{}: trying to assign value of type '{}' when map already contains a value of type '{}'",
                        access.name,
                        describe_map_value(&value),
                        describe_map_value(&existing)
                    ),
                );
                return None;
            }
            // Strings widen to the longest ever stored (the first pass sees every assignment).
            if let Some(map) = self.state.resources.maps.get_mut(index) {
                if let (
                    MapValueKind::Plain(Type::Str { capacity: old }),
                    MapValueKind::Plain(Type::Str { capacity: new }),
                ) = (&mut map.value, &value)
                {
                    *old = (*old).max(*new);
                }
                for (old, new) in map.keys.iter_mut().zip(&keys) {
                    if let (Type::Str { capacity: old }, Type::Str { capacity: new }) = (old, new) {
                        *old = (*old).max(*new);
                    }
                }
            }
            return Some(index);
        }
        self.state.resources.maps.push(ScriptMap {
            name: format!("@{}", access.name),
            keys,
            value,
            max_entries: self.state.options.max_map_entries.max(1),
        });
        Some(self.state.resources.maps.len() - 1)
    }

    fn assign_map(&mut self, access: &MapAccess, value: &Expr) -> Option<TypedStatementKind> {
        let keys = self.map_keys(access)?;
        let key_types = self.key_types(&keys)?;
        if let ExprKind::Call {
            function,
            arguments,
            ..
        } = &value.kind
        {
            if let Some(kind) = self.aggregation(function, arguments, value.span) {
                let (aggregation, argument) = kind?;
                let signed = argument
                    .as_ref()
                    .is_some_and(|argument| argument.ty.is_signed());
                let value_kind = match aggregation {
                    Aggregation::Count => MapValueKind::Count,
                    Aggregation::Sum => MapValueKind::Sum { signed },
                    Aggregation::Min => MapValueKind::Min { signed },
                    Aggregation::Max => MapValueKind::Max { signed },
                    Aggregation::Avg => MapValueKind::Avg { signed },
                    Aggregation::Stats => MapValueKind::Stats { signed },
                    Aggregation::Hist => MapValueKind::Hist,
                    Aggregation::Lhist { min, max, step } => MapValueKind::Lhist { min, max, step },
                };
                let index = self.define_map(access, key_types, value_kind)?;
                self.check_key_shape(index, &keys, access.span)?;
                return Some(TypedStatementKind::MapAggregate {
                    map: index,
                    keys,
                    aggregation,
                    value: argument,
                });
            }
        }
        let value = self.expr(value)?;
        let value = self.copy_if_kernel_record(value)?;
        let stored = match &value.ty {
            Type::Int { signed, .. } => Type::Int {
                bytes: 8,
                signed: *signed,
            },
            Type::Bool | Type::Pointer { .. } => Type::UINT64,
            Type::Str { capacity } => Type::Str {
                capacity: (*capacity).max(self.state.options.max_strlen),
            },
            Type::Tuple(_)
            | Type::Record(_)
            | Type::CopiedRecord { .. }
            | Type::Timestamp { .. }
            | Type::Stack { .. }
            | Type::Symbol { .. }
            | Type::UserName
            | Type::Inet => value.ty.clone(),
            Type::Argv { .. } if access.keys.is_empty() => {
                self.error(
                    value.span,
                    "argv() values can be stored only in maps with keys (e.g. @argv[pid] = argv())",
                );
                return None;
            }
            Type::Argv { .. } => value.ty.clone(),
            other => {
                self.error(
                    value.span,
                    format!("Value '{other}' cannot be assigned to a map."),
                );
                return None;
            }
        };
        let index = self.define_map(access, key_types, MapValueKind::Plain(stored))?;
        self.check_key_shape(index, &keys, access.span)?;
        Some(TypedStatementKind::MapUpdate {
            map: index,
            keys,
            value,
        })
    }

    /// `count()`, `sum(v)`, ... when `function` is one: `Some(None)` if it is one but wrong.
    #[allow(clippy::type_complexity)]
    fn aggregation(
        &mut self,
        function: &str,
        arguments: &[Expr],
        span: Span,
    ) -> Option<Option<(Aggregation, Option<TypedExpr>)>> {
        let aggregation = match function {
            "count" => Aggregation::Count,
            "sum" => Aggregation::Sum,
            "min" => Aggregation::Min,
            "max" => Aggregation::Max,
            "avg" => Aggregation::Avg,
            "stats" => Aggregation::Stats,
            "hist" => Aggregation::Hist,
            "lhist" => Aggregation::Lhist {
                min: 0,
                max: 0,
                step: 0,
            },
            _ => return None,
        };
        let expected = match aggregation {
            Aggregation::Count => 0,
            Aggregation::Lhist { .. } => 4,
            _ => 1,
        };
        if arguments.len() != expected {
            let plural = if expected == 1 { "" } else { "s" };
            self.error(
                span,
                format!("{function}() requires {expected} argument{plural}"),
            );
            return Some(None);
        }
        let argument = match arguments.first() {
            Some(argument) => {
                let Some(typed) = self.expr(argument) else {
                    return Some(None);
                };
                if !typed.ty.is_integer() {
                    self.error(
                        typed.span,
                        format!(
                            "{function}() expects an integer argument ({} provided)",
                            typed.ty
                        ),
                    );
                    return Some(None);
                }
                Some(typed)
            }
            None => None,
        };
        if let Aggregation::Lhist { .. } = aggregation {
            let mut literals = Vec::new();
            for argument in arguments.iter().skip(1) {
                match argument.kind {
                    ExprKind::Integer(value) if value <= i64::MAX as u64 => {
                        literals.push(value as i64)
                    }
                    _ => {
                        self.error(
                            argument.span,
                            "lhist() min, max and step must be integer literals",
                        );
                        return Some(None);
                    }
                }
            }
            let [min, max, step] = literals.as_slice() else {
                return Some(None);
            };
            if *step <= 0 || max <= min {
                self.error(span, "lhist() needs min < max and a positive step");
                return Some(None);
            }
            let lhist = Aggregation::Lhist {
                min: *min,
                max: *max,
                step: *step,
            };
            return Some(Some((lhist, argument)));
        }
        Some(Some((aggregation, argument)))
    }

    fn map_read(&mut self, access: &MapAccess) -> Option<TypedExpr> {
        let index = self.existing_map(access)?;
        let keys = self.map_keys(access)?;
        self.check_key_shape(index, &keys, access.span)?;
        let map = self.state.resources.maps.get(index)?;
        let ty = match &map.value {
            MapValueKind::Plain(ty) => ty.clone(),
            MapValueKind::Count => Type::UINT64,
            MapValueKind::Sum { signed }
            | MapValueKind::Min { signed }
            | MapValueKind::Max { signed }
            | MapValueKind::Avg { signed } => Type::Int {
                bytes: 8,
                signed: *signed,
            },
            other => {
                let message = format!(
                    "a {} map cannot be read inside a probe (only count, sum, min, max and avg can)",
                    describe_map_value(other)
                );
                self.error(access.span, message);
                return None;
            }
        };
        let kind = if matches!(map.value, MapValueKind::Plain(_)) {
            TypedExprKind::MapRead { map: index, keys }
        } else {
            TypedExprKind::AggregateRead { map: index, keys }
        };
        Some(expr_node(kind, ty, access.span))
    }

    fn variable_index(&self, name: &str) -> Option<usize> {
        // The latest of a name: a loop variable hides an outer one while its loop is checked.
        self.variables
            .iter()
            .rposition(|variable| variable.name == name)
    }

    fn assign_variable(
        &mut self,
        name: &str,
        name_span: Span,
        value: &Expr,
    ) -> Option<TypedStatementKind> {
        let value = self.expr(value)?;
        let value = self.copy_if_kernel_record(value)?;
        let storable = value.ty.is_scalar()
            || matches!(
                value.ty,
                Type::Str { .. }
                    | Type::Tuple(_)
                    | Type::Record(_)
                    | Type::Stack { .. }
                    | Type::Inet
                    | Type::CopiedRecord { .. }
            );
        if matches!(value.ty, Type::Argv { .. }) {
            self.state.diagnostics.push(
                Diagnostic::error(
                    value.span,
                    format!(
                        "an argv() value ({} bytes) is too big for a variable",
                        value.ty.size()
                    ),
                )
                .with_hint("print it directly, or store it in a map: @argv[pid] = argv()"),
            );
            return None;
        }
        if !storable {
            self.error(
                value.span,
                format!(
                    "Value '{}' cannot be assigned to a scratch variable.",
                    value.ty
                ),
            );
            return None;
        }
        let variable = match self.variable_index(name) {
            Some(index) => {
                let existing = self
                    .variables
                    .get(index)
                    .map(|variable| variable.ty.clone())
                    .unwrap_or(Type::Void);
                let compatible = (existing.is_scalar() && value.ty.is_scalar())
                    || matches!((&existing, &value.ty), (Type::Str { .. }, Type::Str { .. }))
                    || existing == value.ty;
                if !compatible {
                    self.error(
                        name_span,
                        format!(
                            "Type mismatch for ${name}: trying to assign value of type '{}' when variable already contains a value of type '{existing}'",
                            value.ty
                        ),
                    );
                    return None;
                }
                // A longer string widens the variable (its storage is laid out from the final type).
                if let (Type::Str { capacity: old }, Type::Str { capacity: new }) =
                    (&existing, &value.ty)
                {
                    if new > old {
                        if let Some(variable) = self.variables.get_mut(index) {
                            variable.ty = Type::Str { capacity: *new };
                        }
                    }
                }
                index
            }
            None => {
                let ty = match &value.ty {
                    Type::Int { signed, .. } => Type::Int {
                        bytes: 8,
                        signed: *signed,
                    },
                    Type::Bool => Type::UINT64,
                    // Stored strings hold at least max_strlen bytes, as bpftrace's do, so that
                    // `$s = ""; $s = comm;` keeps the whole name.
                    Type::Str { capacity } => Type::Str {
                        capacity: (*capacity).max(self.state.options.max_strlen),
                    },
                    other => other.clone(),
                };
                self.variables.push(Variable {
                    name: name.to_string(),
                    ty,
                });
                self.variables.len() - 1
            }
        };
        Some(TypedStatementKind::AssignVariable { variable, value })
    }

    fn compound_assignment(
        &mut self,
        target: &Expr,
        operator: BinaryOperator,
        value: Option<&Expr>,
        span: Span,
    ) -> Option<TypedStatementKind> {
        let one = Expr::new(ExprKind::Integer(1), span);
        let right = value.unwrap_or(&one).clone();
        let combined = Expr::new(
            ExprKind::Binary {
                operator,
                left: Box::new(target.clone()),
                right: Box::new(right),
            },
            span,
        );
        match &target.kind {
            ExprKind::Variable(name) => self.assign_variable(name, target.span, &combined),
            ExprKind::Map(map) => {
                // `@x++` on a map nobody assigned yet starts from zero, as in bpftrace.
                if self.find_map(map).is_none() {
                    let keys = self.map_keys(map)?;
                    let key_types = self.key_types(&keys)?;
                    self.define_map(map, key_types, MapValueKind::Plain(Type::INT64))?;
                }
                self.assign_map(map, &combined)
            }
            _ => {
                self.error(target.span, "only variables and maps can be assigned to");
                None
            }
        }
    }

    /// Lays out a record: each value 8-aligned after the action id.
    fn record_fields(&mut self, values: &[TypedExpr]) -> Option<Vec<Field>> {
        let mut offset = 8u32;
        let mut fields = Vec::new();
        let mut argv_field = None;
        for value in values {
            let Some(ty) = value.ty.value_type() else {
                self.error(
                    value.span,
                    format!("Value of type '{}' cannot be printed", value.ty),
                );
                return None;
            };
            if value.ty.holds_argv() {
                // Laid out last, so that the record is sent only as far as the arguments go.
                if argv_field.is_some() {
                    self.error(value.span, "one record can hold only one argv() value");
                    return None;
                }
                argv_field = Some((fields.len(), ty));
                fields.push(Field {
                    offset: 0,
                    ty: ValueType::Bool,
                });
                continue;
            }
            let size = ty.size();
            fields.push(Field { offset, ty });
            offset = offset.saturating_add(size.div_ceil(8) * 8);
        }
        if let Some((index, ty)) = argv_field {
            if let Some(field) = fields.get_mut(index) {
                *field = Field { offset, ty };
            }
        }
        Some(fields)
    }

    fn literal_string(
        &mut self,
        expr: Option<&Expr>,
        function: &str,
        span: Span,
    ) -> Option<String> {
        match expr.map(|expr| &expr.kind) {
            Some(ExprKind::String(bytes)) => Some(String::from_utf8_lossy(bytes).into_owned()),
            Some(_) => {
                let span = expr.map(|expr| expr.span).unwrap_or(span);
                self.error(
                    span,
                    format!("{function}() expects a string literal as its first argument"),
                );
                None
            }
            None => {
                self.error(span, format!("{function}() requires at least one argument"));
                None
            }
        }
    }

    /// Functions that are statements: they emit a record for user space.
    fn statement_call(
        &mut self,
        function: &str,
        function_span: Span,
        arguments: &[Expr],
        span: Span,
    ) -> Option<TypedStatementKind> {
        match function {
            "printf" | "cat" => self.formatted_emit(function, arguments, span),
            "delete" => {
                let (map, key) = match arguments {
                    [Expr {
                        kind: ExprKind::Map(map),
                        ..
                    }] => (map, None),
                    [Expr {
                        kind: ExprKind::Map(map),
                        ..
                    }, key]
                        if map.keys.is_empty() =>
                    {
                        (map, Some(key))
                    }
                    _ => {
                        self.error(span, "delete() expects a map element: delete(@map[key]) or delete(@map, key)");
                        return None;
                    }
                };
                let mut access = map.clone();
                if let Some(key) = key {
                    access.keys = match &key.kind {
                        ExprKind::Tuple(elements) => elements.clone(),
                        _ => vec![key.clone()],
                    };
                }
                let index = self.existing_map(&access)?;
                let keys = self.map_keys(&access)?;
                self.check_key_shape(index, &keys, access.span)?;
                Some(TypedStatementKind::MapDelete { map: index, keys })
            }
            "clear" | "zero" => {
                let [Expr {
                    kind: ExprKind::Map(map),
                    ..
                }] = arguments
                else {
                    self.error(span, format!("{function}() expects a map argument"));
                    return None;
                };
                let index = self.existing_map(map)?;
                let action_id = self.state.resources.add_action(Action::ClearMap {
                    map_index: FIRST_SCRIPT_MAP_INDEX + index,
                    zero: function == "zero",
                });
                Some(TypedStatementKind::EmitBare { action_id })
            }
            "print"
                if matches!(
                    arguments.first().map(|argument| &argument.kind),
                    Some(ExprKind::Map(map)) if map.keys.is_empty()
                ) =>
            {
                let Some(Expr {
                    kind: ExprKind::Map(map),
                    ..
                }) = arguments.first()
                else {
                    return None;
                };
                if arguments.len() > 3 {
                    self.error(
                        span,
                        "print() takes a map and at most top and div: print(@map, top, div)",
                    );
                    return None;
                }
                let mut limits = [0u64; 2];
                for (limit, argument) in limits.iter_mut().zip(arguments.iter().skip(1)) {
                    match argument.kind {
                        ExprKind::Integer(value) => *limit = value,
                        _ => {
                            self.error(
                                argument.span,
                                "print()'s top and div must be non-negative integer literals",
                            );
                            return None;
                        }
                    }
                }
                let index = self.existing_map(map)?;
                let action_id = self.state.resources.add_action(Action::PrintMap {
                    map_index: FIRST_SCRIPT_MAP_INDEX + index,
                    top: limits[0],
                    div: limits[1],
                });
                Some(TypedStatementKind::EmitBare { action_id })
            }
            "print" => {
                if arguments.len() != 1 {
                    self.error(span, "print() takes exactly one argument here");
                    return None;
                }
                let value = self.expr(arguments.first()?)?;
                let (value, field) = if matches!(value.ty, Type::KernelObject(_)) {
                    self.struct_print_value(&value, span)?
                } else {
                    let fields = self.record_fields(std::slice::from_ref(&value))?;
                    (value, fields.into_iter().next()?)
                };
                let action_id = self
                    .state
                    .resources
                    .add_action(Action::PrintValue { value: field });
                Some(TypedStatementKind::Emit {
                    action_id,
                    values: vec![value],
                })
            }
            "join" => {
                let (array, space) = self.join_array(arguments, span)?;
                let separator = match arguments.get(1) {
                    None => " ".to_string(),
                    Some(_) => self.literal_string(arguments.get(1), "join", span)?,
                };
                let options = &self.state.options;
                let action = Action::Join {
                    separator,
                    count_offset: 8,
                    truncated_offset: 12,
                    items_offset: 16,
                    item_capacity: options.join_item_capacity,
                    max_items: options.join_max_items,
                };
                let action_id = self.state.resources.add_action(action);
                Some(TypedStatementKind::EmitJoin {
                    action_id,
                    array,
                    space,
                })
            }
            "signal" | "system" | "override" => self.unsafe_call(function, arguments, span),
            "exit" => {
                if let Some(argument) = arguments.first() {
                    self.error(argument.span, "exit() takes no argument");
                    return None;
                }
                let action_id = self.state.resources.add_action(Action::Exit);
                Some(TypedStatementKind::EmitBare { action_id })
            }
            "time" => {
                let format = match arguments.first() {
                    None => "%H:%M:%S\n".to_string(),
                    Some(_) => self.literal_string(arguments.first(), "time", span)?,
                };
                let action_id = self.state.resources.add_action(Action::Time { format });
                Some(TypedStatementKind::EmitBare { action_id })
            }
            _ => {
                let expr = Expr::new(
                    ExprKind::Call {
                        function: function.to_string(),
                        function_span,
                        arguments: arguments.to_vec(),
                    },
                    span,
                );
                let typed = self.expr(&expr)?;
                Some(TypedStatementKind::Expression(typed))
            }
        }
    }

    /// `printf`, `cat` and `system`: a format string and values, recorded for user space.
    fn formatted_emit(
        &mut self,
        function: &str,
        arguments: &[Expr],
        span: Span,
    ) -> Option<TypedStatementKind> {
        let format = self.literal_string(arguments.first(), function, span)?;
        let conversions = match printf::parse_conversions(&format) {
            Ok(conversions) => conversions,
            Err(message) => {
                let format_span = arguments
                    .first()
                    .map(|argument| argument.span)
                    .unwrap_or(span);
                self.error(format_span, message);
                return None;
            }
        };
        let values: Vec<Option<TypedExpr>> = arguments
            .iter()
            .skip(1)
            .map(|argument| self.expr(argument))
            .collect();
        let values: Vec<TypedExpr> = values.into_iter().collect::<Option<Vec<_>>>()?;
        let types: Vec<Type> = values.iter().map(|value| value.ty.clone()).collect();
        let mut failed = false;
        for (index, message) in printf::check_arguments(function, &conversions, &types) {
            let location = index
                .and_then(|index| values.get(index))
                .map(|value| value.span)
                .unwrap_or(span);
            self.error(location, message);
            failed = true;
        }
        if failed {
            return None;
        }
        let args = self.record_fields(&values)?;
        let action = match function {
            "printf" => Action::Printf { format, args },
            "cat" => Action::Cat { format, args },
            _ => Action::System { format, args },
        };
        let action_id = self.state.resources.add_action(action);
        Some(TypedStatementKind::Emit { action_id, values })
    }

    /// `signal`, `system` and `override`, which change what traced programs do: refused
    /// without `--unsafe`.
    fn unsafe_call(
        &mut self,
        function: &str,
        arguments: &[Expr],
        span: Span,
    ) -> Option<TypedStatementKind> {
        if !self.state.options.allow_unsafe {
            self.state.diagnostics.push(
                Diagnostic::error(
                    span,
                    format!("{function}() is an unsafe function: it changes what the traced programs do"),
                )
                .with_hint("run with --unsafe to allow it"),
            );
            return None;
        }
        if function == "system" {
            return self.formatted_emit(function, arguments, span);
        }
        let [argument] = arguments else {
            self.error(span, format!("{function}() takes exactly one argument"));
            return None;
        };
        if function == "override"
            && !matches!(
                self.attach.attach,
                AttachTarget::Kprobe {
                    is_return: false,
                    ..
                }
            )
        {
            self.error(span, "override() can only be used in kprobe probes");
            return None;
        }
        let value = if function == "signal" {
            match &argument.kind {
                ExprKind::String(name) => {
                    let name = String::from_utf8_lossy(name).to_string();
                    let Some(number) = signal_number(&name) else {
                        self.error(argument.span, format!("unknown signal '{name}'"));
                        return None;
                    };
                    self.integer(number, argument.span)
                }
                _ => self.expr(argument)?,
            }
        } else {
            self.expr(argument)?
        };
        self.require_scalar(&value, function)?;
        Some(if function == "signal" {
            TypedStatementKind::Signal { signal: value }
        } else {
            TypedStatementKind::Override { value }
        })
    }

    /// The array argument of `join`: a pointer to pointers to strings.
    fn join_array(&mut self, arguments: &[Expr], span: Span) -> Option<(TypedExpr, AddressSpace)> {
        let Some(first) = arguments.first() else {
            self.error(span, "join() requires at least one argument");
            return None;
        };
        if arguments.len() > 2 {
            self.error(span, "join() takes one or two arguments");
            return None;
        }
        let array = self.expr(first)?;
        match &array.ty {
            Type::Pointer { space, .. } => {
                let space = *space;
                Some((array, space))
            }
            Type::Int { .. } => Some((array, AddressSpace::Kernel)),
            other => {
                self.error(
                    first.span,
                    format!("join() expects an array of strings (char **), got {other}"),
                );
                None
            }
        }
    }

    fn integer(&self, value: i64, span: Span) -> TypedExpr {
        expr_node(TypedExprKind::Integer(value), Type::INT64, span)
    }

    fn expr(&mut self, expr: &Expr) -> Option<TypedExpr> {
        let span = expr.span;
        match &expr.kind {
            ExprKind::Integer(value) => {
                let ty = if *value > i64::MAX as u64 {
                    Type::UINT64
                } else {
                    Type::INT64
                };
                Some(expr_node(TypedExprKind::Integer(*value as i64), ty, span))
            }
            ExprKind::String(bytes) => {
                let capacity = bytes.len() as u32 + 1;
                Some(expr_node(
                    TypedExprKind::String(bytes.clone()),
                    Type::Str { capacity },
                    span,
                ))
            }
            ExprKind::Boolean(value) => {
                Some(expr_node(TypedExprKind::Bool(*value), Type::Bool, span))
            }
            ExprKind::Identifier(name) => self.identifier(name, span),
            ExprKind::Variable(name) => match self.variable_index(name) {
                Some(index) => {
                    let ty = self.variables.get(index)?.ty.clone();
                    Some(expr_node(TypedExprKind::Variable(index), ty, span))
                }
                None => {
                    self.error(span, format!("Undefined or undeclared variable: ${name}"));
                    None
                }
            },
            ExprKind::FieldAccess {
                base,
                field,
                field_span,
                ..
            } => self.field_access(base, field, *field_span, span),
            ExprKind::Unary { operator, operand } => self.unary(*operator, operand, span),
            ExprKind::Binary {
                operator,
                left,
                right,
            } => {
                let left = self.expr(left);
                let right = self.expr(right);
                self.binary(*operator, left?, right?, span)
            }
            ExprKind::Ternary {
                condition,
                then_value,
                else_value,
            } => {
                let condition = self.expr(condition)?;
                self.require_scalar(&condition, "ternary condition")?;
                let then_value = match then_value {
                    Some(then_value) => self.expr(then_value)?,
                    None => condition.clone(),
                };
                let else_value = self.expr(else_value)?;
                let ty = match (&then_value.ty, &else_value.ty) {
                    (left, right) if left.is_integer() && right.is_integer() => Type::Int {
                        bytes: 8,
                        signed: left.is_signed() || right.is_signed(),
                    },
                    (Type::Str { capacity: left }, Type::Str { capacity: right }) => Type::Str {
                        capacity: *left.max(right),
                    },
                    (left, right) if left == right && left.is_pointer() => left.clone(),
                    (left, right) => {
                        self.error(
                            span,
                            format!("Ternary operator must return the same type: have '{left}' and '{right}'"),
                        );
                        return None;
                    }
                };
                Some(expr_node(
                    TypedExprKind::Ternary {
                        condition: Box::new(condition),
                        then_value: Box::new(then_value),
                        else_value: Box::new(else_value),
                    },
                    ty,
                    span,
                ))
            }
            ExprKind::Cast { target_type, value } => {
                let value = self.expr(value)?;
                let target = match &target_type.kind {
                    TypeSpecKind::Named(name) => integer_type_named(name),
                    _ => None,
                };
                let Some(target) = target else {
                    // C types: kernel structs, typedefs (`pid_t`, `u32`), the script's own.
                    return self.kernel_cast(target_type, value, span);
                };
                if !value.ty.is_scalar() {
                    self.error(
                        span,
                        format!("Cannot cast from '{}' to '{target}'", value.ty),
                    );
                    return None;
                }
                Some(expr_node(
                    TypedExprKind::Cast(Box::new(value)),
                    target,
                    span,
                ))
            }
            ExprKind::Index { base, index } => {
                let base = self.expr(base)?;
                let index = self.expr(index)?;
                if !index.ty.is_integer() {
                    self.error(
                        index.span,
                        format!("The array index must be an integer, not '{}'", index.ty),
                    );
                    return None;
                }
                if let Some(kernel) = self.kernel_index(&base, &index, span) {
                    return kernel;
                }
                match base.ty.clone() {
                    Type::Pointer { pointee, space } => {
                        let sum = self.binary(BinaryOperator::Add, base, index, span)?;
                        Some(expr_node(
                            TypedExprKind::Dereference {
                                pointer: Box::new(sum),
                                space,
                            },
                            *pointee,
                            span,
                        ))
                    }
                    Type::Array { element, .. } => Some(expr_node(
                        TypedExprKind::ArrayIndex {
                            array: Box::new(base),
                            index: Box::new(index),
                        },
                        *element,
                        span,
                    )),
                    Type::Str { .. } => Some(expr_node(
                        TypedExprKind::ArrayIndex {
                            array: Box::new(base),
                            index: Box::new(index),
                        },
                        Type::Int {
                            bytes: 1,
                            signed: true,
                        },
                        span,
                    )),
                    other => {
                        self.error(
                            span,
                            format!("The [] operator can not be used on values of type '{other}'"),
                        );
                        None
                    }
                }
            }
            ExprKind::Tuple(elements) => {
                let elements: Vec<Option<TypedExpr>> =
                    elements.iter().map(|element| self.expr(element)).collect();
                let elements = elements.into_iter().collect::<Option<Vec<_>>>()?;
                self.require_argv_last(&elements)?;
                let ty = Type::Tuple(elements.iter().map(|element| element.ty.clone()).collect());
                Some(expr_node(TypedExprKind::Tuple(elements), ty, span))
            }
            ExprKind::Record(fields) => {
                let mut names: Vec<String> = Vec::new();
                let mut elements = Vec::new();
                for field in fields {
                    if names.contains(&field.name) {
                        self.error(
                            field.name_span,
                            format!("duplicate field name '{}' in record", field.name),
                        );
                        return None;
                    }
                    names.push(field.name.clone());
                    elements.push(self.expr(&field.value));
                }
                let elements = elements.into_iter().collect::<Option<Vec<_>>>()?;
                self.require_argv_last(&elements)?;
                let ty = Type::Record(
                    names
                        .into_iter()
                        .zip(elements.iter().map(|element| element.ty.clone()))
                        .collect(),
                );
                Some(expr_node(TypedExprKind::Tuple(elements), ty, span))
            }
            ExprKind::TupleIndex {
                base,
                index,
                index_span,
            } => {
                let base = self.expr(base)?;
                let Type::Tuple(elements) = &base.ty else {
                    self.error(
                        span,
                        format!(
                            "Can not access index '{index}' on expression of type '{}'",
                            base.ty
                        ),
                    );
                    return None;
                };
                let Some(element) = elements.get(*index as usize).cloned() else {
                    self.error(
                        *index_span,
                        format!(
                            "Invalid tuple index: {index}. Found {} elements in tuple.",
                            elements.len()
                        ),
                    );
                    return None;
                };
                Some(expr_node(
                    TypedExprKind::TupleIndex {
                        tuple: Box::new(base),
                        index: *index as usize,
                    },
                    element,
                    span,
                ))
            }
            ExprKind::Call {
                function,
                function_span,
                arguments,
            } => self.value_call(function, *function_span, arguments, span),
            ExprKind::Map(map) => self.map_read(map),
            ExprKind::IncrementDecrement { .. } => {
                self.error(span, "++/-- can only be used as a statement here");
                None
            }
            ExprKind::PositionalParameter(number) => {
                let text = usize::try_from(*number)
                    .ok()
                    .and_then(|number| number.checked_sub(1))
                    .and_then(|index| self.state.options.positional.get(index))
                    .cloned();
                // As bpftrace: a number when the parameter is one, else a string; a missing
                // parameter is 0 (or "" where a string is expected).
                match text {
                    None => Some(self.integer(0, span)),
                    Some(text) => match parse_integer_parameter(&text) {
                        Some(value) => Some(self.integer(value, span)),
                        None => {
                            let capacity = text.len() as u32 + 1;
                            Some(expr_node(
                                TypedExprKind::String(text.into_bytes()),
                                Type::Str { capacity },
                                span,
                            ))
                        }
                    },
                }
            }
            ExprKind::PositionalParameterCount => {
                let count = self.state.options.positional.len() as i64;
                Some(self.integer(count, span))
            }
            ExprKind::Sizeof(argument) => self.size_of(argument, span),
            ExprKind::Offsetof { target, fields } => self.offset_of(target, fields, span),
            ExprKind::Error => None,
            _ => {
                self.error(
                    span,
                    "this expression is not supported yet by this compiler",
                );
                None
            }
        }
    }

    /// `kstack`, `ustack`, `kstack(N)`, `kstack(MODE)`, `kstack(MODE, N)` with MODE one of
    /// `bpftrace` (the default), `perf` or `raw`: the frames `bpf_get_stack` returns, at most
    /// N (127 by default, the kernel's `perf_event_max_stack` default). The mode only changes
    /// how the frames are printed, so it lives in the type, not in the generated code.
    fn stack(&mut self, user: bool, arguments: &[Expr], span: Span) -> Option<TypedExpr> {
        const DEFAULT_STACK_DEPTH: u32 = 127;
        let name = if user { "ustack" } else { "kstack" };
        let mut depth = DEFAULT_STACK_DEPTH;
        let mut mode = self.state.options.default_stack_mode;
        if arguments.len() > 2 {
            self.error(
                span,
                format!("{name}() takes at most two arguments: {name}(mode, depth)"),
            );
            return None;
        }
        for (index, argument) in arguments.iter().enumerate() {
            match &argument.kind {
                ExprKind::Identifier(mode_name) if index == 0 => {
                    let Some(named_mode) = bpfscope_bpf::StackMode::from_name(mode_name) else {
                        self.error(
                            argument.span,
                            format!(
                                "{name}(): unknown stack mode '{mode_name}' \
                                 (expected bpftrace, perf or raw)"
                            ),
                        );
                        return None;
                    };
                    mode = named_mode;
                }
                ExprKind::Integer(frames) if (1..=1024).contains(frames) => {
                    depth = u32::try_from(*frames).unwrap_or(DEFAULT_STACK_DEPTH);
                }
                _ => {
                    self.error(
                        argument.span,
                        format!("{name}(): the depth must be an integer literal from 1 to 1024"),
                    );
                    return None;
                }
            }
        }
        Some(expr_node(
            TypedExprKind::Builtin(Builtin::Stack { user, depth }),
            Type::Stack { user, depth, mode },
            span,
        ))
    }

    fn identifier(&mut self, name: &str, span: Span) -> Option<TypedExpr> {
        let builtin =
            |builtin: Builtin, ty: Type| Some(expr_node(TypedExprKind::Builtin(builtin), ty, span));
        match name {
            "pid" => builtin(Builtin::Pid, Type::UINT64),
            "tid" => builtin(Builtin::Tid, Type::UINT64),
            "uid" => builtin(Builtin::Uid, Type::UINT64),
            "gid" => builtin(Builtin::Gid, Type::UINT64),
            "nsecs" => builtin(Builtin::Nsecs, Type::UINT64),
            "elapsed" => builtin(Builtin::Elapsed, Type::UINT64),
            "cpu" => builtin(Builtin::Cpu, Type::UINT64),
            "rand" => builtin(Builtin::Rand, Type::UINT64),
            "cpid" => builtin(Builtin::Cpid, Type::UINT64),
            "curtask" => builtin(Builtin::CurrentTask, Type::UINT64),
            "comm" => builtin(Builtin::Comm, Type::Str { capacity: 16 }),
            "cgroup" => builtin(Builtin::CgroupId, Type::UINT64),
            "kstack" | "ustack" => self.stack(name == "ustack", &[], span),
            "probe" => {
                let bytes = self.attach.probe_name.as_bytes().to_vec();
                let capacity = bytes.len() as u32 + 1;
                Some(expr_node(
                    TypedExprKind::String(bytes),
                    Type::Str { capacity },
                    span,
                ))
            }
            "args" if self.has_fentry_arguments() => {
                Some(expr_node(TypedExprKind::Integer(0), Type::Context, span))
            }
            "args" => match self.attach.context {
                ProbeContext::Tracepoint | ProbeContext::RawTracepoint => {
                    Some(expr_node(TypedExprKind::Integer(0), Type::Context, span))
                }
                _ => {
                    self.error(
                        span,
                        "The args builtin can only be used with tracepoint, rawtracepoint, fentry and fexit probes here",
                    );
                    None
                }
            },
            "retval" => self.return_value(span),
            "func" => self.function_name(span),
            _ if name.len() == 4
                && name.starts_with("arg")
                && name.as_bytes()[3].is_ascii_digit() =>
            {
                let index = name.as_bytes()[3] - b'0';
                if self.attach.context != ProbeContext::RawTracepoint {
                    return self.register_argument(index, span);
                }
                builtin(Builtin::Arg(index), Type::UINT64)
            }
            _ => {
                if let Some(constant) = self.enum_constant(name, span) {
                    return Some(constant);
                }
                let mut diagnostic =
                    Diagnostic::error(span, format!("Unknown identifier: '{name}'"));
                if let Some(suggestion) = did_you_mean(name, BUILTIN_NAMES.iter().copied()) {
                    diagnostic = diagnostic.with_note(format!("Did you mean '{suggestion}'?"));
                }
                self.state.diagnostics.push(diagnostic);
                None
            }
        }
    }

    fn field_access(
        &mut self,
        base: &Expr,
        field: &str,
        field_span: Span,
        span: Span,
    ) -> Option<TypedExpr> {
        let base_typed = self.expr(base)?;
        if Self::is_kernel_record_base(&base_typed) {
            return self.kernel_member(base_typed, field, field_span, span);
        }
        if matches!(base_typed.ty, Type::Record(_) | Type::CopiedRecord { .. }) {
            return self.copied_or_record_member(base_typed, field, field_span, span);
        }
        if base_typed.ty == Type::Context && self.has_fentry_arguments() {
            return self.fentry_argument(field, field_span);
        }
        if base_typed.ty == Type::Context && self.attach.context == ProbeContext::RawTracepoint {
            return self.raw_tracepoint_argument(field, field_span);
        }
        if base_typed.ty != Type::Context {
            self.error(
                span,
                format!(
                    "Can not access field '{field}' on expression of type '{}'",
                    base_typed.ty
                ),
            );
            return None;
        }
        let format = self.attach.format.as_ref()?;
        let Some(format_field) = format
            .event_fields()
            .iter()
            .find(|candidate| candidate.name == field)
        else {
            let struct_name = match &self.attach.attach {
                AttachTarget::Tracepoint { category, name } => {
                    format!("struct _tracepoint_{category}_{name}")
                }
                _ => "args".to_string(),
            };
            let mut diagnostic = Diagnostic::error(
                field_span,
                format!(
                    "Struct/union of type '{struct_name}' does not contain a field named '{field}'"
                ),
            );
            let names: Vec<&str> = format
                .event_fields()
                .iter()
                .map(|candidate| candidate.name.as_str())
                .collect();
            if let Some(suggestion) = did_you_mean(field, names.iter().copied()) {
                diagnostic = diagnostic.with_note(format!("Did you mean '{suggestion}'?"));
            }
            self.state.diagnostics.push(diagnostic);
            return None;
        };
        let ty = tracepoint_field_type(
            &format_field.type_text,
            format_field.size,
            format_field.signed,
            format_field.array_len,
            format_field.is_data_loc,
            self.attach.user_pointers,
            self.state.options.max_strlen,
        );
        let access = if format_field.is_data_loc {
            ContextFieldAccess::DataLoc
        } else {
            match &ty {
                Type::Str { .. } | Type::Array { .. } => ContextFieldAccess::Inline {
                    bytes: format_field.size,
                },
                Type::Int { bytes, signed } => ContextFieldAccess::Load {
                    bytes: *bytes,
                    signed: *signed,
                },
                _ => ContextFieldAccess::Load {
                    bytes: 8,
                    signed: false,
                },
            }
        };
        // Integers are widened to 64 bits on load, as bpftrace 0.17 does.
        let ty = match ty {
            Type::Int { signed, .. } => Type::Int { bytes: 8, signed },
            other => other,
        };
        Some(expr_node(
            TypedExprKind::ContextField {
                name: field.to_string(),
                offset: format_field.offset,
                access,
            },
            ty,
            span,
        ))
    }

    fn unary(&mut self, operator: UnaryOperator, operand: &Expr, span: Span) -> Option<TypedExpr> {
        let operand = self.expr(operand)?;
        // `*curtask` is the task: curtask is a `struct task_struct *` where used as one.
        let operand = if operator == UnaryOperator::Dereference {
            self.typed_current_task(operand)?
        } else {
            operand
        };
        match operator {
            UnaryOperator::Negate | UnaryOperator::BitwiseNot | UnaryOperator::LogicalNot => {
                if !(operand.ty.is_integer()
                    || (operator == UnaryOperator::LogicalNot && operand.ty.is_pointer()))
                {
                    self.error(
                        span,
                        format!(
                            "Invalid type for unary operator '{}': {}",
                            operator.symbol(),
                            operand.ty
                        ),
                    );
                    return None;
                }
                let (op, ty) = match operator {
                    UnaryOperator::Negate => (UnaryOp::Negate, Type::INT64),
                    UnaryOperator::BitwiseNot => (
                        UnaryOp::BitwiseNot,
                        Type::Int {
                            bytes: 8,
                            signed: operand.ty.is_signed(),
                        },
                    ),
                    _ => (UnaryOp::LogicalNot, Type::Bool),
                };
                Some(expr_node(
                    TypedExprKind::Unary {
                        op,
                        operand: Box::new(operand),
                    },
                    ty,
                    span,
                ))
            }
            UnaryOperator::Dereference => match operand.ty.clone() {
                // A struct in kernel memory stays there: `*p` is the object at p's address.
                Type::Pointer { pointee, .. } if matches!(*pointee, Type::KernelObject(_)) => {
                    Some(TypedExpr {
                        ty: *pointee,
                        span,
                        ..operand
                    })
                }
                Type::Pointer { pointee, space } => {
                    let ty = match *pointee {
                        Type::Int { signed, .. } => Type::Int { bytes: 8, signed },
                        other => other,
                    };
                    let stored_pointee = match &operand.ty {
                        Type::Pointer { pointee, .. } => (**pointee).clone(),
                        _ => ty.clone(),
                    };
                    // Keep the pointee's width on the pointer so codegen reads the right size.
                    let pointer = TypedExpr {
                        ty: Type::Pointer {
                            pointee: Box::new(stored_pointee),
                            space,
                        },
                        ..operand
                    };
                    Some(expr_node(
                        TypedExprKind::Dereference {
                            pointer: Box::new(pointer),
                            space,
                        },
                        ty,
                        span,
                    ))
                }
                other => {
                    self.error(span, format!("Can not dereference type '{other}'"));
                    None
                }
            },
            UnaryOperator::AddressOf => {
                self.error(
                    span,
                    "The address-of operator is not supported yet by this compiler",
                );
                None
            }
        }
    }

    fn binary(
        &mut self,
        op: BinaryOperator,
        left: TypedExpr,
        right: TypedExpr,
        span: Span,
    ) -> Option<TypedExpr> {
        use BinaryOperator::*;
        let comparison = matches!(
            op,
            Less | LessEqual | Greater | GreaterEqual | Equal | NotEqual
        );
        if matches!(op, LogicalAnd | LogicalOr) {
            for side in [&left, &right] {
                if !side.ty.is_scalar() {
                    self.error(
                        side.span,
                        format!("Invalid type for '{}': {}", op.symbol(), side.ty),
                    );
                    return None;
                }
            }
            return Some(expr_node(
                TypedExprKind::Logical {
                    and: op == LogicalAnd,
                    left: Box::new(left),
                    right: Box::new(right),
                },
                Type::Bool,
                span,
            ));
        }
        let ty = match (&left.ty, &right.ty) {
            (Type::Str { .. }, Type::Str { .. }) if matches!(op, Equal | NotEqual) => Type::Bool,
            (l, r) if l.is_integer() && r.is_integer() => {
                if comparison {
                    Type::Bool
                } else {
                    Type::Int {
                        bytes: 8,
                        signed: l.is_signed() || r.is_signed(),
                    }
                }
            }
            (pointer @ Type::Pointer { .. }, integer)
                if integer.is_integer() && matches!(op, Add | Subtract) =>
            {
                pointer.clone()
            }
            (integer, pointer @ Type::Pointer { .. }) if integer.is_integer() && op == Add => {
                pointer.clone()
            }
            (l, r) if l.is_scalar() && r.is_scalar() && comparison => Type::Bool,
            (l, r) if l.is_pointer() && r.is_pointer() && op == Subtract => Type::INT64,
            (l, r) => {
                self.error(
                    span,
                    format!(
                        "Type mismatch for '{}': comparing '{l}' with '{r}'",
                        op.symbol()
                    ),
                );
                return None;
            }
        };
        // Integer + pointer: put the pointer on the left so codegen scales one side only.
        let (left, right) = if right.ty.is_pointer() && !left.ty.is_pointer() {
            (right, left)
        } else {
            (left, right)
        };
        Some(expr_node(
            TypedExprKind::Binary {
                op,
                left: Box::new(left),
                right: Box::new(right),
            },
            ty,
            span,
        ))
    }

    /// Functions that return values.
    fn value_call(
        &mut self,
        function: &str,
        function_span: Span,
        arguments: &[Expr],
        span: Span,
    ) -> Option<TypedExpr> {
        match function {
            "str" => {
                let Some(first) = arguments.first() else {
                    self.error(span, "str() requires at least one argument");
                    return None;
                };
                if arguments.len() > 2 {
                    self.error(span, "str() takes one or two arguments");
                    return None;
                }
                let pointer = self.expr(first)?;
                let length = match arguments.get(1) {
                    Some(length) => {
                        let length = self.expr(length)?;
                        if !length.ty.is_integer() {
                            self.error(
                                length.span,
                                format!("str() length must be an integer, not '{}'", length.ty),
                            );
                            return None;
                        }
                        Some(Box::new(length))
                    }
                    None => None,
                };
                let max_strlen = self.state.options.max_strlen;
                let capacity = match length.as_deref().map(|length| &length.kind) {
                    Some(TypedExprKind::Integer(value)) if *value >= 0 => {
                        ((*value as u32).saturating_add(1)).min(max_strlen)
                    }
                    _ => max_strlen,
                };
                match &pointer.ty {
                    Type::Str { .. } => Some(pointer),
                    Type::Pointer { space, .. } => {
                        let space = *space;
                        Some(expr_node(
                            TypedExprKind::ReadString {
                                pointer: Box::new(pointer),
                                space,
                                length,
                            },
                            Type::Str { capacity },
                            span,
                        ))
                    }
                    Type::Int { .. } => {
                        let space = if self.attach.user_pointers {
                            AddressSpace::User
                        } else {
                            AddressSpace::Kernel
                        };
                        Some(expr_node(
                            TypedExprKind::ReadString {
                                pointer: Box::new(pointer),
                                space,
                                length,
                            },
                            Type::Str { capacity },
                            span,
                        ))
                    }
                    other => {
                        self.error(first.span, format!("str() expects an integer or a pointer type as first argument ({other} provided)"));
                        None
                    }
                }
            }
            "join" => {
                let (array, space) = self.join_array(arguments, span)?;
                let separator = match arguments.get(1) {
                    None => b" ".to_vec(),
                    Some(_) => self
                        .literal_string(arguments.get(1), "join", span)?
                        .into_bytes(),
                };
                let capacity = self.state.options.join_value_capacity;
                Some(expr_node(
                    TypedExprKind::JoinString {
                        array: Box::new(array),
                        space,
                        separator,
                    },
                    Type::Str { capacity },
                    span,
                ))
            }
            "printf" | "print" | "exit" | "time" | "cat" => {
                self.error(
                    span,
                    format!("{function}() returns no value and can only be used as a statement"),
                );
                None
            }
            "kstack" | "ustack" => self.stack(function == "ustack", arguments, span),
            "kaddr" | "cgroupid" => {
                let name = self.literal_string(arguments.first(), function, span)?;
                if arguments.len() != 1 {
                    self.error(
                        span,
                        format!("{function}() takes one string literal argument"),
                    );
                    return None;
                }
                let found = if function == "kaddr" {
                    self.probe_info.kernel_symbol_address(&name)
                } else {
                    self.probe_info.cgroup_id(&name)
                };
                match found {
                    Ok(value) => Some(expr_node(
                        TypedExprKind::Integer(value as i64),
                        Type::UINT64,
                        span,
                    )),
                    Err(reason) => {
                        self.error(span, format!("{function}(\"{name}\"): {reason}"));
                        None
                    }
                }
            }
            "uaddr" => {
                let name = self.literal_string(arguments.first(), "uaddr", span)?;
                let AttachTarget::Uprobe { path, .. } = &self.attach.attach else {
                    self.error(
                        span,
                        "uaddr() can only be used in uprobe, uretprobe and usdt probes",
                    );
                    return None;
                };
                match self.probe_info.symbol_address(path, &name) {
                    Some(address) => Some(expr_node(
                        TypedExprKind::Integer(address as i64),
                        Type::UINT64,
                        span,
                    )),
                    None => {
                        self.error(
                            span,
                            format!("uaddr(\"{name}\"): no symbol '{name}' in {path}"),
                        );
                        None
                    }
                }
            }
            "argv" => self.argv_call(arguments, span),
            "ntop" => {
                let (family, address) = match arguments {
                    [address] => (None, address),
                    [family, address] => (Some(family), address),
                    _ => {
                        self.error(
                            span,
                            "ntop() takes one or two arguments: ntop([family,] address)",
                        );
                        return None;
                    }
                };
                let address = self.expr(address)?;
                let natural_family = match &address.ty {
                    Type::Int { .. } => 2,
                    Type::Array { element, length: 4 } if element.size() == 1 => 2,
                    Type::Array {
                        element,
                        length: 16,
                    } if element.size() == 1 => 10,
                    other => {
                        self.error(
                            address.span,
                            format!("ntop() expects an integer (IPv4) or a 4- or 16-byte array ({other} provided)"),
                        );
                        return None;
                    }
                };
                let family = match family {
                    Some(family) => {
                        let family = self.expr(family)?;
                        self.require_scalar(&family, "ntop")?;
                        family
                    }
                    None => self.integer(natural_family, span),
                };
                // Laid out as a tuple (family word, then the address bytes), printed as an address.
                Some(expr_node(
                    TypedExprKind::Tuple(vec![family, address]),
                    Type::Inet,
                    span,
                ))
            }
            "reg" => {
                let name = self.literal_string(arguments.first(), "reg", span)?;
                if arguments.len() != 1 {
                    self.error(span, "reg() takes one argument: reg(\"name\")");
                    return None;
                }
                self.register_by_name(&name, span)
            }
            "ksym" | "usym" => {
                let [argument] = arguments else {
                    self.error(
                        span,
                        format!("{function}() takes one argument: {function}(address)"),
                    );
                    return None;
                };
                let address = self.expr(argument)?;
                if !(address.ty.is_integer() || address.ty.is_pointer()) {
                    self.error(
                        address.span,
                        format!(
                            "{function}() expects an integer or pointer argument ({} provided)",
                            address.ty
                        ),
                    );
                    return None;
                }
                Some(expr_node(
                    TypedExprKind::Cast(Box::new(address)),
                    Type::Symbol {
                        user: function == "usym",
                    },
                    span,
                ))
            }
            "username" => {
                let [argument] = arguments else {
                    self.error(span, "username() takes one argument: username(uid)");
                    return None;
                };
                let user_id = self.expr(argument)?;
                if !user_id.ty.is_integer() {
                    self.error(
                        user_id.span,
                        format!(
                            "username() expects an integer user id ({} provided)",
                            user_id.ty
                        ),
                    );
                    return None;
                }
                Some(expr_node(
                    TypedExprKind::Cast(Box::new(user_id)),
                    Type::UserName,
                    span,
                ))
            }
            "strftime" => {
                if arguments.len() != 2 {
                    self.error(
                        span,
                        "strftime() takes two arguments: strftime(format, nsecs)",
                    );
                    return None;
                }
                let format = self.literal_string(arguments.first(), "strftime", span)?;
                let value = self.expr(arguments.get(1)?)?;
                if !value.ty.is_integer() {
                    self.error(
                        value.span,
                        format!(
                            "strftime() expects an integer number of nanoseconds ({} provided)",
                            value.ty
                        ),
                    );
                    return None;
                }
                Some(expr_node(
                    TypedExprKind::Cast(Box::new(value)),
                    Type::Timestamp { format },
                    span,
                ))
            }
            "has_key" => {
                let Some(Expr {
                    kind: ExprKind::Map(map),
                    ..
                }) = arguments.first()
                else {
                    self.error(
                        span,
                        "has_key() expects a map and a key: has_key(@map, key)",
                    );
                    return None;
                };
                if !map.keys.is_empty() || arguments.len() < 2 {
                    self.error(
                        span,
                        "has_key() expects a map and a key: has_key(@map, key)",
                    );
                    return None;
                }
                let mut access = map.clone();
                access.keys = match arguments.get(1).map(|key| &key.kind) {
                    Some(ExprKind::Tuple(elements)) if arguments.len() == 2 => elements.clone(),
                    _ => arguments.iter().skip(1).cloned().collect(),
                };
                let index = self.existing_map(&access)?;
                let keys = self.map_keys(&access)?;
                self.check_key_shape(index, &keys, access.span)?;
                Some(expr_node(
                    TypedExprKind::MapHasKey { map: index, keys },
                    Type::Bool,
                    span,
                ))
            }
            "strncmp" => {
                let [left, right, length] = arguments else {
                    self.error(span, "strncmp() takes three arguments: strncmp(a, b, n)");
                    return None;
                };
                let left = self.expr(left)?;
                let right = self.expr(right)?;
                for side in [&left, &right] {
                    if !matches!(side.ty, Type::Str { .. }) {
                        self.error(
                            side.span,
                            format!("strncmp() expects strings ({} provided)", side.ty),
                        );
                        return None;
                    }
                }
                let ExprKind::Integer(length) = length.kind else {
                    self.error(length.span, "strncmp()'s length must be an integer literal");
                    return None;
                };
                let length = u32::try_from(length).unwrap_or(u32::MAX);
                Some(expr_node(
                    TypedExprKind::StringNCompare {
                        left: Box::new(left),
                        right: Box::new(right),
                        length,
                    },
                    Type::INT64,
                    span,
                ))
            }
            "regex_match" => {
                let [haystack, pattern] = arguments else {
                    self.error(
                        span,
                        "regex_match() takes two arguments: regex_match(string, \"pattern\")",
                    );
                    return None;
                };
                let ExprKind::String(pattern_bytes) = &pattern.kind else {
                    self.error(
                        pattern.span,
                        "regex_match() needs the pattern as a string literal (it is compiled before loading)",
                    );
                    return None;
                };
                let haystack = self.expr(haystack)?;
                if !matches!(haystack.ty, Type::Str { .. }) {
                    self.error(
                        haystack.span,
                        format!("regex_match() expects a string ({} provided)", haystack.ty),
                    );
                    return None;
                }
                let pattern_text = String::from_utf8_lossy(pattern_bytes);
                match crate::regex_dfa::compile_regex(&pattern_text) {
                    Ok(dfa) => Some(expr_node(
                        TypedExprKind::RegexMatch {
                            haystack: Box::new(haystack),
                            dfa: std::sync::Arc::new(dfa),
                        },
                        Type::Bool,
                        span,
                    )),
                    Err(error) => {
                        self.error(pattern.span, format!("regex_match(): {error}"));
                        None
                    }
                }
            }
            "strcontains" => {
                let [haystack, needle] = arguments else {
                    self.error(
                        span,
                        "strcontains() takes two arguments: strcontains(haystack, needle)",
                    );
                    return None;
                };
                let haystack = self.expr(haystack)?;
                let needle = self.expr(needle)?;
                for side in [&haystack, &needle] {
                    if !matches!(side.ty, Type::Str { .. }) {
                        self.error(
                            side.span,
                            format!("strcontains() expects strings ({} provided)", side.ty),
                        );
                        return None;
                    }
                }
                Some(expr_node(
                    TypedExprKind::StringContains {
                        haystack: Box::new(haystack),
                        needle: Box::new(needle),
                    },
                    Type::Bool,
                    span,
                ))
            }
            "len" => {
                let [argument] = arguments else {
                    self.error(span, "len() takes one argument: len(@map)");
                    return None;
                };
                let ExprKind::Map(access) = &argument.kind else {
                    self.error(argument.span, "len() expects a map: len(@map)");
                    return None;
                };
                if !access.keys.is_empty() {
                    self.error(
                        access.span,
                        format!("len() counts a whole map: write len(@{})", access.name),
                    );
                    return None;
                }
                let map = self.existing_map(access)?;
                Some(expr_node(
                    TypedExprKind::MapLength { map },
                    Type::INT64,
                    span,
                ))
            }
            _ => {
                let mut diagnostic =
                    Diagnostic::error(function_span, format!("Unknown function: '{function}'"));
                if let Some(suggestion) = did_you_mean(function, FUNCTION_NAMES.iter().copied()) {
                    diagnostic = diagnostic.with_note(format!("Did you mean '{suggestion}'?"));
                }
                self.state.diagnostics.push(diagnostic);
                let _ = self.integer(0, span);
                None
            }
        }
    }
}

/// `perf_event_attr.type` of software events.
const PERF_TYPE_SOFTWARE: u32 = 1;
/// The cpu-clock software event, whose sample period counts nanoseconds.
const PERF_COUNT_SW_CPU_CLOCK: u64 = 0;

/// The sampling of `interval:UNIT:N` / `profile:UNIT:N` (`s`, `ms`, `us`, `hz`).
fn timer_sample(provider: Provider, rest: &str) -> Result<bpfscope_bpf::Sample, String> {
    let usage = format!(
        "{} probes are written {0}:s:N, {0}:ms:N, {0}:us:N or {0}:hz:N",
        provider.name()
    );
    let (unit, count) = rest.split_once(':').ok_or_else(|| usage.clone())?;
    let count: u64 = count.parse().map_err(|_| usage.clone())?;
    if count == 0 {
        return Err(format!(
            "{}: the rate must be greater than zero",
            provider.name()
        ));
    }
    let nanoseconds_per_unit: u64 = match unit {
        "s" => 1_000_000_000,
        "ms" => 1_000_000,
        "us" => 1_000,
        "ns" => 1,
        "hz" => return Ok(bpfscope_bpf::Sample::Frequency(count)),
        _ => return Err(usage),
    };
    count
        .checked_mul(nanoseconds_per_unit)
        .map(bpfscope_bpf::Sample::Period)
        .ok_or_else(|| format!("{}: the period is too long", provider.name()))
}

/// The number of a signal named `SIGKILL`, `KILL` or `9`.
fn signal_number(name: &str) -> Option<i64> {
    const SIGNALS: [(&str, i64); 16] = [
        ("HUP", 1),
        ("INT", 2),
        ("QUIT", 3),
        ("ILL", 4),
        ("TRAP", 5),
        ("ABRT", 6),
        ("BUS", 7),
        ("FPE", 8),
        ("KILL", 9),
        ("USR1", 10),
        ("SEGV", 11),
        ("USR2", 12),
        ("PIPE", 13),
        ("ALRM", 14),
        ("TERM", 15),
        ("STOP", 19),
    ];
    if let Ok(number) = name.parse::<i64>() {
        return Some(number);
    }
    let short = name.strip_prefix("SIG").unwrap_or(name);
    SIGNALS
        .iter()
        .find(|(candidate, _)| *candidate == short)
        .map(|(_, number)| *number)
}

/// A positional parameter that is a number (decimal, or hex with `0x`).
fn parse_integer_parameter(text: &str) -> Option<i64> {
    let trimmed = text.trim();
    let (negative, digits) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    let value = match digits.strip_prefix("0x") {
        Some(hex) => i64::from_str_radix(hex, 16).ok()?,
        None if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            digits.parse().ok()?
        }
        None => return None,
    };
    Some(if negative { -value } else { value })
}

/// A map value kind as messages name it (`count`, `int64`, `string[64]`).
fn describe_map_value(value: &MapValueKind) -> String {
    match value {
        MapValueKind::Plain(ty) => ty.to_string(),
        MapValueKind::Count => "count".to_string(),
        MapValueKind::Sum { .. } => "sum".to_string(),
        MapValueKind::Min { .. } => "min".to_string(),
        MapValueKind::Max { .. } => "max".to_string(),
        MapValueKind::Avg { .. } => "avg".to_string(),
        MapValueKind::Stats { .. } => "stats".to_string(),
        MapValueKind::Hist => "hist".to_string(),
        MapValueKind::Lhist { .. } => "lhist".to_string(),
    }
}

/// `uint32`, `int8`, `bool`, ... as a type.
fn integer_type_named(name: &str) -> Option<Type> {
    Some(match name {
        "bool" => Type::Bool,
        "int8" | "char" => Type::Int {
            bytes: 1,
            signed: true,
        },
        "uint8" | "unsigned char" => Type::Int {
            bytes: 1,
            signed: false,
        },
        "int16" | "short" => Type::Int {
            bytes: 2,
            signed: true,
        },
        "uint16" | "unsigned short" => Type::Int {
            bytes: 2,
            signed: false,
        },
        "int32" | "int" => Type::Int {
            bytes: 4,
            signed: true,
        },
        "uint32" | "unsigned int" => Type::Int {
            bytes: 4,
            signed: false,
        },
        "int64" | "long" => Type::Int {
            bytes: 8,
            signed: true,
        },
        "uint64" | "unsigned long" => Type::Int {
            bytes: 8,
            signed: false,
        },
        _ => return None,
    })
}
