//! Sources: where audit bytes come from, and the batches of events they hand to a host.
//!
//! A source spec ([`spec`]) names a source for the plugin's `open_params` and for
//! `eksaudit forward --source` alike. Live sources ([`kinesis`]) run as tokio tasks
//! that fetch bytes, decode them with [`crate::decode`] and send [`Batch`]es, each with
//! the position it ends at, to the host through a bounded channel ([`live::LiveSources`]).
//! The host hands the events on (to Falco, or to sinks) and then commits the position;
//! only committed positions are checkpointed, so a crash loses nothing.
//!
//! The AWS sources (`kinesis`, `s3`, the polling half of [`cloudwatch`]) need the `aws`
//! feature; their specs parse without it, and opening one then fails with a message.

use std::sync::Arc;

use crate::event::AuditEvent;

pub mod budget;
pub mod cloudwatch;
#[cfg(feature = "aws")]
pub mod kinesis;
pub mod live;
pub mod metrics;
#[cfg(feature = "aws")]
pub mod s3;
pub mod spec;

pub use spec::{
    CloudWatchSpec, CloudWatchStart, KinesisSpec, SourceSpec, SpecError, StartPosition,
    parse_open_params,
};

/// Decoded events from one partition of one source, and where they end.
#[derive(Debug)]
pub struct Batch {
    /// Index of the source in the host's list.
    pub source: usize,
    /// The partition (a Kinesis shard id; the file name for files).
    pub partition: Arc<str>,
    /// The events, in order.
    pub events: Vec<AuditEvent>,
    /// The position to checkpoint once these events are handed on: a sequence number,
    /// or [`crate::checkpoint::SHARD_END`]. `None` for sources without positions (files)
    /// and for all but the last chunk of a large read.
    pub position: Option<String>,
    /// The share of the process's memory budget these events hold, released when the
    /// host drops the batch.
    pub budget: Option<budget::Permit>,
}

/// What a source task tells its host.
#[derive(Debug)]
pub enum SourceMessage {
    /// Events to hand on.
    Batch(Batch),
    /// The source stopped for good (a missing stream, a denied permission), with why.
    Failed {
        /// Index of the source.
        source: usize,
        /// The reason, for the operator.
        error: String,
    },
    /// A finite source (a file) was read to its end.
    Ended {
        /// Index of the source.
        source: usize,
    },
}

/// A position the host committed, sent back to the source that produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// The partition.
    pub partition: Arc<str>,
    /// The position.
    pub position: String,
}
