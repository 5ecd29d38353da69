//! Sending text messages. [`SmsSender`] is the port; the dev outbox
//! ([`crate::email::OutboxSender`]) records texts beside emails, [`TwilioSender`] sends
//! them through Twilio Programmable Messaging, [`HttpSmsSender`] through any gateway that
//! takes one HTTP request per text, and [`DigitSmsSender`] hands them to eGov DIGIT's SMS
//! service over Kafka.
//!
//! A sender reports a [`Delivery`] or an [`SmsError`] naming what went wrong in terms the
//! engine can act on (a number that cannot receive texts is not an outage), never the body.

mod digit;
mod guard;
mod http;
mod twilio;

pub use digit::DigitSmsSender;
pub use guard::{Admission, BlockReason, Blocked, SmsGuard};
pub use http::HttpSmsSender;
pub use twilio::{
    CredentialsError, TWILIO_ACCOUNT_SID_VAR, TWILIO_AUTH_TOKEN_VAR, TwilioCredentials,
    TwilioSender,
};

use std::fmt;

use async_trait::async_trait;

use crate::address::PhoneAddr;
pub use crate::email::Delivery;

/// One text to one number.
#[derive(Clone)]
pub struct SmsMessage {
    pub to: PhoneAddr,
    /// Carries the code: never printed.
    pub body: String,
}

impl fmt::Debug for SmsMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmsMessage")
            .field("to", &self.to)
            .finish_non_exhaustive()
    }
}

/// Why a text was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmsError {
    /// The provider says the number cannot receive texts (Twilio 21211, 21614).
    #[error("the number cannot receive text messages")]
    InvalidNumber,
    /// The person replied STOP to this sender (Twilio 21610): no text reaches them until
    /// they reply START.
    #[error("the recipient opted out of texts from this sender")]
    OptedOut,
    /// The account may not text this country (Twilio 21408: geo permissions).
    #[error("sending to this country is not enabled for the account")]
    RegionNotEnabled,
    /// A passing failure (timeout, connection, rate limit, provider error).
    #[error("temporary delivery failure: {0}")]
    Temporary(String),
    /// The provider refused this message for good.
    #[error("delivery rejected: {0}")]
    Rejected(String),
    /// The sender is misconfigured (credentials, sender number): an operator must act.
    #[error("SMS sender misconfigured: {0}")]
    Misconfigured(String),
}

impl SmsError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, SmsError::Temporary(_))
    }

    /// A short label for metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            SmsError::InvalidNumber => "invalid_number",
            SmsError::OptedOut => "opted_out",
            SmsError::RegionNotEnabled => "region_not_enabled",
            SmsError::Temporary(_) => "temporary",
            SmsError::Rejected(_) => "rejected",
            SmsError::Misconfigured(_) => "misconfigured",
        }
    }
}

#[async_trait]
pub trait SmsSender: Send + Sync + fmt::Debug {
    async fn send(&self, message: &SmsMessage) -> Result<Delivery, SmsError>;

    /// A short name for logs and metrics (`outbox`, `twilio`, `http`, `kafka`).
    fn name(&self) -> &'static str;
}
