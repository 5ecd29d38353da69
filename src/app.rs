//! The composition root: the one place where configuration becomes stores, senders, keys and
//! an engine. Everything else receives its collaborators ready-made.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::{Config, EmailProvider, StoreKind};
use crate::email::{EmailSender, OutboxSender};
use crate::engine::{DialogRegistry, Engine, EngineSettings, OtpSettings, Parts};
use crate::otp::OtpKey;
use crate::store::{Counters, MemoryCounters, MemoryStore, RateLimit, SessionStore};

/// A built application: the engine and the adapters the HTTP layer exposes directly.
#[derive(Debug, Clone)]
pub struct App {
    pub engine: Arc<Engine>,
    /// The dev outbox, when it is the configured sender.
    pub outbox: Option<Arc<OutboxSender>>,
    pub config: Arc<Config>,
    /// No `otp.secret` was configured: codes are MAC'd with a random per-process key.
    pub random_otp_key: bool,
}

/// Builds the application from validated configuration and loaded dialogs.
pub fn build(
    config: Config,
    dialogs: DialogRegistry,
    clock: Arc<dyn Clock>,
) -> Result<App, String> {
    let store: Arc<dyn SessionStore> = match config.sessions.store {
        StoreKind::Memory => Arc::new(MemoryStore::new(
            config.sessions.idle_ttl,
            config.sessions.idempotency_window,
            clock.clone(),
        )),
    };
    let counters: Arc<dyn Counters> = Arc::new(MemoryCounters::new(clock.clone()));
    let (email, outbox): (Arc<dyn EmailSender>, _) = match config.email.provider {
        EmailProvider::Outbox => {
            let outbox = Arc::new(OutboxSender::new(
                config.email.outbox.capacity,
                config.email.outbox.fail_for.clone(),
                clock.clone(),
            ));
            (outbox.clone(), Some(outbox))
        }
    };
    let (key, random_otp_key) = match &config.otp.secret {
        Some(secret) => (OtpKey::from_secret(secret.expose())?, false),
        None => (OtpKey::random(&mut rand::rng()), true),
    };
    let otp = OtpSettings {
        key,
        policy: config.otp.policy(),
        send_limit: RateLimit {
            max: config.otp.max_sends_per_address,
            window: config.otp.send_window,
        },
        failure_limit: RateLimit {
            max: config.otp.max_failures_per_address,
            window: config.otp.failure_window,
        },
    };
    let settings = EngineSettings {
        default_dialog: config.dialogs.default.clone(),
        history_limit: config.sessions.history,
        send_timeout: config.email.send_timeout,
    };
    if dialogs.latest(&settings.default_dialog).is_none() {
        return Err(format!(
            "the default dialog `{}` (dialogs.default) is not among the loaded dialogs: {}",
            settings.default_dialog,
            dialogs.ids().collect::<Vec<_>>().join(", ")
        ));
    }
    let engine = Engine::new(Parts {
        dialogs,
        store,
        counters,
        email,
        clock,
        otp,
        settings,
    });
    Ok(App {
        engine: Arc::new(engine),
        outbox,
        config: Arc::new(config),
        random_otp_key,
    })
}
