//! `GET /dev/mailbox`: the dev outbox as a page, newest first, so a person can walk the whole
//! code flow in a browser without an email provider. Routed only when the outbox is the
//! sender, behind the same authentication as `/v1/dev/outbox`. Every recorded string is
//! escaped; an email's HTML part is never shown.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::email::{Channel, OutboxEmail};

use super::AppState;
use super::error::ApiError;
use super::web::Asset;

/// Only the engine's stylesheet; no script at all; a form only to this page.
const MAILBOX_CSP: &str = "default-src 'none'; style-src 'self'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

static MAILBOX_CSS: Asset = Asset::new(
    include_str!("../../web/mailbox.css"),
    "text/css; charset=utf-8",
);

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MailboxQuery {
    /// Only the messages to this address or number.
    to: Option<String>,
}

/// `GET /dev/mailbox[?to=address]`.
#[utoipa::path(
    get,
    path = "/dev/mailbox",
    operation_id = "dev_mailbox",
    tag = "dev",
    summary = "The dev outbox as a page",
    description = "The recorded emails and texts, newest first, every string escaped; no script.",
    params(MailboxQuery),
    responses(
        (status = 200, description = "The page.", content_type = "text/html", body = String),
        (status = 422, description = "`invalid_request`: an unknown query parameter.", body = super::error::ErrorBody),
    )
)]
pub async fn page(
    State(state): State<Arc<AppState>>,
    query: Result<Query<MailboxQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) =
        query.map_err(|rejection| ApiError::InvalidRequest(rejection.body_text()))?;
    let outbox = state.app.outbox.as_ref().ok_or(ApiError::NotFound)?;
    let to = query
        .to
        .as_deref()
        .map(str::trim)
        .filter(|to| !to.is_empty());
    let mut emails = outbox.list(to);
    emails.reverse();
    let mut response = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        render(&emails, to),
    )
        .into_response();
    let headers = response.headers_mut();
    // Codes: kept by no cache, sent to no other site.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(MAILBOX_CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        axum::http::HeaderName::from_static("x-robots-tag"),
        HeaderValue::from_static("noindex"),
    );
    Ok(response)
}

/// `GET /dev/mailbox.css`.
#[utoipa::path(
    get,
    path = "/dev/mailbox.css",
    operation_id = "dev_mailbox_stylesheet",
    tag = "dev",
    summary = "The dev mailbox's stylesheet",
    params(("If-None-Match" = Option<String>, Header, description = "The ETag of a copy the browser has.")),
    responses(
        (status = 200, description = "The stylesheet.", content_type = "text/css", body = String, headers(("ETag" = String))),
        (status = 304, description = "The browser's copy is current.", headers(("ETag" = String))),
    )
)]
pub async fn stylesheet(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if state.app.outbox.is_none() {
        return ApiError::NotFound.into_response();
    }
    MAILBOX_CSS.respond(&headers)
}

/// The page, newest email first (`emails` is in that order).
fn render(emails: &[OutboxEmail], to: Option<&str>) -> String {
    let mut html = String::with_capacity(1024 + emails.len() * 512);
    html.push_str(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"robots\" content=\"noindex\">\n<title>Dev mailbox</title>\n\
         <link rel=\"stylesheet\" href=\"mailbox.css\">\n</head>\n<body>\n<main>\n\
         <h1>Dev mailbox</h1>\n<p class=\"intro\">The emails and text messages the engine \
         recorded instead of sending them (the dev outbox), newest first. None of them left \
         this machine. Reload the page to see new ones.</p>\n\
         <form method=\"get\" action=\"mailbox\" role=\"search\">\n\
         <label for=\"to\">To</label>\n",
    );
    let _ = writeln!(
        html,
        "<input id=\"to\" name=\"to\" type=\"search\" inputmode=\"email\" \
         placeholder=\"name@example.com\" value=\"{}\">",
        escape(to.unwrap_or_default())
    );
    html.push_str(
        "<button type=\"submit\">Filter</button>\n<a class=\"all\" href=\"mailbox\">All</a>\n\
         </form>\n",
    );
    let count = match (emails.len(), to) {
        (0, Some(to)) => format!("No emails to {}.", escape(to)),
        (0, None) => "No emails yet.".to_owned(),
        (1, _) => "1 email.".to_owned(),
        (n, _) => format!("{n} emails."),
    };
    let _ = writeln!(html, "<p class=\"count\">{count}</p>\n<ol>");
    for email in emails {
        let _ = writeln!(
            html,
            "<li><article class=\"email\" aria-labelledby=\"email-{id}\">\n\
             <h2 id=\"email-{id}\">{subject}</h2>\n\
             <dl><dt>To</dt><dd class=\"to\">{to}</dd>\
             <dt>Sent</dt><dd><time datetime=\"{at}\">{when}</time></dd></dl>\n\
             <pre class=\"body\">{text}</pre>\n</article></li>",
            id = email.id,
            subject = match email.channel {
                Channel::Email => escape(&email.subject),
                // A text has no subject.
                Channel::Sms => "Text message (SMS)".into(),
            },
            to = escape(&email.to),
            at = email.sent_at.to_rfc3339(),
            when = email.sent_at.format("%Y-%m-%d %H:%M:%S UTC"),
            text = escape(&email.text),
        );
    }
    html.push_str("</ol>\n</main>\n</body>\n</html>\n");
    html
}

/// Text as HTML text or attribute value: nothing in it can open a tag, end an attribute or
/// start an entity.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_could_be_markup() {
        assert_eq!(
            escape(r#"<img src=x onerror="alert('1')"> & co"#),
            "&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt; &amp; co"
        );
    }

    #[test]
    fn lists_newest_first_as_text() {
        let email = |id: u64, subject: &str| OutboxEmail {
            id,
            channel: Channel::Email,
            to: "a@x.io".into(),
            subject: subject.into(),
            text: "Your code is 1234".into(),
            html: Some("<b>1234</b>".into()),
            sent_at: chrono::DateTime::UNIX_EPOCH,
        };
        let page = render(&[email(2, "<second>"), email(1, "first")], None);
        let second = page.find("&lt;second&gt;").unwrap();
        let first = page.find(">first<").unwrap();
        assert!(second < first);
        assert!(page.contains("Your code is 1234"));
        assert!(!page.contains("<b>"), "the HTML part is not shown");
        assert!(page.contains("2 emails."));
    }
}
