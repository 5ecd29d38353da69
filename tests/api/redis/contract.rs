//! The store contract: what every session store, counter and rate limiter must do, written
//! once and run against the in-memory adapters and the Redis ones (see `redis.rs`).

use std::sync::Arc;
use std::time::Duration;

use colloquy::clock::{Clock, ManualClock};
use colloquy::config::{Config, Rate, Secret, StoreKind};
use colloquy::dialog::Session;
use colloquy::dialog::reply::{SessionEvent, TurnReply};
use colloquy::dialog::session::{Speaker, State};
use colloquy::dialog::value::Value;
use colloquy::store::{Backends, Processed, RateLimit, Refund, Scope, StoreError};

/// The adapters under test and the clock they run on.
pub struct Fixture {
    pub backends: Backends,
    pub clock: Arc<ManualClock>,
}

pub const IDLE: Duration = Duration::from_secs(30 * 60);
pub const WINDOW: Duration = Duration::from_secs(10 * 60);

/// The configuration both kinds of fixture share; `redis_url` picks the Redis adapters.
pub fn config(redis_url: Option<&str>, max_sessions: usize) -> Config {
    let mut config = Config::default();
    config.sessions.idle_ttl = IDLE;
    config.sessions.idempotency_window = WINDOW;
    config.limits.max_sessions = max_sessions;
    config.limits.per_ip = Rate {
        per_second: 1,
        burst: 3,
    };
    config.limits.per_client = Rate {
        per_second: 0,
        burst: 0,
    };
    if let Some(url) = redis_url {
        config.sessions.store = StoreKind::Redis;
        config.sessions.redis.url = Secret::new(url);
        config.sessions.redis.key_prefix = "contract:".into();
        config.sessions.redis.connect_timeout = Duration::from_millis(500);
    }
    config
}

pub fn fixture(config: &Config) -> Fixture {
    let clock = Arc::new(ManualClock::at_epoch());
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    // No dictionary: the contract holds whatever ended sessions are compressed against.
    let backends = Backends::from_config(config, &dyn_clock, Vec::new).expect("backends build");
    Fixture { backends, clock }
}

/// A session waiting for its address, as the contract's tests save it.
pub fn session(fx: &Fixture, id: &str) -> Session {
    let mut session = Session::new(id, "otp_authentication", 1, fx.clock.now());
    session.node = "ask_email".into();
    session.state = State::Waiting;
    session
        .context
        .set("email", Value::Text("alice@example.com".into()));
    session.record(Speaker::User, "hi", fx.clock.now(), 20);
    session
}

/// The record of `session` answering `text` under `message_id`.
pub fn record(fx: &Fixture, session: &Session, message_id: &str, text: &str) -> Processed {
    Processed {
        message_id: message_id.into(),
        text_digest: Processed::digest(text),
        reply: TurnReply {
            session_id: session.id.clone(),
            turn: session.turns,
            dialog: session.dialog_id.clone(),
            dialog_version: session.dialog_version,
            replies: vec![format!("answer to {text}")],
            node: session.node.clone(),
            state: session.state,
            result: None,
            expecting: None,
            choices: Vec::new(),
            with_agent: false,
        },
        at: fx.clock.now(),
    }
}

pub async fn absent_sessions_load_as_nothing(fx: Fixture) {
    let store = &fx.backends.store;
    assert_eq!(store.load("nobody").await.unwrap(), None);
    assert_eq!(store.processed("nobody", "m1").await.unwrap(), None);
    assert!(!store.delete("nobody").await.unwrap());
    assert_eq!(store.count().await.unwrap(), 0);
    store.ping().await.unwrap();
}

pub async fn a_saved_session_loads_back_as_it_was(fx: Fixture) {
    let store = &fx.backends.store;
    let mut first = session(&fx, "s");
    first.turns = 3;
    store.save(&mut first, None).await.unwrap();
    assert_eq!(first.version, 1, "the save sets the new version");
    assert_eq!(store.load("s").await.unwrap(), Some(first.clone()));
    fx.clock.advance(Duration::from_secs(5));
    first.updated_at = fx.clock.now();
    first.node = "ask_code".into();
    store.save(&mut first, None).await.unwrap();
    assert_eq!(first.version, 2);
    assert_eq!(store.load("s").await.unwrap(), Some(first));
}

pub async fn saves_are_compare_and_set(fx: Fixture) {
    let store = &fx.backends.store;
    let mut first = session(&fx, "s");
    store.save(&mut first, None).await.unwrap();
    let mut stale = first.clone();
    first.node = "first wins".into();
    store.save(&mut first, None).await.unwrap();
    stale.node = "stale".into();
    let stale_record = record(&fx, &stale, "m-stale", "x");
    assert_eq!(
        store.save(&mut stale, Some(&stale_record)).await,
        Err(StoreError::Conflict)
    );
    assert_eq!(stale.version, 1, "a refused save leaves the version alone");
    let stored = store.load("s").await.unwrap().unwrap();
    assert_eq!(
        (stored.node.as_str(), stored.version),
        ("first wins", 2),
        "the loser changed nothing"
    );
    assert_eq!(
        store.processed("s", "m-stale").await.unwrap(),
        None,
        "nor wrote its record"
    );
    let mut again = session(&fx, "s");
    assert_eq!(
        store.save(&mut again, None).await,
        Err(StoreError::Conflict),
        "a second creation loses"
    );
}

pub async fn a_record_is_written_with_its_save(fx: Fixture) {
    let store = &fx.backends.store;
    let mut s = session(&fx, "s");
    let processed = record(&fx, &s, "m1", "hi");
    store.save(&mut s, Some(&processed)).await.unwrap();
    assert_eq!(
        store.processed("s", "m1").await.unwrap(),
        Some(processed.clone())
    );
    assert_eq!(store.processed("s", "m2").await.unwrap(), None);
    assert_eq!(
        store.processed("other", "m1").await.unwrap(),
        None,
        "message ids belong to their session"
    );
    // Inside the window it is remembered; after it, it is a new message.
    fx.clock
        .advance(WINDOW.saturating_sub(Duration::from_secs(1)));
    assert_eq!(store.processed("s", "m1").await.unwrap(), Some(processed));
    fx.clock.advance(Duration::from_secs(1));
    assert_eq!(store.processed("s", "m1").await.unwrap(), None);
}

pub async fn a_turn_opens_with_the_record_or_the_session(fx: Fixture) {
    let store = &fx.backends.store;
    assert_eq!(store.open("s", "m1").await.unwrap(), (None, None));
    let mut s = session(&fx, "s");
    let processed = record(&fx, &s, "m1", "hi");
    store.save(&mut s, Some(&processed)).await.unwrap();
    assert_eq!(
        store.open("s", "m1").await.unwrap(),
        (Some(processed), None),
        "a retry: the record, and no need for the session"
    );
    assert_eq!(
        store.open("s", "m2").await.unwrap(),
        (None, Some(s.clone())),
        "a new message: the session"
    );
    fx.clock.advance(WINDOW);
    assert_eq!(
        store.open("s", "m1").await.unwrap(),
        (None, Some(s)),
        "past the window the id is a new message"
    );
    fx.clock.advance(IDLE);
    assert_eq!(store.open("s", "m2").await.unwrap(), (None, None));
}

const CHARGES: RateLimit = RateLimit {
    max: 5,
    window: Duration::from_secs(600),
};

/// A charge under `key`, to give back.
async fn charge(fx: &Fixture, key: &str) -> Refund {
    let permit = fx
        .backends
        .counters
        .acquire(key, CHARGES)
        .await
        .unwrap()
        .unwrap();
    Refund {
        key: key.to_owned(),
        permit,
    }
}

async fn charges(fx: &Fixture, key: &str) -> u32 {
    fx.backends
        .counters
        .count(key, CHARGES.window)
        .await
        .unwrap()
}

pub async fn a_turn_begins_under_its_lease_and_finishing_frees_it(fx: Fixture) {
    let turns = &fx.backends.turns;
    let opened = turns
        .begin("s", "m1", Duration::ZERO)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((&opened.earlier, &opened.session), (&None, &None));
    if fx.backends.store.round_trips().is_some() {
        // Across instances the lease keeps a second turn of the session out (in one process
        // the engine's per-session lock does).
        assert!(
            turns
                .begin("s", "m2", Duration::from_millis(50))
                .await
                .unwrap()
                .is_none(),
            "the session's lease is taken: the wait ends empty-handed"
        );
    }
    let other = turns
        .begin("t", "m1", Duration::ZERO)
        .await
        .unwrap()
        .unwrap();
    turns.abandon(other.lease, &[]).await;

    let mut s = session(&fx, "s");
    let processed = record(&fx, &s, "m1", "hi");
    let event = SessionEvent::Turn(processed.reply.clone());
    let refunds = [charge(&fx, "right code").await];
    turns
        .finish(opened.lease, &mut s, &processed, &event, &refunds)
        .await
        .unwrap();
    assert_eq!(s.version, 1, "saved as a new session");
    assert_eq!(
        charges(&fx, "right code").await,
        0,
        "the charge was given back with the save"
    );

    let retry = turns
        .begin("s", "m1", Duration::ZERO)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (&retry.earlier, &retry.session),
        (&Some(processed), &None),
        "freed, and a retry reads the record"
    );
    turns.abandon(retry.lease, &[]).await;
    let next = turns
        .begin("s", "m2", Duration::ZERO)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.session, Some(s), "a new message reads the session");
    turns.abandon(next.lease, &[]).await;
}

pub async fn a_turn_that_lost_a_race_saves_nothing_and_frees_its_lease(fx: Fixture) {
    let (store, turns) = (&fx.backends.store, &fx.backends.turns);
    let mut s = session(&fx, "s");
    store.save(&mut s, None).await.unwrap();
    let opened = turns
        .begin("s", "m1", Duration::ZERO)
        .await
        .unwrap()
        .unwrap();
    let mut stale = opened.session.unwrap();
    // A writer whose lease ran out saved meanwhile: the version check fences this turn.
    let mut other = s.clone();
    store.save(&mut other, None).await.unwrap();
    stale.node = "check_code".into();
    let processed = record(&fx, &stale, "m1", "hi");
    let event = SessionEvent::Turn(processed.reply.clone());
    let refunds = [charge(&fx, "lost").await];
    assert_eq!(
        turns
            .finish(opened.lease, &mut stale, &processed, &event, &refunds)
            .await,
        Err(StoreError::Conflict)
    );
    assert_eq!(
        charges(&fx, "lost").await,
        0,
        "a charge is given back though the save lost"
    );
    assert_eq!(
        store.load("s").await.unwrap(),
        Some(other),
        "nothing written"
    );
    assert_eq!(
        store.processed("s", "m1").await.unwrap(),
        None,
        "nor recorded"
    );
    let again = turns.begin("s", "m1", Duration::ZERO).await.unwrap();
    assert!(again.is_some(), "the lease was freed");
}

pub async fn a_finished_turn_puts_its_answer_on_a_stream_someone_reads(fx: Fixture) {
    let (events, turns) = (&fx.backends.events, &fx.backends.turns);
    // Someone reads `s`'s stream; no one reads `t`'s.
    assert!(events.read("s", None).await.unwrap().events.is_empty());
    for id in ["s", "t"] {
        let opened = turns
            .begin(id, "m1", Duration::ZERO)
            .await
            .unwrap()
            .unwrap();
        let mut s = session(&fx, id);
        let processed = record(&fx, &s, "m1", "hi");
        let event = SessionEvent::Turn(processed.reply.clone());
        turns
            .finish(opened.lease, &mut s, &processed, &event, &[])
            .await
            .unwrap();
    }
    let read = events.read("s", None).await.unwrap();
    assert_eq!(read.events.len(), 1, "{read:?}");
    assert!(
        matches!(&read.events[0].event, SessionEvent::Turn(reply) if reply.replies == ["answer to hi"])
    );
    assert!(
        events.read("t", None).await.unwrap().events.is_empty(),
        "a turn's answer went back to its sender: a stream no one reads keeps nothing"
    );
    // Said only through the stream, an event is kept even so.
    let opened = turns
        .begin("u", "m1", Duration::ZERO)
        .await
        .unwrap()
        .unwrap();
    let mut u = session(&fx, "u");
    let processed = record(&fx, &u, "m1", "hi");
    let event = SessionEvent::UserMessage { text: "hi".into() };
    turns
        .finish(opened.lease, &mut u, &processed, &event, &[])
        .await
        .unwrap();
    assert_eq!(events.read("u", None).await.unwrap().events.len(), 1);
}

pub async fn the_newest_sixteen_records_are_kept(fx: Fixture) {
    let store = &fx.backends.store;
    let mut s = session(&fx, "s");
    for i in 0..20 {
        let processed = record(&fx, &s, &format!("m{i}"), "x");
        store.save(&mut s, Some(&processed)).await.unwrap();
    }
    for i in 0..4 {
        assert_eq!(store.processed("s", &format!("m{i}")).await.unwrap(), None);
    }
    for i in 4..20 {
        assert!(
            store
                .processed("s", &format!("m{i}"))
                .await
                .unwrap()
                .is_some()
        );
    }
}

pub async fn idle_sessions_are_gone_and_free_their_id(fx: Fixture) {
    let store = &fx.backends.store;
    let mut s = session(&fx, "s");
    let processed = record(&fx, &s, "m1", "hi");
    store.save(&mut s, Some(&processed)).await.unwrap();
    fx.clock
        .advance(IDLE.saturating_sub(Duration::from_secs(1)));
    assert!(store.load("s").await.unwrap().is_some(), "not idle yet");
    fx.clock.advance(Duration::from_secs(1));
    assert_eq!(store.load("s").await.unwrap(), None);
    let mut fresh = session(&fx, "s");
    fresh.updated_at = fx.clock.now();
    store.save(&mut fresh, None).await.unwrap();
    assert_eq!(fresh.version, 1, "a new conversation takes the id");
    assert_eq!(
        store.processed("s", "m1").await.unwrap(),
        None,
        "without the old conversation's records"
    );
}

pub async fn sweeping_frees_idle_sessions(fx: Fixture) {
    let store = &fx.backends.store;
    for id in ["a", "b"] {
        let mut s = session(&fx, id);
        store.save(&mut s, None).await.unwrap();
    }
    fx.clock.advance(Duration::from_secs(60));
    let mut c = session(&fx, "c");
    store.save(&mut c, None).await.unwrap();
    assert_eq!(store.count().await.unwrap(), 3);
    assert_eq!(store.sweep().await.unwrap().count, 0, "nothing idle yet");
    fx.clock
        .advance(IDLE.saturating_sub(Duration::from_secs(30)));
    let swept = store.sweep().await.unwrap();
    assert_eq!(swept.count, 2);
    // Both were waiting at the address question: abandoned there.
    assert_eq!(swept.abandoned.len(), 2);
    assert!(swept.abandoned.iter().all(|left| left.node == "ask_email"
        && left.dialog == "otp_authentication"
        && left.version == 1));
    assert_eq!(store.count().await.unwrap(), 1);
    assert!(store.load("c").await.unwrap().is_some());
}

pub async fn deleting_forgets_the_session_and_its_records(fx: Fixture) {
    let store = &fx.backends.store;
    let mut s = session(&fx, "s");
    let processed = record(&fx, &s, "m1", "hi");
    store.save(&mut s, Some(&processed)).await.unwrap();
    assert!(store.delete("s").await.unwrap());
    assert_eq!(store.load("s").await.unwrap(), None);
    assert_eq!(store.processed("s", "m1").await.unwrap(), None);
    assert_eq!(store.count().await.unwrap(), 0);
    assert!(!store.delete("s").await.unwrap());
    let mut again = session(&fx, "s");
    store.save(&mut again, None).await.unwrap();
    assert_eq!(again.version, 1);
}

/// Run with a cap of 3 sessions.
pub async fn the_longest_idle_sessions_make_room(fx: Fixture) {
    let store = &fx.backends.store;
    for id in ["a", "b", "c"] {
        fx.clock.advance(Duration::from_secs(1));
        let mut s = session(&fx, id);
        store.save(&mut s, None).await.unwrap();
    }
    // "a" is touched again, so "b" is now the longest idle.
    fx.clock.advance(Duration::from_secs(1));
    let mut a = store.load("a").await.unwrap().unwrap();
    a.updated_at = fx.clock.now();
    store.save(&mut a, None).await.unwrap();
    let mut d = session(&fx, "d");
    store.save(&mut d, None).await.unwrap();
    assert_eq!(store.count().await.unwrap(), 3);
    assert_eq!(
        store.load("b").await.unwrap(),
        None,
        "the longest idle went"
    );
    assert!(store.load("a").await.unwrap().is_some());
    assert!(store.load("d").await.unwrap().is_some());
    assert_eq!(store.evictions(), 1);
}

pub async fn counters_limit_refund_and_reset(fx: Fixture) {
    let counters = &fx.backends.counters;
    let limit = RateLimit {
        max: 2,
        window: Duration::from_secs(600),
    };
    assert!(counters.acquire("k", limit).await.unwrap().is_ok());
    fx.clock.advance(Duration::from_secs(60));
    let second = counters.acquire("k", limit).await.unwrap().unwrap();
    assert_eq!(
        counters.acquire("k", limit).await.unwrap(),
        Err(Duration::from_secs(540)),
        "full: the wait until the oldest event leaves"
    );
    assert!(
        counters.acquire("other", limit).await.unwrap().is_ok(),
        "keys are apart"
    );
    counters.refund("k", second).await.unwrap();
    assert!(counters.acquire("k", limit).await.unwrap().is_ok());
    fx.clock.advance(Duration::from_secs(540));
    assert!(
        counters.acquire("k", limit).await.unwrap().is_ok(),
        "the first event left the window"
    );
    counters.reset("k").await.unwrap();
    for _ in 0..2 {
        assert!(counters.acquire("k", limit).await.unwrap().is_ok());
    }
    fx.clock.advance(Duration::from_secs(3600));
    counters.sweep(limit.window).await.unwrap();
    assert!(counters.acquire("k", limit).await.unwrap().is_ok());
}

pub async fn a_charge_and_another_count_come_together(fx: Fixture) {
    let counters = &fx.backends.counters;
    let limit = RateLimit {
        max: 1,
        window: Duration::from_secs(600),
    };
    let day = Duration::from_secs(24 * 3600);
    for _ in 0..3 {
        assert!(
            counters
                .acquire("failures", limit_of(10, day))
                .await
                .unwrap()
                .is_ok()
        );
        fx.clock.advance(Duration::from_secs(3600));
    }
    let (charged, counted) = counters
        .acquire_counting("sends", limit, "failures", day)
        .await
        .unwrap();
    assert_eq!(charged.unwrap().count, 1);
    assert_eq!(counted, 3, "the other key counted, not charged");
    assert_eq!(counters.count("failures", day).await.unwrap(), 3);
    let (refused, counted) = counters
        .acquire_counting("sends", limit, "failures", Duration::from_secs(3600 + 1))
        .await
        .unwrap();
    assert_eq!(refused, Err(Duration::from_secs(600)), "the cap is full");
    assert_eq!(counted, 1, "only what falls inside the window asked for");
}

fn limit_of(max: u32, window: Duration) -> RateLimit {
    RateLimit { max, window }
}

pub async fn events_at_one_instant_count_apart(fx: Fixture) {
    let counters = &fx.backends.counters;
    let limit = RateLimit {
        max: 3,
        window: Duration::from_secs(60),
    };
    let first = counters.acquire("k", limit).await.unwrap().unwrap();
    counters.acquire("k", limit).await.unwrap().unwrap();
    counters.acquire("k", limit).await.unwrap().unwrap();
    assert!(counters.acquire("k", limit).await.unwrap().is_err());
    counters.refund("k", first).await.unwrap();
    assert!(
        counters.acquire("k", limit).await.unwrap().is_ok(),
        "a refund gives back exactly one"
    );
    assert!(counters.acquire("k", limit).await.unwrap().is_err());
}

/// `limits.per_ip` is 1/s with a burst of 3; `per_client` has no rate.
pub async fn rate_limits_allow_a_burst_then_say_when(fx: Fixture) {
    let limiter = &fx.backends.limiter;
    for _ in 0..3 {
        limiter.check(Scope::Ip, "10.0.0.1").await.unwrap();
    }
    assert_eq!(
        limiter.check(Scope::Ip, "10.0.0.1").await,
        Err(Duration::from_secs(1))
    );
    limiter
        .check(Scope::Ip, "10.0.0.2")
        .await
        .expect("another address has its own bucket");
    for _ in 0..10 {
        limiter
            .check(Scope::Client, "10.0.0.1")
            .await
            .expect("a scope without a rate passes");
    }
    fx.clock.advance(Duration::from_millis(500));
    assert_eq!(
        limiter.check(Scope::Ip, "10.0.0.1").await,
        Err(Duration::from_millis(500))
    );
    fx.clock.advance(Duration::from_millis(500));
    limiter.check(Scope::Ip, "10.0.0.1").await.unwrap();
    fx.clock.advance(Duration::from_secs(3600));
    limiter.sweep();
    for _ in 0..3 {
        limiter.check(Scope::Ip, "10.0.0.1").await.unwrap();
    }
}
