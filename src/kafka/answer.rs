//! One request in, what to send back out: the reply (topic and body) and whether the request
//! goes to the dead-letter topic. No broker here; the engine and the store only.

use std::sync::Arc;

use crate::address::{EmailAddr, PhoneAddr, Recipient};
use crate::config::{KafkaConfig, KafkaTopics};
use crate::engine::{Engine, EngineError};

use super::templates::Templates;
use super::wire::{self, Channel, GenerateReply, Poison, ValidateReply};
use super::{KafkaError, codes, records};

/// A request as read off a topic.
#[derive(Debug)]
pub struct Incoming<'a> {
    pub topic: &'a str,
    pub key: Option<&'a [u8]>,
    pub payload: &'a [u8],
    /// The `processInstanceId` header, when there is one.
    pub pid_header: Option<&'a str>,
}

/// What answering a request produced.
#[derive(Debug, PartialEq)]
pub struct Answer {
    /// The topic and JSON body of the reply; none for a request no one can be told about.
    pub reply: Option<(String, String)>,
    /// Why the request goes to the dead-letter topic, if it does.
    pub dead_letter: Option<String>,
    /// The reply is one given before (a redelivery).
    pub repeated: bool,
}

/// Answers requests for the listener.
#[derive(Debug, Clone)]
pub struct Answerer {
    pub engine: Arc<Engine>,
    pub topics: KafkaTopics,
    pub max_bytes: usize,
    /// What `templateName` picks (`kafka.templates`).
    pub templates: Arc<Templates>,
}

impl Answerer {
    /// The answerer of `config`'s topics, sizes and templates over `engine`.
    pub fn new(config: &KafkaConfig, engine: Arc<Engine>) -> Result<Self, KafkaError> {
        let templates = Templates::from_config(&config.templates).map_err(KafkaError::Templates)?;
        Ok(Self {
            engine,
            topics: config.topics.clone(),
            max_bytes: config.max_message_bytes,
            templates: Arc::new(templates),
        })
    }

    /// The answer to `request`. An `Err` is transient (the store did not answer): the request
    /// is tried again and nothing was answered or committed.
    pub async fn answer(&self, request: &Incoming<'_>) -> Result<Answer, EngineError> {
        let generating = request.topic == self.topics.generate_in;
        let out = if generating {
            &self.topics.generate_out
        } else {
            &self.topics.validate_out
        };
        let engine = &*self.engine;
        let digest = records::request_digest(engine, request.topic, request.key, request.payload);
        if let Some(body) = records::reply(engine, &digest).await? {
            return Ok(Answer {
                reply: Some((out.clone(), body)),
                dead_letter: None,
                repeated: true,
            });
        }
        let body = if generating {
            match wire::generate(request.payload, self.max_bytes, request.pid_header) {
                Ok(generate) => json(&self.generate(generate).await?),
                Err(poison) => return Ok(poisoned(out, &poison, true)),
            }
        } else {
            match wire::validate(request.payload, self.max_bytes, request.pid_header) {
                Ok(validate) => json(&self.validate(validate).await?),
                Err(poison) => return Ok(poisoned(out, &poison, false)),
            }
        };
        let until = engine.clock().now()
            + chrono::TimeDelta::from_std(engine.otp.policy.ttl).unwrap_or_default();
        records::keep_reply(engine, &digest, &body, until).await?;
        Ok(Answer {
            reply: Some((out.clone(), body)),
            dead_letter: None,
            repeated: false,
        })
    }

    async fn generate(&self, request: wire::Generate) -> Result<GenerateReply, EngineError> {
        let engine = &*self.engine;
        let channel = request.channel;
        let to = match recipient(engine, channel, &request.recipient) {
            Ok(to) => to,
            Err(error) => return Ok(GenerateReply::new(request.correlation, Some(error))),
        };
        let chosen = match self
            .templates
            .choose(&request.template_name, channel, &request.params)
        {
            Ok(chosen) => chosen,
            Err(error) => return Ok(GenerateReply::new(request.correlation, Some(error))),
        };
        records::bind(engine, &request.client_id, channel, to.as_str()).await?;
        let error = codes::issue(engine, &request.client_id, channel, to, &chosen).await?;
        Ok(GenerateReply::new(request.correlation, error))
    }

    async fn validate(&self, request: wire::Validate) -> Result<ValidateReply, EngineError> {
        let engine = &*self.engine;
        let bound = records::bound(engine, &request.client_id, request.channel).await?;
        // The binding holds what `recipient` accepted (an address, or a number in E.164).
        let to = bound.and_then(|text| recipient(engine, request.channel, &text).ok());
        let valid = match to {
            Some(to) => {
                codes::check(
                    engine,
                    &request.client_id,
                    request.channel,
                    to,
                    &request.otp,
                )
                .await?
            }
            None => false,
        };
        Ok(ValidateReply::new(request.correlation, valid, None))
    }
}

/// The recipient of a code on `channel`: an email address for MAIL, a phone number for SMS
/// (read as the HTTP API reads one: international, or national in `dialogs.phone_region`).
fn recipient(engine: &Engine, channel: Channel, text: &str) -> Result<Recipient, String> {
    match channel {
        Channel::Mail => EmailAddr::parse(text)
            .map(Recipient::Email)
            .map_err(|_| "`recipient` is not an email address".to_owned()),
        Channel::Sms => PhoneAddr::parse(text, engine.phone_region())
            .map(Recipient::Phone)
            .map_err(|error| format!("`recipient` is not a phone number: {error}")),
    }
}

/// A request that cannot be read: dead-lettered, and answered when it names its process.
fn poisoned(out: &str, poison: &Poison, generating: bool) -> Answer {
    let reply = poison.correlatable().then(|| {
        let error = Some(poison.error.clone());
        let correlation = poison.correlation.clone();
        let body = if generating {
            json(&GenerateReply::new(correlation, error))
        } else {
            json(&ValidateReply::new(correlation, false, error))
        };
        (out.to_owned(), body)
    });
    Answer {
        reply,
        dead_letter: Some(poison.error.clone()),
        repeated: false,
    }
}

fn json(reply: &impl serde::Serialize) -> String {
    // Replies are plain structs of JSON values: serialising them cannot fail.
    serde_json::to_string(reply).unwrap_or_default()
}
