//! What a turn does with shared state, as two steps. A turn takes its session's lease, reads
//! the session (or the record of a retried message), runs the dialog, then saves the session
//! with its idempotency record, puts its event on the session's stream and frees the lease.
//! Each of those is a port of its own ([`TurnLease`], [`SessionStore`], [`EventLog`]);
//! [`TurnStore`] groups them into the two steps so that a shared store can do each in one
//! round trip (the Redis store: one script each), while [`SeparateTurns`] calls the ports one
//! after the other for stores in this process. Charges the turn gives back ([`Refund`]) go
//! with its last step.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::dialog::Session;
use crate::dialog::reply::SessionEvent;

use super::{Counters, EventLog, Lease, Processed, Refund, SessionStore, StoreError, TurnLease};

/// What the first step read, under the lease it took.
#[derive(Debug)]
pub struct Opened {
    pub lease: Lease,
    /// The record of the message when the session processed it already (a retry): then the
    /// session is not read.
    pub earlier: Option<Processed>,
    /// The session, unless it does not exist or has been idle past the TTL.
    pub session: Option<Session>,
}

#[async_trait]
pub trait TurnStore: Send + Sync + std::fmt::Debug {
    /// Takes the session's lease, waiting at most `wait` while another instance holds it,
    /// then reads what [`SessionStore::open`] reads. `None` when the lease stayed taken.
    async fn begin(
        &self,
        session_id: &str,
        message_id: &str,
        wait: Duration,
    ) -> Result<Option<Opened>, StoreError>;

    /// Saves `session` with `processed` as [`SessionStore::save`] does, then (once saved)
    /// puts `event` on the session's stream, gives back `refunds` and frees the lease,
    /// whatever happened. Only the save's failure is returned: the others are logged, since
    /// the turn's answer stands without them.
    async fn finish(
        &self,
        lease: Lease,
        session: &mut Session,
        processed: &Processed,
        event: &SessionEvent,
        refunds: &[Refund],
    ) -> Result<(), StoreError>;

    /// Gives back `refunds` and frees the lease of a turn that saves nothing (a retry
    /// answered from its record, or a turn that failed).
    async fn abandon(&self, lease: Lease, refunds: &[Refund]);
}

/// The two steps as calls to the separate ports, in order: for the in-memory store, where a
/// call costs no round trip.
#[derive(Debug, Clone)]
pub struct SeparateTurns {
    store: Arc<dyn SessionStore>,
    lease: Arc<dyn TurnLease>,
    events: Arc<dyn EventLog>,
    counters: Arc<dyn Counters>,
}

impl SeparateTurns {
    pub fn new(
        store: Arc<dyn SessionStore>,
        lease: Arc<dyn TurnLease>,
        events: Arc<dyn EventLog>,
        counters: Arc<dyn Counters>,
    ) -> Self {
        Self {
            store,
            lease,
            events,
            counters,
        }
    }
}

#[async_trait]
impl TurnStore for SeparateTurns {
    async fn begin(
        &self,
        session_id: &str,
        message_id: &str,
        wait: Duration,
    ) -> Result<Option<Opened>, StoreError> {
        let Some(lease) = self.lease.acquire(session_id, wait).await? else {
            return Ok(None);
        };
        match self.store.open(session_id, message_id).await {
            Ok((earlier, session)) => Ok(Some(Opened {
                lease,
                earlier,
                session,
            })),
            Err(error) => {
                self.lease.release(lease).await;
                Err(error)
            }
        }
    }

    async fn finish(
        &self,
        lease: Lease,
        session: &mut Session,
        processed: &Processed,
        event: &SessionEvent,
        refunds: &[Refund],
    ) -> Result<(), StoreError> {
        let saved = self.store.save(session, Some(processed)).await;
        if saved.is_ok()
            && let Err(error) = self.events.append(&session.id, event, processed.at).await
        {
            tracing::warn!(%error, "an event could not be put on the session's stream");
        }
        self.counters.give_back(refunds).await;
        self.lease.release(lease).await;
        saved
    }

    async fn abandon(&self, lease: Lease, refunds: &[Refund]) {
        self.counters.give_back(refunds).await;
        self.lease.release(lease).await;
    }
}
