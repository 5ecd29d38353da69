//! The SendGrid API key: checked once at start-up, sent only as the bearer header, never
//! printed. `Debug` shows `[redacted]`, and no error message ever contains the key.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

use crate::config::Secret;

/// A SendGrid API key whose shape has been checked.
#[derive(Clone)]
pub struct ApiKey(SecretString);

/// Why the configured key cannot be used. The messages tell an operator what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "`email.provider` is `sendgrid` but SENDGRID_API_KEY is not set: create an API key with the \"Mail Send\" permission (SendGrid → Settings → API Keys) and export it as SENDGRID_API_KEY"
    )]
    Missing,
    #[error(
        "SENDGRID_API_KEY does not look like a SendGrid API key: it should start with `SG.` and be a single token of letters, digits, `.`, `_` and `-` (check for quotes, spaces or a truncated copy)"
    )]
    Malformed,
}

impl ApiKey {
    const PREFIX: &str = "SG.";
    /// Real keys are about 69 characters; anything this short is a placeholder or a typo.
    const MIN_LEN: usize = 24;
    const MAX_LEN: usize = 256;

    /// Checks the key read from the environment. The check is about shape only: whether
    /// SendGrid accepts the key shows on the first send (401, logged for the operator).
    pub fn parse(value: Option<&Secret>) -> Result<Self, KeyError> {
        let value = value.ok_or(KeyError::Missing)?.expose().expose_secret();
        let well_formed = value.starts_with(Self::PREFIX)
            && (Self::MIN_LEN..=Self::MAX_LEN).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if well_formed {
            Ok(Self(SecretString::from(value)))
        } else {
            Err(KeyError::Malformed)
        }
    }

    /// The key itself, for the `Authorization` header only.
    pub(super) fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Assembled at run time: no realistic key is ever written in the source.
    fn key(body: &str) -> Secret {
        Secret::new(&format!("SG.{body}"))
    }

    #[test]
    fn a_missing_key_names_the_variable() {
        let error = ApiKey::parse(None).unwrap_err();
        assert_eq!(error, KeyError::Missing);
        assert!(error.to_string().contains("SENDGRID_API_KEY"));
    }

    #[test]
    fn only_well_shaped_keys_are_accepted() {
        assert!(ApiKey::parse(Some(&key("colloquy-test-key-0123456789"))).is_ok());
        for bad in [
            Secret::new("colloquy-test-key-0123456789"), // no SG. prefix
            key("short"),
            key("colloquy test key 0123456789"), // spaces
            Secret::new("\"SG.colloquy-test-key-0123456789\""), // quoted
            key(&"x".repeat(300)),
        ] {
            assert_eq!(ApiKey::parse(Some(&bad)).unwrap_err(), KeyError::Malformed);
        }
    }

    #[test]
    fn neither_debug_nor_errors_show_the_key() {
        let secret = key("colloquy-test-key-0123456789");
        let parsed = ApiKey::parse(Some(&secret)).unwrap();
        assert_eq!(format!("{parsed:?}"), "ApiKey([redacted])");
        let malformed = key("colloquy test key");
        let error = ApiKey::parse(Some(&malformed)).unwrap_err().to_string();
        assert!(!error.contains("colloquy"), "{error}");
    }
}
