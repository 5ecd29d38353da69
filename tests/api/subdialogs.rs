//! `call` over HTTP: a dialog runs the shipped OTP flow as a step, its questions and replies
//! reach the user as the caller's, and the caller goes on by its result with its outputs.

use crate::helpers::{
    TestApp, dialogs_dir, flagship_translations, said, spawn_app_with_dialogs, test_config,
};

const NEWSLETTER: &str = r#"
id: newsletter
version: 1
start: hello
context:
  topic: "news"
nodes:
  hello:
    say: "Let's sign you up for {{ topic }}."
    next: verify
  verify:
    call: otp_authentication
    outputs: { subscriber: email }
    on: { authenticated: subscribed, cancelled: maybe_later, else: not_verified }
  subscribed:
    say: "Done: {{ subscriber }} gets the {{ topic }}."
    end: subscribed
  maybe_later:
    say: "Maybe later, then."
    end: cancelled
  not_verified:
    say: "Without a verified address I can't sign you up."
    end: not_verified
"#;

async fn app() -> (TestApp, tempfile::TempDir) {
    let otp = std::fs::read_to_string(dialogs_dir().join("otp_authentication.yaml")).unwrap();
    let translations = flagship_translations();
    let mut files = vec![
        ("newsletter.yaml", NEWSLETTER),
        ("otp_authentication.yaml", otp.as_str()),
    ];
    files.extend(translations.iter().map(|(n, t)| (n.as_str(), t.as_str())));
    spawn_app_with_dialogs(&files, "newsletter", test_config()).await
}

#[tokio::test]
async fn the_otp_flow_runs_as_a_step_and_the_caller_goes_on_with_its_output() {
    let (app, _dir) = app().await;
    let first = app.say("n1", "hi").await;
    assert_eq!(
        said(&first),
        "Let's sign you up for news. | Hi! I'll verify your email address with a one-time code. | What's your email address?"
    );
    // Inside the callee, the session is on the callee's node and dialog.
    assert_eq!(
        (first.dialog.as_str(), first.node.as_str()),
        ("otp_authentication", "ask_email")
    );
    app.say("n1", "it's ann@example.com").await;
    let code = app.last_code("ann@example.com").await;
    let done = app.say("n1", &code).await;
    assert!(
        said(&done).ends_with("Done: ann@example.com gets the news."),
        "{}",
        said(&done)
    );
    assert_eq!(done.result.as_deref(), Some("subscribed"));
    assert_eq!(done.dialog, "newsletter");
    // The caller's context came back whole, without the callee's variables.
    let session = app.get_json("/v1/sessions/n1").await;
    assert_eq!(session["result"], "subscribed");
}

#[tokio::test]
async fn a_cancel_inside_the_callee_takes_the_callers_edge_and_a_new_message_starts_over() {
    let (app, _dir) = app().await;
    app.say("n2", "hi").await;
    let cancelled = app.say("n2", "never mind").await;
    assert!(
        said(&cancelled).ends_with("Maybe later, then."),
        "{}",
        said(&cancelled)
    );
    assert_eq!(cancelled.result.as_deref(), Some("cancelled"));
    // The caller starts over, and so calls the OTP flow again.
    let again = app.say("n2", "hello again").await;
    assert!(
        said(&again).starts_with("Let's sign you up"),
        "{}",
        said(&again)
    );
    assert_eq!(
        (again.dialog.as_str(), again.node.as_str()),
        ("otp_authentication", "ask_email")
    );
}

#[tokio::test]
async fn other_results_take_else() {
    let (app, _dir) = app().await;
    app.say("n3", "hi").await;
    for typed in ["no@", "nope@", "still@no", "not@address"] {
        app.say("n3", typed).await;
    }
    let session = app.get_json("/v1/sessions/n3").await;
    assert_eq!(session["result"], "not_verified", "{session}");
}

const CHECKOUT: &str = r#"
id: checkout
version: 1
start: ask_email
nodes:
  ask_email:
    ask: "Which email is your account under?"
    entity: email
    on_exhausted: done
    next: verify
  verify:
    call: otp_authentication
    inputs: { email: "{{ email }}" }
    on: { authenticated: paid, else: done }
  paid:
    say: "Paid."
    end: paid
  done:
    end: stopped
"#;

#[tokio::test]
async fn an_input_is_taken_as_the_answer_and_not_asked_again() {
    let otp = std::fs::read_to_string(dialogs_dir().join("otp_authentication.yaml")).unwrap();
    let translations = flagship_translations();
    let mut files = vec![
        ("checkout.yaml", CHECKOUT),
        ("otp_authentication.yaml", otp.as_str()),
    ];
    files.extend(translations.iter().map(|(n, t)| (n.as_str(), t.as_str())));
    let (app, _dir) = spawn_app_with_dialogs(&files, "checkout", test_config()).await;
    app.say("c1", "hi").await;
    let asked = app.say("c1", "bea@example.com").await;
    assert_eq!(
        said(&asked),
        "Hi! I'll verify your email address with a one-time code. | I've emailed a 4-digit code to bea@example.com. It expires in 5 minutes. Enter it here, or type 'resend' for a new one, 'change email' to use another address, or 'cancel' to stop."
    );
    let code = app.last_code("bea@example.com").await;
    assert_eq!(
        said(&app.say("c1", &code).await),
        "Thanks, bea@example.com is verified. | Paid."
    );
}

/// A new session's first message picks the dialog whose trigger it mentions.
#[tokio::test]
async fn a_first_message_that_mentions_a_trigger_starts_that_dialog() {
    let app = crate::helpers::spawn_app().await;
    let booking = app
        .say("t1", "Hello, can I book a haircut for friday?")
        .await;
    assert_eq!(booking.dialog, "appointment_booking");
    // The service and the day came with the message, so the slot search ran at once (here the
    // booking service is a port nothing listens on).
    assert_eq!(
        said(&booking),
        "Hi! I can book you an appointment at the salon. | Our booking system isn't answering right now. Please try again in a few minutes."
    );
    let plain = app.say("t2", "hi").await;
    assert_eq!(plain.dialog, "otp_authentication");
}
