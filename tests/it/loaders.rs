//! Several loaders as one, against the real node: `--seed` + `--shard` split one key space so
//! two loaders write each key once, and `report --merge` gives the p99 of both HDR logs merged by
//! hdrhistogram itself.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

/// A headless bench of `ops` writes into `table`, recording under `out`.
fn bench(table: &str, out: &Path, json: &Path, args: &[&str]) -> Child {
    common::casstop()
        .args(["bench", "-q", "--ops", "20000", "--duration", "0s"])
        .args(["--strategy", "callbacks", "--depth", "32", "--workers", "2"])
        .arg("--json")
        .arg(json)
        .args(args)
        .env("CASSTOP_CLUSTER_KEYSPACE", "casstop_test")
        .env("CASSTOP_CLUSTER_TABLE", table)
        .env("CASSTOP_LOAD_INTERVAL", "500ms")
        .env("CASSTOP_OUTPUT_DIR", out)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("casstop starts")
}

fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Two loaders at once with the same seed and `shards` (or none), and `extra` arguments: their
/// summed ok rows.
fn two_loaders(table: &str, shards: Option<[&str; 2]>, extra: &[&str]) -> (u64, Vec<PathBuf>) {
    let out = tempfile::tempdir().unwrap().keep();
    let children: Vec<(Child, PathBuf, PathBuf)> = (0..2)
        .map(|i| {
            let json = out.join(format!("loader{i}.json"));
            let runs = out.join(format!("loader{i}"));
            let mut args = vec!["--seed", "4242"];
            if let Some(shards) = &shards {
                args.extend(["--shard", shards[i]]);
            }
            args.extend(extra);
            (bench(table, &runs, &json, &args), json, runs)
        })
        .collect();
    let mut ok_rows = 0;
    let mut dirs = Vec::new();
    for (mut child, json_path, runs) in children {
        let status = child.wait().unwrap();
        assert!(status.success(), "a loader failed: {status}");
        let result = json(&json_path);
        assert_eq!(result["errors_total"], 0, "{result}");
        ok_rows += result["ok_rows"].as_u64().unwrap();
        let dir = std::fs::read_dir(&runs)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.is_dir())
            .expect("a run directory");
        dirs.push(dir);
    }
    (ok_rows, dirs)
}

/// `report --merge` of the loaders' run directories: where it wrote, and its merged.json.
fn merged_report(dirs: &[PathBuf]) -> (PathBuf, serde_json::Value) {
    let out = dirs[0].parent().unwrap().parent().unwrap().join("merged");
    let status = common::casstop()
        .args(["report", "--merge"])
        .args(dirs)
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let merged = json(&out.join("merged.json"));
    (out, merged)
}

/// Every histogram of one HDR log with `tag` (`None`: the writes' service time), read by
/// hdrhistogram's own reader and added by it.
fn hdr_log_merged(into: &mut Option<Histogram<u64>>, path: &Path, tag: Option<&str>) {
    let text = std::fs::read(path).unwrap();
    let mut deserializer = Deserializer::new();
    for entry in IntervalLogIterator::new(&text) {
        let LogEntry::Interval(logged) = entry.unwrap() else {
            continue;
        };
        if logged.tag().map(|t| t.as_str()) != tag {
            continue;
        }
        let bytes = casstop::record::hlog::base64_decode(logged.encoded_histogram()).unwrap();
        let histogram: Histogram<u64> = deserializer.deserialize(&mut &bytes[..]).unwrap();
        match into {
            Some(merged) => merged.add(&histogram).unwrap(),
            None => *into = Some(histogram),
        }
    }
}

#[test]
fn two_sharded_loaders_write_each_key_once_and_merge_into_exact_percentiles() {
    let _load = common::loading();
    let settings = common::settings("loaders_shard");
    common::fresh_table(&settings);
    let (ok_rows, dirs) = two_loaders("loaders_shard", Some(["0/2", "1/2"]), &[]);
    assert_eq!(ok_rows, 40_000);
    assert_eq!(
        common::count_rows(&settings) as u64,
        ok_rows,
        "the two shards wrote disjoint keys"
    );

    // The same seed without shards: the loaders write mostly the same keys (so the count above
    // could fail). Each loader's two workers share its 20,000 writes as they go, so the
    // overlap is not quite whole.
    let unsharded = common::settings("loaders_same_keys");
    common::fresh_table(&unsharded);
    let (ok_rows, _) = two_loaders("loaders_same_keys", None, &[]);
    let rows = common::count_rows(&unsharded) as u64;
    assert!(rows < ok_rows * 3 / 4, "{rows} rows of {ok_rows} writes");

    // report --merge: one run whose p99 is that of both logs added by hdrhistogram.
    let (out, merged) = merged_report(&dirs);
    let mut reference = None;
    for dir in &dirs {
        hdr_log_merged(&mut reference, &dir.join("latency.hlog"), None);
    }
    let reference = reference.expect("histograms in the logs");
    let p99 = merged["merged"]["latency_us"]["p99"].as_u64().unwrap();
    assert_eq!(p99, reference.value_at_quantile(0.99));
    assert_eq!(
        merged["merged"]["latency_us"]["max"].as_u64().unwrap(),
        reference.max()
    );
    assert_eq!(merged["merged"]["ok"], 40_000);
    let loaders = merged["loaders"].as_array().unwrap();
    assert_eq!(loaders.len(), 2);
    let summed: f64 = loaders.iter().map(|l| l["ok"].as_f64().unwrap()).sum();
    assert_eq!(summed, 40_000.0);
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("2 loaders merged"), "{report}");
    assert!(out.join("timeline.png").exists());
    let _ = std::fs::remove_dir_all(dirs[0].parent().unwrap().parent().unwrap());
}

#[test]
fn two_loaders_reads_merge_apart_from_their_writes_into_exact_percentiles() {
    let _load = common::loading();
    let settings = common::settings("loaders_mix");
    common::fresh_table(&settings);
    let mix = ["--mix", "insert=1,read=1"];
    let (ok_rows, dirs) = two_loaders("loaders_mix", Some(["0/2", "1/2"]), &mix);
    assert_eq!(common::count_rows(&settings) as u64, ok_rows);
    let (out, merged) = merged_report(&dirs);
    let summary = &merged["merged"];
    let read = &summary["reads"][0];
    assert_eq!(read["op"], "read", "{summary}");
    let loaders = merged["loaders"].as_array().unwrap();
    let loaders_reads: u64 = loaders
        .iter()
        .map(|l| l["reads"][0]["ok"].as_u64().unwrap())
        .sum();
    assert_eq!(read["ok"].as_u64().unwrap(), loaders_reads);
    // Every read asks for a row an acknowledged write left; on a node that has run for hours a
    // few in 40,000 come back empty (an open defect, see issue 14's note): at most 1 in 1,000.
    let (rows, ok) = (read["rows"].as_u64().unwrap(), read["ok"].as_u64().unwrap());
    assert!(
        rows <= ok && rows * 1000 >= ok * 999,
        "{rows} rows found by {ok} reads"
    );
    // Each loader's 20,000 requests: its writes and its reads, each counted once.
    assert_eq!(
        summary["ok"].as_u64().unwrap() + read["ok"].as_u64().unwrap(),
        40_000,
        "{summary}"
    );
    // The merged reads' p99 is that of both logs' `read:read` histograms added by hdrhistogram;
    // the writes' is that of their untagged ones.
    for (tag, latency) in [
        (Some("read:read"), &read["service"]),
        (None, &summary["latency_us"]),
    ] {
        let mut reference = None;
        for dir in &dirs {
            hdr_log_merged(&mut reference, &dir.join("latency.hlog"), tag);
        }
        let reference = reference.expect("histograms in the logs");
        assert_eq!(
            latency["p99"].as_u64().unwrap(),
            reference.value_at_quantile(0.99),
            "{tag:?}"
        );
        assert_eq!(
            latency["count"].as_u64().unwrap(),
            reference.len(),
            "{tag:?}"
        );
    }
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("## Reads in the mix"), "{report}");
    let _ = std::fs::remove_dir_all(dirs[0].parent().unwrap().parent().unwrap());
}
