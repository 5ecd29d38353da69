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
    /// `None` when the node has errors, which are reported. The node still counts as
    /// defined, so `next:` naming it is not reported as an unknown node on top.
    pub kind: Option<RawKind>,
    /// The variables the node sets, known even when it has errors, so the templates that
    /// use them are not reported on top.
    pub sets: Vec<SetVariable>,
}

/// A context variable a node sets.
#[derive(Debug)]
pub struct SetVariable {
    pub name: String,
    /// Holds an entered one-time code, which may never be shown in a message.
    pub sensitive: bool,
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

/// Every key some kind of node reads. A node whose kind is unclear accepts them all: which
/// ones are wrong depends on the kind its author settles on.
const NODE_KEYS: [&str; 14] = [
    "say",
    "ask",
    "branch",
    "action",
    "end",
    "next",
    "on",
    "with",
    "keywords",
    "entity",
    "save_as",
    "invalid",
    "retries",
    "on_exhausted",
];

/// Reads one node, deciding its kind from its keys. Pushes the variables it sets to `sets`
/// as soon as they are known, even if the node turns out to have errors.
pub fn read(
    node: &YamlNode,
    id: &str,
    id_pos: Pos,
    d: &mut Diagnostics,
    sets: &mut Vec<SetVariable>,
) -> Option<RawKind> {
    let what = format!("node `{id}`");
    let mut map = d.map(node, &what)?;
    // Problems of the whole node ("is a dead end") point at its id, as "unreachable" does,
    // rather than at whichever key happens to come first in it.
    map.pos = id_pos;
    let present: Vec<&str> = KIND_KEYS.iter().copied().filter(|k| map.has(k)).collect();
    // `say` goes with `end`: a farewell and the end of the dialog.
    let kind = match present.as_slice() {
        ["say", "end"] | ["end"] => end::read(&mut map, d, id).map(RawKind::End),
        ["say"] => say::read(&mut map, d, id).map(RawKind::Say),
        ["ask"] => ask::read(&mut map, d, id, sets).map(RawKind::Ask),
        ["branch"] => branch::read(&mut map, d, id).map(RawKind::Branch),
        ["action"] => action::read(&mut map, d, id, sets).map(RawKind::Action),
        [] => {
            // A misspelt kind (`sya: hi`) is reported as an unknown key, with the fix.
            if KIND_KEYS.iter().all(|k| map.lacks(k)) {
                d.push(
                    Diagnostic::error(map.pos, format!("{what} does nothing"))
                        .with_hint("give it one of `say`, `ask`, `branch`, `action` or `end`"),
                );
            }
            map.allow(&NODE_KEYS);
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
            // Read it as the kinds that set variables only to learn those variables: the
            // templates that use them are not wrong. Its other problems wait for the split.
            let mut unreported = Diagnostics::default();
            if several.contains(&"ask") {
                let _ = ask::read(&mut map, &mut unreported, id, sets);
            }
            if several.contains(&"action") {
                let _ = action::read(&mut map, &mut unreported, id, sets);
            }
            map.allow(&NODE_KEYS);
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
