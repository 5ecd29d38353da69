//! What every `/v1` request passes before its handler: the per-IP limit (before
//! authentication, so floods cost no HMAC work), authentication, then the per-client limit.
//!
//! One middleware layer runs all three in that order. They were three layers; each axum
//! `from_fn` layer costs every request a clone of the service below it and two boxed futures,
//! which under load cost more than the bare HTTP handling of a request (BENCHMARKS.md).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;

use super::{AppState, auth, limits};

/// Passes the request on (with its `Caller`) or answers the refusal. A `map_request` layer:
/// it only ever hands the request on, so it needs no `Next` (a boxed service per request).
pub async fn protect(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<Request, Response> {
    limits::check_ip(&state, request.extensions()).await?;
    let request = auth::admit(&state, request).await?;
    limits::check_client(&state, request.extensions()).await?;
    Ok(request)
}
