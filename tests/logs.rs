//! What the logs of whole conversations contain: masked addresses, never a code or a full
//! address. Each test installs a thread-local subscriber and runs the server, the client and
//! every turn on its one thread (a current-thread runtime), so the subscriber sees them all.
//!
//! This is a test binary of its own: tracing caches whether a callsite is enabled, and a
//! test thread without a subscriber racing a thread with one can cache "disabled" for a
//! span the capturing test needs. Here every test thread has a subscriber.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

#[path = "api/helpers.rs"]
#[allow(dead_code)] // the log tests use part of the shared harness
mod helpers;

#[path = "api/sendgrid/mock.rs"]
#[allow(dead_code)] // the log tests use part of the SendGrid mock
mod mock;

#[path = "api/sms_gateway/mock.rs"]
#[allow(dead_code)] // the log tests use part of the gateway mock
mod sms_gateway;

use std::io;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tracing::Level;
use tracing_subscriber::fmt::format::FmtSpan;

use helpers::{TestApp, said, spawn_app};

/// Log output, shared between the subscriber's writers and the test.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What the conversations revealed to the test (and must not reveal to the logs).
struct Secrets {
    /// Every code emailed, and every code typed.
    codes: Vec<String>,
    /// Every address given.
    addresses: Vec<String>,
}

fn wrong_code(code: &str) -> &'static str {
    if code == "0000" { "1111" } else { "0000" }
}

async fn start(app: &TestApp, session: &str, address: &str) -> String {
    assert_eq!(app.say(session, "hi").await.node, "ask_email");
    let asked = app.say(session, address).await;
    assert_eq!(asked.node, "ask_code", "{}", said(&asked));
    app.last_code(address).await
}

/// The happy path and every unhappy one the flagship dialog has.
async fn conversations(app: &TestApp) -> Secrets {
    let mut typed = Vec::new();

    // Happy path.
    let code = start(app, "happy", "alice@example.com").await;
    let done = app.say("happy", &code).await;
    assert_eq!(done.result.as_deref(), Some("authenticated"));

    // A wrong code, then the right one.
    let code = start(app, "wrong", "Bob.Smith@Example.org").await;
    let wrong = wrong_code(&code);
    typed.push(wrong.to_owned());
    assert_eq!(app.say("wrong", wrong).await.node, "wrong_code");
    let done = app
        .say("wrong", &format!("{}-{}", &code[..2], &code[2..]))
        .await;
    assert_eq!(done.result.as_deref(), Some("authenticated"));

    // A resend, within the cooldown and after it.
    start(app, "resend", "carol@example.com").await;
    assert_eq!(app.say("resend", "resend").await.node, "wait_to_resend");
    app.advance(Duration::from_secs(31));
    assert_eq!(app.say("resend", "resend").await.node, "ask_code");
    let code = app.last_code("carol@example.com").await;
    let done = app.say("resend", &code).await;
    assert_eq!(done.result.as_deref(), Some("authenticated"));

    // An expired code, and a new one.
    let old = start(app, "expired", "erin@example.com").await;
    typed.push(old.clone());
    app.advance(Duration::from_secs(5 * 60));
    assert_eq!(app.say("expired", &old).await.node, "code_expired");
    assert_eq!(app.say("expired", "yes").await.node, "ask_code");
    let code = app.last_code("erin@example.com").await;
    let done = app.say("expired", &code).await;
    assert_eq!(done.result.as_deref(), Some("authenticated"));

    // A delivery failure, a retry, and another address.
    assert_eq!(app.say("bounce", "hi").await.node, "ask_email");
    assert_eq!(
        app.say("bounce", "dan@bounce.test").await.node,
        "send_failed"
    );
    assert_eq!(app.say("bounce", "retry").await.node, "send_failed");
    assert_eq!(app.say("bounce", "dan@example.net").await.node, "ask_code");

    // Three wrong codes lock the verification.
    let code = start(app, "lockout", "frank@example.com").await;
    let wrong = wrong_code(&code);
    typed.push(wrong.to_owned());
    for _ in 0..3 {
        app.say("lockout", wrong).await;
    }
    assert_eq!(
        app.say("lockout", &code).await.node,
        "ask_email",
        "locked, then started over"
    );

    // Too many codes to one address.
    for session in ["limit-a", "limit-b", "limit-c", "limit-d", "limit-e"] {
        app.advance(Duration::from_secs(31));
        start(app, session, "grace@example.com").await;
    }
    assert_eq!(app.say("limit-f", "hi").await.node, "ask_email");
    let limited = app.say("limit-f", "grace@example.com").await;
    assert_eq!(limited.result.as_deref(), Some("send_limited"));

    let mut codes: Vec<String> = app
        .outbox()
        .list(None)
        .iter()
        .filter_map(|email| {
            email
                .text
                .split(|c: char| !c.is_ascii_digit())
                .find(|w| w.len() == 4)
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(
        codes.len(),
        app.outbox().list(None).len(),
        "one code per email"
    );
    codes.extend(typed);
    codes.sort();
    codes.dedup();
    Secrets {
        codes,
        addresses: [
            "alice@example.com",
            "Bob.Smith@example.org",
            "carol@example.com",
            "erin@example.com",
            "dan@bounce.test",
            "dan@example.net",
            "frank@example.com",
            "grace@example.com",
        ]
        .map(str::to_owned)
        .to_vec(),
    }
}

/// Whether `code` appears in `logs` as a number of its own (not inside a longer one, such as
/// a port or a byte count).
fn contains_number(logs: &str, code: &str) -> bool {
    logs.match_indices(code).any(|(at, _)| {
        let before = logs[..at].chars().next_back();
        let after = logs[at + code.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

fn assert_clean(logs: &str, secrets: &Secrets) {
    assert!(!logs.trim().is_empty(), "nothing was logged");
    for expected in [
        "a***@example.com",
        "B***@example.org",
        "d***@bounce.test",
        "email sent",
        "email not sent",
        "otp.verify: wrong code",
        "otp.verify: too many wrong codes",
        "otp.send: send limit for this recipient reached",
        "session_id",
    ] {
        assert!(
            logs.contains(expected),
            "the logs lack {expected:?}:\n{logs}"
        );
    }
    let lower = logs.to_lowercase();
    for address in &secrets.addresses {
        assert!(
            !lower.contains(&address.to_lowercase()),
            "the logs show the address {address}"
        );
        let (local, _) = address.split_once('@').expect("an address");
        if local.len() > 1 {
            assert!(
                !lower.contains(&format!("{}@", local.to_lowercase())),
                "the logs show the local part of {address}"
            );
        }
    }
    assert!(secrets.codes.len() >= 10, "codes: {:?}", secrets.codes);
    for code in &secrets.codes {
        assert!(
            !contains_number(logs, code),
            "the logs show the code {code}:\n{logs}"
        );
    }
}

#[test]
fn contains_number_finds_codes_only_as_whole_numbers() {
    assert!(contains_number("code=1234", "1234"));
    assert!(contains_number("1234", "1234"));
    assert!(contains_number("is 1234.", "1234"));
    assert!(!contains_number("port 41234", "1234"));
    assert!(!contains_number("12345 bytes", "1234"));
    assert!(!contains_number("", "1234"));
}

#[tokio::test(flavor = "current_thread")]
async fn the_pretty_logs_of_whole_conversations_show_no_code_and_no_address() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(Level::TRACE)
        .with_ansi(false)
        .with_span_events(FmtSpan::NEW | FmtSpan::CLOSE)
        .without_time()
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = spawn_app().await;
    let secrets = conversations(&app).await;
    drop(app);
    assert_clean(&capture.text(), &secrets);
}

#[tokio::test(flavor = "current_thread")]
async fn the_json_logs_of_whole_conversations_show_no_code_and_no_address() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(Level::TRACE)
        .with_span_events(FmtSpan::NEW | FmtSpan::CLOSE)
        .without_time()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(true)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = spawn_app().await;
    let secrets = conversations(&app).await;
    drop(app);
    let logs = capture.text();
    for line in logs.lines() {
        let parsed: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: a JSON line: {line}"));
        assert!(parsed.is_object(), "{line}");
    }
    assert!(
        logs.contains(r#""session_id":"happy""#),
        "span fields are logged:\n{logs}"
    );
    assert_clean(&logs, &secrets);
}

/// Every event of this thread as one flat JSON object per line, until the guard goes.
fn json_events() -> (Capture, tracing::subscriber::DefaultGuard) {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(Level::TRACE)
        .without_time()
        .json()
        .flatten_event(true)
        .finish();
    (capture, tracing::subscriber::set_default(subscriber))
}

/// SendGrid's one line per attempt: the masked address, status, duration, attempt and (on
/// success) `X-Message-Id`; never the code, the address or the key.
#[tokio::test(flavor = "current_thread")]
async fn sendgrid_logs_one_line_per_attempt_and_no_secret() {
    let (capture, _guard) = json_events();
    let sendgrid = mock::SendgridMock::start().await;
    sendgrid.then(mock::Step::status(500));
    let mut config = helpers::test_config();
    config.email.provider = colloquy::config::EmailProvider::Sendgrid;
    mock::VERIFIED_SENDER.clone_into(&mut config.email.from.address);
    config.email.sendgrid.base_url = sendgrid.base_url();
    config.email.sendgrid.backoff_base = Duration::from_millis(1);
    config.email.sendgrid.api_key = Some(colloquy::config::Secret::new(&mock::test_key()));
    let app = helpers::spawn_app_with(config).await;
    app.say("s", "hi").await;
    assert_eq!(app.say("s", "alice@example.com").await.node, "ask_code");
    let code = sendgrid.requests()[1].code();
    assert_eq!(
        app.say("s", &code).await.result.as_deref(),
        Some("authenticated")
    );
    drop(app);

    let logs = capture.text();
    let attempts: Vec<serde_json::Value> = logs
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("sendgrid: "))
        })
        .collect();
    assert_eq!(attempts.len(), 2, "one line per attempt:\n{logs}");
    let (failed, accepted) = (&attempts[0], &attempts[1]);
    assert_eq!(failed["message"], "sendgrid: attempt failed; retrying");
    assert_eq!(failed["level"], "WARN");
    assert_eq!(failed["status"], "500");
    assert!(failed["retry_in_ms"].is_u64(), "{failed}");
    assert_eq!(accepted["message"], "sendgrid: email accepted");
    assert_eq!(accepted["status"], "202");
    assert_eq!(accepted["attempt"], 2);
    assert_eq!(accepted["message_id"], "mockMsgId0000000000001");
    assert!(accepted["elapsed_ms"].is_u64(), "{accepted}");
    for line in &attempts {
        assert_eq!(line["to"], "a***@example.com");
    }
    assert!(!logs.contains("alice@example.com"), "{logs}");
    assert!(!logs.contains("colloquy-test-key"), "the key: {logs}");
    assert!(!contains_number(&logs, &code), "the code {code}: {logs}");
}

#[tokio::test]
async fn a_provider_that_echoes_everything_puts_no_secret_into_the_logs() {
    let (capture, _guard) = json_events();
    let sendgrid = mock::SendgridMock::start().await;
    sendgrid.then(mock::Step::echo(400));
    let mut config = helpers::test_config();
    config.email.provider = colloquy::config::EmailProvider::Sendgrid;
    mock::VERIFIED_SENDER.clone_into(&mut config.email.from.address);
    config.email.sendgrid.base_url = sendgrid.base_url();
    config.email.sendgrid.api_key = Some(colloquy::config::Secret::new(&mock::test_key()));
    let app = helpers::spawn_app_with(config).await;
    app.say("s", "hi").await;
    let answer = app.say("s", "bob.tester@example.com").await;
    assert_ne!(answer.node, "ask_code", "the email was refused");
    drop(app);
    let echoed = sendgrid.requests()[0].clone();
    let code = echoed.code();
    let logs = capture.text();
    let refused: Vec<&str> = logs
        .lines()
        .filter(|line| line.contains("sendgrid: email not sent"))
        .collect();
    assert_eq!(refused.len(), 1, "{logs}");
    assert!(
        refused[0].len() < 1500,
        "the provider's words are cut short: {}",
        refused[0]
    );
    assert!(
        !logs.contains("bob.tester@example.com"),
        "the address: {logs}"
    );
    assert!(!logs.contains(&mock::test_key()), "the key: {logs}");
    assert!(!contains_number(&logs, &code), "the code {code}: {logs}");
}

/// DIGIT's `_send` (sent, then validated; and failed by the dev outbox), Capillary's SMS and
/// email channels at once, texts the toll-fraud guard stops (a cap, a premium-rate number).
/// The texts that went out.
async fn texts_through_the_outbox() -> Vec<String> {
    let mut config = helpers::test_config();
    config.otp_api.capillary = true;
    config.otp_api.digit = true;
    config.dialogs.phone_region = Some("IN".to_owned());
    config.sms.guard.max_per_prefix_per_hour = 2;
    config
        .email
        .outbox
        .fail_for
        .push("+919988776611".to_owned());
    let app = helpers::spawn_app_with(config).await;
    let post = |path: &'static str, body: serde_json::Value| {
        let request = app.client.post(app.url(path)).json(&body);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(post("/user-otp/v1/_send", send("9988776655")).await, 201);
    let text = app.outbox().last_to("+919988776655").unwrap().text;
    let validate = serde_json::json!({ "otp": { "otp": code_of(&text), "identity": "9988776655", "tenantId": "pb" } });
    assert_eq!(post("/otp/v1/_validate", validate).await, 200);
    assert_eq!(post("/user-otp/v1/_send", send("9988776611")).await, 502);
    let capillary = serde_json::json!({
        "entityType": "MOBILE", "entityValue": "9988776622", "action": "GENERIC",
        "channels": [{ "type": "SMS" }, { "type": "EMAIL", "value": "zed@example.com" }],
    });
    assert_eq!(post("/v2/otp/generate", capillary).await, 200);
    // The prefix +919988 has had two texts this hour (the failed one was given back): the
    // guard stops the third.
    assert_eq!(post("/user-otp/v1/_send", send("9988776633")).await, 429);
    // A premium-rate number, through the phone dialog.
    assert_eq!(
        app.say_to_dialog("p", "phone_verification", "hi")
            .await
            .node,
        "ask_phone"
    );
    assert_eq!(app.say("p", "+44 909 879 0000").await.node, "send_failed");
    app.outbox()
        .list(None)
        .into_iter()
        .map(|m| m.text)
        .collect()
}

/// DIGIT's `_send` through the HTTP gateway: accepted, refused (400), and failing (503) until
/// the sender gives up. The texts the gateway received.
async fn texts_through_the_gateway() -> Vec<String> {
    let (gateway, url) = sms_gateway::start_gateway().await;
    let mut config = helpers::test_config();
    config.otp_api.digit = true;
    config.dialogs.phone_region = Some("IN".to_owned());
    config.sms.provider = colloquy::config::SmsProvider::Http;
    config.sms.http.url = Some(format!("{url}/send"));
    config.sms.http.body = Some(r#"{"to": "{{ to }}", "text": "{{ text }}"}"#.to_owned());
    config.sms.http.backoff_base = Duration::from_millis(1);
    config.sms.http.auth_header = Some(colloquy::config::AuthHeader {
        name: "Authorization".to_owned(),
        value: colloquy::config::Secret::new("gateway-token-0123"),
        prefix: "Bearer ".to_owned(),
    });
    let app = helpers::spawn_app_with(config).await;
    let post = |body: serde_json::Value| {
        let request = app.client.post(app.url("/user-otp/v1/_send")).json(&body);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(post(send("9988776644")).await, 201);
    gateway.answer(400, br#"{"error": "bad number +919988776699"}"#);
    assert_eq!(post(send("9988776699")).await, 502);
    for _ in 0..3 {
        gateway.answer(503, b"");
    }
    assert_eq!(post(send("9988776688")).await, 502);
    gateway
        .seen()
        .iter()
        .map(|seen| {
            let body: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
            body["text"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// A DIGIT `_send` body for a login code to `number`.
fn send(number: &str) -> serde_json::Value {
    serde_json::json!({ "otp": { "mobileNumber": number, "tenantId": "pb.amritsar", "type": "login" } })
}

fn code_of(text: &str) -> &str {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 4)
        .unwrap()
}

/// Texts, on the success and the failure paths, through the dev outbox and the HTTP gateway.
/// No log line holds a code, a text's words, a full number or the gateway's token; the
/// masked numbers are there.
#[tokio::test(flavor = "current_thread")]
async fn the_logs_of_texts_show_no_code_no_text_and_no_number() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(Level::TRACE)
        .with_ansi(false)
        .with_span_events(FmtSpan::NEW | FmtSpan::CLOSE)
        .without_time()
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut texts = texts_through_the_outbox().await;
    texts.extend(texts_through_the_gateway().await);

    let logs = capture.text();
    for expected in [
        "+91*******655",
        "sms sent",
        "sms not sent",
        "sms blocked by the toll-fraud guard",
        "sms gateway: text accepted",
        "sms gateway: text not sent",
        "sms gateway: attempt failed; retrying",
        "sms gateway: text not sent; giving up",
    ] {
        assert!(
            logs.contains(expected),
            "the logs lack {expected:?}:\n{logs}"
        );
    }
    assert!(texts.len() >= 6, "{texts:?}");
    for text in &texts {
        let code = code_of(text);
        assert!(!contains_number(&logs, code), "the code {code}:\n{logs}");
        let words = text.split(code).next().unwrap();
        assert!(!logs.contains(words.trim()), "the text {text:?}:\n{logs}");
    }
    for number in [
        "9988776655",
        "9988776611",
        "9988776622",
        "9988776633",
        "9988776644",
        "9988776699",
        "9988776688",
        "9098790000",
    ] {
        assert!(!logs.contains(number), "the number {number}:\n{logs}");
    }
    assert!(!logs.contains("zed@example.com"));
    assert!(!logs.contains("gateway-token-0123"), "the token:\n{logs}");
}
