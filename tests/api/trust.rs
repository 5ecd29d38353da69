//! What chat widgets and proxies need to trust the webhook: authentication, rate limits,
//! bounded waits, ordered turns, support views, session caps, CORS and graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use colloquy::clock::Clock;
use colloquy::config::{ClientConfig, Config, Rate, Secret};
use colloquy::http::auth::{Signed, sign, sign_request};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_app_with, test_config};

const API_KEY: &str = "widget-key-0123456789";
const SIGNING_SECRET: &str = "widget-signing-secret-0123";

fn authenticated_config() -> Config {
    let mut config = test_config();
    config.auth.enabled = true;
    config.auth.clients = vec![ClientConfig {
        id: "widget".into(),
        api_keys: vec![Secret::new(API_KEY)],
        signing_secrets: vec![Secret::new(SIGNING_SECRET)],
        role: colloquy::config::ClientRole::Api,
    }];
    config
}

fn body(session: &str, id: &str, text: &str) -> String {
    json!({ "session_id": session, "message_id": id, "text": text }).to_string()
}

async fn post(
    app: &TestApp,
    body: String,
    headers: &[(&str, String)],
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut request = app
        .client
        .post(app.url("/v1/webhook"))
        .header("content-type", "application/json")
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (
        status,
        response.json().await.unwrap_or(Value::Null),
        headers,
    )
}

fn assert_unauthorized((status, body, headers): &(u16, Value, reqwest::header::HeaderMap)) {
    assert_eq!(*status, 401, "{body}");
    assert_eq!(
        body,
        &json!({ "error": { "code": "unauthorized", "message": "authentication required" } })
    );
    assert_eq!(headers["www-authenticate"], "Bearer");
}

#[tokio::test]
async fn api_keys_are_required_and_checked() {
    let app = spawn_app_with(authenticated_config()).await;
    assert_unauthorized(&post(&app, body("s", "1", "hi"), &[]).await);
    assert_unauthorized(
        &post(
            &app,
            body("s", "1", "hi"),
            &[("authorization", "Bearer wrong-key-0123456789".into())],
        )
        .await,
    );
    assert_unauthorized(
        &post(
            &app,
            body("s", "1", "hi"),
            &[("authorization", format!("Basic {API_KEY}"))],
        )
        .await,
    );
    let (status, answer, _) = post(
        &app,
        body("s", "1", "hi"),
        &[("authorization", format!("Bearer {API_KEY}"))],
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    // Other protected routes too; health and metrics stay open for probes and scrapers.
    let dialogs = app.client.get(app.url("/v1/dialogs")).send().await.unwrap();
    assert_eq!(dialogs.status(), 401);
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        app.client
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

/// The signature of a `POST /v1/webhook` of `payload` at `at`.
fn webhook_signature(payload: &str, at: i64) -> String {
    sign_request(
        SIGNING_SECRET.as_bytes(),
        at,
        &Signed {
            method: "POST",
            path_and_query: "/v1/webhook",
            body: payload.as_bytes(),
        },
    )
}

#[tokio::test]
async fn a_signature_covers_the_method_and_path_and_the_body_only_form_needs_the_switch() {
    let app = spawn_app_with(authenticated_config()).await;
    let now = app.clock.now().timestamp();
    let empty = |path: &str, at: i64| {
        sign_request(
            SIGNING_SECRET.as_bytes(),
            at,
            &Signed {
                method: "GET",
                path_and_query: path,
                body: b"",
            },
        )
    };
    let get = |path: &'static str, signature: String| {
        let request = app
            .client
            .get(app.url(path))
            .header("x-colloquy-signature", signature);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(get("/v1/dialogs", empty("/v1/dialogs", now)).await, 200);
    // Signed for one route, sent to another: refused.
    assert_eq!(
        get("/v1/dev/outbox", empty("/v1/dialogs", now + 1)).await,
        401
    );
    // The body-only form is refused unless switched on.
    let legacy = || sign(SIGNING_SECRET.as_bytes(), now + 2, b"");
    assert_eq!(get("/v1/dialogs", legacy()).await, 401);
    let mut config = authenticated_config();
    config.auth.body_only_signatures = true;
    let app = spawn_app_with(config).await;
    let status = app
        .client
        .get(app.url("/v1/dialogs"))
        .header("x-colloquy-signature", legacy())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
}

#[tokio::test]
async fn signed_bodies_are_accepted_once_and_only_in_time() {
    let app = spawn_app_with(authenticated_config()).await;
    let now = app.clock.now().timestamp();
    let signed =
        |payload: &str, at: i64| vec![("x-colloquy-signature", webhook_signature(payload, at))];

    let first = body("s", "1", "hi");
    let (status, _, _) = post(&app, first.clone(), &signed(&first, now)).await;
    assert_eq!(status, 200);
    // The same signed request again: a replay.
    assert_unauthorized(&post(&app, first.clone(), &signed(&first, now)).await);
    // A signature over another body.
    let second = body("s", "2", "alice@example.com");
    assert_unauthorized(&post(&app, second.clone(), &signed(&first, now + 1)).await);
    // A wrong secret.
    let forged = vec![(
        "x-colloquy-signature",
        sign_request(
            b"not-the-secret-at-all",
            now,
            &Signed {
                method: "POST",
                path_and_query: "/v1/webhook",
                body: second.as_bytes(),
            },
        ),
    )];
    assert_unauthorized(&post(&app, second.clone(), &forged).await);
    // Signed too long ago, or too far ahead (the replay window is 5 minutes).
    assert_unauthorized(&post(&app, second.clone(), &signed(&second, now - 301)).await);
    assert_unauthorized(&post(&app, second.clone(), &signed(&second, now + 301)).await);
    assert_unauthorized(
        &post(
            &app,
            second.clone(),
            &[("x-colloquy-signature", "t=1,v1=zz".into())],
        )
        .await,
    );
    // Re-signed with a fresh timestamp, the retry is fine.
    let (status, answer, _) = post(&app, second.clone(), &signed(&second, now + 2)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["node"], "ask_code");
}

#[tokio::test]
async fn a_dev_clock_running_ahead_does_not_make_signatures_stale() {
    // Clients sign with their own clock, which the dev clock does not move.
    let mut config = authenticated_config();
    config.server.dev = true;
    let app = spawn_app_with(config).await;
    let skipped = app
        .client
        .post(app.url("/v1/dev/clock"))
        .bearer_auth(API_KEY)
        .json(&json!({ "advance": "1h" }))
        .send()
        .await
        .unwrap();
    assert_eq!(skipped.status(), 200);
    let now = app.clock.now().timestamp();
    let first = body("s", "1", "hi");
    let signature = webhook_signature(&first, now);
    let (status, answer, _) = post(&app, first, &[("x-colloquy-signature", signature)]).await;
    assert_eq!(status, 200, "{answer}");
    let late = body("s", "2", "alice@example.com");
    let signature = webhook_signature(&late, now + 3600);
    assert_unauthorized(&post(&app, late, &[("x-colloquy-signature", signature)]).await);
}

#[tokio::test]
async fn requests_per_ip_are_limited_with_retry_after() {
    let mut config = test_config();
    // The test's client is on loopback, which is not limited by default.
    config.limits.limit_loopback = true;
    config.limits.per_ip = Rate {
        per_second: 1,
        burst: 3,
    };
    let app = spawn_app_with(config).await;
    for i in 0..3 {
        assert_eq!(
            post(&app, body("s", &i.to_string(), "hi"), &[]).await.0,
            200
        );
    }
    let (status, answer, headers) = post(&app, body("s", "3", "hi"), &[]).await;
    assert_eq!(status, 429);
    assert_eq!(answer["error"]["code"], "rate_limited");
    assert_eq!(headers["retry-after"], "1");
    // Time refills the bucket; nothing sleeps.
    app.advance(Duration::from_secs(1));
    assert_eq!(post(&app, body("s", "3", "hi"), &[]).await.0, 200);
}

#[tokio::test]
async fn loopback_clients_are_not_limited_per_ip_unless_asked() {
    let mut config = test_config();
    config.limits.per_ip = Rate {
        per_second: 1,
        burst: 1,
    };
    let app = spawn_app_with(config).await;
    // A load test or a widget backend on this machine: every request from one address.
    for i in 0..5 {
        assert_eq!(
            post(&app, body("s", &i.to_string(), "hi"), &[]).await.0,
            200
        );
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket() {
    let mut config = test_config();
    config.limits.per_ip = Rate {
        per_second: 1,
        burst: 1,
    };
    config.limits.trusted_proxies = vec!["127.0.0.1".to_owned()];
    let app = spawn_app_with(config).await;
    let from = |client: &str| [("x-forwarded-for", client.to_owned())];
    assert_eq!(
        post(&app, body("a", "1", "hi"), &from("203.0.113.1"))
            .await
            .0,
        200
    );
    assert_eq!(
        post(&app, body("b", "1", "hi"), &from("203.0.113.2"))
            .await
            .0,
        200
    );
    let (status, answer, _) = post(&app, body("a", "2", "hi"), &from("203.0.113.1")).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (429, Some("rate_limited"))
    );
    // A forwarded loopback address is no way around it: only loopback peers are exempt, and
    // only when no trusted proxy names another client.
    assert_eq!(
        post(&app, body("c", "1", "hi"), &from("203.0.113.2, 127.0.0.1"))
            .await
            .0,
        429
    );
}

#[tokio::test]
async fn requests_per_client_are_limited() {
    let mut config = authenticated_config();
    config.limits.per_client = Rate {
        per_second: 1,
        burst: 2,
    };
    let app = spawn_app_with(config).await;
    let key = [("authorization", format!("Bearer {API_KEY}"))];
    assert_eq!(post(&app, body("a", "1", "hi"), &key).await.0, 200);
    assert_eq!(post(&app, body("b", "1", "hi"), &key).await.0, 200);
    let (status, answer, _) = post(&app, body("c", "1", "hi"), &key).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (429, Some("rate_limited"))
    );
    // Unauthenticated requests are refused before they can spend the client's budget.
    assert_eq!(post(&app, body("c", "1", "hi"), &[]).await.0, 401);
}

/// Waits (bounded) until a turn holds the session lock; a poll, not a timed assertion.
async fn until_busy(app: &TestApp) {
    for _ in 0..2000 {
        if app.app.engine.busy_sessions() > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("no turn started");
}

/// Waits (bounded) until no turn runs.
async fn until_idle(app: &TestApp) {
    for _ in 0..5000 {
        if app.app.engine.busy_sessions() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("a turn never finished");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_session_queues_a_bounded_number_of_turns() {
    let mut config = test_config();
    config.email.outbox.delay = Duration::from_millis(400);
    config.limits.session_queue = 1;
    config.limits.queue_timeout = Duration::from_millis(100);
    let app = Arc::new(spawn_app_with(config).await);
    post(&app, body("s", "1", "hi"), &[]).await;
    let slow = {
        let app = app.clone();
        tokio::spawn(async move { post(&app, body("s", "2", "alice@example.com"), &[]).await })
    };
    until_busy(&app).await;
    let waiting = {
        let app = app.clone();
        tokio::spawn(async move { post(&app, body("s", "3", "1234"), &[]).await })
    };
    // The queue holds one waiter; whichever of these two arrives second is refused at once.
    let refused = post(&app, body("s", "4", "1234"), &[]).await;
    let waited = waiting.await.unwrap();
    let mut busy = [refused, waited];
    busy.sort_by_key(|(status, ..)| *status);
    for (status, answer, headers) in &busy {
        assert_eq!(*status, 503, "{answer}");
        assert_eq!(answer["error"]["code"], "session_busy");
        assert_eq!(headers["retry-after"], "1");
    }
    let (status, answer, _) = slow.await.unwrap();
    assert_eq!((status, answer["node"].as_str()), (200, Some("ask_code")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_that_outlives_the_request_timeout_still_completes() {
    let mut config = test_config();
    config.email.outbox.delay = Duration::from_millis(300);
    config.server.request_timeout = Duration::from_millis(50);
    let app = spawn_app_with(config).await;
    post(&app, body("s", "1", "hi"), &[]).await;
    let (status, answer, headers) = post(&app, body("s", "2", "alice@example.com"), &[]).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["error"]["code"], "timeout");
    assert_eq!(headers["retry-after"], "1");
    // The turn goes on without its client; once it is done, the retry gets its answer.
    until_idle(&app).await;
    let (status, answer, _) = post(&app, body("s", "2", "alice@example.com"), &[]).await;
    assert_eq!(
        (status, answer["node"].as_str()),
        (200, Some("ask_code")),
        "{answer}"
    );
    assert_eq!(
        answer["turn"], 2,
        "the retry was answered from the first delivery"
    );
    assert_eq!(
        app.emails_to("alice@example.com"),
        1,
        "one email: the turn ran once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_messages_on_one_session_are_all_applied_in_order() {
    let mut config = test_config();
    config.sessions.history = 200;
    let app = Arc::new(spawn_app_with(config).await);
    post(&app, body("s", "start", "hi"), &[]).await;
    let sends: Vec<_> = (0..50)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                post(
                    &app,
                    body("s", &format!("m{i}"), &format!("message {i}")),
                    &[],
                )
                .await
            })
        })
        .collect();
    let mut applied = Vec::new();
    for (i, send) in sends.into_iter().enumerate() {
        let (status, answer, _) = send.await.unwrap();
        assert_eq!(status, 200, "{answer}");
        applied.push((answer["turn"].as_u64().unwrap(), format!("message {i}")));
    }
    applied.sort();
    let turns: Vec<u64> = applied.iter().map(|(turn, _)| *turn).collect();
    assert_eq!(
        turns,
        (2..=51).collect::<Vec<_>>(),
        "every message applied exactly once"
    );
    let view: Value = app.get_json("/v1/sessions/s").await;
    assert_eq!(view["turns"], 51);
    let said: Vec<&str> = view["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|line| {
            line["from"] == "user" && line["text"].as_str().unwrap().starts_with("message ")
        })
        .map(|line| line["text"].as_str().unwrap())
        .collect();
    let in_turn_order: Vec<&str> = applied.iter().map(|(_, text)| text.as_str()).collect();
    assert_eq!(
        said, in_turn_order,
        "the history shows the messages in the order the server applied them"
    );
}

#[tokio::test]
async fn support_staff_see_a_masked_session_and_can_end_it() {
    let app = spawn_app().await;
    post(&app, body("s", "1", "hi"), &[]).await;
    post(&app, body("s", "2", "alice@example.com"), &[]).await;
    let code = app.last_code("alice@example.com").await;
    post(&app, body("s", "3", &code), &[]).await;
    let view = app
        .client
        .get(app.url("/v1/sessions/s"))
        .send()
        .await
        .unwrap();
    assert_eq!(view.status(), 200);
    let text = view.text().await.unwrap();
    assert!(!text.contains("alice@"), "addresses are masked: {text}");
    assert!(!text.contains(&code), "codes never show: {text}");
    let view: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(view["status"], "ended");
    assert_eq!(view["result"], "authenticated");
    assert_eq!(view["otp"]["to"], "a***@example.com");
    assert_eq!(view["otp"]["status"], "used");
    assert!(
        view["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["text"] == "••••"),
        "{view}"
    );
    let history = view["history"].as_array().unwrap();
    assert_eq!(history[0]["from"], "user");
    assert!(
        history[0].get("node").is_none(),
        "the first message answered no question: {view}"
    );
    assert_eq!(history[1]["node"], "greet", "{view}");
    let ended = app
        .client
        .delete(app.url("/v1/sessions/s"))
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 204);
    let gone = app
        .client
        .get(app.url("/v1/sessions/s"))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    assert_eq!(
        gone.json::<Value>().await.unwrap()["error"]["code"],
        "unknown_session"
    );
    assert_eq!(
        app.client
            .delete(app.url("/v1/sessions/s"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn the_longest_idle_sessions_are_evicted_beyond_the_cap() {
    let mut config = test_config();
    config.limits.max_sessions = 3;
    let app = spawn_app_with(config).await;
    for session in ["a", "b", "c", "d"] {
        app.advance(Duration::from_secs(1));
        post(&app, body(session, "1", "hi"), &[]).await;
    }
    assert_eq!(
        app.client
            .get(app.url("/v1/sessions/a"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        app.client
            .get(app.url("/v1/sessions/d"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let metrics = app.get_text("/metrics").await;
    assert!(
        metrics.contains("colloquy_sessions_evicted_total 1\n"),
        "{metrics}"
    );
    assert!(metrics.contains("colloquy_sessions 3\n"), "{metrics}");
}

#[tokio::test]
async fn browsers_get_cors_headers_for_allowed_origins_only() {
    let mut config = test_config();
    config.server.cors_origins = vec!["https://shop.example".into()];
    let app = spawn_app_with(config).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/v1/webhook"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type,authorization",
            )
            .send()
    };
    let allowed = preflight("https://shop.example").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    assert!(
        allowed.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("authorization")
    );
    let other = preflight("https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutting_down_finishes_turns_in_flight_and_refuses_new_ones() {
    let mut config = test_config();
    config.email.outbox.delay = Duration::from_millis(300);
    let app = Arc::new(spawn_app_with(config).await);
    post(&app, body("s", "1", "hi"), &[]).await;
    let in_flight = {
        let app = app.clone();
        tokio::spawn(async move { post(&app, body("s", "2", "alice@example.com"), &[]).await })
    };
    until_busy(&app).await;
    app.state.start_draining();
    let (status, answer, headers) = post(&app, body("t", "1", "hi"), &[]).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (503, Some("shutting_down"))
    );
    assert_eq!(headers["retry-after"], "1");
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 503);
    assert_eq!(health.json::<Value>().await.unwrap()["status"], "draining");
    let (status, answer, _) = in_flight.await.unwrap();
    assert_eq!(
        (status, answer["node"].as_str()),
        (200, Some("ask_code")),
        "the turn in flight finished"
    );
}
