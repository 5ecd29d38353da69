//! Asking an outside classifier what a message means, when nothing in the dialog understood
//! it. Not an action a node names: a dialog opts in at its top level,
//!
//! ```yaml
//! understand:
//!   service: nlu                 # a service from the configuration, never a URL
//!   path: /model/parse           # the default: Rasa's endpoint
//!   min_confidence: 0.6          # an intent below it is ignored (default 0.5)
//! ```
//!
//! and a question whose message was neither an answer, nor like one, nor a keyword hands the
//! message to that service (never at a question for a sensitive value, such as a code). The
//! answer is Rasa's `/model/parse` JSON: `intent.name` and `intent.confidence`, and
//! `entities[]` with `entity` and `value`. An entity named like the question's entity
//! (`email`) is read by the entity's own rules, as if typed; else an intent named like one of
//! the dialog's keywords or the question's (`cancel`) is that keyword. Timeouts and errors fall back
//! to what the dialog does with a message not understood.

use crate::dialog::value::Value;
use crate::reader::Diagnostics;
use crate::yaml::{Node as YamlNode, Pos};

/// The outcome of a classification that answered.
pub const UNDERSTOOD: &str = "understood";
/// The outcome when the classifier could not be asked or gave no usable answer.
pub const FAILED: &str = "failed";

/// The outcome variable holding the intent's name.
pub const INTENT: &str = "nlu.intent";
/// The outcome variable holding the intent's confidence.
pub const CONFIDENCE: &str = "nlu.confidence";
/// Each entity found is an outcome variable named this, then the entity's name.
pub const ENTITY_PREFIX: &str = "nlu.entity.";

/// The path posted to when `understand:` names none (Rasa's).
pub const DEFAULT_PATH: &str = "/model/parse";
/// The confidence below which an intent is ignored when `understand:` says nothing.
pub const DEFAULT_MIN_CONFIDENCE: f64 = 0.5;

/// A dialog's `understand:`.
#[derive(Debug, Clone, PartialEq)]
pub struct Understand {
    pub service: String,
    pub path: String,
    pub min_confidence: f64,
}

/// `understand:` as read, its service not yet checked against the configuration.
#[derive(Debug)]
pub struct RawUnderstand {
    pub understand: Understand,
    pub service_pos: Pos,
}

/// Reads `understand:` (problems go to `d`).
pub fn read(node: &YamlNode, d: &mut Diagnostics) -> Option<RawUnderstand> {
    let mut map = d.map(node, "`understand`")?;
    let service = map.take("service");
    let service_pos = service.map_or(map.pos, |n| n.pos);
    let service = match service {
        Some(n) => d.string(n, "`service`"),
        None => {
            d.error(
                map.pos,
                "`understand` needs a `service` (one of `services:` in the configuration)",
            );
            None
        }
    };
    let path = match map.take("path") {
        Some(n) => d.string(n, "`path`").filter(|path| {
            let ok = path.starts_with('/') && !path.contains(['?', '#', ' ']);
            if !ok {
                d.error(
                    n.pos,
                    format!("`path` must start with `/` and hold no query, not `{path}`"),
                );
            }
            ok
        }),
        None => Some(DEFAULT_PATH.to_owned()),
    };
    let min_confidence = match map.take("min_confidence") {
        Some(n) => match n.value {
            crate::yaml::Value::Float(f) if (0.0..=1.0).contains(&f) => Some(f),
            crate::yaml::Value::Int(0) => Some(0.0),
            crate::yaml::Value::Int(1) => Some(1.0),
            _ => {
                d.error(n.pos, "`min_confidence` must be a number from 0 to 1");
                None
            }
        },
        None => Some(DEFAULT_MIN_CONFIDENCE),
    };
    map.finish(d, "`understand`");
    Some(RawUnderstand {
        understand: Understand {
            service: service?,
            path: path?,
            min_confidence: min_confidence?,
        },
        service_pos,
    })
}

/// A message to classify. Its `Debug` shows the text's length only: it may hold an address.
#[derive(Clone)]
pub struct Call {
    pub service: String,
    pub path: String,
    pub text: String,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("service", &self.service)
            .field("path", &self.path)
            .field("text_chars", &self.text.chars().count())
            .finish()
    }
}

/// What a classification said, read back from its outcome.
#[derive(Debug, Default, PartialEq)]
pub struct Classified {
    /// The intent, when its confidence reached the dialog's minimum.
    pub intent: Option<String>,
    /// (entity name, value), in the order given.
    pub entities: Vec<(String, String)>,
}

impl Classified {
    pub fn of(outcome: &super::Outcome, min_confidence: f64) -> Self {
        let mut classified = Classified::default();
        let mut intent = None;
        let mut confidence = 0.0;
        for (name, value) in &outcome.vars {
            match (name.as_ref(), value) {
                (INTENT, Value::Text(text)) => intent = Some(text.clone()),
                (CONFIDENCE, Value::Number(n)) => confidence = *n,
                (name, Value::Text(text)) => {
                    if let Some(entity) = name.strip_prefix(ENTITY_PREFIX) {
                        classified.entities.push((entity.to_owned(), text.clone()));
                    }
                }
                _ => {}
            }
        }
        classified.intent = intent.filter(|_| confidence >= min_confidence);
        classified
    }
}
