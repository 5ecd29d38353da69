//! FlowX's OTP request/reply over Kafka (`kafka:`): generate and validate requests consumed
//! in a consumer group, each answered on its reply topic with the request's key and every
//! header copied, through the same code records, policy and limits as the HTTP OTP API.
//!
//! Delivery is at least once without doubles: an offset is committed only after the reply
//! was produced (`enable.auto.commit=false`), and each request's reply is kept in the store
//! (`records.rs`), so a redelivered request is answered the same and sends nothing. A
//! request that cannot be read is dead-lettered (and answered when it names its process),
//! never retried, so it cannot stall its partition. What fails for a while — the broker, the
//! store — is retried with backoff on the same request; `/healthz` shows the listener's state.
//!
//! Only `codes.rs` calls `engine::codes`; `wire.rs` is the message format; `answer.rs` turns a
//! request into a reply; `worker.rs` is the broker side; `client.rs` is the client setup and
//! the one producer the listener shares with the `kafka` email and SMS providers.

mod answer;
pub mod client;
mod codes;
mod records;
mod status;
mod templates;
mod wire;
mod worker;

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::KafkaConfig;
use crate::engine::Engine;

pub use answer::{Answer, Answerer, Incoming};
pub use client::{Acked, ProduceError, Producer};
pub use status::{Snapshot, State, Status};

/// Why the listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    #[error("cannot create the Kafka {what}: {source}")]
    Client {
        what: &'static str,
        #[source]
        source: rdkafka::error::KafkaError,
    },
    #[error("cannot subscribe to the request topics: {0}")]
    Subscribe(#[source] rdkafka::error::KafkaError),
    #[error("{0}")]
    Templates(String),
}

/// The running listener. Dropping it stops it (requests in flight are redelivered to
/// whoever consumes next: nothing was committed for them).
#[derive(Debug)]
pub struct Listener {
    status: Arc<Status>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Listener {
    /// Starts consuming both request topics of `config` for `engine`, reporting to `status`
    /// and replying through `producer`. Needs a tokio runtime; the broker need not be up.
    pub fn start(
        config: &KafkaConfig,
        engine: Arc<Engine>,
        status: Arc<Status>,
        producer: Producer,
    ) -> Result<Self, KafkaError> {
        let answerer = Answerer::new(config, engine)?;
        let clients = worker::Clients::new(config, status.clone(), producer)?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(worker::run(clients, answerer, stopped));
        tracing::info!(
            brokers = %config.brokers,
            group = %config.group_id,
            generate = %config.topics.generate_in,
            validate = %config.topics.validate_in,
            "kafka: listening for OTP requests"
        );
        Ok(Self {
            status,
            stop,
            task: Some(task),
        })
    }

    /// The listener `app`'s configuration asks for, started; `None` when `kafka.enabled` is
    /// off.
    pub fn for_app(app: &crate::app::App) -> Result<Option<Self>, KafkaError> {
        match (&app.kafka, &app.kafka_producer) {
            (Some(status), Some(producer)) => Self::start(
                &app.config.kafka,
                app.engine.clone(),
                status.clone(),
                producer.clone(),
            )
            .map(Some),
            _ => Ok(None),
        }
    }

    pub fn status(&self) -> Snapshot {
        self.status.snapshot()
    }

    /// Stops after the request in hand (its reply and commit, or neither).
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.status.set(State::Stopped);
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
