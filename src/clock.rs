//! The clock, injected everywhere time matters, so tests can skip five minutes without
//! sleeping and the pure core never reads the system time.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::duration::format_duration;

pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

/// Wall-clock time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    /// A clock at a fixed, round instant (2030-01-01T00:00:00Z), so runs are reproducible.
    pub fn at_epoch() -> Self {
        Self::new(DateTime::from_timestamp(1_893_456_000, 0).unwrap_or_default())
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += TimeDelta::from_std(by).unwrap_or(TimeDelta::MAX);
    }

    pub fn set(&self, to: DateTime<Utc>) {
        *self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Another clock (the wall clock by default) plus an offset that can only grow: lets
/// `colloquy chat` skip ahead (`/wait 5m`) and a dev server's `POST /v1/dev/clock` move time
/// to try expiry paths without waiting. Everything reading the engine's clock moves with it.
#[derive(Debug)]
pub struct OffsetClock {
    base: Arc<dyn Clock>,
    offset: Mutex<TimeDelta>,
}

/// A skip that would take the clock further ahead than [`OffsetClock::MAX_OFFSET`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooFarAhead {
    /// How far ahead the clock is already.
    pub ahead: Duration,
}

impl fmt::Display for TooFarAhead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the clock moves at most {} ahead in all, and it is {} ahead already",
            format_duration(OffsetClock::MAX_OFFSET),
            format_duration(self.ahead)
        )
    }
}

impl std::error::Error for TooFarAhead {}

impl OffsetClock {
    /// How far ahead of its base the clock may run: far beyond any lifetime the engine
    /// keeps, and far from the end of time, so adding the offset never overflows.
    pub const MAX_OFFSET: Duration = Duration::from_secs(10 * 366 * 86_400);

    /// `base`'s time plus an offset that starts at zero.
    pub fn over(base: Arc<dyn Clock>) -> Self {
        Self {
            base,
            offset: Mutex::new(TimeDelta::zero()),
        }
    }

    /// The clock this one runs ahead of.
    pub fn base(&self) -> &Arc<dyn Clock> {
        &self.base
    }

    /// How far ahead of its base the clock runs.
    pub fn offset(&self) -> Duration {
        self.lock().to_std().unwrap_or_default()
    }

    /// Moves the clock `by` further ahead; the offset it runs ahead by from then on.
    pub fn skip(&self, by: Duration) -> Result<Duration, TooFarAhead> {
        let mut offset = self.lock();
        let ahead = offset.to_std().unwrap_or_default();
        let moved = ahead
            .checked_add(by)
            .filter(|moved| *moved <= Self::MAX_OFFSET)
            .ok_or(TooFarAhead { ahead })?;
        *offset = TimeDelta::from_std(moved).map_err(|_| TooFarAhead { ahead })?;
        Ok(moved)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TimeDelta> {
        self.offset
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Default for OffsetClock {
    /// Wall-clock time plus the offset.
    fn default() -> Self {
        Self::over(Arc::new(SystemClock))
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> DateTime<Utc> {
        self.base.now() + *self.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::at_epoch();
        let t0 = clock.now();
        assert_eq!(clock.now(), t0);
        clock.advance(Duration::from_secs(300));
        assert_eq!(clock.now() - t0, TimeDelta::seconds(300));
    }

    #[test]
    fn an_offset_clock_runs_ahead_of_its_base_and_moves_with_it() {
        let base = Arc::new(ManualClock::at_epoch());
        let clock = OffsetClock::over(base.clone());
        let t0 = base.now();
        assert_eq!(clock.now(), t0);
        assert_eq!(
            clock.skip(Duration::from_secs(300)),
            Ok(Duration::from_secs(300))
        );
        assert_eq!(
            clock.skip(Duration::from_secs(60)),
            Ok(Duration::from_secs(360))
        );
        assert_eq!(clock.now() - t0, TimeDelta::seconds(360));
        base.advance(Duration::from_secs(1));
        assert_eq!(clock.now() - t0, TimeDelta::seconds(361));
        assert_eq!(clock.offset(), Duration::from_secs(360));
    }

    #[test]
    fn an_offset_clock_refuses_to_run_too_far_ahead() {
        let clock = OffsetClock::over(Arc::new(ManualClock::at_epoch()));
        let ahead = Duration::from_secs(60);
        clock.skip(ahead).unwrap();
        for by in [OffsetClock::MAX_OFFSET, Duration::MAX] {
            assert_eq!(clock.skip(by), Err(TooFarAhead { ahead }));
        }
        assert_eq!(clock.offset(), ahead);
        let rest = OffsetClock::MAX_OFFSET.saturating_sub(ahead);
        assert_eq!(clock.skip(rest), Ok(OffsetClock::MAX_OFFSET));
    }
}
