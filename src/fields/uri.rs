//! `ka.uri.param`: query parameters of a request URI, parsed the way Go's `net/url` does.
//!
//! Upstream calls `url.Parse(requestURI)` and then `url.ParseQuery(u.RawQuery)`, and fails
//! the extraction on *any* error of either, even one about an unrelated parameter. So the
//! same rules are reproduced here: control characters and bad `%` escapes in the path are
//! errors, a `;` in the query is an error (Go ≥ 1.17), `+` in the query is a space, and
//! the first value of a repeated key wins.

use std::borrow::Cow;

/// The first value of query parameter `key` in `uri`, or an error text where Go fails.
/// Borrowed from `uri` unless it had to be unescaped.
pub fn query_param<'u>(uri: &'u [u8], key: &[u8]) -> Result<Option<Cow<'u, [u8]>>, String> {
    match plain_query_param(uri, key) {
        Some(found) => Ok(found.map(Cow::Borrowed)),
        None => go_query_param(uri, key),
    }
}

/// Bytes after which a URI needs Go's whole rules: control bytes, `%` escapes, `+`
/// (a space in a query), `#` (a fragment) and `;` (an error in a query).
const NOT_PLAIN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[0x7f] = true;
    table[b'%' as usize] = true;
    table[b'+' as usize] = true;
    table[b'#' as usize] = true;
    table[b';' as usize] = true;
    table
};

/// The usual API server URI (`/path?k=v&…` with nothing to decode and nothing Go could
/// refuse) read in one pass; `None` when Go's rules are needed. Such a URI parses without
/// error, and its keys and values are their own text.
fn plain_query_param<'u>(uri: &'u [u8], key: &[u8]) -> Option<Option<&'u [u8]>> {
    if !uri.starts_with(b"/") || uri.starts_with(b"//") {
        return None;
    }
    if uri.iter().any(|&b| NOT_PLAIN[usize::from(b)]) {
        return None;
    }
    let Some(question) = memchr::memchr(b'?', uri) else {
        return Some(None);
    };
    let found = uri[question + 1..].split(|&b| b == b'&').find_map(|part| {
        let (k, v) = match memchr::memchr(b'=', part) {
            Some(eq) => (&part[..eq], &part[eq + 1..]),
            None => (part, &b""[..]),
        };
        (!part.is_empty() && k == key).then_some(v)
    });
    Some(found)
}

/// [`query_param`] by Go's rules, step by step.
fn go_query_param<'u>(uri: &'u [u8], key: &[u8]) -> Result<Option<Cow<'u, [u8]>>, String> {
    let raw_query = raw_query(uri)?;
    let mut found = None;
    let mut first_error = None;
    for part in raw_query.split(|&b| b == b'&') {
        if part.contains(&b';') {
            first_error.get_or_insert_with(|| "invalid semicolon separator in query".to_string());
            continue;
        }
        if part.is_empty() {
            continue;
        }
        let (k, v) = match part.iter().position(|&b| b == b'=') {
            Some(eq) => (&part[..eq], &part[eq + 1..]),
            None => (part, &b""[..]),
        };
        let k = match unescape(k, Mode::QueryComponent) {
            Ok(k) => k,
            Err(e) => {
                first_error.get_or_insert(e);
                continue;
            }
        };
        let v = match unescape(v, Mode::QueryComponent) {
            Ok(v) => v,
            Err(e) => {
                first_error.get_or_insert(e);
                continue;
            }
        };
        if found.is_none() && *k == *key {
            found = Some(v);
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(found),
    }
}

/// What `url.Parse` leaves in `RawQuery`, after the checks that make it fail.
fn raw_query(uri: &[u8]) -> Result<&[u8], String> {
    if uri.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return Err("net/url: invalid control character in URL".to_string());
    }
    let (rest, fragment) = match uri.iter().position(|&b| b == b'#') {
        Some(i) => (&uri[..i], Some(&uri[i + 1..])),
        None => (uri, None),
    };
    if let Some(fragment) = fragment {
        unescape(fragment, Mode::Fragment)?;
    }
    let (has_scheme, rest) = strip_scheme(rest)?;
    let (path, query) = if rest.ends_with(b"?") && rest.iter().filter(|&&b| b == b'?').count() == 1
    {
        (&rest[..rest.len() - 1], &b""[..])
    } else {
        match rest.iter().position(|&b| b == b'?') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &b""[..]),
        }
    };
    // With a scheme and no leading '/', Go keeps the rest as an opaque string, unchecked.
    if !has_scheme || path.starts_with(b"/") {
        check_path(path)?;
    }
    Ok(query)
}

/// Go's `getScheme`: `[A-Za-z][A-Za-z0-9+.-]*:` is a scheme, a leading `:` is an error.
fn strip_scheme(s: &[u8]) -> Result<(bool, &[u8]), String> {
    for (i, &c) in s.iter().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
            b':' if i == 0 => return Err("missing protocol scheme".to_string()),
            b':' => return Ok((true, &s[i + 1..])),
            _ => return Ok((false, s)),
        }
    }
    Ok((false, s))
}

/// The path part must unescape, and a relative path may not have `:` in its first segment.
fn check_path(path: &[u8]) -> Result<(), String> {
    if let Some(authority_and_path) = path.strip_prefix(b"//") {
        let end = authority_and_path
            .iter()
            .position(|&b| b == b'/')
            .unwrap_or(authority_and_path.len());
        check_port(&authority_and_path[..end])?;
        unescape(&authority_and_path[end..], Mode::Path)?;
        return Ok(());
    }
    if !path.starts_with(b"/") {
        let segment_end = path.iter().position(|&b| b == b'/').unwrap_or(path.len());
        if path[..segment_end].contains(&b':') {
            return Err("first path segment in URL cannot contain colon".to_string());
        }
    }
    unescape(path, Mode::Path)?;
    Ok(())
}

/// A port after the host must be digits (Go's `validOptionalPort`).
fn check_port(authority: &[u8]) -> Result<(), String> {
    let host = match authority.iter().rposition(|&b| b == b'@') {
        Some(at) => &authority[at + 1..],
        None => authority,
    };
    let after_bracket = match host.iter().rposition(|&b| b == b']') {
        Some(i) => &host[i + 1..],
        None => host,
    };
    if let Some(colon) = after_bracket.iter().position(|&b| b == b':') {
        let port = &after_bracket[colon + 1..];
        if !port.iter().all(u8::is_ascii_digit) {
            return Err(format!(
                "invalid port \"{}\" after host",
                String::from_utf8_lossy(&after_bracket[colon..])
            ));
        }
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Path,
    QueryComponent,
    Fragment,
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Go's `url.unescape`: `%XX` decodes, a malformed escape is an error, and in a query
/// component `+` is a space. Text with nothing to decode is borrowed: every event's path
/// is checked this way, and rules evaluate `ka.uri.param` on events that match nothing.
fn unescape(s: &[u8], mode: Mode) -> Result<Cow<'_, [u8]>, String> {
    let plus_is_space = mode == Mode::QueryComponent;
    if !s.iter().any(|&b| b == b'%' || (plus_is_space && b == b'+')) {
        return Ok(Cow::Borrowed(s));
    }
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' => {
                let decoded = s
                    .get(i + 1..i + 3)
                    .and_then(|h| Some(hex(h[0])? << 4 | hex(h[1])?));
                let Some(b) = decoded else {
                    let end = (i + 3).min(s.len());
                    return Err(format!(
                        "invalid URL escape \"{}\"",
                        String::from_utf8_lossy(&s[i..end])
                    ));
                };
                out.push(b);
                i += 3;
            }
            b'+' if mode == Mode::QueryComponent => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(uri: &str, key: &str) -> Result<Option<String>, String> {
        query_param(uri.as_bytes(), key.as_bytes())
            .map(|v| v.map(|v| String::from_utf8(v.into_owned()).unwrap()))
    }

    #[test]
    fn exec_command_params() {
        let uri = "/api/v1/namespaces/default/pods/nginx/exec?command=bash&command=-c&container=nginx&stdin=true";
        assert_eq!(param(uri, "command").unwrap().as_deref(), Some("bash"));
        assert_eq!(param(uri, "container").unwrap().as_deref(), Some("nginx"));
        assert_eq!(param(uri, "tty").unwrap(), None);
    }

    #[test]
    fn query_unescaping() {
        assert_eq!(
            param("/x?a=b+c%2Fd", "a").unwrap().as_deref(),
            Some("b c/d")
        );
        assert_eq!(param("/x?a", "a").unwrap().as_deref(), Some(""));
        assert_eq!(param("/x?a=1&&a=2", "a").unwrap().as_deref(), Some("1"));
        assert_eq!(param("/x?", "a").unwrap(), None);
        assert_eq!(param("/x?a=1#frag", "a").unwrap().as_deref(), Some("1"));
    }

    #[test]
    fn values_without_escapes_are_borrowed_from_the_uri() {
        let uri = b"/api/v1/pods?dryRun=All&b=c+d";
        assert!(matches!(
            query_param(uri, b"dryRun"),
            Ok(Some(Cow::Borrowed(b"All")))
        ));
        assert!(matches!(query_param(uri, b"b"), Ok(Some(Cow::Owned(v))) if v == b"c d"));
        assert!(matches!(query_param(b"/api/v1/pods", b"a"), Ok(None)));
    }

    /// The one-pass reading of plain URIs answers what Go's rules answer, and leaves
    /// everything else to them.
    #[test]
    fn plain_uris_read_in_one_pass_agree_with_go_rules() {
        let uris = [
            "/api/v1/namespaces/default/pods/nginx/exec?command=bash&command=-c&container=nginx",
            "/api/v1/pods",
            "/api/v1/pods?",
            "/x?a",
            "/x?=1&a=&a=2",
            "/x?&&a=1",
            "/x?a=1?b=2&b=3",
            "/x?b=a=c",
            "/x:y?a=1",
            "/x?a=1;b=2",
            "/x?a=b+c",
            "/x?a=%41",
            "/x%zz?a=1",
            "/x?a=1#f",
            "//host:port/x?a=1",
            "x/y?a=1",
            "/x\n?a=1",
            "/x?a=\u{7f}",
        ];
        for uri in uris {
            for key in ["a", "b", "command", "container", "", "c"] {
                let (uri, key) = (uri.as_bytes(), key.as_bytes());
                let go = go_query_param(uri, key);
                assert_eq!(query_param(uri, key), go, "{uri:?} {key:?}");
                if let Some(plain) = plain_query_param(uri, key) {
                    assert_eq!(Ok(plain.map(Cow::Borrowed)), go, "{uri:?} {key:?}");
                }
            }
        }
        assert!(plain_query_param(b"/x?a=1", b"a").is_some());
        assert!(plain_query_param(b"/x?a=1;b", b"a").is_none());
    }

    #[test]
    fn go_errors_fail_the_whole_extraction() {
        assert!(param("/x?a=1;b=2", "a").is_err(), "semicolon");
        assert!(param("/x?a=1&b=%zz", "a").is_err(), "bad escape elsewhere");
        assert!(param("/x%zz?a=1", "a").is_err(), "bad escape in path");
        assert!(param("/x\n?a=1", "a").is_err(), "control character");
        assert!(param(":x?a=1", "a").is_err(), "missing scheme");
        assert!(param("a:b/c?a=1", "a").is_ok(), "a: is a scheme");
        assert!(param("//host:port/x?a=1", "a").is_err(), "bad port");
        assert!(param("//host:80/x?a=1", "a").is_ok());
        assert!(
            param("urn:x%zz?a=1", "a").is_ok(),
            "opaque part is not checked"
        );
    }
}
