//! `eksaudit forward`'s sinks as real processes: a receiver that behaves like Falco's
//! k8saudit webhook (down for 30 s, then back: nothing lost; a too-large body refused →
//! dead-letter file), alerts to a falcosidekick-like receiver and to Amazon SNS (moto),
//! the config file and `--check`, and `/metrics` + `/healthz`.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

/// What a receiver got: per request, the content type and the body.
type Received = Arc<Mutex<Vec<(String, String)>>>;

/// A receiver on `listener`: answers 200 before parsing, as Falco's webhook does; 400 on
/// a content type other than JSON; 413-as-400 on a body over `max_body`.
fn receiver(listener: TcpListener, max_body: usize) -> Received {
    let received: Received = Arc::default();
    let store = received.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let store = store.clone();
            std::thread::spawn(move || {
                let _ = serve(conn, max_body, &store);
            });
        }
    });
    received
}

fn serve(conn: TcpStream, max_body: usize, store: &Received) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut conn = conn;
    loop {
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            if line == "\r\n" {
                break;
            }
            headers.push(line);
        }
        let header = |name: &str| {
            headers.iter().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_string())
            })
        };
        let length: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let content_type = header("content-type").unwrap_or_default();
        let (status, text) = if content_type != "application/json" {
            ("400 Bad Request", "wrong content type")
        } else if length > max_body {
            ("400 Bad Request", "body too large")
        } else {
            store
                .lock()
                .unwrap()
                .push((content_type, String::from_utf8_lossy(&body).into_owned()));
            ("200 OK", "<html><body>Ok</body></html>")
        };
        write!(
            conn,
            "HTTP/1.1 {status}\r\ncontent-length: {}\r\n\r\n{text}",
            text.len()
        )?;
    }
}

/// auditIDs in the EventLists received.
fn received_ids(received: &Received) -> Vec<String> {
    let mut ids = Vec::new();
    for (_, body) in received.lock().unwrap().iter() {
        let list: Value = serde_json::from_str(body).expect("an EventList");
        assert_eq!(list["kind"], "EventList");
        assert_eq!(list["apiVersion"], "audit.k8s.io/v1");
        for item in list["items"].as_array().unwrap() {
            ids.push(item["auditID"].as_str().unwrap().to_string());
        }
    }
    ids
}

fn stream_with(ids_per_record: &[Vec<String>]) -> String {
    let rt = runtime();
    let kinesis = aws_sdk_kinesis::Client::new(&sdk_config());
    let stream = unique("fwd");
    rt.block_on(async {
        create_stream(&kinesis, &stream, 1).await;
        for (i, ids) in ids_per_record.iter().enumerate() {
            put(
                &kinesis,
                &stream,
                &i.to_string(),
                audit_envelope("prod", ids),
            )
            .await;
        }
    });
    stream
}

fn args<'a>(extra: &[&'a str], source: &'a str, ck: &'a Path) -> Vec<&'a str> {
    let mut args = vec![
        "--source",
        source,
        "--checkpoint-dir",
        ck.to_str().unwrap(),
        "--metrics-address",
        "off",
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn webhook_down_for_30_seconds_then_back_loses_nothing() {
    let records: Vec<Vec<String>> = (0..20)
        .map(|r| (0..10).map(|i| format!("wh-{r}-{i}")).collect())
        .collect();
    let put_ids: BTreeSet<String> = records.iter().flatten().cloned().collect();
    let stream = stream_with(&records);
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ck");
    let source = format!("kinesis://{stream}?start=trim_horizon");
    let sink = format!("http://127.0.0.1:{port}/k8s-audit");
    let forwarder = Forwarder::start(
        &args(&["--sink", &sink], &source, &ck),
        &dir.path().join("log"),
    );
    // Nothing listens for 30 s: the forwarder retries and checkpoints nothing.
    std::thread::sleep(Duration::from_secs(30));
    assert!(
        forwarder.log_text().contains("Delivery failed"),
        "{}",
        forwarder.log_text()
    );
    assert!(
        !read_text(&ck.join("forward.json")).contains("shardId"),
        "no checkpoint while the sink is down"
    );
    let received = receiver(TcpListener::bind(("127.0.0.1", port)).unwrap(), 12 << 20);
    wait_until(Duration::from_secs(60), || {
        received_ids(&received).len() >= put_ids.len()
    });
    std::thread::sleep(Duration::from_millis(500));
    let log = forwarder.log_text();
    assert_eq!(forwarder.terminate(), Some(0), "{log}");
    let ids = received_ids(&received);
    assert_eq!(ids.iter().cloned().collect::<BTreeSet<_>>(), put_ids);
    assert_eq!(ids.len(), put_ids.len(), "no duplicates");
    assert!(
        received
            .lock()
            .unwrap()
            .iter()
            .all(|(ct, _)| ct == "application/json")
    );
    assert!(read_text(&ck.join("forward.json")).contains("shardId"));
}

#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn refused_batches_go_to_the_dead_letter_file() {
    // Small events, then one of 40 KB that the receiver (max 30,000 bytes) refuses.
    let mut big = audit_event("huge");
    big["requestObject"] = serde_json::json!({"data": "x".repeat(40_000)});
    let rt = runtime();
    let kinesis = aws_sdk_kinesis::Client::new(&sdk_config());
    let stream = unique("dlq");
    rt.block_on(async {
        create_stream(&kinesis, &stream, 1).await;
        put(
            &kinesis,
            &stream,
            "a",
            audit_envelope("prod", &["small-1".into(), "small-2".into()]),
        )
        .await;
        put(&kinesis, &stream, "a", envelope("prod", &[big.to_string()])).await;
        put(
            &kinesis,
            &stream,
            "a",
            audit_envelope("prod", &["small-3".into()]),
        )
        .await;
    });
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = receiver(listener, 30_000);
    let dir = tempfile::tempdir().unwrap();
    let dead = dir.path().join("dead.jsonl");
    let config = dir.path().join("forward.yaml");
    std::fs::write(
        &config,
        format!(
            "sources:\n  - kinesis://{stream}?start=trim_horizon\nsinks:\n  - type: webhook\n    url: http://127.0.0.1:{port}/k8s-audit\n    max_batch_bytes: 16384\n    dead_letter: {}\ncheckpoint_dir: {}\nmetrics_address: 127.0.0.1:0\n",
            dead.display(),
            dir.path().join("ck").display()
        ),
    )
    .unwrap();
    let forwarder = Forwarder::start(
        &["--config", config.to_str().unwrap()],
        &dir.path().join("log"),
    );
    wait_until(Duration::from_secs(60), || {
        received_ids(&received).len() >= 3
    });
    std::thread::sleep(Duration::from_millis(500));
    let log = forwarder.log_text();
    assert_eq!(forwarder.terminate(), Some(0), "{log}");
    let ids: BTreeSet<String> = received_ids(&received).into_iter().collect();
    assert_eq!(
        ids,
        ["small-1", "small-2", "small-3"].map(String::from).into()
    );
    assert!(log.contains("The webhook refused a batch"), "{log}");
    let dead_text = read_text(&dead);
    assert_eq!(dead_text.lines().count(), 1);
    let list: Value = serde_json::from_str(dead_text.lines().next().unwrap()).unwrap();
    assert_eq!(list["items"][0]["auditID"], "huge");
}

#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn alerts_to_falcosidekick_and_sns_and_metrics() {
    // An aws-auth edit by a person: the bundled "EKS aws-auth ConfigMap Modified" rule.
    let mut edit = audit_event("aws-auth-edit");
    edit["verb"] = "patch".into();
    edit["requestURI"] = "/api/v1/namespaces/kube-system/configmaps/aws-auth".into();
    edit["objectRef"] = serde_json::json!({"resource": "configmaps", "namespace": "kube-system", "name": "aws-auth", "apiVersion": "v1"});
    let rt = runtime();
    let config = sdk_config();
    let kinesis = aws_sdk_kinesis::Client::new(&config);
    let sns = aws_sdk_sns::Client::new(&config);
    let stream = unique("alerts");
    let queue_name = unique("alerts-q");
    let moto = endpoint().to_string();
    let (topic, queue_url) = rt.block_on(async {
        create_stream(&kinesis, &stream, 1).await;
        put(
            &kinesis,
            &stream,
            "a",
            audit_envelope("prod", &["quiet".into()]),
        )
        .await;
        put(
            &kinesis,
            &stream,
            "a",
            envelope("prod", &[edit.to_string()]),
        )
        .await;
        let topic = sns
            .create_topic()
            .name(unique("falco"))
            .send()
            .await
            .unwrap()
            .topic_arn()
            .unwrap()
            .to_string();
        let queue_url = sqs(
            &moto,
            "CreateQueue",
            serde_json::json!({"QueueName": queue_name}),
        )["QueueUrl"]
            .as_str()
            .unwrap()
            .to_string();
        let queue_arn = format!("arn:aws:sqs:us-east-1:123456789012:{queue_name}");
        sns.subscribe()
            .topic_arn(&topic)
            .protocol("sqs")
            .endpoint(queue_arn)
            .send()
            .await
            .unwrap();
        (topic, queue_url)
    });
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = receiver(listener, 1 << 20);
    let metrics_port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ck");
    let source = format!("kinesis://{stream}?start=trim_horizon");
    let http = format!("alerts:http://127.0.0.1:{port}/");
    let sns_sink = format!("alerts:sns://{topic}");
    let metrics = format!("127.0.0.1:{metrics_port}");
    let forwarder = Forwarder::start(
        &[
            "--source",
            &source,
            "--checkpoint-dir",
            ck.to_str().unwrap(),
            "--sink",
            &http,
            "--sink",
            &sns_sink,
            "--metrics-address",
            &metrics,
        ],
        &dir.path().join("log"),
    );
    wait_until(Duration::from_secs(60), || {
        !received.lock().unwrap().is_empty()
    });
    // falcosidekick's expected fields, in Falco's json_output shape.
    let (content_type, body) = received.lock().unwrap()[0].clone();
    assert_eq!(content_type, "application/json");
    let alert: Value = serde_json::from_str(&body).unwrap();
    for field in [
        "output",
        "priority",
        "rule",
        "time",
        "output_fields",
        "source",
        "tags",
        "hostname",
    ] {
        assert!(!alert[field].is_null(), "{field} missing: {alert}");
    }
    assert_eq!(alert["rule"], "EKS aws-auth ConfigMap Modified");
    assert_eq!(alert["source"], "k8s_audit");
    assert_eq!(
        received.lock().unwrap().len(),
        1,
        "one alert: the quiet event raised none"
    );
    // The same alert was published to SNS, with a readable subject.
    let mut message = Value::Null;
    wait_until(Duration::from_secs(30), || {
        let got = sqs(
            endpoint(),
            "ReceiveMessage",
            serde_json::json!({"QueueUrl": queue_url}),
        );
        match got["Messages"].as_array().and_then(|m| m.first()) {
            Some(m) => {
                message = serde_json::from_str(m["Body"].as_str().unwrap()).unwrap();
                true
            }
            None => false,
        }
    });
    assert_eq!(
        message["Subject"],
        "Falco Critical: EKS aws-auth ConfigMap Modified"
    );
    let published: Value = serde_json::from_str(message["Message"].as_str().unwrap()).unwrap();
    assert_eq!(published["rule"], "EKS aws-auth ConfigMap Modified");
    // Metrics (updated once the batch is checkpointed) and health.
    wait_until(Duration::from_secs(10), || {
        http_get(metrics_port, "/metrics").contains("eksaudit_forwarded_events_total 2")
    });
    let text = http_get(metrics_port, "/metrics");
    assert!(
        text.contains("eksaudit_sink_alerts_total{sink=\"alerts:sns://"),
        "{text}"
    );
    assert!(text.contains("eksaudit_source_records_total"), "{text}");
    assert!(!text.contains("test-secret-never-logged") && !text.contains("AKIAEKSAUDITTESTKEY1"));
    assert!(http_get(metrics_port, "/healthz").starts_with("HTTP/1.1 200"));
    let log = forwarder.log_text();
    assert_eq!(forwarder.terminate(), Some(0), "{log}");
}

/// One SQS JSON-protocol call to moto (SQS is only the test's window on SNS).
fn sqs(endpoint: &str, action: &str, body: Value) -> Value {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let response = agent
        .post(endpoint)
        .header("Content-Type", "application/x-amz-json-1.0")
        .header("X-Amz-Target", format!("AmazonSQS.{action}"))
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0",
        )
        .send(body.to_string().as_bytes())
        .unwrap();
    let text = response.into_body().read_to_string().unwrap();
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

#[test]
fn the_example_config_checks() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/forward.yaml");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_eksaudit"))
        .args(["forward", "--config", example.to_str().unwrap(), "--check"])
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("configuration valid"), "{stdout}");
    // A mistake is named with file, line and key.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "sources:\n  - kinesis://s?start=yesterday\n").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_eksaudit"))
        .args(["forward", "--config", bad.to_str().unwrap(), "--check"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad.yaml:2: sources:"), "{stderr}");
}

/// `kill -9` of a forwarder ten times at random moments while 3,000 events arrive, with
/// the webhook sink, then a last run: every auditID put reaches the receiver. A webhook
/// cannot take back what it got, so batches delivered but not yet checkpointed come
/// again after a kill: they are counted and reported, never lost.
#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn kill_dash_nine_with_the_webhook_sink_loses_nothing() {
    let rt = runtime();
    let kinesis = aws_sdk_kinesis::Client::new(&sdk_config());
    let stream = unique("killwh");
    rt.block_on(create_stream(&kinesis, &stream, 2));
    let port = free_port();
    let received = receiver(TcpListener::bind(("127.0.0.1", port)).unwrap(), 12 << 20);
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ck");
    let source = format!("kinesis://{stream}?start=trim_horizon");
    let sink = format!("http://127.0.0.1:{port}/k8s-audit");
    let args = args(&["--sink", &sink], &source, &ck);
    let log = dir.path().join("log");
    let put_ids = produce_while_killing(&stream, "kw", &args, &log);
    let forwarder = Forwarder::start(&args, &log);
    wait_until(Duration::from_secs(90), || {
        received_ids(&received)
            .into_iter()
            .collect::<BTreeSet<_>>()
            .len()
            >= put_ids.len()
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(forwarder.terminate(), Some(0));
    let ids = received_ids(&received);
    let got: BTreeSet<String> = ids.iter().cloned().collect();
    let lost: Vec<_> = put_ids.difference(&got).collect();
    assert!(lost.is_empty(), "lost {} auditIDs: {lost:?}", lost.len());
    assert_eq!(got, put_ids, "nothing but what was put");
    let duplicates = ids.len() - got.len();
    eprintln!(
        "kill -9 x10, webhook sink: {} auditIDs put, 0 lost, {duplicates} delivered twice (unacknowledged batches)",
        put_ids.len()
    );
    assert!(duplicates < put_ids.len());
}
