//! The plugin's `cloudwatch://` and bare-cluster-name open params through the built
//! `.so`, against moto: k8saudit-eks's init_config keys (`shift`, `polling_interval`, in
//! seconds), events with their `eks.*` values, the non-audit stream left out, the
//! checkpoint saved as batches are consumed, and a reopened capture resuming after it.

use std::time::{Duration, Instant};

use falco_plugin_runner::{CapturingPluginRunner, ScapStatus};

use super::aws_support::{create_log_group, now_ms, put_audit_events, runtime, sdk_config, unique};
use super::kinesis::{aws_env, next, text};
use super::{capture, serial, status};

/// Reads events until `n` came, then checks nothing more comes for `quiet`.
fn read_ids(runner: &mut CapturingPluginRunner, n: usize, quiet: Duration) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let event = next(runner);
        ids.push(text(runner, &event, "ka.auditid"));
    }
    let start = Instant::now();
    while start.elapsed() < quiet {
        match runner.next_event() {
            Ok(event) => panic!("unexpected event {}", text(runner, &event, "ka.auditid")),
            Err(e) if status(&e) == Some(ScapStatus::Timeout) => {}
            Err(e) => panic!("next_event: {e:#}"),
        }
    }
    ids
}

#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn bare_cluster_name_and_cloudwatch_open_params() {
    let _serial = serial();
    aws_env();
    let rt = runtime();
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk_config());
    let cluster = unique("plugincw");
    let group = format!("/aws/eks/{cluster}/cluster");
    let stream = "kube-apiserver-audit-abc";
    rt.block_on(async {
        create_log_group(&logs, &group, &[stream, "kube-scheduler-abc"]).await;
        // 10 minutes ago: older than shift=300 s, never read.
        put_audit_events(&logs, &group, stream, now_ms() - 600_000, &["old".into()]).await;
        // A minute ago: within shift=300 s, and within the 120 s lag window, so every
        // poll meets these again (and skips them).
        let ms = now_ms() - 60_000;
        put_audit_events(&logs, &group, stream, ms, &["c-1".into(), "c-2".into()]).await;
        put_audit_events(&logs, &group, stream, ms, &["c-3".into()]).await;
        put_audit_events(&logs, &group, "kube-scheduler-abc", ms, &["sched".into()]).await;
    });
    let dir = tempfile::tempdir().unwrap();
    let config = serde_json::json!({
        "checkpoint_dir": dir.path(),
        "max_batch_events": 2,
        "shift": 300,
        "polling_interval": 1,
    })
    .to_string();
    let checkpoint = dir.path().join(format!(
        "plugin-cloudwatch_default__aws_eks_{cluster}_cluster.json"
    ));

    // A bare cluster name, as k8saudit-eks takes it.
    let mut runner = capture(&config, &cluster);
    let event = next(&mut runner);
    assert_eq!(text(&mut runner, &event, "ka.auditid"), "c-1");
    assert_eq!(text(&mut runner, &event, "ka.verb"), "list");
    assert_eq!(text(&mut runner, &event, "eks.cluster"), cluster);
    assert_eq!(text(&mut runner, &event, "eks.log_group"), group);
    assert_eq!(text(&mut runner, &event, "eks.log_stream"), stream);
    assert_eq!(text(&mut runner, &event, "eks.account"), "123456789012");
    assert_eq!(text(&mut runner, &event, "eks.region"), "us-east-1");
    // polling_interval=1: a few polls go by; nothing is repeated, the scheduler's stream
    // and the old event stay out.
    let rest = read_ids(&mut runner, 2, Duration::from_secs(3));
    assert_eq!(rest, ["c-2", "c-3"]);
    let saved = std::fs::read_to_string(&checkpoint).expect("checkpoint written");
    assert!(saved.contains(&group), "{saved}");
    assert!(super::metric(&mut runner, "cloudwatch_api_calls") >= 2);
    assert!(super::metric(&mut runner, "cloudwatch_pages") >= 2);
    assert!(super::metric(&mut runner, "cloudwatch_duplicates_suppressed") >= 3);
    assert_eq!(super::metric(&mut runner, "cloudwatch_other_streams"), 1);
    assert_eq!(super::metric(&mut runner, "cloudwatch_log_groups"), 1);
    // Caught up: the watermark trails now by about a poll.
    let lag = super::metric(&mut runner, "cloudwatch_max_lag_ms");
    assert!(lag < 10_000, "lag {lag} ms");
    drop(runner);

    // The same group as cloudwatch://<log group>: same key, so it resumes after the
    // checkpoint.
    rt.block_on(put_audit_events(
        &logs,
        &group,
        stream,
        now_ms(),
        &["c-4".into()],
    ));
    let mut runner = capture(&config, &format!("cloudwatch://{group}"));
    let ids = read_ids(&mut runner, 1, Duration::from_secs(3));
    assert_eq!(ids, ["c-4"], "resumed after the checkpoint");
}
