//! Compact JSON: one validating pass over input bytes, then zero-copy navigation.
//!
//! The hot path (decode → fields → rules) never builds a DOM. [`scan`] validates one JSON
//! value and reports where it ends and whether it holds insignificant whitespace; [`compact`]
//! strips that whitespace only when there is some (EKS audit lines are already compact, so
//! they pass through borrowed). Everything after decoding works on [`Json`], a validated,
//! compact byte range that is navigated lazily: reading `objectRef.resource` skips over
//! `requestObject` without looking inside it.
//!
//! The semantics follow what Falco's k8saudit plugin gets from its Go parser (`fastjson`),
//! because a field that differs by one byte makes a rule silently miss:
//!
//! * an object with a duplicated key answers with the **first** occurrence;
//! * a non-string value is rendered as its compact text exactly as it was sent (number
//!   spelling such as `1.0` or `1e3` is kept, string escapes are kept);
//! * nesting deeper than [`MAX_DEPTH`] (300, fastjson's limit) is an error;
//! * string contents are not required to be UTF-8: bytes pass through as they came, so one
//!   corrupt byte in an unrelated field never costs an alert.
//!
//! The grammar itself is strict RFC 8259 (no raw control characters in strings, no `NaN`),
//! which is also what lets a truncated JSON line be told apart from the next line.
//!
//! ```
//! use eksaudit::json::{compact, Json};
//! let text = br#"{ "verb": "get", "objectRef": {"resource": "pods"} }"#;
//! let bytes = compact(text).unwrap();
//! let doc = Json::new(&bytes);
//! assert_eq!(&doc.get("objectRef").and_then(|o| o.get("resource")).unwrap().text()[..], b"pods");
//! ```

mod navigate;
mod scan;
pub(crate) mod swar;
mod unescape;

pub use navigate::{Elements, Json, Kind, Members};
pub(crate) use scan::Recording;
pub use scan::{
    JsonError, JsonErrorKind, MAX_DEPTH, Member, RECORD_DEPTH, Scanned, compact, compact_into,
    compact_members, scan,
};
pub use unescape::{push_escaped, unescape};

/// Renders validated compact JSON the way Go's `json.Indent(dst, src, "", "  ")` does,
/// which is what the `json` plugin's `json.obj` field shows.
pub fn indent(compact: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(compact.len() + compact.len() / 4);
    let mut depth = 0usize;
    let mut i = 0;
    let newline = |out: &mut Vec<u8>, depth: usize| {
        out.push(b'\n');
        out.extend(std::iter::repeat_n(b' ', depth * 2));
    };
    while i < compact.len() {
        let b = compact[i];
        match b {
            b'"' => {
                let end = navigate::string_end(compact, i);
                out.extend_from_slice(&compact[i..end]);
                i = end;
                continue;
            }
            b'{' | b'[' => {
                out.push(b);
                let close = if b == b'{' { b'}' } else { b']' };
                if compact.get(i + 1) == Some(&close) {
                    out.push(close);
                    i += 2;
                    continue;
                }
                depth += 1;
                newline(&mut out, depth);
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(b);
            }
            b',' => {
                out.push(b',');
                newline(&mut out, depth);
            }
            b':' => out.extend_from_slice(b": "),
            _ => out.push(b),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indent_matches_go_json_indent() {
        let src = br#"{"a":[1,{"b":"x,y:{"},[],{}],"c":null}"#;
        let want = "{\n  \"a\": [\n    1,\n    {\n      \"b\": \"x,y:{\"\n    },\n    [],\n    {}\n  ],\n  \"c\": null\n}";
        assert_eq!(String::from_utf8(indent(src)).unwrap(), want);
    }

    #[test]
    fn indent_of_scalar_is_itself() {
        assert_eq!(indent(b"\"a\""), b"\"a\"");
        assert_eq!(indent(b"12"), b"12");
    }
}
