//! `say`: send one or more messages, then go to `next`.
//!
//! ```yaml
//! greet:
//!   say: "Hi! I'll verify your email address."
//!   next: ask_email
//! ```

use crate::dialog::load::{Ref, Resolver, TextSrc};
use crate::dialog::machine::{Flow, Run, Via};
use crate::dialog::model::NodeIdx;
use crate::dialog::template::Template;
use crate::reader::{Diagnostics, MapReader};

#[derive(Debug)]
pub struct RawSay {
    messages: Vec<TextSrc>,
    next: Ref,
}

#[derive(Debug)]
pub struct Say {
    pub messages: Vec<Template>,
    pub next: NodeIdx,
}

pub fn read(map: &mut MapReader<'_>, d: &mut Diagnostics, id: &str) -> Option<RawSay> {
    let messages = map
        .take("say")
        .map(|n| d.texts(n, "`say`"))
        .unwrap_or_default();
    let next = map
        .take("next")
        .and_then(|n| d.string(n, "`next`").map(|name| Ref { name, pos: n.pos }));
    // `end` is not here (that would make this an end node) but is a key a say node may
    // have: `ned: done` is then reported as a typo of it, and not as a dead end too.
    map.allow(&["end"]);
    let Some(next) = next else {
        if map.lacks("next") && map.lacks("end") {
            super::dead_end(d, map.pos, id);
        }
        return None;
    };
    Some(RawSay {
        messages: messages
            .into_iter()
            .map(|(pos, text)| TextSrc { text, pos })
            .collect(),
        next,
    })
}

impl RawSay {
    pub fn resolve(self, r: &mut Resolver<'_>) -> Option<Say> {
        let messages: Vec<Option<Template>> = self.messages.iter().map(|m| r.template(m)).collect();
        let next = r.node(&self.next, "`next`");
        Some(Say {
            messages: messages.into_iter().collect::<Option<_>>()?,
            next: next?,
        })
    }
}

impl Say {
    pub(crate) fn enter(&self, run: &mut Run<'_>) -> Flow {
        for message in &self.messages {
            run.say(message);
        }
        Flow::Goto(self.next, Via::Next)
    }
}
