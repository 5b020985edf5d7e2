//! Memory under load: `eksaudit forward` fed 2,000 events/s with 1 MiB events mixed in
//! stays flat, well under 64 MiB of resident memory (the figure is printed).

use std::time::{Duration, Instant};

use crate::support::*;

#[test]
#[cfg_attr(
    not(has_moto),
    ignore = "needs moto server: pip install 'moto[server]==5.2.5' (or set EKSAUDIT_TEST_MOTO)"
)]
fn rss_stays_flat_at_2000_events_per_second_with_1_mib_events() {
    let rt = runtime();
    let kinesis = aws_sdk_kinesis::Client::new(&sdk_config());
    let stream = unique("load");
    rt.block_on(create_stream(&kinesis, &stream, 2));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let sink = format!("file://{}", out.display());
    let ck = dir.path().join("ck");
    let source = format!("kinesis://{stream}?start=trim_horizon");
    let forwarder = Forwarder::start(
        &[
            "--source",
            &source,
            "--sink",
            &sink,
            "--checkpoint-dir",
            ck.to_str().unwrap(),
            "--max-event-size",
            "4194304",
            "--metrics-address",
            "off",
        ],
        &dir.path().join("log"),
    );
    let pid = forwarder.child.id();
    // 15 s at 2,000 events/s: every 100 ms a record of 200 events; every tenth record
    // carries a 1 MiB event among them.
    let mut big = audit_event("big");
    big["requestObject"] = serde_json::json!({"data": "y".repeat(1 << 20)});
    let big = big.to_string();
    let start = Instant::now();
    let mut peak_after_warmup = 0;
    let mut put_events = 0usize;
    let mut tick = 0u64;
    while start.elapsed() < Duration::from_secs(15) {
        let mut messages: Vec<String> = (0..199)
            .map(|i| audit_event(&format!("load-{tick}-{i}")).to_string())
            .collect();
        if tick.is_multiple_of(10) {
            messages.push(big.replace("\"big\"", &format!("\"big-{tick}\"")));
        } else {
            messages.push(audit_event(&format!("load-{tick}-199")).to_string());
        }
        put_events += messages.len();
        rt.block_on(put(
            &kinesis,
            &stream,
            &tick.to_string(),
            envelope("prod", &messages),
        ));
        tick += 1;
        if start.elapsed() > Duration::from_secs(3) {
            peak_after_warmup = peak_after_warmup.max(proc_status_kib(pid, "VmRSS").unwrap_or(0));
        }
        let next = Duration::from_millis(100 * tick);
        if let Some(wait) = next.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    let rate = put_events as f64 / start.elapsed().as_secs_f64();
    wait_until(Duration::from_secs(120), || line_count(&out) >= put_events);
    let log = forwarder.log_text();
    assert_eq!(forwarder.terminate(), Some(0), "{log}");
    eprintln!(
        "load: {put_events} events put at {rate:.0}/s (a 1 MiB event every 2,000); peak RSS after warm-up {} KiB",
        peak_after_warmup
    );
    // The producer is a debug build sharing two cores with the forwarder and moto.
    assert!(rate >= 1200.0, "the producer kept up: {rate}/s");
    assert!(peak_after_warmup > 0);
    assert!(
        peak_after_warmup <= 64 * 1024,
        "peak RSS {peak_after_warmup} KiB"
    );
}
