//! `email.sendgrid:` — where and how the SendGrid sender talks to SendGrid's v3 Mail Send API.
//!
//! The API key is not a config key: it comes only from the `SENDGRID_API_KEY` environment
//! variable (read by [`super::Config::from_source`]), so it never sits in a file next to the
//! rest of the configuration. Its shape is checked where the sender is built (`app.rs`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Secret;
use crate::duration::serde_human;

/// The environment variable the SendGrid API key is read from.
pub const SENDGRID_API_KEY_VAR: &str = "SENDGRID_API_KEY";

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SendgridConfig {
    /// The API host, without a path: `https://api.sendgrid.com`, or
    /// `https://api.eu.sendgrid.com` for EU accounts. Plain `http` only for loopback (tests).
    pub base_url: String,
    /// A dynamic template (`d-…`) used when the dialog's email template names none; it gets
    /// `code`, `email` and `expires_in_minutes` in `dynamic_template_data`.
    pub template_id: Option<String>,
    /// SendGrid validates the request and answers 200 without delivering anything.
    pub sandbox: bool,
    /// The longest a TCP/TLS connection to SendGrid may take to open.
    #[serde(with = "serde_human")]
    pub connect_timeout: Duration,
    /// The longest one HTTP attempt (connect, send, read the answer) may take.
    #[serde(with = "serde_human")]
    pub request_timeout: Duration,
    /// The longest one email may take, every attempt and wait included. A user is waiting in
    /// the chat, so it is a few seconds, and never more than `email.send_timeout`.
    #[serde(with = "serde_human")]
    pub retry_budget: Duration,
    /// The first backoff step; each retry doubles it, and a random fraction of it is waited
    /// ("full jitter", so many senders retrying at once do not stampede).
    #[serde(with = "serde_human")]
    pub backoff_base: Duration,
    /// Attempts per email, the first included (1 = never retry).
    pub max_attempts: u32,
    /// From `SENDGRID_API_KEY` only; never read from the file or `COLLOQUY__…`.
    #[serde(skip)]
    pub api_key: Option<Secret>,
}

impl Default for SendgridConfig {
    fn default() -> Self {
        Self {
            base_url: "https://api.sendgrid.com".to_owned(),
            template_id: None,
            sandbox: false,
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(3),
            retry_budget: Duration::from_secs(5),
            backoff_base: Duration::from_millis(250),
            max_attempts: 3,
            api_key: None,
        }
    }
}

impl SendgridConfig {
    /// The most attempts one email may get: each can send a duplicate of the same email.
    pub const MAX_ATTEMPTS: u32 = 10;

    /// Checks the values against each other and against `email.send_timeout`, which bounds
    /// the whole delivery from the outside.
    pub(super) fn validate(&self, send_timeout: Duration) -> Result<(), String> {
        if self.connect_timeout.is_zero() || self.request_timeout.is_zero() {
            return Err(
                "`email.sendgrid.connect_timeout` and `email.sendgrid.request_timeout` must be longer than zero"
                    .to_owned(),
            );
        }
        if self.retry_budget.is_zero() || self.retry_budget > send_timeout {
            return Err(format!(
                "`email.sendgrid.retry_budget` must be longer than zero and at most `email.send_timeout` ({})",
                crate::duration::format_duration(send_timeout)
            ));
        }
        if !(1..=Self::MAX_ATTEMPTS).contains(&self.max_attempts) {
            return Err(format!(
                "`email.sendgrid.max_attempts` must be between 1 and {}",
                Self::MAX_ATTEMPTS
            ));
        }
        if let Some(id) = &self.template_id
            && !id.starts_with("d-")
        {
            return Err(format!(
                "`email.sendgrid.template_id` must name a dynamic template (`d-…`), not `{id}`"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::super::{Config, EmailProvider};
    use super::*;

    fn load(source: &str, env: &[(&str, &str)]) -> Result<Config, super::super::ConfigError> {
        let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
        Config::from_source(source, "config.yaml", env)
    }

    #[test]
    fn the_key_comes_from_sendgrid_api_key_only() {
        let key = format!("SG.{}", "colloquy-test-key-0123456789");
        let config = load(
            "email:\n  provider: sendgrid\n",
            &[(SENDGRID_API_KEY_VAR, &key)],
        )
        .unwrap();
        assert_eq!(config.email.provider, EmailProvider::Sendgrid);
        let read = config.email.sendgrid.api_key.expect("the key");
        assert_eq!(read.expose().expose_secret(), key);

        assert!(
            load("email:\n  sendgrid:\n    api_key: x\n", &[]).is_err(),
            "not from the file"
        );
        let error = load("", &[("COLLOQUY__EMAIL__SENDGRID__API_KEY", "x")]).unwrap_err();
        assert_eq!(error.origin, "COLLOQUY__EMAIL__SENDGRID__API_KEY");
        assert!(
            load("", &[(SENDGRID_API_KEY_VAR, "")])
                .unwrap()
                .email
                .sendgrid
                .api_key
                .is_none()
        );
    }

    #[test]
    fn durations_and_attempts_are_checked() {
        let config = load("email:\n  sendgrid:\n    backoff_base: 250ms\n    base_url: https://api.eu.sendgrid.com\n", &[]).unwrap();
        assert_eq!(
            config.email.sendgrid.backoff_base,
            Duration::from_millis(250)
        );
        for bad in [
            "email:\n  send_timeout: 3s\n",
            "email:\n  sendgrid:\n    retry_budget: 0s\n",
            "email:\n  sendgrid:\n    max_attempts: 0\n",
            "email:\n  sendgrid:\n    max_attempts: 11\n",
            "email:\n  sendgrid:\n    request_timeout: 0s\n",
            "email:\n  sendgrid:\n    template_id: welcome\n",
        ] {
            assert!(load(bad, &[]).is_err(), "{bad}");
        }
    }
}
