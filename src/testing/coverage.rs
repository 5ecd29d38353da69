//! Which parts of a dialog the scripts reached.
//!
//! A node is covered when some turn entered it. A transition is an edge of the dialog graph
//! (`Dialog::edges`: `from --label--> to`) and is covered when some turn took it: the traced
//! transition left `from` for `to` by the route `Dialog::edge_label` names `label`. Global
//! keywords (`cancel`, `restart`) leave whatever question they are typed at, so each is one
//! transition of its own, written `* --'cancel'--> cancelled`, covered when typed anywhere.
//! They count in the transition percentage like any edge: a designer wrote them, a script
//! should try them. Every node but `start` is entered only through a transition, so 100 % of
//! transitions implies 100 % of nodes; `--min-coverage` therefore gates on transitions.
//!
//! Scripts that ran count, passed or failed (a failed script covers what it reached); skipped
//! scripts do not. Only dialogs that a selected script names are measured.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use crate::dialog::model::EdgeLabel;
use crate::dialog::{Dialog, Transition, Via};
use crate::engine::DialogRegistry;

use super::{ScriptResult, Verdict};

/// The coverage of one dialog.
#[derive(Debug, Clone, Serialize)]
pub struct DialogCoverage {
    pub dialog: String,
    pub version: u32,
    /// Scripts that ran against it.
    pub scripts: usize,
    pub nodes: Vec<NodeHits>,
    pub transitions: Vec<TransitionHits>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeHits {
    pub node: String,
    /// Times entered, over all scripts.
    pub hits: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct TransitionHits {
    /// The node left, or `*` for a global keyword.
    pub from: String,
    /// `next`, `answer`, `exhausted`, `'resend'`, `if #1`, `else`, or an action outcome.
    pub label: String,
    pub to: String,
    pub hits: u32,
}

impl TransitionHits {
    /// `ask_code --'resend'--> send_code`.
    pub fn describe(&self) -> String {
        format!("{} --{}--> {}", self.from, self.label, self.to)
    }
}

impl DialogCoverage {
    pub fn nodes_covered(&self) -> usize {
        self.nodes.iter().filter(|n| n.hits > 0).count()
    }

    pub fn transitions_covered(&self) -> usize {
        self.transitions.iter().filter(|t| t.hits > 0).count()
    }

    pub fn nodes_percent(&self) -> f64 {
        percent(self.nodes_covered(), self.nodes.len())
    }

    pub fn transitions_percent(&self) -> f64 {
        percent(self.transitions_covered(), self.transitions.len())
    }

    /// The JSON written by `--coverage`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "dialog": self.dialog,
            "version": self.version,
            "scripts": self.scripts,
            "nodes": {
                "covered": self.nodes_covered(),
                "total": self.nodes.len(),
                "percent": round(self.nodes_percent()),
                "items": self.nodes,
            },
            "transitions": {
                "covered": self.transitions_covered(),
                "total": self.transitions.len(),
                "percent": round(self.transitions_percent()),
                "items": self.transitions,
            },
        })
    }
}

/// The `--coverage` file: every measured dialog.
pub fn to_json(coverage: &[DialogCoverage]) -> serde_json::Value {
    serde_json::json!({ "dialogs": coverage.iter().map(DialogCoverage::to_json).collect::<Vec<_>>() })
}

#[allow(clippy::cast_precision_loss)] // counts of nodes are small
fn percent(covered: usize, total: usize) -> f64 {
    if total == 0 {
        100.0
    } else {
        covered as f64 * 100.0 / total as f64
    }
}

fn round(percent: f64) -> f64 {
    (percent * 100.0).round() / 100.0
}

/// Measures every dialog a script ran against or reached through a `call` node (the latest
/// version: the one scripts start). A script counts for each dialog its turns went through.
pub fn measure(registry: &DialogRegistry, results: &[ScriptResult]) -> Vec<DialogCoverage> {
    let ran: Vec<&ScriptResult> = results
        .iter()
        .filter(|r| !matches!(r.verdict, Verdict::Skipped(_)))
        .collect();
    let ids: BTreeSet<&str> = ran
        .iter()
        .map(|r| r.script.dialog.as_str())
        .chain(
            ran.iter()
                .flat_map(|r| r.trace.iter().map(|t| t.dialog.as_str())),
        )
        .collect();
    ids.into_iter()
        .filter_map(|id| {
            let dialog = registry.latest(id)?;
            let traces: Vec<Vec<Transition>> = ran
                .iter()
                .filter(|r| r.script.dialog == id || r.trace.iter().any(|t| t.dialog == id))
                .map(|r| {
                    r.trace
                        .iter()
                        .filter(|t| t.dialog == id)
                        .map(|t| t.transition)
                        .collect()
                })
                .collect();
            let traces: Vec<&[Transition]> = traces.iter().map(Vec::as_slice).collect();
            Some(measure_dialog(dialog, &traces))
        })
        .collect()
}

fn measure_dialog(dialog: &Dialog, traces: &[&[Transition]]) -> DialogCoverage {
    let mut node_hits = vec![0_u32; dialog.nodes.len()];
    let mut keyword_hits = vec![0_u32; dialog.keywords.len()];
    let mut edge_hits: HashMap<(usize, usize, EdgeLabel), u32> = HashMap::new();
    for transition in traces.iter().flat_map(|t| t.iter()) {
        if let Some(hits) = node_hits.get_mut(transition.to) {
            *hits += 1;
        }
        match (transition.from, transition.via) {
            (_, Via::GlobalKeyword(i)) => {
                if let Some(hits) = keyword_hits.get_mut(usize::from(i)) {
                    *hits += 1;
                }
            }
            (Some(from), via) => {
                if let Some(label) = dialog.edge_label(from, via) {
                    *edge_hits.entry((from, transition.to, label)).or_default() += 1;
                }
            }
            (None, _) => {}
        }
    }
    let name = |idx: usize| {
        dialog
            .nodes
            .get(idx)
            .map_or_else(String::new, |n| n.id.clone())
    };
    let nodes = dialog
        .nodes
        .iter()
        .zip(&node_hits)
        .map(|(node, hits)| NodeHits {
            node: node.id.clone(),
            hits: *hits,
        })
        .collect();
    let edges = dialog.edges().into_iter().map(|edge| TransitionHits {
        from: name(edge.from),
        label: edge.label.to_string(),
        to: name(edge.to),
        hits: edge_hits
            .get(&(edge.from, edge.to, edge.label))
            .copied()
            .unwrap_or(0),
    });
    let keywords = dialog
        .keywords
        .iter()
        .zip(&keyword_hits)
        .map(|(keyword, hits)| TransitionHits {
            from: "*".to_owned(),
            label: EdgeLabel::Keyword(keyword.words.first().cloned().unwrap_or_default())
                .to_string(),
            to: name(keyword.target),
            hits: *hits,
        });
    DialogCoverage {
        dialog: dialog.id.clone(),
        version: dialog.version,
        scripts: traces.len(),
        nodes,
        transitions: edges.chain(keywords).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIALOG: &str = "\
id: d
version: 1
start: hi
keywords:
  cancel: { goto: bye }
nodes:
  hi:
    say: Hi
    next: ask
  ask:
    ask: Name?
    entity: text
    on_exhausted: bye
    next: bye
  bye:
    end: done
";

    #[test]
    fn counts_nodes_edges_and_global_keywords() {
        let loaded = crate::dialog::load(DIALOG);
        let dialog = loaded.dialog.expect("a valid dialog");
        let index = |id| dialog.node_index(id).expect("a node");
        let (hi, ask, bye) = (index("hi"), index("ask"), index("bye"));
        let trace = [
            Transition {
                from: None,
                to: hi,
                via: Via::Start,
            },
            Transition {
                from: Some(hi),
                to: ask,
                via: Via::Next,
            },
            Transition {
                from: Some(ask),
                to: bye,
                via: Via::GlobalKeyword(0),
            },
        ];
        let coverage = measure_dialog(&dialog, &[&trace]);
        assert_eq!(coverage.nodes_covered(), 3);
        let taken: Vec<String> = coverage
            .transitions
            .iter()
            .map(|t| format!("{} {}", t.describe(), t.hits))
            .collect();
        assert_eq!(
            taken,
            [
                "hi --next--> ask 1",
                "ask --answer--> bye 0",
                "ask --exhausted--> bye 0",
                "* --'cancel'--> bye 1",
            ]
        );
        assert!((coverage.transitions_percent() - 50.0).abs() < f64::EPSILON);
        let json = to_json(&[coverage]);
        assert_eq!(json["dialogs"][0]["transitions"]["covered"], 2);
        assert_eq!(json["dialogs"][0]["nodes"]["percent"], 100.0);
    }
}
