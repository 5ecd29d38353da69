//! One-time codes as a service, without a dialog: the native `/v1/otp` routes and the
//! Capillary- and DIGIT-shaped ones, over real HTTP, reading codes from the dev outbox.

use std::sync::Arc;
use std::time::Duration;

use colloquy::config::{ClientConfig, Config, Secret};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_app_with, test_config};

pub struct Answer {
    pub status: u16,
    pub retry_after: Option<u64>,
    pub body: Value,
}

pub async fn post_with(app: &TestApp, path: &str, body: &Value, key: Option<&str>) -> Answer {
    let mut request = app.client.post(app.url(path)).json(body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body = response.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        retry_after,
        body,
    }
}

/// Posts `text` as a JSON body as is (to send what is not JSON).
pub async fn post_text(app: &TestApp, path: &str, text: &'static str) -> Answer {
    let response = app
        .client
        .post(app.url(path))
        .header("content-type", "application/json")
        .body(text)
        .send()
        .await
        .expect("request sent");
    let status = response.status().as_u16();
    Answer {
        status,
        retry_after: None,
        body: response.json().await.unwrap_or(Value::Null),
    }
}

pub async fn post(app: &TestApp, path: &str, body: &Value) -> Answer {
    post_with(app, path, body, None).await
}

async fn send(app: &TestApp, email: &str, purpose: &str) -> Answer {
    post(
        app,
        "/v1/otp",
        &json!({ "email": email, "purpose": purpose }),
    )
    .await
}

async fn verify(app: &TestApp, email: &str, purpose: &str, code: &str) -> Value {
    let answer = post(
        app,
        "/v1/otp/verify",
        &json!({ "email": email, "purpose": purpose, "code": code }),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body
}

/// A code of the same shape that is not `code`.
pub fn wrong(code: &str) -> &'static str {
    if code == "0000" { "1111" } else { "0000" }
}

#[tokio::test]
async fn a_code_is_emailed_never_returned_and_works_once() {
    let app = spawn_app().await;
    let sent = send(&app, "alice@example.com", "login").await;
    assert_eq!(sent.status, 201, "{}", sent.body);
    let code = app.last_code("alice@example.com").await;
    assert!(!sent.body.to_string().contains(&code), "{}", sent.body);
    assert!(
        sent.body["otp_id"]
            .as_str()
            .is_some_and(|id| id.len() >= 32)
    );
    assert_eq!(sent.body["expires_at"], "2030-01-01T00:05:00Z");
    assert_eq!(sent.body["resend_after"], "2030-01-01T00:00:30Z");
    let emails = app.outbox().list(Some("alice@example.com"));
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0].subject, "Your verification code");

    assert_eq!(
        verify(&app, "alice@example.com", "login", &code).await,
        json!({ "valid": true })
    );
    assert_eq!(
        verify(&app, "alice@example.com", "login", &code).await,
        json!({ "valid": false, "reason": "no_code" }),
        "a verified code cannot be used again"
    );
}

#[tokio::test]
async fn wrong_codes_count_down_then_lock_the_code() {
    let app = spawn_app().await;
    send(&app, "bob@example.com", "login").await;
    let code = app.last_code("bob@example.com").await;
    let bad = wrong(&code);
    assert_eq!(
        verify(&app, "bob@example.com", "login", bad).await,
        json!({ "valid": false, "reason": "wrong_code", "attempts_left": 2 })
    );
    assert_eq!(
        verify(&app, "bob@example.com", "login", bad).await["attempts_left"],
        1
    );
    assert_eq!(
        verify(&app, "bob@example.com", "login", bad).await,
        json!({ "valid": false, "reason": "locked_out" })
    );
    assert_eq!(
        verify(&app, "bob@example.com", "login", &code).await,
        json!({ "valid": false, "reason": "locked_out" }),
        "even the right code no longer works"
    );
    // A new code starts over.
    app.advance(Duration::from_secs(31));
    assert_eq!(send(&app, "bob@example.com", "login").await.status, 201);
    let code = app.last_code("bob@example.com").await;
    assert_eq!(
        verify(&app, "bob@example.com", "login", &code).await["valid"],
        true
    );
}

#[tokio::test]
async fn codes_expire_on_the_servers_clock() {
    let app = spawn_app().await;
    send(&app, "carol@example.com", "login").await;
    let code = app.last_code("carol@example.com").await;
    app.advance(Duration::from_secs(5 * 60));
    assert_eq!(
        verify(&app, "carol@example.com", "login", &code).await,
        json!({ "valid": false, "reason": "expired" })
    );
}

#[tokio::test]
async fn a_new_code_replaces_the_old_one_after_the_cooldown() {
    let app = spawn_app().await;
    assert_eq!(send(&app, "dan@example.com", "login").await.status, 201);
    let first = app.last_code("dan@example.com").await;
    let again = send(&app, "dan@example.com", "login").await;
    assert_eq!(again.status, 429, "{}", again.body);
    assert_eq!(again.body["error"]["code"], "otp_cooldown");
    assert_eq!(again.retry_after, Some(30));
    assert_eq!(app.emails_to("dan@example.com"), 1);

    app.advance(Duration::from_secs(30));
    assert_eq!(send(&app, "dan@example.com", "login").await.status, 201);
    let second = app.last_code("dan@example.com").await;
    if first != second {
        assert_eq!(
            verify(&app, "dan@example.com", "login", &first).await["reason"],
            "wrong_code",
            "the replaced code no longer works"
        );
    }
    assert_eq!(
        verify(&app, "dan@example.com", "login", &second).await["valid"],
        true
    );
}

#[tokio::test]
async fn the_send_cap_of_an_address_is_shared_across_purposes() {
    let app = spawn_app().await;
    for purpose in ["a", "b", "c", "d", "e"] {
        assert_eq!(send(&app, "erin@example.com", purpose).await.status, 201);
    }
    let capped = send(&app, "Erin@Example.com", "f").await;
    assert_eq!(capped.status, 429, "{}", capped.body);
    assert_eq!(capped.body["error"]["code"], "send_limited");
    assert!(capped.retry_after.is_some_and(|s| s > 0 && s <= 600));
    assert_eq!(app.emails_to("erin@example.com"), 5);
}

#[tokio::test]
async fn a_failed_delivery_is_a_502_that_stores_and_counts_nothing() {
    let app = spawn_app().await;
    for _ in 0..6 {
        let failed = send(&app, "frank@bounce.test", "login").await;
        assert_eq!(failed.status, 502, "{}", failed.body);
        assert_eq!(failed.body["error"]["code"], "delivery_failed");
    }
    // Not counted against the cap of 5, no cooldown, no code waiting.
    assert_eq!(
        verify(&app, "frank@bounce.test", "login", "1234").await,
        json!({ "valid": false, "reason": "no_code" })
    );
}

#[tokio::test]
async fn codes_are_scoped_by_purpose_and_the_address_is_case_insensitive() {
    let app = spawn_app().await;
    send(&app, "Grace@Example.com", "login").await;
    let code = app.last_code("Grace@example.com").await;
    assert_eq!(
        verify(&app, "grace@example.com", "signup", &code).await,
        json!({ "valid": false, "reason": "no_code" })
    );
    // Without a purpose: `default`, another scope again.
    assert_eq!(
        post(
            &app,
            "/v1/otp/verify",
            &json!({ "email": "grace@example.com", "code": code })
        )
        .await
        .body["reason"],
        "no_code"
    );
    assert_eq!(
        verify(&app, "GRACE@example.com", "login", &code).await["valid"],
        true
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_wrong_guesses_are_all_counted() {
    let app = Arc::new(spawn_app().await);
    send(&app, "heidi@example.com", "login").await;
    let code = app.last_code("heidi@example.com").await;
    let bad = wrong(&code).to_owned();
    let guesses: Vec<_> = (0..3)
        .map(|_| {
            let app = app.clone();
            let bad = bad.clone();
            tokio::spawn(async move { verify(&app, "heidi@example.com", "login", &bad).await })
        })
        .collect();
    let mut answers = Vec::new();
    for guess in guesses {
        answers.push(guess.await.unwrap());
    }
    let mut seen: Vec<String> = answers
        .iter()
        .map(|a| match a["attempts_left"].as_u64() {
            Some(left) => format!("wrong_code {left}"),
            None => a["reason"].as_str().unwrap().to_owned(),
        })
        .collect();
    seen.sort();
    assert_eq!(seen, ["locked_out", "wrong_code 1", "wrong_code 2"]);
    assert_eq!(
        verify(&app, "heidi@example.com", "login", &code).await["reason"],
        "locked_out"
    );
}

#[tokio::test]
async fn bad_requests_are_json_4xx() {
    let app = spawn_app().await;
    let cases = [
        (json!({}), 422, "invalid_request"),
        (json!({ "purpose": "login" }), 422, "invalid_request"),
        (json!({ "email": 5 }), 422, "invalid_request"),
        (
            json!({ "email": "a@example.com", "purpose": 7 }),
            422,
            "invalid_request",
        ),
        (
            json!({ "email": "a@example.com", "purpose": "" }),
            422,
            "invalid_request",
        ),
        (
            json!({ "email": "a@example.com", "purpose": "no spaces" }),
            422,
            "invalid_request",
        ),
        (
            json!({ "email": "a@example.com", "extra": true }),
            422,
            "invalid_request",
        ),
        (json!({ "email": "not-an-address" }), 422, "invalid_email"),
        (json!(["a@example.com"]), 422, "invalid_request"),
    ];
    for (body, status, code) in cases {
        let answer = post(&app, "/v1/otp", &body).await;
        assert_eq!(answer.status, status, "{body}: {}", answer.body);
        assert_eq!(answer.body["error"]["code"], code, "{body}");
    }
    let verify_cases = [
        (json!({ "email": "a@example.com" }), 422, "invalid_request"),
        (
            json!({ "email": "a@example.com", "code": 1234 }),
            422,
            "invalid_request",
        ),
        (
            json!({ "email": "a@example.com", "code": "" }),
            422,
            "invalid_request",
        ),
        (
            json!({ "email": "a@example.com", "code": "1".repeat(65) }),
            422,
            "invalid_request",
        ),
        (
            json!({ "email": "nope", "code": "1234" }),
            422,
            "invalid_email",
        ),
    ];
    for (body, status, code) in verify_cases {
        let answer = post(&app, "/v1/otp/verify", &body).await;
        assert_eq!(answer.status, status, "{body}: {}", answer.body);
        assert_eq!(answer.body["error"]["code"], code, "{body}");
    }
    for path in ["/v1/otp", "/v1/otp/verify"] {
        let broken = post_text(&app, path, "{\"email\": ").await;
        assert_eq!(broken.status, 400);
        assert_eq!(broken.body["error"]["code"], "invalid_json");
        let response = app
            .client
            .post(app.url(path))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 415);
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 405);
    }
    assert_eq!(app.outbox().list(None).len(), 0);
}

#[tokio::test]
async fn code_records_are_not_sessions() {
    let app = spawn_app().await;
    let sent = send(&app, "ivan@example.com", "login").await;
    let otp_id = sent.body["otp_id"].as_str().unwrap();
    let record = format!("otp%2F{}", &otp_id[..32]);
    for request in [
        app.client.get(app.url(&format!("/v1/sessions/{record}"))),
        app.client
            .delete(app.url(&format!("/v1/sessions/{record}"))),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 404);
    }
    // A webhook session id cannot name one either.
    let (status, body) = app
        .post_json(&json!({ "session_id": format!("otp/{}", &otp_id[..32]), "message_id": "m1", "text": "hi" }))
        .await;
    assert_eq!(status, 422, "{body}");
    let code = app.last_code("ivan@example.com").await;
    assert_eq!(
        verify(&app, "ivan@example.com", "login", &code).await["valid"],
        true
    );
}

pub const KEY_A: &str = "client-a-key-0123456789";
pub const KEY_B: &str = "client-b-key-0123456789";

pub fn two_clients() -> Config {
    let mut config = test_config();
    config.auth.enabled = true;
    config.auth.clients = vec![
        ClientConfig {
            id: "a".into(),
            api_keys: vec![Secret::new(KEY_A)],
            signing_secrets: Vec::new(),
            role: colloquy::config::ClientRole::Api,
        },
        ClientConfig {
            id: "b".into(),
            api_keys: vec![Secret::new(KEY_B)],
            signing_secrets: Vec::new(),
            role: colloquy::config::ClientRole::Api,
        },
    ];
    config
}

#[tokio::test]
async fn the_routes_need_credentials_and_codes_belong_to_their_client() {
    let app = spawn_app_with(two_clients()).await;
    let body = json!({ "email": "judy@example.com" });
    let refused = post(&app, "/v1/otp", &body).await;
    assert_eq!(refused.status, 401);
    assert_eq!(app.outbox().list(None).len(), 0);
    let sent = post_with(&app, "/v1/otp", &body, Some(KEY_A)).await;
    assert_eq!(sent.status, 201, "{}", sent.body);
    let code = app.outbox().list(Some("judy@example.com"))[0]
        .text
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 4)
        .unwrap()
        .to_owned();
    let guess = json!({ "email": "judy@example.com", "code": code });
    let by_b = post_with(&app, "/v1/otp/verify", &guess, Some(KEY_B)).await;
    assert_eq!(by_b.body, json!({ "valid": false, "reason": "no_code" }));
    let by_a = post_with(&app, "/v1/otp/verify", &guess, Some(KEY_A)).await;
    assert_eq!(by_a.body, json!({ "valid": true }));
}

#[tokio::test]
async fn seed_shaped_routes_are_off_by_default_and_guarded_when_on() {
    let app = spawn_app().await;
    for path in ["/v2/otp/generate", "/otp/v1/_create", "/user-otp/v1/_send"] {
        assert_eq!(post(&app, path, &json!({})).await.status, 404, "{path}");
    }
    let mut config = two_clients();
    config.otp_api.capillary = true;
    config.otp_api.digit = true;
    let app = spawn_app_with(config).await;
    for path in [
        "/v2/otp/generate",
        "/v2/otp/validate",
        "/otp/v1/_create",
        "/otp/v1/_validate",
        "/otp/v1/_search",
        "/user-otp/v1/_send",
    ] {
        assert_eq!(post(&app, path, &json!({})).await.status, 401, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_codes_hold_across_instances() {
    let server = crate::redis::server::RedisServer::start();
    let config = crate::redis::instances::shared_config(&server.url());
    let a = Arc::new(spawn_app_with(config.clone()).await);
    let b = Arc::new(spawn_app_with(config).await);
    assert_eq!(send(&a, "olga@example.com", "login").await.status, 201);
    let refused = send(&b, "olga@example.com", "login").await;
    assert_eq!(refused.status, 429, "the cooldown is shared");
    let code = a.last_code("olga@example.com").await;
    let bad = wrong(&code).to_owned();
    let guesses: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .map(|app| {
            let bad = bad.clone();
            tokio::spawn(async move { verify(&app, "olga@example.com", "login", &bad).await })
        })
        .collect();
    let mut left = Vec::new();
    for guess in guesses {
        left.push(guess.await.unwrap()["attempts_left"].as_u64());
    }
    left.sort_unstable();
    assert_eq!(left, [Some(1), Some(2)], "both guesses were counted");
    assert_eq!(
        verify(&b, "olga@example.com", "login", &code).await,
        json!({ "valid": true })
    );
    assert_eq!(
        verify(&a, "olga@example.com", "login", &code).await["reason"],
        "no_code"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sends_to_one_scope_email_one_code() {
    let mut config = test_config();
    // Each delivery takes a while, so the requests overlap while the first one sends.
    config.email.outbox.delay = Duration::from_millis(100);
    let app = Arc::new(spawn_app_with(config).await);
    let sends: Vec<_> = (0..4)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { send(&app, "pat@example.com", "login").await.status })
        })
        .collect();
    let mut statuses = Vec::new();
    for send in sends {
        statuses.push(send.await.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 429, 429, 429]);
    assert_eq!(app.emails_to("pat@example.com"), 1);
    let code = app.last_code("pat@example.com").await;
    assert_eq!(
        verify(&app, "pat@example.com", "login", &code).await["valid"],
        true
    );
}
