//! Helpers shared by the test modules.

use std::path::Path;

use eksaudit::decode::{DecodeError, DecodeOptions, Decoded, read_path};

pub use crate::fixture_paths::{fixtures, trace_files};

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
