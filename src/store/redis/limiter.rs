//! [`RateLimiter`] in Redis: GCRA in one script per request, so every instance draws from the
//! same buckets. While Redis cannot be reached, each instance falls back to its own in-memory
//! buckets (and logs it once): a rate limit must not turn an outage into a lock-out, and the
//! requests it lets through meet a store that answers 503 anyway.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use crate::clock::Clock;
use crate::config::{LimitsConfig, Rate};
use crate::store::{LocalLimiter, RateLimiter, Scope};

use super::{RedisPool, scripts};

#[derive(Debug)]
pub struct RedisLimiter {
    pool: Arc<RedisPool>,
    per_ip: Rate,
    per_client: Rate,
    clock: Arc<dyn Clock>,
    fallback: LocalLimiter,
    degraded: AtomicBool,
}

impl RedisLimiter {
    pub fn new(pool: Arc<RedisPool>, config: &LimitsConfig, clock: Arc<dyn Clock>) -> Self {
        Self {
            pool,
            per_ip: config.per_ip,
            per_client: config.per_client,
            fallback: LocalLimiter::new(config, clock.clone()),
            clock,
            degraded: AtomicBool::new(false),
        }
    }
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn check(&self, scope: Scope, key: &str) -> Result<(), Duration> {
        let rate = match scope {
            Scope::Ip => self.per_ip,
            Scope::Client => self.per_client,
        };
        if rate.per_second == 0 {
            return Ok(());
        }
        let now = self.clock.now();
        let now_us = now
            .timestamp()
            .saturating_mul(1_000_000)
            .saturating_add(i64::from(now.timestamp_subsec_micros()));
        let interval_us = (1_000_000 / u64::from(rate.per_second)).max(1);
        let checked: Result<i64, _> = self
            .pool
            .script(
                scripts::RATE
                    .key(self.pool.key(&format!("rate:{}:{key}", scope.name())))
                    .arg(now_us)
                    .arg(interval_us)
                    .arg(rate.burst.max(1)),
            )
            .await;
        match checked {
            Ok(wait_us) => {
                if self.degraded.swap(false, Ordering::Relaxed) {
                    tracing::info!("rate limits: shared buckets in Redis are back");
                }
                match u64::try_from(wait_us) {
                    Ok(0) | Err(_) => Ok(()),
                    Ok(wait) => Err(Duration::from_micros(wait)),
                }
            }
            Err(error) => {
                if !self.degraded.swap(true, Ordering::Relaxed) {
                    tracing::warn!(%error, "rate limits: Redis unreachable; using this instance's own buckets until it is back");
                }
                self.fallback.check_now(scope, key)
            }
        }
    }

    fn sweep(&self) {
        self.fallback.sweep();
    }
}
