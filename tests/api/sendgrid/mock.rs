//! A SendGrid v3 Mail Send look-alike on 127.0.0.1:0, built from what SendGrid documents.
//!
//! By default it answers like SendGrid: 401 for a wrong or missing bearer key, 413 for an
//! oversized body, 415 for a non-JSON content type, 400 with `{"errors":[{message, field,
//! help}]}` for bad JSON or a payload missing `from.email`, `personalizations`, `to`, a
//! subject or content, 403 for a sender that is not verified, 200 (empty) in sandbox mode,
//! and otherwise 202 with an empty body and a 22-character `X-Message-Id`. A test can script
//! the next answers (`then`): a canned status with headers (429 with `X-RateLimit-*`, 500,
//! 503), a delay before answering normally, or both. Every request is recorded.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// A test API key, assembled at run time: the source never holds a realistic-looking key.
pub fn test_key() -> String {
    format!("SG.{}", "colloquy-test-key-0123456789")
}

/// The sender identity the mock treats as verified.
pub const VERIFIED_SENDER: &str = "no-reply@example.com";

/// One scripted answer.
#[derive(Debug, Clone, Default)]
pub struct Step {
    /// Waited before answering.
    pub delay: Duration,
    /// `None`: answer as SendGrid would.
    pub reply: Option<Canned>,
    /// Answer with this status and an error whose message is everything the request carried
    /// (its key and its body): a provider that echoes.
    pub echo: Option<u16>,
}

#[derive(Debug, Clone)]
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Step {
    /// SendGrid's answer with this status and its usual error body.
    pub fn status(status: u16) -> Self {
        let message = match status {
            500 => "Internal Server Error",
            503 => "Service Unavailable",
            429 => "too many requests",
            _ => "error",
        };
        Self {
            delay: Duration::ZERO,
            reply: Some(Canned {
                status,
                headers: Vec::new(),
                body: errors(&[(message, None)]).to_string(),
            }),
            echo: None,
        }
    }

    /// `status` with the whole request echoed in the error's message.
    #[allow(dead_code)] // used by the log tests
    pub fn echo(status: u16) -> Self {
        Self {
            delay: Duration::ZERO,
            reply: None,
            echo: Some(status),
        }
    }

    /// 429 with the rate-limit headers SendGrid sends; the window reopens at `reset_at`.
    pub fn rate_limited(reset_at: i64) -> Self {
        Self::status(429)
            .header("X-RateLimit-Limit", "600")
            .header("X-RateLimit-Remaining", "0")
            .header("X-RateLimit-Reset", &reset_at.to_string())
    }

    /// Waits, then answers as SendGrid would.
    pub fn slow(delay: Duration) -> Self {
        Self {
            delay,
            reply: None,
            echo: None,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let Some(canned) = &mut self.reply {
            canned.headers.push((name.to_owned(), value.to_owned()));
        }
        self
    }
}

/// A request as the mock received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    /// The first 4-digit number in the plain-text part: the code.
    pub fn code(&self) -> String {
        let body = self.json();
        let text = body["content"][0]["value"].as_str().expect("a text part");
        text.split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == 4)
            .expect("a 4-digit code in the email")
            .to_owned()
    }
}

struct Mock {
    api_key: String,
    max_body_bytes: AtomicUsize,
    script: Mutex<VecDeque<Step>>,
    requests: Mutex<Vec<Recorded>>,
    ids: AtomicU64,
}

pub struct SendgridMock {
    pub addr: SocketAddr,
    mock: Arc<Mock>,
    _shutdown: oneshot::Sender<()>,
}

impl SendgridMock {
    /// Starts a mock that accepts [`test_key`].
    pub async fn start() -> Self {
        let mock = Arc::new(Mock {
            api_key: test_key(),
            max_body_bytes: AtomicUsize::new(30 * 1024 * 1024),
            script: Mutex::default(),
            requests: Mutex::default(),
            ids: AtomicU64::new(0),
        });
        let app = axum::Router::new()
            .fallback(answer)
            .layer(DefaultBodyLimit::disable())
            .with_state(mock.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind port 0");
        let addr = listener.local_addr().expect("local addr");
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Self {
            addr,
            mock,
            _shutdown: shutdown,
        }
    }

    /// What `email.sendgrid.base_url` should be.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues the next answer (answers not scripted are SendGrid's usual ones).
    pub fn then(&self, step: Step) -> &Self {
        lock(&self.mock.script).push_back(step);
        self
    }

    /// Bodies larger than this get 413 (SendGrid's limit is 30 MB).
    pub fn limit_body(&self, bytes: usize) {
        self.mock.max_body_bytes.store(bytes, Ordering::Relaxed);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.mock.requests).clone()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn answer(
    State(mock): State<Arc<Mock>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    lock(&mock.requests).push(Recorded {
        method: method.clone(),
        path: uri.path().to_owned(),
        headers: headers.clone(),
        body: body.clone(),
    });
    let step = lock(&mock.script).pop_front();
    if let Some(step) = step {
        tokio::time::sleep(step.delay).await;
        if let Some(canned) = step.reply {
            return canned_response(canned);
        }
        if let Some(status) = step.echo {
            let everything = format!(
                "{} {}",
                headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default(),
                String::from_utf8_lossy(&body)
            );
            return canned_response(Canned {
                status,
                headers: Vec::new(),
                body: errors(&[(everything.as_str(), Some("content"))]).to_string(),
            });
        }
    }
    match like_sendgrid(&mock, &method, &uri, &headers, &body) {
        Ok(response) => response,
        Err((status, errors)) => (status, axum::Json(errors)).into_response(),
    }
}

/// SendGrid's checks, in the order it makes them.
fn like_sendgrid(
    mock: &Mock,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, (StatusCode, Value)> {
    if uri.path() != "/v3/mail/send" {
        return Err((
            StatusCode::NOT_FOUND,
            errors(&[("resource not found", None)]),
        ));
    }
    if method != Method::POST {
        return Err((
            StatusCode::METHOD_NOT_ALLOWED,
            errors(&[("method not allowed", None)]),
        ));
    }
    let bearer = format!("Bearer {}", mock.api_key);
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(bearer.as_str()) {
        return Err((
            StatusCode::UNAUTHORIZED,
            errors(&[(
                "The provided authorization grant is invalid, expired, or revoked",
                None,
            )]),
        ));
    }
    if body.len() > mock.max_body_bytes.load(Ordering::Relaxed) {
        return Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            errors(&[("The request entity is too large", None)]),
        ));
    }
    let json_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json_type {
        return Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            errors(&[("Content-Type should be application/json.", None)]),
        ));
    }
    let payload: Value = serde_json::from_slice(body)
        .map_err(|_| (StatusCode::BAD_REQUEST, errors(&[("Bad Request", None)])))?;
    validate(&payload).map_err(|(field, message)| {
        (StatusCode::BAD_REQUEST, errors(&[(&message, Some(&field))]))
    })?;
    if payload["from"]["email"] != VERIFIED_SENDER {
        return Err((
            StatusCode::FORBIDDEN,
            errors(&[(
                "The from address does not match a verified Sender Identity. Mail cannot be sent until this error is resolved.",
                Some("from"),
            )]),
        ));
    }
    if payload["mail_settings"]["sandbox_mode"]["enable"] == true {
        return Ok(StatusCode::OK.into_response());
    }
    let id = mock.ids.fetch_add(1, Ordering::Relaxed) + 1;
    Ok((
        StatusCode::ACCEPTED,
        [("X-Message-Id", format!("mockMsgId{id:013}"))],
    )
        .into_response())
}

/// The payload rules of Mail Send: `(field, message)` of the first broken one.
fn validate(payload: &Value) -> Result<(), (String, String)> {
    let fail = |field: &str, message: &str| Err((field.to_owned(), message.to_owned()));
    if !payload["from"]["email"].is_string() {
        return fail(
            "from.email",
            "The from object must be provided for every email send. It is an object that requires the email parameter, but may also contain a name parameter.",
        );
    }
    let personalizations = payload["personalizations"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    if personalizations.is_empty() {
        return fail(
            "personalizations",
            "The personalizations field is required and must have at least one personalization.",
        );
    }
    let mut recipients = 0;
    for (i, p) in personalizations.iter().enumerate() {
        let to = p["to"].as_array().map_or(&[][..], Vec::as_slice);
        if to.is_empty() {
            return fail(
                &format!("personalizations.{i}.to"),
                "The to array is required for all personalization objects, and must have at least one email object with a valid email address.",
            );
        }
        for (j, address) in to.iter().enumerate() {
            if !address["email"].as_str().is_some_and(|e| e.contains('@')) {
                return fail(
                    &format!("personalizations.{i}.to.{j}.email"),
                    "Does not contain a valid address.",
                );
            }
        }
        recipients += to.len();
    }
    if recipients > 1000 {
        return fail(
            "personalizations",
            "The personalizations field must have at most 1000 recipients.",
        );
    }
    if payload["categories"]
        .as_array()
        .is_some_and(|c| c.len() > 10)
    {
        return fail("categories", "Too many categories: at most 10.");
    }
    if payload.get("template_id").is_none() {
        let subject = |v: &Value| v["subject"].as_str().is_some_and(|s| !s.is_empty());
        if !subject(payload) && !personalizations.iter().all(subject) {
            return fail(
                "subject",
                "The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined.",
            );
        }
        let content = payload["content"].as_array().map_or(&[][..], Vec::as_slice);
        if content.is_empty() {
            return fail(
                "content",
                "Unless a valid template_id is provided, the content parameter is required. There must be at least one defined content block.",
            );
        }
        if content.iter().skip(1).any(|c| c["type"] == "text/plain") {
            return fail(
                "content",
                "If present, text/plain content must be first, followed by any other content.",
            );
        }
    }
    Ok(())
}

/// SendGrid's error body.
fn errors(items: &[(&str, Option<&str>)]) -> Value {
    let errors: Vec<Value> = items
        .iter()
        .map(|(message, field)| json!({ "message": message, "field": field, "help": null }))
        .collect();
    json!({ "errors": errors })
}

fn canned_response(canned: Canned) -> Response {
    let mut response = (
        StatusCode::from_u16(canned.status).expect("a status"),
        [("content-type", "application/json")],
        canned.body,
    )
        .into_response();
    for (name, value) in canned.headers {
        response.headers_mut().insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
            value.parse().expect("a header value"),
        );
    }
    response
}
