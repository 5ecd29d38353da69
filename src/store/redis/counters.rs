//! [`Counters`] in Redis: one sorted set per key, scored by the event's instant (ms), trimmed,
//! counted and added to by one script, so instances cannot overshoot a limit together. Keys
//! expire one window after their last event, so sweeping has nothing to do.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rand::RngExt;

use crate::clock::Clock;
use crate::store::{Counters, Permit, RateLimit, StoreError};

use super::{RedisPool, millis, scripts};

#[derive(Debug)]
pub struct RedisCounters {
    pool: Arc<RedisPool>,
    clock: Arc<dyn Clock>,
}

impl RedisCounters {
    pub fn new(pool: Arc<RedisPool>, clock: Arc<dyn Clock>) -> Self {
        Self { pool, clock }
    }

    fn key(&self, key: &str) -> String {
        self.pool.key(&format!("count:{key}"))
    }
}

/// The member that stands for one event: its instant and a random id, so events at the same
/// millisecond stay apart and a refund removes exactly its own.
fn member(at: chrono::DateTime<chrono::Utc>, id: u64) -> String {
    format!("{}-{id:016x}", millis(at))
}

fn window_ms(limit: RateLimit) -> i64 {
    i64::try_from(limit.window.as_millis())
        .unwrap_or(i64::MAX)
        .max(1)
}

#[async_trait]
impl Counters for RedisCounters {
    async fn acquire(
        &self,
        key: &str,
        limit: RateLimit,
    ) -> Result<Result<Permit, Duration>, StoreError> {
        let at = self.clock.now();
        let id = rand::rng().random();
        let (granted, wait_or_count): (i64, i64) = self
            .pool
            .script(
                scripts::ACQUIRE
                    .key(self.key(key))
                    .arg(millis(at))
                    .arg(window_ms(limit))
                    .arg(limit.max)
                    .arg(member(at, id)),
            )
            .await?;
        if granted == 1 {
            Ok(Ok(Permit {
                at,
                id,
                count: u32::try_from(wait_or_count).unwrap_or(u32::MAX),
            }))
        } else {
            Ok(Err(Duration::from_millis(
                u64::try_from(wait_or_count).unwrap_or(0),
            )))
        }
    }

    async fn count(&self, key: &str, window: Duration) -> Result<u32, StoreError> {
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        let after = millis(self.clock.now()).saturating_sub(window_ms);
        let count: i64 = self
            .pool
            .command(
                redis::cmd("ZCOUNT")
                    .arg(self.key(key))
                    .arg(format!("({after}"))
                    .arg("+inf"),
            )
            .await?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    async fn refund(&self, key: &str, permit: Permit) -> Result<(), StoreError> {
        self.pool
            .command::<i64>(
                redis::cmd("ZREM")
                    .arg(self.key(key))
                    .arg(member(permit.at, permit.id)),
            )
            .await
            .map(drop)
    }

    async fn reset(&self, key: &str) -> Result<(), StoreError> {
        self.pool
            .command::<i64>(redis::cmd("DEL").arg(self.key(key)))
            .await
            .map(drop)
    }

    async fn sweep(&self, _longest_window: Duration) -> Result<usize, StoreError> {
        Ok(0)
    }
}
