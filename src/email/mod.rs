//! Sending email. [`EmailSender`] is the port; the dev [`OutboxSender`] is the default adapter,
//! [`SendgridSender`] the production one, and [`DigitEmailSender`] hands emails to eGov
//! DIGIT's mail service over Kafka.
//!
//! A sender reports either a [`Delivery`] (with the provider's message id, when it gives one)
//! or a [`SendError`] that says whether trying again could help, so a provider adapter can
//! retry what is worth retrying and the dialog can tell the user something sensible.

mod digit;
mod outbox;
mod sendgrid;

/// How provider adapters wait between attempts (shared with the SMS senders).
pub use crate::provider::{Sleeper, TokioSleeper};
pub use digit::DigitEmailSender;
pub use outbox::{Channel, OutboxEmail, OutboxSender};
pub use sendgrid::{ApiKey, KeyError, SendgridSender};

use std::fmt;

use async_trait::async_trait;

use crate::address::EmailAddr;

/// One email to one recipient.
#[derive(Clone)]
pub struct EmailMessage {
    pub to: EmailAddr,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    /// The values a provider-side template renders; used instead of the parts when the
    /// provider has a template for this email (named here, or its configured default).
    pub provider_template: Option<ProviderTemplate>,
}

/// A template stored at the provider (a SendGrid dynamic template) and the values it needs.
#[derive(Clone)]
pub struct ProviderTemplate {
    /// The template the dialog names (`sendgrid_template_id`); `None` leaves the choice to
    /// the provider's configuration (`email.sendgrid.template_id`), or to the parts.
    pub id: Option<String>,
    pub data: serde_json::Map<String, serde_json::Value>,
}

// Template data carries the code: print the keys, never the values.
impl fmt::Debug for ProviderTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderTemplate")
            .field("id", &self.id)
            .field("keys", &self.data.keys().collect::<Vec<_>>())
            .finish()
    }
}

// Email bodies carry codes: never print them.
impl fmt::Debug for EmailMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmailMessage")
            .field("to", &self.to)
            .finish_non_exhaustive()
    }
}

/// The provider accepted the email.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    /// The provider's id for the message (SendGrid's `X-Message-Id`), for support and tracing.
    pub provider_message_id: Option<String>,
}

/// Why an email was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// A passing failure (timeout, connection, rate limit, provider error): a later attempt may work.
    #[error("temporary delivery failure: {0}")]
    Temporary(String),
    /// The provider refused this message for good (bad address, payload).
    #[error("delivery rejected: {0}")]
    Rejected(String),
    /// The sender is misconfigured (bad key, unverified sender): an operator must act.
    #[error("email sender misconfigured: {0}")]
    Misconfigured(String),
}

impl SendError {
    /// The same error with `secret` (the email's code) blanked out of its text: a provider
    /// that echoes the request must not put the code into a log.
    #[must_use]
    pub fn without(self, secret: &str) -> Self {
        if secret.is_empty() {
            return self;
        }
        let blank = |text: String| text.replace(secret, "••••");
        match self {
            SendError::Temporary(text) => SendError::Temporary(blank(text)),
            SendError::Rejected(text) => SendError::Rejected(blank(text)),
            SendError::Misconfigured(text) => SendError::Misconfigured(blank(text)),
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self, SendError::Temporary(_))
    }
}

#[async_trait]
pub trait EmailSender: Send + Sync + fmt::Debug {
    async fn send(&self, message: &EmailMessage) -> Result<Delivery, SendError>;

    /// A short name for logs and metrics (`outbox`, `sendgrid`, `kafka`).
    fn name(&self) -> &'static str;
}
