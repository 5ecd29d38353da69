//! `handoff`: hand the conversation to a person. The bot says its messages and stops
//! answering; each user message goes to the human agents instead (the engine forwards it),
//! agents answer through the API, and when one hands the session back the dialog goes on at
//! `next` (or at the node the agent names).
//!
//! ```yaml
//! to_a_person:
//!   handoff: "I'm passing you to a colleague; they'll answer here."
//!   queue: billing
//!   next: anything_else
//! ```

use crate::diagnostic::Diagnostic;
use crate::dialog::load::{Ref, Resolver, TextSrc, is_identifier};
use crate::dialog::machine::{Flow, Run};
use crate::dialog::model::{EdgeLabel, NodeIdx};
use crate::dialog::session::Handoff;
use crate::dialog::template::Template;

use super::{NodeKind, NodeSource, RawNodeKind, Shape, Spec};

pub const SPEC: Spec = Spec {
    key: "handoff",
    keys: &["queue", "next"],
    companions: &[],
    delegated_keys: None,
    read,
};

#[derive(Debug)]
struct RawHandoff {
    messages: Vec<TextSrc>,
    queue: Option<String>,
    next: Ref,
}

#[derive(Debug)]
pub struct HandoffNode {
    pub messages: Vec<Template>,
    /// Which agents should take it (sent with every forwarded message), if the dialog says.
    pub queue: Option<String>,
    /// Where the dialog goes on when an agent hands the session back without naming a node.
    pub next: NodeIdx,
}

fn read(node: &mut NodeSource<'_, '_>) -> Option<Box<dyn RawNodeKind>> {
    let messages = node.texts("handoff");
    // Every key is read before anything is refused, so each mistake is reported at once.
    let queue = match node.map.take_entry("queue") {
        None => Ok(None),
        Some((_, value)) => match node.d.text(value, "`queue`") {
            Some(queue) if is_identifier(&queue) => Ok(Some(queue)),
            Some(queue) => {
                node.d.push(
                    Diagnostic::error(value.pos, format!("`{queue}` is not a valid queue name"))
                        .with_hint("a queue is a short name such as `billing` or `support`"),
                );
                Err(())
            }
            None => Err(()),
        },
    };
    let next = node.node_ref("next");
    if next.is_none() && node.map.lacks("next") {
        node.dead_end();
    }
    Some(Box::new(RawHandoff {
        messages,
        queue: queue.ok()?,
        next: next?,
    }))
}

impl RawNodeKind for RawHandoff {
    fn resolve(self: Box<Self>, r: &mut Resolver<'_>, id: &str) -> Option<Box<dyn NodeKind>> {
        let messages = r.messages(&self.messages, id);
        let next = r.node(&self.next, "`next`");
        Some(Box::new(HandoffNode {
            messages: messages?,
            queue: self.queue,
            next: next?,
        }))
    }
}

impl NodeKind for HandoffNode {
    fn name(&self) -> &'static str {
        SPEC.key
    }

    fn caption(&self) -> String {
        match &self.queue {
            Some(queue) => format!("handoff: {queue}"),
            None => "handoff".to_owned(),
        }
    }

    fn shape(&self) -> Shape {
        Shape::Question
    }

    fn enter(&self, run: &mut Run<'_>) -> Flow {
        for message in &self.messages {
            run.say(message);
        }
        run.session.handoff = Some(Handoff {
            since: run.now,
            queue: self.queue.clone(),
        });
        Flow::Wait
    }

    fn for_each_edge(&self, f: &mut dyn FnMut(NodeIdx, EdgeLabel)) {
        f(self.next, EdgeLabel::Next);
    }

    fn hands_back_to(&self) -> Option<NodeIdx> {
        Some(self.next)
    }
}
