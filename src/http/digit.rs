//! eGov DIGIT's egov-otp shape (`otp_api.digit`): `POST /otp/v1/_create`, `_validate` and
//! `_search` over the same codes as `/v1/otp` (`engine::codes`).
//!
//! The identity must be an email address: `_create` emails the code there and, unlike
//! egov-otp, never returns it. The tenant is the code's purpose (`digit:<tenantId>`). Errors
//! use DIGIT's `{"responseInfo": null, "error": {code, message, description, fields}}`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::address::{EmailAddr, Recipient};
use crate::engine::Destination;
use crate::otp::CodeStatus;
use crate::otp::Verdict;

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use super::handlers::finish;
use super::otp_api::{Envelope, ObjectBody, check_code_field, scope_of};

/// Unreadable bodies are answered in this route's envelope.
pub struct Digit;

impl Envelope for Digit {
    fn wrap(error: ApiError) -> Response {
        envelope(error)
    }
}

type Incoming = ObjectBody<Digit>;

/// Field errors collected while reading a request.
#[derive(Default)]
struct Fields(Vec<Value>);

impl Fields {
    fn add(&mut self, code: &str, message: &str, field: &str) {
        self.0
            .push(json!({ "code": code, "message": message, "field": field }));
    }

    fn into_response(self) -> Response {
        failure(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "the request has invalid fields",
            &self.0,
        )
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

    fn text(&self, name: &str) -> Option<&'a str> {
        self.fields
            .get(name)
            .and_then(Value::as_str)
            .filter(|v| !v.trim().is_empty())
    }
}

/// `POST /otp/v1/_create`: `{otp: {identity, tenantId}}` → 201, the code emailed to the
/// identity (never in the answer).
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    ObjectBody(body, _): Incoming,
) -> Response {
    let mut fields = Fields::default();
    let (identity, tenant) = identity_and_tenant(Otp::of(&body).as_ref(), &mut fields);
    let address = identity.and_then(|identity| match EmailAddr::parse(identity) {
        Ok(address) => Some(address),
        Err(_) => {
            fields.add(
                "OTP.IDENTITY_NOT_EMAIL",
                "this server delivers OTPs by email: identity must be an email address",
                "otp.identity",
            );
            None
        }
    });
    let (Some(address), Some(tenant), true) = (address, tenant, fields.0.is_empty()) else {
        return fields.into_response();
    };
    let identity = address.as_str().to_owned();
    let scope = scope_of(caller, purpose(tenant), Recipient::Email(address.clone()));
    let engine = state.app.engine.clone();
    let shown = identity.clone();
    let issued = finish(&state, async move {
        let to = [Destination::Email {
            to: address,
            template: None,
        }];
        engine.issue_code(&scope, &to, Some(&shown)).await
    })
    .await;
    match issued {
        Ok(Ok(issued)) => (
            StatusCode::CREATED,
            Json(token(&issued.otp_id, &identity, tenant, false)),
        )
            .into_response(),
        Ok(Err(not_issued)) => envelope(not_issued.into()),
        Err(error) => envelope(error),
    }
}

/// `POST /otp/v1/_validate`: `{otp: {otp, identity, tenantId}}` → 200 with
/// `isValidationSuccessful: true`, or 400 `OTP.VALIDATION_UNSUCCESSFUL`.
pub async fn validate(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    ObjectBody(body, _): Incoming,
) -> Response {
    let mut fields = Fields::default();
    let otp = Otp::of(&body);
    let (identity, tenant) = identity_and_tenant(otp.as_ref(), &mut fields);
    let code = otp
        .as_ref()
        .and_then(|otp| otp.text("otp"))
        .filter(|code| check_code_field(code).is_ok());
    if code.is_none() {
        fields.add("OTP.OTP_MANDATORY", "otp is mandatory", "otp.otp");
    }
    let (Some(identity), Some(tenant), Some(code), true) =
        (identity, tenant, code, fields.0.is_empty())
    else {
        return fields.into_response();
    };
    // No code was ever sent to an identity that is not an address.
    let Ok(address) = EmailAddr::parse(identity) else {
        return unsuccessful("no OTP is waiting for this identity");
    };
    let scope = scope_of(caller, purpose(tenant), Recipient::Email(address));
    let engine = state.app.engine.clone();
    let code = code.to_owned();
    let checked = finish(
        &state,
        async move { engine.check_code(&scope, &code).await },
    )
    .await;
    let check = match checked {
        Ok(check) => check,
        Err(error) => return envelope(error),
    };
    let reason = match check.checked {
        Verdict::Valid => {
            let otp_id = check.otp_id.unwrap_or_default();
            return Json(token(&otp_id, identity, tenant, true)).into_response();
        }
        Verdict::Invalid { attempts_left, .. } => {
            format!(
                "wrong OTP: {attempts_left} {} left",
                super::capillary::attempts_word(attempts_left)
            )
        }
        Verdict::Expired => "the OTP has expired".to_owned(),
        Verdict::Locked => "too many wrong attempts: create a new OTP".to_owned(),
        Verdict::NoCode => "no OTP is waiting for this identity".to_owned(),
    };
    unsuccessful(&reason)
}

/// `POST /otp/v1/_search`: `{otp: {UUID, tenantId}}` → the code's `isValidationSuccessful`.
pub async fn search(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    ObjectBody(body, _): Incoming,
) -> Response {
    let mut fields = Fields::default();
    let otp = Otp::of(&body);
    let uuid = otp.as_ref().and_then(|otp| otp.text("UUID"));
    if uuid.is_none() {
        fields.add("OTP.UUID_MANDATORY", "UUID is mandatory", "otp.UUID");
    }
    let tenant = tenant(otp.as_ref(), &mut fields);
    let (Some(uuid), Some(tenant), true) = (uuid, tenant, fields.0.is_empty()) else {
        return fields.into_response();
    };
    let client = caller.and_then(|Extension(Caller(client))| client);
    let found = state.app.engine.code(uuid, client.as_deref()).await;
    match found {
        Ok(Some(view)) if view.purpose == purpose(tenant) => Json(token(
            uuid,
            &view.identity,
            tenant,
            view.status == CodeStatus::Used,
        ))
        .into_response(),
        Ok(_) => {
            let mut fields = Fields::default();
            fields.add(
                "OTP.NOT_FOUND",
                "no OTP with this UUID (it may have been replaced or expired)",
                "otp.UUID",
            );
            fields.into_response()
        }
        Err(error) => envelope(error.into()),
    }
}

/// The purpose DIGIT codes of `tenant` are kept under.
fn purpose(tenant: &str) -> String {
    format!("digit:{tenant}")
}

fn identity_and_tenant<'a>(
    otp: Option<&Otp<'a>>,
    fields: &mut Fields,
) -> (Option<&'a str>, Option<&'a str>) {
    let identity = otp.and_then(|otp| otp.text("identity"));
    if identity.is_none() {
        fields.add(
            "OTP.IDENTITY_MANDATORY",
            "identity is mandatory",
            "otp.identity",
        );
    }
    (identity, tenant(otp, fields))
}

/// `tenantId`: 1–64 letters, digits and `. _ -` (`pb.amritsar`).
fn tenant<'a>(otp: Option<&Otp<'a>>, fields: &mut Fields) -> Option<&'a str> {
    let tenant = otp.and_then(|otp| otp.text("tenantId")).filter(|t| {
        t.len() <= 64
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    });
    if tenant.is_none() {
        fields.add(
            "OTP.TENANT_ID_MANDATORY",
            "tenantId is mandatory (letters, digits and . _ -)",
            "otp.tenantId",
        );
    }
    tenant
}

/// DIGIT's token answer; `otp` (the code) is always null here.
fn token(uuid: &str, identity: &str, tenant: &str, validated: bool) -> Value {
    json!({
        "responseInfo": null,
        "otp": {
            "otp": null,
            "UUID": uuid,
            "identity": identity,
            "tenantId": tenant,
            "isValidationSuccessful": validated,
        },
    })
}

fn unsuccessful(reason: &str) -> Response {
    let mut fields = Fields::default();
    fields.add(
        "OTP.VALIDATION_UNSUCCESSFUL",
        "OTP validation unsuccessful",
        "otp.otp",
    );
    failure(
        StatusCode::BAD_REQUEST,
        "OTP validation unsuccessful",
        reason,
        &fields.0,
    )
}

fn failure(status: StatusCode, message: &str, description: &str, fields: &[Value]) -> Response {
    (status, Json(body(status, message, description, fields))).into_response()
}

fn body(status: StatusCode, message: &str, description: &str, fields: &[Value]) -> Value {
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

/// `error` in DIGIT's envelope, keeping its status and headers (`Retry-After`); the native
/// code goes in `fields`.
fn envelope(error: ApiError) -> Response {
    let (status, code, message) = error.parts();
    let fields = vec![json!({ "code": code, "message": message, "field": null })];
    let body = body(status, &message, &message, &fields);
    error.respond_with(&body)
}
