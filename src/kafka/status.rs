//! Where the listener stands, for `/healthz`: written by the listener, read by the handler.

use std::sync::Mutex;

use serde::Serialize;

/// The listener's state as `/healthz` shows it under `kafka`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Started, not yet in touch with the broker.
    Starting,
    /// The broker answers; requests are consumed.
    Connected,
    /// The broker does not answer; the listener retries with backoff and loses nothing
    /// (offsets are committed only after each reply went out).
    Unreachable,
    /// Shut down.
    Stopped,
}

/// Shared by the listener and `/healthz`. A std mutex: held for a copy, never across an
/// `.await`.
#[derive(Debug)]
pub struct Status {
    inner: Mutex<Snapshot>,
}

/// A copy of the status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    pub state: State,
    /// Requests answered since start (redeliveries included).
    pub answered: u64,
    /// Requests sent to the dead-letter topic since start.
    pub dead_lettered: u64,
}

impl Default for Status {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Snapshot {
                state: State::Starting,
                answered: 0,
                dead_lettered: 0,
            }),
        }
    }
}

impl Status {
    pub fn snapshot(&self) -> Snapshot {
        *self.lock()
    }

    pub fn set(&self, state: State) {
        let mut inner = self.lock();
        if inner.state != state {
            tracing::info!(from = ?inner.state, to = ?state, "kafka: listener state");
        }
        inner.state = state;
    }

    pub fn answered(&self) {
        self.lock().answered += 1;
    }

    pub fn dead_lettered(&self) {
        self.lock().dead_lettered += 1;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Snapshot> {
        // A panic while holding it cannot leave a snapshot half-written: take it as it is.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
