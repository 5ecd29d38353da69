//! Reading typed fields out of a [`yaml::Node`](crate::yaml::Node) while collecting
//! diagnostics instead of stopping at the first one.
//!
//! A [`MapReader`] hands out the keys a caller asks for and, when finished, reports every key
//! nobody asked for as unknown, with a "did you mean" among the keys that were expected.

use std::time::Duration;

use crate::diagnostic::Diagnostic;
use crate::duration::parse_duration;
use crate::yaml::{Node, Pos, Value};

/// Collects diagnostics while a document is read.
#[derive(Debug, Default)]
pub struct Diagnostics {
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    pub fn error(&mut self, pos: Pos, message: impl Into<String>) {
        self.items.push(Diagnostic::error(pos, message));
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    /// Expects a string; reports the node otherwise.
    pub fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        if let Some(s) = node.as_str() {
            return Some(s.to_owned());
        }
        self.error(
            node.pos,
            format!("{what} must be a string, found {}", node.value.kind()),
        );
        None
    }

    /// Accepts any scalar as text (a number or boolean written where text is expected).
    pub fn text(&mut self, node: &Node, what: &str) -> Option<String> {
        if let Some(s) = node.scalar_text() {
            return Some(s);
        }
        let diagnostic = Diagnostic::error(
            node.pos,
            format!("{what} must be text, found {}", node.value.kind()),
        );
        // Unquoted, `{{ name }}` is YAML for a mapping inside a mapping.
        let unquoted_template = node
            .as_map()
            .is_some_and(|entries| entries.iter().any(|(key, _)| key.as_map().is_some()));
        self.push(if unquoted_template {
            diagnostic.with_hint("put text that starts with `{{` in quotes: \"{{ name }}\"")
        } else {
            diagnostic
        });
        None
    }

    /// Expects a string or a list of strings.
    pub fn texts(&mut self, node: &Node, what: &str) -> Vec<(Pos, String)> {
        match &node.value {
            Value::Seq(items) => items
                .iter()
                .filter_map(|item| self.text(item, what).map(|s| (item.pos, s)))
                .collect(),
            _ => self
                .text(node, what)
                .map(|s| vec![(node.pos, s)])
                .unwrap_or_default(),
        }
    }

    pub fn integer(&mut self, node: &Node, what: &str, min: i64, max: i64) -> Option<i64> {
        match node.value {
            Value::Int(i) if (min..=max).contains(&i) => Some(i),
            Value::Int(i) => {
                self.error(
                    node.pos,
                    format!("{what} must be between {min} and {max}, found {i}"),
                );
                None
            }
            _ => {
                self.error(
                    node.pos,
                    format!("{what} must be an integer, found {}", node.value.kind()),
                );
                None
            }
        }
    }

    pub fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        if let Value::Bool(b) = node.value {
            return Some(b);
        }
        self.error(
            node.pos,
            format!("{what} must be true or false, found {}", node.value.kind()),
        );
        None
    }

    pub fn duration(&mut self, node: &Node, what: &str) -> Option<Duration> {
        let text = node.scalar_text();
        match text.as_deref().map(parse_duration) {
            Some(Ok(duration)) => Some(duration),
            Some(Err(message)) => {
                self.push(
                    Diagnostic::error(node.pos, format!("{what}: {message}"))
                        .with_hint("write a number and a unit, such as 30s, 5m, 2h or 1d"),
                );
                None
            }
            None => {
                self.error(
                    node.pos,
                    format!(
                        "{what} must be a duration such as 5m, found {}",
                        node.value.kind()
                    ),
                );
                None
            }
        }
    }

    /// Opens a mapping for reading, or reports that `node` is not one.
    pub fn map<'n>(&mut self, node: &'n Node, what: &str) -> Option<MapReader<'n>> {
        match &node.value {
            Value::Map(entries) => Some(MapReader::new(node.pos, entries)),
            _ => {
                self.error(
                    node.pos,
                    format!("{what} must be a mapping, found {}", node.value.kind()),
                );
                None
            }
        }
    }
}

/// Reads the keys of one YAML mapping.
#[derive(Debug)]
pub struct MapReader<'n> {
    pub pos: Pos,
    entries: &'n [(Node, Node)],
    taken: Vec<bool>,
    expected: Vec<&'static str>,
}

impl<'n> MapReader<'n> {
    fn new(pos: Pos, entries: &'n [(Node, Node)]) -> Self {
        Self {
            pos,
            entries,
            taken: vec![false; entries.len()],
            expected: Vec::new(),
        }
    }

    /// Whether the key is present (without taking it).
    pub fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k.as_str() == Some(key))
    }

    /// Whether the key is absent and no key nobody took looks like a typo of it. A
    /// "missing `next`" report would only repeat what [`finish`] says about `nxt` ("did you
    /// mean `next`?"), so callers report a missing key only when this holds.
    ///
    /// [`finish`]: MapReader::finish
    pub fn lacks(&self, key: &str) -> bool {
        !self.has(key)
            && !self.entries.iter().zip(&self.taken).any(|((k, _), taken)| {
                !taken
                    && k.as_str()
                        .is_some_and(|name| crate::diagnostic::did_you_mean(name, [key]).is_some())
            })
    }

    /// Takes a key's value (the first occurrence; a repeated key is reported by [`finish`]).
    ///
    /// [`finish`]: MapReader::finish
    pub fn take(&mut self, key: &'static str) -> Option<&'n Node> {
        self.expected.push(key);
        let index = self
            .entries
            .iter()
            .position(|(k, _)| k.as_str() == Some(key))?;
        self.taken[index] = true;
        Some(&self.entries[index].1)
    }

    /// Takes a key and returns the position of the key itself along with the value.
    pub fn take_entry(&mut self, key: &'static str) -> Option<(&'n Node, &'n Node)> {
        self.expected.push(key);
        let index = self
            .entries
            .iter()
            .position(|(k, _)| k.as_str() == Some(key))?;
        self.taken[index] = true;
        let (k, v) = &self.entries[index];
        Some((k, v))
    }

    /// Declares keys as known without reading them (they belong to another reader).
    pub fn allow(&mut self, keys: &[&'static str]) {
        for key in keys {
            if let Some(index) = self
                .entries
                .iter()
                .position(|(k, _)| k.as_str() == Some(key))
            {
                self.taken[index] = true;
            }
            self.expected.push(key);
        }
    }

    /// Reports unknown and repeated keys. `context` names the mapping ("node `greet`").
    pub fn finish(self, diagnostics: &mut Diagnostics, context: &str) {
        let mut seen: Vec<&str> = Vec::new();
        for ((key, _), taken) in self.entries.iter().zip(&self.taken) {
            let Some(name) = key.as_str() else {
                diagnostics.error(
                    key.pos,
                    format!(
                        "keys in {context} must be strings, found {}",
                        key.value.kind()
                    ),
                );
                continue;
            };
            if seen.contains(&name) {
                diagnostics.error(key.pos, format!("key `{name}` is repeated in {context}"));
                continue;
            }
            seen.push(name);
            if !taken {
                let mut expected = self.expected.clone();
                expected.sort_unstable();
                expected.dedup();
                let diagnostic =
                    Diagnostic::error(key.pos, format!("unknown key `{name}` in {context}"));
                let diagnostic =
                    match crate::diagnostic::did_you_mean(name, expected.iter().copied()) {
                        Some(best) => diagnostic.with_hint(format!("did you mean `{best}`?")),
                        None => diagnostic
                            .with_hint(format!("expected one of: {}", expected.join(", "))),
                    };
                diagnostics.push(diagnostic);
            }
        }
    }
}
