//! `colloquy serve`: load and check everything, then serve until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use crate::clock::SystemClock;
use crate::{app, http, net, telemetry};

use super::{EXIT_OK, EXIT_USAGE, load_config, load_valid_dialogs, runtime};

/// What `serve` was asked on the command line, over the config file.
#[derive(Debug, Default)]
pub struct Overrides {
    /// `--addr`: the listen address.
    pub addr: Option<String>,
    /// `--watch`: reload dialogs when their files change.
    pub watch: bool,
    /// `--dev`: a clock the dev routes move, on loopback only.
    pub dev: bool,
}

pub fn run(config_path: Option<&Path>, overrides: Overrides) -> u8 {
    let Some(mut config) = load_config(config_path) else {
        return EXIT_USAGE;
    };
    config.dialogs.watch |= overrides.watch;
    config.server.dev |= overrides.dev;
    if let Some(addr) = overrides.addr {
        config.server.addr = addr;
    }
    // Anyone who reaches a dev server can move its clock and read what users typed: refuse
    // before anything starts rather than listen beyond this machine.
    let listen = if config.server.dev {
        match net::loopback_addrs(&config.server.addr) {
            Ok(addrs) => Some(addrs),
            Err(error) => {
                eprintln!("error: {error}");
                return EXIT_USAGE;
            }
        }
    } else {
        None
    };
    if let Err(error) = telemetry::init(&config.log) {
        eprintln!("error: {error}");
        return EXIT_USAGE;
    }
    let registry = match load_valid_dialogs(&config, "refusing to start: fix the dialogs above") {
        Ok(registry) => registry,
        Err(code) => return code,
    };
    let app = match app::build(config, registry, Arc::new(SystemClock)) {
        Ok(app) => app,
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_USAGE;
        }
    };
    match runtime() {
        Ok(runtime) => runtime.block_on(serve(app, listen)),
        Err(code) => code,
    }
}

/// The chance that guesses at one address find a code within a failure window, as this
/// configuration sets it (README, "Security bound"); loudly when it passes the 0.1 % a day
/// the defaults are built to stay under.
fn log_guessing_bound(otp: &crate::config::OtpConfig) {
    let Ok(escalation) = otp.escalation() else {
        return;
    };
    let bound = escalation.guess_bound(&otp.policy(), otp.max_failures_per_address);
    let percent = format!("{:.4}", bound * 100.0);
    let window = crate::duration::format_duration(otp.failure_window);
    if bound > 0.001 {
        tracing::warn!(percent, per = %window, "otp guessing bound per address is above 0.1 %: lower otp.max_failures_per_address or lengthen otp.longer_codes");
    } else {
        tracing::info!(percent, per = %window, "otp guessing bound per address");
    }
}

/// Serves `app` on `server.addr`, or on `listen` when given (a dev server's loopback
/// addresses, resolved once).
async fn serve(app: app::App, listen: Option<Vec<SocketAddr>>) -> u8 {
    let addr = app.config.server.addr.clone();
    http::fit_open_file_limit(app.config.server.max_connections);
    let bound = match &listen {
        Some(addrs) => tokio::net::TcpListener::bind(&addrs[..]).await,
        None => tokio::net::TcpListener::bind(&addr).await,
    };
    let listener = match bound {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("error: cannot listen on {addr}: {error}");
            return EXIT_USAGE;
        }
    };
    let local = listener.local_addr().map_or(addr, |a| a.to_string());
    let public = listener.local_addr().is_ok_and(|a| !a.ip().is_loopback());
    if public && !app.config.auth.enabled {
        tracing::warn!(addr = %local, "auth is OFF on a non-loopback address: anyone who can reach it can talk to any session (set auth.enabled: true and add clients)");
    }
    log_guessing_bound(&app.config.otp);
    if app.random_otp_key {
        tracing::warn!(
            "no otp.secret configured: using a random key; codes will not survive a restart (set COLLOQUY__OTP__SECRET in production)"
        );
        if app.config.sessions.store == crate::config::StoreKind::Redis {
            tracing::warn!(
                "sessions are shared in Redis but otp.secret is not set: a code sent by one instance will not verify on another"
            );
        }
    }
    if app.dev_clock.is_some() {
        tracing::warn!(addr = %local, "dev mode: POST /v1/dev/clock moves the engine's clock forward and GET /v1/dev/sessions/{{id}}/context shows a session's variables; for testing only, never in production");
        if app.config.sessions.store == crate::config::StoreKind::Redis {
            tracing::warn!(
                "dev mode with sessions in Redis: the dev clock is this process's own; other instances sharing the store keep theirs"
            );
        }
    }
    if app.outbox.is_some() {
        tracing::warn!(
            "email provider is the dev outbox: emails are recorded, not sent (GET /v1/dev/outbox, and the page /dev/mailbox)"
        );
        if public && !app.config.auth.enabled {
            tracing::warn!(addr = %local, "the dev mailbox shows every code to anyone who can reach this address: never run the outbox in production");
        }
    }
    // Starting without the store is allowed: requests get 503 until it answers.
    if let Err(error) = app.engine.store().ping().await {
        tracing::warn!(%error, "the session store does not answer: requests get 503 `unavailable` and /healthz says so until it does; service resumes by itself");
    } else if let Err(refusal) = check_durability(&app).await {
        eprintln!("error: {refusal}");
        return EXIT_USAGE;
    }
    let dialogs: Vec<String> = app
        .engine
        .dialogs()
        .summaries()
        .iter()
        .map(|d| format!("{} v{}", d.id, d.version))
        .collect();
    tracing::info!(addr = %local, dialogs = %dialogs.join(", "), "colloquy listening on http://{local}");
    let dir = app.config.dialogs.dir.clone();
    let hangups = tokio::spawn(crate::reload::on_hangup(app.engine.clone(), dir.clone()));
    let watcher = app
        .config
        .dialogs
        .watch
        .then(|| tokio::spawn(crate::reload::watch(app.engine.clone(), dir)));
    // The broker need not be up: the listener retries by itself and /healthz shows it.
    let kafka = match crate::kafka::Listener::for_app(&app) {
        Ok(kafka) => kafka,
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_USAGE;
        }
    };
    let state = http::AppState::new(app.clone());
    let sweeper = tokio::spawn(sweep_forever(state.clone()));
    let draining = state.clone();
    let grace = app.config.server.drain_grace;
    let shutdown = async move {
        shutdown_signal().await;
        draining.start_draining();
        tokio::time::sleep(grace).await;
        tracing::info!("closing the listener; waiting for turns in flight");
    };
    http::serve(listener, state, shutdown).await;
    if let Some(kafka) = kafka {
        kafka.stop().await;
    }
    sweeper.abort();
    hangups.abort();
    if let Some(watcher) = watcher {
        watcher.abort();
    }
    tracing::info!("stopped");
    EXIT_OK
}

/// With sessions in Redis: says loudly when Redis keeps nothing on disk (a restart of it
/// resets every guessing budget and send cap, and ends every conversation), and refuses to
/// start then with `sessions.redis.require_persistence`.
async fn check_durability(app: &app::App) -> Result<(), String> {
    use crate::store::Durability;
    let redis = &app.config.sessions.redis;
    match app.engine.store().durability().await {
        Durability::ThisProcess | Durability::OnDisk => Ok(()),
        Durability::MemoryOnly if redis.require_persistence => Err(
            "Redis keeps nothing on disk (appendonly no, no save points) and `sessions.redis.require_persistence` is on: turn on AOF or RDB snapshots".to_owned(),
        ),
        Durability::MemoryOnly => {
            tracing::warn!("Redis keeps nothing on disk (appendonly no, no save points): a restart of Redis resets every guessing budget and send cap and forgets every session; turn on AOF (`appendonly yes`) or set `sessions.redis.require_persistence: true` to refuse to start like this");
            Ok(())
        }
        Durability::Unknown(why) if redis.require_persistence => Err(format!(
            "cannot tell whether Redis keeps its data on disk ({why}) and `sessions.redis.require_persistence` is on"
        )),
        Durability::Unknown(why) => {
            tracing::warn!(why, "cannot tell whether Redis keeps its data on disk (CONFIG GET refused?); if it does not, a restart of Redis resets every guessing budget and send cap");
            Ok(())
        }
    }
}

async fn sweep_forever(state: std::sync::Arc<http::AppState>) {
    let app = &state.app;
    let mut interval = tokio::time::interval(app.config.sessions.sweep_interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        state.sweep();
        match app.engine.sweep().await {
            Ok(0) => {}
            Ok(swept) => tracing::debug!(swept, "expired sessions swept"),
            Err(error) => tracing::warn!(%error, "sweep failed"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
