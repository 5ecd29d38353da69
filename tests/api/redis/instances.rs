//! Several engine instances sharing one Redis, over HTTP like a load balancer would spread a
//! widget's messages: nothing that works on one instance breaks on two.

use std::sync::Arc;
use std::time::{Duration, Instant};

use colloquy::config::{Config, Rate, Secret, StoreKind};
use serde_json::{Value, json};

use super::server::RedisServer;
use crate::helpers::{TestApp, dialogs_dir, spawn_app_with, test_config};

/// The test configuration (one `otp.secret` for all instances) on the Redis at `url`.
pub fn shared_config(url: &str) -> Config {
    let mut config = test_config();
    config.sessions.store = StoreKind::Redis;
    config.sessions.redis.url = Secret::new(url);
    config.sessions.redis.connect_timeout = Duration::from_millis(300);
    config.sessions.redis.command_timeout = Duration::from_millis(500);
    config
}

async fn send(app: &TestApp, session: &str, id: &str, text: &str) -> (u16, Value) {
    app.post_json(&json!({ "session_id": session, "message_id": id, "text": text }))
        .await
}

async fn said(app: &TestApp, session: &str, id: &str, text: &str) -> Value {
    let (status, answer) = send(app, session, id, text).await;
    assert_eq!(status, 200, "{text:?} got {answer}");
    answer
}

async fn get(app: &TestApp, path: &str) -> (u16, Value) {
    let response = app.client.get(app.url(path)).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_conversation_alternating_between_instances_completes() {
    let server = RedisServer::start();
    let a = spawn_app_with(shared_config(&server.url())).await;
    let b = spawn_app_with(shared_config(&server.url())).await;
    assert_eq!(said(&a, "s", "m1", "hi").await["node"], "ask_email");
    let sent = said(&b, "s", "m2", "alice@example.com").await;
    assert_eq!(sent["node"], "ask_code");
    // A retry that lands on the other instance is answered from the shared record.
    let retried = said(&a, "s", "m2", "alice@example.com").await;
    assert_eq!(retried, sent);
    assert_eq!(
        a.emails_to("alice@example.com"),
        0,
        "the retry sent nothing"
    );
    assert_eq!(b.emails_to("alice@example.com"), 1);
    let code = b.last_code("alice@example.com").await;
    let done = said(&a, "s", "m3", &code).await;
    assert_eq!(
        done["result"], "authenticated",
        "a code from one verifies on the other"
    );
    assert_eq!(done["turn"], 3);
    let (status, view) = get(&b, "/v1/sessions/s").await;
    assert_eq!((status, view["status"].as_str()), (200, Some("ended")));
    // Each instance counts what it asked of Redis: a turn takes a handful of requests.
    let round_trips = |metrics: &str| -> u64 {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix("colloquy_redis_round_trips_total "))
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("no round trips in {metrics}"))
    };
    let a_trips = round_trips(&a.get_text("/metrics").await);
    assert!(
        (8..=40).contains(&a_trips),
        "{a_trips} for 2 turns and a retry"
    );
}

#[tokio::test]
async fn a_stream_on_one_instance_hears_turns_taken_on_another() {
    let server = RedisServer::start();
    let a = spawn_app_with(shared_config(&server.url())).await;
    let b = spawn_app_with(shared_config(&server.url())).await;
    said(&a, "s", "m1", "hi").await;
    let mut stream = crate::events::EventStream::open(&a, "s", None).await;
    let sent = said(&b, "s", "m2", "alice@example.com").await;
    let heard = stream.next().await.expect("an event");
    assert_eq!(heard.data, sent, "instance a streams the turn b took");
    // The client loses its connection and comes back through the other instance.
    drop(stream);
    let code = b.last_code("alice@example.com").await;
    let done = said(&a, "s", "m3", &code).await;
    let mut again = crate::events::EventStream::open(&b, "s", heard.id.as_deref()).await;
    assert_eq!(again.next().await.expect("the missed turn").data, done);
    again.expect_quiet(Duration::from_millis(300)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_turns_on_one_session_spread_over_two_instances_lose_nothing() {
    let server = RedisServer::start();
    let mut config = shared_config(&server.url());
    config.sessions.history = 200;
    let instances = [
        Arc::new(spawn_app_with(config.clone()).await),
        Arc::new(spawn_app_with(config).await),
    ];
    said(&instances[0], "s", "start", "hi").await;
    let sends: Vec<_> = (0..50)
        .map(|i| {
            let app = instances[i % 2].clone();
            tokio::spawn(async move {
                let text = format!("message {i}");
                (send(&app, "s", &format!("m{i}"), &text).await, text)
            })
        })
        .collect();
    let mut applied = Vec::new();
    for send in sends {
        let ((status, answer), text) = send.await.unwrap();
        assert_eq!(status, 200, "{answer}");
        applied.push((answer["turn"].as_u64().unwrap(), text));
    }
    applied.sort();
    let turns: Vec<u64> = applied.iter().map(|(turn, _)| *turn).collect();
    assert_eq!(
        turns,
        (2..=51).collect::<Vec<_>>(),
        "every message applied exactly once"
    );
    let (_, view) = get(&instances[1], "/v1/sessions/s").await;
    assert_eq!(view["turns"], 51);
    let history: Vec<&str> = view["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|line| line["from"] == "user")
        .filter_map(|line| line["text"].as_str())
        .filter(|text| text.starts_with("message "))
        .collect();
    let in_turn_order: Vec<&str> = applied.iter().map(|(_, text)| text.as_str()).collect();
    assert_eq!(history, in_turn_order, "no turn overwrote another");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_on_another_instance_waits_for_the_first_delivery_and_gets_its_answer() {
    let server = RedisServer::start();
    let mut config = shared_config(&server.url());
    config.email.outbox.delay = Duration::from_millis(300);
    let a = Arc::new(spawn_app_with(config.clone()).await);
    let b = spawn_app_with(config).await;
    said(&a, "s", "m1", "hi").await;
    let first = {
        let a = a.clone();
        tokio::spawn(async move { said(&a, "s", "m2", "alice@example.com").await })
    };
    server
        .wait_for_key(
            "colloquy:lease:{s}",
            "the first delivery never took the lease",
        )
        .await;
    let retry = said(&b, "s", "m2", "alice@example.com").await;
    let first = first.await.unwrap();
    assert_eq!(retry, first, "the retry got the first delivery's answer");
    assert_eq!(
        a.emails_to("alice@example.com") + b.emails_to("alice@example.com"),
        1,
        "one code sent: the turn ran once"
    );
}

#[tokio::test]
async fn limits_hold_across_instances() {
    let server = RedisServer::start();
    let mut config = shared_config(&server.url());
    config.otp.max_sends_per_address = 1;
    // The test's client is on loopback, which is not limited by default.
    config.limits.limit_loopback = true;
    config.limits.per_ip = Rate {
        per_second: 1,
        burst: 4,
    };
    let a = spawn_app_with(config.clone()).await;
    let b = spawn_app_with(config).await;
    // One code per address, whichever instance sends it.
    said(&a, "s1", "m1", "hi").await;
    assert_eq!(
        said(&a, "s1", "m2", "alice@example.com").await["node"],
        "ask_code"
    );
    said(&b, "s2", "m1", "hi").await;
    let limited = said(&b, "s2", "m2", "Alice@example.com").await;
    assert_eq!(limited["result"], "send_limited", "{limited}");
    assert_eq!(b.emails_to("Alice@example.com"), 0);
    // The four requests above took the whole per-IP burst, on both instances together.
    let (status, answer) = send(&a, "s3", "m1", "hi").await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (429, Some("rate_limited"))
    );
}

#[tokio::test]
async fn an_instance_that_goes_away_loses_no_session() {
    let server = RedisServer::start();
    let a = spawn_app_with(shared_config(&server.url())).await;
    said(&a, "s", "m1", "hi").await;
    said(&a, "s", "m2", "alice@example.com").await;
    let code = a.last_code("alice@example.com").await;
    drop(a);
    // A replacement instance, started after the first is gone, picks the session up.
    let b = spawn_app_with(shared_config(&server.url())).await;
    let done = said(&b, "s", "m3", &code).await;
    assert_eq!(done["result"], "authenticated");
}

#[tokio::test]
async fn redis_stopping_mid_conversation_gives_clear_503s_then_the_conversation_completes() {
    let mut server = RedisServer::start_durable();
    let a = spawn_app_with(shared_config(&server.url())).await;
    let b = spawn_app_with(shared_config(&server.url())).await;
    said(&a, "s", "m1", "hi").await;
    said(&b, "s", "m2", "alice@example.com").await;
    let code = b.last_code("alice@example.com").await;

    server.stop();
    let response = a
        .client
        .post(a.url("/v1/webhook"))
        .json(&json!({ "session_id": "s", "message_id": "m3", "text": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    for app in [&a, &b] {
        let (status, health) = get(app, "/healthz").await;
        assert_eq!(status, 503);
        assert_eq!(
            health,
            json!({ "status": "unavailable", "store": "unavailable", "kafka": { "state": "disabled" } })
        );
    }

    server.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(&a, "/healthz").await.0 != 200 {
        assert!(Instant::now() < deadline, "the instance never reconnected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The same message again: nothing of the refused attempt was written.
    let done = said(&a, "s", "m3", &code).await;
    assert_eq!(done["result"], "authenticated", "{done}");
    assert_eq!(done["turn"], 3);
    let (status, health) = get(&b, "/healthz").await;
    assert_eq!((status, health["sessions"].as_u64()), (200, Some(1)));
}

#[tokio::test]
async fn a_session_finishes_on_its_dialog_version_after_every_instance_restarted() {
    let server = RedisServer::start();
    let flagship = std::fs::read_to_string(dialogs_dir().join("otp_authentication.yaml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("otp_authentication.yaml");
    std::fs::write(&file, &flagship).unwrap();
    crate::helpers::copy_flagship_translations(dir.path());
    let on_dir = || {
        let mut config = shared_config(&server.url());
        config.dialogs.dir = dir.path().to_path_buf();
        config
    };
    let old = spawn_app_with(on_dir()).await;
    said(&old, "s", "m1", "hi").await;
    said(&old, "s", "m2", "alice@example.com").await;
    let code = old.last_code("alice@example.com").await;
    // A French conversation on the same version.
    let (status, _) = old
        .post_json(
            &json!({ "session_id": "f", "message_id": "m1", "text": "bonjour", "locale": "fr" }),
        )
        .await;
    assert_eq!(status, 200);
    said(&old, "f", "m2", "zoe@example.com").await;
    let french_code = old.last_code("zoe@example.com").await;
    drop(old);

    // Version 2 replaces the file; every instance is new and has only version 2.
    let v2 = flagship.replace("version: 1\n", "version: 2\n").replace(
        "Hi! I'll verify your email address",
        "Welcome! I'll verify your email address",
    );
    std::fs::write(&file, v2).unwrap();
    let new = spawn_app_with(on_dir()).await;
    let done = said(&new, "s", "m3", &code).await;
    assert_eq!(
        (done["dialog_version"].as_u64(), done["result"].as_str()),
        (Some(1), Some("authenticated")),
        "{done}"
    );
    // The archive kept the version's translations: it finishes in French.
    let french = said(&new, "f", "m3", &french_code).await;
    assert_eq!(french["dialog_version"], 1, "{french}");
    assert_eq!(
        french["replies"][0]["text"], "Merci, zoe@example.com est vérifiée.",
        "{french}"
    );
    let fresh = said(&new, "t", "m1", "hi").await;
    assert_eq!(
        fresh["dialog_version"], 2,
        "new sessions start on the newest"
    );
    let (_, dialogs) = get(&new, "/v1/dialogs").await;
    assert_eq!(
        dialogs["dialogs"][0]["older_versions"],
        json!([1]),
        "{dialogs}"
    );
}

#[tokio::test]
async fn a_signed_request_accepted_by_one_instance_is_refused_by_another() {
    use colloquy::config::{ClientConfig, ClientRole};
    use colloquy::http::auth::{Signed, sign_request};
    const SECRET: &str = "a-signing-secret-0123456789";
    let server = RedisServer::start();
    let mut config = shared_config(&server.url());
    config.auth.enabled = true;
    config.auth.clients = vec![ClientConfig {
        id: "signer".into(),
        api_keys: Vec::new(),
        signing_secrets: vec![Secret::new(SECRET)],
        role: ClientRole::Api,
    }];
    let a = spawn_app_with(config.clone()).await;
    let b = spawn_app_with(config).await;
    let body = json!({ "session_id": "s", "message_id": "m1", "text": "hi" }).to_string();
    let signature = sign_request(
        SECRET.as_bytes(),
        colloquy::clock::Clock::now(a.clock.as_ref()).timestamp(),
        &Signed {
            method: "POST",
            path_and_query: "/v1/webhook",
            body: body.as_bytes(),
        },
    );
    let send = |app: &TestApp| {
        app.client
            .post(app.url("/v1/webhook"))
            .header("content-type", "application/json")
            .header("x-colloquy-signature", signature.clone())
            .body(body.clone())
            .send()
    };
    assert_eq!(send(&a).await.unwrap().status(), 200);
    assert_eq!(
        send(&b).await.unwrap().status(),
        401,
        "replayed on the other instance"
    );
}
