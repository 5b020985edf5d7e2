//! Writing to stdout without panicking on a closed pipe.

use std::io::{self, BufWriter, Stdout, Write};

/// A buffered stdout; write errors (a closed pipe) come back as errors.
pub fn stdout() -> BufWriter<Stdout> {
    BufWriter::with_capacity(64 * 1024, io::stdout())
}

/// Whether an error chain is a broken pipe (the reader went away): not a failure.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|e| {
        let kind = e
            .downcast_ref::<io::Error>()
            .map(io::Error::kind)
            .or_else(|| {
                e.downcast_ref::<serde_json::Error>()
                    .and_then(serde_json::Error::io_error_kind)
            });
        kind == Some(io::ErrorKind::BrokenPipe)
    })
}

/// Writes `bytes` as a JSON string (with quotes), replacing invalid UTF-8 with U+FFFD so
/// the output stays valid JSON.
pub fn lossy_json_string(out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    let text = String::from_utf8_lossy(bytes);
    let mut quoted = Vec::with_capacity(text.len() + 2);
    eksaudit::json::push_escaped(&mut quoted, text.as_bytes());
    out.write_all(&quoted)
}
