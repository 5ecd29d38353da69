//! The in-process store: a sharded concurrent map, an idle TTL, and a sweeper.
//!
//! Each session is kept as one compact record (`codec.rs`): its version, its last update,
//! the session and its idempotency records in a single allocation, keyed by the session id.
//! A million idle sessions fit in about half a GiB (BENCHMARKS.md).

mod codec;
#[cfg(test)]
mod codec_tests;
mod wire;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use dashmap::DashMap;
use dashmap::mapref::entry::Entry;

use crate::clock::Clock;
use crate::dialog::Session;

use super::{Abandoned, Processed, SessionStore, StoreError, Swept};

/// Idempotency records kept per session (the newest), on top of the time window.
pub const MAX_PROCESSED_PER_SESSION: usize = 16;

/// Sessions in memory. Every method is synchronous inside: no map guard is ever held across
/// an `.await`.
#[derive(Debug)]
pub struct MemoryStore {
    sessions: DashMap<Box<str>, Box<[u8]>>,
    idle_ttl: TimeDelta,
    idempotency_window: TimeDelta,
    max_sessions: usize,
    /// Live sessions, kept beside the map: the cap is checked on every creation, and the
    /// map's own count locks every shard. Exact again after each sweep.
    live: AtomicUsize,
    evictions: AtomicU64,
    clock: Arc<dyn Clock>,
}

fn delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

/// A record that does not decode was written by this process and is never seen by another:
/// it cannot happen, but it is reported rather than trusted.
fn corrupt() -> StoreError {
    StoreError::Unavailable("a session record in memory is malformed".to_owned())
}

impl MemoryStore {
    pub fn new(idle_ttl: Duration, idempotency_window: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            sessions: DashMap::new(),
            idle_ttl: delta(idle_ttl),
            idempotency_window: delta(idempotency_window),
            max_sessions: usize::MAX,
            live: AtomicUsize::new(0),
            evictions: AtomicU64::new(0),
            clock,
        }
    }

    /// Caps live sessions: creating one beyond `max` first evicts the longest-idle ones.
    #[must_use]
    pub fn with_max_sessions(mut self, max: usize) -> Self {
        self.max_sessions = max.max(1);
        self
    }

    /// Makes room for one new session: evicts the longest-idle 1 % (at least one), so the
    /// O(n) scan is paid once per many creations. Runs before the new entry is locked, so
    /// concurrent creators may overshoot the cap by their number, never more.
    fn make_room(&self) {
        let excess = self
            .live
            .load(Ordering::Relaxed)
            .saturating_add(1)
            .saturating_sub(self.max_sessions);
        if excess == 0 {
            return;
        }
        let batch = excess.max(self.max_sessions / 100).max(1);
        let mut idle: Vec<(DateTime<Utc>, Box<str>)> = self
            .sessions
            .iter()
            .map(|entry| (codec::updated_at(entry.value()), entry.key().clone()))
            .collect();
        let batch = batch.min(idle.len());
        if batch == 0 {
            return;
        }
        idle.select_nth_unstable(batch - 1);
        for (updated_at, id) in idle.into_iter().take(batch) {
            // Evict only if no turn saved it since the scan.
            if self
                .sessions
                .remove_if(&id, |_, record| codec::updated_at(record) == updated_at)
                .is_some()
            {
                self.evictions.fetch_add(1, Ordering::Relaxed);
                self.forget_one();
            }
        }
    }

    /// The count is a hint kept by racing threads: it never wraps below zero.
    fn forget_one(&self) {
        let _ = self
            .live
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(1))
            });
    }

    fn is_expired(&self, record: &[u8]) -> bool {
        self.expired_at(record, self.clock.now())
    }

    fn expired_at(&self, record: &[u8], now: DateTime<Utc>) -> bool {
        codec::updated_at(record) + self.idle_ttl <= now
    }

    /// The record replacing `current` (absent, or expired: its records go with it) when
    /// `session` is saved as `version`, keeping the newest idempotency records.
    fn next_record(
        session: &Session,
        version: u64,
        current: Option<&[u8]>,
        processed: Option<&Processed>,
    ) -> Box<[u8]> {
        let kept: Vec<&[u8]> = current
            .map(|r| codec::processed(r).collect())
            .unwrap_or_default();
        let room = MAX_PROCESSED_PER_SESSION - usize::from(processed.is_some());
        let skip = kept.len().saturating_sub(room);
        let hint = current.map_or(512, |r| r.len() + 256);
        codec::record(
            session,
            version,
            kept.into_iter().skip(skip),
            processed,
            hint,
        )
    }

    /// The record of `message_id` inside the idempotency window; the newest wins, as a retry
    /// gets the latest answer to its message id.
    fn find_processed(
        &self,
        record: &[u8],
        session_id: &str,
        message_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Processed>, StoreError> {
        let horizon = now - self.idempotency_window;
        let found = codec::processed(record)
            .filter(|bytes| {
                codec::processed_key(bytes).is_some_and(|(id, at)| id == message_id && at > horizon)
            })
            .last();
        match found {
            Some(bytes) => codec::decode_processed(bytes, session_id)
                .map(Some)
                .ok_or_else(corrupt),
            None => Ok(None),
        }
    }

    /// Compare-and-set on an existing entry: `Ok` when saved.
    fn replace(
        &self,
        record: &mut Box<[u8]>,
        session: &Session,
        expected: u64,
        processed: Option<&Processed>,
    ) -> Result<(), StoreError> {
        // An expired session counts as absent: a new conversation may take its id.
        let expired = self.is_expired(record);
        let current = if expired { 0 } else { codec::version(record) };
        if current != expected {
            return Err(StoreError::Conflict);
        }
        let previous = (!expired).then_some(&**record);
        *record = Self::next_record(session, expected + 1, previous, processed);
        Ok(())
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn load(&self, id: &str) -> Result<Option<Session>, StoreError> {
        let Some(record) = self.sessions.get(id).filter(|r| !self.is_expired(r)) else {
            return Ok(None);
        };
        codec::decode_session(id, &record)
            .map(Some)
            .ok_or_else(corrupt)
    }

    async fn processed(
        &self,
        session_id: &str,
        message_id: &str,
    ) -> Result<Option<Processed>, StoreError> {
        let now = self.clock.now();
        let Some(record) = self
            .sessions
            .get(session_id)
            .filter(|r| !self.expired_at(r, now))
        else {
            return Ok(None);
        };
        self.find_processed(&record, session_id, message_id, now)
    }

    /// One look-up for both (the default asks the map twice, through two boxed futures).
    async fn open(
        &self,
        session_id: &str,
        message_id: &str,
    ) -> Result<(Option<Processed>, Option<Session>), StoreError> {
        let now = self.clock.now();
        let Some(record) = self
            .sessions
            .get(session_id)
            .filter(|r| !self.expired_at(r, now))
        else {
            return Ok((None, None));
        };
        if let Some(processed) = self.find_processed(&record, session_id, message_id, now)? {
            return Ok((Some(processed), None));
        }
        let session = codec::decode_session(session_id, &record).ok_or_else(corrupt)?;
        Ok((None, Some(session)))
    }

    async fn save(
        &self,
        session: &mut Session,
        processed: Option<Processed>,
    ) -> Result<(), StoreError> {
        let expected = session.version;
        if expected == 0 {
            // Before any shard lock is taken: eviction scans every shard.
            self.make_room();
        }
        // The common case, an existing session, needs no owned key.
        if let Some(mut slot) = self.sessions.get_mut(session.id.as_str()) {
            self.replace(slot.value_mut(), session, expected, processed.as_ref())?;
        } else {
            match self.sessions.entry(Box::from(session.id.as_str())) {
                Entry::Occupied(mut slot) => {
                    self.replace(slot.get_mut(), session, expected, processed.as_ref())?;
                }
                Entry::Vacant(slot) => {
                    if expected != 0 {
                        return Err(StoreError::Conflict);
                    }
                    // Counted before it is visible: no removal can come first.
                    self.live.fetch_add(1, Ordering::Relaxed);
                    slot.insert(Self::next_record(session, 1, None, processed.as_ref()));
                }
            }
        }
        session.version = expected + 1;
        Ok(())
    }

    async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let removed = self.sessions.remove(id).is_some();
        if removed {
            self.forget_one();
        }
        Ok(removed)
    }

    async fn sweep(&self) -> Result<Swept, StoreError> {
        let before = self.sessions.len();
        let now = self.clock.now();
        let horizon = now - self.idempotency_window;
        let mut abandoned = Vec::new();
        self.sessions.retain(|id, record| {
            if self.expired_at(record, now) {
                if let Some(left) =
                    codec::decode_session(id, record).and_then(|s| Abandoned::of(&s))
                {
                    abandoned.push(left);
                }
                return false;
            }
            // Records are kept oldest first: when the oldest is inside the window, all are.
            let stale = codec::processed(record)
                .next()
                .and_then(codec::processed_key)
                .is_some_and(|(_, at)| at <= horizon);
            if stale {
                // Rewritten without the records past the window (rare: most sessions end
                // or expire first).
                *record = codec::retain_processed(record, |bytes| {
                    codec::processed_key(bytes).is_some_and(|(_, at)| at > horizon)
                });
            }
            true
        });
        let after = self.sessions.len();
        self.live.store(after, Ordering::Relaxed);
        let removed = before.saturating_sub(after);
        if removed > 0 {
            self.sessions.shrink_to_fit();
        }
        Ok(Swept {
            count: removed,
            abandoned,
        })
    }

    async fn count(&self) -> Result<usize, StoreError> {
        Ok(self.sessions.len())
    }

    fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[tokio::test]
    async fn the_longest_idle_sessions_make_room_for_new_ones() {
        let clock = Arc::new(ManualClock::at_epoch());
        let store = MemoryStore::new(
            Duration::from_secs(3600),
            Duration::from_secs(600),
            clock.clone(),
        )
        .with_max_sessions(3);
        for id in ["a", "b", "c"] {
            clock.advance(Duration::from_secs(1));
            let mut session = Session::new(id, "d", 1, clock.now());
            store.save(&mut session, None).await.unwrap();
        }
        // "a" is touched again, so "b" is now the longest idle.
        clock.advance(Duration::from_secs(1));
        let mut a = store.load("a").await.unwrap().unwrap();
        a.updated_at = clock.now();
        store.save(&mut a, None).await.unwrap();
        let mut d = Session::new("d", "d", 1, clock.now());
        store.save(&mut d, None).await.unwrap();
        assert_eq!(store.count().await.unwrap(), 3);
        assert!(
            store.load("b").await.unwrap().is_none(),
            "the longest-idle session was evicted"
        );
        assert!(store.load("a").await.unwrap().is_some());
        assert_eq!(store.evictions(), 1);
    }

    #[tokio::test]
    async fn saves_are_compare_and_set() {
        let clock = Arc::new(ManualClock::at_epoch());
        let store = MemoryStore::new(
            Duration::from_secs(3600),
            Duration::from_secs(600),
            clock.clone(),
        );
        let mut first = Session::new("s", "d", 1, clock.now());
        store.save(&mut first, None).await.unwrap();
        let mut stale = first.clone();
        store.save(&mut first, None).await.unwrap();
        stale.version = 1;
        assert_eq!(
            store.save(&mut stale, None).await,
            Err(StoreError::Conflict)
        );
        let mut again = Session::new("s", "d", 1, clock.now());
        assert_eq!(
            store.save(&mut again, None).await,
            Err(StoreError::Conflict),
            "a second creation loses"
        );
    }
}
