//! Turn leases: one turn of a session at a time across every instance that shares a store.
//!
//! Inside one process [`crate::engine::SessionLocks`] already serialise a session's turns. A
//! shared store needs the same across processes, and a turn has side effects (it may email a
//! code), so a turn that lost a compare-and-set race cannot simply be run again: it would send
//! a second code. So a turn first takes the session's lease, and only then reads the session;
//! the compare-and-set on the session's version stays the fencing check for a holder whose
//! lease ran out (see ARCHITECTURE.md, "Decisions").

use std::time::Duration;

use async_trait::async_trait;

use super::StoreError;

/// A held lease. Dropping it stops its renewal; [`TurnLease::release`] also frees it at once
/// (otherwise it expires by itself).
#[derive(Debug, Default)]
pub struct Lease {
    pub(crate) key: String,
    pub(crate) token: String,
    pub(crate) renewal: Option<tokio::task::JoinHandle<()>>,
}

impl Lease {
    /// A lease that stands for nothing (single-process stores).
    pub fn local() -> Self {
        Self::default()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(renewal) = self.renewal.take() {
            renewal.abort();
        }
    }
}

#[async_trait]
pub trait TurnLease: Send + Sync + std::fmt::Debug {
    /// Takes the session's lease, waiting at most `wait` while another instance holds it.
    /// `None` when it stayed taken for the whole wait.
    async fn acquire(&self, session_id: &str, wait: Duration) -> Result<Option<Lease>, StoreError>;

    /// Hands the lease back. A failure is logged, not returned: the lease expires by itself.
    async fn release(&self, lease: Lease);
}

/// For the in-memory store: one process, whose per-session locks are enough.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalLease;

#[async_trait]
impl TurnLease for LocalLease {
    async fn acquire(
        &self,
        _session_id: &str,
        _wait: Duration,
    ) -> Result<Option<Lease>, StoreError> {
        Ok(Some(Lease::local()))
    }

    async fn release(&self, _lease: Lease) {}
}
