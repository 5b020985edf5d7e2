//! `eksaudit aws check`: follows the chain EKS → CloudWatch Logs → subscription filter →
//! Kinesis → eksaudit link by link, and for each broken link says what is missing and the
//! command or IAM action that fixes it. Read-only: safe to run anywhere, any time.
//!
//! Every check runs even after one failed (a missing filter does not hide a missing
//! permission), except those that need what a failed one would have found.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatchlogs::types::OrderBy;
use aws_sdk_kinesis::primitives::DateTime;
use aws_sdk_kinesis::types::{ShardIteratorType, StreamStatus};

use super::Failure;
use super::onboard::{Clients, OnboardError, call_error, failure_of, shell_word};
use super::policy;
use super::setup::{
    audit_enabled, log_group_exists, logging_update_in_progress, subscription_filters,
};

/// What to check.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// The EKS cluster.
    pub cluster: String,
    /// The stream; default: the one the subscription filter names, else
    /// `eks-audit-<cluster>`.
    pub stream: Option<String>,
}

/// How a check went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// This link works.
    Ok,
    /// This link is broken.
    Fail,
    /// Not checked: it needs a link that is broken.
    Skipped,
}

/// One link of the chain.
#[derive(Debug, Clone)]
pub struct Finding {
    /// Ok, failed, skipped.
    pub status: Status,
    /// The link (`audit logging`, `stream`, …).
    pub check: &'static str,
    /// What was found, in a sentence.
    pub detail: String,
    /// How to fix it: commands to run, IAM actions to grant.
    pub fix: Vec<String>,
}

/// All the findings, in chain order.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// The caller (STS GetCallerIdentity), when known.
    pub identity: Option<String>,
    /// One per link.
    pub findings: Vec<Finding>,
}

impl CheckReport {
    /// Whether every link works.
    pub fn passed(&self) -> bool {
        self.findings.iter().all(|f| f.status == Status::Ok)
    }
}

/// Runs every check. Fails only when there is no region to look in.
pub async fn check(clients: &Clients, options: &CheckOptions) -> Result<CheckReport, OnboardError> {
    let region = clients.region()?.to_string();
    let cluster = options.cluster.as_str();
    let group = policy::log_group(cluster);
    let mut setup_command = format!(
        "eksaudit aws setup --cluster {} --region {}",
        shell_word(cluster),
        shell_word(&region)
    );
    if let Some(stream) = &options.stream {
        setup_command.push_str(&format!(" --stream {}", shell_word(stream)));
    }
    let mut report = CheckReport::default();
    let mut add = |status: Status, check: &'static str, detail: String, fix: Vec<String>| {
        report.findings.push(Finding {
            status,
            check,
            detail,
            fix,
        })
    };

    // 1. Who we are.
    let caller = match clients.identity().await {
        Ok(identity) => {
            add(
                Status::Ok,
                "identity",
                format!(
                    "{} (account {}, STS GetCallerIdentity)",
                    identity.arn, identity.target.account
                ),
                vec![],
            );
            Some(identity.arn)
        }
        Err(e) => {
            add(
                Status::Fail,
                "identity",
                e.to_string(),
                if matches!(e.failure(), Some(Failure::Transient | Failure::Throttled)) {
                    e.fixes(String::new())
                } else {
                    vec![
                        "give eksaudit credentials: AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, IRSA or an instance profile".into(),
                    ]
                },
            );
            None
        }
    };
    let who = caller.clone().unwrap_or_else(|| "this identity".into());
    let (status, detail, fix) =
        audit_logging(clients, cluster, &region, &who, &setup_command).await;
    add(status, "audit logging", detail, fix);

    // 3. The log group.
    let group_exists = match log_group_exists(&clients.logs, &group, &who).await {
        Ok(true) => {
            add(Status::Ok, "log group", format!("{group} exists"), vec![]);
            true
        }
        Ok(false) => {
            add(
                Status::Fail,
                "log group",
                format!("log group {group} does not exist in {region}"),
                vec![format!(
                    "{setup_command} (creates it; EKS also creates it minutes after audit logging is on)"
                )],
            );
            false
        }
        Err(e) => {
            add(
                Status::Fail,
                "log group",
                e.to_string(),
                e.fixes(format!("grant {who} logs:DescribeLogGroups")),
            );
            false
        }
    };

    // 4. The subscription filter, and from it the stream.
    let mut stream = StreamRef {
        name: options
            .stream
            .clone()
            .unwrap_or_else(|| policy::default_stream(cluster)),
        arn: None,
    };
    let mut filter_created = None;
    if !group_exists {
        add(
            Status::Skipped,
            "subscription filter",
            format!("needs the log group {group}"),
            vec![],
        );
    } else {
        match subscription_filters(&clients.logs, &group, &who).await {
            Err(e) => add(
                Status::Fail,
                "subscription filter",
                e.to_string(),
                e.fixes(format!("grant {who} logs:DescribeSubscriptionFilters")),
            ),
            Ok(filters) => {
                let to_kinesis: Vec<_> = filters
                    .iter()
                    .filter(|f| {
                        f.destination_arn()
                            .and_then(stream_name_of)
                            .is_some_and(|name| {
                                options.stream.as_deref().is_none_or(|want| want == name)
                            })
                    })
                    .collect();
                if let Some(filter) = to_kinesis.first() {
                    let arn = filter.destination_arn().unwrap_or_default();
                    stream = StreamRef {
                        name: stream_name_of(arn).unwrap_or_default().to_string(),
                        arn: Some(arn.to_string()),
                    };
                    filter_created = filter.creation_time();
                    let pattern = filter.filter_pattern().unwrap_or_default();
                    let what = if pattern.is_empty() {
                        "every event".to_string()
                    } else {
                        format!("only events matching {pattern:?}")
                    };
                    add(
                        Status::Ok,
                        "subscription filter",
                        format!(
                            "{} on {group} delivers {what} to {arn}",
                            filter.filter_name().unwrap_or_default()
                        ),
                        vec![],
                    );
                } else {
                    let others: Vec<String> = filters
                        .iter()
                        .map(|f| {
                            format!(
                                "{} → {}",
                                f.filter_name().unwrap_or_default(),
                                f.destination_arn().unwrap_or_default()
                            )
                        })
                        .collect();
                    let target = match &options.stream {
                        Some(s) => format!("the Kinesis stream {s}"),
                        None => "a Kinesis stream".into(),
                    };
                    let detail = if others.is_empty() {
                        format!(
                            "log group {group} has no subscription filter: nothing reaches {target}"
                        )
                    } else {
                        format!(
                            "no subscription filter on {group} delivers to {target} (it has: {})",
                            others.join(", ")
                        )
                    };
                    add(
                        Status::Fail,
                        "subscription filter",
                        detail,
                        vec![format!(
                            "{setup_command} (needs logs:PutSubscriptionFilter and iam:PassRole)"
                        )],
                    );
                }
            }
        }
    }

    // 5. The stream.
    let stream_ok = stream_active(clients, &stream, &region, &who, &setup_command, &mut add).await;

    // 6. Our identity can read it; 7. records flow.
    if !stream_ok {
        add(
            Status::Skipped,
            "read access",
            format!("needs the stream {}", stream.name),
            vec![],
        );
        add(
            Status::Skipped,
            "records flowing",
            format!("needs the stream {}", stream.name),
            vec![],
        );
        return Ok(report);
    }
    let shards = match read_access(clients, &stream, &who).await {
        Ok(shards) => {
            add(
                Status::Ok,
                "read access",
                format!(
                    "{who} can read {} (DescribeStreamSummary, ListShards, GetShardIterator; {} shards)",
                    stream.name,
                    shards.len()
                ),
                vec![],
            );
            shards
        }
        Err(e) => {
            add(
                Status::Fail,
                "read access",
                e.to_string(),
                e.fixes(format!(
                    "attach deploy/iam/kinesis-reader.json (kinesis:DescribeStreamSummary, kinesis:ListShards, kinesis:GetShardIterator, kinesis:GetRecords on {}) to {who}",
                    stream.arn.as_deref().unwrap_or(&stream.name)
                )),
            );
            add(
                Status::Skipped,
                "records flowing",
                "needs read access".into(),
                vec![],
            );
            return Ok(report);
        }
    };
    let (status, detail, fix) = records_flowing(
        clients,
        &stream,
        &shards,
        &group,
        group_exists,
        filter_created,
        &who,
        &setup_command,
    )
    .await;
    add(status, "records flowing", detail, fix);
    Ok(report)
}

/// A stream by name, and by ARN when a subscription filter named it (so a stream of
/// another account or region is looked at where it is).
#[derive(Debug, Clone)]
struct StreamRef {
    name: String,
    arn: Option<String>,
}

impl StreamRef {
    fn name_param(&self) -> Option<String> {
        self.arn.is_none().then(|| self.name.clone())
    }
}

/// `arn:…:kinesis:…:stream/<name>` → `<name>`; `None` for other destinations.
fn stream_name_of(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let service = parts.nth(2)?;
    let resource = parts.nth(2)?;
    (service == "kinesis")
        .then(|| resource.strip_prefix("stream/"))
        .flatten()
        .filter(|name| !name.is_empty())
}

async fn audit_logging(
    clients: &Clients,
    cluster: &str,
    region: &str,
    who: &str,
    setup_command: &str,
) -> (Status, String, Vec<String>) {
    match clients.eks.describe_cluster().name(cluster).send().await {
        Ok(out) => {
            if out
                .cluster()
                .and_then(|c| c.logging())
                .is_some_and(audit_enabled)
            {
                (
                    Status::Ok,
                    format!("audit logging is on for EKS cluster {cluster}"),
                    vec![],
                )
            } else if let Some(id) = logging_update_in_progress(&clients.eks, cluster).await {
                (
                    Status::Fail,
                    format!(
                        "audit logging is being enabled on EKS cluster {cluster} (EKS update {id} in progress)"
                    ),
                    vec!["wait a few minutes for the update to finish and run this again".into()],
                )
            } else {
                (
                    Status::Fail,
                    format!(
                        "audit logging is off for EKS cluster {cluster}: EKS writes no audit events"
                    ),
                    vec![
                        setup_command.to_string(),
                        format!(
                            "or: aws eks update-cluster-config --region {} --name {} --logging '{{\"clusterLogging\":[{{\"types\":[\"audit\"],\"enabled\":true}}]}}' (IAM action eks:UpdateClusterConfig)",
                            shell_word(region),
                            shell_word(cluster)
                        ),
                    ],
                )
            }
        }
        Err(e) if failure_of(&e) == Failure::NotFound => (
            Status::Fail,
            format!("no EKS cluster {cluster} in {region}"),
            vec![format!(
                "check --cluster and --region: aws eks list-clusters --region {}",
                shell_word(region)
            )],
        ),
        Err(e) => {
            let error = call_error(
                "EKS DescribeCluster",
                "eks:DescribeCluster",
                &format!("EKS cluster {cluster}"),
                who,
                &e,
            );
            let fixes = error.fixes(format!("grant {who} eks:DescribeCluster"));
            (Status::Fail, error.to_string(), fixes)
        }
    }
}

async fn stream_active(
    clients: &Clients,
    stream: &StreamRef,
    region: &str,
    who: &str,
    setup_command: &str,
    add: &mut impl FnMut(Status, &'static str, String, Vec<String>),
) -> bool {
    let result = clients
        .kinesis
        .describe_stream_summary()
        .set_stream_name(stream.name_param())
        .set_stream_arn(stream.arn.clone())
        .send()
        .await;
    match result {
        Ok(out) => {
            let Some(summary) = out.stream_description_summary() else {
                add(
                    Status::Fail,
                    "stream",
                    format!(
                        "Kinesis DescribeStreamSummary said nothing about {}",
                        stream.name
                    ),
                    vec![],
                );
                return false;
            };
            let mode = summary
                .stream_mode_details()
                .map(|m| m.stream_mode().as_str().to_string())
                .unwrap_or_else(|| "PROVISIONED".into());
            let status = summary.stream_status();
            if *status == StreamStatus::Active || *status == StreamStatus::Updating {
                add(
                    Status::Ok,
                    "stream",
                    format!(
                        "Kinesis stream {} is {} ({mode}, {} open shards)",
                        stream.name,
                        status.as_str(),
                        summary.open_shard_count()
                    ),
                    vec![],
                );
                true
            } else {
                add(
                    Status::Fail,
                    "stream",
                    format!(
                        "Kinesis stream {} is {}, not ACTIVE",
                        stream.name,
                        status.as_str()
                    ),
                    vec![if *status == StreamStatus::Creating {
                        "wait until it is ACTIVE (a minute or two) and run this again".into()
                    } else {
                        format!("{setup_command} (once it is deleted, creates it again)")
                    }],
                );
                false
            }
        }
        Err(e) if failure_of(&e) == Failure::NotFound => {
            add(
                Status::Fail,
                "stream",
                format!(
                    "Kinesis stream {} does not exist in {}",
                    stream.name,
                    stream
                        .arn
                        .as_deref()
                        .and_then(|a| a.split(':').nth(3))
                        .unwrap_or(region)
                ),
                vec![format!("{setup_command} (creates it ON_DEMAND)")],
            );
            false
        }
        Err(e) => {
            let error = call_error(
                "Kinesis DescribeStreamSummary",
                "kinesis:DescribeStreamSummary",
                &format!("Kinesis stream {}", stream.name),
                who,
                &e,
            );
            add(
                Status::Fail,
                "stream",
                error.to_string(),
                error.fixes(format!("attach deploy/iam/kinesis-reader.json to {who}")),
            );
            false
        }
    }
}

/// ListShards, then GetShardIterator on the first shard: what a reader does first.
async fn read_access(
    clients: &Clients,
    stream: &StreamRef,
    who: &str,
) -> Result<Vec<String>, OnboardError> {
    let resource = format!("Kinesis stream {}", stream.name);
    let mut shards = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let request = match &token {
            Some(t) => clients.kinesis.list_shards().next_token(t),
            None => clients
                .kinesis
                .list_shards()
                .set_stream_name(stream.name_param())
                .set_stream_arn(stream.arn.clone()),
        };
        let out = request.send().await.map_err(|e| {
            call_error(
                "Kinesis ListShards",
                "kinesis:ListShards",
                &resource,
                who,
                &e,
            )
        })?;
        shards.extend(out.shards().iter().map(|s| s.shard_id().to_string()));
        token = out.next_token().map(String::from);
        if token.is_none() {
            break;
        }
    }
    if let Some(first) = shards.first() {
        iterator(clients, stream, first, None, who).await?;
    }
    Ok(shards)
}

/// A shard iterator at TRIM_HORIZON, or AT_TIMESTAMP `since` (epoch ms).
async fn iterator(
    clients: &Clients,
    stream: &StreamRef,
    shard: &str,
    since: Option<i64>,
    who: &str,
) -> Result<Option<String>, OnboardError> {
    let kind = if since.is_some() {
        ShardIteratorType::AtTimestamp
    } else {
        ShardIteratorType::TrimHorizon
    };
    clients
        .kinesis
        .get_shard_iterator()
        .set_stream_name(stream.name_param())
        .set_stream_arn(stream.arn.clone())
        .shard_id(shard)
        .shard_iterator_type(kind)
        .set_timestamp(since.map(DateTime::from_millis))
        .send()
        .await
        .map(|out| out.shard_iterator().map(String::from))
        .map_err(|e| {
            call_error(
                "Kinesis GetShardIterator",
                "kinesis:GetShardIterator",
                &format!("shard {shard} of Kinesis stream {}", stream.name),
                who,
                &e,
            )
        })
}

/// Most shards read for records: enough to see that delivery works, few enough to stay
/// quick on a stream with many shards.
const MAX_SHARDS_READ: usize = 16;
/// GetRecords calls per shard while they come back empty and the shard is behind (AWS
/// can answer empty pages before the first records).
const MAX_EMPTY_PAGES: usize = 5;

/// What reading a stream from one point found.
#[derive(Debug, Default)]
struct Scan {
    records: usize,
    newest: Option<i64>,
}

/// Reads every shard (up to [`MAX_SHARDS_READ`]) from `since` (TRIM_HORIZON when `None`),
/// a few pages each; the failure as a finding.
async fn scan(
    clients: &Clients,
    stream: &StreamRef,
    shards: &[String],
    since: Option<i64>,
    who: &str,
) -> Result<Scan, (Status, String, Vec<String>)> {
    let mut found = Scan::default();
    for shard in shards.iter().take(MAX_SHARDS_READ) {
        let mut it = match iterator(clients, stream, shard, since, who).await {
            Ok(Some(it)) => it,
            Ok(None) => continue,
            Err(e) => {
                let fixes = e.fixes(format!("attach deploy/iam/kinesis-reader.json to {who}"));
                return Err((Status::Fail, e.to_string(), fixes));
            }
        };
        for _ in 0..MAX_EMPTY_PAGES {
            let out = clients
                .kinesis
                .get_records()
                // With the ARN when we have it: an iterator made from an ARN is tied to it
                // (moto cannot even resolve it otherwise).
                .set_stream_arn(stream.arn.clone())
                .shard_iterator(&it)
                .limit(1000)
                .send()
                .await
                .map_err(|e| {
                    let error = call_error(
                        "Kinesis GetRecords",
                        "kinesis:GetRecords",
                        &format!("shard {shard} of Kinesis stream {}", stream.name),
                        who,
                        &e,
                    );
                    (
                        Status::Fail,
                        error.to_string(),
                        error.fixes(format!("attach deploy/iam/kinesis-reader.json to {who}")),
                    )
                })?;
            found.records += out.records().len();
            for record in out.records() {
                if let Some(ms) = record
                    .approximate_arrival_timestamp()
                    .and_then(|t| t.to_millis().ok())
                {
                    found.newest = Some(found.newest.map_or(ms, |n| n.max(ms)));
                }
            }
            match out.next_shard_iterator() {
                Some(next)
                    if out.records().is_empty() && out.millis_behind_latest().unwrap_or(0) > 0 =>
                {
                    it = next.to_string();
                }
                _ => break,
            }
        }
    }
    Ok(found)
}

/// What counts as "flowing": records that arrived this recently. A live EKS cluster writes
/// audit events all the time (controllers, kubelets, health checks), so a quarter of an
/// hour without any means something is broken.
const RECENT_MS: i64 = 15 * 60 * 1000;

#[allow(clippy::too_many_arguments, reason = "one call site, all context")]
async fn records_flowing(
    clients: &Clients,
    stream: &StreamRef,
    shards: &[String],
    group: &str,
    group_exists: bool,
    filter_created: Option<i64>,
    who: &str,
    setup_command: &str,
) -> (Status, String, Vec<String>) {
    let now = now_ms();
    let recent = match scan(clients, stream, shards, Some(now - RECENT_MS), who).await {
        Ok(found) => found,
        Err(finding) => return finding,
    };
    let newest_event = if group_exists {
        newest_log_event(clients, group).await
    } else {
        None
    };
    let events_text = newest_event
        .map(|t| format!("; newest event in {group}: {}", ago(t)))
        .unwrap_or_default();
    if recent.records > 0 {
        let arrival = recent
            .newest
            .map(|t| format!(", the newest {}", ago(t)))
            .unwrap_or_default();
        return (
            Status::Ok,
            format!(
                "{} records arrived on {} in the last 15 min{arrival}{events_text}",
                recent.records, stream.name
            ),
            vec![],
        );
    }
    // Nothing recent: did anything ever arrive?
    let older = match scan(clients, stream, shards, None, who).await {
        Ok(found) => found,
        Err(finding) => return finding,
    };
    let before = if older.records > 0 {
        format!(
            " (it has older records, the newest read {}: delivery worked before)",
            older
                .newest
                .map(ago)
                .unwrap_or_else(|| "at some point".into())
        )
    } else {
        String::new()
    };
    let events_since_filter = newest_event.filter(|&event| {
        event >= now - RECENT_MS && filter_created.is_none_or(|created| event >= created)
    });
    if let Some(event) = events_since_filter {
        return (
            Status::Fail,
            format!(
                "{group} has events since the subscription filter was put (newest {}), but no record reached the stream {} in the last 15 min{before}: CloudWatch Logs cannot deliver to it",
                ago(event),
                stream.name
            ),
            vec![
                format!(
                    "{setup_command} (rewrites the filter's role: trust logs.<region>.amazonaws.com, kinesis:PutRecord and kinesis:PutRecords on the stream)"
                ),
                "a stream encrypted with a customer-managed KMS key also needs kms:GenerateDataKey for that role".into(),
            ],
        );
    }
    (
        Status::Fail,
        format!(
            "no records on the stream {} in the last 15 min{before}, and no events in {group} since the subscription filter was put{events_text}",
            stream.name
        ),
        vec![
            "EKS writes audit events within minutes of audit logging being enabled, and all the time on a live cluster: check that audit logging is still on, make some API calls (kubectl get pods) and run this again".into(),
        ],
    )
}

/// The newest event time of the log group (DescribeLogStreams by LastEventTime), best
/// effort: an error only means this hint is missing.
async fn newest_log_event(clients: &Clients, group: &str) -> Option<i64> {
    let out = clients
        .logs
        .describe_log_streams()
        .log_group_name(group)
        .order_by(OrderBy::LastEventTime)
        .descending(true)
        .limit(5)
        .send()
        .await
        .ok()?;
    out.log_streams()
        .iter()
        .filter_map(|s| s.last_event_timestamp().or(s.last_ingestion_time()))
        .max()
}

/// Milliseconds since the epoch.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `12 s ago`, `5 min ago`, `3 h ago`.
fn ago(epoch_ms: i64) -> String {
    let secs = (now_ms() - epoch_ms).max(0) / 1000;
    match secs {
        0..=119 => format!("{secs} s ago"),
        120..=7199 => format!("{} min ago", secs / 60),
        _ => format!("{} h ago", secs / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names_come_from_kinesis_arns_only() {
        assert_eq!(
            stream_name_of("arn:aws:kinesis:eu-west-1:111122223333:stream/eks-audit-prod"),
            Some("eks-audit-prod")
        );
        assert_eq!(
            stream_name_of("arn:aws:firehose:eu-west-1:111122223333:deliverystream/x"),
            None
        );
        assert_eq!(
            stream_name_of("arn:aws:lambda:eu-west-1:111122223333:function:f"),
            None
        );
        assert_eq!(stream_name_of("arn:aws:kinesis:r:1:stream/"), None);
        assert_eq!(stream_name_of("garbage"), None);
    }

    #[test]
    fn ages_read_naturally() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        assert_eq!(ago(now - 5_000), "5 s ago");
        assert_eq!(ago(now - 600_000), "10 min ago");
        assert_eq!(ago(now - 3 * 3_600_000), "3 h ago");
    }
}
