//! The real binary, as a user runs it: help, config errors, unreachable hosts, bench JSON.

mod common;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn casstop(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_casstop"))
        .args(args)
        .env_remove("CASSTOP_CONFIG")
        .output()
        .expect("casstop runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn every_command_explains_itself() {
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
fn misspelt_config_key_is_one_line_naming_key_file_and_line_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[load]\nstrategy = \"sync\"\ndepht = 4\n").unwrap();
    let output = casstop(&["--config", path.to_str().unwrap(), "bench"]);
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert_eq!(text.trim_end().lines().count(), 1, "{text}");
    assert!(
        text.contains(&format!("{}:3: unknown key `load.depht`", path.display())),
        "{text}"
    );
}

#[test]
fn bad_values_exit_2_naming_the_culprit() {
    let output = casstop(&["bench", "--depth", "0"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--depth: `load.depth` must be between 1"),
        "{}",
        stderr(&output)
    );
    let output = Command::new(env!("CARGO_BIN_EXE_casstop"))
        .args(["bench"])
        .env("CASSTOP_LOAD_RATE", "fast")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("CASSTOP_LOAD_RATE"),
        "{}",
        stderr(&output)
    );
    let output = casstop(&["bench", "--strategy", "fastest"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("fastest"));
}

#[test]
fn a_host_that_never_answers_fails_within_the_connect_timeout() {
    // A listener that accepts TCP but never speaks CQL: the driver must give up, not hang.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_casstop"))
        .args(["bench", "--hosts", &address, "--duration", "1s"])
        .env("CASSTOP_CLUSTER_CONNECT_TIMEOUT", "\"2s\"")
        .output()
        .unwrap();
    let took = started.elapsed();
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(
        text.contains(&format!("cannot connect to {address}")),
        "{text}"
    );
    assert_eq!(text.trim_end().lines().count(), 1, "{text}");
    assert!(took < Duration::from_secs(10), "gave up after {took:?}");
    drop(listener);

    // A closed port: refused at once.
    let output = casstop(&["bench", "--hosts", "127.0.0.1:1", "--duration", "1s"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("cannot connect to 127.0.0.1:1"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn bench_writes_json_with_every_field_and_the_table_holds_ok_rows() {
    common::node_pid();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let output = Command::new(env!("CARGO_BIN_EXE_casstop"))
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
    for kind in [
        "timeout",
        "overloaded",
        "unavailable",
        "connection",
        "other",
    ] {
        assert_eq!(value["errors"][kind], 0, "errors.{kind}");
    }
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
