//! The `json.*`/`jevt.*` fields of Falco's `json` plugin, for the rule engine.
//!
//! Falco loads the real `json` plugin next to ours; these copies exist so that
//! `eksaudit replay` and `rules test` evaluate the upstream rules without Falco. The
//! semantics are the plugin's: `value[<pointer>]` takes an RFC 6901 pointer whose leading
//! `/` is optional, unescapes `~1` then `~0` in each token, and walks arrays by decimal
//! index; a string answers its contents and anything else its compact JSON; an empty
//! pointer answers the whole event. `obj` is the event indented by two spaces (Go's
//! `json.Indent`), `rawtime` the event time in ns.

use std::borrow::Cow;

use super::{Arg, Value};
use crate::event::EventView;
use crate::json::indent;

/// A `json.*` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonField {
    /// `json.value[ptr]` / `jevt.value[ptr]`.
    Value,
    /// `json.obj` / `jevt.obj`.
    Obj,
    /// `json.rawtime` / `jevt.rawtime`.
    RawTime,
}

/// Extracts a `json.*` field.
pub fn extract<'a>(ev: &EventView<'a>, field: JsonField, arg: Arg<'_>) -> Option<Value<'a>> {
    let value = match field {
        JsonField::Value => {
            let Arg::Key(pointer) = arg else {
                return None;
            };
            pointer_value(ev, pointer)?
        }
        JsonField::Obj => Cow::Owned(indent(ev.payload())),
        JsonField::RawTime => Cow::Owned(super::decimal(ev.time_ns(), &mut [0; 20]).to_vec()),
    };
    Some(Value::One(value))
}

/// Walks a JSON pointer from the event root.
pub fn pointer_value<'a>(ev: &EventView<'a>, pointer: &[u8]) -> Option<Cow<'a, [u8]>> {
    if pointer.is_empty() {
        return Some(Cow::Borrowed(ev.payload()));
    }
    let pointer = pointer.strip_prefix(b"/").unwrap_or(pointer);
    if let Some(value) = plain_pointer_value(ev, pointer) {
        return value;
    }
    let tokens: Vec<Cow<'_, [u8]>> = pointer.split(|&b| b == b'/').map(unescape_token).collect();
    let keys: Vec<&[u8]> = tokens.iter().map(|t| &t[..]).collect();
    ev.lookup(&keys).map(|v| v.text())
}

/// The common pointer (no `~` escapes, at most 16 tokens) split in one pass and walked
/// without allocating; `None` when it is not one.
fn plain_pointer_value<'a>(ev: &EventView<'a>, pointer: &[u8]) -> Option<Option<Cow<'a, [u8]>>> {
    const INLINE: usize = 16;
    let mut keys: [&[u8]; INLINE] = [b""; INLINE];
    let mut count = 0;
    let mut start = 0;
    for (i, &b) in pointer.iter().enumerate() {
        match b {
            b'~' => return None,
            b'/' => {
                *keys.get_mut(count)? = &pointer[start..i];
                count += 1;
                start = i + 1;
            }
            _ => {}
        }
    }
    *keys.get_mut(count)? = &pointer[start..];
    Some(ev.lookup(&keys[..=count]).map(|v| v.text()))
}

/// `~1` → `/`, then `~0` → `~` (the order RFC 6901 prescribes).
fn unescape_token(token: &[u8]) -> Cow<'_, [u8]> {
    if !token.contains(&b'~') {
        return Cow::Borrowed(token);
    }
    let replace = |s: &[u8], from: &[u8], to: u8| -> Vec<u8> {
        let mut out = Vec::with_capacity(s.len());
        let mut i = 0;
        while i < s.len() {
            if s[i..].starts_with(from) {
                out.push(to);
                i += from.len();
            } else {
                out.push(s[i]);
                i += 1;
            }
        }
        out
    };
    Cow::Owned(replace(&replace(token, b"~1", b'/'), b"~0", b'~'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{"stage":"ResponseComplete","annotations":{"authorization.k8s.io/decision":"allow"},"a/~b":1,"requestObject":{"ephemeralContainers":[{"name":"debug"}],"spec":{"tls":[{"hosts":["x"]}]}}}"#;

    fn v(pointer: &str) -> Option<String> {
        let view = EventView::new(DOC.as_bytes(), 42);
        match extract(&view, JsonField::Value, Arg::Key(pointer.as_bytes()))? {
            Value::One(v) => Some(String::from_utf8(v.into_owned()).unwrap()),
            Value::List(_) => unreachable!(),
        }
    }

    #[test]
    fn pointers() {
        assert_eq!(v("/stage").as_deref(), Some("ResponseComplete"));
        assert_eq!(v("stage").as_deref(), Some("ResponseComplete"));
        assert_eq!(
            v("/annotations/authorization.k8s.io~1decision").as_deref(),
            Some("allow")
        );
        assert_eq!(v("/a~1~0b").as_deref(), Some("1"));
        assert_eq!(
            v("/requestObject/ephemeralContainers/0/name").as_deref(),
            Some("debug")
        );
        assert_eq!(
            v("/requestObject/spec/tls").as_deref(),
            Some(r#"[{"hosts":["x"]}]"#)
        );
        assert_eq!(v("/requestObject/ephemeralContainers/1/name"), None);
        assert_eq!(v("/nope"), None);
        assert_eq!(v("").as_deref(), Some(DOC));
        // Past 16 tokens, and with `~` escapes, the allocating walk answers alike.
        let deep = format!("/requestObject/spec/tls/0/hosts/0{}", "/x".repeat(11));
        assert_eq!(v(&deep), None);
        assert_eq!(v("/requestObject/spec/tls/0/hosts/0").as_deref(), Some("x"));
        assert_eq!(v("/requestObject~1/spec"), None);
        assert_eq!(v("/stage/"), None);
    }

    #[test]
    fn rawtime_and_obj() {
        let view = EventView::new(br#"{"a":[1]}"#, 42);
        assert_eq!(
            extract(&view, JsonField::RawTime, Arg::None),
            Some(Value::One(Cow::Borrowed(b"42")))
        );
        let Some(Value::One(obj)) = extract(&view, JsonField::Obj, Arg::None) else {
            panic!()
        };
        assert_eq!(&obj[..], b"{\n  \"a\": [\n    1\n  ]\n}");
    }
}
