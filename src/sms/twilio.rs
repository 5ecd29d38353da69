//! The Twilio adapter: one text becomes one `POST
//! {base_url}/2010-04-01/Accounts/{AccountSid}/Messages.json` (form-encoded `To`, `Body`, and
//! `MessagingServiceSid` or `From`; HTTP Basic auth with the account SID and auth token),
//! tried again while another attempt can help, all within `sms.twilio.retry_budget`.
//!
//! Must not: log a body, a code, the token or a full number; show Twilio's words to a user
//! or a log (its messages quote the number: only status and error code are kept); read the
//! environment (credentials arrive as [`TwilioCredentials`] from `app.rs`).
//!
//! Why not a Twilio SDK crate: none is maintained for Programmable Messaging in Rust, and the
//! endpoint is one form POST; see ARCHITECTURE.md, "Decisions".

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::{StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};

use super::{Delivery, SmsError, SmsMessage, SmsSender};
use crate::config::{Secret, TwilioConfig, is_sid};
use crate::net::is_loopback;
use crate::provider::retry::{Hint, Next, Policy};
use crate::provider::{Attempt, Attempts, Report, Sleeper, TokioSleeper, millis, read_at_most};

pub use crate::config::{TWILIO_ACCOUNT_SID_VAR, TWILIO_AUTH_TOKEN_VAR};

/// Why the credentials cannot be used. Never holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    #[error(
        "`sms.provider: twilio` needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN in the environment"
    )]
    Missing,
    #[error("TWILIO_ACCOUNT_SID must be an account SID: AC and 32 hex digits")]
    MalformedSid,
    #[error("TWILIO_AUTH_TOKEN must be 32 hex digits")]
    MalformedToken,
}

/// The account SID (part of every URL, so not secret in itself) and the auth token.
#[derive(Clone)]
pub struct TwilioCredentials {
    account_sid: String,
    auth_token: SecretString,
}

impl TwilioCredentials {
    pub fn parse(sid: Option<&Secret>, token: Option<&Secret>) -> Result<Self, CredentialsError> {
        let (Some(sid), Some(token)) = (sid, token) else {
            return Err(CredentialsError::Missing);
        };
        let sid = sid.expose().expose_secret().trim();
        if !is_sid(sid, "AC") {
            return Err(CredentialsError::MalformedSid);
        }
        let token = token.expose().expose_secret().trim();
        if token.len() != 32 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(CredentialsError::MalformedToken);
        }
        Ok(Self {
            account_sid: sid.to_owned(),
            auth_token: SecretString::from(token.to_owned()),
        })
    }
}

impl fmt::Debug for TwilioCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioCredentials")
            .field("account_sid", &self.account_sid)
            .finish_non_exhaustive()
    }
}

/// Who the text is from, as Twilio takes it.
#[derive(Debug, Clone)]
enum Origin {
    Service(String),
    Number(String),
}

/// Sends texts through Twilio Programmable Messaging.
pub struct TwilioSender {
    client: reqwest::Client,
    endpoint: Url,
    credentials: TwilioCredentials,
    origin: Origin,
    policy: Policy,
    request_timeout: Duration,
    retry_budget: Duration,
    sleeper: Arc<dyn Sleeper>,
}

/// What one attempt came to.
type Verdict = Attempt<Delivery, SmsError>;

/// Twilio's answers are small; more than this is not Twilio's and is not read.
const MAX_ANSWER: usize = 64 * 1024;

impl TwilioSender {
    pub fn new(config: &TwilioConfig, credentials: TwilioCredentials) -> Result<Self, String> {
        let endpoint = endpoint(&config.base_url, &credentials.account_sid)?;
        let origin = match (&config.messaging_service_sid, &config.from) {
            (Some(sid), _) => Origin::Service(sid.clone()),
            (None, Some(from)) => Origin::Number(from.clone()),
            (None, None) => {
                return Err("`sms.provider: twilio` needs `sms.twilio.messaging_service_sid` or `sms.twilio.from`".to_owned());
            }
        };
        let mut client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .redirect(reqwest::redirect::Policy::none());
        if is_loopback(&endpoint) {
            client = client.no_proxy();
        }
        let client = client
            .build()
            .map_err(|error| format!("cannot build the Twilio HTTP client: {error}"))?;
        Ok(Self {
            client,
            endpoint,
            credentials,
            origin,
            policy: Policy {
                base: config.backoff_base,
                max_attempts: config.max_attempts,
            },
            request_timeout: config.request_timeout,
            retry_budget: config.retry_budget,
            sleeper: Arc::new(TokioSleeper),
        })
    }

    /// Replaces how the sender waits between attempts (tests record the waits).
    #[must_use]
    pub fn with_sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = sleeper;
        self
    }

    /// The Messages URL (the account SID is in it; nothing secret is).
    pub fn endpoint(&self) -> &str {
        self.endpoint.as_str()
    }

    /// The form body: `To`, `Body`, and the origin. Encoded once, so every retry resends
    /// the same text.
    fn form(&self, message: &SmsMessage) -> String {
        // `Url`'s query serialiser is `application/x-www-form-urlencoded`.
        let mut form = self.endpoint.clone();
        form.set_query(None);
        {
            let mut pairs = form.query_pairs_mut();
            pairs.append_pair("To", message.to.as_str());
            pairs.append_pair("Body", &message.body);
            match &self.origin {
                Origin::Service(sid) => pairs.append_pair("MessagingServiceSid", sid),
                Origin::Number(from) => pairs.append_pair("From", from),
            };
        }
        form.query().unwrap_or_default().to_owned()
    }

    async fn attempt(&self, body: String, left: Duration) -> (Verdict, String) {
        let sent = self
            .client
            .post(self.endpoint.clone())
            .basic_auth(
                &self.credentials.account_sid,
                Some(self.credentials.auth_token.expose_secret()),
            )
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .timeout(self.request_timeout.min(left))
            .body(body)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => {
                let label = if error.is_timeout() {
                    "timeout"
                } else {
                    "connect_error"
                };
                return (
                    Attempt::Retry(SmsError::Temporary(label.to_owned()), Hint::default()),
                    label.to_owned(),
                );
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = read_at_most(response, MAX_ANSWER).await.unwrap_or_default();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let code = json.get("code").and_then(serde_json::Value::as_u64);
        let label = match code {
            Some(code) => format!("{} ({code})", status.as_u16()),
            None => status.as_u16().to_string(),
        };
        (classify(status, code, &json, retry_after), label)
    }
}

/// Twilio's answer as an outcome. The error codes the engine tells apart are Twilio's
/// documented ones; any other 4xx is `Rejected` with its code for the operator.
fn classify(
    status: StatusCode,
    code: Option<u64>,
    json: &serde_json::Value,
    retry_after: Option<Duration>,
) -> Verdict {
    if status.is_success() {
        let sid = json
            .get("sid")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned);
        return Attempt::Done(Delivery {
            provider_message_id: sid,
        });
    }
    let hint = Hint {
        retry_after,
        reset_at: None,
    };
    let what = |why: &str| {
        format!(
            "Twilio answered {} with error {}: {why}",
            status.as_u16(),
            code.map_or_else(|| "none".to_owned(), |c| c.to_string())
        )
    };
    match (status.as_u16(), code) {
        (429 | 500 | 502 | 503 | 504, _) => {
            Attempt::Retry(SmsError::Temporary(what("try again later")), hint)
        }
        (401 | 403, _) | (_, Some(20003)) => Attempt::Final(SmsError::Misconfigured(what(
            "the account SID or auth token is wrong",
        ))),
        (_, Some(21211 | 21614)) => Attempt::Final(SmsError::InvalidNumber),
        (_, Some(21610)) => Attempt::Final(SmsError::OptedOut),
        (_, Some(21408)) => Attempt::Final(SmsError::RegionNotEnabled),
        (_, Some(21212 | 21606 | 21659 | 21703 | 21705)) => Attempt::Final(
            SmsError::Misconfigured(what("the sender number or Messaging Service cannot send")),
        ),
        (status, _) if (500..600).contains(&status) => {
            Attempt::Retry(SmsError::Temporary(what("provider error")), hint)
        }
        _ => Attempt::Final(SmsError::Rejected(what("the message was refused"))),
    }
}

#[async_trait]
impl SmsSender for TwilioSender {
    async fn send(&self, message: &SmsMessage) -> Result<Delivery, SmsError> {
        let body = self.form(message);
        let to = message.to.masked();
        let now = chrono::Utc::now;
        let attempts = Attempts {
            policy: self.policy,
            budget: self.retry_budget,
            sleeper: self.sleeper.as_ref(),
            now: &now,
        };
        attempts
            .run(
                |left| self.attempt(body.clone(), left),
                |report| record(&to, &report),
            )
            .await
    }

    fn name(&self) -> &'static str {
        "twilio"
    }
}

/// The one log line of an attempt: the masked number, status and Twilio's error code, never
/// the body or Twilio's words.
fn record(to: &str, report: &Report<'_, Delivery, SmsError, String>) {
    let Report {
        attempt,
        elapsed,
        answer: status,
        outcome,
        next,
    } = *report;
    let elapsed_ms = millis(elapsed);
    match (outcome, next) {
        (Attempt::Done(delivery), _) => tracing::info!(
            to,
            status,
            message_sid = delivery.provider_message_id.as_deref().unwrap_or(""),
            attempt,
            elapsed_ms,
            "twilio: text accepted"
        ),
        (Attempt::Final(error @ SmsError::Misconfigured(_)), _) => {
            tracing::error!(to, status, attempt, elapsed_ms, %error, "twilio: text not sent; the operator must fix the Twilio configuration");
        }
        (Attempt::Final(error), _) => tracing::warn!(
            to,
            status,
            attempt,
            elapsed_ms,
            outcome = error.label(),
            "twilio: text not sent"
        ),
        (Attempt::Retry(..), Some(Next::Wait(wait))) => tracing::warn!(
            to,
            status,
            attempt,
            elapsed_ms,
            retry_in_ms = millis(wait),
            "twilio: attempt failed; retrying"
        ),
        (Attempt::Retry(..), next) => {
            let gave_up = match next {
                Some(Next::GiveUp(why)) => why.as_str(),
                _ => "",
            };
            tracing::warn!(
                to,
                status,
                attempt,
                elapsed_ms,
                gave_up,
                "twilio: text not sent; giving up"
            );
        }
    }
}

impl fmt::Debug for TwilioSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioSender")
            .field("endpoint", &self.endpoint.as_str())
            .field("origin", &self.origin)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// `{base_url}/2010-04-01/Accounts/{sid}/Messages.json`: `https`, or `http` on loopback only,
/// since the token travels in a header.
fn endpoint(base_url: &str, account_sid: &str) -> Result<Url, String> {
    let invalid = |why: &str| format!("`sms.twilio.base_url` {why}: `{base_url}`");
    let base = Url::parse(base_url.trim()).map_err(|_| invalid("is not a URL"))?;
    if !matches!(base.path(), "" | "/") || base.query().is_some() {
        return Err(invalid(
            "must be a host without a path, such as https://api.twilio.com",
        ));
    }
    match base.scheme() {
        "https" => {}
        "http" if is_loopback(&base) => {}
        _ => {
            return Err(invalid(
                "must use https (plain http only on 127.0.0.1 or localhost)",
            ));
        }
    }
    base.join(&format!("/2010-04-01/Accounts/{account_sid}/Messages.json"))
        .map_err(|_| invalid("cannot take the Messages path"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(status: u16, code: Option<u64>) -> Verdict {
        let json = serde_json::json!({ "code": code, "sid": "SM00000000000000000000000000000000" });
        classify(StatusCode::from_u16(status).unwrap(), code, &json, None)
    }

    #[test]
    fn twilio_errors_map_to_defined_outcomes() {
        assert!(matches!(verdict(201, None), Attempt::Done(_)));
        assert!(matches!(
            verdict(400, Some(21211)),
            Attempt::Final(SmsError::InvalidNumber)
        ));
        assert!(matches!(
            verdict(400, Some(21610)),
            Attempt::Final(SmsError::OptedOut)
        ));
        assert!(matches!(
            verdict(400, Some(21408)),
            Attempt::Final(SmsError::RegionNotEnabled)
        ));
        assert!(matches!(
            verdict(401, Some(20003)),
            Attempt::Final(SmsError::Misconfigured(_))
        ));
        assert!(matches!(
            verdict(400, Some(21606)),
            Attempt::Final(SmsError::Misconfigured(_))
        ));
        assert!(matches!(
            verdict(400, Some(21999)),
            Attempt::Final(SmsError::Rejected(_))
        ));
        for status in [429, 500, 502, 503, 504] {
            assert!(
                matches!(verdict(status, Some(20429)), Attempt::Retry(..)),
                "{status}"
            );
        }
    }

    #[test]
    fn the_endpoint_is_the_messages_path_on_a_bare_host() {
        let sid = format!("AC{}", "0".repeat(32));
        assert_eq!(
            endpoint("https://api.twilio.com", &sid).unwrap().as_str(),
            format!("https://api.twilio.com/2010-04-01/Accounts/{sid}/Messages.json")
        );
        assert!(endpoint("http://127.0.0.1:9", &sid).is_ok());
        for bad in ["http://api.twilio.com", "https://api.twilio.com/x", "nope"] {
            assert!(endpoint(bad, &sid).is_err(), "{bad}");
        }
    }

    #[test]
    fn credentials_are_checked_and_never_printed() {
        let sid = Secret::new(&format!("AC{}", "a".repeat(32)));
        let token = Secret::new(&"b".repeat(32));
        let credentials = TwilioCredentials::parse(Some(&sid), Some(&token)).unwrap();
        assert!(!format!("{credentials:?}").contains("bbbb"));
        assert_eq!(
            TwilioCredentials::parse(Some(&sid), None).unwrap_err(),
            CredentialsError::Missing
        );
        assert_eq!(
            TwilioCredentials::parse(Some(&token), Some(&token)).unwrap_err(),
            CredentialsError::MalformedSid
        );
        assert_eq!(
            TwilioCredentials::parse(Some(&sid), Some(&Secret::new("short"))).unwrap_err(),
            CredentialsError::MalformedToken
        );
    }
}
