//! Checkpoints: how far each source's events were handed on, kept across restarts.
//!
//! A host (the Falco plugin, `eksaudit forward`) records a position only once the events
//! before it were consumed (plugin: Falco asked for the next batch; forwarder: every sink
//! wrote them), so after a crash nothing is lost and repeats come only from the batch in
//! flight. The local store is one small JSON file per host and source set in a
//! directory, replaced atomically (temp file, fsync, rename, fsync of the directory), so
//! a `kill -9` at any instant leaves either the old or the new file, never a torn one.
//! Kinesis readers sharing a stream keep their checkpoints in DynamoDB leases instead
//! (`crate::sources::kinesis::lease`).

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The Kinesis checkpoint of a shard read to its end (KCL's word for it).
pub const SHARD_END: &str = "SHARD_END";

/// Everything a host persists: per source, per partition (a Kinesis shard), the last
/// position handed on; per sink, what it needs to undo a partial write.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Format version, for later migrations.
    #[serde(default = "version")]
    pub version: u32,
    /// Source key → partition → position (a sequence number, or [`SHARD_END`]).
    #[serde(default)]
    pub positions: BTreeMap<String, BTreeMap<String, String>>,
    /// Sink key → bytes written and durable when the positions were recorded (file sinks
    /// truncate back to it on restart, so even the batch in flight is not repeated).
    #[serde(default)]
    pub sinks: BTreeMap<String, u64>,
}

fn version() -> u32 {
    1
}

impl State {
    /// The positions recorded for a source.
    pub fn source(&self, key: &str) -> BTreeMap<String, String> {
        self.positions.get(key).cloned().unwrap_or_default()
    }
}

/// Why the checkpoint store failed.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The directory or a file could not be read or written.
    #[error("checkpoint {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A file that is not a checkpoint.
    #[error("checkpoint {path} is not valid ({source}); move it away to start over")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The error.
        source: serde_json::Error,
    },
    /// Another process holds the directory.
    #[error(
        "checkpoint {path} is locked by another running eksaudit; two processes cannot share one checkpoint file"
    )]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
}

/// A checkpoint file in a directory, held exclusively by this process.
#[derive(Debug)]
pub struct CheckpointFile {
    path: PathBuf,
    dir: PathBuf,
    /// Held open for its advisory lock, released when this is dropped.
    _lock: File,
}

impl CheckpointFile {
    /// Opens (creating the directory if needed) the checkpoint `<dir>/<name>.json` and
    /// locks it against a second process.
    pub fn open(dir: &Path, name: &str) -> Result<Self, CheckpointError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CheckpointError::Io { path, source }
        };
        fs::create_dir_all(dir).map_err(io(dir))?;
        let file_name = sanitize(name);
        let path = dir.join(format!("{file_name}.json"));
        let lock_path = dir.join(format!("{file_name}.lock"));
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(CheckpointError::Locked { path: lock_path });
            }
            Err(fs::TryLockError::Error(e)) => return Err(io(&lock_path)(e)),
        }
        Ok(Self {
            path,
            dir: dir.to_path_buf(),
            _lock: lock,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The state last saved, or an empty one.
    pub fn load(&self) -> Result<State, CheckpointError> {
        match fs::read(&self.path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|source| CheckpointError::Corrupt {
                    path: self.path.clone(),
                    source,
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(State {
                version: version(),
                ..State::default()
            }),
            Err(source) => Err(CheckpointError::Io {
                path: self.path.clone(),
                source,
            }),
        }
    }

    /// Replaces the saved state atomically and durably.
    pub fn save(&self, state: &State) -> Result<(), CheckpointError> {
        let tmp = self.path.with_extension("json.tmp");
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CheckpointError::Io { path, source }
        };
        let bytes = serde_json::to_vec_pretty(state).map_err(|e| io(&tmp)(io::Error::other(e)))?;
        let mut file = File::create(&tmp).map_err(io(&tmp))?;
        file.write_all(&bytes).map_err(io(&tmp))?;
        file.sync_all().map_err(io(&tmp))?;
        drop(file);
        fs::rename(&tmp, &self.path).map_err(io(&self.path))?;
        // The rename itself is durable only once the directory is.
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.dir))
    }
}

/// A file name made of `name`: characters other than `[A-Za-z0-9._-]` become `_`.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The checkpoint directory used when none is given: `$STATE_DIRECTORY` (systemd),
/// else `$XDG_STATE_HOME/eksaudit`, else `~/.local/state/eksaudit`, else
/// `/var/lib/eksaudit`.
pub fn default_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("STATE_DIRECTORY").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("eksaudit");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|d| !d.is_empty() && d != "/") {
        return PathBuf::from(home).join(".local/state/eksaudit");
    }
    PathBuf::from("/var/lib/eksaudit")
}

/// Compares Kinesis sequence numbers: decimal strings of up to 56 digits (never compare
/// them as strings: "9" > "10").
pub fn sequence_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;

    #[test]
    fn save_and_load() {
        let dir = tempfile::tempdir().unwrap();
        let file = CheckpointFile::open(dir.path(), "kinesis:us-east-1:s").unwrap();
        assert_eq!(file.load().unwrap().positions.len(), 0);
        let mut state = State::default();
        state
            .positions
            .entry("k".into())
            .or_default()
            .insert("shardId-0".into(), "49".into());
        state.sinks.insert("file:/x".into(), 10);
        file.save(&state).unwrap();
        assert_eq!(file.load().unwrap(), state);
        assert!(file.path().ends_with("kinesis_us-east-1_s.json"));
    }

    #[test]
    fn one_process_per_file() {
        let dir = tempfile::tempdir().unwrap();
        let _held = CheckpointFile::open(dir.path(), "a").unwrap();
        let err = CheckpointFile::open(dir.path(), "a").unwrap_err();
        assert!(err.to_string().contains("locked by another"), "{err}");
        assert!(CheckpointFile::open(dir.path(), "b").is_ok());
    }

    #[test]
    fn corrupt_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.json"), b"{nope").unwrap();
        let file = CheckpointFile::open(dir.path(), "a").unwrap();
        let err = file.load().unwrap_err().to_string();
        assert!(err.contains("a.json is not valid"), "{err}");
    }

    #[test]
    fn sequence_numbers_compare_as_integers() {
        assert_eq!(sequence_cmp("9", "10"), Ordering::Less);
        assert_eq!(sequence_cmp("10", "9"), Ordering::Greater);
        assert_eq!(sequence_cmp("0010", "10"), Ordering::Equal);
        assert_eq!(
            sequence_cmp(
                "49590338271490256608559692538361571095921575989136588898",
                "49590338271490256608559692538361571095921575989136588899"
            ),
            Ordering::Less
        );
    }
}
