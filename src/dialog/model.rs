//! The validated dialog: every reference resolved to a node index, every template compiled
//! and checked. Built only by [`super::load`]; the machine never sees raw YAML.

use std::collections::{BTreeMap, HashMap};

use crate::yaml::Pos;

use super::nodes::{Action, Ask, Branch, End, Say};
use super::template::Template;
use super::value::Value;

/// Index of a node in [`Dialog::nodes`].
pub type NodeIdx = usize;

/// A loaded, valid dialog.
#[derive(Debug)]
pub struct Dialog {
    pub id: String,
    /// Where `id:` is written, for diagnostics that span files.
    pub id_pos: Pos,
    pub version: u32,
    pub title: Option<String>,
    pub start: NodeIdx,
    pub nodes: Vec<Node>,
    pub(crate) index: HashMap<String, NodeIdx>,
    /// Keywords that work at every `ask` node (cancel, restart).
    pub keywords: Vec<Keyword>,
    /// Email templates, by name.
    pub templates: BTreeMap<String, EmailTemplate>,
    /// Variables every session starts with.
    pub defaults: Vec<(String, Value)>,
    /// A runaway guard: the most node entries one turn may make.
    pub max_transitions: u16,
    /// A hash of the source, so two files claiming one version can be told apart.
    pub fingerprint: u64,
    /// The YAML it was loaded from, so a shared store can archive the version sessions start
    /// on and another instance can load it again after a restart.
    pub source: std::sync::Arc<str>,
}

impl Dialog {
    pub fn node_index(&self, id: &str) -> Option<NodeIdx> {
        self.index.get(id).copied()
    }

    pub fn node(&self, idx: NodeIdx) -> &Node {
        &self.nodes[idx]
    }

    /// The label of the edge a transition took from `from`, as [`Dialog::edges`] names it.
    /// Starts and global keywords, which leave no particular node, have none.
    pub fn edge_label(&self, from: NodeIdx, via: crate::dialog::machine::Via) -> Option<EdgeLabel> {
        use crate::dialog::machine::Via;
        let kind = &self.nodes.get(from)?.kind;
        Some(match (kind, via) {
            (NodeKind::Say(_), Via::Next) => EdgeLabel::Next,
            (NodeKind::Ask(_), Via::Answer) => EdgeLabel::Answer,
            (NodeKind::Ask(_), Via::Exhausted) => EdgeLabel::Exhausted,
            (NodeKind::Ask(ask), Via::Keyword(i)) => {
                EdgeLabel::Keyword(ask.keywords.get(usize::from(i))?.words[0].clone())
            }
            (NodeKind::Branch(_), Via::If(i)) => EdgeLabel::If(usize::from(i)),
            (NodeKind::Branch(_), Via::Else) => EdgeLabel::Else,
            (NodeKind::Action(action), Via::Outcome(i)) => {
                EdgeLabel::Outcome(action.edges.get(usize::from(i))?.0)
            }
            _ => return None,
        })
    }

    /// Every `(from, to, label)` edge, for the graph view, coverage and lints.
    pub fn edges(&self) -> Vec<Edge> {
        let mut edges = Vec::new();
        for (from, node) in self.nodes.iter().enumerate() {
            node.kind
                .for_each_edge(&mut |to, label| edges.push(Edge { from, to, label }));
        }
        edges
    }
}

/// A transition in the dialog graph.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Edge {
    pub from: NodeIdx,
    pub to: NodeIdx,
    pub label: EdgeLabel,
}

/// Why an edge is taken.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EdgeLabel {
    /// `next:` of a say node.
    Next,
    /// A valid answer at an ask node.
    Answer,
    /// Too many invalid answers.
    Exhausted,
    /// A node keyword (`resend`).
    Keyword(String),
    /// The n-th `if` arm of a branch (0-based).
    If(usize),
    Else,
    /// An action outcome (`sent`, `invalid`…).
    Outcome(&'static str),
}

impl std::fmt::Display for EdgeLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EdgeLabel::Next => f.write_str("next"),
            EdgeLabel::Answer => f.write_str("answer"),
            EdgeLabel::Exhausted => f.write_str("exhausted"),
            EdgeLabel::Keyword(word) => write!(f, "'{word}'"),
            EdgeLabel::If(i) => write!(f, "if #{}", i + 1),
            EdgeLabel::Else => f.write_str("else"),
            EdgeLabel::Outcome(name) => f.write_str(name),
        }
    }
}

/// One node of a dialog.
#[derive(Debug)]
pub struct Node {
    pub id: String,
    pub pos: Pos,
    pub kind: NodeKind,
}

/// The closed set of node kinds. Adding one is one file in `nodes/` and one arm here.
#[derive(Debug)]
pub enum NodeKind {
    Say(Say),
    Ask(Ask),
    Branch(Branch),
    Action(Action),
    End(End),
}

impl NodeKind {
    pub fn name(&self) -> &'static str {
        match self {
            NodeKind::Say(_) => "say",
            NodeKind::Ask(_) => "ask",
            NodeKind::Branch(_) => "branch",
            NodeKind::Action(_) => "action",
            NodeKind::End(_) => "end",
        }
    }

    pub fn for_each_edge(&self, f: &mut dyn FnMut(NodeIdx, EdgeLabel)) {
        match self {
            NodeKind::Say(say) => f(say.next, EdgeLabel::Next),
            NodeKind::Ask(ask) => ask.for_each_edge(f),
            NodeKind::Branch(branch) => branch.for_each_edge(f),
            NodeKind::Action(action) => action.for_each_edge(f),
            NodeKind::End(_) => {}
        }
    }

    /// Whether entering this node makes the turn stop for the user's input.
    pub fn waits_for_input(&self) -> bool {
        matches!(self, NodeKind::Ask(_))
    }
}

/// A word (and its synonyms) that jumps to a node whatever was asked.
#[derive(Debug, Clone)]
pub struct Keyword {
    /// Lower-case words that trigger it.
    pub words: Vec<String>,
    pub target: NodeIdx,
    /// Forget the context and any code first (a full restart).
    pub reset: bool,
}

impl Keyword {
    pub fn matches(&self, normalised_text: &str) -> bool {
        self.words.iter().any(|w| w == normalised_text)
    }
}

/// Subject, text and optional HTML of an email.
#[derive(Debug, Clone)]
pub struct EmailTemplate {
    pub subject: Template,
    pub text: Template,
    pub html: Option<Template>,
    /// A SendGrid dynamic template id, used instead of the parts when the provider supports it.
    pub provider_template_id: Option<String>,
}

/// Lower-cases and trims user text for keyword matching. Borrows when there is nothing to
/// lower-case (most answers: addresses, codes), as it runs on every message.
pub fn normalise_keyword(text: &str) -> std::borrow::Cow<'_, str> {
    let trimmed = text.trim().trim_end_matches(['.', '!']);
    // Only plain lower-case ASCII is certain to be its own lower case.
    if !trimmed.is_ascii() || trimmed.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(trimmed.to_lowercase())
    } else {
        std::borrow::Cow::Borrowed(trimmed)
    }
}
