//! `http.request`: call a service the configuration names and keep parts of its JSON answer.
//!
//! ```yaml
//! find_slot:
//!   action: http.request
//!   with:
//!     service: bookings                   # `services.bookings` in config.yaml: its base URL
//!     method: POST                        # GET (default), POST, PUT, PATCH, DELETE
//!     path: "/slots/{{ service_kind }}"   # after the base URL; values are percent-encoded
//!     query: { day: "{{ day }}" }
//!     headers: { X-Channel: chat }
//!     body: { kind: "{{ service_kind }}", seats: "{{ seats }}" }   # "{{ seats }}" stays a number
//!     timeout: 3s                         # at most (and by default) the service's
//!     retries: 1                          # GET, PUT and DELETE only
//!     save: { slot_id: /slot/id, slot_label: /slot/label }        # JSON Pointers
//!   on: { ok: offer_slot, http_error: no_slot, timeout: try_later, invalid_response: try_later }
//! ```
//! Only services declared in the configuration can be called, so no user can steer a request
//! to an address of their choosing; the values a user typed reach a service only percent-encoded
//! in the path and query, or as JSON strings in the body.

use std::fmt;
use std::time::Duration;

use crate::diagnostic::Diagnostic;
use crate::dialog::load::{Resolver, TextSrc};
use crate::dialog::machine::Run;
use crate::dialog::template::{Escape, Template};
use crate::dialog::value::Value;
use crate::reader::{Diagnostics, MapReader};
use crate::yaml::{Node as YamlNode, Pos, Value as YamlValue};

use super::{ActionCall, ActionSpec};

pub const NAME: &str = "http.request";

pub const SPEC: ActionSpec = ActionSpec {
    name: NAME,
    outcomes: &OUTCOMES,
    provides: &PROVIDES,
    read,
};

/// `ok`: a 2xx answer, every `save` pointer found. `http_error`: another status (in
/// `http.status`), or the service could not be reached (`http.status` is 0). `timeout`: no
/// answer in time. `invalid_response`: a 2xx answer that is not JSON, lacks a saved field, or
/// is larger than the service allows.
pub const OUTCOMES: [&str; 4] = ["ok", "http_error", "timeout", "invalid_response"];

pub const PROVIDES: [&str; 1] = [STATUS_VARIABLE];

/// The answer's status code, for conditions (`{ var: http.status, equals: 404 }`).
pub const STATUS_VARIABLE: &str = "http.status";

/// The most retries a node may ask for.
pub const MAX_RETRIES: u8 = 3;

/// The longest timeout a node may ask for.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);

const HEADER_NAMING_RULE: &str = "header names are letters, digits and `-`; Host, Content-Type, Content-Length and connection headers are set by the client";

/// Headers the client sets itself; a dialog may not.
const RESERVED_HEADERS: [&str; 6] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "content-type",
    "upgrade",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    const ALL: [(&'static str, Method); 5] = [
        ("GET", Method::Get),
        ("POST", Method::Post),
        ("PUT", Method::Put),
        ("PATCH", Method::Patch),
        ("DELETE", Method::Delete),
    ];

    /// `GET`, `post`…: a method by name, in any case.
    pub fn parse(name: &str) -> Option<Method> {
        let upper = name.to_ascii_uppercase();
        Self::ALL.iter().find(|(n, _)| *n == upper).map(|(_, m)| *m)
    }

    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("GET", |(name, _)| name)
    }

    /// Sending it twice has the effect of sending it once (RFC 9110 §9.2.2): safe to retry.
    pub fn is_idempotent(self) -> bool {
        matches!(self, Method::Get | Method::Put | Method::Delete)
    }
}

/// A JSON body as written: strings are templates, the rest is kept.
#[derive(Debug)]
enum RawJson {
    Null,
    Bool(bool),
    Number(f64),
    Text(TextSrc),
    List(Vec<RawJson>),
    Map(Vec<(String, RawJson)>),
}

/// A JSON body with compiled templates.
#[derive(Debug)]
pub enum JsonTemplate {
    Null,
    Bool(bool),
    Number(f64),
    Text(Template),
    /// `"{{ name }}"` alone: the variable's value with its type (a number stays a number).
    Var(String),
    List(Vec<JsonTemplate>),
    Map(Vec<(String, JsonTemplate)>),
}

#[derive(Debug)]
struct RawParams {
    service: Option<(String, Pos)>,
    method: Method,
    path: Option<TextSrc>,
    query: Vec<(String, TextSrc)>,
    headers: Vec<(String, TextSrc)>,
    body: Option<RawJson>,
    timeout: Option<Duration>,
    retries: u8,
    save: Vec<(String, String)>,
}

#[derive(Debug)]
pub struct Params {
    pub service: String,
    pub method: Method,
    pub path: Template,
    pub query: Vec<(String, Template)>,
    pub headers: Vec<(String, Template)>,
    pub body: Option<JsonTemplate>,
    pub timeout: Option<Duration>,
    pub retries: u8,
    /// `(variable, JSON Pointer)`.
    pub save: Vec<(String, String)>,
}

/// A rendered `http.request`. Its `Debug` leaves out header values and the body, which may
/// carry what users typed.
#[derive(Clone)]
pub struct Call {
    pub service: String,
    pub method: Method,
    /// Percent-encoded, starting with `/` (or empty): appended to the service's base URL.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Option<serde_json::Value>,
    /// Shortens the service's timeout; `None`: the service's.
    pub timeout: Option<Duration>,
    pub retries: u8,
    pub save: Vec<(String, String)>,
}

impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("service", &self.service)
            .field("method", &self.method)
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(name, _)| name)
                    .collect::<Vec<_>>(),
            )
            .field("body", &self.body.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .finish_non_exhaustive()
    }
}

fn read(
    with: Option<MapReader<'_>>,
    d: &mut Diagnostics,
    node_pos: Pos,
) -> Option<Box<dyn super::RawParams>> {
    let Some(mut with) = with else {
        d.push(
            Diagnostic::error(
                node_pos,
                format!("`{NAME}` needs `with: {{ service: ... }}`"),
            )
            .with_hint("name a service from `services:` in config.yaml, and a `path`"),
        );
        return None;
    };
    let service = super::required(
        &mut with,
        d,
        "service",
        NAME,
        "the name of a service under `services:` in config.yaml",
        Diagnostics::string,
    );
    let method = with.take("method").map(|n| read_method(n, d));
    let path = with
        .take("path")
        .and_then(|n| d.text(n, "`path`").map(|text| TextSrc { text, pos: n.pos }));
    let query = with
        .take("query")
        .map(|n| {
            read_text_map(
                n,
                d,
                "`query`",
                (is_query_name, "a query parameter needs a name"),
            )
        })
        .unwrap_or_default();
    let headers = with
        .take("headers")
        .map(|n| read_text_map(n, d, "`headers`", (is_header_name, HEADER_NAMING_RULE)))
        .unwrap_or_default();
    let body = with.take("body").and_then(|n| read_json(n, d, 0));
    let timeout = with.take("timeout").and_then(|n| {
        let timeout = d.duration(n, "`timeout`")?;
        if timeout < Duration::from_millis(10) || timeout > MAX_TIMEOUT {
            d.error(n.pos, "`timeout` must be between 10ms and 60s");
            return None;
        }
        Some(timeout)
    });
    let retries = with.take("retries").and_then(|n| {
        d.integer(n, "`retries`", 0, i64::from(MAX_RETRIES))
            .and_then(|v| u8::try_from(v).ok())
            .map(|v| (v, n.pos))
    });
    let save = with
        .take("save")
        .map(|n| read_save(n, d))
        .unwrap_or_default();
    with.finish(d, &format!("`with` of {NAME}"));
    let method = match method {
        Some(method) => method?,
        None => Method::Get,
    };
    if body.is_some() && method == Method::Get {
        d.error(
            node_pos,
            "a GET request has no `body`; use `query`, or `method: POST`",
        );
    }
    let retries = match retries {
        Some((n, pos)) if n > 0 && !method.is_idempotent() => {
            d.push(
                Diagnostic::error(
                    pos,
                    format!(
                        "`retries` could repeat a {} request's effect",
                        method.as_str()
                    ),
                )
                .with_hint(
                    "only GET, PUT and DELETE are retried; make the service idempotent with a PUT",
                ),
            );
            // Read on: the variables `save` names stay known, so their uses are not reported
            // too (the dialog is not built while any error stands).
            0
        }
        Some((n, _)) => n,
        None => 0,
    };
    Some(Box::new(RawParams {
        service,
        method,
        path,
        query,
        headers,
        body,
        timeout,
        retries,
        save,
    }))
}

fn read_method(node: &YamlNode, d: &mut Diagnostics) -> Option<Method> {
    let name = d.string(node, "`method`")?;
    let found = Method::parse(&name);
    if found.is_none() {
        d.push(
            Diagnostic::error(node.pos, format!("unknown method `{name}`"))
                .with_hint("methods: GET, POST, PUT, PATCH, DELETE"),
        );
    }
    found
}

fn is_query_name(name: &str) -> bool {
    !name.is_empty()
}

/// An HTTP token (RFC 9110 §5.6.2), not one the client owns.
fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        && !RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str())
}

/// A mapping of names to text templates (`query`, `headers`).
fn read_text_map(
    node: &YamlNode,
    d: &mut Diagnostics,
    what: &str,
    (valid_name, naming_rule): (fn(&str) -> bool, &str),
) -> Vec<(String, TextSrc)> {
    let Some(entries) = node.as_map() else {
        d.error(
            node.pos,
            format!(
                "{what} must be a mapping of names to text, found {}",
                node.value.kind()
            ),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, value) in entries {
        let Some(name) = d.string(key, &format!("a name in {what}")) else {
            continue;
        };
        if !valid_name(&name) {
            d.push(
                Diagnostic::error(key.pos, format!("`{name}` cannot be set in {what}"))
                    .with_hint(naming_rule),
            );
            continue;
        }
        let Some(text) = value.value.scalar_text() else {
            let other = &value.value;
            d.error(
                value.pos,
                format!(
                    "the value of `{name}` in {what} must be text, found {}",
                    other.kind()
                ),
            );
            continue;
        };
        out.push((
            name,
            TextSrc {
                text,
                pos: value.pos,
            },
        ));
    }
    out
}

/// Nesting deeper than this in a body is refused (it is a dialog, not a data file).
const MAX_BODY_DEPTH: usize = 16;

fn read_json(node: &YamlNode, d: &mut Diagnostics, depth: usize) -> Option<RawJson> {
    if depth > MAX_BODY_DEPTH {
        d.error(
            node.pos,
            format!("`body` is nested more than {MAX_BODY_DEPTH} levels deep"),
        );
        return None;
    }
    Some(match &node.value {
        YamlValue::Null => RawJson::Null,
        YamlValue::Bool(b) => RawJson::Bool(*b),
        #[allow(clippy::cast_precision_loss)]
        YamlValue::Int(i) => RawJson::Number(*i as f64),
        YamlValue::Float(f) if f.is_finite() => RawJson::Number(*f),
        YamlValue::Float(_) => {
            d.error(node.pos, "JSON has no infinite or NaN numbers");
            return None;
        }
        YamlValue::Str(text) => RawJson::Text(TextSrc {
            text: text.clone(),
            pos: node.pos,
        }),
        YamlValue::Seq(items) => {
            let items: Vec<Option<RawJson>> = items
                .iter()
                .map(|item| read_json(item, d, depth + 1))
                .collect();
            RawJson::List(items.into_iter().collect::<Option<_>>()?)
        }
        YamlValue::Map(entries) => {
            let mut fields = Vec::with_capacity(entries.len());
            let mut ok = true;
            for (key, value) in entries {
                let name = match &key.value {
                    YamlValue::Str(s) => s.clone(),
                    YamlValue::Int(i) => i.to_string(),
                    other => {
                        d.error(
                            key.pos,
                            format!("a JSON key is text, found {}", other.kind()),
                        );
                        ok = false;
                        continue;
                    }
                };
                if fields.iter().any(|(n, _)| *n == name) {
                    d.error(key.pos, format!("`{name}` appears twice in this object"));
                    ok = false;
                    continue;
                }
                match read_json(value, d, depth + 1) {
                    Some(value) => fields.push((name, value)),
                    None => ok = false,
                }
            }
            if !ok {
                return None;
            }
            RawJson::Map(fields)
        }
    })
}

/// `save: { variable: /json/pointer }`.
fn read_save(node: &YamlNode, d: &mut Diagnostics) -> Vec<(String, String)> {
    let Some(entries) = node.as_map() else {
        d.push(
            Diagnostic::error(
                node.pos,
                format!(
                    "`save` must be a mapping of variables to JSON Pointers, found {}",
                    node.value.kind()
                ),
            )
            .with_hint("for example `save: { booking_id: /booking/id }`"),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, value) in entries {
        let Some(name) = crate::dialog::load::read_variable_name(d, key) else {
            continue;
        };
        if name == STATUS_VARIABLE {
            d.error(
                key.pos,
                format!("`{STATUS_VARIABLE}` is set by the action itself"),
            );
            continue;
        }
        let Some(pointer) = d.string(value, &format!("the pointer of `{name}`")) else {
            continue;
        };
        if let Err(problem) = check_pointer(&pointer) {
            // Kept after the report, so the variable stays known (as with `retries`).
            d.push(
                Diagnostic::error(value.pos, format!("`{pointer}` is not a JSON Pointer: {problem}"))
                    .with_hint("a JSON Pointer (RFC 6901) is `/field/0/name`: `/` before each step, `~0` for `~`, `~1` for `/`"),
            );
        }
        out.push((name, pointer));
    }
    out
}

/// RFC 6901: empty (the whole document) or `/`-separated steps where `~` is only `~0`/`~1`.
fn check_pointer(pointer: &str) -> Result<(), &'static str> {
    if pointer.is_empty() {
        return Ok(());
    }
    if !pointer.starts_with('/') {
        return Err("it must start with `/`");
    }
    let mut chars = pointer.chars();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
            return Err("`~` must be followed by 0 or 1");
        }
    }
    Ok(())
}

impl super::RawParams for RawParams {
    fn sets(&self) -> Vec<String> {
        self.save.iter().map(|(name, _)| name.clone()).collect()
    }

    fn resolve(self: Box<Self>, r: &mut Resolver<'_>) -> Option<Box<dyn super::Params>> {
        let (service, service_pos) = self.service?;
        let known = r.service(&service, service_pos);
        let path = match &self.path {
            Some(src) => {
                let template = r.template(src);
                if let Some(template) = &template {
                    check_path(template, src.pos, r);
                }
                template
            }
            None => Template::compile("").ok(),
        };
        let query = texts(r, &self.query);
        let headers = texts(r, &self.headers);
        let body = match &self.body {
            Some(raw) => Some(resolve_json(raw, r)?),
            None => None,
        };
        if !known {
            return None;
        }
        Some(Box::new(Params {
            service,
            method: self.method,
            path: path?,
            query: query?,
            headers: headers?,
            body,
            timeout: self.timeout,
            retries: self.retries,
            save: self.save,
        }))
    }
}

/// What the designer wrote in a path must be a path: the query has its own key.
fn check_path(template: &Template, pos: Pos, r: &mut Resolver<'_>) {
    let literal: String = template.literals().collect();
    let starts_right = literal.is_empty()
        || template
            .literals()
            .next()
            .is_some_and(|l| l.starts_with('/'));
    if !starts_right {
        r.d.push(
            Diagnostic::error(pos, "`path` must start with `/`").with_hint(
                "it is appended to the service's base URL, such as \"/slots/{{ day }}\"",
            ),
        );
    }
    if literal.contains(['?', '#']) {
        r.d.push(
            Diagnostic::error(pos, "`path` cannot hold a query or fragment")
                .with_hint("put query parameters under `query:`, where their values are encoded"),
        );
    }
}

fn texts(r: &mut Resolver<'_>, entries: &[(String, TextSrc)]) -> Option<Vec<(String, Template)>> {
    let compiled: Vec<Option<(String, Template)>> = entries
        .iter()
        .map(|(name, src)| r.template(src).map(|t| (name.clone(), t)))
        .collect();
    compiled.into_iter().collect()
}

fn resolve_json(raw: &RawJson, r: &mut Resolver<'_>) -> Option<JsonTemplate> {
    Some(match raw {
        RawJson::Null => JsonTemplate::Null,
        RawJson::Bool(b) => JsonTemplate::Bool(*b),
        RawJson::Number(n) => JsonTemplate::Number(*n),
        RawJson::Text(src) => {
            let template = r.template(src)?;
            match template.sole_variable() {
                Some(name) => JsonTemplate::Var(name.to_owned()),
                None => JsonTemplate::Text(template),
            }
        }
        RawJson::List(items) => {
            let items: Vec<Option<JsonTemplate>> =
                items.iter().map(|item| resolve_json(item, r)).collect();
            JsonTemplate::List(items.into_iter().collect::<Option<_>>()?)
        }
        RawJson::Map(fields) => {
            let fields: Vec<Option<(String, JsonTemplate)>> = fields
                .iter()
                .map(|(name, value)| resolve_json(value, r).map(|v| (name.clone(), v)))
                .collect();
            JsonTemplate::Map(fields.into_iter().collect::<Option<_>>()?)
        }
    })
}

fn render_json(template: &JsonTemplate, run: &Run<'_>) -> serde_json::Value {
    use serde_json::Value as Json;
    match template {
        JsonTemplate::Null => Json::Null,
        JsonTemplate::Bool(b) => Json::Bool(*b),
        JsonTemplate::Number(n) => number(*n),
        JsonTemplate::Text(t) => Json::String(run.render(t)),
        JsonTemplate::Var(name) => match run.session.context.get(name, run.now) {
            Some(Value::Bool(b)) => Json::Bool(*b),
            Some(Value::Number(n)) => number(*n),
            Some(Value::Text(t)) => Json::String(t.clone()),
            None => Json::Null,
        },
        JsonTemplate::List(items) => {
            Json::Array(items.iter().map(|i| render_json(i, run)).collect())
        }
        JsonTemplate::Map(fields) => Json::Object(
            fields
                .iter()
                .map(|(name, value)| (name.clone(), render_json(value, run)))
                .collect(),
        ),
    }
}

/// A whole number as a JSON integer (`2`, not `2.0`), others as floats.
fn number(n: f64) -> serde_json::Value {
    #[allow(clippy::cast_possible_truncation)]
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        serde_json::Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(serde_json::Value::Null, serde_json::Value::Number)
    }
}

/// Header values are one line: control characters a user typed become spaces.
fn header_value(text: String) -> String {
    if text.chars().any(char::is_control) {
        text.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    } else {
        text
    }
}

impl super::Params for Params {
    fn call(&self, run: &Run<'_>) -> ActionCall {
        ActionCall::HttpRequest(Call {
            service: self.service.clone(),
            method: self.method,
            path: run.render_escaped(&self.path, Escape::UrlComponent),
            query: self
                .query
                .iter()
                .map(|(name, t)| (name.clone(), run.render(t)))
                .collect(),
            headers: self
                .headers
                .iter()
                .map(|(name, t)| (name.clone(), header_value(run.render(t))))
                .collect(),
            body: self.body.as_ref().map(|b| render_json(b, run)),
            timeout: self.timeout,
            retries: self.retries,
            save: self.save.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_follow_rfc_6901() {
        assert!(check_pointer("").is_ok());
        assert!(check_pointer("/slot/0/id").is_ok());
        assert!(check_pointer("/a~1b/~0c").is_ok());
        assert!(check_pointer("slot/id").is_err());
        assert!(check_pointer("/a~2").is_err());
        assert!(check_pointer("/a~").is_err());
    }

    #[test]
    fn header_names_are_tokens_the_client_does_not_own() {
        assert!(is_header_name("X-Channel"));
        assert!(!is_header_name("Content-Length"));
        assert!(!is_header_name("host"));
        assert!(!is_header_name("X Channel"));
        assert!(!is_header_name("X:Y"));
    }

    #[test]
    fn numbers_keep_their_json_shape() {
        assert_eq!(number(2.0).to_string(), "2");
        assert_eq!(number(2.5).to_string(), "2.5");
        assert_eq!(header_value("a\r\nb".into()), "a  b");
    }
}
