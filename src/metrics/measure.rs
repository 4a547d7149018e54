//! What one request's outcome is measured in: its latency histogram and percentiles, and why it
//! failed. The bottom of the metrics: stats and reads build on it, it builds on nothing of ours.

use std::fmt;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Highest latency a histogram tracks, in µs; longer ones are recorded as this.
pub const MAX_LATENCY_US: u64 = 600_000_000;

/// A latency histogram in microseconds with 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("static histogram bounds are valid")
}

/// The throughput of several loaders over one slot of a merged clock: each loader's successes
/// over the time its intervals in the slot cover, summed (a loader that covered half the slot
/// still counts at its rate, not at half of it).
pub fn summed_rate(covered: impl IntoIterator<Item = (u64, f64)>) -> f64 {
    covered
        .into_iter()
        .filter(|(_, covered_s)| *covered_s > 0.0)
        .map(|(ok, covered_s)| ok as f64 / covered_s)
        .sum()
}

/// Why a write failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Timeout,
    Overloaded,
    Unavailable,
    Connection,
    Other,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 5] = [
        ErrorKind::Timeout,
        ErrorKind::Overloaded,
        ErrorKind::Unavailable,
        ErrorKind::Connection,
        ErrorKind::Other,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::Overloaded => "overloaded",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Connection => "connection",
            ErrorKind::Other => "other",
        }
    }
}

/// Errors counted by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ErrorCounts([u64; 5]);

impl ErrorCounts {
    pub fn add(&mut self, kind: ErrorKind) {
        self.0[kind as usize] += 1;
    }

    pub fn get(&self, kind: ErrorKind) -> u64 {
        self.0[kind as usize]
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    pub fn merge(&mut self, other: &ErrorCounts) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine += theirs;
        }
    }
}

impl Serialize for ErrorCounts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(ErrorKind::ALL.len()))?;
        for kind in ErrorKind::ALL {
            map.serialize_entry(kind.name(), &self.get(kind))?;
        }
        map.end()
    }
}

/// Read back from the map it is written as (another casstop's `/intervals`); a kind it does not
/// know is counted as `other`.
impl<'de> Deserialize<'de> for ErrorCounts {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = std::collections::BTreeMap::<String, u64>::deserialize(deserializer)?;
        let mut counts = ErrorCounts::default();
        for (name, n) in map {
            let kind = ErrorKind::ALL
                .into_iter()
                .find(|kind| kind.name() == name)
                .unwrap_or(ErrorKind::Other);
            counts.0[kind as usize] += n;
        }
        Ok(counts)
    }
}

impl fmt::Display for ErrorCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.total() == 0 {
            return f.write_str("none");
        }
        let parts: Vec<String> = ErrorKind::ALL
            .iter()
            .filter(|k| self.get(**k) > 0)
            .map(|k| format!("{} {}", self.get(*k), k.name()))
            .collect();
        f.write_str(&parts.join(", "))
    }
}

/// Percentiles of a latency histogram, in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub count: u64,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl LatencySummary {
    pub fn of(histogram: &Histogram<u64>) -> Self {
        if histogram.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: histogram.len(),
            mean: histogram.mean(),
            p50: histogram.value_at_quantile(0.5),
            p90: histogram.value_at_quantile(0.9),
            p99: histogram.value_at_quantile(0.99),
            p999: histogram.value_at_quantile(0.999),
            max: histogram.max(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each loader counts at its own rate over the time it covered: 500 in half a slot is
    /// 1,000/s, not 500/s; a loader that covered nothing adds nothing (and no division by 0).
    #[test]
    fn loaders_rates_add_each_over_the_time_it_covered() {
        let rate = summed_rate([(500, 0.5), (300, 1.0), (7, 0.0)]);
        assert!((rate - 1_300.0).abs() < 1e-9, "{rate}");
        assert_eq!(summed_rate([]), 0.0);
    }

    #[test]
    fn latency_summary_reads_percentiles() {
        let mut histogram = new_histogram();
        for us in 1..=1000 {
            histogram.record(us).unwrap();
        }
        let summary = LatencySummary::of(&histogram);
        assert_eq!(summary.count, 1000);
        assert_eq!(summary.p50, 500);
        assert_eq!(summary.p99, 990);
        assert_eq!(summary.max, 1000);
        assert_eq!(
            LatencySummary::of(&new_histogram()),
            LatencySummary::default()
        );
    }
}
