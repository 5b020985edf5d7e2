//! `eksaudit forward`: sources to sinks, with checkpoints.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use eksaudit::checkpoint;
use eksaudit::decode::{DecodeOptions, MAX_MAX_EVENT_SIZE};
use eksaudit::forward::sink::SinkSpec;
use eksaudit::forward::{self, ForwardConfig, config, metrics};
use eksaudit::sources::live::LiveOptions;
use eksaudit::sources::spec::{CLOUDWATCH_KEYS, KINESIS_KEYS, S3_KEYS};
use eksaudit::sources::{SourceSpec, parse_open_params};

use super::Outcome;

/// The long help: what forward does, and every key a `kinesis://` source takes.
pub static LONG_ABOUT: LazyLock<String> = LazyLock::new(|| {
    let mut text = String::from(
        "Read audit events from CloudWatch Logs, Kinesis, S3 (or files) and write them to sinks, with durable checkpoints.\n\n\
         Each --source is read in its own tasks; events are written to every --sink as JSON lines \
         (one audit event per line). A source's position is checkpointed only after every sink \
         has written and flushed the events before it, so after a crash or kill -9 nothing is \
         lost; file:// sinks are cut back to their checkpointed length on restart, so nothing is \
         written twice either. SIGINT/SIGTERM stop cleanly (flush, checkpoint, exit 0).\n\n\
         Sources:\n  \
         kinesis://<stream name or ARN>?key=value&...   a Kinesis data stream fed by a CloudWatch \
         Logs subscription filter (gzip envelopes)\n  \
         cloudwatch://<cluster | /log/group | ARN>?...   EKS audit log groups polled in CloudWatch \
         Logs (a bare cluster name means /aws/eks/<name>/cluster)\n  \
         s3://<bucket>/<prefix>?...                      exported audit logs, object by object in \
         key order, then the source ends\n  \
         file://<path>                                   audit log files (any format), read once\n\n\
         kinesis:// keys:\n",
    );
    for (key, what) in KINESIS_KEYS {
        text.push_str(&format!("  {key:<22} {what}\n"));
    }
    text.push_str("\ncloudwatch:// keys:\n");
    for (key, what) in CLOUDWATCH_KEYS {
        text.push_str(&format!("  {key:<22} {what}\n"));
    }
    text.push_str("\ns3:// keys:\n");
    for (key, what) in S3_KEYS {
        text.push_str(&format!("  {key:<22} {what}\n"));
    }
    text.push_str(
        "\nAWS endpoints and credentials come from the SDK's usual chain (AWS_ENDPOINT_URL, \
         AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, IRSA web identity, instance \
         metadata).\n\nSinks:\n  stdout            JSON lines on standard output\n  \
         file://<path>     JSON lines appended to a file\n\n\
         Example:\n  eksaudit forward --source 'kinesis://eks-audit?start=trim_horizon' \
         --sink file://audit.jsonl --checkpoint-dir /var/lib/eksaudit",
    );
    text
});

/// Arguments of `eksaudit forward`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A source: cloudwatch://<log group>?key=value&..., kinesis://<stream>?key=value&...,
    /// s3://<bucket>/<prefix> or file://<path> (repeat for several).
    #[arg(
        long = "source",
        value_name = "SPEC",
        required_unless_present = "config"
    )]
    sources: Vec<String>,
    /// A sink: stdout, file://<path>, http(s)://<host>/k8s-audit (a Falco webhook), or
    /// alerts:<stdout|file://path|http(s)://url|sns://topic-arn> (repeat; default stdout).
    #[arg(long = "sink", value_name = "SPEC")]
    sinks: Vec<String>,
    /// A YAML config file with sources, sinks and options (see
    /// examples/forward.yaml); --source/--sink given too are added to its lists.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Validate the configuration (file, specs, rules) and exit, without any network.
    #[arg(long)]
    check: bool,
    /// Rules for alerts: sinks given on the command line (default: the bundled rules).
    /// A file or a directory; repeat to load several, in order.
    #[arg(short = 'r', long = "rules", value_name = "FILE|DIR")]
    rules: Vec<PathBuf>,
    /// Directory for the checkpoint file (default: $STATE_DIRECTORY, else
    /// $XDG_STATE_HOME/eksaudit, else ~/.local/state/eksaudit).
    #[arg(long, value_name = "DIR")]
    checkpoint_dir: Option<PathBuf>,
    /// Largest event delivered, in bytes; larger ones are dropped, counted and logged.
    /// EKS sends events of up to about 1 MiB.
    #[arg(long, value_name = "BYTES")]
    max_event_size: Option<usize>,
    /// AWS region for sources that name none (default: the SDK's chain).
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// AWS shared-config profile for credentials.
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// This process's name in lease tables (default: hostname:pid:random).
    #[arg(long, value_name = "ID")]
    worker_id: Option<String>,
    /// Seconds between two progress lines in the log (0: none; default 30).
    #[arg(long, value_name = "SECONDS")]
    progress_interval: Option<u64>,
    /// Serve /metrics (Prometheus) and /healthz on this address (default 127.0.0.1:9464;
    /// "off" to disable).
    #[arg(long, value_name = "ADDR:PORT")]
    metrics_address: Option<String>,
    /// Stop once every cloudwatch:// source has read up to now (and s3:// and file://
    /// sources to their end): hunt over retained history with start=<time>, then exit.
    #[arg(long)]
    until_caught_up: bool,
}

/// Runs `eksaudit forward`.
pub fn run(args: Args) -> Result<Outcome> {
    let check = args.check;
    let config = config(args)?;
    if check {
        for sink in &config.sinks {
            if let SinkSpec::Alerts(spec) = sink {
                eksaudit::forward::alerts::AlertsSink::check_rules(spec)?;
            }
        }
        println!(
            "configuration valid: {} source(s), {} sink(s), checkpoints in {}",
            config.sources.len(),
            config.sinks.len(),
            config.checkpoint_dir.display()
        );
        return Ok(Outcome::Clean);
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second signal while stopping ends the process at once.
        signal_hook::flag::register_conditional_shutdown(signal, 130, stop.clone())
            .context("cannot install a signal handler")?;
        signal_hook::flag::register(signal, stop.clone())
            .context("cannot install a signal handler")?;
    }
    let summary = forward::run(&config, stop)?;
    tracing::info!(
        events = summary.events,
        batches = summary.batches,
        checkpoints = summary.checkpoints,
        decode_errors = summary.decode.total_errors(),
        "Forwarder stopped."
    );
    for (key, stats) in &summary.sinks {
        tracing::info!(
            sink = key,
            events = stats.events,
            requests = stats.requests,
            retries = stats.retries,
            rejected = stats.rejected,
            alerts = stats.alerts,
            "Sink totals."
        );
    }
    if !summary.failures.is_empty() {
        bail!("{}", summary.failures.join("\n"));
    }
    Ok(if summary.decode.total_errors() > 0 {
        Outcome::Problems
    } else {
        Outcome::Clean
    })
}

fn config(args: Args) -> Result<ForwardConfig> {
    let mut loaded = match &args.config {
        Some(path) => config::load(path).map_err(anyhow::Error::msg)?,
        None => config::Loaded {
            sources: Vec::new(),
            sinks: Vec::new(),
            checkpoint_dir: None,
            live: LiveOptions {
                decode: DecodeOptions::with_max_event_size(forward::DEFAULT_MAX_EVENT_SIZE),
                ..LiveOptions::default()
            },
            progress_interval: None,
            metrics_address: None,
        },
    };
    if args.config.is_some() && args.sinks.is_empty() && loaded.sinks == [SinkSpec::Stdout] {
        // The file's default sink stays unless the command line names sinks.
    } else if args.config.is_some() && !args.sinks.is_empty() && loaded.sinks == [SinkSpec::Stdout]
    {
        loaded.sinks.clear();
    }
    for source in &args.sources {
        loaded.sources.push(parse_open_params(source)?);
    }
    if args.until_caught_up
        && let Some(kinesis) = loaded
            .sources
            .iter()
            .find(|s| matches!(s, SourceSpec::Kinesis(_)))
    {
        bail!(
            "--until-caught-up applies to cloudwatch://, s3:// and file:// sources; {} is followed forever",
            kinesis.key()
        );
    }
    loaded.live.until_caught_up = args.until_caught_up;
    for sink in &args.sinks {
        let mut spec = SinkSpec::parse(sink)?;
        if let SinkSpec::Alerts(alerts) = &mut spec {
            alerts.rules = args.rules.clone();
            alerts.validate().map_err(anyhow::Error::msg)?;
        }
        loaded.sinks.push(spec);
    }
    if loaded.sinks.is_empty() {
        loaded.sinks.push(SinkSpec::Stdout);
    }
    if let Some(size) = args.max_event_size {
        if !(1024..=MAX_MAX_EVENT_SIZE).contains(&size) {
            bail!("--max-event-size must be between 1024 and {MAX_MAX_EVENT_SIZE}");
        }
        loaded.live.decode = DecodeOptions::with_max_event_size(size);
    }
    if args.region.is_some() {
        loaded.live.region = args.region;
    }
    if args.profile.is_some() {
        loaded.live.profile = args.profile;
    }
    if let Some(id) = args.worker_id {
        loaded.live.worker_id = id;
    }
    let address = args
        .metrics_address
        .or(loaded.metrics_address)
        .unwrap_or_else(|| metrics::DEFAULT_ADDRESS.to_string());
    let metrics_address = if address == "off" {
        None
    } else {
        Some(
            address
                .parse()
                .with_context(|| format!("--metrics-address {address:?}: not an address:port"))?,
        )
    };
    Ok(ForwardConfig {
        sources: loaded.sources,
        sinks: loaded.sinks,
        checkpoint_dir: args
            .checkpoint_dir
            .or(loaded.checkpoint_dir)
            .unwrap_or_else(checkpoint::default_dir),
        live: loaded.live,
        progress_interval: Duration::from_secs(
            args.progress_interval
                .or(loaded.progress_interval.map(|d| d.as_secs()))
                .unwrap_or(30),
        ),
        metrics_address,
    })
}
