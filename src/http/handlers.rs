//! Request handlers, one small function per route.

use std::any::Any;
use std::future::Future;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use axum::http::HeaderMap;

use crate::engine::{Access, EngineError, TurnRequest};

use super::AppState;
use super::auth::{Caller, Credential};
use super::dto::{DialogList, DialogView, SessionView, WebhookAnswer, WebhookRequest, validate};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath};
use super::uncancellable::Uncancellable;

type Shared = State<Arc<AppState>>;

/// Runs `work` to its end even if the client goes away or the answer times out: a turn or a
/// code must not stop halfway, after its email went out but before it was saved (an abandoned
/// one finishes on a task of its own). Answers 503 `timeout` after `server.request_timeout`.
pub(super) async fn finish<T: Send + 'static>(
    state: &AppState,
    work: impl Future<Output = Result<T, EngineError>> + Send + 'static,
) -> Result<T, ApiError> {
    let work = Uncancellable::new(work);
    match tokio::time::timeout(state.app.config.server.request_timeout, work).await {
        Ok(result) => result.map_err(ApiError::from),
        Err(_) => Err(ApiError::Timeout),
    }
}

/// Who is calling, as the guard found it; a route outside the guard gets the narrowest
/// reading (its own sessions, of which it has none).
#[derive(Debug, Clone)]
pub(super) struct Who {
    caller: Caller,
    credential: Credential,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Who {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self {
            caller: parts
                .extensions
                .get::<Caller>()
                .cloned()
                .unwrap_or(Caller(None)),
            credential: parts
                .extensions
                .get::<Credential>()
                .copied()
                .unwrap_or(Credential::Client),
        })
    }
}

impl Who {
    pub(super) fn credential(&self) -> Credential {
        self.credential
    }

    /// What this caller may do to `session_id`, with the session token it carried.
    pub(super) fn access(&self, state: &AppState, session_id: &str, token: Option<&str>) -> Access {
        self.credential
            .access(&self.caller, &state.app.engine, session_id, token)
    }

    /// The token a widget's visitor gets for `session_id` (nobody else needs one).
    fn session_token(&self, state: &AppState, session_id: &str) -> Option<String> {
        match (&self.credential, &self.caller.0) {
            (Credential::Widget, Some(widget)) => {
                Some(state.app.engine.session_token(widget, session_id))
            }
            _ => None,
        }
    }
}

/// The session token a request carries (`X-Colloquy-Session-Token`).
pub(super) fn session_token_header(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(super::auth::SESSION_TOKEN_HEADER)
        .and_then(|value| value.to_str().ok())
}

/// `POST /v1/webhook`: one user message in, the bot's replies out.
#[utoipa::path(
    post,
    path = "/v1/webhook",
    operation_id = "webhook",
    tag = "conversations",
    summary = "Send a user message, get the bot's replies",
    description = "The first message of a session starts its dialog. A `message_id` the \
        session already processed gets exactly the first answer again and changes nothing, so \
        retries are safe. The turns of one session run one at a time, in arrival order.",
    request_body = WebhookRequest,
    params(
        ("X-Colloquy-Session-Token" = Option<String>, Header, description = "For a widget's visitor: the `session_token` the session's first answer carried."),
    ),
    responses(
        (status = 200, description = "The bot's replies, and where the conversation stands.", body = super::dto::WebhookResponse),
        (status = 403, description = "`session_forbidden`: the session belongs to another client, or a widget's session came without its token; \
            `forbidden`: this credential may not use this route.", body = ErrorBody),
        (status = 404, description = "`unknown_dialog`: the requested dialog is not loaded.", body = ErrorBody),
        (status = 409, description = "`conflict`: the session changed under this turn, or its dialog version is gone; \
            `message_id_reused`: a `message_id` already used in this session came with another text.", body = ErrorBody),
        (status = 503, description = "`timeout`: the turn took longer than `server.request_timeout` (it still completes; \
            retry with the same `message_id`); `session_busy`: too many turns wait for this session; \
            `unavailable`: the session store is down.", body = ErrorBody),
    )
)]
pub async fn webhook(
    State(state): Shared,
    who: Who,
    headers: HeaderMap,
    ApiJson(request): ApiJson<WebhookRequest>,
) -> Result<Response, ApiError> {
    let config = &state.app.config.server;
    validate(&request, config.max_text_chars).map_err(ApiError::InvalidRequest)?;
    let access = who.access(&state, &request.session_id, session_token_header(&headers));
    let session_token = who.session_token(&state, &request.session_id);
    let engine = state.app.engine.clone();
    let turn = TurnRequest {
        locale: request.locale,
        session_id: request.session_id,
        // Without one, an id of its own: never a retry of anything.
        message_id: request
            .message_id
            .unwrap_or_else(|| format!("srv-{}", crate::hex::encode(&rand::random::<[u8; 12]>()))),
        text: request.text,
        dialog: request.dialog,
        access,
    };
    let reply = finish(&state, async move { engine.turn(turn).await }).await?;
    Ok(json_body(
        &WebhookAnswer::from(&reply).with_session_token(session_token.as_deref()),
        512,
    ))
}

/// A 200 answer with `value` as its JSON body, written into one buffer of `capacity` bytes
/// (axum's `Json` starts at 128 and grows twice for a turn's answer).
fn json_body(value: &impl serde::Serialize, capacity: usize) -> Response {
    let mut body = Vec::with_capacity(capacity);
    match serde_json::to_writer(&mut body, value) {
        Ok(()) => (
            [(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "an answer could not be serialised");
            ApiError::Internal.into_response()
        }
    }
}

/// `GET /v1/sessions/{id}`: a session for support staff, addresses masked.
#[utoipa::path(
    get,
    path = "/v1/sessions/{id}",
    operation_id = "session",
    tag = "sessions",
    summary = "Show a session to support staff",
    description = "Dialog, node, status, result, turn count, the code's state (address masked, \
        never the code) and the recent history, addresses masked and entered codes as `••••`.",
    params(SessionId),
    responses(
        (status = 200, description = "The session.", body = SessionView),
        (status = 400, description = "`invalid_path`: the id is not valid UTF-8.", body = ErrorBody),
        (status = 403, description = "`session_forbidden`: the session belongs to another client; `forbidden`: a widget key.", body = ErrorBody),
        (status = 404, description = "`unknown_session`: no such session (it may have expired).", body = ErrorBody),
        (status = 503, description = "`unavailable`: the session store is down.", body = ErrorBody),
    )
)]
pub async fn session(
    State(state): Shared,
    who: Who,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<SessionView>, ApiError> {
    let session = conversation(&state, &id).await?;
    if !who.access(&state, &id, None).permits(&session) {
        return Err(ApiError::SessionForbidden);
    }
    Ok(Json(SessionView::from(&session)))
}

/// The conversation `id`, as routes that show one read it: the OTP API's code records, kept
/// in the same store, are no conversations.
pub(super) async fn conversation(
    state: &AppState,
    id: &str,
) -> Result<crate::dialog::Session, ApiError> {
    if crate::engine::codes::is_code_record(id) {
        return Err(ApiError::UnknownSession);
    }
    state
        .app
        .engine
        .session(id)
        .await?
        .ok_or(ApiError::UnknownSession)
}

/// A session id in a path.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // described, not read: handlers read the id as a string
pub struct SessionId {
    /// The session's id, as the webhook was given it.
    #[param(
        min_length = 1,
        max_length = 128,
        pattern = "^[A-Za-z0-9_.:@-]{1,128}$"
    )]
    id: String,
}

/// `DELETE /v1/sessions/{id}`: ends a session now (after a turn in progress).
#[utoipa::path(
    delete,
    path = "/v1/sessions/{id}",
    operation_id = "end_session",
    tag = "sessions",
    summary = "End a session now",
    description = "Ends the session after a turn in progress; its next message starts a new conversation.",
    params(SessionId),
    responses(
        (status = 204, description = "Ended."),
        (status = 400, description = "`invalid_path`: the id is not valid UTF-8.", body = ErrorBody),
        (status = 403, description = "`session_forbidden`: the session belongs to another client; `forbidden`: a widget key.", body = ErrorBody),
        (status = 404, description = "`unknown_session`: no such session (it may have expired).", body = ErrorBody),
        (status = 503, description = "`unavailable`: the session store is down; `session_busy`: a turn held it too long.", body = ErrorBody),
    )
)]
pub async fn end_session(
    State(state): Shared,
    who: Who,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    if crate::engine::codes::is_code_record(&id) {
        return Err(ApiError::UnknownSession);
    }
    let access = who.access(&state, &id, None);
    if state.app.engine.end_session(&id, &access).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::UnknownSession)
    }
}

/// `GET /v1/dialogs`: loaded dialogs and their versions.
#[utoipa::path(
    get,
    path = "/v1/dialogs",
    operation_id = "dialogs",
    tag = "dialogs",
    summary = "List the loaded dialogs",
    description = "Each dialog's id, latest version, older versions still kept, title, node \
        count and file, and the problems of the last reload.",
    responses((status = 200, description = "The loaded dialogs.", body = DialogList))
)]
pub async fn dialogs(State(state): Shared) -> Json<DialogList> {
    let dialogs = state.app.engine.dialogs();
    Json(DialogList {
        dialogs: dialogs
            .summaries()
            .into_iter()
            .map(DialogView::from)
            .collect(),
        load_errors: state.app.engine.load_problems(),
    })
}

/// `GET /healthz` answer.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[schema(as = Health)]
pub struct HealthView {
    /// `ok`; `draining` while shutting down; `unavailable` when the store is down.
    #[schema(value_type = HealthStatus)]
    status: &'static str,
    /// `ok` or `unavailable` (absent while draining).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<HealthStatus>)]
    store: Option<&'static str>,
    /// Live sessions, code records included.
    #[serde(skip_serializing_if = "Option::is_none")]
    sessions: Option<usize>,
    /// Loaded dialogs.
    #[serde(skip_serializing_if = "Option::is_none")]
    dialogs: Option<usize>,
    /// The Kafka listener: `{"state": "disabled"}`, or its `state` (`starting`, `connected`,
    /// `unreachable`) with the requests it `answered` and `dead_lettered`. Never the reason for
    /// a 503: the HTTP API serves whether or not the broker answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    kafka: Option<serde_json::Value>,
}

/// A health status.
#[derive(Debug, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // described, not built
pub enum HealthStatus {
    Ok,
    Draining,
    Unavailable,
}

/// `GET /healthz`: 200 when the engine can serve turns, 503 otherwise; `kafka` is the
/// listener's state (`disabled`, `starting`, `connected`, `unreachable`).
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "health",
    tag = "operations",
    summary = "Health check",
    description = "200 when the engine can serve turns; 503 while draining before a stop or \
        when the session store is down. Open: no credentials.",
    responses(
        (status = 200, description = "Ready.", body = HealthView),
        (status = 503, description = "Draining, or the store is down.", body = HealthView,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying."))),
    )
)]
pub async fn health(State(state): Shared) -> Response {
    let unhealthy = |view: HealthView| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(axum::http::header::RETRY_AFTER, "1")],
            Json(view),
        )
            .into_response()
    };
    if state.is_draining() {
        return unhealthy(HealthView {
            status: "draining",
            store: None,
            sessions: None,
            dialogs: None,
            kafka: None,
        });
    }
    let engine = &state.app.engine;
    let store = engine.store();
    // The Kafka listener's state is shown, never the status code: the HTTP API serves
    // whether or not the broker answers, and the listener catches up by itself.
    let kafka = match &state.app.kafka {
        Some(status) => serde_json::json!(status.snapshot()),
        None => serde_json::json!({ "state": "disabled" }),
    };
    match (store.ping().await, store.count().await) {
        (Ok(()), Ok(sessions)) => Json(HealthView {
            status: "ok",
            store: Some("ok"),
            sessions: Some(sessions),
            dialogs: Some(engine.dialogs().len()),
            kafka: Some(kafka),
        })
        .into_response(),
        (Err(error), _) | (_, Err(error)) => {
            tracing::warn!(%error, "health check: store unavailable");
            unhealthy(HealthView {
                status: "unavailable",
                store: Some("unavailable"),
                sessions: None,
                dialogs: None,
                kafka: Some(kafka),
            })
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    /// Only the messages to this address or number.
    to: Option<String>,
}

/// `GET /v1/dev/outbox[?to=address]`: what the dev sender "sent", oldest first.
#[utoipa::path(
    get,
    path = "/v1/dev/outbox",
    operation_id = "dev_outbox",
    tag = "dev",
    summary = "Read the dev outbox",
    description = "The emails and texts the dev outbox recorded instead of sending them, oldest first.",
    params(OutboxQuery),
    responses(
        (status = 200, description = "The recorded messages.", body = Mailbox),
        (status = 422, description = "`invalid_request`: an unknown query parameter.", body = ErrorBody),
    )
)]
pub async fn outbox(
    State(state): Shared,
    query: Result<Query<OutboxQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) =
        query.map_err(|rejection| ApiError::InvalidRequest(rejection.body_text()))?;
    let outbox = state.app.outbox.as_ref().ok_or(ApiError::NotFound)?;
    let emails = outbox.list(query.to.as_deref());
    Ok(json_body(&Mailbox { emails }, 1024))
}

/// The mailbox answer, serialised straight from the emails (not through a `json!` tree).
#[derive(serde::Serialize, utoipa::ToSchema)]
#[schema(as = Outbox)]
pub struct Mailbox {
    #[schema(value_type = Vec<OutboxMessage>)]
    emails: Vec<crate::email::OutboxEmail>,
}

/// A message in the dev outbox: an email, or a text.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // described, not built
pub struct OutboxMessage {
    /// Its number in the outbox.
    id: u64,
    channel: OutboxChannel,
    /// The address, or for a text the number in E.164.
    to: String,
    /// Empty for a text.
    subject: String,
    text: String,
    /// An email's HTML part, when it has one.
    html: Option<String>,
    sent_at: chrono::DateTime<chrono::Utc>,
}

/// How a recorded message would have travelled.
#[derive(Debug, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // described, not built
pub enum OutboxChannel {
    Email,
    Sms,
}

/// `DELETE /v1/dev/outbox`: empties the dev outbox.
#[utoipa::path(
    delete,
    path = "/v1/dev/outbox",
    operation_id = "dev_outbox_clear",
    tag = "dev",
    summary = "Empty the dev outbox",
    responses((status = 204, description = "Emptied."))
)]
pub async fn clear_outbox(State(state): Shared) -> Result<StatusCode, ApiError> {
    let outbox = state.app.outbox.as_ref().ok_or(ApiError::NotFound)?;
    outbox.clear();
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /metrics`: Prometheus text.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    summary = "Prometheus metrics",
    description = "Turns and their latency, errors by code, emails and texts by outcome, live \
        sessions, conversations started, ended and abandoned, and more (see the README). Open: \
        no credentials.",
    responses((status = 200, description = "The Prometheus text format.", content_type = "text/plain", body = String))
)]
pub async fn metrics(State(state): Shared) -> Response {
    let engine = &state.app.engine;
    let live = engine.store().count().await.ok();
    let metrics = engine.metrics();
    metrics.sessions_evicted.store(
        engine.store().evictions(),
        std::sync::atomic::Ordering::Relaxed,
    );
    let body = metrics.render(&crate::metrics::StoreReadings {
        live_sessions: live,
        memory: engine
            .store()
            .memory()
            .map(|memory| (memory.bytes, memory.budget)),
        round_trips: engine.store().round_trips(),
    });
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        body,
    )
        .into_response()
}

/// The outermost middleware: while shutting down, new requests get 503 `shutting_down`
/// (`/healthz` answers itself); every error answer is counted by its code. One layer rather
/// than two: each axum middleware layer costs every request a clone of the inner service and
/// a boxed future (BENCHMARKS.md).
pub async fn frame(
    State(state): Shared,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = if state.is_draining() && request.uri().path() != "/healthz" {
        let mut response = ApiError::ShuttingDown.into_response();
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
        response
    } else {
        next.run(request).await
    };
    if let Some(super::error::ErrorCode(code)) = response.extensions().get() {
        state.app.engine.metrics().errors.inc(&[("code", code)]);
    }
    response
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

#[allow(clippy::needless_pass_by_value)] // the signature CatchPanicLayer wants
pub fn panic_response(_panic: Box<dyn Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::Internal.into_response()
}
