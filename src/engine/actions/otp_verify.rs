//! `otp.verify`: the address's daily failure budget is charged *before* comparing, so no guess
//! beyond the budget is ever evaluated; a right code refunds it all.

use chrono::{DateTime, Utc};

use crate::dialog::actions::otp_verify::Call;
use crate::dialog::value::Value;
use crate::dialog::{Outcome, Session};
use crate::otp::{self, CodeStatus, Verdict};
use crate::store::StoreError;

use super::super::Engine;
use super::failure_key;

pub(super) async fn run(
    engine: &Engine,
    session: &mut Session,
    call: Call,
    now: DateTime<Utc>,
) -> Result<Outcome, StoreError> {
    let outcome = verify(engine, session, call, now).await?;
    engine
        .metrics
        .otp_verifications
        .inc(&[("outcome", outcome.name)]);
    Ok(outcome)
}

async fn verify(
    engine: &Engine,
    session: &mut Session,
    call: Call,
    now: DateTime<Utc>,
) -> Result<Outcome, StoreError> {
    let Some(state) = session.otp.as_mut() else {
        return Ok(Outcome::new("expired"));
    };
    // Outcomes that need no comparison spend no budget.
    match state.status {
        CodeStatus::Used => return Ok(Outcome::new("expired")),
        CodeStatus::Locked => return Ok(Outcome::new("locked")),
        CodeStatus::Active if now >= state.expires_at => return Ok(Outcome::new("expired")),
        CodeStatus::Active => {}
    }
    let key = failure_key(&state.address.to_lowercase());
    // Without the shared budget a guesser could exceed it: when it cannot be charged, the
    // turn ends unsaved (503) rather than compare, and the code stays as it was.
    if let Err(_retry_after) = engine
        .counters
        .acquire(&key, engine.otp.failure_limit)
        .await?
    {
        state.status = CodeStatus::Locked;
        tracing::warn!(to = %crate::address::mask_email(&state.address), "otp.verify: daily failure budget of this address spent");
        return Ok(Outcome::new("locked"));
    }
    let verdict = otp::verify(&engine.otp.key, &session.id, state, &call.code, now);
    let masked = crate::address::mask_email(&state.address);
    match verdict {
        Verdict::Valid => {
            if let Err(error) = engine.counters.reset(&key).await {
                tracing::warn!(%error, "otp.verify: could not reset the failure budget");
            }
            tracing::info!(to = %masked, "otp.verify: code accepted");
            Ok(Outcome::new("valid"))
        }
        Verdict::Invalid { attempts_left } => {
            tracing::info!(to = %masked, attempts_left, "otp.verify: wrong code");
            Ok(Outcome::new("invalid")
                .with("otp.attempts_left", Value::Number(f64::from(attempts_left))))
        }
        Verdict::Locked => {
            tracing::warn!(to = %masked, "otp.verify: too many wrong codes, code locked");
            Ok(Outcome::new("locked"))
        }
        Verdict::Expired | Verdict::NoCode => Ok(Outcome::new("expired")),
    }
}
