//! The in-process store: a sharded concurrent map, an idle TTL, and a sweeper.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::TimeDelta;
use dashmap::DashMap;
use dashmap::mapref::entry::Entry;

use crate::clock::Clock;
use crate::dialog::Session;

use super::{SessionStore, StoreError};

/// Sessions in memory. Every method is synchronous inside: no map guard is ever held across
/// an `.await`.
#[derive(Debug)]
pub struct MemoryStore {
    sessions: DashMap<String, Session>,
    idle_ttl: TimeDelta,
    clock: Arc<dyn Clock>,
}

impl MemoryStore {
    pub fn new(idle_ttl: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            sessions: DashMap::new(),
            idle_ttl: TimeDelta::from_std(idle_ttl).unwrap_or(TimeDelta::MAX),
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
            .filter(|s| !self.is_expired(s))
            .map(|s| s.clone()))
    }

    async fn save(&self, session: &mut Session) -> Result<(), StoreError> {
        let expected = session.version;
        let mut saved = session.clone();
        saved.version = expected + 1;
        match self.sessions.entry(session.id.clone()) {
            Entry::Occupied(mut slot) => {
                // An expired session counts as absent: a new conversation may take its id.
                let current = if self.is_expired(slot.get()) {
                    0
                } else {
                    slot.get().version
                };
                if current != expected {
                    return Err(StoreError::Conflict);
                }
                slot.insert(saved);
            }
            Entry::Vacant(slot) => {
                if expected != 0 {
                    return Err(StoreError::Conflict);
                }
                slot.insert(saved);
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
        self.sessions.retain(|_, session| !self.is_expired(session));
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
