//! The files of a run directory and the shape of their lines. The same types write and read them,
//! so a recording and its report cannot disagree on a field's name.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::knobs::Knobs;
use crate::metrics::{ErrorKind, Event, EventKind, IntervalStats, NodeStats, ReadStats};

/// One line per interval: what the interval measured and the knobs in force at its end.
pub const INTERVALS: &str = "intervals.jsonl";
/// One line per event: knob changes (with the knob and value), notes, errors.
pub const EVENTS: &str = "events.jsonl";
/// HdrHistogram interval log (format 1.3, V2 deflate): service time untagged, response time
/// (under a target rate) tagged `response`; values in microseconds.
pub const HLOG: &str = "latency.hlog";
/// The effective settings, without secrets; `--config` reads it back.
pub const CONFIG: &str = "config.toml";
/// What ran, when, from which casstop.
pub const META: &str = "meta.json";
/// The whole run's result (`bench --json`'s shape), written when the run ends cleanly.
pub const SUMMARY: &str = "summary.json";
/// A `bench --matrix` directory's table: one result per strategy (and RTT, when emulated).
pub const MATRIX: &str = "matrix.json";
/// A sweep's steps and knee.
pub const SWEEP: &str = "sweep.json";
/// The hlog tag of the coordinated-omission-corrected response time.
pub const RESPONSE_TAG: &str = "response";
/// The hlog tags of a mix's read `op` start with this: `read:<op>` its service time,
/// `read:<op>:response` its response time (op names are letters, digits and `_`).
pub const READ_TAG: &str = "read:";

/// The hlog tag of read `op`'s service time, or with `response` its response time.
pub fn read_tag(op: &str, response: bool) -> String {
    if response {
        format!("{READ_TAG}{op}:{RESPONSE_TAG}")
    } else {
        format!("{READ_TAG}{op}")
    }
}

/// Percentiles of one latency histogram, in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl From<&crate::metrics::LatencySummary> for Percentiles {
    fn from(l: &crate::metrics::LatencySummary) -> Self {
        Percentiles {
            count: l.count,
            p50: l.p50,
            p90: l.p90,
            p99: l.p99,
            p999: l.p999,
            max: l.max,
        }
    }
}

/// A line of `intervals.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntervalLine {
    /// Seconds since the run started, at the interval's end.
    pub at_s: f64,
    pub length_s: f64,
    pub issued: u64,
    pub ok: u64,
    pub ok_rows: u64,
    /// Failed requests by kind (timeout, overloaded, unavailable, connection, other).
    pub errors: BTreeMap<String, u64>,
    /// Successful requests per second.
    pub throughput_ops_s: f64,
    pub in_flight: u32,
    pub in_flight_max: u32,
    /// Service time: from each request's send to its answer.
    pub latency_us: Percentiles,
    /// Under a target rate: from each request's intended start.
    pub response_latency_us: Option<Percentiles>,
    /// Under a target rate: from each request's intended start to its send (the pacer's lateness).
    #[serde(default)]
    pub pacer_late_us: Option<Percentiles>,
    /// Writes in flight, averaged over the interval.
    #[serde(default)]
    pub in_flight_mean: f64,
    /// Share of slot time held by finished writes waiting on an older one or the round's slowest.
    #[serde(default)]
    pub head_of_line_percent: f64,
    /// casstop's process, percent of one core.
    pub client_cpu_percent: f64,
    /// casstop's CPU seconds since the run started (cumulative).
    pub client_cpu_s: f64,
    /// The busiest load thread, percent of one core.
    pub client_busy_percent: Option<f64>,
    /// The local node's JVM, percent of one core.
    pub node_cpu_percent: Option<f64>,
    pub rss_bytes: u64,
    pub verdict: String,
    pub verdict_text: String,
    pub knobs: Knobs,
    /// Per coordinator node: its writes, p50/p99, errors, in flight, the driver's connection
    /// and the server's own thread pools.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeStats>,
    /// Each read operation of the mix: ok, errors, rows found, latency (the numbers above are
    /// the writes').
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reads: Vec<ReadStats>,
}

impl IntervalLine {
    pub fn new(stats: &IntervalStats, knobs: &Knobs) -> Self {
        IntervalLine {
            at_s: stats.at_s,
            length_s: stats.length_s,
            issued: stats.issued,
            ok: stats.ok,
            ok_rows: stats.ok_rows,
            errors: ErrorKind::ALL
                .iter()
                .map(|kind| (kind.name().to_string(), stats.errors.get(*kind)))
                .collect(),
            throughput_ops_s: stats.throughput,
            in_flight: stats.in_flight,
            in_flight_max: stats.in_flight_max,
            latency_us: (&stats.service).into(),
            response_latency_us: stats.response.as_ref().map(Percentiles::from),
            pacer_late_us: stats.pacer_late.as_ref().map(Percentiles::from),
            in_flight_mean: stats.in_flight_mean,
            head_of_line_percent: stats.head_of_line_percent,
            client_cpu_percent: stats.cpu.process_percent,
            client_cpu_s: stats.cpu.process_cpu_s,
            client_busy_percent: stats.cpu.busiest_load_thread().map(|t| t.percent),
            node_cpu_percent: stats.cpu.node_percent,
            rss_bytes: stats.cpu.rss_bytes,
            verdict: stats.verdict.kind.to_string(),
            verdict_text: stats.verdict.text.clone(),
            knobs: knobs.clone(),
            nodes: stats.nodes.clone(),
            reads: stats.reads.clone(),
        }
    }

    pub fn errors_total(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Seconds since the run started, at the interval's start.
    pub fn start_s(&self) -> f64 {
        self.at_s - self.length_s
    }
}

/// A line of `events.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventLine {
    pub at_s: f64,
    /// `knob`, `info` or `error`.
    pub kind: String,
    pub text: String,
    /// For a knob change: which knob (`depth`, `strategy`, ...) and its new value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knob: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
}

impl EventLine {
    pub fn new(event: &Event) -> Self {
        let (kind, knob, value) = match &event.kind {
            EventKind::Knob(change) => {
                // KnobChange serialises as {"knob": "depth", "value": 64}.
                let tagged = serde_json::to_value(change).unwrap_or_default();
                (
                    "knob",
                    tagged
                        .get("knob")
                        .and_then(|k| k.as_str())
                        .map(String::from),
                    tagged.get("value").cloned(),
                )
            }
            EventKind::Info => ("info", None, None),
            EventKind::Error => ("error", None, None),
        };
        EventLine {
            at_s: event.at_s,
            kind: kind.into(),
            text: event.text.clone(),
            knob,
            value,
        }
    }

    pub fn is_knob(&self) -> bool {
        self.kind == "knob"
    }
}

/// `meta.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// `session`, `bench`, `sweep` (a `bench --matrix` directory holds one bench run per strategy).
    pub kind: String,
    pub label: String,
    /// When the directory was made, RFC 3339 UTC.
    pub created_utc: String,
    pub casstop_version: String,
    /// The command line, as typed.
    pub command: Vec<String>,
    /// What was written (`default`, a profile's file name) into which table; empty in
    /// recordings made before workloads existed, which all wrote the default table.
    #[serde(default)]
    pub workload: String,
    #[serde(default)]
    pub table: String,
}
