//! The memory budget shared by every source of a process: decoded events waiting for
//! the host hold bytes of it, and a reader whose next batch does not fit waits. With
//! the bounded channel this keeps memory flat whatever the sinks' speed (backpressure
//! by bytes, not only by batch count: one Kinesis read may inflate to hundreds of MB).

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Default budget: 24 MiB of decoded events in flight.
pub const DEFAULT_BUDGET_BYTES: usize = 24 * 1024 * 1024;

/// A byte budget.
#[derive(Debug, Clone)]
pub struct Budget {
    semaphore: Arc<Semaphore>,
    total: usize,
}

/// Bytes held until dropped.
#[derive(Debug)]
pub struct Permit {
    _permit: OwnedSemaphorePermit,
}

impl Budget {
    /// A budget of `bytes` (at least 1 MiB).
    pub fn new(bytes: usize) -> Self {
        let total = bytes.max(1 << 20);
        Self {
            semaphore: Arc::new(Semaphore::new(total)),
            total,
        }
    }

    /// Waits for `bytes` of the budget (a request above the whole budget takes all of
    /// it, so it cannot wait forever); `None` if the budget was closed.
    pub async fn acquire(&self, bytes: usize) -> Option<Permit> {
        let wanted = bytes.clamp(1, self.total);
        let permits = u32::try_from(wanted).unwrap_or(u32::MAX);
        self.semaphore
            .clone()
            .acquire_many_owned(permits)
            .await
            .ok()
            .map(|p| Permit { _permit: p })
    }

    /// Bytes held now.
    pub fn in_use(&self) -> usize {
        self.total - self.semaphore.available_permits()
    }
}

impl Default for Budget {
    fn default() -> Self {
        Self::new(DEFAULT_BUDGET_BYTES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn holds_until_dropped_and_never_deadlocks_on_big_requests() {
        let budget = Budget::new(2 << 20);
        let a = budget.acquire(1 << 20).await.unwrap();
        assert_eq!(budget.in_use(), 1 << 20);
        // Larger than the whole budget: waits for everything, then takes it all.
        let waiting = tokio::spawn({
            let budget = budget.clone();
            async move { budget.acquire(10 << 20).await.map(|_| ()) }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(a);
        assert!(waiting.await.unwrap().is_some());
        assert_eq!(budget.in_use(), 0);
    }
}
