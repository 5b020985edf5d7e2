//! Sixteen or eight bytes at a time: finding the bytes that end a run of plain string text,
//! and the end of a container.
//!
//! Escaped JSON inside CloudWatch envelopes and long annotation strings make string
//! scanning the hottest loop of decoding. On x86_64, SSE2 (part of the architecture's
//! baseline, so no run-time detection) tests sixteen bytes per step for "any quote,
//! backslash or control byte"; elsewhere, and for the last few bytes, a 64-bit word test
//! (SWAR) skips plain text eight bytes per step.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte of `x` that is zero (exact for the lowest such byte).
#[inline(always)]
fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// High bit set in each byte of `x` below `n` (n ≤ 128; exact for the lowest such byte).
#[inline(always)]
fn bytes_below(x: u64, n: u8) -> u64 {
    x.wrapping_sub(ONES * u64::from(n)) & !x & HIGHS
}

#[inline(always)]
fn word(s: &[u8], i: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&s[i..i + 8]);
    u64::from_le_bytes(w)
}

/// One 16-byte chunk tested for the bytes a scan stops at: bit `k` of the answer is set
/// when byte `k` is one of them.
#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };

    // SAFETY (every block below): SSE2 is part of the x86_64 baseline, so these
    // intrinsics are always available; the only load reads exactly the 16 bytes of a
    // `&[u8; 16]`.

    #[inline(always)]
    fn eq(v: __m128i, b: u8) -> __m128i {
        // SAFETY: see above.
        unsafe { _mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8)) }
    }

    #[inline(always)]
    fn or(a: __m128i, b: __m128i) -> __m128i {
        // SAFETY: see above.
        unsafe { _mm_or_si128(a, b) }
    }

    #[inline(always)]
    fn load(chunk: &[u8; 16]) -> __m128i {
        // SAFETY: see above.
        unsafe { _mm_loadu_si128(chunk.as_ptr().cast()) }
    }

    #[inline(always)]
    fn mask(v: __m128i) -> u32 {
        // SAFETY: see above.
        unsafe { _mm_movemask_epi8(v) as u32 }
    }

    /// `"`, `\\` or a byte below 0x20.
    #[inline(always)]
    pub(super) fn special(chunk: &[u8; 16]) -> u32 {
        let v = load(chunk);
        // Unsigned v <= 0x1f exactly when max(v, 0x1f) == 0x1f.
        // SAFETY: see above.
        let capped = unsafe { _mm_max_epu8(v, _mm_set1_epi8(0x1f)) };
        mask(or(or(eq(v, b'"'), eq(v, b'\\')), eq(capped, 0x1f)))
    }

    /// `"` or `\\`.
    #[inline(always)]
    pub(super) fn quote_or_backslash(chunk: &[u8; 16]) -> u32 {
        let v = load(chunk);
        mask(or(eq(v, b'"'), eq(v, b'\\')))
    }

    /// The bytes that matter when skipping a container, each kind apart.
    #[inline(always)]
    pub(super) fn classify(chunk: &[u8; 16]) -> super::Classes {
        let v = load(chunk);
        super::Classes {
            quotes: mask(eq(v, b'"')),
            backslashes: mask(eq(v, b'\\')),
            opens: mask(or(eq(v, b'{'), eq(v, b'['))),
            closes: mask(or(eq(v, b'}'), eq(v, b']'))),
        }
    }
}

/// One 16-byte chunk's quotes, backslashes, opening and closing brackets: bit `k` set
/// when byte `k` is one.
#[cfg(target_arch = "x86_64")]
struct Classes {
    quotes: u32,
    backslashes: u32,
    opens: u32,
    closes: u32,
}

/// Bit `k` of the answer is the parity of the bits `0..=k` of `bits` (16 bits): with
/// quotes for `bits`, the bytes inside a string (opening quote included) of a chunk that
/// starts outside one.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn prefix_parity(mut bits: u32) -> u32 {
    bits ^= bits << 1;
    bits ^= bits << 2;
    bits ^= bits << 4;
    bits ^= bits << 8;
    bits & 0xffff
}

/// Where a container skip stands: brackets open, and whether inside a string (and just
/// after a backslash there).
struct Skip {
    depth: usize,
    in_string: bool,
    escaped: bool,
}

impl Skip {
    /// One byte; the offset past the container when this byte closes it.
    #[inline(always)]
    fn byte(&mut self, b: u8, i: usize) -> Option<usize> {
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
            }
            return None;
        }
        match b {
            b'"' => self.in_string = true,
            b'{' | b'[' => self.depth += 1,
            b'}' | b']' => {
                self.depth -= 1;
                if self.depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        None
    }
}

/// Offset just past the object or array that starts at `start` in validated JSON, or
/// `s.len()` if it does not close. Sixteen bytes per step: the bytes inside strings are
/// masked out by the parity of the quotes before them, so only the brackets outside
/// strings are looked at, one by one. A chunk holding a backslash (rare in audit events)
/// is walked byte by byte, as are the last bytes.
pub(crate) fn container_end(s: &[u8], start: usize) -> usize {
    let mut skip = Skip {
        depth: 0,
        in_string: false,
        escaped: false,
    };
    let mut i = start;
    #[cfg(target_arch = "x86_64")]
    while let Some(chunk) = s.get(i..).and_then(<[u8]>::first_chunk::<16>) {
        let classes = sse2::classify(chunk);
        if classes.backslashes != 0 || skip.escaped {
            for (k, &b) in chunk.iter().enumerate() {
                if let Some(end) = skip.byte(b, i + k) {
                    return end;
                }
            }
            i += 16;
            continue;
        }
        let mut inside = prefix_parity(classes.quotes);
        if skip.in_string {
            inside ^= 0xffff;
        }
        let mut brackets = (classes.opens | classes.closes) & !inside;
        while brackets != 0 {
            let k = brackets.trailing_zeros();
            if classes.opens & (1 << k) != 0 {
                skip.depth += 1;
            } else {
                skip.depth -= 1;
                if skip.depth == 0 {
                    return i + k as usize + 1;
                }
            }
            brackets &= brackets - 1;
        }
        skip.in_string = inside & 1 << 15 != 0;
        i += 16;
    }
    while let Some(&b) = s.get(i) {
        if let Some(end) = skip.byte(b, i) {
            return end;
        }
        i += 1;
    }
    s.len()
}

/// Skips 16-byte chunks of `s` from `i` while `mask` finds nothing in them: the offset of
/// the first byte found, or of the first chunk that does not fit (to finish with words).
#[inline(always)]
fn skip_chunks(s: &[u8], mut i: usize, mask: impl Fn(&[u8; 16]) -> u32) -> Result<usize, usize> {
    while let Some(chunk) = s.get(i..).and_then(<[u8]>::first_chunk::<16>) {
        let m = mask(chunk);
        if m != 0 {
            return Ok(i + m.trailing_zeros() as usize);
        }
        i += 16;
    }
    Err(i)
}

/// Index of the first byte of a 16-byte chunk that is `"`, `\` or below 0x20, or 16.
#[inline(always)]
pub(crate) fn special_in_chunk(chunk: &[u8; 16]) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        (sse2::special(chunk) | 1 << 16).trailing_zeros() as usize
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let (lo, hi) = chunk.split_at(8);
        let lo = special_in_word(u64::from_le_bytes(lo.try_into().unwrap_or_default()));
        if lo < 8 {
            return lo;
        }
        8 + special_in_word(u64::from_le_bytes(hi.try_into().unwrap_or_default()))
    }
}

/// Index of the first byte of a little-endian word that is `"`, `\` or below 0x20, or 8.
#[inline(always)]
pub(crate) fn special_in_word(w: u64) -> usize {
    let mask = zero_bytes(w ^ (ONES * u64::from(b'"')))
        | zero_bytes(w ^ (ONES * u64::from(b'\\')))
        | bytes_below(w, 0x20);
    (mask.trailing_zeros() / 8) as usize
}

/// Offset of the first byte at or after `i` that is `"`, `\` or below 0x20, or `s.len()`.
#[inline]
pub(crate) fn string_special(s: &[u8], mut i: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    match skip_chunks(s, i, sse2::special) {
        Ok(found) => return found,
        Err(rest) => i = rest,
    }
    while i + 8 <= s.len() {
        let w = word(s, i);
        let mask = zero_bytes(w ^ (ONES * u64::from(b'"')))
            | zero_bytes(w ^ (ONES * u64::from(b'\\')))
            | bytes_below(w, 0x20);
        if mask != 0 {
            return i + (mask.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < s.len() && !matches!(s[i], b'"' | b'\\' | 0..=0x1f) {
        i += 1;
    }
    i
}

/// Offset of the first byte at or after `i` that is `"` or `\`, or `s.len()`.
#[inline]
pub(crate) fn quote_or_backslash(s: &[u8], mut i: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    match skip_chunks(s, i, sse2::quote_or_backslash) {
        Ok(found) => return found,
        Err(rest) => i = rest,
    }
    while i + 8 <= s.len() {
        let w = word(s, i);
        let mask =
            zero_bytes(w ^ (ONES * u64::from(b'"'))) | zero_bytes(w ^ (ONES * u64::from(b'\\')));
        if mask != 0 {
            return i + (mask.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < s.len() && !matches!(s[i], b'"' | b'\\') {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(s: &[u8], i: usize, f: impl Fn(u8) -> bool) -> usize {
        s[i..].iter().position(|&b| f(b)).map_or(s.len(), |p| i + p)
    }

    fn next(seed: &mut u64, n: u64) -> u64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (*seed >> 33) % n
    }

    /// A pseudo-random JSON container whose strings hold brackets, quotes and
    /// backslashes, as serde_json writes it.
    fn random_container(seed: &mut u64, depth: u64) -> serde_json::Value {
        const TEXTS: [&str; 8] = [
            "",
            "{",
            "}]",
            "a\"b",
            "\\",
            "x[y]z{w}",
            "plain text here",
            "\\\"",
        ];
        let mut items = Vec::new();
        for _ in 0..next(seed, 5) {
            let item = match next(seed, 6) {
                0 | 1 if depth < 4 => random_container(seed, depth + 1),
                2 => serde_json::Value::from(next(seed, 100_000)),
                _ => {
                    let mut text = String::new();
                    for _ in 0..next(seed, 4) {
                        text.push_str(TEXTS[next(seed, 8) as usize]);
                    }
                    serde_json::Value::from(text)
                }
            };
            items.push(item);
        }
        if depth.is_multiple_of(2) {
            serde_json::Value::Array(items)
        } else {
            let members = items.into_iter().enumerate();
            serde_json::Value::Object(members.map(|(i, v)| (format!("k{i}}}"), v)).collect())
        }
    }

    #[test]
    fn container_ends_agree_with_serde_json() {
        let mut seed = 7;
        for case in 0..3000u64 {
            let container = serde_json::to_string(&random_container(&mut seed, case % 2)).unwrap();
            // Every alignment of the container against the 16-byte chunks, and text after it.
            let pad = (case % 19) as usize;
            let doc = format!("{}{container},\"}}]\"]", " ".repeat(pad));
            let mut values = serde_json::Deserializer::from_str(&doc[pad..])
                .into_iter::<serde::de::IgnoredAny>();
            values.next().unwrap().unwrap();
            let want = pad + values.byte_offset();
            assert_eq!(container_end(doc.as_bytes(), pad), want, "{doc}");
        }
        // Unclosed: the end of the input.
        for unclosed in [&b"[1,[2,\"]\""[..], b"{\"a\":\"}}}}}}}}}}}}}}}}}}}}}}}}"] {
            assert_eq!(container_end(unclosed, 0), unclosed.len());
        }
    }

    #[test]
    fn agrees_with_a_byte_loop() {
        let mut samples: Vec<Vec<u8>> = vec![b"".to_vec(), b"plain text without end".to_vec()];
        for special in [
            b'"',
            b'\\',
            0x01,
            0x1f,
            b'{',
            b'}',
            b'[',
            b']',
            b';',
            b'{' | 0x20,
            0xff,
            0x9f,
            0x80,
        ] {
            for pos in 0..48 {
                let mut s = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".to_vec();
                s[pos] = special;
                samples.push(s.clone());
                s[pos + 3] = 0xfb; // bytes with the high bit set must not confuse the masks
                samples.push(s);
            }
        }
        for s in &samples {
            for i in 0..=s.len() {
                assert_eq!(
                    string_special(s, i),
                    naive(s, i, |b| matches!(b, b'"' | b'\\' | 0..=0x1f)),
                    "{s:?} {i}"
                );
                if let Some(chunk) = s.get(i..).and_then(<[u8]>::first_chunk::<16>) {
                    let want = naive(chunk, 0, |b| matches!(b, b'"' | b'\\' | 0..=0x1f));
                    assert_eq!(special_in_chunk(chunk), want.min(16), "{s:?} {i}");
                }
                if i + 8 <= s.len() {
                    let w = u64::from_le_bytes(s[i..i + 8].try_into().unwrap());
                    let want = naive(&s[i..i + 8], 0, |b| matches!(b, b'"' | b'\\' | 0..=0x1f));
                    assert_eq!(special_in_word(w), want, "{s:?} {i}");
                }
                assert_eq!(
                    quote_or_backslash(s, i),
                    naive(s, i, |b| matches!(b, b'"' | b'\\')),
                    "{s:?} {i}"
                );
            }
        }
    }
}
