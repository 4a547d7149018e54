//! The real binary, as a user runs it: help, bench JSON, a closed stdout. Bad input is in
//! bad_input.rs.

use crate::common;

use std::process::Output;

fn casstop(args: &[&str]) -> Output {
    crate::common::casstop()
        .args(args)
        .output()
        .expect("casstop runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Bench JSON with a zero for every kind of error, each required (a missing field is not 0).
fn assert_no_errors(value: &serde_json::Value, run: &str) {
    for kind in [
        "timeout",
        "overloaded",
        "unavailable",
        "connection",
        "other",
    ] {
        assert_eq!(value["errors"][kind], 0, "{run}: errors.{kind}");
    }
}

#[test]
fn every_command_explains_itself() {
    let _load = crate::common::loading();
    let top = casstop(&["--help"]);
    assert!(top.status.success());
    let text = String::from_utf8_lossy(&top.stdout);
    for sub in ["tui", "bench", "sweep", "report", "local"] {
        assert!(text.contains(sub), "--help lists {sub}");
    }
    for (args, expect) in [
        (vec!["bench", "--help"], "--cpu-work-us"),
        (vec!["bench", "--help"], "--matrix"),
        (vec!["tui", "--help"], "--strategy"),
        (vec!["sweep", "--help"], "--depth"),
        (vec!["report", "--help"], "RUNS"),
        (vec!["local", "--help"], "status"),
        (vec!["local", "up", "--help"], "CQL"),
        (vec!["local", "logs", "--help"], "--lines"),
    ] {
        let output = casstop(&args);
        assert!(output.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            text.contains(expect),
            "{args:?} help mentions {expect}:\n{text}"
        );
    }
}

#[test]
fn bench_writes_json_with_every_field_and_the_table_holds_ok_rows() {
    let _load = crate::common::loading();
    common::node_pid();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let output = crate::common::casstop()
        .args([
            "bench",
            "--strategy",
            "pipeline",
            "--depth",
            "32",
            "--ops",
            "3000",
            "--truncate",
            "--json",
            json.to_str().unwrap(),
            "--quiet",
        ])
        .env("CASSTOP_CLUSTER_KEYSPACE", "casstop_test")
        .env("CASSTOP_CLUSTER_TABLE", "cli_bench")
        .env("CASSTOP_OUTPUT_DIR", dir.path().join("runs"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    for field in [
        "strategy",
        "depth",
        "batch",
        "workers",
        "runtime",
        "rate",
        "payload_bytes",
        "cpu_work_us",
        "rows_per_request",
        "duration_s",
        "ok",
        "errors",
        "throughput_ops_s",
        "latency_us",
        "client_cpu_s",
        "cpu_us_per_op",
        "rss_max_bytes",
    ] {
        assert!(value.get(field).is_some(), "JSON has {field}: {value}");
    }
    for p in ["p50", "p90", "p99", "p999", "max"] {
        assert!(value["latency_us"][p].as_u64().is_some(), "latency_us.{p}");
    }
    assert_no_errors(&value, "pipeline");
    assert_eq!(value["strategy"], "pipeline");
    assert_eq!(value["ok"], 3000);
    let mut settings = common::settings("cli_bench");
    settings.cluster.keyspace = "casstop_test".into();
    assert_eq!(common::count_rows(&settings), 3000);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("throughput"), "{stdout}");
    // The run was recorded, its directory named at the end, its summary the same result.
    let last = stdout.trim_end().lines().last().unwrap_or_default();
    let run_dir = last
        .strip_prefix("recorded in ")
        .unwrap_or_else(|| panic!("last line names the run directory: {last}"));
    assert!(run_dir.starts_with(dir.path().join("runs").to_str().unwrap()));
    assert!(run_dir.ends_with("-bench"), "{run_dir}");
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(std::path::Path::new(run_dir).join("summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["ok"], 3000);
}

/// `casstop bench | head -1` with the reader gone before the summary: the run still ends well
/// (exit 0), its JSON and recording are written, and nothing panics on the closed pipe.
#[test]
fn bench_and_sweep_with_stdout_closed_still_write_everything_and_exit_0() {
    let _load = crate::common::loading();
    common::node_pid();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let runs = dir.path().join("runs");
    let run = |args: &[&str]| {
        let mut child = crate::common::casstop()
            .args(args)
            .arg("--quiet")
            .env("CASSTOP_CLUSTER_KEYSPACE", "casstop_test")
            .env("CASSTOP_CLUSTER_TABLE", "cli_closed_pipe")
            .env("CASSTOP_OUTPUT_DIR", &runs)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader has gone
        let output = child.wait_with_output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
    };
    run(&["bench", "--ops", "500", "--json", json.to_str().unwrap()]);
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(value["ok"], 500);
    run(&["sweep", "--depth", "1,2", "--step", "1s", "--warmup", "1s"]);
    let recorded: Vec<_> = std::fs::read_dir(&runs).unwrap().collect();
    assert_eq!(recorded.len(), 2, "both runs recorded");
    assert!(
        recorded
            .into_iter()
            .any(|dir| dir.unwrap().path().join("sweep.json").exists()),
        "the sweep wrote sweep.json"
    );
}

/// The OS threads of `pid` named `casstop-wrk-*` (the multi-thread runtime's), each with the
/// CPU ticks the kernel charged it (utime + stime).
fn load_threads(pid: u32) -> Vec<(String, u64)> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return vec![];
    };
    let mut threads = vec![];
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // After the `(comm)` field: state is field 3, utime 14 and stime 15.
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let fields: Vec<&str> = rest.split(' ').collect();
        let ticks = |i: usize| fields.get(i - 3).and_then(|f| f.parse::<u64>().ok());
        if comm.starts_with("casstop-wrk-")
            && let (Some(user), Some(system)) = (ticks(14), ticks(15))
        {
            threads.push((comm.trim().to_string(), user + system));
        }
    }
    threads.sort();
    threads
}

#[test]
fn a_multi_thread_runtime_spreads_the_load_over_its_threads_and_writes_exactly_its_ok_rows() {
    let _load = crate::common::loading();
    common::node_pid();
    let dir = tempfile::tempdir().unwrap();
    for (runtime, threads) in [("multi-thread", 3), ("current-thread", 0)] {
        let json = dir.path().join(format!("{runtime}.json"));
        let mut child = crate::common::casstop()
            .args([
                "bench",
                "--runtime",
                runtime,
                "--threads",
                "3",
                "--workers",
                "3",
            ])
            .args(["--duration", "4s", "--truncate", "--quiet", "--json"])
            .arg(&json)
            .env("CASSTOP_CLUSTER_KEYSPACE", "casstop_test")
            .env("CASSTOP_CLUSTER_TABLE", "cli_runtime")
            .env("CASSTOP_OUTPUT_DIR", dir.path().join("runs"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("casstop runs");
        // Seen from the kernel as late in the run as it can be (start-up, a TRUNCATE on a busy
        // node, takes a varying part of it): each of the threads asked for has done real work
        // (100 ms of CPU or more), and no more of them did. tokio names its blocking-pool
        // threads (name lookups, files) with the same function; those idle.
        let mut seen = vec![];
        while child.try_wait().expect("casstop runs").is_none() {
            let now = load_threads(child.id());
            if now.len() >= seen.len() {
                seen = now;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        let busy = seen.iter().filter(|(_, ticks)| *ticks >= 10).count();
        assert_eq!(busy, threads, "{runtime}: load threads that ran: {seen:?}");
        let value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(value["runtime"], runtime);
        let ok = value["ok"].as_u64().expect("ok");
        assert_no_errors(&value, runtime);
        let settings = common::settings("cli_runtime");
        assert_eq!(
            common::count_rows(&settings) as u64,
            ok,
            "{runtime}: rows == ok"
        );
    }
}
