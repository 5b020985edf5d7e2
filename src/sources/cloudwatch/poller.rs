//! One log group's poller: FilterLogEvents over `[watermark - lag_window, end]`, page by
//! page, events already emitted skipped by id ([`Position`]).
//!
//! Pagination goes on while a `nextToken` comes back, through empty pages (CloudWatch
//! returns them while it searches). Each page's events go out in one batch carrying the
//! position after them; the poll's last page also moves the watermark. A group that is
//! behind (history, or a long stop) is read in chunks of time whose length adapts to
//! how many events they hold, so the ids kept in memory and in the checkpoint stay
//! bounded; a group that is caught up is polled every `poll_interval`. Throttling and
//! passing faults back off and never end the poller.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::types::FilteredLogEvent;
use tokio::sync::{mpsc, watch};

use super::bucket::TokenBucket;
use super::position::{Position, Seen};
use super::{CloudWatchMetrics, described};
use crate::aws::{Failure, backoff, classify, error_text};
use crate::decode::{DecodeOptions, Decoder, Location, LogEventOrigin};
use crate::event::AuditEvent;
use crate::sources::metrics::Metrics;
use crate::sources::{Batch, CloudWatchSpec, CloudWatchStart, SourceMessage};

/// The first chunk of time read by a poller that is behind.
const FIRST_CHUNK_MS: i64 = 5 * 60_000;
/// The shortest chunk.
const MIN_CHUNK_MS: i64 = 10_000;
/// The longest chunk (empty history is crossed in a few polls).
const MAX_CHUNK_MS: i64 = 10 * 365 * 86_400_000;
/// Events a chunk should hold: bounds the ids remembered while reading history.
const CHUNK_EVENTS: u64 = 5_000;
/// A position is sent at least this often even when no event came (the watermark
/// moves and old ids are forgotten in the checkpoint too).
const POSITION_EVERY: Duration = Duration::from_secs(30);
/// How often the "behind" warning may repeat, per group.
const WARN_EVERY: Duration = Duration::from_secs(60);
const BACKOFF_BASE: Duration = Duration::from_millis(250);
const BACKOFF_CAP: Duration = Duration::from_secs(30);

/// What every poller of a source shares.
#[derive(Debug)]
pub struct Shared {
    /// Index of the source in the host's list.
    pub source: usize,
    /// The spec.
    pub spec: CloudWatchSpec,
    /// The account the groups belong to.
    pub account: String,
    /// Decoding options.
    pub decode: DecodeOptions,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The FilterLogEvents bucket of the (account, region).
    pub bucket: Arc<TokenBucket>,
    /// The client.
    pub client: Client,
    /// The SDK configuration (for STS when describing errors).
    pub sdk: SdkConfig,
    /// Batches go here.
    pub out: mpsc::Sender<SourceMessage>,
    /// Stop once the group is read up to now.
    pub until_caught_up: bool,
}

/// How a poller ended.
#[derive(Debug)]
pub enum End {
    /// Shut down, or the host went away.
    Stopped,
    /// Read up to now (with `until_caught_up`).
    CaughtUp,
    /// A fault that retrying cannot fix, described for the operator.
    Failed(String),
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Polls `group` from its checkpoint (or from `start`) until shutdown, a permanent
/// failure, or (with `until_caught_up`) now.
pub async fn poll_group(
    shared: Arc<Shared>,
    group: Arc<str>,
    checkpoint: Option<String>,
    start: CloudWatchStart,
    mut shutdown: watch::Receiver<bool>,
) -> End {
    let position = match checkpoint.as_deref().map(Position::parse) {
        Some(Ok(position)) => position,
        Some(Err(e)) => {
            return End::Failed(format!(
                "log group {group:?}: the checkpointed position is {e}; move the checkpoint file away to start over"
            ));
        }
        None => Position::starting_at(match start {
            CloudWatchStart::Ago(secs) => {
                now_ms().saturating_sub(i64::try_from(secs.saturating_mul(1000)).unwrap_or(0))
            }
            CloudWatchStart::At(ms) => ms,
            CloudWatchStart::Retention => 0,
        }),
    };
    tracing::debug!(log_group = %group, watermark = position.watermark, ids = position.ids.len(), "Polling log group.");
    let mut poller = Poller {
        decoder: Decoder::new(shared.decode.clone()),
        shared,
        group,
        position,
        attempt: 0,
        chunk_ms: FIRST_CHUNK_MS,
        last_sent: Instant::now(),
        last_warned: None,
    };
    let interval = Duration::from_secs(poller.shared.spec.poll_interval_secs());
    loop {
        if *shutdown.borrow() {
            return End::Stopped;
        }
        let polled = tokio::select! {
            polled = poller.poll() => polled,
            _ = shutdown.changed() => return End::Stopped,
        };
        let caught_up = match polled {
            Ok(caught_up) => caught_up,
            Err(end) => return end,
        };
        if caught_up && poller.shared.until_caught_up {
            poller.shared.metrics.clear_lag(&poller.group);
            return End::CaughtUp;
        }
        if caught_up {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.changed() => return End::Stopped,
            }
        }
    }
}

struct Poller {
    shared: Arc<Shared>,
    group: Arc<str>,
    position: Position,
    decoder: Decoder,
    /// Consecutive failed calls, for backoff.
    attempt: u32,
    /// The time range read per poll while behind.
    chunk_ms: i64,
    /// When a position was last sent.
    last_sent: Instant,
    last_warned: Option<Instant>,
}

impl Poller {
    /// One poll: every page of `[window start, end]`. True when `end` was now (caught
    /// up).
    async fn poll(&mut self) -> Result<bool, End> {
        let spec = &self.shared.spec;
        let lag_ms = i64::try_from(spec.lag_window_secs.saturating_mul(1000)).unwrap_or(0);
        let now = now_ms();
        let start = self.position.window_start(lag_ms);
        let end = now
            .min(self.position.watermark.saturating_add(self.chunk_ms))
            .max(start);
        let caught_up = end >= now;
        let mut token: Option<String> = None;
        let mut emitted = 0u64;
        loop {
            let output = self.filter_log_events(start, end, token.as_deref()).await?;
            let next = output.next_token;
            let events = self.take(output.events.unwrap_or_default());
            emitted += events.len() as u64;
            // A token equal to the one sent would loop forever: AWS never does that, and
            // an emulator that does is treated as the end.
            let last_page = next.is_none() || next == token;
            if last_page {
                self.position.finish_poll(end, lag_ms);
            }
            let time_to_checkpoint = emitted > 0
                || self.last_sent.elapsed() >= POSITION_EVERY
                || (caught_up && self.shared.until_caught_up);
            if (!events.is_empty() || (last_page && time_to_checkpoint)) && !self.send(events).await
            {
                return Err(End::Stopped);
            }
            if last_page {
                break;
            }
            token = next;
        }
        self.after_poll(caught_up, emitted);
        Ok(caught_up)
    }

    /// One FilterLogEvents page, after a token from the bucket; throttling and passing
    /// faults are retried here.
    async fn filter_log_events(
        &mut self,
        start: i64,
        end: i64,
        token: Option<&str>,
    ) -> Result<aws_sdk_cloudwatchlogs::operation::filter_log_events::FilterLogEventsOutput, End>
    {
        let metrics = &self.shared.metrics;
        loop {
            self.shared.bucket.acquire().await;
            CloudWatchMetrics::add(&metrics.cloudwatch.api_calls, 1);
            let spec = &self.shared.spec;
            // AWS ignores `interleaved` now (always interleaved); emulators still group
            // events stream by stream without it.
            #[allow(deprecated, reason = "still needed by emulators")]
            let mut request = self
                .shared
                .client
                .filter_log_events()
                .log_group_name(&*self.group)
                .start_time(start)
                .end_time(end)
                .interleaved(true)
                .limit(spec.page_size)
                .set_next_token(token.map(str::to_string));
            // Sent to cut the work AWS does; the streams are filtered here again, as not
            // every implementation of the API honours it.
            if !spec.stream_prefix.is_empty() {
                request = request.log_stream_name_prefix(&spec.stream_prefix);
            }
            let error = match request.send().await {
                Ok(output) => {
                    self.attempt = 0;
                    CloudWatchMetrics::add(&metrics.cloudwatch.pages, 1);
                    return Ok(output);
                }
                Err(e) => e,
            };
            let failure = classify(&error);
            match failure {
                Failure::Throttled | Failure::Transient => {
                    let throttled = failure == Failure::Throttled;
                    if throttled {
                        metrics.add(&metrics.throttles, 1);
                        self.shared.bucket.throttled();
                    } else {
                        metrics.add(&metrics.transient_errors, 1);
                    }
                    let wait = backoff(self.attempt, BACKOFF_BASE, BACKOFF_CAP);
                    self.attempt = self.attempt.saturating_add(1);
                    if self.attempt == 1 || self.attempt.is_power_of_two() {
                        tracing::warn!(log_group = %self.group, attempt = self.attempt, wait_ms = wait.as_millis() as u64, "FilterLogEvents {}: {}; retrying", if throttled { "throttled" } else { "failed" }, error_text(&error));
                    }
                    tokio::time::sleep(wait).await;
                }
                failure => {
                    let what = format!("log group {:?}", self.group);
                    return Err(End::Failed(
                        described(&self.shared.sdk, &what, "FilterLogEvents", failure, &error)
                            .await,
                    ));
                }
            }
        }
    }

    /// Decodes the page's events that were never handed on, in order.
    fn take(&mut self, page: Vec<FilteredLogEvent>) -> Vec<AuditEvent> {
        let metrics = &self.shared.metrics;
        let prefix = self.shared.spec.stream_prefix.as_str();
        let mut events = Vec::new();
        for log_event in page {
            let timestamp = log_event.timestamp.unwrap_or(0);
            let stream = log_event.log_stream_name.unwrap_or_default();
            // Every real event has an id; without one, its stream, time and ingestion
            // time stand in, so it is still emitted once.
            let id = log_event.event_id.unwrap_or_else(|| {
                format!(
                    "{stream}:{timestamp}:{}",
                    log_event.ingestion_time.unwrap_or(0)
                )
            });
            match self.position.observe(&id, timestamp) {
                Seen::Duplicate => {
                    CloudWatchMetrics::add(&metrics.cloudwatch.duplicates_suppressed, 1);
                    continue;
                }
                Seen::BeforeStart => continue,
                Seen::Late => {
                    CloudWatchMetrics::add(&metrics.cloudwatch.late_events, 1);
                    tracing::debug!(log_group = %self.group, log_stream = %stream, event_id = %id, timestamp, "Late-ingested event caught in the lag window.");
                }
                Seen::New => {}
            }
            if !stream.starts_with(prefix) {
                CloudWatchMetrics::add(&metrics.cloudwatch.other_streams, 1);
                continue;
            }
            CloudWatchMetrics::add(&metrics.cloudwatch.log_events, 1);
            let mut location = Location::new(format!("cloudwatch:{}/{stream}", self.group));
            location.log_event = Some((0, id));
            let origin = LogEventOrigin {
                log_group: &self.group,
                log_stream: &stream,
                account: Some(self.shared.account.as_str()).filter(|a| *a != "unknown"),
            };
            self.decoder
                .push_log_event(log_event.message.unwrap_or_default(), origin, &location);
            while let Some(result) = self.decoder.pop() {
                if let Ok(decoded) = result {
                    events.push(decoded.event);
                }
            }
        }
        metrics.merge_decode(&mut self.decoder);
        events
    }

    async fn send(&mut self, events: Vec<AuditEvent>) -> bool {
        self.last_sent = Instant::now();
        let batch = Batch {
            source: self.shared.source,
            partition: self.group.clone(),
            events,
            position: Some(self.position.to_text()),
            // A page is at most `page_size` events; the poller's time chunks bound it.
            budget: None,
        };
        self.shared
            .out
            .send(SourceMessage::Batch(batch))
            .await
            .is_ok()
    }

    /// Lag, chunk size, and the warning when polling cannot keep up.
    fn after_poll(&mut self, caught_up: bool, emitted: u64) {
        let lag = now_ms().saturating_sub(self.position.watermark).max(0);
        self.shared.metrics.set_lag(&self.group, lag);
        if !caught_up {
            if emitted < CHUNK_EVENTS / 4 {
                self.chunk_ms = self.chunk_ms.saturating_mul(4).min(MAX_CHUNK_MS);
            } else if emitted > CHUNK_EVENTS * 4 {
                self.chunk_ms = (self.chunk_ms / 2).max(MIN_CHUNK_MS);
            }
        }
        let interval_ms = self.shared.spec.poll_interval_secs().saturating_mul(3000) as i64;
        // Behind while reading events, or a poll that took that long (throttling); not
        // while crossing empty years of history.
        if lag > interval_ms.max(60_000)
            && (emitted > 0 || caught_up)
            && self.last_warned.is_none_or(|t| t.elapsed() >= WARN_EVERY)
        {
            self.last_warned = Some(Instant::now());
            tracing::warn!(
                log_group = %self.group,
                lag_secs = lag / 1000,
                throttles = Metrics::get(&self.shared.metrics.throttles),
                "Polling is {} s behind now (reading history, or FilterLogEvents throttled: its quota of {} calls/s is shared by every log group of account {} in this region).",
                lag / 1000,
                self.shared.bucket.rate(),
                self.shared.account,
            );
        }
    }
}
