//! Field extraction over arbitrary JSON: every `ka.*`, `eks.*` and `json.*` field with
//! several arguments (indexes, keys, JSON pointers), the event view's indexes, and the
//! bundled rules evaluated (every match) with their alerts rendered.
//!
//! Input: a JSON document, optionally followed by a NUL byte and a key used as the
//! argument of the fields that take one (`ka.uri.param[key]`, `json.value[pointer]`).
//! Valid JSON never holds a raw NUL, so fixtures are seeds as they are.
#![no_main]

use std::borrow::Cow;

use eksaudit::event::{EventIndex, EventView};
use eksaudit::json::compact_members;
use libfuzzer_sys::fuzz_target;

const SPEC_KEYS: [&str; 4] = ["containers", "securityContext", "ports", "nope"];
const PRIVILEGED: &[&[u8]] = &[
    b"requestObject",
    b"spec",
    b"containers",
    b"0",
    b"securityContext",
    b"privileged",
];
const SUBJECT: &[&[u8]] = &[b"requestObject", b"subjects", b"0", b"name"];
const PORTS: &[&[u8]] = &[b"requestObject", b"spec", b"ports"];
const REQUEST_KEYS: [&str; 4] = ["spec", "data", "roleRef", "nope"];
const TARGET: &[&[u8]] = &[b"objectRef", b"name"];
const RESPONSE_NAME: &[&[u8]] = &[b"responseObject", b"metadata", b"name"];
const DECISION: &[&[u8]] = &[b"annotations", b"authorization.k8s.io/decision"];

fuzz_target!(|data: &[u8]| {
    let (document, key) = match data.iter().position(|&b| b == 0) {
        Some(nul) => (&data[..nul], &data[nul + 1..]),
        None => (data, &b"name"[..]),
    };
    let mut members = Vec::new();
    let Ok(compact) = compact_members(document, &mut members) else {
        return;
    };
    let payload: &[u8] = &compact;
    if let Cow::Borrowed(_) = compact {
        assert_eq!(
            EventIndex::from_members(payload, &members),
            EventIndex::by_navigation(payload),
            "index from recorded members differs from a walk's"
        );
    }
    let view = EventView::new(payload, 1_700_000_000_123_456_789);
    for k in REQUEST_KEYS {
        let _ = view.request_member(k);
    }
    for k in SPEC_KEYS {
        let _ = view.spec_member(k);
    }
    // The indexed lookup answers what a plain walk from the root answers.
    let own: Vec<&[u8]> = key.split(|&b| b == b'/').take(8).collect();
    for path in [
        &own[..],
        PRIVILEGED,
        SUBJECT,
        PORTS,
        TARGET,
        RESPONSE_NAME,
        DECISION,
    ] {
        let walked = path.iter().try_fold(view.root(), |v, k| v.get_go(k));
        assert_eq!(
            view.lookup(path).map(|v| v.raw()),
            walked.map(|v| v.raw()),
            "indexed lookup differs from a walk: {path:?}"
        );
    }
    eksaudit_fuzz::extract_all(&view, key);
    eksaudit_fuzz::evaluate(&view);
});
