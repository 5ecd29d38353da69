//! Scripts that must fail, and fail with the right message: the step, what it expected, what
//! happened, the transcript; malformed scripts with `file:line:col` and exit 2.

use super::{HAPPY, scripts, test_in};

#[test]
fn a_wrong_reply_fails_with_the_step_the_expectation_the_replies_and_the_transcript() {
    let dir = scripts(&[(
        "s.yaml",
        "\
dialog: otp_authentication
scripts:
  - name: greets wrongly
    steps:
      - user: hi
      - bot: \"Hello! I'll verify your email.\"
",
    )]);
    let run = test_in(&dir, &["s.yaml"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        run.failure("greets wrongly"),
        "\
---- FAIL: greets wrongly (s.yaml:3, dialog otp_authentication)
step:       s.yaml:6:9: bot: \"Hello! I'll verify your email.\"
problem:    no reply of this turn matched
expected:   a reply exactly \"Hello! I'll verify your email.\"
actual:     the bot said, in this turn:
              1. \"Hi! I'll verify your email address with a one-time code.\"
              2. \"What's your email address?\"
transcript:
  you> hi
  bot> Hi! I'll verify your email address with a one-time code.
  bot> What's your email address?"
    );
    assert!(
        run.stdout.contains("FAIL  greets wrongly  s.yaml:3\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("\nFAILED: 0 passed, 1 failed, 0 skipped (1 script, "),
        "{}",
        run.stdout
    );
}

#[test]
fn a_wrong_code_shows_in_the_transcript_and_fails_the_expected_verification() {
    let dir = scripts(&[(
        "s.yaml",
        r#"
dialog: otp_authentication
scripts:
  - name: types a wrong code
    steps:
      - user: hi
      - user: alice@example.com
      - email: { to: alice@example.com, capture: { code: '\d{4}' } }
      - user: "{{ code.wrong }}"
      - bot: { contains: "is verified" }
"#,
    )]);
    let run = test_in(&dir, &["s.yaml"]);
    assert_eq!(run.code, 1);
    let block = run.failure("types a wrong code");
    assert!(
        block.contains("step:       s.yaml:10:9: bot: { contains: \"is verified\" }\n"),
        "{block}"
    );
    assert!(
        block.contains("expected:   a reply containing \"is verified\"\n"),
        "{block}"
    );
    assert!(
        block.contains("1. \"That code isn't right. Attempts left: 2."),
        "{block}"
    );
    assert!(
        block.contains("(email to alice@example.com: \"Your verification code\"; captured code = "),
        "{block}"
    );
}

#[test]
fn an_email_step_fails_when_no_email_reached_the_address() {
    let dir = scripts(&[(
        "s.yaml",
        r"
dialog: otp_authentication
scripts:
  - name: reads the wrong mailbox
    steps:
      - user: hi
      - user: alice@example.com
      - email: { to: bob@example.com, capture: { code: '\d{4}' } }
",
    )]);
    let run = test_in(&dir, &["s.yaml"]);
    assert_eq!(run.code, 1);
    let block = run.failure("reads the wrong mailbox");
    assert!(
        block.contains(
            "\
step:       s.yaml:8:9: email: { to: bob@example.com, capture: { code: '\\d{4}' } }
problem:    no email reached bob@example.com
expected:   an email to bob@example.com
actual:     the mailbox is empty: the dialog sent nothing to this address
"
        ),
        "{block}"
    );
}

#[test]
fn an_email_step_wants_a_new_email_and_no_email_wants_none() {
    let dir = scripts(&[(
        "s.yaml",
        r"
dialog: otp_authentication
scripts:
  - name: no second email
    steps:
      - user: hi
      - user: alice@example.com
      - email: { to: alice@example.com }
      - user: resend
      - email: { to: alice@example.com }
  - name: an email where none was expected
    steps:
      - user: hi
      - user: alice@example.com
      - no_email: alice@example.com
  - name: a capture that matches nothing
    steps:
      - user: hi
      - user: alice@example.com
      - email: { to: alice@example.com, capture: { code: 'PIN (\d+)' } }
",
    )]);
    let run = test_in(&dir, &["s.yaml"]);
    assert_eq!(run.code, 1);
    let cooldown = run.failure("no second email");
    assert!(
        cooldown.contains("problem:    no new email reached alice@example.com\n"),
        "{cooldown}"
    );
    assert!(
        cooldown.contains(
            "expected:   an email to alice@example.com newer than the one read at line 8\n"
        ),
        "{cooldown}"
    );
    let unexpected = run.failure("an email where none was expected");
    assert!(
        unexpected.contains("problem:    an email reached alice@example.com\n"),
        "{unexpected}"
    );
    let capture = run.failure("a capture that matches nothing");
    assert!(
        capture.contains(
            "\
problem:    capture `code`: /PIN (\\d+)/ matches nothing in the email to alice@example.com
actual:     the email's text:
            Your verification code is "
        ),
        "{capture}"
    );
}

#[test]
fn a_wrong_state_is_shown_field_by_field() {
    let dir = scripts(&[(
        "s.yaml",
        r"
dialog: otp_authentication
scripts:
  - name: expects too much
    steps:
      - user: hi
      - user: alice@example.com
      - expect: { status: ended, node: success, result: authenticated, context: { email: bob@example.com } }
",
    )]);
    let run = test_in(&dir, &["s.yaml"]);
    assert_eq!(run.code, 1);
    let block = run.failure("expects too much");
    assert!(
        block.contains(
            "\
problem:    the dialog is not in the expected state
expected:   status ended, node `success`, result `authenticated`, email = \"bob@example.com\"
actual:     status waiting, node `ask_code`, no result, email = \"alice@example.com\"
"
        ),
        "{block}"
    );
}

#[test]
fn a_malformed_script_is_reported_with_file_line_and_column_and_nothing_runs() {
    let dir = scripts(&[
        ("ok.yaml", HAPPY),
        (
            "bad.yaml",
            "\
dialog: otp_authenticaton
scripts:
  - name: typos everywhere
    steps:
      - usr: hi
      - user: hi
        bot: hello
      - bot: { contians: hello }
      - email: { to: a@x.io, capture: { code: '(\\d{4}' } }
      - user: \"{{ cod }}\"
      - wait: 5 minutes
      - expect: { status: done }
  - name: no steps
",
        ),
    ]);
    let run = test_in(&dir, &["."]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert_eq!(
        run.stderr.lines().collect::<Vec<_>>(),
        [
            "./bad.yaml:1:9: error: unknown dialog `otp_authenticaton`",
            "  hint: did you mean `otp_authentication`?",
            "./bad.yaml:5:9: error: unknown key `usr` in a step",
            "  hint: did you mean `user`?",
            "./bad.yaml:7:9: error: a step does one thing: `bot` needs a step of its own",
            "  hint: write `- user: …` and `- bot: …` as two list items",
            "./bad.yaml:8:16: error: unknown key `contians` in `bot`",
            "  hint: did you mean `contains`?",
            "./bad.yaml:9:47: error: `email.capture.code` is not a valid regex: unclosed group",
            "./bad.yaml:10:15: error: `user` uses `{{ cod }}` before any step defines `cod`",
            "  hint: did you mean `code`?",
            "./bad.yaml:11:15: error: `wait`: unknown unit `minutes` in `5 minutes`",
            "  hint: write a number and a unit, such as 30s, 5m, 2h or 1d",
            "./bad.yaml:12:27: error: `expect.status` must be `waiting` or `ended`",
            "./bad.yaml:13:5: error: a script needs `steps`",
            "error: 9 problems in 1 script file; nothing was run",
        ]
    );
    assert_eq!(run.stdout, "", "nothing ran, not even the good file");
}

#[test]
fn an_unknown_node_in_expect_is_a_script_error() {
    let dir = scripts(&[(
        "s.yaml",
        "\
dialog: otp_authentication
scripts:
  - name: typo in a node
    steps:
      - user: hi
      - expect: { node: ask_emial }
",
    )]);
    let run = test_in(&dir, &["s.yaml"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "s.yaml:6:25: error: dialog `otp_authentication` has no node `ask_emial`\n  hint: did you mean `ask_email`?\nerror: 1 problem in 1 script file; nothing was run\n"
    );
}
