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
use crate::dialog::template::Template;
use crate::reader::{Diagnostics, MapReader};

#[derive(Debug)]
pub struct RawEnd {
    messages: Vec<TextSrc>,
    result: String,
}

#[derive(Debug)]
pub struct End {
    pub messages: Vec<Template>,
    /// What the dialog achieved (`authenticated`, `cancelled`…), returned to the client.
    pub result: String,
}

pub fn read(map: &mut MapReader<'_>, d: &mut Diagnostics, id: &str) -> Option<RawEnd> {
    let messages = map
        .take("say")
        .map(|n| d.texts(n, "`say`"))
        .unwrap_or_default();
    let (_, result_node) = map.take_entry("end")?;
    if let Some((key, _)) = map.take_entry("next") {
        d.push(
            Diagnostic::error(key.pos, format!("node `{id}` has both `end` and `next`"))
                .with_hint("an end node finishes the dialog; remove `next` or `end`"),
        );
    }
    let result = d.text(result_node, "`end`")?;
    if !is_identifier(&result) {
        d.push(
            Diagnostic::error(result_node.pos, format!("`{result}` is not a valid result"))
                .with_hint("a result is a short code such as `authenticated` or `cancelled`"),
        );
        return None;
    }
    Some(RawEnd {
        messages: messages
            .into_iter()
            .map(|(pos, text)| TextSrc { text, pos })
            .collect(),
        result,
    })
}

impl RawEnd {
    pub fn resolve(self, r: &mut Resolver<'_>) -> Option<End> {
        let messages: Vec<Option<Template>> = self.messages.iter().map(|m| r.template(m)).collect();
        Some(End {
            messages: messages.into_iter().collect::<Option<_>>()?,
            result: self.result,
        })
    }
}

impl End {
    pub(crate) fn enter(&self, run: &mut Run<'_>) -> Flow {
        for message in &self.messages {
            run.say(message);
        }
        run.finish(&self.result);
        Flow::Stop
    }
}
