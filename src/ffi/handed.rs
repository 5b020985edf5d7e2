//! The events of the last batch handed to Falco, kept with the indexes built while decoding
//! them.
//!
//! Falco asks for the fields of an event one call at a time, with only the event's bytes:
//! the extractor cannot know they came from this plugin's own source, so it would validate
//! and index every payload again, about as much work as decoding it. When the bytes are,
//! byte for byte, an event this plugin just handed over, they are valid compact JSON and
//! their index is the one kept here, so one comparison replaces that pass. Events from
//! anywhere else (a capture file, another source) are validated as before.

use crate::event::{AuditEvent, EventIndex};

/// The last batch's events, in the order handed.
#[derive(Debug, Default)]
pub(super) struct Handed {
    events: Vec<AuditEvent>,
    /// Where the last match was: Falco reads events in order, so the next one is likely
    /// the next to match.
    next: usize,
}

impl Handed {
    /// Forgets the previous batch (Falco is done with it when it asks for the next).
    pub(super) fn clear(&mut self) {
        self.events.clear();
        self.next = 0;
    }

    /// Keeps an event handed to Falco.
    pub(super) fn push(&mut self, event: AuditEvent) {
        self.events.push(event);
    }

    /// The index of `data` when it is exactly one of the events handed.
    pub(super) fn index_of(&mut self, data: &[u8]) -> Option<EventIndex> {
        let n = self.events.len();
        (0..n)
            .map(|k| (self.next + k) % n)
            .find(|&i| self.events[i].payload() == data)
            .map(|i| {
                self.next = (i + 1) % n;
                self.events[i].index()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> AuditEvent {
        AuditEvent::new(json.as_bytes().to_vec(), 1)
    }

    #[test]
    fn finds_handed_events_in_any_order_and_nothing_else() {
        let mut handed = Handed::default();
        let events = [
            r#"{"kind":"Event","verb":"get"}"#,
            r#"{"kind":"Event","verb":"list"}"#,
            r#"{"verb":"create","kind":"Event"}"#,
        ];
        for e in events {
            handed.push(event(e));
        }
        for i in [0, 1, 2, 2, 0, 1] {
            let index = handed.index_of(events[i].as_bytes());
            assert_eq!(index, Some(event(events[i]).index()), "event {i}");
        }
        assert_eq!(handed.index_of(br#"{"kind":"Event","verb":"got"}"#), None);
        assert_eq!(handed.index_of(b""), None);
        handed.clear();
        assert_eq!(handed.index_of(events[0].as_bytes()), None);
    }
}
