//! The Twilio sender against a Programmable Messaging look-alike on 127.0.0.1:0. The mock
//! checks every request against Twilio's published description of
//! `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` (twilio_api_v2010.yaml): the
//! `AccountSid` pattern, HTTP Basic auth (`accountSid_authToken`), a form-encoded body whose
//! fields are among the operation's properties with `To` present, plus the rule that one of
//! `From` and `MessagingServiceSid` names the sender; a request breaking any of them fails the
//! test. Answers are scripted per test.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use colloquy::address::PhoneAddr;
use colloquy::config::{Secret, TwilioConfig};
use colloquy::email::Sleeper;
use colloquy::sms::{SmsError, SmsMessage, SmsSender, TwilioCredentials, TwilioSender};

/// The form properties of the Messages create operation, as twilio_api_v2010.yaml lists them.
const CONTRACT_FIELDS: [&str; 25] = [
    "To",
    "StatusCallback",
    "ApplicationSid",
    "MaxPrice",
    "ProvideFeedback",
    "Attempt",
    "ValidityPeriod",
    "ForceDelivery",
    "ContentRetention",
    "AddressRetention",
    "SmartEncoded",
    "PersistentAction",
    "TrafficType",
    "ShortenUrls",
    "ScheduleType",
    "SendAt",
    "SendAsMms",
    "ContentVariables",
    "RiskCheck",
    "From",
    "FallbackFrom",
    "MessagingServiceSid",
    "Body",
    "MediaUrl",
    "ContentSid",
];

fn sid() -> String {
    format!("AC{}", "0123456789abcdef".repeat(2))
}

fn token() -> String {
    "fedcba9876543210".repeat(2)
}

fn service() -> String {
    format!("MG{}", "a".repeat(32))
}

#[derive(Debug, Default)]
struct Mock {
    answers: Mutex<VecDeque<(u16, String)>>,
    requests: Mutex<Vec<Vec<(String, String)>>>,
    violations: Mutex<Vec<String>>,
}

impl Mock {
    fn violations(&self) -> Vec<String> {
        self.violations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
    fn requests(&self) -> Vec<Vec<(String, String)>> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

async fn messages(
    State(mock): State<Arc<Mock>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut wrong = Vec::new();
    if !(account.len() == 34
        && account.starts_with("AC")
        && account[2..].bytes().all(|b| b.is_ascii_hexdigit()))
    {
        wrong.push(format!("AccountSid {account} breaks ^AC[0-9a-fA-F]{{32}}$"));
    }
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let expected = format!("Basic {}", base64(&format!("{}:{}", sid(), token())));
    let authorised = basic == expected;
    if headers.get("content-type").and_then(|v| v.to_str().ok())
        != Some("application/x-www-form-urlencoded")
    {
        wrong.push("content type is not application/x-www-form-urlencoded".to_owned());
    }
    // A URL's query is form-encoded: parsing one reads the body as Twilio would.
    let query = format!("http://form/?{}", String::from_utf8_lossy(&body));
    let form: Vec<(String, String)> = reqwest::Url::parse(&query)
        .map(|url| {
            url.query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    for (key, _) in &form {
        if !CONTRACT_FIELDS.contains(&key.as_str()) {
            wrong.push(format!("field {key} is not in the contract"));
        }
    }
    let has = |name: &str| form.iter().filter(|(k, _)| k == name).count();
    if has("To") != 1 || has("Body") != 1 {
        wrong.push("To and Body must be given once".to_owned());
    }
    if has("From") + has("MessagingServiceSid") != 1 {
        wrong.push("exactly one of From and MessagingServiceSid".to_owned());
    }
    mock.violations
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .extend(wrong);
    mock.requests
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(form);
    if !authorised {
        return (
            StatusCode::UNAUTHORIZED,
            r#"{"code": 20003, "message": "Authenticate", "status": 401}"#,
        )
            .into_response();
    }
    let next = mock
        .answers
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .pop_front();
    let (status, body) = next.unwrap_or((
        201,
        r#"{"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued"}"#.to_owned(),
    ));
    (StatusCode::from_u16(status).unwrap(), body).into_response()
}

/// Standard base64, enough for a Basic header.
fn base64(text: &str) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

async fn start(answers: Vec<(u16, &str)>) -> (Arc<Mock>, String) {
    let mock = Arc::new(Mock::default());
    mock.answers
        .lock()
        .unwrap()
        .extend(answers.into_iter().map(|(s, b)| (s, b.to_owned())));
    let app = axum::Router::new()
        .route(
            "/2010-04-01/Accounts/{account}/Messages.json",
            axum::routing::post(messages),
        )
        .with_state(mock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (mock, format!("http://{addr}"))
}

#[derive(Debug, Default)]
struct Waits(Mutex<Vec<Duration>>);

#[async_trait]
impl Sleeper for Waits {
    async fn sleep(&self, duration: Duration) {
        self.0.lock().unwrap().push(duration);
    }
}

fn sender(base_url: &str, token: &str, waits: Arc<Waits>) -> TwilioSender {
    let config = TwilioConfig {
        base_url: base_url.to_owned(),
        messaging_service_sid: Some(service()),
        ..TwilioConfig::default()
    };
    let credentials =
        TwilioCredentials::parse(Some(&Secret::new(&sid())), Some(&Secret::new(token))).unwrap();
    TwilioSender::new(&config, credentials)
        .unwrap()
        .with_sleeper(waits)
}

fn text() -> SmsMessage {
    SmsMessage {
        to: PhoneAddr::parse("+44 7400 123456", None).unwrap(),
        body: "Your verification code is 4821. It expires in 5 minutes.".to_owned(),
    }
}

fn error(code: u32, status: u16) -> String {
    format!(
        r#"{{"code": {code}, "message": "The 'To' number +447400123456 is refused", "more_info": "https://www.twilio.com/docs/errors/{code}", "status": {status}}}"#
    )
}

#[tokio::test]
async fn a_text_is_one_form_post_that_meets_the_contract() {
    let (mock, url) = start(vec![]).await;
    let delivery = sender(&url, &token(), Arc::default())
        .send(&text())
        .await
        .unwrap();
    assert_eq!(
        delivery.provider_message_id.as_deref(),
        Some("SM0123456789abcdef0123456789abcdef")
    );
    assert_eq!(mock.violations(), Vec::<String>::new());
    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    let form: std::collections::HashMap<_, _> = requests[0].iter().cloned().collect();
    assert_eq!(form["To"], "+447400123456");
    assert_eq!(form["Body"], text().body);
    assert_eq!(form["MessagingServiceSid"], service());
}

#[tokio::test]
async fn every_mapped_twilio_error_is_a_defined_outcome_without_retry() {
    let cases = [
        (21211, 400, SmsError::InvalidNumber),
        (21610, 400, SmsError::OptedOut),
        (21408, 400, SmsError::RegionNotEnabled),
    ];
    for (code, status, expected) in cases {
        let body = error(code, status);
        let (mock, url) = start(vec![(status, body.as_str())]).await;
        let got = sender(&url, &token(), Arc::default()).send(&text()).await;
        assert_eq!(got, Err(expected), "{code}");
        assert_eq!(mock.requests().len(), 1, "{code} is not retried");
        assert!(mock.violations().is_empty());
    }
    // A wrong token: the mock answers 20003 as Twilio does.
    let (mock, url) = start(vec![]).await;
    let got = sender(&url, &"0".repeat(32), Arc::default())
        .send(&text())
        .await;
    assert!(matches!(got, Err(SmsError::Misconfigured(_))), "{got:?}");
    assert_eq!(mock.requests().len(), 1);
    // An unknown 4xx is refused for good, and Twilio's words (which quote the number) are
    // not kept.
    let body = error(21617, 400);
    let (_, url) = start(vec![(400, body.as_str())]).await;
    let got = sender(&url, &token(), Arc::default()).send(&text()).await;
    let Err(SmsError::Rejected(why)) = got else {
        panic!("{got:?}")
    };
    assert!(why.contains("21617") && !why.contains("7400"), "{why}");
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_within_bounds() {
    let waits = Arc::new(Waits::default());
    let busy = error(20429, 429);
    let (mock, url) = start(vec![(429, busy.as_str()), (503, "{}")]).await;
    let got = sender(&url, &token(), waits.clone()).send(&text()).await;
    assert!(got.is_ok(), "{got:?}");
    assert_eq!(mock.requests().len(), 3);
    assert_eq!(waits.0.lock().unwrap().len(), 2);
    // The same text every time: a retry never changes the code.
    let requests = mock.requests();
    assert!(requests.windows(2).all(|w| w[0] == w[1]));

    let (mock, url) = start(vec![(500, "{}"), (502, "{}"), (504, "{}"), (500, "{}")]).await;
    let got = sender(&url, &token(), Arc::default()).send(&text()).await;
    assert!(matches!(got, Err(SmsError::Temporary(_))), "{got:?}");
    assert_eq!(mock.requests().len(), 3, "max_attempts bounds the tries");
}

#[tokio::test]
async fn a_connection_error_is_temporary() {
    // A port that was just free: nothing listens there.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let got = sender(&format!("http://{addr}"), &token(), Arc::default())
        .send(&text())
        .await;
    assert!(matches!(got, Err(SmsError::Temporary(_))), "{got:?}");
}
