//! A field as written in a rule, an output or on the command line: `name` or `name[arg]`.

use super::{Arg, ArgKind, FieldId, find};

/// A resolved field request: which field, with which argument.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldRequest {
    /// The field.
    pub field: FieldId,
    /// Its argument.
    pub arg: OwnedArg,
}

/// An argument that owns its key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OwnedArg {
    /// No argument.
    None,
    /// `[key]`.
    Key(Vec<u8>),
    /// `[N]`.
    Index(u64),
}

impl OwnedArg {
    /// Borrows as an [`Arg`].
    pub fn as_arg(&self) -> Arg<'_> {
        match self {
            OwnedArg::None => Arg::None,
            OwnedArg::Key(k) => Arg::Key(k),
            OwnedArg::Index(i) => Arg::Index(*i),
        }
    }
}

/// Why a field request is refused. The texts follow Falco's rule-compilation messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// No such field.
    #[error("unknown field '{0}'")]
    UnknownField(String),
    /// A required argument is missing.
    #[error("{0} requires an argument but none provided")]
    MissingArgument(String),
    /// An argument was given to a field that takes none.
    #[error("{0} does not allow nor require an argument but one is provided: {1}")]
    UnexpectedArgument(String, String),
    /// An index field got something other than a number.
    #[error("{0} takes a numeric index argument, got: {1}")]
    BadIndex(String, String),
    /// `name[` without the closing bracket.
    #[error("field '{0}' has an unterminated argument")]
    Unterminated(String),
}

impl FieldRequest {
    /// Parses and checks `name` or `name[arg]` against the field table.
    pub fn parse(text: &str) -> Result<Self, RequestError> {
        let (name, arg) = match text.find('[') {
            None => (text, None),
            Some(open) => {
                let Some(inner) = text[open + 1..].strip_suffix(']') else {
                    return Err(RequestError::Unterminated(text.to_string()));
                };
                (&text[..open], Some(inner))
            }
        };
        let field = find(name).ok_or_else(|| RequestError::UnknownField(name.to_string()))?;
        Ok(FieldRequest {
            field,
            arg: check_arg(name, field.info().arg, arg)?,
        })
    }

    /// The request as text, `name` or `name[arg]`.
    pub fn display(&self) -> String {
        let name = self.field.info().name;
        match &self.arg {
            OwnedArg::None => name.to_string(),
            OwnedArg::Key(k) => format!("{name}[{}]", String::from_utf8_lossy(k)),
            OwnedArg::Index(i) => format!("{name}[{i}]"),
        }
    }
}

/// Checks an argument against what the field accepts. Index arguments are decimal digits
/// without leading zeros, as Falco requires.
pub fn check_arg(name: &str, kind: ArgKind, arg: Option<&str>) -> Result<OwnedArg, RequestError> {
    match (kind, arg) {
        (ArgKind::None, None) | (ArgKind::OptionalIndex, None) => Ok(OwnedArg::None),
        (ArgKind::None, Some(a)) => Err(RequestError::UnexpectedArgument(
            name.to_string(),
            a.to_string(),
        )),
        (ArgKind::RequiredKey, None) => Err(RequestError::MissingArgument(name.to_string())),
        (ArgKind::RequiredKey, Some(a)) => Ok(OwnedArg::Key(a.as_bytes().to_vec())),
        (ArgKind::OptionalIndex, Some(a)) => {
            let digits = !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit());
            let leading_zero = a.len() > 1 && a.starts_with('0');
            match a.parse::<u64>() {
                Ok(i) if digits && !leading_zero => Ok(OwnedArg::Index(i)),
                _ => Err(RequestError::BadIndex(name.to_string(), a.to_string())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_arguments() {
        let r = FieldRequest::parse("ka.uri.param[command]").unwrap();
        assert_eq!(r.arg, OwnedArg::Key(b"command".to_vec()));
        assert_eq!(r.display(), "ka.uri.param[command]");
        let r = FieldRequest::parse("ka.req.pod.containers.image[2]").unwrap();
        assert_eq!(r.arg, OwnedArg::Index(2));
        assert_eq!(FieldRequest::parse("ka.verb").unwrap().arg, OwnedArg::None);
        let r = FieldRequest::parse("jevt.value[/annotations/a~1b]").unwrap();
        assert_eq!(r.arg, OwnedArg::Key(b"/annotations/a~1b".to_vec()));
    }

    #[test]
    fn refuses_like_falco() {
        assert_eq!(
            FieldRequest::parse("ka.uri.param").unwrap_err().to_string(),
            "ka.uri.param requires an argument but none provided"
        );
        assert_eq!(
            FieldRequest::parse("ka.verb[x]").unwrap_err().to_string(),
            "ka.verb does not allow nor require an argument but one is provided: x"
        );
        assert!(matches!(
            FieldRequest::parse("ka.nope"),
            Err(RequestError::UnknownField(_))
        ));
        assert!(matches!(
            FieldRequest::parse("ka.req.pod.containers.image[01]"),
            Err(RequestError::BadIndex(..))
        ));
        assert!(matches!(
            FieldRequest::parse("ka.req.pod.containers.image[a]"),
            Err(RequestError::BadIndex(..))
        ));
        assert!(matches!(
            FieldRequest::parse("ka.uri.param[x"),
            Err(RequestError::Unterminated(_))
        ));
    }
}
