//! A YAML document as a tree of values that each remember where they were written.
//!
//! Dialogs, scripts and the config file are read through this tree rather than straight into
//! `#[serde(deny_unknown_fields)]` structs, because serde stops at the first error while
//! `colloquy check` must report every problem at once, each with its line and column.
//! Parsing is done by `serde-saphyr` (panic-free, budgeted against alias bombs and deep
//! nesting); this module only keeps its spans.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// A 1-based line and column in a source file. `0:0` means "unknown".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

impl Pos {
    pub const fn new(line: u32, col: u32) -> Self {
        Self { line, col }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// One YAML node and its position.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub value: Value,
}

/// The value of a YAML node. Scalars keep the type the YAML 1.2 core schema resolves
/// (`yes`/`no` stay strings).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in document order; duplicate keys are kept so callers can report them.
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// A scalar written where text is expected (`retries: 3` under `headers` is the text
    /// `3`); `None` for null, lists and mappings.
    pub fn scalar_text(&self) -> Option<String> {
        match self {
            Value::Str(text) => Some(text.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null | Value::Seq(_) | Value::Map(_) => None,
        }
    }

    /// The value as JSON (mapping keys as text): for data a YAML file carries (a scripted
    /// answer's body) and for checking a dialog against its JSON Schema.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Value::Str(s) => serde_json::Value::String(s.clone()),
            Value::Seq(items) => {
                serde_json::Value::Array(items.iter().map(|n| n.value.to_json()).collect())
            }
            Value::Map(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.value.scalar_text().unwrap_or_default(), v.value.to_json()))
                    .collect(),
            ),
        }
    }

    /// A short name of the value's kind, for "expected a string, found a list" messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "nothing",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The text of a scalar as the author wrote it, for places where any scalar reads as
    /// text (`equals: 3` compares with the string "3" as well as the number).
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null | Value::Seq(_) | Value::Map(_) => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// Looks a key up in a mapping node (first occurrence).
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }
}

/// A YAML syntax error (or a document that exceeds the parser's budget).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
    /// How to fix it, when the error says more than "the syntax is wrong".
    pub hint: Option<&'static str>,
}

/// The usual fix for a YAML syntax error, when nothing more specific applies.
pub const SYNTAX_HINT: &str =
    "check indentation, quotes and that every `key:` has a space after the colon";

/// Parses one YAML document. An empty document parses as `Null`.
pub fn parse(source: &str) -> Result<Node, SyntaxError> {
    if source.trim().is_empty() {
        return Ok(Node {
            pos: Pos::new(1, 1),
            value: Value::Null,
        });
    }
    let mut options = serde_saphyr::Options::default();
    // Duplicates reach us so that, say, two nodes with one id are reported with both places.
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::PassThrough;
    // YAML 1.1 booleans turn `n:` or `no` into `false`: a classic trap in hand-written files.
    options.strict_booleans = true;
    options.with_snippet = false;
    match serde_saphyr::from_str_with_options::<Spanned<Value>>(source, options) {
        Ok(spanned) => Ok(from_spanned(spanned)),
        Err(error) => Err(syntax_error(&error)),
    }
}

fn syntax_error(error: &serde_saphyr::Error) -> SyntaxError {
    let location = error.location();
    let pos = location
        .map(|loc| Pos::new(clamp(loc.line()), clamp(loc.column())))
        .unwrap_or_default();
    if let Some((message, hint)) = known_error(error) {
        return SyntaxError {
            pos,
            message: message.to_owned(),
            hint: Some(hint),
        };
    }
    let text = error.to_string();
    // The library prefixes "error: line L column C: " or appends " at line L, column C";
    // we print our own position, so either would say it twice.
    let first = text.lines().next().unwrap_or("invalid YAML");
    let message = first
        .trim_start_matches("error: ")
        .split_once(": ")
        .filter(|(prefix, _)| prefix.starts_with("line "))
        .map_or(first, |(_, rest)| rest);
    let message = location
        .and_then(|loc| {
            message.strip_suffix(&format!(" at line {}, column {}", loc.line(), loc.column()))
        })
        .unwrap_or(message)
        .to_owned();
    SyntaxError {
        pos,
        message,
        hint: None,
    }
}

/// Errors whose library wording would mislead a person (a Rust type, an API to call, a
/// budget's debug form), in words about the file, with the fix.
fn known_error(error: &serde_saphyr::Error) -> Option<(&'static str, &'static str)> {
    use serde_saphyr::Error;
    use serde_saphyr::budget::BudgetBreach;
    Some(match error {
        Error::MultipleDocuments { .. } => (
            "the file holds more than one YAML document (a `---` line starts another)",
            "a file holds one document: remove the `---` line and what follows it, or move that to a file of its own",
        ),
        Error::UnknownAnchor { .. } => (
            "an alias (`*name`) refers to no anchor (`&name`) defined before it",
            "define the anchor above its first use, or write the value out",
        ),
        Error::Budget { breach, .. } => match breach {
            BudgetBreach::Depth { .. } => (
                "the document is nested too deeply (more than 64 levels of lists and mappings)",
                "flatten the structure: no dialog, script or configuration needs that depth",
            ),
            BudgetBreach::Aliases { .. }
            | BudgetBreach::Anchors { .. }
            | BudgetBreach::AliasAnchorRatio { .. } => (
                "the document uses too many aliases (`*name`) for its size",
                "write the repeated values out, or use fewer aliases: references that multiply each other make a small file enormous",
            ),
            BudgetBreach::Documents { .. } => (
                "the file holds too many YAML documents",
                "a file holds one document",
            ),
            _ => (
                "the document is larger than this reader accepts",
                "split it: a dialog, script or configuration file this large is a mistake",
            ),
        },
        _ => return None,
    })
}

fn clamp(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn from_spanned(spanned: Spanned<Value>) -> Node {
    Node {
        pos: Pos::new(
            clamp(spanned.referenced.line()),
            clamp(spanned.referenced.column()),
        ),
        value: spanned.value,
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(i64::try_from(u).map_or_else(|_| Value::Str(u.to_string()), Value::Int))
    }
    fn visit_i128<E>(self, i: i128) -> Result<Value, E> {
        Ok(i64::try_from(i).map_or_else(|_| Value::Str(i.to_string()), Value::Int))
    }
    fn visit_u128<E>(self, u: u128) -> Result<Value, E> {
        Ok(i64::try_from(u).map_or_else(|_| Value::Str(u.to_string()), Value::Int))
    }
    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Float(f))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::Str(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::Str(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Value>>()? {
            items.push(from_spanned(item));
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<Spanned<Value>, Spanned<Value>>()? {
            entries.push((from_spanned(key), from_spanned(value)));
        }
        Ok(Value::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_positions_of_keys_and_values() {
        let doc = parse("id: x\nnodes:\n  a:\n    say: hi\n").unwrap();
        let nodes = doc.get("nodes").unwrap();
        let (key, value) = &nodes.as_map().unwrap()[0];
        assert_eq!(key.pos, Pos::new(3, 3));
        assert_eq!(value.get("say").unwrap().pos, Pos::new(4, 10));
    }

    #[test]
    fn keeps_duplicate_keys() {
        let doc = parse("a: 1\na: 2\n").unwrap();
        assert_eq!(doc.as_map().unwrap().len(), 2);
    }

    #[test]
    fn yaml_11_booleans_stay_strings() {
        let doc = parse("n: no\ny: yes\n").unwrap();
        assert_eq!(doc.get("n").unwrap().as_str(), Some("no"));
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let err = parse("a: [1, 2\nb: c\n").unwrap_err();
        assert_eq!(err.pos.line, 2);
        assert!(!err.message.starts_with("error"), "{}", err.message);
        assert!(!err.message.contains(" at line "), "{}", err.message);
    }

    #[test]
    fn empty_document_is_null() {
        assert_eq!(parse("  \n").unwrap().value, Value::Null);
    }
}
