//! One async lock per active session, so the turns of a session run one at a time in arrival
//! order while different sessions run in parallel. Nothing global is held while a turn runs:
//! the map is touched only to find or drop a session's lock.

use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use tokio::sync::{Mutex, OwnedMutexGuard};

#[derive(Debug)]
pub struct SessionLocks {
    locks: DashMap<String, Arc<Mutex<()>>>,
    /// Turns that may wait behind the running one.
    max_waiting: usize,
    /// How long a turn may wait.
    timeout: Duration,
}

impl Default for SessionLocks {
    fn default() -> Self {
        Self::new(64, Duration::from_secs(5))
    }
}

/// Why a turn did not get its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// Too many turns already wait for this session.
    QueueFull,
    /// The session stayed busy for the whole wait.
    TimedOut,
}

/// Held while a turn runs; releasing it frees the map entry when nobody else waits.
#[derive(Debug)]
pub struct SessionGuard<'a> {
    guard: Option<OwnedMutexGuard<()>>,
    locks: &'a SessionLocks,
    id: String,
}

impl SessionLocks {
    pub fn new(max_waiting: usize, timeout: Duration) -> Self {
        Self {
            locks: DashMap::new(),
            max_waiting,
            timeout,
        }
    }

    /// Waits for the session's lock, at most the configured time and behind at most the
    /// configured number of turns. Tokio's mutex is fair: waiters go in arrival order.
    pub async fn lock(&self, id: &str) -> Result<SessionGuard<'_>, Busy> {
        // Clone the Arc and drop the map guard before awaiting.
        let mutex = self.locks.entry(id.to_owned()).or_default().value().clone();
        // On refusal this frees the map entry when it drops.
        let mut guard = SessionGuard {
            guard: None,
            locks: self,
            id: id.to_owned(),
        };
        // Each participant holds one Arc: the map, us, the running turn and every waiter.
        let others = Arc::strong_count(&mutex).saturating_sub(2);
        if others > self.max_waiting {
            // Release our Arc before `guard` drops, so it can free the entry.
            drop(mutex);
            return Err(Busy::QueueFull);
        }
        match tokio::time::timeout(self.timeout, mutex.lock_owned()).await {
            Ok(owned) => {
                guard.guard = Some(owned);
                Ok(guard)
            }
            Err(_) => Err(Busy::TimedOut),
        }
    }

    /// Sessions with a turn running or waiting.
    pub fn len(&self) -> usize {
        self.locks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.locks.is_empty()
    }
}

impl Drop for SessionGuard<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        // Only the map holds the Arc now if nobody is waiting; `remove_if` checks under the
        // shard lock, which anyone cloning the Arc must also take.
        self.locks
            .locks
            .remove_if(&self.id, |_, mutex| Arc::strong_count(mutex) == 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serialises_one_session_and_cleans_up() {
        let locks = Arc::new(SessionLocks::default());
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let first = locks.lock("s").await.unwrap();
        let waiter = {
            let (locks, order) = (locks.clone(), order.clone());
            tokio::spawn(async move {
                let _g = locks.lock("s").await.unwrap();
                order.lock().unwrap().push("second");
            })
        };
        tokio::task::yield_now().await;
        order.lock().unwrap().push("first");
        drop(first);
        waiter.await.unwrap();
        assert_eq!(*order.lock().unwrap(), ["first", "second"]);
        assert!(
            locks.is_empty(),
            "entries are freed when no turn holds or waits"
        );
        let _other = locks.lock("other").await.unwrap();
        let _again = locks.lock("s").await.unwrap();
        assert_eq!(locks.len(), 2);
    }

    #[tokio::test]
    async fn a_full_queue_or_a_long_wait_is_refused() {
        let locks = Arc::new(SessionLocks::new(1, Duration::from_millis(20)));
        let running = locks.lock("s").await.unwrap();
        let waiter = {
            let locks = locks.clone();
            tokio::spawn(async move { locks.lock("s").await.map(|_| ()) })
        };
        tokio::task::yield_now().await;
        assert_eq!(locks.lock("s").await.err(), Some(Busy::QueueFull));
        assert_eq!(waiter.await.unwrap(), Err(Busy::TimedOut));
        drop(running);
        assert!(locks.is_empty(), "refused turns leave nothing behind");
    }
}
