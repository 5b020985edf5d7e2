//! The plugin's live capture: a Kinesis or CloudWatch Logs source running on its own runtime (started in
//! `open`, never in `init`), its batches handed to Falco from `next_batch`.
//!
//! Acknowledgement: a batch handed to Falco is consumed once Falco asks for the next
//! one, so the positions of the batches handed in one call are committed (checkpoint
//! file, then the source) at the start of the next call, or at close. After a crash,
//! only the batch Falco was processing is read again.

use std::ffi::CStr;
use std::sync::Arc;
use std::time::Duration;

use falco_plugin::anyhow::{Error, anyhow};
use falco_plugin::base::{Metric, MetricLabel, MetricType, MetricValue};
use falco_plugin::source::EventBatch;

use super::config::PluginConfig;
use super::handed::Handed;
use super::{MAX_BATCH_BYTES, add_event};
use crate::checkpoint::{CheckpointFile, State};
use crate::decode::DecodeStats;
use crate::sources::live::{LiveOptions, LiveSources};
use crate::sources::metrics::Metrics;
use crate::sources::{Batch, SourceMessage, SourceSpec};

/// Where the plugin keeps checkpoints when `checkpoint_dir` is not set.
const PLUGIN_CHECKPOINT_DIR: &str = "/var/lib/eksaudit";

/// How long `next_batch` waits for a first event before answering `Timeout`.
const WAIT_FOR_EVENTS: Duration = Duration::from_millis(50);

/// A live source opened by Falco.
pub struct LiveInstance {
    live: LiveSources,
    checkpoint: CheckpointFile,
    state: State,
    /// The batch being handed over, and how many of its events already were.
    current: Option<(Batch, usize)>,
    /// Batches fully handed to Falco, committed at the next call.
    handed: Vec<Batch>,
    /// Why the source stopped, once it did.
    failed: Option<String>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for LiveInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveInstance")
            .field("live", &self.live)
            .field("checkpoint", &self.checkpoint.path())
            .finish()
    }
}

impl LiveInstance {
    /// Starts the source of `spec`, resuming from its checkpoint (`inject_task_panic`:
    /// the debug-build test hook of [`LiveOptions`]).
    pub fn open(
        spec: SourceSpec,
        config: &PluginConfig,
        inject_task_panic: bool,
    ) -> Result<Self, Error> {
        let dir = config
            .checkpoint_dir
            .as_deref()
            .unwrap_or(PLUGIN_CHECKPOINT_DIR);
        let dir = std::path::Path::new(dir);
        let checkpoint = CheckpointFile::open(dir, &format!("plugin-{}", spec.key()))?;
        let state = checkpoint.load()?;
        let options = LiveOptions {
            decode: config.decode_options(),
            profile: config.profile.clone(),
            region: config.effective_region(),
            // buffer_size counts events; batches carry many, so keep a few batches.
            channel_batches: (config.buffer_size as usize / 64).clamp(2, 64),
            inject_task_panic,
            ..LiveOptions::default()
        };
        let live = LiveSources::start(std::slice::from_ref(&spec), &state, &options)?;
        let metrics = live
            .metrics()
            .next()
            .map(|(_, m)| m.clone())
            .ok_or_else(|| anyhow!("no source started"))?;
        tracing::info!(source = %spec.key(), checkpoint = %checkpoint.path().display(), "Live source opened.");
        Ok(Self {
            live,
            checkpoint,
            state,
            current: None,
            handed: Vec::new(),
            failed: None,
            metrics,
        })
    }

    /// True once a finite source (S3 history) was read to its end and every event of
    /// it was handed to Falco.
    pub fn finished(&self) -> bool {
        self.current.is_none() && self.failed.is_none() && self.live.all_ended()
    }

    /// The source's counters.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Commits what Falco consumed, then adds up to `max_events` events; returns how
    /// many, and the decoding counters so far.
    pub(super) fn next_batch(
        &mut self,
        batch: &mut EventBatch,
        max_events: usize,
        handed: &mut Handed,
    ) -> Result<(usize, DecodeStats), Error> {
        self.commit_handed()?;
        let (mut added, mut bytes) = (0usize, 0usize);
        while added < max_events && bytes < MAX_BATCH_BYTES {
            if self.current.is_none() {
                let wait = if added == 0 {
                    WAIT_FOR_EVENTS
                } else {
                    Duration::ZERO
                };
                match self.live.recv(wait) {
                    Some(SourceMessage::Batch(next)) => self.current = Some((next, 0)),
                    Some(SourceMessage::Failed { error, .. }) => self.failed = Some(error),
                    Some(SourceMessage::Ended { .. }) | None => break,
                }
            }
            let Some((current, offset)) = &mut self.current else {
                break;
            };
            while *offset < current.events.len() && added < max_events && bytes < MAX_BATCH_BYTES {
                let event = &current.events[*offset];
                add_event(batch, event.payload(), event.time_ns())?;
                handed.push(event.clone());
                *offset += 1;
                added += 1;
                bytes += event.payload().len();
            }
            if *offset == current.events.len()
                && let Some((done, _)) = self.current.take()
            {
                self.handed.push(done);
            }
        }
        if added == 0
            && let Some(error) = &self.failed
        {
            return Err(anyhow!("{error}"));
        }
        Ok((added, self.metrics.decode_stats()))
    }

    /// Records the positions of the batches Falco consumed, durably, then tells the
    /// source.
    fn commit_handed(&mut self) -> Result<(), Error> {
        if self.handed.is_empty() {
            return Ok(());
        }
        for batch in &self.handed {
            if let Some(position) = &batch.position {
                self.state
                    .positions
                    .entry(self.live.key(batch.source).to_string())
                    .or_default()
                    .insert(batch.partition.to_string(), position.clone());
            }
        }
        self.checkpoint.save(&self.state)?;
        for batch in self.handed.drain(..) {
            self.live.commit(&batch);
        }
        Ok(())
    }

    /// Commits what Falco consumed and stops the source; the final decoding counters.
    pub fn close(&mut self) -> DecodeStats {
        if let Err(e) = self.commit_handed() {
            tracing::error!("Could not save the checkpoint at close: {e}");
        }
        self.live.shutdown(Duration::from_secs(5));
        self.metrics.decode_stats()
    }
}

/// The source's counters as Falco metrics.
pub fn source_metrics(metrics: &Metrics) -> Vec<Metric> {
    let monotonic = |name: &'static CStr, value: u64| {
        Metric::new(
            MetricLabel::new(name, MetricType::Monotonic),
            MetricValue::U64(value),
        )
    };
    let gauge = |name: &'static CStr, value: u64| {
        Metric::new(
            MetricLabel::new(name, MetricType::NonMonotonic),
            MetricValue::U64(value),
        )
    };
    let cw = &metrics.cloudwatch;
    let max_lag = metrics.lag().values().copied().max().unwrap_or(0).max(0) as u64;
    vec![
        monotonic(c"kinesis_records", Metrics::get(&metrics.records)),
        monotonic(c"kinesis_record_bytes", Metrics::get(&metrics.record_bytes)),
        monotonic(
            c"kinesis_get_records_calls",
            Metrics::get(&metrics.get_records_calls),
        ),
        monotonic(c"kinesis_throttles", Metrics::get(&metrics.throttles)),
        monotonic(
            c"kinesis_transient_errors",
            Metrics::get(&metrics.transient_errors),
        ),
        monotonic(
            c"kinesis_expired_iterators",
            Metrics::get(&metrics.expired_iterators),
        ),
        monotonic(c"kinesis_leases_taken", Metrics::get(&metrics.leases_taken)),
        monotonic(c"kinesis_leases_lost", Metrics::get(&metrics.leases_lost)),
        gauge(
            c"kinesis_shards_reading",
            Metrics::get(&metrics.shards_reading),
        ),
        gauge(c"kinesis_max_millis_behind_latest", max_lag),
        monotonic(c"cloudwatch_log_events", Metrics::get(&cw.log_events)),
        monotonic(c"cloudwatch_pages", Metrics::get(&cw.pages)),
        monotonic(c"cloudwatch_api_calls", Metrics::get(&cw.api_calls)),
        monotonic(
            c"cloudwatch_duplicates_suppressed",
            Metrics::get(&cw.duplicates_suppressed),
        ),
        monotonic(c"cloudwatch_late_events", Metrics::get(&cw.late_events)),
        monotonic(c"cloudwatch_other_streams", Metrics::get(&cw.other_streams)),
        gauge(c"cloudwatch_log_groups", Metrics::get(&cw.groups_polling)),
        // One throttle counter per source: the same value under both names.
        monotonic(c"cloudwatch_throttles", Metrics::get(&metrics.throttles)),
        gauge(c"cloudwatch_max_lag_ms", max_lag),
    ]
}
