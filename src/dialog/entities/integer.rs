//! `integer`: a whole number, saved as a number; `min:` and `max:` bound it.
//!
//! Accepts what `number` accepts when it is whole (`3`, `three`, "we are seven"); `2.5` is no
//! answer. One outside `min`/`max` is an invalid answer. A `number` question that takes whole
//! numbers only (`number.rs`).

use super::number::Number;
use super::{EntityKind, EntitySource, EntitySpec};

pub const SPEC: EntitySpec = EntitySpec {
    name: "integer",
    accepts: "A whole number in digits or a word up to twelve, inside a sentence; `min` and `max` bound it.",
    keys: &["min", "max"],
    sensitive: false,
    early: false,
    also_sets: &[],
    read,
};

fn read(source: &mut EntitySource<'_, '_>) -> Option<Box<dyn EntityKind>> {
    Number::read(source, &SPEC, true)
}
