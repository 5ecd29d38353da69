//! `http.request`: the call goes through the configured service; the answer becomes the
//! outcome, `http.status` and the variables the node's `save:` names.

use crate::dialog::Outcome;
use crate::dialog::actions::http_request::{Call, STATUS_VARIABLE};
use crate::dialog::value::Value;
use crate::services::{Exchange, Request};

use super::super::Engine;

pub(super) async fn run(engine: &Engine, call: Call) -> Outcome {
    let request = Request {
        method: call.method,
        path: &call.path,
        query: &call.query,
        headers: &call.headers,
        body: call.body.as_ref(),
        timeout: call.timeout,
        retries: call.retries,
    };
    let exchange = engine.services.call(&call.service, request).await;
    outcome(&call, exchange)
}

/// Maps what the service did onto the action's outcomes.
fn outcome(call: &Call, exchange: Exchange) -> Outcome {
    let status = |name, status: u16| {
        Outcome::new(name).with(STATUS_VARIABLE, Value::Number(f64::from(status)))
    };
    match exchange {
        Exchange::Answered { status: code, body } if (200..300).contains(&code) => {
            match saved(&call.save, &body) {
                Some(vars) => {
                    let mut outcome = status("ok", code);
                    for (name, value) in vars {
                        outcome = outcome.with(name, value);
                    }
                    outcome
                }
                None => status("invalid_response", code),
            }
        }
        Exchange::Answered { status: code, .. } => status("http_error", code),
        Exchange::TooLarge { status: code } => status("invalid_response", code),
        Exchange::TimedOut => Outcome::new("timeout"),
        Exchange::Unreachable | Exchange::Invalid => status("http_error", 0),
    }
}

/// The values `save` points at, or `None` when the body is not JSON or a pointer finds no
/// text, number or boolean (a missing field, `null`, an object or a list).
fn saved(save: &[(String, String)], body: &[u8]) -> Option<Vec<(String, Value)>> {
    if save.is_empty() {
        return Some(Vec::new());
    }
    let json: serde_json::Value = serde_json::from_slice(body).ok()?;
    save.iter()
        .map(|(name, pointer)| {
            let value = match json.pointer(pointer)? {
                serde_json::Value::Bool(b) => Value::Bool(*b),
                serde_json::Value::Number(n) => Value::Number(n.as_f64()?),
                serde_json::Value::String(s) => Value::Text(s.clone()),
                _ => return None,
            };
            Some((name.clone(), value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialog::actions::http_request::Method;

    fn call(save: &[(&str, &str)]) -> Call {
        Call {
            service: "bookings".into(),
            method: Method::Get,
            path: "/slots".into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            timeout: None,
            retries: 0,
            save: save
                .iter()
                .map(|(n, p)| ((*n).to_owned(), (*p).to_owned()))
                .collect(),
        }
    }

    fn answered(status: u16, body: &str) -> Exchange {
        Exchange::Answered {
            status,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_2xx_answer_saves_what_the_pointers_find() {
        let outcome = outcome(
            &call(&[
                ("slot_id", "/slot/id"),
                ("seats", "/slot/seats"),
                ("open", "/open"),
            ]),
            answered(200, r#"{"slot":{"id":"s-9","seats":2},"open":true}"#),
        );
        assert_eq!(outcome.name, "ok");
        let vars: Vec<(&str, &Value)> = outcome.vars.iter().map(|(n, v)| (n.as_ref(), v)).collect();
        assert_eq!(
            vars,
            [
                ("http.status", &Value::Number(200.0)),
                ("slot_id", &Value::Text("s-9".into())),
                ("seats", &Value::Number(2.0)),
                ("open", &Value::Bool(true)),
            ]
        );
    }

    #[test]
    fn answers_that_do_not_fit_are_invalid_responses() {
        let save = call(&[("slot_id", "/slot/id")]);
        for body in [
            "not json",
            r#"{"slot":{}}"#,
            r#"{"slot":{"id":null}}"#,
            r#"{"slot":{"id":[1]}}"#,
        ] {
            assert_eq!(
                outcome(&save, answered(200, body)).name,
                "invalid_response",
                "{body}"
            );
        }
        // Without `save`, the body is not read at all.
        assert_eq!(outcome(&call(&[]), answered(204, "")).name, "ok");
        assert_eq!(
            outcome(&save, Exchange::TooLarge { status: 200 }).name,
            "invalid_response"
        );
    }

    #[test]
    fn failures_name_their_kind() {
        let plain = call(&[]);
        let not_found = outcome(&plain, answered(404, "{}"));
        assert_eq!(not_found.name, "http_error");
        assert_eq!(not_found.vars[0].1, Value::Number(404.0));
        assert_eq!(outcome(&plain, Exchange::TimedOut).name, "timeout");
        let unreachable = outcome(&plain, Exchange::Unreachable);
        assert_eq!(
            (unreachable.name, &unreachable.vars[0].1),
            ("http_error", &Value::Number(0.0))
        );
    }
}
