//! Rate limits: a token bucket per remote IP (before authentication, so floods are cheap to
//! refuse) and one per authenticated client. Built on `governor` (GCRA), driven by the
//! engine's clock so tests can move time instead of sleeping.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};

use crate::clock::Clock;
use crate::config::{LimitsConfig, Rate};

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;

/// governor's view of our clock: time since the Unix epoch.
#[derive(Debug, Clone)]
pub struct LimiterClock(Arc<dyn Clock>);

impl governor::clock::Clock for LimiterClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        let now = self.0.now();
        Duration::new(
            u64::try_from(now.timestamp()).unwrap_or(0),
            now.timestamp_subsec_nanos(),
        )
    }
}

type Keyed<K> = RateLimiter<K, DashMapStateStore<K>, LimiterClock, NoOpMiddleware<Duration>>;

#[derive(Debug)]
pub struct RateLimits {
    per_ip: Option<Keyed<IpAddr>>,
    per_client: Option<Keyed<Arc<str>>>,
    clock: LimiterClock,
}

fn quota(rate: Rate) -> Option<Quota> {
    let per_second = NonZeroU32::new(rate.per_second)?;
    Some(
        Quota::per_second(per_second)
            .allow_burst(NonZeroU32::new(rate.burst).unwrap_or(per_second)),
    )
}

impl RateLimits {
    pub fn new(config: &LimitsConfig, clock: Arc<dyn Clock>) -> Self {
        let clock = LimiterClock(clock);
        Self {
            per_ip: quota(config.per_ip).map(|q| RateLimiter::dashmap_with_clock(q, clock.clone())),
            per_client: quota(config.per_client)
                .map(|q| RateLimiter::dashmap_with_clock(q, clock.clone())),
            clock,
        }
    }

    fn check<K: std::hash::Hash + Eq + Clone>(
        &self,
        limiter: Option<&Keyed<K>>,
        key: &K,
    ) -> Result<(), Duration> {
        let Some(limiter) = limiter else {
            return Ok(());
        };
        limiter.check_key(key).map_err(|not_until| {
            use governor::clock::Clock as _;
            not_until.wait_time_from(self.clock.now())
        })
    }

    /// Drops buckets that are full again (they carry no information).
    pub fn sweep(&self) {
        if let Some(limiter) = &self.per_ip {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        if let Some(limiter) = &self.per_client {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

fn limited(wait: Duration) -> Response {
    ApiError::RateLimited { retry_after: wait }.into_response()
}

/// Per remote address. Requests without a peer address (in-process calls) pass.
pub async fn per_ip(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>()
        && let Err(wait) = state.limits.check(state.limits.per_ip.as_ref(), &peer.ip())
    {
        tracing::info!(ip = %peer.ip(), "rate limited (per ip)");
        return limited(wait);
    }
    next.run(request).await
}

/// Per authenticated client; runs after authentication. With auth off there is no client.
pub async fn per_client(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(Caller(Some(client))) = request.extensions().get::<Caller>()
        && let Err(wait) = state.limits.check(state.limits.per_client.as_ref(), client)
    {
        tracing::info!(client = %client, "rate limited (per client)");
        return limited(wait);
    }
    next.run(request).await
}
