//! `http.request` against a mock service on 127.0.0.1: what the service receives (path and
//! query encoded, typed JSON body, configured and node headers), what the dialog keeps of the
//! answer, and each failure ending in its outcome within the timeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use colloquy::config::{Config, Secret, ServiceConfig};
use tokio::sync::Mutex;

use crate::helpers::{TestApp, spawn_app_with_dialogs, test_config};

/// What the mock saw of the last booking request.
#[derive(Debug, Default, Clone)]
struct Seen {
    path: String,
    query: Option<String>,
    authorization: Option<String>,
    channel: Option<String>,
    content_type: Option<String>,
    body: String,
}

#[derive(Clone, Default)]
struct Mock {
    seen: Arc<Mutex<Seen>>,
    flaky_calls: Arc<AtomicU32>,
}

async fn book(
    State(mock): State<Mock>,
    Path(kind): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    *mock.seen.lock().await = Seen {
        path: kind.clone(),
        query,
        authorization: header("authorization"),
        channel: header("x-channel"),
        content_type: header("content-type"),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    match kind.as_str() {
        "full" => (StatusCode::CONFLICT, r#"{"error":"no seats"}"#.to_owned()),
        "broken" => (StatusCode::INTERNAL_SERVER_ERROR, "oops".to_owned()),
        "garbled" => (StatusCode::OK, "<html>not json</html>".to_owned()),
        "incomplete" => (StatusCode::OK, r#"{"booking":{}}"#.to_owned()),
        "huge" => (
            StatusCode::OK,
            format!(r#"{{"pad":"{}"}}"#, "x".repeat(10 * 1024 * 1024)),
        ),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            (StatusCode::OK, "{}".to_owned())
        }
        _ => (
            StatusCode::CREATED,
            r#"{"booking":{"id":"B-17","seats":2,"confirmed":true}}"#.to_owned(),
        ),
    }
}

/// 503 twice, then an answer: for the retries of a GET.
async fn flaky(State(mock): State<Mock>) -> (StatusCode, &'static str) {
    if mock.flaky_calls.fetch_add(1, Ordering::SeqCst) < 2 {
        (StatusCode::SERVICE_UNAVAILABLE, "busy")
    } else {
        (StatusCode::OK, r#"{"status":"open"}"#)
    }
}

async fn start_mock() -> (String, Mock) {
    let mock = Mock::default();
    let app = Router::new()
        .route("/api/bookings/{kind}", post(book))
        .route("/api/status", get(flaky))
        .with_state(mock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/api"), mock)
}

const BOOKING: &str = r#"
id: booking
version: 1
start: ask_kind
nodes:
  ask_kind:
    ask: "What would you like to book?"
    entity: text
    save_as: kind
    on_exhausted: sorry
    next: ask_seats
  ask_seats:
    ask: "How many seats?"
    entity: number
    save_as: seats
    on_exhausted: sorry
    next: book
  book:
    action: http.request
    with:
      service: bookings
      method: POST
      path: "/bookings/{{ kind }}"
      query: { note: "{{ kind }} & more" }
      headers: { X-Channel: chat }
      body: { kind: "{{ kind }}", seats: "{{ seats }}", label: "{{ seats }} x {{ kind }}", tags: [chat] }
      timeout: 500ms
      save: { booking_id: /booking/id, confirmed: /booking/confirmed }
    on: { ok: booked, http_error: check_status, timeout: too_slow, invalid_response: garbled }
  check_status:
    branch:
      - if: { var: http.status, equals: 409 }
        then: full
      - else: failed
  booked:
    say: "Booked {{ booking_id }} (confirmed: {{ confirmed }})."
    end: booked
  full:
    say: "Sorry, that is full."
    end: full
  failed:
    say: "The booking service failed ({{ http.status }})."
    end: failed
  too_slow:
    say: "The booking service is slow."
    end: timeout
  garbled:
    say: "The booking service answered strangely."
    end: invalid
  sorry:
    end: gave_up
"#;

const STATUS: &str = r#"
id: status
version: 1
start: ask_anything
nodes:
  ask_anything:
    ask: "Say anything to check the status."
    entity: text
    on_exhausted: done
    next: check
  check:
    action: http.request
    with: { service: bookings, path: /status, retries: 3, save: { state: /status } }
    on: { ok: done, http_error: down, timeout: down, invalid_response: down }
  done:
    say: "Status: {{ state }}"
    end: done
  down:
    say: "Down."
    end: down
"#;

async fn app_with_services(base_url: &str) -> (TestApp, tempfile::TempDir) {
    let mut config: Config = test_config();
    config.services.insert(
        "bookings".to_owned(),
        ServiceConfig {
            base_url: base_url.to_owned(),
            timeout: Duration::from_secs(2),
            headers: [("Authorization".to_owned(), Secret::new("Bearer s3cret"))].into(),
            max_response_bytes: 64 * 1024,
        },
    );
    let files = [("booking.yaml", BOOKING), ("status.yaml", STATUS)];
    spawn_app_with_dialogs(&files, "booking", config).await
}

async fn book_through(app: &TestApp, session: &str, kind: &str) -> (String, Option<String>) {
    app.say(session, "hi").await;
    app.say(session, kind).await;
    let answer = app.say(session, "2").await;
    let text = answer
        .replies
        .iter()
        .map(|r| r.text.as_str())
        .collect::<Vec<_>>()
        .join(" | ");
    (text, answer.result)
}

#[tokio::test]
async fn a_booking_reaches_the_service_encoded_and_its_answer_is_kept() {
    let (base, mock) = start_mock().await;
    let (app, _dir) = app_with_services(&base).await;
    let (text, result) = book_through(&app, "b1", "hair cut/../admin").await;
    assert_eq!(text, "Booked B-17 (confirmed: true).");
    assert_eq!(result.as_deref(), Some("booked"));
    let seen = mock.seen.lock().await.clone();
    // A `/` a user typed stays inside its path segment.
    assert_eq!(seen.path, "hair cut/../admin");
    assert_eq!(
        seen.query.as_deref(),
        Some("note=hair+cut%2F..%2Fadmin+%26+more")
    );
    assert_eq!(seen.authorization.as_deref(), Some("Bearer s3cret"));
    assert_eq!(seen.channel.as_deref(), Some("chat"));
    assert_eq!(seen.content_type.as_deref(), Some("application/json"));
    let body: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "kind": "hair cut/../admin",
            "seats": 2,
            "label": "2 x hair cut/../admin",
            "tags": ["chat"],
        })
    );
}

#[tokio::test]
async fn every_failure_ends_in_its_outcome_within_the_timeout() {
    let (base, _mock) = start_mock().await;
    let (app, _dir) = app_with_services(&base).await;
    for (i, (kind, reply, result)) in [
        ("full", "Sorry, that is full.", "full"),
        ("broken", "The booking service failed (500).", "failed"),
        (
            "garbled",
            "The booking service answered strangely.",
            "invalid",
        ),
        (
            "incomplete",
            "The booking service answered strangely.",
            "invalid",
        ),
        ("huge", "The booking service answered strangely.", "invalid"),
        ("slow", "The booking service is slow.", "timeout"),
    ]
    .into_iter()
    .enumerate()
    {
        let started = Instant::now();
        let (text, ended) = book_through(&app, &format!("f{i}"), kind).await;
        assert_eq!(text, reply, "{kind}");
        assert_eq!(ended.as_deref(), Some(result), "{kind}");
        // The node's 500ms timeout, not the mock's 5s sleep, bounds the slow one.
        assert!(started.elapsed() < Duration::from_secs(3), "{kind}");
    }
    let metrics = app.get_text("/metrics").await;
    for (outcome, count) in [
        ("4xx", 1),
        ("5xx", 1),
        ("2xx", 2),
        ("too_large", 1),
        ("timeout", 1),
    ] {
        let line = format!(
            "colloquy_service_requests_total{{service=\"bookings\",outcome=\"{outcome}\"}} {count}\n"
        );
        assert!(metrics.contains(&line), "{line} in {metrics}");
    }
}

#[tokio::test]
async fn an_unreachable_service_is_an_http_error_with_status_zero() {
    let port = crate::helpers::closed_port();
    let (app, _dir) = app_with_services(&format!("http://127.0.0.1:{port}/api")).await;
    let (text, result) = book_through(&app, "u1", "trim").await;
    assert_eq!(text, "The booking service failed (0).");
    assert_eq!(result.as_deref(), Some("failed"));
}

#[tokio::test]
async fn a_get_is_retried_through_passing_failures() {
    let (base, mock) = start_mock().await;
    let (app, _dir) = app_with_services(&base).await;
    let first = app.say_to_dialog("s1", "status", "hi").await;
    assert_eq!(first.replies[0].text, "Say anything to check the status.");
    let answer = app.say("s1", "now").await;
    assert_eq!(answer.replies[0].text, "Status: open");
    assert_eq!(mock.flaky_calls.load(Ordering::SeqCst), 3);
}
