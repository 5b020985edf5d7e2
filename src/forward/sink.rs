//! Sinks: where the forwarder writes events.
//!
//! * `stdout`: JSON lines on standard output;
//! * `file://PATH`: JSON lines appended to a file, rotated by size. Its length is recorded
//!   with every checkpoint after an fsync, and on restart the file is cut back to it, so
//!   events of a batch in flight when the process died are not written twice;
//! * `http(s)://…` (a Falco k8saudit webhook): `EventList` batches, see [`super::webhook`];
//! * `alerts:<to>`: the rule engine in-process, Falco JSON alerts to stdout, a file, an
//!   HTTP endpoint (falcosidekick) or Amazon SNS, see [`super::alerts`].
//!
//! Sinks are synchronous: [`Sink::flush`] returns once everything written is durable or
//! delivered (retrying as long as it takes, unless the forwarder is stopping), and only
//! then does the forwarder checkpoint. A slow or down sink therefore holds the loop, the
//! bounded channel fills, and the sources wait: backpressure, with flat memory.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use super::alerts::AlertsSink;
use super::webhook::WebhookSink;
use crate::event::AuditEvent;

/// Files kept by rotation besides the live one (`PATH.1` … `PATH.5`).
const ROTATED_FILES: u32 = 5;

/// A JSON lines file sink's options.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// The file.
    pub path: PathBuf,
    /// Rotate once the file reaches this many bytes (0: never).
    #[serde(default)]
    pub rotate_bytes: u64,
}

/// A Falco k8saudit webhook sink's options.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSpec {
    /// `http(s)://host:port/k8s-audit`.
    pub url: String,
    /// Largest request body (default 8 MiB, under k8saudit's 12 MiB `webhookMaxBatchSize`).
    #[serde(default = "default_max_batch_bytes")]
    pub max_batch_bytes: usize,
    /// PEM file of the CA that signed the server's certificate (default: system roots).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate and key, for mutual TLS.
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[serde(default)]
    pub client_key: Option<PathBuf>,
    /// A file holding a bearer token (read at start; never logged).
    #[serde(default)]
    pub bearer_token_file: Option<PathBuf>,
    /// Where batches the server refuses (4xx other than 429) are written, as JSON lines.
    #[serde(default)]
    pub dead_letter: Option<PathBuf>,
    /// Seconds one request may take.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
}

fn default_max_batch_bytes() -> usize {
    8 * 1024 * 1024
}
fn default_timeout_secs() -> u64 {
    30
}

impl WebhookSpec {
    /// A webhook at `url` with every default.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_string(),
            max_batch_bytes: default_max_batch_bytes(),
            ca_file: None,
            client_cert: None,
            client_key: None,
            bearer_token_file: None,
            dead_letter: None,
            timeout_secs: default_timeout_secs(),
        }
    }

    /// Checks values (no network; files must exist).
    pub fn validate(&self) -> Result<(), String> {
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            return Err(format!(
                "webhook url {:?} must start with http:// or https://",
                self.url
            ));
        }
        if !(1024..=12 * 1024 * 1024).contains(&self.max_batch_bytes) {
            return Err(format!(
                "max_batch_bytes must be between 1024 and 12582912 (k8saudit's limit), got {}",
                self.max_batch_bytes
            ));
        }
        if self.client_cert.is_some() != self.client_key.is_some() {
            return Err("client_cert and client_key go together".into());
        }
        for file in [
            &self.ca_file,
            &self.client_cert,
            &self.client_key,
            &self.bearer_token_file,
        ]
        .into_iter()
        .flatten()
        {
            if !file.is_file() {
                return Err(format!("{} does not exist", file.display()));
            }
        }
        Ok(())
    }
}

/// An alerts sink's options.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsSpec {
    /// `stdout`, `file://PATH`, `http(s)://URL` (falcosidekick) or `sns://TOPIC_ARN`.
    pub to: String,
    /// Rules files or directories, loaded in order (default: the bundled rules).
    #[serde(default)]
    pub rules: Vec<PathBuf>,
    /// Skip rules less severe than this (default `debug`).
    #[serde(default)]
    pub min_priority: Option<String>,
    /// `first` (Falco's default) or `all`.
    #[serde(default)]
    pub rule_matching: Option<String>,
}

impl AlertsSpec {
    /// Checks values (no network; rules are loaded when the sink opens).
    pub fn validate(&self) -> Result<(), String> {
        super::alerts::AlertTarget::parse(&self.to)?;
        if let Some(p) = &self.min_priority
            && crate::rules::Priority::parse(p).is_none()
        {
            return Err(format!("unknown min_priority {p:?}"));
        }
        match self.rule_matching.as_deref() {
            None | Some("first" | "all") => {}
            Some(other) => return Err(format!("rule_matching {other:?}: use first or all")),
        }
        for path in &self.rules {
            if !path.exists() {
                return Err(format!("rules {} does not exist", path.display()));
            }
        }
        Ok(())
    }
}

/// A sink spec, parsed without I/O.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkSpec {
    /// JSON lines on stdout.
    Stdout,
    /// JSON lines appended to a file.
    File(FileSpec),
    /// A Falco k8saudit webhook.
    Webhook(WebhookSpec),
    /// Falco rules in-process, alerts out.
    Alerts(AlertsSpec),
}

impl SinkSpec {
    /// Parses the short form: `stdout`, `file://PATH`, `http(s)://URL` (a Falco webhook),
    /// `alerts:<stdout|file://PATH|http(s)://URL|sns://TOPIC_ARN>` (bundled rules).
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        if text == "stdout" || text == "-" {
            return Ok(Self::Stdout);
        }
        if let Some(path) = text.strip_prefix("file://") {
            if path.is_empty() {
                bail!("sink \"file://\" has no path: give file://<path>");
            }
            return Ok(Self::File(FileSpec {
                path: PathBuf::from(path),
                rotate_bytes: 0,
            }));
        }
        if text.starts_with("http://") || text.starts_with("https://") {
            let spec = WebhookSpec::new(text);
            spec.validate().map_err(anyhow::Error::msg)?;
            return Ok(Self::Webhook(spec));
        }
        if let Some(to) = text.strip_prefix("alerts:") {
            let spec = AlertsSpec {
                to: to.to_string(),
                rules: Vec::new(),
                min_priority: None,
                rule_matching: None,
            };
            spec.validate().map_err(anyhow::Error::msg)?;
            return Ok(Self::Alerts(spec));
        }
        bail!(
            "sink {text:?}: unknown sink; supported: stdout, file://<path> (JSON lines), http(s)://<host>/k8s-audit (Falco webhook), alerts:<stdout|file://path|http(s)://url|sns://topic-arn>"
        )
    }

    /// The name its state is filed under in checkpoints and metrics.
    pub fn key(&self) -> String {
        match self {
            Self::Stdout => "stdout".to_string(),
            Self::File(spec) => format!("file:{}", spec.path.display()),
            Self::Webhook(spec) => format!("webhook:{}", spec.url),
            Self::Alerts(spec) => format!("alerts:{}", spec.to),
        }
    }
}

/// What a sink did, for logs and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkStats {
    /// Events written or delivered.
    pub events: u64,
    /// Requests sent (HTTP, SNS).
    pub requests: u64,
    /// Attempts retried after a passing failure.
    pub retries: u64,
    /// Events the receiver refused for good (written to the dead-letter file).
    pub rejected: u64,
    /// Alerts raised (alerts sinks).
    pub alerts: u64,
}

/// An open sink.
#[derive(Debug)]
pub enum Sink {
    /// Standard output.
    Stdout(BufWriter<io::Stdout>, SinkStats),
    /// A JSON lines file.
    File(FileSink),
    /// A Falco webhook.
    Webhook(Box<WebhookSink>),
    /// Rules and alerts.
    Alerts(Box<AlertsSink>),
}

impl Sink {
    /// Opens the sink; `recorded` is its length in the last checkpoint (files). `stop`
    /// ends retries when the forwarder stops.
    pub fn open(spec: &SinkSpec, recorded: Option<u64>, stop: Arc<AtomicBool>) -> Result<Self> {
        Ok(match spec {
            SinkSpec::Stdout => Self::Stdout(
                BufWriter::with_capacity(1 << 16, io::stdout()),
                SinkStats::default(),
            ),
            SinkSpec::File(spec) => Self::File(FileSink::open(spec, recorded)?),
            SinkSpec::Webhook(spec) => Self::Webhook(Box::new(WebhookSink::open(spec, stop)?)),
            SinkSpec::Alerts(spec) => Self::Alerts(Box::new(AlertsSink::open(spec, stop)?)),
        })
    }

    /// Takes one event.
    pub fn write_event(&mut self, event: &AuditEvent) -> Result<()> {
        match self {
            Self::Stdout(out, stats) => {
                stats.events += 1;
                write_line(out, event.payload()).context("write to stdout")
            }
            Self::File(file) => file.write(event.payload()),
            Self::Webhook(webhook) => webhook.write(event),
            Self::Alerts(alerts) => alerts.write(event),
        }
    }

    /// Makes everything taken durable or delivered; the length to record for a file.
    pub fn flush(&mut self) -> Result<Option<u64>> {
        match self {
            Self::Stdout(out, _) => out.flush().map(|()| None).context("flush stdout"),
            Self::File(file) => file.flush().map(Some),
            Self::Webhook(webhook) => webhook.flush().map(|()| None),
            Self::Alerts(alerts) => alerts.flush().map(|()| None),
        }
    }

    /// What it did so far.
    pub fn stats(&self) -> SinkStats {
        match self {
            Self::Stdout(_, stats) => stats.clone(),
            Self::File(file) => file.stats.clone(),
            Self::Webhook(webhook) => webhook.stats().clone(),
            Self::Alerts(alerts) => alerts.stats().clone(),
        }
    }
}

/// Writes `payload` and a newline.
pub fn write_line(out: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    out.write_all(payload)?;
    out.write_all(b"\n")
}

/// A JSON lines file sink.
#[derive(Debug)]
pub struct FileSink {
    path: PathBuf,
    out: BufWriter<File>,
    length: u64,
    rotate_bytes: u64,
    stats: SinkStats,
}

impl FileSink {
    /// Opens (appending) `spec.path`, cut back to `recorded` bytes if longer.
    pub fn open(spec: &FileSpec, recorded: Option<u64>) -> Result<Self> {
        let (file, length) = open_append(&spec.path, recorded)?;
        Ok(Self {
            path: spec.path.clone(),
            out: BufWriter::with_capacity(1 << 16, file),
            length,
            rotate_bytes: spec.rotate_bytes,
            stats: SinkStats::default(),
        })
    }

    fn write(&mut self, payload: &[u8]) -> Result<()> {
        self.length += payload.len() as u64 + 1;
        self.stats.events += 1;
        write_line(&mut self.out, payload)
            .with_context(|| format!("write to {}", self.path.display()))
    }

    /// Flushes and fsyncs; rotates when the file is full. The length to record.
    fn flush(&mut self) -> Result<u64> {
        let context = || format!("flush {}", self.path.display());
        self.out.flush().with_context(context)?;
        self.out.get_ref().sync_data().with_context(context)?;
        if self.rotate_bytes > 0 && self.length >= self.rotate_bytes {
            self.rotate()?;
        }
        Ok(self.length)
    }

    /// `PATH` → `PATH.1`, shifting older ones up to `PATH.5`, and a new empty `PATH`.
    fn rotate(&mut self) -> Result<()> {
        let numbered = |n: u32| PathBuf::from(format!("{}.{n}", self.path.display()));
        for n in (1..ROTATED_FILES).rev() {
            let from = numbered(n);
            if from.exists() {
                std::fs::rename(&from, numbered(n + 1))
                    .with_context(|| format!("rotate {}", from.display()))?;
            }
        }
        std::fs::rename(&self.path, numbered(1))
            .with_context(|| format!("rotate {}", self.path.display()))?;
        let (file, length) = open_append(&self.path, None)?;
        self.out = BufWriter::with_capacity(1 << 16, file);
        self.length = length;
        tracing::info!(path = %self.path.display(), "Rotated the sink file.");
        Ok(())
    }
}

/// Opens a file for appending, cut back to `recorded` bytes if it is longer.
pub fn open_append(path: &Path, recorded: Option<u64>) -> Result<(File, u64)> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open sink file {}", path.display()))?;
    let mut length = file
        .metadata()
        .with_context(|| format!("cannot stat {}", path.display()))?
        .len();
    match recorded {
        Some(recorded) if length > recorded => {
            tracing::info!(path = %path.display(), recorded, found = length, "Cutting the sink file back to its last checkpoint: the events after it were not checkpointed and will be read again.");
            file.set_len(recorded)
                .with_context(|| format!("cannot truncate {}", path.display()))?;
            length = recorded;
        }
        Some(recorded) if length < recorded => {
            tracing::warn!(path = %path.display(), recorded, found = length, "The sink file is shorter than at the last checkpoint (rotated or edited by someone else?); appending.");
        }
        _ => {}
    }
    Ok((file, length))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::AuditEvent;

    fn event(json: &str) -> AuditEvent {
        AuditEvent::new(json.as_bytes().to_vec(), 0)
    }

    fn stop() -> Arc<AtomicBool> {
        Arc::new(AtomicBool::new(false))
    }

    #[test]
    fn specs() {
        assert_eq!(SinkSpec::parse("stdout").unwrap(), SinkSpec::Stdout);
        assert!(
            matches!(SinkSpec::parse("file://out/a.jsonl").unwrap(), SinkSpec::File(f) if f.path == Path::new("out/a.jsonl"))
        );
        assert!(matches!(
            SinkSpec::parse("http://127.0.0.1:9765/k8s-audit").unwrap(),
            SinkSpec::Webhook(_)
        ));
        assert!(matches!(
            SinkSpec::parse("alerts:stdout").unwrap(),
            SinkSpec::Alerts(_)
        ));
        assert!(matches!(
            SinkSpec::parse("alerts:sns://arn:aws:sns:us-east-1:123456789012:alerts").unwrap(),
            SinkSpec::Alerts(_)
        ));
        assert!(SinkSpec::parse("file://").is_err());
        assert!(SinkSpec::parse("alerts:carrier-pigeon").is_err());
        let err = SinkSpec::parse("kafka://x").unwrap_err().to_string();
        assert!(err.contains("unknown sink"), "{err}");
    }

    #[test]
    fn file_sink_cuts_back_to_the_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let spec = SinkSpec::File(FileSpec {
            path: path.clone(),
            rotate_bytes: 0,
        });
        let mut sink = Sink::open(&spec, None, stop()).unwrap();
        sink.write_event(&event("{\"a\":1}")).unwrap();
        let recorded = sink.flush().unwrap();
        assert_eq!(recorded, Some(8));
        sink.write_event(&event("{\"a\":2}")).unwrap();
        sink.flush().unwrap();
        drop(sink);
        let mut sink = Sink::open(&spec, recorded, stop()).unwrap();
        sink.write_event(&event("{\"a\":3}")).unwrap();
        assert_eq!(sink.flush().unwrap(), Some(16));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"a\":1}\n{\"a\":3}\n"
        );
    }

    #[test]
    fn file_sink_rotates_by_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let spec = SinkSpec::File(FileSpec {
            path: path.clone(),
            rotate_bytes: 20,
        });
        let mut sink = Sink::open(&spec, None, stop()).unwrap();
        for round in 0..7 {
            sink.write_event(&event(&format!("{{\"n\":{round}}}")))
                .unwrap();
            sink.write_event(&event(&format!("{{\"n\":{round}}}")))
                .unwrap();
            // Two 8-byte lines, then a third crosses 20 bytes: rotation after flush.
            sink.write_event(&event(&format!("{{\"n\":{round}}}")))
                .unwrap();
            assert_eq!(sink.flush().unwrap(), Some(0));
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        for n in 1..=ROTATED_FILES {
            let rotated = std::fs::read_to_string(format!("{}.{n}", path.display())).unwrap();
            assert_eq!(rotated.lines().count(), 3, "{n}");
        }
        assert!(!Path::new(&format!("{}.6", path.display())).exists());
    }
}
