//! `email`: an email address, anywhere in the sentence.
//!
//! Accepts "sure, it's Bob.Smith@Example.com thanks", `<bob@example.com>`,
//! `mailto:bob@example.com`, `email: bob@example.com`, with quotes, brackets and punctuation
//! around it; saved valid and header-safe, the domain lower-cased (`address.rs`). Two different
//! addresses in one message are asked about; the same one twice (in another case) is one.
//!
//! An address whose domain is one letter away from a common mail domain (`gmial.com`,
//! `gmai.com`, `hotmial.com`, `yahooo.com`; two letters for long names) or that ends in a
//! mistyped `.com` (`.con`, `.cmo`) is offered corrected ("Did you mean bob@gmail.com?"),
//! and the user's yes or no decides. Domains in `email.suggest_domains` count as right.

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

    /// `bob@gmail`, `bob(at)gmail`, "bob at gmail dot com".
    fn resembles(&self, text: &str) -> bool {
        let lower = text.to_lowercase();
        let word = |w: &str| lower.split(|c: char| !c.is_alphanumeric()).any(|x| x == w);
        text.contains('@') || lower.contains("(at)") || (word("at") && word("dot"))
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

    fn suggest(&self, value: &Value, hearing: &Hearing<'_>) -> Option<Value> {
        let Value::Text(address) = value else {
            return None;
        };
        let (local, domain) = address.rsplit_once('@')?;
        let corrected = corrected_domain(domain, hearing.email_domains)?;
        Some(Value::Text(format!("{local}@{corrected}")))
    }
}

/// Mail domains many people have, and so many people mistype.
const COMMON_DOMAINS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "yahoo.co.uk",
    "yahoo.fr",
    "ymail.com",
    "rocketmail.com",
    "hotmail.com",
    "hotmail.co.uk",
    "hotmail.fr",
    "hotmail.de",
    "outlook.com",
    "outlook.fr",
    "live.com",
    "live.co.uk",
    "live.fr",
    "msn.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "aol.com",
    "aim.com",
    "protonmail.com",
    "proton.me",
    "gmx.com",
    "gmx.de",
    "gmx.net",
    "web.de",
    "mail.com",
    "mail.ru",
    "yandex.ru",
    "orange.fr",
    "free.fr",
    "laposte.net",
    "wanadoo.fr",
    "sfr.fr",
    "btinternet.com",
    "sky.com",
    "comcast.net",
    "verizon.net",
    "att.net",
    "qq.com",
    "163.com",
];

/// Misspellings of `com` that are no top-level domain.
const COM_TYPOS: &[&str] = &[
    "con", "cmo", "cpm", "xom", "vom", "comm", "ocm", "cim", "coom",
];

/// The domain `domain` was probably meant to be, when it is a near miss of a common or
/// configured one (the nearest; the first listed on a tie) or ends in a misspelt `.com`.
fn corrected_domain(domain: &str, configured: &[String]) -> Option<String> {
    let known = || {
        COMMON_DOMAINS
            .iter()
            .copied()
            .chain(configured.iter().map(String::as_str))
    };
    if known().any(|d| d.eq_ignore_ascii_case(domain)) {
        return None;
    }
    let letters = domain.is_ascii().then(|| Letters::of(domain));
    let nearest = known()
        // Cheap checks first, this runs for every address typed: the lengths, then the
        // letters each has that the other lacks (each edit changes at most one on each side,
        // a swap none), which rule out nearly every common domain before the distance.
        .filter(|d| d.len().abs_diff(domain.len()) <= 2)
        .filter_map(|d| {
            let allowed = if d.len() >= 10 { 2 } else { 1 };
            if let Some(letters) = &letters
                && d.is_ascii()
                && letters.differ_by_more_than(d, allowed)
            {
                return None;
            }
            // Optimal string alignment: edits and adjacent swaps (`gmial`), no allocation
            // beyond its two rows.
            let distance = strsim::osa_distance(domain, d);
            (distance <= allowed).then_some((distance, d))
        })
        .min_by_key(|(distance, _)| *distance);
    if let Some((_, d)) = nearest {
        return Some(d.to_owned());
    }
    let (name, tld) = domain.rsplit_once('.')?;
    COM_TYPOS.contains(&tld).then(|| format!("{name}.com"))
}

/// How often each byte occurs in an ASCII domain: the bag of its letters.
struct Letters([u8; 128]);

impl Letters {
    fn of(ascii: &str) -> Self {
        let mut counts = [0_u8; 128];
        for byte in ascii.bytes() {
            let count = &mut counts[usize::from(byte & 0x7f)];
            *count = count.saturating_add(1);
        }
        Self(counts)
    }

    /// Whether the bag distance to `other` (ASCII) — the larger of the letters only this bag
    /// has and those only `other` has — passes `limit`. It never exceeds the optimal string
    /// alignment distance, so a pair it rules out is not within `limit` edits.
    fn differ_by_more_than(&self, other: &str, limit: usize) -> bool {
        let mut counts = self.0;
        let mut only_other = 0;
        for byte in other.bytes() {
            let count = &mut counts[usize::from(byte & 0x7f)];
            if *count == 0 {
                only_other += 1;
                if only_other > limit {
                    return true;
                }
            } else {
                *count -= 1;
            }
        }
        let only_self: usize = counts.iter().map(|&n| usize::from(n)).sum();
        only_self > limit
    }
}

/// What may wrap an address in a sentence, before and after it. Slices of characters, not
/// strings: `"…".contains(c)` searches with `memchr` for every character of every token.
const OPENING: &[char] = &['"', '\'', '“', '”', '‘', '’', '«', '»', '<', '(', '[', '{'];
const CLOSING: &[char] = &[
    '"', '\'', '“', '”', '‘', '’', '«', '»', '>', ')', ']', '}', ',', ';', ':', '!', '?', '.',
];

/// Every distinct email address written in `text`, in order. A token is stripped of quotes,
/// brackets and punctuation around it, of `mailto:` and of a `label:` before the address.
pub fn emails(text: &str) -> Vec<Value> {
    let mut found: Vec<(String, Value)> = Vec::new();
    for token in text.split_whitespace() {
        if !token.contains('@') {
            continue;
        }
        let token = token.trim_start_matches(OPENING).trim_end_matches(CLOSING);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_letters_check_never_rules_out_a_near_miss() {
        // Every pair of short words over a small alphabet, where near misses abound: when
        // the bag distance rules a pair out, the alignment distance agrees.
        let words: Vec<String> = (0..3_usize.pow(5))
            .flat_map(|n| {
                (1..=5).map(move |len| {
                    (0..len)
                        .map(|i| ['a', 'b', 'c'][(n / 3_usize.pow(i)) % 3])
                        .collect::<String>()
                })
            })
            .collect();
        let mut ruled_out = 0;
        for a in &words {
            let letters = Letters::of(a);
            for b in words.iter().step_by(7) {
                for limit in [1, 2] {
                    if letters.differ_by_more_than(b, limit) {
                        ruled_out += 1;
                        assert!(strsim::osa_distance(a, b) > limit, "{a} {b} {limit}");
                    }
                }
            }
        }
        assert!(ruled_out > 10_000, "{ruled_out}");
    }

    #[test]
    fn near_misses_of_common_domains_are_corrected() {
        let corrected = |domain| corrected_domain(domain, &[]);
        assert_eq!(corrected("gmial.com").as_deref(), Some("gmail.com"));
        assert_eq!(corrected("gmai.com").as_deref(), Some("gmail.com"));
        assert_eq!(corrected("gnail.com").as_deref(), Some("gmail.com"));
        assert_eq!(corrected("hotmial.com").as_deref(), Some("hotmail.com"));
        assert_eq!(corrected("yahooo.com").as_deref(), Some("yahoo.com"));
        assert_eq!(corrected("outlok.com").as_deref(), Some("outlook.com"));
        assert_eq!(corrected("icloud.con").as_deref(), Some("icloud.com"));
        assert_eq!(corrected("example.con").as_deref(), Some("example.com"));
        assert_eq!(
            corrected("googlemial.com").as_deref(),
            Some("googlemail.com")
        );
        for right in [
            "gmail.com",
            "ymail.com",
            "example.com",
            "example.co",
            "ox.ac.uk",
            "gmx.de",
        ] {
            assert_eq!(corrected(right), None, "{right}");
        }
        let configured = ["gmial.com".to_owned()];
        assert_eq!(corrected_domain("gmial.com", &configured), None);
        assert_eq!(
            corrected_domain("acme-mial.com", &["acme-mail.com".to_owned()]).as_deref(),
            Some("acme-mail.com")
        );
    }
}
