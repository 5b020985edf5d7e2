//! Gzip inflate with libdeflate, whole member at a time, for records and for files.
//!
//! A record is at most 1 MiB of gzip whose trailer gives the inflated size, so it can be
//! inflated in one call into an exactly sized buffer; libdeflate does that about four
//! times faster than a streaming inflater.
//!
//! Member by member: `libdeflate_gzip_decompress_ex` reports how much input a member took,
//! so concatenated members (records written back to back) decode in sequence. Anything
//! this path does not finish cleanly (a corrupt member, trailing garbage, more than the
//! limit) is left to the streaming decoder, which reports it exactly as before.
//!
//! Files ([`MemberGunzip`]) are gzip members back to back too (a CloudWatch export, a
//! `gzip -c >>` log): each member that fits in a small window is inflated whole, and the
//! first that does not (or is corrupt) hands the rest of the file to flate2's streaming
//! decoder, so memory stays bounded whatever the file and errors read as they always did.

use std::ffi::c_void;
use std::io::{self, Read};
use std::ptr::NonNull;

use libdeflate_sys::{
    libdeflate_alloc_decompressor, libdeflate_decompressor, libdeflate_free_decompressor,
    libdeflate_gzip_decompress_ex, libdeflate_result,
    libdeflate_result_LIBDEFLATE_INSUFFICIENT_SPACE, libdeflate_result_LIBDEFLATE_SUCCESS,
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
                let (result, consumed) = self.member(rest, avail, out);
                if result == libdeflate_result_LIBDEFLATE_SUCCESS {
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

    /// Inflates the first gzip member of `input`, appending at most `avail` bytes to `out`
    /// (which must have that much spare capacity). Returns libdeflate's result and, on
    /// success, the input bytes the member took; `out` grows only on success.
    fn member(
        &mut self,
        input: &[u8],
        avail: usize,
        out: &mut Vec<u8>,
    ) -> (libdeflate_result, usize) {
        let avail = avail.min(out.capacity() - out.len());
        let mut consumed = 0usize;
        let mut written = 0usize;
        // SAFETY: the input pointer and length describe `input`; the output pointer is the
        // spare capacity of `out`, which holds at least `avail` bytes, and libdeflate
        // writes at most `avail` bytes there.
        let result = unsafe {
            libdeflate_gzip_decompress_ex(
                self.raw.as_ptr(),
                input.as_ptr().cast::<c_void>(),
                input.len(),
                out.as_mut_ptr().add(out.len()).cast::<c_void>(),
                avail,
                &mut consumed,
                &mut written,
            )
        };
        if result == libdeflate_result_LIBDEFLATE_SUCCESS {
            // SAFETY: libdeflate initialised `written` (≤ `avail`) bytes of the spare
            // capacity.
            unsafe { out.set_len(out.len() + written.min(avail)) };
        }
        (result, consumed)
    }
}

/// Compressed bytes a file member may take to be inflated whole; a longer member streams.
const WINDOW_LIMIT: usize = 1024 * 1024;
/// Inflated bytes a file member may give to be inflated whole; a larger member streams.
const MEMBER_LIMIT: usize = 4 * 1024 * 1024;
/// Bytes read from the file at a time.
const READ_CHUNK: usize = 256 * 1024;

/// A gunzipping reader over a gzip file: whole members with libdeflate while they fit in
/// [`WINDOW_LIMIT`] compressed and [`MEMBER_LIMIT`] inflated, then flate2's streaming
/// `MultiGzDecoder` from the first member that does not, or that libdeflate refuses
/// (corrupt, truncated, trailing garbage), to the end of the file. What it reads is
/// exactly what `MultiGzDecoder` alone would read, errors included.
pub(crate) struct MemberGunzip<R: Read> {
    state: State<R>,
    /// Inflated bytes of the current member, and how far they have been read.
    out: Vec<u8>,
    out_pos: usize,
}

enum State<R: Read> {
    Members {
        inflater: Inflater,
        reader: R,
        /// Compressed bytes read ahead; `window[pos..]` is not inflated yet.
        window: Vec<u8>,
        pos: usize,
        eof: bool,
    },
    Streaming(Box<Streaming<R>>),
    /// Between the two (only while switching).
    Switching,
}

/// flate2 over the unread window, then the rest of the file.
type Streaming<R> = flate2::read::MultiGzDecoder<io::Chain<io::Cursor<Vec<u8>>, Pending<R>>>;

/// The rest of the file after the window, with a read error met while filling it.
struct Pending<R> {
    error: Option<io::Error>,
    reader: R,
}

impl<R: Read> Read for Pending<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.error.take() {
            Some(e) => Err(e),
            None => self.reader.read(buf),
        }
    }
}

impl<R: Read> std::fmt::Debug for MemberGunzip<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            State::Members { .. } => "members",
            State::Streaming(_) => "streaming",
            State::Switching => "switching",
        };
        f.debug_struct("MemberGunzip")
            .field("state", &state)
            .finish()
    }
}

/// What one attempt at the next member gave.
enum Next {
    /// A member was inflated into `out`.
    Member,
    /// The input is used up.
    End,
    /// Hand the rest to the streaming decoder, with the read error met, if any.
    Stream(Option<io::Error>),
}

impl<R: Read> MemberGunzip<R> {
    /// Reads gzip members from `reader` (positioned at the first member's magic).
    pub(crate) fn new(reader: R) -> Self {
        Self {
            state: State::Members {
                inflater: Inflater::new(),
                reader,
                window: Vec::new(),
                pos: 0,
                eof: false,
            },
            out: Vec::new(),
            out_pos: 0,
        }
    }

    /// Inflates the next member into `out`, reading more of the file while the member
    /// may just be cut by the window's end.
    fn next_member(&mut self) -> Next {
        let State::Members {
            inflater,
            reader,
            window,
            pos,
            eof,
        } = &mut self.state
        else {
            return Next::End;
        };
        self.out.clear();
        self.out_pos = 0;
        loop {
            if *pos == window.len() && *eof {
                return Next::End;
            }
            let input = &window[*pos..];
            if !input.is_empty() {
                let mut want = (input.len() * 4).clamp(64 * 1024, MEMBER_LIMIT);
                loop {
                    self.out.reserve_exact(want);
                    let (result, consumed) = inflater.member(input, want, &mut self.out);
                    if result == libdeflate_result_LIBDEFLATE_SUCCESS {
                        *pos += consumed.min(input.len());
                        return Next::Member;
                    }
                    if result != libdeflate_result_LIBDEFLATE_INSUFFICIENT_SPACE
                        || want >= MEMBER_LIMIT
                    {
                        break;
                    }
                    want = (want * 2).min(MEMBER_LIMIT);
                }
                // Too big, corrupt, or cut by the window: more input may tell which.
                if *eof || input.len() >= WINDOW_LIMIT || want >= MEMBER_LIMIT {
                    return Next::Stream(None);
                }
            }
            // Keep only what is not inflated yet, then read more.
            window.drain(..*pos);
            *pos = 0;
            // Geometric growth: a long member is retried a few times, not once per chunk.
            let filled = window.len();
            window.resize(filled + filled.max(READ_CHUNK), 0);
            // Filled whole (a reader may give a byte at a time): each retry inflates the
            // member from its start again.
            let mut end = filled;
            let error = loop {
                if end == window.len() {
                    break None;
                }
                match reader.read(&mut window[end..]) {
                    Ok(0) => {
                        *eof = true;
                        break None;
                    }
                    Ok(n) => end += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => break Some(e),
                }
            };
            window.truncate(end);
            if error.is_some() {
                return Next::Stream(error);
            }
        }
    }

    /// Hands the unread window and the rest of the file to flate2.
    fn stream(&mut self, error: Option<io::Error>) {
        if let State::Members {
            reader,
            mut window,
            pos,
            ..
        } = std::mem::replace(&mut self.state, State::Switching)
        {
            window.drain(..pos);
            let rest = io::Cursor::new(window).chain(Pending { error, reader });
            self.state = State::Streaming(Box::new(flate2::read::MultiGzDecoder::new(rest)));
        }
        self.out = Vec::new();
        self.out_pos = 0;
    }
}

impl<R: Read> Read for MemberGunzip<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.out_pos < self.out.len() {
                let n = (self.out.len() - self.out_pos).min(buf.len());
                buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
                self.out_pos += n;
                return Ok(n);
            }
            match &mut self.state {
                State::Streaming(decoder) => return decoder.read(buf),
                State::Switching => return Ok(0),
                State::Members { .. } => {}
            }
            match self.next_member() {
                Next::Member => {}
                Next::End => return Ok(0),
                Next::Stream(error) => self.stream(error),
            }
        }
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

    /// Reads `reader` to the end in pieces of `piece` bytes: the bytes, and the error that
    /// stopped it (as text), if any.
    fn read_all(mut reader: impl Read, piece: usize) -> (Vec<u8>, Option<String>) {
        let mut out = Vec::new();
        let mut buf = vec![0u8; piece];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => return (out, None),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => return (out, Some(format!("{:?}: {e}", e.kind()))),
            }
        }
    }

    /// A reader that hands out at most `piece` bytes per read, then fails if asked to.
    struct Pieces {
        data: Vec<u8>,
        pos: usize,
        piece: usize,
        fail_at_end: bool,
    }

    impl Read for Pieces {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.pos == self.data.len() && self.fail_at_end {
                return Err(io::Error::other("disk on fire"));
            }
            let n = self.piece.min(buf.len()).min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    /// Whatever the file, members inflated whole give what flate2's streaming decoder
    /// gives: the same bytes, then the same error.
    #[test]
    fn files_read_exactly_as_flate2_reads_them() {
        let line = |i: u32| {
            format!(
                "{{\"n\":{i},\"pad\":\"{}\"}}\n",
                "x".repeat((i % 97) as usize)
            )
        };
        let small: Vec<Vec<u8>> = (0..300u32)
            .map(|i| {
                gzip(
                    (i * 10..i * 10 + 10)
                        .map(line)
                        .collect::<String>()
                        .as_bytes(),
                )
            })
            .collect();
        // Incompressible, over both limits: streamed.
        let mut state = 7u64;
        let noise: Vec<u8> = (0..(MEMBER_LIMIT + 4096))
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 56) as u8
            })
            .collect();
        let big = gzip(&noise);
        let many = small.concat();
        let mut corrupt_middle = small[..5].concat();
        let mut bad = small[5].clone();
        let n = bad.len();
        bad[n - 6] ^= 0x55;
        corrupt_middle.extend_from_slice(&bad);
        corrupt_middle.extend_from_slice(&small[6..9].concat());
        let truncated = many[..many.len() - 7].to_vec();
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("many members", many.clone()),
            (
                "a big member between small ones",
                [&small[0][..], &big, &small[1]].concat(),
            ),
            (
                "an empty member",
                [gzip(b""), small[0].clone(), gzip(b"")].concat(),
            ),
            ("one trailing byte", [&many[..], b"x"].concat()),
            (
                "trailing garbage",
                [&many[..], b"garbage after the members"].concat(),
            ),
            (
                "a second magic only",
                [&many[..], &[0x1f, 0x8b][..]].concat(),
            ),
            ("a corrupt member in the middle", corrupt_middle),
            ("truncated", truncated),
            ("the magic only", vec![0x1f, 0x8b]),
        ];
        for (name, data) in &cases {
            for piece in [1, 7, 4096, 1 << 20] {
                for fail_at_end in [false, true] {
                    let reader = || Pieces {
                        data: data.clone(),
                        pos: 0,
                        piece,
                        fail_at_end,
                    };
                    let expected = read_all(flate2::read::MultiGzDecoder::new(reader()), 8192);
                    let got = read_all(MemberGunzip::new(reader()), 8192);
                    assert!(
                        got == expected,
                        "{name}, pieces of {piece}, failing at the end: {fail_at_end}: \
                         {} bytes, {:?} instead of {} bytes, {:?}",
                        got.0.len(),
                        got.1,
                        expected.0.len(),
                        expected.1
                    );
                }
            }
        }
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
