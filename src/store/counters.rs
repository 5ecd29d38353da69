//! Sliding-window counters for limits that span sessions: codes sent to an address, failed
//! verifications of an address. Shared by every session (and, with Redis, every instance).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use dashmap::DashMap;

use crate::clock::Clock;

use super::StoreError;

/// A limit: at most `max` events per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub max: u32,
    pub window: Duration,
}

/// A granted event, which can be handed back with [`Counters::refund`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permit {
    pub at: DateTime<Utc>,
    /// Tells apart events at the same instant (random in shared stores; 0 in memory, which
    /// refunds the newest event at `at`).
    pub id: u64,
    /// The events under the key inside the window, this one included.
    pub count: u32,
}

/// A charge to give back once the turn that took it is over: a shared store sends it with the
/// turn's last round trip ([`super::TurnStore::finish`]) instead of in one of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub key: String,
    pub permit: Permit,
}

#[async_trait]
pub trait Counters: Send + Sync + std::fmt::Debug {
    /// Records one event under `key` if the limit allows it; otherwise says how long until it
    /// would. Checking and recording are one atomic step, so concurrent callers cannot
    /// overshoot the limit.
    async fn acquire(
        &self,
        key: &str,
        limit: RateLimit,
    ) -> Result<Result<Permit, Duration>, StoreError>;

    /// How many events under `key` fall inside the last `window`, recording none.
    async fn count(&self, key: &str, window: Duration) -> Result<u32, StoreError>;

    /// [`Counters::acquire`] on `key` and [`Counters::count`] of `counted` together: a
    /// shared store answers both in one round trip.
    async fn acquire_counting(
        &self,
        key: &str,
        limit: RateLimit,
        counted: &str,
        window: Duration,
    ) -> Result<(Result<Permit, Duration>, u32), StoreError> {
        let acquired = self.acquire(key, limit).await?;
        Ok((acquired, self.count(counted, window).await?))
    }

    /// Takes back an event (the work it paid for did not happen).
    async fn refund(&self, key: &str, permit: Permit) -> Result<(), StoreError>;

    /// [`Counters::refund`] for each of `refunds`, logging those that fail: what the events
    /// paid for is over, and its answer stands.
    async fn give_back(&self, refunds: &[Refund]) {
        for Refund { key, permit } in refunds {
            if let Err(error) = self.refund(key, *permit).await {
                tracing::warn!(%error, "a counted attempt could not be given back");
            }
        }
    }

    /// Forgets every event under `key`.
    async fn reset(&self, key: &str) -> Result<(), StoreError>;

    /// Drops keys with no event inside `longest_window`.
    async fn sweep(&self, longest_window: Duration) -> Result<usize, StoreError>;
}

/// In-memory counters: one short log of instants per key.
#[derive(Debug)]
pub struct MemoryCounters {
    /// Most keys (an address) hold one event: each log starts with room for one, not the
    /// default four.
    events: DashMap<Box<str>, VecDeque<DateTime<Utc>>>,
    clock: Arc<dyn Clock>,
}

impl MemoryCounters {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            events: DashMap::new(),
            clock,
        }
    }
}

fn delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

#[async_trait]
impl Counters for MemoryCounters {
    async fn acquire(
        &self,
        key: &str,
        limit: RateLimit,
    ) -> Result<Result<Permit, Duration>, StoreError> {
        let now = self.clock.now();
        let window = delta(limit.window);
        let mut log = self
            .events
            .entry(key.into())
            .or_insert_with(|| VecDeque::with_capacity(1));
        while log.front().is_some_and(|&at| at + window <= now) {
            log.pop_front();
        }
        if log.len() >= limit.max as usize {
            let oldest = log.front().copied().unwrap_or(now);
            return Ok(Err((oldest + window - now).to_std().unwrap_or_default()));
        }
        log.push_back(now);
        Ok(Ok(Permit {
            at: now,
            id: 0,
            count: u32::try_from(log.len()).unwrap_or(u32::MAX),
        }))
    }

    async fn count(&self, key: &str, window: Duration) -> Result<u32, StoreError> {
        let horizon = self.clock.now() - delta(window);
        let inside = self
            .events
            .get(key)
            .map_or(0, |log| log.iter().filter(|&&at| at > horizon).count());
        Ok(u32::try_from(inside).unwrap_or(u32::MAX))
    }

    async fn refund(&self, key: &str, permit: Permit) -> Result<(), StoreError> {
        if let Some(mut log) = self.events.get_mut(key)
            && let Some(position) = log.iter().rposition(|&at| at == permit.at)
        {
            log.remove(position);
        }
        // A right code refunds the only charge most addresses ever get: an empty log would
        // hold its key until the next sweep.
        self.events.remove_if(key, |_, log| log.is_empty());
        Ok(())
    }

    async fn reset(&self, key: &str) -> Result<(), StoreError> {
        self.events.remove(key);
        Ok(())
    }

    async fn sweep(&self, longest_window: Duration) -> Result<usize, StoreError> {
        let horizon = self.clock.now() - delta(longest_window);
        let before = self.events.len();
        self.events
            .retain(|_, log| log.back().is_some_and(|&at| at > horizon));
        Ok(before.saturating_sub(self.events.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[tokio::test]
    async fn allows_max_per_window_then_says_when() {
        let clock = Arc::new(ManualClock::at_epoch());
        let counters = MemoryCounters::new(clock.clone());
        let limit = RateLimit {
            max: 2,
            window: Duration::from_secs(600),
        };
        assert_eq!(
            counters.acquire("k", limit).await.unwrap().unwrap().count,
            1
        );
        clock.advance(Duration::from_secs(60));
        assert_eq!(
            counters.acquire("k", limit).await.unwrap().unwrap().count,
            2
        );
        assert_eq!(counters.count("k", limit.window).await.unwrap(), 2);
        assert_eq!(
            counters.count("k", Duration::from_secs(30)).await.unwrap(),
            1
        );
        assert_eq!(
            counters.acquire("k", limit).await.unwrap(),
            Err(Duration::from_secs(540))
        );
        clock.advance(Duration::from_secs(540));
        assert!(
            counters.acquire("k", limit).await.unwrap().is_ok(),
            "the first event left the window"
        );
    }

    #[tokio::test]
    async fn refunds_and_resets() {
        let clock = Arc::new(ManualClock::at_epoch());
        let counters = MemoryCounters::new(clock.clone());
        let limit = RateLimit {
            max: 1,
            window: Duration::from_secs(60),
        };
        let permit = counters.acquire("k", limit).await.unwrap().unwrap();
        counters.refund("k", permit).await.unwrap();
        assert!(counters.acquire("k", limit).await.unwrap().is_ok());
        counters.reset("k").await.unwrap();
        assert!(counters.acquire("k", limit).await.unwrap().is_ok());
        clock.advance(Duration::from_secs(3600));
        assert_eq!(counters.sweep(Duration::from_secs(60)).await.unwrap(), 1);
    }
}
