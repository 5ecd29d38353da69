//! FlowX's message bodies: generate and validate requests read (every problem a
//! [`Poison`]), replies written. Nothing here talks to a broker or the engine.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::dialog::template::is_variable_name;

/// The longest `clientId` accepted (FlowX's example is a 13-digit personal number).
const MAX_CLIENT_ID_CHARS: usize = 128;

/// The longest `otp` accepted for checking.
const MAX_OTP_CHARS: usize = 64;

/// The longest `templateName`.
const MAX_TEMPLATE_CHARS: usize = 256;

/// The longest text parameter a template may be given.
const MAX_PARAM_CHARS: usize = 1024;

/// Where a code goes: FlowX's `channel`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Mail,
    Sms,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Mail => "MAIL",
            Channel::Sms => "SMS",
        }
    }
}

/// What every request carries back into its reply.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Correlation {
    /// `processInstanceId` as the request had it (a number or a string), or from its header.
    pub process_instance_id: Option<Value>,
    pub client_id: Option<Value>,
    pub channel: Option<Value>,
}

/// A generate request (`KAFKA_TOPIC_OTP_GENERATE_IN`).
#[derive(Clone, Debug, PartialEq)]
pub struct Generate {
    pub correlation: Correlation,
    pub client_id: String,
    pub channel: Channel,
    /// The address or phone number, as given (checked where it is used).
    pub recipient: String,
    pub template_name: String,
    /// The template parameters: text, number and boolean fields at the top level, in
    /// `contentParams` and in `data` (a later place wins), by name.
    pub params: BTreeMap<String, String>,
}

/// A validate request (`KAFKA_TOPIC_OTP_VALIDATE_IN`).
#[derive(Clone, Debug, PartialEq)]
pub struct Validate {
    pub correlation: Correlation,
    pub client_id: String,
    pub channel: Channel,
    pub otp: String,
}

/// A message that cannot be read as a request: it goes to the dead-letter topic, and is
/// answered with `error` when `correlation` names the process that asked.
#[derive(Clone, Debug, PartialEq)]
pub struct Poison {
    pub correlation: Correlation,
    /// What is wrong, for the reply and the dead-letter header (never the body's values).
    pub error: String,
}

impl Poison {
    /// Whether the asker can be told: its process instance is known.
    pub fn correlatable(&self) -> bool {
        self.correlation.process_instance_id.is_some()
    }
}

/// Reads a generate request. `header_pid` is the `processInstanceId` header, if any.
pub fn generate(payload: &[u8], max: usize, header_pid: Option<&str>) -> Result<Generate, Poison> {
    let (body, correlation) = object(payload, max, header_pid)?;
    let poison = |error: String| Poison {
        correlation: correlation.clone(),
        error,
    };
    let client_id = client_id(&body).map_err(poison)?;
    let channel = channel(&body).map_err(poison)?;
    let recipient = text(&body, "recipient", 320).map_err(poison)?;
    let template_name = text(&body, "templateName", MAX_TEMPLATE_CHARS).map_err(poison)?;
    let mut params = params(&body);
    // The checked, trimmed form, wherever the request put it.
    params.insert("clientId".to_owned(), client_id.clone());
    Ok(Generate {
        correlation,
        client_id,
        channel,
        recipient,
        template_name,
        params,
    })
}

/// Reads a validate request.
pub fn validate(payload: &[u8], max: usize, header_pid: Option<&str>) -> Result<Validate, Poison> {
    let (body, correlation) = object(payload, max, header_pid)?;
    let poison = |error: String| Poison {
        correlation: correlation.clone(),
        error,
    };
    let client_id = client_id(&body).map_err(poison)?;
    let channel = channel(&body).map_err(poison)?;
    let otp = text(&body, "otp", MAX_OTP_CHARS).map_err(poison)?;
    Ok(Validate {
        correlation,
        client_id,
        channel,
        otp,
    })
}

/// The body as a JSON object within `max` bytes, and what it says about who asked.
fn object(
    payload: &[u8],
    max: usize,
    header_pid: Option<&str>,
) -> Result<(Map<String, Value>, Correlation), Poison> {
    let from_header = Correlation {
        process_instance_id: header_pid.map(header_value),
        ..Correlation::default()
    };
    if payload.len() > max {
        return Err(Poison {
            correlation: from_header,
            error: format!("the request is larger than {max} bytes"),
        });
    }
    let body = match serde_json::from_slice::<Value>(payload) {
        Ok(Value::Object(body)) => body,
        Ok(_) => {
            return Err(Poison {
                correlation: from_header,
                error: "the request is not a JSON object".to_owned(),
            });
        }
        Err(_) => {
            return Err(Poison {
                correlation: from_header,
                error: "the request is not JSON".to_owned(),
            });
        }
    };
    let pick = |value: Option<&Value>| value.filter(|v| !v.is_null()).cloned();
    let correlation = Correlation {
        process_instance_id: pick(body.get("processInstanceId"))
            .or(from_header.process_instance_id),
        client_id: pick(param(&body, "clientId")),
        channel: pick(body.get("channel")),
    };
    Ok((body, correlation))
}

/// A header's text as the reply's `processInstanceId`: a number when it is one.
fn header_value(text: &str) -> Value {
    text.parse::<u64>()
        .map_or_else(|_| Value::String(text.to_owned()), Value::from)
}

/// A template parameter: at the top level (FlowX before 6), or in `data` or the deprecated
/// `contentParams`.
fn param<'a>(body: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    body.get(name).or_else(|| {
        ["data", "contentParams"]
            .iter()
            .find_map(|holder| body.get(*holder)?.get(name))
    })
}

/// The template parameters of a generate request (see [`Generate::params`]). Names that are
/// no template variable, objects and arrays are left out.
fn params(body: &Map<String, Value>) -> BTreeMap<String, String> {
    let holders = ["contentParams", "data"]
        .iter()
        .filter_map(|holder| body.get(*holder)?.as_object());
    let mut params = BTreeMap::new();
    for fields in std::iter::once(body).chain(holders) {
        for (name, value) in fields {
            let text = match value {
                Value::String(text) if text.chars().count() <= MAX_PARAM_CHARS => text.clone(),
                Value::Number(number) => number.to_string(),
                Value::Bool(flag) => flag.to_string(),
                _ => continue,
            };
            if is_variable_name(name) {
                params.insert(name.clone(), text);
            }
        }
    }
    params
}

/// `clientId`: text, or a number written as text.
fn client_id(body: &Map<String, Value>) -> Result<String, String> {
    let id = match param(body, "clientId") {
        Some(Value::String(id)) => id.trim().to_owned(),
        Some(Value::Number(id)) => id.to_string(),
        Some(_) => return Err("`clientId` must be text".to_owned()),
        None => return Err("`clientId` is missing".to_owned()),
    };
    if id.is_empty() || id.chars().count() > MAX_CLIENT_ID_CHARS || id.chars().any(char::is_control)
    {
        return Err(format!(
            "`clientId` must be 1 to {MAX_CLIENT_ID_CHARS} characters"
        ));
    }
    Ok(id)
}

fn channel(body: &Map<String, Value>) -> Result<Channel, String> {
    match body.get("channel").and_then(Value::as_str) {
        Some(channel) if channel.eq_ignore_ascii_case("MAIL") => Ok(Channel::Mail),
        Some(channel) if channel.eq_ignore_ascii_case("SMS") => Ok(Channel::Sms),
        Some(_) => Err("`channel` must be MAIL or SMS".to_owned()),
        None => Err("`channel` is missing".to_owned()),
    }
}

fn text(body: &Map<String, Value>, name: &str, max: usize) -> Result<String, String> {
    match body.get(name) {
        Some(Value::String(value)) if !value.is_empty() && value.chars().count() <= max => {
            Ok(value.clone())
        }
        Some(Value::String(_)) => Err(format!("`{name}` must be 1 to {max} characters")),
        Some(_) => Err(format!("`{name}` must be text")),
        None => Err(format!("`{name}` is missing")),
    }
}

/// The reply to a generate request (`KAFKA_TOPIC_OTP_GENERATE_OUT`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateReply {
    pub process_instance_id: Option<Value>,
    pub client_id: Option<Value>,
    pub channel: Option<Value>,
    pub otp_sent: bool,
    pub error: Option<String>,
}

/// The reply to a validate request (`KAFKA_TOPIC_OTP_VALIDATE_OUT`). `error` only for a
/// request that could not be read.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidateReply {
    pub process_instance_id: Option<Value>,
    pub client_id: Option<Value>,
    pub channel: Option<Value>,
    pub otp_valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl GenerateReply {
    pub fn new(correlation: Correlation, error: Option<String>) -> Self {
        Self {
            otp_sent: error.is_none(),
            process_instance_id: correlation.process_instance_id,
            client_id: correlation.client_id,
            channel: correlation.channel,
            error,
        }
    }
}

impl ValidateReply {
    pub fn new(correlation: Correlation, otp_valid: bool, error: Option<String>) -> Self {
        Self {
            process_instance_id: correlation.process_instance_id,
            client_id: correlation.client_id,
            channel: correlation.channel,
            otp_valid,
            error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flowx_requests_are_read() {
        let body = br#"{"templateName":"otpMail","channel":"MAIL","recipient":"a@b.com","clientId":"1871201460101","processInstanceId":12345}"#;
        let request = generate(body, 1024, None).unwrap();
        assert_eq!(request.client_id, "1871201460101");
        assert_eq!(request.channel, Channel::Mail);
        assert_eq!(
            request.correlation.process_instance_id,
            Some(Value::from(12345))
        );
        let newer =
            br#"{"templateName":"t","channel":"SMS","recipient":"+44","data":{"clientId":7}}"#;
        let newer = generate(newer, 1024, Some("9")).unwrap();
        assert_eq!(newer.client_id, "7");
        assert_eq!(newer.params["clientId"], "7");
        assert_eq!(newer.params["channel"], "SMS");
        let params = br#"{"templateName":"t","channel":"MAIL","recipient":"a@b.com","clientId":"1","name":"top","contentParams":{"name":"old","n":2},"data":{"name":"Ana","x":{"y":1}}}"#;
        let params = generate(params, 1024, None).unwrap().params;
        assert_eq!(params["name"], "Ana");
        assert_eq!(params["n"], "2");
        assert!(!params.contains_key("x"));
        let check = br#"{"processInstanceId": 12345, "clientId": "1871201460101", "channel": "MAIL", "otp": "1111"}"#;
        assert_eq!(validate(check, 1024, None).unwrap().otp, "1111");
    }

    #[test]
    fn unreadable_requests_are_poison_correlated_when_possible() {
        let not_json = generate(b"{oops", 1024, Some("77")).unwrap_err();
        assert_eq!(
            not_json.correlation.process_instance_id,
            Some(Value::from(77))
        );
        let missing = validate(
            br#"{"processInstanceId":"p1","channel":"MAIL"}"#,
            1024,
            None,
        )
        .unwrap_err();
        assert!(missing.correlatable());
        assert_eq!(missing.error, "`clientId` is missing");
        let big = generate(&[b' '; 2048], 1024, None).unwrap_err();
        assert!(!big.correlatable());
        assert!(big.error.contains("larger"));
    }

    #[test]
    fn replies_have_flowx_names() {
        let reply = GenerateReply::new(Correlation::default(), None);
        let json = serde_json::to_value(reply).unwrap();
        assert_eq!(json["otpSent"], true);
        assert!(json["error"].is_null() && json.get("processInstanceId").is_some());
    }
}
