//! `config.yaml`, typed and checked once at start-up.
//!
//! Unknown keys are errors that name the key, the file and the line. Every key can be set from
//! the environment as `COLLOQUY__SECTION__KEY` (for example `COLLOQUY__OTP__SECRET`), which
//! wins over the file. Secrets print as `[redacted]`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::dialog::entities::{Place, parse_region};
use crate::duration::serde_human;
use crate::otp::{Alphabet, Policy};
use crate::yaml::{self, Pos};

mod auth;
mod digit_kafka;
mod kafka;
mod kore;
mod limits;
mod otp_api;
mod redis;
mod sendgrid;
mod services;
mod sms;
mod twilio;

pub use auth::{AuthConfig, ClientConfig, ClientRole, WidgetConfig};
pub use digit_kafka::{DigitEmailConfig, DigitSmsConfig, MobileNumberFormat, SmsCategory};
pub use kafka::{
    CODE_VARIABLES, FLOWX_TOPIC_VARS, KafkaConfig, KafkaEmailTemplate, KafkaTemplate, KafkaTopics,
    Topic,
};
pub use kore::{KoreClient, KoreConfig};
pub use limits::{LimitsConfig, Rate, parse_network};
pub use otp_api::{
    CAPILLARY_ACTIONS, CapillaryEmail, CapillaryTemplates, DIGIT_MESSAGE_KEYS, OtpApiConfig,
    is_locale as is_digit_locale,
};
pub use redis::{RedisConfig, redacted_url};
pub use sendgrid::{SENDGRID_API_KEY_VAR, SendgridConfig};
pub use services::{MAX_RESPONSE_BYTES, ServiceConfig};
pub use sms::{
    AuthHeader, BodyFormat, Countries, HttpMethod, HttpSmsConfig, SmsConfig, SmsGuardConfig,
    SmsProvider,
};
pub use twilio::{TWILIO_ACCOUNT_SID_VAR, TWILIO_AUTH_TOKEN_VAR, TwilioConfig, is_sid};

/// The prefix of environment variables that override the file.
pub const ENV_PREFIX: &str = "COLLOQUY__";

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub auth: AuthConfig,
    pub limits: LimitsConfig,
    pub kore: KoreConfig,
    pub dialogs: DialogsConfig,
    pub sessions: SessionsConfig,
    pub email: EmailConfig,
    pub sms: SmsConfig,
    pub otp: OtpConfig,
    pub otp_api: OtpApiConfig,
    /// Services dialogs may call (`http.request`), by name.
    pub services: BTreeMap<String, ServiceConfig>,
    /// Conversations handed to people (`handoff` nodes).
    pub handoff: HandoffConfig,
    /// FlowX's OTP requests over Kafka.
    pub kafka: KafkaConfig,
    pub log: LogConfig,
}

/// `handoff:`. Without `webhook`, agents follow handed-over sessions on their event streams.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HandoffConfig {
    /// Where each user message of a handed-over session is posted, signed.
    pub webhook: Option<HandoffWebhookConfig>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffWebhookConfig {
    /// `https://…` (plain `http` only on loopback).
    pub url: String,
    /// Signs each request (`X-Colloquy-Signature`); `env:NAME` reads it from the environment.
    pub secret: Secret,
    /// The longest one message may take to be taken, retries included.
    #[serde(with = "serde_human", default = "default_handoff_timeout")]
    pub timeout: Duration,
    /// Attempts per message (connection failures, 429 and 5xx are tried again).
    #[serde(default = "default_handoff_attempts")]
    pub max_attempts: u32,
}

fn default_handoff_timeout() -> Duration {
    Duration::from_secs(5)
}

fn default_handoff_attempts() -> u32 {
    3
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// `HOST:PORT` to listen on.
    pub addr: String,
    /// The longest a request may take before it is answered with 503.
    #[serde(with = "serde_human")]
    pub request_timeout: Duration,
    /// After SIGTERM/SIGINT, how long new requests are still accepted to be answered 503
    /// (so load balancers move them elsewhere) before the listener closes; turns in flight
    /// always finish.
    #[serde(with = "serde_human")]
    pub drain_grace: Duration,
    /// Origins allowed to call the API from a browser (CORS), e.g. `https://shop.example.com`;
    /// `*` allows any. Empty: no CORS headers.
    pub cors_origins: Vec<String>,
    /// The largest request body accepted.
    pub max_body_bytes: usize,
    /// The longest user message accepted, in characters.
    pub max_text_chars: usize,
    /// How long a new connection, or one that began sending a request, has to deliver the
    /// request's headers before it is closed (slow or silent clients).
    #[serde(with = "serde_human")]
    pub header_read_timeout: Duration,
    /// How long a request's body may take to arrive, from its headers to its last byte; a
    /// request over it is answered 408 `body_timeout` and its connection closed.
    #[serde(with = "serde_human")]
    pub body_read_timeout: Duration,
    /// How long a keep-alive connection may wait for its next request before it is closed.
    #[serde(with = "serde_human")]
    pub idle_timeout: Duration,
    /// Open connections served at once. One more is answered 503 `too_many_connections` and
    /// closed. Keep it below the process's open-file limit (`ulimit -n`).
    pub max_connections: usize,
    /// Dev mode (`serve --dev`): the engine's clock can be moved forward and a session's
    /// context read over HTTP (`/v1/dev/…`), for QA against a running server. The server then
    /// listens on loopback addresses only.
    pub dev: bool,
}

impl ServerConfig {
    /// The most connections a server may be told to hold open at once.
    pub const MAX_CONNECTIONS: usize = 1_000_000;

    fn validate_connections(&self) -> Result<(), String> {
        for (name, timeout) in [
            ("header_read_timeout", self.header_read_timeout),
            ("body_read_timeout", self.body_read_timeout),
            ("idle_timeout", self.idle_timeout),
        ] {
            if timeout < Duration::from_millis(10) {
                return Err(format!("`server.{name}` must be at least 10ms"));
            }
        }
        if !(1..=Self::MAX_CONNECTIONS).contains(&self.max_connections) {
            return Err(format!(
                "`server.max_connections` must be between 1 and {}",
                Self::MAX_CONNECTIONS
            ));
        }
        Ok(())
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:8080".to_owned(),
            request_timeout: Duration::from_secs(15),
            drain_grace: Duration::from_secs(1),
            cors_origins: Vec::new(),
            max_body_bytes: 16 * 1024,
            max_text_chars: 2000,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 4096,
            dev: false,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DialogsConfig {
    /// Directory of `*.yaml` dialogs.
    pub dir: PathBuf,
    /// The dialog a new session runs when the request names none.
    pub default: String,
    /// Reload dialogs when their files change (`serve --watch` turns it on too).
    pub watch: bool,
    /// The language of a session whose client sends none (`fr`); unset: each dialog's own.
    pub locale: Option<String>,
    /// The time zone relative dates are read in (`Europe/London`, an IANA name); unset: UTC.
    pub time_zone: Option<String>,
    /// The country of phone numbers written without a country code (`GB`); unset: only
    /// international numbers (`+44 …`) are understood.
    pub phone_region: Option<String>,
}

impl DialogsConfig {
    /// Where users are by default: `time_zone` and `phone_region`, checked.
    pub fn place(&self) -> Result<Place, String> {
        let mut place = Place::default();
        if let Some(zone) = &self.time_zone {
            place.zone = zone.parse().map_err(|_| {
                format!("`dialogs.time_zone` must be a time zone such as `Europe/London` or `America/New_York`, not `{zone}`")
            })?;
        }
        if let Some(region) = &self.phone_region {
            place.region = Some(parse_region(region).ok_or_else(|| {
                format!("`dialogs.phone_region` must be a two-letter country code such as `GB` or `US`, not `{region}`")
            })?);
        }
        Ok(place)
    }
}

impl Default for DialogsConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("dialogs"),
            default: "otp_authentication".to_owned(),
            watch: false,
            locale: None,
            time_zone: None,
            phone_region: None,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreKind {
    #[default]
    Memory,
    /// Shared by every instance: sessions, limits and leases in Redis (`sessions.redis`).
    Redis,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionsConfig {
    pub store: StoreKind,
    /// A session untouched this long is forgotten.
    #[serde(with = "serde_human")]
    pub idle_ttl: Duration,
    /// How often expired sessions are swept from memory.
    #[serde(with = "serde_human")]
    pub sweep_interval: Duration,
    /// Transcript lines kept per session.
    pub history: usize,
    /// The most one session may take in the store, in bytes: past it the oldest transcript
    /// lines are dropped, and a session still too large is refused (413 `session_too_large`).
    pub max_session_bytes: usize,
    /// The most all sessions together may take in memory (`store: memory`), in bytes: past it
    /// the sessions least worth keeping are evicted (ended, then idle, then those waiting for
    /// a code).
    pub max_bytes: usize,
    /// How long a processed message id is remembered, so a retry of it gets the first
    /// answer instead of running again. Bounded by `idle_ttl` (records go with their session).
    #[serde(with = "serde_human")]
    pub idempotency_window: Duration,
    /// What a session's event stream keeps for clients that reconnect.
    pub events: EventsConfig,
    /// Used with `store: redis`.
    pub redis: RedisConfig,
}

/// `sessions.events`: a session's events are kept while a client reads its stream (and
/// `retention` after), so a reconnect with `Last-Event-ID` misses nothing.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// Events kept per session; a reader further behind is told it missed some.
    pub buffer: usize,
    /// How long events are kept after the stream's last reader left (or the last event).
    #[serde(with = "serde_human")]
    pub retention: Duration,
    /// Event streams open at once on this instance; one more is answered 503.
    pub max_streams: usize,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            buffer: 64,
            retention: Duration::from_secs(10 * 60),
            max_streams: 10_000,
        }
    }
}

impl EventsConfig {
    pub fn limits(&self) -> crate::store::EventLimits {
        crate::store::EventLimits {
            buffer: self.buffer,
            retention: self.retention,
        }
    }
}

impl Default for SessionsConfig {
    fn default() -> Self {
        Self {
            store: StoreKind::Memory,
            idle_ttl: Duration::from_secs(30 * 60),
            sweep_interval: Duration::from_secs(60),
            history: 20,
            max_session_bytes: 64 * 1024,
            max_bytes: 1024 * 1024 * 1024,
            idempotency_window: Duration::from_secs(10 * 60),
            events: EventsConfig::default(),
            redis: RedisConfig::default(),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailProvider {
    /// Development: log that an email was sent and keep it in an in-memory outbox.
    #[default]
    Outbox,
    /// SendGrid's v3 Mail Send API (`email.sendgrid`, key in `SENDGRID_API_KEY`).
    Sendgrid,
    /// eGov DIGIT's egov-notification-mail, through its Kafka topic (`email.kafka`, brokers
    /// from `kafka.brokers`).
    Kafka,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailConfig {
    pub provider: EmailProvider,
    pub from: FromAddress,
    /// The longest one delivery (with its retries) may take before the dialog hears `failed`.
    #[serde(with = "serde_human")]
    pub send_timeout: Duration,
    pub outbox: OutboxConfig,
    pub sendgrid: SendgridConfig,
    pub kafka: DigitEmailConfig,
    /// Mail domains that are right as typed (a company's own), besides the built-in common
    /// ones: an address one letter away from one of them is offered corrected.
    pub suggest_domains: Vec<String>,
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            provider: EmailProvider::Outbox,
            from: FromAddress::default(),
            send_timeout: Duration::from_secs(10),
            outbox: OutboxConfig::default(),
            sendgrid: SendgridConfig::default(),
            kafka: DigitEmailConfig::default(),
            suggest_domains: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FromAddress {
    pub address: String,
    pub name: String,
}

impl Default for FromAddress {
    fn default() -> Self {
        Self {
            address: "no-reply@example.com".to_owned(),
            name: "colloquy".to_owned(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxConfig {
    /// Emails kept (oldest dropped first).
    pub capacity: usize,
    /// Addresses (`bob@example.com`) or domains (`*@bounce.test`) whose delivery fails, to
    /// try the failure paths of a dialog.
    pub fail_for: Vec<String>,
    /// Subjects (`*` matches any run of characters) whose delivery fails: one email of a
    /// dialog (a confirmation) fails while the others (the code) go out.
    pub fail_subjects: Vec<String>,
    /// How long each "delivery" takes, to try slow-provider behaviour (timeouts, busy sessions).
    #[serde(with = "serde_human")]
    pub delay: Duration,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            capacity: 1000,
            fail_for: Vec::new(),
            fail_subjects: Vec::new(),
            delay: Duration::ZERO,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtpConfig {
    /// The key codes are MAC'd with (at least 16 bytes). Without one, a random key is made
    /// at start-up and codes do not survive a restart.
    pub secret: Option<Secret>,
    pub length: u8,
    pub alphabet: Alphabet,
    #[serde(with = "serde_human")]
    pub ttl: Duration,
    pub max_attempts: u8,
    #[serde(with = "serde_human")]
    pub resend_cooldown: Duration,
    pub max_sends_per_address: u32,
    #[serde(with = "serde_human")]
    pub send_window: Duration,
    pub max_failures_per_address: u32,
    #[serde(with = "serde_human")]
    pub failure_window: Duration,
    /// After so many failed guesses at an address in the failure window, its codes carry at
    /// least so many digits' worth (see `otp::Escalation`).
    pub longer_codes: Vec<crate::otp::EscalationStep>,
}

impl Default for OtpConfig {
    fn default() -> Self {
        let policy = Policy::default();
        Self {
            secret: None,
            length: policy.length,
            alphabet: policy.alphabet,
            ttl: policy.ttl,
            max_attempts: policy.max_attempts,
            resend_cooldown: policy.resend_cooldown,
            max_sends_per_address: 5,
            send_window: Duration::from_secs(10 * 60),
            max_failures_per_address: 10_000,
            failure_window: Duration::from_secs(24 * 3600),
            longer_codes: crate::otp::Escalation::DEFAULT_STEPS.to_vec(),
        }
    }
}

impl OtpConfig {
    /// `otp.longer_codes`, checked.
    pub fn escalation(&self) -> Result<crate::otp::Escalation, String> {
        crate::otp::Escalation::new(self.longer_codes.clone())
            .map_err(|error| format!("`otp.longer_codes`: {error}"))
    }

    pub fn policy(&self) -> Policy {
        Policy {
            length: self.length,
            alphabet: self.alphabet,
            ttl: self.ttl,
            max_attempts: self.max_attempts,
            resend_cooldown: self.resend_cooldown,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A tracing filter such as `info` or `colloquy=debug`; `RUST_LOG` wins over it.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Pretty,
            level: "info".to_owned(),
        }
    }
}

/// A secret string: `Debug` and serialisation print `[redacted]`.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(value: &str) -> Self {
        Self(SecretString::from(value))
    }

    pub fn expose(&self) -> &SecretString {
        &self.0
    }

    /// Reads `env:NAME` secrets from `env`; the error is the missing variable's name.
    fn resolve(&mut self, env: &[(String, String)]) -> Result<(), String> {
        let Some(name) = self
            .0
            .expose_secret()
            .strip_prefix("env:")
            .map(str::to_owned)
        else {
            return Ok(());
        };
        let value = env
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
            .ok_or(name)?;
        self.0 = SecretString::from(value);
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.0.expose_secret().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("[redacted]")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|s| Secret::new(&s))
    }
}

/// A configuration problem, with where it is.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct ConfigError {
    /// `config.yaml:12:3`, or the name of an environment variable.
    pub origin: String,
    pub message: String,
}

impl Config {
    /// What dialogs loaded under this configuration may name outside themselves.
    pub fn load_env(&self) -> crate::dialog::LoadEnv {
        crate::dialog::LoadEnv {
            services: self.services.keys().cloned().collect(),
        }
    }

    /// Reads `path` (when given) and applies environment overrides from `env`.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let (source, file_name) = match path {
            Some(path) => {
                let source = std::fs::read_to_string(path).map_err(|error| ConfigError {
                    origin: path.display().to_string(),
                    message: format!("cannot read the config file: {error}"),
                })?;
                (source, path.display().to_string())
            }
            None => (String::new(), "(defaults)".to_owned()),
        };
        Self::from_source(&source, &file_name, env)
    }

    /// Parses config text; `file_name` is used in error messages.
    pub fn from_source(
        source: &str,
        file_name: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let tree = yaml::parse(source).map_err(|error| ConfigError {
            origin: format!("{file_name}:{}", error.pos),
            message: format!("YAML syntax: {}", error.message),
        })?;
        let mut value: serde_json::Value = if source.trim().is_empty() {
            serde_json::Value::Object(serde_json::Map::new())
        } else {
            serde_saphyr::from_str(source).map_err(|error| ConfigError {
                origin: file_name.to_owned(),
                message: error.to_string(),
            })?
        };
        if value.is_null() {
            value = serde_json::Value::Object(serde_json::Map::new());
        }
        let env: Vec<(String, String)> = env.into_iter().collect();
        let mut from_env = Vec::new();
        for (name, raw) in env.iter().cloned() {
            if let Some(path) = name.strip_prefix(ENV_PREFIX) {
                let keys: Vec<String> = path.split("__").map(str::to_ascii_lowercase).collect();
                override_value(&mut value, &keys, &raw).map_err(|message| ConfigError {
                    origin: name.clone(),
                    message,
                })?;
                from_env.push((keys.join("."), name));
            }
        }
        let mut config: Config = serde_path_to_error::deserialize(&value).map_err(|error| {
            let path = error.path().to_string();
            let origin = from_env
                .iter()
                .find(|(keys, _)| path.starts_with(keys.as_str()) || keys.starts_with(&path))
                .map_or_else(
                    || format!("{file_name}:{}", position_of(&tree, &path)),
                    |(_, var)| var.clone(),
                );
            ConfigError {
                origin,
                message: format!("`{path}`: {}", error.inner()),
            }
        })?;
        config.resolve_secrets(&env)?;
        config.email.sendgrid.api_key = env
            .iter()
            .find(|(name, value)| name == SENDGRID_API_KEY_VAR && !value.is_empty())
            .map(|(_, value)| Secret::new(value));
        let from_env = |var: &str| {
            env.iter()
                .find(|(name, value)| name == var && !value.is_empty())
                .map(|(_, value)| Secret::new(value))
        };
        config.sms.twilio.account_sid = from_env(TWILIO_ACCOUNT_SID_VAR);
        config.sms.twilio.auth_token = from_env(TWILIO_AUTH_TOKEN_VAR);
        for (var, topic) in FLOWX_TOPIC_VARS {
            if let Some((_, name)) = env
                .iter()
                .find(|(name, value)| name == var && !value.is_empty())
            {
                config.kafka.set_topic(topic, name.clone());
            }
        }
        config.validate().map_err(|message| ConfigError {
            origin: file_name.to_owned(),
            message,
        })?;
        Ok(config)
    }

    /// Replaces every `env:NAME` secret with the value of that environment variable.
    fn resolve_secrets(&mut self, env: &[(String, String)]) -> Result<(), ConfigError> {
        if let Some(header) = &self.sms.http.auth_header
            && !header.value.expose().expose_secret().starts_with("env:")
        {
            return Err(ConfigError {
                origin: "sms.http.auth_header.value".to_owned(),
                message: "must be `env:NAME`: the gateway's credential is read from the environment only, never from a file".to_owned(),
            });
        }
        let secrets = self
            .otp
            .secret
            .iter_mut()
            .chain(
                self.auth
                    .clients
                    .iter_mut()
                    .flat_map(|c| c.api_keys.iter_mut().chain(c.signing_secrets.iter_mut())),
            )
            .chain(self.kore.clients.iter_mut().map(|c| &mut c.secret))
            .chain(
                (self.sessions.store == StoreKind::Redis).then_some(&mut self.sessions.redis.url),
            )
            .chain(services::secrets(&mut self.services))
            .chain(self.sms.http.auth_header.as_mut().map(|h| &mut h.value));
        for secret in secrets {
            secret.resolve(env).map_err(|name| ConfigError {
                origin: name.clone(),
                message: format!(
                    "the config refers to `env:{name}`, but that environment variable is not set"
                ),
            })?;
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), String> {
        let otp = &self.otp;
        if !(Policy::MIN_LENGTH..=Policy::MAX_LENGTH).contains(&otp.length) {
            return Err(format!(
                "`otp.length` must be between {} and {}",
                Policy::MIN_LENGTH,
                Policy::MAX_LENGTH
            ));
        }
        if otp.max_attempts == 0
            || otp.max_sends_per_address == 0
            || otp.max_failures_per_address == 0
        {
            return Err("`otp.max_attempts`, `otp.max_sends_per_address` and `otp.max_failures_per_address` must be at least 1".to_owned());
        }
        if otp.ttl.is_zero() {
            return Err("`otp.ttl` must be longer than zero".to_owned());
        }
        otp.escalation()?;
        if let Some(secret) = &otp.secret
            && secret.len() < crate::otp::OtpKey::MIN_LEN
        {
            return Err(format!(
                "`otp.secret` must be at least {} bytes long",
                crate::otp::OtpKey::MIN_LEN
            ));
        }
        if self.sessions.idle_ttl.is_zero() || self.sessions.sweep_interval.is_zero() {
            return Err(
                "`sessions.idle_ttl` and `sessions.sweep_interval` must be longer than zero"
                    .to_owned(),
            );
        }
        // A code lives in its session (or, for the OTP API, in a session-store record), which
        // is forgotten after `idle_ttl` without activity: a longer code lifetime would be a lie.
        if otp.ttl > self.sessions.idle_ttl {
            return Err(format!(
                "`otp.ttl` ({}) is longer than `sessions.idle_ttl` ({}): codes are kept with their session, which is forgotten first",
                crate::duration::format_duration(otp.ttl),
                crate::duration::format_duration(self.sessions.idle_ttl)
            ));
        }
        let events = &self.sessions.events;
        if events.buffer > 10_000 || events.retention.is_zero() || events.max_streams == 0 {
            return Err("`sessions.events.buffer` must be at most 10000 (0 keeps no events), `sessions.events.retention` longer than zero and `sessions.events.max_streams` at least 1".to_owned());
        }
        if crate::address::EmailAddr::parse(&self.email.from.address).is_err() {
            return Err(format!(
                "`email.from.address` is not a valid email address: `{}`",
                self.email.from.address
            ));
        }
        self.limits.validate()?;
        if self.sessions.store == StoreKind::Redis {
            self.sessions.redis.validate()?;
        }
        self.kore.validate()?;
        services::validate(&self.services, self.server.request_timeout)?;
        if let Some(locale) = &self.dialogs.locale
            && !crate::dialog::locale::is_locale(locale)
        {
            return Err(format!(
                "`dialogs.locale` must be a language tag such as `en`, `fr` or `pt-BR`, not `{locale}`"
            ));
        }
        self.dialogs.place()?;
        for domain in &self.email.suggest_domains {
            if crate::address::EmailAddr::parse(&format!("a@{domain}"))
                .map_or(true, |a| a.domain() != domain)
            {
                return Err(format!(
                    "`email.suggest_domains` holds `{domain}`, which is no mail domain in lower case (such as `example.com`)"
                ));
            }
        }
        if let Some(webhook) = &self.handoff.webhook {
            if webhook.secret.len() < 16 {
                return Err("`handoff.webhook.secret` must be at least 16 bytes long".to_owned());
            }
            if webhook.timeout.is_zero()
                || webhook.timeout >= self.server.request_timeout
                || !(1..=10).contains(&webhook.max_attempts)
            {
                return Err("`handoff.webhook.timeout` must be longer than zero and shorter than `server.request_timeout`, and `handoff.webhook.max_attempts` between 1 and 10".to_owned());
            }
        }
        self.email.sendgrid.validate(self.email.send_timeout)?;
        self.email.kafka.validate(self.email.send_timeout)?;
        if (self.email.provider == EmailProvider::Kafka || self.sms.provider == SmsProvider::Kafka)
            && self.kafka.brokers.trim().is_empty()
        {
            return Err("the `kafka` email or SMS provider needs `kafka.brokers`".to_owned());
        }
        self.sms.validate(self.dialogs.phone_region.as_deref())?;
        self.otp_api.validate()?;
        if self.server.max_text_chars == 0 || self.server.max_body_bytes < 256 {
            return Err("`server.max_text_chars` must be at least 1 and `server.max_body_bytes` at least 256".to_owned());
        }
        self.server.validate_connections()?;
        self.kafka.validate()?;
        Ok(())
    }
}

/// Sets `keys` (a path of lower-case keys) in `root` to `raw`, typed like the default config
/// value at that path: numbers and booleans are parsed, everything else stays text.
fn override_value(root: &mut serde_json::Value, keys: &[String], raw: &str) -> Result<(), String> {
    let defaults = serde_json::to_value(Config::default()).unwrap_or_default();
    let mut default_here = Some(&defaults);
    let mut node = root;
    for (i, key) in keys.iter().enumerate() {
        default_here = default_here.and_then(|d| d.get(key));
        let serde_json::Value::Object(map) = node else {
            return Err(format!("`{}` is not a section", keys[..i].join(".")));
        };
        if i + 1 == keys.len() {
            let typed = match default_here {
                Some(serde_json::Value::Number(_)) => raw
                    .parse::<serde_json::Number>()
                    .map(serde_json::Value::Number)
                    .ok(),
                Some(serde_json::Value::Bool(_)) => {
                    raw.parse::<bool>().map(serde_json::Value::Bool).ok()
                }
                Some(serde_json::Value::Array(_)) => Some(serde_json::Value::Array(
                    raw.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| serde_json::Value::String(s.to_owned()))
                        .collect(),
                )),
                _ => None,
            };
            map.insert(
                key.clone(),
                typed.unwrap_or_else(|| serde_json::Value::String(raw.to_owned())),
            );
            return Ok(());
        }
        node = map
            .entry(key.clone())
            .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
    }
    Err("the variable names no key".to_owned())
}

/// The position of a dotted path (`sessions.idle_tt`) in the YAML tree, as close as it goes.
fn position_of(tree: &yaml::Node, path: &str) -> Pos {
    let mut node = tree;
    let mut pos = tree.pos;
    for key in path.split('.') {
        let Some(entries) = node.as_map() else { break };
        let Some((k, v)) = entries.iter().find(|(k, _)| k.as_str() == Some(key)) else {
            break;
        };
        pos = k.pos;
        node = v;
    }
    pos
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn an_empty_file_gives_the_defaults() {
        let config = Config::from_source("", "config.yaml", env(&[])).unwrap();
        assert_eq!(config.otp.length, 4);
        assert_eq!(config.sessions.store, StoreKind::Memory);
    }

    #[test]
    fn where_users_are_is_checked() {
        let config = Config::from_source(
            "dialogs:\n  time_zone: Europe/Paris\n  phone_region: fr\n",
            "config.yaml",
            env(&[]),
        )
        .unwrap();
        let place = config.dialogs.place().unwrap();
        assert_eq!(place.zone, chrono_tz::Europe::Paris);
        assert_eq!(place.region, Some(phonenumber::country::Id::FR));
        for bad in ["time_zone: Europe/Pariss", "phone_region: France"] {
            let err = Config::from_source(&format!("dialogs:\n  {bad}\n"), "config.yaml", env(&[]))
                .unwrap_err();
            let key = bad.split(':').next().unwrap();
            assert!(err.message.contains(key), "{}", err.message);
        }
    }

    #[test]
    fn kore_token_checks_are_read_with_their_defaults() {
        let config = Config::from_source("", "config.yaml", env(&[])).unwrap();
        assert_eq!(config.kore.max_token_lifetime, Duration::from_secs(86_400));
        assert!(!config.kore.single_use_tokens);
        assert!(config.kore.audience.is_none() && config.kore.issuer.is_none());
        let config = Config::from_source(
            "kore:\n  max_token_lifetime: 2h\n  audience: https://idproxy.kore.ai/authorize\n  issuer: cs-widget\n  single_use_tokens: true\n",
            "config.yaml",
            env(&[]),
        )
        .unwrap();
        assert_eq!(config.kore.max_token_lifetime, Duration::from_secs(7200));
        assert_eq!(
            config.kore.audience.as_deref(),
            Some("https://idproxy.kore.ai/authorize")
        );
        assert_eq!(config.kore.issuer.as_deref(), Some("cs-widget"));
        assert!(config.kore.single_use_tokens);
        let err = Config::from_source("kore:\n  max_token_lifetime: 0s\n", "config.yaml", env(&[]))
            .unwrap_err();
        assert!(
            err.message.contains("max_token_lifetime"),
            "{}",
            err.message
        );
    }

    #[test]
    fn unknown_keys_name_the_key_the_file_and_the_line() {
        let err =
            Config::from_source("sessions:\n  idle_tt: 5m\n", "config.yaml", env(&[])).unwrap_err();
        assert_eq!(err.origin, "config.yaml:2:3");
        assert!(err.message.contains("idle_tt"), "{}", err.message);
    }

    #[test]
    fn environment_wins_and_is_typed() {
        let config = Config::from_source(
            "otp:\n  length: 6\n",
            "config.yaml",
            env(&[
                ("COLLOQUY__OTP__LENGTH", "8"),
                ("COLLOQUY__OTP__TTL", "10m"),
                ("COLLOQUY__OTP__SECRET", "12345678901234567890"),
                ("OTHER", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(config.otp.length, 8);
        assert_eq!(config.otp.ttl, Duration::from_secs(600));
        assert_eq!(config.otp.secret.unwrap().len(), 20);
    }

    #[test]
    fn kafka_templates_and_digit_providers_are_checked_when_read() {
        let read = |yaml: &str| Config::from_source(yaml, "config.yaml", env(&[]));
        let ok = read(
            "kafka:\n  enabled: true\n  templates:\n    otpMail:\n      email: { subject: \"For {{ clientId }}\", text: \"{{ code }}\" }\n      sms: \"{{ code }}\"\n",
        )
        .unwrap();
        assert!(ok.kafka.templates.contains_key("otpMail"));
        for (yaml, says) in [
            (
                "kafka:\n  enabled: true\n  templates:\n    t: { sms: \"no code here\" }\n",
                "kafka.templates.t.sms",
            ),
            (
                "kafka:\n  enabled: true\n  templates:\n    t: {}\n",
                "kafka.templates.t",
            ),
            (
                "kafka:\n  enabled: true\n  templates:\n    t: { sms: \"{{ code\" }\n",
                "never closed",
            ),
            (
                "email:\n  provider: kafka\n  kafka: { topic: \"no spaces\" }\n",
                "email.kafka.topic",
            ),
            (
                "sms:\n  provider: kafka\n  guard: { countries: [IN] }\n  kafka: { delivery_timeout: 1m }\n",
                "sms.kafka.delivery_timeout",
            ),
            (
                "email:\n  provider: kafka\nkafka:\n  brokers: \" \"\n",
                "kafka.brokers",
            ),
            (
                "kafka:\n  properties: { linger.ms: \"50\" }\n",
                "may not set `linger.ms`",
            ),
        ] {
            let error = read(yaml).expect_err(yaml).message;
            assert!(error.contains(says), "{yaml}: {error}");
        }
        let digit = read(
            "sms:\n  provider: kafka\n  guard: { countries: [IN] }\n  kafka: { category: TRANSACTION, mobile_number: e164 }\n",
        )
        .unwrap();
        assert_eq!(digit.sms.kafka.category, SmsCategory::Transaction);
        assert_eq!(digit.sms.kafka.mobile_number, MobileNumberFormat::E164);
    }

    #[test]
    fn flowx_topic_variables_win_over_the_file_and_ours() {
        let config = Config::from_source(
            "kafka:\n  enabled: true\n  topics:\n    generate_in: from.file\n    validate_in: file.validate\n",
            "config.yaml",
            env(&[
                ("COLLOQUY__KAFKA__TOPICS__GENERATE_IN", "from.ours"),
                ("KAFKA_TOPIC_OTP_GENERATE_IN", "from.flowx"),
                ("KAFKA_TOPIC_OTP_VALIDATE_OUT", "flowx.validate.out"),
            ]),
        )
        .unwrap();
        assert_eq!(config.kafka.topics.generate_in, "from.flowx");
        assert_eq!(config.kafka.topics.validate_in, "file.validate");
        assert_eq!(config.kafka.topics.validate_out, "flowx.validate.out");
        assert!(
            !Config::default().kafka.enabled,
            "off by default: no broker needed"
        );
        let clash = Config::from_source(
            "kafka:\n  enabled: true\n",
            "config.yaml",
            env(&[(
                "KAFKA_TOPIC_OTP_GENERATE_OUT",
                "ai.flowx.plugin.notification.trigger.validate.otp.v1",
            )]),
        );
        assert!(clash.unwrap_err().message.contains("kafka.topics"));
    }

    #[test]
    fn a_bad_environment_variable_is_named() {
        let err = Config::from_source("", "config.yaml", env(&[("COLLOQUY__OTP__LENGHT", "8")]))
            .unwrap_err();
        assert_eq!(err.origin, "COLLOQUY__OTP__LENGHT");
    }

    #[test]
    fn secrets_are_redacted() {
        let config = Config::from_source(
            "otp:\n  secret: hunter2hunter2hunter2\n",
            "c.yaml",
            env(&[]),
        )
        .unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("[redacted]"));
    }

    #[test]
    fn values_are_checked() {
        assert!(Config::from_source("otp:\n  length: 2\n", "c.yaml", env(&[])).is_err());
        assert!(Config::from_source("otp:\n  secret: short\n", "c.yaml", env(&[])).is_err());
        assert!(
            Config::from_source("email:\n  from: { address: nope }\n", "c.yaml", env(&[])).is_err()
        );
        let outlived = Config::from_source(
            "otp:\n  ttl: 1h\nsessions:\n  idle_ttl: 30m\n",
            "c.yaml",
            env(&[]),
        )
        .unwrap_err();
        assert!(outlived.message.contains("otp.ttl"), "{}", outlived.message);
    }
}
