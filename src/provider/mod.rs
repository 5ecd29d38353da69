//! What every outbound provider adapter (SendGrid, Twilio, the HTTP SMS gateway) shares: one
//! sending loop — an attempt, the adapter's verdict on it, a wait chosen by the retry policy,
//! another attempt — bounded by a number of attempts and a time budget, and bounded reads of
//! the provider's answers.
//!
//! The loop knows nothing of HTTP, bodies or logs: each adapter makes one attempt, says what it
//! came to ([`Attempt`]) and writes its own log line and metrics from the [`Report`] the loop
//! hands it after every attempt, so a retry decision is made in one place for all of them.
//!
//! Must not: sleep except through the [`Sleeper`]; hold the thread-local random generator
//! across an await (it is not `Send`).

pub(crate) mod retry;

pub use retry::{Sleeper, TokioSleeper};

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use self::retry::{Hint, Next, Policy};

/// What one attempt came to.
#[derive(Debug)]
pub(crate) enum Attempt<T, E> {
    /// The provider took the message.
    Done(T),
    /// A passing failure: another attempt may work, after the wait the answer asked for.
    Retry(E, Hint),
    /// Another attempt would get the same answer.
    Final(E),
}

/// One attempt as the loop saw it, handed to the adapter for its log line and metrics.
#[derive(Debug)]
pub(crate) struct Report<'a, T, E, A> {
    /// 1-based.
    pub attempt: u32,
    pub elapsed: Duration,
    /// What the adapter kept of the answer (its status, for the log).
    pub answer: &'a A,
    pub outcome: &'a Attempt<T, E>,
    /// After a retryable outcome: the wait before the next attempt, or why there is none.
    pub next: Option<Next>,
}

/// How one message is tried: the policy, the time every attempt and wait must fit in, how
/// waits are spent and what time it is (for a provider's "come back at" answers).
pub(crate) struct Attempts<'a> {
    pub policy: Policy,
    pub budget: Duration,
    pub sleeper: &'a dyn Sleeper,
    pub now: &'a (dyn Fn() -> DateTime<Utc> + Send + Sync),
}

impl Attempts<'_> {
    /// Runs `attempt` (given the time left in the budget) until it is done, final, out of
    /// attempts or out of time, calling `report` once after every attempt.
    pub(crate) async fn run<T, E, A, F, Fut, R>(
        &self,
        mut attempt: F,
        mut report: R,
    ) -> Result<T, E>
    where
        F: FnMut(Duration) -> Fut,
        Fut: Future<Output = (Attempt<T, E>, A)>,
        R: FnMut(Report<'_, T, E, A>),
    {
        let started = Instant::now();
        let mut number = 1;
        loop {
            let left = self.budget.saturating_sub(started.elapsed());
            let attempt_started = Instant::now();
            let (outcome, answer) = attempt(left).await;
            let elapsed = attempt_started.elapsed();
            // Decided before any await: the thread-local generator is not `Send`.
            let next = match &outcome {
                Attempt::Retry(_, hint) => Some(self.policy.next(
                    number,
                    *hint,
                    (self.now)(),
                    self.budget.saturating_sub(started.elapsed()),
                    &mut rand::rng(),
                )),
                Attempt::Done(_) | Attempt::Final(_) => None,
            };
            report(Report {
                attempt: number,
                elapsed,
                answer: &answer,
                outcome: &outcome,
                next,
            });
            match (outcome, next) {
                (Attempt::Done(done), _) => return Ok(done),
                (Attempt::Retry(..), Some(Next::Wait(wait))) => {
                    self.sleeper.sleep(wait).await;
                    number += 1;
                }
                (Attempt::Retry(error, _) | Attempt::Final(error), _) => return Err(error),
            }
        }
    }
}

/// At most `max` bytes of an answer's body (the rest is not read); `None` if it broke off.
pub(crate) async fn read_at_most(mut response: reqwest::Response, max: usize) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.ok()? {
        let room = max.saturating_sub(body.len());
        body.extend_from_slice(chunk.get(..chunk.len().min(room)).unwrap_or_default());
        if body.len() >= max {
            break;
        }
    }
    Some(body)
}

/// Milliseconds, for log fields.
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;

    #[derive(Debug, Default)]
    struct Waits(Mutex<Vec<Duration>>);

    #[async_trait]
    impl Sleeper for Waits {
        async fn sleep(&self, duration: Duration) {
            self.0.lock().unwrap().push(duration);
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_893_456_000, 0).unwrap()
    }

    fn attempts(waits: &Waits, max_attempts: u32) -> Attempts<'_> {
        Attempts {
            policy: Policy {
                base: Duration::from_millis(10),
                max_attempts,
            },
            budget: Duration::from_secs(5),
            sleeper: waits,
            now: &now,
        }
    }

    #[tokio::test]
    async fn retries_until_done_and_reports_every_attempt() {
        let waits = Waits::default();
        let mut answers = vec![
            Attempt::Done("sent"),
            Attempt::Retry("busy", Hint::default()),
            Attempt::Retry("busy", Hint::default()),
        ];
        let mut reports = Vec::new();
        let result = attempts(&waits, 3)
            .run(
                |_| {
                    let next = answers.pop().unwrap();
                    async move { (next, "status") }
                },
                |report: Report<'_, &str, &str, &str>| {
                    reports.push((report.attempt, report.next.is_some()));
                },
            )
            .await;
        assert_eq!(result, Ok("sent"));
        assert_eq!(reports, [(1, true), (2, true), (3, false)]);
        assert_eq!(waits.0.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn stops_at_a_final_answer_and_after_the_last_attempt() {
        let waits = Waits::default();
        let final_answer: Result<(), &str> = attempts(&waits, 3)
            .run(|_| async { (Attempt::Final("refused"), ()) }, |_| {})
            .await;
        assert_eq!(final_answer, Err("refused"));
        assert!(waits.0.lock().unwrap().is_empty());
        let mut tries = 0;
        let out_of_attempts: Result<(), &str> = attempts(&waits, 2)
            .run(
                |_| {
                    tries += 1;
                    async { (Attempt::Retry("busy", Hint::default()), ()) }
                },
                |_| {},
            )
            .await;
        assert_eq!(out_of_attempts, Err("busy"));
        assert_eq!(tries, 2);
    }

    #[tokio::test]
    async fn a_wait_asked_for_beyond_the_budget_gives_up_at_once() {
        let waits = Waits::default();
        let hint = Hint {
            retry_after: Some(Duration::from_secs(60)),
            reset_at: None,
        };
        let mut gave_up = None;
        let result: Result<(), &str> = attempts(&waits, 3)
            .run(
                |_| async move { (Attempt::Retry("busy", hint), ()) },
                |report| gave_up = report.next,
            )
            .await;
        assert_eq!(result, Err("busy"));
        assert!(matches!(gave_up, Some(Next::GiveUp(_))), "{gave_up:?}");
        assert!(waits.0.lock().unwrap().is_empty());
    }
}
