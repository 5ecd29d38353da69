//! `entity: choice` over HTTP: the prompt carries its options as buttons, and typed text
//! (label, synonym, number, a sentence) answers like a button.

use crate::helpers::{TestApp, spawn_app_with_dialogs, test_config};

const SALON: &str = r#"
id: salon
version: 1
start: ask_service
nodes:
  ask_service:
    ask: "What would you like to book?"
    entity: choice
    choices:
      haircut: [cut, trim]
      colour: { label: "Colour or highlights", also: [color, dye, highlights] }
      beard_trim: [beard, shave]
    invalid: "Please pick one of the options."
    retries: 1
    save_as: service
    on_exhausted: gave_up
    next: booked
  booked:
    say: "Booking a {{ service }}."
    end: booked
  gave_up:
    end: gave_up
"#;

async fn app() -> (TestApp, tempfile::TempDir) {
    spawn_app_with_dialogs(&[("salon.yaml", SALON)], "salon", test_config()).await
}

#[tokio::test]
async fn the_prompt_carries_its_options_as_buttons() {
    let (app, _dir) = app().await;
    let (status, body) = app
        .post_json(&serde_json::json!({ "session_id": "s1", "message_id": "m1", "text": "hi" }))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["expecting"], "choice");
    assert_eq!(
        body["replies"],
        serde_json::json!([{
            "type": "choices",
            "text": "What would you like to book?",
            "options": [
                { "label": "Haircut", "value": "haircut" },
                { "label": "Colour or highlights", "value": "colour" },
                { "label": "Beard trim", "value": "beard_trim" },
            ],
        }])
    );
    // A button's value, sent as text, is the answer.
    let answer = app.say("s1", "colour").await;
    assert_eq!(answer.replies[0].text, "Booking a colour.");
    assert!(answer.replies[0].options.is_empty());
}

#[tokio::test]
async fn typed_answers_choose_like_buttons() {
    let (app, _dir) = app().await;
    for (i, (typed, chosen)) in [
        ("Haircut", "haircut"),
        ("3", "beard_trim"),
        ("could I get some highlights?", "colour"),
        ("just a beard trim thanks", "beard_trim"),
        ("a trim", "haircut"),
    ]
    .into_iter()
    .enumerate()
    {
        let session = format!("t{i}");
        app.say(&session, "hi").await;
        let answer = app.say(&session, typed).await;
        assert_eq!(
            answer.replies[0].text,
            format!("Booking a {chosen}."),
            "{typed}"
        );
    }
}

#[tokio::test]
async fn two_options_are_asked_about_and_a_wrong_one_re_offers_the_buttons() {
    let (app, _dir) = app().await;
    app.say("a1", "hi").await;
    let both = app.say("a1", "a haircut and a shave").await;
    assert_eq!(
        both.replies[0].text,
        "Did you mean Haircut or Beard trim? Please pick one."
    );
    assert_eq!(both.replies[0].kind, "choices");
    let wrong = app.say("a1", "a massage").await;
    assert_eq!(wrong.replies[0].text, "Please pick one of the options.");
    assert_eq!(wrong.replies[0].options.len(), 3);
    // The question to pick was not an invalid answer; the massage was the one retry.
    let gave_up = app.say("a1", "a pedicure").await;
    assert_eq!(gave_up.result.as_deref(), Some("gave_up"));
}
