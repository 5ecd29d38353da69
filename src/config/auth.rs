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
    /// Deprecated: also accept `v1` signatures, which cover the body only (a signed empty
    /// body was then valid on every route that takes one). Off unless set.
    pub body_only_signatures: bool,
    /// Web chat widgets in public pages, each with a publishable key bound to its sites.
    pub widgets: Vec<WidgetConfig>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            replay_window: Duration::from_secs(300),
            clients: Vec::new(),
            body_only_signatures: false,
            widgets: Vec::new(),
        }
    }
}

/// What a client may do beyond its own sessions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientRole {
    /// Its own sessions: those it started.
    #[default]
    Api,
    /// Every session: support staff and human agents (reading, ending, answering sessions
    /// handed over to people).
    Agent,
}

/// A widget embedded in public pages. Its key is no secret (every visitor's browser has it):
/// it names the widget, and is accepted only from `origins` and only to talk and to listen.
/// Each session it starts gets a token of its own, which every later request of that session
/// must carry, so one visitor cannot read or continue another's conversation.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WidgetConfig {
    /// Names the widget in logs, metrics and rate limits (as the client `widget:<id>`).
    pub id: String,
    /// The publishable key pages put in `data-key`.
    pub key: String,
    /// The sites allowed to use the key (`https://shop.example.com`); they are also allowed
    /// by CORS.
    pub origins: Vec<String>,
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
    /// `api` (its own sessions) or `agent` (every session).
    #[serde(default)]
    pub role: ClientRole,
}

impl AuthConfig {
    /// Checked when serving (not by `check` or `chat`, which accept no requests).
    pub fn validate(&self) -> Result<(), String> {
        if !self.enabled {
            return Ok(());
        }
        if self.clients.is_empty() && self.widgets.is_empty() {
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
        let mut keys: Vec<&str> = Vec::new();
        for widget in &self.widgets {
            if widget.id.is_empty() || ids.contains(&widget.id.as_str()) {
                return Err(format!(
                    "`auth.widgets`: widget ids must be non-empty and distinct from each other and from client ids (`{}`)",
                    widget.id
                ));
            }
            ids.push(&widget.id);
            if widget.key.len() < 16
                || !widget
                    .key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                || keys.contains(&widget.key.as_str())
            {
                return Err(format!(
                    "`auth.widgets`: the key of widget `{}` must be at least 16 letters, digits, `_` or `-`, and used by no other widget",
                    widget.id
                ));
            }
            keys.push(&widget.key);
            if widget.origins.is_empty() {
                return Err(format!(
                    "`auth.widgets`: widget `{}` needs `origins`, the sites allowed to use its key",
                    widget.id
                ));
            }
            if let Some(origin) = widget.origins.iter().find(|o| !is_origin(o)) {
                return Err(format!(
                    "`auth.widgets`: `{origin}` (widget `{}`) is no origin; write it as `https://shop.example.com`, scheme and host (and port) only",
                    widget.id
                ));
            }
        }
        if self.replay_window.is_zero() {
            return Err("`auth.replay_window` must be longer than zero".to_owned());
        }
        Ok(())
    }
}

/// `scheme://host[:port]`, as browsers send it in `Origin`.
fn is_origin(origin: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    matches!(scheme, "http" | "https")
        && !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_host_and_port() {
        assert!(is_origin("https://shop.example.com"));
        assert!(is_origin("http://127.0.0.1:8080"));
        assert!(!is_origin("shop.example.com"));
        assert!(!is_origin("https://shop.example.com/"));
        assert!(!is_origin("*"));
        assert!(!is_origin("ftp://x"));
    }
}
