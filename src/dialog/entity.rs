//! Entities: what an `ask` node extracts from the user's text.
//!
//! Each entity normalises what it accepts (a trimmed address with a lower-case domain, a code
//! without spaces or dashes), so everything after an `ask` node sees clean values.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::address::EmailAddr;

use super::value::Value;

/// The entities an `ask` node can collect. Serialised by name (`otp_code`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Entity {
    /// An email address (validated, header-safe, domain lower-cased).
    Email,
    /// A one-time code: the issued code's length and alphabet; tolerates `12 34` and `12-34`.
    OtpCode,
    /// yes / no (and common variants), saved as a boolean.
    YesNo,
    /// A number, saved as a number.
    Number,
    /// A whole number (`3`, `three`), saved as a number.
    Integer,
    /// Any non-empty text.
    Text,
    /// What the question's `pattern:` (a regular expression) matches in the message: its
    /// first capture group, else the whole match; saved as text.
    Pattern,
    /// One of the question's `choices` (by value, label, synonym or position), saved as its
    /// value; see `understand::choices`.
    Choice,
}

/// What an entity found in a message.
#[derive(Clone, Debug, PartialEq)]
pub enum Found {
    Nothing,
    One(Value),
    /// Distinct candidates, in the order they were typed: the bot asks which.
    Several(Vec<Value>),
}

impl Found {
    fn from_candidates(mut candidates: Vec<Value>) -> Self {
        match candidates.len() {
            0 => Found::Nothing,
            1 => Found::One(candidates.remove(0)),
            _ => Found::Several(candidates),
        }
    }
}

/// What an OTP-code answer must look like, taken from the code that was issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodeShape {
    pub length: u8,
    pub alphanumeric: bool,
}

impl Default for CodeShape {
    fn default() -> Self {
        Self {
            length: 4,
            alphanumeric: false,
        }
    }
}

impl Entity {
    pub const ALL: [(&'static str, Entity); 8] = [
        ("email", Entity::Email),
        ("otp_code", Entity::OtpCode),
        ("yes_no", Entity::YesNo),
        ("number", Entity::Number),
        ("integer", Entity::Integer),
        ("text", Entity::Text),
        ("choice", Entity::Choice),
        ("pattern", Entity::Pattern),
    ];

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, e)| *e)
    }

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, e)| *e == self)
            .map_or("text", |(n, _)| n)
    }

    pub fn names() -> impl Iterator<Item = &'static str> {
        Self::ALL.iter().map(|(n, _)| *n)
    }

    /// Values of this entity never appear in history or logs, and live for one turn only.
    pub fn is_sensitive(self) -> bool {
        self == Entity::OtpCode
    }

    /// What the user typed holds: the value when the whole message is one, else every
    /// candidate found inside it (see `understand.rs` for the rules per entity).
    pub fn find(self, text: &str, code: CodeShape) -> Found {
        if let Some(value) = self.extract(text, code) {
            return Found::One(value);
        }
        let text = super::understand::visible(text);
        let candidates = match self {
            Entity::Email => super::understand::emails(&text),
            Entity::OtpCode => super::understand::codes(&text, code),
            Entity::Number => super::understand::numbers(&text),
            Entity::Integer => super::understand::numbers(&text)
                .into_iter()
                .filter(is_whole)
                .collect(),
            // `extract` already read yes/no from the whole sentence; text is any message;
            // a choice is read against its options (`understand::choices`).
            Entity::YesNo | Entity::Text | Entity::Choice | Entity::Pattern => Vec::new(),
        };
        Found::from_candidates(candidates)
    }

    /// What the bot says when a message holds several candidates (`candidates` are distinct).
    pub fn which_one(self, candidates: &[Value]) -> String {
        const SHOWN: usize = 3;
        let mut listed = String::new();
        for (i, value) in candidates.iter().take(SHOWN).enumerate() {
            if i > 0 {
                listed.push_str(if i + 1 == candidates.len().min(SHOWN) {
                    " or "
                } else {
                    ", "
                });
            }
            value.write_to(&mut listed);
        }
        if candidates.len() > SHOWN {
            let _ = write!(listed, " (and {} more)", candidates.len() - SHOWN);
        }
        match self {
            // Codes are never echoed, not even the user's own.
            Entity::OtpCode => {
                "I see more than one code in your message. Please send just the one from the email."
                    .to_owned()
            }
            Entity::Email => {
                format!("I see more than one email address: {listed}. Which one should I use?")
            }
            Entity::Number | Entity::Integer => {
                format!("I see more than one number: {listed}. Which one did you mean?")
            }
            Entity::Choice => format!("Did you mean {listed}? Please pick one."),
            Entity::Pattern => format!("I see more than one: {listed}. Which one did you mean?"),
            Entity::YesNo | Entity::Text => "Sorry, which one did you mean?".to_owned(),
        }
    }

    /// Extracts a value when the whole of what the user typed is one, or `None`.
    pub fn extract(self, text: &str, code: CodeShape) -> Option<Value> {
        let text = text.trim();
        match self {
            Entity::Email => EmailAddr::parse(text)
                .ok()
                .map(|a| Value::Text(a.as_str().to_owned())),
            Entity::OtpCode => normalise_code(text, code).map(Value::Text),
            Entity::YesNo => yes_no(text).map(Value::Bool),
            Entity::Number => text
                .replace(',', ".")
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .map(Value::Number),
            Entity::Integer => Entity::Number.extract(text, code).filter(is_whole),
            Entity::Text => (!text.is_empty()).then(|| Value::Text(text.to_owned())),
            Entity::Choice | Entity::Pattern => None,
        }
    }
}

/// A whole number (what `integer` accepts): `3`, not `2.5`.
fn is_whole(value: &Value) -> bool {
    matches!(value, Value::Number(n) if n.fract() == 0.0 && n.abs() < 1e15)
}

/// Removes the separators people type inside codes and checks length and alphabet.
pub fn normalise_code(text: &str, shape: CodeShape) -> Option<String> {
    if text.chars().count() > 64 {
        return None;
    }
    let code: String = text
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '\u{a0}'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let fits = if shape.alphanumeric {
        code.chars().all(|c| c.is_ascii_alphanumeric())
    } else {
        code.chars().all(|c| c.is_ascii_digit())
    };
    (fits && code.len() == usize::from(shape.length)).then_some(code)
}

fn yes_no(text: &str) -> Option<bool> {
    super::understand::yes_no(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_tolerate_separators() {
        let shape = CodeShape::default();
        assert_eq!(normalise_code("12 34", shape).as_deref(), Some("1234"));
        assert_eq!(normalise_code("12-34", shape).as_deref(), Some("1234"));
        assert_eq!(normalise_code(" 0042 ", shape).as_deref(), Some("0042"));
        assert_eq!(normalise_code("123", shape), None);
        assert_eq!(normalise_code("12a4", shape), None);
        assert_eq!(normalise_code("١٢٣٤", shape), None, "only ASCII digits");
        let alnum = CodeShape {
            length: 4,
            alphanumeric: true,
        };
        assert_eq!(normalise_code("ab-2c", alnum).as_deref(), Some("AB2C"));
    }

    #[test]
    fn entities_extract_clean_values() {
        let shape = CodeShape::default();
        assert_eq!(
            Entity::Email.extract(" A@Example.com ", shape),
            Some(Value::Text("A@example.com".into()))
        );
        assert_eq!(Entity::Email.extract("nope", shape), None);
        assert_eq!(
            Entity::YesNo.extract("Yes!", shape),
            Some(Value::Bool(true))
        );
        assert_eq!(Entity::YesNo.extract("maybe", shape), None);
        assert_eq!(
            Entity::Number.extract("2,5", shape),
            Some(Value::Number(2.5))
        );
        assert_eq!(Entity::Number.extract("inf", shape), None);
        assert_eq!(Entity::Text.extract("   ", shape), None);
    }
}
