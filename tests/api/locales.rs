//! Dialogs in two languages over HTTP: the session's `locale` picks the Fluent translation
//! (with plurals), the closest language is used for a regional tag, buttons are translated,
//! and the YAML's texts stay the default.

use crate::helpers::{TestApp, said, spawn_app_with_dialogs, test_config};

const SALON: &str = r#"
id: salon
version: 1
locales: [en, fr]
start: hello
context:
  slots: 1
nodes:
  hello:
    say: "Welcome!"
    next: ask_service
  ask_service:
    ask: "What would you like? {{ slots }} slots left."
    entity: choice
    choices:
      haircut: [cut]
      colour: [color]
    invalid: "Please pick one."
    on_exhausted: done
    next: done
  done:
    say: "Booked: {{ choice }}."
    end: booked
"#;

const SALON_FR: &str = "\
hello = Bienvenue !
ask_service = Que souhaitez-vous ? { $slots ->
    [one] Il reste une place.
   *[other] Il reste { $slots } places.
}
ask_service-invalid = Choisissez une option, s'il vous plaît.
ask_service-haircut = Coupe
ask_service-colour = Couleur
done = Réservé : { $choice }.
";

/// The default locale's file only fixes what the YAML's text cannot say: a plural.
const SALON_EN: &str = "\
ask_service = What would you like? { $slots ->
    [one] One slot left.
   *[other] { $slots } slots left.
}
";

async fn app() -> (TestApp, tempfile::TempDir) {
    let files = [
        ("salon.yaml", SALON),
        ("salon.fr.ftl", SALON_FR),
        ("salon.en.ftl", SALON_EN),
    ];
    spawn_app_with_dialogs(&files, "salon", test_config()).await
}

async fn say_in(app: &TestApp, session: &str, locale: &str, text: &str) -> serde_json::Value {
    let (status, body) = app
        .post_json(&serde_json::json!({
            "session_id": session, "message_id": format!("{session}-{text}"), "text": text, "locale": locale,
        }))
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn a_session_in_french_gets_the_french_texts_plurals_and_buttons() {
    let (app, _dir) = app().await;
    let first = say_in(&app, "fr1", "fr-CA", "bonjour").await;
    assert_eq!(first["replies"][0]["text"], "Bienvenue !");
    assert_eq!(
        first["replies"][1]["text"],
        "Que souhaitez-vous ? Il reste une place."
    );
    assert_eq!(first["replies"][1]["options"][0]["label"], "Coupe");
    assert_eq!(first["replies"][1]["options"][1]["value"], "colour");
    // The locale stays with the session; the answer is understood by value or synonym.
    let wrong = app.say("fr1", "un massage").await;
    assert_eq!(said(&wrong), "Choisissez une option, s'il vous plaît.");
    let done = app.say("fr1", "color").await;
    assert_eq!(said(&done), "Réservé : colour.");
}

#[tokio::test]
async fn other_languages_get_the_default_texts_and_a_bad_tag_is_refused() {
    let (app, _dir) = app().await;
    let german = say_in(&app, "de1", "de", "hallo").await;
    assert_eq!(german["replies"][0]["text"], "Welcome!");
    assert_eq!(
        german["replies"][1]["text"],
        "What would you like? One slot left."
    );
    assert_eq!(german["replies"][1]["options"][0]["label"], "Haircut");
    let plain = app.say("en1", "hi").await;
    assert_eq!(
        said(&plain),
        "Welcome! | What would you like? One slot left."
    );
    let (status, body) = app
        .post_json(&serde_json::json!({
            "session_id": "x1", "message_id": "m1", "text": "hi", "locale": "not a tag!",
        }))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_request");
}

#[tokio::test]
async fn the_configured_locale_is_the_default_of_sessions_whose_client_sends_none() {
    let mut config = test_config();
    config.dialogs.locale = Some("fr".to_owned());
    let files = [("salon.yaml", SALON), ("salon.fr.ftl", SALON_FR)];
    let (app, _dir) = spawn_app_with_dialogs(&files, "salon", config).await;
    assert_eq!(
        said(&app.say("c1", "hi").await),
        "Bienvenue ! | Que souhaitez-vous ? Il reste une place."
    );
    // A client's own locale still wins.
    let english = say_in(&app, "c2", "en", "hi").await;
    assert_eq!(english["replies"][0]["text"], "Welcome!");
}
