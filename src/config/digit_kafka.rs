//! `email.kafka:` and `sms.kafka:` — the `kafka` providers, which hand each email and text
//! to eGov DIGIT's notification services over Kafka (`egov-notification-mail`,
//! `egov-notification-sms`) instead of sending it: which topic, and the fields of DIGIT's
//! request that are not the message itself. The brokers are `kafka.brokers` and
//! `kafka.properties`, shared with the listener.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::duration::serde_human;

/// `email.kafka:` — egov-notification-mail's `EmailRequest` on its topic.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DigitEmailConfig {
    /// The topic egov-notification-mail consumes (`kafka.topics.notification.mail.name`;
    /// user-otp's `email.topic`).
    pub topic: String,
    /// `email.tenantId`, when the deployment's mail service wants one.
    pub tenant_id: Option<String>,
    /// How long the broker's acknowledgement is waited for; then the email counts as not
    /// sent. At most `email.send_timeout`.
    #[serde(with = "serde_human")]
    pub delivery_timeout: Duration,
}

impl Default for DigitEmailConfig {
    fn default() -> Self {
        Self {
            topic: "egov.core.notification.email".to_owned(),
            tenant_id: None,
            delivery_timeout: Duration::from_secs(5),
        }
    }
}

/// How `mobileNumber` is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MobileNumberFormat {
    /// The national number without country code (`9880141280`), as DIGIT's citizens are
    /// registered and as egov-notification-sms validates it (`^[6-9][0-9]{9}$` in India).
    #[default]
    National,
    /// E.164 (`+919880141280`).
    E164,
}

/// `sms.kafka:` — egov-notification-sms's `SMSRequest` on its topic.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DigitSmsConfig {
    /// The topic egov-notification-sms consumes for codes (user-otp's `sms.topic`).
    pub topic: String,
    /// `category`: `OTP` makes egov-notification-sms drop a text whose `expiryTime` passed.
    pub category: SmsCategory,
    pub mobile_number: MobileNumberFormat,
    /// How long after it is produced a text is still worth sending (`expiryTime`, compared
    /// by egov-notification-sms with its own clock).
    #[serde(with = "serde_human")]
    pub expiry: Duration,
    /// `locale` and `tenantId` of the request, when given.
    pub locale: Option<String>,
    pub tenant_id: Option<String>,
    /// How long the broker's acknowledgement is waited for; then the text counts as not
    /// sent. At most `sms.send_timeout`.
    #[serde(with = "serde_human")]
    pub delivery_timeout: Duration,
}

/// egov-notification-sms's `Category`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SmsCategory {
    #[default]
    Otp,
    Transaction,
    Promotion,
    Notification,
    Others,
}

impl Default for DigitSmsConfig {
    fn default() -> Self {
        Self {
            topic: "egov.core.notification.sms.otp".to_owned(),
            category: SmsCategory::Otp,
            mobile_number: MobileNumberFormat::National,
            expiry: Duration::from_secs(5 * 60),
            locale: None,
            tenant_id: None,
            delivery_timeout: Duration::from_secs(5),
        }
    }
}

impl DigitEmailConfig {
    pub(super) fn validate(&self, send_timeout: Duration) -> Result<(), String> {
        check(
            "email.kafka",
            &self.topic,
            self.delivery_timeout,
            send_timeout,
        )
    }
}

impl DigitSmsConfig {
    pub(super) fn validate(&self, send_timeout: Duration) -> Result<(), String> {
        if self.expiry < Duration::from_secs(1) {
            return Err("`sms.kafka.expiry` must be at least 1s".to_owned());
        }
        check(
            "sms.kafka",
            &self.topic,
            self.delivery_timeout,
            send_timeout,
        )
    }
}

fn check(
    section: &str,
    topic: &str,
    delivery_timeout: Duration,
    send_timeout: Duration,
) -> Result<(), String> {
    if !super::kafka::is_topic_name(topic) {
        return Err(format!(
            "`{section}.topic` must be a topic name: 1 to 249 letters, digits and . _ -"
        ));
    }
    if delivery_timeout.is_zero() || delivery_timeout > send_timeout {
        return Err(format!(
            "`{section}.delivery_timeout` must be longer than zero and at most the send timeout ({})",
            crate::duration::format_duration(send_timeout)
        ));
    }
    Ok(())
}
