//! Faults against a real node: `kill -9` in the middle of a run and a paused (`SIGSTOP`) node.
//! casstop keeps running and counting, shows the node's health, resumes writing by itself when
//! the node is back, and never counts an error as a success: afterwards the table holds every
//! write counted ok, and at most the ones counted "maybe" besides.
//!
//! These faults would disturb every other test, so they run against a node of their own (own
//! data directory and ports), started and stopped here through the same code as `casstop local up`.

use crate::common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use casstop::config::Settings;
use casstop::engine::Engine;
use casstop::knobs::Strategy;
use casstop::local::LocalNode;

use crate::common::Quiet;
use casstop::metrics::NodeHealth;
use casstop::metrics::aggregate::RunTotals;

const CQL_PORT: u16 = 9342;
const STORAGE_PORT: u16 = 7342;

/// Settings for the fault node: its own directory and ports, the test keyspace, short intervals.
fn fault_settings(table: &str) -> Settings {
    let mut settings = Settings::default();
    settings.local.data_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fault-node");
    settings.local.cql_port = CQL_PORT;
    settings.local.storage_port = STORAGE_PORT;
    // Durable acknowledgements: with `periodic` a kill -9 loses acknowledged writes by design.
    settings.local.commitlog_sync = casstop::config::CommitlogSync::Group;
    settings.cluster.port = CQL_PORT;
    settings.cluster.keyspace = "casstop_faults".into();
    settings.cluster.table = table.into();
    settings.knobs.interval = Duration::from_millis(250);
    settings
}

pub(crate) fn up(settings: &Settings) -> u32 {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let report = runtime
        .block_on(LocalNode::new(&settings.local).up(settings, &mut Quiet))
        .unwrap_or_else(|err| panic!("the fault node did not come up: {err:#}"));
    report.pid
}

/// Stops the fault node however the test ends, so no JVM outlives the test binary.
pub(crate) struct NodeGuard(pub(crate) Settings);

impl Drop for NodeGuard {
    fn drop(&mut self) {
        let node = LocalNode::new(&self.0.local);
        if let Some(pid) = node.running_pid() {
            // A paused node must be resumed to hear SIGTERM.
            signal(pid, libc::SIGCONT);
        }
        let _ = node.down();
    }
}

pub(crate) fn signal(pid: u32, signal: i32) {
    // SAFETY: kill has no memory preconditions; the pid is our node's.
    let rc = unsafe { libc::kill(pid as i32, signal) };
    assert_eq!(rc, 0, "signal {signal} to pid {pid}");
}

/// Waits until the run's latest interval says `health`, or panics after `limit`.
fn wait_for_health(engine: &Engine, health: NodeHealth, limit: Duration) -> Duration {
    let started = Instant::now();
    let latest = engine.latest();
    loop {
        if latest.borrow().interval.node == health {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "the node never looked {health} within {limit:?}; last interval: {:?}",
            latest.borrow().interval
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A callbacks run at `depth` and `rate` on a fresh table of its own, writing for `warm` after the
/// node is seen up: the fault comes next. Its settings too, to count the table by.
fn writing(
    settings: &Settings,
    pid: u32,
    (depth, rate, request_timeout): (u32, f64, Duration),
    warm: Duration,
) -> (Settings, Engine) {
    let mut settings = settings.clone();
    settings.knobs.strategy = Strategy::Callbacks;
    settings.knobs.depth = depth;
    settings.knobs.rate = rate;
    settings.knobs.request_timeout = request_timeout;
    fresh_table(&settings);
    let engine = Engine::start(&settings, Some(pid)).expect("engine starts");
    wait_for_health(&engine, NodeHealth::Up, Duration::from_secs(10));
    std::thread::sleep(warm);
    (settings, engine)
}

/// Every key counted ok is in the table; failed writes may or may not be.
fn assert_rows_match(settings: &Settings, totals: &RunTotals) {
    let t = &totals.totals;
    let rows = common::count_rows(settings) as u64;
    eprintln!(
        "issued {} ok {} ({} rows) errors {} maybe {} ({} rows); table {}",
        t.issued, t.ok, t.ok_rows, t.errors, t.maybe, t.maybe_rows, rows
    );
    assert!(
        rows >= t.ok_rows,
        "a write counted ok is missing: table {rows} < ok rows {}",
        t.ok_rows
    );
    assert!(
        rows <= t.ok_rows + t.maybe_rows,
        "the table has rows nobody counted: {rows} > ok {} + maybe {}",
        t.ok_rows,
        t.maybe_rows
    );
    assert_eq!(
        t.issued,
        t.ok + t.errors.total(),
        "every issued write ended as ok or as an error"
    );
}

fn fresh_table(settings: &Settings) {
    common::fresh_table(settings);
}

/// One test for both faults: they share a node that takes half a minute to boot.
#[test]
fn a_killed_node_and_a_paused_node_are_survived_and_counted_honestly() {
    let _load = crate::common::loading();
    let settings = fault_settings("killed");
    let _guard = NodeGuard(settings.clone());
    let pid = up(&settings);

    killed_node_is_survived(&settings, pid);
    let pid = LocalNode::new(&settings.local)
        .running_pid()
        .expect("the fault node runs again");
    paused_node_times_out_instead_of_hanging(&fault_settings("paused"), pid);
    a_stop_under_a_paused_node_drains_for_5_s_then_gives_up(&fault_settings("drain_cap"), pid);
    a_second_signal_leaves_at_once_while_writes_hang(&fault_settings("second_signal"), pid);
}

/// A stop waits for the writes in flight until each has had its request timeout, but never more
/// than 5 s: here the timeout is 30 s and the node never answers, so the drain is the cap, and
/// every write it gives up on is a timeout that may have been applied.
fn a_stop_under_a_paused_node_drains_for_5_s_then_gives_up(settings: &Settings, pid: u32) {
    let (settings, engine) = writing(
        settings,
        pid,
        (8, 500.0, Duration::from_secs(30)),
        Duration::from_secs(1),
    );
    signal(pid, libc::SIGSTOP);
    // Long enough for every slot to fill with a write the node will not answer.
    std::thread::sleep(Duration::from_millis(500));
    let stopping = Instant::now();
    let totals = engine.stop().expect("run ends");
    let took = stopping.elapsed();
    signal(pid, libc::SIGCONT);
    // The cap is 5 s from the stop; a drain that waited for the 30 s timeout, or that did not
    // wait at all, fails here. The upper bound leaves room for a slow machine's summary.
    assert!(
        took >= Duration::from_millis(4_900) && took < Duration::from_secs(12),
        "the drain took {took:?}, not the 5 s cap"
    );
    let t = &totals.totals;
    let timeouts = t.errors.get(casstop::metrics::ErrorKind::Timeout);
    assert_eq!(
        (timeouts, t.errors.total()),
        (t.maybe, t.maybe),
        "each write given up is one timeout, 'maybe' applied: {}",
        t.errors
    );
    assert!(
        (1..=8).contains(&t.maybe),
        "the writes in flight (at most the depth, 8) are given up: {}",
        t.maybe
    );
    assert_rows_match(&settings, &totals);
}

/// Writes to a paused node never drain quickly: the first Ctrl-C starts a drain of up to 5 s,
/// the second leaves at once.
fn a_second_signal_leaves_at_once_while_writes_hang(settings: &Settings, pid: u32) {
    fresh_table(settings);
    let mut child = crate::common::casstop()
        .args([
            "bench",
            "--duration",
            "60s",
            "--request-timeout",
            "30s",
            "--hosts",
        ])
        .arg(format!("127.0.0.1:{CQL_PORT}"))
        .env("CASSTOP_CLUSTER_KEYSPACE", "\"casstop_faults\"")
        .env("CASSTOP_CLUSTER_TABLE", "\"second_signal\"")
        .env("CASSTOP_LOAD_INTERVAL", "\"250ms\"")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("casstop runs");
    let started = Instant::now();
    while common::count_rows(settings) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the run never wrote"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    signal(pid, libc::SIGSTOP);
    std::thread::sleep(Duration::from_millis(500));
    signal(child.id(), libc::SIGINT);
    std::thread::sleep(Duration::from_millis(600));
    let second = Instant::now();
    signal(child.id(), libc::SIGINT);
    let status = child.wait().expect("casstop ends");
    let took = second.elapsed();
    signal(pid, libc::SIGCONT);
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        stderr.contains("stopping: writes in flight drain"),
        "{stderr}"
    );
    assert!(stderr.contains("left at once"), "{stderr}");
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        took < Duration::from_secs(3),
        "left {took:?} after the second signal"
    );
}

fn killed_node_is_survived(settings: &Settings, pid: u32) {
    let (settings, engine) = writing(
        settings,
        pid,
        (16, 2000.0, Duration::from_secs(2)),
        Duration::from_secs(2),
    );
    signal(pid, libc::SIGKILL);
    let down_after = wait_for_health(&engine, NodeHealth::Down, Duration::from_secs(20));
    eprintln!("node seen down {down_after:?} after kill -9");
    let intervals_before = engine.latest().borrow().history.len();
    std::thread::sleep(Duration::from_secs(2));
    // The run goes on while the node is away: intervals keep closing, the charts keep moving.
    let intervals_after = engine.latest().borrow().history.len();
    assert!(
        intervals_after >= intervals_before + 4,
        "intervals stalled while the node was down: {intervals_before} -> {intervals_after}"
    );

    let restarted = Instant::now();
    up(&settings);
    let back_after = wait_for_health(&engine, NodeHealth::Up, Duration::from_secs(60));
    eprintln!(
        "node up again in {:?}; writes resumed {back_after:?} later",
        restarted.elapsed() - back_after
    );
    let ok_at_recovery = engine.latest().borrow().totals.ok;
    std::thread::sleep(Duration::from_secs(2));
    let totals = engine.stop().expect("run ends");

    let t = &totals.totals;
    assert!(t.ok > ok_at_recovery, "writes resumed after the restart");
    assert!(
        t.errors.total() > 0,
        "the outage shows as errors: {}",
        t.errors
    );
    let texts: Vec<&str> = totals.events.iter().map(|e| e.text.as_str()).collect();
    eprintln!("events: {texts:#?}");
    assert!(
        texts.iter().any(|t| t.starts_with("node down")),
        "{texts:?}"
    );
    assert!(
        texts.iter().any(|t| t.starts_with("node back")),
        "{texts:?}"
    );
    assert!(
        totals.history.iter().any(|i| i.node == NodeHealth::Down),
        "the intervals record the outage"
    );
    assert_rows_match(&settings, &totals);
}

fn paused_node_times_out_instead_of_hanging(settings: &Settings, pid: u32) {
    let (settings, engine) = writing(
        settings,
        pid,
        (8, 1000.0, Duration::from_millis(1000)),
        Duration::from_secs(1),
    );
    signal(pid, libc::SIGSTOP);
    let stuck_after = wait_for_health(&engine, NodeHealth::Unresponsive, Duration::from_secs(10));
    eprintln!("node seen unresponsive {stuck_after:?} after SIGSTOP");
    std::thread::sleep(Duration::from_secs(3));
    let timeouts = engine.latest().borrow().totals.errors;
    signal(pid, libc::SIGCONT);
    wait_for_health(&engine, NodeHealth::Up, Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(1));
    let stopping = Instant::now();
    let totals = engine.stop().expect("run ends");
    // The stop drains within its deadline even after a stall; a hang would fail here.
    assert!(
        stopping.elapsed() < Duration::from_secs(30),
        "stopping took {:?}",
        stopping.elapsed()
    );
    assert!(
        timeouts.get(casstop::metrics::ErrorKind::Timeout) > 0,
        "a paused node shows as timeouts: {timeouts}"
    );
    assert!(totals.totals.maybe > 0, "timed-out writes are 'maybe'");
    assert_rows_match(&settings, &totals);
}
