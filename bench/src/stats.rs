//! Latency histograms (hdrhistogram), their percentiles, and the min / median /
//! max summary of repeated measurements.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Longest latency a histogram tracks exactly (one hour); longer ones count as this.
pub const LATENCY_NS_MAX: u64 = 3_600_000_000_000;

/// A histogram of nanoseconds, 1 ns to an hour, 3 significant figures.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_NS_MAX, 3).expect("valid histogram bounds")
}

/// Records `elapsed`, clamped into the histogram's range.
pub fn record_ns(histogram: &mut Histogram<u64>, elapsed: Duration) {
    let ns = (elapsed.as_nanos().min(u128::from(LATENCY_NS_MAX)) as u64).max(1);
    histogram.saturating_record(ns);
}

/// Megabytes (10^6 bytes) per second.
pub fn mb_per_s(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / elapsed.as_secs_f64().max(1e-9) / 1e6
}

/// The latency percentiles every result reports, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Operations measured.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p99_9: f64,
    /// 99.99th percentile.
    pub p99_99: f64,
    /// Largest value seen.
    pub max: f64,
}

/// The quantiles of [`Percentiles`], with their labels, in order: what the
/// latency curve of the HTML report plots.
pub const QUANTILES: [(&str, f64); 5] = [
    ("p50", 0.5),
    ("p90", 0.9),
    ("p99", 0.99),
    ("p99.9", 0.999),
    ("p99.99", 0.9999),
];

impl Percentiles {
    /// The percentiles of a nanosecond histogram, in microseconds; `None` when empty.
    pub fn of(histogram: &Histogram<u64>) -> Option<Percentiles> {
        if histogram.is_empty() {
            return None;
        }
        let us = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
        Some(Percentiles {
            count: histogram.len(),
            p50: us(0.5),
            p90: us(0.9),
            p99: us(0.99),
            p99_9: us(0.999),
            p99_99: us(0.9999),
            max: histogram.max() as f64 / 1000.0,
        })
    }

    /// The values in the order of [`QUANTILES`], then max.
    pub fn values(&self) -> [f64; 6] {
        [
            self.p50,
            self.p90,
            self.p99,
            self.p99_9,
            self.p99_99,
            self.max,
        ]
    }
}

/// Minimum, median and maximum of repeated measurements of one figure.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// Smallest.
    pub min: f64,
    /// Median (the mean of the middle two for an even count).
    pub median: f64,
    /// Largest.
    pub max: f64,
}

impl Spread {
    /// The spread of `values`; `None` when there are none.
    pub fn of(values: &[f64]) -> Option<Spread> {
        if values.is_empty() {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let middle = sorted.len() / 2;
        let median = if sorted.len() % 2 == 1 {
            sorted[middle]
        } else {
            (sorted[middle - 1] + sorted[middle]) / 2.0
        };
        Some(Spread {
            min: sorted[0],
            median,
            max: sorted[sorted.len() - 1],
        })
    }
}

#[cfg(test)]
mod tests {
    //! The summaries compute what their names say.
    use super::*;

    /// Median of odd and even counts, min and max, and nothing for no values.
    #[test]
    fn spread_is_min_median_max() {
        let odd = Spread::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((odd.min, odd.median, odd.max), (1.0, 2.0, 3.0));
        let even = Spread::of(&[4.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!(even.median, 2.5);
        assert!(Spread::of(&[]).is_none());
    }

    /// Percentiles are in microseconds, ordered, and absent for an empty histogram.
    #[test]
    fn percentiles_are_microseconds_and_ordered() {
        let mut h = histogram();
        assert!(Percentiles::of(&h).is_none());
        for us in 1..=1000u64 {
            record_ns(&mut h, Duration::from_micros(us));
        }
        let p = Percentiles::of(&h).unwrap();
        assert_eq!(p.count, 1000);
        assert!((p.p50 - 500.0).abs() < 2.0, "p50 {}", p.p50);
        assert!((p.max - 1000.0).abs() < 2.0, "max {}", p.max);
        let values = p.values();
        assert!(values.windows(2).all(|w| w[0] <= w[1]), "{values:?}");
    }
}
