//! Streaming input (files, stdin) through `InputDecoder` over a reader that hands the
//! bytes out in small pieces: refills in the middle of a document, of an envelope, of a
//! gzip member; optionally an I/O error at the end.
//!
//! Input: a control byte, a piece-size byte, then the data.
//! * control bits 0-1: shape (`eksaudit_fuzz::shape`); bits 2-5: decoder limits;
//!   bit 6: the reader fails after its data.
//!
//! Without gzip and without the error, the events must be exactly those the same bytes
//! give when decoded from memory: framing does not depend on how reads are cut.
#![no_main]

use std::io::{self, Read};

use eksaudit::decode::{Input, InputDecoder};
use libfuzzer_sys::fuzz_target;

/// Hands out `data` in pieces of `piece` bytes, varying, then fails if asked to.
struct Pieces {
    data: Vec<u8>,
    pos: usize,
    piece: usize,
    fail: bool,
}

impl Read for Pieces {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.data.len() {
            if self.fail {
                self.fail = false;
                return Err(io::Error::other("fuzz: read failed"));
            }
            return Ok(0);
        }
        let n = self.piece.min(buf.len()).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        // Vary the piece size so boundaries fall everywhere.
        self.piece = self.piece % 13 + 1 + self.pos % 5;
        Ok(n)
    }
}

fuzz_target!(|data: &[u8]| {
    let [control, piece, rest @ ..] = data else {
        return;
    };
    let bytes = eksaudit_fuzz::shape(*control, rest);
    let options = eksaudit_fuzz::options(control >> 2);
    let fail = control & 0x40 != 0;
    let reader = Pieces {
        data: bytes.clone(),
        pos: 0,
        piece: usize::from(*piece) + 1,
        fail,
    };
    let streamed: Vec<_> = InputDecoder::new(
        vec![Input::Reader("fuzz".into(), Box::new(reader))],
        options.clone(),
    )
    .collect();
    let mut events = Vec::new();
    for item in &streamed {
        match item {
            Ok(decoded) => {
                eksaudit_fuzz::check_event(&decoded.event, options.max_event_size);
                events.push((decoded.event.payload().to_vec(), decoded.event.time_ns()));
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
    if control & 3 == 0 && !fail {
        let in_memory: Vec<_> =
            InputDecoder::new(vec![Input::Memory("fuzz".into(), &bytes)], options)
                .filter_map(Result::ok)
                .map(|d| (d.event.payload().to_vec(), d.event.time_ns()))
                .collect();
        assert!(
            events == in_memory,
            "streamed events differ from in-memory events: {} vs {}",
            events.len(),
            in_memory.len()
        );
    }
});
