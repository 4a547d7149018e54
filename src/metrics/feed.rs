//! What the metrics thread hands a recording: every closed interval with its own histograms,
//! and every event. Defined here, on the sending side, so the metrics never depend on the
//! recorder that consumes them.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use hdrhistogram::Histogram;

use super::reads::ReadCounts;
use super::stats::{Event, IntervalStats};
use crate::knobs::Knobs;

/// What the metrics thread hands the recorder.
#[derive(Debug)]
pub enum Record {
    /// The run's clock started (interval times count from here).
    Started {
        at: SystemTime,
    },
    Interval(Box<ClosedInterval>),
    Event(Arc<Event>),
}

/// One closed interval with its own histograms (the snapshots only carry percentiles).
#[derive(Debug)]
pub struct ClosedInterval {
    pub stats: Arc<IntervalStats>,
    pub knobs: Knobs,
    pub service: Histogram<u64>,
    /// Only under a target rate.
    pub response: Option<Histogram<u64>>,
    /// The mix's reads, each with its own service and response histograms.
    pub reads: Vec<ReadCounts>,
}

/// The sending end, held by the metrics thread. Sending never blocks.
#[derive(Clone, Debug)]
pub struct RecordFeed {
    sender: Sender<Record>,
    failure: Arc<OnceLock<String>>,
    dir: PathBuf,
}

impl RecordFeed {
    /// A feed into `sender`; the receiving recorder sets `failure` once it stops.
    pub fn new(sender: Sender<Record>, failure: Arc<OnceLock<String>>, dir: PathBuf) -> Self {
        RecordFeed {
            sender,
            failure,
            dir,
        }
    }

    pub fn send(&self, record: Record) {
        // A stopped recorder has said why through `failure`; nothing more to do here.
        let _ = self.sender.send(record);
    }

    /// Where the recorder says why it stopped.
    pub fn failure_slot(&self) -> Arc<OnceLock<String>> {
        self.failure.clone()
    }

    /// Why the recording stopped, once it has.
    pub fn failure(&self) -> Option<&str> {
        self.failure.get().map(String::as_str)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
