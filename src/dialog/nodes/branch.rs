//! `branch`: IF / ELSE IF / ELSE on context values. The first arm whose condition holds wins;
//! `else` is required, so a branch can never be a dead end.
//!
//! ```yaml
//! after_expired:
//!   branch:
//!     - if: { var: send_new, equals: true }
//!       then: send_code
//!     - else: cancelled
//! ```

use crate::diagnostic::Diagnostic;
use crate::dialog::condition::{self, Condition};
use crate::dialog::load::{Ref, Resolver};
use crate::dialog::machine::{Flow, Run, Via, index};
use crate::dialog::model::{EdgeLabel, NodeIdx};
use crate::yaml::{Pos, Value as YamlValue};

use super::{NodeKind, NodeSource, RawNodeKind, Shape, Spec};

pub const SPEC: Spec = Spec {
    key: "branch",
    keys: &[],
    companions: &[],
    delegated_keys: None,
    read,
};

#[derive(Debug)]
struct RawBranch {
    arms: Vec<(Condition, Ref)>,
    otherwise: Ref,
    vars: Vec<(String, Pos)>,
}

#[derive(Debug)]
pub struct Branch {
    pub arms: Vec<(Condition, NodeIdx)>,
    pub otherwise: NodeIdx,
}

fn read(source: &mut NodeSource<'_, '_>) -> Option<Box<dyn RawNodeKind>> {
    let NodeSource { id, map, d, .. } = source;
    let node = map.take("branch")?;
    let YamlValue::Seq(items) = &node.value else {
        d.push(
            Diagnostic::error(
                node.pos,
                format!(
                    "`branch` must be a list of arms, found {}",
                    node.value.kind()
                ),
            )
            .with_hint("write `- if: {…}` / `then: node` items and end with `- else: node`"),
        );
        return None;
    };
    let mut arms = Vec::new();
    let mut otherwise = None;
    let mut vars = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let Some(mut arm) = d.map(item, "a branch arm") else {
            ok = false;
            continue;
        };
        if let Some(target) = arm.take("else") {
            arm.finish(d, "the `else` arm");
            if i + 1 != items.len() {
                d.push(
                    Diagnostic::error(item.pos, "`else` must be the last arm")
                        .with_hint("arms after `else` can never be taken"),
                );
                ok = false;
            }
            otherwise = Ref::read(d, target, "`else`");
            continue;
        }
        let condition = arm
            .take("if")
            .and_then(|c| condition::read(c, d, &mut vars));
        let then = arm.take("then").and_then(|t| Ref::read(d, t, "`then`"));
        let complete = arm.has("if") && arm.has("then");
        arm.finish(d, "a branch arm");
        if !complete {
            d.push(
                Diagnostic::error(item.pos, "a branch arm needs `if` and `then`, or `else`")
                    .with_hint("`- if: { var: x, equals: 1 }` then `then: node`"),
            );
        }
        match (condition, then) {
            (Some(condition), Some(then)) => arms.push((condition, then)),
            _ => ok = false,
        }
    }
    let Some(otherwise) = otherwise else {
        if ok {
            d.push(
                Diagnostic::error(node.pos, format!("branch `{id}` has no `else` arm")).with_hint(
                    "add `- else: <node id>` as the last arm so the branch always goes somewhere",
                ),
            );
        }
        return None;
    };
    ok.then(|| -> Box<dyn RawNodeKind> {
        Box::new(RawBranch {
            arms,
            otherwise,
            vars,
        })
    })
}

impl RawNodeKind for RawBranch {
    fn resolve(self: Box<Self>, r: &mut Resolver<'_>, _id: &str) -> Option<Box<dyn NodeKind>> {
        let mut ok = true;
        for (var, pos) in &self.vars {
            ok &= r.variable(var, *pos);
        }
        let arms: Vec<Option<(Condition, NodeIdx)>> = self
            .arms
            .into_iter()
            .map(|(c, target)| r.node(&target, "`then`").map(|t| (c, t)))
            .collect();
        let otherwise = r.node(&self.otherwise, "`else`");
        let arms = arms.into_iter().collect::<Option<Vec<_>>>()?;
        let otherwise = otherwise?;
        ok.then(|| -> Box<dyn NodeKind> { Box::new(Branch { arms, otherwise }) })
    }
}

impl NodeKind for Branch {
    fn name(&self) -> &'static str {
        SPEC.key
    }

    fn shape(&self) -> Shape {
        Shape::Decision
    }

    fn edge_text(&self, label: &EdgeLabel) -> Option<String> {
        match label {
            EdgeLabel::If(i) => self
                .arms
                .get(*i)
                .map(|(condition, _)| condition.to_string()),
            _ => None,
        }
    }

    fn enter(&self, run: &mut Run<'_>) -> Flow {
        let context = &run.session.context;
        match self
            .arms
            .iter()
            .position(|(condition, _)| condition.eval(context, run.now))
        {
            Some(i) => Flow::Goto(self.arms[i].1, Via::If(index(i))),
            None => Flow::Goto(self.otherwise, Via::Else),
        }
    }

    fn for_each_edge(&self, f: &mut dyn FnMut(NodeIdx, EdgeLabel)) {
        for (i, (_, target)) in self.arms.iter().enumerate() {
            f(*target, EdgeLabel::If(i));
        }
        f(self.otherwise, EdgeLabel::Else);
    }
}
