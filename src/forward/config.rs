//! `eksaudit forward --config FILE`: many sources, many sinks, rules and options in one
//! YAML file, validated without any network (`--check`).
//!
//! Every mistake is reported with the file, the line and the key: YAML and type errors
//! by the parser (serde-saphyr keeps positions), value errors (a bad source spec, a
//! missing file) by looking the key's line up in the text.
//!
//! ```yaml
//! sources:
//!   - kinesis://eks-audit?region=eu-west-1&start=trim_horizon
//! sinks:
//!   - file:///var/log/eksaudit/audit.jsonl   # the short form of --sink
//!   - type: webhook                          # or a map with options
//!     url: http://falco:9765/k8s-audit
//! checkpoint_dir: /var/lib/eksaudit
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::sink::{AlertsSpec, FileSpec, SinkSpec, WebhookSpec};
use crate::decode::{DecodeOptions, MAX_MAX_EVENT_SIZE};
use crate::sources::SourceSpec;
use crate::sources::live::LiveOptions;

/// The file's shape.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    sources: Vec<String>,
    #[serde(default)]
    sinks: Vec<SinkEntry>,
    #[serde(default)]
    checkpoint_dir: Option<PathBuf>,
    #[serde(default)]
    max_event_size: Option<usize>,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    worker_id: Option<String>,
    #[serde(default)]
    progress_interval: Option<u64>,
    #[serde(default)]
    metrics_address: Option<String>,
}

/// A sink: the `--sink` string form, or a map.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SinkEntry {
    Short(String),
    Full(FullSink),
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum FullSink {
    Stdout,
    File(FileSpec),
    Webhook(WebhookSpec),
    Alerts(AlertsSpec),
}

/// What a config file holds, ready to run.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The sources.
    pub sources: Vec<SourceSpec>,
    /// The sinks (none: the command's default, stdout).
    pub sinks: Vec<SinkSpec>,
    /// The checkpoint directory, when the file sets it.
    pub checkpoint_dir: Option<PathBuf>,
    /// Source options.
    pub live: LiveOptions,
    /// Seconds between progress lines.
    pub progress_interval: Option<Duration>,
    /// Where `/metrics` and `/healthz` listen.
    pub metrics_address: Option<String>,
}

/// Reads and validates a config file; no network.
pub fn load(path: &Path) -> Result<Loaded, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config {}: {e}", path.display()))?;
    parse(&text, &path.display().to_string())
}

/// Validates config `text` read from `name`.
pub fn parse(text: &str, name: &str) -> Result<Loaded, String> {
    let file: File = serde_saphyr::from_str(text).map_err(|e| format!("{name}: {e}"))?;
    let at = |key: &str, needle: &str, why: String| {
        format!("{name}:{}: {key}: {why}", line_of(text, needle))
    };
    if file.sources.is_empty() {
        return Err(format!(
            "{name}:{}: sources: give at least one source",
            line_of(text, "sources")
        ));
    }
    let mut sources = Vec::new();
    for source in &file.sources {
        let spec = crate::sources::parse_open_params(source)
            .map_err(|e| at("sources", source, e.to_string()))?;
        sources.push(spec);
    }
    let mut sinks = Vec::new();
    for entry in file.sinks {
        let sink = match entry {
            SinkEntry::Short(text_form) => SinkSpec::parse(&text_form)
                .map_err(|e| at("sinks", &text_form, format!("{e:#}")))?,
            SinkEntry::Full(FullSink::Stdout) => SinkSpec::Stdout,
            SinkEntry::Full(FullSink::File(spec)) => SinkSpec::File(spec),
            SinkEntry::Full(FullSink::Webhook(spec)) => {
                spec.validate().map_err(|e| at("sinks", &spec.url, e))?;
                SinkSpec::Webhook(spec)
            }
            SinkEntry::Full(FullSink::Alerts(spec)) => {
                spec.validate()
                    .map_err(|e| at("sinks", "type: alerts", e))?;
                SinkSpec::Alerts(spec)
            }
        };
        sinks.push(sink);
    }
    let mut live = LiveOptions::default();
    if let Some(size) = file.max_event_size {
        if !(1024..=MAX_MAX_EVENT_SIZE).contains(&size) {
            return Err(at(
                "max_event_size",
                "max_event_size",
                format!("must be between 1024 and {MAX_MAX_EVENT_SIZE}, got {size}"),
            ));
        }
        live.decode = DecodeOptions::with_max_event_size(size);
    } else {
        live.decode = DecodeOptions::with_max_event_size(super::DEFAULT_MAX_EVENT_SIZE);
    }
    live.region = file.region;
    live.profile = file.profile;
    if let Some(worker_id) = file.worker_id {
        live.worker_id = worker_id;
    }
    // `off` turns the listener off, as `--metrics-address off` does.
    if let Some(address) = file.metrics_address.as_ref().filter(|a| *a != "off") {
        address.parse::<std::net::SocketAddr>().map_err(|e| {
            at(
                "metrics_address",
                address,
                format!("not an address:port or off ({e})"),
            )
        })?;
    }
    Ok(Loaded {
        sources,
        sinks,
        checkpoint_dir: file.checkpoint_dir,
        live,
        progress_interval: file.progress_interval.map(Duration::from_secs),
        metrics_address: file.metrics_address,
    })
}

/// 1-based line of the first line that contains `needle`, for messages about values.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map_or(1, |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_config() {
        let loaded = parse(
            "sources:\n  - kinesis://a?region=us-east-1\n  - file:///tmp/x\nsinks:\n  - stdout\n  - type: file\n    path: /tmp/out.jsonl\n    rotate_bytes: 1000000\n  - type: webhook\n    url: http://127.0.0.1:9765/k8s-audit\n  - type: alerts\n    to: stdout\ncheckpoint_dir: /tmp/ck\nmax_event_size: 4194304\nmetrics_address: 127.0.0.1:9464\n",
            "f.yaml",
        )
        .unwrap();
        assert_eq!(loaded.sources.len(), 2);
        assert_eq!(loaded.sinks.len(), 4);
        assert_eq!(loaded.checkpoint_dir.as_deref(), Some(Path::new("/tmp/ck")));
        assert_eq!(loaded.live.decode.max_event_size, 4194304);
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let err = parse("sources:\n  - kinesis://a?regoin=x\n", "f.yaml").unwrap_err();
        assert!(err.starts_with("f.yaml:2: sources:"), "{err}");
        assert!(err.contains("unknown key \"regoin\""), "{err}");
        let err = parse("sources: [file:///x]\nsinks:\n  - kafka://x\n", "f.yaml").unwrap_err();
        assert!(err.starts_with("f.yaml:3: sinks:"), "{err}");
        let err = parse("sources: [file:///x]\nbogus: 1\n", "f.yaml").unwrap_err();
        assert!(err.contains("f.yaml") && err.contains("bogus"), "{err}");
        assert!(err.contains('2'), "names the line: {err}");
        let err = parse("sources: [file:///x]\nmax_event_size: 10\n", "f.yaml").unwrap_err();
        assert!(err.starts_with("f.yaml:2: max_event_size:"), "{err}");
        let err = parse("sources: []\n", "f.yaml").unwrap_err();
        assert!(err.contains("at least one source"), "{err}");
        let err = parse(
            "sources: [file:///x]\nsinks:\n  - type: webhook\n    url: ftp://x\n",
            "f.yaml",
        )
        .unwrap_err();
        assert!(err.starts_with("f.yaml:4: sinks:"), "{err}");
    }
}
