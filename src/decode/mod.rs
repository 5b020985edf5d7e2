//! Decoding: bytes in any supported format → [`AuditEvent`]s, with located errors.
//!
//! Formats are recognised by content, never by file name:
//!
//! * gzip (magic `1f 8b`), including concatenated members, which is what writing Kinesis
//!   record data back to back gives;
//! * CloudWatch Logs subscription envelopes (`{"messageType", "owner", "logGroup",
//!   "logStream", "logEvents": [{id, timestamp, message}]}`), as Kinesis delivers them;
//! * Kubernetes audit payloads: an `Event`, an `EventList`, a JSON array of them;
//! * any number of those documents per input: JSON lines, several per line, or one
//!   document spread over lines.
//!
//! Per-event problems never stop a stream: each is a [`DecodeError`] with a
//! [`DecodeErrorKind`], a [`Location`] (file:line, log event, list item) and the auditID
//! when it can be recovered; it is counted in [`DecodeStats`] and logged. Only I/O errors
//! end the current input.
//!
//! Framing follows Falco's k8saudit plugin: an `EventList` item that is bad is skipped
//! alone; `apiVersion` `audit.k8s.io/v1` and `v1beta1` are accepted (as is none, as
//! upstream does not look); anything else is "data not recognized as a k8s audit event".
//! One deliberate difference: upstream drops a whole JSON array when one element is not
//! an event; here only that element is dropped, so no good event is lost with it.

use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::event::AuditEvent;

mod audit;
mod cloudwatch;
mod inflate;
mod problem_log;
pub mod stream;
pub mod time;

pub use cloudwatch::LogEventOrigin;
pub use stream::{DocumentReader, Frame};

/// Upstream's default `maxEventSize` (256 KiB).
pub const DEFAULT_MAX_EVENT_SIZE: usize = 256 * 1024;
/// The largest `max_event_size` accepted (EKS really sends events of about 1 MiB).
pub const MAX_MAX_EVENT_SIZE: usize = 64 * 1024 * 1024;

/// How decoding behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Largest event payload (compact JSON, after annotations) delivered; larger events
    /// are dropped with an [`DecodeErrorKind::EventTooLarge`] error.
    pub max_event_size: usize,
    /// Largest single JSON document (an envelope, a list) read from a stream.
    pub max_document_size: usize,
    /// The AWS region events come from, recorded in each event's annotations.
    pub region: Option<String>,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self {
            max_event_size: DEFAULT_MAX_EVENT_SIZE,
            max_document_size: 64 * 1024 * 1024,
            region: None,
        }
    }
}

impl DecodeOptions {
    /// Options with a given event size limit (documents may be at least 4× as large).
    pub fn with_max_event_size(max_event_size: usize) -> Self {
        let default = Self::default();
        Self {
            max_event_size,
            max_document_size: default
                .max_document_size
                .max(max_event_size.saturating_mul(4)),
            region: None,
        }
    }
}

/// Log events a CloudWatch Logs subscription envelope holds at most (PutLogEvents'
/// batch limit).
pub const MAX_LOG_EVENTS_PER_ENVELOPE: usize = 10_000;

impl DecodeOptions {
    /// The most a Kinesis record may inflate to: as many events of the largest size as
    /// an envelope holds, and never more than one document. Past it the record is a gzip
    /// bomb, refused as corrupt before it costs more memory.
    pub fn max_inflated_record(&self) -> usize {
        self.max_event_size
            .saturating_mul(MAX_LOG_EVENTS_PER_ENVELOPE)
            .min(self.max_document_size)
    }
}

/// Where an event or an error came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The input: a file path, `-` for stdin, later a stream/shard.
    pub source: Arc<str>,
    /// 1-based line in the (decompressed) input where the document starts.
    pub line: Option<u64>,
    /// Index and id of the CloudWatch log event inside an envelope.
    pub log_event: Option<(usize, String)>,
    /// Index of the item inside an `EventList` or JSON array.
    pub item: Option<usize>,
}

impl Location {
    /// The start of an input.
    pub fn new(source: impl Into<Arc<str>>) -> Self {
        Self {
            source: source.into(),
            line: None,
            log_event: None,
            item: None,
        }
    }

    fn at_line(&self, line: u64) -> Self {
        Self {
            line: Some(line),
            ..self.clone()
        }
    }

    fn with_log_event(&self, index: usize, id: String) -> Self {
        Self {
            log_event: Some((index, id)),
            ..self.clone()
        }
    }

    fn with_item(&self, index: usize) -> Self {
        Self {
            item: Some(index),
            ..self.clone()
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some((index, id)) = &self.log_event {
            write!(f, " logEvents[{index}]")?;
            if !id.is_empty() {
                write!(f, " (id {id})")?;
            }
        }
        if let Some(item) = self.item {
            write!(f, " items[{item}]")?;
        }
        Ok(())
    }
}

/// One decoded event and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The event.
    pub event: AuditEvent,
    /// Its location.
    pub location: Location,
}

/// What kind of problem a [`DecodeError`] is; also its metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// Reading the input failed.
    Io,
    /// The gzip stream is corrupt.
    Gzip,
    /// A document or message is not valid JSON.
    InvalidJson,
    /// A document is larger than the reader accepts.
    DocumentTooLarge,
    /// Valid JSON that is not a Kubernetes audit event, list or array.
    NotAuditEvent,
    /// A CloudWatch subscription envelope that is malformed.
    BadEnvelope,
    /// A CloudWatch message that CloudWatch truncated (`[Truncated...]`).
    Truncated,
    /// An event without `stageTimestamp`.
    MissingTimestamp,
    /// An event whose `stageTimestamp` is not an RFC 3339 time.
    BadTimestamp,
    /// An event larger than `max_event_size`.
    EventTooLarge,
}

impl DecodeErrorKind {
    /// Every kind, in a stable order.
    pub const ALL: [DecodeErrorKind; 10] = [
        Self::Io,
        Self::Gzip,
        Self::InvalidJson,
        Self::DocumentTooLarge,
        Self::NotAuditEvent,
        Self::BadEnvelope,
        Self::Truncated,
        Self::MissingTimestamp,
        Self::BadTimestamp,
        Self::EventTooLarge,
    ];

    /// A short snake_case label for metrics and summaries.
    pub fn label(self) -> &'static str {
        match self {
            Self::Io => "io",
            Self::Gzip => "gzip",
            Self::InvalidJson => "invalid_json",
            Self::DocumentTooLarge => "document_too_large",
            Self::NotAuditEvent => "not_audit_event",
            Self::BadEnvelope => "bad_envelope",
            Self::Truncated => "truncated",
            Self::MissingTimestamp => "missing_timestamp",
            Self::BadTimestamp => "bad_timestamp",
            Self::EventTooLarge => "event_too_large",
        }
    }
}

/// A problem with one event or document; the stream goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {detail}{}", audit_id_suffix(.audit_id))]
pub struct DecodeError {
    /// What kind of problem.
    pub kind: DecodeErrorKind,
    /// Where.
    pub location: Location,
    /// The event's auditID, when it could be recovered.
    pub audit_id: Option<String>,
    /// Human-readable detail.
    pub detail: String,
}

fn audit_id_suffix(audit_id: &Option<String>) -> String {
    audit_id
        .as_ref()
        .map(|id| format!(" (auditID {id})"))
        .unwrap_or_default()
}

/// Counters of what decoding saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Events delivered.
    pub events: u64,
    /// Bytes of event payload delivered.
    pub event_bytes: u64,
    /// Bytes read from inputs (after decompression).
    pub input_bytes: u64,
    /// CloudWatch `CONTROL_MESSAGE` envelopes skipped.
    pub control_messages: u64,
    /// Log events skipped because their stream is not an audit stream.
    pub non_audit_log_events: u64,
    errors: [u64; DecodeErrorKind::ALL.len()],
}

impl DecodeStats {
    /// Errors of one kind.
    pub fn errors(&self, kind: DecodeErrorKind) -> u64 {
        self.errors[kind as usize]
    }

    /// Adds another set of counters to these.
    pub fn add(&mut self, other: &DecodeStats) {
        self.events += other.events;
        self.event_bytes += other.event_bytes;
        self.input_bytes += other.input_bytes;
        self.control_messages += other.control_messages;
        self.non_audit_log_events += other.non_audit_log_events;
        for (mine, theirs) in self.errors.iter_mut().zip(other.errors) {
            *mine += theirs;
        }
    }

    /// Counts one problem found outside a decoder (an S3 object refused for its size).
    pub fn record_error(&mut self, kind: DecodeErrorKind) {
        self.errors[kind as usize] += 1;
    }

    /// All errors.
    pub fn total_errors(&self) -> u64 {
        self.errors.iter().sum()
    }

    /// Non-zero error counts by kind.
    pub fn errors_by_kind(&self) -> impl Iterator<Item = (DecodeErrorKind, u64)> + '_ {
        DecodeErrorKind::ALL
            .into_iter()
            .map(|k| (k, self.errors(k)))
            .filter(|(_, n)| *n > 0)
    }
}

/// Turns documents into events; shared by every input type.
#[derive(Debug)]
pub struct Decoder {
    options: DecodeOptions,
    stats: DecodeStats,
    queue: VecDeque<Result<Decoded, DecodeError>>,
    /// Non-audit log streams already reported (reported once each, bounded).
    reported_streams: Vec<String>,
    /// Reused buffer for the root members recorded while validating a message.
    members: Vec<crate::json::Member>,
    /// Reused buffer records are inflated into.
    inflate: Vec<u8>,
    /// The Kinesis shard and sequence number of the record being decoded, recorded in
    /// its events' annotations.
    record_origin: Option<(String, String)>,
    /// Whole-buffer inflater for records, created on the first gzip record.
    inflater: Option<inflate::Inflater>,
    /// The envelope fast path's buffers (unescaped messages), reused.
    envelope: cloudwatch::FastEnvelope,
    /// The last source metadata seen and its annotation members, escaped.
    escaped_meta: (crate::event::SourceMeta, crate::event::EscapedMeta),
    /// Problems logged so far (the first few per kind, then summaries).
    problem_log: problem_log::ProblemLog,
}

impl Drop for Decoder {
    fn drop(&mut self) {
        // The last summary: problems counted since the last one are not left unsaid.
        self.problem_log.flush();
    }
}

impl Decoder {
    /// A decoder with `options`.
    pub fn new(options: DecodeOptions) -> Self {
        Self {
            options,
            stats: DecodeStats::default(),
            queue: VecDeque::new(),
            reported_streams: Vec::new(),
            members: Vec::new(),
            inflate: Vec::new(),
            record_origin: None,
            inflater: None,
            envelope: cloudwatch::FastEnvelope::default(),
            escaped_meta: Default::default(),
            problem_log: problem_log::ProblemLog::default(),
        }
    }

    /// The options.
    pub fn options(&self) -> &DecodeOptions {
        &self.options
    }

    /// Counters so far.
    pub fn stats(&self) -> &DecodeStats {
        &self.stats
    }

    /// Counters so far, reset to zero (for hosts that sum many decoders).
    pub fn take_stats(&mut self) -> DecodeStats {
        std::mem::take(&mut self.stats)
    }

    /// The next decoded event or error, in input order.
    pub fn pop(&mut self) -> Option<Result<Decoded, DecodeError>> {
        self.queue.pop_front()
    }

    /// Decodes one framed document (valid JSON, maybe with whitespace).
    pub fn push_document(&mut self, bytes: &[u8], location: Location) {
        if cloudwatch::looks_like_envelope(bytes)
            && cloudwatch::typed_envelope(self, bytes, &location)
        {
            return;
        }
        match crate::json::compact(bytes) {
            Ok(compact) => self.document(&compact, location),
            Err(e) => self.error(DecodeErrorKind::InvalidJson, location, None, e.to_string()),
        }
    }

    /// Decodes a document the framer already validated (no second validation pass).
    fn push_valid_document(&mut self, bytes: &[u8], whitespace: bool, location: Location) {
        if cloudwatch::looks_like_envelope(bytes)
            && cloudwatch::typed_envelope(self, bytes, &location)
        {
            return;
        }
        if whitespace {
            let mut compact = Vec::with_capacity(bytes.len());
            crate::json::compact_into(bytes, &mut compact);
            self.document(&compact, location);
        } else {
            self.document(bytes, location);
        }
    }

    /// Decodes the next document of `reader` into the queue. False at the end of the
    /// input, or after an I/O error (reported) that ends it.
    ///
    /// CloudWatch envelopes are framed, validated and parsed by serde in one pass over the
    /// reader's buffer; when the input does not start with one, or serde refuses it, the
    /// validating framer takes over and reports any problem precisely.
    pub fn step<R: Read>(
        &mut self,
        reader: &mut DocumentReader<R>,
        input: &Location,
        gzip: bool,
    ) -> bool {
        let result = self.envelope_fast_path(reader, input).and_then(|done| {
            if done {
                Ok(true)
            } else {
                self.frame(reader, input)
            }
        });
        match result {
            Ok(more) => more,
            Err(e) => {
                let location = input.at_line(reader.line());
                self.push_io_error(&e, location, gzip);
                false
            }
        }
    }

    fn envelope_fast_path<R: Read>(
        &mut self,
        reader: &mut DocumentReader<R>,
        input: &Location,
    ) -> io::Result<bool> {
        loop {
            let line = reader.line();
            let Some((rest, eof)) = reader.peek()? else {
                return Ok(false);
            };
            if !cloudwatch::looks_like_envelope(rest) {
                return Ok(false);
            }
            match cloudwatch::typed_envelope_prefix(self, rest, &input.at_line(line)) {
                cloudwatch::Prefix::Consumed(n) => {
                    reader.consume(n);
                    return Ok(true);
                }
                cloudwatch::Prefix::Incomplete if !eof => {
                    if !reader.read_more()? {
                        return Ok(false);
                    }
                }
                _ => return Ok(false),
            }
        }
    }

    fn frame<R: Read>(
        &mut self,
        reader: &mut DocumentReader<R>,
        input: &Location,
    ) -> io::Result<bool> {
        match reader.next_frame()? {
            Some(frame) => {
                self.push_frame(frame, input);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Decodes one record held in memory (a Kinesis record: gzip or not, any number of
    /// documents) into the queue, reusing this decoder's inflate buffer, as a shard
    /// consumer does for every record it reads.
    pub fn push_record(&mut self, data: &[u8], location: &Location) {
        self.record_origin = None;
        self.push_record_bytes(data, location, MAX_MEMORY_INFLATE);
    }

    /// [`Decoder::push_record`] for a Kinesis record: its events carry the shard and
    /// sequence number (`eks.kinesis.shard`, `eks.kinesis.sequence`).
    pub fn push_kinesis_record(
        &mut self,
        data: &[u8],
        location: &Location,
        shard: &str,
        sequence: &str,
    ) {
        self.record_origin = Some((shard.to_string(), sequence.to_string()));
        self.push_record_bytes(data, location, self.options.max_inflated_record());
        self.record_origin = None;
    }

    fn push_record_bytes(&mut self, data: &[u8], location: &Location, max_inflated: usize) {
        self.problem_log.tick();
        let buffer = std::mem::take(&mut self.inflate);
        let (data, error, gzip) = memory_bytes(data, max_inflated, buffer, &mut self.inflater);
        let mut reader = DocumentReader::from_bytes(data, error, self.options.max_document_size);
        while self.step(&mut reader, location, gzip) {}
        self.inflate = reader.into_buffer();
    }

    /// Decodes one frame from a [`DocumentReader`].
    pub fn push_frame(&mut self, frame: Frame<'_>, input: &Location) {
        match frame {
            Frame::Document {
                bytes,
                whitespace,
                line,
            } => self.push_valid_document(bytes, whitespace, input.at_line(line)),
            Frame::Invalid {
                error,
                line,
                first_line,
                skipped_lines,
            } => {
                let location = input.at_line(line);
                if cloudwatch::is_truncated(&first_line) {
                    self.truncated(location, &first_line);
                } else {
                    let lines = if skipped_lines > 1 {
                        format!(" (skipped {skipped_lines} lines)")
                    } else {
                        String::new()
                    };
                    let audit_id = cloudwatch::recover_audit_id(&first_line);
                    self.error(
                        DecodeErrorKind::InvalidJson,
                        location,
                        audit_id,
                        format!("{error}{lines}"),
                    );
                }
            }
            Frame::TooLarge {
                line,
                size,
                first_line,
            } => {
                let audit_id = cloudwatch::recover_audit_id(&first_line);
                let detail = format!(
                    "document larger than {} bytes (read {size}), skipped",
                    self.options.max_document_size
                );
                self.error(
                    DecodeErrorKind::DocumentTooLarge,
                    input.at_line(line),
                    audit_id,
                    detail,
                );
            }
        }
    }

    /// Reports an I/O failure that ends an input.
    pub fn push_io_error(&mut self, error: &io::Error, location: Location, gzip: bool) {
        let kind = if gzip && error.kind() != io::ErrorKind::PermissionDenied {
            DecodeErrorKind::Gzip
        } else {
            DecodeErrorKind::Io
        };
        self.error(
            kind,
            location,
            None,
            format!("read failed, rest of input skipped: {error}"),
        );
    }

    fn document(&mut self, compact: &[u8], location: Location) {
        let doc = crate::json::Json::new(compact);
        if cloudwatch::is_envelope(doc) {
            cloudwatch::envelope(self, doc, &location);
        } else {
            audit::payload(
                self,
                doc,
                None,
                &crate::event::SourceMeta::default(),
                &location,
            );
        }
    }

    fn event(&mut self, event: AuditEvent, location: Location) {
        self.stats.events += 1;
        self.stats.event_bytes += event.payload().len() as u64;
        self.queue.push_back(Ok(Decoded { event, location }));
    }

    fn truncated(&mut self, location: Location, text: &[u8]) {
        let audit_id = cloudwatch::recover_audit_id(text);
        let detail =
            "message truncated by CloudWatch ([Truncated...]), cannot be parsed".to_string();
        self.error(DecodeErrorKind::Truncated, location, audit_id, detail);
    }

    fn error(
        &mut self,
        kind: DecodeErrorKind,
        location: Location,
        audit_id: Option<String>,
        detail: String,
    ) {
        self.stats.errors[kind as usize] += 1;
        let error = DecodeError {
            kind,
            location,
            audit_id,
            detail,
        };
        self.problem_log.report(&error);
        self.queue.push_back(Err(error));
    }
}

/// Opens `reader`, transparently gunzipping it when it starts with the gzip magic.
fn maybe_gunzip<'a, R: Read + Send + 'a>(
    reader: R,
) -> io::Result<(Box<dyn Read + Send + 'a>, bool)> {
    let reader = Magic::read(reader)?;
    if reader.head[..reader.len] == [0x1f, 0x8b] {
        Ok((Box::new(inflate::MemberGunzip::new(reader)), true))
    } else {
        Ok((Box::new(BufReader::with_capacity(64 * 1024, reader)), false))
    }
}

/// A reader with its first two bytes read ahead: a pipe may hand the gzip magic out one
/// byte at a time. A read error met after the first byte is returned after it.
struct Magic<R> {
    head: [u8; 2],
    len: usize,
    pos: usize,
    error: Option<io::Error>,
    inner: R,
}

impl<R: Read> Magic<R> {
    fn read(mut inner: R) -> io::Result<Self> {
        let mut head = [0u8; 2];
        let mut len = 0;
        let mut error = None;
        while len < 2 {
            match inner.read(&mut head[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if len == 0 => return Err(e),
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        Ok(Self {
            head,
            len,
            pos: 0,
            error,
            inner,
        })
    }
}

impl<R: Read> Read for Magic<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos < self.len {
            let n = (self.len - self.pos).min(buf.len());
            buf[..n].copy_from_slice(&self.head[self.pos..self.pos + n]);
            self.pos += n;
            return Ok(n);
        }
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.inner.read(buf)
    }
}

/// An input being read.
struct OpenInput<'a> {
    reader: DocumentReader<Box<dyn Read + Send + 'a>>,
    location: Location,
    gzip: bool,
}

/// Largest in-memory input inflated (a Kinesis record holds at most 1 MiB of gzip).
const MAX_MEMORY_INFLATE: usize = 256 * 1024 * 1024;

impl fmt::Debug for OpenInput<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenInput")
            .field("location", &self.location)
            .field("gzip", &self.gzip)
            .finish()
    }
}

/// Decodes a sequence of inputs (files, a directory's files, stdin) as one stream.
#[derive(Debug)]
pub struct InputDecoder<'a> {
    pending: VecDeque<Input<'a>>,
    current: Option<OpenInput<'a>>,
    decoder: Decoder,
    finished_bytes: u64,
    /// Bytes of files read so far, before decompression (for progress).
    raw_read: Arc<AtomicU64>,
    /// Total size of the file inputs, when every input is a file.
    raw_total: Option<u64>,
}

/// Counts the bytes a reader hands out.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Something to read.
pub enum Input<'a> {
    /// A file.
    File(PathBuf),
    /// Any reader, with the name used in locations.
    Reader(String, Box<dyn Read + Send + 'a>),
    /// Bytes in memory (a Kinesis record), gzip or not, with the name used in locations.
    Memory(String, &'a [u8]),
}

impl fmt::Debug for Input<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Input::File(p) => write!(f, "File({})", p.display()),
            Input::Reader(name, _) => write!(f, "Reader({name})"),
            Input::Memory(name, bytes) => write!(f, "Memory({name}, {} bytes)", bytes.len()),
        }
    }
}

/// The files to read for `path`: the file itself, or a directory's regular files (not
/// recursive, dot-files skipped) oldest first, as upstream orders them, then by name.
pub fn expand_path(path: &Path) -> io::Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        let meta = entry.metadata()?;
        if meta.is_file() && !hidden {
            files.push((meta.modified().ok(), entry.path()));
        }
    }
    files.sort();
    Ok(files.into_iter().map(|(_, p)| p).collect())
}

/// Decodes the file or directory at `path`.
pub fn read_path(path: &Path, options: &DecodeOptions) -> io::Result<InputDecoder<'static>> {
    let inputs = expand_path(path)?.into_iter().map(Input::File).collect();
    Ok(InputDecoder::new(inputs, options.clone()))
}

/// Decodes bytes held in memory (a Kinesis record, a test fixture).
pub fn decode_bytes<'a>(
    bytes: &'a [u8],
    source: &str,
    options: &DecodeOptions,
) -> InputDecoder<'a> {
    InputDecoder::new(
        vec![Input::Memory(source.to_string(), bytes)],
        options.clone(),
    )
}

/// The bytes of an in-memory input, gunzipped when they start with the gzip magic: in one
/// libdeflate call per member into one buffer sized from the gzip trailer (reused across
/// records). Input that path does not finish cleanly is inflated by the streaming decoder,
/// so a gzip error comes back with what was inflated before it.
fn memory_bytes(
    bytes: &[u8],
    limit: usize,
    mut out: Vec<u8>,
    inflater: &mut Option<inflate::Inflater>,
) -> (Vec<u8>, Option<io::Error>, bool) {
    out.clear();
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        out.extend_from_slice(bytes);
        return (out, None, false);
    }
    let inflater = inflater.get_or_insert_with(inflate::Inflater::new);
    if inflater.gunzip(bytes, limit, &mut out) == inflate::Inflated::Done {
        return (out, None, true);
    }
    // ISIZE (the last member's size mod 2^32) is a good first guess for one member, up to
    // what deflate can expand to: the trailer is the input's to forge.
    let hint = bytes
        .last_chunk::<4>()
        .map_or(0, |t| u32::from_le_bytes(*t) as usize)
        .min(bytes.len().saturating_mul(inflate::MAX_DEFLATE_RATIO))
        .min(limit);
    // Exactly, and never past the limit: a bomb must not grow the buffer beyond the
    // limit it is about to be cut at (one byte more would double it).
    out.reserve_exact(hint.max(bytes.len() * 4).min(limit));
    let mut decoder = flate2::read::MultiGzDecoder::new(bytes);
    let result = (&mut decoder).take(limit as u64).read_to_end(&mut out);
    let error = match result {
        Err(e) => Some(e),
        Ok(_) if out.len() >= limit && decoder.read(&mut [0u8; 1]).is_ok_and(|n| n > 0) => Some(
            io::Error::other(format!("decompressed data larger than {limit} bytes")),
        ),
        Ok(_) => None,
    };
    (out, error, true)
}

impl<'a> InputDecoder<'a> {
    /// Decodes `inputs` in order.
    pub fn new(inputs: Vec<Input<'a>>, options: DecodeOptions) -> Self {
        let raw_total = inputs
            .iter()
            .map(|input| match input {
                Input::File(path) => std::fs::metadata(path).ok().map(|m| m.len()),
                _ => None,
            })
            .sum();
        Self {
            pending: inputs.into(),
            current: None,
            decoder: Decoder::new(options),
            finished_bytes: 0,
            raw_read: Arc::new(AtomicU64::new(0)),
            raw_total,
        }
    }

    /// Progress over file inputs, as (bytes read, total bytes) before decompression; the
    /// total is `None` when an input is not a file (stdin).
    pub fn progress(&self) -> (u64, Option<u64>) {
        (self.raw_read.load(Ordering::Relaxed), self.raw_total)
    }

    /// Counters so far (input bytes include the input being read).
    pub fn stats(&self) -> DecodeStats {
        let mut stats = self.decoder.stats().clone();
        stats.input_bytes =
            self.finished_bytes + self.current.as_ref().map_or(0, |c| c.reader.bytes_read());
        stats
    }

    /// Opens the next pending input, reporting inputs that cannot be opened.
    fn open_next(&mut self) -> bool {
        while let Some(input) = self.pending.pop_front() {
            let (name, opened) = match input {
                Input::File(path) => {
                    let name = path.display().to_string();
                    let count = Arc::clone(&self.raw_read);
                    let opened =
                        File::open(&path).and_then(|inner| maybe_gunzip(Counting { inner, count }));
                    (name, opened)
                }
                Input::Reader(name, reader) => (name, maybe_gunzip(reader)),
                Input::Memory(name, bytes) => {
                    let inflater = &mut self.decoder.inflater;
                    let (data, error, gzip) =
                        memory_bytes(bytes, MAX_MEMORY_INFLATE, Vec::new(), inflater);
                    let max = self.decoder.options().max_document_size;
                    let reader = DocumentReader::from_bytes(data, error, max);
                    self.current = Some(OpenInput {
                        reader: reader.boxed(),
                        location: Location::new(name),
                        gzip,
                    });
                    return true;
                }
            };
            let location = Location::new(name);
            match opened {
                Ok((reader, gzip)) => {
                    let max = self.decoder.options().max_document_size;
                    self.current = Some(OpenInput {
                        reader: DocumentReader::new(reader, max),
                        location,
                        gzip,
                    });
                    return true;
                }
                Err(e) => self.decoder.error(
                    DecodeErrorKind::Io,
                    location,
                    None,
                    format!("cannot open: {e}"),
                ),
            }
        }
        false
    }

    /// Reads one more frame into the decoder. False when every input is done.
    fn advance(&mut self) -> bool {
        let Some(input) = self.current.as_mut() else {
            return self.open_next();
        };
        if !self
            .decoder
            .step(&mut input.reader, &input.location, input.gzip)
        {
            self.finish_current();
        }
        true
    }

    fn finish_current(&mut self) {
        if let Some(done) = self.current.take() {
            self.finished_bytes += done.reader.bytes_read();
        }
    }
}

impl Iterator for InputDecoder<'_> {
    type Item = Result<Decoded, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.decoder.pop() {
                return Some(item);
            }
            if !self.advance() {
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests;
