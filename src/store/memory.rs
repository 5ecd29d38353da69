//! The in-process store: a sharded concurrent map, an idle TTL, and a sweeper.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::TimeDelta;
use dashmap::DashMap;
use dashmap::mapref::entry::Entry;

use crate::clock::Clock;
use crate::dialog::Session;

use super::{Processed, SessionStore, StoreError};

/// Idempotency records kept per session (the newest), on top of the time window.
pub const MAX_PROCESSED_PER_SESSION: usize = 16;

/// Sessions in memory. Every method is synchronous inside: no map guard is ever held across
/// an `.await`.
#[derive(Debug)]
pub struct MemoryStore {
    sessions: DashMap<String, Stored>,
    idle_ttl: TimeDelta,
    idempotency_window: TimeDelta,
    max_sessions: usize,
    evictions: AtomicU64,
    clock: Arc<dyn Clock>,
}

#[derive(Debug)]
struct Stored {
    session: Session,
    processed: VecDeque<Processed>,
}

fn delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

impl MemoryStore {
    pub fn new(idle_ttl: Duration, idempotency_window: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            sessions: DashMap::new(),
            idle_ttl: delta(idle_ttl),
            idempotency_window: delta(idempotency_window),
            max_sessions: usize::MAX,
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
        let excess = (self.sessions.len() + 1).saturating_sub(self.max_sessions);
        if excess == 0 {
            return;
        }
        let batch = excess.max(self.max_sessions / 100).max(1);
        let mut idle: Vec<(chrono::DateTime<chrono::Utc>, String)> = self
            .sessions
            .iter()
            .map(|entry| (entry.session.updated_at, entry.key().clone()))
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
                .remove_if(&id, |_, stored| stored.session.updated_at == updated_at)
                .is_some()
            {
                self.evictions.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn is_expired(&self, session: &Session) -> bool {
        session.updated_at + self.idle_ttl <= self.clock.now()
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn load(&self, id: &str) -> Result<Option<Session>, StoreError> {
        Ok(self
            .sessions
            .get(id)
            .filter(|s| !self.is_expired(&s.session))
            .map(|s| s.session.clone()))
    }

    async fn processed(
        &self,
        session_id: &str,
        message_id: &str,
    ) -> Result<Option<Processed>, StoreError> {
        let horizon = self.clock.now() - self.idempotency_window;
        let Some(stored) = self
            .sessions
            .get(session_id)
            .filter(|s| !self.is_expired(&s.session))
        else {
            return Ok(None);
        };
        Ok(stored
            .processed
            .iter()
            .rev()
            .find(|p| p.message_id == message_id && p.at > horizon)
            .cloned())
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
        let mut saved = session.clone();
        saved.version = expected + 1;
        match self.sessions.entry(session.id.clone()) {
            Entry::Occupied(mut slot) => {
                // An expired session counts as absent: a new conversation may take its id.
                let expired = self.is_expired(&slot.get().session);
                let current = if expired {
                    0
                } else {
                    slot.get().session.version
                };
                if current != expected {
                    return Err(StoreError::Conflict);
                }
                let stored = slot.get_mut();
                if expired {
                    stored.processed.clear();
                }
                stored.session = saved;
                record(&mut stored.processed, processed);
            }
            Entry::Vacant(slot) => {
                if expected != 0 {
                    return Err(StoreError::Conflict);
                }
                let mut stored = Stored {
                    session: saved,
                    processed: VecDeque::new(),
                };
                record(&mut stored.processed, processed);
                slot.insert(stored);
            }
        }
        session.version = expected + 1;
        Ok(())
    }

    async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.sessions.remove(id).is_some())
    }

    async fn sweep(&self) -> Result<usize, StoreError> {
        let before = self.sessions.len();
        let horizon = self.clock.now() - self.idempotency_window;
        self.sessions.retain(|_, stored| {
            if self.is_expired(&stored.session) {
                return false;
            }
            stored.processed.retain(|p| p.at > horizon);
            if stored.processed.is_empty() && stored.processed.capacity() > 0 {
                stored.processed = VecDeque::new();
            }
            true
        });
        let removed = before.saturating_sub(self.sessions.len());
        if removed > 0 {
            self.sessions.shrink_to_fit();
        }
        Ok(removed)
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

fn record(processed: &mut VecDeque<Processed>, new: Option<Processed>) {
    if let Some(new) = new {
        if processed.len() >= MAX_PROCESSED_PER_SESSION {
            processed.pop_front();
        }
        processed.push_back(new);
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
