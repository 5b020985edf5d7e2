//! The IAM documents of the onboarding, built in one place so that `aws setup --dry-run`
//! prints exactly what the real run writes, and a second run can tell "already in place"
//! from "changed by someone" by comparing with the same values.
//!
//! Names are derived from the cluster so that one account can onboard several clusters
//! without collisions, and start with `eks-audit-` / `eksaudit-` so the least-privilege
//! policies in `deploy/iam/` (which match those prefixes) cover them.

use serde_json::{Value, json};

/// What the onboarding documents are about: where, whose, and which stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The AWS partition (`aws`, `aws-cn`, `aws-us-gov`), from the caller's ARN.
    pub partition: String,
    /// The region of the cluster, log group and stream.
    pub region: String,
    /// The account that owns them.
    pub account: String,
}

impl Target {
    /// The ARN of a Kinesis stream of this account and region.
    pub fn stream_arn(&self, stream: &str) -> String {
        format!(
            "arn:{}:kinesis:{}:{}:stream/{stream}",
            self.partition, self.region, self.account
        )
    }

    /// The ARN of an IAM role of this account.
    pub fn role_arn(&self, role: &str) -> String {
        format!("arn:{}:iam::{}:role/{role}", self.partition, self.account)
    }

    /// The service principal CloudWatch Logs uses in this region: regional, as AWS
    /// documents it for subscription filters (`logs.amazonaws.com` alone is refused in
    /// opt-in regions); China's partition has its own domain.
    pub fn logs_principal(&self) -> String {
        let domain = if self.partition == "aws-cn" {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        format!("logs.{}.{domain}", self.region)
    }
}

/// The default stream for a cluster: `eks-audit-<cluster>`, the name pattern
/// `deploy/iam/kinesis-reader.json` grants.
pub fn default_stream(cluster: &str) -> String {
    format!("eks-audit-{cluster}")
}

/// The log group EKS writes a cluster's control-plane logs to.
pub fn log_group(cluster: &str) -> String {
    format!("/aws/eks/{cluster}/cluster")
}

/// The name of our subscription filter on the log group.
pub const FILTER_NAME: &str = "eksaudit";

/// The inline policy that lets CloudWatch Logs put records on the stream.
pub const PUT_POLICY_NAME: &str = "eksaudit-put-records";

/// The inline policy that lets the reader role read the stream.
pub const READ_POLICY_NAME: &str = "eksaudit-read-stream";

/// The role CloudWatch Logs assumes to deliver a cluster's logs: `eksaudit-cwl-<cluster>`.
pub fn logs_role_name(cluster: &str) -> String {
    role_name("eksaudit-cwl-", cluster)
}

/// The cross-account reader role: `eksaudit-reader-<cluster>`.
pub fn reader_role_name(cluster: &str) -> String {
    role_name("eksaudit-reader-", cluster)
}

/// IAM role names have at most 64 characters, EKS cluster names up to 100: a long name is
/// cut and given a hash of the whole, so two long names sharing a prefix stay distinct and
/// every run derives the same name.
fn role_name(prefix: &str, cluster: &str) -> String {
    const MAX: usize = 64;
    let full = format!("{prefix}{cluster}");
    if full.len() <= MAX {
        return full;
    }
    // FNV-1a: stable across Rust versions, unlike the std hasher.
    let hash = cluster.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    // Cluster names are ASCII (EKS allows [0-9A-Za-z_-]), so byte slicing is safe; the
    // check keeps a bad input from panicking all the same.
    let keep = MAX - 9;
    let cut = (0..=keep)
        .rev()
        .find(|&i| full.is_char_boundary(i))
        .unwrap_or(0);
    format!("{}-{:08x}", &full[..cut], hash as u32)
}

/// Trust policy of the role CloudWatch Logs assumes: only the regional Logs service, and
/// only on behalf of log groups of this account and region (`aws:SourceArn`), so another
/// account's subscription cannot borrow the role (the confused-deputy guard AWS documents
/// for subscription filters).
pub fn logs_trust_policy(target: &Target) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "CloudWatchLogsDeliversSubscriptions",
            "Effect": "Allow",
            "Principal": {"Service": target.logs_principal()},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringLike": {
                    "aws:SourceArn": format!(
                        "arn:{}:logs:{}:{}:*",
                        target.partition, target.region, target.account
                    )
                }
            }
        }]
    })
}

/// Permissions of that role: putting records on the one stream, nothing else.
pub fn put_records_policy(stream_arn: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "PutAuditLogsOnTheStream",
            "Effect": "Allow",
            "Action": ["kinesis:PutRecord", "kinesis:PutRecords"],
            "Resource": stream_arn
        }]
    })
}

/// Trust policy of the cross-account reader role: the reader account may assume it only
/// with the agreed ExternalId, as vendors reading a customer's stream are asked to.
pub fn reader_trust_policy(partition: &str, reader_account: &str, external_id: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "AuditReaderWithExternalId",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:{partition}:iam::{reader_account}:root")},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": external_id}}
        }]
    })
}

/// Permissions of the reader role: the actions of `deploy/iam/kinesis-reader.json`, on
/// this stream (and its `eksaudit*` consumers for enhanced fan-out).
pub fn reader_policy(stream_arn: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadTheAuditStream",
                "Effect": "Allow",
                "Action": [
                    "kinesis:DescribeStreamSummary",
                    "kinesis:ListShards",
                    "kinesis:GetShardIterator",
                    "kinesis:GetRecords"
                ],
                "Resource": stream_arn
            },
            {
                "Sid": "EnhancedFanOutOnly",
                "Effect": "Allow",
                "Action": [
                    "kinesis:RegisterStreamConsumer",
                    "kinesis:DescribeStreamConsumer",
                    "kinesis:SubscribeToShard"
                ],
                "Resource": [stream_arn, format!("{stream_arn}/consumer/eksaudit*")]
            }
        ]
    })
}

/// A policy document as IAM returns it (URL-encoded JSON, RFC 3986), parsed; `None` when
/// it is not a JSON document even once decoded.
pub fn parse_returned_document(text: &str) -> Option<Value> {
    if let Ok(value) = serde_json::from_str(text) {
        return Some(value);
    }
    let decoded = crate::sources::spec::percent_decode(text).ok()?;
    serde_json::from_str(&decoded).ok()
}

/// Pretty JSON for humans (the dry run) and compact JSON for IAM.
pub fn to_pretty(document: &Value) -> String {
    serde_json::to_string_pretty(document).unwrap_or_else(|_| document.to_string())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn target() -> Target {
        Target {
            partition: "aws".into(),
            region: "eu-west-1".into(),
            account: "111122223333".into(),
        }
    }

    fn actions(policy: &Value) -> BTreeSet<String> {
        policy["Statement"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| match &s["Action"] {
                Value::String(a) => vec![a.clone()],
                Value::Array(a) => a
                    .iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect(),
                _ => vec![],
            })
            .collect()
    }

    #[test]
    fn reader_policy_grants_what_the_deployed_reader_policy_grants() {
        let deployed: Value =
            serde_json::from_str(include_str!("../../deploy/iam/kinesis-reader.json")).unwrap();
        let ours = reader_policy(&target().stream_arn("eks-audit-prod"));
        assert_eq!(actions(&ours), actions(&deployed));
        assert_eq!(
            ours["Statement"][1]["Resource"][1],
            "arn:aws:kinesis:eu-west-1:111122223333:stream/eks-audit-prod/consumer/eksaudit*"
        );
    }

    #[test]
    fn logs_trust_is_regional_and_bound_to_the_account() {
        let trust = logs_trust_policy(&target());
        let statement = &trust["Statement"][0];
        assert_eq!(
            statement["Principal"]["Service"],
            "logs.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            statement["Condition"]["StringLike"]["aws:SourceArn"],
            "arn:aws:logs:eu-west-1:111122223333:*"
        );
        let china = Target {
            partition: "aws-cn".into(),
            region: "cn-north-1".into(),
            ..target()
        };
        assert_eq!(china.logs_principal(), "logs.cn-north-1.amazonaws.com.cn");
        assert_eq!(
            actions(&put_records_policy("arn")),
            ["kinesis:PutRecord", "kinesis:PutRecords"]
                .map(String::from)
                .into()
        );
    }

    #[test]
    fn reader_trust_requires_the_external_id() {
        let trust = reader_trust_policy("aws", "444455556666", "vendor-xyz");
        let statement = &trust["Statement"][0];
        assert_eq!(
            statement["Principal"]["AWS"],
            "arn:aws:iam::444455556666:root"
        );
        assert_eq!(
            statement["Condition"]["StringEquals"]["sts:ExternalId"],
            "vendor-xyz"
        );
    }

    #[test]
    fn role_names_fit_iam_and_stay_distinct() {
        assert_eq!(logs_role_name("prod"), "eksaudit-cwl-prod");
        assert_eq!(reader_role_name("prod"), "eksaudit-reader-prod");
        let a = format!("{}-a", "x".repeat(98));
        let b = format!("{}-b", "x".repeat(98));
        let (ra, rb) = (reader_role_name(&a), reader_role_name(&b));
        assert_eq!(ra.len(), 64);
        assert!(ra.starts_with("eksaudit-reader-xxx"));
        assert_ne!(ra, rb);
        assert_eq!(ra, reader_role_name(&a), "the same name on every run");
    }

    #[test]
    fn documents_iam_returns_are_understood() {
        let doc = put_records_policy("arn:aws:kinesis:eu-west-1:1:stream/s");
        let encoded: String = doc
            .to_string()
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        assert_eq!(parse_returned_document(&encoded), Some(doc.clone()));
        assert_eq!(parse_returned_document(&doc.to_string()), Some(doc));
        assert_eq!(parse_returned_document("%zz"), None);
    }
}
