//! Runs the actions the machine asks for and turns what happened into an [`Outcome`].
//! One file per action, mirroring `dialog/actions/`.

mod deliver;
mod email_send;
mod http_request;
mod otp_send;
mod otp_verify;
mod understand;

pub(super) use deliver::{CodeMessage, DEFAULT_TEMPLATE, Email, Outgoing, deliver_code};
pub(super) use otp_verify::{check, policy_for};

use chrono::{DateTime, Utc};

use crate::dialog::{ActionCall, Dialog, Outcome, Session};
use crate::store::{Refund, StoreError};

use super::Engine;

pub(super) async fn run(
    engine: &Engine,
    dialog: &Dialog,
    session: &mut Session,
    call: ActionCall,
    now: DateTime<Utc>,
    refunds: &mut Vec<Refund>,
) -> Result<Outcome, StoreError> {
    match call {
        ActionCall::OtpSend(call) => otp_send::run(engine, dialog, session, call, now).await,
        ActionCall::OtpVerify(call) => otp_verify::run(engine, session, call, now, refunds).await,
        ActionCall::EmailSend(call) => email_send::run(engine, dialog, session, call, now).await,
        ActionCall::HttpRequest(call) => Ok(http_request::run(engine, call).await),
        ActionCall::Understand(call) => Ok(understand::run(engine, call).await),
    }
}

/// Counter keys for the per-address limits.
pub(crate) fn send_key(address: &str) -> String {
    format!("otp:send:{address}")
}

pub(crate) fn failure_key(address: &str) -> String {
    format!("otp:fail:{address}")
}
