//! `otp.send`: cooldown (this session) → send cap (this recipient, all sessions) → generate →
//! email or text → keep the MAC. The code exists in memory only between generation and the
//! message.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::address::{EmailAddr, PhoneAddr, Recipient};
use crate::dialog::actions::otp_send::{Call, Channel};
use crate::dialog::locale::{LocaleIdx, Translations};
use crate::dialog::model::EmailTemplate;
use crate::dialog::template::{Escape, Template};
use crate::dialog::value::Value;
use crate::dialog::{Dialog, Outcome, Session};
use crate::email::{EmailMessage, ProviderTemplate};
use crate::otp::{self, Code};
use crate::sms::SmsMessage;
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

pub(super) async fn run(
    engine: &Engine,
    dialog: &Dialog,
    session: &mut Session,
    call: Call,
    now: DateTime<Utc>,
) -> Result<Outcome, StoreError> {
    let outcome = send(engine, dialog, session, call, now).await?;
    engine.metrics.otp_sends.inc(&[("outcome", outcome.name)]);
    Ok(outcome)
}

async fn send(
    engine: &Engine,
    dialog: &Dialog,
    session: &mut Session,
    call: Call,
    now: DateTime<Utc>,
) -> Result<Outcome, StoreError> {
    let policy = call.overrides.apply(&engine.otp.policy);
    let minutes = ceil_minutes(policy.ttl);
    let outcome = |name| {
        Outcome::new(name)
            .with("otp.length", Value::Number(f64::from(policy.length)))
            .with("otp.expires_in_minutes", Value::Number(minutes))
    };
    let to = match call.channel {
        Channel::Email => EmailAddr::parse(&call.to).map(Recipient::Email).ok(),
        Channel::Sms => PhoneAddr::parse(&call.to, engine.settings.place.region)
            .map(Recipient::Phone)
            .ok(),
    };
    let Some(to) = to else {
        tracing::warn!(node = %session.node, channel = ?call.channel, "otp.send: the rendered `to` is not a valid recipient for the channel");
        return Ok(outcome("failed"));
    };
    if let Some(wait) = otp::cooldown_left(session.otp.as_ref(), to.as_str(), &policy, now) {
        return Ok(outcome("cooldown").with(
            "otp.retry_after_seconds",
            Value::Number(wait.as_secs_f64().ceil()),
        ));
    }
    let out = match &to {
        Recipient::Email(addr) => {
            let template = call
                .template
                .as_deref()
                .and_then(|name| dialog.templates.get(name))
                .unwrap_or(&DEFAULT_TEMPLATE);
            Outgoing::Email(addr, Email::in_language_of(template, dialog, session))
        }
        Recipient::Phone(number) => Outgoing::Sms(number),
    };
    match deliver(engine, out, &policy, session, now).await? {
        Delivered::Sent(code) => {
            session.otp = Some(otp::issue(
                &engine.otp.key,
                &session.id,
                to.as_str(),
                &code,
                &policy,
                session.otp.as_ref(),
                now,
            ));
            Ok(outcome("sent"))
        }
        Delivered::Limited(retry_after) => Ok(outcome("limited").with(
            "otp.retry_after_minutes",
            Value::Number(ceil_minutes(retry_after)),
        )),
        Delivered::Failed => Ok(outcome("failed")),
    }
}

/// What [`deliver`] did.
pub(crate) enum Delivered {
    /// The provider accepted the email carrying this code; the caller records it.
    Sent(Code),
    /// The address's send cap is reached; try again after this long.
    Limited(Duration),
    /// The email did not go out (not counted against the cap).
    Failed,
}

/// Where a code goes, and in what.
#[derive(Clone, Copy)]
pub(crate) enum Outgoing<'a> {
    Email(&'a EmailAddr, Email<'a>),
    /// A short text of its own (see [`sms_body`]).
    Sms(&'a PhoneAddr),
}

impl Outgoing<'_> {
    fn limit_key(&self) -> String {
        match self {
            Outgoing::Email(addr, _) => addr.limit_key(),
            Outgoing::Sms(number) => number.limit_key(),
        }
    }

    fn masked(&self) -> String {
        match self {
            Outgoing::Email(addr, _) => addr.masked(),
            Outgoing::Sms(number) => number.masked(),
        }
    }
}

/// The text that carries a code: short enough for one SMS segment, and saying what it is
/// for and that it expires, so a forwarded or unexpected code is recognisable.
fn sms_body(code: &Code, minutes: f64) -> String {
    let mut minutes_text = String::new();
    Value::Number(minutes).write_to(&mut minutes_text);
    format!(
        "Your verification code is {}. It expires in {minutes_text} minutes. Don't share it with anyone.",
        code.reveal()
    )
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

/// Send cap (this recipient, every session and the OTP API) → generate → email or text,
/// refunding the cap when the message does not go out. The code leaves only inside
/// `Delivered::Sent`.
pub(crate) async fn deliver(
    engine: &Engine,
    out: Outgoing<'_>,
    policy: &otp::Policy,
    session: &Session,
    now: DateTime<Utc>,
) -> Result<Delivered, StoreError> {
    let key = send_key(&out.limit_key());
    // A send limit that cannot be checked ends the request unsaved (503): nothing goes out
    // unchecked, and a retry finds the state as it was.
    let permit = match engine.counters.acquire(&key, engine.otp.send_limit).await? {
        Ok(permit) => permit,
        Err(retry_after) => {
            tracing::info!(to = %out.masked(), "otp.send: send limit for this recipient reached");
            return Ok(Delivered::Limited(retry_after));
        }
    };
    // Generated in a block: the thread-local generator must not live across an await.
    let code = { otp::generate(policy, &mut rand::rng()) };
    let minutes = ceil_minutes(policy.ttl);
    let action = crate::dialog::actions::otp_send::NAME;
    let sent = match out {
        Outgoing::Email(to, email) => {
            let message = compose(email, to, Some((&code, minutes)), session, now);
            email_out(engine, to, &message, action).await
        }
        Outgoing::Sms(to) => {
            let message = SmsMessage {
                to: to.clone(),
                body: sms_body(&code, minutes),
            };
            sms_out(engine, &message, action).await
        }
    };
    if sent {
        Ok(Delivered::Sent(code))
    } else {
        refund(engine, &key, permit, action).await;
        Ok(Delivered::Failed)
    }
}

/// Hands one text to the SMS sender within `sms.send_timeout`, counting and logging it (the
/// number masked, never the body). Whether the provider accepted it.
async fn sms_out(engine: &Engine, message: &SmsMessage, action: &'static str) -> bool {
    let started = Instant::now();
    let sent = tokio::time::timeout(engine.settings.sms_timeout, engine.sms.send(message)).await;
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let sender = engine.sms.name();
    let to = message.to.masked();
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
            return true;
        }
        Ok(Err(error)) => (error.label(), error.to_string(), error.is_retryable()),
        Err(_elapsed) => ("timeout", "timed out".to_owned(), true),
    };
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
    false
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

fn ceil_minutes(duration: Duration) -> f64 {
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
