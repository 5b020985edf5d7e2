//! The SDK half of the CloudWatch Logs source (the `aws` feature): the client,
//! [`preflight`], discovery, and the coordinator that runs one poller per log group.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::config::retry::RetryConfig;
use aws_sdk_cloudwatchlogs::config::timeout::TimeoutConfig;
use aws_sdk_cloudwatchlogs::error::{ProvideErrorMetadata, SdkError};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::{CloudWatchMetrics, bucket, poller};
use crate::aws::{Failure, backoff, classify, error_text};
use crate::decode::DecodeOptions;
use crate::sources::metrics::Metrics;
use crate::sources::{CloudWatchSpec, CloudWatchStart, Commit, SourceMessage};

/// Everything [`run`] needs from its host.
#[derive(Debug)]
pub struct Context {
    /// Index of this source in the host's list.
    pub source: usize,
    /// The spec.
    pub spec: CloudWatchSpec,
    /// The SDK configuration (region, credentials, role).
    pub sdk: SdkConfig,
    /// The account the groups belong to (for the token bucket and the annotations).
    pub account: String,
    /// Decoding options.
    pub decode: DecodeOptions,
    /// Positions the host checkpointed before, by log group.
    pub checkpoints: BTreeMap<String, String>,
    /// Batches go here.
    pub out: mpsc::Sender<SourceMessage>,
    /// Positions the host committed come back here.
    pub commits: mpsc::UnboundedReceiver<Commit>,
    /// Turns true when the host shuts down.
    pub shutdown: watch::Receiver<bool>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Stop (with [`SourceMessage::Ended`]) once every group has been read up to now.
    pub until_caught_up: bool,
}

/// A CloudWatch Logs client: no SDK retries (the pollers own backoff, so throttling is
/// seen, counted and shared through the bucket), and a bound on each attempt.
pub fn client(sdk: &SdkConfig) -> Client {
    let config = aws_sdk_cloudwatchlogs::config::Builder::from(sdk)
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(Duration::from_secs(60))
                .build(),
        )
        .build();
    Client::from_conf(config)
}

/// Describes a failure that retrying cannot fix: the group, the action and the IAM
/// permission it needs, who the caller is, and what AWS said.
pub async fn described<E>(
    sdk: &SdkConfig,
    what: &str,
    action: &str,
    failure: Failure,
    error: &SdkError<E, aws_sdk_cloudwatchlogs::config::http::HttpResponse>,
) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let identity = crate::aws::caller_identity(sdk).await;
    let region = sdk
        .region()
        .map_or("(no region)".to_string(), |r| r.to_string());
    let text = error_text(error);
    let text = text.trim_end_matches('.');
    // What to do comes first: Falco shows only the first 255 bytes of an open error.
    match failure {
        Failure::NotFound => format!(
            "CloudWatch Logs {what} not found in {region} for {identity}: check name, region, account (another account needs role_arn); EKS creates it once audit logging is on (eksaudit aws setup) [{action}: {text}]"
        ),
        Failure::AccessDenied => format!(
            "CloudWatch Logs {what} in {region}: {identity} needs logs:{action} (deploy/iam/cloudwatch-reader.json) [{text}]"
        ),
        _ => format!("CloudWatch Logs {what} in {region}: {action} failed for {identity}: {text}"),
    }
}

/// Checks, before polling starts, that the region is known, the credentials work, and
/// every named group exists and may be read (DescribeLogStreams, as an IAM check), so a
/// wrong name, region, account or missing permission fails at once with a clear message
/// instead of polling nothing forever. Returns the account the groups belong to.
/// Passing faults only warn: the pollers retry them.
pub async fn preflight(spec: &CloudWatchSpec, sdk: &SdkConfig) -> Result<String, String> {
    let what = describe_targets(spec);
    if sdk.region().is_none() {
        return Err(format!(
            "CloudWatch Logs {what}: no AWS region: add ?region=<region> to the source, or set AWS_REGION"
        ));
    }
    let account = match &spec.account {
        Some(account) => account.clone(),
        None => match aws_sdk_sts::Client::new(sdk)
            .get_caller_identity()
            .send()
            .await
        {
            Ok(identity) => identity.account().unwrap_or("unknown").to_string(),
            Err(e) if error_text(&e).contains("credentials") => {
                return Err(format!(
                    "CloudWatch Logs {what}: no AWS credentials: use an IAM role (IRSA, instance profile), AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY [{}]",
                    error_text(&e)
                ));
            }
            Err(e) => {
                tracing::warn!(
                    "STS GetCallerIdentity failed ({}); the account is unknown (FilterLogEvents pacing is shared per region then).",
                    error_text(&e)
                );
                "unknown".to_string()
            }
        },
    };
    let client = client(sdk);
    for group in &spec.log_groups {
        let request = client
            .describe_log_streams()
            .log_group_name(group)
            .log_stream_name_prefix(&spec.stream_prefix)
            .limit(1);
        if let Err(e) = request.send().await {
            match classify(&e) {
                failure @ (Failure::NotFound | Failure::AccessDenied | Failure::Fatal) => {
                    let what = format!("log group {group:?}");
                    return Err(described(sdk, &what, "DescribeLogStreams", failure, &e).await);
                }
                _ => {
                    tracing::warn!(log_group = %group, "DescribeLogStreams failed in passing ({}); polling anyway.", error_text(&e))
                }
            }
        }
    }
    if let Some(prefix) = &spec.group_prefix
        && let Err(e) = client
            .describe_log_groups()
            .log_group_name_prefix(prefix)
            .limit(1)
            .send()
            .await
    {
        match classify(&e) {
            failure @ (Failure::AccessDenied | Failure::Fatal) => {
                let what = format!("log groups under {prefix:?}");
                return Err(described(sdk, &what, "DescribeLogGroups", failure, &e).await);
            }
            _ => {
                tracing::warn!(prefix = %prefix, "DescribeLogGroups failed in passing ({}); polling anyway.", error_text(&e))
            }
        }
    }
    Ok(account)
}

fn describe_targets(spec: &CloudWatchSpec) -> String {
    match (&spec.group_prefix, spec.log_groups.as_slice()) {
        (None, [one]) => format!("log group {one:?}"),
        (None, groups) => format!("log groups {groups:?}"),
        (Some(prefix), []) => format!("log groups under {prefix:?}"),
        (Some(prefix), groups) => format!("log groups {groups:?} and under {prefix:?}"),
    }
}

/// Every log group whose name starts with `prefix` (all pages), retrying passing
/// faults; `None` after a permanent failure (logged), so discovery tries again later.
async fn discover(
    client: &Client,
    prefix: &str,
    shared: &poller::Shared,
) -> Result<Vec<String>, String> {
    let mut groups = Vec::new();
    let mut token: Option<String> = None;
    let mut attempt = 0u32;
    loop {
        shared.bucket.acquire().await;
        CloudWatchMetrics::add(&shared.metrics.cloudwatch.api_calls, 1);
        let request = client
            .describe_log_groups()
            .log_group_name_prefix(prefix)
            .set_next_token(token.clone());
        match request.send().await {
            Ok(output) => {
                attempt = 0;
                groups.extend(
                    output
                        .log_groups()
                        .iter()
                        .filter_map(|g| g.log_group_name().map(str::to_string)),
                );
                match output.next_token() {
                    Some(next) => token = Some(next.to_string()),
                    None => return Ok(groups),
                }
            }
            Err(e) => match classify(&e) {
                Failure::Throttled | Failure::Transient if attempt < 8 => {
                    shared.metrics.add(&shared.metrics.throttles, 1);
                    let wait =
                        backoff(attempt, Duration::from_millis(250), Duration::from_secs(10));
                    attempt += 1;
                    tracing::warn!(prefix = %prefix, "DescribeLogGroups failed ({}); retrying in {wait:?}", error_text(&e));
                    tokio::time::sleep(wait).await;
                }
                failure => {
                    let what = format!("log groups under {prefix:?}");
                    return Err(
                        described(&shared.sdk, &what, "DescribeLogGroups", failure, &e).await,
                    );
                }
            },
        }
    }
}

/// Starts a `cloudwatch://` source on `runtime`, for [`crate::sources::live::LiveSources`]:
/// SDK configuration (with the role to assume), [`preflight`] (bounded: a slow answer
/// only warns), then [`run`] in its own task. Returns the task and where commits go.
#[allow(clippy::too_many_arguments, reason = "the host's pieces, passed once")]
pub fn start(
    runtime: &tokio::runtime::Runtime,
    source: usize,
    spec: &CloudWatchSpec,
    checkpoints: BTreeMap<String, String>,
    options: &crate::sources::live::LiveOptions,
    out: mpsc::Sender<SourceMessage>,
    shutdown: watch::Receiver<bool>,
    metrics: Arc<Metrics>,
) -> Result<(tokio::task::JoinHandle<()>, mpsc::UnboundedSender<Commit>), String> {
    let region = spec.region.clone().or(options.region.clone());
    let (sdk, account) = runtime.block_on(async {
        let sdk = crate::aws::sdk_config(
            region.as_deref(),
            options.profile.as_deref(),
            spec.assume_role.as_ref(),
        )
        .await;
        let account = match tokio::time::timeout(Duration::from_secs(30), preflight(spec, &sdk)).await {
            Ok(account) => account?,
            Err(_) => {
                tracing::warn!(source = %spec.key(), "The log groups could not be checked within 30 s; polling anyway.");
                spec.account.clone().unwrap_or_else(|| "unknown".to_string())
            }
        };
        Ok::<_, String>((sdk, account))
    })?;
    let (commit_tx, commits) = mpsc::unbounded_channel();
    let ctx = Context {
        source,
        spec: spec.clone(),
        sdk,
        account,
        decode: options.decode.clone(),
        checkpoints,
        out,
        commits,
        shutdown,
        metrics,
        until_caught_up: options.until_caught_up,
    };
    Ok((runtime.spawn(run(ctx)), commit_tx))
}

/// Runs the source until shutdown, a permanent failure, or (with `until_caught_up`)
/// every group read up to now.
pub async fn run(mut ctx: Context) {
    let region = ctx
        .sdk
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "us-east-1".to_string());
    let mut decode = ctx.decode.clone();
    if decode.region.is_none() {
        decode.region = Some(region.clone());
    }
    let shared = Arc::new(poller::Shared {
        source: ctx.source,
        spec: ctx.spec.clone(),
        account: ctx.account.clone(),
        decode,
        metrics: ctx.metrics.clone(),
        bucket: bucket::bucket(&ctx.account, &region, ctx.spec.rate),
        client: client(&ctx.sdk),
        sdk: ctx.sdk.clone(),
        out: ctx.out.clone(),
        until_caught_up: ctx.until_caught_up,
    });
    let result = coordinate(&mut ctx, &shared).await;
    if let Err(error) = result {
        tracing::error!(source = %ctx.spec.key(), "CloudWatch Logs source stopped: {error}");
        let _ = ctx
            .out
            .send(SourceMessage::Failed {
                source: ctx.source,
                error,
            })
            .await;
    }
}

async fn coordinate(ctx: &mut Context, shared: &Arc<poller::Shared>) -> Result<(), String> {
    let mut pollers = Pollers::new();
    let mut polling: BTreeMap<Arc<str>, bool> = BTreeMap::new();
    let start = ctx.spec.start();
    tracing::info!(source = %ctx.spec.key(), account = %ctx.account, start = %start, lag_window_secs = ctx.spec.lag_window_secs, "Polling CloudWatch Logs.");
    for group in ctx.spec.log_groups.clone() {
        start_group(ctx, shared, &mut pollers, &mut polling, &group, start);
    }
    let discover_every = Duration::from_secs(ctx.spec.discover_interval_secs);
    let mut first_discovery = true;
    let mut next_discovery = tokio::time::Instant::now();
    loop {
        if let Some(prefix) = &ctx.spec.group_prefix
            && tokio::time::Instant::now() >= next_discovery
        {
            next_discovery = tokio::time::Instant::now() + discover_every;
            match discover(&shared.client, prefix, shared).await {
                Ok(groups) => {
                    if first_discovery {
                        tracing::info!(prefix = %prefix, groups = groups.len(), "Log groups discovered.");
                    }
                    // A group that appears after the first discovery is new: read all
                    // it holds.
                    let start = if first_discovery {
                        start
                    } else {
                        CloudWatchStart::Retention
                    };
                    for group in groups {
                        start_group(ctx, shared, &mut pollers, &mut polling, &group, start);
                    }
                    first_discovery = false;
                    if ctx.until_caught_up && polling.is_empty() {
                        tracing::info!(prefix = %prefix, "No log group to read (--until-caught-up).");
                        let _ = ctx
                            .out
                            .send(SourceMessage::Ended { source: ctx.source })
                            .await;
                        return Ok(());
                    }
                }
                Err(error) if first_discovery => return Err(error),
                Err(error) => tracing::warn!("{error}; looking again in {discover_every:?}."),
            }
        }
        let sleep = tokio::time::sleep_until(next_discovery);
        tokio::select! {
            _ = sleep, if ctx.spec.group_prefix.is_some() => {}
            Some(joined) = pollers.join_next(), if !pollers.is_empty() => {
                shared.metrics.cloudwatch.groups_polling.fetch_sub(1, Ordering::Relaxed);
                match joined {
                    Ok((_, poller::End::Stopped)) => return Ok(()),
                    Ok((group, poller::End::Failed(error))) => {
                        if ctx.spec.group_prefix.is_some() && !ctx.spec.log_groups.iter().any(|g| **g == *group) {
                            // A discovered group that went away (deleted): forget it; it is
                            // polled again if discovery finds it again.
                            tracing::warn!(log_group = %group, "{error}");
                            polling.remove(&group);
                        } else {
                            return Err(error);
                        }
                    }
                    Ok((group, poller::End::CaughtUp)) => {
                        polling.insert(group, true);
                        if polling.values().all(|&done| done) {
                            tracing::info!(source = %ctx.spec.key(), "Every log group was read up to now (--until-caught-up).");
                            let _ = ctx.out.send(SourceMessage::Ended { source: ctx.source }).await;
                            return Ok(());
                        }
                    }
                    Err(e) => return Err(format!("a log group poller failed: {e}")),
                }
            }
            commit = ctx.commits.recv() => match commit {
                // Pollers keep their own position; a commit only says the host has it.
                Some(commit) => tracing::trace!(log_group = %commit.partition, "Position committed."),
                None => return Ok(()),
            },
            _ = ctx.shutdown.changed() => return Ok(()),
        }
    }
}

type Pollers = JoinSet<(Arc<str>, poller::End)>;

/// Starts a poller for `group` unless one runs; `polling` says, per group, whether it
/// was read up to now.
fn start_group(
    ctx: &Context,
    shared: &Arc<poller::Shared>,
    pollers: &mut Pollers,
    polling: &mut BTreeMap<Arc<str>, bool>,
    group: &str,
    start: CloudWatchStart,
) {
    let name: Arc<str> = group.into();
    if polling.contains_key(&name) {
        return;
    }
    let checkpoint = ctx.checkpoints.get(group).cloned();
    polling.insert(name.clone(), false);
    CloudWatchMetrics::add(&shared.metrics.cloudwatch.groups_polling, 1);
    let (shared, shutdown) = (shared.clone(), ctx.shutdown.clone());
    pollers.spawn(async move {
        let end = poller::poll_group(shared, name.clone(), checkpoint, start, shutdown).await;
        (name, end)
    });
}
