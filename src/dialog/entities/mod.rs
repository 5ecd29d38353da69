//! Entities: what an `ask` node takes out of the user's message. One file each, and the one
//! list that registers them ([`ENTITIES`]).
//!
//! An entity's file owns all of it: its name and what it accepts ([`EntitySpec`]), the keys of
//! the `ask` node it reads (`choices:`, `pattern:`, `min:`), finding its value inside a
//! sentence ([`EntityKind::find`]), whether a value found is a valid answer, and how the bot
//! asks back when a message holds several. Each normalises what it accepts (a trimmed address
//! with a lower-case domain, a code without spaces or dashes), so everything after an `ask`
//! node sees clean values. Nothing outside this folder names an entity, so adding one is one
//! new file and one line in [`ENTITIES`] (ARCHITECTURE.md has the recipe).

mod choice;
mod date;
mod email;
mod integer;
mod number;
mod otp_code;
mod pattern;
mod phone;
mod text;
mod time;
mod when;
mod yes_no;

pub use choice::{ChoiceOption, MAX_CHOICES, label_variable};
pub use otp_code::{CodeShape, normalise_code};
pub use phone::parse_region;
pub use yes_no::{leading_yes_no, yes_no};

use std::any::Any;
use std::fmt::{self, Write as _};

use chrono::{DateTime, Utc};

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::reader::{Diagnostics, MapReader};
use crate::yaml::Pos;

use super::load::Resolver;
use super::value::Value;

/// Every entity, in the order `colloquy check` lists them in hints.
pub const ENTITIES: &[&EntitySpec] = &[
    &email::SPEC,
    &otp_code::SPEC,
    &yes_no::SPEC,
    &number::SPEC,
    &integer::SPEC,
    &text::SPEC,
    &choice::SPEC,
    &pattern::SPEC,
    &phone::SPEC,
    &date::SPEC,
    &time::SPEC,
];

/// How the loader knows one entity.
#[derive(Debug)]
pub struct EntitySpec {
    /// What `entity:` names it (`otp_code`); also how stores and clients know it.
    pub name: &'static str,
    /// What it accepts, in a sentence (the JSON Schema's description).
    pub accepts: &'static str,
    /// Keys of the `ask` node that this entity reads (`choices`), refused on other questions.
    pub keys: &'static [&'static str],
    /// Its values never appear in history or logs, and live for one turn only.
    pub sensitive: bool,
    /// Its values can be told apart from a greeting ("hi, please verify bob@example.com"), so
    /// one in the opening message answers the question before it is asked.
    pub early: bool,
    /// Variables set beside the answer, named by suffix (`choice`: `_label`, the option's
    /// label in the session's language).
    pub also_sets: &'static [&'static str],
    /// Reads the entity's keys of an `ask` node; `None` when they have errors (reported).
    pub read: fn(&mut EntitySource<'_, '_>) -> Option<Box<dyn EntityKind>>,
}

/// The keys of the question an entity reads, while it reads them.
#[derive(Debug)]
pub struct EntitySource<'a, 'n> {
    /// The node's id.
    pub id: &'a str,
    pub map: &'a mut MapReader<'n>,
    pub d: &'a mut Diagnostics,
}

impl EntitySource<'_, '_> {
    /// Where the node's id is written.
    pub fn pos(&self) -> Pos {
        self.map.pos
    }
}

/// An entity as a question uses it, with its parameters (a choice's options).
pub trait EntityKind: fmt::Debug + Send + Sync + Any {
    fn spec(&self) -> &'static EntitySpec;

    /// What `text` holds: one value, several distinct ones (in the order typed), or nothing.
    fn find(&self, text: &str, hearing: &Hearing<'_>) -> Found;

    /// Whether `text`, though no answer, looks like an attempt at one (`bob@example` for an
    /// address, `123` for a code): such a message is an invalid answer, which spends a
    /// retry, rather than one not understood, which gets the fallback prompt.
    fn resembles(&self, _text: &str) -> bool {
        false
    }

    /// Whether a value found is a valid answer (a number in range).
    fn accepts(&self, _value: &Value) -> bool {
        true
    }

    /// What the bot says when a message holds several `candidates` (distinct, two or more).
    fn which_one(&self, candidates: &[Value]) -> String {
        format!(
            "I see more than one: {}. Which one did you mean?",
            listed(candidates)
        )
    }

    /// A likelier value for one found ("bob@gmial.com" → "bob@gmail.com"), which the bot
    /// offers and the user confirms with yes or no.
    fn suggest(&self, _value: &Value, _hearing: &Hearing<'_>) -> Option<Value> {
        None
    }

    /// How the bot offers a suggestion.
    fn did_you_mean(&self, suggested: &Value) -> String {
        let mut text = String::from("Did you mean ");
        suggested.write_to(&mut text);
        text.push_str("? (yes/no)");
        text
    }

    /// The options offered, shown as buttons (a `choice`).
    fn choices(&self) -> &[ChoiceOption] {
        &[]
    }

    /// The variables of [`EntitySpec::also_sets`] for an accepted `value`, by suffix.
    fn also_sets(&self, _value: &Value, _hearing: &Hearing<'_>) -> Vec<(&'static str, Value)> {
        Vec::new()
    }

    /// Checks and registers what the entity needs of the dialog once its node is resolved
    /// (a choice's labels, to be translated).
    fn resolve(&self, _r: &mut Resolver<'_>, _id: &str, _pos: Pos) {}
}

impl dyn EntityKind {
    /// The entity as its concrete type, for code that inspects one (tests, tools).
    pub fn downcast_ref<T: EntityKind>(&self) -> Option<&T> {
        (self as &dyn Any).downcast_ref()
    }

    pub fn name(&self) -> &'static str {
        self.spec().name
    }

    /// Which entity this is, as replies and stores name it.
    pub fn entity(&self) -> Entity {
        Entity(self.spec())
    }
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
    pub fn from_candidates(mut candidates: Vec<Value>) -> Self {
        match candidates.len() {
            0 => Found::Nothing,
            1 => Found::One(candidates.remove(0)),
            _ => Found::Several(candidates),
        }
    }
}

/// What an entity may know while it reads a message.
#[derive(Clone, Copy)]
pub struct Hearing<'a> {
    /// What a code must look like: the issued code's length and alphabet.
    pub code: CodeShape,
    /// The question's node id (translations of its options are named after it).
    pub node: &'a str,
    /// A message of the dialog's translation in the session's language, by id.
    pub translate: &'a dyn Fn(&str) -> Option<String>,
    pub now: DateTime<Utc>,
    pub place: Place,
    /// Mail domains that are right as they are, besides the built-in ones
    /// (`email.suggest_domains`): a near miss of one is offered as a correction.
    pub email_domains: &'a [String],
}

/// Where the user is, as far as reading a message needs it: the time zone that "tomorrow at
/// 3pm" is read in, and the country a phone number without a country code is from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Place {
    pub zone: chrono_tz::Tz,
    pub region: Option<phonenumber::country::Id>,
}

impl Default for Place {
    /// UTC, and no region: only international phone numbers.
    fn default() -> Self {
        Place {
            zone: chrono_tz::UTC,
            region: None,
        }
    }
}

impl fmt::Debug for Hearing<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hearing")
            .field("code", &self.code)
            .field("node", &self.node)
            .field("now", &self.now)
            .field("place", &self.place)
            .finish_non_exhaustive()
    }
}

impl Hearing<'static> {
    /// No translation, the default code shape, at `now`: for tools and tests.
    pub fn plain(now: DateTime<Utc>) -> Self {
        Hearing {
            code: CodeShape::default(),
            node: "",
            translate: &untranslated,
            now,
            place: Place::default(),
            email_domains: &[],
        }
    }
}

fn untranslated(_id: &str) -> Option<String> {
    None
}

/// Which entity a question expects: what replies tell clients (`expecting: otp_code`) and
/// stores keep, by name.
#[derive(Clone, Copy)]
pub struct Entity(&'static EntitySpec);

impl Entity {
    pub fn from_name(name: &str) -> Option<Self> {
        ENTITIES
            .iter()
            .find(|spec| spec.name == name)
            .map(|spec| Entity(spec))
    }

    pub fn name(self) -> &'static str {
        self.0.name
    }

    pub fn names() -> impl Iterator<Item = &'static str> {
        ENTITIES.iter().map(|spec| spec.name)
    }

    pub fn spec(self) -> &'static EntitySpec {
        self.0
    }

    /// Values of this entity never appear in history or logs, and live for one turn only.
    pub fn is_sensitive(self) -> bool {
        self.0.sensitive
    }
}

impl PartialEq for Entity {
    fn eq(&self, other: &Self) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for Entity {}

impl fmt::Debug for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name)
    }
}

/// The keys every entity reads, each once: an `ask` node accepts them all, and refuses those
/// of another entity than its own.
pub fn param_keys() -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = Vec::new();
    for spec in ENTITIES {
        for key in spec.keys {
            if !keys.contains(key) {
                keys.push(key);
            }
        }
    }
    keys
}

/// Reads the `entity:` of an `ask` node and the keys that entity reads. `Err` carries the
/// entity its author most likely meant (`otp_code` for `otp_cod`), so the variables it sets
/// are still known.
pub fn read(
    map: &mut MapReader<'_>,
    d: &mut Diagnostics,
    id: &str,
) -> Result<Box<dyn EntityKind>, Option<&'static EntitySpec>> {
    let spec = read_name(map, d, id);
    let chosen = spec.as_ref().ok().copied();
    // A key of another entity: refused when the question's entity is known, and otherwise
    // left alone (which ones are wrong depends on the entity its author settles on).
    for key in param_keys() {
        if chosen.is_some_and(|spec| spec.keys.contains(&key)) {
            continue;
        }
        let Some(node) = map.take(key) else {
            continue;
        };
        if chosen.is_some() {
            let owners: Vec<String> = ENTITIES
                .iter()
                .filter(|spec| spec.keys.contains(&key))
                .map(|spec| format!("`entity: {}`", spec.name))
                .collect();
            let owners = owners.join(" or ");
            d.push(
                Diagnostic::error(node.pos, format!("`{key}` belongs to {owners}"))
                    .with_hint(format!("set {owners}, or remove `{key}`")),
            );
        }
    }
    let spec = spec?;
    (spec.read)(&mut EntitySource { id, map, d }).ok_or(Some(spec))
}

fn read_name(
    map: &mut MapReader<'_>,
    d: &mut Diagnostics,
    id: &str,
) -> Result<&'static EntitySpec, Option<&'static EntitySpec>> {
    let find = |name: &str| ENTITIES.iter().copied().find(|spec| spec.name == name);
    let Some(node) = map.take("entity") else {
        if map.lacks("entity") {
            d.push(
                Diagnostic::error(map.pos, format!("ask node `{id}` has no `entity`")).with_hint(
                    format!(
                        "add `entity:` with one of: {}",
                        Entity::names().collect::<Vec<_>>().join(", ")
                    ),
                ),
            );
        }
        return Err(None);
    };
    let name = d.string(node, "`entity`").ok_or(None)?;
    if let Some(spec) = find(&name) {
        return Ok(spec);
    }
    d.push(
        Diagnostic::error(node.pos, format!("unknown entity `{name}`"))
            .suggest(&name, Entity::names())
            .or_hint(|| {
                format!(
                    "entities: {}",
                    Entity::names().collect::<Vec<_>>().join(", ")
                )
            }),
    );
    Err(did_you_mean(&name, Entity::names()).and_then(find))
}

/// Candidates as the bot lists them back: "a, b or c", at most three and a count of the rest.
pub fn listed(candidates: &[Value]) -> String {
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
    listed
}

/// [`EntitySpec::read`] for an entity that reads no keys of its question.
pub fn without_parameters<E: EntityKind + Default>(
    _source: &mut EntitySource<'_, '_>,
) -> Option<Box<dyn EntityKind>> {
    Some(Box::new(E::default()))
}

/// A required key of an entity that is missing (`what`: "a choice"): the error, with an
/// example of the key.
pub(crate) fn missing_key(source: &mut EntitySource<'_, '_>, what: &str, key: &str, example: &str) {
    let (id, pos) = (source.id, source.map.pos);
    source.d.push(
        Diagnostic::error(
            pos,
            format!("ask node `{id}` asks for {what} but has no `{key}`"),
        )
        .with_hint(format!("add {example}")),
    );
}

/// Builds an entity that needs no parameters (`email`, `number`), for tools and tests.
pub fn plain(name: &str) -> Option<Box<dyn EntityKind>> {
    let spec = ENTITIES.iter().find(|spec| spec.name == name)?;
    let tree = crate::yaml::parse("{}").ok()?;
    let mut d = Diagnostics::default();
    let mut map = d.map(&tree, "an entity")?;
    let entity = (spec.read)(&mut EntitySource {
        id: name,
        map: &mut map,
        d: &mut d,
    });
    entity.filter(|_| !d.has_errors())
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::*;

    fn found(entity: &str, text: &str) -> Found {
        let entity = plain(entity).unwrap();
        entity.find(text, &Hearing::plain(DateTime::UNIX_EPOCH))
    }

    #[test]
    fn entities_find_clean_values() {
        assert_eq!(
            found("email", " A@Example.com "),
            Found::One(Value::Text("A@example.com".into()))
        );
        assert_eq!(found("email", "nope"), Found::Nothing);
        assert_eq!(found("yes_no", "Yes!"), Found::One(Value::Bool(true)));
        assert_eq!(found("yes_no", "maybe"), Found::Nothing);
        assert_eq!(found("number", "2,5"), Found::One(Value::Number(2.5)));
        assert_eq!(found("number", "inf"), Found::Nothing);
        assert_eq!(found("text", "   "), Found::Nothing);
    }

    #[test]
    fn every_entity_is_registered_once_and_plain_ones_build_alone() {
        for (i, spec) in ENTITIES.iter().enumerate() {
            assert!(
                ENTITIES[..i].iter().all(|other| other.name != spec.name),
                "{} twice",
                spec.name
            );
            assert_eq!(
                Entity::from_name(spec.name).map(Entity::name),
                Some(spec.name)
            );
        }
        assert!(plain("email").is_some());
        assert!(plain("choice").is_none(), "a choice needs its options");
        assert!(plain("nothing").is_none());
    }
}
