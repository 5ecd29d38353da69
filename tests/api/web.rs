//! The web chat's files over plain HTTP: content types, security headers, revalidation.

use colloquy::config::{ClientConfig, Secret};

use crate::helpers::{spawn_app, spawn_app_with, test_config};

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
    const KEY: &str = "support-test-key-0123456789";
    let mut config = test_config();
    config.auth.enabled = true;
    config.auth.clients = vec![ClientConfig {
        id: "support".into(),
        api_keys: vec![Secret::new(KEY)],
        signing_secrets: Vec::new(),
    }];
    let app = spawn_app_with(config).await;
    for path in ["/chat", "/widget.js", "/widget.css"] {
        assert_eq!(get(&app, path).await.status(), 200, "{path}");
    }
}
