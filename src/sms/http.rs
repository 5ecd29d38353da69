//! The generic HTTP SMS gateway adapter (`sms.provider: http`): one text becomes one request
//! to `sms.http.url` whose body is `sms.http.body` with `{{ to }}`, `{{ to_digits }}` and
//! `{{ text }}` filled in — escaped for a JSON string, or percent-encoded for a form — plus an
//! optional header whose value came from the environment. A 2xx answer is a delivery; 429,
//! 5xx, timeouts and connection errors are tried again through `provider/`'s loop.
//!
//! Must not: log a body, the text, a code, the header's value or a full number (the number
//! is masked; the gateway's answer is read up to a bound and never logged); read the
//! environment (the header's value arrives resolved in the config).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use secrecy::ExposeSecret;

use super::{Delivery, SmsError, SmsMessage, SmsSender};
use crate::config::{BodyFormat, HttpMethod, HttpSmsConfig};
use crate::dialog::template::{Escape, Template};
use crate::net::is_loopback;
use crate::provider::retry::{Hint, Next, Policy};
use crate::provider::{Attempt, Attempts, Report, Sleeper, TokioSleeper, millis, read_at_most};

/// The placeholders a body may use.
const PLACEHOLDERS: [&str; 3] = ["to", "to_digits", "text"];
/// A gateway's answer is read up to this much (and then dropped: it may quote the text).
const MAX_ANSWER: usize = 16 * 1024;

/// Sends texts through an HTTP SMS gateway.
pub struct HttpSmsSender {
    client: reqwest::Client,
    url: Url,
    method: Method,
    format: BodyFormat,
    body: Template,
    /// The secret header, marked sensitive.
    auth: Option<(HeaderName, HeaderValue)>,
    policy: Policy,
    request_timeout: Duration,
    retry_budget: Duration,
    sleeper: Arc<dyn Sleeper>,
}

type Verdict = Attempt<Delivery, SmsError>;

impl HttpSmsSender {
    /// Builds the sender from `sms.http` (its header value already read from the
    /// environment). Fails on a URL that is not `https` (or `http` on loopback), and on a body
    /// template that is not well formed for its format with any number and text in it.
    pub fn new(config: &HttpSmsConfig) -> Result<Self, String> {
        let url = gateway_url(config.url.as_deref().unwrap_or_default())?;
        let body = body_template(config.body.as_deref().unwrap_or_default(), config.format)?;
        let auth = match &config.auth_header {
            Some(header) => {
                let name = HeaderName::from_bytes(header.name.as_bytes())
                    .map_err(|_| "`sms.http.auth_header.name` is not a header name".to_owned())?;
                let mut value = HeaderValue::from_str(&format!(
                    "{}{}",
                    header.prefix,
                    header.value.expose().expose_secret()
                ))
                .map_err(|_| {
                    "the environment variable of `sms.http.auth_header.value` holds characters a header cannot carry".to_owned()
                })?;
                value.set_sensitive(true);
                Some((name, value))
            }
            None => None,
        };
        let mut client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .redirect(reqwest::redirect::Policy::none());
        if is_loopback(&url) {
            client = client.no_proxy();
        }
        let client = client
            .build()
            .map_err(|error| format!("cannot build the SMS gateway's HTTP client: {error}"))?;
        Ok(Self {
            client,
            url,
            method: match config.method {
                HttpMethod::Post => Method::POST,
                HttpMethod::Put => Method::PUT,
            },
            format: config.format,
            body,
            auth,
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

    /// The gateway's URL without its query (which may hold an account name), for the
    /// start-up log line.
    pub fn endpoint(&self) -> String {
        let mut shown = self.url.clone();
        shown.set_query(None);
        shown.to_string()
    }

    async fn attempt(&self, body: String, left: Duration) -> (Verdict, String) {
        let content_type = match self.format {
            BodyFormat::Json => "application/json",
            BodyFormat::Form => "application/x-www-form-urlencoded",
        };
        let mut request = self
            .client
            .request(self.method.clone(), self.url.clone())
            .header(CONTENT_TYPE, content_type)
            .timeout(self.request_timeout.min(left))
            .body(body);
        if let Some((name, value)) = &self.auth {
            request = request.header(name.clone(), value.clone());
        }
        let response = match request.send().await {
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
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        // Read (bounded) so the connection can be reused; never kept or logged.
        let _ = read_at_most(response, MAX_ANSWER).await;
        (classify(status, retry_after), status.as_u16().to_string())
    }
}

/// The gateway's status as an outcome: 2xx delivered; 429 and 5xx worth another attempt;
/// 401/403 and a wrong endpoint the operator's to fix; any other refusal final.
fn classify(status: StatusCode, retry_after: Option<Duration>) -> Verdict {
    let code = status.as_u16();
    if status.is_success() {
        return Attempt::Done(Delivery::default());
    }
    let hint = Hint {
        retry_after,
        reset_at: None,
    };
    match code {
        429 | 500..=599 => Attempt::Retry(
            SmsError::Temporary(format!("the SMS gateway answered {code}")),
            hint,
        ),
        401 | 403 => Attempt::Final(SmsError::Misconfigured(format!(
            "the SMS gateway refused the credentials ({code}); check `sms.http.auth_header` and its environment variable"
        ))),
        300..=399 | 404 | 405 => Attempt::Final(SmsError::Misconfigured(format!(
            "the SMS gateway answered {code}; check `sms.http.url` and `sms.http.method`"
        ))),
        _ => Attempt::Final(SmsError::Rejected(format!(
            "the SMS gateway answered {code}"
        ))),
    }
}

#[async_trait]
impl SmsSender for HttpSmsSender {
    async fn send(&self, message: &SmsMessage) -> Result<Delivery, SmsError> {
        let escape = match self.format {
            BodyFormat::Json => Escape::JsonString,
            BodyFormat::Form => Escape::UrlComponent,
        };
        // Rendered once, so every retry sends the same text.
        let body = render(&self.body, escape, message.to.as_str(), &message.body);
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
        "http"
    }
}

/// The one log line of an attempt: the masked number and the status, never the body.
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
        (Attempt::Done(_), _) => tracing::info!(
            to,
            status,
            attempt,
            elapsed_ms,
            "sms gateway: text accepted"
        ),
        (Attempt::Final(error @ SmsError::Misconfigured(_)), _) => tracing::error!(
            to,
            status,
            attempt,
            elapsed_ms,
            %error,
            "sms gateway: text not sent; the operator must fix `sms.http`"
        ),
        (Attempt::Final(error), _) => tracing::warn!(
            to,
            status,
            attempt,
            elapsed_ms,
            outcome = error.label(),
            "sms gateway: text not sent"
        ),
        (Attempt::Retry(..), Some(Next::Wait(wait))) => tracing::warn!(
            to,
            status,
            attempt,
            elapsed_ms,
            retry_in_ms = millis(wait),
            "sms gateway: attempt failed; retrying"
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
                "sms gateway: text not sent; giving up"
            );
        }
    }
}

impl fmt::Debug for HttpSmsSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSmsSender")
            .field("endpoint", &self.endpoint())
            .field("method", &self.method)
            .field("format", &self.format)
            .field("auth_header", &self.auth.as_ref().map(|(name, _)| name))
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// The body for one text.
fn render(template: &Template, escape: Escape, to: &str, text: &str) -> String {
    template.render(escape, |name, out| {
        match name {
            "to" => out.push_str(to),
            "to_digits" => out.push_str(to.trim_start_matches('+')),
            "text" => out.push_str(text),
            _ => return false,
        }
        true
    })
}

/// `https`, or plain `http` on loopback only (a header may carry a credential); a path and a
/// query are the gateway's business.
fn gateway_url(text: &str) -> Result<Url, String> {
    let invalid = |why: &str| format!("`sms.http.url` {why}");
    let url = Url::parse(text.trim()).map_err(|_| invalid("is not a URL"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "must not hold credentials: use `sms.http.auth_header`",
        ));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        _ => Err(invalid(
            "must use https (plain http only on 127.0.0.1 or localhost)",
        )),
    }
}

/// Compiles the body and proves it well formed: rendered with a number and a text full of
/// what needs escaping, it must parse as its format and give both back unchanged (so every
/// placeholder stands where a value can: inside a JSON string, or a form value).
fn body_template(text: &str, format: BodyFormat) -> Result<Template, String> {
    let invalid = |why: String| format!("`sms.http.body` {why}");
    let template = Template::compile(text).map_err(|e| invalid(e.message))?;
    let names: Vec<&str> = template.variables().collect();
    if let Some(unknown) = names.iter().find(|n| !PLACEHOLDERS.contains(n)) {
        return Err(invalid(format!(
            "uses `{{{{ {unknown} }}}}`; the placeholders are {{{{ to }}}}, {{{{ to_digits }}}} and {{{{ text }}}}"
        )));
    }
    if !names.contains(&"text") || !(names.contains(&"to") || names.contains(&"to_digits")) {
        return Err(invalid(
            "must hold {{ text }} and the number ({{ to }} or {{ to_digits }})".to_owned(),
        ));
    }
    let (to, sample) = (
        "+447400123456",
        "Line \"one\" & two=2 + 3%\\\n\u{1}é 🙂 {{x}}",
    );
    let ok = match format {
        BodyFormat::Json => {
            let body = render(&template, Escape::JsonString, to, sample);
            serde_json::from_str::<serde_json::Value>(&body)
                .is_ok_and(|v| holds_string(&v, sample) && holds_number(&v, to))
        }
        BodyFormat::Form => {
            let body = render(&template, Escape::UrlComponent, to, sample);
            let pairs = form_pairs(&body);
            pairs.iter().any(|(_, v)| v.contains(sample))
                && pairs
                    .iter()
                    .any(|(_, v)| v == to || v == to.trim_start_matches('+'))
        }
    };
    if ok {
        Ok(template)
    } else {
        Err(invalid(match format {
            BodyFormat::Json => "must be a JSON document with each placeholder inside a string (`{\"to\": \"{{ to }}\", \"message\": \"{{ text }}\"}`)".to_owned(),
            BodyFormat::Form => "must be form fields with each placeholder inside a value (`to={{ to }}&message={{ text }}`)".to_owned(),
        }))
    }
}

fn holds_string(value: &serde_json::Value, wanted: &str) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains(wanted),
        serde_json::Value::Array(items) => items.iter().any(|v| holds_string(v, wanted)),
        serde_json::Value::Object(map) => map.values().any(|v| holds_string(v, wanted)),
        _ => false,
    }
}

fn holds_number(value: &serde_json::Value, to: &str) -> bool {
    holds_string(value, to) || holds_string(value, to.trim_start_matches('+'))
}

/// A form body read back as a form parser reads it.
fn form_pairs(body: &str) -> Vec<(String, String)> {
    Url::parse(&format!("http://form/?{body}"))
        .map(|url| {
            url.query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_checked_for_their_format() {
        for good in [
            r#"{"to": "{{ to }}", "message": "{{ text }}"}"#,
            r#"{"messages": [{"destinations": [{"to": "{{ to_digits }}"}], "text": "Code: {{ text }}"}]}"#,
        ] {
            assert!(body_template(good, BodyFormat::Json).is_ok(), "{good}");
        }
        for bad in [
            r#"{"to": {{ to }}, "message": "{{ text }}"}"#,
            r#"{"to": "{{ to }}"}"#,
            r#"{"to": "{{ to }}", "message": "{{ text }}", "x": "{{ code }}"}"#,
            r#"{"to": "{{ to }}", "message": "{{ text }""#,
            "to={{ to }}&text={{ text }}",
        ] {
            assert!(body_template(bad, BodyFormat::Json).is_err(), "{bad}");
        }
        assert!(
            body_template(
                "to={{ to_digits }}&text={{ text }}&from=ACME",
                BodyFormat::Form
            )
            .is_ok()
        );
        assert!(body_template("to={{ to }}&text=Code%3A+{{ text }}", BodyFormat::Form).is_ok());
        assert!(body_template("to={{ to }}&{{ text }}", BodyFormat::Form).is_err());
    }

    #[test]
    fn values_are_escaped_for_the_body() {
        let json = body_template(
            r#"{"to": "{{ to }}", "message": "{{ text }}"}"#,
            BodyFormat::Json,
        )
        .unwrap();
        let text = "Your code is 4821. \"Quotes\" \\ and\nlines";
        let body = render(&json, Escape::JsonString, "+447400123456", text);
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed["message"], text);
        assert_eq!(parsed["to"], "+447400123456");
        let form = body_template("to={{ to }}&text={{ text }}", BodyFormat::Form).unwrap();
        let body = render(&form, Escape::UrlComponent, "+447400123456", "a&b=c + d");
        assert_eq!(
            form_pairs(&body),
            [
                ("to".to_owned(), "+447400123456".to_owned()),
                ("text".to_owned(), "a&b=c + d".to_owned())
            ]
        );
    }

    #[test]
    fn the_url_is_https_or_loopback_and_holds_no_credentials() {
        assert!(gateway_url("https://sms.example.com/api/send?account=acme").is_ok());
        assert!(gateway_url("http://127.0.0.1:9/send").is_ok());
        for bad in [
            "http://sms.example.com/send",
            "https://user:pass@sms.example.com/send",
            "sms.example.com",
        ] {
            assert!(gateway_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn statuses_are_classified() {
        let verdict = |code| classify(StatusCode::from_u16(code).unwrap(), None);
        for code in [200, 201, 202, 204] {
            assert!(matches!(verdict(code), Attempt::Done(_)), "{code}");
        }
        for code in [429, 500, 502, 503, 504] {
            assert!(matches!(verdict(code), Attempt::Retry(..)), "{code}");
        }
        for code in [401, 403, 404, 301] {
            assert!(
                matches!(verdict(code), Attempt::Final(SmsError::Misconfigured(_))),
                "{code}"
            );
        }
        assert!(matches!(
            verdict(400),
            Attempt::Final(SmsError::Rejected(_))
        ));
    }
}
