//! `pattern`: what the question's regular expression finds in the message, saved as text.
//!
//! ```yaml
//! ask_order:
//!   ask: "Your order number?"
//!   entity: pattern
//!   pattern: '(?i)\b([A-Z]{2}-\d{4})\b'   # its first group is the answer, else the whole match
//! ```
//!
//! Accepts the first capture group of the pattern (else the whole match) anywhere in the
//! message; two different matches are asked about. The expression is linear-time (no
//! backtracking) and size-limited, so no message can make it slow.

use crate::diagnostic::Diagnostic;
use crate::dialog::value::Value;

use super::{EntityKind, EntitySource, EntitySpec, Found, Hearing, missing_key};

pub const SPEC: EntitySpec = EntitySpec {
    name: "pattern",
    accepts: "What the question's `pattern` (a regular expression) finds in the message: its first capture group, else the whole match.",
    keys: &["pattern"],
    sensitive: false,
    early: false,
    also_sets: &[],
    read,
};

#[derive(Debug)]
pub struct Pattern {
    pub pattern: regex::Regex,
}

fn read(source: &mut EntitySource<'_, '_>) -> Option<Box<dyn EntityKind>> {
    let Some(node) = source.map.take("pattern") else {
        if source.map.lacks("pattern") {
            missing_key(
                source,
                "a pattern",
                "pattern",
                r#"a regular expression, such as `pattern: "order ([A-Z]{2}-\d{4})"` (its first group is the answer)"#,
            );
        }
        return None;
    };
    let text = source.d.string(node, "`pattern`")?;
    match regex::RegexBuilder::new(&text).size_limit(1 << 20).build() {
        Ok(pattern) => Some(Box::new(Pattern { pattern })),
        Err(error) => {
            // The library's message ends with the reason, after a picture of the expression.
            let message = error.to_string();
            let last = message.lines().last().unwrap_or("invalid").trim();
            source.d.push(Diagnostic::error(
                node.pos,
                format!("`pattern` is not a regular expression: {last}"),
            ));
            None
        }
    }
}

impl EntityKind for Pattern {
    fn spec(&self) -> &'static EntitySpec {
        &SPEC
    }

    fn find(&self, text: &str, _hearing: &Hearing<'_>) -> Found {
        let mut found: Vec<Value> = Vec::new();
        for captures in self.pattern.captures_iter(text).take(16) {
            let matched = captures.get(1).or_else(|| captures.get(0));
            if let Some(matched) = matched {
                let value = Value::Text(matched.as_str().to_owned());
                if !matched.as_str().is_empty() && !found.contains(&value) {
                    found.push(value);
                }
            }
        }
        Found::from_candidates(found)
    }
}
