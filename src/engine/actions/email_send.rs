//! `email.send`: the address's send cap (shared with codes) → render the template → email,
//! refunding the cap when the email does not go out.

use chrono::{DateTime, Utc};

use crate::address::EmailAddr;
use crate::dialog::actions::email_send::{Call, NAME};
use crate::dialog::{Dialog, Outcome, Session};
use crate::store::StoreError;

use super::super::Engine;
use super::deliver::{Email, compose, email_out, refund};
use super::send_key;

pub(super) async fn run(
    engine: &Engine,
    dialog: &Dialog,
    session: &Session,
    call: Call,
    now: DateTime<Utc>,
) -> Result<Outcome, StoreError> {
    let Ok(to) = EmailAddr::parse(&call.to) else {
        tracing::warn!(node = %session.node, "email.send: the rendered `to` is not a valid address");
        return Ok(Outcome::new("failed"));
    };
    let Some(template) = dialog.templates.get(&call.template) else {
        // The loader checked the name; a dialog version without it cannot be running.
        tracing::error!(template = %call.template, "email.send: no such template");
        return Ok(Outcome::new("failed"));
    };
    let key = send_key(&to.limit_key());
    let permit = match engine.counters.acquire(&key, engine.otp.send_limit).await? {
        Ok(permit) => permit,
        Err(_retry_after) => {
            tracing::info!(to = %to.masked(), "email.send: send limit for this address reached");
            return Ok(Outcome::new("limited"));
        }
    };
    let email = Email::in_language_of(template, dialog, session);
    let message = compose(email, &to, None, session, now);
    if email_out(engine, &to, &message, NAME).await {
        Ok(Outcome::new("sent"))
    } else {
        refund(engine, &key, permit, NAME).await;
        Ok(Outcome::new("failed"))
    }
}
