//! `email.send` over HTTP: a template with the dialog's variables reaches the outbox, the
//! address's send cap (shared with codes) holds, and a failed delivery is the `failed` edge.

use crate::helpers::{TestApp, spawn_app_with_dialogs, test_config};

const RECEIPT: &str = r#"
id: receipt
version: 1
start: ask_email
templates:
  receipt:
    subject: "Your order {{ order }}"
    text: "Thanks! Order {{ order }} goes to {{ email }}."
    html: "<p>Order <b>{{ order }}</b></p>"
context:
  order: "A<7>"
nodes:
  ask_email:
    ask: "Where should the receipt go?"
    entity: email
    on_exhausted: done
    next: send
  send:
    action: email.send
    with: { to: "{{ email }}", template: receipt }
    on: { sent: sent, limited: limited, failed: failed }
  sent:
    say: "Sent to {{ email }}."
    end: sent
  limited:
    say: "Too many emails to that address lately."
    end: limited
  failed:
    say: "The email could not be sent."
    end: failed
  done:
    end: done
"#;

async fn app() -> (TestApp, tempfile::TempDir) {
    let mut config = test_config();
    config.otp.max_sends_per_address = 2;
    spawn_app_with_dialogs(&[("receipt.yaml", RECEIPT)], "receipt", config).await
}

async fn send_receipt(app: &TestApp, session: &str, to: &str) -> (String, Option<String>) {
    app.say(session, "hi").await;
    let answer = app.say(session, to).await;
    (answer.replies[0].text.clone(), answer.result)
}

#[tokio::test]
async fn a_template_with_the_dialogs_variables_is_sent() {
    let (app, _dir) = app().await;
    let (reply, result) = send_receipt(&app, "r1", "please send it to Ann@Example.com").await;
    assert_eq!(reply, "Sent to Ann@example.com.");
    assert_eq!(result.as_deref(), Some("sent"));
    let emails = app.outbox().list(Some("ann@example.com"));
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0].subject, "Your order A<7>");
    assert_eq!(
        emails[0].text,
        "Thanks! Order A<7> goes to Ann@example.com."
    );
    assert_eq!(
        emails[0].html.as_deref(),
        Some("<p>Order <b>A&lt;7&gt;</b></p>")
    );
}

#[tokio::test]
async fn the_send_cap_of_an_address_holds_and_failures_are_not_counted() {
    let (app, _dir) = app().await;
    assert_eq!(
        send_receipt(&app, "c1", "x@bounce.test").await.1.as_deref(),
        Some("failed")
    );
    assert_eq!(
        send_receipt(&app, "c2", "bob@example.com")
            .await
            .1
            .as_deref(),
        Some("sent")
    );
    assert_eq!(
        send_receipt(&app, "c3", "bob@example.com")
            .await
            .1
            .as_deref(),
        Some("sent")
    );
    let (reply, result) = send_receipt(&app, "c4", "bob@example.com").await;
    assert_eq!(reply, "Too many emails to that address lately.");
    assert_eq!(result.as_deref(), Some("limited"));
    assert_eq!(app.emails_to("bob@example.com"), 2);
}
