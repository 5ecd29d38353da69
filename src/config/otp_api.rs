//! `otp_api:` — one-time codes as a service, without a dialog: the native routes and the
//! seed-compatible shapes.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtpApiConfig {
    /// Serve `POST /v1/otp` and `POST /v1/otp/verify`.
    pub enabled: bool,
    /// Serve Capillary's `POST /v2/otp/generate` and `POST /v2/otp/validate`.
    pub capillary: bool,
    /// Serve eGov DIGIT's `POST /otp/v1/_create`, `_validate` and `_search`.
    pub digit: bool,
}

impl Default for OtpApiConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            capillary: false,
            digit: false,
        }
    }
}
