//! The Falco plugin: a thin layer that hands the library's work to Falco.
//!
//! Identity: name `k8saudit-eks`, id 9, a `0.x` version at or above 0.12.0, event source
//! `k8s_audit`. Falco matches `required_plugin_versions` by the name a plugin reports, so
//! these are what let the unmodified upstream `k8s_audit_rules.yaml` load with this plugin
//! in place of Falco's own EKS plugin (which it replaces: the two export the same fields
//! and cannot be loaded together).
//!
//! Rules for this layer:
//! * every entry point runs inside [`guard`]: a panic becomes an error return, never an
//!   unwind into Falco's C++ frames;
//! * nothing starts in `new` (Falco also initialises plugins just to validate rules);
//!   files are opened in `open`;
//! * a batch is never returned empty (Falco treats that as fatal): no events means
//!   `Timeout` or `Eof`;
//! * only this module imports `falco_plugin`.

use std::alloc::Layout;
use std::borrow::Cow;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use bumpalo::Bump;
use falco_plugin::anyhow::{Error, anyhow};
use falco_plugin::api::{ss_plugin_extract_field, ss_plugin_extract_value_offsets};
use falco_plugin::base::{Json, Metric, MetricLabel, MetricType, MetricValue, Plugin};
use falco_plugin::event::PluginEvent;
use falco_plugin::event::events::{AnyEventPayload, Event, RawEvent};
use falco_plugin::extract::{ExtractFieldInfo, ExtractPlugin};
use falco_plugin::source::{
    EventBatch, EventInput, OpenParam, SourcePlugin, SourcePluginInstance, serialize_open_params,
};
use falco_plugin::tables::{LazyTableReader, TablesInput};
use falco_plugin::{FailureReason, extract_plugin, plugin, source_plugin};

use crate::decode::{DecodeErrorKind, DecodeStats, InputDecoder, read_path};
use crate::event::{EventIndex, EventView};
use crate::fields::{Arg, ArgKind, FieldId, FieldInfo, extract};
use crate::sources::metrics::Metrics as SourceMetrics;
use crate::sources::{SourceSpec, parse_open_params};

pub mod config;
mod fields;
mod handed;
mod live;

use handed::Handed;
use live::LiveInstance;

use config::{InitConfig, PluginConfig};

/// Payload bytes after which a batch is handed over even if `max_batch_events` is not
/// reached, so one batch stays a bounded amount of memory.
const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;
/// Decode errors after which `next_batch` yields (with `Timeout`) even without events,
/// so a file of garbage cannot hold Falco's event loop for long.
const MAX_ERRORS_PER_BATCH: usize = 10_000;

/// Runs a plugin entry point, turning a panic into an error.
fn guard<T>(entry_point: &str, body: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| {
        let text = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic payload".to_string());
        tracing::error!(entry_point, "Recovered from a panic: {text}");
        Err(anyhow!(
            "internal error in {entry_point} (recovered panic: {text})"
        ))
    })
}

/// Reports panics through the plugin's log (Falco's log) instead of raw stderr. The hook
/// belongs to this shared library's own copy of std, so Falco and other plugins are not
/// affected.
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let location = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()));
            tracing::error!(
                location = location.as_deref().unwrap_or("unknown"),
                "Panic in the eksaudit plugin: {info}"
            );
        }));
    });
}

/// A C string of `bytes`, cut at the first NUL as C would read it.
fn c_string(bytes: &[u8]) -> CString {
    // One scan for NUL in the common case (none): `CString::new` makes it.
    CString::new(bytes).unwrap_or_else(|nul| {
        let end = nul.nul_position();
        let mut text = nul.into_vec();
        text.truncate(end);
        CString::new(text).unwrap_or_default()
    })
}

/// The last event whose payload was parsed for extraction. Falco asks for one field per
/// call, so the parse (the event's parameters, validation and index) is reused across
/// calls.
///
/// A payload that is already compact JSON (every event this plugin produces) is read in
/// place, in the event Falco hands over, on every call: only its index is kept, and the
/// cache hits only for the same event number and the same raw parameters (address and
/// length). Anything else is compacted once into `payload`.
#[derive(Debug, Default)]
struct ExtractCache {
    event_number: usize,
    /// Address and length of the raw event parameters the cache was built from.
    params: (usize, usize),
    /// Where the event data sits within those parameters (start, length).
    data: (usize, usize),
    /// Whether `payload` holds a compacted copy (else the event data is read in place).
    copied: bool,
    payload: Vec<u8>,
    index: EventIndex,
    time_ns: u64,
    /// Root members recorded while validating (reused buffer).
    members: Vec<crate::json::Member>,
}

impl ExtractCache {
    /// The event data of Falco's event `number` with raw parameters `params`, when the
    /// cache holds that event (never for number 0, which Falco gives no event).
    #[inline]
    fn data_of<'a>(&self, params: &'a [u8], number: usize) -> Option<&'a [u8]> {
        let address = (params.as_ptr() as usize, params.len());
        if number == 0 || self.event_number != number || self.params != address {
            return None;
        }
        let (start, len) = self.data;
        params.get(start..start.checked_add(len)?)
    }
}

/// Debug-build hook to prove the panic guard works through the C ABI: the open params
/// `eksaudit-test-panic://<entry point>[@<open params>]` make that entry point panic
/// (after opening `<open params>`, if given). Inert in release builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PanicPoint {
    Open,
    NextBatch,
    Extract,
    /// The live source's async task (Kinesis, S3).
    SourceTask,
}

fn panic_point(params: &str) -> Option<(PanicPoint, Option<&str>)> {
    if !cfg!(debug_assertions) {
        return None;
    }
    let rest = params.strip_prefix("eksaudit-test-panic://")?;
    let (point, inner) = match rest.split_once('@') {
        Some((point, inner)) => (point, Some(inner)),
        None => (rest, None),
    };
    let point = match point {
        "open" => PanicPoint::Open,
        "next_batch" => PanicPoint::NextBatch,
        "extract" => PanicPoint::Extract,
        "source_task" => PanicPoint::SourceTask,
        _ => return None,
    };
    Some((point, inner))
}

/// The plugin.
#[derive(Debug)]
pub struct K8sAuditEks {
    config: PluginConfig,
    /// Counters of closed instances plus the open one, as of its last batch.
    closed_stats: DecodeStats,
    open_stats: DecodeStats,
    cache: ExtractCache,
    /// The last batch's events, so the extractor need not validate them again.
    handed: Handed,
    open_params_buf: CString,
    panic_at: Option<PanicPoint>,
    /// Counters of the open live source (Kinesis), if any.
    source_metrics: Option<std::sync::Arc<SourceMetrics>>,
}

impl Plugin for K8sAuditEks {
    const NAME: &'static CStr = c"k8saudit-eks";
    // The package version: 0.x (>= 0.12.0) so upstream rules' requirement on k8saudit-eks
    // holds, and the same version `eksaudit rules validate` checks requirements against.
    const PLUGIN_VERSION: &'static CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(version) => version,
            Err(_) => panic!("the package version contains a NUL byte"),
        };
    const DESCRIPTION: &'static CStr =
        c"Amazon EKS audit logs for Falco (eksaudit): k8s_audit events with Falco k8saudit's ka.* fields and EKS identity fields";
    const CONTACT: &'static CStr = c"https://github.com/eksaudit/eksaudit";
    type ConfigType = Json<InitConfig>;

    fn new(
        _input: Option<&TablesInput>,
        Json(InitConfig(config)): Self::ConfigType,
    ) -> Result<Self, Error> {
        install_panic_hook();
        // The SDK logs every request at debug/trace level; Falco's log gets info and up
        // (falco_plugin lets debug builds through at trace).
        log::set_max_level(log::max_level().min(log::LevelFilter::Info));
        guard("init", || {
            config.validate().map_err(Error::msg)?;
            Ok(Self {
                config,
                closed_stats: DecodeStats::default(),
                open_stats: DecodeStats::default(),
                cache: ExtractCache::default(),
                handed: Handed::default(),
                open_params_buf: CString::default(),
                panic_at: None,
                source_metrics: None,
            })
        })
    }

    fn get_metrics(&mut self) -> impl IntoIterator<Item = Metric> {
        let total = add_stats(&self.closed_stats, &self.open_stats);
        let metric = |name: &'static CStr, value: u64| {
            Metric::new(
                MetricLabel::new(name, MetricType::Monotonic),
                MetricValue::U64(value),
            )
        };
        let mut metrics = vec![
            metric(c"events", total.events),
            metric(c"event_bytes", total.event_bytes),
            metric(c"input_bytes", total.input_bytes),
            metric(c"control_messages", total.control_messages),
            metric(c"non_audit_log_events", total.non_audit_log_events),
            metric(c"errors", total.total_errors()),
        ];
        metrics.extend(
            DecodeErrorKind::ALL
                .into_iter()
                .map(|kind| metric(error_metric_name(kind), total.errors(kind))),
        );
        if let Some(source) = &self.source_metrics {
            metrics.extend(live::source_metrics(source));
        }
        metrics
    }
}

fn error_metric_name(kind: DecodeErrorKind) -> &'static CStr {
    match kind {
        DecodeErrorKind::Io => c"errors_io",
        DecodeErrorKind::Gzip => c"errors_gzip",
        DecodeErrorKind::InvalidJson => c"errors_invalid_json",
        DecodeErrorKind::DocumentTooLarge => c"errors_document_too_large",
        DecodeErrorKind::NotAuditEvent => c"errors_not_audit_event",
        DecodeErrorKind::BadEnvelope => c"errors_bad_envelope",
        DecodeErrorKind::Truncated => c"errors_truncated",
        DecodeErrorKind::MissingTimestamp => c"errors_missing_timestamp",
        DecodeErrorKind::BadTimestamp => c"errors_bad_timestamp",
        DecodeErrorKind::EventTooLarge => c"errors_event_too_large",
    }
}

fn add_stats(a: &DecodeStats, b: &DecodeStats) -> DecodeStats {
    let mut sum = a.clone();
    sum.add(b);
    sum
}

/// An open capture: files being replayed, or a live source (Kinesis).
#[derive(Debug)]
pub enum Instance {
    /// `file://`: replayed once, then EOF.
    Replay(Box<Replay>),
    /// `kinesis://`: read until closed.
    Live(Box<LiveInstance>),
}

/// A replay of files.
#[derive(Debug)]
pub struct Replay {
    decoder: InputDecoder<'static>,
    panic_at: Option<PanicPoint>,
}

impl SourcePluginInstance for Instance {
    type Plugin = K8sAuditEks;

    fn next_batch(
        &mut self,
        plugin: &mut K8sAuditEks,
        batch: &mut EventBatch,
    ) -> Result<(), Error> {
        guard("next_batch", || match self {
            Instance::Replay(replay) => replay.next_batch(plugin, batch),
            Instance::Live(live) => {
                if plugin.panic_at == Some(PanicPoint::NextBatch) {
                    panic!("injected panic in next_batch");
                }
                plugin.handed.clear();
                let (added, stats) = live.next_batch(
                    batch,
                    plugin.config.max_batch_events as usize,
                    &mut plugin.handed,
                )?;
                plugin.open_stats = stats;
                match (added, live.finished()) {
                    (0, true) => Err(anyhow!("end of input").context(FailureReason::Eof)),
                    (0, false) => Err(anyhow!("no event yet").context(FailureReason::Timeout)),
                    _ => Ok(()),
                }
            }
        })
    }
}

impl Replay {
    fn next_batch(
        &mut self,
        plugin: &mut K8sAuditEks,
        batch: &mut EventBatch,
    ) -> Result<(), Error> {
        if self.panic_at == Some(PanicPoint::NextBatch) {
            panic!("injected panic in next_batch");
        }
        plugin.handed.clear();
        let (added, more) = self.fill(
            batch,
            plugin.config.max_batch_events as usize,
            &mut plugin.handed,
        )?;
        plugin.open_stats = self.decoder.stats();
        match (added, more) {
            (0, true) => Err(anyhow!("no event yet").context(FailureReason::Timeout)),
            (0, false) => Err(anyhow!("end of input").context(FailureReason::Eof)),
            _ => Ok(()),
        }
    }

    /// Adds up to `max_events` events; returns how many, and whether input remains.
    fn fill(
        &mut self,
        batch: &mut EventBatch,
        max_events: usize,
        handed: &mut Handed,
    ) -> Result<(usize, bool), Error> {
        let (mut added, mut bytes, mut errors) = (0, 0, 0);
        while added < max_events && bytes < MAX_BATCH_BYTES && errors < MAX_ERRORS_PER_BATCH {
            match self.decoder.next() {
                Some(Ok(decoded)) => {
                    let payload = decoded.event.payload();
                    add_event(batch, payload, decoded.event.time_ns())?;
                    added += 1;
                    bytes += payload.len();
                    handed.push(decoded.event);
                }
                // Already counted and logged by the decoder.
                Some(Err(_)) => errors += 1,
                None => return Ok((added, false)),
            }
        }
        Ok((added, true))
    }
}

/// Adds one event to Falco's batch, with its time.
fn add_event(batch: &mut EventBatch, payload: &[u8], time_ns: u64) -> Result<(), Error> {
    let mut event = Instance::plugin_event(payload);
    event.metadata.ts = time_ns;
    Ok(batch.add(event)?)
}

type PluginEventOf<'a> = Event<PluginEvent<&'a [u8]>>;

/// An event as the extractor receives it: Falco's raw event, its parameters not parsed
/// yet. Falco asks for one field per call, dozens of calls per event, and the SDK
/// would parse the plugin event's parameters on every one; [`K8sAuditEks::prepare`]
/// parses them (with the SDK's own parser) once per event instead. Its event types and
/// sources are the plugin event's, so Falco asks for the same events as before.
#[derive(Debug)]
pub struct ExtractEvent<'a> {
    raw: RawEvent<'a>,
}

impl AnyEventPayload for ExtractEvent<'_> {
    const SOURCES: &'static [Option<&'static str>] =
        <PluginEventOf<'static> as AnyEventPayload>::SOURCES;
    const EVENT_TYPES: &'static [u16] = <PluginEventOf<'static> as AnyEventPayload>::EVENT_TYPES;
}

impl<'a> From<&RawEvent<'a>> for ExtractEvent<'a> {
    fn from(raw: &RawEvent<'a>) -> Self {
        ExtractEvent { raw: raw.into() }
    }
}

impl SourcePlugin for K8sAuditEks {
    type Instance = Instance;
    const EVENT_SOURCE: &'static CStr = c"k8s_audit";
    const PLUGIN_ID: u32 = 9;
    type Event<'a> = PluginEventOf<'a>;

    fn list_open_params(&mut self) -> Result<&CStr, Error> {
        let params = [OpenParam::Item {
            value: "file:///var/log/eks-audit/",
            desc: "Replay EKS audit logs from a file or directory (JSON lines, EventList, CloudWatch envelopes, gzip)",
        }];
        serialize_open_params(&params, &mut self.open_params_buf)
    }

    fn open(&mut self, params: Option<&str>) -> Result<Instance, Error> {
        guard("open", || {
            let mut params = params.unwrap_or("");
            let mut panic_at = None;
            if let Some((point, inner)) = panic_point(params) {
                if point == PanicPoint::Open {
                    panic!("injected panic in open");
                }
                panic_at = Some(point);
                params = inner.unwrap_or("");
            }
            self.panic_at = panic_at;
            let instance = if panic_at.is_some() && params.is_empty() {
                Instance::Replay(Box::new(Replay {
                    decoder: InputDecoder::new(Vec::new(), self.config.decode_options()),
                    panic_at,
                }))
            } else {
                open_source(params, &self.config, panic_at)?
            };
            self.closed_stats = add_stats(&self.closed_stats, &self.open_stats);
            self.open_stats = DecodeStats::default();
            self.source_metrics = match &instance {
                Instance::Live(live) => Some(live.metrics()),
                Instance::Replay(_) => None,
            };
            Ok(instance)
        })
    }

    fn close(&mut self, instance: &mut Instance) {
        let _ = guard("close", || {
            match instance {
                Instance::Replay(replay) => self.open_stats = replay.decoder.stats(),
                Instance::Live(live) => self.open_stats = live.close(),
            }
            Ok(())
        });
    }

    fn event_to_string(&mut self, event: &EventInput<PluginEventOf<'_>>) -> Result<CString, Error> {
        guard("event_to_string", || {
            Ok(c_string(event.event()?.params.event_data))
        })
    }
}

fn open_source(
    params: &str,
    config: &PluginConfig,
    panic_at: Option<PanicPoint>,
) -> Result<Instance, Error> {
    match parse_open_params(params)? {
        SourceSpec::File(path) => {
            let decoder = read_path(&path, &config.decode_options())
                .map_err(|e| anyhow!("cannot open {}: {e}", path.display()))?;
            tracing::info!(path = %path.display(), "Replaying audit logs.");
            Ok(Instance::Replay(Box::new(Replay { decoder, panic_at })))
        }
        spec @ (SourceSpec::Kinesis(_) | SourceSpec::S3(_)) => {
            let inject = panic_at == Some(PanicPoint::SourceTask);
            Ok(Instance::Live(Box::new(LiveInstance::open(
                spec, config, inject,
            )?)))
        }
        SourceSpec::CloudWatch(mut spec) => {
            // k8saudit-eks's init_config, in seconds as its users expect, for what the
            // spec leaves unset.
            spec.poll_interval_secs
                .get_or_insert(config.polling_interval.clamp(1, 3600));
            spec.start
                .get_or_insert(crate::sources::CloudWatchStart::Ago(config.shift));
            let spec = SourceSpec::CloudWatch(spec);
            Ok(Instance::Live(Box::new(LiveInstance::open(
                spec, config, false,
            )?)))
        }
    }
}

impl K8sAuditEks {
    /// Makes the cache hold the index of the event `raw` (Falco's event `number`) and
    /// answers its data: kept from the previous call for the same event, taken from the
    /// batch this plugin handed over, or else built by one validating pass that records
    /// the root members (a compact payload is not copied).
    ///
    /// Falco asks for one field per call, dozens per event: the check for the event of
    /// the previous call is all that runs on most calls, so the rest is kept out of line.
    #[inline]
    fn prepare<'a>(&mut self, raw: &RawEvent<'a>, number: usize) -> Result<&'a [u8], Error> {
        match self.cache.data_of(raw.payload, number) {
            Some(data) => Ok(data),
            None => self.prepare_new(raw, number),
        }
    }

    /// [`Self::prepare`] for an event other than the previous call's.
    #[inline(never)]
    fn prepare_new<'a>(&mut self, raw: &RawEvent<'a>, number: usize) -> Result<&'a [u8], Error> {
        let params = raw.payload;
        // Invalidated first, so a failure below never leaves a stale hit behind.
        self.cache.event_number = 0;
        let data = raw
            .load::<PluginEvent<&[u8]>>()
            .map_err(|e| anyhow!("not a plugin event: {e}"))?
            .params
            .event_data;
        self.index(data)?;
        let cache = &mut self.cache;
        // The data is a slice of the parameters; kept as its place in them.
        let start = (data.as_ptr() as usize).wrapping_sub(params.as_ptr() as usize);
        cache.data = (start, data.len());
        cache.event_number = number;
        cache.params = (params.as_ptr() as usize, params.len());
        cache.time_ns = raw.metadata.ts;
        Ok(data)
    }

    /// Makes the cache hold the index of `data`: from the batch this plugin handed over,
    /// or else one validating pass that records the root members.
    fn index(&mut self, data: &[u8]) -> Result<(), Error> {
        let cache = &mut self.cache;
        if let Some(index) = self.handed.index_of(data) {
            // Byte for byte an event this plugin decoded: valid, compact, indexed.
            cache.copied = false;
            cache.index = index;
            return Ok(());
        }
        let mut members = std::mem::take(&mut cache.members);
        let compact = crate::json::compact_members(data, &mut members);
        let result = match compact {
            Ok(std::borrow::Cow::Borrowed(json)) => {
                // The compact value is `data` without surrounding whitespace.
                let start = json.as_ptr() as usize - data.as_ptr() as usize;
                cache.copied = start != 0 || json.len() != data.len();
                if cache.copied {
                    cache.payload.clear();
                    cache.payload.extend_from_slice(json);
                }
                cache.index = EventIndex::from_members(json, &members);
                Ok(())
            }
            Ok(std::borrow::Cow::Owned(json)) => {
                cache.copied = true;
                cache.index = EventIndex::build(&json);
                cache.payload = json;
                Ok(())
            }
            Err(e) => Err(anyhow!("event payload is not valid JSON: {e}")),
        };
        cache.members = members;
        result
    }

    /// The event `prepare` cached, as extraction reads it: in place in `data`, or the
    /// compacted copy.
    fn cached_view<'a>(&'a self, data: &'a [u8]) -> EventView<'a> {
        let cache = &self.cache;
        let payload = if cache.copied {
            &cache.payload[..]
        } else {
            data
        };
        EventView::with_index(payload, &cache.index, cache.time_ns)
    }
}

/// Serves one extraction request: the field's value, written into the SDK's per-call
/// `storage` as the C strings Falco reads (`res.str_`, `res_len`). Runs once per field
/// per event, so its errors are built out of line.
#[inline]
fn extract_request(
    view: &EventView<'_>,
    req: &mut ss_plugin_extract_field,
    storage: &Bump,
) -> Result<(), Error> {
    let id = req.field_id as usize;
    if id >= fields::EXTRACT_FIELDS.len() {
        return Err(unknown_field(id));
    }
    let field = FieldId(id);
    let info = field.info();
    let arg = given_arg(req);
    if !arg_fits(info.arg, &arg) {
        return Err(bad_arg(&arg, info));
    }
    match extract(view, field, arg) {
        Ok(None) => hand_over(req, &[], storage),
        Ok(Some(value)) => {
            let values = value.as_slice();
            // A scalar field's value is its last (and only) string.
            let values = match values.split_last() {
                Some((last, _)) if !info.list => std::slice::from_ref(last),
                _ => values,
            };
            hand_over(req, values, storage)
        }
        Err(e) => Err(e.into()),
    }
}

#[cold]
#[inline(never)]
fn unknown_field(id: usize) -> Error {
    anyhow!("field index {id} out of bounds")
}

/// The argument a request carries.
#[inline]
fn given_arg(req: &ss_plugin_extract_field) -> Arg<'_> {
    if req.arg_present == 0 {
        Arg::None
    } else if req.arg_key.is_null() {
        Arg::Index(req.arg_index)
    } else {
        // SAFETY: the plugin API passes a present key as a NUL-terminated string that
        // lives as long as the request.
        Arg::Key(unsafe { CStr::from_ptr(req.arg_key) }.to_bytes())
    }
}

/// Whether `arg` is of the kind the field declares (Falco checks it against the schema
/// first; [`bad_arg`] keeps a stray request an error, not a guess).
#[inline]
fn arg_fits(kind: ArgKind, arg: &Arg<'_>) -> bool {
    matches!(
        (kind, arg),
        (ArgKind::None, Arg::None)
            | (ArgKind::RequiredKey, Arg::Key(_))
            | (ArgKind::OptionalIndex, Arg::None | Arg::Index(_))
    )
}

/// Why a request's argument does not fit its field.
#[cold]
#[inline(never)]
fn bad_arg(arg: &Arg<'_>, info: &FieldInfo) -> Error {
    let given = match arg {
        Arg::None => "no argument".to_string(),
        Arg::Key(key) => format!("the argument [{}]", String::from_utf8_lossy(key)),
        Arg::Index(index) => format!("the argument [{index}]"),
    };
    let takes = match info.arg {
        ArgKind::None => "no argument",
        ArgKind::RequiredKey => "a key argument",
        ArgKind::OptionalIndex => "an optional index argument",
    };
    anyhow!("{}: {given} was given, the field takes {takes}", info.name)
}

/// Writes `values` as C strings into `storage`, one block for all of them, and points the
/// request at an array of their pointers. A value holding a NUL reads, as Falco reads C
/// strings, up to it; the bytes after it are written but never read, so nothing scans
/// for one. The SDK resets `storage` before each call; Falco copies the strings out
/// before the next one.
fn hand_over(
    req: &mut ss_plugin_extract_field,
    values: &[Cow<'_, [u8]>],
    storage: &Bump,
) -> Result<(), Error> {
    match values {
        [] => {
            req.res.str_ = std::ptr::null_mut();
            req.res_len = 0;
            return Ok(());
        }
        // Most fields have one value: no sizes to add up, nothing to iterate.
        [value] => {
            let pointer = storage.alloc(c_string_in(storage, value)?);
            req.res.str_ = pointer;
            req.res_len = 1;
            return Ok(());
        }
        _ => {}
    }
    // Every value and its NUL; a sum past `isize::MAX` cannot be laid out, and is an error.
    let size = values
        .iter()
        .try_fold(0usize, |sum, value| {
            sum.checked_add(value.len())?.checked_add(1)
        })
        .and_then(|size| Layout::array::<u8>(size).ok())
        .ok_or_else(|| anyhow!("{} values too large to hand over", values.len()))?;
    let mut at = storage.alloc_layout(size).as_ptr();
    let pointers = storage.alloc_slice_fill_with(values.len(), |i| {
        let value = &values[i];
        let start = at;
        // SAFETY: the block holds every value and its NUL, in order, so each value's
        // bytes and its NUL fall inside it, at the place after the previous value's.
        at = unsafe { write_c_string(start, value) };
        start.cast_const().cast::<c_char>()
    });
    req.res.str_ = pointers.as_mut_ptr();
    req.res_len = values.len() as u64;
    Ok(())
}

/// `value` and a NUL, written into `storage`; the start of that C string.
#[inline]
fn c_string_in(storage: &Bump, value: &[u8]) -> Result<*const c_char, Error> {
    let size = value
        .len()
        .checked_add(1)
        .and_then(|size| Layout::array::<u8>(size).ok())
        .ok_or_else(|| anyhow!("a value of {} bytes is too large to hand over", value.len()))?;
    let start = storage.alloc_layout(size).as_ptr();
    // SAFETY: the block just allocated holds the value's bytes and its NUL.
    unsafe { write_c_string(start, value) };
    Ok(start.cast_const().cast::<c_char>())
}

/// Writes `value` and a NUL at `dst`; answers the place just past the NUL.
///
/// # Safety
/// `dst` must be valid for writes of `value.len() + 1` bytes.
#[inline]
unsafe fn write_c_string(dst: *mut u8, value: &[u8]) -> *mut u8 {
    // SAFETY: the caller's guarantee.
    unsafe {
        std::ptr::copy_nonoverlapping(value.as_ptr(), dst, value.len());
        dst.add(value.len()).write(0);
        dst.add(value.len() + 1)
    }
}

impl ExtractPlugin for K8sAuditEks {
    type Event<'a> = ExtractEvent<'a>;
    type ExtractContext = ();
    const EXTRACT_FIELDS: &'static [ExtractFieldInfo<Self>] = fields::EXTRACT_FIELDS;

    /// Every request of a call served from one event parse, with the values written
    /// straight into the SDK's storage: the SDK's own loop would parse the event header
    /// and allocate an owned `CString` per value, per field (Falco asks for one field per
    /// call, so that was most of the plugin's cost over in-process extraction). Byte
    /// ranges (`offsets`) are not offered, as the SDK's extractors did not offer them.
    fn extract_fields<'a>(
        &'a mut self,
        event_input: &EventInput<'a, Self::Event<'a>>,
        _table_reader: &LazyTableReader,
        requests: &mut [ss_plugin_extract_field],
        _offsets: Option<&mut ss_plugin_extract_value_offsets>,
        storage: &'a Bump,
    ) -> Result<(), Error> {
        guard("extract_fields", || {
            if self.panic_at == Some(PanicPoint::Extract) {
                panic!("injected panic in extract");
            }
            let event = event_input.event()?;
            let data = self.prepare(&event.raw, event_input.event_number())?;
            let view = self.cached_view(data);
            requests
                .iter_mut()
                .try_for_each(|req| extract_request(&view, req, storage))
        })
    }
}

plugin!(K8sAuditEks);
source_plugin!(K8sAuditEks);
extract_plugin!(K8sAuditEks);

#[cfg(test)]
mod tests {
    use super::*;

    /// A plugin event carrying `payload` at time 7, as Falco's raw event bytes.
    fn raw_event_bytes(payload: &[u8]) -> Vec<u8> {
        use falco_plugin::event::events::EventToBytes;
        let mut event = Instance::plugin_event(payload);
        event.metadata.ts = 7;
        let mut bytes = Vec::new();
        event.write(&mut bytes).unwrap();
        bytes
    }

    fn plugin() -> K8sAuditEks {
        K8sAuditEks::new(None, Json(InitConfig(PluginConfig::default()))).unwrap()
    }

    #[test]
    fn the_extractor_asks_for_plugin_events_only() {
        assert_eq!(ExtractEvent::EVENT_TYPES, PluginEventOf::EVENT_TYPES);
        assert_eq!(ExtractEvent::EVENT_TYPES, &[322]);
        assert_eq!(
            ExtractEvent::event_sources(),
            PluginEventOf::event_sources()
        );
    }

    #[test]
    fn an_events_data_is_parsed_once_and_kept_for_its_next_calls() {
        let mut plugin = plugin();
        let get = br#"{"kind":"Event","verb":"get"}"#;
        let bytes = raw_event_bytes(get);
        let raw = RawEvent::from(&bytes).unwrap();
        assert_eq!(plugin.prepare(&raw, 1).unwrap(), get);
        assert_eq!(plugin.cache.time_ns, 7);
        assert_eq!(plugin.prepare(&raw, 1).unwrap(), get);
        // Another event under the same number (other bytes): read again, not the cache.
        let list = br#"{"kind":"Event","verb":"list"}"#;
        let other = raw_event_bytes(list);
        let raw = RawEvent::from(&other).unwrap();
        assert_eq!(plugin.prepare(&raw, 1).unwrap(), list);
    }

    #[test]
    fn an_event_of_another_type_is_an_error() {
        let mut bytes = raw_event_bytes(b"{}");
        // The header's event type (after the time, the thread id and the length).
        bytes[20..22].copy_from_slice(&1u16.to_ne_bytes());
        let raw = RawEvent::from(&bytes).unwrap();
        let err = plugin().prepare(&raw, 1).unwrap_err();
        assert!(err.to_string().starts_with("not a plugin event"), "{err}");
    }

    #[test]
    fn guard_turns_panics_into_errors() {
        let err = guard::<()>("test", || panic!("boom")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "internal error in test (recovered panic: boom)"
        );
        assert_eq!(guard("test", || Ok(5)).unwrap(), 5);
    }

    #[test]
    fn c_strings_stop_at_nul() {
        assert_eq!(c_string(b"ab\0cd").as_bytes(), b"ab");
        assert_eq!(c_string(b"abc").as_bytes(), b"abc");
    }

    fn request(key: Option<&CStr>, index: Option<u64>) -> ss_plugin_extract_field {
        ss_plugin_extract_field {
            res: falco_plugin::api::ss_plugin_extract_field__bindgen_ty_1 {
                u64_: std::ptr::null_mut(),
            },
            res_len: 0,
            field_id: 0,
            field: c"ka.verb".as_ptr(),
            arg_key: key.map_or(std::ptr::null(), CStr::as_ptr),
            arg_index: index.unwrap_or(0),
            arg_present: u32::from(key.is_some() || index.is_some()),
            ftype: 9,
            flist: 0,
        }
    }

    /// The strings a request was pointed at, as C reads them.
    fn handed_strings(req: &ss_plugin_extract_field) -> Vec<Vec<u8>> {
        (0..req.res_len as usize)
            .map(|i| {
                // SAFETY: `hand_over` wrote `res_len` pointers to NUL-terminated strings.
                unsafe { CStr::from_ptr(*req.res.str_.add(i)) }
                    .to_bytes()
                    .to_vec()
            })
            .collect()
    }

    #[test]
    fn values_are_handed_over_as_c_strings_read_up_to_a_nul() {
        let storage = Bump::new();
        let mut req = request(None, None);
        let values: Vec<Cow<'_, [u8]>> = vec![
            Cow::Borrowed(b"ab\0cd"),
            Cow::Owned(b"xyz".to_vec()),
            Cow::Borrowed(b""),
        ];
        hand_over(&mut req, &values, &storage).unwrap();
        assert_eq!(handed_strings(&req), [&b"ab"[..], b"xyz", b""]);
        for one in [&b"value"[..], b"", b"a\0b"] {
            hand_over(&mut req, &[Cow::Borrowed(one)], &storage).unwrap();
            let read = one.split(|&b| b == 0).next().unwrap();
            assert_eq!(handed_strings(&req), [read], "{one:?}");
        }
        hand_over(&mut req, &[], &storage).unwrap();
        assert_eq!(req.res_len, 0);
        // SAFETY: reading the pointer member of the union just written.
        assert!(unsafe { req.res.str_ }.is_null());
    }

    #[test]
    fn request_arguments_must_fit_the_field() {
        let none = request(None, None);
        let key = request(Some(c"command"), None);
        let index = request(None, Some(3));
        assert_eq!(given_arg(&none), Arg::None);
        assert_eq!(given_arg(&key), Arg::Key(b"command"));
        assert_eq!(given_arg(&index), Arg::Index(3));
        for (req, kind) in [
            (&none, ArgKind::None),
            (&key, ArgKind::RequiredKey),
            (&index, ArgKind::OptionalIndex),
            (&none, ArgKind::OptionalIndex),
        ] {
            assert!(arg_fits(kind, &given_arg(req)), "{kind:?}");
        }
        for (req, kind) in [
            (&key, ArgKind::None),
            (&index, ArgKind::None),
            (&none, ArgKind::RequiredKey),
            (&index, ArgKind::RequiredKey),
            (&key, ArgKind::OptionalIndex),
        ] {
            assert!(!arg_fits(kind, &given_arg(req)), "{kind:?}");
        }
        let verb = crate::fields::find("ka.verb").unwrap().info();
        assert_eq!(
            bad_arg(&given_arg(&key), verb).to_string(),
            "ka.verb: the argument [command] was given, the field takes no argument"
        );
        let uri_param = crate::fields::find("ka.uri.param").unwrap().info();
        assert_eq!(
            bad_arg(&given_arg(&index), uri_param).to_string(),
            "ka.uri.param: the argument [3] was given, the field takes a key argument"
        );
    }

    #[test]
    fn every_error_kind_has_its_metric() {
        let names: std::collections::HashSet<_> = DecodeErrorKind::ALL
            .iter()
            .map(|k| error_metric_name(*k))
            .collect();
        assert_eq!(names.len(), DecodeErrorKind::ALL.len());
        for kind in DecodeErrorKind::ALL {
            assert_eq!(
                error_metric_name(kind).to_str().unwrap(),
                format!("errors_{}", kind.label())
            );
        }
    }
}
