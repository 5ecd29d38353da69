//! `time`: a time of day, saved as `HH:MM` (24-hour).
//!
//! Accepts, inside a sentence: `3pm`, `3 p.m.`, `9:05am`, `15:30`, `15h30` and `15h`
//! (French), `noon`, `midday`, `midnight`, `midi`, `minuit`. An hour alone (`at 3`) is no
//! answer: it could be morning or afternoon. Two different times are asked about.

use crate::dialog::value::Value;

use super::when::{clock_time, words};
use super::{EntityKind, EntitySpec, Found, Hearing, listed, without_parameters};

pub const SPEC: EntitySpec = EntitySpec {
    name: "time",
    accepts: "A time of day inside the message (3pm, 9:05am, 15:30, 15h30, noon); an hour alone is not one; saved as HH:MM.",
    keys: &[],
    sensitive: false,
    early: true,
    also_sets: &[],
    read: without_parameters::<Time>,
};

#[derive(Debug, Default)]
pub struct Time;

impl EntityKind for Time {
    fn spec(&self) -> &'static EntitySpec {
        &SPEC
    }

    fn resembles(&self, text: &str) -> bool {
        text.chars().any(|c| c.is_ascii_digit())
    }

    fn find(&self, text: &str, _hearing: &Hearing<'_>) -> Found {
        let mut found: Vec<Value> = Vec::new();
        for word in words(text) {
            if let Some(time) = clock_time(&word) {
                let value = Value::Text(time.format("%H:%M").to_string());
                if !found.contains(&value) {
                    found.push(value);
                }
            }
        }
        Found::from_candidates(found)
    }

    fn which_one(&self, candidates: &[Value]) -> String {
        format!(
            "I see more than one time: {}. Which one did you mean?",
            listed(candidates)
        )
    }
}
