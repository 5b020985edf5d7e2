//! `cloudwatch://` through `eksaudit forward` as a real process, against moto: the exact
//! command of the README, events sharing a millisecond over pages and streams, late
//! ingestion, `kill -9` and restarts, many groups, discovery, throttling, history with
//! `--until-caught-up`, and cross-account reading.
//!
//! moto ignores `logStreamNamePrefix` on FilterLogEvents and returns every stream's
//! events: every group here also has a non-audit stream whose events must not come out,
//! so no test passes because of that gap.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::proxy::{Fault, Proxy};
use crate::support::*;

const AUDIT_STREAM: &str = "kube-apiserver-audit-0a1b2c";
const AUDIT_STREAM_2: &str = "kube-apiserver-audit-3d4e5f";
const OTHER_STREAM: &str = "authenticator-0a1b2c";

fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

/// A group `/aws/eks/<cluster>/cluster` with two audit streams and a non-audit one.
fn new_group(
    rt: &tokio::runtime::Runtime,
    logs: &aws_sdk_cloudwatchlogs::Client,
) -> (String, String) {
    let cluster = unique("cw");
    let group = format!("/aws/eks/{cluster}/cluster");
    rt.block_on(create_log_group(
        logs,
        &group,
        &[AUDIT_STREAM, AUDIT_STREAM_2, OTHER_STREAM],
    ));
    (cluster, group)
}

/// Puts events in the non-audit stream: audit-looking JSON, so only the stream filter
/// keeps them out.
fn put_other(rt: &tokio::runtime::Runtime, logs: &aws_sdk_cloudwatchlogs::Client, group: &str) {
    rt.block_on(put_audit_events(
        logs,
        group,
        OTHER_STREAM,
        now_ms(),
        &ids("other", 5),
    ));
}

fn forward(source: &str, dir: &Path, extra: &[&str]) -> Forwarder {
    Forwarder::start_args(&forward_args(source, dir, extra), &dir.join("log"))
}

fn forward_args(source: &str, dir: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "--source".to_string(),
        source.to_string(),
        "--sink".to_string(),
        format!("file://{}", dir.join("out.jsonl").display()),
        "--checkpoint-dir".to_string(),
        dir.join("ck").display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

trait Start {
    fn start_args(args: &[String], log: &Path) -> Self;
}

impl Start for Forwarder {
    fn start_args(args: &[String], log: &Path) -> Self {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Forwarder::start(&args, log)
    }
}

/// Waits until every id of `expected` is in the output.
fn wait_for(out: &Path, expected: &BTreeSet<String>, limit: Duration, log: &Path) {
    let start = Instant::now();
    loop {
        let got = audit_ids(out);
        if expected.iter().all(|id| got.contains_key(id)) {
            return;
        }
        assert!(
            start.elapsed() < limit,
            "missing after {limit:?}: {:?}\nlog:\n{}",
            expected
                .iter()
                .filter(|id| !got.contains_key(*id))
                .take(20)
                .collect::<Vec<_>>(),
            read_text(log)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every id of `expected` exactly once, and nothing else.
fn assert_exactly_once(out: &Path, expected: &BTreeSet<String>) {
    let got = audit_ids(out);
    let twice: BTreeMap<_, _> = got.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "emitted more than once: {twice:?}");
    let extra: Vec<_> = got.keys().filter(|id| !expected.contains(*id)).collect();
    assert!(extra.is_empty(), "not expected: {extra:?}");
    let missing: Vec<_> = expected
        .iter()
        .filter(|id| !got.contains_key(*id))
        .collect();
    assert!(missing.is_empty(), "lost: {missing:?}");
}

/// The last value of `name=N` in a log.
fn last_metric(log: &str, name: &str) -> u64 {
    let needle = format!("{name}=");
    log.lines()
        .rev()
        .find_map(|line| {
            let at = line.find(&needle)? + needle.len();
            let digits: String = line[at..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .unwrap_or(0)
}

/// Waits until the forwarder logged that it polls (its start time is then behind us).
fn wait_polling(forwarder: &Forwarder) {
    let start = Instant::now();
    while !forwarder.log_text().contains("Polling CloudWatch Logs.") {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "never started polling:\n{}",
            forwarder.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(20));
}

/// The README's command exactly as written: `start` defaults to now, so events put
/// after the forwarder started come out once each, annotated; the non-audit stream and
/// a truncated message do not.
#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn readme_command_end_to_end() {
    let rt = runtime();
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk_config());
    let (cluster, group) = new_group(&rt, &logs);
    // Before the start: not wanted with start=now.
    rt.block_on(put_audit_events(
        &logs,
        &group,
        AUDIT_STREAM,
        now_ms() - 5_000,
        &ids("before", 3),
    ));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("OUT.jsonl");
    let source = format!("cloudwatch://{group}");
    let sink = format!("file://{}", out.display());
    let ck = dir.path().join("DIR");
    let forwarder = Forwarder::start(
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
    wait_polling(&forwarder);
    let expected: BTreeSet<String> = ids("readme", 12).into_iter().collect();
    let list: Vec<String> = expected.iter().cloned().collect();
    rt.block_on(async {
        put_audit_events(&logs, &group, AUDIT_STREAM, now_ms(), &list[..6]).await;
        put_audit_events(&logs, &group, AUDIT_STREAM_2, now_ms(), &list[6..]).await;
        let truncated = format!("{}[Truncated...]", &audit_event("cut").to_string()[..200]);
        put_messages(&logs, &group, AUDIT_STREAM, now_ms(), &[truncated]).await;
    });
    put_other(&rt, &logs, &group);
    wait_for(&out, &expected, Duration::from_secs(40), &forwarder.log);
    // Two more default polls (5 s apart) must not repeat anything.
    std::thread::sleep(Duration::from_secs(11));
    let log = forwarder.log_text();
    forwarder.terminate();
    assert_exactly_once(&out, &expected);
    assert!(log.contains("truncated by CloudWatch"), "{log}");
    let first: serde_json::Value =
        serde_json::from_str(read_text(&out).lines().next().unwrap()).unwrap();
    let annotations = &first["annotations"];
    assert_eq!(annotations["eksaudit/cluster"], cluster.as_str());
    assert_eq!(annotations["eksaudit/log-group"], group.as_str());
    assert!(
        annotations["eksaudit/log-stream"]
            .as_str()
            .unwrap()
            .starts_with("kube-apiserver-audit-"),
        "{annotations}"
    );
    assert_eq!(annotations["eksaudit/account"], "123456789012");
    assert_eq!(annotations["eksaudit/region"], "us-east-1");
    // The checkpoint holds the group's position.
    let saved = read_text(&ck.join("forward.json"));
    assert!(saved.contains(&group), "{saved}");
}

/// Bursts of events stamped in one millisecond, in two streams, read over many small
/// pages, with more of the same millisecond arriving between polls: none lost, none
/// twice.
#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn same_millisecond_bursts_over_pages_and_streams() {
    let rt = runtime();
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk_config());
    let (_, group) = new_group(&rt, &logs);
    let ms = now_ms() - 2_000;
    let mut expected = BTreeSet::new();
    rt.block_on(async {
        for (stream, prefix) in [(AUDIT_STREAM, "a"), (AUDIT_STREAM_2, "b")] {
            let batch = ids(&format!("ms1-{prefix}"), 40);
            put_audit_events(&logs, &group, stream, ms, &batch).await;
            expected.extend(batch);
        }
    });
    put_other(&rt, &logs, &group);
    let dir = tempfile::tempdir().unwrap();
    let start = eksaudit::decode::time::format_rfc3339_nanos((ms as u64 - 1_000) * 1_000_000);
    let source =
        format!("cloudwatch://{group}?start={start}&page_size=7&poll_interval=1&lag_window=60");
    let forwarder = forward(&source, dir.path(), &["--progress-interval", "1"]);
    let out = dir.path().join("out.jsonl");
    wait_for(&out, &expected, Duration::from_secs(60), &forwarder.log);
    // The same millisecond again, after polls passed it, and a new one.
    rt.block_on(async {
        for (stream, prefix) in [(AUDIT_STREAM, "a"), (AUDIT_STREAM_2, "b")] {
            let batch = ids(&format!("ms1-late-{prefix}"), 9);
            put_audit_events(&logs, &group, stream, ms, &batch).await;
            expected.extend(batch);
            let batch = ids(&format!("ms2-{prefix}"), 15);
            put_audit_events(&logs, &group, stream, now_ms(), &batch).await;
            expected.extend(batch);
        }
    });
    wait_for(&out, &expected, Duration::from_secs(60), &forwarder.log);
    std::thread::sleep(Duration::from_secs(3));
    let log = forwarder.log_text();
    forwarder.terminate();
    assert_exactly_once(&out, &expected);
    assert!(last_metric(&log, "duplicates_suppressed") > 0, "{log}");
    assert!(last_metric(&log, "late_events") >= 18, "{log}");
    // page_size=7: the first poll alone reads 85 events in at least 13 pages.
    assert!(last_metric(&log, "pages") >= 13, "{log}");
    assert!(last_metric(&log, "other_streams") >= 5, "{log}");
}

/// Events put with timestamps in the past after a poll passed them are caught within
/// the lag window; events older than the window are (by design) not.
#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn late_ingestion_is_caught_within_the_lag_window() {
    let rt = runtime();
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk_config());
    let (_, group) = new_group(&rt, &logs);
    let dir = tempfile::tempdir().unwrap();
    let source = format!("cloudwatch://{group}?poll_interval=1&lag_window=30&start=retention");
    let forwarder = forward(&source, dir.path(), &["--progress-interval", "1"]);
    let out = dir.path().join("out.jsonl");
    let mut expected: BTreeSet<String> = BTreeSet::new();
    let first = ids("on-time", 5);
    rt.block_on(put_audit_events(
        &logs,
        &group,
        AUDIT_STREAM,
        now_ms(),
        &first,
    ));
    expected.extend(first);
    wait_for(&out, &expected, Duration::from_secs(30), &forwarder.log);
    // Polls have now passed "20 s ago" and "2 min ago".
    std::thread::sleep(Duration::from_secs(2));
    let late = ids("late", 6);
    rt.block_on(async {
        put_audit_events(&logs, &group, AUDIT_STREAM_2, now_ms() - 20_000, &late).await;
        put_audit_events(
            &logs,
            &group,
            AUDIT_STREAM,
            now_ms() - 120_000,
            &ids("too-late", 2),
        )
        .await;
    });
    expected.extend(late);
    wait_for(&out, &expected, Duration::from_secs(30), &forwarder.log);
    std::thread::sleep(Duration::from_secs(3));
    let log = forwarder.log_text();
    forwarder.terminate();
    assert_exactly_once(&out, &expected);
    assert!(last_metric(&log, "late_events") >= 6, "{log}");
}

/// `kill -9` of a real forwarder, restarted several times while events keep coming
/// (bursts sharing milliseconds, two streams): 0 lost, 0 duplicates.
#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn kill9_and_restart_lose_nothing_and_repeat_nothing() {
    let rt = runtime();
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk_config());
    let (_, group) = new_group(&rt, &logs);
    let dir = tempfile::tempdir().unwrap();
    let start = eksaudit::decode::time::format_rfc3339_nanos((now_ms() as u64 - 1_000) * 1_000_000);
    let source =
        format!("cloudwatch://{group}?start={start}&poll_interval=1&page_size=13&lag_window=60");
    let args = forward_args(&source, dir.path(), &[]);
    let log = dir.path().join("log");
    let out = dir.path().join("out.jsonl");
    let mut expected = BTreeSet::new();
    let mut forwarder = Forwarder::start_args(&args, &log);
    for round in 0..5 {
        // A burst in one millisecond per stream, then a kill at a random moment.
        let ms = now_ms();
        rt.block_on(async {
            for (stream, prefix) in [(AUDIT_STREAM, "a"), (AUDIT_STREAM_2, "b")] {
                let batch = ids(&format!("r{round}-{prefix}"), 25);
                put_audit_events(&logs, &group, stream, ms, &batch).await;
                expected.extend(batch);
            }
        });
        std::thread::sleep(Duration::from_millis(300 + fastrand::u64(0..1500)));
        forwarder.kill9();
        forwarder = Forwarder::start_args(&args, &log);
    }
    wait_for(&out, &expected, Duration::from_secs(60), &log);
    std::thread::sleep(Duration::from_secs(3));
    forwarder.terminate();
    assert_exactly_once(&out, &expected);
}

/// Many log groups in one process: named ones, and every group under a prefix,
/// including one created after the start (re-discovered).
#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn many_log_groups_in_one_process() {
    let rt = runtime();
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk_config());
    let named: Vec<String> = (0..3).map(|_| new_group(&rt, &logs).1).collect();
    let family = unique("fleet");
    let discovered: Vec<String> = (0..3)
        .map(|i| {
            let group = format!("/aws/eks/{family}-{i}/cluster");
            rt.block_on(create_log_group(
                &logs,
                &group,
                &[AUDIT_STREAM, OTHER_STREAM],
            ));
            group
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let named_source = format!(
        "cloudwatch://{}?poll_interval=1&start=retention",
        named.join(",")
    );
    let prefix_source = format!(
        "cloudwatch://?prefix=/aws/eks/{family}-&poll_interval=1&discover_interval=1&start=retention"
    );
    let forwarder = forward(
        &named_source,
        dir.path(),
        &["--source", &prefix_source, "--progress-interval", "1"],
    );
    let out = dir.path().join("out.jsonl");
    let mut expected = BTreeSet::new();
    let late_group = format!("/aws/eks/{family}-late/cluster");
    rt.block_on(async {
        for (i, group) in named.iter().chain(&discovered).enumerate() {
            let batch = ids(&format!("g{i}"), 10);
            put_audit_events(&logs, group, AUDIT_STREAM, now_ms(), &batch).await;
            expected.extend(batch);
            put_audit_events(
                &logs,
                group,
                OTHER_STREAM,
                now_ms(),
                &ids(&format!("o{i}"), 2),
            )
            .await;
        }
        create_log_group(&logs, &late_group, &[AUDIT_STREAM]).await;
        let batch = ids("late-group", 10);
        put_audit_events(&logs, &late_group, AUDIT_STREAM, now_ms(), &batch).await;
        expected.extend(batch);
    });
    wait_for(&out, &expected, Duration::from_secs(60), &forwarder.log);
    std::thread::sleep(Duration::from_secs(3));
    let log = forwarder.log_text();
    forwarder.terminate();
    assert_exactly_once(&out, &expected);
    assert!(last_metric(&log, "log_groups") >= 4, "{log}");
}

/// FilterLogEvents throttled (2 calls in 3) through the fault proxy: the source backs
/// off, never ends, and loses nothing.
#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn throttling_backs_off_and_loses_nothing() {
    let rt = runtime();
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk_config());
    let (_, group) = new_group(&rt, &logs);
    let mut expected = BTreeSet::new();
    rt.block_on(async {
        let batch = ids("thr", 60);
        put_audit_events(&logs, &group, AUDIT_STREAM, now_ms() - 1_000, &batch).await;
        expected.extend(batch);
    });
    let proxy = Proxy::start(
        endpoint(),
        Box::new(|target, n| {
            (target == "Logs_20140328.FilterLogEvents" && n % 3 != 2).then_some(Fault::Throttling)
        }),
    );
    let dir = tempfile::tempdir().unwrap();
    let source = format!("cloudwatch://{group}?start=retention&page_size=10&poll_interval=1");
    let log = dir.path().join("log");
    let args = forward_args(&source, dir.path(), &["--progress-interval", "1"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let forwarder = Forwarder::start_with(&proxy.url, &args, &log);
    let out = dir.path().join("out.jsonl");
    wait_for(&out, &expected, Duration::from_secs(90), &log);
    std::thread::sleep(Duration::from_secs(2));
    let text = forwarder.log_text();
    assert_eq!(forwarder.terminate(), Some(0), "{text}");
    assert_exactly_once(&out, &expected);
    assert!(proxy.count(Fault::Throttling) >= 6, "{text}");
    assert!(text.contains("FilterLogEvents throttled"), "{text}");
    assert!(last_metric(&text, "throttles") >= 6, "{text}");
}

/// CloudWatch may answer a page with no events and a `nextToken` while it searches:
/// every poll's first page is such a page here (through the proxy), and pagination goes
/// on through it, so nothing is missed.
#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn pagination_goes_on_through_empty_pages() {
    let rt = runtime();
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk_config());
    let (_, group) = new_group(&rt, &logs);
    let mut expected = BTreeSet::new();
    let batch = ids("empty-page", 20);
    rt.block_on(put_audit_events(
        &logs,
        &group,
        AUDIT_STREAM,
        now_ms() - 1_000,
        &batch,
    ));
    expected.extend(batch);
    let proxy = Proxy::start(
        endpoint(),
        Box::new(|target, _| {
            (target == "Logs_20140328.FilterLogEvents").then_some(Fault::EmptyPage)
        }),
    );
    let dir = tempfile::tempdir().unwrap();
    let source = format!("cloudwatch://{group}?start=retention&poll_interval=1&page_size=8");
    let log = dir.path().join("log");
    let args = forward_args(&source, dir.path(), &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let forwarder = Forwarder::start_with(&proxy.url, &args, &log);
    let out = dir.path().join("out.jsonl");
    wait_for(&out, &expected, Duration::from_secs(60), &log);
    // Events put while polling, too.
    let batch = ids("empty-page-more", 5);
    rt.block_on(put_audit_events(
        &logs,
        &group,
        AUDIT_STREAM_2,
        now_ms(),
        &batch,
    ));
    expected.extend(batch);
    wait_for(&out, &expected, Duration::from_secs(60), &log);
    std::thread::sleep(Duration::from_secs(2));
    forwarder.terminate();
    assert_exactly_once(&out, &expected);
    assert!(proxy.count(Fault::EmptyPage) >= 3);
}

/// `start=<time>` reads retained history, and `--until-caught-up` exits on its own once
/// it reached now; a second run continues from the checkpoint with nothing repeated.
#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn history_until_caught_up() {
    let rt = runtime();
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk_config());
    let (_, group) = new_group(&rt, &logs);
    let now = now_ms();
    let mut expected = BTreeSet::new();
    rt.block_on(async {
        // Three days of history, hours apart (within moto's 14-day limit).
        for hours in [70, 30, 5, 1] {
            let batch = ids(&format!("h{hours}"), 4);
            put_audit_events(&logs, &group, AUDIT_STREAM, now - hours * 3_600_000, &batch).await;
            expected.extend(batch);
        }
        put_audit_events(
            &logs,
            &group,
            AUDIT_STREAM,
            now - 80 * 3_600_000,
            &ids("older", 2),
        )
        .await;
    });
    let dir = tempfile::tempdir().unwrap();
    let start =
        eksaudit::decode::time::format_rfc3339_nanos((now - 72 * 3_600_000) as u64 * 1_000_000);
    let source = format!("cloudwatch://{group}?start={start}");
    let args = forward_args(&source, dir.path(), &["--until-caught-up"]);
    let log = dir.path().join("log");
    let run = |log: &Path| {
        let mut forwarder = Forwarder::start_args(&args, log);
        let begin = Instant::now();
        loop {
            if let Ok(Some(status)) = forwarder.child.try_wait() {
                return status.code();
            }
            assert!(
                begin.elapsed() < Duration::from_secs(60),
                "did not stop when caught up:\n{}",
                read_text(log)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    assert_eq!(run(&log), Some(0), "{}", read_text(&log));
    let out = dir.path().join("out.jsonl");
    assert_exactly_once(&out, &expected);
    assert!(read_text(&log).contains("read up to now"));
    // New events, then a second run from the checkpoint.
    let batch = ids("next", 3);
    rt.block_on(put_audit_events(
        &logs,
        &group,
        AUDIT_STREAM,
        now_ms(),
        &batch,
    ));
    expected.extend(batch);
    assert_eq!(run(&log), Some(0), "{}", read_text(&log));
    assert_exactly_once(&out, &expected);
}

/// A group in another account, read through AssumeRole with an ExternalId: moto puts
/// what the role's credentials create in the role's account.
#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn cross_account_with_assume_role() {
    let rt = runtime();
    let role_arn = "arn:aws:iam::222222222222:role/eksaudit-reader";
    let cluster = unique("xacct");
    let group = format!("/aws/eks/{cluster}/cluster");
    let batch = ids("xacct", 5);
    rt.block_on(async {
        let base = sdk_config();
        let assumed = aws_sdk_sts::Client::new(&base)
            .assume_role()
            .role_arn(role_arn)
            .role_session_name("tests")
            .external_id("ext-42")
            .send()
            .await
            .unwrap();
        let creds = assumed.credentials().unwrap();
        let other = base
            .to_builder()
            .credentials_provider(aws_sdk_kinesis::config::SharedCredentialsProvider::new(
                aws_sdk_kinesis::config::Credentials::new(
                    creds.access_key_id(),
                    creds.secret_access_key(),
                    Some(creds.session_token().to_string()),
                    None,
                    "assumed",
                ),
            ))
            .build();
        let logs = aws_sdk_cloudwatchlogs::Client::new(&other);
        create_log_group(&logs, &group, &[AUDIT_STREAM]).await;
        put_audit_events(&logs, &group, AUDIT_STREAM, now_ms() - 1_000, &batch).await;
        // Not visible to the default account.
        let mine = aws_sdk_cloudwatchlogs::Client::new(&base);
        let found = mine
            .describe_log_groups()
            .log_group_name_prefix(&group)
            .send()
            .await
            .unwrap();
        assert!(found.log_groups().is_empty(), "moto kept accounts apart");
    });
    let dir = tempfile::tempdir().unwrap();
    let source = format!(
        "cloudwatch://{cluster}?start=retention&role_arn={role_arn}&external_id=ext-42&poll_interval=1"
    );
    let forwarder = forward(&source, dir.path(), &[]);
    let out = dir.path().join("out.jsonl");
    let expected: BTreeSet<String> = batch.into_iter().collect();
    wait_for(&out, &expected, Duration::from_secs(30), &forwarder.log);
    forwarder.terminate();
    assert_exactly_once(&out, &expected);
    let first: serde_json::Value =
        serde_json::from_str(read_text(&out).lines().next().unwrap()).unwrap();
    assert_eq!(first["annotations"]["eksaudit/account"], "222222222222");
}

/// A group that does not exist fails at once with a message that says what to check.
#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn missing_group_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let source = format!("cloudwatch://{}", unique("nocluster"));
    let mut forwarder = forward(&source, dir.path(), &[]);
    let status = forwarder.child.wait().unwrap();
    let log = forwarder.log_text();
    assert!(!status.success(), "{log}");
    assert!(log.contains("not found in us-east-1"), "{log}");
    assert!(
        log.contains("audit logging is on (eksaudit aws setup)"),
        "{log}"
    );
}

/// What needs no AWS: `forward --help` documents every `cloudwatch://` key, a spec
/// mistake is refused naming the key, and `--until-caught-up` refuses a Kinesis
/// stream, which has no "now" to reach.
#[test]
fn forward_help_and_refusals() {
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_eksaudit"))
            .args(args)
            .env_remove("RUST_LOG")
            .output()
            .expect("eksaudit runs")
    };
    let help = run(&["forward", "--help"]);
    let text = String::from_utf8_lossy(&help.stdout);
    for (key, _) in eksaudit::sources::spec::CLOUDWATCH_KEYS {
        assert!(
            text.contains(&format!("  {key} ")),
            "{key} missing:\n{text}"
        );
    }
    assert!(text.contains("--until-caught-up"), "{text}");
    let bad = run(&[
        "forward",
        "--source",
        "cloudwatch://prod?lag_window=soon",
        "--checkpoint-dir",
        "/nonexistent/never-created",
    ]);
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success());
    assert!(err.contains("lag_window=\"soon\""), "{err}");
    let kinesis = run(&[
        "forward",
        "--source",
        "kinesis://s",
        "--until-caught-up",
        "--checkpoint-dir",
        "/nonexistent/never-created",
    ]);
    let err = String::from_utf8_lossy(&kinesis.stderr);
    assert!(!kinesis.status.success());
    assert!(
        err.contains("--until-caught-up applies to cloudwatch://"),
        "{err}"
    );
}
