//! The composition root: the one place where configuration becomes stores, senders, keys and
//! an engine. Everything else receives its collaborators ready-made.

use std::sync::Arc;

use crate::agents::{AgentDesk, StreamOnly, WebhookDesk};
use crate::clock::{Clock, OffsetClock};
use crate::config::{Config, EmailProvider, SmsProvider};
use crate::email::{ApiKey, DigitEmailSender, EmailSender, OutboxSender, SendgridSender};
use crate::engine::{DialogRegistry, Engine, EngineSettings, OtpSettings, Parts};
use crate::kafka::Producer;
use crate::metrics::Metrics;
use crate::otp::OtpKey;
use crate::services::{ServiceCaller, Services};
use crate::sms::{
    DigitSmsSender, HttpSmsSender, SmsGuard, SmsSender, TwilioCredentials, TwilioSender,
};
use crate::store::{Backends, RateLimit, RateLimiter};

/// A built application: the engine and the adapters the HTTP layer exposes directly.
#[derive(Debug, Clone)]
pub struct App {
    pub engine: Arc<Engine>,
    /// The dev outbox, when it is the configured sender.
    pub outbox: Option<Arc<OutboxSender>>,
    pub config: Arc<Config>,
    /// The request rate limits' buckets (in memory, or shared in Redis).
    pub limiter: Arc<dyn RateLimiter>,
    /// Request signatures and single-use tokens already used (in memory, or shared in Redis).
    pub replay: Arc<dyn crate::store::ReplayGuard>,
    /// No `otp.secret` was configured: codes are MAC'd with a random per-process key.
    pub random_otp_key: bool,
    /// In dev mode (`server.dev`), the engine's clock, which the dev routes move forward.
    pub dev_clock: Option<Arc<OffsetClock>>,
    /// Where the Kafka listener stands, when `kafka.enabled` (`/healthz` shows it).
    pub kafka: Option<Arc<crate::kafka::Status>>,
    /// The one Kafka producer, when the listener or a `kafka` email or SMS provider needs
    /// one: replies, dead letters and DIGIT's notifications share it.
    pub kafka_producer: Option<Producer>,
}

/// Builds the application from validated configuration and loaded dialogs.
pub fn build(
    config: Config,
    dialogs: DialogRegistry,
    clock: Arc<dyn Clock>,
) -> Result<App, String> {
    build_with_services(config, dialogs, clock, None)
}

/// Like [`build`], with `services` answering `http.request` instead of the configured
/// services over HTTP (`colloquy test`'s scripted answers).
pub fn build_with_services(
    config: Config,
    dialogs: DialogRegistry,
    clock: Arc<dyn Clock>,
    services: Option<Arc<dyn ServiceCaller>>,
) -> Result<App, String> {
    config.auth.validate()?;
    config.kore.validate()?;
    // In dev mode everything that reads the engine's clock reads one that can be moved
    // forward: codes, idle sessions, per-address and request limits all move together. The
    // clock given (the wall clock when serving) stays for what other parties' clocks say.
    let wall = clock;
    let dev_clock = config
        .server
        .dev
        .then(|| Arc::new(OffsetClock::over(wall.clone())));
    let clock: Arc<dyn Clock> = match &dev_clock {
        Some(dev) => dev.clone(),
        None => wall.clone(),
    };
    let backends = Backends::from_config(&config, &clock, || dialogs.dictionaries())?;
    let metrics = Arc::new(Metrics::default());
    let (kafka_status, kafka_producer) = kafka_clients(&config)?;
    let (email, outbox) = email_sender(&config, &clock, &wall, &metrics, kafka_producer.as_ref())?;
    let (sms, outbox) = sms_sender(&config, &clock, &wall, outbox, kafka_producer.as_ref())?;
    let sms_guard = SmsGuard::from_config(&config.sms, config.dialogs.phone_region.as_deref())?;
    if sms_guard.allows_any_country() && config.sms.provider != SmsProvider::Outbox {
        tracing::warn!(
            "sms: texts may go to any country (sms.guard.countries); the guard's caps still apply"
        );
    }
    let services = match services {
        Some(services) => services,
        None => Arc::new(
            Services::new(&config.services, metrics.clone()).map_err(|error| error.to_string())?,
        ),
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
        escalation: config.otp.escalation()?,
    };
    let settings = EngineSettings {
        default_dialog: config.dialogs.default.clone(),
        locale: config.dialogs.locale.clone(),
        place: config.dialogs.place()?,
        email_domains: config.email.suggest_domains.clone(),
        history_limit: config.sessions.history,
        send_timeout: config.email.send_timeout,
        sms_timeout: config.sms.send_timeout,
        session_queue: config.limits.session_queue,
        queue_timeout: config.limits.queue_timeout,
    };
    if dialogs.latest(&settings.default_dialog).is_none() {
        return Err(format!(
            "the default dialog `{}` (dialogs.default) is not among the loaded dialogs: {}",
            settings.default_dialog,
            dialogs.ids().collect::<Vec<_>>().join(", ")
        ));
    }
    let desk: Arc<dyn AgentDesk> = match &config.handoff.webhook {
        Some(webhook) => {
            Arc::new(WebhookDesk::new(webhook, wall.clone()).map_err(|error| error.to_string())?)
        }
        None => Arc::new(StreamOnly),
    };
    let engine = Engine::new(Parts {
        dialogs,
        store: backends.store,
        counters: backends.counters,
        lease: backends.lease,
        archive: backends.archive,
        events: backends.events,
        turns: backends.turns,
        email,
        sms,
        sms_guard,
        services,
        desk,
        load_env: config.load_env(),
        clock,
        otp,
        settings,
        metrics,
    });
    Ok(App {
        engine: Arc::new(engine),
        outbox,
        config: Arc::new(config),
        limiter: backends.limiter,
        replay: backends.replay,
        random_otp_key,
        dev_clock,
        kafka: kafka_status,
        kafka_producer,
    })
}

/// The listener's status when `kafka.enabled`, and the producer when the listener or a
/// `kafka` provider will use it.
type KafkaClients = (Option<Arc<crate::kafka::Status>>, Option<Producer>);

fn kafka_clients(config: &Config) -> Result<KafkaClients, String> {
    let status = config
        .kafka
        .enabled
        .then(|| Arc::new(crate::kafka::Status::default()));
    let needed = config.kafka.enabled
        || config.email.provider == EmailProvider::Kafka
        || config.sms.provider == SmsProvider::Kafka;
    if !needed {
        return Ok((status, None));
    }
    let producer = Producer::new(&config.kafka, status.clone())
        .map_err(|error| format!("cannot create the Kafka producer: {error}"))?;
    Ok((status, Some(producer)))
}

/// The producer a `kafka` provider was configured with.
fn producer_for(producer: Option<&Producer>) -> Result<Producer, String> {
    producer
        .cloned()
        .ok_or_else(|| "the Kafka producer was not built".to_owned())
}

/// The sender the engine uses, and the dev outbox again when that is it.
type Senders = (Arc<dyn EmailSender>, Option<Arc<OutboxSender>>);

/// The configured sender. SendGrid's key is checked here, so `serve` refuses to start
/// without a usable one. The outbox stamps emails with the engine's `clock`; SendGrid reads
/// the times it answers with (`X-RateLimit-Reset`) against the `wall` clock, which a dev
/// clock runs ahead of.
fn email_sender(
    config: &Config,
    clock: &Arc<dyn Clock>,
    wall: &Arc<dyn Clock>,
    metrics: &Arc<Metrics>,
    producer: Option<&Producer>,
) -> Result<Senders, String> {
    match config.email.provider {
        EmailProvider::Outbox => {
            let outbox = Arc::new(
                OutboxSender::new(
                    config.email.outbox.capacity,
                    config.email.outbox.fail_for.clone(),
                    clock.clone(),
                )
                .with_delay(config.email.outbox.delay)
                .failing_subjects(config.email.outbox.fail_subjects.clone()),
            );
            Ok((outbox.clone(), Some(outbox)))
        }
        EmailProvider::Sendgrid => {
            let key = ApiKey::parse(config.email.sendgrid.api_key.as_ref())
                .map_err(|error| error.to_string())?;
            let sender = SendgridSender::new(&config.email, &key, wall.clone(), metrics.clone())?;
            tracing::info!(
                endpoint = sender.endpoint(),
                sandbox = config.email.sendgrid.sandbox,
                template_id = config.email.sendgrid.template_id.as_deref().unwrap_or(""),
                "email: sending through SendGrid"
            );
            if config.email.sendgrid.sandbox {
                tracing::warn!(
                    "SendGrid sandbox mode is on: requests are validated, no email is delivered"
                );
            }
            Ok((Arc::new(sender), None))
        }
        EmailProvider::Kafka => {
            let sender = DigitEmailSender::new(producer_for(producer)?, &config.email.kafka);
            tracing::info!(
                brokers = %config.kafka.brokers,
                topic = sender.topic(),
                "email: handing emails to DIGIT's egov-notification-mail over Kafka"
            );
            Ok((Arc::new(sender), None))
        }
    }
}

/// The SMS sender the engine uses, and the dev outbox the HTTP layer shows.
type SmsSenders = (Arc<dyn SmsSender>, Option<Arc<OutboxSender>>);

/// The configured SMS sender, and the dev outbox the HTTP layer shows. With the outbox as
/// both, texts and emails share one, so a script or a developer reads both in one place.
/// With emails going to a provider, texts get an outbox of their own that nothing shows:
/// a server configured for production must not serve codes from `/v1/dev/outbox` because
/// the SMS provider was left at its default.
fn sms_sender(
    config: &Config,
    clock: &Arc<dyn Clock>,
    wall: &Arc<dyn Clock>,
    outbox: Option<Arc<OutboxSender>>,
    producer: Option<&Producer>,
) -> Result<SmsSenders, String> {
    Ok(match config.sms.provider {
        SmsProvider::Outbox => match outbox {
            Some(outbox) => (outbox.clone(), Some(outbox)),
            None => {
                tracing::warn!(
                    "sms: texts are kept in a private dev outbox (sms.provider: outbox), not sent"
                );
                let own = OutboxSender::new(
                    config.email.outbox.capacity,
                    config.email.outbox.fail_for.clone(),
                    clock.clone(),
                );
                (Arc::new(own), None)
            }
        },
        SmsProvider::Twilio => {
            let twilio = &config.sms.twilio;
            let credentials =
                TwilioCredentials::parse(twilio.account_sid.as_ref(), twilio.auth_token.as_ref())
                    .map_err(|error| error.to_string())?;
            let sender = TwilioSender::new(twilio, credentials)?;
            tracing::info!(endpoint = sender.endpoint(), "sms: sending through Twilio");
            (Arc::new(sender), outbox)
        }
        SmsProvider::Http => {
            let sender = HttpSmsSender::new(&config.sms.http)?;
            tracing::info!(
                endpoint = sender.endpoint(),
                "sms: sending through the HTTP gateway"
            );
            (Arc::new(sender), outbox)
        }
        SmsProvider::Kafka => {
            let sender =
                DigitSmsSender::new(producer_for(producer)?, &config.sms.kafka, wall.clone());
            tracing::info!(
                brokers = %config.kafka.brokers,
                topic = sender.topic(),
                "sms: handing texts to DIGIT's egov-notification-sms over Kafka"
            );
            (Arc::new(sender), outbox)
        }
    })
}
