//! `-d types`: the typed program as indented text, one node per line with its type.

use crate::typed::*;

/// Renders every probe of the typed program with the type of each expression.
pub fn dump_types(program: &TypedProgram) -> String {
    let mut out = String::new();
    for (index, map) in program.resources.maps.iter().enumerate() {
        let keys: Vec<String> = map.keys.iter().map(ToString::to_string).collect();
        out.push_str(&format!(
            "map #{index} {}[{}] :: {:?}\n",
            map.name,
            keys.join(", "),
            map.value
        ));
    }
    for probe in &program.probes {
        out.push_str(&format!("{}\n", probe.probe_name));
        for variable in &probe.variables {
            out.push_str(&format!("  var ${} :: {}\n", variable.name, variable.ty));
        }
        if let Some(predicate) = &probe.predicate {
            out.push_str("  predicate\n");
            dump_expr(predicate, 2, &mut out);
        }
        dump_statements(&probe.body, 1, &mut out);
    }
    out
}

fn indent(depth: usize) -> String {
    "  ".repeat(depth)
}

fn dump_statements(statements: &[TypedStatement], depth: usize, out: &mut String) {
    for statement in statements {
        let pad = indent(depth);
        match &statement.kind {
            TypedStatementKind::Expression(expr) => dump_expr(expr, depth, out),
            TypedStatementKind::Emit { action_id, values } => {
                out.push_str(&format!("{pad}emit action #{action_id}\n"));
                for value in values {
                    dump_expr(value, depth + 1, out);
                }
            }
            TypedStatementKind::EmitJoin {
                action_id,
                array,
                space,
            } => {
                out.push_str(&format!(
                    "{pad}join action #{action_id} ({space:?} memory)\n"
                ));
                dump_expr(array, depth + 1, out);
            }
            TypedStatementKind::EmitBare { action_id } => {
                out.push_str(&format!("{pad}emit action #{action_id}\n"))
            }
            TypedStatementKind::AssignVariable { variable, value } => {
                out.push_str(&format!("{pad}assign $#{variable}\n"));
                dump_expr(value, depth + 1, out);
            }
            TypedStatementKind::If {
                condition,
                then_body,
                else_body,
            } => {
                out.push_str(&format!("{pad}if\n"));
                dump_expr(condition, depth + 1, out);
                out.push_str(&format!("{pad}then\n"));
                dump_statements(then_body, depth + 1, out);
                if !else_body.is_empty() {
                    out.push_str(&format!("{pad}else\n"));
                    dump_statements(else_body, depth + 1, out);
                }
            }
            TypedStatementKind::While { condition, body } => {
                out.push_str(&format!("{pad}while\n"));
                dump_expr(condition, depth + 1, out);
                dump_statements(body, depth + 1, out);
            }
            TypedStatementKind::Unroll { count, body } => {
                out.push_str(&format!("{pad}unroll {count}\n"));
                dump_statements(body, depth + 1, out);
            }
            TypedStatementKind::ForRange {
                variable,
                start,
                end,
                max_iterations,
                body,
            } => {
                out.push_str(&format!(
                    "{pad}for $#{variable} (at most {max_iterations} rounds)\n"
                ));
                dump_expr(start, depth + 1, out);
                dump_expr(end, depth + 1, out);
                dump_statements(body, depth + 1, out);
            }
            TypedStatementKind::ForMap {
                variable,
                value_variable,
                map,
                body,
            } => {
                match value_variable {
                    Some(value) => {
                        out.push_str(&format!("{pad}for $#{variable}, $#{value} : map #{map}\n"))
                    }
                    None => out.push_str(&format!("{pad}for $#{variable} : map #{map}\n")),
                }
                dump_statements(body, depth + 1, out);
            }
            TypedStatementKind::MapUpdate { map, keys, value } => {
                out.push_str(&format!("{pad}map #{map} update\n"));
                for key in keys {
                    dump_expr(key, depth + 1, out);
                }
                dump_expr(value, depth + 1, out);
            }
            TypedStatementKind::MapAggregate {
                map,
                keys,
                aggregation,
                value,
            } => {
                out.push_str(&format!("{pad}map #{map} {aggregation:?}\n"));
                for key in keys.iter().chain(value) {
                    dump_expr(key, depth + 1, out);
                }
            }
            TypedStatementKind::MapDelete { map, keys } => {
                out.push_str(&format!("{pad}map #{map} delete\n"));
                for key in keys {
                    dump_expr(key, depth + 1, out);
                }
            }
            TypedStatementKind::Break => out.push_str(&format!("{pad}break\n")),
            TypedStatementKind::Continue => out.push_str(&format!("{pad}continue\n")),
            TypedStatementKind::Return => out.push_str(&format!("{pad}return\n")),
            TypedStatementKind::Signal { signal } => {
                out.push_str(&format!("{pad}signal\n"));
                dump_expr(signal, depth + 1, out);
            }
            TypedStatementKind::Override { value } => {
                out.push_str(&format!("{pad}override\n"));
                dump_expr(value, depth + 1, out);
            }
        }
    }
}

fn dump_expr(expr: &TypedExpr, depth: usize, out: &mut String) {
    let pad = indent(depth);
    let label = match &expr.kind {
        TypedExprKind::Integer(value) => format!("{value}"),
        TypedExprKind::String(bytes) => format!("{:?}", String::from_utf8_lossy(bytes)),
        TypedExprKind::Bool(value) => format!("{value}"),
        TypedExprKind::Builtin(builtin) => format!("builtin {builtin:?}"),
        TypedExprKind::ContextField { name, offset, .. } => format!("args.{name} @{offset}"),
        TypedExprKind::Variable(index) => format!("$#{index}"),
        TypedExprKind::Unary { op, .. } => format!("unary {op:?}"),
        TypedExprKind::Binary { op, .. } => format!("binary {}", op.symbol()),
        TypedExprKind::Logical { and, .. } => (if *and { "&&" } else { "||" }).to_string(),
        TypedExprKind::Ternary { .. } => "?:".to_string(),
        TypedExprKind::Cast(_) => "cast".to_string(),
        TypedExprKind::Dereference { space, .. } => format!("deref ({space:?})"),
        TypedExprKind::ReadString { space, .. } => format!("str ({space:?})"),
        TypedExprKind::JoinString { space, .. } => format!("join ({space:?})"),
        TypedExprKind::TaskArgv { .. } => "argv (current task)".to_string(),
        TypedExprKind::RegexMatch { dfa, .. } => {
            format!("regex_match ({} states)", dfa.states.len())
        }
        TypedExprKind::ArrayArgv { space, .. } => format!("argv ({space:?} array)"),
        TypedExprKind::Tuple(_) => "tuple".to_string(),
        TypedExprKind::CopiedMember { offset, .. } => format!("member at +{offset}"),
        TypedExprKind::TupleIndex { index, .. } => format!(".{index}"),
        TypedExprKind::ArrayIndex { .. } => "index".to_string(),
        TypedExprKind::MapRead { map, .. } => format!("map #{map} read"),
        TypedExprKind::AggregateRead { map, .. } => format!("map #{map} aggregate read"),
        TypedExprKind::MapHasKey { map, .. } => format!("map #{map} has_key"),
        TypedExprKind::StringNCompare { length, .. } => format!("strncmp {length}"),
        TypedExprKind::StringContains { needle, .. } => match &needle.kind {
            TypedExprKind::String(bytes) => {
                format!("strcontains {:?}", String::from_utf8_lossy(bytes))
            }
            _ => "strcontains".to_string(),
        },
        TypedExprKind::MapLength { map } => format!("len map #{map}"),
    };
    out.push_str(&format!("{pad}{label} :: {}\n", expr.ty));
    match &expr.kind {
        TypedExprKind::Unary { operand, .. } | TypedExprKind::Cast(operand) => {
            dump_expr(operand, depth + 1, out)
        }
        TypedExprKind::Binary { left, right, .. } | TypedExprKind::Logical { left, right, .. } => {
            dump_expr(left, depth + 1, out);
            dump_expr(right, depth + 1, out);
        }
        TypedExprKind::Ternary {
            condition,
            then_value,
            else_value,
        } => {
            dump_expr(condition, depth + 1, out);
            dump_expr(then_value, depth + 1, out);
            dump_expr(else_value, depth + 1, out);
        }
        TypedExprKind::Dereference { pointer, .. } | TypedExprKind::ReadString { pointer, .. } => {
            dump_expr(pointer, depth + 1, out)
        }
        TypedExprKind::RegexMatch { haystack, .. } => dump_expr(haystack, depth + 1, out),
        TypedExprKind::JoinString { array, .. } | TypedExprKind::ArrayArgv { array, .. } => {
            dump_expr(array, depth + 1, out)
        }
        TypedExprKind::StringNCompare { left, right, .. } => {
            dump_expr(left, depth + 1, out);
            dump_expr(right, depth + 1, out);
        }
        TypedExprKind::StringContains { haystack, needle } => {
            dump_expr(haystack, depth + 1, out);
            if !matches!(needle.kind, TypedExprKind::String(_)) {
                dump_expr(needle, depth + 1, out);
            }
        }
        TypedExprKind::MapRead { keys, .. }
        | TypedExprKind::AggregateRead { keys, .. }
        | TypedExprKind::MapHasKey { keys, .. } => {
            for key in keys {
                dump_expr(key, depth + 1, out);
            }
        }
        TypedExprKind::Tuple(elements) => {
            for element in elements {
                dump_expr(element, depth + 1, out);
            }
        }
        TypedExprKind::TupleIndex { tuple, .. } => dump_expr(tuple, depth + 1, out),
        TypedExprKind::CopiedMember { record, .. } => dump_expr(record, depth + 1, out),
        TypedExprKind::ArrayIndex { array, index } => {
            dump_expr(array, depth + 1, out);
            dump_expr(index, depth + 1, out);
        }
        _ => {}
    }
}
