//! Capillary's OTP shape (`otp_api.capillary`) over real HTTP: generate and validate by
//! email and by SMS (the code read from the dev outbox), several channels at once, the
//! request errors all at once in Capillary's envelope, templates by request, by action and
//! built in.

use std::time::Duration;

use colloquy::config::Config;
use serde_json::{Value, json};

use crate::helpers::{spawn_app_with, test_config};
use crate::otp_service::{post, post_text, wrong};

fn capillary_config() -> Config {
    let mut config = test_config();
    config.otp_api.capillary = true;
    config
}

fn error_codes(body: &Value) -> Vec<u64> {
    body["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(|e| e["code"].as_u64()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn capillary_generate_and_validate() {
    let app = spawn_app_with(capillary_config()).await;
    let generate =
        json!({ "entityType": "email", "entityValue": "kim@example.com", "action": "generic" });
    let created = post(&app, "/v2/otp/generate", &generate).await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert!(
        created.body["createdId"].as_u64().is_some(),
        "{}",
        created.body
    );
    assert_eq!(created.body["warnings"], json!([]));
    let code = app.last_code("kim@example.com").await;
    assert!(!created.body.to_string().contains(&code));

    let validate = |code: &str| json!({ "entityType": "EMAIL", "entityValue": "KIM@example.com", "action": "GENERIC", "code": code });
    let wrong_answer = post(&app, "/v2/otp/validate", &validate(wrong(&code))).await;
    assert_eq!(wrong_answer.status, 200);
    assert_eq!(wrong_answer.body["entity"], false);
    assert_eq!(wrong_answer.body["warnings"][0]["code"], 605);
    assert!(
        wrong_answer.body["warnings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("2 attempts left")
    );
    // Another action is another scope.
    let other = json!({ "entityType": "EMAIL", "entityValue": "kim@example.com", "action": "COUPON", "code": code });
    assert_eq!(
        post(&app, "/v2/otp/validate", &other).await.body["entity"],
        false
    );
    let right = post(&app, "/v2/otp/validate", &validate(&code)).await;
    assert_eq!(right.body, json!({ "entity": true, "warnings": [] }));
    let again = post(&app, "/v2/otp/validate", &validate(&code)).await;
    assert_eq!(again.body["entity"], false, "single use");
}

#[tokio::test]
async fn capillary_regenerating_replaces_the_code_and_says_so() {
    let app = spawn_app_with(capillary_config()).await;
    let generate = json!({
        "entityType": "EMAIL", "entityValue": "lee@example.com", "action": "REGISTRATION",
        "emailTemplate": { "subject": "Your OTP", "body": "Use {{ validation_code }} to sign up." },
        "channels": [{ "type": "email", "value": "lee@example.com" }],
    });
    assert_eq!(post(&app, "/v2/otp/generate", &generate).await.status, 200);
    let email = app.outbox().list(Some("lee@example.com")).pop().unwrap();
    assert_eq!(email.subject, "Your OTP");
    assert!(email.text.starts_with("Use ") && email.text.ends_with(" to sign up."));
    let first = app.last_code("lee@example.com").await;

    let soon = post(&app, "/v2/otp/generate", &generate).await;
    assert_eq!(soon.status, 429, "{}", soon.body);
    assert_eq!(error_codes(&soon.body), [606]);
    assert_eq!(soon.retry_after, Some(30));

    app.advance(Duration::from_secs(30));
    let regenerated = post(&app, "/v2/otp/generate", &generate).await;
    assert_eq!(regenerated.status, 200);
    assert_eq!(regenerated.body["warnings"][0]["code"], "OTP_REPLACED");
    let second = app.last_code("lee@example.com").await;
    let validate = |code: &str| json!({ "entityType": "EMAIL", "entityValue": "lee@example.com", "action": "REGISTRATION", "code": code });
    if first != second {
        assert_eq!(
            post(&app, "/v2/otp/validate", &validate(&first)).await.body["entity"],
            false
        );
    }
    assert_eq!(
        post(&app, "/v2/otp/validate", &validate(&second))
            .await
            .body["entity"],
        true
    );
}

#[tokio::test]
async fn capillary_errors_come_all_at_once_in_its_envelope() {
    let app = spawn_app_with(capillary_config()).await;
    let cases = [
        (json!({}), vec![600, 601, 602]),
        (
            json!({ "entityType": "FAX", "entityValue": "x", "action": "NOPE" }),
            vec![600, 601],
        ),
        (
            json!({ "entityType": "EMAIL", "entityValue": "not-mail", "action": "GENERIC" }),
            vec![602],
        ),
        (
            json!({ "entityType": 3, "entityValue": [], "action": {} }),
            vec![600, 601, 602],
        ),
        (
            json!({ "entityType": "MOBILE", "entityValue": "+919876543210", "action": "GENERIC" }),
            vec![603],
        ),
        (
            json!({ "entityType": "EMAIL", "entityValue": "a@example.com", "action": "GENERIC",
                    "channels": [{ "type": "SMS", "value": "+919876543210" }, { "type": "PIGEON" }] }),
            vec![603, 603],
        ),
        (
            json!({ "entityType": "EMAIL", "entityValue": "a@example.com", "action": "GENERIC",
                    "channels": [{ "type": "EMAIL", "value": "b@example.com" }] }),
            vec![603],
        ),
        (
            json!({ "entityType": "EMAIL", "entityValue": "a@example.com", "action": "GENERIC", "channels": "EMAIL" }),
            vec![603],
        ),
        (
            json!({ "entityType": "EMAIL", "entityValue": "a@example.com", "action": "GENERIC",
                    "emailTemplate": { "subject": "s", "body": "no code here" } }),
            vec![608],
        ),
        (
            json!({ "entityType": "EMAIL", "entityValue": "a@example.com", "action": "GENERIC",
                    "emailTemplate": { "subject": "s", "body": "{{ validation_code" } }),
            vec![608],
        ), // A CR/LF in a subject could start a second header: refused at the edge.
        (
            json!({ "entityType": "EMAIL", "entityValue": "a@example.com", "action": "GENERIC",
                    "emailTemplate": { "subject": "Your code\r\nBcc: eve@evil.test", "body": "{{ validation_code }}" } }),
            vec![608],
        ),
    ];
    for (body, codes) in cases {
        let answer = post(&app, "/v2/otp/generate", &body).await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.body);
        assert_eq!(error_codes(&answer.body), codes, "{body}: {}", answer.body);
        assert!(answer.body["errors"][0]["status"] == false);
    }
    let sms = post(
        &app,
        "/v2/otp/generate",
        &json!({ "entityType": "EMAIL", "entityValue": "a@example.com", "action": "GENERIC", "channels": [{ "type": "sms" }] }),
    )
    .await;
    assert!(
        sms.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("EMAIL only")
    );
}

#[tokio::test]
async fn capillary_validate_errors_bad_json_and_failed_delivery() {
    let app = spawn_app_with(capillary_config()).await;
    let validate_cases = [
        (
            json!({ "entityType": "EMAIL", "entityValue": "a@example.com", "action": "GENERIC" }),
            vec![604],
        ),
        (
            json!({ "entityType": "EMAIL", "entityValue": "a@example.com", "action": "GENERIC", "code": "" }),
            vec![604],
        ),
        (
            json!({ "entityType": "EMAIL", "entityValue": "a@example.com", "action": "GENERIC", "code": 1234 }),
            vec![604],
        ),
        (json!({ "code": "1234" }), vec![600, 601, 602]),
        (
            json!({ "entityType": "MOBILE", "entityValue": "9876543210", "action": "GENERIC", "code": "1234" }),
            vec![601],
        ),
    ];
    for (body, codes) in validate_cases {
        let answer = post(&app, "/v2/otp/validate", &body).await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.body);
        assert_eq!(error_codes(&answer.body), codes, "{body}: {}", answer.body);
    }
    let broken = post_text(&app, "/v2/otp/generate", "{nope").await;
    assert_eq!(broken.status, 400);
    assert_eq!(error_codes(&broken.body), [400]);
    let failed = post(
        &app,
        "/v2/otp/generate",
        &json!({ "entityType": "EMAIL", "entityValue": "x@bounce.test", "action": "GENERIC" }),
    )
    .await;
    assert_eq!(failed.status, 502);
    assert_eq!(error_codes(&failed.body), [606]);
    assert_eq!(app.outbox().list(None).len(), 0);
}
