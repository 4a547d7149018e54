//! A mix's reads: each read operation's counts in a worker's interval, and what an interval or
//! the run shows of them. The writes' numbers (the headline) are the reports' own.

use std::sync::Arc;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::measure::{ErrorCounts, LatencySummary, new_histogram, summed_rate};

/// One read operation of the mix, in a worker's interval (writes are the report's own numbers,
/// the headline; reads never enter them).
#[derive(Clone, Debug)]
pub struct ReadCounts {
    pub op: Arc<str>,
    pub ok: u64,
    pub errors: ErrorCounts,
    /// Rows the successful reads returned: a read of a row the run wrote finds 1.
    pub rows: u64,
    pub service: Histogram<u64>,
    pub response: Histogram<u64>,
}

impl ReadCounts {
    pub fn new(op: Arc<str>) -> Self {
        ReadCounts {
            op,
            ok: 0,
            errors: ErrorCounts::default(),
            rows: 0,
            service: new_histogram(),
            response: new_histogram(),
        }
    }

    pub fn absorb(&mut self, later: &ReadCounts) {
        self.ok += later.ok;
        self.errors.merge(&later.errors);
        self.rows += later.rows;
        let _ = self.service.add(&later.service);
        let _ = self.response.add(&later.response);
    }

    /// Whether it was sent at all: an operation the mix never chose shows nowhere.
    pub fn ran(&self) -> bool {
        self.ok + self.errors.total() > 0
    }

    /// What an interval (or the run) of `length_s` shows of it.
    pub fn stats(&self, length_s: f64, paced: bool) -> ReadStats {
        ReadStats {
            op: self.op.to_string(),
            ok: self.ok,
            errors: self.errors.total(),
            rows: self.rows,
            throughput: if length_s > 0.0 {
                self.ok as f64 / length_s
            } else {
                0.0
            },
            service: LatencySummary::of(&self.service),
            response: paced.then(|| LatencySummary::of(&self.response)),
        }
    }
}

/// Merges `later` into `into` by operation name.
pub fn absorb_reads(into: &mut Vec<ReadCounts>, later: &[ReadCounts]) {
    for counts in later {
        match into.iter_mut().find(|c| c.op == counts.op) {
            Some(mine) => mine.absorb(counts),
            None => into.push(counts.clone()),
        }
    }
}

/// One read operation's numbers over an interval or the run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReadStats {
    pub op: String,
    pub ok: u64,
    pub errors: u64,
    /// Rows the successful reads returned.
    pub rows: u64,
    /// Successful reads per second.
    pub throughput: f64,
    pub service: LatencySummary,
    /// Only under a target rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<LatencySummary>,
}

/// One read operation's histograms in an interval of `/intervals`, encoded as the writes' are.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EncodedRead {
    pub op: String,
    pub service_hdr: String,
    /// Under a target rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_hdr: Option<String>,
}

/// One read operation gathered from several loaders' intervals (a merged slot, or a merged
/// run): counts summed, histograms added, and each loader's successes over the time its
/// intervals cover, so the throughput is the sum of the loaders' rates as the writes' is.
#[derive(Clone, Debug)]
pub struct ReadSum {
    pub op: String,
    pub ok: u64,
    pub errors: u64,
    pub rows: u64,
    covered: Vec<(u64, f64)>,
    pub service: Histogram<u64>,
    /// Every interval added had one (all under a target rate).
    pub response: Option<Histogram<u64>>,
    all_response: bool,
}

impl ReadSum {
    /// Adds loader `loader`'s `stats` of an interval `length_s` long, with its histograms when it
    /// sent them, to `op`'s sum in `sums`.
    pub fn add(
        sums: &mut Vec<ReadSum>,
        loader: usize,
        length_s: f64,
        stats: &ReadStats,
        service: Option<&Histogram<u64>>,
        response: Option<&Histogram<u64>>,
    ) {
        let index = match sums.iter().position(|s| s.op == stats.op) {
            Some(index) => index,
            None => {
                sums.push(ReadSum {
                    op: stats.op.clone(),
                    ok: 0,
                    errors: 0,
                    rows: 0,
                    covered: Vec::new(),
                    service: new_histogram(),
                    response: None,
                    all_response: true,
                });
                sums.len() - 1
            }
        };
        let sum = &mut sums[index];
        sum.ok += stats.ok;
        sum.errors += stats.errors;
        sum.rows += stats.rows;
        if sum.covered.len() <= loader {
            sum.covered.resize(loader + 1, (0, 0.0));
        }
        sum.covered[loader].0 += stats.ok;
        sum.covered[loader].1 += length_s;
        if let Some(service) = service {
            let _ = sum.service.add(service);
        }
        match response {
            Some(response) if sum.all_response => {
                let _ = sum.response.get_or_insert_with(new_histogram).add(response);
            }
            Some(_) => {}
            // An interval where it did nothing has no histogram to send, paced or not.
            None if stats.ok + stats.errors == 0 => {}
            None => {
                sum.all_response = false;
                sum.response = None;
            }
        }
    }

    /// What the sum shows: percentiles from the added histograms, response time only when
    /// every interval had it.
    pub fn stats(&self) -> ReadStats {
        ReadStats {
            op: self.op.clone(),
            ok: self.ok,
            errors: self.errors,
            rows: self.rows,
            throughput: summed_rate(self.covered.iter().copied()),
            service: LatencySummary::of(&self.service),
            response: self.response.as_ref().map(LatencySummary::of),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sum_adds_counts_and_histograms_and_rates_per_loader() {
        let histogram = |us: u64, n: u64| {
            let mut h = new_histogram();
            h.record_n(us, n).unwrap();
            h
        };
        let stats = |ok: u64| ReadStats {
            op: "read".into(),
            ok,
            rows: ok,
            errors: 1,
            ..ReadStats::default()
        };
        let mut sums = Vec::new();
        let fast = histogram(100, 99);
        let slow = histogram(9_000, 10);
        // Loader 0 covered the slot in two half intervals, loader 1 in one.
        ReadSum::add(&mut sums, 0, 0.5, &stats(50), Some(&fast), Some(&fast));
        ReadSum::add(&mut sums, 0, 0.5, &stats(49), None, Some(&fast));
        ReadSum::add(&mut sums, 1, 1.0, &stats(10), Some(&slow), Some(&slow));
        let [sum] = sums.as_slice() else {
            panic!("{sums:?}")
        };
        let read = sum.stats();
        assert_eq!((read.ok, read.rows, read.errors), (109, 109, 3));
        assert_eq!(read.throughput, 99.0 + 10.0);
        assert!((8_990..=9_010).contains(&read.service.p99), "{read:?}");
        assert!(read.response.is_some());
        // One interval without a response histogram: the sum has none.
        ReadSum::add(&mut sums, 1, 1.0, &stats(1), None, None);
        assert!(sums[0].stats().response.is_none());
    }
}
