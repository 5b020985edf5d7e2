//! The audit event as it travels from decoding to fields, rules and Falco.
//!
//! An [`AuditEvent`] is the compact JSON of one Kubernetes audit `Event` object (exactly
//! what Falco's k8saudit plugin puts in a Falco event, so the `json` plugin's pointers such
//! as `jevt.value[/stage]` work unchanged) and its time (`stageTimestamp`, in ns).
//!
//! What the source knows beside the event — cluster, AWS account, region, log group and
//! stream — is written into the event's `annotations` by [`annotate`] before it leaves the
//! decoder. That is the only place that survives every hop: a Falco plugin event carries a
//! single byte payload, and a forwarded webhook body is the event itself. Existing keys are
//! never overwritten. `annotations.cluster_name` is what upstream's `ka.cluster.name` reads
//! (the GKE plugin fills it the same way); the `eksaudit/*` keys back the `eks.*` fields.

use std::borrow::Cow;

use crate::json::{Json, Kind, push_escaped};

/// One decoded audit event: compact JSON with the audit `Event` object at its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    payload: Vec<u8>,
    time_ns: u64,
    /// Built while decoding, so extraction never scans the top level again.
    index: TopIndex,
}

impl AuditEvent {
    /// Builds an event from compact, validated JSON and its time in ns since the epoch.
    pub fn new(payload: Vec<u8>, time_ns: u64) -> Self {
        let index = TopIndex::build(&payload);
        Self::with_index(payload, time_ns, index)
    }

    /// Builds an event whose top-level index is already known.
    pub fn with_index(payload: Vec<u8>, time_ns: u64, index: TopIndex) -> Self {
        Self {
            payload,
            time_ns,
            index,
        }
    }

    /// The compact JSON payload.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The event time (`stageTimestamp`) in nanoseconds since the Unix epoch.
    pub fn time_ns(&self) -> u64 {
        self.time_ns
    }

    /// The top-level index built while decoding.
    pub fn index(&self) -> TopIndex {
        self.index
    }

    /// A navigable view for field extraction.
    pub fn view(&self) -> EventView<'_> {
        EventView::with_index(&self.payload, self.index, self.time_ns)
    }

    /// Consumes the event, returning the payload.
    pub fn into_payload(self) -> Vec<u8> {
        self.payload
    }
}

/// Annotation key upstream's `ka.cluster.name` reads.
pub const CLUSTER_NAME_ANNOTATION: &str = "cluster_name";
/// Annotation holding the EKS cluster name the source derived from the log group.
pub const CLUSTER_ANNOTATION: &str = "eksaudit/cluster";
/// Annotation holding the AWS account id that owns the log group.
pub const ACCOUNT_ANNOTATION: &str = "eksaudit/account";
/// Annotation holding the AWS region the source read from.
pub const REGION_ANNOTATION: &str = "eksaudit/region";
/// Annotation holding the CloudWatch log group.
pub const LOG_GROUP_ANNOTATION: &str = "eksaudit/log-group";
/// Annotation holding the CloudWatch log stream.
pub const LOG_STREAM_ANNOTATION: &str = "eksaudit/log-stream";
/// Annotation holding the Kinesis shard id the event was read from.
pub const KINESIS_SHARD_ANNOTATION: &str = "eksaudit/kinesis-shard";
/// Annotation holding the sequence number of the Kinesis record the event came in.
pub const KINESIS_SEQUENCE_ANNOTATION: &str = "eksaudit/kinesis-sequence";

/// What a source knows about where events came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceMeta {
    /// EKS cluster name (from `/aws/eks/<cluster>/cluster`).
    pub cluster: Option<String>,
    /// AWS account id (the subscription envelope's `owner`).
    pub account: Option<String>,
    /// AWS region.
    pub region: Option<String>,
    /// CloudWatch Logs log group.
    pub log_group: Option<String>,
    /// CloudWatch Logs log stream.
    pub log_stream: Option<String>,
    /// Kinesis shard id.
    pub kinesis_shard: Option<String>,
    /// Kinesis record sequence number.
    pub kinesis_sequence: Option<String>,
}

impl SourceMeta {
    /// The EKS cluster name in a control-plane log group name `/aws/eks/<cluster>/cluster`.
    pub fn cluster_from_log_group(log_group: &str) -> Option<&str> {
        let name = log_group
            .strip_prefix("/aws/eks/")?
            .strip_suffix("/cluster")?;
        (!name.is_empty() && !name.contains('/')).then_some(name)
    }

    fn annotations(&self) -> [(&'static str, &Option<String>); 8] {
        [
            (CLUSTER_NAME_ANNOTATION, &self.cluster),
            (CLUSTER_ANNOTATION, &self.cluster),
            (ACCOUNT_ANNOTATION, &self.account),
            (REGION_ANNOTATION, &self.region),
            (LOG_GROUP_ANNOTATION, &self.log_group),
            (LOG_STREAM_ANNOTATION, &self.log_stream),
            (KINESIS_SHARD_ANNOTATION, &self.kinesis_shard),
            (KINESIS_SEQUENCE_ANNOTATION, &self.kinesis_sequence),
        ]
    }
}

/// Byte offset of `inner` (a sub-slice) inside `outer`.
fn offset_in(outer: &[u8], inner: &[u8]) -> usize {
    inner.as_ptr() as usize - outer.as_ptr() as usize
}

/// Adds the [`SourceMeta`] annotations that the event does not already carry.
///
/// `payload` must be a compact, validated JSON object and `index` its [`TopIndex`]; the
/// index of the result comes back with it. Borrowed when nothing is added (no metadata,
/// every key already present, or an `annotations` member that is not an object and so
/// cannot take keys).
pub fn annotate<'a>(
    payload: &'a [u8],
    index: TopIndex,
    meta: &SourceMeta,
) -> (Cow<'a, [u8]>, TopIndex) {
    annotate_escaped(payload, index, meta, &meta.escaped())
}

/// [`SourceMeta`]'s annotation members, each escaped once as `"key":"value"`: what
/// [`annotate_escaped`] inserts into every event of a batch from one source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EscapedMeta(Vec<Option<Vec<u8>>>);

impl SourceMeta {
    /// The annotation members, escaped.
    pub fn escaped(&self) -> EscapedMeta {
        EscapedMeta(
            self.annotations()
                .iter()
                .map(|(key, value)| {
                    value.as_deref().map(|value| {
                        let mut member = Vec::with_capacity(key.len() + value.len() + 8);
                        push_escaped(&mut member, key.as_bytes());
                        member.push(b':');
                        push_escaped(&mut member, value.as_bytes());
                        member
                    })
                })
                .collect(),
        )
    }
}

/// [`annotate`] with the members escaped beforehand (`escaped` is `meta.escaped()`).
pub fn annotate_escaped<'a>(
    payload: &'a [u8],
    index: TopIndex,
    meta: &SourceMeta,
    escaped: &EscapedMeta,
) -> (Cow<'a, [u8]>, TopIndex) {
    let Some(insertion) = Insertion::plan(payload, index, meta, escaped) else {
        return (Cow::Borrowed(payload), index);
    };
    let mut out = Vec::with_capacity(payload.len() + insertion.bytes.len());
    out.extend_from_slice(&payload[..insertion.at]);
    out.extend_from_slice(&insertion.bytes);
    out.extend_from_slice(&payload[insertion.at..]);
    let index = insertion.apply(index, out.len());
    (Cow::Owned(out), index)
}

/// [`annotate`] on a payload the caller owns: the annotations are inserted in place (near
/// the end of the event, where `annotations` is), so the event costs no second copy.
pub fn annotate_in_place(payload: &mut Vec<u8>, index: TopIndex, meta: &SourceMeta) -> TopIndex {
    let Some(insertion) = Insertion::plan(payload, index, meta, &meta.escaped()) else {
        return index;
    };
    payload.splice(insertion.at..insertion.at, insertion.bytes.iter().copied());
    insertion.apply(index, payload.len())
}

/// Where and what [`annotate`] inserts.
struct Insertion {
    /// Offset of the closing brace the bytes go before.
    at: usize,
    bytes: Vec<u8>,
    /// Offset of the new `annotations` value within `bytes`, when the member is new.
    new_value: Option<usize>,
}

impl Insertion {
    fn plan(
        payload: &[u8],
        index: TopIndex,
        meta: &SourceMeta,
        escaped: &EscapedMeta,
    ) -> Option<Insertion> {
        let view = EventView::with_index(payload, index, 0);
        if view.root().kind() != Kind::Object {
            return None;
        }
        let existing = view.top(Top::Annotations);
        if existing.is_some_and(|a| a.kind() != Kind::Object) {
            return None;
        }
        let wanted = meta.annotations();
        // Which keys the event already has, in one pass over its annotations.
        let present = existing.map(|a| a.pick(wanted.map(|(k, _)| k)));
        let mut members = Vec::new();
        for (i, member) in escaped.0.iter().enumerate() {
            let Some(member) = member else {
                continue;
            };
            if present.is_some_and(|p| p[i].is_some()) {
                continue;
            }
            if !members.is_empty() {
                members.push(b',');
            }
            members.extend_from_slice(member);
        }
        if members.is_empty() {
            return None;
        }
        // Before the closing brace of `annotations`, or a new member at the end.
        let container = existing.map_or(payload, |a| a.raw());
        let at = offset_in(payload, container) + container.len() - 1;
        let mut bytes = Vec::with_capacity(members.len() + 20);
        if container.len() > 2 {
            bytes.push(b',');
        }
        let new_value = if existing.is_some() {
            bytes.extend_from_slice(&members);
            None
        } else {
            bytes.extend_from_slice(b"\"annotations\":");
            let start = bytes.len();
            bytes.push(b'{');
            bytes.extend_from_slice(&members);
            bytes.push(b'}');
            Some(start)
        };
        Some(Insertion {
            at,
            bytes,
            new_value,
        })
    }

    /// The index of the payload after the insertion (`total` is its new length).
    fn apply(&self, index: TopIndex, total: usize) -> TopIndex {
        let mut index = index.shifted(self.at, self.bytes.len());
        if let Some(start) = self.new_value {
            let start = self.at + start;
            // The new member is the last: its value ends before the root's closing brace.
            index.spans[Top::Annotations as usize] =
                Some((start as u32, (total - 1 - start) as u32));
        }
        index
    }
}

/// Top-level members of an audit event that fields read, indexed once per event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Top {
    AuditId,
    Stage,
    Verb,
    RequestUri,
    User,
    ImpersonatedUser,
    ObjectRef,
    Annotations,
    RequestObject,
    ResponseObject,
    ResponseStatus,
    UserAgent,
    SourceIps,
    Kind,
    ApiVersion,
    StageTimestamp,
}

impl Top {
    const ALL: [(Top, &'static str); 16] = [
        (Top::AuditId, "auditID"),
        (Top::Stage, "stage"),
        (Top::Verb, "verb"),
        (Top::RequestUri, "requestURI"),
        (Top::User, "user"),
        (Top::ImpersonatedUser, "impersonatedUser"),
        (Top::ObjectRef, "objectRef"),
        (Top::Annotations, "annotations"),
        (Top::RequestObject, "requestObject"),
        (Top::ResponseObject, "responseObject"),
        (Top::ResponseStatus, "responseStatus"),
        (Top::UserAgent, "userAgent"),
        (Top::SourceIps, "sourceIPs"),
        (Top::Kind, "kind"),
        (Top::ApiVersion, "apiVersion"),
        (Top::StageTimestamp, "stageTimestamp"),
    ];

    /// The JSON member name.
    pub fn key(self) -> &'static str {
        Top::ALL[self as usize].1
    }

    fn from_key(key: &[u8]) -> Option<Top> {
        // A match compiles to a dispatch on length and bytes, not sixteen comparisons.
        Some(match key {
            b"auditID" => Top::AuditId,
            b"stage" => Top::Stage,
            b"verb" => Top::Verb,
            b"requestURI" => Top::RequestUri,
            b"user" => Top::User,
            b"impersonatedUser" => Top::ImpersonatedUser,
            b"objectRef" => Top::ObjectRef,
            b"annotations" => Top::Annotations,
            b"requestObject" => Top::RequestObject,
            b"responseObject" => Top::ResponseObject,
            b"responseStatus" => Top::ResponseStatus,
            b"userAgent" => Top::UserAgent,
            b"sourceIPs" => Top::SourceIps,
            b"kind" => Top::Kind,
            b"apiVersion" => Top::ApiVersion,
            b"stageTimestamp" => Top::StageTimestamp,
            _ => return None,
        })
    }
}

/// Where each [`Top`] member sits in the payload (offset, length), first occurrence wins.
///
/// Offsets rather than slices, so the index can be cached by event number across the
/// separate extraction calls Falco makes for one event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TopIndex {
    spans: [Option<(u32, u32)>; 16],
}

impl TopIndex {
    /// The index after `len` bytes were inserted at `at`: members after it move, the
    /// member that contains it grows.
    fn shifted(mut self, at: usize, len: usize) -> Self {
        for (start, span_len) in self.spans.iter_mut().flatten() {
            let (s, l) = (*start as usize, *span_len as usize);
            if s >= at {
                *start = (s + len) as u32;
            } else if s + l > at {
                *span_len = (l + len) as u32;
            }
        }
        self
    }

    /// The index of a payload whose root members were recorded while validating it
    /// ([`crate::json::compact_members`]), so no second pass is needed.
    pub fn from_members(payload: &[u8], members: &[crate::json::Member]) -> Self {
        let mut index = TopIndex::default();
        for m in members {
            let raw_key = &payload[m.key.0 as usize..m.key.1 as usize];
            let key = crate::json::unescape(raw_key);
            if let Some(top) = Top::from_key(&key) {
                let slot = &mut index.spans[top as usize];
                if slot.is_none() {
                    *slot = Some((m.value.0, m.value.1 - m.value.0));
                }
            }
        }
        index
    }

    /// Indexes the top-level members of a compact, validated payload in one pass.
    pub fn build(payload: &[u8]) -> Self {
        let mut index = TopIndex::default();
        for (raw_key, value) in Json::new(payload).members() {
            let key = crate::json::unescape(raw_key);
            if let Some(top) = Top::from_key(&key) {
                let slot = &mut index.spans[top as usize];
                if slot.is_none() {
                    let start = offset_in(payload, value.raw());
                    *slot = Some((start as u32, value.raw().len() as u32));
                }
            }
        }
        index
    }
}

/// A read-only view of one event for field extraction.
#[derive(Debug, Clone)]
pub struct EventView<'a> {
    payload: &'a [u8],
    index: TopIndex,
    time_ns: u64,
    /// The nested indexes, built on first use. Borrowed when the caller keeps them across
    /// views of the same payload (the plugin: Falco asks for one field per call).
    nested: std::borrow::Cow<'a, NestedIndex>,
}

/// A member's place in the payload: (offset, length).
type Span = (u32, u32);

/// The nested members fields read, indexed on first use and kept as offsets, so that they
/// can outlive one [`EventView`] of the payload they were built from.
///
/// `requestObject` members: many fields read one of them, and looking for an absent one
/// (`data` on a pod) means scanning the whole object. `requestObject.spec` members: pod
/// and service fields all start there. Each cell holds `None` when its parent is not an
/// object (the index cannot answer then).
///
/// Only valid for the payload it was filled from: whoever keeps one across views must
/// reset it ([`NestedIndex::default`]) when the payload changes.
#[derive(Debug, Clone, Default)]
pub struct NestedIndex {
    request: std::cell::OnceCell<Option<[Option<Span>; REQUEST_KEYS.len()]>>,
    spec: std::cell::OnceCell<Option<[Option<Span>; SPEC_KEYS.len()]>>,
}

/// Members of `requestObject` that fields read.
const REQUEST_KEYS: [&str; 5] = ["spec", "data", "rules", "subjects", "roleRef"];

/// Members of `requestObject.spec` that fields read.
const SPEC_KEYS: [&str; 13] = [
    "containers",
    "initContainers",
    "ephemeralContainers",
    "volumes",
    "securityContext",
    "hostNetwork",
    "hostPID",
    "hostIPC",
    "type",
    "ports",
    "runAsUser",
    "runAsGroup",
    "tls",
];

impl<'a> EventView<'a> {
    /// Indexes a compact, validated payload.
    pub fn new(payload: &'a [u8], time_ns: u64) -> Self {
        Self::with_index(payload, TopIndex::build(payload), time_ns)
    }

    /// Reuses an index built earlier for the same payload.
    pub fn with_index(payload: &'a [u8], index: TopIndex, time_ns: u64) -> Self {
        Self {
            payload,
            index,
            time_ns,
            nested: std::borrow::Cow::Owned(NestedIndex::default()),
        }
    }

    /// Reuses the indexes built earlier for the same payload, and fills `nested` for the
    /// next view as fields are read.
    pub fn with_indexes(
        payload: &'a [u8],
        index: TopIndex,
        nested: &'a NestedIndex,
        time_ns: u64,
    ) -> Self {
        Self {
            payload,
            index,
            time_ns,
            nested: std::borrow::Cow::Borrowed(nested),
        }
    }

    fn span_of(&self, value: Json<'a>) -> Span {
        let raw = value.raw();
        (offset_in(self.payload, raw) as u32, raw.len() as u32)
    }

    fn at(&self, (start, len): Span) -> Json<'a> {
        let start = start as usize;
        Json::new(&self.payload[start..start + len as usize])
    }

    fn spans<const N: usize>(&self, members: [Option<Json<'a>>; N]) -> [Option<Span>; N] {
        members.map(|m| m.map(|v| self.span_of(v)))
    }

    /// `requestObject.<key>` from the per-event index: `None` when the index cannot
    /// answer (not an indexed key, or `requestObject` not an object), `Some(None)` when
    /// the member is absent.
    pub fn request_member(&self, key: &str) -> Option<Option<Json<'a>>> {
        let slot = REQUEST_KEYS.iter().position(|k| *k == key)?;
        let members = self.request_spans()?;
        Some(members[slot].map(|span| self.at(span)))
    }

    fn request_spans(&self) -> Option<&[Option<Span>; REQUEST_KEYS.len()]> {
        self.nested
            .request
            .get_or_init(|| {
                let request = self
                    .top(Top::RequestObject)
                    .filter(|r| r.kind() == Kind::Object)?;
                Some(self.spans(request.pick(REQUEST_KEYS)))
            })
            .as_ref()
    }

    /// The spec index, when `requestObject` and its `spec` are objects (only then is a
    /// member lookup the same as fastjson's walk, which indexes arrays by number).
    fn spec_spans(&self) -> Option<&[Option<Span>; SPEC_KEYS.len()]> {
        self.nested
            .spec
            .get_or_init(|| {
                let spec = self.request_member("spec")??;
                if spec.kind() != Kind::Object {
                    return None;
                }
                Some(self.spans(spec.pick(SPEC_KEYS)))
            })
            .as_ref()
    }

    /// `requestObject.spec.<key>` from the per-event index: `None` when the index cannot
    /// answer (not an indexed key, or `requestObject`/`spec` not objects), `Some(None)`
    /// when the member is absent.
    pub fn spec_member(&self, key: &str) -> Option<Option<Json<'a>>> {
        let slot = SPEC_KEYS.iter().position(|k| *k == key)?;
        Some(self.spec_spans()?[slot].map(|span| self.at(span)))
    }

    /// Go fastjson's `Get(path...)` from the root: object members by name, array
    /// elements by decimal index. Paths into `requestObject.spec` are answered from a
    /// per-event index.
    pub fn lookup(&self, path: &[&[u8]]) -> Option<Json<'a>> {
        if let [b"requestObject", b"spec", key, rest @ ..] = path
            && let Some(spec) = self.spec_spans()
            && let Some(slot) = SPEC_KEYS.iter().position(|k| k.as_bytes() == *key)
        {
            return rest
                .iter()
                .try_fold(self.at(spec[slot]?), |v, k| v.get_go(k));
        }
        if let [b"requestObject", key, rest @ ..] = path
            && let Ok(key) = std::str::from_utf8(key)
            && let Some(member) = self.request_member(key)
        {
            return rest.iter().try_fold(member?, |v, k| v.get_go(k));
        }
        let (first, rest) = path.split_first()?;
        let first = match std::str::from_utf8(first) {
            Ok(key) => self.get(key)?,
            Err(_) => self.root().get_go(first)?,
        };
        rest.iter().try_fold(first, |v, k| v.get_go(k))
    }

    /// The whole payload as JSON.
    pub fn root(&self) -> Json<'a> {
        Json::new(self.payload)
    }

    /// The compact payload bytes.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// The event time in ns.
    pub fn time_ns(&self) -> u64 {
        self.time_ns
    }

    /// A top-level member, from the index.
    pub fn top(&self, member: Top) -> Option<Json<'a>> {
        let (start, len) = self.index.spans[member as usize]?;
        let start = start as usize;
        Some(Json::new(&self.payload[start..start + len as usize]))
    }

    /// A top-level member by name (indexed members are answered from the index).
    pub fn get(&self, key: &str) -> Option<Json<'a>> {
        match Top::from_key(key.as_bytes()) {
            Some(top) => self.top(top),
            None => self.root().get_go(key.as_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> SourceMeta {
        SourceMeta {
            cluster: Some("prod".into()),
            account: Some("123456789012".into()),
            region: None,
            log_group: Some("/aws/eks/prod/cluster".into()),
            log_stream: Some("kube-apiserver-audit-abc".into()),
            kinesis_shard: None,
            kinesis_sequence: None,
        }
    }

    fn annotate_plain<'a>(payload: &'a [u8], meta: &SourceMeta) -> Cow<'a, [u8]> {
        let (out, index) = annotate(payload, TopIndex::build(payload), meta);
        assert_eq!(
            index,
            TopIndex::build(&out),
            "the shifted index matches a fresh one"
        );
        out
    }

    fn annotated(payload: &str) -> serde_json::Value {
        let out = annotate_plain(payload.as_bytes(), &meta());
        crate::json::compact(&out).expect("annotated payload stays valid compact JSON");
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn cluster_from_log_group() {
        assert_eq!(
            SourceMeta::cluster_from_log_group("/aws/eks/prod/cluster"),
            Some("prod")
        );
        assert_eq!(
            SourceMeta::cluster_from_log_group("/aws/eks//cluster"),
            None
        );
        assert_eq!(SourceMeta::cluster_from_log_group("/aws/lambda/x"), None);
    }

    #[test]
    fn adds_annotations_member_when_absent() {
        let v = annotated(r#"{"auditID":"a","stage":"ResponseComplete"}"#);
        assert_eq!(v["annotations"]["cluster_name"], "prod");
        assert_eq!(v["annotations"]["eksaudit/account"], "123456789012");
        assert!(v["annotations"].get("eksaudit/region").is_none());
    }

    #[test]
    fn keeps_existing_keys_and_appends_missing_ones() {
        let v = annotated(r#"{"annotations":{"cluster_name":"gke-x","a":"b"},"auditID":"a"}"#);
        assert_eq!(v["annotations"]["cluster_name"], "gke-x");
        assert_eq!(v["annotations"]["a"], "b");
        assert_eq!(v["annotations"]["eksaudit/cluster"], "prod");
        let v = annotated(r#"{"annotations":{},"auditID":"a"}"#);
        let v2 = annotated(
            r#"{"verb":"x","annotations":{"k":"v"},"requestObject":{"a":[1]},"auditID":"a"}"#,
        );
        assert_eq!(v2["requestObject"]["a"][0], 1);
        assert_eq!(v["annotations"]["cluster_name"], "prod");
    }

    #[test]
    fn leaves_non_object_annotations_alone() {
        let p = br#"{"annotations":null,"auditID":"a"}"#;
        assert!(matches!(annotate_plain(p, &meta()), Cow::Borrowed(_)));
        let plain = annotate_plain(br#"{"a":1}"#, &SourceMeta::default());
        assert!(matches!(plain, Cow::Borrowed(_)));
    }

    #[test]
    fn key_order_of_the_event_is_kept() {
        let out = annotate_plain(br#"{"kind":"Event","auditID":"a"}"#, &meta());
        assert!(out.starts_with(br#"{"kind":"Event","auditID":"a","annotations":{"#));
    }

    #[test]
    fn index_from_recorded_members_equals_a_built_one() {
        let p = br#"{"verb":"get","verb":"list","user":{"username":"u"},"annotations":{},"stageTimestamp":"x"}"#;
        let mut members = Vec::new();
        crate::json::compact_members(p, &mut members).unwrap();
        assert_eq!(TopIndex::from_members(p, &members), TopIndex::build(p));
    }

    #[test]
    fn every_top_key_is_found() {
        for (top, key) in Top::ALL {
            assert_eq!(Top::from_key(key.as_bytes()), Some(top));
        }
        assert_eq!(Top::from_key(b"verbs"), None);
    }

    #[test]
    fn top_index_first_occurrence_and_lookup() {
        let p = br#"{"verb":"get","verb":"list","user":{"username":"u"},"x":1}"#;
        let view = EventView::new(p, 7);
        assert_eq!(view.top(Top::Verb).unwrap().raw(), br#""get""#);
        assert_eq!(view.get("x").unwrap().raw(), b"1");
        assert!(view.top(Top::AuditId).is_none());
        assert_eq!(view.time_ns(), 7);
    }
}
