//! Sources: where audit bytes come from, named by an open-params string.
//!
//! Today that is `file://<path>`: a file or a directory of audit logs in any format
//! [`crate::decode`] recognises, replayed once. The AWS sources (`kinesis://…`,
//! `cloudwatch://…`, and a bare cluster name as Falco's k8saudit-eks plugin takes) are
//! recognised and refused with a clear "not supported yet" until they are built, so a
//! configuration written for them fails loudly instead of reading nothing.

use std::path::PathBuf;

/// A parsed open-params string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// Replay a file or a directory's files, then end.
    File(PathBuf),
}

/// Why an open-params string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// Nothing was given.
    #[error(
        "open_params is empty: give file://<path> (an audit log file or a directory of them) to replay"
    )]
    Empty,
    /// `file://` without a path.
    #[error("open_params \"file://\" has no path: give file://<path>")]
    EmptyPath,
    /// A source that exists in the design but is not built yet.
    #[error(
        "open_params {given:?}: {what} is not supported yet; use file://<path> to replay audit logs"
    )]
    NotSupportedYet {
        /// The string given.
        given: String,
        /// Which source it asks for.
        what: &'static str,
    },
    /// An unknown scheme.
    #[error("open_params {0:?}: unknown scheme; supported: file://<path>")]
    UnknownScheme(String),
}

/// Parses an open-params string.
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
    let not_yet = |what| SpecError::NotSupportedYet {
        given: params.to_string(),
        what,
    };
    if params.starts_with("kinesis://") {
        return Err(not_yet("reading a Kinesis data stream"));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn aws_forms_are_not_supported_yet() {
        for p in [
            "kinesis://stream",
            "cloudwatch:///aws/eks/x/cluster",
            "my-cluster",
        ] {
            let err = parse_open_params(p).unwrap_err().to_string();
            assert!(err.contains("not supported yet"), "{p}: {err}");
        }
        assert!(matches!(
            parse_open_params("http://:9765/k8s-audit"),
            Err(SpecError::UnknownScheme(_))
        ));
    }
}
