//! `services:` — the HTTP services dialogs may call with `http.request`, by name. A dialog
//! names a service, never a URL, so what a user types cannot choose where a request goes.
//!
//! ```yaml
//! services:
//!   bookings:
//!     base_url: https://bookings.internal.example.com/api
//!     timeout: 3s
//!     headers: { Authorization: "env:BOOKINGS_AUTH" }
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Secret;
use crate::duration::serde_human;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// `http(s)://host[:port][/path]`: a request's `path` is appended to it. No query, no
    /// fragment, no user name or password (credentials go in `headers`, from the environment).
    pub base_url: String,
    /// The longest one call may take, retries included (a node may ask for less). A user is
    /// waiting in the chat, so it is below `server.request_timeout`.
    #[serde(with = "serde_human", default = "default_timeout")]
    pub timeout: Duration,
    /// Sent with every request to this service; values may be `env:NAME` secrets (an API
    /// key), which never reach a log.
    #[serde(default)]
    pub headers: BTreeMap<String, Secret>,
    /// A larger answer is not read further; the call ends `invalid_response`.
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: usize,
}

fn default_timeout() -> Duration {
    Duration::from_secs(5)
}

fn default_max_response_bytes() -> usize {
    1024 * 1024
}

/// The most bytes `max_response_bytes` may allow: answers are held in memory while a turn runs.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Checks what can be checked without building a client (the URL is parsed where it is).
pub fn validate(
    services: &BTreeMap<String, ServiceConfig>,
    request_timeout: Duration,
) -> Result<(), String> {
    for (name, service) in services {
        if !crate::dialog::load::is_identifier(name) {
            return Err(format!(
                "`services.{name}`: a service name is letters, digits, `_` and `-`"
            ));
        }
        if service.timeout < Duration::from_millis(10) || service.timeout >= request_timeout {
            return Err(format!(
                "`services.{name}.timeout` must be at least 10ms and shorter than `server.request_timeout` ({}), or the user's request times out first",
                crate::duration::format_duration(request_timeout)
            ));
        }
        if !(1..=MAX_RESPONSE_BYTES).contains(&service.max_response_bytes) {
            return Err(format!(
                "`services.{name}.max_response_bytes` must be between 1 and {MAX_RESPONSE_BYTES}"
            ));
        }
    }
    Ok(())
}

/// Every header value, for resolving `env:` secrets.
pub(super) fn secrets(
    services: &mut BTreeMap<String, ServiceConfig>,
) -> impl Iterator<Item = &mut Secret> {
    services
        .values_mut()
        .flat_map(|service| service.headers.values_mut())
}
