//! The JSON layer over arbitrary bytes: the validating pass (`compact`, `scan`, with the
//! members recorded), navigation, unescaping and escaping, `indent`.
//!
//! Invariants:
//! * what `serde_json` accepts (valid UTF-8), `compact` accepts, and both read the same
//!   value from the input and from the compact form;
//! * the compact form is compact (`compact` of it borrows it whole) and `indent` of it
//!   compacts back to it;
//! * a prefix of a valid document scanned as a stream asks for more, never fails;
//! * the members recorded while validating are the members navigation finds: those of the
//!   root object and of objects reached through objects, `RECORD_DEPTH` deep, post-order;
//! * `unescape` undoes `push_escaped` for any bytes.
#![no_main]

use std::borrow::Cow;

use eksaudit::json::{
    self, Json, Kind, MAX_DEPTH, RECORD_DEPTH, Scanned, compact, compact_members, push_escaped,
    scan, unescape,
};
use libfuzzer_sys::fuzz_target;

/// The members the validating pass records, found by navigation: (depth, raw key, value),
/// an object's members before the member that holds it.
fn recordable<'a>(object: Json<'a>, depth: u32, out: &mut Vec<(u32, &'a [u8], &'a [u8])>) {
    for (key, value) in object.members() {
        if (depth as usize) < RECORD_DEPTH && value.kind() == Kind::Object {
            recordable(value, depth + 1, out);
        }
        out.push((depth, key, value.raw()));
    }
}

/// Visits every value; answers how many.
fn walk(value: Json<'_>, depth: usize) -> usize {
    assert!(depth <= MAX_DEPTH, "navigation deeper than the limit");
    let mut n = 1;
    match value.kind() {
        Kind::Object => {
            let members: Vec<_> = value.members().collect();
            for (i, (key, member)) in members.iter().enumerate() {
                let key = unescape(key);
                // The first member with a key is what lookups answer.
                let first = members[..i].iter().all(|(k, _)| *unescape(k) != *key);
                if first {
                    let found = value
                        .get_bytes(&key)
                        .expect("a member's key finds a member");
                    assert_eq!(found.raw(), member.raw(), "lookup is not the first member");
                    assert_eq!(value.get_go(&key).map(Json::raw), Some(member.raw()));
                }
                n += walk(*member, depth + 1);
            }
        }
        Kind::Array => {
            for (i, element) in value.elements().enumerate() {
                assert_eq!(value.at(i).map(Json::raw), Some(element.raw()), "at({i})");
                assert_eq!(
                    value.get_go(i.to_string().as_bytes()).map(Json::raw),
                    Some(element.raw()),
                    "get_go({i})"
                );
                n += walk(element, depth + 1);
            }
        }
        Kind::String => {
            let text = value.str().expect("a string has contents");
            // Escaping what unescaping gave reads back the same bytes.
            let mut escaped = Vec::new();
            push_escaped(&mut escaped, &text);
            assert_eq!(json::compact(&escaped).map(|c| c.len()), Ok(escaped.len()));
            assert_eq!(*unescape(&escaped[1..escaped.len() - 1]), *text);
        }
        _ => {
            let _ = value.text();
            let _ = value.is_true();
        }
    }
    n
}

fuzz_target!(|data: &[u8]| {
    // Escaping round-trips any bytes.
    let mut escaped = Vec::new();
    push_escaped(&mut escaped, data);
    assert_eq!(
        *unescape(&escaped[1..escaped.len() - 1]),
        *data,
        "unescape(escape(x)) != x"
    );
    let _ = unescape(data);

    let serde: Option<serde_json::Value> = std::str::from_utf8(data)
        .ok()
        .and_then(|text| serde_json::from_str(text).ok());
    let mut members = Vec::new();
    let compacted = compact(data);
    let recorded = compact_members(data, &mut members);
    assert_eq!(compacted, recorded, "compact and compact_members disagree");
    let compacted = match compacted {
        Ok(c) => c,
        Err(e) => {
            assert!(
                serde.is_none(),
                "serde_json accepts what compact refuses: {e}"
            );
            return;
        }
    };
    let c: &[u8] = &compacted;
    // Compact is compact, and stable.
    assert!(
        matches!(compact(c), Ok(Cow::Borrowed(b)) if b == c),
        "compact is not compact"
    );
    assert_eq!(
        scan(c, 0, true),
        Ok(Scanned::Complete {
            end: c.len(),
            whitespace: false
        })
    );
    // Same value as serde_json reads.
    if let Some(value) = &serde {
        let again: serde_json::Value =
            serde_json::from_slice(c).expect("serde_json reads the compact form");
        assert_eq!(value, &again, "compacting changed the value");
    }
    // Indenting and compacting again gives the compact form.
    let indented = json::indent(c);
    assert_eq!(
        compact(&indented).as_deref(),
        Ok(c),
        "indent does not compact back"
    );
    // A streamed prefix asks for more (a number at the end may also be complete).
    let start = data
        .iter()
        .position(|b| !matches!(b, b' ' | b'\n' | b'\r' | b'\t'))
        .unwrap_or(data.len());
    let Ok(Scanned::Complete { end, .. }) = scan(data, start, true) else {
        panic!("compact accepts what scan refuses");
    };
    for cut in [start + 1, (start + end) / 2, end.saturating_sub(1)] {
        if cut > start && cut < data.len() {
            match scan(&data[..cut], start, false) {
                Ok(_) => {}
                Err(e) => panic!("a prefix of a valid document fails to stream: {e}"),
            }
        }
    }
    // Navigation.
    let root = Json::new(c);
    walk(root, 0);
    if let Cow::Borrowed(_) = compacted
        && root.kind() == Kind::Object
    {
        let mut found = Vec::new();
        recordable(root, 1, &mut found);
        let recorded: Vec<(u32, &[u8], &[u8])> = members
            .iter()
            .map(|m| {
                (
                    m.depth,
                    &c[m.key.0 as usize..m.key.1 as usize],
                    &c[m.value.0 as usize..m.value.1 as usize],
                )
            })
            .collect();
        assert_eq!(found, recorded, "recorded members differ from navigation");
    }
});
