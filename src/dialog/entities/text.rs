//! `text`: any message with something in it, saved trimmed.

use crate::dialog::value::Value;

use super::{EntityKind, EntitySpec, Found, Hearing, without_parameters};

pub const SPEC: EntitySpec = EntitySpec {
    name: "text",
    accepts: "Any message that is not blank, trimmed.",
    keys: &[],
    sensitive: false,
    early: false,
    also_sets: &[],
    read: without_parameters::<Text>,
};

#[derive(Debug, Default)]
pub struct Text;

impl EntityKind for Text {
    fn spec(&self) -> &'static EntitySpec {
        &SPEC
    }

    fn find(&self, text: &str, _hearing: &Hearing<'_>) -> Found {
        let text = text.trim();
        if text.is_empty() {
            Found::Nothing
        } else {
            Found::One(Value::Text(text.to_owned()))
        }
    }
}
