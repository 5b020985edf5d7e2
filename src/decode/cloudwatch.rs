//! CloudWatch Logs subscription envelopes, as a subscription filter sends them to Kinesis.

use std::borrow::Cow;

use memchr::memmem;

use super::{DecodeErrorKind, Decoder, Location, audit};
use crate::event::{EventIndex, SourceMeta};
use crate::json::{Json, Kind, Member, Recording, Scanned, compact_members};

/// The suffix CloudWatch puts on a message it cut short.
const TRUNCATED_SUFFIX: &[u8] = b"[Truncated...]";

/// EKS writes audit events to streams named `kube-apiserver-audit-<id>`; the same log
/// group also holds the API server's, authenticator's, scheduler's and controller
/// managers' text logs when those log types are enabled.
const AUDIT_STREAM_PREFIX: &str = "kube-apiserver-audit";

/// Whether a document is a subscription envelope rather than audit data.
pub(super) fn is_envelope(doc: Json<'_>) -> bool {
    doc.kind() == Kind::Object && doc.get("messageType").is_some()
}

/// Whether a CloudWatch message (or a line holding one) was truncated by CloudWatch.
pub(super) fn is_truncated(text: &[u8]) -> bool {
    text.trim_ascii_end().ends_with(TRUNCATED_SUFFIX)
}

/// The auditID in text that is not valid JSON (a truncated or broken message), found the
/// way k8saudit-eks finds it: the value after `"auditID":`.
pub(super) fn recover_audit_id(text: &[u8]) -> Option<String> {
    let at = memmem::find(text, b"\"auditID\"")? + b"\"auditID\"".len();
    let rest = text[at..]
        .trim_ascii_start()
        .strip_prefix(b":")?
        .trim_ascii_start();
    let rest = rest.strip_prefix(b"\"")?;
    let end = rest.iter().position(|&b| b == b'"' || b == b'\\')?;
    let id = &rest[..end];
    (!id.is_empty() && id.len() <= 128).then(|| String::from_utf8_lossy(id).into_owned())
}

/// What an envelope says about its log events, however it was parsed.
struct Header {
    /// `None` when `messageType` is missing or not a string (shown as `raw`).
    message_type: Option<String>,
    message_type_raw: String,
    log_group: Option<String>,
    log_stream: Option<String>,
    owner: Option<String>,
}

/// Decodes a subscription envelope with our navigator: exact fastjson semantics for
/// anything the typed fast path refused (duplicate keys, odd escapes, wrong types).
pub(super) fn envelope(decoder: &mut Decoder, doc: Json<'_>, location: &Location) {
    let [message_type, log_events, log_group, log_stream, owner] =
        doc.pick(["messageType", "logEvents", "logGroup", "logStream", "owner"]);
    let text = |v: Option<Json<'_>>| {
        v.and_then(Json::str)
            .map(|s| String::from_utf8_lossy(&s).into_owned())
    };
    let header = Header {
        message_type: text(message_type),
        message_type_raw: message_type.map_or("(none)".into(), |m| {
            String::from_utf8_lossy(m.raw()).into_owned()
        }),
        log_group: text(log_group),
        log_stream: text(log_stream),
        owner: text(owner),
    };
    let log_events = log_events.filter(|e| e.kind() == Kind::Array);
    let events = log_events
        .into_iter()
        .flat_map(|array| array.elements())
        .map(|log_event| {
            let [id, message] = log_event.pick(["id", "message"]);
            let id = id
                .map(|id| String::from_utf8_lossy(&id.text()).into_owned())
                .unwrap_or_default();
            (id, message.and_then(Json::str), None)
        });
    deliver(decoder, header, log_events.is_some(), events, location);
}

/// Whether a document starts like a CloudWatch envelope (worth the fast path).
pub(super) fn looks_like_envelope(document: &[u8]) -> bool {
    let head = document.trim_ascii_start();
    head.starts_with(br#"{"messageType""#) || head.starts_with(br#"{"logEvents""#)
}

/// How the fast path went on a buffer that starts with an envelope.
pub(super) enum Prefix {
    /// The envelope was decoded; it took this many bytes.
    Consumed(usize),
    /// The buffer ends inside the envelope.
    Incomplete,
    /// The fast path refused it: leave it to the exact path.
    Refused,
}

/// Decodes the envelope at the start of `buffer` in one pass that frames it, validates
/// it and unescapes every message straight into the decoder's message buffer; then
/// decodes the messages from there.
pub(super) fn typed_envelope_prefix(
    decoder: &mut Decoder,
    buffer: &[u8],
    location: &Location,
) -> Prefix {
    let mut fast = std::mem::take(&mut decoder.envelope);
    let result = fast.parse(buffer);
    let prefix = match result {
        Ok(header) => {
            deliver_fast(decoder, &mut fast, header, location);
            Prefix::Consumed(fast.end)
        }
        Err(Fail::Incomplete) => Prefix::Incomplete,
        Err(Fail::Refused) => Prefix::Refused,
    };
    decoder.envelope = fast;
    prefix
}

/// Decodes a complete envelope document on the fast path. Returns false, having done
/// nothing, when the fast path refuses it: the caller then takes the exact path, which
/// reports problems precisely.
pub(super) fn typed_envelope(decoder: &mut Decoder, document: &[u8], location: &Location) -> bool {
    let mut fast = std::mem::take(&mut decoder.envelope);
    let done = match fast.parse(document) {
        Ok(header) if document[fast.end..].iter().all(u8::is_ascii_whitespace) => {
            deliver_fast(decoder, &mut fast, header, location);
            true
        }
        _ => false,
    };
    decoder.envelope = fast;
    done
}

fn deliver_fast(
    decoder: &mut Decoder,
    fast: &mut FastEnvelope,
    header: Header,
    location: &Location,
) {
    let (text, members) = (&fast.text, &fast.members);
    let events = fast.messages.drain(..).map(|(id, span, range)| {
        let message = &text[span.0 as usize..span.1 as usize];
        let members = range.map(|(from, to)| &members[from as usize..to as usize]);
        (id, Some(Cow::Borrowed(message)), members)
    });
    deliver(decoder, header, true, events, location);
}

/// Why the fast path stopped.
#[derive(Debug, PartialEq, Eq)]
enum Fail {
    /// The input ended inside the envelope.
    Incomplete,
    /// Anything the exact path must judge: invalid JSON, duplicate or escaped keys,
    /// unexpected types, a log event without a message.
    Refused,
}

type Parsed<T> = Result<T, Fail>;

/// A start and end offset.
type Span = (u32, u32);

/// The fast path's reusable state: every message of the envelope, unescaped back to
/// back into one buffer, and where each is.
#[derive(Debug, Default)]
pub(super) struct FastEnvelope {
    /// Unescaped messages. Kept at its high-water length (never shrunk), so writing into
    /// it is a plain store.
    text: Vec<u8>,
    /// Each log event's id, the span of its message in `text`, and the range of its
    /// root members in `members` when the message was validated while unescaped.
    messages: Vec<(String, Span, Option<Span>)>,
    /// Root members of the validated messages (offsets relative to each message).
    members: Vec<Member>,
    /// Where the envelope ended in the input.
    end: usize,
}

#[inline]
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

/// A cursor over the envelope bytes.
struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    /// The next byte after whitespace (not consumed).
    #[inline]
    fn peek(&mut self) -> Parsed<u8> {
        while let Some(&b) = self.s.get(self.i) {
            if !is_ws(b) {
                return Ok(b);
            }
            self.i += 1;
        }
        Err(Fail::Incomplete)
    }

    #[inline]
    fn expect(&mut self, want: u8) -> Parsed<()> {
        if self.peek()? == want {
            self.i += 1;
            Ok(())
        } else {
            Err(Fail::Refused)
        }
    }

    /// A string without escapes or control characters: its contents.
    fn plain_string(&mut self) -> Parsed<&'a [u8]> {
        self.expect(b'"')?;
        let start = self.i;
        let end = crate::json::swar::string_special(self.s, start);
        match self.s.get(end) {
            None => Err(Fail::Incomplete),
            Some(b'"') => {
                self.i = end + 1;
                Ok(&self.s[start..end])
            }
            Some(_) => Err(Fail::Refused),
        }
    }

    /// A member name, then its colon.
    fn key(&mut self) -> Parsed<&'a [u8]> {
        let key = self.plain_string()?;
        self.expect(b':')?;
        Ok(key)
    }

    /// `null` (None) or a plain UTF-8 string.
    fn optional_text(&mut self) -> Parsed<Option<String>> {
        if self.peek()? == b'n' {
            self.skip_value()?;
            return Ok(None);
        }
        let text = self.plain_string()?;
        match std::str::from_utf8(text) {
            Ok(text) => Ok(Some(text.to_string())),
            Err(_) => Err(Fail::Refused),
        }
    }

    /// Validates and skips any value.
    fn skip_value(&mut self) -> Parsed<()> {
        self.peek()?;
        match crate::json::scan(self.s, self.i, false) {
            Ok(Scanned::Complete { end, .. }) => {
                self.i = end;
                Ok(())
            }
            Ok(Scanned::NeedMore) => Err(Fail::Incomplete),
            Err(_) => Err(Fail::Refused),
        }
    }

    /// After a member or element: true for `,`, false for `close`.
    fn more(&mut self, close: u8) -> Parsed<bool> {
        match self.peek()? {
            b',' => {
                self.i += 1;
                Ok(true)
            }
            b if b == close => {
                self.i += 1;
                Ok(false)
            }
            _ => Err(Fail::Refused),
        }
    }
}

impl FastEnvelope {
    /// Parses the envelope at the start of `s` (after whitespace).
    fn parse(&mut self, s: &[u8]) -> Parsed<Header> {
        self.messages.clear();
        self.members.clear();
        self.end = 0;
        // Unescaping never lengthens text, so the input's size bounds every message; the
        // slack lets the last chunk of a message be stored whole.
        if self.text.len() < s.len() + 16 {
            self.text.resize(s.len() + 16, 0);
        }
        let mut c = Cursor { s, i: 0 };
        c.expect(b'{')?;
        let mut message_type = None;
        let (mut owner, mut log_group, mut log_stream) = (None, None, None);
        let mut seen = [false; 5];
        let mut log_events = false;
        if c.peek()? == b'}' {
            return Err(Fail::Refused);
        }
        let mut out = 0usize;
        loop {
            let key = c.key()?;
            let slot = match key {
                b"messageType" => 0,
                b"owner" => 1,
                b"logGroup" => 2,
                b"logStream" => 3,
                b"logEvents" => 4,
                _ => {
                    c.skip_value()?;
                    if c.more(b'}')? {
                        continue;
                    }
                    break;
                }
            };
            if std::mem::replace(&mut seen[slot], true) {
                return Err(Fail::Refused);
            }
            match slot {
                0 => {
                    let text = c.plain_string()?;
                    let text = std::str::from_utf8(text).map_err(|_| Fail::Refused)?;
                    message_type = Some(text.to_string());
                }
                1 => owner = c.optional_text()?,
                2 => log_group = c.optional_text()?,
                3 => log_stream = c.optional_text()?,
                _ => {
                    out = self.log_events(&mut c, out)?;
                    log_events = true;
                }
            }
            if !c.more(b'}')? {
                break;
            }
        }
        let Some(message_type) = message_type.filter(|_| log_events) else {
            return Err(Fail::Refused);
        };
        self.end = c.i;
        Ok(Header {
            message_type_raw: format!("{message_type:?}"),
            message_type: Some(message_type),
            log_group,
            log_stream,
            owner,
        })
    }

    /// `logEvents`: each message unescaped into `text` from `out` on; answers where the
    /// next one goes.
    fn log_events(&mut self, c: &mut Cursor<'_>, mut out: usize) -> Parsed<usize> {
        c.expect(b'[')?;
        if c.peek()? == b']' {
            c.i += 1;
            return Ok(out);
        }
        loop {
            c.expect(b'{')?;
            let mut id = None;
            let mut message = None;
            if c.peek()? != b'}' {
                loop {
                    match c.key()? {
                        b"id" => {
                            if id.is_some() || c.peek()? != b'"' {
                                return Err(Fail::Refused);
                            }
                            let text = c.plain_string()?;
                            let text = std::str::from_utf8(text).map_err(|_| Fail::Refused)?;
                            id = Some(text.to_string());
                        }
                        b"message" => {
                            if message.is_some() || c.peek()? != b'"' {
                                return Err(Fail::Refused);
                            }
                            let mark = self.members.len();
                            let (end, members) =
                                match fused_message(c, &mut self.text, out, &mut self.members) {
                                    Some(valid) => (valid.end, Some(valid.members)),
                                    None => {
                                        self.members.truncate(mark);
                                        (unescape_into(c, &mut self.text, out)?, None)
                                    }
                                };
                            message = Some(((out as u32, end as u32), members));
                            out = end;
                        }
                        _ => c.skip_value()?,
                    }
                    if !c.more(b'}')? {
                        break;
                    }
                }
            } else {
                c.i += 1;
            }
            let (span, members) = message.ok_or(Fail::Refused)?;
            self.messages.push((id.unwrap_or_default(), span, members));
            if !c.more(b']')? {
                return Ok(out);
            }
        }
    }
}

/// Unescapes the JSON string at the cursor (at its opening quote) into `text` at `out`;
/// answers where its contents end in `text`. Escapes follow [`crate::json::unescape`]
/// (fastjson's rules), which is what the exact path gives for the same message.
///
/// Eight bytes at a time: each word is stored whole, then the cursor moves to the first
/// quote, backslash or control byte in it. `text` must hold the rest of the input plus 8.
fn unescape_into(c: &mut Cursor<'_>, text: &mut [u8], mut out: usize) -> Parsed<usize> {
    let s = c.s;
    let mut i = c.i + 1;
    loop {
        while let (Some(word), Some(dst)) = (
            s.get(i..).and_then(<[u8]>::first_chunk::<8>),
            text.get_mut(out..).and_then(<[u8]>::first_chunk_mut::<8>),
        ) {
            *dst = *word;
            let stop = crate::json::swar::special_in_word(u64::from_le_bytes(*word));
            i += stop;
            out += stop;
            if stop < 8 {
                // The usual escape, an escaped quote, handled on the spot.
                if s.get(i) == Some(&b'\\') && s.get(i + 1) == Some(&b'"') {
                    text[out] = b'"';
                    out += 1;
                    i += 2;
                    continue;
                }
                break;
            }
        }
        let Some(&b) = s.get(i) else {
            return Err(Fail::Incomplete);
        };
        match b {
            b'"' => {
                c.i = i + 1;
                return Ok(out);
            }
            b'\\' => {
                let Some(&e) = s.get(i + 1) else {
                    return Err(Fail::Incomplete);
                };
                let byte = match e {
                    b'"' | b'\\' | b'/' => e,
                    b'b' => 0x08,
                    b'f' => 0x0c,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'u' => {
                        // A run of \uXXXX escapes, decoded together (surrogate pairs).
                        let start = i;
                        while s.get(i) == Some(&b'\\') && s.get(i + 1) == Some(&b'u') {
                            let Some(hex) = s.get(i + 2..i + 6) else {
                                return Err(Fail::Incomplete);
                            };
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return Err(Fail::Refused);
                            }
                            i += 6;
                        }
                        let decoded = crate::json::unescape(&s[start..i]);
                        text[out..out + decoded.len()].copy_from_slice(&decoded);
                        out += decoded.len();
                        continue;
                    }
                    _ => return Err(Fail::Refused),
                };
                text[out] = byte;
                out += 1;
                i += 2;
            }
            0..0x20 => return Err(Fail::Refused),
            _ => {
                // Fewer than 8 bytes left: one at a time.
                text[out] = b;
                out += 1;
                i += 1;
            }
        }
    }
}

/// Decodes the log events of an envelope once its header is known.
fn deliver<'m>(
    decoder: &mut Decoder,
    header: Header,
    has_log_events: bool,
    events: impl Iterator<Item = (String, Option<Cow<'m, [u8]>>, Option<&'m [Member]>)>,
    location: &Location,
) {
    match header.message_type.as_deref() {
        Some("DATA_MESSAGE") => {}
        Some("CONTROL_MESSAGE") => {
            decoder.stats.control_messages += 1;
            tracing::debug!(%location, "Skipped a CloudWatch CONTROL_MESSAGE.");
            return;
        }
        _ => {
            let detail = format!(
                "CloudWatch envelope with unknown messageType {}",
                header.message_type_raw
            );
            return decoder.error(DecodeErrorKind::BadEnvelope, location.clone(), None, detail);
        }
    }
    if !has_log_events {
        let detail = "CloudWatch envelope without a logEvents array".to_string();
        return decoder.error(DecodeErrorKind::BadEnvelope, location.clone(), None, detail);
    }
    if let Some(stream) = &header.log_stream
        && !stream.starts_with(AUDIT_STREAM_PREFIX)
    {
        skip_non_audit_stream(decoder, stream, events.count() as u64);
        return;
    }
    let meta = SourceMeta {
        cluster: header
            .log_group
            .as_deref()
            .and_then(SourceMeta::cluster_from_log_group)
            .map(str::to_string),
        account: header.owner,
        region: decoder.options().region.clone(),
        log_group: header.log_group,
        log_stream: header.log_stream,
        kinesis_shard: decoder.record_origin.as_ref().map(|o| o.0.clone()),
        kinesis_sequence: decoder.record_origin.as_ref().map(|o| o.1.clone()),
    };
    for (i, (id, message, members)) in events.enumerate() {
        let at = location.with_log_event(i, id);
        match (message, members) {
            (Some(message), Some(members)) => validated(decoder, &message, members, &meta, &at),
            (Some(message), None) => self::message(decoder, message, &meta, &at),
            (None, _) => {
                let detail = "CloudWatch log event without a string message".to_string();
                decoder.error(DecodeErrorKind::BadEnvelope, at, None, detail);
            }
        }
    }
}

fn skip_non_audit_stream(decoder: &mut Decoder, stream: &str, log_events: u64) {
    decoder.stats.non_audit_log_events += log_events;
    if decoder.reported_streams.len() < 64 && !decoder.reported_streams.iter().any(|s| s == stream)
    {
        decoder.reported_streams.push(stream.to_string());
        tracing::info!(
            log_stream = stream,
            "Skipping log events of a log stream that is not an audit stream (reported once per stream)."
        );
    }
}

/// Decodes a message the fast path validated (compact JSON) while unescaping it, with its
/// root members: what [`message`] does after its validating pass.
fn validated(
    decoder: &mut Decoder,
    text: &[u8],
    members: &[Member],
    meta: &SourceMeta,
    location: &Location,
) {
    if is_truncated(text) {
        return message(decoder, Cow::Borrowed(text), meta, location);
    }
    let index = (!members.is_empty()).then(|| EventIndex::from_members(text, members));
    audit::payload(decoder, Json::new(text), index, meta, location);
}

/// Decodes one CloudWatch message: audit JSON as the API server wrote it.
fn message(decoder: &mut Decoder, text: Cow<'_, [u8]>, meta: &SourceMeta, location: &Location) {
    if is_truncated(&text) {
        return decoder.truncated(location.clone(), &text);
    }
    let mut members = std::mem::take(&mut decoder.members);
    let result = compact_members(&text, &mut members);
    let json = match result {
        Ok(json) => json,
        Err(e) => {
            let audit_id = recover_audit_id(&text);
            decoder.error(
                DecodeErrorKind::InvalidJson,
                location.clone(),
                audit_id,
                e.to_string(),
            );
            decoder.members = members;
            return;
        }
    };
    let index = (!members.is_empty()).then(|| EventIndex::from_members(&json, &members));
    // The usual case: an owned, already compact message whose members were recorded.
    let whole = matches!(&json, Cow::Borrowed(j) if j.len() == text.len());
    if whole && index.is_some() && matches!(text, Cow::Owned(_)) {
        drop(json);
        if let (Some(index), Cow::Owned(buffer)) = (index, text) {
            audit::owned_payload(decoder, buffer, index, meta, location);
        }
    } else {
        audit::payload(decoder, Json::new(&json), index, meta, location);
    }
    decoder.members = members;
}

/// A message validated while it was unescaped: where it is in the message buffer, and its
/// recorded members (offsets relative to the message), as
/// [`crate::json::compact_members`] would have recorded them.
#[derive(Debug, Clone, Copy)]
struct Validated {
    end: usize,
    /// Range of this message's members in [`FastEnvelope::members`].
    members: (u32, u32),
}

/// How a message token ended the structural walk.
const END: u8 = 0;

/// The fused pass over one message: unescapes the envelope string at the cursor (at its
/// opening quote) into `text` at `out` and, in the same pass, validates the message as
/// compact JSON and records its members ([`Member`]). `None` when the message is anything but
/// compact, valid JSON whose envelope-level escapes are only `\"`, `\\` and `\/` (so the
/// bytes can be read as they come): the caller then unescapes it alone and the exact
/// checks judge it, so every answer stays the validating scanner's.
///
/// In the envelope text, a message-level quote is `\"`, a message-level backslash `\\`;
/// structure, numbers and literals are plain bytes.
fn fused_message(
    c: &mut Cursor<'_>,
    text: &mut [u8],
    out: usize,
    members: &mut Vec<Member>,
) -> Option<Validated> {
    let s = c.s;
    // `room`: `text` holds the rest of the input plus a chunk, and nothing is written
    // ahead of what was read (every byte written stands for at least one byte read), so
    // `out <= i` throughout and writes at `out`, or a chunk at `out` beside one read at
    // `i`, stay inside `text`: `emit!` and `string!` rely on it.
    if s.len() + 16 > text.len() || out > c.i {
        return None;
    }
    let start = out;
    let mut out = out;
    let mut i = c.i + 1;
    let first_member = members.len();
    let mut stack = [0u8; crate::json::MAX_DEPTH];
    let mut depth = 0usize;
    // The recorded members being read (relative to the message): the key at each depth,
    // and where values start.
    let mut keys = [(0u32, 0u32); crate::json::RECORD_DEPTH];
    let mut recording = Recording::default();

    // The next message-level structural byte: `"` for `\"`, END for the envelope string's
    // closing quote; `None` for anything else that is not a plain byte.
    macro_rules! next {
        () => {
            match s.get(i) {
                Some(b'\\') if s.get(i + 1) == Some(&b'"') => {
                    i += 2;
                    b'"'
                }
                Some(b'"') => {
                    i += 1;
                    END
                }
                Some(&b) if b > b' ' && b != b'\\' => {
                    i += 1;
                    b
                }
                _ => return None,
            }
        };
    }
    macro_rules! emit {
        ($b:expr) => {{
            debug_assert!(out <= i && i <= s.len() && s.len() + 16 <= text.len());
            // SAFETY: see `room`: `out <= i <= s.len() < text.len()`.
            unsafe { *text.get_unchecked_mut(out) = $b };
            out += 1;
        }};
    }
    // The rest of a message-level string whose opening quote was read and emitted.
    // Sixteen bytes at a time: each chunk is stored whole, then the cursor moves to the
    // first quote, backslash or control byte in it.
    macro_rules! string {
        () => {{
            loop {
                while let Some(chunk) = s.get(i..).and_then(<[u8]>::first_chunk::<16>) {
                    debug_assert!(out <= i && s.len() + 16 <= text.len());
                    // SAFETY: see `room`: `out + 16 <= i + 16 <= s.len() + 16 <= text.len()`.
                    let dst = unsafe { &mut *text.as_mut_ptr().add(out).cast::<[u8; 16]>() };
                    *dst = *chunk;
                    let stop = crate::json::swar::special_in_chunk(chunk);
                    i += stop;
                    out += stop;
                    if stop < 16 {
                        break;
                    }
                }
                match (s.get(i), s.get(i + 1)) {
                    (Some(b'\\'), Some(b'"')) => {
                        i += 2;
                        emit!(b'"');
                        break;
                    }
                    (Some(b'\\'), Some(b'/')) => {
                        i += 2;
                        emit!(b'/');
                    }
                    (Some(b'\\'), Some(b'\\')) => {
                        // A message-level escape: `\` then its letter, itself escaped in
                        // the envelope when it is a quote, a backslash or a slash.
                        i += 2;
                        emit!(b'\\');
                        match (s.get(i), s.get(i + 1)) {
                            (Some(b'\\'), Some(&e @ (b'"' | b'\\' | b'/'))) => {
                                i += 2;
                                emit!(e);
                            }
                            (Some(&e @ (b'/' | b'b' | b'f' | b'n' | b'r' | b't')), _) => {
                                i += 1;
                                emit!(e);
                            }
                            (Some(b'u'), _) => {
                                let hex = s.get(i + 1..i + 5)?;
                                if !hex.iter().all(u8::is_ascii_hexdigit) {
                                    return None;
                                }
                                text.get_mut(out..out + 5)?.copy_from_slice(&s[i..i + 5]);
                                i += 5;
                                out += 5;
                            }
                            _ => return None,
                        }
                    }
                    (Some(&b), _) if b >= b' ' && b != b'"' && b != b'\\' => {
                        // Fewer than 8 bytes left.
                        i += 1;
                        emit!(b);
                    }
                    _ => return None,
                }
            }
        }};
    }

    let mut b = next!();
    'value: loop {
        match b {
            b'{' | b'[' => {
                emit!(b);
                let close = b + 2; // '}' and ']'
                let n = next!();
                if n == close {
                    emit!(n);
                } else {
                    if depth + 1 >= crate::json::MAX_DEPTH {
                        return None;
                    }
                    recording.opened(depth, close == b'}');
                    stack[depth] = close;
                    depth += 1;
                    if close == b'}' {
                        // A key, its colon, then the value.
                        if n != b'"' {
                            return None;
                        }
                        let key_start = out + 1;
                        emit!(b'"');
                        string!();
                        if let Some(slot) = keys.get_mut(depth - 1) {
                            *slot = ((key_start - start) as u32, (out - 1 - start) as u32);
                        }
                        if next!() != b':' {
                            return None;
                        }
                        emit!(b':');
                        // Only members are recorded: their values start here.
                        recording.value_starts(depth, out - start);
                        b = next!();
                    } else {
                        b = n;
                    }
                    continue 'value;
                }
            }
            b'"' => {
                emit!(b'"');
                string!();
            }
            b'-' | b'0'..=b'9' => {
                // The scanner's number grammar, on plain bytes.
                emit!(b);
                let digit = |i: usize| s.get(i).is_some_and(u8::is_ascii_digit);
                let mut leading = b;
                if b == b'-' {
                    if !digit(i) {
                        return None;
                    }
                    leading = s[i];
                    emit!(leading);
                    i += 1;
                }
                if leading != b'0' {
                    while digit(i) {
                        emit!(s[i]);
                        i += 1;
                    }
                }
                if s.get(i) == Some(&b'.') {
                    emit!(b'.');
                    i += 1;
                    if !digit(i) {
                        return None;
                    }
                    while digit(i) {
                        emit!(s[i]);
                        i += 1;
                    }
                }
                if let Some(&e @ (b'e' | b'E')) = s.get(i) {
                    emit!(e);
                    i += 1;
                    if let Some(&sign @ (b'+' | b'-')) = s.get(i) {
                        emit!(sign);
                        i += 1;
                    }
                    if !digit(i) {
                        return None;
                    }
                    while digit(i) {
                        emit!(s[i]);
                        i += 1;
                    }
                }
            }
            b't' | b'f' | b'n' => {
                let word: &[u8] = match b {
                    b't' => b"true",
                    b'f' => b"false",
                    _ => b"null",
                };
                if s.get(i - 1..i - 1 + word.len())? != word {
                    return None;
                }
                text.get_mut(out..out + word.len())?.copy_from_slice(word);
                out += word.len();
                i += word.len() - 1;
            }
            _ => return None,
        }
        // After a complete value: close containers or move to the next member.
        loop {
            if depth == 0 {
                // The message must end where the envelope string does.
                if next!() != END {
                    return None;
                }
                c.i = i;
                return Some(Validated {
                    end: out,
                    members: (first_member as u32, members.len() as u32),
                });
            }
            if let Some(key) = keys.get(depth - 1)
                && let Some(member) = recording.member(depth, *key, out - start)
            {
                members.push(member);
            }
            let close = stack[depth - 1];
            let n = next!();
            if n == close {
                emit!(n);
                depth -= 1;
                recording.closed(depth);
            } else if n == b',' {
                emit!(b',');
                if close == b'}' {
                    if next!() != b'"' {
                        return None;
                    }
                    let key_start = out + 1;
                    emit!(b'"');
                    string!();
                    if let Some(slot) = keys.get_mut(depth - 1) {
                        *slot = ((key_start - start) as u32, (out - 1 - start) as u32);
                    }
                    if next!() != b':' {
                        return None;
                    }
                    emit!(b':');
                    recording.value_starts(depth, out - start);
                }
                b = next!();
                continue 'value;
            } else {
                return None;
            }
        }
    }
}

/// Where a log event read from CloudWatch Logs directly (FilterLogEvents, not a
/// subscription) comes from: what an envelope's header would have said.
#[derive(Debug, Clone, Copy)]
pub struct LogEventOrigin<'a> {
    /// The log group.
    pub log_group: &'a str,
    /// The log stream.
    pub log_stream: &'a str,
    /// The account that owns the group, when known.
    pub account: Option<&'a str>,
}

impl Decoder {
    /// Decodes one log event read with FilterLogEvents exactly as a log event of a
    /// subscription envelope is decoded (same `[Truncated...]` handling, same
    /// annotations: cluster, account, region, log group, log stream), so events read
    /// either way are the same events. The caller picks the log streams: nothing is
    /// skipped here for its stream's name.
    pub fn push_log_event(
        &mut self,
        message: String,
        origin: LogEventOrigin<'_>,
        location: &Location,
    ) {
        let meta = SourceMeta {
            cluster: SourceMeta::cluster_from_log_group(origin.log_group).map(str::to_string),
            account: origin.account.map(str::to_string),
            region: self.options().region.clone(),
            log_group: Some(origin.log_group.to_string()),
            log_stream: Some(origin.log_stream.to_string()),
            kinesis_shard: None,
            kinesis_sequence: None,
        };
        self::message(self, Cow::Owned(message.into_bytes()), &meta, location);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compact messages are validated while they are unescaped, with the members the
    /// validating scanner records; anything else is left to it.
    #[test]
    fn fused_pass_validates_compact_messages_only() {
        let messages = [
            r#"{"a":"x\"y\\z\/","b":[1,-2.5e3,true,null,{"c":{}}],"a":0}"#,
            r#"[1,2]"#,
            r#"{ "a":1}"#,
            r#"{"a":1}x"#,
            r#"{"a":"é"}"#,
            r#"{"a":01}"#,
            r#"{"o":{"p":{"q":{"r":1},"s":[{"t":2}]},"u":"v"},"w":[{"x":{"y":3}}],"o":{"z":0}}"#,
        ];
        let log_events: Vec<String> = messages
            .iter()
            .map(|m| {
                format!(
                    r#"{{"id":"1","message":{}}}"#,
                    serde_json::to_string(m).unwrap()
                )
            })
            .collect();
        let envelope = format!(
            r#"{{"messageType":"DATA_MESSAGE","logEvents":[{}]}}"#,
            log_events.join(",")
        );
        let mut fast = FastEnvelope::default();
        fast.parse(envelope.as_bytes()).unwrap();
        let validated: Vec<bool> = fast.messages.iter().map(|m| m.2.is_some()).collect();
        assert_eq!(validated, [true, true, false, false, true, false, true]);
        for (i, (_, span, range)) in fast.messages.iter().enumerate() {
            let text = &fast.text[span.0 as usize..span.1 as usize];
            assert_eq!(text, messages[i].as_bytes());
            if let Some((from, to)) = range {
                let mut want = Vec::new();
                crate::json::compact_members(text, &mut want).unwrap();
                assert_eq!(&fast.members[*from as usize..*to as usize], &want[..]);
            }
        }
    }
}
