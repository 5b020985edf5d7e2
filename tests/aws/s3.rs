//! `s3://` history: CloudWatch Logs exports (gzip JSON lines) and Firehose deliveries
//! (gzip envelopes) in moto's S3, read in key order, checkpointed per object; the
//! forwarder ends when every object was read, and a second run reads only new objects.

use std::collections::BTreeSet;

use crate::support::*;

#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn s3_history_in_key_order_with_checkpoints() {
    let rt = runtime();
    let config = sdk_config();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    let bucket = unique("audit").to_lowercase();
    let put_object = |key: &str, body: Vec<u8>| {
        rt.block_on(
            s3.put_object()
                .bucket(&bucket)
                .key(key)
                .body(aws_sdk_s3::primitives::ByteStream::from(body))
                .send(),
        )
        .unwrap();
    };
    rt.block_on(s3.create_bucket().bucket(&bucket).send())
        .unwrap();
    // A Firehose delivery of the subscription: gzip envelopes back to back.
    let mut firehose = audit_envelope("prod", &["fh-1".into(), "fh-2".into()]);
    firehose.extend(audit_envelope("prod", &["fh-3".into()]));
    put_object("eks/prod/2026/11/29/firehose-1.gz", firehose);
    // A CloudWatch Logs export: gzip of "<timestamp> <message>" lines would need the
    // timestamp cut; exports of audit logs as JSON lines (one event per line) are read
    // as they are.
    let lines = format!("{}\n{}\n", audit_event("ex-1"), audit_event("ex-2"));
    put_object(
        "eks/prod/2026/11/28/export-000000.gz",
        gzip(lines.as_bytes()),
    );
    put_object(
        "other/ignored.gz",
        gzip(audit_event("other").to_string().as_bytes()),
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let sink = format!("file://{}", out.display());
    let ck = dir.path().join("ck");
    let source = format!("s3://{bucket}/eks/prod/");
    let args = [
        "--source",
        source.as_str(),
        "--sink",
        sink.as_str(),
        "--checkpoint-dir",
        ck.to_str().unwrap(),
        "--metrics-address",
        "off",
    ];
    let run = || {
        let mut forwarder = Forwarder::start(&args, &dir.path().join("log"));
        let status = forwarder.child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{}", forwarder.log_text());
    };
    run();
    let order: Vec<String> = read_text(&out)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["auditID"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    // Key order: 2026/11/28 before 2026/11/29; the other prefix is not read.
    assert_eq!(order, ["ex-1", "ex-2", "fh-1", "fh-2", "fh-3"]);
    // Nothing new: a second run reads nothing.
    run();
    assert_eq!(line_count(&out), 5);
    // A new object: only it.
    put_object(
        "eks/prod/2026/11/30/firehose-2.gz",
        audit_envelope("prod", &["fh-4".into()]),
    );
    run();
    let ids: BTreeSet<String> = audit_ids(&out).into_keys().collect();
    assert_eq!(ids.len(), 6);
    assert!(ids.contains("fh-4"));
    assert!(audit_ids(&out).values().all(|&n| n == 1));
    assert!(read_text(&ck.join("forward.json")).contains("firehose-2.gz"));
}

/// `eksaudit replay` hunts over the same history with rules: a local file and an
/// `s3://` prefix in one command, read in the order given, the alerts on stdout.
#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn replay_reads_s3_history_with_rules() {
    let rt = runtime();
    let config = sdk_config();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    let bucket = unique("hunt").to_lowercase();
    rt.block_on(s3.create_bucket().bucket(&bucket).send())
        .unwrap();
    for (key, ids) in [
        ("audit/2026/11/02/b.gz", vec!["s3-3".to_string()]),
        ("audit/2026/11/01/a.gz", vec!["s3-1".into(), "s3-2".into()]),
    ] {
        rt.block_on(
            s3.put_object()
                .bucket(&bucket)
                .key(key)
                .body(audit_envelope("prod", &ids).into())
                .send(),
        )
        .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        "- rule: Pods listed\n  desc: any list of pods\n  condition: ka.verb=list and ka.target.resource=pods\n  output: listed (id=%ka.auditid)\n  priority: NOTICE\n  source: k8s_audit\n",
    )
    .unwrap();
    let local = dir.path().join("local.jsonl");
    std::fs::write(&local, format!("{}\n", audit_event("local-1"))).unwrap();
    let source = format!("s3://{bucket}/audit/");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_eksaudit"))
        .args(["replay", "--format", "json", "--rules"])
        .arg(&rules)
        .arg(&local)
        .arg(&source)
        .env("AWS_ENDPOINT_URL", endpoint())
        .env("AWS_ACCESS_KEY_ID", "AKIAEKSAUDITTESTKEY1")
        .env("AWS_SECRET_ACCESS_KEY", "test-secret-never-logged")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let ids: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| {
            let alert: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_eq!(alert["rule"], "Pods listed");
            alert["output_fields"]["ka.auditid"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids, ["local-1", "s3-1", "s3-2", "s3-3"], "{stderr}");
    assert!(stderr.contains("4 events, 4 alerts"), "{stderr}");
    assert!(!stderr.contains("test-secret-never-logged"));

    // A live source is not history: refused with the command that reads it.
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_eksaudit"))
        .args(["replay", "kinesis://stream"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("eksaudit forward --source 'kinesis://stream'"),
        "{stderr}"
    );
}
