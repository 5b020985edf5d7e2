//! `cargo bench`: eksaudit's hot path against a bare baseline, measured in the same run.
//!
//! Input: gzip CloudWatch Logs subscription envelopes (what a Kinesis record holds), 50
//! log events each, built from every valid event of Falco's upstream k8s-audit traces.
//!
//! * `baseline`: gunzip each record, parse the envelope into a `serde_json::Value`, and
//!   parse each message into a `serde_json::Value`: the least any DOM-based consumer does.
//! * `decode_extract`: eksaudit decodes each record into events (gunzip, envelope,
//!   validation, compaction, annotations) and extracts the ~30 fields the upstream
//!   k8saudit rules read, for every event.
//! * `decode_rules`: the whole pipeline on one core: decode, evaluate Falco's upstream
//!   k8s_audit_rules.yaml 0.18.0 (first match, as Falco does) and render every alert as
//!   Falco's json_output line.
//!
//! After criterion's own report, the ratio `baseline time / eksaudit time` (higher is
//! better; ≥ 1.0 means eksaudit does more work in less time than a bare DOM parse) and
//! events/s are printed from criterion's estimates.

use std::hint::black_box;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use criterion::{Criterion, Throughput};
use eksaudit::decode::{DecodeOptions, Decoder, Location};
use eksaudit::fields::{FieldRequest, extract};
use eksaudit::rules::{Alert, Engine, EngineOptions, RulesFile};

/// The fields the upstream k8s_audit_rules.yaml 0.18.0 conditions read.
const RULE_FIELDS: &[&str] = &[
    "jevt.value[/stage]",
    "jevt.rawtime",
    "ka.user.name",
    "ka.target.name",
    "ka.target.resource",
    "ka.target.namespace",
    "ka.target.subresource",
    "ka.response.code",
    "ka.response.reason",
    "ka.auth.reason",
    "ka.auth.decision",
    "ka.verb",
    "ka.uri",
    "ka.uri.param[command]",
    "ka.resp.name",
    "ka.req.configmap.name",
    "ka.req.configmap.obj",
    "ka.req.pod.containers.image",
    "ka.req.pod.containers.image.repository",
    "ka.req.pod.containers.privileged",
    "ka.req.pod.initContainers.privileged",
    "ka.req.pod.ephemeralContainers.privileged",
    "ka.req.pod.volumes.hostpath",
    "ka.req.pod.host_network",
    "ka.req.pod.host_pid",
    "ka.req.pod.host_ipc",
    "ka.req.role.rules",
    "ka.req.role.rules.verbs",
    "ka.req.role.rules.resources",
    "ka.req.binding.subjects",
    "ka.req.binding.role",
    "ka.req.service.type",
    "ka.req.service.ports",
    "jevt.value[/requestObject/spec/volumes]",
    "jevt.value[/requestObject/spec/tls]",
];

const EVENTS_PER_ENVELOPE: usize = 50;
const ENVELOPES: usize = 40;

fn fixtures() -> PathBuf {
    std::env::var_os("EKSAUDIT_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/upstream")
        })
}

/// The project's own EKS audit events (the bundled samples' messages and the test
/// events), the input when Falco's upstream fixtures are absent (a fresh clone): the bench
/// still runs, on less varied data, and says so.
fn own_events() -> Vec<String> {
    let mut lines = Vec::new();
    let samples = std::str::from_utf8(eksaudit::bundled::SAMPLE_EVENTS).unwrap();
    for envelope in samples.lines() {
        let envelope: serde_json::Value = serde_json::from_str(envelope).unwrap();
        for log_event in envelope["logEvents"].as_array().unwrap() {
            let message = log_event["message"].as_str().unwrap();
            if message.contains("\"stageTimestamp\"") {
                lines.push(message.to_string());
            }
        }
    }
    let events = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/events");
    let pod = std::fs::read_to_string(events.join("privileged-pod.json")).unwrap();
    lines.push(pod.trim_end().to_string());
    let list: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(events.join("eventlist.json")).unwrap())
            .unwrap();
    for item in list["items"].as_array().unwrap() {
        lines.push(item.to_string());
    }
    lines
}

/// Every valid audit event line of the upstream traces (the project's own events without
/// them).
fn trace_events() -> Vec<String> {
    if !cfg!(has_upstream_fixtures) {
        return own_events();
    }
    let mut lines = Vec::new();
    for dir in [
        "falco-0.31.1/test/trace_files/k8s_audit",
        "falco-0.31.1/test/trace_files/psp",
    ] {
        let mut files: Vec<_> = std::fs::read_dir(fixtures().join(dir))
            .expect("upstream traces")
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for file in files {
            for line in std::fs::read_to_string(&file).unwrap().lines() {
                if line.contains("\"stageTimestamp\"") {
                    lines.push(line.to_string());
                }
            }
        }
    }
    lines
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// Gzip subscription envelopes, as Kinesis records carry them.
fn records() -> (Vec<Vec<u8>>, u64) {
    let events = trace_events();
    let mut records = Vec::new();
    let mut n = 0;
    for e in 0..ENVELOPES {
        let log_events: Vec<_> = (0..EVENTS_PER_ENVELOPE)
            .map(|i| {
                n += 1;
                serde_json::json!({
                    "id": format!("{:056}", e * EVENTS_PER_ENVELOPE + i),
                    "timestamp": 1_700_000_000_000u64 + n as u64,
                    "message": events[n % events.len()],
                })
            })
            .collect();
        // Keys in the order CloudWatch Logs writes them.
        let envelope = format!(
            r#"{{"messageType":"DATA_MESSAGE","owner":"111122223333","logGroup":"/aws/eks/prod/cluster","logStream":"kube-apiserver-audit-0123456789abcdef0123456789abcdef","subscriptionFilters":["eks-audit-to-kinesis"],"logEvents":{}}}"#,
            serde_json::Value::Array(log_events)
        );
        records.push(gzip(envelope.as_bytes()));
    }
    (records, n as u64)
}

fn baseline(records: &[Vec<u8>]) -> usize {
    let mut buf = Vec::new();
    let mut messages = 0;
    for record in records {
        buf.clear();
        flate2::read::MultiGzDecoder::new(&record[..])
            .read_to_end(&mut buf)
            .unwrap();
        let envelope: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        for log_event in envelope["logEvents"].as_array().unwrap() {
            let message = log_event["message"].as_str().unwrap();
            let event: serde_json::Value = serde_json::from_str(message).unwrap();
            messages += black_box(&event).as_object().map_or(0, |_| 1);
        }
    }
    messages
}

/// Decodes every record with one decoder, as a shard consumer does, calling `each` on
/// every event.
fn decode_records(
    records: &[Vec<u8>],
    options: &DecodeOptions,
    mut each: impl FnMut(eksaudit::decode::Decoded),
) {
    let mut decoder = Decoder::new(options.clone());
    let location = Location::new("kinesis");
    for record in records {
        decoder.push_record(record, &location);
        while let Some(item) = decoder.pop() {
            each(item.unwrap());
        }
    }
}

fn decode_extract(
    records: &[Vec<u8>],
    requests: &[FieldRequest],
    options: &DecodeOptions,
) -> usize {
    let mut values = 0;
    decode_records(records, options, |decoded| {
        let view = decoded.event.view();
        for request in requests {
            if let Ok(Some(v)) = extract(&view, request.field, request.arg.as_arg()) {
                values += black_box(v).as_slice().len();
            }
        }
    });
    values
}

/// Falco's upstream k8s audit rules 0.18.0 (the bundled rules without the fixtures).
fn upstream_rules() -> Engine {
    let files = if cfg!(has_upstream_fixtures) {
        let path =
            fixtures().join("plugins-k8saudit-0.18.0/plugins/k8saudit/rules/k8s_audit_rules.yaml");
        vec![RulesFile::from_path(&path).expect("upstream rules")]
    } else {
        eksaudit::bundled::rules_files()
    };
    let options = EngineOptions {
        hostname: "bench".into(),
        ..EngineOptions::default()
    };
    let (engine, _) = Engine::load(&files, &options).expect("rules load");
    engine
}

/// Decodes, evaluates and renders alerts; returns (events, alerts, rendered bytes).
fn decode_rules(
    records: &[Vec<u8>],
    engine: &Engine,
    options: &DecodeOptions,
) -> (u64, u64, usize) {
    let mut evaluator = engine.evaluator();
    let mut alerts: Vec<Alert> = Vec::new();
    let (mut events, mut alert_count, mut bytes) = (0, 0, 0);
    decode_records(records, options, |decoded| {
        events += 1;
        alerts.clear();
        evaluator.evaluate(&decoded.event.view(), events, &mut alerts);
        for alert in &alerts {
            alert_count += 1;
            bytes += black_box(alert.to_json()).len();
        }
    });
    (events, alert_count, bytes)
}

fn mean_ns(group: &str, bench: &str) -> Option<f64> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let path = target
        .join("criterion")
        .join(group)
        .join(bench)
        .join("new/estimates.json");
    let estimates: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    estimates["mean"]["point_estimate"].as_f64()
}

fn main() {
    let (records, events) = records();
    let bytes: usize = records.iter().map(Vec::len).sum();
    let requests: Vec<FieldRequest> = RULE_FIELDS
        .iter()
        .map(|f| FieldRequest::parse(f).unwrap())
        .collect();
    let options = DecodeOptions::default();
    assert!(decode_extract(&records, &requests, &options) > 0);

    let mut criterion = Criterion::default().configure_from_args();
    let group_name = "pipeline";
    let mut group = criterion.benchmark_group(group_name);
    group.throughput(Throughput::Elements(events));
    group.bench_function("baseline", |b| b.iter(|| baseline(black_box(&records))));
    if std::env::var_os("EKSAUDIT_BENCH_PHASES").is_some() {
        group.bench_function("decode_only", |b| {
            b.iter(|| decode_extract(black_box(&records), &[], &options))
        });
    }
    group.bench_function("decode_extract", |b| {
        b.iter(|| decode_extract(black_box(&records), &requests, &options))
    });
    let engine = upstream_rules();
    let (_, alerts, _) = decode_rules(&records, &engine, &options);
    group.bench_function("decode_rules", |b| {
        b.iter(|| decode_rules(black_box(&records), &engine, &options))
    });
    group.finish();
    criterion.final_summary();

    let per_sec = |ns: f64| events as f64 / (ns / 1e9);
    let Some(base) = mean_ns(group_name, "baseline") else {
        return;
    };
    println!();
    if !cfg!(has_upstream_fixtures) {
        println!(
            "Falco's upstream fixtures are absent (set EKSAUDIT_FIXTURES): input built from \
             the project's own events, rules are the bundled rules; not comparable with the \
             README's figures"
        );
    }
    println!(
        "input: {ENVELOPES} gzip envelopes, {events} events, {bytes} compressed bytes; \
         the rules raise {alerts} alerts"
    );
    let baseline = "baseline (gunzip + serde_json::Value of envelope and messages)";
    println!("{baseline:<62} {:>10.0} events/s", per_sec(base));
    let benches = [
        (
            "decode_extract",
            format!(
                "eksaudit decode + extract {} rule fields",
                RULE_FIELDS.len()
            ),
        ),
        (
            "decode_rules",
            "eksaudit decode + upstream 0.18.0 rules + JSON alerts".to_string(),
        ),
    ];
    for (bench, what) in benches {
        if let Some(ours) = mean_ns(group_name, bench) {
            println!(
                "{what:<62} {:>10.0} events/s  ratio {:.2}x",
                per_sec(ours),
                base / ours
            );
        }
    }
}
