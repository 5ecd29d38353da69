//! The toll-fraud guard every text passes before it is handed to a sender (after Twilio's
//! Fraud Guard): texts go only to the countries allowed, never to premium-rate numbers, and
//! no more than a cap per hour to one number prefix (the country code and the first digits of
//! the national number: SMS pumping walks through a range of numbers) and in all.
//!
//! The caps are counted in the shared [`Counters`] port, so every instance sharing a Redis
//! store counts against the same totals; a text that does not go out is given back.
//!
//! Must not: log a full number (the engine logs the masked one and the reason); send anything.

use std::time::Duration;

use phonenumber::country::Id as Region;

use crate::address::PhoneAddr;
use crate::config::{Countries, SmsConfig};
use crate::dialog::entities::parse_region;
use crate::store::{Counters, Permit, RateLimit, StoreError};

/// An hour: the caps' window.
const HOUR: Duration = Duration::from_secs(3600);

/// Why a text was not sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockReason {
    /// The number's country is not in `sms.guard.countries`.
    Country,
    /// A premium-rate number.
    PremiumRate,
    /// `sms.guard.max_per_prefix_per_hour` texts went to numbers of this prefix.
    PrefixCap,
    /// `sms.guard.max_per_hour` texts went out in all.
    GlobalCap,
}

impl BlockReason {
    /// The label of `colloquy_sms_blocked_total{reason}` and of the log event.
    pub fn label(self) -> &'static str {
        match self {
            BlockReason::Country => "country",
            BlockReason::PremiumRate => "premium_rate",
            BlockReason::PrefixCap => "prefix_cap",
            BlockReason::GlobalCap => "global_cap",
        }
    }

    /// A cap (it reopens later), not a refusal of the number itself.
    pub fn is_cap(self) -> bool {
        matches!(self, BlockReason::PrefixCap | BlockReason::GlobalCap)
    }

    /// What to tell a caller, without the number.
    pub fn describe(self) -> &'static str {
        match self {
            BlockReason::Country => "texts to this number's country are not enabled on this server",
            BlockReason::PremiumRate => "premium-rate numbers cannot receive codes",
            BlockReason::PrefixCap => {
                "too many texts went to numbers like this one in the last hour"
            }
            BlockReason::GlobalCap => "too many texts went out in the last hour",
        }
    }
}

/// A text the guard stopped: why, and for a cap, when it reopens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocked {
    pub reason: BlockReason,
    pub retry_after: Option<Duration>,
}

/// What the guard charged for one text, to give back if it does not go out.
#[derive(Debug)]
pub struct Admission {
    prefix_key: String,
    prefix: Permit,
    total: Permit,
}

/// The guard, built from `sms.guard` (and `dialogs.phone_region`, the default allow list).
#[derive(Debug, Clone)]
pub struct SmsGuard {
    /// `None`: any country.
    countries: Option<Vec<Region>>,
    prefix_digits: usize,
    per_prefix: RateLimit,
    total: RateLimit,
}

impl SmsGuard {
    pub fn from_config(sms: &SmsConfig, phone_region: Option<&str>) -> Result<Self, String> {
        let countries = match sms.guard.countries(sms.provider, phone_region)? {
            Countries::Any => None,
            Countries::Only(codes) => Some(codes.iter().filter_map(|c| parse_region(c)).collect()),
        };
        Ok(Self {
            countries,
            prefix_digits: usize::from(sms.guard.prefix_digits),
            per_prefix: RateLimit {
                max: sms.guard.max_per_prefix_per_hour,
                window: HOUR,
            },
            total: RateLimit {
                max: sms.guard.max_per_hour,
                window: HOUR,
            },
        })
    }

    /// Whether any country is allowed (the start-up log says so).
    pub fn allows_any_country(&self) -> bool {
        self.countries.is_none()
    }

    /// The refusals that need no counting: a country not allowed, a premium-rate number.
    /// The HTTP routes ask this first, to answer a bad number in their own error shape.
    pub fn check_destination(&self, number: &PhoneAddr) -> Result<(), BlockReason> {
        let facts = number.facts();
        if facts.premium_rate {
            return Err(BlockReason::PremiumRate);
        }
        match (&self.countries, facts.region) {
            (None, _) => Ok(()),
            (Some(allowed), Some(region)) if allowed.contains(&region) => Ok(()),
            _ => Err(BlockReason::Country),
        }
    }

    /// Charges one text to its prefix and to the total, after the destination checks.
    /// A store that cannot count is an error: nothing goes out unchecked.
    pub async fn admit(
        &self,
        counters: &dyn Counters,
        number: &PhoneAddr,
    ) -> Result<Result<Admission, Blocked>, StoreError> {
        if let Err(reason) = self.check_destination(number) {
            return Ok(Err(Blocked {
                reason,
                retry_after: None,
            }));
        }
        let prefix_key = format!(
            "sms:guard:prefix:{}",
            number.facts().prefix(self.prefix_digits)
        );
        let prefix = match counters.acquire(&prefix_key, self.per_prefix).await? {
            Ok(permit) => permit,
            Err(wait) => {
                return Ok(Err(Blocked {
                    reason: BlockReason::PrefixCap,
                    retry_after: Some(wait),
                }));
            }
        };
        let total = match counters.acquire(TOTAL_KEY, self.total).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(wait)) => {
                give_back(counters, &prefix_key, prefix).await;
                return Ok(Err(Blocked {
                    reason: BlockReason::GlobalCap,
                    retry_after: Some(wait),
                }));
            }
            Err(error) => {
                give_back(counters, &prefix_key, prefix).await;
                return Err(error);
            }
        };
        Ok(Ok(Admission {
            prefix_key,
            prefix,
            total,
        }))
    }

    /// Gives back what [`SmsGuard::admit`] charged: the text did not go out.
    pub async fn release(&self, counters: &dyn Counters, admission: Admission) {
        let Admission {
            prefix_key,
            prefix,
            total,
        } = admission;
        give_back(counters, &prefix_key, prefix).await;
        give_back(counters, TOTAL_KEY, total).await;
    }
}

async fn give_back(counters: &dyn Counters, key: &str, permit: Permit) {
    if let Err(error) = counters.refund(key, permit).await {
        tracing::warn!(%error, "sms guard: could not give a text back to its cap");
    }
}

/// The counter of every text.
const TOTAL_KEY: &str = "sms:guard:all";

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;
    use crate::config::SmsGuardConfig;
    use crate::store::MemoryCounters;

    fn guard(countries: &[&str], per_prefix: u32, total: u32) -> SmsGuard {
        let sms = SmsConfig {
            guard: SmsGuardConfig {
                countries: Some(countries.iter().map(|c| (*c).to_owned()).collect()),
                prefix_digits: 4,
                max_per_prefix_per_hour: per_prefix,
                max_per_hour: total,
            },
            ..SmsConfig::default()
        };
        SmsGuard::from_config(&sms, None).unwrap()
    }

    fn number(text: &str) -> PhoneAddr {
        PhoneAddr::parse(text, None).unwrap()
    }

    #[test]
    fn countries_and_premium_rate_numbers_are_refused() {
        let uk = guard(&["GB"], 10, 10);
        assert_eq!(uk.check_destination(&number("+44 7400 123456")), Ok(()));
        assert_eq!(
            uk.check_destination(&number("+33 6 12 34 56 78")),
            Err(BlockReason::Country)
        );
        assert_eq!(
            uk.check_destination(&number("+44 909 879 0000")),
            Err(BlockReason::PremiumRate)
        );
        let any = guard(&["*"], 10, 10);
        assert!(any.allows_any_country());
        assert_eq!(any.check_destination(&number("+33 6 12 34 56 78")), Ok(()));
    }

    #[tokio::test]
    async fn caps_count_per_prefix_and_in_all_and_give_back_what_was_not_sent() {
        let clock = Arc::new(ManualClock::at_epoch());
        let counters = MemoryCounters::new(clock.clone());
        let guard = guard(&["GB"], 2, 3);
        let a = number("+44 7400 123456");
        let b = number("+44 7400 654321");
        let other = number("+44 7900 123456");
        assert!(guard.admit(&counters, &a).await.unwrap().is_ok());
        let second = guard.admit(&counters, &b).await.unwrap().unwrap();
        let blocked = guard.admit(&counters, &a).await.unwrap().unwrap_err();
        assert_eq!(blocked.reason, BlockReason::PrefixCap);
        assert!(blocked.retry_after.is_some());
        guard.release(&counters, second).await;
        assert!(
            guard.admit(&counters, &b).await.unwrap().is_ok(),
            "given back"
        );
        let o = guard.admit(&counters, &other).await.unwrap();
        assert!(o.is_ok(), "{o:?}");
        let total = guard
            .admit(&counters, &number("+44 7500 000123"))
            .await
            .unwrap();
        assert_eq!(total.unwrap_err().reason, BlockReason::GlobalCap);
        clock.advance(HOUR);
        assert!(
            guard.admit(&counters, &a).await.unwrap().is_ok(),
            "an hour later"
        );
    }
}
