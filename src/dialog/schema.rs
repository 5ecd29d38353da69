//! The JSON Schema of a dialog file, built from the registries the loader reads with: the
//! node kinds (`nodes::KINDS`, each kind's key and keys), the actions (`actions::ACTIONS`,
//! their names and outcomes) and the entities. A key a kind starts reading is in the schema
//! the next time it is written (`colloquy schema`), and a test holds the committed
//! `dialogs/dialog.schema.json` equal to it, so the two cannot drift.
//!
//! Editors use it to complete and check dialogs while they are written; `colloquy check`
//! stays the authority (it also checks references, variables and the graph, which a schema
//! cannot).

use serde_json::{Map, Value, json};

use super::actions::ACTIONS;
use super::entities::ENTITIES;
use super::nodes::{KINDS, Spec};

/// Where the schema is published beside the dialogs, for the `yaml-language-server` modeline.
pub const FILE_NAME: &str = "dialog.schema.json";

/// The schema of a dialog file.
pub fn schema() -> Value {
    let kinds: Vec<Value> = KINDS.iter().map(kind_schema).collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://colloquy.dev/schemas/dialog.schema.json",
        "title": "colloquy dialog",
        "description": "A dialog: a state machine of nodes. Written by `colloquy schema`; `colloquy check` reports what a schema cannot (references, variables, the graph).",
        "type": "object",
        "additionalProperties": false,
        "required": ["id", "version", "start", "nodes"],
        "properties": {
            "id": { "type": "string", "pattern": "^[A-Za-z0-9_-]+$", "description": "The dialog's id (letters, digits, `_` and `-`)." },
            "version": { "type": "integer", "minimum": 1, "description": "Raise it with every change; sessions finish on the version they started on." },
            "title": { "type": "string" },
            "locales": { "type": "array", "items": { "type": "string" }, "minItems": 1, "description": "The YAML's own locale first; each other has a `<file>.<locale>.ftl` beside the dialog." },
            "triggers": { "type": "array", "items": { "type": "string" }, "description": "Phrases that start this dialog when a new session's first message names no dialog." },
            "start": { "$ref": "#/$defs/node_ref" },
            "keywords": { "$ref": "#/$defs/keywords" },
            "understand": {
                "type": "object",
                "additionalProperties": false,
                "required": ["service"],
                "description": "An outside classifier (Rasa's /model/parse JSON) asked about messages nothing in the dialog understood.",
                "properties": {
                    "service": { "type": "string", "description": "A service of the configuration's `services:`." },
                    "path": { "type": "string", "pattern": "^/" },
                    "min_confidence": { "type": "number", "minimum": 0, "maximum": 1 },
                },
            },
            "fallback": { "$ref": "#/$defs/texts", "description": "Said at any question when a message is neither an answer nor a keyword (a question's own `fallback` wins); the question is asked again after it." },
            "context": { "type": "object", "description": "Variables every session starts with, and their defaults.", "additionalProperties": { "type": ["string", "number", "boolean"] } },
            "settings": { "type": "object", "additionalProperties": false, "properties": { "max_transitions_per_turn": { "type": "integer", "minimum": 1 } } },
            "templates": { "type": "object", "additionalProperties": { "$ref": "#/$defs/email_template" } },
            "nodes": { "type": "object", "minProperties": 1, "additionalProperties": { "$ref": "#/$defs/node" } },
        },
        "$defs": {
            "node_ref": { "type": "string", "description": "The id of a node of this dialog." },
            "texts": { "oneOf": [ { "type": "string" }, { "type": "array", "items": { "type": "string" }, "minItems": 1 } ] },
            "keywords": {
                "type": "object",
                "additionalProperties": {
                    "oneOf": [
                        { "$ref": "#/$defs/node_ref" },
                        { "type": "object", "additionalProperties": false, "required": ["goto"], "properties": {
                            "goto": { "$ref": "#/$defs/node_ref" },
                            "also": { "type": "array", "items": { "type": "string" } },
                            "reset": { "type": "boolean" },
                        } },
                    ],
                },
            },
            "email_template": {
                "type": "object",
                "additionalProperties": false,
                "required": ["subject", "text"],
                "properties": {
                    "subject": { "type": "string" },
                    "text": { "type": "string" },
                    "html": { "type": "string" },
                    "sendgrid_template_id": { "type": "string" },
                },
            },
            "entity": { "oneOf": ENTITIES.iter().map(|spec| json!({
                "const": spec.name,
                "description": spec.accepts,
            })).collect::<Vec<_>>() },
            "action": { "enum": ACTIONS.iter().map(|a| a.name).collect::<Vec<_>>() },
            "node": { "anyOf": kinds },
        },
    })
}

/// One node kind: its key required, its own keys and its companions' allowed, nothing else.
fn kind_schema(spec: &Spec) -> Value {
    let mut properties = Map::new();
    for key in std::iter::once(spec.key)
        .chain(spec.every_key())
        .chain(spec.companions.iter().copied())
    {
        properties.insert(key.to_owned(), key_schema(spec.key, key));
    }
    json!({
        "title": spec.key,
        "type": "object",
        "required": [spec.key],
        "additionalProperties": false,
        "properties": properties,
    })
}

/// What a key's value looks like, where it is the same in every kind that has it; other keys
/// take any value here (their kind's reader checks them).
fn key_schema(kind: &str, key: &str) -> Value {
    match (kind, key) {
        ("action", "action") => json!({ "$ref": "#/$defs/action" }),
        ("action", "on") => {
            json!({ "type": "object", "additionalProperties": { "$ref": "#/$defs/node_ref" } })
        }
        ("end", "end") => json!({ "type": "string", "pattern": "^[A-Za-z0-9_-]+$" }),
        ("call", "call") => {
            json!({ "type": "string", "description": "The id of the dialog to run." })
        }
        (_, "entity") => json!({ "$ref": "#/$defs/entity" }),
        (_, "next" | "on_exhausted") => json!({ "$ref": "#/$defs/node_ref" }),
        (_, "ask" | "say" | "invalid" | "fallback") => json!({ "$ref": "#/$defs/texts" }),
        (_, "keywords") => json!({ "$ref": "#/$defs/keywords" }),
        (_, "retries" | "fallbacks") => {
            json!({ "type": "integer", "minimum": 0, "maximum": 10 })
        }
        (_, "min" | "max") => json!({ "type": "number" }),
        (_, "retries_per_visit" | "always_ask") => json!({ "type": "boolean" }),
        (_, "save_as" | "pattern") => json!({ "type": "string" }),
        (_, "branch") => json!({ "type": "array", "minItems": 1 }),
        (_, "set" | "choices" | "inputs" | "outputs" | "on" | "with") => {
            json!({ "type": "object" })
        }
        _ => json!({}),
    }
}

/// The schema as `colloquy schema` writes it: pretty, with a final newline.
pub fn rendered() -> String {
    let mut text = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_and_action_and_entity_is_in_it() {
        let schema = schema();
        let kinds = schema["$defs"]["node"]["anyOf"].as_array().unwrap();
        assert_eq!(kinds.len(), KINDS.len());
        for (kind, spec) in kinds.iter().zip(KINDS) {
            for key in spec.every_key() {
                assert!(kind["properties"].get(key).is_some(), "{}.{key}", spec.key);
            }
        }
        let actions = schema["$defs"]["action"]["enum"].as_array().unwrap();
        assert!(actions.iter().any(|a| a == "http.request"));
        let entities = schema["$defs"]["entity"]["oneOf"].as_array().unwrap();
        assert!(entities.iter().any(|e| e["const"] == "choice"));
    }
}
