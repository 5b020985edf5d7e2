//! What the AWS tests share: a moto server (the one `.ci/run` started, named by
//! `EKSAUDIT_TEST_MOTO`, or one started here), SDK clients pointed at it, audit events and
//! CloudWatch envelopes as EKS writes them, and `eksaudit forward` as a real process.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_kinesis::config::Credentials;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};

/// The binary under test: this build's, or `EKSAUDIT_TEST_BIN` (a release build, to
/// measure memory as users run it).
pub fn eksaudit_binary() -> PathBuf {
    std::env::var_os("EKSAUDIT_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_eksaudit")))
}

/// The emulator's endpoint.
pub fn endpoint() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT.get_or_init(|| match std::env::var("EKSAUDIT_TEST_MOTO") {
        Ok(url) if !url.is_empty() => url,
        _ => start_moto(),
    })
}

/// A free port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts `moto_server` on a free port, tied to this process: a small Python parent
/// kills it when our end of its stdin closes (when the test process exits).
fn start_moto() -> String {
    let port = free_port();
    let script = format!(
        "import subprocess,sys\np=subprocess.Popen(['moto_server','-H','127.0.0.1','-p','{port}'],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL)\nsys.stdin.read()\np.kill()"
    );
    let child = Command::new("python3")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .spawn()
        .expect("python3 to start moto_server");
    // Keep the stdin pipe open for the life of the process.
    std::mem::forget(child);
    let url = format!("http://127.0.0.1:{port}");
    wait_until(Duration::from_secs(30), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    url
}

/// Polls `done` until it holds or `limit` passes; panics then (at the caller's line).
#[track_caller]
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < limit,
            "condition not met within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SDK configuration for the emulator at `endpoint` (never the developer's own AWS
/// configuration: region, endpoint and credentials are all set here).
pub fn sdk_config_for(endpoint: &str) -> SdkConfig {
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"));
    // On a thread of its own, so callers may be inside a runtime.
    std::thread::spawn(move || runtime().block_on(loader.load()))
        .join()
        .expect("SDK configuration")
}

/// SDK configuration for moto.
pub fn sdk_config() -> SdkConfig {
    sdk_config_for(endpoint())
}

/// A runtime for the tests' own SDK calls.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// A name no other test uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}-{:08x}", std::process::id(), fastrand::u32(..))
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// An audit event as EKS writes it, with `audit_id`.
pub fn audit_event(audit_id: &str) -> Value {
    json!({
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": audit_id,
        "stage": "ResponseComplete",
        "requestURI": "/api/v1/namespaces/default/pods?limit=500",
        "verb": "list",
        "user": {
            "username": "arn:aws:sts::123456789012:assumed-role/dev/alice",
            "uid": "aws-iam-authenticator:123456789012:AROAEXAMPLE",
            "groups": ["system:authenticated"],
            "extra": {
                "arn": ["arn:aws:sts::123456789012:assumed-role/dev/alice"],
                "canonicalArn": ["arn:aws:iam::123456789012:role/dev"],
                "sessionName": ["alice"]
            }
        },
        "sourceIPs": ["192.0.2.10"],
        "userAgent": "kubectl/v1.31.0",
        "objectRef": {"resource": "pods", "namespace": "default", "apiVersion": "v1"},
        "responseStatus": {"code": 200},
        "requestReceivedTimestamp": "2026-11-30T10:00:00.000000Z",
        "stageTimestamp": "2026-11-30T10:00:00.001000Z",
        "annotations": {"authorization.k8s.io/decision": "allow"}
    })
}

/// A CloudWatch Logs subscription envelope holding `messages`, gzip-compressed, as a
/// subscription filter puts it on a stream.
pub fn envelope(cluster: &str, messages: &[String]) -> Vec<u8> {
    let log_events: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| json!({"id": format!("{:056}", i + 1), "timestamp": now_ms(), "message": m}))
        .collect();
    gzip(
        json!({
            "messageType": "DATA_MESSAGE",
            "owner": "123456789012",
            "logGroup": format!("/aws/eks/{cluster}/cluster"),
            "logStream": "kube-apiserver-audit-0123456789abcdef",
            "subscriptionFilters": ["eksaudit"],
            "logEvents": log_events,
        })
        .to_string()
        .as_bytes(),
    )
}

/// An envelope of audit events with these ids.
pub fn audit_envelope(cluster: &str, ids: &[String]) -> Vec<u8> {
    let messages: Vec<String> = ids.iter().map(|id| audit_event(id).to_string()).collect();
    envelope(cluster, &messages)
}

/// gzip of `bytes`.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

/// Creates a stream with `shards` shards and waits until it is active.
pub async fn create_stream(client: &aws_sdk_kinesis::Client, name: &str, shards: i32) {
    client
        .create_stream()
        .stream_name(name)
        .shard_count(shards)
        .send()
        .await
        .expect("CreateStream");
    for _ in 0..100 {
        let summary = client
            .describe_stream_summary()
            .stream_name(name)
            .send()
            .await
            .expect("DescribeStreamSummary");
        if summary
            .stream_description_summary()
            .is_some_and(|s| s.stream_status().as_str() == "ACTIVE")
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("stream {name} never became active");
}

/// Puts one record.
pub async fn put(client: &aws_sdk_kinesis::Client, stream: &str, key: &str, data: Vec<u8>) {
    client
        .put_record()
        .stream_name(stream)
        .partition_key(key)
        .data(aws_sdk_kinesis::primitives::Blob::new(data))
        .send()
        .await
        .expect("PutRecord");
}

/// `eksaudit forward` as a child process, its stderr in a file.
pub struct Forwarder {
    /// The process.
    pub child: Child,
    /// Its stderr.
    pub log: PathBuf,
}

impl Forwarder {
    /// Starts `eksaudit forward ARGS` against `endpoint`, logging to `log`.
    pub fn start_with(endpoint: &str, args: &[&str], log: &Path) -> Self {
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("log file");
        // Tests run many forwarders at once: none listens for /metrics unless asked.
        let quiet: &[&str] = if args
            .iter()
            .any(|a| *a == "--metrics-address" || *a == "--config")
        {
            &[]
        } else {
            &["--metrics-address", "off"]
        };
        let child = Command::new(eksaudit_binary())
            .arg("forward")
            .args(args)
            .args(quiet)
            .env("AWS_ENDPOINT_URL", endpoint)
            // Distinctive fake keys, so a test can prove they never reach a log.
            .env("AWS_ACCESS_KEY_ID", "AKIAEKSAUDITTESTKEY1")
            .env("AWS_SECRET_ACCESS_KEY", "test-secret-never-logged")
            .env("AWS_REGION", "us-east-1")
            .env_remove("AWS_PROFILE")
            .env("RUST_LOG", "info")
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("eksaudit forward starts");
        Self {
            child,
            log: log.to_path_buf(),
        }
    }

    /// Starts `eksaudit forward ARGS` against moto.
    pub fn start(args: &[&str], log: &Path) -> Self {
        Self::start_with(endpoint(), args, log)
    }

    /// `kill -9`.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the exit; the exit code.
    pub fn terminate(mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            if start.elapsed() > Duration::from_secs(20) {
                let _ = self.child.kill();
                panic!(
                    "forwarder did not stop on SIGTERM; log:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What it logged.
    pub fn log_text(&self) -> String {
        read_text(&self.log)
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A file's text, empty when missing.
pub fn read_text(path: &Path) -> String {
    // Lossy: audit content passes through byte for byte, invalid UTF-8 included (see
    // SECURITY.md), and one such event must not hide the others from a test.
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

/// auditID → how many times it appears in a JSON lines file. Panics on a line that is
/// not a complete JSON object (a torn write). A last line without its newline is still
/// being written (tests poll while the forwarder writes) and is not counted yet.
pub fn audit_ids(path: &Path) -> BTreeMap<String, usize> {
    let mut ids = BTreeMap::new();
    let text = read_text(path);
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    for (n, line) in complete.lines().enumerate() {
        let value: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{}:{}: not JSON ({e}): {line}", path.display(), n + 1));
        let id = value["auditID"].as_str().unwrap_or_default().to_string();
        *ids.entry(id).or_default() += 1;
    }
    ids
}

/// Lines in a file.
pub fn line_count(path: &Path) -> usize {
    // Complete lines only: the last one may still be being written.
    read_text(path).matches('\n').count()
}

/// Creates a log group and its log streams.
pub async fn create_log_group(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    streams: &[&str],
) {
    logs.create_log_group()
        .log_group_name(group)
        .send()
        .await
        .expect("CreateLogGroup");
    for stream in streams {
        logs.create_log_stream()
            .log_group_name(group)
            .log_stream_name(*stream)
            .send()
            .await
            .expect("CreateLogStream");
    }
}

/// Puts audit events with these ids, all stamped `timestamp` (ms), in one call.
pub async fn put_audit_events(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    stream: &str,
    timestamp: i64,
    ids: &[String],
) {
    let messages: Vec<String> = ids.iter().map(|id| audit_event(id).to_string()).collect();
    put_messages(logs, group, stream, timestamp, &messages).await;
}

/// Puts raw messages, all stamped `timestamp` (ms), in one call; panics if any is
/// rejected (too old, too new).
pub async fn put_messages(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    stream: &str,
    timestamp: i64,
    messages: &[String],
) {
    let events = messages
        .iter()
        .map(|m| {
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(timestamp)
                .message(m)
                .build()
                .expect("an input log event")
        })
        .collect();
    let output = logs
        .put_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .set_log_events(Some(events))
        .send()
        .await
        .expect("PutLogEvents");
    assert!(
        output.rejected_log_events_info().is_none(),
        "rejected: {:?}",
        output.rejected_log_events_info()
    );
}

/// A field of `/proc/<pid>/status` in KiB (`VmRSS` now, `VmHWM` the peak so far).
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// A raw GET on 127.0.0.1; the whole response (empty if nothing answers).
pub fn http_get(port: u16, path: &str) -> String {
    use std::io::Read;
    let Ok(mut conn) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = write!(
        conn,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    );
    let mut text = String::new();
    let _ = conn.read_to_string(&mut text);
    text
}

/// The crash test's stream: a producer puts 120 records of 25 events (`<prefix>-R-I`)
/// on `stream` while a forwarder started with `args` is killed with `kill -9` ten times
/// at random moments; the auditIDs put.
pub fn produce_while_killing(
    stream: &str,
    prefix: &str,
    args: &[&str],
    log: &Path,
) -> std::collections::BTreeSet<String> {
    let (stream, prefix) = (stream.to_string(), prefix.to_string());
    let producer = std::thread::spawn(move || {
        let rt = runtime();
        let kinesis = aws_sdk_kinesis::Client::new(&sdk_config());
        let mut ids = std::collections::BTreeSet::new();
        for record in 0..120 {
            let batch: Vec<String> = (0..25).map(|i| format!("{prefix}-{record}-{i}")).collect();
            ids.extend(batch.iter().cloned());
            rt.block_on(put(
                &kinesis,
                &stream,
                &record.to_string(),
                audit_envelope("c", &batch),
            ));
            std::thread::sleep(Duration::from_millis(30));
        }
        ids
    });
    for _ in 0..10 {
        let forwarder = Forwarder::start(args, log);
        std::thread::sleep(Duration::from_millis(300 + fastrand::u64(0..500)));
        forwarder.kill9();
    }
    producer.join().unwrap()
}
