//! `email`: an email address, anywhere in the sentence.
//!
//! Accepts "sure, it's Bob.Smith@Example.com thanks", `<bob@example.com>`,
//! `mailto:bob@example.com`, `email: bob@example.com`, with quotes, brackets and punctuation
//! around it; saved valid and header-safe, the domain lower-cased (`address.rs`). Two different
//! addresses in one message are asked about; the same one twice (in another case) is one.

use crate::address::EmailAddr;
use crate::dialog::understand::visible;
use crate::dialog::value::Value;

use super::{EntityKind, EntitySpec, Found, Hearing, listed, without_parameters};

pub const SPEC: EntitySpec = EntitySpec {
    name: "email",
    accepts: "An email address, found anywhere in the message (brackets, mailto: and punctuation around it are dropped); the domain is lower-cased.",
    keys: &[],
    sensitive: false,
    early: true,
    also_sets: &[],
    read: without_parameters::<Email>,
};

#[derive(Debug, Default)]
pub struct Email;

impl EntityKind for Email {
    fn spec(&self) -> &'static EntitySpec {
        &SPEC
    }

    fn find(&self, text: &str, _hearing: &Hearing<'_>) -> Found {
        if let Ok(address) = EmailAddr::parse(text) {
            return Found::One(Value::Text(address.as_str().to_owned()));
        }
        Found::from_candidates(emails(&visible(text)))
    }

    fn which_one(&self, candidates: &[Value]) -> String {
        format!(
            "I see more than one email address: {}. Which one should I use?",
            listed(candidates)
        )
    }
}

/// Every distinct email address written in `text`, in order. A token is stripped of quotes,
/// brackets and punctuation around it, of `mailto:` and of a `label:` before the address.
pub fn emails(text: &str) -> Vec<Value> {
    let mut found: Vec<(String, Value)> = Vec::new();
    for token in text.split_whitespace() {
        if !token.contains('@') {
            continue;
        }
        let token = token
            .trim_start_matches(|c: char| "\"'“”‘’«»<([{".contains(c))
            .trim_end_matches(|c: char| "\"'“”‘’«»>)]},;:!?.".contains(c));
        let token = match token.get(..7) {
            Some(prefix) if prefix.eq_ignore_ascii_case("mailto:") => &token[7..],
            _ => token,
        };
        let token = match (token.find('@'), token.rfind(':')) {
            (Some(at), Some(colon)) if colon < at => &token[colon + 1..],
            _ => token,
        };
        if let Ok(address) = EmailAddr::parse(token) {
            let key = address.limit_key();
            if !found.iter().any(|(k, _)| *k == key) {
                found.push((key, Value::Text(address.as_str().to_owned())));
            }
        }
    }
    found.into_iter().map(|(_, value)| value).collect()
}
