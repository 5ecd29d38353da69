//! The web chat in a real browser (headless Chromium through chromedriver), used the way a
//! person uses it: typing, clicking, pressing keys, reading the page, reloading it, losing the
//! network. Each test saves screenshots of its steps (see `webdriver::screenshot_dir`).
//!
//! Without Chromium and chromedriver these tests say so loudly and pass, except under CI
//! (`CI` set), where a missing browser fails them: `.ci/run` installs both.

mod webdriver;

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_app_with, spawn_app_with_dialogs, test_config};
use webdriver::{Browser, ENTER, ESCAPE, SHIFT, TAB};

/// A browser, or `None` (after a loud message) when there is none outside CI.
async fn browser() -> Option<Browser> {
    static LOUD: std::sync::Once = std::sync::Once::new();
    match webdriver::tools() {
        Ok((driver, chromium)) => Some(Browser::start(&driver, &chromium).await),
        Err(missing) => {
            let ci = std::env::var_os("CI").is_some_and(|value| !value.is_empty());
            assert!(
                !ci,
                "the browser tests need chromium and chromium-driver ({missing}); \
                 .ci/run installs them"
            );
            // Straight to the process's stderr, past the test harness's capture, so that a
            // passing run still shows it; once for all the browser tests.
            LOUD.call_once(|| {
                use std::io::Write;
                let _ = write!(
                    std::io::stderr(),
                    "\n**********************************************************************\n\
                     SKIPPED: the web chat's browser tests ({missing}).\n\
                     Install them: apt-get install chromium chromium-driver\n\
                     **********************************************************************\n\n"
                );
            });
            None
        }
    }
}

/// The chat inside a page: in `/chat` itself, or in the shadow root of the embedded widget.
struct Chat<'a> {
    browser: &'a Browser,
    /// A JavaScript expression for the node the chat's elements are found under.
    root: &'static str,
}

const PAGE: &str = "document";
const EMBEDDED: &str = "(document.querySelector('.colloquy-widget') || {}).shadowRoot";

impl<'a> Chat<'a> {
    fn in_page(browser: &'a Browser) -> Self {
        Chat {
            browser,
            root: PAGE,
        }
    }

    fn embedded(browser: &'a Browser) -> Self {
        Chat {
            browser,
            root: EMBEDDED,
        }
    }

    async fn element(&self, what: &str, css: &str) -> webdriver::Element {
        let script = format!(
            "const root = {}; return root ? root.querySelector({}) : null;",
            self.root,
            json!(css)
        );
        self.browser.wait_element(what, &script).await
    }

    async fn input(&self) -> webdriver::Element {
        self.element("the message box", ".cq-input").await
    }

    /// Types `text` into the message box and presses Enter.
    async fn say(&self, text: &str) {
        let input = self.input().await;
        self.browser
            .type_into(&input, &format!("{text}{ENTER}"))
            .await;
    }

    /// Waits until the conversation shows `text`.
    async fn wait_for(&self, text: &str) {
        let script = format!(
            "const root = {}; const log = root && root.querySelector('.cq-log'); \
             return !!log && log.textContent.includes(arguments[0]);",
            self.root
        );
        self.browser
            .wait_until(&format!("{text:?} in the chat"), &script, json!([text]))
            .await;
    }

    /// Waits until `script` (run with `root` bound to the chat's root) returns true.
    async fn wait_until(&self, what: &str, script: &str) {
        let script = format!("const root = {}; {script}", self.root);
        self.browser.wait_until(what, &script, json!([])).await;
    }

    /// The conversation as `(kind, text)`: `bot`, `user` or `note`, and what it shows.
    async fn transcript(&self) -> Vec<(String, String)> {
        let script = format!(
            "const root = {}; return Array.from(root.querySelectorAll('.cq-log > .cq-msg, \
             .cq-log > .cq-note')).map(e => [e.classList.contains('cq-note') ? 'note' : \
             e.classList.contains('cq-bot') ? 'bot' : 'user', \
             (e.querySelector('.cq-text') || e).textContent]);",
            self.root
        );
        let value = self.browser.execute(&script, json!([])).await;
        serde_json::from_value(value).expect("pairs of strings")
    }

    /// The enabled choice button labelled `label`.
    async fn button(&self, label: &str) -> webdriver::Element {
        let script = format!(
            "const root = {}; return root ? Array.from(root.querySelectorAll('.cq-choice')) \
             .find(b => !b.disabled && b.textContent === {}) || null : null;",
            self.root,
            json!(label)
        );
        self.browser
            .wait_element(&format!("a {label:?} button"), &script)
            .await
    }

    /// Runs `script` with `root` bound to the chat's root.
    async fn eval(&self, script: &str) -> Value {
        let script = format!("const root = {}; {script}", self.root);
        self.browser.execute(&script, json!([])).await
    }

    async fn focused_class(&self) -> String {
        let active = if self.root == PAGE {
            "document.activeElement"
        } else {
            "root.activeElement"
        };
        self.eval(&format!("const a = {active}; return a ? a.className : '';"))
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

async fn shot(browser: &Browser, name: &str) {
    let path = browser.screenshot(name).await;
    eprintln!("screenshot: {}", path.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_verifies_an_address_in_the_chat_page() {
    let Some(browser) = browser().await else {
        return;
    };
    let app = spawn_app().await;
    let chat = Chat::in_page(&browser);
    browser.goto(&app.url("/chat")).await;
    chat.input().await;
    // The page opens with the focus in the labelled message box.
    let labelled = chat
        .eval(
            "const a = document.activeElement; return !!a && a.classList.contains('cq-input') \
             && a.labels.length === 1 && a.labels[0].textContent === 'Message' \
             && document.querySelector('.cq-log').getAttribute('role') === 'log';",
        )
        .await;
    assert_eq!(labelled, Value::Bool(true));
    shot(&browser, "otp-1-empty").await;

    chat.say("hi").await;
    chat.wait_for("I'll verify your email address with a one-time code.")
        .await;
    chat.wait_for("What's your email address?").await;
    chat.say("alice@example.com").await;
    chat.wait_for("I've emailed a 4-digit code to alice@example.com.")
        .await;
    assert_eq!(
        chat.focused_class().await,
        "cq-input",
        "the focus stays put"
    );
    shot(&browser, "otp-2-code-sent").await;

    // The code, read from the mailbox page like a person would.
    browser.goto(&app.url("/dev/mailbox")).await;
    let body = browser
        .execute(
            "const e = document.querySelector('.email .body'); return e ? e.textContent : '';",
            json!([]),
        )
        .await;
    let body = body.as_str().unwrap_or_default();
    let code = body
        .split(|c: char| !c.is_ascii_digit())
        .find(|word| word.len() == 4)
        .unwrap_or_else(|| panic!("a code in the mailbox: {body:?}"))
        .to_owned();
    assert!(browser.page_text().await.contains("To\nalice@example.com"));
    shot(&browser, "otp-3-mailbox").await;

    // Back in the chat, the conversation is where it was.
    browser.goto(&app.url("/chat")).await;
    chat.wait_for("I've emailed a 4-digit code").await;
    chat.say(&code).await;
    chat.wait_for("Thanks, alice@example.com is verified.")
        .await;
    chat.wait_for("authenticated").await;
    let transcript = chat.transcript().await;
    assert!(
        transcript.iter().all(|(_, text)| !text.contains(&code)),
        "the code is shown masked: {transcript:?}"
    );
    assert!(transcript.contains(&("user".to_owned(), "••••".to_owned())));
    shot(&browser, "otp-4-verified").await;

    browser.refresh().await;
    chat.wait_for("authenticated").await;
    assert_eq!(
        chat.transcript().await,
        transcript,
        "the same after a reload"
    );
    shot(&browser, "otp-5-reloaded").await;
    assert_eq!(app.emails_to("alice@example.com"), 1);

    // "New conversation" forgets it all: a new session, an empty log.
    let old_session = stored_session(&browser).await;
    let restart = chat.element("the restart button", ".cq-restart").await;
    browser.click(&restart).await;
    chat.wait_until(
        "an empty conversation",
        "return root.querySelectorAll('.cq-msg').length === 0 \
         && !root.querySelector('.cq-empty').hidden;",
    )
    .await;
    assert_eq!(chat.focused_class().await, "cq-input");
    chat.say("hi").await;
    chat.wait_for("What's your email address?").await;
    let new_session = stored_session(&browser).await;
    assert_ne!(new_session, old_session);
    let session = app.get_json(&format!("/v1/sessions/{new_session}")).await;
    assert_eq!(session["turns"], 1, "{session}");
    browser.close().await;
}

/// The session id the widget keeps in `localStorage`.
async fn stored_session(browser: &Browser) -> String {
    let script = "for (let i = 0; i < localStorage.length; i++) { \
                    const key = localStorage.key(i); \
                    if (key.startsWith('colloquy:')) { \
                      return JSON.parse(localStorage.getItem(key)).sessionId; } } \
                  return null;";
    let value = browser.execute(script, json!([])).await;
    value.as_str().expect("a stored session").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_during_a_turn_sends_the_message_again_under_its_id() {
    let Some(browser) = browser().await else {
        return;
    };
    let mut config = test_config();
    config.email.outbox.delay = Duration::from_millis(1500);
    let app = spawn_app_with(config).await;
    let chat = Chat::in_page(&browser);
    browser.goto(&app.url("/chat")).await;
    chat.say("hi").await;
    chat.wait_for("What's your email address?").await;
    chat.say("carol@example.com").await;
    chat.wait_until(
        "the turn to be on its way",
        "return !root.querySelector('.cq-typing').hidden;",
    )
    .await;
    // The page goes away with its request; the turn goes on in the engine.
    browser.refresh().await;
    chat.wait_for("I've emailed a 4-digit code to carol@example.com.")
        .await;
    let transcript = chat.transcript().await;
    let sent = transcript
        .iter()
        .filter(|(kind, text)| kind == "user" && text == "carol@example.com")
        .count();
    assert_eq!(sent, 1, "{transcript:?}");
    assert!(
        transcript
            .iter()
            .all(|(_, text)| !text.contains("The code is 4 digits")),
        "{transcript:?}"
    );
    assert_eq!(
        app.emails_to("carol@example.com"),
        1,
        "one message, one email"
    );
    let session = stored_session(&browser).await;
    let session = app.get_json(&format!("/v1/sessions/{session}")).await;
    assert_eq!(session["turns"], 2, "one turn for the message: {session}");
    shot(&browser, "reload-mid-turn").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn choices_are_buttons_for_the_mouse_and_the_keyboard() {
    let Some(browser) = browser().await else {
        return;
    };
    let app = spawn_app().await;
    let chat = Chat::in_page(&browser);
    browser
        .goto(&app.url("/chat?dialog=appointment_booking"))
        .await;
    chat.say("hi").await;
    chat.wait_for("What would you like?").await;
    let labels = chat
        .eval("return Array.from(root.querySelectorAll('.cq-choice')).map(b => b.textContent);")
        .await;
    assert_eq!(labels, json!(["Haircut", "Colour", "Beard trim"]));
    let group = chat
        .eval("return root.querySelector('.cq-choices').getAttribute('aria-label');")
        .await;
    assert_eq!(group, json!("What would you like?"));
    shot(&browser, "choices-1-buttons").await;

    let colour = chat.button("Colour").await;
    browser.click(&colour).await;
    chat.wait_for("Which day suits you?").await;
    assert!(
        chat.transcript()
            .await
            .contains(&("user".to_owned(), "Colour".to_owned())),
        "the label is what the user said"
    );
    chat.wait_until(
        "the first question's buttons to be disabled",
        "return Array.from(root.querySelectorAll('.cq-choice')).slice(0, 3).every(b => b.disabled);",
    )
    .await;
    assert_eq!(chat.focused_class().await, "cq-input");
    let pressed = chat
        .eval(
            "return Array.from(root.querySelectorAll('.cq-choice[aria-pressed=true]')) \
             .map(b => b.textContent);",
        )
        .await;
    assert_eq!(pressed, json!(["Colour"]), "the chosen button stays marked");

    // From the message box, Shift+Tab reaches the newest question's last button.
    chat.button("Saturday").await;
    browser.press(&[SHIFT, TAB]).await;
    assert_eq!(
        chat.eval("return document.activeElement.textContent;")
            .await,
        json!("Saturday")
    );
    browser.press(&[ENTER]).await;
    chat.wait_for("Our booking system isn't answering right now.")
        .await;
    assert!(
        chat.transcript()
            .await
            .contains(&("user".to_owned(), "Saturday".to_owned()))
    );
    shot(&browser, "choices-2-answered").await;
    browser.close().await;
}

const ECHO: &str = r#"
id: echo
version: 1
start: ask
nodes:
  ask:
    ask: "Say something."
    entity: text
    save_as: said
    on_exhausted: done
    next: echo
  echo:
    say: "You said: {{ said }}"
    next: ask
  done:
    end: done
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_from_the_user_or_the_bot_is_shown_as_text() {
    let Some(browser) = browser().await else {
        return;
    };
    let (app, _dir) = spawn_app_with_dialogs(&[("echo.yaml", ECHO)], "echo", test_config()).await;
    let chat = Chat::in_page(&browser);
    browser.goto(&app.url("/chat")).await;
    chat.say("hi").await;
    chat.wait_for("Say something.").await;
    let attack = r#"<img src=x onerror="document.title='owned'"><b>bold</b>"#;
    chat.say(attack).await;
    chat.wait_for(&format!("You said: {attack}")).await;
    let transcript = chat.transcript().await;
    assert!(transcript.contains(&("user".to_owned(), attack.to_owned())));
    let parsed = chat
        .eval("return root.querySelectorAll('.cq-log img, .cq-log b').length;")
        .await;
    assert_eq!(parsed, json!(0), "no element was made from a message");
    assert_ne!(
        browser.execute("return document.title;", json!([])).await,
        json!("owned")
    );
    shot(&browser, "escaping").await;
    browser.close().await;
}

/// Serves `html` at `/` on a port of its own: another origin than the engine's.
fn host_page(listener: tokio::net::TcpListener, html: String) {
    let page = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let html = html.clone();
            async move { axum::response::Html(html) }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, page).await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_widget_embedded_in_another_sites_page() {
    let Some(browser) = browser().await else {
        return;
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site = format!("http://{}", listener.local_addr().unwrap());
    let mut config = test_config();
    config.server.cors_origins = vec![site.clone()];
    let app = spawn_app_with(config).await;
    // The site's own styles must not reach into the widget.
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><title>A salon</title>\
         <style>body {{ font-family: serif; background: #fafafa; }} \
         button {{ background: red; color: yellow; }}</style></head>\
         <body><h1>A salon</h1><p>Cuts, colours and beards since 1970.</p>\
         <script src=\"{}\" data-dialog=\"appointment_booking\" data-title=\"Book a visit\" \
         async></script></body></html>",
        app.url("/widget.js")
    );
    host_page(listener, html);
    browser.goto(&site).await;
    let chat = Chat::embedded(&browser);
    chat.wait_until(
        "the launcher to show once styled",
        "const host = document.querySelector('.colloquy-widget'); return !!host && !host.hidden;",
    )
    .await;
    let launcher = chat.element("the launcher", ".cq-launcher").await;
    assert_eq!(
        chat.eval("return root.querySelector('.cq-launcher').getAttribute('aria-expanded');")
            .await,
        json!("false")
    );
    shot(&browser, "embedded-1-closed").await;

    browser.click(&launcher).await;
    chat.wait_until(
        "the panel to open",
        "return !root.querySelector('.cq-panel').hidden;",
    )
    .await;
    assert_eq!(chat.focused_class().await, "cq-input");
    chat.say("hi").await;
    chat.wait_for("What would you like?").await;
    let haircut = chat.button("Haircut").await;
    browser.click(&haircut).await;
    chat.wait_for("Which day suits you?").await;
    let style = chat
        .eval("return getComputedStyle(root.querySelector('.cq-choice:not(:disabled)')).backgroundColor;")
        .await;
    assert_eq!(
        style,
        json!("rgb(255, 255, 255)"),
        "the site's button style stays out"
    );
    shot(&browser, "embedded-2-open").await;

    browser.press(&[ESCAPE]).await;
    chat.wait_until(
        "Escape to close the panel",
        "return root.querySelector('.cq-panel').hidden;",
    )
    .await;
    assert_eq!(chat.focused_class().await, "cq-launcher");
    assert_eq!(
        chat.eval("return root.querySelector('.cq-launcher').getAttribute('aria-expanded');")
            .await,
        json!("false")
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_sent_while_offline_or_timed_out_is_retried_once_delivered() {
    let Some(browser) = browser().await else {
        return;
    };
    let mut config = test_config();
    // Emails take longer than the server waits for a turn: the first answer is 503 `timeout`
    // while the turn finishes; only a retry with the same message_id gets its replies.
    config.email.outbox.delay = Duration::from_millis(2500);
    config.server.request_timeout = Duration::from_secs(1);
    let app: TestApp = spawn_app_with(config).await;
    let chat = Chat::in_page(&browser);
    browser.goto(&app.url("/chat")).await;
    chat.say("hi").await;
    chat.wait_for("What's your email address?").await;

    browser.set_offline(true).await;
    chat.say("bob@example.com").await;
    chat.wait_until(
        "the connection status",
        "const s = root.querySelector('.cq-status'); \
         return !s.hidden && s.textContent.includes('Connection lost.');",
    )
    .await;
    shot(&browser, "retry-1-offline").await;
    browser.set_offline(false).await;
    chat.wait_until(
        "the typing indicator",
        "return !root.querySelector('.cq-typing').hidden;",
    )
    .await;
    shot(&browser, "retry-2-typing").await;
    chat.wait_for("I've emailed a 4-digit code to bob@example.com.")
        .await;
    chat.wait_until(
        "the status to clear",
        "return root.querySelector('.cq-status').hidden \
         && root.querySelector('.cq-typing').hidden;",
    )
    .await;
    let transcript = chat.transcript().await;
    let sent = transcript
        .iter()
        .filter(|(kind, text)| kind == "user" && text == "bob@example.com")
        .count();
    assert_eq!(sent, 1, "{transcript:?}");
    assert!(
        transcript
            .iter()
            .all(|(_, text)| !text.contains("The code is 4 digits")),
        "a retry was taken for a new message: {transcript:?}"
    );
    assert_eq!(
        app.emails_to("bob@example.com"),
        1,
        "one message, one email"
    );
    let metrics = app.get_text("/metrics").await;
    assert!(
        metrics.contains("colloquy_http_errors_total{code=\"timeout\"}"),
        "the first delivery timed out: {metrics}"
    );
    shot(&browser, "retry-3-delivered").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_to_a_message_from_another_tab_arrives_through_the_event_stream() {
    let Some(browser) = browser().await else {
        return;
    };
    let app = spawn_app().await;
    let chat = Chat::in_page(&browser);
    browser.goto(&app.url("/chat")).await;
    chat.say("hi").await;
    chat.wait_for("What's your email address?").await;
    // Another tab of the same conversation answers; this page asked for nothing.
    let session = stored_session(&browser).await;
    let (status, answer) = app
        .post_json(&json!({
            "session_id": session,
            "message_id": "other-tab-1",
            "text": "dave@example.com",
        }))
        .await;
    assert_eq!(status, 200, "{answer}");
    chat.wait_for("I've emailed a 4-digit code to dave@example.com.")
        .await;
    // The page now asks for the code: the input adapts as if it had sent the message.
    chat.wait_until(
        "the input to expect a code",
        "return root.querySelector('.cq-input').autocomplete === 'one-time-code';",
    )
    .await;
    let code = app.last_code("dave@example.com").await;
    chat.say(&code).await;
    chat.wait_for("verified").await;
    let transcript = chat.transcript().await;
    let emailed = transcript
        .iter()
        .filter(|(_, text)| text.starts_with("I've emailed"))
        .count();
    assert_eq!(emailed, 1, "each reply shown once: {transcript:?}");
    shot(&browser, "stream-from-another-tab").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_widget_with_a_publishable_key_talks_to_an_engine_with_authentication_on() {
    let Some(browser) = browser().await else {
        return;
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site = format!("http://{}", listener.local_addr().unwrap());
    let mut config = test_config();
    config.auth.enabled = true;
    config.auth.widgets = vec![colloquy::config::WidgetConfig {
        id: "salon".to_owned(),
        key: "pk_salon_site_0123456789".to_owned(),
        origins: vec![site.clone()],
    }];
    let app = spawn_app_with(config).await;
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><title>A shop</title></head><body>\
         <h1>A shop</h1><script src=\"{}\" data-key=\"pk_salon_site_0123456789\" \
         data-title=\"Sign in\" async></script></body></html>",
        app.url("/widget.js")
    );
    host_page(listener, html);
    browser.goto(&site).await;
    let chat = Chat::embedded(&browser);
    let launcher = chat.element("the launcher", ".cq-launcher").await;
    chat.wait_until(
        "the launcher to show once styled",
        "const host = document.querySelector('.colloquy-widget'); return !!host && !host.hidden;",
    )
    .await;
    browser.click(&launcher).await;
    chat.say("hi").await;
    chat.wait_for("What's your email address?").await;
    // A reload keeps the session and its token: the conversation goes on.
    browser.refresh().await;
    let launcher = chat.element("the launcher", ".cq-launcher").await;
    chat.wait_until(
        "the launcher to show once styled",
        "const host = document.querySelector('.colloquy-widget'); return !!host && !host.hidden;",
    )
    .await;
    browser.click(&launcher).await;
    chat.say("erin@example.com").await;
    chat.wait_for("I've emailed a 4-digit code to erin@example.com.")
        .await;
    // The outbox read in-process: its HTTP route needs a client's key here.
    let emailed = app.outbox().list(Some("erin@example.com"));
    let code = emailed
        .last()
        .and_then(|email| {
            email
                .text
                .split(|c: char| !c.is_ascii_digit())
                .find(|w| w.len() == 4)
        })
        .expect("a 4-digit code")
        .to_owned();
    chat.say(&code).await;
    chat.wait_for("verified").await;
    let notes: Vec<String> = chat
        .transcript()
        .await
        .into_iter()
        .filter(|(kind, _)| kind == "note")
        .map(|(_, text)| text)
        .collect();
    assert!(
        notes
            .iter()
            .all(|n| !n.contains("Not sent") && !n.contains("new one")),
        "every message went through in one conversation: {notes:?}"
    );
    shot(&browser, "widget-key-authenticated").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_takes_over_the_chat_and_hands_it_back() {
    let Some(browser) = browser().await else {
        return;
    };
    let (app, _dir) = spawn_app_with_dialogs(
        &[("helpdesk.yaml", crate::handoff::HELPDESK)],
        "helpdesk",
        test_config(),
    )
    .await;
    let chat = Chat::in_page(&browser);
    browser.goto(&app.url("/chat?dialog=helpdesk")).await;
    chat.say("hi, I need a person").await;
    chat.wait_for("You're now talking with a person.").await;
    chat.say("my bill is wrong").await;
    chat.wait_until(
        "the message to be taken",
        "return root.querySelector('.cq-typing').hidden;",
    )
    .await;
    let session = stored_session(&browser).await;
    let agent = |path: String, body: Value| {
        let request = app.client.post(app.url(&path)).json(&body);
        async move { request.send().await.expect("sent").status().as_u16() }
    };
    let status = agent(
        format!("/v1/sessions/{session}/agent-messages"),
        json!({ "text": "Sorry about that <b>Sam</b>, I've refunded you.", "agent": "Dana" }),
    )
    .await;
    assert_eq!(status, 202);
    chat.wait_for("I've refunded you.").await;
    chat.wait_for("Dana").await;
    assert_eq!(
        chat.eval("return root.querySelectorAll('.cq-agent b').length;")
            .await,
        json!(0),
        "an agent's markup is shown as text"
    );
    shot(&browser, "handoff-1-agent").await;
    let status = agent(format!("/v1/sessions/{session}/handback"), json!({})).await;
    assert_eq!(status, 200);
    chat.wait_for("You're back with the bot. Glad we could help.")
        .await;
    let transcript = chat.transcript().await;
    let agent_lines = transcript
        .iter()
        .filter(|(_, text)| text.contains("refunded"))
        .count();
    assert_eq!(agent_lines, 1, "{transcript:?}");
    shot(&browser, "handoff-2-back").await;
    browser.close().await;
}
