//! `kore:` — the Kore.ai Webhook v2-compatible route, for widgets and test connectors built
//! for that platform.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Secret;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KoreConfig {
    /// Serve `POST /chatbot/v2/webhook/{botId}`.
    pub enabled: bool,
    /// Apps allowed to call it: JWTs (HS256/HS512) signed with `secret` and carrying
    /// `appId: <app_id>`.
    pub clients: Vec<KoreClient>,
    /// Which dialog a bot id runs (default: `dialogs.default` for every bot).
    pub bots: BTreeMap<String, String>,
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
        Ok(())
    }
}
