//! The SendGrid adapter: one email becomes one `POST {base_url}/v3/mail/send`, tried again
//! while another attempt can help, all within `email.sendgrid.retry_budget`.
//!
//! Owns: the HTTP client (connect and per-attempt timeouts, no redirects, no proxy for a
//! loopback host), the request body (built with the `sendgrid` crate's v3 types and
//! serialised once, so every retry resends the very same email and code), reading SendGrid's
//! status and headers on every answer (`X-Message-Id`, `Retry-After`, `X-RateLimit-Reset`),
//! turning them into a [`Delivery`] or a [`SendError`], and one log line plus metrics per
//! attempt.
//!
//! Must not: generate or change a code; log a body, a code, the key or a full address; let
//! SendGrid's words reach the user (they go to the operator's log; the dialog only hears
//! `failed`); read the environment (the key arrives as an [`ApiKey`] from `app.rs`).
//!
//! Why not `sendgrid::v3::Sender::send`: it drops the headers of error answers, so a 429's
//! reset time is lost, and it has no timeout or retry. See ARCHITECTURE.md, "Decisions".

mod answer;
mod key;
mod payload;

pub use key::{ApiKey, KeyError};

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Url;

use self::answer::{Answer, Verdict, without};
use self::payload::Envelope;
use super::{Delivery, EmailMessage, EmailSender, SendError};
use crate::address::EmailAddr;
use crate::clock::Clock;
use crate::config::EmailConfig;
use crate::metrics::Metrics;
use crate::net::is_loopback;
use crate::provider::retry::{Next, Policy};
use crate::provider::{Attempt, Attempts, Report, Sleeper, TokioSleeper, millis};

/// The Mail Send endpoint under the API host.
const MAIL_SEND_PATH: &str = "/v3/mail/send";

/// Sends email through SendGrid's v3 Mail Send API.
pub struct SendgridSender {
    client: reqwest::Client,
    endpoint: Url,
    envelope: Envelope,
    policy: Policy,
    request_timeout: Duration,
    retry_budget: Duration,
    /// Wall-clock time, to read `X-RateLimit-Reset` (Unix seconds) against.
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    sleeper: Arc<dyn Sleeper>,
}

impl SendgridSender {
    /// Builds the sender from `email.*` and the checked key. Fails on a base URL that is not
    /// a plain `https` host (or `http` on loopback, for tests).
    pub fn new(
        config: &EmailConfig,
        key: &ApiKey,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, String> {
        let sendgrid = &config.sendgrid;
        let endpoint = endpoint(&sendgrid.base_url)?;
        // Marks the Authorization header sensitive; sets the JSON content type.
        let headers = sendgrid::v3::Sender::get_headers(key.expose())
            .map_err(|_| KeyError::Malformed.to_string())?;
        let mut client = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(sendgrid.connect_timeout)
            .timeout(sendgrid.request_timeout)
            .redirect(reqwest::redirect::Policy::none());
        if is_loopback(&endpoint) {
            // A system proxy must not intercept a local mock.
            client = client.no_proxy();
        }
        let client = client
            .build()
            .map_err(|error| format!("cannot build the SendGrid HTTP client: {error}"))?;
        Ok(Self {
            client,
            endpoint,
            envelope: Envelope {
                from_address: config.from.address.clone(),
                from_name: config.from.name.clone(),
                template_id: sendgrid.template_id.clone(),
                sandbox: sendgrid.sandbox,
            },
            policy: Policy {
                base: sendgrid.backoff_base,
                max_attempts: sendgrid.max_attempts,
            },
            request_timeout: sendgrid.request_timeout,
            retry_budget: sendgrid.retry_budget,
            clock,
            metrics,
            sleeper: Arc::new(TokioSleeper),
        })
    }

    /// Replaces how the sender waits between attempts (tests record the waits).
    #[must_use]
    pub fn with_sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = sleeper;
        self
    }

    /// The full Mail Send URL.
    pub fn endpoint(&self) -> &str {
        self.endpoint.as_str()
    }

    /// One attempt, bounded by the per-attempt timeout and the time left in the budget.
    async fn attempt(&self, body: Vec<u8>, left: Duration) -> Answer {
        let sent = self
            .client
            .post(self.endpoint.clone())
            .timeout(self.request_timeout.min(left))
            .body(body)
            .send()
            .await;
        Answer::read(sent).await
    }

    /// The one log line and the metrics of an attempt. Never the body, code or full address.
    fn record(&self, to: &EmailAddr, report: &Report<'_, Delivery, SendError, Answer>) {
        let Report {
            attempt,
            elapsed,
            answer,
            outcome,
            next,
        } = *report;
        let status = answer.label();
        self.metrics.sendgrid_responses.inc(&[("status", &status)]);
        self.metrics.sendgrid_latency.observe(elapsed);
        let to = to.masked();
        let elapsed_ms = millis(elapsed);
        match (outcome, next) {
            (Attempt::Done(delivery), _) => tracing::info!(
                to,
                status,
                message_id = delivery.provider_message_id.as_deref().unwrap_or(""),
                attempt,
                elapsed_ms,
                sandbox = self.envelope.sandbox,
                "sendgrid: email accepted"
            ),
            (Attempt::Retry(error, _), Some(Next::Wait(wait))) => {
                Metrics::inc(&self.metrics.sendgrid_retries);
                tracing::warn!(to, status, attempt, elapsed_ms, retry_in_ms = millis(wait), %error, "sendgrid: attempt failed; retrying");
            }
            (Attempt::Retry(error, _), next) => {
                let why = match next {
                    Some(Next::GiveUp(why)) => why.as_str(),
                    _ => "",
                };
                tracing::warn!(to, status, attempt, elapsed_ms, gave_up = why, %error, "sendgrid: email not sent; giving up");
            }
            (Attempt::Final(error @ SendError::Misconfigured(_)), _) => tracing::error!(
                to, status, attempt, elapsed_ms, %error,
                "sendgrid: email not sent; the operator must fix the SendGrid configuration"
            ),
            (Attempt::Final(error), _) => {
                tracing::error!(to, status, attempt, elapsed_ms, %error, "sendgrid: email not sent");
            }
        }
    }
}

#[async_trait]
impl EmailSender for SendgridSender {
    async fn send(&self, message: &EmailMessage) -> Result<Delivery, SendError> {
        let body = payload::body(&self.envelope, message).map_err(SendError::Rejected)?;
        // The code, where the email carries one: never in an error's text, so never logged.
        let code = message
            .provider_template
            .as_ref()
            .and_then(|t| t.data.get("code"))
            .and_then(serde_json::Value::as_str);
        let now = || self.clock.now();
        let attempts = Attempts {
            policy: self.policy,
            budget: self.retry_budget,
            sleeper: self.sleeper.as_ref(),
            now: &now,
        };
        let result = attempts
            .run(
                |left| {
                    let body = body.clone();
                    async move {
                        let answer = self.attempt(body, left).await;
                        let verdict: Verdict = without(answer.verdict(), code);
                        (verdict, answer)
                    }
                },
                |report| self.record(&message.to, &report),
            )
            .await;
        self.metrics
            .sendgrid_sends
            .inc(&[("outcome", outcome_label(&result))]);
        result
    }

    fn name(&self) -> &'static str {
        "sendgrid"
    }
}

// The client's default headers hold the key: print the settings only.
impl fmt::Debug for SendgridSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendgridSender")
            .field("endpoint", &self.endpoint.as_str())
            .field("envelope", &self.envelope)
            .field("policy", &self.policy)
            .field("request_timeout", &self.request_timeout)
            .field("retry_budget", &self.retry_budget)
            .finish_non_exhaustive()
    }
}

/// `{base_url}/v3/mail/send`. The base is a bare host: `https`, or `http` on loopback only,
/// because the key travels in a header and must not cross a network in clear text.
fn endpoint(base_url: &str) -> Result<Url, String> {
    let invalid = |why: &str| format!("`email.sendgrid.base_url` {why}: `{base_url}`");
    let base = Url::parse(base_url.trim()).map_err(|_| invalid("is not a URL"))?;
    if !matches!(base.path(), "" | "/") || base.query().is_some() {
        return Err(invalid(
            "must be a host without a path, such as https://api.sendgrid.com",
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
    base.join(MAIL_SEND_PATH)
        .map_err(|_| invalid("cannot take the Mail Send path"))
}

/// The final outcome of one email, for `colloquy_sendgrid_sends_total`.
fn outcome_label(result: &Result<Delivery, SendError>) -> &'static str {
    match result {
        Ok(_) => "delivered",
        Err(SendError::Temporary(_)) => "temporary",
        Err(SendError::Rejected(_)) => "rejected",
        Err(SendError::Misconfigured(_)) => "misconfigured",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_is_the_mail_send_path_on_a_bare_host() {
        assert_eq!(
            endpoint("https://api.eu.sendgrid.com/").unwrap().as_str(),
            "https://api.eu.sendgrid.com/v3/mail/send"
        );
        assert_eq!(
            endpoint("http://127.0.0.1:4010").unwrap().as_str(),
            "http://127.0.0.1:4010/v3/mail/send"
        );
        assert!(endpoint("http://[::1]:4010").is_ok());
        assert!(endpoint("http://localhost:4010").is_ok());
        for bad in [
            "http://api.sendgrid.com",
            "https://api.sendgrid.com/v3/mail/send",
            "api.sendgrid.com",
            "ftp://127.0.0.1",
        ] {
            assert!(endpoint(bad).is_err(), "{bad}");
        }
    }
}
