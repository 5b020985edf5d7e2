//! The validating pass: finds where one JSON value ends, checks its grammar, and notes
//! whether it holds whitespace that [`compact`] must strip.
//!
//! It is iterative (an explicit stack of open containers), so 10,000 nested brackets are
//! a clean [`JsonErrorKind::TooDeep`] error instead of a stack overflow.

use std::borrow::Cow;
use std::fmt;

/// Deepest nesting accepted: the limit of the Go parser the upstream plugin uses, so an
/// event Falco's own plugin accepts is accepted here too.
pub const MAX_DEPTH: usize = 300;

/// Why a JSON value was rejected, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON at byte {offset}: {kind}")]
pub struct JsonError {
    /// What was wrong.
    pub kind: JsonErrorKind,
    /// Byte offset of the problem in the scanned input.
    pub offset: usize,
}

/// The kinds of JSON grammar errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonErrorKind {
    /// The input ended inside a value.
    UnexpectedEnd,
    /// A byte that cannot appear here.
    UnexpectedByte(u8),
    /// Nesting deeper than [`MAX_DEPTH`].
    TooDeep,
    /// A malformed number.
    InvalidNumber,
    /// A backslash escape that JSON does not define.
    InvalidEscape,
    /// A raw control character (below 0x20) inside a string.
    ControlCharacter(u8),
    /// More than whitespace after the value.
    TrailingData,
}

impl fmt::Display for JsonErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedEnd => f.write_str("unexpected end of input"),
            Self::UnexpectedByte(b) if b.is_ascii_graphic() => {
                write!(f, "unexpected character '{}'", *b as char)
            }
            Self::UnexpectedByte(b) => write!(f, "unexpected byte 0x{b:02x}"),
            Self::TooDeep => write!(f, "nesting deeper than {MAX_DEPTH} levels"),
            Self::InvalidNumber => f.write_str("invalid number"),
            Self::InvalidEscape => f.write_str("invalid escape sequence in string"),
            Self::ControlCharacter(b) => write!(f, "raw control character 0x{b:02x} in string"),
            Self::TrailingData => f.write_str("unexpected data after the JSON value"),
        }
    }
}

/// The outcome of scanning one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scanned {
    /// A complete value ends at `end` (exclusive). `whitespace` tells whether insignificant
    /// whitespace occurs inside it (so a copy is needed to make it compact).
    Complete {
        /// Offset just past the value.
        end: usize,
        /// Whether the value contains whitespace outside strings.
        whitespace: bool,
    },
    /// The input ended inside the value and `eof` was false: read more and scan again.
    NeedMore,
}

#[inline]
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

struct Scanner<'a, 'm> {
    s: &'a [u8],
    i: usize,
    eof: bool,
    /// Where to record the members of the root object and of the objects nested in it,
    /// when asked.
    members: Option<&'m mut Vec<Member>>,
    /// The raw key of the member being scanned at each recorded depth.
    keys: [(u32, u32); RECORD_DEPTH],
}

/// How deep [`Member`]s are recorded: the root object's members (depth 1), the members of
/// objects among them (2) and of objects among those (3), e.g. `requestObject.spec.*`.
pub const RECORD_DEPTH: usize = 3;

/// A member of the root object, or of an object reached from it through objects only (no
/// array on the way), at most [`RECORD_DEPTH`] deep: byte ranges of the scanned input for
/// the key's raw text (between its quotes) and the value.
///
/// Members are recorded when their value ends, so an object's members come before the
/// object's own member (post-order): the members at depth `d + 1` between two members at
/// depth `d` (or from the start) belong to the second one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// Start and end of the key text, without quotes.
    pub key: (u32, u32),
    /// Start and end of the value.
    pub value: (u32, u32),
    /// 1 for a member of the root object, 2 for a member of one of its objects, ...
    pub depth: u32,
}

/// Which members the scanners record: how many of the open containers, from the root,
/// are objects, up to [`RECORD_DEPTH`] (a member is recorded when all its enclosing
/// containers are objects and it is at most that deep), and where the value of each such
/// member started.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Recording {
    objects: usize,
    starts: [u32; RECORD_DEPTH],
}

impl Recording {
    /// A container was opened; `depth` is the number open before it.
    #[inline(always)]
    pub(crate) fn opened(&mut self, depth: usize, object: bool) {
        // Capped, so that `objects` never exceeds the recorded depth either.
        if object && self.objects == depth && depth < RECORD_DEPTH {
            self.objects += 1;
        }
    }

    /// A container was closed; `depth` is the number still open.
    #[inline(always)]
    pub(crate) fn closed(&mut self, depth: usize) {
        self.objects = self.objects.min(depth);
    }

    /// Whether a member at `depth` (open containers) is recorded.
    #[inline(always)]
    pub(crate) fn records(&self, depth: usize) -> bool {
        // `objects` is at most `depth` and at most RECORD_DEPTH, so this is
        // `1 <= depth == objects`: one comparison on every value of the document.
        depth.wrapping_sub(1) < self.objects
    }

    /// A value starts at `at` with `depth` containers open.
    #[inline(always)]
    pub(crate) fn value_starts(&mut self, depth: usize, at: usize) {
        if self.records(depth) {
            self.starts[depth - 1] = at as u32;
        }
    }

    /// The member at `depth` whose value ends at `end`, when it is recorded.
    #[inline(always)]
    pub(crate) fn member(&self, depth: usize, key: (u32, u32), end: usize) -> Option<Member> {
        self.records(depth).then(|| Member {
            key,
            value: (self.starts[depth - 1], end as u32),
            depth: depth as u32,
        })
    }
}

/// The closing bytes of the open containers: a fixed array, as deep as [`MAX_DEPTH`]
/// allows, so scanning allocates nothing.
struct Stack {
    closers: [u8; MAX_DEPTH],
    len: usize,
}

impl Default for Stack {
    fn default() -> Self {
        Stack {
            closers: [0; MAX_DEPTH],
            len: 0,
        }
    }
}

impl Stack {
    #[inline(always)]
    fn len(&self) -> usize {
        self.len
    }

    #[inline(always)]
    fn last(&self) -> Option<u8> {
        self.len.checked_sub(1).map(|i| self.closers[i])
    }

    /// Callers check the depth first (a value deeper than [`MAX_DEPTH`] is an error).
    #[inline(always)]
    fn push(&mut self, closer: u8) {
        self.closers[self.len] = closer;
        self.len += 1;
    }

    #[inline(always)]
    fn pop(&mut self) {
        self.len -= 1;
    }
}

/// An early stop: either a real error or "need more input".
enum Stop {
    Error(JsonError),
    NeedMore,
}

type Step<T> = Result<T, Stop>;

impl Scanner<'_, '_> {
    fn err<T>(&self, kind: JsonErrorKind, offset: usize) -> Step<T> {
        Err(Stop::Error(JsonError { kind, offset }))
    }

    fn end<T>(&self) -> Step<T> {
        if self.eof {
            self.err(JsonErrorKind::UnexpectedEnd, self.s.len())
        } else {
            Err(Stop::NeedMore)
        }
    }

    /// Skips whitespace, returns whether there was any.
    #[inline(always)]
    fn skip_ws(&mut self) -> bool {
        let start = self.i;
        while self.i < self.s.len() && is_ws(self.s[self.i]) {
            self.i += 1;
        }
        self.i != start
    }

    #[inline(always)]
    fn peek(&self) -> Step<u8> {
        match self.s.get(self.i) {
            Some(&b) => Ok(b),
            None => self.end(),
        }
    }

    #[inline(always)]
    fn string(&mut self) -> Step<()> {
        // self.s[self.i] == '"'
        self.i += 1;
        loop {
            self.i = super::swar::string_special(self.s, self.i);
            let Some(&b) = self.s.get(self.i) else {
                return self.end();
            };
            match b {
                b'"' => {
                    self.i += 1;
                    return Ok(());
                }
                b'\\' => {
                    let Some(&e) = self.s.get(self.i + 1) else {
                        return self.end();
                    };
                    match e {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 2,
                        b'u' => {
                            for k in 0..4 {
                                match self.s.get(self.i + 2 + k) {
                                    Some(h) if h.is_ascii_hexdigit() => {}
                                    Some(_) => {
                                        return self.err(JsonErrorKind::InvalidEscape, self.i);
                                    }
                                    None => return self.end(),
                                }
                            }
                            self.i += 6;
                        }
                        _ => return self.err(JsonErrorKind::InvalidEscape, self.i),
                    }
                }
                _ => return self.err(JsonErrorKind::ControlCharacter(b), self.i),
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Step<()> {
        let start = self.i;
        if self.s[self.i] == b'-' {
            self.i += 1;
        }
        match self.s.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b) if b.is_ascii_digit() => {
                self.digits();
            }
            Some(_) => return self.err(JsonErrorKind::InvalidNumber, start),
            None => return self.end(),
        }
        if self.s.get(self.i) == Some(&b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return self.number_tail_error(start);
            }
        }
        if matches!(self.s.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.s.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return self.number_tail_error(start);
            }
        }
        // A number at the very end of a non-final buffer may continue in the next read.
        if self.i == self.s.len() && !self.eof {
            return Err(Stop::NeedMore);
        }
        Ok(())
    }

    fn number_tail_error(&self, start: usize) -> Step<()> {
        if self.i == self.s.len() {
            self.end()
        } else {
            self.err(JsonErrorKind::InvalidNumber, start)
        }
    }

    fn literal(&mut self, word: &[u8]) -> Step<()> {
        let have = &self.s[self.i..];
        let n = have.len().min(word.len());
        if have[..n] != word[..n] {
            return self.err(JsonErrorKind::UnexpectedByte(have[0]), self.i);
        }
        if n < word.len() {
            return self.end();
        }
        self.i += word.len();
        Ok(())
    }

    fn scalar(&mut self, b: u8) -> Step<()> {
        match b {
            b'"' => self.string(),
            b'-' | b'0'..=b'9' => self.number(),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.err(JsonErrorKind::UnexpectedByte(b), self.i),
        }
    }

    fn object_key(&mut self, ws: &mut bool, depth: usize) -> Step<()> {
        *ws |= self.skip_ws();
        let start = self.i;
        match self.peek()? {
            b'"' => self.string()?,
            b => return self.err(JsonErrorKind::UnexpectedByte(b), self.i),
        }
        if let Some(slot) = depth.checked_sub(1).and_then(|d| self.keys.get_mut(d)) {
            *slot = ((start + 1) as u32, (self.i - 1) as u32);
        }
        *ws |= self.skip_ws();
        match self.peek()? {
            b':' => {
                self.i += 1;
                Ok(())
            }
            b => self.err(JsonErrorKind::UnexpectedByte(b), self.i),
        }
    }

    /// Scans one value starting at `self.i` (no leading whitespace).
    fn value(&mut self) -> Step<bool> {
        let mut stack = Stack::default();
        let mut ws = false;
        let mut recording = Recording::default();
        let record = self.members.is_some();
        'value: loop {
            ws |= self.skip_ws();
            let b = self.peek()?;
            if record {
                recording.value_starts(stack.len(), self.i);
            }
            if stack.len() + 1 > MAX_DEPTH {
                return self.err(JsonErrorKind::TooDeep, self.i);
            }
            match b {
                b'{' => {
                    self.i += 1;
                    ws |= self.skip_ws();
                    if self.peek()? == b'}' {
                        self.i += 1;
                    } else {
                        recording.opened(stack.len(), true);
                        stack.push(b'}');
                        self.object_key(&mut ws, stack.len())?;
                        continue 'value;
                    }
                }
                b'[' => {
                    self.i += 1;
                    ws |= self.skip_ws();
                    if self.peek()? == b']' {
                        self.i += 1;
                    } else {
                        recording.opened(stack.len(), false);
                        stack.push(b']');
                        continue 'value;
                    }
                }
                _ => self.scalar(b)?,
            }
            // After a complete value: close containers or move to the next member.
            loop {
                let Some(close) = stack.last() else {
                    return Ok(ws);
                };
                if let Some(members) = self.members.as_deref_mut()
                    && let Some(key) = stack.len().checked_sub(1).and_then(|d| self.keys.get(d))
                    && let Some(member) = recording.member(stack.len(), *key, self.i)
                {
                    members.push(member);
                }
                ws |= self.skip_ws();
                let b = self.peek()?;
                if b == close {
                    self.i += 1;
                    stack.pop();
                    recording.closed(stack.len());
                } else if b == b',' {
                    self.i += 1;
                    if close == b'}' {
                        self.object_key(&mut ws, stack.len())?;
                    }
                    continue 'value;
                } else {
                    return self.err(JsonErrorKind::UnexpectedByte(b), self.i);
                }
            }
        }
    }
}

/// Scans the JSON value that starts at `start` (which must not be whitespace).
///
/// With `eof == false`, running out of input inside the value answers
/// [`Scanned::NeedMore`] rather than an error, so a streaming reader can refill and retry.
pub fn scan(input: &[u8], start: usize, eof: bool) -> Result<Scanned, JsonError> {
    scan_recording(input, start, eof, None)
}

fn scan_recording(
    input: &[u8],
    start: usize,
    eof: bool,
    members: Option<&mut Vec<Member>>,
) -> Result<Scanned, JsonError> {
    let mut scanner = Scanner {
        s: input,
        i: start,
        eof,
        members,
        keys: [(0, 0); RECORD_DEPTH],
    };
    match scanner.value() {
        Ok(whitespace) => Ok(Scanned::Complete {
            end: scanner.i,
            whitespace,
        }),
        Err(Stop::NeedMore) => Ok(Scanned::NeedMore),
        Err(Stop::Error(e)) => Err(e),
    }
}

/// Validates that `input` holds exactly one JSON value (whitespace around it allowed) and
/// returns it compact: borrowed when it already is, copied without whitespace otherwise.
pub fn compact(input: &[u8]) -> Result<Cow<'_, [u8]>, JsonError> {
    compact_recording(input, None)
}

/// [`compact`], also recording the [`Member`]s of a root object and of the objects in it
/// (offsets into the compact result) in one pass: what an event's index needs, without a
/// second scan.
pub fn compact_members<'a>(
    input: &'a [u8],
    members: &mut Vec<Member>,
) -> Result<Cow<'a, [u8]>, JsonError> {
    members.clear();
    let compact = compact_recording(input, Some(members))?;
    let start = input.iter().position(|&b| !is_ws(b)).unwrap_or(input.len()) as u32;
    match compact {
        Cow::Borrowed(_) => {
            for m in members.iter_mut() {
                m.key = (m.key.0 - start, m.key.1 - start);
                m.value = (m.value.0 - start, m.value.1 - start);
            }
        }
        // Offsets of the original input do not apply to the copy: record nothing.
        Cow::Owned(_) => members.clear(),
    }
    Ok(compact)
}

fn compact_recording<'a>(
    input: &'a [u8],
    members: Option<&mut Vec<Member>>,
) -> Result<Cow<'a, [u8]>, JsonError> {
    let start = input.iter().position(|&b| !is_ws(b)).unwrap_or(input.len());
    let Scanned::Complete { end, whitespace } = scan_recording(input, start, true, members)? else {
        unreachable!("scan with eof=true never asks for more input")
    };
    if let Some(extra) = input[end..].iter().position(|&b| !is_ws(b)) {
        return Err(JsonError {
            kind: JsonErrorKind::TrailingData,
            offset: end + extra,
        });
    }
    let value = &input[start..end];
    if !whitespace {
        return Ok(Cow::Borrowed(value));
    }
    let mut out = Vec::with_capacity(value.len());
    compact_into(value, &mut out);
    Ok(Cow::Owned(out))
}

/// Appends `value` (one *validated* JSON value) to `out` without insignificant whitespace.
pub fn compact_into(value: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < value.len() {
        let b = value[i];
        if b == b'"' {
            let end = super::navigate::string_end(value, i);
            out.extend_from_slice(&value[i..end]);
            i = end;
        } else {
            if !is_ws(b) {
                out.push(b);
            }
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(s: &str) -> Result<(usize, bool), JsonError> {
        match scan(s.as_bytes(), 0, true)? {
            Scanned::Complete { end, whitespace } => Ok((end, whitespace)),
            Scanned::NeedMore => panic!("eof scan asked for more"),
        }
    }

    #[test]
    fn accepts_what_serde_json_accepts() {
        for doc in [
            "0",
            "-0.5e+10",
            "1E3",
            r#""a\"b\\c\/\b\f\n\r\t\u00e9""#,
            "true",
            "false",
            "null",
            "[]",
            "{}",
            r#"{"a":[1,2,{"b":null}],"c":"d"}"#,
            r#"[ 1 , [ ] , { "x" : { } } ]"#,
        ] {
            assert!(serde_json::from_str::<serde_json::Value>(doc).is_ok());
            let (end, _) = complete(doc).unwrap_or_else(|e| panic!("{doc}: {e}"));
            assert_eq!(end, doc.len(), "{doc}");
        }
    }

    #[test]
    fn rejects_what_serde_json_rejects() {
        for doc in [
            "",
            "01",
            "1.",
            ".5",
            "-",
            "1e",
            "+1",
            "tru",
            "nul",
            "[1,]",
            "{,}",
            r#"{"a"}"#,
            r#"{"a":}"#,
            r#"{"a":1,}"#,
            r#"{a:1}"#,
            "[1 2]",
            r#""\x""#,
            r#""\u12g4""#,
            "\"a\nb\"",
            "NaN",
            "[",
            "{\"a\":[}",
        ] {
            assert!(
                serde_json::from_str::<serde_json::Value>(doc).is_err(),
                "{doc}"
            );
            assert!(compact(doc.as_bytes()).is_err(), "accepted {doc:?}");
        }
    }

    #[test]
    fn need_more_when_not_eof() {
        for part in [
            r#"{"a":"#,
            r#"{"a":"xx"#,
            "[1,",
            "12",
            "tr",
            r#""\u00"#,
            "{",
        ] {
            assert_eq!(
                scan(part.as_bytes(), 0, false),
                Ok(Scanned::NeedMore),
                "{part}"
            );
            let at_eof = scan(part.as_bytes(), 0, true);
            assert_eq!(at_eof.is_ok(), part == "12", "{part}: {at_eof:?}");
        }
    }

    #[test]
    fn whitespace_is_reported_and_stripped() {
        assert!(!complete(r#"{"a":1}"#).unwrap().1);
        assert!(complete(r#"{"a": 1}"#).unwrap().1);
        let c = compact(b" {\n \"a b\" : [ 1 , \"x y\" ] }\n").unwrap();
        assert_eq!(&c[..], br#"{"a b":[1,"x y"]}"#);
        assert!(matches!(compact(br#"{"a":1}"#).unwrap(), Cow::Borrowed(_)));
    }

    fn text_of(doc: &[u8], (s, e): (u32, u32)) -> String {
        String::from_utf8(doc[s as usize..e as usize].to_vec()).unwrap()
    }

    #[test]
    fn records_members_to_depth_three() {
        let doc = br#"{"a":1,"b\"c":{"x":[1,{"y":2}]},"d":[],"e":"s"}"#;
        let mut members = Vec::new();
        compact_members(doc, &mut members).unwrap();
        let got: Vec<_> = members
            .iter()
            .map(|m| (text_of(doc, m.key), text_of(doc, m.value), m.depth))
            .collect();
        // Post-order, and nothing below an array.
        assert_eq!(
            got,
            vec![
                ("a".into(), "1".into(), 1),
                ("x".into(), r#"[1,{"y":2}]"#.into(), 2),
                ("b\\\"c".into(), r#"{"x":[1,{"y":2}]}"#.into(), 1),
                ("d".into(), "[]".into(), 1),
                ("e".into(), r#""s""#.into(), 1)
            ]
        );
        let deep = br#"{"a":{"b":{"c":{"d":1},"e":2}},"f":{}}"#;
        compact_members(deep, &mut members).unwrap();
        let got: Vec<_> = members
            .iter()
            .map(|m| (text_of(deep, m.key), m.depth))
            .collect();
        assert_eq!(
            got,
            [("c", 3), ("e", 3), ("b", 2), ("a", 1), ("f", 1)].map(|(k, d)| (k.to_string(), d)),
            "recorded to depth {RECORD_DEPTH}"
        );
        compact_members(b" [1,{\"a\":2}]", &mut members).unwrap();
        assert!(members.is_empty());
        compact_members(b"{\"a\": 1}", &mut members).unwrap();
        assert!(
            members.is_empty(),
            "not recorded when the input is not compact"
        );
    }

    #[test]
    fn trailing_data_is_an_error() {
        let e = compact(br#"{"a":1} x"#).unwrap_err();
        assert_eq!(e.kind, JsonErrorKind::TrailingData);
        assert_eq!(e.offset, 8);
    }

    #[test]
    fn depth_limit_is_fastjsons() {
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(compact(ok.as_bytes()).is_ok());
        let inner = "[".repeat(MAX_DEPTH) + "1" + &"]".repeat(MAX_DEPTH);
        assert_eq!(
            compact(inner.as_bytes()).unwrap_err().kind,
            JsonErrorKind::TooDeep
        );
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        assert_eq!(
            compact(deep.as_bytes()).unwrap_err().kind,
            JsonErrorKind::TooDeep
        );
    }

    #[test]
    fn invalid_utf8_in_strings_passes_through() {
        let doc = b"{\"a\":\"\xff\xfe\"}";
        assert_eq!(&compact(doc).unwrap()[..], doc);
    }
}
