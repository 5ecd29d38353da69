//! Rate limits: a token bucket per remote IP (before authentication, so floods are cheap to
//! refuse) and one per authenticated client. The buckets live behind the
//! [`RateLimiter`](crate::store::RateLimiter) port: in this process (governor), or in Redis so
//! every instance draws from the same buckets. Both run on the engine's clock, so tests move
//! time instead of sleeping.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::Extensions;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::store::{RateLimiter, Scope};

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;

#[derive(Debug)]
pub struct RateLimits {
    limiter: Arc<dyn RateLimiter>,
}

impl RateLimits {
    pub fn new(limiter: Arc<dyn RateLimiter>) -> Self {
        Self { limiter }
    }

    async fn check(&self, scope: Scope, key: &str) -> Result<(), Duration> {
        self.limiter.check(scope, key).await
    }

    /// Drops buckets that are full again (they carry no information).
    pub fn sweep(&self) {
        self.limiter.sweep();
    }
}

/// The bucket key of an address: `ip.to_string()`, without the formatting machinery for the
/// IPv4 addresses nearly every request comes from (it runs on every request).
fn ip_key(ip: std::net::IpAddr) -> String {
    let std::net::IpAddr::V4(v4) = ip else {
        return ip.to_string();
    };
    let mut key = String::with_capacity(15);
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            key.push('.');
        }
        if octet >= 100 {
            key.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            key.push(char::from(b'0' + octet / 10 % 10));
        }
        key.push(char::from(b'0' + octet % 10));
    }
    key
}

fn limited(wait: Duration) -> Response {
    ApiError::RateLimited { retry_after: wait }.into_response()
}

/// Per remote address. Requests without a peer address (in-process calls) pass.
pub async fn per_ip(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    if let Err(refused) = check_ip(&state, request.extensions()).await {
        return refused;
    }
    next.run(request).await
}

/// The per-IP check alone, given the request's extensions: `Err` is the 429 to answer.
pub(super) async fn check_ip(state: &AppState, extensions: &Extensions) -> Result<(), Response> {
    if let Some(ConnectInfo(peer)) = extensions.get::<ConnectInfo<SocketAddr>>() {
        let ip = peer.ip();
        if let Err(wait) = state.limits.check(Scope::Ip, &ip_key(ip)).await {
            tracing::info!(%ip, "rate limited (per ip)");
            return Err(limited(wait));
        }
    }
    Ok(())
}

/// The per-client check, after authentication (with auth off there is no client): `Err` is
/// the 429 to answer.
pub(super) async fn check_client(
    state: &AppState,
    extensions: &Extensions,
) -> Result<(), Response> {
    if let Some(Caller(Some(client))) = extensions.get::<Caller>()
        && let Err(wait) = state.limits.check(Scope::Client, client).await
    {
        tracing::info!(client = %client, "rate limited (per client)");
        return Err(limited(wait));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    #[test]
    fn ip_keys_are_the_display_form() {
        for ip in [
            "127.0.0.1",
            "0.0.0.0",
            "10.20.100.255",
            "::1",
            "2001:db8::7",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(super::ip_key(ip), ip.to_string());
        }
    }
}
