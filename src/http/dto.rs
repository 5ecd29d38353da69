//! Wire types of the native API. Separate from the core types: the engine's `TurnReply` is
//! not the JSON contract, and changing one must not silently change the other.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::address::{mask_email, mask_emails_in};
use crate::dialog::reply::Choice;
use crate::dialog::session::Speaker as CoreSpeaker;
use crate::dialog::{Session, State};
use crate::engine::TurnReply;

/// `POST /v1/webhook` body.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookRequest {
    /// The conversation: the first message with a new id starts one.
    #[schema(
        pattern = "^[A-Za-z0-9_.:@-]{1,128}$",
        min_length = 1,
        max_length = 128
    )]
    pub session_id: String,
    /// Unique per user message; a retry of the same message reuses it, and gets the first
    /// answer again. Optional for the simplest clients: a message without one is always new
    /// (a retried POST then counts twice).
    #[serde(default)]
    #[schema(
        pattern = "^[A-Za-z0-9_.:@-]{1,128}$",
        min_length = 1,
        max_length = 128
    )]
    pub message_id: Option<String>,
    /// What the user typed: at most `server.max_text_chars` characters (2,000 by default),
    /// no NUL.
    pub text: String,
    /// The dialog to start when the session is new (default: `dialogs.default`).
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9_-]+$", min_length = 1)]
    pub dialog: Option<String>,
    /// The user's language (`fr`, `pt-BR`): the session speaks it from then on, where its
    /// dialog has it (else the closest, else the dialog's default).
    #[serde(default)]
    #[schema(
        max_length = 35,
        pattern = "^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?$",
        example = "pt-BR"
    )]
    pub locale: Option<String>,
    /// Free-form data from the channel; accepted and ignored by the engine.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

/// One reply: `{"type": "text", "text": …}`, or for the prompt of a question with options
/// `{"type": "choices", "text": …, "options": [{"label": …, "value": …}]}` (a client that
/// shows no buttons shows the text; typing a label or value answers like a button).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[schema(as = Reply)]
pub struct ReplyDto {
    #[serde(rename = "type")]
    #[schema(value_type = ReplyKind)]
    pub kind: String,
    pub text: String,
    /// The options of a `choices` reply: show buttons, and send the value of the one pressed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<ChoiceDto>)]
    pub options: Vec<Choice>,
}

/// A reply's `type`: `choices` for the prompt of a question with options, else `text`.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // described, not built: `ReplyDto::kind` holds the name
pub enum ReplyKind {
    Text,
    Choices,
}

/// One option of a `choices` reply.
#[derive(Debug, ToSchema)]
#[schema(as = Choice)]
#[allow(dead_code)] // described, not built: `Choice` serialises to this
pub struct ChoiceDto {
    /// What a button shows.
    label: String,
    /// What to send as the text when it is pressed.
    value: String,
}

/// Whether a conversation waits for the user's answer or is over.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // described, not built
pub enum TurnStatus {
    Waiting,
    Ended,
}

/// `POST /v1/webhook` answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[schema(as = TurnAnswer)]
pub struct WebhookResponse {
    pub session_id: String,
    /// The session's turn count after this message: the order the server applied messages in.
    pub turn: u32,
    pub dialog: String,
    pub dialog_version: u32,
    pub replies: Vec<ReplyDto>,
    /// `waiting` (for the user's answer) or `ended`.
    #[schema(value_type = TurnStatus)]
    pub status: String,
    /// The node the session is at.
    pub node: String,
    pub ended: bool,
    /// How the dialog ended (`authenticated`, `cancelled`, …), once it has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// What the bot waits for: `email`, `otp_code`, `yes_no`, `number`, `integer`, `text` or
    /// `choice`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expecting: Option<String>,
    /// To a widget's visitor (a publishable key): the token every later request of this
    /// session must carry as `X-Colloquy-Session-Token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
    /// The conversation is with people (a `handoff` node): they answer on the event stream.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub with_agent: bool,
}

impl From<TurnReply> for WebhookResponse {
    fn from(reply: TurnReply) -> Self {
        let ended = reply.state == State::Ended;
        Self {
            session_id: reply.session_id,
            turn: reply.turn,
            dialog: reply.dialog,
            dialog_version: reply.dialog_version,
            replies: {
                let last = reply.replies.len().saturating_sub(1);
                let mut choices = Some(reply.choices);
                reply
                    .replies
                    .into_iter()
                    .enumerate()
                    .map(|(i, text)| {
                        let options = if i == last {
                            choices.take().unwrap_or_default()
                        } else {
                            Vec::new()
                        };
                        ReplyDto {
                            kind: if options.is_empty() {
                                "text"
                            } else {
                                "choices"
                            }
                            .to_owned(),
                            text,
                            options,
                        }
                    })
                    .collect()
            },
            status: if ended { "ended" } else { "waiting" }.to_owned(),
            node: reply.node,
            ended,
            result: reply.result,
            expecting: reply.expecting.map(|entity| entity.name().to_owned()),
            session_token: None,
            with_agent: reply.with_agent,
        }
    }
}

/// The `POST /v1/webhook` answer written straight from the engine's reply: the JSON of
/// [`WebhookResponse`] (a test holds the two equal) without building one, so answering a
/// turn copies none of its strings.
#[derive(Debug, Serialize)]
pub struct WebhookAnswer<'a> {
    session_id: &'a str,
    turn: u32,
    dialog: &'a str,
    dialog_version: u32,
    replies: TextReplies<'a>,
    status: &'static str,
    node: &'a str,
    ended: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expecting: Option<&'static str>,
    /// For a widget's visitor: the token every later request of the session must carry.
    #[serde(skip_serializing_if = "Option::is_none")]
    session_token: Option<&'a str>,
    /// The conversation is with people: they answer (on the event stream), not the bot.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    with_agent: bool,
}

impl<'a> WebhookAnswer<'a> {
    #[must_use]
    pub fn with_session_token(mut self, token: Option<&'a str>) -> Self {
        self.session_token = token;
        self
    }
}

impl<'a> From<&'a TurnReply> for WebhookAnswer<'a> {
    fn from(reply: &'a TurnReply) -> Self {
        let ended = reply.state == State::Ended;
        Self {
            session_id: &reply.session_id,
            turn: reply.turn,
            dialog: &reply.dialog,
            dialog_version: reply.dialog_version,
            replies: TextReplies(&reply.replies, &reply.choices),
            status: if ended { "ended" } else { "waiting" },
            node: &reply.node,
            ended,
            result: reply.result.as_deref(),
            expecting: reply.expecting.map(crate::dialog::entities::Entity::name),
            session_token: None,
            with_agent: reply.with_agent,
        }
    }
}

/// Replies as [`ReplyDto`]s: `{"type": "text", "text": …}`, the last one with the question's
/// options when it has some.
#[derive(Debug)]
struct TextReplies<'a>(&'a [String], &'a [Choice]);

impl Serialize for TextReplies<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct TextReply<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            text: &'a str,
            #[serde(skip_serializing_if = "<[Choice]>::is_empty")]
            options: &'a [Choice],
        }
        let last = self.0.len().saturating_sub(1);
        serializer.collect_seq(self.0.iter().enumerate().map(|(i, text)| {
            let options = if i == last { self.1 } else { &[] };
            TextReply {
                kind: if options.is_empty() {
                    "text"
                } else {
                    "choices"
                },
                text,
                options,
            }
        }))
    }
}

/// Checks the fields serde cannot: lengths and character sets.
pub fn validate(request: &WebhookRequest, max_text_chars: usize) -> Result<(), String> {
    check_id("session_id", &request.session_id)?;
    if let Some(message_id) = &request.message_id {
        check_id("message_id", message_id)?;
    }
    if let Some(dialog) = &request.dialog
        && !crate::dialog::load::is_identifier(dialog)
    {
        return Err("`dialog` must be a dialog id (letters, digits, `_` and `-`)".to_owned());
    }
    if let Some(locale) = &request.locale
        && !crate::dialog::locale::is_locale(locale)
    {
        return Err("`locale` must be a language tag such as `en`, `fr` or `pt-BR`".to_owned());
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

/// `GET /v1/sessions/{id}`: what support staff may see. Addresses are masked; codes never
/// reach a session's history (entered codes are recorded as `••••`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[schema(as = Session)]
pub struct SessionView {
    pub session_id: String,
    pub dialog: String,
    pub dialog_version: u32,
    pub node: String,
    /// `new`, `waiting` or `ended`.
    #[schema(value_type = SessionStatus)]
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    pub turns: u32,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otp: Option<OtpView>,
    pub history: Vec<HistoryView>,
}

/// Where a session's conversation stands.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // described, not built
pub enum SessionStatus {
    New,
    Waiting,
    Ended,
}

/// The state of a session's code: never the code.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[schema(as = SessionCode)]
pub struct OtpView {
    /// The address it went to, masked (`a***@example.com`).
    pub to: String,
    /// `active`, `used` or `locked`.
    #[schema(value_type = CodeState)]
    pub status: String,
    pub sends: u16,
    pub attempts: u8,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// The state of a code.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // described, not built
pub enum CodeState {
    Active,
    Used,
    Locked,
}

/// Who said a line of the history.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // described, not built
pub enum Speaker {
    User,
    Bot,
}

/// A line of a session's history: addresses masked, entered codes as `••••`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[schema(as = HistoryLine)]
pub struct HistoryView {
    pub at: chrono::DateTime<chrono::Utc>,
    /// `user` or `bot`.
    #[schema(value_type = Speaker)]
    pub from: String,
    pub text: String,
    /// The node that said it, or for a user's message the question it answered; absent for
    /// the message that started the conversation.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub node: String,
}

impl From<&Session> for SessionView {
    fn from(session: &Session) -> Self {
        let status = match session.state {
            State::New => "new",
            State::Waiting | State::Calling => "waiting",
            State::Ended => "ended",
        };
        Self {
            session_id: session.id.clone(),
            dialog: session.dialog_id.clone(),
            dialog_version: session.dialog_version,
            node: session.node.clone(),
            status: status.to_owned(),
            result: session.result.clone(),
            turns: session.turns,
            created_at: session.created_at,
            updated_at: session.updated_at,
            otp: session.otp.as_ref().map(|otp| OtpView {
                to: mask_email(&otp.address),
                status: format!("{:?}", otp.status).to_lowercase(),
                sends: otp.sends,
                attempts: otp.attempts,
                expires_at: otp.expires_at,
            }),
            history: session
                .history
                .iter()
                .map(|entry| HistoryView {
                    at: entry.at,
                    from: match entry.speaker {
                        CoreSpeaker::User => "user",
                        CoreSpeaker::Bot => "bot",
                        CoreSpeaker::Agent => "agent",
                    }
                    .to_owned(),
                    text: mask_emails_in(&entry.text),
                    node: entry.node.clone(),
                })
                .collect(),
        }
    }
}

/// `GET /v1/dialogs` answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Dialogs)]
pub struct DialogList {
    /// The loaded dialogs, by id.
    pub dialogs: Vec<DialogView>,
    /// What the last reload could not load (`file:line:col: error: message`), if anything.
    pub load_errors: Vec<String>,
}

/// A loaded dialog: its latest version and the older ones still kept.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Dialog)]
pub struct DialogView {
    pub id: String,
    /// The version new sessions start on.
    pub version: u32,
    /// Older versions still kept for sessions that started on them.
    pub older_versions: Vec<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// How many nodes the latest version has.
    pub nodes: usize,
    /// The file it was loaded from.
    pub file: String,
}

impl From<crate::engine::registry::DialogSummary> for DialogView {
    fn from(summary: crate::engine::registry::DialogSummary) -> Self {
        Self {
            id: summary.id,
            version: summary.version,
            older_versions: summary.older_versions,
            title: summary.title,
            nodes: summary.nodes,
            file: summary.file,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialog::entities::Entity;

    #[test]
    fn the_borrowed_answer_is_the_response_dto() {
        let waiting = TurnReply {
            session_id: "s1".into(),
            turn: 2,
            dialog: "otp_authentication".into(),
            dialog_version: 1,
            replies: vec!["I've emailed a \"code\".".into(), "Enter it.".into()],
            node: "ask_code".into(),
            state: State::Waiting,
            result: None,
            expecting: Some(Entity::from_name("otp_code").unwrap()),
            choices: Vec::new(),
            with_agent: false,
        };
        let choosing = TurnReply {
            replies: vec!["Sorry.".into(), "Which one?".into()],
            node: "ask_kind".into(),
            expecting: Some(Entity::from_name("choice").unwrap()),
            choices: vec![
                Choice {
                    label: "Hair cut".into(),
                    value: "haircut".into(),
                },
                Choice {
                    label: "Colour".into(),
                    value: "colour".into(),
                },
            ],
            ..waiting.clone()
        };
        let ended = TurnReply {
            replies: Vec::new(),
            node: "success".into(),
            state: State::Ended,
            result: Some("authenticated".into()),
            expecting: None,
            ..waiting.clone()
        };
        let json = serde_json::to_value(WebhookAnswer::from(&choosing)).unwrap();
        assert_eq!(
            json["replies"],
            serde_json::json!([
                { "type": "text", "text": "Sorry." },
                { "type": "choices", "text": "Which one?", "options": [
                    { "label": "Hair cut", "value": "haircut" },
                    { "label": "Colour", "value": "colour" },
                ] },
            ])
        );
        for reply in [waiting, choosing, ended] {
            let borrowed = serde_json::to_string(&WebhookAnswer::from(&reply)).unwrap();
            let owned = serde_json::to_string(&WebhookResponse::from(reply)).unwrap();
            assert_eq!(borrowed, owned);
        }
    }
}
