//! `eksaudit forward`: sources to sinks, with checkpoints.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use eksaudit::checkpoint;
use eksaudit::decode::{DecodeOptions, MAX_MAX_EVENT_SIZE};
use eksaudit::forward::sink::SinkSpec;
use eksaudit::forward::{self, ForwardConfig};
use eksaudit::sources::live::{LiveOptions, default_worker_id};
use eksaudit::sources::spec::{CLOUDWATCH_KEYS, KINESIS_KEYS};
use eksaudit::sources::{SourceSpec, parse_open_params};

use super::Outcome;

/// The long help: what forward does, and every key a `kinesis://` source takes.
pub static LONG_ABOUT: LazyLock<String> = LazyLock::new(|| {
    let mut text = String::from(
        "Read audit events from CloudWatch Logs or Kinesis (or files) and write them to sinks, with durable checkpoints.\n\n\
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
    /// A source: cloudwatch://<log group>?key=value&..., kinesis://<stream>?key=value&...
    /// or file://<path> (repeat for several).
    #[arg(long = "source", value_name = "SPEC", required = true)]
    sources: Vec<String>,
    /// A sink: stdout or file://<path> (repeat for several; default stdout).
    #[arg(long = "sink", value_name = "SPEC")]
    sinks: Vec<String>,
    /// Directory for the checkpoint file (default: $STATE_DIRECTORY, else
    /// $XDG_STATE_HOME/eksaudit, else ~/.local/state/eksaudit, else /var/lib/eksaudit).
    #[arg(long, value_name = "DIR")]
    checkpoint_dir: Option<PathBuf>,
    /// Largest event delivered, in bytes; larger ones are dropped, counted and logged.
    /// EKS sends events of up to about 1 MiB.
    #[arg(long, value_name = "BYTES", default_value_t = 4 * 1024 * 1024)]
    max_event_size: usize,
    /// AWS region for sources that name none (default: the SDK's chain).
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// AWS shared-config profile for credentials.
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// This process's name in lease tables (default: hostname:pid:random).
    #[arg(long, value_name = "ID")]
    worker_id: Option<String>,
    /// Seconds between two progress lines in the log (0: none).
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    progress_interval: u64,
    /// Stop once every cloudwatch:// source has read up to now (and file:// sources to
    /// their end): hunt over retained history with start=<time>, then exit.
    #[arg(long)]
    until_caught_up: bool,
}

/// Runs `eksaudit forward`.
pub fn run(args: Args) -> Result<Outcome> {
    let config = config(args)?;
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
    if !(1024..=MAX_MAX_EVENT_SIZE).contains(&args.max_event_size) {
        bail!("--max-event-size must be between 1024 and {MAX_MAX_EVENT_SIZE}");
    }
    let sources = args
        .sources
        .iter()
        .map(|s| parse_open_params(s).map_err(anyhow::Error::from))
        .collect::<Result<Vec<_>>>()?;
    if args.until_caught_up
        && let Some(kinesis) = sources.iter().find(|s| matches!(s, SourceSpec::Kinesis(_)))
    {
        bail!(
            "--until-caught-up applies to cloudwatch:// and file:// sources; {} is followed forever",
            kinesis.key()
        );
    }
    let mut sinks = args
        .sinks
        .iter()
        .map(|s| SinkSpec::parse(s))
        .collect::<Result<Vec<_>>>()?;
    if sinks.is_empty() {
        sinks.push(SinkSpec::Stdout);
    }
    Ok(ForwardConfig {
        sources,
        sinks,
        checkpoint_dir: args.checkpoint_dir.unwrap_or_else(checkpoint::default_dir),
        live: LiveOptions {
            decode: DecodeOptions::with_max_event_size(args.max_event_size),
            profile: args.profile,
            region: args.region,
            worker_id: args.worker_id.unwrap_or_else(default_worker_id),
            until_caught_up: args.until_caught_up,
            ..LiveOptions::default()
        },
        progress_interval: Duration::from_secs(args.progress_interval),
    })
}
