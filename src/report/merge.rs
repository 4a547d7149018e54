//! `report --merge`: the recordings of several loaders as one run.
//!
//! Each loader's HDR log says when it started; its intervals are put on one wall clock and
//! gathered into slots one interval long. A slot's histograms are *added* (never percentiles
//! averaged, scylla-cluster-tests#3133), its counts summed, and its percentiles read from the
//! added histogram, so the merged p99 is the p99 of every write of every loader.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Result, bail};
use hdrhistogram::Histogram;

use crate::metrics::{LatencySummary, ReadSum, most_common, new_histogram, summed_rate};
use crate::record::hlog::{LoggedHistogram, Series};
use crate::record::{EventLine, IntervalLine, Meta, Percentiles};

use super::recording::{LoggedRead, Recording};

/// The merged run, and each loader's recording moved onto its clock.
pub struct Merged {
    pub recording: Recording,
    pub loaders: Vec<Recording>,
}

/// One loader's interval, as a slot takes it: its line and histograms, and the client CPU it
/// used (the recording's is cumulative).
struct LoaderInterval<'a> {
    line: &'a IntervalLine,
    service: &'a LoggedHistogram,
    response: Option<&'a LoggedHistogram>,
    reads: &'a [LoggedRead],
    cpu_s: f64,
}

/// One slot of the merged clock, while it is being filled.
struct Slot {
    service: Histogram<u64>,
    response: Histogram<u64>,
    /// Every interval in the slot had a response-time histogram (all loaders ran under a rate).
    all_response: bool,
    line: Option<IntervalLine>,
    client_cpu_s: f64,
    verdicts: Vec<(String, String)>,
    /// Each loader's successes and the time its intervals in the slot cover: the slot's
    /// throughput is the sum of the loaders' rates, whatever part of the slot each covers.
    covered: Vec<(u64, f64)>,
    /// The mix's reads, each operation summed apart.
    reads: Vec<ReadSum>,
}

impl Slot {
    fn new() -> Slot {
        Slot {
            service: new_histogram(),
            response: new_histogram(),
            all_response: true,
            line: None,
            client_cpu_s: 0.0,
            verdicts: Vec::new(),
            covered: Vec::new(),
            reads: Vec::new(),
        }
    }

    /// Adds one loader's interval: counts summed, histograms added.
    fn add(&mut self, index: usize, loader: &str, interval: LoaderInterval<'_>) {
        let LoaderInterval {
            line,
            service,
            response,
            reads,
            cpu_s,
        } = interval;
        for read in &line.reads {
            let logged = reads.iter().find(|r| r.op == read.op);
            ReadSum::add(
                &mut self.reads,
                index,
                line.length_s,
                read,
                logged.map(|l| &l.service),
                logged.and_then(|l| l.response.as_ref()),
            );
        }
        let _ = self.service.add(&service.histogram);
        match response {
            Some(response) => {
                let _ = self.response.add(&response.histogram);
            }
            None => self.all_response = false,
        }
        self.client_cpu_s += cpu_s;
        if self.covered.len() <= index {
            self.covered.resize(index + 1, (0, 0.0));
        }
        self.covered[index].0 += line.ok;
        self.covered[index].1 += line.length_s;
        self.verdicts
            .push((loader.to_string(), line.verdict.clone()));
        let Some(sum) = &mut self.line else {
            self.line = Some(line.clone());
            return;
        };
        sum.issued += line.issued;
        sum.ok += line.ok;
        sum.ok_rows += line.ok_rows;
        for (kind, n) in &line.errors {
            *sum.errors.entry(kind.clone()).or_default() += n;
        }
        sum.in_flight += line.in_flight;
        sum.in_flight_max += line.in_flight_max;
        sum.in_flight_mean += line.in_flight_mean;
        sum.head_of_line_percent = sum.head_of_line_percent.max(line.head_of_line_percent);
        sum.client_cpu_percent += line.client_cpu_percent;
        sum.client_busy_percent = max_of(sum.client_busy_percent, line.client_busy_percent);
        // Loaders on one machine see the same node: the busiest reading, not a sum.
        sum.node_cpu_percent = max_of(sum.node_cpu_percent, line.node_cpu_percent);
        sum.rss_bytes += line.rss_bytes;
    }

    /// The slot as one interval `length_s` long ending at `at_s`; `None` when no loader had an
    /// interval in it (a gap, shown as nothing written).
    fn close(self, at_s: f64, length_s: f64, cpu_s: f64) -> Option<IntervalLine> {
        let mut line = self.line?;
        line.at_s = at_s;
        line.length_s = length_s;
        line.throughput_ops_s = summed_rate(self.covered.iter().copied());
        line.latency_us = Percentiles::from(&LatencySummary::of(&self.service));
        line.response_latency_us = self
            .all_response
            .then(|| Percentiles::from(&LatencySummary::of(&self.response)));
        line.reads = self
            .reads
            .iter()
            .map(|sum| {
                let mut read = sum.stats();
                // The writes' rule: response time only when every loader had one.
                read.response = read.response.filter(|_| self.all_response);
                read
            })
            .collect();
        // Lateness is a loader's own pacer: it does not add up.
        line.pacer_late_us = None;
        line.client_cpu_s = cpu_s;
        let (verdict, text) = verdict_of(&self.verdicts);
        line.verdict = verdict;
        line.verdict_text = text;
        Some(line)
    }
}

/// `field` of the first loader's meta.json that has one.
fn first_meta(loaders: &[Recording], field: impl Fn(&Meta) -> String) -> String {
    loaders
        .iter()
        .filter_map(|r| r.meta.as_ref())
        .map(field)
        .find(|value| !value.is_empty())
        .unwrap_or_default()
}

fn max_of(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// The most common verdict of the loaders in a slot (the first listed of equals), and each
/// loader's.
fn verdict_of(verdicts: &[(String, String)]) -> (String, String) {
    let most = most_common(verdicts.iter().map(|(_, verdict)| verdict.as_str()))
        .map_or("idle", |(verdict, _)| verdict);
    let each = verdicts
        .iter()
        .map(|(loader, verdict)| format!("{loader}: {verdict}"))
        .collect::<Vec<_>>()
        .join("; ");
    (most.to_string(), each)
}

/// Merges the recordings of `loaders` (run at the same time against one cluster) into one run
/// named after `out`.
pub fn merge(loaders: &[Recording], out: &Path) -> Result<Merged> {
    if loaders.len() < 2 {
        bail!("--merge needs the recordings of at least two loaders");
    }
    let mut starts = Vec::with_capacity(loaders.len());
    for loader in loaders {
        let Some(start) = loader.started_epoch_s else {
            bail!(
                "{}: its latency.hlog has no StartTime, so it cannot be put on the other loaders' clock",
                loader.dir.display()
            );
        };
        starts.push(start);
    }
    // One slot is the longest of the loaders' intervals: a loader with shorter ones puts two
    // in a slot; none is ever split.
    let slot_s = loaders
        .iter()
        .filter_map(|l| l.intervals.last())
        .map(|i| i.knobs.interval.as_secs_f64())
        .fold(0.0, f64::max);
    if slot_s <= 0.0 {
        bail!("the recordings say no interval length");
    }
    let slot_of = |epoch_s: f64| (epoch_s / slot_s).floor() as i64;

    let mut slots: BTreeMap<i64, Slot> = BTreeMap::new();
    for (index, (loader, start)) in loaders.iter().zip(&starts).enumerate() {
        let mut cpu_before = 0.0;
        for (i, line) in loader.intervals.iter().enumerate() {
            let middle = start + line.start_s() + line.length_s / 2.0;
            let cpu = line.client_cpu_s - cpu_before;
            cpu_before = line.client_cpu_s;
            let interval = LoaderInterval {
                line,
                service: &loader.service[i],
                response: loader.response.get(i),
                reads: loader.reads.get(i).map_or(&[][..], Vec::as_slice),
                cpu_s: cpu,
            };
            slots.entry(slot_of(middle)).or_insert_with(Slot::new).add(
                index,
                &loader.name,
                interval,
            );
        }
    }
    let (Some(&first), Some(&last)) = (slots.keys().next(), slots.keys().next_back()) else {
        bail!("the recordings hold no interval");
    };
    let origin_s = first as f64 * slot_s;

    let mut intervals = Vec::new();
    let mut service = Vec::new();
    let mut response = Vec::new();
    let mut reads = Vec::new();
    let mut cpu_s = 0.0;
    let mut knobs = loaders
        .iter()
        .find_map(|l| l.intervals.first())
        .map(|i| i.knobs.clone())
        .unwrap_or_default();
    for index in first..=last {
        let start_s = (index - first) as f64 * slot_s;
        let slot = slots.remove(&index).unwrap_or_else(Slot::new);
        cpu_s += slot.client_cpu_s;
        let (service_h, response_h, all_response) = (
            slot.service.clone(),
            slot.response.clone(),
            slot.all_response,
        );
        reads.push(
            slot.reads
                .iter()
                .map(|sum| LoggedRead {
                    op: sum.op.clone(),
                    service: sum.service.clone(),
                    response: sum.response.clone().filter(|_| all_response),
                })
                .collect::<Vec<_>>(),
        );
        let line = slot
            .close(start_s + slot_s, slot_s, cpu_s)
            .unwrap_or_else(|| empty_interval(start_s + slot_s, slot_s, cpu_s, &knobs));
        knobs = line.knobs.clone();
        service.push(logged(start_s, slot_s, Series::Service, service_h));
        if all_response {
            response.push(logged(start_s, slot_s, Series::Response, response_h));
        }
        intervals.push(line);
    }
    // Response time only when every slot has it: a report never mixes the two.
    if response.len() != service.len() {
        response.clear();
        for line in &mut intervals {
            line.response_latency_us = None;
            line.reads.iter_mut().for_each(|r| r.response = None);
        }
        reads.iter_mut().flatten().for_each(|r| r.response = None);
    }

    let moved: Vec<Recording> = loaders
        .iter()
        .zip(&starts)
        .map(|(loader, start)| moved_by(loader, start - origin_s))
        .collect();
    let mut events: Vec<EventLine> = moved
        .iter()
        .flat_map(|loader| {
            loader.events.iter().map(|event| EventLine {
                text: format!("{}: {}", loader.name, event.text),
                ..event.clone()
            })
        })
        .collect();
    events.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    let cut: Vec<String> = loaders
        .iter()
        .filter_map(|l| l.cut.as_ref().map(|cut| format!("{}: {cut}", l.name)))
        .collect();
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "merged".into());
    let recording = Recording {
        dir: out.to_path_buf(),
        name: format!("{name} ({} loaders merged)", loaders.len()),
        meta: Some(Meta {
            kind: "merge".into(),
            label: name,
            created_utc: humantime::format_rfc3339_seconds(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(origin_s.max(0.0)),
            )
            .to_string(),
            casstop_version: env!("CARGO_PKG_VERSION").into(),
            command: std::env::args().collect(),
            // The loaders ran one workload (attach and merge assume one setup).
            workload: first_meta(loaders, |m| m.workload.clone()),
            table: first_meta(loaders, |m| m.table.clone()),
        }),
        intervals,
        events,
        service,
        response,
        reads,
        // Complete when every loader ended cleanly.
        summary: loaders
            .iter()
            .all(|l| l.summary.is_some())
            .then(|| serde_json::json!({})),
        cut: (!cut.is_empty()).then(|| cut.join("; ")),
        started_epoch_s: Some(origin_s),
    };
    Ok(Merged {
        recording,
        loaders: moved,
    })
}

fn logged(
    start_s: f64,
    length_s: f64,
    series: Series,
    histogram: Histogram<u64>,
) -> LoggedHistogram {
    LoggedHistogram {
        start_s,
        length_s,
        series,
        histogram,
    }
}

/// A slot no loader had an interval in.
fn empty_interval(
    at_s: f64,
    length_s: f64,
    cpu_s: f64,
    knobs: &crate::knobs::Knobs,
) -> IntervalLine {
    IntervalLine {
        at_s,
        length_s,
        issued: 0,
        ok: 0,
        ok_rows: 0,
        errors: BTreeMap::new(),
        throughput_ops_s: 0.0,
        in_flight: 0,
        in_flight_max: 0,
        latency_us: Percentiles::default(),
        response_latency_us: None,
        pacer_late_us: None,
        in_flight_mean: 0.0,
        head_of_line_percent: 0.0,
        client_cpu_percent: 0.0,
        client_cpu_s: cpu_s,
        client_busy_percent: None,
        node_cpu_percent: None,
        rss_bytes: 0,
        verdict: "idle".into(),
        verdict_text: "no loader recorded this interval".into(),
        knobs: knobs.clone(),
        nodes: Vec::new(),
        reads: Vec::new(),
    }
}

/// `loader` with its times moved `by` seconds later: on the merged run's clock.
fn moved_by(loader: &Recording, by: f64) -> Recording {
    let mut moved = loader.clone();
    for line in &mut moved.intervals {
        line.at_s += by;
    }
    for event in &mut moved.events {
        event.at_s += by;
    }
    for logged in moved.service.iter_mut().chain(moved.response.iter_mut()) {
        logged.start_s += by;
    }
    moved.started_epoch_s = loader.started_epoch_s.map(|s| s - by);
    moved
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knobs::Knobs;
    use crate::metrics::ReadStats;

    fn line(at_s: f64, ok: u64, verdict: &str) -> IntervalLine {
        let mut line = empty_interval(at_s, 1.0, 0.0, &Knobs::default());
        line.ok = ok;
        line.ok_rows = ok;
        line.issued = ok;
        line.verdict = verdict.into();
        line
    }

    fn loader(name: &str, start: f64, values: &[&[u64]], verdict: &str) -> Recording {
        let mut intervals = Vec::new();
        let mut service = Vec::new();
        for (i, values) in values.iter().enumerate() {
            let mut h = new_histogram();
            for v in *values {
                h.record(*v).unwrap();
            }
            intervals.push(line(i as f64 + 1.0, values.len() as u64, verdict));
            service.push(logged(i as f64, 1.0, Series::Service, h));
        }
        let reads = vec![Vec::new(); intervals.len()];
        Recording {
            dir: name.into(),
            name: name.into(),
            meta: None,
            intervals,
            events: vec![EventLine {
                at_s: 0.5,
                kind: "knob".into(),
                text: "depth 64".into(),
                knob: Some("depth".into()),
                value: Some(serde_json::json!(64)),
            }],
            service,
            response: Vec::new(),
            reads,
            summary: Some(serde_json::json!({})),
            cut: None,
            started_epoch_s: Some(start),
        }
    }

    #[test]
    fn loaders_are_added_on_one_clock_and_percentiles_come_from_the_added_histograms() {
        // b starts 1.2 s after a: its first interval lands in a's second slot.
        let a = loader("a", 1000.0, &[&[100; 99], &[100; 99]], "io-bound");
        let b = loader("b", 1001.2, &[&[5000; 10], &[5000; 10]], "cpu-bound");
        let merged = merge(&[a, b], Path::new("out/m")).unwrap();
        let r = &merged.recording;
        let ok: Vec<u64> = r.intervals.iter().map(|i| i.ok).collect();
        assert_eq!(ok, vec![99, 109, 10]);
        let rates: Vec<f64> = r.intervals.iter().map(|i| i.throughput_ops_s).collect();
        assert_eq!(rates, vec![99.0, 109.0, 10.0]);
        assert_eq!(r.started_epoch_s, Some(1000.0));
        // 99 fast writes and 10 slow: p99 is a slow one, not the mean of two p99s.
        let p99 = r.intervals[1].latency_us.p99;
        assert!((4990..=5010).contains(&p99), "{p99}");
        assert_eq!(r.intervals[1].verdict, "io-bound");
        assert!(r.intervals[1].verdict_text.contains("b: cpu-bound"));
        let summary = r.summary();
        assert_eq!(summary.ok, 218);
        assert!((summary.throughput_ops_s - 218.0 / 3.0).abs() < 1e-9);
        // Each loader's knob change, named and on the merged clock.
        let at: Vec<(f64, &str)> = r.events.iter().map(|e| (e.at_s, e.text.as_str())).collect();
        assert_eq!(at[0], (0.5, "a: depth 64"));
        assert!(
            (at[1].0 - 1.7).abs() < 1e-9 && at[1].1 == "b: depth 64",
            "{at:?}"
        );
        assert!((merged.loaders[1].intervals[0].at_s - 2.2).abs() < 1e-9);
    }

    /// `loader`'s first interval with `n` reads of `op`, each taking `us`.
    fn with_reads(mut loader: Recording, op: &str, n: u64, us: u64) -> Recording {
        let mut service = new_histogram();
        service.record_n(us, n).unwrap();
        loader.intervals[0].reads.push(ReadStats {
            op: op.into(),
            ok: n,
            rows: n,
            throughput: n as f64,
            service: LatencySummary::of(&service),
            ..ReadStats::default()
        });
        loader.reads[0].push(LoggedRead {
            op: op.into(),
            service,
            response: None,
        });
        loader
    }

    #[test]
    fn each_read_operation_is_merged_apart_with_its_histograms_added() {
        // Both loaders' first intervals fall in one slot: 99 fast reads and 10 slow ones.
        let a = with_reads(loader("a", 1000.0, &[&[100]], "io-bound"), "read", 99, 200);
        let b = with_reads(loader("b", 1000.1, &[&[100]], "io-bound"), "read", 10, 9000);
        let b = with_reads(b, "by_day", 5, 700);
        let merged = merge(&[a, b], Path::new("m")).unwrap();
        let line = &merged.recording.intervals[0];
        let read = line.reads.iter().find(|r| r.op == "read").unwrap();
        assert_eq!((read.ok, read.rows, read.throughput), (109, 109, 109.0));
        assert!((8990..=9010).contains(&read.service.p99), "{read:?}");
        let by_day = line.reads.iter().find(|r| r.op == "by_day").unwrap();
        assert_eq!(by_day.ok, 5);
        // The writes are the writes' alone.
        assert_eq!(line.ok, 2);
        let summaries = merged.recording.read_summaries();
        let ops: Vec<(&str, u64)> = summaries.iter().map(|r| (r.op.as_str(), r.ok)).collect();
        assert_eq!(ops, vec![("read", 109), ("by_day", 5)]);
        assert!((8990..=9010).contains(&summaries[0].service.p99));
    }

    #[test]
    fn a_gap_is_an_empty_slot_and_one_loader_is_refused() {
        let a = loader("a", 0.0, &[&[100]], "io-bound");
        let b = loader("b", 3.0, &[&[100]], "io-bound");
        let merged = merge(&[a.clone(), b], Path::new("m")).unwrap();
        let ok: Vec<u64> = merged.recording.intervals.iter().map(|i| i.ok).collect();
        assert_eq!(ok, vec![1, 0, 0, 1]);
        assert!(merge(std::slice::from_ref(&a), Path::new("m")).is_err());
        let mut clockless = a.clone();
        clockless.started_epoch_s = None;
        let err = merge(&[a, clockless], Path::new("m")).err().unwrap();
        assert!(err.to_string().contains("StartTime"), "{err}");
    }
}
