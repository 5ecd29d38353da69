//! The one error type of the HTTP API. Every rejection is JSON
//! `{"error": {"code": "...", "message": "..."}}` with a stable snake_case code; the status is
//! chosen in one match. Internal details are logged, never returned.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::engine::EngineError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// The body is not JSON (or not UTF-8).
    InvalidJson(String),
    /// JSON, but a field is missing, unknown, of the wrong type or out of range.
    InvalidRequest(String),
    UnsupportedMediaType,
    PayloadTooLarge,
    UnknownDialog(String),
    NotFound,
    MethodNotAllowed,
    /// The session changed under this turn (another instance, or a version gone).
    Conflict(String),
    /// The same message id came with a different text.
    MessageIdReused(String),
    /// A dependency (the session store) is down.
    Unavailable,
    /// The turn did not finish in time; it keeps running and its result is saved.
    Timeout,
    Internal,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Detail<'a>,
}

#[derive(Serialize)]
struct Detail<'a> {
    code: &'a str,
    message: String,
}

impl ApiError {
    pub fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            ApiError::InvalidJson(detail) => (StatusCode::BAD_REQUEST, "invalid_json", format!("the body is not valid JSON: {detail}")),
            ApiError::InvalidRequest(detail) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", detail.clone()),
            ApiError::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "send the body as `Content-Type: application/json`".to_owned())
            }
            ApiError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the body is larger than this server accepts".to_owned()),
            ApiError::UnknownDialog(id) => (StatusCode::NOT_FOUND, "unknown_dialog", format!("no dialog `{id}` is loaded")),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found", "no such endpoint".to_owned()),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this endpoint does not accept that method".to_owned()),
            ApiError::Conflict(detail) => (StatusCode::CONFLICT, "conflict", detail.clone()),
            ApiError::MessageIdReused(detail) => (StatusCode::CONFLICT, "message_id_reused", detail.clone()),
            ApiError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the session store is unavailable; try again shortly".to_owned()),
            ApiError::Timeout => (
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                "the turn took too long to answer; it will still complete, and retrying with the same message_id is safe".to_owned(),
            ),
            ApiError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal", "something went wrong on our side".to_owned()),
        }
    }
}

/// The error code of a response, for the metrics middleware.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.parts();
        let mut response = (
            status,
            Json(Body {
                error: Detail { code, message },
            }),
        )
            .into_response();
        response.extensions_mut().insert(ErrorCode(code));
        response
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> Self {
        match error {
            EngineError::UnknownDialog(id) => ApiError::UnknownDialog(id),
            EngineError::DialogVersionGone { .. } | EngineError::Conflict => {
                ApiError::Conflict(error.to_string())
            }
            EngineError::MessageIdReused(_) => ApiError::MessageIdReused(error.to_string()),
            EngineError::StoreUnavailable(reason) => {
                tracing::error!(reason, "session store unavailable");
                ApiError::Unavailable
            }
        }
    }
}
