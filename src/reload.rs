//! Reloading dialogs without a restart: on SIGHUP, and (with `serve --watch`) whenever a file
//! in the dialogs directory changes. A reload adds new dialogs and versions and keeps the old
//! ones (sessions finish on the version they started on); a file with errors, or a version
//! whose content changed without a new number, keeps the previous version serving, and its
//! problems are logged and shown by `GET /v1/dialogs`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::engine::Engine;
use crate::engine::registry::load_paths;

/// Reloads `dir` into `engine`; returns the problems (empty when clean).
pub fn reload(engine: &Engine, dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    match load_paths(&[dir.to_path_buf()], engine.load_env()) {
        Ok((loaded, reports)) => {
            for report in &reports {
                problems.extend(
                    report
                        .diagnostics
                        .iter()
                        .filter(|d| d.is_error())
                        .map(|d| d.render(&report.file)),
                );
            }
            problems.extend(engine.reload(&loaded));
            let now: Vec<String> = engine
                .dialogs()
                .summaries()
                .iter()
                .map(|d| format!("{} v{}", d.id, d.version))
                .collect();
            if problems.is_empty() {
                tracing::info!(dialogs = %now.join(", "), "dialogs reloaded");
            } else {
                for problem in &problems {
                    tracing::warn!(problem = %problem, "dialog reload: kept the previous version");
                }
            }
        }
        Err(error) => {
            problems.push(format!("cannot read the dialogs: {error}"));
            tracing::warn!(%error, "dialog reload failed; the loaded dialogs keep serving");
        }
    }
    engine.set_load_problems(problems.clone());
    problems
}

/// Reloads on every SIGHUP, until the process ends.
#[cfg(unix)]
pub async fn on_hangup(engine: Arc<Engine>, dir: PathBuf) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; reload by restarting");
        return;
    };
    while hangups.recv().await.is_some() {
        tracing::info!("SIGHUP: reloading dialogs");
        reload(&engine, &dir);
    }
}

#[cfg(not(unix))]
pub async fn on_hangup(_engine: Arc<Engine>, _dir: PathBuf) {}

/// Editors write a file in several steps (truncate, write, rename): wait for them to settle.
const SETTLE: Duration = Duration::from_millis(250);

/// Reloads whenever a file in `dir` changes. The directory, not the files, is watched, so
/// editors that save by renaming a new file over the old one are seen too.
pub async fn watch(engine: Arc<Engine>, dir: PathBuf) {
    let (notify_change, mut changes) = mpsc::unbounded_channel::<()>();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| e.kind.is_create() || e.kind.is_modify() || e.kind.is_remove()) {
            let _ = notify_change.send(());
        }
    });
    let mut watcher = match watcher {
        Ok(watcher) => watcher,
        Err(error) => {
            tracing::warn!(%error, "cannot watch the dialogs directory; reload with SIGHUP");
            return;
        }
    };
    if let Err(error) = watcher.watch(&dir, RecursiveMode::NonRecursive) {
        tracing::warn!(%error, dir = %dir.display(), "cannot watch the dialogs directory; reload with SIGHUP");
        return;
    }
    tracing::info!(dir = %dir.display(), "watching dialogs for changes");
    while changes.recv().await.is_some() {
        // Coalesce a burst of events into one reload.
        while let Ok(Some(())) = tokio::time::timeout(SETTLE, changes.recv()).await {}
        reload(&engine, &dir);
    }
}
