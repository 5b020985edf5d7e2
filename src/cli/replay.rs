//! `eksaudit replay`: audit logs through Falco rules, without Falco.

use std::collections::BTreeMap;
use std::io::{BufWriter, IsTerminal, Stdout, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use eksaudit::bundled;
use eksaudit::checkpoint::State;
use eksaudit::decode::{DecodeOptions, DecodeStats, Input, InputDecoder};
use eksaudit::event::AuditEvent;
use eksaudit::rules::{Alert, Engine, Evaluator, Priority};
use eksaudit::sources::SourceMessage;
use eksaudit::sources::SourceSpec;
use eksaudit::sources::live::{LiveOptions, LiveSources};
use indicatif::{ProgressBar, ProgressStyle};

use super::inputs::InputArgs;
use super::rules_args::RulesArgs;
use super::{Outcome, output};

/// How alerts are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per alert, as Falco prints it without json_output.
    Text,
    /// One JSON object per line, in the shape of Falco's json_output (falcosidekick and
    /// other Falco consumers take it as is).
    Json,
}

/// Arguments of `eksaudit replay`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    rules: RulesArgs,

    /// Alert format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,

    #[command(flatten)]
    input: InputArgs,
}

/// How many input problems the summary quotes.
const QUOTED_PROBLEMS: usize = 10;

/// What a replay saw.
#[derive(Debug, Default)]
struct Tally {
    events: u64,
    alerts: u64,
    by_rule: BTreeMap<String, u64>,
    by_priority: BTreeMap<Priority, u64>,
    problems: Vec<String>,
}

pub fn run(args: Args) -> Result<Outcome> {
    let files = args.rules.files()?;
    let options = args.rules.engine_options();
    let (engine, report) = match Engine::load(&files, &options) {
        Ok(loaded) => loaded,
        Err(report) => {
            eprint!("{}", report.verbose(&files));
            anyhow::bail!("the rules do not load (see the errors above)");
        }
    };
    for warning in report.warnings() {
        tracing::warn!("{warning}");
    }
    args.input.check()?;
    let segments = segments(&args.input.files)?;
    let started = Instant::now();
    let mut replayer = Replayer {
        evaluator: engine.evaluator(),
        alerts: Vec::new(),
        line: String::with_capacity(4096),
        out: output::stdout(),
        format: args.format,
        tally: Tally::default(),
    };
    let mut stats = DecodeStats::default();
    if segments.is_empty() {
        stats.add(&replay_files(&args.input, None, &mut replayer)?);
    }
    for segment in &segments {
        let segment_stats = match segment {
            Segment::Files(paths) => replay_files(&args.input, Some(paths), &mut replayer)?,
            Segment::History(spec) => replay_history(spec, &args.input, &mut replayer)?,
        };
        stats.add(&segment_stats);
    }
    replayer.out.flush()?;
    let (runtime_errors, first_runtime_error) = replayer.evaluator.runtime_errors();
    if runtime_errors > 0 {
        tracing::warn!(
            count = runtime_errors,
            "Some rule checks failed while evaluating: {}",
            first_runtime_error.unwrap_or_default()
        );
    }
    print_summary(
        &replayer.tally,
        &stats,
        started.elapsed(),
        engine.rules().len(),
    );
    Ok(if stats.total_errors() > 0 {
        Outcome::Problems
    } else {
        Outcome::Clean
    })
}

/// A stretch of the inputs, replayed in the order given.
#[derive(Debug)]
enum Segment {
    /// Local files and directories (or `-`), read by one decoder.
    Files(Vec<PathBuf>),
    /// Audit history in S3 (`s3://bucket/prefix`), read object by object in key order.
    History(SourceSpec),
}

/// Splits the FILE arguments into runs of local paths and `s3://` specs.
fn segments(inputs: &[PathBuf]) -> Result<Vec<Segment>> {
    let mut segments: Vec<Segment> = Vec::new();
    for input in inputs {
        let text = input.to_string_lossy();
        if let Some((scheme, _)) = text.split_once("://")
            && !scheme.contains('/')
        {
            let spec =
                eksaudit::sources::parse_open_params(&text).map_err(|e| anyhow::anyhow!("{e}"))?;
            if !matches!(spec, SourceSpec::S3(_)) {
                bail!(
                    "replay reads files and s3:// history, not {scheme}:// (a live source): \
                     use `eksaudit forward --source '{text}' --rules … --sink alerts:stdout --until-caught-up`"
                );
            }
            segments.push(Segment::History(spec));
            continue;
        }
        match segments.last_mut() {
            Some(Segment::Files(paths)) => paths.push(input.clone()),
            _ => segments.push(Segment::Files(vec![input.clone()])),
        }
    }
    Ok(segments)
}

/// Evaluates events and prints their alerts into one reused line buffer.
struct Replayer<'e> {
    evaluator: Evaluator<'e>,
    alerts: Vec<Alert>,
    line: String,
    out: BufWriter<Stdout>,
    format: Format,
    tally: Tally,
}

impl Replayer<'_> {
    fn event(&mut self, event: &AuditEvent) -> Result<()> {
        let tally = &mut self.tally;
        tally.events += 1;
        self.alerts.clear();
        self.evaluator
            .evaluate(&event.view(), tally.events, &mut self.alerts);
        for alert in &self.alerts {
            self.line.clear();
            match self.format {
                Format::Json => alert.write_json(&mut self.line),
                Format::Text => self.line.push_str(&alert.to_text()),
            }
            self.line.push('\n');
            self.out.write_all(self.line.as_bytes())?;
            tally.alerts += 1;
            match tally.by_rule.get_mut(&*alert.rule) {
                Some(n) => *n += 1,
                None => {
                    tally.by_rule.insert(alert.rule.to_string(), 1);
                }
            }
            *tally.by_priority.entry(alert.priority).or_default() += 1;
        }
        Ok(())
    }

    fn problem(&mut self, problem: String) {
        if self.tally.problems.len() < QUOTED_PROBLEMS {
            self.tally.problems.push(problem);
        }
    }
}

/// Replays local files (`None`: stdin, or the bundled samples); their decode counts.
fn replay_files(
    input: &InputArgs,
    paths: Option<&[PathBuf]>,
    replayer: &mut Replayer<'_>,
) -> Result<DecodeStats> {
    let samples = paths.is_none() && input.nothing_to_read();
    let mut decoder = match paths {
        Some(paths) => input.open_paths(paths)?,
        None => open_stdin_or_samples(input)?,
    };
    let progress = if samples {
        ProgressBar::hidden()
    } else {
        progress_bar(decoder.progress().1)
    };
    while let Some(item) = decoder.next() {
        match item {
            Ok(decoded) => replayer.event(&decoded.event)?,
            Err(problem) => {
                replayer.problem(problem.to_string());
                continue;
            }
        }
        let tally = &replayer.tally;
        if tally.events.is_multiple_of(1024) {
            progress.set_position(decoder.progress().0);
            progress.set_message(format!("{} events, {} alerts", tally.events, tally.alerts));
        }
    }
    progress.finish_and_clear();
    Ok(decoder.stats())
}

/// Replays S3 history through the same source `eksaudit forward` runs, without
/// checkpoints (a replay always reads everything under the prefix); its decode counts.
fn replay_history(
    spec: &SourceSpec,
    input: &InputArgs,
    replayer: &mut Replayer<'_>,
) -> Result<DecodeStats> {
    let options = LiveOptions {
        decode: DecodeOptions::with_max_event_size(input.max_event_size),
        until_caught_up: true,
        ..LiveOptions::default()
    };
    let mut live = LiveSources::start(std::slice::from_ref(spec), &State::default(), &options)?;
    let progress = progress_bar(None);
    let outcome = loop {
        match live.recv(Duration::from_millis(250)) {
            Some(SourceMessage::Batch(batch)) => {
                let written: Result<()> = batch.events.iter().try_for_each(|e| replayer.event(e));
                if let Err(error) = written {
                    break Err(error);
                }
                live.commit(&batch);
                let tally = &replayer.tally;
                progress.set_message(format!(
                    "{}: {} events, {} alerts",
                    spec.key(),
                    tally.events,
                    tally.alerts
                ));
            }
            Some(SourceMessage::Failed { error, .. }) => {
                break Err(anyhow::anyhow!("{}: {error}", spec.key()));
            }
            Some(SourceMessage::Ended { .. }) | None if live.all_ended() => break Ok(()),
            Some(SourceMessage::Ended { .. }) | None => {}
        }
    };
    progress.finish_and_clear();
    live.shutdown(Duration::from_secs(5));
    outcome?;
    let mut stats = DecodeStats::default();
    for (_, metrics) in live.metrics() {
        stats.add(&metrics.decode_stats());
    }
    Ok(stats)
}

/// The inputs, or the bundled sample events when no FILE is given and stdin is a terminal
/// (or is empty: `eksaudit replay </dev/null` in a script shows the samples too).
fn open_stdin_or_samples(input: &InputArgs) -> Result<InputDecoder<'static>> {
    let mut use_samples = input.nothing_to_read();
    let mut stdin = None;
    if input.files.is_empty() && !use_samples {
        let mut reader = std::io::BufReader::new(std::io::stdin());
        use_samples = std::io::BufRead::fill_buf(&mut reader)?.is_empty();
        stdin = Some(reader);
    }
    if let Some(reader) = stdin.filter(|_| !use_samples) {
        let stdin = Input::Reader("-".to_string(), Box::new(reader));
        return Ok(InputDecoder::new(
            vec![stdin],
            DecodeOptions::with_max_event_size(input.max_event_size),
        ));
    }
    if use_samples {
        eprintln!(
            "eksaudit: no input given: replaying the bundled sample events (give FILEs, or pipe events on stdin, to replay yours)"
        );
        let samples = Input::Reader(
            bundled::SAMPLE_EVENTS_NAME.to_string(),
            Box::new(bundled::SAMPLE_EVENTS),
        );
        return Ok(InputDecoder::new(
            vec![samples],
            DecodeOptions::with_max_event_size(input.max_event_size),
        ));
    }
    input.open()
}

/// Progress on stderr for long replays, when stderr is a terminal: a bar over the input
/// files' size, or a spinner when reading stdin.
fn progress_bar(total: Option<u64>) -> ProgressBar {
    const LARGE: u64 = 8 << 20;
    if !std::io::stderr().is_terminal() || total.is_some_and(|t| t < LARGE) {
        return ProgressBar::hidden();
    }
    let (bar, template) = match total {
        Some(total) => (
            ProgressBar::new(total),
            "{bar:30} {bytes}/{total_bytes} {elapsed}/{eta} {msg}",
        ),
        None => (ProgressBar::new_spinner(), "{spinner} {elapsed} {msg}"),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

fn print_summary(
    tally: &Tally,
    stats: &eksaudit::decode::DecodeStats,
    elapsed: Duration,
    rules: usize,
) {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let mut s = String::new();
    s.push_str(&format!(
        "eksaudit replay: {} events, {} alerts from {} rules, {} input problems ({:.2}s, {:.0} events/s{})\n",
        tally.events,
        tally.alerts,
        rules,
        stats.total_errors(),
        secs,
        tally.events as f64 / secs,
        peak_memory()
            .map(|kib| format!(", peak memory {} MiB", kib.div_ceil(1024)))
            .unwrap_or_default()
    ));
    if !tally.by_rule.is_empty() {
        s.push_str("alerts by rule:\n");
        let mut rules: Vec<_> = tally.by_rule.iter().collect();
        rules.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (rule, n) in rules {
            s.push_str(&format!("  {n:>8}  {rule}\n"));
        }
        let priorities: Vec<String> = tally
            .by_priority
            .iter()
            .map(|(p, n)| format!("{p}: {n}"))
            .collect();
        s.push_str(&format!("alerts by priority: {}\n", priorities.join(", ")));
    }
    if stats.total_errors() > 0 {
        let kinds: Vec<String> = stats
            .errors_by_kind()
            .map(|(k, n)| format!("{}: {n}", k.label()))
            .collect();
        s.push_str(&format!("input problems by kind: {}\n", kinds.join(", ")));
        for problem in &tally.problems {
            s.push_str(&format!("  {problem}\n"));
        }
        if stats.total_errors() > tally.problems.len() as u64 {
            s.push_str(&format!(
                "  ... and {} more (each was logged as it happened)\n",
                stats.total_errors() - tally.problems.len() as u64
            ));
        }
    }
    if stats.control_messages + stats.non_audit_log_events > 0 {
        s.push_str(&format!(
            "skipped: {} CloudWatch control messages, {} log events of non-audit streams\n",
            stats.control_messages, stats.non_audit_log_events
        ));
    }
    eprint!("{s}");
}

/// This process's peak resident memory in KiB (Linux's `VmHWM`: this program's own,
/// not inherited from whatever started it, unlike `getrusage`'s `ru_maxrss`).
fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
