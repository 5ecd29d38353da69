//! `otp.send`: cooldown (this session) → send cap (this recipient, all sessions) → generate →
//! email or text (through the toll-fraud guard) → keep the MAC. The code exists in memory
//! only between generation and the message. Delivery itself is `deliver.rs`.

use chrono::{DateTime, Utc};

use crate::address::{EmailAddr, PhoneAddr, Recipient};
use crate::dialog::actions::otp_send::{Call, Channel};
use crate::dialog::value::Value;
use crate::dialog::{Dialog, Outcome, Session};
use crate::engine::codes::{SmsText, Undelivered};
use crate::otp;
use crate::sms::Blocked;
use crate::store::StoreError;

use super::super::Engine;
use super::deliver::{DEFAULT_TEMPLATE, Email, Outgoing, ceil_minutes, deliver};

pub(super) async fn run(
    engine: &Engine,
    dialog: &Dialog,
    session: &mut Session,
    call: Call,
    now: DateTime<Utc>,
) -> Result<Outcome, StoreError> {
    let outcome = send(engine, dialog, session, call, now).await?;
    engine.metrics.otp_sends.inc(&[("outcome", outcome.name)]);
    Ok(outcome)
}

async fn send(
    engine: &Engine,
    dialog: &Dialog,
    session: &mut Session,
    call: Call,
    now: DateTime<Utc>,
) -> Result<Outcome, StoreError> {
    let to = match call.channel {
        Channel::Email => EmailAddr::parse(&call.to).map(Recipient::Email).ok(),
        Channel::Sms => PhoneAddr::parse(&call.to, engine.settings.place.region)
            .map(Recipient::Phone)
            .ok(),
    };
    let policy = call.overrides.apply(&engine.otp.policy);
    let policy = match &to {
        Some(to) => super::policy_for(engine, &policy, to.as_str()).await?,
        None => policy,
    };
    let minutes = ceil_minutes(policy.ttl);
    let outcome = |name| {
        Outcome::new(name)
            .with("otp.length", Value::Number(f64::from(policy.length)))
            .with("otp.expires_in_minutes", Value::Number(minutes))
    };
    let Some(to) = to else {
        tracing::warn!(node = %session.node, channel = ?call.channel, "otp.send: the rendered `to` is not a valid recipient for the channel");
        return Ok(outcome("failed"));
    };
    if let Some(wait) = otp::cooldown_left(session.otp.as_ref(), to.as_str(), &policy, now) {
        return Ok(outcome("cooldown").with(
            "otp.retry_after_seconds",
            Value::Number(wait.as_secs_f64().ceil()),
        ));
    }
    let out = match &to {
        Recipient::Email(addr) => {
            let template = call
                .template
                .as_deref()
                .and_then(|name| dialog.templates.get(name))
                .unwrap_or(&DEFAULT_TEMPLATE);
            Outgoing::Email(addr, Email::in_language_of(template, dialog, session))
        }
        Recipient::Phone(number) => Outgoing::Sms(number, SmsText::Standard),
    };
    match deliver(engine, out, &policy, session, now).await? {
        Ok(code) => {
            session.otp = Some(otp::issue(
                &engine.otp.key,
                &session.id,
                to.as_str(),
                &code,
                &policy,
                session.otp.as_ref(),
                now,
            ));
            Ok(outcome("sent"))
        }
        Err(
            Undelivered::Limited(retry_after)
            | Undelivered::Blocked(Blocked {
                retry_after: Some(retry_after),
                ..
            }),
        ) => Ok(outcome("limited").with(
            "otp.retry_after_minutes",
            Value::Number(ceil_minutes(retry_after)),
        )),
        // A number the toll-fraud guard refuses (its country, a premium rate) cannot be
        // texted however long the user waits: the dialog's `failed` path asks for another.
        Err(Undelivered::Blocked(_) | Undelivered::Failed) => Ok(outcome("failed")),
    }
}
