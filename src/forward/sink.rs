//! Sinks: where the forwarder writes events.
//!
//! * `stdout`: JSON lines on standard output;
//! * `file://PATH`: JSON lines appended to a file. Its length is recorded with every
//!   checkpoint after an fsync, and on restart the file is cut back to it, so events of
//!   a batch in flight when the process died are not written twice.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// A sink spec, parsed without I/O.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkSpec {
    /// JSON lines on stdout.
    Stdout,
    /// JSON lines appended to a file.
    File(PathBuf),
}

impl SinkSpec {
    /// Parses `stdout` or `file://PATH`.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        if text == "stdout" || text == "-" {
            return Ok(Self::Stdout);
        }
        if let Some(path) = text.strip_prefix("file://") {
            if path.is_empty() {
                bail!("sink \"file://\" has no path: give file://<path>");
            }
            return Ok(Self::File(PathBuf::from(path)));
        }
        bail!("sink {text:?}: unknown sink; supported: stdout, file://<path> (JSON lines)")
    }

    /// The name its state is filed under in checkpoints.
    pub fn key(&self) -> String {
        match self {
            Self::Stdout => "stdout".to_string(),
            Self::File(path) => format!("file:{}", path.display()),
        }
    }
}

/// An open sink.
#[derive(Debug)]
pub enum Sink {
    /// Standard output.
    Stdout(BufWriter<io::Stdout>),
    /// A JSON lines file.
    File(FileSink),
}

impl Sink {
    /// Opens the sink; `recorded` is its length in the last checkpoint.
    pub fn open(spec: &SinkSpec, recorded: Option<u64>) -> Result<Self> {
        Ok(match spec {
            SinkSpec::Stdout => Self::Stdout(BufWriter::with_capacity(1 << 16, io::stdout())),
            SinkSpec::File(path) => Self::File(FileSink::open(path, recorded)?),
        })
    }

    /// Writes one event (a compact JSON object) as a line.
    pub fn write_event(&mut self, payload: &[u8]) -> io::Result<()> {
        let out: &mut dyn Write = match self {
            Self::Stdout(out) => out,
            Self::File(file) => {
                file.length += payload.len() as u64 + 1;
                &mut file.out
            }
        };
        out.write_all(payload)?;
        out.write_all(b"\n")
    }

    /// Makes everything written durable; the length to record for a file.
    pub fn flush(&mut self) -> io::Result<Option<u64>> {
        match self {
            Self::Stdout(out) => out.flush().map(|()| None),
            Self::File(file) => {
                file.out.flush()?;
                file.out.get_ref().sync_data()?;
                Ok(Some(file.length))
            }
        }
    }
}

/// A JSON lines file sink.
#[derive(Debug)]
pub struct FileSink {
    out: BufWriter<File>,
    length: u64,
}

impl FileSink {
    fn open(path: &Path, recorded: Option<u64>) -> Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open sink file {}", path.display()))?;
        let mut length = file
            .metadata()
            .with_context(|| format!("cannot stat {}", path.display()))?
            .len();
        match recorded {
            Some(recorded) if length > recorded => {
                tracing::info!(path = %path.display(), recorded, found = length, "Cutting the sink file back to its last checkpoint: the events after it were not checkpointed and will be read again.");
                file.set_len(recorded)
                    .with_context(|| format!("cannot truncate {}", path.display()))?;
                length = recorded;
            }
            Some(recorded) if length < recorded => {
                tracing::warn!(path = %path.display(), recorded, found = length, "The sink file is shorter than at the last checkpoint (rotated or edited by someone else?); appending.");
            }
            _ => {}
        }
        Ok(Self {
            out: BufWriter::with_capacity(1 << 16, file),
            length,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        assert_eq!(SinkSpec::parse("stdout").unwrap(), SinkSpec::Stdout);
        assert_eq!(
            SinkSpec::parse("file://out/a.jsonl").unwrap(),
            SinkSpec::File("out/a.jsonl".into())
        );
        assert!(SinkSpec::parse("file://").is_err());
        let err = SinkSpec::parse("kafka://x").unwrap_err().to_string();
        assert!(err.contains("unknown sink"), "{err}");
    }

    #[test]
    fn file_sink_cuts_back_to_the_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let spec = SinkSpec::File(path.clone());
        let mut sink = Sink::open(&spec, None).unwrap();
        sink.write_event(b"{\"a\":1}").unwrap();
        let recorded = sink.flush().unwrap();
        assert_eq!(recorded, Some(8));
        sink.write_event(b"{\"a\":2}").unwrap();
        sink.flush().unwrap();
        drop(sink);
        let mut sink = Sink::open(&spec, recorded).unwrap();
        sink.write_event(b"{\"a\":3}").unwrap();
        assert_eq!(sink.flush().unwrap(), Some(16));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"a\":1}\n{\"a\":3}\n"
        );
    }
}
