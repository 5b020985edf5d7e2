//! Build-time facts the tests depend on, as `cfg`s, so a test that cannot run here is
//! reported as ignored with its reason instead of failing on a missing file or, worse,
//! passing without checking anything. `.ci/run` provides all of them and refuses a run
//! where any test was ignored. (A test cannot mark itself ignored once it runs, hence a
//! `cfg` decided here.)
//!
//! * `has_upstream_fixtures`: Falco's upstream k8s-audit fixtures are present
//!   (`../shared/fixtures/upstream`, or wherever `EKSAUDIT_FIXTURES` points); the project's
//!   own tests run on its own data without them;
//! * `has_moto`: an AWS emulator is at hand (`EKSAUDIT_TEST_MOTO` names a running moto
//!   server, or `moto_server` is on the PATH for the tests to start one);
//! * `has_kinesis_local`: `EKSAUDIT_TEST_KINESIS_LOCAL` names a running kinesis-local
//!   (resharding and enhanced fan-out: moto has neither).

use std::env;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    for cfg in ["has_upstream_fixtures", "has_moto", "has_kinesis_local"] {
        println!("cargo:rustc-check-cfg=cfg({cfg})");
    }
    if upstream_fixtures() {
        println!("cargo:rustc-cfg=has_upstream_fixtures");
    }
    if moto() {
        println!("cargo:rustc-cfg=has_moto");
    }
    println!("cargo:rerun-if-env-changed=EKSAUDIT_TEST_KINESIS_LOCAL");
    if env::var("EKSAUDIT_TEST_KINESIS_LOCAL").is_ok_and(|v| !v.is_empty()) {
        println!("cargo:rustc-cfg=has_kinesis_local");
    }
}

fn upstream_fixtures() -> bool {
    println!("cargo:rerun-if-env-changed=EKSAUDIT_FIXTURES");
    let manifest_dir = env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    let dir = match env::var_os("EKSAUDIT_FIXTURES") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => match &manifest_dir {
            Some(root) => root.join("../shared/fixtures/upstream"),
            None => return false,
        },
    };
    let marker = dir.join("expectations.json");
    if marker.is_file() {
        // Removing the fixtures (or their marker) turns the tests back to ignored.
        println!("cargo:rerun-if-changed={}", marker.display());
        return true;
    }
    if let Some(shared) = manifest_dir.map(|root| root.join("../shared")) {
        // A path that does not exist cannot be watched (cargo would rebuild the crate on
        // every build), so watch `../shared` when it exists, to notice fixtures put there
        // later. Elsewhere, setting EKSAUDIT_FIXTURES reruns this check.
        if is_dir(&shared) {
            println!("cargo:rerun-if-changed={}", shared.display());
        }
    }
    false
}

fn moto() -> bool {
    println!("cargo:rerun-if-env-changed=EKSAUDIT_TEST_MOTO");
    println!("cargo:rerun-if-env-changed=PATH");
    let named = env::var("EKSAUDIT_TEST_MOTO").is_ok_and(|v| !v.is_empty());
    let installed = env::var_os("PATH").is_some_and(|paths| {
        env::split_paths(&paths).any(|dir| Path::new(&dir).join("moto_server").is_file())
    });
    named || installed
}

fn is_dir(path: &Path) -> bool {
    path.metadata().is_ok_and(|m| m.is_dir())
}
