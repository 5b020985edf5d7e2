//! The CloudWatch Logs source: EKS audit log groups polled with FilterLogEvents, with no
//! loss and no duplicates, across restarts, clusters and accounts.
//!
//! The coordinator ([`run`]) starts one poller per log group (the spec's, and with
//! `prefix` every group found by DescribeLogGroups, looked for again every
//! `discover_interval`). A poller ([`poller`]) reads `[watermark - lag_window, now]`
//! page by page, skips the events it already emitted ([`position`]), and sends each
//! page's events with the position after them; the host checkpoints that position once
//! the events are handed on, so a restart continues with no gap and no repeat. Every
//! call takes a token from the bucket of its (account, region) ([`bucket`]), shared by
//! every group polled in the process. Unlike Falco's k8saudit-eks, events that share a
//! millisecond, events ingested late, empty pages with a `nextToken`, restarts and
//! throttling lose nothing and repeat nothing (`../shared/notes/upstream-plugins.md`
//! §2.4).
//!
//! The polling (the coordinator, [`poller`]) needs the `aws` feature; [`position`],
//! [`bucket`] and the counters do not.

use std::sync::atomic::{AtomicU64, Ordering};

pub mod bucket;
#[cfg(feature = "aws")]
mod coordinator;
#[cfg(feature = "aws")]
pub mod poller;
pub mod position;

#[cfg(feature = "aws")]
pub use coordinator::{Context, client, described, preflight, run, start};

/// Counters of a CloudWatch Logs source (inside the source's [`Metrics`]; lag behind
/// now is in [`Metrics::lag`], per log group).
///
/// [`Metrics`]: crate::sources::metrics::Metrics
/// [`Metrics::lag`]: crate::sources::metrics::Metrics::lag
#[derive(Debug, Default)]
pub struct CloudWatchMetrics {
    /// Log events read from FilterLogEvents and handed to the decoder.
    pub log_events: AtomicU64,
    /// FilterLogEvents pages read (empty ones too).
    pub pages: AtomicU64,
    /// CloudWatch Logs API calls made (FilterLogEvents, DescribeLogGroups), throttled
    /// ones included.
    pub api_calls: AtomicU64,
    /// Events read again inside the lag window and skipped because they were emitted.
    pub duplicates_suppressed: AtomicU64,
    /// Events found stamped before the watermark of a finished poll: ingested late,
    /// caught by the lag window.
    pub late_events: AtomicU64,
    /// Events of log streams outside the `streams` prefix, skipped.
    pub other_streams: AtomicU64,
    /// Log groups being polled now.
    pub groups_polling: AtomicU64,
}

impl CloudWatchMetrics {
    /// Adds to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}
