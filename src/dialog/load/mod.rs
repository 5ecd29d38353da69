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

mod keywords;
mod resolver;
mod templates;

pub use keywords::{RawKeyword, read_keywords};
pub use resolver::{Ref, Resolver, TextSrc};

use super::actions::understand::RawUnderstand;
pub use templates::EMAIL_VARIABLES;

use super::lint;
use super::locale::{self, TranslationSource};
use super::model::{Dialog, Keyword, Node};
use super::nodes::{self, RawNode};
use super::template::is_variable_name;
use super::value::Value;
use templates::{RawTemplate, read_templates, resolve_templates};

/// The default cap on node entries in one turn.
pub const DEFAULT_MAX_TRANSITIONS: u16 = 64;

/// What loading a file produced: a dialog when there were no errors, and every diagnostic.
#[derive(Debug)]
pub struct Loaded {
    pub dialog: Option<Dialog>,
    pub diagnostics: Vec<Diagnostic>,
    /// The problems of each translation file, by locale (positions are in that file).
    pub translation_diagnostics: BTreeMap<String, Vec<Diagnostic>>,
}

/// What a dialog may name outside itself, from the configuration: a dialog calling a service
/// the server does not know is refused when it loads, not when a user reaches the call.
#[derive(Clone, Debug, Default)]
pub struct LoadEnv {
    /// The services `http.request` may call (`services:` in the config).
    pub services: BTreeSet<String>,
}

/// Parses and validates one dialog file that names nothing outside itself.
pub fn load(source: &str) -> Loaded {
    load_with(source, &LoadEnv::default())
}

/// Parses and validates one dialog file against what the configuration provides.
pub fn load_with(source: &str, env: &LoadEnv) -> Loaded {
    load_translated(source, env, &[])
}

/// Loads a dialog version kept without its translation files (a shared store's archive): it
/// speaks its default language only, and its declared locales are not checked.
pub fn load_untranslated(source: &str, env: &LoadEnv) -> Loaded {
    load_inner(source, env, None)
}

/// Parses and validates one dialog file and its translation files.
pub fn load_translated(source: &str, env: &LoadEnv, translations: &[TranslationSource]) -> Loaded {
    load_inner(source, env, Some(translations))
}

fn load_inner(source: &str, env: &LoadEnv, translations: Option<&[TranslationSource]>) -> Loaded {
    let mut diagnostics = Diagnostics::default();
    let mut translation_diagnostics = BTreeMap::new();
    let dialog = match yaml::parse(source) {
        Ok(tree) => read_dialog(
            &tree,
            source,
            env,
            translations,
            &mut diagnostics,
            &mut translation_diagnostics,
        ),
        Err(error) => {
            diagnostics.push(
                Diagnostic::error(error.pos, format!("YAML syntax: {}", error.message))
                    .with_hint(error.hint.unwrap_or(crate::yaml::SYNTAX_HINT)),
            );
            None
        }
    };
    let mut items = diagnostics.items;
    items.sort_by_key(|d| (d.pos, d.severity));
    let translations_fail = translation_diagnostics
        .values()
        .flatten()
        .any(Diagnostic::is_error);
    let dialog = if items.iter().any(Diagnostic::is_error) || translations_fail {
        None
    } else {
        dialog
    };
    Loaded {
        dialog,
        diagnostics: items,
        translation_diagnostics,
    }
}

const TOP_LEVEL_KEYS: &str = "id, version, title, locales, triggers, start, keywords, fallback, understand, context, settings, templates, nodes";

/// A dialog as read, before references are resolved.
struct RawDialog {
    id: Option<String>,
    id_pos: Pos,
    version: Option<u32>,
    title: Option<String>,
    /// `locales:` as written (the default first).
    locales: Vec<(String, Pos)>,
    /// Phrases that start this dialog for a new session naming none, normalised.
    triggers: Vec<String>,
    start: Option<Ref>,
    keywords: Vec<RawKeyword>,
    /// Said at any question when a message is not understood (and the question has none).
    fallback: Vec<TextSrc>,
    understand: Option<RawUnderstand>,
    defaults: Vec<(String, Value)>,
    max_transitions: u16,
    templates: BTreeMap<String, RawTemplate>,
    nodes: Vec<RawNode>,
}

fn read_dialog(
    tree: &YamlNode,
    source: &str,
    env: &LoadEnv,
    translations: Option<&[TranslationSource]>,
    d: &mut Diagnostics,
    translation_diagnostics: &mut BTreeMap<String, Vec<Diagnostic>>,
) -> Option<Dialog> {
    let raw = read_raw(tree, d)?;
    let dialog = resolve(raw, source, env, translations, d, translation_diagnostics)?;
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
    let locales = top
        .take("locales")
        .map(|n| {
            d.texts(n, "`locales`")
                .into_iter()
                .map(|(pos, tag)| (tag, pos))
                .collect()
        })
        .unwrap_or_default();
    let triggers = top
        .take("triggers")
        .map(|n| read_triggers(n, d))
        .unwrap_or_default();
    let start = top.take("start").and_then(|n| Ref::read(d, n, "`start`"));
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
    let fallback = top
        .take("fallback")
        .map(|n| text_sources(d, n, "`fallback`"))
        .unwrap_or_default();
    let understand = top
        .take("understand")
        .and_then(|n| super::actions::understand::read(n, d));
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
        locales,
        triggers,
        start,
        keywords,
        fallback,
        understand,
        defaults,
        max_transitions,
        templates,
        nodes,
    })
}

fn resolve(
    raw: RawDialog,
    source: &str,
    env: &LoadEnv,
    translation_files: Option<&[TranslationSource]>,
    d: &mut Diagnostics,
    translation_diagnostics: &mut BTreeMap<String, Vec<Diagnostic>>,
) -> Option<Dialog> {
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
        env,
        email_templates: BTreeMap::new(),
        message_ids: Vec::new(),
    };
    let start = raw.start.and_then(|r| resolver.node(&r, "`start`"));
    let keywords: Vec<Keyword> = raw
        .keywords
        .iter()
        .filter_map(|k| resolver.keyword(k))
        .collect();
    let fallback = resolver.messages(&raw.fallback, "fallback");
    let understand = raw.understand.and_then(|raw| {
        resolver
            .service(&raw.understand.service, raw.service_pos)
            .then_some(raw.understand)
    });
    resolver.email_templates = resolve_templates(raw.templates, &mut resolver);
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
    let templates = resolver.email_templates;
    let message_ids = resolver.message_ids;
    // Without its files, the dialog keeps its default locale only (nothing to check).
    let declared: &[(String, Pos)] = match translation_files {
        Some(_) => &raw.locales,
        None => raw.locales.get(..1).unwrap_or_default(),
    };
    let translation_files = translation_files.unwrap_or_default();
    let built = locale::build(
        &locale::Texts {
            declared,
            ids: &message_ids,
            variables: &known_vars,
            sensitive: &sensitive_vars,
            email_variables: &EMAIL_VARIABLES,
        },
        translation_files,
    );
    for problem in built.problems {
        d.push(problem);
    }
    *translation_diagnostics = built.file_problems;
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
        fallback: fallback?,
        understand,
        templates,
        defaults: raw.defaults,
        variables: known_vars,
        translations: built.translations,
        triggers: raw.triggers,
        max_transitions: raw.max_transitions,
        fingerprint: fingerprint(source),
        source: source.into(),
        translation_sources: translation_files.into(),
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

/// One text or a list of texts people read, each with its position.
fn text_sources(d: &mut Diagnostics, node: &YamlNode, what: &str) -> Vec<TextSrc> {
    d.texts(node, what)
        .into_iter()
        .map(|(pos, text)| TextSrc { text, pos })
        .collect()
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

/// A variable name written at `node` (a `context:` or `set:` key), reported when it is none.
pub fn read_variable_name(d: &mut Diagnostics, node: &YamlNode) -> Option<String> {
    let name = d.string(node, "a variable name")?;
    if !is_variable_name(&name) {
        d.error(
            node.pos,
            format!("`{name}` is not a variable name (letters, digits, `_` and `.` only)"),
        );
        return None;
    }
    Some(name)
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
        let Some(name) = read_variable_name(d, key) else {
            continue;
        };
        let Some(parsed) = Value::from_yaml(&value.value) else {
            d.error(
                value.pos,
                format!(
                    "context values must be text, numbers or booleans, found {}",
                    value.value.kind()
                ),
            );
            continue;
        };
        defaults.push((name, parsed));
    }
    defaults
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

/// `triggers:`: phrases, normalised like keywords.
fn read_triggers(node: &YamlNode, d: &mut Diagnostics) -> Vec<String> {
    let mut triggers: Vec<String> = Vec::new();
    for (pos, text) in d.texts(node, "a trigger phrase") {
        let phrase = super::model::normalise_keyword(&text).into_owned();
        if phrase.is_empty() {
            d.error(pos, "a trigger needs letters or digits");
        } else if !triggers.contains(&phrase) {
            triggers.push(phrase);
        }
    }
    triggers
}

/// The dialog's YAML, which tells two files claiming one version apart. Translations are
/// left out: a version restored from a shared store's archive (the YAML only) is the same
/// version as the file it came from.
fn fingerprint(source: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    source.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flagship_dialog_loads_cleanly() {
        let source = include_str!("../../../dialogs/otp_authentication.yaml");
        let loaded = load_translated(
            source,
            &LoadEnv::default(),
            &super::super::locale::flagship_translations(),
        );
        assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
        let dialog = loaded.dialog.unwrap();
        assert_eq!(dialog.id, "otp_authentication");
        assert_eq!(dialog.node(dialog.start).id, "greet");
    }
}
