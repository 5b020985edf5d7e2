//! The alerts sink: Falco rules evaluated in-process (bundled or the user's), alerts in
//! Falco's `json_output` shape to stdout, a file, an HTTP endpoint (falcosidekick takes
//! them unmodified) or an Amazon SNS topic (a readable subject, the JSON alert as the
//! message).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::sink::{AlertsSpec, SinkStats, open_append, write_line};
use super::sns::SnsPublisher;
use super::webhook::{Delivery, Poster};
use crate::event::AuditEvent;
use crate::rules::{Alert, Engine, EngineOptions, Evaluator, Priority, RuleMatching, RulesFile};

/// Where alerts go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertTarget {
    /// JSON lines on stdout.
    Stdout,
    /// JSON lines appended to a file.
    File(PathBuf),
    /// One POST per alert (falcosidekick's `/`).
    Http(String),
    /// An SNS topic ARN.
    Sns(String),
}

impl AlertTarget {
    /// Parses `stdout`, `file://PATH`, `http(s)://URL` or `sns://TOPIC_ARN`.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text == "stdout" || text == "-" {
            return Ok(Self::Stdout);
        }
        if let Some(path) = text.strip_prefix("file://").filter(|p| !p.is_empty()) {
            return Ok(Self::File(PathBuf::from(path)));
        }
        if text.starts_with("http://") || text.starts_with("https://") {
            return Ok(Self::Http(text.to_string()));
        }
        if let Some(arn) = text.strip_prefix("sns://") {
            let parts: Vec<&str> = arn.split(':').collect();
            if parts.len() != 6 || parts[0] != "arn" || parts[2] != "sns" || parts[5].is_empty() {
                return Err(format!(
                    "{arn:?} is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)"
                ));
            }
            return Ok(Self::Sns(arn.to_string()));
        }
        Err(format!(
            "alerts to {text:?}: use stdout, file://<path>, http(s)://<url> or sns://<topic-arn>"
        ))
    }
}

enum Output {
    Stdout(BufWriter<std::io::Stdout>),
    File(BufWriter<File>, PathBuf),
    Http(Poster),
    Sns(Box<SnsPublisher>),
}

/// The alerts sink.
pub struct AlertsSink {
    evaluator: Evaluator<'static>,
    output: Output,
    pending: Vec<Alert>,
    events: u64,
    stats: SinkStats,
}

impl std::fmt::Debug for AlertsSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertsSink")
            .field("stats", &self.stats)
            .finish()
    }
}

impl AlertsSink {
    /// Loads the spec's rules to check them (`forward --check`), with Falco's messages.
    pub fn check_rules(spec: &AlertsSpec) -> Result<()> {
        load_engine(spec).map(|_| ())
    }

    /// Loads the rules (refusing rules that do not load, with Falco's messages) and
    /// opens the output.
    pub fn open(spec: &AlertsSpec, stop: Arc<AtomicBool>) -> Result<Self> {
        let engine = load_engine(spec)?;
        tracing::info!(rules = engine.rules().len(), to = %spec.to, "Evaluating rules in-process.");
        // The engine lives as long as the process's sink; leaking it once lets the
        // evaluator (and its per-event cache) be reused for every event.
        let engine: &'static Engine = Box::leak(Box::new(engine));
        let output = match AlertTarget::parse(&spec.to).map_err(anyhow::Error::msg)? {
            AlertTarget::Stdout => Output::Stdout(BufWriter::new(std::io::stdout())),
            AlertTarget::File(path) => {
                Output::File(BufWriter::new(open_append(&path, None)?.0), path)
            }
            AlertTarget::Http(url) => Output::Http(Poster::new(
                &url,
                None,
                None,
                None,
                Duration::from_secs(30),
                stop,
            )?),
            AlertTarget::Sns(topic) => Output::Sns(Box::new(SnsPublisher::new(&topic, stop)?)),
        };
        Ok(Self {
            evaluator: engine.evaluator(),
            output,
            pending: Vec::new(),
            events: 0,
            stats: SinkStats::default(),
        })
    }
}

/// The spec's rules loaded into an engine (bundled rules when it names none).
fn load_engine(spec: &AlertsSpec) -> Result<Engine> {
    let files = if spec.rules.is_empty() {
        crate::bundled::rules_files()
    } else {
        read_rules(&spec.rules)?
    };
    let options = EngineOptions {
        min_priority: spec
            .min_priority
            .as_deref()
            .and_then(Priority::parse)
            .unwrap_or(Priority::Debug),
        rule_matching: match spec.rule_matching.as_deref() {
            Some("all") => RuleMatching::All,
            _ => RuleMatching::First,
        },
        hostname: crate::host::hostname(),
        ..EngineOptions::default()
    };
    match Engine::load(&files, &options) {
        Ok((engine, report)) => {
            for warning in report.warnings() {
                tracing::warn!("{warning}");
            }
            Ok(engine)
        }
        Err(report) => bail!("the alert rules do not load:\n{}", report.verbose(&files)),
    }
}

impl AlertsSink {
    /// What it did so far.
    pub fn stats(&self) -> &SinkStats {
        &self.stats
    }

    /// Evaluates one event; its alerts are delivered at the next flush.
    pub fn write(&mut self, event: &AuditEvent) -> Result<()> {
        self.events += 1;
        self.stats.events += 1;
        self.evaluator
            .evaluate(&event.view(), self.events, &mut self.pending);
        Ok(())
    }

    /// Delivers the pending alerts.
    pub fn flush(&mut self) -> Result<()> {
        for alert in self.pending.drain(..) {
            let json = alert.to_json();
            self.stats.alerts += 1;
            match &mut self.output {
                Output::Stdout(out) => {
                    write_line(out, json.as_bytes()).context("write alert to stdout")?
                }
                Output::File(out, path) => write_line(out, json.as_bytes())
                    .with_context(|| format!("write alert to {}", path.display()))?,
                Output::Http(poster) => {
                    if let Delivery::Refused(status, reason) =
                        poster.post(json.as_bytes(), &mut self.stats)?
                    {
                        self.stats.rejected += 1;
                        tracing::error!(status, rule = %alert.rule, "The alert receiver refused an alert ({reason}).");
                    }
                }
                Output::Sns(sns) => sns.publish(&alert, &json, &mut self.stats)?,
            }
        }
        match &mut self.output {
            Output::Stdout(out) => out.flush().context("flush stdout")?,
            Output::File(out, path) => out
                .flush()
                .and_then(|()| out.get_ref().sync_data())
                .with_context(|| format!("flush {}", path.display()))?,
            Output::Http(_) | Output::Sns(_) => {}
        }
        Ok(())
    }
}

fn read_rules(paths: &[PathBuf]) -> Result<Vec<RulesFile>> {
    let refs: Vec<&std::path::Path> = paths.iter().map(PathBuf::as_path).collect();
    let expanded = RulesFile::expand_paths(&refs).context("cannot list the rules files")?;
    expanded
        .iter()
        .map(|p| RulesFile::from_path(p).with_context(|| format!("cannot read {}", p.display())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(AlertTarget::parse("stdout"), Ok(AlertTarget::Stdout));
        assert_eq!(
            AlertTarget::parse("file:///tmp/a"),
            Ok(AlertTarget::File("/tmp/a".into()))
        );
        assert!(matches!(
            AlertTarget::parse("http://127.0.0.1:2801/"),
            Ok(AlertTarget::Http(_))
        ));
        assert!(matches!(
            AlertTarget::parse("sns://arn:aws:sns:us-east-1:123456789012:falco"),
            Ok(AlertTarget::Sns(_))
        ));
        assert!(AlertTarget::parse("sns://falco").is_err());
        assert!(AlertTarget::parse("smoke-signals").is_err());
    }

    #[cfg(not(feature = "aws"))]
    #[test]
    fn sns_is_refused_without_the_aws_feature() {
        let spec = AlertsSpec {
            to: "sns://arn:aws:sns:us-east-1:123456789012:falco".to_string(),
            rules: Vec::new(),
            min_priority: None,
            rule_matching: None,
        };
        let error = AlertsSink::open(&spec, Arc::new(AtomicBool::new(false))).unwrap_err();
        assert_eq!(
            error.to_string(),
            "sns:// alert targets need eksaudit built with the `aws` feature (the default)"
        );
    }
}
