//! Decides, at build time, whether Falco's upstream k8s-audit fixtures are present.
//!
//! The project's own tests run on the project's own data; the conformance tests against
//! Falco's upstream suites need that data, which is kept outside the repository (in
//! `../shared/fixtures/upstream`, or wherever `EKSAUDIT_FIXTURES` points). When it is
//! absent, those tests are compiled with `#[ignore = "... EKSAUDIT_FIXTURES ..."]` instead
//! of failing on a missing file or, worse, passing without checking anything: the test
//! summary shows them as ignored, and `.ci/run` refuses a run where any was ignored.
//!
//! Deciding it here (a `cfg`) rather than at run time is what lets the harness report them
//! as ignored: a test cannot mark itself ignored once it runs.

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rustc-check-cfg=cfg(has_upstream_fixtures)");
    println!("cargo:rerun-if-env-changed=EKSAUDIT_FIXTURES");
    println!("cargo:rerun-if-changed=build.rs");

    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    let dir = match std::env::var_os("EKSAUDIT_FIXTURES") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => match &manifest_dir {
            Some(root) => root.join("../shared/fixtures/upstream"),
            None => return,
        },
    };
    let marker = dir.join("expectations.json");
    if marker.is_file() {
        println!("cargo:rustc-cfg=has_upstream_fixtures");
        // Removing the fixtures (or their marker) turns the tests back to ignored.
        println!("cargo:rerun-if-changed={}", marker.display());
    } else if let Some(shared) = manifest_dir.map(|root| root.join("../shared")) {
        // A path that does not exist cannot be watched (cargo would rebuild the crate on
        // every build), so watch `../shared` when it exists (small: notes and fixtures),
        // to notice fixtures put there later. Elsewhere, setting EKSAUDIT_FIXTURES reruns
        // this check.
        if is_dir(&shared) {
            println!("cargo:rerun-if-changed={}", shared.display());
        }
    }
}

fn is_dir(path: &Path) -> bool {
    path.metadata().is_ok_and(|m| m.is_dir())
}
