//! What every `/v1` request passes before its handler: the per-IP limit (before
//! authentication, so floods cost no HMAC work), authentication, then the per-client limit.
//!
//! One middleware layer runs all three in that order. They were three layers; each axum
//! `from_fn` layer costs every request a clone of the service below it and two boxed futures,
//! which under load cost more than the bare HTTP handling of a request (BENCHMARKS.md).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::{AppState, auth, limits};

/// Passes the request on (with its `Caller`) or answers the refusal. A `map_request` layer:
/// it only ever hands the request on, so it needs no `Next` (a boxed service per request).
pub async fn protect(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<Request, Response> {
    limits::check_ip(&state, request.extensions(), request.headers()).await?;
    let request = auth::admit(&state, request).await?;
    if request.extensions().get::<auth::Credential>() == Some(&auth::Credential::Widget)
        && !open_to_widgets(request.method(), request.uri().path())
    {
        return Err(ApiError::Forbidden.into_response());
    }
    limits::check_client(&state, request.extensions()).await?;
    Ok(request)
}

/// What a widget's key may do: talk (`POST /v1/webhook`) and listen
/// (`GET /v1/sessions/{id}/events`). Everything else needs a client's secret.
fn open_to_widgets(method: &Method, path: &str) -> bool {
    match *method {
        Method::POST => path == "/v1/webhook",
        Method::GET => path
            .strip_prefix("/v1/sessions/")
            .and_then(|rest| rest.strip_suffix("/events"))
            .is_some_and(|id| !id.is_empty() && !id.contains('/')),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widgets_may_talk_and_listen_only() {
        assert!(open_to_widgets(&Method::POST, "/v1/webhook"));
        assert!(open_to_widgets(&Method::GET, "/v1/sessions/w-1/events"));
        assert!(!open_to_widgets(&Method::GET, "/v1/sessions/w-1"));
        assert!(!open_to_widgets(&Method::DELETE, "/v1/sessions/w-1"));
        assert!(!open_to_widgets(&Method::GET, "/v1/sessions//events"));
        assert!(!open_to_widgets(&Method::POST, "/v1/otp"));
        assert!(!open_to_widgets(&Method::GET, "/dev/mailbox"));
    }
}
