//! `colloquy check` and `serve` on broken dialogs: every diagnostic kind, with its position.
//!
//! Each test writes a small dialog into a temporary directory and runs the real binary there,
//! so paths print as written (`d.yaml:6:5: error: …`) and the whole output can be compared.
//! Positions are 1-based: a problem with a key points at the key, one with a value at the
//! value, and one with a whole node at the node's id.

use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::helpers::dialogs_dir;

/// What a run of the binary printed, and how it exited.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

/// The binary, run in `dir`, with no `COLLOQUY__…` settings leaking in from the environment.
fn colloquy(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_colloquy"));
    command.current_dir(dir);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("COLLOQUY") {
            command.env_remove(name);
        }
    }
    command
}

fn run(mut command: Command) -> Run {
    let output = command.output().expect("the binary runs");
    Run {
        code: output.status.code().expect("an exit code, not a signal"),
        stdout: String::from_utf8(output.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("utf-8 stderr"),
    }
}

/// `colloquy check d.yaml` on one dialog.
fn check_source(source: &str) -> Run {
    let dir = TempDir::new().expect("temp dir");
    fs::write(dir.path().join("d.yaml"), source).expect("write the dialog");
    let mut command = colloquy(dir.path());
    command.args(["check", "d.yaml"]);
    run(command)
}

/// Asserts the exact output of `check` on one dialog, and exit code 1.
#[track_caller]
fn assert_reports(source: &str, expected: &[&str]) {
    let run = check_source(source);
    assert_eq!(run.lines(), expected, "stderr: {}", run.stderr);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(run.stderr, "");
}

#[test]
fn yaml_syntax_error_points_at_the_offending_character() {
    assert_reports(
        "\
id: greeting
version: 1
start: hello
nodes:
  hello:
    say: Hi: welcome
    end: done
",
        &[
            "d.yaml:6:12: error: YAML syntax: mapping values are not allowed in this context",
            "  hint: check indentation, quotes and that every `key:` has a space after the colon",
            "1 error in 1 file",
        ],
    );
}

#[test]
fn unknown_key_in_a_node_suggests_the_key_meant_and_nothing_else() {
    // Not also "a dead end: it has no `next`": that would report the one typo twice.
    assert_reports(
        "\
id: greeting
version: 1
start: hello
nodes:
  hello:
    say: Hi!
    nxet: bye
  bye:
    end: done
",
        &[
            "d.yaml:7:5: error: unknown key `nxet` in node `hello`",
            "  hint: did you mean `next`?",
            "1 error in 1 file",
        ],
    );
}

#[test]
fn misspelt_node_kind_is_one_unknown_key() {
    // Not also "does nothing", nor "a dead end".
    assert_reports(
        "\
id: greeting
version: 1
start: hello
nodes:
  hello:
    sya: Hi!
    next: bye
  bye:
    say: Bye!
    ned: done
",
        &[
            "d.yaml:6:5: error: unknown key `sya` in node `hello`",
            "  hint: did you mean `say`?",
            "d.yaml:10:5: error: unknown key `ned` in node `bye`",
            "  hint: did you mean `end`?",
            "2 errors in 1 file",
        ],
    );
}

#[test]
fn unknown_top_level_keys_suggest_the_key_meant() {
    // `strat` is not also reported as a missing `start`.
    assert_reports(
        "\
id: greeting
version: 1
tilte: Greeting
strat: hello
nodes:
  hello:
    say: Hi!
    end: done
",
        &[
            "d.yaml:3:1: error: unknown key `tilte` in the dialog",
            "  hint: did you mean `title`?",
            "d.yaml:4:1: error: unknown key `strat` in the dialog",
            "  hint: did you mean `start`?",
            "2 errors in 1 file",
        ],
    );
}

#[test]
fn unknown_node_references_point_at_the_name_and_suggest_one() {
    assert_reports(
        r#"id: signup
version: 1
start: greet
keywords:
  cancel: cancled
nodes:
  greet:
    say: Hi!
    next: ask_emial
  ask_email:
    ask: Your email?
    entity: email
    on_exhausted: cancelled
    next: send
  send:
    action: otp.send
    with: { to: "{{ email }}" }
    on: { sent: chek, cooldown: check, limited: cancelled, failed: cancelled }
  check:
    branch:
      - if: { var: email, exists: true }
        then: cancellled
      - else: cancelled
  cancelled:
    end: cancelled
"#,
        &[
            "d.yaml:5:11: error: keyword `cancel` points to unknown node `cancled`",
            "  hint: did you mean `cancelled`?",
            "d.yaml:9:11: error: `next` points to unknown node `ask_emial`",
            "  hint: did you mean `ask_email`?",
            "d.yaml:18:17: error: `sent` points to unknown node `chek`",
            "  hint: did you mean `check`?",
            "d.yaml:22:15: error: `then` points to unknown node `cancellled`",
            "  hint: did you mean `cancelled`?",
            "4 errors in 1 file",
        ],
    );
}

#[test]
fn unknown_reference_without_a_close_name_says_how_to_fix_it() {
    assert_reports(
        "\
id: greeting
version: 1
start: hello
nodes:
  hello:
    say: Hi!
    next: zzz
  bye:
    end: done
",
        &[
            "d.yaml:7:11: error: `next` points to unknown node `zzz`",
            "  hint: define that node under `nodes:`, or fix the name",
            "1 error in 1 file",
        ],
    );
}

#[test]
fn unreachable_node_is_reported_at_its_id() {
    assert_reports(
        "\
id: greeting
version: 1
start: hello
nodes:
  hello:
    say: Hi!
    end: done
  lost:
    say: Nobody comes here.
    next: hello
",
        &[
            "d.yaml:8:3: error: node `lost` is unreachable: no path from `hello` leads to it",
            "  hint: link it with `next`, `then`, `on` or a keyword, or remove it",
            "1 error in 1 file",
        ],
    );
}

#[test]
fn say_node_without_next_or_end_is_a_dead_end() {
    assert_reports(
        "\
id: greeting
version: 1
start: hello
nodes:
  hello:
    say: Hi!
",
        &[
            "d.yaml:5:3: error: node `hello` is a dead end: it has no `next` and is not an end node",
            "  hint: add `next: <node id>`, or `end: <result>` to finish the dialog here",
            "1 error in 1 file",
        ],
    );
}

#[test]
fn ask_node_without_on_exhausted() {
    assert_reports(
        "\
id: signup
version: 1
start: ask_email
nodes:
  ask_email:
    ask: Your email?
    entity: email
    next: done
  done:
    end: done
",
        &[
            "d.yaml:5:3: error: ask node `ask_email` has no exhaustion path",
            "  hint: add `on_exhausted: <node id>`: where to go when every retry was answered invalidly",
            "1 error in 1 file",
        ],
    );
}

#[test]
fn unknown_action_suggests_the_action_meant() {
    assert_reports(
        "\
id: signup
version: 1
start: send
nodes:
  send:
    action: otp.sned
    with: { to: someone@example.com }
    on: { sent: done, cooldown: done, limited: done, failed: done }
  done:
    end: done
",
        &[
            "d.yaml:6:13: error: unknown action `otp.sned`",
            "  hint: did you mean `otp.send`?",
            "1 error in 1 file",
        ],
    );
}

#[test]
fn unknown_entity_suggests_the_entity_meant() {
    assert_reports(
        "\
id: signup
version: 1
start: ask_code
nodes:
  ask_code:
    ask: Your code?
    entity: otp_cod
    on_exhausted: done
    next: done
  done:
    end: done
",
        &[
            "d.yaml:7:13: error: unknown entity `otp_cod`",
            "  hint: did you mean `otp_code`?",
            "1 error in 1 file",
        ],
    );
}

#[test]
fn unknown_template_variable_suggests_the_variable_meant() {
    assert_reports(
        r#"id: signup
version: 1
start: ask_email
nodes:
  ask_email:
    ask: Your email?
    entity: email
    on_exhausted: done
    next: done
  done:
    say: "Thanks, {{ emial }}."
    end: done
"#,
        &[
            "d.yaml:11:10: error: unknown variable `emial` in template",
            "  hint: did you mean `email`?",
            "1 error in 1 file",
        ],
    );
}

#[test]
fn unquoted_template_gets_a_quoting_hint() {
    assert_reports(
        "\
id: greeting
version: 1
start: hello
nodes:
  hello:
    say: {{ name }}
    end: done
",
        &[
            "d.yaml:6:10: error: `say` must be text, found a mapping",
            "  hint: put text that starts with `{{` in quotes: \"{{ name }}\"",
            "1 error in 1 file",
        ],
    );
}

#[test]
fn missing_start() {
    assert_reports(
        "\
id: greeting
version: 1
nodes:
  hello:
    say: Hi!
    end: done
",
        &[
            "d.yaml:1:1: error: missing `start`",
            "  hint: add `start: <node id>` naming the first node",
            "1 error in 1 file",
        ],
    );
}

#[test]
fn start_pointing_to_an_unknown_node() {
    assert_reports(
        "\
id: greeting
version: 1
start: helo
nodes:
  hello:
    say: Hi!
    end: done
",
        &[
            "d.yaml:3:8: error: `start` points to unknown node `helo`",
            "  hint: did you mean `hello`?",
            "1 error in 1 file",
        ],
    );
}

#[test]
fn nodes_that_are_not_a_mapping_hide_no_start_error_behind_them() {
    // Not also "`start` points to unknown node `hello`": there are no nodes to point to.
    assert_reports(
        "\
id: greeting
version: 1
start: hello
nodes:
  - hello
",
        &[
            "d.yaml:5:3: error: `nodes` must be a mapping of node ids to nodes, found a list",
            "1 error in 1 file",
        ],
    );
}

#[test]
fn duplicate_node_id_names_both_places() {
    assert_reports(
        "\
id: greeting
version: 1
start: hello
nodes:
  hello:
    say: Hi!
    next: bye
  bye:
    end: done
  hello:
    say: Hello again!
    next: bye
",
        &[
            "d.yaml:10:3: error: duplicate node id `hello`",
            "  hint: `hello` is first defined at 5:3; rename one of them",
            "1 error in 1 file",
        ],
    );
}

#[test]
fn loop_through_say_and_branch_never_waits_for_input() {
    assert_reports(
        "\
id: counting
version: 1
start: ask_number
nodes:
  ask_number:
    ask: A number?
    entity: number
    on_exhausted: done
    next: again
  again:
    say: Once more.
    next: decide
  decide:
    branch:
      - if: { var: number, gt: 10 }
        then: done
      - else: again
  done:
    end: done
",
        &[
            "d.yaml:10:3: error: nodes `again`, `decide` form a loop that never waits for input",
            "  hint: put an `ask` node in the loop, or route one of its edges out of it",
            "1 error in 1 file",
        ],
    );
}

#[test]
fn node_looping_to_itself_never_waits_for_input() {
    assert_reports(
        "\
id: echo
version: 1
start: again
nodes:
  again:
    say: Again!
    next: again
",
        &[
            "d.yaml:5:3: error: node `again` forms a loop that never waits for input",
            "  hint: put an `ask` node in the loop, or route one of its edges out of it",
            "1 error in 1 file",
        ],
    );
}

#[test]
fn action_missing_an_outcome_edge() {
    assert_reports(
        "\
id: signup
version: 1
start: send
nodes:
  send:
    action: otp.send
    with: { to: someone@example.com }
    on:
      sent: done
      cooldown: done
      failed: done
  done:
    end: done
",
        &[
            "d.yaml:8:5: error: action `otp.send` in node `send` has no edge for outcome `limited`",
            "  hint: add `limited: <node id>` under `on:`",
            "1 error in 1 file",
        ],
    );
}

#[test]
fn branch_without_else() {
    assert_reports(
        "\
id: plans
version: 1
start: route
context:
  plan: free
nodes:
  route:
    branch:
      - if: { var: plan, equals: pro }
        then: done
  done:
    end: done
",
        &[
            "d.yaml:9:7: error: branch `route` has no `else` arm",
            "  hint: add `- else: <node id>` as the last arm so the branch always goes somewhere",
            "1 error in 1 file",
        ],
    );
}

#[test]
fn one_time_code_cannot_be_shown_in_a_message() {
    assert_reports(
        r#"id: signup
version: 1
start: ask_code
nodes:
  ask_code:
    ask: Your code?
    entity: otp_code
    on_exhausted: done
    next: done
  done:
    say: "You typed {{ otp_code }}."
    end: done
"#,
        &[
            "d.yaml:11:10: error: `otp_code` holds a one-time code and cannot be shown in a message",
            "  hint: codes never appear in replies, history or logs",
            "1 error in 1 file",
        ],
    );
}

#[test]
fn node_with_two_kinds_is_one_error() {
    // Its other keys are not unknown, and the `email` it asks for is still a known variable.
    assert_reports(
        r#"id: signup
version: 1
start: ask_email
nodes:
  ask_email:
    say: Hi!
    ask: Your email?
    entity: email
    on_exhausted: done
    next: done
  done:
    say: "Bye, {{ email }}."
    end: done
"#,
        &[
            "d.yaml:5:3: error: node `ask_email` has `say` and `ask`: a node does one thing",
            "  hint: split it into several nodes joined with `next` (only `say` may go with `end`)",
            "1 error in 1 file",
        ],
    );
}

#[test]
fn otp_verify_without_a_code_to_check_points_at_the_node() {
    assert_reports(
        "\
id: verify_only
version: 1
start: verify
nodes:
  verify:
    action: otp.verify
    on: { valid: done, invalid: done, expired: done, locked: done }
  done:
    end: done
",
        &[
            "d.yaml:5:3: error: `otp.verify` checks the code in `otp_code`, which nothing sets",
            "  hint: ask for the code first with `entity: otp_code`, or name the variable that holds it with `with: { code: \"{{ name }}\" }`",
            "1 error in 1 file",
        ],
    );
}

#[test]
fn errors_in_a_node_do_not_cascade_to_the_nodes_around_it() {
    // Both broken nodes are still defined (no "unknown node `send`" for `start`), and the
    // variables they would set are still known (no "unknown variable `otp.length`", nor
    // `otp_code` for `otp.verify`).
    assert_reports(
        r#"id: signup
version: 1
start: send
nodes:
  send:
    action: otp.sned
    with: { to: someone@example.com }
    on: { sent: ask_code, cooldown: ask_code, limited: done, failed: done }
  ask_code:
    ask: "Enter the {{ otp.length }}-digit code."
    entity: otp_cod
    on_exhausted: done
    next: verify
  verify:
    action: otp.verify
    on: { valid: done, invalid: ask_code, expired: done, locked: done }
  done:
    say: Bye.
    end: done
"#,
        &[
            "d.yaml:6:13: error: unknown action `otp.sned`",
            "  hint: did you mean `otp.send`?",
            "d.yaml:11:13: error: unknown entity `otp_cod`",
            "  hint: did you mean `otp_code`?",
            "2 errors in 1 file",
        ],
    );
}

#[test]
fn every_problem_of_a_file_is_reported_in_one_run_in_position_order() {
    // Found in different passes (reading, then resolving names), printed by position.
    assert_reports(
        r#"id: signup
version: 1
start: greet
nodes:
  greet:
    say: "Hi {{ nme }}!"
    next: ask_emial
  ask_email:
    ask: Your email?
    entity: emale
    on_exhausted: bye
    next: bye
  bye:
    say: Bye.
    colour: blue
"#,
        &[
            "d.yaml:6:10: error: unknown variable `nme` in template",
            "  hint: variables set in this dialog: email",
            "d.yaml:7:11: error: `next` points to unknown node `ask_emial`",
            "  hint: did you mean `ask_email`?",
            "d.yaml:10:13: error: unknown entity `emale`",
            "  hint: did you mean `email`?",
            "d.yaml:13:3: error: node `bye` is a dead end: it has no `next` and is not an end node",
            "  hint: add `next: <node id>`, or `end: <result>` to finish the dialog here",
            "d.yaml:15:5: error: unknown key `colour` in node `bye`",
            "  hint: expected one of: end, next, say",
            "5 errors in 1 file",
        ],
    );
}

#[test]
fn the_shipped_dialogs_are_clean() {
    // From the project, with its config.yaml: the booking dialog calls its `bookings`.
    let mut command = colloquy(Path::new(env!("CARGO_MANIFEST_DIR")));
    command.args(["check", "dialogs"]);
    let run = run(command);
    // Counted from what is there, so a dialog a user adds keeps this green.
    let (registry, _) = colloquy::engine::registry::load_paths(
        &[dialogs_dir()],
        &crate::helpers::test_config().load_env(),
    )
    .expect("dialogs");
    let flagship = registry
        .latest("otp_authentication")
        .expect("the flagship dialog");
    let line = run.lines().join("\n");
    assert!(line.starts_with("ok: "), "{line}");
    assert_eq!(run.lines().len(), 1, "{line}");
    assert!(flagship.nodes.len() >= 16, "{line}");
    assert_eq!(run.code, 0);
    assert_eq!(run.stderr, "");
}

const GOOD: &str = "\
id: greeting
version: 1
start: hello
nodes:
  hello:
    say: Hi!
    end: done
";

const DEAD_END: &str = "\
id: farewell
version: 1
start: bye
nodes:
  bye:
    say: Bye!
";

/// A temp dir with `dialogs/` holding `files`.
fn dialogs_with(files: &[(&str, &str)]) -> TempDir {
    let dir = TempDir::new().expect("temp dir");
    fs::create_dir(dir.path().join("dialogs")).expect("dialogs dir");
    for (name, source) in files {
        fs::write(dir.path().join("dialogs").join(name), source).expect("write a dialog");
    }
    dir
}

#[test]
fn directory_with_a_good_and_a_bad_file_reports_the_bad_one() {
    let dir = dialogs_with(&[("a_good.yaml", GOOD), ("b_bad.yaml", DEAD_END)]);
    let mut command = colloquy(dir.path());
    command.args(["check", "dialogs"]);
    let run = run(command);
    assert_eq!(
        run.lines(),
        [
            "dialogs/b_bad.yaml:5:3: error: node `bye` is a dead end: it has no `next` and is not an end node",
            "  hint: add `next: <node id>`, or `end: <result>` to finish the dialog here",
            "1 error in 1 file",
        ]
    );
    assert_eq!(run.code, 1);
}

#[test]
fn two_files_with_one_dialog_id() {
    let other = GOOD.replace("Hi!", "Hello!");
    let dir = dialogs_with(&[("a.yaml", GOOD), ("b.yaml", &other)]);
    let mut command = colloquy(dir.path());
    command.args(["check", "dialogs"]);
    let run = run(command);
    assert_eq!(
        run.lines(),
        [
            "dialogs/b.yaml:1:5: error: dialog id `greeting` is also used by dialogs/a.yaml",
            "  hint: every dialog needs its own id",
            "1 error in 1 file",
        ]
    );
    assert_eq!(run.code, 1);
}

#[test]
fn nonexistent_path_is_a_usage_error() {
    let dir = TempDir::new().expect("temp dir");
    let mut command = colloquy(dir.path());
    command.args(["check", "missing.yaml"]);
    let run = run(command);
    assert_eq!(run.code, 2);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.starts_with("error: missing.yaml: "),
        "{}",
        run.stderr
    );
}

#[test]
fn directory_without_dialogs_is_a_usage_error() {
    let dir = TempDir::new().expect("temp dir");
    fs::create_dir(dir.path().join("empty")).expect("empty dir");
    fs::create_dir(dir.path().join("notes")).expect("notes dir");
    fs::write(dir.path().join("notes").join("README.txt"), GOOD).expect("write a note");
    for name in ["empty", "notes"] {
        let mut command = colloquy(dir.path());
        command.args(["check", name]);
        let run = run(command);
        assert_eq!(run.code, 2, "{name}");
        assert_eq!(run.stdout, "", "{name}");
        assert_eq!(
            run.stderr,
            format!("error: no dialog files (*.yaml, *.yml) under {name}\n")
        );
    }
}

/// Reads a pipe to its end on another thread, sending what it read.
fn read_to_end_in_background(
    mut pipe: impl Read + Send + 'static,
    sender: mpsc::Sender<(usize, String)>,
    which: usize,
) {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        let _ = sender.send((which, text));
    });
}

/// Waits for a child that should exit on its own, killing it (and failing) after 20 s.
fn wait_with_timeout(mut child: Child) -> Run {
    // The pipes close when the child exits. Both are read at once, so a chatty one cannot
    // fill up and block the child, and off this thread, so the wait can time out.
    let (sender, receiver) = mpsc::channel();
    read_to_end_in_background(
        child.stdout.take().expect("piped stdout"),
        sender.clone(),
        0,
    );
    read_to_end_in_background(child.stderr.take().expect("piped stderr"), sender, 1);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut output = [String::new(), String::new()];
    for _ in 0..2 {
        let left = deadline.saturating_duration_since(Instant::now());
        match receiver.recv_timeout(left) {
            Ok((which, text)) => output[which] = text,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("`colloquy serve` still runs after 20 s: it should refuse to start");
            }
        }
    }
    let status = child.wait().expect("the child exits");
    let [stdout, stderr] = output;
    Run {
        code: status.code().expect("an exit code, not a signal"),
        stdout,
        stderr,
    }
}

#[test]
fn serve_refuses_to_start_with_a_broken_dialog() {
    let dir = dialogs_with(&[("bye.yaml", DEAD_END)]);
    let dialogs = dir.path().join("dialogs");
    let config = dir.path().join("config.yaml");
    fs::write(
        &config,
        format!(
            "dialogs: {{ dir: {:?} }}\nserver: {{ addr: 127.0.0.1:0 }}\n",
            dialogs.display().to_string()
        ),
    )
    .expect("write the config");
    let child = colloquy(dir.path())
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let run = wait_with_timeout(child);
    assert_eq!(run.code, 1, "stderr: {}", run.stderr);
    let expected = format!(
        "{}:5:3: error: node `bye` is a dead end: it has no `next` and is not an end node",
        dialogs.join("bye.yaml").display()
    );
    assert!(
        run.stderr.lines().any(|line| line == expected),
        "expected {expected:?} in:\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("refusing to start"),
        "stderr: {}",
        run.stderr
    );
}

#[test]
fn set_node_reports_each_bad_assignment_at_its_value() {
    assert_reports(
        r#"id: counter
version: 1
start: ask_code
nodes:
  ask_code:
    ask: Code?
    entity: otp_code
    on_exhausted: done
    next: count
  count:
    set:
      tries: "tires + 1"
      copy: "otp_code"
      broken: "tries +"
      list: [1, 2]
      bad name: "1"
    next: done
  done:
    say: "{{ tries }} {{ broken }}"
    end: done
"#,
        &[
            "d.yaml:12:14: error: unknown variable `tires` in expression",
            "  hint: did you mean `tries`?",
            "d.yaml:13:13: error: `otp_code` holds a one-time code and cannot be used in an expression",
            "  hint: codes never leave the variable their `ask` node saved them in",
            "d.yaml:14:15: error: expression: unexpected end of input, expected expression",
            "  hint: expressions are written like `tries + 1`, `name | trim | lower` or `\"Hi \" ~ name`; text in quotes",
            "d.yaml:15:13: error: the value of `list` must be an expression, found a list",
            "  hint: an expression is text, such as \"tries + 1\"; quote text inside it",
            "d.yaml:16:7: error: `bad name` is not a variable name (letters, digits, `_` and `.` only)",
            "5 errors in 1 file",
        ],
    );
}

#[test]
fn a_comparison_with_another_variable_is_checked_like_the_first() {
    assert_reports(
        "\
id: budget
version: 1
start: ask_total
nodes:
  ask_total:
    ask: How much?
    entity: number
    retries_per_visit: sometimes
    on_exhausted: done
    next: check
  check:
    branch:
      - if: { var: number, lte: { name: number } }
        then: done
      - if: { var: number, gte: high }
        then: done
      - else: done
  done:
    end: done
",
        &[
            "d.yaml:8:24: error: `retries_per_visit` must be true or false, found a string",
            "d.yaml:13:35: error: unknown key `name` in `lte`",
            "  hint: expected one of: var",
            "d.yaml:15:33: error: `gte` compares with a number or `{ var: <name> }`, found a string",
            "3 errors in 1 file",
        ],
    );
    assert_reports(
        "\
id: budget
version: 1
start: ask_total
nodes:
  ask_total:
    ask: How much?
    entity: number
    on_exhausted: done
    next: check
  check:
    branch:
      - if: { var: number, gt: { var: budgte } }
        then: done
      - else: done
  done:
    end: done
",
        &[
            "d.yaml:12:39: error: unknown variable `budgte` in condition",
            "  hint: no `ask` node or action sets it; declare it under `context:` to give it a default",
            "1 error in 1 file",
        ],
    );
}

/// `colloquy check d.yaml` beside a `config.yaml`, which is read for what dialogs may call.
fn check_with_config(source: &str, config: &str) -> Run {
    let dir = TempDir::new().expect("temp dir");
    fs::write(dir.path().join("d.yaml"), source).expect("write the dialog");
    fs::write(dir.path().join("config.yaml"), config).expect("write the config");
    let mut command = colloquy(dir.path());
    command.args(["check", "d.yaml"]);
    run(command)
}

const SERVICE_CALL: &str = "\
id: lookup
version: 1
start: ask_id
nodes:
  ask_id:
    ask: Order number?
    entity: text
    save_as: order
    on_exhausted: done
    next: fetch
  fetch:
    action: http.request
    with:
      service: orderz
      method: POST
      path: \"orders/{{ order }}?full=1\"
      retries: 2
      headers: { Content-Length: \"3\" }
      save: { status: order/status, eta: \"/eta~2\" }
    on: { ok: done, http_error: done, timeout: done, invalid_response: done }
  done:
    say: \"{{ status }}\"
    end: done
";

#[test]
fn a_service_call_is_checked_against_the_configured_services() {
    let config = "services:\n  orders:\n    base_url: http://127.0.0.1:9/api\n";
    let run = check_with_config(SERVICE_CALL, config);
    assert_eq!(
        run.lines(),
        [
            "d.yaml:14:16: error: unknown service `orderz`",
            "  hint: did you mean `orders`?",
            "d.yaml:16:13: error: `path` must start with `/`",
            "  hint: it is appended to the service's base URL, such as \"/slots/{{ day }}\"",
            "d.yaml:16:13: error: `path` cannot hold a query or fragment",
            "  hint: put query parameters under `query:`, where their values are encoded",
            "d.yaml:17:16: error: `retries` could repeat a POST request's effect",
            "  hint: only GET, PUT and DELETE are retried; make the service idempotent with a PUT",
            "d.yaml:18:18: error: `Content-Length` cannot be set in `headers`",
            "  hint: header names are letters, digits and `-`; Host, Content-Type, Content-Length and connection headers are set by the client",
            "d.yaml:19:23: error: `order/status` is not a JSON Pointer: it must start with `/`",
            "  hint: a JSON Pointer (RFC 6901) is `/field/0/name`: `/` before each step, `~0` for `~`, `~1` for `/`",
            "d.yaml:19:42: error: `/eta~2` is not a JSON Pointer: `~` must be followed by 0 or 1",
            "  hint: a JSON Pointer (RFC 6901) is `/field/0/name`: `/` before each step, `~0` for `~`, `~1` for `/`",
            "7 errors in 1 file",
        ],
        "stderr: {}",
        run.stderr
    );
    let fixed = SERVICE_CALL
        .replace("orderz", "orders")
        .replace("\"orders/{{ order }}?full=1\"", "\"/orders/{{ order }}\"")
        .replace("      retries: 2\n", "")
        .replace("Content-Length", "X-Trace")
        .replace("order/status", "/order/status")
        .replace("/eta~2", "/eta~1");
    let run = check_with_config(&fixed, config);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    // Without the service in the configuration, the dialog does not pass.
    let run = check_source(&fixed);
    assert!(
        run.stdout.contains("error: unknown service `orders`")
            && run.stdout.contains("no services are configured"),
        "{}",
        run.stdout
    );
}

#[test]
fn email_send_refuses_a_template_that_needs_a_code() {
    assert_reports(
        "\
id: receipt
version: 1
start: ask_email
templates:
  otp_email:
    subject: Your code
    text: \"Code {{ code }}\"
nodes:
  ask_email:
    ask: Email?
    entity: email
    on_exhausted: done
    next: send
  send:
    action: email.send
    with: { to: \"{{ email }}\", template: otp_email }
    on: { sent: done, limited: done, failed: done }
  done:
    end: done
",
        &[
            "d.yaml:16:42: error: template `otp_email` uses `code`, which only `otp.send` provides",
            "  hint: an email sent with `email.send` may use the dialog's variables and `email`; send codes with `otp.send`",
            "1 error in 1 file",
        ],
    );
}

#[test]
fn choices_are_checked() {
    assert_reports(
        "\
id: salon
version: 1
start: ask_service
nodes:
  ask_service:
    ask: What would you like?
    entity: choice
    choices:
      haircut: [cut, trim]
      beard: [trim]
      colour: 7
    on_exhausted: done
    next: ask_name
  ask_name:
    ask: Your name?
    entity: text
    choices: { a: [], b: [] }
    on_exhausted: done
    next: ask_more
  ask_more:
    ask: Anything else?
    entity: choice
    on_exhausted: done
    next: done
  done:
    end: done
",
        &[
            "d.yaml:10:7: error: `trim` names both `haircut` and `beard`",
            "d.yaml:11:15: error: choice `colour` takes synonyms or `{ label, also }`, found an integer",
            "d.yaml:17:14: error: `choices` belongs to `entity: choice`",
            "  hint: set `entity: choice`, or remove `choices`",
            "d.yaml:20:3: error: ask node `ask_more` asks for a choice but has no `choices`",
            "  hint: add `choices: { haircut: [cut, trim], colour: [color] }`: each value, with its synonyms",
            "4 errors in 1 file",
        ],
    );
}

/// `colloquy check .` on several dialogs.
fn check_files(files: &[(&str, &str)]) -> Run {
    let dir = TempDir::new().expect("temp dir");
    for (name, source) in files {
        fs::write(dir.path().join(name), source).expect("write a dialog");
    }
    let mut command = colloquy(dir.path());
    command.args(["check", "."]);
    run(command)
}

const CALLEE: &str = "\
id: verify
version: 1
start: ask_email
context:
  purpose: login
nodes:
  ask_email:
    ask: Email?
    entity: email
    on_exhausted: failed
    next: ok
  ok:
    end: verified
  failed:
    end: failed
";

#[test]
fn calls_are_checked_against_the_dialogs_they_call() {
    let caller = "\
id: shop
version: 1
start: check_user
nodes:
  check_user:
    call: verify
    inputs: { purpos: checkout }
    outputs: { buyer: emial }
    on: { verifed: check_again }
  check_again:
    call: verfy
    on: { else: done }
  done:
    end: done
";
    let run = check_files(&[("shop.yaml", caller), ("verify.yaml", CALLEE)]);
    assert_eq!(
        run.lines(),
        [
            "./shop.yaml:7:15: error: dialog `verify` has no variable `purpos`",
            "  hint: did you mean `purpose`?",
            "./shop.yaml:8:23: error: dialog `verify` sets no variable `emial`",
            "  hint: did you mean `email`?",
            "./shop.yaml:9:5: error: dialog `verify` can end with `failed`, `verified`, which has no edge here",
            "  hint: add an edge for each, or `else: <node>` for the rest",
            "./shop.yaml:9:11: error: dialog `verify` never ends with `verifed`",
            "  hint: did you mean `verified`?",
            "./shop.yaml:11:11: error: unknown dialog `verfy`",
            "  hint: did you mean `verify`?",
            "5 errors in 1 file",
        ],
        "stderr: {}",
        run.stderr
    );
}

#[test]
fn dialogs_that_call_each_other_in_a_cycle_are_refused() {
    let first = "\
id: ping
version: 1
start: to_pong
nodes:
  to_pong:
    call: pong
    on: { else: done }
  done:
    end: done
";
    let second = first
        .replace("id: ping", "id: pong")
        .replace("to_pong", "to_ping")
        .replace("call: pong", "call: ping");
    let run = check_files(&[("ping.yaml", first), ("pong.yaml", &second)]);
    assert_eq!(
        run.lines(),
        [
            "./ping.yaml:6:11: error: dialogs call each other in a cycle: ping → pong → ping",
            "  hint: a dialog cannot call itself, directly or through others",
            "1 error in 1 file",
        ],
        "stderr: {}",
        run.stderr
    );
}

#[test]
fn translations_are_checked_in_their_own_files() {
    let dialog = "\
id: salon
version: 1
locales: [en, fr, de]
start: hello
nodes:
  hello:
    say: \"Welcome!\"
    next: ask_name
  ask_name:
    ask: \"Your name?\"
    entity: text
    on_exhausted: done
    next: done
  done:
    say: \"Thanks, {{ text }}.\"
    end: booked
";
    let run = check_files(&[
        ("salon.yaml", dialog),
        (
            "salon.fr.ftl",
            "hello = Bienvenue !\ndone = Merci, { $txt }.\nask_nam = Votre nom ?\n",
        ),
        ("salon.de.ftl", "hello = Hallo\nbroken = { $\n"),
    ]);
    assert_eq!(
        run.lines(),
        [
            "./salon.de.ftl:2:13: error: Fluent syntax: Expected one of \"a-zA-Z\"",
            "./salon.fr.ftl:2:1: error: unknown variable `$txt` in message `done`",
            "  hint: did you mean `text`?",
            "./salon.fr.ftl:3:1: warning: message `ask_nam` is no text of the dialog",
            "  hint: messages are named after the node (and field) whose text they translate, such as `ask_email` or `ask_email-invalid-2`",
            "./salon.yaml:10:10: error: this text has no `fr` translation",
            "  hint: add `ask_name = …` to the `fr` file",
            "3 errors in 3 files",
        ],
        "stderr: {}",
        run.stderr
    );
}

#[test]
fn a_range_belongs_to_a_number_question() {
    assert_reports(
        "\
id: seats
version: 1
start: ask_name
nodes:
  ask_name:
    ask: Name?
    entity: text
    min: 1
    on_exhausted: done
    next: ask_seats
  ask_seats:
    ask: Seats?
    entity: integer
    min: 9
    max: two
    on_exhausted: done
    next: done
  done:
    end: done
",
        &[
            "d.yaml:8:10: error: `min` belongs to `entity: number` or `entity: integer`",
            "  hint: set `entity: number` or `entity: integer`, or remove `min`",
            "d.yaml:15:10: error: `max` must be a number, found a string",
            "2 errors in 1 file",
        ],
    );
}

#[test]
fn a_pattern_must_be_a_regular_expression() {
    assert_reports(
        "\
id: orders
version: 1
start: ask_order
nodes:
  ask_order:
    ask: Order?
    entity: pattern
    pattern: \"([A-Z\"
    on_exhausted: done
    next: done
  done:
    end: done
",
        &[
            "d.yaml:8:14: error: `pattern` is not a regular expression: error: unclosed character class",
            "1 error in 1 file",
        ],
    );
}

#[test]
fn a_phone_question_names_a_country() {
    assert_reports(
        "\
id: callback
version: 1
start: ask_phone
nodes:
  ask_phone:
    ask: Your number?
    entity: phone
    region: England
    on_exhausted: done
    next: ask_day
  ask_day:
    ask: Which day?
    entity: date
    region: GB
    on_exhausted: done
    next: done
  done:
    say: \"We'll call {{ phone }} on {{ date }}.\"
    end: done
",
        &[
            "d.yaml:8:13: error: `region` must be a country code such as GB, US or FR, not `England`",
            "  hint: use the two-letter ISO 3166 code of the country",
            "d.yaml:14:13: error: `region` belongs to `entity: phone`",
            "  hint: set `entity: phone`, or remove `region`",
            "2 errors in 1 file",
        ],
    );
}

#[test]
fn a_classifier_is_a_configured_service_with_a_path_and_a_confidence() {
    assert_reports(
        "\
id: d
version: 1
start: done
understand: { service: nlu, path: model/parse, min_confidence: 2 }
nodes:
  done:
    end: done
",
        &[
            "d.yaml:4:35: error: `path` must start with `/` and hold no query, not `model/parse`",
            "d.yaml:4:64: error: `min_confidence` must be a number from 0 to 1",
            "2 errors in 1 file",
        ],
    );
    assert_reports(
        "\
id: d
version: 1
start: done
understand: { service: nlu }
nodes:
  done:
    end: done
",
        &[
            "d.yaml:4:24: error: unknown service `nlu`",
            "  hint: no services are configured: declare it under `services:` in config.yaml with its `base_url`",
            "1 error in 1 file",
        ],
    );
}

#[test]
fn graph_notes_what_a_running_engine_counted() {
    let dir = TempDir::new().expect("temp dir");
    let metrics = dir.path().join("metrics.txt");
    fs::write(
        &metrics,
        "# HELP colloquy_conversations_started_total Conversations started.\n\
         colloquy_conversations_started_total{dialog=\"otp_authentication\",version=\"1\"} 40\n\
         colloquy_conversations_ended_total{dialog=\"otp_authentication\",version=\"1\",result=\"authenticated\"} 31\n\
         colloquy_conversations_abandoned_total{dialog=\"otp_authentication\",version=\"1\",node=\"ask_code\"} 6\n\
         colloquy_conversations_abandoned_total{dialog=\"otp_authentication\",version=\"2\",node=\"ask_email\"} 9\n\
         colloquy_conversations_abandoned_total{dialog=\"appointment_booking\",version=\"1\",node=\"ask_email\"} 9\n",
    )
    .expect("write");
    let out = colloquy(Path::new(env!("CARGO_MANIFEST_DIR")))
        .args(["graph", "otp_authentication", "--counts"])
        .arg(&metrics)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let graph = String::from_utf8_lossy(&out.stdout);
    assert!(
        graph.contains("n_greet[\"greet<br/>say<br/>started: 40\"]"),
        "{graph}"
    );
    assert!(
        graph.contains("ask_code<br/>ask otp_code<br/>dropped here: 6"),
        "{graph}"
    );
    assert!(
        graph.contains("success<br/>end: authenticated<br/>ended: 31"),
        "{graph}"
    );
    assert!(
        !graph.contains("dropped here: 9"),
        "other versions and dialogs: {graph}"
    );
    let missing = colloquy(Path::new(env!("CARGO_MANIFEST_DIR")))
        .args(["graph", "--counts", "/nonexistent/metrics.txt"])
        .output()
        .expect("runs");
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn otp_send_by_sms_reports_an_unknown_channel_and_an_email_template() {
    let dialog = |with: &str| {
        format!(
            "\
id: texting
version: 1
start: ask_phone
nodes:
  ask_phone:
    ask: Your number?
    entity: phone
    on_exhausted: done
    next: send
  send:
    action: otp.send
    with: {with}
    on: {{ sent: done, cooldown: done, limited: done, failed: done }}
  done:
    end: done
templates:
  otp_email: {{ subject: Code, text: \"{{{{ code }}}}\" }}
"
        )
    };
    let run = check_source(&dialog(r#"{ channel: fax, to: "{{ phone }}" }"#));
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("d.yaml:12:22: error: unknown channel `fax`"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("use `email` (the default) or `sms`"));
    let run = check_source(&dialog(
        r#"{ channel: sms, to: "{{ phone }}", template: otp_email }"#,
    ));
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains(
            "d.yaml:12:56: error: `template: otp_email` names an email template, but this code goes by SMS"
        ),
        "{}",
        run.stdout
    );
    let run = check_source(&dialog(r#"{ channel: sms, to: "{{ phone }}" }"#));
    assert_eq!(run.code, 0, "{}", run.stdout);
}

#[test]
fn handoff_mistakes_are_reported_together() {
    assert_reports(
        r#"id: d
version: 1
start: greet
nodes:
  greet:
    say: "Hi"
    next: to_person
  to_person:
    handoff: "A colleague will answer."
    queue: "billing team"
    nxt: done
  done:
    say: "Bye"
    end: done
"#,
        &[
            "d.yaml:10:12: error: `billing team` is not a valid queue name",
            "  hint: a queue is a short name such as `billing` or `support`",
            "d.yaml:11:5: error: unknown key `nxt` in node `to_person`",
            "  hint: did you mean `next`?",
            "2 errors in 1 file",
        ],
    );
}

#[test]
fn yaml_the_reader_refuses_is_explained_in_words_about_the_file() {
    let deep = format!(
        "id: d\nversion: 1\nstart: a\nnodes:\n  a:\n    say: {}1{}\n    end: x\n",
        "[".repeat(70),
        "]".repeat(70)
    );
    assert_reports(
        &deep,
        &[
            "d.yaml:6:71: error: YAML syntax: the document is nested too deeply (more than 64 levels of lists and mappings)",
            "  hint: flatten the structure: no dialog, script or configuration needs that depth",
            "1 error in 1 file",
        ],
    );
    assert_reports(
        "id: d\nversion: 1\n---\nid: e\n",
        &[
            "d.yaml:4:1: error: YAML syntax: the file holds more than one YAML document (a `---` line starts another)",
            "  hint: a file holds one document: remove the `---` line and what follows it, or move that to a file of its own",
            "1 error in 1 file",
        ],
    );
    assert_reports(
        "id: d\nversion: 1\nstart: a\nnodes:\n  a:\n    say: *greeting\n    end: x\n",
        &[
            "d.yaml:6:10: error: YAML syntax: an alias (`*name`) refers to no anchor (`&name`) defined before it",
            "  hint: define the anchor above its first use, or write the value out",
            "1 error in 1 file",
        ],
    );
}

#[test]
fn a_turn_that_always_hits_the_transition_cap_is_an_error() {
    assert_reports(
        r#"id: d
version: 1
start: a
settings:
  max_transitions_per_turn: 2
nodes:
  a:
    say: "1"
    next: b
  b:
    say: "2"
    next: c
  c:
    say: "3"
    end: done
"#,
        &[
            "d.yaml:7:3: error: from node `a` a turn runs through 3 nodes without waiting for input, more than the 2 one turn may enter",
            "  hint: put an `ask` node on the way, or raise `settings.max_transitions_per_turn`",
            "1 error in 1 file",
        ],
    );
}
