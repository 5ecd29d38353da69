//! egov-otp: `POST /otp/v1/_create`, `_validate` and `_search`, with egov-otp's messages
//! (`TokenRequestErrorAdapter`, `TokenValidationRequestErrorAdapter`,
//! `TokenSearchErrorAdapter`, `TokenValidationFailureAdapter`).
//!
//! Unlike egov-otp, `_create` never returns the code: it sends it to the identity (an email
//! address, or a mobile number by SMS).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::address::Recipient;
use crate::engine::{Destination, SmsText};
use crate::otp::{CodeStatus, Verdict};

use super::super::AppState;
use super::super::auth::Caller;
use super::super::handlers::finish;
use super::super::otp_api::{ObjectBody, caller_client, check_code_field, scope_of};
use super::schema::{
    CreateRequest, DigitErrors, SearchAnswer, SearchRequest, TokenAnswer, ValidateRequest,
};
use super::{
    Fields, Incoming, Otp, PURPOSE_PREFIX, envelope, failure, purpose, recipient, state_level,
    tenant,
};

const IDENTITY_MANDATORY: (&str, &str, &str) = (
    "OTP.IDENTITY_MANDATORY",
    "Identity field is mandatory",
    "otp.identity",
);
const OTP_MANDATORY: (&str, &str, &str) =
    ("OTP.OTP_MANDATORY", "Otp field is mandatory", "otp.otp");
const UUID_MANDATORY: (&str, &str, &str) =
    ("OTP.UUID_MANDATORY", "UUID field is mandatory", "otp.uuid");
/// This server's own: an identity it cannot send a code to.
const IDENTITY_INVALID: (&str, &str, &str) = (
    "OTP.IDENTITY_INVALID",
    "Identity must be an email address or a mobile number",
    "otp.identity",
);
const VALIDATION_FAILED: (&str, &str, &str) = (
    "OTP.VALIDATION_UNSUCCESSFUL",
    "OTP validation unsuccessful",
    "otp.otp",
);

/// `POST /otp/v1/_create`: `{otp: {identity, tenantId}}` → 201 with the code's `UUID`, the
/// code sent to the identity (never in the answer).
#[utoipa::path(
    post,
    path = "/otp/v1/_create",
    operation_id = "digit_create",
    tag = "digit",
    summary = "Create and send a code (eGov DIGIT's shape)",
    description = "Sends a code to the identity: an email address, or a mobile number it is \
        texted to through the SMS sender and the toll-fraud guard. The code is never in the \
        answer (`otp.otp` is null). It is kept under the state-level tenant \
        (`pb.amritsar` → `pb`); a new `_create` replaces the previous code.",
    request_body = CreateRequest,
    responses(
        (status = 201, description = "Sent.", body = TokenAnswer),
        (status = 400, description = "`Invalid OTP request`: field errors, one entry each (`OTP.TENANT_ID_MANDATORY`, `OTP.IDENTITY_MANDATORY`, `OTP.IDENTITY_INVALID`).", body = DigitErrors),
        (status = 429, description = "`otp_cooldown`, `send_limited` or `sms_throttled`.", body = DigitErrors,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 502, description = "`delivery_failed`.", body = DigitErrors),
        (status = 503, description = "`timeout` or `unavailable`.", body = DigitErrors),
    )
)]
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    ObjectBody(body, _): Incoming,
) -> Response {
    let otp = Otp::of(&body);
    // egov-otp lists the tenant first, then the identity.
    let mut fields = Fields::default();
    let tenant = tenant(otp.as_ref(), &mut fields);
    let identity = otp.as_ref().and_then(|otp| otp.text("identity"));
    if identity.is_none() {
        fields.add(IDENTITY_MANDATORY);
    }
    let engine = state.app.engine.clone();
    let to = identity
        .as_deref()
        .map(|identity| recipient(identity, engine.phone_region()));
    let to = match to {
        Some(Ok(Recipient::Phone(number))) if engine.sms_destination(&number).is_err() => None,
        Some(Ok(to)) => Some(to),
        Some(Err(_)) => None,
        None => return fields.into_response("Invalid OTP request"),
    };
    if to.is_none() {
        fields.add(IDENTITY_INVALID);
    }
    let (Some(tenant), Some(identity), Some(to), true) = (tenant, identity, to, fields.is_empty())
    else {
        return fields.into_response("Invalid OTP request");
    };
    let tenant = state_level(&tenant).to_owned();
    let scope = scope_of(caller, purpose(&tenant), to.clone());
    let shown = identity.clone();
    let issued = finish(&state, async move {
        let destination = match to {
            Recipient::Email(address) => Destination::Email {
                to: address,
                template: None,
            },
            Recipient::Phone(number) => Destination::Sms {
                to: number,
                text: SmsText::Standard,
            },
        };
        engine
            .issue_code(&scope, &[destination], Some(&shown))
            .await
    })
    .await;
    match issued {
        Ok(Ok(issued)) => (
            StatusCode::CREATED,
            Json(token(None, &issued.otp_id, &identity, &tenant, false)),
        )
            .into_response(),
        Ok(Err(not_issued)) => envelope(not_issued.into()),
        Err(error) => envelope(error),
    }
}

/// `POST /otp/v1/_validate`: `{otp: {otp, identity, tenantId}}` → 200 with
/// `isValidationSuccessful: true` and the code echoed in `otp.otp` (user-otp reads it), or
/// 400 `OTP.VALIDATION_UNSUCCESSFUL`.
#[utoipa::path(
    post,
    path = "/otp/v1/_validate",
    operation_id = "digit_validate",
    tag = "digit",
    summary = "Validate a code (eGov DIGIT's shape)",
    description = "The code is checked under the state-level tenant, so a code created for \
        `pb.amritsar` validates at `pb`. Right: 200 with the code echoed in `otp.otp`.",
    request_body = ValidateRequest,
    responses(
        (status = 200, description = "Right: `isValidationSuccessful` is true and `otp.otp` echoes the code.", body = TokenAnswer),
        (status = 400, description = "`Invalid OTP validation request` with field errors, or `OTP validation unsuccessful` (`OTP.VALIDATION_UNSUCCESSFUL`) for a code that is wrong, expired, used, locked or none.", body = DigitErrors),
        (status = 503, description = "`timeout` or `unavailable`.", body = DigitErrors),
    )
)]
pub async fn validate(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    ObjectBody(body, _): Incoming,
) -> Response {
    let otp = Otp::of(&body);
    // egov-otp lists the tenant, the identity, then the code.
    let mut fields = Fields::default();
    let tenant = tenant(otp.as_ref(), &mut fields);
    let identity = otp.as_ref().and_then(|otp| otp.text("identity"));
    if identity.is_none() {
        fields.add(IDENTITY_MANDATORY);
    }
    let code = otp
        .as_ref()
        .and_then(|otp| otp.text("otp"))
        .filter(|code| check_code_field(code).is_ok());
    if code.is_none() {
        fields.add(OTP_MANDATORY);
    }
    let (Some(tenant), Some(identity), Some(code), true) =
        (tenant, identity, code, fields.is_empty())
    else {
        return fields.into_response("Invalid OTP validation request");
    };
    let engine = state.app.engine.clone();
    // No code was ever sent to an identity that is neither an address nor a number.
    let Ok(to) = recipient(&identity, engine.phone_region()) else {
        return unsuccessful();
    };
    let tenant = state_level(&tenant).to_owned();
    let scope = scope_of(caller, purpose(&tenant), to);
    let entered = code.clone();
    let checked = finish(
        &state,
        async move { engine.check_code(&scope, &entered).await },
    )
    .await;
    match checked {
        Ok(check) if check.checked == Verdict::Valid => {
            let otp_id = check.otp_id.unwrap_or_default();
            Json(token(Some(&code), &otp_id, &identity, &tenant, true)).into_response()
        }
        // Wrong, expired, used up, locked or none: egov-otp has one answer for them all.
        Ok(_) => unsuccessful(),
        Err(error) => envelope(error),
    }
}

/// `POST /otp/v1/_search`: `{otp: {UUID, tenantId}}` → 200 with the code's
/// `isValidationSuccessful`, or 200 `{"otp": null}` for a UUID that names no code. As in
/// egov-otp, the tenant must be given but the UUID alone finds the code.
#[utoipa::path(
    post,
    path = "/otp/v1/_search",
    operation_id = "digit_search",
    tag = "digit",
    summary = "Look a code up (eGov DIGIT's shape)",
    description = "Finds a code by its `UUID` alone (the tenant must be given, as in \
        egov-otp); `otp` is null when the UUID names no code.",
    request_body = SearchRequest,
    responses(
        (status = 200, description = "The code's state, or `otp: null`.", body = SearchAnswer),
        (status = 400, description = "`Invalid OTP search request`: field errors (`OTP.UUID_MANDATORY`, `OTP.TENANT_ID_MANDATORY`).", body = DigitErrors),
        (status = 503, description = "`timeout` or `unavailable`.", body = DigitErrors),
    )
)]
pub async fn search(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    ObjectBody(body, _): Incoming,
) -> Response {
    let otp = Otp::of(&body);
    // egov-otp lists the UUID first, then the tenant. Its request classes name the field
    // `UUID`; its test fixtures send `uuid`: either is read.
    let mut fields = Fields::default();
    let uuid = otp
        .as_ref()
        .and_then(|otp| otp.text("UUID").or_else(|| otp.text("uuid")));
    if uuid.is_none() {
        fields.add(UUID_MANDATORY);
    }
    let tenant = tenant(otp.as_ref(), &mut fields);
    let (Some(uuid), Some(_), true) = (uuid, tenant, fields.is_empty()) else {
        return fields.into_response("Invalid OTP search request");
    };
    let client = caller_client(caller);
    let found = state.app.engine.code(&uuid, client.as_deref()).await;
    match found {
        Ok(Some(view)) if view.purpose.starts_with(PURPOSE_PREFIX) => {
            let tenant = &view.purpose[PURPOSE_PREFIX.len()..];
            let validated = view.status == CodeStatus::Used;
            Json(token(None, &uuid, &view.identity, tenant, validated)).into_response()
        }
        Ok(_) => Json(json!({ "responseInfo": null, "otp": null })).into_response(),
        Err(error) => envelope(error.into()),
    }
}

/// egov-otp's token answer; `otp` is the code only where the caller gave it (`_validate`).
fn token(code: Option<&str>, uuid: &str, identity: &str, tenant: &str, validated: bool) -> Value {
    json!({
        "responseInfo": null,
        "otp": {
            "otp": code,
            "UUID": uuid,
            "identity": identity,
            "tenantId": tenant,
            "isValidationSuccessful": validated,
        },
    })
}

/// egov-otp's one answer to a code that does not validate.
fn unsuccessful() -> Response {
    let mut fields = Fields::default();
    fields.add(VALIDATION_FAILED);
    failure(
        StatusCode::BAD_REQUEST,
        "OTP validation unsuccessful",
        None,
        &fields.0,
    )
}
