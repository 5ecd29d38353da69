//! [`DialogArchive`] in Redis: `dialog:ID:VERSION` holds the YAML source, written once
//! (`SET NX`). Each process remembers for a minute what it has kept, so sessions starting on a
//! version pay the round trip at most once a minute per instance, and a Redis that lost its
//! data (restarted without persistence) has the source again within a minute.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::store::{DialogArchive, StoreError};

use super::RedisPool;

/// How long this process trusts that a version it kept is still in Redis.
const REMEMBERED: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct RedisArchive {
    pool: Arc<RedisPool>,
    kept: Mutex<HashMap<(String, u32), Instant>>,
}

impl RedisArchive {
    pub fn new(pool: Arc<RedisPool>) -> Self {
        Self {
            pool,
            kept: Mutex::new(HashMap::new()),
        }
    }

    fn key(&self, id: &str, version: u32) -> String {
        self.pool.key(&format!("dialog:{id}:{version}"))
    }

    fn is_kept(&self, id: &str, version: u32) -> bool {
        self.kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(id.to_owned(), version))
            .is_some_and(|at| at.elapsed() < REMEMBERED)
    }
}

#[async_trait]
impl DialogArchive for RedisArchive {
    async fn keep(
        &self,
        id: &str,
        version: u32,
        source: &(dyn Fn() -> String + Sync),
    ) -> Result<(), StoreError> {
        if self.is_kept(id, version) {
            return Ok(());
        }
        let source = source();
        let source = source.as_str();
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
            .insert((id.to_owned(), version), Instant::now());
        Ok(())
    }

    async fn fetch(&self, id: &str, version: u32) -> Result<Option<String>, StoreError> {
        self.pool
            .command(redis::cmd("GET").arg(self.key(id, version)))
            .await
    }
}
