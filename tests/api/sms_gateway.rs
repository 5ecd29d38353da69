//! The generic HTTP SMS gateway sender (`sms.provider: http`) against a gateway look-alike on
//! 127.0.0.1:0: the body as configured with the number and the text escaped for it (JSON and
//! form), the secret header from the environment, 2xx as delivery, 429/5xx retried within
//! bounds, other refusals final, and an answer of any size read only up to a bound.

pub mod mock;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::http::Method;
use colloquy::address::PhoneAddr;
use colloquy::config::Config;
use colloquy::email::Sleeper;
use colloquy::sms::{HttpSmsSender, SmsError, SmsMessage, SmsSender};
use serde_json::Value;

use self::mock::start_gateway;

#[derive(Debug, Default)]
struct Waits(Mutex<Vec<Duration>>);

#[async_trait]
impl Sleeper for Waits {
    async fn sleep(&self, duration: Duration) {
        self.0.lock().unwrap().push(duration);
    }
}

/// The sender as `serve` builds it: from config text, with the token in the environment.
fn sender(yaml: &str, waits: Arc<Waits>) -> HttpSmsSender {
    let env = vec![("SMS_GATEWAY_TOKEN".to_owned(), "tok-123".to_owned())];
    let config = Config::from_source(yaml, "config.yaml", env).expect("config");
    HttpSmsSender::new(&config.sms.http)
        .expect("sender")
        .with_sleeper(waits)
}

fn json_config(url: &str) -> String {
    format!(
        r#"
sms:
  provider: http
  guard: {{ countries: [GB] }}
  http:
    url: "{url}/v1/messages?account=acme"
    body: '{{"to": "{{{{ to }}}}", "message": {{"text": "{{{{ text }}}}"}}, "from": "ACME"}}'
    auth_header: {{ name: Authorization, value: "env:SMS_GATEWAY_TOKEN", prefix: "Bearer " }}
    backoff_base: 1ms
"#
    )
}

fn text(body: &str) -> SmsMessage {
    SmsMessage {
        to: PhoneAddr::parse("+44 7400 123456", None).unwrap(),
        body: body.to_owned(),
    }
}

#[tokio::test]
async fn a_text_is_one_json_request_with_the_values_escaped_and_the_secret_header() {
    let (gateway, url) = start_gateway().await;
    let tricky = "Your code is 4821. \"Don't\" share it \\ with anyone\n—ever 🙂";
    let sent = sender(&json_config(&url), Arc::default())
        .send(&text(tricky))
        .await;
    assert!(sent.is_ok(), "{sent:?}");
    let seen = gateway.seen();
    assert_eq!(seen.len(), 1);
    let request = &seen[0];
    assert_eq!(request.method, Method::POST);
    assert_eq!(request.path, "/v1/messages?account=acme");
    assert_eq!(request.content_type, "application/json");
    assert_eq!(request.authorization.as_deref(), Some("Bearer tok-123"));
    let body: Value = serde_json::from_str(&request.body).expect("JSON");
    assert_eq!(body["to"], "+447400123456");
    assert_eq!(body["message"]["text"], tricky);
    assert_eq!(body["from"], "ACME");
}

#[tokio::test]
async fn a_form_body_is_percent_encoded() {
    let (gateway, url) = start_gateway().await;
    let yaml = format!(
        r#"
sms:
  provider: http
  guard: {{ countries: [GB] }}
  http:
    url: "{url}/send"
    method: PUT
    format: form
    body: "number={{{{ to_digits }}}}&msg={{{{ text }}}}&sender=ACME"
"#
    );
    let tricky = "a&b=c + 100% ü";
    sender(&yaml, Arc::default())
        .send(&text(tricky))
        .await
        .unwrap();
    let request = &gateway.seen()[0];
    assert_eq!(request.method, Method::PUT);
    assert_eq!(request.content_type, "application/x-www-form-urlencoded");
    assert_eq!(request.authorization, None);
    let pairs: Vec<(String, String)> =
        reqwest::Url::parse(&format!("http://form/?{}", request.body))
            .unwrap()
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    assert_eq!(
        pairs,
        [
            ("number".to_owned(), "447400123456".to_owned()),
            ("msg".to_owned(), tricky.to_owned()),
            ("sender".to_owned(), "ACME".to_owned()),
        ]
    );
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_others_are_final() {
    let (gateway, url) = start_gateway().await;
    gateway.answer(429, b"slow down");
    gateway.answer(503, b"");
    let waits = Arc::new(Waits::default());
    let sent = sender(&json_config(&url), waits.clone())
        .send(&text("Your code is 4821."))
        .await;
    assert!(sent.is_ok(), "{sent:?}");
    let seen = gateway.seen();
    assert_eq!(seen.len(), 3);
    assert!(
        seen.windows(2).all(|w| w[0].body == w[1].body),
        "a retry sends the same text"
    );
    assert_eq!(waits.0.lock().unwrap().len(), 2);

    for (status, expected) in [
        (400, "rejected"),
        (401, "misconfigured"),
        (404, "misconfigured"),
    ] {
        let (gateway, url) = start_gateway().await;
        gateway.answer(status, br#"{"error": "+447400123456 refused"}"#);
        let got = sender(&json_config(&url), Arc::default())
            .send(&text("Your code is 4821."))
            .await;
        let Err(error) = got else {
            panic!("{status}: {got:?}")
        };
        assert_eq!(error.label(), expected, "{status}");
        assert!(!error.to_string().contains("7400"), "{error}");
        assert_eq!(gateway.seen().len(), 1, "{status} is not retried");
    }

    let (gateway, url) = start_gateway().await;
    for _ in 0..4 {
        gateway.answer(500, b"");
    }
    let got = sender(&json_config(&url), Arc::default())
        .send(&text("Your code is 4821."))
        .await;
    assert!(matches!(got, Err(SmsError::Temporary(_))), "{got:?}");
    assert_eq!(gateway.seen().len(), 3, "max_attempts bounds the tries");
}

#[tokio::test]
async fn a_huge_answer_is_not_read_whole_and_a_closed_port_is_temporary() {
    let (gateway, url) = start_gateway().await;
    gateway.answer(200, &vec![b'x'; 8 * 1024 * 1024]);
    let sent = sender(&json_config(&url), Arc::default())
        .send(&text("Your code is 4821."))
        .await;
    assert!(sent.is_ok(), "{sent:?}");

    let closed = format!("http://127.0.0.1:{}", crate::helpers::closed_port());
    let got = sender(&json_config(&closed), Arc::default())
        .send(&text("Your code is 4821."))
        .await;
    assert!(matches!(got, Err(SmsError::Temporary(_))), "{got:?}");
}

#[test]
fn the_header_value_comes_only_from_the_environment() {
    let yaml = |value: &str| {
        format!(
            "sms:\n  guard: {{ countries: [GB] }}\n  http:\n    auth_header: {{ name: X-Api-Key, value: \"{value}\" }}\n"
        )
    };
    let literal = Config::from_source(&yaml("tok-123"), "config.yaml", Vec::new()).unwrap_err();
    assert!(literal.message.contains("env:"), "{}", literal.message);
    let missing = Config::from_source(&yaml("env:NOPE"), "config.yaml", Vec::new()).unwrap_err();
    assert!(missing.message.contains("NOPE"), "{}", missing.message);
    let config = Config::from_source(
        &yaml("env:KEY"),
        "config.yaml",
        vec![("KEY".to_owned(), "tok-123".to_owned())],
    )
    .unwrap();
    assert!(!format!("{config:?}").contains("tok-123"));
    for bad in [
        "sms:\n  provider: http\n  guard: { countries: [GB] }\n  http: { url: \"https://x.example/s\" }\n",
        "sms:\n  provider: http\n  http: { url: \"https://x.example/s\", body: '{\"t\": \"{{ text }}\", \"n\": \"{{ to }}\"}' }\n",
    ] {
        assert!(
            Config::from_source(bad, "config.yaml", Vec::new()).is_err(),
            "{bad}"
        );
    }
}
