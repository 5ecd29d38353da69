//! `otp.send`: generate a code, keep its MAC in the session, email or text it.
//!
//! ```yaml
//! send_code:
//!   action: otp.send
//!   with: { to: "{{ email }}", template: otp_email }   # optional: length, alphabet, ttl, max_attempts, resend_cooldown
//!   on: { sent: ask_code, cooldown: wait_a_moment, limited: too_many, failed: send_failed }
//! text_code:
//!   action: otp.send
//!   with: { channel: sms, to: "{{ phone }}" }          # a phone number, read in `dialogs.phone_region`
//!   on: { sent: ask_code, cooldown: wait_a_moment, limited: too_many, failed: send_failed }
//! ```

use std::time::Duration;

use crate::diagnostic::Diagnostic;
use crate::dialog::load::{Resolver, TextSrc};
use crate::dialog::machine::Run;

use super::{ActionCall, ActionSpec};
use crate::dialog::template::Template;
use crate::otp::{Alphabet, Policy};
use crate::reader::{Diagnostics, MapReader};
use crate::yaml::Pos;

pub const NAME: &str = "otp.send";

pub const SPEC: ActionSpec = ActionSpec {
    name: NAME,
    outcomes: &OUTCOMES,
    provides: &PROVIDES,
    read,
};

/// `sent`: delivered to the provider. `cooldown`: asked again too soon. `limited`: too many
/// codes for this address lately. `failed`: the email could not be sent.
pub const OUTCOMES: [&str; 4] = ["sent", "cooldown", "limited", "failed"];

pub const PROVIDES: [&str; 4] = [
    "otp.length",
    "otp.expires_in_minutes",
    "otp.retry_after_seconds",
    "otp.retry_after_minutes",
];

/// How the code travels: to an email address, or by text to a phone number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Channel {
    #[default]
    Email,
    Sms,
}

/// Per-node changes to the configured OTP policy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PolicyOverrides {
    pub length: Option<u8>,
    pub alphabet: Option<Alphabet>,
    pub ttl: Option<Duration>,
    pub max_attempts: Option<u8>,
    pub resend_cooldown: Option<Duration>,
}

impl PolicyOverrides {
    pub fn apply(&self, base: &Policy) -> Policy {
        Policy {
            length: self.length.unwrap_or(base.length),
            alphabet: self.alphabet.unwrap_or(base.alphabet),
            ttl: self.ttl.unwrap_or(base.ttl),
            max_attempts: self.max_attempts.unwrap_or(base.max_attempts),
            resend_cooldown: self.resend_cooldown.unwrap_or(base.resend_cooldown),
        }
    }
}

#[derive(Debug)]
struct RawParams {
    channel: Channel,
    to: TextSrc,
    template: Option<(String, Pos)>,
    overrides: PolicyOverrides,
}

#[derive(Debug)]
pub struct Params {
    pub channel: Channel,
    pub to: Template,
    pub template: Option<String>,
    pub overrides: PolicyOverrides,
}

/// A rendered `otp.send`. Its `Debug` masks the address.
#[derive(Clone)]
pub struct Call {
    pub channel: Channel,
    /// The address or number as rendered; the engine parses it before sending.
    pub to: String,
    /// Email template name; `None` uses the built-in one.
    pub template: Option<String>,
    pub overrides: PolicyOverrides,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let to = match self.channel {
            Channel::Email => crate::address::mask_email(&self.to),
            Channel::Sms => crate::address::mask_phone(&self.to),
        };
        f.debug_struct("Call")
            .field("channel", &self.channel)
            .field("to", &to)
            .field("template", &self.template)
            .field("overrides", &self.overrides)
            .finish()
    }
}

fn read(
    with: Option<MapReader<'_>>,
    d: &mut Diagnostics,
    node_pos: Pos,
) -> Option<Box<dyn super::RawParams>> {
    let Some(mut with) = with else {
        d.push(
            Diagnostic::error(node_pos, "`otp.send` needs `with: { to: ... }`")
                .with_hint("for example `with: { to: \"{{ email }}\" }`"),
        );
        return None;
    };
    let to = super::required(
        &mut with,
        d,
        "to",
        NAME,
        "the address to send the code to, such as \"{{ email }}\"",
        Diagnostics::text,
    )
    .map(|(text, pos)| TextSrc { text, pos });
    let template = with
        .take("template")
        .and_then(|n| d.string(n, "`template`").map(|name| (name, n.pos)));
    let channel = match with.take("channel") {
        None => Some(Channel::Email),
        Some(n) => match d.string(n, "`channel`").as_deref() {
            Some("email") => Some(Channel::Email),
            Some("sms") => Some(Channel::Sms),
            Some(other) => {
                d.push(
                    Diagnostic::error(n.pos, format!("unknown channel `{other}`"))
                        .with_hint("use `email` (the default) or `sms`"),
                );
                None
            }
            None => None,
        },
    };
    if channel == Some(Channel::Sms)
        && let Some((name, pos)) = &template
    {
        d.push(
            Diagnostic::error(
                *pos,
                format!("`template: {name}` names an email template, but this code goes by SMS"),
            )
            .with_hint("remove `template`: a text carries the code in a short message of its own"),
        );
    }
    let mut overrides = PolicyOverrides::default();
    if let Some(n) = with.take("length") {
        overrides.length = d
            .integer(
                n,
                "`length`",
                i64::from(Policy::MIN_LENGTH),
                i64::from(Policy::MAX_LENGTH),
            )
            .and_then(|v| u8::try_from(v).ok());
    }
    if let Some(n) = with.take("alphabet") {
        overrides.alphabet = match d.string(n, "`alphabet`").as_deref() {
            Some("digits") => Some(Alphabet::Digits),
            Some("alphanumeric") => Some(Alphabet::Alphanumeric),
            Some(other) => {
                d.push(
                    Diagnostic::error(n.pos, format!("unknown alphabet `{other}`"))
                        .with_hint("use `digits` or `alphanumeric`"),
                );
                None
            }
            None => None,
        };
    }
    if let Some(n) = with.take("ttl") {
        overrides.ttl = d.duration(n, "`ttl`");
    }
    if let Some(n) = with.take("max_attempts") {
        overrides.max_attempts = d
            .integer(n, "`max_attempts`", 1, 10)
            .and_then(|v| u8::try_from(v).ok());
    }
    if let Some(n) = with.take("resend_cooldown") {
        overrides.resend_cooldown = d.duration(n, "`resend_cooldown`");
    }
    with.finish(d, "`with` of otp.send");
    let channel = channel?;
    Some(Box::new(RawParams {
        channel,
        to: to?,
        template: template.filter(|_| channel == Channel::Email),
        overrides,
    }))
}

impl super::RawParams for RawParams {
    fn resolve(self: Box<Self>, r: &mut Resolver<'_>) -> Option<Box<dyn super::Params>> {
        let to = r.template(&self.to);
        let template_ok = self
            .template
            .as_ref()
            .is_none_or(|(name, pos)| r.email_template_name(name, *pos));
        if !template_ok {
            return None;
        }
        Some(Box::new(Params {
            channel: self.channel,
            to: to?,
            template: self.template.map(|(name, _)| name),
            overrides: self.overrides,
        }))
    }
}

impl super::Params for Params {
    fn call(&self, run: &Run<'_>) -> ActionCall {
        ActionCall::OtpSend(Call {
            channel: self.channel,
            to: run.render(&self.to),
            template: self.template.clone(),
            overrides: self.overrides,
        })
    }
}
