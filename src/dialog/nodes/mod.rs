//! The node kinds, one file each, and the one list that registers them ([`KINDS`]).
//!
//! A kind's file owns all of it: reading its YAML ([`Spec::read`], names still unresolved),
//! resolving names to indices and text to templates ([`RawNodeKind::resolve`]), its edges, how
//! the graph draws it, and what it does at run time ([`NodeKind::enter`], and for a question
//! [`Question::answer`], for an action [`NodeKind::outcome`]). Nothing outside this folder
//! names a kind, so adding one is one new file and one line in [`KINDS`] (ARCHITECTURE.md has
//! the recipe).

mod action;
mod ask;
mod branch;
mod call;
mod end;
mod handoff;
mod say;
mod set;

pub use action::Action;
pub use ask::Ask;
pub use branch::Branch;
pub use call::{Call, DialogCall};
pub use end::End;
pub use say::Say;

use std::any::Any;
use std::fmt;

use crate::diagnostic::Diagnostic;
use crate::reader::{Diagnostics, MapReader};
use crate::yaml::{Node as YamlNode, Pos};

use super::actions::Outcome;
use super::entities::{ChoiceOption, Entity, EntityKind};
use super::load::{Ref, Resolver, TextSrc};
use super::machine::{Flow, Run};
use super::model::{EdgeLabel, Keyword, NodeIdx};
use super::value::{Context, Value};

/// Every node kind, in the order `colloquy check` lists them in hints.
pub const KINDS: &[Spec] = &[
    say::SPEC,
    ask::SPEC,
    branch::SPEC,
    action::SPEC,
    set::SPEC,
    call::SPEC,
    handoff::SPEC,
    end::SPEC,
];

/// How the loader recognises and reads one node kind.
#[derive(Debug)]
pub struct Spec {
    /// The key that makes a node of this kind (`say:`).
    pub key: &'static str,
    /// Every other key the kind reads. A node whose kind is unclear accepts the keys of all
    /// kinds: which ones are wrong depends on the kind its author settles on.
    pub keys: &'static [&'static str],
    /// Keys of other kinds that may stand beside this one's (`say` beside `end`: a farewell).
    pub companions: &'static [&'static str],
    /// Keys read by what the kind hands its node to (an `ask`'s entity: `choices`), which
    /// the kind does not know by name.
    pub delegated_keys: Option<fn() -> Vec<&'static str>>,
    /// Reads a node of this kind; `None` when it has errors (reported to `node.d`).
    pub read: fn(&mut NodeSource<'_, '_>) -> Option<Box<dyn RawNodeKind>>,
}

impl Spec {
    /// The kind's own keys and those it delegates, without its key.
    pub fn every_key(&self) -> Vec<&'static str> {
        let mut keys = self.keys.to_vec();
        if let Some(delegated) = self.delegated_keys {
            keys.extend(delegated());
        }
        keys
    }
}

/// A node as read, before its references are resolved.
pub trait RawNodeKind: fmt::Debug {
    /// Names to indices, text to templates; `None` when something did not resolve (reported).
    fn resolve(self: Box<Self>, r: &mut Resolver<'_>, id: &str) -> Option<Box<dyn NodeKind>>;
}

/// How the graph draws a node: what it is for, not what it is called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Does something and goes on (`say`).
    Step,
    /// Waits for the user (`ask`).
    Question,
    /// Picks an edge by a condition (`branch`).
    Decision,
    /// Hands work to the engine (`action`).
    Call,
    /// Finishes the dialog (`end`).
    Terminal,
}

/// A validated node kind, as the machine runs it.
pub trait NodeKind: fmt::Debug + Send + Sync + Any {
    /// The key the kind is written with (`say`).
    fn name(&self) -> &'static str;

    /// What the graph shows under the node's id (`ask email`, `otp.send`).
    fn caption(&self) -> String {
        self.name().to_owned()
    }

    fn shape(&self) -> Shape;

    /// What happens when the machine enters the node.
    fn enter(&self, run: &mut Run<'_>) -> Flow;

    /// Every edge out of the node. Edges of one label kind come in the order their [`Via`]
    /// indices count them (the n-th keyword edge is `Via::Keyword(n)`).
    ///
    /// [`Via`]: super::machine::Via
    fn for_each_edge(&self, f: &mut dyn FnMut(NodeIdx, EdgeLabel));

    /// A longer text for one of the node's edge labels in the graph (a branch arm's condition).
    fn edge_text(&self, _label: &EdgeLabel) -> Option<String> {
        None
    }

    /// The node as a question, when entering it makes the turn wait for the user.
    fn question(&self) -> Option<&dyn Question> {
        None
    }

    /// Where an action's outcome leads; `None` for nodes that start no action.
    fn outcome(&self, _run: &mut Run<'_>, _outcome: &Outcome) -> Option<Flow> {
        None
    }

    /// Where a called dialog's end leads (`result`, with the callee's last context); `None`
    /// for nodes that call no dialog.
    fn returned(&self, _run: &mut Run<'_>, _result: &str, _callee: &Context) -> Option<Flow> {
        None
    }

    /// The dialog this node calls, for the checks across dialogs.
    fn dialog_call(&self) -> Option<&call::DialogCall> {
        None
    }

    /// The result the dialog ends with at this node (an `end` node).
    fn end_result(&self) -> Option<&str> {
        None
    }

    /// Where the dialog goes on when the people it was handed to hand it back without naming
    /// a node (a `handoff` node); `None` for nodes that hand nothing over.
    fn hands_back_to(&self) -> Option<NodeIdx> {
        None
    }
}

impl dyn NodeKind {
    /// The node as its concrete kind, for code that inspects one (tests, tools).
    pub fn downcast_ref<T: NodeKind>(&self) -> Option<&T> {
        (self as &dyn Any).downcast_ref()
    }

    /// Whether entering this node makes the turn stop for the user's input (or, handed to
    /// people, for theirs).
    pub fn waits_for_input(&self) -> bool {
        self.question().is_some() || self.hands_back_to().is_some()
    }
}

/// A node that waits for the user's answer. The machine decides what a message means
/// (`understand::hear`: keyword, answer, several candidates, or not understood); the
/// question acts on it.
pub trait Question {
    /// What the answer should be, with its parameters (a choice's options).
    fn entity(&self) -> &dyn EntityKind;

    /// Which entity the answer is; told to clients, and sensitive ones are masked in history.
    fn expecting(&self) -> Entity {
        self.entity().entity()
    }

    /// The question's own keywords (`resend`), after the dialog's global ones in precedence.
    fn keywords(&self) -> &[Keyword];

    /// The options offered (a `choice` question): shown as buttons, and what answers match.
    fn choices(&self) -> &[ChoiceOption] {
        self.entity().choices()
    }

    /// The variable an answer found in the opening message would fill, so this question is
    /// not asked; `None` when the question always asks.
    fn early_answer(&self) -> Option<&str> {
        None
    }

    /// A valid answer.
    fn accept(&self, run: &mut Run<'_>, value: Value) -> Flow;

    /// An answer that is not valid (out of range, not quite an address).
    fn reject(&self, run: &mut Run<'_>) -> Flow;

    /// A message that is neither an answer nor a keyword (`text`); by default an invalid
    /// answer.
    fn not_understood(&self, run: &mut Run<'_>, _text: &str) -> Flow {
        self.reject(run)
    }
}

/// A node as read: its id, and its kind when it read without errors.
#[derive(Debug)]
pub struct RawNode {
    pub id: String,
    pub pos: Pos,
    /// `None` when the node has errors, which are reported. The node still counts as
    /// defined, so `next:` naming it is not reported as an unknown node on top.
    pub kind: Option<Box<dyn RawNodeKind>>,
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

/// One node's YAML while a kind reads it: its keys, where problems go, and the variables
/// it sets. The helpers read the fields every kind has in the same way.
#[derive(Debug)]
pub struct NodeSource<'a, 'n> {
    pub id: &'a str,
    pub map: &'a mut MapReader<'n>,
    pub d: &'a mut Diagnostics,
    pub sets: &'a mut Vec<SetVariable>,
}

impl NodeSource<'_, '_> {
    /// Where the node's id is written: problems of the whole node point there.
    pub fn pos(&self) -> Pos {
        self.map.pos
    }

    /// A node reference under `key` (`next: ask_email`), or `None` when absent or not text.
    pub fn node_ref(&mut self, key: &'static str) -> Option<Ref> {
        let node = self.map.take(key)?;
        Ref::read(self.d, node, &format!("`{key}`"))
    }

    /// One text or a list of texts under `key` (`say: [a, b]`), each with its position.
    pub fn texts(&mut self, key: &'static str) -> Vec<TextSrc> {
        let Some(node) = self.map.take(key) else {
            return Vec::new();
        };
        self.d
            .texts(node, &format!("`{key}`"))
            .into_iter()
            .map(|(pos, text)| TextSrc { text, pos })
            .collect()
    }

    /// Reports a node that neither continues nor ends.
    pub fn dead_end(&mut self) {
        let id = self.id;
        self.d.push(
            Diagnostic::error(
                self.map.pos,
                format!("node `{id}` is a dead end: it has no `next` and is not an end node"),
            )
            .with_hint("add `next: <node id>`, or `end: <result>` to finish the dialog here"),
        );
    }
}

/// Reads one node, deciding its kind from its keys. The variables it sets are pushed to
/// `sets` as soon as they are known, even if the node turns out to have errors.
pub fn read(
    node: &YamlNode,
    id: &str,
    id_pos: Pos,
    d: &mut Diagnostics,
    sets: &mut Vec<SetVariable>,
) -> Option<Box<dyn RawNodeKind>> {
    let what = format!("node `{id}`");
    let mut map = d.map(node, &what)?;
    // Problems of the whole node ("is a dead end") point at its id, as "unreachable" does,
    // rather than at whichever key happens to come first in it.
    map.pos = id_pos;
    let present: Vec<&Spec> = KINDS.iter().filter(|kind| map.has(kind.key)).collect();
    let chosen = present.iter().copied().find(|kind| {
        present
            .iter()
            .all(|other| other.key == kind.key || kind.companions.contains(&other.key))
    });
    let raw =
        match (chosen, present.as_slice()) {
            (Some(kind), _) => (kind.read)(&mut NodeSource {
                id,
                map: &mut map,
                d,
                sets,
            }),
            (None, []) => {
                // A misspelt kind (`sya: hi`) is reported as an unknown key, with the fix.
                if KINDS.iter().all(|kind| map.lacks(kind.key)) {
                    d.push(
                        Diagnostic::error(map.pos, format!("{what} does nothing"))
                            .with_hint(format!("give it one of {}", kind_keys(" or "))),
                    );
                }
                allow_every_key(&mut map);
                None
            }
            (None, several) => {
                let keys: Vec<&str> = several.iter().map(|kind| kind.key).collect();
                d.push(
                Diagnostic::error(
                    map.pos,
                    format!("{what} has {}: a node does one thing", quoted(&keys, " and ")),
                )
                .with_hint(
                    "split it into several nodes joined with `next` (only `say` may go with `end`)",
                ),
            );
                // Read it as each of its kinds only to learn the variables they set: the
                // templates that use them are not wrong. Its other problems wait for the split.
                let mut unreported = Diagnostics::default();
                for kind in several {
                    let _ = (kind.read)(&mut NodeSource {
                        id,
                        map: &mut map,
                        d: &mut unreported,
                        sets,
                    });
                }
                allow_every_key(&mut map);
                None
            }
        };
    map.finish(d, &what);
    raw
}

fn allow_every_key(map: &mut MapReader<'_>) {
    for kind in KINDS {
        map.allow(&[kind.key]);
        map.allow(&kind.every_key());
    }
}

/// The kinds' keys as a hint lists them: "`say`, `ask` or `end`".
fn kind_keys(last_separator: &str) -> String {
    let keys: Vec<&str> = KINDS.iter().map(|kind| kind.key).collect();
    quoted(&keys, last_separator)
}

fn quoted(keys: &[&str], last_separator: &str) -> String {
    let quoted: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => {
            format!("{}{last_separator}{last}", rest.join(", "))
        }
        _ => quoted.join(""),
    }
}
