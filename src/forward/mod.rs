//! `eksaudit forward`: sources → sinks, with checkpoints that never run ahead of the
//! sinks.
//!
//! The loop takes the batches that are ready (up to [`MAX_BATCHES_PER_COMMIT`]), writes
//! their events to every sink, makes the sinks durable, saves the checkpoint (positions
//! and sink lengths, atomically) and only then tells the sources. A `kill -9` at any
//! instant therefore loses nothing: what was not checkpointed is read again on restart,
//! and file sinks are cut back to their checkpointed length so it is not written twice.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::checkpoint::{CheckpointFile, State};
use crate::decode::DecodeStats;
use crate::sources::live::{LiveOptions, LiveSources};
use crate::sources::metrics::Metrics;
use crate::sources::{Batch, SourceMessage, SourceSpec};

pub mod alerts;
pub mod config;
pub mod metrics;
pub mod sink;
#[cfg(feature = "aws")]
mod sns;
pub mod webhook;

/// Without the `aws` feature there is no SNS publisher: an `sns://` alert target parses,
/// and is refused when the sink opens.
#[cfg(not(feature = "aws"))]
mod sns {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    use anyhow::{Result, bail};

    use super::sink::SinkStats;
    use crate::rules::Alert;

    pub(super) enum SnsPublisher {}

    impl SnsPublisher {
        pub(super) fn new(_topic: &str, _stop: Arc<AtomicBool>) -> Result<Self> {
            bail!("sns:// alert targets need eksaudit built with the `aws` feature (the default)")
        }

        pub(super) fn publish(&self, _: &Alert, _: &str, _: &mut SinkStats) -> Result<()> {
            match *self {}
        }
    }
}

use sink::{Sink, SinkSpec, SinkStats};

/// The forwarder's default `max_event_size`: EKS sends events of up to about 1 MiB.
pub const DEFAULT_MAX_EVENT_SIZE: usize = 4 * 1024 * 1024;

/// Batches written between two checkpoints at most (more are taken only if ready).
pub const MAX_BATCHES_PER_COMMIT: usize = 64;
/// Name of the forwarder's checkpoint file in the checkpoint directory.
const CHECKPOINT_NAME: &str = "forward";

/// What to forward where.
#[derive(Debug, Clone)]
pub struct ForwardConfig {
    /// Sources, in order.
    pub sources: Vec<SourceSpec>,
    /// Sinks, in order.
    pub sinks: Vec<SinkSpec>,
    /// Where checkpoints are kept.
    pub checkpoint_dir: PathBuf,
    /// How sources run.
    pub live: LiveOptions,
    /// Seconds between two progress lines in the log (0: none).
    pub progress_interval: Duration,
    /// Where `/metrics` and `/healthz` listen (none: not served).
    pub metrics_address: Option<std::net::SocketAddr>,
}

/// What a run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Events written to the sinks.
    pub events: u64,
    /// Batches written.
    pub batches: u64,
    /// Checkpoints saved.
    pub checkpoints: u64,
    /// Decoding problems, by kind.
    pub decode: DecodeStats,
    /// Sources that failed, with why.
    pub failures: Vec<String>,
    /// Per sink: what it did.
    pub sinks: Vec<(String, SinkStats)>,
}

/// Runs until every source ended, one failed, or `stop` turns true.
pub fn run(config: &ForwardConfig, stop: Arc<AtomicBool>) -> Result<Summary> {
    let checkpoint = CheckpointFile::open(&config.checkpoint_dir, CHECKPOINT_NAME)?;
    let mut state = checkpoint.load()?;
    let mut sinks = config
        .sinks
        .iter()
        .map(|spec| {
            let recorded = state.sinks.get(&spec.key()).copied();
            Ok((spec.key(), Sink::open(spec, recorded, stop.clone())?))
        })
        .collect::<Result<Vec<_>>>()?;
    tracing::info!(
        checkpoint = %checkpoint.path().display(),
        sources = config.sources.len(),
        sinks = sinks.len(),
        "Forwarding."
    );
    let mut live = LiveSources::start(&config.sources, &state, &config.live)?;
    let telemetry = Arc::new(metrics::Telemetry::default());
    if let (Some(address), Some(handle)) = (config.metrics_address, live.handle()) {
        *telemetry
            .sources
            .lock()
            .map_err(|_| anyhow::anyhow!("metrics lock"))? = live
            .metrics()
            .map(|(k, m)| (k.to_string(), m.clone()))
            .collect();
        metrics::serve(&handle, address, telemetry.clone())?;
    }
    telemetry.healthy.store(true, Ordering::Relaxed);
    // A backfill (`--until-caught-up`) on a terminal shows how far it got.
    let progress =
        if config.live.until_caught_up && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        } else {
            indicatif::ProgressBar::hidden()
        };
    let mut summary = Summary::default();
    let mut last_progress = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let Some(first) = live.recv(Duration::from_millis(200)) else {
            continue;
        };
        let mut batches = Vec::new();
        let mut message = Some(first);
        while let Some(current) = message.take() {
            match current {
                SourceMessage::Batch(batch) => batches.push(batch),
                SourceMessage::Failed { source, error } => {
                    summary
                        .failures
                        .push(format!("{}: {error}", live.key(source)));
                }
                SourceMessage::Ended { source } => {
                    tracing::info!(source = live.key(source), "Source read to its end.");
                }
            }
            if batches.len() < MAX_BATCHES_PER_COMMIT {
                message = live.try_recv();
            }
        }
        write_and_commit(
            &mut live,
            &batches,
            &mut sinks,
            &mut state,
            &checkpoint,
            &mut summary,
        )?;
        telemetry.events.store(summary.events, Ordering::Relaxed);
        telemetry
            .checkpoints
            .store(summary.checkpoints, Ordering::Relaxed);
        if let Ok(mut stats) = telemetry.sinks.lock() {
            *stats = sinks.iter().map(|(k, s)| (k.clone(), s.stats())).collect();
        }
        if !summary.failures.is_empty() || live.all_ended() {
            break;
        }
        if !config.progress_interval.is_zero()
            && last_progress.elapsed() >= config.progress_interval
        {
            last_progress = Instant::now();
            log_progress(&live, &summary);
        }
    }
    telemetry.healthy.store(false, Ordering::Relaxed);
    progress.finish_and_clear();
    summary.decode = total_decode_stats(live.metrics().map(|(_, m)| &**m));
    summary.sinks = sinks.iter().map(|(k, s)| (k.clone(), s.stats())).collect();
    live.shutdown(Duration::from_secs(5));
    Ok(summary)
}

fn write_and_commit(
    live: &mut LiveSources,
    batches: &[Batch],
    sinks: &mut [(String, Sink)],
    state: &mut State,
    checkpoint: &CheckpointFile,
    summary: &mut Summary,
) -> Result<()> {
    if batches.is_empty() {
        return Ok(());
    }
    for batch in batches {
        for event in &batch.events {
            for (key, sink) in sinks.iter_mut() {
                sink.write_event(event)
                    .with_context(|| format!("sink {key}: write failed"))?;
            }
        }
        summary.events += batch.events.len() as u64;
        summary.batches += 1;
    }
    for (key, sink) in sinks.iter_mut() {
        if let Some(length) = sink
            .flush()
            .with_context(|| format!("sink {key}: flush failed"))?
        {
            state.sinks.insert(key.clone(), length);
        }
    }
    let mut positions_moved = false;
    for batch in batches {
        if let Some(position) = &batch.position {
            state
                .positions
                .entry(live.key(batch.source).to_string())
                .or_default()
                .insert(batch.partition.to_string(), position.clone());
            positions_moved = true;
        }
    }
    if positions_moved {
        checkpoint.save(state)?;
        summary.checkpoints += 1;
    }
    for batch in batches {
        live.commit(batch);
    }
    Ok(())
}

fn total_decode_stats<'a>(metrics: impl Iterator<Item = &'a Metrics>) -> DecodeStats {
    let mut total = DecodeStats::default();
    for m in metrics {
        total.add(&m.decode_stats());
    }
    total
}

fn log_progress(live: &LiveSources, summary: &Summary) {
    for (key, metrics) in live.metrics() {
        let lag = metrics.lag();
        let max_lag = lag.values().copied().max().unwrap_or(0);
        tracing::info!(
            source = key,
            records = Metrics::get(&metrics.records),
            shards = Metrics::get(&metrics.shards_reading),
            max_millis_behind_latest = max_lag,
            throttles = Metrics::get(&metrics.throttles),
            "Source progress."
        );
        let cw = &metrics.cloudwatch;
        if Metrics::get(&cw.api_calls) > 0 {
            tracing::info!(
                source = key,
                log_groups = Metrics::get(&cw.groups_polling),
                max_lag_ms = max_lag,
                log_events = Metrics::get(&cw.log_events),
                pages = Metrics::get(&cw.pages),
                api_calls = Metrics::get(&cw.api_calls),
                throttles = Metrics::get(&metrics.throttles),
                duplicates_suppressed = Metrics::get(&cw.duplicates_suppressed),
                late_events = Metrics::get(&cw.late_events),
                other_streams = Metrics::get(&cw.other_streams),
                "CloudWatch Logs progress."
            );
        }
    }
    tracing::info!(
        events = summary.events,
        checkpoints = summary.checkpoints,
        "Forwarder progress."
    );
}
