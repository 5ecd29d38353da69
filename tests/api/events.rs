//! A session's events as Server-Sent Events (`GET /v1/sessions/{id}/events`): turns reach an
//! open stream, a reconnect with `Last-Event-ID` misses nothing, a reader too far behind is
//! told, and streams end when the server shuts down.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_app_with, test_config};

/// One event as the stream sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: String,
    pub data: Value,
}

/// A client of one event stream, reading it as a browser's `EventSource` would.
pub struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

impl EventStream {
    pub async fn open(app: &TestApp, session: &str, last_event_id: Option<&str>) -> Self {
        let (status, stream) = Self::try_open(app, session, last_event_id).await;
        assert_eq!(status, 200, "the stream of {session} did not open");
        stream.expect("a stream")
    }

    pub async fn try_open(
        app: &TestApp,
        session: &str,
        last_event_id: Option<&str>,
    ) -> (u16, Option<Self>) {
        let mut request = app
            .client
            .get(app.url(&format!("/v1/sessions/{session}/events")))
            .header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        if status != 200 {
            return (status, None);
        }
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        (
            status,
            Some(Self {
                response,
                buffer: String::new(),
            }),
        )
    }

    /// The next event (comments skipped); `None` when the server ended the stream.
    pub async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse(&block) {
                    return Some(event);
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.response.chunk())
                .await
                .expect("an event within 10 s")
                .expect("the stream reads");
            match chunk {
                Some(bytes) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                None => return None,
            }
        }
    }

    /// Asserts that nothing but keep-alive comments comes for `wait`.
    pub async fn expect_quiet(&mut self, wait: Duration) {
        if let Ok(event) = tokio::time::timeout(wait, self.next()).await {
            panic!("expected nothing, got {event:?}");
        }
    }
}

fn parse(block: &str) -> Option<SseEvent> {
    let (mut id, mut event, mut data) = (None, String::from("message"), String::new());
    for line in block.lines() {
        if let Some(value) = line.strip_prefix("id:") {
            id = Some(value.trim().to_owned());
        } else if let Some(value) = line.strip_prefix("event:") {
            value.trim().clone_into(&mut event);
        } else if let Some(value) = line.strip_prefix("data:") {
            data.push_str(value.trim_start());
        }
    }
    if data.is_empty() {
        return None; // a comment (keep-alive)
    }
    Some(SseEvent {
        id,
        event,
        data: serde_json::from_str(&data).expect("event data is JSON"),
    })
}

async fn post(app: &TestApp, session: &str, id: &str, text: &str) -> Value {
    let (status, answer) = app
        .post_json(&json!({ "session_id": session, "message_id": id, "text": text }))
        .await;
    assert_eq!(status, 200, "{text:?}: {answer}");
    answer
}

#[tokio::test]
async fn a_turn_reaches_the_open_stream_as_the_webhook_answered_it() {
    let app = spawn_app().await;
    post(&app, "s", "m1", "hi").await;
    let mut stream = EventStream::open(&app, "s", None).await;
    let answer = post(&app, "s", "m2", "alice@example.com").await;
    let event = stream.next().await.expect("an event");
    assert_eq!(event.event, "turn");
    assert_eq!(event.data, answer, "the same JSON as the webhook's answer");
    assert!(event.id.is_some_and(|id| id.parse::<u64>().is_ok()));
    // A retried message is answered again but is no new event.
    post(&app, "s", "m2", "alice@example.com").await;
    stream.expect_quiet(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_reconnect_with_the_last_event_id_misses_nothing() {
    let app = spawn_app().await;
    post(&app, "s", "m1", "hi").await;
    let mut stream = EventStream::open(&app, "s", None).await;
    post(&app, "s", "m2", "alice@example.com").await;
    let first = stream.next().await.expect("an event");
    // The connection dies mid-stream; two turns happen before the client is back.
    drop(stream);
    let code = app.last_code("alice@example.com").await;
    let wrong_code = if code == "0000" { "1111" } else { "0000" };
    let wrong = post(&app, "s", "m3", wrong_code).await;
    let right = post(&app, "s", "m4", &code).await;
    let mut again = EventStream::open(&app, "s", first.id.as_deref()).await;
    let missed_one = again.next().await.expect("the first missed turn");
    let missed_two = again.next().await.expect("the second");
    assert_eq!(missed_one.data, wrong);
    assert_eq!(missed_two.data, right);
    assert_eq!(right["result"], "authenticated");
    let ids: Vec<u64> = [&first, &missed_one, &missed_two]
        .iter()
        .map(|e| e.id.as_deref().unwrap().parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids grow: {ids:?}");
    again.expect_quiet(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_reader_further_behind_than_the_buffer_hears_it_missed_some() {
    let mut config = test_config();
    config.sessions.events.buffer = 2;
    let app = spawn_app_with(config).await;
    post(&app, "s", "m1", "hi").await;
    let mut stream = EventStream::open(&app, "s", None).await;
    post(&app, "s", "m2", "what?").await;
    let first = stream.next().await.unwrap();
    drop(stream);
    for (i, text) in ["still what?", "hmm", "no idea"].iter().enumerate() {
        post(&app, "s", &format!("n{i}"), text).await;
    }
    let mut again = EventStream::open(&app, "s", first.id.as_deref()).await;
    assert_eq!(again.next().await.unwrap().event, "missed");
    assert_eq!(again.next().await.unwrap().event, "turn");
    assert_eq!(again.next().await.unwrap().event, "turn");
}

#[tokio::test]
async fn streams_refuse_what_they_cannot_serve() {
    let mut config = test_config();
    config.sessions.events.max_streams = 1;
    let app = spawn_app_with(config).await;
    let (status, _) = EventStream::try_open(&app, "nobody", None).await;
    assert_eq!(status, 404);
    post(&app, "s", "m1", "hi").await;
    let response = app
        .client
        .get(app.url("/v1/sessions/s/events"))
        .header("last-event-id", "yesterday")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_header");
    let _open = EventStream::open(&app, "s", None).await;
    let response = app
        .client
        .get(app.url("/v1/sessions/s/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_streams");
}

#[tokio::test]
async fn streams_end_when_the_server_shuts_down() {
    let app = spawn_app().await;
    post(&app, "s", "m1", "hi").await;
    let mut stream = EventStream::open(&app, "s", None).await;
    app.state.start_draining();
    assert_eq!(stream.next().await, None, "the stream ended");
}

#[tokio::test]
async fn an_ended_and_deleted_session_has_no_stream() {
    let app = spawn_app().await;
    post(&app, "s", "m1", "hi").await;
    let status = app
        .client
        .delete(app.url("/v1/sessions/s"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 204);
    let (status, _) = EventStream::try_open(&app, "s", None).await;
    assert_eq!(status, 404);
}
