//! Connection-level limits against slow and silent clients: sockets that send nothing, headers
//! or a body that trickle in, idle keep-alive connections, and more connections than the
//! server holds. Each test uses timeouts of a fraction of a second and waits for the server's
//! own action (a closed socket, an answer), bounded, never a fixed sleep.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, spawn_app_with, test_config};

/// Longer than any limit under test: a test that has to wait this long has failed.
const BOUND: Duration = Duration::from_secs(10);

async fn app_with_limits(max_connections: usize) -> TestApp {
    let mut config = test_config();
    config.server.header_read_timeout = Duration::from_millis(300);
    config.server.body_read_timeout = Duration::from_millis(300);
    config.server.idle_timeout = Duration::from_millis(400);
    config.server.max_connections = max_connections;
    spawn_app_with(config).await
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.addr).await.expect("connect")
}

/// Reads until the server closes the connection; what arrived before that.
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    tokio::time::timeout(BOUND, stream.read_to_end(&mut received))
        .await
        .expect("the server closes the connection in time")
        .expect("reading the socket");
    String::from_utf8_lossy(&received).into_owned()
}

/// Reads one answer: status and JSON body (by `content-length`).
async fn read_answer(stream: &mut (impl AsyncRead + Unpin)) -> (u16, Value) {
    let mut received = Vec::new();
    let mut chunk = [0_u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .expect("a content-length");
            if body.len() >= length {
                let status = head[9..12].parse().expect("a status code");
                return (
                    status,
                    serde_json::from_str(&body[..length]).unwrap_or(Value::Null),
                );
            }
        }
        let read = tokio::time::timeout(BOUND, stream.read(&mut chunk))
            .await
            .expect("an answer in time")
            .expect("reading the socket");
        assert!(read > 0, "closed before a whole answer: {text:?}");
        received.extend_from_slice(&chunk[..read]);
    }
}

async fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + BOUND;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn webhook_request(body: &str) -> String {
    format!(
        "POST /v1/webhook HTTP/1.1\r\nhost: colloquy\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn silent_and_slow_sockets_are_closed_and_a_fresh_connection_is_answered() {
    let app = app_with_limits(6).await;
    let metrics = app.app.engine.metrics().clone();
    let mut silent = Vec::new();
    for _ in 0..2 {
        silent.push(connect(&app).await);
    }
    let mut slow_headers = Vec::new();
    for _ in 0..2 {
        let mut stream = connect(&app).await;
        stream
            .write_all(b"POST /v1/webhook HTTP/1.1\r\nhost: colloquy\r\n")
            .await
            .unwrap();
        slow_headers.push(stream);
    }
    let mut slow_bodies = Vec::new();
    for _ in 0..2 {
        let mut stream = connect(&app).await;
        let request = webhook_request(r#"{"session_id":"slow","message_id":"m1","text":"hi"}"#);
        // Everything but the body's last byte.
        stream
            .write_all(&request.as_bytes()[..request.len() - 1])
            .await
            .unwrap();
        slow_bodies.push(stream);
    }
    wait_until("six connections are open", || {
        metrics.connections_open.load(Ordering::Relaxed) == 6
    })
    .await;

    // At the cap, a seventh connection is answered at once, not left hanging.
    let mut extra = connect(&app).await;
    let (status, body) = read_answer(&mut extra).await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "too_many_connections", "{body}");
    assert_eq!(metrics.connections_refused.load(Ordering::Relaxed), 1);

    for mut stream in silent.into_iter().chain(slow_headers) {
        let before_close = read_to_close(&mut stream).await;
        assert_eq!(before_close, "", "closed without an answer");
    }
    for mut stream in slow_bodies {
        let (status, body) = read_answer(&mut stream).await;
        assert_eq!(status, 408);
        assert_eq!(body["error"]["code"], "body_timeout", "{body}");
        read_to_close(&mut stream).await;
    }
    assert_eq!(
        metrics
            .connections_closed
            .get(&[("reason", "header_timeout")]),
        4
    );

    // With the slow clients gone, a new client is served as usual.
    let reply = app.say("after", "hi").await;
    assert_eq!(reply.node, "ask_email");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_but_not_while_its_request_runs() {
    let mut config = test_config();
    config.server.header_read_timeout = Duration::from_millis(200);
    config.server.idle_timeout = Duration::from_millis(300);
    // The email takes longer than both timeouts: the request must still be answered.
    config.email.outbox.delay = Duration::from_millis(700);
    let app = spawn_app_with(config).await;
    let metrics = app.app.engine.metrics().clone();
    let mut stream = connect(&app).await;
    for (id, text) in [("m1", "hi"), ("m2", "ada@example.com")] {
        let body = format!(r#"{{"session_id":"idle","message_id":"{id}","text":"{text}"}}"#);
        stream
            .write_all(webhook_request(&body).as_bytes())
            .await
            .unwrap();
        let (status, answer) = read_answer(&mut stream).await;
        assert_eq!(status, 200, "{answer}");
    }
    assert_eq!(app.emails_to("ada@example.com"), 1);
    assert_eq!(read_to_close(&mut stream).await, "");
    assert_eq!(
        metrics
            .connections_closed
            .get(&[("reason", "idle_timeout")]),
        1
    );
}

#[tokio::test]
async fn a_request_dripped_byte_by_byte_gets_a_timeout_answer() {
    let app = app_with_limits(16).await;
    let mut stream = connect(&app).await;
    let request = webhook_request(r#"{"session_id":"drip","message_id":"m1","text":"hi"}"#);
    let (head, body) = request.split_once("\r\n\r\n").unwrap();
    stream
        .write_all(format!("{head}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    // A byte every 50 ms never pauses long, but the whole body takes longer than allowed.
    // The answer is read while dripping, so it is not lost to a reset when the server closes.
    let (mut reader, mut writer) = stream.split();
    let drip = async {
        for byte in body.bytes() {
            if writer.write_all(&[byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        std::future::pending::<()>().await;
    };
    let (status, body) = tokio::select! {
        answer = read_answer(&mut reader) => answer,
        () = drip => unreachable!(),
    };
    assert_eq!(status, 408);
    assert_eq!(body["error"]["code"], "body_timeout", "{body}");
}

#[tokio::test]
async fn connection_metrics_are_exposed() {
    let app = app_with_limits(16).await;
    let text = app.get_text("/metrics").await;
    assert!(text.contains("colloquy_connections 1\n"), "{text}");
    assert!(
        text.contains("colloquy_connections_refused_total 0\n"),
        "{text}"
    );
}
