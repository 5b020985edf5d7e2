//! A log group's position: what a poller must remember so that it neither loses nor
//! repeats an event, across polls and across restarts.
//!
//! FilterLogEvents can only be asked for a time range, and events become visible late
//! (ingestion trails the event's timestamp by seconds, sometimes minutes) and often share
//! a millisecond. So a poll reads `[watermark - lag_window, now]` and skips the events it
//! already emitted, by id; an event never seen is emitted even if it is older than the
//! last one emitted (late ingestion). The position is the watermark (every event stamped
//! before it that was visible has been read), the start floor, and the ids emitted
//! within the lag window before the watermark, which are all a later poll can meet
//! again. It is checkpointed as JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Where a poller is in one log group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Format version.
    #[serde(rename = "v", default = "version")]
    pub version: u32,
    /// The watermark (ms since the epoch): every event stamped before it that was
    /// visible when the last complete poll ran has been read.
    #[serde(rename = "t")]
    pub watermark: i64,
    /// Events stamped before this (ms) are not wanted: the spec's start.
    #[serde(rename = "f", default)]
    pub floor: i64,
    /// Event id → timestamp (ms) of the events already handled whose timestamp is
    /// within the lag window before the watermark, or after it.
    #[serde(default)]
    pub ids: BTreeMap<String, i64>,
}

fn version() -> u32 {
    1
}

/// What [`Position::observe`] decided about an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Never seen: hand it on.
    New,
    /// Never seen, although a finished poll already covered its timestamp: it was
    /// ingested late. Hand it on.
    Late,
    /// Already handled: skip it.
    Duplicate,
    /// Stamped before the start: not wanted.
    BeforeStart,
}

impl Position {
    /// A position that starts at `start` (ms).
    pub fn starting_at(start: i64) -> Self {
        Self {
            version: version(),
            watermark: start,
            floor: start,
            ids: BTreeMap::new(),
        }
    }

    /// Parses a checkpointed position.
    pub fn parse(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| format!("not a CloudWatch position ({e})"))
    }

    /// The position as checkpoint text.
    pub fn to_text(&self) -> String {
        // Serialising a struct of integers and strings cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Where the next poll starts (inclusive, ms).
    pub fn window_start(&self, lag_ms: i64) -> i64 {
        self.watermark.saturating_sub(lag_ms).max(self.floor).max(0)
    }

    /// Records an event; says whether to hand it on.
    pub fn observe(&mut self, id: &str, timestamp: i64) -> Seen {
        if timestamp < self.floor {
            return Seen::BeforeStart;
        }
        if self.ids.contains_key(id) {
            return Seen::Duplicate;
        }
        self.ids.insert(id.to_string(), timestamp);
        if timestamp < self.watermark {
            Seen::Late
        } else {
            Seen::New
        }
    }

    /// A poll of `[window_start, end]` finished: moves the watermark past `end` and
    /// forgets the ids no later poll can meet again.
    pub fn finish_poll(&mut self, end: i64, lag_ms: i64) {
        self.watermark = self.watermark.max(end.saturating_add(1));
        let oldest = self.window_start(lag_ms);
        self.ids.retain(|_, ts| *ts >= oldest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_millisecond_late_and_repeated_events() {
        let lag = 1000;
        let mut p = Position::starting_at(10_000);
        assert_eq!(p.window_start(lag), 10_000, "never before the start");
        assert_eq!(p.observe("a", 9_999), Seen::BeforeStart);
        assert_eq!(p.observe("a", 10_500), Seen::New);
        assert_eq!(p.observe("b", 10_500), Seen::New);
        p.finish_poll(11_000, lag);
        assert_eq!(p.watermark, 11_001);
        assert_eq!(p.window_start(lag), 10_001);
        // The next poll meets the same millisecond again: only the new one passes.
        assert_eq!(p.observe("a", 10_500), Seen::Duplicate);
        assert_eq!(p.observe("b", 10_500), Seen::Duplicate);
        assert_eq!(p.observe("c", 10_500), Seen::Late);
        assert_eq!(p.observe("d", 11_001), Seen::New);
        p.finish_poll(11_500, lag);
        // Ids older than the window are forgotten; the rest survive a round trip.
        assert_eq!(p.ids.keys().collect::<Vec<_>>(), ["d"]);
        let back = Position::parse(&p.to_text()).unwrap();
        assert_eq!(back, p);
        assert!(
            Position::parse("{")
                .unwrap_err()
                .contains("not a CloudWatch position")
        );
    }
}
