//! Parser tests: printed AST and rendered diagnostics compared with expected text.

use bpfscope_syntax::{parse, print_program, render_all};

/// Parses `source`, asserts there is no diagnostic, and compares the printed tree.
fn check_ast(source: &str, expected: &str) {
    let (program, diagnostics) = parse(source);
    let rendered = render_all(&diagnostics, "stdin", source);
    assert!(rendered.is_empty(), "unexpected diagnostics:\n{rendered}");
    let actual = print_program(&program);
    let expected = expected.trim_start_matches('\n');
    assert_eq!(
        actual, expected,
        "\n--- actual ---\n{actual}--- expected ---\n{expected}"
    );
}

/// Parses `source` and compares all rendered diagnostics.
fn check_errors(source: &str, expected: &str) {
    let (_, diagnostics) = parse(source);
    let actual = render_all(&diagnostics, "stdin", source);
    let expected = expected.trim_start_matches('\n');
    assert_eq!(
        actual, expected,
        "\n--- actual ---\n{actual}--- expected ---\n{expected}"
    );
}

#[test]
fn seed_one_liner_execve_and_execveat() {
    check_ast(
        r#"tracepoint:syscalls:sys_enter_execve,tracepoint:syscalls:sys_enter_execveat { printf("%-6d %-8s", pid, comm); join(args->argv);}"#,
        r#"
Program
 probe
  attach: tracepoint:syscalls:sys_enter_execve
  attach: tracepoint:syscalls:sys_enter_execveat
  block
   call: printf
    string: "%-6d %-8s"
    identifier: pid
    identifier: comm
   call: join
    field: ->argv
     identifier: args
"#,
    );
}

#[test]
fn seed_one_liner_map_assignment_of_join() {
    check_ast(
        r#"tracepoint:syscalls:sys_enter_execve,tracepoint:syscalls:sys_enter_execveat {@execs[tid] = join(args->argv);}"#,
        r#"
Program
 probe
  attach: tracepoint:syscalls:sys_enter_execve
  attach: tracepoint:syscalls:sys_enter_execveat
  block
   assign: =
    map: @execs
     identifier: tid
    call: join
     field: ->argv
      identifier: args
"#,
    );
}

#[test]
fn seed_one_liner_with_curtask_and_no_final_semicolon() {
    check_ast(
        r#"tracepoint:syscalls:sys_enter_execve,tracepoint:syscalls:sys_enter_execveat { time("%H:%M:%S ");printf("%-6d %-6d %-8s ", pid,curtask->parent->pid, comm); join(args->argv)}"#,
        r#"
Program
 probe
  attach: tracepoint:syscalls:sys_enter_execve
  attach: tracepoint:syscalls:sys_enter_execveat
  block
   call: time
    string: "%H:%M:%S "
   call: printf
    string: "%-6d %-6d %-8s "
    identifier: pid
    field: ->pid
     field: ->parent
      identifier: curtask
    identifier: comm
   call: join
    field: ->argv
     identifier: args
"#,
    );
}

#[test]
fn seed_one_liner_nsecs() {
    check_ast(
        r#"tracepoint:syscalls:sys_enter_execve { printf("%ld %s  ", nsecs, comm); join(args->argv);}"#,
        r#"
Program
 probe
  attach: tracepoint:syscalls:sys_enter_execve
  block
   call: printf
    string: "%ld %s  "
    identifier: nsecs
    identifier: comm
   call: join
    field: ->argv
     identifier: args
"#,
    );
}

#[test]
fn seed_execsnoop_script() {
    check_ast(
        r#"#!/usr/bin/bpftrace
#include <linux/sched.h>
BEGIN
{
    printf("%-9s %-6s %-6s %-16s %s\n", "TIME", "PID", "PPID", "COMM", "ARGS")
}
tracepoint:syscalls:sys_enter_execve,
tracepoint:syscalls:sys_enter_execveat
{
    $task = (struct task_struct *)curtask;
    time("%H:%M:%S  ");
    printf("%-6d %-6d %-16s", pid, $task->parent->tgid, comm);
    join(args->argv);
}
"#,
        r#"
Program
 include: <linux/sched.h>
 probe
  attach: BEGIN
  block
   call: printf
    string: "%-9s %-6s %-6s %-16s %s\n"
    string: "TIME"
    string: "PID"
    string: "PPID"
    string: "COMM"
    string: "ARGS"
 probe
  attach: tracepoint:syscalls:sys_enter_execve
  attach: tracepoint:syscalls:sys_enter_execveat
  block
   assign: =
    variable: $task
    cast: (struct task_struct *)
     identifier: curtask
   call: time
    string: "%H:%M:%S  "
   call: printf
    string: "%-6d %-6d %-16s"
    identifier: pid
    field: ->tgid
     field: ->parent
      variable: $task
    identifier: comm
   call: join
    field: ->argv
     identifier: args
"#,
    );
}

#[test]
fn precedence_of_all_binary_levels_and_ternary() {
    check_ast(
        r#"BEGIN { 1 + 2 * 3 << 1 == x && y || z ? a : b }"#,
        r#"
Program
 probe
  attach: BEGIN
  block
   ternary
    binary: ||
     binary: &&
      binary: ==
       binary: <<
        binary: +
         int: 1
         binary: *
          int: 2
          int: 3
        int: 1
       identifier: x
      identifier: y
     identifier: z
    identifier: a
    identifier: b
"#,
    );
}

#[test]
fn precedence_bitwise_and_comparison_levels() {
    check_ast(
        r#"BEGIN { a | b ^ c & d != e < f >> g - h % i; a - b - c; (a - b) * c }"#,
        r#"
Program
 probe
  attach: BEGIN
  block
   binary: |
    identifier: a
    binary: ^
     identifier: b
     binary: &
      identifier: c
      binary: !=
       identifier: d
       binary: <
        identifier: e
        binary: >>
         identifier: f
         binary: -
          identifier: g
          binary: %
           identifier: h
           identifier: i
   binary: -
    binary: -
     identifier: a
     identifier: b
    identifier: c
   binary: *
    binary: -
     identifier: a
     identifier: b
    identifier: c
"#,
    );
}

#[test]
fn unary_operators_and_casts() {
    check_ast(
        r#"BEGIN { -1; !~$x; *$p; &$x; -(int8)-1; (uint32)$x; (int8[4])$y; (string[64])arg0; (unsigned long long *)0; (struct task_struct **)arg1; (uint64_t)arg0; (pid_t)$p; (foo *)arg2; (const char *)arg3; (x) - 1; (uint32)(x) }"#,
        r#"
Program
 probe
  attach: BEGIN
  block
   unary: -
    int: 1
   unary: !
    unary: ~
     variable: $x
   unary: *
    variable: $p
   unary: &
    variable: $x
   unary: -
    cast: (int8)
     unary: -
      int: 1
   cast: (uint32)
    variable: $x
   cast: (int8[4])
    variable: $y
   cast: (string[64])
    identifier: arg0
   cast: (unsigned long long *)
    int: 0
   cast: (struct task_struct **)
    identifier: arg1
   cast: (uint64_t)
    identifier: arg0
   cast: (pid_t)
    variable: $p
   cast: (foo *)
    identifier: arg2
   cast: (char *)
    identifier: arg3
   binary: -
    identifier: x
    int: 1
   cast: (uint32)
    identifier: x
"#,
    );
}

#[test]
fn statements_assignments_and_increments() {
    check_ast(
        r#"kprobe:f { $x = 1; @x[tid, 2] += 1; @y -= 2; $x *= 3; $x /= 4; $x %= 5; $x &= 6; $x |= 7; $x ^= 8; $x <<= 9; $x >>= 10; @++; --@y; $i++; ++$i; $i--; _ = 5 }"#,
        r#"
Program
 probe
  attach: kprobe:f
  block
   assign: =
    variable: $x
    int: 1
   assign: +=
    map: @x
     identifier: tid
     int: 2
    int: 1
   assign: -=
    map: @y
    int: 2
   assign: *=
    variable: $x
    int: 3
   assign: /=
    variable: $x
    int: 4
   assign: %=
    variable: $x
    int: 5
   assign: &=
    variable: $x
    int: 6
   assign: |=
    variable: $x
    int: 7
   assign: ^=
    variable: $x
    int: 8
   assign: <<=
    variable: $x
    int: 9
   assign: >>=
    variable: $x
    int: 10
   postfix: ++
    map: @
   prefix: --
    map: @y
   postfix: ++
    variable: $i
   prefix: ++
    variable: $i
   postfix: --
    variable: $i
   discard
    int: 5
"#,
    );
}

#[test]
fn control_flow_statements() {
    check_ast(
        r#"kprobe:f { if ($t->a == 0) { printf("x") } else if x { @y++ } else { exit() } unroll(3) { $i++ } while ($i < 10) { break; continue } for ($kv : @x) { print($kv.0) } for ($i : 0..10) { return } if errname { return 1; } { $nested = 1; } }"#,
        r#"
Program
 probe
  attach: kprobe:f
  block
   if
    binary: ==
     field: ->a
      variable: $t
     int: 0
    then
     call: printf
      string: "x"
    else
     if
      identifier: x
      then
       postfix: ++
        map: @y
      else
       call: exit
   unroll
    int: 3
    block
     postfix: ++
      variable: $i
   while
    binary: <
     variable: $i
     int: 10
    block
     break
     continue
   for: $kv
    map: @x
    block
     call: print
      tuple index: .0
       variable: $kv
   for: $i
    range
     int: 0
     int: 10
    block
     return
   if
    identifier: errname
    then
     return
      int: 1
   block
    assign: =
     variable: $nested
     int: 1
"#,
    );
}

#[test]
fn let_declarations_and_literals() {
    check_ast(
        r#"BEGIN { let $x: uint32 = 5; let $y; let $s: string[16]; $a = 0x1F + 0b101 + 017 + 1_000 + 1e3 + 10UL + 5ms + 2s; $b = true; $c = false; $d = "tab\there\n\"q\" \\ \x41\101"; $e = $1 + $#; }"#,
        r#"
Program
 probe
  attach: BEGIN
  block
   let: $x: uint32
    int: 5
   let: $y
   let: $s: string[16]
   assign: =
    variable: $a
    binary: +
     binary: +
      binary: +
       binary: +
        binary: +
         binary: +
          binary: +
           int: 31
           int: 5
          int: 15
         int: 1000
        int: 1000
       int: 10
      int: 5000000
     int: 2000000000
   assign: =
    variable: $b
    bool: true
   assign: =
    variable: $c
    bool: false
   assign: =
    variable: $d
    string: "tab\there\n\"q\" \\ AA"
   assign: =
    variable: $e
    binary: +
     positional parameter: $1
     positional parameter: $#
"#,
    );
}

#[test]
fn tuples_records_fields_and_indexes() {
    check_ast(
        r#"BEGIN { $t = (1, "a"); $u = (1,); $v = (); $r = (a = 1, b = $x); $t.0; $t.1.0; args.filename; args->filename; $p->a.b->c; $a[1][2]; @m[1][2]; @m[(1, 2)]; @ = count(); @["k"] = 1; $x = { let $y = 1; $y + 1 }; }"#,
        r#"
Program
 probe
  attach: BEGIN
  block
   assign: =
    variable: $t
    tuple
     int: 1
     string: "a"
   assign: =
    variable: $u
    tuple
     int: 1
   assign: =
    variable: $v
    tuple
   assign: =
    variable: $r
    record
     field: a
      int: 1
     field: b
      variable: $x
   tuple index: .0
    variable: $t
   tuple index: .0
    tuple index: .1
     variable: $t
   field: .filename
    identifier: args
   field: ->filename
    identifier: args
   field: ->c
    field: .b
     field: ->a
      variable: $p
   index
    index
     variable: $a
     int: 1
    int: 2
   index
    map: @m
     int: 1
    int: 2
   map: @m
    tuple
     int: 1
     int: 2
   assign: =
    map: @
    call: count
   assign: =
    map: @
     string: "k"
    int: 1
   assign: =
    variable: $x
    block expression
     let: $y
      int: 1
     value
      binary: +
       variable: $y
       int: 1
"#,
    );
}

#[test]
fn sizeof_offsetof_and_calls() {
    check_ast(
        r#"BEGIN { sizeof(struct task_struct); sizeof($x); sizeof(uint32); offsetof(struct x, a.b); f(); g(1, "two", $three); kstack(perf, 3); str(args.filename, 16) }"#,
        r#"
Program
 probe
  attach: BEGIN
  block
   sizeof
    type: struct task_struct
   sizeof
    variable: $x
   sizeof
    type: uint32
   offsetof: a.b
    type: struct x
   call: f
   call: g
    int: 1
    string: "two"
    variable: $three
   call: kstack
    identifier: perf
    int: 3
   call: str
    field: .filename
     identifier: args
    int: 16
"#,
    );
}

#[test]
fn predicates_with_division_inside_parentheses() {
    check_ast(
        r#"kprobe:f /pid > 1 && (comm == "a" / 2)/ { 1 } kprobe:g/arg0/{ 2 } kprobe:h / @m[$x / 2] / { 3 }"#,
        r#"
Program
 probe
  attach: kprobe:f
  predicate
   binary: &&
    binary: >
     identifier: pid
     int: 1
    binary: ==
     identifier: comm
     binary: /
      string: "a"
      int: 2
  block
   int: 1
 probe
  attach: kprobe:g
  predicate
   identifier: arg0
  block
   int: 2
 probe
  attach: kprobe:h
  predicate
   map: @m
    binary: /
     variable: $x
     int: 2
  block
   int: 3
"#,
    );
}

#[test]
fn attach_point_shapes() {
    check_ast(
        r#"uprobe:/bin/bash:readline /pid == 1/ {} interval:s:1,kprobe:vfs_*,usdt:/path:prov:name , uprobe:"/path with space":f,kfunc:vmlinux:f,uprobe:libc:malloc+0x10 {} BEGIN,END{} t:syscalls:sys_enter_* /comm=="x"/{} profile:hz:99{}software:cpu-clock:1000{} kprobe:f+16 // comment
/* c */ , watchpoint:0x10000:8:rw{} uprobe:./a.out:main/arg0/{} kprobe:vfs_[rw]* {}"#,
        r#"
Program
 probe
  attach: uprobe:/bin/bash:readline
  predicate
   binary: ==
    identifier: pid
    int: 1
  block
 probe
  attach: interval:s:1
  attach: kprobe:vfs_*
  attach: usdt:/path:prov:name
  attach: uprobe:"/path with space":f
  attach: kfunc:vmlinux:f
  attach: uprobe:libc:malloc+0x10
  block
 probe
  attach: BEGIN
  attach: END
  block
 probe
  attach: t:syscalls:sys_enter_*
  predicate
   binary: ==
    identifier: comm
    string: "x"
  block
 probe
  attach: profile:hz:99
  block
 probe
  attach: software:cpu-clock:1000
  block
 probe
  attach: kprobe:f+16
  attach: watchpoint:0x10000:8:rw
  block
 probe
  attach: uprobe:./a.out:main
  predicate
   identifier: arg0
  block
 probe
  attach: kprobe:vfs_[rw]*
  block
"#,
    );
}

#[test]
fn top_level_definitions() {
    check_ast(
        r#"#include "local.h"
#define MAX 10
struct X { int a; char c[4]; struct { int n; } inner; };
union { int x; }
config = { max_map_keys = 10000; stack_mode = perf; missing_probes = warn }
import "x.bt";
macro add($x, @m, e) { $x + 1 }
let @a = lruhash(100);
fn f($a: uint32, $b: struct x *): int64 { return $a; }
BEGIN{}"#,
        r#"
Program
 include: "local.h"
 preprocessor: #define MAX 10
 c definition: struct X
 c definition: union <anonymous>
 config: max_map_keys
  int: 10000
 config: stack_mode
  identifier: perf
 config: missing_probes
  identifier: warn
 import: "x.bt"
 map declaration: @a = lruhash
  int: 100
 macro: add
  parameter: $x
  parameter: @m
  parameter: e
  block
   binary: +
    variable: $x
    int: 1
 fn: f
  parameter: $a: uint32
  parameter: $b: struct x *
  returns: int64
  block
   return
    variable: $a
 probe
  attach: BEGIN
  block
"#,
    );
}

#[test]
fn error_missing_closing_brace() {
    check_errors(
        r#"BEGIN { printf("x"); "#,
        r#"
stdin:1:22-23: ERROR: syntax error, unexpected end of file, expecting }
BEGIN { printf("x"); 
                     ~
"#,
    );
}

#[test]
fn error_unexpected_token_in_call() {
    check_errors(
        r#"BEGIN { printf("x" }"#,
        r#"
stdin:1:20-21: ERROR: syntax error, unexpected }, expecting , or )
BEGIN { printf("x" }
                   ~
"#,
    );
}

#[test]
fn error_missing_semicolon_between_statements() {
    check_errors(
        r#"BEGIN { $x = 1 $y = 2 }"#,
        r#"
stdin:1:16-18: ERROR: syntax error, unexpected variable, expecting ; or }
BEGIN { $x = 1 $y = 2 }
               ~~
"#,
    );
}

#[test]
fn error_unterminated_string() {
    check_errors(
        r#"BEGIN { printf("abc); }"#,
        r#"
stdin:1:16-24: ERROR: unterminated string
BEGIN { printf("abc); }
               ~~~~~~~~
stdin:1:24-25: ERROR: syntax error, unexpected end of file, expecting , or )
BEGIN { printf("abc); }
                       ~
"#,
    );
}

#[test]
fn error_bad_escape() {
    check_errors(
        r#"BEGIN { printf("a\q"); }"#,
        r#"
stdin:1:16-21: ERROR: invalid escape character '\q'
BEGIN { printf("a\q"); }
               ~~~~~
"#,
    );
}

#[test]
fn error_several_per_run_with_recovery() {
    check_errors(
        r#"BEGIN { $x = 
1 + ; } END { @x = ; } kprobe:f { @ = 1; 3 = 4; }"#,
        r#"
stdin:2:5-6: ERROR: syntax error, unexpected ;
1 + ; } END { @x = ; } kprobe:f { @ = 1; 3 = 4; }
    ~
stdin:2:20-21: ERROR: syntax error, unexpected ;
1 + ; } END { @x = ; } kprobe:f { @ = 1; 3 = 4; }
                   ~
stdin:2:42-43: ERROR: only variables and maps can be assigned to
1 + ; } END { @x = ; } kprobe:f { @ = 1; 3 = 4; }
                                         ~
"#,
    );
}

#[test]
fn error_garbage() {
    check_errors(
        r#"}}} garbage %%% BEGIN { ` }"#,
        r#"
stdin:1:1-2: ERROR: syntax error, unexpected }, expecting probe
}}} garbage %%% BEGIN { ` }
~
stdin:1:2-3: ERROR: syntax error, unexpected }, expecting probe
}}} garbage %%% BEGIN { ` }
 ~
stdin:1:3-4: ERROR: syntax error, unexpected }, expecting probe
}}} garbage %%% BEGIN { ` }
  ~
stdin:1:13-14: ERROR: syntax error, unexpected %, expecting { or , or /
}}} garbage %%% BEGIN { ` }
            ~
stdin:1:25-26: ERROR: invalid character '`'
}}} garbage %%% BEGIN { ` }
                        ~
"#,
    );
}

#[test]
fn error_empty_map_key_and_bad_sigils() {
    check_errors(
        r#"BEGIN { @x[] = 1; $ = 2; $99999999999 }"#,
        r#"
stdin:1:9-13: ERROR: map key missing between [ and ]
BEGIN { @x[] = 1; $ = 2; $99999999999 }
        ~~~~
stdin:1:19-20: ERROR: expected a variable name after '$'
BEGIN { @x[] = 1; $ = 2; $99999999999 }
                  ~
stdin:1:21-22: ERROR: syntax error, unexpected =
BEGIN { @x[] = 1; $ = 2; $99999999999 }
                    ~
stdin:1:26-38: ERROR: invalid positional parameter: $99999999999
BEGIN { @x[] = 1; $ = 2; $99999999999 }
                         ~~~~~~~~~~~~
"#,
    );
}

#[test]
fn error_probe_without_body() {
    check_errors(
        r#"BEGIN"#,
        r#"
stdin:1:6-7: ERROR: syntax error, unexpected end of file, expecting { or , or /
BEGIN
     ~
"#,
    );
}

#[test]
fn error_integer_literals() {
    check_errors(
        r#"BEGIN { 0x1ffffffffffffffffffff; 12abc; }"#,
        r#"
stdin:1:9-32: ERROR: integer literal too large: 0x1ffffffffffffffffffff
BEGIN { 0x1ffffffffffffffffffff; 12abc; }
        ~~~~~~~~~~~~~~~~~~~~~~~
stdin:1:34-39: ERROR: invalid integer literal: 12abc
BEGIN { 0x1ffffffffffffffffffff; 12abc; }
                                 ~~~~~
"#,
    );
}

#[test]
fn error_unterminated_comment() {
    check_errors(
        r#"BEGIN { } /* unterminated"#,
        r#"
stdin:1:11-13: ERROR: unterminated comment
BEGIN { } /* unterminated
          ~~
"#,
    );
}

#[test]
fn error_bad_include() {
    check_errors(
        r#"#include linux/sched.h
BEGIN { }"#,
        r#"
stdin:1:1-23: ERROR: invalid #include: expected <file> or "file"
#include linux/sched.h
~~~~~~~~~~~~~~~~~~~~~~
HINT: write e.g. #include <linux/sched.h>
"#,
    );
}

#[test]
fn error_multi_line_span() {
    check_errors(
        r#"BEGIN {
  @x = "unterminated
  }
"#,
        r#"
stdin:2-3: ERROR: unterminated string
stdin:4:1-2: ERROR: syntax error, unexpected end of file, expecting ; or }

~
"#,
    );
}

#[test]
fn error_else_without_if() {
    check_errors(
        r#"BEGIN { else { } ; if (1) { } else }"#,
        r#"
stdin:1:9-13: ERROR: syntax error, unexpected else
BEGIN { else { } ; if (1) { } else }
        ~~~~
stdin:1:36-37: ERROR: syntax error, unexpected }, expecting {
BEGIN { else { } ; if (1) { } else }
                                   ~
"#,
    );
}

#[test]
fn error_division_in_predicate_gets_a_hint() {
    check_errors(
        "kprobe:f /pid / 2 == 1/ { }",
        r#"
stdin:1:17-18: ERROR: syntax error, unexpected integer, expecting {
kprobe:f /pid / 2 == 1/ { }
                ~
HINT: a predicate ends at the first '/': write a division inside it in parentheses, e.g. /(a / 2) > 1/
"#,
    );
}

#[test]
fn spans_point_at_source_text() {
    let source = "tracepoint:syscalls:sys_enter_execve,tracepoint:syscalls:sys_enter_execveat {@execs[tid] = join(args->argv);}";
    let (program, diagnostics) = parse(source);
    assert!(diagnostics.is_empty());
    let probe = program.probes.first().expect("one probe");
    let spans: Vec<&str> = probe
        .attach_points
        .iter()
        .map(|point| point.span.text(source))
        .collect();
    assert_eq!(
        spans,
        [
            "tracepoint:syscalls:sys_enter_execve",
            "tracepoint:syscalls:sys_enter_execveat"
        ]
    );
    assert_eq!(
        probe.attach_points.first().map(|point| point.provider()),
        Some("tracepoint")
    );
    let statement = probe.body.statements.first().expect("one statement");
    assert_eq!(
        statement.span.text(source),
        "@execs[tid] = join(args->argv)"
    );
    let bpfscope_syntax::StatementKind::AssignMap { map, value, .. } = &statement.kind else {
        panic!("expected a map assignment, got {:?}", statement.kind);
    };
    assert_eq!(map.span.text(source), "@execs[tid]");
    assert_eq!(map.name_span.text(source), "@execs");
    // bpftrace reports this call at columns 92-108; the span must give the same columns.
    assert_eq!(value.span.text(source), "join(args->argv)");
    assert_eq!((value.span.start + 1, value.span.end + 1), (92, 108));
    assert_eq!(probe.span.text(source), source);
}

#[test]
fn c_definitions_keep_their_text() {
    let source = "struct Foo { int a; char c[4]; };\nBEGIN { }";
    let (program, diagnostics) = parse(source);
    assert!(diagnostics.is_empty());
    let definition = program.c_definitions.first().expect("one definition");
    assert_eq!(definition.name.as_deref(), Some("Foo"));
    assert_eq!(definition.text, "struct Foo { int a; char c[4]; }");
    assert_eq!(program.probes.len(), 1);
}

#[test]
fn deep_nesting_is_a_diagnostic_not_a_stack_overflow() {
    for (open, close) in [("(", ")"), ("{", "}"), ("-", ""), ("!", ""), ("f(", ")")] {
        let depth = 100_000;
        let source = format!("BEGIN {{ {}1{} }}", open.repeat(depth), close.repeat(depth));
        let (_, diagnostics) = parse(&source);
        assert!(
            diagnostics
                .iter()
                .any(|diagnostic| diagnostic.message.contains("nested too deeply")),
            "no depth diagnostic for {open}: {diagnostics:?}"
        );
    }
    let long_chain = format!("BEGIN {{ 1{} }}", " + 1".repeat(100_000));
    let (_, diagnostics) = parse(&long_chain);
    assert!(diagnostics
        .iter()
        .any(|d| d.message.contains("nested too deeply")));
    let long_postfix = format!("BEGIN {{ $x{} }}", ".a".repeat(100_000));
    let (_, diagnostics) = parse(&long_postfix);
    assert!(diagnostics
        .iter()
        .any(|d| d.message.contains("nested too deeply")));
    let long_type = format!("BEGIN {{ (int8{})1 }}", "*".repeat(100_000));
    let (_, diagnostics) = parse(&long_type);
    assert!(diagnostics
        .iter()
        .any(|d| d.message.contains("nested too deeply")));
    let long_else_if = format!(
        "BEGIN {{ if (1) {{}}{} }}",
        " else if (1) {}".repeat(100_000)
    );
    let (_, diagnostics) = parse(&long_else_if);
    assert!(diagnostics
        .iter()
        .any(|d| d.message.contains("nested too deeply")));
}

#[test]
fn garbage_input_stops_after_a_bounded_number_of_errors() {
    let source = "}".repeat(100_000) + &"`".repeat(100_000);
    let (_, diagnostics) = parse(&source);
    assert!(diagnostics.len() <= 2 * bpfscope_syntax::parser::MAXIMUM_DIAGNOSTICS + 1);
    assert!(diagnostics
        .iter()
        .any(|diagnostic| diagnostic.message.starts_with("too many errors")));
}

#[test]
fn moderate_nesting_is_accepted() {
    let source = format!("BEGIN {{ $x = {}1{}; }}", "(".repeat(40), ")".repeat(40));
    let (_, diagnostics) = parse(&source);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
}

/// Small deterministic generator so the test needs no dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const SEED_SCRIPTS: &[&str] = &[
    r#"tracepoint:syscalls:sys_enter_execve,tracepoint:syscalls:sys_enter_execveat { printf("%-6d %-8s", pid, comm); join(args->argv);}"#,
    r#"tracepoint:syscalls:sys_enter_execve,tracepoint:syscalls:sys_enter_execveat {@execs[tid] = join(args->argv);}"#,
    r#"tracepoint:syscalls:sys_enter_execve { printf("%ld %s  ", nsecs, comm); join(args->argv);}"#,
    "#!/usr/bin/bpftrace\n#include <linux/sched.h>\nBEGIN\n{\n    printf(\"%-9s %-6s %-6s %-16s %s\\n\", \"TIME\", \"PID\", \"PPID\", \"COMM\", \"ARGS\")\n}\ntracepoint:syscalls:sys_enter_execve,\ntracepoint:syscalls:sys_enter_execveat\n{\n    $task = (struct task_struct *)curtask;\n    time(\"%H:%M:%S  \");\n    printf(\"%-6d %-6d %-16s\", pid, $task->parent->tgid, comm);\n    join(args->argv);\n}\n",
    "config = { max_map_keys = 1 } struct X { int a; } kprobe:f /pid > 1 && (comm == \"a\" / 2)/ { @x[tid, 2] += 1; $t = (1, \"a\"); $r = (a = 1); if ($t.0 == 0) { unroll(2) { $i++ } } else if x { for ($k : @x) { break } } else { for ($i : 0..3) { continue } } let $y: uint8[4] = (int8[4])1; $z = sizeof(struct X) ? offsetof(struct X, a) : -~!*&$q; @ = count(); x = { 1 }; }",
];

/// Renders every diagnostic too, so the renderer is exercised on the same inputs.
fn parse_and_render(source: &str) {
    let (program, diagnostics) = parse(source);
    let _ = print_program(&program);
    let _ = render_all(&diagnostics, "stdin", source);
}

#[test]
fn every_prefix_of_the_seed_scripts_parses_without_panic() {
    for script in SEED_SCRIPTS {
        for (end, _) in script.char_indices() {
            let prefix = script.get(..end).unwrap_or("");
            parse_and_render(prefix);
        }
    }
}

#[test]
fn random_inputs_parse_without_panic() {
    let mut random = XorShift(0x9e37_79b9_7f4a_7c15);
    // Bytes biased towards the language's own characters, so the parser gets deep.
    let alphabet: Vec<char> =
        "(){}[]<>/\\*+-=!~&|^%?:;.,\"'$@# \n\t0123456789abcxyz_ifelsewhileforletstruct\u{e9}\u{0}"
            .chars()
            .collect();
    // BPFSCOPE_FUZZ_ITERATIONS=N runs a longer campaign (e.g. for the 10-minute fuzz check).
    let iterations: u64 = std::env::var("BPFSCOPE_FUZZ_ITERATIONS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(3000);
    for _ in 0..iterations {
        let length = (random.next() % 120) as usize;
        let text: String = (0..length)
            .map(|_| {
                let index = (random.next() % alphabet.len() as u64) as usize;
                alphabet.get(index).copied().unwrap_or('x')
            })
            .collect();
        parse_and_render(&text);
    }
    // Mutations of the seed scripts: delete, duplicate or replace one char.
    for _ in 0..iterations {
        let script = SEED_SCRIPTS
            .get((random.next() % SEED_SCRIPTS.len() as u64) as usize)
            .copied()
            .unwrap_or("");
        let mut chars: Vec<char> = script.chars().collect();
        for _ in 0..(1 + random.next() % 4) {
            if chars.is_empty() {
                break;
            }
            let position = (random.next() % chars.len() as u64) as usize;
            let replacement = alphabet
                .get((random.next() % alphabet.len() as u64) as usize)
                .copied()
                .unwrap_or('x');
            match random.next() % 3 {
                0 => {
                    chars.remove(position);
                }
                1 => chars.insert(position, replacement),
                _ => {
                    if let Some(slot) = chars.get_mut(position) {
                        *slot = replacement;
                    }
                }
            }
        }
        let text: String = chars.into_iter().collect();
        parse_and_render(&text);
    }
}

#[test]
fn for_map_with_key_and_value_variables() {
    check_ast(
        r#"BEGIN { for ($k, $v : @m) { @s = sum($k * $v); } }"#,
        r#"
Program
 probe
  attach: BEGIN
  block
   for: $k, $v
    map: @m
    block
     assign: =
      map: @s
      call: sum
       binary: *
        variable: $k
        variable: $v
"#,
    );
}

#[test]
fn error_range_loop_with_two_variables() {
    check_errors(
        r#"BEGIN { for ($a, $b : 0..3) { } }"#,
        r#"
stdin:1:18-20: ERROR: a range loop binds one variable: write `for ($i : start..end)`
BEGIN { for ($a, $b : 0..3) { } }
                 ~~
"#,
    );
}
