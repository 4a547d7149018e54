//! Recordings against the real node: a sweep over a few depths finds a knee inside the swept range
//! and writes its plot; a `casstop bench` killed with SIGKILL mid-run leaves a readable partial
//! recording.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use casstop::commands::sweep::SweepPlan;
use casstop::knobs;
use casstop::knobs::Strategy;
use casstop::record::IntervalLine;
use casstop::report::Recording;

/// The only run directory under `output`.
fn only_run_dir(output: &Path) -> Option<PathBuf> {
    let dirs: Vec<PathBuf> = std::fs::read_dir(output)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    match &dirs[..] {
        [one] => Some(one.clone()),
        _ => None,
    }
}

#[test]
fn sweep_finds_a_knee_within_the_swept_range_and_records_every_step() {
    let _alone = common::measuring();
    let mut settings = common::settings("sweep_knee");
    common::fresh_table(&settings);
    let out = tempfile::tempdir().unwrap();
    settings.output.dir = out.path().to_path_buf();
    settings.knobs.strategy = Strategy::Callbacks;
    // 500 µs of the one worker's CPU per write caps throughput at 2,000/s on any machine: depth 1
    // also waits a round trip per write, so it is well below; past a few chains more depth only
    // queues, so the knee is inside the range whatever the machine's speed.
    settings.knobs.workers = 1;
    settings.knobs.cpu_work_us = 500;
    settings.sweep.step = Duration::from_secs(2);
    // The default 10 % suits a machine left to the load; a shared test box's CPU-bound steps
    // wander by more than that as its other work comes and goes.
    settings.sweep.knee_gain = 0.25;
    settings.sweep.warmup = Duration::from_secs(1);
    let plan = SweepPlan {
        knob: &knobs::DEPTH,
        values: vec![1, 4, 16, 64, 256],
    };
    let started = Instant::now();
    let (result, outcome) =
        casstop::commands::sweep::sweep(&settings, Some(common::node_pid()), &plan, true)
            .expect("sweep");
    let outcome = outcome.expect("recorded");
    eprintln!("sweep took {:.1} s", started.elapsed().as_secs_f64());
    assert!(outcome.failure.is_none(), "{outcome:?}");
    let settings_swept: Vec<u32> = result.steps.iter().map(|s| s.setting).collect();
    assert_eq!(settings_swept, plan.values);
    for step in &result.steps {
        assert!(step.ok > 0, "depth {} measured no writes", step.setting);
        // Each step measures about step_secs (whole intervals after the warm-up).
        assert!(
            (1.0..=2.6).contains(&step.measured_s),
            "depth {} measured {} s",
            step.setting,
            step.measured_s
        );
    }
    let knee = result
        .knee_setting()
        .unwrap_or_else(|| panic!("no knee in {:#?}", result.steps));
    assert!(plan.values[..plan.values.len() - 1].contains(&knee));
    // Past the knee, no step gains the threshold; p99 at the deepest is above the knee's.
    let at = result.knee.unwrap();
    let knee_step = &result.steps[at];
    for later in &result.steps[at + 1..] {
        assert!(later.throughput_ops_s < knee_step.throughput_ops_s * (1.0 + result.knee_gain));
    }
    assert!(result.steps.last().unwrap().p99_us > knee_step.p99_us);

    // Everything on disk: the plot, sweep.json, the recording, and every acknowledged row.
    for file in [
        "sweep.png",
        "sweep.svg",
        "sweep.json",
        "summary.json",
        "latency.hlog",
    ] {
        assert!(outcome.dir.join(file).exists(), "{file} written");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(outcome.dir.join("summary.json")).unwrap())
            .unwrap();
    let ok_rows = summary["ok_rows"].as_u64().unwrap();
    assert_eq!(common::count_rows(&settings) as u64, ok_rows);
    let recording = Recording::load(&outcome.dir).unwrap();
    let depth_changes: Vec<u64> = recording
        .knob_events()
        .filter(|e| e.knob.as_deref() == Some("depth"))
        .filter_map(|e| e.value.as_ref().and_then(|v| v.as_u64()))
        .collect();
    assert_eq!(depth_changes, vec![4, 16, 64, 256]);
    let recorded_ok: u64 = recording.intervals.iter().map(|i| i.ok).sum();
    assert_eq!(recorded_ok, summary["ok"].as_u64().unwrap());
}

#[test]
fn killing_bench_mid_run_leaves_a_readable_partial_recording() {
    let _load = common::loading();
    let settings = common::settings("record_kill");
    common::fresh_table(&settings);
    let out = tempfile::tempdir().unwrap();
    let mut child = crate::common::casstop()
        .args([
            "bench",
            "--strategy",
            "callbacks",
            "--depth",
            "16",
            "--duration",
            "60s",
            "--interval",
            "250ms",
            "--quiet",
        ])
        .env("CASSTOP_CLUSTER_KEYSPACE", "casstop_test")
        .env("CASSTOP_CLUSTER_TABLE", "record_kill")
        .env("CASSTOP_OUTPUT_DIR", out.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("casstop starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    let dir = loop {
        if let Some(dir) = only_run_dir(out.path()) {
            let lines = std::fs::read_to_string(dir.join("intervals.jsonl"))
                .map(|t| t.lines().count())
                .unwrap_or(0);
            if lines >= 8 {
                break dir;
            }
        }
        assert!(Instant::now() < deadline, "no recording after 60 s");
        assert!(child.try_wait().unwrap().is_none(), "bench ended early");
        std::thread::sleep(Duration::from_millis(50));
    };
    child.kill().expect("SIGKILL");
    child.wait().unwrap();

    // Every complete line parses; a line cut by the kill can only be the last.
    let text = std::fs::read_to_string(dir.join("intervals.jsonl")).unwrap();
    let whole = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    let lines: Vec<IntervalLine> = whole
        .lines()
        .map(|l| serde_json::from_str(l).expect("a whole interval line"))
        .collect();
    assert!(lines.len() >= 8);
    assert!(lines.iter().map(|l| l.ok).sum::<u64>() > 0);
    assert!(!dir.join("summary.json").exists(), "the run never ended");
    assert!(dir.join("config.toml").exists() && dir.join("meta.json").exists());
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["workload"], "default", "{meta}");
    assert_eq!(meta["table"], "casstop_test.record_kill", "{meta}");

    // The HDR log reads back through hdrhistogram's reader, each interval with its own count.
    let recording = Recording::load(&dir).expect("a partial recording loads");
    assert!(recording.service.len() >= lines.len());
    for (line, logged) in lines.iter().zip(&recording.service) {
        assert_eq!(logged.histogram.len(), line.ok, "at {} s", line.at_s);
        assert!((logged.start_s - line.start_s()).abs() < 0.002);
    }
    let summary = recording.summary();
    assert!(!summary.complete);
    assert!(summary.latency_us.p99 > 0);
    // And a report can still be made of it.
    let report = out.path().join("report");
    casstop::report::write_report(std::slice::from_ref(&dir), &report)
        .expect("report of a cut recording");
    assert!(report.join("timeline.png").exists());
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(
        md.contains("prepared statements, workload default into casstop_test.record_kill"),
        "{md}"
    );
}

#[test]
fn a_full_disk_stops_the_recording_once_but_not_the_load() {
    let _load = common::loading();
    let mut settings = common::settings("record_full");
    common::fresh_table(&settings);
    let out = tempfile::tempdir().unwrap();
    settings.output.dir = out.path().to_path_buf();
    settings.knobs.depth = 8;
    let dir = out.path().join("full");
    std::fs::create_dir(&dir).unwrap();
    // Every write to /dev/full fails with ENOSPC, as on a full disk.
    std::os::unix::fs::symlink("/dev/full", dir.join("intervals.jsonl")).unwrap();
    let recorder =
        casstop::record::Recorder::create(&dir, &settings, "bench", "full").expect("recorder");
    let engine = casstop::engine::Engine::start_recorded(
        &settings,
        Some(common::node_pid()),
        Some(recorder.feed()),
    )
    .expect("engine starts");
    let latest = engine.latest();
    let deadline = Instant::now() + Duration::from_secs(30);
    let ok_at_failure = loop {
        let snapshot = latest.borrow().clone();
        let stopped: Vec<_> = snapshot
            .events
            .iter()
            .filter(|e| e.text.starts_with("recording stopped"))
            .collect();
        if let Some(event) = stopped.first() {
            assert_eq!(stopped.len(), 1, "said once");
            assert_eq!(event.kind, casstop::metrics::EventKind::Error);
            assert!(event.text.contains("intervals.jsonl"), "{}", event.text);
            break snapshot.totals.ok;
        }
        assert!(Instant::now() < deadline, "the failure was never reported");
        std::thread::sleep(Duration::from_millis(50));
    };
    // The load goes on after the recording stopped.
    let deadline = Instant::now() + Duration::from_secs(30);
    while latest.borrow().totals.ok <= ok_at_failure + 100 {
        assert!(
            Instant::now() < deadline,
            "the load stopped with the recording"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let totals = engine.stop().expect("run ends");
    let stopped = totals
        .events
        .iter()
        .filter(|e| e.text.starts_with("recording stopped"))
        .count();
    assert_eq!(stopped, 1);
    let outcome = recorder.finish(None::<&()>);
    assert!(outcome.describe().contains("stopped early"), "{outcome:?}");
    assert!(!dir.join("summary.json").exists());
}

#[test]
fn sweep_usage_errors_exit_2_naming_the_flag() {
    let _load = crate::common::loading();
    for (args, expect) in [
        (
            vec!["--depth", "1,x"],
            "--depth <N[,...]>': `x` is not a whole number",
        ),
        (vec!["--depth", "1,...,8"], "two values before it"),
        (
            vec!["--depth", "1,2", "--batch", "1,2"],
            "one knob at a time",
        ),
        (vec!["--strategy", "sync"], "no depth or batch to sweep"),
        (
            vec!["--depth", "1,2,2000000"],
            "--depth: depth must be between 1",
        ),
        (
            vec!["--depth", "1,2", "--knee-gain", "0"],
            "--knee-gain: `sweep.knee_gain`",
        ),
    ] {
        let output = crate::common::casstop()
            .arg("sweep")
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expect), "{args:?}: {stderr}");
    }
}
