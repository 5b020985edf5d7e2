//! The hostile-input corpus: inputs built to break a decoder (truncated gzip, a gzip
//! bomb, 10,000-deep nesting, a 50 MiB line, invalid UTF-8, every field with the wrong
//! JSON type, NaN and huge numbers, duplicate keys, a BOM, CRLF, CloudWatch's
//! `[Truncated...]`, control messages, envelopes of 10,000 log events), each with what
//! eksaudit must make of it. Written at test time (the large ones would bloat the
//! repository); shared by the CLI, plugin and Kinesis tests, which feed the same bytes
//! through each way in.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};

/// One hostile input and the outcome it must have.
#[derive(Debug)]
pub struct Case {
    /// File name in the corpus directory.
    pub name: &'static str,
    /// The file.
    pub path: PathBuf,
    /// Events that must come out of it.
    pub events: u64,
    /// Problems that must be counted, by kind label (`eksaudit_decode_errors_total`).
    pub errors: &'static [(&'static str, u64)],
    /// Whether it fits in one Kinesis record (1 MiB).
    pub fits_a_record: bool,
    /// The problems when it comes as one Kinesis record, where they differ: a record is
    /// inflated whole, and cut at `max_inflated_record`.
    pub record_errors: Option<&'static [(&'static str, u64)]>,
}

/// A well-formed EKS audit event.
pub fn event(audit_id: &str) -> Value {
    json!({
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": audit_id,
        "stage": "ResponseComplete",
        "requestURI": "/api/v1/namespaces/default/secrets/db",
        "verb": "get",
        "user": {"username": "alice", "groups": ["system:authenticated"]},
        "sourceIPs": ["192.0.2.10"],
        "objectRef": {"resource": "secrets", "namespace": "default", "name": "db", "apiVersion": "v1"},
        "responseStatus": {"code": 200},
        "requestReceivedTimestamp": "2026-11-30T10:00:00.000000Z",
        "stageTimestamp": "2026-11-30T10:00:00.001000Z"
    })
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A CloudWatch subscription envelope of `messages` (not compressed).
fn envelope(message_type: &str, messages: &[String]) -> Vec<u8> {
    let log_events: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| json!({"id": i.to_string(), "timestamp": 1_796_032_800_000i64, "message": m}))
        .collect();
    serde_json::to_vec(&json!({
        "messageType": message_type,
        "owner": "123456789012",
        "logGroup": "/aws/eks/prod/cluster",
        "logStream": "kube-apiserver-audit-0123456789abcdef",
        "subscriptionFilters": ["eksaudit"],
        "logEvents": log_events,
    }))
    .unwrap()
}

/// A gzip bomb: a small file that inflates to `inflated` bytes of one JSON string
/// that never ends, so no document boundary is ever found.
fn gzip_bomb(inflated: usize) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder
        .write_all(b"{\"kind\":\"Event\",\"auditID\":\"")
        .unwrap();
    let chunk = vec![b'a'; 1 << 20];
    for _ in 0..inflated >> 20 {
        encoder.write_all(&chunk).unwrap();
    }
    encoder.finish().unwrap()
}

/// Writes the corpus into `dir`; the cases, in a stable order.
pub fn write(dir: &Path) -> Vec<Case> {
    std::fs::create_dir_all(dir).unwrap();
    let good = event("good").to_string();
    let mut cases = Vec::new();
    let mut add = |name: &'static str,
                   bytes: Vec<u8>,
                   events: u64,
                   errors: &'static [(&'static str, u64)]| {
        let path = dir.join(name);
        std::fs::write(&path, &bytes).unwrap();
        cases.push(Case {
            name,
            path,
            events,
            errors,
            fits_a_record: bytes.len() < 1 << 20,
            record_errors: None,
        });
    };

    // Gzip cut in the middle of its deflate stream.
    let whole = gzip(format!("{good}\n{good}\n").as_bytes());
    add(
        "truncated.gz",
        whole[..whole.len() / 2].to_vec(),
        0,
        &[("gzip", 1), ("invalid_json", 1)],
    );
    // 512 MiB of one unterminated string behind ~0.5 MiB of gzip.
    add(
        "bomb.gz",
        gzip_bomb(512 << 20),
        0,
        &[("document_too_large", 1)],
    );
    // 10,000 levels of nesting in an otherwise valid event.
    let mut deep = event("deep");
    deep["requestObject"] = json!(null);
    let deep = deep.to_string().replace(
        "\"requestObject\":null",
        &format!(
            "\"requestObject\":{}{}",
            "[".repeat(10_000),
            "]".repeat(10_000)
        ),
    );
    add(
        "deep-nesting.json",
        deep.into_bytes(),
        0,
        &[("invalid_json", 1)],
    );
    // A 50 MiB line: one event whose request body is 50 MiB.
    let mut huge = event("huge");
    huge["requestObject"] = json!({"data": "x".repeat(50 << 20)});
    add(
        "line-50mib.json",
        huge.to_string().into_bytes(),
        0,
        &[("event_too_large", 1)],
    );
    // Invalid UTF-8 inside a string is read as U+FFFD (as upstream's Go decoder reads
    // it); a raw control character in a string is not JSON.
    let mut invalid = format!("{good}\n").into_bytes();
    invalid.extend_from_slice(
        &event("bad-utf8")
            .to_string()
            .replace("alice", "al\u{7f}ice")
            .into_bytes(),
    );
    let at = invalid.iter().rposition(|&b| b == 0x7f).unwrap();
    invalid[at] = 0xff;
    invalid.push(b'\n');
    invalid.extend_from_slice(
        event("nul")
            .to_string()
            .replace("alice", "al\u{0}ice")
            .as_bytes(),
    );
    invalid.extend_from_slice(format!("\n{good}\n").as_bytes());
    add("invalid-utf8.jsonl", invalid, 3, &[("invalid_json", 1)]);
    // Every top-level field with the wrong JSON type: the event is still an event (its
    // fields just have no value), except a stageTimestamp that is not a time.
    let mut wrong = String::new();
    for (field, value) in [
        ("verb", json!(5)),
        ("user", json!("alice")),
        ("objectRef", json!([1, 2])),
        ("responseStatus", json!("ok")),
        ("sourceIPs", json!({"a": 1})),
        ("annotations", json!([true])),
        ("requestObject", json!(1.5)),
        ("auditID", json!(null)),
    ] {
        let mut e = event("wrong");
        e[field] = value;
        wrong.push_str(&e.to_string());
        wrong.push('\n');
    }
    let mut bad_time = event("bad-time");
    bad_time["stageTimestamp"] = json!(12345);
    wrong.push_str(&bad_time.to_string());
    wrong.push('\n');
    add(
        "wrong-types.jsonl",
        wrong.into_bytes(),
        8,
        &[("bad_timestamp", 1)],
    );
    // NaN is not JSON; huge and odd numbers are.
    let numbers = format!(
        "{}\n{}\n{}\n",
        good.replace("\"code\":200", "\"code\":NaN"),
        good.replace("\"code\":200", "\"code\":1e999999"),
        good.replace(
            "\"code\":200",
            "\"code\":-123456789012345678901234567890.5e-3"
        ),
    );
    add(
        "numbers.jsonl",
        numbers.into_bytes(),
        2,
        &[("invalid_json", 1)],
    );
    // Duplicate keys: valid JSON, taken as it comes.
    let duplicate = good.replacen("{", "{\"verb\":\"delete\",", 1);
    add("duplicate-keys.json", duplicate.into_bytes(), 1, &[]);
    // A UTF-8 byte order mark before the first event, and CRLF line ends.
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(format!("{good}\r\n{good}\r\n").as_bytes());
    add("bom-crlf.jsonl", bom, 2, &[]);
    // CloudWatch cut a message and marked it.
    let cut = format!("{}[Truncated...]", &good[..good.len() / 2]);
    add(
        "cloudwatch-truncated.json",
        gzip(&envelope("DATA_MESSAGE", &[good.clone(), cut])),
        1,
        &[("truncated", 1)],
    );
    // A control message (the subscription's health check): skipped, not an error.
    add(
        "cloudwatch-control.json.gz",
        gzip(&envelope(
            "CONTROL_MESSAGE",
            &["CWL CONTROL MESSAGE: Checking health of destination Kinesis stream.".into()],
        )),
        0,
        &[],
    );
    // 10,000 log events in one envelope: all good, then all broken (a log flood waiting
    // to happen: counted one by one, logged in summary).
    let many: Vec<String> = (0..10_000)
        .map(|i| event(&format!("m-{i}")).to_string())
        .collect();
    add(
        "envelope-10000.json.gz",
        gzip(&envelope("DATA_MESSAGE", &many)),
        10_000,
        &[],
    );
    let broken: Vec<String> = (0..10_000)
        .map(|i| format!("{{\"kind\":\"Event\",\"n\":{i}"))
        .collect();
    add(
        "envelope-10000-broken.json.gz",
        gzip(&envelope("DATA_MESSAGE", &broken)),
        0,
        &[("invalid_json", 10_000)],
    );
    // The bomb as one record: inflated up to the record limit, then refused as corrupt
    // gzip, and the unterminated string it holds as invalid JSON.
    for case in cases.iter_mut().filter(|c| c.name == "bomb.gz") {
        case.record_errors = Some(&[("gzip", 1), ("invalid_json", 1)]);
    }
    cases
}
