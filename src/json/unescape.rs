//! String escapes: reading them the way the upstream plugin does, and writing them.

use std::borrow::Cow;

fn hex4(s: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(s.get(..4)?).ok()?;
    u16::from_str_radix(text, 16).ok()
}

fn push_char(out: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// Unescapes the contents of a JSON string (without its quotes).
///
/// Follows fastjson's best-effort rules, which is what a k8saudit field shows: a lone
/// UTF-16 surrogate escape is kept as its literal `\uXXXX` text, and a high surrogate
/// followed by a non-surrogate escape decodes to U+FFFD. Borrowed when nothing is escaped.
pub fn unescape(raw: &[u8]) -> Cow<'_, [u8]> {
    // Most strings are short: a plain loop beats a memchr call there.
    let first = if raw.len() < 32 {
        raw.iter().position(|&b| b == b'\\')
    } else {
        memchr::memchr(b'\\', raw)
    };
    let Some(first) = first else {
        return Cow::Borrowed(raw);
    };
    let mut out = Vec::with_capacity(raw.len());
    out.extend_from_slice(&raw[..first]);
    let mut s = &raw[first..];
    while !s.is_empty() {
        if s[0] != b'\\' {
            let next = memchr::memchr(b'\\', s).unwrap_or(s.len());
            out.extend_from_slice(&s[..next]);
            s = &s[next..];
            continue;
        }
        let Some(&e) = s.get(1) else {
            out.push(b'\\');
            break;
        };
        s = &s[2..];
        match e {
            b'"' | b'\\' | b'/' => out.push(e),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'u' => {
                let Some(x) = hex4(s) else {
                    out.extend_from_slice(b"\\u");
                    continue;
                };
                let xs = &s[..4];
                s = &s[4..];
                if !(0xD800..0xE000).contains(&x) {
                    push_char(&mut out, char::from_u32(u32::from(x)).unwrap_or('\u{FFFD}'));
                    continue;
                }
                let low = (s.len() >= 6 && s[0] == b'\\' && s[1] == b'u')
                    .then(|| hex4(&s[2..]))
                    .flatten();
                match low {
                    None => {
                        out.extend_from_slice(b"\\u");
                        out.extend_from_slice(xs);
                    }
                    Some(y) => {
                        s = &s[6..];
                        push_char(&mut out, decode_surrogates(x, y));
                    }
                }
            }
            other => {
                // Not reachable for validated input; keep the text as it was.
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    Cow::Owned(out)
}

/// Go's `utf16.DecodeRune`: a valid pair gives its code point, anything else U+FFFD.
fn decode_surrogates(high: u16, low: u16) -> char {
    if (0xD800..0xDC00).contains(&high) && (0xDC00..0xE000).contains(&low) {
        let c = 0x10000 + ((u32::from(high) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
        char::from_u32(c).unwrap_or('\u{FFFD}')
    } else {
        '\u{FFFD}'
    }
}

/// Appends `text` to `out` as a JSON string literal (with quotes), escaping what JSON
/// requires. Bytes that are not UTF-8 are passed through unchanged.
pub fn push_escaped(out: &mut Vec<u8>, text: &[u8]) {
    out.push(b'"');
    for &b in text {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Vec<u8> {
        unescape(s.as_bytes()).into_owned()
    }

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(unescape(b"abc"), Cow::Borrowed(_)));
    }

    #[test]
    fn standard_escapes() {
        assert_eq!(u(r#"a\"b\\c\/d\b\f\n\r\t"#), b"a\"b\\c/d\x08\x0c\n\r\t");
        assert_eq!(u(r"\u00e9\u4e2d"), "é中".as_bytes());
        assert_eq!(u(r"\ud83d\ude00"), "😀".as_bytes());
    }

    #[test]
    fn lone_surrogates_follow_fastjson() {
        assert_eq!(u(r"\ud83dx"), br"\ud83dx");
        assert_eq!(u(r"\ude00"), br"\ude00");
        assert_eq!(u(r"\ud83d\u0041"), "\u{FFFD}".as_bytes());
    }

    #[test]
    fn escaping_round_trips() {
        let mut out = Vec::new();
        push_escaped(&mut out, b"a\"b\\c\nd\x01e");
        assert_eq!(out, br#""a\"b\\c\nd\u0001e""#);
        assert_eq!(&unescape(&out[1..out.len() - 1])[..], b"a\"b\\c\nd\x01e");
    }
}
