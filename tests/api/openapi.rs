//! The OpenAPI document against the server: the committed file is what `colloquy openapi`
//! writes; with every optional group on, every documented operation is routed, every other
//! method of a documented path is 405, the paths of a group that is off are 404; and real
//! answers have a documented status, content type and body.

use std::collections::BTreeSet;

use colloquy::clock::Clock;
use colloquy::config::{ClientConfig, Config, KoreClient, Secret};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, closed_port, spawn_app_with, test_config};

const API_KEY: &str = "openapi-test-key-0123456789";
const KORE_SECRET: &str = "kore-client-secret-0123";

fn document() -> Value {
    serde_json::from_str(&colloquy::http::openapi::rendered()).expect("JSON")
}

/// Every optional group on, auth on.
fn everything() -> Config {
    let mut config = test_config();
    config.auth.enabled = true;
    config.auth.clients = vec![ClientConfig {
        id: "tests".into(),
        api_keys: vec![Secret::new(API_KEY)],
        signing_secrets: Vec::new(),
        // An agent reaches every route, the handoff ones too.
        role: colloquy::config::ClientRole::Agent,
    }];
    config.otp_api.enabled = true;
    config.otp_api.capillary = true;
    config.otp_api.digit = true;
    // Numbers are read in India, and texts go to the dev outbox through the guard.
    config.dialogs.phone_region = Some("IN".to_owned());
    config.server.dev = true;
    config.kore.enabled = true;
    config.kore.clients = vec![KoreClient {
        app_id: "tests".into(),
        secret: Secret::new(KORE_SECRET),
    }];
    config
}

/// Every documented (method, path template).
fn operations(document: &Value) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            found.insert((method.to_uppercase(), path.clone()));
        }
    }
    found
}

/// A path template with its parameters filled in.
fn concrete(template: &str) -> String {
    template
        .replace("{id}", "s-1")
        .replace("{bot}", "bot-1")
        .replace("{instance}", "i-1")
}

async fn send(app: &TestApp, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
    let mut request = app
        .client
        .request(method, app.url(path))
        .bearer_auth(API_KEY);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.expect("an answer");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[test]
fn the_committed_document_is_the_one_the_code_describes() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.json");
    let committed = std::fs::read_to_string(path).expect("committed");
    assert!(
        committed == colloquy::http::openapi::rendered(),
        "docs/openapi.json is stale: run `cargo run -- openapi > docs/openapi.json`"
    );
}

#[test]
fn it_is_openapi_3_1_with_unique_operation_ids_and_known_security() {
    let document = document();
    assert_eq!(document["openapi"], "3.1.0");
    let schemes = document["components"]["securitySchemes"]
        .as_object()
        .expect("security schemes");
    let mut ids = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str().expect("an operation id");
            assert!(ids.insert(id.to_owned()), "{id} twice");
            assert!(
                operation["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{method} {path} has no tag"
            );
            for requirement in operation["security"].as_array().into_iter().flatten() {
                for scheme in requirement.as_object().unwrap().keys() {
                    assert!(schemes.contains_key(scheme), "{scheme} is not defined");
                }
            }
            let open = [
                "/healthz",
                "/metrics",
                "/openapi.json",
                "/chat",
                "/widget.js",
                "/widget.css",
            ];
            assert_eq!(
                operation["security"].is_null(),
                open.contains(&path.as_str()),
                "{method} {path}: security"
            );
        }
    }
}

#[tokio::test]
async fn every_documented_operation_is_routed_and_no_other_method_is() {
    let document = document();
    let app = spawn_app_with(everything()).await;
    let documented = operations(&document);
    let paths: BTreeSet<&String> = documented.iter().map(|(_, path)| path).collect();
    for path in paths {
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            let (status, body) = send(&app, method, &concrete(path), Some(&json!({}))).await;
            let code = body["error"]["code"].as_str().unwrap_or("");
            if documented.contains(&(method.to_owned(), path.clone())) {
                assert!(
                    !(status == 404 && code == "not_found") && status != 405,
                    "{method} {path} is documented but not routed: {status} {body}"
                );
            } else {
                assert_eq!(
                    (status, code),
                    (405, "method_not_allowed"),
                    "{method} {path} is routed but not documented: {body}"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_group_that_is_off_is_not_routed_and_its_operations_say_when_they_exist() {
    let document = document();
    let mut config = test_config();
    config.otp_api.enabled = false;
    config.email.provider = colloquy::config::EmailProvider::Sendgrid;
    config.email.sendgrid.base_url = format!("http://127.0.0.1:{}", closed_port());
    config.email.sendgrid.api_key = Some(Secret::new(&format!(
        "SG.{}",
        "colloquy-test-key-0123456789"
    )));
    let app = spawn_app_with(config).await;
    for path in [
        "/v1/otp",
        "/v2/otp/generate",
        "/otp/v1/_create",
        "/user-otp/v1/_send",
        "/v1/dev/outbox",
        "/dev/mailbox",
        "/v1/dev/clock",
        "/chatbot/v2/webhook/bot-1",
    ] {
        let (status, body) = send(&app, "POST", path, Some(&json!({}))).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("not_found")),
            "{path}"
        );
    }
    for (path, item) in document["paths"].as_object().unwrap() {
        let optional = [
            "/v1/otp",
            "/v2/",
            "/otp/v1/",
            "/user-otp/v1/",
            "/v1/dev/",
            "/dev/",
            "/chatbot/",
        ]
        .iter()
        .any(|prefix| path.starts_with(prefix));
        for (method, operation) in item.as_object().unwrap() {
            let description = operation["description"].as_str().unwrap_or("");
            assert_eq!(
                description.contains("Only "),
                optional,
                "{method} {path}: {description}"
            );
        }
    }
}

/// The schema of `template`'s answer with `status` and `content_type`, with the document's
/// components beside it so that its references resolve; panics when that answer is not
/// documented.
fn answer_schema(
    document: &Value,
    method: &str,
    template: &str,
    status: u16,
    content_type: &str,
) -> Option<Value> {
    let operation = &document["paths"][template][method.to_lowercase()];
    assert!(
        operation.is_object(),
        "{method} {template} is not documented"
    );
    let response = &operation["responses"][status.to_string()];
    assert!(
        response.is_object(),
        "{method} {template}: {status} is not documented"
    );
    let media = content_type.split(';').next().unwrap_or("").trim();
    let content = response["content"].as_object();
    if content.is_none_or(serde_json::Map::is_empty) {
        return None;
    }
    let content = content.unwrap();
    let Some(documented) = content.get(media) else {
        panic!("{method} {template} {status}: {media} is not documented: {content:?}");
    };
    let mut schema = documented["schema"].clone();
    schema["components"] = document["components"].clone();
    Some(schema)
}

/// Sends a request and checks its answer against the document: a documented status and
/// content type, and a JSON body the schema accepts. Returns the status and body.
async fn checked(
    app: &TestApp,
    document: &Value,
    (method, template, path): Route<'_>,
    body: Option<&Value>,
    token: Option<&str>,
) -> (u16, Value) {
    let mut request = app
        .client
        .request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            app.url(path),
        )
        .bearer_auth(token.unwrap_or(API_KEY));
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.expect("an answer");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = response.text().await.expect("a body");
    let schema = answer_schema(document, method, template, status, &content_type);
    let value = if content_type.starts_with("application/json") {
        serde_json::from_str(&text).expect("a JSON body")
    } else {
        Value::String(text)
    };
    if let Some(schema) = schema {
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&schema)
            .expect("a valid schema");
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        assert!(
            errors.is_empty(),
            "{method} {path} {status}: the body does not match the document: {errors:#?}\n{value:#}"
        );
    }
    (status, value)
}

fn kore_token(app: &TestApp, user: &str) -> String {
    let exp = app.clock.now().timestamp() + 600;
    encode(
        &Header::new(Algorithm::HS256),
        &json!({ "appId": "tests", "userIdentity": user, "exp": exp }),
        &EncodingKey::from_secret(KORE_SECRET.as_bytes()),
    )
    .unwrap()
}

/// A request: method, the documented path template, the path requested.
type Route<'a> = (&'a str, &'a str, &'a str);

fn at<'a>(method: &'a str, path: &'a str) -> Route<'a> {
    (method, path, path)
}

#[tokio::test]
async fn native_answers_have_documented_statuses_types_and_bodies() {
    let doc = &document();
    let app = spawn_app_with(everything()).await;
    for path in [
        "/healthz",
        "/metrics",
        "/openapi.json",
        "/chat",
        "/widget.js",
        "/widget.css",
        "/v1/dialogs",
        "/v1/dev/clock",
        "/v1/dev/outbox",
        "/dev/mailbox",
        "/dev/mailbox.css",
    ] {
        let (status, _) = checked(&app, doc, at("GET", path), None, None).await;
        assert_eq!(status, 200, "{path}");
    }
    let webhook = at("POST", "/v1/webhook");
    for (body, expected) in [
        (
            json!({"session_id": "s-1", "message_id": "m1", "text": "hi"}),
            200,
        ),
        (
            json!({"session_id": "s-1", "message_id": "m2", "text": "alice@example.com"}),
            200,
        ),
        (json!({"session_id": "s-1", "text": 3}), 422),
        (json!({"session_id": "s 1", "text": "hi"}), 422),
        (
            json!({"session_id": "s-2", "text": "hi", "dialog": "nope"}),
            404,
        ),
        (
            json!({"session_id": "s-1", "message_id": "m1", "text": "other"}),
            409,
        ),
        (json!([1]), 422),
    ] {
        let (status, _) = checked(&app, doc, webhook, Some(&body), None).await;
        assert_eq!(status, expected, "{body}");
    }
    assert_eq!(
        checked(&app, doc, webhook, None, Some("wrong")).await.0,
        401
    );
    let session = ("GET", "/v1/sessions/{id}", "/v1/sessions/s-1");
    assert_eq!(checked(&app, doc, session, None, None).await.0, 200);
    let context = (
        "GET",
        "/v1/dev/sessions/{id}/context",
        "/v1/dev/sessions/s-1/context",
    );
    assert_eq!(checked(&app, doc, context, None, None).await.0, 200);
    let advance = at("POST", "/v1/dev/clock");
    for (body, expected) in [
        (json!({"advance": "1s"}), 200),
        (json!({"advance": "soon"}), 422),
    ] {
        assert_eq!(
            checked(&app, doc, advance, Some(&body), None).await.0,
            expected
        );
    }
    let end = ("DELETE", "/v1/sessions/{id}", "/v1/sessions/s-1");
    assert_eq!(checked(&app, doc, end, None, None).await.0, 204);
    assert_eq!(checked(&app, doc, end, None, None).await.0, 404);
    let unreadable = ("GET", "/v1/sessions/{id}", "/v1/sessions/%FF");
    assert_eq!(checked(&app, doc, unreadable, None, None).await.0, 400);
    let clear = at("DELETE", "/v1/dev/outbox");
    assert_eq!(checked(&app, doc, clear, None, None).await.0, 204);
}

#[tokio::test]
async fn otp_answers_have_documented_statuses_types_and_bodies() {
    let doc = &document();
    let app = spawn_app_with(everything()).await;
    let send = at("POST", "/v1/otp");
    let verify = at("POST", "/v1/otp/verify");
    let bob = json!({"email": "bob@example.com"});
    for (route, body, expected) in [
        (send, bob.clone(), 201),
        (send, bob, 429),
        (send, json!({"email": "bob"}), 422),
        (
            verify,
            json!({"email": "bob@example.com", "code": "x"}),
            200,
        ),
    ] {
        assert_eq!(
            checked(&app, doc, route, Some(&body), None).await.0,
            expected,
            "{body}"
        );
    }
    let generate = at("POST", "/v2/otp/generate");
    let validate = at("POST", "/v2/otp/validate");
    let carol =
        json!({"entityType": "EMAIL", "entityValue": "carol@example.com", "action": "GENERIC"});
    let mut wrong = carol.clone();
    wrong["code"] = json!("0000x");
    for (route, body, expected) in [
        (generate, carol.clone(), 200),
        (generate, carol, 429),
        (generate, json!({}), 400),
        (generate, json!([]), 422),
        (
            generate,
            json!({"entityType": "MOBILE", "entityValue": "12", "action": "GENERIC"}),
            400,
        ),
        (
            generate,
            json!({
                "entityType": "MOBILE", "entityValue": "9876543210", "action": "GENERIC",
                "channels": [{"type": "SMS"}, {"type": "EMAIL", "value": "erin@example.com"},
                    {"type": "WHATSAPP"}],
                "whatsappTemplateName": "otp",
            }),
            200,
        ),
        (validate, wrong, 200),
    ] {
        assert_eq!(
            checked(&app, doc, route, Some(&body), None).await.0,
            expected,
            "{body}"
        );
    }
}

#[tokio::test]
async fn digit_answers_have_documented_statuses_types_and_bodies() {
    let doc = &document();
    let app = spawn_app_with(everything()).await;
    let create = at("POST", "/otp/v1/_create");
    let digit = json!({"otp": {"identity": "dan@example.com", "tenantId": "pb.amritsar"}});
    let (status, created) = checked(&app, doc, create, Some(&digit), None).await;
    assert_eq!(status, 201);
    let search = json!({"otp": {"UUID": created["otp"]["UUID"], "tenantId": "pb.amritsar"}});
    let wrong =
        json!({"otp": {"otp": "0000x", "identity": "dan@example.com", "tenantId": "pb.amritsar"}});
    for (route, body, expected) in [
        (create, digit, 429),
        (create, json!({}), 400),
        (at("POST", "/otp/v1/_search"), search, 200),
        (at("POST", "/otp/v1/_validate"), wrong, 400),
        (
            at("POST", "/otp/v1/_search"),
            json!({"otp": {"UUID": "no-such-code", "tenantId": "pb"}}),
            200,
        ),
        (
            create,
            json!({"otp": {"identity": "9876543211", "tenantId": "pb.amritsar"}}),
            201,
        ),
    ] {
        assert_eq!(
            checked(&app, doc, route, Some(&body), None).await.0,
            expected,
            "{body}"
        );
    }
    let user_otp = at("POST", "/user-otp/v1/_send");
    let login =
        json!({"otp": {"mobileNumber": "9876543212", "tenantId": "pb.amritsar", "type": "login"}});
    for (route, body, expected) in [
        (user_otp, login.clone(), 201),
        (user_otp, login, 429),
        (user_otp, json!({}), 400),
        (
            user_otp,
            json!({"otp": {"mobileNumber": "98765abcde", "tenantId": "pb", "type": "other"}}),
            400,
        ),
    ] {
        assert_eq!(
            checked(&app, doc, route, Some(&body), None).await.0,
            expected,
            "{body}"
        );
    }
}

#[tokio::test]
async fn kore_answers_have_documented_statuses_types_and_bodies() {
    let doc = &document();
    let app = spawn_app_with(everything()).await;
    let token = kore_token(&app, "u1");
    let v2 = (
        "POST",
        "/chatbot/v2/webhook/{bot}",
        "/chatbot/v2/webhook/bot-1",
    );
    let message = json!({"session": {"new": true}, "message": {"type": "text", "val": "hi"}, "from": {"id": "u1"}});
    let closure =
        json!({"message": {"type": "event", "val": "SESSION_CLOSURE"}, "from": {"id": "u1"}});
    assert_eq!(
        checked(&app, doc, v2, Some(&message), Some(&token)).await.0,
        200
    );
    assert_eq!(
        checked(&app, doc, v2, Some(&closure), Some(&token)).await.0,
        200
    );
    assert_eq!(checked(&app, doc, v2, Some(&message), None).await.0, 401);
    let v1 = ("POST", "/chatbot/hooks/{bot}", "/chatbot/hooks/bot-1");
    let message = json!({"message": {"text": "hi"}, "from": {"id": "u1"}});
    assert_eq!(
        checked(&app, doc, v1, Some(&message), Some(&token)).await.0,
        200
    );
    assert_eq!(
        checked(&app, doc, v1, Some(&json!({})), Some(&token))
            .await
            .0,
        400
    );
    let unreadable = ("POST", "/chatbot/hooks/{bot}", "/chatbot/hooks/%FF");
    assert_eq!(
        checked(&app, doc, unreadable, Some(&message), Some(&token))
            .await
            .0,
        400
    );
}

#[test]
fn the_check_refuses_a_body_the_document_does_not_allow() {
    let document = document();
    let schema = answer_schema(&document, "POST", "/v1/webhook", 404, "application/json")
        .expect("a JSON body");
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&schema)
        .unwrap();
    assert!(validator.is_valid(&json!({"error": {"code": "unknown_dialog", "message": "m"}})));
    assert!(!validator.is_valid(&json!({"error": {"code": "no_such_code", "message": "m"}})));
    assert!(!validator.is_valid(&json!({"errors": []})));
}
