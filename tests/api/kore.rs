//! The Kore.ai Webhook v2-compatible route runs the OTP dialog end to end.

use colloquy::clock::Clock;
use colloquy::config::{KoreClient, Secret};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with, test_config};

const SECRET: &str = "kore-client-secret-0123";

async fn kore_app() -> TestApp {
    let mut config = test_config();
    config.kore.enabled = true;
    config.kore.clients = vec![KoreClient {
        app_id: "cs-widget".into(),
        secret: Secret::new(SECRET),
    }];
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
        &json!({ "appId": "cs-widget", "userIdentity": "user-9" }),
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
    let hs512 = token(&json!({ "appId": "cs-widget" }), SECRET, Algorithm::HS512);
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
async fn the_route_is_absent_unless_enabled() {
    let app = crate::helpers::spawn_app().await;
    let (status, body) = app.post_json(&json!({})).await;
    assert_eq!(status, 422, "{body}");
    let response = app
        .client
        .post(app.url("/chatbot/v2/webhook/bot"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
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
