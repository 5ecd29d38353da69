//! The events of a session, kept for its event stream (`GET /v1/sessions/{id}/events`) so a
//! client that reconnects with the last id it saw misses nothing.
//!
//! A session's log opens when a client first reads it and stays open for `retention` after
//! the last read or event. While it is open every event is kept (at most `buffer`, the oldest
//! dropped first, and a reader that asks for dropped ones is told so); while it is closed only
//! events said through the stream alone are kept, since a turn's answer already went back to
//! the client that sent the message. So a conversation no one streams costs nothing here.
//!
//! Event ids grow within a session and never repeat after its log is forgotten and opened
//! again: a new log starts at the current time in microseconds, past any id the last one gave.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use dashmap::DashMap;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::dialog::reply::SessionEvent;

use super::StoreError;

/// An event as kept: its id in the session's stream and when it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub id: u64,
    pub at: DateTime<Utc>,
    pub event: SessionEvent,
}

/// What a read found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventsAfter {
    /// The events after the id asked for (all kept ones without one), oldest first.
    pub events: Vec<StoredEvent>,
    /// Some events after the id asked for are no longer kept (the buffer moved on, or the
    /// log was forgotten and opened anew): the reader has missed something.
    pub missed: bool,
}

/// How long and how much a log keeps (`sessions.events`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventLimits {
    /// Events kept per session.
    pub buffer: usize,
    /// How long a log stays open after its last read or event.
    pub retention: Duration,
}

#[async_trait]
pub trait EventLog: Send + Sync + std::fmt::Debug {
    /// Keeps `event` if the session's log is open, or if the event is said only through the
    /// stream. Returns its id, `None` when it was not kept.
    async fn append(
        &self,
        session: &str,
        event: &SessionEvent,
        at: DateTime<Utc>,
    ) -> Result<Option<u64>, StoreError>;

    /// Opens the session's log (or keeps it open) and returns what came after `after`.
    async fn read(&self, session: &str, after: Option<u64>) -> Result<EventsAfter, StoreError>;

    /// A receiver that changes when the session may have a new event (it may change without
    /// one; never stays quiet after one, except while the store is unreachable). Take it
    /// before reading, so nothing falls between the read and the wait.
    fn watch(&self, session: &str) -> EventWatch;

    /// Forgets the session's events (the session ended for good).
    async fn forget(&self, session: &str) -> Result<(), StoreError>;

    /// Forgets logs closed longer than their retention.
    async fn sweep(&self) -> Result<(), StoreError>;
}

/// Which sessions this process has readers waiting on, and how to wake them. Shared by the
/// adapters: the memory log wakes them as it appends; the Redis one when Redis says another
/// instance appended.
#[derive(Debug, Default)]
pub struct Watchers {
    sessions: DashMap<String, watch::Sender<u64>>,
}

/// A reader's wake-up signal; dropping the last one of a session stops watching it.
#[derive(Debug)]
pub struct EventWatch {
    receiver: watch::Receiver<u64>,
    session: String,
    watchers: Arc<Watchers>,
}

impl EventWatch {
    /// Waits for the next change. Returns at once if there was one since the last wait.
    pub async fn changed(&mut self) {
        if self.receiver.changed().await.is_err() {
            // The sender went with its entry: nothing will wake this reader any more, so the
            // caller's periodic re-read is all that is left.
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for EventWatch {
    fn drop(&mut self) {
        // The last receiver of a session takes its entry with it (this one still counts).
        self.watchers
            .sessions
            .remove_if(&self.session, |_, sender| sender.receiver_count() <= 1);
    }
}

impl Watchers {
    /// Watches `session`; `true` with it when this process was not watching it before.
    pub fn watch(self: &Arc<Self>, session: &str) -> (EventWatch, bool) {
        let mut first = false;
        let receiver = self
            .sessions
            .entry(session.to_owned())
            .or_insert_with(|| {
                first = true;
                watch::channel(0).0
            })
            .subscribe();
        (
            EventWatch {
                receiver,
                session: session.to_owned(),
                watchers: self.clone(),
            },
            first,
        )
    }

    /// Wakes the readers of `session`, if any.
    pub fn wake(&self, session: &str) {
        if let Some(sender) = self.sessions.get(session) {
            sender.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// Wakes every reader (after the store was unreachable: they read again).
    pub fn wake_all(&self) {
        for sender in &self.sessions {
            sender.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// The sessions watched now.
    pub fn sessions(&self) -> Vec<String> {
        self.sessions.iter().map(|e| e.key().clone()).collect()
    }

    /// Whether `session` is still watched by anyone in this process.
    pub fn is_watched(&self, session: &str) -> bool {
        self.sessions.contains_key(session)
    }
}

/// The first id of a log opened at `now`: its time in microseconds, and past `floor`.
pub(crate) fn first_id(now: DateTime<Utc>, floor: u64) -> u64 {
    u64::try_from(now.timestamp_micros())
        .unwrap_or(0)
        .max(floor)
}

/// The events of `log` after `after`, with whether some were missed. `last` is the newest id
/// the log gave (its first id less one while it gave none).
pub(crate) fn after_id(kept: &[StoredEvent], last: u64, after: Option<u64>) -> EventsAfter {
    let Some(after) = after else {
        return EventsAfter {
            events: kept.to_vec(),
            missed: false,
        };
    };
    if after > last {
        // An id this log never gave: the reader saw an earlier log of the session.
        return EventsAfter {
            events: kept.to_vec(),
            missed: true,
        };
    }
    let events: Vec<StoredEvent> = kept.iter().filter(|e| e.id > after).cloned().collect();
    let first_kept = events.first().map_or(last.saturating_add(1), |e| e.id);
    EventsAfter {
        missed: first_kept > after.saturating_add(1),
        events,
    }
}

/// The in-process log (`sessions.store: memory`).
#[derive(Debug)]
pub struct MemoryEvents {
    logs: DashMap<String, Log>,
    watchers: Arc<Watchers>,
    limits: EventLimits,
    clock: Arc<dyn Clock>,
    /// Past every id given so far: a log opened again starts beyond it.
    floor: AtomicU64,
}

#[derive(Debug)]
struct Log {
    /// The newest id given.
    last: u64,
    events: VecDeque<StoredEvent>,
    touched: DateTime<Utc>,
}

impl MemoryEvents {
    pub fn new(limits: EventLimits, clock: Arc<dyn Clock>) -> Self {
        Self {
            logs: DashMap::new(),
            watchers: Arc::default(),
            limits,
            clock,
            floor: AtomicU64::new(0),
        }
    }

    fn open_log(&self, now: DateTime<Utc>) -> Log {
        let first = first_id(now, self.floor.load(Ordering::Relaxed));
        Log {
            last: first.saturating_sub(1),
            events: VecDeque::new(),
            touched: now,
        }
    }

    fn is_closed(&self, log: &Log, now: DateTime<Utc>) -> bool {
        let retention = TimeDelta::from_std(self.limits.retention).unwrap_or(TimeDelta::MAX);
        log.touched + retention <= now
    }
}

#[async_trait]
impl EventLog for MemoryEvents {
    async fn append(
        &self,
        session: &str,
        event: &SessionEvent,
        at: DateTime<Utc>,
    ) -> Result<Option<u64>, StoreError> {
        if self.limits.buffer == 0 {
            return Ok(None);
        }
        let id = {
            let open = self
                .logs
                .get(session)
                .is_some_and(|log| !self.is_closed(&log, at));
            if !open && !event.is_stream_only() {
                return Ok(None);
            }
            let mut log = self
                .logs
                .entry(session.to_owned())
                .or_insert_with(|| self.open_log(at));
            if self.is_closed(&log, at) {
                *log = self.open_log(at);
            }
            let id = log.last.saturating_add(1);
            log.last = id;
            log.touched = at;
            while log.events.len() >= self.limits.buffer {
                log.events.pop_front();
            }
            log.events.push_back(StoredEvent {
                id,
                at,
                event: event.clone(),
            });
            id
        };
        self.floor
            .fetch_max(id.saturating_add(1), Ordering::Relaxed);
        self.watchers.wake(session);
        Ok(Some(id))
    }

    async fn read(&self, session: &str, after: Option<u64>) -> Result<EventsAfter, StoreError> {
        let now = self.clock.now();
        let mut log = self
            .logs
            .entry(session.to_owned())
            .or_insert_with(|| self.open_log(now));
        if self.is_closed(&log, now) {
            *log = self.open_log(now);
        }
        log.touched = now;
        let kept: Vec<StoredEvent> = log.events.iter().cloned().collect();
        Ok(after_id(&kept, log.last, after))
    }

    fn watch(&self, session: &str) -> EventWatch {
        self.watchers.watch(session).0
    }

    async fn forget(&self, session: &str) -> Result<(), StoreError> {
        self.logs.remove(session);
        self.watchers.wake(session);
        Ok(())
    }

    async fn sweep(&self) -> Result<(), StoreError> {
        let now = self.clock.now();
        self.logs
            .retain(|session, log| !self.is_closed(log, now) || self.watchers.is_watched(session));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::dialog::reply::TurnReply;

    fn turn(n: u32) -> SessionEvent {
        SessionEvent::Turn(TurnReply {
            session_id: "s".into(),
            turn: n,
            dialog: "d".into(),
            dialog_version: 1,
            replies: vec![format!("reply {n}")],
            node: "ask".into(),
            state: crate::dialog::State::Waiting,
            result: None,
            expecting: None,
            choices: Vec::new(),
            with_agent: false,
        })
    }

    fn log(buffer: usize) -> (MemoryEvents, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(
            DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        ));
        let limits = EventLimits {
            buffer,
            retention: Duration::from_secs(60),
        };
        (MemoryEvents::new(limits, clock.clone()), clock)
    }

    fn turns(after: &EventsAfter) -> Vec<u32> {
        after
            .events
            .iter()
            .map(|e| match &e.event {
                SessionEvent::Turn(reply) | SessionEvent::Handback(reply) => reply.turn,
                SessionEvent::UserMessage { .. } | SessionEvent::AgentMessage { .. } => 0,
            })
            .collect()
    }

    #[tokio::test]
    async fn turns_are_kept_only_while_someone_reads() {
        let (events, clock) = log(8);
        let now = clock.now();
        assert_eq!(events.append("s", &turn(1), now).await.unwrap(), None);
        let first = events.read("s", None).await.unwrap();
        assert!(first.events.is_empty() && !first.missed);
        let id = events.append("s", &turn(2), now).await.unwrap().unwrap();
        let read = events.read("s", None).await.unwrap();
        assert_eq!(turns(&read), [2]);
        assert_eq!(read.events[0].id, id);
        assert!(events.read("s", Some(id)).await.unwrap().events.is_empty());
        // Past the retention with no reader, the log is closed again.
        clock.advance(Duration::from_secs(61));
        assert_eq!(
            events.append("s", &turn(3), clock.now()).await.unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn a_reader_behind_the_buffer_is_told_it_missed_some() {
        let (events, clock) = log(2);
        let now = clock.now();
        events.read("s", None).await.unwrap();
        let first = events.append("s", &turn(1), now).await.unwrap().unwrap();
        for n in 2..=4 {
            events.append("s", &turn(n), now).await.unwrap();
        }
        let behind = events.read("s", Some(first)).await.unwrap();
        assert_eq!(turns(&behind), [3, 4]);
        assert!(behind.missed);
        let current = events.read("s", Some(first + 2)).await.unwrap();
        assert_eq!(turns(&current), [4]);
        assert!(!current.missed);
    }

    #[tokio::test]
    async fn ids_do_not_repeat_when_a_log_is_opened_again() {
        let (events, clock) = log(8);
        events.read("s", None).await.unwrap();
        let old = events
            .append("s", &turn(1), clock.now())
            .await
            .unwrap()
            .unwrap();
        events.forget("s").await.unwrap();
        events.read("s", None).await.unwrap();
        let new = events
            .append("s", &turn(1), clock.now())
            .await
            .unwrap()
            .unwrap();
        assert!(new > old);
        // A reader of the forgotten log hears that it missed what the new one holds.
        let read = events.read("s", Some(old + 5)).await.unwrap();
        assert!(read.missed);
        assert_eq!(turns(&read), [1]);
    }

    #[tokio::test]
    async fn a_watch_wakes_on_append_and_goes_with_its_last_reader() {
        let (events, clock) = log(8);
        let mut watch = events.watch("s");
        events.read("s", None).await.unwrap();
        events.append("s", &turn(1), clock.now()).await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), watch.changed())
            .await
            .expect("woken");
        drop(watch);
        assert!(!events.watchers.is_watched("s"));
    }
}
