//! Per-script settings: OTP policy overrides (the keys of `config.yaml`'s `otp:` section) and
//! addresses whose delivery fails. The in-process runner applies them to the script's own
//! [`Config`]; `--url` cannot change a running server, so it skips scripts that have any.
//!
//! ```yaml
//! settings:
//!   otp: { length: 10, resend_cooldown: 0s, max_sends_per_address: 1 }
//!   # or: otp: { longer_codes: [{ after: 2, digits: 6 }] }
//!   fail_for: ["*@bounce.test"]     # like email.outbox.fail_for
//!   fail_subjects: ["Your appointment*"]   # like email.outbox.fail_subjects
//! ```

use std::time::Duration;

use crate::config::Config;
use crate::otp::{Alphabet, Escalation, EscalationStep, Policy};
use crate::reader::{Diagnostics, MapReader};
use crate::yaml::Node;

/// Overrides of the configuration, for one script.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    pub length: Option<u8>,
    pub alphabet: Option<Alphabet>,
    pub ttl: Option<Duration>,
    pub max_attempts: Option<u8>,
    pub resend_cooldown: Option<Duration>,
    pub max_sends_per_address: Option<u32>,
    pub send_window: Option<Duration>,
    pub max_failures_per_address: Option<u32>,
    pub failure_window: Option<Duration>,
    pub longer_codes: Option<Vec<EscalationStep>>,
    pub fail_for: Option<Vec<String>>,
    pub fail_subjects: Option<Vec<String>>,
}

impl Settings {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The settings given, as written (`otp.length`, `fail_for`), for messages.
    pub fn names(&self) -> Vec<&'static str> {
        let given = [
            ("otp.length", self.length.is_some()),
            ("otp.alphabet", self.alphabet.is_some()),
            ("otp.ttl", self.ttl.is_some()),
            ("otp.max_attempts", self.max_attempts.is_some()),
            ("otp.resend_cooldown", self.resend_cooldown.is_some()),
            (
                "otp.max_sends_per_address",
                self.max_sends_per_address.is_some(),
            ),
            ("otp.send_window", self.send_window.is_some()),
            (
                "otp.max_failures_per_address",
                self.max_failures_per_address.is_some(),
            ),
            ("otp.failure_window", self.failure_window.is_some()),
            ("otp.longer_codes", self.longer_codes.is_some()),
            ("fail_for", self.fail_for.is_some()),
            ("fail_subjects", self.fail_subjects.is_some()),
        ];
        given
            .into_iter()
            .filter(|(_, set)| *set)
            .map(|(name, _)| name)
            .collect()
    }

    /// Writes the overrides into `config`.
    pub fn apply(&self, config: &mut Config) {
        let otp = &mut config.otp;
        set(&mut otp.length, self.length);
        set(&mut otp.alphabet, self.alphabet);
        set(&mut otp.ttl, self.ttl);
        set(&mut otp.max_attempts, self.max_attempts);
        set(&mut otp.resend_cooldown, self.resend_cooldown);
        set(&mut otp.max_sends_per_address, self.max_sends_per_address);
        set(&mut otp.send_window, self.send_window);
        set(
            &mut otp.max_failures_per_address,
            self.max_failures_per_address,
        );
        set(&mut otp.failure_window, self.failure_window);
        if let Some(steps) = &self.longer_codes {
            otp.longer_codes.clone_from(steps);
        }
        if let Some(fail_for) = &self.fail_for {
            config.email.outbox.fail_for.clone_from(fail_for);
        }
        if let Some(subjects) = &self.fail_subjects {
            config.email.outbox.fail_subjects.clone_from(subjects);
        }
    }
}

fn set<T: Copy>(target: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *target = value;
    }
}

/// Reads `settings:`; `None` when anything in it is wrong (each problem reported).
pub fn read_settings(node: &Node, d: &mut Diagnostics) -> Option<Settings> {
    let mut map = d.map(node, "`settings`")?;
    let before = d.items.len();
    let mut settings = Settings::default();
    if let Some(otp) = map.take("otp")
        && let Some(mut otp) = d.map(otp, "`settings.otp`")
    {
        read_otp(&mut otp, d, &mut settings);
        otp.finish(d, "`settings.otp`");
    }
    if let Some(list) = map.take("fail_for") {
        settings.fail_for = Some(
            d.texts(list, "a `fail_for` address or `*@domain`")
                .into_iter()
                .map(|(_, pattern)| pattern)
                .collect(),
        );
    }
    if let Some(list) = map.take("fail_subjects") {
        settings.fail_subjects = Some(
            d.texts(list, "a `fail_subjects` pattern")
                .into_iter()
                .map(|(_, pattern)| pattern)
                .collect(),
        );
    }
    map.finish(d, "`settings`");
    (d.items.len() == before).then_some(settings)
}

fn read_otp(map: &mut MapReader<'_>, d: &mut Diagnostics, s: &mut Settings) {
    let small = |d: &mut Diagnostics, n: &Node, what: &str, min: u8, max: u8| {
        d.integer(n, what, i64::from(min), i64::from(max))
            .and_then(|v| u8::try_from(v).ok())
    };
    let count = |d: &mut Diagnostics, n: &Node, what: &str| {
        d.integer(n, what, 1, 1_000_000)
            .and_then(|v| u32::try_from(v).ok())
    };
    let positive = |d: &mut Diagnostics, n: &Node, what: &str| {
        let duration = d.duration(n, what)?;
        if duration.is_zero() {
            d.error(n.pos, format!("{what} must be longer than zero"));
            return None;
        }
        Some(duration)
    };
    if let Some(n) = map.take("length") {
        s.length = small(d, n, "`otp.length`", Policy::MIN_LENGTH, Policy::MAX_LENGTH);
    }
    if let Some(n) = map.take("alphabet") {
        s.alphabet = match n.as_str() {
            Some("digits") => Some(Alphabet::Digits),
            Some("alphanumeric") => Some(Alphabet::Alphanumeric),
            _ => {
                d.error(n.pos, "`otp.alphabet` must be `digits` or `alphanumeric`");
                None
            }
        };
    }
    if let Some(n) = map.take("ttl") {
        s.ttl = positive(d, n, "`otp.ttl`");
    }
    if let Some(n) = map.take("max_attempts") {
        s.max_attempts = small(d, n, "`otp.max_attempts`", 1, 100);
    }
    if let Some(n) = map.take("resend_cooldown") {
        s.resend_cooldown = d.duration(n, "`otp.resend_cooldown`");
    }
    if let Some(n) = map.take("max_sends_per_address") {
        s.max_sends_per_address = count(d, n, "`otp.max_sends_per_address`");
    }
    if let Some(n) = map.take("send_window") {
        s.send_window = positive(d, n, "`otp.send_window`");
    }
    if let Some(n) = map.take("max_failures_per_address") {
        s.max_failures_per_address = count(d, n, "`otp.max_failures_per_address`");
    }
    if let Some(n) = map.take("failure_window") {
        s.failure_window = positive(d, n, "`otp.failure_window`");
    }
    if let Some(n) = map.take("longer_codes") {
        s.longer_codes = read_longer_codes(n, d);
    }
}

/// `otp.longer_codes`: a list of `{ after: N, digits: D }`, growing.
fn read_longer_codes(node: &Node, d: &mut Diagnostics) -> Option<Vec<EscalationStep>> {
    let crate::yaml::Value::Seq(items) = &node.value else {
        d.error(
            node.pos,
            format!(
                "`otp.longer_codes` must be a list of {{ after, digits }}, found {}",
                node.value.kind()
            ),
        );
        return None;
    };
    let mut steps = Vec::with_capacity(items.len());
    for item in items {
        let mut map = d.map(item, "an `otp.longer_codes` step")?;
        let after = map
            .take("after")
            .and_then(|n| d.integer(n, "`after`", 0, i64::from(u32::MAX)))
            .and_then(|v| u32::try_from(v).ok());
        let digits = map
            .take("digits")
            .and_then(|n| d.integer(n, "`digits`", 1, i64::from(Policy::MAX_LENGTH)))
            .and_then(|v| u8::try_from(v).ok());
        map.finish(d, "an `otp.longer_codes` step");
        let (Some(after), Some(digits)) = (after, digits) else {
            d.error(
                item.pos,
                "an `otp.longer_codes` step needs `after` and `digits`",
            );
            return None;
        };
        steps.push(EscalationStep { after, digits });
    }
    if let Err(error) = Escalation::new(steps.clone()) {
        d.error(node.pos, format!("`otp.longer_codes`: {error}"));
        return None;
    }
    Some(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(yaml: &str) -> (Option<Settings>, Vec<String>) {
        let doc = crate::yaml::parse(yaml).unwrap();
        let mut d = Diagnostics::default();
        let settings = read_settings(doc.get("settings").unwrap(), &mut d);
        (
            settings,
            d.items.iter().map(|i| i.message.clone()).collect(),
        )
    }

    #[test]
    fn overrides_apply_to_the_config() {
        let (settings, problems) =
            read("settings: { otp: { length: 6, ttl: 2m }, fail_for: ['*@b.test'] }");
        assert!(problems.is_empty(), "{problems:?}");
        let settings = settings.unwrap();
        assert_eq!(settings.names(), ["otp.length", "otp.ttl", "fail_for"]);
        let mut config = Config::default();
        settings.apply(&mut config);
        assert_eq!(config.otp.length, 6);
        assert_eq!(config.otp.ttl, Duration::from_secs(120));
        assert_eq!(config.otp.max_attempts, 3, "untouched");
        assert_eq!(config.email.outbox.fail_for, ["*@b.test"]);
    }

    #[test]
    fn longer_codes_are_read_and_checked() {
        let (settings, problems) = read(
            "settings: { otp: { longer_codes: [{ after: 2, digits: 6 }, { after: 9, digits: 8 }] } }",
        );
        assert!(problems.is_empty(), "{problems:?}");
        let mut config = Config::default();
        settings.unwrap().apply(&mut config);
        assert_eq!(
            config.otp.longer_codes,
            [
                EscalationStep {
                    after: 2,
                    digits: 6
                },
                EscalationStep {
                    after: 9,
                    digits: 8
                }
            ]
        );
        let (settings, problems) = read(
            "settings: { otp: { longer_codes: [{ after: 2, digits: 6 }, { after: 1, digits: 8 }] } }",
        );
        assert!(settings.is_none());
        assert_eq!(
            problems,
            [
                "`otp.longer_codes`: step 1: `after` and `digits` must each be larger than in the step before"
            ]
        );
        let (_, problems) = read("settings: { otp: { longer_codes: 6 } }");
        assert_eq!(
            problems,
            ["`otp.longer_codes` must be a list of { after, digits }, found an integer"]
        );
    }

    #[test]
    fn bad_values_and_keys_are_reported() {
        let (settings, problems) =
            read("settings: { otp: { length: 3, tll: 2m, ttl: 0s }, failfor: [] }");
        assert!(settings.is_none());
        assert_eq!(
            problems,
            [
                "`otp.length` must be between 4 and 10, found 3",
                "`otp.ttl` must be longer than zero",
                "unknown key `tll` in `settings.otp`",
                "unknown key `failfor` in `settings`",
            ]
        );
    }
}
