//! One async lock per active session, so the turns of a session run one at a time in arrival
//! order while different sessions run in parallel. Nothing global is held while a turn runs:
//! the map is touched only to find or drop a session's lock.

use std::sync::Arc;

use dashmap::DashMap;
use tokio::sync::{Mutex, OwnedMutexGuard};

#[derive(Debug, Default)]
pub struct SessionLocks {
    locks: DashMap<String, Arc<Mutex<()>>>,
}

/// Held while a turn runs; releasing it frees the map entry when nobody else waits.
#[derive(Debug)]
pub struct SessionGuard<'a> {
    guard: Option<OwnedMutexGuard<()>>,
    locks: &'a SessionLocks,
    id: String,
}

impl SessionLocks {
    /// Waits for the session's lock. Tokio's mutex is fair, so waiters go in arrival order.
    pub async fn lock(&self, id: &str) -> SessionGuard<'_> {
        // Clone the Arc and drop the map guard before awaiting.
        let mutex = self.locks.entry(id.to_owned()).or_default().value().clone();
        let guard = mutex.lock_owned().await;
        SessionGuard {
            guard: Some(guard),
            locks: self,
            id: id.to_owned(),
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
        let first = locks.lock("s").await;
        let waiter = {
            let (locks, order) = (locks.clone(), order.clone());
            tokio::spawn(async move {
                let _g = locks.lock("s").await;
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
        let _other = locks.lock("other").await;
        let _again = locks.lock("s").await;
        assert_eq!(locks.len(), 2);
    }
}
