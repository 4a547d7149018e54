//! What one interval shows the verdict: the client's side (its threads, its slots), the
//! local node's CPU where casstop runs it, and the servers' side of any cluster (a node that
//! stands out, the servers' queues, Little's law across a change). Gathered by the aggregator,
//! judged by [`super::verdict::judge`].

use crate::knobs::Strategy;

/// What one interval shows.
#[derive(Clone, Debug, Default)]
pub struct Evidence {
    pub strategy: Option<Strategy>,
    pub paused: bool,
    pub ok_per_s: f64,
    pub errors_per_s: f64,
    /// The target rate, requests/s over all workers; 0 when open.
    pub target_rate: f64,
    pub in_flight: u32,
    /// Writes in flight on average over the interval.
    pub in_flight_mean: f64,
    /// Share of slot time held by finished writes waiting on an unfinished one.
    pub head_of_line_percent: f64,
    /// Most writes the strategy lets be in flight (over all workers).
    pub in_flight_limit: u32,
    pub p50_us: u64,
    pub p99_us: u64,
    /// Busiest client thread that runs the load, percent of one core.
    pub busiest_percent: f64,
    pub busiest_thread: String,
    /// The local node's CPU, percent of one core, and the machine's core count.
    pub node_percent: Option<f64>,
    /// Every process on the machine, and casstop's whole process, percent of one core.
    pub machine_percent: Option<f64>,
    pub client_percent: f64,
    pub cores: u32,
    /// Share of profile samples in the application's own work, from the last capture.
    pub application_share: Option<f64>,
    /// A node down or slow beside the others.
    pub outlier: Option<Outlier>,
    /// Requests queued in the servers' MutationStage and Native-Transport-Requests pools at the
    /// interval's end, summed over the nodes that show them; `None` where none does.
    pub server_queued: Option<u64>,
    /// The current setting let more writes be in flight than the one before, for flat throughput.
    pub saturation: Option<Saturation>,
}

/// More writes in flight bought no throughput (see `metrics::little`): the means of the setting
/// before and of the current one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Saturation {
    pub in_flight_before: f64,
    pub in_flight_now: f64,
    pub throughput_before: f64,
    pub throughput_now: f64,
}

/// A node that stands out in one interval (see `metrics::nodes::outlier`).
#[derive(Clone, Debug, PartialEq)]
pub enum Outlier {
    /// The driver has no connection to it while it has to others.
    Down(std::net::SocketAddr),
    /// Its p99 is `ratio` times the median of the others'.
    Slow {
        node: std::net::SocketAddr,
        ratio: f64,
        p99_us: u64,
        mutation_pending: Option<u64>,
    },
}
