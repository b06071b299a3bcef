//! Medians and ranges of repeated measurements.

/// Median, minimum and maximum of a set of measurements.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub runs: usize,
}

impl Summary {
    /// Summarizes `values`; `None` when there are none or one is not a number.
    pub fn of(values: &[f64]) -> Option<Self> {
        if values.is_empty() || values.iter().any(|v| v.is_nan()) {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let mid = n / 2;
        let median = if n % 2 == 1 {
            *sorted.get(mid)?
        } else {
            (*sorted.get(mid - 1)? + *sorted.get(mid)?) / 2.0
        };
        Some(Self { median, min: *sorted.first()?, max: *sorted.last()?, runs: n })
    }

    /// Every figure divided by `d` (a unit change).
    pub fn scaled(self, d: f64) -> Self {
        Self { median: self.median / d, min: self.min / d, max: self.max / d, runs: self.runs }
    }
}

/// `median (min–max)` with `decimals` digits after the point.
pub fn fmt_range(s: Summary, decimals: usize) -> String {
    format!("{:.d$} ({:.d$}–{:.d$})", s.median, s.min, s.max, d = decimals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_middle_of_an_odd_count() {
        let s = Summary::of(&[5.0, 1.0, 3.0, 9.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.runs), (3.0, 1.0, 9.0, 5));
    }

    #[test]
    fn averages_the_two_middles_of_an_even_count() {
        let s = Summary::of(&[4.0, 1.0, 2.0, 10.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (3.0, 1.0, 10.0));
    }

    #[test]
    fn rejects_empty_and_nan_sets() {
        assert_eq!(Summary::of(&[]), None);
        assert_eq!(Summary::of(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn formats_median_then_range() {
        let s = Summary::of(&[1.25, 2.5, 3.0]).unwrap();
        assert_eq!(fmt_range(s, 1), "2.5 (1.2–3.0)");
        assert_eq!(fmt_range(s.scaled(0.5), 0), "5 (2–6)");
    }
}
