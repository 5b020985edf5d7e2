//! Kubernetes audit framing: which parts of a JSON document are events.

use super::time::parse_rfc3339_nanos;
use super::{DecodeErrorKind, Decoder, Location};
use crate::event::{
    AuditEvent, EventIndex, EventView, SourceMeta, Top, annotate_escaped, annotate_in_place,
};
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
    index: Option<EventIndex>,
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
    index: Option<EventIndex>,
    meta: &SourceMeta,
    location: &Location,
) {
    // One pass over the top level serves the framing checks and, for an Event, the
    // event itself (its time, its auditID, its annotations, and later its fields).
    let index = index.unwrap_or_else(|| EventIndex::build(value.raw()));
    let view = EventView::with_index(value.raw(), &index, 0);
    let kind = view.top(Top::Kind).and_then(Json::str);
    if let Some(kind) = &kind
        && matches!(&kind[..], b"Event" | b"EventList")
        && !api_version_ok(&view)
        && let Some(version) = view.top(Top::ApiVersion)
    {
        let detail = format!(" (apiVersion {})", String::from_utf8_lossy(version.raw()));
        return not_recognized(decoder, value, location, &detail);
    }
    match kind.as_deref() {
        Some(b"Event") => single(decoder, value, index, meta, location.clone()),
        Some(b"EventList") => match value.get("items") {
            Some(items) if items.kind() == Kind::Array => {
                for (i, item) in items.elements().enumerate() {
                    let index = EventIndex::build(item.raw());
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

/// Decodes a root document held in an owned buffer (a CloudWatch message after
/// unescaping). A single `Event`, which is what EKS writes, becomes the payload itself,
/// annotated in place: no copy. Anything else is decoded as borrowed.
pub(super) fn owned_payload(
    decoder: &mut Decoder,
    mut buffer: Vec<u8>,
    index: EventIndex,
    meta: &SourceMeta,
    location: &Location,
) {
    let time = {
        let view = EventView::with_index(&buffer, &index, 0);
        let kind = view.top(Top::Kind).and_then(Json::str);
        if view.root().kind() != Kind::Object
            || kind.as_deref() != Some(b"Event")
            || !api_version_ok(&view)
        {
            return payload(decoder, Json::new(&buffer), Some(index), meta, location);
        }
        event_time(decoder, &view, location)
    };
    let Some(time_ns) = time else { return };
    let index = annotate_in_place(&mut buffer, index, meta);
    deliver(decoder, buffer, time_ns, index, location.clone());
}

/// Whether `apiVersion` is absent or one of the audit API versions.
fn api_version_ok(view: &EventView<'_>) -> bool {
    view.top(Top::ApiVersion)
        .is_none_or(|v| v.str().is_some_and(|v| API_VERSIONS.contains(&&v[..])))
}

fn view_audit_id(view: &EventView<'_>) -> Option<String> {
    view.top(Top::AuditId)
        .map(|id| String::from_utf8_lossy(&id.text()).into_owned())
}

/// The event time from `stageTimestamp`, or `None` with the error reported.
fn event_time(decoder: &mut Decoder, view: &EventView<'_>, location: &Location) -> Option<u64> {
    let Some(stamp) = view.top(Top::StageTimestamp) else {
        let detail = "can't read stageTimestamp".to_string();
        decoder.error(
            DecodeErrorKind::MissingTimestamp,
            location.clone(),
            view_audit_id(view),
            detail,
        );
        return None;
    };
    let parsed = match stamp.str() {
        Some(text) => parse_rfc3339_nanos(&text),
        None => Err(format!(
            "stageTimestamp is not a string: {}",
            String::from_utf8_lossy(stamp.raw())
        )),
    };
    match parsed {
        Ok(ns) => Some(ns),
        Err(e) => {
            let detail = format!("bad stageTimestamp: {e}");
            decoder.error(
                DecodeErrorKind::BadTimestamp,
                location.clone(),
                view_audit_id(view),
                detail,
            );
            None
        }
    }
}

/// One event: its time from `stageTimestamp`, its payload annotated and size-checked.
fn single(
    decoder: &mut Decoder,
    value: Json<'_>,
    index: EventIndex,
    meta: &SourceMeta,
    location: Location,
) {
    let view = EventView::with_index(value.raw(), &index, 0);
    let Some(time_ns) = event_time(decoder, &view, &location) else {
        return;
    };
    // Annotations only add bytes: an event already over the limit is refused before it
    // is copied (a 50 MiB event must not cost another 50 MiB to be told so).
    let limit = decoder.options().max_event_size;
    if value.raw().len() > limit {
        let detail = format!(
            "event larger than max_event_size: size={} (max_event_size={limit})",
            value.raw().len()
        );
        let audit_id = view_audit_id(&view);
        return decoder.error(DecodeErrorKind::EventTooLarge, location, audit_id, detail);
    }
    // Every event of an envelope has the same source: its members are escaped once.
    if decoder.escaped_meta.0 != *meta {
        decoder.escaped_meta = (meta.clone(), meta.escaped());
    }
    let (payload, index) = annotate_escaped(value.raw(), index, meta, &decoder.escaped_meta.1);
    deliver(decoder, payload.into_owned(), time_ns, index, location);
}

/// Hands over an annotated event, or reports it as too large.
fn deliver(
    decoder: &mut Decoder,
    payload: Vec<u8>,
    time_ns: u64,
    index: EventIndex,
    location: Location,
) {
    let limit = decoder.options().max_event_size;
    if payload.len() > limit {
        let audit_id = view_audit_id(&EventView::with_index(&payload, &index, 0));
        let detail = format!(
            "event larger than max_event_size: size={} (max_event_size={limit})",
            payload.len()
        );
        return decoder.error(DecodeErrorKind::EventTooLarge, location, audit_id, detail);
    }
    decoder.event(AuditEvent::with_index(payload, time_ns, index), location);
}
