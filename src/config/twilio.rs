//! `sms.twilio:` — where and how the Twilio sender talks to Programmable Messaging.
//!
//! The account SID and auth token are not config keys: they come only from
//! `TWILIO_ACCOUNT_SID` and `TWILIO_AUTH_TOKEN` (read by [`super::Config::from_source`]), so
//! no file holds them. Their shape is checked where the sender is built (`app.rs`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Secret;
use crate::duration::serde_human;

/// The environment variables the credentials are read from.
pub const TWILIO_ACCOUNT_SID_VAR: &str = "TWILIO_ACCOUNT_SID";
pub const TWILIO_AUTH_TOKEN_VAR: &str = "TWILIO_AUTH_TOKEN";

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TwilioConfig {
    /// The API host, without a path. Plain `http` only for loopback (tests).
    pub base_url: String,
    /// The Messaging Service (`MG…`) texts are sent from; Twilio picks the number.
    pub messaging_service_sid: Option<String>,
    /// Or a Twilio number in E.164 (`+15005550006`) texts are sent from.
    pub from: Option<String>,
    #[serde(with = "serde_human")]
    pub connect_timeout: Duration,
    /// The longest one HTTP attempt may take.
    #[serde(with = "serde_human")]
    pub request_timeout: Duration,
    /// The longest one text may take, every attempt and wait included; at most
    /// `sms.send_timeout`.
    #[serde(with = "serde_human")]
    pub retry_budget: Duration,
    /// The first backoff step; each retry doubles it (full jitter).
    #[serde(with = "serde_human")]
    pub backoff_base: Duration,
    /// Attempts per text, the first included (1 = never retry).
    pub max_attempts: u32,
    /// From `TWILIO_ACCOUNT_SID` only.
    #[serde(skip)]
    pub account_sid: Option<Secret>,
    /// From `TWILIO_AUTH_TOKEN` only.
    #[serde(skip)]
    pub auth_token: Option<Secret>,
}

impl Default for TwilioConfig {
    fn default() -> Self {
        Self {
            base_url: "https://api.twilio.com".to_owned(),
            messaging_service_sid: None,
            from: None,
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(3),
            retry_budget: Duration::from_secs(5),
            backoff_base: Duration::from_millis(250),
            max_attempts: 3,
            account_sid: None,
            auth_token: None,
        }
    }
}

impl TwilioConfig {
    /// The most attempts one text may get: each can send a duplicate.
    pub const MAX_ATTEMPTS: u32 = 10;

    /// Checks the values against each other and against `sms.send_timeout`. The sender's
    /// identity is checked only when Twilio is the provider.
    pub(super) fn validate(&self, send_timeout: Duration, in_use: bool) -> Result<(), String> {
        if self.connect_timeout.is_zero() || self.request_timeout.is_zero() {
            return Err("`sms.twilio.connect_timeout` and `sms.twilio.request_timeout` must be longer than zero".to_owned());
        }
        if self.retry_budget.is_zero() || self.retry_budget > send_timeout {
            return Err(format!(
                "`sms.twilio.retry_budget` must be longer than zero and at most `sms.send_timeout` ({})",
                crate::duration::format_duration(send_timeout)
            ));
        }
        if !(1..=Self::MAX_ATTEMPTS).contains(&self.max_attempts) {
            return Err(format!(
                "`sms.twilio.max_attempts` must be between 1 and {}",
                Self::MAX_ATTEMPTS
            ));
        }
        if !in_use {
            return Ok(());
        }
        match (&self.messaging_service_sid, &self.from) {
            (Some(sid), None) if is_sid(sid, "MG") => Ok(()),
            (Some(sid), None) => Err(format!(
                "`sms.twilio.messaging_service_sid` must be a Messaging Service SID (MG and 32 hex digits), not `{sid}`"
            )),
            (None, Some(from)) if crate::address::PhoneAddr::parse(from, None).is_ok_and(|n| n.as_str() == from) => Ok(()),
            (None, Some(from)) => Err(format!(
                "`sms.twilio.from` must be a phone number in E.164 such as +15005550006, not `{from}`"
            )),
            _ => Err("`sms.provider: twilio` needs exactly one of `sms.twilio.messaging_service_sid` and `sms.twilio.from`".to_owned()),
        }
    }
}

/// A Twilio SID: two letters, then 32 hex digits.
pub fn is_sid(text: &str, prefix: &str) -> bool {
    text.len() == 34
        && text.starts_with(prefix)
        && text
            .get(2..)
            .is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_hexdigit()))
}
