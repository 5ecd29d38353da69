//! A conversation's state: where it is in its dialog, what it has learned, and its code.
//!
//! This is the core type the machine works on. It is not a wire format (see `http::dto`) and
//! not a storage format (each store owns its own, versioned).

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::otp::OtpState;

use super::value::Context;

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
}

/// One line of the transcript.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    pub speaker: Speaker,
    pub text: String,
    pub node: String,
}

/// One conversation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub dialog_id: String,
    /// The dialog version the session started on; it finishes on that version.
    pub dialog_version: u32,
    pub node: String,
    pub state: State,
    pub result: Option<String>,
    pub context: Context,
    /// Invalid answers given at the current `ask` node.
    pub invalid_answers: u8,
    pub otp: Option<OtpState>,
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
            dialog_id: dialog_id.to_owned(),
            dialog_version,
            node: String::new(),
            state: State::New,
            result: None,
            context: Context::default(),
            invalid_answers: 0,
            otp: None,
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
