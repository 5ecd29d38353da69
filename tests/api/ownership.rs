//! Sessions belong to the client that started them: another client can neither read,
//! continue, end nor stream them; agents can. A widget's publishable key works only from its
//! sites and only to talk and listen, and each session it starts needs that session's token.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with, test_config};
use colloquy::config::{ClientConfig, ClientRole, Secret, WidgetConfig};

const SHOP_KEY: &str = "API-KEY-OF-THE-SHOP-0001";
const BANK_KEY: &str = "API-KEY-OF-THE-BANK-0001";
const AGENT_KEY: &str = "API-KEY-OF-AN-AGENT-0001";
const WIDGET_KEY: &str = "pk_shop_widget_0123456789";
const SITE: &str = "https://shop.example.com";

fn client(id: &str, key: &str, role: ClientRole) -> ClientConfig {
    ClientConfig {
        id: id.to_owned(),
        api_keys: vec![Secret::new(key)],
        signing_secrets: Vec::new(),
        role,
    }
}

async fn app() -> TestApp {
    let mut config = test_config();
    config.auth.enabled = true;
    config.auth.clients = vec![
        client("shop", SHOP_KEY, ClientRole::Api),
        client("bank", BANK_KEY, ClientRole::Api),
        client("support", AGENT_KEY, ClientRole::Agent),
    ];
    config.auth.widgets = vec![WidgetConfig {
        id: "shop-site".to_owned(),
        key: WIDGET_KEY.to_owned(),
        origins: vec![SITE.to_owned()],
    }];
    spawn_app_with(config).await
}

/// A request as `who` sends it: an API key, or the widget key from an origin with a token.
#[derive(Clone, Copy)]
enum Who<'a> {
    Key(&'a str),
    Widget {
        origin: &'a str,
        token: Option<&'a str>,
    },
}

async fn call(
    app: &TestApp,
    who: Who<'_>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app.client.request(method, app.url(path));
    match who {
        Who::Key(key) => request = request.bearer_auth(key),
        Who::Widget { origin, token } => {
            request = request
                .header("x-colloquy-widget-key", WIDGET_KEY)
                .header("origin", origin);
            if let Some(token) = token {
                request = request.header("x-colloquy-session-token", token);
            }
        }
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn say(
    app: &TestApp,
    who: Who<'_>,
    session: &str,
    id: &str,
    text: &str,
) -> (StatusCode, Value) {
    call(
        app,
        who,
        Method::POST,
        "/v1/webhook",
        Some(json!({ "session_id": session, "message_id": id, "text": text })),
    )
    .await
}

fn code(answer: &Value) -> &str {
    answer["error"]["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn another_client_can_neither_read_continue_end_nor_stream_a_session() {
    let app = app().await;
    let (status, _) = say(&app, Who::Key(SHOP_KEY), "s1", "m1", "hi").await;
    assert_eq!(status, 200);
    let bank = Who::Key(BANK_KEY);
    let (status, answer) = say(&app, bank, "s1", "m2", "mallory@example.com").await;
    assert_eq!((status.as_u16(), code(&answer)), (403, "session_forbidden"));
    // Not even a retry of the owner's own message is answered to another client.
    let (status, _) = say(&app, bank, "s1", "m1", "hi").await;
    assert_eq!(status, 403);
    let (status, answer) = call(&app, bank, Method::GET, "/v1/sessions/s1", None).await;
    assert_eq!((status.as_u16(), code(&answer)), (403, "session_forbidden"));
    let (status, _) = call(&app, bank, Method::GET, "/v1/sessions/s1/events", None).await;
    assert_eq!(status, 403);
    let (status, _) = call(&app, bank, Method::DELETE, "/v1/sessions/s1", None).await;
    assert_eq!(status, 403);
    // The owner goes on as if nothing happened.
    let (status, answer) = say(&app, Who::Key(SHOP_KEY), "s1", "m2", "alice@example.com").await;
    assert_eq!(status, 200);
    assert_eq!(answer["node"], "ask_code");
    let (status, view) = call(
        &app,
        Who::Key(SHOP_KEY),
        Method::GET,
        "/v1/sessions/s1",
        None,
    )
    .await;
    assert_eq!((status.as_u16(), view["turns"].as_u64()), (200, Some(2)));
    // An agent reads and ends any session.
    let agent = Who::Key(AGENT_KEY);
    let (status, _) = call(&app, agent, Method::GET, "/v1/sessions/s1", None).await;
    assert_eq!(status, 200);
    let (status, _) = call(&app, agent, Method::DELETE, "/v1/sessions/s1", None).await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn a_widget_session_needs_its_token_from_the_first_answer_on() {
    let app = app().await;
    let visitor = Who::Widget {
        origin: SITE,
        token: None,
    };
    let (status, first) = say(&app, visitor, "w-1", "m1", "hi").await;
    assert_eq!(status, 200, "{first}");
    let token = first["session_token"]
        .as_str()
        .expect("a session token")
        .to_owned();
    assert_eq!(token.len(), 64);
    // The first message again (a retry) gets the same answer and the same token.
    let (_, again) = say(&app, visitor, "w-1", "m1", "hi").await;
    assert_eq!(again, first);
    // Without the token, or with another session's, the conversation does not go on.
    let (status, answer) = say(&app, visitor, "w-1", "m2", "bob@example.com").await;
    assert_eq!((status.as_u16(), code(&answer)), (403, "session_forbidden"));
    let (_, other) = say(&app, visitor, "w-2", "m1", "hi").await;
    let other_token = other["session_token"].as_str().unwrap();
    assert_ne!(other_token, token);
    let thief = Who::Widget {
        origin: SITE,
        token: Some(other_token),
    };
    let (status, _) = say(&app, thief, "w-1", "m2", "bob@example.com").await;
    assert_eq!(status, 403);
    let owner = Who::Widget {
        origin: SITE,
        token: Some(&token),
    };
    let (status, answer) = say(&app, owner, "w-1", "m2", "bob@example.com").await;
    assert_eq!(status, 200);
    assert_eq!(answer["node"], "ask_code");
    // An API client with the same session id is no owner either.
    let (status, _) = say(&app, Who::Key(SHOP_KEY), "w-1", "m3", "1234").await;
    assert_eq!(status, 403);
    // The stream takes the token as a header, or as `?session_token=` for EventSource.
    let (status, _) = call(&app, visitor, Method::GET, "/v1/sessions/w-1/events", None).await;
    assert_eq!(status, 403);
    let url = format!("/v1/sessions/w-1/events?session_token={token}");
    let response = app
        .client
        .get(app.url(&url))
        .header("x-colloquy-widget-key", WIDGET_KEY)
        .header("origin", SITE)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
}

#[tokio::test]
async fn a_widget_key_works_only_from_its_sites_and_only_to_talk_and_listen() {
    let app = app().await;
    let elsewhere = Who::Widget {
        origin: "https://evil.example",
        token: None,
    };
    let (status, answer) = say(&app, elsewhere, "w-1", "m1", "hi").await;
    assert_eq!((status.as_u16(), code(&answer)), (401, "unauthorized"));
    let visitor = Who::Widget {
        origin: SITE,
        token: None,
    };
    let (_, first) = say(&app, visitor, "w-1", "m1", "hi").await;
    let token = first["session_token"].as_str().unwrap();
    let owner = Who::Widget {
        origin: SITE,
        token: Some(token),
    };
    for (method, path) in [
        (Method::GET, "/v1/sessions/w-1"),
        (Method::DELETE, "/v1/sessions/w-1"),
        (Method::GET, "/v1/dialogs"),
        (Method::GET, "/v1/dev/outbox"),
        (Method::GET, "/dev/mailbox"),
    ] {
        let (status, answer) = call(&app, owner, method.clone(), path, None).await;
        assert_eq!(
            (status.as_u16(), code(&answer)),
            (403, "forbidden"),
            "{method} {path}"
        );
    }
    let (status, _) = call(
        &app,
        owner,
        Method::POST,
        "/v1/otp",
        Some(json!({ "email": "a@example.com" })),
    )
    .await;
    assert_eq!(status, 403);
    // Browsers ask first, and the widget's site is allowed to ask.
    let preflight = app
        .client
        .request(Method::OPTIONS, app.url("/v1/webhook"))
        .header("origin", SITE)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,x-colloquy-widget-key,x-colloquy-session-token",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        SITE,
        "the widget's site is allowed"
    );
}
