//! Running a program: parse, check, compile, load, attach, print events, and print maps at exit.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::ExitCode;

use anyhow::Context;
use bpfscope_bpf::CompiledProgram;
use bpfscope_check::{CheckOptions, KernelProbeInfo};
use bpfscope_codegen::CodegenOptions;
use bpfscope_output::{EventOutcome, EventPrinter, OutputFormat, TextStyle};
use bpfscope_probes::{tracefs, KernelFs, Provider};
use bpfscope_runtime::features::{self, Feature, FeatureProbeInputs, FeatureStatus};
use bpfscope_runtime::{Control, Map, RuntimeError, Session, SessionOptions, StopReason};
use bpfscope_syntax::Diagnostic;

use crate::args::Cli;
use crate::symbolizer::LiveSymbolizer;

/// A program to run and the name its diagnostics use (`stdin` for `-e`, as bpftrace).
struct Source {
    file_name: String,
    text: String,
}

fn read_source(cli: &Cli) -> anyhow::Result<Source> {
    if let Some(program) = &cli.program {
        return Ok(Source {
            file_name: "stdin".to_string(),
            text: program.clone(),
        });
    }
    let path = cli.script_or_pattern.as_deref().unwrap_or("-");
    if path == "-" {
        let text = std::io::read_to_string(std::io::stdin())
            .context("reading the program from standard input")?;
        return Ok(Source {
            file_name: "stdin".to_string(),
            text,
        });
    }
    let text = std::fs::read_to_string(path).with_context(|| {
        format!("cannot read script file '{path}' (give a script file, or a program with -e)")
    })?;
    Ok(Source {
        file_name: path.to_string(),
        text,
    })
}

/// Prints diagnostics to stderr; returns whether any was an error.
fn report(diagnostics: &[Diagnostic], source: &Source) -> bool {
    if diagnostics.is_empty() {
        return false;
    }
    let rendered = bpfscope_syntax::render_all(diagnostics, &source.file_name, &source.text);
    let _ = std::io::stderr().write_all(rendered.as_bytes());
    diagnostics.iter().any(Diagnostic::is_error)
}

fn wants_stage(cli: &Cli, stage: &str) -> bool {
    cli.debug_stages
        .iter()
        .any(|wanted| wanted == stage || wanted == "all")
}

/// Parses, checks and compiles; `Ok(None)` when diagnostics were printed and the run must stop.
fn compile(cli: &Cli, source: &Source, fs: &KernelFs) -> anyhow::Result<Option<CompiledProgram>> {
    for stage in &cli.debug_stages {
        if !["ast", "types", "bpf", "verifier", "all"].contains(&stage.as_str()) {
            anyhow::bail!(
                "unknown debug stage '{stage}'; valid stages: ast, types, bpf, verifier, all"
            );
        }
    }
    let (program, diagnostics) = bpfscope_syntax::parse(&source.text);
    if report(&diagnostics, source) {
        return Ok(None);
    }
    if program.probes.is_empty() {
        // Without probes nothing could ever end the run but Ctrl-C.
        eprintln!(
            "{}: ERROR: the program has no probes; write one like: BEGIN {{ printf(\"hello\\n\"); exit(); }}",
            source.file_name
        );
        return Ok(None);
    }
    if wants_stage(cli, "ast") {
        print!("{}", bpfscope_syntax::printer::print_program(&program));
    }
    // `--include FILE` is an `#include <FILE>` line before the program; the note is said once
    // per header, however often it is named.
    let mut headers_noted: Vec<&str> = Vec::new();
    let headers = cli
        .includes
        .iter()
        .map(String::as_str)
        .chain(program.includes.iter().map(|include| include.path.as_str()));
    for header in headers {
        let header = header.trim().trim_start_matches('<').trim_end_matches('>');
        if headers_noted.contains(&header) {
            continue;
        }
        headers_noted.push(header);
        eprintln!("bpfscope: note: #include <{header}> is not needed: kernel types come from BTF");
    }
    let uses_tracepoints = program
        .probes
        .iter()
        .flat_map(|probe| &probe.attach_points)
        .any(|point| {
            bpfscope_probes::Provider::from_name(point.provider())
                == Some(bpfscope_probes::Provider::Tracepoint)
        });
    let uses_kernel_functions = program
        .probes
        .iter()
        .flat_map(|probe| &probe.attach_points)
        .any(|point| {
            Provider::from_name(point.provider())
                .and_then(needed_feature)
                .is_some()
        });
    if (uses_tracepoints || uses_kernel_functions) && tracefs::locate(fs).is_none() {
        crate::list::mount_tracefs()?;
    }
    let probe_info = KernelProbeInfo { fs: fs.clone() };
    let unsupported = unsupported_probe_types(&program, fs, &probe_info);
    if report(&unsupported, source) {
        return Ok(None);
    }
    let checked = bpfscope_check::check(&program, &source.text, &probe_info, &check_options(cli)?);
    if report(&checked.diagnostics, source) {
        return Ok(None);
    }
    if wants_stage(cli, "types") {
        print!("{}", bpfscope_check::dump::dump_types(&checked.program));
    }
    let codegen_options = CodegenOptions {
        possible_cpus: bpfscope_runtime::sys::possible_cpus()
            .ok()
            .and_then(|cpus| cpus.iter().max().map(|last| last + 1))
            .unwrap_or(CodegenOptions::default().possible_cpus),
        ..CodegenOptions::default()
    };
    let compiled = match bpfscope_codegen::compile(&checked.program, &codegen_options) {
        Ok(compiled) => compiled,
        Err(diagnostics) => {
            report(&diagnostics, source);
            return Ok(None);
        }
    };
    if wants_stage(cli, "bpf") {
        print!(
            "{}",
            bpfscope_codegen::disassemble_program(&compiled, &source.text)
        );
    }
    Ok(Some(compiled))
}

/// The kernel facility a provider needs, when it is one this kernel may lack.
fn needed_feature(provider: Provider) -> Option<Feature> {
    Some(match provider {
        Provider::Kprobe => Feature::Kprobe,
        Provider::Kretprobe => Feature::Kretprobe,
        Provider::Fentry => Feature::Fentry,
        Provider::Fexit => Feature::Fexit,
        _ => return None,
    })
}

/// Errors for attach points whose probe type this kernel cannot run, each with the reason
/// (found by trying, as `--info` does) and, where one exists, a tracepoint or raw tracepoint
/// of the same event to use instead.
fn unsupported_probe_types(
    program: &bpfscope_syntax::Program,
    fs: &KernelFs,
    probe_info: &KernelProbeInfo,
) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    let mut statuses: Vec<(Feature, FeatureStatus)> = Vec::new();
    for point in program.probes.iter().flat_map(|probe| &probe.attach_points) {
        let Some(provider) = Provider::from_name(point.provider()) else {
            continue;
        };
        let Some(feature) = needed_feature(provider) else {
            continue;
        };
        let status = match statuses.iter().find(|(known, _)| *known == feature) {
            Some((_, status)) => status.clone(),
            None => {
                let status = features::probe_feature(feature, &feature_inputs(fs, probe_info));
                statuses.push((feature, status.clone()));
                status
            }
        };
        let reason = match status {
            FeatureStatus::Available | FeatureStatus::NotTested(_) => continue,
            FeatureStatus::Unavailable(reason) => reason,
        };
        let target = point
            .raw
            .split_once(':')
            .map(|(_, rest)| rest)
            .unwrap_or("");
        let mut diagnostic = Diagnostic::error(
            point.span,
            format!(
                "{} probes are not available on this kernel ({}): {reason}",
                provider.name(),
                bpfscope_runtime::sys::kernel_release().unwrap_or_default()
            ),
        );
        diagnostic = match alternative_probe(provider, target, probe_info) {
            Some(alternative) => diagnostic.with_hint(format!("use {alternative} instead")),
            None => diagnostic.with_hint(
                "use a tracepoint or rawtracepoint instead (list them with: bpfscope -l 'tracepoint:*'), or run on a kernel with this probe type (see bpfscope --info)",
            ),
        };
        diagnostics.push(diagnostic);
    }
    diagnostics
}

/// What `probe_feature` needs to try kprobes and fentry: a kernel function and its BTF id.
fn feature_inputs(fs: &KernelFs, probe_info: &KernelProbeInfo) -> FeatureProbeInputs {
    use bpfscope_check::ProbeInfo;
    FeatureProbeInputs {
        fentry_function_btf_id: probe_info
            .kernel_btf()
            .ok()
            .and_then(|btf| btf.find(bpfscope_btf::Kind::Func, "vfs_read"))
            .map(|id| id.0),
        kprobe_function: Some("vfs_read".to_string()),
        tracefs_root: tracefs::locate(fs).map(Into::into),
        ..FeatureProbeInputs::default()
    }
}

/// A tracepoint (or raw tracepoint) for the same event as kernel-function probe `target`:
/// `kprobe:__x64_sys_execve` → `tracepoint:syscalls:sys_enter_execve`.
fn alternative_probe(
    provider: Provider,
    target: &str,
    probe_info: &KernelProbeInfo,
) -> Option<String> {
    use bpfscope_check::ProbeInfo;
    let function = target.split('+').next()?.rsplit(':').next()?;
    if function.is_empty() || function.contains(['*', '?', '[']) {
        return None;
    }
    let is_return = matches!(provider, Provider::Kretprobe | Provider::Fexit);
    const SYSCALL_PREFIXES: [&str; 6] = [
        "__x64_sys_",
        "__ia32_sys_",
        "__se_sys_",
        "__do_sys_",
        "ksys_",
        "sys_",
    ];
    if let Some(syscall) = SYSCALL_PREFIXES
        .iter()
        .find_map(|prefix| function.strip_prefix(prefix))
    {
        let event = format!("sys_{}_{syscall}", if is_return { "exit" } else { "enter" });
        if probe_info.tracepoint_format("syscalls", &event).is_ok() {
            return Some(format!("tracepoint:syscalls:{event}"));
        }
    }
    let matches = probe_info
        .expand_tracepoints(&format!("*:{function}"))
        .ok()?;
    let (category, event) = matches.first()?;
    Some(format!(
        "tracepoint:{category}:{event} (or rawtracepoint:{event})"
    ))
}

/// A positive integer from the first of `names` that is set in the environment.
fn environment_limit(names: &[&str]) -> anyhow::Result<Option<u32>> {
    for name in names {
        if let Ok(text) = std::env::var(name) {
            let value: u32 = text
                .trim()
                .parse()
                .ok()
                .filter(|value| *value > 0)
                .ok_or_else(|| anyhow::anyhow!("{name}={text}: expected a positive integer"))?;
            return Ok(Some(value));
        }
    }
    Ok(None)
}

/// Checker limits, from the environment where set: string size (`BPFSCOPE_STRLEN`, or
/// bpftrace's `BPFTRACE_STRLEN`) and map size (`BPFSCOPE_MAP_KEYS_MAX`, or bpftrace's
/// `BPFTRACE_MAP_KEYS_MAX`).
fn check_options(cli: &Cli) -> anyhow::Result<CheckOptions> {
    // With `-e`, the first word after the options is `$1`, not a script file.
    let positional = match (&cli.program, &cli.script_or_pattern) {
        (Some(_), Some(first)) => std::iter::once(first.clone())
            .chain(cli.positional.iter().cloned())
            .collect(),
        _ => cli.positional.clone(),
    };
    let mut options = CheckOptions {
        positional,
        allow_unsafe: cli.allow_unsafe,
        pid: cli.pid,
        ..CheckOptions::default()
    };
    if let Some(strlen) = environment_limit(&["BPFSCOPE_STRLEN", "BPFTRACE_STRLEN"])? {
        options.max_strlen = strlen.clamp(2, 4096);
    }
    if let Some(entries) = environment_limit(&["BPFSCOPE_MAP_KEYS_MAX", "BPFTRACE_MAP_KEYS_MAX"])? {
        options.max_map_entries = entries;
    }
    Ok(options)
}

/// One warning per script map that filled up and refused updates, so none is lost silently.
fn warn_full_maps(session: &Session, already_warned: &mut Vec<String>) {
    let Ok(full_maps) = session.full_maps() else {
        return;
    };
    for full in full_maps {
        if already_warned.contains(&full.name) {
            continue;
        }
        eprintln!(
            "bpfscope: warning: map {} is full ({} entries): {} updates were dropped; raise the limit with BPFSCOPE_MAP_KEYS_MAX=N",
            full.name, full.max_entries, full.dropped_updates
        );
        already_warned.push(full.name);
    }
}

/// Where events go: stdout or the `-o` file, buffered and flushed after each batch.
fn open_output(cli: &Cli) -> anyhow::Result<Box<dyn Write>> {
    Ok(match &cli.output {
        Some(path) => Box::new(BufWriter::with_capacity(
            1 << 16,
            File::create(path)
                .with_context(|| format!("cannot create output file {}", path.display()))?,
        )),
        None => Box::new(BufWriter::with_capacity(1 << 16, std::io::stdout())),
    })
}

/// Says what a load failure means, pointing at the script line when the verifier named one.
fn explain_runtime_error(error: RuntimeError, source: &Source) -> anyhow::Error {
    match error {
        RuntimeError::VerifierRejected(rejection) => {
            let location = match rejection.script_line {
                Some(line) => {
                    let text = source
                        .text
                        .lines()
                        .nth(line.saturating_sub(1) as usize)
                        .unwrap_or("");
                    format!(
                        "{}:{line}: the kernel verifier rejected the program for {}\n{text}\n",
                        source.file_name, rejection.probe_name
                    )
                }
                None => format!(
                    "the kernel verifier rejected the program for {}\n",
                    rejection.probe_name
                ),
            };
            anyhow::anyhow!(
                "{location}{}\nverifier log:\n{}\nThis is a bpfscope bug when the script is valid; please report it with the script and this log.",
                rejection.error,
                rejection.log.trim_end()
            )
        }
        other => anyhow::Error::new(other),
    }
}

pub fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    let source = read_source(cli)?;
    let fs = KernelFs::live();
    let Some(compiled) = compile(cli, &source, &fs)? else {
        return Ok(ExitCode::from(1));
    };
    let format = if crate::wants_json(cli) {
        OutputFormat::Json
    } else {
        OutputFormat::Text
    };
    let child = match &cli.command {
        Some(command) => Some(bpfscope_runtime::PausedChild::spawn(&split_command(
            command,
        )?)?),
        None => None,
    };
    let default_process = cli
        .pid
        .or(child.as_ref().map(|child| child.pid()))
        .and_then(|pid| u32::try_from(pid).ok())
        .unwrap_or(0);
    bpfscope_output::install_symbolizer(std::sync::Arc::new(LiveSymbolizer::new(default_process)));
    let options = SessionOptions {
        tracefs_root: tracefs::locate(&fs).map(Into::into),
        child,
        handle_stop_signals: !cli.dry_run,
    };
    let mut session =
        Session::load(&compiled, options).map_err(|error| explain_runtime_error(error, &source))?;
    if cli.dry_run {
        eprintln!(
            "bpfscope: dry run: {} programs compiled and loaded, nothing attached",
            compiled.programs.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut sink = EventSink {
        compiled: &compiled,
        printer: EventPrinter::new(&compiled.actions, format)?,
        out: open_output(cli)?,
        format,
        failure: None,
    };
    let mut stop = StopReason::Exit;
    let mut full_maps_warned = Vec::new();
    let mut polls_since_full_check = 0u32;
    if session.run_begin(&mut |maps, record| sink.handle(maps, record))? != Control::Exit {
        let probe_count = session.attach_all()?;
        announce_attached(cli, probe_count, format, &mut std::io::stderr())?;
        stop = loop {
            let control = session.poll_once(&mut |maps, record| sink.handle(maps, record));
            // Flush once per batch of records: prompt output without a write per event.
            if let Err(error) = sink.out.flush() {
                sink.failure.get_or_insert(error.into());
            }
            if control == Control::Exit || sink.failure.is_some() {
                break StopReason::Exit;
            }
            if bpfscope_runtime::signals::stop_requested() {
                break StopReason::Signal;
            }
            // About once a second: say as soon as a map fills up, not only at exit.
            polls_since_full_check += 1;
            if polls_since_full_check >= 10 {
                polls_since_full_check = 0;
                warn_full_maps(&session, &mut full_maps_warned);
            }
            if let Some(code) = session.child_exit_code()? {
                break StopReason::ChildExited(code);
            }
        };
    }
    match stop {
        StopReason::Exit => {
            session.finish_after_exit(&mut |maps, record| sink.handle(maps, record))?;
        }
        StopReason::Signal | StopReason::ChildExited(_) => {
            session.finish(&mut |maps, record| sink.handle(maps, record))?
        }
    }
    if let Some(error) = sink.failure.take() {
        return Err(error);
    }
    print_maps_at_exit(&compiled, &session, format, &mut sink.out)?;
    sink.out.flush()?;
    warn_full_maps(&session, &mut full_maps_warned);
    let lost = session.lost_events()?;
    if lost > 0 {
        bpfscope_output::print_lost_events(lost, format, &mut sink.out)?;
    }
    sink.out.flush()?;
    Ok(match stop {
        // bpftrace exits 0 after Ctrl-C or exit(); with -c it also exits 0 whatever the command returned.
        StopReason::Exit | StopReason::Signal | StopReason::ChildExited(_) => ExitCode::SUCCESS,
    })
}

/// Receives every ring-buffer record and prints it; remembers the first failure.
struct EventSink<'a> {
    compiled: &'a CompiledProgram,
    printer: EventPrinter,
    out: Box<dyn Write>,
    format: OutputFormat,
    failure: Option<anyhow::Error>,
}

impl EventSink<'_> {
    fn handle(&mut self, maps: &[Map], record: &[u8]) -> Control {
        match self.printer.print_record(record, &mut self.out) {
            Ok(EventOutcome::Continue) => Control::Continue,
            Ok(EventOutcome::Exit) => Control::Exit,
            Ok(EventOutcome::PrintMap {
                map_index,
                top,
                div,
            }) => {
                match print_one_map(
                    self.compiled,
                    maps,
                    map_index,
                    top,
                    div,
                    self.format,
                    &mut self.out,
                ) {
                    Ok(()) => Control::Continue,
                    Err(error) => {
                        self.failure.get_or_insert(error);
                        Control::Exit
                    }
                }
            }
            Ok(EventOutcome::ClearMap(index, zero)) => {
                if let Some(map) = maps.get(index) {
                    let result = if zero { map.zero() } else { map.clear() };
                    if let Err(error) = result {
                        eprintln!("bpfscope: warning: clearing map {index}: {error}");
                    }
                }
                Control::Continue
            }
            Ok(EventOutcome::RunCommand(command)) => {
                // system() (--unsafe): the command's output goes where ours goes (-o too);
                // it runs to completion before the next event, as in bpftrace.
                match std::process::Command::new("/bin/sh")
                    .arg("-c")
                    .arg(&command)
                    .stdin(std::process::Stdio::null())
                    .stderr(std::process::Stdio::inherit())
                    .output()
                {
                    Ok(output) => {
                        if let Err(error) = self.out.write_all(&output.stdout) {
                            self.failure.get_or_insert(error.into());
                            return Control::Exit;
                        }
                        let _ = self.out.flush();
                    }
                    Err(error) => eprintln!("bpfscope: warning: system(\"{command}\"): {error}"),
                }
                Control::Continue
            }
            Ok(EventOutcome::Warning(message)) => {
                eprintln!("bpfscope: warning: {message}");
                Control::Continue
            }
            Err(error) => {
                self.failure.get_or_insert(error.into());
                Control::Exit
            }
        }
    }
}

/// `Attaching N probes...` (stderr in text mode; an `attached_probes` object in JSON).
fn announce_attached(
    cli: &Cli,
    probe_count: usize,
    format: OutputFormat,
    stderr: &mut dyn Write,
) -> anyhow::Result<()> {
    if cli.quiet {
        return Ok(());
    }
    match format {
        OutputFormat::Text => {
            bpfscope_output::print_attached_probes(probe_count as u64, format, stderr)?
        }
        OutputFormat::Json => {
            let mut stdout = std::io::stdout().lock();
            bpfscope_output::print_attached_probes(probe_count as u64, format, &mut stdout)?;
        }
    }
    Ok(())
}

fn print_one_map(
    compiled: &CompiledProgram,
    maps: &[Map],
    index: usize,
    top: Option<usize>,
    div: Option<u64>,
    format: OutputFormat,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let (Some(spec), Some(map)) = (compiled.maps.get(index), maps.get(index)) else {
        anyhow::bail!("print() names map {index}, which does not exist");
    };
    bpfscope_output::print_map(spec, map.snapshot()?, format, top, div, out)?;
    Ok(())
}

fn print_maps_at_exit(
    compiled: &CompiledProgram,
    session: &Session,
    format: OutputFormat,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let mut snapshots = Vec::new();
    for (index, spec) in compiled.maps.iter().enumerate() {
        if spec.layout.is_some() {
            snapshots.push((spec, session.snapshot(index)?));
        }
    }
    bpfscope_output::print_maps_at_exit(
        snapshots,
        format,
        TextStyle {
            escape_control: true,
        },
        out,
    )?;
    Ok(())
}

/// Splits `-c` text into argv the way a shell would for simple commands (quotes, backslashes).
fn split_command(command: &str) -> anyhow::Result<Vec<String>> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut characters = command.chars();
    while let Some(character) = characters.next() {
        match (quote, character) {
            (Some(open), c) if c == open => quote = None,
            (Some('"'), '\\') => current.extend(characters.next()),
            (Some(_), c) => current.push(c),
            (None, '\'' | '"') => {
                quote = Some(character);
                in_word = true;
            }
            (None, '\\') => {
                current.extend(characters.next());
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            (None, c) => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        anyhow::bail!("-c: unterminated quote in '{command}'");
    }
    if in_word {
        words.push(current);
    }
    if words.is_empty() {
        anyhow::bail!("-c: empty command");
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::split_command;

    #[test]
    fn splits_commands_like_a_shell() {
        assert_eq!(split_command("ls -l /tmp").unwrap(), ["ls", "-l", "/tmp"]);
        assert_eq!(
            split_command("sh -c 'exit 3'").unwrap(),
            ["sh", "-c", "exit 3"]
        );
        assert_eq!(
            split_command(r#"echo "a \"b\"" c\ d"#).unwrap(),
            ["echo", "a \"b\"", "c d"]
        );
        assert!(split_command("echo 'x").is_err());
        assert!(split_command("   ").is_err());
    }
}
