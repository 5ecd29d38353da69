//! The bodies of Capillary's routes as the OpenAPI document describes them: schema-only
//! mirrors of what `request.rs` reads field by field and `mod.rs` writes, never built.

/// `POST /v2/otp/generate` body, as described; the handler reads it field by field so that
/// every problem is reported at once. Unknown fields are ignored.
#[derive(Debug, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CapillaryGenerateRequest)]
#[allow(dead_code)] // described, not built
pub struct GenerateRequest {
    /// `EMAIL` or `MOBILE` (case-insensitive).
    #[schema(value_type = CapillaryEntityType)]
    entity_type: String,
    /// The entity: an email address, or a mobile number (read in `dialogs.phone_region`; one
    /// the toll-fraud guard would text, else 8056 `Invalid mobile`). The code's scope with
    /// the action, and where it goes when `channels` is absent.
    #[schema(example = "alice@example.com")]
    entity_value: String,
    #[schema(value_type = CapillaryAction)]
    action: String,
    /// The SMS text instead of the action's (`otp_api.capillary_templates`) or the built-in
    /// one: at most 1000 characters holding `{{ validation_code }}`.
    #[schema(
        max_length = 1000,
        pattern = "\\{\\{ *(validation_code|code) *\\}\\}",
        example = "Your code is {{ validation_code }}"
    )]
    template: Option<String>,
    email_template: Option<CapillaryEmailTemplate>,
    /// Where the code goes, all at once; without it, the entity's own channel (`EMAIL` for
    /// an address, `SMS` for a number). Channels this server has no gateway for are
    /// reported in `warnings` (603) and not sent on.
    channels: Option<Vec<CapillaryChannel>>,
    /// Required (607) with a `WHATSAPP` channel; the channel is not served.
    whatsapp_template_name: Option<String>,
    /// Required (621) with a `ZALO` channel; the channel is not served.
    zalo_template_identifier: Option<String>,
}

/// What a code is for: one of Capillary's actions (compared case-insensitively).
#[derive(Debug, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(dead_code)] // described, not built: `config::CAPILLARY_ACTIONS` lists them for the handler
pub enum CapillaryAction {
    Coupon,
    Points,
    Registration,
    Usergroup,
    Subscription,
    Generic,
    Pointstransfer,
    CustomerStatusUpdate,
    CustomerIdentifierChange,
    CustomerIssueLinkCard,
}

/// The kind of entity a code is for (case-insensitive).
#[derive(Debug, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(dead_code)] // described, not built
pub enum CapillaryEntityType {
    Email,
    Mobile,
}

/// A channel's type (case-insensitive): `EMAIL` and `SMS` are served; `MOBILE`, `PHONE`
/// (voice), `WHATSAPP` and `ZALO` are not, and are reported in `warnings`.
#[derive(Debug, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(dead_code)] // described, not built
pub enum CapillaryChannelType {
    Email,
    Sms,
    Mobile,
    Phone,
    Whatsapp,
    Zalo,
}

/// The email to send instead of the action's or the built-in one.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // described, not built
pub struct CapillaryEmailTemplate {
    /// One line of at most 200 characters, without control characters.
    #[schema(max_length = 200, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    subject: String,
    /// Must hold `{{ validation_code }}`.
    #[schema(
        pattern = "\\{\\{ *(validation_code|code) *\\}\\}",
        example = "Your code is {{ validation_code }}"
    )]
    body: String,
}

/// A channel to send the code on.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // described, not built
pub struct CapillaryChannel {
    #[serde(rename = "type")]
    #[schema(value_type = CapillaryChannelType)]
    kind: String,
    /// An email address for `EMAIL`, a mobile number for `SMS`; absent, the entity's own
    /// when it is of that kind.
    value: Option<String>,
}

/// `POST /v2/otp/validate` body, as described (read field by field).
#[derive(Debug, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CapillaryValidateRequest)]
#[allow(dead_code)] // described, not built
pub struct ValidateRequest {
    #[schema(value_type = CapillaryEntityType)]
    entity_type: String,
    /// The entity the code was generated for: an email address or a mobile number.
    #[schema(example = "alice@example.com")]
    entity_value: String,
    #[schema(value_type = CapillaryAction)]
    action: String,
    /// The code the user typed.
    #[schema(min_length = 1, max_length = 64)]
    code: String,
}

/// `POST /v2/otp/generate` answer.
#[derive(Debug, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CapillaryGenerated)]
#[allow(dead_code)] // described, not built
pub struct GenerateAnswer {
    /// A number naming the code (nothing accepts it back).
    created_id: u64,
    /// 611 when an unexpired code was replaced; for each channel the code did not go on,
    /// why: 603 (no gateway for it), 429 (a send cap), 8056 (a number the guard refuses) or
    /// 606 (the delivery failed).
    warnings: Vec<CapillaryMessage>,
}

/// `POST /v2/otp/validate` answer.
#[derive(Debug, utoipa::ToSchema)]
#[schema(as = CapillaryValidated)]
#[allow(dead_code)] // described, not built
pub struct ValidateAnswer {
    /// Whether the code was right.
    entity: bool,
    /// Why not (605), when it was not.
    warnings: Vec<CapillaryMessage>,
}

/// Capillary's error envelope: every problem at once.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // described, not built
pub struct CapillaryErrors {
    errors: Vec<CapillaryMessage>,
}

/// An error or warning entry.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // described, not built
pub struct CapillaryMessage {
    /// `false` for errors and for channels the code did not go on; `true` for 611.
    status: bool,
    /// Always a number: 600–608 and 621 for request errors, 8056 for an invalid mobile,
    /// 429 for a send cap or cooldown, 611 for a replaced code, or the HTTP status for other
    /// failures.
    code: u32,
    message: String,
}
