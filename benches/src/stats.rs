//! What one run measures and the summary of a cell's runs: the bottom of
//! the harness, used by every other module.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What a workload measures; lower is better in every unit. Written to
/// results.json as `ns`, `bytes` or `ns/op`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unit {
    /// Wall-clock time of one run.
    #[serde(rename = "ns")]
    Time,
    /// Bytes (per unit of work).
    #[serde(rename = "bytes")]
    Bytes,
    /// Nanoseconds per operation (per message, Go's ns/op).
    #[serde(rename = "ns/op")]
    PerOp,
}

/// The result of one run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Measurement {
    /// Elapsed wall-clock time.
    Time(Duration),
    /// Bytes (may be fractional, e.g. an average per task).
    Bytes(f64),
    /// A latency read off a run (a percentile), not the run's length: one
    /// run is never repeated to fill the run target.
    Latency(Duration),
    /// `ops` operations (messages) that took `elapsed` in all.
    PerOp {
        /// Wall-clock time of the whole run.
        elapsed: Duration,
        /// Operations done in that time (> 0).
        ops: u64,
    },
}

impl Measurement {
    /// The unit of this measurement.
    pub fn unit(&self) -> Unit {
        match self {
            Measurement::Time(_) | Measurement::Latency(_) => Unit::Time,
            Measurement::Bytes(_) => Unit::Bytes,
            Measurement::PerOp { .. } => Unit::PerOp,
        }
    }

    /// The value as a number: nanoseconds for time, bytes for bytes,
    /// nanoseconds per operation for per-op (NaN when `ops` is 0).
    pub fn value(&self) -> f64 {
        match *self {
            Measurement::Time(d) | Measurement::Latency(d) => d.as_secs_f64() * 1e9,
            Measurement::Bytes(b) => b,
            Measurement::PerOp { ops: 0, .. } => f64::NAN,
            Measurement::PerOp { elapsed, ops } => elapsed.as_secs_f64() * 1e9 / ops as f64,
        }
    }

    /// How long the run took, in nanoseconds, when it is a timed run
    /// (`None` for bytes and latencies). Sizes the number of iterations per run.
    pub fn elapsed_ns(&self) -> Option<f64> {
        match *self {
            Measurement::Time(d) | Measurement::PerOp { elapsed: d, .. } => {
                Some(d.as_secs_f64() * 1e9)
            }
            Measurement::Bytes(_) | Measurement::Latency(_) => None,
        }
    }
}

/// Median, minimum and maximum of a set of samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The median; for an even number of samples, the mean of the two middle ones.
    pub median: f64,
    /// The smallest sample.
    pub min: f64,
    /// The largest sample.
    pub max: f64,
    /// How many samples were summarised.
    #[serde(rename = "runs")]
    pub count: usize,
}

impl Summary {
    /// Summarises `samples`; `None` when there are none or one is NaN.
    ///
    /// ```
    /// let s = gort_bench::stats::Summary::of(&[3.0, 1.0, 2.0, 10.0]).unwrap();
    /// assert_eq!((s.median, s.min, s.max), (2.5, 1.0, 10.0));
    /// ```
    pub fn of(samples: &[f64]) -> Option<Summary> {
        if samples.is_empty() || samples.iter().any(|x| x.is_nan()) {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let mid = sorted.len() / 2;
        let median = if sorted.len() % 2 == 1 {
            sorted[mid]
        } else {
            (sorted[mid - 1] + sorted[mid]) / 2.0
        };
        Some(Summary {
            median,
            min: sorted[0],
            max: sorted[sorted.len() - 1],
            count: samples.len(),
        })
    }
}

/// `subject / baseline`, e.g. gort's median over tokio's; `None` when the
/// baseline is zero (or either value is not finite), where a ratio means nothing.
pub fn ratio(subject: f64, baseline: f64) -> Option<f64> {
    if baseline == 0.0 || !subject.is_finite() || !baseline.is_finite() {
        None
    } else {
        Some(subject / baseline)
    }
}

/// Formats a count with thousands separators: `1,000,000`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn median(samples: &[f64]) -> Option<f64> {
        Summary::of(samples).map(|s| s.median)
    }

    #[test]
    fn median_is_the_middle_or_the_mean_of_the_middle_two() {
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&[7.0]), Some(7.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[2.0, 2.0, 9.0, 100.0]), Some(5.5));
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn summary_has_min_max_count() {
        let s = Summary::of(&[10.0, 30.0, 20.0, 40.0, 5.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.count), (20.0, 5.0, 40.0, 5));
    }

    #[test]
    fn ratio_divides_and_guards_zero() {
        assert_eq!(ratio(1.0, 4.0), Some(0.25));
        assert_eq!(ratio(1.0, 0.0), None);
        assert_eq!(ratio(f64::INFINITY, 1.0), None);
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567_890), "1,234,567,890");
    }

    #[test]
    fn measurement_values() {
        let t = Measurement::Time(Duration::from_micros(3));
        assert_eq!(
            (t.unit(), t.value(), t.elapsed_ns()),
            (Unit::Time, 3000.0, Some(3000.0))
        );
        assert_eq!(Measurement::Bytes(64.5).value(), 64.5);
        assert_eq!(Measurement::Bytes(64.5).elapsed_ns(), None);
        let per = Measurement::PerOp {
            elapsed: Duration::from_millis(21),
            ops: 2_000_000,
        };
        assert_eq!(
            (per.unit(), per.value(), per.elapsed_ns()),
            (Unit::PerOp, 10.5, Some(21e6))
        );
        let none = Measurement::PerOp {
            elapsed: Duration::from_millis(1),
            ops: 0,
        };
        assert!(none.value().is_nan());
    }
}
