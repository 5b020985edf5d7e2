//! One token bucket per (account, region) for FilterLogEvents, shared by every log group
//! polled in the process.
//!
//! The FilterLogEvents quota is per account and region and small (5 calls per second by
//! default), so pacing each group alone would let ten groups make ten times the calls
//! the account may make, and they would all be throttled. Every poller takes a token
//! before each call from the bucket of its (account, region), found in a process-wide
//! registry; a throttled call puts the bucket into debt, so every group sharing it slows
//! down, not only the one that was told.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

/// A token bucket: `rate` tokens per second, at most `rate` saved up.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    /// A full bucket of `rate` calls per second.
    pub fn new(rate: u32) -> Self {
        let rate = f64::from(rate.max(1));
        Self {
            rate,
            state: Mutex::new((rate, Instant::now())),
        }
    }

    /// Calls per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Takes a token, or says how long to wait for one.
    pub fn try_take(&self) -> Result<(), Duration> {
        let Ok(mut state) = self.state.lock() else {
            // A poisoned lock only means another poller panicked; pace anyway.
            return Err(Duration::from_secs_f64(1.0 / self.rate));
        };
        let now = Instant::now();
        let (tokens, last) = &mut *state;
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.rate).min(self.rate);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.rate))
        }
    }

    /// Waits for a token.
    pub async fn acquire(&self) {
        while let Err(wait) = self.try_take() {
            tokio::time::sleep(wait).await;
        }
    }

    /// AWS said the quota is used up: owe one second of calls, so every group sharing
    /// the bucket pauses, not only the one that was throttled.
    pub fn throttled(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.0 = state.0.min(0.0) - self.rate;
        }
    }
}

type Registry = Mutex<HashMap<(String, String), Arc<TokenBucket>>>;

static BUCKETS: LazyLock<Registry> = LazyLock::new(Registry::default);

/// The bucket of (`account`, `region`), created with `rate` by its first user (later
/// users share it whatever rate they ask for: the quota is the account's).
pub fn bucket(account: &str, region: &str, rate: u32) -> Arc<TokenBucket> {
    let key = (account.to_string(), region.to_string());
    match BUCKETS.lock() {
        Ok(mut buckets) => buckets
            .entry(key)
            .or_insert_with(|| Arc::new(TokenBucket::new(rate)))
            .clone(),
        Err(_) => Arc::new(TokenBucket::new(rate)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_per_account_and_region() {
        let a = bucket("111111111111", "test-shared-1", 5);
        let b = bucket("111111111111", "test-shared-1", 50);
        let c = bucket("111111111111", "test-shared-2", 5);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(b.rate(), 5.0);
    }

    #[test]
    fn paces_at_the_rate() {
        let bucket = TokenBucket::new(4);
        // A full bucket serves a burst of `rate` calls, then makes callers wait.
        for _ in 0..4 {
            assert!(bucket.try_take().is_ok());
        }
        let wait = bucket.try_take().unwrap_err();
        assert!(wait > Duration::from_millis(150) && wait <= Duration::from_millis(250));
        // Throttling puts it into a second of debt.
        bucket.throttled();
        let wait = bucket.try_take().unwrap_err();
        assert!(wait >= Duration::from_millis(1000), "{wait:?}");
    }

    #[tokio::test]
    async fn acquire_waits_for_tokens() {
        let bucket = TokenBucket::new(20);
        let start = Instant::now();
        for _ in 0..30 {
            bucket.acquire().await;
        }
        // 20 at once, then 10 at 20 per second.
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(450), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    }
}
