//! `otp_api:` — one-time codes as a service, without a dialog: the native routes and the
//! seed-compatible shapes, with the texts of the seed systems' messages.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::dialog::template::Template;

/// The actions Capillary accepts (compared case-insensitively).
pub const CAPILLARY_ACTIONS: [&str; 10] = [
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

/// DIGIT's localisation keys of the code's text, one per request type (user-otp's
/// `OtpSMSRepository`), and the messages it falls back to.
pub const DIGIT_MESSAGE_KEYS: [(&str, &str); 3] = [
    (
        "sms.register.otp.msg",
        "Dear Citizen, Your OTP to complete your DIGIT Registration is %s.",
    ),
    ("sms.login.otp.msg", "Dear Citizen, Your Login OTP is %s."),
    (
        "sms.pwd.reset.otp.msg",
        "Dear Citizen, Your OTP for recovering password is %s.",
    ),
];

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtpApiConfig {
    /// Serve `POST /v1/otp` and `POST /v1/otp/verify`.
    pub enabled: bool,
    /// Serve Capillary's `POST /v2/otp/generate` and `POST /v2/otp/validate`.
    pub capillary: bool,
    /// Capillary's per-action default templates (one per action, for SMS and for email),
    /// used when a request brings none; else the built-in ones.
    pub capillary_templates: BTreeMap<String, CapillaryTemplates>,
    /// Serve eGov DIGIT's `POST /otp/v1/_create`, `_validate`, `_search` and
    /// `POST /user-otp/v1/_send`.
    pub digit: bool,
    /// The locale of `_send`'s texts when the request names none (`RequestInfo.msgId`
    /// `…|hi_IN`), as DIGIT's `egov.localization.default.locale`.
    pub digit_locale: String,
    /// `_send`'s texts by locale and DIGIT localisation key (`sms.login.otp.msg`, …), `%s`
    /// standing for the code; a key left out falls back to the default locale, then to
    /// DIGIT's built-in text.
    pub digit_messages: BTreeMap<String, BTreeMap<String, String>>,
}

/// One action's default templates: the SMS text and the email, each with
/// `{{ validation_code }}`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapillaryTemplates {
    #[serde(default)]
    pub sms: Option<String>,
    #[serde(default)]
    pub email: Option<CapillaryEmail>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapillaryEmail {
    pub subject: String,
    pub body: String,
}

impl Default for OtpApiConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            capillary: false,
            capillary_templates: BTreeMap::new(),
            digit: false,
            digit_locale: "en_IN".to_owned(),
            digit_messages: BTreeMap::new(),
        }
    }
}

impl OtpApiConfig {
    pub(super) fn validate(&self) -> Result<(), String> {
        for (action, templates) in &self.capillary_templates {
            if !CAPILLARY_ACTIONS.contains(&action.as_str()) {
                return Err(format!(
                    "`otp_api.capillary_templates` names `{action}`, which is not one of Capillary's actions: {}",
                    CAPILLARY_ACTIONS.join(", ")
                ));
            }
            let texts = templates
                .sms
                .iter()
                .chain(templates.email.iter().map(|email| &email.body));
            for text in texts {
                if !holds_code(text) {
                    return Err(format!(
                        "`otp_api.capillary_templates.{action}`: every template needs `{{{{ validation_code }}}}` (and no other placeholder)"
                    ));
                }
            }
            if templates
                .email
                .as_ref()
                .is_some_and(|email| email.subject.chars().any(char::is_control))
            {
                return Err(format!(
                    "`otp_api.capillary_templates.{action}.email.subject` must be one line"
                ));
            }
        }
        if !is_locale(&self.digit_locale) {
            return Err(format!(
                "`otp_api.digit_locale` must be a locale such as `en_IN`, not `{}`",
                self.digit_locale
            ));
        }
        for (locale, messages) in &self.digit_messages {
            if !is_locale(locale) {
                return Err(format!(
                    "`otp_api.digit_messages` has `{locale}`, which is no locale such as `en_IN`"
                ));
            }
            for (key, message) in messages {
                if !DIGIT_MESSAGE_KEYS.iter().any(|(known, _)| known == key) {
                    return Err(format!(
                        "`otp_api.digit_messages.{locale}` has `{key}`; the keys are {}",
                        DIGIT_MESSAGE_KEYS.map(|(k, _)| k).join(", ")
                    ));
                }
                if !message.contains("%s") {
                    return Err(format!(
                        "`otp_api.digit_messages.{locale}.{key}` needs `%s` where the code goes"
                    ));
                }
            }
        }
        Ok(())
    }

    /// The text of DIGIT's message `key` in `locale`: that locale's, else the default
    /// locale's, else DIGIT's own.
    pub fn digit_message(&self, locale: Option<&str>, key: &str) -> &str {
        let configured = |locale: &str| {
            self.digit_messages
                .get(locale)
                .and_then(|messages| messages.get(key))
                .map(String::as_str)
        };
        locale
            .and_then(configured)
            .or_else(|| configured(&self.digit_locale))
            .or_else(|| {
                DIGIT_MESSAGE_KEYS
                    .iter()
                    .find(|(known, _)| *known == key)
                    .map(|(_, text)| *text)
            })
            .unwrap_or("%s")
    }
}

/// A Capillary template: compiles, and uses `{{ validation_code }}` and nothing else.
pub fn holds_code(text: &str) -> bool {
    Template::compile(text).is_ok_and(|template| {
        let names: Vec<&str> = template.variables().collect();
        names.contains(&"validation_code") && names.iter().all(|n| *n == "validation_code")
    })
}

/// `en_IN`, `hi_IN`, `en`: letters, then optionally `_` or `-` and letters.
pub fn is_locale(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 16
        && text.split(['_', '-']).count() <= 3
        && text
            .split(['_', '-'])
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digit_messages_fall_back_by_locale_then_to_digits_own() {
        let mut config = OtpApiConfig::default();
        config.digit_messages.insert(
            "hi_IN".to_owned(),
            BTreeMap::from([("sms.login.otp.msg".to_owned(), "लॉगिन ओटीपी %s".to_owned())]),
        );
        config.digit_messages.insert(
            "en_IN".to_owned(),
            BTreeMap::from([(
                "sms.register.otp.msg".to_owned(),
                "Register with %s".to_owned(),
            )]),
        );
        assert!(config.validate().is_ok());
        assert_eq!(
            config.digit_message(Some("hi_IN"), "sms.login.otp.msg"),
            "लॉगिन ओटीपी %s"
        );
        assert_eq!(
            config.digit_message(Some("hi_IN"), "sms.register.otp.msg"),
            "Register with %s"
        );
        assert_eq!(
            config.digit_message(None, "sms.pwd.reset.otp.msg"),
            "Dear Citizen, Your OTP for recovering password is %s."
        );
        config
            .digit_messages
            .get_mut("en_IN")
            .unwrap()
            .insert("sms.login.otp.msg".to_owned(), "no code".to_owned());
        assert!(config.validate().is_err());
    }

    #[test]
    fn capillary_templates_are_per_action_and_need_the_code() {
        let mut config = OtpApiConfig::default();
        config.capillary_templates.insert(
            "REGISTRATION".to_owned(),
            CapillaryTemplates {
                sms: Some("Welcome! {{ validation_code }}".to_owned()),
                email: None,
            },
        );
        assert!(config.validate().is_ok());
        config
            .capillary_templates
            .insert("NOPE".to_owned(), CapillaryTemplates::default());
        assert!(config.validate().is_err());
        assert!(!holds_code("{{ code }}"));
        assert!(!holds_code("{{ validation_code }} {{ name }}"));
    }
}
