//! The OTP API: `POST /v1/otp` emails a code, `POST /v1/otp/verify` checks one. No dialog,
//! the same codes, policy, limits and email as `otp.send`/`otp.verify` (`engine::codes`).
//! The Capillary and DIGIT shapes (`capillary/`, `digit/`) map onto the same calls.

use std::marker::PhantomData;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, FromRequest, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::address::{EmailAddr, Recipient};
use crate::engine::{CodeScope, Destination};
use crate::otp::Verdict;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::extract::ApiJson;
use super::handlers::finish;

/// The purpose of a code when the request names none.
pub const DEFAULT_PURPOSE: &str = "default";

/// The longest code accepted for checking (longer is a malformed request, not a guess).
const MAX_CODE_CHARS: usize = 64;

/// `POST /v1/otp` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OtpSendRequest)]
pub struct SendRequest {
    /// Where the code goes.
    #[schema(format = Email, example = "alice@example.com")]
    email: String,
    /// What the code is for: a code issued for one purpose is not valid for another.
    /// Default `default`.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9_.:-]{1,64}$", min_length = 1, max_length = 64)]
    purpose: Option<String>,
}

/// `POST /v1/otp/verify` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OtpVerifyRequest)]
pub struct VerifyRequest {
    #[schema(format = Email, example = "alice@example.com")]
    email: String,
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9_.:-]{1,64}$", min_length = 1, max_length = 64)]
    purpose: Option<String>,
    /// The code the user typed.
    #[schema(min_length = 1, max_length = 64)]
    code: String,
}

/// `POST /v1/otp` answer (201). Never the code.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = OtpSent)]
pub struct SendAnswer {
    /// Names this code.
    otp_id: String,
    expires_at: DateTime<Utc>,
    /// When another code may be sent to this scope.
    resend_after: DateTime<Utc>,
}

/// `POST /v1/otp/verify` answer (200).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = OtpChecked)]
pub struct VerifyAnswer {
    /// Whether the code was right (it is then consumed).
    valid: bool,
    /// Why not, when it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<OtpRefusal>)]
    reason: Option<&'static str>,
    /// After a wrong code: how many more guesses it takes.
    #[serde(skip_serializing_if = "Option::is_none")]
    attempts_left: Option<u8>,
}

/// Why a code was not accepted.
#[derive(Debug, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // described, not built
pub enum OtpRefusal {
    /// Wrong; `attempts_left` more guesses.
    WrongCode,
    /// The code's `otp.ttl` has passed.
    Expired,
    /// Too many wrong guesses, or the address's failure budget is spent.
    LockedOut,
    /// No code waits in this scope.
    NoCode,
}

/// `POST /v1/otp`: emails a new code for (caller, purpose, address), replacing any earlier one.
#[utoipa::path(
    post,
    path = "/v1/otp",
    operation_id = "otp_send",
    tag = "otp",
    summary = "Email a one-time code",
    description = "Emails a new code for (client, purpose, address) with the built-in \
        template, replacing any earlier one. The code is never in the answer.",
    request_body = SendRequest,
    responses(
        (status = 201, description = "Sent.", body = SendAnswer),
        (status = 422, description = "`invalid_email`: `email` is not an email address; `invalid_request`: a field is \
            missing, unknown, of the wrong type, or `purpose` is malformed.", body = ErrorBody),
        (status = 429, description = "`otp_cooldown`: a code went to this scope moments ago; `send_limited`: the \
            address's send cap is reached.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 502, description = "`delivery_failed`: the provider did not take the email; nothing was stored, \
            and retrying is safe.", body = ErrorBody),
        (status = 503, description = "`timeout` or `unavailable`.", body = ErrorBody),
    )
)]
pub async fn send(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    ApiJson(request): ApiJson<SendRequest>,
) -> Result<Response, ApiError> {
    let purpose = purpose(request.purpose.as_deref()).map_err(ApiError::InvalidRequest)?;
    let address = EmailAddr::parse(&request.email).map_err(|_| ApiError::InvalidEmail)?;
    let scope = scope_of(caller, purpose, Recipient::Email(address.clone()));
    let engine = state.app.engine.clone();
    let issued = finish(&state, async move {
        let to = [Destination::Email {
            to: address,
            template: None,
        }];
        engine.issue_code(&scope, &to, None).await
    })
    .await?;
    match issued {
        Ok(issued) => Ok((
            StatusCode::CREATED,
            Json(SendAnswer {
                otp_id: issued.otp_id,
                expires_at: issued.expires_at,
                resend_after: issued.resend_after,
            }),
        )
            .into_response()),
        Err(not_issued) => Err(not_issued.into()),
    }
}

/// `POST /v1/otp/verify`: 200 `{"valid": true}`, or `{"valid": false, "reason": …}`.
#[utoipa::path(
    post,
    path = "/v1/otp/verify",
    operation_id = "otp_verify",
    tag = "otp",
    summary = "Check a one-time code",
    description = "Answers 200 whenever the request is well formed; `valid` says whether the \
        code was right. A wrong guess is an answer, not a malformed request.",
    request_body = VerifyRequest,
    responses(
        (status = 200, description = "Checked.", body = VerifyAnswer),
        (status = 422, description = "`invalid_email` or `invalid_request` (`code` must be 1–64 characters).", body = ErrorBody),
        (status = 503, description = "`timeout` or `unavailable`.", body = ErrorBody),
    )
)]
pub async fn verify(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    ApiJson(request): ApiJson<VerifyRequest>,
) -> Result<Response, ApiError> {
    let purpose = purpose(request.purpose.as_deref()).map_err(ApiError::InvalidRequest)?;
    check_code_field(&request.code).map_err(ApiError::InvalidRequest)?;
    let scope = scope(caller, purpose, &request.email).ok_or(ApiError::InvalidEmail)?;
    let engine = state.app.engine.clone();
    let code = request.code;
    let checked = finish(
        &state,
        async move { engine.check_code(&scope, &code).await },
    )
    .await?
    .checked;
    let (reason, attempts_left) = match checked {
        Verdict::Valid => (None, None),
        Verdict::Invalid { attempts_left, .. } => (Some("wrong_code"), Some(attempts_left)),
        Verdict::Expired => (Some("expired"), None),
        Verdict::Locked => (Some("locked_out"), None),
        Verdict::NoCode => (Some("no_code"), None),
    };
    Ok(Json(VerifyAnswer {
        valid: checked == Verdict::Valid,
        reason,
        attempts_left,
    })
    .into_response())
}

/// The scope of a request: the authenticated client, `purpose`, and `email` parsed.
fn scope(caller: Option<Extension<Caller>>, purpose: String, email: &str) -> Option<CodeScope> {
    let address = EmailAddr::parse(email).ok()?;
    Some(scope_of(caller, purpose, Recipient::Email(address)))
}

/// The scope of a code for `recipient`: the authenticated client (none with auth off) and
/// `purpose`.
pub(super) fn scope_of(
    caller: Option<Extension<Caller>>,
    purpose: String,
    recipient: Recipient,
) -> CodeScope {
    CodeScope {
        client: caller_client(caller),
        purpose,
        recipient,
    }
}

/// The authenticated client of a request, if authentication is on.
pub(super) fn caller_client(caller: Option<Extension<Caller>>) -> Option<String> {
    caller.and_then(|Extension(Caller(client))| client.map(|c| c.to_string()))
}

/// `purpose`, or the default: 1–64 letters, digits and `- _ . :`.
fn purpose(purpose: Option<&str>) -> Result<String, String> {
    let Some(purpose) = purpose else {
        return Ok(DEFAULT_PURPOSE.to_owned());
    };
    let valid = (1..=64).contains(&purpose.len())
        && purpose
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
    if valid {
        Ok(purpose.to_owned())
    } else {
        Err("`purpose` must be 1 to 64 letters, digits and - _ . :".to_owned())
    }
}

/// An entered code must be 1–64 characters; whether it is right is the engine's business.
pub(super) fn check_code_field(code: &str) -> Result<(), String> {
    let chars = code.chars().count();
    if chars == 0 || chars > MAX_CODE_CHARS {
        return Err(format!(
            "`code` must be 1 to {MAX_CODE_CHARS} characters long"
        ));
    }
    Ok(())
}

/// How a seed-shaped route answers a request whose body it cannot read.
pub(super) trait Envelope {
    fn wrap(error: ApiError) -> Response;
}

/// The body of a seed-shaped route: any JSON object, read field by field by the handler so
/// that every problem is reported at once. A body that is not one is answered in `E`.
pub(super) struct ObjectBody<E>(pub Map<String, Value>, pub PhantomData<fn() -> E>);

impl<S: Send + Sync, E: Envelope> FromRequest<S> for ObjectBody<E> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        ApiJson::<Map<String, Value>>::from_request(request, state)
            .await
            .map(|ApiJson(body)| Self(body, PhantomData))
            .map_err(E::wrap)
    }
}
