//! One-time codes without a dialog, for the OTP API: issue a code to an address for a
//! purpose, check an entered code, look a code up by its id.
//!
//! The codes of one scope — (client, purpose, address) — live in one record of the session
//! store, under the id `otp/` + a keyed digest of the scope (`OtpKey::scope_digest`). So they
//! get what sessions get: compare-and-set saves, the idle TTL, Redis across instances. The
//! prefix uses `/`, which no webhook or Kore session id can contain, and the session routes
//! refuse it, so a conversation can never open or overwrite a code's record.
//!
//! Every operation runs under the record's lock and lease, like a turn: sends to one scope
//! and guesses at one code are applied one at a time, within and across instances, and each
//! is saved with compare-and-set. The same policy, send cap, failure budget and email path as
//! the dialog actions apply (`actions::otp_send::deliver`, `actions::otp_verify::check`).

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::address::EmailAddr;
use crate::dialog::Session;
use crate::dialog::model::EmailTemplate;
use crate::dialog::value::{Slot, Value};
use crate::otp::{self, CodeStatus, Verdict};

use super::actions::{DEFAULT_TEMPLATE, Delivered, Email, Outgoing, check, deliver};
use super::{Engine, EngineError};

/// The id prefix of code records. Session ids from clients never contain `/`.
pub const RECORD_PREFIX: &str = "otp/";

/// The dialog id code records carry (they run no dialog).
const RECORD_KIND: &str = "otp";

/// The context variable holding the id of the record's current code.
const OTP_ID: &str = "otp_id";

/// Hex digits of the scope digest in a record id and at the start of an `otp_id`.
const SCOPE_HEX: usize = 32;

/// Whose codes: a client (none when authentication is off), a purpose, an address.
#[derive(Debug, Clone)]
pub struct CodeScope {
    pub client: Option<String>,
    pub purpose: String,
    pub address: EmailAddr,
}

/// A code was emailed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// Names this code (not the scope): `_search`-style look-ups use it.
    pub otp_id: String,
    pub expires_at: DateTime<Utc>,
    /// When another code may be sent to this scope.
    pub resend_after: DateTime<Utc>,
    /// An earlier code of this scope, still usable until now, was replaced.
    pub replaced_live_code: bool,
}

/// Why no code was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotIssued {
    /// A code went to this scope less than `otp.resend_cooldown` ago.
    Cooldown(Duration),
    /// The address's send cap (`otp.max_sends_per_address`) is reached.
    Limited(Duration),
    /// The email did not go out; nothing was stored or counted.
    DeliveryFailed,
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
    /// The address it was sent to, lower-cased.
    pub address: String,
    pub status: CodeStatus,
    pub expires_at: DateTime<Utc>,
    /// Still the scope's current code (a newer one replaces it).
    pub current: bool,
}

impl Engine {
    /// Emails a new code for `scope`, replacing any earlier one. `template` overrides the
    /// built-in email (the one `otp.send` uses when a dialog names none).
    pub async fn issue_code(
        &self,
        scope: &CodeScope,
        template: Option<&EmailTemplate>,
    ) -> Result<Result<Issued, NotIssued>, EngineError> {
        let (id, digest) = self.record_id(scope);
        let result = self
            .exclusive(&id, self.issue_held(&id, &digest, scope, template))
            .await;
        let outcome = match &result {
            Ok(Ok(_)) => "sent",
            Ok(Err(NotIssued::Cooldown(_))) => "cooldown",
            Ok(Err(NotIssued::Limited(_))) => "limited",
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
        let (id, _) = self.record_id(scope);
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

    /// The code an `otp_id` names, if it was issued to `client` for `purpose` and its record
    /// still exists. `None` also for an id that is not one.
    pub async fn code(
        &self,
        otp_id: &str,
        client: Option<&str>,
        purpose: &str,
    ) -> Result<Option<CodeView>, EngineError> {
        let Some(digest) = otp_id.get(..SCOPE_HEX).filter(|s| is_lower_hex(s)) else {
            return Ok(None);
        };
        let id = format!("{RECORD_PREFIX}{digest}");
        let Some(record) = self.store.load(&id).await? else {
            return Ok(None);
        };
        let Some(state) = record.otp.as_ref() else {
            return Ok(None);
        };
        // The digest names (client, purpose, address): another client's or purpose's id
        // finds nothing.
        let Ok(address) = EmailAddr::parse(&state.address) else {
            return Ok(None);
        };
        let scope = CodeScope {
            client: client.map(str::to_owned),
            purpose: purpose.to_owned(),
            address,
        };
        if self.record_id(&scope).0 != id {
            return Ok(None);
        }
        let current = matches!(
            record.context.get(OTP_ID, self.clock.now()),
            Some(Value::Text(current)) if current == otp_id
        );
        Ok(Some(CodeView {
            address: state.address.clone(),
            status: state.status,
            expires_at: state.expires_at,
            current,
        }))
    }

    /// The record id of `scope` and the digest it is made of.
    fn record_id(&self, scope: &CodeScope) -> (String, String) {
        let digest = self.otp.key.scope_digest(
            scope.client.as_deref().unwrap_or(""),
            &scope.purpose,
            &scope.address.limit_key(),
        );
        let hex = crate::hex::encode(&digest[..SCOPE_HEX / 2]);
        (format!("{RECORD_PREFIX}{hex}"), hex)
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
        digest: &str,
        scope: &CodeScope,
        template: Option<&EmailTemplate>,
    ) -> Result<Result<Issued, NotIssued>, EngineError> {
        let now = self.clock.now();
        let policy = self.otp.policy;
        let address = scope.address.limit_key();
        let mut record = match self.store.load(id).await? {
            Some(record) => record,
            None => Session::new(id, RECORD_KIND, 0, now),
        };
        if let Some(wait) = otp::cooldown_left(record.otp.as_ref(), &address, &policy, now) {
            return Ok(Err(NotIssued::Cooldown(wait)));
        }
        let template = template.unwrap_or(&DEFAULT_TEMPLATE);
        let code = match deliver(
            self,
            Outgoing::Email(&scope.address, Email::plain(template)),
            &policy,
            &record,
            now,
        )
        .await?
        {
            Delivered::Sent(code) => code,
            Delivered::Limited(wait) => return Ok(Err(NotIssued::Limited(wait))),
            Delivered::Failed => return Ok(Err(NotIssued::DeliveryFailed)),
        };
        let replaced_live_code = record
            .otp
            .as_ref()
            .is_some_and(|s| s.status == CodeStatus::Active && now < s.expires_at);
        let state = otp::issue(
            &self.otp.key,
            id,
            &address,
            &code,
            &policy,
            record.otp.as_ref(),
            now,
        );
        let issued = Issued {
            otp_id: format!("{digest}{}", nonce()),
            expires_at: state.expires_at,
            resend_after: now
                + chrono::TimeDelta::from_std(policy.resend_cooldown).unwrap_or_default(),
            replaced_live_code,
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
        let (checked, _) = check(self, id, record.otp.as_mut(), entered, now).await?;
        if record.otp != before {
            record.updated_at = now;
            self.store.save(&mut record, None).await?;
        }
        let otp_id = match record.context.get(OTP_ID, now) {
            Some(Value::Text(otp_id)) => Some(otp_id.clone()),
            _ => None,
        };
        Ok(CodeCheck { checked, otp_id })
    }
}

/// 64 random bits, hex: what tells two codes of one scope apart.
fn nonce() -> String {
    let bytes: [u8; 8] = rand::random();
    crate::hex::encode(&bytes)
}

fn is_lower_hex(text: &str) -> bool {
    text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether `id` names a code record (the session routes refuse those).
pub fn is_code_record(id: &str) -> bool {
    id.starts_with(RECORD_PREFIX)
}
