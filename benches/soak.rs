//! Soak: a long bench at a fixed rate against a node of its own, killed (`kill -9`) halfway
//! and restarted with `casstop local up`'s code. Prints writes attempted, ok, errors, maybe,
//! rows in the table, and the client's RSS at the start, middle and end (it must not grow
//! without bound). Not a test: a measurement, run by hand and reported in closing notes.
//!
//!     cargo bench --bench soak                       # 10 minutes at 2000 writes/s
//!     SOAK_SECS=120 SOAK_RATE=5000 cargo bench --bench soak

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use casstop::config::{CommitlogSync, Settings};
use casstop::engine::Engine;
use casstop::knobs::Strategy;
use casstop::local::{LocalNode, StderrProgress};
use casstop::units::Bytes;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> Result<()> {
    let secs: u64 = env_or("SOAK_SECS", 600);
    let rate: f64 = env_or("SOAK_RATE", 2000.0);
    let mut settings = Settings::default();
    settings.local.data_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/soak-node");
    settings.local.cql_port = 9542;
    settings.local.storage_port = 7542;
    settings.local.commitlog_sync = CommitlogSync::Group;
    settings.cluster.port = 9542;
    settings.cluster.keyspace = "casstop_soak".into();
    settings.knobs.request_timeout = Duration::from_secs(2);
    settings.knobs.strategy = Strategy::Callbacks;
    settings.knobs.depth = 32;
    settings.knobs.rate = rate;

    let runtime = tokio::runtime::Runtime::new()?;
    let node = LocalNode::new(&settings.local);
    let pid = runtime
        .block_on(node.up(&settings, &mut StderrProgress::new()))
        .context("starting the soak node")?
        .pid;
    runtime.block_on(async {
        let session = casstop::cluster::connect(&settings).await?;
        casstop::cluster::create_schema(&session, &settings).await?;
        casstop::cluster::truncate(&session, &settings.cluster).await
    })?;

    eprintln!(
        "soak: {secs} s at {rate} writes/s, kill -9 at {} s",
        secs / 2
    );
    let engine = Engine::start(&settings, Some(pid))?;
    let started = Instant::now();
    let latest = engine.latest();
    let rss = || latest.borrow().interval.cpu.rss_bytes;
    std::thread::sleep(Duration::from_secs(5));
    let rss_start = rss();
    std::thread::sleep(Duration::from_secs(secs / 2).saturating_sub(started.elapsed()));
    let rss_middle = rss();
    // SAFETY: kill has no memory preconditions; the pid is the soak node's.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    let killed = Instant::now();
    std::thread::sleep(Duration::from_secs(3));
    let restarted = runtime.block_on(node.up(&settings, &mut StderrProgress::new()))?;
    let up_again_s = started.elapsed().as_secs_f64();
    eprintln!(
        "soak: node restarted {:.1} s after the kill",
        killed.elapsed().as_secs_f64()
    );
    std::thread::sleep(Duration::from_secs(secs).saturating_sub(started.elapsed()));
    let rss_end = rss();
    let totals = engine.stop()?;
    let rows = runtime.block_on(async {
        let session = casstop::cluster::connect(&settings).await?;
        casstop::cluster::count_rows(&session, &settings.cluster).await
    })? as u64;
    let _ = node.down();

    let t = &totals.totals;
    let outage: f64 = totals
        .history
        .iter()
        .filter(|i| i.node != casstop::metrics::NodeHealth::Up)
        .map(|i| i.length_s)
        .sum();
    println!(
        "soak: {:.0} s at {rate} writes/s, node killed at {} s and restarted (pid {} -> {})",
        totals.duration.as_secs_f64(),
        secs / 2,
        pid,
        restarted.pid
    );
    println!("  attempted  {}", t.issued);
    println!("  ok         {} ({} rows)", t.ok, t.ok_rows);
    println!("  errors     {} ({})", t.errors.total(), t.errors);
    println!("  maybe      {} ({} rows)", t.maybe, t.maybe_rows);
    println!(
        "  table      {rows} rows: {} (ok rows <= table <= ok + maybe rows)",
        if rows >= t.ok_rows && rows <= t.ok_rows + t.maybe_rows {
            "consistent"
        } else {
            "INCONSISTENT"
        }
    );
    let killed_s = secs as f64 / 2.0;
    let resumed_s = totals
        .history
        .iter()
        .find(|i| i.at_s > up_again_s && i.node == casstop::metrics::NodeHealth::Up)
        .map(|i| i.at_s);
    let mean_throughput = |from: f64, to: f64| {
        let window: Vec<_> = totals
            .history
            .iter()
            .filter(|i| i.at_s > from && i.at_s <= to)
            .collect();
        window.iter().map(|i| i.ok).sum::<u64>() as f64
            / window.iter().map(|i| i.length_s).sum::<f64>().max(1e-9)
    };
    println!("  outage     {outage:.1} s of intervals without a healthy node");
    println!(
        "  timeline   killed at {killed_s:.0} s, node answered again at {up_again_s:.0} s, writes resumed at {}",
        resumed_s.map_or("never".to_string(), |s| format!("{s:.1} s"))
    );
    println!(
        "  writes/s   before the kill {:.0}, after recovery {:.0} (target {rate})",
        mean_throughput(5.0, killed_s),
        mean_throughput(resumed_s.unwrap_or(f64::MAX), f64::MAX)
    );
    println!(
        "  RSS        start {}  middle {}  end {}  max {}",
        Bytes(rss_start),
        Bytes(rss_middle),
        Bytes(rss_end),
        Bytes(t.rss_max_bytes)
    );
    Ok(())
}
