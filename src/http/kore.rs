//! The Kore.ai Webhook v2 shape (`POST /chatbot/v2/webhook/{botId}`) beside the native route,
//! so widgets and test connectors built for Kore work unchanged.
//!
//! In: `message.type`/`val`, `from.id`, `session.new`, JWT (HS256/HS512) in
//! `Authorization: bearer …` with `appId` naming a configured app (and, when present,
//! `userIdentity` equal to `from.id`). Out: `data[]` of `{type, val, createdOn, messageId}`,
//! `_v: "v2"`, `endOfTask`, `endReason` (`Fulfilled`, `Cancelled`, `Interrupted`),
//! `completedTaskId`/`Name`. Errors: `{errors: [{msg, code}], _v, _t}`. Events:
//! `ON_CONNECT` starts the dialog, `SESSION_CLOSURE` ends the session.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::config::KoreConfig;
use crate::engine::{EngineError, TurnReply, TurnRequest};

use super::AppState;
use super::extract::ApiJson;

/// A Kore v2 request. Unknown fields are accepted: Kore clients send many we do not use.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KoreRequest {
    #[serde(default)]
    session: Option<KoreSession>,
    message: KoreMessage,
    from: KoreFrom,
    /// The language the user speaks (`fr`, `pt-BR`), kept by the session from then on.
    #[serde(default)]
    interactive_language: Option<String>,
}

#[derive(Debug, Deserialize)]
struct KoreSession {
    #[serde(default)]
    new: bool,
}

#[derive(Debug, Deserialize)]
struct KoreMessage {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    val: Value,
}

#[derive(Debug, Deserialize)]
struct KoreFrom {
    id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Claims {
    app_id: String,
    #[serde(default)]
    user_identity: Option<String>,
    #[serde(default)]
    exp: Option<i64>,
}

/// A Kore-shaped error.
#[derive(Debug)]
pub struct KoreError {
    status: StatusCode,
    msg: &'static str,
}

impl KoreError {
    fn new(status: StatusCode, msg: &'static str) -> Self {
        Self { status, msg }
    }
}

impl IntoResponse for KoreError {
    fn into_response(self) -> Response {
        let body = json!({ "errors": [{ "msg": self.msg, "code": self.status.as_u16() }], "_v": "v2", "_t": trace_id() });
        let mut response = (self.status, Json(body)).into_response();
        let code = match self.status.as_u16() {
            400 => "kore_invalid_request",
            401 => "kore_unauthorized",
            404 => "kore_unknown_bot",
            429 => "kore_rate_limited",
            504 => "kore_timeout",
            _ => "kore_unavailable",
        };
        response
            .extensions_mut()
            .insert(super::error::ErrorCode(code));
        response
    }
}

fn trace_id() -> String {
    let bytes: [u8; 8] = rand::random();
    crate::hex::encode(&bytes)
}

/// Checks the bearer JWT against every configured app; returns the app id.
fn authenticate(
    config: &KoreConfig,
    headers: &HeaderMap,
    from_id: &str,
    now: i64,
) -> Result<String, KoreError> {
    let unauthorized = || KoreError::new(StatusCode::UNAUTHORIZED, "Invalid Access token");
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(unauthorized)?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.algorithms = vec![Algorithm::HS256, Algorithm::HS512];
    // Expiry is checked below against the clock clients sign with; audiences vary by deployment.
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    for client in &config.clients {
        let key = DecodingKey::from_secret(
            secrecy::ExposeSecret::expose_secret(client.secret.expose()).as_bytes(),
        );
        let Ok(data) = jsonwebtoken::decode::<Claims>(token, &key, &validation) else {
            continue;
        };
        let claims = data.claims;
        if claims.app_id != client.app_id || claims.exp.is_some_and(|exp| exp < now) {
            return Err(unauthorized());
        }
        if claims
            .user_identity
            .as_deref()
            .is_some_and(|identity| identity != from_id)
        {
            return Err(unauthorized());
        }
        return Ok(client.app_id.clone());
    }
    Err(unauthorized())
}

/// Our session id for a Kore user of a bot; hashed when the ids hold characters ours refuse.
fn session_id(bot: &str, user: &str) -> String {
    let plain = format!("kore:{bot}:{user}");
    let safe = plain.len() <= 128
        && plain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:@".contains(c));
    if safe {
        return plain;
    }
    let digest = Sha256::digest(plain.as_bytes());
    format!("kore:{}", crate::hex::encode(&digest[..16]))
}

/// `POST /chatbot/v2/webhook/{botId}`.
pub async fn webhook(
    State(state): State<Arc<AppState>>,
    Path(bot): Path<String>,
    headers: HeaderMap,
    request: Result<ApiJson<KoreRequest>, super::ApiError>,
) -> Result<Json<Value>, KoreError> {
    let config = &state.app.config;
    let engine = &state.app.engine;
    let invalid = || KoreError::new(StatusCode::BAD_REQUEST, "Invalid Request Payload");
    let ApiJson(request) = request.map_err(|_| invalid())?;
    if let Some(language) = &request.interactive_language
        && !crate::dialog::locale::is_locale(language)
    {
        return Err(invalid());
    }
    let now = state.client_clock.now().timestamp();
    let app = authenticate(&config.kore, &headers, &request.from.id, now)?;
    let dialog = config.kore.bots.get(&bot).cloned();
    if !config.kore.bots.is_empty() && dialog.is_none() {
        return Err(KoreError::new(StatusCode::NOT_FOUND, "Unknown bot"));
    }
    let session = session_id(&bot, &request.from.id);
    let text = match (request.message.kind.as_str(), &request.message.val) {
        ("text", Value::String(text)) if text.chars().count() <= config.server.max_text_chars => {
            text.clone()
        }
        ("event", Value::String(event)) if event == "SESSION_CLOSURE" => {
            let closed = engine.end_session(&session).await.map_err(engine_error)?;
            let status = if closed {
                "SESSION_CLOSURE_SUCCESS"
            } else {
                "SESSION_CLOSURE_IGNORED"
            };
            return Ok(Json(json!({ "status": status, "_v": "v2" })));
        }
        ("event", Value::String(event)) if event == "ON_CONNECT" => String::new(),
        _ => return Err(invalid()),
    };
    let new_session = request.session.is_some_and(|s| s.new) || request.message.kind == "event";
    if new_session {
        engine.end_session(&session).await.map_err(engine_error)?;
    }
    tracing::debug!(app, bot, "kore webhook turn");
    // Kore sends no message id, so a Kore retry runs as a new message.
    let turn = TurnRequest {
        session_id: session,
        message_id: format!("kore-{}", trace_id()),
        text,
        dialog,
        locale: request.interactive_language,
    };
    let engine = engine.clone();
    let task = tokio::spawn(async move { engine.turn(turn).await });
    match tokio::time::timeout(config.server.request_timeout, task).await {
        Ok(Ok(Ok(reply))) => Ok(Json(to_kore(&state, &reply))),
        Ok(Ok(Err(error))) => Err(engine_error(error)),
        Ok(Err(_panicked)) => Err(KoreError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal error",
        )),
        Err(_) => Err(KoreError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "Request timed-out",
        )),
    }
}

fn engine_error(error: EngineError) -> KoreError {
    match error {
        EngineError::UnknownDialog(_) => KoreError::new(StatusCode::NOT_FOUND, "Unknown bot"),
        EngineError::SessionBusy => {
            KoreError::new(StatusCode::TOO_MANY_REQUESTS, "Too Many requests")
        }
        other => {
            tracing::warn!(error = %other, "kore webhook turn failed");
            KoreError::new(StatusCode::SERVICE_UNAVAILABLE, "Service unavailable")
        }
    }
}

fn to_kore(state: &AppState, reply: &TurnReply) -> Value {
    let created = state.app.engine.clock().now().to_rfc3339();
    // Kore's text messages carry no buttons: the options are listed in the text.
    let data: Vec<Value> = reply
        .texts_with_options()
        .iter()
        .enumerate()
        .map(|(i, text)| json!({ "type": "text", "val": text, "createdOn": created, "messageId": format!("ms-{}-{}-{i}", reply.session_id, reply.turn) }))
        .collect();
    let mut body = json!({ "data": data, "_v": "v2", "endOfTask": reply.result.is_some() });
    if let Some(result) = &reply.result {
        let reason = match result.as_str() {
            "cancelled" => "Cancelled",
            "error" | "abandoned" | "locked" | "no_email" | "send_limited" => "Interrupted",
            _ => "Fulfilled",
        };
        let title = state
            .app
            .engine
            .dialogs()
            .latest(&reply.dialog)
            .and_then(|d| d.title.clone())
            .unwrap_or_else(|| reply.dialog.clone());
        body["endReason"] = json!(reason);
        body["completedTaskId"] = json!(reply.dialog);
        body["completedTaskName"] = json!(title);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_safe() {
        assert_eq!(session_id("bot1", "user-1"), "kore:bot1:user-1");
        let hashed = session_id("bot1", "user with spaces/and slashes");
        assert!(
            hashed.starts_with("kore:") && hashed.len() == 37,
            "{hashed}"
        );
    }
}
