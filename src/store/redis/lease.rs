//! [`TurnLease`] in Redis: `SET lease:{ID} TOKEN NX PX lease_ttl`, renewed every third of the
//! TTL while the turn runs, freed by a compare-and-delete script (tried again in the background
//! when Redis does not answer, so a stall does not leave the session busy for the whole TTL).
//! A turn waiting for another instance's lease polls (2 ms, doubling to 50 ms) until its wait
//! is over. A turn of a conversation takes and frees its lease inside the scripts that read and
//! save its session (`super::turns`); the lease's own commands serve the other writers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rand::RngExt;

use crate::store::{Lease, StoreError, TurnLease};

use super::{RedisPool, scripts};

const FIRST_POLL: Duration = Duration::from_millis(2);
const LONGEST_POLL: Duration = Duration::from_millis(50);

/// How often a release that failed is tried again.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// Frees a lease whose release failed, once Redis answers again; gives up when the lease has
/// run out by itself.
async fn release_later(pool: Arc<RedisPool>, key: String, token: String, ttl: Duration) {
    let deadline = Instant::now() + ttl;
    while Instant::now() < deadline {
        tokio::time::sleep(RETRY_PAUSE).await;
        let released: Result<i64, _> = pool.script(scripts::RELEASE.key(&key).arg(&token)).await;
        if released.is_ok() {
            tracing::info!("turn lease: released after Redis answered again");
            return;
        }
    }
}

#[derive(Debug)]
pub struct RedisLease {
    pool: Arc<RedisPool>,
    ttl: Duration,
}

impl RedisLease {
    pub fn new(pool: Arc<RedisPool>, ttl: Duration) -> Self {
        Self { pool, ttl }
    }

    pub(super) fn ttl_ms(&self) -> u64 {
        u64::try_from(self.ttl.as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    async fn try_take(&self, key: &str, token: &str) -> Result<bool, StoreError> {
        let answer: Option<String> = self
            .pool
            .command(
                redis::cmd("SET")
                    .arg(key)
                    .arg(token)
                    .arg("NX")
                    .arg("PX")
                    .arg(self.ttl_ms()),
            )
            .await?;
        Ok(answer.is_some())
    }

    /// Keeps the lease alive while the turn runs; stops when the lease is released or lost.
    fn renew(&self, key: String, token: String) -> tokio::task::JoinHandle<()> {
        let (pool, ttl, ttl_ms) = (self.pool.clone(), self.ttl, self.ttl_ms());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(ttl / 3).await;
                let renewed: Result<i64, _> = pool
                    .script(scripts::RENEW.key(&key).arg(&token).arg(ttl_ms))
                    .await;
                match renewed {
                    Ok(1) => {}
                    Ok(_) => {
                        // The version check on save keeps a late writer from overwriting.
                        tracing::warn!(
                            "turn lease lost: the turn ran longer than the lease and another instance may have taken the session"
                        );
                        return;
                    }
                    Err(error) => tracing::warn!(%error, "turn lease: renewal failed"),
                }
            }
        })
    }
}

/// The pauses between tries at a lease that another instance holds: 2 ms, doubling to
/// 50 ms, until the wait is over.
pub(super) struct Polling {
    deadline: Instant,
    pause: Duration,
}

impl Polling {
    pub(super) fn new(wait: Duration) -> Self {
        Self {
            deadline: Instant::now() + wait,
            pause: FIRST_POLL,
        }
    }

    /// Waits before the next try; `false` when the wait is over.
    pub(super) async fn pause(&mut self) -> bool {
        let now = Instant::now();
        if now >= self.deadline {
            return false;
        }
        tokio::time::sleep(self.pause.min(self.deadline - now)).await;
        self.pause = (self.pause * 2).min(LONGEST_POLL);
        true
    }
}

impl RedisLease {
    /// The key of `session_id`'s lease and a fresh token to take it with.
    pub(super) fn claim(&self, session_id: &str) -> (String, String) {
        let key = self.pool.key(&format!("lease:{{{session_id}}}"));
        let token = crate::hex::encode(&rand::rng().random::<[u8; 16]>());
        (key, token)
    }

    /// A lease just taken with `key` and `token`, renewed until it is released or dropped.
    pub(super) fn held(&self, key: String, token: String) -> Lease {
        let renewal = self.renew(key.clone(), token.clone());
        Lease {
            key,
            token,
            renewal: Some(renewal),
        }
    }

    /// Stops renewing `lease`; its key and token, for the script that frees it.
    pub(super) fn stop_renewing(lease: &mut Lease) -> (String, String) {
        if let Some(renewal) = lease.renewal.take() {
            renewal.abort();
        }
        (
            std::mem::take(&mut lease.key),
            std::mem::take(&mut lease.token),
        )
    }

    /// After a script that should have freed a lease failed: left alone, the lease would
    /// keep the session busy for its whole TTL after Redis came back. Tried again until
    /// Redis answers (at most a RETRY_PAUSE after it does) or the lease has expired anyway;
    /// the token makes a late release harmless.
    pub(super) fn release_in_background(&self, key: String, token: String) {
        tokio::spawn(release_later(self.pool.clone(), key, token, self.ttl));
    }
}

#[async_trait]
impl TurnLease for RedisLease {
    async fn acquire(&self, session_id: &str, wait: Duration) -> Result<Option<Lease>, StoreError> {
        let (key, token) = self.claim(session_id);
        let mut polling = Polling::new(wait);
        loop {
            if self.try_take(&key, &token).await? {
                return Ok(Some(self.held(key, token)));
            }
            if !polling.pause().await {
                return Ok(None);
            }
        }
    }

    async fn release(&self, mut lease: Lease) {
        let (key, token) = Self::stop_renewing(&mut lease);
        let released: Result<i64, _> = self
            .pool
            .script(scripts::RELEASE.key(&key).arg(&token))
            .await;
        if let Err(error) = released {
            tracing::warn!(%error, "turn lease: release failed; trying again in the background");
            self.release_in_background(key, token);
        }
    }
}
