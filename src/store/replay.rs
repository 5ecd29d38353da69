//! Replay records: what may be used once (a request signature, a single-use token) is
//! recorded until it would be refused anyway (its timestamp out of the window, its expiry
//! passed). In this process's memory, or in Redis so that a request accepted by one instance
//! is refused by every other.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dashmap::DashMap;
use dashmap::mapref::entry::Entry;

use crate::clock::Clock;

use super::StoreError;

#[async_trait]
pub trait ReplayGuard: Send + Sync + std::fmt::Debug {
    /// Records `fingerprint` in `scope` until `until`: `Ok(true)` the first time, `Ok(false)`
    /// when it is recorded already.
    async fn first_use(
        &self,
        scope: &'static str,
        fingerprint: &[u8; 32],
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Forgets records past their time (the Redis adapter's expire by themselves).
    fn sweep(&self);
}

/// The records of this process, at most `capacity` (beyond it, records still in their time
/// are refused rather than forgotten: forgetting one would let its request be replayed).
#[derive(Debug)]
pub struct MemoryReplay {
    seen: DashMap<(&'static str, [u8; 32]), DateTime<Utc>>,
    capacity: usize,
    clock: Arc<dyn Clock>,
}

/// Records kept in memory at most (about 100 bytes each).
pub const MAX_REPLAY_RECORDS: usize = 1_000_000;

impl MemoryReplay {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::with_capacity(clock, MAX_REPLAY_RECORDS)
    }

    pub fn with_capacity(clock: Arc<dyn Clock>, capacity: usize) -> Self {
        Self {
            seen: DashMap::new(),
            capacity,
            clock,
        }
    }
}

#[async_trait]
impl ReplayGuard for MemoryReplay {
    async fn first_use(
        &self,
        scope: &'static str,
        fingerprint: &[u8; 32],
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        if self.seen.len() >= self.capacity {
            self.sweep();
            if self.seen.len() >= self.capacity {
                return Err(StoreError::Unavailable(
                    "too many replay records in their time".to_owned(),
                ));
            }
        }
        match self.seen.entry((scope, *fingerprint)) {
            Entry::Occupied(_) => Ok(false),
            Entry::Vacant(slot) => {
                slot.insert(until);
                Ok(true)
            }
        }
    }

    fn sweep(&self) {
        let now = self.clock.now();
        self.seen.retain(|_, until| *until >= now);
    }
}

/// How long a record must live from `now` to last `until` (at least a millisecond).
pub(crate) fn lifetime(now: DateTime<Utc>, until: DateTime<Utc>) -> Duration {
    (until - now)
        .to_std()
        .unwrap_or_default()
        .max(Duration::from_millis(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[tokio::test]
    async fn a_fingerprint_is_used_once_within_its_time() {
        let clock = Arc::new(ManualClock::at_epoch());
        let guard = MemoryReplay::with_capacity(clock.clone(), 2);
        let until = clock.now() + chrono::TimeDelta::seconds(60);
        assert!(guard.first_use("sig", &[1; 32], until).await.unwrap());
        assert!(!guard.first_use("sig", &[1; 32], until).await.unwrap());
        assert!(guard.first_use("token", &[1; 32], until).await.unwrap());
        // Full of records in their time: refused, not forgotten.
        assert!(guard.first_use("sig", &[2; 32], until).await.is_err());
        clock.advance(Duration::from_secs(61));
        assert!(
            guard
                .first_use("sig", &[2; 32], until + chrono::TimeDelta::seconds(120))
                .await
                .unwrap()
        );
    }
}
