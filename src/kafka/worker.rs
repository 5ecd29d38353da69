//! The broker side: one consumer in the group on both request topics, one producer for
//! replies and dead letters, and the loop between them — receive, answer, produce, commit.
//!
//! One request at a time, in order: a partition's requests are answered in the order they
//! were written, and an offset is committed only once everything before it was answered.
//! Transient failures (the broker, the store) are retried on the same request with backoff;
//! while they last that partition waits, which is the price of losing nothing.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders, OwnedMessage};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::watch;

use crate::config::KafkaConfig;

use super::KafkaError;
use super::answer::{Answerer, Incoming};
use super::client::{self, Context, Producer};
use super::status::{State, Status};

/// How often the broker is asked for metadata, to tell `/healthz` whether it answers.
const PROBE_EVERY: Duration = Duration::from_secs(2);

/// The first wait after a failure; each next one doubles, up to `kafka.max_backoff`.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// How long a reply's delivery report is waited for: longer than librdkafka's own delivery
/// timeout, so its report (delivered or failed) always comes first and a reply is produced
/// again only after librdkafka gave it up.
const REPLY_ACK_WAIT: Duration = Duration::from_secs(15);

/// The header naming the process instance a request belongs to.
const PID_HEADER: &str = "processInstanceId";

/// The consumer and producer one listener uses.
pub struct Clients {
    consumer: Arc<StreamConsumer<Context>>,
    producer: Producer,
    status: Arc<Status>,
    dead_letter: String,
    max_backoff: Duration,
}

impl Clients {
    /// The listener's consumer beside the server's `producer`.
    pub fn new(
        config: &KafkaConfig,
        status: Arc<Status>,
        producer: Producer,
    ) -> Result<Self, KafkaError> {
        let mut consuming = client::common_config(config);
        consuming
            .set("group.id", &config.group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", millis(config.session_timeout))
            .set("heartbeat.interval.ms", millis(config.heartbeat_interval));
        let consumer: StreamConsumer<Context> = consuming
            .create_with_context(Context::new(Some(status.clone())))
            .map_err(|source| KafkaError::Client {
                what: "consumer",
                source,
            })?;
        consumer
            .subscribe(&[&config.topics.generate_in, &config.topics.validate_in])
            .map_err(KafkaError::Subscribe)?;
        Ok(Self {
            consumer: Arc::new(consumer),
            producer,
            status,
            dead_letter: config.topics.dead_letter.clone(),
            max_backoff: config.max_backoff,
        })
    }
}

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clients")
            .field("dead_letter", &self.dead_letter)
            .finish_non_exhaustive()
    }
}

fn millis(duration: Duration) -> String {
    duration.as_millis().to_string()
}

/// Consumes until `stopped` turns true.
pub async fn run(clients: Clients, answerer: Answerer, mut stopped: watch::Receiver<bool>) {
    let probe = tokio::spawn(probe(
        clients.consumer.clone(),
        clients.status.clone(),
        answerer.topics.generate_in.clone(),
    ));
    let mut backoff = Backoff::new(clients.max_backoff);
    loop {
        let received = tokio::select! {
            _ = stopped.changed() => break,
            received = clients.consumer.recv() => received.map(|m| m.detach()),
        };
        match received {
            Ok(message) => {
                backoff.reset();
                clients.status.set(State::Connected);
                if !clients.handle(&answerer, &message, &mut stopped).await {
                    break;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "kafka: cannot receive; trying again");
                if !backoff.wait(&mut stopped).await {
                    break;
                }
            }
        }
    }
    probe.abort();
}

/// Asks the broker for a request topic's metadata now and then: `/healthz` tells whether it
/// answers. One topic, not all: the answer stays small however many topics the cluster has.
async fn probe(consumer: Arc<StreamConsumer<Context>>, status: Arc<Status>, topic: String) {
    loop {
        let asking = consumer.clone();
        let topic = topic.clone();
        let answered = tokio::task::spawn_blocking(move || {
            asking.fetch_metadata(Some(&topic), PROBE_EVERY).is_ok()
        })
        .await
        .unwrap_or(false);
        status.set(if answered {
            State::Connected
        } else {
            State::Unreachable
        });
        tokio::time::sleep(PROBE_EVERY).await;
    }
}

impl Clients {
    /// Answers `message`, produces the reply and dead letter, commits. `false`: stopped
    /// before that was done (nothing committed: it will be redelivered).
    async fn handle(
        &self,
        answerer: &Answerer,
        message: &OwnedMessage,
        stopped: &mut watch::Receiver<bool>,
    ) -> bool {
        let headers = message.headers().cloned().unwrap_or_else(OwnedHeaders::new);
        let pid_header = headers
            .iter()
            .find(|h| h.key == PID_HEADER)
            .and_then(|h| h.value)
            .and_then(|v| std::str::from_utf8(v).ok());
        let incoming = Incoming {
            topic: message.topic(),
            key: message.key(),
            payload: message.payload().unwrap_or_default(),
            pid_header,
        };
        let mut backoff = Backoff::new(self.max_backoff);
        let answer = loop {
            match answerer.answer(&incoming).await {
                Ok(answer) => break answer,
                Err(error) => {
                    tracing::warn!(%error, "kafka: cannot answer a request yet; trying again");
                    if !backoff.wait(stopped).await {
                        return false;
                    }
                }
            }
        };
        if let Some((topic, body)) = &answer.reply
            && !self
                .produce(topic, message.key(), body.as_bytes(), &headers, stopped)
                .await
        {
            return false;
        }
        if let Some(error) = &answer.dead_letter {
            tracing::warn!(
                topic = message.topic(),
                partition = message.partition(),
                offset = message.offset(),
                error,
                answered = answer.reply.is_some(),
                "kafka: unreadable request sent to the dead-letter topic"
            );
            let marked = dead_letter_headers(&headers, message, error);
            if !self
                .produce(
                    &self.dead_letter,
                    message.key(),
                    incoming.payload,
                    &marked,
                    stopped,
                )
                .await
            {
                return false;
            }
            self.status.dead_lettered();
        }
        self.status.answered();
        self.commit(message);
        true
    }

    /// Produces until the broker took it; `false` when stopped first.
    async fn produce(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        payload: &[u8],
        headers: &OwnedHeaders,
        stopped: &mut watch::Receiver<bool>,
    ) -> bool {
        let mut backoff = Backoff::new(self.max_backoff);
        loop {
            match self
                .producer
                .deliver(topic, key, payload, Some(headers), REPLY_ACK_WAIT)
                .await
            {
                Ok(_) => return true,
                Err(error) => {
                    tracing::warn!(%error, topic, "kafka: cannot produce; trying again");
                    if !backoff.wait(stopped).await {
                        return false;
                    }
                }
            }
        }
    }

    /// Commits past `message`. A failed commit is logged: the request comes again and gets
    /// the same reply from the store.
    fn commit(&self, message: &OwnedMessage) {
        let mut offsets = TopicPartitionList::new();
        let committed = offsets
            .add_partition_offset(
                message.topic(),
                message.partition(),
                Offset::Offset(message.offset() + 1),
            )
            .and_then(|()| self.consumer.commit(&offsets, CommitMode::Async));
        if let Err(error) = committed {
            tracing::warn!(%error, "kafka: cannot commit an offset; the request will be answered again");
        }
    }
}

/// The request's headers and where it came from and why it is here.
fn dead_letter_headers(
    headers: &OwnedHeaders,
    message: &OwnedMessage,
    error: &str,
) -> OwnedHeaders {
    let mut marked = headers.clone();
    for (key, value) in [
        ("colloquy-error", error.to_owned()),
        ("colloquy-topic", message.topic().to_owned()),
        ("colloquy-partition", message.partition().to_string()),
        ("colloquy-offset", message.offset().to_string()),
    ] {
        marked = marked.insert(Header {
            key,
            value: Some(&value),
        });
    }
    marked
}

/// Waits between attempts: 100ms, doubling, up to a maximum.
struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    fn new(max: Duration) -> Self {
        Self {
            next: FIRST_BACKOFF,
            max,
        }
    }

    fn reset(&mut self) {
        self.next = FIRST_BACKOFF;
    }

    /// Waits the next step; `false` when stopped meanwhile.
    async fn wait(&mut self, stopped: &mut watch::Receiver<bool>) -> bool {
        let wait = self.next;
        self.next = (self.next * 2).min(self.max);
        if *stopped.borrow() {
            return false;
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => true,
            _ = stopped.changed() => false,
        }
    }
}
