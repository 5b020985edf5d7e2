//! Source specs (`open_params`, `--source`, the forwarder's `sources:`): parsed without
//! I/O; what parses has a key and, for CloudWatch, a start and a poll interval.
#![no_main]

use eksaudit::sources::{SourceSpec, parse_open_params};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_open_params(text) {
        Ok(spec) => {
            let key = spec.key();
            // The same spec gives the same key (checkpoints are filed under it).
            let again = parse_open_params(text).expect("parses twice");
            assert_eq!(again.key(), key);
            match &spec {
                SourceSpec::Kinesis(k) => {
                    let _ = k.key();
                    let _ = format!("{:?}", k.start);
                }
                SourceSpec::CloudWatch(c) => {
                    let _ = c.start();
                    let _ = c.poll_interval_secs();
                }
                SourceSpec::S3(s) => {
                    let _ = s.key();
                }
                SourceSpec::File(_) => {}
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
