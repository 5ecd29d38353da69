//! The `kafka` email provider: each email handed to eGov DIGIT's `egov-notification-mail`
//! as the `EmailRequest` it consumes from its topic (`email.kafka.topic`,
//! `egov.core.notification.email` by default), instead of being sent from here.
//!
//! The shape is DIGIT's: `{"requestInfo": {}, "email": {"emailTo": [...], "subject": …,
//! "body": …, "isHTML": …, "tenantId": …}}` — egov-notification-mail's
//! `consumer/contract/EmailRequest.java` and `Email.java`, as user-otp's
//! `OtpEmailRepository` produces it (egovernments/Digit-Core, `core-services/`).
//!
//! "Sent" means the broker acknowledged the record (`acks=all`) within
//! `email.kafka.delivery_timeout`; DIGIT's mail service delivers it from there.

use async_trait::async_trait;
use serde::Serialize;

use crate::config::DigitEmailConfig;
use crate::kafka::client::{Failure, Producer};

use super::{Delivery, EmailMessage, EmailSender, SendError};

/// egov-notification-mail's `EmailRequest`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EmailRequest<'a> {
    /// DIGIT's `RequestInfo`; the mail service does not read it, user-otp sends an empty one.
    request_info: serde_json::Map<String, serde_json::Value>,
    email: Mail<'a>,
}

/// egov-notification-mail's `Email`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Mail<'a> {
    email_to: [&'a str; 1],
    subject: &'a str,
    body: &'a str,
    #[serde(rename = "isHTML")]
    is_html: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant_id: Option<&'a str>,
}

/// Hands emails to DIGIT's mail service through Kafka.
#[derive(Debug)]
pub struct DigitEmailSender {
    producer: Producer,
    config: DigitEmailConfig,
}

impl DigitEmailSender {
    pub fn new(producer: Producer, config: &DigitEmailConfig) -> Self {
        Self {
            producer,
            config: config.clone(),
        }
    }

    pub fn topic(&self) -> &str {
        &self.config.topic
    }
}

/// The record's body: the HTML part when there is one (DIGIT's mail has one body).
pub(crate) fn request_body(message: &EmailMessage, tenant_id: Option<&str>) -> Vec<u8> {
    let (body, is_html) = match &message.html {
        Some(html) => (html.as_str(), true),
        None => (message.text.as_str(), false),
    };
    let request = EmailRequest {
        request_info: serde_json::Map::new(),
        email: Mail {
            email_to: [message.to.as_str()],
            subject: &message.subject,
            body,
            is_html,
            tenant_id,
        },
    };
    // Strings and booleans only: serialising cannot fail.
    serde_json::to_vec(&request).unwrap_or_default()
}

#[async_trait]
impl EmailSender for DigitEmailSender {
    async fn send(&self, message: &EmailMessage) -> Result<Delivery, SendError> {
        let body = request_body(message, self.config.tenant_id.as_deref());
        let delivered = self
            .producer
            .notify(
                &self.config.topic,
                message.to.as_str(),
                &body,
                self.config.delivery_timeout,
            )
            .await;
        match delivered {
            Ok(id) => Ok(Delivery {
                provider_message_id: Some(id),
            }),
            Err((Failure::Temporary, text)) => Err(SendError::Temporary(text)),
            Err((Failure::Misconfigured, text)) => Err(SendError::Misconfigured(text)),
            Err((Failure::Rejected, text)) => Err(SendError::Rejected(text)),
        }
    }

    fn name(&self) -> &'static str {
        "kafka"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::EmailAddr;

    fn message(html: Option<&str>) -> EmailMessage {
        EmailMessage {
            to: EmailAddr::parse("citizen@example.com").unwrap(),
            subject: "Login OTP".to_owned(),
            text: "Dear Citizen, Your Login OTP is 0420.".to_owned(),
            html: html.map(str::to_owned),
            provider_template: None,
        }
    }

    #[test]
    fn the_request_is_egov_notification_mails_email_request() {
        let body: serde_json::Value =
            serde_json::from_slice(&request_body(&message(None), Some("pb"))).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "requestInfo": {},
                "email": {
                    "emailTo": ["citizen@example.com"],
                    "subject": "Login OTP",
                    "body": "Dear Citizen, Your Login OTP is 0420.",
                    "isHTML": false,
                    "tenantId": "pb",
                }
            })
        );
        let html: serde_json::Value =
            serde_json::from_slice(&request_body(&message(Some("<p>0420</p>")), None)).unwrap();
        assert_eq!(html["email"]["body"], "<p>0420</p>");
        assert_eq!(html["email"]["isHTML"], true);
        assert!(html["email"].get("tenantId").is_none());
    }
}
