//! The scale benchmark: fill the memory store with sessions made by real turns through the
//! engine, then measure what they cost: resident memory per session, the creation rate, and a
//! sweep when nothing has expired and when everything has (the clock moved past the TTL).
//! Sessions are either waiting (a first turn: greeting sent, waiting at `ask_email`, its
//! idempotency record kept) or ended (a whole conversation: greeting, address, the emailed
//! code, authenticated, with its three records), each kind in a process of its own.
//!
//! In process, on a manual clock: the figures are the store's, not the HTTP layer's.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::app;
use crate::clock::ManualClock;
use crate::config::Config;
use crate::dialog::State;
use crate::dialog::reply::TurnReply;
use crate::email::OutboxSender;
use crate::engine::{Engine, TurnRequest};

use super::process::{BENCH_CONFIG, own_memory};

/// What the sessions have done when they are measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    /// One turn: greeted, waiting for the address.
    Waiting,
    /// A whole conversation, authenticated.
    Ended,
}

#[derive(Clone, Debug)]
pub struct ScaleOptions {
    pub sessions: usize,
    pub kind: SessionKind,
    /// Tasks creating sessions at once (on as many runtime threads).
    pub threads: usize,
    /// Where the dialogs are (`dialogs` when run from the project).
    pub dialogs: PathBuf,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScaleReport {
    pub sessions: usize,
    pub kind: SessionKind,
    /// Length of the session ids used (as a widget's UUIDs would be).
    pub id_len: usize,
    pub threads: usize,
    pub rss_before_mib: f64,
    pub rss_after_mib: f64,
    pub peak_rss_mib: f64,
    pub bytes_per_session: f64,
    /// What the store counts per session against `sessions.max_bytes`: its estimate of the
    /// resident figure beside it.
    pub counted_bytes_per_session: f64,
    pub create_s: f64,
    pub sessions_per_s: f64,
    pub sweep_none_ms: f64,
    pub sweep_all_ms: f64,
    pub swept: usize,
    pub rss_swept_mib: f64,
}

/// A session id of 36 characters, the length of the UUIDs chat widgets commonly use.
fn session_id(i: usize) -> String {
    format!("scale-session-{i:022}")
}

/// Runs the scale benchmark on a runtime of its own.
pub fn run(options: &ScaleOptions) -> Result<ScaleReport, String> {
    let mut config = Config::from_source(BENCH_CONFIG, "bench/config.yaml", Vec::new())
        .map_err(|e| e.to_string())?;
    config.dialogs.dir.clone_from(&options.dialogs);
    config.limits.max_sessions = config.limits.max_sessions.max(options.sessions);
    // Every session is kept: what they cost is the measure.
    config.sessions.max_bytes = usize::MAX;
    let idle_ttl = config.sessions.idle_ttl;
    let (registry, reports) = crate::engine::registry::load_paths(
        std::slice::from_ref(&options.dialogs),
        &config.load_env(),
    )
    .map_err(|e| format!("cannot load dialogs: {e}"))?;
    if reports
        .iter()
        .any(crate::diagnostic::FileDiagnostics::has_errors)
    {
        return Err("the dialogs have errors (`colloquy check`)".to_owned());
    }
    let clock = Arc::new(ManualClock::at_epoch());
    let app = app::build(config, registry, clock.clone())?;
    let outbox = app.outbox.clone();
    let threads = options.threads.max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let engine = app.engine.clone();
        let mib = |kib: u64| {
            #[allow(clippy::cast_precision_loss)]
            let mib = kib as f64 / 1024.0;
            mib
        };
        let before = own_memory().map_or(0, |m| m.rss_kib);
        let started = Instant::now();
        create(&engine, outbox.as_ref(), options, threads).await?;
        let create_s = started.elapsed().as_secs_f64();
        let after = own_memory().unwrap_or_default();
        let count = engine.store().count().await.map_err(|e| e.to_string())?;
        let counted = engine.store().memory().map_or(0, |memory| memory.bytes);
        if count != options.sessions {
            return Err(format!(
                "{count} sessions stored, {} created",
                options.sessions
            ));
        }
        let started = Instant::now();
        let kept = engine.sweep().await.map_err(|e| e.to_string())?;
        let sweep_none = started.elapsed();
        if kept != 0 {
            return Err(format!("{kept} sessions expired before their time"));
        }
        clock.advance(idle_ttl + Duration::from_secs(1));
        let started = Instant::now();
        let swept = engine.sweep().await.map_err(|e| e.to_string())?;
        let sweep_all = started.elapsed();
        let swept_rss = own_memory().map_or(0, |m| m.rss_kib);
        #[allow(clippy::cast_precision_loss)]
        let per_session = |kib: u64| kib as f64 * 1024.0 / options.sessions.max(1) as f64;
        #[allow(clippy::cast_precision_loss)]
        let sessions_per_s = options.sessions as f64 / create_s.max(1e-9);
        Ok(ScaleReport {
            sessions: options.sessions,
            kind: options.kind,
            id_len: session_id(0).len(),
            threads,
            rss_before_mib: mib(before),
            rss_after_mib: mib(after.rss_kib),
            peak_rss_mib: mib(after.peak_rss_kib),
            bytes_per_session: per_session(after.rss_kib.saturating_sub(before)),
            #[allow(clippy::cast_precision_loss)]
            counted_bytes_per_session: counted as f64 / options.sessions.max(1) as f64,
            create_s,
            sessions_per_s,
            sweep_none_ms: sweep_none.as_secs_f64() * 1000.0,
            sweep_all_ms: sweep_all.as_secs_f64() * 1000.0,
            swept,
            rss_swept_mib: mib(swept_rss),
        })
    })
}

/// Creates the sessions, split over `tasks` tasks.
async fn create(
    engine: &Arc<Engine>,
    outbox: Option<&Arc<OutboxSender>>,
    options: &ScaleOptions,
    tasks: usize,
) -> Result<(), String> {
    let (sessions, kind) = (options.sessions, options.kind);
    let mut set = tokio::task::JoinSet::new();
    for task in 0..tasks {
        let engine = engine.clone();
        let outbox = outbox.cloned();
        set.spawn(async move {
            for i in (task..sessions).step_by(tasks) {
                match kind {
                    SessionKind::Waiting => waiting(&engine, i).await?,
                    SessionKind::Ended => ended(&engine, outbox.as_deref(), i).await?,
                }
            }
            Ok::<(), String>(())
        });
    }
    while let Some(joined) = set.join_next().await {
        joined.map_err(|e| e.to_string())??;
    }
    Ok(())
}

/// One message of session `i`, under a new random message id: a UUID, as chat widgets send
/// (`crypto.randomUUID()`), since an ended session keeps the ids of its messages.
async fn turn(engine: &Engine, i: usize, text: &str) -> Result<TurnReply, String> {
    engine
        .turn(TurnRequest {
            session_id: session_id(i),
            message_id: crate::hex::random_uuid(),
            text: text.to_owned(),
            dialog: None,
            locale: None,
            access: crate::engine::Access::open(),
        })
        .await
        .map_err(|e| e.to_string())
}

/// Session `i` greeted and waiting for the address.
async fn waiting(engine: &Engine, i: usize) -> Result<(), String> {
    let reply = turn(engine, i, "hi").await?;
    if reply.state != State::Waiting || reply.node != "ask_email" {
        return Err(format!("session {i} is not waiting at ask_email"));
    }
    Ok(())
}

/// Session `i` through a whole conversation, as a person types it, to `authenticated`.
async fn ended(engine: &Engine, outbox: Option<&OutboxSender>, i: usize) -> Result<(), String> {
    let outbox = outbox.ok_or("the bench config must send email to the dev outbox")?;
    waiting(engine, i).await?;
    let address = format!("user.{i}@scale.test");
    turn(engine, i, &format!("sure, it's {address} thanks")).await?;
    let email = outbox
        .last_to(&address)
        .ok_or_else(|| format!("no code was emailed to session {i}"))?;
    let code = super::driver::code_in(&email.text)
        .ok_or_else(|| format!("the email to session {i} has no code"))?
        .to_owned();
    let reply = turn(engine, i, &format!("ok it's {code}")).await?;
    if reply.state != State::Ended || reply.result.as_deref() != Some("authenticated") {
        return Err(format!("session {i} did not end authenticated"));
    }
    Ok(())
}
