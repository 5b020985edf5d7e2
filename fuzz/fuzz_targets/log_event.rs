//! One CloudWatch log event read with FilterLogEvents (`Decoder::push_log_event`), and the
//! same message inside a subscription envelope (`push_record`): the decoder promises the
//! same events either way (same annotations, same `[Truncated...]` handling).
//!
//! Input: a control byte (decoder limits; bit 5 picks an EKS log group name, bit 6 an
//! account), then the message, taken as UTF-8 lossily (the SDK hands over a `String`).
#![no_main]

use eksaudit::decode::{Decoder, Location, LogEventOrigin};
use libfuzzer_sys::fuzz_target;

const STREAM: &str = "kube-apiserver-audit-0123456789abcdef";

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let message = String::from_utf8_lossy(rest).into_owned();
    let log_group = if control & 0x20 != 0 {
        "/aws/eks/prod/cluster"
    } else {
        "/custom/group"
    };
    let account = (control & 0x40 != 0).then_some("123456789012");
    let options = eksaudit_fuzz::options(control);
    let location = Location::new("fuzz");

    let mut direct = Decoder::new(options.clone());
    let before = direct.stats().clone();
    let origin = LogEventOrigin {
        log_group,
        log_stream: STREAM,
        account,
    };
    direct.push_log_event(message.clone(), origin, &location);
    let (events, errors) = eksaudit_fuzz::drain(&mut direct, &before);

    let mut envelope = serde_json::json!({
        "messageType": "DATA_MESSAGE",
        "logGroup": log_group,
        "logStream": STREAM,
        "subscriptionFilters": ["eksaudit"],
        "logEvents": [{"id": "1", "timestamp": 0, "message": message}],
    });
    if let Some(account) = account {
        envelope["owner"] = account.into();
    }
    let record = serde_json::to_vec(&envelope).expect("serialises");
    let mut enveloped = Decoder::new(options);
    let before = enveloped.stats().clone();
    enveloped.push_record(&record, &location);
    let (events_env, errors_env) = eksaudit_fuzz::drain(&mut enveloped, &before);

    let payloads = |e: &[eksaudit::decode::Decoded]| -> Vec<(Vec<u8>, u64)> {
        e.iter()
            .map(|d| (d.event.payload().to_vec(), d.event.time_ns()))
            .collect()
    };
    // An envelope larger than the document limit is refused as a whole: nothing to compare.
    if errors_env.contains(&eksaudit::decode::DecodeErrorKind::DocumentTooLarge) {
        return;
    }
    assert!(
        payloads(&events) == payloads(&events_env),
        "log event and envelope give different events"
    );
    assert_eq!(
        errors, errors_env,
        "log event and envelope give different errors"
    );
});
