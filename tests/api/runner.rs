//! `colloquy test`: the scripted-conversation runner, including scripts that must fail.
//!
//! Every test runs the real binary. The project's own conversations run from the repository
//! root exactly as the README says; scripts that must fail are written to a temporary
//! directory and run there, so paths print as written (`s.yaml:6:9`) and whole blocks of
//! output can be compared.

mod failures;
mod remote;
mod reports;

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;

use tempfile::TempDir;

use crate::helpers::dialogs_dir;

/// What a run of the binary printed, and how it exited.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The block printed for the failed script `name`, up to the next blank line.
    pub fn failure(&self, name: &str) -> String {
        let start = format!("---- FAIL: {name} (");
        let from = self
            .stdout
            .find(&start)
            .unwrap_or_else(|| panic!("no failure of {name:?} in:\n{}", self.stdout));
        let block = &self.stdout[from..];
        block.split("\n\n").next().unwrap_or(block).to_owned()
    }
}

/// The binary in `dir`, with no `COLLOQUY…` settings from the environment but the
/// repository's dialogs, and the service its booking dialog calls on a port nothing
/// listens on.
pub fn colloquy(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_colloquy"));
    command.current_dir(dir);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("COLLOQUY") {
            command.env_remove(name);
        }
    }
    command.env("COLLOQUY__DIALOGS__DIR", dialogs_dir());
    command.env(
        "COLLOQUY__SERVICES__BOOKINGS__BASE_URL",
        format!("http://127.0.0.1:{}/api", crate::helpers::closed_port()),
    );
    command
}

pub fn run(mut command: Command) -> Run {
    let output = command.output().expect("the binary runs");
    Run {
        code: output.status.code().expect("an exit code, not a signal"),
        stdout: String::from_utf8(output.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("utf-8 stderr"),
    }
}

/// A temporary directory holding the given script files.
pub fn scripts(files: &[(&str, &str)]) -> TempDir {
    let dir = TempDir::new().expect("temp dir");
    for (name, source) in files {
        fs::write(dir.path().join(name), source).expect("write a script");
    }
    dir
}

/// `colloquy test ARGS` in `dir`.
pub fn test_in(dir: &TempDir, args: &[&str]) -> Run {
    let mut command = colloquy(dir.path());
    command.arg("test").args(args);
    run(command)
}

const HAPPY: &str = r#"
dialog: otp_authentication
scripts:
  - name: happy
    tags: [smoke]
    steps:
      - user: hi
      - user: alice@example.com
      - email: { to: alice@example.com, capture: { code: '\d{4}' } }
      - user: "{{ code }}"
      - expect: { status: ended, result: authenticated }
"#;

#[test]
fn every_conversation_in_the_repository_passes_and_covers_the_shipped_dialogs() {
    let out = TempDir::new().expect("temp dir");
    let coverage = out.path().join("coverage.json");
    let junit = out.path().join("junit.xml");
    let mut command = colloquy(Path::new(env!("CARGO_MANIFEST_DIR")));
    command.env_remove("COLLOQUY__DIALOGS__DIR").args([
        "test",
        "tests/conversations",
        "--coverage",
        coverage.to_str().expect("a UTF-8 path"),
        "--junit",
        junit.to_str().expect("a UTF-8 path"),
    ]);
    let run = run(command);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(" 0 failed, 0 skipped"),
        "{}",
        run.stdout
    );
    // The shipped dialogs' full coverage is checked below against the dialogs as loaded;
    // other dialogs a user adds need only their scripts to pass. Every node and every edge
    // and keyword of each, reached.
    let (registry, _) = colloquy::engine::registry::load_paths(
        &[dialogs_dir()],
        &crate::helpers::test_config().load_env(),
    )
    .expect("dialogs");
    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(coverage).expect("coverage written"))
            .expect("JSON");
    for id in [
        "otp_authentication",
        "appointment_booking",
        "phone_verification",
    ] {
        let dialog = registry.latest(id).expect("a shipped dialog");
        let measured = json["dialogs"]
            .as_array()
            .and_then(|dialogs| dialogs.iter().find(|d| d["dialog"] == id))
            .expect("its coverage");
        let nodes = measured["nodes"]["items"].as_array().expect("nodes");
        assert_eq!(nodes.len(), dialog.nodes.len(), "{id}");
        assert!(
            nodes.iter().all(|n| n["hits"].as_u64() > Some(0)),
            "{id}: {nodes:#?}"
        );
        let transitions = measured["transitions"]["items"]
            .as_array()
            .expect("transitions");
        assert_eq!(
            transitions.len(),
            dialog.edges().len() + dialog.keywords.len(),
            "{id}"
        );
        assert!(
            transitions.iter().all(|t| t["hits"].as_u64() > Some(0)),
            "{id}: {transitions:#?}"
        );
        assert_eq!(measured["transitions"]["percent"], 100.0, "{id}");
    }
    let xml = fs::read_to_string(junit).expect("junit written");
    let cases = xml.matches("<testcase ").count();
    assert_eq!(
        cases,
        run.stdout.lines().filter(|l| l.starts_with("ok  ")).count()
    );
    assert!(!xml.contains("<failure"), "{xml}");
}

#[test]
fn missing_paths_and_empty_directories_are_usage_errors() {
    let dir = scripts(&[]);
    let missing = test_in(&dir, &["nowhere"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.starts_with("error: nowhere: "),
        "{}",
        missing.stderr
    );
    let empty = test_in(&dir, &["."]);
    assert_eq!(empty.code, 2);
    assert_eq!(
        empty.stderr,
        "error: no script files (*.yaml, *.yml) under .\n"
    );
}

#[test]
fn tags_select_the_scripts_to_run() {
    let other = HAPPY
        .replace("name: happy", "name: other")
        .replace("tags: [smoke]", "tags: [slow]");
    let dir = scripts(&[("a.yaml", HAPPY), ("b.yaml", &other)]);
    let smoke = test_in(&dir, &[".", "--tag", "smoke"]);
    assert_eq!(smoke.code, 0, "{}", smoke.stdout);
    assert!(
        smoke.stdout.contains("ok    happy  ./a.yaml:4\n"),
        "{}",
        smoke.stdout
    );
    assert!(!smoke.stdout.contains("other"), "{}", smoke.stdout);
    let rest = test_in(&dir, &[".", "--skip-tag", "smoke"]);
    assert!(
        rest.stdout.contains("ok    other  ./b.yaml:4\n"),
        "{}",
        rest.stdout
    );
    assert!(
        rest.stdout
            .contains("ok: 1 passed, 0 failed, 0 skipped (1 script, "),
        "{}",
        rest.stdout
    );
    let none = test_in(&dir, &[".", "--tag", "nightly"]);
    assert_eq!(none.code, 2);
    assert!(
        none.stderr
            .starts_with("error: no script selected (of 2 found"),
        "{}",
        none.stderr
    );
}

#[test]
fn each_script_has_its_own_engine_clock_outbox_and_limits() {
    // Both scripts may send one code to the same address; shared counters would refuse the
    // second, shared outboxes would show each the other's email, and a shared clock would move
    // by the other's `wait`. Ten copies run in parallel to give any sharing its chance.
    let mut source = String::from("dialog: otp_authentication\nscripts:\n");
    for i in 0..10 {
        write!(
            source,
            r#"
  - name: script {i}
    settings: {{ otp: {{ max_sends_per_address: 1 }} }}
    steps:
      - user: hi
      - user: same@example.com
      - email: {{ to: same@example.com, capture: {{ code: '\d{{4}}' }} }}
      - wait: 299s
      - no_email: same@example.com
      - user: "{{{{ code }}}}"
      - expect: {{ result: authenticated }}
"#
        )
        .expect("formatting into a String cannot fail");
    }
    let dir = scripts(&[("s.yaml", &source)]);
    let run = test_in(&dir, &["s.yaml", "--jobs", "10"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout.contains("ok: 10 passed, 0 failed"),
        "{}",
        run.stdout
    );
}

#[test]
fn per_script_settings_change_the_policy_and_simulate_delivery_failures() {
    let dir = scripts(&[(
        "s.yaml",
        r#"
dialog: otp_authentication
scripts:
  - name: six alphanumeric characters
    settings: { otp: { length: 6, alphabet: alphanumeric } }
    steps:
      - user: hi
      - user: alice@example.com
      - bot: { contains: "a 6-digit code" }
      - email: { to: alice@example.com, capture: { code: 'is ([A-Z0-9]{6})\.' } }
      - user: "{{ code }}"
      - expect: { result: authenticated }
  - name: delivery fails for this address only
    settings: { fail_for: [alice@example.com] }
    steps:
      - user: hi
      - user: alice@example.com
      - expect: { node: send_failed }
      - user: bob@example.com
      - expect: { node: ask_code }
"#,
    )]);
    let run = test_in(&dir, &["s.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
}

/// A dialog that calls a service, for scripts that answer it themselves.
const LOOKUP: &str = r#"
id: lookup
version: 1
start: ask_order
nodes:
  ask_order:
    ask: "Your order number?"
    entity: text
    save_as: order
    on_exhausted: done
    next: fetch
  fetch:
    action: http.request
    with: { service: orders, path: "/orders/{{ order }}", save: { status: /status } }
    on: { ok: found, http_error: unknown, timeout: slow, invalid_response: slow }
  found:
    say: "Order {{ order }} is {{ status }}."
    end: found
  unknown:
    say: "No order {{ order }} (error {{ http.status }})."
    end: unknown
  slow:
    say: "The order service is not answering."
    end: slow
  done:
    end: done
"#;

#[test]
fn scripts_answer_the_services_a_dialog_calls() {
    let dir = scripts(&[(
        "s.yaml",
        r#"
dialog: lookup
services:
  orders:
    - { method: GET, path: "/orders/A-*", body: { status: shipped } }
    - { path: /orders/slow, outcome: timeout }
scripts:
  - name: found
    steps:
      - user: hi
      - user: A-17
      - bot: "Order A-17 is shipped."
  - name: unknown to the service
    steps:
      - user: hi
      - user: B-2
      - bot: "No order B-2 (error 404)."
  - name: the service times out
    steps:
      - user: hi
      - user: slow
      - bot: "The order service is not answering."
  - name: a script's own answers replace the file's
    services:
      orders: [ { path: "/orders/*", status: 200, body: { state: "no status field" } } ]
    steps:
      - user: hi
      - user: A-17
      - bot: "The order service is not answering."
"#,
    )]);
    fs::create_dir(dir.path().join("dialogs")).unwrap();
    fs::write(dir.path().join("dialogs/lookup.yaml"), LOOKUP).unwrap();
    let mut command = colloquy(dir.path());
    command
        .env("COLLOQUY__DIALOGS__DIR", dir.path().join("dialogs"))
        .env("COLLOQUY__DIALOGS__DEFAULT", "lookup")
        .args(["test", "s.yaml"]);
    let run = run(command);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("4 passed"), "{}", run.stdout);
    // The service is none of the configuration's: `check` refuses the dialog.
    let mut check = colloquy(dir.path());
    check.args(["check", "dialogs"]);
    let checked = super::runner::run(check);
    assert_eq!(checked.code, 1, "{}", checked.stdout);
    assert!(
        checked.stdout.contains("unknown service `orders`"),
        "{}",
        checked.stdout
    );
}
