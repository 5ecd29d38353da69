//! Where sessions (and the counters limits need) live between turns.
//!
//! [`SessionStore`] saves with compare-and-set on [`Session::version`], so two writers can
//! never silently overwrite each other: the loser gets [`StoreError::Conflict`]. Next to it
//! are the other ports a shared store must back for several instances to act as one:
//! [`Counters`] (per-address limits), [`RateLimiter`] (request buckets), [`TurnLease`] (one
//! turn of a session at a time), [`EventLog`] (sessions' event streams) and [`DialogArchive`]
//! (dialog versions outlive restarts); [`TurnStore`] groups what a turn does with them into
//! two steps, one round trip each on a shared store.
//! Each has an in-process adapter and a Redis one (`redis/`).

mod archive;
mod backends;
mod counters;
mod events;
mod lease;
mod limiter;
mod memory;
pub mod redis;
mod replay;
mod turns;

pub use archive::{DialogArchive, NoArchive};
pub use backends::Backends;
pub use counters::{Counters, MemoryCounters, Permit, RateLimit, Refund};
pub use events::{
    EventLimits, EventLog, EventWatch, EventsAfter, MemoryEvents, StoredEvent, Watchers,
};
pub use lease::{Lease, LocalLease, TurnLease};
pub use limiter::{LocalLimiter, RateLimiter, Scope};
pub use memory::{MAX_PROCESSED_PER_SESSION, MemoryStore};
pub use replay::{MAX_REPLAY_RECORDS, MemoryReplay, ReplayGuard};
pub use turns::{Opened, SeparateTurns, TurnStore};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::dialog::Session;
use crate::dialog::reply::TurnReply;

/// Whether the store's data outlives a restart of the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Durability {
    /// In this process's memory: gone with it, by design (`sessions.store: memory`).
    ThisProcess,
    /// On disk: an append-only file or snapshots.
    OnDisk,
    /// Nowhere but the store's memory: its restart forgets everything.
    MemoryOnly,
    /// The store would not say (its `CONFIG` command refused, or it did not answer).
    Unknown(String),
}

/// Bytes taken by sessions in memory, and the most they may take (`sessions.max_bytes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryUse {
    pub bytes: usize,
    pub budget: usize,
}

/// What a sweep freed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Swept {
    /// Sessions (and code records) freed.
    pub count: usize,
    /// The conversations among them that were waiting for the user: abandoned.
    pub abandoned: Vec<Abandoned>,
}

/// Where a conversation was left when it expired waiting for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Abandoned {
    pub dialog: String,
    pub version: u32,
    pub node: String,
}

impl Abandoned {
    /// The conversation `session` was, if it was waiting for the user (records of the OTP
    /// API are no conversations).
    pub fn of(session: &Session) -> Option<Self> {
        (session.state == crate::dialog::State::Waiting && !session.id.starts_with("otp/")).then(
            || Abandoned {
                dialog: session.dialog_id.clone(),
                version: session.dialog_version,
                node: session.node.clone(),
            },
        )
    }
}

/// A message a session has processed, kept for the idempotency window so a retry of it gets
/// the first delivery's answer and changes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    pub message_id: String,
    /// A digest of the text, to tell a retry from a different message that reuses the id.
    pub text_digest: String,
    pub reply: TurnReply,
    pub at: DateTime<Utc>,
}

impl Processed {
    /// The digest stored for `text` (SHA-256, first 16 bytes, hex).
    pub fn digest(text: &str) -> String {
        use sha2::{Digest, Sha256};
        crate::hex::encode(&Sha256::digest(text.as_bytes())[..16])
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Someone saved the session since it was loaded.
    #[error("the session was changed by another turn")]
    Conflict,
    /// The backing service cannot be reached; nothing was written.
    #[error("session store unavailable: {0}")]
    Unavailable(String),
    /// The session would take more than `sessions.max_session_bytes` even without its
    /// transcript: a value too large to keep (a service's whole answer saved into a
    /// variable, say). Nothing was written.
    #[error("the session would take {bytes} bytes, more than the {limit} a session may")]
    TooLarge { bytes: usize, limit: usize },
}

/// `session` encoded by `encode` within `limit` bytes: as it is, or without its oldest
/// transcript lines (the one part of a session that only grows) until it fits.
pub(crate) fn encode_within<T>(
    session: &Session,
    limit: usize,
    encode: impl Fn(&Session) -> Result<T, StoreError>,
    size: impl Fn(&T) -> usize,
) -> Result<T, StoreError> {
    let encoded = encode(session)?;
    if size(&encoded) <= limit {
        return Ok(encoded);
    }
    let mut trimmed = session.clone();
    let mut encoded = encoded;
    while size(&encoded) > limit && trimmed.history.pop_front().is_some() {
        encoded = encode(&trimmed)?;
    }
    let bytes = size(&encoded);
    if bytes > limit {
        return Err(StoreError::TooLarge { bytes, limit });
    }
    tracing::debug!(
        dropped = session.history.len() - trimmed.history.len(),
        "session store: oldest transcript lines dropped to keep the session within its size"
    );
    Ok(encoded)
}

#[async_trait]
pub trait SessionStore: Send + Sync + std::fmt::Debug {
    /// The session, unless it does not exist or has been idle past the TTL.
    async fn load(&self, id: &str) -> Result<Option<Session>, StoreError>;

    /// The record of `message_id` if the session processed it within the idempotency window.
    async fn processed(
        &self,
        session_id: &str,
        message_id: &str,
    ) -> Result<Option<Processed>, StoreError>;

    /// What a turn reads first: the record of `message_id` if the session processed it (then
    /// the session is not read), else the session. Shared stores answer in one round trip.
    async fn open(
        &self,
        session_id: &str,
        message_id: &str,
    ) -> Result<(Option<Processed>, Option<Session>), StoreError> {
        if let Some(processed) = self.processed(session_id, message_id).await? {
            return Ok((Some(processed), None));
        }
        Ok((None, self.load(session_id).await?))
    }

    /// Saves `session` if the stored version is still `session.version` (0: must not exist
    /// yet), then increments `session.version` to the saved one. `processed`, when given, is
    /// recorded in the same atomic step: a turn's effect and its idempotency record are never
    /// written apart.
    async fn save(
        &self,
        session: &mut Session,
        processed: Option<&Processed>,
    ) -> Result<(), StoreError>;

    /// Removes a session; `true` if it existed.
    async fn delete(&self, id: &str) -> Result<bool, StoreError>;

    /// Frees sessions idle past the TTL: how many, and where those still waiting for an
    /// answer were left.
    async fn sweep(&self) -> Result<Swept, StoreError>;

    /// Live sessions.
    async fn count(&self) -> Result<usize, StoreError>;

    /// Sessions evicted so far to stay under the session cap (and the memory budget).
    fn evictions(&self) -> u64 {
        0
    }

    /// What the sessions take in this process's memory, and the budget they must stay
    /// under; `None` for stores that keep them elsewhere.
    fn memory(&self) -> Option<MemoryUse> {
        None
    }

    /// Requests sent to the store's server so far, by every adapter sharing its connections;
    /// `None` for stores in this process.
    fn round_trips(&self) -> Option<u64> {
        None
    }

    /// Whether the store can serve requests.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Whether what is stored survives a restart of the store.
    async fn durability(&self) -> Durability {
        Durability::ThisProcess
    }
}
