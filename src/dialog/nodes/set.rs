//! `set`: assign variables from expressions, in order, then go to `next`.
//!
//! ```yaml
//! count_try:
//!   set:
//!     tries: "tries | default(0) + 1"     # an expression (dialog/expression.rs)
//!     name: "name | trim | title"
//!     greeting: '"Hello " ~ name'         # text goes in quotes inside the expression
//!     vip: true                           # a plain number or boolean is its own value
//!   next: ask_again
//! ```
//!
//! Each assignment sees the ones before it. An expression that fails at run time (a type
//! mismatch, a variable not set on the path taken) ends the conversation with `error`, like
//! the transition cap: the dialog cannot go on with a value it does not have.

use crate::diagnostic::Diagnostic;
use crate::dialog::expression::Expression;
use crate::dialog::load::{Ref, Resolver, TextSrc, read_variable_name};
use crate::dialog::machine::{Flow, Run, Via};
use crate::dialog::model::{EdgeLabel, NodeIdx};

use super::{NodeKind, NodeSource, RawNodeKind, SetVariable, Shape, Spec};

pub const SPEC: Spec = Spec {
    key: "set",
    keys: &["next"],
    companions: &[],
    delegated_keys: None,
    read,
};

#[derive(Debug)]
struct RawSet {
    assignments: Vec<(String, TextSrc)>,
    next: Ref,
}

#[derive(Debug)]
pub struct Set {
    /// `(variable, expression)`, evaluated in order.
    pub assignments: Vec<(String, Expression)>,
    pub next: NodeIdx,
}

fn read(source: &mut NodeSource<'_, '_>) -> Option<Box<dyn RawNodeKind>> {
    let next = source.node_ref("next");
    let assignments = read_assignments(source);
    let Some(next) = next else {
        if source.map.lacks("next") {
            source.dead_end();
        }
        return None;
    };
    Some(Box::new(RawSet {
        assignments: assignments?,
        next,
    }))
}

/// The `set:` mapping; the variables it names are known even when an expression is wrong.
/// Entries with errors are left out (and reported), so the others are still checked: a
/// dialog with any error is never built.
fn read_assignments(source: &mut NodeSource<'_, '_>) -> Option<Vec<(String, TextSrc)>> {
    let node = source.map.take("set")?;
    let d = &mut *source.d;
    let Some(entries) = node.as_map() else {
        d.push(
            Diagnostic::error(
                node.pos,
                format!(
                    "`set` must be a mapping of variable names to expressions, found {}",
                    node.value.kind()
                ),
            )
            .with_hint("write `set: { tries: \"tries | default(0) + 1\" }`"),
        );
        return None;
    };
    if entries.is_empty() {
        d.push(
            Diagnostic::error(node.pos, "`set` is empty")
                .with_hint("name at least one variable and its expression"),
        );
        return None;
    }
    let mut assignments = Vec::new();
    for (key, value) in entries {
        let Some(name) = read_variable_name(d, key) else {
            continue;
        };
        source.sets.push(SetVariable {
            name: name.clone(),
            sensitive: false,
        });
        let Some(text) = value.value.scalar_text() else {
            let other = &value.value;
            d.push(
                Diagnostic::error(
                    value.pos,
                    format!(
                        "the value of `{name}` must be an expression, found {}",
                        other.kind()
                    ),
                )
                .with_hint("an expression is text, such as \"tries + 1\"; quote text inside it"),
            );
            continue;
        };
        assignments.push((
            name,
            TextSrc {
                text,
                pos: value.pos,
            },
        ));
    }
    Some(assignments)
}

impl RawNodeKind for RawSet {
    fn resolve(self: Box<Self>, r: &mut Resolver<'_>, _id: &str) -> Option<Box<dyn NodeKind>> {
        let compiled: Vec<Option<(String, Expression)>> = self
            .assignments
            .into_iter()
            .map(|(name, src)| r.expression(&src).map(|expression| (name, expression)))
            .collect();
        let next = r.node(&self.next, "`next`");
        Some(Box::new(Set {
            assignments: compiled.into_iter().collect::<Option<_>>()?,
            next: next?,
        }))
    }
}

impl NodeKind for Set {
    fn name(&self) -> &'static str {
        SPEC.key
    }

    fn caption(&self) -> String {
        let names: Vec<&str> = self
            .assignments
            .iter()
            .map(|(name, _)| name.as_str())
            .collect();
        format!("set {}", names.join(", "))
    }

    fn shape(&self) -> Shape {
        Shape::Step
    }

    fn enter(&self, run: &mut Run<'_>) -> Flow {
        for (name, expression) in &self.assignments {
            match expression.eval(&run.session.context, run.now) {
                Ok(value) => run.session.context.set(name, value),
                Err(_) => return Flow::Abort,
            }
        }
        Flow::Goto(self.next, Via::Next)
    }

    fn for_each_edge(&self, f: &mut dyn FnMut(NodeIdx, EdgeLabel)) {
        f(self.next, EdgeLabel::Next);
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use crate::dialog::entities::Place;
    use crate::dialog::machine::{ERROR_RESULT, Input, StepEnv, step};
    use crate::dialog::value::Value;
    use crate::dialog::{Dialog, Session, load};

    /// Adds numbers until the total passes 10, counting the tries: a `set` in a loop.
    const ADDER: &str = r#"
id: adder
version: 1
start: ask_number
nodes:
  ask_number:
    ask: "A number?"
    entity: number
    on_exhausted: done
    next: add
  add:
    set:
      tries: "tries | default(0) + 1"
      total: "total | default(0) + number"
      summary: '"total " ~ total ~ " after " ~ tries'
    next: enough
  enough:
    branch:
      - if: { var: total, gt: 10 }
        then: done
      - else: ask_number
  done:
    say: "{{ summary }}"
    end: done
"#;

    fn dialog(source: &str) -> Dialog {
        let loaded = load(source);
        loaded
            .dialog
            .unwrap_or_else(|| panic!("loads: {:#?}", loaded.diagnostics))
    }

    fn say(dialog: &Dialog, session: &mut Session, input: Input<'_>) -> Vec<String> {
        let env = StepEnv {
            now: DateTime::<Utc>::MIN_UTC,
            history_limit: 50,
            transitions_used: 0,
            place: Place::default(),
            email_domains: &[],
        };
        let mut replies = Vec::new();
        step(dialog, session, input, env, &mut replies);
        replies
    }

    #[test]
    fn assigns_in_order_and_keeps_values_across_a_loop() {
        let dialog = dialog(ADDER);
        let mut session = Session::new("s", &dialog.id, dialog.version, DateTime::<Utc>::MIN_UTC);
        say(&dialog, &mut session, Input::Start);
        say(&dialog, &mut session, Input::Text("4"));
        assert_eq!(
            session.context.get("tries", DateTime::<Utc>::MIN_UTC),
            Some(&Value::Number(1.0))
        );
        say(&dialog, &mut session, Input::Text("3.5"));
        let replies = say(&dialog, &mut session, Input::Text("5"));
        assert_eq!(replies, ["total 12.5 after 3"]);
        assert_eq!(session.result.as_deref(), Some("done"));
    }

    #[test]
    fn a_failing_expression_ends_the_conversation_safely() {
        let dialog = dialog(
            r#"
id: broken
version: 1
start: ask_name
nodes:
  ask_name:
    ask: "Name?"
    entity: text
    on_exhausted: done
    next: double
  double:
    set: { doubled: "text * 2 + 1" }
    next: done
  done:
    say: "{{ doubled }}"
    end: done
"#,
        );
        let mut session = Session::new("s", &dialog.id, dialog.version, DateTime::<Utc>::MIN_UTC);
        say(&dialog, &mut session, Input::Start);
        say(&dialog, &mut session, Input::Text("Ada"));
        assert_eq!(session.result.as_deref(), Some(ERROR_RESULT));
    }
}
