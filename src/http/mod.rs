//! The HTTP API (axum). Handlers are thin: extract, call the engine, convert to DTOs.
//! `router(state)` is separate from serving, so tests can call it without a socket.

pub mod dto;
mod error;
mod extract;
mod handlers;

pub use error::ApiError;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;

use crate::app::App;

/// What handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    pub app: App,
}

/// The routes. `/v1/dev/outbox` exists only when the dev outbox is the configured sender.
pub fn router(app: App) -> Router {
    let max_body = app.config.server.max_body_bytes;
    let has_outbox = app.outbox.is_some();
    let state = Arc::new(AppState { app });
    let mut router = Router::new()
        .route("/v1/webhook", post(handlers::webhook))
        .route("/v1/dialogs", get(handlers::dialogs))
        .route("/healthz", get(handlers::health))
        .route("/metrics", get(handlers::metrics));
    if has_outbox {
        router = router.route(
            "/v1/dev/outbox",
            get(handlers::outbox).delete(handlers::clear_outbox),
        );
    }
    router
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            handlers::count_errors,
        ))
        .layer(CatchPanicLayer::custom(handlers::panic_response))
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
