//! Helpers shared by the test modules.

use std::path::{Path, PathBuf};

use eksaudit::decode::{DecodeError, DecodeOptions, Decoded, read_path};

/// Falco's upstream k8s-audit fixtures (`../shared/fixtures/upstream`, or
/// `$EKSAUDIT_FIXTURES`).
pub fn fixtures() -> PathBuf {
    std::env::var_os("EKSAUDIT_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/upstream")
        })
}

/// Every `*.json` under a `trace_files` directory of the fixtures.
pub fn trace_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![fixtures()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.components().any(|c| c.as_os_str() == "trace_files")
                && path.extension().is_some_and(|e| e == "json")
            {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Decodes a file into its events and errors.
pub fn decode_file(path: &Path) -> (Vec<Decoded>, Vec<DecodeError>) {
    let mut events = Vec::new();
    let mut errors = Vec::new();
    for item in read_path(path, &DecodeOptions::default()).unwrap() {
        match item {
            Ok(e) => events.push(e),
            Err(e) => errors.push(e),
        }
    }
    (events, errors)
}
