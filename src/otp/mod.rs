//! One-time codes: generation, keyed storage, verification. Pure: no I/O, no clock, no
//! global randomness — the caller passes the instant, the random generator and the key.
//!
//! The policy (see README, "OTP policy"):
//! - codes come from a CSPRNG, uniform over the alphabet, leading zeros allowed;
//! - only `HMAC-SHA256(key, session ‖ address ‖ code)` is kept, never the code itself;
//! - the comparison is constant-time;
//! - every attempt is counted *before* comparing, so a guesser cannot learn anything
//!   from an attempt that would exceed the limit;
//! - a code is single-use and dies after `max_attempts` wrong guesses or at `expires_at`;
//! - issuing a new code replaces the old one, and re-issuing has a cooldown;
//! - wrong guesses at an address make its later codes longer rather than lock it
//!   ([`Escalation`]).
//!
//! Limits that span sessions (sends per address, failures per address per day) need shared
//! counters and so live in the engine, which consults them around these functions.

mod escalation;

pub use escalation::{Escalation, EscalationError, Step as EscalationStep};

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, KeyInit, Mac};
use rand::{CryptoRng, RngExt};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The characters codes are drawn from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Alphabet {
    /// `0-9`.
    #[default]
    Digits,
    /// 32 upper-case letters and digits without look-alikes (no 0, O, 1 or I): 5 bits a character,
    /// so 4 characters carry 20 bits, as much as 6 digits.
    Alphanumeric,
}

impl Alphabet {
    fn symbols(self) -> &'static [u8] {
        match self {
            Alphabet::Digits => b"0123456789",
            Alphabet::Alphanumeric => b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ",
        }
    }
}

/// Per-code rules. Defaults: 4 digits, 5 minutes, 3 attempts, 30 s between sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub length: u8,
    pub alphabet: Alphabet,
    #[serde(with = "crate::duration::serde_human")]
    pub ttl: Duration,
    pub max_attempts: u8,
    #[serde(with = "crate::duration::serde_human")]
    pub resend_cooldown: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            length: 4,
            alphabet: Alphabet::Digits,
            ttl: Duration::from_secs(300),
            max_attempts: 3,
            resend_cooldown: Duration::from_secs(30),
        }
    }
}

impl Policy {
    pub const MIN_LENGTH: u8 = 4;
    pub const MAX_LENGTH: u8 = 10;
}

/// A freshly generated code. Its `Debug` never shows the digits.
pub struct Code(String);

impl Code {
    /// The code's characters, for the one place that needs them: the email.
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Code(<redacted>)")
    }
}

/// The server key codes are MAC'd with. Its `Debug` never shows it.
pub struct OtpKey(SecretBox<[u8]>);

impl OtpKey {
    /// The shortest key accepted from configuration.
    pub const MIN_LEN: usize = 16;

    pub fn from_secret(secret: &SecretString) -> Result<Self, String> {
        let bytes = secret.expose_secret().as_bytes();
        if bytes.len() < Self::MIN_LEN {
            return Err(format!(
                "the OTP secret must be at least {} bytes long",
                Self::MIN_LEN
            ));
        }
        Ok(Self(SecretBox::new(bytes.into())))
    }

    /// A random key for development: codes issued before a restart stop working after it.
    pub fn random<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = vec![0_u8; 32];
        rng.fill_bytes(&mut bytes);
        Self(SecretBox::new(bytes.into_boxed_slice()))
    }

    fn tag(&self, session_id: &str, address: &str, code: &str) -> [u8; 32] {
        self.mac(&[session_id, address, code])
    }

    /// A keyed digest naming where the codes of (`client`, `purpose`, `address`) are kept:
    /// stable for one key, unguessable without it, and revealing none of its parts. Four
    /// fields, so it can never equal a code's tag (three).
    pub fn scope_digest(&self, client: &str, purpose: &str, address: &str) -> [u8; 32] {
        self.mac(&["otp-scope", client, purpose, address])
    }

    /// The token that proves a browser holds the session `session_id` its widget `owner`
    /// started: derived, so it needs no storage and every instance with the key agrees.
    /// Four fields with a label of its own, so it equals no code's tag and no scope digest.
    pub fn session_token(&self, owner: &str, session_id: &str) -> [u8; 32] {
        self.mac(&["session-token", owner, session_id, "v1"])
    }

    fn mac(&self, fields: &[&str]) -> [u8; 32] {
        // HMAC accepts keys of any length, so this cannot fail; an empty MAC would only
        // ever make verification fail, never succeed.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(self.0.expose_secret()) else {
            return [0; 32];
        };
        // Length prefixes keep ("ab", "c") and ("a", "bc") apart.
        for field in fields {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field.as_bytes());
        }
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for OtpKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OtpKey(<redacted>)")
    }
}

/// Where a session's current code stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeStatus {
    Active,
    Used,
    Locked,
}

/// The code a session is waiting for. Holds a MAC of the code, never the code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtpState {
    pub address: String,
    #[serde(with = "hex_tag")]
    pub tag: [u8; 32],
    pub length: u8,
    pub alphabet: Alphabet,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub attempts: u8,
    pub max_attempts: u8,
    pub status: CodeStatus,
    /// Codes sent in this session (for the transcript and support views).
    pub sends: u16,
    /// The tag of the code this one replaced for the same address, so a user who types the
    /// code of an earlier email can be told so; it is a wrong code all the same.
    pub previous_tag: Option<[u8; 32]>,
}

impl OtpState {
    /// Ends the code (used, or locked): it keeps no tag, since nothing will be compared with
    /// it again, and a finished session then keeps 64 random bytes fewer.
    pub fn retire(&mut self, status: CodeStatus) {
        self.status = status;
        self.tag = [0; 32];
        self.previous_tag = None;
    }
}

/// The outcome of checking an entered code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Valid,
    Invalid {
        attempts_left: u8,
        /// The code entered is the one this code replaced (an earlier email's).
        previous: bool,
    },
    Expired,
    /// Too many wrong attempts: this code is dead.
    Locked,
    /// No code is waiting (never sent, or already used).
    NoCode,
}

/// Draws a code uniformly from the policy's alphabet.
pub fn generate<R: CryptoRng + ?Sized>(policy: &Policy, rng: &mut R) -> Code {
    let symbols = policy.alphabet.symbols();
    let length = policy.length.clamp(Policy::MIN_LENGTH, Policy::MAX_LENGTH);
    let code = (0..length)
        .map(|_| char::from(symbols[rng.random_range(0..symbols.len())]))
        .collect();
    Code(code)
}

/// How long the caller must still wait before another code may be sent to `address`. The
/// cooldown keeps a live code from being replaced in a hurry; a code that can no longer be
/// used (expired, retired, locked or used) may be replaced at once, the send cap still
/// counting.
pub fn cooldown_left(
    state: Option<&OtpState>,
    address: &str,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Option<Duration> {
    let state = state
        .filter(|s| s.address == address && s.status == CodeStatus::Active && now < s.expires_at)?;
    let ready_at = state.issued_at + to_delta(policy.resend_cooldown);
    (now < ready_at).then(|| (ready_at - now).to_std().unwrap_or_default())
}

/// Records a code that was just delivered; it replaces any earlier code.
pub fn issue(
    key: &OtpKey,
    session_id: &str,
    address: &str,
    code: &Code,
    policy: &Policy,
    previous: Option<&OtpState>,
    now: DateTime<Utc>,
) -> OtpState {
    OtpState {
        address: address.to_owned(),
        tag: key.tag(session_id, address, code.reveal()),
        length: policy.length,
        alphabet: policy.alphabet,
        issued_at: now,
        expires_at: now + to_delta(policy.ttl),
        attempts: 0,
        max_attempts: policy.max_attempts.max(1),
        status: CodeStatus::Active,
        sends: previous.map_or(1, |p| p.sends.saturating_add(1)),
        previous_tag: previous
            .filter(|p| p.address == address && p.status == CodeStatus::Active)
            .map(|p| p.tag),
    }
}

/// Checks an entered code. Counts the attempt before comparing; consumes the code on success.
pub fn verify(
    key: &OtpKey,
    session_id: &str,
    state: &mut OtpState,
    entered: &str,
    now: DateTime<Utc>,
) -> Verdict {
    match state.status {
        CodeStatus::Used => return Verdict::NoCode,
        CodeStatus::Locked => return Verdict::Locked,
        CodeStatus::Active => {}
    }
    if now >= state.expires_at {
        return Verdict::Expired;
    }
    if state.attempts >= state.max_attempts {
        state.retire(CodeStatus::Locked);
        return Verdict::Locked;
    }
    state.attempts += 1;
    let entered: String = entered
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let candidate = key.tag(session_id, &state.address, &entered);
    if bool::from(candidate.ct_eq(&state.tag)) {
        state.retire(CodeStatus::Used);
        return Verdict::Valid;
    }
    let attempts_left = state.max_attempts - state.attempts;
    if attempts_left == 0 {
        state.retire(CodeStatus::Locked);
        return Verdict::Locked;
    }
    let previous = state
        .previous_tag
        .is_some_and(|tag| bool::from(candidate.ct_eq(&tag)));
    Verdict::Invalid {
        attempts_left,
        previous,
    }
}

fn to_delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

mod hex_tag {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(tag: &[u8; 32], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&crate::hex::encode(tag))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(deserializer)?;
        crate::hex::decode(&text)
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .ok_or_else(|| serde::de::Error::custom("tag must be 64 hex digits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn key() -> OtpKey {
        OtpKey::from_secret(&SecretString::from("0123456789abcdef0123")).unwrap()
    }

    fn issued(code: &str, now: DateTime<Utc>) -> OtpState {
        issue(
            &key(),
            "s1",
            "a@example.com",
            &Code(code.to_owned()),
            &Policy::default(),
            None,
            now,
        )
    }

    #[test]
    fn codes_are_uniform_digits_with_leading_zeros() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut counts = [0_u32; 10];
        let mut leading_zero = false;
        for _ in 0..20_000 {
            let code = generate(&Policy::default(), &mut rng);
            assert_eq!(code.reveal().len(), 4);
            leading_zero |= code.reveal().starts_with('0');
            for c in code.reveal().bytes() {
                counts[usize::from(c - b'0')] += 1;
            }
        }
        assert!(leading_zero);
        // 8,000 expected per digit; a fair generator stays well inside ±5 %.
        assert!(
            counts.iter().all(|&n| (7_600..=8_400).contains(&n)),
            "{counts:?}"
        );
    }

    #[test]
    fn the_right_code_works_once() {
        let now = Utc::now();
        let mut state = issued("0420", now);
        assert_eq!(
            verify(&key(), "s1", &mut state, "04-20", now),
            Verdict::Valid
        );
        assert_eq!(
            verify(&key(), "s1", &mut state, "0420", now),
            Verdict::NoCode
        );
    }

    #[test]
    fn scope_digests_keep_their_parts_apart() {
        let k = key();
        let base = k.scope_digest("c", "login", "a@example.com");
        assert_eq!(base, k.scope_digest("c", "login", "a@example.com"));
        assert_ne!(base, k.scope_digest("", "clogin", "a@example.com"));
        assert_ne!(base, k.scope_digest("c", "signup", "a@example.com"));
        let other =
            OtpKey::from_secret(&SecretString::from("another-secret-of-some-length")).unwrap();
        assert_ne!(base, other.scope_digest("c", "login", "a@example.com"));
    }

    #[test]
    fn the_code_is_bound_to_session_and_key() {
        let now = Utc::now();
        let mut state = issued("0420", now);
        assert_ne!(
            verify(&key(), "s2", &mut state, "0420", now),
            Verdict::Valid
        );
        let other =
            OtpKey::from_secret(&SecretString::from("another-secret-of-some-length")).unwrap();
        let mut state = issued("0420", now);
        assert_ne!(
            verify(&other, "s1", &mut state, "0420", now),
            Verdict::Valid
        );
    }

    #[test]
    fn wrong_codes_count_down_then_lock() {
        let now = Utc::now();
        let mut state = issued("1111", now);
        assert_eq!(
            verify(&key(), "s1", &mut state, "2222", now),
            Verdict::Invalid {
                attempts_left: 2,
                previous: false
            }
        );
        assert_eq!(
            verify(&key(), "s1", &mut state, "3333", now),
            Verdict::Invalid {
                attempts_left: 1,
                previous: false
            }
        );
        assert_eq!(
            verify(&key(), "s1", &mut state, "4444", now),
            Verdict::Locked
        );
        // Even the right code no longer works.
        assert_eq!(
            verify(&key(), "s1", &mut state, "1111", now),
            Verdict::Locked
        );
    }

    #[test]
    fn the_code_of_an_earlier_email_is_wrong_and_recognised() {
        let now = Utc::now();
        let first = issued("1111", now);
        let mut second = issue(
            &key(),
            "s1",
            "a@example.com",
            &Code("2222".to_owned()),
            &Policy::default(),
            Some(&first),
            now,
        );
        assert_eq!(
            verify(&key(), "s1", &mut second, "1111", now),
            Verdict::Invalid {
                attempts_left: 2,
                previous: true
            }
        );
        assert_eq!(
            verify(&key(), "s1", &mut second, "3333", now),
            Verdict::Invalid {
                attempts_left: 1,
                previous: false
            }
        );
        assert_eq!(
            verify(&key(), "s1", &mut second, "2222", now),
            Verdict::Valid
        );
        // A code for another address is not "previous" for this one.
        let other = issue(
            &key(),
            "s1",
            "b@example.com",
            &Code("4444".to_owned()),
            &Policy::default(),
            Some(&first),
            now,
        );
        assert_eq!(other.previous_tag, None);
    }

    #[test]
    fn codes_expire_at_the_stored_instant() {
        let now = Utc::now();
        let mut state = issued("1111", now);
        let just_before = now + TimeDelta::seconds(299);
        let at_expiry = now + TimeDelta::seconds(300);
        assert_eq!(
            verify(&key(), "s1", &mut state.clone(), "1111", just_before),
            Verdict::Valid
        );
        assert_eq!(
            verify(&key(), "s1", &mut state, "1111", at_expiry),
            Verdict::Expired
        );
    }

    #[test]
    fn cooldown_applies_to_the_same_address_only() {
        let now = Utc::now();
        let state = issued("1111", now);
        let policy = Policy::default();
        let later = now + TimeDelta::seconds(10);
        assert_eq!(
            cooldown_left(Some(&state), "a@example.com", &policy, later),
            Some(Duration::from_secs(20))
        );
        assert_eq!(
            cooldown_left(Some(&state), "b@example.com", &policy, later),
            None
        );
        assert_eq!(
            cooldown_left(
                Some(&state),
                "a@example.com",
                &policy,
                now + TimeDelta::seconds(30)
            ),
            None
        );
        // A code that can no longer be used is replaced at once.
        let mut used = state.clone();
        used.status = CodeStatus::Used;
        assert_eq!(
            cooldown_left(Some(&used), "a@example.com", &policy, later),
            None
        );
        let mut retired = state;
        retired.expires_at = later;
        assert_eq!(
            cooldown_left(Some(&retired), "a@example.com", &policy, later),
            None
        );
    }

    #[test]
    fn secrets_never_print() {
        assert_eq!(format!("{:?}", Code("1234".into())), "Code(<redacted>)");
        assert_eq!(format!("{:?}", key()), "OtpKey(<redacted>)");
        let state = issued("1234", Utc::now());
        assert!(!serde_json::to_string(&state).unwrap().contains("1234"));
    }

    #[test]
    fn alphanumeric_codes_avoid_lookalikes() {
        assert_eq!(Alphabet::Alphanumeric.symbols().len(), 32);
        let mut rng = StdRng::seed_from_u64(1);
        let policy = Policy {
            alphabet: Alphabet::Alphanumeric,
            ..Policy::default()
        };
        for _ in 0..1000 {
            let code = generate(&policy, &mut rng);
            assert!(
                !code.reveal().contains(['0', 'O', '1', 'I']),
                "{:?}",
                code.reveal()
            );
        }
    }
}
