//! FilterLogEvents pages as the CloudWatch poller handles them: the position (watermark,
//! floor, ids seen in the lag window, restored from checkpoint text) decides which log
//! events are handed on, each is decoded with `push_log_event`, and a finished poll moves
//! the watermark. The page loop mirrors `Poller::take` (which needs SDK types); the
//! position and the decoder are the real ones.
//!
//! Invariants: no event id is handed on twice while its timestamp is inside the window a
//! poll reads again; nothing stamped before the floor is handed on; a position survives
//! its checkpoint text unchanged.
#![no_main]

use std::collections::BTreeMap;

use arbitrary::Arbitrary;
use eksaudit::decode::{Decoder, Location, LogEventOrigin};
use eksaudit::sources::cloudwatch::position::{Position, Seen};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum Start {
    At(i64),
    Checkpoint(String),
}

#[derive(Debug, Arbitrary)]
struct Polls {
    control: u8,
    start: Start,
    lag_secs: u32,
    prefix: String,
    polls: Vec<Poll>,
}

#[derive(Debug, Arbitrary)]
struct Poll {
    end: i64,
    /// Checkpoint and restore the position before this poll (a restart).
    restart: bool,
    pages: Vec<Vec<LogEvent>>,
}

#[derive(Debug, Arbitrary)]
struct LogEvent {
    id: Option<String>,
    timestamp: Option<i64>,
    ingestion_time: Option<i64>,
    stream: Option<String>,
    message: Option<String>,
}

fn round_trip(position: &Position) -> Position {
    let text = position.to_text();
    match Position::parse(&text) {
        Ok(p) => {
            assert_eq!(&p, position, "position changed through its checkpoint text");
            p
        }
        Err(e) => panic!("checkpoint text does not parse back ({e}): {text}"),
    }
}

fuzz_target!(|input: Polls| {
    let mut position = match &input.start {
        Start::At(t) => Position::starting_at(*t),
        Start::Checkpoint(text) => match Position::parse(text) {
            Ok(p) => round_trip(&p),
            Err(_) => return,
        },
    };
    let lag_ms = i64::from(input.lag_secs).saturating_mul(1000);
    let mut decoder = Decoder::new(eksaudit_fuzz::options(input.control));
    let group = "/aws/eks/prod/cluster";
    // id → timestamp of every event handed on.
    let mut handed: BTreeMap<String, i64> = BTreeMap::new();
    for poll in input.polls.iter().take(6) {
        if poll.restart {
            position = round_trip(&position);
        }
        let window = position.window_start(lag_ms);
        assert!(
            window >= position.floor && window >= 0,
            "window start below the floor"
        );
        for page in poll.pages.iter().take(4) {
            for log_event in page.iter().take(32) {
                let timestamp = log_event.timestamp.unwrap_or(0);
                let stream = log_event.stream.clone().unwrap_or_default();
                let id = log_event.id.clone().unwrap_or_else(|| {
                    format!(
                        "{stream}:{timestamp}:{}",
                        log_event.ingestion_time.unwrap_or(0)
                    )
                });
                let seen = position.observe(&id, timestamp);
                if timestamp < position.floor {
                    assert_eq!(seen, Seen::BeforeStart, "event before the floor");
                }
                if let Some(&before) = handed.get(&id)
                    && before >= window
                    && timestamp >= position.floor
                {
                    assert_eq!(seen, Seen::Duplicate, "event {id:?} handed on twice");
                }
                if matches!(seen, Seen::Duplicate | Seen::BeforeStart) {
                    continue;
                }
                handed.insert(id.clone(), timestamp);
                if !stream.starts_with(input.prefix.as_str()) {
                    continue;
                }
                let mut location = Location::new(format!("cloudwatch:{group}/{stream}"));
                location.log_event = Some((0, id));
                let origin = LogEventOrigin {
                    log_group: group,
                    log_stream: &stream,
                    account: Some("123456789012"),
                };
                let before = decoder.stats().clone();
                decoder.push_log_event(
                    log_event.message.clone().unwrap_or_default(),
                    origin,
                    &location,
                );
                eksaudit_fuzz::drain(&mut decoder, &before);
            }
        }
        let end = poll.end.max(window);
        position.finish_poll(end, lag_ms);
        assert!(
            position.watermark > end || end == i64::MAX,
            "watermark not past the poll"
        );
    }
});
