//! The real binary, as a user runs it: help and bench JSON. Bad input is in bad_input.rs.

use crate::common;

use std::process::{Command, Output};

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
