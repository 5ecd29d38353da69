//! `colloquy test --url`: the same scripts, black-box, against a server spawned on port 0.
//! The binary runs on a blocking thread while the server answers on the test's runtime.

use std::path::Path;
use std::process::Command;

use std::time::Duration;

use colloquy::config::{Config, Rate};

use super::{HAPPY, Run, colloquy, run, scripts};
use crate::helpers::{spawn_app_with, test_config};

/// Runs the binary without blocking the runtime the server runs on.
async fn run_async(command: Command) -> Run {
    tokio::task::spawn_blocking(move || run(command))
        .await
        .expect("the binary ran")
}

/// `colloquy test --url URL ARGS…` in `dir`.
fn test_url(dir: &Path, url: &str, args: &[&str]) -> Command {
    let mut command = colloquy(dir);
    command.arg("test").args(args).args(["--url", url]);
    command
}

/// A server whose request limits a test run cannot reach (the runner would wait them out).
async fn server() -> crate::helpers::TestApp {
    spawn_app_with(unlimited()).await
}

/// The same in dev mode (`serve --dev`): its clock can be moved and sessions read.
async fn dev_server() -> crate::helpers::TestApp {
    let mut config = unlimited();
    config.server.dev = true;
    spawn_app_with(config).await
}

fn unlimited() -> Config {
    let mut config = test_config();
    let plenty = Rate {
        per_second: 100_000,
        burst: 100_000,
    };
    config.limits.per_ip = plenty;
    config.limits.per_client = plenty;
    // Every script texts numbers of one prefix (+44 7400 …) to one server within the hour.
    config.sms.guard.max_per_prefix_per_hour = 100_000;
    config.sms.guard.max_per_hour = 100_000;
    config
}

#[tokio::test(flavor = "multi_thread")]
async fn against_a_dev_server_scripts_wait_and_check_the_context_too() {
    let app = dev_server().await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut command = test_url(root, &app.url(""), &["tests/conversations"]);
    command.env_remove("COLLOQUY__DIALOGS__DIR");
    let run = run_async(command).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(
            ", one at a time (dev mode: `wait` moves its clock, `expect.context` reads its sessions)\n"
        ),
        "{}",
        run.stdout
    );
    // Scripts that wait, and scripts that check the context, ran and passed.
    for name in [
        "ok    expired code after 5 minutes, then a new one  ",
        "ok    a code still works a second before it expires  ",
    ] {
        assert!(run.stdout.contains(name), "{name}\n{}", run.stdout);
    }
    assert!(
        !run.stdout.contains("skipped: uses `wait`"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("skipped: checks `expect.context`"),
        "{}",
        run.stdout
    );
    // What still needs an engine of its own is skipped, and says so.
    let reasons: Vec<&str> = run
        .stdout
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("skipped: "))
        .collect();
    assert!(!reasons.is_empty(), "{}", run.stdout);
    for reason in reasons {
        assert!(
            reason.contains("take an engine of its own")
                || reason.contains("a running server calls its own"),
            "{reason}"
        );
    }
    // The scripts' waits moved the server's clock: an hour and more in all.
    let offset = app.app.dev_clock.as_ref().expect("dev mode").offset();
    assert!(offset >= Duration::from_secs(3600), "{offset:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_context_fails_over_http_with_the_same_report() {
    let app = dev_server().await;
    let dir = scripts(&[(
        "s.yaml",
        r#"
dialog: otp_authentication
scripts:
  - name: expiry over http
    steps:
      - user: hi
      - user: erin@example.com
      - email: { to: erin@example.com, capture: { code: '\d{4}' } }
      - wait: 5m
      - user: "{{ code }}"
      - expect: { node: code_expired, context: { email: erin@example.com, otp_code: null } }
  - name: wrong context
    steps:
      - user: hi
      - user: frank@example.com
      - expect: { node: ask_code, context: { email: grace@example.com } }
"#,
    )]);
    let run = run_async(test_url(dir.path(), &app.url(""), &["s.yaml"])).await;
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("ok    expiry over http  s.yaml:4\n"),
        "{}",
        run.stdout
    );
    let block = run.failure("wrong context");
    assert!(
        block.contains(
            "\
problem:    the dialog is not in the expected state
expected:   node `ask_code`, email = \"grace@example.com\"
actual:     node `ask_code`, email = \"frank@example.com\"
"
        ),
        "{block}"
    );
    // The same script in process fails with the same words.
    let local = super::test_in(&dir, &["s.yaml"]);
    assert_eq!(local.code, 1, "{}", local.stdout);
    let local_block = local.failure("wrong context");
    let problem = |block: &str| {
        block
            .lines()
            .filter(|l| {
                l.starts_with("problem:") || l.starts_with("expected:") || l.starts_with("actual:")
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(problem(&block), problem(&local_block));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_repository_conversations_run_black_box_and_skip_what_http_cannot_do() {
    let app = server().await;
    let out = tempfile::TempDir::new().expect("temp dir");
    let junit = out.path().join("junit.xml");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut command = test_url(
        root,
        &app.url(""),
        &[
            "tests/conversations",
            "--junit",
            junit.to_str().expect("UTF-8"),
        ],
    );
    command.env_remove("COLLOQUY__DIALOGS__DIR");
    let run = run_async(command).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let passed = run.stdout.lines().filter(|l| l.starts_with("ok  ")).count();
    assert!(passed >= 10, "{}", run.stdout);
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("ok    happy path ")),
        "{}",
        run.stdout
    );
    // Line numbers are the scripts' own; the reasons are what matters here.
    for reason in [
        "skipped: uses `wait` (line ",
        "): this server's clock cannot be moved; start it with `colloquy serve --dev`, or run the script in process\n",
        "skipped: needs per-script settings (fail_for), which take an engine of its own: a running server keeps its configuration; run it in process\n",
        "skipped: checks `expect.context` (line ",
        "): this server does not show a session's context; start it with `colloquy serve --dev`, or run the script in process\n",
    ] {
        assert!(run.stdout.contains(reason), "{reason}\n{}", run.stdout);
    }
    assert!(!run.stdout.contains("coverage of"), "no coverage over HTTP");
    let xml = std::fs::read_to_string(junit).expect("junit written");
    assert!(
        xml.contains("<skipped message=\"uses `wait` (line "),
        "{xml}"
    );
    assert!(
        xml.contains(
            "): this server&apos;s clock cannot be moved; start it with `colloquy serve --dev`, or run the script in process\"/>"
        ),
        "{xml}"
    );
    // The emails really went through the server's outbox.
    assert!(!app.outbox().list(None).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_expectation_fails_over_http_with_the_same_report() {
    let app = server().await;
    let dir = scripts(&[(
        "s.yaml",
        r#"
dialog: otp_authentication
scripts:
  - name: wrong result
    steps:
      - user: hi
      - user: alice@example.com
      - email: { to: alice@example.com, capture: { code: '\d{4}' } }
      - user: "{{ code.wrong }}"
      - expect: { status: ended, result: authenticated }
"#,
    )]);
    let run = run_async(test_url(dir.path(), &app.url(""), &["s.yaml"])).await;
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let block = run.failure("wrong result");
    assert!(
        block.contains(
            "\
problem:    the dialog is not in the expected state
expected:   status ended, result `authenticated`
actual:     status waiting, no result
"
        ),
        "{block}"
    );
    assert!(block.contains("bot> That code isn't right."), "{block}");
}

#[tokio::test(flavor = "multi_thread")]
async fn emails_sent_before_a_script_started_are_not_its_own() {
    let app = server().await;
    let dir = scripts(&[("a.yaml", HAPPY)]);
    // A first run leaves an email to alice in the server's outbox; a second run must not
    // take it for its own (`no_email` right after the greeting).
    let first = run_async(test_url(dir.path(), &app.url(""), &["a.yaml"])).await;
    assert_eq!(first.code, 0, "{}", first.stdout);
    std::fs::write(
        dir.path().join("b.yaml"),
        "dialog: otp_authentication\nscripts:\n  - name: nothing yet\n    steps:\n      - user: hi\n      - no_email: alice@example.com\n",
    )
    .expect("write");
    let second = run_async(test_url(dir.path(), &app.url(""), &["b.yaml"])).await;
    assert_eq!(second.code, 0, "{}", second.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_server_is_a_usage_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    drop(listener);
    let dir = scripts(&[("a.yaml", HAPPY)]);
    let run = run_async(test_url(dir.path(), &url, &["a.yaml"])).await;
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stderr
            .starts_with(&format!("error: cannot reach {url}: ")),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_without_the_dev_outbox_is_a_usage_error() {
    let router = axum::Router::new().route("/healthz", axum::routing::get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind port 0");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    let dir = scripts(&[("a.yaml", HAPPY)]);
    let run = run_async(test_url(dir.path(), &url, &["a.yaml"])).await;
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert_eq!(
        run.stderr,
        format!(
            "error: {url} has no dev outbox (GET /v1/dev/outbox: 404): --url reads codes from it, so the server must run with `email.provider: outbox`\n"
        )
    );
}

#[test]
fn coverage_needs_the_in_process_runner() {
    let dir = scripts(&[("a.yaml", HAPPY)]);
    let command = test_url(
        dir.path(),
        "http://127.0.0.1:9",
        &["a.yaml", "--min-coverage", "100"],
    );
    let run = run(command);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .starts_with("error: --coverage and --min-coverage need the in-process runner"),
        "{}",
        run.stderr
    );
}
