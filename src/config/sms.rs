//! `sms:` — how texts travel (the dev outbox, Twilio, or any HTTP SMS gateway) and the
//! toll-fraud guard every text passes first.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{DigitSmsConfig, Secret, TwilioConfig};
use crate::dialog::entities::parse_region;
use crate::duration::serde_human;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmsProvider {
    /// Development: keep texts in the dev outbox beside emails (`email.outbox` settings).
    #[default]
    Outbox,
    /// Twilio Programmable Messaging (`sms.twilio`, credentials in `TWILIO_ACCOUNT_SID` and
    /// `TWILIO_AUTH_TOKEN`).
    Twilio,
    /// Any SMS gateway that takes one HTTP request per text (`sms.http`).
    Http,
    /// eGov DIGIT's egov-notification-sms, through its Kafka topic (`sms.kafka`, brokers
    /// from `kafka.brokers`).
    Kafka,
}

/// `sms:` — how codes sent with `channel: sms` travel.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmsConfig {
    pub provider: SmsProvider,
    /// The longest one text (with its retries) may take before the dialog hears `failed`.
    #[serde(with = "serde_human")]
    pub send_timeout: Duration,
    pub twilio: TwilioConfig,
    pub http: HttpSmsConfig,
    pub kafka: DigitSmsConfig,
    pub guard: SmsGuardConfig,
}

impl Default for SmsConfig {
    fn default() -> Self {
        Self {
            provider: SmsProvider::Outbox,
            send_timeout: Duration::from_secs(10),
            twilio: TwilioConfig::default(),
            http: HttpSmsConfig::default(),
            kafka: DigitSmsConfig::default(),
            guard: SmsGuardConfig::default(),
        }
    }
}

impl SmsConfig {
    /// Checks every subsection; `phone_region` is `dialogs.phone_region`.
    pub(super) fn validate(&self, phone_region: Option<&str>) -> Result<(), String> {
        self.twilio
            .validate(self.send_timeout, self.provider == SmsProvider::Twilio)?;
        self.http
            .validate(self.send_timeout, self.provider == SmsProvider::Http)?;
        self.kafka.validate(self.send_timeout)?;
        self.guard.countries(self.provider, phone_region)?;
        self.guard.validate()
    }
}

/// How the gateway's body is encoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyFormat {
    /// `application/json`: placeholders stand inside JSON strings and are escaped for them.
    #[default]
    Json,
    /// `application/x-www-form-urlencoded`: placeholders are percent-encoded.
    Form,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    #[default]
    Post,
    Put,
}

/// A header whose value is secret: it comes from the environment only (`env:NAME`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthHeader {
    /// `Authorization`, `X-Api-Key`, …
    pub name: String,
    /// `env:NAME`; nothing else is accepted, so no file holds the credential.
    pub value: Secret,
    /// Written before the value (`"Bearer "`).
    #[serde(default)]
    pub prefix: String,
}

/// `sms.http:` — one request per text to a gateway: a URL, a method, a body template with
/// `{{ to }}` (E.164, `+447400123456`), `{{ to_digits }}` (the same without `+`) and
/// `{{ text }}`, and an optional secret header.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSmsConfig {
    /// The gateway's endpoint: `https`, or plain `http` on loopback only.
    pub url: Option<String>,
    pub method: HttpMethod,
    pub format: BodyFormat,
    /// The body, with placeholders (see the type).
    pub body: Option<String>,
    pub auth_header: Option<AuthHeader>,
    #[serde(with = "serde_human")]
    pub connect_timeout: Duration,
    /// The longest one HTTP attempt may take.
    #[serde(with = "serde_human")]
    pub request_timeout: Duration,
    /// The longest one text may take, every attempt and wait included; at most
    /// `sms.send_timeout`.
    #[serde(with = "serde_human")]
    pub retry_budget: Duration,
    /// The first backoff step; each retry doubles it (full jitter).
    #[serde(with = "serde_human")]
    pub backoff_base: Duration,
    /// Attempts per text, the first included (1 = never retry).
    pub max_attempts: u32,
}

impl Default for HttpSmsConfig {
    fn default() -> Self {
        Self {
            url: None,
            method: HttpMethod::Post,
            format: BodyFormat::Json,
            body: None,
            auth_header: None,
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(3),
            retry_budget: Duration::from_secs(5),
            backoff_base: Duration::from_millis(250),
            max_attempts: 3,
        }
    }
}

impl HttpSmsConfig {
    /// The most attempts one text may get: each can send a duplicate.
    pub const MAX_ATTEMPTS: u32 = 10;

    fn validate(&self, send_timeout: Duration, in_use: bool) -> Result<(), String> {
        if self.connect_timeout.is_zero() || self.request_timeout.is_zero() {
            return Err("`sms.http.connect_timeout` and `sms.http.request_timeout` must be longer than zero".to_owned());
        }
        if self.retry_budget.is_zero() || self.retry_budget > send_timeout {
            return Err(format!(
                "`sms.http.retry_budget` must be longer than zero and at most `sms.send_timeout` ({})",
                crate::duration::format_duration(send_timeout)
            ));
        }
        if !(1..=Self::MAX_ATTEMPTS).contains(&self.max_attempts) {
            return Err(format!(
                "`sms.http.max_attempts` must be between 1 and {}",
                Self::MAX_ATTEMPTS
            ));
        }
        if let Some(header) = &self.auth_header
            && (axum::http::HeaderName::from_bytes(header.name.as_bytes()).is_err()
                || header.prefix.chars().any(char::is_control))
        {
            return Err(format!(
                "`sms.http.auth_header.name` must be a header name (`Authorization`), not `{}`, and its prefix one line",
                header.name
            ));
        }
        if in_use && (self.url.is_none() || self.body.is_none()) {
            return Err("`sms.provider: http` needs `sms.http.url` and `sms.http.body`".to_owned());
        }
        // The URL and the body template are checked where the sender is built (`app.rs`),
        // with the rules of the sender itself.
        Ok(())
    }
}

/// Which countries texts may go to: the allow list as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Countries {
    /// Every country (`["*"]`, or the dev outbox with no region configured).
    Any,
    /// ISO 3166 region codes, upper case.
    Only(Vec<String>),
}

/// `sms.guard:` — limits that stop toll fraud (SMS pumping) before a text is paid for: an allow
/// list of countries, premium-rate numbers refused, hourly caps per number prefix and in all,
/// counted in the shared counters so every instance sees the same totals.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmsGuardConfig {
    /// ISO region codes texts may go to (`[GB, IE]`), or `["*"]` for any. Unset: the
    /// country of `dialogs.phone_region`; with neither, any country for the dev outbox, and a
    /// configuration error for a real provider.
    pub countries: Option<Vec<String>>,
    /// Digits of the national number that, after the country code, make a prefix
    /// (`+44 7400…` with 4): numbers pumped by a fraudster usually share one.
    pub prefix_digits: u8,
    /// Texts per prefix per hour, across instances.
    pub max_per_prefix_per_hour: u32,
    /// Texts per hour in all, across instances.
    pub max_per_hour: u32,
}

impl Default for SmsGuardConfig {
    fn default() -> Self {
        Self {
            countries: None,
            prefix_digits: 4,
            max_per_prefix_per_hour: 20,
            max_per_hour: 1000,
        }
    }
}

impl SmsGuardConfig {
    /// The digits a prefix may hold at most after the country code.
    pub const MAX_PREFIX_DIGITS: u8 = 8;

    /// The allow list in force under `provider` and `dialogs.phone_region`.
    pub fn countries(
        &self,
        provider: SmsProvider,
        phone_region: Option<&str>,
    ) -> Result<Countries, String> {
        let Some(listed) = &self.countries else {
            return match (phone_region, provider) {
                (Some(region), _) => Ok(Countries::Only(vec![region.trim().to_ascii_uppercase()])),
                (None, SmsProvider::Outbox) => Ok(Countries::Any),
                (None, _) => Err("`sms.guard.countries` is needed with a real SMS provider when `dialogs.phone_region` is unset: list the countries texts may go to (`[GB, IE]`), or `[\"*\"]` for any".to_owned()),
            };
        };
        if listed.iter().any(|c| c.trim() == "*") {
            return if listed.len() == 1 {
                Ok(Countries::Any)
            } else {
                Err("`sms.guard.countries` holds `*` and other entries: `[\"*\"]` alone allows any country".to_owned())
            };
        }
        if listed.is_empty() {
            return Err("`sms.guard.countries` is empty: no text could be sent; list countries (`[GB]`) or `[\"*\"]`".to_owned());
        }
        let mut codes = Vec::new();
        for country in listed {
            if parse_region(country).is_none() {
                return Err(format!(
                    "`sms.guard.countries` holds `{country}`, which is no two-letter country code such as `GB` or `IN`"
                ));
            }
            codes.push(country.trim().to_ascii_uppercase());
        }
        Ok(Countries::Only(codes))
    }

    fn validate(&self) -> Result<(), String> {
        if !(1..=Self::MAX_PREFIX_DIGITS).contains(&self.prefix_digits) {
            return Err(format!(
                "`sms.guard.prefix_digits` must be between 1 and {}",
                Self::MAX_PREFIX_DIGITS
            ));
        }
        if self.max_per_prefix_per_hour == 0 || self.max_per_hour == 0 {
            return Err("`sms.guard.max_per_prefix_per_hour` and `sms.guard.max_per_hour` must be at least 1".to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(countries: Option<&[&str]>) -> SmsGuardConfig {
        SmsGuardConfig {
            countries: countries.map(|c| c.iter().map(|s| (*s).to_owned()).collect()),
            ..SmsGuardConfig::default()
        }
    }

    #[test]
    fn the_allow_list_defaults_to_the_phone_region_and_must_be_chosen_for_real_providers() {
        assert_eq!(
            guard(None).countries(SmsProvider::Twilio, Some("gb")),
            Ok(Countries::Only(vec!["GB".to_owned()]))
        );
        assert_eq!(
            guard(None).countries(SmsProvider::Outbox, None),
            Ok(Countries::Any)
        );
        assert!(guard(None).countries(SmsProvider::Http, None).is_err());
        assert_eq!(
            guard(Some(&["*"])).countries(SmsProvider::Http, None),
            Ok(Countries::Any)
        );
        assert_eq!(
            guard(Some(&["in", "GB"])).countries(SmsProvider::Http, Some("US")),
            Ok(Countries::Only(vec!["IN".to_owned(), "GB".to_owned()]))
        );
        for bad in [&["*", "GB"][..], &[], &["India"]] {
            assert!(
                guard(Some(bad))
                    .countries(SmsProvider::Outbox, None)
                    .is_err(),
                "{bad:?}"
            );
        }
    }
}
