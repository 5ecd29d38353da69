//! Human handoff: a `handoff` node hands the conversation to people; the bot stays silent,
//! each user message goes to the agents' tool (signed) and on the event stream; an agent's
//! message is pushed to the user; a handback lets the dialog go on.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::events::EventStream;
use crate::helpers::{TestApp, spawn_app_with_dialogs, test_config};
use colloquy::config::{Config, HandoffWebhookConfig, Secret};

pub const HELPDESK: &str = r#"
id: helpdesk
version: 1
start: greet
nodes:
  greet:
    say: "Hi! Let me find someone for you."
    next: to_person
  to_person:
    handoff: "I'm passing you to a colleague; they'll answer here."
    queue: billing
    next: after
  after:
    say: "You're back with the bot. Glad we could help."
    end: helped
"#;

const TOOL_SECRET: &str = "the-agents-tool-secret-0123";

/// The agents' tool: records what it is sent, answers 503 while `down`.
#[derive(Debug, Clone, Default)]
struct Tool {
    received: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
    down: Arc<AtomicBool>,
}

impl Tool {
    async fn start() -> (Self, String) {
        let tool = Tool::default();
        let state = tool.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let state = state.clone();
                async move {
                    if state.down.load(Ordering::SeqCst) {
                        return StatusCode::SERVICE_UNAVAILABLE;
                    }
                    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                    state.received.lock().unwrap().push((headers, body));
                    StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (tool, url)
    }

    fn bodies(&self) -> Vec<Value> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|(_, body)| body.clone())
            .collect()
    }
}

fn with_tool(url: &str) -> Config {
    let mut config = test_config();
    config.handoff.webhook = Some(HandoffWebhookConfig {
        url: url.to_owned(),
        secret: Secret::new(TOOL_SECRET),
        timeout: Duration::from_secs(2),
        max_attempts: 2,
    });
    config
}

async fn post(app: &TestApp, path: &str, body: &Value) -> (u16, Value) {
    let response = app
        .client
        .post(app.url(path))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn say(app: &TestApp, session: &str, id: &str, text: &str) -> (u16, Value) {
    app.post_json(&json!({ "session_id": session, "message_id": id, "text": text }))
        .await
}

#[tokio::test]
async fn a_conversation_goes_to_people_and_back() {
    let (tool, url) = Tool::start().await;
    let (app, _dir) =
        spawn_app_with_dialogs(&[("helpdesk.yaml", HELPDESK)], "helpdesk", with_tool(&url)).await;
    let (status, first) = say(&app, "h1", "m1", "hi, my bill is wrong").await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["with_agent"], true);
    assert_eq!(first["node"], "to_person");
    assert_eq!(
        first["replies"][1]["text"],
        "I'm passing you to a colleague; they'll answer here."
    );
    let mut stream = EventStream::open(&app, "h1", None).await;

    // The bot stays silent; the message goes to the tool, signed, and on the stream.
    let (status, answer) = say(&app, "h1", "m2", "I was charged twice").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["replies"], json!([]));
    assert_eq!(answer["with_agent"], true);
    let heard = stream.next().await.unwrap();
    assert_eq!(heard.event, "user_message");
    assert_eq!(heard.data["text"], "I was charged twice");
    let (headers, body) = tool.received.lock().unwrap()[0].clone();
    assert_eq!(body["text"], "I was charged twice");
    assert_eq!(body["queue"], "billing");
    assert_eq!(body["message_id"], "m2");
    assert_eq!(body["session_id"], "h1");
    let signature = headers["x-colloquy-signature"].to_str().unwrap();
    let (t, _) = signature
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v2="))
        .expect("t=…,v2=…");
    let raw = serde_json::to_vec(&body).unwrap();
    let signed = colloquy::http::auth::Signed {
        method: "POST",
        path_and_query: "/hook",
        body: &raw,
    };
    let expected =
        colloquy::http::auth::sign_request(TOOL_SECRET.as_bytes(), t.parse().unwrap(), &signed);
    assert_eq!(signature, expected, "signed with the tool's secret");
    // A retry of the same message is answered again and not sent twice.
    say(&app, "h1", "m2", "I was charged twice").await;
    assert_eq!(tool.bodies().len(), 1);

    // An agent answers; the user hears it on the stream.
    let (status, sent) = post(
        &app,
        "/v1/sessions/h1/agent-messages",
        &json!({ "text": "Sorry about that, refunding now.", "agent": "Dana" }),
    )
    .await;
    assert_eq!(status, 202, "{sent}");
    let pushed = stream.next().await.unwrap();
    assert_eq!(pushed.event, "agent_message");
    assert_eq!(pushed.data["text"], "Sorry about that, refunding now.");
    assert_eq!(pushed.data["agent"], "Dana");
    assert_eq!(pushed.id, sent["event_id"].as_str().map(str::to_owned));

    // Handed back, the dialog goes on at the node's `next`.
    app.advance(Duration::from_secs(90));
    let (status, back) = post(&app, "/v1/sessions/h1/handback", &json!({})).await;
    assert_eq!(status, 200, "{back}");
    assert_eq!(back["result"], "helped");
    assert_eq!(
        back["replies"][0]["text"],
        "You're back with the bot. Glad we could help."
    );
    let pushed = stream.next().await.unwrap();
    assert_eq!(pushed.event, "handback");
    assert_eq!(pushed.data, back);
    let view = app.get_json("/v1/sessions/h1").await;
    let agent_lines: Vec<&Value> = view["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|line| line["from"] == "agent")
        .collect();
    assert_eq!(agent_lines.len(), 1, "{view}");
    let metrics = app.get_text("/metrics").await;
    assert!(
        metrics.contains("colloquy_handoffs_total{dialog=\"helpdesk\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("colloquy_handoff_duration_seconds_sum 90"),
        "{metrics}"
    );
    assert!(metrics.contains("colloquy_handoff_duration_seconds_count 1"));
    assert!(metrics.contains("colloquy_agent_messages_total 1"));
    // Once handed back, people have nothing more to say in it.
    let (status, answer) = post(
        &app,
        "/v1/sessions/h1/agent-messages",
        &json!({ "text": "still there?" }),
    )
    .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (409, Some("not_handed_off"))
    );
}

#[tokio::test]
async fn a_message_the_agents_tool_cannot_take_is_not_lost() {
    let (tool, url) = Tool::start().await;
    let (app, _dir) =
        spawn_app_with_dialogs(&[("helpdesk.yaml", HELPDESK)], "helpdesk", with_tool(&url)).await;
    say(&app, "h1", "m1", "hi").await;
    tool.down.store(true, Ordering::SeqCst);
    let (status, answer) = say(&app, "h1", "m2", "hello? anyone?").await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (503, Some("agents_unavailable"))
    );
    let view = app.get_json("/v1/sessions/h1").await;
    assert_eq!(view["turns"], 1, "nothing saved: {view}");
    // The widget's retry, same message id, once the tool is back.
    tool.down.store(false, Ordering::SeqCst);
    let (status, _) = say(&app, "h1", "m2", "hello? anyone?").await;
    assert_eq!(status, 200);
    assert_eq!(tool.bodies().len(), 1);
    assert_eq!(tool.bodies()[0]["text"], "hello? anyone?");
}

#[tokio::test]
async fn agent_routes_refuse_what_they_cannot_do() {
    let (app, _dir) =
        spawn_app_with_dialogs(&[("helpdesk.yaml", HELPDESK)], "helpdesk", test_config()).await;
    say(&app, "h1", "m1", "hi").await;
    for (body, code) in [
        (json!({ "text": "" }), "invalid_request"),
        (json!({ "text": "hi", "agent": "" }), "invalid_request"),
        (json!({ "text": "hi", "agent": "a\nb" }), "invalid_request"),
        (json!({ "text": "hi", "extra": 1 }), "invalid_request"),
    ] {
        let (status, answer) = post(&app, "/v1/sessions/h1/agent-messages", &body).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (422, Some(code)),
            "{body}"
        );
    }
    let (status, answer) = post(
        &app,
        "/v1/sessions/h1/handback",
        &json!({ "node": "nowhere" }),
    )
    .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (422, Some("unknown_node"))
    );
    let (status, answer) = post(&app, "/v1/sessions/nobody/handback", &json!({})).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (409, Some("not_handed_off"))
    );
    // Handed back to a named node: here the start again, which hands it over once more.
    let (status, back) = post(
        &app,
        "/v1/sessions/h1/handback",
        &json!({ "node": "greet" }),
    )
    .await;
    assert_eq!(status, 200, "{back}");
    assert_eq!(back["node"], "to_person");
    assert_eq!(back["with_agent"], true);
}

#[tokio::test]
async fn only_agent_clients_speak_for_people() {
    use colloquy::config::{ClientConfig, ClientRole};
    let mut config = test_config();
    config.auth.enabled = true;
    config.auth.clients = vec![
        ClientConfig {
            id: "site".into(),
            api_keys: vec![Secret::new("API-KEY-OF-THE-SITE-0001")],
            signing_secrets: Vec::new(),
            role: ClientRole::Api,
        },
        ClientConfig {
            id: "desk".into(),
            api_keys: vec![Secret::new("API-KEY-OF-THE-DESK-0001")],
            signing_secrets: Vec::new(),
            role: ClientRole::Agent,
        },
    ];
    let (app, _dir) =
        spawn_app_with_dialogs(&[("helpdesk.yaml", HELPDESK)], "helpdesk", config).await;
    let send = |key: &'static str, path: &'static str, body: Value| {
        let request = app.client.post(app.url(path)).bearer_auth(key).json(&body);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let status = send(
        "API-KEY-OF-THE-SITE-0001",
        "/v1/webhook",
        json!({ "session_id": "h1", "message_id": "m1", "text": "hi" }),
    )
    .await;
    assert_eq!(status, 200);
    let path = "/v1/sessions/h1/agent-messages";
    assert_eq!(
        send(
            "API-KEY-OF-THE-SITE-0001",
            path,
            json!({ "text": "I'm an agent" })
        )
        .await,
        403
    );
    assert_eq!(
        send(
            "API-KEY-OF-THE-DESK-0001",
            path,
            json!({ "text": "I am one" })
        )
        .await,
        202
    );
    // An agent follows the site's session on its stream.
    let response = app
        .client
        .get(app.url("/v1/sessions/h1/events"))
        .bearer_auth("API-KEY-OF-THE-DESK-0001")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
