//! What a run came to: the final table, the `--json` / `summary.json` shape, the matrix table.

use std::collections::BTreeMap;

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::engine::EngineInfo;
use crate::hop::control::HopState;
use crate::knobs::{Knobs, Strategy};
use crate::metrics::aggregate::RunTotals;
use crate::metrics::verdict::{Verdict, VerdictKind};
use crate::metrics::{ErrorCounts, IntervalStats, LatencySummary};
use crate::profiler::ProfileSummary;
use crate::units::{Bytes, Micros, PerSecond};

/// The outcome of one bench run, as written to `--json`.
#[derive(Clone, Debug, Serialize)]
pub struct BenchResult {
    /// Every knob at the run's end, each under its registry name.
    #[serde(flatten)]
    pub knobs: Knobs,
    /// Seconds the run took.
    pub duration_s: f64,
    /// Requests issued, succeeded, and the rows the successes wrote.
    pub issued: u64,
    pub ok: u64,
    pub ok_rows: u64,
    pub errors: ErrorCounts,
    pub errors_total: u64,
    /// Failed requests that may have been applied anyway (timeouts, broken connections) and
    /// their rows: the table holds between `ok_rows` and `ok_rows + maybe_rows` of this run's rows.
    pub maybe: u64,
    pub maybe_rows: u64,
    /// Successful requests per second.
    pub throughput_ops_s: f64,
    /// Service time: from each request's send to its answer.
    pub latency_us: LatencySummary,
    /// Under a target rate: from each request's intended start (coordinated omission corrected).
    pub response_latency_us: Option<LatencySummary>,
    pub client_cpu_s: f64,
    pub cpu_us_per_op: f64,
    pub rss_max_bytes: u64,
    /// The run's verdict: the most common one over its intervals, with its latest evidence.
    pub verdict: Verdict,
    /// Busiest load thread, mean percent of one core over the run's intervals.
    pub client_busy_percent: f64,
    /// The local node's CPU, mean percent of one core (absent for a remote cluster).
    pub node_cpu_percent: Option<f64>,
    /// Share of profile samples per category, when `--profile` captured one.
    pub categories: BTreeMap<String, f64>,
    pub profile: Option<ProfileSummary>,
    pub server_version: String,
    pub hosts: Vec<String>,
    /// Round trip the latency hop emulated (at the run's end), in milliseconds; `null` when the
    /// run went straight to the node.
    pub rtt_ms: Option<f64>,
    /// What the latency hop spent on this run, when it went through one.
    pub hop: Option<HopUsage>,
}

/// The latency hop's share of one run: its own thread's CPU, so its cost can be told apart.
#[derive(Clone, Debug, Default, Serialize)]
pub struct HopUsage {
    /// CPU seconds of the hop's forwarding thread during the run.
    pub cpu_s: f64,
    /// Those, per successful request (`ok`).
    pub cpu_us_per_op: f64,
    pub bytes_to_node: u64,
    pub bytes_to_client: u64,
    /// Client connections the hop accepted during the run.
    pub connections: u64,
    /// CQL write requests the hop forwarded (equals `issued` when nothing went around it).
    pub requests: u64,
    pub jitter_ms: f64,
}

impl BenchResult {
    /// Records the hop's settings and its counters' growth from `before` to `after` the run.
    pub fn note_hop(&mut self, before: &HopState, after: &HopState) {
        let (b, a) = (&before.stats, &after.stats);
        let cpu_s = (a.cpu_s - b.cpu_s).max(0.0);
        self.rtt_ms = Some(after.settings.rtt.as_secs_f64() * 1e3);
        self.hop = Some(HopUsage {
            cpu_s,
            cpu_us_per_op: if self.ok > 0 {
                cpu_s * 1e6 / self.ok as f64
            } else {
                0.0
            },
            bytes_to_node: a.bytes_to_node.saturating_sub(b.bytes_to_node),
            bytes_to_client: a.bytes_to_client.saturating_sub(b.bytes_to_client),
            connections: a.connections.saturating_sub(b.connections),
            requests: a.requests.saturating_sub(b.requests),
            jitter_ms: after.settings.jitter.as_secs_f64() * 1e3,
        });
    }
}

/// The most common non-idle verdict over the intervals, with the text of its latest occurrence.
fn run_verdict(history: &[IntervalStats]) -> Verdict {
    let judged: Vec<&Verdict> = history
        .iter()
        .map(|i| &i.verdict)
        .filter(|v| v.kind != VerdictKind::Idle)
        .collect();
    let count = |kind: VerdictKind| judged.iter().filter(|v| v.kind == kind).count();
    judged
        .iter()
        .max_by_key(|v| count(v.kind))
        .and_then(|winner| judged.iter().rev().find(|v| v.kind == winner.kind))
        .map(|v| (*v).clone())
        .unwrap_or_default()
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

impl BenchResult {
    pub fn new(totals: &RunTotals, info: &EngineInfo) -> Self {
        Self::with_profile(totals, info, None)
    }

    pub fn with_profile(
        totals: &RunTotals,
        info: &EngineInfo,
        profile: Option<ProfileSummary>,
    ) -> Self {
        let working: Vec<&IntervalStats> = totals.history.iter().filter(|i| i.ok > 0).collect();
        let busiest = |i: &IntervalStats| {
            i.cpu
                .busiest_load_thread()
                .map(|t| t.percent)
                .unwrap_or(0.0)
        };
        let k = &totals.knobs;
        let t = &totals.totals;
        let seconds = totals.duration.as_secs_f64().max(1e-9);
        BenchResult {
            knobs: k.clone(),
            duration_s: seconds,
            issued: t.issued,
            ok: t.ok,
            ok_rows: t.ok_rows,
            errors: t.errors,
            errors_total: t.errors.total(),
            maybe: t.maybe,
            maybe_rows: t.maybe_rows,
            throughput_ops_s: t.ok as f64 / seconds,
            latency_us: LatencySummary::of(&totals.service),
            response_latency_us: totals.paced.then(|| LatencySummary::of(&totals.response)),
            client_cpu_s: t.client_cpu_s,
            cpu_us_per_op: if t.ok > 0 {
                t.client_cpu_s * 1e6 / t.ok as f64
            } else {
                0.0
            },
            rss_max_bytes: t.rss_max_bytes,
            verdict: match &profile {
                Some(p) => crate::metrics::verdict::with_profile(
                    run_verdict(&totals.history),
                    p.share("application"),
                ),
                None => run_verdict(&totals.history),
            },
            client_busy_percent: mean(working.iter().map(|i| busiest(i))).unwrap_or(0.0),
            node_cpu_percent: mean(working.iter().filter_map(|i| i.cpu.node_percent)),
            categories: profile
                .as_ref()
                .map(|p| p.categories.iter().cloned().collect())
                .unwrap_or_default(),
            profile,
            server_version: info.server_version.clone(),
            hosts: info.hosts.clone(),
            rtt_ms: None,
            hop: None,
        }
    }
}

/// The final table of one run.
pub fn print_result(result: &BenchResult) {
    let r = result;
    println!(
        "strategy {}  depth {}  batch {}  workers {}  runtime {}  rate {}  payload {} B  cpu work {} µs  rows/request {}",
        r.knobs.strategy,
        r.knobs.depth,
        r.knobs.batch,
        r.knobs.workers,
        r.knobs.runtime,
        if r.knobs.rate > 0.0 {
            PerSecond(r.knobs.rate).to_string()
        } else {
            "open".into()
        },
        r.knobs.payload_bytes,
        r.knobs.cpu_work_us,
        r.knobs.rows_per_request
    );
    println!(
        "  duration     {:.2} s   against {} (Cassandra {})",
        r.duration_s,
        r.hosts.join(","),
        r.server_version
    );
    println!(
        "  requests     {} issued, {} ok ({} rows), errors: {}",
        r.issued, r.ok, r.ok_rows, r.errors
    );
    if r.errors_total > 0 {
        // A failed write is never counted as ok; some failures may still have been applied.
        println!(
            "  maybe        {} of the failed requests ({} rows) may have been written (timeouts, broken connections); the rest were refused",
            r.maybe, r.maybe_rows
        );
    }
    println!("  throughput   {}", PerSecond(r.throughput_ops_s));
    let latency = |label: &str, l: &LatencySummary| {
        println!(
            "  {label} p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
            Micros(l.p50 as f64),
            Micros(l.p90 as f64),
            Micros(l.p99 as f64),
            Micros(l.p999 as f64),
            Micros(l.max as f64)
        );
    };
    latency("service time ", &r.latency_us);
    if let Some(response) = &r.response_latency_us {
        latency("response time", response);
    }
    println!(
        "  client CPU   {:.2} s, {:.1} µs per write; busiest load thread {:.0}% of a core{}; peak RSS {}",
        r.client_cpu_s,
        r.cpu_us_per_op,
        r.client_busy_percent,
        r.node_cpu_percent
            .map(|n| format!("; node {n:.0}%"))
            .unwrap_or_default(),
        Bytes(r.rss_max_bytes)
    );
    println!("  verdict      {}", r.verdict.text);
    if let Some(profile) = &r.profile {
        println!(
            "  profile      {} samples: {}",
            profile.samples,
            profile
                .categories
                .iter()
                .map(|(name, share)| format!("{name} {:.0}%", share * 100.0))
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!("               {}", profile.svg.display());
        println!("               {}", profile.pb.display());
        println!("               {}", profile.folded.display());
    }
}

/// The python benchmarks' table: one row per strategy and the ratio to `sync`; through the
/// latency hop also the hop's own CPU per write. The verdicts follow, one line per strategy.
pub fn print_matrix(results: &[BenchResult]) {
    print!("{}", matrix_text(results));
}

/// The text [`print_matrix`] prints.
pub fn matrix_text(results: &[BenchResult]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let sync = results
        .iter()
        .find(|r| r.knobs.strategy == Strategy::Sync)
        .map(|r| r.throughput_ops_s)
        .filter(|t| *t > 0.0);
    let with_hop = results.iter().any(|r| r.hop.is_some());
    let _ = write!(
        out,
        "{:<10} {:>9} {:>12} {:>10} {:>10} {:>12} {:>8} {:>9} {:>8} {:>13}",
        "strategy",
        "in flight",
        "writes/s",
        "p50",
        "p99",
        "CPU µs/write",
        "errors",
        "peak RSS",
        "vs sync",
        "verdict"
    );
    if with_hop {
        let _ = write!(out, " {:>12}", "hop µs/write");
    }
    out.push('\n');
    for r in results {
        let limit = match r.knobs.strategy {
            Strategy::Sync => 1,
            Strategy::Batches => r.knobs.batch,
            Strategy::Pipeline | Strategy::Callbacks => r.knobs.depth,
            Strategy::Throttle => r.knobs.throttle_cap,
        };
        let _ = write!(
            out,
            "{:<10} {:>9} {:>12.0} {:>10} {:>10} {:>12.1} {:>8} {:>9} {:>8} {:>13}",
            r.knobs.strategy.to_string(),
            limit,
            r.throughput_ops_s,
            Micros(r.latency_us.p50 as f64).to_string(),
            Micros(r.latency_us.p99 as f64).to_string(),
            r.cpu_us_per_op,
            r.errors_total,
            Bytes(r.rss_max_bytes).to_string(),
            sync.map(|s| format!("{:.1}x", r.throughput_ops_s / s))
                .unwrap_or_else(|| "-".into()),
            r.verdict.kind.to_string()
        );
        if with_hop {
            let hop = r
                .hop
                .as_ref()
                .map(|h| format!("{:.1}", h.cpu_us_per_op))
                .unwrap_or_else(|| "-".into());
            let _ = write!(out, " {hop:>12}");
        }
        out.push('\n');
    }
    for r in results {
        let _ = writeln!(
            out,
            "  {:<10} {}",
            r.knobs.strategy.to_string(),
            r.verdict.text
        );
    }
    out
}

pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

/// Default length of a bench run when neither `--duration` nor `--ops` is given.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(10);
