//! Dialogs reload without a restart: new versions join, running sessions keep theirs, and a
//! broken or unversioned change keeps the previous version serving.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, dialogs_dir, spawn_app_with, test_config};

fn flagship() -> String {
    std::fs::read_to_string(dialogs_dir().join("otp_authentication.yaml")).unwrap()
}

/// The flagship dialog at `version` with its greeting replaced.
fn variant(version: u32, greeting: &str) -> String {
    flagship()
        .replace("version: 1\n", &format!("version: {version}\n"))
        .replace(
            "Hi! I'll verify your email address with a one-time code.",
            greeting,
        )
}

async fn app_on(dir: &Path) -> TestApp {
    let mut config = test_config();
    config.dialogs.dir = dir.to_path_buf();
    spawn_app_with(config).await
}

async fn first_reply(app: &TestApp, session: &str, id: &str, text: &str) -> Value {
    let (status, answer) = app
        .post_json(&json!({ "session_id": session, "message_id": id, "text": text }))
        .await;
    assert_eq!(status, 200, "{answer}");
    answer
}

#[tokio::test]
async fn a_new_version_serves_new_sessions_while_running_ones_keep_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("otp_authentication.yaml");
    std::fs::write(&file, flagship()).unwrap();
    crate::helpers::copy_flagship_translations(dir.path());
    let app = app_on(dir.path()).await;
    let old = first_reply(&app, "old", "1", "hi").await;
    assert_eq!(old["dialog_version"], 1);

    std::fs::write(&file, variant(2, "Welcome back!")).unwrap();
    let problems = colloquy::reload::reload(&app.app.engine, dir.path());
    assert!(problems.is_empty(), "{problems:?}");

    let new = first_reply(&app, "new", "1", "hi").await;
    assert_eq!(new["dialog_version"], 2);
    assert_eq!(new["replies"][0]["text"], "Welcome back!");
    let continued = first_reply(&app, "old", "2", "bob@example.com").await;
    assert_eq!(
        continued["dialog_version"], 1,
        "a running session finishes on its version"
    );
    assert_eq!(continued["node"], "ask_code");
    let listed: Value = app.get_json("/v1/dialogs").await;
    assert_eq!(listed["dialogs"][0]["version"], 2);
    assert_eq!(listed["dialogs"][0]["older_versions"], json!([1]));
    assert_eq!(listed["load_errors"], json!([]));
}

#[tokio::test]
async fn broken_or_unversioned_changes_keep_the_previous_version() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("otp_authentication.yaml");
    std::fs::write(&file, flagship()).unwrap();
    crate::helpers::copy_flagship_translations(dir.path());
    let app = app_on(dir.path()).await;

    std::fs::write(&file, variant(1, "Sneaky edit")).unwrap();
    let problems = colloquy::reload::reload(&app.app.engine, dir.path());
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("changed without a new version number"),
        "{problems:?}"
    );

    std::fs::write(&file, format!("{}\nnodes: [", variant(2, "Broken"))).unwrap();
    let problems = colloquy::reload::reload(&app.app.engine, dir.path());
    assert!(
        problems
            .iter()
            .any(|p| p.contains("otp_authentication.yaml:") && p.contains("error: YAML syntax")),
        "{problems:?}"
    );

    let greeting = first_reply(&app, "s", "1", "hi").await;
    assert_eq!(greeting["dialog_version"], 1);
    assert_eq!(
        greeting["replies"][0]["text"],
        "Hi! I'll verify your email address with a one-time code."
    );
    let listed: Value = app.get_json("/v1/dialogs").await;
    assert_eq!(
        listed["load_errors"].as_array().unwrap().len(),
        problems.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watcher_reloads_when_a_file_changes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("otp_authentication.yaml");
    std::fs::write(&file, flagship()).unwrap();
    crate::helpers::copy_flagship_translations(dir.path());
    let app = app_on(dir.path()).await;
    let watcher = tokio::spawn(colloquy::reload::watch(
        Arc::clone(&app.app.engine),
        dir.path().to_path_buf(),
    ));
    // Saving repeatedly until the watcher (started asynchronously) has seen a save: a bounded
    // poll for a condition, not a timed assertion.
    let mut version = 0;
    for attempt in 0..200 {
        if attempt % 20 == 0 {
            std::fs::write(&file, variant(2, "Saved in an editor")).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        version = app
            .app
            .engine
            .dialogs()
            .latest("otp_authentication")
            .unwrap()
            .version;
        if version == 2 {
            break;
        }
    }
    watcher.abort();
    assert_eq!(version, 2, "the watcher never reloaded");
}
