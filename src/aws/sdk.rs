//! The SDK side of [`crate::aws`] (the `aws` feature): configuration, the caller's
//! identity, and SDK errors classified and made readable.

use std::fmt;
use std::time::Duration;

use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_kinesis::config::SharedCredentialsProvider;
use aws_sdk_kinesis::config::http::HttpResponse;
use aws_sdk_kinesis::error::{ProvideErrorMetadata, SdkError};

use super::{Failure, classify_code};
use crate::sources::spec::AssumeRole;

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
