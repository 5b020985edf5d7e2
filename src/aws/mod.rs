//! AWS plumbing shared by the sources: SDK configuration from the usual chain, roles
//! assumed for cross-account reading, and errors that say which IAM action failed, for
//! whom, on what.
//!
//! Endpoints and credentials come from the SDK's own chain (`AWS_ENDPOINT_URL` and the
//! per-service `AWS_ENDPOINT_URL_<SERVICE>`, environment keys, profiles, IRSA web
//! identity, container and instance metadata), so tests point eksaudit at an emulator
//! with no code change and production needs no flag. Nothing here logs a credential.

use std::fmt;
use std::time::Duration;

use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_kinesis::config::SharedCredentialsProvider;
use aws_sdk_kinesis::config::http::HttpResponse;
use aws_sdk_kinesis::error::{ProvideErrorMetadata, SdkError};

use crate::sources::spec::AssumeRole;

pub mod check;
pub mod onboard;
pub mod policy;
pub mod setup;

/// Loads the SDK configuration: the default chain, then `region`/`profile` if given,
/// then `assume_role` on top (credentials refreshed by the SDK before they expire).
pub async fn sdk_config(
    region: Option<&str>,
    profile: Option<&str>,
    assume_role: Option<&AssumeRole>,
) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = region {
        loader = loader.region(Region::new(region.to_string()));
    }
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    let base = loader.load().await;
    let Some(role) = assume_role else {
        return base;
    };
    let mut provider = AssumeRoleProvider::builder(role.role_arn.clone())
        .session_name(role.session_name.clone())
        .session_length(Duration::from_secs(3600));
    if let Some(external_id) = &role.external_id {
        provider = provider.external_id(external_id.clone());
    }
    if let Some(region) = base.region() {
        provider = provider.region(region.clone());
    }
    let provider = provider.configure(&base).build().await;
    base.to_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .build()
}

/// Who the configured credentials are (STS GetCallerIdentity), for error messages; a
/// readable fallback when even that fails.
pub async fn caller_identity(config: &SdkConfig) -> String {
    let sts = aws_sdk_sts::Client::new(config);
    match sts.get_caller_identity().send().await {
        Ok(identity) => identity.arn().unwrap_or("an unnamed identity").to_string(),
        Err(e) => format!(
            "an identity that STS GetCallerIdentity could not name ({})",
            error_text(&e)
        ),
    }
}

/// How a failed AWS call should be handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Throttled: back off longer, and count it.
    Throttled,
    /// A passing fault (5xx, timeout, connection): retry with backoff.
    Transient,
    /// The resource does not exist.
    NotFound,
    /// The identity lacks a permission (or its credentials are invalid).
    AccessDenied,
    /// The shard iterator expired (Kinesis): get a new one.
    ExpiredIterator,
    /// Anything else: a bug or a misconfiguration; not retried.
    Fatal,
}

/// Classifies an SDK error by its code and kind.
pub fn classify<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> Failure {
    match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Failure::Transient
        }
        SdkError::ServiceError(service) => {
            classify_code(service.err().code(), Some(service.raw().status().as_u16()))
        }
        _ => Failure::Fatal,
    }
}

/// Classifies by error code, then by HTTP status.
pub fn classify_code(code: Option<&str>, status: Option<u16>) -> Failure {
    match code {
        Some(
            "ProvisionedThroughputExceededException"
            | "LimitExceededException"
            | "ThrottlingException"
            | "Throttling"
            | "ThrottledException"
            | "RequestLimitExceeded"
            | "TooManyRequestsException",
        ) => Failure::Throttled,
        Some("ExpiredIteratorException") => Failure::ExpiredIterator,
        Some("ResourceNotFoundException") => Failure::NotFound,
        Some(
            "AccessDeniedException"
            | "AccessDenied"
            | "UnrecognizedClientException"
            | "InvalidSignatureException"
            | "ExpiredTokenException"
            | "KMSAccessDeniedException",
        ) => Failure::AccessDenied,
        Some(
            "InternalFailure"
            | "InternalFailureException"
            | "ServiceUnavailable"
            | "ServiceUnavailableException"
            | "InternalServerError"
            | "KMSThrottlingException",
        ) => Failure::Transient,
        _ => match status {
            Some(429) => Failure::Throttled,
            Some(s) if s >= 500 => Failure::Transient,
            Some(403) => Failure::AccessDenied,
            None => Failure::Transient,
            _ => Failure::Fatal,
        },
    }
}

/// `Code: message` of an SDK error, or its display text.
pub fn error_text<E: ProvideErrorMetadata + std::error::Error + 'static, R: fmt::Debug>(
    error: &SdkError<E, R>,
) -> String {
    match error {
        SdkError::ServiceError(service) => {
            let err = service.err();
            match (err.code(), err.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_string(),
                _ => format!("{err}"),
            }
        }
        other => {
            let mut text = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        }
    }
}

/// Exponential backoff with full jitter: attempt 0 waits up to `base`, each later one
/// up to twice the last, never above `cap`.
pub fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let ceiling = base
        .saturating_mul(1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX))
        .min(cap);
    let millis = ceiling.as_millis().max(1) as u64;
    // Never zero: at least half the ceiling, so a throttled caller really slows down.
    Duration::from_millis(millis / 2 + fastrand::u64(0..=millis / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_classify() {
        assert_eq!(
            classify_code(Some("ProvisionedThroughputExceededException"), Some(400)),
            Failure::Throttled
        );
        assert_eq!(
            classify_code(Some("ExpiredIteratorException"), Some(400)),
            Failure::ExpiredIterator
        );
        assert_eq!(
            classify_code(Some("ResourceNotFoundException"), Some(400)),
            Failure::NotFound
        );
        assert_eq!(
            classify_code(Some("AccessDeniedException"), Some(400)),
            Failure::AccessDenied
        );
        assert_eq!(classify_code(None, Some(503)), Failure::Transient);
        assert_eq!(classify_code(None, Some(429)), Failure::Throttled);
        assert_eq!(
            classify_code(Some("ValidationException"), Some(400)),
            Failure::Fatal
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(5);
        for attempt in 0..40 {
            let wait = backoff(attempt, base, cap);
            assert!(wait <= cap, "{attempt}: {wait:?}");
            let ceiling = base.saturating_mul(1 << attempt.min(16)).min(cap);
            assert!(wait >= ceiling / 2, "{attempt}: {wait:?}");
        }
    }
}
