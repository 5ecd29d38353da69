//! Reading Capillary's request bodies field by field, so that every problem is reported at
//! once: the action, the entity (an email address or a mobile number), the code, the
//! channels and the templates, each error with Capillary's number.

use serde_json::{Map, Value, json};

use crate::address::{EmailAddr, PhoneAddr, Recipient};
use crate::config::{CAPILLARY_ACTIONS, OtpApiConfig};
use crate::dialog::model::EmailTemplate;
use crate::dialog::template::Template;
use crate::engine::Engine;

use super::super::otp_api::check_code_field;

pub(super) const INVALID_ACTION: u32 = 600;
pub(super) const INVALID_ENTITY_TYPE: u32 = 601;
pub(super) const INVALID_ENTITY_VALUE: u32 = 602;
pub(super) const INVALID_CHANNEL: u32 = 603;
pub(super) const NO_OTP: u32 = 604;
pub(super) const INVALID_OTP: u32 = 605;
pub(super) const UNABLE_TO_GENERATE: u32 = 606;
pub(super) const WHATSAPP_TEMPLATE: u32 = 607;
pub(super) const TEMPLATE_FAILURE: u32 = 608;
pub(super) const ZALO_TEMPLATE: u32 = 621;
pub(super) const INVALID_MOBILE: u32 = 8056;
pub(super) const RATE_LIMITED: u32 = 429;
/// This server's own: the warning that an unexpired code was replaced by a new one.
pub(super) const OTP_REPLACED: u32 = 611;

/// The longest subject or SMS template an API caller may set.
const MAX_SUBJECT_CHARS: usize = 200;
const MAX_SMS_TEMPLATE_CHARS: usize = 1000;

/// Capillary's built-in texts, used when neither the request nor `capillary_templates`
/// gives one.
const BUILT_IN_SMS: &str = "Hi user.Your otp for validation is {{ validation_code }}.";
const BUILT_IN_SUBJECT: &str = "Validation Code";
const BUILT_IN_EMAIL: &str = "Dear Customer, The validation code for your request is: {{ validation_code }}. You will also receive the validation code by SMS on your registered mobile number shortly.";

/// Capillary's error entries, collected while reading a request.
#[derive(Default)]
pub(super) struct Errors(pub Vec<Value>);

impl Errors {
    pub(super) fn add(&mut self, code: u32, message: impl Into<String>) {
        self.0
            .push(json!({ "status": false, "code": code, "message": message.into() }));
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `action`, upper-cased, when it is one of Capillary's.
pub(super) fn action(body: &Map<String, Value>, errors: &mut Errors) -> Option<String> {
    let action = body
        .get("action")
        .and_then(Value::as_str)
        .map(str::to_ascii_uppercase)
        .filter(|a| CAPILLARY_ACTIONS.contains(&a.as_str()));
    if action.is_none() {
        errors.add(
            INVALID_ACTION,
            format!(
                "Invalid or null action passed: expected one of {}",
                CAPILLARY_ACTIONS.join(", ")
            ),
        );
    }
    action
}

/// `entityType` and `entityValue`: an email address, or a mobile number (read in
/// `dialogs.phone_region`, and one the toll-fraud guard would text).
pub(super) fn entity(
    body: &Map<String, Value>,
    engine: &Engine,
    errors: &mut Errors,
) -> Option<Recipient> {
    let kind = body
        .get("entityType")
        .and_then(Value::as_str)
        .map(str::to_ascii_uppercase);
    let value = body
        .get("entityValue")
        .and_then(Value::as_str)
        .filter(|v| !v.trim().is_empty());
    match (kind.as_deref(), value) {
        (Some("EMAIL"), Some(value)) => match EmailAddr::parse(value) {
            Ok(address) => Some(Recipient::Email(address)),
            Err(_) => {
                errors.add(
                    INVALID_ENTITY_VALUE,
                    "Invalid or null entity_value passed: expected an email address",
                );
                None
            }
        },
        (Some("MOBILE"), Some(value)) => mobile(value, engine, errors).map(Recipient::Phone),
        (Some("EMAIL" | "MOBILE"), None) => {
            errors.add(INVALID_ENTITY_VALUE, "Invalid or null entity_value passed");
            None
        }
        (_, value) => {
            errors.add(
                INVALID_ENTITY_TYPE,
                "Invalid or null entity_type passed: expected EMAIL or MOBILE",
            );
            if value.is_none() {
                errors.add(INVALID_ENTITY_VALUE, "Invalid or null entity_value passed");
            }
            None
        }
    }
}

/// A mobile number, or 8056 "Invalid mobile" saying why.
fn mobile(value: &str, engine: &Engine, errors: &mut Errors) -> Option<PhoneAddr> {
    let why = match PhoneAddr::parse(value, engine.phone_region()) {
        Ok(number) => match engine.sms_destination(&number) {
            Ok(()) => return Some(number),
            Err(reason) => reason.describe().to_owned(),
        },
        Err(error) => error.to_string(),
    };
    errors.add(INVALID_MOBILE, format!("Invalid mobile: {why}"));
    None
}

/// `code`: a non-empty string no longer than any code this server issues.
pub(super) fn code(body: &Map<String, Value>, errors: &mut Errors) -> Option<String> {
    match body.get("code") {
        Some(Value::String(code)) if check_code_field(code).is_ok() => Some(code.clone()),
        Some(Value::String(code)) if !code.is_empty() => {
            errors.add(
                INVALID_OTP,
                "OTP is either invalid, expired, or null: longer than any this server issues",
            );
            None
        }
        _ => {
            errors.add(NO_OTP, "No OTP passed: `code` must be a non-empty string");
            None
        }
    }
}

/// One channel of a generate request.
#[derive(Debug, Clone)]
pub(super) enum Channel {
    Email(EmailAddr),
    Sms(PhoneAddr),
    /// A channel this server has no gateway for (a voice call, WhatsApp, Zalo): reported in
    /// `warnings`, never sent.
    Unserved(String),
}

/// `channels`: each `{type, value}`, the value defaulting to the entity's own when the
/// channel reaches that kind of recipient. Without `channels`, the entity's own channel.
pub(super) fn channels(
    body: &Map<String, Value>,
    entity: Option<&Recipient>,
    engine: &Engine,
    errors: &mut Errors,
) -> Vec<Channel> {
    let Some(listed) = body.get("channels").filter(|c| !c.is_null()) else {
        return match entity {
            Some(Recipient::Email(address)) => vec![Channel::Email(address.clone())],
            Some(Recipient::Phone(number)) => vec![Channel::Sms(number.clone())],
            None => Vec::new(),
        };
    };
    let Some(listed) = listed.as_array() else {
        errors.add(
            INVALID_CHANNEL,
            "Invalid or null communication channel value passed: channels must be a list of {\"type\", \"value\"}",
        );
        return Vec::new();
    };
    let mut channels = Vec::new();
    for channel in listed {
        let kind = channel
            .get("type")
            .and_then(Value::as_str)
            .map(str::to_ascii_uppercase);
        let value = channel
            .get("value")
            .and_then(Value::as_str)
            .filter(|v| !v.trim().is_empty());
        let read = match kind.as_deref() {
            Some("EMAIL") => email_channel(value, entity, errors),
            Some("SMS") => sms_channel(value, entity, engine, errors),
            Some(other @ ("MOBILE" | "PHONE")) => Some(Channel::Unserved(other.to_owned())),
            Some("WHATSAPP") => {
                if !has_text(body, "whatsappTemplateName") {
                    errors.add(
                        WHATSAPP_TEMPLATE,
                        "Mandatory template name not passed for whatsapp type channel",
                    );
                }
                Some(Channel::Unserved("WHATSAPP".to_owned()))
            }
            Some("ZALO") => {
                if !has_text(body, "zaloTemplateIdentifier") {
                    errors.add(ZALO_TEMPLATE, "Zalo template identifier cannot be empty");
                }
                Some(Channel::Unserved("ZALO".to_owned()))
            }
            _ => {
                errors.add(
                    INVALID_CHANNEL,
                    "Invalid or null communication channel value passed: the type must be EMAIL, SMS, MOBILE, PHONE, WHATSAPP or ZALO",
                );
                None
            }
        };
        if let Some(read) = read
            && !channels.iter().any(|known| same(known, &read))
        {
            channels.push(read);
        }
    }
    channels
}

fn email_channel(
    value: Option<&str>,
    entity: Option<&Recipient>,
    errors: &mut Errors,
) -> Option<Channel> {
    let address = match (value, entity) {
        (Some(value), _) => EmailAddr::parse(value).ok(),
        (None, Some(Recipient::Email(address))) => Some(address.clone()),
        // No entity to take the value from: the entity's own error says why.
        (None, None) => return None,
        (None, Some(Recipient::Phone(_))) => None,
    };
    if address.is_none() {
        errors.add(
            INVALID_CHANNEL,
            "Invalid or null communication channel value passed: an EMAIL channel needs an email address",
        );
    }
    address.map(Channel::Email)
}

fn sms_channel(
    value: Option<&str>,
    entity: Option<&Recipient>,
    engine: &Engine,
    errors: &mut Errors,
) -> Option<Channel> {
    match (value, entity) {
        (Some(value), _) => mobile(value, engine, errors).map(Channel::Sms),
        (None, Some(Recipient::Phone(number))) => Some(Channel::Sms(number.clone())),
        (None, None) => None,
        (None, Some(Recipient::Email(_))) => {
            errors.add(
                INVALID_CHANNEL,
                "Invalid or null communication channel value passed: an SMS channel needs a mobile number",
            );
            None
        }
    }
}

fn same(a: &Channel, b: &Channel) -> bool {
    match (a, b) {
        (Channel::Email(a), Channel::Email(b)) => a.limit_key() == b.limit_key(),
        (Channel::Sms(a), Channel::Sms(b)) => a == b,
        (Channel::Unserved(a), Channel::Unserved(b)) => a == b,
        _ => false,
    }
}

fn has_text(body: &Map<String, Value>, name: &str) -> bool {
    body.get(name)
        .and_then(Value::as_str)
        .is_some_and(|v| !v.trim().is_empty())
}

/// The texts of one generate request: the request's, else the action's
/// (`otp_api.capillary_templates`), else Capillary's built-in ones.
pub(super) struct Texts {
    pub sms: Template,
    pub email: EmailTemplate,
}

pub(super) fn texts(
    body: &Map<String, Value>,
    action: Option<&str>,
    config: &OtpApiConfig,
    errors: &mut Errors,
) -> Option<Texts> {
    let defaults = action.and_then(|action| config.capillary_templates.get(action));
    let sms = match body.get("template").filter(|t| !t.is_null()) {
        Some(Value::String(text))
            if text.chars().count() <= MAX_SMS_TEMPLATE_CHARS && carries_code(text) =>
        {
            Some(text.clone())
        }
        Some(Value::String(text)) if text.trim().is_empty() => None,
        Some(_) => {
            errors.add(
                TEMPLATE_FAILURE,
                format!("Something went wrong while fetching otp template: `template` must hold {{{{ validation_code }}}}, in at most {MAX_SMS_TEMPLATE_CHARS} characters"),
            );
            return None;
        }
        None => None,
    }
    .or_else(|| defaults.and_then(|d| d.sms.clone()))
    .unwrap_or_else(|| BUILT_IN_SMS.to_owned());
    let email = match email_template(body, errors) {
        Ok(Some(email)) => email,
        Ok(None) => match defaults.and_then(|d| d.email.as_ref()) {
            Some(email) => compile_email(&email.subject, &email.body)?,
            None => compile_email(BUILT_IN_SUBJECT, BUILT_IN_EMAIL)?,
        },
        Err(()) => return None,
    };
    Some(Texts {
        sms: Template::compile(&sms).ok()?,
        email,
    })
}

/// `emailTemplate: {subject, body}`, the body holding `{{ validation_code }}`.
fn email_template(
    body: &Map<String, Value>,
    errors: &mut Errors,
) -> Result<Option<EmailTemplate>, ()> {
    let Some(template) = body.get("emailTemplate").filter(|t| !t.is_null()) else {
        return Ok(None);
    };
    let subject = template.get("subject").and_then(Value::as_str);
    // A subject is one header line: a CR or LF in it could start another header.
    if subject
        .is_some_and(|s| s.chars().any(char::is_control) || s.chars().count() > MAX_SUBJECT_CHARS)
    {
        errors.add(
            TEMPLATE_FAILURE,
            format!("Something went wrong while fetching otp template: emailTemplate.subject must be one line of at most {MAX_SUBJECT_CHARS} characters, without control characters"),
        );
        return Err(());
    }
    let text = template.get("body").and_then(Value::as_str);
    match (subject, text) {
        (Some(subject), Some(text)) if carries_code(text) => {
            compile_email(subject, text).map(Some).ok_or(())
        }
        _ => {
            errors.add(
                TEMPLATE_FAILURE,
                "Something went wrong while fetching otp template: emailTemplate needs a subject and a body containing {{ validation_code }}",
            );
            Err(())
        }
    }
}

/// A request's template: it compiles and shows the code (`{{ validation_code }}`, or
/// `{{ code }}`, this server's name for it).
fn carries_code(text: &str) -> bool {
    Template::compile(text)
        .is_ok_and(|t| t.variables().any(|v| v == "validation_code" || v == "code"))
}

fn compile_email(subject: &str, body: &str) -> Option<EmailTemplate> {
    Some(EmailTemplate {
        subject: Template::literal(subject),
        text: Template::compile(body).ok()?,
        html: None,
        provider_template_id: None,
    })
}
