//! `otp.send`: cooldown (this session) → send cap (this recipient, all sessions, charged in the
//! same round trip that counts the failed guesses at it, which set the code's length) → generate →
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
use super::deliver::{
    CodeMessage, DEFAULT_TEMPLATE, Email, Outgoing, ceil_minutes, deliver_charged, log_limited,
};
use super::failure_key;

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
    let base = call.overrides.apply(&engine.otp.policy);
    let minutes = ceil_minutes(base.ttl);
    let outcome = |name, length: u8| {
        Outcome::new(name)
            .with("otp.length", Value::Number(f64::from(length)))
            .with("otp.expires_in_minutes", Value::Number(minutes))
    };
    let Some(to) = to else {
        tracing::warn!(node = %session.node, channel = ?call.channel, "otp.send: the rendered `to` is not a valid recipient for the channel");
        return Ok(outcome("failed", base.length));
    };
    // The cooldown is the same for a longer code: it is checked before anything is counted.
    if let Some(wait) = otp::cooldown_left(session.otp.as_ref(), to.as_str(), &base, now) {
        return Ok(outcome("cooldown", base.length).with(
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
    // One round trip: the recipient's send cap charged, and the failed guesses at it counted
    // (they make the code longer). A cap that cannot be checked ends the turn unsaved (503):
    // nothing goes out unchecked.
    let key = out.send_key();
    let (charged, failures) = engine
        .counters
        .acquire_counting(
            &key,
            engine.otp.send_limit,
            &failure_key(&to.as_str().to_lowercase()),
            engine.otp.failure_limit.window,
        )
        .await?;
    let policy = engine.otp.escalation.policy_for(&base, failures);
    let limited_for = |retry_after| {
        Ok(outcome("limited", policy.length).with(
            "otp.retry_after_minutes",
            Value::Number(ceil_minutes(retry_after)),
        ))
    };
    let permit = match charged {
        Ok(permit) => permit,
        Err(retry_after) => {
            log_limited(out);
            return limited_for(retry_after);
        }
    };
    // Generated in a block: the thread-local generator must not live across an await.
    let code = { otp::generate(&policy, &mut rand::rng()) };
    let message = CodeMessage {
        out,
        code: &code,
        policy: &policy,
        session,
        now,
    };
    match deliver_charged(engine, message, (&key, permit)).await? {
        Ok(()) => {
            session.otp = Some(otp::issue(
                &engine.otp.key,
                &session.id,
                to.as_str(),
                &code,
                &policy,
                session.otp.as_ref(),
                now,
            ));
            Ok(outcome("sent", policy.length))
        }
        Err(
            Undelivered::Limited(retry_after)
            | Undelivered::Blocked(Blocked {
                retry_after: Some(retry_after),
                ..
            }),
        ) => limited_for(retry_after),
        // A number the toll-fraud guard refuses (its country, a premium rate) cannot be
        // texted however long the user waits: the dialog's `failed` path asks for another.
        Err(Undelivered::Blocked(_) | Undelivered::Failed) => Ok(outcome("failed", policy.length)),
    }
}
