//! `yes_no`: a yes or a no, saved as a boolean.
//!
//! Accepts the usual variants and short phrases in English and French (the shipped dialogs'
//! languages): "yes please", "yeah sure", "ok", "of course", 👍; "nah", "nope", "no thanks",
//! "non merci", 👎. A message that says both ("not sure", "yes no") or neither is no answer.

use crate::dialog::model::normalise_keyword;
use crate::dialog::value::Value;

use super::{EntityKind, EntitySpec, Found, Hearing, without_parameters};

pub const SPEC: EntitySpec = EntitySpec {
    name: "yes_no",
    accepts: "Yes or no, in the usual variants and short phrases (yeah sure, nope, no thanks, oui, non merci); saved as a boolean.",
    keys: &[],
    sensitive: false,
    early: false,
    also_sets: &[],
    read: without_parameters::<YesNo>,
};

#[derive(Debug, Default)]
pub struct YesNo;

impl EntityKind for YesNo {
    fn spec(&self) -> &'static EntitySpec {
        &SPEC
    }

    fn find(&self, text: &str, _hearing: &Hearing<'_>) -> Found {
        match yes_no(text) {
            Some(answer) => Found::One(Value::Bool(answer)),
            None => Found::Nothing,
        }
    }

    fn which_one(&self, _candidates: &[Value]) -> String {
        "Sorry, was that a yes or a no?".to_owned()
    }
}

const YES: &[&str] = &[
    "oui",
    "ouais",
    "daccord",
    "bien sûr",
    "bien sur",
    "volontiers",
    "yes",
    "y",
    "yeah",
    "yea",
    "yep",
    "yup",
    "ya",
    "yah",
    "sure",
    "ok",
    "okay",
    "okey",
    "correct",
    "right",
    "absolutely",
    "definitely",
    "certainly",
    "affirmative",
    "true",
    "of course",
    "go ahead",
    "please do",
    "do it",
    "sounds good",
];
const NO: &[&str] = &[
    "non",
    "non merci",
    "jamais",
    "no",
    "n",
    "nope",
    "nah",
    "naw",
    "not",
    "never",
    "negative",
    "false",
    "dont",
    "do not",
    "no thanks",
    "not really",
];

/// How a reply to a yes/no question the bot asked in passing ("Did you mean …?") answers it:
/// a message that opens with yes or no is that ("no, that's right" keeps what was typed),
/// else [`yes_no`].
pub fn leading_yes_no(text: &str) -> Option<bool> {
    let normalised = normalise_keyword(text);
    match normalised.split(' ').find(|w| !w.is_empty()) {
        Some(first) if YES.contains(&first) => Some(true),
        Some(first) if NO.contains(&first) => Some(false),
        _ => yes_no(text),
    }
}

/// Yes or no when the message says only one of them ("yeah sure", "nah", "no thanks"); `None`
/// when it says neither, or both ("not sure").
pub fn yes_no(text: &str) -> Option<bool> {
    let normalised = normalise_keyword(text);
    let words: Vec<&str> = normalised.split(' ').filter(|w| !w.is_empty()).collect();
    let says = |phrases: &[&str]| {
        phrases.iter().any(|phrase| {
            let phrase: Vec<&str> = phrase.split(' ').collect();
            words
                .windows(phrase.len())
                .any(|window| window == phrase.as_slice())
        })
    };
    let yes = says(YES) || text.contains('👍');
    let no = says(NO) || text.contains('👎');
    match (yes, no) {
        (true, false) => Some(true),
        (false, true) => Some(false),
        _ => None,
    }
}
