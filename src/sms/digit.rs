//! The `kafka` SMS provider: each text handed to eGov DIGIT's `egov-notification-sms` as the
//! `SMSRequest` it consumes (`sms.kafka.topic`, `egov.core.notification.sms.otp` by default,
//! where user-otp puts its codes), instead of being sent from here.
//!
//! The shape is DIGIT's: `{"mobileNumber": "9880141280", "message": …, "category": "OTP",
//! "expiryTime": <epoch ms>, "locale": …, "tenantId": …}` — egov-notification-sms's
//! `consumer/contract/SMSRequest.java`, as user-otp's `OtpSMSRepository` produces it
//! (egovernments/Digit-Core, `core-services/`). With category `OTP`, egov-notification-sms
//! drops a text whose `expiryTime` has passed (its `SmsNotificationListener`), so a text
//! stuck behind a backlog does not arrive after its code is useless.
//!
//! "Sent" means the broker acknowledged the record (`acks=all`) within
//! `sms.kafka.delivery_timeout`.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;

use crate::address::PhoneAddr;
use crate::clock::Clock;
use crate::config::{DigitSmsConfig, MobileNumberFormat, SmsCategory};
use crate::kafka::client::{Failure, Producer};

use super::{Delivery, SmsError, SmsMessage, SmsSender};

/// egov-notification-sms's `SMSRequest`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SmsRequest<'a> {
    mobile_number: String,
    message: &'a str,
    category: SmsCategory,
    expiry_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    locale: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant_id: Option<&'a str>,
}

/// Hands texts to DIGIT's SMS service through Kafka.
#[derive(Debug)]
pub struct DigitSmsSender {
    producer: Producer,
    config: DigitSmsConfig,
    /// The wall clock: `expiryTime` is read against DIGIT's.
    clock: Arc<dyn Clock>,
}

impl DigitSmsSender {
    pub fn new(producer: Producer, config: &DigitSmsConfig, clock: Arc<dyn Clock>) -> Self {
        Self {
            producer,
            config: config.clone(),
            clock,
        }
    }

    pub fn topic(&self) -> &str {
        &self.config.topic
    }

    /// The record's body for `message`, produced now.
    pub(crate) fn request_body(&self, message: &SmsMessage) -> Vec<u8> {
        let expiry = chrono::TimeDelta::from_std(self.config.expiry).unwrap_or_default();
        let request = SmsRequest {
            mobile_number: mobile_number(&message.to, self.config.mobile_number),
            message: &message.body,
            category: self.config.category,
            expiry_time: (self.clock.now() + expiry).timestamp_millis(),
            locale: self.config.locale.as_deref(),
            tenant_id: self.config.tenant_id.as_deref(),
        };
        // Strings and numbers only: serialising cannot fail.
        serde_json::to_vec(&request).unwrap_or_default()
    }
}

fn mobile_number(to: &PhoneAddr, format: MobileNumberFormat) -> String {
    match format {
        MobileNumberFormat::National => to.facts().national,
        MobileNumberFormat::E164 => to.as_str().to_owned(),
    }
}

#[async_trait]
impl SmsSender for DigitSmsSender {
    async fn send(&self, message: &SmsMessage) -> Result<Delivery, SmsError> {
        let body = self.request_body(message);
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
            Err((Failure::Temporary, text)) => Err(SmsError::Temporary(text)),
            Err((Failure::Misconfigured, text)) => Err(SmsError::Misconfigured(text)),
            Err((Failure::Rejected, text)) => Err(SmsError::Rejected(text)),
        }
    }

    fn name(&self) -> &'static str {
        "kafka"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::config::KafkaConfig;

    #[test]
    fn the_request_is_egov_notification_smss_sms_request() {
        let clock = Arc::new(ManualClock::at_epoch());
        let config = DigitSmsConfig {
            tenant_id: Some("pb".to_owned()),
            ..DigitSmsConfig::default()
        };
        // Creating a producer contacts no broker.
        let producer = Producer::new(&KafkaConfig::default(), None).unwrap();
        let sender = DigitSmsSender::new(producer, &config, clock.clone());
        let message = SmsMessage {
            to: PhoneAddr::parse("+91 98801 41280", None).unwrap(),
            body: "Dear Citizen, Your Login OTP is 0420.".to_owned(),
        };
        let body: serde_json::Value =
            serde_json::from_slice(&sender.request_body(&message)).unwrap();
        let expiry = (clock.now() + chrono::TimeDelta::minutes(5)).timestamp_millis();
        assert_eq!(
            body,
            serde_json::json!({
                "mobileNumber": "9880141280",
                "message": "Dear Citizen, Your Login OTP is 0420.",
                "category": "OTP",
                "expiryTime": expiry,
                "tenantId": "pb",
            })
        );
        assert_eq!(
            mobile_number(&message.to, MobileNumberFormat::E164),
            "+919880141280"
        );
    }
}
