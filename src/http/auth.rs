//! Who is calling: an API key (`Authorization: Bearer <key>`) or a request signature
//! (`X-Colloquy-Signature: t=<unix seconds>,v2=<hex HMAC-SHA256(secret,
//! "<t>\n<METHOD>\n<path?query>\n<body>")>`), which covers what is asked as well as the body:
//! one signed empty body is no key to every route that takes one. The older `v1` form, over
//! "<t>.<body>" only, is accepted only with `auth.body_only_signatures` (deprecated).
//!
//! Keys are kept as SHA-256 digests and compared in constant time; a signature is accepted
//! only within the replay window of its timestamp and only once, across every instance that
//! shares the store (`store::ReplayGuard`). Every refusal is the same bare 401: which check
//! failed is logged, never returned.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta};
use hmac::{Hmac, KeyInit, Mac};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::clock::Clock;
use crate::config::AuthConfig;
use crate::store::{ReplayGuard, StoreError};

use super::AppState;
use super::error::ApiError;

/// The header carrying a body signature.
pub const SIGNATURE_HEADER: &str = "x-colloquy-signature";
/// The header carrying a widget's publishable key.
pub const WIDGET_KEY_HEADER: &str = "x-colloquy-widget-key";
/// The header carrying a widget session's token.
pub const SESSION_TOKEN_HEADER: &str = "x-colloquy-session-token";

/// The authenticated caller, in the request's extensions. `None` when auth is off.
#[derive(Debug, Clone)]
pub struct Caller(pub Option<Arc<str>>);

/// How the caller authenticated, in the request's extensions beside [`Caller`]: what it may
/// do beyond naming itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// Authentication is off: anyone, any session.
    Open,
    /// An API key or signature of an `api` client: its own sessions.
    Client,
    /// An API key or signature of an `agent` client: every session.
    Agent,
    /// A widget's publishable key: its own sessions, each with the session's token, and
    /// only to talk and to listen.
    Widget,
}

impl Credential {
    /// What a request with this credential and `caller` may do to `session_id`, given the
    /// session token it carried (checked against `engine`).
    pub fn access(
        self,
        caller: &Caller,
        engine: &crate::engine::Engine,
        session_id: &str,
        token: Option<&str>,
    ) -> crate::engine::Access {
        let client = caller.0.as_deref().map(str::to_owned);
        let proven = match (self, &client, token) {
            (Credential::Widget, Some(client), Some(token)) => {
                let expected = engine.session_token(client, session_id);
                bool::from(expected.as_bytes().ct_eq(token.trim().as_bytes()))
            }
            (Credential::Widget, _, _) => false,
            _ => true,
        };
        crate::engine::Access {
            client,
            proven,
            any_session: matches!(self, Credential::Open | Credential::Agent),
        }
    }
}

/// A widget, as its publishable key finds it.
#[derive(Debug)]
struct Widget {
    client: Arc<str>,
    key: String,
    origins: Vec<String>,
}

#[derive(Debug)]
pub struct Authenticator {
    enabled: bool,
    api_keys: Vec<(Arc<str>, [u8; 32])>,
    signing_secrets: Vec<(Arc<str>, Vec<u8>)>,
    /// The clients with the `agent` role.
    agents: Vec<Arc<str>>,
    widgets: Vec<Widget>,
    replay_window: TimeDelta,
    /// Whether `v1` signatures (over the body only) are still accepted.
    body_only_signatures: bool,
    /// Signatures accepted within the replay window.
    replay: Arc<dyn ReplayGuard>,
    clock: Arc<dyn Clock>,
}

/// Why a request was refused (logged, never returned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    NoCredentials,
    UnknownKey,
    MalformedSignature,
    StaleTimestamp,
    BadSignature,
    /// A `v1` signature (over the body only) without `auth.body_only_signatures`.
    BodyOnlySignature,
    Replayed,
    UnknownWidgetKey,
    WidgetOrigin,
}

impl Authenticator {
    pub fn new(config: &AuthConfig, clock: Arc<dyn Clock>, replay: Arc<dyn ReplayGuard>) -> Self {
        let mut api_keys = Vec::new();
        let mut signing_secrets = Vec::new();
        let mut agents = Vec::new();
        for client in &config.clients {
            let id: Arc<str> = Arc::from(client.id.as_str());
            if client.role == crate::config::ClientRole::Agent {
                agents.push(id.clone());
            }
            for key in &client.api_keys {
                api_keys.push((
                    id.clone(),
                    Sha256::digest(key.expose().expose_secret().as_bytes()).into(),
                ));
            }
            for secret in &client.signing_secrets {
                signing_secrets.push((
                    id.clone(),
                    secret.expose().expose_secret().as_bytes().to_vec(),
                ));
            }
        }
        let widgets = config
            .widgets
            .iter()
            .map(|widget| Widget {
                client: Arc::from(format!("widget:{}", widget.id)),
                key: widget.key.clone(),
                origins: widget.origins.clone(),
            })
            .collect();
        Self {
            enabled: config.enabled,
            api_keys,
            signing_secrets,
            agents,
            widgets,
            replay_window: TimeDelta::from_std(config.replay_window).unwrap_or(TimeDelta::MAX),
            body_only_signatures: config.body_only_signatures,
            replay,
            clock,
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// The client whose key matches, comparing against every key so timing reveals nothing.
    fn by_api_key(&self, presented: &str) -> Option<Arc<str>> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for (client, key) in &self.api_keys {
            if bool::from(key.ct_eq(&digest)) {
                found = Some(client.clone());
            }
        }
        found
    }

    /// The widget whose key this is, if the request comes from one of its sites. A request
    /// without `Origin` passes only as a `GET`: browsers send it with every cross-site request
    /// and every `POST`, but not with a same-site `GET` (the engine's own `/chat` page).
    fn by_widget_key(
        &self,
        key: &str,
        origin: Option<&str>,
        method: &axum::http::Method,
    ) -> Result<Arc<str>, Refusal> {
        let widget = self
            .widgets
            .iter()
            .find(|w| w.key == key)
            .ok_or(Refusal::UnknownWidgetKey)?;
        let allowed = match origin {
            Some(origin) => widget.origins.iter().any(|o| o == origin),
            None => method == axum::http::Method::GET,
        };
        if allowed {
            Ok(widget.client.clone())
        } else {
            Err(Refusal::WidgetOrigin)
        }
    }

    /// The origins of every widget (allowed by CORS beside `server.cors_origins`).
    pub fn widget_origins(config: &AuthConfig) -> impl Iterator<Item = &String> {
        config.widgets.iter().flat_map(|w| w.origins.iter())
    }

    fn credential_of(&self, client: &str) -> Credential {
        if self.agents.iter().any(|agent| &**agent == client) {
            Credential::Agent
        } else {
            Credential::Client
        }
    }

    async fn by_signature(
        &self,
        header: &str,
        request: &Signed<'_>,
    ) -> Result<Result<Arc<str>, Refusal>, StoreError> {
        let Some(parsed) = parse_signature(header) else {
            return Ok(Err(Refusal::MalformedSignature));
        };
        if parsed.version == SignatureVersion::BodyOnly && !self.body_only_signatures {
            return Ok(Err(Refusal::BodyOnlySignature));
        }
        let now = self.clock.now();
        let Some(signed_at) = DateTime::from_timestamp(parsed.timestamp, 0) else {
            return Ok(Err(Refusal::MalformedSignature));
        };
        if (now - signed_at).abs() > self.replay_window {
            return Ok(Err(Refusal::StaleTimestamp));
        }
        let mut found = None;
        for (client, secret) in &self.signing_secrets {
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
                continue;
            };
            signed_text(&mut mac, parsed.version, parsed.timestamp, request);
            if mac.verify_slice(&parsed.mac).is_ok() {
                found = Some(client.clone());
            }
        }
        let Some(client) = found else {
            return Ok(Err(Refusal::BadSignature));
        };
        let fingerprint: [u8; 32] = Sha256::digest(&parsed.mac).into();
        // Refused as stale after this anyway, so that is as long as it needs keeping.
        let until = signed_at + self.replay_window;
        if !self.replay.first_use("sig", &fingerprint, until).await? {
            return Ok(Err(Refusal::Replayed));
        }
        Ok(Ok(client))
    }

    /// Forgets signatures older than the replay window (they would be refused as stale).
    pub fn sweep(&self) {
        self.replay.sweep();
    }
}

/// Which text a signature covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SignatureVersion {
    /// `v1`: "<t>.<body>" (deprecated).
    BodyOnly,
    /// `v2`: "<t>\n<METHOD>\n<path?query>\n<body>".
    Request,
}

#[derive(Debug)]
struct ParsedSignature {
    timestamp: i64,
    version: SignatureVersion,
    mac: Vec<u8>,
}

/// What a signature must cover, as the request came.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    pub method: &'a str,
    /// The path and query exactly as sent (`/v1/webhook`, `/otp/v1/_search?tenantId=pb`).
    pub path_and_query: &'a str,
    pub body: &'a [u8],
}

fn signed_text(mac: &mut Hmac<Sha256>, version: SignatureVersion, t: i64, request: &Signed<'_>) {
    mac.update(t.to_string().as_bytes());
    match version {
        SignatureVersion::BodyOnly => mac.update(b"."),
        SignatureVersion::Request => {
            mac.update(b"\n");
            mac.update(request.method.as_bytes());
            mac.update(b"\n");
            mac.update(request.path_and_query.as_bytes());
            mac.update(b"\n");
        }
    }
    mac.update(request.body);
}

/// Reads `t=<seconds>,v2=<hex>` (or the deprecated `v1=`; `v2` wins when both are there).
fn parse_signature(header: &str) -> Option<ParsedSignature> {
    let mut timestamp = None;
    let mut v1 = None;
    let mut v2 = None;
    for part in header.split(',') {
        match part.trim().split_once('=')? {
            ("t", value) => timestamp = value.parse::<i64>().ok(),
            ("v1", value) => v1 = crate::hex::decode(value),
            ("v2", value) => v2 = crate::hex::decode(value),
            _ => {}
        }
    }
    let (version, mac) = match (v2, v1) {
        (Some(mac), _) => (SignatureVersion::Request, mac),
        (None, Some(mac)) => (SignatureVersion::BodyOnly, mac),
        (None, None) => return None,
    };
    (mac.len() == 32).then_some(ParsedSignature {
        timestamp: timestamp?,
        version,
        mac,
    })
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The middleware: lets a request through with its [`Caller`], or answers 401.
pub async fn authenticate(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    match admit(&state, request).await {
        Ok(request) => next.run(request).await,
        Err(refused) => refused,
    }
}

/// Authentication alone: the request with its [`Caller`], or the 401 (or 413) to answer.
pub(super) async fn admit(state: &AppState, request: Request) -> Result<Request, Response> {
    let auth = &state.auth;
    let (mut parts, body) = request.into_parts();
    if !auth.is_enabled() {
        parts.extensions.insert(Caller(None));
        parts.extensions.insert(Credential::Open);
        return Ok(Request::from_parts(parts, body));
    }
    if let Some(key) = parts.headers.get(WIDGET_KEY_HEADER) {
        let origin = parts
            .headers
            .get(axum::http::header::ORIGIN)
            .and_then(|v| v.to_str().ok());
        let verdict = key
            .to_str()
            .map_err(|_| Refusal::UnknownWidgetKey)
            .and_then(|key| auth.by_widget_key(key.trim(), origin, &parts.method));
        return match verdict {
            Ok(widget) => {
                parts.extensions.insert(Caller(Some(widget)));
                parts.extensions.insert(Credential::Widget);
                Ok(Request::from_parts(parts, body))
            }
            Err(refusal) => {
                tracing::info!(reason = ?refusal, path = %parts.uri.path(), "request refused: not authenticated");
                Err(ApiError::Unauthorized.into_response())
            }
        };
    }
    let signature = parts
        .headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (verdict, body) = match (bearer(&parts.headers), signature) {
        (Some(key), _) => (auth.by_api_key(key).ok_or(Refusal::UnknownKey), body),
        // A signature covers the body, so the body is read here and handed on as bytes.
        (None, Some(header)) => {
            let bytes = match to_bytes(body, state.app.config.server.max_body_bytes).await {
                Ok(bytes) => bytes,
                Err(error) if super::connection::is_body_timeout(&error) => {
                    return Err(ApiError::BodyTimeout.into_response());
                }
                Err(_) => return Err(ApiError::PayloadTooLarge.into_response()),
            };
            let signed = Signed {
                method: parts.method.as_str(),
                path_and_query: parts
                    .uri
                    .path_and_query()
                    .map_or("/", axum::http::uri::PathAndQuery::as_str),
                body: &bytes,
            };
            let verdict = match auth.by_signature(&header, &signed).await {
                Ok(verdict) => verdict,
                Err(error) => {
                    tracing::warn!(%error, "signature replay records unavailable: request refused");
                    return Err(ApiError::Unavailable.into_response());
                }
            };
            (verdict, Body::from(bytes))
        }
        (None, None) => (Err(Refusal::NoCredentials), body),
    };
    match verdict {
        Ok(client) => {
            parts.extensions.insert(auth.credential_of(&client));
            parts.extensions.insert(Caller(Some(client)));
            Ok(Request::from_parts(parts, body))
        }
        Err(refusal) => {
            tracing::info!(reason = ?refusal, path = %parts.uri.path(), "request refused: not authenticated");
            Err(ApiError::Unauthorized.into_response())
        }
    }
}

/// Signs a request the way clients must: the `X-Colloquy-Signature` value (`v2`).
pub fn sign_request(secret: &[u8], timestamp: i64, request: &Signed<'_>) -> String {
    sign_as(secret, timestamp, request, SignatureVersion::Request)
}

/// Signs `body` alone, the deprecated `v1` way (`auth.body_only_signatures`).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let request = Signed {
        method: "",
        path_and_query: "",
        body,
    };
    sign_as(secret, timestamp, &request, SignatureVersion::BodyOnly)
}

fn sign_as(
    secret: &[u8],
    timestamp: i64,
    request: &Signed<'_>,
    version: SignatureVersion,
) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    signed_text(&mut mac, version, timestamp, request);
    let name = match version {
        SignatureVersion::BodyOnly => "v1",
        SignatureVersion::Request => "v2",
    };
    format!(
        "t={timestamp},{name}={}",
        crate::hex::encode(&mac.finalize().into_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_signature_headers() {
        let header = sign(b"0123456789abcdef", 1_700_000_000, b"{}");
        let parsed = parse_signature(&header).unwrap();
        assert_eq!(parsed.timestamp, 1_700_000_000);
        assert_eq!(parsed.version, SignatureVersion::BodyOnly);
        assert_eq!(parsed.mac.len(), 32);
        let request = Signed {
            method: "POST",
            path_and_query: "/v1/webhook",
            body: b"{}",
        };
        let v2 = sign_request(b"0123456789abcdef", 1_700_000_000, &request);
        assert_eq!(
            parse_signature(&v2).unwrap().version,
            SignatureVersion::Request
        );
        assert!(parse_signature("t=1,v1=zz").is_none());
        assert!(parse_signature("v1=00").is_none());
        assert!(parse_signature("garbage").is_none());
    }
}
