//! Sixteen or eight bytes at a time: finding the bytes that end a run of plain string text.
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

    /// `"`, `{`, `}`, `[` or `]`.
    #[inline(always)]
    pub(super) fn structural(chunk: &[u8; 16]) -> u32 {
        let v = load(chunk);
        let brackets = or(or(eq(v, b'{'), eq(v, b'}')), or(eq(v, b'['), eq(v, b']')));
        mask(or(eq(v, b'"'), brackets))
    }
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

/// Offset of the first byte at or after `i` that is `"`, `{`, `}`, `[` or `]`, or
/// `s.len()`: the bytes that matter when skipping a container.
#[inline]
pub(crate) fn structural(s: &[u8], mut i: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    match skip_chunks(s, i, sse2::structural) {
        Ok(found) => return found,
        Err(rest) => i = rest,
    }
    while i + 8 <= s.len() {
        let w = word(s, i);
        // '[' 0x5B and '{' 0x7B differ only in bit 5, as do ']' 0x5D and '}' 0x7D.
        let folded = w | (ONES * 0x20);
        let mask = zero_bytes(w ^ (ONES * u64::from(b'"')))
            | zero_bytes(folded ^ (ONES * 0x7B))
            | zero_bytes(folded ^ (ONES * 0x7D));
        if mask != 0 {
            return i + (mask.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < s.len() && !matches!(s[i], b'"' | b'{' | b'}' | b'[' | b']') {
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
                assert_eq!(
                    structural(s, i),
                    naive(s, i, |b| matches!(b, b'"' | b'{' | b'}' | b'[' | b']')),
                    "{s:?} {i}"
                );
            }
        }
    }
}
