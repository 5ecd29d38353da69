//! The one error type of the HTTP API. Every rejection is JSON
//! `{"error": {"code": "...", "message": "..."}}` with a stable snake_case code; the status is
//! chosen in one match. Internal details are logged, never returned.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::engine::{EngineError, NotIssued};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// The body is not JSON (or not UTF-8).
    InvalidJson(String),
    /// JSON, but a field is missing, unknown, of the wrong type or out of range.
    InvalidRequest(String),
    UnsupportedMediaType,
    /// A path segment is not valid UTF-8 or not of the expected form.
    InvalidPath(String),
    /// A header is not of the expected form (`Last-Event-ID`).
    InvalidHeader(String),
    /// Too many requests; try again after the delay.
    RateLimited {
        retry_after: std::time::Duration,
    },
    /// No valid credentials. Deliberately says nothing more.
    Unauthorized,
    PayloadTooLarge,
    /// The request's body did not arrive within `server.body_read_timeout`.
    BodyTimeout,
    /// The server holds `server.max_connections` open connections already.
    TooManyConnections,
    /// The server holds `sessions.events.max_streams` event streams open already.
    TooManyStreams,
    UnknownDialog(String),
    NotFound,
    UnknownSession,
    /// The session belongs to another client (or, for a widget, the session's token is
    /// missing or wrong).
    SessionForbidden,
    /// This credential may not use this route (a widget key outside talking and listening,
    /// an API client on an agent's route).
    Forbidden,
    /// An agent's message or handback for a session that is not with people.
    NotHandedOff,
    /// A handback to a node the session's dialog does not have.
    UnknownNode(String),
    /// The agents' tool did not take a user's message; a retry with the same message id is
    /// safe.
    AgentsUnavailable,
    MethodNotAllowed,
    /// The session changed under this turn (another instance, or a version gone).
    Conflict(String),
    /// The same message id came with a different text.
    MessageIdReused(String),
    /// Too many turns wait for this session, or it stayed busy too long.
    SessionBusy,
    /// The server is shutting down.
    ShuttingDown,
    /// `email` is not an email address (OTP API).
    InvalidEmail,
    /// A code went to this address for this purpose too recently (OTP API).
    OtpCooldown {
        retry_after: std::time::Duration,
    },
    /// The address's send cap is reached (OTP API).
    SendLimited {
        retry_after: std::time::Duration,
    },
    /// The email provider did not take the code's email (OTP API); nothing was stored.
    DeliveryFailed,
    /// The toll-fraud guard refuses to text this number (its country, a premium rate).
    SmsRefused(&'static str),
    /// The toll-fraud guard's hourly caps (`sms.guard`) are reached.
    SmsThrottled {
        retry_after: std::time::Duration,
    },
    /// A dependency (the session store) is down.
    Unavailable,
    /// The turn did not finish in time; it keeps running and its result is saved.
    Timeout,
    /// The session would grow past `sessions.max_session_bytes`: the turn is not saved.
    SessionTooLarge,
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

// Described here, written by `Body`.
/// Every error answer of the native API (and of the guard in front of the seed-shaped
/// routes): a stable code and a message.
#[derive(Debug, utoipa::ToSchema)]
#[schema(as = Error)]
#[allow(dead_code)] // described, not built: `Body` is written
pub struct ErrorBody {
    error: ErrorDetail,
}

/// What went wrong: a stable code to act on, and a message for people.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // described, not built
pub struct ErrorDetail {
    /// Stable and snake_case: clients may branch on it.
    #[schema(schema_with = code_schema)]
    code: String,
    /// For people; its wording may change.
    message: String,
}

/// Every `code` an [`ApiError`] answers with (a test holds it equal to [`ApiError::parts`]).
pub const CODES: &[&str] = &[
    "invalid_json",
    "invalid_request",
    "unsupported_media_type",
    "invalid_path",
    "rate_limited",
    "unauthorized",
    "payload_too_large",
    "body_timeout",
    "too_many_connections",
    "unknown_dialog",
    "not_found",
    "unknown_session",
    "method_not_allowed",
    "conflict",
    "message_id_reused",
    "session_busy",
    "shutting_down",
    "invalid_email",
    "otp_cooldown",
    "send_limited",
    "delivery_failed",
    "sms_refused",
    "sms_throttled",
    "unavailable",
    "timeout",
    "internal",
    "invalid_header",
    "too_many_streams",
    "session_forbidden",
    "forbidden",
    "not_handed_off",
    "unknown_node",
    "agents_unavailable",
    "session_too_large",
];

fn code_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(CODES.iter().copied()))
        .build()
}

impl ApiError {
    pub fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            ApiError::InvalidJson(detail) => (StatusCode::BAD_REQUEST, "invalid_json", format!("the body is not valid JSON: {detail}")),
            ApiError::InvalidRequest(detail) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", detail.clone()),
            ApiError::InvalidPath(detail) => (StatusCode::BAD_REQUEST, "invalid_path", format!("the path is not valid: {detail}")),
            ApiError::InvalidHeader(detail) => (StatusCode::BAD_REQUEST, "invalid_header", detail.clone()),
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited", "too many requests; slow down and retry after the time in Retry-After".to_owned()),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", "authentication required".to_owned()),
            ApiError::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "send the body as `Content-Type: application/json`".to_owned())
            }
            ApiError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the body is larger than this server accepts".to_owned()),
            ApiError::BodyTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                "the request body did not arrive in time; send it whole, without pauses".to_owned(),
            ),
            ApiError::TooManyConnections => (
                StatusCode::SERVICE_UNAVAILABLE,
                "too_many_connections",
                "this server has too many open connections; retry shortly".to_owned(),
            ),
            ApiError::TooManyStreams => (
                StatusCode::SERVICE_UNAVAILABLE,
                "too_many_streams",
                "this server has too many open event streams; retry shortly".to_owned(),
            ),
            ApiError::UnknownDialog(id) => (StatusCode::NOT_FOUND, "unknown_dialog", format!("no dialog `{id}` is loaded")),
            ApiError::UnknownSession => (StatusCode::NOT_FOUND, "unknown_session", "no such session (it may have expired)".to_owned()),
            ApiError::SessionForbidden => (
                StatusCode::FORBIDDEN,
                "session_forbidden",
                "this session belongs to another client; a widget's session needs the session_token its first answer gave".to_owned(),
            ),
            ApiError::Forbidden => (StatusCode::FORBIDDEN, "forbidden", "this credential may not use this endpoint".to_owned()),
            ApiError::NotHandedOff => (StatusCode::CONFLICT, "not_handed_off", "this conversation is not with people (no handoff node reached, or it was handed back)".to_owned()),
            ApiError::UnknownNode(node) => (StatusCode::UNPROCESSABLE_ENTITY, "unknown_node", format!("the session's dialog has no node `{node}`")),
            ApiError::AgentsUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "agents_unavailable",
                "the message could not be passed on to the people this conversation is with; retry with the same message_id".to_owned(),
            ),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found", "no such endpoint".to_owned()),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this endpoint does not accept that method".to_owned()),
            ApiError::Conflict(detail) => (StatusCode::CONFLICT, "conflict", detail.clone()),
            ApiError::MessageIdReused(detail) => (StatusCode::CONFLICT, "message_id_reused", detail.clone()),
            ApiError::SessionBusy => (
                StatusCode::SERVICE_UNAVAILABLE,
                "session_busy",
                "this session is busy with other messages; retry shortly with the same message_id".to_owned(),
            ),
            ApiError::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, "shutting_down", "this server is shutting down; retry on another".to_owned()),
            ApiError::InvalidEmail => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_email", "`email` is not a valid email address".to_owned()),
            ApiError::OtpCooldown { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "otp_cooldown",
                "a code was sent to this address for this purpose moments ago; retry after the time in Retry-After".to_owned(),
            ),
            ApiError::SendLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "send_limited",
                "too many codes were sent to this address; retry after the time in Retry-After".to_owned(),
            ),
            ApiError::DeliveryFailed => (StatusCode::BAD_GATEWAY, "delivery_failed", "the message could not be sent; no code was issued, and retrying is safe".to_owned()),
            ApiError::SmsRefused(why) => (StatusCode::UNPROCESSABLE_ENTITY, "sms_refused", format!("no text was sent: {why}")),
            ApiError::SmsThrottled { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "sms_throttled",
                "too many texts went to numbers like this one, or in all, in the last hour; retry after the time in Retry-After".to_owned(),
            ),
            ApiError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the session store is unavailable; try again shortly".to_owned()),
            ApiError::Timeout => (
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                "the turn took too long to answer; it will still complete, and retrying with the same message_id is safe".to_owned(),
            ),
            ApiError::SessionTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "session_too_large",
                "the conversation would hold more than a session may keep (sessions.max_session_bytes); nothing was saved".to_owned(),
            ),
            ApiError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal", "something went wrong on our side".to_owned()),
        }
    }
}

impl ApiError {
    /// The JSON body of this error's answer, for places that write a response by hand.
    pub fn json_text(&self) -> String {
        let (_, code, message) = self.parts();
        serde_json::to_string(&Body {
            error: Detail { code, message },
        })
        .unwrap_or_default()
    }

    /// The answer to this error in another envelope (a seed system's shape): the same status,
    /// headers (`Retry-After`) and metrics code, `body` instead of ours.
    pub fn respond_with(self, body: &serde_json::Value) -> Response {
        let mut response = self.into_response();
        *response.body_mut() = axum::body::Body::from(body.to_string());
        response
    }
}

/// The error code of a response, for the metrics middleware.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.parts();
        let retry_after = match self {
            ApiError::RateLimited { retry_after }
            | ApiError::OtpCooldown { retry_after }
            | ApiError::SendLimited { retry_after }
            | ApiError::SmsThrottled { retry_after } => Some(retry_after),
            ApiError::SessionBusy
            | ApiError::Timeout
            | ApiError::Unavailable
            | ApiError::ShuttingDown
            | ApiError::TooManyConnections
            | ApiError::AgentsUnavailable
            | ApiError::TooManyStreams => Some(std::time::Duration::from_secs(1)),
            _ => None,
        };
        let mut response = (
            status,
            Json(Body {
                error: Detail { code, message },
            }),
        )
            .into_response();
        response.extensions_mut().insert(ErrorCode(code));
        if let Some(retry_after) = retry_after {
            let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(seconds.max(1)),
            );
        }
        if matches!(self, ApiError::BodyTimeout | ApiError::PayloadTooLarge) {
            // The rest of the body may still be on its way (a body over the limit is not read
            // to its end): this connection cannot carry another request, and the client is
            // told so rather than finding the connection gone under its next one.
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

impl From<NotIssued> for ApiError {
    fn from(not_issued: NotIssued) -> Self {
        match not_issued {
            NotIssued::Cooldown(retry_after) => ApiError::OtpCooldown { retry_after },
            NotIssued::Limited(retry_after) => ApiError::SendLimited { retry_after },
            NotIssued::DeliveryFailed => ApiError::DeliveryFailed,
            NotIssued::Blocked(blocked) if blocked.reason.is_cap() => ApiError::SmsThrottled {
                retry_after: blocked
                    .retry_after
                    .unwrap_or(std::time::Duration::from_secs(3600)),
            },
            NotIssued::Blocked(blocked) => ApiError::SmsRefused(blocked.reason.describe()),
        }
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
            EngineError::SessionBusy => ApiError::SessionBusy,
            EngineError::NotYours => ApiError::SessionForbidden,
            EngineError::NotHandedOff => ApiError::NotHandedOff,
            EngineError::UnknownNode(node) => ApiError::UnknownNode(node),
            EngineError::AgentsUnavailable(reason) => {
                tracing::warn!(reason, "a message for people could not be passed on");
                ApiError::AgentsUnavailable
            }
            EngineError::StoreUnavailable(reason) => {
                tracing::error!(reason, "session store unavailable");
                ApiError::Unavailable
            }
            EngineError::SessionTooLarge(reason) => {
                tracing::warn!(
                    reason,
                    "a session grew too large to keep; the turn was not saved"
                );
                ApiError::SessionTooLarge
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// One error of each kind. The match has no wildcard, so a new variant does not compile
    /// until it is listed here too.
    fn one_of_each() -> Vec<ApiError> {
        let wait = Duration::from_secs(1);
        let all = vec![
            ApiError::InvalidJson(String::new()),
            ApiError::InvalidRequest(String::new()),
            ApiError::UnsupportedMediaType,
            ApiError::InvalidPath(String::new()),
            ApiError::RateLimited { retry_after: wait },
            ApiError::Unauthorized,
            ApiError::PayloadTooLarge,
            ApiError::BodyTimeout,
            ApiError::TooManyConnections,
            ApiError::UnknownDialog(String::new()),
            ApiError::NotFound,
            ApiError::UnknownSession,
            ApiError::MethodNotAllowed,
            ApiError::Conflict(String::new()),
            ApiError::MessageIdReused(String::new()),
            ApiError::SessionBusy,
            ApiError::ShuttingDown,
            ApiError::InvalidEmail,
            ApiError::OtpCooldown { retry_after: wait },
            ApiError::SendLimited { retry_after: wait },
            ApiError::DeliveryFailed,
            ApiError::SmsRefused(""),
            ApiError::SmsThrottled { retry_after: wait },
            ApiError::Unavailable,
            ApiError::Timeout,
            ApiError::Internal,
            ApiError::InvalidHeader(String::new()),
            ApiError::TooManyStreams,
            ApiError::SessionForbidden,
            ApiError::Forbidden,
            ApiError::NotHandedOff,
            ApiError::UnknownNode(String::new()),
            ApiError::AgentsUnavailable,
            ApiError::SessionTooLarge,
        ];
        for error in &all {
            match error {
                ApiError::InvalidJson(_)
                | ApiError::InvalidRequest(_)
                | ApiError::UnsupportedMediaType
                | ApiError::InvalidPath(_)
                | ApiError::RateLimited { .. }
                | ApiError::Unauthorized
                | ApiError::PayloadTooLarge
                | ApiError::BodyTimeout
                | ApiError::TooManyConnections
                | ApiError::UnknownDialog(_)
                | ApiError::NotFound
                | ApiError::UnknownSession
                | ApiError::MethodNotAllowed
                | ApiError::Conflict(_)
                | ApiError::MessageIdReused(_)
                | ApiError::SessionBusy
                | ApiError::ShuttingDown
                | ApiError::InvalidEmail
                | ApiError::OtpCooldown { .. }
                | ApiError::SendLimited { .. }
                | ApiError::DeliveryFailed
                | ApiError::SmsRefused(_)
                | ApiError::SmsThrottled { .. }
                | ApiError::Unavailable
                | ApiError::Timeout
                | ApiError::Internal
                | ApiError::InvalidHeader(_)
                | ApiError::TooManyStreams
                | ApiError::SessionForbidden
                | ApiError::Forbidden
                | ApiError::NotHandedOff
                | ApiError::UnknownNode(_)
                | ApiError::AgentsUnavailable
                | ApiError::SessionTooLarge => {}
            }
        }
        all
    }

    #[test]
    fn the_documented_codes_are_the_codes_answered() {
        let answered: Vec<&str> = one_of_each().iter().map(|e| e.parts().1).collect();
        assert_eq!(answered, CODES);
    }
}
