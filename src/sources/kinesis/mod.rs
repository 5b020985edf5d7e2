//! The Kinesis source: a data stream fed by a CloudWatch Logs subscription filter, each
//! record a gzip envelope of audit events.
//!
//! The coordinator ([`run`]) lists the shards (at start, then every
//! `list_shards_interval` and whenever a shard ends), starts one reader per shard it
//! may read ([`shard::read_shard`]), and learns from the host which positions were
//! committed. A shard is read only once every parent it has in the stream is committed
//! at SHARD_END, so events of a key stay in order across a split or a merge. Without a
//! lease table the process reads every shard and the host keeps the checkpoints; with
//! one ([`lease`]) replicas share the shards through DynamoDB leases, KCL-style, and the
//! checkpoints live in the leases.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::config::retry::RetryConfig;
use aws_sdk_kinesis::config::timeout::TimeoutConfig;
use aws_sdk_kinesis::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kinesis::types::Shard;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::aws::{Failure, backoff, classify, error_text};
use crate::checkpoint::SHARD_END;
use crate::decode::DecodeOptions;
use crate::sources::metrics::Metrics;
use crate::sources::{Commit, KinesisSpec, SourceMessage, StartPosition};

mod efo;
pub mod lease;
pub mod shard;

use shard::{ShardEnd, ShardStart, read_shard};

/// The stream being read, and how calls name it.
#[derive(Debug)]
pub struct Stream {
    /// The stream's name.
    pub name: String,
    /// Its ARN, when the spec gave one (calls then name it by ARN).
    pub arn: Option<String>,
    /// The region calls go to.
    pub region: String,
    /// GetRecords `Limit`.
    pub max_records: i32,
    /// The enhanced fan-out consumer's ARN: records are pushed with SubscribeToShard
    /// instead of polled.
    pub consumer_arn: Option<String>,
}

impl Stream {
    fn name_request(
        &self,
        request: aws_sdk_kinesis::operation::get_shard_iterator::builders::GetShardIteratorFluentBuilder,
    ) -> aws_sdk_kinesis::operation::get_shard_iterator::builders::GetShardIteratorFluentBuilder
    {
        match &self.arn {
            Some(arn) => request.stream_arn(arn),
            None => request.stream_name(&self.name),
        }
    }

    /// The resource an IAM policy must name for this stream.
    fn resource(&self) -> String {
        self.arn.clone().unwrap_or_else(|| {
            format!(
                "arn:aws:kinesis:{}:<account>:stream/{}",
                self.region, self.name
            )
        })
    }
}

/// What the coordinator and its shard readers share.
#[derive(Debug)]
pub struct Shared {
    /// Index of this source in the host's list.
    pub source: usize,
    /// Decoding options.
    pub decode: DecodeOptions,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The SDK configuration (for STS when describing errors).
    pub sdk: SdkConfig,
    /// The process's memory budget for decoded events in flight.
    pub budget: crate::sources::budget::Budget,
}

/// Everything [`run`] needs from its host.
#[derive(Debug)]
pub struct Context {
    /// Index of this source in the host's list.
    pub source: usize,
    /// The spec.
    pub spec: KinesisSpec,
    /// The SDK configuration (region, credentials, role).
    pub sdk: SdkConfig,
    /// Decoding options.
    pub decode: DecodeOptions,
    /// Positions the host checkpointed before (without a lease table).
    pub checkpoints: BTreeMap<String, String>,
    /// Batches go here.
    pub out: mpsc::Sender<SourceMessage>,
    /// Positions the host committed come back here.
    pub commits: mpsc::UnboundedReceiver<Commit>,
    /// Turns true when the host shuts down.
    pub shutdown: watch::Receiver<bool>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// This process's name in leases.
    pub worker_id: String,
    /// The process's memory budget for decoded events in flight.
    pub budget: crate::sources::budget::Budget,
}

/// A Kinesis client for reading: no SDK retries (the readers own backoff, so throttling
/// is seen and counted), and a bound on each attempt.
pub fn client(sdk: &SdkConfig) -> Client {
    let config = aws_sdk_kinesis::config::Builder::from(sdk)
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(Duration::from_secs(30))
                .build(),
        )
        .build();
    Client::from_conf(config)
}

/// Describes a failure that retrying cannot fix: the stream, the action and the IAM
/// permission it needs, who the caller is, and what AWS said.
pub async fn described<E>(
    stream: &Stream,
    shared: &Shared,
    action: &str,
    failure: Failure,
    error: &SdkError<E, aws_sdk_kinesis::config::http::HttpResponse>,
) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    // What to do comes first: Falco shows only the first 255 bytes of an open error.
    let identity = crate::aws::caller_identity(&shared.sdk).await;
    let text = error_text(error);
    let text = text.trim_end_matches('.');
    let name = &stream.name;
    let region = &stream.region;
    match failure {
        Failure::NotFound => format!(
            "Kinesis stream {name:?} not found in {region} for {identity}: check name, region, account (another account needs role_arn) [{action}: {text}]"
        ),
        Failure::AccessDenied => format!(
            "Kinesis stream {name:?} in {region}: {identity} needs kinesis:{action} on {} (deploy/iam/kinesis-reader.json) [{text}]",
            stream.resource()
        ),
        _ => format!("Kinesis stream {name:?} in {region}: {action} failed for {identity}: {text}"),
    }
}

/// Checks, before reading starts, that the stream exists and the caller may describe
/// it, so a wrong name, region, account or missing credentials fail at once with a
/// clear message instead of retrying forever. Passing faults only warn: the readers
/// retry them.
pub async fn preflight(spec: &KinesisSpec, sdk: &SdkConfig) -> Result<(), String> {
    let region = sdk.region().map(|r| r.to_string());
    let Some(region) = region else {
        return Err(format!(
            "Kinesis stream {:?}: no AWS region: add ?region=<region> to the source, or set AWS_REGION",
            spec.stream_name
        ));
    };
    let stream = Stream {
        name: spec.stream_name.clone(),
        arn: spec.stream_arn.clone(),
        region,
        max_records: spec.max_records,
        consumer_arn: None,
    };
    let shared = Shared {
        source: 0,
        decode: DecodeOptions::default(),
        metrics: Arc::default(),
        sdk: sdk.clone(),
        budget: Default::default(),
    };
    let request = client(sdk).describe_stream_summary();
    let request = match &stream.arn {
        Some(arn) => request.stream_arn(arn),
        None => request.stream_name(&stream.name),
    };
    match request.send().await {
        Ok(_) => Ok(()),
        Err(e @ SdkError::DispatchFailure(_)) if error_text(&e).contains("credentials") => {
            Err(format!(
                "Kinesis stream {:?} in {}: no AWS credentials: use an IAM role (IRSA, instance profile), AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY [{}]",
                stream.name,
                stream.region,
                error_text(&e)
            ))
        }
        Err(e) => match classify(&e) {
            failure @ (Failure::NotFound | Failure::AccessDenied | Failure::Fatal) => {
                Err(described(&stream, &shared, "DescribeStreamSummary", failure, &e).await)
            }
            _ => {
                tracing::warn!(stream = %stream.name, "DescribeStreamSummary failed in passing ({}); reading anyway.", error_text(&e));
                Ok(())
            }
        },
    }
}

/// A shard as listed.
#[derive(Debug, Clone)]
struct ShardInfo {
    id: Arc<str>,
    parents: Vec<String>,
    closed: bool,
}

impl ShardInfo {
    fn from_sdk(shard: &Shard) -> Self {
        let parents = [shard.parent_shard_id(), shard.adjacent_parent_shard_id()]
            .into_iter()
            .flatten()
            .map(str::to_string)
            .collect();
        Self {
            id: shard.shard_id().into(),
            parents,
            closed: shard
                .sequence_number_range()
                .and_then(|r| r.ending_sequence_number())
                .is_some(),
        }
    }
}

/// Lists every shard of the stream (all pages), retrying passing faults.
async fn list_shards(
    client: &Client,
    stream: &Stream,
    shared: &Shared,
) -> Result<Vec<ShardInfo>, String> {
    let mut shards = Vec::new();
    let mut token: Option<String> = None;
    let mut attempt = 0u32;
    loop {
        let mut request = client.list_shards();
        request = match &token {
            Some(token) => request.next_token(token),
            None => match &stream.arn {
                Some(arn) => request.stream_arn(arn),
                None => request.stream_name(&stream.name),
            },
        };
        match request.send().await {
            Ok(output) => {
                attempt = 0;
                shards.extend(output.shards().iter().map(ShardInfo::from_sdk));
                match output.next_token() {
                    Some(next) => token = Some(next.to_string()),
                    None => return Ok(shards),
                }
            }
            Err(e) => match classify(&e) {
                failure @ (Failure::Throttled | Failure::Transient) => {
                    shared.metrics.count_retried(failure);
                    let wait =
                        backoff(attempt, Duration::from_millis(250), Duration::from_secs(10));
                    attempt += 1;
                    tracing::warn!(stream = %stream.name, "ListShards failed ({}); retrying in {wait:?}", error_text(&e));
                    tokio::time::sleep(wait).await;
                }
                failure => return Err(described(stream, shared, "ListShards", failure, &e).await),
            },
        }
    }
}

/// Runs the source until shutdown or a permanent failure.
pub async fn run(mut ctx: Context) {
    let region = ctx
        .sdk
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "us-east-1".to_string());
    let mut stream = Stream {
        name: ctx.spec.stream_name.clone(),
        arn: ctx.spec.stream_arn.clone(),
        region,
        max_records: ctx.spec.max_records,
        consumer_arn: None,
    };
    let mut decode = ctx.decode.clone();
    if decode.region.is_none() {
        decode.region = Some(stream.region.clone());
    }
    let shared = Arc::new(Shared {
        source: ctx.source,
        decode,
        metrics: ctx.metrics.clone(),
        sdk: ctx.sdk.clone(),
        budget: ctx.budget.clone(),
    });
    let client = client(&ctx.sdk);
    if let Some(name) = ctx.spec.efo_consumer.clone() {
        match efo::consumer(&client, &stream, &shared, &name).await {
            Ok((stream_arn, consumer_arn)) => {
                stream.arn.get_or_insert(stream_arn);
                stream.consumer_arn = Some(consumer_arn);
            }
            Err(error) => {
                tracing::error!(stream = %stream.name, "Kinesis source stopped: {error}");
                let _ = ctx
                    .out
                    .send(SourceMessage::Failed {
                        source: ctx.source,
                        error,
                    })
                    .await;
                return;
            }
        }
    }
    let stream = Arc::new(stream);
    let result = match ctx.spec.lease_table.clone() {
        Some(table) => lease::run(&mut ctx, &client, stream.clone(), shared.clone(), &table).await,
        None => run_local(&mut ctx, &client, stream.clone(), shared.clone()).await,
    };
    if let Err(error) = result {
        tracing::error!(stream = %stream.name, "Kinesis source stopped: {error}");
        let _ = ctx
            .out
            .send(SourceMessage::Failed {
                source: ctx.source,
                error,
            })
            .await;
    }
}

/// Which shards to read now, and from where: the decisions shared by the local mode
/// and the lease mode.
#[derive(Debug, Default)]
pub struct Plan {
    /// Shard → committed position (sequence number or SHARD_END).
    committed: HashMap<String, String>,
}

impl Plan {
    fn new(committed: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            committed: committed.into_iter().collect(),
        }
    }

    fn commit(&mut self, commit: &Commit) {
        self.committed
            .insert(commit.partition.to_string(), commit.position.clone());
    }

    fn is_done(&self, shard: &str) -> bool {
        self.committed.get(shard).is_some_and(|p| p == SHARD_END)
    }

    /// Where `shard` starts, or `None` when it must not be read now (done, or a
    /// parent still being read).
    fn start(
        &self,
        shard: &ShardInfo,
        listed: &[ShardInfo],
        initial: StartPosition,
    ) -> Option<ShardStart> {
        if self.is_done(&shard.id) {
            return None;
        }
        let listed_parents: Vec<&String> = shard
            .parents
            .iter()
            .filter(|p| listed.iter().any(|s| *s.id == ***p))
            .collect();
        if listed_parents.iter().any(|p| !self.is_done(p)) {
            return None;
        }
        if let Some(position) = self.committed.get(&*shard.id) {
            return Some(ShardStart::After(position.clone()));
        }
        // A child of shards we read starts at its beginning, whatever the spec says:
        // its records follow theirs.
        if shard.parents.iter().any(|p| self.committed.contains_key(p)) {
            return Some(ShardStart::At(StartPosition::TrimHorizon));
        }
        Some(ShardStart::At(initial))
    }
}

/// Without leases: every shard, checkpoints kept by the host.
async fn run_local(
    ctx: &mut Context,
    client: &Client,
    stream: Arc<Stream>,
    shared: Arc<Shared>,
) -> Result<(), String> {
    let mut plan = Plan::new(std::mem::take(&mut ctx.checkpoints));
    let mut readers: JoinSet<(Arc<str>, ShardEnd)> = JoinSet::new();
    let mut reading: HashMap<Arc<str>, ()> = HashMap::new();
    let interval = Duration::from_secs(ctx.spec.list_shards_interval_secs);
    let mut relist = true;
    let mut first_listing = true;
    loop {
        if relist {
            relist = false;
            let listed = list_shards(client, &stream, &shared).await?;
            if first_listing {
                tracing::info!(stream = %stream.name, region = %stream.region, shards = listed.len(), start = %ctx.spec.start, "Reading Kinesis stream.");
            }
            for shard in &listed {
                if reading.contains_key(&shard.id) {
                    continue;
                }
                // With `latest`, a shard already closed when reading begins has nothing
                // new: skip it as done.
                if first_listing
                    && shard.closed
                    && ctx.spec.start == StartPosition::Latest
                    && !plan.committed.contains_key(&*shard.id)
                    && !shard.parents.iter().any(|p| plan.committed.contains_key(p))
                {
                    plan.committed
                        .insert(shard.id.to_string(), SHARD_END.to_string());
                    continue;
                }
                let Some(start) = plan.start(shard, &listed, ctx.spec.start) else {
                    continue;
                };
                tracing::debug!(stream = %stream.name, shard = %shard.id, ?start, "Starting shard reader.");
                reading.insert(shard.id.clone(), ());
                shared.metrics.add(&shared.metrics.shards_reading, 1);
                let (client, stream, shard_id, shared, out) = (
                    client.clone(),
                    stream.clone(),
                    shard.id.clone(),
                    shared.clone(),
                    ctx.out.clone(),
                );
                readers.spawn(async move {
                    let end =
                        read_shard(client, stream, shard_id.clone(), start, shared, out).await;
                    (shard_id, end)
                });
            }
            first_listing = false;
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => relist = true,
            Some(joined) = readers.join_next(), if !readers.is_empty() => {
                shared.metrics.shards_reading.fetch_sub(1, Ordering::Relaxed);
                match joined {
                    Ok((shard, ShardEnd::Failed(error))) => {
                        tracing::error!(shard = %shard, "{error}");
                        return Err(error);
                    }
                    Ok((_, ShardEnd::Stopped)) => return Ok(()),
                    // Still "reading" until its SHARD_END is committed: a listing in
                    // between must not start it again from its last committed record.
                    Ok((_, ShardEnd::Closed)) => {}
                    Err(e) => return Err(format!("a shard reader of {} failed: {e}", stream.name)),
                }
            }
            commit = ctx.commits.recv() => match commit {
                Some(commit) => {
                    plan.commit(&commit);
                    if commit.position == SHARD_END {
                        // Done with it; its children may start now.
                        reading.remove(&*commit.partition);
                        relist = true;
                    }
                }
                None => return Ok(()),
            },
            _ = ctx.shutdown.changed() => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(id: &str, parents: &[&str]) -> ShardInfo {
        ShardInfo {
            id: id.into(),
            parents: parents.iter().map(|p| p.to_string()).collect(),
            closed: false,
        }
    }

    #[test]
    fn children_wait_for_their_parents() {
        let listed = vec![
            shard("p", &[]),
            shard("c1", &["p"]),
            shard("m", &["c1", "x"]),
        ];
        let mut plan = Plan::default();
        let latest = StartPosition::Latest;
        assert_eq!(
            plan.start(&listed[0], &listed, latest),
            Some(ShardStart::At(latest))
        );
        assert_eq!(plan.start(&listed[1], &listed, latest), None);
        plan.commit(&Commit {
            partition: "p".into(),
            position: "12".into(),
        });
        assert_eq!(
            plan.start(&listed[0], &listed, latest),
            Some(ShardStart::After("12".into()))
        );
        assert_eq!(plan.start(&listed[1], &listed, latest), None);
        plan.commit(&Commit {
            partition: "p".into(),
            position: SHARD_END.into(),
        });
        assert_eq!(plan.start(&listed[0], &listed, latest), None);
        // A child of a shard we read starts at its beginning, not at `latest`.
        assert_eq!(
            plan.start(&listed[1], &listed, latest),
            Some(ShardStart::At(StartPosition::TrimHorizon))
        );
        // A merge child waits for its listed parent; a parent no longer listed
        // (trimmed) does not hold it.
        assert_eq!(plan.start(&listed[2], &listed, latest), None);
        plan.commit(&Commit {
            partition: "c1".into(),
            position: SHARD_END.into(),
        });
        assert_eq!(
            plan.start(&listed[2], &listed, latest),
            Some(ShardStart::At(StartPosition::TrimHorizon))
        );
    }
}
