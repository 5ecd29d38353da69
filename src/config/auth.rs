//! `auth:` — who may call the API. Clients authenticate with an API key
//! (`Authorization: Bearer …`) or by signing the body (`X-Colloquy-Signature`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Secret;
use crate::duration::serde_human;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// On unless set off. Off, anyone who can reach the port can talk to any session: fine on
    /// 127.0.0.1 for development, and the server warns when it is off on another address.
    pub enabled: bool,
    /// How far a signature's timestamp may be from the server's clock; a signature is also
    /// accepted only once within it.
    #[serde(with = "serde_human")]
    pub replay_window: Duration,
    pub clients: Vec<ClientConfig>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            replay_window: Duration::from_secs(300),
            clients: Vec::new(),
        }
    }
}

/// One caller (a widget, a channel gateway). Keys and secrets are written `env:NAME` to read
/// them from the environment at start-up.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// Names the client in logs, metrics and rate limits.
    pub id: String,
    #[serde(default)]
    pub api_keys: Vec<Secret>,
    #[serde(default)]
    pub signing_secrets: Vec<Secret>,
}

impl AuthConfig {
    /// Checked when serving (not by `check` or `chat`, which accept no requests).
    pub fn validate(&self) -> Result<(), String> {
        if !self.enabled {
            return Ok(());
        }
        if self.clients.is_empty() {
            return Err("`auth.enabled` is true but `auth.clients` is empty: add a client, or set `auth.enabled: false` for local development".to_owned());
        }
        let mut ids: Vec<&str> = Vec::new();
        for client in &self.clients {
            if client.id.is_empty() || ids.contains(&client.id.as_str()) {
                return Err(format!(
                    "`auth.clients`: client ids must be non-empty and distinct (`{}`)",
                    client.id
                ));
            }
            ids.push(&client.id);
            if client.api_keys.is_empty() && client.signing_secrets.is_empty() {
                return Err(format!(
                    "`auth.clients`: client `{}` has neither `api_keys` nor `signing_secrets`",
                    client.id
                ));
            }
            if client
                .api_keys
                .iter()
                .chain(&client.signing_secrets)
                .any(|s| s.len() < 16)
            {
                return Err(format!(
                    "`auth.clients`: the keys and secrets of client `{}` must be at least 16 bytes long",
                    client.id
                ));
            }
        }
        if self.replay_window.is_zero() {
            return Err("`auth.replay_window` must be longer than zero".to_owned());
        }
        Ok(())
    }
}
