//! The OpenAPI 3.1 document of every route the server can serve (`GET /openapi.json`,
//! `colloquy openapi`, committed as `docs/openapi.json`).
//!
//! Each operation comes from its handler's `#[utoipa::path]` and the DTOs' `ToSchema`, through
//! the same `routes!` registration that builds the router ([`super::GROUPS`]). What a group's
//! routes share is added here from the group, so it is said once and cannot differ from what
//! the router does: the condition under which they exist, their security (the guard's API key
//! or signature, Kore's JWT), and the answers of the layers in front of every handler: the
//! body extractors' 400/408/413/415/422, the guard's 401 and 429, the per-IP limit's 429 and
//! the 503 of a draining or full server. Where a route's own envelope and the native one
//! share a status, the body is `oneOf` the two.
//!
//! The document describes all routes, whatever this server's configuration: the condition of
//! each optional group is in its operations' descriptions.

use std::sync::OnceLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::{Response as ApiResponse, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, OpenApi as Document, Ref, RefOr};

use super::error::ErrorBody;
use super::{Access, Envelope, GROUPS, Group};

/// What the document says before any route.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "colloquy",
        description = "A dialog-task engine: YAML state machines behind a chat webhook, with a \
            verified OTP email flow, an OTP API, Capillary-, eGov DIGIT- and Kore.ai-shaped \
            routes, and a web chat. Every route the server can serve is described; routes that \
            exist only with some configuration say so. Native errors are \
            `{\"error\": {\"code\", \"message\"}}` with a stable snake_case `code`; every 429 \
            and 503 carries `Retry-After`.",
        license(name = "MIT OR Apache-2.0"),
    ),
    tags(
        (name = "conversations", description = "The native chat webhook."),
        (name = "sessions", description = "Sessions: support views, ending them, their event streams."),
        (name = "handoff", description = "Conversations handed to people: agents' messages and handing back."),
        (name = "dialogs", description = "The loaded dialogs."),
        (name = "otp", description = "One-time codes without a dialog."),
        (name = "capillary", description = "Capillary-compatible OTP routes."),
        (name = "digit", description = "eGov DIGIT-compatible OTP routes."),
        (name = "kore", description = "Kore.ai-compatible webhooks (v1 and v2)."),
        (name = "dev", description = "Development only: the dev outbox and dev mode."),
        (name = "web chat", description = "The web chat's page, script and stylesheet."),
        (name = "operations", description = "Health, metrics and this document."),
    ),
    components(schemas(ErrorBody))
)]
struct Base;

/// The security scheme names.
const API_KEY: &str = "api_key";
const SIGNATURE: &str = "signature";
const KORE_JWT: &str = "kore_jwt";

/// The document: every group's routes with what the group adds.
pub fn document() -> Document {
    let mut document = Base::openapi();
    for group in GROUPS {
        let mut part = (group.routes)().into_openapi();
        for item in part.paths.paths.values_mut() {
            for operation in operations(item) {
                complete(operation, group);
            }
        }
        document.merge(part);
    }
    let components = document.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        API_KEY,
        SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
    );
    components.add_security_scheme(
        SIGNATURE,
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-Colloquy-Signature",
            "`t=<unix seconds>,v1=<hex HMAC-SHA256(secret, \"<t>.<raw body>\")>`: within \
             `auth.replay_window` of the server's clock, each signature accepted once.",
        ))),
    );
    let mut jwt = Http::new(HttpAuthScheme::Bearer);
    jwt.bearer_format = Some("JWT".to_owned());
    jwt.description = Some(
        "A Kore.ai JWT (HS256 or HS512) signed with a `kore.clients` secret, checked as Kore \
         does: `exp` required, `kore.max_token_lifetime`, `aud`/`iss` when configured."
            .to_owned(),
    );
    components.add_security_scheme(KORE_JWT, SecurityScheme::Http(jwt));
    document
}

/// The document as the committed file holds it: pretty JSON and a final newline.
pub fn rendered() -> String {
    let mut text = document().to_pretty_json().unwrap_or_default();
    text.push('\n');
    text
}

/// `GET /openapi.json`: the document, built once.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "operations",
    summary = "This document",
    description = "The OpenAPI 3.1 description of every route the server can serve, whatever \
        its configuration (optional routes say when they exist). Open: no credentials.",
    responses((status = 200, description = "The document.", content_type = "application/json", body = Object))
)]
pub async fn document_json() -> Response {
    static TEXT: OnceLock<String> = OnceLock::new();
    let text = TEXT.get_or_init(rendered).clone();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        text,
    )
        .into_response()
}

/// The operations of a path.
fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.options.as_mut(),
        item.head.as_mut(),
        item.patch.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// Adds to `operation` what its group says about it.
fn complete(operation: &mut Operation, group: &Group) {
    if let Some(condition) = group.condition {
        let description = operation.description.get_or_insert_with(String::new);
        if !description.is_empty() {
            description.push_str("\n\n");
        }
        description.push_str(condition);
    }
    let native = schema_ref("Error");
    let envelope = match group.envelope {
        Envelope::Native => native.clone(),
        Envelope::Capillary => schema_ref("CapillaryErrors"),
        Envelope::Digit => schema_ref("DigitErrors"),
        Envelope::Kore => schema_ref("KoreErrors"),
    };
    if operation.request_body.is_some() && group.envelope != Envelope::Kore {
        for (status, description) in BODY_ERRORS {
            add(operation, status, description, &envelope, None);
        }
    }
    match group.access {
        Access::Open => {}
        Access::Guarded => {
            operation.security = Some(vec![
                SecurityRequirement::new(API_KEY, Vec::<String>::new()),
                SecurityRequirement::new(SIGNATURE, Vec::<String>::new()),
            ]);
            add(
                operation,
                "401",
                "`unauthorized`: no valid API key or signature (deliberately nothing more).",
                &native,
                Some(("WWW-Authenticate", "`Bearer`.", Type::String)),
            );
            add(
                operation,
                "429",
                "`rate_limited`: too many requests from this address or client.",
                &native,
                Some(RETRY_AFTER),
            );
            if operation.request_body.is_some() {
                add(
                    operation,
                    "413",
                    "`payload_too_large` (a signed body is read by the guard).",
                    &native,
                    None,
                );
            }
        }
        Access::Kore => {
            operation.security = Some(vec![SecurityRequirement::new(
                KORE_JWT,
                Vec::<String>::new(),
            )]);
            add(
                operation,
                "429",
                "`rate_limited`: too many requests from this address.",
                &native,
                Some(RETRY_AFTER),
            );
        }
    }
    add(
        operation,
        "503",
        "`shutting_down`: the server is draining before it stops; `too_many_connections`: \
         `server.max_connections` connections are open.",
        &native,
        Some(RETRY_AFTER),
    );
}

const RETRY_AFTER: (&str, &str, Type) = (
    "Retry-After",
    "Seconds to wait before retrying.",
    Type::Integer,
);

/// What the body extractors answer, in the route's envelope.
const BODY_ERRORS: [(&str, &str); 5] = [
    (
        "400",
        "`invalid_json`: the body is not JSON (or not UTF-8).",
    ),
    (
        "408",
        "`body_timeout`: the body did not arrive within `server.body_read_timeout`; the \
         connection is closed.",
    ),
    (
        "413",
        "`payload_too_large`: the body is larger than `server.max_body_bytes`.",
    ),
    (
        "415",
        "`unsupported_media_type`: the body is not sent as `application/json`.",
    ),
    (
        "422",
        "`invalid_request`: the body is JSON but not an object of the expected fields \
         (missing, unknown, of the wrong type or out of range).",
    ),
];

fn schema_ref(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

/// Adds an answer to `operation`: a new status as it is; a status it already has gets the
/// description appended and, when the body differs, a body that is one of the two.
fn add(
    operation: &mut Operation,
    status: &str,
    description: &str,
    body: &RefOr<Schema>,
    header: Option<(&str, &str, Type)>,
) {
    let responses = &mut operation.responses.responses;
    let existing = responses.remove(status);
    let mut response = match existing {
        Some(RefOr::T(mut response)) => {
            if !response.description.contains(description) {
                response.description = format!("{} {description}", response.description);
            }
            merge_body(&mut response, body);
            response
        }
        // A reusable response (none so far): left as it is.
        Some(reference @ RefOr::Ref(_)) => {
            responses.insert(status.to_owned(), reference);
            return;
        }
        None => ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new().schema(Some(body.clone())).build(),
            )
            .build(),
    };
    if let Some((name, about, kind)) = header {
        response.headers.entry(name.to_owned()).or_insert_with(|| {
            HeaderBuilder::new()
                .schema(Schema::Object(
                    ObjectBuilder::new().schema_type(kind).build(),
                ))
                .description(Some(about))
                .build()
        });
    }
    responses.insert(status.to_owned(), RefOr::T(response));
}

/// Makes the JSON body of `response` also allow `body`.
fn merge_body(response: &mut ApiResponse, body: &RefOr<Schema>) {
    let content = response
        .content
        .entry("application/json".to_owned())
        .or_insert_with(|| ContentBuilder::new().build());
    content.schema = Some(match content.schema.take() {
        None => body.clone(),
        Some(same) if same == *body => same,
        Some(RefOr::T(Schema::OneOf(mut one_of))) => {
            if !one_of.items.contains(body) {
                one_of.items.push(body.clone());
            }
            RefOr::T(Schema::OneOf(one_of))
        }
        Some(other) => RefOr::T(Schema::OneOf(
            OneOfBuilder::new().item(other).item(body.clone()).build(),
        )),
    });
}
