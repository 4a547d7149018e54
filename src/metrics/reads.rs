//! A mix's reads: each read operation's counts in a worker's interval, and what an interval or
//! the run shows of them. The writes' numbers (the headline) are the reports' own.

use std::sync::Arc;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::measure::{ErrorCounts, LatencySummary, new_histogram};

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
