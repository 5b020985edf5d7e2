//! Whole-buffer gzip inflate for inputs held in memory (Kinesis records), with libdeflate.
//!
//! A record is at most 1 MiB of gzip whose trailer gives the inflated size, so it can be
//! inflated in one call into an exactly sized buffer; libdeflate does that about four
//! times faster than a streaming inflater. Files keep streaming (flate2), so memory stays
//! flat whatever their size.
//!
//! Member by member: `libdeflate_gzip_decompress_ex` reports how much input a member took,
//! so concatenated members (records written back to back) decode in sequence. Anything
//! this path does not finish cleanly (a corrupt member, trailing garbage, more than the
//! limit) is left to the streaming decoder, which reports it exactly as before.

use std::ffi::c_void;
use std::ptr::NonNull;

use libdeflate_sys::{
    libdeflate_alloc_decompressor, libdeflate_decompressor, libdeflate_free_decompressor,
    libdeflate_gzip_decompress_ex, libdeflate_result_LIBDEFLATE_INSUFFICIENT_SPACE,
    libdeflate_result_LIBDEFLATE_SUCCESS,
};

/// A libdeflate decompressor (one per [`super::Decoder`], reused for every record).
pub(crate) struct Inflater {
    raw: NonNull<libdeflate_decompressor>,
}

// SAFETY: a libdeflate decompressor is plain memory with no thread affinity; `&mut self`
// serialises its use.
unsafe impl Send for Inflater {}
// SAFETY: no method takes `&self`.
unsafe impl Sync for Inflater {}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Inflater")
    }
}

impl Drop for Inflater {
    fn drop(&mut self) {
        // SAFETY: allocated by `libdeflate_alloc_decompressor`, freed once.
        unsafe { libdeflate_free_decompressor(self.raw.as_ptr()) }
    }
}

/// What [`Inflater::gunzip`] gave.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Inflated {
    /// Every member inflated into the buffer.
    Done,
    /// Not finished here (corrupt data, trailing bytes, over the limit): the buffer holds
    /// nothing meaningful, the streaming decoder must take the input.
    Fallback,
}

/// The most deflate can expand: 258 bytes per 2-bit code in the best case, about 1032:1.
pub(super) const MAX_DEFLATE_RATIO: usize = 1032;

impl Inflater {
    /// A new decompressor.
    pub(crate) fn new() -> Self {
        // SAFETY: no preconditions; NULL means out of memory.
        let raw = unsafe { libdeflate_alloc_decompressor() };
        Self {
            raw: NonNull::new(raw).expect("libdeflate_alloc_decompressor: out of memory"),
        }
    }

    /// Inflates every gzip member of `input` into `out` (cleared first), taking at most
    /// `limit` bytes of output.
    pub(crate) fn gunzip(&mut self, input: &[u8], limit: usize, out: &mut Vec<u8>) -> Inflated {
        out.clear();
        let mut rest = input;
        while !rest.is_empty() {
            // The last member's ISIZE (size mod 2^32) is exact for a single member, the
            // usual case; otherwise a first guess, doubled until it fits. It is the
            // input's to claim, so no more than deflate can expand to (1032:1) is taken
            // from it: a forged trailer on a tiny record must not reserve the whole limit.
            let isize_hint = rest
                .last_chunk::<4>()
                .map_or(0, |t| u32::from_le_bytes(*t) as usize)
                .min(rest.len().saturating_mul(MAX_DEFLATE_RATIO));
            let mut want = isize_hint.max(rest.len() * 4).max(64);
            loop {
                let avail = want.min(limit - out.len());
                out.reserve(avail);
                let mut consumed = 0usize;
                let mut written = 0usize;
                // SAFETY: the input pointer and length describe `rest`; the output pointer
                // is the spare capacity of `out`, which holds at least `avail` bytes, and
                // libdeflate writes at most `avail` bytes there.
                let result = unsafe {
                    libdeflate_gzip_decompress_ex(
                        self.raw.as_ptr(),
                        rest.as_ptr().cast::<c_void>(),
                        rest.len(),
                        out.as_mut_ptr().add(out.len()).cast::<c_void>(),
                        avail,
                        &mut consumed,
                        &mut written,
                    )
                };
                if result == libdeflate_result_LIBDEFLATE_SUCCESS {
                    // SAFETY: libdeflate initialised `written` bytes of the spare capacity.
                    unsafe { out.set_len(out.len() + written) };
                    rest = &rest[consumed.min(rest.len())..];
                    break;
                }
                if result != libdeflate_result_LIBDEFLATE_INSUFFICIENT_SPACE
                    || out.len() + avail >= limit
                {
                    out.clear();
                    return Inflated::Fallback;
                }
                want = want.saturating_mul(2);
            }
        }
        Inflated::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn members_in_sequence() {
        let big: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let input = [gzip(b"hello "), gzip(&big), gzip(b""), gzip(b"world")].concat();
        let mut out = Vec::new();
        let mut inflater = Inflater::new();
        assert_eq!(
            inflater.gunzip(&input, usize::MAX, &mut out),
            Inflated::Done
        );
        assert_eq!(out, [&b"hello "[..], &big, b"world"].concat());
    }

    #[test]
    fn problems_fall_back() {
        let mut inflater = Inflater::new();
        let mut out = Vec::new();
        let good = gzip(b"abc");
        let garbage = [good.clone(), b"garbage".to_vec()].concat();
        assert_eq!(
            inflater.gunzip(&garbage, 1 << 20, &mut out),
            Inflated::Fallback
        );
        let mut corrupt = good.clone();
        let n = corrupt.len();
        corrupt[n - 6] ^= 0xff;
        assert_eq!(
            inflater.gunzip(&corrupt, 1 << 20, &mut out),
            Inflated::Fallback
        );
        assert_eq!(inflater.gunzip(&good, 2, &mut out), Inflated::Fallback);
        assert_eq!(inflater.gunzip(&good, 3, &mut out), Inflated::Done);
        assert_eq!(out, b"abc");
    }

    /// Found with the decode_record fuzz target (under a malloc limit): a 40-byte record
    /// whose gzip trailer claims 4 GiB made the inflater reserve the whole 256 MiB limit.
    #[test]
    fn a_forged_size_reserves_what_deflate_can_give() {
        let mut forged = gzip(b"{\"kind\":\"Event\"}\n");
        let n = forged.len();
        forged[n - 4..].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        let mut inflater = Inflater::new();
        let mut out = Vec::new();
        let _ = inflater.gunzip(&forged, 256 * 1024 * 1024, &mut out);
        assert!(
            out.capacity() <= forged.len() * MAX_DEFLATE_RATIO,
            "{}",
            out.capacity()
        );
        // A real size is still taken as it is.
        let big = vec![b'a'; 1 << 20];
        let packed = gzip(&big);
        assert_eq!(
            inflater.gunzip(&packed, usize::MAX, &mut out),
            Inflated::Done
        );
        assert_eq!(out, big);
    }
}
