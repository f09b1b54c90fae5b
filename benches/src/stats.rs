//! Summary statistics over the samples of one workload on one contender.

/// Median, minimum and maximum of a set of samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// The median; for an even number of samples, the mean of the two middle ones.
    pub median: f64,
    /// The smallest sample.
    pub min: f64,
    /// The largest sample.
    pub max: f64,
    /// How many samples were summarised.
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
        Some(Summary {
            median: median(samples)?,
            min: samples.iter().copied().reduce(f64::min)?,
            max: samples.iter().copied().reduce(f64::max)?,
            count: samples.len(),
        })
    }
}

/// The median of `samples`: the middle value, or for an even count the mean
/// of the two middle values. `None` when empty or when a sample is NaN.
pub fn median(samples: &[f64]) -> Option<f64> {
    if samples.is_empty() || samples.iter().any(|x| x.is_nan()) {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        Some(sorted[mid])
    } else {
        Some((sorted[mid - 1] + sorted[mid]) / 2.0)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_count_is_middle() {
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&[7.0]), Some(7.0));
    }

    #[test]
    fn median_of_even_count_is_mean_of_middle_two() {
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[1.0, 2.0]), Some(1.5));
        assert_eq!(median(&[2.0, 2.0, 9.0, 100.0]), Some(5.5));
    }

    #[test]
    fn median_does_not_reorder_input_and_rejects_empty_and_nan() {
        let v = [3.0, 1.0, 2.0];
        assert_eq!(median(&v), Some(2.0));
        assert_eq!(v, [3.0, 1.0, 2.0]);
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn summary_has_min_max_count() {
        let s = Summary::of(&[10.0, 30.0, 20.0, 40.0, 5.0]).unwrap();
        assert_eq!(s.median, 20.0);
        assert_eq!(s.min, 5.0);
        assert_eq!(s.max, 40.0);
        assert_eq!(s.count, 5);
        assert_eq!(Summary::of(&[]), None);
    }

    #[test]
    fn ratio_divides_and_guards_zero() {
        assert_eq!(ratio(1.0, 4.0), Some(0.25));
        assert_eq!(ratio(3.0, 3.0), Some(1.0));
        assert_eq!(ratio(1.0, 0.0), None);
        assert_eq!(ratio(f64::INFINITY, 1.0), None);
    }
}
