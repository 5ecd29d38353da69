//! `otp.verify`: the address's daily failure budget is charged *before* comparing, so no guess
//! beyond the budget is ever evaluated; a right code refunds it all.

use chrono::{DateTime, Utc};

use crate::dialog::actions::otp_verify::Call;
use crate::dialog::value::Value;
use crate::dialog::{Outcome, Session};
use crate::otp::{self, CodeStatus, Verdict};

use super::super::Engine;
use super::failure_key;

pub(super) async fn run(
    engine: &Engine,
    session: &mut Session,
    call: Call,
    now: DateTime<Utc>,
) -> Outcome {
    let outcome = verify(engine, session, call, now).await;
    engine
        .metrics
        .otp_verifications
        .inc(&[("outcome", outcome.name)]);
    outcome
}

async fn verify(engine: &Engine, session: &mut Session, call: Call, now: DateTime<Utc>) -> Outcome {
    let Some(state) = session.otp.as_mut() else {
        return Outcome::new("expired");
    };
    // Outcomes that need no comparison spend no budget.
    match state.status {
        CodeStatus::Used => return Outcome::new("expired"),
        CodeStatus::Locked => return Outcome::new("locked"),
        CodeStatus::Active if now >= state.expires_at => return Outcome::new("expired"),
        CodeStatus::Active => {}
    }
    let key = failure_key(&state.address.to_lowercase());
    match engine
        .counters
        .acquire(&key, engine.otp.failure_limit)
        .await
    {
        Ok(Ok(_permit)) => {}
        Ok(Err(_retry_after)) => {
            state.status = CodeStatus::Locked;
            tracing::warn!(to = %crate::address::mask_email(&state.address), "otp.verify: daily failure budget of this address spent");
            return Outcome::new("locked");
        }
        Err(error) => {
            // Without the shared budget a guesser could exceed it: refuse rather than compare.
            tracing::error!(%error, "otp.verify: cannot check the failure budget");
            return Outcome::new("locked");
        }
    }
    let verdict = otp::verify(&engine.otp.key, &session.id, state, &call.code, now);
    let masked = crate::address::mask_email(&state.address);
    match verdict {
        Verdict::Valid => {
            if let Err(error) = engine.counters.reset(&key).await {
                tracing::warn!(%error, "otp.verify: could not reset the failure budget");
            }
            tracing::info!(to = %masked, "otp.verify: code accepted");
            Outcome::new("valid")
        }
        Verdict::Invalid { attempts_left } => {
            tracing::info!(to = %masked, attempts_left, "otp.verify: wrong code");
            Outcome::new("invalid")
                .with("otp.attempts_left", Value::Number(f64::from(attempts_left)))
        }
        Verdict::Locked => {
            tracing::warn!(to = %masked, "otp.verify: too many wrong codes, code locked");
            Outcome::new("locked")
        }
        Verdict::Expired | Verdict::NoCode => Outcome::new("expired"),
    }
}
