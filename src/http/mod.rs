//! The HTTP API (axum). Handlers are thin: extract, call the engine, convert to DTOs.
//! `router(state)` is separate from serving, so tests can call it without a socket.

pub mod auth;
mod capillary;
mod connection;
mod dev;
mod digit;
pub mod dto;
mod error;
mod extract;
mod guard;
mod handlers;
mod kore;
mod limits;
mod mailbox;
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
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;

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
    /// Kore tokens already accepted, with `kore.single_use_tokens`.
    kore_tokens: kore::SeenTokens,
}

impl AppState {
    pub fn new(app: App) -> Arc<Self> {
        let client_clock = match &app.dev_clock {
            Some(dev) => dev.base().clone(),
            None => app.engine.clock().clone(),
        };
        let auth = auth::Authenticator::new(&app.config.auth, client_clock.clone());
        let limits = limits::RateLimits::new(app.limiter.clone());
        Arc::new(Self {
            app,
            auth,
            limits,
            client_clock,
            kore_tokens: kore::SeenTokens::default(),
            draining: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Starts refusing new requests with 503 (health checks report `draining`).
    pub fn start_draining(&self) {
        self.draining
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Forgets what only matters for a while (seen signatures). The server runs it periodically.
    pub fn sweep(&self) {
        self.auth.sweep();
        self.limits.sweep();
        self.kore_tokens.sweep(self.client_clock.now().timestamp());
    }
}

/// The routes for `app`.
pub fn router(app: App) -> Router {
    router_with(AppState::new(app))
}

/// The routes. `/v1/…` (and the seed-shaped OTP routes, `/v2/otp/…`, `/otp/v1/…` and
/// `/user-otp/v1/…`) need authentication (unless `auth.enabled` is false); `/healthz`,
/// `/metrics` and the web chat's files (`/chat`, `/widget.js`, `/widget.css`) do not. `/v1/dev/outbox` and `/dev/mailbox`
/// exist only with the dev outbox sender, and need authentication like `/v1`;
/// `/v1/dev/clock` and `/v1/dev/sessions/{id}/context` only in dev mode.
pub fn router_with(state: Arc<AppState>) -> Router {
    let max_body = state.app.config.server.max_body_bytes;
    let mut protected = Router::new()
        .route("/v1/webhook", post(handlers::webhook))
        .route("/v1/dialogs", get(handlers::dialogs))
        .route(
            "/v1/sessions/{id}",
            get(handlers::session).delete(handlers::end_session),
        );
    let otp_api = &state.app.config.otp_api;
    if otp_api.enabled {
        protected = protected
            .route("/v1/otp", post(otp_api::send))
            .route("/v1/otp/verify", post(otp_api::verify));
    }
    if otp_api.capillary {
        protected = protected
            .route("/v2/otp/generate", post(capillary::generate))
            .route("/v2/otp/validate", post(capillary::validate));
    }
    if otp_api.digit {
        protected = protected
            .route("/otp/v1/_create", post(digit::create))
            .route("/otp/v1/_validate", post(digit::validate))
            .route("/otp/v1/_search", post(digit::search))
            .route("/user-otp/v1/_send", post(digit::send));
    }
    if state.app.outbox.is_some() {
        protected = protected
            .route(
                "/v1/dev/outbox",
                get(handlers::outbox).delete(handlers::clear_outbox),
            )
            .route("/dev/mailbox", get(mailbox::page))
            .route("/dev/mailbox.css", get(mailbox::stylesheet));
    }
    if state.app.dev_clock.is_some() {
        protected = protected
            .route("/v1/dev/clock", get(dev::clock).post(dev::advance))
            .route("/v1/dev/sessions/{id}/context", get(dev::context));
    }
    // Per-IP limit, then authentication, then per-client limit, in one layer.
    let protected = protected.route_layer(axum::middleware::map_request_with_state(
        state.clone(),
        guard::protect,
    ));
    let cors = cors(&state.app.config.server.cors_origins);
    let mut router = Router::new()
        .route("/healthz", get(handlers::health))
        .route("/metrics", get(handlers::metrics))
        .route("/chat", get(web::chat))
        .route("/widget.js", get(web::widget_js))
        .route("/widget.css", get(web::widget_css))
        .merge(protected);
    if state.app.config.kore.enabled {
        // Kore clients authenticate with their own JWTs, checked by the handler.
        let kore = Router::new()
            .route("/chatbot/v2/webhook/{bot}", post(kore::webhook))
            .route("/chatbot/hooks/{bot}", post(kore::webhook_v1))
            .route(
                "/chatbot/hooks/{bot}/hookInstance/{instance}",
                post(kore::webhook_v1_instance),
            )
            .route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                limits::per_ip,
            ));
        router = router.merge(kore);
    }
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
        ])
        .expose_headers([header::RETRY_AFTER])
        .max_age(std::time::Duration::from_secs(600));
    Some(layer)
}
