//! [`EventLog`] in Redis: a session's events in a stream (`events:{ID}`, entry ids
//! `<event id>-1`, at most `buffer` kept) beside the log's last id (`events-last:{ID}`), both
//! expiring `retention` after the last read or event. Appending publishes the id on the
//! channel `events:{ID}`; each instance keeps one subscriber connection, subscribed to the
//! channels of the sessions its readers watch, and wakes them. Readers also read again on
//! their own every few seconds, so a wake-up lost while that connection reconnects costs
//! only that delay.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::clock::Clock;
use crate::dialog::reply::SessionEvent;
use crate::store::events::{after_id, first_id};
use crate::store::{
    EventLimits, EventLog, EventWatch, EventsAfter, StoreError, StoredEvent, Watchers,
};

use super::{RedisPool, format, millis_of, scripts, unreadable};

/// How often the subscriber drops channels no reader watches any more.
const TIDY_EVERY: Duration = Duration::from_secs(30);
const LONGEST_BACKOFF: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct RedisEvents {
    pool: Arc<RedisPool>,
    watchers: Arc<Watchers>,
    limits: EventLimits,
    clock: Arc<dyn Clock>,
    /// Nudges the subscriber task (started on the first watch) to subscribe to new sessions.
    subscriber: OnceLock<mpsc::UnboundedSender<()>>,
}

/// A stream entry as `XRANGE` gives it: its id and its fields.
type Entry = (String, Vec<String>);

impl RedisEvents {
    pub fn new(pool: Arc<RedisPool>, limits: EventLimits, clock: Arc<dyn Clock>) -> Self {
        Self {
            pool,
            watchers: Arc::default(),
            limits,
            clock,
            subscriber: OnceLock::new(),
        }
    }

    fn keys(&self, session: &str) -> [String; 2] {
        [
            self.pool.key(&format!("events-last:{{{session}}}")),
            self.pool.key(&format!("events:{{{session}}}")),
        ]
    }

    fn before_first(&self) -> String {
        first_id(self.clock.now(), 0).saturating_sub(1).to_string()
    }

    fn retention_ms(&self) -> i64 {
        millis_of(self.limits.retention).max(1)
    }

    async fn read_once(
        &self,
        session: &str,
        after: Option<u64>,
    ) -> Result<(u64, Vec<StoredEvent>), StoreError> {
        let [last_key, stream] = self.keys(session);
        let (last, entries): (String, Vec<Entry>) = self
            .pool
            .script(
                scripts::READ_EVENTS
                    .key(&last_key)
                    .key(&stream)
                    .arg(self.before_first())
                    .arg(after.map(|id| id.to_string()).unwrap_or_default())
                    .arg(self.retention_ms()),
            )
            .await?;
        let last = last
            .parse::<u64>()
            .map_err(|_| StoreError::Unavailable("an event log's last id is no number".into()))?;
        let mut events = Vec::with_capacity(entries.len());
        for (entry_id, fields) in entries {
            let id = entry_id
                .split_once('-')
                .and_then(|(id, _)| id.parse::<u64>().ok())
                .ok_or_else(|| StoreError::Unavailable("an event's id is no number".into()))?;
            let Some(doc) = fields.get(1) else {
                continue;
            };
            let (event, at) =
                format::decode_event(doc).map_err(|error| unreadable("event", &error))?;
            events.push(StoredEvent { id, at, event });
        }
        Ok((last, events))
    }

    /// Starts the subscriber on the first watch, then tells it there may be a new session.
    fn nudge_subscriber(&self) {
        let sender = self.subscriber.get_or_init(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            tokio::spawn(subscribe(
                self.pool.clone(),
                self.watchers.clone(),
                receiver,
            ));
            sender
        });
        // The task runs as long as the process: a send fails only at shutdown.
        let _ = sender.send(());
    }
}

/// The keys and arguments of the `append_event` script (see `scripts::APPEND_EVENT_FN`).
pub(super) struct AppendArgs {
    keys: [String; 2],
    stream_only: bool,
    before_first: String,
    doc: String,
    buffer: usize,
    retention_ms: i64,
}

impl AppendArgs {
    /// Adds the two keys and six arguments, in the order `append_event` reads them.
    pub(super) fn add_to(&self, invocation: &mut redis::ScriptInvocation<'_>) {
        let [last_key, stream] = &self.keys;
        invocation
            .key(last_key)
            .key(stream)
            .arg(if self.stream_only { "1" } else { "0" })
            .arg(&self.before_first)
            .arg(&self.doc)
            .arg(self.buffer)
            .arg(self.retention_ms)
            .arg(stream);
    }
}

impl RedisEvents {
    /// What appending `event` to `session`'s stream takes; `None` when no event is kept
    /// (`sessions.events.buffer: 0`).
    pub(super) fn append_args(
        &self,
        session: &str,
        event: &SessionEvent,
        at: DateTime<Utc>,
    ) -> Result<Option<AppendArgs>, StoreError> {
        if self.limits.buffer == 0 {
            return Ok(None);
        }
        let doc = format::encode_event(event, at).map_err(|error| {
            StoreError::Unavailable(format!("an event cannot be stored: {error}"))
        })?;
        Ok(Some(AppendArgs {
            keys: self.keys(session),
            stream_only: event.is_stream_only(),
            before_first: first_id(at, 0).saturating_sub(1).to_string(),
            doc,
            buffer: self.limits.buffer,
            retention_ms: self.retention_ms(),
        }))
    }

    /// After an event was kept: readers here hear it at once; Redis tells the other
    /// instances' readers.
    pub(super) fn appended(&self, session: &str) {
        self.watchers.wake(session);
    }
}

#[async_trait]
impl EventLog for RedisEvents {
    async fn append(
        &self,
        session: &str,
        event: &SessionEvent,
        at: DateTime<Utc>,
    ) -> Result<Option<u64>, StoreError> {
        let Some(append) = self.append_args(session, event, at)? else {
            return Ok(None);
        };
        let mut invocation = scripts::APPEND_EVENT.prepare_invoke();
        append.add_to(&mut invocation);
        let id: u64 = self.pool.script(&invocation).await?;
        if id == 0 {
            return Ok(None);
        }
        self.appended(session);
        Ok(Some(id))
    }

    async fn read(&self, session: &str, after: Option<u64>) -> Result<EventsAfter, StoreError> {
        let (last, kept) = self.read_once(session, after).await?;
        if after.is_some_and(|after| after > last) {
            // An id this log never gave: the reader saw an earlier log; it gets all kept.
            let (last, kept) = self.read_once(session, None).await?;
            return Ok(after_id(&kept, last, after));
        }
        // `kept` holds only what follows `after`; whether some were dropped shows in its
        // first id (or, with none kept, in the last id given).
        Ok(match after {
            None => EventsAfter {
                events: kept,
                missed: false,
            },
            Some(after) => {
                let first = kept.first().map_or(last.saturating_add(1), |e| e.id);
                EventsAfter {
                    missed: first > after.saturating_add(1),
                    events: kept,
                }
            }
        })
    }

    fn watch(&self, session: &str) -> EventWatch {
        let (watch, first) = self.watchers.watch(session);
        if first {
            self.nudge_subscriber();
        }
        watch
    }

    async fn forget(&self, session: &str) -> Result<(), StoreError> {
        let [last_key, stream] = self.keys(session);
        self.pool
            .command::<()>(redis::cmd("DEL").arg(&last_key).arg(&stream))
            .await?;
        self.watchers.wake(session);
        Ok(())
    }

    async fn sweep(&self) -> Result<(), StoreError> {
        // Redis expires both keys by itself.
        Ok(())
    }
}

/// The session id in a channel name `<prefix>events:{ID}`.
fn session_of(channel: &str) -> Option<&str> {
    let (_, rest) = channel.split_once("events:{")?;
    rest.strip_suffix('}')
}

/// The subscriber: one connection per process, subscribed to the channels of the sessions
/// watched here. After each (re)connection every reader reads again, in case it missed a
/// wake-up meanwhile.
async fn subscribe(
    pool: Arc<RedisPool>,
    watchers: Arc<Watchers>,
    mut nudges: mpsc::UnboundedReceiver<()>,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let pubsub = match pool.pubsub().await {
            Ok(pubsub) => pubsub,
            Err(error) => {
                tracing::warn!(%error, "event streams: cannot listen to Redis; readers poll until it answers");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(LONGEST_BACKOFF);
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        let (mut sink, mut messages) = pubsub.split();
        let mut subscribed: HashSet<String> = HashSet::new();
        watchers.wake_all();
        'connected: loop {
            let wanted: HashSet<String> = watchers
                .sessions()
                .into_iter()
                .map(|session| pool.key(&format!("events:{{{session}}}")))
                .collect();
            let new: Vec<&String> = wanted.difference(&subscribed).collect();
            let gone: Vec<&String> = subscribed.difference(&wanted).collect();
            if (!new.is_empty() && sink.subscribe(&new).await.is_err())
                || (!gone.is_empty() && sink.unsubscribe(&gone).await.is_err())
            {
                break 'connected;
            }
            if !new.is_empty() {
                // A wake-up published before the subscription took hold is lost: read again.
                for channel in &new {
                    if let Some(session) = session_of(channel) {
                        watchers.wake(session);
                    }
                }
            }
            subscribed = wanted;
            tokio::select! {
                message = messages.next() => match message {
                    Some(message) => {
                        if let Some(session) = session_of(message.get_channel_name()) {
                            watchers.wake(session);
                        }
                    }
                    None => break 'connected,
                },
                nudge = nudges.recv() => {
                    if nudge.is_none() {
                        return;
                    }
                }
                () = tokio::time::sleep(TIDY_EVERY) => {}
            }
        }
        tracing::warn!("event streams: the Redis subscription was lost; reconnecting");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_name_their_session() {
        assert_eq!(session_of("colloquy:events:{w-1}"), Some("w-1"));
        assert_eq!(session_of("p:events:{a{b}}"), Some("a{b}"));
        assert_eq!(session_of("colloquy:other"), None);
    }
}
