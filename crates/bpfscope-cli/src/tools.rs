//! Built-in tools: turn a tool's options into its script and run it like `-e PROGRAM`.

use std::ffi::OsString;
use std::process::ExitCode;

use bpfscope_tools::{ExecOutcomeFilter, ExecsnoopOptions, TimeColumn};
use clap::Parser;

use crate::args::{Cli, ExecsnoopArgs, OutputFormat};

/// The tools `bpfscope TOOL ...` knows; the first command-line word selects one.
pub const TOOL_NAMES: &[&str] = &["execsnoop"];

/// Runs the tool named by `arguments[1]` with the rest as its options.
pub fn run(arguments: &[OsString]) -> anyhow::Result<ExitCode> {
    let tool_arguments = arguments.get(1..).unwrap_or_default();
    match tool_arguments.first().and_then(|name| name.to_str()) {
        Some("execsnoop") => run_execsnoop(tool_arguments),
        other => anyhow::bail!("unknown tool {other:?}; tools: {}", TOOL_NAMES.join(", ")),
    }
}

fn run_execsnoop(tool_arguments: &[OsString]) -> anyhow::Result<ExitCode> {
    let execsnoop = match ExecsnoopArgs::try_parse_from(tool_arguments) {
        Ok(parsed) => parsed,
        Err(error) => {
            let _ = error.print();
            return Ok(if error.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            });
        }
    };
    let options = execsnoop_options(&execsnoop)?;
    let script = bpfscope_tools::execsnoop_script(&options)?;
    if execsnoop.print_script {
        print!("{script}");
        return Ok(ExitCode::SUCCESS);
    }
    let mut cli = Cli::parse_from(["bpfscope"]);
    cli.program = Some(script);
    cli.format = execsnoop.format;
    cli.output = execsnoop.output.clone();
    cli.quiet = execsnoop.quiet;
    cli.dry_run = execsnoop.dry_run;
    cli.debug_stages = execsnoop.debug_stages.clone();
    crate::run::run(&cli)
}

/// The script options for these flags.
fn execsnoop_options(execsnoop: &ExecsnoopArgs) -> anyhow::Result<ExecsnoopOptions> {
    if let Some(pattern) = &execsnoop.name {
        bpfscope_check::regex_dfa::compile_regex(pattern)
            .map_err(|error| anyhow::anyhow!("-n {pattern:?}: {error}"))?;
    }
    let uid = match &execsnoop.uid {
        None => None,
        Some(user) => Some(user_id(user)?),
    };
    Ok(ExecsnoopOptions {
        time: if execsnoop.time {
            TimeColumn::WallClock
        } else if execsnoop.timestamp {
            TimeColumn::SinceStart
        } else {
            TimeColumn::None
        },
        command_regex: execsnoop.name.clone(),
        argument_contains: execsnoop.argument.clone(),
        uid,
        parent_pid: execsnoop.ppid,
        cgroup_path: execsnoop.cgroup.clone(),
        json: execsnoop.format == OutputFormat::Json,
        max_args: execsnoop.max_args,
        max_arg_bytes: execsnoop.max_arg_bytes,
        outcome: if execsnoop.failed_only {
            ExecOutcomeFilter::FailedOnly
        } else if execsnoop.successful_only {
            ExecOutcomeFilter::SuccessfulOnly
        } else {
            ExecOutcomeFilter::All
        },
        lifetime: execsnoop.lifetime,
        ancestors: execsnoop.ancestors,
        summary_interval_seconds: execsnoop.summary,
        // A header line is a text-reader's aid; JSON readers get only event records.
        header: !execsnoop.quiet && execsnoop.format == OutputFormat::Text,
    })
}

/// A user id given as a number or as a name in /etc/passwd.
fn user_id(user: &str) -> anyhow::Result<u32> {
    if let Ok(number) = user.parse::<u32>() {
        return Ok(number);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    bpfscope_output::users::parse_passwd(&passwd)
        .into_iter()
        .find(|(_, name)| name == user)
        .and_then(|(number, _)| u32::try_from(number).ok())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "-u {user}: no such user in /etc/passwd; give a user id or a known name"
            )
        })
}
