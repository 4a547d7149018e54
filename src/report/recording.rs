//! One run directory read back: its intervals, events, histograms and summary, and the row the
//! tables show for it.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use hdrhistogram::Histogram;
use serde::Deserialize;

use crate::metrics::{LatencySummary, ReadStats, new_histogram};
use crate::record::hlog;
use crate::record::{EVENTS, EventLine, HLOG, INTERVALS, IntervalLine, META, Meta, SUMMARY};

/// One run directory, read back.
#[derive(Clone, Debug)]
pub struct Recording {
    pub dir: PathBuf,
    /// The directory's name: what legends and tables call the run.
    pub name: String,
    pub meta: Option<Meta>,
    pub intervals: Vec<IntervalLine>,
    pub events: Vec<EventLine>,
    /// Service-time histogram per interval, in the order written.
    pub service: Vec<hlog::LoggedHistogram>,
    /// Response-time histograms (only under a target rate).
    pub response: Vec<hlog::LoggedHistogram>,
    /// The mix's reads in each interval (beside `service`): each operation that ran in it.
    pub reads: Vec<Vec<LoggedRead>>,
    /// Present when the run ended cleanly.
    pub summary: Option<serde_json::Value>,
    /// What was cut, when `intervals.jsonl` and `latency.hlog` hold different numbers of
    /// intervals (a kill, a full disk): the report then covers only the intervals both hold.
    pub cut: Option<String>,
    /// When the run started (seconds since the Unix epoch), from the HDR log's header.
    pub started_epoch_s: Option<f64>,
}

/// Reads JSON lines; a last line cut short by a kill is left out, any other bad line is an error.
fn read_lines<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
    };
    let whole = match text.rfind('\n') {
        Some(end) => &text[..=end],
        None => "",
    };
    whole
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line)
                .with_context(|| format!("{}:{}: not a recorded line", path.display(), i + 1))
        })
        .collect()
}

impl Recording {
    pub fn load(dir: &Path) -> Result<Recording> {
        if !dir.join(INTERVALS).exists() {
            bail!(
                "{} is not a casstop run directory (no {INTERVALS})",
                dir.display()
            );
        }
        let mut intervals: Vec<IntervalLine> = read_lines(&dir.join(INTERVALS))?;
        let events = read_lines(&dir.join(EVENTS))?;
        let hlog_path = dir.join(HLOG);
        let logged = match fs::read(&hlog_path) {
            Ok(bytes) => {
                hlog::read(&bytes).with_context(|| format!("reading {}", hlog_path.display()))?
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => hlog::Log::default(),
            Err(err) => {
                return Err(err).with_context(|| format!("reading {}", hlog_path.display()));
            }
        };
        let started_epoch_s = logged.start_epoch_s;
        let (mut service, mut response, mut reads) = (Vec::new(), Vec::new(), Vec::new());
        for logged in logged.histograms {
            match &logged.series {
                hlog::Series::Service => {
                    service.push(logged);
                    reads.push(Vec::new());
                }
                hlog::Series::Response => response.push(logged),
                hlog::Series::Read { op, response } => {
                    // Written after its interval's own: a read before any is not ours to place.
                    let Some(interval) = reads.last_mut() else {
                        continue;
                    };
                    LoggedRead::add(interval, op, *response, &logged.histogram);
                }
            }
        }
        if intervals.is_empty() {
            bail!(
                "{} holds no complete interval (the run ended before its first, or the file was \
                 cut): nothing to report",
                dir.join(INTERVALS).display()
            );
        }
        // Writes come from the intervals, latency from the histograms: both must cover the
        // same intervals, or the numbers disagree silently.
        let cut = (intervals.len() != service.len()).then(|| {
            let both = intervals.len().min(service.len());
            let note = format!(
                "{INTERVALS} holds {} intervals and {HLOG} {}: the report covers the first {both}",
                intervals.len(),
                service.len()
            );
            intervals.truncate(both);
            service.truncate(both);
            reads.truncate(both);
            if !response.is_empty() {
                response.truncate(both);
            }
            note
        });
        if intervals.is_empty() {
            bail!(
                "{} holds no histogram (it is missing or was cut): nothing to report",
                hlog_path.display()
            );
        }
        let meta = fs::read_to_string(dir.join(META))
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok());
        let summary = fs::read_to_string(dir.join(SUMMARY))
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok());
        let name = dir
            .canonicalize()
            .unwrap_or_else(|_| dir.to_path_buf())
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string());
        Ok(Recording {
            dir: dir.to_path_buf(),
            name,
            meta,
            intervals,
            events,
            service,
            response,
            reads,
            summary,
            cut,
            started_epoch_s,
        })
    }

    /// All service-time histograms merged: the run's latency distribution.
    pub fn merged_service(&self) -> Histogram<u64> {
        merge(self.service.iter().map(|h| &h.histogram))
    }

    pub fn merged_response(&self) -> Option<Histogram<u64>> {
        (!self.response.is_empty()).then(|| merge(self.response.iter().map(|h| &h.histogram)))
    }

    /// The read operations that succeeded in the run, in the order they first did.
    pub fn read_ops(&self) -> Vec<String> {
        let mut ops: Vec<String> = Vec::new();
        for read in self.intervals.iter().flat_map(|i| &i.reads) {
            if read.ok > 0 && !ops.contains(&read.op) {
                ops.push(read.op.clone());
            }
        }
        ops
    }

    /// Each read operation's histograms over the whole run, in the order they first ran.
    pub fn merged_reads(&self) -> Vec<LoggedRead> {
        let mut merged: Vec<LoggedRead> = Vec::new();
        for read in self.reads.iter().flatten() {
            LoggedRead::add(&mut merged, &read.op, false, &read.service);
            if let Some(response) = &read.response {
                LoggedRead::add(&mut merged, &read.op, true, response);
            }
        }
        merged
    }

    /// Each read operation's numbers over the run: counts from the intervals, percentiles from
    /// the histograms.
    pub fn read_summaries(&self) -> Vec<ReadStats> {
        let duration_s: f64 = self.intervals.iter().map(|i| i.length_s).sum();
        self.merged_reads()
            .into_iter()
            .map(|read| {
                let lines = self.intervals.iter().flat_map(|i| &i.reads);
                let mine: Vec<&ReadStats> = lines.filter(|r| r.op == read.op).collect();
                let ok: u64 = mine.iter().map(|r| r.ok).sum();
                ReadStats {
                    ok,
                    errors: mine.iter().map(|r| r.errors).sum(),
                    rows: mine.iter().map(|r| r.rows).sum(),
                    throughput: if duration_s > 0.0 {
                        ok as f64 / duration_s
                    } else {
                        0.0
                    },
                    service: LatencySummary::of(&read.service),
                    response: read.response.as_ref().map(LatencySummary::of),
                    op: read.op,
                }
            })
            .collect()
    }

    /// Knob changes: the markers of the timeline.
    pub fn knob_events(&self) -> impl Iterator<Item = &EventLine> {
        self.events.iter().filter(|e| e.is_knob())
    }

    pub fn summary(&self) -> RunSummary {
        let duration_s: f64 = self.intervals.iter().map(|i| i.length_s).sum();
        let ok: u64 = self.intervals.iter().map(|i| i.ok).sum();
        let errors: u64 = self.intervals.iter().map(|i| i.errors_total()).sum();
        let client_cpu_s = self.intervals.last().map(|i| i.client_cpu_s).unwrap_or(0.0);
        let knobs = self.intervals.last().map(|i| &i.knobs);
        let mut verdicts: BTreeMap<&str, usize> = BTreeMap::new();
        for interval in self.intervals.iter().filter(|i| i.verdict != "idle") {
            *verdicts.entry(interval.verdict.as_str()).or_default() += 1;
        }
        RunSummary {
            name: self.name.clone(),
            kind: self
                .meta
                .as_ref()
                .map(|m| m.kind.clone())
                .unwrap_or_default(),
            strategy: knobs.map(|k| k.strategy.to_string()).unwrap_or_default(),
            duration_s,
            ok,
            errors,
            throughput_ops_s: if duration_s > 0.0 {
                ok as f64 / duration_s
            } else {
                0.0
            },
            latency_us: LatencySummary::of(&self.merged_service()),
            response_latency_us: self.merged_response().map(|h| LatencySummary::of(&h)),
            cpu_us_per_write: (ok > 0).then(|| client_cpu_s * 1e6 / ok as f64),
            reads: self.read_summaries(),
            verdict: verdicts
                .into_iter()
                .max_by_key(|(_, n)| *n)
                .map(|(v, _)| v.to_string())
                .unwrap_or_else(|| "idle".into()),
            complete: self.summary.is_some(),
        }
    }
}

/// One read operation's histograms over an interval (or the run).
#[derive(Clone, Debug)]
pub struct LoggedRead {
    pub op: String,
    pub service: Histogram<u64>,
    /// Only under a target rate.
    pub response: Option<Histogram<u64>>,
}

impl LoggedRead {
    /// Adds `histogram` to `op`'s service (or `response`) time in `reads`.
    pub fn add(reads: &mut Vec<LoggedRead>, op: &str, response: bool, histogram: &Histogram<u64>) {
        let index = match reads.iter().position(|r| r.op == op) {
            Some(index) => index,
            None => {
                reads.push(LoggedRead {
                    op: op.to_string(),
                    service: new_histogram(),
                    response: None,
                });
                reads.len() - 1
            }
        };
        let read = &mut reads[index];
        let into = if response {
            read.response.get_or_insert_with(new_histogram)
        } else {
            &mut read.service
        };
        let _ = into.add(histogram);
    }
}

fn merge<'a>(histograms: impl Iterator<Item = &'a Histogram<u64>>) -> Histogram<u64> {
    let mut merged = new_histogram();
    for histogram in histograms {
        let _ = merged.add(histogram);
    }
    merged
}

/// A run in one row: what the tables show.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RunSummary {
    pub name: String,
    pub kind: String,
    pub strategy: String,
    pub duration_s: f64,
    pub ok: u64,
    pub errors: u64,
    pub throughput_ops_s: f64,
    pub latency_us: LatencySummary,
    pub response_latency_us: Option<LatencySummary>,
    pub cpu_us_per_write: Option<f64>,
    /// The mix's reads, an entry per operation (none without reads).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reads: Vec<ReadStats>,
    /// The most common verdict over the intervals.
    pub verdict: String,
    /// False for a recording cut short (no `summary.json`).
    pub complete: bool,
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::SystemTime;

    use super::*;
    use crate::config::Settings;
    use crate::metrics::{IntervalStats, ReadCounts};
    use crate::record::{ClosedInterval, Record, Recorder};

    /// An interval of `writes` writes at 100 µs and, for each `(op, n, µs)`, `n` reads of `op`.
    fn interval(at_s: f64, writes: u64, reads: &[(&str, u64, u64)], paced: bool) -> Record {
        let mut service = new_histogram();
        service.record_n(100, writes).unwrap();
        let reads: Vec<ReadCounts> = reads
            .iter()
            .map(|(op, n, us)| {
                let mut counts = ReadCounts::new((*op).into());
                counts.ok = *n;
                counts.rows = *n;
                counts.service.record_n(*us, *n).unwrap();
                counts.response.record_n(*us * 2, *n).unwrap();
                counts
            })
            .collect();
        let stats = IntervalStats {
            at_s,
            length_s: 1.0,
            ok: writes,
            throughput: writes as f64,
            service: LatencySummary::of(&service),
            reads: reads.iter().map(|r| r.stats(1.0, paced)).collect(),
            ..IntervalStats::default()
        };
        Record::Interval(Box::new(ClosedInterval {
            stats: Arc::new(stats),
            knobs: Default::default(),
            response: paced.then(|| service.clone()),
            service,
            reads,
        }))
    }

    #[test]
    fn a_reads_histograms_come_back_from_the_hlog_under_its_interval_and_name() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let recorder = Recorder::create(&run, &Settings::default(), "bench", "t").unwrap();
        let feed = recorder.feed();
        feed.send(Record::Started {
            at: SystemTime::now(),
        });
        feed.send(interval(1.0, 10, &[("read", 5, 300)], true));
        // An interval without reads (the mix changed): nothing of theirs in it.
        feed.send(interval(2.0, 10, &[], true));
        feed.send(interval(
            3.0,
            10,
            &[("read", 5, 9_000), ("by_day", 2, 40)],
            true,
        ));
        drop(feed);
        assert!(recorder.finish(Some(&1)).failure.is_none());

        let recording = Recording::load(&run).unwrap();
        assert_eq!(recording.service.len(), 3, "the writes' own intervals");
        let per_interval: Vec<Vec<&str>> = recording
            .reads
            .iter()
            .map(|i| i.iter().map(|r| r.op.as_str()).collect())
            .collect();
        assert_eq!(
            per_interval,
            vec![vec!["read"], vec![], vec!["read", "by_day"]]
        );
        let summaries = recording.read_summaries();
        assert_eq!(summaries.len(), 2);
        let read = &summaries[0];
        assert_eq!((read.op.as_str(), read.ok, read.rows), ("read", 10, 10));
        assert!((8_990..=9_010).contains(&read.service.max), "{read:?}");
        assert!((17_980..=18_020).contains(&read.response.unwrap().max));
        assert_eq!(summaries[1].service.count, 2);
        // The writes' latency holds no read.
        assert_eq!(recording.merged_service().max(), 100);
        assert_eq!(recording.summary().reads, summaries);
    }
}
