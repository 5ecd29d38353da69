//! Addresses as the OTP APIs, FlowX and DIGIT give them: an email address and a phone number
//! (national in the region the first byte picks, or international) parsed, then masked for
//! logs. A parsed address parses again to itself, and its masked form hides it.

#![no_main]

use colloquy::address::{self, EmailAddr, PhoneAddr};
use colloquy::dialog::entities::parse_region;
use libfuzzer_sys::fuzz_target;

const REGIONS: [&str; 5] = ["GB", "IN", "US", "FR", "DE"];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    if let Ok(email) = EmailAddr::parse(text) {
        let again = EmailAddr::parse(email.as_str()).expect("a parsed address parses again");
        assert_eq!(again.as_str(), email.as_str());
        assert!(email.as_str().ends_with(email.domain()));
        let masked = email.masked();
        assert!(
            masked.len() < email.as_str().len() + 8 && masked.contains('*'),
            "{masked}"
        );
        let _ = email.limit_key();
    }
    let region = parse_region(REGIONS[usize::from(pick) % REGIONS.len()]);
    if let Ok(phone) = PhoneAddr::parse(text, region) {
        let number = phone.as_str();
        assert!(number.starts_with('+') && number[1..].bytes().all(|b| b.is_ascii_digit()));
        let again = PhoneAddr::parse(number, None).expect("E.164 parses again");
        assert_eq!(again.as_str(), number);
        let facts = phone.facts();
        assert!(number.starts_with(&facts.prefix(0)), "{facts:?}");
        assert!(!phone.masked().contains(&number[3..]));
    }
    let _ = address::mask_email(text);
    let _ = address::mask_emails_in(text);
    let _ = address::mask_phone(text);
    let _ = address::mask_recipient(text);
});
