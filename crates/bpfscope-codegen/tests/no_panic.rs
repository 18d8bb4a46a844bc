//! Random token soup through parse, check and codegen: every input ends in diagnostics or code, never a panic.

use bpfscope_check::{check, CheckOptions, FixtureProbeInfo};
use bpfscope_codegen::{compile, disassemble_program, CodegenOptions};

const EXECVE_FORMAT: &str = "name: sys_enter_execve
ID: 862
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;

\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;
\tfield:const char * filename;\toffset:16;\tsize:8;\tsigned:0;
\tfield:const char *const * argv;\toffset:24;\tsize:8;\tsigned:0;
\tfield:char comm[16];\toffset:32;\tsize:16;\tsigned:0;

print fmt: \"\"
";

const TOKENS: &[&str] = &[
    "pid",
    "tid",
    "comm",
    "nsecs",
    "args",
    "->",
    ".",
    "argv",
    "filename",
    "comm",
    "arg0",
    "$x",
    "$y",
    "@m",
    "@",
    "[",
    "]",
    "(",
    ")",
    "{",
    "}",
    ";",
    ",",
    "+",
    "-",
    "*",
    "/",
    "%",
    "<<",
    ">>",
    "==",
    "!=",
    "<",
    ">=",
    "&&",
    "||",
    "!",
    "~",
    "?",
    ":",
    "=",
    "+=",
    "++",
    "1",
    "0",
    "-1",
    "18446744073709551615",
    "\"s\"",
    "\"%d %s\\n\"",
    "printf",
    "join",
    "str",
    "print",
    "exit",
    "time",
    "count()",
    "sum",
    "hist",
    "lhist",
    "delete",
    "clear",
    "if",
    "else",
    "while",
    "unroll",
    "(uint8)",
    "(int32)",
    "(bool)",
    "return",
    "break",
    "0.1",
];

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize
    }
}

#[test]
fn random_bodies_never_panic() {
    let info =
        FixtureProbeInfo::default().with_tracepoint("syscalls", "sys_enter_execve", EXECVE_FORMAT);
    let mut random = Lcg(0x5eed);
    let mut compiled_count = 0;
    for _ in 0..3000 {
        let length = random.next() % 24;
        let body: Vec<&str> = (0..length)
            .map(|_| TOKENS[random.next() % TOKENS.len()])
            .collect();
        let head = [
            "tracepoint:syscalls:sys_enter_execve",
            "BEGIN",
            "interval:ms:5",
            "rawtracepoint:x",
        ][random.next() % 4];
        let source = format!("{head} {{ {} }}", body.join(" "));
        let (ast, _) = bpfscope_syntax::parse(&source);
        let checked = check(&ast, &source, &info, &CheckOptions::default());
        let _ = bpfscope_check::dump::dump_types(&checked.program);
        if checked.has_errors() {
            continue;
        }
        if let Ok(program) = compile(&checked.program, &CodegenOptions::default()) {
            compiled_count += 1;
            let _ = disassemble_program(&program, &source);
        }
    }
    // The soup must reach codegen sometimes, or this test proves little.
    assert!(compiled_count > 50, "only {compiled_count} inputs compiled");
}

/// Random well-formed programs from a small grammar: statements, integer and string expressions.
struct Generator {
    random: Lcg,
    tracepoint: bool,
}

impl Generator {
    fn pick<'a>(&mut self, options: &[&'a str]) -> &'a str {
        options[self.random.next() % options.len()]
    }

    fn int(&mut self, depth: u32) -> String {
        let choice = if depth == 0 {
            self.random.next() % 4
        } else {
            self.random.next() % 11
        };
        match choice {
            0 => format!("{}", self.random.next() % 1000),
            1 => self
                .pick(&["pid", "tid", "uid", "gid", "nsecs", "cpu", "rand"])
                .to_string(),
            2 => "$x".to_string(),
            3 => "@m[1]".to_string(),
            4 | 5 => {
                let op = self.pick(&[
                    "+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>", "==", "!=", "<", ">=",
                    "&&", "||",
                ]);
                format!("({} {op} {})", self.int(depth - 1), self.int(depth - 1))
            }
            6 => format!("{}({})", self.pick(&["-", "!", "~"]), self.int(depth - 1)),
            7 => format!(
                "({} ? {} : {})",
                self.int(depth - 1),
                self.int(depth - 1),
                self.int(depth - 1)
            ),
            8 => format!(
                "({}){}",
                self.pick(&["uint8", "int16", "uint32", "int64", "bool"]),
                self.int(depth - 1)
            ),
            9 if self.tracepoint => self
                .pick(&[
                    "(args->argv != 0)",
                    "args->__syscall_nr",
                    "(*args->argv != 0)",
                ])
                .to_string(),
            _ => format!("({} == {})", self.string(depth - 1), self.string(depth - 1)),
        }
    }

    fn string(&mut self, depth: u32) -> String {
        let choice = self.random.next() % if self.tracepoint { 7 } else { 4 };
        match choice {
            0 => "comm".to_string(),
            1 => format!("\"lit{}\"", self.random.next() % 10),
            2 => "$s".to_string(),
            3 if depth > 0 => format!(
                "({} ? {} : {})",
                self.int(0),
                self.string(depth - 1),
                self.string(depth - 1)
            ),
            4 => "str(args->filename)".to_string(),
            5 => "join(args->argv)".to_string(),
            _ => "@t[tid]".to_string(),
        }
    }

    fn statement(&mut self, depth: u32) -> String {
        let choice = if depth == 0 {
            self.random.next() % 9
        } else {
            self.random.next() % 12
        };
        match choice {
            0 => format!("$x = {};", self.int(3)),
            1 => format!("$s = {};", self.string(2)),
            2 => format!("printf(\"%d %s\\n\", {}, {});", self.int(3), self.string(2)),
            3 => format!("@m[{}] = {};", self.int(2), self.int(2)),
            4 => format!("@c[{}] = count();", self.string(1)),
            5 => format!("@h = hist({});", self.int(2)),
            6 => format!("@t[tid] = {};", self.string(1)),
            7 => format!("delete(@m[{}]);", self.int(1)),
            8 => format!(
                "@mx = max({}); @l = lhist({}, 0, 100, 10);",
                self.int(2),
                self.int(1)
            ),
            9 => format!(
                "if ({}) {{ {} }} else {{ {} }}",
                self.int(2),
                self.statement(depth - 1),
                self.statement(depth - 1)
            ),
            10 => format!("unroll(2) {{ {} }}", self.statement(depth - 1)),
            _ => format!(
                "$i = 0; while ($i < 3) {{ {} $i++; }}",
                self.statement(depth - 1)
            ),
        }
    }

    fn program(&mut self) -> String {
        self.tracepoint = self.random.next().is_multiple_of(2);
        let head = if self.tracepoint {
            "tracepoint:syscalls:sys_enter_execve"
        } else {
            "BEGIN"
        };
        let count = 1 + self.random.next() % 5;
        let statements: Vec<String> = (0..count).map(|_| self.statement(2)).collect();
        // Every map used anywhere gets its type from these first assignments.
        format!(
            "{head} {{ $x = 0; $s = \"\"; @m[0] = 0; @t[0] = \"\"; {} }}",
            statements.join(" ")
        )
    }
}

/// Whatever compiles must also load: the soup's programs go through the real verifier (root only).
#[test]
fn random_programs_that_compile_pass_the_verifier() {
    let is_root = std::fs::read_to_string("/proc/self/status")
        .map(|status| {
            status
                .lines()
                .any(|line| line.starts_with("Uid:") && line.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    if !is_root
        || !std::path::Path::new("/sys/kernel/tracing/events/syscalls/sys_enter_execve").exists()
    {
        eprintln!("skipping: needs root and tracefs");
        return;
    }
    let live_format =
        std::fs::read_to_string("/sys/kernel/tracing/events/syscalls/sys_enter_execve/format")
            .unwrap_or_default();
    let info =
        FixtureProbeInfo::default().with_tracepoint("syscalls", "sys_enter_execve", &live_format);
    let mut generator = Generator {
        random: Lcg(std::env::var("BPFSCOPE_FUZZ_SEED")
            .ok()
            .and_then(|text| text.parse().ok())
            .unwrap_or(0xbeef)),
        tracepoint: false,
    };
    let mut loaded = 0;
    let mut failures = Vec::new();
    // BPFSCOPE_FUZZ_PROGRAMS raises the count for a longer hunt.
    let count: usize = std::env::var("BPFSCOPE_FUZZ_PROGRAMS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(60);
    for _ in 0..count {
        let source = generator.program();
        let (ast, parse_errors) = bpfscope_syntax::parse(&source);
        assert!(parse_errors.is_empty(), "{source}: {parse_errors:?}");
        let checked = check(&ast, &source, &info, &CheckOptions::default());
        if checked.has_errors() {
            failures.push(format!("{source}\n  -> check: {:?}", checked.diagnostics));
            continue;
        }
        let options = CodegenOptions {
            ringbuf_bytes: 1 << 16,
            ..CodegenOptions::default()
        };
        let program = match compile(&checked.program, &options) {
            Ok(program) => program,
            Err(errors) => {
                failures.push(format!("{source}\n  -> codegen: {errors:?}"));
                continue;
            }
        };
        loaded += 1;
        if let Err(error) =
            bpfscope_runtime::Session::load(&program, bpfscope_runtime::SessionOptions::default())
        {
            let detail = match &error {
                bpfscope_runtime::RuntimeError::VerifierRejected(rejection) => rejection
                    .log
                    .lines()
                    .rev()
                    .take(3)
                    .collect::<Vec<_>>()
                    .join(" | "),
                other => other.to_string(),
            };
            failures.push(format!("{source}\n  -> {detail}"));
        }
    }
    assert!(loaded >= 40, "only {loaded} programs compiled");
    assert!(
        failures.is_empty(),
        "{} of {loaded} rejected:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
