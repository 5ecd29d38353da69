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
    /// Reverse proxies (addresses or CIDR networks) whose `Forwarded` / `X-Forwarded-For`
    /// names the client the per-IP limit counts; from anyone else those headers are ignored.
    pub trusted_proxies: Vec<String>,
    /// Whether the per-IP limit counts clients on a loopback address too. Off: everything on
    /// this machine (a load test, a widget backend, a proxy not listed) shares one address,
    /// and the per-client limit is what protects an authenticated deployment.
    pub limit_loopback: bool,
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
            trusted_proxies: Vec::new(),
            limit_loopback: false,
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
        if let Some(bad) = self
            .trusted_proxies
            .iter()
            .find(|p| parse_network(p).is_none())
        {
            return Err(format!(
                "`limits.trusted_proxies` holds `{bad}`, which is no address or network (write `10.0.0.5` or `10.0.0.0/8`)"
            ));
        }
        if self.max_sessions == 0 || self.session_queue == 0 {
            return Err(
                "`limits.max_sessions` and `limits.session_queue` must be at least 1".to_owned(),
            );
        }
        Ok(())
    }
}

/// An address (`10.0.0.5`, `::1`) or a network (`10.0.0.0/8`).
pub fn parse_network(text: &str) -> Option<ipnet::IpNet> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>().ok().or_else(|| {
        text.parse::<std::net::IpAddr>()
            .ok()
            .map(ipnet::IpNet::from)
    })
}
