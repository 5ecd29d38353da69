//! Getting one copy of a code (or any message) out: the recipient's send cap, the toll-fraud
//! guard for texts, the sender within its timeout, one log line and the metrics, and the cap
//! given back when nothing went out. `otp.send`, `email.send` and the OTP API (`codes/`)
//! all deliver through here, so no path sends unchecked.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::address::{EmailAddr, PhoneAddr};
use crate::dialog::locale::{LocaleIdx, Translations};
use crate::dialog::model::EmailTemplate;
use crate::dialog::template::{Escape, Template};
use crate::dialog::value::Value;
use crate::dialog::{Dialog, Session};
use crate::email::{EmailMessage, ProviderTemplate};
use crate::engine::codes::{SmsText, Undelivered};
use crate::otp::{self, Code};
use crate::sms::{Blocked, SmsMessage};
use crate::store::StoreError;

use super::super::Engine;
use super::send_key;

/// Used when `otp.send` names no template, and by the OTP API.
pub(crate) static DEFAULT_TEMPLATE: LazyLock<EmailTemplate> = LazyLock::new(|| {
    EmailTemplate {
    subject: Template::literal("Your verification code"),
    text: Template::compile("Your verification code is {{ code }}. It expires in {{ expires_in_minutes }} minutes.\n\nIf you didn't ask for it, you can ignore this email.")
        .unwrap_or_else(|_| Template::literal("")),
    html: None,
    provider_template_id: None,
}
});

/// Where a code goes, and in what.
#[derive(Clone, Copy)]
pub(crate) enum Outgoing<'a> {
    Email(&'a EmailAddr, Email<'a>),
    Sms(&'a PhoneAddr, SmsText<'a>),
}

impl Outgoing<'_> {
    /// The key of the recipient's send cap.
    pub(crate) fn send_key(&self) -> String {
        send_key(&self.limit_key())
    }

    fn limit_key(&self) -> String {
        match self {
            Outgoing::Email(addr, _) => addr.limit_key(),
            Outgoing::Sms(number, _) => number.limit_key(),
        }
    }

    fn masked(&self) -> String {
        match self {
            Outgoing::Email(addr, _) => addr.masked(),
            Outgoing::Sms(number, _) => number.masked(),
        }
    }
}

/// The built-in text that carries a code: short enough for one SMS segment, and saying what
/// it is for and that it expires, so a forwarded or unexpected code is recognisable.
fn standard_sms(code: &Code, minutes: f64) -> String {
    let mut minutes_text = String::new();
    Value::Number(minutes).write_to(&mut minutes_text);
    format!(
        "Your verification code is {}. It expires in {minutes_text} minutes. Don't share it with anyone.",
        code.reveal()
    )
}

/// The text of one SMS carrying `code`.
fn sms_text(text: SmsText<'_>, code: &Code, minutes: f64) -> String {
    match text {
        SmsText::Standard => standard_sms(code, minutes),
        SmsText::Template(template) => template.render(Escape::None, |name, out| {
            match name {
                "code" | "validation_code" => out.push_str(code.reveal()),
                "expires_in_minutes" => Value::Number(minutes).write_to(out),
                _ => return false,
            }
            true
        }),
        SmsText::Printf(format) => printf(format, code.reveal()),
    }
}

/// A printf-style message (`"Your OTP is %s."`): the first `%s` is the code, `%%` is `%`.
pub(crate) fn printf(format: &str, code: &str) -> String {
    let mut out = String::with_capacity(format.len() + code.len());
    let mut rest = format;
    let mut placed = false;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(next) = after.strip_prefix('%') {
            out.push('%');
            rest = next;
        } else if let Some(next) = after.strip_prefix('s').filter(|_| !placed) {
            out.push_str(code);
            placed = true;
            rest = next;
        } else {
            out.push('%');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// An email template, and the translation of it the session's locale picks.
#[derive(Clone, Copy)]
pub(crate) struct Email<'a> {
    pub template: &'a EmailTemplate,
    pub translation: Option<(&'a Translations, LocaleIdx)>,
}

impl<'a> Email<'a> {
    /// The template in the session's language, where the dialog translates it.
    pub(crate) fn in_language_of(
        template: &'a EmailTemplate,
        dialog: &'a Dialog,
        session: &Session,
    ) -> Self {
        Self {
            template,
            translation: dialog
                .translations
                .pick(session.locale.as_deref())
                .map(|locale| (&dialog.translations, locale)),
        }
    }

    /// The template as written (no translation): the OTP API's emails.
    pub(crate) fn plain(template: &'a EmailTemplate) -> Self {
        Self {
            template,
            translation: None,
        }
    }
}

/// A code to send: where and how (`out`), the code and its policy, for the session or record
/// that holds it, at `now`.
#[derive(Clone, Copy)]
pub(crate) struct CodeMessage<'a> {
    pub out: Outgoing<'a>,
    pub code: &'a Code,
    pub policy: &'a otp::Policy,
    pub session: &'a Session,
    pub now: DateTime<Utc>,
}

/// Send cap (this recipient, every session and the OTP API) → email or text (a text through
/// the toll-fraud guard first), giving the cap back when the message does not go out.
pub(crate) async fn deliver_code(
    engine: &Engine,
    message: CodeMessage<'_>,
) -> Result<Result<(), Undelivered>, StoreError> {
    let out = message.out;
    let key = out.send_key();
    // A send limit that cannot be checked ends the request unsaved (503): nothing goes out
    // unchecked, and a retry finds the state as it was.
    let permit = match engine.counters.acquire(&key, engine.otp.send_limit).await? {
        Ok(permit) => permit,
        Err(retry_after) => {
            log_limited(out);
            return Ok(Err(Undelivered::Limited(retry_after)));
        }
    };
    deliver_charged(engine, message, (&key, permit)).await
}

/// Logs a send the recipient's cap refused.
pub(crate) fn log_limited(out: Outgoing<'_>) {
    tracing::info!(to = %out.masked(), "otp.send: send limit for this recipient reached");
}

/// Email or text, once charged to the recipient's send cap (`charged`: the cap's key and
/// the permit), giving the permit back when the message does not go out.
pub(crate) async fn deliver_charged(
    engine: &Engine,
    CodeMessage {
        out,
        code,
        policy,
        session,
        now,
    }: CodeMessage<'_>,
    (key, permit): (&str, crate::store::Permit),
) -> Result<Result<(), Undelivered>, StoreError> {
    let minutes = ceil_minutes(policy.ttl);
    let action = crate::dialog::actions::otp_send::NAME;
    let sent = match out {
        Outgoing::Email(to, email) => {
            let message = compose(email, to, Some((code, minutes)), session, now);
            if email_out(engine, to, &message, action).await {
                Ok(())
            } else {
                Err(Undelivered::Failed)
            }
        }
        Outgoing::Sms(to, text) => {
            let message = SmsMessage {
                to: to.clone(),
                body: sms_text(text, code, minutes),
            };
            sms_out(engine, &message, action).await?
        }
    };
    if sent.is_err() {
        refund(engine, key, permit, action).await;
    }
    Ok(sent)
}

/// Hands one text to the SMS sender within `sms.send_timeout`, after the toll-fraud guard
/// (`sms.guard`), counting and logging it (the number masked, never the body). A text the
/// guard stops is counted in `colloquy_sms_blocked_total{reason}` and logged with its reason;
/// one that does not go out is given back to the guard's caps.
pub(crate) async fn sms_out(
    engine: &Engine,
    message: &SmsMessage,
    action: &'static str,
) -> Result<Result<(), Undelivered>, StoreError> {
    let to = message.to.masked();
    let admission = match engine
        .sms_guard
        .admit(engine.counters.as_ref(), &message.to)
        .await?
    {
        Ok(admission) => admission,
        Err(blocked @ Blocked { reason, .. }) => {
            engine
                .metrics
                .sms_blocked
                .inc(&[("reason", reason.label())]);
            tracing::warn!(
                to,
                reason = reason.label(),
                action,
                "sms blocked by the toll-fraud guard"
            );
            return Ok(Err(Undelivered::Blocked(blocked)));
        }
    };
    let started = Instant::now();
    let sent = tokio::time::timeout(engine.settings.sms_timeout, engine.sms.send(message)).await;
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let sender = engine.sms.name();
    let (outcome, error, retryable) = match sent {
        Ok(Ok(delivery)) => {
            engine
                .metrics
                .sms
                .inc(&[("sender", sender), ("outcome", "sent")]);
            tracing::info!(
                to,
                sender,
                provider_message_id = delivery.provider_message_id.as_deref().unwrap_or(""),
                elapsed_ms,
                action,
                "sms sent"
            );
            return Ok(Ok(()));
        }
        Ok(Err(error)) => (error.label(), error.to_string(), error.is_retryable()),
        Err(_elapsed) => ("timeout", "timed out".to_owned(), true),
    };
    engine
        .sms_guard
        .release(engine.counters.as_ref(), admission)
        .await;
    engine
        .metrics
        .sms
        .inc(&[("sender", sender), ("outcome", outcome)]);
    tracing::warn!(
        to,
        sender,
        outcome,
        error,
        retryable,
        elapsed_ms,
        action,
        "sms not sent"
    );
    Ok(Err(Undelivered::Failed))
}

/// Hands one email to the sender within `email.send_timeout`, counting and logging it (the
/// address masked, never the body). Whether the provider accepted it.
pub(super) async fn email_out(
    engine: &Engine,
    to: &EmailAddr,
    message: &EmailMessage,
    action: &'static str,
) -> bool {
    let started = Instant::now();
    let sent = tokio::time::timeout(engine.settings.send_timeout, engine.email.send(message)).await;
    let elapsed = started.elapsed();
    engine.metrics.email_latency.observe(elapsed);
    let delivered = matches!(sent, Ok(Ok(_)));
    engine.metrics.emails.inc(&[
        ("sender", engine.email.name()),
        ("outcome", if delivered { "sent" } else { "failed" }),
    ]);
    let elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    let sender = engine.email.name();
    let (error, retryable) = match sent {
        Ok(Ok(delivery)) => {
            tracing::info!(
                to = %to.masked(),
                sender,
                provider_message_id = delivery.provider_message_id.as_deref().unwrap_or(""),
                elapsed_ms,
                action,
                "email sent"
            );
            return true;
        }
        Ok(Err(error)) => (error.to_string(), error.is_retryable()),
        Err(_elapsed) => ("timed out".to_owned(), true),
    };
    tracing::warn!(to = %to.masked(), sender, error, retryable, elapsed_ms, action, "email not sent");
    false
}

/// A send that did not reach the user does not count against the address's cap: a provider
/// outage must not lock people out. Retries stay bounded by the dialog and the cooldown.
pub(super) async fn refund(
    engine: &Engine,
    key: &str,
    permit: crate::store::Permit,
    action: &'static str,
) {
    if let Err(error) = engine.counters.refund(key, permit).await {
        tracing::warn!(%error, action, "could not refund the send counter");
    }
}

pub(crate) fn ceil_minutes(duration: Duration) -> f64 {
    (duration.as_secs_f64() / 60.0).ceil()
}

/// `5`, not `5.0`: provider templates print numbers as JSON has them.
fn whole_number(value: f64) -> serde_json::Value {
    // A whole, small, non-negative number of minutes: the cast is exact.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let whole = value.max(0.0).round() as u64;
    whole.into()
}

/// Renders the email. `email` is the template's own variable, and with a code (`otp.send`)
/// `code` and `expires_in_minutes` too; the rest come from the session (never a sensitive
/// value).
pub(super) fn compose(
    email: Email<'_>,
    to: &EmailAddr,
    code: Option<(&Code, f64)>,
    session: &Session,
    now: DateTime<Utc>,
) -> EmailMessage {
    let template = email.template;
    // A translated part, rendered by Fluent with the email's own variables too.
    let translated = |part: &Template| -> Option<String> {
        let (translations, locale) = email.translation?;
        let mut extra = vec![("email", Value::Text(to.as_str().to_owned()))];
        if let Some((code, minutes)) = code {
            extra.push(("code", Value::Text(code.reveal().to_owned())));
            extra.push(("expires_in_minutes", Value::Number(minutes)));
        }
        translations.render(locale, part.id()?, &session.context, now, &extra)
    };
    let lookup = |name: &str, out: &mut String| {
        match (name, code) {
            // `validation_code` is Capillary's name for it (request templates of that API).
            ("code" | "validation_code", Some((code, _))) => out.push_str(code.reveal()),
            ("email", _) => out.push_str(to.as_str()),
            ("expires_in_minutes", Some((_, minutes))) => Value::Number(minutes).write_to(out),
            _ => match session.context.get(name, now) {
                Some(value) => value.write_to(out),
                None => return false,
            },
        }
        true
    };
    // Always built: a provider may have a default template even when the dialog names none.
    let provider_template = {
        let mut data = serde_json::Map::new();
        for (name, slot) in session.context.iter().filter(|(_, slot)| !slot.sensitive) {
            let mut text = String::new();
            slot.value.write_to(&mut text);
            data.insert(name.to_owned(), serde_json::Value::String(text));
        }
        data.insert("email".into(), to.as_str().into());
        if let Some((code, minutes)) = code {
            data.insert("code".into(), code.reveal().into());
            data.insert("expires_in_minutes".into(), whole_number(minutes));
        }
        Some(ProviderTemplate {
            id: template.provider_template_id.clone(),
            data,
        })
    };
    EmailMessage {
        to: to.clone(),
        subject: translated(&template.subject)
            .unwrap_or_else(|| template.subject.render(Escape::None, lookup)),
        text: translated(&template.text)
            .unwrap_or_else(|| template.text.render(Escape::None, lookup)),
        // A translated HTML part is the translator's markup, with values as Fluent renders
        // them: keep the YAML's (escaped) HTML unless the file translates it.
        html: template
            .html
            .as_ref()
            .map(|html| translated(html).unwrap_or_else(|| html.render(Escape::Html, lookup))),
        provider_template,
    }
}
