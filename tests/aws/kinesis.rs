//! `kinesis://` through `eksaudit forward`: the subscription path end to end, bad
//! records, and `kill -9` with restarts.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_cloudwatchlogs::types::InputLogEvent;

use crate::support::*;

/// EKS → CloudWatch Logs → subscription filter → Kinesis → `eksaudit forward` → JSON
/// lines: every auditID put comes out once.
#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn subscription_filter_to_json_lines() {
    let rt = runtime();
    let config = sdk_config();
    let kinesis = aws_sdk_kinesis::Client::new(&config);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let stream = unique("sub");
    let cluster = unique("prod");
    let group = format!("/aws/eks/{cluster}/cluster");
    let log_stream = "kube-apiserver-audit-a1b2c3";
    let mut put_ids = BTreeSet::new();
    rt.block_on(async {
        create_stream(&kinesis, &stream, 2).await;
        let arn = kinesis
            .describe_stream_summary()
            .stream_name(&stream)
            .send()
            .await
            .unwrap()
            .stream_description_summary()
            .unwrap()
            .stream_arn()
            .to_string();
        logs.create_log_group()
            .log_group_name(&group)
            .send()
            .await
            .unwrap();
        logs.create_log_stream()
            .log_group_name(&group)
            .log_stream_name(log_stream)
            .send()
            .await
            .unwrap();
        logs.put_subscription_filter()
            .log_group_name(&group)
            .filter_name("eksaudit")
            .filter_pattern("")
            .destination_arn(arn)
            .role_arn("arn:aws:iam::123456789012:role/CWLtoKinesis")
            .send()
            .await
            .unwrap();
        for call in 0..5 {
            let mut events = Vec::new();
            for i in 0..20 {
                let id = format!("sub-{call}-{i}");
                events.push(
                    InputLogEvent::builder()
                        .timestamp(now_ms())
                        .message(audit_event(&id).to_string())
                        .build()
                        .unwrap(),
                );
                put_ids.insert(id);
            }
            logs.put_log_events()
                .log_group_name(&group)
                .log_stream_name(log_stream)
                .set_log_events(Some(events))
                .send()
                .await
                .unwrap();
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let source = format!("kinesis://{stream}?start=trim_horizon");
    let sink = format!("file://{}", out.display());
    let checkpoints = dir.path().join("ck");
    let forwarder = Forwarder::start(
        &[
            "--source",
            &source,
            "--sink",
            &sink,
            "--checkpoint-dir",
            checkpoints.to_str().unwrap(),
        ],
        &dir.path().join("log"),
    );
    wait_until(Duration::from_secs(60), || {
        line_count(&out) >= put_ids.len()
    });
    std::thread::sleep(Duration::from_millis(500));
    let log = forwarder.log_text();
    assert_eq!(forwarder.terminate(), Some(0), "{log}");
    let ids = audit_ids(&out);
    assert_eq!(
        ids.keys().cloned().collect::<BTreeSet<_>>(),
        put_ids,
        "{log}"
    );
    assert!(ids.values().all(|&n| n == 1), "duplicates: {ids:?}");
    // Each event says where it came from.
    let first: serde_json::Value =
        serde_json::from_str(read_text(&out).lines().next().unwrap()).unwrap();
    let annotations = &first["annotations"];
    assert_eq!(annotations["eksaudit/cluster"], cluster.as_str());
    assert_eq!(annotations["eksaudit/log-group"], group.as_str());
    assert!(
        annotations["eksaudit/kinesis-shard"]
            .as_str()
            .unwrap()
            .starts_with("shardId-")
    );
    assert!(annotations["eksaudit/kinesis-sequence"].is_string());
    assert!(read_text(&checkpoints.join("forward.json")).contains("shardId-"));
}

/// Records no subscription produces: a control message, a truncated message, bad gzip,
/// not an envelope, and a 1 MiB event — each counted and logged, the stream goes on.
#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn bad_records_are_counted_and_the_stream_goes_on() {
    let rt = runtime();
    let kinesis = aws_sdk_kinesis::Client::new(&sdk_config());
    let stream = unique("bad");
    rt.block_on(async {
        create_stream(&kinesis, &stream, 1).await;
        put(&kinesis, &stream, "a", audit_envelope("c", &["before".into()])).await;
        let control = serde_json::json!({
            "messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "",
            "logStream": "", "subscriptionFilters": [],
            "logEvents": [{"id": "", "timestamp": now_ms(), "message": "CWL CONTROL MESSAGE: Checking health of destination Kinesis stream."}]
        });
        put(&kinesis, &stream, "a", gzip(control.to_string().as_bytes())).await;
        let truncated = format!("{}[Truncated...]", &audit_event("cut").to_string()[..200]);
        put(&kinesis, &stream, "a", envelope("c", &[truncated])).await;
        put(&kinesis, &stream, "a", b"\x1f\x8b\x08\x00garbage".to_vec()).await;
        put(&kinesis, &stream, "a", gzip(b"{\"hello\":\"world\"}")).await;
        let mut big = audit_event("big");
        big["requestObject"] = serde_json::json!({"data": "x".repeat(1024 * 1024)});
        put(&kinesis, &stream, "a", envelope("c", &[big.to_string()])).await;
        put(&kinesis, &stream, "a", audit_envelope("c", &["after".into()])).await;
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let source = format!("kinesis://{stream}?start=trim_horizon");
    let sink = format!("file://{}", out.display());
    let ck = dir.path().join("ck");
    let forwarder = Forwarder::start(
        &[
            "--source",
            &source,
            "--sink",
            &sink,
            "--checkpoint-dir",
            ck.to_str().unwrap(),
            "--max-event-size",
            "2097152",
        ],
        &dir.path().join("log"),
    );
    wait_until(Duration::from_secs(60), || line_count(&out) >= 3);
    std::thread::sleep(Duration::from_millis(300));
    let log = forwarder.log_text();
    assert_eq!(
        forwarder.terminate(),
        Some(1),
        "decode problems exit 1: {log}"
    );
    let ids = audit_ids(&out);
    let expected: BTreeSet<String> = ["before", "big", "after"].map(String::from).into();
    assert_eq!(
        ids.keys().cloned().collect::<BTreeSet<_>>(),
        expected,
        "{log}"
    );
    for needle in ["Truncated", "gzip", "not recognized as a k8s audit event"] {
        assert!(
            log.to_lowercase().contains(&needle.to_lowercase()),
            "log names {needle}: {log}"
        );
    }
    assert!(log.contains(&stream), "errors name the stream: {log}");
}

/// `kill -9` of a real forwarder ten times while records arrive, then a last run: no
/// auditID lost; with a file sink, none written twice either.
#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn kill_dash_nine_loses_nothing() {
    let rt = runtime();
    let kinesis = aws_sdk_kinesis::Client::new(&sdk_config());
    let stream = unique("kill");
    rt.block_on(create_stream(&kinesis, &stream, 2));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let source = format!("kinesis://{stream}?start=trim_horizon");
    let sink = format!("file://{}", out.display());
    let ck = dir.path().join("ck");
    let args = [
        "--source",
        source.as_str(),
        "--sink",
        sink.as_str(),
        "--checkpoint-dir",
        ck.to_str().unwrap(),
    ];
    let log = dir.path().join("log");
    let put_ids = produce_while_killing(&stream, "k", &args, &log);
    let forwarder = Forwarder::start(&args, &log);
    wait_until(Duration::from_secs(90), || {
        audit_ids(&out).len() >= put_ids.len()
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(forwarder.terminate(), Some(0));
    let ids = audit_ids(&out);
    let got: BTreeSet<String> = ids.keys().cloned().collect();
    let lost: Vec<_> = put_ids.difference(&got).collect();
    assert!(lost.is_empty(), "lost {} auditIDs: {lost:?}", lost.len());
    let duplicates: usize = ids.values().map(|n| n - 1).sum();
    eprintln!(
        "kill -9 x10: {} auditIDs put, 0 lost, {duplicates} duplicates",
        put_ids.len()
    );
    assert_eq!(duplicates, 0, "the file sink is cut back to its checkpoint");
}

/// Puts `records` records of `per_record` events on a new stream; the auditIDs put.
fn stream_with_records(
    shards: i32,
    records: usize,
    per_record: usize,
) -> (String, BTreeSet<String>) {
    let rt = runtime();
    let kinesis = aws_sdk_kinesis::Client::new(&sdk_config());
    let stream = unique("s");
    let mut ids = BTreeSet::new();
    rt.block_on(async {
        create_stream(&kinesis, &stream, shards).await;
        for r in 0..records {
            let batch: Vec<String> = (0..per_record)
                .map(|i| format!("{stream}-{r}-{i}"))
                .collect();
            ids.extend(batch.iter().cloned());
            put(
                &kinesis,
                &stream,
                &format!("key-{r}"),
                audit_envelope("c", &batch),
            )
            .await;
        }
    });
    (stream, ids)
}

/// Runs a forwarder on `stream` through `endpoint` until `expected` auditIDs are out;
/// the IDs with their counts, and the log.
fn forward_all(
    endpoint: &str,
    source: &str,
    expected: usize,
) -> (std::collections::BTreeMap<String, usize>, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let sink = format!("file://{}", out.display());
    let ck = dir.path().join("ck");
    let forwarder = Forwarder::start_with(
        endpoint,
        &[
            "--source",
            source,
            "--sink",
            &sink,
            "--checkpoint-dir",
            ck.to_str().unwrap(),
        ],
        &dir.path().join("log"),
    );
    wait_until(Duration::from_secs(90), || {
        audit_ids(&out).len() >= expected
    });
    std::thread::sleep(Duration::from_millis(300));
    let log = forwarder.log_text();
    assert_eq!(forwarder.terminate(), Some(0), "{log}");
    (audit_ids(&out), log)
}

/// Throttling (ProvisionedThroughputExceeded, 503) on most GetRecords calls: the
/// readers back off and go on; nothing is lost or repeated, and the log says so.
#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn throttling_backs_off_and_never_ends_the_source() {
    use crate::proxy::{Fault, Proxy};
    let (stream, put_ids) = stream_with_records(2, 12, 5);
    let proxy = Proxy::start(
        endpoint(),
        Box::new(|target, n| match target {
            // Four calls in five fail for the first forty: more than the SDK would
            // retry on its own.
            "Kinesis_20131202.GetRecords" if n < 40 && n % 5 != 4 => Some(if n % 2 == 0 {
                Fault::Throttle
            } else {
                Fault::Unavailable
            }),
            "Kinesis_20131202.ListShards" if n == 0 => Some(Fault::Throttle),
            _ => None,
        }),
    );
    let (ids, log) = forward_all(
        &proxy.url,
        &format!("kinesis://{stream}?start=trim_horizon"),
        put_ids.len(),
    );
    assert_eq!(ids.keys().cloned().collect::<BTreeSet<_>>(), put_ids);
    assert!(ids.values().all(|&n| n == 1), "duplicates: {ids:?}");
    // Calls 0-3 and 5-8 fail before the second shard's records can be read.
    assert!(proxy.count(Fault::Throttle) >= 4);
    assert!(proxy.count(Fault::Unavailable) >= 4);
    assert!(log.contains("GetRecords throttled"), "{log}");
    assert!(log.contains("ListShards failed"), "{log}");
}

/// Expired iterators: a new iterator after the last record read, no loss, no repeat.
#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn expired_iterators_resume_after_the_last_record() {
    use crate::proxy::{Fault, Proxy};
    let (stream, put_ids) = stream_with_records(1, 10, 4);
    let proxy = Proxy::start(
        endpoint(),
        Box::new(|target, n| {
            (target == "Kinesis_20131202.GetRecords" && (n == 2 || n == 5))
                .then_some(Fault::ExpireIterator)
        }),
    );
    // Two records per call, so the expiries fall in the middle of the shard.
    let (ids, log) = forward_all(
        &proxy.url,
        &format!("kinesis://{stream}?start=trim_horizon&max_records=2"),
        put_ids.len(),
    );
    assert_eq!(ids.keys().cloned().collect::<BTreeSet<_>>(), put_ids);
    assert!(ids.values().all(|&n| n == 1), "duplicates: {ids:?}");
    assert_eq!(proxy.count(Fault::ExpireIterator), 2);
    assert_eq!(log.matches("Shard iterator expired").count(), 2, "{log}");
}

/// A stream in another account, read through AssumeRole with an ExternalId (the shape
/// a vendor's onboarding asks for); the caller's own account does not have it. The
/// credentials used never appear in the log.
#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn cross_account_stream_through_assume_role() {
    use aws_config::sts::AssumeRoleProvider;
    let rt = runtime();
    let role = "arn:aws:iam::222222222222:role/eksaudit-reader";
    let stream = unique("xacct");
    let ids: Vec<String> = (0..5).map(|i| format!("{stream}-{i}")).collect();
    let base = sdk_config();
    rt.block_on(async {
        // moto puts what assumed-role credentials create in the role's account.
        let provider = AssumeRoleProvider::builder(role)
            .session_name("setup")
            .external_id("vendor-42")
            .configure(&base)
            .build()
            .await;
        let other = base
            .to_builder()
            .credentials_provider(aws_sdk_kinesis::config::SharedCredentialsProvider::new(
                provider,
            ))
            .build();
        let kinesis = aws_sdk_kinesis::Client::new(&other);
        create_stream(&kinesis, &stream, 1).await;
        put(&kinesis, &stream, "k", audit_envelope("c", &ids)).await;
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let sink = format!("file://{}", out.display());
    let ck = dir.path().join("ck");
    // Without the role, the stream is not in the caller's account.
    let log = dir.path().join("direct.log");
    let mut direct = Forwarder::start(
        &[
            "--source",
            &format!("kinesis://{stream}?start=trim_horizon"),
            "--sink",
            &sink,
            "--checkpoint-dir",
            ck.to_str().unwrap(),
        ],
        &log,
    );
    let status = direct.child.wait().unwrap();
    assert_eq!(status.code(), Some(2));
    let text = read_text(&log);
    assert!(text.contains("ResourceNotFoundException"), "{text}");
    assert!(
        text.contains("arn:aws:sts::123456789012:user/moto"),
        "names the caller: {text}"
    );
    assert!(text.contains("needs role_arn"), "{text}");
    // With it, the events come.
    let source = format!(
        "kinesis://{stream}?start=trim_horizon&role_arn={role}&external_id=vendor-42&session_name=eksaudit-test"
    );
    let log = dir.path().join("role.log");
    let forwarder = Forwarder::start(
        &[
            "--source",
            &source,
            "--sink",
            &sink,
            "--checkpoint-dir",
            ck.to_str().unwrap(),
        ],
        &log,
    );
    wait_until(Duration::from_secs(60), || line_count(&out) >= ids.len());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(forwarder.terminate(), Some(0));
    let got = audit_ids(&out);
    assert_eq!(got.keys().cloned().collect::<Vec<_>>(), {
        let mut sorted = ids.clone();
        sorted.sort();
        sorted
    });
    let text = read_text(&log);
    for secret in ["test-secret-never-logged", "AKIAEKSAUDITTESTKEY1"] {
        assert!(!text.contains(secret), "credential in the log: {text}");
    }
}
