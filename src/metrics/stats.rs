//! What the metrics are made of: the per-worker report, an interval's numbers, the totals, the
//! events and the snapshot readers see.

use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::measure::{ErrorCounts, ErrorKind, LatencySummary, MAX_LATENCY_US, new_histogram};
use super::proc::CpuSample;
use super::reads::{EncodedRead, ReadCounts, ReadStats, absorb_reads};
use super::verdict;
use crate::knobs::{KnobChange, Knobs};

/// The most common of `items` and how often it came (the first seen of equals).
pub fn most_common<T: PartialEq + Copy>(items: impl IntoIterator<Item = T>) -> Option<(T, usize)> {
    let mut counts: Vec<(T, usize)> = Vec::new();
    for item in items {
        match counts.iter_mut().find(|(seen, _)| *seen == item) {
            Some((_, n)) => *n += 1,
            None => counts.push((item, 1)),
        }
    }
    counts
        .into_iter()
        .fold(None, |best: Option<(T, usize)>, (item, n)| match best {
            Some((_, m)) if m >= n => best,
            _ => Some((item, n)),
        })
}

/// Slot-seconds over a stretch of time: ∫ in_flight dt and ∫ finished-but-held dt: the
/// mean in flight, and the head-of-line share of the slots' time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct SlotTime {
    pub in_flight_s: f64,
    pub held_done_s: f64,
}

impl SlotTime {
    pub fn add(&mut self, other: SlotTime) {
        self.in_flight_s += other.in_flight_s;
        self.held_done_s += other.held_done_s;
    }

    /// The share of the slots' time held by finished writes waiting on an unfinished one.
    pub fn head_of_line_percent(&self) -> f64 {
        let held = self.in_flight_s + self.held_done_s;
        if held > 0.0 {
            self.held_done_s / held * 100.0
        } else {
            0.0
        }
    }
}

/// What one worker measured over one interval (or more, when a hand-over had to wait).
#[derive(Clone, Debug)]
pub struct WorkerReport {
    pub worker: u32,
    /// Requests issued.
    pub issued: u64,
    /// Requests that succeeded, and the rows they wrote.
    pub ok: u64,
    pub ok_rows: u64,
    pub errors: ErrorCounts,
    /// Failed requests that may have been applied anyway (timeouts, broken connections), and
    /// their rows: the table holds between `ok_rows` and `ok_rows + maybe_rows` rows.
    pub maybe: u64,
    pub maybe_rows: u64,
    /// The first error of the interval and the driver's message, to say why writes fail.
    pub first_error: Option<(ErrorKind, String)>,
    /// From the moment the request was sent.
    pub service: Histogram<u64>,
    /// From the moment the request was due under the target rate (coordinated omission corrected).
    pub response: Histogram<u64>,
    /// From the moment the request was due to its send: the pacer's lateness under a target
    /// rate (open loop, the wait between issue and send).
    pub pacer_late: Histogram<u64>,
    pub in_flight: u32,
    pub in_flight_max: u32,
    pub slots: SlotTime,
    /// Knob versions this worker issued its first write under, each with the time from the
    /// change being asked for to that write.
    pub knobs_applied: Vec<(u64, Duration)>,
    /// Per coordinator node, in the order the worker first met them.
    pub nodes: Vec<NodeCounts>,
    /// Each read operation of the workload, in the workload's order.
    pub reads: Vec<ReadCounts>,
}

impl WorkerReport {
    pub fn new(worker: u32) -> Self {
        WorkerReport {
            worker,
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
            in_flight: 0,
            in_flight_max: 0,
            slots: SlotTime::default(),
            knobs_applied: Vec::new(),
            nodes: Vec::new(),
            reads: Vec::new(),
        }
    }

    /// A report for the next interval, with room made already for the nodes this one met: a
    /// write's record then never allocates.
    pub fn next(&self) -> Self {
        WorkerReport {
            nodes: self.nodes.iter().map(|n| NodeCounts::new(n.node)).collect(),
            reads: self
                .reads
                .iter()
                .map(|r| ReadCounts::new(r.op.clone()))
                .collect(),
            ..WorkerReport::new(self.worker)
        }
    }

    /// The counts of coordinator `node`, made on first sight (a few nodes: a scan is quickest).
    pub fn node(&mut self, node: SocketAddr) -> &mut NodeCounts {
        let at = match self.nodes.iter().position(|n| n.node == node) {
            Some(at) => at,
            None => {
                self.nodes.push(NodeCounts::new(node));
                self.nodes.len() - 1
            }
        };
        &mut self.nodes[at]
    }

    /// Notes a failed request's error: the interval's first is kept for the event log to quote
    /// (the later ones are only counted).
    pub fn note_error(&mut self, kind: ErrorKind, detail: &str) {
        if self.first_error.is_none() {
            self.first_error = Some((kind, detail.to_string()));
        }
    }

    /// Adds a later report's counts to this one (histograms merged, in-flight from the later).
    pub fn absorb(&mut self, later: WorkerReport) {
        self.issued += later.issued;
        self.ok += later.ok;
        self.ok_rows += later.ok_rows;
        self.errors.merge(&later.errors);
        self.maybe += later.maybe;
        self.maybe_rows += later.maybe_rows;
        if self.first_error.is_none() {
            self.first_error = later.first_error;
        }
        let _ = self.service.add(&later.service);
        let _ = self.response.add(&later.response);
        let _ = self.pacer_late.add(&later.pacer_late);
        self.slots.add(later.slots);
        self.in_flight = later.in_flight;
        self.in_flight_max = self.in_flight_max.max(later.in_flight_max);
        self.knobs_applied.extend(later.knobs_applied);
        for counts in later.nodes {
            self.node(counts.node).absorb(&counts);
        }
        absorb_reads(&mut self.reads, &later.reads);
    }
}

/// One coordinator node's share of a worker's interval, from the driver's record of which node
/// served each write.
#[derive(Clone, Debug)]
pub struct NodeCounts {
    pub node: SocketAddr,
    pub ok: u64,
    pub errors: ErrorCounts,
    /// Service times of its successes, to two significant digits (a per-node p99 to 1 %, at a
    /// tenth of the memory of the run's own histograms).
    pub service: Histogram<u64>,
    /// Its writes' service times summed, in µs: over the interval's length, the writes it held in
    /// flight on average (Little's L, measured).
    pub busy_us: u64,
}

impl NodeCounts {
    pub fn new(node: SocketAddr) -> Self {
        NodeCounts {
            node,
            ok: 0,
            errors: ErrorCounts::default(),
            service: Histogram::new_with_bounds(1, MAX_LATENCY_US, 2)
                .expect("static histogram bounds are valid"),
            busy_us: 0,
        }
    }

    pub fn absorb(&mut self, other: &NodeCounts) {
        self.ok += other.ok;
        self.errors.merge(&other.errors);
        let _ = self.service.add(&other.service);
        self.busy_us += other.busy_us;
    }
}

/// A node's own load, from its `system_views.thread_pools` (Cassandra 4.0 and later).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerLoad {
    /// MutationStage: writes being applied, waiting for a thread, refused for a full queue.
    pub mutation_active: u64,
    pub mutation_pending: u64,
    pub mutation_blocked: u64,
    /// Native-Transport-Requests: requests read off client connections being served (in 4.0 and
    /// later a write whose replica is the coordinator is applied there, not in MutationStage),
    /// waiting for a thread, refused.
    pub native_active: u64,
    pub native_pending: u64,
    pub native_blocked: u64,
}

/// A node as the engine's probe found it at the end of an interval.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeSeen {
    pub node: SocketAddr,
    pub datacenter: Option<String>,
    /// The driver holds at least one connection to it.
    pub connected: bool,
    /// `None` where the node has no such table (ScyllaDB) or did not answer.
    pub server: Option<ServerLoad>,
}

/// One node over one interval: what its coordinated writes did, and how it looked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeStats {
    pub node: SocketAddr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datacenter: Option<String>,
    /// The driver holds a connection to it (`false` also for a node it never reached).
    pub connected: bool,
    /// Writes it coordinated that succeeded, per second, and their service time.
    pub ok: u64,
    pub throughput: f64,
    pub service: LatencySummary,
    /// Writes whose last attempt it coordinated and that failed.
    pub errors: ErrorCounts,
    pub in_flight_mean: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerLoad>,
}

/// One interval over all workers.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct IntervalStats {
    /// Seconds since the run started, at the end of the interval.
    pub at_s: f64,
    pub length_s: f64,
    pub issued: u64,
    pub ok: u64,
    pub ok_rows: u64,
    pub errors: ErrorCounts,
    /// Failed requests that may have been applied anyway, and their rows.
    pub maybe: u64,
    pub maybe_rows: u64,
    /// Successful requests per second.
    pub throughput: f64,
    pub in_flight: u32,
    pub in_flight_max: u32,
    pub service: LatencySummary,
    /// Only under a target rate; otherwise equal to `service`.
    pub response: Option<LatencySummary>,
    /// Only under a target rate: from each write's due time to its send, casstop's own lateness.
    pub pacer_late: Option<LatencySummary>,
    /// Writes in flight, averaged over the interval's time (Little's law's L, measured).
    pub in_flight_mean: f64,
    /// Share of the slots' time held by finished writes waiting on an older one (`pipeline`) or
    /// on the round's slowest (`batches`): what callbacks at the same depth would put to work.
    pub head_of_line_percent: f64,
    pub cpu: CpuSample,
    /// How the worker tasks spent the interval, in percent of wall time summed over workers.
    pub tasks: TaskSplit,
    /// How the node looked from the client over this interval.
    pub node: NodeHealth,
    /// Per coordinator node, by address; empty before the first write or probe.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeStats>,
    /// Each read operation of the mix that ran; empty when only writes run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reads: Vec<ReadStats>,
    pub verdict: verdict::Verdict,
}

impl IntervalStats {
    /// Requests answered per second: the writes' and the mix's reads' (both take slots).
    pub fn requests_per_s(&self) -> f64 {
        self.throughput + self.reads.iter().map(|r| r.throughput).sum::<f64>()
    }

    /// Requests in flight Little's law expects: each operation's rate × its mean service time.
    pub fn little_in_flight(&self) -> f64 {
        let reads: f64 = self
            .reads
            .iter()
            .map(|r| r.throughput * r.service.mean)
            .sum();
        (self.throughput * self.service.mean + reads) / 1e6
    }
}

/// The node as the client sees it, judged from one interval's outcomes. Keeps its previous value
/// through intervals that say nothing (paused, nothing in flight).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeHealth {
    /// Nothing has been written yet.
    #[default]
    Unknown,
    /// Writes succeed.
    Up,
    /// No write succeeded and the driver had no connection: the node is down or unreachable.
    Down,
    /// No write succeeded and writes time out or hang: the node is paused, stuck or overloaded.
    Unresponsive,
}

impl NodeHealth {
    /// Judges an interval; `None` when it says nothing new about the node.
    pub fn judge(ok: u64, errors: &ErrorCounts, in_flight_max: u32) -> Option<NodeHealth> {
        if ok > 0 {
            Some(NodeHealth::Up)
        } else if errors.get(ErrorKind::Connection) > 0 {
            Some(NodeHealth::Down)
        } else if errors.get(ErrorKind::Timeout) > 0 || in_flight_max > 0 {
            Some(NodeHealth::Unresponsive)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            NodeHealth::Unknown => "unknown",
            NodeHealth::Up => "up",
            NodeHealth::Down => "down",
            NodeHealth::Unresponsive => "unresponsive",
        }
    }
}

impl fmt::Display for NodeHealth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The Busy / Scheduled / Idle split of the worker tasks' lives (tokio-console's view): busy is
/// polling (the client's own CPU: building, serialising, the CPU-work knob), scheduled is ready
/// but waiting for its thread, idle is waiting for the network or a timer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskSplit {
    pub busy_percent: f64,
    pub scheduled_percent: f64,
    pub idle_percent: f64,
}

/// A knob change or another thing that happened, with its time.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    pub at_s: f64,
    pub text: String,
    pub kind: EventKind,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Knob(KnobChange),
    Info,
    Error,
}

/// Upper bounds (µs) of the fixed latency buckets kept for Prometheus, whose histograms need the
/// same buckets at every scrape; the HDR histograms stay the exact record.
pub const BUCKET_BOUNDS_US: [u64; 16] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000,
];

/// A run's latencies in the fixed buckets: `counts[i]` lies in `(bound[i-1], bound[i]]`, the
/// last above the highest bound; `sum_us` is their sum.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LatencyBuckets {
    pub counts: [u64; BUCKET_BOUNDS_US.len() + 1],
    pub sum_us: f64,
}

impl LatencyBuckets {
    /// Adds an interval's histogram. A value counts under the first bound its HDR bucket (within
    /// the histogram's precision) does not exceed.
    pub fn add(&mut self, histogram: &Histogram<u64>) {
        if histogram.is_empty() {
            return;
        }
        let mut below = 0;
        for (i, bound) in BUCKET_BOUNDS_US.iter().enumerate() {
            let upto = histogram.count_between(0, *bound);
            self.counts[i] += upto - below;
            below = upto;
        }
        self.counts[BUCKET_BOUNDS_US.len()] += histogram.len() - below;
        self.sum_us += histogram.mean() * histogram.len() as f64;
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// Whole-run counters.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Totals {
    pub issued: u64,
    pub ok: u64,
    pub ok_rows: u64,
    pub errors: ErrorCounts,
    pub maybe: u64,
    pub maybe_rows: u64,
    pub service: LatencySummary,
    pub response: LatencySummary,
    pub pacer_late: LatencySummary,
    /// The slots' time over the whole run: its mean in flight and head-of-line share.
    pub slots: SlotTime,
    pub client_cpu_s: f64,
    pub rss_max_bytes: u64,
    /// Per coordinator node, by address: its successes and failures so far.
    pub nodes: Vec<CoordinatorTotals>,
    /// Each read operation that ran, over the run so far.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reads: Vec<ReadStats>,
    /// Service and response time in Prometheus' fixed buckets (response: paced intervals only).
    #[serde(skip)]
    pub service_buckets: LatencyBuckets,
    #[serde(skip)]
    pub response_buckets: LatencyBuckets,
}

/// One coordinator node's counts over the run so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CoordinatorTotals {
    pub node: SocketAddr,
    pub ok: u64,
    pub errors: u64,
}

impl Totals {
    /// Adds an interval's per-node rows to the run's, keeping them by address.
    pub fn add_nodes(&mut self, rows: &[NodeStats]) {
        for row in rows {
            let at = match self.nodes.binary_search_by_key(&row.node, |n| n.node) {
                Ok(at) => at,
                Err(at) => {
                    self.nodes.insert(
                        at,
                        CoordinatorTotals {
                            node: row.node,
                            ok: 0,
                            errors: 0,
                        },
                    );
                    at
                }
            };
            self.nodes[at].ok += row.ok;
            self.nodes[at].errors += row.errors.total();
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Starting,
    Running,
    Paused,
    Draining,
    Finished,
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RunState::Starting => "starting",
            RunState::Running => "running",
            RunState::Paused => "paused",
            RunState::Draining => "draining",
            RunState::Finished => "finished",
        })
    }
}

/// What readers see after each interval. Cheap to clone: the history is shared.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub started: Instant,
    pub elapsed: Duration,
    pub state: RunState,
    pub knobs: Knobs,
    /// The most recent interval.
    pub interval: Arc<IntervalStats>,
    pub totals: Totals,
    /// Recent intervals, oldest first (bounded); shared between snapshots.
    pub history: VecDeque<Arc<IntervalStats>>,
    /// Recent events, oldest first (bounded); shared between snapshots.
    pub events: VecDeque<Arc<Event>>,
    /// True when a target rate is set: response time is then reported beside service time.
    pub paced: bool,
    /// Recent intervals with their histograms encoded, oldest first (bounded), for the control
    /// API's `/intervals`; empty unless the API listens.
    pub encoded: VecDeque<Arc<EncodedInterval>>,
}

/// A closed interval with its HDR histograms as the recording encodes them (V2 deflate, base64),
/// so another process can merge it exactly.
#[derive(Clone, Debug, Serialize)]
pub struct EncodedInterval {
    /// 1 for the run's first interval.
    pub seq: u64,
    pub stats: Arc<IntervalStats>,
    pub service_hdr: String,
    /// Under a target rate: the response time's histogram.
    pub response_hdr: Option<String>,
    /// The mix's reads, each operation's histograms encoded alike.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub read_hdrs: Vec<EncodedRead>,
}

impl Snapshot {
    pub fn empty(knobs: Knobs) -> Self {
        Snapshot {
            started: Instant::now(),
            elapsed: Duration::ZERO,
            state: RunState::Starting,
            paced: knobs.rate > 0.0,
            knobs,
            interval: Arc::new(IntervalStats::default()),
            totals: Totals::default(),
            history: VecDeque::new(),
            events: VecDeque::new(),
            encoded: VecDeque::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absorbing_keeps_every_count() {
        let mut first = WorkerReport::new(0);
        first.ok = 3;
        first.errors.add(ErrorKind::Timeout);
        first.service.record(100).unwrap();
        first.in_flight_max = 7;
        let mut later = WorkerReport::new(0);
        later.ok = 2;
        later.errors.add(ErrorKind::Timeout);
        later.errors.add(ErrorKind::Overloaded);
        later.service.record(300).unwrap();
        later.in_flight = 1;
        later.in_flight_max = 4;
        first.absorb(later);
        assert_eq!(first.ok, 5);
        assert_eq!(first.errors.get(ErrorKind::Timeout), 2);
        assert_eq!(first.errors.total(), 3);
        assert_eq!(first.service.len(), 2);
        assert_eq!((first.in_flight, first.in_flight_max), (1, 7));
        assert_eq!(first.errors.to_string(), "2 timeout, 1 overloaded");
    }

    /// The event log quotes an interval's first error: neither a later one nor a later
    /// report's replaces it.
    #[test]
    fn the_first_error_is_the_one_kept() {
        let later = || {
            let mut later = WorkerReport::new(0);
            later.note_error(ErrorKind::Unavailable, "later");
            later
        };
        let mut report = WorkerReport::new(0);
        report.note_error(ErrorKind::Timeout, "first");
        report.note_error(ErrorKind::Overloaded, "second");
        report.absorb(later());
        assert_eq!(
            report.first_error,
            Some((ErrorKind::Timeout, "first".into()))
        );
        let mut empty = WorkerReport::new(0);
        empty.absorb(later());
        assert_eq!(
            empty.first_error,
            Some((ErrorKind::Unavailable, "later".into()))
        );
    }

    /// Little's law over a mix: writes at 1,000/s for 2 ms keep 2 in flight, reads at 500/s
    /// for 4 ms 2 more; both take slots, so the expected in flight is 4, not the writes' 2.
    #[test]
    fn littles_law_counts_the_reads_in_flight_beside_the_writes() {
        let mut interval = (*Snapshot::empty(Knobs::default()).interval).clone();
        interval.throughput = 1_000.0;
        interval.service.mean = 2_000.0;
        assert!((interval.little_in_flight() - 2.0).abs() < 1e-9);
        interval.reads.push(ReadStats {
            op: "read".into(),
            throughput: 500.0,
            service: LatencySummary {
                mean: 4_000.0,
                ..Default::default()
            },
            ..Default::default()
        });
        assert!((interval.little_in_flight() - 4.0).abs() < 1e-9);
        assert_eq!(interval.requests_per_s(), 1_500.0);
    }
}

#[cfg(test)]
mod health_tests {
    use super::*;

    #[test]
    fn node_health_is_judged_from_outcomes_and_silence_says_nothing() {
        let mut refused = ErrorCounts::default();
        refused.add(ErrorKind::Connection);
        let mut timed_out = ErrorCounts::default();
        timed_out.add(ErrorKind::Timeout);
        let none = ErrorCounts::default();
        assert_eq!(NodeHealth::judge(5, &refused, 1), Some(NodeHealth::Up));
        assert_eq!(NodeHealth::judge(0, &refused, 1), Some(NodeHealth::Down));
        assert_eq!(
            NodeHealth::judge(0, &timed_out, 0),
            Some(NodeHealth::Unresponsive)
        );
        // Writes in flight all interval and none answered: a paused node.
        assert_eq!(
            NodeHealth::judge(0, &none, 1),
            Some(NodeHealth::Unresponsive)
        );
        assert_eq!(NodeHealth::judge(0, &none, 0), None);
    }
}
