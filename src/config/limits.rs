//! `limits:` — how much any one caller, address or session may ask for.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::duration::serde_human;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Requests per authenticated client.
    pub per_client: Rate,
    /// Requests per remote IP address.
    pub per_ip: Rate,
    /// Live sessions kept; beyond it the longest-idle sessions are evicted.
    pub max_sessions: usize,
    /// Turns that may wait for one busy session; more get 503 at once.
    pub session_queue: usize,
    /// How long a turn waits for its session to be free before it gets 503.
    #[serde(with = "serde_human")]
    pub queue_timeout: Duration,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            per_client: Rate {
                per_second: 200,
                burst: 400,
            },
            per_ip: Rate {
                per_second: 50,
                burst: 100,
            },
            max_sessions: 1_000_000,
            session_queue: 64,
            queue_timeout: Duration::from_secs(5),
        }
    }
}

/// A token bucket: `per_second` sustained, `burst` at once. `per_second: 0` means unlimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    pub per_second: u32,
    pub burst: u32,
}

impl LimitsConfig {
    pub(super) fn validate(&self) -> Result<(), String> {
        for (name, rate) in [("per_client", self.per_client), ("per_ip", self.per_ip)] {
            if rate.per_second > 0 && rate.burst == 0 {
                return Err(format!(
                    "`limits.{name}.burst` must be at least 1 when `per_second` is set"
                ));
            }
        }
        if self.max_sessions == 0 || self.session_queue == 0 {
            return Err(
                "`limits.max_sessions` and `limits.session_queue` must be at least 1".to_owned(),
            );
        }
        Ok(())
    }
}
