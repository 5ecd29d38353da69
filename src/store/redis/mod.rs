//! The Redis store: sessions, idempotency records, per-address counters, rate-limit buckets,
//! turn leases and dialog sources in one Redis, shared by every instance of the engine.
//!
//! Keys (all behind `sessions.redis.key_prefix`, `colloquy:` by default; `{id}` is a hash tag,
//! so one session's keys would share a Redis Cluster slot):
//!
//! | key | type | holds | expires |
//! |---|---|---|---|
//! | `session:{ID}` | hash | `version` (compare-and-set), `updated` (ms), `doc` ([`format`]) | idle TTL |
//! | `seen:{ID}` | hash | message id → idempotency record ([`format`]) | idle TTL |
//! | `seen-order:{ID}` | list | message ids, oldest first (at most 16 kept) | idle TTL |
//! | `sessions` | sorted set | session id by `updated` (ms): counting, sweeping, the cap | never (swept) |
//! | `lease:{ID}` | string | the token of the instance running a turn | `lease_ttl`, renewed |
//! | `count:KEY` | sorted set | sliding-window events (`otp:send:…`, `otp:fail:…`, `sms:guard:…`) | the window |
//! | `rate:SCOPE:KEY` | string | GCRA theoretical arrival time (µs) | when the bucket is full again |
//! | `dialog:ID:VERSION` | string | the YAML source of a dialog version sessions started on | never |
//! | `events-last:{ID}` | string | the last event id of the session's stream (its log is open) | `sessions.events.retention` after the last read or event |
//! | `replay:SCOPE:HEX` | string | a used request signature (`sig`) or single-use token (`kore`) | when it would be refused anyway |
//! | `events:{ID}` | stream | the session's events, entry ids `<event id>-1`, field `e` ([`format`]) | as `events-last` |
//!
//! Channels: `events:{ID}` carries the id of each event appended to the session's stream.

mod archive;
mod counters;
mod events;
pub mod format;
mod instant;
mod lease;
mod limiter;
mod pool;
mod replay;
mod scripts;
mod turns;

pub use archive::RedisArchive;
pub use counters::RedisCounters;
pub use events::RedisEvents;
pub use lease::RedisLease;
pub use limiter::RedisLimiter;
pub use pool::RedisPool;
pub use replay::RedisReplay;
pub use turns::RedisTurns;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

use crate::clock::Clock;
use crate::dialog::Session;

use super::{Abandoned, MAX_PROCESSED_PER_SESSION, Processed, SessionStore, StoreError, Swept};

/// A session's hash as read: `version`, `updated` (ms), `doc`.
type StoredSession = (Option<u64>, Option<i64>, Option<String>);

/// The keys and arguments of the `save` script (see `scripts::SAVE_FN`).
struct SaveArgs {
    keys: [String; 4],
    expected: u64,
    updated: i64,
    now: i64,
    idle_ttl: i64,
    doc: String,
    session_id: String,
    message_id: String,
    record: String,
}

impl SaveArgs {
    /// Adds the four keys and nine arguments, in the order `save` reads them.
    fn add_to(&self, invocation: &mut redis::ScriptInvocation<'_>) {
        for key in &self.keys {
            invocation.key(key);
        }
        invocation
            .arg(self.expected)
            .arg(self.updated)
            .arg(self.now)
            .arg(self.idle_ttl)
            .arg(&self.doc)
            .arg(&self.session_id)
            .arg(&self.message_id)
            .arg(&self.record)
            .arg(MAX_PROCESSED_PER_SESSION);
    }
}

/// Index entries looked at per round trip when sweeping or evicting.
const BATCH: usize = 256;

#[derive(Debug)]
pub struct RedisStore {
    pool: Arc<RedisPool>,
    clock: Arc<dyn Clock>,
    idle_ttl: Duration,
    idempotency_window: Duration,
    max_sessions: usize,
    /// The most one session's document may take (`sessions.max_session_bytes`).
    max_session_bytes: usize,
    evictions: AtomicU64,
}

/// Milliseconds since the Unix epoch, the unit of every stored instant.
pub(crate) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn millis_of(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn unreadable(what: &str, error: &format::FormatError) -> StoreError {
    tracing::error!(%error, "redis store: cannot read a stored {what}");
    StoreError::Unavailable(format!("a stored {what} cannot be read: {error}"))
}

impl RedisStore {
    pub fn new(
        pool: Arc<RedisPool>,
        idle_ttl: Duration,
        idempotency_window: Duration,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            pool,
            clock,
            idle_ttl,
            idempotency_window,
            max_sessions: usize::MAX,
            max_session_bytes: usize::MAX,
            evictions: AtomicU64::new(0),
        }
    }

    /// Bounds one session's document: past `max`, its oldest transcript lines are dropped,
    /// and a session still too large is refused.
    #[must_use]
    pub fn with_max_session_bytes(mut self, max: usize) -> Self {
        self.max_session_bytes = max.max(1);
        self
    }

    /// Caps live sessions: beyond `max`, the longest-idle ones are evicted.
    #[must_use]
    pub fn with_max_sessions(mut self, max: usize) -> Self {
        self.max_sessions = max.max(1);
        self
    }

    /// What a turn read first: the record of its message if the session processed it (then
    /// the session is not decoded), else the session, unless it is gone or idle past the TTL.
    fn opened(
        &self,
        (version, updated, doc): StoredSession,
        record: Option<&str>,
    ) -> Result<(Option<Processed>, Option<Session>), StoreError> {
        let (Some(version), Some(updated), Some(doc)) = (version, updated, doc) else {
            return Ok((None, None));
        };
        if self.is_expired(updated) {
            return Ok((None, None));
        }
        if let Some(record) = self.fresh_record(record)? {
            return Ok((Some(record), None));
        }
        format::decode_session(&doc, version)
            .map(|session| (None, Some(session)))
            .map_err(|error| unreadable("session", &error))
    }

    /// The keys and arguments of the `save` script for `session` (within its size limit)
    /// and its record.
    fn save_args(
        &self,
        session: &Session,
        processed: Option<&Processed>,
    ) -> Result<SaveArgs, StoreError> {
        let doc = super::encode_within(
            session,
            self.max_session_bytes,
            |session| {
                format::encode_session(session).map_err(|error| unreadable("session", &error))
            },
            String::len,
        )?;
        let (message_id, record) = match processed {
            Some(processed) => (
                processed.message_id.clone(),
                format::encode_record(processed)
                    .map_err(|error| unreadable("idempotency record", &error))?,
            ),
            None => (String::new(), String::new()),
        };
        Ok(SaveArgs {
            keys: self.keys(&session.id),
            expected: session.version,
            updated: millis(session.updated_at),
            now: millis(self.clock.now()),
            idle_ttl: millis_of(self.idle_ttl).max(1),
            doc,
            session_id: session.id.clone(),
            message_id,
            record,
        })
    }

    /// After the `save` script answered `saved` (1, or 0 on conflict) and the live sessions:
    /// the session's new version, and room made when a new session went past the cap.
    async fn saved(
        &self,
        session: &mut Session,
        saved: i64,
        live: usize,
    ) -> Result<(), StoreError> {
        if saved != 1 {
            return Err(StoreError::Conflict);
        }
        let expected = session.version;
        session.version = expected + 1;
        if expected == 0 && live > self.max_sessions {
            // The session is saved; a failed eviction only delays freeing room.
            if let Err(error) = self.make_room(live, &session.id).await {
                tracing::warn!(%error, "redis store: could not evict idle sessions");
            }
        }
        Ok(())
    }

    /// The keys of one session: hash, records, records order, and the shared index.
    fn keys(&self, id: &str) -> [String; 4] {
        [
            self.pool.key(&format!("session:{{{id}}}")),
            self.pool.key(&format!("seen:{{{id}}}")),
            self.pool.key(&format!("seen-order:{{{id}}}")),
            self.pool.key("sessions"),
        ]
    }

    /// A stored idempotency record, if it is inside the window.
    fn fresh_record(&self, record: Option<&str>) -> Result<Option<Processed>, StoreError> {
        let Some(record) = record else {
            return Ok(None);
        };
        let record = format::decode_record(record)
            .map_err(|error| unreadable("idempotency record", &error))?;
        let window = TimeDelta::from_std(self.idempotency_window).unwrap_or(TimeDelta::MAX);
        Ok((record.at > self.clock.now() - window).then_some(record))
    }

    fn is_expired(&self, updated_ms: i64) -> bool {
        updated_ms.saturating_add(millis_of(self.idle_ttl)) <= millis(self.clock.now())
    }

    /// Evicts the longest-idle sessions once `live` exceeds the cap, never `keep` (the one just
    /// created). Runs after the save, so concurrent creators may overshoot by their number.
    async fn make_room(&self, live: usize, keep: &str) -> Result<(), StoreError> {
        let excess = live.saturating_sub(self.max_sessions);
        if excess == 0 {
            return Ok(());
        }
        let batch = excess.max(self.max_sessions / 100).min(BATCH);
        let oldest: Vec<(String, f64)> = self
            .pool
            .command(
                redis::cmd("ZRANGE")
                    .arg(self.pool.key("sessions"))
                    .arg(0)
                    .arg(batch)
                    .arg("WITHSCORES"),
            )
            .await?;
        let mut evicted = 0;
        for (id, updated) in oldest.into_iter().filter(|(id, _)| id != keep) {
            if evicted == batch {
                break;
            }
            #[allow(clippy::cast_possible_truncation)]
            if self.evict(&id, updated as i64).await?.is_some() {
                evicted += 1;
                self.evictions.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    /// Deletes `id` if it was not saved since `updated_ms`; `true` when it left the index.
    /// `None` when the session was saved meanwhile; else the document deleted, if it was
    /// still there.
    async fn evict(&self, id: &str, updated_ms: i64) -> Result<Option<Option<String>>, StoreError> {
        let [session, seen, order, index] = self.keys(id);
        let (evicted, doc): (i64, Option<String>) = self
            .pool
            .script(
                scripts::EVICT
                    .key(session)
                    .key(seen)
                    .key(order)
                    .key(index)
                    .arg(id)
                    .arg(updated_ms),
            )
            .await?;
        Ok((evicted == 1).then_some(doc))
    }
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn load(&self, id: &str) -> Result<Option<Session>, StoreError> {
        let [session, ..] = self.keys(id);
        let (version, updated, doc): StoredSession = self
            .pool
            .command(
                redis::cmd("HMGET")
                    .arg(session)
                    .arg("version")
                    .arg("updated")
                    .arg("doc"),
            )
            .await?;
        let (Some(version), Some(updated), Some(doc)) = (version, updated, doc) else {
            return Ok(None);
        };
        if self.is_expired(updated) {
            return Ok(None);
        }
        format::decode_session(&doc, version)
            .map(Some)
            .map_err(|error| unreadable("session", &error))
    }

    async fn processed(
        &self,
        session_id: &str,
        message_id: &str,
    ) -> Result<Option<Processed>, StoreError> {
        let [session, seen, ..] = self.keys(session_id);
        let (updated, record): (Option<i64>, Option<String>) = self
            .pool
            .pipeline(
                redis::pipe()
                    .cmd("HGET")
                    .arg(session)
                    .arg("updated")
                    .cmd("HGET")
                    .arg(seen)
                    .arg(message_id),
            )
            .await?;
        let (Some(updated), Some(record)) = (updated, record) else {
            return Ok(None);
        };
        if self.is_expired(updated) {
            return Ok(None);
        }
        self.fresh_record(Some(&record))
    }

    /// The record and the session in one round trip (a pipeline of two reads).
    async fn open(
        &self,
        session_id: &str,
        message_id: &str,
    ) -> Result<(Option<Processed>, Option<Session>), StoreError> {
        let [session, seen, ..] = self.keys(session_id);
        let (stored, record): (StoredSession, Option<String>) = self
            .pool
            .pipeline(
                redis::pipe()
                    .cmd("HMGET")
                    .arg(session)
                    .arg("version")
                    .arg("updated")
                    .arg("doc")
                    .cmd("HGET")
                    .arg(seen)
                    .arg(message_id),
            )
            .await?;
        self.opened(stored, record.as_deref())
    }

    async fn save(
        &self,
        session: &mut Session,
        processed: Option<&Processed>,
    ) -> Result<(), StoreError> {
        let save = self.save_args(session, processed)?;
        let mut invocation = scripts::SAVE.prepare_invoke();
        save.add_to(&mut invocation);
        let (saved, live): (i64, usize) = self.pool.script(&invocation).await?;
        self.saved(session, saved, live).await
    }

    async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let [session, seen, order, index] = self.keys(id);
        let existed: i64 = self
            .pool
            .script(
                scripts::DELETE
                    .key(session)
                    .key(seen)
                    .key(order)
                    .key(index)
                    .arg(id),
            )
            .await?;
        Ok(existed == 1)
    }

    /// Deletes sessions idle past the TTL on the engine's clock (Redis's own expiry, on its
    /// clock, frees them too) and drops index entries of sessions Redis already expired.
    async fn sweep(&self) -> Result<Swept, StoreError> {
        let horizon = millis(self.clock.now()) - millis_of(self.idle_ttl);
        let mut swept = 0;
        let mut abandoned = Vec::new();
        loop {
            let idle: Vec<(String, f64)> = self
                .pool
                .command(
                    redis::cmd("ZRANGE")
                        .arg(self.pool.key("sessions"))
                        .arg("-inf")
                        .arg(horizon)
                        .arg("BYSCORE")
                        .arg("LIMIT")
                        .arg(0)
                        .arg(BATCH)
                        .arg("WITHSCORES"),
                )
                .await?;
            let found = idle.len();
            let before = swept;
            for (id, updated) in idle {
                #[allow(clippy::cast_possible_truncation)]
                if let Some(doc) = self.evict(&id, updated as i64).await? {
                    swept += 1;
                    // A document this instance cannot read is freed all the same.
                    let left = doc
                        .and_then(|doc| format::decode_session(&doc, 0).ok())
                        .and_then(|session| Abandoned::of(&session));
                    abandoned.extend(left);
                }
            }
            // A short batch was the last; a batch of sessions all saved meanwhile ends it too.
            if found < BATCH || swept == before {
                return Ok(Swept {
                    count: swept,
                    abandoned,
                });
            }
        }
    }

    async fn count(&self) -> Result<usize, StoreError> {
        let horizon = millis(self.clock.now()) - millis_of(self.idle_ttl);
        self.pool
            .command(
                redis::cmd("ZCOUNT")
                    .arg(self.pool.key("sessions"))
                    .arg(format!("({horizon}"))
                    .arg("+inf"),
            )
            .await
    }

    fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }

    fn round_trips(&self) -> Option<u64> {
        Some(self.pool.round_trips())
    }

    async fn durability(&self) -> crate::store::Durability {
        use crate::store::Durability;
        let config = |name: &'static str| {
            let pool = self.pool.clone();
            async move {
                // A map under RESP3, pairs under RESP2: both read as one.
                let found: std::collections::HashMap<String, String> = pool
                    .command(redis::cmd("CONFIG").arg("GET").arg(name))
                    .await?;
                Ok::<_, StoreError>(found.get(name).cloned().unwrap_or_default())
            }
        };
        match (config("appendonly").await, config("save").await) {
            (Ok(aof), Ok(save)) => {
                if aof.eq_ignore_ascii_case("yes") || !save.trim().is_empty() {
                    Durability::OnDisk
                } else {
                    Durability::MemoryOnly
                }
            }
            (Err(error), _) | (_, Err(error)) => Durability::Unknown(error.to_string()),
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let pong: String = self.pool.command(&redis::cmd("PING")).await?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(StoreError::Unavailable(format!(
                "Redis answered PING with {pong:?}"
            )))
        }
    }
}
