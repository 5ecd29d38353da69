//! `cargo bench --bench step`: the pure state machine on one core.
//!
//! One iteration is a whole OTP conversation driven through `dialog::step` with the action
//! outcomes an engine would feed back (code sent, code valid): three user turns (the first
//! message, the email, the code), five `step` calls. Criterion's throughput is in turns.
//!
//! Before timing, a counting global allocator reports allocations per turn: for `step` alone
//! and for a whole in-process engine turn (memory store, dev outbox, no HTTP), so the cost of
//! each layer can be told apart (BENCHMARKS.md).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::alloc::System;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use colloquy::clock::ManualClock;
use colloquy::config::Config;
use colloquy::dialog::entities::{self, Hearing, Place};
use colloquy::dialog::session::Speaker;
use colloquy::dialog::understand::hear;
use colloquy::dialog::value::Value;
use colloquy::dialog::{Dialog, Input, Outcome, Session, State, StepEnv, step};
use colloquy::engine::{Engine, TurnRequest};
use criterion::{Criterion, Throughput};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const TURNS: u64 = 3;
const HISTORY: usize = 20;

fn dialog() -> Dialog {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/dialogs/otp_authentication.yaml"
    );
    let source = std::fs::read_to_string(path).unwrap();
    // The English flagship, without its translation files (the benchmark speaks English).
    colloquy::dialog::load_untranslated(&source, &colloquy::dialog::LoadEnv::default())
        .dialog
        .expect("a valid dialog")
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_893_456_000, 0).unwrap()
}

/// One conversation through `step`, as the engine drives it; returns the ended session.
fn conversation(dialog: &Dialog, now: DateTime<Utc>) -> Session {
    let env = StepEnv {
        now,
        history_limit: HISTORY,
        transitions_used: 0,
        place: Place::default(),
        email_domains: &[],
    };
    let mut replies = Vec::new();
    // Turn 1: the first message starts the dialog (the engine records it first).
    let mut session = Session::new("bench-session", &dialog.id, dialog.version, now);
    session.record(Speaker::User, "hi", now, HISTORY);
    let stepped = step(dialog, &mut session, Input::Start, env, &mut replies);
    assert!(stepped.call.is_none());
    session.context.end_turn(now);
    // Turn 2: the email; the machine asks for otp.send, the engine reports it sent.
    replies.clear();
    let stepped = step(
        dialog,
        &mut session,
        Input::Text("alice@example.com"),
        env,
        &mut replies,
    );
    assert!(stepped.call.is_some());
    let sent = Outcome::new("sent")
        .with("otp.length", Value::Number(4.0))
        .with("otp.expires_in_minutes", Value::Number(5.0));
    let env2 = StepEnv {
        transitions_used: stepped.transitions,
        place: Place::default(),
        email_domains: &[],
        ..env
    };
    step(
        dialog,
        &mut session,
        Input::Outcome(&sent),
        env2,
        &mut replies,
    );
    session.context.end_turn(now);
    // Turn 3: the code; otp.verify reports it valid and the dialog ends.
    replies.clear();
    let stepped = step(dialog, &mut session, Input::Text("1234"), env, &mut replies);
    let env3 = StepEnv {
        transitions_used: stepped.transitions,
        place: Place::default(),
        email_domains: &[],
        ..env
    };
    let valid = Outcome::new("valid");
    step(
        dialog,
        &mut session,
        Input::Outcome(&valid),
        env3,
        &mut replies,
    );
    session.context.end_turn(now);
    assert_eq!(session.state, State::Ended);
    assert_eq!(session.result.as_deref(), Some("authenticated"));
    session
}

/// An engine in this process, as `colloquy bench` runs it (bench/config.yaml), on a manual
/// clock.
fn engine() -> Arc<Engine> {
    let mut config = Config::from_source(
        include_str!("../bench/config.yaml"),
        "bench/config.yaml",
        Vec::new(),
    )
    .unwrap();
    config.dialogs.dir = concat!(env!("CARGO_MANIFEST_DIR"), "/dialogs").into();
    let (registry, _) = colloquy::engine::registry::load_paths(
        std::slice::from_ref(&config.dialogs.dir),
        &config.load_env(),
    )
    .unwrap();
    let app = colloquy::app::build(config, registry, Arc::new(ManualClock::at_epoch())).unwrap();
    OUTBOX.set(app.outbox.clone().unwrap()).ok();
    app.engine.clone()
}

static OUTBOX: std::sync::OnceLock<Arc<colloquy::email::OutboxSender>> = std::sync::OnceLock::new();
static CONVERSATIONS: AtomicU64 = AtomicU64::new(0);

fn turn(session: &str, message: &str, text: &str) -> TurnRequest {
    TurnRequest {
        session_id: session.to_owned(),
        message_id: message.to_owned(),
        text: text.to_owned(),
        dialog: None,
        locale: None,
        access: colloquy::engine::Access::open(),
    }
}

/// One conversation through `Engine::turn`; the allocations of each turn when `counts`.
async fn engine_conversation(engine: &Engine, mut counts: Option<&mut Vec<usize>>) {
    let n = CONVERSATIONS.fetch_add(1, Ordering::Relaxed);
    let session = format!("bench-{n}");
    let email = format!("u{n}@bench.test");
    let mut code = String::new();
    for (message, text) in [("m1", "hi"), ("m2", email.as_str()), ("m3", "")] {
        let text = if message == "m3" { code.as_str() } else { text };
        let region = Region::new(GLOBAL);
        let reply = engine.turn(turn(&session, message, text)).await.unwrap();
        if let Some(counts) = counts.as_deref_mut() {
            counts.push(region.change().allocations);
        }
        if message == "m2" {
            let email = OUTBOX.get().unwrap().last_to(&email).unwrap();
            email
                .text
                .split(|c: char| !c.is_ascii_digit())
                .find(|w| w.len() == 4)
                .unwrap()
                .clone_into(&mut code);
        }
        black_box(reply);
    }
}

fn report_allocations(dialog: &Dialog, engine: &Engine, runtime: &tokio::runtime::Runtime) {
    conversation(dialog, now());
    let region = Region::new(GLOBAL);
    black_box(conversation(dialog, now()));
    let stats = region.change();
    #[allow(clippy::cast_precision_loss)]
    let per_turn = stats.allocations as f64 / TURNS as f64;
    println!(
        "step: {} allocations per conversation ({per_turn:.1} per turn), {} bytes",
        stats.allocations, stats.bytes_allocated
    );
    runtime.block_on(engine_conversation(engine, None));
    let mut counts = Vec::new();
    runtime.block_on(engine_conversation(engine, Some(&mut counts)));
    let total: usize = counts.iter().sum();
    println!(
        "engine turn (in process, memory store, dev outbox, no HTTP): {total} allocations per conversation; by turn (hi, email, code): {counts:?}"
    );
}

fn main() {
    let dialog = dialog();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let engine = runtime.block_on(async { engine() });
    report_allocations(&dialog, &engine, &runtime);
    let mut criterion = Criterion::default().configure_from_args();
    let mut group = criterion.benchmark_group("otp_conversation");
    group.throughput(Throughput::Elements(TURNS));
    group.bench_function("step", |b| {
        b.iter(|| conversation(&dialog, black_box(now())));
    });
    group.bench_function("engine_turn", |b| {
        b.iter(|| runtime.block_on(engine_conversation(&engine, None)));
    });
    group.finish();
    // What understanding costs per message: a plain answer (the whole message is the value),
    // an answer inside a sentence, and a keyword phrase inside a sentence after no answer.
    let keywords = &dialog.keywords;
    let mut understand = criterion.benchmark_group("understand");
    understand.throughput(Throughput::Elements(1));
    let hearing = Hearing::plain(now());
    for (name, text, entity) in [
        ("plain_email", "alice@example.com", "email"),
        (
            "email_in_sentence",
            "sure, it's Bob.Smith@Example.com thanks",
            "email",
        ),
        ("code_in_sentence", "my code is 12 34", "otp_code"),
        (
            "keyword_in_sentence",
            "hmm never mind, please stop this",
            "otp_code",
        ),
    ] {
        let entity = entities::plain(entity).unwrap();
        understand.bench_function(name, |b| {
            b.iter(|| hear(black_box(text), &*entity, &hearing, &[keywords]));
        });
    }
    understand.finish();
    criterion.final_summary();
}
