//! One shard's reader: GetRecords in a loop, records decoded into batches.
//!
//! Pacing: a shard serves 5 GetRecords calls per second, so calls are at least
//! [`MIN_CALL_INTERVAL`] apart; a shard that returned records and is behind is called
//! again at once after that, an idle one backs off up to [`MAX_IDLE_WAIT`]. Throttling
//! and passing faults back off exponentially with jitter and never end the reader; an
//! expired iterator is replaced by one after the last record read. The reader ends at
//! SHARD_END (no next iterator), after sending a last batch whose position is
//! [`SHARD_END`], so the checkpoint says the shard is done only once its events were
//! handed on.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::primitives::DateTime;
use aws_sdk_kinesis::types::{
    Record, ShardIteratorType, StartingPosition, SubscribeToShardEventStream,
};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

use super::{Shared, Stream, described};
use crate::aws::{Failure, backoff, classify};
use crate::checkpoint::SHARD_END;
use crate::decode::{Decoder, Location};
use crate::event::AuditEvent;
use crate::sources::{Batch, SourceMessage, StartPosition};

/// Largest batch of decoded events sent at once (a GetRecords response may hold
/// hundreds of MB once inflated; it goes out in chunks, each waiting for budget).
pub const MAX_CHUNK_BYTES: usize = 4 * 1024 * 1024;

/// At most 5 GetRecords calls per second per shard (the service's limit).
pub const MIN_CALL_INTERVAL: Duration = Duration::from_millis(200);
/// The longest wait between two calls on an idle shard.
pub const MAX_IDLE_WAIT: Duration = Duration::from_secs(1);
const BACKOFF_BASE: Duration = Duration::from_millis(250);
const BACKOFF_CAP: Duration = Duration::from_secs(10);

/// Where a shard reader starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShardStart {
    /// After this sequence number (a checkpoint).
    After(String),
    /// A position of the spec (or TRIM_HORIZON for a child shard).
    At(StartPosition),
}

/// How a shard reader ended.
#[derive(Debug)]
pub enum ShardEnd {
    /// The shard is closed and was read to its end.
    Closed,
    /// The host went away or the reader was told to stop.
    Stopped,
    /// A fault that retrying cannot fix, described for the operator.
    Failed(String),
}

/// Reads `shard` from `start` until its end, sending batches to `out`.
pub async fn read_shard(
    client: Client,
    stream: Arc<Stream>,
    shard: Arc<str>,
    start: ShardStart,
    shared: Arc<Shared>,
    out: mpsc::Sender<SourceMessage>,
) -> ShardEnd {
    let mut reader = Reader {
        client,
        stream,
        shard,
        shared,
        out,
        last_read: None,
        attempt: 0,
    };
    let mut decoder = Decoder::new(reader.shared.decode.clone());
    if let Some(consumer) = reader.stream.consumer_arn.clone() {
        return reader.subscribe_loop(&mut decoder, &consumer, start).await;
    }
    let mut iterator = match reader.iterator(&start).await {
        Ok(Some(iterator)) => iterator,
        Ok(None) => return reader.closed(Vec::new()).await,
        Err(end) => return end,
    };
    let mut idle_wait = MIN_CALL_INTERVAL;
    loop {
        let called_at = Instant::now();
        reader
            .shared
            .metrics
            .add(&reader.shared.metrics.get_records_calls, 1);
        let response = reader
            .client
            .get_records()
            .shard_iterator(&iterator)
            .limit(reader.stream.max_records)
            .send()
            .await;
        let output = match response {
            Ok(output) => output,
            Err(e) => match classify(&e) {
                Failure::ExpiredIterator => {
                    reader
                        .shared
                        .metrics
                        .add(&reader.shared.metrics.expired_iterators, 1);
                    tracing::info!(stream = %reader.stream.name, shard = %reader.shard, "Shard iterator expired; getting a new one after the last record read.");
                    let restart = match &reader.last_read {
                        Some(seq) => ShardStart::After(seq.clone()),
                        None => start.clone(),
                    };
                    match reader.iterator(&restart).await {
                        Ok(Some(it)) => iterator = it,
                        Ok(None) => return reader.closed(Vec::new()).await,
                        Err(end) => return end,
                    }
                    continue;
                }
                failure => {
                    if let Err(end) = reader.retry_or_fail(failure, "GetRecords", &e).await {
                        return end;
                    }
                    continue;
                }
            },
        };
        reader.attempt = 0;
        let records = output.records();
        let Some(events) = reader.decode(&mut decoder, records).await else {
            return ShardEnd::Stopped;
        };
        if let Some(lag) = output.millis_behind_latest() {
            reader.shared.metrics.set_lag(&reader.shard, lag);
        }
        let Some(next) = output.next_shard_iterator() else {
            return reader.closed(events).await;
        };
        if let Some(position) = reader.last_read.clone().filter(|_| !records.is_empty())
            && !reader.send(events, position).await
        {
            return ShardEnd::Stopped;
        }
        iterator = next.to_string();
        let behind = output.millis_behind_latest().unwrap_or(0) > 0;
        idle_wait = if !records.is_empty() && behind {
            MIN_CALL_INTERVAL
        } else if records.is_empty() {
            (idle_wait * 2).min(MAX_IDLE_WAIT)
        } else {
            MIN_CALL_INTERVAL * 2
        };
        sleep_until(called_at + idle_wait.max(MIN_CALL_INTERVAL)).await;
    }
}

struct Reader {
    client: Client,
    stream: Arc<Stream>,
    shard: Arc<str>,
    shared: Arc<Shared>,
    out: mpsc::Sender<SourceMessage>,
    /// Sequence number of the last record read.
    last_read: Option<String>,
    /// Consecutive failed calls, for backoff.
    attempt: u32,
}

impl Reader {
    /// Decodes records into events (errors are counted and logged by the decoder, with
    /// stream, shard and sequence number); remembers the last sequence number read.
    /// Whenever [`MAX_CHUNK_BYTES`] of events pile up they are sent on at once, without
    /// a position, so memory stays bounded however much one response inflates to; the
    /// rest is returned for the caller to send with the position. `None` when the host
    /// is gone.
    async fn decode(
        &mut self,
        decoder: &mut Decoder,
        records: &[Record],
    ) -> Option<Vec<AuditEvent>> {
        let mut events = Vec::new();
        let mut pending_bytes = 0usize;
        let mut bytes = 0u64;
        for record in records {
            let data = record.data().as_ref();
            bytes += data.len() as u64;
            let sequence = record.sequence_number();
            let location = Location::new(format!(
                "kinesis:{}/{}/{}",
                self.stream.name, self.shard, sequence
            ));
            decoder.push_kinesis_record(data, &location, &self.shard, sequence);
            while let Some(result) = decoder.pop() {
                if let Ok(decoded) = result {
                    pending_bytes += decoded.event.payload().len();
                    events.push(decoded.event);
                }
            }
            if pending_bytes >= MAX_CHUNK_BYTES {
                pending_bytes = 0;
                if !self.send_chunk(std::mem::take(&mut events), None).await {
                    return None;
                }
            }
        }
        let metrics = &self.shared.metrics;
        metrics.add(&metrics.records, records.len() as u64);
        metrics.add(&metrics.record_bytes, bytes);
        metrics.merge_decode(decoder);
        if let Some(last) = records.last() {
            self.last_read = Some(last.sequence_number().to_string());
        }
        Some(events)
    }

    /// Enhanced fan-out: SubscribeToShard, events pushed as they arrive; a new
    /// subscription after each one ends (every 5 minutes) or fails, from the last
    /// position read.
    async fn subscribe_loop(
        &mut self,
        decoder: &mut Decoder,
        consumer: &str,
        start: ShardStart,
    ) -> ShardEnd {
        let mut position = start;
        loop {
            let request = self
                .client
                .subscribe_to_shard()
                .consumer_arn(consumer)
                .shard_id(&*self.shard)
                .starting_position(starting_position(&position));
            let mut stream = match request.send().await {
                Ok(output) => {
                    self.attempt = 0;
                    output.event_stream
                }
                Err(e) => {
                    if let Err(end) = self
                        .retry_or_fail(classify(&e), "SubscribeToShard", &e)
                        .await
                    {
                        return end;
                    }
                    continue;
                }
            };
            loop {
                match stream.recv().await {
                    Ok(Some(SubscribeToShardEventStream::SubscribeToShardEvent(event))) => {
                        let records = event.records();
                        let Some(events) = self.decode(decoder, records).await else {
                            return ShardEnd::Stopped;
                        };
                        self.shared
                            .metrics
                            .set_lag(&self.shard, event.millis_behind_latest());
                        let continuation = event.continuation_sequence_number();
                        if continuation.is_empty() {
                            return self.closed(events).await;
                        }
                        if let Some(last) = self.last_read.clone().filter(|_| !records.is_empty())
                            && !self.send(events, last).await
                        {
                            return ShardEnd::Stopped;
                        }
                        position = ShardStart::After(continuation.to_string());
                    }
                    Ok(Some(_)) => {}
                    // The subscription's 5 minutes are over: subscribe again.
                    Ok(None) => break,
                    Err(e) => {
                        let code = e
                            .as_service_error()
                            .and_then(|s| s.code())
                            .map(str::to_string);
                        let failure = crate::aws::classify_code(code.as_deref(), None);
                        let text = format!("{e}");
                        if matches!(failure, Failure::NotFound | Failure::AccessDenied) {
                            return ShardEnd::Failed(format!(
                                "Kinesis stream {:?}: SubscribeToShard on {} failed: {text}; the caller needs kinesis:SubscribeToShard on the consumer {consumer}",
                                self.stream.name, self.shard
                            ));
                        }
                        let wait = backoff(self.attempt, BACKOFF_BASE, BACKOFF_CAP);
                        self.attempt = self.attempt.saturating_add(1);
                        self.shared
                            .metrics
                            .add(&self.shared.metrics.transient_errors, 1);
                        tracing::warn!(stream = %self.stream.name, shard = %self.shard, "SubscribeToShard event stream failed ({text}); subscribing again in {wait:?}.");
                        tokio::time::sleep(wait).await;
                        break;
                    }
                }
            }
        }
    }

    /// A shard iterator for `start`; `None` when the shard has nothing more (closed).
    async fn iterator(&mut self, start: &ShardStart) -> Result<Option<String>, ShardEnd> {
        loop {
            let mut request = self.client.get_shard_iterator().shard_id(&*self.shard);
            request = self.stream.name_request(request);
            request = match start {
                ShardStart::After(seq) => request
                    .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                    .starting_sequence_number(seq),
                ShardStart::At(StartPosition::TrimHorizon) => {
                    request.shard_iterator_type(ShardIteratorType::TrimHorizon)
                }
                ShardStart::At(StartPosition::Latest) => {
                    request.shard_iterator_type(ShardIteratorType::Latest)
                }
                ShardStart::At(StartPosition::AtTimestamp(ns)) => request
                    .shard_iterator_type(ShardIteratorType::AtTimestamp)
                    .timestamp(timestamp(*ns)),
            };
            match request.send().await {
                Ok(output) => {
                    self.attempt = 0;
                    return Ok(output.shard_iterator().map(str::to_string));
                }
                Err(e) => {
                    self.retry_or_fail(classify(&e), "GetShardIterator", &e)
                        .await?
                }
            }
        }
    }

    /// Waits before a retry, or turns a permanent failure into the reader's end.
    async fn retry_or_fail<E>(
        &mut self,
        failure: Failure,
        action: &str,
        error: &aws_sdk_kinesis::error::SdkError<E, aws_sdk_kinesis::config::http::HttpResponse>,
    ) -> Result<(), ShardEnd>
    where
        E: aws_sdk_kinesis::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        let metrics = &self.shared.metrics;
        match failure {
            Failure::Throttled | Failure::Transient | Failure::ExpiredIterator => {
                let throttled = failure == Failure::Throttled;
                metrics.count_retried(failure);
                let wait = backoff(self.attempt, BACKOFF_BASE, BACKOFF_CAP);
                self.attempt = self.attempt.saturating_add(1);
                let text = crate::aws::error_text(error);
                if self.attempt == 1 || self.attempt.is_power_of_two() {
                    tracing::warn!(stream = %self.stream.name, shard = %self.shard, attempt = self.attempt, wait_ms = wait.as_millis() as u64, "{action} {}: {text}; retrying", if throttled { "throttled" } else { "failed" });
                }
                tokio::time::sleep(wait).await;
                Ok(())
            }
            failure => Err(ShardEnd::Failed(
                described(&self.stream, &self.shared, action, failure, error).await,
            )),
        }
    }

    /// Sends `events` in chunks of at most [`MAX_CHUNK_BYTES`], each holding its bytes
    /// of the process's memory budget until the host drops it; only the last chunk
    /// carries `position`, so the checkpoint moves once all of them were handed on.
    async fn send(&self, events: Vec<AuditEvent>, position: String) -> bool {
        let mut chunks = chunk_by_bytes(events, MAX_CHUNK_BYTES);
        let last = chunks.len().saturating_sub(1);
        for (i, (events, _)) in chunks.drain(..).enumerate() {
            if !self
                .send_chunk(events, (i == last).then(|| position.clone()))
                .await
            {
                return false;
            }
        }
        true
    }

    /// Sends one chunk once its bytes fit in the memory budget.
    async fn send_chunk(&self, events: Vec<AuditEvent>, position: Option<String>) -> bool {
        let bytes = events.iter().map(|e| e.payload().len()).sum();
        let Some(permit) = self.shared.budget.acquire(bytes).await else {
            return false;
        };
        let batch = Batch {
            source: self.shared.source,
            partition: self.shard.clone(),
            events,
            position,
            budget: Some(permit),
        };
        self.out.send(SourceMessage::Batch(batch)).await.is_ok()
    }

    /// The shard is closed: the last events, then SHARD_END.
    async fn closed(&self, events: Vec<AuditEvent>) -> ShardEnd {
        tracing::info!(stream = %self.stream.name, shard = %self.shard, "Shard read to its end (SHARD_END).");
        self.shared.metrics.clear_lag(&self.shard);
        if self.send(events, SHARD_END.to_string()).await {
            ShardEnd::Closed
        } else {
            ShardEnd::Stopped
        }
    }
}

/// The SubscribeToShard starting position of `start`.
fn starting_position(start: &ShardStart) -> StartingPosition {
    let builder = StartingPosition::builder();
    let builder = match start {
        ShardStart::After(seq) => builder
            .r#type(ShardIteratorType::AfterSequenceNumber)
            .sequence_number(seq),
        ShardStart::At(StartPosition::TrimHorizon) => {
            builder.r#type(ShardIteratorType::TrimHorizon)
        }
        ShardStart::At(StartPosition::Latest) => builder.r#type(ShardIteratorType::Latest),
        ShardStart::At(StartPosition::AtTimestamp(ns)) => builder
            .r#type(ShardIteratorType::AtTimestamp)
            .timestamp(timestamp(*ns)),
    };
    // `type` is set on every path above, so building cannot fail; fall back to the
    // oldest record rather than panic.
    builder.build().unwrap_or_else(|_| {
        StartingPosition::builder()
            .r#type(ShardIteratorType::TrimHorizon)
            .build()
            .unwrap_or_else(|_| unreachable!("type is set"))
    })
}

fn timestamp(ns: u64) -> DateTime {
    DateTime::from_secs_and_nanos((ns / 1_000_000_000) as i64, (ns % 1_000_000_000) as u32)
}

/// Splits events into chunks of about `max_bytes` of payload (at least one event each;
/// always at least one chunk, maybe empty, so a position can travel).
fn chunk_by_bytes(events: Vec<AuditEvent>, max_bytes: usize) -> Vec<(Vec<AuditEvent>, usize)> {
    let mut chunks = vec![(Vec::new(), 0usize)];
    for event in events {
        let size = event.payload().len();
        let fits = chunks
            .last()
            .is_some_and(|(c, bytes)| c.is_empty() || bytes + size <= max_bytes);
        if !fits {
            chunks.push((Vec::new(), 0));
        }
        if let Some((chunk, bytes)) = chunks.last_mut() {
            chunk.push(event);
            *bytes += size;
        }
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_respect_the_byte_limit() {
        let event = |n: usize| AuditEvent::new(vec![b' '; n], 0);
        let chunks = chunk_by_bytes(vec![event(3), event(3), event(3), event(10), event(1)], 6);
        let sizes: Vec<Vec<usize>> = chunks
            .iter()
            .map(|(c, _)| c.iter().map(|e| e.payload().len()).collect())
            .collect();
        assert_eq!(sizes, vec![vec![3, 3], vec![3], vec![10], vec![1]]);
        assert_eq!(chunk_by_bytes(Vec::new(), 6).len(), 1);
    }
}
