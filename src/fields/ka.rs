//! The `ka.*` fields, with Falco k8saudit 0.18.0's extraction semantics.
//!
//! Each rule below is what upstream's Go code does, including where that differs from
//! what the field's name promises. A rule written against Falco's plugin must fire the
//! same way here, so the quirks are reproduced on purpose, each in a named function:
//!
//! * [`requires_audit_id`]: an event without an `auditID` member has no `ka.*` value;
//! * [`Json::text`]: a non-string value is given as its compact JSON (`200`, `true`,
//!   `{"a":"b"}`);
//! * [`values_along`]: an index argument picks the N-th element of the *first* array met
//!   while walking the path (a container, a rule, a volume), not the N-th output value;
//! * [`image_repository`]: an image is cut at its first `:` and then its first `@`, so
//!   `registry:5000/app:1` gives `registry`;
//! * [`effective_ids`]: `eff_run_as_user`/`eff_run_as_group` read `runAsUser` beside
//!   `securityContext`, not inside it, so real pods give `0` for every container;
//! * `ka.sourceips` reads `requestObject.rules[].sourceIPs` and so never has a value on a
//!   real event ([`Ka::RoleRules`] with `sourceIPs`);
//! * [`Ka::HasName`]: `ka.req.binding.subject.has_name[...]` is always `"true"`;
//! * [`Ka::ServicePorts`]: `ka.req.service.ports` is one item, the JSON of the whole
//!   `spec.ports` array, and its index is ignored;
//! * an empty list is no value, and a list field whose value is not an array is an error.

use std::borrow::Cow;

use super::{Arg, ExtractError, Extracted, Value, list_value, uri};
use crate::event::{EventView, KeyPath, Top};
use crate::json::{Json, Kind};

/// How a `ka.*` field is extracted.
#[derive(Debug, Clone, Copy)]
pub enum Ka {
    /// Plain path lookup (upstream `extractFromKeys`); a list field must be an array.
    Path(KeyPath),
    /// `ka.uri.param[key]`.
    UriParam,
    /// `ka.target.pod.name`.
    TargetPodName,
    /// `ka.req.binding.subjects.*_names`.
    Subjects(SubjectKind),
    /// `ka.req.binding.subject.has_name`: always `"true"`.
    HasName,
    /// `ka.req.container.image`.
    FirstContainerImage,
    /// `ka.req.container.image.repository`.
    FirstContainerRepository,
    /// `ka.req.container.privileged`.
    AnyContainerPrivileged,
    /// `ka.req.pod.<list>.<field>`.
    Container(ContainerList, ContainerField),
    /// `ka.req.role.rules.<key>` (and `ka.sourceips`, which upstream reads here too).
    RoleRules(&'static str),
    /// `ka.req.service.ports`.
    ServicePorts,
    /// `ka.req.pod.volumes.<path...>`.
    VolumeValues(&'static [&'static str]),
    /// `ka.req.volume.hostpath[key]`.
    VolumeHostPathMatch,
    /// `ka.req.pod.volumes.volume_type`.
    VolumeTypes,
}

/// Which subjects of a binding a `ka.req.binding.subjects.*` field lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectKind {
    /// `kind: User`.
    User,
    /// `kind: ServiceAccount`, by name.
    ServiceAccount,
    /// `kind: ServiceAccount`, as `namespace:name` (subjects without namespace skipped).
    NamespacedServiceAccount,
    /// `kind: Group`.
    Group,
}

/// A pod's container list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerList {
    /// `spec.containers`.
    Containers,
    /// `spec.initContainers`.
    Init,
    /// `spec.ephemeralContainers`.
    Ephemeral,
}

impl ContainerList {
    fn key(self) -> &'static str {
        match self {
            ContainerList::Containers => "containers",
            ContainerList::Init => "initContainers",
            ContainerList::Ephemeral => "ephemeralContainers",
        }
    }
}

/// A per-container field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum ContainerField {
    Name,
    Image,
    ImageRepository,
    Command,
    Args,
    Privileged,
    AllowPrivilegeEscalation,
    ReadOnlyFs,
    RunAsUser,
    EffRunAsUser,
    RunAsGroup,
    EffRunAsGroup,
    ProcMount,
    AddCapabilities,
    HostPort,
}

/// Extracts a `ka.*` field.
pub fn extract<'a>(ev: &EventView<'a>, ka: Ka, list: bool, arg: Arg<'_>) -> Extracted<'a> {
    if !requires_audit_id(ev) {
        return Ok(None);
    }
    let index = arg.index();
    match ka {
        Ka::Path(path) => from_path(ev, &path, list),
        Ka::UriParam => uri_param(ev, arg),
        Ka::TargetPodName => Ok(target_pod_name(ev)),
        Ka::Subjects(kind) => subject_names(ev, kind),
        Ka::HasName => Ok(Some(Value::One(Cow::Borrowed(b"true")))),
        Ka::FirstContainerImage => Ok(first_container_images(ev)?.map(Value::One)),
        Ka::FirstContainerRepository => {
            Ok(first_container_images(ev)?.map(|image| Value::One(image_repository(image))))
        }
        Ka::AnyContainerPrivileged => Ok(any_container_privileged(ev)),
        Ka::Container(list, field) => container_field(ev, list, field, index),
        Ka::RoleRules(key) => Ok(role_rules(ev, key, index)),
        Ka::ServicePorts => {
            Ok(spec_values(ev, index, &["ports"]).and_then(|v| list_value(texts_skip_missing(v))))
        }
        Ka::VolumeValues(path) => Ok(volume_values(ev, index, path)),
        Ka::VolumeHostPathMatch => Ok(volume_hostpath_match(ev, arg)),
        Ka::VolumeTypes => Ok(volume_types(ev, index)),
    }
}

/// Quirk: every `ka.*` field is unavailable on an event without an `auditID` member (a
/// `null` one counts as present), which is how upstream discards unrelated JSON.
pub fn requires_audit_id(ev: &EventView<'_>) -> bool {
    ev.top(Top::AuditId).is_some()
}

/// fastjson's `Get(keys...)` from the event root.
fn lookup<'a>(ev: &EventView<'a>, path: &[&str]) -> Option<Json<'a>> {
    let mut keys: [&[u8]; 8] = [b""; 8];
    for (slot, key) in keys.iter_mut().zip(path) {
        *slot = key.as_bytes();
    }
    ev.lookup(&keys[..path.len().min(8)])
}

/// Upstream `extractFromKeys`.
fn from_path<'a>(ev: &EventView<'a>, path: &KeyPath, list: bool) -> Extracted<'a> {
    let Some(v) = ev.lookup_path(path) else {
        return Ok(None);
    };
    if !list {
        return Ok(Some(Value::One(v.text())));
    }
    if v.kind() != Kind::Array {
        return Err(ExtractError::WrongType);
    }
    Ok(list_value(v.elements().map(Json::text).collect()))
}

/// Upstream `getValuesRecursive`: walks `keys` from `v`. Where an array is met before a
/// key, with no index every element is walked (a missing path in one element leaves a
/// `None` in its place); with an index only that element is (quirk: the index applies to
/// the first array met, and again to any later one). An empty key stands for the value
/// itself. `None` overall means "not available".
pub fn values_along<'a>(
    v: Json<'a>,
    index: Option<u64>,
    keys: &[&str],
) -> Option<Vec<Option<Json<'a>>>> {
    let mut out = Vec::new();
    walk_along(v, index, keys, &mut |value| out.push(value)).then_some(out)
}

/// [`values_along`] handing each value to `visit` as it is found, so a caller that
/// folds the values (most do) allocates nothing; false for "not available". A walk that
/// fails does so before visiting anything.
fn walk_along<'a>(
    mut v: Json<'a>,
    index: Option<u64>,
    keys: &[&str],
    visit: &mut dyn FnMut(Option<Json<'a>>),
) -> bool {
    for (i, key) in keys.iter().enumerate() {
        if v.kind() == Kind::Array {
            match index {
                None => {
                    for element in v.elements() {
                        if !walk_along(element, None, &keys[i..], visit) {
                            visit(None);
                        }
                    }
                    return true;
                }
                Some(n) => match usize::try_from(n).ok().and_then(|n| v.at(n)) {
                    Some(element) => v = element,
                    None => return false,
                },
            }
        }
        if !key.is_empty() {
            match v.get_go(key.as_bytes()) {
                Some(member) => v = member,
                None => return false,
            }
        }
    }
    visit(Some(v));
    true
}

/// `values_along` from `requestObject.spec`, the root of every pod and service field.
fn spec_values<'a>(
    ev: &EventView<'a>,
    index: Option<u64>,
    keys: &[&str],
) -> Option<Vec<Option<Json<'a>>>> {
    let mut out = Vec::new();
    spec_walk(ev, index, keys, &mut |value| out.push(value)).then_some(out)
}

/// [`walk_along`] from `requestObject.spec`.
fn spec_walk<'a>(
    ev: &EventView<'a>,
    index: Option<u64>,
    keys: &[&str],
    visit: &mut dyn FnMut(Option<Json<'a>>),
) -> bool {
    if let Some((first, rest)) = keys.split_first() {
        if let Some(member) = ev.spec_member(first) {
            // `requestObject` and `spec` are objects, so the walk reaches `first` directly.
            return member.is_some_and(|member| walk_along(member, index, rest, visit));
        }
        if ev.request_member("spec") == Some(None) {
            // `requestObject` is an object without `spec` (most events): nothing to walk.
            return false;
        }
    }
    let Some(request) = ev.top(Top::RequestObject) else {
        return false;
    };
    let mut path = Vec::with_capacity(keys.len() + 1);
    path.push("spec");
    path.extend_from_slice(keys);
    walk_along(request, index, &path, visit)
}

/// Upstream `arrayAsStringsSkipNil`.
fn texts_skip_missing(values: Vec<Option<Json<'_>>>) -> Vec<Cow<'_, [u8]>> {
    values.into_iter().flatten().map(Json::text).collect()
}

fn uri_param<'a>(ev: &EventView<'a>, arg: Arg<'_>) -> Extracted<'a> {
    let Some(uri) = ev.top(Top::RequestUri) else {
        return Ok(None);
    };
    let Arg::Key(key) = arg else {
        return Ok(None);
    };
    // The value borrows from the event when the URI text does (no JSON escapes in it).
    let value = match uri.text() {
        Cow::Borrowed(text) => uri::query_param(text, key).map_err(ExtractError::Uri)?,
        Cow::Owned(text) => uri::query_param(&text, key)
            .map_err(ExtractError::Uri)?
            .map(|v| Cow::Owned(v.into_owned())),
    };
    Ok(value.map(Value::One))
}

fn target_pod_name<'a>(ev: &EventView<'a>) -> Option<Value<'a>> {
    let object_ref = ev.top(Top::ObjectRef);
    let string_of = |key: &str| {
        object_ref
            .and_then(|o| o.get(key))
            .and_then(Json::str)
            .unwrap_or(Cow::Borrowed(b""))
    };
    if *string_of("resource") != *b"pods" || !string_of("subresource").is_empty() {
        return None;
    }
    lookup(ev, &["responseObject", "metadata", "name"]).map(|v| Value::One(v.text()))
}

fn subject_names<'a>(ev: &EventView<'a>, kind: SubjectKind) -> Extracted<'a> {
    let Some(subjects) = lookup(ev, &["requestObject", "subjects"]) else {
        return Ok(None);
    };
    if subjects.kind() != Kind::Array {
        return Err(ExtractError::WrongType);
    }
    let wanted: &[u8] = match kind {
        SubjectKind::User => b"User",
        SubjectKind::Group => b"Group",
        SubjectKind::ServiceAccount | SubjectKind::NamespacedServiceAccount => b"ServiceAccount",
    };
    let mut names = Vec::new();
    for subject in subjects.elements() {
        let (Some(k), Some(name)) = (subject.get("kind"), subject.get("name")) else {
            continue;
        };
        if *k.text() != *wanted {
            continue;
        }
        if kind == SubjectKind::NamespacedServiceAccount {
            let Some(namespace) = subject.get("namespace") else {
                continue;
            };
            let mut qualified = namespace.text().into_owned();
            qualified.push(b':');
            qualified.extend_from_slice(&name.text());
            names.push(Cow::Owned(qualified));
        } else {
            names.push(name.text());
        }
    }
    Ok(list_value(names))
}

/// The values of `<list>[*].<keys>` (upstream `getContainerValues`).
fn container_values<'a>(
    ev: &EventView<'a>,
    list: ContainerList,
    index: Option<u64>,
    keys: &[&str],
) -> Option<Vec<Option<Json<'a>>>> {
    let mut out = Vec::new();
    container_walk(ev, list, index, keys, &mut |value| out.push(value)).then_some(out)
}

/// [`container_values`] handed to `visit`.
fn container_walk<'a>(
    ev: &EventView<'a>,
    list: ContainerList,
    index: Option<u64>,
    keys: &[&str],
    visit: &mut dyn FnMut(Option<Json<'a>>),
) -> bool {
    let mut path: [&str; 4] = [list.key(), "", "", ""];
    path[1..=keys.len()].copy_from_slice(keys);
    spec_walk(ev, index, &path[..=keys.len()], visit)
}

/// What [`container_texts`] does to each text (the repository fields cut the image).
type TextMap<'a> = fn(Cow<'a, [u8]>) -> Cow<'a, [u8]>;

/// The texts of `<list>[*].<key>`, each mapped by `map`; a container without `key` is a
/// type error (upstream `arrayAsStrings`). `Ok(None)`: not available.
fn container_texts<'a>(
    ev: &EventView<'a>,
    list: ContainerList,
    index: Option<u64>,
    key: &str,
    map: TextMap<'a>,
) -> Result<Option<Vec<Cow<'a, [u8]>>>, ExtractError> {
    let mut items = Vec::new();
    let mut missing = false;
    let found = container_walk(ev, list, index, &[key], &mut |value| match value {
        Some(value) => items.push(map(value.text())),
        None => missing = true,
    });
    match (found, missing) {
        (false, _) => Ok(None),
        (true, true) => Err(ExtractError::WrongType),
        (true, false) => Ok(Some(items)),
    }
}

fn first_container_images<'a>(ev: &EventView<'a>) -> Result<Option<Cow<'a, [u8]>>, ExtractError> {
    let images = container_texts(ev, ContainerList::Containers, Some(0), "image", |t| t)?;
    Ok(images.and_then(|images| images.into_iter().next()))
}

fn any_container_privileged<'a>(ev: &EventView<'a>) -> Option<Value<'a>> {
    let mut any = false;
    let keys = ["securityContext", "privileged"];
    let found = container_walk(ev, ContainerList::Containers, None, &keys, &mut |value| {
        any |= value.is_some_and(Json::is_true);
    });
    found.then_some(Value::One(Cow::Borrowed(if any {
        b"true"
    } else {
        b"false"
    })))
}

/// Quirk: the repository is the image up to its first `:`, then up to its first `@`
/// (Go: `strings.Split(strings.Split(image, ":")[0], "@")[0]`), so a registry port cuts
/// the name short: `registry:5000/app:1` gives `registry`.
pub fn image_repository(image: Cow<'_, [u8]>) -> Cow<'_, [u8]> {
    let cut = |b: &[u8], c: u8| memchr::memchr(c, b).unwrap_or(b.len());
    let end = cut(&image, b':');
    let end = cut(&image[..end], b'@');
    match image {
        Cow::Borrowed(b) => Cow::Borrowed(&b[..end]),
        Cow::Owned(mut v) => {
            v.truncate(end);
            Cow::Owned(v)
        }
    }
}

fn container_field<'a>(
    ev: &EventView<'a>,
    list: ContainerList,
    field: ContainerField,
    index: Option<u64>,
) -> Extracted<'a> {
    use ContainerField as F;
    let security = |key: &'static str| -> Option<Value<'a>> {
        let mut items = Vec::new();
        let keys = ["securityContext", key];
        let found = container_walk(ev, list, index, &keys, &mut |value| {
            items.extend(value.map(Json::text));
        });
        found.then(|| list_value(items)).flatten()
    };
    Ok(match field {
        F::Name | F::Image | F::ImageRepository => {
            let (key, map): (_, TextMap<'a>) = match field {
                F::Name => ("name", |t| t),
                F::Image => ("image", |t| t),
                _ => ("image", image_repository),
            };
            container_texts(ev, list, index, key, map)?.and_then(list_value)
        }
        F::Command | F::Args => {
            let key = if field == F::Command {
                "command"
            } else {
                "args"
            };
            joined_words(container_values(ev, list, index, &[key]))?
        }
        F::Privileged => security("privileged"),
        F::AllowPrivilegeEscalation => security("allowPrivilegeEscalation"),
        F::ReadOnlyFs => security("readOnlyRootFilesystem"),
        F::RunAsUser => security("runAsUser"),
        F::RunAsGroup => security("runAsGroup"),
        F::ProcMount => security("procMount"),
        F::EffRunAsUser => effective_ids(ev, list, index, "runAsUser")?,
        F::EffRunAsGroup => effective_ids(ev, list, index, "runAsGroup")?,
        F::AddCapabilities => {
            container_values(ev, list, index, &["securityContext", "capabilities", "add"])
                .and_then(|v| list_value(texts_skip_missing(v)))
        }
        F::HostPort => host_ports(container_values(ev, list, index, &["ports"]))?,
    })
}

/// `command`/`args`: each container's array joined by spaces; containers without one are
/// skipped; a non-array, or a non-string item, is a type error.
fn joined_words<'a>(values: Option<Vec<Option<Json<'a>>>>) -> Extracted<'a> {
    let Some(values) = values else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for words in values.into_iter().flatten() {
        if words.kind() != Kind::Array {
            return Err(ExtractError::WrongType);
        }
        let mut joined = Vec::new();
        for (i, word) in words.elements().enumerate() {
            let text = word.str().ok_or(ExtractError::WrongType)?;
            if i > 0 {
                joined.push(b' ');
            }
            joined.extend_from_slice(&text);
        }
        out.push(Cow::Owned(joined));
    }
    Ok(list_value(out))
}

/// Every port of every container: `hostPort` when present, else `containerPort`.
fn host_ports<'a>(values: Option<Vec<Option<Json<'a>>>>) -> Extracted<'a> {
    let Some(values) = values else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for ports in values.into_iter().flatten() {
        if ports.kind() != Kind::Array {
            return Err(ExtractError::WrongType);
        }
        for port in ports.elements() {
            if let Some(p) = port.get("hostPort").or_else(|| port.get("containerPort")) {
                out.push(p.text());
            }
        }
    }
    Ok(list_value(out))
}

/// Quirk (upstream `readFromContainerEffectively`): one value per container, its
/// `<key>` (read directly on the container, not in `securityContext`), else the pod's
/// `spec.<key>` (again not in `securityContext`), else `0`.
pub fn effective_ids<'a>(
    ev: &EventView<'a>,
    list: ContainerList,
    index: Option<u64>,
    key: &'static str,
) -> Extracted<'a> {
    let pod = lookup(ev, &["requestObject", "spec", key])
        .map(Json::text)
        .unwrap_or(Cow::Borrowed(b"0"));
    let Some(values) = container_values(ev, list, index, &[key]) else {
        return Ok(None);
    };
    Ok(list_value(
        values
            .into_iter()
            .map(|v| v.map(Json::text).unwrap_or_else(|| pod.clone()))
            .collect(),
    ))
}

fn role_rules<'a>(ev: &EventView<'a>, key: &'static str, index: Option<u64>) -> Option<Value<'a>> {
    let values = match ev.request_member("rules") {
        // `requestObject` is an object, so the walk reaches `rules` directly.
        Some(rules) => values_along(rules?, index, &[key])?,
        None => values_along(ev.top(Top::RequestObject)?, index, &["rules", key])?,
    };
    let items = values
        .into_iter()
        .flatten()
        .filter(|v| v.kind() == Kind::Array)
        .flat_map(|v| v.elements().map(Json::text))
        .collect();
    list_value(items)
}

fn volume_values<'a>(ev: &EventView<'a>, index: Option<u64>, path: &[&str]) -> Option<Value<'a>> {
    let mut keys = vec!["volumes"];
    keys.extend_from_slice(path);
    list_value(texts_skip_missing(spec_values(ev, index, &keys)?))
}

fn volume_hostpath_match<'a>(ev: &EventView<'a>, arg: Arg<'_>) -> Option<Value<'a>> {
    let paths = texts_skip_missing(spec_values(ev, None, &["volumes", "hostPath", "path"])?);
    let key = match arg {
        Arg::Key(k) => k,
        _ => b"",
    };
    let prefix = key.strip_suffix(b"*");
    let hit = paths
        .iter()
        .any(|p| prefix.is_some_and(|pre| p.starts_with(pre)) || **p == *key);
    Some(Value::One(Cow::Borrowed(if hit {
        b"true"
    } else {
        b"false"
    })))
}

fn volume_types<'a>(ev: &EventView<'a>, index: Option<u64>) -> Option<Value<'a>> {
    let volumes = spec_values(ev, index, &["volumes", ""])?;
    let mut types = Vec::new();
    for volume in volumes.into_iter().flatten() {
        for (raw_key, _) in volume.members() {
            let key = crate::json::unescape(raw_key);
            if *key != *b"name" {
                types.push(key);
            }
        }
    }
    list_value(types)
}

#[cfg(test)]
mod tests;
