//! Two replicas sharing a 4-shard stream through a DynamoDB lease table (moto's
//! DynamoDB): each shard read by one live owner, a fair split, and a dead owner's
//! shards taken over after lease expiry with nothing lost.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use crate::support::*;

/// Leases per owner in the table.
fn owners(table: &str) -> BTreeMap<String, usize> {
    let rt = runtime();
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk_config());
    rt.block_on(async {
        let mut owners = BTreeMap::new();
        if let Ok(out) = dynamo.scan().table_name(table).send().await {
            for item in out.items() {
                let done = item
                    .get("checkpoint")
                    .and_then(|v| v.as_s().ok())
                    .is_some_and(|c| c == "SHARD_END");
                if let Some(owner) = item.get("leaseOwner").and_then(|v| v.as_s().ok())
                    && !done
                {
                    *owners.entry(owner.clone()).or_default() += 1;
                }
            }
        }
        owners
    })
}

fn put_ids(stream: &str, prefix: &str, records: usize) -> BTreeSet<String> {
    let rt = runtime();
    let kinesis = aws_sdk_kinesis::Client::new(&sdk_config());
    let mut ids = BTreeSet::new();
    rt.block_on(async {
        for r in 0..records {
            let batch: Vec<String> = (0..3).map(|i| format!("{prefix}-{r}-{i}")).collect();
            ids.extend(batch.iter().cloned());
            put(
                &kinesis,
                stream,
                &format!("{prefix}-key-{r}"),
                audit_envelope("c", &batch),
            )
            .await;
        }
    });
    ids
}

fn union(paths: &[&Path]) -> BTreeMap<String, usize> {
    let mut all = BTreeMap::new();
    for path in paths {
        for (id, n) in audit_ids(path) {
            *all.entry(id).or_default() += n;
        }
    }
    all
}

#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn two_replicas_share_shards_and_survive_kill_dash_nine() {
    let rt = runtime();
    let kinesis = aws_sdk_kinesis::Client::new(&sdk_config());
    let stream = unique("leases");
    let table = unique("eksaudit-leases");
    rt.block_on(create_stream(&kinesis, &stream, 4));
    let dir = tempfile::tempdir().unwrap();
    let source =
        format!("kinesis://{stream}?start=trim_horizon&lease_table={table}&lease_duration=6");
    let start = |name: &str| {
        let out = dir.path().join(format!("{name}.jsonl"));
        let sink = format!("file://{}", out.display());
        let ck = dir.path().join(format!("ck-{name}"));
        let forwarder = Forwarder::start(
            &[
                "--source",
                &source,
                "--sink",
                &sink,
                "--checkpoint-dir",
                ck.to_str().unwrap(),
                "--worker-id",
                name,
            ],
            &dir.path().join(format!("{name}.log")),
        );
        (forwarder, out)
    };
    let (a, a_out) = start("replica-a");
    wait_until(Duration::from_secs(60), || {
        owners(&table).get("replica-a") == Some(&4)
    });
    let (b, b_out) = start("replica-b");
    // B steals one lease at a time until the split is even.
    wait_until(Duration::from_secs(60), || {
        let o = owners(&table);
        o.get("replica-a") == Some(&2) && o.get("replica-b") == Some(&2)
    });
    // A learns of each stolen lease at its next renewal and stops that reader; until then
    // both may read the shard (as with the KCL), so records go in only after that.
    wait_until(Duration::from_secs(30), || {
        a.log_text().matches("Lease lost to another reader").count() >= 2
    });
    // Both live: every record read once, by one of them.
    let first = put_ids(&stream, "live", 40);
    wait_until(Duration::from_secs(60), || {
        union(&[&a_out, &b_out]).len() >= first.len()
    });
    std::thread::sleep(Duration::from_secs(1));
    let seen = union(&[&a_out, &b_out]);
    assert_eq!(seen.keys().cloned().collect::<BTreeSet<_>>(), first);
    assert!(
        seen.values().all(|&n| n == 1),
        "read twice while both live: {seen:?}"
    );
    assert!(
        !audit_ids(&a_out).is_empty() && !audit_ids(&b_out).is_empty(),
        "both read"
    );

    // A dies; B takes its shards once the leases expire, and reads what follows.
    a.kill9();
    let second = put_ids(&stream, "after", 40);
    wait_until(Duration::from_secs(60), || {
        owners(&table).get("replica-b") == Some(&4)
    });
    wait_until(Duration::from_secs(60), || {
        let seen = union(&[&a_out, &b_out]);
        second.iter().all(|id| seen.contains_key(id))
    });
    let log = b.log_text();
    assert!(log.contains("Lease stolen to balance"), "{log}");
    assert!(log.contains("Lease taken after expiry"), "{log}");
    assert_eq!(b.terminate(), Some(0));
    let seen = union(&[&a_out, &b_out]);
    let all: BTreeSet<String> = first.union(&second).cloned().collect();
    let lost: Vec<_> = all.iter().filter(|id| !seen.contains_key(*id)).collect();
    assert!(lost.is_empty(), "lost: {lost:?}");
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    eprintln!(
        "two replicas: {} auditIDs, 0 lost, {duplicates} duplicates after kill -9",
        all.len()
    );
    // B released its leases on SIGTERM.
    assert!(owners(&table).is_empty(), "{:?}", owners(&table));
}
