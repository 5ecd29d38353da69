//! The listener's one door into `engine::codes`: the same records, policy and limits as the
//! HTTP OTP API (cooldown, send cap, attempts, failure budget, single use).
//!
//! A code's scope is (client `kafka`, purpose `flowx:<channel>:<clientId>`, the address it
//! went to). FlowX validates by `clientId` and channel alone, so the address comes from the
//! binding `records.rs` keeps for (clientId, channel), written before the code is sent: a
//! new generate for a client to another address moves the binding, and the old code can no
//! longer be checked.

use crate::address::{EmailAddr, Recipient};
use crate::engine::codes::Destination;
use crate::engine::{CodeScope, Engine, EngineError, NotIssued};
use crate::otp::Verdict;

use super::wire::Channel;

/// The client every code from Kafka is issued to.
pub const CLIENT: &str = "kafka";

/// Why a generate request sent no code, as FlowX's `error` says it.
pub fn not_issued_error(not_issued: NotIssued) -> String {
    match not_issued {
        NotIssued::Cooldown(wait) => format!(
            "a code was sent to this client moments ago; another may be sent in {}s",
            wait.as_secs().max(1)
        ),
        NotIssued::Limited(wait) => format!(
            "too many codes were sent to this address; try again in {}s",
            wait.as_secs().max(1)
        ),
        NotIssued::Blocked(_) => "the message was refused by the sending guard".to_owned(),
        NotIssued::DeliveryFailed => "the email could not be sent".to_owned(),
    }
}

/// Emails a new code for (`client_id`, MAIL) to `to`. `Ok(None)`: sent.
pub async fn issue(
    engine: &Engine,
    client_id: &str,
    to: EmailAddr,
) -> Result<Option<String>, EngineError> {
    let scope = scope(client_id, Channel::Mail, to.clone());
    let destinations = [Destination::Email { to, template: None }];
    Ok(engine
        .issue_code(&scope, &destinations, None)
        .await?
        .err()
        .map(not_issued_error))
}

/// Checks `otp` against the code of (`client_id`, `channel`) that went to `to`; a right code
/// is consumed.
pub async fn check(
    engine: &Engine,
    client_id: &str,
    channel: Channel,
    to: EmailAddr,
    otp: &str,
) -> Result<bool, EngineError> {
    let scope = scope(client_id, channel, to);
    Ok(engine.check_code(&scope, otp).await?.checked == Verdict::Valid)
}

fn scope(client_id: &str, channel: Channel, address: EmailAddr) -> CodeScope {
    CodeScope {
        client: Some(CLIENT.to_owned()),
        purpose: format!("flowx:{}:{client_id}", channel.as_str()),
        recipient: Recipient::Email(address),
    }
}
