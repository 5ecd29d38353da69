//! Spawns the real application on 127.0.0.1:0 with a manual clock and the dev outbox (or the
//! sender the config picks, such as SendGrid pointed at a mock), and talks to it over HTTP
//! like a chat widget would.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use colloquy::app::{self, App};
use colloquy::clock::ManualClock;
use colloquy::config::{Config, Secret};
use colloquy::email::OutboxSender;
use colloquy::engine::registry::load_paths;
use colloquy::http::dto::WebhookResponse;
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub fn dialogs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("dialogs")
}

/// The configuration tests run with: project defaults, a fixed OTP key, the outbox sender.
pub fn test_config() -> Config {
    let mut config = Config::default();
    config.auth.enabled = false;
    config.dialogs.dir = dialogs_dir();
    config.otp.secret = Some(Secret::new("test-secret-0123456789"));
    config.email.outbox.fail_for = vec!["*@bounce.test".to_owned()];
    // The shipped booking dialog calls `bookings`; here it goes to a local port nothing
    // listens on (tests that book answer for the service themselves).
    config.services.insert(
        "bookings".to_owned(),
        colloquy::config::ServiceConfig {
            base_url: format!("http://127.0.0.1:{}/api", closed_port()),
            timeout: Duration::from_secs(2),
            headers: std::collections::BTreeMap::new(),
            max_response_bytes: 64 * 1024,
        },
    );
    config
}

/// The flagship's translation files, `(file name, text)`, to put beside a copy of it.
#[allow(dead_code)] // used by the tests that copy the flagship
pub fn flagship_translations() -> Vec<(String, String)> {
    ["en", "fr"]
        .iter()
        .map(|locale| {
            let name = format!("otp_authentication.{locale}.ftl");
            let text = std::fs::read_to_string(dialogs_dir().join(&name)).expect("shipped");
            (name, text)
        })
        .collect()
}

/// Writes the flagship's translation files into `dir`, beside a copy of it.
#[allow(dead_code)]
pub fn copy_flagship_translations(dir: &std::path::Path) {
    for (name, text) in flagship_translations() {
        std::fs::write(dir.join(name), text).expect("write a translation");
    }
}

/// A local port nothing listens on: bound, then let go.
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    /// What the HTTP layer shares (to start draining, as a shutdown would).
    pub state: Arc<colloquy::http::AppState>,
    /// The dev outbox, unless the config picks another sender (see [`TestApp::outbox`]).
    pub outbox: Option<Arc<OutboxSender>>,
    pub app: App,
    message_ids: AtomicU64,
    /// Dropping it shuts the server down gracefully.
    _shutdown: oneshot::Sender<()>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(test_config()).await
}

/// The app on `config` with its dialogs from `files` (name, YAML) in a directory of their own,
/// `default` the dialog of new sessions. Keep the directory for as long as the app runs.
#[allow(dead_code)] // used by the tests of dialogs written inline
pub async fn spawn_app_with_dialogs(
    files: &[(&str, &str)],
    default: &str,
    mut config: Config,
) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, source) in files {
        std::fs::write(dir.path().join(name), source).expect("write a dialog");
    }
    config.dialogs.dir = dir.path().to_path_buf();
    default.clone_into(&mut config.dialogs.default);
    (spawn_app_with(config).await, dir)
}

pub async fn spawn_app_with(config: Config) -> TestApp {
    let (registry, reports) = load_paths(
        std::slice::from_ref(&config.dialogs.dir),
        &config.load_env(),
    )
    .expect("dialogs load");
    assert!(
        reports.iter().all(|r| !r.has_errors()),
        "dialogs have errors: {reports:?}"
    );
    let clock = Arc::new(ManualClock::at_epoch());
    let app = app::build(config, registry, clock.clone()).expect("app builds");
    let outbox = app.outbox.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind port 0");
    let addr = listener.local_addr().expect("local addr");
    let (shutdown, stopped) = oneshot::channel::<()>();
    let state = colloquy::http::AppState::new(app.clone());
    let served = state.clone();
    tokio::spawn(colloquy::http::serve(listener, served, async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    TestApp {
        addr,
        client,
        clock,
        state,
        outbox,
        app,
        message_ids: AtomicU64::new(0),
        _shutdown: shutdown,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Posts a user message; panics unless the answer is 200.
    pub async fn say(&self, session: &str, text: &str) -> WebhookResponse {
        let id = self.message_ids.fetch_add(1, Ordering::Relaxed);
        let (status, body) = self
            .post_json(
                &json!({ "session_id": session, "message_id": format!("m{id}"), "text": text }),
            )
            .await;
        assert_eq!(status, 200, "unexpected answer to {text:?}: {body}");
        serde_json::from_value(body).expect("a webhook response")
    }

    /// Posts a user message that starts `dialog` when the session is new.
    #[allow(dead_code)] // most tests run the default dialog
    pub async fn say_to_dialog(&self, session: &str, dialog: &str, text: &str) -> WebhookResponse {
        let id = self.message_ids.fetch_add(1, Ordering::Relaxed);
        let (status, body) = self
            .post_json(&json!({
                "session_id": session,
                "message_id": format!("m{id}"),
                "text": text,
                "dialog": dialog,
            }))
            .await;
        assert_eq!(status, 200, "unexpected answer to {text:?}: {body}");
        serde_json::from_value(body).expect("a webhook response")
    }

    pub async fn post_json(&self, body: &Value) -> (u16, Value) {
        let response = self
            .client
            .post(self.url("/v1/webhook"))
            .json(body)
            .send()
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Posts raw bytes with the given content type.
    #[allow(dead_code)] // not every test module sends raw bodies
    pub async fn post_raw(
        &self,
        body: impl Into<reqwest::Body>,
        content_type: Option<&str>,
    ) -> (u16, Value) {
        let mut request = self.client.post(self.url("/v1/webhook")).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The code in the newest email to `to`, read from the dev outbox over HTTP.
    /// GETs `path` and reads the answer as JSON, whatever its status.
    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        response.json().await.unwrap()
    }

    /// GETs `path` and reads the answer as text (`/metrics`), whatever its status.
    pub async fn get_text(&self, path: &str) -> String {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        response.text().await.unwrap()
    }

    pub async fn last_code(&self, to: &str) -> String {
        let outbox = self.get_json(&format!("/v1/dev/outbox?to={to}")).await;
        let text = outbox["emails"]
            .as_array()
            .and_then(|e| e.last())
            .and_then(|e| e["text"].as_str())
            .expect("an email to that address");
        // Codes are 4 digits unless wrong guesses made them longer.
        text.split(|c: char| !c.is_ascii_digit())
            .find(|w| (4..=10).contains(&w.len()))
            .expect("a code in the email")
            .to_owned()
    }

    pub fn emails_to(&self, to: &str) -> usize {
        self.outbox().list(Some(to)).len()
    }

    /// The dev outbox; panics when the app runs another sender.
    pub fn outbox(&self) -> &OutboxSender {
        self.outbox
            .as_deref()
            .expect("this app uses the dev outbox")
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }
}

/// The bot's replies joined, for `contains` assertions.
pub fn said(reply: &WebhookResponse) -> String {
    reply
        .replies
        .iter()
        .map(|r| r.text.as_str())
        .collect::<Vec<_>>()
        .join(" | ")
}
