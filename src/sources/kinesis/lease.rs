//! Shards shared between replicas through a DynamoDB lease table, as AWS's Kinesis
//! Client Library does it.
//!
//! One item per shard: `leaseKey` (the shard id), `leaseOwner`, `leaseCounter`,
//! `checkpoint` (a sequence number, `TRIM_HORIZON`, `LATEST`, `AT_TIMESTAMP` or
//! `SHARD_END`), `parentShardIds`. Every write is conditional on what the writer last
//! saw, so two replicas never both believe they own a shard:
//!
//! * an owner renews its leases every `lease_duration / 3` by bumping the counter; a
//!   lease whose counter has not moved for `lease_duration` (as observed locally, so no
//!   clock is shared) is expired and may be taken;
//! * each replica aims for `ceil(open leases / live owners)` and takes free or expired
//!   leases first, then steals one at a time from the most loaded owner above target;
//! * a checkpoint is written only while the writer still owns the lease;
//! * a shard is read only once every parent it has in the table is at `SHARD_END`;
//! * on a clean shutdown the last checkpoints are written and the leases released, so a
//!   peer takes them at once instead of after expiry.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client as Dynamo;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, TableStatus,
};
use aws_sdk_kinesis::Client;
use tokio::task::AbortHandle;

use super::shard::{ShardEnd, ShardStart, read_shard};
use super::{Context, ShardInfo, Shared, Stream, list_shards};
use crate::aws::{Failure, classify, error_text};
use crate::checkpoint::SHARD_END;
use crate::sources::{Commit, StartPosition};

const KEY: &str = "leaseKey";
const OWNER: &str = "leaseOwner";
const COUNTER: &str = "leaseCounter";
const CHECKPOINT: &str = "checkpoint";
const PARENTS: &str = "parentShardIds";
const TRIM_HORIZON: &str = "TRIM_HORIZON";
const LATEST: &str = "LATEST";
const AT_TIMESTAMP: &str = "AT_TIMESTAMP";

/// A lease as read from the table.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Lease {
    shard: String,
    owner: Option<String>,
    counter: u64,
    checkpoint: String,
    parents: Vec<String>,
}

impl Lease {
    fn from_item(item: &HashMap<String, AttributeValue>) -> Option<Self> {
        let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
        Some(Self {
            shard: text(KEY)?,
            owner: text(OWNER),
            counter: item
                .get(COUNTER)
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
            checkpoint: text(CHECKPOINT).unwrap_or_else(|| TRIM_HORIZON.to_string()),
            parents: item
                .get(PARENTS)
                .and_then(|v| v.as_ss().ok())
                .cloned()
                .unwrap_or_default(),
        })
    }

    fn finished(&self) -> bool {
        self.checkpoint == SHARD_END
    }
}

/// When each lease's counter was last seen to change, by this process's clock.
#[derive(Debug, Default)]
struct Observations {
    seen: HashMap<String, (u64, Instant)>,
}

impl Observations {
    /// Records `lease`; true when it is expired (counter unchanged for `duration`).
    fn expired(&mut self, lease: &Lease, duration: Duration, now: Instant) -> bool {
        let entry = self
            .seen
            .entry(lease.shard.clone())
            .or_insert((lease.counter, now));
        if entry.0 != lease.counter {
            *entry = (lease.counter, now);
        }
        now.duration_since(entry.1) >= duration
    }
}

/// What this replica should take, given the table: (free or expired leases to take,
/// one lease to steal), by KCL's balancing rule.
fn choose(
    leases: &[Lease],
    me: &str,
    expired: &dyn Fn(&Lease) -> bool,
) -> (Vec<String>, Option<String>) {
    let open: Vec<&Lease> = leases.iter().filter(|l| !l.finished()).collect();
    let mut per_owner: BTreeMap<&str, usize> = BTreeMap::new();
    per_owner.insert(me, 0);
    for lease in &open {
        if let Some(owner) = lease.owner.as_deref()
            && (owner == me || !expired(lease))
        {
            *per_owner.entry(owner).or_default() += 1;
        }
    }
    let target = open.len().div_ceil(per_owner.len());
    let held = per_owner[me];
    if held >= target {
        return (Vec::new(), None);
    }
    let mut available: Vec<&Lease> = open
        .iter()
        .copied()
        .filter(|l| l.owner.is_none() || (l.owner.as_deref() != Some(me) && expired(l)))
        .collect();
    // Parents before children, so a split's children are not taken ahead of their parent.
    available.sort_by_key(|l| (l.parents.len(), l.shard.clone()));
    let take: Vec<String> = available
        .iter()
        .take(target - held)
        .map(|l| l.shard.clone())
        .collect();
    if !take.is_empty() {
        return (take, None);
    }
    let Some((&busiest, &count)) = per_owner
        .iter()
        .filter(|(owner, _)| **owner != me)
        .max_by_key(|(_, count)| **count)
    else {
        return (Vec::new(), None);
    };
    if count <= target {
        return (Vec::new(), None);
    }
    let steal = open
        .iter()
        .find(|l| l.owner.as_deref() == Some(busiest))
        .map(|l| l.shard.clone());
    (Vec::new(), steal)
}

struct Leases {
    dynamo: Dynamo,
    table: String,
    me: String,
    duration: Duration,
}

fn is_condition_failure<E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(
    e: &aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> bool {
    e.as_service_error()
        .and_then(|s| s.code())
        .is_some_and(|c| c == "ConditionalCheckFailedException")
}

impl Leases {
    fn described<E>(
        &self,
        action: &str,
        e: &aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
    ) -> String
    where
        E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        let text = error_text(e);
        match classify(e) {
            Failure::AccessDenied => format!(
                "DynamoDB lease table {:?}: {action} failed: {text}. The caller needs dynamodb:{action} on table/{} (see deploy/iam/kinesis-leases.json).",
                self.table, self.table
            ),
            _ => format!(
                "DynamoDB lease table {:?}: {action} failed: {text}",
                self.table
            ),
        }
    }

    /// Creates the table when missing (on-demand capacity) and waits until it is active.
    async fn ensure_table(&self) -> Result<(), String> {
        for _ in 0..120 {
            match self
                .dynamo
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
            {
                Ok(out) => {
                    if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                        return Ok(());
                    }
                }
                Err(e) if classify(&e) == Failure::NotFound => {
                    tracing::info!(table = %self.table, "Creating the DynamoDB lease table (on-demand capacity).");
                    let created = self
                        .dynamo
                        .create_table()
                        .table_name(&self.table)
                        .billing_mode(BillingMode::PayPerRequest)
                        .attribute_definitions(
                            AttributeDefinition::builder()
                                .attribute_name(KEY)
                                .attribute_type(ScalarAttributeType::S)
                                .build()
                                .map_err(|e| e.to_string())?,
                        )
                        .key_schema(
                            KeySchemaElement::builder()
                                .attribute_name(KEY)
                                .key_type(KeyType::Hash)
                                .build()
                                .map_err(|e| e.to_string())?,
                        )
                        .send()
                        .await;
                    if let Err(e) = created
                        && e.as_service_error()
                            .and_then(|s| aws_sdk_dynamodb::error::ProvideErrorMetadata::code(s))
                            != Some("ResourceInUseException")
                    {
                        return Err(self.described("CreateTable", &e));
                    }
                }
                Err(e) if matches!(classify(&e), Failure::Transient | Failure::Throttled) => {}
                Err(e) => return Err(self.described("DescribeTable", &e)),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(format!(
            "DynamoDB lease table {:?} did not become active within a minute",
            self.table
        ))
    }

    /// Every lease in the table.
    async fn scan(&self) -> Result<Vec<Lease>, String> {
        let mut leases = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let out = self
                .dynamo
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| self.described("Scan", &e))?;
            leases.extend(out.items().iter().filter_map(Lease::from_item));
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(leases),
            }
        }
    }

    /// Adds a lease for a shard the table does not know yet.
    async fn create(&self, shard: &ShardInfo, checkpoint: &str) -> Result<(), String> {
        let mut request = self
            .dynamo
            .put_item()
            .table_name(&self.table)
            .item(KEY, AttributeValue::S(shard.id.to_string()))
            .item(COUNTER, AttributeValue::N("0".into()))
            .item(CHECKPOINT, AttributeValue::S(checkpoint.to_string()))
            .condition_expression("attribute_not_exists(#k)")
            .expression_attribute_names("#k", KEY);
        if !shard.parents.is_empty() {
            request = request.item(PARENTS, AttributeValue::Ss(shard.parents.clone()));
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(self.described("PutItem", &e)),
        }
    }

    /// Takes `lease` (seen with `counter`): owner = me, counter + 1. False when someone
    /// else changed it first.
    async fn take(&self, lease: &Lease) -> Result<Option<u64>, String> {
        let result = self
            .dynamo
            .update_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(lease.shard.clone()))
            .update_expression("SET #o = :me, #c = :next")
            .condition_expression("#c = :seen")
            .expression_attribute_names("#o", OWNER)
            .expression_attribute_names("#c", COUNTER)
            .expression_attribute_values(":me", AttributeValue::S(self.me.clone()))
            .expression_attribute_values(":seen", AttributeValue::N(lease.counter.to_string()))
            .expression_attribute_values(
                ":next",
                AttributeValue::N((lease.counter + 1).to_string()),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(Some(lease.counter + 1)),
            Err(e) if is_condition_failure(&e) => Ok(None),
            Err(e) => Err(self.described("UpdateItem", &e)),
        }
    }

    /// Renews a held lease; `None` when it was lost.
    async fn renew(&self, shard: &str, counter: u64) -> Result<Option<u64>, String> {
        let result = self
            .dynamo
            .update_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(shard.to_string()))
            .update_expression("SET #c = :next")
            .condition_expression("#c = :seen AND #o = :me")
            .expression_attribute_names("#o", OWNER)
            .expression_attribute_names("#c", COUNTER)
            .expression_attribute_values(":me", AttributeValue::S(self.me.clone()))
            .expression_attribute_values(":seen", AttributeValue::N(counter.to_string()))
            .expression_attribute_values(":next", AttributeValue::N((counter + 1).to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Some(counter + 1)),
            Err(e) if is_condition_failure(&e) => Ok(None),
            Err(e) if matches!(classify(&e), Failure::Transient | Failure::Throttled) => {
                tracing::warn!(table = %self.table, shard, "Lease renewal failed in passing ({}); will retry.", error_text(&e));
                Ok(Some(counter))
            }
            Err(e) => Err(self.described("UpdateItem", &e)),
        }
    }

    /// Writes a checkpoint while still owning the lease; false when it was lost.
    async fn checkpoint(&self, shard: &str, position: &str) -> Result<bool, String> {
        let result = self
            .dynamo
            .update_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(shard.to_string()))
            .update_expression("SET #p = :pos")
            .condition_expression("#o = :me")
            .expression_attribute_names("#o", OWNER)
            .expression_attribute_names("#p", CHECKPOINT)
            .expression_attribute_values(":me", AttributeValue::S(self.me.clone()))
            .expression_attribute_values(":pos", AttributeValue::S(position.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(self.described("UpdateItem", &e)),
        }
    }

    /// Gives a lease back (on shutdown) so a peer takes it at once.
    async fn release(&self, shard: &str) {
        let result = self
            .dynamo
            .update_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(shard.to_string()))
            .update_expression("REMOVE #o SET #c = #c + :one")
            .condition_expression("#o = :me")
            .expression_attribute_names("#o", OWNER)
            .expression_attribute_names("#c", COUNTER)
            .expression_attribute_values(":me", AttributeValue::S(self.me.clone()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .send()
            .await;
        if let Err(e) = result
            && !is_condition_failure(&e)
        {
            tracing::warn!(table = %self.table, shard, "Could not release the lease: {}", error_text(&e));
        }
    }
}

/// The checkpoint a new lease starts with.
fn initial_checkpoint(
    shard: &ShardInfo,
    listed: &[ShardInfo],
    start: StartPosition,
    first: bool,
) -> &'static str {
    if shard
        .parents
        .iter()
        .any(|p| listed.iter().any(|s| *s.id == **p))
    {
        return TRIM_HORIZON;
    }
    match start {
        // With `latest`, a shard already closed when the table is first filled holds
        // nothing new.
        StartPosition::Latest if shard.closed && first => SHARD_END,
        StartPosition::Latest => LATEST,
        StartPosition::TrimHorizon => TRIM_HORIZON,
        StartPosition::AtTimestamp(_) => AT_TIMESTAMP,
    }
}

fn start_of(checkpoint: &str, spec_start: StartPosition) -> ShardStart {
    match checkpoint {
        TRIM_HORIZON => ShardStart::At(StartPosition::TrimHorizon),
        LATEST => ShardStart::At(StartPosition::Latest),
        AT_TIMESTAMP => ShardStart::At(spec_start),
        sequence => ShardStart::After(sequence.to_string()),
    }
}

/// Runs the source with leases in `table`.
pub async fn run(
    ctx: &mut Context,
    client: &Client,
    stream: Arc<Stream>,
    shared: Arc<Shared>,
    table: &str,
) -> Result<(), String> {
    let leases = Leases {
        dynamo: Dynamo::new(&ctx.sdk),
        table: table.to_string(),
        me: ctx.worker_id.clone(),
        duration: Duration::from_secs(ctx.spec.lease_duration_secs),
    };
    leases.ensure_table().await?;
    tracing::info!(stream = %stream.name, table, worker = %leases.me, "Sharing the stream's shards through DynamoDB leases.");
    let tick = (leases.duration / 3).max(Duration::from_millis(500));
    let list_every = Duration::from_secs(ctx.spec.list_shards_interval_secs);
    let mut observations = Observations::default();
    // Shard → (counter as last written by us, its reader).
    let mut held: HashMap<String, (u64, Option<AbortHandle>)> = HashMap::new();
    let mut readers: tokio::task::JoinSet<(Arc<str>, ShardEnd)> = tokio::task::JoinSet::new();
    let mut last_listing: Option<Instant> = None;
    let mut first_listing = true;
    let mut relist = true;
    loop {
        if relist || last_listing.is_none_or(|t| t.elapsed() >= list_every) {
            relist = false;
            let listed = list_shards(client, &stream, &shared).await?;
            let known = leases.scan().await?;
            let first = first_listing && known.is_empty();
            for shard in &listed {
                if !known.iter().any(|l| l.shard == *shard.id) {
                    leases
                        .create(
                            shard,
                            initial_checkpoint(shard, &listed, ctx.spec.start, first),
                        )
                        .await?;
                }
            }
            last_listing = Some(Instant::now());
            first_listing = false;
        }
        // Renew what we hold; readers of lost leases stop.
        let mut lost = Vec::new();
        for (shard, (counter, _)) in held.iter_mut() {
            match leases.renew(shard, *counter).await? {
                Some(next) => *counter = next,
                None => lost.push(shard.clone()),
            }
        }
        for shard in lost {
            if let Some((_, Some(reader))) = held.remove(&shard) {
                reader.abort();
            }
            shared.metrics.add(&shared.metrics.leases_lost, 1);
            tracing::info!(stream = %stream.name, shard, "Lease lost to another reader; stopped reading the shard.");
        }
        // Look at the table; take or steal by the balancing rule.
        let table_now = leases.scan().await?;
        let now = Instant::now();
        let expired: HashMap<String, bool> = table_now
            .iter()
            .map(|l| {
                (
                    l.shard.clone(),
                    observations.expired(l, leases.duration, now),
                )
            })
            .collect();
        let is_expired = |l: &Lease| expired.get(&l.shard).copied().unwrap_or(false);
        let (take, steal) = choose(&table_now, &leases.me, &is_expired);
        for shard in take.iter().chain(steal.iter()) {
            let Some(lease) = table_now.iter().find(|l| l.shard == *shard) else {
                continue;
            };
            if let Some(counter) = leases.take(lease).await? {
                let how = match (&lease.owner, steal.as_deref() == Some(shard.as_str())) {
                    (_, true) => "stolen to balance",
                    (Some(_), false) => "taken after expiry",
                    (None, false) => "taken",
                };
                tracing::info!(stream = %stream.name, shard, previous_owner = lease.owner.as_deref().unwrap_or("none"), "Lease {how}.");
                shared.metrics.add(&shared.metrics.leases_taken, 1);
                held.insert(shard.clone(), (counter, None));
            }
        }
        // Start readers for held leases whose parents are done.
        for lease in &table_now {
            let Some((_, reader)) = held.get_mut(&lease.shard) else {
                continue;
            };
            if reader.is_some() {
                continue;
            }
            if lease.finished() {
                continue;
            }
            let parents_done = lease.parents.iter().all(|p| {
                table_now
                    .iter()
                    .find(|l| l.shard == *p)
                    .is_none_or(Lease::finished)
            });
            if !parents_done {
                continue;
            }
            let start = start_of(&lease.checkpoint, ctx.spec.start);
            let shard_id: Arc<str> = lease.shard.as_str().into();
            let (client, stream, shared, out) = (
                client.clone(),
                stream.clone(),
                shared.clone(),
                ctx.out.clone(),
            );
            shared.metrics.add(&shared.metrics.shards_reading, 1);
            let handle = readers.spawn(async move {
                let end = read_shard(client, stream, shard_id.clone(), start, shared, out).await;
                (shard_id, end)
            });
            *reader = Some(handle);
        }
        let deadline = tokio::time::Instant::now() + tick;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => break,
                Some(joined) = readers.join_next(), if !readers.is_empty() => {
                    shared.metrics.shards_reading.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                    match joined {
                        Ok((_, ShardEnd::Failed(error))) => return Err(error),
                        Ok((_, ShardEnd::Stopped)) => return Ok(()),
                        Ok((_, ShardEnd::Closed)) => {}
                        // Aborted because its lease was lost.
                        Err(e) if e.is_cancelled() => {}
                        Err(e) => return Err(format!("a shard reader of {} failed: {e}", stream.name)),
                    }
                }
                commit = ctx.commits.recv() => match commit {
                    Some(commit) => apply_commit(&leases, &mut held, &commit, &mut relist).await?,
                    None => return Ok(()),
                },
                _ = ctx.shutdown.changed() => {
                    readers.abort_all();
                    while let Ok(commit) = ctx.commits.try_recv() {
                        apply_commit(&leases, &mut held, &commit, &mut relist).await?;
                    }
                    for shard in held.keys() {
                        leases.release(shard).await;
                    }
                    tracing::info!(stream = %stream.name, released = held.len(), "Leases released.");
                    return Ok(());
                }
            }
        }
    }
}

async fn apply_commit(
    leases: &Leases,
    held: &mut HashMap<String, (u64, Option<AbortHandle>)>,
    commit: &Commit,
    relist: &mut bool,
) -> Result<(), String> {
    let shard = commit.partition.to_string();
    if !leases.checkpoint(&shard, &commit.position).await? {
        tracing::warn!(
            shard,
            "Checkpoint not written: the lease belongs to another reader now (its events may be read again there)."
        );
        if let Some((_, Some(reader))) = held.remove(&shard) {
            reader.abort();
        }
        return Ok(());
    }
    if commit.position == SHARD_END {
        // Done: keep the lease row (children look at it), stop renewing it.
        held.remove(&shard);
        *relist = true;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(shard: &str, owner: Option<&str>) -> Lease {
        Lease {
            shard: shard.into(),
            owner: owner.map(String::from),
            counter: 1,
            checkpoint: "1".into(),
            parents: Vec::new(),
        }
    }

    #[test]
    fn a_lone_replica_takes_everything() {
        let leases = vec![lease("a", None), lease("b", None), lease("c", None)];
        let (take, steal) = choose(&leases, "me", &|_| false);
        assert_eq!(take, ["a", "b", "c"]);
        assert_eq!(steal, None);
    }

    #[test]
    fn a_newcomer_steals_one_at_a_time() {
        let leases: Vec<Lease> = ["a", "b", "c", "d"]
            .iter()
            .map(|s| lease(s, Some("old")))
            .collect();
        let (take, steal) = choose(&leases, "new", &|_| false);
        assert!(take.is_empty());
        assert_eq!(steal.as_deref(), Some("a"));
        // Balanced: 2 and 2, nothing more to do.
        let mut balanced = leases.clone();
        balanced[0].owner = Some("new".into());
        balanced[1].owner = Some("new".into());
        assert_eq!(choose(&balanced, "new", &|_| false), (Vec::new(), None));
        assert_eq!(choose(&balanced, "old", &|_| false), (Vec::new(), None));
    }

    #[test]
    fn expired_leases_are_taken_and_finished_ones_ignored() {
        let mut leases = vec![
            lease("a", Some("dead")),
            lease("b", Some("dead")),
            lease("c", Some("me")),
        ];
        leases.push(Lease {
            checkpoint: SHARD_END.into(),
            ..lease("z", None)
        });
        let (take, steal) = choose(&leases, "me", &|l| l.owner.as_deref() == Some("dead"));
        assert_eq!(take, ["a", "b"]);
        assert_eq!(steal, None);
    }

    #[test]
    fn expiry_is_measured_by_the_local_clock() {
        let mut seen = Observations::default();
        let t0 = Instant::now();
        let d = Duration::from_secs(10);
        let mut l = lease("a", Some("x"));
        assert!(!seen.expired(&l, d, t0));
        assert!(!seen.expired(&l, d, t0 + Duration::from_secs(9)));
        assert!(seen.expired(&l, d, t0 + Duration::from_secs(10)));
        l.counter += 1;
        assert!(!seen.expired(&l, d, t0 + Duration::from_secs(11)));
    }

    #[test]
    fn initial_checkpoints() {
        let parent = ShardInfo {
            id: "p".into(),
            parents: vec![],
            closed: true,
        };
        let child = ShardInfo {
            id: "c".into(),
            parents: vec!["p".into()],
            closed: false,
        };
        let listed = vec![parent.clone(), child.clone()];
        assert_eq!(
            initial_checkpoint(&child, &listed, StartPosition::Latest, true),
            TRIM_HORIZON
        );
        assert_eq!(
            initial_checkpoint(&parent, &listed, StartPosition::Latest, true),
            SHARD_END
        );
        assert_eq!(
            initial_checkpoint(&parent, &listed, StartPosition::Latest, false),
            LATEST
        );
        assert_eq!(
            initial_checkpoint(&parent, &listed, StartPosition::TrimHorizon, true),
            TRIM_HORIZON
        );
        assert_eq!(
            start_of("42", StartPosition::Latest),
            ShardStart::After("42".into())
        );
        assert_eq!(
            start_of(AT_TIMESTAMP, StartPosition::AtTimestamp(5)),
            ShardStart::At(StartPosition::AtTimestamp(5))
        );
    }
}
