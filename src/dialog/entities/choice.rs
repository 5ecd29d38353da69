//! `choice`: one of the question's options, saved as its value (and its label as
//! `<save_as>_label`, in the session's language).
//!
//! ```yaml
//! ask_service:
//!   ask: "What would you like to book?"
//!   entity: choice
//!   choices:                   # value: synonyms, or value: { label, also }
//!     haircut: [cut, trim]
//!     colour: { label: "Colour or highlights", also: [color, dye] }
//! ```
//!
//! Accepts an option's value, label (also translated) or synonym, alone or inside a sentence
//! ("I'd like a haircut please"), matched like keywords (word boundaries, one typo in words
//! of five letters or more), or its position in the list (`2`: channels without buttons show
//! the options numbered). A phrase inside a longer phrase of another option belongs to that
//! one ("beard trim" is not also a "trim"); two options named are asked about.

use std::borrow::Cow;

use crate::diagnostic::Diagnostic;
use crate::dialog::load::Resolver;
use crate::dialog::model::normalise_keyword;
use crate::dialog::understand::phrase_starts;
use crate::dialog::value::Value;
use crate::reader::Diagnostics;
use crate::yaml::{Node as YamlNode, Pos, Value as YamlValue};

use super::{EntityKind, EntitySource, EntitySpec, Found, Hearing, listed, missing_key};

pub const SPEC: EntitySpec = EntitySpec {
    name: "choice",
    accepts: "One of the question's `choices`, by its value, label, synonym or position in the list, alone or inside a sentence.",
    keys: &["choices"],
    sensitive: false,
    early: true,
    also_sets: &[LABEL_SUFFIX],
    read,
};

const LABEL_SUFFIX: &str = "_label";

/// The most options a question may offer: more are a menu no one reads in a chat.
pub const MAX_CHOICES: usize = 20;

/// One option of a `choice` question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChoiceOption {
    /// What the answer is saved as (`haircut`).
    pub value: String,
    /// What a button shows (`Haircut`).
    pub label: String,
    /// The value, the label and the synonyms, normalised as keywords are.
    pub words: Vec<String>,
}

#[derive(Debug)]
pub struct Choice {
    pub options: Vec<ChoiceOption>,
}

/// Where a choice question keeps the label of the option chosen (in the session's language),
/// for messages: `service` → `service_label`.
pub fn label_variable(save_as: &str) -> String {
    format!("{save_as}{LABEL_SUFFIX}")
}

fn read(source: &mut EntitySource<'_, '_>) -> Option<Box<dyn EntityKind>> {
    let Some(node) = source.map.take("choices") else {
        if source.map.lacks("choices") {
            missing_key(
                source,
                "a choice",
                "choices",
                "`choices: { haircut: [cut, trim], colour: [color] }`: each value, with its synonyms",
            );
        }
        return None;
    };
    let d = &mut *source.d;
    let Some(entries) = node.as_map() else {
        d.error(
            node.pos,
            format!(
                "`choices` must be a mapping of values to synonyms, found {}",
                node.value.kind()
            ),
        );
        return None;
    };
    if entries.len() < 2 || entries.len() > MAX_CHOICES {
        d.error(
            node.pos,
            format!("`choices` offers 2 to {MAX_CHOICES} options"),
        );
        return None;
    }
    let mut options: Vec<ChoiceOption> = Vec::new();
    let mut ok = true;
    for (key, value) in entries {
        let Some(option) = read_option(key, value, d) else {
            ok = false;
            continue;
        };
        // A phrase naming two options could never choose between them.
        for word in &option.words {
            if let Some(other) = options.iter().find(|o| o.words.contains(word)) {
                d.push(Diagnostic::error(
                    key.pos,
                    format!(
                        "`{word}` names both `{}` and `{}`",
                        other.value, option.value
                    ),
                ));
                ok = false;
            }
        }
        options.push(option);
    }
    ok.then(|| Box::new(Choice { options }) as Box<dyn EntityKind>)
}

fn read_option(key: &YamlNode, value: &YamlNode, d: &mut Diagnostics) -> Option<ChoiceOption> {
    let value_name = d.string(key, "a choice")?;
    if normalise_keyword(&value_name).is_empty() {
        d.error(key.pos, "a choice needs letters or digits");
        return None;
    }
    let (label, also) = match &value.value {
        YamlValue::Null => (None, Vec::new()),
        YamlValue::Seq(_) | YamlValue::Str(_) => (None, d.texts(value, "the synonyms")),
        YamlValue::Map(_) => {
            let mut map = d.map(value, &format!("choice `{value_name}`"))?;
            let label = map.take("label").and_then(|n| d.text(n, "`label`"));
            let also = map
                .take("also")
                .map(|n| d.texts(n, "`also`"))
                .unwrap_or_default();
            map.finish(d, &format!("choice `{value_name}`"));
            (label, also)
        }
        other => {
            d.error(
                value.pos,
                format!(
                    "choice `{value_name}` takes synonyms or `{{ label, also }}`, found {}",
                    other.kind()
                ),
            );
            return None;
        }
    };
    let label = label.unwrap_or_else(|| label_of(&value_name));
    let mut words: Vec<String> = Vec::new();
    for phrase in [value_name.as_str(), label.as_str()]
        .into_iter()
        .chain(also.iter().map(|(_, text)| text.as_str()))
    {
        let phrase = normalise_keyword(phrase).into_owned();
        if !phrase.is_empty() && !words.contains(&phrase) {
            words.push(phrase);
        }
    }
    Some(ChoiceOption {
        value: value_name,
        label,
        words,
    })
}

/// `hair_cut` → `Hair cut`: a label for an option that names none.
fn label_of(value: &str) -> String {
    let spaced = value.replace(['_', '-'], " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => spaced,
    }
}

/// The message id of an option's label in a translation: `<node>-<value>`.
fn label_id(node: &str, option: &ChoiceOption) -> String {
    format!("{node}-{}", option.value)
}

impl EntityKind for Choice {
    fn spec(&self) -> &'static EntitySpec {
        &SPEC
    }

    fn find(&self, text: &str, hearing: &Hearing<'_>) -> Found {
        choose(text, &self.in_language_of(hearing))
    }

    fn which_one(&self, candidates: &[Value]) -> String {
        format!("Did you mean {}? Please pick one.", listed(candidates))
    }

    fn choices(&self) -> &[ChoiceOption] {
        &self.options
    }

    fn also_sets(&self, value: &Value, hearing: &Hearing<'_>) -> Vec<(&'static str, Value)> {
        let Value::Text(chosen) = value else {
            return Vec::new();
        };
        let Some(option) = self.options.iter().find(|o| o.value == *chosen) else {
            return Vec::new();
        };
        let label = (hearing.translate)(&label_id(hearing.node, option))
            .unwrap_or_else(|| option.label.clone());
        vec![(LABEL_SUFFIX, Value::Text(label))]
    }

    fn resolve(&self, r: &mut Resolver<'_>, id: &str, pos: Pos) {
        for option in &self.options {
            r.label(label_id(id, option), pos);
        }
    }
}

impl Choice {
    /// The options, answerable also by their label in the session's language.
    fn in_language_of(&self, hearing: &Hearing<'_>) -> Cow<'_, [ChoiceOption]> {
        let translated: Vec<(usize, String)> = self
            .options
            .iter()
            .enumerate()
            .filter_map(|(i, option)| {
                let label = (hearing.translate)(&label_id(hearing.node, option))?;
                let word = normalise_keyword(&label).into_owned();
                (!word.is_empty() && !option.words.contains(&word)).then_some((i, word))
            })
            .collect();
        if translated.is_empty() {
            return Cow::Borrowed(&self.options);
        }
        let mut options = self.options.clone();
        for (i, word) in translated {
            options[i].words.push(word);
        }
        Cow::Owned(options)
    }
}

/// The option a message names: a number alone is the option at that position (1 is the
/// first); a whole message that is an option's value, label or synonym is that option; else
/// every option with such a phrase inside the message, matched like keywords. Several
/// options are [`Found::Several`] with their labels, for the question back.
pub fn choose(text: &str, options: &[ChoiceOption]) -> Found {
    let chosen = |option: &ChoiceOption| Found::One(Value::Text(option.value.clone()));
    let normalised = normalise_keyword(text);
    if let Ok(position) = normalised.parse::<usize>() {
        return match position.checked_sub(1).and_then(|i| options.get(i)) {
            Some(option) => chosen(option),
            None => Found::Nothing,
        };
    }
    if let Some(option) = options
        .iter()
        .find(|o| o.words.iter().any(|w| *w == normalised))
    {
        return chosen(option);
    }
    let words: Vec<&str> = normalised.split(' ').filter(|w| !w.is_empty()).collect();
    // Every (option, start, end) a phrase of an option covers in the message.
    let mut spans: Vec<(usize, usize, usize)> = Vec::new();
    for (i, option) in options.iter().enumerate() {
        for phrase in &option.words {
            let phrase: Vec<&str> = phrase.split(' ').filter(|w| !w.is_empty()).collect();
            for start in phrase_starts(&phrase, &words) {
                spans.push((i, start, start + phrase.len()));
            }
        }
    }
    spans.sort_by_key(|&(_, start, _)| start);
    // A match inside a longer match of another option is part of that one: "beard trim" is
    // the beard option, not also the haircut's "trim". Only spans starting at most the
    // longest phrase's length before a span's end can hold it, so each span is checked
    // against a few neighbours, not every span of a long message.
    let longest = spans.iter().map(|&(_, s, e)| e - s).max().unwrap_or(0);
    let inside_another = |&(i, start, end): &(usize, usize, usize)| {
        let first = spans.partition_point(|&(_, s, _)| s + longest < end);
        spans[first..]
            .iter()
            .take_while(|&&(_, s, _)| s <= start)
            .any(|&(j, s, e)| j != i && end <= e && (e - s) > (end - start))
    };
    let mut named: Vec<&ChoiceOption> = Vec::new();
    for span in &spans {
        let option = &options[span.0];
        if named.iter().any(|o| o.value == option.value) || inside_another(span) {
            continue;
        }
        named.push(option);
    }
    match named.as_slice() {
        [] => Found::Nothing,
        [one] => chosen(one),
        several => Found::Several(
            several
                .iter()
                .map(|o| Value::Text(o.label.clone()))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> Vec<ChoiceOption> {
        let option = |value: &str, label: &str, also: &[&str]| ChoiceOption {
            value: value.to_owned(),
            label: label.to_owned(),
            words: [value, label]
                .iter()
                .chain(also)
                .map(|w| normalise_keyword(w).into_owned())
                .collect(),
        };
        vec![
            option("haircut", "Hair cut", &["cut", "trim"]),
            option("colour", "Colour", &["color", "dye", "highlights"]),
            option("beard_trim", "Beard trim", &["beard", "shave"]),
        ]
    }

    fn heard(text: &str) -> Found {
        choose(text, &options())
    }

    fn answer(value: &str) -> Found {
        Found::One(Value::Text(value.to_owned()))
    }

    #[test]
    fn a_choice_is_read_from_its_value_label_synonym_or_position() {
        assert_eq!(heard("Haircut"), answer("haircut"));
        assert_eq!(heard("hair cut!"), answer("haircut"));
        assert_eq!(heard("color"), answer("colour"));
        assert_eq!(heard("2"), answer("colour"));
        assert_eq!(heard(" 3. "), answer("beard_trim"));
        assert_eq!(heard("I'd like a haircut please"), answer("haircut"));
        assert_eq!(heard("some highlihgts maybe"), answer("colour"));
        // "beard trim" names the beard option whole; "trim" alone would be the haircut.
        assert_eq!(heard("beard trim"), answer("beard_trim"));
        assert_eq!(heard("just a beard trim today"), answer("beard_trim"));
        assert_eq!(heard("a trim please"), answer("haircut"));
    }

    #[test]
    fn two_options_are_asked_about_and_nothing_is_not_a_choice() {
        assert_eq!(
            heard("a haircut and a shave"),
            Found::Several(vec![
                Value::Text("Hair cut".into()),
                Value::Text("Beard trim".into())
            ])
        );
        assert_eq!(
            heard("a haircut and a beard trim"),
            Found::Several(vec![
                Value::Text("Hair cut".into()),
                Value::Text("Beard trim".into())
            ])
        );
        assert_eq!(heard("4"), Found::Nothing);
        assert_eq!(heard("0"), Found::Nothing);
        assert_eq!(heard("a massage"), Found::Nothing);
        assert_eq!(heard(""), Found::Nothing);
    }
}
