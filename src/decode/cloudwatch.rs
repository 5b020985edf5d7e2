//! CloudWatch Logs subscription envelopes, as a subscription filter sends them to Kinesis.

use std::borrow::Cow;

use memchr::memmem;

use super::{DecodeErrorKind, Decoder, Location, audit};
use crate::event::SourceMeta;
use crate::json::{Json, Kind, compact};

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

fn string<'a>(doc: Json<'a>, key: &str) -> Option<Cow<'a, [u8]>> {
    doc.get(key).and_then(Json::str)
}

fn owned_string(doc: Json<'_>, key: &str) -> Option<String> {
    string(doc, key).map(|s| String::from_utf8_lossy(&s).into_owned())
}

/// Decodes a subscription envelope: every log event's message as an audit payload.
pub(super) fn envelope(decoder: &mut Decoder, doc: Json<'_>, location: &Location) {
    let message_type = string(doc, "messageType");
    match message_type.as_deref() {
        Some(b"DATA_MESSAGE") => {}
        Some(b"CONTROL_MESSAGE") => {
            decoder.stats.control_messages += 1;
            tracing::debug!(%location, "Skipped a CloudWatch CONTROL_MESSAGE.");
            return;
        }
        _ => {
            let detail = format!(
                "CloudWatch envelope with unknown messageType {}",
                doc.get("messageType")
                    .map_or("(not a string)".into(), |m| String::from_utf8_lossy(
                        m.raw()
                    ))
            );
            return decoder.error(DecodeErrorKind::BadEnvelope, location.clone(), None, detail);
        }
    }
    let Some(log_events) = doc.get("logEvents").filter(|e| e.kind() == Kind::Array) else {
        let detail = "CloudWatch envelope without a logEvents array".to_string();
        return decoder.error(DecodeErrorKind::BadEnvelope, location.clone(), None, detail);
    };
    let log_group = owned_string(doc, "logGroup");
    let log_stream = owned_string(doc, "logStream");
    if let Some(stream) = &log_stream
        && !stream.starts_with(AUDIT_STREAM_PREFIX)
    {
        skip_non_audit_stream(decoder, stream, log_events.elements().count() as u64);
        return;
    }
    let meta = SourceMeta {
        cluster: log_group
            .as_deref()
            .and_then(SourceMeta::cluster_from_log_group)
            .map(str::to_string),
        account: owned_string(doc, "owner"),
        region: decoder.options().region.clone(),
        log_group,
        log_stream,
    };
    for (i, log_event) in log_events.elements().enumerate() {
        let id = log_event
            .get("id")
            .map(|id| String::from_utf8_lossy(&id.text()).into_owned())
            .unwrap_or_default();
        let at = location.with_log_event(i, id);
        match string(log_event, "message") {
            Some(message) => self::message(decoder, &message, &meta, &at),
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
fn message(decoder: &mut Decoder, text: &[u8], meta: &SourceMeta, location: &Location) {
    if is_truncated(text) {
        return decoder.truncated(location.clone(), text);
    }
    match compact(text) {
        Ok(json) => audit::payload(decoder, Json::new(&json), meta, location),
        Err(e) => decoder.error(
            DecodeErrorKind::InvalidJson,
            location.clone(),
            recover_audit_id(text),
            e.to_string(),
        ),
    }
}
