//! Request rate limits: a token bucket per remote IP and one per authenticated client
//! (`limits.per_ip`, `limits.per_client`). The HTTP middleware asks a [`RateLimiter`]; this
//! file holds the port and the in-process adapter (governor's GCRA), driven by the engine's
//! clock so tests move time instead of sleeping. The Redis adapter shares the buckets between
//! instances (`redis/limiter.rs`).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter as Governor};

use crate::clock::Clock;
use crate::config::{LimitsConfig, Rate};

/// Which bucket a request is charged to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The remote address, before authentication.
    Ip,
    /// The authenticated client.
    Client,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::Ip => "ip",
            Scope::Client => "client",
        }
    }
}

#[async_trait]
pub trait RateLimiter: Send + Sync + std::fmt::Debug {
    /// Takes one token from `key`'s bucket in `scope`, or says how long until one is free.
    /// A scope without a rate (`per_second: 0`) always passes.
    async fn check(&self, scope: Scope, key: &str) -> Result<(), Duration>;

    /// Forgets buckets that are full again (they carry no information).
    fn sweep(&self) {}
}

/// governor's view of our clock: time since the Unix epoch.
#[derive(Debug, Clone)]
pub struct LimiterClock(Arc<dyn Clock>);

impl governor::clock::Clock for LimiterClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        let now = self.0.now();
        Duration::new(
            u64::try_from(now.timestamp()).unwrap_or(0),
            now.timestamp_subsec_nanos(),
        )
    }
}

type Keyed = Governor<String, DashMapStateStore<String>, LimiterClock, NoOpMiddleware<Duration>>;

/// Buckets in this process's memory.
#[derive(Debug)]
pub struct LocalLimiter {
    per_ip: Option<Keyed>,
    per_client: Option<Keyed>,
    clock: LimiterClock,
}

fn quota(rate: Rate) -> Option<Quota> {
    let per_second = NonZeroU32::new(rate.per_second)?;
    Some(
        Quota::per_second(per_second)
            .allow_burst(NonZeroU32::new(rate.burst).unwrap_or(per_second)),
    )
}

impl LocalLimiter {
    pub fn new(config: &LimitsConfig, clock: Arc<dyn Clock>) -> Self {
        let clock = LimiterClock(clock);
        let keyed = |rate| quota(rate).map(|q| Governor::dashmap_with_clock(q, clock.clone()));
        Self {
            per_ip: keyed(config.per_ip),
            per_client: keyed(config.per_client),
            clock,
        }
    }

    /// The synchronous check, also the Redis limiter's fallback while Redis is unreachable.
    pub fn check_now(&self, scope: Scope, key: &str) -> Result<(), Duration> {
        let limiter = match scope {
            Scope::Ip => self.per_ip.as_ref(),
            Scope::Client => self.per_client.as_ref(),
        };
        let Some(limiter) = limiter else {
            return Ok(());
        };
        // governor wants an owned key only to insert it; the common case allocates once.
        limiter.check_key(&key.to_owned()).map_err(|not_until| {
            use governor::clock::Clock as _;
            not_until.wait_time_from(self.clock.now())
        })
    }
}

#[async_trait]
impl RateLimiter for LocalLimiter {
    async fn check(&self, scope: Scope, key: &str) -> Result<(), Duration> {
        self.check_now(scope, key)
    }

    fn sweep(&self) {
        for limiter in [&self.per_ip, &self.per_client].into_iter().flatten() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}
