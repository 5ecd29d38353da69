//! `otp.verify`: check the code the user entered against the session's code.
//!
//! ```yaml
//! verify:
//!   action: otp.verify
//!   with: { code: "{{ otp_code }}" }     # the default
//!   on: { valid: success, invalid: wrong_code, expired: expired, locked: locked_out }
//! ```

use crate::dialog::load::{Resolver, TextSrc};
use crate::dialog::machine::Run;
use crate::dialog::template::Template;
use crate::reader::{Diagnostics, MapReader};
use crate::yaml::Pos;

pub const NAME: &str = "otp.verify";

/// `valid`: right code, now used up. `invalid`: wrong code, attempts remain (`otp.attempts_left`).
/// `expired`: too late, or no code is waiting. `locked`: too many wrong codes.
pub const OUTCOMES: [&str; 4] = ["valid", "invalid", "expired", "locked"];

pub const PROVIDES: [&str; 1] = ["otp.attempts_left"];

const DEFAULT_CODE: &str = "{{ otp_code }}";

#[derive(Debug)]
pub struct RawParams {
    code: TextSrc,
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

pub fn read(with: Option<MapReader<'_>>, d: &mut Diagnostics) -> Option<RawParams> {
    let Some(mut with) = with else {
        return Some(RawParams {
            code: TextSrc {
                text: DEFAULT_CODE.to_owned(),
                pos: Pos::default(),
            },
        });
    };
    let code = with
        .take("code")
        .and_then(|n| d.text(n, "`code`").map(|text| TextSrc { text, pos: n.pos }));
    let code = code.unwrap_or(TextSrc {
        text: DEFAULT_CODE.to_owned(),
        pos: with.pos,
    });
    with.finish(d, "`with` of otp.verify");
    Some(RawParams { code })
}

impl RawParams {
    pub fn resolve(self, r: &mut Resolver<'_>) -> Option<Params> {
        // The entered code is the one place a sensitive variable may be read.
        let code = r.secret_template(&self.code)?;
        Some(Params { code })
    }
}

impl Params {
    pub(crate) fn call(&self, run: &Run<'_>) -> Call {
        Call {
            code: run.render(&self.code),
        }
    }
}
