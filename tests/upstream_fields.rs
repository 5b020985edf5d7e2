//! Field semantics checked against Falco's upstream data.

use eksaudit::event::EventView;
use eksaudit::fields::{Arg, FIELDS, Value, extract, find};
use serde_json::Value as JsonValue;

use crate::support::{decode_file, fixtures, trace_files};

/// Go's `%v` of a `[]string`, how `field_expectations.json` compares values.
fn go_list(value: Option<Value<'_>>) -> String {
    let items: Vec<String> = value
        .map(|v| {
            v.as_slice()
                .iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        })
        .unwrap_or_default();
    format!("[{}]", items.join(" "))
}

#[test]
#[cfg_attr(
    not(has_upstream_fixtures),
    ignore = "needs Falco's upstream fixtures: set EKSAUDIT_FIXTURES or put them at ../shared/fixtures/upstream"
)]
fn field_expectations_json_all_checks() {
    let text = std::fs::read_to_string(fixtures().join("field_expectations.json")).unwrap();
    let cases: Vec<JsonValue> = serde_json::from_str(&text).unwrap();
    let mut checked = 0;
    for case in &cases {
        let payload = serde_json::to_vec(&case["event"]).unwrap();
        let view = EventView::new(&payload, 0);
        for check in case["checks"].as_array().unwrap() {
            let name = check["field"].as_str().unwrap();
            let id = find(name).unwrap_or_else(|| panic!("unknown field {name}"));
            let rendered = go_list(extract(&view, id, Arg::None).unwrap());
            if let Some(needle) = check["must_contain"].as_str() {
                assert!(
                    rendered.contains(needle),
                    "{name} = {rendered}: {}",
                    check["why"]
                );
            }
            if let Some(needle) = check["must_not_contain"].as_str() {
                assert!(
                    !rendered.contains(needle),
                    "{name} = {rendered}: {}",
                    check["why"]
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 5);
}

#[test]
#[cfg_attr(
    not(has_upstream_fixtures),
    ignore = "needs Falco's upstream fixtures: set EKSAUDIT_FIXTURES or put them at ../shared/fixtures/upstream"
)]
fn malformed_upstream_event_is_not_recognized() {
    let path = fixtures().join("falco-0.31.1/test/trace_files/k8s_audit/fal_01_003.json");
    let (events, errors) = decode_file(&path);
    assert!(events.is_empty());
    assert_eq!(errors.len(), 1);
    let text = errors[0].to_string();
    assert!(
        text.contains("not recognized as a k8s audit event"),
        "{text}"
    );
    assert!(text.contains("fal_01_003.json:1"), "{text}");
}

#[test]
#[cfg_attr(
    not(has_upstream_fixtures),
    ignore = "needs Falco's upstream fixtures: set EKSAUDIT_FIXTURES or put them at ../shared/fixtures/upstream"
)]
fn every_trace_decodes_and_every_field_extracts() {
    let traces = trace_files();
    assert!(traces.len() >= 79);
    let mut events = 0;
    for trace in &traces {
        let (decoded, errors) = decode_file(trace);
        let is_malformed = trace.ends_with("fal_01_003.json");
        assert_eq!(
            errors.is_empty(),
            !is_malformed,
            "{}: {errors:?}",
            trace.display()
        );
        for d in &decoded {
            let view = d.event.view();
            for (i, field) in FIELDS.iter().enumerate() {
                let arg = match field.arg {
                    eksaudit::fields::ArgKind::RequiredKey => Arg::Key(b"command"),
                    _ => Arg::None,
                };
                extract(&view, eksaudit::fields::FieldId(i), arg)
                    .unwrap_or_else(|e| panic!("{}: {}: {e}", trace.display(), field.name));
            }
            // The payload is the upstream re-serialisation: compact, key order kept.
            let original: JsonValue = serde_json::from_slice(d.event.payload()).unwrap();
            assert!(original.get("auditID").is_some());
        }
        events += decoded.len();
    }
    assert_eq!(events, 51 + 32);
}
