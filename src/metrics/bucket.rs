//! One interval while it is open: the workers' hand-overs added up until its edge closes it.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::measure::{ErrorCounts, ErrorKind, new_histogram};
use super::reads::ReadCounts;
use super::stats::SlotTime;

/// An interval being filled.
pub(super) struct Bucket {
    pub(super) issued: u64,
    pub(super) ok: u64,
    pub(super) ok_rows: u64,
    pub(super) errors: ErrorCounts,
    pub(super) maybe: u64,
    pub(super) maybe_rows: u64,
    pub(super) first_error: Option<(ErrorKind, String)>,
    pub(super) service: Histogram<u64>,
    pub(super) response: Histogram<u64>,
    pub(super) pacer_late: Histogram<u64>,
    pub(super) in_flight_max: BTreeMap<u32, u32>,
    pub(super) slots: SlotTime,
    pub(super) reads: Vec<ReadCounts>,
}

impl Bucket {
    pub(super) fn new() -> Self {
        Bucket {
            issued: 0,
            ok: 0,
            ok_rows: 0,
            errors: ErrorCounts::default(),
            maybe: 0,
            maybe_rows: 0,
            first_error: None,
            service: new_histogram(),
            response: new_histogram(),
            pacer_late: new_histogram(),
            in_flight_max: BTreeMap::new(),
            slots: SlotTime::default(),
            reads: Vec::new(),
        }
    }
}
