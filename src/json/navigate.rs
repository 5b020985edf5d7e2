//! Lazy navigation over validated compact JSON.
//!
//! Every function here assumes its input went through [`super::scan`] and
//! [`super::compact`]: no whitespace outside strings, balanced brackets, well-formed
//! strings. That assumption is what makes skipping a value a tight byte loop.

use std::borrow::Cow;

use super::unescape::unescape;

/// The type of a JSON value, known from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `{...}`
    Object,
    /// `[...]`
    Array,
    /// `"..."`
    String,
    /// a number
    Number,
    /// `true` or `false`
    Bool,
    /// `null`
    Null,
}

/// One validated, compact JSON value: a byte range, navigated on demand.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Json<'a>(&'a [u8]);

impl std::fmt::Debug for Json<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Json({})", String::from_utf8_lossy(self.0))
    }
}

/// Offset just past the string that starts (with its opening quote) at `start`.
pub(crate) fn string_end(s: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    loop {
        i = super::swar::quote_or_backslash(s, i);
        match s.get(i) {
            Some(b'"') => return i + 1,
            Some(_) => i += 2,
            None => return s.len(),
        }
    }
}

/// Offset just past the value that starts at `start`.
pub(crate) fn value_end(s: &[u8], start: usize) -> usize {
    match s[start] {
        b'"' => string_end(s, start),
        b'{' | b'[' => super::swar::container_end(s, start),
        _ => {
            let mut i = start + 1;
            while i < s.len() && !matches!(s[i], b',' | b'}' | b']') {
                i += 1;
            }
            i
        }
    }
}

impl<'a> Json<'a> {
    /// Wraps bytes that hold exactly one validated compact JSON value.
    ///
    /// Passing anything else is not unsafe, but navigation answers are then meaningless.
    pub fn new(bytes: &'a [u8]) -> Self {
        Json(bytes)
    }

    /// The value's compact text, exactly as it appears in the payload.
    pub fn raw(self) -> &'a [u8] {
        self.0
    }

    /// The value's type.
    pub fn kind(self) -> Kind {
        match self.0.first() {
            Some(b'{') => Kind::Object,
            Some(b'[') => Kind::Array,
            Some(b'"') => Kind::String,
            Some(b't' | b'f') => Kind::Bool,
            Some(b'n') => Kind::Null,
            _ => Kind::Number,
        }
    }

    /// Whether this is the literal `true` (Go's `GetBool`: anything else is false).
    pub fn is_true(self) -> bool {
        self.0 == b"true"
    }

    /// The members of an object (empty for any other type), in document order.
    pub fn members(self) -> Members<'a> {
        let pos = if self.kind() == Kind::Object && self.0.len() > 2 {
            1
        } else {
            self.0.len()
        };
        Members { s: self.0, pos }
    }

    /// The elements of an array (empty for any other type).
    pub fn elements(self) -> Elements<'a> {
        let pos = if self.kind() == Kind::Array && self.0.len() > 2 {
            1
        } else {
            self.0.len()
        };
        Elements { s: self.0, pos }
    }

    /// The first member named `key` of an object. Keys are compared after unescaping, so
    /// `"a\/b"` matches `a/b`. Non-objects have no members.
    pub fn get(self, key: &str) -> Option<Json<'a>> {
        self.get_bytes(key.as_bytes())
    }

    /// [`Json::get`] with a byte-string key.
    pub fn get_bytes(self, key: &[u8]) -> Option<Json<'a>> {
        self.members()
            .find(|(raw_key, _)| key_matches(raw_key, key))
            .map(|(_, v)| v)
    }

    /// The first member named by each of `keys`, found in one pass over the object (what
    /// `N` calls to [`Json::get`] would answer, without skipping big members N times).
    pub fn pick<const N: usize>(self, keys: [&str; N]) -> [Option<Json<'a>>; N] {
        let mut found = [None; N];
        let mut missing = N;
        for (raw_key, value) in self.members() {
            let escaped = raw_key.contains(&b'\\');
            for (slot, key) in found.iter_mut().zip(keys) {
                let matches = if escaped {
                    key_matches(raw_key, key.as_bytes())
                } else {
                    raw_key == key.as_bytes()
                };
                if slot.is_none() && matches {
                    *slot = Some(value);
                    missing -= 1;
                    break;
                }
            }
            if missing == 0 {
                break;
            }
        }
        found
    }

    /// The element at `index` of an array.
    pub fn at(self, index: usize) -> Option<Json<'a>> {
        self.elements().nth(index)
    }

    /// Go fastjson's `Get(key)`: an object member by name, or an array element when the
    /// key reads as a decimal integer (`strconv.Atoi` rules: optional sign, leading zeros
    /// allowed). This is how the `json` plugin walks a JSON pointer.
    pub fn get_go(self, key: &[u8]) -> Option<Json<'a>> {
        match self.kind() {
            Kind::Object => self.get_bytes(key),
            Kind::Array => atoi(key)
                .and_then(|n| usize::try_from(n).ok())
                .and_then(|n| self.at(n)),
            _ => None,
        }
    }

    /// The unescaped contents when this is a string.
    pub fn str(self) -> Option<Cow<'a, [u8]>> {
        (self.kind() == Kind::String).then(|| unescape(&self.0[1..self.0.len() - 1]))
    }

    /// The value as k8saudit renders any value as text: strings unescaped, everything
    /// else as its compact JSON.
    pub fn text(self) -> Cow<'a, [u8]> {
        self.str().unwrap_or(Cow::Borrowed(self.0))
    }
}

/// Go's `strconv.Atoi` on a key: `[+-]?[0-9]+` that fits an `i64`.
fn atoi(key: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(key).ok()?;
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<i64>().ok()
}

fn key_matches(raw_key: &[u8], key: &[u8]) -> bool {
    // Unescaping only shortens a key, and changes any key that holds a backslash; keys
    // are short, so a plain loop beats a memchr call.
    if raw_key.len() < key.len() {
        return false;
    }
    if !raw_key.contains(&b'\\') {
        return raw_key == key;
    }
    *unescape(raw_key) == *key
}

/// Iterator over an object's members: (raw key bytes without quotes, value).
#[derive(Debug, Clone)]
pub struct Members<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Members<'a> {
    type Item = (&'a [u8], Json<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos + 1 >= self.s.len() {
            return None;
        }
        // at a key's opening quote
        let key_end = string_end(self.s, self.pos);
        let key = &self.s[self.pos + 1..key_end - 1];
        let value_start = key_end + 1; // skip ':'
        let value_end = value_end(self.s, value_start);
        self.pos = value_end + 1; // skip ',' or land on the closing '}'
        Some((key, Json(&self.s[value_start..value_end])))
    }
}

/// Iterator over an array's elements.
#[derive(Debug, Clone)]
pub struct Elements<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Elements<'a> {
    type Item = Json<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos + 1 >= self.s.len() {
            return None;
        }
        let end = value_end(self.s, self.pos);
        let value = Json(&self.s[self.pos..end]);
        self.pos = end + 1;
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(s: &str) -> Json<'_> {
        Json::new(s.as_bytes())
    }

    #[test]
    fn members_and_elements() {
        let d = doc(r#"{"a":{"x":[1,"]",{"y":"}"}]},"b":"q\"","c":12.50}"#);
        let keys: Vec<_> = d.members().map(|(k, _)| k.to_vec()).collect();
        assert_eq!(keys, vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
        assert_eq!(d.get("c").unwrap().raw(), b"12.50");
        assert_eq!(&d.get("b").unwrap().text()[..], b"q\"");
        let x = d.get("a").unwrap().get("x").unwrap();
        assert_eq!(x.elements().count(), 3);
        assert_eq!(&x.at(1).unwrap().text()[..], b"]");
        assert_eq!(x.at(2).unwrap().raw(), br#"{"y":"}"}"#);
        assert!(x.at(3).is_none());
        assert_eq!(doc("[]").elements().count(), 0);
        assert_eq!(doc("{}").members().count(), 0);
        assert!(doc("\"s\"").get("s").is_none());
    }

    #[test]
    fn pick_answers_like_get() {
        let d = doc(r#"{"a":1,"b":{"x":2},"a":3,"c\/d":4}"#);
        let [a, b, cd, z] = d.pick(["a", "b", "c/d", "z"]);
        assert_eq!(
            (a.unwrap().raw(), b.unwrap().raw(), cd.unwrap().raw()),
            (&b"1"[..], &br#"{"x":2}"#[..], &b"4"[..])
        );
        assert!(z.is_none());
    }

    #[test]
    fn first_duplicate_key_wins() {
        assert_eq!(doc(r#"{"a":1,"a":2}"#).get("a").unwrap().raw(), b"1");
    }

    #[test]
    fn escaped_keys_match_unescaped_names() {
        let d = doc(r#"{"a\/b":1,"\u0063":2}"#);
        assert_eq!(d.get("a/b").unwrap().raw(), b"1");
        assert_eq!(d.get("c").unwrap().raw(), b"2");
    }

    #[test]
    fn go_get_indexes_arrays_like_atoi() {
        let d = doc(r#"[10,11,12]"#);
        assert_eq!(d.get_go(b"1").unwrap().raw(), b"11");
        assert_eq!(d.get_go(b"01").unwrap().raw(), b"11");
        assert_eq!(d.get_go(b"+2").unwrap().raw(), b"12");
        assert!(d.get_go(b"-1").is_none());
        assert!(d.get_go(b"3").is_none());
        assert!(d.get_go(b"x").is_none());
        assert!(d.get_go(b"99999999999999999999").is_none());
    }

    #[test]
    fn text_renders_non_strings_as_compact_json() {
        let d = doc(r#"{"n":1e3,"b":true,"o":{"k":[null]},"s":"t"}"#);
        assert_eq!(&d.get("n").unwrap().text()[..], b"1e3");
        assert_eq!(&d.get("b").unwrap().text()[..], b"true");
        assert_eq!(&d.get("o").unwrap().text()[..], br#"{"k":[null]}"#);
        assert_eq!(&d.get("s").unwrap().text()[..], b"t");
    }
}
