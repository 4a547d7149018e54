//! `casstop bench`: one setting (or every strategy with `--matrix`) run headless, with a live
//! progress line, a final table and JSON.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;

use crate::config::Settings;
use crate::engine::knobs::{Consistency, Runtime, Strategy};
use crate::engine::{Engine, EngineInfo};
use crate::metrics::aggregate::RunTotals;
use crate::metrics::{ErrorCounts, LatencySummary, RunState, Snapshot};
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
    pub throttle_cap: u32,
    pub duration_s: f64,
    /// Requests issued, succeeded, and the rows the successes wrote.
    pub issued: u64,
    pub ok: u64,
    pub ok_rows: u64,
    pub errors: ErrorCounts,
    pub errors_total: u64,
    /// Successful requests per second.
    pub throughput_ops_s: f64,
    /// Service time: from each request's send to its answer.
    pub latency_us: LatencySummary,
    /// Under a target rate: from each request's intended start (coordinated omission corrected).
    pub response_latency_us: Option<LatencySummary>,
    pub client_cpu_s: f64,
    pub cpu_us_per_op: f64,
    pub rss_max_bytes: u64,
    pub server_version: String,
    pub hosts: Vec<String>,
}

impl BenchResult {
    pub fn new(totals: &RunTotals, info: &EngineInfo) -> Self {
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
            throttle_cap: k.throttle_cap,
            duration_s: seconds,
            issued: t.issued,
            ok: t.ok,
            ok_rows: t.ok_rows,
            errors: t.errors,
            errors_total: t.errors.total(),
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
            server_version: info.server_version.clone(),
            hosts: info.hosts.clone(),
        }
    }
}

/// Runs the engine until its `ops` or `duration` limit, printing progress to stderr.
pub fn run_one(settings: &Settings, node_pid: Option<u32>, quiet: bool) -> Result<BenchResult> {
    let engine = Engine::start(settings, node_pid)?;
    let info = engine.info.clone();
    let mut snapshots = engine.subscribe();
    let live = !quiet && std::io::stderr().is_terminal();
    let plain = !quiet && !live;
    // The engine ends the run itself; this thread only reads snapshots.
    loop {
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
    let totals = engine.wait()?;
    Ok(BenchResult::new(&totals, &info))
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
        "  requests     {} ok ({} rows), errors: {}",
        r.ok, r.ok_rows, r.errors
    );
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
        "  client CPU   {:.2} s, {:.1} µs per write; peak RSS {}",
        r.client_cpu_s,
        r.cpu_us_per_op,
        Bytes(r.rss_max_bytes)
    );
}

/// The python benchmarks' table: one row per strategy and the ratio to `sync`.
pub fn print_matrix(results: &[BenchResult]) {
    let sync = results
        .iter()
        .find(|r| r.strategy == Strategy::Sync)
        .map(|r| r.throughput_ops_s)
        .filter(|t| *t > 0.0);
    println!(
        "{:<10} {:>9} {:>12} {:>10} {:>10} {:>12} {:>8} {:>9} {:>10}",
        "strategy",
        "in flight",
        "writes/s",
        "p50",
        "p99",
        "CPU µs/write",
        "errors",
        "peak RSS",
        "vs sync"
    );
    for r in results {
        let limit = match r.strategy {
            Strategy::Sync => 1,
            Strategy::Batches => r.batch,
            Strategy::Pipeline | Strategy::Callbacks => r.depth,
            Strategy::Throttle => r.throttle_cap,
        };
        println!(
            "{:<10} {:>9} {:>12.0} {:>10} {:>10} {:>12.1} {:>8} {:>9} {:>10}",
            r.strategy.to_string(),
            limit,
            r.throughput_ops_s,
            Micros(r.latency_us.p50 as f64).to_string(),
            Micros(r.latency_us.p99 as f64).to_string(),
            r.cpu_us_per_op,
            r.errors_total,
            Bytes(r.rss_max_bytes).to_string(),
            sync.map(|s| format!("{:.1}x", r.throughput_ops_s / s))
                .unwrap_or_else(|| "-".into())
        );
    }
}

pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

/// Default length of a bench run when neither `--duration` nor `--ops` is given.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(10);
