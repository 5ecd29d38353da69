//! The in-process runner: every script on an engine of its own — its own [`ManualClock`],
//! dev outbox, session store and counters — so `wait` in one script cannot move another's
//! clock and per-address limits never leak between scripts. Scripts run in parallel (tokio
//! tasks, at most `jobs` at a time); results come back in script order.
//!
//! Dialogs are loaded once: the registry holds `Arc<Dialog>`s, so each engine's copy of it
//! shares them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::Semaphore;

use crate::app;
use crate::clock::{Clock, ManualClock};
use crate::config::{Config, EmailProvider, StoreKind};
use crate::dialog::State;
use crate::dialog::machine::Traced;
use crate::dialog::value::Value as ContextValue;
use crate::email::OutboxSender;
use crate::engine::{DialogRegistry, Engine, TurnRequest};

use crate::services::ServiceCaller;

use super::exec::{self, Email, Target, Turn};
use super::script::Script;
use super::services::ScriptedServices;
use super::{Failure, ScriptResult, Verdict};

/// What every in-process script starts from.
#[derive(Debug)]
pub struct InProcess {
    /// The base configuration; each script's settings are applied to a copy.
    pub config: Config,
    pub registry: DialogRegistry,
    /// Scripts running at once.
    pub jobs: usize,
}

impl InProcess {
    /// Prepares `config` for test runs: the dev outbox is the sender (emails are read from
    /// it, never sent), the runner, the only client, needs no API key, and sessions and
    /// limits stay in each script's own memory even when the config shares them in Redis.
    pub fn new(mut config: Config, registry: DialogRegistry, jobs: usize) -> Self {
        config.email.provider = EmailProvider::Outbox;
        config.auth.enabled = false;
        config.sessions.store = StoreKind::Memory;
        Self {
            config,
            registry,
            jobs: jobs.max(1),
        }
    }

    /// Runs every script; the results are in the order of `scripts`.
    pub async fn run(self: Arc<Self>, scripts: &[Arc<Script>]) -> Vec<ScriptResult> {
        let permits = Arc::new(Semaphore::new(self.jobs));
        let handles: Vec<_> = scripts
            .iter()
            .enumerate()
            .map(|(index, script)| {
                let setup = self.clone();
                let script = script.clone();
                let permits = permits.clone();
                tokio::spawn(async move {
                    // The semaphore is never closed, so acquiring cannot fail.
                    let _permit = permits.acquire_owned().await;
                    setup.run_one(script, index).await
                })
            })
            .collect();
        let mut results = Vec::with_capacity(handles.len());
        for (handle, script) in handles.into_iter().zip(scripts) {
            results.push(handle.await.unwrap_or_else(|error| {
                not_started(script.clone(), format!("the runner crashed: {error}"))
            }));
        }
        results
    }

    async fn run_one(&self, script: Arc<Script>, index: usize) -> ScriptResult {
        let started = Instant::now();
        let mut config = self.config.clone();
        script.settings.apply(&mut config);
        script.dialog.clone_into(&mut config.dialogs.default);
        let clock = Arc::new(ManualClock::at_epoch());
        // Scripted answers, when the script gives some, instead of the configured services.
        let services: Option<Arc<dyn ServiceCaller>> = (!script.services.is_empty())
            .then(|| Arc::new(ScriptedServices::new(script.services.clone())) as _);
        let built =
            app::build_with_services(config, self.registry.clone(), clock.clone(), services);
        let (engine, outbox) = match built {
            Ok(app) => match app.outbox {
                Some(outbox) => (app.engine, outbox),
                None => {
                    return not_started(
                        script,
                        "the engine was built without the dev outbox".to_owned(),
                    );
                }
            },
            Err(error) => return not_started(script, format!("cannot build the engine: {error}")),
        };
        let mut target = EngineTarget {
            engine,
            outbox,
            clock,
            session_id: format!("test-{}", index + 1),
            dialog: script.dialog.clone(),
            locale: script.locale.clone(),
            messages: 0,
            trace: Vec::new(),
        };
        let run_token = format!("t{}", index + 1);
        let (verdict, transcript) = exec::execute(&script, &run_token, &mut target).await;
        ScriptResult {
            script,
            verdict,
            transcript,
            trace: target.trace,
            elapsed: started.elapsed(),
        }
    }
}

/// A script that failed before its first step.
fn not_started(script: Arc<Script>, message: String) -> ScriptResult {
    ScriptResult {
        script,
        verdict: Verdict::Failed(Failure {
            step: None,
            message,
            expected: None,
            actual: None,
        }),
        transcript: Vec::new(),
        trace: Vec::new(),
        elapsed: Duration::ZERO,
    }
}

/// One script's engine, session and the transitions its turns took.
#[derive(Debug)]
struct EngineTarget {
    engine: Arc<Engine>,
    outbox: Arc<OutboxSender>,
    clock: Arc<ManualClock>,
    session_id: String,
    dialog: String,
    locale: Option<String>,
    messages: u64,
    trace: Vec<Traced>,
}

#[async_trait]
impl Target for EngineTarget {
    async fn send(&mut self, text: &str) -> Result<Turn, String> {
        self.messages += 1;
        let request = TurnRequest {
            session_id: self.session_id.clone(),
            message_id: format!("m{}", self.messages),
            text: text.to_owned(),
            dialog: Some(self.dialog.clone()),
            locale: self.locale.clone(),
            access: crate::engine::Access::open(),
        };
        let (reply, trace) = self
            .engine
            .turn_traced(request)
            .await
            .map_err(|error| error.to_string())?;
        self.trace.extend(trace);
        Ok(Turn {
            replies: reply.replies,
            ended: reply.state == State::Ended,
            node: reply.node,
            result: reply.result,
        })
    }

    async fn emails_to(&mut self, address: &str) -> Result<Vec<Email>, String> {
        Ok(self
            .outbox
            .list(Some(address))
            .into_iter()
            .map(|email| Email {
                id: email.id,
                channel: match email.channel {
                    crate::email::Channel::Email => "email",
                    crate::email::Channel::Sms => "sms",
                }
                .to_owned(),
                subject: email.subject,
                text: email.text,
            })
            .collect())
    }

    async fn wait(&mut self, by: Duration) -> Result<(), String> {
        self.clock.advance(by);
        Ok(())
    }

    async fn context(&mut self, name: &str) -> Result<Option<ContextValue>, String> {
        let session = self
            .engine
            .store()
            .load(&self.session_id)
            .await
            .map_err(|error| error.to_string())?;
        let now = self.clock.now();
        Ok(session.and_then(|s| s.context.get(name, now).cloned()))
    }
}
