//! `phone`: a phone number, saved in E.164 (`+447400123456`).
//!
//! ```yaml
//! ask_phone:
//!   ask: "What number should we text?"
//!   entity: phone
//!   region: GB        # numbers written without a country code; else `dialogs.phone_region`
//! ```
//!
//! Accepts a number inside a sentence, with the separators people type (`+44 7400 123456`,
//! `(020) 7946 0018`, `07400-123-456`, `0044 7400 123456`): international when it starts
//! with `+` or an international prefix, else read in the question's region (or the
//! configured one; with neither, only international numbers are understood). The number must
//! be valid for its country (libphonenumber's metadata, through the `phonenumber` crate), so
//! a code, a date or a short number is not a phone number. Two different numbers are asked
//! about.

use phonenumber::country::Id as Region;
use phonenumber::{Mode, PhoneNumber};

use crate::diagnostic::Diagnostic;
use crate::dialog::understand::visible;
use crate::dialog::value::Value;

use super::{EntityKind, EntitySource, EntitySpec, Found, Hearing, listed};

pub const SPEC: EntitySpec = EntitySpec {
    name: "phone",
    accepts: "A phone number inside the message, international (+44 …) or in the question's `region` (else `dialogs.phone_region`), valid for its country; saved in E.164 (+447400123456).",
    keys: &["region"],
    sensitive: false,
    early: true,
    also_sets: &[],
    read,
};

#[derive(Debug)]
pub struct Phone {
    /// Where numbers without a country code are from; `None`: the configured region.
    pub region: Option<Region>,
}

fn read(source: &mut EntitySource<'_, '_>) -> Option<Box<dyn EntityKind>> {
    let region = match source.map.take("region") {
        None => None,
        Some(node) => {
            let text = source.d.string(node, "`region`")?;
            match parse_region(&text) {
                Some(region) => Some(region),
                None => {
                    source.d.push(
                        Diagnostic::error(
                            node.pos,
                            format!(
                                "`region` must be a country code such as GB, US or FR, not `{text}`"
                            ),
                        )
                        .with_hint("use the two-letter ISO 3166 code of the country"),
                    );
                    return None;
                }
            }
        }
    };
    Some(Box::new(Phone { region }))
}

/// A two-letter country code (`GB`, `us`) as the phone metadata knows it.
pub fn parse_region(text: &str) -> Option<Region> {
    let upper = text.trim().to_ascii_uppercase();
    (upper.len() == 2 && upper.bytes().all(|b| b.is_ascii_uppercase()))
        .then(|| upper.parse::<Region>().ok())
        .flatten()
}

impl EntityKind for Phone {
    fn spec(&self) -> &'static EntitySpec {
        &SPEC
    }

    fn resembles(&self, text: &str) -> bool {
        text.chars().any(|c| c.is_ascii_digit())
    }

    fn find(&self, text: &str, hearing: &Hearing<'_>) -> Found {
        let region = self.region.or(hearing.place.region);
        let mut found: Vec<Value> = Vec::new();
        for candidate in candidates(&visible(text)) {
            if let Some(number) = valid_number(&candidate, region) {
                let value = Value::Text(number);
                if !found.contains(&value) {
                    found.push(value);
                }
            }
        }
        Found::from_candidates(found)
    }

    fn which_one(&self, candidates: &[Value]) -> String {
        format!(
            "I see more than one phone number: {}. Which one should I use?",
            listed(candidates)
        )
    }
}

/// The fewest and most digits a phone number has, with a national or international prefix.
const DIGITS: std::ops::RangeInclusive<usize> = 7..=17;

/// Runs of what a written phone number is made of (digits, `+`, spaces, `-`, `.`, brackets)
/// holding a phone number's count of digits, without the separators around them. Only
/// these short, plain strings reach the phone-number parser.
fn candidates(text: &str) -> Vec<String> {
    // `match`es, not `"…".contains(c)`: every character of every message passes here.
    let part = |c: char| {
        c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '.' | '(' | ')' | '/' | '\u{a0}')
    };
    let mut runs: Vec<String> = Vec::new();
    let mut current = String::new();
    // A run glued to letters ("ab1234567890", "1234567890th") is part of a word.
    let mut glued = false;
    let mut previous = ' ';
    for c in text.chars().chain(std::iter::once('\n')) {
        if part(c) {
            if current.is_empty() {
                glued = previous.is_alphanumeric() && c.is_ascii_digit();
            }
            current.push(if c == '\u{a0}' { ' ' } else { c });
            previous = c;
            continue;
        }
        previous = c;
        if current.is_empty() {
            continue;
        }
        let glued =
            glued || (c.is_alphanumeric() && current.ends_with(|c: char| c.is_ascii_digit()));
        let run = std::mem::take(&mut current);
        let run = run.trim_matches(|c: char| matches!(c, ' ' | '-' | '.' | '/' | ')'));
        let run = run.trim_end_matches('(');
        let digits = run.bytes().filter(u8::is_ascii_digit).count();
        if !glued && DIGITS.contains(&digits) && run.len() <= 32 {
            runs.push(run.to_owned());
        }
    }
    runs
}

/// The E.164 form of `candidate`, when it is a valid number both as written and in that form:
/// the form is what is kept and read back, and a number written with a national prefix after
/// its country code (`+370 0800…`) can be valid as written and not without it.
fn valid_number(candidate: &str, region: Option<Region>) -> Option<String> {
    let number = valid_as_written(candidate, region)?;
    let e164 = number.format().mode(Mode::E164).to_string();
    phonenumber::parse(None, &e164)
        .is_ok_and(|again| again.is_valid())
        .then_some(e164)
}

fn valid_as_written(candidate: &str, region: Option<Region>) -> Option<PhoneNumber> {
    // `00` is the international prefix in most of the world: `0044 …` is `+44 …`.
    let international = candidate
        .strip_prefix("00")
        .filter(|_| !candidate.starts_with("000"))
        .map(|rest| format!("+{rest}"));
    let text = international.as_deref().unwrap_or(candidate);
    // `+44 (0)20 …`: the national prefix some write after the country code.
    let text = if text.starts_with('+') {
        text.replacen("(0)", "", 1)
    } else {
        text.to_owned()
    };
    let text = text.as_str();
    let region = if text.starts_with('+') { None } else { region };
    if region.is_none() && !text.starts_with('+') {
        return None;
    }
    phonenumber::parse(region, text)
        .ok()
        .filter(PhoneNumber::is_valid)
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::super::Place;
    use super::*;

    fn heard(text: &str, region: Option<&str>) -> Found {
        let mut hearing = Hearing::plain(DateTime::UNIX_EPOCH);
        let place = Place {
            region: region.and_then(parse_region),
            ..Place::default()
        };
        hearing.place = place;
        Phone { region: None }.find(text, &hearing)
    }

    fn one(number: &str) -> Found {
        Found::One(Value::Text(number.to_owned()))
    }

    #[test]
    fn numbers_are_read_in_sentences_and_saved_in_e164() {
        assert_eq!(heard("+44 7400 123456", None), one("+447400123456"));
        assert_eq!(
            heard("sure, it's +44 (0)7400 123456 thanks", None),
            one("+447400123456")
        );
        assert_eq!(heard("07400 123456", Some("GB")), one("+447400123456"));
        assert_eq!(
            heard("call me on 07400-123-456.", Some("gb")),
            one("+447400123456")
        );
        assert_eq!(heard("0044 7400 123456", None), one("+447400123456"));
        assert_eq!(heard("(201) 555-0123", Some("US")), one("+12015550123"));
        assert_eq!(heard("06 12 34 56 78", Some("FR")), one("+33612345678"));
    }

    #[test]
    fn what_is_no_phone_number_is_not_taken() {
        assert_eq!(heard("07400 123456", None), Found::Nothing, "no region");
        assert_eq!(heard("1234", Some("GB")), Found::Nothing);
        assert_eq!(heard("2026-12-07", Some("GB")), Found::Nothing);
        assert_eq!(heard("+44 1234", None), Found::Nothing);
        assert_eq!(heard("order ab1234567890", Some("GB")), Found::Nothing);
        assert_eq!(heard("", Some("GB")), Found::Nothing);
    }

    #[test]
    fn two_numbers_are_asked_about() {
        assert_eq!(
            heard("+44 7400 123456 or +33 6 12 34 56 78", None),
            Found::Several(vec![
                Value::Text("+447400123456".into()),
                Value::Text("+33612345678".into())
            ])
        );
        assert_eq!(
            heard("+447400123456, i.e. 07400 123456", Some("GB")),
            one("+447400123456")
        );
    }

    #[test]
    fn odd_input_is_no_number_and_no_panic() {
        for text in [
            "  2 22#:",
            "+",
            "++++++++++++",
            "((((((((1234567))))",
            "+0000000000000",
            "00000000000",
            "-------7777777",
            "1/2/3/4/5/6/7/8",
            "٠٧٧٠٠ ٩٠٠١٢٣",
            "+1 ....... 5 5 5 5 5 5 5 5 5 5 5 5",
        ] {
            let _ = heard(text, Some("GB"));
            let _ = heard(text, None);
        }
        assert_eq!(parse_region("XX"), None);
        assert_eq!(parse_region("GBR"), None);
    }

    #[test]
    fn a_number_valid_only_as_written_is_not_taken() {
        // Valid with the national prefix after the country code, not in its E.164 form
        // (+37080002016): it could not be read back, texted or found again.
        assert_eq!(
            heard("call me on +370080002016", Some("GB")),
            Found::Nothing
        );
        assert_eq!(
            heard("+370080002016", None),
            Found::Nothing,
            "the same without a region"
        );
    }
}
