//! One-time codes without a dialog, for the OTP API and the seed-shaped routes: issue a code
//! for a scope and send it on one or more channels, check an entered code, look a code up by
//! its id.
//!
//! The codes of one scope — (client, purpose, recipient) — live in one record of the session
//! store, under the id `otp/` + a keyed digest of the scope (`OtpKey::scope_digest`). So they
//! get what sessions get: compare-and-set saves, the idle TTL, Redis across instances. The
//! prefix uses `/`, which no webhook or Kore session id can contain, and the session routes
//! refuse it, so a conversation can never open or overwrite a code's record. A code's id is
//! a random UUID found through an index record (`ids.rs`).
//!
//! Every operation runs under the record's lock and lease, like a turn: sends to one scope
//! and guesses at one code are applied one at a time, within and across instances, and each
//! is saved with compare-and-set. The same policy, send cap, toll-fraud guard, failure budget
//! and delivery path as the dialog actions apply (`actions::deliver`, `actions::check`).

mod ids;

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::address::{EmailAddr, PhoneAddr, Recipient};
use crate::dialog::Session;
use crate::dialog::model::EmailTemplate;
use crate::dialog::template::Template;
use crate::dialog::value::{Slot, Value};
use crate::otp::{self, CodeStatus, Verdict};
use crate::sms::Blocked;

use super::actions::{
    CodeMessage, DEFAULT_TEMPLATE, Email, Outgoing, check, deliver_code, policy_for,
};
use super::{Engine, EngineError};

/// The id prefix of code records (and of the index records of their ids). Session ids from
/// clients never contain `/`.
pub const RECORD_PREFIX: &str = "otp/";

/// The dialog id code records carry (they run no dialog).
const RECORD_KIND: &str = "otp";

/// The context variable holding the id of the record's current code.
const OTP_ID: &str = "otp_id";

/// Hex digits of the scope digest in a record id.
const SCOPE_HEX: usize = 32;

/// Whose codes: a client (none when authentication is off), a purpose, a recipient.
#[derive(Debug, Clone)]
pub struct CodeScope {
    pub client: Option<String>,
    pub purpose: String,
    /// Whose code it is: the address or number it is checked against.
    pub recipient: Recipient,
}

/// The words of a text that carries a code.
#[derive(Debug, Clone, Copy)]
pub enum SmsText<'a> {
    /// The built-in text ("Your verification code is 4821. It expires in 5 minutes. …").
    Standard,
    /// A template with `{{ code }}` (or Capillary's `{{ validation_code }}`) and
    /// `{{ expires_in_minutes }}`.
    Template(&'a Template),
    /// A printf-style message whose first `%s` is the code (DIGIT's localisation messages).
    Printf(&'a str),
}

/// Where one copy of a code goes, and in what words.
#[derive(Debug, Clone)]
pub enum Destination<'a> {
    /// An email; without a template, the built-in one (`otp.send`'s default).
    Email {
        to: EmailAddr,
        template: Option<&'a EmailTemplate>,
    },
    Sms {
        to: PhoneAddr,
        text: SmsText<'a>,
    },
}

/// Why one copy of a code did not go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undelivered {
    /// The recipient's send cap (`otp.max_sends_per_address`) is reached.
    Limited(Duration),
    /// The toll-fraud guard stopped the text (`sms.guard`).
    Blocked(Blocked),
    /// The provider did not take it.
    Failed,
}

/// A code was sent on at least one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// Names this code (a random UUID): `_search`-style look-ups use it.
    pub otp_id: String,
    pub expires_at: DateTime<Utc>,
    /// When another code may be sent to this scope.
    pub resend_after: DateTime<Utc>,
    /// An earlier code of this scope, still usable until now, was replaced.
    pub replaced_live_code: bool,
    /// The destinations (by their index in the request) the code did not reach, and why.
    pub undelivered: Vec<(usize, Undelivered)>,
}

/// Why no code was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotIssued {
    /// A code went to this scope less than `otp.resend_cooldown` ago.
    Cooldown(Duration),
    /// The recipient's send cap (`otp.max_sends_per_address`) is reached.
    Limited(Duration),
    /// The toll-fraud guard stopped the text.
    Blocked(Blocked),
    /// The message did not go out; nothing was stored or counted.
    DeliveryFailed,
}

impl From<Undelivered> for NotIssued {
    fn from(undelivered: Undelivered) -> Self {
        match undelivered {
            Undelivered::Limited(wait) => NotIssued::Limited(wait),
            Undelivered::Blocked(blocked) => NotIssued::Blocked(blocked),
            Undelivered::Failed => NotIssued::DeliveryFailed,
        }
    }
}

/// What checking an entered code found, and which code it was checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeCheck {
    pub checked: Verdict,
    /// The id of the scope's current code, when there is one.
    pub otp_id: Option<String>,
}

/// Where a code named by its id stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeView {
    /// The purpose it was issued for.
    pub purpose: String,
    /// The identity as the caller wrote it when the code was issued.
    pub identity: String,
    pub status: CodeStatus,
    pub expires_at: DateTime<Utc>,
}

impl Engine {
    /// Sends a new code for `scope` to every destination at once, replacing any earlier
    /// code; `identity` is the recipient as the caller wrote it (look-ups echo it). The code
    /// is kept when at least one copy went out.
    pub async fn issue_code(
        &self,
        scope: &CodeScope,
        destinations: &[Destination<'_>],
        identity: Option<&str>,
    ) -> Result<Result<Issued, NotIssued>, EngineError> {
        let id = self.record_id(scope);
        let result = self
            .exclusive(&id, self.issue_held(&id, scope, destinations, identity))
            .await;
        let outcome = match &result {
            Ok(Ok(_)) => "sent",
            Ok(Err(NotIssued::Cooldown(_))) => "cooldown",
            Ok(Err(NotIssued::Limited(_))) => "limited",
            Ok(Err(NotIssued::Blocked(_))) => "blocked",
            Ok(Err(NotIssued::DeliveryFailed)) => "failed",
            Err(_) => "error",
        };
        self.metrics.otp_sends.inc(&[("outcome", outcome)]);
        result
    }

    /// Checks `entered` against the current code of `scope`. Every comparison is counted
    /// (and saved) before the answer; a right code is consumed.
    pub async fn check_code(
        &self,
        scope: &CodeScope,
        entered: &str,
    ) -> Result<CodeCheck, EngineError> {
        let id = self.record_id(scope);
        let result = self.exclusive(&id, self.check_held(&id, entered)).await;
        let outcome = match result.as_ref().map(|c| c.checked) {
            Ok(Verdict::Valid) => "valid",
            Ok(Verdict::Invalid { .. }) => "invalid",
            Ok(Verdict::Expired) => "expired",
            Ok(Verdict::Locked) => "locked",
            Ok(Verdict::NoCode) => "no_code",
            Err(_) => "error",
        };
        self.metrics.otp_verifications.inc(&[("outcome", outcome)]);
        result
    }

    /// The current code an `otp_id` names, if it was issued to `client` and its record still
    /// exists. `None` also for an id that is not one, or a code a newer one replaced.
    pub async fn code(
        &self,
        otp_id: &str,
        client: Option<&str>,
    ) -> Result<Option<CodeView>, EngineError> {
        if !ids::is_uuid(otp_id) {
            return Ok(None);
        }
        let now = self.clock.now();
        let index_id = ids::index_id(&self.otp.key, client, otp_id);
        let Some(entry) = self
            .store
            .load(&index_id)
            .await?
            .and_then(|index| ids::read_index(&index, now))
        else {
            return Ok(None);
        };
        let Some(record) = self.store.load(&entry.record).await? else {
            return Ok(None);
        };
        let current = matches!(
            record.context.get(OTP_ID, now),
            Some(Value::Text(current)) if current.eq_ignore_ascii_case(otp_id)
        );
        let Some(state) = record.otp.as_ref().filter(|_| current) else {
            return Ok(None);
        };
        Ok(Some(CodeView {
            purpose: entry.purpose,
            identity: entry.identity,
            status: state.status,
            expires_at: state.expires_at,
        }))
    }

    /// The record id of `scope`.
    fn record_id(&self, scope: &CodeScope) -> String {
        let digest = self.otp.key.scope_digest(
            scope.client.as_deref().unwrap_or(""),
            &scope.purpose,
            &scope.recipient.limit_key(),
        );
        let hex = crate::hex::encode(&digest[..SCOPE_HEX / 2]);
        format!("{RECORD_PREFIX}{hex}")
    }

    /// Runs `work` holding the record's lock and lease, as a turn holds its session's.
    async fn exclusive<T>(
        &self,
        id: &str,
        work: impl Future<Output = Result<T, EngineError>>,
    ) -> Result<T, EngineError> {
        let arrived = Instant::now();
        let _lock = self.locks.lock(id).await.map_err(|busy| {
            tracing::warn!(?busy, "otp: code record busy, request refused");
            EngineError::SessionBusy
        })?;
        let lease = self.take_lease(id, arrived).await?;
        let result = work.await;
        self.lease.release(lease).await;
        result
    }

    async fn issue_held(
        &self,
        id: &str,
        scope: &CodeScope,
        destinations: &[Destination<'_>],
        identity: Option<&str>,
    ) -> Result<Result<Issued, NotIssued>, EngineError> {
        let now = self.clock.now();
        let recipient = scope.recipient.limit_key();
        let policy = policy_for(self, &self.otp.policy, &recipient).await?;
        let mut record = match self.store.load(id).await? {
            Some(record) => record,
            None => Session::new(id, RECORD_KIND, 0, now),
        };
        if let Some(wait) = otp::cooldown_left(record.otp.as_ref(), &recipient, &policy, now) {
            return Ok(Err(NotIssued::Cooldown(wait)));
        }
        // Generated in a block: the thread-local generator must not live across an await.
        let code = { otp::generate(&policy, &mut rand::rng()) };
        // Every channel at once (Capillary sends them "simultaneously"), each within its
        // sender's timeout, all well inside the code's lifetime.
        let sends = destinations.iter().map(|destination| {
            let out = match destination {
                Destination::Email { to, template } => {
                    Outgoing::Email(to, Email::plain(template.unwrap_or(&DEFAULT_TEMPLATE)))
                }
                Destination::Sms { to, text } => Outgoing::Sms(to, *text),
            };
            let message = CodeMessage {
                out,
                code: &code,
                policy: &policy,
                session: &record,
                now,
            };
            deliver_code(self, message)
        });
        let mut undelivered = Vec::new();
        for (index, sent) in futures_util::future::join_all(sends)
            .await
            .into_iter()
            .enumerate()
        {
            if let Err(why) = sent? {
                undelivered.push((index, why));
            }
        }
        if undelivered.len() == destinations.len() {
            return Ok(Err(undelivered
                .first()
                .map_or(NotIssued::DeliveryFailed, |(_, why)| (*why).into())));
        }
        let replaced_live_code = record
            .otp
            .as_ref()
            .is_some_and(|s| s.status == CodeStatus::Active && now < s.expires_at);
        let state = otp::issue(
            &self.otp.key,
            id,
            &recipient,
            &code,
            &policy,
            record.otp.as_ref(),
            now,
        );
        let issued = Issued {
            otp_id: ids::new_id(),
            expires_at: state.expires_at,
            resend_after: now
                + chrono::TimeDelta::from_std(policy.resend_cooldown).unwrap_or_default(),
            replaced_live_code,
            undelivered,
        };
        record.otp = Some(state);
        // Sensitive: kept out of the values a provider-side template receives.
        record.context.set_slot(
            OTP_ID,
            Slot {
                value: Value::Text(issued.otp_id.clone()),
                sensitive: true,
                given: false,
                expires_at: None,
            },
        );
        record.updated_at = now;
        let index_id = ids::index_id(&self.otp.key, scope.client.as_deref(), &issued.otp_id);
        let mut index = ids::index_record(
            &index_id,
            &ids::Entry {
                record: id.to_owned(),
                purpose: scope.purpose.clone(),
                identity: identity.unwrap_or(scope.recipient.as_str()).to_owned(),
            },
            now,
        );
        self.store.save(&mut index, None).await?;
        self.store.save(&mut record, None).await?;
        Ok(Ok(issued))
    }

    async fn check_held(&self, id: &str, entered: &str) -> Result<CodeCheck, EngineError> {
        let now = self.clock.now();
        let Some(mut record) = self.store.load(id).await? else {
            return Ok(CodeCheck {
                checked: Verdict::NoCode,
                otp_id: None,
            });
        };
        let before = record.otp.clone();
        let mut refunds = Vec::new();
        let checked = check(self, id, record.otp.as_mut(), entered, now, &mut refunds).await;
        let saved = match checked {
            Ok(_) if record.otp != before => {
                record.updated_at = now;
                self.store.save(&mut record, None).await
            }
            _ => Ok(()),
        };
        self.counters.give_back(&refunds).await;
        saved?;
        let checked = checked?.verdict;
        let otp_id = match record.context.get(OTP_ID, now) {
            Some(Value::Text(otp_id)) => Some(otp_id.clone()),
            _ => None,
        };
        Ok(CodeCheck { checked, otp_id })
    }
}

/// Whether `id` names a code record (the session routes refuse those).
pub fn is_code_record(id: &str) -> bool {
    id.starts_with(RECORD_PREFIX)
}
