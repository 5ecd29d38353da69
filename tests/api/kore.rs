//! The Kore.ai Webhook v1- and v2-compatible routes run the OTP dialog end to end, with the
//! requests and tokens Kore's published connectors send, and refuse tokens as Kore does.

use colloquy::clock::Clock;
use colloquy::config::{KoreClient, Secret};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with, test_config};

const SECRET: &str = "kore-client-secret-0123";

const AUDIENCE: &str = "https://idproxy.kore.ai/authorize";

async fn kore_app() -> TestApp {
    kore_app_with(|_| {}).await
}

async fn kore_app_with(configure: impl FnOnce(&mut colloquy::config::KoreConfig)) -> TestApp {
    let mut config = test_config();
    config.kore.enabled = true;
    config.kore.clients = vec![KoreClient {
        app_id: "cs-widget".into(),
        secret: Secret::new(SECRET),
    }];
    configure(&mut config.kore);
    spawn_app_with(config).await
}

fn token(claims: &Value, secret: &str, algorithm: Algorithm) -> String {
    encode(
        &Header::new(algorithm),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn jwt(app: &TestApp, user: &str) -> String {
    let exp = app.clock.now().timestamp() + 600;
    token(
        &json!({ "appId": "cs-widget", "sub": user, "userIdentity": user, "isAnonymous": false, "exp": exp }),
        SECRET,
        Algorithm::HS256,
    )
}

async fn kore(app: &TestApp, token: Option<&str>, body: &Value) -> (u16, Value) {
    let mut request = app
        .client
        .post(app.url("/chatbot/v2/webhook/st-otp-bot"))
        .json(body);
    if let Some(token) = token {
        request = request.header("authorization", format!("bearer {token}"));
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

fn text(user: &str, val: &str, new: bool) -> Value {
    json!({ "session": { "new": new }, "message": { "type": "text", "val": val }, "from": { "id": user, "userInfo": { "firstName": "Ann" } }, "to": { "id": "st-otp-bot" } })
}

fn vals(answer: &Value) -> Vec<&str> {
    answer["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["val"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_otp_dialog_runs_end_to_end_over_the_kore_route() {
    let app = kore_app().await;
    let token = jwt(&app, "user-1");
    let (status, greeting) = kore(&app, Some(&token), &text("user-1", "hi", true)).await;
    assert_eq!(status, 200, "{greeting}");
    assert_eq!(greeting["_v"], "v2");
    assert_eq!(greeting["endOfTask"], false);
    assert_eq!(
        vals(&greeting),
        [
            "Hi! I'll verify your email address with a one-time code.",
            "What's your email address?"
        ]
    );
    let first = &greeting["data"][0];
    assert_eq!(first["type"], "text");
    assert!(first["createdOn"].is_string() && first["messageId"].is_string());
    let (_, asked) = kore(
        &app,
        Some(&token),
        &text("user-1", "ann@example.com", false),
    )
    .await;
    assert!(
        vals(&asked)[0].contains("emailed a 4-digit code"),
        "{asked}"
    );
    let code = app.last_code("ann@example.com").await;
    let (_, done) = kore(&app, Some(&token), &text("user-1", &code, false)).await;
    assert_eq!(done["endOfTask"], true);
    assert_eq!(done["endReason"], "Fulfilled");
    assert_eq!(done["completedTaskId"], "otp_authentication");
    assert_eq!(
        done["completedTaskName"],
        "Email verification with a one-time code"
    );
}

#[tokio::test]
async fn cancelling_ends_the_task_as_cancelled_and_events_open_and_close_sessions() {
    let app = kore_app().await;
    let token = jwt(&app, "user-2");
    let connect =
        json!({ "message": { "type": "event", "val": "ON_CONNECT" }, "from": { "id": "user-2" } });
    let (status, opened) = kore(&app, Some(&token), &connect).await;
    assert_eq!(status, 200);
    assert_eq!(vals(&opened).len(), 2);
    let (_, cancelled) = kore(&app, Some(&token), &text("user-2", "cancel", false)).await;
    assert_eq!(cancelled["endReason"], "Cancelled");
    let close = json!({ "message": { "type": "event", "val": "SESSION_CLOSURE" }, "from": { "id": "user-2" } });
    assert_eq!(
        kore(&app, Some(&token), &close).await.1["status"],
        "SESSION_CLOSURE_SUCCESS"
    );
    assert_eq!(
        kore(&app, Some(&token), &close).await.1["status"],
        "SESSION_CLOSURE_IGNORED"
    );
}

#[tokio::test]
async fn bad_tokens_and_payloads_get_kore_errors() {
    let app = kore_app().await;
    let now = app.clock.now().timestamp();
    let body = text("user-3", "hi", true);
    let refused = |answer: &(u16, Value)| {
        assert_eq!(answer.0, 401, "{}", answer.1);
        assert_eq!(answer.1["errors"][0]["msg"], "Invalid Access token");
        assert_eq!(answer.1["errors"][0]["code"], 401);
        assert_eq!(answer.1["_v"], "v2");
        assert!(answer.1["_t"].is_string());
    };
    refused(&kore(&app, None, &body).await);
    let wrong_secret = token(
        &json!({ "appId": "cs-widget" }),
        "another-secret-entirely",
        Algorithm::HS256,
    );
    refused(&kore(&app, Some(&wrong_secret), &body).await);
    let wrong_app = token(
        &json!({ "appId": "someone-else" }),
        SECRET,
        Algorithm::HS256,
    );
    refused(&kore(&app, Some(&wrong_app), &body).await);
    let other_user = token(
        &json!({ "appId": "cs-widget", "userIdentity": "user-9", "exp": now + 60 }),
        SECRET,
        Algorithm::HS256,
    );
    refused(&kore(&app, Some(&other_user), &body).await);
    let expired = token(
        &json!({ "appId": "cs-widget", "exp": now - 1 }),
        SECRET,
        Algorithm::HS256,
    );
    refused(&kore(&app, Some(&expired), &body).await);
    // HS512 is accepted too; a payload without `from` is not.
    let hs512 = token(
        &json!({ "appId": "cs-widget", "exp": now + 60 }),
        SECRET,
        Algorithm::HS512,
    );
    assert_eq!(kore(&app, Some(&hs512), &body).await.0, 200);
    let (status, answer) = kore(
        &app,
        Some(&hs512),
        &json!({ "message": { "type": "text", "val": "hi" } }),
    )
    .await;
    assert_eq!(
        (status, answer["errors"][0]["msg"].as_str()),
        (400, Some("Invalid Request Payload"))
    );
    let (status, _) = kore(
        &app,
        Some(&hs512),
        &json!({ "message": { "type": "template", "val": {} }, "from": { "id": "u" } }),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_routes_are_absent_unless_enabled() {
    let app = crate::helpers::spawn_app().await;
    let (status, body) = app.post_json(&json!({})).await;
    assert_eq!(status, 422, "{body}");
    for path in [
        "/chatbot/v2/webhook/bot",
        "/chatbot/hooks/bot",
        "/chatbot/hooks/bot/hookInstance/1",
    ] {
        let response = app
            .client
            .post(app.url(path))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn the_user_s_language_comes_from_interactive_language() {
    let app = kore_app().await;
    let token = jwt(&app, "user-fr");
    let mut hello = text("user-fr", "bonjour", true);
    hello["interactiveLanguage"] = json!("fr");
    let (status, answer) = kore(&app, Some(&token), &hello).await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        vals(&answer)
            .iter()
            .any(|v| v.contains("votre adresse email")),
        "{answer}"
    );
    // The session keeps it: the next message, without the field, is answered in French.
    let (_, next) = kore(
        &app,
        Some(&token),
        &text("user-fr", "pas une adresse", false),
    )
    .await;
    assert!(vals(&next).iter().any(|v| v.contains("Désolé")), "{next}");
    let mut bad = text("user-x", "hi", true);
    bad["interactiveLanguage"] = json!("not a language!");
    let (status, error) = kore(&app, Some(&jwt(&app, "user-x")), &bad).await;
    assert_eq!(status, 400, "{error}");
}

/// The token Botium's Kore.ai webhook connector signs: HS256, one per conversation, valid a
/// day, `aud` Kore's identity proxy, `sub` the from-id.
fn botium_token(app: &TestApp, from_id: &str) -> String {
    let iat = app.clock.now().timestamp();
    token(
        &json!({ "isAnonymous": true, "appId": "cs-widget", "iat": iat, "exp": iat + 86_400, "aud": AUDIENCE, "sub": from_id }),
        SECRET,
        Algorithm::HS256,
    )
}

/// What Botium's connector posts for each message.
fn botium_body(from_id: &str, to_id: &str, text: &str) -> Value {
    json!({ "message": { "text": text }, "from": { "id": from_id }, "to": { "id": to_id } })
}

async fn post(app: &TestApp, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    let mut request = app.client.post(app.url(path)).json(body);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// v1's `text`: one string, or an array of them.
fn v1_texts(answer: &Value) -> Vec<String> {
    match &answer["text"] {
        Value::String(text) => vec![text.clone()],
        Value::Array(texts) => texts
            .iter()
            .map(|t| t.as_str().unwrap().to_owned())
            .collect(),
        other => panic!("no text in {other}"),
    }
}

#[tokio::test]
async fn the_otp_dialog_runs_end_to_end_over_kore_webhook_v1_as_botium_sends_it() {
    let app = kore_app_with(|kore| kore.audience = Some(AUDIENCE.into())).await;
    let (from, to) = (
        "3f1c9a5e-6d0b-4c1e-9a7f-2b8d5e4c1a90",
        "8e2d4b6a-1c3f-4e5d-8a9b-0c7d6e5f4a32",
    );
    let path = "/chatbot/hooks/st-otp-bot";
    // One token for the whole conversation, as the connector does.
    let token = botium_token(&app, from);
    let (status, greeting) = post(&app, path, Some(&token), &botium_body(from, to, "hi")).await;
    assert_eq!(status, 200, "{greeting}");
    assert_eq!(greeting["endOfTask"], false);
    assert!(greeting["text"].is_array(), "several replies: {greeting}");
    assert_eq!(
        v1_texts(&greeting),
        [
            "Hi! I'll verify your email address with a one-time code.",
            "What's your email address?"
        ]
    );
    assert!(greeting.get("endReason").is_none() && greeting.get("data").is_none());
    let (status, asked) = post(
        &app,
        path,
        Some(&token),
        &botium_body(from, to, "ann@example.com"),
    )
    .await;
    assert_eq!(status, 200, "{asked}");
    assert!(asked["text"].is_string(), "one reply, one string: {asked}");
    assert!(
        v1_texts(&asked)[0].contains("emailed a 4-digit code"),
        "{asked}"
    );
    let code = app.last_code("ann@example.com").await;
    let (status, done) = post(&app, path, Some(&token), &botium_body(from, to, &code)).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["endOfTask"], true);
    assert_eq!(done["endReason"], "Fulfilled");
    assert_eq!(done["completedTaskId"], "otp_authentication");
    assert_eq!(
        done["completedTaskName"],
        "Email verification with a one-time code"
    );
    assert!(!v1_texts(&done).is_empty());

    // Another hook instance of the bot, with Kore's fuller v1 body (unknown fields accepted).
    let full = json!({
        "session": { "new": true },
        "message": { "text": "hi", "attachments": [] },
        "from": { "id": "user-v1", "userInfo": { "firstName": "Ann", "lastName": "Lee", "email": "ann@example.com" } },
        "to": { "id": "st-otp-bot", "groupInfo": { "id": "", "name": "" } },
        "customData": { "source": "qa" }
    });
    let (status, answer) = post(
        &app,
        "/chatbot/hooks/st-otp-bot/hookInstance/ivr-1",
        Some(&botium_token(&app, "user-v1")),
        &full,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(v1_texts(&answer).len(), 2);
    // v1 errors come in Kore's envelope.
    let (status, error) = post(
        &app,
        path,
        Some(&token),
        &json!({ "message": { "attachments": [] }, "from": { "id": from } }),
    )
    .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["errors"][0]["msg"], "Invalid Request Payload");
    assert_eq!(error["_v"], "v1");
    let (status, error) = post(&app, path, None, &botium_body(from, to, "hi")).await;
    assert_eq!(
        (status, error["errors"][0]["code"].as_i64()),
        (401, Some(401))
    );
}

/// Answers 401 in Kore's envelope on both versions.
async fn refused_on_both_versions(app: &TestApp, token: &str, why: &str) {
    for (path, body, version) in [
        (
            "/chatbot/hooks/st-otp-bot",
            botium_body("user-t", "bot", "hi"),
            "v1",
        ),
        (
            "/chatbot/v2/webhook/st-otp-bot",
            text("user-t", "hi", false),
            "v2",
        ),
    ] {
        let (status, answer) = post(app, path, Some(token), &body).await;
        assert_eq!(status, 401, "{why} on {version}: {answer}");
        assert_eq!(answer["errors"][0]["msg"], "Invalid Access token", "{why}");
        assert_eq!(answer["errors"][0]["code"], 401, "{why}");
        assert_eq!(answer["_v"], version, "{why}");
        assert!(answer["_t"].is_string(), "{why}");
    }
}

#[tokio::test]
async fn tokens_are_validated_as_kore_does() {
    let app = kore_app_with(|kore| {
        kore.audience = Some(AUDIENCE.into());
        kore.issuer = Some("cs-widget".into());
    })
    .await;
    let now = app.clock.now().timestamp();
    let signed = |claims: Value| token(&claims, SECRET, Algorithm::HS256);
    let base =
        json!({ "appId": "cs-widget", "iss": "cs-widget", "aud": AUDIENCE, "sub": "user-t" });
    let with = |extra: Value| {
        let mut claims = base.clone();
        for (key, value) in extra.as_object().unwrap() {
            claims[key] = value.clone();
        }
        signed(claims)
    };
    refused_on_both_versions(&app, &with(json!({ "iat": now })), "no exp").await;
    refused_on_both_versions(
        &app,
        &with(json!({ "iat": now - 7200, "exp": now - 3600 })),
        "expired",
    )
    .await;
    refused_on_both_versions(
        &app,
        &with(json!({ "iat": now, "exp": now + 86_400 + 60 })),
        "over the maximum lifetime",
    )
    .await;
    refused_on_both_versions(
        &app,
        &with(json!({ "exp": now + 2 * 86_400 })),
        "over the maximum lifetime from now, without iat",
    )
    .await;
    refused_on_both_versions(
        &app,
        &with(json!({ "exp": now + 600, "aud": "https://elsewhere.example/authorize" })),
        "wrong aud",
    )
    .await;
    refused_on_both_versions(
        &app,
        &with(json!({ "exp": now + 600, "iss": "someone-else" })),
        "wrong iss",
    )
    .await;
    // A day exactly is accepted, an audience list containing ours too, and so is a token
    // naming its client in `iss` alone.
    let day = with(json!({ "iat": now, "exp": now + 86_400, "aud": ["other", AUDIENCE] }));
    let (status, answer) = post(
        &app,
        "/chatbot/hooks/st-otp-bot",
        Some(&day),
        &botium_body("user-t", "bot", "hi"),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let by_iss = signed(json!({ "iss": "cs-widget", "aud": AUDIENCE, "exp": now + 600 }));
    let (status, answer) = post(
        &app,
        "/chatbot/v2/webhook/st-otp-bot",
        Some(&by_iss),
        &text("user-t", "hi", true),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn the_maximum_lifetime_is_configurable() {
    let app = kore_app_with(|kore| {
        kore.max_token_lifetime = std::time::Duration::from_secs(3600);
    })
    .await;
    let now = app.clock.now().timestamp();
    let long = token(
        &json!({ "appId": "cs-widget", "iat": now, "exp": now + 7200 }),
        SECRET,
        Algorithm::HS256,
    );
    refused_on_both_versions(&app, &long, "over a one-hour maximum").await;
    let hour = token(
        &json!({ "appId": "cs-widget", "iat": now, "exp": now + 3600 }),
        SECRET,
        Algorithm::HS256,
    );
    let (status, answer) = post(
        &app,
        "/chatbot/hooks/st-otp-bot",
        Some(&hour),
        &botium_body("user-h", "bot", "hi"),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn single_use_tokens_are_refused_the_second_time() {
    let app = kore_app_with(|kore| kore.single_use_tokens = true).await;
    let now = app.clock.now().timestamp();
    let once = |jti: Option<&str>| {
        let mut claims = json!({ "appId": "cs-widget", "iat": now, "exp": now + 600 });
        if let Some(jti) = jti {
            claims["jti"] = json!(jti);
        }
        token(&claims, SECRET, Algorithm::HS256)
    };
    // Without `jti` the token itself is remembered; with one, its id (a new token reusing the
    // id is refused too).
    let plain = once(None);
    let (status, answer) = post(
        &app,
        "/chatbot/hooks/st-otp-bot",
        Some(&plain),
        &botium_body("user-s", "bot", "hi"),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    refused_on_both_versions(&app, &plain, "reused").await;
    let first = once(Some("jti-1"));
    let (status, answer) = post(
        &app,
        "/chatbot/v2/webhook/st-otp-bot",
        Some(&first),
        &text("user-s", "hi", true),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let mut again =
        json!({ "appId": "cs-widget", "iat": now + 1, "exp": now + 601, "jti": "jti-1" });
    let reissued = token(&again, SECRET, Algorithm::HS256);
    refused_on_both_versions(&app, &reissued, "reused jti").await;
    again["jti"] = json!("jti-2");
    let fresh = token(&again, SECRET, Algorithm::HS256);
    let (status, answer) = post(
        &app,
        "/chatbot/hooks/st-otp-bot",
        Some(&fresh),
        &botium_body("user-s", "bot", "hello"),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn tokens_may_be_reused_by_default() {
    let app = kore_app().await;
    let token = botium_token(&app, "user-r");
    for _ in 0..3 {
        let (status, answer) = post(
            &app,
            "/chatbot/hooks/st-otp-bot",
            Some(&token),
            &botium_body("user-r", "bot", "hi"),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
    }
}
