//! `integer`: a whole number, saved as a number; `min:` and `max:` bound it.
//!
//! Accepts what `number` accepts when it is whole (`3`, `three`, "we are seven"); `2.5` is no
//! answer. One outside `min`/`max` is an invalid answer.

use crate::dialog::understand::visible;
use crate::dialog::value::Value;

use super::number::{Range, numbers, which_number, whole_message};
use super::{EntityKind, EntitySource, EntitySpec, Found, Hearing};

pub const SPEC: EntitySpec = EntitySpec {
    name: "integer",
    accepts: "A whole number in digits or a word up to twelve, inside a sentence; `min` and `max` bound it.",
    keys: &["min", "max"],
    sensitive: false,
    early: false,
    also_sets: &[],
    read,
};

#[derive(Debug)]
pub struct Integer {
    pub range: Range,
}

fn read(source: &mut EntitySource<'_, '_>) -> Option<Box<dyn EntityKind>> {
    Some(Box::new(Integer {
        range: Range::read(source)?,
    }))
}

impl EntityKind for Integer {
    fn spec(&self) -> &'static EntitySpec {
        &SPEC
    }

    fn resembles(&self, text: &str) -> bool {
        text.chars().any(|c| c.is_ascii_digit())
    }

    fn find(&self, text: &str, _hearing: &Hearing<'_>) -> Found {
        if let Some(n) = whole_message(text).map(Value::Number).filter(is_whole) {
            return Found::One(n);
        }
        Found::from_candidates(
            numbers(&visible(text))
                .into_iter()
                .filter(is_whole)
                .collect(),
        )
    }

    fn accepts(&self, value: &Value) -> bool {
        self.range.contains(value)
    }

    fn which_one(&self, candidates: &[Value]) -> String {
        which_number(candidates)
    }
}

/// A whole number (what `integer` accepts): `3`, not `2.5`.
fn is_whole(value: &Value) -> bool {
    matches!(value, Value::Number(n) if n.fract() == 0.0 && n.abs() < 1e15)
}
