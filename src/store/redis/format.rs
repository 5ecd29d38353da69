//! What the Redis store writes: a versioned JSON document per session and per idempotency
//! record, defined here field by field and converted explicitly from and to the core types.
//! Changing [`Session`] or [`TurnReply`] therefore cannot change what is stored without a
//! compile error here; a change to this format raises [`FORMAT_VERSION`], and a reader refuses
//! versions it does not know (an older instance never overwrites a newer document it cannot
//! read). The format is documented in `docs/redis.md`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::dialog::Session;
use crate::dialog::entities::Entity;
use crate::dialog::reply::{Choice, SessionEvent, TurnReply};
use crate::dialog::session::{Frame, Handoff, HistoryEntry, InvalidAnswers, Suggestion};
use crate::dialog::value::{Context, Slot, Value};
use crate::otp::OtpState;
use crate::store::Processed;

/// The version of both documents. Raise it with every change to a struct below.
/// v2: `invalid_answers` is a map from node id to count (v1: one count, at `node`); a
/// record's reply may carry `choices`.
pub const FORMAT_VERSION: u32 = 2;

/// The oldest version this build still reads (and rewrites as [`FORMAT_VERSION`]).
const OLDEST_READ: u32 = 1;

/// Why a stored document cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("stored in format v{0}, which this build does not read (it reads v{FORMAT_VERSION})")]
    UnknownVersion(u32),
    #[error("not a valid v{FORMAT_VERSION} document: {0}")]
    Invalid(#[from] serde_json::Error),
    #[error("the one-time code's tag is not 32 bytes of hex")]
    BadTag,
    #[error("unknown entity `{0}`")]
    UnknownEntity(String),
    #[error("an event that says nothing")]
    EmptyEvent,
}

#[derive(Deserialize)]
struct Versioned {
    v: u32,
}

fn check_version(json: &str) -> Result<(), FormatError> {
    let Versioned { v } = serde_json::from_str(json)?;
    if (OLDEST_READ..=FORMAT_VERSION).contains(&v) {
        Ok(())
    } else {
        Err(FormatError::UnknownVersion(v))
    }
}

/// A session. Its compare-and-set version is not in here: it is the `version` field of the
/// session's hash, next to this document.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionDoc {
    v: u32,
    id: String,
    /// The client that started the session; left out when it started without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    owner: Option<String>,
    dialog: String,
    dialog_version: u32,
    node: String,
    state: StateDoc,
    result: Option<String>,
    context: BTreeMap<String, SlotDoc>,
    /// The language the user asked for; left out for the dialog's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    locale: Option<String>,
    invalid_answers: InvalidAnswersDoc,
    /// Messages not understood per `ask` node; left out when none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    not_understood: BTreeMap<String, u8>,
    /// An answer the bot asked the user to confirm; left out when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    suggestion: Option<SuggestionDoc>,
    /// Set while the conversation is with people; left out otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    handoff: Option<HandoffDoc>,
    otp: Option<OtpDoc>,
    /// The dialogs waiting for the one running, innermost last; left out when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    stack: Vec<FrameDoc>,
    history: Vec<LineDoc>,
    #[serde(serialize_with = "super::instant::write")]
    created_at: DateTime<Utc>,
    #[serde(serialize_with = "super::instant::write")]
    updated_at: DateTime<Utc>,
    turns: u32,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HandoffDoc {
    #[serde(serialize_with = "super::instant::write")]
    since: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    queue: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuggestionDoc {
    typed: serde_json::Value,
    suggested: serde_json::Value,
}

/// A caller waiting for the dialog it called.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrameDoc {
    dialog: String,
    dialog_version: u32,
    node: String,
    context: BTreeMap<String, SlotDoc>,
    invalid_answers: BTreeMap<String, u8>,
    otp: Option<OtpDoc>,
}

/// Invalid answers per `ask` node; v1 documents hold one count, for the node the session is at.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum InvalidAnswersDoc {
    PerNode(BTreeMap<String, u8>),
    AtCurrentNode(u8),
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum StateDoc {
    New,
    Waiting,
    Calling,
    Ended,
}

/// A context variable. `value` is a JSON boolean, number or string, as the variable's type.
/// A number that is not finite (no entity or action makes one) is stored as `null` and read
/// back as an unset variable.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlotDoc {
    value: serde_json::Value,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    sensitive: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(serialize_with = "super::instant::write_option")]
    expires_at: Option<DateTime<Utc>>,
    /// Given before its question was reached; left out when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    given: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OtpDoc {
    address: String,
    /// HMAC-SHA256 of the code, lower-case hex (never the code).
    tag: String,
    length: u8,
    alphabet: AlphabetDoc,
    #[serde(serialize_with = "super::instant::write")]
    issued_at: DateTime<Utc>,
    #[serde(serialize_with = "super::instant::write")]
    expires_at: DateTime<Utc>,
    attempts: u8,
    max_attempts: u8,
    status: CodeStatusDoc,
    sends: u16,
    /// The tag of the code this one replaced for the same address; left out when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    previous_tag: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum AlphabetDoc {
    Digits,
    Alphanumeric,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum CodeStatusDoc {
    Active,
    Used,
    Locked,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LineDoc {
    #[serde(serialize_with = "super::instant::write")]
    at: DateTime<Utc>,
    from: SpeakerDoc,
    text: String,
    node: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum SpeakerDoc {
    User,
    Bot,
    Agent,
}

/// An idempotency record: a processed message and the answer it got.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordDoc {
    v: u32,
    message_id: String,
    /// SHA-256 of the text, first 16 bytes, hex.
    text_digest: String,
    #[serde(serialize_with = "super::instant::write")]
    at: DateTime<Utc>,
    reply: ReplyDoc,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplyDoc {
    session_id: String,
    turn: u32,
    dialog: String,
    dialog_version: u32,
    replies: Vec<String>,
    node: String,
    state: StateDoc,
    result: Option<String>,
    /// An entity by the name dialogs write it with (`otp_code`), which is as stable as the
    /// dialog language itself; a name this build does not know is refused on reading.
    expecting: Option<String>,
    /// `[{"label", "value"}]`; left out when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    choices: Vec<ChoiceDoc>,
    /// The conversation is with people; left out when not.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    with_agent: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChoiceDoc {
    label: String,
    value: String,
}

/// The document stored for `session` (its version is stored beside it).
pub fn encode_session(session: &Session) -> Result<String, FormatError> {
    let doc = SessionDoc {
        v: FORMAT_VERSION,
        id: session.id.clone(),
        owner: session.owner.clone(),
        dialog: session.dialog_id.clone(),
        dialog_version: session.dialog_version,
        node: session.node.clone(),
        state: session.state.into(),
        result: session.result.clone(),
        context: context_doc(&session.context),
        locale: session.locale.clone(),
        invalid_answers: InvalidAnswersDoc::PerNode(counts_doc(&session.invalid_answers)),
        not_understood: counts_doc(&session.not_understood),
        suggestion: session.suggestion.as_ref().map(|s| SuggestionDoc {
            typed: value_doc(&s.typed),
            suggested: value_doc(&s.suggested),
        }),
        handoff: session.handoff.as_ref().map(|h| HandoffDoc {
            since: h.since,
            queue: h.queue.clone(),
        }),
        otp: session.otp.as_ref().map(OtpDoc::from),
        stack: session
            .stack
            .iter()
            .map(|frame| FrameDoc {
                dialog: frame.dialog_id.clone(),
                dialog_version: frame.dialog_version,
                node: frame.node.clone(),
                context: context_doc(&frame.context),
                invalid_answers: counts_doc(&frame.invalid_answers),
                otp: frame.otp.as_ref().map(OtpDoc::from),
            })
            .collect(),
        history: session.history.iter().map(LineDoc::from).collect(),
        created_at: session.created_at,
        updated_at: session.updated_at,
        turns: session.turns,
    };
    Ok(serde_json::to_string(&doc)?)
}

/// The session in `json`, at compare-and-set version `version`.
pub fn decode_session(json: &str, version: u64) -> Result<Session, FormatError> {
    check_version(json)?;
    let doc: SessionDoc = serde_json::from_str(json)?;
    let invalid_answers = match doc.invalid_answers {
        InvalidAnswersDoc::PerNode(counts) => counts_of(counts),
        InvalidAnswersDoc::AtCurrentNode(count) => {
            let mut counts = InvalidAnswers::default();
            counts.set(&doc.node, count);
            counts
        }
    };
    let stack = doc
        .stack
        .into_iter()
        .map(|frame| {
            Ok(Frame {
                dialog_id: frame.dialog,
                dialog_version: frame.dialog_version,
                node: frame.node,
                context: context_of(frame.context),
                invalid_answers: counts_of(frame.invalid_answers),
                otp: frame.otp.map(OtpState::try_from).transpose()?,
            })
        })
        .collect::<Result<Vec<_>, FormatError>>()?;
    Ok(Session {
        id: doc.id,
        owner: doc.owner,
        dialog_id: doc.dialog,
        dialog_version: doc.dialog_version,
        node: doc.node,
        state: doc.state.into(),
        result: doc.result,
        context: context_of(doc.context),
        locale: doc.locale,
        invalid_answers,
        not_understood: counts_of(doc.not_understood),
        suggestion: doc.suggestion.and_then(|s| {
            Some(Suggestion {
                typed: value_of(s.typed)?,
                suggested: value_of(s.suggested)?,
            })
        }),
        handoff: doc.handoff.map(|h| Handoff {
            since: h.since,
            queue: h.queue,
        }),
        otp: doc.otp.map(OtpState::try_from).transpose()?,
        stack,
        history: doc.history.into_iter().map(HistoryEntry::from).collect(),
        created_at: doc.created_at,
        updated_at: doc.updated_at,
        turns: doc.turns,
        version,
    })
}

fn context_doc(context: &Context) -> BTreeMap<String, SlotDoc> {
    context
        .iter()
        .map(|(name, slot)| (name.to_owned(), SlotDoc::from(slot)))
        .collect()
}

fn context_of(doc: BTreeMap<String, SlotDoc>) -> Context {
    let mut context = Context::default();
    for (name, slot) in doc {
        if let Some(value) = value_of(slot.value) {
            context.set_slot(
                &name,
                Slot {
                    value,
                    sensitive: slot.sensitive,
                    expires_at: slot.expires_at,
                    given: slot.given,
                },
            );
        }
    }
    context
}

fn counts_doc(counts: &InvalidAnswers) -> BTreeMap<String, u8> {
    counts
        .iter()
        .map(|(node, count)| (node.to_owned(), count))
        .collect()
}

fn counts_of(doc: BTreeMap<String, u8>) -> InvalidAnswers {
    let mut counts = InvalidAnswers::default();
    for (node, count) in doc {
        counts.set(&node, count);
    }
    counts
}

pub fn encode_record(processed: &Processed) -> Result<String, FormatError> {
    let doc = RecordDoc {
        v: FORMAT_VERSION,
        message_id: processed.message_id.clone(),
        text_digest: processed.text_digest.clone(),
        at: processed.at,
        reply: reply_doc(&processed.reply),
    };
    Ok(serde_json::to_string(&doc)?)
}

pub fn decode_record(json: &str) -> Result<Processed, FormatError> {
    check_version(json)?;
    let doc: RecordDoc = serde_json::from_str(json)?;
    Ok(Processed {
        message_id: doc.message_id,
        text_digest: doc.text_digest,
        at: doc.at,
        reply: reply_of(doc.reply)?,
    })
}

/// An event of a session's stream: when it happened and what it is (one field set).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventDoc {
    v: u32,
    #[serde(serialize_with = "super::instant::write")]
    at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    turn: Option<ReplyDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    handback: Option<ReplyDoc>,
    /// A user's message to people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    /// A person's message to the user, with the person's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    agent: Option<AgentLineDoc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentLineDoc {
    text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

pub fn encode_event(event: &SessionEvent, at: DateTime<Utc>) -> Result<String, FormatError> {
    let mut doc = EventDoc {
        v: FORMAT_VERSION,
        at,
        turn: None,
        handback: None,
        user: None,
        agent: None,
    };
    match event {
        SessionEvent::Turn(reply) => doc.turn = Some(reply_doc(reply)),
        SessionEvent::Handback(reply) => doc.handback = Some(reply_doc(reply)),
        SessionEvent::UserMessage { text } => doc.user = Some(text.clone()),
        SessionEvent::AgentMessage { text, agent } => {
            doc.agent = Some(AgentLineDoc {
                text: text.clone(),
                name: agent.clone(),
            });
        }
    }
    Ok(serde_json::to_string(&doc)?)
}

pub fn decode_event(json: &str) -> Result<(SessionEvent, DateTime<Utc>), FormatError> {
    check_version(json)?;
    let doc: EventDoc = serde_json::from_str(json)?;
    let event = match doc {
        EventDoc {
            turn: Some(reply), ..
        } => SessionEvent::Turn(reply_of(reply)?),
        EventDoc {
            handback: Some(reply),
            ..
        } => SessionEvent::Handback(reply_of(reply)?),
        EventDoc {
            user: Some(text), ..
        } => SessionEvent::UserMessage { text },
        EventDoc {
            agent: Some(line), ..
        } => SessionEvent::AgentMessage {
            text: line.text,
            agent: line.name,
        },
        _ => return Err(FormatError::EmptyEvent),
    };
    Ok((event, doc.at))
}

fn reply_doc(reply: &TurnReply) -> ReplyDoc {
    ReplyDoc {
        session_id: reply.session_id.clone(),
        turn: reply.turn,
        dialog: reply.dialog.clone(),
        dialog_version: reply.dialog_version,
        replies: reply.replies.clone(),
        node: reply.node.clone(),
        state: reply.state.into(),
        result: reply.result.clone(),
        expecting: reply.expecting.map(|entity| entity.name().to_owned()),
        choices: reply
            .choices
            .iter()
            .map(|c| ChoiceDoc {
                label: c.label.clone(),
                value: c.value.clone(),
            })
            .collect(),
        with_agent: reply.with_agent,
    }
}

fn reply_of(reply: ReplyDoc) -> Result<TurnReply, FormatError> {
    Ok(TurnReply {
        session_id: reply.session_id,
        turn: reply.turn,
        dialog: reply.dialog,
        dialog_version: reply.dialog_version,
        replies: reply.replies,
        node: reply.node,
        state: reply.state.into(),
        result: reply.result,
        expecting: reply
            .expecting
            .map(|name| Entity::from_name(&name).ok_or(FormatError::UnknownEntity(name)))
            .transpose()?,
        choices: reply
            .choices
            .into_iter()
            .map(|c| Choice {
                label: c.label,
                value: c.value,
            })
            .collect(),
        with_agent: reply.with_agent,
    })
}

fn value_of(json: serde_json::Value) -> Option<Value> {
    match json {
        serde_json::Value::Bool(b) => Some(Value::Bool(b)),
        serde_json::Value::Number(n) => n.as_f64().map(Value::Number),
        serde_json::Value::String(s) => Some(Value::Text(s)),
        _ => None,
    }
}

#[path = "format_convert.rs"]
mod convert;

use convert::value_doc;

#[cfg(test)]
#[path = "format_tests.rs"]
mod tests;
