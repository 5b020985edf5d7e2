//! Where Falco's upstream fixtures are, shared by the test binaries (no crate code here,
//! so the C-ABI test binary can include it without linking the library).

use std::path::{Path, PathBuf};

/// Falco's upstream k8s-audit fixtures (`../shared/fixtures/upstream`, or
/// `$EKSAUDIT_FIXTURES`).
pub fn fixtures() -> PathBuf {
    std::env::var_os("EKSAUDIT_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/upstream")
        })
}

/// Every `*.json` under a `trace_files` directory of the fixtures, sorted.
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
