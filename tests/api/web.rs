//! The web chat's files and the dev mailbox over plain HTTP: content types, security headers,
//! revalidation, escaping, and who gets the mailbox at all. (`browser.rs` drives them in
//! Chromium.)

use std::time::Duration;

use colloquy::address::EmailAddr;
use colloquy::config::{ClientConfig, EmailProvider, Secret};
use colloquy::email::{EmailMessage, EmailSender};

use crate::helpers::{closed_port, spawn_app, spawn_app_with, test_config};

async fn get(app: &crate::helpers::TestApp, path: &str) -> reqwest::Response {
    app.client.get(app.url(path)).send().await.unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn the_chat_page_allows_only_the_engines_own_files() {
    let app = spawn_app().await;
    let page = get(&app, "/chat").await;
    assert_eq!(page.status(), 200);
    assert_eq!(header(&page, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&page, "x-content-type-options"), "nosniff");
    let csp = header(&page, "content-security-policy").to_owned();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "require-trusted-types-for 'script'",
    ] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(html.contains(r##"<script src="widget.js" data-mount="#chat" data-page>"##));
    assert!(html.contains(r#"<link rel="stylesheet" href="widget.css">"#));
    assert!(
        !html.contains("<style") && !html.contains("style=") && !html.contains("<script>"),
        "nothing inline: the policy would refuse it"
    );
}

#[tokio::test]
async fn the_widget_files_are_embeddable_and_revalidated() {
    let app = spawn_app().await;
    for (path, content_type) in [
        ("/widget.js", "text/javascript; charset=utf-8"),
        ("/widget.css", "text/css; charset=utf-8"),
    ] {
        let file = get(&app, path).await;
        assert_eq!(file.status(), 200, "{path}");
        assert_eq!(header(&file, "content-type"), content_type);
        assert_eq!(
            header(&file, "cross-origin-resource-policy"),
            "cross-origin"
        );
        assert_eq!(header(&file, "cache-control"), "no-cache");
        assert_eq!(header(&file, "x-content-type-options"), "nosniff");
        let etag = header(&file, "etag").to_owned();
        assert!(!file.text().await.unwrap().is_empty());
        let again = app
            .client
            .get(app.url(path))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert!(again.text().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn the_widget_files_need_no_credentials_when_auth_is_on() {
    const KEY: &str = "mailbox-test-key-0123456789";
    let mut config = test_config();
    config.auth.enabled = true;
    config.auth.clients = vec![ClientConfig {
        id: "support".into(),
        api_keys: vec![Secret::new(KEY)],
        signing_secrets: Vec::new(),
        role: colloquy::config::ClientRole::Api,
    }];
    let app = spawn_app_with(config).await;
    for path in ["/chat", "/widget.js", "/widget.css"] {
        assert_eq!(get(&app, path).await.status(), 200, "{path}");
    }
    // The mailbox shows codes: it is guarded like /v1/dev/outbox.
    let mailbox = get(&app, "/dev/mailbox").await;
    assert_eq!(mailbox.status(), 401);
    assert_eq!(
        mailbox.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "unauthorized"
    );
    let with_key = app
        .client
        .get(app.url("/dev/mailbox"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(with_key.status(), 200);
}

fn email(to: &str, subject: &str, text: &str) -> EmailMessage {
    EmailMessage {
        to: EmailAddr::parse(to).unwrap(),
        subject: subject.to_owned(),
        text: text.to_owned(),
        html: Some("<p onclick=\"steal()\">HTML part</p>".to_owned()),
        provider_template: None,
    }
}

#[tokio::test]
async fn the_mailbox_lists_emails_newest_first_as_text() {
    let app = spawn_app().await;
    let empty = get(&app, "/dev/mailbox").await;
    assert_eq!(empty.status(), 200);
    assert!(empty.text().await.unwrap().contains("No emails yet."));

    let outbox = app.outbox();
    outbox
        .send(&email(
            "alice@example.com",
            "Your code",
            "Your code is 4821.",
        ))
        .await
        .unwrap();
    app.advance(Duration::from_secs(60));
    outbox
        .send(&email(
            "bob@example.com",
            "<script>alert('subject')</script>",
            "Hello <img src=x onerror=alert(1)> & \"friends\"\nYour code is 7310.",
        ))
        .await
        .unwrap();

    let page = get(&app, "/dev/mailbox").await;
    assert_eq!(page.status(), 200);
    assert_eq!(header(&page, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&page, "cache-control"), "no-store");
    assert_eq!(header(&page, "x-robots-tag"), "noindex");
    let csp = header(&page, "content-security-policy").to_owned();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("2 emails."));
    let newest = html
        .find("Hello &lt;img src=x onerror=alert(1)&gt; &amp; &quot;friends&quot;\nYour code is 7310.")
        .expect("the newest email, escaped");
    let oldest = html.find("Your code is 4821.").expect("the oldest email");
    assert!(newest < oldest, "newest first");
    assert!(html.contains("&lt;script&gt;alert(&#39;subject&#39;)&lt;/script&gt;"));
    assert!(html.contains("2030-01-01 00:01:00 UTC"));
    for raw in ["<img", "<script>alert", "onclick", "HTML part"] {
        assert!(!html.contains(raw), "{raw} reached the page");
    }

    let filtered = get(&app, "/dev/mailbox?to=ALICE@example.com").await;
    let html = filtered.text().await.unwrap();
    assert!(html.contains("1 email.") && html.contains("4821") && !html.contains("7310"));
    assert!(html.contains(r#"value="ALICE@example.com""#));
    let nobody = get(&app, "/dev/mailbox?to=%22%3E%3Cb%3Ex").await;
    let html = nobody.text().await.unwrap();
    assert!(
        html.contains("No emails to &quot;&gt;&lt;b&gt;x."),
        "{html}"
    );
    assert!(!html.contains("<b>"));

    let css = get(&app, "/dev/mailbox.css").await;
    assert_eq!(css.status(), 200);
    assert_eq!(header(&css, "content-type"), "text/css; charset=utf-8");
    let unknown = get(&app, "/dev/mailbox?from=x").await;
    assert_eq!(unknown.status(), 422);
}

#[tokio::test]
async fn there_is_no_mailbox_without_the_outbox() {
    let mut config = test_config();
    config.email.provider = EmailProvider::Sendgrid;
    config.email.sendgrid.base_url = format!("http://127.0.0.1:{}", closed_port());
    config.email.sendgrid.api_key = Some(Secret::new(&format!(
        "SG.{}",
        "colloquy-test-key-0123456789"
    )));
    let app = spawn_app_with(config).await;
    assert!(app.outbox.is_none());
    for path in ["/dev/mailbox", "/dev/mailbox.css", "/v1/dev/outbox"] {
        let answer = get(&app, path).await;
        assert_eq!(answer.status(), 404, "{path}");
        assert_eq!(
            answer.json::<serde_json::Value>().await.unwrap()["error"]["code"],
            "not_found"
        );
    }
    // The chat itself does not depend on the sender.
    assert_eq!(get(&app, "/chat").await.status(), 200);
}
