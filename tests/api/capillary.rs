//! Capillary's OTP shape (`otp_api.capillary`) over real HTTP: generate and validate by
//! email and by SMS (the code read from the dev outbox), several channels at once, the
//! request errors all at once in Capillary's envelope, templates by request, by action and
//! built in.

use std::time::Duration;

use colloquy::config::Config;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with, test_config};
use crate::otp_service::{post, post_text, wrong};

/// The Capillary routes on, numbers read as Indian (the seed's samples are).
fn capillary_config() -> Config {
    let mut config = test_config();
    config.otp_api.capillary = true;
    config.dialogs.phone_region = Some("IN".to_owned());
    config
}

/// The newest text to `number` (E.164), read over HTTP from `GET /v1/dev/outbox`.
async fn last_text(app: &TestApp, number: &str) -> String {
    let to = number.replace('+', "%2B");
    let outbox = app.get_json(&format!("/v1/dev/outbox?to={to}")).await;
    let last = outbox["emails"]
        .as_array()
        .and_then(|messages| messages.last())
        .unwrap_or_else(|| panic!("no text to {number}: {outbox}"));
    assert_eq!(last["channel"], "sms", "{last}");
    last["text"].as_str().unwrap().to_owned()
}

/// The 4-digit code in a message.
fn code_in(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 4)
        .unwrap_or_else(|| panic!("no code in {text:?}"))
        .to_owned()
}

fn error_codes(body: &Value) -> Vec<u64> {
    body["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(|e| e["code"].as_u64()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn generate_and_validate_by_email() {
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
async fn regenerating_replaces_the_code_and_says_so_with_a_number() {
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
    assert_eq!(error_codes(&soon.body), [429]);
    assert_eq!(soon.body["errors"][0]["message"], "Rate limit exceeded");
    assert_eq!(soon.retry_after, Some(30));

    app.advance(Duration::from_secs(30));
    let regenerated = post(&app, "/v2/otp/generate", &generate).await;
    assert_eq!(regenerated.status, 200);
    let warning = &regenerated.body["warnings"][0];
    assert_eq!(warning["code"], 611, "a number: {warning}");
    assert_eq!(warning["status"], true);
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
async fn errors_come_all_at_once_in_its_envelope() {
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
            json!({ "entityType": "MOBILE", "entityValue": "98765", "action": "GENERIC" }),
            vec![8056],
        ),
        (
            json!({ "entityType": "EMAIL", "entityValue": "a@example.com", "action": "GENERIC",
                    "channels": [{ "type": "SMS", "value": "98765" }, { "type": "PIGEON" }] }),
            vec![8056, 603],
        ),
        (
            json!({ "entityType": "EMAIL", "entityValue": "a@example.com", "action": "GENERIC",
                    "channels": [{ "type": "EMAIL", "value": "not-mail" }, { "type": "SMS" }] }),
            vec![603, 603],
        ),
        (
            json!({ "entityType": "MOBILE", "entityValue": "919986000581", "action": "POINTS",
                    "channels": [{ "type": "WHATSAPP" }, { "type": "zalo" }] }),
            vec![607, 621],
        ),
        (
            json!({ "entityType": "EMAIL", "entityValue": "a@example.com", "action": "GENERIC",
                    "template": "no code here" }),
            vec![608],
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
            .contains("needs a mobile number"),
        "{}",
        sms.body
    );
    assert_eq!(app.outbox().list(None).len(), 0, "nothing was sent");
}

#[tokio::test]
async fn validate_errors_bad_json_and_failed_delivery() {
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
            json!({ "entityType": "MOBILE", "entityValue": "98765abcde", "action": "GENERIC", "code": "1234" }),
            vec![8056],
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

/// The seed's SMS sample as it is: the code texted (the `PHONE` channel, a voice call,
/// reported as not served) validates for the entity.
#[tokio::test]
async fn the_seeds_sms_sample_texts_the_code_which_validates() {
    let app = spawn_app_with(capillary_config()).await;
    let sample = json!({
        "entityType": "MOBILE",
        "entityValue": "911234567896",
        "action": "POINTSTRANSFER",
        "template": "Hi user.Your OTP for validation is {{ validation_code }}.Enjoy",
        "channels": [
            { "type": "SMS", "value": "911234567896" },
            { "type": "PHONE", "value": "911234567896" }
        ]
    });
    let created = post(&app, "/v2/otp/generate", &sample).await;
    assert_eq!(created.status, 200, "{}", created.body);
    let warnings = created.body["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0]["code"], 603);
    assert!(warnings[0]["message"].as_str().unwrap().contains("PHONE"));
    let outbox = app.get_json("/v1/dev/outbox").await;
    let texts = outbox["emails"].as_array().unwrap();
    assert_eq!(texts.len(), 1, "one text, on the SMS channel: {outbox}");
    assert_eq!(texts[0]["channel"], "sms");
    let text = texts[0]["text"].as_str().unwrap();
    let code = code_in(text);
    assert_eq!(
        text,
        format!("Hi user.Your OTP for validation is {code}.Enjoy")
    );
    let validate = |code: &str| json!({ "entityType": "MOBILE", "entityValue": "911234567896", "action": "POINTSTRANSFER", "code": code });
    let refused = post(&app, "/v2/otp/validate", &validate(wrong(&code))).await;
    assert_eq!(refused.body["entity"], false);
    let right = post(&app, "/v2/otp/validate", &validate(&code)).await;
    assert_eq!(right.body, json!({ "entity": true, "warnings": [] }));
}

/// The seed's EMAIL sample: one code on SMS and EMAIL at once (the templates of the request),
/// the PHONE channel reported; the code validates for the email entity.
#[tokio::test]
async fn the_seeds_email_sample_sends_one_code_on_every_channel() {
    let app = spawn_app_with(capillary_config()).await;
    let sample = json!({
        "entityType": "email",
        "entityValue": "tomsawyer@gmail.com",
        "action": "REGISTRATION",
        "template": "Hi user.Your OTP for validation is {{ validation_code }}.Enjoy",
        "emailTemplate": {
            "subject": "Validation Code",
            "body": "Dear Customer, The validation code for your request is: {{ validation_code }}. You will also receive the validation code by SMS on your registered mobile number shortly."
        },
        "channels": [
            { "type": "SMS", "value": "9955882233" },
            { "type": "EMAIL", "value": "tomsawyer@gmail.com" },
            { "type": "PHONE", "value": "9955882233" }
        ]
    });
    let created = post(&app, "/v2/otp/generate", &sample).await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert!(created.body["createdId"].is_u64());
    let codes: Vec<u64> = created.body["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_u64().expect("a numeric code"))
        .collect();
    assert_eq!(codes, [603], "{}", created.body);
    let text = last_text(&app, "+919955882233").await;
    let email = app.outbox().last_to("tomsawyer@gmail.com").unwrap();
    assert_eq!(email.subject, "Validation Code");
    let code = code_in(&text);
    assert_eq!(code_in(&email.text), code, "the same code on both channels");
    assert!(
        email
            .text
            .starts_with("Dear Customer, The validation code for your request is: ")
    );
    let validate = json!({ "entityType": "EMAIL", "entityValue": "tomsawyer@gmail.com", "action": "REGISTRATION", "code": code });
    assert_eq!(
        post(&app, "/v2/otp/validate", &validate).await.body["entity"],
        true
    );
}

/// The seed's WHATSAPP sample: a channel this server has no gateway for, so nothing can be
/// sent; without its template name, Capillary's 607.
#[tokio::test]
async fn the_seeds_whatsapp_sample_has_no_gateway_here() {
    let app = spawn_app_with(capillary_config()).await;
    let mut sample = json!({
        "entityType": "mobile",
        "entityValue": "919986000581",
        "action": "POINTS",
        "whatsappTemplateName": "test_temp2",
        "channels": [{ "type": "whatsapp", "value": "919986000586" }]
    });
    let answer = post(&app, "/v2/otp/generate", &sample).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(error_codes(&answer.body), [603]);
    assert!(
        answer.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Gateway error")
    );
    sample
        .as_object_mut()
        .unwrap()
        .remove("whatsappTemplateName");
    let answer = post(&app, "/v2/otp/generate", &sample).await;
    assert_eq!(error_codes(&answer.body), [607]);
    assert_eq!(app.outbox().list(None).len(), 0);
}

#[tokio::test]
async fn the_send_cap_is_capillarys_429_rate_limit_exceeded() {
    let mut config = capillary_config();
    config.otp.max_sends_per_address = 2;
    let app = spawn_app_with(config).await;
    let generate =
        json!({ "entityType": "MOBILE", "entityValue": "9986000581", "action": "GENERIC" });
    for _ in 0..2 {
        assert_eq!(post(&app, "/v2/otp/generate", &generate).await.status, 200);
        app.advance(Duration::from_secs(31));
    }
    let capped = post(&app, "/v2/otp/generate", &generate).await;
    assert_eq!(capped.status, 429, "{}", capped.body);
    assert_eq!(
        capped.body,
        json!({ "errors": [{ "status": false, "code": 429, "message": "Rate limit exceeded" }] })
    );
    assert!(capped.retry_after.is_some());
}

#[tokio::test]
async fn templates_come_from_the_request_then_the_action_then_capillarys_own() {
    let mut config = capillary_config();
    config.otp_api.capillary_templates.insert(
        "REGISTRATION".to_owned(),
        colloquy::config::CapillaryTemplates {
            sms: Some("Welcome to Acme! Your code: {{ validation_code }}".to_owned()),
            email: Some(colloquy::config::CapillaryEmail {
                subject: "Your Acme code".to_owned(),
                body: "Use {{ validation_code }} to finish signing up.".to_owned(),
            }),
        },
    );
    let app = spawn_app_with(config).await;
    let generate = |action: &str, number: &str, address: &str| {
        json!({ "entityType": "MOBILE", "entityValue": number, "action": action,
                "channels": [{ "type": "SMS" }, { "type": "EMAIL", "value": address }] })
    };
    let created = post(
        &app,
        "/v2/otp/generate",
        &generate("REGISTRATION", "9986000501", "a@example.com"),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let text = last_text(&app, "+919986000501").await;
    assert!(text.starts_with("Welcome to Acme! Your code: "), "{text}");
    let email = app.outbox().last_to("a@example.com").unwrap();
    assert_eq!(email.subject, "Your Acme code");
    assert_eq!(
        email.text,
        format!("Use {} to finish signing up.", code_in(&text))
    );

    let created = post(
        &app,
        "/v2/otp/generate",
        &generate("COUPON", "9986000502", "b@example.com"),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let text = last_text(&app, "+919986000502").await;
    assert_eq!(
        text,
        format!("Hi user.Your otp for validation is {}.", code_in(&text))
    );
    assert_eq!(
        app.outbox().last_to("b@example.com").unwrap().subject,
        "Validation Code"
    );

    let mut own = generate("REGISTRATION", "9986000503", "c@example.com");
    own["template"] = json!("{{ validation_code }} is your code");
    assert_eq!(post(&app, "/v2/otp/generate", &own).await.status, 200);
    assert!(
        last_text(&app, "+919986000503")
            .await
            .ends_with(" is your code")
    );
}
