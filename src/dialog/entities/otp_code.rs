//! `otp_code`: the one-time code the user was sent.
//!
//! Accepts the issued code's length and alphabet (4 digits by default) inside a sentence:
//! `code: 1234`, "my code is 12 34", `1234.`, `12-34`; letters of an alphanumeric code in any
//! case. Sensitive: never shown in history or logs, never echoed, and never taken from the
//! message that opens a conversation.

use crate::dialog::understand::visible;
use crate::dialog::value::Value;

use super::{EntityKind, EntitySpec, Found, Hearing, without_parameters};

pub const SPEC: EntitySpec = EntitySpec {
    name: "otp_code",
    accepts: "The code that was sent (its length and alphabet), inside a sentence; digits may be grouped by a space or a hyphen (12 34).",
    keys: &[],
    sensitive: true,
    early: false,
    also_sets: &[],
    read: without_parameters::<OtpCode>,
};

#[derive(Debug, Default)]
pub struct OtpCode;

impl EntityKind for OtpCode {
    fn spec(&self) -> &'static EntitySpec {
        &SPEC
    }

    fn resembles(&self, text: &str) -> bool {
        text.chars().any(|c| c.is_ascii_digit())
    }

    fn find(&self, text: &str, hearing: &Hearing<'_>) -> Found {
        if let Some(code) = normalise_code(text.trim(), hearing.code) {
            return Found::One(Value::Text(code));
        }
        Found::from_candidates(codes(&visible(text), hearing.code))
    }

    /// Codes are never echoed, not even the user's own.
    fn which_one(&self, _candidates: &[Value]) -> String {
        "I see more than one code in your message. Please send just the one from the email."
            .to_owned()
    }
}

/// What an OTP-code answer must look like, taken from the code that was issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodeShape {
    pub length: u8,
    pub alphanumeric: bool,
}

impl Default for CodeShape {
    fn default() -> Self {
        Self {
            length: 4,
            alphanumeric: false,
        }
    }
}

/// Removes the separators people type inside codes and checks length and alphabet.
pub fn normalise_code(text: &str, shape: CodeShape) -> Option<String> {
    if text.chars().count() > 64 {
        return None;
    }
    let code: String = text
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '\u{a0}'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let fits = if shape.alphanumeric {
        code.chars().all(|c| c.is_ascii_alphanumeric())
    } else {
        code.chars().all(|c| c.is_ascii_digit())
    };
    (fits && code.len() == usize::from(shape.length)).then_some(code)
}

/// Every distinct code of `shape` written in `text`, in order. Digits may be grouped by one
/// space, hyphen or no-break space (`12 34`); a run of several whole codes (`1234 5678`)
/// gives each. Alphanumeric codes are words of the code's length holding a digit.
pub fn codes(text: &str, shape: CodeShape) -> Vec<Value> {
    let length = usize::from(shape.length);
    let mut found: Vec<String> = Vec::new();
    let mut push = |code: String| {
        if !found.contains(&code) {
            found.push(code);
        }
    };
    if shape.alphanumeric {
        for token in text.split(|c: char| !c.is_ascii_alphanumeric()) {
            if token.len() == length && token.bytes().any(|b| b.is_ascii_digit()) {
                push(token.to_ascii_uppercase());
            }
        }
    } else {
        let chars: Vec<char> = text.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            if !chars[i].is_ascii_digit() {
                i += 1;
                continue;
            }
            let mut groups: Vec<String> = vec![String::new()];
            while i < chars.len() {
                let c = chars[i];
                if c.is_ascii_digit() {
                    if let Some(group) = groups.last_mut() {
                        group.push(c);
                    }
                    i += 1;
                } else if matches!(c, ' ' | '-' | '\u{a0}')
                    && chars.get(i + 1).is_some_and(char::is_ascii_digit)
                {
                    groups.push(String::new());
                    i += 1;
                } else {
                    break;
                }
            }
            let digits: usize = groups.iter().map(String::len).sum();
            if digits == length {
                push(groups.concat());
            } else if groups.len() > 1 && groups.iter().all(|g| g.len() == length) {
                groups.into_iter().for_each(&mut push);
            }
        }
    }
    found.into_iter().map(Value::Text).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_tolerate_separators() {
        let shape = CodeShape::default();
        assert_eq!(normalise_code("12 34", shape).as_deref(), Some("1234"));
        assert_eq!(normalise_code("12-34", shape).as_deref(), Some("1234"));
        assert_eq!(normalise_code(" 0042 ", shape).as_deref(), Some("0042"));
        assert_eq!(normalise_code("123", shape), None);
        assert_eq!(normalise_code("12a4", shape), None);
        assert_eq!(normalise_code("١٢٣٤", shape), None, "only ASCII digits");
        let alnum = CodeShape {
            length: 4,
            alphanumeric: true,
        };
        assert_eq!(normalise_code("ab-2c", alnum).as_deref(), Some("AB2C"));
    }
}
