//! `email.send`: send one of the dialog's email templates (a booking confirmation, a receipt).
//!
//! ```yaml
//! confirm:
//!   action: email.send
//!   with: { to: "{{ email }}", template: booking_confirmation }
//!   on: { sent: booked, limited: booked_no_email, failed: booked_no_email }
//! ```
//! The template may use the dialog's variables and `email`, not `code`: codes go out only
//! through `otp.send`. Emails to one address count against the same per-address cap as codes
//! (`otp.max_sends_per_address` in `otp.send_window`), so a dialog cannot be used to flood a
//! mailbox.

use crate::diagnostic::Diagnostic;
use crate::dialog::load::{Resolver, TextSrc};
use crate::dialog::machine::Run;
use crate::dialog::template::Template;
use crate::reader::{Diagnostics, MapReader};
use crate::yaml::Pos;

use super::{ActionCall, ActionSpec};

pub const NAME: &str = "email.send";

pub const SPEC: ActionSpec = ActionSpec {
    name: NAME,
    outcomes: &OUTCOMES,
    provides: &[],
    read,
};

/// `sent`: the provider accepted it. `limited`: the address got too many emails lately.
/// `failed`: it could not be sent (or `to` is not an address).
pub const OUTCOMES: [&str; 3] = ["sent", "limited", "failed"];

#[derive(Debug)]
struct RawParams {
    to: Option<TextSrc>,
    template: Option<(String, Pos)>,
}

#[derive(Debug)]
pub struct Params {
    pub to: Template,
    pub template: String,
}

/// A rendered `email.send`. Its `Debug` masks the address.
#[derive(Clone)]
pub struct Call {
    /// As rendered; the engine parses it before sending.
    pub to: String,
    /// A template of the dialog's `templates:`.
    pub template: String,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("to", &crate::address::mask_email(&self.to))
            .field("template", &self.template)
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
            Diagnostic::error(
                node_pos,
                format!("`{NAME}` needs `with: {{ to: ..., template: ... }}`"),
            )
            .with_hint("for example `with: { to: \"{{ email }}\", template: receipt }`"),
        );
        return None;
    };
    let to = super::required(
        &mut with,
        d,
        "to",
        NAME,
        "the address to send to, such as \"{{ email }}\"",
        Diagnostics::text,
    )
    .map(|(text, pos)| TextSrc { text, pos });
    let template = super::required(
        &mut with,
        d,
        "template",
        NAME,
        "the name of an email under the dialog's `templates:`",
        Diagnostics::string,
    );
    with.finish(d, &format!("`with` of {NAME}"));
    Some(Box::new(RawParams { to, template }))
}

impl super::RawParams for RawParams {
    fn resolve(self: Box<Self>, r: &mut Resolver<'_>) -> Option<Box<dyn super::Params>> {
        let to = self.to.as_ref().and_then(|to| r.template(to));
        let (template, pos) = self.template?;
        if !r.plain_email_template(&template, pos) {
            return None;
        }
        Some(Box::new(Params { to: to?, template }))
    }
}

impl super::Params for Params {
    fn call(&self, run: &Run<'_>) -> ActionCall {
        ActionCall::EmailSend(Call {
            to: run.render(&self.to),
            template: self.template.clone(),
        })
    }
}
