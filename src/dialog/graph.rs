//! A dialog as a picture: Mermaid (renders in GitHub, GitLab and most wikis) or Graphviz DOT.
//! Node shapes say what a node does; edges carry what takes them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::model::{Dialog, EdgeLabel};
use super::nodes::{NodeKind, Shape};

/// Output formats of [`render`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Mermaid,
    Dot,
}

/// Renders the dialog's nodes, edges, and global keywords (from "any question").
pub fn render(dialog: &Dialog, format: Format) -> String {
    render_with(dialog, format, &BTreeMap::new())
}

/// [`render`], with a note under the nodes `notes` names (node id → text: what a running
/// engine counted there).
pub fn render_with(dialog: &Dialog, format: Format, notes: &BTreeMap<String, String>) -> String {
    match format {
        Format::Mermaid => mermaid(dialog, notes),
        Format::Dot => dot(dialog, notes),
    }
}

fn caption(kind: &dyn NodeKind, id: &str, notes: &BTreeMap<String, String>) -> String {
    match notes.get(id) {
        Some(note) => format!("{id}\n{}\n{note}", kind.caption()),
        None => format!("{id}\n{}", kind.caption()),
    }
}

/// The edge's label; a branch arm shows its condition.
fn edge_text(dialog: &Dialog, from: usize, label: &EdgeLabel) -> String {
    dialog
        .node(from)
        .kind
        .edge_text(label)
        .unwrap_or_else(|| label.to_string())
}

/// Mermaid ids must be plain words; node ids may contain `-`.
fn mermaid_id(id: &str) -> String {
    format!("n_{}", id.replace('-', "_"))
}

fn mermaid(dialog: &Dialog, notes: &BTreeMap<String, String>) -> String {
    let mut out = String::from("flowchart TD\n");
    let _ = writeln!(
        out,
        "    start(((start))) --> {}",
        mermaid_id(&dialog.node(dialog.start).id)
    );
    for node in &dialog.nodes {
        let text = caption(node.kind.as_ref(), &node.id, notes)
            .replace('"', "#quot;")
            .replace('\n', "<br/>");
        let id = mermaid_id(&node.id);
        let shape = match node.kind.shape() {
            Shape::Step => format!("{id}[\"{text}\"]"),
            Shape::Question => format!("{id}([\"{text}\"])"),
            Shape::Decision => format!("{id}{{\"{text}\"}}"),
            Shape::Call => format!("{id}[[\"{text}\"]]"),
            Shape::Terminal => format!("{id}(((\"{text}\")))"),
        };
        let _ = writeln!(out, "    {shape}");
    }
    for edge in dialog.edges() {
        let from = mermaid_id(&dialog.node(edge.from).id);
        let to = mermaid_id(&dialog.node(edge.to).id);
        let _ = writeln!(
            out,
            "    {from} -->|\"{}\"| {to}",
            edge_text(dialog, edge.from, &edge.label).replace('"', "#quot;")
        );
    }
    if !dialog.keywords.is_empty() {
        out.push_str("    any>\"any question\"]\n");
        for keyword in &dialog.keywords {
            let _ = writeln!(
                out,
                "    any -.->|\"'{}'\"| {}",
                keyword.words.join("' / '"),
                mermaid_id(&dialog.node(keyword.target).id)
            );
        }
    }
    out
}

fn dot_escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn dot(dialog: &Dialog, notes: &BTreeMap<String, String>) -> String {
    let mut out = format!(
        "digraph \"{}\" {{\n    rankdir=TB;\n    node [fontname=\"Helvetica\"];\n",
        dot_escape(&dialog.id)
    );
    out.push_str("    \"@start\" [shape=circle, label=\"start\"];\n");
    let _ = writeln!(
        out,
        "    \"@start\" -> \"{}\";",
        dot_escape(&dialog.node(dialog.start).id)
    );
    for node in &dialog.nodes {
        let shape = match node.kind.shape() {
            Shape::Step => "box",
            Shape::Question => "box, style=rounded",
            Shape::Decision => "diamond",
            Shape::Call => "hexagon",
            Shape::Terminal => "doublecircle",
        };
        let _ = writeln!(
            out,
            "    \"{}\" [shape={shape}, label=\"{}\"];",
            dot_escape(&node.id),
            dot_escape(&caption(node.kind.as_ref(), &node.id, notes))
        );
    }
    for edge in dialog.edges() {
        let _ = writeln!(
            out,
            "    \"{}\" -> \"{}\" [label=\"{}\"];",
            dot_escape(&dialog.node(edge.from).id),
            dot_escape(&dialog.node(edge.to).id),
            dot_escape(&edge_text(dialog, edge.from, &edge.label))
        );
    }
    if !dialog.keywords.is_empty() {
        out.push_str("    \"@any\" [shape=plaintext, label=\"any question\"];\n");
        for keyword in &dialog.keywords {
            let _ = writeln!(
                out,
                "    \"@any\" -> \"{}\" [style=dashed, label=\"'{}'\"];",
                dot_escape(&dialog.node(keyword.target).id),
                dot_escape(&keyword.words.join("' / '"))
            );
        }
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flagship() -> Dialog {
        crate::dialog::load_translated(
            include_str!("../../dialogs/otp_authentication.yaml"),
            &crate::dialog::LoadEnv::default(),
            &crate::dialog::locale::flagship_translations(),
        )
        .dialog
        .unwrap()
    }

    #[test]
    fn mermaid_has_every_node_and_edge() {
        let dialog = flagship();
        let text = render(&dialog, Format::Mermaid);
        assert!(text.starts_with("flowchart TD\n"));
        assert!(text.contains("n_verify -->|\"valid\"| n_success"), "{text}");
        assert!(
            text.contains("n_ask_code -->|\"'resend'\"| n_send_code"),
            "{text}"
        );
        assert!(
            text.contains(
                "any -.->|\"'cancel' / 'stop' / 'quit' / 'never mind' / 'nevermind' / 'annuler' / 'arrêter' / 'laisse tomber'\"| n_cancelled"
            ),
            "{text}"
        );
        assert_eq!(text.matches(" -->|").count(), dialog.edges().len());
    }

    #[test]
    fn dot_is_well_formed() {
        let text = render(&flagship(), Format::Dot);
        assert!(text.starts_with("digraph \"otp_authentication\" {"));
        assert!(text.trim_end().ends_with('}'));
        assert!(
            text.contains("\"verify\" -> \"locked_how\" [label=\"locked\"];"),
            "{text}"
        );
        assert!(
            text.contains("\"after_expired\" -> \"send_code\" [label=\"send_new_code = true\"];"),
            "{text}"
        );
        assert_eq!(text.matches('{').count(), text.matches('}').count());
    }
}
