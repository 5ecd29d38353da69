//! The bare baseline: the same routes on the same axum and tokio, parsing the same request
//! JSON, answering fixed bytes of the engine's answer sizes. No engine, no store, no
//! middleware. The load driver runs the same conversations against it, so the ratio
//! engine / baseline says how much of the machine's HTTP capacity the engine keeps — the one
//! figure that survives a noisy machine.

use axum::Router;
use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde::Deserialize;

/// A webhook answer as the engine gives it after the email turn (about 300 bytes).
const TURN_ANSWER: &[u8] = br#"{"session_id":"bench01-12-3456","turn":2,"dialog":"otp_authentication","dialog_version":1,"replies":[{"type":"text","text":"I've emailed a 4-digit code to u12.3456.bench01@bench.test. It expires in 5 minutes. Enter it here, or type 'resend' for a new one, 'change email' to use another address, or 'cancel' to stop."}],"status":"waiting","node":"ask_code","ended":false,"expecting":"otp_code"}"#;

/// A mailbox answer with one email, as the dev outbox gives it.
const MAILBOX_ANSWER: &[u8] = br#"{"emails":[{"id":1,"to":"u12.3456.bench01@bench.test","subject":"Your verification code","text":"Your verification code is 0421.\n\nIt expires in 5 minutes. If you didn't ask for it, you can ignore this email.\n","html":"<p>Your verification code is <strong style=\"font-size:1.4em;letter-spacing:0.2em\">0421</strong>.</p>\n<p>It expires in 5 minutes. If you didn't ask for it, you can ignore this email.</p>\n","sent_at":"2030-01-01T00:00:00Z"}]}"#;

/// The webhook body, read exactly as the engine reads it (unknown fields refused).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // parsed, as the engine parses it, and not used
struct WebhookRequest {
    session_id: String,
    message_id: String,
    text: String,
    #[serde(default)]
    dialog: Option<String>,
    #[serde(default)]
    metadata: Option<serde_json::Value>,
}

async fn webhook(axum::Json(_request): axum::Json<WebhookRequest>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "application/json")],
        Bytes::from_static(TURN_ANSWER),
    )
}

async fn mailbox() -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "application/json")],
        Bytes::from_static(MAILBOX_ANSWER),
    )
}

/// The baseline's routes (`/healthz` says it is up).
#[allow(clippy::disallowed_methods)] // a bare axum server to compare with, not ours: no document
pub fn router() -> Router {
    Router::new()
        .route("/v1/webhook", post(webhook))
        .route("/v1/dev/outbox", get(mailbox))
        .route("/healthz", get(|| async { "ok" }))
}

/// Serves the baseline on `addr` until the process is stopped, on the runtime `colloquy
/// serve` uses (tokio's multi-threaded default: one worker per core).
pub fn serve(addr: &str) -> Result<(), String> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        axum::serve(listener, router())
            .await
            .map_err(|e| e.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_answers_are_json() {
        for answer in [TURN_ANSWER, MAILBOX_ANSWER] {
            assert!(serde_json::from_slice::<serde_json::Value>(answer).is_ok());
        }
    }
}
