//! Fields: named values read from an [`EventView`](crate::event::EventView).
//!
//! [`FIELDS`] is the single table behind every consumer: the Falco plugin's
//! `get_fields`, `eksaudit fields`, `eksaudit extract` and the rule engine. It holds
//!
//! * all 100 `ka.*` fields of Falco's k8saudit plugin 0.18.0, in its declared order, with
//!   its names, list flags, argument kinds and extraction semantics, quirks included
//!   (see [`ka`]: each quirk is a named function with its own test);
//! * the `eks.*` fields: where the event came from and who the AWS caller was ([`eks`]);
//! * the `json.*`/`jevt.*` fields of Falco's `json` plugin ([`json`]), for the rule engine
//!   only: the plugin must not export them, because Falco refuses two plugins that export
//!   one field name and the upstream rules require the real `json` plugin.
//!
//! Every field is a string (Falco `PT_CHARBUF`), as upstream's are. Extraction answers
//! `Ok(None)` for "no value" (Falco prints `<NA>`), `Err` where upstream fails the
//! extraction (Falco also treats that as no value, but it is worth a log line).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::LazyLock;

use crate::event::EventView;

pub mod eks;
pub mod json;
pub mod ka;
mod request;
mod table;
pub mod uri;

pub use request::{FieldRequest, OwnedArg, RequestError, check_arg};
pub use table::FIELDS;
pub(crate) use table::TABLE;

/// The argument a field accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// No argument: `ka.verb`.
    None,
    /// A key is required: `ka.uri.param[command]`.
    RequiredKey,
    /// An index may be given: `ka.req.pod.containers.image[0]`.
    OptionalIndex,
}

impl ArgKind {
    /// How `eksaudit fields` and the docs show it.
    pub fn describe(self) -> &'static str {
        match self {
            ArgKind::None => "none",
            ArgKind::RequiredKey => "key (required)",
            ArgKind::OptionalIndex => "index (optional)",
        }
    }
}

/// An argument as given in a rule or a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg<'a> {
    /// No argument.
    None,
    /// `field[key]`.
    Key(&'a [u8]),
    /// `field[N]`.
    Index(u64),
}

impl Arg<'_> {
    /// The index filter upstream applies: only an index argument filters.
    fn index(self) -> Option<u64> {
        match self {
            Arg::Index(i) => Some(i),
            _ => None,
        }
    }
}

/// Who exports a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// Our plugin: `ka.*` and `eks.*`.
    Plugin,
    /// Falco's `json` plugin; available in the rule engine only.
    JsonPlugin,
}

/// A field's public description.
#[derive(Debug, Clone, Copy)]
pub struct FieldInfo {
    /// Full name, e.g. `ka.user.name`.
    pub name: &'static str,
    /// Whether the field yields a list of values.
    pub list: bool,
    /// The argument it accepts.
    pub arg: ArgKind,
    /// One-line description.
    pub description: &'static str,
    /// Who exports it.
    pub provider: Provider,
    pub(crate) extractor: Extractor,
}

/// Index of a field in [`FIELDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldId(pub usize);

impl FieldId {
    /// The field's description.
    pub fn info(self) -> &'static FieldInfo {
        &FIELDS[self.0]
    }
}

static BY_NAME: LazyLock<HashMap<&'static str, FieldId>> = LazyLock::new(|| {
    FIELDS
        .iter()
        .enumerate()
        .map(|(i, f)| (f.name, FieldId(i)))
        .collect()
});

/// Looks a field up by its full name.
pub fn find(name: &str) -> Option<FieldId> {
    BY_NAME.get(name).copied()
}

/// Fields the plugin exports (everything but the `json` plugin's).
pub fn plugin_fields() -> impl Iterator<Item = &'static FieldInfo> {
    FIELDS.iter().filter(|f| f.provider == Provider::Plugin)
}

/// An extracted value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    /// A single string.
    One(Cow<'a, [u8]>),
    /// A non-empty list of strings.
    List(Vec<Cow<'a, [u8]>>),
}

impl<'a> Value<'a> {
    /// The values as a slice (one element for [`Value::One`]).
    pub fn as_slice(&self) -> &[Cow<'a, [u8]>] {
        match self {
            Value::One(v) => std::slice::from_ref(v),
            Value::List(v) => v,
        }
    }
}

/// Why an extraction failed (upstream's extraction errors, kept as errors).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractError {
    /// A value had a JSON type the field cannot use (upstream: "wrong type conversion").
    #[error("wrong type conversion")]
    WrongType,
    /// `requestURI` could not be parsed as a URL or its query string.
    #[error("{0}")]
    Uri(String),
}

/// The result of an extraction: `Ok(None)` means "no value".
pub type Extracted<'a> = Result<Option<Value<'a>>, ExtractError>;

/// Extracts `field` (with `arg`) from `event`.
///
/// Inlined into its callers: the plugin calls it once per request of Falco's (dozens per
/// event), and a dispatch of its own cost about 13 instructions a call there.
#[inline]
pub fn extract<'a>(event: &EventView<'a>, field: FieldId, arg: Arg<'_>) -> Extracted<'a> {
    let info = field.info();
    match info.extractor {
        Extractor::Ka(k) => ka::extract(event, k, info.list, arg),
        Extractor::Eks(e) => Ok(eks::extract(event, e).map(Value::One)),
        Extractor::Json(j) => Ok(json::extract(event, j, arg)),
    }
}

/// The decimal digits of `n`, written into `buf` (no formatter: raw times are read for
/// every event).
pub fn decimal(n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

/// Turns a list into a [`Value`], `None` when empty (an empty list is no value in Falco).
pub(crate) fn list_value(items: Vec<Cow<'_, [u8]>>) -> Option<Value<'_>> {
    (!items.is_empty()).then_some(Value::List(items))
}

/// Which code extracts a field.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Extractor {
    Ka(ka::Ka),
    Eks(eks::Eks),
    Json(json::JsonField),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_digits() {
        for n in [0, 7, 10, 1_733_000_000_123_456_789, u64::MAX] {
            assert_eq!(decimal(n, &mut [0; 20]), n.to_string().as_bytes());
        }
    }

    #[test]
    fn table_names_are_unique_and_prefixed() {
        let mut seen = std::collections::HashSet::new();
        for f in FIELDS.iter() {
            assert!(seen.insert(f.name), "duplicate field {}", f.name);
            let ok = match f.provider {
                Provider::Plugin => f.name.starts_with("ka.") || f.name.starts_with("eks."),
                Provider::JsonPlugin => f.name.starts_with("json.") || f.name.starts_with("jevt."),
            };
            assert!(ok, "{} has the wrong prefix for its provider", f.name);
            assert!(!f.description.is_empty(), "{} has no description", f.name);
            assert!(
                f.description.ends_with('.'),
                "{}: descriptions are sentences",
                f.name
            );
        }
    }

    #[test]
    fn exactly_the_100_upstream_ka_fields() {
        let ka: Vec<_> = FIELDS
            .iter()
            .filter(|f| f.name.starts_with("ka."))
            .collect();
        assert_eq!(ka.len(), 100);
        assert_eq!(ka[0].name, "ka.auditid");
        assert_eq!(ka[70].name, "ka.cluster.name");
        assert_eq!(ka[71].name, "ka.req.pod.initContainers.name");
        assert_eq!(ka[85].name, "ka.req.pod.initContainers.host_port");
        assert_eq!(
            ka[99].name,
            "ka.req.pod.ephemeralContainers.add_capabilities"
        );
    }

    #[test]
    fn lookup_by_name() {
        let id = find("ka.uri.param").unwrap();
        assert_eq!(id.info().arg, ArgKind::RequiredKey);
        assert!(find("ka.nope").is_none());
        assert!(plugin_fields().all(|f| !f.name.starts_with("json")));
    }
}
