//! The `bpfscope` binary: the only place that touches argv, the environment, stdout/stderr and exit codes.

mod args;
mod info;
mod list;
mod run;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, OutputFormat};

fn main() -> ExitCode {
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
    match run(&cli) {
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
