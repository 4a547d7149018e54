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
use crate::metrics::nodes::NodeTotals;
use crate::metrics::verdict::{Verdict, VerdictKind};
use crate::metrics::{
    ErrorCounts, ErrorKind, IntervalStats, LatencySummary, NodeHealth, ReadStats,
};
use crate::profiler::ProfileSummary;
use crate::stdout::say;
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
    /// Under a target rate: from each request's intended start to its send — casstop's own
    /// lateness, which response time includes and service time does not.
    pub pacer_late_us: Option<LatencySummary>,
    /// Writes in flight, averaged over the run's time.
    pub in_flight_mean: f64,
    /// Share of the slots' time held by finished writes waiting on an older one (`pipeline`)
    /// or on the round's slowest (`batches`), over the run.
    pub head_of_line_percent: f64,
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
    /// What was written (`default`, a profile's file name) and into which table.
    pub workload: String,
    pub table: String,
    /// The table's values are counters: its batches were counter batches, whatever batch_type.
    pub counter_table: bool,
    /// Round trip the latency hop emulated (at the run's end), in milliseconds; `null` when the
    /// run went straight to the node.
    pub rtt_ms: Option<f64>,
    /// What the latency hop spent on this run, when it went through one.
    pub hop: Option<HopUsage>,
    /// What went wrong around the run without stopping it, one line each: the hop stopped
    /// answering, the node died with acknowledged writes not yet synced.
    pub warnings: Vec<String>,
    /// Per coordinator node over the run: writes, share, p50/p99, errors.
    pub nodes: Vec<NodeTotals>,
    /// Each read operation of the mix that ran (the numbers above are the writes').
    pub reads: Vec<ReadStats>,
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
    /// Why a run failed as a measurement, if it did: not one write succeeded (it measured
    /// nothing), or more requests failed than `max_error_percent` (it measured failures). The
    /// commands exit 1 with it, after the summary.
    pub fn failure(&self) -> Option<String> {
        if self.issued == 0 {
            return None;
        }
        let kinds: Vec<String> = ErrorKind::ALL
            .into_iter()
            .map(|kind| (kind.name(), self.errors.get(kind)))
            .filter(|(_, count)| *count > 0)
            .map(|(kind, count)| format!("{count} {kind}"))
            .collect();
        let kinds = if kinds.is_empty() {
            "none answered".to_string()
        } else {
            kinds.join(", ")
        };
        if self.ok == 0 {
            return Some(format!(
                "not one of the {} writes succeeded ({kinds}); the node's reason is in the event log above and in events.jsonl",
                self.issued
            ));
        }
        let failed = 100.0 * self.errors_total as f64 / self.issued as f64;
        let limit = self.knobs.max_error_percent;
        if limit < 100 && failed > f64::from(limit) {
            return Some(format!(
                "{} of the {} requests failed ({failed:.1}%, more than load.max_error_percent = {limit}): {kinds}; \
                 the numbers above describe failures (--max-error-percent 100 accepts them)",
                self.errors_total, self.issued
            ));
        }
        None
    }

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
            pacer_late_us: totals.paced.then(|| LatencySummary::of(&totals.pacer_late)),
            in_flight_mean: t.slots.in_flight_s / seconds,
            head_of_line_percent: t.slots.head_of_line_percent(),
            client_cpu_s: t.client_cpu_s,
            // Per successful request: a mix's reads cost the client CPU too.
            cpu_us_per_op: match t.ok + t.reads.iter().map(|r| r.ok).sum::<u64>() {
                0 => 0.0,
                requests => t.client_cpu_s * 1e6 / requests as f64,
            },
            rss_max_bytes: t.rss_max_bytes,
            verdict: match &profile {
                Some(p) => crate::metrics::verdict::with_profile(
                    run_verdict(since_last_outage(&totals.history)),
                    p.share("application"),
                ),
                None => run_verdict(since_last_outage(&totals.history)),
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
            workload: info.workload.clone(),
            table: info.table.clone(),
            counter_table: info.counter_table,
            rtt_ms: None,
            hop: None,
            warnings: info
                .unsynced_window
                .map(|window| lost_acknowledgements(&totals.history, window))
                .unwrap_or_default(),
            nodes: totals.nodes.clone(),
            reads: t
                .reads
                .iter()
                .map(|read| ReadStats {
                    throughput: read.ok as f64 / seconds,
                    ..read.clone()
                })
                .collect(),
        }
    }
}

/// The intervals since the node last came back: once it is up again, the run's verdict is about
/// the run as it ended, not about the outage. All of them when it never went down, or is down
/// at the end.
fn since_last_outage(history: &[IntervalStats]) -> &[IntervalStats] {
    let down = |i: &IntervalStats| matches!(i.node, NodeHealth::Down | NodeHealth::Unresponsive);
    match history.iter().rposition(down) {
        Some(last) if history.last().is_some_and(|i| i.node == NodeHealth::Up) => {
            &history[last + 1..]
        }
        _ => history,
    }
}

/// Each time the node went down after acknowledging writes, under a commit log that syncs every
/// `window`: how many acknowledged rows a crash may have lost, and how to avoid it.
fn lost_acknowledgements(history: &[IntervalStats], window: Duration) -> Vec<String> {
    let mut warnings = Vec::new();
    for (i, pair) in history.windows(2).enumerate() {
        let [before, after] = pair else { continue };
        if before.node != NodeHealth::Up || after.node != NodeHealth::Down {
            continue;
        }
        let since = before.at_s - window.as_secs_f64();
        let rows: u64 = history[..=i]
            .iter()
            .rev()
            .take_while(|interval| interval.at_s > since)
            .map(|interval| interval.ok_rows)
            .sum();
        warnings.push(format!(
            "the node went down at {:.1} s with `commitlog_sync = periodic` (synced every {}): \
             up to {rows} acknowledged rows written in the {} before may be lost; \
             `local.commitlog_sync = \"group\"` makes acknowledged writes survive a crash",
            after.at_s,
            crate::knobs::format_duration(window),
            crate::knobs::format_duration(window),
        ));
    }
    warnings
}

/// The final table of one run.
pub fn print_result(result: &BenchResult) {
    let r = result;
    say!(
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
    say!(
        "  duration     {:.2} s   against {} (Cassandra {})",
        r.duration_s,
        r.hosts.join(","),
        r.server_version
    );
    say!(
        "  workload     {} into {}, {} statements{}",
        r.workload,
        r.table,
        r.knobs.statement,
        if r.knobs.rows_per_request > 1 {
            let kind = if r.counter_table {
                "counter".to_string()
            } else {
                r.knobs.batch_type.to_string()
            };
            format!(", {kind} batches ({})", r.knobs.batch_spread)
        } else {
            String::new()
        }
    );
    say!(
        "  requests     {} issued{}, {} ok ({} rows), errors: {}",
        r.issued,
        match r
            .reads
            .iter()
            .map(|read| read.ok + read.errors)
            .sum::<u64>()
        {
            0 => String::new(),
            reads => format!(" ({reads} of them reads, below; the rest writes)"),
        },
        r.ok,
        r.ok_rows,
        r.errors
    );
    if r.errors_total > 0 {
        // A failed write is never counted as ok; some failures may still have been applied.
        say!(
            "  maybe        {} of the failed requests ({} rows) may have been written (timeouts, broken connections); the rest were refused",
            r.maybe,
            r.maybe_rows
        );
    }
    say!("  throughput   {}", PerSecond(r.throughput_ops_s));
    let latency = |label: &str, l: &LatencySummary| {
        say!(
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
    if let Some(late) = &r.pacer_late_us {
        latency("pacer late   ", late);
    }
    // A mix's reads: their own counts and latencies, never in the writes' above.
    for read in &r.reads {
        say!(
            "  read {:<8} {} ok ({}), {} rows found, {} errors; p50 {}  p99 {}  max {}",
            read.op,
            read.ok,
            PerSecond(read.throughput),
            read.rows,
            read.errors,
            Micros(read.service.p50 as f64),
            Micros(read.service.p99 as f64),
            Micros(read.service.max as f64)
        );
    }
    // One line per coordinator, once there are several: where the writes went and how each did.
    if r.nodes.len() > 1 {
        for node in &r.nodes {
            say!(
                "  node {:<15} {:>5.1}% of ok  p50 {}  p99 {}  errors {}",
                node.node.ip(),
                node.ok_percent,
                Micros(node.service.p50 as f64),
                Micros(node.service.p99 as f64),
                node.errors
            );
        }
    }
    if matches!(r.knobs.strategy, Strategy::Pipeline | Strategy::Batches) {
        say!(
            "  head-of-line {:.1}% of slot time held by finished writes ({:.1} in flight on average)",
            r.head_of_line_percent,
            r.in_flight_mean
        );
    }
    say!(
        "  client CPU   {:.2} s, {:.1} µs per {}; busiest load thread {:.0}% of a core{}; peak RSS {}",
        r.client_cpu_s,
        r.cpu_us_per_op,
        if r.reads.is_empty() {
            "write"
        } else {
            "request"
        },
        r.client_busy_percent,
        r.node_cpu_percent
            .map(|n| format!("; node {n:.0}%"))
            .unwrap_or_default(),
        Bytes(r.rss_max_bytes)
    );
    say!("  verdict      {}", r.verdict.text);
    for warning in &r.warnings {
        say!("  warning      {warning}");
    }
    if let Some(profile) = &r.profile {
        say!(
            "  profile      {} samples: {}",
            profile.samples,
            profile
                .categories
                .iter()
                .map(|(name, share)| format!("{name} {:.0}%", share * 100.0))
                .collect::<Vec<_>>()
                .join(", ")
        );
        say!("               {}", profile.svg.display());
        say!("               {}", profile.pb.display());
        say!("               {}", profile.folded.display());
        say!(
            "  wall clock   {:.1} s of load threads: {}",
            profile.wall.wall_s,
            profile.wall
        );
        say!("               {}", profile.wall_svg.display());
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Seconds 1..=20 at 100 rows each, the node down from 13 to 15 (`down`) or not at all.
    fn history(down: NodeHealth) -> Vec<IntervalStats> {
        (1..=20)
            .map(|second| {
                let out = (13..=15).contains(&second);
                IntervalStats {
                    at_s: f64::from(second),
                    length_s: 1.0,
                    ok_rows: if out { 0 } else { 100 },
                    node: if out { down } else { NodeHealth::Up },
                    verdict: Verdict {
                        kind: if out {
                            VerdictKind::ServerBound
                        } else {
                            VerdictKind::IoBound
                        },
                        text: second.to_string(),
                        limit: None,
                    },
                    ..IntervalStats::default()
                }
            })
            .collect()
    }

    #[test]
    fn a_node_death_under_a_periodic_commit_log_counts_the_rows_of_the_window_before_it() {
        let warnings = lost_acknowledgements(&history(NodeHealth::Down), Duration::from_secs(10));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        // Seconds 3..=12 end inside the 10 s before the death at the end of second 12.
        assert!(
            warnings[0].starts_with("the node went down at 13.0 s")
                && warnings[0].contains("up to 1000 acknowledged rows written in the 10s before"),
            "{}",
            warnings[0]
        );
        assert!(warnings[0].contains("local.commitlog_sync = \"group\""));
    }

    #[test]
    fn a_paused_node_loses_nothing_and_a_healthy_run_warns_of_nothing() {
        let window = Duration::from_secs(10);
        assert!(lost_acknowledgements(&history(NodeHealth::Unresponsive), window).is_empty());
        let healthy: Vec<IntervalStats> = history(NodeHealth::Up);
        assert!(lost_acknowledgements(&healthy, window).is_empty());
    }

    #[test]
    fn after_the_node_came_back_the_verdict_is_about_the_end_of_the_run() {
        let history = history(NodeHealth::Down);
        let tail = since_last_outage(&history);
        assert_eq!(tail.first().map(|i| i.at_s), Some(16.0));
        assert_eq!(run_verdict(tail).kind, VerdictKind::IoBound);
        // Still down at the end: the outage is what the run came to.
        let ended_down = &history[..14];
        assert_eq!(since_last_outage(ended_down).len(), 14);
    }
}
