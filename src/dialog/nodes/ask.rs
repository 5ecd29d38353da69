//! `ask`: prompt, wait for the answer, extract an entity, re-prompt when it is invalid.
//!
//! ```yaml
//! ask_email:
//!   ask: "What's your email address?"
//!   entity: email              # saved as `email` unless `save_as` says otherwise
//!   invalid: ["That doesn't look like an email address.", "Please type it like name@example.com."]
//!   retries: 3                 # re-prompts; the 4th invalid answer takes `on_exhausted`
//!   retries_per_visit: false   # the count survives loops back here until a valid answer
//!   on_exhausted: give_up
//!   keywords: { resend: send_code }
//!   next: send_code
//!
//! ask_service:
//!   ask: "What would you like to book?"
//!   entity: choice
//!   choices:                   # value: synonyms, or value: { label, also }
//!     haircut: [cut, trim]
//!     colour: { label: "Colour or highlights", also: [color, dye] }
//!   next: ask_day
//! ```

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::dialog::entity::Entity;
use crate::dialog::load::{RawKeyword, Ref, Resolver, TextSrc, read_keywords};
use crate::dialog::machine::{Flow, Run, Via};
use crate::dialog::model::{ChoiceOption, EdgeLabel, Keyword, NodeIdx, normalise_keyword};
use crate::dialog::template::{Template, is_variable_name};
use crate::dialog::value::{Slot, Value};
use crate::reader::{Diagnostics, MapReader};
use crate::yaml::{Node as YamlNode, Pos, Value as YamlValue};

use super::{NodeKind, NodeSource, Question, RawNodeKind, SetVariable, Shape, Spec};

pub const SPEC: Spec = Spec {
    key: "ask",
    keys: &[
        "entity",
        "choices",
        "min",
        "max",
        "pattern",
        "save_as",
        "invalid",
        "retries",
        "retries_per_visit",
        "always_ask",
        "on_exhausted",
        "keywords",
        "next",
    ],
    companions: &[],
    read,
};

/// Re-prompts before `on_exhausted` when `retries` is not given.
pub const DEFAULT_RETRIES: u8 = 3;

#[derive(Debug)]
struct RawAsk {
    pos: Pos,
    prompts: Vec<TextSrc>,
    entity: Entity,
    choices: Vec<ChoiceOption>,
    range: (Option<f64>, Option<f64>),
    pattern: Option<regex::Regex>,
    save_as: String,
    invalid: Vec<TextSrc>,
    retries: u8,
    retries_per_visit: bool,
    always_ask: bool,
    on_exhausted: Ref,
    keywords: Vec<RawKeyword>,
    next: Ref,
}

#[derive(Debug)]
pub struct Ask {
    pub prompts: Vec<Template>,
    pub entity: Entity,
    /// The options of a `choice` question (empty for other entities).
    pub choices: Vec<ChoiceOption>,
    /// Bounds of a `number` or `integer` answer (inclusive); one outside is invalid.
    pub range: (Option<f64>, Option<f64>),
    /// What a `pattern` question's answer matches (its first group, else the whole match).
    pub pattern: Option<regex::Regex>,
    pub save_as: String,
    pub invalid: Vec<Template>,
    pub retries: u8,
    /// Entering the node clears its invalid-answer count (by default only a valid answer
    /// does, so a loop back to the question cannot refill its retries).
    pub retries_per_visit: bool,
    /// Ask even when the answer was given before the question (the opening message, a
    /// caller's input).
    pub always_ask: bool,
    pub on_exhausted: NodeIdx,
    pub keywords: Vec<Keyword>,
    pub next: NodeIdx,
}

fn read(source: &mut NodeSource<'_, '_>) -> Option<Box<dyn RawNodeKind>> {
    let prompts = source.texts("ask");
    let invalid = source.texts("invalid");
    let on_exhausted = source.node_ref("on_exhausted");
    let next = source.node_ref("next");
    let pos = source.pos();
    let (id, map, d) = (source.id, &mut *source.map, &mut *source.d);
    let (entity, meant) = match read_entity(map, d, id) {
        Ok(entity) => (Some(entity), Some(entity)),
        Err(meant) => (None, meant),
    };
    let choices = read_choices(map, d, id, meant);
    let range = read_range(map, d, meant);
    let pattern = read_pattern(map, d, id, meant);
    let save_as = match map.take("save_as") {
        Some(n) => d.string(n, "`save_as`").filter(|name| {
            let ok = is_variable_name(name);
            if !ok {
                d.error(
                    n.pos,
                    format!("`{name}` is not a variable name (letters, digits, `_` and `.` only)"),
                );
            }
            ok
        }),
        None => meant.map(|e| e.name().to_owned()),
    };
    if let Some(name) = &save_as {
        source.sets.push(SetVariable {
            name: name.clone(),
            sensitive: meant.is_some_and(Entity::is_sensitive),
        });
        if meant == Some(Entity::Choice) {
            source.sets.push(SetVariable {
                name: label_variable(name),
                sensitive: false,
            });
        }
    }
    let retries = match map.take("retries") {
        Some(n) => d
            .integer(n, "`retries`", 0, 10)
            .and_then(|v| u8::try_from(v).ok()),
        None => Some(DEFAULT_RETRIES),
    };
    let retries_per_visit = match map.take("retries_per_visit") {
        Some(n) => d.boolean(n, "`retries_per_visit`"),
        None => Some(false),
    };
    let always_ask = match map.take("always_ask") {
        Some(n) => d.boolean(n, "`always_ask`"),
        None => Some(false),
    };
    if on_exhausted.is_none() && map.lacks("on_exhausted") {
        d.push(
            Diagnostic::error(map.pos, format!("ask node `{id}` has no exhaustion path"))
                .with_hint("add `on_exhausted: <node id>`: where to go when every retry was answered invalidly"),
        );
    }
    let keywords = map
        .take("keywords")
        .map(|n| read_keywords(n, d, "`keywords`"))
        .unwrap_or_default();
    if next.is_none() && source.map.lacks("next") {
        source.dead_end();
    }
    Some(Box::new(RawAsk {
        pos,
        prompts,
        entity: entity?,
        choices: choices?,
        range: range?,
        pattern: pattern?,
        save_as: save_as?,
        invalid,
        retries: retries?,
        retries_per_visit: retries_per_visit?,
        always_ask: always_ask?,
        on_exhausted: on_exhausted?,
        keywords,
        next: next?,
    }))
}

/// The node's entity; on error, the entity its author most likely meant (`otp_code` for
/// `otp_cod`), so the variable it sets is still known.
fn read_entity(
    map: &mut MapReader<'_>,
    d: &mut Diagnostics,
    id: &str,
) -> Result<Entity, Option<Entity>> {
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
    if let Some(entity) = Entity::from_name(&name) {
        return Ok(entity);
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
    Err(did_you_mean(&name, Entity::names()).and_then(Entity::from_name))
}

/// `pattern:` of a `pattern` question: a regular expression (linear-time, size-limited),
/// required there and refused elsewhere. `None`: a problem was reported; `Some(None)`: the
/// question has no pattern.
#[allow(clippy::option_option)]
fn read_pattern(
    map: &mut MapReader<'_>,
    d: &mut Diagnostics,
    id: &str,
    entity: Option<Entity>,
) -> Option<Option<regex::Regex>> {
    let is_pattern = entity == Some(Entity::Pattern);
    let Some(node) = map.take("pattern") else {
        if is_pattern && map.lacks("pattern") {
            d.push(
                Diagnostic::error(map.pos, format!("ask node `{id}` asks for a pattern but has no `pattern`"))
                    .with_hint(r#"add a regular expression, such as `pattern: "order ([A-Z]{2}-\d{4})"` (its first group is the answer)"#),
            );
            return None;
        }
        return Some(None);
    };
    if !is_pattern {
        if entity.is_some() {
            d.push(
                Diagnostic::error(node.pos, "`pattern` belongs to `entity: pattern`")
                    .with_hint("set `entity: pattern`, or remove `pattern`"),
            );
        }
        return None;
    }
    let text = d.string(node, "`pattern`")?;
    match regex::RegexBuilder::new(&text).size_limit(1 << 20).build() {
        Ok(pattern) => Some(Some(pattern)),
        Err(error) => {
            let message = error.to_string();
            let last = message
                .lines()
                .last()
                .unwrap_or("invalid")
                .trim()
                .to_owned();
            d.error(
                node.pos,
                format!("`pattern` is not a regular expression: {last}"),
            );
            None
        }
    }
}

/// `min:` and `max:` of a `number` or `integer` question.
fn read_range(
    map: &mut MapReader<'_>,
    d: &mut Diagnostics,
    entity: Option<Entity>,
) -> Option<(Option<f64>, Option<f64>)> {
    let numeric = matches!(entity, Some(Entity::Number | Entity::Integer));
    let mut bound = |key: &'static str| -> Option<Option<f64>> {
        let Some(node) = map.take(key) else {
            return Some(None);
        };
        if !numeric {
            if entity.is_some() {
                d.push(
                    Diagnostic::error(
                        node.pos,
                        format!("`{key}` belongs to `entity: number` or `entity: integer`"),
                    )
                    .with_hint(format!("remove `{key}`, or ask for a number")),
                );
            }
            return None;
        }
        #[allow(clippy::cast_precision_loss)]
        match node.value {
            YamlValue::Int(i) => Some(Some(i as f64)),
            YamlValue::Float(f) if f.is_finite() => Some(Some(f)),
            _ => {
                d.error(
                    node.pos,
                    format!("`{key}` must be a number, found {}", node.value.kind()),
                );
                None
            }
        }
    };
    let (min, max) = (bound("min"), bound("max"));
    let (min, max) = (min?, max?);
    if let (Some(lo), Some(hi)) = (min, max)
        && lo > hi
    {
        d.error(map.pos, format!("`min` ({lo}) is above `max` ({hi})"));
        return None;
    }
    Some((min, max))
}

/// The most options a question may offer: more are a menu no one reads in a chat.
pub const MAX_CHOICES: usize = 20;

/// `choices:` of a `choice` question; required there and refused elsewhere.
fn read_choices(
    map: &mut MapReader<'_>,
    d: &mut Diagnostics,
    id: &str,
    entity: Option<Entity>,
) -> Option<Vec<ChoiceOption>> {
    let node = map.take("choices");
    let is_choice = entity == Some(Entity::Choice);
    let Some(node) = node else {
        if is_choice && map.lacks("choices") {
            d.push(
                Diagnostic::error(map.pos, format!("ask node `{id}` asks for a choice but has no `choices`"))
                    .with_hint("add `choices: { haircut: [cut, trim], colour: [color] }`: each value, with its synonyms"),
            );
            return None;
        }
        return Some(Vec::new());
    };
    if !is_choice {
        if entity.is_some() {
            d.push(
                Diagnostic::error(node.pos, "`choices` belongs to `entity: choice`")
                    .with_hint("set `entity: choice`, or remove `choices`"),
            );
        }
        return None;
    }
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
        let Some(option) = read_choice(key, value, d) else {
            ok = false;
            continue;
        };
        // A phrase naming two options could never choose between them.
        for word in &option.words {
            if let Some(other) = options.iter().find(|o| o.words.contains(word)) {
                d.error(
                    key.pos,
                    format!(
                        "`{word}` names both `{}` and `{}`",
                        other.value, option.value
                    ),
                );
                ok = false;
            }
        }
        options.push(option);
    }
    ok.then_some(options)
}

fn read_choice(key: &YamlNode, value: &YamlNode, d: &mut Diagnostics) -> Option<ChoiceOption> {
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

/// Where a choice question keeps the label of the option chosen (in the session's language),
/// for messages: `service` → `service_label`.
pub fn label_variable(save_as: &str) -> String {
    format!("{save_as}_label")
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

impl RawNodeKind for RawAsk {
    fn resolve(self: Box<Self>, r: &mut Resolver<'_>, id: &str) -> Option<Box<dyn NodeKind>> {
        if self.prompts.is_empty() {
            r.d.error(self.pos, format!("ask node `{id}` has an empty `ask`"));
        }
        let prompts = r.messages(&self.prompts, id);
        let invalid = r.messages(&self.invalid, &format!("{id}-invalid"));
        for option in &self.choices {
            r.label(format!("{id}-{}", option.value), self.pos);
        }
        let keywords: Vec<Option<Keyword>> = self.keywords.iter().map(|k| r.keyword(k)).collect();
        let on_exhausted = r.node(&self.on_exhausted, "`on_exhausted`");
        let next = r.node(&self.next, "`next`");
        Some(Box::new(Ask {
            prompts: prompts?,
            entity: self.entity,
            choices: self.choices,
            range: self.range,
            pattern: self.pattern,
            save_as: self.save_as,
            invalid: invalid?,
            retries: self.retries,
            retries_per_visit: self.retries_per_visit,
            always_ask: self.always_ask,
            on_exhausted: on_exhausted?,
            keywords: keywords.into_iter().collect::<Option<_>>()?,
            next: next?,
        }))
    }
}

impl NodeKind for Ask {
    fn name(&self) -> &'static str {
        SPEC.key
    }

    fn caption(&self) -> String {
        format!("ask {}", self.entity.name())
    }

    fn shape(&self) -> Shape {
        Shape::Question
    }

    fn enter(&self, run: &mut Run<'_>) -> Flow {
        // An answer given before the question ("hi, please verify bob@example.com", a caller's
        // input) is taken once; a later visit asks.
        let given = !self.always_ask
            && !self.entity.is_sensitive()
            && run.session.context.take_given(&self.save_as, run.now);
        if given {
            if let Some(value) = run.session.context.get(&self.save_as, run.now).cloned() {
                self.remember_label(run, &value);
            }
            let session = &mut *run.session;
            session.invalid_answers.clear(&session.node);
            return Flow::Goto(self.next, Via::Answer);
        }
        for prompt in &self.prompts {
            run.say(prompt);
        }
        if self.retries_per_visit {
            let session = &mut *run.session;
            session.invalid_answers.clear(&session.node);
        }
        Flow::Wait
    }

    fn for_each_edge(&self, f: &mut dyn FnMut(NodeIdx, EdgeLabel)) {
        f(self.next, EdgeLabel::Answer);
        f(self.on_exhausted, EdgeLabel::Exhausted);
        for keyword in &self.keywords {
            f(keyword.target, EdgeLabel::Keyword(keyword.words[0].clone()));
        }
    }

    fn question(&self) -> Option<&dyn Question> {
        Some(self)
    }
}

impl Ask {
    /// For a choice, the chosen option's label in the session's language, for messages.
    fn remember_label(&self, run: &mut Run<'_>, value: &Value) {
        let Value::Text(chosen) = value else {
            return;
        };
        let Some(option) = self.choices.iter().find(|o| o.value == *chosen) else {
            return;
        };
        let label = run.translate(&format!("{}-{}", run.session.node, option.value));
        let label = label.unwrap_or_else(|| option.label.clone());
        run.session
            .context
            .set(&label_variable(&self.save_as), Value::Text(label));
    }
}

impl Question for Ask {
    fn expecting(&self) -> Entity {
        self.entity
    }

    fn keywords(&self) -> &[Keyword] {
        &self.keywords
    }

    fn choices(&self) -> &[ChoiceOption] {
        &self.choices
    }

    fn pattern(&self) -> Option<&regex::Regex> {
        self.pattern.as_ref()
    }

    /// Addresses and choices are told apart from a greeting; numbers, yes/no and free text
    /// are not ("hi, 2 questions"), and codes are never taken early.
    fn early_answer(&self) -> Option<&str> {
        let distinct = matches!(self.entity, Entity::Email | Entity::Choice);
        (distinct && !self.always_ask).then_some(self.save_as.as_str())
    }

    fn accept(&self, run: &mut Run<'_>, value: Value) -> Flow {
        if let Value::Number(n) = value {
            let (min, max) = self.range;
            if min.is_some_and(|lo| n < lo) || max.is_some_and(|hi| n > hi) {
                return self.reject(run);
            }
        }
        let sensitive = self.entity.is_sensitive();
        self.remember_label(run, &value);
        run.session.context.set_slot(
            &self.save_as,
            Slot {
                value,
                sensitive,
                given: false,
                expires_at: None,
            },
        );
        let session = &mut *run.session;
        session.invalid_answers.clear(&session.node);
        Flow::Goto(self.next, Via::Answer)
    }

    fn reject(&self, run: &mut Run<'_>) -> Flow {
        let session = &mut *run.session;
        let count = session.invalid_answers.add(&session.node);
        if count > self.retries {
            // Exhausted: a later visit starts with all its retries again.
            session.invalid_answers.clear(&session.node);
            return Flow::Goto(self.on_exhausted, Via::Exhausted);
        }
        let nth = usize::from(count - 1);
        match self.invalid.get(nth).or(self.invalid.last()) {
            Some(prompt) => run.say(prompt),
            None => {
                for prompt in &self.prompts {
                    run.say(prompt);
                }
            }
        }
        Flow::Wait
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use crate::dialog::machine::{Input, StepEnv, step};
    use crate::dialog::{Dialog, Session, load};

    /// A question that a keyword loops back to through another node.
    fn looping(per_visit: bool) -> Dialog {
        let source = format!(
            r#"
id: looping
version: 1
start: ask_number
nodes:
  ask_number:
    ask: "A number?"
    entity: number
    invalid: "Numbers only."
    retries: 2
    retries_per_visit: {per_visit}
    keywords: {{ help: explain }}
    on_exhausted: gave_up
    next: done
  explain:
    say: "Digits, like 42."
    next: ask_number
  gave_up:
    say: "Let's stop here."
    end: gave_up
  done:
    end: done
"#
        );
        let loaded = load(&source);
        loaded
            .dialog
            .unwrap_or_else(|| panic!("loads: {:#?}", loaded.diagnostics))
    }

    fn say(dialog: &Dialog, session: &mut Session, text: &str) -> Vec<String> {
        let env = StepEnv {
            now: DateTime::<Utc>::MIN_UTC,
            history_limit: 50,
            transitions_used: 0,
        };
        let mut replies = Vec::new();
        let input = if text.is_empty() {
            Input::Start
        } else {
            Input::Text(text)
        };
        step(dialog, session, input, env, &mut replies);
        replies
    }

    fn start(dialog: &Dialog) -> Session {
        let mut session = Session::new("s", &dialog.id, dialog.version, DateTime::<Utc>::MIN_UTC);
        say(dialog, &mut session, "");
        session
    }

    #[test]
    fn a_loop_back_to_the_question_does_not_refill_its_retries() {
        let dialog = looping(false);
        let mut session = start(&dialog);
        assert_eq!(say(&dialog, &mut session, "lots"), ["Numbers only."]);
        assert_eq!(
            say(&dialog, &mut session, "help"),
            ["Digits, like 42.", "A number?"]
        );
        assert_eq!(say(&dialog, &mut session, "many"), ["Numbers only."]);
        assert_eq!(
            say(&dialog, &mut session, "still words"),
            ["Let's stop here."]
        );
        assert_eq!(session.result.as_deref(), Some("gave_up"));
    }

    #[test]
    fn a_valid_answer_clears_the_count() {
        let dialog = looping(false);
        let mut session = start(&dialog);
        say(&dialog, &mut session, "lots");
        assert_eq!(session.invalid_answers.at("ask_number"), 1);
        say(&dialog, &mut session, "7");
        assert!(session.invalid_answers.is_empty());
    }

    #[test]
    fn retries_per_visit_starts_every_visit_afresh() {
        let dialog = looping(true);
        let mut session = start(&dialog);
        say(&dialog, &mut session, "lots");
        say(&dialog, &mut session, "more words");
        say(&dialog, &mut session, "help");
        assert_eq!(say(&dialog, &mut session, "many"), ["Numbers only."]);
        assert_eq!(say(&dialog, &mut session, "words"), ["Numbers only."]);
        assert_eq!(say(&dialog, &mut session, "words"), ["Let's stop here."]);
    }

    #[test]
    fn an_integer_question_takes_whole_numbers_in_its_range() {
        let loaded = load(
            r#"
id: seats
version: 1
start: ask_seats
nodes:
  ask_seats:
    ask: "How many seats?"
    entity: integer
    min: 1
    max: 8
    invalid: "Between 1 and 8, please."
    on_exhausted: done
    next: done
  done:
    say: "{{ integer }} seats."
    end: done
"#,
        );
        let dialog = loaded
            .dialog
            .unwrap_or_else(|| panic!("loads: {:#?}", loaded.diagnostics));
        let mut session = start(&dialog);
        assert_eq!(
            say(&dialog, &mut session, "2.5"),
            ["Between 1 and 8, please."]
        );
        assert_eq!(
            say(&dialog, &mut session, "12 of us"),
            ["Between 1 and 8, please."]
        );
        assert_eq!(
            say(&dialog, &mut session, "0"),
            ["Between 1 and 8, please."]
        );
        assert_eq!(say(&dialog, &mut session, "we are seven"), ["7 seats."]);
    }

    #[test]
    fn a_pattern_question_takes_its_group_from_the_sentence() {
        let loaded = load(
            r#"
id: orders
version: 1
start: ask_order
nodes:
  ask_order:
    ask: "Your order number?"
    entity: pattern
    pattern: '(?i)\b([A-Z]{2}-\d{4})\b'
    save_as: order
    invalid: "Like AB-1234, please."
    on_exhausted: done
    next: done
  done:
    say: "Looking up {{ order }}."
    end: done
"#,
        );
        let dialog = loaded
            .dialog
            .unwrap_or_else(|| panic!("loads: {:#?}", loaded.diagnostics));
        let mut session = start(&dialog);
        assert_eq!(
            say(&dialog, &mut session, "it's 1234"),
            ["Like AB-1234, please."]
        );
        assert_eq!(
            say(&dialog, &mut session, "AB-1234 or CD-5678?"),
            ["I see more than one: AB-1234 or CD-5678. Which one did you mean?"]
        );
        assert_eq!(
            say(&dialog, &mut session, "my order is ab-1234, thanks"),
            ["Looking up ab-1234."]
        );
    }
}
