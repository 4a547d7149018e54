//! `casstop report` on recordings checked into tests/fixtures (a real sweep and a real bench run
//! against the local node, kept small): the pictures hold the expected series and labels, the PNGs
//! have the stated size, report.md has the numbers the recordings hold, a compare has the ratios.

use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

use casstop::report::canvas::{CHART_SIZE, TIMELINE_SIZE};
use casstop::units::Micros;

use crate::common::svg_text;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn casstop_report(args: &[&Path], out: &Path) {
    let output = crate::common::casstop()
        .arg("report")
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .expect("casstop runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("report.md"), "{stdout}");
}

/// The numbers, read straight from the recording's files (not through casstop's reader).
struct Expected {
    ok: u64,
    duration_s: f64,
    client_cpu_s: f64,
    service: Histogram<u64>,
    interval_counts: Vec<u64>,
    histogram_counts: Vec<u64>,
}

impl Expected {
    fn of(dir: &Path) -> Expected {
        Expected::of_first(dir, usize::MAX)
    }

    /// The numbers of the first `n` intervals (and histograms) only.
    fn of_first(dir: &Path, n: usize) -> Expected {
        let lines: Vec<serde_json::Value> = std::fs::read_to_string(dir.join("intervals.jsonl"))
            .unwrap()
            .lines()
            .take(n)
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let ok = lines.iter().map(|l| l["ok"].as_u64().unwrap()).sum();
        let duration_s = lines.iter().map(|l| l["length_s"].as_f64().unwrap()).sum();
        let client_cpu_s = lines.last().unwrap()["client_cpu_s"].as_f64().unwrap();
        let interval_counts = lines.iter().map(|l| l["ok"].as_u64().unwrap()).collect();
        let bytes = std::fs::read(dir.join("latency.hlog")).unwrap();
        let mut service = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).unwrap();
        let mut histogram_counts = Vec::new();
        let mut deserializer = Deserializer::new();
        for entry in IntervalLogIterator::new(&bytes) {
            let LogEntry::Interval(logged) = entry.unwrap() else {
                continue;
            };
            if logged.tag().is_some() || histogram_counts.len() == n {
                continue;
            }
            let decoded = casstop::report::hlog::base64_decode(logged.encoded_histogram()).unwrap();
            let h: Histogram<u64> = deserializer.deserialize(&mut &decoded[..]).unwrap();
            histogram_counts.push(h.len());
            service.add(&h).unwrap();
        }
        Expected {
            ok,
            duration_s,
            client_cpu_s,
            service,
            interval_counts,
            histogram_counts,
        }
    }

    fn throughput(&self) -> f64 {
        self.ok as f64 / self.duration_s
    }
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is a PNG",
        path.display()
    );
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

#[test]
fn hlog_counts_match_the_intervals_in_both_fixtures() {
    let _load = crate::common::loading();
    for name in ["sweep-callbacks", "bench-pipeline"] {
        let expected = Expected::of(&fixture(name));
        assert_eq!(
            expected.histogram_counts, expected.interval_counts,
            "{name}"
        );
        assert!(expected.ok > 0);
    }
}

#[test]
fn one_run_report_has_its_series_labels_sizes_and_numbers() {
    let _load = crate::common::loading();
    let run = fixture("sweep-callbacks");
    let out = tempfile::tempdir().unwrap();
    casstop_report(&[&run], out.path());

    let timeline = svg_text(&out.path().join("timeline.svg"));
    for expected in [
        "throughput (writes/s)",
        "service time (log scale)",
        "seconds since start",
        "writes/s",
        ">p50<",
        ">p99<",
        ">max<",
        // The knob changes the sweep made, as marker labels.
        ">depth 16<",
        ">depth 128<",
    ] {
        assert!(timeline.contains(expected), "timeline.svg lacks {expected}");
    }
    let percentiles = svg_text(&out.path().join("percentiles.svg"));
    for expected in [
        "latency by percentile",
        ">service time<",
        ">90%<",
        ">99%<",
        ">99.9%<",
    ] {
        assert!(
            percentiles.contains(expected),
            "percentiles.svg lacks {expected}"
        );
    }
    let sweep = svg_text(&out.path().join("sweep.svg"));
    assert!(sweep.contains("casstop sweep: callbacks depth"));
    assert_eq!(png_size(&out.path().join("timeline.png")), TIMELINE_SIZE);
    assert_eq!(png_size(&out.path().join("percentiles.png")), CHART_SIZE);
    assert_eq!(png_size(&out.path().join("sweep.png")), CHART_SIZE);

    let md = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    let e = Expected::of(&run);
    let row = md
        .lines()
        .find(|l| l.starts_with("| sweep-callbacks |"))
        .unwrap_or_else(|| panic!("no summary row:\n{md}"));
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    // | run | strategy | duration | writes ok | errors | writes/s | p50 | p90 | p99 | p99.9 | max | CPU µs/write | verdict |
    assert_eq!(cells[2], "callbacks");
    assert_eq!(cells[3], format!("{:.1} s", e.duration_s));
    assert_eq!(cells[4], e.ok.to_string());
    assert_eq!(cells[5], "0");
    assert_eq!(cells[6], format!("{:.0}", e.throughput()));
    let micros = |q: f64| Micros(e.service.value_at_quantile(q) as f64).to_string();
    assert_eq!(cells[7], micros(0.5));
    assert_eq!(cells[9], micros(0.99));
    assert_eq!(cells[11], Micros(e.service.max() as f64).to_string());
    assert_eq!(
        cells[12],
        format!("{:.1}", e.client_cpu_s * 1e6 / e.ok as f64)
    );
    for link in [
        "(timeline.png)",
        "(timeline.svg)",
        "(percentiles.png)",
        "(sweep.png)",
    ] {
        assert!(md.contains(link), "report.md links {link}");
    }
    // The sweep's steps, and the knob changes with their times.
    assert!(md.contains("| 16 |") && md.contains("| 128 |"), "{md}");
    assert!(md.contains("s | depth 16 |"), "{md}");
}

#[test]
fn compare_of_two_fixtures_shows_ratios_to_the_first() {
    let _load = crate::common::loading();
    let base = fixture("bench-pipeline");
    let other = fixture("sweep-callbacks");
    let out = tempfile::tempdir().unwrap();
    casstop_report(&[&base, &other], out.path());
    let md = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    let (b, o) = (Expected::of(&base), Expected::of(&other));
    let ratio = |x: f64, y: f64| format!("{:.2}×", x / y);
    let expected_row = format!(
        "| sweep-callbacks | {} | {} | {} | {} |",
        ratio(o.throughput(), b.throughput()),
        ratio(
            o.service.value_at_quantile(0.5) as f64,
            b.service.value_at_quantile(0.5) as f64
        ),
        ratio(
            o.service.value_at_quantile(0.99) as f64,
            b.service.value_at_quantile(0.99) as f64
        ),
        ratio(o.client_cpu_s / o.ok as f64, b.client_cpu_s / b.ok as f64),
    );
    assert!(
        md.contains(&expected_row),
        "expected {expected_row} in:\n{md}"
    );
    assert!(md.contains("| bench-pipeline (baseline) | 1.00× | 1.00× | 1.00× | 1.00× |"));
    // Both runs overlaid in the pictures, each named in the legend.
    let timeline = svg_text(&out.path().join("timeline.svg"));
    for expected in [
        ">bench-pipeline writes/s<",
        ">sweep-callbacks writes/s<",
        ">bench-pipeline p99<",
        ">sweep-callbacks p99<",
    ] {
        assert!(timeline.contains(expected), "timeline.svg lacks {expected}");
    }
    let percentiles = svg_text(&out.path().join("percentiles.svg"));
    assert!(percentiles.contains(">bench-pipeline service time<"));
    assert!(percentiles.contains(">sweep-callbacks service time<"));
}

#[test]
fn a_matrix_report_draws_one_bar_per_strategy_with_its_p99_and_groups_by_rtt() {
    let _load = crate::common::loading();
    let dir = tempfile::tempdir().unwrap();
    let results: Vec<serde_json::Value> = ["sync", "batches", "pipeline", "throttle", "callbacks"]
        .iter()
        .enumerate()
        .flat_map(|(i, s)| {
            ["0", "1ms"].map(|rtt| {
                serde_json::json!({
                    "strategy": s, "rtt": rtt,
                    "throughput_ops_s": 1000.0 * (i + 1) as f64,
                    "latency_us": {"p99": 1500 * (i + 1)},
                })
            })
        })
        .collect();
    std::fs::write(
        dir.path().join("matrix.json"),
        serde_json::to_string(&results).unwrap(),
    )
    .unwrap();
    let out = dir.path().join("report");
    casstop_report(&[dir.path()], &out);
    let svg = svg_text(&out.join("matrix.svg"));
    assert!(svg.contains("writes/s per strategy"));
    assert!(svg.contains(">RTT 1ms<"), "one bar group per RTT");
    assert_eq!(
        svg.matches(">callbacks<").count(),
        2,
        "a callbacks bar in each group"
    );
    assert!(svg.contains("p99 7.50 ms"), "callbacks' p99 on its bar");
    assert_eq!(png_size(&out.join("matrix.png")), CHART_SIZE);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("| 1ms | callbacks | 5000 | 7.50 ms | 5.00× |"),
        "{md}"
    );
}

#[test]
fn report_of_something_that_is_not_a_run_says_so() {
    let _load = crate::common::loading();
    let dir = tempfile::tempdir().unwrap();
    let output = crate::common::casstop()
        .args(["report"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a casstop run directory"), "{stderr}");
}

/// A copy of a fixture in a temporary directory, to be cut or emptied.
fn copy_of(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture(name)).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    dir
}

fn report_of(run: &Path) -> std::process::Output {
    crate::common::casstop()
        .arg("report")
        .arg(run)
        .output()
        .expect("casstop runs")
}

#[test]
fn a_cut_recording_is_reported_on_the_intervals_both_files_hold_and_says_so() {
    let _load = crate::common::loading();
    let run = copy_of("bench-pipeline");
    let intervals = run.path().join("intervals.jsonl");
    let text = std::fs::read_to_string(&intervals).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() > 3, "the fixture has intervals to cut");
    // Two whole lines and half of the third, as a kill leaves it.
    let cut = format!(
        "{}\n{}\n{}",
        lines[0],
        lines[1],
        &lines[2][..lines[2].len() / 2]
    );
    std::fs::write(&intervals, cut).unwrap();

    let output = report_of(run.path());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let histograms = Expected::of(&fixture("bench-pipeline"))
        .histogram_counts
        .len();
    assert!(
        stderr.contains(&format!(
            "intervals.jsonl holds 2 intervals and latency.hlog {histograms}: the report covers the first 2"
        )),
        "{stderr}"
    );
    let md = std::fs::read_to_string(run.path().join("report/report.md")).unwrap();
    assert!(md.contains("was cut short"), "{md}");
    let e = Expected::of_first(run.path(), 2);
    assert_eq!(e.histogram_counts.len(), 2);
    let row = md
        .lines()
        .find(|l| {
            l.starts_with(&format!(
                "| {} ",
                run.path().file_name().unwrap().to_string_lossy()
            ))
        })
        .unwrap_or_else(|| panic!("no summary row:\n{md}"));
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    // Writes, duration and latency all from the same two intervals.
    assert_eq!(cells[3], format!("{:.1} s", e.duration_s));
    assert_eq!(cells[4], e.ok.to_string());
    let micros = |q: f64| Micros(e.service.value_at_quantile(q) as f64).to_string();
    assert_eq!(cells[7], micros(0.5));
    assert_eq!(cells[9], micros(0.99));
    assert_eq!(
        e.service.len(),
        e.ok,
        "histograms count the writes the intervals count"
    );
}

#[test]
fn a_report_that_fails_says_what_is_missing_and_creates_nothing() {
    let _load = crate::common::loading();
    let empty = copy_of("bench-pipeline");
    std::fs::write(empty.path().join("intervals.jsonl"), "").unwrap();
    let cut_hlog = copy_of("bench-pipeline");
    let hlog = std::fs::read_to_string(cut_hlog.path().join("latency.hlog")).unwrap();
    let header: String = hlog
        .lines()
        .filter(|l| l.starts_with(['#', '"']))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(cut_hlog.path().join("latency.hlog"), header).unwrap();
    let not_a_run = tempfile::tempdir().unwrap();
    for (run, says) in [
        (empty.path(), "holds no complete interval"),
        (cut_hlog.path(), "latency.hlog holds no histogram"),
        (not_a_run.path(), "not a casstop run directory"),
    ] {
        let output = report_of(run);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{}: {stderr}", run.display());
        assert!(stderr.contains(says), "{}: {stderr}", run.display());
        assert!(
            !run.join("report").exists(),
            "{}: report/ was created",
            run.display()
        );
    }
}

#[test]
fn a_run_on_three_nodes_gets_a_per_node_chart_with_the_killed_node_marked_down() {
    let _load = crate::common::loading();
    // Recorded here: `bench --rate 2000` on `local up --nodes 3` (RF 3, QUORUM), node 3 killed
    // at 5 s with `casstop local kill 3`.
    let run = fixture("bench-3-nodes-kill");
    let out = tempfile::tempdir().unwrap();
    casstop_report(&[&run], out.path());
    let svg = svg_text(&out.path().join("nodes.svg"));
    for expected in [
        ">casstop: bench-3-nodes-kill, per coordinator node<",
        ">writes/s each node coordinated<",
        ">p99 service time per node (log scale)<",
        ">127.0.0.1<",
        ">127.0.0.2<",
        ">127.0.0.3<",
    ] {
        assert!(svg.contains(expected), "nodes.svg lacks {expected}");
    }
    // One red cross per interval node 3 had no connection (drawn as two lines each).
    let down = std::fs::read_to_string(run.join("intervals.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| {
            l.contains(r#""node":"127.0.0.3:9442","datacenter":"datacenter1","connected":false"#)
        })
        .count();
    assert!(
        down > 30,
        "{down} intervals with node 3 down in the fixture"
    );
    let source = std::fs::read_to_string(out.path().join("nodes.svg")).unwrap();
    let red = source.matches(r##"stroke="#FF0000""##).count();
    assert_eq!(red, 2 * down, "a cross for each interval node 3 was down");
    assert_eq!(png_size(&out.path().join("nodes.png")), TIMELINE_SIZE);
    let md = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    assert!(
        md.contains("## Per coordinator node") && md.contains("(nodes.png)"),
        "{md}"
    );

    // A run on one node has no such chart.
    let single = tempfile::tempdir().unwrap();
    casstop_report(&[&fixture("bench-pipeline")], single.path());
    assert!(!single.path().join("nodes.svg").exists());
    let md = std::fs::read_to_string(single.path().join("report.md")).unwrap();
    assert!(!md.contains("Per coordinator node"));
}
