//! `otp.verify`: the address's failure count is charged *before* comparing, so no guess beyond
//! the budget is ever evaluated. Failures make the address's later codes longer
//! (`otp::Escalation`); a live code too short for the guesses made since it was sent is
//! retired unchecked, and its owner asked to take a new one. A right code takes back only its
//! own charge, never earlier failures: the guessing bound holds however many logins succeed
//! in a window, and logging in often makes no code longer. A charge taken back goes with the
//! turn's save (`refunds`), not in a round trip of its own.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::dialog::actions::otp_verify::Call;
use crate::dialog::value::Value;
use crate::dialog::{Outcome, Session};
use crate::otp::{self, CodeStatus, OtpState, Policy, Verdict};
use crate::store::{Refund, StoreError};

use super::super::Engine;
use super::failure_key;

pub(super) async fn run(
    engine: &Engine,
    session: &mut Session,
    call: Call,
    now: DateTime<Utc>,
    refunds: &mut Vec<Refund>,
) -> Result<Outcome, StoreError> {
    let outcome = verify(engine, session, call, now, refunds).await?;
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
    refunds: &mut Vec<Refund>,
) -> Result<Outcome, StoreError> {
    let Checked {
        verdict,
        budget_back_in,
        longer_code_needed,
    } = check(
        engine,
        &session.id,
        session.otp.as_mut(),
        &call.code,
        now,
        refunds,
    )
    .await?;
    Ok(match verdict {
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
        Verdict::Expired | Verdict::NoCode => {
            Outcome::new("expired").with("otp.longer_code", Value::Bool(longer_code_needed))
        }
    })
}

/// What checking an entered code found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checked {
    pub verdict: Verdict,
    /// With a `Locked` verdict because the address's failure budget is spent: how long until
    /// it allows a guess again.
    pub budget_back_in: Option<Duration>,
    /// The code was retired unchecked (an `Expired` verdict): the guesses at its address since
    /// it was sent ask for a longer one.
    pub longer_code_needed: bool,
}

impl Checked {
    fn plain(verdict: Verdict) -> Self {
        Self {
            verdict,
            budget_back_in: None,
            longer_code_needed: false,
        }
    }
}

/// `policy`, made longer where the failed guesses at `address` in the failure window ask for
/// it. The OTP API asks here before it issues a code; `otp.send` counts the same guesses in
/// the round trip that charges the send cap.
pub(crate) async fn policy_for(
    engine: &Engine,
    policy: &Policy,
    address: &str,
) -> Result<Policy, StoreError> {
    let failures = engine
        .counters
        .count(
            &failure_key(&address.to_lowercase()),
            engine.otp.failure_limit.window,
        )
        .await?;
    Ok(engine.otp.escalation.policy_for(policy, failures))
}

/// Checks `entered` against the code `state` holds (MAC'd with `owner`, the id of the record
/// that holds it), charging the address's failure count first. A charge to give back (the
/// code was right, or not compared) is put in `refunds`, for the caller to give back once
/// what it saves is saved.
pub(crate) async fn check(
    engine: &Engine,
    owner: &str,
    state: Option<&mut OtpState>,
    entered: &str,
    now: DateTime<Utc>,
    refunds: &mut Vec<Refund>,
) -> Result<Checked, StoreError> {
    let Some(state) = state else {
        return Ok(Checked::plain(Verdict::NoCode));
    };
    // Outcomes that need no comparison spend no budget.
    match state.status {
        CodeStatus::Used => return Ok(Checked::plain(Verdict::NoCode)),
        CodeStatus::Locked => return Ok(Checked::plain(Verdict::Locked)),
        CodeStatus::Active if now >= state.expires_at => {
            return Ok(Checked::plain(Verdict::Expired));
        }
        CodeStatus::Active => {}
    }
    let key = failure_key(&state.address.to_lowercase());
    // Without the shared budget a guesser could exceed it: when it cannot be charged, the
    // request ends unsaved (503) rather than compare, and the code stays as it was.
    let masked = crate::address::mask_recipient(&state.address);
    let permit = match engine
        .counters
        .acquire(&key, engine.otp.failure_limit)
        .await?
    {
        Ok(permit) => permit,
        Err(retry_after) => {
            state.retire(CodeStatus::Locked);
            tracing::warn!(to = %masked, "otp.verify: the failure budget of this address is spent");
            return Ok(Checked {
                verdict: Verdict::Locked,
                budget_back_in: Some(retry_after),
                longer_code_needed: false,
            });
        }
    };
    let failures_before = permit.count.saturating_sub(1);
    if !engine
        .otp
        .escalation
        .admits(state.length, state.alphabet, failures_before)
    {
        // Not compared, so not a guess: the count is given back.
        refunds.push(Refund { key, permit });
        state.expires_at = state.expires_at.min(now);
        tracing::info!(to = %masked, failures_before, "otp.verify: code retired unchecked: wrong guesses at this address ask for a longer one");
        return Ok(Checked {
            verdict: Verdict::Expired,
            budget_back_in: None,
            longer_code_needed: true,
        });
    }
    let verdict = otp::verify(&engine.otp.key, owner, state, entered, now);
    match verdict {
        Verdict::Valid => {
            // Charged before comparing like every attempt, but a right code is no failure:
            // its own charge is given back (and only its own; the wrong guesses stay counted).
            refunds.push(Refund { key, permit });
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
    Ok(Checked::plain(verdict))
}
