//! CloudWatch Logs subscription envelopes, as a subscription filter sends them to Kinesis.

use std::borrow::Cow;

use memchr::memmem;

use super::{DecodeErrorKind, Decoder, Location, audit};
use crate::event::{SourceMeta, TopIndex};
use crate::json::{Json, Kind, compact_members};

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
            (id, message.and_then(Json::str))
        });
    deliver(decoder, header, log_events.is_some(), events, location);
}

/// The typed fast path: a subscription envelope as CloudWatch writes it.
#[derive(serde::Deserialize)]
struct TypedEnvelope<'a> {
    #[serde(rename = "messageType", borrow)]
    message_type: Cow<'a, str>,
    #[serde(default, borrow)]
    owner: Option<Cow<'a, str>>,
    #[serde(rename = "logGroup", default, borrow)]
    log_group: Option<Cow<'a, str>>,
    #[serde(rename = "logStream", default, borrow)]
    log_stream: Option<Cow<'a, str>>,
    #[serde(rename = "logEvents", borrow)]
    log_events: Vec<TypedLogEvent<'a>>,
}

#[derive(serde::Deserialize)]
struct TypedLogEvent<'a> {
    #[serde(default, borrow)]
    id: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow)]
    message: Cow<'a, str>,
}

/// Whether a document starts like a CloudWatch envelope (worth the typed fast path).
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
    /// serde refused it: leave it to the exact path.
    Refused,
}

/// Decodes the envelope at the start of `buffer` in one serde pass (framing, validation
/// and unescaping of every message at once).
pub(super) fn typed_envelope_prefix(
    decoder: &mut Decoder,
    buffer: &[u8],
    location: &Location,
) -> Prefix {
    let mut stream = serde_json::Deserializer::from_slice(buffer).into_iter::<TypedEnvelope<'_>>();
    match stream.next() {
        Some(Ok(envelope)) => {
            let consumed = stream.byte_offset();
            decode_typed(decoder, envelope, location);
            Prefix::Consumed(consumed)
        }
        Some(Err(e)) if e.is_eof() => Prefix::Incomplete,
        _ => Prefix::Refused,
    }
}

/// Decodes an envelope in one serde pass. Returns false, having done nothing, when serde
/// refuses the document: the caller then takes the exact path, which reports problems
/// precisely.
pub(super) fn typed_envelope(decoder: &mut Decoder, document: &[u8], location: &Location) -> bool {
    let Ok(envelope) = serde_json::from_slice::<TypedEnvelope<'_>>(document) else {
        return false;
    };
    decode_typed(decoder, envelope, location);
    true
}

fn decode_typed(decoder: &mut Decoder, envelope: TypedEnvelope<'_>, location: &Location) {
    let header = Header {
        message_type_raw: format!("{:?}", envelope.message_type),
        message_type: Some(envelope.message_type.into_owned()),
        log_group: envelope.log_group.map(Cow::into_owned),
        log_stream: envelope.log_stream.map(Cow::into_owned),
        owner: envelope.owner.map(Cow::into_owned),
    };
    let events = envelope.log_events.into_iter().map(|e| {
        let id =
            e.id.map(|raw| raw.get().trim_matches('"').to_string())
                .unwrap_or_default();
        let message = match e.message {
            Cow::Borrowed(m) => Cow::Borrowed(m.as_bytes()),
            Cow::Owned(m) => Cow::Owned(m.into_bytes()),
        };
        (id, Some(message))
    });
    deliver(decoder, header, true, events, location);
}

/// Decodes the log events of an envelope once its header is known.
fn deliver<'m>(
    decoder: &mut Decoder,
    header: Header,
    has_log_events: bool,
    events: impl Iterator<Item = (String, Option<Cow<'m, [u8]>>)>,
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
    for (i, (id, message)) in events.enumerate() {
        let at = location.with_log_event(i, id);
        match message {
            Some(message) => self::message(decoder, message, &meta, &at),
            None => {
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
    let index = (!members.is_empty()).then(|| TopIndex::from_members(&json, &members));
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
