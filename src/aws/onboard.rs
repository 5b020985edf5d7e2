//! What `aws setup` and `aws check` share: the clients of the five services the
//! onboarding touches, who we are (STS), and errors that name the API call, the IAM
//! action and the resource, so a failed step tells the operator what to grant.

use aws_config::SdkConfig;
use aws_sdk_kinesis::config::http::HttpResponse;
use aws_sdk_kinesis::error::{ProvideErrorMetadata, SdkError};

use super::policy::Target;
use super::{Failure, classify, error_text};

/// SDK clients for the onboarding, all from one configuration (so `AWS_ENDPOINT_URL`
/// and the credential chain apply to every one of them).
#[derive(Debug, Clone)]
pub struct Clients {
    /// EKS: the cluster's logging settings.
    pub eks: aws_sdk_eks::Client,
    /// IAM: the roles CloudWatch Logs and the reader assume.
    pub iam: aws_sdk_iam::Client,
    /// CloudWatch Logs: the log group and its subscription filter.
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// Kinesis: the stream.
    pub kinesis: aws_sdk_kinesis::Client,
    /// STS: who we are, and the account everything lives in.
    pub sts: aws_sdk_sts::Client,
    /// The region everything is created in (the SDK's, or `--region`).
    pub region: Option<String>,
}

impl Clients {
    /// Clients for `config`.
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            eks: aws_sdk_eks::Client::new(config),
            iam: aws_sdk_iam::Client::new(config),
            logs: aws_sdk_cloudwatchlogs::Client::new(config),
            kinesis: aws_sdk_kinesis::Client::new(config),
            sts: aws_sdk_sts::Client::new(config),
            region: config.region().map(|r| r.to_string()),
        }
    }

    /// The region, or an error saying how to give one.
    pub fn region(&self) -> Result<&str, OnboardError> {
        self.region.as_deref().ok_or(OnboardError::NoRegion)
    }

    /// Who the credentials are (STS GetCallerIdentity), with the partition and account
    /// every ARN is built from.
    pub async fn identity(&self) -> Result<Identity, OnboardError> {
        let region = self.region()?.to_string();
        let out = self.sts.get_caller_identity().send().await.map_err(|e| {
            call_error(
                "STS GetCallerIdentity",
                "", // every identity may call it: no IAM action to name
                "the configured credentials",
                "the configured credentials",
                &e,
            )
        })?;
        let arn = out.arn().unwrap_or_default().to_string();
        let account = out.account().unwrap_or_default().to_string();
        // arn:<partition>:sts::<account>:…; fall back to the commercial partition.
        let partition = arn
            .split(':')
            .nth(1)
            .filter(|p| !p.is_empty())
            .unwrap_or("aws")
            .to_string();
        if account.is_empty() {
            return Err(OnboardError::Invalid(format!(
                "STS GetCallerIdentity named no account for {arn:?}"
            )));
        }
        Ok(Identity {
            arn,
            target: Target {
                partition,
                region,
                account,
            },
        })
    }
}

/// The caller and where its resources go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The caller's ARN (STS GetCallerIdentity).
    pub arn: String,
    /// Partition, region and account.
    pub target: Target,
}

/// Why an onboarding step could not run.
#[derive(Debug, thiserror::Error)]
pub enum OnboardError {
    /// No region in the SDK chain and none given.
    #[error("no AWS region: pass --region, or set AWS_REGION or a profile's region")]
    NoRegion,
    /// A bad argument or an answer that makes no sense.
    #[error("{0}")]
    Invalid(String),
    /// An AWS call failed.
    #[error("{api} on {resource} failed: {message}{hint}")]
    Call {
        /// The API call (`Kinesis CreateStream`).
        api: String,
        /// The resource it was about.
        resource: String,
        /// The service's `Code: message`.
        message: String,
        /// What to do: the IAM action and who needs it, or nothing.
        hint: String,
        /// How the failure classifies.
        failure: Failure,
    },
    /// Something did not reach the expected state in time.
    #[error("{0}")]
    Timeout(String),
}

impl OnboardError {
    /// The fixes for this failure: `iam_fix` when access was denied, a word on reaching AWS
    /// when the call never got an answer, nothing else (the message says it all).
    pub fn fixes(&self, iam_fix: String) -> Vec<String> {
        match self {
            OnboardError::Call {
                failure: Failure::AccessDenied,
                ..
            } => vec![iam_fix],
            OnboardError::Call {
                failure: Failure::Transient | Failure::Throttled,
                ..
            } => vec![
                "AWS could not be reached or was busy: check the network, proxy and AWS_ENDPOINT_URL, and run this again".into(),
            ],
            _ => vec![],
        }
    }

    /// How the failed call classifies, if it was a call.
    pub fn failure(&self) -> Option<Failure> {
        match self {
            OnboardError::Call { failure, .. } => Some(*failure),
            _ => None,
        }
    }

    /// Whether the call failed because the resource does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            OnboardError::Call {
                failure: Failure::NotFound,
                ..
            }
        )
    }
}

/// An error for `api` (needing IAM `action`) on `resource`, made by `caller`: denied
/// calls name the action and the caller, so the message is the fix.
pub fn call_error<E>(
    api: &str,
    action: &str,
    resource: &str,
    caller: &str,
    error: &SdkError<E, HttpResponse>,
) -> OnboardError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let failure = failure_of(error);
    let hint = match failure {
        _ if action.is_empty() => String::new(),
        Failure::AccessDenied => format!(" ({caller} needs the IAM action {action} on {resource})"),
        Failure::NotFound => String::new(),
        _ => format!(" (IAM action {action})"),
    };
    OnboardError::Call {
        api: api.to_string(),
        resource: resource.to_string(),
        message: error_text(error),
        hint,
        failure,
    }
}

/// [`classify`], plus the codes IAM and Logs use for "not found" and "denied" that the
/// data-plane classification does not know.
pub fn failure_of<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> Failure {
    match code(error) {
        Some("NoSuchEntity" | "NoSuchEntityException") => Failure::NotFound,
        Some("AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation") => {
            Failure::AccessDenied
        }
        _ => classify(error),
    }
}

/// The service's error code, if the service answered.
pub fn code<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> Option<&str> {
    match error {
        SdkError::ServiceError(service) => service.err().code(),
        _ => None,
    }
}

/// A shell word: quoted only when it needs to be, so printed commands paste as they are.
pub fn shell_word(word: &str) -> String {
    if !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+".contains(&b))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_paste() {
        assert_eq!(shell_word("eks-audit-prod"), "eks-audit-prod");
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word(""), "''");
    }

    #[test]
    fn errors_name_call_action_and_caller() {
        let error = OnboardError::Call {
            api: "IAM CreateRole".into(),
            resource: "role eksaudit-cwl-prod".into(),
            message: "AccessDenied: no".into(),
            hint: " (arn:aws:iam::1:user/a needs the IAM action iam:CreateRole on role eksaudit-cwl-prod)".into(),
            failure: Failure::AccessDenied,
        };
        let text = error.to_string();
        assert!(text.starts_with("IAM CreateRole on role eksaudit-cwl-prod failed"));
        assert!(text.contains("needs the IAM action iam:CreateRole"));
        assert!(!error.is_not_found());
    }
}
