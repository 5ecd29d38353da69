//! FlowX's OTP request/reply over Kafka against a real Kafka-protocol broker (`tansu`, one
//! per test on a free port, `kafka/broker.rs`): generate → reply with the key and headers →
//! the code from the dev outbox → validate; single use; redelivery; poison messages; codes
//! by SMS; templates picked by `templateName`.

mod broker;
mod digit;
mod failover;
mod object_store;

use std::time::Duration;

use colloquy::config::{Config, KafkaTopics};
use colloquy::kafka::Listener;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with, test_config};
use broker::Broker;

/// The headers FlowX's engine puts on a request, all of which must come back on the reply.
const FLOWX_HEADERS: [(&str, &str); 7] = [
    ("fxContext", "main"),
    ("processInstanceId", "12345"),
    (
        "processInstanceUuid",
        "5f0b5c3e-7a43-4a0b-9a57-0d3c2a1f6b11",
    ),
    ("Fx-AppId", "app-1"),
    ("Fx-RootAppId", "root-app-1"),
    ("Fx-WorkspaceId", "workspace-1"),
    ("Fx-Organization-Id", "org-1"),
];

const CLIENT_ID: &str = "1871201460101";
const ADDRESS: &str = "client@example.com";

/// A broker, an app listening on it, a producer and readers of the reply topics.
struct Flowx {
    app: TestApp,
    /// Kept for its `Drop` (none when the test starts its own).
    #[allow(dead_code)]
    listener: Option<Listener>,
    producer: FutureProducer,
    topics: KafkaTopics,
    generated: Replies,
    validated: Replies,
    dead: Replies,
    // Last: the broker outlives the clients talking to it (none when the test holds it).
    broker: Option<Broker>,
}

async fn flowx() -> Option<Flowx> {
    flowx_with(&[], |_| {}).await
}

/// A broker with FlowX's topics and `more_topics`, and an app configured by `kafka_config`
/// then `configure`.
async fn flowx_with(more_topics: &[&str], configure: impl FnOnce(&mut Config)) -> Option<Flowx> {
    let broker = Broker::start()?;
    Some(flowx_on(broker, more_topics, configure).await)
}

/// [`flowx_with`] on a broker the test started.
async fn flowx_on(
    broker: Broker,
    more_topics: &[&str],
    configure: impl FnOnce(&mut Config),
) -> Flowx {
    let topics = KafkaTopics::default();
    let mut all = vec![
        topics.generate_in.as_str(),
        &topics.generate_out,
        &topics.validate_in,
        &topics.validate_out,
        &topics.dead_letter,
    ];
    all.extend_from_slice(more_topics);
    broker.create_topics(&all).await;
    let mut config = kafka_config(&broker);
    configure(&mut config);
    let app = spawn_app_with(config).await;
    let listener = Listener::for_app(&app.app)
        .expect("listener starts")
        .expect("kafka is enabled");
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .create()
        .expect("producer");
    Flowx {
        generated: Replies::new(&broker, &topics.generate_out),
        validated: Replies::new(&broker, &topics.validate_out),
        dead: Replies::new(&broker, &topics.dead_letter),
        app,
        listener: Some(listener),
        producer,
        topics,
        broker: Some(broker),
    }
}

fn kafka_config(broker: &Broker) -> Config {
    let mut config = test_config();
    config.kafka.enabled = true;
    config.kafka.brokers = broker.bootstrap();
    "colloquy-test".clone_into(&mut config.kafka.group_id);
    // Short enough that joining the group takes well under a second.
    config.kafka.session_timeout = Duration::from_secs(6);
    config.kafka.heartbeat_interval = Duration::from_millis(500);
    config.kafka.max_backoff = Duration::from_millis(500);
    config.kafka.max_message_bytes = 4096;
    // Topics created after start (a broker restarted empty) are seen within a second.
    config.kafka.properties.insert(
        "topic.metadata.refresh.interval.ms".to_owned(),
        "1000".to_owned(),
    );
    config
}

/// Reads one topic's partition 0 from the beginning, without joining a group.
struct Replies {
    consumer: StreamConsumer,
}

impl Replies {
    fn new(broker: &Broker, topic: &str) -> Self {
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", broker.bootstrap())
            .set("group.id", format!("reader-{topic}"))
            .set("enable.auto.commit", "false")
            // A broker restarted empty: read its new messages from the start.
            .set("auto.offset.reset", "earliest")
            .create()
            .expect("reader");
        let mut partitions = TopicPartitionList::new();
        partitions
            .add_partition_offset(topic, 0, Offset::Beginning)
            .expect("partition");
        consumer.assign(&partitions).expect("assign");
        Self { consumer }
    }

    /// The next message; errors of a broker going away and coming back are passed over.
    async fn next(&self) -> OwnedMessage {
        let receive = async {
            loop {
                match self.consumer.recv().await {
                    Ok(message) => return message.detach(),
                    Err(error) => eprintln!("reader: {error}; reading on"),
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(60), receive)
            .await
            .expect("a message within 60s")
    }
}

impl Flowx {
    async fn send(&self, topic: &str, key: &str, body: &[u8], headers: &[(&str, &str)]) {
        produce(&self.producer, topic, key, body, headers).await;
    }

    async fn generate(&self, key: &str, body: &Value) {
        let topic = self.topics.generate_in.clone();
        self.send(&topic, key, body.to_string().as_bytes(), &FLOWX_HEADERS)
            .await;
    }

    async fn validate(&self, key: &str, pid: u64, otp: &str) -> Value {
        self.validate_on("MAIL", key, pid, otp).await
    }

    async fn validate_on(&self, channel: &str, key: &str, pid: u64, otp: &str) -> Value {
        let body = json!({"processInstanceId": pid, "clientId": CLIENT_ID, "channel": channel, "otp": otp});
        let topic = self.topics.validate_in.clone();
        self.send(&topic, key, body.to_string().as_bytes(), &FLOWX_HEADERS)
            .await;
        body_of(&self.validated.next().await)
    }
}

/// Produces one request as FlowX does, and waits until the broker took it.
async fn produce(
    producer: &FutureProducer,
    topic: &str,
    key: &str,
    body: &[u8],
    headers: &[(&str, &str)],
) {
    let mut owned = OwnedHeaders::new();
    for (name, value) in headers {
        owned = owned.insert(Header {
            key: name,
            value: Some(*value),
        });
    }
    let record = FutureRecord::to(topic)
        .key(key)
        .payload(body)
        .headers(owned);
    producer
        .send(record, Duration::from_secs(10))
        .await
        .expect("request produced");
}

fn generate_request(pid: u64) -> Value {
    json!({
        "templateName": "otpMail",
        "channel": "MAIL",
        "recipient": ADDRESS,
        "clientId": CLIENT_ID,
        "processInstanceId": pid,
    })
}

fn body_of(message: &OwnedMessage) -> Value {
    serde_json::from_slice(message.payload().expect("a body")).expect("a JSON body")
}

fn headers_of(message: &OwnedMessage) -> Vec<(String, String)> {
    message.headers().map_or_else(Vec::new, |headers| {
        headers
            .iter()
            .map(|h| {
                let value = String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned();
                (h.key.to_owned(), value)
            })
            .collect()
    })
}

fn assert_flowx_headers(message: &OwnedMessage) {
    let headers = headers_of(message);
    for (name, value) in FLOWX_HEADERS {
        assert!(
            headers.iter().any(|(n, v)| n == name && v == value),
            "header {name} not copied: {headers:?}"
        );
    }
}

#[tokio::test]
async fn a_code_is_generated_sent_and_validated_once() {
    let Some(flowx) = flowx().await else { return };
    flowx.generate("12345", &generate_request(12345)).await;
    let reply = flowx.generated.next().await;
    assert_eq!(reply.key(), Some(&b"12345"[..]), "keyed like the request");
    assert_flowx_headers(&reply);
    assert_eq!(
        body_of(&reply),
        json!({"processInstanceId": 12345, "clientId": CLIENT_ID, "channel": "MAIL", "otpSent": true, "error": null})
    );
    assert_eq!(flowx.app.emails_to(ADDRESS), 1);
    let code = flowx.app.last_code(ADDRESS).await;

    let valid = flowx.validate("12345", 12345, &code).await;
    assert_eq!(
        valid,
        json!({"processInstanceId": 12345, "clientId": CLIENT_ID, "channel": "MAIL", "otpValid": true})
    );
    // Single use: another process instance presenting the same code is refused.
    let again = flowx.validate("12346", 12346, &code).await;
    assert_eq!(again["otpValid"], false);
    let wrong = if code == "0000" { "1111" } else { "0000" };
    assert_eq!(
        flowx.validate("12347", 12347, wrong).await["otpValid"],
        false
    );

    // The generate request delivered again: the same reply, no second email.
    flowx.generate("12345", &generate_request(12345)).await;
    let repeated = flowx.generated.next().await;
    assert_eq!(body_of(&repeated)["otpSent"], true);
    assert_flowx_headers(&repeated);
    assert_eq!(
        flowx.app.emails_to(ADDRESS),
        1,
        "a redelivery sends nothing"
    );

    let health = flowx.app.get_json("/healthz").await;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["kafka"]["state"], "connected", "{health}");
    assert!(health["kafka"]["answered"].as_u64() >= Some(5), "{health}");
}

#[tokio::test]
async fn the_code_belongs_to_the_client_and_channel_not_the_address() {
    let Some(flowx) = flowx().await else { return };
    flowx.generate("1", &generate_request(1)).await;
    assert_eq!(body_of(&flowx.generated.next().await)["otpSent"], true);
    let first = flowx.app.last_code(ADDRESS).await;
    // A new code for the same client at another address replaces the first.
    let mut moved = generate_request(2);
    moved["recipient"] = json!("elsewhere@example.com");
    flowx.generate("2", &moved).await;
    assert_eq!(body_of(&flowx.generated.next().await)["otpSent"], true);
    let second = flowx.app.last_code("elsewhere@example.com").await;
    if first != second {
        assert_eq!(flowx.validate("3", 3, &first).await["otpValid"], false);
    }
    assert_eq!(flowx.validate("4", 4, &second).await["otpValid"], true);
}

#[tokio::test]
async fn codes_go_by_sms_to_numbers_read_as_the_http_api_reads_them() {
    let Some(flowx) = flowx().await else { return };
    let mut sms = generate_request(5);
    sms["channel"] = json!("SMS");
    sms["recipient"] = json!("+44 7400 123456");
    flowx.generate("5", &sms).await;
    let reply = body_of(&flowx.generated.next().await);
    assert_eq!(reply["otpSent"], true, "{reply}");
    assert_eq!(reply["channel"], "SMS");
    let code = flowx.app.last_code("%2B447400123456").await;
    assert_eq!(flowx.app.emails_to(ADDRESS), 0, "nothing went by email");
    // The MAIL code of the same client is another code: SMS's is checked on SMS only.
    assert_eq!(
        flowx.validate_on("MAIL", "6", 6, &code).await["otpValid"],
        false
    );
    assert_eq!(
        flowx.validate_on("SMS", "7", 7, &code).await["otpValid"],
        true
    );
    // Not a number: nothing sent, and FlowX is told why.
    for (pid, bad) in [
        (8, "call me"),
        (9, "+44 12"),
        (10, "0044 7400 123456 4567 89"),
    ] {
        sms["recipient"] = json!(bad);
        sms["processInstanceId"] = json!(pid);
        flowx.generate(&pid.to_string(), &sms).await;
        let reply = body_of(&flowx.generated.next().await);
        assert_eq!(reply["otpSent"], false, "{bad}: {reply}");
        assert!(
            reply["error"]
                .as_str()
                .is_some_and(|e| e.contains("not a phone number")),
            "{bad}: {reply}"
        );
    }
}

#[tokio::test]
async fn template_name_picks_a_configured_template_with_the_requests_parameters() {
    let Some(flowx) = flowx_with(&[], |config| {
        config.kafka.templates.insert(
            "otpMail".to_owned(),
            colloquy::config::KafkaTemplate {
                email: Some(colloquy::config::KafkaEmailTemplate {
                    subject: "Your code for {{ clientId }}".to_owned(),
                    text: "Hello {{ firstName }}, your code is {{ code }} ({{ expires_in_minutes }} minutes).".to_owned(),
                    html: None,
                }),
                sms: Some("{{ code }} is your code, {{ firstName }}".to_owned()),
            },
        );
    })
    .await
    else {
        return;
    };
    let mut request = generate_request(1);
    request["data"] = json!({"firstName": "Ana {{ code }}"});
    flowx.generate("1", &request).await;
    assert_eq!(body_of(&flowx.generated.next().await)["otpSent"], true);
    let outbox = flowx
        .app
        .get_json(&format!("/v1/dev/outbox?to={ADDRESS}"))
        .await;
    let email = &outbox["emails"][0];
    assert_eq!(email["subject"], format!("Your code for {CLIENT_ID}"));
    let text = email["text"].as_str().expect("a text part");
    let code = flowx.app.last_code(ADDRESS).await;
    assert_eq!(
        text,
        format!("Hello Ana {{{{ code }}}}, your code is {code} (5 minutes).")
    );

    // A name no template has: nothing sent, and the reply names the ones there are.
    let mut unknown = generate_request(2);
    unknown["templateName"] = json!("otpMial");
    unknown["recipient"] = json!("other@example.com");
    flowx.generate("2", &unknown).await;
    let reply = body_of(&flowx.generated.next().await);
    assert_eq!(reply["otpSent"], false);
    let error = reply["error"].as_str().expect("an error");
    assert!(
        error.contains("otpMial") && error.contains("`otpMail`"),
        "{error}"
    );
    assert_eq!(flowx.app.emails_to("other@example.com"), 0);

    // A parameter the template needs and the request lacks.
    let mut bare = generate_request(3);
    bare["recipient"] = json!("+447400123456");
    bare["channel"] = json!("SMS");
    flowx.generate("3", &bare).await;
    let reply = body_of(&flowx.generated.next().await);
    assert_eq!(reply["otpSent"], false);
    assert!(
        reply["error"]
            .as_str()
            .is_some_and(|e| e.contains("`firstName`")),
        "{reply}"
    );
}

#[tokio::test]
async fn poison_messages_are_dead_lettered_and_answered_when_they_can_be() {
    let Some(flowx) = flowx().await else { return };
    let generate_in = flowx.topics.generate_in.clone();
    let validate_in = flowx.topics.validate_in.clone();
    // Not JSON, but its headers name the process: dead-lettered and answered.
    flowx
        .send(&generate_in, "p1", b"{not json", &FLOWX_HEADERS)
        .await;
    let dead = flowx.dead.next().await;
    assert_eq!(dead.key(), Some(&b"p1"[..]));
    assert_eq!(dead.payload(), Some(&b"{not json"[..]));
    assert_flowx_headers(&dead);
    let headers = headers_of(&dead);
    assert!(
        headers
            .iter()
            .any(|(n, v)| n == "colloquy-error" && v.contains("not JSON"))
    );
    let reply = flowx.generated.next().await;
    assert_flowx_headers(&reply);
    let body = body_of(&reply);
    assert_eq!(body["otpSent"], false);
    assert_eq!(body["processInstanceId"], 12345);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("not JSON"))
    );

    // Missing fields and no process named anywhere: dead-lettered only.
    flowx
        .send(&validate_in, "p2", br#"{"channel":"MAIL"}"#, &[])
        .await;
    let dead = flowx.dead.next().await;
    assert_eq!(dead.key(), Some(&b"p2"[..]));
    // Too large: dead-lettered, answered from the header.
    let big = vec![b' '; 8192];
    flowx
        .send(&validate_in, "p3", &big, &[("processInstanceId", "77")])
        .await;
    assert_eq!(flowx.dead.next().await.key(), Some(&b"p3"[..]));
    let answered = flowx.validated.next().await;
    assert_eq!(answered.key(), Some(&b"p3"[..]), "p2 had no reply");
    assert_eq!(body_of(&answered)["otpValid"], false);
    assert_eq!(body_of(&answered)["processInstanceId"], 77);

    // The partitions moved on: the next good requests are answered.
    flowx.generate("good", &generate_request(9)).await;
    assert_eq!(body_of(&flowx.generated.next().await)["otpSent"], true);
    let code = flowx.app.last_code(ADDRESS).await;
    assert_eq!(flowx.validate("good", 9, &code).await["otpValid"], true);
    let health = flowx.app.get_json("/healthz").await;
    assert_eq!(health["kafka"]["dead_lettered"], 3, "{health}");
}
