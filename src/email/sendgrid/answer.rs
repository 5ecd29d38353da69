//! What one attempt got back from SendGrid, and what that means: delivered, worth another
//! attempt, or final. SendGrid's own words (`errors[].message` and `field`) are kept for
//! the operator's log, with any address in them masked; the user never sees them.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde::Deserialize;

use crate::address::mask_emails_in;
use crate::email::{Delivery, SendError};
use crate::provider::retry::Hint;
use crate::provider::{Attempt, read_at_most};

/// Error details longer than this are cut: they go to a log line.
const MAX_DETAILS: usize = 300;
/// SendGrid's error bodies are a few hundred bytes; more than this is not read.
const MAX_ERROR_BODY: usize = 16 * 1024;

/// The outcome of one HTTP attempt.
#[derive(Debug)]
pub(super) enum Answer {
    /// SendGrid answered.
    Http {
        status: StatusCode,
        message_id: Option<String>,
        hint: Hint,
        /// `errors[]` of a non-2xx answer, summarised.
        details: Option<String>,
    },
    /// No answer: the request timed out, could not connect, or broke.
    Transport(Transport),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Transport {
    Timeout,
    Connect,
    /// The connection broke mid-request, or the request could not be built.
    Other,
}

/// What to do about an answer: delivered, worth another attempt (after the wait SendGrid
/// asked for), or final.
pub(super) type Verdict = Attempt<Delivery, SendError>;

/// The verdict with `secret` blanked out of its error's text.
pub(super) fn without(verdict: Verdict, secret: Option<&str>) -> Verdict {
    let Some(secret) = secret else {
        return verdict;
    };
    match verdict {
        Attempt::Retry(error, hint) => Attempt::Retry(error.without(secret), hint),
        Attempt::Final(error) => Attempt::Final(error.without(secret)),
        delivered @ Attempt::Done(_) => delivered,
    }
}

impl Answer {
    /// Reads SendGrid's answer; the body only of a failure, and bounded by the attempt's
    /// timeout like the rest of the request.
    pub(super) async fn read(result: Result<reqwest::Response, reqwest::Error>) -> Self {
        let response = match result {
            Ok(response) => response,
            Err(error) => return Self::Transport(Transport::of(&error)),
        };
        let status = response.status();
        let headers = response.headers();
        let message_id = header(headers, "x-message-id").map(str::to_owned);
        let hint = Hint {
            retry_after: header(headers, RETRY_AFTER.as_str())
                .and_then(|v| v.parse().ok())
                .map(Duration::from_secs),
            reset_at: header(headers, "x-ratelimit-reset").and_then(|v| v.parse().ok()),
        };
        let details = if status.is_success() {
            None
        } else {
            Some(error_body(response).await.map_or_else(
                || "(the answer broke off)".to_owned(),
                |body| summarize(&body),
            ))
        };
        Self::Http {
            status,
            message_id,
            hint,
            details,
        }
    }

    /// The label for logs and metrics: the status code, or what went wrong without one.
    pub(super) fn label(&self) -> String {
        match self {
            Self::Http { status, .. } => status.as_u16().to_string(),
            Self::Transport(Transport::Timeout) => "timeout".to_owned(),
            Self::Transport(Transport::Connect) => "connect_error".to_owned(),
            Self::Transport(Transport::Other) => "transport_error".to_owned(),
        }
    }

    fn hint(&self) -> Hint {
        match self {
            Self::Http { hint, .. } => *hint,
            Self::Transport(_) => Hint::default(),
        }
    }

    /// Retries only what may pass (connection errors, timeouts, 429, 500/502/503/504);
    /// a 2xx (202 queued, 200 in sandbox mode) is a delivery.
    pub(super) fn verdict(&self) -> Verdict {
        let retry = |error| Attempt::Retry(error, self.hint());
        let (status, message_id, details) = match self {
            Self::Transport(kind) => return retry(SendError::Temporary(kind.describe())),
            Self::Http {
                status,
                message_id,
                details,
                ..
            } => (*status, message_id, details.as_deref().unwrap_or("")),
        };
        if status.is_success() {
            return Attempt::Done(Delivery {
                provider_message_id: message_id.clone(),
            });
        }
        let code = status.as_u16();
        match code {
            429 => retry(SendError::Temporary(format!(
                "SendGrid rate limit (429): {details}"
            ))),
            500 | 502 | 503 | 504 => retry(SendError::Temporary(format!(
                "SendGrid answered {code}: {details}"
            ))),
            401 => Attempt::Final(SendError::Misconfigured(format!(
                "SendGrid refused the API key (401: {details}); check SENDGRID_API_KEY: valid, not revoked, with the Mail Send permission, and the account has credits left"
            ))),
            403 => Attempt::Final(SendError::Misconfigured(format!(
                "SendGrid refused to send (403: {details}); verify the sender identity of `email.from.address` (SendGrid → Settings → Sender Authentication) and that the account is not blocked"
            ))),
            400 | 413 => Attempt::Final(SendError::Rejected(format!(
                "SendGrid rejected the email ({code}: {details})"
            ))),
            300..=399 | 404 | 405 => Attempt::Final(SendError::Misconfigured(format!(
                "SendGrid answered {code} at the Mail Send endpoint; check `email.sendgrid.base_url` (a host such as https://api.sendgrid.com, no path)"
            ))),
            400..=499 => Attempt::Final(SendError::Rejected(format!(
                "SendGrid answered {code}: {details}"
            ))),
            _ => Attempt::Final(SendError::Temporary(format!(
                "SendGrid answered {code}: {details}"
            ))),
        }
    }
}

impl Transport {
    fn of(error: &reqwest::Error) -> Self {
        if error.is_timeout() {
            Self::Timeout
        } else if error.is_connect() {
            Self::Connect
        } else {
            Self::Other
        }
    }

    fn describe(self) -> String {
        match self {
            Self::Timeout => "no answer from SendGrid in time",
            Self::Connect => "could not connect to SendGrid",
            Self::Other => "the request to SendGrid broke off",
        }
        .to_owned()
    }
}

/// At most [`MAX_ERROR_BODY`] bytes of a failure's body; `None` if it broke off.
async fn error_body(response: reqwest::Response) -> Option<Vec<u8>> {
    read_at_most(response, MAX_ERROR_BODY).await
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// SendGrid's error body: `{"errors":[{"message","field","help"}]}`.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

#[derive(Debug, Deserialize)]
struct ErrorItem {
    message: Option<String>,
    field: Option<String>,
}

/// `field: message; message`, addresses masked, cut to [`MAX_DETAILS`] characters.
fn summarize(body: &[u8]) -> String {
    let Ok(parsed) = serde_json::from_slice::<ErrorBody>(body) else {
        return "(no error details)".to_owned();
    };
    let text = parsed
        .errors
        .iter()
        .map(|e| {
            let message = e.message.as_deref().unwrap_or("(no message)");
            match e.field.as_deref() {
                Some(field) => format!("{field}: {message}"),
                None => message.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    let text = mask_digit_runs(&mask_emails_in(&text));
    if text.chars().count() > MAX_DETAILS {
        let cut: String = text.chars().take(MAX_DETAILS).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// Runs of four digits or more become `••••`: SendGrid's own messages need none, and an echo
/// of the request would carry the code (the exact code is blanked where it is known, too).
fn mask_digit_runs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 4 {
            out.push_str("••••");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(code: u16) -> Answer {
        Answer::Http {
            status: StatusCode::from_u16(code).unwrap(),
            message_id: Some("abc".into()),
            hint: Hint::default(),
            details: None,
        }
    }

    #[test]
    fn statuses_are_classified() {
        for code in [200, 202] {
            assert!(
                matches!(http(code).verdict(), Attempt::Done(d) if d.provider_message_id.as_deref() == Some("abc"))
            );
        }
        for code in [429, 500, 502, 503, 504] {
            assert!(
                matches!(
                    http(code).verdict(),
                    Attempt::Retry(SendError::Temporary(_), _)
                ),
                "{code}"
            );
        }
        for code in [401, 403, 404] {
            assert!(
                matches!(
                    http(code).verdict(),
                    Attempt::Final(SendError::Misconfigured(_))
                ),
                "{code}"
            );
        }
        for code in [400, 413, 415] {
            assert!(
                matches!(http(code).verdict(), Attempt::Final(SendError::Rejected(_))),
                "{code}"
            );
        }
        assert!(matches!(
            http(501).verdict(),
            Attempt::Final(SendError::Temporary(_))
        ));
        assert!(matches!(
            Answer::Transport(Transport::Connect).verdict(),
            Attempt::Retry(SendError::Temporary(_), _)
        ));
    }

    #[test]
    fn error_bodies_are_summarised_with_addresses_masked() {
        let body = br#"{"errors":[{"message":"Invalid address bob@example.com","field":"personalizations.0.to.0.email","help":"http://x"},{"message":"The subject is required.","field":null}]}"#;
        assert_eq!(
            summarize(body),
            "personalizations.0.to.0.email: Invalid address b***@example.com; The subject is required."
        );
        assert_eq!(summarize(b"<html>"), "(no error details)");
        // An echo of the request: the code does not reach the text.
        let echo = br#"{"errors":[{"message":"bad content: Your verification code is 4821.","field":"content.0.value"}]}"#;
        assert_eq!(
            summarize(echo),
            "content.0.value: bad content: Your verification code is ••••."
        );
        let alphanumeric: Verdict = Attempt::Final(SendError::Rejected("echo: code K7QX9M".into()));
        assert!(matches!(
            without(alphanumeric, Some("K7QX9M")),
            Attempt::Final(SendError::Rejected(text)) if text == "echo: code ••••"
        ));
        assert!(
            summarize(format!(r#"{{"errors":[{{"message":"{}"}}]}}"#, "x".repeat(500)).as_bytes())
                .ends_with('…')
        );
    }
}
