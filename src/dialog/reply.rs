//! What one turn produced: the bot's replies and where the session now stands.
//! Kept by stores for the idempotency window, so a retried message gets the same answer
//! (each store in its own format).

use serde::{Deserialize, Serialize};

use super::entities::Entity;
use super::session::State;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnReply {
    pub session_id: String,
    /// The session's turn count after this turn: the order in which the server applied them.
    pub turn: u32,
    pub dialog: String,
    pub dialog_version: u32,
    pub replies: Vec<String>,
    pub node: String,
    pub state: State,
    pub result: Option<String>,
    /// The entity the bot waits for, for widgets that adapt their input (a numeric keypad).
    pub expecting: Option<Entity>,
    /// The options of the question the session waits at, for buttons (empty for most).
    pub choices: Vec<Choice>,
    /// The conversation is with people now (a `handoff` node): they answer, not the bot.
    pub with_agent: bool,
}

impl TurnReply {
    /// The replies as plain text for channels without buttons: the options are listed,
    /// numbered, under the last reply (typing a number picks that option).
    pub fn texts_with_options(&self) -> Vec<String> {
        let mut texts = self.replies.clone();
        if self.choices.is_empty() {
            return texts;
        }
        let listed: Vec<String> = self
            .choices
            .iter()
            .enumerate()
            .map(|(i, choice)| format!("{}. {}", i + 1, choice.label))
            .collect();
        match texts.last_mut() {
            Some(last) => {
                last.push('\n');
                last.push_str(&listed.join("\n"));
            }
            None => texts.push(listed.join("\n")),
        }
        texts
    }
}

/// Something a session's user is told, in the order it happened: what its event stream
/// (`GET /v1/sessions/{id}/events`) carries. A turn's answer also goes back in the answer to
/// the message that caused it; the stream is how a second tab, or a page that lost its
/// connection, hears it too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// The bot's answer to a user message.
    Turn(TurnReply),
    /// A user message while the conversation is with people, for the agents who follow it.
    UserMessage { text: String },
    /// A person's message to the user.
    AgentMessage {
        text: String,
        /// The agent's name, as the agent's tool gave it.
        agent: Option<String>,
    },
    /// The people handed the conversation back: the bot's replies as it goes on.
    Handback(TurnReply),
}

impl SessionEvent {
    /// Whether it is said only through the stream: such an event is kept even while no one
    /// listens (a turn's answer reached its sender already).
    pub fn is_stream_only(&self) -> bool {
        !matches!(self, SessionEvent::Turn(_))
    }
}

/// An option offered with a question: a button's label, and the value it answers with
/// (typed text matching the value, the label or a synonym answers the same). On the wire as
/// it is (`{label, value}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub label: String,
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_listed_under_the_last_reply_for_text_channels() {
        let mut reply = TurnReply {
            session_id: "s".into(),
            turn: 1,
            dialog: "salon".into(),
            dialog_version: 1,
            replies: vec!["Hi!".into(), "What would you like?".into()],
            node: "ask_service".into(),
            state: State::Waiting,
            result: None,
            expecting: Some(Entity::from_name("choice").unwrap()),
            choices: vec![
                Choice {
                    label: "Haircut".into(),
                    value: "haircut".into(),
                },
                Choice {
                    label: "Colour".into(),
                    value: "colour".into(),
                },
            ],
            with_agent: false,
        };
        assert_eq!(
            reply.texts_with_options(),
            ["Hi!", "What would you like?\n1. Haircut\n2. Colour"]
        );
        reply.choices.clear();
        assert_eq!(reply.texts_with_options(), reply.replies);
    }
}
