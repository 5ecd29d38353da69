//! The bodies of DIGIT's routes as the OpenAPI document describes them: schema-only mirrors
//! of what `otp.rs` and `user_otp.rs` read field by field and write, never built.

/// `POST /otp/v1/_create` body, as described (the handler reads it field by field).
#[derive(Debug, utoipa::ToSchema)]
#[schema(as = DigitCreateRequest)]
#[allow(dead_code)] // described, not built
pub struct CreateRequest {
    /// Accepted and ignored.
    #[serde(rename = "RequestInfo")]
    request_info: Option<AnyObject>,
    otp: CreateOtp,
}

/// What to create a code for.
#[derive(Debug, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DigitCreateOtp)]
#[allow(dead_code)] // described, not built
pub struct CreateOtp {
    /// Where the code goes: an email address, or a mobile number (read in
    /// `dialogs.phone_region`) it is texted to through the SMS sender and the toll-fraud
    /// guard.
    #[schema(example = "alice@example.com")]
    identity: String,
    /// 1–64 letters, digits and `. _ -`. The code is kept under the state-level tenant (the
    /// part before the first `.`: `pb.amritsar` → `pb`), as egov-otp keeps it.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$", example = "pb.amritsar")]
    tenant_id: String,
}

/// `POST /otp/v1/_validate` body, as described.
#[derive(Debug, utoipa::ToSchema)]
#[schema(as = DigitValidateRequest)]
#[allow(dead_code)] // described, not built
pub struct ValidateRequest {
    #[serde(rename = "RequestInfo")]
    request_info: Option<AnyObject>,
    otp: ValidateOtp,
}

/// The code to check.
#[derive(Debug, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DigitValidateOtp)]
#[allow(dead_code)] // described, not built
pub struct ValidateOtp {
    /// The code the user typed.
    #[schema(min_length = 1, max_length = 64, pattern = "\\S")]
    otp: String,
    /// The email address or mobile number the code was created for.
    identity: String,
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$", example = "pb.amritsar")]
    tenant_id: String,
}

/// `POST /otp/v1/_search` body, as described.
#[derive(Debug, utoipa::ToSchema)]
#[schema(as = DigitSearchRequest)]
#[allow(dead_code)] // described, not built
pub struct SearchRequest {
    #[serde(rename = "RequestInfo")]
    request_info: Option<AnyObject>,
    otp: SearchOtp,
}

/// The code to look up.
#[derive(Debug, utoipa::ToSchema)]
#[schema(as = DigitSearchOtp)]
#[allow(dead_code)] // described, not built
pub struct SearchOtp {
    /// A code's `UUID` from `_create` or `_validate` (`uuid` is read too). It alone finds
    /// the code.
    #[serde(rename = "UUID")]
    #[schema(min_length = 1, pattern = "\\S")]
    uuid: String,
    /// Required, as in egov-otp, but not used to find the code.
    #[serde(rename = "tenantId")]
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$", example = "pb.amritsar")]
    tenant_id: String,
}

/// DIGIT's token answer (`_create`, `_validate`).
#[derive(Debug, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DigitToken)]
#[allow(dead_code)] // described, not built
pub struct TokenAnswer {
    /// Always null.
    response_info: Option<AnyObject>,
    otp: Token,
}

/// `POST /otp/v1/_search` answer.
#[derive(Debug, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DigitSearchAnswer)]
#[allow(dead_code)] // described, not built
pub struct SearchAnswer {
    /// Always null.
    response_info: Option<AnyObject>,
    /// The code; null when the UUID names no code (of this client's).
    otp: Option<Token>,
}

/// A code, in egov-otp's field order.
#[derive(Debug, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DigitTokenOtp)]
#[allow(dead_code)] // described, not built
pub struct Token {
    /// The code the caller gave, echoed by `_validate` (user-otp reads it); null from
    /// `_create` and `_search`: the code is sent to the identity, never in an answer.
    otp: Option<String>,
    /// The code's id: a random v4 UUID.
    #[serde(rename = "UUID")]
    uuid: String,
    identity: String,
    /// The state-level tenant the code is kept under.
    tenant_id: String,
    is_validation_successful: bool,
}

/// DIGIT's error envelope.
#[derive(Debug, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // described, not built
pub struct DigitErrors {
    /// Always null.
    response_info: Option<AnyObject>,
    error: DigitError,
}

/// What went wrong.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // described, not built
pub struct DigitError {
    /// The HTTP status.
    code: u16,
    /// egov-otp's and user-otp's message for the request (`Invalid OTP request`, `OTP
    /// validation unsuccessful`, …), or this server's for other failures.
    message: String,
    /// Null for request errors, as in DIGIT; this server's message for other failures.
    description: Option<String>,
    /// One entry per problem.
    fields: Vec<DigitField>,
}

/// One problem: `OTP.TENANT_ID_MANDATORY`, `OTP.IDENTITY_MANDATORY`, `OTP.UUID_MANDATORY`, …,
/// or for other failures this server's code (`otp_cooldown`, …).
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // described, not built
pub struct DigitField {
    code: String,
    message: String,
    /// The field, such as `otp.identity` or `otp.uuid`; empty for failures of no field.
    field: Option<String>,
}

/// Any JSON object (DIGIT's `RequestInfo` and `ResponseInfo`).
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // described, not built
pub struct AnyObject {}

/// `POST /user-otp/v1/_send` body, as described.
#[derive(Debug, utoipa::ToSchema)]
#[schema(as = DigitUserOtpRequest)]
#[allow(dead_code)] // described, not built
pub struct UserOtpRequest {
    /// Its `msgId`'s part after `|` (`"20170310130900|hi_IN"`) chooses the locale of the
    /// text, when `otp_api.digit_messages` has it.
    #[serde(rename = "RequestInfo")]
    request_info: Option<UserOtpRequestInfo>,
    otp: UserOtp,
}

/// DIGIT's `RequestInfo`, of which only `msgId` is read.
#[derive(Debug, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DigitRequestInfo)]
#[allow(dead_code)] // described, not built
pub struct UserOtpRequestInfo {
    #[schema(example = "20170310130900|en_IN")]
    msg_id: Option<String>,
}

/// Whom to text a code, and why.
#[derive(Debug, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DigitUserOtp)]
#[allow(dead_code)] // described, not built
pub struct UserOtp {
    /// Digits only, 10 to 13 of them (except for a password reset), read in
    /// `dialogs.phone_region`; a number the toll-fraud guard will not text is
    /// `OTP.MOBILE_NUMBER_VALIDATION_FAILED`. `_validate` checks the code with it as the
    /// identity.
    #[schema(example = "9876543210")]
    mobile_number: String,
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$", example = "pb.amritsar")]
    tenant_id: String,
    /// Case-insensitive; absent or empty is `register`. Chooses the text among DIGIT's
    /// localisation messages.
    #[serde(rename = "type")]
    #[schema(value_type = Option<DigitUserOtpType>)]
    kind: Option<String>,
    /// Accepted and ignored (there is no user registry here).
    user_type: Option<String>,
}

/// What a user-otp code is for.
#[derive(Debug, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // described, not built
pub enum DigitUserOtpType {
    Register,
    Login,
    Passwordreset,
}

/// `POST /user-otp/v1/_send` answer.
#[derive(Debug, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DigitUserOtpSent)]
#[allow(dead_code)] // described, not built
pub struct UserOtpSent {
    /// Always null.
    response_info: Option<AnyObject>,
    /// Always true.
    is_successful: bool,
}
