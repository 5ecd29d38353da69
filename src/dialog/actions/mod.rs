//! Actions: the steps of a dialog that need the world (send an email, check a code).
//!
//! The dialog layer only *declares* them — parameters, outcomes, the variables they set —
//! and, when the machine reaches one, renders its parameters into an [`ActionCall`]. The
//! engine runs the call and feeds an [`Outcome`] back; the outcome's name picks the edge.
//! Adding an action is one file here, one in `engine/actions/`, and one arm in each enum.

pub mod otp_send;
pub mod otp_verify;

use crate::reader::{Diagnostics, MapReader};

use super::load::Resolver;
use super::machine::Run;
use super::value::Value;

/// The closed set of actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionKind {
    OtpSend,
    OtpVerify,
}

impl ActionKind {
    const ALL: [(&'static str, ActionKind); 2] = [
        (otp_send::NAME, ActionKind::OtpSend),
        (otp_verify::NAME, ActionKind::OtpVerify),
    ];

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
    }

    pub fn names() -> impl Iterator<Item = &'static str> {
        Self::ALL.iter().map(|(n, _)| *n)
    }

    pub fn name(self) -> &'static str {
        match self {
            ActionKind::OtpSend => otp_send::NAME,
            ActionKind::OtpVerify => otp_verify::NAME,
        }
    }

    /// Every outcome the action can report; a dialog must map each to a node.
    pub fn outcomes(self) -> &'static [&'static str] {
        match self {
            ActionKind::OtpSend => &otp_send::OUTCOMES,
            ActionKind::OtpVerify => &otp_verify::OUTCOMES,
        }
    }

    /// The context variables the action sets.
    pub fn provides(self) -> &'static [&'static str] {
        match self {
            ActionKind::OtpSend => &otp_send::PROVIDES,
            ActionKind::OtpVerify => &otp_verify::PROVIDES,
        }
    }

    pub fn read_params(
        self,
        with: Option<MapReader<'_>>,
        d: &mut Diagnostics,
        pos: crate::yaml::Pos,
    ) -> Option<RawParams> {
        match self {
            ActionKind::OtpSend => otp_send::read(with, d, pos).map(RawParams::OtpSend),
            ActionKind::OtpVerify => otp_verify::read(with, d, pos).map(RawParams::OtpVerify),
        }
    }
}

#[derive(Debug)]
pub enum RawParams {
    OtpSend(otp_send::RawParams),
    OtpVerify(otp_verify::RawParams),
}

impl RawParams {
    pub fn resolve(self, r: &mut Resolver<'_>) -> Option<Params> {
        match self {
            RawParams::OtpSend(raw) => raw.resolve(r).map(Params::OtpSend),
            RawParams::OtpVerify(raw) => raw.resolve(r).map(Params::OtpVerify),
        }
    }
}

/// Validated parameters of an action node.
#[derive(Debug)]
pub enum Params {
    OtpSend(otp_send::Params),
    OtpVerify(otp_verify::Params),
}

impl Params {
    pub(crate) fn call(&self, run: &Run<'_>) -> ActionCall {
        match self {
            Params::OtpSend(p) => ActionCall::OtpSend(p.call(run)),
            Params::OtpVerify(p) => ActionCall::OtpVerify(p.call(run)),
        }
    }
}

/// An action to run, its parameters rendered from the session's context.
#[derive(Debug, Clone)]
pub enum ActionCall {
    OtpSend(otp_send::Call),
    OtpVerify(otp_verify::Call),
}

/// What an action reports back: an outcome name (an edge) and variables to set.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub name: &'static str,
    pub vars: Vec<(&'static str, Value)>,
}

impl Outcome {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            vars: Vec::new(),
        }
    }

    #[must_use]
    pub fn with(mut self, var: &'static str, value: Value) -> Self {
        self.vars.push((var, value));
        self
    }
}
