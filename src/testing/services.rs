//! Services a script answers itself, so a dialog's `http.request` runs deterministically and
//! offline in `colloquy test`.
//!
//! ```yaml
//! services:                               # in the file (every script's) or in one script
//!   bookings:
//!     - { method: POST, path: /bookings, status: 201, body: { booking: { id: B-17 } } }
//!     - { path: "/slots/*", body: { slots: [ { label: "10:00" } ] } }   # status 200
//!     - { path: /status, outcome: timeout }       # or `unreachable`
//! ```
//! A request gets the first answer whose `method` and `path` (`*` matches any run of
//! characters; the query is not part of it) fit; a request no answer fits gets a 404. A
//! script's own `services:` replace the file's for the services it names.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::dialog::actions::http_request::Method;
use crate::reader::Diagnostics;
use crate::services::{Exchange, Request, ServiceCaller};
use crate::yaml::{Node, Value as Yaml};

/// What a scripted answer does.
#[derive(Debug, Clone, PartialEq)]
pub enum Scripted {
    Answer {
        status: u16,
        body: Option<serde_json::Value>,
    },
    Timeout,
    Unreachable,
}

/// One scripted answer and the requests it fits.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub method: Option<Method>,
    /// `*` matches any run of characters.
    pub path: Option<String>,
    pub then: Scripted,
}

/// Scripted answers by service name.
pub type ServiceAnswers = BTreeMap<String, Vec<Answer>>;

/// Answers `http.request` from a script's [`ServiceAnswers`].
#[derive(Debug)]
pub struct ScriptedServices {
    answers: ServiceAnswers,
}

impl ScriptedServices {
    pub fn new(answers: ServiceAnswers) -> Self {
        Self { answers }
    }
}

#[async_trait]
impl ServiceCaller for ScriptedServices {
    async fn call(&self, service: &str, request: Request<'_>) -> Exchange {
        let answer = self.answers.get(service).and_then(|answers| {
            answers.iter().find(|answer| {
                answer.method.is_none_or(|m| m == request.method)
                    && answer
                        .path
                        .as_deref()
                        .is_none_or(|pattern| crate::glob::matches(pattern, request.path))
            })
        });
        match answer.map(|a| &a.then) {
            Some(Scripted::Answer { status, body }) => Exchange::Answered {
                status: *status,
                body: body
                    .as_ref()
                    .map(|b| serde_json::to_vec(b).unwrap_or_default())
                    .unwrap_or_default(),
            },
            Some(Scripted::Timeout) => Exchange::TimedOut,
            Some(Scripted::Unreachable) => Exchange::Unreachable,
            None => Exchange::Answered {
                status: 404,
                body: br#"{"error":"no scripted answer fits this request"}"#.to_vec(),
            },
        }
    }
}

/// Reads `services:`; problems are reported and the entries with them left out.
pub fn read_services(node: &Node, d: &mut Diagnostics) -> ServiceAnswers {
    let mut services = ServiceAnswers::new();
    let Some(entries) = node.as_map() else {
        d.error(
            node.pos,
            format!(
                "`services` must map service names to lists of answers, found {}",
                node.value.kind()
            ),
        );
        return services;
    };
    for (key, answers) in entries {
        let Some(name) = d.string(key, "a service name") else {
            continue;
        };
        let Yaml::Seq(items) = &answers.value else {
            d.error(
                answers.pos,
                format!(
                    "the answers of `{name}` must be a list, found {}",
                    answers.value.kind()
                ),
            );
            continue;
        };
        let read: Vec<Answer> = items
            .iter()
            .filter_map(|item| read_answer(item, d))
            .collect();
        services.insert(name, read);
    }
    services
}

fn read_answer(node: &Node, d: &mut Diagnostics) -> Option<Answer> {
    let mut map = d.map(node, "a scripted answer")?;
    let method = map.take("method").and_then(|n| {
        let name = d.string(n, "`method`")?;
        let method = Method::parse(&name);
        if method.is_none() {
            d.error(
                n.pos,
                format!("unknown method `{name}`; methods: GET, POST, PUT, PATCH, DELETE"),
            );
        }
        method
    });
    let path = map.take("path").and_then(|n| d.string(n, "`path`"));
    let status = map
        .take("status")
        .and_then(|n| d.integer(n, "`status`", 100, 599))
        .and_then(|s| u16::try_from(s).ok());
    let body = map.take("body").map(|n| n.value.to_json());
    let outcome = map.take("outcome").and_then(|n| {
        let outcome = d.string(n, "`outcome`")?;
        match outcome.as_str() {
            "timeout" => Some(Scripted::Timeout),
            "unreachable" => Some(Scripted::Unreachable),
            other => {
                d.error(n.pos, format!("unknown outcome `{other}`: `timeout` or `unreachable` (an answer has `status` and `body`)"));
                None
            }
        }
    });
    map.finish(d, "a scripted answer");
    let then = match outcome {
        Some(outcome) => outcome,
        None => Scripted::Answer {
            status: status.unwrap_or(200),
            body,
        },
    };
    Some(Answer { method, path, then })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_fitting_answer_is_given() {
        let yaml = crate::yaml::parse(
            "bookings:\n  - { method: POST, path: /bookings, status: 201, body: { id: B-1 } }\n  - { path: \"/slots/*\", outcome: timeout }\n",
        )
        .unwrap();
        let mut d = Diagnostics::default();
        let services = ScriptedServices::new(read_services(&yaml, &mut d));
        assert!(d.items.is_empty(), "{:?}", d.items);
        let request = |method, path| Request {
            method,
            path,
            query: &[],
            headers: &[],
            body: None,
            timeout: None,
            retries: 0,
        };
        assert_eq!(
            services
                .call("bookings", request(Method::Post, "/bookings"))
                .await,
            Exchange::Answered {
                status: 201,
                body: br#"{"id":"B-1"}"#.to_vec()
            }
        );
        assert_eq!(
            services
                .call("bookings", request(Method::Get, "/slots/x"))
                .await,
            Exchange::TimedOut
        );
        assert!(matches!(
            services
                .call("bookings", request(Method::Get, "/bookings"))
                .await,
            Exchange::Answered { status: 404, .. }
        ));
    }
}
