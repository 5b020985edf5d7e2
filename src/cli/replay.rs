//! `eksaudit replay`: audit logs through Falco rules, without Falco.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::Result;
use eksaudit::bundled;
use eksaudit::decode::{DecodeOptions, Input, InputDecoder};
use eksaudit::rules::{Alert, Engine, Priority};
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
    let samples = args.input.nothing_to_read();
    let mut decoder = open_input(&args.input)?;
    let started = Instant::now();
    let progress = if samples {
        ProgressBar::hidden()
    } else {
        progress_bar(decoder.progress().1)
    };
    let mut tally = Tally::default();
    let mut out = output::stdout();
    let mut evaluator = engine.evaluator();
    let mut alerts: Vec<Alert> = Vec::new();
    // One line buffer for every alert.
    let mut line = String::with_capacity(4096);
    while let Some(item) = decoder.next() {
        let decoded = match item {
            Ok(decoded) => decoded,
            Err(problem) => {
                if tally.problems.len() < QUOTED_PROBLEMS {
                    tally.problems.push(problem.to_string());
                }
                continue;
            }
        };
        tally.events += 1;
        alerts.clear();
        evaluator.evaluate(&decoded.event.view(), tally.events, &mut alerts);
        for alert in &alerts {
            line.clear();
            match args.format {
                Format::Json => alert.write_json(&mut line),
                Format::Text => line.push_str(&alert.to_text()),
            }
            line.push('\n');
            out.write_all(line.as_bytes())?;
            tally.alerts += 1;
            match tally.by_rule.get_mut(&*alert.rule) {
                Some(n) => *n += 1,
                None => {
                    tally.by_rule.insert(alert.rule.to_string(), 1);
                }
            }
            *tally.by_priority.entry(alert.priority).or_default() += 1;
        }
        if tally.events % 1024 == 0 {
            progress.set_position(decoder.progress().0);
            progress.set_message(format!("{} events, {} alerts", tally.events, tally.alerts));
        }
    }
    out.flush()?;
    progress.finish_and_clear();
    let (runtime_errors, first_runtime_error) = evaluator.runtime_errors();
    if runtime_errors > 0 {
        tracing::warn!(
            count = runtime_errors,
            "Some rule checks failed while evaluating: {}",
            first_runtime_error.unwrap_or_default()
        );
    }
    let stats = decoder.stats();
    print_summary(&tally, &stats, started.elapsed(), engine.rules().len());
    Ok(if stats.total_errors() > 0 {
        Outcome::Problems
    } else {
        Outcome::Clean
    })
}

/// The inputs, or the bundled sample events when no FILE is given and stdin is a terminal
/// (or is empty: `eksaudit replay </dev/null` in a script shows the samples too).
fn open_input(input: &InputArgs) -> Result<InputDecoder<'static>> {
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
        "eksaudit replay: {} events, {} alerts from {} rules, {} input problems ({:.2}s, {:.0} events/s)\n",
        tally.events,
        tally.alerts,
        rules,
        stats.total_errors(),
        secs,
        tally.events as f64 / secs
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
