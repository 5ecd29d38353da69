//! `ask`: prompt, wait for the answer, extract an entity, re-prompt when it is invalid.
//!
//! ```yaml
//! ask_email:
//!   ask: "What's your email address?"
//!   entity: email              # saved as `email` unless `save_as` says otherwise
//!   invalid: ["That doesn't look like an email address.", "Please type it like name@example.com."]
//!   fallback: "Sorry, I need your email address to send the code, or type 'cancel'."
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

use crate::diagnostic::Diagnostic;
use crate::dialog::entities::{self, EntityKind};
use crate::dialog::load::{RawKeyword, Ref, Resolver, TextSrc, read_keywords};
use crate::dialog::machine::{Flow, Run, Via};
use crate::dialog::model::{EdgeLabel, Keyword, NodeIdx};
use crate::dialog::template::{Template, is_variable_name};
use crate::dialog::value::{Slot, Value};
use crate::yaml::Pos;

use super::{NodeKind, NodeSource, Question, RawNodeKind, SetVariable, Shape, Spec};

pub const SPEC: Spec = Spec {
    key: "ask",
    keys: &[
        "entity",
        "save_as",
        "invalid",
        "fallback",
        "fallbacks",
        "retries",
        "retries_per_visit",
        "always_ask",
        "on_exhausted",
        "keywords",
        "next",
    ],
    companions: &[],
    delegated_keys: Some(entities::param_keys),
    read,
};

/// Re-prompts before `on_exhausted` when `retries` is not given.
pub const DEFAULT_RETRIES: u8 = 3;

/// Messages not understood that get the fallback when `fallbacks` is not given.
pub const DEFAULT_FALLBACKS: u8 = 2;

#[derive(Debug)]
struct RawAsk {
    pos: Pos,
    prompts: Vec<TextSrc>,
    entity: Box<dyn EntityKind>,
    save_as: String,
    invalid: Vec<TextSrc>,
    fallback: Vec<TextSrc>,
    fallbacks: u8,
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
    /// What the answer is, with the entity's own parameters (a choice's options, a range).
    pub entity: Box<dyn EntityKind>,
    pub save_as: String,
    pub invalid: Vec<Template>,
    /// Said (instead of the dialog's `fallback` and the prompt) when a message is neither an
    /// answer, nor like one, nor a keyword; spends no retry.
    pub fallback: Vec<Template>,
    /// Messages not understood that get the fallback (each visit, until a valid answer);
    /// later ones are invalid answers, so no one is kept talking past the node's retries.
    pub fallbacks: u8,
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
    let fallback = source.texts("fallback");
    let on_exhausted = source.node_ref("on_exhausted");
    let next = source.node_ref("next");
    let pos = source.pos();
    let (id, map, d) = (source.id, &mut *source.map, &mut *source.d);
    let (entity, meant) = match entities::read(map, d, id) {
        Ok(entity) => {
            let spec = entity.spec();
            (Some(entity), Some(spec))
        }
        Err(meant) => (None, meant),
    };
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
        None => meant.map(|spec| spec.name.to_owned()),
    };
    if let (Some(name), Some(spec)) = (&save_as, meant) {
        source.sets.push(SetVariable {
            name: name.clone(),
            sensitive: spec.sensitive,
        });
        for suffix in spec.also_sets {
            source.sets.push(SetVariable {
                name: format!("{name}{suffix}"),
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
    let fallbacks = match map.take("fallbacks") {
        Some(n) => d
            .integer(n, "`fallbacks`", 0, 10)
            .and_then(|v| u8::try_from(v).ok()),
        None => Some(DEFAULT_FALLBACKS),
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
        save_as: save_as?,
        invalid,
        fallback,
        fallbacks: fallbacks?,
        retries: retries?,
        retries_per_visit: retries_per_visit?,
        always_ask: always_ask?,
        on_exhausted: on_exhausted?,
        keywords,
        next: next?,
    }))
}

impl RawNodeKind for RawAsk {
    fn resolve(self: Box<Self>, r: &mut Resolver<'_>, id: &str) -> Option<Box<dyn NodeKind>> {
        if self.prompts.is_empty() {
            r.d.error(self.pos, format!("ask node `{id}` has an empty `ask`"));
        }
        let prompts = r.messages(&self.prompts, id);
        let invalid = r.messages(&self.invalid, &format!("{id}-invalid"));
        let fallback = r.messages(&self.fallback, &format!("{id}-fallback"));
        self.entity.resolve(r, id, self.pos);
        let keywords: Vec<Option<Keyword>> = self.keywords.iter().map(|k| r.keyword(k)).collect();
        let on_exhausted = r.node(&self.on_exhausted, "`on_exhausted`");
        let next = r.node(&self.next, "`next`");
        Some(Box::new(Ask {
            prompts: prompts?,
            entity: self.entity,
            save_as: self.save_as,
            invalid: invalid?,
            fallback: fallback?,
            fallbacks: self.fallbacks,
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
        format!("ask {}", self.entity.spec().name)
    }

    fn shape(&self) -> Shape {
        Shape::Question
    }

    fn enter(&self, run: &mut Run<'_>) -> Flow {
        // An answer given before the question ("hi, please verify bob@example.com", a caller's
        // input) is taken once; a later visit asks.
        let given = !self.always_ask
            && !self.entity.spec().sensitive
            && run.session.context.take_given(&self.save_as, run.now);
        if given {
            if let Some(value) = run.session.context.get(&self.save_as, run.now).cloned() {
                let suggested = run.hearing(|hearing| self.entity.suggest(&value, hearing));
                if let Some(suggested) = suggested {
                    return run.suggest(&*self.entity, value, suggested);
                }
                self.save_also(run, &value);
            }
            let session = &mut *run.session;
            session.invalid_answers.clear(&session.node);
            session.not_understood.clear(&session.node);
            return Flow::Goto(self.next, Via::Answer);
        }
        for prompt in &self.prompts {
            run.say(prompt);
        }
        if self.retries_per_visit {
            let session = &mut *run.session;
            session.invalid_answers.clear(&session.node);
            session.not_understood.clear(&session.node);
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
    /// The variables the entity sets beside the answer (a choice's label in the session's
    /// language).
    fn save_also(&self, run: &mut Run<'_>, value: &Value) {
        let also = run.hearing(|hearing| self.entity.also_sets(value, hearing));
        for (suffix, value) in also {
            let name = format!("{}{suffix}", self.save_as);
            run.session.context.set(&name, value);
        }
    }
}

impl Question for Ask {
    fn entity(&self) -> &dyn EntityKind {
        &*self.entity
    }

    fn keywords(&self) -> &[Keyword] {
        &self.keywords
    }

    /// Only entities that can be told apart from a greeting (addresses, choices) are taken
    /// early; numbers, yes/no and free text are not ("hi, 2 questions"), nor codes.
    fn early_answer(&self) -> Option<&str> {
        (self.entity.spec().early && !self.always_ask).then_some(self.save_as.as_str())
    }

    fn accept(&self, run: &mut Run<'_>, value: Value) -> Flow {
        if !self.entity.accepts(&value) {
            return self.reject(run);
        }
        let sensitive = self.entity.spec().sensitive;
        self.save_also(run, &value);
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
        session.not_understood.clear(&session.node);
        Flow::Goto(self.next, Via::Answer)
    }

    fn not_understood(&self, run: &mut Run<'_>, text: &str) -> Flow {
        let dialog = run.dialog;
        let fallback = if self.fallback.is_empty() {
            &dialog.fallback
        } else {
            &self.fallback
        };
        let session = &mut *run.session;
        let spent = session.not_understood.at(&session.node) >= self.fallbacks;
        if fallback.is_empty() || spent || self.entity.resembles(text) {
            return self.reject(run);
        }
        let count = session.not_understood.add(&session.node);
        let nth = usize::from(count - 1);
        if let Some(prompt) = fallback.get(nth).or(fallback.last()) {
            run.say(prompt);
        }
        // The dialog's fallback knows no question: the question follows it.
        if self.fallback.is_empty() {
            for prompt in &self.prompts {
                run.say(prompt);
            }
        }
        Flow::Wait
    }

    fn reject(&self, run: &mut Run<'_>) -> Flow {
        let session = &mut *run.session;
        let count = session.invalid_answers.add(&session.node);
        if count > self.retries {
            // Exhausted: a later visit starts with all its retries again.
            session.invalid_answers.clear(&session.node);
            session.not_understood.clear(&session.node);
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

    use crate::dialog::entities::Place;
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
            place: Place::default(),
            email_domains: &[],
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

    fn with_fallback(node_fallback: &str) -> Dialog {
        let source = format!(
            r#"
id: fallbacks
version: 1
start: ask_seats
fallback: "Sorry, I didn't get that."
nodes:
  ask_seats:
    ask: "How many seats?"
    entity: integer
    invalid: "A number, please."
    {node_fallback}
    retries: 1
    on_exhausted: gave_up
    next: done
  gave_up:
    end: gave_up
  done:
    say: "{{{{ integer }}}} seats."
    end: done
"#
        );
        let loaded = load(&source);
        loaded
            .dialog
            .unwrap_or_else(|| panic!("loads: {:#?}", loaded.diagnostics))
    }

    #[test]
    fn a_message_not_understood_gets_the_fallback_and_spends_no_retry() {
        let dialog = with_fallback("");
        let mut session = start(&dialog);
        for _ in 0..2 {
            assert_eq!(
                say(&dialog, &mut session, "what do you mean?"),
                ["Sorry, I didn't get that.", "How many seats?"]
            );
        }
        assert_eq!(session.not_understood.at("ask_seats"), 2);
        assert!(session.invalid_answers.is_empty());
        // Something like an answer is an invalid one, and spends a retry.
        assert_eq!(say(&dialog, &mut session, "2.5"), ["A number, please."]);
        assert_eq!(say(&dialog, &mut session, "4 and a half"), ["4 seats."]);
        assert!(session.not_understood.is_empty());
    }

    #[test]
    fn past_its_fallbacks_a_message_not_understood_is_an_invalid_answer() {
        let dialog = with_fallback("fallbacks: 1");
        let mut session = start(&dialog);
        assert_eq!(
            say(&dialog, &mut session, "eh?"),
            ["Sorry, I didn't get that.", "How many seats?"]
        );
        assert_eq!(say(&dialog, &mut session, "eh?"), ["A number, please."]);
        assert_eq!(say(&dialog, &mut session, "eh?"), Vec::<String>::new());
        assert_eq!(session.result.as_deref(), Some("gave_up"));
    }

    #[test]
    fn a_question_s_own_fallback_wins_and_cycles() {
        let dialog = with_fallback(
            r#"fallback: ["Seats: a number.", "Just the number of seats."]
    fallbacks: 3"#,
        );
        let mut session = start(&dialog);
        assert_eq!(say(&dialog, &mut session, "hmm"), ["Seats: a number."]);
        assert_eq!(
            say(&dialog, &mut session, "hmm"),
            ["Just the number of seats."]
        );
        assert_eq!(
            say(&dialog, &mut session, "hmm"),
            ["Just the number of seats."]
        );
        assert_eq!(
            say(&dialog, &mut session, "12 or 13"),
            ["I see more than one number: 12 or 13. Which one did you mean?"]
        );
        assert_eq!(say(&dialog, &mut session, "-1.5"), ["A number, please."]);
        assert_eq!(say(&dialog, &mut session, "1.5"), Vec::<String>::new());
        assert_eq!(session.result.as_deref(), Some("gave_up"));
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
