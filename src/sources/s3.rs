//! The S3 history source: months of audit logs as CloudWatch Logs exports (gzip JSON
//! lines) or Firehose deliveries of the subscription (gzip envelopes), recognised by
//! content, read object by object in key order, then the source ends.
//!
//! The checkpoint is the key of the last object whose events were all handed on, so a
//! restart goes on with the next object (the one in flight is read again from its
//! start, nothing is lost). Custom endpoints (moto, MinIO) use path-style addressing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use tokio::sync::{mpsc, watch};

use crate::aws::{Failure, backoff, classify, error_text};
use crate::decode::{DecodeErrorKind, DecodeOptions, DecodeStats, Input, InputDecoder};
use crate::event::AuditEvent;
use crate::sources::budget::Budget;
use crate::sources::metrics::Metrics;
use crate::sources::spec::S3Spec;
use crate::sources::{Batch, SourceMessage};

/// The partition name of an S3 source's position.
pub const PARTITION: &str = "objects";
/// Events per batch sent to the host.
const BATCH_EVENTS: usize = 512;

/// Everything [`run`] needs from its host.
#[derive(Debug)]
pub struct Context {
    /// Index of this source in the host's list.
    pub source: usize,
    /// The spec.
    pub spec: S3Spec,
    /// The SDK configuration.
    pub sdk: SdkConfig,
    /// Decoding options.
    pub decode: DecodeOptions,
    /// Positions saved by a previous run.
    pub checkpoints: BTreeMap<String, String>,
    /// Batches go here.
    pub out: mpsc::Sender<SourceMessage>,
    /// Turns true when the host shuts down.
    pub shutdown: watch::Receiver<bool>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The process's memory budget.
    pub budget: Budget,
}

/// An S3 client; path-style addressing when an endpoint is configured (emulators).
pub fn client(sdk: &SdkConfig) -> Client {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(sdk.endpoint_url().is_some())
        .build();
    Client::from_conf(config)
}

/// Reads every object after the checkpoint, in key order, then ends.
pub async fn run(mut ctx: Context) {
    let result = read_all(&mut ctx).await;
    let message = match result {
        Ok(true) => SourceMessage::Ended { source: ctx.source },
        Ok(false) => return,
        Err(error) => {
            tracing::error!(bucket = %ctx.spec.bucket, "S3 source stopped: {error}");
            SourceMessage::Failed {
                source: ctx.source,
                error,
            }
        }
    };
    let _ = ctx.out.send(message).await;
}

/// True when every object was read; false when the host went away.
async fn read_all(ctx: &mut Context) -> Result<bool, String> {
    let client = client(&ctx.sdk);
    let mut after = ctx
        .checkpoints
        .get(PARTITION)
        .cloned()
        .or_else(|| ctx.spec.start_after.clone());
    let mut decode = ctx.decode.clone();
    if decode.region.is_none() {
        decode.region = ctx.sdk.region().map(|r| r.to_string());
    }
    let partition: Arc<str> = PARTITION.into();
    tracing::info!(bucket = %ctx.spec.bucket, prefix = %ctx.spec.prefix, after = after.as_deref().unwrap_or(""), "Reading audit logs from S3.");
    loop {
        let keys = list_after(&client, &ctx.spec, after.as_deref(), &ctx.metrics).await?;
        if keys.is_empty() {
            return Ok(true);
        }
        for key in keys {
            if *ctx.shutdown.borrow() {
                return Ok(false);
            }
            let name = format!("s3://{}/{key}", ctx.spec.bucket);
            let body = match get_object(&client, &ctx.spec, &key, &ctx.metrics).await? {
                Ok(body) => body,
                Err(size) => {
                    tracing::error!(
                        object = %name,
                        size,
                        "Skipped an object of {size} bytes: objects are read whole and may hold at most {MAX_OBJECT_BYTES} bytes. Split it, or replay a local copy with `eksaudit replay FILE` (files are streamed, any size)."
                    );
                    let mut refused = DecodeStats::default();
                    refused.record_error(DecodeErrorKind::DocumentTooLarge);
                    ctx.metrics.add_decode_stats(&refused);
                    if !send(ctx, &partition, Vec::new(), Some(key.clone())).await {
                        return Ok(false);
                    }
                    after = Some(key);
                    continue;
                }
            };
            ctx.metrics.add(&ctx.metrics.records, 1);
            ctx.metrics
                .add(&ctx.metrics.record_bytes, body.len() as u64);
            // Streamed, not inflated whole: an export object may hold gigabytes of
            // JSON; memory holds its compressed bytes and one batch of events.
            let reader = Input::Reader(name, Box::new(std::io::Cursor::new(body)));
            let mut input = InputDecoder::new(vec![reader], decode.clone());
            let mut events = Vec::new();
            loop {
                let next = input.next();
                let end = next.is_none();
                if let Some(Ok(decoded)) = next {
                    events.push(decoded.event);
                }
                if events.len() < BATCH_EVENTS && !end {
                    continue;
                }
                let position = end.then(|| key.clone());
                if !send(ctx, &partition, std::mem::take(&mut events), position).await {
                    return Ok(false);
                }
                if end {
                    break;
                }
            }
            ctx.metrics.add_decode_stats(&input.stats());
            after = Some(key);
        }
    }
}

/// Up to 1,000 keys after `after` under the prefix, in key order.
/// Sends a batch of an object's events (`position`: the object's key, on its last
/// batch), holding budget for them; false when the host is gone or stopping.
async fn send(
    ctx: &Context,
    partition: &Arc<str>,
    events: Vec<AuditEvent>,
    position: Option<String>,
) -> bool {
    let bytes = events.iter().map(|e| e.payload().len()).sum();
    let Some(permit) = ctx.budget.acquire(bytes).await else {
        return false;
    };
    let batch = Batch {
        source: ctx.source,
        partition: partition.clone(),
        events,
        position,
        budget: Some(permit),
    };
    ctx.out.send(SourceMessage::Batch(batch)).await.is_ok()
}

async fn list_after(
    client: &Client,
    spec: &S3Spec,
    after: Option<&str>,
    metrics: &Metrics,
) -> Result<Vec<String>, String> {
    let mut attempt = 0u32;
    loop {
        let mut request = client
            .list_objects_v2()
            .bucket(&spec.bucket)
            .prefix(&spec.prefix);
        if let Some(after) = after {
            request = request.start_after(after);
        }
        match request.send().await {
            Ok(out) => {
                return Ok(out
                    .contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string))
                    .collect());
            }
            Err(e) => {
                retry_or_fail(
                    &mut attempt,
                    classify(&e),
                    "ListObjectsV2",
                    &spec.bucket,
                    &error_text(&e),
                    metrics,
                )
                .await?
            }
        }
    }
}

/// Largest object read (its compressed size: it is held in memory while it is decoded).
pub const MAX_OBJECT_BYTES: usize = 512 * 1024 * 1024;

/// An object's bytes (`Ok(Err(size))`: too large to read, see [`MAX_OBJECT_BYTES`]).
async fn get_object(
    client: &Client,
    spec: &S3Spec,
    key: &str,
    metrics: &Metrics,
) -> Result<Result<Vec<u8>, i64>, String> {
    let mut attempt = 0u32;
    loop {
        let result = client
            .get_object()
            .bucket(&spec.bucket)
            .key(key)
            .send()
            .await;
        match result {
            Ok(out) if out.content_length().unwrap_or(0) > MAX_OBJECT_BYTES as i64 => {
                return Ok(Err(out.content_length().unwrap_or(0)));
            }
            Ok(out) => match out.body.collect().await {
                Ok(bytes) => return Ok(Ok(bytes.into_bytes().to_vec())),
                Err(e) => {
                    retry_or_fail(
                        &mut attempt,
                        Failure::Transient,
                        "GetObject",
                        key,
                        &e.to_string(),
                        metrics,
                    )
                    .await?
                }
            },
            Err(e) => {
                retry_or_fail(
                    &mut attempt,
                    classify(&e),
                    "GetObject",
                    key,
                    &error_text(&e),
                    metrics,
                )
                .await?
            }
        }
    }
}

async fn retry_or_fail(
    attempt: &mut u32,
    failure: Failure,
    action: &str,
    what: &str,
    text: &str,
    metrics: &Metrics,
) -> Result<(), String> {
    match failure {
        Failure::Throttled | Failure::Transient => {
            metrics.count_retried(failure);
            let wait = backoff(
                *attempt,
                Duration::from_millis(250),
                Duration::from_secs(10),
            );
            *attempt = attempt.saturating_add(1);
            tracing::warn!("S3 {action} on {what} failed ({text}); retrying in {wait:?}.");
            tokio::time::sleep(wait).await;
            Ok(())
        }
        Failure::AccessDenied => Err(format!(
            "S3 {action} on {what} failed: {text}; the caller needs s3:{} on the bucket",
            if action == "GetObject" {
                "GetObject"
            } else {
                "ListBucket"
            }
        )),
        _ => Err(format!("S3 {action} on {what} failed: {text}")),
    }
}
