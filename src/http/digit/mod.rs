//! eGov DIGIT's shapes (`otp_api.digit`): egov-otp's `POST /otp/v1/_create`, `_validate` and
//! `_search` (`otp.rs`) and user-otp's `POST /user-otp/v1/_send` (`user_otp.rs`), over the same
//! codes as `/v1/otp` (`engine::codes`).
//!
//! As egov-otp does, a code is kept under the state-level tenant (`pb.amritsar` → `pb`): DIGIT's
//! citizen flow creates a code at city level and validates it at state level. The tenant is
//! the code's purpose (`digit:pb`); the identity is an email address or a mobile number (read
//! in `dialogs.phone_region`), and the code goes there. Errors use DIGIT's
//! `{"responseInfo": null, "error": {code, message, description, fields}}` with egov-otp's and
//! user-otp's own codes and messages.

mod otp;
mod schema;
mod user_otp;

// `routes!` finds each handler's description beside it (`__path_…`).
pub use otp::{__path_create, __path_search, __path_validate, create, search, validate};
pub use user_otp::{__path_send, send};

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::address::{EmailAddr, PhoneAddr, PhoneError, Recipient};

use super::error::ApiError;
use super::otp_api::{Envelope, ObjectBody};

/// Unreadable bodies are answered in this route's envelope.
pub struct Digit;

impl Envelope for Digit {
    fn wrap(error: ApiError) -> Response {
        envelope(error)
    }
}

type Incoming = ObjectBody<Digit>;

const TENANT_MANDATORY: (&str, &str, &str) = (
    "OTP.TENANT_ID_MANDATORY",
    "Tenant field is mandatory",
    "otp.tenantId",
);

/// Field errors collected while reading a request, answered at once under one message.
#[derive(Default)]
struct Fields(Vec<Value>);

impl Fields {
    fn add(&mut self, (code, message, field): (&str, &str, &str)) {
        self.0
            .push(json!({ "code": code, "message": message, "field": field }));
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// 400 with DIGIT's `message` for the request (`Invalid OTP request`, …).
    fn into_response(self, message: &str) -> Response {
        failure(StatusCode::BAD_REQUEST, message, None, &self.0)
    }
}

/// What the requests carry under `otp`.
struct Otp<'a> {
    fields: &'a Map<String, Value>,
}

impl<'a> Otp<'a> {
    fn of(body: &'a Map<String, Value>) -> Option<Self> {
        body.get("otp")
            .and_then(Value::as_object)
            .map(|fields| Self { fields })
    }

    /// A present, non-blank text field. A number counts as its digits, as Jackson reads a
    /// number into a `String` field.
    fn text(&self, name: &str) -> Option<String> {
        match self.fields.get(name) {
            Some(Value::String(text)) if !text.trim().is_empty() => Some(text.clone()),
            Some(Value::Number(number)) if number.is_u64() => Some(number.to_string()),
            _ => None,
        }
    }
}

/// `tenantId`: 1–64 letters, digits and `. _ -` (`pb.amritsar`); else
/// `OTP.TENANT_ID_MANDATORY`.
fn tenant(otp: Option<&Otp<'_>>, fields: &mut Fields) -> Option<String> {
    let tenant = otp.and_then(|otp| otp.text("tenantId")).filter(|t| {
        t.len() <= 64
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    });
    if tenant.is_none() {
        fields.add(TENANT_MANDATORY);
    }
    tenant
}

/// The state-level tenant codes are kept under: `pb.amritsar` → `pb`, as egov-otp cuts it.
fn state_level(tenant: &str) -> &str {
    tenant.split('.').next().unwrap_or(tenant)
}

/// The purpose DIGIT codes of a state-level tenant are kept under.
fn purpose(state_tenant: &str) -> String {
    format!("{PURPOSE_PREFIX}{state_tenant}")
}

/// Every DIGIT purpose starts so; another shape's codes are not DIGIT's.
const PURPOSE_PREFIX: &str = "digit:";

/// An identity as a recipient: an email address, or a mobile number in `region`.
fn recipient(
    identity: &str,
    region: Option<phonenumber::country::Id>,
) -> Result<Recipient, PhoneError> {
    if identity.contains('@') {
        return EmailAddr::parse(identity)
            .map(Recipient::Email)
            .map_err(|_| PhoneError::Invalid);
    }
    PhoneAddr::parse(identity, region).map(Recipient::Phone)
}

fn failure(
    status: StatusCode,
    message: &str,
    description: Option<&str>,
    fields: &[Value],
) -> Response {
    (status, Json(body(status, message, description, fields))).into_response()
}

fn body(status: StatusCode, message: &str, description: Option<&str>, fields: &[Value]) -> Value {
    json!({
        "responseInfo": null,
        "error": {
            "code": status.as_u16(),
            "message": message,
            "description": description,
            "fields": fields,
        },
    })
}

/// `error` in DIGIT's envelope, keeping its status and headers (`Retry-After`); this
/// server's code (`otp_cooldown`, …) goes in `fields`.
fn envelope(error: ApiError) -> Response {
    let (status, code, message) = error.parts();
    let fields = vec![json!({ "code": code, "message": message, "field": "" })];
    let body = body(status, &message, Some(&message), &fields);
    error.respond_with(&body)
}
