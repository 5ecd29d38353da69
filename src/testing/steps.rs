//! The steps of a script, read from YAML with every mistake reported at its position.
//!
//! ```yaml
//! - user: "{{ code }}"                                   # the user's message (templated)
//! - bot: { contains: verified }                          # a reply of that turn
//! - email: { to: alice@example.com, capture: { code: '\d{4}' } }
//! - no_email: alice@example.com                          # nothing new reached that address
//! - sms: { to: "+447400123456", capture: { code: '\d{4}' } }  # a text in the dev outbox
//! - wait: 5m                                             # moves the engine's clock
//! - expect: { status: ended, result: authenticated }     # the dialog's state
//! ```

use std::time::Duration;

use regex::Regex;

use crate::diagnostic::Diagnostic;
use crate::dialog::template::{Template, is_variable_name};
use crate::dialog::value::Value as ContextValue;
use crate::reader::Diagnostics;
use crate::yaml::{Node, Pos, Value};

use super::expect::{Matcher, read_regex};
use super::vars::Scope;

/// One step, with where it is written and its source line (shown when it fails).
#[derive(Debug, Clone)]
pub struct Step {
    pub pos: Pos,
    pub source: String,
    pub kind: StepKind,
}

#[derive(Debug, Clone)]
pub enum StepKind {
    User(Template),
    /// Replies of the last turn, in order (a list expects several).
    Bot(Vec<Matcher>),
    Email(EmailStep),
    /// The newest text to a number (no `subject`).
    Sms(EmailStep),
    /// No email reached the address since the last one a step read.
    NoEmail(Template),
    Wait(Duration),
    Expect(StateCheck),
}

impl StepKind {
    pub fn name(&self) -> &'static str {
        match self {
            StepKind::User(_) => "user",
            StepKind::Bot(_) => "bot",
            StepKind::Email(_) => "email",
            StepKind::Sms(_) => "sms",
            StepKind::NoEmail(_) => "no_email",
            StepKind::Wait(_) => "wait",
            StepKind::Expect(_) => "expect",
        }
    }
}

/// Reads the newest email to `to` that no earlier step read.
#[derive(Debug, Clone)]
pub struct EmailStep {
    pub to: Template,
    pub subject: Option<Matcher>,
    pub text: Option<Matcher>,
    /// Variables set from the email's text: group 1 of the regex if it has one, else the match.
    pub capture: Vec<(String, Regex)>,
}

/// The dialog's state after the last turn.
#[derive(Debug, Clone, Default)]
pub struct StateCheck {
    /// `true`: ended; `false`: waiting.
    pub ended: Option<bool>,
    pub node: Option<(String, Pos)>,
    /// `Some(None)`: no result (`result: null`).
    pub result: Option<Option<String>>,
    pub context: Vec<(String, Expected)>,
}

/// What a context variable should hold.
#[derive(Debug, Clone)]
pub enum Expected {
    /// Not set (`null`).
    Unset,
    /// Text, templated like user messages (`"{{ email }}"`).
    Text(Template),
    /// A number or a boolean.
    Value(ContextValue),
}

const KINDS: [&str; 7] = ["user", "bot", "email", "sms", "no_email", "wait", "expect"];

/// Reads the `steps:` list. `scope` holds the variables `vars:` defined; captures add to it.
pub fn read_steps(node: &Node, source: &str, d: &mut Diagnostics, scope: &mut Scope) -> Vec<Step> {
    let Value::Seq(items) = &node.value else {
        d.error(
            node.pos,
            format!("`steps` must be a list, found {}", node.value.kind()),
        );
        return Vec::new();
    };
    if items.is_empty() {
        d.error(node.pos, "`steps` is empty");
    }
    let mut steps = Vec::new();
    let mut spoke = false;
    for item in items {
        let before = d.items.len();
        let Some(kind) = read_step(item, d, scope, spoke) else {
            // A step is never dropped silently: a script missing a step would pass wrongly.
            if d.items.len() == before {
                d.error(item.pos, "this step could not be read");
            }
            // It may have been meant as the user's message (`usr: hi`): assume so, rather than
            // report every later `bot` as coming before any `user`.
            spoke = true;
            continue;
        };
        spoke |= matches!(kind, StepKind::User(_));
        steps.push(Step {
            pos: item.pos,
            source: source_line(source, item.pos),
            kind,
        });
    }
    steps
}

/// The trimmed line a step starts on, without the list dash.
fn source_line(source: &str, pos: Pos) -> String {
    let index = usize::try_from(pos.line.saturating_sub(1)).unwrap_or(usize::MAX);
    let line = source.lines().nth(index).unwrap_or_default().trim();
    line.strip_prefix("- ").unwrap_or(line).to_owned()
}

fn read_step(item: &Node, d: &mut Diagnostics, scope: &mut Scope, spoke: bool) -> Option<StepKind> {
    if item.as_map().is_none() {
        d.push(
            Diagnostic::error(
                item.pos,
                format!("a step must be a mapping, found {}", item.value.kind()),
            )
            .with_hint("write `- user: hi`, `- bot: Hello!`, `- wait: 5m`…"),
        );
        return None;
    }
    let mut map = d.map(item, "a step")?;
    let mut found: Vec<(&'static str, &Node, &Node)> = Vec::new();
    for kind in KINDS {
        if let Some((key, value)) = map.take_entry(kind) {
            found.push((kind, key, value));
        }
    }
    map.finish(d, "a step");
    let (kind, _, value) = *found.first()?;
    if let Some((second, key, _)) = found.get(1) {
        d.push(
            Diagnostic::error(
                key.pos,
                format!("a step does one thing: `{second}` needs a step of its own"),
            )
            .with_hint(format!(
                "write `- {kind}: …` and `- {second}: …` as two list items"
            )),
        );
        return None;
    }
    if matches!(kind, "bot" | "expect") && !spoke {
        d.error(
            item.pos,
            format!(
                "`{kind}` before any `user` step: the dialog starts with the user's first message"
            ),
        );
        return None;
    }
    read_kind(kind, value, d, scope)
}

fn read_kind(kind: &str, value: &Node, d: &mut Diagnostics, scope: &mut Scope) -> Option<StepKind> {
    match kind {
        "user" => scope.template(value, d, "`user`").map(StepKind::User),
        "bot" => read_bot(value, d, scope).map(StepKind::Bot),
        "email" => read_email(value, d, scope, "email").map(StepKind::Email),
        "sms" => read_email(value, d, scope, "sms").map(StepKind::Sms),
        "no_email" => scope
            .template(value, d, "`no_email`")
            .map(StepKind::NoEmail),
        "wait" => d.duration(value, "`wait`").map(StepKind::Wait),
        _ => read_expect(value, d, scope).map(StepKind::Expect),
    }
}

fn read_bot(value: &Node, d: &mut Diagnostics, scope: &Scope) -> Option<Vec<Matcher>> {
    match &value.value {
        Value::Seq(items) if items.is_empty() => {
            d.error(value.pos, "`bot` is an empty list");
            None
        }
        Value::Seq(items) => {
            let matchers: Vec<Option<Matcher>> = items
                .iter()
                .map(|item| Matcher::read(item, d, scope, "`bot`"))
                .collect();
            matchers.into_iter().collect()
        }
        _ => Matcher::read(value, d, scope, "`bot`").map(|m| vec![m]),
    }
}

/// `email:` and `sms:` (`kind`), which reads the same keys but `subject`.
fn read_email(
    value: &Node,
    d: &mut Diagnostics,
    scope: &mut Scope,
    kind: &str,
) -> Option<EmailStep> {
    let mut map = d.map(value, &format!("`{kind}`"))?;
    let to = match map.take("to") {
        Some(node) => scope.template(node, d, &format!("`{kind}.to`")),
        None => {
            let whose = if kind == "sms" {
                "the number whose texts to read"
            } else {
                "the address whose mailbox to read"
            };
            d.error(value.pos, format!("`{kind}` needs `to:`, {whose}"));
            None
        }
    };
    let subject = if kind == "sms" {
        None
    } else {
        map.take("subject")
            .map(|n| Matcher::read(n, d, scope, "`email.subject`"))
    };
    let text = map
        .take("text")
        .map(|n| Matcher::read(n, d, scope, &format!("`{kind}.text`")));
    let capture = map
        .take("capture")
        .map_or(Some(Vec::new()), |n| read_captures(n, d, scope));
    map.finish(d, &format!("`{kind}`"));
    Some(EmailStep {
        to: to?,
        subject: subject.map_or(Some(None), |m| m.map(Some))?,
        text: text.map_or(Some(None), |m| m.map(Some))?,
        capture: capture?,
    })
}

fn read_captures(
    node: &Node,
    d: &mut Diagnostics,
    scope: &mut Scope,
) -> Option<Vec<(String, Regex)>> {
    let Some(entries) = node.as_map() else {
        d.error(
            node.pos,
            format!(
                "`email.capture` must map names to regexes, like {{ code: '\\d{{4}}' }}, found {}",
                node.value.kind()
            ),
        );
        return None;
    };
    let mut captures = Vec::new();
    let mut ok = true;
    for (key, value) in entries {
        let name = d.string(key, "a capture name");
        let name = name.filter(|name| {
            let valid = is_variable_name(name) && !name.ends_with(super::vars::WRONG_SUFFIX);
            if !valid {
                d.error(
                    key.pos,
                    format!("`{name}` is not a variable name (letters, digits, `_` and `.`; not ending in `.wrong`)"),
                );
            }
            valid
        });
        let regex = read_regex(
            value,
            d,
            &format!("`email.capture.{}`", name.as_deref().unwrap_or("?")),
        );
        // Defined even when its regex is wrong, so later uses do not report it as unknown.
        if let Some(name) = &name {
            scope.define(name);
        }
        match (name, regex) {
            (Some(name), Some(regex)) => captures.push((name, regex)),
            _ => ok = false,
        }
    }
    ok.then_some(captures)
}

fn read_expect(value: &Node, d: &mut Diagnostics, scope: &Scope) -> Option<StateCheck> {
    let mut map = d.map(value, "`expect`")?;
    let mut check = StateCheck::default();
    let mut ok = true;
    if let Some(node) = map.take("status") {
        check.ended = match node.as_str() {
            Some("ended") => Some(true),
            Some("waiting") => Some(false),
            _ => {
                d.push(
                    Diagnostic::error(node.pos, "`expect.status` must be `waiting` or `ended`")
                        .suggest(
                            &node.scalar_text().unwrap_or_default(),
                            ["waiting", "ended"],
                        ),
                );
                ok = false;
                None
            }
        };
    }
    if let Some(node) = map.take("node") {
        check.node = d.string(node, "`expect.node`").map(|name| (name, node.pos));
        ok &= check.node.is_some();
    }
    if let Some(node) = map.take("result") {
        check.result = match node.value {
            Value::Null => Some(None),
            _ => d.string(node, "`expect.result`").map(Some),
        };
        ok &= check.result.is_some();
    }
    if let Some(node) = map.take("context") {
        match read_context(node, d, scope) {
            Some(context) => check.context = context,
            None => ok = false,
        }
    }
    if value.as_map().is_some_and(<[_]>::is_empty) {
        d.error(
            value.pos,
            "`expect` is empty: say what to check (status, node, result, context)",
        );
        ok = false;
    }
    map.finish(d, "`expect`");
    ok.then_some(check)
}

fn read_context(
    node: &Node,
    d: &mut Diagnostics,
    scope: &Scope,
) -> Option<Vec<(String, Expected)>> {
    let Some(entries) = node.as_map() else {
        d.error(
            node.pos,
            format!(
                "`expect.context` must be a mapping of variable names to values, found {}",
                node.value.kind()
            ),
        );
        return None;
    };
    let mut context = Vec::new();
    let mut ok = true;
    for (key, value) in entries {
        let expected = match &value.value {
            Value::Null => Some(Expected::Unset),
            Value::Bool(b) => Some(Expected::Value(ContextValue::Bool(*b))),
            #[allow(clippy::cast_precision_loss)] // context numbers are f64 too
            Value::Int(i) => Some(Expected::Value(ContextValue::Number(*i as f64))),
            Value::Float(f) => Some(Expected::Value(ContextValue::Number(*f))),
            Value::Str(_) => scope
                .template(value, d, "a context value")
                .map(Expected::Text),
            Value::Seq(_) | Value::Map(_) => {
                d.error(
                    value.pos,
                    format!(
                        "a context value must be a text, number, boolean or null, found {}",
                        value.value.kind()
                    ),
                );
                None
            }
        };
        match (d.string(key, "a context variable"), expected) {
            (Some(name), Some(expected)) => context.push((name, expected)),
            _ => ok = false,
        }
    }
    ok.then_some(context)
}
