//! Source specs: one string names where audit bytes come from, for the plugin's
//! `open_params` and for `eksaudit forward --source` alike.
//!
//! * `file://<path>`: a file or a directory of audit logs in any format [`crate::decode`]
//!   recognises, replayed once;
//! * `kinesis://<stream name or ARN>?key=value&…`: a Kinesis data stream fed by a
//!   CloudWatch Logs subscription filter (keys in [`KINESIS_KEYS`]);
//! * `cloudwatch://<cluster name | /log/group/name | log group ARN>?key=value&…`: EKS
//!   audit log groups polled with FilterLogEvents (keys in [`CLOUDWATCH_KEYS`]); a bare
//!   cluster name with no scheme (what Falco's k8saudit-eks plugin takes as `open_params`)
//!   means the same as `cloudwatch://<name>`.
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
    /// Poll CloudWatch Logs log groups, forever (or until caught up with now).
    CloudWatch(Box<CloudWatchSpec>),
    /// Read exported audit logs from S3, object by object, then end.
    S3(Box<S3Spec>),
}

impl SourceSpec {
    /// A short, stable name for this source: checkpoints are filed under it, and logs
    /// and metrics use it. Credentials never appear in it.
    pub fn key(&self) -> String {
        match self {
            Self::File(path) => format!("file:{}", path.display()),
            Self::Kinesis(spec) => spec.key(),
            Self::CloudWatch(spec) => spec.key(),
            Self::S3(spec) => spec.key(),
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

/// Where a CloudWatch Logs poller starts on a log group it has no checkpoint for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloudWatchStart {
    /// Events stamped this many seconds before the poller starts, and later (`now` is
    /// 0; the plugin's `shift` sets it).
    Ago(u64),
    /// Events stamped at or after this time (milliseconds since the epoch): reads the
    /// history, then follows.
    At(i64),
    /// Every event the group still retains.
    Retention,
}

impl fmt::Display for CloudWatchStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ago(0) => f.write_str("now"),
            Self::Ago(secs) => write!(f, "now-{secs}s"),
            Self::At(ms) => f.write_str(&crate::decode::time::format_rfc3339_nanos(
                u64::try_from(*ms).unwrap_or(0).saturating_mul(1_000_000),
            )),
            Self::Retention => f.write_str("retention"),
        }
    }
}

/// A `cloudwatch://` spec (or a bare cluster name).
///
/// `start` and `poll_interval_secs` are `None` when the spec does not set them, so the
/// plugin can fill them from k8saudit-eks's `shift` and `polling_interval`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudWatchSpec {
    /// Log group names to poll (empty with `group_prefix` alone).
    pub log_groups: Vec<String>,
    /// Discover (and re-discover) every log group whose name starts with this.
    pub group_prefix: Option<String>,
    /// The account, when an ARN named it.
    pub account: Option<String>,
    /// The region: the `region` key, else the ARN's, else the SDK's chain.
    pub region: Option<String>,
    /// Where groups without a checkpoint start (default: now).
    pub start: Option<CloudWatchStart>,
    /// Seconds back from the last poll every poll reads again, to catch events ingested
    /// late; events already emitted are recognised by id and skipped.
    pub lag_window_secs: u64,
    /// Seconds between two polls of a group that is caught up (default 5).
    pub poll_interval_secs: Option<u64>,
    /// A role to assume for every call.
    pub assume_role: Option<AssumeRole>,
    /// Only log streams whose name starts with this are read.
    pub stream_prefix: String,
    /// FilterLogEvents `limit` (1 to 10000).
    pub page_size: i32,
    /// FilterLogEvents calls per second allowed for the (account, region), shared by
    /// every group polled in the process.
    pub rate: u32,
    /// Seconds between two DescribeLogGroups looks for new groups (with `prefix`).
    pub discover_interval_secs: u64,
}

/// The keys `cloudwatch://` takes, with what they mean (for `--help` and errors).
pub const CLOUDWATCH_KEYS: &[(&str, &str)] = &[
    (
        "region",
        "AWS region (default: the log group ARN's, else the SDK's: AWS_REGION, profile)",
    ),
    (
        "start",
        "now | an RFC 3339 time | retention: where groups without a checkpoint start (default now); a past time reads the history, then follows",
    ),
    (
        "lag_window",
        "seconds every poll reads again to catch late-ingested events, skipped by id if already emitted (default 120)",
    ),
    (
        "poll_interval",
        "seconds between two polls of a group that is caught up (default 5)",
    ),
    (
        "streams",
        "log stream name prefix to read (default kube-apiserver-audit)",
    ),
    (
        "prefix",
        "poll every log group whose name starts with this, re-discovered (e.g. /aws/eks/)",
    ),
    (
        "discover_interval",
        "seconds between two looks for new log groups with prefix (default 300)",
    ),
    ("role_arn", "IAM role to assume (cross-account reading)"),
    ("external_id", "ExternalId the role's trust policy requires"),
    ("session_name", "STS session name (default eksaudit)"),
    (
        "page_size",
        "events per FilterLogEvents page, 1 to 10000 (default 10000)",
    ),
    (
        "rate",
        "FilterLogEvents calls per second for the account and region, shared by every group in the process (default 5, the default quota)",
    ),
];

/// The prefix of EKS's audit log streams (`kube-apiserver-audit-<id>`).
pub const EKS_AUDIT_STREAM_PREFIX: &str = "kube-apiserver-audit";

impl CloudWatchSpec {
    /// A spec for `log_group` with every default.
    pub fn new(log_group: &str) -> Self {
        Self {
            log_groups: vec![log_group.to_string()],
            group_prefix: None,
            account: None,
            region: None,
            start: None,
            lag_window_secs: 120,
            poll_interval_secs: None,
            assume_role: None,
            stream_prefix: EKS_AUDIT_STREAM_PREFIX.to_string(),
            page_size: 10_000,
            rate: 5,
            discover_interval_secs: 300,
        }
    }

    /// Where groups without a checkpoint start.
    pub fn start(&self) -> CloudWatchStart {
        self.start.unwrap_or(CloudWatchStart::Ago(0))
    }

    /// Seconds between two polls of a caught-up group.
    pub fn poll_interval_secs(&self) -> u64 {
        self.poll_interval_secs.unwrap_or(5)
    }

    /// `cloudwatch:<region or default>[:<account>]:<groups, comma-separated>[:prefix=<p>]`.
    pub fn key(&self) -> String {
        let region = self.region.as_deref().unwrap_or("default");
        let mut key = match &self.account {
            Some(account) => format!("cloudwatch:{region}:{account}:"),
            None => format!("cloudwatch:{region}:"),
        };
        key.push_str(&self.log_groups.join(","));
        if let Some(prefix) = &self.group_prefix {
            key.push_str(":prefix=");
            key.push_str(prefix);
        }
        key
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
        "no source given (open_params is empty): give a cluster name, cloudwatch://<log group>?region=<region>, kinesis://<stream>?region=<region> or file://<path> (audit logs to replay)"
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
    /// `cloudwatch://` naming no log group and no `prefix`.
    #[error(
        "source {0:?} names no log group: give cloudwatch://<cluster name | /log/group/name | log group ARN> or cloudwatch://?prefix=/aws/eks/"
    )]
    NoLogGroup(String),
    /// An unknown scheme.
    #[error(
        "source {0:?}: unknown scheme; supported: file://<path>, kinesis://<stream>, cloudwatch://<log group>, or a bare EKS cluster name"
    )]
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
    if let Some(rest) = params.strip_prefix("s3://") {
        return parse_s3(params, rest).map(|spec| SourceSpec::S3(Box::new(spec)));
    }
    if let Some(rest) = params.strip_prefix("kinesis://") {
        return parse_kinesis(params, rest).map(|spec| SourceSpec::Kinesis(Box::new(spec)));
    }
    if let Some(rest) = params.strip_prefix("cloudwatch://") {
        return parse_cloudwatch(params, rest).map(|spec| SourceSpec::CloudWatch(Box::new(spec)));
    }
    if params.contains("://") {
        return Err(SpecError::UnknownScheme(params.to_string()));
    }
    // A bare cluster name (k8saudit-eks's open_params), or a bare log group name.
    parse_cloudwatch(params, params).map(|spec| SourceSpec::CloudWatch(Box::new(spec)))
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
    let mut role = RoleKeys::default();
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
                if role.take(given, &key, value.clone())? {
                    continue;
                }
                return Err(unknown_key(given, "kinesis://", key, KINESIS_KEYS));
            }
        }
    }
    spec.assume_role = role.finish(given)?;
    Ok(spec)
}

/// The keys naming a role to assume, shared by the AWS sources.
#[derive(Default)]
struct RoleKeys {
    role_arn: Option<String>,
    external_id: Option<String>,
    session_name: Option<String>,
}

impl RoleKeys {
    /// Takes `key` if it is a role key; false when it is not one.
    fn take(&mut self, given: &str, key: &str, value: String) -> Result<bool, SpecError> {
        match key {
            "role_arn" => {
                if !value.starts_with("arn:") || !value.contains(":role/") {
                    return Err(bad(
                        given,
                        key,
                        &value,
                        "not an IAM role ARN (arn:aws:iam::<account>:role/<name>)".into(),
                    ));
                }
                self.role_arn = Some(value);
            }
            "external_id" => self.external_id = Some(value),
            "session_name" => {
                let valid = (2..=64).contains(&value.len())
                    && value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "=,.@-_".contains(c));
                if !valid {
                    return Err(bad(
                        given,
                        key,
                        &value,
                        "2 to 64 characters of [A-Za-z0-9=,.@_-]".into(),
                    ));
                }
                self.session_name = Some(value);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The role, if `role_arn` was given; `external_id` or `session_name` without it is
    /// a mistake.
    fn finish(self, given: &str) -> Result<Option<AssumeRole>, SpecError> {
        match self.role_arn {
            Some(role_arn) => Ok(Some(AssumeRole {
                role_arn,
                external_id: self.external_id,
                session_name: self.session_name.unwrap_or_else(|| "eksaudit".to_string()),
            })),
            None => {
                for (key, value) in [
                    ("external_id", self.external_id),
                    ("session_name", self.session_name),
                ] {
                    if let Some(value) = value {
                        return Err(bad(given, key, &value, "only with role_arn".into()));
                    }
                }
                Ok(None)
            }
        }
    }
}

/// Parses what follows `cloudwatch://` (or a whole bare spec): comma-separated targets,
/// each a cluster name, a log group name (starting with `/`) or a log group ARN, then
/// the keys.
fn parse_cloudwatch(given: &str, rest: &str) -> Result<CloudWatchSpec, SpecError> {
    let (targets, query) = rest.split_once('?').unwrap_or((rest, ""));
    let targets = percent_decode(targets).map_err(|why| bad(given, "log group", targets, why))?;
    let mut spec = CloudWatchSpec::new("");
    spec.log_groups.clear();
    for target in targets.split(',').filter(|t| !t.is_empty()) {
        let (group, arn) = parse_log_group_target(given, target)?;
        if let Some((region, account)) = arn {
            for (what, mine, theirs) in [
                ("region", &mut spec.region, region),
                ("account", &mut spec.account, account),
            ] {
                match mine {
                    Some(known) if *known != theirs => {
                        return Err(bad(
                            given,
                            "log group",
                            target,
                            format!(
                                "every log group ARN of one source must name the same {what} ({known})"
                            ),
                        ));
                    }
                    _ => *mine = Some(theirs),
                }
            }
        }
        if !spec.log_groups.contains(&group) {
            spec.log_groups.push(group);
        }
    }
    let mut role = RoleKeys::default();
    for (key, value) in parse_query(given, query)? {
        let value_ref = value.as_str();
        let number = |min, max| {
            parse_number(value_ref, min, max).map_err(|w| bad(given, &key, value_ref, w))
        };
        match key.as_str() {
            "region" => {
                if value.is_empty() {
                    return Err(bad(given, &key, value_ref, "empty region".into()));
                }
                if let (Some(arn_region), Some(_)) = (&spec.region, &spec.account)
                    && *arn_region != value
                {
                    return Err(bad(
                        given,
                        &key,
                        value_ref,
                        format!("the log group ARN is in region {arn_region}"),
                    ));
                }
                spec.region = Some(value);
            }
            "start" => {
                spec.start = Some(match value_ref {
                    "now" | "latest" => CloudWatchStart::Ago(0),
                    "retention" | "trim_horizon" => CloudWatchStart::Retention,
                    _ => parse_rfc3339_nanos(value_ref.as_bytes())
                        .map(|ns| CloudWatchStart::At((ns / 1_000_000) as i64))
                        .map_err(|e| {
                            bad(
                                given,
                                &key,
                                value_ref,
                                format!("expected now, retention or an RFC 3339 time ({e})"),
                            )
                        })?,
                })
            }
            "lag_window" => spec.lag_window_secs = number(0, 86_400)?,
            "poll_interval" => spec.poll_interval_secs = Some(number(1, 3600)?),
            "discover_interval" => spec.discover_interval_secs = number(1, 86_400)?,
            "page_size" => spec.page_size = number(1, 10_000)? as i32,
            "rate" => spec.rate = number(1, 1000)? as u32,
            "streams" => {
                if value.len() > 512 || value.contains(':') || value.contains('*') {
                    return Err(bad(
                        given,
                        &key,
                        value_ref,
                        "a log stream name prefix has at most 512 characters, no ':' or '*'".into(),
                    ));
                }
                spec.stream_prefix = value;
            }
            "prefix" => {
                if !is_log_group_name(value_ref) {
                    return Err(bad(given, &key, value_ref, LOG_GROUP_NAME_RULE.into()));
                }
                spec.group_prefix = Some(value);
            }
            _ => {
                if role.take(given, &key, value.clone())? {
                    continue;
                }
                return Err(unknown_key(given, "cloudwatch://", key, CLOUDWATCH_KEYS));
            }
        }
    }
    spec.assume_role = role.finish(given)?;
    if spec.log_groups.is_empty() && spec.group_prefix.is_none() {
        return Err(SpecError::NoLogGroup(given.to_string()));
    }
    Ok(spec)
}

const LOG_GROUP_NAME_RULE: &str = "a log group name has 1 to 512 characters of [A-Za-z0-9._/#-]";

fn is_log_group_name(name: &str) -> bool {
    (1..=512).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._/#-".contains(c))
}

/// One target → (log group name, (region, account) when it was an ARN).
fn parse_log_group_target(
    given: &str,
    target: &str,
) -> Result<(String, Option<(String, String)>), SpecError> {
    if target.starts_with("arn:") {
        // arn:<partition>:logs:<region>:<account>:log-group:<name>[:*]
        let parts: Vec<&str> = target.splitn(7, ':').collect();
        let parsed = match parts.as_slice() {
            [_, _, "logs", region, account, "log-group", name]
                if !region.is_empty()
                    && account.len() == 12
                    && account.bytes().all(|b| b.is_ascii_digit()) =>
            {
                let name = name.strip_suffix(":*").unwrap_or(name);
                is_log_group_name(name)
                    .then(|| (name.to_string(), (region.to_string(), account.to_string())))
            }
            _ => None,
        };
        return parsed.map(|(n, ra)| (n, Some(ra))).ok_or_else(|| {
            bad(
                given,
                "log group",
                target,
                "not a log group ARN (arn:aws:logs:<region>:<account>:log-group:<name>)".into(),
            )
        });
    }
    if target.starts_with('/') {
        if !is_log_group_name(target) {
            return Err(bad(given, "log group", target, LOG_GROUP_NAME_RULE.into()));
        }
        return Ok((target.to_string(), None));
    }
    let valid_cluster = (1..=100).contains(&target.len())
        && target
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c));
    if !valid_cluster {
        return Err(bad(
            given,
            "cluster",
            target,
            "an EKS cluster name has 1 to 100 characters [A-Za-z0-9_-]; a log group name starts with /".into(),
        ));
    }
    Ok((format!("/aws/eks/{target}/cluster"), None))
}

/// An `s3://` spec: CloudWatch Logs exports and Firehose deliveries of audit logs,
/// read object by object in key order, then the source ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Spec {
    /// The bucket.
    pub bucket: String,
    /// The key prefix (may be empty).
    pub prefix: String,
    /// The region (default: the SDK's chain).
    pub region: Option<String>,
    /// Start after this key when there is no checkpoint.
    pub start_after: Option<String>,
    /// A role to assume.
    pub assume_role: Option<AssumeRole>,
}

impl S3Spec {
    /// `s3:<bucket>/<prefix>`.
    pub fn key(&self) -> String {
        format!("s3:{}/{}", self.bucket, self.prefix)
    }
}

/// The keys `s3://` takes.
pub const S3_KEYS: &[(&str, &str)] = &[
    ("region", "AWS region of the bucket (default: the SDK's)"),
    (
        "start_after",
        "begin after this object key when there is no checkpoint",
    ),
    ("role_arn", "IAM role to assume (cross-account reading)"),
    ("external_id", "ExternalId the role's trust policy requires"),
    ("session_name", "STS session name (default eksaudit)"),
];

fn parse_s3(given: &str, rest: &str) -> Result<S3Spec, SpecError> {
    let (target, query) = rest.split_once('?').unwrap_or((rest, ""));
    let target = percent_decode(target).map_err(|why| bad(given, "bucket", target, why))?;
    let (bucket, prefix) = target.split_once('/').unwrap_or((&target, ""));
    let valid_bucket = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-".contains(c));
    if !valid_bucket {
        return Err(bad(
            given,
            "bucket",
            bucket,
            "a bucket name has 3 to 63 characters [a-z0-9.-]: give s3://<bucket>/<prefix>".into(),
        ));
    }
    let mut spec = S3Spec {
        bucket: bucket.to_string(),
        prefix: prefix.to_string(),
        region: None,
        start_after: None,
        assume_role: None,
    };
    let mut role = RoleKeys::default();
    for (key, value) in parse_query(given, query)? {
        match key.as_str() {
            "region" if !value.is_empty() => spec.region = Some(value),
            "start_after" => spec.start_after = Some(value),
            _ if role.take(given, &key, value.clone())? => {}
            _ => {
                return Err(unknown_key(given, "s3://", key, S3_KEYS));
            }
        }
    }
    spec.assume_role = role.finish(given)?;
    Ok(spec)
}

/// A key `scheme` does not take, with the keys it does.
fn unknown_key(given: &str, scheme: &'static str, key: String, keys: &[(&str, &str)]) -> SpecError {
    SpecError::UnknownKey {
        given: given.to_string(),
        scheme,
        key,
        known: keys.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", "),
    }
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

    fn cloudwatch(spec: &str) -> CloudWatchSpec {
        match parse_open_params(spec) {
            Ok(SourceSpec::CloudWatch(c)) => *c,
            other => panic!("{spec}: {other:?}"),
        }
    }

    #[test]
    fn cloudwatch_targets() {
        // A path starting with / is a log group name.
        let spec = cloudwatch("cloudwatch:///aws/eks/prod/cluster");
        assert_eq!(spec, CloudWatchSpec::new("/aws/eks/prod/cluster"));
        assert_eq!(spec.start(), CloudWatchStart::Ago(0));
        assert_eq!(spec.poll_interval_secs(), 5);
        assert_eq!(spec.stream_prefix, "kube-apiserver-audit");
        assert_eq!(spec.key(), "cloudwatch:default:/aws/eks/prod/cluster");
        // A bare word is a cluster name, with or without the scheme (k8saudit-eks's
        // open_params).
        assert_eq!(cloudwatch("cloudwatch://prod"), spec);
        assert_eq!(cloudwatch(" prod "), spec);
        // An ARN gives the region and the account.
        let spec = cloudwatch(
            "cloudwatch://arn:aws:logs:eu-west-1:222222222222:log-group:/aws/eks/a/cluster:*",
        );
        assert_eq!(spec.log_groups, ["/aws/eks/a/cluster"]);
        assert_eq!(spec.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            spec.key(),
            "cloudwatch:eu-west-1:222222222222:/aws/eks/a/cluster"
        );
        // Several groups, and discovery.
        let spec = cloudwatch("cloudwatch://a,/custom/audit,a?prefix=/aws/eks/");
        assert_eq!(spec.log_groups, ["/aws/eks/a/cluster", "/custom/audit"]);
        assert_eq!(spec.group_prefix.as_deref(), Some("/aws/eks/"));
        let spec = cloudwatch("cloudwatch://?prefix=/aws/eks/&region=us-west-2");
        assert!(spec.log_groups.is_empty());
        assert_eq!(spec.key(), "cloudwatch:us-west-2::prefix=/aws/eks/");
    }

    #[test]
    fn cloudwatch_every_key() {
        let spec = cloudwatch(
            "cloudwatch://prod?region=us-east-2&start=2026-11-30T10:00:00Z&lag_window=30\
             &poll_interval=2&streams=kube-apiserver-audit-&role_arn=arn:aws:iam::222222222222:role/r\
             &external_id=e&session_name=falco&page_size=50&rate=3&discover_interval=60",
        );
        assert_eq!(spec.region.as_deref(), Some("us-east-2"));
        let ms = (parse_rfc3339_nanos(b"2026-11-30T10:00:00Z").unwrap() / 1_000_000) as i64;
        assert_eq!(spec.start(), CloudWatchStart::At(ms));
        assert_eq!(spec.start().to_string(), "2026-11-30T10:00:00.000000000Z");
        assert_eq!(spec.lag_window_secs, 30);
        assert_eq!(spec.poll_interval_secs(), 2);
        assert_eq!(spec.stream_prefix, "kube-apiserver-audit-");
        let role = spec.assume_role.as_ref().unwrap();
        assert_eq!(role.role_arn, "arn:aws:iam::222222222222:role/r");
        assert_eq!(role.external_id.as_deref(), Some("e"));
        assert_eq!(role.session_name, "falco");
        assert_eq!((spec.page_size, spec.rate), (50, 3));
        assert_eq!(spec.discover_interval_secs, 60);
        assert_eq!(
            cloudwatch("prod?start=retention").start(),
            CloudWatchStart::Retention
        );
        assert_eq!(
            cloudwatch("prod?start=now").start,
            Some(CloudWatchStart::Ago(0))
        );
    }

    #[test]
    fn cloudwatch_mistakes_are_named() {
        assert!(error("cloudwatch://").contains("names no log group"));
        assert!(error("cloudwatch://?region=x").contains("names no log group"));
        assert!(error("cloudwatch://prod?lag=1").contains("unknown key \"lag\""));
        assert!(error("cloudwatch://prod?lag=1").contains("lag_window"));
        assert!(error("cloudwatch://prod?start=yesterday").contains("expected now, retention"));
        assert!(error("cloudwatch://prod?poll_interval=0").contains("poll_interval=\"0\""));
        assert!(error("cloudwatch://prod?page_size=10001").contains("from 1 to 10000"));
        assert!(error("cloudwatch://prod?external_id=x").contains("only with role_arn"));
        assert!(error("cloudwatch://prod?streams=a*").contains("no ':' or '*'"));
        assert!(
            error("cloudwatch://arn:aws:logs:x:1:log-group:/a").contains("not a log group ARN")
        );
        assert!(error("cloudwatch://my cluster").contains("EKS cluster name"));
        assert!(error("cloudwatch:///a b").contains("log group name"));
        assert!(
            error("cloudwatch://arn:aws:logs:eu-west-1:222222222222:log-group:/a?region=us-east-1")
                .contains("the log group ARN is in region eu-west-1")
        );
        assert!(matches!(
            parse_open_params("http://:9765/k8s-audit"),
            Err(SpecError::UnknownScheme(_))
        ));
    }
    #[test]
    fn s3_specs() {
        let spec = match parse_open_params(
            "s3://audit-archive/eks/prod/?region=eu-west-1&start_after=eks/prod/2026/01",
        ) {
            Ok(SourceSpec::S3(s)) => *s,
            other => panic!("{other:?}"),
        };
        assert_eq!(spec.bucket, "audit-archive");
        assert_eq!(spec.prefix, "eks/prod/");
        assert_eq!(spec.region.as_deref(), Some("eu-west-1"));
        assert_eq!(spec.start_after.as_deref(), Some("eks/prod/2026/01"));
        assert!(error("s3://A_B/x").contains("bucket name"));
        assert!(error("s3://bucket?lease_table=x").contains("unknown key"));
        assert!(error("s3://bucket?external_id=x").contains("only with role_arn"));
    }
}
