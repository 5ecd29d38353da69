//! The explicit conversions between the stored documents and the core types. Every match is
//! exhaustive, so a new variant in a core enum does not compile until it has a stored name.

use super::{
    AlphabetDoc, CodeStatusDoc, FormatError, LineDoc, OtpDoc, SlotDoc, SpeakerDoc, StateDoc,
};
use crate::dialog::State;
use crate::dialog::session::{HistoryEntry, Speaker};
use crate::dialog::value::{Slot, Value};
use crate::otp::{Alphabet, CodeStatus, OtpState};

/// A value as JSON (a number that JSON cannot hold is `null`, read back as no value).
pub(super) fn value_doc(value: &Value) -> serde_json::Value {
    match value {
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Number(n) => serde_json::Number::from_f64(*n)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        Value::Text(t) => serde_json::Value::String(t.clone()),
    }
}

impl From<&Slot> for SlotDoc {
    fn from(slot: &Slot) -> Self {
        let value = value_doc(&slot.value);
        Self {
            value,
            sensitive: slot.sensitive,
            expires_at: slot.expires_at,
            given: slot.given,
        }
    }
}

impl From<&OtpState> for OtpDoc {
    fn from(otp: &OtpState) -> Self {
        Self {
            address: otp.address.clone(),
            tag: crate::hex::encode(&otp.tag),
            length: otp.length,
            alphabet: match otp.alphabet {
                Alphabet::Digits => AlphabetDoc::Digits,
                Alphabet::Alphanumeric => AlphabetDoc::Alphanumeric,
            },
            issued_at: otp.issued_at,
            expires_at: otp.expires_at,
            attempts: otp.attempts,
            max_attempts: otp.max_attempts,
            status: match otp.status {
                CodeStatus::Active => CodeStatusDoc::Active,
                CodeStatus::Used => CodeStatusDoc::Used,
                CodeStatus::Locked => CodeStatusDoc::Locked,
            },
            sends: otp.sends,
            previous_tag: otp.previous_tag.as_ref().map(|tag| crate::hex::encode(tag)),
        }
    }
}

impl TryFrom<OtpDoc> for OtpState {
    type Error = FormatError;

    fn try_from(doc: OtpDoc) -> Result<Self, FormatError> {
        let tag_of = |hex: &str| {
            crate::hex::decode(hex)
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                .ok_or(FormatError::BadTag)
        };
        let tag = tag_of(&doc.tag)?;
        let previous_tag = doc.previous_tag.as_deref().map(tag_of).transpose()?;
        Ok(Self {
            address: doc.address,
            tag,
            length: doc.length,
            alphabet: match doc.alphabet {
                AlphabetDoc::Digits => Alphabet::Digits,
                AlphabetDoc::Alphanumeric => Alphabet::Alphanumeric,
            },
            issued_at: doc.issued_at,
            expires_at: doc.expires_at,
            attempts: doc.attempts,
            max_attempts: doc.max_attempts,
            status: match doc.status {
                CodeStatusDoc::Active => CodeStatus::Active,
                CodeStatusDoc::Used => CodeStatus::Used,
                CodeStatusDoc::Locked => CodeStatus::Locked,
            },
            sends: doc.sends,
            previous_tag,
        })
    }
}

impl From<&HistoryEntry> for LineDoc {
    fn from(line: &HistoryEntry) -> Self {
        Self {
            at: line.at,
            from: match line.speaker {
                Speaker::User => SpeakerDoc::User,
                Speaker::Bot => SpeakerDoc::Bot,
                Speaker::Agent => SpeakerDoc::Agent,
            },
            text: line.text.clone(),
            node: line.node.clone(),
        }
    }
}

impl From<LineDoc> for HistoryEntry {
    fn from(line: LineDoc) -> Self {
        Self {
            at: line.at,
            speaker: match line.from {
                SpeakerDoc::User => Speaker::User,
                SpeakerDoc::Bot => Speaker::Bot,
                SpeakerDoc::Agent => Speaker::Agent,
            },
            text: line.text,
            node: line.node,
        }
    }
}

impl From<State> for StateDoc {
    fn from(state: State) -> Self {
        match state {
            State::New => StateDoc::New,
            State::Waiting => StateDoc::Waiting,
            State::Calling => StateDoc::Calling,
            State::Ended => StateDoc::Ended,
        }
    }
}

impl From<StateDoc> for State {
    fn from(state: StateDoc) -> Self {
        match state {
            StateDoc::New => State::New,
            StateDoc::Waiting => State::Waiting,
            StateDoc::Calling => State::Calling,
            StateDoc::Ended => State::Ended,
        }
    }
}
