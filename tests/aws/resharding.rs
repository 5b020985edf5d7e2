//! Resharding against kinesis-local (moto does not route records after a split): a
//! split, then a merge, while a forwarder reads; parents are drained before their
//! children, so per partition key events stay in order, and nothing is lost.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::support::*;

fn kinesis_local() -> String {
    std::env::var("EKSAUDIT_TEST_KINESIS_LOCAL").unwrap_or_default()
}

async fn wait_active(client: &aws_sdk_kinesis::Client, stream: &str) {
    for _ in 0..200 {
        let summary = client
            .describe_stream_summary()
            .stream_name(stream)
            .send()
            .await
            .unwrap();
        if summary
            .stream_description_summary()
            .is_some_and(|s| s.stream_status().as_str() == "ACTIVE")
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{stream} not active");
}

async fn open_shards(
    client: &aws_sdk_kinesis::Client,
    stream: &str,
) -> Vec<(String, String, String)> {
    let out = client
        .list_shards()
        .stream_name(stream)
        .send()
        .await
        .unwrap();
    out.shards()
        .iter()
        .filter(|s| {
            s.sequence_number_range()
                .and_then(|r| r.ending_sequence_number())
                .is_none()
        })
        .map(|s| {
            let range = s.hash_key_range().unwrap();
            (
                s.shard_id().to_string(),
                range.starting_hash_key().to_string(),
                range.ending_hash_key().to_string(),
            )
        })
        .collect()
}

/// Puts `round` for every key: events `<key>:<round>:<i>`.
async fn put_round(
    client: &aws_sdk_kinesis::Client,
    stream: &str,
    keys: &[String],
    round: usize,
) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for key in keys {
        let batch: Vec<String> = (0..2).map(|i| format!("{key}:{round}:{i}")).collect();
        ids.extend(batch.iter().cloned());
        put(client, stream, key, audit_envelope("c", &batch)).await;
    }
    ids
}

#[test]
#[cfg_attr(
    not(has_kinesis_local),
    ignore = "needs kinesis-local: npm install kinesis-local@0.6.2, run it, set EKSAUDIT_TEST_KINESIS_LOCAL"
)]
fn split_and_merge_drain_parents_before_children() {
    let endpoint = kinesis_local();
    let rt = runtime();
    let client = aws_sdk_kinesis::Client::new(&sdk_config_for(&endpoint));
    let stream = unique("reshard");
    let keys: Vec<String> = (0..8).map(|k| format!("key{k}")).collect();
    let mut all = BTreeSet::new();
    rt.block_on(async {
        client
            .create_stream()
            .stream_name(&stream)
            .shard_count(1)
            .send()
            .await
            .unwrap();
        wait_active(&client, &stream).await;
        all.extend(put_round(&client, &stream, &keys, 0).await);
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let sink = format!("file://{}", out.display());
    let ck = dir.path().join("ck");
    let source = format!("kinesis://{stream}?start=trim_horizon&list_shards_interval=1");
    let forwarder = Forwarder::start_with(
        &endpoint,
        &[
            "--source",
            &source,
            "--sink",
            &sink,
            "--checkpoint-dir",
            ck.to_str().unwrap(),
        ],
        &dir.path().join("log"),
    );
    rt.block_on(async {
        // Split the one shard in two, then put more.
        let shards = open_shards(&client, &stream).await;
        let (parent, _, _) = &shards[0];
        // kinesis-local refuses a reshard while the stream is busy: retry a little.
        let mut tries = 0;
        while let Err(e) = client
            .split_shard()
            .stream_name(&stream)
            .shard_to_split(parent)
            .new_starting_hash_key("170141183460469231731687303715884105728")
            .send()
            .await
        {
            tries += 1;
            assert!(tries < 50, "SplitShard: {e:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        wait_active(&client, &stream).await;
        all.extend(put_round(&client, &stream, &keys, 1).await);
        // Merge the two children back, then put more.
        let mut children = open_shards(&client, &stream).await;
        children.sort_by(|a, b| a.1.len().cmp(&b.1.len()).then(a.1.cmp(&b.1)));
        assert_eq!(children.len(), 2, "{children:?}");
        let mut tries = 0;
        while let Err(e) = client
            .merge_shards()
            .stream_name(&stream)
            .shard_to_merge(&children[0].0)
            .adjacent_shard_to_merge(&children[1].0)
            .send()
            .await
        {
            tries += 1;
            assert!(tries < 50, "MergeShards: {e:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        wait_active(&client, &stream).await;
        all.extend(put_round(&client, &stream, &keys, 2).await);
    });
    wait_until(Duration::from_secs(120), || {
        audit_ids(&out).len() >= all.len()
    });
    std::thread::sleep(Duration::from_millis(500));
    let log = forwarder.log_text();
    assert_eq!(forwarder.terminate(), Some(0), "{log}");
    let ids = audit_ids(&out);
    assert_eq!(ids.keys().cloned().collect::<BTreeSet<_>>(), all, "{log}");
    assert!(ids.values().all(|&n| n == 1), "duplicates: {ids:?}");
    // Per key, rounds come out in order: parents were drained before children.
    let mut rounds: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for line in read_text(&out).lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        let id = value["auditID"].as_str().unwrap();
        let mut parts = id.split(':');
        let key = parts.next().unwrap().to_string();
        let round: usize = parts.next().unwrap().parse().unwrap();
        rounds.entry(key).or_default().push(round);
    }
    for (key, seen) in rounds {
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{key}: {seen:?}");
    }
    assert!(log.matches("Shard read to its end").count() >= 3, "{log}");
    // kinesis-local counts shards against an account limit: leave none behind.
    let _ = rt.block_on(client.delete_stream().stream_name(&stream).send());
}

/// Enhanced fan-out against kinesis-local (moto has no SubscribeToShard): the consumer
/// is registered, records are pushed, every auditID comes out once.
#[test]
#[cfg_attr(
    not(has_kinesis_local),
    ignore = "needs kinesis-local: npm install kinesis-local@0.6.2, run it, set EKSAUDIT_TEST_KINESIS_LOCAL"
)]
fn enhanced_fan_out_reads_every_record() {
    let endpoint = kinesis_local();
    let rt = runtime();
    let client = aws_sdk_kinesis::Client::new(&sdk_config_for(&endpoint));
    let stream = unique("efo");
    let keys: Vec<String> = (0..6).map(|k| format!("key{k}")).collect();
    let mut all = BTreeSet::new();
    rt.block_on(async {
        client
            .create_stream()
            .stream_name(&stream)
            .shard_count(2)
            .send()
            .await
            .unwrap();
        wait_active(&client, &stream).await;
        all.extend(put_round(&client, &stream, &keys, 0).await);
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let sink = format!("file://{}", out.display());
    let ck = dir.path().join("ck");
    let source = format!("kinesis://{stream}?start=trim_horizon&efo=eksaudit-test");
    let forwarder = Forwarder::start_with(
        &endpoint,
        &[
            "--source",
            &source,
            "--sink",
            &sink,
            "--checkpoint-dir",
            ck.to_str().unwrap(),
        ],
        &dir.path().join("log"),
    );
    wait_until(Duration::from_secs(60), || {
        audit_ids(&out).len() >= all.len()
    });
    // Records put while subscribed are pushed too.
    rt.block_on(async { all.extend(put_round(&client, &stream, &keys, 1).await) });
    wait_until(Duration::from_secs(60), || {
        audit_ids(&out).len() >= all.len()
    });
    std::thread::sleep(Duration::from_millis(500));
    let log = forwarder.log_text();
    assert_eq!(forwarder.terminate(), Some(0), "{log}");
    let ids = audit_ids(&out);
    assert_eq!(ids.keys().cloned().collect::<BTreeSet<_>>(), all, "{log}");
    assert!(ids.values().all(|&n| n == 1), "duplicates: {ids:?}");
    assert!(
        log.contains("Registered an enhanced fan-out consumer"),
        "{log}"
    );
    assert!(read_text(&ck.join("forward.json")).contains("shardId-"));
    let _ = rt.block_on(client.delete_stream().stream_name(&stream).send());
}
