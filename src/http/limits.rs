//! Rate limits: a token bucket per remote IP (before authentication, so floods are cheap to
//! refuse) and one per authenticated client. The buckets live behind the
//! [`RateLimiter`](crate::store::RateLimiter) port: in this process (governor), or in Redis so
//! every instance draws from the same buckets. Both run on the engine's clock, so tests move
//! time instead of sleeping.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Extensions, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::store::{RateLimiter, Scope};

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;

#[derive(Debug)]
pub struct RateLimits {
    limiter: Arc<dyn RateLimiter>,
    /// Whose forwarding headers are believed (`limits.trusted_proxies`).
    proxies: Vec<ipnet::IpNet>,
    /// Whether loopback clients are limited too (`limits.limit_loopback`).
    limit_loopback: bool,
}

impl RateLimits {
    pub fn new(limiter: Arc<dyn RateLimiter>, config: &crate::config::LimitsConfig) -> Self {
        Self {
            limiter,
            proxies: config
                .trusted_proxies
                .iter()
                .filter_map(|p| crate::config::parse_network(p))
                .collect(),
            limit_loopback: config.limit_loopback,
        }
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.proxies.iter().any(|net| net.contains(&ip))
    }

    /// The client a request comes from: the peer, or, when the peer is a trusted proxy, the
    /// nearest address in its forwarding headers that is not a trusted proxy itself (the
    /// ones further left are the client's own word, which anyone can write).
    fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.is_trusted(peer) {
            return peer;
        }
        let mut chain = forwarded_for(headers);
        let mut client = peer;
        while let Some(hop) = chain.pop() {
            client = hop;
            if !self.is_trusted(hop) {
                break;
            }
        }
        client
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

/// The addresses a request was forwarded for, nearest proxy last: `Forwarded: for=…` when
/// present, else `X-Forwarded-For`. Entries that are no address (`unknown`, obfuscated
/// identifiers) end the list there: nothing to their left can be placed.
fn forwarded_for(headers: &HeaderMap) -> Vec<IpAddr> {
    let mut hops = Vec::new();
    let forwarded: Vec<&str> = headers
        .get_all(axum::http::header::FORWARDED)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let entries: Vec<String> = if forwarded.is_empty() {
        headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|s| s.trim().to_owned())
            .collect()
    } else {
        forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (key, value) = pair.trim().split_once('=')?;
                    key.trim()
                        .eq_ignore_ascii_case("for")
                        .then(|| value.trim().trim_matches('"').to_owned())
                })
            })
            .collect()
    };
    for entry in entries {
        match parse_hop(&entry) {
            Some(ip) => hops.push(ip),
            None => hops.clear(),
        }
    }
    hops
}

/// `1.2.3.4`, `1.2.3.4:567`, `[2001:db8::1]:443`, `2001:db8::1`.
fn parse_hop(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(socket) = entry.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    entry
        .strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(ip, _)| ip.parse().ok())
}

/// Per remote address. Requests without a peer address (in-process calls) pass.
pub async fn per_ip(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    if let Err(refused) = check_ip(&state, request.extensions(), request.headers()).await {
        return refused;
    }
    next.run(request).await
}

/// The per-IP check alone: `Err` is the 429 to answer.
pub(super) async fn check_ip(
    state: &AppState,
    extensions: &Extensions,
    headers: &HeaderMap,
) -> Result<(), Response> {
    if let Some(ConnectInfo(peer)) = extensions.get::<ConnectInfo<SocketAddr>>() {
        let limits = &state.limits;
        let ip = limits.client_ip(peer.ip(), headers);
        if ip.is_loopback() && !limits.limit_loopback {
            return Ok(());
        }
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

    use axum::http::HeaderMap;

    use super::RateLimits;

    fn limits(proxies: &[&str]) -> RateLimits {
        let config = crate::config::LimitsConfig {
            trusted_proxies: proxies.iter().map(|p| (*p).to_owned()).collect(),
            ..Default::default()
        };
        RateLimits::new(
            std::sync::Arc::new(crate::store::LocalLimiter::new(
                &config,
                std::sync::Arc::new(crate::clock::ManualClock::at_epoch()),
            )),
            &config,
        )
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn forwarding_headers_count_only_from_trusted_proxies() {
        let limits = limits(&["10.0.0.0/8", "192.0.2.7"]);
        let forwarded = headers(&[("x-forwarded-for", "203.0.113.9, 10.1.2.3")]);
        // From a trusted proxy: the nearest address that is no proxy.
        assert_eq!(
            limits.client_ip(ip("10.0.0.1"), &forwarded),
            ip("203.0.113.9")
        );
        // From anyone else the header is the client's own word.
        assert_eq!(
            limits.client_ip(ip("198.51.100.1"), &forwarded),
            ip("198.51.100.1")
        );
        // A client cannot hide behind an address it writes left of its own.
        let spoofed = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.9")]);
        assert_eq!(
            limits.client_ip(ip("192.0.2.7"), &spoofed),
            ip("203.0.113.9")
        );
        // RFC 7239 wins over X-Forwarded-For, ports and brackets understood.
        let both = headers(&[
            (
                "forwarded",
                "for=\"[2001:db8::5]:4711\";proto=https, for=10.9.9.9",
            ),
            ("x-forwarded-for", "1.1.1.1"),
        ]);
        assert_eq!(limits.client_ip(ip("10.0.0.1"), &both), ip("2001:db8::5"));
        // Nothing that names an address: the proxy itself.
        let unknown = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(limits.client_ip(ip("10.0.0.1"), &unknown), ip("10.0.0.1"));
    }

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
