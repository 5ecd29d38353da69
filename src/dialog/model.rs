//! The validated dialog: every reference resolved to a node index, every template compiled
//! and checked. Built only by [`super::load`]; the machine never sees raw YAML.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::yaml::Pos;

use super::machine::Via;
use super::nodes::NodeKind;
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
    /// Said at a question whose own `fallback` is empty when a message is not understood,
    /// before the question is asked again.
    pub fallback: Vec<Template>,
    /// The outside classifier asked about messages nothing in the dialog understood.
    pub understand: Option<super::actions::understand::Understand>,
    /// Email templates, by name.
    pub templates: BTreeMap<String, EmailTemplate>,
    /// Variables every session starts with.
    pub defaults: Vec<(String, Value)>,
    /// Every variable a node sets or `context:` declares (what a caller's `outputs` may read).
    pub variables: BTreeSet<String>,
    /// Its texts in the other locales it speaks.
    pub translations: super::locale::Translations,
    /// Phrases (normalised) that start it for a new session that names no dialog.
    pub triggers: Vec<String>,
    /// A runaway guard: the most node entries one turn may make.
    pub max_transitions: u16,
    /// A hash of the source, so two files claiming one version can be told apart.
    pub fingerprint: u64,
    /// The YAML it was loaded from, so a shared store can archive the version sessions start
    /// on and another instance can load it again after a restart.
    pub source: std::sync::Arc<str>,
    /// The Fluent files it was loaded with, archived beside `source` for the same reason.
    pub translation_sources: std::sync::Arc<[super::locale::TranslationSource]>,
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
    pub fn edge_label(&self, from: NodeIdx, via: Via) -> Option<EdgeLabel> {
        let kind = &self.nodes.get(from)?.kind;
        // Edges of one label kind come in the order their `Via` indices count them.
        let mut seen: u16 = 0;
        let mut found = None;
        kind.for_each_edge(&mut |_, label| {
            if found.is_some() {
                return;
            }
            let wanted = match (&via, &label) {
                (Via::Next, EdgeLabel::Next)
                | (Via::Answer, EdgeLabel::Answer)
                | (Via::Exhausted, EdgeLabel::Exhausted)
                | (Via::Else, EdgeLabel::Else) => Some(0),
                (Via::If(i), EdgeLabel::If(arm)) => (usize::from(*i) == *arm).then_some(0),
                (Via::Keyword(i), EdgeLabel::Keyword(_))
                | (Via::Outcome(i), EdgeLabel::Outcome(_) | EdgeLabel::Result(_)) => Some(*i),
                _ => None,
            };
            if let Some(nth) = wanted {
                if nth == seen {
                    found = Some(label);
                } else {
                    seen += 1;
                }
            }
        });
        found
    }

    /// The results the dialog can end with (its `end` nodes'), each once.
    pub fn results(&self) -> BTreeSet<&str> {
        self.nodes
            .iter()
            .filter_map(|n| n.kind.end_result())
            .collect()
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
    /// A called dialog's result (`authenticated`…).
    Result(String),
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
            EdgeLabel::Result(name) => f.write_str(name),
        }
    }
}

/// One node of a dialog.
#[derive(Debug)]
pub struct Node {
    pub id: String,
    pub pos: Pos,
    pub kind: Box<dyn NodeKind>,
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
    /// Whether `text`, normalised as keywords are ([`normalise_keyword`]), is one of the
    /// keyword's phrases. Compares as it normalises, without allocating: it runs on every
    /// answer.
    pub fn matches(&self, text: &str) -> bool {
        self.words
            .iter()
            .any(|phrase| normalised_chars(text).eq(phrase.chars()))
    }
}

/// The characters of `normalise_keyword(text)`, one at a time.
fn normalised_chars(text: &str) -> impl Iterator<Item = char> + '_ {
    let mut pending_space = false;
    let mut started = false;
    text.chars()
        .flat_map(char::to_lowercase)
        .filter(|c| !matches!(c, '\'' | '’' | '‘' | '`'))
        .flat_map(move |c| {
            let out: [Option<char>; 2] = if c.is_alphanumeric() {
                let space = (pending_space && started).then_some(' ');
                pending_space = false;
                started = true;
                [space, Some(c)]
            } else {
                pending_space = true;
                [None, None]
            };
            out.into_iter().flatten()
        })
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

impl EmailTemplate {
    /// The first variable it uses that only `otp.send` provides (`code`,
    /// `expires_in_minutes`): such a template cannot be sent by `email.send`.
    pub fn otp_variable(&self) -> Option<&str> {
        [Some(&self.subject), Some(&self.text), self.html.as_ref()]
            .into_iter()
            .flatten()
            .flat_map(Template::variables)
            .find(|var| OTP_EMAIL_VARIABLES.contains(var))
    }
}

/// What `otp.send` adds to an email's variables, beside `email`.
pub const OTP_EMAIL_VARIABLES: [&str; 3] = ["code", "validation_code", "expires_in_minutes"];

/// User text as keywords are matched: lower case, apostrophes dropped (`that's` → `thats`),
/// every other character that is not a letter or digit a space, spaces collapsed. Borrows when
/// the text is already in that form (most answers are one plain word or number).
pub fn normalise_keyword(text: &str) -> std::borrow::Cow<'_, str> {
    let plain = !text.is_empty()
        && !text.starts_with(' ')
        && !text.ends_with(' ')
        && !text.contains("  ")
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b' ');
    if plain {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars().flat_map(char::to_lowercase) {
        if matches!(c, '\'' | '’' | '‘' | '`') {
            continue;
        }
        if c.is_alphanumeric() {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(c);
        } else {
            space = true;
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_match_the_normalised_message_whole() {
        let keyword = Keyword {
            words: vec!["cancel".to_owned(), "thats not my address".to_owned()],
            target: 0,
            reset: false,
        };
        for text in [
            "cancel",
            "Cancel!",
            "  CANCEL. ",
            "That's not my address",
            "that's  not my\taddress?",
        ] {
            assert!(keyword.matches(text), "{text:?}");
            assert!(
                keyword
                    .words
                    .contains(&normalise_keyword(text).into_owned()),
                "normalise_keyword agrees for {text:?}"
            );
        }
        for text in [
            "cancel it",
            "please cancel",
            "cancel@example.com",
            "",
            "cancelled",
        ] {
            assert!(!keyword.matches(text), "{text:?}");
        }
    }
}
