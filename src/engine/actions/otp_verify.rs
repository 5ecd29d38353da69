//! `otp.verify`: the address's daily failure budget is charged *before* comparing, so no guess
//! beyond the budget is ever evaluated; a right code refunds it all.

use chrono::{DateTime, Utc};

use crate::dialog::actions::otp_verify::Call;
use crate::dialog::value::Value;
use crate::dialog::{Outcome, Session};
use crate::otp::{self, CodeStatus, OtpState, Verdict};
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
    let (checked, budget_back_in) =
        check(engine, &session.id, session.otp.as_mut(), &call.code, now).await?;
    Ok(match checked {
        Verdict::Valid => Outcome::new("valid"),
        Verdict::Invalid {
            attempts_left,
            previous,
        } => Outcome::new("invalid")
            .with("otp.attempts_left", Value::Number(f64::from(attempts_left)))
            .with("otp.previous_code", Value::Bool(previous)),
        // Whether the user can start over now (this code is used up) or only later (the
        // address's budget is spent): the dialog says which.
        Verdict::Locked => Outcome::new("locked").with(
            "otp.retry_after_minutes",
            Value::Number(budget_back_in.map_or(0.0, |wait| (wait.as_secs_f64() / 60.0).ceil())),
        ),
        Verdict::Expired | Verdict::NoCode => Outcome::new("expired"),
    })
}

/// Checks `entered` against the code `state` holds (MAC'd with `owner`, the id of the record
/// that holds it), charging the address's failure budget first. With a `Locked` verdict
/// because that budget is spent, how long until it allows a guess again.
pub(crate) async fn check(
    engine: &Engine,
    owner: &str,
    state: Option<&mut OtpState>,
    entered: &str,
    now: DateTime<Utc>,
) -> Result<(Verdict, Option<std::time::Duration>), StoreError> {
    let Some(state) = state else {
        return Ok((Verdict::NoCode, None));
    };
    // Outcomes that need no comparison spend no budget.
    match state.status {
        CodeStatus::Used => return Ok((Verdict::NoCode, None)),
        CodeStatus::Locked => return Ok((Verdict::Locked, None)),
        CodeStatus::Active if now >= state.expires_at => return Ok((Verdict::Expired, None)),
        CodeStatus::Active => {}
    }
    let key = failure_key(&state.address.to_lowercase());
    // Without the shared budget a guesser could exceed it: when it cannot be charged, the
    // request ends unsaved (503) rather than compare, and the code stays as it was.
    if let Err(retry_after) = engine
        .counters
        .acquire(&key, engine.otp.failure_limit)
        .await?
    {
        state.status = CodeStatus::Locked;
        tracing::warn!(to = %crate::address::mask_recipient(&state.address), "otp.verify: daily failure budget of this address spent");
        return Ok((Verdict::Locked, Some(retry_after)));
    }
    let verdict = otp::verify(&engine.otp.key, owner, state, entered, now);
    let masked = crate::address::mask_recipient(&state.address);
    match verdict {
        Verdict::Valid => {
            if let Err(error) = engine.counters.reset(&key).await {
                tracing::warn!(%error, "otp.verify: could not reset the failure budget");
            }
            tracing::info!(to = %masked, "otp.verify: code accepted");
        }
        Verdict::Invalid {
            attempts_left,
            previous,
        } => {
            tracing::info!(to = %masked, attempts_left, previous, "otp.verify: wrong code");
        }
        Verdict::Locked => {
            tracing::warn!(to = %masked, "otp.verify: too many wrong codes, code locked");
        }
        Verdict::Expired | Verdict::NoCode => {}
    }
    Ok((verdict, None))
}
