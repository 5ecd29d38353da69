//! The load driver and the scale benchmark, run briefly: they work and a correct engine gives
//! them no errors. Figures are not asserted (machines differ); `colloquy bench` reports them.

use std::time::Duration;

use colloquy::bench::driver::{self, Options, Target};
use colloquy::bench::scale::{self, ScaleOptions, SessionKind};
use colloquy::bench::{ClientKind, baseline};
use colloquy::config::Rate;

use crate::helpers::{dialogs_dir, spawn_app_with, test_config};

fn options(url: String, target: Target, client: ClientKind, users: usize) -> Options {
    Options {
        url,
        users,
        warmup: Duration::from_millis(300),
        duration: Duration::from_secs(2),
        target,
        client,
        run_id: "smoke".to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_users_complete_otp_conversations_without_errors() {
    let mut config = test_config();
    // Every simulated user comes from 127.0.0.1: the per-IP limit would throttle them.
    config.limits.per_ip = Rate {
        per_second: 0,
        burst: 0,
    };
    config.otp.max_sends_per_address = 1_000_000;
    let app = spawn_app_with(config).await;
    for client in [ClientKind::Hyper, ClientKind::Reqwest] {
        let mut options = options(format!("http://{}", app.addr), Target::Engine, client, 2);
        // Runs against one server must not meet each other's sessions.
        options.run_id = format!("smoke{client:?}").to_lowercase();
        let report = driver::run(&options).await.unwrap();
        assert_eq!(
            report.error_count + report.warmup_errors,
            0,
            "{client:?}: {:?}",
            report.errors
        );
        assert!(
            report.conversations > 0,
            "{client:?}: no conversation ended"
        );
        assert_eq!(report.turns, report.turn_latency.count);
        assert!(report.turn_latency.p50_ms <= report.turn_latency.p99_ms);
        assert!(report.turn_latency.p99_ms <= report.turn_latency.max_ms);
    }
    let emails = app.outbox().list(None);
    assert!(
        emails
            .iter()
            .any(|e| e.to.ends_with(".smokereqwest@bench.test")),
        "the codes went through the dev outbox"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_driver_reads_the_baseline_the_same_way() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, baseline::router()).await });
    let report = driver::run(&options(
        format!("http://{addr}"),
        Target::Baseline,
        ClientKind::Hyper,
        2,
    ))
    .await
    .unwrap();
    assert_eq!(report.error_count, 0, "{:?}", report.errors);
    assert!(report.conversations > 0);
}

#[tokio::test]
async fn the_engine_errors_are_reported_not_hidden() {
    // The driver checks answers: a server that is not an engine gives only wrong flows.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, baseline::router()).await });
    let mut options = options(
        format!("http://{addr}"),
        Target::Engine,
        ClientKind::Hyper,
        1,
    );
    options.warmup = Duration::ZERO;
    options.duration = Duration::from_millis(300);
    let report = driver::run(&options).await.unwrap();
    assert_eq!(report.conversations, 0);
    assert!(report.error_count > 0);
    assert!(
        report
            .errors
            .keys()
            .all(|kind| kind.starts_with("wrong_flow"))
    );
}

#[test]
fn the_scale_benchmark_creates_and_sweeps_sessions() {
    for kind in [SessionKind::Waiting, SessionKind::Ended] {
        let report = scale::run(&ScaleOptions {
            sessions: 2_000,
            kind,
            threads: 2,
            dialogs: dialogs_dir(),
        })
        .unwrap();
        assert_eq!(report.sessions, 2_000);
        assert_eq!(report.swept, 2_000, "every session expired after the TTL");
        assert!(report.counted_bytes_per_session > 0.0);
    }
}
