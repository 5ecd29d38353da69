//! `action`: run an action and follow the edge named by its outcome.
//!
//! ```yaml
//! verify:
//!   action: otp.verify
//!   on: { valid: success, invalid: wrong_code, expired: expired, locked: locked_out }
//! ```
//! Every outcome of the action must have an edge, so no outcome can strand a user.

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::dialog::actions::{ActionSpec, Outcome, Params, RawParams};
use crate::dialog::load::{Ref, Resolver};
use crate::dialog::machine::{Flow, Run, Via, index};
use crate::dialog::model::{EdgeLabel, NodeIdx};

use super::{NodeKind, NodeSource, RawNodeKind, SetVariable, Shape, Spec};

pub const SPEC: Spec = Spec {
    key: "action",
    keys: &["with", "on"],
    companions: &[],
    delegated_keys: None,
    read,
};

#[derive(Debug)]
struct RawAction {
    spec: &'static ActionSpec,
    params: Box<dyn RawParams>,
    edges: Vec<(&'static str, Ref)>,
}

#[derive(Debug)]
pub struct Action {
    /// Which action, with its outcomes and the variables it sets.
    pub spec: &'static ActionSpec,
    pub params: Box<dyn Params>,
    /// `(outcome, target)`, one per outcome of the action.
    pub edges: Vec<(&'static str, NodeIdx)>,
}

fn read(source: &mut NodeSource<'_, '_>) -> Option<Box<dyn RawNodeKind>> {
    let NodeSource { id, map, d, sets } = source;
    let name_node = map.take("action")?;
    let name = d.string(name_node, "`action`")?;
    let with = map.take("with").and_then(|n| d.map(n, "`with`"));
    let on = map.take_entry("on");
    // The variables of the action its author most likely meant (`otp.send` for `otp.sned`),
    // so the templates that use them are not reported too.
    let meant = ActionSpec::find(&name)
        .or_else(|| did_you_mean(&name, ActionSpec::names()).and_then(ActionSpec::find));
    sets.extend(meant.iter().flat_map(|spec| {
        spec.provides.iter().map(|name| SetVariable {
            name: (*name).to_owned(),
            sensitive: false,
        })
    }));
    let Some(spec) = ActionSpec::find(&name) else {
        d.push(
            Diagnostic::error(name_node.pos, format!("unknown action `{name}`"))
                .suggest(&name, ActionSpec::names())
                .or_hint(|| {
                    format!(
                        "actions: {}",
                        ActionSpec::names().collect::<Vec<_>>().join(", ")
                    )
                }),
        );
        return None;
    };
    let params = (spec.read)(with, d, map.pos);
    if let Some(params) = &params {
        sets.extend(params.sets().into_iter().map(|name| SetVariable {
            name,
            sensitive: false,
        }));
    }
    let Some((on_key, on_node)) = on else {
        if map.lacks("on") {
            d.push(
                Diagnostic::error(map.pos, format!("action node `{id}` has no `on:` edges"))
                    .with_hint(format!(
                        "map every outcome of `{name}` to a node: {}",
                        spec.outcomes.join(", ")
                    )),
            );
        }
        return None;
    };
    let mut on_map = d.map(on_node, "`on`")?;
    let mut edges = Vec::new();
    for outcome in spec.outcomes {
        match on_map.take(outcome) {
            Some(target) => {
                if let Some(target) = Ref::read(d, target, &format!("`{outcome}`")) {
                    edges.push((*outcome, target));
                }
            }
            None => d.push(
                Diagnostic::error(
                    on_key.pos,
                    format!("action `{name}` in node `{id}` has no edge for outcome `{outcome}`"),
                )
                .with_hint(format!("add `{outcome}: <node id>` under `on:`")),
            ),
        }
    }
    on_map.finish(d, &format!("`on` of action `{name}`"));
    Some(Box::new(RawAction {
        spec,
        params: params?,
        edges,
    }))
}

impl RawNodeKind for RawAction {
    fn resolve(self: Box<Self>, r: &mut Resolver<'_>, _id: &str) -> Option<Box<dyn NodeKind>> {
        let params = self.params.resolve(r);
        let edges: Vec<Option<(&'static str, NodeIdx)>> = self
            .edges
            .iter()
            .map(|(outcome, target)| {
                r.node(target, &format!("`{outcome}`"))
                    .map(|t| (*outcome, t))
            })
            .collect();
        let edges = edges.into_iter().collect::<Option<Vec<_>>>()?;
        if edges.len() != self.spec.outcomes.len() {
            return None;
        }
        Some(Box::new(Action {
            spec: self.spec,
            params: params?,
            edges,
        }))
    }
}

impl NodeKind for Action {
    fn name(&self) -> &'static str {
        SPEC.key
    }

    fn caption(&self) -> String {
        self.spec.name.to_owned()
    }

    fn shape(&self) -> Shape {
        Shape::Call
    }

    fn enter(&self, run: &mut Run<'_>) -> Flow {
        Flow::Call(self.params.call(run))
    }

    /// Follows the edge of an outcome the engine reports.
    fn outcome(&self, run: &mut Run<'_>, outcome: &Outcome) -> Option<Flow> {
        for (name, value) in &outcome.vars {
            run.session.context.set(name, value.clone());
        }
        Some(
            match self
                .edges
                .iter()
                .position(|(name, _)| *name == outcome.name)
            {
                Some(i) => Flow::Goto(self.edges[i].1, Via::Outcome(index(i))),
                None => Flow::Abort,
            },
        )
    }

    fn for_each_edge(&self, f: &mut dyn FnMut(NodeIdx, EdgeLabel)) {
        for (outcome, target) in &self.edges {
            f(*target, EdgeLabel::Outcome(outcome));
        }
    }
}
