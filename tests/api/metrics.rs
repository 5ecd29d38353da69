//! `GET /metrics` counts what happened, in Prometheus text.

use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn metrics_count_turns_emails_outcomes_and_errors() {
    let app = spawn_app().await;
    app.say("s", "hi").await;
    app.say("s", "alice@example.com").await;
    let code = app.last_code("alice@example.com").await;
    app.say("s", &code).await;
    app.say("f", "hi").await;
    app.say("f", "x@bounce.test").await;
    app.post_json(&json!({ "session_id": "s", "message_id": "dup", "text": "hi" }))
        .await;
    app.post_json(&json!({ "session_id": "s", "message_id": "dup", "text": "hi" }))
        .await;
    app.post_raw("{", Some("application/json")).await;
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    for line in [
        "colloquy_turns_total 6\n",
        "colloquy_duplicate_deliveries_total 1\n",
        "colloquy_emails_total{sender=\"outbox\",outcome=\"sent\"} 1\n",
        "colloquy_emails_total{sender=\"outbox\",outcome=\"failed\"} 1\n",
        "colloquy_otp_sends_total{outcome=\"sent\"} 1\n",
        "colloquy_otp_sends_total{outcome=\"failed\"} 1\n",
        "colloquy_otp_verifications_total{outcome=\"valid\"} 1\n",
        "colloquy_http_errors_total{code=\"invalid_json\"} 1\n",
        "colloquy_turn_duration_seconds_count 6\n",
        "colloquy_sessions 2\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
}

#[tokio::test]
async fn conversations_are_counted_by_dialog_version_and_result() {
    let app = crate::helpers::spawn_app().await;
    app.say("a", "hi").await;
    app.say("a", "cancel").await;
    app.say("b", "hi").await;
    app.say("b", "a@example.com").await;
    let code = app.last_code("a@example.com").await;
    app.say("b", &code).await;
    // A message to an ended conversation starts another.
    app.say("a", "hello again").await;
    let text = app.get_text("/metrics").await;
    for line in [
        "colloquy_conversations_started_total{dialog=\"otp_authentication\",version=\"1\"} 3\n",
        "colloquy_conversations_ended_total{dialog=\"otp_authentication\",version=\"1\",result=\"authenticated\"} 1\n",
        "colloquy_conversations_ended_total{dialog=\"otp_authentication\",version=\"1\",result=\"cancelled\"} 1\n",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
}
