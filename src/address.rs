//! Email addresses as a validated type ("parse, don't validate").
//!
//! An [`EmailAddr`] is trimmed, has a lower-cased domain, and can safely be put in a mail
//! header: CR, LF, other control characters, quoting, comments and domain literals are
//! refused, so no user input can smuggle a second header or recipient into a message.
//!
//! Look-alike spellings are one address: the text is put in Unicode compatibility form
//! (NFKC: fullwidth `ｂｏｂ＠ｅｘａｍｐｌｅ．ｃｏｍ` is `bob@example.com`) and an internationalised
//! domain in its ASCII form (`bücher.de` is `xn--bcher-kva.de`, IDNA/UTS 46), so each has one
//! identity and one set of limits, and every domain sent to a provider is plain ASCII.

use std::fmt;

use email_address::{EmailAddress, Options};
use unicode_normalization::UnicodeNormalization;

/// A syntactically valid, header-safe email address.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailAddr(String);

/// Why text is not an acceptable email address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AddrError {
    #[error("empty address")]
    Empty,
    #[error("address longer than 254 characters")]
    TooLong,
    #[error("address contains characters not allowed in a mail header")]
    UnsafeCharacter,
    #[error("not an email address")]
    Invalid,
}

const MAX_LEN: usize = 254;

impl EmailAddr {
    pub fn parse(text: &str) -> Result<Self, AddrError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(AddrError::Empty);
        }
        // Checked before and after normalising: NFKC can only lengthen text a little.
        if text.len() > MAX_LEN {
            return Err(AddrError::TooLong);
        }
        let normalised: String;
        let text = if text.is_ascii() {
            text
        } else {
            normalised = text.nfkc().collect();
            normalised.as_str()
        };
        if text.len() > MAX_LEN {
            return Err(AddrError::TooLong);
        }
        // Quoted local parts, comments, display names and several recipients all need one of
        // these; legitimate sign-up addresses never do.
        if text
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || "\"(),:;<>[]\\".contains(c))
        {
            return Err(AddrError::UnsafeCharacter);
        }
        let options = Options::default()
            .without_display_text()
            .without_domain_literal()
            .with_required_tld();
        let parsed =
            EmailAddress::parse_with_options(text, options).map_err(|_| AddrError::Invalid)?;
        let local = parsed.local_part();
        let domain = if parsed.domain().is_ascii() {
            parsed.domain().to_ascii_lowercase()
        } else {
            idna::domain_to_ascii(parsed.domain()).map_err(|_| AddrError::Invalid)?
        };
        if domain.len() > MAX_LEN || local.len() + 1 + domain.len() > MAX_LEN {
            return Err(AddrError::TooLong);
        }
        if domain.split('.').any(|label| {
            label.is_empty()
                    || label.starts_with('-')
                    || label.ends_with('-')
                    // Host names are letters, digits and hyphens (`exam_ple.com` is none).
                    || !label.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
        }) {
            return Err(AddrError::Invalid);
        }
        // A top-level domain has letters: `a@127.0.0.1` is an IP address, not a mail domain.
        let tld = domain.rsplit('.').next().unwrap_or_default();
        if tld.chars().filter(|c| c.is_alphabetic()).count() < 2 {
            return Err(AddrError::Invalid);
        }
        Ok(Self(format!("{local}@{domain}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }

    /// The form used for per-address limits: the whole address lower-cased, since mailbox
    /// providers treat local parts case-insensitively in practice.
    pub fn limit_key(&self) -> String {
        self.0.to_lowercase()
    }

    /// The address as it may appear in a log line: `a***@example.com`.
    pub fn masked(&self) -> String {
        mask_email(&self.0)
    }
}

impl fmt::Debug for EmailAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmailAddr({})", self.masked())
    }
}

impl fmt::Display for EmailAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Masks an address for logs and support views: the first character of the local part,
/// then `***`, then the domain. Text without `@` is masked entirely.
pub fn mask_email(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

/// Replaces every email address in free text with its masked form (for history views).
pub fn mask_emails_in(text: &str) -> String {
    if !text.contains('@') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let core = word.trim_matches(|c: char| !c.is_alphanumeric());
        if core.contains('@') && !core.is_empty() {
            out.push_str(&word.replace(core, &mask_email(core)));
        } else {
            out.push_str(word);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises() {
        let a = EmailAddr::parse("  Alice.Smith@Example.COM ").unwrap();
        assert_eq!(a.as_str(), "Alice.Smith@example.com");
        assert_eq!(a.limit_key(), "alice.smith@example.com");
        assert_eq!(a.masked(), "A***@example.com");
    }

    #[test]
    fn refuses_header_injection_and_oddities() {
        for bad in [
            "a@example.com\r\nBcc: x@evil.com",
            "a@example.com\nx",
            "a@example.com, b@example.com",
            "\"a b\"@example.com",
            "a@[127.0.0.1]",
            "Alice <a@example.com>",
            "a@localhost",
            "a@-example.com",
            "plainaddress",
            "",
            "a@b@c.com",
        ] {
            assert!(EmailAddr::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(
            EmailAddr::parse(&format!("{}@example.com", "a".repeat(250))),
            Err(AddrError::TooLong)
        );
    }

    #[test]
    fn look_alike_spellings_are_one_address() {
        let fullwidth = EmailAddr::parse("ｂｏｂ＠ｅｘａｍｐｌｅ．ｃｏｍ").unwrap();
        assert_eq!(fullwidth.as_str(), "bob@example.com");
        let idn = EmailAddr::parse("anna@Bücher.de").unwrap();
        assert_eq!(idn.as_str(), "anna@xn--bcher-kva.de");
        assert_eq!(
            EmailAddr::parse("anna@xn--bcher-kva.de")
                .unwrap()
                .limit_key(),
            idn.limit_key()
        );
        // A ligature in the local part is its letters.
        assert_eq!(
            EmailAddr::parse("ﬁona@example.com").unwrap().as_str(),
            "fiona@example.com"
        );
        // NFKC cannot smuggle in what the raw text may not hold.
        assert!(EmailAddr::parse("a@example.com﹐b@example.com").is_err());
        assert!(
            EmailAddr::parse("a@１２７.０.０.１").is_err(),
            "an IP address"
        );
    }

    #[test]
    fn accepts_common_addresses() {
        for good in [
            "a@b.co",
            "first.last+tag@sub.example.org",
            "x_y-z@example.io",
        ] {
            assert!(EmailAddr::parse(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn masks_addresses_in_text() {
        assert_eq!(
            mask_emails_in("I emailed bob@example.com."),
            "I emailed b***@example.com."
        );
        assert_eq!(mask_emails_in("no address"), "no address");
    }
}
