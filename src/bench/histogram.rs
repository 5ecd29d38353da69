//! A latency histogram with log-linear buckets (the HdrHistogram layout, in a few lines):
//! exact below 64 ns, then 64 buckets per power of two, so every recorded value is known to
//! within 1.6 %. Recording is an index computation and an increment; each simulated user
//! keeps its own histogram and they are merged at the end, so nothing is shared while timing.

use std::time::Duration;

use serde::Serialize;

/// Sub-buckets per power of two, as a power of two (64).
const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;
/// Buckets up to 2^40 ns (about 18 minutes); longer values land in the last one.
const BUCKETS: usize = (40 - SUB_BITS as usize + 1) << SUB_BITS;

#[derive(Clone, Debug)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
    sum: u128,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            total: 0,
            max: 0,
            sum: 0,
        }
    }
}

fn index(nanos: u64) -> usize {
    let i = if nanos < SUB {
        nanos
    } else {
        let shift = u64::from(nanos.ilog2() - SUB_BITS);
        ((shift + 1) << SUB_BITS) + ((nanos >> shift) - SUB)
    };
    usize::try_from(i).map_or(BUCKETS - 1, |i| i.min(BUCKETS - 1))
}

/// The largest value that lands in bucket `i`: percentiles are reported conservatively.
fn upper_bound(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let shift = (i >> SUB_BITS) - 1;
    let top = SUB + (i & (SUB - 1));
    ((top + 1) << shift) - 1
}

impl Histogram {
    pub fn record(&mut self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.counts[index(nanos)] += 1;
        self.total += 1;
        self.max = self.max.max(nanos);
        self.sum += u128::from(nanos);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
        self.sum += other.sum;
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    /// The value at quantile `q` (0–1): the smallest bucket bound with at least `q` of the
    /// samples at or below it. Zero when empty.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.total == 0 {
            return Duration::ZERO;
        }
        // Sample counts stay far below 2^52, so the float round trip is exact enough.
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss
        )]
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Duration::from_nanos(upper_bound(i).min(self.max));
            }
        }
        Duration::from_nanos(self.max)
    }

    pub fn max(&self) -> Duration {
        Duration::from_nanos(self.max)
    }

    pub fn mean(&self) -> Duration {
        if self.total == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(u64::try_from(self.sum / u128::from(self.total)).unwrap_or(u64::MAX))
    }

    pub fn summary(&self) -> Summary {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        Summary {
            count: self.total,
            mean_ms: ms(self.mean()),
            p50_ms: ms(self.quantile(0.50)),
            p90_ms: ms(self.quantile(0.90)),
            p99_ms: ms(self.quantile(0.99)),
            p999_ms: ms(self.quantile(0.999)),
            max_ms: ms(self.max()),
        }
    }
}

/// Percentiles in milliseconds, for reports.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq)]
pub struct Summary {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_tight() {
        let mut previous = None;
        for nanos in (0..100_000_u64).chain([1 << 20, (1 << 30) + 12_345, 1 << 39]) {
            let i = index(nanos);
            assert!(upper_bound(i) >= nanos, "{nanos} above its bucket");
            if nanos >= SUB {
                let lower = upper_bound(i - 1) + 1;
                assert!(lower <= nanos);
                #[allow(clippy::cast_precision_loss)]
                let error = (upper_bound(i) - lower) as f64 / lower as f64;
                assert!(error < 0.016, "bucket of {nanos} too wide: {error}");
            }
            if let Some(p) = previous {
                assert!(i == p || i == p + 1 || nanos > 100_000);
            }
            previous = Some(i);
        }
    }

    #[test]
    fn quantiles_merge_and_bound() {
        let mut a = Histogram::default();
        let mut b = Histogram::default();
        for micros in 1..=100 {
            a.record(Duration::from_micros(micros));
        }
        b.record(Duration::from_millis(50));
        a.merge(&b);
        assert_eq!(a.count(), 101);
        let p50 = a.quantile(0.5);
        assert!(p50 >= Duration::from_micros(51) && p50 <= Duration::from_micros(52));
        assert_eq!(a.quantile(1.0), Duration::from_millis(50));
        assert_eq!(a.max(), Duration::from_millis(50));
        assert_eq!(Histogram::default().quantile(0.99), Duration::ZERO);
    }
}
