//! Longer codes instead of lock-outs. Wrong guesses at an address (from any session, client or
//! address of the guesser) do not lock it: they make the codes it is sent afterwards longer,
//! and retire a live code too short for the guesses already made. An attacker without the
//! mailbox can therefore not stop its owner from verifying (the owner is at worst asked to take
//! a new, longer code), while each guess is worth less and less to the attacker: the chance
//! that a window's guesses find a code stays bounded ([`Escalation::guess_bound`]).
//!
//! Strength is counted in decimal digits (`length × log10(alphabet size)`), so the steps mean
//! the same for digit and alphanumeric codes: 4 alphanumeric characters (20 bits) are worth 6
//! digits.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Alphabet, Policy};

/// From the guess that follows `after` failed ones (at one address, within the failure
/// window), a code must be worth at least `digits` decimal digits to be checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub after: u32,
    pub digits: u8,
}

/// Steps that make no sense together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EscalationError {
    /// `after` must grow from one step to the next, and so must `digits`.
    NotIncreasing { index: usize },
    /// A step asks for more digits than the longest code can carry.
    TooLong { index: usize },
}

impl fmt::Display for EscalationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EscalationError::NotIncreasing { index } => write!(
                f,
                "step {index}: `after` and `digits` must each be larger than in the step before"
            ),
            EscalationError::TooLong { index } => write!(
                f,
                "step {index}: `digits` must be at most {} (the longest code)",
                Policy::MAX_LENGTH
            ),
        }
    }
}

impl std::error::Error for EscalationError {}

/// The steps, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Escalation {
    steps: Vec<Step>,
}

impl Default for Escalation {
    /// 6 digits after 5 failures, 8 after 105 (see README, "Security bound").
    fn default() -> Self {
        Self {
            steps: Self::DEFAULT_STEPS.to_vec(),
        }
    }
}

impl Escalation {
    pub const DEFAULT_STEPS: [Step; 2] = [
        Step {
            after: 5,
            digits: 6,
        },
        Step {
            after: 105,
            digits: 8,
        },
    ];

    pub fn new(steps: Vec<Step>) -> Result<Self, EscalationError> {
        for (index, step) in steps.iter().enumerate() {
            if step.digits > Policy::MAX_LENGTH {
                return Err(EscalationError::TooLong { index });
            }
            if index > 0 {
                let before = steps[index - 1];
                if step.after <= before.after || step.digits <= before.digits {
                    return Err(EscalationError::NotIncreasing { index });
                }
            }
        }
        Ok(Self { steps })
    }

    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The digits a code must be worth for the guess that follows `failures` failed ones.
    pub fn required_digits(&self, failures: u32) -> u8 {
        self.steps
            .iter()
            .rev()
            .find(|step| failures >= step.after)
            .map_or(0, |step| step.digits)
    }

    /// Whether a code of `length` characters of `alphabet` may still be checked after
    /// `failures` failed guesses at its address.
    pub fn admits(&self, length: u8, alphabet: Alphabet, failures: u32) -> bool {
        strength(length, alphabet) + 1e-9 >= f64::from(self.required_digits(failures))
    }

    /// The policy for a new code to an address with `failures` failed guesses: `policy`, made
    /// longer where the steps ask for it (never shorter, and never past the longest code).
    pub fn policy_for(&self, policy: &Policy, failures: u32) -> Policy {
        let required = f64::from(self.required_digits(failures));
        if strength(policy.length, policy.alphabet) + 1e-9 >= required {
            return *policy;
        }
        let length = (policy.length..=Policy::MAX_LENGTH)
            .find(|&length| strength(length, policy.alphabet) + 1e-9 >= required)
            .unwrap_or(Policy::MAX_LENGTH);
        Policy { length, ..*policy }
    }

    /// The chance that `max_failures` guesses at one address within one window find a code
    /// issued under `policy` (each guess scored against the shortest code it may be checked
    /// against): the sum over guesses of 1 / (alphabet size ^ length).
    pub fn guess_bound(&self, policy: &Policy, max_failures: u32) -> f64 {
        let symbols = symbol_count(policy.alphabet);
        // Guesses between two consecutive steps all face the same shortest code.
        let mut bounds: Vec<u32> = self
            .steps
            .iter()
            .map(|step| step.after)
            .filter(|&after| after < max_failures)
            .collect();
        bounds.push(max_failures);
        let mut chance = 0.0;
        let mut done = 0_u32;
        for end in bounds {
            let guesses = end.saturating_sub(done);
            let length = self.policy_for(policy, done).length;
            chance += f64::from(guesses) / symbols.powi(i32::from(length));
            done = done.max(end);
        }
        chance.min(1.0)
    }
}

fn symbol_count(alphabet: Alphabet) -> f64 {
    f64::from(u32::try_from(alphabet.symbols().len()).unwrap_or(u32::MAX))
}

fn digits_per_symbol(alphabet: Alphabet) -> f64 {
    symbol_count(alphabet).log10()
}

/// A code's worth in decimal digits.
fn strength(length: u8, alphabet: Alphabet) -> f64 {
    f64::from(length) * digits_per_symbol(alphabet)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(length: u8) -> Policy {
        Policy {
            length,
            ..Policy::default()
        }
    }

    #[test]
    fn codes_grow_with_the_failures_and_never_shrink() {
        let escalation = Escalation::default();
        assert_eq!(escalation.policy_for(&digits(4), 0).length, 4);
        assert_eq!(escalation.policy_for(&digits(4), 4).length, 4);
        assert_eq!(escalation.policy_for(&digits(4), 5).length, 6);
        assert_eq!(escalation.policy_for(&digits(4), 104).length, 6);
        assert_eq!(escalation.policy_for(&digits(4), 105).length, 8);
        assert_eq!(escalation.policy_for(&digits(4), u32::MAX).length, 8);
        assert_eq!(escalation.policy_for(&digits(10), 105).length, 10);
    }

    #[test]
    fn alphanumeric_strength_counts_in_digits() {
        let escalation = Escalation::default();
        let alphanumeric = Policy {
            alphabet: Alphabet::Alphanumeric,
            ..Policy::default()
        };
        // 4 characters of 32 are worth 6.02 digits: enough for the 6-digit step.
        assert_eq!(escalation.policy_for(&alphanumeric, 5).length, 4);
        // 8 digits take 6 characters (9.03 digits); 5 (7.5) are not enough.
        assert_eq!(escalation.policy_for(&alphanumeric, 105).length, 6);
        assert!(escalation.admits(6, Alphabet::Alphanumeric, 105));
        assert!(!escalation.admits(5, Alphabet::Alphanumeric, 105));
    }

    #[test]
    fn a_short_code_is_not_checked_past_its_step() {
        let escalation = Escalation::default();
        assert!(escalation.admits(4, Alphabet::Digits, 4));
        assert!(!escalation.admits(4, Alphabet::Digits, 5));
        assert!(escalation.admits(6, Alphabet::Digits, 104));
        assert!(!escalation.admits(6, Alphabet::Digits, 105));
        assert!(escalation.admits(8, Alphabet::Digits, u32::MAX));
    }

    #[test]
    fn the_default_bound_is_under_a_thousandth_a_day() {
        // 5 guesses at 4 digits, 100 at 6, 9,895 at 8.
        let bound = Escalation::default().guess_bound(&digits(4), 10_000);
        let expected = 5.0 / 1e4 + 100.0 / 1e6 + 9_895.0 / 1e8;
        assert!((bound - expected).abs() < 1e-12, "{bound}");
        assert!(bound < 0.001);
        // Without steps, every guess faces the 4-digit code.
        let flat = Escalation::new(Vec::new()).unwrap();
        assert!((flat.guess_bound(&digits(4), 10) - 0.001).abs() < 1e-12);
        // A budget that stops before the first step.
        assert!((Escalation::default().guess_bound(&digits(4), 2) - 2e-4).abs() < 1e-12);
    }

    #[test]
    fn steps_must_grow() {
        let step = |after, digits| Step { after, digits };
        assert_eq!(
            Escalation::new(vec![step(5, 6), step(5, 8)]),
            Err(EscalationError::NotIncreasing { index: 1 })
        );
        assert_eq!(
            Escalation::new(vec![step(5, 8), step(10, 6)]),
            Err(EscalationError::NotIncreasing { index: 1 })
        );
        assert_eq!(
            Escalation::new(vec![step(5, 11)]),
            Err(EscalationError::TooLong { index: 0 })
        );
        assert!(Escalation::new(vec![step(1, 5), step(2, 10)]).is_ok());
    }
}
