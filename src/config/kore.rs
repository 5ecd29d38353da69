//! `kore:` — the Kore.ai Webhook v1- and v2-compatible routes, for widgets and test connectors
//! built for that platform.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Secret;
use crate::duration::serde_human;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KoreConfig {
    /// Serve `POST /chatbot/hooks/{botId}` (v1) and `POST /chatbot/v2/webhook/{botId}` (v2).
    pub enabled: bool,
    /// Apps allowed to call them: JWTs (HS256/HS512) signed with `secret` and carrying
    /// `appId: <app_id>` (or, without `appId`, `iss: <app_id>`).
    pub clients: Vec<KoreClient>,
    /// Which dialog a bot id runs (default: `dialogs.default` for every bot).
    pub bots: BTreeMap<String, String>,
    /// The longest a token may be valid: `exp - iat`, or without `iat`, `exp - now`.
    #[serde(with = "serde_human")]
    pub max_token_lifetime: Duration,
    /// When set, a token's `aud` must be (or contain) it.
    pub audience: Option<String>,
    /// When set, a token's `iss` must equal it.
    pub issuer: Option<String>,
    /// Accept each token once (by `jti`, else by the token itself) until it expires.
    pub single_use_tokens: bool,
}

impl Default for KoreConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            clients: Vec::new(),
            bots: BTreeMap::new(),
            max_token_lifetime: Duration::from_secs(24 * 3600),
            audience: None,
            issuer: None,
            single_use_tokens: false,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KoreClient {
    pub app_id: String,
    pub secret: Secret,
}

impl KoreConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.enabled && self.clients.is_empty() {
            return Err("`kore.enabled` is true but `kore.clients` is empty: add `- app_id: …, secret: env:…`".to_owned());
        }
        if self.clients.iter().any(|c| c.secret.len() < 16) {
            return Err("`kore.clients`: secrets must be at least 16 bytes long".to_owned());
        }
        if self.max_token_lifetime < Duration::from_secs(1) {
            return Err("`kore.max_token_lifetime` must be at least 1s".to_owned());
        }
        Ok(())
    }
}
