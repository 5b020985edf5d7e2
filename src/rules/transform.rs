//! Field transformers: `tolower`, `toupper`, `b64`, `basename`, `len` (libsinsp
//! `sinsp_filter_transformers/*`).
//!
//! A transformer changes a field's values and sometimes its type: `len` turns a string (or a
//! whole list) into a number. A transformer that cannot decode its input (`b64` on invalid
//! base64) makes the extraction fail, which Falco treats as "no value".
//!
//! One libsinsp quirk is kept deliberately: string transformers store their result with a
//! trailing NUL counted in its length, and the list `in`/`intersects` comparison compares
//! lengths byte for byte. So on a *list* field, `tolower(f) in (...)` never matches constant
//! values (see [`super::filter`], `terminated`).

use std::borrow::Cow;

use super::fields::{FieldType, FieldValue};

/// A transformer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transformer {
    /// ASCII lower case.
    ToLower,
    /// ASCII upper case.
    ToUpper,
    /// Base64 decoding (padding optional).
    B64,
    /// The part after the last `/`.
    Basename,
    /// The string length, or the number of list items.
    Len,
}

impl Transformer {
    /// By name.
    pub fn from_name(name: &str) -> Option<Transformer> {
        Some(match name {
            "tolower" => Transformer::ToLower,
            "toupper" => Transformer::ToUpper,
            "b64" => Transformer::B64,
            "basename" => Transformer::Basename,
            "len" => Transformer::Len,
            _ => return None,
        })
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Transformer::ToLower => "tolower",
            Transformer::ToUpper => "toupper",
            Transformer::B64 => "b64",
            Transformer::Basename => "basename",
            Transformer::Len => "len",
        }
    }

    /// The type after the transformer, or `None` when the input type is not supported.
    pub fn transform_type(self, ty: FieldType, list: bool) -> Option<(FieldType, bool)> {
        match self {
            Transformer::Len if list => Some((FieldType::U64, false)),
            Transformer::Len => (ty == FieldType::Str).then_some((FieldType::U64, false)),
            _ => (ty == FieldType::Str).then_some((ty, list)),
        }
    }

    /// Applies the transformer; `None` when it fails.
    pub fn apply<'a>(self, v: FieldValue<'a>) -> Option<FieldValue<'a>> {
        match (self, v.materialize()) {
            (Transformer::Len, FieldValue::StrList(items)) => {
                Some(FieldValue::Num(items.len() as u64))
            }
            (Transformer::Len, FieldValue::Str(s)) => Some(FieldValue::Num(s.len() as u64)),
            (t, FieldValue::Str(s)) => t.string(s).map(FieldValue::Str),
            (t, FieldValue::StrList(items)) => items
                .into_iter()
                .map(|s| t.string(s))
                .collect::<Option<Vec<_>>>()
                .map(FieldValue::StrList),
            (_, other) => Some(other),
        }
    }

    fn string<'a>(self, s: Cow<'a, [u8]>) -> Option<Cow<'a, [u8]>> {
        let out = match self {
            Transformer::ToLower => s.to_ascii_lowercase(),
            Transformer::ToUpper => s.to_ascii_uppercase(),
            Transformer::B64 => b64_decode(&s)?,
            Transformer::Basename => {
                let start = s.iter().rposition(|&b| b == b'/').map_or(0, |p| p + 1);
                return Some(match s {
                    Cow::Borrowed(b) => Cow::Borrowed(&b[start..]),
                    Cow::Owned(o) => Cow::Owned(o[start..].to_vec()),
                });
            }
            Transformer::Len => return Some(s),
        };
        Some(super::fields::c_str(Cow::Owned(out)))
    }
}

/// libsinsp `Base64::decodeWithoutPadding`: standard alphabet, up to two `=` at the end,
/// unused trailing bits must be zero.
pub fn b64_decode(input: &[u8]) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u8> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        })
    }
    if input.is_empty() {
        return Some(Vec::new());
    }
    let mut n = input.len();
    if input[n - 1] == b'=' {
        n -= 1;
        if n > 0 && input[n - 1] == b'=' {
            n -= 1;
        }
    }
    if n == 0 {
        return None;
    }
    let mut max_len = n.div_ceil(4) * 3;
    if n % 4 == 3 {
        max_len -= 1;
    }
    if n % 4 == 2 {
        max_len -= 2;
    }
    let mut out: Vec<u8> = Vec::with_capacity(max_len);
    let last = n - 1;
    for (i, &ch) in input[..n].iter().enumerate() {
        let c = val(ch)?;
        let is_last = i == last;
        match i % 4 {
            0 => {
                if is_last {
                    return None;
                }
                out.push(c << 2);
            }
            1 => {
                *out.last_mut()? |= c >> 4;
                if is_last {
                    return (c & 0b1111 == 0 && out.len() == max_len).then_some(out);
                }
                out.push(c << 4);
            }
            2 => {
                *out.last_mut()? |= c >> 2;
                if is_last {
                    return (c & 0b11 == 0 && out.len() == max_len).then_some(out);
                }
                out.push(c << 6);
            }
            _ => *out.last_mut()? |= c,
        }
    }
    (out.len() == max_len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> FieldValue<'static> {
        FieldValue::Str(Cow::Owned(v.as_bytes().to_vec()))
    }

    #[test]
    fn string_transformers() {
        assert_eq!(Transformer::ToLower.apply(s("AbC")), Some(s("abc")));
        assert_eq!(Transformer::ToUpper.apply(s("AbC")), Some(s("ABC")));
        assert_eq!(Transformer::Basename.apply(s("/usr/bin/ls")), Some(s("ls")));
        assert_eq!(Transformer::Basename.apply(s("ls")), Some(s("ls")));
        assert_eq!(Transformer::Len.apply(s("abcd")), Some(FieldValue::Num(4)));
        let list = FieldValue::StrList(vec![Cow::Borrowed(b"A"), Cow::Borrowed(b"B")]);
        assert_eq!(
            Transformer::Len.apply(list.clone()),
            Some(FieldValue::Num(2))
        );
        assert_eq!(
            Transformer::ToLower.apply(list),
            Some(FieldValue::StrList(vec![
                Cow::Borrowed(b"a"),
                Cow::Borrowed(b"b")
            ]))
        );
    }

    #[test]
    fn base64_like_libsinsp() {
        assert_eq!(b64_decode(b"aGVsbG8="), Some(b"hello".to_vec()));
        assert_eq!(b64_decode(b"aGVsbG8"), Some(b"hello".to_vec()));
        assert_eq!(b64_decode(b"aGk="), Some(b"hi".to_vec()));
        assert_eq!(b64_decode(b"aGVsbG8h"), Some(b"hello!".to_vec()));
        assert_eq!(b64_decode(b"a"), None);
        assert_eq!(b64_decode(b"a*=="), None);
        assert_eq!(b64_decode(b""), Some(vec![]));
        assert_eq!(Transformer::B64.apply(s("!!")), None);
    }

    #[test]
    fn types() {
        assert_eq!(
            Transformer::Len.transform_type(FieldType::Str, true),
            Some((FieldType::U64, false))
        );
        assert_eq!(
            Transformer::ToLower.transform_type(FieldType::U64, false),
            None
        );
    }
}
