//! The AWS sources against a real emulator: moto server on 127.0.0.1 (started by
//! `.ci/run`, or by these tests when `moto_server` is installed), driven through the real
//! AWS SDK, with `eksaudit forward` run as a real process. Never real AWS.

#![cfg_attr(
    any(not(has_moto), not(has_kinesis_local)),
    allow(
        dead_code,
        unused_imports,
        reason = "every test here is ignored without moto"
    )
)]

mod cloudwatch;
mod forward;
mod hostile;
#[path = "../hostile_corpus.rs"]
mod hostile_corpus;
mod kinesis;
mod leases;
mod load;
mod proxy;
mod resharding;
mod s3;
mod setup;
mod support;
