//! The hostile-input corpus as Kinesis records through moto, read by a real forwarder:
//! every input that fits a record (1 MiB) is decoded or refused with its problems
//! counted by kind in `/metrics`, the stream goes on past all of them (a good record
//! after them is delivered), nothing panics, and the log is not flooded.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::hostile_corpus;
use crate::support::*;

#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn hostile_records_are_counted_and_the_stream_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<_> = hostile_corpus::write(&dir.path().join("corpus"))
        .into_iter()
        .filter(|c| c.fits_a_record)
        .collect();
    let rt = runtime();
    let kinesis = aws_sdk_kinesis::Client::new(&sdk_config());
    let stream = unique("hostile");
    rt.block_on(async {
        create_stream(&kinesis, &stream, 1).await;
        for case in &cases {
            put(&kinesis, &stream, "k", std::fs::read(&case.path).unwrap()).await;
        }
        put(
            &kinesis,
            &stream,
            "k",
            audit_envelope("prod", &["sentinel".into()]),
        )
        .await;
    });
    let mut want_events = 1;
    let mut want_errors: BTreeMap<&str, u64> = BTreeMap::new();
    for case in &cases {
        want_events += case.events;
        for (kind, n) in case.record_errors.unwrap_or(case.errors) {
            *want_errors.entry(kind).or_default() += n;
        }
    }
    let out = dir.path().join("out.jsonl");
    let sink = format!("file://{}", out.display());
    let ck = dir.path().join("ck");
    let source = format!("kinesis://{stream}?start=trim_horizon");
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let forwarder = Forwarder::start(
        &[
            "--source",
            &source,
            "--sink",
            &sink,
            "--checkpoint-dir",
            ck.to_str().unwrap(),
            "--metrics-address",
            &address,
        ],
        &dir.path().join("log"),
    );
    let start = std::time::Instant::now();
    // Lines are searched, not parsed: `1e999999` is valid JSON that serde_json refuses.
    while !read_text(&out).contains("\"auditID\":\"sentinel\"") {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the record after the hostile ones never came out ({} lines out):\n{}\n{}",
            line_count(&out),
            forwarder.log_text(),
            http_get(port, "/metrics")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let label = format!("source=\"kinesis:default:{stream}\"");
    let metric = |text: &str, name: &str, kind: Option<&str>| -> u64 {
        text.lines()
            .filter(|l| l.starts_with(name) && l.contains(&label))
            .filter(|l| kind.is_none_or(|k| l.contains(&format!("kind=\"{k}\""))))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    };
    let text = http_get(port, "/metrics");
    // The forwarder's own peak memory (VmHWM is per process image, not inherited).
    let peak_kib = proc_status_kib(forwarder.child.id(), "VmHWM").unwrap_or(0);
    let log_path = forwarder.log.clone();
    // Exit code 1: stopped cleanly, having seen input problems.
    let code = forwarder.terminate();
    let log = read_text(&log_path);
    assert_eq!(code, Some(1), "{log}");
    assert!(!log.contains("panicked"), "{log}");
    assert_eq!(line_count(&out) as u64, want_events, "{log}");
    assert_eq!(
        metric(&text, "eksaudit_source_events_total", None),
        want_events,
        "{text}"
    );
    for (kind, n) in &want_errors {
        assert_eq!(
            metric(&text, "eksaudit_source_decode_errors_total", Some(kind)),
            *n,
            "{kind}: {text}"
        );
    }
    // 10,000 broken events and the rest: a bounded number of log lines; the first ten
    // of a kind one by one, the rest summarised when the interval ends or the source stops.
    let lines = log.lines().count();
    assert!(lines < 100, "{lines} log lines:\n{log}");
    assert!(
        log.contains("Dropped 9995 more inputs (invalid_json)"),
        "{log}"
    );
    // The bound: a record inflates to at most max_inflated_record (64 MiB with the
    // forwarder's defaults), held once, plus the program.
    assert!(
        peak_kib > 0 && peak_kib <= 160 * 1024,
        "peak {peak_kib} KiB"
    );
    eprintln!(
        "hostile records through Kinesis: {} records, {want_events} events, errors {want_errors:?}, {lines} log lines, peak memory {} MiB",
        cases.len() + 1,
        peak_kib / 1024
    );
}
