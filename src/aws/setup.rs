//! `eksaudit aws setup`: the onboarding page, done by API. Audit logging on the cluster,
//! the log group, an ON_DEMAND Kinesis stream, the role CloudWatch Logs assumes to put
//! records on it, the subscription filter, and optionally a cross-account reader role.
//!
//! Every step reads first and changes only what differs, so a second run changes nothing
//! and says so, and a dry run (reads only) reports exactly what a real run would do, with
//! the IAM documents of [`super::policy`] that the real run writes.

use std::time::{Duration, Instant};

use aws_sdk_cloudwatchlogs::types::SubscriptionFilter;
use aws_sdk_eks::types::{LogSetup, LogType, Logging, UpdateParamType, UpdateStatus, UpdateType};
use aws_sdk_kinesis::types::{StreamMode, StreamModeDetails, StreamStatus};
use serde_json::Value;

use super::Failure;
use super::onboard::{Clients, Identity, OnboardError, call_error, code, failure_of};
use super::policy::{self, Target};

/// What to set up.
#[derive(Debug, Clone)]
pub struct SetupOptions {
    /// The EKS cluster.
    pub cluster: String,
    /// The stream (default `eks-audit-<cluster>`).
    pub stream: Option<String>,
    /// The cross-account reader, if any.
    pub reader: Option<Reader>,
    /// Read only, and report what would change.
    pub dry_run: bool,
    /// How long to retry PutSubscriptionFilter while a new role propagates through IAM
    /// (AWS answers "Could not deliver test message" until it has).
    pub propagation_wait: Duration,
    /// How long to wait for a new stream to become ACTIVE.
    pub stream_wait: Duration,
}

impl SetupOptions {
    /// Options with the waits AWS needs (IAM propagation takes seconds, rarely a minute).
    pub fn new(cluster: &str) -> Self {
        Self {
            cluster: cluster.to_string(),
            stream: None,
            reader: None,
            dry_run: false,
            propagation_wait: Duration::from_secs(90),
            stream_wait: Duration::from_secs(180),
        }
    }
}

/// The account that reads the stream, and the ExternalId it must present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reader {
    /// 12-digit account id.
    pub account: String,
    /// The ExternalId agreed with the reader.
    pub external_id: String,
}

impl Reader {
    /// Validates what IAM would refuse later, before any call.
    pub fn new(account: &str, external_id: &str) -> Result<Self, OnboardError> {
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(OnboardError::Invalid(format!(
                "--reader-account must be a 12-digit AWS account id, not {account:?}"
            )));
        }
        // IAM's pattern for sts:ExternalId: 2-1224 of [\w+=,.@:/-].
        let valid = (2..=1224).contains(&external_id.len())
            && external_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@:/-".contains(&b));
        if !valid {
            return Err(OnboardError::Invalid(format!(
                "--external-id must be 2 to 1224 characters of letters, digits and _+=,.@:/- (got {external_id:?})"
            )));
        }
        Ok(Self {
            account: account.to_string(),
            external_id: external_id.to_string(),
        })
    }
}

/// What a step did (or, in a dry run, would do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The resource did not exist and was created.
    Created,
    /// It existed but differed, and was changed.
    Updated,
    /// It was already as wanted: nothing done.
    Already,
}

/// One step's outcome, reported as it happens.
#[derive(Debug, Clone)]
pub struct Step {
    /// What was done.
    pub change: Change,
    /// The resource, in words (`Kinesis stream eks-audit-prod (ON_DEMAND)`).
    pub what: String,
    /// IAM documents written (or that would be), titled.
    pub documents: Vec<(String, Value)>,
}

/// What a whole run did.
#[derive(Debug, Clone, Default)]
pub struct SetupSummary {
    /// The caller and where everything went.
    pub identity: Option<Identity>,
    /// Every step, in order.
    pub steps: Vec<Step>,
    /// The stream's ARN.
    pub stream_arn: String,
    /// The role CloudWatch Logs assumes.
    pub logs_role_arn: String,
    /// The reader role, if one was asked for.
    pub reader_role_arn: Option<String>,
}

impl SetupSummary {
    /// How many steps made (or would make) this change.
    pub fn count(&self, change: Change) -> usize {
        self.steps.iter().filter(|s| s.change == change).count()
    }

    /// Whether anything was (or would be) changed.
    pub fn changed(&self) -> bool {
        self.steps.iter().any(|s| s.change != Change::Already)
    }
}

/// Runs the setup, calling `report` after each step (a new stream can take a minute to
/// become ACTIVE, so the operator sees progress as it happens).
pub async fn setup(
    clients: &Clients,
    options: &SetupOptions,
    mut report: impl FnMut(&Step),
) -> Result<SetupSummary, OnboardError> {
    let identity = clients.identity().await?;
    let run = Run {
        clients,
        options,
        caller: identity.arn.clone(),
        target: identity.target.clone(),
    };
    let mut summary = SetupSummary {
        identity: Some(identity),
        ..SetupSummary::default()
    };
    let mut push = |step: Step, summary: &mut SetupSummary| {
        report(&step);
        summary.steps.push(step);
    };

    push(run.cluster_logging().await?, &mut summary);
    push(run.log_group().await?, &mut summary);
    let (step, stream_arn) = run.stream().await?;
    push(step, &mut summary);

    let logs_role = policy::logs_role_name(&options.cluster);
    let (role_step, policy_step, logs_role_arn) = run
        .role(
            &logs_role,
            &format!(
                "assumed by {} to deliver {}",
                run.target.logs_principal(),
                policy::log_group(&options.cluster)
            ),
            &policy::logs_trust_policy(&run.target),
            policy::PUT_POLICY_NAME,
            &policy::put_records_policy(&stream_arn),
        )
        .await?;
    let role_changed = role_step.change != Change::Already || policy_step.change != Change::Already;
    push(role_step, &mut summary);
    push(policy_step, &mut summary);
    push(
        run.subscription_filter(&stream_arn, &logs_role_arn, role_changed)
            .await?,
        &mut summary,
    );

    if let Some(reader) = &options.reader {
        let name = policy::reader_role_name(&options.cluster);
        let (role_step, policy_step, arn) = run
            .role(
                &name,
                &format!(
                    "assumable from account {} with its ExternalId",
                    reader.account
                ),
                &policy::reader_trust_policy(
                    &run.target.partition,
                    &reader.account,
                    &reader.external_id,
                ),
                policy::READ_POLICY_NAME,
                &policy::reader_policy(&stream_arn),
            )
            .await?;
        push(role_step, &mut summary);
        push(policy_step, &mut summary);
        summary.reader_role_arn = Some(arn);
    }
    summary.stream_arn = stream_arn;
    summary.logs_role_arn = logs_role_arn;
    Ok(summary)
}

/// One run's context.
struct Run<'a> {
    clients: &'a Clients,
    options: &'a SetupOptions,
    caller: String,
    target: Target,
}

impl Run<'_> {
    fn dry(&self) -> bool {
        self.options.dry_run
    }

    fn cluster(&self) -> &str {
        &self.options.cluster
    }

    /// Audit logging on the cluster: only the `audit` type is switched on; the cluster's
    /// other log types are left as they are (EKS merges the setting).
    async fn cluster_logging(&self) -> Result<Step, OnboardError> {
        let resource = format!("EKS cluster {}", self.cluster());
        let out = self
            .clients
            .eks
            .describe_cluster()
            .name(self.cluster())
            .send()
            .await
            .map_err(|e| {
                let error = call_error(
                    "EKS DescribeCluster",
                    "eks:DescribeCluster",
                    &resource,
                    &self.caller,
                    &e,
                );
                if error.is_not_found() {
                    OnboardError::Invalid(format!(
                        "no EKS cluster {:?} in {} (account {}): check --cluster and --region",
                        self.cluster(),
                        self.target.region,
                        self.target.account
                    ))
                } else {
                    error
                }
            })?;
        let cluster = out.cluster();
        let what = format!("audit logging on EKS cluster {}", self.cluster());
        if cluster.and_then(|c| c.logging()).is_some_and(audit_enabled) {
            return Ok(step(Change::Already, what));
        }
        // AWS shows the new setting only once the update is done (minutes): an update
        // enabling audit that is still running means a run moments ago already did this.
        if let Some(id) = logging_update_in_progress(&self.clients.eks, self.cluster()).await {
            return Ok(step(
                Change::Already,
                format!("{what} (being enabled: EKS update {id} in progress)"),
            ));
        }
        if self.dry() {
            return Ok(step(Change::Updated, what));
        }
        let status = cluster
            .and_then(|c| c.status())
            .map(|s| s.as_str().to_string())
            .unwrap_or_default();
        if !status.is_empty() && status != "ACTIVE" {
            return Err(OnboardError::Invalid(format!(
                "EKS cluster {} is {status}: its logging can be changed once it is ACTIVE; run this again then",
                self.cluster()
            )));
        }
        let logging = Logging::builder()
            .cluster_logging(
                LogSetup::builder()
                    .types(LogType::Audit)
                    .enabled(true)
                    .build(),
            )
            .build();
        let result = self
            .clients
            .eks
            .update_cluster_config()
            .name(self.cluster())
            .logging(logging)
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            // EKS's answer when the setting is already what we ask (ours was stale).
            Err(e)
                if code(&e) == Some("InvalidParameterException")
                    && super::error_text(&e).contains("No changes needed") =>
            {
                return Ok(step(Change::Already, what));
            }
            Err(e) => {
                let error = call_error(
                    "EKS UpdateClusterConfig",
                    "eks:UpdateClusterConfig",
                    &resource,
                    &self.caller,
                    &e,
                );
                return Err(if code(&e) == Some("ResourceInUseException") {
                    OnboardError::Invalid(format!(
                        "{error}: another update of the cluster is in progress; run this again when it is done"
                    ))
                } else {
                    error
                });
            }
        };
        let update = out
            .update()
            .and_then(|u| u.id())
            .map(|id| format!(" (EKS update {id}; EKS starts writing within minutes)"))
            .unwrap_or_default();
        Ok(step(Change::Updated, format!("{what}{update}")))
    }

    /// The log group. EKS creates it once logging is on, but only when it first writes;
    /// creating it now lets the subscription filter go on at once, and EKS writes into an
    /// existing group.
    async fn log_group(&self) -> Result<Step, OnboardError> {
        let group = policy::log_group(self.cluster());
        let what = format!("log group {group}");
        if self.log_group_exists(&group).await? {
            return Ok(step(Change::Already, what));
        }
        if self.dry() {
            return Ok(step(Change::Created, what));
        }
        match self
            .clients
            .logs
            .create_log_group()
            .log_group_name(&group)
            .send()
            .await
        {
            Ok(_) => Ok(step(Change::Created, what)),
            // EKS created it between our look and now.
            Err(e) if code(&e) == Some("ResourceAlreadyExistsException") => {
                Ok(step(Change::Already, what))
            }
            Err(e) => Err(call_error(
                "CloudWatch Logs CreateLogGroup",
                "logs:CreateLogGroup",
                &what,
                &self.caller,
                &e,
            )),
        }
    }

    async fn log_group_exists(&self, group: &str) -> Result<bool, OnboardError> {
        log_group_exists(&self.clients.logs, group, &self.caller).await
    }

    /// The stream: created ON_DEMAND (no shards to size; EKS audit volume varies with
    /// cluster activity), and waited for until ACTIVE. An existing stream is kept as it is,
    /// whatever its mode: changing a stream someone sized is not ours to do.
    async fn stream(&self) -> Result<(Step, String), OnboardError> {
        let name = self.stream_name();
        let what = format!("Kinesis stream {name}");
        if let Some(summary) = self.describe_stream(&name).await? {
            let summary = if summary.status == StreamStatus::Active || self.dry() {
                summary
            } else {
                self.wait_active(&name).await?
            };
            return Ok((
                step(
                    Change::Already,
                    format!("{what} ({}, {})", summary.mode, summary.status.as_str()),
                ),
                summary.arn,
            ));
        }
        let arn = self.target.stream_arn(&name);
        if self.dry() {
            return Ok((step(Change::Created, format!("{what} (ON_DEMAND)")), arn));
        }
        let mode = StreamModeDetails::builder()
            .stream_mode(StreamMode::OnDemand)
            .build()
            .map_err(|e| OnboardError::Invalid(format!("stream mode: {e}")))?;
        match self
            .clients
            .kinesis
            .create_stream()
            .stream_name(&name)
            .stream_mode_details(mode)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if code(&e) == Some("ResourceInUseException") => {}
            Err(e) => {
                return Err(call_error(
                    "Kinesis CreateStream",
                    "kinesis:CreateStream",
                    &what,
                    &self.caller,
                    &e,
                ));
            }
        }
        let summary = self.wait_active(&name).await?;
        Ok((
            step(
                Change::Created,
                format!("{what} ({}, {})", summary.mode, summary.status.as_str()),
            ),
            summary.arn,
        ))
    }

    fn stream_name(&self) -> String {
        self.options
            .stream
            .clone()
            .unwrap_or_else(|| policy::default_stream(self.cluster()))
    }

    async fn describe_stream(&self, name: &str) -> Result<Option<StreamSummary>, OnboardError> {
        describe_stream(&self.clients.kinesis, name, &self.caller).await
    }

    async fn wait_active(&self, name: &str) -> Result<StreamSummary, OnboardError> {
        let start = Instant::now();
        loop {
            if let Some(summary) = self.describe_stream(name).await?
                && summary.status == StreamStatus::Active
            {
                return Ok(summary);
            }
            if start.elapsed() > self.options.stream_wait {
                return Err(OnboardError::Timeout(format!(
                    "Kinesis stream {name} did not become ACTIVE within {:?}; run this again to resume",
                    self.options.stream_wait
                )));
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// A role with `trust` and one inline policy: created when missing, its documents
    /// replaced when they differ from ours (compared as JSON values, so IAM's encoding and
    /// whitespace do not count as differences). Returns the role's and the policy's steps
    /// and the role's ARN.
    async fn role(
        &self,
        name: &str,
        purpose: &str,
        trust: &Value,
        policy_name: &str,
        policy: &Value,
    ) -> Result<(Step, Step, String), OnboardError> {
        let iam = &self.clients.iam;
        let what = format!("IAM role {name} ({purpose})");
        let resource = format!("IAM role {name}");
        let existing = match iam.get_role().role_name(name).send().await {
            Ok(out) => out.role().map(|r| {
                (
                    r.arn().to_string(),
                    r.assume_role_policy_document()
                        .and_then(policy::parse_returned_document),
                )
            }),
            Err(e) if failure_of(&e) == Failure::NotFound => None,
            Err(e) => {
                return Err(call_error(
                    "IAM GetRole",
                    "iam:GetRole",
                    &resource,
                    &self.caller,
                    &e,
                ));
            }
        };
        let trust_doc = vec![("trust policy".to_string(), trust.clone())];
        let (role_step, arn, role_exists) = match existing {
            Some((arn, current)) if current.as_ref() == Some(trust) => {
                (documented(Change::Already, what, trust_doc), arn, true)
            }
            Some((arn, _)) => {
                if !self.dry() {
                    iam.update_assume_role_policy()
                        .role_name(name)
                        .policy_document(trust.to_string())
                        .send()
                        .await
                        .map_err(|e| {
                            call_error(
                                "IAM UpdateAssumeRolePolicy",
                                "iam:UpdateAssumeRolePolicy",
                                &resource,
                                &self.caller,
                                &e,
                            )
                        })?;
                }
                (
                    documented(Change::Updated, format!("{what}: trust policy"), trust_doc),
                    arn,
                    true,
                )
            }
            None => {
                let arn = if self.dry() {
                    self.target.role_arn(name)
                } else {
                    let out = iam
                        .create_role()
                        .role_name(name)
                        .assume_role_policy_document(trust.to_string())
                        .description(format!("eksaudit: {purpose}"))
                        .send()
                        .await
                        .map_err(|e| {
                            call_error(
                                "IAM CreateRole",
                                "iam:CreateRole",
                                &resource,
                                &self.caller,
                                &e,
                            )
                        })?;
                    out.role()
                        .map(|r| r.arn().to_string())
                        .unwrap_or_else(|| self.target.role_arn(name))
                };
                (documented(Change::Created, what, trust_doc), arn, false)
            }
        };

        let policy_what = format!("inline policy {policy_name} of IAM role {name}");
        let current = if role_exists {
            match iam
                .get_role_policy()
                .role_name(name)
                .policy_name(policy_name)
                .send()
                .await
            {
                Ok(out) => Some(policy::parse_returned_document(out.policy_document())),
                Err(e) if failure_of(&e) == Failure::NotFound => None,
                Err(e) => {
                    return Err(call_error(
                        "IAM GetRolePolicy",
                        "iam:GetRolePolicy",
                        &resource,
                        &self.caller,
                        &e,
                    ));
                }
            }
        } else {
            None
        };
        let change = match current {
            Some(Some(current)) if &current == policy => Change::Already,
            Some(_) => Change::Updated,
            None => Change::Created,
        };
        if change != Change::Already && !self.dry() {
            iam.put_role_policy()
                .role_name(name)
                .policy_name(policy_name)
                .policy_document(policy.to_string())
                .send()
                .await
                .map_err(|e| {
                    call_error(
                        "IAM PutRolePolicy",
                        "iam:PutRolePolicy",
                        &resource,
                        &self.caller,
                        &e,
                    )
                })?;
        }
        let policy_step = documented(
            change,
            policy_what,
            vec![("permissions policy".to_string(), policy.clone())],
        );
        Ok((role_step, policy_step, arn))
    }

    /// The subscription filter: ours (`eksaudit`, empty pattern: every event) to the
    /// stream through the role. A filter of any name that already delivers to this stream
    /// counts as in place: a second one would deliver every event twice.
    async fn subscription_filter(
        &self,
        stream_arn: &str,
        role_arn: &str,
        role_changed: bool,
    ) -> Result<Step, OnboardError> {
        let group = policy::log_group(self.cluster());
        let what = format!(
            "subscription filter {} on {group} to {stream_arn}",
            policy::FILTER_NAME
        );
        let filters = if self.dry() && !self.log_group_exists(&group).await? {
            Vec::new()
        } else {
            subscription_filters(&self.clients.logs, &group, &self.caller).await?
        };
        if let Some(filter) = filters
            .iter()
            .find(|f| f.destination_arn() == Some(stream_arn))
        {
            let name = filter.filter_name().unwrap_or_default();
            let as_ours = name == policy::FILTER_NAME
                && filter.role_arn() == Some(role_arn)
                && filter.filter_pattern().unwrap_or_default().is_empty();
            if as_ours || name != policy::FILTER_NAME {
                return Ok(step(
                    Change::Already,
                    format!("subscription filter {name} on {group} to {stream_arn}"),
                ));
            }
        }
        let ours = filters
            .iter()
            .any(|f| f.filter_name() == Some(policy::FILTER_NAME));
        if !ours && filters.len() >= 2 {
            let names: Vec<&str> = filters.iter().filter_map(|f| f.filter_name()).collect();
            return Err(OnboardError::Invalid(format!(
                "log group {group} already has two subscription filters ({}), the most CloudWatch Logs allows: remove one, or point one at {stream_arn}",
                names.join(", ")
            )));
        }
        let change = if ours {
            Change::Updated
        } else {
            Change::Created
        };
        if self.dry() {
            return Ok(step(change, what));
        }
        // A role created or changed moments ago may not be usable by CloudWatch Logs yet:
        // AWS then refuses the filter with "Could not deliver test message"; retry until
        // IAM has propagated it.
        let start = Instant::now();
        let mut attempt = 0;
        loop {
            let result = self
                .clients
                .logs
                .put_subscription_filter()
                .log_group_name(&group)
                .filter_name(policy::FILTER_NAME)
                .filter_pattern("")
                .destination_arn(stream_arn)
                .role_arn(role_arn)
                .send()
                .await;
            match result {
                Ok(_) => return Ok(step(change, what)),
                Err(e)
                    if code(&e) == Some("InvalidParameterException")
                        && super::error_text(&e).contains("Could not deliver test message")
                        && start.elapsed() < self.options.propagation_wait =>
                {
                    tracing::info!(
                        attempt,
                        role_changed,
                        "PutSubscriptionFilter refused ({}); waiting for IAM to propagate the role",
                        super::error_text(&e)
                    );
                    attempt += 1;
                    tokio::time::sleep(super::backoff(
                        attempt,
                        Duration::from_secs(2),
                        Duration::from_secs(10),
                    ))
                    .await;
                }
                Err(e) => {
                    return Err(call_error(
                        "CloudWatch Logs PutSubscriptionFilter",
                        "logs:PutSubscriptionFilter (and iam:PassRole on the role)",
                        &what,
                        &self.caller,
                        &e,
                    ));
                }
            }
        }
    }
}

fn step(change: Change, what: String) -> Step {
    documented(change, what, Vec::new())
}

fn documented(change: Change, what: String, documents: Vec<(String, Value)>) -> Step {
    Step {
        change,
        what,
        documents,
    }
}

/// Whether a logging setting has `audit` enabled.
pub fn audit_enabled(logging: &Logging) -> bool {
    logging
        .cluster_logging()
        .iter()
        .any(|s| s.enabled() == Some(true) && s.types().contains(&LogType::Audit))
}

/// The id of an EKS update enabling audit logging that is still in progress, if any.
/// Best effort: ListUpdates/DescribeUpdate failing (denied, or an emulator without them)
/// only means an update in flight is not recognised, and UpdateClusterConfig then says so.
pub async fn logging_update_in_progress(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
) -> Option<String> {
    let out = eks
        .list_updates()
        .name(cluster)
        .max_results(20)
        .send()
        .await
        .ok()?;
    for id in out.update_ids() {
        let Ok(described) = eks
            .describe_update()
            .name(cluster)
            .update_id(id)
            .send()
            .await
        else {
            continue;
        };
        let Some(update) = described.update() else {
            continue;
        };
        let enables_audit = update.params().iter().any(|p| {
            p.r#type() == Some(&UpdateParamType::ClusterLogging)
                && p.value().is_some_and(logging_param_enables_audit)
        });
        if update.r#type() == Some(&UpdateType::LoggingUpdate)
            && update.status() == Some(&UpdateStatus::InProgress)
            && enables_audit
        {
            return Some(id.clone());
        }
    }
    None
}

/// Whether an EKS `ClusterLogging` update parameter
/// (`{"clusterLogging":[{"types":["audit"],"enabled":true}]}`) enables `audit`.
fn logging_param_enables_audit(value: &str) -> bool {
    let Ok(value) = serde_json::from_str::<Value>(value) else {
        return false;
    };
    value["clusterLogging"].as_array().is_some_and(|setups| {
        setups.iter().any(|s| {
            s["enabled"] == Value::Bool(true)
                && s["types"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t == "audit"))
        })
    })
}

/// What the onboarding needs of a stream.
#[derive(Debug, Clone)]
pub struct StreamSummary {
    /// Its ARN.
    pub arn: String,
    /// ACTIVE, CREATING, …
    pub status: StreamStatus,
    /// ON_DEMAND or PROVISIONED (with its shard count).
    pub mode: String,
}

/// DescribeStreamSummary; `None` when the stream does not exist.
pub async fn describe_stream(
    kinesis: &aws_sdk_kinesis::Client,
    name: &str,
    caller: &str,
) -> Result<Option<StreamSummary>, OnboardError> {
    match kinesis
        .describe_stream_summary()
        .stream_name(name)
        .send()
        .await
    {
        Ok(out) => Ok(out.stream_description_summary().map(|s| {
            let mode = match s.stream_mode_details().map(|m| m.stream_mode()) {
                Some(StreamMode::Provisioned) | None => {
                    format!("PROVISIONED, {} open shards", s.open_shard_count())
                }
                Some(other) => other.as_str().to_string(),
            };
            StreamSummary {
                arn: s.stream_arn().to_string(),
                status: s.stream_status().clone(),
                mode,
            }
        })),
        Err(e) if failure_of(&e) == Failure::NotFound => Ok(None),
        Err(e) => Err(call_error(
            "Kinesis DescribeStreamSummary",
            "kinesis:DescribeStreamSummary",
            &format!("Kinesis stream {name}"),
            caller,
            &e,
        )),
    }
}

/// Whether the log group exists (DescribeLogGroups by prefix, then the exact name: the
/// prefix also matches `/aws/eks/<cluster>/cluster-other`).
pub async fn log_group_exists(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    caller: &str,
) -> Result<bool, OnboardError> {
    let mut pages = logs
        .describe_log_groups()
        .log_group_name_prefix(group)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            call_error(
                "CloudWatch Logs DescribeLogGroups",
                "logs:DescribeLogGroups",
                &format!("log group {group}"),
                caller,
                &e,
            )
        })?;
        if page
            .log_groups()
            .iter()
            .any(|g| g.log_group_name() == Some(group))
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The subscription filters of a log group (at most two).
pub async fn subscription_filters(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    caller: &str,
) -> Result<Vec<SubscriptionFilter>, OnboardError> {
    logs.describe_subscription_filters()
        .log_group_name(group)
        .send()
        .await
        .map(|out| out.subscription_filters().to_vec())
        .map_err(|e| {
            call_error(
                "CloudWatch Logs DescribeSubscriptionFilters",
                "logs:DescribeSubscriptionFilters",
                &format!("log group {group}"),
                caller,
                &e,
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_arguments_are_checked_before_any_call() {
        assert!(Reader::new("444455556666", "vendor-42").is_ok());
        for (account, id) in [
            ("4444", "vendor-42"),
            ("44445555666x", "vendor-42"),
            ("444455556666", "x"),
            ("444455556666", "has space"),
        ] {
            assert!(
                matches!(Reader::new(account, id), Err(OnboardError::Invalid(_))),
                "{account} {id}"
            );
        }
    }

    #[test]
    fn logging_update_parameters_are_read() {
        assert!(logging_param_enables_audit(
            r#"{"clusterLogging":[{"types":["api","audit"],"enabled":true}]}"#
        ));
        assert!(!logging_param_enables_audit(
            r#"{"clusterLogging":[{"types":["audit"],"enabled":false}]}"#
        ));
        assert!(!logging_param_enables_audit(
            r#"{"clusterLogging":[{"types":["api"],"enabled":true}]}"#
        ));
        assert!(!logging_param_enables_audit("not json"));
    }

    #[test]
    fn only_enabled_audit_counts() {
        let setting = |types: Vec<LogType>, enabled: bool| {
            Logging::builder()
                .cluster_logging(
                    LogSetup::builder()
                        .set_types(Some(types))
                        .enabled(enabled)
                        .build(),
                )
                .build()
        };
        assert!(audit_enabled(&setting(
            vec![LogType::Api, LogType::Audit],
            true
        )));
        assert!(!audit_enabled(&setting(vec![LogType::Audit], false)));
        assert!(!audit_enabled(&setting(vec![LogType::Api], true)));
        assert!(!audit_enabled(&Logging::builder().build()));
    }
}
