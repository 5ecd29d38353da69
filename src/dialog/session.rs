//! A conversation's state: where it is in its dialog, what it has learned, and its code.
//!
//! This is the core type the machine works on. It is not a wire format (see `http::dto`) and
//! not a storage format (each store owns its own, versioned).

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::otp::OtpState;

use super::value::{Context, Value};

/// Where a session stands between turns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Created; the dialog has not started.
    New,
    /// Waiting for the user's answer at an `ask` node.
    Waiting,
    /// Inside a turn, waiting for an action's outcome. Never stored.
    Calling,
    /// Reached an `end` node.
    Ended,
}

/// Who said a line of the transcript.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    User,
    Bot,
    /// A person the conversation was handed to.
    Agent,
}

/// A conversation handed to people (a `handoff` node): since when, and to which queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handoff {
    pub since: DateTime<Utc>,
    pub queue: Option<String>,
}

/// An answer the bot asked the user to confirm ("Did you mean bob@gmail.com?"): what the
/// user typed and what the bot suggests instead. Yes takes the suggestion, no what was typed.
#[derive(Clone, Debug, PartialEq)]
pub struct Suggestion {
    pub typed: Value,
    pub suggested: Value,
}

/// One line of the transcript.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    pub speaker: Speaker,
    pub text: String,
    pub node: String,
}

/// One conversation.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    pub id: String,
    /// The client that started the session (`widget:<id>` for a web chat widget), the only
    /// one that may use it besides agents; `None` when it started without authentication.
    pub owner: Option<String>,
    pub dialog_id: String,
    /// The dialog version the session started on; it finishes on that version.
    pub dialog_version: u32,
    pub node: String,
    pub state: State,
    pub result: Option<String>,
    pub context: Context,
    /// The language the user asked for (`fr`, `pt-BR`); `None` for the dialog's default.
    pub locale: Option<String>,
    /// Invalid answers given at each `ask` node since it was last answered validly.
    pub invalid_answers: InvalidAnswers,
    /// Messages at each `ask` node that were neither an answer nor a keyword and got its
    /// fallback prompt, since it was last answered validly: counted apart from invalid
    /// answers, so they spend no retries.
    pub not_understood: InvalidAnswers,
    /// An answer the bot asked the user to confirm at the question the session waits at.
    pub suggestion: Option<Suggestion>,
    /// Set while the conversation is with people: the bot does not answer until they hand it
    /// back.
    pub handoff: Option<Handoff>,
    pub otp: Option<OtpState>,
    /// The dialogs that called the one running (`call` nodes), innermost last; empty when
    /// the session is in the dialog it started.
    pub stack: Vec<Frame>,
    pub history: VecDeque<HistoryEntry>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub turns: u32,
    /// Optimistic-concurrency version: a store saves only over the version it loaded.
    pub version: u64,
}

impl Session {
    /// A session that has not started its dialog yet.
    pub fn new(id: &str, dialog_id: &str, dialog_version: u32, now: DateTime<Utc>) -> Self {
        Self {
            id: id.to_owned(),
            owner: None,
            dialog_id: dialog_id.to_owned(),
            dialog_version,
            node: String::new(),
            state: State::New,
            result: None,
            context: Context::default(),
            locale: None,
            invalid_answers: InvalidAnswers::default(),
            not_understood: InvalidAnswers::default(),
            suggestion: None,
            handoff: None,
            otp: None,
            stack: Vec::new(),
            history: VecDeque::new(),
            created_at: now,
            updated_at: now,
            turns: 0,
            version: 0,
        }
    }

    pub fn is_ended(&self) -> bool {
        self.state == State::Ended
    }

    /// The dialog the session started on (the outermost caller).
    pub fn root_dialog(&self) -> (&str, u32) {
        match self.stack.first() {
            Some(frame) => (&frame.dialog_id, frame.dialog_version),
            None => (&self.dialog_id, self.dialog_version),
        }
    }

    /// Appends to the transcript, dropping the oldest lines beyond `limit`.
    pub fn record(&mut self, speaker: Speaker, text: &str, at: DateTime<Utc>, limit: usize) {
        if limit == 0 {
            return;
        }
        while self.history.len() >= limit {
            self.history.pop_front();
        }
        self.history.push_back(HistoryEntry {
            at,
            speaker,
            text: text.to_owned(),
            node: self.node.clone(),
        });
    }
}

/// A dialog waiting for the one it called: where it was and what it knew, put back when the
/// callee ends.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    pub dialog_id: String,
    pub dialog_version: u32,
    /// The `call` node that called.
    pub node: String,
    pub context: Context,
    pub invalid_answers: InvalidAnswers,
    pub otp: Option<OtpState>,
}

/// Invalid answers per `ask` node, kept while the dialog loops: a node's count is cleared
/// when it is answered validly (or the dialog restarts), not when it is entered again, so a
/// loop back to a question cannot refill its retries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InvalidAnswers {
    /// (node id, count), counts above zero only; a dialog has few questions.
    counts: Vec<(String, u8)>,
}

impl InvalidAnswers {
    /// The count at `node`.
    pub fn at(&self, node: &str) -> u8 {
        self.counts
            .iter()
            .find(|(id, _)| id == node)
            .map_or(0, |(_, n)| *n)
    }

    /// Counts one more invalid answer at `node` and returns the new count.
    pub fn add(&mut self, node: &str) -> u8 {
        if let Some((_, n)) = self.counts.iter_mut().find(|(id, _)| id == node) {
            *n = n.saturating_add(1);
            return *n;
        }
        self.counts.push((node.to_owned(), 1));
        1
    }

    /// Sets the count at `node` (a store reading a session back).
    pub fn set(&mut self, node: &str, count: u8) {
        self.clear(node);
        if count > 0 {
            self.counts.push((node.to_owned(), count));
        }
    }

    /// Forgets the count at `node`.
    pub fn clear(&mut self, node: &str) {
        self.counts.retain(|(id, _)| id != node);
    }

    pub fn clear_all(&mut self) {
        self.counts.clear();
    }

    /// Every (node id, count) with a count above zero.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u8)> {
        self.counts.iter().map(|(id, n)| (id.as_str(), *n))
    }

    pub fn len(&self) -> usize {
        self.counts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
}
