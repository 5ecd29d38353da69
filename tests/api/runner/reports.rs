//! What `colloquy test` writes besides the terminal: JUnit XML and coverage JSON, and the
//! `--min-coverage` gate.

use std::fs;

use super::{HAPPY, scripts, test_in};

const GREETS_WRONGLY: &str = r#"
dialog: otp_authentication
scripts:
  - name: "fails <\"&'>"
    steps:
      - user: hi
      - bot: "Bye & <see you>"
"#;

/// JUnit XML with every `time` attribute made `T`, so it can be compared whole.
fn junit_without_times(path: &std::path::Path) -> String {
    let xml = fs::read_to_string(path).expect("the JUnit file");
    regex::Regex::new(r#"time="\d+\.\d{3}""#)
        .expect("a regex")
        .replace_all(&xml, r#"time="T""#)
        .into_owned()
}

#[test]
fn junit_has_a_suite_per_file_a_case_per_script_and_escapes_everything() {
    let dir = scripts(&[("a.yaml", HAPPY), ("b.yaml", GREETS_WRONGLY)]);
    let run = test_in(&dir, &[".", "--junit", "out/junit.xml"]);
    assert_eq!(run.code, 2, "the directory for the report does not exist");
    assert!(
        run.stderr
            .starts_with("error: cannot write out/junit.xml: "),
        "{}",
        run.stderr
    );
    let run = test_in(&dir, &[".", "--junit", "junit.xml"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(
        junit_without_times(&dir.path().join("junit.xml")),
        r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="colloquy" tests="2" failures="1" errors="0" skipped="0" time="T">
  <testsuite name="./a.yaml" tests="1" failures="0" errors="0" skipped="0" time="T">
    <testcase name="happy" classname="otp_authentication" file="./a.yaml" line="4" time="T"/>
  </testsuite>
  <testsuite name="./b.yaml" tests="1" failures="1" errors="0" skipped="0" time="T">
    <testcase name="fails &lt;&quot;&amp;&apos;&gt;" classname="otp_authentication" file="./b.yaml" line="4" time="T">
      <failure message="no reply of this turn matched" type="step">step:       ./b.yaml:7:9: bot: &quot;Bye &amp; &lt;see you&gt;&quot;
problem:    no reply of this turn matched
expected:   a reply exactly &quot;Bye &amp; &lt;see you&gt;&quot;
actual:     the bot said, in this turn:
              1. &quot;Hi! I&apos;ll verify your email address with a one-time code.&quot;
              2. &quot;What&apos;s your email address?&quot;
transcript:
  you&gt; hi
  bot&gt; Hi! I&apos;ll verify your email address with a one-time code.
  bot&gt; What&apos;s your email address?
</failure>
    </testcase>
  </testsuite>
</testsuites>
"#
    );
}

#[test]
fn coverage_json_and_the_terminal_show_what_was_never_reached() {
    let dir = scripts(&[("a.yaml", HAPPY)]);
    let run = test_in(&dir, &["a.yaml", "--coverage", "coverage.json"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout.contains(
            "\
coverage of otp_authentication v1 (1 script):
  nodes        6/22 (27.3%)
  transitions  5/45 (11.1%)
  never reached nodes: which_wrong_code, previous_code, wrong_code, expired_how, longer_code, code_expired, after_expired, wait_to_resend, send_failed, locked_how, locked_out, locked_for_now, too_many_sends, no_email, code_abandoned, cancelled
  never taken transitions:
    ask_email --exhausted--> no_email
"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("    * --'restart'--> greet\n"),
        "{}",
        run.stdout
    );
    let json: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(dir.path().join("coverage.json")).expect("coverage written"),
    )
    .expect("JSON");
    let dialog = &json["dialogs"][0];
    assert_eq!(dialog["dialog"], "otp_authentication");
    assert_eq!(dialog["version"], 1);
    assert_eq!(dialog["scripts"], 1);
    assert_eq!(dialog["nodes"]["covered"], 6);
    assert_eq!(dialog["nodes"]["total"], 22);
    assert_eq!(dialog["transitions"]["percent"], 11.11);
    assert_eq!(
        dialog["nodes"]["items"][0],
        serde_json::json!({ "node": "greet", "hits": 1 })
    );
    let transitions = dialog["transitions"]["items"]
        .as_array()
        .expect("transitions");
    assert!(transitions.contains(&serde_json::json!(
        { "from": "verify", "label": "valid", "to": "success", "hits": 1 }
    )));
    assert!(transitions.contains(&serde_json::json!(
        { "from": "*", "label": "'cancel'", "to": "cancelled", "hits": 0 }
    )));
}

#[test]
fn verbose_lists_every_node_and_transition_with_its_hits() {
    let dir = scripts(&[("a.yaml", HAPPY)]);
    let run = test_in(&dir, &["a.yaml", "-v"]);
    assert!(
        run.stdout.contains("       1  greet --next--> ask_email\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("       0  send_failed --'retry'--> send_code\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn min_coverage_fails_below_the_threshold_and_passes_at_or_above_it() {
    let dir = scripts(&[("a.yaml", HAPPY)]);
    let below = test_in(&dir, &["a.yaml", "--min-coverage", "50"]);
    assert_eq!(below.code, 1, "{}", below.stdout);
    assert!(
        below.stdout.contains(
            "coverage of otp_authentication is below --min-coverage 50%: transitions 11.1%"
        ),
        "{}",
        below.stdout
    );
    assert!(below.stdout.contains("ok: 1 passed, 0 failed"));
    let above = test_in(&dir, &["a.yaml", "--min-coverage", "11"]);
    assert_eq!(above.code, 0, "{}", above.stdout);
    let nonsense = test_in(&dir, &["a.yaml", "--min-coverage", "150"]);
    assert_eq!(nonsense.code, 2);
    assert!(
        nonsense
            .stderr
            .contains("`150` is not a percentage between 0 and 100"),
        "{}",
        nonsense.stderr
    );
}
