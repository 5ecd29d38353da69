//! Where messages of conversations handed to people go: the [`AgentDesk`] port.
//!
//! Agents always can follow a handed-over session on its event stream (`user_message`
//! events) with an `agent` client's key. With `handoff.webhook`, each user message is also
//! posted to the agents' tool, signed the way this engine's own clients sign
//! (`X-Colloquy-Signature: t=<unix seconds>,v2=<hex HMAC-SHA256(secret,
//! "<t>\nPOST\n<path?query>\n<body>")>`, the tool URL's path and query),
//! and retried within a deadline. The turn waits for it: a message the tool did not take is
//! answered 503, not saved, and a retry with the same `message_id` tries again, so nothing is
//! lost and the tool dedupes on `message_id`.
//!
//! Must not: log the message text, the secret or the tool's answer.

use std::fmt;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use secrecy::ExposeSecret;
use sha2::Sha256;

use crate::config::HandoffWebhookConfig;
use crate::net::is_loopback;

/// One user message to the people a conversation was handed to.
#[derive(Clone, Copy)]
pub struct Forward<'a> {
    pub session_id: &'a str,
    pub message_id: &'a str,
    pub text: &'a str,
    pub queue: Option<&'a str>,
    pub dialog: &'a str,
    pub at: DateTime<Utc>,
}

impl fmt::Debug for Forward<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Forward")
            .field("message_id", &self.message_id)
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

/// Why a message did not reach the agents' tool.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeskError {
    #[error("the agents' tool did not take the message: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait AgentDesk: Send + Sync + fmt::Debug {
    async fn forward(&self, message: Forward<'_>) -> Result<(), DeskError>;
}

/// No tool: agents follow handed-over sessions on their event streams.
#[derive(Debug, Default, Clone, Copy)]
pub struct StreamOnly;

#[async_trait]
impl AgentDesk for StreamOnly {
    async fn forward(&self, _message: Forward<'_>) -> Result<(), DeskError> {
        Ok(())
    }
}

/// Why the webhook cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum DeskSetupError {
    #[error("`handoff.webhook.url` must be an https URL (http only on loopback): `{0}`")]
    Url(String),
    #[error("`handoff.webhook`: cannot build its HTTP client: {0}")]
    Client(reqwest::Error),
}

/// Posts each message to the agents' tool.
pub struct WebhookDesk {
    client: reqwest::Client,
    url: reqwest::Url,
    secret: Vec<u8>,
    timeout: Duration,
    max_attempts: u32,
    wall_clock: std::sync::Arc<dyn crate::clock::Clock>,
}

impl fmt::Debug for WebhookDesk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookDesk")
            .field("host", &self.url.host_str())
            .finish_non_exhaustive()
    }
}

/// The first pause between attempts; each retry doubles it.
const BACKOFF_BASE: Duration = Duration::from_millis(100);

impl WebhookDesk {
    /// `wall_clock` signs the requests (the tool checks them against its own clock).
    pub fn new(
        config: &HandoffWebhookConfig,
        wall_clock: std::sync::Arc<dyn crate::clock::Clock>,
    ) -> Result<Self, DeskSetupError> {
        let url = reqwest::Url::parse(&config.url)
            .ok()
            .filter(|url| url.scheme() == "https" || (url.scheme() == "http" && is_loopback(url)))
            .ok_or_else(|| DeskSetupError::Url(config.url.clone()))?;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .build()
            .map_err(DeskSetupError::Client)?;
        Ok(Self {
            client,
            url,
            secret: config.secret.expose().expose_secret().as_bytes().to_vec(),
            timeout: config.timeout,
            max_attempts: config.max_attempts.max(1),
            wall_clock,
        })
    }

    /// The `v2` signature of a POST of `body` to the tool's URL.
    fn signature(&self, timestamp: i64, body: &[u8]) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.secret) else {
            return String::new();
        };
        let path_and_query = match self.url.query() {
            Some(query) => format!("{}?{query}", self.url.path()),
            None => self.url.path().to_owned(),
        };
        mac.update(format!("{timestamp}\nPOST\n{path_and_query}\n").as_bytes());
        mac.update(body);
        format!(
            "t={timestamp},v2={}",
            crate::hex::encode(&mac.finalize().into_bytes())
        )
    }

    /// One attempt: `Ok` when the tool took it, else whether trying again may help.
    async fn attempt(&self, body: &[u8]) -> Result<(), (bool, String)> {
        let signature = self.signature(self.wall_clock.now().timestamp(), body);
        let answer = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("x-colloquy-signature", signature)
            .body(body.to_vec())
            .send()
            .await;
        match answer {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => {
                let status = response.status();
                let again = status.is_server_error() || status.as_u16() == 429;
                Err((again, format!("answered {}", status.as_u16())))
            }
            Err(error) if error.is_timeout() => Err((true, "timed out".to_owned())),
            Err(error) if error.is_connect() => Err((true, "could not connect".to_owned())),
            Err(_) => Err((true, "the request failed".to_owned())),
        }
    }
}

#[async_trait]
impl AgentDesk for WebhookDesk {
    async fn forward(&self, message: Forward<'_>) -> Result<(), DeskError> {
        let body = serde_json::json!({
            "type": "user_message",
            "session_id": message.session_id,
            "message_id": message.message_id,
            "text": message.text,
            "queue": message.queue,
            "dialog": message.dialog,
            "at": message.at,
        });
        let body = serde_json::to_vec(&body).map_err(|e| DeskError::Unavailable(e.to_string()))?;
        let started = Instant::now();
        let mut wait = BACKOFF_BASE;
        let mut attempt = 1;
        loop {
            match self.attempt(&body).await {
                Ok(()) => return Ok(()),
                Err((again, why)) => {
                    tracing::warn!(
                        attempt,
                        why,
                        message_id = message.message_id,
                        "handoff: the agents' tool did not take a message"
                    );
                    if !again
                        || attempt >= self.max_attempts
                        || started.elapsed() + wait >= self.timeout
                    {
                        return Err(DeskError::Unavailable(why));
                    }
                }
            }
            tokio::time::sleep(wait).await;
            wait *= 2;
            attempt += 1;
        }
    }
}
