//! The node kinds, one file each, all with one shape:
//! `read` (YAML → raw, names unresolved), `resolve` (raw → validated, names → indices), and the
//! runtime behaviour the machine calls (`enter`, and `answer` for `ask`).

mod action;
mod ask;
mod branch;
mod end;
mod say;

pub use action::Action;
pub use ask::Ask;
pub use branch::Branch;
pub use end::End;
pub use say::Say;

use crate::diagnostic::Diagnostic;
use crate::reader::Diagnostics;
use crate::yaml::{Node as YamlNode, Pos};

use super::load::Resolver;
use super::model::NodeKind;

/// A node as read, before its references are resolved.
#[derive(Debug)]
pub struct RawNode {
    pub id: String,
    pub pos: Pos,
    pub kind: RawKind,
}

#[derive(Debug)]
pub enum RawKind {
    Say(say::RawSay),
    Ask(ask::RawAsk),
    Branch(branch::RawBranch),
    Action(action::RawAction),
    End(end::RawEnd),
}

/// The keys that decide a node's kind.
const KIND_KEYS: [&str; 5] = ["say", "ask", "branch", "action", "end"];

/// Reads one node, deciding its kind from its keys.
pub fn read(node: &YamlNode, id: &str, d: &mut Diagnostics) -> Option<RawKind> {
    let what = format!("node `{id}`");
    let mut map = d.map(node, &what)?;
    let present: Vec<&str> = KIND_KEYS.iter().copied().filter(|k| map.has(k)).collect();
    // `say` goes with `end`: a farewell and the end of the dialog.
    let kind = match present.as_slice() {
        ["say", "end"] | ["end"] => end::read(&mut map, d, id).map(RawKind::End),
        ["say"] => say::read(&mut map, d, id).map(RawKind::Say),
        ["ask"] => ask::read(&mut map, d, id).map(RawKind::Ask),
        ["branch"] => branch::read(&mut map, d, id).map(RawKind::Branch),
        ["action"] => action::read(&mut map, d, id).map(RawKind::Action),
        [] => {
            d.push(
                Diagnostic::error(map.pos, format!("{what} does nothing"))
                    .with_hint("give it one of `say`, `ask`, `branch`, `action` or `end`"),
            );
            map.allow(&["next", "on", "with", "keywords"]);
            None
        }
        several => {
            d.push(
                Diagnostic::error(
                    map.pos,
                    format!("{what} has {}: a node does one thing", list(several)),
                )
                .with_hint(
                    "split it into several nodes joined with `next` (only `say` may go with `end`)",
                ),
            );
            map.allow(&KIND_KEYS);
            None
        }
    };
    map.finish(d, &what);
    kind
}

fn list(keys: &[&str]) -> String {
    let quoted: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
    quoted.join(" and ")
}

impl RawKind {
    pub fn resolve(self, r: &mut Resolver<'_>, id: &str) -> Option<NodeKind> {
        match self {
            RawKind::Say(raw) => raw.resolve(r).map(NodeKind::Say),
            RawKind::Ask(raw) => raw.resolve(r, id).map(NodeKind::Ask),
            RawKind::Branch(raw) => raw.resolve(r).map(NodeKind::Branch),
            RawKind::Action(raw) => raw.resolve(r, id).map(NodeKind::Action),
            RawKind::End(raw) => raw.resolve(r).map(NodeKind::End),
        }
    }

    /// Reports the context variables this node sets.
    pub fn declare_variables(&self, f: &mut dyn FnMut(&str)) {
        match self {
            RawKind::Ask(ask) => f(&ask.save_as),
            RawKind::Action(action) => action.kind.provides().iter().for_each(|v| f(v)),
            RawKind::Say(_) | RawKind::Branch(_) | RawKind::End(_) => {}
        }
    }
}

impl RawNode {
    /// The variable this node fills with a secret (an entered code), if any.
    pub fn sensitive_variable(&self) -> Option<String> {
        match &self.kind {
            RawKind::Ask(ask) if ask.entity.is_sensitive() => Some(ask.save_as.clone()),
            _ => None,
        }
    }
}

/// Reports a node that neither continues nor ends.
fn dead_end(d: &mut Diagnostics, pos: Pos, id: &str) {
    d.push(
        Diagnostic::error(
            pos,
            format!("node `{id}` is a dead end: it has no `next` and is not an end node"),
        )
        .with_hint("add `next: <node id>`, or `end: <result>` to finish the dialog here"),
    );
}
