//! The counters every live source keeps (records, calls, throttles, leases, lag, what
//! decoding counted), shared by its tasks and read by the hosts: the forwarder's
//! `/metrics` and the plugin's metrics in Falco.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::aws::Failure;
use crate::decode::{DecodeStats, Decoder};

/// Counters of one live source (Kinesis, S3, or CloudWatch Logs with [`Metrics::cloudwatch`]),
/// read by the hosts' metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Records read.
    pub records: AtomicU64,
    /// Bytes of record data read.
    pub record_bytes: AtomicU64,
    /// GetRecords calls made.
    pub get_records_calls: AtomicU64,
    /// Calls throttled (ProvisionedThroughputExceeded, LimitExceeded, 429).
    pub throttles: AtomicU64,
    /// Calls that failed in passing (5xx, timeouts, connections) and were retried.
    pub transient_errors: AtomicU64,
    /// Shard iterators that expired and were replaced.
    pub expired_iterators: AtomicU64,
    /// Leases this process took (from nobody, from an expired owner, or stolen).
    pub leases_taken: AtomicU64,
    /// Leases this process lost to another owner.
    pub leases_lost: AtomicU64,
    /// Shards being read now.
    pub shards_reading: AtomicU64,
    /// Per shard: MillisBehindLatest of its last GetRecords.
    lag: Mutex<BTreeMap<String, i64>>,
    /// What the shards' decoders counted.
    decode: Mutex<DecodeStats>,
    /// The CloudWatch Logs source's own counters (zero for Kinesis).
    pub cloudwatch: crate::sources::cloudwatch::CloudWatchMetrics,
}

impl Metrics {
    /// Adds to a counter.
    pub fn add(&self, counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts a failed call that will be retried: throttled, or failed in passing.
    pub fn count_retried(&self, failure: Failure) {
        let counter = if failure == Failure::Throttled {
            &self.throttles
        } else {
            &self.transient_errors
        };
        self.add(counter, 1);
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// MillisBehindLatest per shard being read.
    pub fn lag(&self) -> BTreeMap<String, i64> {
        self.lag.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// What decoding counted, over every shard.
    pub fn decode_stats(&self) -> DecodeStats {
        self.decode.lock().map(|d| d.clone()).unwrap_or_default()
    }

    /// Moves a decoder's counters into the source's.
    pub fn merge_decode(&self, decoder: &mut Decoder) {
        self.add_decode_stats(&decoder.take_stats());
    }

    /// Adds decoding counters gathered elsewhere (a whole S3 object's).
    pub fn add_decode_stats(&self, stats: &DecodeStats) {
        if let Ok(mut total) = self.decode.lock() {
            total.add(stats);
        }
    }
}

/// The lag the AWS sources report (per shard, per log group).
#[cfg(feature = "aws")]
impl Metrics {
    pub(crate) fn set_lag(&self, shard: &str, millis: i64) {
        if let Ok(mut lag) = self.lag.lock() {
            lag.insert(shard.to_string(), millis);
        }
    }

    pub(crate) fn clear_lag(&self, shard: &str) {
        if let Ok(mut lag) = self.lag.lock() {
            lag.remove(shard);
        }
    }
}
