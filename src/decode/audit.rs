//! Kubernetes audit framing: which parts of a JSON document are events.

use super::time::parse_rfc3339_nanos;
use super::{DecodeErrorKind, Decoder, Location};
use crate::event::{AuditEvent, EventView, SourceMeta, Top, TopIndex, annotate};
use crate::json::{Json, Kind};

/// The message Falco's k8saudit plugin gives for JSON that is not audit data; kept word
/// for word so tools that grep Falco's logs keep working.
pub(super) const NOT_RECOGNIZED: &str = "data not recognized as a k8s audit event";

/// Audit API versions accepted (k8saudit does not check; these are the ones that exist).
const API_VERSIONS: [&[u8]; 2] = [b"audit.k8s.io/v1", b"audit.k8s.io/v1beta1"];

/// Decodes an audit payload: an `Event`, an `EventList`, or an array of either.
/// `index` is the root object's top-level index when validation already recorded it.
pub(super) fn payload(
    decoder: &mut Decoder,
    value: Json<'_>,
    index: Option<TopIndex>,
    meta: &SourceMeta,
    location: &Location,
) {
    match value.kind() {
        Kind::Array => {
            for (i, element) in value.elements().enumerate() {
                payload(decoder, element, None, meta, &location.with_item(i));
            }
        }
        Kind::Object => object(decoder, value, index, meta, location),
        _ => not_recognized(decoder, value, location, ""),
    }
}

fn object(
    decoder: &mut Decoder,
    value: Json<'_>,
    index: Option<TopIndex>,
    meta: &SourceMeta,
    location: &Location,
) {
    // One pass over the top level serves the framing checks and, for an Event, the
    // event itself (its time, its auditID, its annotations, and later its fields).
    let index = index.unwrap_or_else(|| TopIndex::build(value.raw()));
    let view = EventView::with_index(value.raw(), index, 0);
    let kind = view.top(Top::Kind).and_then(Json::str);
    if let Some(kind) = &kind
        && matches!(&kind[..], b"Event" | b"EventList")
        && let Some(version) = view.top(Top::ApiVersion)
        && !version
            .str()
            .is_some_and(|v| API_VERSIONS.contains(&&v[..]))
    {
        let detail = format!(" (apiVersion {})", String::from_utf8_lossy(version.raw()));
        return not_recognized(decoder, value, location, &detail);
    }
    match kind.as_deref() {
        Some(b"Event") => single(decoder, value, index, meta, location.clone()),
        Some(b"EventList") => match value.get("items") {
            Some(items) if items.kind() == Kind::Array => {
                for (i, item) in items.elements().enumerate() {
                    let index = TopIndex::build(item.raw());
                    single(decoder, item, index, meta, location.with_item(i));
                }
            }
            _ => not_recognized(decoder, value, location, " (EventList without items)"),
        },
        _ => not_recognized(decoder, value, location, ""),
    }
}

fn not_recognized(decoder: &mut Decoder, value: Json<'_>, location: &Location, detail: &str) {
    decoder.error(
        DecodeErrorKind::NotAuditEvent,
        location.clone(),
        audit_id(value),
        format!("{NOT_RECOGNIZED}{detail}"),
    );
}

fn audit_id(value: Json<'_>) -> Option<String> {
    value
        .get("auditID")
        .map(|id| String::from_utf8_lossy(&id.text()).into_owned())
}

/// One event: its time from `stageTimestamp`, its payload annotated and size-checked.
fn single(
    decoder: &mut Decoder,
    value: Json<'_>,
    index: TopIndex,
    meta: &SourceMeta,
    location: Location,
) {
    let view = EventView::with_index(value.raw(), index, 0);
    let audit_id = || {
        view.top(Top::AuditId)
            .map(|id| String::from_utf8_lossy(&id.text()).into_owned())
    };
    let Some(stamp) = view.top(Top::StageTimestamp) else {
        let detail = "can't read stageTimestamp".to_string();
        return decoder.error(
            DecodeErrorKind::MissingTimestamp,
            location,
            audit_id(),
            detail,
        );
    };
    let parsed = match stamp.str() {
        Some(text) => parse_rfc3339_nanos(&text),
        None => Err(format!(
            "stageTimestamp is not a string: {}",
            String::from_utf8_lossy(stamp.raw())
        )),
    };
    let time_ns = match parsed {
        Ok(ns) => ns,
        Err(e) => {
            let detail = format!("bad stageTimestamp: {e}");
            return decoder.error(DecodeErrorKind::BadTimestamp, location, audit_id(), detail);
        }
    };
    let (payload, index) = annotate(value.raw(), index, meta);
    let limit = decoder.options().max_event_size;
    if payload.len() > limit {
        let detail = format!(
            "event larger than max_event_size: size={} (max_event_size={limit})",
            payload.len()
        );
        return decoder.error(DecodeErrorKind::EventTooLarge, location, audit_id(), detail);
    }
    decoder.event(
        AuditEvent::with_index(payload.into_owned(), time_ns, index),
        location,
    );
}
