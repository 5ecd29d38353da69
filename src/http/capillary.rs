//! Capillary's OTP API shape (`otp_api.capillary`): `POST /v2/otp/generate` and
//! `POST /v2/otp/validate` over the same codes as `/v1/otp` (`engine::codes`).
//!
//! The body is read field by field so that every problem is reported at once, in Capillary's
//! `{"errors": [{"status": false, "code": 60x, "message": …}]}`. Codes go by email only; the
//! action is the code's purpose. Deviations from Capillary are listed in the README.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::address::{EmailAddr, Recipient};
use crate::dialog::model::EmailTemplate;
use crate::dialog::template::Template;
use crate::engine::Destination;
use crate::otp::Verdict;

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use super::handlers::finish;
use super::otp_api::{Envelope, ObjectBody, check_code_field};

/// The actions Capillary accepts (compared case-insensitively).
const ACTIONS: &[&str] = &[
    "COUPON",
    "POINTS",
    "REGISTRATION",
    "USERGROUP",
    "SUBSCRIPTION",
    "GENERIC",
    "POINTSTRANSFER",
    "CUSTOMER_STATUS_UPDATE",
    "CUSTOMER_IDENTIFIER_CHANGE",
    "CUSTOMER_ISSUE_LINK_CARD",
];

/// Channels Capillary has that this server does not deliver on.
const OTHER_CHANNELS: &[&str] = &["SMS", "MOBILE", "PHONE", "WHATSAPP", "ZALO"];

const INVALID_ACTION: u32 = 600;
const INVALID_ENTITY_TYPE: u32 = 601;
const INVALID_ENTITY_VALUE: u32 = 602;
const INVALID_CHANNEL: u32 = 603;
const NO_OTP: u32 = 604;
const INVALID_OTP: u32 = 605;
const UNABLE_TO_GENERATE: u32 = 606;
const TEMPLATE_FAILURE: u32 = 608;
/// The longest subject an API caller may set.
const MAX_SUBJECT_CHARS: usize = 200;

/// Unreadable bodies are answered in this route's envelope.
pub struct Capillary;

impl Envelope for Capillary {
    fn wrap(error: ApiError) -> Response {
        envelope(error, None)
    }
}

type Incoming = ObjectBody<Capillary>;

/// Capillary's error entries, collected while reading a request.
#[derive(Default)]
struct Errors(Vec<Value>);

impl Errors {
    fn add(&mut self, code: u32, message: impl Into<String>) {
        self.0
            .push(json!({ "status": false, "code": code, "message": message.into() }));
    }

    fn into_response(self) -> Response {
        (StatusCode::BAD_REQUEST, Json(json!({ "errors": self.0 }))).into_response()
    }
}

/// `POST /v2/otp/generate`: `{entityType, entityValue, action, emailTemplate?, channels?}` →
/// `{createdId, warnings}`.
pub async fn generate(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    ObjectBody(body, _): Incoming,
) -> Response {
    let mut errors = Errors::default();
    let (action, entity) = action_and_entity(
        &body,
        &mut errors,
        INVALID_CHANNEL,
        "MOBILE entities are verified by SMS, which this server does not send: only the EMAIL channel is supported",
    );
    let address = match entity {
        Some(Entity::Email(address)) => Some(address),
        _ => None,
    };
    channels(&body, address.as_ref(), &mut errors);
    let template = email_template(&body, &mut errors);
    let (Some(action), Some(address), true) = (action, address, errors.0.is_empty()) else {
        return errors.into_response();
    };
    let scope = super::otp_api::scope_of(caller, action, Recipient::Email(address.clone()));
    let engine = state.app.engine.clone();
    let issued = finish(&state, async move {
        let to = [Destination::Email {
            to: address,
            template: template.as_ref(),
        }];
        engine.issue_code(&scope, &to, None).await
    })
    .await;
    match issued {
        Ok(Ok(issued)) => {
            let mut warnings = Vec::new();
            if issued.replaced_live_code {
                warnings.push(json!({
                    "status": true,
                    "code": "OTP_REPLACED",
                    "message": "an unexpired OTP had been generated for this entity and action; it was replaced by a new one, which was sent",
                }));
            }
            Json(json!({ "createdId": created_id(&issued.otp_id), "warnings": warnings }))
                .into_response()
        }
        // Cooldown, send cap and failed delivery are all Capillary's "unable to generate".
        Ok(Err(not_issued)) => envelope(not_issued.into(), Some(UNABLE_TO_GENERATE)),
        Err(error) => envelope(error, None),
    }
}

/// `POST /v2/otp/validate`: `{entityType, entityValue, code, action}` → `{entity, warnings}`.
pub async fn validate(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    ObjectBody(body, _): Incoming,
) -> Response {
    let mut errors = Errors::default();
    let (action, entity) = action_and_entity(
        &body,
        &mut errors,
        INVALID_ENTITY_TYPE,
        "MOBILE entities are not supported by this server: codes are sent by EMAIL only",
    );
    let code = match body.get("code") {
        Some(Value::String(code)) if check_code_field(code).is_ok() => Some(code.clone()),
        Some(Value::String(code)) if !code.is_empty() => {
            errors.add(INVALID_OTP, "the OTP is longer than any this server issues");
            None
        }
        _ => {
            errors.add(NO_OTP, "no OTP passed: `code` must be a non-empty string");
            None
        }
    };
    let (Some(action), Some(Entity::Email(address)), Some(code), true) =
        (action, entity, code, errors.0.is_empty())
    else {
        return errors.into_response();
    };
    let scope = super::otp_api::scope_of(caller, action, Recipient::Email(address));
    let engine = state.app.engine.clone();
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
                "invalid OTP: {attempts_left} {} left",
                attempts_word(attempts_left)
            )
        }
        Ok(Verdict::Expired) => "the OTP has expired".to_owned(),
        Ok(Verdict::Locked) => "too many invalid attempts: generate a new OTP".to_owned(),
        Ok(Verdict::NoCode) => "no OTP is waiting for this entity and action".to_owned(),
        Err(error) => return envelope(error, None),
    };
    Json(json!({
        "entity": false,
        "warnings": [{ "status": false, "code": INVALID_OTP, "message": reason }],
    }))
    .into_response()
}

enum Entity {
    Email(EmailAddr),
    Mobile,
}

/// `action`, `entityType` and `entityValue`; a MOBILE entity is the error `mobile`.
fn action_and_entity(
    body: &Map<String, Value>,
    errors: &mut Errors,
    mobile: u32,
    why: &str,
) -> (Option<String>, Option<Entity>) {
    let action = action(body, errors);
    let entity = entity(body, errors);
    if let Some(Entity::Mobile) = entity {
        errors.add(mobile, why);
    }
    (action, entity)
}

/// `action`, upper-cased, when it is one of Capillary's.
fn action(body: &Map<String, Value>, errors: &mut Errors) -> Option<String> {
    let action = body
        .get("action")
        .and_then(Value::as_str)
        .map(str::to_ascii_uppercase)
        .filter(|a| ACTIONS.contains(&a.as_str()));
    if action.is_none() {
        errors.add(
            INVALID_ACTION,
            format!(
                "invalid or missing action: expected one of {}",
                ACTIONS.join(", ")
            ),
        );
    }
    action
}

/// `entityType` and `entityValue`.
fn entity(body: &Map<String, Value>, errors: &mut Errors) -> Option<Entity> {
    let kind = body
        .get("entityType")
        .and_then(Value::as_str)
        .map(str::to_ascii_uppercase);
    let value = body.get("entityValue").and_then(Value::as_str);
    match kind.as_deref() {
        Some("EMAIL") => match value.map(EmailAddr::parse) {
            Some(Ok(address)) => Some(Entity::Email(address)),
            _ => {
                errors.add(
                    INVALID_ENTITY_VALUE,
                    "invalid or missing entityValue: expected an email address",
                );
                None
            }
        },
        Some("MOBILE") => {
            let digits = value.map_or(0, |v| v.chars().filter(char::is_ascii_digit).count());
            let plausible =
                value.is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || "+- ".contains(c)));
            if !plausible || !(6..=15).contains(&digits) {
                errors.add(
                    INVALID_ENTITY_VALUE,
                    "invalid or missing entityValue: expected a mobile number",
                );
            }
            Some(Entity::Mobile)
        }
        _ => {
            errors.add(
                INVALID_ENTITY_TYPE,
                "invalid or missing entityType: expected EMAIL or MOBILE",
            );
            if value.is_none_or(str::is_empty) {
                errors.add(INVALID_ENTITY_VALUE, "missing entityValue");
            }
            None
        }
    }
}

/// `channels`: only EMAIL, to the entity's own address.
fn channels(body: &Map<String, Value>, address: Option<&EmailAddr>, errors: &mut Errors) {
    let Some(channels) = body.get("channels") else {
        return;
    };
    let Some(channels) = channels.as_array() else {
        errors.add(
            INVALID_CHANNEL,
            "channels must be a list of {\"type\", \"value\"}",
        );
        return;
    };
    for channel in channels {
        let kind = channel
            .get("type")
            .and_then(Value::as_str)
            .map(str::to_ascii_uppercase);
        match kind.as_deref() {
            Some("EMAIL") => {
                let value = channel.get("value");
                let same = match (value, address) {
                    // No address to compare with: the entity's own error says why.
                    (None | Some(Value::Null), _) | (Some(Value::String(_)), None) => true,
                    (Some(Value::String(v)), Some(address)) => {
                        EmailAddr::parse(v).is_ok_and(|v| v.limit_key() == address.limit_key())
                    }
                    _ => false,
                };
                if !same {
                    errors.add(
                        INVALID_CHANNEL,
                        "an EMAIL channel's value must be the entityValue address",
                    );
                }
            }
            Some(other) if OTHER_CHANNELS.contains(&other) => errors.add(
                INVALID_CHANNEL,
                format!("channel {other} is not supported: this server sends OTPs by EMAIL only"),
            ),
            _ => errors.add(
                INVALID_CHANNEL,
                "invalid channel type: expected EMAIL (the only channel this server supports)",
            ),
        }
    }
}

/// `emailTemplate: {subject, body}`, the body holding `{{ validation_code }}`.
fn email_template(body: &Map<String, Value>, errors: &mut Errors) -> Option<EmailTemplate> {
    let template = body.get("emailTemplate").filter(|t| !t.is_null())?;
    let subject = template.get("subject").and_then(Value::as_str);
    // A subject is one header line: a CR or LF in it could start another header.
    if subject
        .is_some_and(|s| s.chars().any(char::is_control) || s.chars().count() > MAX_SUBJECT_CHARS)
    {
        errors.add(
            TEMPLATE_FAILURE,
            format!("emailTemplate.subject must be one line of at most {MAX_SUBJECT_CHARS} characters, without control characters"),
        );
        return None;
    }
    let text = template.get("body").and_then(Value::as_str);
    let compiled = text.map(Template::compile);
    match (subject, compiled) {
        (Some(subject), Some(Ok(text)))
            if text
                .variables()
                .any(|v| v == "validation_code" || v == "code") =>
        {
            Some(EmailTemplate {
                subject: Template::literal(subject),
                text,
                html: None,
                provider_template_id: None,
            })
        }
        _ => {
            errors.add(
                TEMPLATE_FAILURE,
                "emailTemplate needs a subject and a body containing {{ validation_code }}",
            );
            None
        }
    }
}

/// A number for `createdId`: the low 48 bits of the code's id (Capillary's is a long).
fn created_id(otp_id: &str) -> u64 {
    let tail = otp_id.get(otp_id.len().saturating_sub(12)..).unwrap_or("");
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
pub(super) fn attempts_word(count: impl Into<u64>) -> &'static str {
    if count.into() == 1 {
        "attempt"
    } else {
        "attempts"
    }
}
