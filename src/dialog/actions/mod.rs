//! Actions: the steps of a dialog that need the world (send an email, check a code).
//!
//! The dialog layer only *declares* them — parameters, outcomes, the variables they set —
//! and, when the machine reaches one, renders its parameters into an [`ActionCall`]. The
//! engine runs the call and feeds an [`Outcome`] back; the outcome's name picks the edge.
//! Adding an action is one file here and its line in [`ACTIONS`], then the engine's side: a
//! variant of [`ActionCall`] (the typed hand-over) and a file in `engine/actions/`, whose
//! match the compiler then points at.

pub mod email_send;
pub mod http_request;
pub mod otp_send;
pub mod otp_verify;
pub mod understand;

use std::borrow::Cow;
use std::fmt;

use crate::reader::{Diagnostics, MapReader};
use crate::yaml::Pos;

use super::load::Resolver;
use super::machine::Run;
use super::value::Value;

/// Every action a dialog may name, in the order hints list them.
pub const ACTIONS: &[ActionSpec] = &[
    otp_send::SPEC,
    otp_verify::SPEC,
    email_send::SPEC,
    http_request::SPEC,
];

/// Reads an action node's `with:` (absent: `None`) into its parameters, or `None` with the
/// problems reported; those of a missing `with:` point at the node (`node_pos`).
pub type ReadParams = fn(
    with: Option<MapReader<'_>>,
    d: &mut Diagnostics,
    node_pos: Pos,
) -> Option<Box<dyn RawParams>>;

/// A key of `with:` an action cannot do without: its value read with `read` (`text` or
/// `string`) and where it is, or `None` with "`action` needs `key`" reported (unless a key
/// nobody took looks like a typo of it, which `finish` reports).
pub(crate) fn required(
    with: &mut MapReader<'_>,
    d: &mut Diagnostics,
    key: &'static str,
    action: &str,
    hint: &str,
    read: fn(&mut Diagnostics, &crate::yaml::Node, &str) -> Option<String>,
) -> Option<(String, Pos)> {
    let value = with
        .take(key)
        .and_then(|n| read(d, n, &format!("`{key}`")).map(|value| (value, n.pos)));
    if value.is_none() && with.lacks(key) {
        d.push(
            crate::diagnostic::Diagnostic::error(with.pos, format!("`{action}` needs `{key}`"))
                .with_hint(hint),
        );
    }
    value
}

/// What one action declares to the loader.
#[derive(Debug)]
pub struct ActionSpec {
    /// The name a dialog writes (`action: otp.send`).
    pub name: &'static str,
    /// Every outcome the action can report; a dialog must map each to a node.
    pub outcomes: &'static [&'static str],
    /// The context variables the action sets.
    pub provides: &'static [&'static str],
    pub read: ReadParams,
}

impl ActionSpec {
    pub fn find(name: &str) -> Option<&'static ActionSpec> {
        ACTIONS.iter().find(|spec| spec.name == name)
    }

    pub fn names() -> impl Iterator<Item = &'static str> {
        ACTIONS.iter().map(|spec| spec.name)
    }
}

/// An action's parameters as read, before templates are compiled.
pub trait RawParams: fmt::Debug {
    fn resolve(self: Box<Self>, r: &mut Resolver<'_>) -> Option<Box<dyn Params>>;

    /// Variables the dialog names for the action to set (beside its spec's `provides`).
    fn sets(&self) -> Vec<String> {
        Vec::new()
    }
}

/// An action's validated parameters.
pub trait Params: fmt::Debug + Send + Sync {
    /// Renders the parameters against the session's context into the call the engine runs.
    fn call(&self, run: &Run<'_>) -> ActionCall;
}

/// An action to run, its parameters rendered from the session's context.
#[derive(Debug, Clone)]
pub enum ActionCall {
    OtpSend(otp_send::Call),
    OtpVerify(otp_verify::Call),
    EmailSend(email_send::Call),
    HttpRequest(http_request::Call),
    /// A message for the dialog's classifier (`understand:`), from a question.
    Understand(understand::Call),
}

/// What an action reports back: an outcome name (an edge) and variables to set (named by
/// the action, or by the dialog, as `http.request`'s `save:`).
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub name: &'static str,
    pub vars: Vec<(Cow<'static, str>, Value)>,
}

impl Outcome {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            vars: Vec::new(),
        }
    }

    #[must_use]
    pub fn with(mut self, var: impl Into<Cow<'static, str>>, value: Value) -> Self {
        self.vars.push((var.into(), value));
        self
    }
}
