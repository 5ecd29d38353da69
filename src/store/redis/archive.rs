//! [`DialogArchive`] in Redis: `dialog:ID:VERSION` holds the YAML source, written once
//! (`SET NX`). Each process remembers what it has kept, so only the first session on a
//! version pays the round trip.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use crate::store::{DialogArchive, StoreError};

use super::RedisPool;

#[derive(Debug)]
pub struct RedisArchive {
    pool: Arc<RedisPool>,
    kept: Mutex<HashSet<(String, u32)>>,
}

impl RedisArchive {
    pub fn new(pool: Arc<RedisPool>) -> Self {
        Self {
            pool,
            kept: Mutex::new(HashSet::new()),
        }
    }

    fn key(&self, id: &str, version: u32) -> String {
        self.pool.key(&format!("dialog:{id}:{version}"))
    }

    fn is_kept(&self, id: &str, version: u32) -> bool {
        self.kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&(id.to_owned(), version))
    }
}

#[async_trait]
impl DialogArchive for RedisArchive {
    async fn keep(&self, id: &str, version: u32, source: &str) -> Result<(), StoreError> {
        if self.is_kept(id, version) {
            return Ok(());
        }
        let key = self.key(id, version);
        let written: Option<String> = self
            .pool
            .command(redis::cmd("SET").arg(&key).arg(source).arg("NX"))
            .await?;
        if written.is_none() {
            let kept: Option<String> = self.pool.command(redis::cmd("GET").arg(&key)).await?;
            if kept.as_deref().is_some_and(|kept| kept != source) {
                tracing::warn!(
                    dialog = id,
                    version,
                    "dialog changed without a new version number: sessions that started on the archived source continue on the loaded one; raise `version` when you change a dialog"
                );
            }
        }
        self.kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((id.to_owned(), version));
        Ok(())
    }

    async fn fetch(&self, id: &str, version: u32) -> Result<Option<String>, StoreError> {
        self.pool
            .command(redis::cmd("GET").arg(self.key(id, version)))
            .await
    }
}
