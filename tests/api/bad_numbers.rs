//! Numbers nobody can text, given to every HTTP route that takes one: letters, too short,
//! too long, an unknown country code, a premium-rate number, 150 digits, emoji. Each gets a
//! clear error with a stable code and a 4xx (a re-prompt in a dialog), never a 5xx, and
//! nothing is sent.

use colloquy::config::Config;
use serde_json::{Value, json};

use crate::helpers::{spawn_app_with, test_config};
use crate::otp_service::post;

/// Every seed-shaped route on, numbers read as British, texts to GB and IN.
fn config() -> Config {
    let mut config = test_config();
    config.otp_api.capillary = true;
    config.otp_api.digit = true;
    config.dialogs.phone_region = Some("GB".to_owned());
    config.sms.guard.countries = Some(vec!["GB".to_owned(), "IN".to_owned()]);
    config
}

/// (what is wrong, the number as written).
fn bad_numbers() -> Vec<(&'static str, String)> {
    vec![
        ("letters", "07400 12345a".to_owned()),
        ("too short", "12345".to_owned()),
        ("too long", "+44 7400 1234 5678 9012".to_owned()),
        ("unknown country code", "+999 1234 56789".to_owned()),
        ("premium rate", "+44 909 879 0000".to_owned()),
        ("premium rate, national", "09098790000".to_owned()),
        ("150 digits", "7".repeat(150)),
        ("emoji", "📱📞☎️".to_owned()),
        ("digits and an emoji", "07400 123456 📱".to_owned()),
        ("not a number at all", "call me maybe".to_owned()),
    ]
}

fn capillary_codes(body: &Value) -> Vec<u64> {
    body["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(|e| e["code"].as_u64()).collect())
        .unwrap_or_default()
}

fn digit_codes(body: &Value) -> Vec<String> {
    body["error"]["fields"]
        .as_array()
        .map(|fields| {
            fields
                .iter()
                .filter_map(|f| f["code"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn capillary_answers_8056_for_each() {
    let app = spawn_app_with(config()).await;
    for (what, number) in bad_numbers() {
        let requests = [
            (
                "/v2/otp/generate",
                json!({ "entityType": "MOBILE", "entityValue": number, "action": "GENERIC" }),
            ),
            (
                "/v2/otp/validate",
                json!({ "entityType": "MOBILE", "entityValue": number, "action": "GENERIC", "code": "1234" }),
            ),
            (
                "/v2/otp/generate",
                json!({ "entityType": "EMAIL", "entityValue": "a@example.com", "action": "GENERIC",
                        "channels": [{ "type": "SMS", "value": number }] }),
            ),
        ];
        for (path, body) in requests {
            let answer = post(&app, path, &body).await;
            assert_eq!(answer.status, 400, "{what} at {path}: {}", answer.body);
            assert_eq!(capillary_codes(&answer.body), [8056], "{what} at {path}");
            let message = answer.body["errors"][0]["message"].as_str().unwrap();
            assert!(message.starts_with("Invalid mobile: "), "{what}: {message}");
            assert!(
                !message.contains(&number),
                "the error does not echo it: {message}"
            );
        }
    }
    assert_eq!(app.outbox().list(None).len(), 0, "nothing was sent");
}

#[tokio::test]
async fn digit_answers_its_mobile_number_errors_for_each() {
    let app = spawn_app_with(config()).await;
    let mut cases = bad_numbers();
    // Digits only and ten to thirteen of them, as user-otp wants, but no British number.
    cases.push(("digits of no number", "99912345678".to_owned()));
    for (what, number) in cases {
        let send = json!({ "otp": { "mobileNumber": number, "tenantId": "pb", "type": "login" } });
        let answer = post(&app, "/user-otp/v1/_send", &send).await;
        assert_eq!(answer.status, 400, "{what}: {}", answer.body);
        assert_eq!(answer.body["error"]["message"], "Invalid OTP request");
        let codes = digit_codes(&answer.body);
        assert!(
            !codes.is_empty() && codes.iter().all(|c| c.starts_with("OTP.MOBILE_NUMBER_")),
            "{what}: {codes:?}"
        );
        let create = json!({ "otp": { "identity": number, "tenantId": "pb" } });
        let answer = post(&app, "/otp/v1/_create", &create).await;
        assert_eq!(answer.status, 400, "{what}: {}", answer.body);
        assert_eq!(
            digit_codes(&answer.body),
            ["OTP.IDENTITY_INVALID"],
            "{what}"
        );
        let validate = json!({ "otp": { "identity": number, "tenantId": "pb", "otp": "1234" } });
        let answer = post(&app, "/otp/v1/_validate", &validate).await;
        assert_eq!(answer.status, 400, "{what}: {}", answer.body);
        assert_eq!(
            digit_codes(&answer.body),
            ["OTP.VALIDATION_UNSUCCESSFUL"],
            "{what}"
        );
    }
    assert_eq!(app.outbox().list(None).len(), 0, "nothing was sent");
}

#[tokio::test]
async fn the_phone_dialog_asks_again_for_each() {
    let app = spawn_app_with(config()).await;
    // (A sentence with a number in it is that number to a dialog: not a bad one there.)
    let cases = bad_numbers()
        .into_iter()
        .filter(|(what, _)| *what != "digits and an emoji");
    for (index, (what, number)) in cases.enumerate() {
        let session = format!("bad-{index}");
        let greeted = app
            .say_to_dialog(&session, "phone_verification", "hi")
            .await;
        assert_eq!(greeted.node, "ask_phone");
        let answer = app.say(&session, &number).await;
        assert!(
            ["ask_phone", "send_failed"].contains(&answer.node.as_str()),
            "{what}: {}",
            answer.node
        );
    }
    assert_eq!(app.outbox().list(None).len(), 0, "nothing was sent");
}
