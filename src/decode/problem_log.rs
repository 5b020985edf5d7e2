//! Logging input problems without flooding the log.
//!
//! One bad producer can send thousands of broken events a second; a log line for each
//! would bury everything else (and, inside Falco, Falco's own log: upstream's k8saudit
//! did exactly that on truncated lines, falcosecurity/plugins#297). Each problem is
//! always counted ([`super::DecodeStats`], the metrics); only the first few of each kind
//! per interval are logged one by one, and the rest as one summary line per kind.

use std::time::{Duration, Instant};

use super::{DecodeError, DecodeErrorKind};

/// Problems of one kind logged one by one per interval.
const LOGGED_PER_INTERVAL: u32 = 10;
/// The interval.
const INTERVAL: Duration = Duration::from_secs(10);

/// Per-kind counts of the current interval.
#[derive(Debug)]
pub(super) struct ProblemLog {
    started: Instant,
    logged: [u32; DecodeErrorKind::ALL.len()],
    suppressed: [u64; DecodeErrorKind::ALL.len()],
}

impl Default for ProblemLog {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            logged: [0; DecodeErrorKind::ALL.len()],
            suppressed: [0; DecodeErrorKind::ALL.len()],
        }
    }
}

impl ProblemLog {
    /// Logs `error`, or counts it for the interval's summary.
    pub(super) fn report(&mut self, error: &DecodeError) {
        if self.started.elapsed() >= INTERVAL {
            self.flush();
        }
        let kind = error.kind as usize;
        if self.logged[kind] < LOGGED_PER_INTERVAL {
            self.logged[kind] += 1;
            tracing::warn!(error_type = error.kind.label(), "Dropped input: {error}");
        } else {
            self.suppressed[kind] += 1;
        }
    }

    /// Summarises the interval if it is over (called per record, so a flood that
    /// stopped is still summarised while the stream goes on).
    pub(super) fn tick(&mut self) {
        if self.started.elapsed() >= INTERVAL {
            self.flush();
        }
    }

    /// Logs one summary line per kind with problems not logged one by one, and starts a
    /// new interval.
    pub(super) fn flush(&mut self) {
        let seconds = self.started.elapsed().as_secs().max(1);
        for kind in DecodeErrorKind::ALL {
            let count = self.suppressed[kind as usize];
            if count > 0 {
                tracing::warn!(
                    error_type = kind.label(),
                    count,
                    "Dropped {count} more inputs ({}) in the last {seconds}s without logging each; all are counted in the metrics.",
                    kind.label()
                );
            }
        }
        *self = Self::default();
    }

    /// Problems counted but not yet summarised.
    #[cfg(test)]
    pub(super) fn pending(&self) -> u64 {
        self.suppressed.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Location;

    #[test]
    fn only_the_first_problems_of_a_kind_are_logged_one_by_one() {
        let mut log = ProblemLog::default();
        let error = |kind| DecodeError {
            kind,
            location: Location::new("test"),
            audit_id: None,
            detail: "bad".into(),
        };
        for _ in 0..1000 {
            log.report(&error(DecodeErrorKind::InvalidJson));
        }
        log.report(&error(DecodeErrorKind::Truncated));
        assert_eq!(log.logged[DecodeErrorKind::InvalidJson as usize], 10);
        assert_eq!(log.logged[DecodeErrorKind::Truncated as usize], 1);
        assert_eq!(log.pending(), 990);
        log.flush();
        assert_eq!(log.pending(), 0);
    }
}
