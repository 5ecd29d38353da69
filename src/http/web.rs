//! The web chat: the page at `/chat`, and the script and stylesheet that any site can embed
//! (`/widget.js`, `/widget.css`). Their files live in `web/` and are compiled into the binary,
//! so the engine serves them with nothing to deploy beside it and no CDN.

use std::sync::OnceLock;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// What a browser may do on `/chat`: run and style only the engine's own files, talk only to
/// the engine, and write no HTML from strings at all (Trusted Types with no policy), so even a
/// mistake in the widget cannot turn a message into markup.
pub const CHAT_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'; require-trusted-types-for 'script'; trusted-types 'none'";

/// A file of `web/`, with the ETag it is revalidated by.
#[derive(Debug)]
pub(super) struct Asset {
    body: &'static str,
    content_type: &'static str,
    /// Embeddable by pages of any origin (the widget's script and stylesheet).
    cross_origin: bool,
    csp: Option<&'static str>,
    etag: OnceLock<HeaderValue>,
}

impl Asset {
    pub(super) const fn new(body: &'static str, content_type: &'static str) -> Self {
        Self {
            body,
            content_type,
            cross_origin: false,
            csp: None,
            etag: OnceLock::new(),
        }
    }

    const fn embeddable(mut self) -> Self {
        self.cross_origin = true;
        self
    }

    const fn with_csp(mut self, csp: &'static str) -> Self {
        self.csp = Some(csp);
        self
    }

    /// A digest of the content: a new build with a changed file gets a new tag.
    fn etag(&self) -> &HeaderValue {
        self.etag.get_or_init(|| {
            let digest = Sha256::digest(self.body.as_bytes());
            let tag = format!("\"{}\"", crate::hex::encode(&digest[..12]));
            HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"web\""))
        })
    }

    /// The file, or 304 when the browser's copy is current. Revalidated on every use
    /// (`no-cache`), so a new engine version reaches pages at once.
    pub(super) fn respond(&self, request: &HeaderMap) -> Response {
        let etag = self.etag();
        let fresh = request
            .get(header::IF_NONE_MATCH)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|tags| {
                tags.split(',')
                    .any(|tag| tag.trim() == "*" || tag.trim().as_bytes() == etag.as_bytes())
            });
        let mut response = if fresh {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(self.content_type),
                )],
                self.body,
            )
                .into_response()
        };
        let headers = response.headers_mut();
        headers.insert(header::ETAG, etag.clone());
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        if self.cross_origin {
            headers.insert(
                axum::http::HeaderName::from_static("cross-origin-resource-policy"),
                HeaderValue::from_static("cross-origin"),
            );
        }
        if let Some(csp) = self.csp {
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(csp),
            );
        }
        response
    }
}

static CHAT_PAGE: Asset = Asset::new(
    include_str!("../../web/chat.html"),
    "text/html; charset=utf-8",
)
.with_csp(CHAT_CSP);
static WIDGET_JS: Asset = Asset::new(
    include_str!("../../web/widget.js"),
    "text/javascript; charset=utf-8",
)
.embeddable();
static WIDGET_CSS: Asset = Asset::new(
    include_str!("../../web/widget.css"),
    "text/css; charset=utf-8",
)
.embeddable();

/// `GET /chat`: the chat as a page of its own (`?dialog=…&locale=…`).
#[utoipa::path(
    get,
    path = "/chat",
    operation_id = "web_chat_page",
    tag = "web chat",
    summary = "The web chat page",
    description = "The chat as a page of its own; `?dialog=…&locale=…` are read by its script. Open: no credentials.",
    params(("If-None-Match" = Option<String>, Header, description = "The ETag of a copy the browser has.")),
    responses(
        (status = 200, description = "The page.", content_type = "text/html", body = String,
            headers(("ETag" = String), ("Content-Security-Policy" = String))),
        (status = 304, description = "The browser's copy is current.", headers(("ETag" = String))),
    )
)]
pub async fn chat(headers: HeaderMap) -> Response {
    CHAT_PAGE.respond(&headers)
}

/// `GET /widget.js`: the chat for any page, `<script src=".../widget.js" data-dialog="…">`.
#[utoipa::path(
    get,
    path = "/widget.js",
    operation_id = "widget_js",
    tag = "web chat",
    summary = "The web chat's script",
    description = "For any page: `<script src=\".../widget.js\" data-dialog=\"…\">`. Open: no credentials.",
    params(("If-None-Match" = Option<String>, Header, description = "The ETag of a copy the browser has.")),
    responses(
        (status = 200, description = "The script.", content_type = "text/javascript", body = String, headers(("ETag" = String))),
        (status = 304, description = "The browser's copy is current.", headers(("ETag" = String))),
    )
)]
pub async fn widget_js(headers: HeaderMap) -> Response {
    WIDGET_JS.respond(&headers)
}

/// `GET /widget.css`: the widget's styles (the script links them into its shadow root).
#[utoipa::path(
    get,
    path = "/widget.css",
    operation_id = "widget_css",
    tag = "web chat",
    summary = "The web chat's stylesheet",
    description = "Open: no credentials.",
    params(("If-None-Match" = Option<String>, Header, description = "The ETag of a copy the browser has.")),
    responses(
        (status = 200, description = "The stylesheet.", content_type = "text/css", body = String, headers(("ETag" = String))),
        (status = 304, description = "The browser's copy is current.", headers(("ETag" = String))),
    )
)]
pub async fn widget_css(headers: HeaderMap) -> Response {
    WIDGET_CSS.respond(&headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_current_copy_is_not_sent_again() {
        let first = WIDGET_JS.respond(&HeaderMap::new());
        assert_eq!(first.status(), StatusCode::OK);
        let etag = first.headers()[header::ETAG].clone();
        let mut request = HeaderMap::new();
        request.insert(header::IF_NONE_MATCH, etag.clone());
        let again = WIDGET_JS.respond(&request);
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(again.headers()[header::ETAG], etag);
        request.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"old\""));
        assert_eq!(WIDGET_JS.respond(&request).status(), StatusCode::OK);
    }

    #[test]
    fn the_widget_writes_no_markup() {
        // The page's policy refuses HTML sinks; the script should not even name them.
        let script = include_str!("../../web/widget.js");
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!script.contains(sink), "widget.js uses {sink}");
        }
    }
}
