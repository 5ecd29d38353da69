//! The in-process store: a sharded concurrent map, an idle TTL, and a sweeper.
//!
//! Each session is kept as one compact record (`codec.rs`): its version, its last update,
//! the session and its idempotency records in a single allocation, keyed by the session id.
//! A million idle sessions fit in about half a GiB (BENCHMARKS.md).
//!
//! Memory is bounded in bytes, not only in sessions: a record may take at most
//! `max_session_bytes` (older idempotency records, then the oldest transcript lines, go first;
//! a session still too large is refused), and all records together at most `max_bytes`.
//! Making room evicts the sessions least worth keeping first: ended ones, then idle ones, and
//! a session waiting for a code that can still be used only when no other is left, oldest
//! first within each.

mod codec;
#[cfg(test)]
mod codec_tests;
mod wire;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use dashmap::DashMap;
use dashmap::mapref::entry::Entry;

use crate::clock::Clock;
use crate::dialog::Session;

use super::{Abandoned, MemoryUse, Processed, SessionStore, StoreError, Swept};

/// Idempotency records kept per session (the newest), on top of the time window.
pub const MAX_PROCESSED_PER_SESSION: usize = 16;

/// What an entry costs beyond its key's and record's bytes: the map's slot (two boxed
/// slices, 32 bytes, and its control byte and hash) and the allocator's headers of the two
/// allocations. An estimate, checked against resident memory by `colloquy bench --scale`.
const ENTRY_OVERHEAD: usize = 64;

fn cost(key: &str, record: &[u8]) -> usize {
    key.len() + record.len() + ENTRY_OVERHEAD
}

/// How much a session is worth keeping when room must be made, lower going first: its rank
/// (0 ended, 1 idle, 2 waiting for a usable code), then its last update.
type Worth = (u8, DateTime<Utc>);

fn worth(record: &[u8], now: DateTime<Utc>) -> Worth {
    let standing = codec::standing(record);
    let rank = if standing.ended {
        0
    } else if standing.code_until > now {
        2
    } else {
        1
    };
    (rank, standing.updated_at)
}

/// Sessions in memory. Every method is synchronous inside: no map guard is ever held across
/// an `.await`.
#[derive(Debug)]
pub struct MemoryStore {
    sessions: DashMap<Box<str>, Box<[u8]>>,
    idle_ttl: TimeDelta,
    idempotency_window: TimeDelta,
    max_sessions: usize,
    /// The most all records may take, with their keys and the map's own cost per entry.
    max_bytes: usize,
    /// The most one record may take.
    max_session_bytes: usize,
    /// Live sessions, kept beside the map: the cap is checked on every creation, and the
    /// map's own count locks every shard. Exact again after each sweep.
    live: AtomicUsize,
    /// What the records take ([`cost`]), kept like `live`.
    bytes: AtomicUsize,
    evictions: AtomicU64,
    clock: Arc<dyn Clock>,
    /// What ended sessions' records are compressed against
    /// ([`MemoryStore::with_dictionaries`]). Never changed once the store holds records:
    /// they could not be read again.
    dictionaries: codec::Dictionaries,
}

fn delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

/// A record that does not decode was written by this process and is never seen by another:
/// it cannot happen, but it is reported rather than trusted.
fn corrupt() -> StoreError {
    StoreError::Unavailable("a session record in memory is malformed".to_owned())
}

impl MemoryStore {
    pub fn new(idle_ttl: Duration, idempotency_window: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            sessions: DashMap::new(),
            idle_ttl: delta(idle_ttl),
            idempotency_window: delta(idempotency_window),
            max_sessions: usize::MAX,
            max_bytes: usize::MAX,
            max_session_bytes: usize::MAX,
            live: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
            evictions: AtomicU64::new(0),
            clock,
            dictionaries: codec::Dictionaries::default(),
        }
    }

    /// Compresses each ended session against the dictionary of its dialog (`dictionaries`:
    /// dialog id, text its sessions are likely to repeat, such as its prompts). What a
    /// session repeats from it takes a few bytes instead of its length (BENCHMARKS.md). They
    /// stay the store's for its life, through dialog reloads: they only have to be likely,
    /// not current. Every compression hashes its dictionary whole: a few KiB are worth it.
    #[must_use]
    pub fn with_dictionaries(
        mut self,
        dictionaries: impl IntoIterator<Item = (String, Vec<u8>)>,
    ) -> Self {
        self.dictionaries = codec::Dictionaries::new(dictionaries);
        self
    }

    /// Caps live sessions: creating one beyond `max` first evicts the longest-idle ones.
    #[must_use]
    pub fn with_max_sessions(mut self, max: usize) -> Self {
        self.max_sessions = max.max(1);
        self
    }

    /// Bounds memory in bytes: at most `max_bytes` for all records, at most
    /// `max_session_bytes` for one.
    #[must_use]
    pub fn with_max_bytes(mut self, max_bytes: usize, max_session_bytes: usize) -> Self {
        self.max_bytes = max_bytes.max(1);
        self.max_session_bytes = max_session_bytes.max(1);
        self
    }

    /// Makes room for a save of `saving` that needs `incoming` more bytes (and one more
    /// session when `creating`): evicts the sessions least worth keeping ([`worth`]), 1 % of
    /// the limit beyond what is needed, so the O(n) scan is paid once per many saves. Runs
    /// before the saved entry is locked, so concurrent savers may overshoot the limits by
    /// their own size, never more.
    fn make_room(&self, saving: &str, creating: bool, incoming: usize) {
        let live = self.live.load(Ordering::Relaxed);
        let bytes = self.bytes.load(Ordering::Relaxed);
        let excess_sessions = if creating {
            live.saturating_add(1).saturating_sub(self.max_sessions)
        } else {
            0
        };
        let excess_bytes = bytes
            .saturating_add(incoming)
            .saturating_sub(self.max_bytes);
        if excess_sessions == 0 && excess_bytes == 0 {
            return;
        }
        let sessions_to_free = if excess_sessions > 0 {
            excess_sessions.max(self.max_sessions / 100).max(1)
        } else {
            0
        };
        let bytes_to_free = if excess_bytes > 0 {
            excess_bytes.saturating_add(self.max_bytes / 100)
        } else {
            0
        };
        let now = self.clock.now();
        let mut candidates: Vec<(Worth, Box<str>)> = self
            .sessions
            .iter()
            .filter(|entry| &**entry.key() != saving)
            .map(|entry| (worth(entry.value(), now), entry.key().clone()))
            .collect();
        candidates.sort_unstable_by_key(|(worth, _)| *worth);
        let (mut freed_sessions, mut freed_bytes) = (0, 0);
        for ((_, updated_at), id) in candidates {
            if freed_sessions >= sessions_to_free && freed_bytes >= bytes_to_free {
                break;
            }
            // Evict only if no turn saved it since the scan.
            if let Some((key, record)) = self.sessions.remove_if(&id, |_, record| {
                codec::standing(record).updated_at == updated_at
            }) {
                let freed = cost(&key, &record);
                self.evictions.fetch_add(1, Ordering::Relaxed);
                self.forget_one(freed);
                freed_sessions += 1;
                freed_bytes += freed;
            }
        }
    }

    /// The counts are hints kept by racing threads: they never wrap below zero.
    fn forget_one(&self, bytes: usize) {
        let _ = self
            .live
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(1))
            });
        self.shrink_bytes(bytes);
    }

    fn shrink_bytes(&self, by: usize) {
        let _ = self
            .bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(by))
            });
    }

    /// Accounts for a record of `before` bytes becoming one of `after` bytes.
    fn resized(&self, before: usize, after: usize) {
        if after >= before {
            self.bytes.fetch_add(after - before, Ordering::Relaxed);
        } else {
            self.shrink_bytes(before - after);
        }
    }

    fn is_expired(&self, record: &[u8]) -> bool {
        self.expired_at(record, self.clock.now())
    }

    fn expired_at(&self, record: &[u8], now: DateTime<Utc>) -> bool {
        codec::updated_at(record) + self.idle_ttl <= now
    }

    /// The record replacing `current` (absent, or expired: its records go with it) when
    /// `session` is saved as `version`, keeping the newest idempotency records, within
    /// `max_session_bytes`: older idempotency records go first, then the oldest transcript
    /// lines; a session still too large is refused.
    fn next_record(
        &self,
        session: &Session,
        version: u64,
        current: Option<&[u8]>,
        processed: Option<&Processed>,
    ) -> Result<Box<[u8]>, StoreError> {
        let tail = match current {
            Some(record) => Some(codec::tail(record, &self.dictionaries).ok_or_else(corrupt)?),
            None => None,
        };
        let kept: Vec<&[u8]> = tail
            .as_ref()
            .map(|tail| tail.processed().collect())
            .unwrap_or_default();
        let room = MAX_PROCESSED_PER_SESSION - usize::from(processed.is_some());
        let skip = kept.len().saturating_sub(room);
        let hint = current.map_or(512, |r| r.len() + 256);
        let record = codec::record(
            session,
            version,
            kept.into_iter().skip(skip),
            processed,
            hint,
            &self.dictionaries,
        );
        if record.len() <= self.max_session_bytes {
            return Ok(record);
        }
        super::encode_within(
            session,
            self.max_session_bytes,
            |session| {
                Ok(codec::record(
                    session,
                    version,
                    std::iter::empty(),
                    processed,
                    hint,
                    &self.dictionaries,
                ))
            },
            |record| record.len(),
        )
    }

    /// The record of `message_id` inside the idempotency window; the newest wins, as a retry
    /// gets the latest answer to its message id.
    fn find_processed(
        &self,
        record: &[u8],
        session_id: &str,
        message_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Processed>, StoreError> {
        let horizon = now - self.idempotency_window;
        let wanted = codec::StoredId::of(message_id);
        let tail = codec::tail(record, &self.dictionaries).ok_or_else(corrupt)?;
        let found = tail
            .processed()
            .filter(|bytes| {
                codec::processed_key(bytes).is_some_and(|(id, at)| id == wanted && at > horizon)
            })
            .last();
        match found {
            Some(bytes) => codec::decode_processed(bytes, session_id)
                .map(Some)
                .ok_or_else(corrupt),
            None => Ok(None),
        }
    }

    /// Compare-and-set on an existing entry: `Ok` when saved.
    fn replace(
        &self,
        record: &mut Box<[u8]>,
        session: &Session,
        expected: u64,
        processed: Option<&Processed>,
    ) -> Result<(), StoreError> {
        // An expired session counts as absent: a new conversation may take its id.
        let expired = self.is_expired(record);
        let current = if expired { 0 } else { codec::version(record) };
        if current != expected {
            return Err(StoreError::Conflict);
        }
        let previous = (!expired).then_some(&**record);
        let next = self.next_record(session, expected + 1, previous, processed)?;
        self.resized(record.len(), next.len());
        *record = next;
        Ok(())
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn load(&self, id: &str) -> Result<Option<Session>, StoreError> {
        let Some(record) = self.sessions.get(id).filter(|r| !self.is_expired(r)) else {
            return Ok(None);
        };
        codec::decode_session(id, &record, &self.dictionaries)
            .map(Some)
            .ok_or_else(corrupt)
    }

    async fn processed(
        &self,
        session_id: &str,
        message_id: &str,
    ) -> Result<Option<Processed>, StoreError> {
        let now = self.clock.now();
        let Some(record) = self
            .sessions
            .get(session_id)
            .filter(|r| !self.expired_at(r, now))
        else {
            return Ok(None);
        };
        self.find_processed(&record, session_id, message_id, now)
    }

    /// One look-up for both (the default asks the map twice, through two boxed futures).
    async fn open(
        &self,
        session_id: &str,
        message_id: &str,
    ) -> Result<(Option<Processed>, Option<Session>), StoreError> {
        let now = self.clock.now();
        let Some(record) = self
            .sessions
            .get(session_id)
            .filter(|r| !self.expired_at(r, now))
        else {
            return Ok((None, None));
        };
        if let Some(processed) = self.find_processed(&record, session_id, message_id, now)? {
            return Ok((Some(processed), None));
        }
        let session =
            codec::decode_session(session_id, &record, &self.dictionaries).ok_or_else(corrupt)?;
        Ok((None, Some(session)))
    }

    async fn save(
        &self,
        session: &mut Session,
        processed: Option<&Processed>,
    ) -> Result<(), StoreError> {
        let expected = session.version;
        // A new session's record is made first, so room is made for its real size.
        let mut created = if expected == 0 {
            Some(self.next_record(session, 1, None, processed)?)
        } else {
            None
        };
        // Before any shard lock is taken (eviction scans every shard): room for a new
        // session, or for the sessions that grew past the budget.
        let incoming = created
            .as_ref()
            .map_or(0, |record| cost(&session.id, record));
        self.make_room(&session.id, expected == 0, incoming);
        // The common case, an existing session, needs no owned key.
        if let Some(mut slot) = self.sessions.get_mut(session.id.as_str()) {
            self.replace(slot.value_mut(), session, expected, processed)?;
        } else {
            match self.sessions.entry(Box::from(session.id.as_str())) {
                Entry::Occupied(mut slot) => {
                    self.replace(slot.get_mut(), session, expected, processed)?;
                }
                Entry::Vacant(slot) => {
                    let Some(record) = created.take() else {
                        return Err(StoreError::Conflict);
                    };
                    // Counted before it is visible: no removal can come first.
                    self.live.fetch_add(1, Ordering::Relaxed);
                    self.bytes.fetch_add(incoming, Ordering::Relaxed);
                    slot.insert(record);
                }
            }
        }
        session.version = expected + 1;
        Ok(())
    }

    async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let removed = self.sessions.remove(id);
        if let Some((key, record)) = &removed {
            self.forget_one(cost(key, record));
        }
        Ok(removed.is_some())
    }

    async fn sweep(&self) -> Result<Swept, StoreError> {
        let before = self.sessions.len();
        let now = self.clock.now();
        let horizon = now - self.idempotency_window;
        let mut abandoned = Vec::new();
        let mut bytes = 0;
        self.sessions.retain(|id, record| {
            if self.expired_at(record, now) {
                // Only a conversation still going can have been abandoned: an ended one is
                // not decoded (nor decompressed).
                if !codec::standing(record).ended
                    && let Some(left) = codec::decode_session(id, record, &self.dictionaries)
                        .and_then(|s| Abandoned::of(&s))
                {
                    abandoned.push(left);
                }
                return false;
            }
            // Records are kept oldest first: when the oldest is inside the window, all are.
            // An ended session's compressed records wait for their session's TTL instead:
            // reading them would mean decompressing every ended session on every sweep.
            let stale = !codec::is_compressed(record)
                && codec::tail(record, &self.dictionaries).is_some_and(|tail| {
                    tail.processed()
                        .next()
                        .and_then(codec::processed_key)
                        .is_some_and(|(_, at)| at <= horizon)
                });
            if stale
                && let Some(trimmed) =
                    codec::retain_processed(record, &self.dictionaries, |bytes| {
                        codec::processed_key(bytes).is_some_and(|(_, at)| at > horizon)
                    })
            {
                // Rewritten without the records past the window (rare: most sessions end
                // or expire first).
                *record = trimmed;
            }
            bytes += cost(id, record);
            true
        });
        let after = self.sessions.len();
        self.live.store(after, Ordering::Relaxed);
        self.bytes.store(bytes, Ordering::Relaxed);
        let removed = before.saturating_sub(after);
        if removed > 0 {
            self.sessions.shrink_to_fit();
        }
        Ok(Swept {
            count: removed,
            abandoned,
        })
    }

    async fn count(&self) -> Result<usize, StoreError> {
        Ok(self.sessions.len())
    }

    fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }

    fn memory(&self) -> Option<MemoryUse> {
        Some(MemoryUse {
            bytes: self.bytes.load(Ordering::Relaxed),
            budget: self.max_bytes,
        })
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[tokio::test]
    async fn the_longest_idle_sessions_make_room_for_new_ones() {
        let clock = Arc::new(ManualClock::at_epoch());
        let store = MemoryStore::new(
            Duration::from_secs(3600),
            Duration::from_secs(600),
            clock.clone(),
        )
        .with_max_sessions(3);
        for id in ["a", "b", "c"] {
            clock.advance(Duration::from_secs(1));
            let mut session = Session::new(id, "d", 1, clock.now());
            store.save(&mut session, None).await.unwrap();
        }
        // "a" is touched again, so "b" is now the longest idle.
        clock.advance(Duration::from_secs(1));
        let mut a = store.load("a").await.unwrap().unwrap();
        a.updated_at = clock.now();
        store.save(&mut a, None).await.unwrap();
        let mut d = Session::new("d", "d", 1, clock.now());
        store.save(&mut d, None).await.unwrap();
        assert_eq!(store.count().await.unwrap(), 3);
        assert!(
            store.load("b").await.unwrap().is_none(),
            "the longest-idle session was evicted"
        );
        assert!(store.load("a").await.unwrap().is_some());
        assert_eq!(store.evictions(), 1);
    }

    fn store(clock: &Arc<ManualClock>) -> MemoryStore {
        MemoryStore::new(
            Duration::from_secs(3600),
            Duration::from_secs(600),
            clock.clone(),
        )
    }

    fn waiting_for_a_code(id: &str, now: DateTime<Utc>) -> Session {
        let mut session = Session::new(id, "d", 1, now);
        session.state = crate::dialog::State::Waiting;
        session.otp = Some(crate::otp::OtpState {
            address: "a@example.com".into(),
            tag: [0; 32],
            length: 4,
            alphabet: crate::otp::Alphabet::Digits,
            issued_at: now,
            expires_at: now + TimeDelta::minutes(5),
            attempts: 0,
            max_attempts: 3,
            status: crate::otp::CodeStatus::Active,
            sends: 1,
            previous_tag: None,
        });
        session
    }

    #[tokio::test]
    async fn a_session_too_large_loses_its_oldest_lines_then_is_refused() {
        let clock = Arc::new(ManualClock::at_epoch());
        let store = store(&clock).with_max_bytes(usize::MAX, 2_000);
        let mut session = Session::new("s", "d", 1, clock.now());
        for line in 0..10 {
            let text = format!("{line}{}", "x".repeat(299));
            session.record(
                crate::dialog::session::Speaker::User,
                &text,
                clock.now(),
                20,
            );
        }
        store.save(&mut session, None).await.unwrap();
        let kept = store.load("s").await.unwrap().unwrap();
        assert!(
            (1..10).contains(&kept.history.len()),
            "{} lines kept",
            kept.history.len()
        );
        assert!(
            kept.history.back().unwrap().text.starts_with('9'),
            "the newest lines stay"
        );
        assert!(store.memory().unwrap().bytes <= 2_000 + 64 + 1);
        // A value no trimming can make fit is refused, and the stored session is unchanged.
        let mut huge = kept.clone();
        huge.context.set(
            "answer",
            crate::dialog::value::Value::Text("y".repeat(5_000)),
        );
        assert!(matches!(
            store.save(&mut huge, None).await,
            Err(StoreError::TooLarge { limit: 2_000, .. })
        ));
        assert_eq!(
            store.load("s").await.unwrap().unwrap().version,
            kept.version
        );
    }

    /// Saves, oldest first, one session waiting for a code, one idle and one ended.
    async fn three_kinds(store: &MemoryStore, clock: &ManualClock) {
        let mut waiting = waiting_for_a_code("w", clock.now());
        store.save(&mut waiting, None).await.unwrap();
        clock.advance(Duration::from_secs(1));
        let mut idle = Session::new("i", "d", 1, clock.now());
        store.save(&mut idle, None).await.unwrap();
        clock.advance(Duration::from_secs(1));
        let mut ended = Session::new("e", "d", 1, clock.now());
        ended.state = crate::dialog::State::Ended;
        store.save(&mut ended, None).await.unwrap();
    }

    #[tokio::test]
    async fn room_is_made_from_ended_then_idle_sessions_before_one_waiting_for_a_code() {
        let clock = Arc::new(ManualClock::at_epoch());
        // A budget for the three and half of one more.
        let probe = store(&clock);
        three_kinds(&probe, &clock).await;
        let three = probe.memory().unwrap().bytes;
        let mut one = Session::new("n0", "d", 1, clock.now());
        probe.save(&mut one, None).await.unwrap();
        let each = probe.memory().unwrap().bytes - three;
        let budget = three + each / 2;
        let clock = Arc::new(ManualClock::at_epoch());
        let store = store(&clock).with_max_bytes(budget, usize::MAX);
        three_kinds(&store, &clock).await;
        assert_eq!(store.evictions(), 0);
        // A fourth evicts the ended one, though it is the newest.
        clock.advance(Duration::from_secs(1));
        let mut fourth = Session::new("n4", "d", 1, clock.now());
        store.save(&mut fourth, None).await.unwrap();
        assert!(store.load("e").await.unwrap().is_none());
        assert!(store.load("i").await.unwrap().is_some());
        // A fifth takes the idle one, not the older one waiting for a code.
        clock.advance(Duration::from_secs(1));
        let mut fifth = Session::new("n5", "d", 1, clock.now());
        store.save(&mut fifth, None).await.unwrap();
        assert!(store.load("i").await.unwrap().is_none());
        assert!(store.load("w").await.unwrap().is_some());
        assert_eq!(store.evictions(), 2);
        assert!(store.memory().unwrap().bytes <= budget);
        // Once its code has expired, it is just idle, and the oldest.
        clock.advance(Duration::from_secs(600));
        let mut sixth = Session::new("n6", "d", 1, clock.now());
        store.save(&mut sixth, None).await.unwrap();
        assert!(store.load("w").await.unwrap().is_none());
        assert!(store.memory().unwrap().bytes <= budget);
    }

    #[tokio::test]
    async fn bytes_follow_saves_deletes_and_sweeps() {
        let clock = Arc::new(ManualClock::at_epoch());
        let store = store(&clock);
        let mut a = Session::new("a", "d", 1, clock.now());
        store.save(&mut a, None).await.unwrap();
        let one = store.memory().unwrap().bytes;
        assert!(one > ENTRY_OVERHEAD, "{one}");
        a.record(
            crate::dialog::session::Speaker::User,
            &"z".repeat(1000),
            clock.now(),
            20,
        );
        store.save(&mut a, None).await.unwrap();
        let grown = store.memory().unwrap().bytes;
        assert!(grown >= one + 1000, "{one} then {grown}");
        let mut b = Session::new("b", "d", 1, clock.now());
        store.save(&mut b, None).await.unwrap();
        assert!(store.delete("a").await.unwrap());
        assert_eq!(
            store.memory().unwrap().bytes,
            one,
            "b costs what a first did"
        );
        clock.advance(Duration::from_secs(7200));
        store.sweep().await.unwrap();
        assert_eq!(store.memory().unwrap().bytes, 0);
    }

    #[tokio::test]
    async fn ended_sessions_are_compressed_against_the_dictionary() {
        let prompt = "I've emailed a 4-digit code to your address. It expires in 5 minutes. \
                      Enter it here, or type 'resend' for a new one, 'change email' to use \
                      another address, or 'cancel' to stop.";
        let clock = Arc::new(ManualClock::at_epoch());
        let ended = |id: &str| {
            let mut session = Session::new(id, "d", 1, clock.now());
            session.record(
                crate::dialog::session::Speaker::Bot,
                prompt,
                clock.now(),
                20,
            );
            session.state = crate::dialog::State::Ended;
            session
        };
        let plain = store(&clock);
        let with_prompts = store(&clock).with_dictionaries([
            (
                "other".to_owned(),
                b"Hello there, how are you doing?".to_vec(),
            ),
            ("d".to_owned(), format!("say: {prompt}\n").into_bytes()),
        ]);
        for store in [&plain, &with_prompts] {
            store.save(&mut ended("s"), None).await.unwrap();
            let mut read = store.load("s").await.unwrap().unwrap();
            read.version = 0;
            assert_eq!(read, ended("s"), "reads back whole");
        }
        let (without, with) = (
            plain.memory().unwrap().bytes,
            with_prompts.memory().unwrap().bytes,
        );
        assert!(
            with + prompt.len() - 20 < without,
            "{with} bytes with the dictionary, {without} without"
        );
    }

    #[tokio::test]
    async fn saves_are_compare_and_set() {
        let clock = Arc::new(ManualClock::at_epoch());
        let store = MemoryStore::new(
            Duration::from_secs(3600),
            Duration::from_secs(600),
            clock.clone(),
        );
        let mut first = Session::new("s", "d", 1, clock.now());
        store.save(&mut first, None).await.unwrap();
        let mut stale = first.clone();
        store.save(&mut first, None).await.unwrap();
        stale.version = 1;
        assert_eq!(
            store.save(&mut stale, None).await,
            Err(StoreError::Conflict)
        );
        let mut again = Session::new("s", "d", 1, clock.now());
        assert_eq!(
            store.save(&mut again, None).await,
            Err(StoreError::Conflict),
            "a second creation loses"
        );
    }
}
