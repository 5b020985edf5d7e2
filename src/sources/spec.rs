//! Source specs: one string names where audit bytes come from, for the plugin's
//! `open_params` and for `eksaudit forward --source` alike.
//!
//! * `file://<path>`: a file or a directory of audit logs in any format [`crate::decode`]
//!   recognises, replayed once;
//! * `kinesis://<stream name or ARN>?key=value&…`: a Kinesis data stream fed by a
//!   CloudWatch Logs subscription filter (keys in [`KINESIS_KEYS`]);
//! * `cloudwatch://…` and a bare cluster name (what Falco's k8saudit-eks plugin takes) are
//!   recognised and refused with "not supported yet" until that source is built, so a
//!   configuration written for them fails loudly instead of reading nothing.
//!
//! Parsing does no I/O: every mistake a spec can hold is found here, before any AWS call.

use std::fmt;
use std::path::PathBuf;

use crate::decode::time::parse_rfc3339_nanos;

/// A parsed source spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// Replay a file or a directory's files, then end.
    File(PathBuf),
    /// Read a Kinesis data stream, forever.
    Kinesis(Box<KinesisSpec>),
}

impl SourceSpec {
    /// A short, stable name for this source: checkpoints are filed under it, and logs
    /// and metrics use it. Credentials never appear in it.
    pub fn key(&self) -> String {
        match self {
            Self::File(path) => format!("file:{}", path.display()),
            Self::Kinesis(spec) => spec.key(),
        }
    }
}

/// Where a Kinesis reader starts on a shard it has no checkpoint for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartPosition {
    /// The oldest record still retained.
    TrimHorizon,
    /// Only records put after the reader starts (the default, as for a live feed).
    #[default]
    Latest,
    /// The first record at or after this time (nanoseconds since the epoch).
    AtTimestamp(u64),
}

impl fmt::Display for StartPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TrimHorizon => f.write_str("trim_horizon"),
            Self::Latest => f.write_str("latest"),
            Self::AtTimestamp(ns) => f.write_str(&crate::decode::time::format_rfc3339_nanos(*ns)),
        }
    }
}

/// A role to assume before calling AWS: the shape of a cross-account grant (role ARN,
/// external id, session name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRole {
    /// The role's ARN.
    pub role_arn: String,
    /// The external id the role's trust policy requires, if any.
    pub external_id: Option<String>,
    /// The session name (shows in CloudTrail); default `eksaudit`.
    pub session_name: String,
}

/// A `kinesis://` spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KinesisSpec {
    /// The stream's name.
    pub stream_name: String,
    /// The stream's ARN, when the spec gave one.
    pub stream_arn: Option<String>,
    /// The region: the `region` key, else the ARN's, else the SDK's chain.
    pub region: Option<String>,
    /// Where to start on shards without a checkpoint.
    pub start: StartPosition,
    /// A role to assume for every call.
    pub assume_role: Option<AssumeRole>,
    /// A DynamoDB lease table: when set, several readers share the stream's shards,
    /// and checkpoints live in the leases instead of the local directory.
    pub lease_table: Option<String>,
    /// Seconds a lease stays valid without renewal (with `lease_table`).
    pub lease_duration_secs: u64,
    /// An enhanced fan-out consumer name: records are pushed with SubscribeToShard.
    pub efo_consumer: Option<String>,
    /// GetRecords `Limit` (1 to 10000).
    pub max_records: i32,
    /// Seconds between two ListShards calls that look for new shards.
    pub list_shards_interval_secs: u64,
}

/// The keys `kinesis://` takes, with what they mean (for `--help` and errors).
pub const KINESIS_KEYS: &[(&str, &str)] = &[
    (
        "region",
        "AWS region (default: the stream ARN's, else the SDK's: AWS_REGION, profile)",
    ),
    (
        "start",
        "trim_horizon | latest | an RFC 3339 time: where shards without a checkpoint start (default latest)",
    ),
    ("role_arn", "IAM role to assume (cross-account reading)"),
    ("external_id", "ExternalId the role's trust policy requires"),
    ("session_name", "STS session name (default eksaudit)"),
    (
        "lease_table",
        "DynamoDB lease table: share shards between replicas, checkpoints in the leases",
    ),
    (
        "lease_duration",
        "seconds a lease lives without renewal (default 10)",
    ),
    ("efo", "enhanced fan-out consumer name (SubscribeToShard)"),
    (
        "max_records",
        "records per GetRecords call, 1 to 10000 (default 10000)",
    ),
    (
        "list_shards_interval",
        "seconds between two looks for new shards (default 30)",
    ),
];

impl KinesisSpec {
    /// A spec for `stream` with every default.
    pub fn new(stream: &str) -> Self {
        Self {
            stream_name: stream.to_string(),
            stream_arn: None,
            region: None,
            start: StartPosition::default(),
            assume_role: None,
            lease_table: None,
            lease_duration_secs: 10,
            efo_consumer: None,
            max_records: 10_000,
            list_shards_interval_secs: 30,
        }
    }

    /// `kinesis:<region or default>:<stream>`, plus the account when an ARN named it.
    pub fn key(&self) -> String {
        let region = self.region.as_deref().unwrap_or("default");
        match self.stream_arn.as_deref().and_then(arn_account) {
            Some(account) => format!("kinesis:{region}:{account}:{}", self.stream_name),
            None => format!("kinesis:{region}:{}", self.stream_name),
        }
    }
}

fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// Why a source spec was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// Nothing was given.
    #[error(
        "no source given (open_params is empty): give kinesis://<stream>?region=<region> or file://<path> (audit logs to replay)"
    )]
    Empty,
    /// `file://` without a path.
    #[error("source \"file://\" has no path: give file://<path>")]
    EmptyPath,
    /// `kinesis://` without a stream.
    #[error("source {0:?} names no stream: give kinesis://<stream name or ARN>")]
    NoStream(String),
    /// A stream ARN that is not one.
    #[error(
        "source {given:?}: {arn:?} is not a Kinesis stream ARN (arn:aws:kinesis:<region>:<account>:stream/<name>)"
    )]
    BadArn {
        /// The spec.
        given: String,
        /// The ARN.
        arn: String,
    },
    /// A key the source does not take.
    #[error("source {given:?}: unknown key {key:?}; {scheme} takes: {known}")]
    UnknownKey {
        /// The spec.
        given: String,
        /// The scheme.
        scheme: &'static str,
        /// The key.
        key: String,
        /// The keys it takes.
        known: String,
    },
    /// A key given twice.
    #[error("source {given:?}: key {key:?} is given twice")]
    DuplicateKey {
        /// The spec.
        given: String,
        /// The key.
        key: String,
    },
    /// A value that does not fit its key.
    #[error("source {given:?}: {key}={value:?}: {why}")]
    BadValue {
        /// The spec.
        given: String,
        /// The key.
        key: String,
        /// The value.
        value: String,
        /// What is wrong.
        why: String,
    },
    /// A source that exists in the design but is not built yet.
    #[error(
        "source {given:?}: {what} is not supported yet; use kinesis://<stream> or file://<path>"
    )]
    NotSupportedYet {
        /// The string given.
        given: String,
        /// Which source it asks for.
        what: &'static str,
    },
    /// An unknown scheme.
    #[error("source {0:?}: unknown scheme; supported: file://<path>, kinesis://<stream>")]
    UnknownScheme(String),
}

/// Parses a source spec (an `open_params` string or a `--source` value).
///
/// `file://<path>` takes everything after the scheme as the path, so `file:///var/log/a`
/// is `/var/log/a` and `file://logs/a` is the relative `logs/a`.
pub fn parse_open_params(params: &str) -> Result<SourceSpec, SpecError> {
    let params = params.trim();
    if params.is_empty() {
        return Err(SpecError::Empty);
    }
    if let Some(path) = params.strip_prefix("file://") {
        if path.is_empty() {
            return Err(SpecError::EmptyPath);
        }
        return Ok(SourceSpec::File(PathBuf::from(path)));
    }
    if let Some(rest) = params.strip_prefix("kinesis://") {
        return parse_kinesis(params, rest).map(|spec| SourceSpec::Kinesis(Box::new(spec)));
    }
    let not_yet = |what| SpecError::NotSupportedYet {
        given: params.to_string(),
        what,
    };
    if params.starts_with("cloudwatch://") {
        return Err(not_yet("reading CloudWatch Logs"));
    }
    if params.contains("://") {
        return Err(SpecError::UnknownScheme(params.to_string()));
    }
    Err(not_yet(
        "reading a cluster's audit log group from CloudWatch Logs",
    ))
}

fn parse_kinesis(given: &str, rest: &str) -> Result<KinesisSpec, SpecError> {
    let (target, query) = rest.split_once('?').unwrap_or((rest, ""));
    let target = percent_decode(target).map_err(|why| bad(given, "stream", target, why))?;
    if target.is_empty() {
        return Err(SpecError::NoStream(given.to_string()));
    }
    let mut spec = if target.starts_with("arn:") {
        let (region, name) = parse_stream_arn(&target).ok_or_else(|| SpecError::BadArn {
            given: given.to_string(),
            arn: target.clone(),
        })?;
        let mut spec = KinesisSpec::new(&name);
        spec.region = Some(region);
        spec.stream_arn = Some(target.clone());
        spec
    } else {
        if target.contains('/') || target.len() > 128 {
            return Err(bad(
                given,
                "stream",
                &target,
                "a stream name has 1 to 128 characters [a-zA-Z0-9_.-]".into(),
            ));
        }
        KinesisSpec::new(&target)
    };
    let mut role_arn = None;
    let mut external_id = None;
    let mut session_name = None;
    for (key, value) in parse_query(given, query)? {
        let value_ref = value.as_str();
        match key.as_str() {
            "region" => {
                if value.is_empty() {
                    return Err(bad(given, &key, value_ref, "empty region".into()));
                }
                if let Some(arn_region) = &spec.region
                    && spec.stream_arn.is_some()
                    && *arn_region != value
                {
                    return Err(bad(
                        given,
                        &key,
                        value_ref,
                        format!("the stream ARN is in region {arn_region}"),
                    ));
                }
                spec.region = Some(value);
            }
            "start" => {
                spec.start = parse_start(value_ref).map_err(|w| bad(given, &key, value_ref, w))?
            }
            "role_arn" => {
                if !value.starts_with("arn:") || !value.contains(":role/") {
                    return Err(bad(
                        given,
                        &key,
                        value_ref,
                        "not an IAM role ARN (arn:aws:iam::<account>:role/<name>)".into(),
                    ));
                }
                role_arn = Some(value);
            }
            "external_id" => external_id = Some(value),
            "session_name" => {
                let valid = (2..=64).contains(&value.len())
                    && value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "=,.@-_".contains(c));
                if !valid {
                    return Err(bad(
                        given,
                        &key,
                        value_ref,
                        "2 to 64 characters of [A-Za-z0-9=,.@_-]".into(),
                    ));
                }
                session_name = Some(value);
            }
            "lease_table" => {
                let valid = (3..=255).contains(&value.len())
                    && value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
                if !valid {
                    return Err(bad(
                        given,
                        &key,
                        value_ref,
                        "a DynamoDB table name has 3 to 255 characters [a-zA-Z0-9_.-]".into(),
                    ));
                }
                spec.lease_table = Some(value);
            }
            "lease_duration" => {
                spec.lease_duration_secs =
                    parse_number(value_ref, 2, 3600).map_err(|w| bad(given, &key, value_ref, w))?
            }
            "efo" => {
                if value.is_empty() || value.len() > 128 {
                    return Err(bad(
                        given,
                        &key,
                        value_ref,
                        "a consumer name has 1 to 128 characters".into(),
                    ));
                }
                spec.efo_consumer = Some(value);
            }
            "max_records" => {
                spec.max_records = parse_number(value_ref, 1, 10_000)
                    .map_err(|w| bad(given, &key, value_ref, w))?
                    as i32
            }
            "list_shards_interval" => {
                spec.list_shards_interval_secs = parse_number(value_ref, 1, 86_400)
                    .map_err(|w| bad(given, &key, value_ref, w))?
            }
            _ => {
                return Err(SpecError::UnknownKey {
                    given: given.to_string(),
                    scheme: "kinesis://",
                    key,
                    known: KINESIS_KEYS
                        .iter()
                        .map(|(k, _)| *k)
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
    }
    match role_arn {
        Some(role_arn) => {
            spec.assume_role = Some(AssumeRole {
                role_arn,
                external_id,
                session_name: session_name.unwrap_or_else(|| "eksaudit".to_string()),
            })
        }
        None => {
            for (key, value) in [("external_id", external_id), ("session_name", session_name)] {
                if let Some(value) = value {
                    return Err(bad(given, key, &value, "only with role_arn".into()));
                }
            }
        }
    }
    Ok(spec)
}

fn bad(given: &str, key: &str, value: &str, why: String) -> SpecError {
    SpecError::BadValue {
        given: given.to_string(),
        key: key.to_string(),
        value: value.to_string(),
        why,
    }
}

/// `arn:<partition>:kinesis:<region>:<account>:stream/<name>` → (region, name).
fn parse_stream_arn(arn: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, _, service, region, account, resource] = parts.as_slice() else {
        return None;
    };
    let name = resource.strip_prefix("stream/")?;
    let ok = *service == "kinesis"
        && !region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !name.is_empty()
        && !name.contains('/');
    ok.then(|| (region.to_string(), name.to_string()))
}

fn parse_start(value: &str) -> Result<StartPosition, String> {
    match value {
        "trim_horizon" | "TRIM_HORIZON" => Ok(StartPosition::TrimHorizon),
        "latest" | "LATEST" => Ok(StartPosition::Latest),
        _ => parse_rfc3339_nanos(value.as_bytes())
            .map(StartPosition::AtTimestamp)
            .map_err(|e| format!("expected trim_horizon, latest or an RFC 3339 time ({e})")),
    }
}

fn parse_number(value: &str, min: u64, max: u64) -> Result<u64, String> {
    match value.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("expected a whole number from {min} to {max}")),
    }
}

/// `a=1&b=2` → pairs, percent-decoded; a key given twice is refused.
fn parse_query(given: &str, query: &str) -> Result<Vec<(String, String)>, SpecError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        let key = percent_decode(key).map_err(|why| bad(given, key, value, why))?;
        let value = percent_decode(value).map_err(|why| bad(given, &key, value, why))?;
        if pairs.iter().any(|(k, _)| *k == key) {
            return Err(SpecError::DuplicateKey {
                given: given.to_string(),
                key,
            });
        }
        pairs.push((key, value));
    }
    Ok(pairs)
}

/// Decodes `%XX` escapes (values such as role ARNs may be written escaped or not).
pub(crate) fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad percent escape in {text:?}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{text:?} is not UTF-8 once decoded"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinesis(spec: &str) -> KinesisSpec {
        match parse_open_params(spec) {
            Ok(SourceSpec::Kinesis(k)) => *k,
            other => panic!("{spec}: {other:?}"),
        }
    }

    fn error(spec: &str) -> String {
        parse_open_params(spec).unwrap_err().to_string()
    }

    #[test]
    fn file_paths() {
        assert_eq!(
            parse_open_params("file:///var/log/a.json"),
            Ok(SourceSpec::File("/var/log/a.json".into()))
        );
        assert_eq!(
            parse_open_params(" file://logs/ "),
            Ok(SourceSpec::File("logs/".into()))
        );
        assert_eq!(parse_open_params("file://"), Err(SpecError::EmptyPath));
        assert_eq!(parse_open_params(""), Err(SpecError::Empty));
    }

    #[test]
    fn kinesis_defaults() {
        let spec = kinesis("kinesis://eks-audit");
        assert_eq!(spec, KinesisSpec::new("eks-audit"));
        assert_eq!(spec.start, StartPosition::Latest);
        assert_eq!(spec.key(), "kinesis:default:eks-audit");
    }

    #[test]
    fn kinesis_every_key() {
        let spec = kinesis(
            "kinesis://s1?region=eu-west-1&start=trim_horizon&role_arn=arn:aws:iam::222222222222:role/reader\
             &external_id=x%26y&session_name=falco-1&lease_table=eksaudit-leases&lease_duration=20\
             &efo=eksaudit&max_records=500&list_shards_interval=5",
        );
        assert_eq!(spec.region.as_deref(), Some("eu-west-1"));
        assert_eq!(spec.start, StartPosition::TrimHorizon);
        let role = spec.assume_role.as_ref().unwrap();
        assert_eq!(role.role_arn, "arn:aws:iam::222222222222:role/reader");
        assert_eq!(role.external_id.as_deref(), Some("x&y"));
        assert_eq!(role.session_name, "falco-1");
        assert_eq!(spec.lease_table.as_deref(), Some("eksaudit-leases"));
        assert_eq!(spec.lease_duration_secs, 20);
        assert_eq!(spec.efo_consumer.as_deref(), Some("eksaudit"));
        assert_eq!(spec.max_records, 500);
        assert_eq!(spec.list_shards_interval_secs, 5);
        assert!(!format!("{spec:?}").is_empty());
    }

    #[test]
    fn kinesis_arn() {
        let spec = kinesis("kinesis://arn:aws:kinesis:us-west-2:123456789012:stream/audit");
        assert_eq!(spec.stream_name, "audit");
        assert_eq!(spec.region.as_deref(), Some("us-west-2"));
        assert_eq!(spec.key(), "kinesis:us-west-2:123456789012:audit");
        assert!(
            error("kinesis://arn:aws:kinesis:us-west-2:123456789012:stream/audit?region=us-east-1")
                .contains("the stream ARN is in region us-west-2")
        );
        assert!(
            error("kinesis://arn:aws:sqs:us-west-2:1:queue").contains("not a Kinesis stream ARN")
        );
    }

    #[test]
    fn kinesis_start_times() {
        let spec = kinesis("kinesis://s?start=2026-11-30T10:00:00Z");
        assert_eq!(
            spec.start,
            StartPosition::AtTimestamp(parse_rfc3339_nanos(b"2026-11-30T10:00:00Z").unwrap())
        );
        assert_eq!(spec.start.to_string(), "2026-11-30T10:00:00.000000000Z");
        assert!(error("kinesis://s?start=yesterday").contains("expected trim_horizon, latest"));
    }

    #[test]
    fn kinesis_mistakes_are_named() {
        assert!(error("kinesis://").contains("names no stream"));
        assert!(error("kinesis://s?regoin=x").contains("unknown key \"regoin\""));
        assert!(error("kinesis://s?region=a&region=b").contains("given twice"));
        assert!(error("kinesis://s?max_records=0").contains("from 1 to 10000"));
        assert!(error("kinesis://s?external_id=x").contains("only with role_arn"));
        assert!(error("kinesis://s?role_arn=bob").contains("not an IAM role ARN"));
        assert!(error("kinesis://s?lease_table=a b").contains("DynamoDB table name"));
        assert!(error("kinesis://s?region=%zz").contains("bad percent escape"));
    }

    #[test]
    fn other_forms() {
        for p in ["cloudwatch:///aws/eks/x/cluster", "my-cluster"] {
            assert!(error(p).contains("not supported yet"), "{p}");
        }
        assert!(matches!(
            parse_open_params("http://:9765/k8s-audit"),
            Err(SpecError::UnknownScheme(_))
        ));
    }
}
