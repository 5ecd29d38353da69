//! `--url`: the same scripts, black-box, against a running engine. Messages go to
//! `POST /v1/webhook`; codes are read from `GET /v1/dev/outbox?to=…`, so the server must run
//! the dev outbox.
//!
//! A running server has one clock, one outbox and one set of per-address limits for every
//! caller, so scripts run one at a time here, each with a fresh session id; a script reads
//! only emails sent after it started. A server in dev mode (`serve --dev`, found by
//! `GET /v1/dev/clock` answering) lets `wait` move its clock (`POST /v1/dev/clock`) and
//! `expect.context` read the session (`GET /v1/dev/sessions/{id}/context`); on any other
//! server, scripts using them are skipped with the reason. Scripts that need an engine of
//! their own are skipped on every server: per-script `settings` and `services` (the server's
//! configuration and services are its own).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use reqwest::{Client, StatusCode, Url};
use serde::Deserialize;
use serde_json::json;

use crate::dialog::value::Value as ContextValue;
use crate::duration::format_duration;

use super::exec::{self, Email, Target, Turn};
use super::script::Script;
use super::steps::StepKind;
use super::{ScriptResult, Verdict};

/// A running engine, checked to answer and to have the dev outbox.
#[derive(Debug)]
pub struct Remote {
    base: Url,
    /// The URL as given, for messages.
    shown: String,
    client: Client,
    api_key: Option<String>,
    /// The server is in dev mode: its clock can be moved and sessions' context read.
    dev: bool,
}

impl Remote {
    /// Checks that `url` answers `/healthz` and has the dev outbox, and whether it is in dev
    /// mode.
    pub async fn connect(url: &str, api_key: Option<String>) -> Result<Self, String> {
        let base = Url::parse(url.trim_end_matches('/'))
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| format!("`{url}` is not an http:// or https:// URL"))?;
        let mut builder = Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(5));
        if is_loopback(&base) {
            // A proxy from the environment must not capture requests to this machine.
            builder = builder.no_proxy();
        }
        let client = builder
            .build()
            .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
        let mut remote = Self {
            base,
            shown: url.trim_end_matches('/').to_owned(),
            client,
            api_key,
            dev: false,
        };
        let health = remote
            .send(|| remote.client.get(remote.url("/healthz")))
            .await
            .map_err(|e| format!("cannot reach {url}: {}", error_chain(&e)))?;
        if !health.status().is_success() {
            return Err(format!(
                "{url}/healthz answered {}: the engine is not ready",
                health.status()
            ));
        }
        remote.newest_email().await?;
        remote.dev = remote.dev_clock().await?.is_some();
        Ok(remote)
    }

    /// Whether the server is in dev mode (`serve --dev`).
    pub fn is_dev(&self) -> bool {
        self.dev
    }

    /// The server's dev clock, `None` when the server is not in dev mode (404).
    async fn dev_clock(&self) -> Result<Option<DevClock>, String> {
        let response = self
            .send(|| self.client.get(self.url("/v1/dev/clock")))
            .await
            .map_err(|e| format!("GET /v1/dev/clock failed: {}", error_chain(&e)))?;
        match response.status() {
            StatusCode::OK => response.json().await.map(Some).map_err(|e| {
                format!("GET /v1/dev/clock answered something else than a clock: {e}")
            }),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(refusal("GET /v1/dev/clock", response).await),
        }
    }

    /// Moves the dev server's clock `by` forward.
    async fn advance_clock(&self, by: Duration) -> Result<(), String> {
        let body = json!({ "advance": format_duration(by) });
        let url = self.url("/v1/dev/clock");
        let response = self
            .send(|| self.client.post(url.clone()).json(&body))
            .await
            .map_err(|e| format!("POST /v1/dev/clock failed: {}", error_chain(&e)))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(refusal("POST /v1/dev/clock", response).await)
        }
    }

    /// The context of `session` on a dev server; empty when there is no such session, as in
    /// process, where a session not saved has no variables.
    async fn session_context(&self, session: &str) -> Result<ContextView, String> {
        let mut url = self.url("/v1/dev/sessions");
        url.path_segments_mut()
            .map_err(|()| format!("{} cannot take a path", self.shown))?
            .extend([session, "context"]);
        let response = self
            .send(|| self.client.get(url.clone()))
            .await
            .map_err(|e| format!("GET {} failed: {}", url.path(), error_chain(&e)))?;
        let status = response.status();
        if status == StatusCode::OK {
            return response.json().await.map_err(|e| {
                format!(
                    "GET {} answered something else than a context: {e}",
                    url.path()
                )
            });
        }
        let what = format!("GET {}", url.path());
        let error = ErrorBody::read(response).await;
        if status == StatusCode::NOT_FOUND && error.code == "unknown_session" {
            return Ok(ContextView::default());
        }
        Err(error.describe(&what, status))
    }

    fn url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        let prefix = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{prefix}{path}"));
        url
    }

    /// Sends a request, waiting out `429 Too Many Requests` as the server asks (its
    /// `Retry-After`, 1 to 5 s, at most 5 times): a running server limits requests per client
    /// and address, and every request here is safe to repeat after a 429, which is answered
    /// before the request is handled (and the webhook answers a repeated `message_id` with
    /// its first answer anyway).
    async fn send(
        &self,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let mut waits = 0;
        loop {
            let response = self.authorised(request()).send().await?;
            if response.status() != StatusCode::TOO_MANY_REQUESTS || waits == 5 {
                return Ok(response);
            }
            waits += 1;
            let seconds = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.trim().parse::<u64>().ok())
                .unwrap_or(1)
                .clamp(1, 5);
            tokio::time::sleep(Duration::from_secs(seconds)).await;
        }
    }

    fn authorised(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.api_key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    /// The dev outbox, all of it or the emails to one address.
    async fn outbox(&self, to: Option<&str>) -> Result<Vec<Email>, String> {
        let mut url = self.url("/v1/dev/outbox");
        if let Some(to) = to {
            url.query_pairs_mut().append_pair("to", to);
        }
        let response = self
            .send(|| self.client.get(url.clone()))
            .await
            .map_err(|e| format!("cannot read the dev outbox: {}", error_chain(&e)))?;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => {
                return Err(format!(
                    "{} has no dev outbox (GET /v1/dev/outbox: 404): --url reads codes from it, so the server must run with `email.provider: outbox`",
                    self.shown
                ));
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(format!(
                    "{} refused the request ({}): pass an API key with --api-key",
                    self.shown,
                    response.status()
                ));
            }
            status => return Err(format!("GET /v1/dev/outbox answered {status}")),
        }
        let outbox: Outbox = response
            .json()
            .await
            .map_err(|e| format!("the dev outbox answered something else than emails: {e}"))?;
        Ok(outbox.emails)
    }

    /// The id of the newest email in the outbox (0 when empty).
    async fn newest_email(&self) -> Result<u64, String> {
        Ok(self
            .outbox(None)
            .await?
            .iter()
            .map(|e| e.id)
            .max()
            .unwrap_or(0))
    }

    /// Runs the scripts one at a time, skipping those HTTP cannot run.
    pub async fn run(&self, scripts: &[Arc<Script>]) -> Vec<ScriptResult> {
        let run_id = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let mut results = Vec::with_capacity(scripts.len());
        for (index, script) in scripts.iter().enumerate() {
            let started = Instant::now();
            let (verdict, transcript) = match skip_reason(script, self.dev) {
                Some(reason) => (Verdict::Skipped(reason), Vec::new()),
                None => {
                    let token = format!("{run_id:x}-{}", index + 1);
                    self.run_one(script, &token).await
                }
            };
            results.push(ScriptResult {
                script: script.clone(),
                verdict,
                transcript,
                trace: Vec::new(),
                elapsed: started.elapsed(),
            });
        }
        results
    }

    /// Runs one script; `token`, unique to the script and the run (the start time in
    /// milliseconds and the script's number), is its `{{ run }}` and names its session.
    async fn run_one(&self, script: &Script, token: &str) -> (Verdict, Vec<super::Line>) {
        let after = match self.newest_email().await {
            Ok(id) => id,
            Err(error) => return (Verdict::Failed(start_failure(error)), Vec::new()),
        };
        let mut target = HttpTarget {
            remote: self,
            session_id: format!("colloquy-test-{token}"),
            dialog: script.dialog.clone(),
            locale: script.locale.clone(),
            messages: 0,
            after,
        };
        exec::execute(script, token, &mut target).await
    }
}

/// Why a script cannot run over HTTP, if it cannot; `dev`: the server is in dev mode.
pub fn skip_reason(script: &Script, dev: bool) -> Option<String> {
    if !script.settings.is_empty() {
        return Some(format!(
            "needs per-script settings ({}), which take an engine of its own: a running server keeps its configuration; run it in process",
            script.settings.names().join(", ")
        ));
    }
    if !script.services.is_empty() {
        return Some(format!(
            "answers for its services ({}) in the script: a running server calls its own",
            script
                .services
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if dev {
        return None;
    }
    if let Some(step) = script.first_step("wait") {
        return Some(format!(
            "uses `wait` (line {}): this server's clock cannot be moved; start it with `colloquy serve --dev`, or run the script in process",
            step.pos.line
        ));
    }
    let context = script
        .steps
        .iter()
        .find(|step| matches!(&step.kind, StepKind::Expect(check) if !check.context.is_empty()));
    context.map(|step| {
        format!(
            "checks `expect.context` (line {}): this server does not show a session's context; start it with `colloquy serve --dev`, or run the script in process",
            step.pos.line
        )
    })
}

/// A refusal's `{"error": {"code", "message"}}`, as far as it can be read.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ErrorBody {
    code: String,
    message: String,
}

impl ErrorBody {
    async fn read(response: reqwest::Response) -> Self {
        #[derive(Deserialize)]
        struct Envelope {
            error: ErrorBody,
        }
        response
            .json::<Envelope>()
            .await
            .map(|envelope| envelope.error)
            .unwrap_or_default()
    }

    /// `POST /v1/dev/clock answered 422 invalid_request: …`.
    fn describe(&self, what: &str, status: StatusCode) -> String {
        let code = if self.code.is_empty() {
            "?"
        } else {
            &self.code
        };
        format!("{what} answered {status} {code}: {}", self.message)
    }
}

/// What a refused request answered, as one line.
async fn refusal(what: &str, response: reqwest::Response) -> String {
    let status = response.status();
    ErrorBody::read(response).await.describe(what, status)
}

/// `GET /v1/dev/clock`: an answer of this shape is what tells dev mode.
#[derive(Debug, Deserialize)]
struct DevClock {
    #[serde(rename = "now")]
    _now: chrono::DateTime<chrono::Utc>,
}

/// `GET /v1/dev/sessions/{id}/context`: the fields read.
#[derive(Debug, Default, Deserialize)]
struct ContextView {
    context: std::collections::BTreeMap<String, serde_json::Value>,
}

fn start_failure(message: String) -> super::Failure {
    super::Failure {
        step: None,
        message,
        expected: None,
        actual: None,
    }
}

fn is_loopback(url: &Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// reqwest's error and its causes ("error sending request: connection refused").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[derive(Debug, Deserialize)]
struct Outbox {
    emails: Vec<Email>,
}

/// The parts of the webhook's answer a script checks.
#[derive(Debug, Deserialize)]
struct Answer {
    replies: Vec<Reply>,
    ended: bool,
    node: String,
    result: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Reply {
    text: String,
}

#[derive(Debug)]
struct HttpTarget<'r> {
    remote: &'r Remote,
    session_id: String,
    dialog: String,
    locale: Option<String>,
    messages: u64,
    /// Emails up to this id were there before the script started.
    after: u64,
}

#[async_trait]
impl Target for HttpTarget<'_> {
    async fn send(&mut self, text: &str) -> Result<Turn, String> {
        self.messages += 1;
        let body = json!({
            "session_id": self.session_id,
            "message_id": format!("m{}", self.messages),
            "text": text,
            "dialog": self.dialog,
            "locale": self.locale,
        });
        let url = self.remote.url("/v1/webhook");
        let response = self
            .remote
            .send(|| self.remote.client.post(url.clone()).json(&body))
            .await
            .map_err(|e| format!("POST /v1/webhook failed: {}", error_chain(&e)))?;
        if !response.status().is_success() {
            return Err(refusal("POST /v1/webhook", response).await);
        }
        let answer: Answer = response
            .json()
            .await
            .map_err(|e| format!("POST /v1/webhook answered something unexpected: {e}"))?;
        Ok(Turn {
            replies: answer.replies.into_iter().map(|r| r.text).collect(),
            ended: answer.ended,
            node: answer.node,
            result: answer.result,
        })
    }

    async fn emails_to(&mut self, address: &str) -> Result<Vec<Email>, String> {
        let mut emails = self.remote.outbox(Some(address)).await?;
        emails.retain(|email| email.id > self.after);
        Ok(emails)
    }

    async fn wait(&mut self, by: Duration) -> Result<(), String> {
        self.remote.advance_clock(by).await
    }

    async fn context(&mut self, name: &str) -> Result<Option<ContextValue>, String> {
        let view = self.remote.session_context(&self.session_id).await?;
        match view.context.get(name) {
            None => Ok(None),
            Some(serde_json::Value::Bool(b)) => Ok(Some(ContextValue::Bool(*b))),
            Some(serde_json::Value::String(text)) => Ok(Some(ContextValue::Text(text.clone()))),
            Some(serde_json::Value::Number(n)) => n
                .as_f64()
                .map(|n| Some(ContextValue::Number(n)))
                .ok_or_else(|| format!("`{name}` is a number out of range: {n}")),
            Some(other) => Err(format!(
                "`{name}` is neither text, a number nor a boolean: {other}"
            )),
        }
    }
}
