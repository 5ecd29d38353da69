//! `ask`: prompt, wait for the answer, extract an entity, re-prompt when it is invalid.
//!
//! ```yaml
//! ask_email:
//!   ask: "What's your email address?"
//!   entity: email              # saved as `email` unless `save_as` says otherwise
//!   invalid: ["That doesn't look like an email address.", "Please type it like name@example.com."]
//!   retries: 3                 # re-prompts; the 4th invalid answer takes `on_exhausted`
//!   on_exhausted: give_up
//!   keywords: { resend: send_code }
//!   next: send_code
//! ```

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::dialog::entity::Entity;
use crate::dialog::load::{RawKeyword, Ref, Resolver, TextSrc, read_keywords};
use crate::dialog::machine::{Flow, Run, Via};
use crate::dialog::model::{EdgeLabel, Keyword, NodeIdx};
use crate::dialog::template::{Template, is_variable_name};
use crate::dialog::value::{Slot, Value};
use crate::reader::{Diagnostics, MapReader};
use crate::yaml::Pos;

use super::{NodeKind, NodeSource, Question, RawNodeKind, SetVariable, Shape, Spec};

pub const SPEC: Spec = Spec {
    key: "ask",
    keys: &[
        "entity",
        "save_as",
        "invalid",
        "retries",
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
    save_as: String,
    invalid: Vec<TextSrc>,
    retries: u8,
    on_exhausted: Ref,
    keywords: Vec<RawKeyword>,
    next: Ref,
}

#[derive(Debug)]
pub struct Ask {
    pub prompts: Vec<Template>,
    pub entity: Entity,
    pub save_as: String,
    pub invalid: Vec<Template>,
    pub retries: u8,
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
    }
    let retries = match map.take("retries") {
        Some(n) => d
            .integer(n, "`retries`", 0, 10)
            .and_then(|v| u8::try_from(v).ok()),
        None => Some(DEFAULT_RETRIES),
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
        retries: retries?,
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

impl RawNodeKind for RawAsk {
    fn resolve(self: Box<Self>, r: &mut Resolver<'_>, id: &str) -> Option<Box<dyn NodeKind>> {
        if self.prompts.is_empty() {
            r.d.error(self.pos, format!("ask node `{id}` has an empty `ask`"));
        }
        let prompts = r.templates(&self.prompts);
        let invalid = r.templates(&self.invalid);
        let keywords: Vec<Option<Keyword>> = self.keywords.iter().map(|k| r.keyword(k)).collect();
        let on_exhausted = r.node(&self.on_exhausted, "`on_exhausted`");
        let next = r.node(&self.next, "`next`");
        Some(Box::new(Ask {
            prompts: prompts?,
            entity: self.entity,
            save_as: self.save_as,
            invalid: invalid?,
            retries: self.retries,
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
        for prompt in &self.prompts {
            run.say(prompt);
        }
        run.session.invalid_answers = 0;
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

impl Question for Ask {
    fn expecting(&self) -> Entity {
        self.entity
    }

    fn keywords(&self) -> &[Keyword] {
        &self.keywords
    }

    fn accept(&self, run: &mut Run<'_>, value: Value) -> Flow {
        let sensitive = self.entity.is_sensitive();
        run.session.context.set_slot(
            &self.save_as,
            Slot {
                value,
                sensitive,
                expires_at: None,
            },
        );
        run.session.invalid_answers = 0;
        Flow::Goto(self.next, Via::Answer)
    }

    fn reject(&self, run: &mut Run<'_>) -> Flow {
        run.session.invalid_answers = run.session.invalid_answers.saturating_add(1);
        if run.session.invalid_answers > self.retries {
            return Flow::Goto(self.on_exhausted, Via::Exhausted);
        }
        let nth = usize::from(run.session.invalid_answers - 1);
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
