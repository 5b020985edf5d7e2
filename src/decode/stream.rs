//! Framing: a byte stream in, one JSON document at a time out.
//!
//! Accepts JSON lines, several documents on one line (what concatenated gzip members of
//! Kinesis records give), and documents spread over many lines (a pretty-printed
//! `EventList`), without knowing in advance which. A broken document is reported with its
//! line and the reader resynchronises at the next line that starts a JSON object or array,
//! so one bad line costs that line only.

use std::io::{self, Read};

use crate::json::{JsonError, JsonErrorKind, Scanned, scan};

/// One framed document, or what went wrong instead.
#[derive(Debug)]
pub enum Frame<'a> {
    /// A complete, valid JSON document.
    Document {
        /// Its bytes (not compacted yet; `whitespace` says whether it needs to be).
        bytes: &'a [u8],
        /// Whether it contains insignificant whitespace.
        whitespace: bool,
        /// 1-based line of its first byte.
        line: u64,
    },
    /// Invalid JSON starting at `line`; the reader skipped to the next plausible document.
    Invalid {
        /// The grammar error (offset relative to the document start).
        error: JsonError,
        /// 1-based line where the broken document started.
        line: u64,
        /// The text of that first line, to recognise truncation and recover an auditID.
        first_line: Vec<u8>,
        /// How many lines were skipped to resynchronise (at least 1).
        skipped_lines: u64,
    },
    /// A document larger than the configured maximum; skipped like an invalid one.
    TooLarge {
        /// 1-based line where it started.
        line: u64,
        /// Bytes read before giving up.
        size: usize,
        /// The text of its first line (up to a bounded length).
        first_line: Vec<u8>,
    },
}

/// Reads JSON documents from a byte stream.
#[derive(Debug)]
pub struct DocumentReader<R> {
    reader: R,
    buf: Vec<u8>,
    start: usize,
    eof: bool,
    line: u64,
    max_document: usize,
    bytes_read: u64,
    /// A read error met after some data of the same fill: the data is framed first, the
    /// error is reported when the reader reaches it.
    pending_error: Option<io::Error>,
    /// Nothing was framed yet: a byte order mark may still be skipped.
    at_start: bool,
}

/// Read size; larger documents grow the buffer by doubling. A CloudWatch envelope of 50
/// events is about 140 KiB, and the one cut by the end of a read is parsed again from its
/// start once the rest arrives: at 1 MiB that is about 7% of the envelopes read twice in
/// part, where 256 KiB made it a quarter.
const CHUNK: usize = 1024 * 1024;
/// How much of a broken first line is kept for messages.
const FIRST_LINE_KEEP: usize = 64 * 1024;

impl DocumentReader<io::Empty> {
    /// A reader over data already in memory (a decompressed Kinesis record): framed in
    /// place, never refilled. `error` is reported after the data, as a failed read would be
    /// (a gzip stream that broke after this much).
    pub fn from_bytes(
        data: Vec<u8>,
        error: Option<io::Error>,
        max_document: usize,
    ) -> DocumentReader<io::Empty> {
        DocumentReader {
            reader: io::empty(),
            bytes_read: data.len() as u64,
            buf: data,
            start: 0,
            eof: true,
            line: 1,
            max_document,
            pending_error: error,
            at_start: true,
        }
    }
}

impl<R: Read> DocumentReader<R> {
    /// Wraps `reader`; documents larger than `max_document` bytes are skipped.
    pub fn new(reader: R, max_document: usize) -> Self {
        Self {
            reader,
            buf: Vec::new(),
            start: 0,
            eof: false,
            line: 1,
            max_document,
            bytes_read: 0,
            pending_error: None,
            at_start: true,
        }
    }

    /// The same reader with its source boxed, to mix with other inputs.
    pub fn boxed<'a>(self) -> DocumentReader<Box<dyn Read + Send + 'a>>
    where
        R: Send + 'a,
    {
        DocumentReader {
            reader: Box::new(self.reader),
            buf: self.buf,
            start: self.start,
            eof: self.eof,
            line: self.line,
            max_document: self.max_document,
            bytes_read: self.bytes_read,
            pending_error: self.pending_error,
            at_start: self.at_start,
        }
    }

    /// Gives the buffer back (emptied), to be reused.
    pub fn into_buffer(mut self) -> Vec<u8> {
        self.buf.clear();
        self.buf
    }

    /// Total bytes read from the underlying stream so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// The 1-based line the reader is at.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// Drops consumed bytes once they are the larger part of the buffer. Only called
    /// where no offset into the buffer is held but `start`.
    fn compact_buffer(&mut self) {
        if self.start > 0 && self.start * 2 >= self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }

    /// Appends up to `max(want, CHUNK)` more bytes, fewer only at the end of the stream
    /// (callers pass the size already buffered, so a large document is rescanned a
    /// logarithmic number of times). Offsets into the buffer stay valid. The buffer is
    /// filled through `read_to_end`, which does not zero memory first.
    fn fill(&mut self, want: usize) -> io::Result<()> {
        if self.eof {
            return Ok(());
        }
        let want = want.max(CHUNK);
        let before = self.buf.len();
        // Exactly: callers already grow geometrically, and amortised doubling on top
        // would let a document near the limit hold twice the limit in memory.
        self.buf.reserve_exact(want);
        let result = (&mut self.reader)
            .take(want as u64)
            .read_to_end(&mut self.buf);
        let got = self.buf.len() - before;
        self.bytes_read += got as u64;
        match result {
            Ok(_) if got < want => self.eof = true,
            Ok(_) => {}
            Err(e) if got == 0 => return Err(e),
            Err(e) => {
                // Frame what arrived first; report the error when the reader gets there.
                self.pending_error = Some(e);
                self.eof = true;
            }
        }
        Ok(())
    }

    /// Advances `start` to the next non-whitespace byte, counting lines. False at the end.
    fn skip_whitespace(&mut self) -> io::Result<bool> {
        if self.at_start {
            self.skip_byte_order_mark()?;
        }
        loop {
            while self.start < self.buf.len() {
                match self.buf[self.start] {
                    b'\n' => self.line += 1,
                    b' ' | b'\t' | b'\r' => {}
                    _ => return Ok(true),
                }
                self.start += 1;
            }
            if self.eof {
                return Ok(false);
            }
            self.compact_buffer();
            self.fill(CHUNK)?;
        }
    }

    /// Skips a UTF-8 byte order mark at the very start of the input (editors and
    /// Windows tools write one before JSON lines; it is not JSON, and would cost the
    /// first event).
    fn skip_byte_order_mark(&mut self) -> io::Result<()> {
        const BOM: &[u8] = b"\xEF\xBB\xBF";
        while self.buf.len() - self.start < BOM.len() && !self.eof {
            self.fill(CHUNK)?;
        }
        if self.buf[self.start..].starts_with(BOM) {
            self.start += BOM.len();
        }
        self.at_start = false;
        Ok(())
    }

    /// Offset of the end of the line that contains `from` (its `\n`, or the end of the
    /// data), reading more as needed but not beyond `limit` bytes past `from`.
    fn line_end(&mut self, from: usize, limit: usize) -> io::Result<usize> {
        let mut searched = from;
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf[searched..]) {
                return Ok(searched + i);
            }
            searched = self.buf.len();
            if self.eof || searched - from >= limit {
                return Ok(searched);
            }
            self.fill(CHUNK)?;
        }
    }

    /// Skips the rest of the current line and every following line that does not start
    /// (after whitespace) with `{` or `[`. Returns the number of lines skipped.
    fn resync(&mut self) -> io::Result<u64> {
        let mut skipped = 0;
        loop {
            self.compact_buffer();
            // Drop the rest of the current line (in bounded steps, however long it is).
            let end = self.line_end(self.start, CHUNK)?;
            if end >= self.buf.len() {
                self.start = self.buf.len();
                if self.eof {
                    return Ok(skipped + 1);
                }
                continue;
            }
            skipped += 1;
            self.start = end + 1;
            self.line += 1;
            // Look at the next line's first non-blank byte.
            loop {
                while self.start < self.buf.len()
                    && matches!(self.buf[self.start], b' ' | b'\t' | b'\r')
                {
                    self.start += 1;
                }
                if self.start < self.buf.len() || self.eof {
                    break;
                }
                self.fill(CHUNK)?;
            }
            match self.buf.get(self.start) {
                None => return Ok(skipped),
                Some(b'{' | b'[') => return Ok(skipped),
                Some(b'\n') => {
                    // Blank line: fine to stop here, whitespace is skipped later.
                    return Ok(skipped);
                }
                Some(_) => {}
            }
        }
    }

    /// The unread input after whitespace, and whether it is all of the input: lets a
    /// parser that frames and validates in one pass (serde, for CloudWatch envelopes)
    /// read a document straight from the buffer. `None` at the end of the stream.
    pub fn peek(&mut self) -> io::Result<Option<(&[u8], bool)>> {
        self.compact_buffer();
        if !self.skip_whitespace()? {
            return Ok(None);
        }
        Ok(Some((&self.buf[self.start..], self.eof)))
    }

    /// Reads more input after [`DocumentReader::peek`] showed an incomplete document.
    /// False when there is no more input, or the document outgrew `max_document`.
    pub fn read_more(&mut self) -> io::Result<bool> {
        let size = self.buf.len() - self.start;
        if self.eof || size > self.max_document {
            return Ok(false);
        }
        self.fill(size.min(self.max_document + 1 - size))?;
        Ok(true)
    }

    /// Marks `n` bytes after [`DocumentReader::peek`] as read.
    pub fn consume(&mut self, n: usize) {
        let end = (self.start + n).min(self.buf.len());
        self.line += memchr::memchr_iter(b'\n', &self.buf[self.start..end]).count() as u64;
        self.start = end;
    }

    /// The next document, `Ok(None)` at the end of the stream. I/O errors (including a
    /// corrupt gzip stream) end the stream.
    pub fn next_frame(&mut self) -> io::Result<Option<Frame<'_>>> {
        self.compact_buffer();
        if !self.skip_whitespace()? {
            return match self.pending_error.take() {
                Some(e) => Err(e),
                None => Ok(None),
            };
        }
        loop {
            let origin = self.start;
            let result = scan(&self.buf, origin, self.eof);
            match result {
                Ok(Scanned::Complete { end, whitespace }) => {
                    // Whether it came in one read or several, a document over the limit
                    // is skipped.
                    if end - origin > self.max_document {
                        return self.too_large(end - origin).map(Some);
                    }
                    let line = self.line;
                    if whitespace {
                        self.line +=
                            memchr::memchr_iter(b'\n', &self.buf[origin..end]).count() as u64;
                    }
                    self.start = end;
                    return Ok(Some(Frame::Document {
                        bytes: &self.buf[origin..end],
                        whitespace,
                        line,
                    }));
                }
                Ok(Scanned::NeedMore) => {
                    let size = self.buf.len() - origin;
                    if size > self.max_document {
                        return self.too_large(size).map(Some);
                    }
                    // Double what is buffered, but never read further past the limit
                    // than it takes to see the document is too large.
                    self.fill(size.min(self.max_document + 1 - size))?;
                }
                Err(error) => return self.invalid(error).map(Some),
            }
        }
    }

    fn first_line(&mut self) -> io::Result<Vec<u8>> {
        let end = self.line_end(self.start, FIRST_LINE_KEEP)?;
        let end = end.min(self.start + FIRST_LINE_KEEP);
        Ok(self.buf[self.start..end].to_vec())
    }

    fn invalid(&mut self, mut error: JsonError) -> io::Result<Frame<'_>> {
        error.offset -= self.start;
        let line = self.line;
        let first_line = self.first_line()?;
        let skipped_lines = self.resync()?;
        Ok(Frame::Invalid {
            error,
            line,
            first_line,
            skipped_lines,
        })
    }

    fn too_large(&mut self, size: usize) -> io::Result<Frame<'_>> {
        let line = self.line;
        let first_line = self.first_line()?;
        self.resync()?;
        Ok(Frame::TooLarge {
            line,
            size,
            first_line,
        })
    }
}

/// Whether a JSON error is about the input ending early (a truncated document).
pub fn is_unexpected_end(error: &JsonError) -> bool {
    error.kind == JsonErrorKind::UnexpectedEnd
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most `n` bytes per read, to exercise refills.
    struct Trickle<'a>(&'a [u8], usize);
    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(self.1).min(out.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[derive(Debug, PartialEq)]
    enum F {
        Doc(String, u64),
        Bad(u64, u64),
        Big(u64),
    }

    fn frames(input: &str, step: usize, max: usize) -> Vec<F> {
        let mut r = DocumentReader::new(Trickle(input.as_bytes(), step), max);
        let mut out = Vec::new();
        while let Some(f) = r.next_frame().unwrap() {
            out.push(match f {
                Frame::Document { bytes, line, .. } => {
                    F::Doc(String::from_utf8(bytes.to_vec()).unwrap(), line)
                }
                Frame::Invalid {
                    line,
                    skipped_lines,
                    ..
                } => F::Bad(line, skipped_lines),
                Frame::TooLarge { line, .. } => F::Big(line),
            });
        }
        out
    }

    fn doc(s: &str, line: u64) -> F {
        F::Doc(s.to_string(), line)
    }

    #[test]
    fn json_lines_and_concatenated_documents() {
        for step in [1, 3, 1 << 20] {
            let got = frames("{\"a\":1}\n\n{\"b\":2}{\"c\":3}\n[4]\n", step, 1 << 20);
            assert_eq!(
                got,
                vec![
                    doc("{\"a\":1}", 1),
                    doc("{\"b\":2}", 3),
                    doc("{\"c\":3}", 3),
                    doc("[4]", 4)
                ]
            );
        }
    }

    #[test]
    fn pretty_documents_span_lines() {
        let got = frames("{\n  \"a\": [\n    1\n  ]\n}\n{\"b\":2}\n", 2, 1 << 20);
        assert_eq!(
            got,
            vec![doc("{\n  \"a\": [\n    1\n  ]\n}", 1), doc("{\"b\":2}", 6)]
        );
    }

    #[test]
    fn a_truncated_line_costs_only_that_line() {
        for step in [1, 7, 1 << 20] {
            let got = frames(
                "{\"a\":\"tru\n{\"b\":2}\n{\"c\":1\n{\"d\":4}\n",
                step,
                1 << 20,
            );
            assert_eq!(
                got,
                vec![
                    F::Bad(1, 1),
                    doc("{\"b\":2}", 2),
                    F::Bad(3, 1),
                    doc("{\"d\":4}", 4)
                ],
                "step {step}"
            );
        }
    }

    #[test]
    fn garbage_lines_are_skipped_as_one_error() {
        let got = frames(
            "{\"a\":1,,\n  \"x\": 1,\n  \"y\": 2\n}\n{\"ok\":1}\n",
            4,
            1 << 20,
        );
        assert_eq!(got, vec![F::Bad(1, 4), doc("{\"ok\":1}", 5)]);
        assert_eq!(
            frames("not json\n{\"ok\":1}", 1 << 20, 1 << 20),
            vec![F::Bad(1, 1), doc("{\"ok\":1}", 2)]
        );
    }

    #[test]
    fn oversized_documents_are_skipped() {
        let big = format!("{{\"a\":\"{}\"}}\n{{\"b\":1}}\n", "x".repeat(300_000));
        let got = frames(&big, 1 << 16, 100_000);
        assert_eq!(got, vec![F::Big(1), doc("{\"b\":1}", 2)]);
    }

    #[test]
    fn unterminated_document_at_eof() {
        assert_eq!(
            frames("{\"a\":1}\n{\"b\":", 1 << 20, 1 << 20),
            vec![doc("{\"a\":1}", 1), F::Bad(2, 1)]
        );
    }
}
