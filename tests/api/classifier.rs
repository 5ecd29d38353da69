//! A dialog's outside classifier (`understand:`), as a mock of Rasa's `/model/parse` on
//! 127.0.0.1: asked only about messages nothing in the dialog understood and never at a code
//! question; its entity answers the question by the entity's rules, its intent is a keyword
//! of the same name, and when it fails or is unsure the fallback follows.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use colloquy::config::{Config, ServiceConfig};
use tokio::sync::Mutex;

use crate::helpers::{TestApp, flagship_translations, said, spawn_app_with_dialogs, test_config};

#[derive(Clone, Default)]
struct Nlu {
    /// Every text the classifier was asked about.
    asked: Arc<Mutex<Vec<String>>>,
}

async fn parse(State(nlu): State<Nlu>, body: String) -> (StatusCode, String) {
    let request: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let text = request["text"].as_str().unwrap_or_default().to_owned();
    nlu.asked.lock().await.push(text.clone());
    let answer = match text.as_str() {
        "I'd rather not continue" => {
            serde_json::json!({ "text": text, "intent": { "name": "cancel", "confidence": 0.91 }, "entities": [] })
        }
        "my work address, the one at acme" => serde_json::json!({
            "text": text,
            "intent": { "name": "inform", "confidence": 0.88 },
            "entities": [{ "entity": "email", "value": "Bob@Acme.example", "start": 0, "end": 5 }],
        }),
        "gibberish the model is unsure of" => {
            serde_json::json!({ "text": text, "intent": { "name": "cancel", "confidence": 0.2 }, "entities": [] })
        }
        "the model breaks" => return (StatusCode::INTERNAL_SERVER_ERROR, "boom".to_owned()),
        "the model is slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            serde_json::json!({})
        }
        _ => serde_json::json!({ "text": text, "intent": null, "entities": [] }),
    };
    (StatusCode::OK, answer.to_string())
}

async fn start_nlu() -> (String, Nlu) {
    let nlu = Nlu::default();
    let app = Router::new()
        .route("/model/parse", post(parse))
        .with_state(nlu.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), nlu)
}

/// The flagship with the classifier turned on.
async fn app() -> (TestApp, Nlu, tempfile::TempDir) {
    let (base_url, nlu) = start_nlu().await;
    let mut config: Config = test_config();
    config.services.insert(
        "nlu".to_owned(),
        ServiceConfig {
            base_url,
            timeout: Duration::from_millis(800),
            headers: std::collections::BTreeMap::new(),
            max_response_bytes: 64 * 1024,
        },
    );
    let flagship = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dialogs/otp_authentication.yaml"),
    )
    .expect("the flagship");
    let with_classifier = flagship.replacen(
        "\nnodes:\n",
        "\nunderstand: { service: nlu, min_confidence: 0.6 }\n\nnodes:\n",
        1,
    );
    let translations = flagship_translations();
    let mut files: Vec<(&str, &str)> = vec![("otp_authentication.yaml", &with_classifier)];
    files.extend(
        translations
            .iter()
            .map(|(name, text)| (name.as_str(), text.as_str())),
    );
    let (app, dir) = spawn_app_with_dialogs(&files, "otp_authentication", config).await;
    (app, nlu, dir)
}

#[tokio::test]
async fn the_classifier_hears_what_the_dialog_did_not() {
    let (app, nlu, _dir) = app().await;
    app.say("s", "hi").await;
    // Understood here: the classifier is not asked.
    let asked = app.say("s", "cancel").await;
    assert_eq!(asked.result.as_deref(), Some("cancelled"));
    assert!(nlu.asked.lock().await.is_empty());

    app.say("t", "hi").await;
    let cancelled = app.say("t", "I'd rather not continue").await;
    assert_eq!(
        cancelled.result.as_deref(),
        Some("cancelled"),
        "the intent is the keyword"
    );

    app.say("u", "hi").await;
    let sent = app.say("u", "my work address, the one at acme").await;
    assert_eq!(sent.node, "ask_code", "{}", said(&sent));
    assert!(
        said(&sent).contains("code to Bob@acme.example"),
        "{}",
        said(&sent)
    );
    assert_eq!(app.emails_to("Bob@acme.example"), 1);
    assert_eq!(nlu.asked.lock().await.len(), 2);
}

#[tokio::test]
async fn an_unsure_failing_or_slow_classifier_leaves_the_fallback() {
    let (app, _nlu, _dir) = app().await;
    app.say("s", "hi").await;
    for text in ["gibberish the model is unsure of", "the model breaks"] {
        let unsure = app.say("s", text).await;
        assert_eq!(unsure.node, "ask_email");
        assert!(
            said(&unsure).starts_with("Sorry, I didn't understand that."),
            "{text}: {}",
            said(&unsure)
        );
    }
    let started = std::time::Instant::now();
    let slow = app.say("s", "the model is slow").await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the service's timeout holds"
    );
    assert_eq!(slow.node, "ask_email");
    assert!(
        said(&slow).starts_with("That doesn't look like an email address"),
        "{}",
        said(&slow)
    );
}

#[tokio::test]
async fn a_code_is_never_sent_to_the_classifier() {
    let (app, nlu, _dir) = app().await;
    app.say("s", "hi").await;
    app.say("s", "alice@example.com").await;
    let unclear = app.say("s", "where is my code").await;
    assert_eq!(unclear.node, "ask_code");
    assert!(
        nlu.asked.lock().await.is_empty(),
        "{:?}",
        nlu.asked.lock().await
    );
}
