//! One run directory read back: its intervals, events, histograms and summary, and the row the
//! tables show for it.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use hdrhistogram::Histogram;
use serde::Deserialize;

use crate::metrics::{LatencySummary, new_histogram};
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
        let (mut response, mut service): (Vec<_>, Vec<_>) =
            logged.histograms.into_iter().partition(|h| h.response);
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
            verdict: verdicts
                .into_iter()
                .max_by_key(|(_, n)| *n)
                .map(|(v, _)| v.to_string())
                .unwrap_or_else(|| "idle".into()),
            complete: self.summary.is_some(),
        }
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
    /// The most common verdict over the intervals.
    pub verdict: String,
    /// False for a recording cut short (no `summary.json`).
    pub complete: bool,
}
