//! Fields as the rule engine sees them: the generic `evt.*` fields Falco offers on every
//! plugin event source, plus the field table of [`crate::fields`], resolved by name exactly
//! the way libsinsp's filter factory does.
//!
//! Falco builds one "filtercheck list" per plugin source: the generic event class first
//! (`evt.num`, `evt.time`, … — libsinsp `sinsp_filter_check_gen_event`), then each
//! extractor plugin's class (ours: `ka.*`/`eks.*`; the `json` plugin: `json.*`/`jevt.*`). A
//! name is resolved by asking each class in turn for its longest matching field-name prefix;
//! the first class that claims a prefix decides, and if that prefix is not the whole name the
//! field does not exist (so `evt.timex` is unknown even though `evt.time` exists). Plugin
//! classes also parse the `[arg]` suffix and reject a missing or forbidden argument with
//! libsinsp's messages.
//!
//! Types: every table field is a string (`CHARBUF`); the generic fields include numbers
//! (`evt.num`, `evt.rawtime` …) and a boolean (`evt.is_async`), which changes which
//! operators apply and how values render.

use std::borrow::Cow;

use crate::decode::time::{format_rfc3339_nanos, push_clock, push_date, push_digits};
use crate::event::EventView;
use crate::fields::{self, Arg, ArgKind, FieldId, Provider, Value};

/// A field's value type (libsinsp `ppm_param_type`, the ones that occur here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// `CHARBUF`: a string.
    Str,
    /// `UINT64`.
    U64,
    /// `ABSTIME`: ns since the epoch.
    AbsTime,
    /// `RELTIME`: ns.
    RelTime,
    /// `BOOL`.
    Bool,
}

impl FieldType {
    /// libsinsp's type name (`param_type_to_string`).
    pub fn falco_name(self) -> &'static str {
        match self {
            FieldType::Str => "CHARBUF",
            FieldType::U64 => "UINT64",
            FieldType::AbsTime => "ABSTIME",
            FieldType::RelTime => "RELTIME",
            FieldType::Bool => "BOOL",
        }
    }

    /// Whether values are numbers.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            FieldType::U64 | FieldType::AbsTime | FieldType::RelTime
        )
    }
}

/// How a number renders as text (libsinsp print formats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrintFormat {
    /// Decimal.
    Dec,
    /// Decimal, zero-padded to 9 digits (`%09`).
    Padded9,
    /// Not a number.
    Na,
}

/// A generic `evt.*` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Generic {
    Num,
    Time,
    TimeS,
    TimeIso8601,
    Datetime,
    DatetimeS,
    RawTime,
    RawTimeS,
    RawTimeNs,
    RelTime,
    RelTimeS,
    RelTimeNs,
    PluginName,
    PluginInfo,
    Source,
    IsAsync,
    AsyncType,
    Hostname,
}

/// One generic field's description.
#[derive(Debug, Clone, Copy)]
pub struct GenericInfo {
    /// Which field.
    pub field: Generic,
    /// Its name.
    pub name: &'static str,
    /// Its type.
    pub ty: FieldType,
    /// How numbers render.
    pub print: PrintFormat,
    /// libsinsp's description.
    pub description: &'static str,
}

const fn g(
    field: Generic,
    name: &'static str,
    ty: FieldType,
    print: PrintFormat,
    description: &'static str,
) -> GenericInfo {
    GenericInfo {
        field,
        name,
        ty,
        print,
        description,
    }
}

/// The generic event fields of a plugin source, in libsinsp's order.
pub const GENERIC_FIELDS: [GenericInfo; 18] = [
    g(
        Generic::Num,
        "evt.num",
        FieldType::U64,
        PrintFormat::Dec,
        "event number.",
    ),
    g(
        Generic::Time,
        "evt.time",
        FieldType::Str,
        PrintFormat::Na,
        "event timestamp as a time string that includes the nanosecond part.",
    ),
    g(
        Generic::TimeS,
        "evt.time.s",
        FieldType::Str,
        PrintFormat::Na,
        "event timestamp as a time string with no nanoseconds.",
    ),
    g(
        Generic::TimeIso8601,
        "evt.time.iso8601",
        FieldType::Str,
        PrintFormat::Na,
        "event timestamp in ISO 8601 format, including nanoseconds and time zone offset (in UTC).",
    ),
    g(
        Generic::Datetime,
        "evt.datetime",
        FieldType::Str,
        PrintFormat::Na,
        "event timestamp as a time string that includes the date.",
    ),
    g(
        Generic::DatetimeS,
        "evt.datetime.s",
        FieldType::Str,
        PrintFormat::Na,
        "event timestamp as a datetime string with no nanoseconds.",
    ),
    g(
        Generic::RawTime,
        "evt.rawtime",
        FieldType::AbsTime,
        PrintFormat::Dec,
        "absolute event timestamp, i.e. nanoseconds from epoch.",
    ),
    g(
        Generic::RawTimeS,
        "evt.rawtime.s",
        FieldType::AbsTime,
        PrintFormat::Dec,
        "integer part of the event timestamp (e.g. seconds since epoch).",
    ),
    g(
        Generic::RawTimeNs,
        "evt.rawtime.ns",
        FieldType::AbsTime,
        PrintFormat::Padded9,
        "fractional part of the absolute event timestamp.",
    ),
    g(
        Generic::RelTime,
        "evt.reltime",
        FieldType::RelTime,
        PrintFormat::Padded9,
        "number of nanoseconds from the beginning of the capture.",
    ),
    g(
        Generic::RelTimeS,
        "evt.reltime.s",
        FieldType::RelTime,
        PrintFormat::Dec,
        "number of seconds from the beginning of the capture.",
    ),
    g(
        Generic::RelTimeNs,
        "evt.reltime.ns",
        FieldType::RelTime,
        PrintFormat::Padded9,
        "fractional part (in ns) of the time from the beginning of the capture.",
    ),
    g(
        Generic::PluginName,
        "evt.pluginname",
        FieldType::Str,
        PrintFormat::Na,
        "if the event comes from a plugin-defined event source, the name of the plugin that generated it.",
    ),
    g(
        Generic::PluginInfo,
        "evt.plugininfo",
        FieldType::Str,
        PrintFormat::Na,
        "if the event comes from a plugin-defined event source, a summary of the event as formatted by the plugin (for k8s_audit: the event JSON).",
    ),
    g(
        Generic::Source,
        "evt.source",
        FieldType::Str,
        PrintFormat::Na,
        "the name of the source that produced the event.",
    ),
    g(
        Generic::IsAsync,
        "evt.is_async",
        FieldType::Bool,
        PrintFormat::Na,
        "'true' for asynchronous events, 'false' otherwise.",
    ),
    g(
        Generic::AsyncType,
        "evt.asynctype",
        FieldType::Str,
        PrintFormat::Na,
        "If the event is asynchronous, the type of the event (e.g. 'container').",
    ),
    g(
        Generic::Hostname,
        "evt.hostname",
        FieldType::Str,
        PrintFormat::Na,
        "The hostname of the underlying host.",
    ),
];

/// A field's argument, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedArg {
    /// None given.
    None,
    /// `[key]`.
    Key(String),
    /// `[N]`.
    Index(u64),
}

impl OwnedArg {
    fn as_arg(&self) -> Arg<'_> {
        match self {
            OwnedArg::None => Arg::None,
            OwnedArg::Key(k) => Arg::Key(k.as_bytes()),
            OwnedArg::Index(i) => Arg::Index(*i),
        }
    }
}

/// Where a resolved field's values come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A generic `evt.*` field.
    Generic(Generic, PrintFormat),
    /// A field of [`crate::fields::FIELDS`].
    Table(FieldId),
    /// `json.rawtime`/`jevt.rawtime`: the event time as decimal text, produced without the
    /// table's per-event string allocation.
    RawTimeText,
}

/// A field name resolved against the filter factory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedField {
    /// Where values come from.
    pub source: Source,
    /// The field name without its argument.
    pub name: &'static str,
    /// The argument.
    pub arg: OwnedArg,
    /// The value type.
    pub ty: FieldType,
    /// Whether it is a list field.
    pub list: bool,
}

/// Per-event facts the generic fields read.
#[derive(Debug, Clone, Copy)]
pub struct EventMeta<'a> {
    /// The event number in the stream.
    pub num: u64,
    /// The first event's time (for `evt.reltime`).
    pub first_ts: u64,
    /// The event source name.
    pub source: &'a str,
    /// The host name.
    pub hostname: &'a str,
    /// The name of the plugin that produced the event.
    pub plugin_name: &'a str,
}

/// A typed extracted value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue<'a> {
    /// A string (NUL-truncated, as Falco sees C strings).
    Str(Cow<'a, [u8]>),
    /// A non-empty list of strings.
    StrList(Vec<Cow<'a, [u8]>>),
    /// A string that is the decimal form of a number (`jevt.rawtime`), kept as the number
    /// so that extracting it allocates nothing; see [`FieldValue::decimal`].
    DecStr(u64),
    /// A number.
    Num(u64),
    /// A boolean.
    Bool(bool),
}

pub use crate::fields::decimal;

impl FieldValue<'_> {
    /// A `DecStr` as an owned string value (for the rare paths that need bytes that live).
    pub fn materialize(self) -> Self {
        match self {
            FieldValue::DecStr(n) => FieldValue::Str(Cow::Owned(n.to_string().into_bytes())),
            other => other,
        }
    }
}

/// Cuts a string at its first NUL byte: plugin strings reach Falco as C strings.
pub fn c_str(v: Cow<'_, [u8]>) -> Cow<'_, [u8]> {
    match memchr::memchr(0, &v) {
        None => v,
        Some(n) => match v {
            Cow::Borrowed(b) => Cow::Borrowed(&b[..n]),
            Cow::Owned(mut o) => {
                o.truncate(n);
                Cow::Owned(o)
            }
        },
    }
}

impl ResolvedField {
    /// Extracts the field; `None` when it has no value (or extraction failed: Falco treats
    /// both alike).
    pub fn extract<'a>(&self, ev: &EventView<'a>, meta: &EventMeta<'_>) -> Option<FieldValue<'a>> {
        match self.source {
            Source::Table(id) => match fields::extract(ev, id, self.arg.as_arg()) {
                Ok(Some(Value::One(v))) => Some(FieldValue::Str(c_str(v))),
                Ok(Some(Value::List(vs))) => {
                    if vs.is_empty() {
                        None
                    } else {
                        Some(FieldValue::StrList(vs.into_iter().map(c_str).collect()))
                    }
                }
                Ok(None) | Err(_) => None,
            },
            Source::Generic(gf, _) => generic_value(gf, ev, meta),
            Source::RawTimeText => Some(FieldValue::DecStr(ev.time_ns())),
        }
    }

    /// The name with its argument, as Falco prints it in `output_fields` keys.
    pub fn display_name(&self) -> String {
        match &self.arg {
            OwnedArg::None => self.name.to_string(),
            OwnedArg::Key(k) => format!("{}[{k}]", self.name),
            OwnedArg::Index(i) => format!("{}[{i}]", self.name),
        }
    }
}

fn owned(s: String) -> Option<FieldValue<'static>> {
    Some(FieldValue::Str(Cow::Owned(s.into_bytes())))
}

fn generic_value<'a>(
    f: Generic,
    ev: &EventView<'a>,
    meta: &EventMeta<'_>,
) -> Option<FieldValue<'a>> {
    let ts = ev.time_ns();
    const S: u64 = 1_000_000_000;
    let rel = ts.saturating_sub(meta.first_ts);
    match f {
        Generic::Num => Some(FieldValue::Num(meta.num)),
        Generic::Time => owned(ts_to_string(ts, false, true)),
        Generic::TimeS => owned(ts_to_string(ts, false, false)),
        Generic::TimeIso8601 => owned(ts_to_iso_8601(ts)),
        Generic::Datetime => owned(ts_to_string(ts, true, true)),
        Generic::DatetimeS => owned(ts_to_string(ts, true, false)),
        Generic::RawTime => Some(FieldValue::Num(ts)),
        Generic::RawTimeS => Some(FieldValue::Num(ts / S)),
        Generic::RawTimeNs => Some(FieldValue::Num(ts % S)),
        Generic::RelTime => Some(FieldValue::Num(rel)),
        Generic::RelTimeS => Some(FieldValue::Num(rel / S)),
        Generic::RelTimeNs => Some(FieldValue::Num(rel % S)),
        Generic::PluginName => Some(FieldValue::Str(c_str(Cow::Owned(
            meta.plugin_name.as_bytes().to_vec(),
        )))),
        Generic::PluginInfo => Some(FieldValue::Str(c_str(Cow::Borrowed(ev.payload())))),
        Generic::Source => Some(FieldValue::Str(Cow::Owned(meta.source.as_bytes().to_vec()))),
        Generic::IsAsync => Some(FieldValue::Bool(false)),
        Generic::AsyncType => None,
        Generic::Hostname => Some(FieldValue::Str(Cow::Owned(
            meta.hostname.as_bytes().to_vec(),
        ))),
    }
}

/// libsinsp `ts_to_string`, in UTC (Falco uses the local time zone; containers run in UTC).
pub fn ts_to_string(ts: u64, date: bool, ns: bool) -> String {
    let mut out = String::with_capacity(32);
    push_ts_to_string(&mut out, ts, date, ns);
    out
}

/// [`ts_to_string`] appended to `out`, without formatting machinery: every alert's
/// output starts with it.
pub fn push_ts_to_string(out: &mut String, ts: u64, date: bool, ns: bool) {
    let sec = ts / 1_000_000_000;
    if date {
        push_date(out, sec);
        out.push(' ');
    }
    push_clock(out, sec);
    if ns {
        out.push('.');
        push_digits(out, ts % 1_000_000_000, 9);
    }
}

/// libsinsp `ts_to_iso_8601`: `YYYY-MM-DDTHH:MM:SS.nnnnnnnnn+0000`.
pub fn ts_to_iso_8601(ts: u64) -> String {
    let mut s = format_rfc3339_nanos(ts);
    s.pop();
    s.push_str("+0000");
    s
}

/// libsinsp's `parse_field_name` for one filtercheck class: the length of the longest field
/// name that prefixes `s`, with the field.
fn longest_prefix<'f, T>(
    s: &str,
    fields: impl Iterator<Item = (&'static str, &'f T)>,
) -> Option<(usize, &'f T)> {
    let mut best: Option<(usize, &'f T)> = None;
    for (name, f) in fields {
        if s.starts_with(name) && best.is_none_or(|(len, _)| name.len() > len) {
            best = Some((name.len(), f));
        }
    }
    best
}

/// A plugin class's `parse_field_name`: answers the parsed length (or `None` for "not
/// mine") and the parsed argument.
fn parse_plugin_field(
    full: &str,
    provider: Provider,
) -> Result<Option<(usize, FieldId, OwnedArg)>, String> {
    let table = fields::FIELDS
        .iter()
        .enumerate()
        .filter(|(_, f)| f.provider == provider)
        .map(|(i, f)| (f.name, i));
    let candidates: Vec<(&'static str, usize)> = table.collect();
    let Some((res, &idx)) = longest_prefix(full, candidates.iter().map(|(n, i)| (*n, i))) else {
        return Ok(None);
    };
    let info = fields::FIELDS[idx];
    let fname = info.name;
    let val = full.split(' ').next().unwrap_or("").trim();
    let mut arg = OwnedArg::None;
    let mut present = false;
    let mut parsed = res;
    if let Some(arg_pos) = val.find('[') {
        if arg_pos != res {
            return Ok(None);
        }
        let argstart = arg_pos + 1;
        if argstart >= val.len() {
            return Err(format!(
                "filter '{val}': {fname} terminates with incomplete argument brackets"
            ));
        }
        let rest = &val[argstart..];
        let Some(arg_len) = rest.find(']') else {
            return Err(format!(
                "filter '{val}': {fname} has unbalanced argument brackets"
            ));
        };
        let argstr = &rest[..arg_len];
        present = true;
        match info.arg {
            ArgKind::None => {
                return Err(format!(
                    "filter '{val}': {fname} does not allow nor require an argument but one is provided: {argstr}"
                ));
            }
            ArgKind::OptionalIndex => arg = OwnedArg::Index(parse_index(val, fname, argstr)?),
            ArgKind::RequiredKey => arg = OwnedArg::Key(argstr.to_string()),
        }
        parsed = arg_pos + arg_len + 2;
    }
    if !present && info.arg == ArgKind::RequiredKey {
        return Err(format!(
            "filter '{val}': {fname} requires an argument but none provided"
        ));
    }
    Ok(Some((parsed, FieldId(idx), arg)))
}

/// libsinsp `extract_arg_index` for a field whose index is its only argument kind.
fn parse_index(val: &str, fname: &str, argstr: &str) -> Result<u64, String> {
    let mut message = "";
    let mut valid = true;
    if argstr.is_empty() || (argstr.len() > 1 && argstr.starts_with('0')) {
        valid = false;
        message = " has an invalid index argument starting with 0: ";
    }
    if !argstr.bytes().all(|b| b.is_ascii_digit()) {
        valid = false;
        message = " has an invalid index argument not composed only by digits: ";
    }
    if valid {
        match argstr.parse::<u64>() {
            Ok(i) => return Ok(i),
            Err(_) => message = " has an invalid index argument not representable on 64 bit: ",
        }
    }
    Err(format!("filter {val} {fname}{message}{argstr}"))
}

/// Resolves a field name (with its `[arg]`) as Falco's filter factory does for a
/// `k8s_audit` plugin source: `Ok(None)` is "nonexistent field".
pub fn resolve(full: &str) -> Result<Option<ResolvedField>, String> {
    // 1. The generic event class.
    if let Some((len, info)) = longest_prefix(full, GENERIC_FIELDS.iter().map(|g| (g.name, g))) {
        if len != full.len() {
            return Ok(None);
        }
        return Ok(Some(ResolvedField {
            source: Source::Generic(info.field, info.print),
            name: info.name,
            arg: OwnedArg::None,
            ty: info.ty,
            list: false,
        }));
    }
    // 2. Our plugin, 3. the json plugin.
    for provider in [Provider::Plugin, Provider::JsonPlugin] {
        if let Some((len, id, arg)) = parse_plugin_field(full, provider)? {
            if len != full.len() {
                return Ok(None);
            }
            let info = id.info();
            let rawtime = matches!(
                info.extractor,
                fields::Extractor::Json(fields::json::JsonField::RawTime)
            );
            return Ok(Some(ResolvedField {
                source: if rawtime {
                    Source::RawTimeText
                } else {
                    Source::Table(id)
                },
                name: info.name,
                arg,
                ty: FieldType::Str,
                list: info.list,
            }));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_libsinsp_does() {
        use crate::decode::time::civil_from_days;
        for ts in [
            0,
            1_704_164_645_123_456_000,
            951_782_400_000_000_001,
            u64::MAX,
        ] {
            let sec = ts / 1_000_000_000;
            let (y, m, d) = civil_from_days((sec / 86_400) as i64);
            let (h, mi, s) = (sec % 86_400 / 3600, sec % 3600 / 60, sec % 60);
            let ns = ts % 1_000_000_000;
            let date = format!("{y:04}-{m:02}-{d:02}");
            let clock = format!("{h:02}:{mi:02}:{s:02}");
            assert_eq!(format_rfc3339_nanos(ts), format!("{date}T{clock}.{ns:09}Z"));
            assert_eq!(
                ts_to_string(ts, true, true),
                format!("{date} {clock}.{ns:09}")
            );
            assert_eq!(ts_to_string(ts, true, false), format!("{date} {clock}"));
            assert_eq!(ts_to_string(ts, false, true), format!("{clock}.{ns:09}"));
            assert_eq!(ts_to_string(ts, false, false), clock);
        }
    }

    #[test]
    fn resolves_generic_and_table_fields() {
        let f = resolve("evt.time.iso8601").unwrap().unwrap();
        assert_eq!(f.name, "evt.time.iso8601");
        assert_eq!(f.ty, FieldType::Str);
        let f = resolve("ka.req.pod.containers.image.repository[1]")
            .unwrap()
            .unwrap();
        assert_eq!(f.name, "ka.req.pod.containers.image.repository");
        assert_eq!(f.arg, OwnedArg::Index(1));
        assert!(f.list);
        let f = resolve("jevt.value[/stage]").unwrap().unwrap();
        assert_eq!(f.arg, OwnedArg::Key("/stage".into()));
        assert_eq!(f.display_name(), "jevt.value[/stage]");
    }

    #[test]
    fn unknown_and_prefix_only_names_do_not_exist() {
        assert_eq!(resolve("evt.timex").unwrap(), None);
        assert_eq!(resolve("evt.type").unwrap(), None);
        assert_eq!(resolve("ka.user.namex").unwrap(), None);
        assert_eq!(resolve("proc.name").unwrap(), None);
        assert_eq!(resolve("evt.num[1]").unwrap(), None);
    }

    #[test]
    fn argument_errors_use_libsinsp_wording() {
        assert_eq!(
            resolve("ka.uri.param").unwrap_err(),
            "filter 'ka.uri.param': ka.uri.param requires an argument but none provided"
        );
        assert_eq!(
            resolve("ka.verb[x]").unwrap_err(),
            "filter 'ka.verb[x]': ka.verb does not allow nor require an argument but one is provided: x"
        );
        assert_eq!(
            resolve("ka.req.pod.containers.image[01]").unwrap_err(),
            "filter ka.req.pod.containers.image[01] ka.req.pod.containers.image has an invalid index argument starting with 0: 01"
        );
        assert_eq!(
            resolve("ka.req.pod.containers.image[a]").unwrap_err(),
            "filter ka.req.pod.containers.image[a] ka.req.pod.containers.image has an invalid index argument not composed only by digits: a"
        );
        assert_eq!(
            resolve("ka.uri.param[a").unwrap_err(),
            "filter 'ka.uri.param[a': ka.uri.param has unbalanced argument brackets"
        );
    }

    #[test]
    fn time_renderings() {
        // 2024-01-02T03:04:05.123456000Z
        let ts = 1_704_164_645_123_456_000;
        assert_eq!(format_rfc3339_nanos(ts), "2024-01-02T03:04:05.123456000Z");
        assert_eq!(ts_to_string(ts, false, true), "03:04:05.123456000");
        assert_eq!(ts_to_string(ts, true, false), "2024-01-02 03:04:05");
        assert_eq!(ts_to_iso_8601(ts), "2024-01-02T03:04:05.123456000+0000");
    }

    #[test]
    fn generic_values() {
        let payload = br#"{"auditID":"a"}"#;
        let view = EventView::new(payload, 5_000_000_007);
        let meta = EventMeta {
            num: 3,
            first_ts: 1_000_000_000,
            source: "k8s_audit",
            hostname: "h",
            plugin_name: "k8saudit-eks",
        };
        let ex = |n: &str| resolve(n).unwrap().unwrap().extract(&view, &meta);
        assert_eq!(ex("evt.num"), Some(FieldValue::Num(3)));
        assert_eq!(ex("evt.rawtime.s"), Some(FieldValue::Num(5)));
        assert_eq!(ex("evt.reltime"), Some(FieldValue::Num(4_000_000_007)));
        assert_eq!(ex("evt.is_async"), Some(FieldValue::Bool(false)));
        assert_eq!(ex("evt.asynctype"), None);
        assert_eq!(
            ex("evt.plugininfo"),
            Some(FieldValue::Str(Cow::Borrowed(&payload[..])))
        );
        assert_eq!(
            ex("ka.auditid"),
            Some(FieldValue::Str(Cow::Borrowed(&b"a"[..])))
        );
    }
}
