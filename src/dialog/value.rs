//! Values kept in a session's context and compared by branch conditions.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::template::write_number;

/// A context value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Number(f64),
    Text(String),
}

impl Value {
    /// A YAML scalar as a value: text, a number or a boolean; `None` for anything else.
    pub fn from_yaml(yaml: &crate::yaml::Value) -> Option<Self> {
        use crate::yaml::Value as Yaml;
        match yaml {
            Yaml::Bool(b) => Some(Value::Bool(*b)),
            #[allow(clippy::cast_precision_loss)]
            Yaml::Int(i) => Some(Value::Number(*i as f64)),
            Yaml::Float(f) => Some(Value::Number(*f)),
            Yaml::Str(s) => Some(Value::Text(s.clone())),
            _ => None,
        }
    }

    /// Appends the value as text (`true`/`false`, numbers without a trailing `.0`).
    pub fn write_to(&self, out: &mut String) {
        match self {
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => write_number(out, *n),
            Value::Text(t) => out.push_str(t),
        }
    }

    pub fn as_number(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            Value::Text(t) => t.trim().parse().ok(),
            Value::Bool(_) => None,
        }
    }

    /// Loose equality: when either side is a number and both read as numbers they compare as
    /// numbers (`3` equals `"3"`); otherwise both compare as text.
    pub fn loosely_equals(&self, other: &Value) -> bool {
        let either_is_number =
            matches!(self, Value::Number(_)) || matches!(other, Value::Number(_));
        if either_is_number && let (Some(a), Some(b)) = (self.as_number(), other.as_number()) {
            // Designers write `equals: 3`; exact equality is what they mean.
            #[allow(clippy::float_cmp)]
            return a == b;
        }
        let (mut a, mut b) = (String::new(), String::new());
        self.write_to(&mut a);
        other.write_to(&mut b);
        a == b
    }
}

/// One context variable, with an optional expiry instant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Slot {
    pub value: Value,
    /// Sensitive values (an entered code) are never shown in history and are dropped at the
    /// end of the turn that produced them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Given before its question was reached (in the opening message, or as a called
    /// dialog's input): the first `ask` that saves it takes it instead of asking.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub given: bool,
}

/// The variables of a session.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Context {
    slots: BTreeMap<String, Slot>,
}

impl Context {
    pub fn set(&mut self, name: &str, value: Value) {
        self.slots.insert(
            name.to_owned(),
            Slot {
                value,
                sensitive: false,
                given: false,
                expires_at: None,
            },
        );
    }

    /// Sets a value given before its question (see [`Slot::given`]).
    pub fn give(&mut self, name: &str, value: Value) {
        self.slots.insert(
            name.to_owned(),
            Slot {
                value,
                sensitive: false,
                expires_at: None,
                given: true,
            },
        );
    }

    /// Whether `name` holds a value given before its question, which counts as answered from
    /// now on (a later visit to a question asks again).
    pub fn take_given(&mut self, name: &str, now: DateTime<Utc>) -> bool {
        match self.slots.get_mut(name) {
            Some(slot) if slot.given && slot.expires_at.is_none_or(|expiry| expiry > now) => {
                slot.given = false;
                true
            }
            _ => false,
        }
    }

    pub fn set_slot(&mut self, name: &str, slot: Slot) {
        self.slots.insert(name.to_owned(), slot);
    }

    /// The value of `name` if it is set and not expired at `now`.
    pub fn get(&self, name: &str, now: DateTime<Utc>) -> Option<&Value> {
        let slot = self.slots.get(name)?;
        match slot.expires_at {
            Some(expiry) if expiry <= now => None,
            _ => Some(&slot.value),
        }
    }

    pub fn remove(&mut self, name: &str) {
        self.slots.remove(name);
    }

    pub fn clear(&mut self) {
        self.slots.clear();
    }

    /// Drops sensitive and expired values.
    pub fn end_turn(&mut self, now: DateTime<Utc>) {
        self.slots
            .retain(|_, slot| !slot.sensitive && slot.expires_at.is_none_or(|expiry| expiry > now));
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Slot)> {
        self.slots.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    #[test]
    fn equality_is_numeric_when_both_sides_are_numbers() {
        assert!(Value::Number(3.0).loosely_equals(&Value::Text("3".into())));
        assert!(!Value::Number(3.0).loosely_equals(&Value::Text("three".into())));
        assert!(Value::Text("a".into()).loosely_equals(&Value::Text("a".into())));
        assert!(!Value::Bool(true).loosely_equals(&Value::Text("yes".into())));
    }

    #[test]
    fn expired_and_sensitive_values_go_away() {
        let now = Utc::now();
        let mut ctx = Context::default();
        ctx.set_slot(
            "a",
            Slot {
                value: Value::Bool(true),
                sensitive: false,
                given: false,
                expires_at: Some(now + TimeDelta::seconds(5)),
            },
        );
        ctx.set_slot(
            "code",
            Slot {
                value: Value::Text("1234".into()),
                sensitive: true,
                given: false,
                expires_at: None,
            },
        );
        assert!(ctx.get("a", now).is_some());
        assert!(ctx.get("a", now + TimeDelta::seconds(5)).is_none());
        ctx.end_turn(now);
        assert_eq!(ctx.len(), 1);
        ctx.end_turn(now + TimeDelta::seconds(6));
        assert!(ctx.is_empty());
    }
}
