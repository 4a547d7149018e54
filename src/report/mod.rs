//! `casstop report`: recordings turned into pictures and tables a user can paste into a ticket.
//!
//! Reads run directories (see [`crate::record`]) and writes, into `--out`:
//! `timeline.{svg,png}` (throughput and latency over time with knob-change markers),
//! `percentiles.{svg,png}` (the latency distribution on a "nines" axis), with several runs the
//! same plots overlaid and a table of ratios to the first run, and `report.md` linking them.
//! A `bench --matrix` directory gets `matrix.{svg,png}`; a sweep's directory its `sweep.{svg,png}`.

pub use crate::record::hlog;
pub mod canvas;
mod matrix;
mod merge;
mod nodes;
pub mod plot;
mod recording;
pub mod sweep;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::record::{EventLine, MATRIX, SWEEP};
use crate::units::Micros;
pub use matrix::{MatrixBar, matrix_bars};
pub use recording::{Recording, RunSummary};

/// Ratios of a run to the baseline (the first run), latte's `--baseline` semantics: above 1 means
/// more of it than the baseline.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ratios {
    pub throughput: Option<f64>,
    pub p50: Option<f64>,
    pub p99: Option<f64>,
    pub cpu_us_per_write: Option<f64>,
}

fn ratio(value: f64, base: f64) -> Option<f64> {
    (base > 0.0 && value.is_finite()).then(|| value / base)
}

impl Ratios {
    pub fn of(run: &RunSummary, base: &RunSummary) -> Ratios {
        Ratios {
            throughput: ratio(run.throughput_ops_s, base.throughput_ops_s),
            p50: ratio(run.latency_us.p50 as f64, base.latency_us.p50 as f64),
            p99: ratio(run.latency_us.p99 as f64, base.latency_us.p99 as f64),
            cpu_us_per_write: match (run.cpu_us_per_write, base.cpu_us_per_write) {
                (Some(run), Some(base)) => ratio(run, base),
                _ => None,
            },
        }
    }
}

/// `1.23×`, or `–` when the baseline has none.
pub fn format_ratio(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "–".into(), |r| format!("{r:.2}×"))
}

/// What `casstop report` wrote.
#[derive(Clone, Debug)]
pub struct ReportFiles {
    pub out: PathBuf,
    pub markdown: PathBuf,
    pub pictures: Vec<PathBuf>,
    /// What the user should know about the inputs: a recording that was cut, and how.
    pub notes: Vec<String>,
}

/// Where a report goes when `--out` is not given: `RUN/report` for one run, else a
/// `<UTC time>-compare` directory beside the first run.
pub fn default_out(runs: &[PathBuf], merge: bool) -> PathBuf {
    match runs {
        [one] if !merge => one.join("report"),
        _ => {
            let parent = runs
                .first()
                .and_then(|r| r.parent())
                .map(Path::to_path_buf)
                .unwrap_or_default();
            let label = if merge { "merge" } else { "compare" };
            crate::record::run_dir_name(&parent, label, std::time::SystemTime::now())
        }
    }
}

/// Writes the report of `runs` into `out`. Everything is read before anything is written, and a
/// directory this call created is removed again when the report fails: a failed report leaves
/// nothing behind.
pub fn write_report(runs: &[PathBuf], out: &Path) -> Result<ReportFiles> {
    if runs.is_empty() {
        bail!("no run directory given");
    }
    if let [one] = runs
        && one.join(MATRIX).exists()
    {
        return write_matrix_report(one, out);
    }
    let recordings = runs
        .iter()
        .map(|dir| Recording::load(dir))
        .collect::<Result<Vec<_>>>()?;
    let sweep = match &recordings[..] {
        [one] if one.dir.join(SWEEP).exists() => {
            let path = one.dir.join(SWEEP);
            let text =
                fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            let result: crate::report::sweep::SweepResult = serde_json::from_str(&text)
                .with_context(|| format!("reading {}", path.display()))?;
            Some(result)
        }
        _ => None,
    };
    let fresh = FreshDir::create(out)?;
    let files = write_run_report(&recordings, sweep.as_ref(), out)?;
    fresh.keep();
    Ok(files)
}

/// The report of several loaders' recordings merged into one run (see [`merge`]): its summary
/// with each loader's row under it, the plots of all on one clock, every loader's knob changes,
/// and `merged.json` with the numbers.
pub fn write_merged_report(runs: &[PathBuf], out: &Path) -> Result<ReportFiles> {
    let loaders = runs
        .iter()
        .map(|dir| Recording::load(dir))
        .collect::<Result<Vec<_>>>()?;
    let merged = merge::merge(&loaders, out)?;
    let mut all = vec![merged.recording];
    all.extend(merged.loaders);
    let fresh = FreshDir::create(out)?;
    let mut pictures = Vec::new();
    pictures.extend(plot::timeline(out, &all)?);
    pictures.extend(plot::percentiles(out, &all)?);
    let markdown = out.join("report.md");
    fs::write(&markdown, markdown_report(&all, out, Shape::Merged))
        .with_context(|| format!("writing {}", markdown.display()))?;
    let summaries: Vec<RunSummary> = all.iter().map(Recording::summary).collect();
    crate::record::write_json(
        &out.join(MERGED),
        &serde_json::json!({ "merged": &summaries[0], "loaders": &summaries[1..] }),
    )?;
    fresh.keep();
    Ok(ReportFiles {
        out: out.to_path_buf(),
        markdown,
        pictures,
        notes: all[0].cut.iter().cloned().collect(),
    })
}

/// What `report --merge` writes beside report.md: the merged run's summary and each loader's.
pub const MERGED: &str = "merged.json";

/// What a report is of.
#[derive(Clone, Copy, PartialEq)]
enum Shape<'a> {
    /// One run, or several compared with the first.
    Runs(Option<&'a crate::report::sweep::SweepResult>),
    /// Loaders merged into one run (the first recording), each loader after it.
    Merged,
}

/// An output directory that is removed again unless [`FreshDir::keep`] is called, when this
/// created it.
struct FreshDir {
    created: Option<PathBuf>,
}

impl FreshDir {
    fn create(out: &Path) -> Result<FreshDir> {
        let created = (!out.exists()).then(|| out.to_path_buf());
        fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        Ok(FreshDir { created })
    }

    fn keep(mut self) {
        self.created = None;
    }
}

impl Drop for FreshDir {
    fn drop(&mut self) {
        if let Some(dir) = &self.created {
            let _ = fs::remove_dir_all(dir);
        }
    }
}

fn write_run_report(
    recordings: &[Recording],
    sweep: Option<&crate::report::sweep::SweepResult>,
    out: &Path,
) -> Result<ReportFiles> {
    let mut pictures = Vec::new();
    pictures.extend(plot::timeline(out, recordings)?);
    pictures.extend(plot::percentiles(out, recordings)?);
    if let [one] = recordings {
        pictures.extend(nodes::nodes(out, one)?);
    }
    if let Some(sweep) = sweep {
        pictures.extend(plot::sweep(out, sweep)?);
    }
    let markdown = out.join("report.md");
    let text = markdown_report(recordings, out, Shape::Runs(sweep));
    fs::write(&markdown, text).with_context(|| format!("writing {}", markdown.display()))?;
    Ok(ReportFiles {
        out: out.to_path_buf(),
        markdown,
        pictures,
        notes: recordings
            .iter()
            .filter_map(|r| {
                r.cut
                    .as_ref()
                    .map(|cut| format!("{}: {cut}", r.dir.display()))
            })
            .collect(),
    })
}

/// A path as a link from `out`: relative when it is inside, else as given.
fn link(path: &Path, out: &Path) -> String {
    path.strip_prefix(out).unwrap_or(path).display().to_string()
}

fn micros(us: u64) -> String {
    Micros(us as f64).to_string()
}

/// The summary table: one row per run.
pub fn summary_table(summaries: &[RunSummary]) -> String {
    let mut text = String::from(
        "| run | strategy | duration | writes ok | errors | writes/s | p50 | p90 | p99 | p99.9 | max | CPU µs/write | verdict |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n",
    );
    for s in summaries {
        let l = &s.latency_us;
        let _ = writeln!(
            text,
            "| {}{} | {} | {:.1} s | {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} |",
            s.name,
            if s.complete { "" } else { " (cut short)" },
            s.strategy,
            s.duration_s,
            s.ok,
            s.errors,
            s.throughput_ops_s,
            micros(l.p50),
            micros(l.p90),
            micros(l.p99),
            micros(l.p999),
            micros(l.max),
            s.cpu_us_per_write
                .map_or_else(|| "–".into(), |c| format!("{c:.1}")),
            s.verdict
        );
    }
    text
}

/// The mix's reads: a row per run and read operation; empty when no run read.
pub fn reads_table(summaries: &[RunSummary]) -> String {
    if summaries.iter().all(|s| s.reads.is_empty()) {
        return String::new();
    }
    let mut text = String::from(
        "| run | read | reads ok | errors | rows found | reads/s | p50 | p90 | p99 | p99.9 | max |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for s in summaries {
        for read in &s.reads {
            let l = &read.service;
            let _ = writeln!(
                text,
                "| {} | {} | {} | {} | {} | {:.0} | {} | {} | {} | {} | {} |",
                s.name,
                read.op,
                read.ok,
                read.errors,
                read.rows,
                read.throughput,
                micros(l.p50),
                micros(l.p90),
                micros(l.p99),
                micros(l.p999),
                micros(l.max)
            );
        }
    }
    text
}

/// Ratios to the first run.
pub fn compare_table(summaries: &[RunSummary]) -> String {
    let mut text = String::from(
        "| run | writes/s | p50 | p99 | CPU µs/write |\n| --- | ---: | ---: | ---: | ---: |\n",
    );
    let Some(base) = summaries.first() else {
        return text;
    };
    for s in summaries {
        let r = Ratios::of(s, base);
        let _ = writeln!(
            text,
            "| {}{} | {} | {} | {} | {} |",
            s.name,
            if std::ptr::eq(s, base) {
                " (baseline)"
            } else {
                ""
            },
            format_ratio(r.throughput),
            format_ratio(r.p50),
            format_ratio(r.p99),
            format_ratio(r.cpu_us_per_write)
        );
    }
    text
}

fn markdown_report(recordings: &[Recording], out: &Path, shape: Shape<'_>) -> String {
    let sweep = match shape {
        Shape::Runs(sweep) => sweep,
        Shape::Merged => None,
    };
    let summaries: Vec<RunSummary> = recordings.iter().map(Recording::summary).collect();
    let mut md = String::from("# casstop report\n\n");
    for r in recordings {
        let _ = writeln!(
            md,
            "- `{}`: {}{}{}",
            r.name,
            r.meta
                .as_ref()
                .map(|m| format!("{} started {}", m.kind, m.created_utc))
                .unwrap_or_else(|| "run".into()),
            r.intervals
                .last()
                .filter(|_| r.meta.as_ref().is_none_or(|m| m.kind != "merge"))
                .map(|i| format!(
                    ", {} depth {} batch {} workers {}, {} statements",
                    i.knobs.strategy,
                    i.knobs.depth,
                    i.knobs.batch,
                    i.knobs.workers,
                    i.knobs.statement
                ))
                .unwrap_or_default(),
            r.meta
                .as_ref()
                .filter(|m| !m.table.is_empty())
                .map(|m| format!(", workload {} into {}", m.workload, m.table))
                .unwrap_or_default()
        );
    }
    for r in recordings {
        if let Some(cut) = &r.cut {
            let _ = writeln!(md, "\n> `{}` was cut short: {cut}.", r.name);
        }
    }
    md.push_str("\n## Summary\n\n");
    md.push_str(&summary_table(&summaries));
    md.push_str(
        "\nLatency is service time (send to answer), from the runs' HdrHistogram logs merged.\n",
    );
    let reads = reads_table(&summaries);
    if !reads.is_empty() {
        md.push_str("\n## Reads in the mix\n\n");
        md.push_str(&reads);
        md.push_str(
            "\nEach read operation apart from the writes (which the summary counts alone): its \
             successes, the rows they found, and its service time from the HDR log's `read:OP` \
             histograms.\n",
        );
    }
    if shape == Shape::Merged {
        let _ = writeln!(
            md,
            "\nThe first row is the {} loaders as one run: their intervals put on one wall clock \
             (each HDR log's StartTime) in slots of one interval, histograms added and counts \
             summed; its percentiles are those of every write of every loader, never an average \
             of the loaders' percentiles. The rows under it are each loader alone.",
            recordings.len() - 1
        );
    } else if summaries.len() > 1 {
        md.push_str("\n## Compared with the first run\n\n");
        md.push_str(&compare_table(&summaries));
        md.push_str("\nAbove 1×: more of it than the baseline (more writes/s is better; more latency or CPU per write is worse).\n");
    }
    let _ = write!(
        md,
        "\n## Throughput and latency over time\n\n![throughput and latency over time](timeline.png)\n\n[SVG](timeline.svg)\n\
         \n## Latency distribution\n\n![latency percentiles](percentiles.png)\n\n[SVG](percentiles.svg)\n"
    );
    if let (Shape::Runs(_), [one]) = (&shape, recordings)
        && !nodes::series(one).is_empty()
    {
        md.push_str(
            "\n## Per coordinator node\n\nWrites/s each node coordinated and their p99 (from the \
             driver's record of each write's coordinator); a red cross marks an interval the \
             driver had no connection to the node.\n\n![per node](nodes.png)\n\n[SVG](nodes.svg)\n",
        );
    }
    if let Some(sweep) = sweep {
        md.push_str("\n## Sweep\n\n");
        md.push_str(&crate::report::sweep::markdown_table(sweep));
        md.push_str("\n![sweep](sweep.png)\n\n[SVG](sweep.svg)\n");
    }
    // A merged run's events are every loader's, named: the loaders' own would repeat them.
    let with_changes = match shape {
        Shape::Merged => &recordings[..1],
        Shape::Runs(_) => recordings,
    };
    for r in with_changes {
        let changes: Vec<&EventLine> = r.knob_events().collect();
        if changes.is_empty() {
            continue;
        }
        let _ = writeln!(
            md,
            "\n## Knob changes in `{}`\n\n| at | change |\n| ---: | --- |",
            r.name
        );
        for e in changes {
            let _ = writeln!(md, "| {:.1} s | {} |", e.at_s.max(0.0), e.text);
        }
    }
    let _ = writeln!(
        md,
        "\nRecordings: {}",
        recordings
            .iter()
            .filter(|r| r.dir != out)
            .map(|r| format!("`{}`", link(&r.dir, out)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    md
}

/// The report of a `bench --matrix` directory: the bar chart and the table.
pub fn write_matrix_report(dir: &Path, out: &Path) -> Result<ReportFiles> {
    let path = dir.join(MATRIX);
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
    let bars = matrix_bars(&json).with_context(|| format!("reading {}", path.display()))?;
    let fresh = FreshDir::create(out)?;
    let pictures = plot::matrix(out, &bars)?;
    let mut md = String::from("# casstop bench --matrix\n\n");
    md.push_str(
        "| RTT | strategy | writes/s | p99 | vs sync |\n| --- | --- | ---: | ---: | ---: |\n",
    );
    for bar in &bars {
        let sync = bars
            .iter()
            .find(|b| b.group == bar.group && b.strategy == "sync")
            .map(|b| b.throughput_ops_s);
        let _ = writeln!(
            md,
            "| {} | {} | {:.0} | {} | {} |",
            if bar.group.is_empty() {
                "–"
            } else {
                &bar.group
            },
            bar.strategy,
            bar.throughput_ops_s,
            micros(bar.p99_us),
            format_ratio(sync.and_then(|s| ratio(bar.throughput_ops_s, s)))
        );
    }
    md.push_str("\n![writes/s per strategy with p99](matrix.png)\n\n[SVG](matrix.svg)\n");
    let markdown = out.join("report.md");
    fs::write(&markdown, md).with_context(|| format!("writing {}", markdown.display()))?;
    fresh.keep();
    Ok(ReportFiles {
        out: out.to_path_buf(),
        markdown,
        pictures,
        notes: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::LatencySummary;

    #[test]
    fn matrix_bars_group_by_rtt_when_present() {
        let plain = serde_json::json!([
            {"strategy": "sync", "throughput_ops_s": 1000.0, "latency_us": {"p99": 900}},
            {"strategy": "callbacks", "throughput_ops_s": 9000.0, "latency_us": {"p99": 4000}},
        ]);
        let bars = matrix_bars(&plain).unwrap();
        assert_eq!(bars.len(), 2);
        assert!(bars.iter().all(|b| b.group.is_empty()));
        assert_eq!(bars[1].p99_us, 4000);
        let grouped = serde_json::json!([
            {"strategy": "sync", "rtt": "1ms", "throughput_ops_s": 500.0, "latency_us": {"p99": 2000}},
            {"strategy": "sync", "rtt_ms": 3, "throughput_ops_s": 200.0, "latency_us": {"p99": 5000}},
        ]);
        let bars = matrix_bars(&grouped).unwrap();
        assert_eq!(bars[0].group, "1ms");
        assert_eq!(bars[1].group, "3 ms");
        assert!(matrix_bars(&serde_json::json!({"strategy": "sync"})).is_err());
    }

    #[test]
    fn ratios_are_to_the_baseline() {
        let run = |tput: f64, p50: u64, p99: u64, cpu: Option<f64>| RunSummary {
            name: "r".into(),
            kind: String::new(),
            strategy: String::new(),
            duration_s: 1.0,
            ok: 1,
            errors: 0,
            throughput_ops_s: tput,
            latency_us: LatencySummary {
                p50,
                p99,
                ..LatencySummary::default()
            },
            response_latency_us: None,
            cpu_us_per_write: cpu,
            reads: vec![],
            verdict: String::new(),
            complete: true,
        };
        let base = run(1000.0, 100, 400, Some(20.0));
        let other = run(2500.0, 150, 200, None);
        let r = Ratios::of(&other, &base);
        assert_eq!(r.throughput, Some(2.5));
        assert_eq!(r.p50, Some(1.5));
        assert_eq!(r.p99, Some(0.5));
        assert_eq!(r.cpu_us_per_write, None);
        assert_eq!(format_ratio(r.throughput), "2.50×");
        assert_eq!(format_ratio(None), "–");
        let table = compare_table(&[base, other]);
        assert!(
            table.contains("| r (baseline) | 1.00× | 1.00× | 1.00× | 1.00× |"),
            "{table}"
        );
        assert!(
            table.contains("| r | 2.50× | 1.50× | 0.50× | – |"),
            "{table}"
        );
    }
}
