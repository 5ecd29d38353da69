//! The listener's one door into `engine::codes`: the same records, policy and limits as the
//! HTTP OTP API (cooldown, send cap, toll-fraud guard, attempts, failure budget, single use).
//!
//! A code's scope is (client `kafka`, purpose `flowx:<channel>:<clientId>`, the address or
//! number it went to). FlowX validates by `clientId` and channel alone, so the recipient
//! comes from the binding `records.rs` keeps for (clientId, channel), written before the
//! code is sent: a new generate for a client to another recipient moves the binding, and
//! the old code can no longer be checked.

use crate::address::Recipient;
use crate::engine::codes::{Destination, SmsText};
use crate::engine::{CodeScope, Engine, EngineError, NotIssued};
use crate::otp::Verdict;

use super::templates::Chosen;
use super::wire::Channel;

/// The client every code from Kafka is issued to.
pub const CLIENT: &str = "kafka";

/// Why a generate request sent no code, as FlowX's `error` says it.
pub fn not_issued_error(not_issued: NotIssued, channel: Channel) -> String {
    match not_issued {
        NotIssued::Cooldown(wait) => format!(
            "a code was sent to this client moments ago; another may be sent in {}s",
            wait.as_secs().max(1)
        ),
        NotIssued::Limited(wait) => format!(
            "too many codes were sent to this recipient; try again in {}s",
            wait.as_secs().max(1)
        ),
        NotIssued::Blocked(blocked) => format!(
            "the text was refused by the toll-fraud guard: {}",
            blocked.reason.describe()
        ),
        NotIssued::DeliveryFailed => match channel {
            Channel::Mail => "the email could not be sent".to_owned(),
            Channel::Sms => "the text could not be sent".to_owned(),
        },
    }
}

/// Sends a new code for (`client_id`, `channel`) to `to`, in the words `chosen` gives.
/// `Ok(None)`: sent; `Ok(Some(error))`: not sent, and why.
pub async fn issue(
    engine: &Engine,
    client_id: &str,
    channel: Channel,
    to: Recipient,
    chosen: &Chosen,
) -> Result<Option<String>, EngineError> {
    let scope = scope(client_id, channel, to.clone());
    let destination = match (to, chosen) {
        (Recipient::Email(to), Chosen::Email(template)) => Destination::Email {
            to,
            template: Some(template),
        },
        (Recipient::Email(to), _) => Destination::Email { to, template: None },
        (Recipient::Phone(to), Chosen::Sms(template)) => Destination::Sms {
            to,
            text: SmsText::Template(template),
        },
        (Recipient::Phone(to), _) => Destination::Sms {
            to,
            text: SmsText::Standard,
        },
    };
    Ok(engine
        .issue_code(&scope, &[destination], None)
        .await?
        .err()
        .map(|not_issued| not_issued_error(not_issued, channel)))
}

/// Checks `otp` against the code of (`client_id`, `channel`) that went to `to`; a right code
/// is consumed.
pub async fn check(
    engine: &Engine,
    client_id: &str,
    channel: Channel,
    to: Recipient,
    otp: &str,
) -> Result<bool, EngineError> {
    let scope = scope(client_id, channel, to);
    Ok(engine.check_code(&scope, otp).await?.checked == Verdict::Valid)
}

fn scope(client_id: &str, channel: Channel, recipient: Recipient) -> CodeScope {
    CodeScope {
        client: Some(CLIENT.to_owned()),
        purpose: format!("flowx:{}:{client_id}", channel.as_str()),
        recipient,
    }
}
