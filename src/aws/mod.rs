//! AWS plumbing shared by the sources: SDK configuration from the usual chain, roles
//! assumed for cross-account reading, and errors that say which IAM action failed, for
//! whom, on what.
//!
//! Endpoints and credentials come from the SDK's own chain (`AWS_ENDPOINT_URL` and the
//! per-service `AWS_ENDPOINT_URL_<SERVICE>`, environment keys, profiles, IRSA web
//! identity, container and instance metadata), so tests point eksaudit at an emulator
//! with no code change and production needs no flag. Nothing here logs a credential.
//!
//! The SDK parts (configuration, errors, `check`, `onboard`, `setup`) need the `aws`
//! feature; [`Failure`], [`classify_code`], [`backoff`] and [`policy`] do not.

use std::time::Duration;

#[cfg(feature = "aws")]
pub mod check;
#[cfg(feature = "aws")]
pub mod onboard;
pub mod policy;
#[cfg(feature = "aws")]
mod sdk;
#[cfg(feature = "aws")]
pub mod setup;

#[cfg(feature = "aws")]
pub use sdk::{caller_identity, classify, error_text, sdk_config};

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
