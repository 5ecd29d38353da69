//! `colloquy graph [DIALOG|FILE]`: the dialog as a Mermaid or DOT graph, on stdout.

use std::path::{Path, PathBuf};

use crate::dialog::graph::{Format, render_with};
use crate::engine::registry::load_paths;

use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE, load_config};

pub fn run(
    target: Option<&str>,
    format: Format,
    counts: Option<&Path>,
    config: Option<&Path>,
) -> u8 {
    // Read first: a wrong path is a usage error before any dialog is loaded.
    let counts = match counts.map(std::fs::read_to_string).transpose() {
        Ok(counts) => counts,
        Err(error) => {
            eprintln!("error: cannot read the counts file: {error}");
            return EXIT_USAGE;
        }
    };
    // A path to a file draws that file; otherwise a dialog id from the configured directory.
    let file = target.map(PathBuf::from).filter(|p| p.is_file());
    let Some(config) = load_config(config) else {
        return EXIT_USAGE;
    };
    let (paths, id) = match file {
        Some(file) => (vec![file], None),
        None => {
            let id = target.map_or_else(|| config.dialogs.default.clone(), str::to_owned);
            (vec![config.dialogs.dir.clone()], Some(id))
        }
    };
    let (registry, reports) = match load_paths(&paths, &config.load_env()) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_USAGE;
        }
    };
    if reports
        .iter()
        .any(crate::diagnostic::FileDiagnostics::has_errors)
    {
        for report in reports.iter().filter(|r| r.has_errors()) {
            eprint!("{report}");
        }
        eprintln!("error: fix the dialog first (`colloquy check` lists the same problems)");
        return EXIT_FAILED;
    }
    let dialog = match &id {
        Some(id) => registry.latest(id),
        None => registry.ids().next().and_then(|id| registry.latest(id)),
    };
    let Some(dialog) = dialog else {
        let wanted = id.unwrap_or_default();
        eprintln!(
            "error: no dialog `{wanted}`; loaded: {}",
            registry.ids().collect::<Vec<_>>().join(", ")
        );
        return EXIT_USAGE;
    };
    let notes = counts
        .as_deref()
        .map(|text| super::counts::notes(dialog, text))
        .unwrap_or_default();
    print!("{}", render_with(dialog, format, &notes));
    EXIT_OK
}
