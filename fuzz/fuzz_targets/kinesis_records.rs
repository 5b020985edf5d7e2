//! A GetRecords response through one decoder, as a shard reader handles it: records in
//! order, each gzip or not, each annotated with the shard and its sequence number; the
//! sequence numbers ordered as the checkpoint orders them (a total order that is the
//! numeric one on decimal strings).
#![no_main]

use std::cmp::Ordering;

use eksaudit::checkpoint::sequence_cmp;
use eksaudit::decode::{Decoder, Location};
use eksaudit::event::EventView;
use eksaudit::fields;
use libfuzzer_sys::fuzz_target;

/// Takes `n` bytes (fewer at the end).
fn take<'a>(data: &mut &'a [u8], n: usize) -> &'a [u8] {
    let (head, rest) = data.split_at(n.min(data.len()));
    *data = rest;
    head
}

fn byte(data: &mut &[u8]) -> u8 {
    take(data, 1).first().copied().unwrap_or(0)
}

/// One record: shape byte, sequence (length byte, bytes), data (u16 LE length, bytes; the
/// last record takes what is left).
struct Record<'a> {
    shape: u8,
    sequence: String,
    data: &'a [u8],
}

fn records<'a>(mut data: &'a [u8]) -> (u8, String, Vec<Record<'a>>) {
    let control = byte(&mut data);
    let n = usize::from(byte(&mut data));
    let shard = String::from_utf8_lossy(take(&mut data, n)).into_owned();
    let mut records = Vec::new();
    while !data.is_empty() && records.len() < 16 {
        let shape = byte(&mut data);
        let n = usize::from(byte(&mut data));
        let sequence = String::from_utf8_lossy(take(&mut data, n)).into_owned();
        let len = take(&mut data, 2);
        let len = match len {
            [a, b] => usize::from(u16::from_le_bytes([*a, *b])),
            _ => 0,
        };
        let len = if records.len() == 15 { data.len() } else { len };
        records.push(Record {
            shape,
            sequence,
            data: take(&mut data, len),
        });
    }
    (control, shard, records)
}

fn field(view: &EventView<'_>, name: &str) -> Option<Vec<u8>> {
    let id = fields::find(name).expect("field exists");
    match fields::extract(view, id, fields::Arg::None) {
        Ok(Some(v)) => Some(v.as_slice()[0].to_vec()),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let (control, shard, records) = records(data);
    let mut decoder = Decoder::new(eksaudit_fuzz::options(control));
    for record in &records {
        let bytes = eksaudit_fuzz::shape(record.shape, &record.data);
        let location = Location::new(format!("kinesis:s/{}/{}", shard, record.sequence));
        let before = decoder.stats().clone();
        decoder.push_kinesis_record(&bytes, &location, &shard, &record.sequence);
        let (events, _) = eksaudit_fuzz::drain(&mut decoder, &before);
        // Every event was checked by `drain`; one more pass reads the record's origin.
        for decoded in &events {
            let view = decoded.event.view();
            let _ = field(&view, "eks.kinesis.shard");
            let _ = field(&view, "eks.kinesis.sequence");
        }
    }
    // sequence_cmp is a total order on what it is given.
    for a in &records {
        let x = a.sequence.as_str();
        assert_eq!(sequence_cmp(x, x), Ordering::Equal);
        for b in &records {
            let y = b.sequence.as_str();
            assert_eq!(
                sequence_cmp(x, y),
                sequence_cmp(y, x).reverse(),
                "antisymmetric"
            );
            let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
            if digits(x) && digits(y) && x.len() <= 38 && y.len() <= 38 {
                let (p, q): (u128, u128) = (x.parse().unwrap(), y.parse().unwrap());
                assert_eq!(sequence_cmp(x, y), p.cmp(&q), "numeric order");
            }
        }
    }
});
