//! Where sessions (and the counters limits need) live between turns.
//!
//! [`SessionStore`] saves with compare-and-set on [`Session::version`], so two writers can
//! never silently overwrite each other: the loser gets [`StoreError::Conflict`].

mod counters;
mod memory;

pub use counters::{Counters, MemoryCounters, Permit, RateLimit};
pub use memory::MemoryStore;

use async_trait::async_trait;

use crate::dialog::Session;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Someone saved the session since it was loaded.
    #[error("the session was changed by another turn")]
    Conflict,
    /// The backing service cannot be reached; nothing was written.
    #[error("session store unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait SessionStore: Send + Sync + std::fmt::Debug {
    /// The session, unless it does not exist or has been idle past the TTL.
    async fn load(&self, id: &str) -> Result<Option<Session>, StoreError>;

    /// Saves `session` if the stored version is still `session.version` (0: must not exist
    /// yet), then increments `session.version` to the saved one.
    async fn save(&self, session: &mut Session) -> Result<(), StoreError>;

    /// Removes a session; `true` if it existed.
    async fn delete(&self, id: &str) -> Result<bool, StoreError>;

    /// Frees sessions idle past the TTL; returns how many.
    async fn sweep(&self) -> Result<usize, StoreError>;

    /// Live sessions.
    async fn count(&self) -> Result<usize, StoreError>;

    /// Whether the store can serve requests.
    async fn ping(&self) -> Result<(), StoreError>;
}
