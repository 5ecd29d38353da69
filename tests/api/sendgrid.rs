//! SendGrid delivery against a faithful mock on 127.0.0.1 (`sendgrid/mock.rs`).
//!
//! The first half drives `SendgridSender` directly, with a sleeper that records the waits
//! between attempts instead of spending them; the second half holds whole conversations
//! over HTTP with `email.provider: sendgrid` pointed at the mock. No test sleeps: the only
//! waiting is a mock answering more slowly than a short timeout.

pub mod mock;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use colloquy::address::EmailAddr;
use colloquy::clock::{Clock, ManualClock};
use colloquy::config::{Config, EmailConfig, EmailProvider, Secret};
use colloquy::email::{
    ApiKey, EmailMessage, EmailSender, ProviderTemplate, SendError, SendgridSender, Sleeper,
};
use colloquy::metrics::Metrics;
use serde_json::json;

use self::mock::{SendgridMock, Step, VERIFIED_SENDER, test_key};
use crate::helpers::{TestApp, said, spawn_app_with, test_config};

const ALICE: &str = "alice@example.com";

/// Records the waits between attempts and returns at once.
#[derive(Debug, Default)]
struct RecordedWaits(Mutex<Vec<Duration>>);

#[async_trait]
impl Sleeper for RecordedWaits {
    async fn sleep(&self, duration: Duration) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(duration);
    }
}

impl RecordedWaits {
    fn all(&self) -> Vec<Duration> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// `email.*` for a sender talking to `mock`, with fast backoff.
fn email_config(mock_url: &str) -> EmailConfig {
    let mut email = Config::default().email;
    email.provider = EmailProvider::Sendgrid;
    VERIFIED_SENDER.clone_into(&mut email.from.address);
    "Acme".clone_into(&mut email.from.name);
    mock_url.clone_into(&mut email.sendgrid.base_url);
    email.sendgrid.backoff_base = Duration::from_millis(1);
    email
}

struct Harness {
    sender: SendgridSender,
    waits: Arc<RecordedWaits>,
    metrics: Arc<Metrics>,
    clock: Arc<ManualClock>,
}

fn sender_with(email: &EmailConfig, key: &str) -> Harness {
    let waits = Arc::new(RecordedWaits::default());
    let metrics = Arc::new(Metrics::default());
    let clock = Arc::new(ManualClock::at_epoch());
    let key = ApiKey::parse(Some(&Secret::new(key))).expect("a well-formed key");
    let sender = SendgridSender::new(email, &key, clock.clone(), metrics.clone())
        .expect("sender builds")
        .with_sleeper(waits.clone());
    Harness {
        sender,
        waits,
        metrics,
        clock,
    }
}

fn sender(mock: &SendgridMock) -> Harness {
    sender_with(&email_config(&mock.base_url()), &test_key())
}

fn message() -> EmailMessage {
    EmailMessage {
        to: EmailAddr::parse(ALICE).unwrap(),
        subject: "Your verification code".into(),
        text: "Your code is 4821. It expires in 5 minutes.".into(),
        html: Some("<p>Your code is <strong>4821</strong>.</p>".into()),
        provider_template: None,
    }
}

fn epoch_seconds(clock: &ManualClock) -> i64 {
    clock.now().timestamp()
}

// ---- The sender against the mock ----

#[tokio::test]
async fn a_send_is_one_exact_mail_send_request() {
    let mock = SendgridMock::start().await;
    let h = sender(&mock);
    let delivery = h.sender.send(&message()).await.unwrap();
    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/v3/mail/send");
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {}", test_key()).as_str())
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.json(),
        json!({
            "from": { "email": VERIFIED_SENDER, "name": "Acme" },
            "subject": "Your verification code",
            "personalizations": [{ "to": [{ "email": ALICE }] }],
            "content": [
                { "type": "text/plain", "value": "Your code is 4821. It expires in 5 minutes." },
                { "type": "text/html", "value": "<p>Your code is <strong>4821</strong>.</p>" }
            ]
        })
    );
    let id = delivery.provider_message_id.expect("X-Message-Id");
    assert_eq!(id.len(), 22, "{id}");
    assert_eq!(h.metrics.sendgrid_responses.get(&[("status", "202")]), 1);
    assert_eq!(h.metrics.sendgrid_sends.get(&[("outcome", "delivered")]), 1);
}

#[tokio::test]
async fn a_dynamic_template_gets_the_code_address_and_expiry() {
    let mock = SendgridMock::start().await;
    let mut email = email_config(&mock.base_url());
    email.sendgrid.template_id = Some("d-0123456789abcdef".into());
    let h = sender_with(&email, &test_key());
    let mut data = serde_json::Map::new();
    data.insert("code".into(), "4821".into());
    data.insert("email".into(), ALICE.into());
    data.insert("expires_in_minutes".into(), 5.into());
    let message = EmailMessage {
        provider_template: Some(ProviderTemplate { id: None, data }),
        ..message()
    };
    h.sender.send(&message).await.unwrap();
    let body = mock.requests()[0].json();
    assert_eq!(body["template_id"], "d-0123456789abcdef");
    assert_eq!(
        body["personalizations"][0],
        json!({
            "to": [{ "email": ALICE }],
            "dynamic_template_data": { "code": "4821", "email": ALICE, "expires_in_minutes": 5 }
        })
    );
    assert!(
        body.get("content").is_none(),
        "the template replaces the parts"
    );
}

#[tokio::test]
async fn sandbox_mode_is_validated_and_answered_200() {
    let mock = SendgridMock::start().await;
    let mut email = email_config(&mock.base_url());
    email.sendgrid.sandbox = true;
    let h = sender_with(&email, &test_key());
    let delivery = h.sender.send(&message()).await.unwrap();
    assert_eq!(
        delivery.provider_message_id, None,
        "sandbox mode queues nothing"
    );
    assert_eq!(
        mock.requests()[0].json()["mail_settings"],
        json!({ "sandbox_mode": { "enable": true } })
    );
    assert_eq!(h.metrics.sendgrid_responses.get(&[("status", "200")]), 1);
}

#[tokio::test]
async fn server_errors_are_retried_with_the_same_body_then_delivered() {
    let mock = SendgridMock::start().await;
    mock.then(Step::status(500)).then(Step::status(503));
    let h = sender(&mock);
    assert!(h.sender.send(&message()).await.is_ok());
    let requests = mock.requests();
    assert_eq!(requests.len(), 3);
    assert!(
        requests.iter().all(|r| r.body == requests[0].body),
        "one email, resent as is"
    );
    let waits = h.waits.all();
    assert_eq!(waits.len(), 2);
    assert!(
        waits[0] <= Duration::from_millis(1) && waits[1] <= Duration::from_millis(2),
        "{waits:?}"
    );
    let m = &h.metrics;
    assert_eq!(m.sendgrid_responses.get(&[("status", "500")]), 1);
    assert_eq!(m.sendgrid_responses.get(&[("status", "503")]), 1);
    assert_eq!(m.sendgrid_responses.get(&[("status", "202")]), 1);
    assert_eq!(m.sendgrid_retries.load(Ordering::Relaxed), 2);
}

#[tokio::test]
async fn a_rate_limit_is_waited_out_until_it_resets() {
    let mock = SendgridMock::start().await;
    let h = sender(&mock);
    mock.then(Step::rate_limited(epoch_seconds(&h.clock) + 3));
    assert!(h.sender.send(&message()).await.is_ok());
    assert_eq!(
        h.waits.all(),
        [Duration::from_secs(3)],
        "until X-RateLimit-Reset"
    );
    assert_eq!(mock.requests().len(), 2);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let mock = SendgridMock::start().await;
    mock.then(Step::status(503).header("Retry-After", "2"));
    let h = sender(&mock);
    assert!(h.sender.send(&message()).await.is_ok());
    assert_eq!(h.waits.all(), [Duration::from_secs(2)]);
}

#[tokio::test]
async fn a_rate_limit_resetting_beyond_the_budget_fails_at_once() {
    let mock = SendgridMock::start().await;
    let h = sender(&mock);
    mock.then(Step::rate_limited(epoch_seconds(&h.clock) + 60));
    let error = h.sender.send(&message()).await.unwrap_err();
    assert!(matches!(error, SendError::Temporary(_)), "{error:?}");
    assert_eq!(mock.requests().len(), 1);
    assert!(h.waits.all().is_empty(), "no wait that cannot end in time");
}

#[tokio::test]
async fn persistent_server_errors_give_up_after_the_last_attempt() {
    let mock = SendgridMock::start().await;
    for _ in 0..3 {
        mock.then(Step::status(500));
    }
    let h = sender(&mock);
    let error = h.sender.send(&message()).await.unwrap_err();
    assert!(matches!(error, SendError::Temporary(_)), "{error:?}");
    assert_eq!(mock.requests().len(), 3, "max_attempts");
    assert_eq!(h.metrics.sendgrid_sends.get(&[("outcome", "temporary")]), 1);
}

#[tokio::test]
async fn a_wrong_key_is_misconfigured_and_never_retried() {
    let mock = SendgridMock::start().await;
    let wrong = format!("SG.{}", "colloquy-wrong-key-0123456789");
    let h = sender_with(&email_config(&mock.base_url()), &wrong);
    let error = h.sender.send(&message()).await.unwrap_err();
    let SendError::Misconfigured(text) = &error else {
        panic!("{error:?}");
    };
    assert!(
        text.contains("401") && text.contains("SENDGRID_API_KEY"),
        "{text}"
    );
    assert!(!text.contains("wrong-key"), "the key never shows: {text}");
    assert_eq!(mock.requests().len(), 1);
    assert_eq!(
        h.metrics
            .sendgrid_sends
            .get(&[("outcome", "misconfigured")]),
        1
    );
}

#[tokio::test]
async fn an_unverified_sender_is_misconfigured() {
    let mock = SendgridMock::start().await;
    let mut email = email_config(&mock.base_url());
    email.from.address = "someone@unverified.example".into();
    let h = sender_with(&email, &test_key());
    let error = h.sender.send(&message()).await.unwrap_err();
    let SendError::Misconfigured(text) = &error else {
        panic!("{error:?}");
    };
    assert!(
        text.contains("403") && text.contains("email.from.address"),
        "{text}"
    );
    assert_eq!(mock.requests().len(), 1);
}

#[tokio::test]
async fn a_bad_payload_is_rejected_with_sendgrid_s_field() {
    let mock = SendgridMock::start().await;
    let h = sender(&mock);
    let message = EmailMessage {
        subject: String::new(),
        ..message()
    };
    let error = h.sender.send(&message).await.unwrap_err();
    let SendError::Rejected(text) = &error else {
        panic!("{error:?}");
    };
    assert!(
        text.contains("400") && text.contains("subject: The subject is required"),
        "{text}"
    );
    assert_eq!(mock.requests().len(), 1, "a 400 is never retried");
}

#[tokio::test]
async fn an_oversized_email_is_rejected() {
    let mock = SendgridMock::start().await;
    mock.limit_body(1024);
    let h = sender(&mock);
    let message = EmailMessage {
        text: "x".repeat(2048),
        ..message()
    };
    let error = h.sender.send(&message).await.unwrap_err();
    assert!(
        matches!(&error, SendError::Rejected(t) if t.contains("413")),
        "{error:?}"
    );
    assert_eq!(mock.requests().len(), 1);
}

#[tokio::test]
async fn slow_answers_time_out_within_the_budget() {
    let mock = SendgridMock::start().await;
    for _ in 0..3 {
        mock.then(Step::slow(Duration::from_millis(200)));
    }
    let mut email = email_config(&mock.base_url());
    email.sendgrid.request_timeout = Duration::from_millis(50);
    email.sendgrid.retry_budget = Duration::from_millis(400);
    let h = sender_with(&email, &test_key());
    let started = Instant::now();
    let error = h.sender.send(&message()).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(error, SendError::Temporary(_)), "{error:?}");
    assert!(
        elapsed < Duration::from_millis(400),
        "bounded by the budget: {elapsed:?}"
    );
    assert_eq!(mock.requests().len(), 3);
    assert_eq!(
        h.metrics.sendgrid_responses.get(&[("status", "timeout")]),
        3
    );
}

#[tokio::test]
async fn the_budget_cuts_an_attempt_short() {
    let mock = SendgridMock::start().await;
    mock.then(Step::slow(Duration::from_millis(500)));
    let mut email = email_config(&mock.base_url());
    email.sendgrid.request_timeout = Duration::from_secs(2);
    email.sendgrid.retry_budget = Duration::from_millis(150);
    let h = sender_with(&email, &test_key());
    let started = Instant::now();
    let error = h.sender.send(&message()).await.unwrap_err();
    assert!(matches!(error, SendError::Temporary(_)), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        mock.requests().len(),
        1,
        "no time was left for a second attempt"
    );
}

#[tokio::test]
async fn a_refused_connection_is_temporary_and_retried() {
    let closed = closed_port_url().await;
    let h = sender_with(&email_config(&closed), &test_key());
    let error = h.sender.send(&message()).await.unwrap_err();
    assert!(matches!(error, SendError::Temporary(_)), "{error:?}");
    assert_eq!(
        h.metrics
            .sendgrid_responses
            .get(&[("status", "connect_error")]),
        3
    );
    assert_eq!(h.waits.all().len(), 2);
}

#[tokio::test]
async fn debug_output_never_shows_the_key() {
    let mock = SendgridMock::start().await;
    let h = sender(&mock);
    let mut config = Config::default();
    config.email.sendgrid.api_key = Some(Secret::new(&test_key()));
    for debug in [format!("{:?}", h.sender), format!("{config:?}")] {
        assert!(!debug.contains("colloquy-test-key"), "{debug}");
    }
    assert!(format!("{config:?}").contains("[redacted]"));
}

#[tokio::test]
async fn the_mock_answers_like_sendgrid() {
    let mock = SendgridMock::start().await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("{}/v3/mail/send", mock.base_url());
    let post = |body: String, key: String| {
        client
            .post(&url)
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let answer = post("{".into(), test_key()).await.unwrap();
    assert_eq!(answer.status(), 400);
    let errors: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(errors["errors"][0]["message"], "Bad Request");
    let no_to = json!({ "from": { "email": VERIFIED_SENDER }, "subject": "s",
        "personalizations": [{}], "content": [{ "type": "text/plain", "value": "x" }] });
    let answer = post(no_to.to_string(), test_key()).await.unwrap();
    assert_eq!(answer.status(), 400);
    let errors: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(errors["errors"][0]["field"], "personalizations.0.to");
    let answer = post(no_to.to_string(), "SG.nope".into()).await.unwrap();
    assert_eq!(answer.status(), 401);
}

// ---- Whole conversations over HTTP ----

/// The test config with SendGrid pointed at `base_url`.
fn app_config(base_url: &str) -> Config {
    let mut config = test_config();
    config.email = email_config(base_url);
    config.email.sendgrid.api_key = Some(Secret::new(&test_key()));
    config
}

async fn ask_for_code(
    app: &TestApp,
    session: &str,
    address: &str,
) -> colloquy::http::dto::WebhookResponse {
    assert_eq!(app.say(session, "hi").await.node, "ask_email");
    app.say(session, address).await
}

#[tokio::test]
async fn the_otp_conversation_runs_over_sendgrid() {
    let mock = SendgridMock::start().await;
    let app = spawn_app_with(app_config(&mock.base_url())).await;
    let asked = ask_for_code(&app, "s", ALICE).await;
    assert_eq!(asked.node, "ask_code", "{}", said(&asked));
    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    let body = requests[0].json();
    assert_eq!(body["personalizations"][0]["to"][0]["email"], ALICE);
    assert_eq!(body["from"]["email"], VERIFIED_SENDER);
    assert_eq!(body["subject"], "Your verification code");
    let code = requests[0].code();
    let html = body["content"][1]["value"].as_str().unwrap();
    assert!(html.contains(&code) && html.contains("5 minutes"), "{html}");
    let done = app.say("s", &code).await;
    assert_eq!(
        done.result.as_deref(),
        Some("authenticated"),
        "{}",
        said(&done)
    );
    let metrics = app.get_text("/metrics").await;
    for line in [
        "colloquy_emails_total{sender=\"sendgrid\",outcome=\"sent\"} 1\n",
        "colloquy_sendgrid_responses_total{status=\"202\"} 1\n",
        "colloquy_sendgrid_sends_total{outcome=\"delivered\"} 1\n",
        "colloquy_sendgrid_request_duration_seconds_count 1\n",
    ] {
        assert!(metrics.contains(line), "missing {line:?} in:\n{metrics}");
    }
}

#[tokio::test]
async fn a_server_error_then_acceptance_delivers_one_code_that_works() {
    let mock = SendgridMock::start().await;
    mock.then(Step::status(500));
    let app = spawn_app_with(app_config(&mock.base_url())).await;
    let asked = ask_for_code(&app, "s", ALICE).await;
    assert_eq!(asked.node, "ask_code", "{}", said(&asked));
    let requests = mock.requests();
    assert_eq!(requests.len(), 2, "the 500, then the retry");
    assert_eq!(
        requests[0].body, requests[1].body,
        "the retry resends the same code"
    );
    let done = app.say("s", &requests[1].code()).await;
    assert_eq!(done.result.as_deref(), Some("authenticated"));
}

#[tokio::test]
async fn a_rate_limit_then_acceptance_goes_on_to_the_code() {
    let mock = SendgridMock::start().await;
    let app = spawn_app_with(app_config(&mock.base_url())).await;
    mock.then(Step::rate_limited(app.clock.now().timestamp()));
    let asked = ask_for_code(&app, "s", ALICE).await;
    assert_eq!(asked.node, "ask_code", "{}", said(&asked));
    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    let done = app.say("s", &requests[1].code()).await;
    assert_eq!(done.result.as_deref(), Some("authenticated"));
}

#[tokio::test]
async fn a_refused_key_fails_the_send_in_the_dialog_s_words_only() {
    let mock = SendgridMock::start().await;
    let mut config = app_config(&mock.base_url());
    config.email.sendgrid.api_key = Some(Secret::new(&format!(
        "SG.{}",
        "colloquy-wrong-key-0123456789"
    )));
    let app = spawn_app_with(config).await;
    let failed = ask_for_code(&app, "s", ALICE).await;
    assert_eq!(failed.node, "send_failed");
    let text = said(&failed);
    assert!(
        text.contains("couldn't send the email to alice@example.com"),
        "{text}"
    );
    for word in ["401", "SendGrid", "authorization", "SENDGRID"] {
        assert!(
            !text.contains(word),
            "SendGrid's words reached the user: {text}"
        );
    }
    assert_eq!(mock.requests().len(), 1, "a 401 is not retried");
    let again = app.say("s", "retry").await;
    assert_eq!(
        again.node, "send_failed",
        "the session is intact and can try again"
    );
}

#[tokio::test]
async fn a_timeout_fails_the_send_in_bounded_time_and_a_retry_works() {
    let mock = SendgridMock::start().await;
    for _ in 0..2 {
        mock.then(Step::slow(Duration::from_millis(200)));
    }
    let mut config = app_config(&mock.base_url());
    config.email.sendgrid.request_timeout = Duration::from_millis(50);
    config.email.sendgrid.retry_budget = Duration::from_millis(500);
    config.email.sendgrid.max_attempts = 2;
    let app = spawn_app_with(config).await;
    let started = Instant::now();
    let failed = ask_for_code(&app, "s", ALICE).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(failed.node, "send_failed", "{}", said(&failed));
    let sent = app.say("s", "retry").await;
    assert_eq!(sent.node, "ask_code", "{}", said(&sent));
    let requests = mock.requests();
    assert_eq!(requests.len(), 3);
    let done = app.say("s", &requests[2].code()).await;
    assert_eq!(done.result.as_deref(), Some("authenticated"));
}

#[tokio::test]
async fn a_refused_connection_fails_the_send_and_another_address_can_follow() {
    let app = spawn_app_with(app_config(&closed_port_url().await)).await;
    let failed = ask_for_code(&app, "s", ALICE).await;
    assert_eq!(failed.node, "send_failed");
    let again = app.say("s", "bob@example.com").await;
    assert_eq!(
        again.node, "send_failed",
        "a new address is accepted and tried"
    );
}

#[tokio::test]
async fn failed_sends_do_not_count_against_the_send_cap() {
    let mock = SendgridMock::start().await;
    let mut config = app_config(&mock.base_url());
    config.otp.max_sends_per_address = 1;
    config.email.sendgrid.max_attempts = 1;
    let app = spawn_app_with(config).await;
    for _ in 0..3 {
        mock.then(Step::status(503));
    }
    assert_eq!(ask_for_code(&app, "s", ALICE).await.node, "send_failed");
    assert_eq!(app.say("s", "retry").await.node, "send_failed");
    assert_eq!(app.say("s", "retry").await.node, "send_failed");
    let sent = app.say("s", "retry").await;
    assert_eq!(
        sent.node,
        "ask_code",
        "three failures left the cap of 1 untouched: {}",
        said(&sent)
    );
}

#[tokio::test]
async fn user_values_are_escaped_in_the_html_part_only() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("escape.yaml"),
        r#"
id: escape
version: 1
start: ask_email
nodes:
  ask_email:
    ask: "Email?"
    entity: email
    on_exhausted: done
    next: send
  send:
    action: otp.send
    with: { to: "{{ email }}", template: mail }
    on: { sent: done, cooldown: done, limited: done, failed: done }
  done:
    end: done
templates:
  mail:
    subject: "Code for {{ email }}"
    text: "{{ code }} for {{ email }}, {{ expires_in_minutes }} minutes"
    html: "<p>{{ code }} for {{ email }}</p>"
"#,
    )
    .unwrap();
    let mock = SendgridMock::start().await;
    let mut config = app_config(&mock.base_url());
    config.dialogs.dir = dir.path().to_owned();
    config.dialogs.default = "escape".to_owned();
    let app = spawn_app_with(config).await;
    app.say("s", "hi").await;
    let done = app.say("s", "tom&o'neil@example.com").await;
    assert_eq!(done.result.as_deref(), Some("done"));
    let body = mock.requests()[0].json();
    assert_eq!(body["subject"], "Code for tom&o'neil@example.com");
    let text = body["content"][0]["value"].as_str().unwrap();
    assert!(
        text.ends_with(" for tom&o'neil@example.com, 5 minutes"),
        "{text}"
    );
    let html = body["content"][1]["value"].as_str().unwrap();
    assert!(
        html.ends_with(" for tom&amp;o&#39;neil@example.com</p>"),
        "{html}"
    );
}

#[tokio::test]
async fn start_up_refuses_a_missing_or_malformed_key() {
    let (registry, _) = colloquy::engine::registry::load_paths(
        &[crate::helpers::dialogs_dir()],
        &colloquy::dialog::LoadEnv::default(),
    )
    .unwrap();
    let mut config = app_config("https://api.sendgrid.com");
    config.email.sendgrid.api_key = None;
    let clock = Arc::new(ManualClock::at_epoch());
    let error = colloquy::app::build(config.clone(), registry.clone(), clock.clone()).unwrap_err();
    assert!(error.contains("SENDGRID_API_KEY is not set"), "{error}");
    config.email.sendgrid.api_key = Some(Secret::new("SG.short"));
    let error = colloquy::app::build(config, registry, clock).unwrap_err();
    assert!(
        error.contains("does not look like a SendGrid API key"),
        "{error}"
    );
    assert!(!error.contains("SG.short"), "{error}");
}

/// A loopback URL nothing listens on: bound, then released.
async fn closed_port_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}
