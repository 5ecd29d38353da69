//! The HTTP API (axum). Handlers are thin: extract, call the engine, convert to DTOs.
//! `router(state)` is separate from serving, so tests can call it without a socket.
//!
//! Every route is registered in [`GROUPS`] through `utoipa_axum::routes!`, which takes the
//! path and methods from the handler's `#[utoipa::path]`: the router and the OpenAPI
//! document (`openapi.rs`) are built from the same registration, so a route cannot exist
//! undescribed or be described at another path.

mod agents;
pub mod auth;
mod capillary;
mod connection;
mod dev;
mod digit;
pub mod dto;
mod error;
mod events;
mod extract;
mod guard;
mod handlers;
mod kore;
mod limits;
mod mailbox;
pub mod openapi;
mod otp_api;
mod server;
mod uncancellable;
mod web;

pub use connection::ConnectionLimits;
pub use error::ApiError;
pub use server::{fit_open_file_limit, serve};

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::App;
use crate::clock::Clock;

/// What handlers and middleware share.
#[derive(Debug)]
pub struct AppState {
    pub app: App,
    /// Set on shutdown: new requests get 503 while turns in flight finish.
    pub draining: std::sync::atomic::AtomicBool,
    pub auth: auth::Authenticator,
    pub limits: limits::RateLimits,
    /// What times clients sign (signature timestamps, Kore JWTs' `exp`) are read against:
    /// the engine's clock, except in dev mode, where clients keep signing with the wall clock
    /// the dev clock runs ahead of.
    pub client_clock: Arc<dyn Clock>,
    /// Event streams open now (`sessions.events.max_streams`).
    open_streams: std::sync::atomic::AtomicUsize,
    /// Turns true when the server starts shutting down: event streams end (their clients
    /// reconnect elsewhere), so the connections they hold can close.
    stop_streams: tokio::sync::watch::Sender<bool>,
}

impl AppState {
    pub fn new(app: App) -> Arc<Self> {
        let client_clock = match &app.dev_clock {
            Some(dev) => dev.base().clone(),
            None => app.engine.clock().clone(),
        };
        let auth =
            auth::Authenticator::new(&app.config.auth, client_clock.clone(), app.replay.clone());
        let limits = limits::RateLimits::new(app.limiter.clone(), &app.config.limits);
        Arc::new(Self {
            app,
            auth,
            limits,
            client_clock,
            open_streams: std::sync::atomic::AtomicUsize::new(0),
            stop_streams: tokio::sync::watch::Sender::new(false),
            draining: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Starts refusing new requests with 503 (health checks report `draining`).
    pub fn start_draining(&self) {
        self.draining
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.stop_streams.send_replace(true);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Forgets what only matters for a while (seen signatures). The server runs it periodically.
    pub fn sweep(&self) {
        self.auth.sweep();
        self.limits.sweep();
    }
}

/// The routes for `app`.
pub fn router(app: App) -> Router {
    router_with(AppState::new(app))
}

/// Who may call a group's routes: it decides the layers in front of them and the security
/// the document gives them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// No credentials: `/healthz`, `/metrics`, the web chat's files, `/openapi.json`.
    Open,
    /// The `/v1` guard (`guard.rs`): per-IP limit, API key or signature (unless
    /// `auth.enabled` is false), per-client limit.
    Guarded,
    /// Kore's own JWTs, checked by the handlers, behind the per-IP limit.
    Kore,
}

/// The error body a group's routes answer a request body they cannot read with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Envelope {
    /// `{"error": {"code", "message"}}` (`error.rs`).
    Native,
    /// Capillary's `{"errors": [...]}`, the HTTP status as the code (`capillary/`).
    Capillary,
    /// DIGIT's `{"responseInfo", "error"}` (`digit/`).
    Digit,
    /// Kore's `{"errors", "_v", "_t"}`: every unreadable body is a 400 (`kore.rs`).
    Kore,
}

/// Routes that exist together, and when.
#[derive(Debug)]
pub struct Group {
    pub name: &'static str,
    /// Whether a server with this configuration serves them.
    pub enabled: fn(&App) -> bool,
    /// When they exist, for the description of each of them; `None`: always.
    pub condition: Option<&'static str>,
    pub access: Access,
    pub envelope: Envelope,
    /// The routes, each registered by `routes!` with its description.
    pub routes: fn() -> OpenApiRouter<Arc<AppState>>,
}

/// Every route of the server, by group. A new route is a handler with `#[utoipa::path]` and
/// one `.routes(routes!(handler))` here (ARCHITECTURE.md).
pub const GROUPS: &[Group] = &[
    Group {
        name: "open",
        enabled: |_| true,
        condition: None,
        access: Access::Open,
        envelope: Envelope::Native,
        routes: || {
            OpenApiRouter::new()
                .routes(routes!(handlers::health))
                .routes(routes!(handlers::metrics))
                .routes(routes!(openapi::document_json))
                .routes(routes!(web::chat))
                .routes(routes!(web::widget_js))
                .routes(routes!(web::widget_css))
        },
    },
    Group {
        name: "conversations",
        enabled: |_| true,
        condition: None,
        access: Access::Guarded,
        envelope: Envelope::Native,
        routes: || {
            OpenApiRouter::new()
                .routes(routes!(handlers::webhook))
                .routes(routes!(handlers::dialogs))
                .routes(routes!(handlers::session, handlers::end_session))
                .routes(routes!(events::stream))
                .routes(routes!(agents::message))
                .routes(routes!(agents::handback))
        },
    },
    Group {
        name: "otp",
        enabled: |app| app.config.otp_api.enabled,
        condition: Some("Only with `otp_api.enabled: true` (the default)."),
        access: Access::Guarded,
        envelope: Envelope::Native,
        routes: || {
            OpenApiRouter::new()
                .routes(routes!(otp_api::send))
                .routes(routes!(otp_api::verify))
        },
    },
    Group {
        name: "capillary",
        enabled: |app| app.config.otp_api.capillary,
        condition: Some("Only with `otp_api.capillary: true`."),
        access: Access::Guarded,
        envelope: Envelope::Capillary,
        routes: || {
            OpenApiRouter::new()
                .routes(routes!(capillary::generate))
                .routes(routes!(capillary::validate))
        },
    },
    Group {
        name: "digit",
        enabled: |app| app.config.otp_api.digit,
        condition: Some("Only with `otp_api.digit: true`."),
        access: Access::Guarded,
        envelope: Envelope::Digit,
        routes: || {
            OpenApiRouter::new()
                .routes(routes!(digit::create))
                .routes(routes!(digit::validate))
                .routes(routes!(digit::search))
                .routes(routes!(digit::send))
        },
    },
    Group {
        name: "outbox",
        enabled: |app| app.outbox.is_some(),
        condition: Some(
            "Only with the dev outbox as the email sender (`email.provider: outbox`); never in production.",
        ),
        access: Access::Guarded,
        envelope: Envelope::Native,
        routes: || {
            OpenApiRouter::new()
                .routes(routes!(handlers::outbox, handlers::clear_outbox))
                .routes(routes!(mailbox::page))
                .routes(routes!(mailbox::stylesheet))
        },
    },
    Group {
        name: "dev",
        enabled: |app| app.dev_clock.is_some(),
        condition: Some(
            "Only in dev mode (`serve --dev`, `server.dev: true`), on loopback addresses.",
        ),
        access: Access::Guarded,
        envelope: Envelope::Native,
        routes: || {
            OpenApiRouter::new()
                .routes(routes!(dev::clock, dev::advance))
                .routes(routes!(dev::context))
        },
    },
    Group {
        name: "kore",
        enabled: |app| app.config.kore.enabled,
        condition: Some("Only with `kore.enabled: true`."),
        access: Access::Kore,
        envelope: Envelope::Kore,
        routes: || {
            OpenApiRouter::new()
                .routes(routes!(kore::webhook))
                .routes(routes!(kore::webhook_v1))
                .routes(routes!(kore::webhook_v1_instance))
        },
    },
];

/// The routes. `/v1/…` (and the seed-shaped OTP routes, `/v2/otp/…`, `/otp/v1/…` and
/// `/user-otp/v1/…`) need authentication (unless `auth.enabled` is false); `/healthz`, `/metrics`, `/openapi.json`
/// and the web chat's files (`/chat`, `/widget.js`, `/widget.css`) do not. Which groups of
/// [`GROUPS`] exist depends on the configuration: `/v1/dev/outbox` and `/dev/mailbox` only
/// with the dev outbox sender, `/v1/dev/clock` and `/v1/dev/sessions/{id}/context` only in
/// dev mode, the OTP APIs with their `otp_api` flags, Kore's with `kore.enabled`.
pub fn router_with(state: Arc<AppState>) -> Router {
    let max_body = state.app.config.server.max_body_bytes;
    let mut open = Router::new();
    let mut guarded = Router::new();
    let mut kore = Router::new();
    for group in GROUPS.iter().filter(|group| (group.enabled)(&state.app)) {
        let (routes, _) = (group.routes)().split_for_parts();
        match group.access {
            Access::Open => open = open.merge(routes),
            Access::Guarded => guarded = guarded.merge(routes),
            Access::Kore => kore = kore.merge(routes),
        }
    }
    // Per-IP limit, then authentication, then per-client limit, in one layer.
    let mut router = open.merge(
        guarded.route_layer(axum::middleware::map_request_with_state(
            state.clone(),
            guard::protect,
        )),
    );
    if kore.has_routes() {
        // Kore clients authenticate with their own JWTs, checked by the handler.
        router = router.merge(kore.route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::per_ip,
        )));
    }
    let config = &state.app.config;
    let origins: Vec<String> = config
        .server
        .cors_origins
        .iter()
        .chain(auth::Authenticator::widget_origins(&config.auth))
        .cloned()
        .collect();
    let cors = cors(&origins);
    let router = router
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            handlers::frame,
        ))
        .layer(CatchPanicLayer::custom(handlers::panic_response))
        .with_state(state);
    match cors {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

/// CORS for browser widgets. Outermost, so preflight requests are answered before
/// authentication (they carry no credentials by design).
fn cors(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use axum::http::{HeaderName, Method, header};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| o.parse().ok()))
    };
    let layer = CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static(auth::SIGNATURE_HEADER),
            HeaderName::from_static(auth::WIDGET_KEY_HEADER),
            HeaderName::from_static(auth::SESSION_TOKEN_HEADER),
            HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([header::RETRY_AFTER])
        .max_age(std::time::Duration::from_secs(600));
    Some(layer)
}
