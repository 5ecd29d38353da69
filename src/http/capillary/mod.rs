//! Capillary's OTP API shape (`otp_api.capillary`): `POST /v2/otp/generate` and
//! `POST /v2/otp/validate` over the same codes as `/v1/otp` (`engine::codes`).
//!
//! The body is read field by field so that every problem is reported at once, in Capillary's
//! `{"errors": [{"status": false, "code": 60x, "message": …}]}` (`request.rs`). The entity (an
//! email address or a mobile number) and the action are the code's scope; the code goes on
//! every channel listed that this server can serve — email, and SMS through the SMS sender
//! and the toll-fraud guard — at once, and the others are reported in `warnings`. Deviations
//! from Capillary are listed in the README.

mod request;
mod schema;

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::engine::{Destination, Issued, NotIssued, SmsText, Undelivered};
use crate::otp::Verdict;

use self::request::{
    Channel, Errors, INVALID_CHANNEL, INVALID_MOBILE, INVALID_OTP, OTP_REPLACED, RATE_LIMITED,
    UNABLE_TO_GENERATE,
};
use self::schema::{
    CapillaryErrors, GenerateAnswer, GenerateRequest, ValidateAnswer, ValidateRequest,
};
use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use super::handlers::finish;
use super::otp_api::{Envelope, ObjectBody, scope_of};

/// Unreadable bodies are answered in this route's envelope.
pub struct Capillary;

impl Envelope for Capillary {
    fn wrap(error: ApiError) -> Response {
        envelope(error, None)
    }
}

type Incoming = ObjectBody<Capillary>;

fn bad_request(Errors(errors): Errors) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "errors": errors }))).into_response()
}

/// `POST /v2/otp/generate`: `{entityType, entityValue, action, template?, emailTemplate?,
/// channels?}` → `{createdId, warnings}`.
#[utoipa::path(
    post,
    path = "/v2/otp/generate",
    operation_id = "capillary_generate",
    tag = "capillary",
    summary = "Generate and send a code (Capillary's shape)",
    description = "Sends one code to the entity, or on every channel listed at once: email, \
        and SMS through the SMS sender and the toll-fraud guard. Channels this server has no \
        gateway for (voice, WhatsApp, Zalo) and channels the code could not go on are reported \
        in `warnings`. Regenerating within the expiry sends a new code and warns 611. Templates \
        come from the request, then `otp_api.capillary_templates` by action, then Capillary's \
        built-in ones.",
    request_body = GenerateRequest,
    responses(
        (status = 200, description = "Sent on at least one channel.", body = GenerateAnswer),
        (status = 400, description = "Request errors, every one at once (600–608, 621), or 8056 `Invalid mobile`: a number that is not one, or one the toll-fraud guard will not text.", body = CapillaryErrors),
        (status = 429, description = "429 `Rate limit exceeded`: a code went to this entity moments ago, its send cap is reached, or the toll-fraud guard's hourly caps are.", body = CapillaryErrors,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 502, description = "606: the message could not be delivered on any channel.", body = CapillaryErrors),
        (status = 503, description = "The store is down, or the request took too long.", body = CapillaryErrors),
    )
)]
pub async fn generate(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    ObjectBody(body, _): Incoming,
) -> Response {
    let engine = state.app.engine.clone();
    let mut errors = Errors::default();
    let action = request::action(&body, &mut errors);
    let entity = request::entity(&body, &engine, &mut errors);
    let channels = request::channels(&body, entity.as_ref(), &engine, &mut errors);
    let texts = request::texts(
        &body,
        action.as_deref(),
        &state.app.config.otp_api,
        &mut errors,
    );
    let served = channels
        .iter()
        .filter(|c| !matches!(c, Channel::Unserved(_)))
        .count();
    if served == 0 && entity.is_some() && errors.is_empty() {
        errors.add(
            INVALID_CHANNEL,
            "Gateway error: none of the channels is one this server delivers on (EMAIL, SMS)",
        );
    }
    let (Some(action), Some(entity), Some(texts), true) =
        (action, entity, texts, errors.is_empty())
    else {
        return bad_request(errors);
    };
    let scope = scope_of(caller, action, entity);
    let sendable: Vec<Channel> = channels
        .iter()
        .filter(|c| !matches!(c, Channel::Unserved(_)))
        .cloned()
        .collect();
    let sent_on = sendable.clone();
    let issued = finish(&state, async move {
        let destinations: Vec<Destination<'_>> = sendable
            .iter()
            .filter_map(|channel| match channel {
                Channel::Email(to) => Some(Destination::Email {
                    to: to.clone(),
                    template: Some(&texts.email),
                }),
                Channel::Sms(to) => Some(Destination::Sms {
                    to: to.clone(),
                    text: SmsText::Template(&texts.sms),
                }),
                Channel::Unserved(_) => None,
            })
            .collect();
        engine.issue_code(&scope, &destinations, None).await
    })
    .await;
    match issued {
        Ok(Ok(issued)) => {
            let warnings = warnings(&issued, &sent_on, &channels);
            Json(json!({ "createdId": created_id(&issued.otp_id), "warnings": warnings }))
                .into_response()
        }
        Ok(Err(not_issued)) => not_generated(not_issued),
        Err(error) => envelope(error, None),
    }
}

/// What the caller should know of a code that went out: an earlier one replaced, and the
/// channels it did not go on.
fn warnings(issued: &Issued, sent_on: &[Channel], channels: &[Channel]) -> Vec<Value> {
    let mut warnings = Vec::new();
    if issued.replaced_live_code {
        warnings.push(json!({
            "status": true,
            "code": OTP_REPLACED,
            "message": "an unexpired OTP had been generated for this entity and action; it was replaced by a new one, which was sent",
        }));
    }
    for (index, why) in &issued.undelivered {
        let name = match sent_on.get(*index) {
            Some(Channel::Email(_)) => "EMAIL",
            _ => "SMS",
        };
        let (code, message) = match why {
            Undelivered::Limited(_) => (RATE_LIMITED, "Rate limit exceeded".to_owned()),
            Undelivered::Blocked(blocked) if blocked.reason.is_cap() => {
                (RATE_LIMITED, "Rate limit exceeded".to_owned())
            }
            Undelivered::Blocked(blocked) => (
                INVALID_MOBILE,
                format!("Invalid mobile: {}", blocked.reason.describe()),
            ),
            Undelivered::Failed => (
                UNABLE_TO_GENERATE,
                "Gateway error: the message could not be delivered".to_owned(),
            ),
        };
        warnings.push(json!({
            "status": false,
            "code": code,
            "message": format!("channel {name}: {message}; the OTP was not sent on it"),
        }));
    }
    for channel in channels {
        if let Channel::Unserved(name) = channel {
            warnings.push(json!({
                "status": false,
                "code": INVALID_CHANNEL,
                "message": format!("channel {name}: Gateway error: this server has no gateway for it; the OTP was not sent on it"),
            }));
        }
    }
    warnings
}

/// No copy of the code went out: the send cap, the cooldown and the guard's caps are
/// Capillary's 429 "Rate limit exceeded"; a number the guard refuses is 8056; a failed
/// delivery 606.
fn not_generated(not_issued: NotIssued) -> Response {
    let (error, code, message) = match not_issued {
        NotIssued::Cooldown(_) | NotIssued::Limited(_) => (
            not_issued.into(),
            RATE_LIMITED,
            "Rate limit exceeded".to_owned(),
        ),
        NotIssued::Blocked(blocked) if blocked.reason.is_cap() => (
            not_issued.into(),
            RATE_LIMITED,
            "Rate limit exceeded".to_owned(),
        ),
        NotIssued::Blocked(blocked) => (
            ApiError::SmsRefused(blocked.reason.describe()),
            INVALID_MOBILE,
            format!("Invalid mobile: {}", blocked.reason.describe()),
        ),
        NotIssued::DeliveryFailed => (
            ApiError::DeliveryFailed,
            UNABLE_TO_GENERATE,
            "Unable to generate OTP at the moment: the message could not be delivered".to_owned(),
        ),
    };
    let body = json!({ "errors": [{ "status": false, "code": code, "message": message }] });
    let mut response = error.respond_with(&body);
    if code == INVALID_MOBILE {
        // Capillary answers a number it will not text as a bad request.
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    response
}

/// `POST /v2/otp/validate`: `{entityType, entityValue, code, action}` → `{entity, warnings}`.
#[utoipa::path(
    post,
    path = "/v2/otp/validate",
    operation_id = "capillary_validate",
    tag = "capillary",
    summary = "Validate a code (Capillary's shape)",
    description = "`entity: true` when the code is right; `false` with a 605 warning when it \
        is wrong, expired, locked, used or none is waiting.",
    request_body = ValidateRequest,
    responses(
        (status = 200, description = "Checked.", body = ValidateAnswer),
        (status = 400, description = "Request errors, every one at once (600–605, 8056).", body = CapillaryErrors),
        (status = 503, description = "The store is down, or the request took too long.", body = CapillaryErrors),
    )
)]
pub async fn validate(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    ObjectBody(body, _): Incoming,
) -> Response {
    let engine = state.app.engine.clone();
    let mut errors = Errors::default();
    let action = request::action(&body, &mut errors);
    let entity = request::entity(&body, &engine, &mut errors);
    let code = request::code(&body, &mut errors);
    let (Some(action), Some(entity), Some(code), true) = (action, entity, code, errors.is_empty())
    else {
        return bad_request(errors);
    };
    let scope = scope_of(caller, action, entity);
    let checked = finish(
        &state,
        async move { engine.check_code(&scope, &code).await },
    )
    .await;
    let reason = match checked.map(|c| c.checked) {
        Ok(Verdict::Valid) => {
            return Json(json!({ "entity": true, "warnings": [] })).into_response();
        }
        Ok(Verdict::Invalid { attempts_left, .. }) => {
            format!(
                "OTP is either invalid, expired, or null: {attempts_left} {} left",
                attempts_word(attempts_left)
            )
        }
        Ok(Verdict::Expired) => {
            "OTP is either invalid, expired, or null: it has expired".to_owned()
        }
        Ok(Verdict::Locked) => {
            "OTP is either invalid, expired, or null: too many invalid attempts, generate a new OTP"
                .to_owned()
        }
        Ok(Verdict::NoCode) => {
            "OTP is either invalid, expired, or null: none is waiting for this entity and action"
                .to_owned()
        }
        Err(error) => return envelope(error, None),
    };
    Json(json!({
        "entity": false,
        "warnings": [{ "status": false, "code": INVALID_OTP, "message": reason }],
    }))
    .into_response()
}

/// A number for `createdId`: the low 48 bits of the code's id (Capillary's is a long).
fn created_id(otp_id: &str) -> u64 {
    let hex: String = otp_id.chars().filter(char::is_ascii_hexdigit).collect();
    let tail = hex.get(hex.len().saturating_sub(12)..).unwrap_or("");
    u64::from_str_radix(tail, 16).unwrap_or(0)
}

/// `error` in Capillary's envelope: its status and headers (`Retry-After`), with `code` (or
/// the HTTP status) and the message in `errors[]`.
fn envelope(error: ApiError, code: Option<u32>) -> Response {
    let (status, _, message) = error.parts();
    let code = code.unwrap_or_else(|| u32::from(status.as_u16()));
    let body = json!({ "errors": [{ "status": false, "code": code, "message": message }] });
    error.respond_with(&body)
}

/// "attempt" or "attempts", for the seed APIs' messages.
fn attempts_word(count: impl Into<u64>) -> &'static str {
    if count.into() == 1 {
        "attempt"
    } else {
        "attempts"
    }
}
