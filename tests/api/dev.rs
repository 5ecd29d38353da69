//! Dev mode (`server.dev`, `serve --dev`): the routes that move the engine's clock and read a
//! session's context, that everything the clock drives moves with it, that the routes exist
//! nowhere else, and that a dev server listens on loopback only.

use std::io::{BufRead, BufReader};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use colloquy::config::Rate;
use serde_json::{Value, json};

use crate::helpers::{TestApp, said, spawn_app, spawn_app_with, test_config};
use crate::runner::colloquy;

async fn dev_app() -> TestApp {
    let mut config = test_config();
    config.server.dev = true;
    spawn_app_with(config).await
}

/// Sends `body` (as given, JSON or not) to `POST /v1/dev/clock`.
async fn post_clock(app: &TestApp, body: &str) -> (u16, Value) {
    let response = app
        .client
        .post(app.url("/v1/dev/clock"))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn get(app: &TestApp, path: &str) -> (u16, Value) {
    let response = app.client.get(app.url(path)).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn code_of(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn the_dev_routes_are_not_found_without_dev_mode() {
    let app = spawn_app().await;
    app.say("s", "hi").await;
    for path in ["/v1/dev/clock", "/v1/dev/sessions/s/context"] {
        let (status, body) = get(&app, path).await;
        assert_eq!(
            (status, code_of(&body)),
            (404, "not_found"),
            "{path}: {body}"
        );
    }
    let (status, body) = post_clock(&app, r#"{"advance": "5m"}"#).await;
    assert_eq!((status, code_of(&body)), (404, "not_found"), "{body}");
    // Nothing moved: the code sent now still lasts its five minutes from the manual clock.
    assert!(app.app.dev_clock.is_none());
}

#[tokio::test]
async fn moving_the_clock_expires_codes_and_then_the_idle_session() {
    let app = dev_app().await;
    let (status, clock) = get(&app, "/v1/dev/clock").await;
    assert_eq!(status, 200, "{clock}");
    assert_eq!(clock["now"], "2030-01-01T00:00:00Z");
    assert_eq!(clock["offset"], "0s");
    app.say("s", "hi").await;
    app.say("s", "alice@example.com").await;
    let code = app.last_code("alice@example.com").await;
    let (status, context) = get(&app, "/v1/dev/sessions/s/context").await;
    assert_eq!(status, 200, "{context}");
    assert_eq!(context["session_id"], "s");
    assert_eq!(context["dialog"], "otp_authentication");
    assert_eq!(context["context"]["email"], "alice@example.com");

    let (status, clock) = post_clock(&app, r#"{"advance": "5m"}"#).await;
    assert_eq!(status, 200, "{clock}");
    assert_eq!(clock["now"], "2030-01-01T00:05:00Z");
    assert_eq!(clock["offset"], "5m");
    assert_eq!(clock["offset_ms"], 300_000);
    let expired = app.say("s", &code).await;
    assert_eq!(expired.node, "code_expired", "{}", said(&expired));
    // A number is seconds, like durations in the config.
    let (status, clock) = post_clock(&app, r#"{"advance": 1800}"#).await;
    assert_eq!(status, 200, "{clock}");
    assert_eq!(clock["offset"], "35m");
    // Idle for `sessions.idle_ttl` (30 minutes) by the engine's clock: forgotten.
    let (status, body) = get(&app, "/v1/dev/sessions/s/context").await;
    assert_eq!((status, code_of(&body)), (404, "unknown_session"), "{body}");
    let (status, body) = get(&app, "/v1/sessions/s").await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn request_limits_refill_on_the_dev_clock() {
    let mut config = test_config();
    config.server.dev = true;
    // The test's client is on loopback, which is not limited by default.
    config.limits.limit_loopback = true;
    config.limits.per_ip = Rate {
        per_second: 1,
        burst: 2,
    };
    let app = spawn_app_with(config).await;
    let dev_clock = app.app.dev_clock.clone().expect("dev mode");
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(get(&app, "/v1/dialogs").await.0);
    }
    assert_eq!(statuses, [200, 200, 429]);
    // The dev route itself sits behind the same limit, so the clock is moved directly here.
    dev_clock.skip(Duration::from_secs(2)).unwrap();
    assert_eq!(get(&app, "/v1/dialogs").await.0, 200);
}

#[tokio::test]
async fn bad_input_to_the_dev_routes_gets_json_errors_with_stable_codes() {
    let app = dev_app().await;
    for (body, status, code, mentions) in [
        ("{advance", 400, "invalid_json", ""),
        ("[]", 422, "invalid_request", ""),
        ("{}", 422, "invalid_request", "advance"),
        (
            r#"{"advance": "5 fortnights"}"#,
            422,
            "invalid_request",
            "fortnights",
        ),
        (r#"{"advance": "-5m"}"#, 422, "invalid_request", "-5m"),
        (r#"{"advance": true}"#, 422, "invalid_request", "advance"),
        (
            r#"{"advance": "5m", "back": "1m"}"#,
            422,
            "invalid_request",
            "back",
        ),
        (
            r#"{"advance": "4000d"}"#,
            422,
            "invalid_request",
            "at most 3660d",
        ),
    ] {
        let (got, answer) = post_clock(&app, body).await;
        assert_eq!((got, code_of(&answer)), (status, code), "{body}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(mentions), "{body}: {message}");
    }
    let unsupported = app
        .client
        .post(app.url("/v1/dev/clock"))
        .body(r#"{"advance": "5m"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(unsupported.status(), 415);
    let deleted = app
        .client
        .delete(app.url("/v1/dev/clock"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 405);
    // None of the refusals moved the clock.
    let (_, clock) = get(&app, "/v1/dev/clock").await;
    assert_eq!(clock["offset"], "0s", "{clock}");
    for (path, status, code) in [
        ("/v1/dev/sessions/nobody/context", 404, "unknown_session"),
        ("/v1/dev/sessions/%FF/context", 400, "invalid_path"),
        ("/v1/dev/sessions/s/contexts", 404, "not_found"),
    ] {
        let (got, answer) = get(&app, path).await;
        assert_eq!((got, code_of(&answer)), (status, code), "{path}: {answer}");
    }
}

#[tokio::test]
async fn codes_issued_through_the_otp_api_are_no_session_to_read() {
    let app = dev_app().await;
    let issued = app
        .client
        .post(app.url("/v1/otp"))
        .json(&json!({ "email": "carol@example.com", "purpose": "login" }))
        .send()
        .await
        .unwrap();
    assert_eq!(issued.status(), 201);
    let (status, body) = get(&app, "/v1/dev/sessions/otp%2Fanything/context").await;
    assert_eq!((status, code_of(&body)), (404, "unknown_session"), "{body}");
}

/// Waits for `child`, which should exit on its own at once; kills it (and fails) after 20 s.
fn exit_of(mut child: Child) -> Output {
    let deadline = Instant::now() + Duration::from_secs(20);
    while child
        .try_wait()
        .expect("the child can be waited on")
        .is_none()
    {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`colloquy serve --dev` still runs after 20 s: it should refuse to start");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("its output")
}

#[test]
fn serve_dev_refuses_to_listen_beyond_this_machine() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    for (addr, from_env) in [
        ("0.0.0.0:0", false),
        ("[::]:0", true),
        ("192.0.2.7:8080", false),
    ] {
        let mut command = colloquy(dir.path());
        command.args(["serve", "--addr", addr]);
        if from_env {
            command.env("COLLOQUY__SERVER__DEV", "true");
        } else {
            command.arg("--dev");
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("serve starts");
        let output = exit_of(child);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{addr}: {stderr}");
        let ip = addr.rsplit_once(':').map(|(ip, _)| ip).unwrap_or_default();
        let ip = ip.trim_start_matches('[').trim_end_matches(']');
        assert_eq!(
            stderr,
            format!(
                "error: dev mode listens on loopback addresses only, and `{addr}` reaches beyond this machine ({ip}): use 127.0.0.1:PORT, [::1]:PORT or localhost:PORT\n"
            )
        );
    }
}

/// Kills the server when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_dev_warns_and_answers_on_loopback() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let mut command = colloquy(dir.path());
    command
        .args(["serve", "--dev", "--addr", "127.0.0.1:0"])
        .env("COLLOQUY__AUTH__ENABLED", "false")
        .env("COLLOQUY__LOG__FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut server = Killed(command.spawn().expect("serve starts"));
    let stderr = server.0.stderr.take().expect("piped stderr");
    // The log, read to its end on a thread of its own (the server must never find its
    // stderr closed), up to the line saying where it listens (port 0: the system picks).
    let (lines, log) = std::sync::mpsc::channel::<Value>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let event = serde_json::from_str(&line).unwrap_or(Value::String(line));
            if lines.send(event).is_err() {
                break;
            }
        }
    });
    let mut warnings = Vec::new();
    let url = loop {
        let event = log
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("the server did not listen: {warnings:?}"));
        let message = event["message"].as_str().unwrap_or_default().to_owned();
        if event["level"] == "WARN" {
            warnings.push(message);
        } else if let Some(url) = message.strip_prefix("colloquy listening on ") {
            break url.to_owned();
        }
    };
    assert!(
        warnings.iter().any(|w| w.starts_with("dev mode: ")),
        "{warnings:?}"
    );
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let clock: Value = client
        .post(format!("{url}/v1/dev/clock"))
        .json(&json!({ "advance": "10m" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(clock["offset"], "10m", "{clock}");
    // The wall clock ten minutes on, give or take the test's own time.
    let now: chrono::DateTime<chrono::Utc> = clock["now"].as_str().unwrap().parse().unwrap();
    let ahead = now - chrono::Utc::now();
    assert!(
        (590..=600).contains(&ahead.num_seconds()),
        "{ahead:?} ahead"
    );
    drop(server);
}
