//! When to try again and after how long. The decision is pure (time left, attempt number,
//! what the provider said about waiting, a random source); the waiting itself goes through a
//! [`Sleeper`], so tests can see every wait without spending it.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rand::{Rng, RngExt};

/// An attempt with less time than this left could only time out (and perhaps still send a
/// duplicate), so it is not started.
const MIN_ATTEMPT: Duration = Duration::from_millis(20);

/// Retries per message: capped full-jitter exponential backoff.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    pub base: Duration,
    pub max_attempts: u32,
}

/// What one answer said about when to come back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Hint {
    /// `Retry-After`, in seconds.
    pub retry_after: Option<Duration>,
    /// `X-RateLimit-Reset`: when the rate-limit window reopens, in Unix seconds.
    pub reset_at: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    Wait(Duration),
    GiveUp(GiveUp),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GiveUp {
    OutOfAttempts,
    /// The wait the provider asked for (or the backoff) does not fit in the time left.
    OutOfTime,
}

impl GiveUp {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            GiveUp::OutOfAttempts => "out of attempts",
            GiveUp::OutOfTime => "the wait does not fit in the retry budget",
        }
    }
}

impl Policy {
    /// After failed attempt number `attempt` (1-based): wait as the provider asked when it said
    /// (`Retry-After`, else `X-RateLimit-Reset` against `now`), else a random time up to
    /// `base × 2^(attempt-1)`. Gives up when no attempt is left or the wait leaves no time.
    pub(crate) fn next<R: Rng + ?Sized>(
        &self,
        attempt: u32,
        hint: Hint,
        now: DateTime<Utc>,
        left: Duration,
        rng: &mut R,
    ) -> Next {
        if attempt >= self.max_attempts {
            return Next::GiveUp(GiveUp::OutOfAttempts);
        }
        let wait = asked_wait(hint, now).unwrap_or_else(|| self.jittered(attempt, left, rng));
        if left.saturating_sub(wait) < MIN_ATTEMPT {
            return Next::GiveUp(GiveUp::OutOfTime);
        }
        Next::Wait(wait)
    }

    fn jittered<R: Rng + ?Sized>(&self, attempt: u32, left: Duration, rng: &mut R) -> Duration {
        let doublings = attempt.saturating_sub(1).min(16);
        let cap = self.base.saturating_mul(1 << doublings).min(left);
        let cap_micros = u64::try_from(cap.as_micros()).unwrap_or(u64::MAX);
        Duration::from_micros(rng.random_range(0..=cap_micros))
    }
}

/// The wait the provider asked for, if it asked.
fn asked_wait(hint: Hint, now: DateTime<Utc>) -> Option<Duration> {
    if let Some(wait) = hint.retry_after {
        return Some(wait);
    }
    let reset = DateTime::<Utc>::from_timestamp(hint.reset_at?, 0)?;
    Some((reset - now).to_std().unwrap_or(Duration::ZERO))
}

/// Waits between attempts. Injected so tests can record waits instead of spending them.
#[async_trait]
pub trait Sleeper: Send + Sync + fmt::Debug {
    async fn sleep(&self, duration: Duration);
}

/// The real thing: `tokio::time::sleep`.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioSleeper;

#[async_trait]
impl Sleeper for TokioSleeper {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    const POLICY: Policy = Policy {
        base: Duration::from_millis(250),
        max_attempts: 3,
    };
    const PLENTY: Duration = Duration::from_secs(5);

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_893_456_000, 0).unwrap()
    }

    fn next(attempt: u32, hint: Hint, left: Duration) -> Next {
        POLICY.next(attempt, hint, now(), left, &mut StdRng::seed_from_u64(7))
    }

    #[test]
    fn backoff_is_random_below_a_doubling_cap() {
        let mut rng = StdRng::seed_from_u64(1);
        for attempt in 1..=2 {
            let cap = Duration::from_millis(250 << (attempt - 1));
            let waits: Vec<Duration> = (0..200)
                .map(
                    |_| match POLICY.next(attempt, Hint::default(), now(), PLENTY, &mut rng) {
                        Next::Wait(wait) => wait,
                        Next::GiveUp(why) => panic!("gave up: {why:?}"),
                    },
                )
                .collect();
            assert!(
                waits.iter().all(|w| *w <= cap),
                "attempt {attempt}: {waits:?}"
            );
            assert!(
                waits.iter().any(|w| *w > cap / 2) && waits.iter().any(|w| *w < cap / 2),
                "jitter spreads the waits: {waits:?}"
            );
        }
    }

    #[test]
    fn stops_after_the_last_attempt() {
        assert_eq!(
            next(3, Hint::default(), PLENTY),
            Next::GiveUp(GiveUp::OutOfAttempts)
        );
    }

    #[test]
    fn waits_until_the_rate_limit_resets() {
        let hint = Hint {
            reset_at: Some(now().timestamp() + 3),
            retry_after: None,
        };
        assert_eq!(next(1, hint, PLENTY), Next::Wait(Duration::from_secs(3)));
        let past = Hint {
            reset_at: Some(now().timestamp() - 3),
            retry_after: None,
        };
        assert_eq!(next(1, past, PLENTY), Next::Wait(Duration::ZERO));
    }

    #[test]
    fn retry_after_wins_over_the_reset() {
        let hint = Hint {
            retry_after: Some(Duration::from_secs(1)),
            reset_at: Some(now().timestamp() + 3),
        };
        assert_eq!(next(1, hint, PLENTY), Next::Wait(Duration::from_secs(1)));
    }

    #[test]
    fn a_wait_beyond_the_budget_gives_up_at_once() {
        let hint = Hint {
            reset_at: Some(now().timestamp() + 60),
            retry_after: None,
        };
        assert_eq!(next(1, hint, PLENTY), Next::GiveUp(GiveUp::OutOfTime));
        assert_eq!(
            next(1, Hint::default(), Duration::from_millis(10)),
            Next::GiveUp(GiveUp::OutOfTime),
            "no attempt starts with almost no time left"
        );
    }
}
