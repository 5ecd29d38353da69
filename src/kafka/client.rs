//! The Kafka client setup every part of the server shares: the librdkafka properties from
//! `kafka:` (brokers, `kafka.properties`), the callbacks that turn librdkafka's logs and
//! errors into ours, and the one producer — used by the listener for replies and dead
//! letters, and by the `kafka` email and SMS providers for DIGIT's notification topics.
//!
//! Imports nothing above it (config, the listener's status): the senders in `email/` and
//! `sms/` use it without reaching the listener or the engine.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::ConsumerContext;
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;

use crate::config::KafkaConfig;

use super::status::{State, Status};

/// How long librdkafka tries to deliver one record before reporting failure (the listener
/// then produces it again after a backoff; a sender reports the failure sooner, after its
/// own `delivery_timeout`).
const DELIVERY_TIMEOUT_MS: &str = "10000";

/// How long a record may wait for room in librdkafka's queue before `send` gives up.
const QUEUE_TIMEOUT: Duration = Duration::from_secs(2);

/// librdkafka's callbacks: its log lines into ours, its errors into the listener's status
/// (when there is a listener).
#[derive(Debug, Clone)]
pub struct Context {
    status: Option<Arc<Status>>,
}

impl Context {
    pub fn new(status: Option<Arc<Status>>) -> Self {
        Self { status }
    }
}

impl ClientContext for Context {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, message: &str) {
        use rdkafka::config::RDKafkaLogLevel as L;
        match level {
            L::Emerg | L::Alert | L::Critical | L::Error | L::Warning => {
                tracing::warn!(target: "librdkafka", fac, "{message}");
            }
            _ => tracing::debug!(target: "librdkafka", fac, "{message}"),
        }
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        use rdkafka::types::RDKafkaErrorCode as C;
        if matches!(
            error.rdkafka_error_code(),
            Some(C::AllBrokersDown | C::BrokerTransportFailure)
        ) && let Some(status) = &self.status
        {
            status.set(State::Unreachable);
        }
        tracing::warn!(%error, reason, "kafka: client error");
    }
}

impl ConsumerContext for Context {}

/// The properties every client starts from: `kafka.properties`, then `bootstrap.servers`.
pub fn common_config(config: &KafkaConfig) -> ClientConfig {
    let mut common = ClientConfig::new();
    for (key, value) in &config.properties {
        common.set(key, value);
    }
    common.set("bootstrap.servers", &config.brokers);
    common
}

/// The broker did not take a record.
#[derive(Debug, thiserror::Error)]
pub enum ProduceError {
    #[error("the broker did not acknowledge the record: {0}")]
    Refused(#[source] rdkafka::error::KafkaError),
    #[error("the broker did not acknowledge the record within {0:?}")]
    TimedOut(Duration),
}

/// What a failed record means for the message it carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The broker was unreachable or slow: a later attempt may work.
    Temporary,
    /// The topic does not exist or may not be written, or the credentials are refused: an
    /// operator must act.
    Misconfigured,
    /// This record can never be taken (too large).
    Rejected,
}

impl ProduceError {
    pub fn failure(&self) -> Failure {
        use rdkafka::types::RDKafkaErrorCode as C;
        let code = match self {
            ProduceError::TimedOut(_) => return Failure::Temporary,
            ProduceError::Refused(error) => error.rdkafka_error_code(),
        };
        match code {
            Some(
                C::UnknownTopic
                | C::UnknownTopicOrPartition
                | C::InvalidTopic
                | C::TopicAuthorizationFailed
                | C::Authentication
                | C::SaslAuthenticationFailed,
            ) => Failure::Misconfigured,
            Some(C::MessageSizeTooLarge | C::InvalidMessageSize) => Failure::Rejected,
            _ => Failure::Temporary,
        }
    }
}

/// Where the broker put an acknowledged record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acked {
    pub partition: i32,
    pub offset: i64,
}

/// The one producer of a server: `acks=all`, so a delivery report means every in-sync
/// replica has the record.
#[derive(Clone)]
pub struct Producer {
    inner: FutureProducer<Context>,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer").finish_non_exhaustive()
    }
}

impl Producer {
    /// A producer for `config`'s brokers; `status` is the listener's, when there is one.
    /// The broker need not be up.
    pub fn new(
        config: &KafkaConfig,
        status: Option<Arc<Status>>,
    ) -> Result<Self, rdkafka::error::KafkaError> {
        let inner = common_config(config)
            .set("message.timeout.ms", DELIVERY_TIMEOUT_MS)
            .set("acks", "all")
            // Every record is awaited alone (a reply before its offset is committed, a code
            // before the caller hears it): waiting 5 ms for a batch (librdkafka's default)
            // would only add 5 ms to each.
            .set("linger.ms", "0")
            .create_with_context(Context::new(status))?;
        Ok(Self { inner })
    }

    /// Hands a notification (an email or a text for DIGIT's notification services) to the
    /// broker, keyed by its recipient so one person's messages stay in order on one
    /// partition. `Ok` is where it landed (`topic/partition/offset`, the provider's message
    /// id); `Err` is what kind of failure it was, and words for the log.
    pub async fn notify(
        &self,
        topic: &str,
        recipient: &str,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<String, (Failure, String)> {
        match self
            .deliver(topic, Some(recipient.as_bytes()), payload, None, timeout)
            .await
        {
            Ok(acked) => Ok(format!("{topic}/{}/{}", acked.partition, acked.offset)),
            Err(error) => Err((error.failure(), format!("{error} (topic {topic})"))),
        }
    }

    /// Produces one record and waits for the broker's acknowledgement (the delivery
    /// report), at most `timeout`. A record given up on here may still be delivered later
    /// by librdkafka, within its own delivery timeout.
    pub async fn deliver(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        payload: &[u8],
        headers: Option<&OwnedHeaders>,
        timeout: Duration,
    ) -> Result<Acked, ProduceError> {
        let mut record = FutureRecord::<[u8], [u8]>::to(topic).payload(payload);
        if let Some(key) = key {
            record = record.key(key);
        }
        if let Some(headers) = headers {
            record = record.headers(headers.clone());
        }
        let sending = self.inner.send(record, Timeout::After(QUEUE_TIMEOUT));
        match tokio::time::timeout(timeout, sending).await {
            Ok(Ok(delivery)) => Ok(Acked {
                partition: delivery.partition,
                offset: delivery.offset,
            }),
            Ok(Err((error, _))) => Err(ProduceError::Refused(error)),
            Err(_) => Err(ProduceError::TimedOut(timeout)),
        }
    }
}
