//! The `bpfscope` binary: the only place that touches argv, the environment, stdout/stderr and exit codes.

mod args;
mod info;
mod list;
mod run;
mod symbolizer;
mod tools;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, OutputFormat};

fn main() -> ExitCode {
    // `bpfscope TOOL ...` runs a built-in tool; its options are its own, not bpftrace's.
    // args_os: argv need not be UTF-8, and std::env::args() would panic on it.
    let arguments: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if arguments
        .get(1)
        .and_then(|first| first.to_str())
        .is_some_and(|first| tools::TOOL_NAMES.contains(&first))
    {
        return finish(tools::run(&arguments));
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // clap prints help/version to stdout with exit 0, usage errors to stderr with exit 2.
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    finish(run(&cli))
}

/// The exit code for a run's result, printing its error.
fn finish(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(error) => {
            if is_broken_pipe(&error) {
                // `bpfscope -l | head` must end quietly, as other Unix tools do.
                return ExitCode::SUCCESS;
            }
            let _ = writeln!(std::io::stderr(), "ERROR: {error:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    if cli.info {
        return info::run(cli);
    }
    if cli.list {
        return list::run(cli);
    }
    if cli.program.is_some() || cli.script_or_pattern.is_some() {
        return run::run(cli);
    }
    let _ = <Cli as clap::CommandFactory>::command().print_help();
    Ok(ExitCode::from(1))
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io_error| io_error.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Whether JSON output was asked for.
fn wants_json(cli: &Cli) -> bool {
    matches!(cli.format, OutputFormat::Json)
}
