//! Pretty-printer for `-d ast`: an indented tree, one node per line.
//!
//! Each level of the tree is indented by one more space (bpftrace's `-d ast` habit).
//! Expression statements print as their expression; other statements print a label line
//! and their parts below it.

use crate::ast::*;

/// Renders the whole program, starting with a `Program` line. Ends with a newline.
pub fn print_program(program: &Program) -> String {
    let mut printer = TreePrinter::default();
    printer.line(0, "Program");
    for include in &program.includes {
        let (open, close) = if include.is_system {
            ('<', '>')
        } else {
            ('"', '"')
        };
        printer.line(1, &format!("include: {open}{}{close}", include.path));
    }
    for line in &program.preprocessor_lines {
        printer.line(1, &format!("preprocessor: {}", line.text));
    }
    for definition in &program.c_definitions {
        let keyword = keyword_text(definition.keyword);
        let name = definition.name.as_deref().unwrap_or("<anonymous>");
        printer.line(1, &format!("c definition: {keyword} {name}"));
    }
    for entry in &program.config {
        printer.line(1, &format!("config: {}", entry.key));
        printer.expression(2, &entry.value);
    }
    for import in &program.imports {
        printer.line(
            1,
            &format!("import: {}", escape_text(import.path.as_bytes())),
        );
    }
    for declaration in &program.map_declarations {
        printer.line(
            1,
            &format!(
                "map declaration: @{} = {}",
                declaration.map_name, declaration.map_kind
            ),
        );
        for argument in &declaration.arguments {
            printer.expression(2, argument);
        }
    }
    for definition in &program.macros {
        printer.line(1, &format!("macro: {}", definition.name));
        for parameter in &definition.parameters {
            let sigil = match parameter.kind {
                MacroParameterKind::Variable => "$",
                MacroParameterKind::Map => "@",
                MacroParameterKind::Expression => "",
            };
            printer.line(2, &format!("parameter: {sigil}{}", parameter.name));
        }
        printer.block(2, &definition.body);
    }
    for definition in &program.functions {
        printer.line(1, &format!("fn: {}", definition.name));
        for parameter in &definition.parameters {
            let type_text = type_spec_to_string(&parameter.type_spec);
            printer.line(2, &format!("parameter: ${}: {type_text}", parameter.name));
        }
        if let Some(return_type) = &definition.return_type {
            printer.line(2, &format!("returns: {}", type_spec_to_string(return_type)));
        }
        printer.block(2, &definition.body);
    }
    for probe in &program.probes {
        printer.line(1, "probe");
        for attach_point in &probe.attach_points {
            printer.line(2, &format!("attach: {}", attach_point.raw));
        }
        if let Some(predicate) = &probe.predicate {
            printer.line(2, "predicate");
            printer.expression(3, predicate);
        }
        printer.block(2, &probe.body);
    }
    printer.output
}

/// Renders one expression as a tree at indentation 0 (handy in tests and checker dumps).
pub fn print_expression(expression: &Expr) -> String {
    let mut printer = TreePrinter::default();
    printer.expression(0, expression);
    printer.output
}

/// A type as it would be written: `struct task_struct *`, `int8[4]`, `unsigned long`.
pub fn type_spec_to_string(type_spec: &TypeSpec) -> String {
    match &type_spec.kind {
        TypeSpecKind::Named(name) => name.clone(),
        TypeSpecKind::Tagged { keyword, name } => format!("{} {name}", keyword_text(*keyword)),
        TypeSpecKind::Pointer(pointee) => {
            let inner = type_spec_to_string(pointee);
            if matches!(pointee.kind, TypeSpecKind::Pointer(_)) {
                format!("{inner}*")
            } else {
                format!("{inner} *")
            }
        }
        TypeSpecKind::Array { element, length } => {
            let length_text = length.map(|length| length.to_string()).unwrap_or_default();
            format!("{}[{length_text}]", type_spec_to_string(element))
        }
        TypeSpecKind::Typeof(_) => "typeof(...)".to_string(),
    }
}

fn keyword_text(keyword: CDefinitionKeyword) -> &'static str {
    match keyword {
        CDefinitionKeyword::Struct => "struct",
        CDefinitionKeyword::Union => "union",
        CDefinitionKeyword::Enum => "enum",
    }
}

/// A string literal's bytes in double quotes with C escapes, so control bytes stay visible.
pub fn escape_text(bytes: &[u8]) -> String {
    let mut escaped = String::from("\"");
    for byte in bytes {
        match byte {
            b'\n' => escaped.push_str("\\n"),
            b'\t' => escaped.push_str("\\t"),
            b'\r' => escaped.push_str("\\r"),
            b'\\' => escaped.push_str("\\\\"),
            b'"' => escaped.push_str("\\\""),
            0x20..=0x7e => escaped.push(char::from(*byte)),
            _ => escaped.push_str(&format!("\\x{byte:02x}")),
        }
    }
    escaped.push('"');
    escaped
}

#[derive(Default)]
struct TreePrinter {
    output: String,
}

impl TreePrinter {
    fn line(&mut self, indent: usize, text: &str) {
        for _ in 0..indent {
            self.output.push(' ');
        }
        self.output.push_str(text);
        self.output.push('\n');
    }

    fn block(&mut self, indent: usize, block: &Block) {
        self.line(indent, "block");
        for statement in &block.statements {
            self.statement(indent + 1, statement);
        }
    }

    fn statement(&mut self, indent: usize, statement: &Statement) {
        match &statement.kind {
            StatementKind::Expression(expression) => self.expression(indent, expression),
            StatementKind::AssignVariable {
                name,
                operator,
                value,
                ..
            } => {
                self.line(indent, &format!("assign: {}", operator.symbol()));
                self.line(indent + 1, &format!("variable: ${name}"));
                self.expression(indent + 1, value);
            }
            StatementKind::AssignMap {
                map,
                operator,
                value,
            } => {
                self.line(indent, &format!("assign: {}", operator.symbol()));
                self.map(indent + 1, map);
                self.expression(indent + 1, value);
            }
            StatementKind::Discard(value) => {
                self.line(indent, "discard");
                self.expression(indent + 1, value);
            }
            StatementKind::VariableDeclaration {
                name,
                type_annotation,
                value,
                ..
            } => {
                let type_text = type_annotation
                    .as_ref()
                    .map(|type_spec| format!(": {}", type_spec_to_string(type_spec)))
                    .unwrap_or_default();
                self.line(indent, &format!("let: ${name}{type_text}"));
                if let Some(value) = value {
                    self.expression(indent + 1, value);
                }
            }
            StatementKind::If {
                condition,
                then_block,
                else_block,
            } => {
                self.line(indent, "if");
                self.expression(indent + 1, condition);
                self.line(indent + 1, "then");
                for nested in &then_block.statements {
                    self.statement(indent + 2, nested);
                }
                if let Some(else_block) = else_block {
                    self.line(indent + 1, "else");
                    for nested in &else_block.statements {
                        self.statement(indent + 2, nested);
                    }
                }
            }
            StatementKind::Unroll { count, body } => {
                self.line(indent, "unroll");
                self.expression(indent + 1, count);
                self.block(indent + 1, body);
            }
            StatementKind::While { condition, body } => {
                self.line(indent, "while");
                self.expression(indent + 1, condition);
                self.block(indent + 1, body);
            }
            StatementKind::ForMap {
                variable,
                value_variable,
                map,
                body,
                ..
            } => {
                match value_variable {
                    Some((value, _)) => self.line(indent, &format!("for: ${variable}, ${value}")),
                    None => self.line(indent, &format!("for: ${variable}")),
                }
                self.map(indent + 1, map);
                self.block(indent + 1, body);
            }
            StatementKind::ForRange {
                variable,
                start,
                end,
                body,
                ..
            } => {
                self.line(indent, &format!("for: ${variable}"));
                self.line(indent + 1, "range");
                self.expression(indent + 2, start);
                self.expression(indent + 2, end);
                self.block(indent + 1, body);
            }
            StatementKind::Break => self.line(indent, "break"),
            StatementKind::Continue => self.line(indent, "continue"),
            StatementKind::Return(value) => {
                self.line(indent, "return");
                if let Some(value) = value {
                    self.expression(indent + 1, value);
                }
            }
            StatementKind::Block(block) => self.block(indent, block),
        }
    }

    fn map(&mut self, indent: usize, map: &MapAccess) {
        self.line(indent, &format!("map: @{}", map.name));
        for key in &map.keys {
            self.expression(indent + 1, key);
        }
    }

    fn expression(&mut self, indent: usize, expression: &Expr) {
        let child = indent + 1;
        match &expression.kind {
            ExprKind::Integer(value) => self.line(indent, &format!("int: {value}")),
            ExprKind::String(bytes) => {
                self.line(indent, &format!("string: {}", escape_text(bytes)));
            }
            ExprKind::Boolean(value) => self.line(indent, &format!("bool: {value}")),
            ExprKind::Identifier(name) => self.line(indent, &format!("identifier: {name}")),
            ExprKind::Variable(name) => self.line(indent, &format!("variable: ${name}")),
            ExprKind::PositionalParameter(number) => {
                self.line(indent, &format!("positional parameter: ${number}"));
            }
            ExprKind::PositionalParameterCount => self.line(indent, "positional parameter: $#"),
            ExprKind::Map(map) => self.map(indent, map),
            ExprKind::FieldAccess {
                base, field, arrow, ..
            } => {
                let operator = if *arrow { "->" } else { "." };
                self.line(indent, &format!("field: {operator}{field}"));
                self.expression(child, base);
            }
            ExprKind::TupleIndex { base, index, .. } => {
                self.line(indent, &format!("tuple index: .{index}"));
                self.expression(child, base);
            }
            ExprKind::Index { base, index } => {
                self.line(indent, "index");
                self.expression(child, base);
                self.expression(child, index);
            }
            ExprKind::Call {
                function,
                arguments,
                ..
            } => {
                self.line(indent, &format!("call: {function}"));
                for argument in arguments {
                    self.expression(child, argument);
                }
            }
            ExprKind::Cast { target_type, value } => {
                self.line(
                    indent,
                    &format!("cast: ({})", type_spec_to_string(target_type)),
                );
                self.expression(child, value);
            }
            ExprKind::Unary { operator, operand } => {
                self.line(indent, &format!("unary: {}", operator.symbol()));
                self.expression(child, operand);
            }
            ExprKind::Binary {
                operator,
                left,
                right,
            } => {
                self.line(indent, &format!("binary: {}", operator.symbol()));
                self.expression(child, left);
                self.expression(child, right);
            }
            ExprKind::Ternary {
                condition,
                then_value,
                else_value,
            } => {
                self.line(indent, "ternary");
                self.expression(child, condition);
                if let Some(then_value) = then_value {
                    self.expression(child, then_value);
                } else {
                    self.line(child, "<condition value>");
                }
                self.expression(child, else_value);
            }
            ExprKind::IncrementDecrement {
                target,
                increment,
                prefix,
            } => {
                let symbol = if *increment { "++" } else { "--" };
                let position = if *prefix { "prefix" } else { "postfix" };
                self.line(indent, &format!("{position}: {symbol}"));
                self.expression(child, target);
            }
            ExprKind::Tuple(elements) => {
                self.line(indent, "tuple");
                for element in elements {
                    self.expression(child, element);
                }
            }
            ExprKind::Record(fields) => {
                self.line(indent, "record");
                for field in fields {
                    self.line(child, &format!("field: {}", field.name));
                    self.expression(child + 1, &field.value);
                }
            }
            ExprKind::Sizeof(argument) => {
                self.line(indent, "sizeof");
                self.sizeof_argument(child, argument);
            }
            ExprKind::Offsetof { target, fields } => {
                self.line(indent, &format!("offsetof: {}", fields.join(".")));
                self.sizeof_argument(child, target);
            }
            ExprKind::BlockExpression { statements, value } => {
                self.line(indent, "block expression");
                for statement in statements {
                    self.statement(child, statement);
                }
                self.line(child, "value");
                self.expression(child + 1, value);
            }
            ExprKind::Error => self.line(indent, "<error>"),
        }
    }

    fn sizeof_argument(&mut self, indent: usize, argument: &SizeofArgument) {
        match argument {
            SizeofArgument::Type(type_spec) => {
                self.line(indent, &format!("type: {}", type_spec_to_string(type_spec)));
            }
            SizeofArgument::Expr(expression) => self.expression(indent, expression),
        }
    }
}
