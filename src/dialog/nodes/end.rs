//! `end`: optionally say goodbye, then finish the dialog with a result.
//!
//! ```yaml
//! success:
//!   say: "Thanks — {{ email }} is verified."
//!   end: authenticated
//! ```

use crate::diagnostic::Diagnostic;
use crate::dialog::load::{Resolver, TextSrc, is_identifier};
use crate::dialog::machine::{Flow, Run};
use crate::dialog::model::{EdgeLabel, NodeIdx};
use crate::dialog::template::Template;

use super::{NodeKind, NodeSource, RawNodeKind, Shape, Spec};

pub const SPEC: Spec = Spec {
    key: "end",
    keys: &[],
    companions: &["say"],
    delegated_keys: None,
    read,
};

#[derive(Debug)]
struct RawEnd {
    messages: Vec<TextSrc>,
    result: String,
}

#[derive(Debug)]
pub struct End {
    pub messages: Vec<Template>,
    /// What the dialog achieved (`authenticated`, `cancelled`…), returned to the client.
    pub result: String,
}

fn read(node: &mut NodeSource<'_, '_>) -> Option<Box<dyn RawNodeKind>> {
    let messages = node.texts("say");
    let (_, result_node) = node.map.take_entry("end")?;
    if let Some((key, _)) = node.map.take_entry("next") {
        node.d.push(
            Diagnostic::error(
                key.pos,
                format!("node `{}` has both `end` and `next`", node.id),
            )
            .with_hint("an end node finishes the dialog; remove `next` or `end`"),
        );
    }
    let result = node.d.text(result_node, "`end`")?;
    if !is_identifier(&result) {
        node.d.push(
            Diagnostic::error(result_node.pos, format!("`{result}` is not a valid result"))
                .with_hint("a result is a short code such as `authenticated` or `cancelled`"),
        );
        return None;
    }
    Some(Box::new(RawEnd { messages, result }))
}

impl RawNodeKind for RawEnd {
    fn resolve(self: Box<Self>, r: &mut Resolver<'_>, id: &str) -> Option<Box<dyn NodeKind>> {
        Some(Box::new(End {
            messages: r.messages(&self.messages, id)?,
            result: self.result,
        }))
    }
}

impl NodeKind for End {
    fn name(&self) -> &'static str {
        SPEC.key
    }

    fn caption(&self) -> String {
        format!("end: {}", self.result)
    }

    fn shape(&self) -> Shape {
        Shape::Terminal
    }

    fn end_result(&self) -> Option<&str> {
        Some(&self.result)
    }

    fn enter(&self, run: &mut Run<'_>) -> Flow {
        for message in &self.messages {
            run.say(message);
        }
        run.finish(&self.result);
        Flow::Stop
    }

    fn for_each_edge(&self, _f: &mut dyn FnMut(NodeIdx, EdgeLabel)) {}
}
