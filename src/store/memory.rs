//! The in-process store: a sharded concurrent map, an idle TTL, and a sweeper.

use std::collections::VecDeque;
use std::sync::Arc;
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
            clock,
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
