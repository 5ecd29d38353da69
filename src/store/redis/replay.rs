//! [`ReplayGuard`] in Redis: `SET replay:SCOPE:HEX 1 NX PX <until − now>`, one round trip.
//! The lifetime is worked out on the engine's clock, so Redis's own clock does not matter.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::clock::Clock;
use crate::store::replay::lifetime;
use crate::store::{ReplayGuard, StoreError};

use super::RedisPool;

#[derive(Debug)]
pub struct RedisReplay {
    pool: Arc<RedisPool>,
    clock: Arc<dyn Clock>,
}

impl RedisReplay {
    pub fn new(pool: Arc<RedisPool>, clock: Arc<dyn Clock>) -> Self {
        Self { pool, clock }
    }
}

#[async_trait]
impl ReplayGuard for RedisReplay {
    async fn first_use(
        &self,
        scope: &'static str,
        fingerprint: &[u8; 32],
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let key = self.pool.key(&format!(
            "replay:{scope}:{}",
            crate::hex::encode(fingerprint)
        ));
        let ttl = lifetime(self.clock.now(), until);
        let set: Option<String> = self
            .pool
            .command(
                redis::cmd("SET")
                    .arg(&key)
                    .arg(1)
                    .arg("NX")
                    .arg("PX")
                    .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX)),
            )
            .await?;
        Ok(set.is_some())
    }

    fn sweep(&self) {}
}
