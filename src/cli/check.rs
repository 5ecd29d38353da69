//! `colloquy check [PATHS]`: every problem in every dialog, as `file:line:col: error: …`.

use std::path::{Path, PathBuf};

use crate::engine::registry::load_paths;

use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE, load_config};

pub fn run(paths: &[PathBuf], config: Option<&Path>) -> u8 {
    // The config says which services dialogs may call, so it is read even for given paths.
    let Some(config) = load_config(config) else {
        return EXIT_USAGE;
    };
    let paths = if paths.is_empty() {
        vec![config.dialogs.dir.clone()]
    } else {
        paths.to_vec()
    };
    let (registry, reports) = match load_paths(&paths, &config.load_env()) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_USAGE;
        }
    };
    if reports.is_empty() {
        eprintln!(
            "error: no dialog files (*.yaml, *.yml) under {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return EXIT_USAGE;
    }
    let mut errors = 0;
    let mut warnings = 0;
    for report in &reports {
        for diagnostic in &report.diagnostics {
            println!("{}", diagnostic.render(&report.file));
            if diagnostic.is_error() {
                errors += 1;
            } else {
                warnings += 1;
            }
        }
    }
    let files = reports.len();
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    if errors > 0 {
        println!(
            "{} in {}",
            plural(errors, "error"),
            plural(reports.iter().filter(|r| r.has_errors()).count(), "file")
        );
        return EXIT_FAILED;
    }
    let nodes: usize = registry.summaries().iter().map(|s| s.nodes).sum();
    let warned = if warnings > 0 {
        format!(", {}", plural(warnings, "warning"))
    } else {
        String::new()
    };
    println!(
        "ok: {} ({}, {}){warned}",
        plural(files, "file"),
        plural(registry.len(), "dialog"),
        plural(nodes, "node")
    );
    EXIT_OK
}
