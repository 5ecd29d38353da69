//! What a script expects of a text (a bot reply, an email's subject or body): exactly this,
//! containing this, matching this regex, or any one of several of those.
//!
//! ```yaml
//! - bot: "What's your email address?"              # exact
//! - bot: { contains: "4-digit code" }              # substring, ignoring case
//! - bot: { regex: "expires in \\d+ minutes" }       # a regex found anywhere (anchor with ^ $)
//! - bot: { any: ["Hi!", { contains: hello }] }      # one of several
//! ```
//!
//! Exact and contains texts are templates (`"Thanks, {{ email }} is verified."`); regexes are
//! not, since `{` means something there.

use regex::Regex;

use crate::dialog::template::Template;
use crate::reader::Diagnostics;
use crate::yaml::{Node, Value};

use super::vars::{Scope, Vars};

/// One expectation of a text.
#[derive(Debug, Clone)]
pub enum Matcher {
    Exact(Template),
    /// A substring, compared without regard to case (like the dialog language's `contains`).
    Contains(Template),
    Regex(Regex),
    Any(Vec<Matcher>),
}

/// The keys of a matcher written as a mapping.
const KINDS: [&str; 4] = ["exact", "contains", "regex", "any"];

impl Matcher {
    /// Reads a matcher: a scalar is exact text; a mapping names its kind.
    pub fn read(node: &Node, d: &mut Diagnostics, scope: &Scope, what: &str) -> Option<Matcher> {
        if node.scalar_text().is_some() {
            return scope.template(node, d, what).map(Matcher::Exact);
        }
        let Value::Map(entries) = &node.value else {
            d.error(
                node.pos,
                format!(
                    "{what} must be a text or one of {{ contains: … }}, {{ regex: … }}, {{ any: [...] }}, found {}",
                    node.value.kind()
                ),
            );
            return None;
        };
        let mut map = d.map(node, what)?;
        let mut found: Vec<(&'static str, &Node)> = Vec::new();
        for kind in KINDS {
            if let Some(value) = map.take(kind) {
                found.push((kind, value));
            }
        }
        map.finish(d, what);
        match found.as_slice() {
            [(kind, value)] => Self::read_kind(kind, value, d, scope, what),
            [] if entries.is_empty() => {
                d.error(node.pos, format!("{what} is empty"));
                None
            }
            [] => None,
            [_, (second, value), ..] => {
                d.error(
                    value.pos,
                    format!("{what} has more than one kind (`{second}` too); use `any: [...]` for alternatives"),
                );
                None
            }
        }
    }

    fn read_kind(
        kind: &str,
        value: &Node,
        d: &mut Diagnostics,
        scope: &Scope,
        what: &str,
    ) -> Option<Matcher> {
        match kind {
            "exact" => scope
                .template(value, d, &format!("{what}.exact"))
                .map(Matcher::Exact),
            "contains" => scope
                .template(value, d, &format!("{what}.contains"))
                .map(Matcher::Contains),
            "regex" => read_regex(value, d, &format!("{what}.regex")).map(Matcher::Regex),
            _ => {
                let Value::Seq(items) = &value.value else {
                    d.error(
                        value.pos,
                        format!("{what}.any must be a list, found {}", value.value.kind()),
                    );
                    return None;
                };
                if items.is_empty() {
                    d.error(value.pos, format!("{what}.any is empty"));
                    return None;
                }
                let matchers: Vec<Option<Matcher>> = items
                    .iter()
                    .map(|item| Matcher::read(item, d, scope, &format!("{what}.any")))
                    .collect();
                matchers
                    .into_iter()
                    .collect::<Option<_>>()
                    .map(Matcher::Any)
            }
        }
    }

    /// Whether `text` meets the expectation, with variables as they are now.
    pub fn matches(&self, text: &str, vars: &Vars) -> bool {
        match self {
            Matcher::Exact(template) => text == vars.render(template),
            Matcher::Contains(template) => text
                .to_lowercase()
                .contains(&vars.render(template).to_lowercase()),
            Matcher::Regex(regex) => regex.is_match(text),
            Matcher::Any(matchers) => matchers.iter().any(|m| m.matches(text, vars)),
        }
    }

    /// The expectation in words, with variables filled in: `exactly "Hi!"`.
    pub fn describe(&self, vars: &Vars) -> String {
        match self {
            Matcher::Exact(template) => format!("exactly {:?}", vars.render(template)),
            Matcher::Contains(template) => format!("containing {:?}", vars.render(template)),
            Matcher::Regex(regex) => format!("matching /{}/", regex.as_str()),
            Matcher::Any(matchers) => format!(
                "one of: {}",
                matchers
                    .iter()
                    .map(|m| m.describe(vars))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        }
    }
}

impl Matcher {
    /// For an exact expectation, where the closest of `replies` (the longest common start,
    /// at least half of the expected text) first differs from it: a one-letter typo is found
    /// at a glance, not by comparing two long lines.
    pub fn near_miss(&self, replies: &[String], vars: &Vars) -> Option<String> {
        let Matcher::Exact(template) = self else {
            return None;
        };
        let expected: Vec<char> = vars.render(template).chars().collect();
        let (index, reply, same) = replies
            .iter()
            .enumerate()
            .map(|(i, reply)| {
                let same = expected
                    .iter()
                    .zip(reply.chars())
                    .take_while(|(a, b)| *a == b)
                    .count();
                (i, reply, same)
            })
            .max_by_key(|(_, _, same)| *same)?;
        // Only a reply that got at least half-way is a near miss; others are just different.
        if same == 0 || same * 2 < expected.len() {
            return None;
        }
        let said: Vec<char> = reply.chars().collect();
        let from = same.saturating_sub(12);
        let excerpt = |text: &[char]| -> String {
            let end = (same + 12).min(text.len());
            let mut out: String = text.get(from..end).unwrap_or_default().iter().collect();
            if from > 0 {
                out.insert(0, '…');
            }
            if end < text.len() {
                out.push('…');
            }
            out
        };
        Some(format!(
            "reply {} first differs at character {}: expected {:?}, said {:?}",
            index + 1,
            same + 1,
            excerpt(&expected),
            excerpt(&said)
        ))
    }
}

/// Compiles a regex, reporting a bad one at its position.
pub fn read_regex(node: &Node, d: &mut Diagnostics, what: &str) -> Option<Regex> {
    let pattern = d.text(node, what)?;
    match Regex::new(&pattern) {
        Ok(regex) => Some(regex),
        Err(error) => {
            // The regex crate explains over several lines, with a caret; its last line says why.
            let why = error
                .to_string()
                .lines()
                .rev()
                .find(|line| !line.trim().is_empty())
                .unwrap_or("invalid")
                .trim_start_matches("error: ")
                .to_owned();
            d.error(node.pos, format!("{what} is not a valid regex: {why}"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(yaml: &str) -> Result<Matcher, Vec<String>> {
        let doc = crate::yaml::parse(yaml).unwrap();
        let mut d = Diagnostics::default();
        let mut scope = Scope::default();
        scope.define("email");
        Matcher::read(doc.get("bot").unwrap(), &mut d, &scope, "`bot`")
            .ok_or_else(|| d.items.iter().map(|i| i.message.clone()).collect())
    }

    fn vars() -> Vars {
        let mut vars = Vars::default();
        vars.set("email", "a@x.io".into());
        vars
    }

    #[test]
    fn each_kind_matches_what_it_says() {
        let v = vars();
        let exact = matcher("bot: 'Thanks, {{ email }}.'").unwrap();
        assert!(exact.matches("Thanks, a@x.io.", &v));
        assert!(!exact.matches("Thanks, a@x.io. Bye", &v));
        let contains = matcher("bot: { contains: 'THANKS' }").unwrap();
        assert!(contains.matches("oh, thanks!", &v));
        let regex = matcher(r"bot: { regex: '^\d+ left$' }").unwrap();
        assert!(regex.matches("2 left", &v));
        assert!(!regex.matches("only 2 left", &v));
        let any = matcher("bot: { any: [yes, { contains: ok }] }").unwrap();
        assert!(any.matches("yes", &v) && any.matches("it's OK", &v));
        assert!(!any.matches("no", &v));
        assert_eq!(
            any.describe(&v),
            r#"one of: exactly "yes"; containing "ok""#
        );
    }

    #[test]
    fn a_near_miss_points_at_the_first_difference() {
        let v = vars();
        let exact = matcher("bot: 'Thanks, {{ email }} is verifed.'").unwrap();
        let replies = ["Hi!".to_owned(), "Thanks, a@x.io is verified.".to_owned()];
        assert_eq!(
            exact.near_miss(&replies, &v).as_deref(),
            Some(
                r#"reply 2 first differs at character 24: expected "….io is verifed.", said "….io is verified.""#
            )
        );
        assert_eq!(exact.near_miss(&["Bye".to_owned()], &v), None);
        let contains = matcher("bot: { contains: x }").unwrap();
        assert_eq!(contains.near_miss(&replies, &v), None);
    }

    #[test]
    fn mistakes_are_reported() {
        assert_eq!(
            matcher("bot: { contians: x }").unwrap_err(),
            ["unknown key `contians` in `bot`"]
        );
        assert_eq!(
            matcher("bot: { regex: '(' }").unwrap_err(),
            ["`bot`.regex is not a valid regex: unclosed group"]
        );
        assert_eq!(
            matcher("bot: { contains: a, regex: b }").unwrap_err(),
            ["`bot` has more than one kind (`regex` too); use `any: [...]` for alternatives"]
        );
        assert_eq!(
            matcher("bot: { any: [] }").unwrap_err(),
            ["`bot`.any is empty"]
        );
    }
}
