//! Stopping a bench run with signals, as a user does with Ctrl-C or a supervisor with SIGTERM:
//! the first signal drains the writes in flight and prints the summary (every write counted ok
//! is in the table). A second signal leaving at once needs writes that do not drain: it is
//! tested against a paused node in faults.rs.

use crate::common;

use std::io::Read;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn spawn_bench(table: &str, json: &std::path::Path) -> Child {
    common::node_pid();
    crate::common::casstop()
        .args(["bench", "--duration", "60s", "--truncate", "--json"])
        .arg(json)
        .env("CASSTOP_CLUSTER_KEYSPACE", "\"casstop_test\"")
        .env("CASSTOP_CLUSTER_TABLE", format!("\"{table}\""))
        .env("CASSTOP_LOAD_INTERVAL", "\"250ms\"")
        .env("CASSTOP_LOAD_RATE", "3000")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("casstop runs")
}

fn signal(child: &Child, signal: i32) {
    // SAFETY: kill has no memory preconditions; the pid is our child's.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
}

/// Waits until the run has written something (its JSON does not exist yet, so watch the
/// table), then a little more.
fn wait_until_writing(settings: &casstop::config::Settings) {
    let started = Instant::now();
    while common::count_rows(settings) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the run never wrote"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(1));
}

fn finish(mut child: Child) -> (Option<i32>, String, String, Duration) {
    let started = Instant::now();
    let status = child.wait().expect("casstop ends");
    let took = started.elapsed();
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status.code(), stdout, stderr, took)
}

#[test]
fn sigint_and_sigterm_drain_and_print_the_summary() {
    let _load = crate::common::loading();
    for (table, sig) in [
        ("stop_sigint", libc::SIGINT),
        ("stop_sigterm", libc::SIGTERM),
    ] {
        let settings = common::settings(table);
        common::fresh_table(&settings);
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("result.json");
        let child = spawn_bench(table, &json);
        wait_until_writing(&settings);
        signal(&child, sig);
        let (code, stdout, stderr, took) = finish(child);
        assert_eq!(code, Some(0), "{table}: {stderr}");
        assert!(
            took < Duration::from_secs(15),
            "{table}: draining took {took:?}"
        );
        assert!(
            stderr.contains("stopping: writes in flight drain"),
            "{stderr}"
        );
        assert!(
            stdout.contains("throughput"),
            "the summary is printed: {stdout}"
        );
        let result: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        let ok_rows = result["ok_rows"].as_i64().unwrap();
        assert!(
            result["duration_s"].as_f64().unwrap() < 50.0,
            "stopped early"
        );
        assert_eq!(
            common::count_rows(&settings),
            ok_rows,
            "{table}: every write counted ok is in the table, and only those"
        );
    }
}

#[test]
fn sigint_ends_a_sweep_with_the_steps_measured_so_far_written_and_plotted() {
    let _load = crate::common::loading();
    let settings = common::settings("stop_sweep");
    common::fresh_table(&settings);
    let out = tempfile::tempdir().unwrap();
    let child = crate::common::casstop()
        .args(["sweep", "--strategy", "callbacks", "--depth", "1,2,4,8,16"])
        .args([
            "--step", "1s", "--warmup", "0s", "--rate", "2000", "--quiet",
        ])
        .env("CASSTOP_CLUSTER_KEYSPACE", "\"casstop_test\"")
        .env("CASSTOP_CLUSTER_TABLE", "\"stop_sweep\"")
        .env("CASSTOP_LOAD_INTERVAL", "\"250ms\"")
        .env("CASSTOP_OUTPUT_DIR", out.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("casstop runs");
    // Each step is 1.25 s (its interval of change, then 1 s); stop during the third.
    wait_until_writing(&settings);
    std::thread::sleep(Duration::from_millis(1_800));
    signal(&child, libc::SIGINT);
    let (code, stdout, stderr, _) = finish(child);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("the sweep ends with the"), "{stderr}");
    let run = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .expect("a run directory");
    let sweep: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("sweep.json")).unwrap()).unwrap();
    let steps = sweep["steps"].as_array().unwrap();
    assert!(
        !steps.is_empty() && steps.len() < 5,
        "only the steps measured before the stop: {steps:?}"
    );
    assert!(
        steps.iter().all(|s| s["ok"].as_u64().unwrap() > 0),
        "{steps:?}"
    );
    assert!(run.join("sweep.png").exists() && run.join("summary.json").exists());
    assert!(
        stdout.contains("sweep of depth"),
        "the table prints: {stdout}"
    );
}
