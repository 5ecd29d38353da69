//! Malformed and hostile requests over real HTTP: every rejection is a 4xx with the JSON error
//! body and a stable code, nothing is ever a 5xx, and the server keeps serving afterwards.

use std::cell::Cell;

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use serde_json::{Value, json};

use crate::helpers::{TestApp, said, spawn_app};

const JSON: Option<&str> = Some("application/json");

fn request(session: &str) -> Value {
    json!({ "session_id": session, "message_id": "m1", "text": "hi" })
}

/// The code a status may carry; `None` for statuses the API never returns.
fn codes_for(status: u16) -> Option<&'static [&'static str]> {
    Some(match status {
        400 => &["invalid_json"],
        404 => &["unknown_dialog", "not_found"],
        405 => &["method_not_allowed"],
        409 => &["conflict", "message_id_reused"],
        413 => &["payload_too_large"],
        415 => &["unsupported_media_type"],
        422 => &["invalid_request"],
        _ => return None,
    })
}

/// Checks a rejection's status and body; returns its message.
#[track_caller]
fn rejected(answer: &(u16, Value), status: u16, code: &str) -> String {
    let (got, body) = answer;
    assert_eq!(*got, status, "status of {body}");
    assert_eq!(body["error"]["code"], code, "code in {body}");
    let message = body["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("a message in {body}"));
    assert!(!message.is_empty());
    assert_eq!(
        body.as_object().map(serde_json::Map::len),
        Some(1),
        "only `error` in {body}"
    );
    message.to_owned()
}

/// A normal conversation still works: the server survived whatever came before.
async fn still_serves(app: &TestApp, session: &str) {
    let greeting = app.say(session, "hi").await;
    assert_eq!(greeting.node, "ask_email", "{}", said(&greeting));
    let asked = app.say(session, "alice@example.com").await;
    assert_eq!(asked.node, "ask_code", "{}", said(&asked));
    let code = app.last_code("alice@example.com").await;
    let done = app.say(session, &code).await;
    assert_eq!(done.result.as_deref(), Some("authenticated"));
}

async fn get(app: &TestApp, method: reqwest::Method, path: &str) -> (u16, Value) {
    let response = app
        .client
        .request(method, app.url(path))
        .send()
        .await
        .expect("request sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn bodies_that_are_not_json_are_400_invalid_json() {
    let app = spawn_app().await;
    for body in [
        "",
        "{",
        "not json",
        "{\"session_id\": }",
        "{\"session_id\": \"s\", \"message_id\": \"m\", \"text\": \"hi\"} trailing",
        "{'session_id': 's'}",
        "{\"text\": \"\\ud800\"}",
        "{\"session_id\": \"s\", \"message_id\": \"m\", \"text\": \"hi\",}",
    ] {
        let answer = app.post_raw(body, JSON).await;
        rejected(&answer, 400, "invalid_json");
    }
    still_serves(&app, "after").await;
}

#[tokio::test]
async fn invalid_utf8_is_400() {
    let app = spawn_app().await;
    let in_a_string =
        b"{\"session_id\": \"s\", \"message_id\": \"m\", \"text\": \"\xff\xfe\"}".to_vec();
    let truncated =
        b"{\"session_id\": \"s\", \"message_id\": \"m\", \"text\": \"\xe2\x82\"}".to_vec();
    let outside = b"\xef\xbb\xbf\xff{}".to_vec();
    for body in [in_a_string, truncated, outside] {
        let answer = app.post_raw(body, JSON).await;
        rejected(&answer, 400, "invalid_json");
    }
    still_serves(&app, "after").await;
}

#[tokio::test]
async fn a_body_that_is_not_declared_json_is_415() {
    let app = spawn_app().await;
    let body = request("s").to_string();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/xml"),
        Some("json"),
    ] {
        let answer = app.post_raw(body.clone(), content_type).await;
        let message = rejected(&answer, 415, "unsupported_media_type");
        assert!(message.contains("application/json"), "{message}");
    }
    // The JSON type with parameters, or a `+json` type, is JSON.
    for content_type in [
        "application/json; charset=utf-8",
        "application/vnd.api+json",
    ] {
        let (status, body) = app.post_raw(body.clone(), Some(content_type)).await;
        assert_eq!(status, 200, "{content_type}: {body}");
    }
}

#[tokio::test]
async fn missing_fields_are_422_naming_the_field() {
    let app = spawn_app().await;
    for field in ["session_id", "text"] {
        let mut body = request("s");
        body.as_object_mut().expect("an object").remove(field);
        let message = rejected(&app.post_json(&body).await, 422, "invalid_request");
        assert!(message.contains(field), "{field}: {message}");
    }
    let message = rejected(&app.post_json(&json!({})).await, 422, "invalid_request");
    assert!(message.contains("session_id"), "{message}");
}

/// The simplest client sends only the session and the text; each such message is a new one.
#[tokio::test]
async fn a_message_without_an_id_is_a_new_message_every_time() {
    let app = spawn_app().await;
    let hi = json!({ "session_id": "plain", "text": "hi" });
    let (status, first) = app.post_json(&hi).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["node"], "ask_email");
    let email = json!({ "session_id": "plain", "text": "pat@example.com" });
    let (_, sent) = app.post_json(&email).await;
    assert_eq!(sent["node"], "ask_code");
    // Sent again, it is another message (no id to tell a retry), answered at the code question.
    let (_, again) = app.post_json(&email).await;
    assert_eq!(again["turn"], 3);
    assert_eq!(again["node"], "ask_code");
}

#[tokio::test]
async fn fields_of_the_wrong_type_are_422_naming_the_field() {
    let app = spawn_app().await;
    let cases = [
        ("text", json!(5)),
        ("text", json!(null)),
        ("text", json!(["hi"])),
        ("text", json!({ "value": "hi" })),
        ("session_id", json!(["a"])),
        ("session_id", json!(null)),
        ("session_id", json!(12)),
        ("message_id", json!(true)),
        ("message_id", json!({})),
        ("dialog", json!(5)),
        ("dialog", json!(["otp_authentication"])),
    ];
    for (field, value) in cases {
        let mut body = request("s");
        body[field] = value.clone();
        let message = rejected(&app.post_json(&body).await, 422, "invalid_request");
        assert!(message.contains(field), "{field} = {value}: {message}");
    }
    // Not an object at all: not even an array of the fields in order.
    for body in [
        json!([]),
        json!(["s", "m", "hi"]),
        json!(5),
        json!("hi"),
        json!(null),
        json!(true),
    ] {
        let message = rejected(&app.post_json(&body).await, 422, "invalid_request");
        assert!(
            message.contains("expected a JSON object"),
            "{body}: {message}"
        );
    }
    // `metadata` is free-form: any JSON value is accepted.
    for metadata in [json!(null), json!(1), json!("x"), json!([1, {"a": []}])] {
        let mut body = request("meta");
        body["metadata"] = metadata;
        assert_eq!(app.post_json(&body).await.0, 200);
    }
}

#[tokio::test]
async fn unknown_fields_are_422_naming_the_field() {
    let app = spawn_app().await;
    for field in ["sessionId", "messageId", "Text", "extra", ""] {
        let mut body = request("s");
        body[field] = json!("x");
        let message = rejected(&app.post_json(&body).await, 422, "invalid_request");
        assert!(
            message.contains(&format!("`{field}`")),
            "{field}: {message}"
        );
    }
    // A duplicate field is not quietly resolved either way.
    let duplicate = r#"{"session_id": "a", "session_id": "b", "message_id": "m", "text": "hi"}"#;
    let message = rejected(&app.post_raw(duplicate, JSON).await, 422, "invalid_request");
    assert!(message.contains("session_id"), "{message}");
}

#[tokio::test]
async fn text_is_limited_to_max_text_chars_characters() {
    let app = spawn_app().await;
    let max = app.app.config.server.max_text_chars;
    assert_eq!(max, 2000);
    // The limit counts characters, not bytes.
    for (session, text) in [("ascii", "a".repeat(max)), ("wide", "é".repeat(max))] {
        let mut body = request(session);
        body["text"] = json!(text);
        let (status, answer) = app.post_json(&body).await;
        assert_eq!(status, 200, "{answer}");
    }
    for text in ["a".repeat(max + 1), "€".repeat(max + 1)] {
        let mut body = request("long");
        body["text"] = json!(text);
        let message = rejected(&app.post_json(&body).await, 422, "invalid_request");
        assert!(message.contains("text"), "{message}");
        assert!(message.contains("2000"), "{message}");
    }
    let mut body = request("nul");
    body["text"] = json!("a\u{0}b");
    let message = rejected(&app.post_json(&body).await, 422, "invalid_request");
    assert!(message.contains("NUL"), "{message}");
}

#[tokio::test]
async fn a_body_over_max_body_bytes_is_413() {
    let app = spawn_app().await;
    let max = app.app.config.server.max_body_bytes;
    assert_eq!(max, 16 * 1024);
    let mut body = request("big");
    body["text"] = json!("a".repeat(max));
    rejected(&app.post_json(&body).await, 413, "payload_too_large");
    // Not JSON, but too large is what the server says first.
    let answer = app.post_raw(vec![b'x'; 4 * max], JSON).await;
    rejected(&answer, 413, "payload_too_large");
    // Just under the limit is read (and then judged on its content).
    let padding = max - request("big").to_string().len() - 32;
    let mut body = request("big");
    body["metadata"] = json!("m".repeat(padding));
    let (status, answer) = app.post_json(&body).await;
    assert_eq!(status, 200, "{answer}");
    still_serves(&app, "after").await;
}

#[tokio::test]
async fn deeply_nested_json_is_a_4xx_not_a_crash() {
    let app = spawn_app().await;
    let depth = 10_000;
    let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let objects = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
    let in_metadata =
        format!(r#"{{"session_id": "s", "message_id": "m", "text": "hi", "metadata": {arrays}}}"#);
    let unclosed = "[".repeat(depth);
    for body in [arrays.clone(), objects, in_metadata, unclosed] {
        let (status, answer) = app.post_raw(body, JSON).await;
        assert!((400..500).contains(&status), "status {status}: {answer}");
        let code = answer["error"]["code"].as_str().unwrap_or_default();
        assert!(
            codes_for(status).is_some_and(|codes| codes.contains(&code)),
            "status {status} with {answer}"
        );
    }
    still_serves(&app, "after").await;
}

#[tokio::test]
async fn malformed_ids_are_422_naming_the_field() {
    let app = spawn_app().await;
    let too_long = "s".repeat(129);
    for bad in [
        "",
        "a b",
        "é",
        "a/b",
        "<script>",
        "a\nb",
        "a\u{0}b",
        too_long.as_str(),
    ] {
        let mut body = request("s");
        body["session_id"] = json!(bad);
        let message = rejected(&app.post_json(&body).await, 422, "invalid_request");
        assert!(message.contains("session_id"), "{bad:?}: {message}");
        let mut body = request("s");
        body["message_id"] = json!(bad);
        let message = rejected(&app.post_json(&body).await, 422, "invalid_request");
        assert!(message.contains("message_id"), "{bad:?}: {message}");
    }
    for bad in ["../etc", "a b", "", &"d".repeat(65)] {
        let mut body = request("s");
        body["dialog"] = json!(bad);
        let message = rejected(&app.post_json(&body).await, 422, "invalid_request");
        assert!(message.contains("dialog"), "{bad:?}: {message}");
    }
    // The longest id, and every allowed character, are fine.
    let mut body = request(&"s".repeat(128));
    body["message_id"] = json!("Az09-_.:@");
    let (status, answer) = app.post_json(&body).await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn an_unknown_dialog_is_404_unknown_dialog() {
    let app = spawn_app().await;
    let mut body = request("new");
    body["dialog"] = json!("no_such_dialog");
    let message = rejected(&app.post_json(&body).await, 404, "unknown_dialog");
    assert!(message.contains("no_such_dialog"), "{message}");
    // Nothing was created: the session starts the named dialog once it exists.
    body["dialog"] = json!("otp_authentication");
    let (status, answer) = app.post_json(&body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["node"], "ask_email");
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_answer_json() {
    let app = spawn_app().await;
    for (method, path) in [
        (reqwest::Method::GET, "/"),
        (reqwest::Method::GET, "/nope"),
        (reqwest::Method::POST, "/v1/webhooks"),
        (reqwest::Method::POST, "/v1/webhook/extra"),
        (reqwest::Method::GET, "/v2/webhook"),
    ] {
        let answer = get(&app, method.clone(), path).await;
        rejected(&answer, 404, "not_found");
    }
    for (method, path) in [
        (reqwest::Method::GET, "/v1/webhook"),
        (reqwest::Method::PUT, "/v1/webhook"),
        (reqwest::Method::DELETE, "/v1/webhook"),
        (reqwest::Method::PATCH, "/v1/webhook"),
        (reqwest::Method::POST, "/healthz"),
        (reqwest::Method::POST, "/v1/dialogs"),
    ] {
        let answer = get(&app, method.clone(), path).await;
        rejected(&answer, 405, "method_not_allowed");
    }
}

// ---------------------------------------------------------------------------------------------
// The barrage

/// A JSON value of any shape.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,20}".prop_map(Value::String),
        ".{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{0,10}", inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Requests that are nearly right: the real fields, with arbitrary or slightly wrong values.
fn near_request() -> impl Strategy<Value = Value> {
    let id = prop_oneof![
        4 => "[a-zA-Z0-9_.:@-]{1,20}",
        1 => "\\PC{0,20}",
        1 => Just(String::new()),
    ];
    let text = prop_oneof![
        4 => "\\PC{0,60}",
        1 => "(?s).{0,60}",
        1 => "[0-9 -]{4,6}",
        1 => "[a-z]{1,8}@(example\\.com|bounce\\.test)",
        1 => Just("x".repeat(2001)),
    ];
    let dialog = prop_oneof![
        Just(None),
        Just(Some(json!("otp_authentication"))),
        Just(Some(json!("nope"))),
        "\\PC{0,10}".prop_map(|d| Some(json!(d))),
        any_json().prop_map(Some),
    ];
    let extra = prop::option::weighted(0.2, ("[a-zA-Z_]{1,10}", any_json()));
    (
        id.clone(),
        id,
        text,
        dialog,
        prop::option::of(any_json()),
        extra,
    )
        .prop_map(|(session, message, text, dialog, metadata, extra)| {
            let mut body = json!({ "session_id": session, "message_id": message, "text": text });
            if let Some(dialog) = dialog {
                body["dialog"] = dialog;
            }
            if let Some(metadata) = metadata {
                body["metadata"] = metadata;
            }
            if let Some((key, value)) = extra {
                body[key.as_str()] = value;
            }
            body
        })
}

#[derive(Debug, Clone)]
enum Attack {
    Bytes(Vec<u8>, Option<&'static str>),
    Json(Value),
}

fn attack() -> impl Strategy<Value = Attack> {
    let content_type = prop_oneof![
        6 => Just(Some("application/json")),
        1 => Just(None),
        1 => Just(Some("text/plain")),
        1 => Just(Some("application/json; charset=latin1")),
    ];
    // Well-formed requests with arbitrary text reach the engine and the machine.
    let valid = ("[a-z]{1,6}", "\\PC{0,80}").prop_map(|(session, text)| {
        Attack::Json(json!({ "session_id": session, "message_id": "m", "text": text }))
    });
    prop_oneof![
        2 => (prop::collection::vec(any::<u8>(), 0..512), content_type)
            .prop_map(|(bytes, ct)| Attack::Bytes(bytes, ct)),
        2 => any_json().prop_map(Attack::Json),
        3 => near_request().prop_map(Attack::Json),
        2 => valid,
    ]
}

async fn send(app: &TestApp, attack: &Attack) -> (u16, Value) {
    match attack {
        Attack::Bytes(bytes, content_type) => app.post_raw(bytes.clone(), *content_type).await,
        Attack::Json(value) => app.post_json(value).await,
    }
}

#[test]
fn arbitrary_requests_never_get_a_5xx() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let app = runtime.block_on(spawn_app());
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let (served, refused) = (Cell::new(0_usize), Cell::new(0_usize));
    let result = runner.run(&attack(), |attack| {
        let (status, body) = runtime.block_on(send(&app, &attack));
        match status {
            200 => {
                let reply: colloquy::http::dto::WebhookResponse =
                    serde_json::from_value(body.clone()).map_err(|error| {
                        TestCaseError::fail(format!("a 200 that is not a reply ({error}): {body}"))
                    })?;
                prop_assert!(!reply.replies.is_empty(), "a 200 without replies: {}", body);
                served.set(served.get() + 1);
            }
            400..=499 => {
                let code = body["error"]["code"].as_str().unwrap_or_default();
                prop_assert!(
                    codes_for(status).is_some_and(|codes| codes.contains(&code)),
                    "status {} with {}",
                    status,
                    body
                );
                prop_assert!(body["error"]["message"].is_string(), "{}", body);
                refused.set(refused.get() + 1);
            }
            _ => prop_assert!(false, "status {} for {:?}: {}", status, attack, body),
        }
        Ok(())
    });
    if let Err(error) = result {
        panic!("{error}");
    }
    // The barrage reached both the engine and the rejections.
    assert!(
        served.get() > 0 && refused.get() > 0,
        "{} served, {} refused",
        served.get(),
        refused.get()
    );
    runtime.block_on(still_serves(&app, "after-barrage"));
}

/// Posts `body` with chunked transfer encoding (no `Content-Length` for the server to check
/// up front) over a raw connection; returns the status and the JSON of the answer.
async fn post_chunked(app: &TestApp, body: &[u8]) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    let mut request = format!(
        "POST /v1/webhook HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        app.addr
    )
    .into_bytes();
    for chunk in body.chunks(1024) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    // The server may answer (and stop reading) before the whole body is written.
    let _ = stream.write_all(&request).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("an HTTP answer: {answer:?}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body)
        .unwrap_or_default();
    // The answer itself may be chunked: take the JSON object out of it.
    let json = body
        .find('{')
        .zip(body.rfind('}'))
        .and_then(|(start, end)| serde_json::from_str(&body[start..=end]).ok())
        .unwrap_or(Value::Null);
    (status, json)
}

#[tokio::test]
async fn a_chunked_body_over_max_body_bytes_is_413() {
    let app = spawn_app().await;
    let max = app.app.config.server.max_body_bytes;
    let mut body = request("chunked");
    body["text"] = json!("a".repeat(max));
    let answer = post_chunked(&app, body.to_string().as_bytes()).await;
    rejected(&answer, 413, "payload_too_large");
    // A small chunked body is read like any other.
    let (status, answer) = post_chunked(&app, request("chunked").to_string().as_bytes()).await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn a_path_that_is_not_utf8_gets_a_json_error() {
    let app = crate::helpers::spawn_app().await;
    for path in ["/v1/sessions/%FF", "/v1/sessions/a%C3%28b"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 400, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "{path}"
        );
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_path", "{path}: {body}");
    }
}

#[tokio::test]
async fn a_413_tells_the_client_the_connection_closes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app().await;
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    // Announced far over the limit: the server answers before reading it all.
    let head = "POST /v1/webhook HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
                Content-Length: 2000000\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let _ = stream.write_all(&vec![b' '; 64 * 1024]).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await;
    let answer = String::from_utf8_lossy(&answer).to_lowercase();
    assert!(answer.starts_with("http/1.1 413"), "{answer}");
    assert!(
        answer.contains("connection: close"),
        "the client is told not to send another request on it: {answer}"
    );
}
