//! What one turn produced: the bot's replies and where the session now stands.
//! Kept by stores for the idempotency window, so a retried message gets the same answer.

use serde::{Deserialize, Serialize};

use super::entity::Entity;
use super::session::State;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}
