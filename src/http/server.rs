//! Accepting connections: at most `server.max_connections` served at once, one more answered
//! 503 and closed rather than left waiting, and a graceful stop that lets answers in flight
//! finish.
//!
//! The accept loop is ours, not `axum::serve`'s, because axum's has no connection limits:
//! idle and silent sockets stayed open forever and exhausted the file descriptors
//! (`connection.rs` has the per-connection part).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use super::connection::{self, ConnectionLimits};
use super::{ApiError, AppState, router_with};
use crate::metrics::Metrics;

/// Refused connections lingering at once (see [`linger`]); past it a refused connection is
/// closed as soon as its answer is written.
const REFUSALS_AT_ONCE: usize = 128;
/// How long a refused connection lingers for the client's request to arrive.
const REFUSAL_LINGER: Duration = Duration::from_millis(250);
/// The most of a refused client's request read (and dropped) before closing, so that closing
/// with unread bytes does not reset the connection before the 503 arrives.
const REFUSAL_DRAIN_BYTES: usize = 64 * 1024;
/// The pause after an accept error such as running out of file descriptors, which would
/// otherwise repeat at once.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Serves `state`'s routes on `listener` until `shutdown` resolves, then stops accepting,
/// answers the requests in flight and returns once every connection is closed.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let limits = ConnectionLimits::from_config(&state.app.config.server);
    let metrics = state.app.engine.metrics().clone();
    let router = router_with(state);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let refusals = Arc::new(Semaphore::new(REFUSALS_AT_ONCE));
    let refusal = refusal_bytes();
    let (stop, stopped) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
        };
        // Answers go out in one write each; Nagle's algorithm would only delay them.
        let _ = stream.set_nodelay(true);
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            metrics.connections_refused.fetch_add(1, Ordering::Relaxed);
            // A new socket's send buffer takes the whole answer at once.
            let answered = stream
                .try_write(&refusal)
                .is_ok_and(|written| written == refusal.len());
            if answered && let Ok(permit) = refusals.clone().try_acquire_owned() {
                tokio::spawn(linger(stream, permit));
            }
            continue;
        };
        let task = connection::run(
            stream,
            peer,
            router.clone(),
            limits,
            stopped.clone(),
            metrics.clone(),
        );
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let _open = OpenConnection::new(metrics, slot);
            task.await;
        });
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection holds a slot until it ends: having them all back means all ended.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
}

/// Descriptors kept free beyond `max_connections`: the listener, Redis, SendGrid, dialog
/// files, logs, and the sockets of refused connections while they are answered.
const SPARE_DESCRIPTORS: u64 = 256;

/// Raises the process's open-file limit (the soft one, up to the hard one) so that
/// `max_connections` connections fit, as Go's runtime does at start; warns when it cannot,
/// since running out of descriptors stops the server from answering anyone.
pub fn fit_open_file_limit(max_connections: usize) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let wanted = u64::try_from(max_connections)
        .unwrap_or(u64::MAX)
        .saturating_add(SPARE_DESCRIPTORS);
    let limit = getrlimit(Resource::Nofile);
    let Some(current) = limit.current else {
        return; // unlimited
    };
    if current >= wanted {
        return;
    }
    let raised = limit.maximum.map_or(wanted, |maximum| maximum.min(wanted));
    if raised > current
        && setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(raised),
                maximum: limit.maximum,
            },
        )
        .is_ok()
    {
        tracing::info!(from = current, to = raised, "raised the open-file limit");
    }
    let now = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    if now < wanted {
        tracing::warn!(
            open_file_limit = now,
            max_connections,
            "the open-file limit is too low for server.max_connections: lower max_connections or raise the limit (ulimit -n, LimitNOFILE)"
        );
    }
}

/// A served connection: counted open, holding its slot, until dropped.
struct OpenConnection {
    metrics: Arc<Metrics>,
    _slot: OwnedSemaphorePermit,
}

impl OpenConnection {
    fn new(metrics: Arc<Metrics>, slot: OwnedSemaphorePermit) -> Self {
        metrics.connections_open.fetch_add(1, Ordering::Relaxed);
        Self {
            metrics,
            _slot: slot,
        }
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.metrics
            .connections_open
            .fetch_sub(1, Ordering::Relaxed);
    }
}

/// The whole answer to a connection over the limit: 503 `too_many_connections`, JSON like
/// every other error, and `Connection: close`.
fn refusal_bytes() -> Vec<u8> {
    let error = ApiError::TooManyConnections;
    let body = error.json_text();
    let status = StatusCode::SERVICE_UNAVAILABLE;
    format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        status.as_u16(),
        status.canonical_reason().unwrap_or_default(),
        body.len()
    )
    .into_bytes()
}

/// Closes a refused connection whose answer is written, after reading what the client sends
/// meanwhile: closing a socket with unread bytes resets it, and a reset can reach the client
/// before it read the 503.
async fn linger(mut stream: TcpStream, _permit: OwnedSemaphorePermit) {
    let drain = async {
        stream.shutdown().await?;
        let mut sink = [0_u8; 4096];
        let mut drained = 0;
        while drained < REFUSAL_DRAIN_BYTES {
            match stream.read(&mut sink).await? {
                0 => break,
                read => drained += read,
            }
        }
        Ok::<(), std::io::Error>(())
    };
    let _ = tokio::time::timeout(REFUSAL_LINGER, drain).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_a_complete_http_answer_with_a_json_error() {
        let text = String::from_utf8(refusal_bytes()).unwrap_or_default();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or_default();
        assert!(
            head.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
            "{head}"
        );
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        assert_eq!(json["error"]["code"], "too_many_connections");
    }
}
