//! Every adapter that holds shared state, built together from `sessions.store`: all in this
//! process's memory, or all in one Redis so that several instances behave as one.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::{Config, StoreKind};

use super::redis::{
    RedisArchive, RedisCounters, RedisEvents, RedisLease, RedisLimiter, RedisPool, RedisReplay,
    RedisStore, RedisTurns,
};
use super::{
    Counters, DialogArchive, EventLog, LocalLease, LocalLimiter, MemoryCounters, MemoryEvents,
    MemoryReplay, MemoryStore, NoArchive, RateLimiter, ReplayGuard, SeparateTurns, SessionStore,
    TurnLease, TurnStore,
};

#[derive(Debug, Clone)]
pub struct Backends {
    pub store: Arc<dyn SessionStore>,
    pub counters: Arc<dyn Counters>,
    pub limiter: Arc<dyn RateLimiter>,
    pub lease: Arc<dyn TurnLease>,
    pub archive: Arc<dyn DialogArchive>,
    pub events: Arc<dyn EventLog>,
    /// A turn's lease, session and event together, in as few round trips as the store allows.
    pub turns: Arc<dyn TurnStore>,
    /// Signatures and tokens already used.
    pub replay: Arc<dyn ReplayGuard>,
}

impl Backends {
    /// Builds the configured adapters. Nothing connects yet: a Redis that is down at start-up
    /// makes requests fail with 503 until it answers, not the start. `dictionaries` gives, by
    /// dialog id, text its sessions are likely to repeat: the memory store compresses ended
    /// sessions against their dialog's (called only for the memory store).
    pub fn from_config(
        config: &Config,
        clock: &Arc<dyn Clock>,
        dictionaries: impl FnOnce() -> Vec<(String, Vec<u8>)>,
    ) -> Result<Self, String> {
        let sessions = &config.sessions;
        match sessions.store {
            StoreKind::Memory => {
                let store: Arc<dyn SessionStore> = Arc::new(
                    MemoryStore::new(
                        sessions.idle_ttl,
                        sessions.idempotency_window,
                        clock.clone(),
                    )
                    .with_max_sessions(config.limits.max_sessions)
                    .with_max_bytes(sessions.max_bytes, sessions.max_session_bytes)
                    .with_dictionaries(dictionaries()),
                );
                let lease: Arc<dyn TurnLease> = Arc::new(LocalLease);
                let events: Arc<dyn EventLog> =
                    Arc::new(MemoryEvents::new(sessions.events.limits(), clock.clone()));
                let counters: Arc<dyn Counters> = Arc::new(MemoryCounters::new(clock.clone()));
                Ok(Self {
                    turns: Arc::new(SeparateTurns::new(
                        store.clone(),
                        lease.clone(),
                        events.clone(),
                        counters.clone(),
                    )),
                    store,
                    counters,
                    limiter: Arc::new(LocalLimiter::new(&config.limits, clock.clone())),
                    lease,
                    archive: Arc::new(NoArchive),
                    events,
                    replay: Arc::new(MemoryReplay::new(clock.clone())),
                })
            }
            StoreKind::Redis => {
                let pool = Arc::new(RedisPool::new(&sessions.redis)?);
                tracing::info!(
                    url = pool.url(),
                    key_prefix = %sessions.redis.key_prefix,
                    pool_size = sessions.redis.pool_size,
                    "sessions: in Redis, shared with every instance that uses it"
                );
                let store = Arc::new(
                    RedisStore::new(
                        pool.clone(),
                        sessions.idle_ttl,
                        sessions.idempotency_window,
                        clock.clone(),
                    )
                    .with_max_sessions(config.limits.max_sessions)
                    .with_max_session_bytes(sessions.max_session_bytes),
                );
                let lease = Arc::new(RedisLease::new(pool.clone(), sessions.redis.lease_ttl));
                let events = Arc::new(RedisEvents::new(
                    pool.clone(),
                    sessions.events.limits(),
                    clock.clone(),
                ));
                let counters = Arc::new(RedisCounters::new(pool.clone(), clock.clone()));
                Ok(Self {
                    turns: Arc::new(RedisTurns::new(
                        pool.clone(),
                        store.clone(),
                        lease.clone(),
                        events.clone(),
                        counters.clone(),
                    )),
                    store,
                    counters,
                    limiter: Arc::new(RedisLimiter::new(
                        pool.clone(),
                        &config.limits,
                        clock.clone(),
                    )),
                    lease,
                    archive: Arc::new(RedisArchive::new(pool.clone())),
                    events,
                    replay: Arc::new(RedisReplay::new(pool, clock.clone())),
                })
            }
        }
    }
}
