//! What the fuzz targets share: decoder options and record shapes picked by a control
//! byte, and the invariants every decoded event, every extraction and every alert must
//! hold. A broken invariant panics, which libFuzzer reports as a crash.

use std::borrow::Cow;
use std::io::Write;
use std::sync::LazyLock;

use eksaudit::decode::{
    DEFAULT_MAX_EVENT_SIZE, DecodeErrorKind, DecodeOptions, Decoded, Decoder, MAX_MAX_EVENT_SIZE,
};
use eksaudit::event::{AuditEvent, EventIndex, EventView};
use eksaudit::fields::{self, Arg, ArgKind, FIELDS, FieldId};
use eksaudit::json::{self, Json, Kind};
use eksaudit::rules::{Alert, Engine, EngineOptions, RuleMatching, RulesFile};

/// Decoder options from a control byte: bits 0-1 the event size limit, bits 2-3 the
/// document size limit (small ones reach the "too large" paths), bit 4 a region.
pub fn options(control: u8) -> DecodeOptions {
    let max_event_size =
        [DEFAULT_MAX_EVENT_SIZE, 1024, 300, MAX_MAX_EVENT_SIZE][usize::from(control & 3)];
    let max_document_size =
        [64 * 1024 * 1024, 4 * max_event_size, 600, 64 * 1024][usize::from((control >> 2) & 3)];
    DecodeOptions {
        max_event_size,
        max_document_size,
        region: (control & 0x10 != 0).then(|| "us-east-1".to_string()),
    }
}

/// gzip (one member) of `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).expect("writing to a Vec");
    encoder.finish().expect("writing to a Vec")
}

/// The record bytes for `data` by `mode` (bits 0-1): as given, gzip, two gzip members
/// (what records written back to back give), or gzip broken at the end (trailer cut or
/// CRC wrong). Raw mutated gzip is reached through mode 0 with a gzip seed.
pub fn shape(mode: u8, data: &[u8]) -> Vec<u8> {
    match mode & 3 {
        0 => data.to_vec(),
        1 => gzip(data),
        2 => {
            let (a, b) = data.split_at(data.len() / 2);
            let mut out = gzip(a);
            out.extend_from_slice(&gzip(b));
            out
        }
        _ => {
            let mut out = gzip(data);
            let n = out.len();
            if data.len() % 2 == 0 {
                out.truncate(n - 1 - data.len() % 7);
            } else {
                out[n - 8] ^= 0x55;
            }
            out
        }
    }
}

/// Drains `decoder`, checks every event and error, and checks the counters moved by what
/// was drained. Answers the events and the error kinds, in order.
pub fn drain(
    decoder: &mut Decoder,
    before: &eksaudit::decode::DecodeStats,
) -> (Vec<Decoded>, Vec<DecodeErrorKind>) {
    let mut events = Vec::new();
    let mut errors = Vec::new();
    let max_event_size = decoder.options().max_event_size;
    while let Some(item) = decoder.pop() {
        match item {
            Ok(decoded) => {
                check_event(&decoded.event, max_event_size);
                events.push(decoded);
            }
            Err(e) => {
                // Messages are built from input: they must render.
                let _ = e.to_string();
                errors.push(e.kind);
            }
        }
    }
    let after = decoder.stats();
    assert_eq!(
        after.events - before.events,
        events.len() as u64,
        "events counted"
    );
    assert_eq!(
        after.total_errors() - before.total_errors(),
        errors.len() as u64,
        "errors counted"
    );
    let bytes: u64 = events.iter().map(|d| d.event.payload().len() as u64).sum();
    assert_eq!(
        after.event_bytes - before.event_bytes,
        bytes,
        "event bytes counted"
    );
    (events, errors)
}

/// A delivered event: compact valid JSON, an object, within the size limit, its index the
/// same as a walk of the payload gives, its `eks.*` fields readable. (Every field and the rules over
/// arbitrary events are the `fields` target's: here they would slow the decoders' runs
/// down several times.)
pub fn check_event(event: &AuditEvent, max_event_size: usize) {
    let payload = event.payload();
    assert!(
        payload.len() <= max_event_size,
        "event larger than max_event_size"
    );
    match json::compact(payload) {
        Ok(Cow::Borrowed(c)) => assert_eq!(c.len(), payload.len(), "payload has whitespace"),
        Ok(Cow::Owned(_)) => panic!("payload has whitespace"),
        Err(e) => panic!("payload is not valid JSON: {e}"),
    }
    assert_eq!(
        Json::new(payload).kind(),
        Kind::Object,
        "payload is not an object"
    );
    assert_eq!(
        event.index(),
        EventIndex::by_navigation(payload),
        "stored index differs from a walk's"
    );
    let stored = event.view();
    for (i, info) in FIELDS.iter().enumerate() {
        if info.name.starts_with("eks.") {
            extract(&stored, FieldId(i), Arg::None);
        }
    }
}

/// Keys tried for fields that take one, besides the input's own.
const KEYS: [&[u8]; 8] = [
    b"",
    b"/",
    b"command",
    b"user/username",
    b"/requestObject/spec/containers/0/image",
    b"/annotations/authorization.k8s.io~1decision",
    b"~0~1~2",
    b"0",
];

/// Extracts every field with a few arguments, plus `key` for the key fields.
pub fn extract_all(view: &EventView<'_>, key: &[u8]) {
    for (i, info) in FIELDS.iter().enumerate() {
        let id = FieldId(i);
        match info.arg {
            ArgKind::None => extract(view, id, Arg::None),
            ArgKind::OptionalIndex => {
                for arg in [
                    Arg::None,
                    Arg::Index(0),
                    Arg::Index(1),
                    Arg::Index(u64::MAX),
                ] {
                    extract(view, id, arg);
                }
            }
            ArgKind::RequiredKey => {
                extract(view, id, Arg::Key(key));
                for k in KEYS {
                    extract(view, id, Arg::Key(k));
                }
            }
        }
    }
}

fn extract(view: &EventView<'_>, id: FieldId, arg: Arg<'_>) {
    match fields::extract(view, id, arg) {
        Ok(Some(value)) => {
            if let fields::Value::List(items) = &value {
                assert!(
                    !items.is_empty(),
                    "{}: an empty list is no value",
                    id.info().name
                );
            }
        }
        Ok(None) => {}
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// The bundled rules, every match reported.
static ENGINE: LazyLock<Engine> = LazyLock::new(|| {
    let options = EngineOptions {
        rule_matching: RuleMatching::All,
        hostname: "fuzz".into(),
        ..EngineOptions::default()
    };
    match Engine::load(&eksaudit::bundled::rules_files(), &options) {
        Ok((engine, _)) => engine,
        Err(report) => panic!("bundled rules do not load: {report:?}"),
    }
});

/// Evaluates the bundled rules; every alert must render as JSON.
pub fn evaluate(view: &EventView<'_>) {
    evaluate_with(&ENGINE, view);
}

/// Evaluates `engine`'s rules; every alert must render as JSON.
pub fn evaluate_with(engine: &Engine, view: &EventView<'_>) {
    let mut alerts: Vec<Alert> = Vec::new();
    let n = engine.evaluator().evaluate(view, 1, &mut alerts);
    assert_eq!(n, alerts.len());
    for alert in &alerts {
        let text = alert.to_json();
        if let Err(e) = serde_json::from_str::<serde_json::Value>(&text) {
            panic!("alert is not JSON ({e}): {text}");
        }
    }
}

/// Events to run rules loaded from fuzz input against: the first bundled sample events
/// (a pod exec, a privileged pod, RBAC changes, secrets...).
pub static SAMPLE_EVENTS: LazyLock<Vec<AuditEvent>> = LazyLock::new(|| {
    eksaudit::decode::decode_bytes(
        eksaudit::bundled::SAMPLE_EVENTS,
        "samples",
        &DecodeOptions::with_max_event_size(4 * 1024 * 1024),
    )
    .filter_map(Result::ok)
    .map(|d| d.event)
    .take(8)
    .collect()
});

/// Loads `files`; when they load, runs them over the sample events. Load reports (with
/// their source excerpts) must render.
pub fn load_and_run(files: &[RulesFile], options: &EngineOptions) {
    match Engine::load(files, options) {
        Ok((engine, report)) => {
            let _ = report.verbose(files);
            let _ = report.to_json(files);
            let _ = engine.rules();
            for event in SAMPLE_EVENTS.iter() {
                evaluate_with(&engine, &event.view());
            }
        }
        Err(report) => {
            assert!(!report.successful());
            let _ = report.verbose(files);
            let _ = report.to_json(files);
        }
    }
}
