//! Turning FILE arguments into one decoded stream.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use eksaudit::decode::{DecodeOptions, Input, InputDecoder, expand_path};

/// Options shared by commands that read audit logs.
#[derive(Debug, clap::Args)]
pub struct InputArgs {
    /// Audit log files or directories (their files, oldest first), or `-` for stdin. Any
    /// mix of JSON lines, EventList/arrays, CloudWatch subscription envelopes and gzip.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Largest event accepted, in bytes; larger events are reported and skipped.
    #[arg(long, default_value_t = eksaudit::decode::DEFAULT_MAX_EVENT_SIZE, value_name = "BYTES")]
    pub max_event_size: usize,
}

impl InputArgs {
    /// Whether no file was given and stdin is a terminal (nothing to read).
    pub fn nothing_to_read(&self) -> bool {
        self.files.is_empty() && std::io::stdin().is_terminal()
    }

    /// Refuses a `--max-event-size` outside what the decoder supports.
    pub fn check(&self) -> Result<()> {
        if self.max_event_size == 0 || self.max_event_size > eksaudit::decode::MAX_MAX_EVENT_SIZE {
            bail!(
                "--max-event-size must be between 1 and {}",
                eksaudit::decode::MAX_MAX_EVENT_SIZE
            );
        }
        Ok(())
    }

    /// Opens every input in order. Without files, reads stdin.
    pub fn open(&self) -> Result<InputDecoder<'static>> {
        self.open_paths(&self.files)
    }

    /// Opens `paths` in order (`-` is stdin); none at all reads stdin.
    pub fn open_paths(&self, paths: &[PathBuf]) -> Result<InputDecoder<'static>> {
        self.check()?;
        let mut inputs = Vec::new();
        if paths.is_empty() {
            inputs.push(stdin());
        }
        for file in paths {
            if file.as_os_str() == "-" {
                inputs.push(stdin());
                continue;
            }
            let files =
                expand_path(file).with_context(|| format!("cannot read {}", file.display()))?;
            inputs.extend(files.into_iter().map(Input::File));
        }
        let options = DecodeOptions::with_max_event_size(self.max_event_size);
        Ok(InputDecoder::new(inputs, options))
    }
}

fn stdin() -> Input<'static> {
    Input::Reader("-".to_string(), Box::new(std::io::stdin()))
}
