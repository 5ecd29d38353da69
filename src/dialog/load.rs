//! YAML → validated [`Dialog`], reporting every problem at once.
//!
//! Two passes. *Reading* turns the YAML tree into raw nodes (names still strings), reporting
//! type errors and unknown keys. *Resolving* turns names into indices and templates into
//! compiled ones, reporting unknown references and variables. Graph checks (`lint`) run
//! last, on a dialog whose references are all known.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash, Hasher};

use crate::diagnostic::Diagnostic;
use crate::reader::{Diagnostics, MapReader};
use crate::yaml::{self, Node as YamlNode, Pos, Value as YamlValue};

use super::lint;
use super::model::{Dialog, EmailTemplate, Keyword, Node, NodeIdx, normalise_keyword};
use super::nodes::{self, RawNode};
use super::template::{Template, is_variable_name};
use super::value::Value;

/// The default cap on node entries in one turn.
pub const DEFAULT_MAX_TRANSITIONS: u16 = 64;

/// What loading a file produced: a dialog when there were no errors, and every diagnostic.
#[derive(Debug)]
pub struct Loaded {
    pub dialog: Option<Dialog>,
    pub diagnostics: Vec<Diagnostic>,
}

/// A reference to a node by name, as written.
#[derive(Clone, Debug)]
pub struct Ref {
    pub name: String,
    pub pos: Pos,
}

/// Template text, as written.
#[derive(Clone, Debug)]
pub struct TextSrc {
    pub text: String,
    pub pos: Pos,
}

/// Parses and validates one dialog file.
pub fn load(source: &str) -> Loaded {
    let mut diagnostics = Diagnostics::default();
    let dialog = match yaml::parse(source) {
        Ok(tree) => read_dialog(&tree, source, &mut diagnostics),
        Err(error) => {
            diagnostics.push(
                Diagnostic::error(error.pos, format!("YAML syntax: {}", error.message)).with_hint(
                    "check indentation, quotes and that every `key:` has a space after the colon",
                ),
            );
            None
        }
    };
    let mut items = diagnostics.items;
    items.sort_by_key(|d| (d.pos, d.severity));
    let dialog = if items.iter().any(Diagnostic::is_error) {
        None
    } else {
        dialog
    };
    Loaded {
        dialog,
        diagnostics: items,
    }
}

const TOP_LEVEL_KEYS: &str =
    "id, version, title, start, keywords, context, settings, templates, nodes";

/// A dialog as read, before references are resolved.
struct RawDialog {
    id: Option<String>,
    id_pos: Pos,
    version: Option<u32>,
    title: Option<String>,
    start: Option<Ref>,
    keywords: Vec<RawKeyword>,
    defaults: Vec<(String, Value)>,
    max_transitions: u16,
    templates: BTreeMap<String, RawTemplate>,
    nodes: Vec<RawNode>,
}

fn read_dialog(tree: &YamlNode, source: &str, d: &mut Diagnostics) -> Option<Dialog> {
    let raw = read_raw(tree, d)?;
    let dialog = resolve(raw, source, d)?;
    lint::check(&dialog, d);
    Some(dialog)
}

fn read_raw(tree: &YamlNode, d: &mut Diagnostics) -> Option<RawDialog> {
    if tree.value == YamlValue::Null {
        d.push(
            Diagnostic::error(tree.pos, "the file is empty")
                .with_hint(format!("a dialog has the keys {TOP_LEVEL_KEYS}")),
        );
        return None;
    }
    let mut top = d.map(tree, "a dialog file")?;
    let id = read_id(&mut top, d);
    let version = match top.take("version") {
        Some(node) => d
            .integer(node, "`version`", 1, i64::from(u32::MAX))
            .and_then(|v| u32::try_from(v).ok()),
        None => {
            if top.lacks("version") {
                d.push(
                    Diagnostic::error(top.pos, "missing `version`")
                        .with_hint("add `version: 1`; raise it when you change the dialog"),
                );
            }
            None
        }
    };
    let title = top.take("title").and_then(|n| d.text(n, "`title`"));
    let start = top
        .take("start")
        .and_then(|n| d.string(n, "`start`").map(|name| Ref { name, pos: n.pos }));
    if start.is_none() && top.lacks("start") {
        d.push(
            Diagnostic::error(top.pos, "missing `start`")
                .with_hint("add `start: <node id>` naming the first node"),
        );
    }
    let keywords = top
        .take("keywords")
        .map(|n| read_keywords(n, d, "global `keywords`"))
        .unwrap_or_default();
    let defaults = top
        .take("context")
        .map(|n| read_defaults(n, d))
        .unwrap_or_default();
    let max_transitions = top
        .take("settings")
        .map_or(DEFAULT_MAX_TRANSITIONS, |n| read_settings(n, d));
    let templates = top
        .take("templates")
        .map(|n| read_templates(n, d))
        .unwrap_or_default();
    let nodes = match top.take("nodes") {
        Some(n) => read_nodes(n, d),
        None => {
            if top.lacks("nodes") {
                d.push(
                    Diagnostic::error(top.pos, "missing `nodes`")
                        .with_hint("add `nodes:` with at least one node"),
                );
            }
            Vec::new()
        }
    };
    top.finish(d, "the dialog");
    let id_pos = tree.get("id").map_or(tree.pos, |n| n.pos);
    Some(RawDialog {
        id,
        id_pos,
        version,
        title,
        start,
        keywords,
        defaults,
        max_transitions,
        templates,
        nodes,
    })
}

fn resolve(raw: RawDialog, source: &str, d: &mut Diagnostics) -> Option<Dialog> {
    let mut index = HashMap::new();
    for (i, node) in raw.nodes.iter().enumerate() {
        index.entry(node.id.clone()).or_insert(i);
    }
    let known_vars = known_variables(&raw.nodes, &raw.defaults);
    let sensitive_vars: BTreeSet<String> = raw
        .nodes
        .iter()
        .flat_map(|node| &node.sets)
        .filter(|var| var.sensitive)
        .map(|var| var.name.clone())
        .collect();
    let template_names: Vec<String> = raw.templates.keys().cloned().collect();
    let mut resolver = Resolver {
        index: &index,
        d,
        known_vars: &known_vars,
        sensitive_vars: &sensitive_vars,
        template_names: &template_names,
    };
    let start = raw.start.and_then(|r| resolver.node(&r, "`start`"));
    let keywords: Vec<Keyword> = raw
        .keywords
        .iter()
        .filter_map(|k| resolver.keyword(k))
        .collect();
    let templates = resolve_templates(raw.templates, &mut resolver);
    let nodes: Vec<Option<Node>> = raw
        .nodes
        .into_iter()
        .map(|node| {
            // A node with errors resolves to nothing; the dialog is not built then.
            let kind = node.kind?.resolve(&mut resolver, &node.id)?;
            Some(Node {
                id: node.id,
                pos: node.pos,
                kind,
            })
        })
        .collect();
    if d.has_errors() {
        return None;
    }
    Some(Dialog {
        id: raw.id?,
        id_pos: raw.id_pos,
        version: raw.version?,
        title: raw.title,
        start: start?,
        nodes: nodes.into_iter().collect::<Option<Vec<_>>>()?,
        index,
        keywords,
        templates,
        defaults: raw.defaults,
        max_transitions: raw.max_transitions,
        fingerprint: fingerprint(source),
        source: source.into(),
    })
}

fn read_id(top: &mut MapReader<'_>, d: &mut Diagnostics) -> Option<String> {
    let Some(node) = top.take("id") else {
        if top.lacks("id") {
            d.push(
                Diagnostic::error(top.pos, "missing `id`")
                    .with_hint("add `id: my_dialog` (letters, digits, `_` and `-`)"),
            );
        }
        return None;
    };
    let id = d.string(node, "`id`")?;
    if !is_identifier(&id) {
        d.push(
            Diagnostic::error(node.pos, format!("`{id}` is not a valid id"))
                .with_hint("use letters, digits, `_` and `-` only, up to 64 characters"),
        );
        return None;
    }
    Some(id)
}

pub(crate) fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn read_settings(node: &YamlNode, d: &mut Diagnostics) -> u16 {
    let Some(mut settings) = d.map(node, "`settings`") else {
        return DEFAULT_MAX_TRANSITIONS;
    };
    let max = settings
        .take("max_transitions_per_turn")
        .and_then(|n| d.integer(n, "`max_transitions_per_turn`", 1, 1000))
        .and_then(|v| u16::try_from(v).ok())
        .unwrap_or(DEFAULT_MAX_TRANSITIONS);
    settings.finish(d, "`settings`");
    max
}

fn read_defaults(node: &YamlNode, d: &mut Diagnostics) -> Vec<(String, Value)> {
    let Some(entries) = node.as_map() else {
        d.error(
            node.pos,
            format!(
                "`context` must be a mapping of variable names to values, found {}",
                node.value.kind()
            ),
        );
        return Vec::new();
    };
    let mut defaults = Vec::new();
    for (key, value) in entries {
        let Some(name) = d.string(key, "a variable name") else {
            continue;
        };
        if !is_variable_name(&name) {
            d.error(
                key.pos,
                format!("`{name}` is not a variable name (letters, digits, `_` and `.` only)"),
            );
            continue;
        }
        let value = match &value.value {
            YamlValue::Bool(b) => Value::Bool(*b),
            #[allow(clippy::cast_precision_loss)]
            YamlValue::Int(i) => Value::Number(*i as f64),
            YamlValue::Float(f) => Value::Number(*f),
            YamlValue::Str(s) => Value::Text(s.clone()),
            other => {
                d.error(
                    value.pos,
                    format!(
                        "context values must be text, numbers or booleans, found {}",
                        other.kind()
                    ),
                );
                continue;
            }
        };
        defaults.push((name, value));
    }
    defaults
}

struct RawTemplate {
    pos: Pos,
    subject: Option<TextSrc>,
    text: Option<TextSrc>,
    html: Option<TextSrc>,
    provider_template_id: Option<String>,
}

fn read_templates(node: &YamlNode, d: &mut Diagnostics) -> BTreeMap<String, RawTemplate> {
    let mut templates = BTreeMap::new();
    let Some(entries) = node.as_map() else {
        d.error(
            node.pos,
            format!(
                "`templates` must be a mapping of template names to emails, found {}",
                node.value.kind()
            ),
        );
        return templates;
    };
    for (key, value) in entries {
        let Some(name) = d.string(key, "a template name") else {
            continue;
        };
        let Some(mut map) = d.map(value, &format!("template `{name}`")) else {
            continue;
        };
        let text_of = |key: &'static str, map: &mut MapReader<'_>, d: &mut Diagnostics| {
            map.take(key).and_then(|n| {
                d.text(n, &format!("`{key}`"))
                    .map(|text| TextSrc { text, pos: n.pos })
            })
        };
        let raw = RawTemplate {
            pos: key.pos,
            subject: text_of("subject", &mut map, d),
            text: text_of("text", &mut map, d),
            html: text_of("html", &mut map, d),
            provider_template_id: map
                .take("sendgrid_template_id")
                .and_then(|n| d.string(n, "`sendgrid_template_id`")),
        };
        map.finish(d, &format!("template `{name}`"));
        if templates.contains_key(&name) {
            d.error(key.pos, format!("template `{name}` is defined twice"));
            continue;
        }
        templates.insert(name, raw);
    }
    templates
}

/// Variables an email template may use besides the context: set by `otp.send` for the email.
pub const EMAIL_VARIABLES: [&str; 3] = ["code", "email", "expires_in_minutes"];

fn resolve_templates(
    raw: BTreeMap<String, RawTemplate>,
    r: &mut Resolver<'_>,
) -> BTreeMap<String, EmailTemplate> {
    let mut templates = BTreeMap::new();
    for (name, t) in raw {
        let what = format!("template `{name}`");
        let (Some(subject), Some(text)) = (&t.subject, &t.text) else {
            r.d.push(
                Diagnostic::error(t.pos, format!("{what} needs a `subject` and a `text`"))
                    .with_hint("the plain-text part is required; `html` is optional"),
            );
            continue;
        };
        let subject = r.email_template(subject);
        let text = r.email_template(text);
        let html = t.html.as_ref().map(|h| r.email_template(h));
        if let (Some(subject), Some(text), Some(html)) =
            (subject, text, html.unwrap_or(Some(Template::literal(""))))
        {
            let html = t.html.is_some().then_some(html);
            templates.insert(
                name,
                EmailTemplate {
                    subject,
                    text,
                    html,
                    provider_template_id: t.provider_template_id,
                },
            );
        }
    }
    templates
}

fn read_nodes(node: &YamlNode, d: &mut Diagnostics) -> Vec<RawNode> {
    let Some(entries) = node.as_map() else {
        d.error(
            node.pos,
            format!(
                "`nodes` must be a mapping of node ids to nodes, found {}",
                node.value.kind()
            ),
        );
        return Vec::new();
    };
    if entries.is_empty() {
        d.push(
            Diagnostic::error(node.pos, "`nodes` is empty")
                .with_hint("a dialog needs at least one node"),
        );
    }
    let mut seen: HashMap<String, Pos> = HashMap::new();
    let mut raw_nodes = Vec::new();
    for (key, value) in entries {
        let Some(id) = d.string(key, "a node id") else {
            continue;
        };
        if !is_identifier(&id) {
            d.push(
                Diagnostic::error(key.pos, format!("`{id}` is not a valid node id"))
                    .with_hint("use letters, digits, `_` and `-` only"),
            );
            continue;
        }
        if let Some(first) = seen.get(&id) {
            d.push(
                Diagnostic::error(key.pos, format!("duplicate node id `{id}`")).with_hint(format!(
                    "`{id}` is first defined at {first}; rename one of them"
                )),
            );
            continue;
        }
        seen.insert(id.clone(), key.pos);
        let mut sets = Vec::new();
        let kind = nodes::read(value, &id, key.pos, d, &mut sets);
        raw_nodes.push(RawNode {
            id,
            pos: key.pos,
            kind,
            sets,
        });
    }
    raw_nodes
}

/// A keyword as written: words, target and options.
#[derive(Debug, Clone)]
pub struct RawKeyword {
    pub words: Vec<String>,
    pub target: Ref,
    pub reset: bool,
}

/// Reads `keywords:` — `word: node` or `word: { goto: node, also: [synonyms], reset: true }`.
pub fn read_keywords(node: &YamlNode, d: &mut Diagnostics, what: &str) -> Vec<RawKeyword> {
    let Some(entries) = node.as_map() else {
        d.push(
            Diagnostic::error(
                node.pos,
                format!(
                    "{what} must be a mapping of words to nodes, found {}",
                    node.value.kind()
                ),
            )
            .with_hint("write `resend: send_code`"),
        );
        return Vec::new();
    };
    let mut keywords = Vec::new();
    for (key, value) in entries {
        let Some(word) = d.text(key, "a keyword") else {
            continue;
        };
        let mut words = vec![normalise_keyword(&word).into_owned()];
        let keyword = if let Some(name) = value.as_str() {
            RawKeyword {
                words,
                target: Ref {
                    name: name.to_owned(),
                    pos: value.pos,
                },
                reset: false,
            }
        } else {
            let Some(mut map) = d.map(value, &format!("keyword `{word}`")) else {
                continue;
            };
            let target = map
                .take("goto")
                .and_then(|n| d.string(n, "`goto`").map(|name| Ref { name, pos: n.pos }));
            if let Some(also) = map.take("also") {
                words.extend(
                    d.texts(also, "a synonym")
                        .into_iter()
                        .map(|(_, w)| normalise_keyword(&w).into_owned()),
                );
            }
            let reset = map
                .take("reset")
                .and_then(|n| d.boolean(n, "`reset`"))
                .unwrap_or(false);
            let lacks_goto = map.lacks("goto");
            map.finish(d, &format!("keyword `{word}`"));
            let Some(target) = target else {
                if lacks_goto {
                    d.push(
                        Diagnostic::error(value.pos, format!("keyword `{word}` has no `goto`"))
                            .with_hint("add `goto: <node id>`"),
                    );
                }
                continue;
            };
            RawKeyword {
                words,
                target,
                reset,
            }
        };
        keywords.push(keyword);
    }
    keywords
}

fn known_variables(nodes: &[RawNode], defaults: &[(String, Value)]) -> BTreeSet<String> {
    let mut vars: BTreeSet<String> = defaults.iter().map(|(name, _)| name.clone()).collect();
    vars.extend(
        nodes
            .iter()
            .flat_map(|node| &node.sets)
            .map(|var| var.name.clone()),
    );
    vars
}

fn fingerprint(source: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    source.hash(&mut hasher);
    hasher.finish()
}

/// Turns names into indices and text into templates, reporting what does not resolve.
#[derive(Debug)]
pub struct Resolver<'a> {
    index: &'a HashMap<String, NodeIdx>,
    pub d: &'a mut Diagnostics,
    known_vars: &'a BTreeSet<String>,
    sensitive_vars: &'a BTreeSet<String>,
    template_names: &'a [String],
}

impl Resolver<'_> {
    /// Resolves a node reference. `what` names the field (`next`, `on_exhausted`…).
    pub fn node(&mut self, r: &Ref, what: &str) -> Option<NodeIdx> {
        if let Some(idx) = self.index.get(&r.name) {
            return Some(*idx);
        }
        // With no nodes at all (reported where `nodes` is, or is missing), every name would
        // be reported as unknown.
        if self.index.is_empty() {
            return None;
        }
        let diagnostic =
            Diagnostic::error(r.pos, format!("{what} points to unknown node `{}`", r.name));
        let diagnostic =
            match crate::diagnostic::did_you_mean(&r.name, self.index.keys().map(String::as_str)) {
                Some(best) => diagnostic.with_hint(format!("did you mean `{best}`?")),
                None => diagnostic.with_hint("define that node under `nodes:`, or fix the name"),
            };
        self.d.push(diagnostic);
        None
    }

    pub fn keyword(&mut self, raw: &RawKeyword) -> Option<Keyword> {
        let target = self.node(&raw.target, &format!("keyword `{}`", raw.words[0]))?;
        Some(Keyword {
            words: raw.words.clone(),
            target,
            reset: raw.reset,
        })
    }

    /// Compiles every message template of a list (reporting each problem); `None` if any has one.
    pub fn templates(&mut self, sources: &[TextSrc]) -> Option<Vec<Template>> {
        let templates: Vec<Option<Template>> = sources.iter().map(|s| self.template(s)).collect();
        templates.into_iter().collect()
    }

    /// Compiles a message template and checks its variables against the dialog's.
    pub fn template(&mut self, src: &TextSrc) -> Option<Template> {
        let template = self.compile(src)?;
        let mut ok = true;
        for var in template.variables() {
            if self.sensitive_vars.contains(var) {
                self.d.push(
                    Diagnostic::error(
                        src.pos,
                        format!("`{var}` holds a one-time code and cannot be shown in a message"),
                    )
                    .with_hint("codes never appear in replies, history or logs"),
                );
                ok = false;
            } else if !self.known_vars.contains(var) {
                self.unknown_variable(src.pos, var, &[]);
                ok = false;
            }
        }
        ok.then_some(template)
    }

    /// Like [`Resolver::template`], but may read sensitive variables: for parameters that
    /// never reach a reply (the code handed to `otp.verify`).
    pub fn secret_template(&mut self, src: &TextSrc) -> Option<Template> {
        let template = self.compile(src)?;
        let mut ok = true;
        for var in template.variables() {
            if !self.known_vars.contains(var) {
                self.unknown_variable(src.pos, var, &[]);
                ok = false;
            }
        }
        ok.then_some(template)
    }

    /// Like [`Resolver::template`], for email templates, which may also use [`EMAIL_VARIABLES`].
    fn email_template(&mut self, src: &TextSrc) -> Option<Template> {
        let template = self.compile(src)?;
        let mut ok = true;
        for var in template.variables() {
            if !self.known_vars.contains(var) && !EMAIL_VARIABLES.contains(&var) {
                self.unknown_variable(src.pos, var, &EMAIL_VARIABLES);
                ok = false;
            }
        }
        ok.then_some(template)
    }

    fn compile(&mut self, src: &TextSrc) -> Option<Template> {
        match Template::compile(&src.text) {
            Ok(template) => Some(template),
            Err(error) => {
                self.d.push(
                    Diagnostic::error(src.pos, format!("template: {}", error.message))
                        .with_hint("variables are written `{{ name }}`"),
                );
                None
            }
        }
    }

    fn unknown_variable(&mut self, pos: Pos, var: &str, extra: &[&str]) {
        let candidates: Vec<&str> = self
            .known_vars
            .iter()
            .map(String::as_str)
            .chain(extra.iter().copied())
            .collect();
        let diagnostic = Diagnostic::error(pos, format!("unknown variable `{var}` in template"));
        let diagnostic = match crate::diagnostic::did_you_mean(var, candidates.iter().copied()) {
            Some(best) => diagnostic.with_hint(format!("did you mean `{best}`?")),
            None if candidates.is_empty() => diagnostic
                .with_hint("no variables are set in this dialog; `ask` nodes and actions set them"),
            None => diagnostic.with_hint(format!(
                "variables set in this dialog: {}",
                candidates.join(", ")
            )),
        };
        self.d.push(diagnostic);
    }

    /// Whether a node sets the variable or `context:` gives it a default.
    pub fn is_set(&self, var: &str) -> bool {
        self.known_vars.contains(var)
    }

    /// Checks that a condition's variable is set somewhere in the dialog.
    pub fn variable(&mut self, var: &str, pos: Pos) -> bool {
        if self.known_vars.contains(var) {
            return true;
        }
        let candidates: Vec<&str> = self.known_vars.iter().map(String::as_str).collect();
        let diagnostic = Diagnostic::error(pos, format!("unknown variable `{var}` in condition"));
        self.d.push(diagnostic.suggest(var, candidates.iter().copied()).or_hint(|| {
            "no `ask` node or action sets it; declare it under `context:` to give it a default".to_owned()
        }));
        false
    }

    /// Checks that an email template of this name exists.
    pub fn email_template_name(&mut self, name: &str, pos: Pos) -> bool {
        if self.template_names.iter().any(|t| t == name) {
            return true;
        }
        let diagnostic = Diagnostic::error(pos, format!("unknown email template `{name}`"));
        let diagnostic = match crate::diagnostic::did_you_mean(
            name,
            self.template_names.iter().map(String::as_str),
        ) {
            Some(best) => diagnostic.with_hint(format!("did you mean `{best}`?")),
            None => diagnostic.with_hint("define it under `templates:` with a subject and a text"),
        };
        self.d.push(diagnostic);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flagship_dialog_loads_cleanly() {
        let source = include_str!("../../dialogs/otp_authentication.yaml");
        let loaded = load(source);
        assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
        let dialog = loaded.dialog.unwrap();
        assert_eq!(dialog.id, "otp_authentication");
        assert_eq!(dialog.node(dialog.start).id, "greet");
    }
}
