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
    index: EventIndex,
}

impl AuditEvent {
    /// Builds an event from compact, validated JSON and its time in ns since the epoch.
    pub fn new(payload: Vec<u8>, time_ns: u64) -> Self {
        let index = EventIndex::build(&payload);
        Self::with_index(payload, time_ns, index)
    }

    /// Builds an event whose top-level index is already known.
    pub fn with_index(payload: Vec<u8>, time_ns: u64, index: EventIndex) -> Self {
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
    pub fn index(&self) -> EventIndex {
        self.index
    }

    /// A navigable view for field extraction.
    pub fn view(&self) -> EventView<'_> {
        EventView::with_index(&self.payload, &self.index, self.time_ns)
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
/// `payload` must be a compact, validated JSON object and `index` its [`EventIndex`]; the
/// index of the result comes back with it. Borrowed when nothing is added (no metadata,
/// every key already present, or an `annotations` member that is not an object and so
/// cannot take keys).
pub fn annotate<'a>(
    payload: &'a [u8],
    index: EventIndex,
    meta: &SourceMeta,
) -> (Cow<'a, [u8]>, EventIndex) {
    annotate_escaped(payload, index, meta, &meta.escaped())
}

/// [`SourceMeta`]'s annotation members, each escaped once as `"key":"value"`: what
/// [`annotate_escaped`] inserts into every event of a batch from one source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EscapedMeta {
    members: Vec<Option<Vec<u8>>>,
    /// Every member, joined by commas: what an event without any of the keys gets (most
    /// events), without assembling it event by event.
    joined: Vec<u8>,
}

impl SourceMeta {
    /// The annotation members, escaped.
    pub fn escaped(&self) -> EscapedMeta {
        let members: Vec<Option<Vec<u8>>> = self
            .annotations()
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
            .collect();
        let joined = members.iter().flatten().fold(Vec::new(), |mut all, m| {
            if !all.is_empty() {
                all.push(b',');
            }
            all.extend_from_slice(m);
            all
        });
        EscapedMeta { members, joined }
    }
}

/// [`annotate`] with the members escaped beforehand (`escaped` is `meta.escaped()`).
pub fn annotate_escaped<'a>(
    payload: &'a [u8],
    index: EventIndex,
    meta: &SourceMeta,
    escaped: &EscapedMeta,
) -> (Cow<'a, [u8]>, EventIndex) {
    let Some(insertion) = Insertion::plan(payload, index, meta, escaped) else {
        return (Cow::Borrowed(payload), index);
    };
    let mut out = Vec::with_capacity(payload.len() + insertion.len());
    out.extend_from_slice(&payload[..insertion.at]);
    insertion.write(&mut out);
    out.extend_from_slice(&payload[insertion.at..]);
    let index = insertion.apply(index, out.len());
    (Cow::Owned(out), index)
}

/// [`annotate`] on a payload the caller owns: the annotations are inserted in place (near
/// the end of the event, where `annotations` is), so the event costs no second copy.
pub fn annotate_in_place(
    payload: &mut Vec<u8>,
    index: EventIndex,
    meta: &SourceMeta,
) -> EventIndex {
    let escaped = meta.escaped();
    let Some(insertion) = Insertion::plan(payload, index, meta, &escaped) else {
        return index;
    };
    let mut bytes = Vec::with_capacity(insertion.len());
    insertion.write(&mut bytes);
    payload.splice(insertion.at..insertion.at, bytes);
    insertion.apply(index, payload.len())
}

/// Where and what [`annotate`] inserts: the members, after a comma when the object has
/// members already, inside a new `"annotations":{…}` member when the event has none.
/// Written straight into the output, so planning allocates nothing when the event has
/// none of the keys (the usual case).
struct Insertion<'m> {
    /// Offset of the closing brace the bytes go before.
    at: usize,
    members: Cow<'m, [u8]>,
    comma: bool,
    /// Whether the members go into a new `annotations` member.
    new_member: bool,
}

/// What goes before the members of a new `annotations` member.
const NEW_ANNOTATIONS: &[u8] = b"\"annotations\":{";

impl Insertion<'_> {
    fn plan<'m>(
        payload: &[u8],
        index: EventIndex,
        meta: &SourceMeta,
        escaped: &'m EscapedMeta,
    ) -> Option<Insertion<'m>> {
        let view = EventView::with_index(payload, &index, 0);
        if view.root().kind() != Kind::Object {
            return None;
        }
        let existing = view.top(Top::Annotations);
        if existing.is_some_and(|a| a.kind() != Kind::Object) {
            return None;
        }
        let wanted = meta.annotations();
        // Which keys the event already has, in one pass over its annotations.
        let present = existing
            .map(|a| a.pick(wanted.map(|(k, _)| k)))
            .filter(|p| p.iter().any(Option::is_some));
        let members: Cow<'_, [u8]> = match present {
            None => Cow::Borrowed(&escaped.joined),
            Some(present) => {
                let mut members = Vec::new();
                for (member, present) in escaped.members.iter().zip(present) {
                    let Some(member) = member.as_ref().filter(|_| present.is_none()) else {
                        continue;
                    };
                    if !members.is_empty() {
                        members.push(b',');
                    }
                    members.extend_from_slice(member);
                }
                Cow::Owned(members)
            }
        };
        if members.is_empty() {
            return None;
        }
        // Before the closing brace of `annotations`, or a new member at the end.
        let container = existing.map_or(payload, |a| a.raw());
        Some(Insertion {
            at: offset_in(payload, container) + container.len() - 1,
            members,
            comma: container.len() > 2,
            new_member: existing.is_none(),
        })
    }

    /// How many bytes [`Self::write`] writes.
    fn len(&self) -> usize {
        let wrapper = if self.new_member {
            NEW_ANNOTATIONS.len() + 1
        } else {
            0
        };
        usize::from(self.comma) + wrapper + self.members.len()
    }

    fn write(&self, out: &mut Vec<u8>) {
        if self.comma {
            out.push(b',');
        }
        if self.new_member {
            out.extend_from_slice(NEW_ANNOTATIONS);
            out.extend_from_slice(&self.members);
            out.push(b'}');
        } else {
            out.extend_from_slice(&self.members);
        }
    }

    /// The index of the payload after the insertion (`total` is its new length).
    fn apply(&self, index: EventIndex, total: usize) -> EventIndex {
        let mut index = index.shifted(self.at, self.len());
        if self.new_member {
            // The value starts at the `{` that follows the member's name.
            let start = self.at + usize::from(self.comma) + NEW_ANNOTATIONS.len() - 1;
            // The new member is the last: its value ends before the root's closing brace.
            index.spans[Top::Annotations as usize] = (start as u32, (total - 1 - start) as u32);
            // A new object of annotations only eksaudit adds: none of them is indexed.
            index.groups |= 1 << Group::Annotations as u16;
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

/// A member's place in the payload: (offset, length). A length of 0 means "absent": no
/// JSON value is empty.
type Span = (u32, u32);

const ABSENT: Span = (0, 0);

/// Objects below the top level whose members fields read, indexed with the event: a
/// lookup of an absent member (`data` on a pod) would otherwise scan the whole object, and
/// the rules read the same objects for field after field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    /// `requestObject`.
    Request,
    /// `requestObject.spec`: pod and service fields all start there.
    Spec,
    /// `objectRef`: the `ka.target.*` fields.
    ObjectRef,
    /// `user`.
    User,
    /// `responseStatus`.
    ResponseStatus,
    /// `annotations`: only keys that annotating an event never adds.
    Annotations,
    /// `responseObject`: `metadata`, where `ka.resp.name` starts (its own members are
    /// not indexed: `name` comes first in practice, and indexing them costs every event).
    Response,
}

const REQUEST_KEYS: &[&str] = &["spec", "data", "rules", "subjects", "roleRef"];
const SPEC_KEYS: &[&str] = &[
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
const OBJECT_REF_KEYS: &[&str] = &[
    "resource",
    "subresource",
    "namespace",
    "name",
    "apiGroup",
    "apiVersion",
];
const USER_KEYS: &[&str] = &["username", "groups", "uid", "extra"];
const RESPONSE_STATUS_KEYS: &[&str] = &["code", "reason", "message"];
const ANNOTATION_KEYS: &[&str] = &[
    "authorization.k8s.io/decision",
    "authorization.k8s.io/reason",
];
const RESPONSE_KEYS: &[&str] = &["metadata"];

impl Group {
    const ALL: [Group; 7] = [
        Group::Request,
        Group::Spec,
        Group::ObjectRef,
        Group::User,
        Group::ResponseStatus,
        Group::Annotations,
        Group::Response,
    ];

    /// The indexed member names.
    const fn keys(self) -> &'static [&'static str] {
        match self {
            Group::Request => REQUEST_KEYS,
            Group::Spec => SPEC_KEYS,
            Group::ObjectRef => OBJECT_REF_KEYS,
            Group::User => USER_KEYS,
            Group::ResponseStatus => RESPONSE_STATUS_KEYS,
            Group::Annotations => ANNOTATION_KEYS,
            Group::Response => RESPONSE_KEYS,
        }
    }

    /// The group's first slot in [`EventIndex::spans`] (after the [`Top`] members).
    fn first_slot(self) -> usize {
        FIRST_SLOTS[self as usize]
    }

    /// The group of a top-level member.
    const fn of_top(top: Top) -> Option<Group> {
        Some(match top {
            Top::RequestObject => Group::Request,
            Top::ObjectRef => Group::ObjectRef,
            Top::User => Group::User,
            Top::ResponseStatus => Group::ResponseStatus,
            Top::Annotations => Group::Annotations,
            Top::ResponseObject => Group::Response,
            _ => return None,
        })
    }

    /// The group of the member in `slot` of this group (a `const fn` for [`KeyPath`]).
    const fn child(self, slot: usize) -> Option<Group> {
        match self {
            Group::Request if same_bytes(REQUEST_KEYS[slot].as_bytes(), b"spec") => {
                Some(Group::Spec)
            }
            _ => None,
        }
    }

    /// The slot of `key` (unescaped) within this group.
    fn slot(self, key: &[u8]) -> Option<usize> {
        // A match on the bytes compiles to a dispatch on length and contents.
        let slot = match self {
            Group::Request => match key {
                b"spec" => 0,
                b"data" => 1,
                b"rules" => 2,
                b"subjects" => 3,
                b"roleRef" => 4,
                _ => return None,
            },
            Group::Spec => match key {
                b"containers" => 0,
                b"initContainers" => 1,
                b"ephemeralContainers" => 2,
                b"volumes" => 3,
                b"securityContext" => 4,
                b"hostNetwork" => 5,
                b"hostPID" => 6,
                b"hostIPC" => 7,
                b"type" => 8,
                b"ports" => 9,
                b"runAsUser" => 10,
                b"runAsGroup" => 11,
                b"tls" => 12,
                _ => return None,
            },
            Group::ObjectRef => match key {
                b"resource" => 0,
                b"subresource" => 1,
                b"namespace" => 2,
                b"name" => 3,
                b"apiGroup" => 4,
                b"apiVersion" => 5,
                _ => return None,
            },
            Group::User => match key {
                b"username" => 0,
                b"groups" => 1,
                b"uid" => 2,
                b"extra" => 3,
                _ => return None,
            },
            Group::ResponseStatus => match key {
                b"code" => 0,
                b"reason" => 1,
                b"message" => 2,
                _ => return None,
            },
            Group::Annotations => match key {
                b"authorization.k8s.io/decision" => 0,
                b"authorization.k8s.io/reason" => 1,
                _ => return None,
            },
            Group::Response => match key {
                b"metadata" => 0,
                _ => return None,
            },
        };
        Some(slot)
    }
}

/// Each group's first slot: the [`Top`] members come first, then the groups in order.
const FIRST_SLOTS: [usize; Group::ALL.len() + 1] = {
    let mut slots = [Top::ALL.len(); Group::ALL.len() + 1];
    let mut i = 0;
    while i < Group::ALL.len() {
        slots[i + 1] = slots[i] + Group::ALL[i].keys().len();
        i += 1;
    }
    slots
};

/// What `find` answers for a raw member name (as it is between its quotes): the raw
/// bytes are tried first, and unescaped only when they hold an escape (no indexed name
/// does), so the common case costs no copy and no second scan.
fn find_key<T>(raw: &[u8], find: impl Fn(&[u8]) -> Option<T>) -> Option<T> {
    find(raw).or_else(|| {
        raw.contains(&b'\\')
            .then(|| find(&crate::json::unescape(raw)))
            .flatten()
    })
}

/// Every slot: the [`Top`] members, then each [`Group`]'s.
const SLOTS: usize = FIRST_SLOTS[Group::ALL.len()];

/// Where the members fields read sit in the payload: the [`Top`] members and the members
/// of each [`Group`] object, first occurrence winning as in Go's fastjson. Built while
/// the event is validated (from the [`Member`](crate::json::Member)s the scanner records),
/// so extraction never scans those objects again.
///
/// Offsets rather than slices, so the index can be kept (by event number) across the
/// separate extraction calls Falco makes for one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventIndex {
    spans: [Span; SLOTS],
    /// Bit `g` set: group `g`'s object was found and is an object, so its slots answer.
    /// (A lookup under a member that is not an object follows fastjson's walk instead,
    /// which indexes arrays by number.)
    groups: u16,
}

impl Default for EventIndex {
    fn default() -> Self {
        EventIndex {
            spans: [ABSENT; SLOTS],
            groups: 0,
        }
    }
}

impl EventIndex {
    /// The index after `len` bytes were inserted at `at`: members after it move, the
    /// members that contain it grow.
    fn shifted(mut self, at: usize, len: usize) -> Self {
        for (start, span_len) in self.spans.iter_mut().filter(|s| s.1 != 0) {
            let (s, l) = (*start as usize, *span_len as usize);
            if s >= at {
                *start = (s + len) as u32;
            } else if s + l > at {
                *span_len = (l + len) as u32;
            }
        }
        self
    }

    /// The index of a payload whose members were recorded while validating it
    /// ([`crate::json::compact_members`] or the envelope decoder's fused pass).
    pub fn from_members(payload: &[u8], members: &[crate::json::Member]) -> Self {
        let mut index = EventIndex::default();
        let mut subtree = 0;
        for (i, member) in members.iter().enumerate() {
            if member.depth != 1 {
                continue;
            }
            let raw_key = &payload[member.key.0 as usize..member.key.1 as usize];
            if let Some(top) = find_key(raw_key, Top::from_key)
                && index.spans[top as usize] == ABSENT
            {
                index.spans[top as usize] = span(member);
                if let Some(group) = Group::of_top(top) {
                    index.fill(group, payload, member, &members[subtree..i]);
                }
            }
            subtree = i + 1;
        }
        index
    }

    /// Fills `group`'s slots from the members recorded inside `object` (post-order: the
    /// `subtree` before it).
    fn fill(
        &mut self,
        group: Group,
        payload: &[u8],
        object: &crate::json::Member,
        members: &[crate::json::Member],
    ) {
        if payload.get(object.value.0 as usize) != Some(&b'{') {
            return;
        }
        self.groups |= 1 << group as u16;
        let depth = object.depth + 1;
        let mut subtree = 0;
        for (i, member) in members.iter().enumerate() {
            if member.depth != depth {
                continue;
            }
            let raw_key = &payload[member.key.0 as usize..member.key.1 as usize];
            if let Some(slot) = find_key(raw_key, |key| group.slot(key)) {
                let cell = group.first_slot() + slot;
                if self.spans[cell] == ABSENT {
                    self.spans[cell] = span(member);
                    if let Some(child) = group.child(slot) {
                        self.fill(child, payload, member, &members[subtree..i]);
                    }
                }
            }
            subtree = i + 1;
        }
    }

    /// Indexes a compact, validated payload (one recording pass over it).
    pub fn build(payload: &[u8]) -> Self {
        let mut members = Vec::new();
        match crate::json::compact_members(payload, &mut members) {
            Ok(Cow::Borrowed(compact)) if compact.len() == payload.len() => {
                Self::from_members(payload, &members)
            }
            // Not what the contract promises: index it the slow way.
            _ => Self::by_navigation(payload),
        }
    }

    /// The same index built by walking the payload with [`Json::get`]: the reference the
    /// recorded one is tested (and fuzzed) against, and the way for a payload that is not
    /// compact.
    pub fn by_navigation(payload: &[u8]) -> Self {
        let mut index = EventIndex::default();
        for (raw_key, value) in Json::new(payload).members() {
            if let Some(top) = Top::from_key(&crate::json::unescape(raw_key))
                && index.spans[top as usize] == ABSENT
            {
                index.spans[top as usize] = span_of(payload, value);
                if let Some(group) = Group::of_top(top) {
                    index.fill_by_navigation(group, payload, value);
                }
            }
        }
        index
    }

    fn fill_by_navigation(&mut self, group: Group, payload: &[u8], object: Json<'_>) {
        if object.kind() != Kind::Object {
            return;
        }
        self.groups |= 1 << group as u16;
        for (slot, key) in group.keys().iter().enumerate() {
            if let Some(value) = object.get(key) {
                self.spans[group.first_slot() + slot] = span_of(payload, value);
                if let Some(child) = group.child(slot) {
                    self.fill_by_navigation(child, payload, value);
                }
            }
        }
    }
}

fn span_of(payload: &[u8], value: Json<'_>) -> Span {
    (
        offset_in(payload, value.raw()) as u32,
        value.raw().len() as u32,
    )
}

fn span(member: &crate::json::Member) -> Span {
    (member.value.0, member.value.1 - member.value.0)
}

/// How many members below the top level a [`KeyPath`] can resolve (the index goes
/// `requestObject.spec.*` deep).
const RESOLVED_DEPTH: usize = 2;

/// A constant path (a field's `extractFromKeys` keys) with its indexed prefix resolved
/// when the field table is built: the top-level member, then the index cells below it,
/// so a lookup reads the index without comparing a name.
#[derive(Debug, Clone, Copy)]
pub struct KeyPath {
    keys: &'static [&'static str],
    top: Option<Top>,
    /// The group and cell (in [`EventIndex::spans`]) of `keys[1..=resolved]`.
    steps: [(Group, usize); RESOLVED_DEPTH],
    resolved: usize,
}

const fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

impl KeyPath {
    /// Resolves `keys` against the index layout (at compile time in the field table).
    pub const fn new(keys: &'static [&'static str]) -> Self {
        let mut path = KeyPath {
            keys,
            top: None,
            steps: [(Group::Request, 0); RESOLVED_DEPTH],
            resolved: 0,
        };
        if keys.is_empty() {
            return path;
        }
        let mut t = 0;
        while t < Top::ALL.len() && !same_bytes(Top::ALL[t].1.as_bytes(), keys[0].as_bytes()) {
            t += 1;
        }
        if t == Top::ALL.len() {
            return path;
        }
        let top = Top::ALL[t].0;
        path.top = Some(top);
        let mut group = Group::of_top(top);
        while let Some(g) = group
            && path.resolved < RESOLVED_DEPTH
            && path.resolved + 1 < keys.len()
        {
            let key = keys[path.resolved + 1].as_bytes();
            let names = g.keys();
            let mut slot = 0;
            while slot < names.len() && !same_bytes(names[slot].as_bytes(), key) {
                slot += 1;
            }
            if slot == names.len() {
                break;
            }
            path.steps[path.resolved] = (g, FIRST_SLOTS[g as usize] + slot);
            path.resolved += 1;
            group = g.child(slot);
        }
        path
    }
}

/// A read-only view of one event for field extraction.
#[derive(Debug, Clone)]
pub struct EventView<'a> {
    payload: &'a [u8],
    index: Cow<'a, EventIndex>,
    time_ns: u64,
}

impl<'a> EventView<'a> {
    /// Indexes a compact, validated payload.
    pub fn new(payload: &'a [u8], time_ns: u64) -> Self {
        Self {
            payload,
            index: Cow::Owned(EventIndex::build(payload)),
            time_ns,
        }
    }

    /// Reuses an index built earlier for the same payload.
    pub fn with_index(payload: &'a [u8], index: &'a EventIndex, time_ns: u64) -> Self {
        Self {
            payload,
            index: Cow::Borrowed(index),
            time_ns,
        }
    }

    fn at(&self, (start, len): Span) -> Option<Json<'a>> {
        let start = start as usize;
        (len != 0).then(|| Json::new(&self.payload[start..start + len as usize]))
    }

    /// A member of an indexed group: `None` when the group cannot answer (its object is
    /// absent or not an object), `Some(None)` when the member is absent.
    fn member(&self, group: Group, slot: usize) -> Option<Option<Json<'a>>> {
        (self.index.groups & (1 << group as u16) != 0)
            .then(|| self.at(self.index.spans[group.first_slot() + slot]))
    }

    /// `requestObject.<key>` from the index: `None` when the index cannot answer (not an
    /// indexed key, or `requestObject` not an object), `Some(None)` when the member is
    /// absent.
    pub fn request_member(&self, key: &str) -> Option<Option<Json<'a>>> {
        self.member(Group::Request, Group::Request.slot(key.as_bytes())?)
    }

    /// `requestObject.spec.<key>` from the index: `None` when the index cannot answer (not
    /// an indexed key, or `requestObject`/`spec` not objects), `Some(None)` when the member
    /// is absent.
    pub fn spec_member(&self, key: &str) -> Option<Option<Json<'a>>> {
        self.member(Group::Spec, Group::Spec.slot(key.as_bytes())?)
    }

    /// Go fastjson's `Get(path...)` from the root: object members by name, array
    /// elements by decimal index. The indexed members along the path are answered from
    /// the index; the walk goes on from the last one.
    pub fn lookup(&self, path: &[&[u8]]) -> Option<Json<'a>> {
        let (first, rest) = path.split_first()?;
        let Some(top) = Top::from_key(first) else {
            return rest
                .iter()
                .try_fold(self.root().get_go(first)?, |v, k| v.get_go(k));
        };
        let mut value = self.top(top)?;
        let mut group = Group::of_top(top);
        for (i, key) in rest.iter().enumerate() {
            let indexed = group.and_then(|g| Some((g, g.slot(key)?)));
            let Some(answer) = indexed.and_then(|(g, slot)| self.member(g, slot)) else {
                return rest[i..].iter().try_fold(value, |v, k| v.get_go(k));
            };
            value = answer?;
            group = indexed.and_then(|(g, slot)| g.child(slot));
        }
        Some(value)
    }

    /// [`Self::lookup`] of a resolved constant path: its indexed prefix read straight from
    /// the index, the walk going on from there.
    pub fn lookup_path(&self, path: &KeyPath) -> Option<Json<'a>> {
        let Some(top) = path.top else {
            let (first, rest) = path.keys.split_first()?;
            return rest
                .iter()
                .try_fold(self.root().get_go(first.as_bytes())?, |v, k| {
                    v.get_go(k.as_bytes())
                });
        };
        let mut value = self.top(top)?;
        let mut walked = 1;
        for &(group, cell) in &path.steps[..path.resolved] {
            if self.index.groups & (1 << group as u16) == 0 {
                break;
            }
            value = self.at(self.index.spans[cell])?;
            walked += 1;
        }
        path.keys[walked..]
            .iter()
            .try_fold(value, |v, k| v.get_go(k.as_bytes()))
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
        self.at(self.index.spans[member as usize])
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
        let (out, index) = annotate(payload, EventIndex::build(payload), meta);
        assert_eq!(
            index,
            EventIndex::build(&out),
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
        assert_eq!(EventIndex::from_members(p, &members), EventIndex::build(p));
    }

    /// Payloads that exercise the index: duplicates at every level, escaped keys, groups
    /// that are not objects, members below arrays, and empty objects.
    const INDEX_CASES: &[&str] = &[
        r#"{"auditID":"a","objectRef":{"name":"n","name":"m","resource":"pods"},"user":{"username":"u"}}"#,
        r#"{"requestObject":{"spec":{"containers":[{"image":"i"}],"hostPID":true},"spec":{"hostPID":false},"metadata":{"name":"x"}},"requestObject":{"data":1}}"#,
        r#"{"requestObject":{"metadata":{"name":"esc"},"spec":[1,2]},"responseObject":{"metadata":{"name":"r"}}}"#,
        r#"{"requestObject":[{"spec":{"hostPID":true}}],"objectRef":"s","user":null,"annotations":{}}"#,
        r#"{"annotations":{"authorization.k8s.io\/decision":"allow","authorization.k8s.io/decision":"forbid"},"responseStatus":{"code":200}}"#,
        r#"{"objectRef":{"name":"e"},"objectRef":{"name":"f"},"requestObject":{"spec":{"tls":[{"a":{"b":{}}}]}}}"#,
        r#"{"responseObject":{"metadata":"m"},"requestObject":{},"user":{"extra":{"k":["v"]},"groups":["g"]}}"#,
        r#"[{"objectRef":{"name":"n"}}]"#,
        r#"{}"#,
    ];

    const LOOKUPS: &[&[&str]] = &[
        &["objectRef", "name"],
        &["objectRef", "resource"],
        &["user", "username"],
        &["user", "extra", "k", "0"],
        &["requestObject", "spec", "hostPID"],
        &["requestObject", "spec", "containers", "0", "image"],
        &["requestObject", "spec", "0"],
        &["requestObject", "metadata", "name"],
        &["requestObject", "0", "spec"],
        &["requestObject", "data"],
        &["responseObject", "metadata", "name"],
        &["annotations", "authorization.k8s.io/decision"],
        &["responseStatus", "code"],
        &["requestObject", "spec", "tls", "0", "a"],
        &["nope", "x"],
    ];

    #[test]
    fn recorded_index_equals_the_navigated_one_and_lookups_equal_walks() {
        for case in INDEX_CASES {
            let payload = case.as_bytes();
            let mut members = Vec::new();
            crate::json::compact_members(payload, &mut members).unwrap();
            let recorded = EventIndex::from_members(payload, &members);
            assert_eq!(recorded, EventIndex::by_navigation(payload), "{case}");
            assert_eq!(recorded, EventIndex::build(payload), "{case}");
            let view = EventView::with_index(payload, &recorded, 0);
            for path in LOOKUPS {
                let path: Vec<&[u8]> = path.iter().map(|k| k.as_bytes()).collect();
                let walked = path.iter().try_fold(view.root(), |v, k| v.get_go(k));
                assert_eq!(
                    view.lookup(&path).map(|v| v.raw()),
                    walked.map(|v| v.raw()),
                    "{case}: {path:?}"
                );
            }
            for keys in LOOKUPS
                .iter()
                .chain(&[&["stage"][..], &["requestObject"], &[]])
            {
                let walked = match keys.split_first() {
                    Some((first, rest)) => rest
                        .iter()
                        .try_fold(view.root().get_go(first.as_bytes()), |v, k| {
                            v.map(|v| v.get_go(k.as_bytes()))
                        }),
                    None => None,
                };
                let resolved = view.lookup_path(&KeyPath::new(keys));
                assert_eq!(
                    resolved.map(|v| v.raw()),
                    walked.flatten().map(|v| v.raw()),
                    "{case}: {keys:?}"
                );
            }
        }
    }

    #[test]
    fn key_paths_resolve_their_indexed_prefix() {
        let path = KeyPath::new(&["requestObject", "spec", "hostPID"]);
        assert_eq!(path.top, Some(Top::RequestObject));
        assert_eq!(path.resolved, 2);
        assert_eq!(
            path.steps[1],
            (Group::Spec, Group::Spec.first_slot() + 6),
            "hostPID is the seventh spec key"
        );
        let path = KeyPath::new(&["objectRef", "name"]);
        assert_eq!((path.top, path.resolved), (Some(Top::ObjectRef), 1));
        let path = KeyPath::new(&["requestObject", "metadata", "name"]);
        assert_eq!((path.top, path.resolved), (Some(Top::RequestObject), 0));
        let path = KeyPath::new(&["nope", "x"]);
        assert_eq!((path.top, path.resolved), (None, 0));
    }

    #[test]
    fn group_slots_follow_their_key_lists() {
        let mut slots = std::collections::HashSet::new();
        for group in Group::ALL {
            for (i, key) in group.keys().iter().enumerate() {
                assert_eq!(group.slot(key.as_bytes()), Some(i), "{group:?} {key}");
                slots.insert(group.first_slot() + i);
            }
            assert_eq!(group.slot(b"nope"), None);
        }
        assert_eq!(
            slots.len(),
            SLOTS - Top::ALL.len(),
            "no two keys share a slot"
        );
        assert!(slots.iter().all(|&s| (Top::ALL.len()..SLOTS).contains(&s)));
    }

    #[test]
    fn index_answers_first_occurrences() {
        let view = EventView::new(INDEX_CASES[1].as_bytes(), 0);
        assert_eq!(view.spec_member("hostPID").unwrap().unwrap().raw(), b"true");
        assert_eq!(view.request_member("data"), Some(None), "not in the first");
        assert!(view.spec_member("nope").is_none(), "not an indexed key");
        let view = EventView::new(INDEX_CASES[2].as_bytes(), 0);
        assert_eq!(view.spec_member("hostPID"), None, "spec is an array");
        let view = EventView::new(INDEX_CASES[0].as_bytes(), 0);
        let name: &[&[u8]] = &[b"objectRef", b"name"];
        assert_eq!(view.lookup(name).unwrap().raw(), br#""n""#);
    }

    #[test]
    fn annotating_keeps_the_nested_index_right() {
        for case in INDEX_CASES {
            let payload = case.as_bytes();
            let (out, index) = annotate(payload, EventIndex::build(payload), &meta());
            assert_eq!(index, EventIndex::by_navigation(&out), "{case}");
        }
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
