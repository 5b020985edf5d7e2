//! One in-memory record (a Kinesis record, an S3 object, a sample file) through
//! `Decoder::push_record` / `push_kinesis_record`: gzip or not, any number of documents,
//! CloudWatch envelopes, EventLists, arrays, broken lines.
//!
//! Input: a control byte, then the record.
//! * bits 0-1: shape (as given, gzip, two gzip members, broken gzip);
//! * bits 2-5: decoder limits and region (`eksaudit_fuzz::options`);
//! * bit 6: as a Kinesis record (shard and sequence annotated);
//! * bit 7: decode it twice with the same decoder (buffers reused across records).
#![no_main]

use eksaudit::decode::{Decoder, Location};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let record = eksaudit_fuzz::shape(control, rest);
    let mut decoder = Decoder::new(eksaudit_fuzz::options(control >> 2));
    let location = Location::new("fuzz");
    let rounds = if control & 0x80 != 0 { 2 } else { 1 };
    let mut first = None;
    for _ in 0..rounds {
        let before = decoder.stats().clone();
        if control & 0x40 != 0 {
            decoder.push_kinesis_record(&record, &location, "shardId-000000000000", "4960");
        } else {
            decoder.push_record(&record, &location);
        }
        let (events, errors) = eksaudit_fuzz::drain(&mut decoder, &before);
        let payloads: Vec<Vec<u8>> = events.iter().map(|d| d.event.payload().to_vec()).collect();
        // The same record decodes the same way again (no state leaks between records).
        match &first {
            None => first = Some((payloads, errors)),
            Some(f) => assert_eq!(f, &(payloads, errors), "second decode differs"),
        }
    }
});
