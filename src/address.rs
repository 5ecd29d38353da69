//! Recipients as validated types ("parse, don't validate"): email addresses and phone
//! numbers.
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
use phonenumber::Mode;
use phonenumber::country::Id as Region;
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

/// The longest label of a host name (RFC 1035).
const MAX_LABEL: usize = 63;

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
        // these; legitimate sign-up addresses never do. (A `match`, not `"…".contains(c)`,
        // which searches with `memchr` for every character.)
        if text.chars().any(|c| {
            c.is_control()
                || c.is_whitespace()
                || matches!(
                    c,
                    '"' | '(' | ')' | ',' | ':' | ';' | '<' | '>' | '[' | ']' | '\\'
                )
        }) {
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
                    // A label of a host name is at most 63 bytes, also once an international
                    // one is written in ASCII (`xn--…`), which can make it longer than it was.
                    || label.len() > MAX_LABEL
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

/// A phone number that can receive a text: valid for its country, held in E.164
/// (`+447400123456`), which is both how providers take it and its identity for limits.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneAddr(String);

/// Why text is not an acceptable phone number. Each says what to fix; none echoes the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("empty phone number")]
    Empty,
    #[error("a phone number holds only digits, spaces, `+`, `-`, `.` and brackets")]
    InvalidCharacter,
    #[error("too short for a phone number")]
    TooShort,
    #[error("too long for a phone number")]
    TooLong,
    #[error("no country code (+44 …) and no default region to read the number in")]
    NoRegion,
    #[error("the country code belongs to no country")]
    UnknownRegion,
    #[error("not a valid phone number for its country")]
    Invalid,
}

/// The longest text read as a phone number, separators included: no written number needs
/// more, and the parser never sees a long string.
const MAX_PHONE_TEXT: usize = 32;
/// E.164 numbers have at most 15 digits; written with `00` in front, 17.
const PHONE_DIGITS: std::ops::RangeInclusive<usize> = 7..=17;

impl PhoneAddr {
    /// Reads a number written with the usual separators, international (`+44 …`, `0044 …`)
    /// or national in `region`.
    pub fn parse(text: &str, region: Option<Region>) -> Result<Self, PhoneError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(PhoneError::Empty);
        }
        if !text
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '.' | '(' | ')'))
        {
            return Err(PhoneError::InvalidCharacter);
        }
        if text.len() > MAX_PHONE_TEXT {
            return Err(PhoneError::TooLong);
        }
        let digits = text.bytes().filter(u8::is_ascii_digit).count();
        if digits < *PHONE_DIGITS.start() {
            return Err(PhoneError::TooShort);
        }
        if digits > *PHONE_DIGITS.end() {
            return Err(PhoneError::TooLong);
        }
        // A `+` anywhere but first is no number anyone writes.
        if text.rfind('+').is_some_and(|at| at > 0) {
            return Err(PhoneError::InvalidCharacter);
        }
        let international = text
            .strip_prefix("00")
            .filter(|_| !text.starts_with("000"))
            .map(|rest| format!("+{rest}"));
        let text = international.as_deref().unwrap_or(text);
        let region = if text.starts_with('+') {
            None
        } else {
            Some(region.ok_or(PhoneError::NoRegion)?)
        };
        let number = phonenumber::parse(region, text).map_err(|error| match error {
            phonenumber::ParseError::InvalidCountryCode => PhoneError::UnknownRegion,
            phonenumber::ParseError::TooShortAfterIdd | phonenumber::ParseError::TooShortNsn => {
                PhoneError::TooShort
            }
            phonenumber::ParseError::TooLong => PhoneError::TooLong,
            _ => PhoneError::Invalid,
        })?;
        if number.country().id().is_none() && !number.is_valid() {
            return Err(PhoneError::UnknownRegion);
        }
        if !number.is_valid() {
            return Err(PhoneError::Invalid);
        }
        // The E.164 form is what is kept, sent to and read back, so it must be a valid number
        // on its own: a national number whose digits begin with an international prefix
        // (`0)07808…` in the UK) can be valid as written and not once written in E.164.
        // Nor may it be shorter than a number is here: `00` counted among the digits above.
        let e164 = number.format().mode(Mode::E164).to_string();
        if e164.len() - 1 < *PHONE_DIGITS.start() {
            return Err(PhoneError::TooShort);
        }
        if !phonenumber::parse(None, &e164).is_ok_and(|again| again.is_valid()) {
            return Err(PhoneError::Invalid);
        }
        Ok(Self(e164))
    }

    /// E.164: `+447400123456`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used for per-recipient limits: E.164 is already one spelling per number.
    pub fn limit_key(&self) -> String {
        self.0.clone()
    }

    /// The number as it may appear in a log line: `+44******789`.
    pub fn masked(&self) -> String {
        mask_phone(&self.0)
    }

    /// What libphonenumber's metadata knows of the number: its country, its national number
    /// and what kind of line it is.
    pub fn facts(&self) -> PhoneFacts {
        let parsed = phonenumber::parse(None, &self.0).ok();
        let national = parsed.as_ref().map_or_else(String::new, |number| {
            let zeros = "0".repeat(usize::from(number.national().zeros()));
            format!("{zeros}{}", number.national().value())
        });
        PhoneFacts {
            country_code: parsed.as_ref().map_or(0, |n| n.code().value()),
            region: parsed.as_ref().and_then(|n| n.country().id()),
            premium_rate: parsed.as_ref().is_some_and(|n| {
                n.number_type(&phonenumber::metadata::DATABASE) == phonenumber::Type::PremiumRate
            }),
            national,
        }
    }
}

/// What a number's metadata says about it (see [`PhoneAddr::facts`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhoneFacts {
    /// `44` for `+44 7400 123456`.
    pub country_code: u16,
    /// The country (region) the number belongs to, when the metadata says.
    pub region: Option<Region>,
    /// The national significant number, `7400123456`.
    pub national: String,
    /// A premium-rate line: texting it can cost the sender a lot (toll fraud).
    pub premium_rate: bool,
}

impl PhoneFacts {
    /// The country code and the first `digits` of the national number: `+447400` for 4.
    pub fn prefix(&self, digits: usize) -> String {
        let head: String = self.national.chars().take(digits).collect();
        format!("+{}{head}", self.country_code)
    }
}

impl fmt::Debug for PhoneAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneAddr({})", self.masked())
    }
}

impl fmt::Display for PhoneAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Masks a number for logs: the `+` and two digits (about the country), `*` for each digit
/// between, the last three. Too short to keep anything hidden, it is masked entirely.
pub fn mask_phone(number: &str) -> String {
    let digits: Vec<char> = number.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 8 {
        return "***".to_owned();
    }
    let hidden = digits.len() - 5;
    let head: String = digits.iter().take(2).collect();
    let tail: String = digits.iter().skip(2 + hidden).collect();
    format!("+{head}{}{tail}", "*".repeat(hidden))
}

/// Masks a recipient of either kind, as stored in a code's record (an address or E.164).
pub fn mask_recipient(recipient: &str) -> String {
    if recipient.starts_with('+') {
        mask_phone(recipient)
    } else {
        mask_email(recipient)
    }
}

/// A code's recipient: where `otp.send` delivers, and whose limits it charges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recipient {
    Email(EmailAddr),
    Phone(PhoneAddr),
}

impl Recipient {
    pub fn as_str(&self) -> &str {
        match self {
            Recipient::Email(addr) => addr.as_str(),
            Recipient::Phone(number) => number.as_str(),
        }
    }

    pub fn limit_key(&self) -> String {
        match self {
            Recipient::Email(addr) => addr.limit_key(),
            Recipient::Phone(number) => number.limit_key(),
        }
    }

    pub fn masked(&self) -> String {
        match self {
            Recipient::Email(addr) => addr.masked(),
            Recipient::Phone(number) => number.masked(),
        }
    }
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
    fn an_international_domain_too_long_in_ascii_is_refused() {
        // 60 characters in Unicode, 71 once written in ASCII (`xn--…`): no host name. Taken,
        // the address would be refused when read back (a stored recipient, a redelivery).
        let label = format!("{}\u{cfe0}{}a", "b".repeat(40), "b".repeat(18));
        assert_eq!(
            EmailAddr::parse(&format!("x@{label}.com")),
            Err(AddrError::Invalid)
        );
        let fits = EmailAddr::parse("x@b\u{cfe0}b.com").unwrap();
        assert_eq!(EmailAddr::parse(fits.as_str()).unwrap(), fits);
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

    #[allow(clippy::unnecessary_wraps)] // the parser's region argument
    fn gb() -> Option<Region> {
        Some(Region::GB)
    }

    #[test]
    fn phone_numbers_are_held_in_e164_and_masked() {
        for written in [
            "+44 7400 123456",
            "07400 123456",
            "0044 (7400) 123-456",
            "+44.7400.123456",
        ] {
            let number = PhoneAddr::parse(written, gb()).unwrap();
            assert_eq!(number.as_str(), "+447400123456", "{written}");
            assert_eq!(number.limit_key(), "+447400123456");
        }
        let number = PhoneAddr::parse("+44 7911 123789", None).unwrap();
        assert_eq!(number.masked(), "+44*******789");
        assert_eq!(format!("{number:?}"), "PhoneAddr(+44*******789)");
        assert_eq!(mask_phone("+441234567890"), "+44*******890");
        assert_eq!(mask_recipient("+12015550123"), "+12******123");
        assert_eq!(mask_recipient("bob@example.com"), "b***@example.com");
        assert_eq!(mask_phone("+1234"), "***");
    }

    #[test]
    fn a_number_is_only_taken_when_its_e164_form_reads_back() {
        // Valid for libphonenumber as written in the UK, not in the E.164 form it gets.
        let written = "0)078083578)980";
        let parsed = PhoneAddr::parse(written, gb());
        assert_eq!(parsed, Err(PhoneError::Invalid), "{written}");
        // Seven digits with `00` in front, six in E.164: too short to be read back.
        assert_eq!(
            PhoneAddr::parse("0049164 2", None),
            Err(PhoneError::TooShort)
        );
        for written in ["07400 123456", "0044 7400 123456", "+1 201 555 0123"] {
            let number = PhoneAddr::parse(written, gb()).unwrap();
            assert_eq!(PhoneAddr::parse(number.as_str(), None).unwrap(), number);
        }
    }

    #[test]
    fn bad_phone_numbers_get_a_clear_error() {
        let cases: [(&str, PhoneError); 12] = [
            ("", PhoneError::Empty),
            ("07400 12345a", PhoneError::InvalidCharacter),
            ("call 07400123456", PhoneError::InvalidCharacter),
            ("+44 7400 📱 123456", PhoneError::InvalidCharacter),
            ("📱", PhoneError::InvalidCharacter),
            ("+44 123", PhoneError::TooShort),
            ("123456", PhoneError::TooShort),
            ("+44 7400 1234 5678 9012 3", PhoneError::TooLong),
            ("07400 123456", PhoneError::NoRegion),
            ("+999 1234 56789", PhoneError::UnknownRegion),
            ("+44 1234", PhoneError::TooShort),
            ("4+4 7400 123456", PhoneError::InvalidCharacter),
        ];
        for (text, error) in cases {
            let region = if error == PhoneError::NoRegion {
                None
            } else {
                gb()
            };
            assert_eq!(PhoneAddr::parse(text, region), Err(error), "{text:?}");
        }
        assert_eq!(
            PhoneAddr::parse(&"1".repeat(150), gb()),
            Err(PhoneError::TooLong)
        );
        assert_eq!(
            PhoneAddr::parse("+44 0000 000000", None),
            Err(PhoneError::Invalid)
        );
    }

    #[test]
    fn a_number_knows_its_country_prefix_and_kind() {
        let mobile = PhoneAddr::parse("+44 7400 123456", None).unwrap().facts();
        assert_eq!(mobile.country_code, 44);
        assert_eq!(mobile.region, Some(Region::GB));
        assert_eq!(mobile.national, "7400123456");
        assert_eq!(mobile.prefix(4), "+447400");
        assert!(!mobile.premium_rate);
        let premium = PhoneAddr::parse("+44 909 879 0000", None).unwrap().facts();
        assert!(premium.premium_rate, "{premium:?}");
        let india = PhoneAddr::parse("9876543210", Some(Region::IN)).unwrap();
        assert_eq!(india.as_str(), "+919876543210");
        assert_eq!(india.facts().region, Some(Region::IN));
    }
}
