//! The dev mode routes (`server.dev`, `serve --dev`), for QA against a running server
//! (`colloquy test --url`): move the engine's clock forward, read a session's context. They
//! exist only in dev mode, which listens on loopback addresses only; elsewhere they are 404.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::clock::{Clock, OffsetClock};
use crate::dialog::machine::MASKED_INPUT;
use crate::dialog::value::{Context, Value};
use crate::duration::{format_duration, serde_human};

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath};

type Shared = State<Arc<AppState>>;

/// `POST /v1/dev/clock` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ClockAdvance)]
pub struct Advance {
    /// How far to move the clock forward: `5m`, `299s`, `250ms`, `2h`, `1d`, or a number of
    /// seconds; at most 3660 days ahead in all.
    #[serde(with = "serde_human")]
    #[schema(schema_with = duration_schema)]
    advance: Duration,
}

fn duration_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
    Schema::OneOf(
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(r"^\s*[0-9]+\s*(ms|s|secs?|m|mins?|h|d)?\s*$"))
                    .examples([serde_json::json!("5m")]),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .description(Some("Seconds.")),
            )
            .build(),
    )
}

/// The dev clock: what time the engine reads, and how far ahead of the wall clock that is.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = DevClock)]
pub struct ClockView {
    pub now: DateTime<Utc>,
    /// `5m`, as durations are written in the config.
    pub offset: String,
    pub offset_ms: u64,
}

impl ClockView {
    fn of(clock: &OffsetClock) -> Self {
        let offset = clock.offset();
        Self {
            now: clock.now(),
            offset: format_duration(offset),
            offset_ms: u64::try_from(offset.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

fn dev_clock(state: &AppState) -> Result<&OffsetClock, ApiError> {
    state.app.dev_clock.as_deref().ok_or(ApiError::NotFound)
}

/// `GET /v1/dev/clock`: the engine's time. Also how `colloquy test --url` finds out that a
/// server is in dev mode (elsewhere: 404).
#[utoipa::path(
    get,
    path = "/v1/dev/clock",
    operation_id = "dev_clock",
    tag = "dev",
    summary = "Read the dev clock",
    description = "The engine's time, and how far it runs ahead of the wall clock.",
    responses((status = 200, description = "The clock.", body = ClockView))
)]
pub async fn clock(State(state): Shared) -> Result<Json<ClockView>, ApiError> {
    Ok(Json(ClockView::of(dev_clock(&state)?)))
}

/// `POST /v1/dev/clock {"advance": "5m"}`: moves the engine's clock forward, for every
/// session, code and limit at once. It never goes back: restart the server for that.
#[utoipa::path(
    post,
    path = "/v1/dev/clock",
    operation_id = "dev_clock_advance",
    tag = "dev",
    summary = "Move the dev clock forward",
    description = "Moves the engine's clock forward for every session, code and limit at once. \
        It never goes back.",
    request_body = Advance,
    responses(
        (status = 200, description = "The clock after the move.", body = ClockView),
        (status = 422, description = "`invalid_request`: `advance` is missing, not a duration, or too far; the clock did not move.", body = ErrorBody),
    )
)]
pub async fn advance(
    State(state): Shared,
    ApiJson(request): ApiJson<Advance>,
) -> Result<Json<ClockView>, ApiError> {
    let clock = dev_clock(&state)?;
    let offset = clock
        .skip(request.advance)
        .map_err(|error| ApiError::InvalidRequest(format!("`advance`: {error}")))?;
    tracing::info!(
        advanced = %format_duration(request.advance),
        offset = %format_duration(offset),
        "dev mode: clock moved forward"
    );
    Ok(Json(ClockView::of(clock)))
}

/// `GET /v1/dev/sessions/{id}/context` answer.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = SessionContext)]
pub struct ContextView {
    pub session_id: String,
    /// The dialog whose variables these are (a called dialog's, while the session is in one).
    pub dialog: String,
    /// Every variable set and not expired, as JSON (text, number or boolean); a sensitive
    /// value (an entered code) is `••••`, as in the session's history.
    #[schema(value_type = BTreeMap<String, ContextValue>)]
    pub context: BTreeMap<String, serde_json::Value>,
}

/// A variable's value: text, number or boolean (null for a number JSON cannot hold).
#[derive(Debug)]
pub struct ContextValue;

impl utoipa::PartialSchema for ContextValue {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([
                Type::String,
                Type::Number,
                Type::Boolean,
                Type::Null,
            ]))
            .description(Some(
                "A variable's value: text, number or boolean (null for a number JSON cannot hold).",
            ))
            .into()
    }
}

impl utoipa::ToSchema for ContextValue {}

/// `GET /v1/dev/sessions/{id}/context`: a session's variables, so scripts can check
/// `expect.context` over HTTP.
#[utoipa::path(
    get,
    path = "/v1/dev/sessions/{id}/context",
    operation_id = "dev_session_context",
    tag = "dev",
    summary = "Read a session's variables",
    description = "The variables set and not expired, of the dialog the session is in; a \
        sensitive value such as an entered code shows as `••••`.",
    params(super::handlers::SessionId),
    responses(
        (status = 200, description = "The session's context.", body = ContextView),
        (status = 400, description = "`invalid_path`: the id is not valid UTF-8.", body = ErrorBody),
        (status = 404, description = "`unknown_session`.", body = ErrorBody),
        (status = 503, description = "`unavailable`: the session store is down.", body = ErrorBody),
    )
)]
pub async fn context(
    State(state): Shared,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ContextView>, ApiError> {
    let clock = dev_clock(&state)?;
    let session = super::handlers::conversation(&state, &id).await?;
    let context = shown(&session.context, clock.now());
    Ok(Json(ContextView {
        session_id: session.id,
        dialog: session.dialog_id,
        context,
    }))
}

/// The variables set and not expired at `now`, sensitive ones masked. A turn drops its
/// sensitive values before the session is saved, so a stored session holds none; were one
/// ever kept, it would still not show.
fn shown(context: &Context, now: DateTime<Utc>) -> BTreeMap<String, serde_json::Value> {
    context
        .iter()
        .filter_map(|(name, slot)| {
            let value = context.get(name, now)?;
            let shown = if slot.sensitive {
                serde_json::Value::from(MASKED_INPUT)
            } else {
                json_of(value)
            };
            Some((name.to_owned(), shown))
        })
        .collect()
}

fn json_of(value: &Value) -> serde_json::Value {
    match value {
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Number(n) => serde_json::Number::from_f64(*n)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        Value::Text(text) => serde_json::Value::from(text.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;
    use crate::dialog::value::Slot;

    #[test]
    fn context_shows_values_as_json_masks_sensitive_ones_and_hides_expired_ones() {
        let now = Utc::now();
        let mut context = Context::default();
        context.set("email", Value::Text("alice@example.com".into()));
        context.set("tries", Value::Number(2.0));
        context.set("confirmed", Value::Bool(true));
        let slot = |value: &str, sensitive, expires_at| Slot {
            value: Value::Text(value.into()),
            sensitive,
            expires_at,
            given: false,
        };
        context.set_slot("otp_code", slot("4821", true, None));
        context.set_slot("gone", slot("x", false, Some(now)));
        context.set_slot("later", slot("y", false, Some(now + TimeDelta::seconds(1))));
        let shown = serde_json::to_value(shown(&context, now)).unwrap();
        assert_eq!(
            shown,
            serde_json::json!({
                "email": "alice@example.com",
                "tries": 2.0,
                "confirmed": true,
                "otp_code": "••••",
                "later": "y",
            })
        );
    }
}
