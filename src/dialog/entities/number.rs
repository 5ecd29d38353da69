//! `number`: a number, saved as a number; `min:` and `max:` bound it.
//!
//! Accepts digits with a decimal point or comma (`2,5` is 2.5), a minus sign, and the words
//! zero to twelve, inside a sentence ("we are seven", "about 3.5 kg"); not the digits inside
//! a word, a range (`1-2`) or a version (`1.2.3`). Two different numbers are asked about; one
//! outside `min`/`max` is an invalid answer.

use crate::diagnostic::Diagnostic;
use crate::dialog::understand::visible;
use crate::dialog::value::Value;
use crate::yaml::Value as YamlValue;

use super::{EntityKind, EntitySource, EntitySpec, Found, Hearing, listed};

pub const SPEC: EntitySpec = EntitySpec {
    name: "number",
    accepts: "A number in digits (2,5 is 2.5) or a word up to twelve, inside a sentence; `min` and `max` bound it.",
    keys: &["min", "max"],
    sensitive: false,
    early: false,
    also_sets: &[],
    read,
};

/// A number question; `integer` questions are one too, taking whole numbers only.
#[derive(Debug)]
pub struct Number {
    pub range: Range,
    /// Only whole numbers answer (`integer`).
    pub whole: bool,
    spec: &'static EntitySpec,
}

impl Number {
    /// Reads `min:` and `max:` for the entity `spec` names.
    pub(super) fn read(
        source: &mut EntitySource<'_, '_>,
        spec: &'static EntitySpec,
        whole: bool,
    ) -> Option<Box<dyn EntityKind>> {
        Some(Box::new(Number {
            range: Range::read(source)?,
            whole,
            spec,
        }))
    }
}

fn read(source: &mut EntitySource<'_, '_>) -> Option<Box<dyn EntityKind>> {
    Number::read(source, &SPEC, false)
}

impl EntityKind for Number {
    fn spec(&self) -> &'static EntitySpec {
        self.spec
    }

    fn resembles(&self, text: &str) -> bool {
        text.chars().any(|c| c.is_ascii_digit())
    }

    fn find(&self, text: &str, _hearing: &Hearing<'_>) -> Found {
        let fits = |value: &Value| !self.whole || is_whole(value);
        if let Some(n) = whole_message(text).map(Value::Number).filter(fits) {
            return Found::One(n);
        }
        Found::from_candidates(numbers(&visible(text)).into_iter().filter(fits).collect())
    }

    fn accepts(&self, value: &Value) -> bool {
        self.range.contains(value)
    }

    fn which_one(&self, candidates: &[Value]) -> String {
        format!(
            "I see more than one number: {}. Which one did you mean?",
            listed(candidates)
        )
    }
}

/// A whole number (what `integer` accepts): `3`, not `2.5`.
fn is_whole(value: &Value) -> bool {
    matches!(value, Value::Number(n) if n.fract() == 0.0 && n.abs() < 1e15)
}

/// The message when all of it is one number (`2,5`, ` -3 `).
fn whole_message(text: &str) -> Option<f64> {
    text.trim()
        .replace(',', ".")
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
}

/// Bounds of a number answer (inclusive), from the question's `min:` and `max:`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Range {
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl Range {
    pub(super) fn read(source: &mut EntitySource<'_, '_>) -> Option<Self> {
        let (min, max) = (bound(source, "min"), bound(source, "max"));
        let (min, max) = (min?, max?);
        if let (Some(lo), Some(hi)) = (min, max)
            && lo > hi
        {
            source
                .d
                .error(source.pos(), format!("`min` ({lo}) is above `max` ({hi})"));
            return None;
        }
        Some(Range { min, max })
    }

    /// Whether `value` is a number within the bounds (what is not a number is not bounded).
    pub fn contains(&self, value: &Value) -> bool {
        let Value::Number(n) = *value else {
            return true;
        };
        !(self.min.is_some_and(|lo| n < lo) || self.max.is_some_and(|hi| n > hi))
    }
}

#[allow(clippy::option_option)]
fn bound(source: &mut EntitySource<'_, '_>, key: &'static str) -> Option<Option<f64>> {
    let Some(node) = source.map.take(key) else {
        return Some(None);
    };
    #[allow(clippy::cast_precision_loss)]
    match node.value {
        YamlValue::Int(i) => Some(Some(i as f64)),
        YamlValue::Float(f) if f.is_finite() => Some(Some(f)),
        _ => {
            source.d.push(Diagnostic::error(
                node.pos,
                format!("`{key}` must be a number, found {}", node.value.kind()),
            ));
            None
        }
    }
}

const NUMBER_WORDS: [&str; 13] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve",
];

/// Every distinct number written in `text`, in digits (`2,5` is 2.5) or as a word up to
/// twelve, in order.
pub fn numbers(text: &str) -> Vec<Value> {
    let lower = text.to_lowercase();
    let mut found: Vec<(usize, f64)> = Vec::new();
    let chars: Vec<(usize, char)> = lower.char_indices().collect();
    let digit = |i: usize| chars.get(i).is_some_and(|(_, c)| c.is_ascii_digit());
    let mut i = 0;
    while i < chars.len() {
        // A number starts after a space or punctuation, not inside a word, `1-2` or `1.2.3`.
        let starts = i == 0
            || !matches!(chars[i - 1].1, c if c.is_alphanumeric() || matches!(c, '.' | ',' | '-'));
        let minus = chars[i].1 == '-' && digit(i + 1);
        if !(starts && (digit(i) || minus)) {
            i += 1;
            continue;
        }
        let start = i;
        let mut number = String::new();
        if minus {
            number.push('-');
            i += 1;
        }
        while digit(i) {
            number.push(chars[i].1);
            i += 1;
        }
        if chars.get(i).is_some_and(|(_, c)| matches!(c, '.' | ',')) && digit(i + 1) {
            number.push('.');
            i += 1;
            while digit(i) {
                number.push(chars[i].1);
                i += 1;
            }
        }
        if let Ok(n) = number.parse::<f64>()
            && n.is_finite()
        {
            found.push((chars[start].0, n));
        }
    }
    let mut offset = 0;
    for word in lower.split(|c: char| !c.is_alphanumeric()) {
        if let Some(n) = NUMBER_WORDS.iter().position(|w| *w == word) {
            #[allow(clippy::cast_precision_loss)]
            found.push((offset, n as f64));
        }
        offset += word.len() + 1;
    }
    found.sort_by_key(|(at, _)| *at);
    let mut distinct: Vec<f64> = Vec::new();
    for (_, n) in found {
        #[allow(clippy::float_cmp)]
        if !distinct.contains(&n) {
            distinct.push(n);
        }
    }
    distinct.into_iter().map(Value::Number).collect()
}
