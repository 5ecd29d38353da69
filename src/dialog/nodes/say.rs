//! `say`: send one or more messages, then go to `next`.
//!
//! ```yaml
//! greet:
//!   say: "Hi! I'll verify your email address."
//!   next: ask_email
//! ```

use crate::dialog::load::{Ref, Resolver, TextSrc};
use crate::dialog::machine::{Flow, Run, Via};
use crate::dialog::model::{EdgeLabel, NodeIdx};
use crate::dialog::template::Template;

use super::{NodeKind, NodeSource, RawNodeKind, Shape, Spec};

pub const SPEC: Spec = Spec {
    key: "say",
    keys: &["next"],
    companions: &[],
    delegated_keys: None,
    read,
};

#[derive(Debug)]
struct RawSay {
    messages: Vec<TextSrc>,
    next: Ref,
}

#[derive(Debug)]
pub struct Say {
    pub messages: Vec<Template>,
    pub next: NodeIdx,
}

fn read(node: &mut NodeSource<'_, '_>) -> Option<Box<dyn RawNodeKind>> {
    let messages = node.texts("say");
    let next = node.node_ref("next");
    // `end` is not here (that would make this an end node) but is a key a say node may
    // have: `ned: done` is then reported as a typo of it, and not as a dead end too.
    node.map.allow(&["end"]);
    let Some(next) = next else {
        if node.map.lacks("next") && node.map.lacks("end") {
            node.dead_end();
        }
        return None;
    };
    Some(Box::new(RawSay { messages, next }))
}

impl RawNodeKind for RawSay {
    fn resolve(self: Box<Self>, r: &mut Resolver<'_>, id: &str) -> Option<Box<dyn NodeKind>> {
        let messages = r.messages(&self.messages, id);
        let next = r.node(&self.next, "`next`");
        Some(Box::new(Say {
            messages: messages?,
            next: next?,
        }))
    }
}

impl NodeKind for Say {
    fn name(&self) -> &'static str {
        SPEC.key
    }

    fn shape(&self) -> Shape {
        Shape::Step
    }

    fn enter(&self, run: &mut Run<'_>) -> Flow {
        for message in &self.messages {
            run.say(message);
        }
        Flow::Goto(self.next, Via::Next)
    }

    fn for_each_edge(&self, f: &mut dyn FnMut(NodeIdx, EdgeLabel)) {
        f(self.next, EdgeLabel::Next);
    }
}
