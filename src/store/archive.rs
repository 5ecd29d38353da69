//! The dialog archive: the source of every dialog version a session started on, kept where
//! the sessions are, so a session continues on its version after every instance restarted
//! with newer dialog files (invariant 9 across restarts).

use async_trait::async_trait;

use super::StoreError;

#[async_trait]
pub trait DialogArchive: Send + Sync + std::fmt::Debug {
    /// Keeps the text `source` makes as dialog `id` version `version`, unless that version is
    /// kept already. `source` is called only when the text is written: a turn that starts a
    /// session calls this, and building the text (a version with its translations) costs.
    async fn keep(
        &self,
        id: &str,
        version: u32,
        source: &(dyn Fn() -> String + Sync),
    ) -> Result<(), StoreError>;

    /// The kept source of a dialog version.
    async fn fetch(&self, id: &str, version: u32) -> Result<Option<String>, StoreError>;
}

/// For the in-memory store: its sessions die with the process, so the registry of the
/// process that started them always has their version.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoArchive;

#[async_trait]
impl DialogArchive for NoArchive {
    async fn keep(
        &self,
        _id: &str,
        _version: u32,
        _source: &(dyn Fn() -> String + Sync),
    ) -> Result<(), StoreError> {
        Ok(())
    }

    async fn fetch(&self, _id: &str, _version: u32) -> Result<Option<String>, StoreError> {
        Ok(None)
    }
}
