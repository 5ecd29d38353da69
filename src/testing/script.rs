//! Script files: YAML → validated [`Script`]s, read through the same spanned tree and
//! diagnostics as dialogs, so a malformed script is reported as `file:line:col: error: …` with
//! every problem at once.
//!
//! ```yaml
//! dialog: otp_authentication       # the default for the scripts below
//! tags: [otp]                      # added to every script of the file
//! vars: { email: "alice+{{ run }}@example.com" }   # every script's, before its own
//! scripts:
//!   - name: happy path
//!     tags: [smoke]
//!     settings: { otp: { length: 6 }, fail_for: ["*@bounce.test"] }
//!     services: { bookings: [ { path: /slots, body: { slots: [] } } ] }   # see `services.rs`
//!     vars: { email: alice@example.com }
//!     steps:
//!       - user: hi
//!       - ...
//! ```

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diagnostic::{Diagnostic, FileDiagnostics};
use crate::dialog::template::Template;
use crate::engine::DialogRegistry;
use crate::engine::registry::dialog_files;
use crate::reader::{Diagnostics, MapReader};
use crate::yaml::{self, Node, Pos, Value};

use super::services::{ServiceAnswers, read_services};
use super::settings::{Settings, read_settings};
use super::steps::{Step, StepKind, read_steps};
use super::vars::{Scope, read_vars};

/// One scripted conversation.
#[derive(Debug, Clone)]
pub struct Script {
    pub file: PathBuf,
    pub name: String,
    /// Where the script's list item starts.
    pub pos: Pos,
    pub dialog: String,
    pub dialog_pos: Pos,
    /// The language the script's user speaks (`locale` on every message), the file's unless
    /// the script gives its own.
    pub locale: Option<String>,
    pub tags: Vec<String>,
    pub settings: Settings,
    /// Answers for the services the dialog calls: the file's, with the script's own replacing
    /// them service by service.
    pub services: ServiceAnswers,
    /// The file's `vars:` then the script's, rendered in order when the script starts (each
    /// may use the ones before it, and the built-in `run`).
    pub vars: Vec<(String, Template)>,
    pub steps: Vec<Step>,
}

impl Script {
    /// `file:line`, how results name a script.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file.display(), self.pos.line)
    }

    /// The first step of a kind, if any.
    pub fn first_step(&self, kind: &str) -> Option<&Step> {
        self.steps.iter().find(|step| step.kind.name() == kind)
    }
}

/// The scripts of one file and the problems found in it. A file with errors is not run; its
/// scripts that could be read are kept so that [`check_against`] can report more at once.
#[derive(Debug)]
pub struct ScriptFile {
    pub path: PathBuf,
    pub scripts: Vec<Arc<Script>>,
    /// The file's `dialog:`, the default of its scripts.
    pub default_dialog: Option<(String, Pos)>,
    pub diagnostics: Vec<Diagnostic>,
}

impl ScriptFile {
    pub fn report(&self) -> FileDiagnostics {
        FileDiagnostics {
            file: self.path.clone(),
            diagnostics: self.diagnostics.clone(),
        }
    }

    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Reads every script file under `paths` (directories expand to their `*.yaml`/`*.yml`).
pub fn read_files(paths: &[PathBuf]) -> io::Result<Vec<ScriptFile>> {
    dialog_files(paths)?
        .into_iter()
        .map(|path| {
            let source = std::fs::read_to_string(&path)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
            Ok(parse(&path, &source))
        })
        .collect()
}

/// Parses one script file. Scripts with errors are left out; their problems are reported.
pub fn parse(path: &Path, source: &str) -> ScriptFile {
    let mut d = Diagnostics::default();
    let (default_dialog, scripts) = match yaml::parse(source) {
        Ok(root) => read_file(&root, path, source, &mut d),
        Err(error) => {
            let diagnostic = crate::diagnostic::Diagnostic::error(
                error.pos,
                format!("YAML syntax: {}", error.message),
            );
            d.push(match error.hint {
                Some(hint) => diagnostic.with_hint(hint),
                None => diagnostic,
            });
            (None, Vec::new())
        }
    };
    ScriptFile {
        path: path.to_owned(),
        scripts,
        default_dialog,
        diagnostics: d.items,
    }
}

/// The file's default dialog and its scripts.
type FileContent = (Option<(String, Pos)>, Vec<Arc<Script>>);

fn read_file(root: &Node, path: &Path, source: &str, d: &mut Diagnostics) -> FileContent {
    if root.as_map().is_none() {
        d.push(
            Diagnostic::error(
                root.pos,
                format!(
                    "a script file must be a mapping, found {}",
                    root.value.kind()
                ),
            )
            .with_hint(
                "start with `scripts:` and a list of scripts, each with a `name` and `steps`",
            ),
        );
        return (None, Vec::new());
    }
    let Some(mut map) = d.map(root, "the script file") else {
        return (None, Vec::new());
    };
    let dialog = map
        .take("dialog")
        .and_then(|n| d.string(n, "`dialog`").map(|s| (s, n.pos)));
    let tags = map
        .take("tags")
        .map(|n| read_tags(n, d))
        .unwrap_or_default();
    let mut scope = Scope::with_builtins();
    let vars = map
        .take("vars")
        .and_then(|n| read_vars(n, d, &mut scope))
        .unwrap_or_default();
    let services = map
        .take("services")
        .map(|n| read_services(n, d))
        .unwrap_or_default();
    let locale = map.take("locale").and_then(|n| read_locale(n, d));
    let items = script_items(&mut map, d);
    map.finish(d, "the script file");
    let defaults = FileDefaults {
        path,
        source,
        dialog: dialog.clone(),
        tags,
        vars,
        services,
        locale,
        scope,
    };
    let scripts = read_scripts(items, &defaults, d);
    (dialog, scripts)
}

/// The items of the file's `scripts:` list (none, reported, when it is missing or not a list).
fn script_items<'n>(map: &mut MapReader<'n>, d: &mut Diagnostics) -> &'n [Node] {
    match map.take("scripts") {
        Some(node) => match &node.value {
            Value::Seq(items) if !items.is_empty() => items.as_slice(),
            Value::Seq(_) => {
                d.error(node.pos, "`scripts` is empty");
                &[]
            }
            _ => {
                d.error(
                    node.pos,
                    format!("`scripts` must be a list, found {}", node.value.kind()),
                );
                &[]
            }
        },
        None => {
            if map.lacks("scripts") {
                d.error(map.pos, "the file has no `scripts:` list");
            }
            &[]
        }
    }
}

/// Reads each script; names must be unique within the file.
fn read_scripts(
    items: &[Node],
    defaults: &FileDefaults<'_>,
    d: &mut Diagnostics,
) -> Vec<Arc<Script>> {
    let mut names: Vec<(String, Pos)> = Vec::new();
    let mut scripts = Vec::new();
    for item in items {
        let before = d.items.len();
        let script = read_script(item, defaults, d);
        if script.is_none() && d.items.len() == before {
            // Never drop a script silently: it would simply not run.
            d.error(item.pos, "this script could not be read");
        }
        let Some(script) = script else {
            continue;
        };
        if let Some((_, first)) = names.iter().find(|(name, _)| *name == script.name) {
            d.error(
                item.pos,
                format!(
                    "a script named `{}` is already at line {}",
                    script.name, first.line
                ),
            );
            continue;
        }
        names.push((script.name.clone(), item.pos));
        scripts.push(Arc::new(script));
    }
    scripts
}

/// `locale: fr`: a language tag.
fn read_locale(node: &Node, d: &mut Diagnostics) -> Option<String> {
    let tag = d.string(node, "`locale`")?;
    if crate::dialog::locale::is_locale(&tag) {
        Some(tag)
    } else {
        d.error(
            node.pos,
            format!("`{tag}` is not a language tag such as `en`, `fr` or `pt-BR`"),
        );
        None
    }
}

/// What a file gives each of its scripts.
struct FileDefaults<'a> {
    path: &'a Path,
    source: &'a str,
    dialog: Option<(String, Pos)>,
    tags: Vec<String>,
    vars: Vec<(String, Template)>,
    services: ServiceAnswers,
    locale: Option<String>,
    /// The variables the file's `vars:` define (and the built-in ones).
    scope: Scope,
}

fn read_script(item: &Node, defaults: &FileDefaults<'_>, d: &mut Diagnostics) -> Option<Script> {
    let mut map = d.map(item, "a script")?;
    let name = match map.take("name") {
        Some(node) => d
            .text(node, "`name`")
            .filter(|name| !name.trim().is_empty()),
        None => {
            if map.lacks("name") {
                d.error(item.pos, "a script needs a `name`");
            }
            None
        }
    };
    let dialog = match map.take("dialog") {
        Some(node) => d.string(node, "`dialog`").map(|s| (s, node.pos)),
        None => {
            if defaults.dialog.is_none() && map.lacks("dialog") {
                d.push(
                    Diagnostic::error(item.pos, "the script names no dialog").with_hint(
                        "add `dialog: <id>` to the script, or once at the top of the file",
                    ),
                );
            }
            defaults.dialog.clone()
        }
    };
    let mut tags = defaults.tags.clone();
    if let Some(node) = map.take("tags") {
        tags.extend(read_tags(node, d));
    }
    tags.sort();
    tags.dedup();
    let settings = map
        .take("settings")
        .map_or(Some(Settings::default()), |n| read_settings(n, d));
    let locale = match map.take("locale") {
        Some(node) => read_locale(node, d),
        None => defaults.locale.clone(),
    };
    let mut services = defaults.services.clone();
    if let Some(node) = map.take("services") {
        services.extend(read_services(node, d));
    }
    let mut scope = defaults.scope.clone();
    let vars = map
        .take("vars")
        .map_or(Some(Vec::new()), |n| read_vars(n, d, &mut scope))
        .map(|own| defaults.vars.iter().cloned().chain(own).collect::<Vec<_>>());
    let steps = read_steps_of(&mut map, item, defaults.source, d, &mut scope);
    map.finish(d, "a script");
    let (dialog, dialog_pos) = dialog?;
    Some(Script {
        file: defaults.path.to_owned(),
        name: name?,
        pos: item.pos,
        dialog,
        dialog_pos,
        locale,
        tags,
        settings: settings?,
        services,
        vars: vars?,
        steps: steps?,
    })
}

fn read_steps_of(
    map: &mut MapReader<'_>,
    item: &Node,
    source: &str,
    d: &mut Diagnostics,
    scope: &mut Scope,
) -> Option<Vec<Step>> {
    match map.take("steps") {
        Some(node) => Some(read_steps(node, source, d, scope)),
        None => {
            if map.lacks("steps") {
                d.error(item.pos, "a script needs `steps`");
            }
            None
        }
    }
}

fn read_tags(node: &Node, d: &mut Diagnostics) -> Vec<String> {
    d.texts(node, "a tag")
        .into_iter()
        .filter_map(|(pos, tag)| {
            let ok = !tag.is_empty() && !tag.contains(char::is_whitespace) && !tag.starts_with('!');
            if !ok {
                d.error(pos, format!("`{tag}` is not a tag (a word without spaces)"));
            }
            ok.then_some(tag)
        })
        .collect()
}

/// Checks what only the loaded dialogs can tell: that each script's dialog exists and that
/// `expect.node` names one of its nodes. Problems are added to the file's diagnostics.
pub fn check_against(file: &mut ScriptFile, registry: &DialogRegistry) {
    let mut problems = Vec::new();
    let unknown = |name: &str, pos: Pos| {
        Diagnostic::error(pos, format!("unknown dialog `{name}`"))
            .suggest(name, registry.ids())
            .or_hint(|| {
                format!(
                    "loaded dialogs: {}",
                    registry.ids().collect::<Vec<_>>().join(", ")
                )
            })
    };
    if let Some((name, pos)) = &file.default_dialog
        && registry.latest(name).is_none()
    {
        problems.push(unknown(name, *pos));
    }
    for script in &file.scripts {
        let Some(dialog) = registry.latest(&script.dialog) else {
            problems.push(unknown(&script.dialog, script.dialog_pos));
            continue;
        };
        for step in &script.steps {
            let StepKind::Expect(check) = &step.kind else {
                continue;
            };
            if let Some((node, pos)) = &check.node
                && dialog.node_index(node).is_none()
            {
                problems.push(
                    Diagnostic::error(*pos, format!("dialog `{}` has no node `{node}`", dialog.id))
                        .suggest(node, dialog.nodes.iter().map(|n| n.id.as_str())),
                );
            }
        }
    }
    problems.sort_by_key(|p| p.pos);
    problems.dedup();
    if !problems.is_empty() {
        file.diagnostics.extend(problems);
        file.diagnostics.sort_by_key(|p| p.pos);
        file.scripts.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_inherit_the_file_defaults_and_keep_their_steps_as_written() {
        let source = "\
dialog: d
tags: [otp]
vars: { email: 'a+{{ run }}@x.io' }
scripts:
  - name: one
    tags: [smoke]
    vars: { other: '{{ email }}' }
    steps:
      - user: hi
      - bot: { contains: hello }
  - name: two
    dialog: e
    steps:
      - user: hi
";
        let file = parse(Path::new("f.yaml"), source);
        assert!(file.diagnostics.is_empty(), "{:?}", file.diagnostics);
        assert_eq!(file.default_dialog, Some(("d".to_owned(), Pos::new(1, 9))));
        let one = &file.scripts[0];
        assert_eq!((one.dialog.as_str(), one.pos), ("d", Pos::new(5, 5)));
        assert_eq!(one.tags, ["otp", "smoke"]);
        let vars: Vec<&str> = one.vars.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(vars, ["email", "other"]);
        assert_eq!(one.steps[1].source, "bot: { contains: hello }");
        assert_eq!(one.steps[1].pos, Pos::new(10, 9));
        assert_eq!(one.location(), "f.yaml:5");
        assert_eq!(file.scripts[1].dialog, "e");
        assert_eq!(file.scripts[1].tags, ["otp"]);
    }
}
