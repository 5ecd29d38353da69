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

    /// The key and four arguments of `acquire`, in its order.
    fn acquire_args(
        &self,
        invocation: &mut redis::ScriptInvocation<'_>,
        key: &str,
        limit: RateLimit,
        at: chrono::DateTime<chrono::Utc>,
        id: u64,
    ) {
        invocation
            .key(self.key(key))
            .arg(millis(at))
            .arg(window_ms(limit))
            .arg(limit.max)
            .arg(member(at, id));
    }

    fn key(&self, key: &str) -> String {
        self.pool.key(&format!("count:{key}"))
    }

    /// What gives back `permit`: removing its own event, so it can be sent twice, and ride
    /// along another round trip ([`super::RedisTurns`]).
    pub(super) fn refund_command(&self, key: &str, permit: Permit) -> redis::Cmd {
        let mut command = redis::cmd("ZREM");
        command.arg(self.key(key)).arg(member(permit.at, permit.id));
        command
    }
}

/// The member that stands for one event: its instant and a random id, so events at the same
/// millisecond stay apart and a refund removes exactly its own.
fn member(at: chrono::DateTime<chrono::Utc>, id: u64) -> String {
    format!("{}-{id:016x}", millis(at))
}

/// The instant (ms) after which events fall inside `window` ending at `now`.
fn counted_after(now: chrono::DateTime<chrono::Utc>, window: Duration) -> i64 {
    let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
    millis(now).saturating_sub(window_ms)
}

/// What the `acquire` script answered: `{1, events}` granted, `{0, ms to wait}` refused.
fn permit(
    (granted, wait_or_count): (i64, i64),
    at: chrono::DateTime<chrono::Utc>,
    id: u64,
) -> Result<Permit, Duration> {
    if granted == 1 {
        Ok(Permit {
            at,
            id,
            count: u32::try_from(wait_or_count).unwrap_or(u32::MAX),
        })
    } else {
        Err(Duration::from_millis(
            u64::try_from(wait_or_count).unwrap_or(0),
        ))
    }
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
        let (at, id) = (self.clock.now(), rand::rng().random());
        let mut invocation = scripts::ACQUIRE.prepare_invoke();
        self.acquire_args(&mut invocation, key, limit, at, id);
        let answer: (i64, i64) = self.pool.script(&invocation).await?;
        Ok(permit(answer, at, id))
    }

    async fn acquire_counting(
        &self,
        key: &str,
        limit: RateLimit,
        counted: &str,
        window: Duration,
    ) -> Result<(Result<Permit, Duration>, u32), StoreError> {
        let (at, id) = (self.clock.now(), rand::rng().random());
        let mut invocation = scripts::ACQUIRE_COUNTING.prepare_invoke();
        self.acquire_args(&mut invocation, key, limit, at, id);
        invocation
            .key(self.key(counted))
            .arg(counted_after(at, window));
        let (granted, wait_or_count, count): (i64, i64, i64) =
            self.pool.script(&invocation).await?;
        Ok((
            permit((granted, wait_or_count), at, id),
            u32::try_from(count).unwrap_or(u32::MAX),
        ))
    }

    async fn count(&self, key: &str, window: Duration) -> Result<u32, StoreError> {
        let after = counted_after(self.clock.now(), window);
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
            .command::<i64>(&self.refund_command(key, permit))
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
