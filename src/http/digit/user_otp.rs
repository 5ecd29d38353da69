//! user-otp: `POST /user-otp/v1/_send` `{RequestInfo, otp: {mobileNumber, tenantId, type,
//! userType}}` → 201 `{"responseInfo": null, "isSuccessful": true}`: a code made by the same
//! core as egov-otp's `_create` (so `/otp/v1/_validate` with the number as the identity checks
//! it), texted through the SMS sender (and the toll-fraud guard) in the words of DIGIT's
//! localisation messages for the request's type.
//!
//! Request errors are user-otp's (`OtpRequestErrorAdapter`): the tenant, the number and the
//! type, and the number's shape (digits only, 10 to 13 of them) except for a password reset,
//! plus `OTP.MOBILE_NUMBER_VALIDATION_FAILED` for a number that is no valid number (or one
//! the guard will not text). There is no user registry here, so the checks that a user
//! exists (or does not) are not made.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::address::{PhoneAddr, Recipient};
use crate::engine::{Destination, SmsText};
use crate::sms::BlockReason;

use super::super::AppState;
use super::super::auth::Caller;
use super::super::handlers::finish;
use super::super::otp_api::{ObjectBody, scope_of};
use super::schema::{DigitErrors, UserOtpRequest, UserOtpSent};
use super::{Fields, Incoming, Otp, envelope, purpose, state_level, tenant};

const MOBILE_MANDATORY: (&str, &str, &str) = (
    "OTP.MOBILE_NUMBER_MANDATORY",
    "Mobile number field is mandatory",
    "otp.mobileNumber",
);
const TYPE_MANDATORY: (&str, &str, &str) = (
    "OTP.REQUEST_TYPE_MANDATORY",
    "Request type (register, passwordreset,login) is mandatory",
    "otp.type",
);
const MOBILE_NOT_NUMERIC: (&str, &str, &str) = (
    "OTP.MOBILE_NUMBER_INVALID",
    "Mobile number field should be numeric.",
    "otp.mobileNumber",
);
const MOBILE_LENGTH: (&str, &str, &str) = (
    "OTP.MOBILE_NUMBER_INVALIDLENGTH",
    "Mobile number length should be min 10 and max 13 digits",
    "otp.mobileNumber",
);
const MOBILE_VALIDATION_FAILED: &str = "OTP.MOBILE_NUMBER_VALIDATION_FAILED";

/// What the code is for; user-otp's `OtpRequestType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Register,
    Login,
    PasswordReset,
}

impl Kind {
    /// user-otp's mapping: case-insensitive, and a missing or empty type is `register`.
    fn read(value: Option<&Value>) -> Option<Self> {
        match value {
            None | Some(Value::Null) => Some(Kind::Register),
            Some(Value::String(text)) if text.is_empty() => Some(Kind::Register),
            Some(Value::String(text)) => match text.to_ascii_lowercase().as_str() {
                "register" => Some(Kind::Register),
                "login" => Some(Kind::Login),
                "passwordreset" => Some(Kind::PasswordReset),
                _ => None,
            },
            Some(_) => None,
        }
    }

    /// The localisation key of the text (`OtpSMSRepository`).
    fn message_key(self) -> &'static str {
        match self {
            Kind::Register => "sms.register.otp.msg",
            Kind::Login => "sms.login.otp.msg",
            Kind::PasswordReset => "sms.pwd.reset.otp.msg",
        }
    }
}

/// `POST /user-otp/v1/_send`.
#[utoipa::path(
    post,
    path = "/user-otp/v1/_send",
    operation_id = "digit_user_otp_send",
    tag = "digit",
    summary = "Text a code to a mobile number (eGov DIGIT user-otp's shape)",
    description = "Makes a code as `/otp/v1/_create` does (kept under the state-level \
        tenant; `/otp/v1/_validate` with the number as the identity checks it) and texts it \
        through the SMS sender and the toll-fraud guard, in the words of DIGIT's localisation \
        message for the type (`otp_api.digit_messages`, by the locale of `RequestInfo.msgId`). \
        There is no user registry here: whether a user exists is not checked.",
    request_body = UserOtpRequest,
    responses(
        (status = 201, description = "Sent.", body = UserOtpSent),
        (status = 400, description = "`Invalid OTP request`: field errors, one entry each (`OTP.TENANT_ID_MANDATORY`, `OTP.MOBILE_NUMBER_MANDATORY`, `OTP.REQUEST_TYPE_MANDATORY`, `OTP.MOBILE_NUMBER_INVALID`, `OTP.MOBILE_NUMBER_INVALIDLENGTH`, `OTP.MOBILE_NUMBER_VALIDATION_FAILED`).", body = DigitErrors),
        (status = 429, description = "`otp_cooldown`, `send_limited` or `sms_throttled`.", body = DigitErrors,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 502, description = "`delivery_failed`.", body = DigitErrors),
        (status = 503, description = "`timeout` or `unavailable`.", body = DigitErrors),
    )
)]
pub async fn send(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    ObjectBody(body, _): Incoming,
) -> Response {
    let otp = Otp::of(&body);
    // user-otp lists the tenant, the number, the type, then the number's shape.
    let mut fields = Fields::default();
    let tenant = tenant(otp.as_ref(), &mut fields);
    let mobile = otp.as_ref().and_then(|otp| otp.text("mobileNumber"));
    if mobile.is_none() {
        fields.add(MOBILE_MANDATORY);
    }
    let kind = Kind::read(otp.as_ref().and_then(|otp| otp.fields.get("type")));
    if kind.is_none() {
        fields.add(TYPE_MANDATORY);
    }
    let engine = state.app.engine.clone();
    let number = check_number(
        mobile.as_deref().unwrap_or_default(),
        kind,
        engine.phone_region(),
        |number| {
            engine
                .sms_destination(number)
                .map_err(BlockReason::describe)
        },
        &mut fields,
    );
    let (Some(tenant), Some(mobile), Some(kind), Some(number), true) =
        (tenant, mobile, kind, number, fields.is_empty())
    else {
        return fields.into_response("Invalid OTP request");
    };
    let tenant_state = state_level(&tenant).to_owned();
    let scope = scope_of(
        caller,
        purpose(&tenant_state),
        Recipient::Phone(number.clone()),
    );
    let message = state
        .app
        .config
        .otp_api
        .digit_message(locale(&body).as_deref(), kind.message_key())
        .to_owned();
    let issued = finish(&state, async move {
        let to = [Destination::Sms {
            to: number,
            text: SmsText::Printf(&message),
        }];
        engine.issue_code(&scope, &to, Some(&mobile)).await
    })
    .await;
    match issued {
        Ok(Ok(_)) => (
            StatusCode::CREATED,
            Json(json!({ "responseInfo": null, "isSuccessful": true })),
        )
            .into_response(),
        Ok(Err(not_issued)) => envelope(not_issued.into()),
        Err(error) => envelope(error),
    }
}

/// The number, checked as user-otp checks it (digits only, 10 to 13, except for a password
/// reset, where it may be a user name), then read as a phone number and offered to the
/// guard. Each problem is a field error; `None` when there is any.
fn check_number(
    text: &str,
    kind: Option<Kind>,
    region: Option<phonenumber::country::Id>,
    guard: impl Fn(&PhoneAddr) -> Result<(), &'static str>,
    fields: &mut Fields,
) -> Option<PhoneAddr> {
    if kind != Some(Kind::PasswordReset) {
        let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        if !digits {
            fields.add(MOBILE_NOT_NUMERIC);
        }
        if !(digits && (10..=13).contains(&text.len())) {
            fields.add(MOBILE_LENGTH);
        }
        if !fields.is_empty() {
            return None;
        }
    }
    if text.is_empty() {
        return None;
    }
    let failed = |fields: &mut Fields, why: &str| {
        fields.add((MOBILE_VALIDATION_FAILED, why, "otp.mobileNumber"));
        None
    };
    match PhoneAddr::parse(text, region) {
        Ok(number) => match guard(&number) {
            Ok(()) => Some(number),
            Err(why) => failed(fields, why),
        },
        Err(error) => failed(fields, &format!("Mobile number is not valid: {error}")),
    }
}

/// The locale a request asks for, as user-otp reads it: the part of `RequestInfo.msgId`
/// after `|` (`"20170310130900|hi_IN"`).
fn locale(body: &Map<String, Value>) -> Option<String> {
    let info = body
        .get("RequestInfo")
        .or_else(|| body.get("requestInfo"))?;
    let msg_id = info.get("msgId")?.as_str()?;
    let (_, locale) = msg_id.split_once('|')?;
    let locale = locale.split('|').next()?.trim();
    crate::config::is_digit_locale(locale).then(|| locale.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(fields: &Fields) -> Vec<String> {
        fields
            .0
            .iter()
            .filter_map(|f| f["code"].as_str().map(str::to_owned))
            .collect()
    }

    fn check(text: &str, kind: Option<Kind>) -> (Option<PhoneAddr>, Vec<String>) {
        let mut fields = Fields::default();
        let number = check_number(
            text,
            kind,
            Some(phonenumber::country::Id::IN),
            |_| Ok(()),
            &mut fields,
        );
        (number, codes(&fields))
    }

    #[test]
    fn types_map_as_user_otp_maps_them() {
        let read = |v: Value| Kind::read(Some(&v));
        assert_eq!(Kind::read(None), Some(Kind::Register));
        assert_eq!(read(json!("")), Some(Kind::Register));
        assert_eq!(read(json!("LOGIN")), Some(Kind::Login));
        assert_eq!(read(json!("PasswordReset")), Some(Kind::PasswordReset));
        assert_eq!(read(json!("unknown")), None);
        assert_eq!(read(json!(3)), None);
    }

    #[test]
    fn numbers_are_checked_as_user_otp_then_as_phone_numbers() {
        let (number, errors) = check("9876543210", Some(Kind::Login));
        assert_eq!(number.unwrap().as_str(), "+919876543210");
        assert!(errors.is_empty());
        assert_eq!(
            check("98765abcde", Some(Kind::Login)).1,
            [
                "OTP.MOBILE_NUMBER_INVALID",
                "OTP.MOBILE_NUMBER_INVALIDLENGTH"
            ]
        );
        assert_eq!(
            check("98765", Some(Kind::Login)).1,
            ["OTP.MOBILE_NUMBER_INVALIDLENGTH"]
        );
        assert_eq!(
            check("0000000000", Some(Kind::Register)).1,
            ["OTP.MOBILE_NUMBER_VALIDATION_FAILED"]
        );
        assert_eq!(
            check("+91 98765 43210", Some(Kind::PasswordReset))
                .0
                .unwrap()
                .as_str(),
            "+919876543210",
            "a password reset skips the digits-only rule"
        );
    }

    #[test]
    fn the_locale_comes_from_the_message_id() {
        let body = |info: Value| json!({ "RequestInfo": info }).as_object().cloned().unwrap();
        assert_eq!(
            locale(&body(json!({ "msgId": "20170310130900|hi_IN" }))).as_deref(),
            Some("hi_IN")
        );
        assert_eq!(locale(&body(json!({ "msgId": "20170310130900" }))), None);
        assert_eq!(locale(&body(json!({ "msgId": "x|<script>" }))), None);
    }
}
