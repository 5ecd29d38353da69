//! One client connection: HTTP/1.1 through hyper, with the limits hyper does not keep.
//!
//! hyper 1.x offers one timer, `header_read_timeout`, which runs from the moment a connection
//! goes idle until the next request's headers are complete: the idle wait and the header read
//! share one bound, and a body may trickle in forever. So each connection here has a
//! watchdog of its own, sharing one [`Activity`] record with the socket wrapper and the
//! service:
//!
//! - a new connection has `header_read_timeout` to deliver its first request's headers;
//! - once a request was answered, the connection may sit idle for `idle_timeout`, and from the
//!   first byte of its next request has `header_read_timeout` again for the headers;
//! - a request's body has `body_read_timeout` from its headers to its last byte
//!   ([`DeadlineBody`]); past it the handler answers 408 and the connection closes;
//! - while a request is being handled there is no deadline: the turn's own timeouts bound it.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};
use tower_service::Service;

use crate::config::ServerConfig;
use crate::metrics::Metrics;

/// The connection-level limits, from `server:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

impl ConnectionLimits {
    pub fn from_config(server: &ServerConfig) -> Self {
        Self {
            header_read_timeout: server.header_read_timeout,
            body_read_timeout: server.body_read_timeout,
            idle_timeout: server.idle_timeout,
            max_connections: server.max_connections,
        }
    }
}

/// Why the watchdog closed a connection (the `reason` label of
/// `colloquy_connections_closed_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// A request's headers did not arrive in time (or a new connection sent nothing).
    HeaderTimeout,
    /// A keep-alive connection waited too long for its next request.
    IdleTimeout,
}

impl Expiry {
    pub fn label(self) -> &'static str {
        match self {
            Expiry::HeaderTimeout => "header_timeout",
            Expiry::IdleTimeout => "idle_timeout",
        }
    }
}

/// What a connection has been doing, in milliseconds since it was accepted. Written by the
/// socket wrapper and the service, read by the watchdog; all on the connection's one task,
/// so relaxed atomics suffice (they are atomics because hyper wants the parts `Send`).
#[derive(Debug)]
struct Activity {
    accepted: Instant,
    /// Requests whose answer is not yet handed to hyper.
    in_flight: AtomicU32,
    /// Requests received so far.
    requests: AtomicU64,
    /// When the first byte after the connection went idle was read, plus one; 0: none yet.
    head_started: AtomicU64,
    /// The last write, or the last request's answer, whichever came later.
    last_active: AtomicU64,
}

/// A copy of [`Activity`] at one instant, for [`deadline`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Snapshot {
    in_flight: u32,
    requests: u64,
    head_started: Option<u64>,
    last_active: u64,
}

impl Activity {
    fn new() -> Self {
        Self {
            accepted: Instant::now(),
            in_flight: AtomicU32::new(0),
            requests: AtomicU64::new(0),
            head_started: AtomicU64::new(0),
            last_active: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.accepted.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn at(&self, millis: u64) -> Instant {
        self.accepted + Duration::from_millis(millis)
    }

    fn bytes_read(&self) {
        if self.in_flight.load(Ordering::Relaxed) == 0
            && self.head_started.load(Ordering::Relaxed) == 0
        {
            self.head_started.store(self.now() + 1, Ordering::Relaxed);
        }
    }

    fn bytes_written(&self) {
        self.last_active.store(self.now(), Ordering::Relaxed);
    }

    fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.head_started.store(0, Ordering::Relaxed);
    }

    fn request_answered(&self) {
        self.last_active.store(self.now(), Ordering::Relaxed);
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> Snapshot {
        let head_started = self.head_started.load(Ordering::Relaxed);
        Snapshot {
            in_flight: self.in_flight.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            head_started: head_started.checked_sub(1),
            last_active: self.last_active.load(Ordering::Relaxed),
        }
    }
}

/// When a connection in state `now` expires, and why; `None` while a request is handled.
fn deadline(now: Snapshot, limits: &ConnectionLimits) -> Option<(u64, Expiry)> {
    let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    if now.in_flight > 0 {
        return None;
    }
    if let Some(started) = now.head_started {
        let at = started.saturating_add(millis(limits.header_read_timeout));
        return Some((at, Expiry::HeaderTimeout));
    }
    if now.requests == 0 {
        // A client connects to send a request: a silent new connection gets no idle grace.
        return Some((millis(limits.header_read_timeout), Expiry::HeaderTimeout));
    }
    let at = now.last_active.saturating_add(millis(limits.idle_timeout));
    Some((at, Expiry::IdleTimeout))
}

/// Serves one connection until the client closes it, it expires, or `stop` turns true (then
/// the request in flight is answered and the connection closed).
pub(super) async fn run(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
    metrics: Arc<Metrics>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        stream,
        activity: activity.clone(),
    });
    let service = ConnectionService {
        router,
        peer,
        activity: activity.clone(),
        body_read_timeout: limits.body_read_timeout,
    };
    // hyper's own header timer would also cut the idle wait short: the watchdog keeps both.
    let connection = hyper::server::conn::http1::Builder::new()
        .header_read_timeout(None)
        .serve_connection(io, service);
    tokio::pin!(connection);
    // While a request is handled, look again after the shorter of the two waits.
    let recheck = limits.header_read_timeout.min(limits.idle_timeout);
    let watchdog = tokio::time::sleep(limits.header_read_timeout);
    tokio::pin!(watchdog);
    let mut stopping = *stop.borrow();
    if stopping {
        connection.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, %peer, "connection ended with an error");
                }
                return;
            }
            changed = stop.changed(), if !stopping => {
                stopping = true;
                if changed.is_ok() {
                    connection.as_mut().graceful_shutdown();
                }
            }
            () = watchdog.as_mut() => {
                match deadline(activity.snapshot(), &limits) {
                    Some((at, expiry)) if at <= activity.now() => {
                        tracing::debug!(%peer, reason = expiry.label(), "connection closed");
                        metrics.connections_closed.inc(&[("reason", expiry.label())]);
                        return;
                    }
                    Some((at, _)) => watchdog.as_mut().reset(activity.at(at)),
                    None => watchdog.as_mut().reset(Instant::now() + recheck),
                }
            }
        }
    }
}

/// The socket, telling [`Activity`] when bytes move.
#[derive(Debug)]
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.stream).poll_read(cx, buf))?;
        if buf.filled().len() > before {
            self.activity.bytes_read();
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = ready!(Pin::new(&mut self.stream).poll_write(cx, buf))?;
        self.activity.bytes_written();
        Poll::Ready(Ok(written))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = ready!(Pin::new(&mut self.stream).poll_write_vectored(cx, bufs))?;
        self.activity.bytes_written();
        Poll::Ready(Ok(written))
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The router, as hyper calls it for each request of one connection: adds the peer address
/// (the per-IP limit reads it), puts the body under its deadline, and tells [`Activity`] when
/// a request starts and when its answer is ready.
#[derive(Debug, Clone)]
struct ConnectionService {
    router: Router,
    peer: SocketAddr,
    activity: Arc<Activity>,
    body_read_timeout: Duration,
}

impl hyper::service::Service<Request<Incoming>> for ConnectionService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Answer;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        self.activity.request_started();
        let in_flight = InFlight(self.activity.clone());
        let (mut parts, incoming) = request.into_parts();
        parts.extensions.insert(ConnectInfo(self.peer));
        let body = if http_body::Body::is_end_stream(&incoming) {
            Body::new(incoming)
        } else {
            Body::new(DeadlineBody {
                body: incoming,
                deadline: tokio::time::sleep(self.body_read_timeout),
            })
        };
        let future = self.router.clone().call(Request::from_parts(parts, body));
        Answer {
            future,
            in_flight: Some(in_flight),
        }
    }
}

/// Marks a request answered when dropped, however its future ends.
#[derive(Debug)]
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_answered();
    }
}

pin_project! {
    /// The router's answer to one request.
    struct Answer {
        #[pin]
        future: axum::routing::future::RouteFuture<Infallible>,
        in_flight: Option<InFlight>,
    }
}

impl Future for Answer {
    type Output = Result<Response<Body>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let answer = ready!(this.future.poll(cx));
        this.in_flight.take();
        Poll::Ready(answer)
    }
}

/// The error a body read past `server.body_read_timeout` fails with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyTimedOut;

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body did not arrive in time")
    }
}

impl std::error::Error for BodyTimedOut {}

/// Whether `error`, or anything it was caused by, is a [`BodyTimedOut`].
pub fn is_body_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error.is::<BodyTimedOut>() {
            return true;
        }
        cause = error.source();
    }
    false
}

pin_project! {
    /// A request body that fails with [`BodyTimedOut`] unless it ends by its deadline: a
    /// total bound, not one between frames, so a client dripping a byte at a time cannot
    /// hold the connection either.
    struct DeadlineBody {
        #[pin]
        body: Incoming,
        #[pin]
        deadline: Sleep,
    }
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        if let Poll::Ready(frame) = this.body.poll_frame(cx) {
            return Poll::Ready(frame.map(|frame| frame.map_err(axum::BoxError::from)));
        }
        ready!(this.deadline.poll(cx));
        Poll::Ready(Some(Err(Box::new(BodyTimedOut))))
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ConnectionLimits = ConnectionLimits {
        header_read_timeout: Duration::from_secs(10),
        body_read_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(60),
        max_connections: 16,
    };

    fn state(
        in_flight: u32,
        requests: u64,
        head_started: Option<u64>,
        last_active: u64,
    ) -> Snapshot {
        Snapshot {
            in_flight,
            requests,
            head_started,
            last_active,
        }
    }

    #[test]
    fn a_new_connection_must_send_its_headers_within_the_header_timeout() {
        assert_eq!(
            deadline(state(0, 0, None, 0), &LIMITS),
            Some((10_000, Expiry::HeaderTimeout))
        );
        assert_eq!(
            deadline(state(0, 0, Some(4_000), 0), &LIMITS),
            Some((14_000, Expiry::HeaderTimeout)),
            "the first byte starts the header clock"
        );
    }

    #[test]
    fn a_request_being_handled_has_no_connection_deadline() {
        assert_eq!(deadline(state(1, 1, None, 0), &LIMITS), None);
        assert_eq!(deadline(state(1, 3, Some(5), 0), &LIMITS), None);
    }

    #[test]
    fn an_answered_connection_may_idle_then_has_the_header_timeout_for_its_next_request() {
        assert_eq!(
            deadline(state(0, 1, None, 2_000), &LIMITS),
            Some((62_000, Expiry::IdleTimeout))
        );
        assert_eq!(
            deadline(state(0, 1, Some(50_000), 2_000), &LIMITS),
            Some((60_000, Expiry::HeaderTimeout))
        );
    }

    #[test]
    fn activity_tracks_requests_and_the_first_byte_of_the_next_one() {
        let activity = Activity::new();
        activity.bytes_read();
        assert!(activity.snapshot().head_started.is_some());
        activity.request_started();
        activity.bytes_read(); // the body, read while the request is handled
        let handled = activity.snapshot();
        assert_eq!((handled.in_flight, handled.head_started), (1, None));
        activity.request_answered();
        let idle = activity.snapshot();
        assert_eq!(
            (idle.in_flight, idle.requests, idle.head_started),
            (0, 1, None)
        );
        activity.bytes_read();
        assert!(activity.snapshot().head_started.is_some());
    }

    #[test]
    fn a_body_timeout_is_found_behind_the_errors_that_wrap_it() {
        let wrapped = axum::Error::new(BodyTimedOut);
        assert!(is_body_timeout(&wrapped));
        let other = axum::Error::new(io::Error::other("reset"));
        assert!(!is_body_timeout(&other));
    }
}
