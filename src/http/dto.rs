//! Wire types of the native API. Separate from the core types: the engine's `TurnReply` is
//! not the JSON contract, and changing one must not silently change the other.

use serde::{Deserialize, Serialize};

use crate::dialog::State;
use crate::engine::TurnReply;

/// `POST /v1/webhook` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookRequest {
    pub session_id: String,
    /// Unique per user message; a retry of the same message reuses it.
    pub message_id: String,
    pub text: String,
    /// The dialog to start when the session is new (default: `dialogs.default`).
    #[serde(default)]
    pub dialog: Option<String>,
    /// Free-form data from the channel; accepted and ignored by the engine.
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReplyDto {
    #[serde(rename = "type")]
    pub kind: String,
    pub text: String,
}

/// `POST /v1/webhook` answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WebhookResponse {
    pub session_id: String,
    pub dialog: String,
    pub dialog_version: u32,
    pub replies: Vec<ReplyDto>,
    /// `waiting` (for the user's answer) or `ended`.
    pub status: String,
    pub node: String,
    pub ended: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// What the bot waits for: `email`, `otp_code`, `yes_no`, `number` or `text`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expecting: Option<String>,
}

impl From<TurnReply> for WebhookResponse {
    fn from(reply: TurnReply) -> Self {
        let ended = reply.state == State::Ended;
        Self {
            session_id: reply.session_id,
            dialog: reply.dialog,
            dialog_version: reply.dialog_version,
            replies: reply
                .replies
                .into_iter()
                .map(|text| ReplyDto {
                    kind: "text".to_owned(),
                    text,
                })
                .collect(),
            status: if ended { "ended" } else { "waiting" }.to_owned(),
            node: reply.node,
            ended,
            result: reply.result,
            expecting: reply.expecting.map(|entity| entity.name().to_owned()),
        }
    }
}

/// Checks the fields serde cannot: lengths and character sets.
pub fn validate(request: &WebhookRequest, max_text_chars: usize) -> Result<(), String> {
    check_id("session_id", &request.session_id)?;
    check_id("message_id", &request.message_id)?;
    if let Some(dialog) = &request.dialog
        && !crate::dialog::load::is_identifier(dialog)
    {
        return Err("`dialog` must be a dialog id (letters, digits, `_` and `-`)".to_owned());
    }
    let chars = request.text.chars().count();
    if chars > max_text_chars {
        return Err(format!(
            "`text` is {chars} characters long; the limit is {max_text_chars}"
        ));
    }
    if request.text.contains('\0') {
        return Err("`text` must not contain NUL characters".to_owned());
    }
    Ok(())
}

fn check_id(field: &str, value: &str) -> Result<(), String> {
    if value.is_empty() || value.len() > 128 {
        return Err(format!("`{field}` must be 1 to 128 characters long"));
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.:@".contains(c))
    {
        return Err(format!(
            "`{field}` may contain only letters, digits and - _ . : @"
        ));
    }
    Ok(())
}
