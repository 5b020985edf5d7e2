//! Build-time facts the tests depend on, as `cfg`s, so a test that cannot run here is
//! reported as ignored with its reason instead of failing or silently passing.
//!
//! * `has_moto`: an AWS emulator is at hand (`EKSAUDIT_TEST_MOTO` names a running moto
//!   server, or `moto_server` is on the PATH for the tests to start one);
//! * `has_kinesis_local`: `EKSAUDIT_TEST_KINESIS_LOCAL` names a running kinesis-local
//!   (resharding tests: moto does not route records to child shards).

use std::env;
use std::path::Path;

fn main() {
    println!("cargo:rustc-check-cfg=cfg(has_moto)");
    println!("cargo:rustc-check-cfg=cfg(has_kinesis_local)");
    println!("cargo:rerun-if-env-changed=EKSAUDIT_TEST_KINESIS_LOCAL");
    if env::var("EKSAUDIT_TEST_KINESIS_LOCAL").is_ok_and(|v| !v.is_empty()) {
        println!("cargo:rustc-cfg=has_kinesis_local");
    }
    println!("cargo:rerun-if-env-changed=EKSAUDIT_TEST_MOTO");
    println!("cargo:rerun-if-env-changed=PATH");
    let named = env::var("EKSAUDIT_TEST_MOTO").is_ok_and(|v| !v.is_empty());
    let installed = env::var_os("PATH").is_some_and(|paths| {
        env::split_paths(&paths).any(|dir| Path::new(&dir).join("moto_server").is_file())
    });
    if named || installed {
        println!("cargo:rustc-cfg=has_moto");
    }
}
