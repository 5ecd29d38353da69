//! `otp.verify`: check the code the user entered against the session's code.
//!
//! ```yaml
//! verify:
//!   action: otp.verify
//!   with: { code: "{{ otp_code }}" }     # the default
//!   on: { valid: success, invalid: wrong_code, expired: expired, locked: locked_out }
//! ```

use crate::diagnostic::Diagnostic;
use crate::dialog::load::{Resolver, TextSrc};
use crate::dialog::machine::Run;

use super::{ActionCall, ActionSpec};
use crate::dialog::template::Template;
use crate::reader::{Diagnostics, MapReader};
use crate::yaml::Pos;

pub const NAME: &str = "otp.verify";

pub const SPEC: ActionSpec = ActionSpec {
    name: NAME,
    outcomes: &OUTCOMES,
    provides: &PROVIDES,
    read,
};

/// `valid`: right code, now used up. `invalid`: wrong code, attempts remain (`otp.attempts_left`).
/// `expired`: too late, no code is waiting, or the code was retired because wrong guesses at
/// its address ask for a longer one (`otp.longer_code`). `locked`: too many wrong codes.
pub const OUTCOMES: [&str; 4] = ["valid", "invalid", "expired", "locked"];

/// `otp.retry_after_minutes` with `locked`: 0 when the user may start over now (this code
/// had too many wrong tries), else how long the address's failure budget keeps it locked.
/// `otp.previous_code` with `invalid`: the code entered was the one a resend replaced.
/// `otp.longer_code` with `expired`: true when the code was retired for a longer one.
pub const PROVIDES: [&str; 4] = [
    "otp.attempts_left",
    "otp.retry_after_minutes",
    "otp.previous_code",
    "otp.longer_code",
];

/// The variable the code is read from unless `with: { code: … }` says otherwise.
const DEFAULT_VARIABLE: &str = "otp_code";
const DEFAULT_CODE: &str = "{{ otp_code }}";

#[derive(Debug)]
struct RawParams {
    /// `None` for the default, [`DEFAULT_CODE`].
    code: Option<TextSrc>,
    /// Where the node is: the default is written nowhere, so its problems are reported here.
    node_pos: Pos,
}

#[derive(Debug)]
pub struct Params {
    pub code: Template,
}

/// A rendered `otp.verify`. Its `Debug` hides the entered code.
#[derive(Clone)]
pub struct Call {
    pub code: String,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Call { code: <redacted> }")
    }
}

// The shape every action's reader has, though this one always succeeds.
#[allow(clippy::unnecessary_wraps)]
fn read(
    with: Option<MapReader<'_>>,
    d: &mut Diagnostics,
    node_pos: Pos,
) -> Option<Box<dyn super::RawParams>> {
    let Some(mut with) = with else {
        return Some(Box::new(RawParams {
            code: None,
            node_pos,
        }));
    };
    let code = with
        .take("code")
        .and_then(|n| d.text(n, "`code`").map(|text| TextSrc { text, pos: n.pos }));
    with.finish(d, "`with` of otp.verify");
    Some(Box::new(RawParams { code, node_pos }))
}

impl super::RawParams for RawParams {
    fn resolve(self: Box<Self>, r: &mut Resolver<'_>) -> Option<Box<dyn super::Params>> {
        let code = self.code.unwrap_or_else(|| TextSrc {
            text: DEFAULT_CODE.to_owned(),
            pos: self.node_pos,
        });
        if code.text == DEFAULT_CODE && !r.is_set(DEFAULT_VARIABLE) {
            r.d.push(
                Diagnostic::error(
                    code.pos,
                    format!("`{NAME}` checks the code in `{DEFAULT_VARIABLE}`, which nothing sets"),
                )
                .with_hint(format!(
                    "ask for the code first with `entity: {DEFAULT_VARIABLE}`, or name the variable that holds it with `with: {{ code: \"{{{{ name }}}}\" }}`"
                )),
            );
            return None;
        }
        // The entered code is the one place a sensitive variable may be read.
        let code = r.secret_template(&code)?;
        Some(Box::new(Params { code }))
    }
}

impl super::Params for Params {
    fn call(&self, run: &Run<'_>) -> ActionCall {
        ActionCall::OtpVerify(Call {
            code: run.render(&self.code),
        })
    }
}
