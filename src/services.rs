//! The HTTP services dialogs call with `http.request`, each known by name from `services:`.
//!
//! Owns: one client per service (its base URL, default headers with secrets marked sensitive,
//! no redirects, no proxy for a loopback host), one deadline per call that covers every
//! attempt and the reading of the answer, retries of idempotent requests the node asked for
//! (connection failures, 502, 503, 504), and answers read only up to the service's size limit.
//!
//! Must not: log a path, a query, a header value or a body (they carry what users typed and
//! the service's credentials); follow a redirect (a service could send the request, headers
//! and all, elsewhere); interpret the answer (the engine maps it onto the dialog's outcomes).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::Url;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use secrecy::ExposeSecret;

use crate::config::ServiceConfig;
use crate::dialog::actions::http_request::Method;
use crate::metrics::Metrics;
use crate::net::is_loopback;

/// The first pause between attempts; each retry doubles it.
const BACKOFF_BASE: Duration = Duration::from_millis(50);

/// Why the services cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum ServiceSetupError {
    #[error("`services.{service}.base_url` {why}: `{url}`")]
    BaseUrl {
        service: String,
        url: String,
        why: &'static str,
    },
    #[error(
        "`services.{service}.headers`: `{header}` is not a valid header name or its value is not a valid header value"
    )]
    Header { service: String, header: String },
    #[error("`services.{service}`: cannot build its HTTP client: {source}")]
    Client {
        service: String,
        source: reqwest::Error,
    },
}

/// One request, rendered by the dialog.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: Method,
    /// Percent-encoded; appended to the base URL.
    pub path: &'a str,
    pub query: &'a [(String, String)],
    pub headers: &'a [(String, String)],
    pub body: Option<&'a serde_json::Value>,
    /// Shortens the service's timeout.
    pub timeout: Option<Duration>,
    /// Attempts after the first (the dialog allows them for idempotent methods only).
    pub retries: u8,
}

/// What came of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exchange {
    /// The service answered; the body was read whole.
    Answered { status: u16, body: Vec<u8> },
    /// The answer was larger than `max_response_bytes`.
    TooLarge { status: u16 },
    /// No whole answer before the deadline.
    TimedOut,
    /// No connection, or it broke before an answer (refused, DNS, TLS, reset).
    Unreachable,
    /// The request could not be built: a header a user's value made invalid, a path that
    /// does not join the base URL. The dialog was checked, so this is rare.
    Invalid,
}

impl Exchange {
    /// The `colloquy_service_requests_total` label.
    fn label(&self) -> &'static str {
        match self {
            Exchange::Answered { status, .. } if (200..300).contains(status) => "2xx",
            Exchange::Answered { status, .. } if *status >= 500 => "5xx",
            Exchange::Answered { .. } => "4xx",
            Exchange::TooLarge { .. } => "too_large",
            Exchange::TimedOut => "timeout",
            Exchange::Unreachable => "unreachable",
            Exchange::Invalid => "invalid_request",
        }
    }
}

struct Service {
    client: reqwest::Client,
    base: Url,
    timeout: Duration,
    max_response_bytes: usize,
}

/// Calls the services dialogs name. The engine's port: [`Services`] over HTTP, or answers
/// a conversation script gives (`colloquy test`).
#[async_trait]
pub trait ServiceCaller: Send + Sync + fmt::Debug {
    /// Calls `service`. Never fails: every problem is an [`Exchange`].
    async fn call(&self, service: &str, request: Request<'_>) -> Exchange;
}

/// Every configured service, over HTTP.
pub struct Services {
    by_name: BTreeMap<String, Service>,
    metrics: Arc<Metrics>,
}

impl fmt::Debug for Services {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Services")
            .field("names", &self.by_name.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Services {
    pub fn new(
        config: &BTreeMap<String, ServiceConfig>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, ServiceSetupError> {
        let mut by_name = BTreeMap::new();
        for (name, service) in config {
            by_name.insert(name.clone(), Service::new(name, service)?);
        }
        Ok(Self { by_name, metrics })
    }
}

#[async_trait]
impl ServiceCaller for Services {
    async fn call(&self, service: &str, request: Request<'_>) -> Exchange {
        let Some(target) = self.by_name.get(service) else {
            // The dialog was loaded against this configuration; a reload may have raced.
            tracing::error!(
                service,
                "http.request names a service that is not configured"
            );
            return Exchange::Invalid;
        };
        let started = Instant::now();
        // A node may shorten the service's timeout, not lengthen it: the operator's bound holds.
        let timeout = request
            .timeout
            .map_or(target.timeout, |t| t.min(target.timeout));
        let deadline = started + timeout;
        let mut attempt: u32 = 0;
        let exchange = loop {
            let exchange = match target.build(&request) {
                Some(built) => target.attempt(built, deadline).await,
                None => break Exchange::Invalid,
            };
            let retryable = matches!(
                exchange,
                Exchange::Unreachable
                    | Exchange::Answered {
                        status: 502..=504,
                        ..
                    }
            );
            let pause = BACKOFF_BASE * 2u32.saturating_pow(attempt);
            if !retryable
                || attempt >= u32::from(request.retries)
                || Instant::now() + pause >= deadline
            {
                break exchange;
            }
            tracing::info!(
                service,
                attempt = attempt + 1,
                outcome = exchange.label(),
                "service call failed; trying again"
            );
            tokio::time::sleep(pause).await;
            attempt += 1;
        };
        let elapsed = started.elapsed();
        self.metrics
            .service_requests
            .inc(&[("service", service), ("outcome", exchange.label())]);
        self.metrics.service_latency.observe(elapsed);
        tracing::info!(
            service,
            method = request.method.as_str(),
            outcome = exchange.label(),
            attempts = attempt + 1,
            elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            "service call"
        );
        exchange
    }
}

impl Service {
    fn new(name: &str, config: &ServiceConfig) -> Result<Self, ServiceSetupError> {
        let base = base_url(&config.base_url).map_err(|why| ServiceSetupError::BaseUrl {
            service: name.to_owned(),
            url: config.base_url.clone(),
            why,
        })?;
        let mut headers = HeaderMap::new();
        for (header, value) in &config.headers {
            let invalid = || ServiceSetupError::Header {
                service: name.to_owned(),
                header: header.clone(),
            };
            let header_name = HeaderName::from_bytes(header.as_bytes()).map_err(|_| invalid())?;
            let mut header_value =
                HeaderValue::from_str(value.expose().expose_secret()).map_err(|_| invalid())?;
            // Configured values are credentials more often than not: keep them out of any
            // debug output.
            header_value.set_sensitive(true);
            headers.insert(header_name, header_value);
        }
        let mut client = reqwest::Client::builder()
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none());
        if is_loopback(&base) {
            client = client.no_proxy();
        }
        let client = client.build().map_err(|source| ServiceSetupError::Client {
            service: name.to_owned(),
            source,
        })?;
        Ok(Self {
            client,
            base,
            timeout: config.timeout,
            max_response_bytes: config.max_response_bytes,
        })
    }

    fn build(&self, request: &Request<'_>) -> Option<reqwest::RequestBuilder> {
        let joined = format!(
            "{}{}",
            self.base.as_str().trim_end_matches('/'),
            request.path
        );
        let mut url = Url::parse(&joined).ok()?;
        if !request.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (name, value) in request.query {
                pairs.append_pair(name, value);
            }
        }
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut builder = self.client.request(method, url);
        for (name, value) in request.headers {
            let name = HeaderName::from_bytes(name.as_bytes()).ok()?;
            let value = HeaderValue::from_str(value).ok()?;
            builder = builder.header(name, value);
        }
        builder = builder.header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = request.body {
            let bytes = serde_json::to_vec(body).ok()?;
            builder = builder.header(CONTENT_TYPE, "application/json").body(bytes);
        }
        Some(builder)
    }

    /// One attempt, answer read whole, all before `deadline`.
    async fn attempt(&self, request: reqwest::RequestBuilder, deadline: Instant) -> Exchange {
        let limit = self.max_response_bytes;
        let work = async move {
            let mut response = match request.send().await {
                Ok(response) => response,
                Err(error) if error.is_timeout() => return Exchange::TimedOut,
                Err(_) => return Exchange::Unreachable,
            };
            let status = response.status().as_u16();
            if response
                .content_length()
                .is_some_and(|length| length > limit as u64)
            {
                return Exchange::TooLarge { status };
            }
            let mut body = Vec::new();
            loop {
                match response.chunk().await {
                    Ok(Some(chunk)) => {
                        if body.len() + chunk.len() > limit {
                            return Exchange::TooLarge { status };
                        }
                        body.extend_from_slice(&chunk);
                    }
                    Ok(None) => return Exchange::Answered { status, body },
                    Err(_) => return Exchange::Unreachable,
                }
            }
        };
        let left = deadline.saturating_duration_since(Instant::now());
        tokio::time::timeout(left, work)
            .await
            .unwrap_or(Exchange::TimedOut)
    }
}

/// `http(s)://host[:port][/path]`, nothing else.
fn base_url(text: &str) -> Result<Url, &'static str> {
    let url = Url::parse(text.trim()).map_err(|_| "is not a URL")?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http or https URL");
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no host");
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("cannot have a query or fragment (a request adds its own `query`)");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("cannot hold credentials: put them in `headers`, as `env:NAME`");
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_plain_http_locations() {
        assert!(base_url("https://bookings.example.com/api").is_ok());
        assert!(base_url("http://127.0.0.1:9000").is_ok());
        for bad in [
            "bookings.example.com",
            "ftp://example.com",
            "https://example.com/api?key=1",
            "https://user:pass@example.com",
            "https://example.com/#x",
        ] {
            assert!(base_url(bad).is_err(), "{bad}");
        }
    }
}
