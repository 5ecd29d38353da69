//! What only the Redis adapters do: expiries in Redis, the stored format, leases, the
//! archive, and an outage healing by itself.

use std::time::{Duration, Instant};

use colloquy::clock::Clock;
use colloquy::dialog::Session;
use colloquy::store::{Scope, StoreError};
use redis::aio::MultiplexedConnection;
use serde_json::Value;

use super::contract::{self, IDLE, WINDOW, config, fixture};
use super::server::RedisServer;

async fn raw(server: &RedisServer) -> MultiplexedConnection {
    redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

async fn pttl(connection: &mut MultiplexedConnection, key: &str) -> i64 {
    redis::cmd("PTTL")
        .arg(key)
        .query_async(connection)
        .await
        .unwrap()
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap()
}

#[tokio::test]
async fn expiries_are_set_in_redis() {
    let server = RedisServer::start();
    let fx = fixture(&config(Some(&server.url()), usize::MAX));
    let mut session = contract::session(&fx, "s");
    let processed = contract::record(&fx, &session, "m1", "hi");
    fx.backends
        .store
        .save(&mut session, Some(&processed))
        .await
        .unwrap();
    let limit = colloquy::store::RateLimit {
        max: 5,
        window: WINDOW,
    };
    fx.backends
        .counters
        .acquire("k", limit)
        .await
        .unwrap()
        .unwrap();
    fx.backends
        .limiter
        .check(Scope::Ip, "10.0.0.1")
        .await
        .unwrap();
    fx.backends
        .archive
        .keep("d", 1, &|| "id: d".to_owned())
        .await
        .unwrap();

    let mut redis = raw(&server).await;
    for key in [
        "contract:session:{s}",
        "contract:seen:{s}",
        "contract:seen-order:{s}",
    ] {
        let ttl = pttl(&mut redis, key).await;
        assert!(
            ttl > millis(IDLE) - 60_000 && ttl <= millis(IDLE),
            "{key}: the idle TTL is its expiry, got {ttl} ms"
        );
    }
    let ttl = pttl(&mut redis, "contract:count:k").await;
    assert!(
        ttl > 0 && ttl <= millis(WINDOW),
        "a counter lives one window: {ttl}"
    );
    // 1 request/s, burst 3: one token taken is back in a second.
    let ttl = pttl(&mut redis, "contract:rate:ip:10.0.0.1").await;
    assert!(
        ttl > 0 && ttl <= 1000,
        "a bucket lives until it is full again: {ttl}"
    );
    assert_eq!(
        pttl(&mut redis, "contract:dialog:d:1").await,
        -1,
        "dialog sources stay"
    );
}

#[tokio::test]
async fn sessions_are_stored_in_the_documented_format() {
    let server = RedisServer::start();
    let fx = fixture(&config(Some(&server.url()), usize::MAX));
    let mut session = Session::new("s", "otp_authentication", 1, fx.clock.now());
    fx.backends.store.save(&mut session, None).await.unwrap();
    let mut redis = raw(&server).await;
    let (version, updated, doc): (u64, i64, String) = redis::cmd("HMGET")
        .arg("contract:session:{s}")
        .arg("version")
        .arg("updated")
        .arg("doc")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(version, 1);
    assert_eq!(updated, fx.clock.now().timestamp_millis());
    let doc: Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(doc["v"], 2);
    assert_eq!(doc["id"], "s");
    assert_eq!(doc["dialog"], "otp_authentication");
    assert_eq!(doc["state"], "new");

    // A document from a newer build is refused, not misread or overwritten.
    let newer = serde_json::to_string(&serde_json::json!({ "v": 3, "anything": true })).unwrap();
    let _: () = redis::cmd("HSET")
        .arg("contract:session:{s}")
        .arg("doc")
        .arg(newer)
        .query_async(&mut redis)
        .await
        .unwrap();
    match fx.backends.store.load("s").await {
        Err(StoreError::Unavailable(reason)) => {
            assert!(reason.contains("format v3"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let mut fresh = Session::new("s", "otp_authentication", 1, fx.clock.now());
    assert_eq!(
        fx.backends.store.save(&mut fresh, None).await,
        Err(StoreError::Conflict)
    );
}

#[tokio::test]
async fn a_lease_is_held_by_one_turn_at_a_time() {
    let server = RedisServer::start();
    let fx = fixture(&config(Some(&server.url()), usize::MAX));
    let lease = &fx.backends.lease;
    let held = lease.acquire("s", Duration::ZERO).await.unwrap().unwrap();
    assert!(
        lease
            .acquire("s", Duration::from_millis(50))
            .await
            .unwrap()
            .is_none(),
        "taken: the wait ends empty-handed"
    );
    let other = lease.acquire("t", Duration::ZERO).await.unwrap();
    assert!(other.is_some(), "other sessions are free");
    lease.release(held).await;
    let again = lease.acquire("s", Duration::ZERO).await.unwrap();
    assert!(again.is_some(), "released: free again");
}

#[tokio::test]
async fn a_dead_holders_lease_runs_out_and_a_live_one_is_renewed() {
    let server = RedisServer::start();
    let mut config = config(Some(&server.url()), usize::MAX);
    config.sessions.redis.lease_ttl = Duration::from_millis(600);
    let fx = fixture(&config);
    let lease = &fx.backends.lease;
    // What an instance killed mid-turn leaves behind: a lease nobody renews.
    let mut redis = raw(&server).await;
    let left_behind = Instant::now();
    let _: () = redis::cmd("SET")
        .arg("contract:lease:{s}")
        .arg("dead-instance")
        .arg("PX")
        .arg(200)
        .query_async(&mut redis)
        .await
        .unwrap();
    let taken = lease.acquire("s", Duration::from_secs(5)).await.unwrap();
    assert!(taken.is_some(), "the dead holder's lease expired");
    assert!(
        left_behind.elapsed() >= Duration::from_millis(200),
        "only once it ran out"
    );
    // A live holder renews (every 200 ms here): long after its first TTL it still holds.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        lease.acquire("s", Duration::ZERO).await.unwrap().is_none(),
        "a running turn keeps its lease"
    );
    lease.release(taken.unwrap()).await;
    assert!(lease.acquire("s", Duration::ZERO).await.unwrap().is_some());
}

#[tokio::test]
async fn a_lease_whose_release_met_a_stall_is_freed_once_redis_answers_again() {
    let server = RedisServer::start();
    let mut config = config(Some(&server.url()), usize::MAX);
    config.sessions.redis.command_timeout = Duration::from_millis(200);
    config.sessions.redis.connect_timeout = Duration::from_millis(200);
    let fx = fixture(&config);
    let lease = &fx.backends.lease;
    let held = lease.acquire("s", Duration::ZERO).await.unwrap().unwrap();
    // The turn ends while Redis is stalled: handing the lease back times out.
    server.pause();
    lease.release(held).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.resume();
    // Its lease lives 10 s; it must not keep the session busy for more than a second.
    let again = lease.acquire("s", Duration::from_secs(1)).await.unwrap();
    assert!(
        again.is_some(),
        "the lease still held the session a second after Redis came back"
    );
}

#[tokio::test]
async fn a_session_too_large_loses_its_oldest_lines_then_is_refused() {
    let server = RedisServer::start();
    let mut config = config(Some(&server.url()), usize::MAX);
    config.sessions.max_session_bytes = 3_000;
    let fx = fixture(&config);
    let store = &fx.backends.store;
    let mut session = Session::new("s", "otp_authentication", 1, fx.clock.now());
    for line in 0..10 {
        let text = format!("{line}{}", "x".repeat(299));
        session.record(
            colloquy::dialog::session::Speaker::User,
            &text,
            fx.clock.now(),
            20,
        );
    }
    store.save(&mut session, None).await.unwrap();
    let kept = store.load("s").await.unwrap().unwrap();
    assert!(
        (1..10).contains(&kept.history.len()),
        "{}",
        kept.history.len()
    );
    assert!(kept.history.back().unwrap().text.starts_with('9'));
    let mut huge = kept.clone();
    huge.context.set(
        "answer",
        colloquy::dialog::value::Value::Text("y".repeat(5_000)),
    );
    assert!(matches!(
        store.save(&mut huge, None).await,
        Err(StoreError::TooLarge { limit: 3_000, .. })
    ));
    assert_eq!(
        store.load("s").await.unwrap().unwrap().version,
        kept.version
    );
}

#[tokio::test]
async fn the_archive_keeps_the_first_source_of_a_version() {
    let server = RedisServer::start();
    let fx = fixture(&config(Some(&server.url()), usize::MAX));
    let archive = &fx.backends.archive;
    archive.keep("d", 1, &|| "first".to_owned()).await.unwrap();
    archive
        .keep("d", 1, &|| "changed".to_owned())
        .await
        .unwrap();
    assert_eq!(
        archive.fetch("d", 1).await.unwrap().as_deref(),
        Some("first")
    );
    assert_eq!(archive.fetch("d", 2).await.unwrap(), None);
    // Another instance (a fresh adapter) sees it too.
    let other = fixture(&config(Some(&server.url()), usize::MAX));
    assert_eq!(
        other
            .backends
            .archive
            .fetch("d", 1)
            .await
            .unwrap()
            .as_deref(),
        Some("first")
    );
}

#[tokio::test]
async fn an_outage_is_unavailable_and_heals_by_itself() {
    let mut server = RedisServer::start();
    let fx = fixture(&config(Some(&server.url()), usize::MAX));
    let store = &fx.backends.store;
    let mut session = Session::new("s", "otp_authentication", 1, fx.clock.now());
    store.save(&mut session, None).await.unwrap();
    server.stop();

    let unavailable =
        |result: Result<_, StoreError>| matches!(result, Err(StoreError::Unavailable(_)));
    assert!(unavailable(store.ping().await));
    assert!(unavailable(store.load("s").await.map(drop)));
    assert!(unavailable(store.save(&mut session, None).await));
    assert_eq!(session.version, 1, "a failed save changes nothing");
    let limit = colloquy::store::RateLimit {
        max: 1,
        window: WINDOW,
    };
    assert!(unavailable(
        fx.backends.counters.acquire("k", limit).await.map(drop)
    ));
    assert!(unavailable(
        fx.backends
            .lease
            .acquire("s", Duration::ZERO)
            .await
            .map(drop)
    ));
    // Rate limits fall back to this instance's own buckets (1/s, burst 3).
    for _ in 0..3 {
        fx.backends
            .limiter
            .check(Scope::Ip, "10.0.0.9")
            .await
            .unwrap();
    }
    assert!(
        fx.backends
            .limiter
            .check(Scope::Ip, "10.0.0.9")
            .await
            .is_err()
    );

    server.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.ping().await.is_err() {
        assert!(Instant::now() < deadline, "the store never reconnected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut fresh = Session::new("t", "otp_authentication", 1, fx.clock.now());
    store.save(&mut fresh, None).await.unwrap();
    assert!(store.load("t").await.unwrap().is_some());
}

/// A turn's refunds go in the round trip of its save; a Redis that forgot its scripts (a
/// restart, `SCRIPT FLUSH`) answers that script with NOSCRIPT, and the save is sent again,
/// loaded, with every refund given back once.
#[tokio::test]
async fn refunds_go_with_the_save_even_when_redis_forgot_its_scripts() {
    use colloquy::dialog::reply::SessionEvent;
    use colloquy::store::Refund;

    let server = RedisServer::start();
    let fx = fixture(&config(Some(&server.url()), usize::MAX));
    let limit = colloquy::store::RateLimit {
        max: 5,
        window: WINDOW,
    };
    let counters = &fx.backends.counters;
    let mut redis = raw(&server).await;
    // The first finish meets a Redis without the script, as after a flush; the second, one
    // that has it.
    for (id, flush) in [("s", true), ("t", false)] {
        let opened = fx
            .backends
            .turns
            .begin(id, "m1", Duration::ZERO)
            .await
            .unwrap()
            .unwrap();
        let kept = counters.acquire("k", limit).await.unwrap().unwrap();
        let given_back = counters.acquire("k", limit).await.unwrap().unwrap();
        assert_eq!(given_back.count, 2);
        if flush {
            let _: () = redis::cmd("SCRIPT")
                .arg("FLUSH")
                .query_async(&mut redis)
                .await
                .unwrap();
        }
        let mut session = contract::session(&fx, id);
        let processed = contract::record(&fx, &session, "m1", "hi");
        let event = SessionEvent::Turn(processed.reply.clone());
        let round_trips = fx.backends.store.round_trips().unwrap();
        let refunds = [Refund {
            key: "k".into(),
            permit: given_back,
        }];
        fx.backends
            .turns
            .finish(opened.lease, &mut session, &processed, &event, &refunds)
            .await
            .unwrap();
        let took = fx.backends.store.round_trips().unwrap() - round_trips;
        assert_eq!(
            took,
            if flush { 2 } else { 1 },
            "the save and the refund in one round trip ({id})"
        );
        assert_eq!(
            counters.count("k", WINDOW).await.unwrap(),
            1,
            "only the refunded charge went ({id})"
        );
        counters.refund("k", kept).await.unwrap();
        assert!(fx.backends.store.load(id).await.unwrap().is_some());
        let again = fx.backends.turns.begin(id, "m2", Duration::ZERO).await;
        assert!(matches!(again, Ok(Some(_))), "the lease was freed ({id})");
    }
}
