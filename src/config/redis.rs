//! `sessions.redis:` — where the Redis store keeps sessions, idempotency records, per-address
//! counters, rate-limit buckets, turn leases and dialog sources, so several instances can
//! share them (`sessions.store: redis`).
//!
//! The URL may carry a password (`redis://:secret@host:6379/0`), so it is a [`Secret`]:
//! `env:NAME` reads it from the environment, `Debug` prints `[redacted]`, and logs show
//! [`redacted_url`] (the password replaced).

use std::time::Duration;

use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use super::Secret;
use crate::duration::serde_human;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// `redis://[user][:password@]host[:port][/db]`, or `env:NAME`.
    pub url: Secret,
    /// Put in front of every key, so several deployments (or tests) can share one Redis.
    pub key_prefix: String,
    /// Multiplexed connections kept open; commands are spread over them.
    pub pool_size: usize,
    /// The longest opening a connection may take.
    #[serde(with = "serde_human")]
    pub connect_timeout: Duration,
    /// The longest one command may take before the request gets 503 `unavailable`.
    #[serde(with = "serde_human")]
    pub command_timeout: Duration,
    /// How long a turn's lease on its session lasts without renewal. A running turn renews it
    /// every third of this; an instance that dies mid-turn blocks its session this long.
    #[serde(with = "serde_human")]
    pub lease_ttl: Duration,
    /// Refuse to start unless Redis keeps its data on disk (AOF or RDB snapshots): without,
    /// a Redis restart silently resets every guessing budget and send cap. Off: a loud
    /// warning at start instead.
    pub require_persistence: bool,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: Secret::new("redis://127.0.0.1:6379/0"),
            key_prefix: "colloquy:".to_owned(),
            pool_size: 4,
            connect_timeout: Duration::from_secs(1),
            command_timeout: Duration::from_secs(1),
            lease_ttl: Duration::from_secs(10),
            require_persistence: false,
        }
    }
}

impl RedisConfig {
    /// The most connections one instance opens.
    pub const MAX_POOL_SIZE: usize = 64;

    pub(super) fn validate(&self) -> Result<(), String> {
        let url = self.url.expose().expose_secret();
        if url.starts_with("rediss://") {
            return Err("`sessions.redis.url`: TLS (`rediss://`) is not supported yet; use `redis://` on a private network".to_owned());
        }
        if !(url.starts_with("redis://") || url.starts_with("redis+unix://")) {
            return Err(format!(
                "`sessions.redis.url` must start with `redis://` (got `{}`)",
                redacted_url(url)
            ));
        }
        if self.key_prefix.is_empty() || self.key_prefix.contains(['{', '}']) {
            return Err(
                "`sessions.redis.key_prefix` must not be empty or contain `{` or `}`".to_owned(),
            );
        }
        if !(1..=Self::MAX_POOL_SIZE).contains(&self.pool_size) {
            return Err(format!(
                "`sessions.redis.pool_size` must be between 1 and {}",
                Self::MAX_POOL_SIZE
            ));
        }
        if self.connect_timeout.is_zero()
            || self.command_timeout.is_zero()
            || self.lease_ttl < Duration::from_millis(100)
        {
            return Err("`sessions.redis.connect_timeout` and `command_timeout` must be longer than zero, and `lease_ttl` at least 100ms".to_owned());
        }
        Ok(())
    }
}

/// The URL with any password replaced by `***`, for logs and error messages.
pub fn redacted_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "[redacted]".to_owned();
    };
    // The authority ends at the first `/`; credentials end at its last `@`.
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let (credentials, host) = authority.split_at(at);
    let user = credentials.split_once(':').map_or("", |(user, _)| user);
    format!("{scheme}://{user}:***{host}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redacted_url("redis://:s3cret@cache:6379/0"),
            "redis://:***@cache:6379/0"
        );
        assert_eq!(
            redacted_url("redis://app:p@ss@cache/1"),
            "redis://app:***@cache/1"
        );
        assert_eq!(
            redacted_url("redis://tokenonly@cache"),
            "redis://:***@cache"
        );
        assert_eq!(
            redacted_url("redis://127.0.0.1:6379/0"),
            "redis://127.0.0.1:6379/0"
        );
        assert_eq!(redacted_url("nonsense"), "[redacted]");
    }

    #[test]
    fn the_url_can_come_from_the_environment_and_never_prints() {
        let env = vec![(
            "REDIS_URL".to_owned(),
            "redis://:hunter2@cache:6379/0".to_owned(),
        )];
        let config = crate::config::Config::from_source(
            "sessions:\n  store: redis\n  redis:\n    url: env:REDIS_URL\n",
            "c.yaml",
            env,
        )
        .unwrap();
        let url = config.sessions.redis.url.expose().expose_secret();
        assert_eq!(url, "redis://:hunter2@cache:6379/0");
        assert!(!format!("{config:?}").contains("hunter2"));
        assert_eq!(redacted_url(url), "redis://:***@cache:6379/0");
        let missing = crate::config::Config::from_source(
            "sessions:\n  store: redis\n  redis:\n    url: env:REDIS_URL\n",
            "c.yaml",
            Vec::new(),
        );
        assert!(missing.is_err(), "an unset variable is an error");
    }

    #[test]
    fn values_are_checked() {
        assert!(RedisConfig::default().validate().is_ok());
        let bad = [
            RedisConfig {
                url: Secret::new("http://x"),
                ..RedisConfig::default()
            },
            RedisConfig {
                url: Secret::new("rediss://x"),
                ..RedisConfig::default()
            },
            RedisConfig {
                pool_size: 0,
                ..RedisConfig::default()
            },
            RedisConfig {
                key_prefix: String::new(),
                ..RedisConfig::default()
            },
            RedisConfig {
                command_timeout: Duration::ZERO,
                ..RedisConfig::default()
            },
        ];
        for config in bad {
            assert!(config.validate().is_err(), "{config:?}");
        }
    }
}
