//! Eight bytes at a time: finding the bytes that end a run of plain string text.
//!
//! Escaped JSON inside CloudWatch envelopes and long annotation strings make string
//! scanning the hottest loop of decoding; testing a 64-bit word for "any quote, backslash
//! or control byte" skips plain text eight bytes per step without SIMD intrinsics.

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
            for pos in 0..20 {
                let mut s = b"abcdefghijklmnopqrstuvwxyz".to_vec();
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
