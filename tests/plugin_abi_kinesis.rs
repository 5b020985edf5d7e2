//! The plugin's `kinesis://` open params through the built `.so`, against moto: events
//! come out of `next_batch` with their times and `ka.*`/`eks.*` values, the checkpoint
//! moves as batches are consumed, and a reopened capture resumes after it.

use std::time::{Duration, Instant};

use falco_plugin_runner::{CapturingPluginRunner, Event, ExtractedField, ScapStatus};

use super::aws_support::{audit_envelope, create_stream, put, runtime, sdk_config, unique};
use super::{capture, serial, status};

/// Points the plugin's AWS SDK (which reads the environment at open) at moto.
pub(super) fn aws_env() {
    let endpoint = super::aws_support::endpoint();
    // SAFETY: set under `serial()`, before the plugin opens; nothing else in this test
    // binary reads these variables concurrently.
    unsafe {
        std::env::set_var("AWS_ENDPOINT_URL", endpoint);
        std::env::set_var("AWS_ACCESS_KEY_ID", "test");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
        std::env::set_var("AWS_REGION", "us-east-1");
    }
}

/// The next event, waiting through `Timeout`s.
pub(super) fn next(runner: &mut CapturingPluginRunner) -> Event {
    let start = Instant::now();
    loop {
        match runner.next_event() {
            Ok(event) => return event,
            Err(e) if status(&e) == Some(ScapStatus::Timeout) => {
                assert!(
                    start.elapsed() < Duration::from_secs(30),
                    "no event in 30 s"
                );
            }
            Err(e) => panic!("next_event: {e:#}"),
        }
    }
}

pub(super) fn text(runner: &mut CapturingPluginRunner, event: &Event, field: &str) -> String {
    match runner.extract_field(event, field).unwrap().unwrap() {
        ExtractedField::String(s) => s.to_string_lossy().into_owned(),
        other => panic!("{field}: {other:?}"),
    }
}

#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn kinesis_open_params_read_checkpoint_and_resume() {
    let _serial = serial();
    aws_env();
    let rt = runtime();
    let kinesis = aws_sdk_kinesis::Client::new(&sdk_config());
    let stream = unique("plugin");
    rt.block_on(async {
        create_stream(&kinesis, &stream, 1).await;
        put(
            &kinesis,
            &stream,
            "k",
            audit_envelope("prod", &["p-1".into(), "p-2".into()]),
        )
        .await;
        put(
            &kinesis,
            &stream,
            "k",
            audit_envelope("prod", &["p-3".into()]),
        )
        .await;
    });
    let dir = tempfile::tempdir().unwrap();
    let config =
        serde_json::json!({"checkpoint_dir": dir.path(), "max_batch_events": 2}).to_string();
    let params = format!("kinesis://{stream}?start=trim_horizon");
    let checkpoint = dir
        .path()
        .join(format!("plugin-kinesis_default_{stream}.json"));

    let mut runner = capture(&config, &params);
    let mut ids = Vec::new();
    for _ in 0..3 {
        let event = next(&mut runner);
        // The event time is the audit event's stageTimestamp.
        let ts = unsafe { (*event.buf).ts };
        assert_eq!(ts, 1_796_032_800_001_000_000, "stageTimestamp in ns");
        ids.push(text(&mut runner, &event, "ka.auditid"));
        assert_eq!(text(&mut runner, &event, "ka.verb"), "list");
        assert_eq!(text(&mut runner, &event, "eks.cluster"), "prod");
        assert_eq!(text(&mut runner, &event, "eks.region"), "us-east-1");
        assert_eq!(
            text(&mut runner, &event, "eks.kinesis.shard"),
            "shardId-000000000000"
        );
        assert!(!text(&mut runner, &event, "eks.kinesis.sequence").is_empty());
        assert_eq!(text(&mut runner, &event, "eks.iam.session_name"), "alice");
    }
    assert_eq!(ids, ["p-1", "p-2", "p-3"]);
    // Asking for more means Falco consumed the last batch: its position is saved.
    assert!(matches!(runner.next_event(), Err(e) if status(&e) == Some(ScapStatus::Timeout)));
    let saved = std::fs::read_to_string(&checkpoint).expect("checkpoint written");
    assert!(saved.contains("shardId-000000000000"), "{saved}");
    assert!(super::metric(&mut runner, "kinesis_records") >= 2);
    drop(runner);

    rt.block_on(put(
        &kinesis,
        &stream,
        "k",
        audit_envelope("prod", &["p-4".into()]),
    ));
    let mut runner = capture(&config, &params);
    let event = next(&mut runner);
    assert_eq!(
        text(&mut runner, &event, "ka.auditid"),
        "p-4",
        "resumed after the checkpoint"
    );
}

/// A panic inside the async source task (injected by the debug-build hook) reaches
/// Falco as an error from `next_batch` that names it; no unwind crosses the C ABI, no
/// abort, and the plugin goes on serving other captures.
#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn a_panic_in_the_source_task_reaches_falco_as_an_error() {
    const TIMEOUT: i32 = -1;
    let _serial = serial();
    aws_env();
    let rt = runtime();
    let kinesis = aws_sdk_kinesis::Client::new(&sdk_config());
    let stream = unique("panic");
    rt.block_on(create_stream(&kinesis, &stream, 1));
    let dir = tempfile::tempdir().unwrap();
    let config = serde_json::json!({"checkpoint_dir": dir.path()}).to_string();
    let raw = super::Raw::init(&config).unwrap();
    let params = format!("eksaudit-test-panic://source_task@kinesis://{stream}?start=trim_horizon");
    let instance = raw.open(&params).unwrap();
    let start = Instant::now();
    let rc = loop {
        let (rc, events) = raw.next_batch(instance);
        assert_eq!(events, 0);
        if rc != TIMEOUT {
            break rc;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no error in 30 s"
        );
    };
    assert_ne!(rc, super::SUCCESS);
    assert_ne!(rc, super::EOF);
    let error = raw.last_error();
    assert!(
        error.contains("the source task panicked (injected panic in a source task)"),
        "{error}"
    );
    raw.close(instance);
    // The plugin keeps working.
    let trace = super::own("tests/data/events/privileged-pod.json");
    let instance = raw.open(&format!("file://{}", trace.display())).unwrap();
    assert_eq!(raw.next_batch(instance).0, super::SUCCESS);
    raw.close(instance);
}
