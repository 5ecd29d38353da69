//! What the fuzz targets share: entities built as a dialog declares them, and an application
//! served in process (the real router on memory stores, a manual clock, the dev outbox) that
//! requests are handed to without a socket.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use chrono::{DateTime, Utc};
use colloquy::clock::ManualClock;
use colloquy::config::Config;
use colloquy::dialog::entities::{self, EntityKind, Found, Hearing, Place};
use colloquy::dialog::value::Value;
use colloquy::reader::Diagnostics;
use http_body_util::BodyExt;
use tower::ServiceExt;

/// The instant every target reads as "now": fixed, so that a run can be replayed.
pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_780_000_000, 0).expect("a valid instant")
}

/// An entity as an `ask` node with these keys (`entity: choice` and its `choices:`) makes it.
pub fn entity(keys: &str) -> Box<dyn EntityKind> {
    let tree = colloquy::yaml::parse(keys).expect("the keys are YAML");
    let mut d = Diagnostics::default();
    let mut map = d.map(&tree, "an ask node").expect("the keys are a map");
    let entity = entities::read(&mut map, &mut d, "fuzz").expect("the entity reads");
    assert!(!d.has_errors(), "the entity's keys have errors: {d:?}");
    entity
}

/// Feeds `data` to `entity` as a user's message, with the answers' invariants checked: a
/// value found is found again in its own text, candidates are distinct, every reply has
/// words.
pub fn hear(entity: &dyn EntityKind, data: &[u8], refind: bool) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let place = Place {
        region: entities::parse_region("GB"),
        ..Place::default()
    };
    let hearing = Hearing {
        place,
        ..Hearing::plain(now())
    };
    match entity.find(text, &hearing) {
        Found::Nothing => {
            let _ = entity.resembles(text);
        }
        Found::One(value) => {
            let _ = entity.accepts(&value);
            let _ = entity.also_sets(&value, &hearing);
            if let Some(suggested) = entity.suggest(&value, &hearing) {
                assert!(!entity.did_you_mean(&suggested).is_empty());
            }
            if refind {
                let mut again = String::new();
                value.write_to(&mut again);
                assert_eq!(
                    entity.find(&again, &hearing),
                    Found::One(value.clone()),
                    "{value:?}, found in {text:?}, is not found again in its own text {again:?}"
                );
            }
        }
        Found::Several(values) => {
            assert!(values.len() >= 2, "several candidates, but {values:?}");
            for (i, a) in values.iter().enumerate() {
                assert!(
                    values[i + 1..].iter().all(|b| b != a),
                    "candidates repeat: {values:?}"
                );
            }
            assert!(!entity.which_one(&values).is_empty());
        }
    }
}

/// Text of a value, for messages.
pub fn text_of(value: &Value) -> String {
    let mut out = String::new();
    value.write_to(&mut out);
    out
}

/// The API key of the client every HTTP target calls as (an agent: it reaches every route).
pub const API_KEY: &str = "fuzz-api-key-0123456789abcdef";
/// That client's signing secret (`x-colloquy-signature`).
pub const SIGNING_SECRET: &str = "fuzz-signing-secret-0123456789";
/// The publishable key of the widget, allowed from [`WIDGET_ORIGIN`].
pub const WIDGET_KEY: &str = "fuzz_widget_key_0123456789";
pub const WIDGET_ORIGIN: &str = "https://shop.example.com";
/// The Kore client's app id and secret.
pub const KORE_APP: &str = "fuzz";
pub const KORE_SECRET: &str = "fuzz-kore-secret-0123456789abcdef";

/// Every route group on (as `.ci/fuzz.yaml` has it), request limits far out of reach but
/// checked (so forwarding headers are read), codes as often as asked.
const CONFIG: &str = r#"
server:
  max_body_bytes: 16384
  max_text_chars: 2000
auth:
  enabled: true
  clients:
    - id: fuzz
      api_keys: ["env:FUZZ_API_KEY"]
      signing_secrets: ["env:FUZZ_SIGNING_SECRET"]
      role: agent
  widgets:
    - id: shop
      key: fuzz_widget_key_0123456789
      origins: ["https://shop.example.com"]
limits:
  per_client: { per_second: 4000000000, burst: 4000000000 }
  per_ip: { per_second: 4000000000, burst: 4000000000 }
  trusted_proxies: ["127.0.0.1", "10.0.0.0/8"]
  limit_loopback: true
kore:
  enabled: true
  clients:
    - app_id: fuzz
      secret: env:FUZZ_KORE_SECRET
dialogs:
  default: otp_authentication
  phone_region: IN
email:
  provider: outbox
  outbox:
    capacity: 16
otp:
  secret: env:FUZZ_OTP_SECRET
  resend_cooldown: 0s
  max_sends_per_address: 1000000000
  max_failures_per_address: 1000000000
sms:
  provider: outbox
  guard:
    countries: ["*"]
    max_per_prefix_per_hour: 1000000000
    max_per_hour: 1000000000
otp_api:
  enabled: true
  capillary: true
  digit: true
kafka:
  enabled: false
# The booking dialog's service: nothing listens there, so that dialog says the booking
# system is not answering.
services:
  bookings:
    base_url: http://127.0.0.1:9/api
    timeout: 1s
"#;

/// The configuration the HTTP and Kafka targets serve with.
pub fn config() -> Config {
    let env = [
        ("FUZZ_API_KEY", API_KEY),
        ("FUZZ_SIGNING_SECRET", SIGNING_SECRET),
        ("FUZZ_KORE_SECRET", KORE_SECRET),
        ("FUZZ_OTP_SECRET", "fuzz-otp-secret-0123456789abcdef"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    let mut config = Config::from_source(CONFIG, "fuzz", env).expect("the fuzz config is valid");
    config.dialogs.dir = dialogs_dir();
    config
}

/// The repository's shipped dialogs.
pub fn dialogs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dialogs")
}

/// The application, built once per process, and a runtime to drive it.
pub struct Served {
    pub runtime: tokio::runtime::Runtime,
    pub app: colloquy::app::App,
    router: axum::Router,
}

impl Served {
    /// The process's application (built on first use).
    pub fn get() -> &'static Served {
        static SERVED: OnceLock<Served> = OnceLock::new();
        SERVED.get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            let config = config();
            let (registry, reports) = colloquy::engine::registry::load_paths(
                std::slice::from_ref(&config.dialogs.dir),
                &config.load_env(),
            )
            .expect("the dialogs load");
            assert!(reports.iter().all(|r| !r.has_errors()), "{reports:?}");
            let clock = Arc::new(ManualClock::new(now()));
            let app = {
                let _entered = runtime.enter();
                colloquy::app::build(config, registry, clock).expect("the app builds")
            };
            let router = colloquy::http::router(app.clone());
            Served {
                runtime,
                app,
                router,
            }
        })
    }

    /// Hands `request` to the router as a connection from `peer` would, and reads the answer.
    pub fn send(&self, mut request: Request<Body>, peer: SocketAddr) -> Answer {
        request.extensions_mut().insert(ConnectInfo(peer));
        self.runtime.block_on(async {
            let response = self
                .router
                .clone()
                .oneshot(request)
                .await
                .expect("the router is infallible");
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map(http_body_util::Collected::to_bytes)
                .unwrap_or_default();
            Answer {
                status: parts.status,
                headers: parts.headers,
                body,
            }
        })
    }
}

/// An HTTP answer, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// The checks every answer to outside input passes: no server error (a panic in a
    /// handler is caught and answered 500, so this is where it shows), and a JSON body
    /// whenever the answer says it is JSON.
    pub fn check(&self, what: &str) {
        assert!(
            !self.status.is_server_error() || self.status == StatusCode::SERVICE_UNAVAILABLE,
            "{what}: {} {}",
            self.status,
            String::from_utf8_lossy(&self.body)
        );
        let json = self
            .headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if json {
            assert!(
                serde_json::from_slice::<serde_json::Value>(&self.body).is_ok(),
                "{what}: {} answered with a JSON content type and a body that is not JSON: {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            );
        }
    }
}

/// A Kore JWT (HS256) for the fuzz client, valid for ten minutes from [`now`].
pub fn kore_token() -> String {
    kore_token_with(&serde_json::json!({
        "appId": KORE_APP,
        "exp": now().timestamp() + 600,
    }))
}

/// A Kore JWT (HS256) with these claims, signed with the fuzz client's secret.
pub fn kore_token_with(claims: &serde_json::Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(KORE_SECRET.as_bytes()),
    )
    .expect("claims encode")
}

/// The routes that read a body: method, path, whether Kore's JWT authenticates them.
pub const BODY_ROUTES: &[(&str, &str, bool)] = &[
    ("POST", "/v1/webhook", false),
    ("POST", "/v1/otp", false),
    ("POST", "/v1/otp/verify", false),
    ("POST", "/v1/sessions/fuzz-session/agent-messages", false),
    ("POST", "/v1/sessions/fuzz-session/handback", false),
    ("POST", "/v2/otp/generate", false),
    ("POST", "/v2/otp/validate", false),
    ("POST", "/otp/v1/_create", false),
    ("POST", "/otp/v1/_validate", false),
    ("POST", "/otp/v1/_search", false),
    ("POST", "/user-otp/v1/_send", false),
    ("POST", "/chatbot/hooks/fuzzbot", true),
    (
        "POST",
        "/chatbot/hooks/fuzzbot/hookInstance/fuzz-instance",
        true,
    ),
    ("POST", "/chatbot/v2/webhook/fuzzbot", true),
];

/// The loopback peer every request comes from unless a target picks another.
pub fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 40000))
}

/// Diagnostics of a file of `source`: each says something, and points inside the file (or
/// nowhere: `0:0`).
pub fn check_diagnostics(source: &str, diagnostics: &[colloquy::diagnostic::Diagnostic]) {
    // YAML breaks lines at `\n`, `\r\n` and a lone `\r`.
    let breaks = source.replace("\r\n", "\n").matches(['\n', '\r']).count();
    let lines = u32::try_from(breaks + 1).unwrap_or(u32::MAX);
    for diagnostic in diagnostics {
        assert!(
            !diagnostic.message.trim().is_empty(),
            "a diagnostic without a message: {diagnostic:?}"
        );
        assert!(
            diagnostic.pos.line <= lines,
            "{diagnostic:?} points past the last line ({lines})"
        );
    }
}

/// The shipped dialogs, loaded once.
pub fn registry() -> &'static colloquy::engine::DialogRegistry {
    static REGISTRY: OnceLock<colloquy::engine::DialogRegistry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        colloquy::engine::registry::load_paths(&[dialogs_dir()], &config().load_env())
            .expect("the dialogs load")
            .0
    })
}

/// A context of variables `a`, `b`, `c`, `total`, `budget` and `email`, their values from
/// `values` (NUL-separated; a number, `true`/`false`, or text), for conditions and
/// expressions to read.
pub fn context(values: &str) -> colloquy::dialog::value::Context {
    let mut context = colloquy::dialog::value::Context::default();
    let names = ["a", "b", "c", "total", "budget", "email"];
    for (name, value) in names.iter().zip(values.split('\0')) {
        let value = match value {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => value
                .parse::<f64>()
                .map_or_else(|_| Value::Text(value.to_owned()), Value::Number),
        };
        context.set(name, value);
    }
    context
}
