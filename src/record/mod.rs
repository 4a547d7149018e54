//! Recordings: every session, `bench` and `sweep` run writes a run directory as it goes, so a
//! crash or Ctrl-C keeps everything up to that moment.
//!
//! ```text
//!  metrics thread ──(unbounded channel: never blocks, never drops)──► recorder thread
//!   closes an interval: stats + its histograms + new events           appends a line to each
//!                                                                     file, one write per line
//! ```
//! A run directory (`<output.dir>/<UTC time>-<label>/`, owner-only) holds the effective settings
//! without secrets (`config.toml`), `meta.json`, `intervals.jsonl`, `events.jsonl`, the
//! HdrHistogram interval log `latency.hlog`, the run's profiles, and `summary.json` at a clean end.
//! A write that fails (a full disk) stops the recording, keeps what was written, and says so once:
//! an error event in the session and a line at the end of the command. The load goes on.

pub mod format;
pub mod hlog;

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, anyhow};
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use serde::Serialize;

use crate::config::Settings;
pub use format::*;

pub use crate::metrics::feed::{ClosedInterval, Record, RecordFeed};

/// A recording in progress.
pub struct Recorder {
    dir: PathBuf,
    feed: RecordFeed,
    thread: JoinHandle<()>,
}

/// How a recording ended.
#[derive(Clone, Debug)]
pub struct RecordOutcome {
    pub dir: PathBuf,
    /// Set when a write failed: the recording holds everything up to that write.
    pub failure: Option<String>,
}

impl RecordOutcome {
    /// The line commands print at their end.
    pub fn describe(&self) -> String {
        match &self.failure {
            None => format!("recorded in {}", self.dir.display()),
            Some(why) => format!(
                "recording stopped early ({why}); what was written is in {}",
                self.dir.display()
            ),
        }
    }
}

/// `<output>/<UTC time>-<label>`, e.g. `runs/20261125T151230Z-bench`.
pub fn run_dir_name(output: &Path, label: &str, at: SystemTime) -> PathBuf {
    let stamp = humantime::format_rfc3339_seconds(at)
        .to_string()
        .replace(['-', ':'], "");
    output.join(format!("{stamp}-{label}"))
}

/// The label of a run: `output.label`, else the command's name.
pub fn label<'a>(settings: &'a Settings, command: &'a str) -> &'a str {
    if settings.output.label.is_empty() {
        command
    } else {
        &settings.output.label
    }
}

/// Makes a new owner-only run directory under `output` (`-2`, `-3`, ... when two runs start in
/// the same second).
pub fn create_run_dir(output: &Path, label: &str) -> Result<PathBuf> {
    // Where runs go is configuration: a directory that cannot be made is the user's to fix
    // (exit 2), before anything connects or runs.
    create_private_dir(output, true).map_err(|err| {
        crate::error::UsageError(format!(
            "output.dir `{}` cannot hold recordings: {}; set another output.dir (CASSTOP_OUTPUT_DIR), or record nothing with --no-record",
            output.display(),
            err.root_cause()
        ))
    })?;
    let base = run_dir_name(output, label, SystemTime::now());
    for attempt in 1.. {
        let dir = if attempt == 1 {
            base.clone()
        } else {
            PathBuf::from(format!("{}-{attempt}", base.display()))
        };
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {
                fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
                    .with_context(|| format!("making {} owner-only", dir.display()))?;
                return Ok(dir);
            }
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {}
            Err(err) => {
                return Err(err)
                    .with_context(|| format!("creating run directory {}", dir.display()));
            }
        }
    }
    unreachable!("the loop returns")
}

pub use crate::files::create_private_dir;

/// The effective settings as TOML, without the password (never recorded, not even as `***`).
pub fn settings_without_secrets(settings: &Settings) -> Result<String> {
    let mut value = settings.to_toml().context("serialising the settings")?;
    if let Some(auth) = value.get_mut("auth").and_then(|a| a.as_table_mut()) {
        auth.remove("password");
    }
    let text = toml::to_string_pretty(&value).context("serialising the settings")?;
    Ok(format!(
        "# The effective settings of this run (defaults < file < environment < flags).\n\
         # auth.password is never recorded. `casstop --config THIS_FILE ...` runs the same setup.\n\n{text}"
    ))
}

impl Recorder {
    /// Starts recording into `dir` (made owner-only if it does not exist): writes the settings
    /// without secrets and `meta.json` now, the rest as the run goes.
    pub fn create(dir: &Path, settings: &Settings, kind: &str, label: &str) -> Result<Recorder> {
        create_private_dir(dir, true)?;
        let config = dir.join(CONFIG);
        fs::write(&config, settings_without_secrets(settings)?)
            .with_context(|| format!("writing {}", config.display()))?;
        let meta = Meta {
            kind: kind.into(),
            label: label.into(),
            created_utc: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            casstop_version: env!("CARGO_PKG_VERSION").into(),
            command: std::env::args().collect(),
            workload: settings.profile.label(),
            table: format!("{}.{}", settings.cluster.keyspace, settings.cluster.table),
        };
        write_json(&dir.join(META), &meta)?;
        let files = RunFiles::open(dir)?;
        let (sender, receiver) = std::sync::mpsc::channel();
        let failure = Arc::new(OnceLock::new());
        let thread = {
            let failure = failure.clone();
            std::thread::Builder::new()
                .name("casstop-record".into())
                .spawn(move || record_loop(files, receiver, &failure))
                .context("starting the recorder thread")?
        };
        Ok(Recorder {
            dir: dir.to_path_buf(),
            feed: RecordFeed::new(sender, failure, dir.to_path_buf()),
            thread,
        })
    }

    /// Makes a fresh run directory under `settings.output.dir` and records into it.
    pub fn start(settings: &Settings, kind: &str) -> Result<Recorder> {
        let label = label(settings, kind);
        let dir = create_run_dir(&settings.output.dir, label)?;
        Recorder::create(&dir, settings, kind, label)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A sending end for the metrics thread.
    pub fn feed(&self) -> RecordFeed {
        self.feed.clone()
    }

    /// Ends the recording once the run has ended (every feed dropped), writing `summary` when
    /// given and the recording is intact. A run that never got going (no summary, not one
    /// interval: the node was unreachable, no terminal) leaves no directory behind.
    pub fn finish(self, summary: Option<&impl Serialize>) -> RecordOutcome {
        let Recorder { dir, feed, thread } = self;
        let failure_slot = feed.failure_slot();
        drop(feed);
        if thread.join().is_err() {
            let _ = failure_slot.set("the recorder thread panicked".into());
        }
        let mut failure = failure_slot.get().cloned();
        let nothing_recorded = fs::metadata(dir.join(INTERVALS)).is_ok_and(|m| m.len() == 0);
        if summary.is_none() && failure.is_none() && nothing_recorded {
            let _ = fs::remove_dir_all(&dir);
            return RecordOutcome { dir, failure };
        }
        if failure.is_none()
            && let Some(summary) = summary
            && let Err(err) = write_json(&dir.join(SUMMARY), summary)
        {
            failure = Some(format!("{err:#}"));
        }
        RecordOutcome { dir, failure }
    }
}

pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value).context("serialising JSON")?;
    fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

fn record_loop(mut files: RunFiles, receiver: Receiver<Record>, failure: &OnceLock<String>) {
    for record in receiver {
        if let Err(err) = files.write(record) {
            let why = format!("{err:#}");
            tracing::warn!(error = %why, "recording stopped");
            let _ = failure.set(why);
            // Dropping the receiver turns later sends into no-ops: the load is never held up.
            return;
        }
    }
}

/// The files a recording appends to. Each line goes out in one `write`, so a killed process
/// leaves whole lines (at most the last one cut short).
struct RunFiles {
    dir: PathBuf,
    intervals: File,
    events: File,
    hlog: File,
    serializer: V2DeflateSerializer,
    line: Vec<u8>,
}

fn append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))
}

impl RunFiles {
    fn open(dir: &Path) -> Result<RunFiles> {
        Ok(RunFiles {
            dir: dir.to_path_buf(),
            intervals: append(&dir.join(INTERVALS))?,
            events: append(&dir.join(EVENTS))?,
            hlog: append(&dir.join(HLOG))?,
            serializer: V2DeflateSerializer::new(),
            line: Vec::new(),
        })
    }

    fn write(&mut self, record: Record) -> Result<()> {
        match record {
            Record::Started { at } => self.write_hlog_header(at),
            Record::Interval(interval) => self.write_interval(&interval),
            Record::Event(event) => {
                let mut line = serde_json::to_vec(&EventLine::new(&event))?;
                line.push(b'\n');
                write_line(&mut self.events, &line, &self.dir.join(EVENTS))
            }
        }
    }

    fn write_hlog_header(&mut self, at: SystemTime) -> Result<()> {
        let epoch = at
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let header = format!(
            "#[casstop latency log: values in microseconds; untagged = writes' service time, Tag={RESPONSE_TAG} = their response time; Tag={READ_TAG}OP = read OP's service time, Tag={READ_TAG}OP:{RESPONSE_TAG} its response time]\n\
             #[Histogram log format version 1.3]\n\
             #[StartTime: {epoch:.3} (seconds since epoch), {}]\n\
             #[BaseTime: {epoch:.3} (seconds since epoch)]\n\
             \"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n",
            humantime::format_rfc3339_millis(at)
        );
        write_line(&mut self.hlog, header.as_bytes(), &self.dir.join(HLOG))
    }

    fn write_interval(&mut self, interval: &ClosedInterval) -> Result<()> {
        let stats = &interval.stats;
        let start = Duration::from_secs_f64((stats.at_s - stats.length_s).max(0.0));
        let length = Duration::from_secs_f64(stats.length_s.max(0.0));
        self.line.clear();
        {
            let mut log = IntervalLogWriterBuilder::new()
                .begin_log_with(&mut self.line, &mut self.serializer)
                .context("encoding an hlog line")?;
            log.write_histogram(&interval.service, start, length, None)
                .map_err(|err| anyhow!("encoding an hlog line: {err:?}"))?;
            if let Some(response) = &interval.response {
                log.write_histogram(response, start, length, Tag::new(RESPONSE_TAG))
                    .map_err(|err| anyhow!("encoding an hlog line: {err:?}"))?;
            }
            // A read's histograms follow its interval's write histograms: a reader gives them
            // to the interval whose untagged line came last.
            for read in interval.reads.iter().filter(|r| r.ran()) {
                let paced = interval.response.is_some();
                for (histogram, response) in [(&read.service, false), (&read.response, true)] {
                    if response && !paced {
                        continue;
                    }
                    let tag = read_tag(&read.op, response);
                    log.write_histogram(histogram, start, length, Tag::new(&tag))
                        .map_err(|err| anyhow!("encoding an hlog line: {err:?}"))?;
                }
            }
        }
        write_line(&mut self.hlog, &self.line, &self.dir.join(HLOG))?;
        let mut line = serde_json::to_vec(&IntervalLine::new(stats, &interval.knobs))?;
        line.push(b'\n');
        write_line(&mut self.intervals, &line, &self.dir.join(INTERVALS))
    }
}

fn write_line(file: &mut File, line: &[u8], path: &Path) -> Result<()> {
    file.write_all(line)
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knobs;
    use crate::knobs::Knobs;
    use crate::metrics::{Event, IntervalStats};
    use crate::metrics::{EventKind, LatencySummary, new_histogram};
    use hdrhistogram::Histogram;
    use hdrhistogram::serialization::Deserializer;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

    fn knobs() -> Knobs {
        crate::knobs::Knobs::default()
    }

    fn interval(at_s: f64, values: &[u64], paced: bool) -> Record {
        let mut service = new_histogram();
        for v in values {
            service.record(*v).unwrap();
        }
        let mut response = new_histogram();
        for v in values {
            response.record(*v * 2).unwrap();
        }
        let stats = IntervalStats {
            at_s,
            length_s: 1.0,
            ok: values.len() as u64,
            throughput: values.len() as f64,
            service: LatencySummary::of(&service),
            ..IntervalStats::default()
        };
        Record::Interval(Box::new(ClosedInterval {
            stats: Arc::new(stats),
            knobs: knobs(),
            service,
            response: paced.then_some(response),
            reads: Vec::new(),
        }))
    }

    #[test]
    fn hlog_round_trips_through_the_hdrhistogram_reader() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let mut settings = Settings::default();
        settings.auth.username = "cassandra".into();
        settings.auth.password = "s3cr3t-pw".into();
        let recorder = Recorder::create(&run, &settings, "bench", "test").unwrap();
        let feed = recorder.feed();
        let started = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        feed.send(Record::Started { at: started });
        let intervals: Vec<Vec<u64>> = vec![vec![100, 200, 300], vec![], vec![5, 7_000, 1_000_000]];
        for (i, values) in intervals.iter().enumerate() {
            feed.send(interval(i as f64 + 1.0, values, true));
        }
        feed.send(Record::Event(Arc::new(Event {
            at_s: 1.5,
            text: "depth 64".into(),
            kind: EventKind::Knob(crate::knobs::KnobChange::new(&knobs::DEPTH, 64)),
        })));
        drop(feed);
        let outcome = recorder.finish(Some(&serde_json::json!({"ok": 6})));
        assert!(outcome.failure.is_none(), "{outcome:?}");

        let text = fs::read(run.join(HLOG)).unwrap();
        let mut deserializer = Deserializer::new();
        let mut service = Vec::new();
        let mut response = Vec::new();
        let mut start_time = None;
        for entry in IntervalLogIterator::new(&text) {
            match entry.unwrap() {
                LogEntry::StartTime(t) => start_time = Some(t),
                LogEntry::BaseTime(_) => {}
                LogEntry::Interval(h) => {
                    let bytes = base64_decode(h.encoded_histogram());
                    let histogram: Histogram<u64> =
                        deserializer.deserialize(&mut &bytes[..]).unwrap();
                    let values: Vec<u64> = histogram
                        .iter_recorded()
                        .map(|v| histogram.highest_equivalent(v.value_iterated_to()))
                        .collect();
                    let entry = (h.start_timestamp().as_secs_f64(), histogram.len(), values);
                    match h.tag() {
                        None => service.push(entry),
                        Some(tag) => {
                            assert_eq!(tag.as_str(), RESPONSE_TAG);
                            response.push(entry)
                        }
                    }
                }
            }
        }
        assert_eq!(start_time, Some(Duration::from_secs(1_700_000_000)));
        let counts: Vec<u64> = service.iter().map(|(_, n, _)| *n).collect();
        assert_eq!(counts, vec![3, 0, 3]);
        assert_eq!(response.len(), 3);
        let starts: Vec<f64> = service.iter().map(|(s, _, _)| *s).collect();
        assert_eq!(starts, vec![0.0, 1.0, 2.0]);
        // Values come back within the histogram's precision (3 significant digits).
        let last = &service[2].2;
        assert_eq!(last[0], 5);
        assert!((6_990..=7_010).contains(&last[1]), "{last:?}");

        let lines = fs::read_to_string(run.join(INTERVALS)).unwrap();
        let parsed: Vec<IntervalLine> = lines
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(parsed.iter().map(|l| l.ok).sum::<u64>(), 6);
        let events = fs::read_to_string(run.join(EVENTS)).unwrap();
        let event: EventLine = serde_json::from_str(events.trim()).unwrap();
        assert_eq!(event.knob.as_deref(), Some("depth"));
        assert_eq!(event.value, Some(serde_json::json!(64)));

        let config = fs::read_to_string(run.join(CONFIG)).unwrap();
        assert!(!config.contains("s3cr3t-pw"), "{config}");
        assert!(config.contains("cassandra"));
        let path = run.join(CONFIG);
        let reread = crate::config::load(Some(&path), &[], &[]).unwrap().settings;
        assert_eq!(reread.auth.password, "");
        assert_eq!(reread.knobs, settings.knobs, "the knobs read back");
        assert!(run.join(SUMMARY).exists());
        let mode = fs::metadata(&run).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn a_failing_write_stops_the_recording_and_says_why_once() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("full");
        fs::create_dir(&run).unwrap();
        // /dev/full answers every write with ENOSPC, as a full disk does.
        std::os::unix::fs::symlink("/dev/full", run.join(INTERVALS)).unwrap();
        let recorder = Recorder::create(&run, &Settings::default(), "bench", "full").unwrap();
        let feed = recorder.feed();
        feed.send(Record::Started {
            at: SystemTime::now(),
        });
        for i in 0..5 {
            feed.send(interval(i as f64 + 1.0, &[100], false));
        }
        drop(feed);
        let outcome = recorder.finish(Some(&1));
        let failure = outcome
            .failure
            .clone()
            .expect("the write to /dev/full fails");
        assert!(failure.contains(INTERVALS), "{failure}");
        assert!(outcome.describe().contains("stopped early"));
        // The hlog line of the first interval went out before the failing write; nothing after.
        let hlog = fs::read_to_string(run.join(HLOG)).unwrap();
        let histograms = hlog.lines().filter(|l| !l.starts_with(['#', '"'])).count();
        assert_eq!(histograms, 1);
        assert!(!run.join(SUMMARY).exists());
    }

    #[test]
    fn a_run_that_never_started_leaves_no_directory() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("never");
        let recorder = Recorder::create(&run, &Settings::default(), "session", "x").unwrap();
        recorder.finish(None::<&()>);
        assert!(!run.exists());
    }

    #[test]
    fn run_dirs_are_named_by_time_and_label_and_never_reused() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_083_530);
        assert_eq!(
            run_dir_name(Path::new("runs"), "bench", at),
            PathBuf::from("runs/20251125T151210Z-bench")
        );
        let dir = tempfile::tempdir().unwrap();
        let first = create_run_dir(dir.path(), "x").unwrap();
        let second = create_run_dir(dir.path(), "x").unwrap();
        assert_ne!(first, second);
    }

    /// Standard base64 (the hlog's encoding), decoded without another dependency.
    fn base64_decode(text: &str) -> Vec<u8> {
        crate::record::hlog::base64_decode(text).unwrap()
    }
}
