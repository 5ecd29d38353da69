//! The dialog's classifier: the message posted to the configured service as Rasa's
//! `/model/parse` expects it, the answer read into the `understood` outcome's variables.
//! Whatever goes wrong (timeout, error status, an answer that is not that JSON) is `failed`,
//! and the dialog treats the message as not understood.

use serde::Deserialize;

use crate::dialog::Outcome;
use crate::dialog::actions::http_request::Method;
use crate::dialog::actions::understand::{
    CONFIDENCE, Call, ENTITY_PREFIX, FAILED, INTENT, UNDERSTOOD,
};
use crate::dialog::value::Value;
use crate::services::{Exchange, Request};

use super::super::Engine;

/// The most entities of one answer that are read.
const MAX_ENTITIES: usize = 16;

pub(super) async fn run(engine: &Engine, call: Call) -> Outcome {
    let body = serde_json::json!({ "text": call.text });
    let request = Request {
        method: Method::Post,
        path: &call.path,
        query: &[],
        headers: &[],
        body: Some(&body),
        timeout: None,
        retries: 0,
    };
    let exchange = engine.services.call(&call.service, request).await;
    let outcome = match exchange {
        Exchange::Answered { status, body } if (200..300).contains(&status) => outcome(&body),
        _ => None,
    };
    outcome.unwrap_or_else(|| {
        tracing::info!(service = %call.service, "understand: no usable answer; the message is not understood");
        Outcome::new(FAILED)
    })
}

#[derive(Deserialize)]
struct Parsed {
    #[serde(default)]
    intent: Option<Intent>,
    #[serde(default)]
    entities: Vec<Entity>,
}

#[derive(Deserialize)]
struct Intent {
    name: Option<String>,
    #[serde(default)]
    confidence: f64,
}

#[derive(Deserialize)]
struct Entity {
    entity: String,
    value: serde_json::Value,
}

/// The outcome for a `/model/parse` answer, or `None` when it is not one.
fn outcome(body: &[u8]) -> Option<Outcome> {
    let parsed: Parsed = serde_json::from_slice(body).ok()?;
    let mut outcome = Outcome::new(UNDERSTOOD);
    if let Some(Intent {
        name: Some(name),
        confidence,
    }) = parsed.intent
        && confidence.is_finite()
    {
        outcome = outcome
            .with(INTENT, Value::Text(name))
            .with(CONFIDENCE, Value::Number(confidence));
    }
    for entity in parsed.entities.into_iter().take(MAX_ENTITIES) {
        let value = match entity.value {
            serde_json::Value::String(text) => text,
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            _ => continue,
        };
        outcome = outcome.with(
            format!("{ENTITY_PREFIX}{}", entity.entity),
            Value::Text(value),
        );
    }
    Some(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rasa_answers_become_outcome_variables() {
        let body = br#"{"text":"I want to stop","intent":{"name":"cancel","confidence":0.93},
            "entities":[{"entity":"email","value":"bob@example.com","start":0,"end":15},
                        {"entity":"seats","value":3}],
            "intent_ranking":[]}"#;
        let parsed = outcome(body).unwrap();
        assert_eq!(parsed.name, UNDERSTOOD);
        assert!(
            parsed
                .vars
                .contains(&(INTENT.into(), Value::Text("cancel".into())))
        );
        assert!(
            parsed
                .vars
                .contains(&(CONFIDENCE.into(), Value::Number(0.93)))
        );
        assert!(parsed.vars.contains(&(
            "nlu.entity.email".into(),
            Value::Text("bob@example.com".into())
        )));
        assert!(
            parsed
                .vars
                .contains(&("nlu.entity.seats".into(), Value::Text("3".into())))
        );
        assert_eq!(outcome(b"not json"), None);
        assert_eq!(outcome(br#"{"intent": 3}"#), None);
        let empty = outcome(br#"{"intent": null, "entities": []}"#).unwrap();
        assert!(empty.vars.is_empty());
    }
}
