//! What every `/v1` request passes before its handler: the per-IP limit (before
//! authentication, so floods cost no HMAC work), authentication, then the per-client limit.
//!
//! One middleware layer runs all three in that order. They were three layers; each axum
//! `from_fn` layer costs every request a clone of the service below it and two boxed futures,
//! which under load cost more than the bare HTTP handling of a request (BENCHMARKS.md).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::{AppState, auth, limits};

pub async fn protect(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    if let Err(refused) = limits::check_ip(&state, request.extensions()).await {
        return refused;
    }
    let request = match auth::admit(&state, request).await {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    if let Err(refused) = limits::check_client(&state, request.extensions()).await {
        return refused;
    }
    next.run(request).await
}
