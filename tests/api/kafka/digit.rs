//! The `kafka` email and SMS providers against a real broker: codes from the HTTP OTP API and
//! from FlowX's listener arrive on DIGIT's notification topics in the shapes
//! egov-notification-mail and egov-notification-sms consume, and a broker that does not
//! acknowledge is a failed delivery like any provider's.

use std::time::Duration;

use colloquy::clock::Clock;
use colloquy::config::{DigitEmailConfig, DigitSmsConfig, EmailProvider, SmsProvider};
use rdkafka::message::Message;
use serde_json::{Value, json};

use super::{CLIENT_ID, Replies, body_of, flowx_with, generate_request};

/// The first run of four digits in `text`: the code.
fn code_in(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|word| word.len() == 4)
        .unwrap_or_else(|| panic!("a 4-digit code in {text:?}"))
        .to_owned()
}

#[tokio::test]
async fn codes_reach_digits_notification_topics_in_their_shapes() {
    let email_topic = DigitEmailConfig::default().topic;
    let sms_topic = DigitSmsConfig::default().topic;
    let Some(flowx) = flowx_with(&[&email_topic, &sms_topic], |config| {
        config.email.provider = EmailProvider::Kafka;
        config.sms.provider = SmsProvider::Kafka;
        config.dialogs.phone_region = Some("IN".to_owned());
        config.sms.kafka.tenant_id = Some("pb".to_owned());
    })
    .await
    else {
        return;
    };
    let broker = flowx.broker.as_ref().expect("the broker");
    let emails = Replies::new(broker, &email_topic);
    let texts = Replies::new(broker, &sms_topic);

    // The HTTP OTP API's code, as egov-notification-mail's EmailRequest.
    let sent = flowx
        .app
        .client
        .post(flowx.app.url("/v1/otp"))
        .json(&json!({"email": "citizen@example.com", "purpose": "login"}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 201);
    let record = emails.next().await;
    assert_eq!(record.key(), Some(&b"citizen@example.com"[..]));
    let request = body_of(&record);
    assert_eq!(request["requestInfo"], json!({}));
    let email = &request["email"];
    assert_eq!(email["emailTo"], json!(["citizen@example.com"]));
    assert_eq!(email["subject"], "Your verification code");
    assert_eq!(email["isHTML"], false);
    let code = code_in(email["body"].as_str().expect("a body"));
    let checked: Value = flowx
        .app
        .client
        .post(flowx.app.url("/v1/otp/verify"))
        .json(&json!({"email": "citizen@example.com", "purpose": "login", "code": code}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(checked["valid"], true, "{checked}");

    // FlowX asks for a code by SMS to an Indian number: egov-notification-sms's SMSRequest.
    let mut request = generate_request(21);
    request["channel"] = json!("SMS");
    request["recipient"] = json!("98801 41280");
    flowx.generate("21", &request).await;
    assert_eq!(body_of(&flowx.generated.next().await)["otpSent"], true);
    let text = body_of(&texts.next().await);
    assert_eq!(text["mobileNumber"], "9880141280", "{text}");
    assert_eq!(text["category"], "OTP");
    assert_eq!(text["tenantId"], "pb");
    // `sms.kafka.expiry` (5 minutes) after now, on the clock the app was given.
    let expiry = flowx.app.clock.now().timestamp_millis() + 300_000;
    assert_eq!(text["expiryTime"], expiry);
    let code = code_in(text["message"].as_str().expect("a message"));
    let valid = flowx.validate_on("SMS", "22", 22, &code).await;
    assert_eq!(valid["otpValid"], true, "{valid}");
    assert_eq!(valid["clientId"], CLIENT_ID);
}

#[tokio::test]
async fn a_broker_that_does_not_acknowledge_is_a_failed_delivery() {
    let email_topic = DigitEmailConfig::default().topic;
    let Some(mut flowx) = flowx_with(&[&email_topic], |config| {
        config.email.provider = EmailProvider::Kafka;
        config.email.kafka.delivery_timeout = Duration::from_secs(2);
    })
    .await
    else {
        return;
    };
    flowx.broker.as_mut().expect("the broker").stop();
    let answer = flowx
        .app
        .client
        .post(flowx.app.url("/v1/otp"))
        .json(&json!({"email": "citizen@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 502, "no acknowledgement, no code");
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["error"]["code"], "delivery_failed", "{body}");
    let metrics = flowx.app.get_text("/metrics").await;
    assert!(
        metrics
            .lines()
            .any(|line| line.starts_with("colloquy_emails_total")
                && line.contains(r#"sender="kafka""#)
                && line.contains(r#"outcome="failed""#)
                && line.ends_with(" 1")),
        "{metrics}"
    );
}
