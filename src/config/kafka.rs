//! `kafka:` — FlowX's OTP request/reply over Kafka: where the broker is, the four topics,
//! the consumer group.
//!
//! The topics also come from FlowX's own variables (`KAFKA_TOPIC_OTP_GENERATE_IN`, …), read
//! by [`super::Config::from_source`]; they win over the file and over `COLLOQUY__KAFKA__…`,
//! so a FlowX deployment's environment works unchanged.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::dialog::template::Template;
use crate::duration::serde_human;

/// FlowX's variables and the topic each sets.
pub const FLOWX_TOPIC_VARS: [(&str, Topic); 4] = [
    ("KAFKA_TOPIC_OTP_GENERATE_IN", Topic::GenerateIn),
    ("KAFKA_TOPIC_OTP_GENERATE_OUT", Topic::GenerateOut),
    ("KAFKA_TOPIC_OTP_VALIDATE_IN", Topic::ValidateIn),
    ("KAFKA_TOPIC_OTP_VALIDATE_OUT", Topic::ValidateOut),
];

/// One of the topics FlowX's variables name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topic {
    GenerateIn,
    GenerateOut,
    ValidateIn,
    ValidateOut,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// Listen for OTP requests (off: `serve` needs no broker).
    pub enabled: bool,
    /// `host:port[,host:port…]` of the brokers to bootstrap from.
    pub brokers: String,
    /// The consumer group every instance joins: they share the partitions.
    pub group_id: String,
    pub topics: KafkaTopics,
    /// A request larger than this is refused (dead-lettered, answered when correlatable).
    pub max_message_bytes: usize,
    /// The consumer's `session.timeout.ms`: how long the group waits for a silent member.
    #[serde(with = "serde_human")]
    pub session_timeout: Duration,
    /// The consumer's `heartbeat.interval.ms`.
    #[serde(with = "serde_human")]
    pub heartbeat_interval: Duration,
    /// The longest wait between attempts while the broker or the store is unreachable (the
    /// first is 100ms, then doubling).
    #[serde(with = "serde_human")]
    pub max_backoff: Duration,
    /// More librdkafka properties for both the consumer and the producer
    /// (`security.protocol`, `sasl.mechanism`, …). Those the listener relies on
    /// (`enable.auto.commit`, `group.id`, …) cannot be changed here.
    pub properties: BTreeMap<String, String>,
    /// The templates a generate request's `templateName` picks, by name. None configured:
    /// every request gets the built-in email or text. Some configured: a name that is not
    /// among them is answered `otpSent: false`.
    pub templates: BTreeMap<String, KafkaTemplate>,
}

/// One named template: the email and the text, each with `{{ code }}`, optionally
/// `{{ expires_in_minutes }}`, and any parameter of the request (`{{ clientId }}`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaTemplate {
    #[serde(default)]
    pub email: Option<KafkaEmailTemplate>,
    /// The text of an SMS.
    #[serde(default)]
    pub sms: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaEmailTemplate {
    pub subject: String,
    pub text: String,
    /// An HTML part; the request's parameters are HTML-escaped in it.
    #[serde(default)]
    pub html: Option<String>,
}

/// Variables a template gets from the code, never from a request.
pub const CODE_VARIABLES: [&str; 3] = ["code", "expires_in_minutes", "email"];

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaTopics {
    /// `KAFKA_TOPIC_OTP_GENERATE_IN`: generate requests.
    pub generate_in: String,
    /// `KAFKA_TOPIC_OTP_GENERATE_OUT`: generate replies.
    pub generate_out: String,
    /// `KAFKA_TOPIC_OTP_VALIDATE_IN`: validate requests.
    pub validate_in: String,
    /// `KAFKA_TOPIC_OTP_VALIDATE_OUT`: validate replies.
    pub validate_out: String,
    /// Where requests that cannot be read go, whether or not they could be answered.
    pub dead_letter: String,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            brokers: "127.0.0.1:9092".to_owned(),
            group_id: "colloquy-otp".to_owned(),
            topics: KafkaTopics::default(),
            max_message_bytes: 64 * 1024,
            session_timeout: Duration::from_secs(10),
            heartbeat_interval: Duration::from_secs(3),
            max_backoff: Duration::from_secs(10),
            properties: BTreeMap::new(),
            templates: BTreeMap::new(),
        }
    }
}

impl Default for KafkaTopics {
    fn default() -> Self {
        Self {
            generate_in: "ai.flowx.plugin.notification.trigger.generate.otp.v1".to_owned(),
            generate_out: "ai.flowx.engine.receive.plugin.notification.generate.otp.results.v1"
                .to_owned(),
            validate_in: "ai.flowx.plugin.notification.trigger.validate.otp.v1".to_owned(),
            validate_out: "ai.flowx.engine.receive.plugin.notification.validate.otp.results.v1"
                .to_owned(),
            dead_letter: "ai.flowx.plugin.notification.otp.dlt.v1".to_owned(),
        }
    }
}

/// Properties the listener and the producer set themselves; `kafka.properties` may not hold
/// them.
const OWN_PROPERTIES: [&str; 10] = [
    "bootstrap.servers",
    "acks",
    "linger.ms",
    "message.timeout.ms",
    "group.id",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "auto.offset.reset",
    "session.timeout.ms",
    "heartbeat.interval.ms",
];

impl KafkaConfig {
    /// Sets the topic `which` (from a FlowX variable).
    pub fn set_topic(&mut self, which: Topic, name: String) {
        let topics = &mut self.topics;
        match which {
            Topic::GenerateIn => topics.generate_in = name,
            Topic::GenerateOut => topics.generate_out = name,
            Topic::ValidateIn => topics.validate_in = name,
            Topic::ValidateOut => topics.validate_out = name,
        }
    }

    pub(super) fn validate(&self) -> Result<(), String> {
        // Checked even when the listener is off: the `kafka` email and SMS providers use them.
        if let Some(own) = self
            .properties
            .keys()
            .find(|key| OWN_PROPERTIES.contains(&key.as_str()))
        {
            return Err(format!(
                "`kafka.properties` may not set `{own}`: the listener and the producer set it themselves"
            ));
        }
        if !self.enabled {
            return Ok(());
        }
        for (name, template) in &self.templates {
            template.validate(name)?;
        }
        if self.brokers.trim().is_empty() || self.group_id.trim().is_empty() {
            return Err("`kafka.brokers` and `kafka.group_id` must not be empty".to_owned());
        }
        let t = &self.topics;
        let names = [
            &t.generate_in,
            &t.generate_out,
            &t.validate_in,
            &t.validate_out,
            &t.dead_letter,
        ];
        if names.iter().any(|name| !is_topic_name(name)) {
            return Err(
                "`kafka.topics.*` must be topic names: 1 to 249 letters, digits and . _ -"
                    .to_owned(),
            );
        }
        let outs = [&t.generate_out, &t.validate_out, &t.dead_letter];
        if t.generate_in == t.validate_in
            || outs
                .iter()
                .any(|out| **out == t.generate_in || **out == t.validate_in)
        {
            return Err("`kafka.topics`: the two request topics must differ from each other and from the reply and dead-letter topics".to_owned());
        }
        if self.max_message_bytes < 256 {
            return Err("`kafka.max_message_bytes` must be at least 256".to_owned());
        }
        if self.heartbeat_interval.is_zero()
            || self.heartbeat_interval >= self.session_timeout
            || self.max_backoff < Duration::from_millis(100)
        {
            return Err("`kafka.heartbeat_interval` must be shorter than `kafka.session_timeout`, and `kafka.max_backoff` at least 100ms".to_owned());
        }
        Ok(())
    }
}

impl KafkaTemplate {
    fn validate(&self, name: &str) -> Result<(), String> {
        if self.email.is_none() && self.sms.is_none() {
            return Err(format!(
                "`kafka.templates.{name}` needs an `email`, an `sms` or both"
            ));
        }
        let mut texts: Vec<(&str, &str)> = Vec::new();
        if let Some(email) = &self.email {
            if email.subject.contains(['\n', '\r']) {
                return Err(format!(
                    "`kafka.templates.{name}.email.subject` must be one line"
                ));
            }
            texts.push(("email.subject", &email.subject));
            texts.push(("email.text", &email.text));
            if let Some(html) = &email.html {
                texts.push(("email.html", html));
            }
        }
        if let Some(sms) = &self.sms {
            texts.push(("sms", sms));
        }
        for (part, text) in texts {
            let template = Template::compile(text)
                .map_err(|error| format!("`kafka.templates.{name}.{part}`: {}", error.message))?;
            let needs_code = matches!(part, "email.text" | "sms");
            if needs_code && !template.variables().any(|v| v == "code") {
                return Err(format!(
                    "`kafka.templates.{name}.{part}` must hold `{{{{ code }}}}`: the message is the code"
                ));
            }
        }
        Ok(())
    }
}

/// Kafka's rule for topic names.
pub(super) fn is_topic_name(name: &str) -> bool {
    (1..=249).contains(&name.len())
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}
