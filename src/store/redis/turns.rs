//! [`TurnStore`] in Redis: a turn's reads and writes in two round trips. `BEGIN_TURN` takes
//! the lease and reads the session and the message's record; `FINISH_TURN` saves, appends the
//! event and frees the lease. Each is one script, so what holds for the separate commands
//! holds here: the lease is taken before anything is read, the save is a compare-and-set,
//! and nothing is half-written. Charges the turn gives back are sent in the same round trip
//! as `FINISH_TURN`, ahead of it (they are counters of addresses, not the session's keys).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::dialog::Session;
use crate::dialog::reply::SessionEvent;
use crate::store::{Counters, Lease, Opened, Processed, Refund, StoreError, TurnLease, TurnStore};

use super::lease::Polling;
use super::{
    RedisCounters, RedisEvents, RedisLease, RedisPool, RedisStore, StoredSession, scripts,
};

#[derive(Debug)]
pub struct RedisTurns {
    pool: Arc<RedisPool>,
    store: Arc<RedisStore>,
    lease: Arc<RedisLease>,
    events: Arc<RedisEvents>,
    counters: Arc<RedisCounters>,
}

impl RedisTurns {
    pub fn new(
        pool: Arc<RedisPool>,
        store: Arc<RedisStore>,
        lease: Arc<RedisLease>,
        events: Arc<RedisEvents>,
        counters: Arc<RedisCounters>,
    ) -> Self {
        Self {
            pool,
            store,
            lease,
            events,
            counters,
        }
    }

    /// One try at the lease; what was read when it was taken.
    async fn try_begin(
        &self,
        lease_key: &str,
        token: &str,
        session_id: &str,
        message_id: &str,
    ) -> Result<Option<(StoredSession, Option<String>)>, StoreError> {
        let [session, seen, ..] = self.store.keys(session_id);
        let answer: Vec<String> = self
            .pool
            .script(
                scripts::BEGIN_TURN
                    .key(lease_key)
                    .key(session)
                    .key(seen)
                    .arg(token)
                    .arg(self.lease.ttl_ms())
                    .arg(message_id),
            )
            .await?;
        let malformed = || StoreError::Unavailable("Redis answered a turn's read oddly".into());
        // Moved out of the answer, not copied: `doc` is the whole session.
        let present = |text: String| (!text.is_empty()).then_some(text);
        let mut fields = answer.into_iter();
        match (fields.next().as_deref(), fields.len()) {
            (Some("0"), 0) => Ok(None),
            (Some("1"), 4) => {
                let mut next = || fields.next().unwrap_or_default();
                let version = present(next())
                    .map(|version| version.parse::<u64>())
                    .transpose()
                    .map_err(|_| malformed())?;
                let updated = present(next())
                    .map(|updated| updated.parse::<i64>())
                    .transpose()
                    .map_err(|_| malformed())?;
                let doc = present(next());
                let record = present(next());
                Ok(Some(((version, updated, doc), record)))
            }
            _ => Err(malformed()),
        }
    }
}

#[async_trait]
impl TurnStore for RedisTurns {
    async fn begin(
        &self,
        session_id: &str,
        message_id: &str,
        wait: Duration,
    ) -> Result<Option<Opened>, StoreError> {
        let (key, token) = self.lease.claim(session_id);
        let mut polling = Polling::new(wait);
        let (stored, record) = loop {
            if let Some(read) = self.try_begin(&key, &token, session_id, message_id).await? {
                break read;
            }
            if !polling.pause().await {
                return Ok(None);
            }
        };
        let lease = self.lease.held(key, token);
        match self.store.opened(stored, record.as_deref()) {
            Ok((earlier, session)) => Ok(Some(Opened {
                lease,
                earlier,
                session,
            })),
            Err(error) => {
                self.abandon(lease, &[]).await;
                Err(error)
            }
        }
    }

    async fn finish(
        &self,
        mut lease: Lease,
        session: &mut Session,
        processed: &Processed,
        event: &SessionEvent,
        refunds: &[Refund],
    ) -> Result<(), StoreError> {
        let prepared = self.store.save_args(session, Some(processed));
        let save = match prepared {
            Ok(save) => save,
            Err(error) => {
                self.abandon(lease, refunds).await;
                return Err(error);
            }
        };
        let append = self
            .events
            .append_args(&session.id, event, processed.at)
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "an event could not be put on the session's stream");
                None
            });
        let (lease_key, token) = RedisLease::stop_renewing(&mut lease);
        let mut invocation = scripts::FINISH_TURN.prepare_invoke();
        save.add_to(&mut invocation);
        invocation.key(&lease_key).arg(&token);
        match &append {
            Some(append) => {
                invocation.arg("1");
                append.add_to(&mut invocation);
            }
            None => {
                invocation.arg("0");
            }
        }
        let refund_commands = refunds
            .iter()
            .map(|refund| self.counters.refund_command(&refund.key, refund.permit));
        let answer: Result<(i64, usize, u64), StoreError> =
            self.pool.script_after(refund_commands, &invocation).await;
        let (saved, live, event_id) = match answer {
            Ok(answer) => answer,
            Err(error) => {
                tracing::warn!(%error, "turn lease: release failed; trying again in the background");
                self.lease.release_in_background(lease_key, token);
                return Err(error);
            }
        };
        if event_id != 0 {
            self.events.appended(&session.id);
        }
        self.store.saved(session, saved, live).await
    }

    /// Rare (retries, failed turns): the refunds go one by one before the release.
    async fn abandon(&self, lease: Lease, refunds: &[Refund]) {
        self.counters.give_back(refunds).await;
        self.lease.release(lease).await;
    }
}
