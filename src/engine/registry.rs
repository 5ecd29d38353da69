//! The loaded dialogs, every version that has been loaded, and how files become dialogs.
//!
//! Sessions finish on the dialog version they started on, so the registry keeps old versions
//! when a newer one is loaded.

use std::collections::{BTreeMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::diagnostic::{Diagnostic, FileDiagnostics};
use crate::dialog::locale::TranslationSource;
use crate::dialog::{Dialog, LoadEnv, load_translated};
use crate::yaml::Value as YamlValue;

/// Cloning is cheap and shares the dialogs (`Arc`): `colloquy test` gives each script an
/// engine of its own over one loaded set.
#[derive(Debug, Default, Clone)]
pub struct DialogRegistry {
    dialogs: BTreeMap<String, BTreeMap<u32, Arc<Dialog>>>,
    files: BTreeMap<String, PathBuf>,
}

/// What `GET /v1/dialogs` shows of a dialog.
#[derive(Debug, Clone, Serialize)]
pub struct DialogSummary {
    pub id: String,
    pub version: u32,
    /// Older versions still kept for sessions that started on them.
    pub older_versions: Vec<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub nodes: usize,
    pub file: String,
}

impl DialogRegistry {
    pub fn latest(&self, id: &str) -> Option<&Arc<Dialog>> {
        self.dialogs.get(id)?.values().next_back()
    }

    /// The dialog whose trigger phrase `text` mentions (the longest phrase wins); `None` when
    /// none does or two dialogs tie, so the default dialog starts.
    pub fn triggered_by(&self, text: &str) -> Option<&Arc<Dialog>> {
        let mut best: Option<(usize, &Arc<Dialog>)> = None;
        let mut tied = false;
        for dialog in self
            .dialogs
            .values()
            .filter_map(|versions| versions.values().next_back())
        {
            let Some(words) = crate::dialog::understand::longest_mention(text, &dialog.triggers)
            else {
                continue;
            };
            match best {
                Some((longest, _)) if words < longest => {}
                Some((longest, _)) if words == longest => tied = true,
                _ => {
                    best = Some((words, dialog));
                    tied = false;
                }
            }
        }
        if tied {
            None
        } else {
            best.map(|(_, dialog)| dialog)
        }
    }

    pub fn get(&self, id: &str, version: u32) -> Option<&Arc<Dialog>> {
        self.dialogs.get(id)?.get(&version)
    }

    pub fn len(&self) -> usize {
        self.dialogs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dialogs.is_empty()
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.dialogs.keys().map(String::as_str)
    }

    /// Adds a dialog. The same id and version with different content is refused: change
    /// the version when you change a dialog, so running sessions keep the one they began on.
    pub fn insert(&mut self, dialog: Dialog, file: &Path) -> Result<(), String> {
        let versions = self.dialogs.entry(dialog.id.clone()).or_default();
        if let Some(existing) = versions.get(&dialog.version)
            && existing.fingerprint != dialog.fingerprint
        {
            return Err(format!(
                "dialog `{}` version {} is already loaded with different content from {}",
                dialog.id,
                dialog.version,
                self.files
                    .get(&dialog.id)
                    .map_or_else(String::new, |f| f.display().to_string())
            ));
        }
        self.files.insert(dialog.id.clone(), file.to_owned());
        versions.insert(dialog.version, Arc::new(dialog));
        Ok(())
    }

    /// Adds a version restored from a shared store's archive for the sessions that started on
    /// it. A version loaded from a file wins, and the file shown for the dialog stays as it is.
    pub fn insert_archived(&mut self, dialog: Dialog) {
        self.dialogs
            .entry(dialog.id.clone())
            .or_default()
            .entry(dialog.version)
            .or_insert_with(|| Arc::new(dialog));
    }

    /// Adds what `loaded` holds to a copy of this registry: new dialogs and new versions join,
    /// old versions stay (sessions may still run on them). A version already loaded with other
    /// content is refused, with the reason, and the loaded one keeps serving.
    pub fn merged_with(&self, loaded: &DialogRegistry) -> (DialogRegistry, Vec<String>) {
        let mut merged = self.clone();
        let mut refused = Vec::new();
        for (id, versions) in &loaded.dialogs {
            for dialog in versions.values() {
                let file = loaded.files.get(id).cloned().unwrap_or_default();
                let entry = merged.dialogs.entry(id.clone()).or_default();
                match entry.get(&dialog.version) {
                    Some(existing) if existing.fingerprint != dialog.fingerprint => refused.push(format!(
                        "{}: dialog `{id}` version {} changed without a new version number; raise `version` so running sessions keep the one they started on",
                        file.display(),
                        dialog.version
                    )),
                    _ => {
                        entry.insert(dialog.version, dialog.clone());
                        merged.files.insert(id.clone(), file);
                    }
                }
            }
        }
        (merged, refused)
    }

    /// By dialog id, what its sessions are likely to repeat, for a store that compresses
    /// them: every distinct text of at least four characters in the latest version's YAML
    /// (prompts, messages, node ids, variable names), one per line. Each is what a
    /// compression of one session hashes whole, so it holds the texts once, not the file.
    pub fn dictionaries(&self) -> Vec<(String, Vec<u8>)> {
        self.dialogs
            .iter()
            .filter_map(|(id, versions)| {
                let latest = versions.values().next_back()?;
                Some((id.clone(), texts_of(&latest.source)))
            })
            .collect()
    }

    pub fn summaries(&self) -> Vec<DialogSummary> {
        self.dialogs
            .iter()
            .filter_map(|(id, versions)| {
                let latest = versions.values().next_back()?;
                Some(DialogSummary {
                    id: id.clone(),
                    version: latest.version,
                    older_versions: versions
                        .keys()
                        .copied()
                        .filter(|v| *v != latest.version)
                        .collect(),
                    title: latest.title.clone(),
                    nodes: latest.nodes.len(),
                    file: self
                        .files
                        .get(id)
                        .map(|f| f.display().to_string())
                        .unwrap_or_default(),
                })
            })
            .collect()
    }
}

/// The distinct strings of at least four bytes in `yaml` (keys too), in order, one per line;
/// nothing when it does not parse (it did, to be loaded).
fn texts_of(yaml: &str) -> Vec<u8> {
    fn walk<'a>(
        node: &'a crate::yaml::Node,
        texts: &mut Vec<&'a str>,
        seen: &mut HashSet<&'a str>,
    ) {
        match &node.value {
            YamlValue::Str(text) if text.len() >= 4 && seen.insert(text) => texts.push(text),
            YamlValue::Seq(items) => items.iter().for_each(|item| walk(item, texts, seen)),
            YamlValue::Map(entries) => entries.iter().for_each(|(key, value)| {
                walk(key, texts, seen);
                walk(value, texts, seen);
            }),
            _ => {}
        }
    }
    let Ok(root) = crate::yaml::parse(yaml) else {
        return Vec::new();
    };
    let mut texts = Vec::new();
    walk(&root, &mut texts, &mut HashSet::new());
    texts.join("\n").into_bytes()
}

/// The dialog files named by `paths`: files as given, directories expanded to their
/// `*.yaml` / `*.yml` files in name order.
pub fn dialog_files(paths: &[PathBuf]) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        let metadata = std::fs::metadata(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        if metadata.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// The translation files beside a dialog file `dir/booking.yaml`: `dir/booking.<locale>.ftl`,
/// as `(locale, path, source)`.
fn translation_files(dialog: &Path) -> io::Result<Vec<(String, PathBuf, String)>> {
    let (Some(dir), Some(stem)) = (dialog.parent(), dialog.file_stem().and_then(|s| s.to_str()))
    else {
        return Ok(Vec::new());
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = format!("{stem}.");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(locale) = name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".ftl"))
        else {
            continue;
        };
        if locale.is_empty() || locale.contains('.') {
            continue;
        }
        let source = std::fs::read_to_string(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        found.push((locale.to_owned(), path, source));
    }
    found.sort();
    Ok(found)
}

/// Loads every dialog under `paths`. Returns the registry of the valid ones and the
/// diagnostics of every file (empty for clean files). I/O errors end the load.
pub fn load_paths(
    paths: &[PathBuf],
    env: &LoadEnv,
) -> io::Result<(DialogRegistry, Vec<FileDiagnostics>)> {
    let mut registry = DialogRegistry::default();
    let mut reports = Vec::new();
    let mut seen_ids: BTreeMap<String, PathBuf> = BTreeMap::new();
    // Valid on their own, with the index of their report: checked together before they go in.
    let mut valid: Vec<(usize, Dialog)> = Vec::new();
    for file in dialog_files(paths)? {
        let source = std::fs::read_to_string(&file)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", file.display())))?;
        let translation_files = translation_files(&file)?;
        let translations: Vec<TranslationSource> = translation_files
            .iter()
            .map(|(locale, _, source)| TranslationSource {
                locale: locale.clone(),
                source: source.clone(),
            })
            .collect();
        let loaded = load_translated(&source, env, &translations);
        for (locale, path, _) in translation_files {
            let diagnostics = loaded
                .translation_diagnostics
                .get(&locale)
                .cloned()
                .unwrap_or_default();
            reports.push(FileDiagnostics {
                file: path,
                diagnostics,
            });
        }
        let mut diagnostics = loaded.diagnostics;
        if let Some(dialog) = loaded.dialog {
            if let Some(first) = seen_ids.get(&dialog.id) {
                diagnostics.push(
                    Diagnostic::error(
                        dialog.id_pos,
                        format!(
                            "dialog id `{}` is also used by {}",
                            dialog.id,
                            first.display()
                        ),
                    )
                    .with_hint("every dialog needs its own id"),
                );
            } else {
                seen_ids.insert(dialog.id.clone(), file.clone());
                valid.push((reports.len(), dialog));
            }
        }
        reports.push(FileDiagnostics { file, diagnostics });
    }
    let dialogs: Vec<&Dialog> = valid.iter().map(|(_, d)| d).collect();
    let mut refused = vec![false; valid.len()];
    for (i, diagnostic) in crate::dialog::calls::check(&dialogs) {
        refused[i] |= diagnostic.is_error();
        reports[valid[i].0].diagnostics.push(diagnostic);
    }
    for ((report, dialog), refused) in valid.into_iter().zip(refused) {
        reports[report]
            .diagnostics
            .sort_by_key(|d| (d.pos, d.severity));
        if !refused {
            registry
                .insert(dialog, &reports[report].file)
                .map_err(io::Error::other)?;
        }
    }
    Ok((registry, reports))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_dictionary_holds_each_text_of_the_yaml_once_and_no_comment() {
        let yaml = "# a comment no one reads\n\
                    id: greeting\n\
                    nodes:\n  start:\n    say: Hello there\n    next: done\n  \
                    done:\n    say: Hello there\n    end: done\n";
        let dictionary = String::from_utf8(super::texts_of(yaml)).unwrap();
        assert_eq!(
            dictionary,
            "greeting\nnodes\nstart\nHello there\nnext\ndone"
        );
        assert!(super::texts_of("a: [unclosed").is_empty());
    }
}
