//! The Kore.ai Webhook shapes beside the native route, so widgets and test connectors built for
//! Kore work unchanged: v1 (`POST /chatbot/hooks/{botId}`, also `…/hookInstance/{id}`) and v2
//! (`POST /chatbot/v2/webhook/{botId}`). Both run one turn path; only their shapes differ.
//!
//! v1 in: `message.text`, `from.id`, `session.new`; out: `text` (one string, or an array for
//! several replies), `endOfTask` and the end-of-task fields.
//! v2 in: `message.type`/`val`, `from.id`, `session.new`, `interactiveLanguage`; out: `data[]`
//! of `{type, val, createdOn, messageId}`, `_v: "v2"`, `endOfTask`, `endReason` (`Fulfilled`,
//! `Cancelled`, `Interrupted`), `completedTaskId`/`Name`. Events: `ON_CONNECT` starts the
//! dialog, `SESSION_CLOSURE` ends the session.
//! Both: a JWT (HS256/HS512) in `Authorization: bearer …`, checked as Kore does (see
//! [`authenticate`]). Errors: `{errors: [{msg, code}], _v, _t}`.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::PathRejection;
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
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = KoreV2Request)]
pub struct KoreRequest {
    #[serde(default)]
    session: Option<KoreSession>,
    message: KoreMessage,
    from: KoreFrom,
    /// The language the user speaks (`fr`, `pt-BR`), kept by the session from then on; a
    /// value that is no language tag is a 400.
    #[serde(default)]
    #[schema(
        max_length = 35,
        pattern = "^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?$"
    )]
    interactive_language: Option<String>,
}

/// A Kore v1 request (`to`, `from.userInfo`, `message.attachments`, `customData`… are
/// accepted and unused).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct KoreV1Request {
    #[serde(default)]
    session: Option<KoreSession>,
    message: KoreV1Message,
    from: KoreFrom,
}

/// The Kore session.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct KoreSession {
    /// Start a new conversation (the user's session is ended first).
    #[serde(default)]
    new: bool,
}

/// A v2 message: `text` with the user's words, or `event` with `ON_CONNECT` (start the
/// dialog) or `SESSION_CLOSURE` (end the session). (One flat object rather than `oneOf` the
/// two: schemathesis, on Python 3.11, trips over the nesting when it generates from that.)
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = KoreV2Message)]
struct KoreMessage {
    #[serde(rename = "type")]
    #[schema(value_type = KoreMessageType)]
    kind: String,
    /// For `text`, what the user typed (at most `server.max_text_chars` characters); for an
    /// `event`, `ON_CONNECT` or `SESSION_CLOSURE`.
    #[serde(default)]
    #[schema(value_type = String)]
    val: Value,
}

/// What a v2 message carries.
#[derive(Debug, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // described, not built
enum KoreMessageType {
    Text,
    Event,
}

/// A v1 message: only `text` is read (attachments alone are a 400).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct KoreV1Message {
    /// What the user typed: not blank, at most `server.max_text_chars` characters.
    #[serde(default)]
    #[schema(min_length = 1, pattern = "\\S")]
    text: Option<String>,
}

/// The user.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct KoreFrom {
    /// The user's id: one Kore user of one bot is one session.
    id: String,
}

/// Kore's error envelope (the per-IP limit's 429 keeps the native one).
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // described, not built
pub struct KoreErrors {
    errors: Vec<KoreErrorEntry>,
    /// `v1` or `v2`, the route's version.
    #[serde(rename = "_v")]
    version: String,
    /// A trace id.
    #[serde(rename = "_t")]
    trace: String,
}

/// One error.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // described, not built
pub struct KoreErrorEntry {
    /// `Invalid Access token`, `Invalid Request Payload`, `Unknown bot`, …
    msg: String,
    /// The HTTP status.
    code: u16,
}

/// A v1 answer.
#[derive(Debug, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = KoreV1Answer)]
#[allow(dead_code)] // described, not built
pub struct V1Answer {
    /// One string for one reply, an array of strings for several.
    #[schema(schema_with = text_or_texts)]
    text: String,
    #[serde(flatten)]
    end: TaskEnd,
}

fn text_or_texts() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
    Schema::OneOf(
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::String))
            .item(ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String)))
            .build(),
    )
}

/// Whether the dialog ended with this turn, and how.
#[derive(Debug, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = KoreEndOfTask)]
#[allow(dead_code)] // described, not built
pub struct TaskEnd {
    end_of_task: bool,
    /// `Fulfilled`, `Cancelled` or `Interrupted`, once the dialog ended.
    end_reason: Option<String>,
    /// The dialog's id, once it ended.
    completed_task_id: Option<String>,
    /// The dialog's title (else its id), once it ended.
    completed_task_name: Option<String>,
}

/// A v2 answer: the turn's replies, or for `SESSION_CLOSURE` whether a session was closed.
#[derive(Debug, utoipa::ToSchema)]
#[serde(untagged)]
#[schema(as = KoreV2Answer)]
#[allow(dead_code)] // described, not built
pub enum V2Answer {
    Turn(V2Turn),
    Closure(V2Closure),
}

/// The replies of a turn.
#[derive(Debug, utoipa::ToSchema)]
#[schema(as = KoreV2Turn)]
#[allow(dead_code)] // described, not built
pub struct V2Turn {
    data: Vec<V2Data>,
    /// `v2`.
    #[serde(rename = "_v")]
    version: String,
    #[serde(flatten)]
    end: TaskEnd,
}

/// One reply (a question's options listed in its text).
#[derive(Debug, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = KoreV2Data)]
#[allow(dead_code)] // described, not built
pub struct V2Data {
    /// `text`.
    #[serde(rename = "type")]
    kind: String,
    val: String,
    created_on: chrono::DateTime<chrono::Utc>,
    message_id: String,
}

/// The answer to `SESSION_CLOSURE`.
#[derive(Debug, utoipa::ToSchema)]
#[schema(as = KoreV2Closure)]
#[allow(dead_code)] // described, not built
pub struct V2Closure {
    /// `SESSION_CLOSURE_SUCCESS`, or `SESSION_CLOSURE_IGNORED` when no session was live.
    status: String,
    #[serde(rename = "_v")]
    version: String,
}

/// The bot and instance ids of a Kore path.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // described, not read: handlers take them as strings
pub(super) struct BotPath {
    /// The bot: `kore.bots` maps it to a dialog (by default every bot runs `dialogs.default`).
    bot: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Claims {
    #[serde(default)]
    app_id: Option<String>,
    #[serde(default)]
    iss: Option<String>,
    /// A string or an array of strings.
    #[serde(default)]
    aud: Option<Value>,
    #[serde(default)]
    user_identity: Option<String>,
    #[serde(default)]
    exp: Option<i64>,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    jti: Option<String>,
}

/// Which Kore webhook a request came in by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

impl Version {
    fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "v1",
            Self::V2 => "v2",
        }
    }
}

/// A Kore-shaped error.
#[derive(Debug)]
pub struct KoreError {
    status: StatusCode,
    msg: &'static str,
    version: Version,
}

impl KoreError {
    fn new(version: Version, status: StatusCode, msg: &'static str) -> Self {
        Self {
            status,
            msg,
            version,
        }
    }

    fn invalid(version: Version) -> Self {
        Self::new(version, StatusCode::BAD_REQUEST, "Invalid Request Payload")
    }

    fn unauthorized(version: Version) -> Self {
        Self::new(version, StatusCode::UNAUTHORIZED, "Invalid Access token")
    }
}

impl IntoResponse for KoreError {
    fn into_response(self) -> Response {
        let body = json!({ "errors": [{ "msg": self.msg, "code": self.status.as_u16() }], "_v": self.version.as_str(), "_t": trace_id() });
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

/// Why a token is refused (logged; every refusal answers the same 401).
fn refuse(version: Version, why: &'static str) -> KoreError {
    tracing::debug!(why, "kore token refused");
    KoreError::unauthorized(version)
}

/// A token that passed: its client, and with `kore.single_use_tokens` what to record it by
/// and until when (its `exp`).
#[derive(Debug)]
struct Authenticated {
    app_id: String,
    single_use: Option<([u8; 32], i64)>,
}

/// Records a single-use token, in the store every instance shares: a token is accepted once
/// by all of them together.
async fn first_use(
    state: &AppState,
    version: Version,
    key: &[u8; 32],
    exp: i64,
) -> Result<(), KoreError> {
    let until = chrono::DateTime::from_timestamp(exp, 0)
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC);
    match state.app.replay.first_use("kore", key, until).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(refuse(version, "token used before")),
        Err(error) => {
            tracing::warn!(%error, "kore: single-use tokens cannot be recorded");
            Err(KoreError::new(
                version,
                StatusCode::SERVICE_UNAVAILABLE,
                "Service unavailable",
            ))
        }
    }
}

/// Checks the bearer JWT as Kore does and returns the client's app id: signed by a configured
/// client's secret, naming that client in `appId` (else `iss`), with an `exp` in the future
/// and no further than `kore.max_token_lifetime` from its `iat` (or, without one, from now),
/// `aud`/`iss` as configured, a `userIdentity` (when present) equal to `from.id`, and with
/// `kore.single_use_tokens`, never seen before.
fn authenticate(
    config: &KoreConfig,
    version: Version,
    headers: &HeaderMap,
    from_id: &str,
    now: i64,
) -> Result<Authenticated, KoreError> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(|| refuse(version, "no bearer token"))?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.algorithms = vec![Algorithm::HS256, Algorithm::HS512];
    // Expiry, audience and issuer are checked below, against the clock clients sign with.
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let max_lifetime = i64::try_from(config.max_token_lifetime.as_secs()).unwrap_or(i64::MAX);
    for client in &config.clients {
        let key = DecodingKey::from_secret(
            secrecy::ExposeSecret::expose_secret(client.secret.expose()).as_bytes(),
        );
        let Ok(data) = jsonwebtoken::decode::<Claims>(token, &key, &validation) else {
            continue;
        };
        let claims = data.claims;
        let client_id = claims.app_id.as_deref().or(claims.iss.as_deref());
        if client_id != Some(client.app_id.as_str()) {
            return Err(refuse(version, "unknown client"));
        }
        let exp = claims.exp.ok_or_else(|| refuse(version, "no exp"))?;
        if exp < now {
            return Err(refuse(version, "expired"));
        }
        let lifetime = exp.saturating_sub(claims.iat.unwrap_or(now));
        if lifetime > max_lifetime {
            return Err(refuse(version, "lifetime over kore.max_token_lifetime"));
        }
        if let Some(audience) = &config.audience {
            let matches = match &claims.aud {
                Some(Value::String(aud)) => aud == audience,
                Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(audience)),
                _ => false,
            };
            if !matches {
                return Err(refuse(version, "wrong aud"));
            }
        }
        if let Some(issuer) = &config.issuer
            && claims.iss.as_deref() != Some(issuer.as_str())
        {
            return Err(refuse(version, "wrong iss"));
        }
        if claims
            .user_identity
            .as_deref()
            .is_some_and(|identity| identity != from_id)
        {
            return Err(refuse(version, "userIdentity is not from.id"));
        }
        let single_use = config.single_use_tokens.then(|| {
            let key: [u8; 32] = match &claims.jti {
                Some(jti) => Sha256::new()
                    .chain_update(client.app_id.as_bytes())
                    .chain_update([0])
                    .chain_update(jti.as_bytes())
                    .finalize()
                    .into(),
                None => Sha256::digest(token.as_bytes()).into(),
            };
            (key, exp)
        });
        return Ok(Authenticated {
            app_id: client.app_id.clone(),
            single_use,
        });
    }
    Err(refuse(version, "not signed by a configured client"))
}

/// Our session id for a Kore user of a bot, under the client that signed: two Kore clients
/// with a bot and a user id in common never share a session. Hashed when the ids hold
/// characters ours refuse.
fn session_id(client: &str, bot: &str, user: &str) -> String {
    let plain = format!("kore:{client}:{bot}:{user}");
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

/// What a Kore message asks for, whichever version it came in.
#[derive(Debug)]
enum Ask {
    /// A user's text.
    Text(String),
    /// `ON_CONNECT`: start the dialog.
    Connect,
    /// `SESSION_CLOSURE`: end the session.
    Close,
}

/// One Kore message, read out of either version's request.
#[derive(Debug)]
struct Inbound {
    from_id: String,
    ask: Ask,
    new_session: bool,
    locale: Option<String>,
}

/// What the turn path answers, for each version to render.
enum Outcome {
    Reply(TurnReply),
    /// Whether a live session was closed.
    Closed(bool),
}

/// The turn path both versions share: authentication, the bot's dialog, the session, the turn.
async fn handle(
    state: &AppState,
    version: Version,
    bot: &str,
    headers: &HeaderMap,
    inbound: Inbound,
) -> Result<Outcome, KoreError> {
    let config = &state.app.config;
    let engine = &state.app.engine;
    let now = state.client_clock.now().timestamp();
    let Authenticated {
        app_id: app,
        single_use,
    } = authenticate(&config.kore, version, headers, &inbound.from_id, now)?;
    if let Some((key, exp)) = single_use {
        first_use(state, version, &key, exp).await?;
    }
    let dialog = config.kore.bots.get(bot).cloned();
    if !config.kore.bots.is_empty() && dialog.is_none() {
        return Err(KoreError::new(
            version,
            StatusCode::NOT_FOUND,
            "Unknown bot",
        ));
    }
    let session = session_id(&app, bot, &inbound.from_id);
    // The session id names the client already; the owner says it again for every route.
    let access = crate::engine::Access {
        client: Some(format!("kore:{app}")),
        proven: true,
        any_session: false,
    };
    let text = match inbound.ask {
        Ask::Text(text) if text.chars().count() <= config.server.max_text_chars => text,
        Ask::Text(_) => return Err(KoreError::invalid(version)),
        Ask::Connect => String::new(),
        Ask::Close => {
            let closed = engine
                .end_session(&session, &access)
                .await
                .map_err(|e| engine_error(version, e))?;
            return Ok(Outcome::Closed(closed));
        }
    };
    if inbound.new_session {
        engine
            .end_session(&session, &access)
            .await
            .map_err(|e| engine_error(version, e))?;
    }
    tracing::debug!(app, bot, version = version.as_str(), "kore webhook turn");
    // Kore sends no message id, so a Kore retry runs as a new message.
    let turn = TurnRequest {
        session_id: session,
        message_id: format!("kore-{}", trace_id()),
        text,
        dialog,
        locale: inbound.locale,
        access,
    };
    let engine = engine.clone();
    let task = tokio::spawn(async move { engine.turn(turn).await });
    match tokio::time::timeout(config.server.request_timeout, task).await {
        Ok(Ok(Ok(reply))) => Ok(Outcome::Reply(reply)),
        Ok(Ok(Err(error))) => Err(engine_error(version, error)),
        Ok(Err(_panicked)) => Err(KoreError::new(
            version,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal error",
        )),
        Err(_) => Err(KoreError::new(
            version,
            StatusCode::GATEWAY_TIMEOUT,
            "Request timed-out",
        )),
    }
}

/// Kore's route errors, described once for the three routes.
const KORE_ERRORS: &str = "Every error is Kore's envelope, except the per-IP limit's 429.";

/// `POST /chatbot/v2/webhook/{botId}`.
#[utoipa::path(
    post,
    path = "/chatbot/v2/webhook/{bot}",
    operation_id = "kore_webhook_v2",
    tag = "kore",
    summary = "Kore.ai Webhook v2",
    description = KORE_ERRORS,
    params(BotPath),
    request_body = KoreRequest,
    responses(
        (status = 200, description = "The turn's replies, or a closure's status.", body = V2Answer),
        (status = 400, description = "`Invalid Request Payload`: not Kore's v2 shape, an unknown message type or event, a text over `server.max_text_chars`, an `interactiveLanguage` that is no language tag.", body = KoreErrors),
        (status = 401, description = "`Invalid Access token`: no JWT, or one Kore would refuse.", body = KoreErrors),
        (status = 404, description = "`Unknown bot`.", body = KoreErrors),
        (status = 429, description = "The session is busy.", body = KoreErrors),
        (status = 500, description = "The turn failed unexpectedly.", body = KoreErrors),
        (status = 503, description = "The session store is down, the session changed under the turn, or single-use tokens cannot be recorded (the store of used ones is full, or Redis is away).", body = KoreErrors),
        (status = 504, description = "`Request timed-out`: the turn took longer than `server.request_timeout`.", body = KoreErrors),
    )
)]
pub async fn webhook(
    State(state): State<Arc<AppState>>,
    bot: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    request: Result<ApiJson<KoreRequest>, super::ApiError>,
) -> Result<Json<Value>, KoreError> {
    let version = Version::V2;
    let Path(bot) = bot.map_err(|_| KoreError::invalid(version))?;
    let ApiJson(request) = request.map_err(|_| KoreError::invalid(version))?;
    if let Some(language) = &request.interactive_language
        && !crate::dialog::locale::is_locale(language)
    {
        return Err(KoreError::invalid(version));
    }
    let ask = match (request.message.kind.as_str(), request.message.val) {
        ("text", Value::String(text)) => Ask::Text(text),
        ("event", Value::String(event)) if event == "SESSION_CLOSURE" => Ask::Close,
        ("event", Value::String(event)) if event == "ON_CONNECT" => Ask::Connect,
        _ => return Err(KoreError::invalid(version)),
    };
    let inbound = Inbound {
        from_id: request.from.id,
        new_session: request.session.is_some_and(|s| s.new) || matches!(ask, Ask::Connect),
        ask,
        locale: request.interactive_language,
    };
    match handle(&state, version, &bot, &headers, inbound).await? {
        Outcome::Reply(reply) => Ok(Json(to_v2(&state, &reply))),
        Outcome::Closed(closed) => {
            let status = if closed {
                "SESSION_CLOSURE_SUCCESS"
            } else {
                "SESSION_CLOSURE_IGNORED"
            };
            Ok(Json(json!({ "status": status, "_v": "v2" })))
        }
    }
}

/// `POST /chatbot/hooks/{botId}`.
#[utoipa::path(
    post,
    path = "/chatbot/hooks/{bot}",
    operation_id = "kore_webhook_v1",
    tag = "kore",
    summary = "Kore.ai Webhook v1",
    description = KORE_ERRORS,
    params(BotPath),
    request_body = KoreV1Request,
    responses(
        (status = 200, description = "The turn's replies.", body = V1Answer),
        (status = 400, description = "`Invalid Request Payload`: not Kore's v1 shape, a message without text, a text over `server.max_text_chars`.", body = KoreErrors),
        (status = 401, description = "`Invalid Access token`.", body = KoreErrors),
        (status = 404, description = "`Unknown bot`.", body = KoreErrors),
        (status = 429, description = "The session is busy.", body = KoreErrors),
        (status = 500, description = "The turn failed unexpectedly.", body = KoreErrors),
        (status = 503, description = "The session store is down, the session changed under the turn, or single-use tokens cannot be recorded (the store of used ones is full, or Redis is away).", body = KoreErrors),
        (status = 504, description = "`Request timed-out`.", body = KoreErrors),
    )
)]
pub async fn webhook_v1(
    State(state): State<Arc<AppState>>,
    bot: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    request: Result<ApiJson<KoreV1Request>, super::ApiError>,
) -> Result<Json<Value>, KoreError> {
    let Path(bot) = bot.map_err(|_| KoreError::invalid(Version::V1))?;
    v1(&state, &bot, &headers, request).await
}

/// The instance of a v1 hook.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // described, not read
pub(super) struct InstancePath {
    /// Any instance id: every instance runs the same bot.
    instance: String,
}

/// `POST /chatbot/hooks/{botId}/hookInstance/{id}`: the same bot, whichever instance.
#[utoipa::path(
    post,
    path = "/chatbot/hooks/{bot}/hookInstance/{instance}",
    operation_id = "kore_webhook_v1_instance",
    tag = "kore",
    summary = "Kore.ai Webhook v1, by hook instance",
    description = "The same as `/chatbot/hooks/{bot}`, whichever instance. Every error is Kore's envelope, except the per-IP limit's 429.",
    params(BotPath, InstancePath),
    request_body = KoreV1Request,
    responses(
        (status = 200, description = "The turn's replies.", body = V1Answer),
        (status = 400, description = "`Invalid Request Payload`.", body = KoreErrors),
        (status = 401, description = "`Invalid Access token`.", body = KoreErrors),
        (status = 404, description = "`Unknown bot`.", body = KoreErrors),
        (status = 429, description = "The session is busy.", body = KoreErrors),
        (status = 500, description = "The turn failed unexpectedly.", body = KoreErrors),
        (status = 503, description = "The session store is down, the session changed under the turn, or single-use tokens cannot be recorded (the store of used ones is full, or Redis is away).", body = KoreErrors),
        (status = 504, description = "`Request timed-out`.", body = KoreErrors),
    )
)]
pub async fn webhook_v1_instance(
    State(state): State<Arc<AppState>>,
    ids: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    request: Result<ApiJson<KoreV1Request>, super::ApiError>,
) -> Result<Json<Value>, KoreError> {
    let Path((bot, _instance)) = ids.map_err(|_| KoreError::invalid(Version::V1))?;
    v1(&state, &bot, &headers, request).await
}

async fn v1(
    state: &AppState,
    bot: &str,
    headers: &HeaderMap,
    request: Result<ApiJson<KoreV1Request>, super::ApiError>,
) -> Result<Json<Value>, KoreError> {
    let version = Version::V1;
    let ApiJson(request) = request.map_err(|_| KoreError::invalid(version))?;
    // v1 has no events; a message without text (attachments alone) is not one we can answer.
    let text = request
        .message
        .text
        .filter(|text| !text.trim().is_empty())
        .ok_or_else(|| KoreError::invalid(version))?;
    let inbound = Inbound {
        from_id: request.from.id,
        ask: Ask::Text(text),
        new_session: request.session.is_some_and(|s| s.new),
        locale: None,
    };
    match handle(state, version, bot, headers, inbound).await? {
        Outcome::Reply(reply) => Ok(Json(to_v1(state, &reply))),
        Outcome::Closed(_) => Err(KoreError::invalid(version)),
    }
}

fn engine_error(version: Version, error: EngineError) -> KoreError {
    match error {
        EngineError::UnknownDialog(_) => {
            KoreError::new(version, StatusCode::NOT_FOUND, "Unknown bot")
        }
        EngineError::SessionBusy => {
            KoreError::new(version, StatusCode::TOO_MANY_REQUESTS, "Too Many requests")
        }
        EngineError::NotYours => KoreError::new(version, StatusCode::FORBIDDEN, "Forbidden"),
        other => {
            tracing::warn!(error = %other, "kore webhook turn failed");
            KoreError::new(
                version,
                StatusCode::SERVICE_UNAVAILABLE,
                "Service unavailable",
            )
        }
    }
}

/// v1's answer: `text` is the one reply, or an array when there are several.
fn to_v1(state: &AppState, reply: &TurnReply) -> Value {
    // Kore's text messages carry no buttons: the options are listed in the text.
    let mut texts = reply.texts_with_options();
    let text = if texts.len() == 1 {
        Value::String(texts.remove(0))
    } else {
        json!(texts)
    };
    let mut body = json!({ "text": text, "endOfTask": reply.result.is_some() });
    end_of_task(state, reply, &mut body);
    body
}

fn to_v2(state: &AppState, reply: &TurnReply) -> Value {
    let created = state.app.engine.clock().now().to_rfc3339();
    // Kore's text messages carry no buttons: the options are listed in the text.
    let data: Vec<Value> = reply
        .texts_with_options()
        .iter()
        .enumerate()
        .map(|(i, text)| json!({ "type": "text", "val": text, "createdOn": created, "messageId": format!("ms-{}-{}-{i}", reply.session_id, reply.turn) }))
        .collect();
    let mut body = json!({ "data": data, "_v": "v2", "endOfTask": reply.result.is_some() });
    end_of_task(state, reply, &mut body);
    body
}

/// When the dialog ended: `endReason`, `completedTaskId` and `completedTaskName`.
fn end_of_task(state: &AppState, reply: &TurnReply, body: &mut Value) {
    let Some(result) = &reply.result else {
        return;
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_safe() {
        assert_eq!(session_id("cs", "bot1", "user-1"), "kore:cs:bot1:user-1");
        assert_ne!(
            session_id("cs", "bot1", "user-1"),
            session_id("other", "bot1", "user-1")
        );
        let hashed = session_id("cs", "bot1", "user with spaces/and slashes");
        assert!(
            hashed.starts_with("kore:") && hashed.len() == 37,
            "{hashed}"
        );
    }
}
