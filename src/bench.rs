//! `casstop bench`: one setting (or every strategy with `--matrix`) run headless, with a live
//! progress line, a final table and JSON.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;

use crate::config::Settings;
use crate::engine::knobs::{Consistency, Retry, Runtime, Strategy};
use crate::engine::{Engine, EngineInfo};
use crate::hop::control::HopState;
use crate::metrics::aggregate::RunTotals;
use crate::metrics::verdict::{Verdict, VerdictKind};
use crate::metrics::{ErrorCounts, IntervalStats, LatencySummary, RunState, Snapshot};
use crate::profiler::ProfileSummary;
use crate::record::RecordFeed;
use crate::units::{Bytes, Micros, PerSecond};

/// The outcome of one bench run, as written to `--json`.
#[derive(Clone, Debug, Serialize)]
pub struct BenchResult {
    pub strategy: Strategy,
    pub depth: u32,
    pub batch: u32,
    pub workers: u32,
    pub runtime: Runtime,
    pub threads: u32,
    pub rate: f64,
    pub payload_bytes: u32,
    pub cpu_work_us: u32,
    pub rows_per_request: u32,
    pub consistency: Consistency,
    #[serde(with = "crate::config::duration")]
    pub request_timeout: std::time::Duration,
    pub retry: Retry,
    pub throttle_cap: u32,
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
    pub client_busy: f64,
    /// The local node's CPU, mean percent of one core (absent for a remote cluster).
    pub node_cpu: Option<f64>,
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
            strategy: k.strategy,
            depth: k.depth,
            batch: k.batch,
            workers: k.workers,
            runtime: info.runtime,
            threads: info.threads,
            rate: k.rate,
            payload_bytes: k.payload_bytes,
            cpu_work_us: k.cpu_work_us,
            rows_per_request: k.rows_per_request,
            consistency: k.consistency,
            request_timeout: k.request_timeout,
            retry: k.retry,
            throttle_cap: k.throttle_cap,
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
            client_busy: mean(working.iter().map(|i| busiest(i))).unwrap_or(0.0),
            node_cpu: mean(working.iter().filter_map(|i| i.cpu.node_percent)),
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

/// Runs the engine until its `ops` or `duration` limit, printing progress to stderr. With
/// `profile`, captures a CPU profile of that length after a short warm-up.
pub fn run_one(
    settings: &Settings,
    node_pid: Option<u32>,
    quiet: bool,
    profile: Option<Duration>,
) -> Result<BenchResult> {
    run_one_recorded(settings, node_pid, quiet, profile, None)
}

/// [`run_one`], recorded: intervals and events go to `record`, the profile into its directory.
pub fn run_one_recorded(
    settings: &Settings,
    node_pid: Option<u32>,
    quiet: bool,
    profile: Option<Duration>,
    record: Option<RecordFeed>,
) -> Result<BenchResult> {
    let profile_base = record
        .as_ref()
        .map(|feed| feed.dir().to_path_buf())
        .unwrap_or_else(|| settings.output.dir.clone());
    // Kept to notice a recording that fails (a full disk): the run then stops as if asked to,
    // so the summary and the recording describe the same run.
    let watch_record = record.clone();
    let mut record_failed = false;
    let engine = Engine::start_recorded(settings, node_pid, record)?;
    let info = engine.info.clone();
    let mut snapshots = engine.subscribe();
    let signals = crate::shutdown::requests()?;
    let mut signals_seen = signals.load(Ordering::SeqCst);
    let live = !quiet && std::io::stderr().is_terminal();
    let plain = !quiet && !live;
    let summary = std::thread::scope(|scope| -> Result<Option<ProfileSummary>> {
        let capture = profile.map(|length| {
            let engine = &engine;
            let profile_base = &profile_base;
            scope.spawn(move || -> Result<ProfileSummary> {
                std::thread::sleep(Duration::from_secs(1));
                let dir = crate::profiler::capture_dir(profile_base);
                let summary = crate::profiler::capture(
                    length,
                    settings.profiler.frequency_hz,
                    &dir,
                    &settings.profiler.categories,
                    None,
                )?;
                engine.note_profile(&summary);
                Ok(summary)
            })
        });
        // The engine ends the run itself; this thread reads snapshots and passes on signals.
        loop {
            if !record_failed
                && let Some(why) = watch_record.as_ref().and_then(|feed| feed.failure())
            {
                record_failed = true;
                eprintln!(
                    "\nrecording failed ({why}); stopping the run, the recording so far is kept"
                );
                engine.request_stop();
            }
            let signalled = signals.load(Ordering::SeqCst);
            if signalled > signals_seen {
                if signals_seen > 0 || signalled > signals_seen + 1 {
                    let in_flight = engine.latest().borrow().interval.in_flight;
                    eprintln!(
                        "\ncasstop: left at once; {in_flight} writes were still in flight and are not counted"
                    );
                    std::process::exit(130);
                }
                signals_seen = signalled;
                eprintln!(
                    "\nstopping: writes in flight drain (at most {}); signal again to leave at once",
                    humantime::format_duration(crate::engine::worker::MAX_DRAIN)
                );
                engine.request_stop();
            }
            match snapshots.blocking_recv() {
                Ok(snapshot) if snapshot.state == RunState::Finished => break,
                Ok(snapshot) => {
                    if live {
                        eprint!("\r\x1b[2K{}", progress_line(&snapshot));
                        let _ = std::io::stderr().flush();
                    } else if plain {
                        eprintln!("{}", progress_line(&snapshot));
                    }
                }
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => break,
            }
        }
        if live {
            eprint!("\r\x1b[2K");
        }
        capture
            .map(|handle| {
                handle
                    .join()
                    .map_err(|_| anyhow::anyhow!("the profiler thread panicked"))?
            })
            .transpose()
    })?;
    let totals = engine.wait()?;
    Ok(BenchResult::with_profile(&totals, &info, summary))
}

/// The one-line live view of a snapshot.
pub fn progress_line(s: &Arc<Snapshot>) -> String {
    let i = &s.interval;
    format!(
        "{:>6.1}s  {:<9} {:>10}  ok {:>9}  err {:>5}  in flight {:>6}  p50 {:>9}  p99 {:>9}  cpu {:>4.0}%",
        s.elapsed.as_secs_f64(),
        s.knobs.strategy,
        PerSecond(i.throughput).to_string(),
        s.totals.ok,
        s.totals.errors.total(),
        i.in_flight,
        Micros(i.service.p50 as f64).to_string(),
        Micros(i.service.p99 as f64).to_string(),
        i.cpu.process_percent
    )
}

/// The final table of one run.
pub fn print_result(result: &BenchResult) {
    let r = result;
    println!(
        "strategy {}  depth {}  batch {}  workers {}  runtime {}  rate {}  payload {} B  cpu work {} µs  rows/request {}",
        r.strategy,
        r.depth,
        r.batch,
        r.workers,
        r.runtime,
        if r.rate > 0.0 {
            PerSecond(r.rate).to_string()
        } else {
            "open".into()
        },
        r.payload_bytes,
        r.cpu_work_us,
        r.rows_per_request
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
        r.client_busy,
        r.node_cpu
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
        .find(|r| r.strategy == Strategy::Sync)
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
        let limit = match r.strategy {
            Strategy::Sync => 1,
            Strategy::Batches => r.batch,
            Strategy::Pipeline | Strategy::Callbacks => r.depth,
            Strategy::Throttle => r.throttle_cap,
        };
        let _ = write!(
            out,
            "{:<10} {:>9} {:>12.0} {:>10} {:>10} {:>12.1} {:>8} {:>9} {:>8} {:>13}",
            r.strategy.to_string(),
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
        let _ = writeln!(out, "  {:<10} {}", r.strategy.to_string(), r.verdict.text);
    }
    out
}

pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

/// Default length of a bench run when neither `--duration` nor `--ops` is given.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(10);
