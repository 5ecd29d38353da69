//! `call`: run another dialog as a step of this one, then go on by the result it ended with.
//!
//! ```yaml
//! verify_email:
//!   call: otp_authentication            # another dialog's id
//!   inputs: { email: "{{ email }}" }    # its variables, set before it starts
//!   outputs: { verified_email: email }  # ours ← its, copied when it ends
//!   on: { authenticated: book, cancelled: goodbye, else: not_verified }
//! ```
//! The callee runs with a context of its own (its `context:` defaults and the inputs); this
//! dialog's context, retry counts and code wait on the session's stack until it ends. Its
//! replies are the session's replies, its questions wait for the user like ours. Whether the
//! callee exists, sets the outputs, and can end with each result named is checked when the
//! dialogs are loaded together (`engine::registry`), as are call cycles.

use crate::diagnostic::Diagnostic;
use crate::dialog::load::{Ref, Resolver, TextSrc, is_identifier, read_variable_name};
use crate::dialog::machine::{Descend, Flow, Run, Via, index};
use crate::dialog::model::{EdgeLabel, NodeIdx};
use crate::dialog::template::Template;
use crate::dialog::value::{Context, Value};
use crate::reader::Diagnostics;
use crate::yaml::{Node as YamlNode, Pos};

use super::{NodeKind, NodeSource, RawNodeKind, SetVariable, Shape, Spec};

pub const SPEC: Spec = Spec {
    key: "call",
    keys: &["inputs", "outputs", "on"],
    companions: &[],
    delegated_keys: None,
    read,
};

/// What the loader checks against the called dialog once every dialog is loaded.
#[derive(Debug, Clone)]
pub struct DialogCall {
    /// The callee's id, and where it is written.
    pub dialog: String,
    pub pos: Pos,
    /// The callee's variables the inputs set, with where each is written.
    pub inputs: Vec<(String, Pos)>,
    /// `(ours, theirs, where)`.
    pub outputs: Vec<(String, String, Pos)>,
    /// The results with an edge, with where each is written.
    pub results: Vec<(String, Pos)>,
    /// An `else:` edge takes every other result.
    pub has_else: bool,
    /// Where `on:` is (or the node, without one).
    pub on_pos: Pos,
}

#[derive(Debug)]
struct RawCall {
    call: DialogCall,
    /// `(their variable, where it is written, the value's template)`.
    inputs: Vec<(String, Pos, TextSrc)>,
    edges: Vec<Ref>,
    otherwise: Option<Ref>,
}

#[derive(Debug)]
pub struct Call {
    pub call: DialogCall,
    /// Rendered into the callee's variables; `"{{ name }}"` alone keeps the value's type.
    pub inputs: Vec<(String, Template)>,
    /// One per `call.results`, in order.
    pub edges: Vec<NodeIdx>,
    pub otherwise: Option<NodeIdx>,
}

fn read(source: &mut NodeSource<'_, '_>) -> Option<Box<dyn RawNodeKind>> {
    let NodeSource { id, map, d, sets } = source;
    let name_node = map.take("call")?;
    let dialog = d.string(name_node, "`call`");
    if let Some(name) = &dialog
        && !is_identifier(name)
    {
        d.error(name_node.pos, format!("`{name}` is not a dialog id"));
    }
    let inputs = map
        .take("inputs")
        .map(|n| read_inputs(n, d))
        .unwrap_or_default();
    let outputs = map
        .take("outputs")
        .map(|n| read_outputs(n, d))
        .unwrap_or_default();
    sets.extend(outputs.iter().map(|(ours, _, _)| SetVariable {
        name: ours.clone(),
        sensitive: false,
    }));
    let Some((on_key, on_node)) = map.take_entry("on") else {
        if map.lacks("on") {
            d.push(
                Diagnostic::error(map.pos, format!("call node `{id}` has no `on:` edges"))
                    .with_hint("map the results the called dialog ends with to nodes, such as `on: { authenticated: next_step, else: failed }`"),
            );
        }
        return None;
    };
    let entries = on_node.as_map().filter(|entries| !entries.is_empty());
    let Some(entries) = entries else {
        d.push(
            Diagnostic::error(on_node.pos, "`on` must map results to nodes")
                .with_hint("for example `on: { authenticated: next_step, else: failed }`"),
        );
        return None;
    };
    let mut results = Vec::new();
    let mut edges = Vec::new();
    let mut otherwise = None;
    for (key, target) in entries {
        let Some(result) = d.string(key, "a result") else {
            continue;
        };
        let Some(target) = Ref::read(d, target, &format!("`{result}`")) else {
            continue;
        };
        if result == "else" {
            otherwise = Some(target);
        } else if results.iter().any(|(r, _)| *r == result) {
            d.error(key.pos, format!("result `{result}` has two edges"));
        } else {
            results.push((result, key.pos));
            edges.push(target);
        }
    }
    Some(Box::new(RawCall {
        call: DialogCall {
            dialog: dialog?,
            pos: name_node.pos,
            inputs: inputs
                .iter()
                .map(|(name, pos, _)| (name.clone(), *pos))
                .collect(),
            outputs,
            results,
            has_else: otherwise.is_some(),
            on_pos: on_key.pos,
        },
        inputs,
        edges,
        otherwise,
    }))
}

/// `inputs: { their_variable: "template" }`.
fn read_inputs(node: &YamlNode, d: &mut Diagnostics) -> Vec<(String, Pos, TextSrc)> {
    let Some(entries) = node.as_map() else {
        d.error(
            node.pos,
            format!(
                "`inputs` must map the called dialog's variables to values, found {}",
                node.value.kind()
            ),
        );
        return Vec::new();
    };
    let mut inputs = Vec::new();
    for (key, value) in entries {
        let Some(name) = read_variable_name(d, key) else {
            continue;
        };
        let Some(text) = value.value.scalar_text() else {
            d.error(
                value.pos,
                format!(
                    "the input `{name}` must be text, found {}",
                    value.value.kind()
                ),
            );
            continue;
        };
        inputs.push((
            name,
            key.pos,
            TextSrc {
                text,
                pos: value.pos,
            },
        ));
    }
    inputs
}

/// `outputs: { our_variable: their_variable }`.
fn read_outputs(node: &YamlNode, d: &mut Diagnostics) -> Vec<(String, String, Pos)> {
    let Some(entries) = node.as_map() else {
        d.error(
            node.pos,
            format!(
                "`outputs` must map our variables to the called dialog's, found {}",
                node.value.kind()
            ),
        );
        return Vec::new();
    };
    let mut outputs = Vec::new();
    for (key, value) in entries {
        let (Some(ours), Some(theirs)) = (read_variable_name(d, key), read_variable_name(d, value))
        else {
            continue;
        };
        outputs.push((ours, theirs, value.pos));
    }
    outputs
}

impl RawNodeKind for RawCall {
    fn resolve(self: Box<Self>, r: &mut Resolver<'_>, _id: &str) -> Option<Box<dyn NodeKind>> {
        let inputs: Vec<Option<(String, Template)>> = self
            .inputs
            .iter()
            .map(|(name, _, src)| r.template(src).map(|t| (name.clone(), t)))
            .collect();
        let edges: Vec<Option<NodeIdx>> = self
            .edges
            .iter()
            .zip(&self.call.results)
            .map(|(target, (result, _))| r.node(target, &format!("`{result}`")))
            .collect();
        let otherwise = match &self.otherwise {
            Some(target) => Some(r.node(target, "`else`")?),
            None => None,
        };
        Some(Box::new(Call {
            call: self.call,
            inputs: inputs.into_iter().collect::<Option<_>>()?,
            edges: edges.into_iter().collect::<Option<_>>()?,
            otherwise,
        }))
    }
}

impl NodeKind for Call {
    fn name(&self) -> &'static str {
        SPEC.key
    }

    fn caption(&self) -> String {
        format!("call {}", self.call.dialog)
    }

    fn shape(&self) -> Shape {
        Shape::Call
    }

    fn enter(&self, run: &mut Run<'_>) -> Flow {
        let inputs = self
            .inputs
            .iter()
            .map(|(name, template)| {
                let value = match template.sole_variable() {
                    Some(var) => run.session.context.get(var, run.now).cloned(),
                    None => Some(Value::Text(run.render(template))),
                };
                (name.clone(), value)
            })
            .filter_map(|(name, value)| Some((name, value?)))
            .collect();
        Flow::Descend(Descend {
            dialog: self.call.dialog.clone(),
            inputs,
        })
    }

    /// The callee ended with `result`: copy the outputs out of its context, follow the edge.
    fn returned(&self, run: &mut Run<'_>, result: &str, callee: &Context) -> Option<Flow> {
        for (ours, theirs, _) in &self.call.outputs {
            match callee.get(theirs, run.now) {
                Some(value) => run.session.context.set(ours, value.clone()),
                None => run.session.context.remove(ours),
            }
        }
        let edge = self.call.results.iter().position(|(r, _)| r == result);
        Some(match (edge, self.otherwise) {
            (Some(i), _) => Flow::Goto(self.edges[i], Via::Outcome(index(i))),
            (None, Some(otherwise)) => Flow::Goto(otherwise, Via::Else),
            (None, None) => Flow::Abort,
        })
    }

    fn dialog_call(&self) -> Option<&DialogCall> {
        Some(&self.call)
    }

    fn for_each_edge(&self, f: &mut dyn FnMut(NodeIdx, EdgeLabel)) {
        for ((result, _), target) in self.call.results.iter().zip(&self.edges) {
            f(*target, EdgeLabel::Result(result.clone()));
        }
        if let Some(otherwise) = self.otherwise {
            f(otherwise, EdgeLabel::Else);
        }
    }
}
