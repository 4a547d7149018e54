//! The aggregator thread: merges worker hand-overs at interval edges and publishes snapshots.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use tokio::sync::{broadcast, watch};

use super::bucket::Bucket;
use super::encoded::EncodedRing;
use super::evidence::Evidence;
use super::feed::{ClosedInterval, Record, RecordFeed};
use super::little::LittleTrack;
use super::measure::{ErrorKind, LatencySummary, new_histogram};
use super::nodes::{Health, NodeBuckets, NodeTotals};
use super::proc::CpuSampler;
use super::reads::{ReadCounts, absorb_reads};
use super::stats::{
    Event, EventKind, IntervalStats, NodeSeen, RunState, Snapshot, TaskSplit, Totals, WorkerReport,
};
use super::verdict::{self, Verdict};
use crate::knobs::{KnobChange, Knobs};

/// Intervals kept for charts: an hour at the default 1 s.
const HISTORY_LEN: usize = 3600;
/// Events kept for the event log.
const EVENTS_LEN: usize = 500;

/// What the engine tells the aggregator.
#[derive(Debug)]
pub enum MetricsMessage {
    Report(Box<WorkerReport>),
    /// The knobs changed (or were set at start: `change` is `None`).
    Knobs {
        // Boxed: the knobs are large beside the other messages, and change rarely.
        knobs: Box<Knobs>,
        version: u64,
        change: Option<KnobChange>,
        at: Instant,
    },
    Event {
        text: String,
        kind: EventKind,
        at: Instant,
    },
    State(RunState),
    /// What the engine's probe saw of each node at the end of an interval.
    Nodes(Vec<NodeSeen>),
    /// A CPU profile finished: category shares for the verdict, and a line for the event log.
    Profile {
        categories: Vec<(String, f64)>,
        text: String,
        at: Instant,
    },
}

/// The whole run, once every sender has gone.
#[derive(Debug, Clone)]
pub struct RunTotals {
    pub duration: Duration,
    pub totals: Totals,
    pub service: Histogram<u64>,
    pub response: Histogram<u64>,
    pub pacer_late: Histogram<u64>,
    pub knobs: Knobs,
    pub paced: bool,
    pub events: Vec<Event>,
    pub history: Vec<IntervalStats>,
    /// Per coordinator node, by address.
    pub nodes: Vec<NodeTotals>,
}

/// Handles to a running aggregator.
pub struct Aggregator {
    pub sender: SyncSender<MetricsMessage>,
    pub latest: watch::Receiver<Arc<Snapshot>>,
    /// Where subscribers come from. Weak, and no receiver is kept idle: a receiver that never
    /// reads pins every snapshot in the channel's 1,024 slots (each one holding the run's
    /// history), which grew a 16-minute run's RSS by 12 MiB.
    pub every: broadcast::WeakSender<Arc<Snapshot>>,
    pub thread: JoinHandle<RunTotals>,
}

impl Aggregator {
    /// Starts the aggregator thread. Interval edges fall at `started + k * interval`, the same
    /// edges the workers hand over at.
    pub fn spawn(
        knobs: Knobs,
        interval: Duration,
        started: Instant,
        node_pid: Option<u32>,
        task_monitor: tokio_metrics::TaskMonitor,
        load_threads: u32,
        outputs: Outputs,
    ) -> Result<Aggregator> {
        let Outputs {
            record,
            keep_encoded,
        } = outputs;
        // Room for a few intervals of every worker; a full channel only delays a hand-over.
        let (sender, receiver) = std::sync::mpsc::sync_channel(4096);
        let first = Arc::new(Snapshot {
            started,
            ..Snapshot::empty(knobs.clone())
        });
        let (latest_tx, latest) = watch::channel(first);
        let (every_tx, _) = broadcast::channel(1024);
        let every = every_tx.downgrade();
        let mut state = State::new(knobs, interval, started, node_pid, latest_tx, every_tx);
        state.last_tasks = task_monitor.cumulative();
        state.task_monitor = Some(task_monitor);
        state.load_threads = load_threads.max(1);
        if let Some(feed) = &record {
            let wall = std::time::SystemTime::now() - started.elapsed();
            feed.send(Record::Started { at: wall });
        }
        state.record = record;
        state.encoded = keep_encoded.then(EncodedRing::default);
        let thread = std::thread::Builder::new()
            .name("casstop-metrics".into())
            .spawn(move || state.run(receiver))
            .context("starting the metrics thread")?;
        Ok(Aggregator {
            sender,
            latest,
            every,
            thread,
        })
    }
}

/// Where closed intervals go besides the snapshots.
pub struct Outputs {
    /// The run's recording.
    pub record: Option<RecordFeed>,
    /// Keep the recent intervals' histograms encoded, for the control API's `/intervals`.
    pub keep_encoded: bool,
}

struct State {
    interval: Duration,
    started: Instant,
    sampler: CpuSampler,
    latest: watch::Sender<Arc<Snapshot>>,
    every: broadcast::Sender<Arc<Snapshot>>,
    /// The knobs in force at the end of the open interval.
    knobs: Knobs,
    /// A change that came after the open interval's edge, while its hand-overs were awaited: it
    /// belongs to the next interval.
    knobs_after_edge: Option<(Instant, Knobs)>,
    run_state: RunState,
    bucket: Bucket,
    /// Latest in-flight count per worker (a gauge, not a sum over time).
    in_flight: BTreeMap<u32, u32>,
    totals: Totals,
    /// Each read operation over the run: its histograms merged interval by interval.
    reads: Vec<ReadCounts>,
    service: Histogram<u64>,
    response: Histogram<u64>,
    pacer_late: Histogram<u64>,
    history: VecDeque<Arc<IntervalStats>>,
    events: VecDeque<Arc<Event>>,
    /// Knob versions whose first write has not been seen yet, and their event's index.
    pending_versions: BTreeMap<u64, (Instant, String)>,
    last_edge: Instant,
    ended: Option<Instant>,
    task_monitor: Option<tokio_metrics::TaskMonitor>,
    last_tasks: tokio_metrics::TaskMetrics,
    /// Share of samples in application work in the last CPU profile.
    application_share: Option<f64>,
    cores: u32,
    /// OS threads the load runs on (1 for the current-thread runtime).
    load_threads: u32,
    /// The cluster as the client sees it, and each node.
    health: Health,
    nodes: NodeBuckets,
    /// The in-flight limit's settings, for Little's law across a change.
    little: LittleTrack,
    /// The last error message put in the event log.
    last_error_text: Option<String>,
    /// The run's recording, while it lasts: each closed interval and event goes there.
    record: Option<RecordFeed>,
    /// While the control API listens: the recent intervals' histograms, encoded.
    encoded: Option<EncodedRing>,
}

impl State {
    fn new(
        knobs: Knobs,
        interval: Duration,
        started: Instant,
        node_pid: Option<u32>,
        latest: watch::Sender<Arc<Snapshot>>,
        every: broadcast::Sender<Arc<Snapshot>>,
    ) -> Self {
        State {
            interval,
            started,
            sampler: CpuSampler::new(node_pid),
            latest,
            every,
            knobs,
            knobs_after_edge: None,
            run_state: RunState::Starting,
            bucket: Bucket::new(),
            in_flight: BTreeMap::new(),
            totals: Totals::default(),
            reads: Vec::new(),
            service: new_histogram(),
            response: new_histogram(),
            pacer_late: new_histogram(),
            history: VecDeque::new(),
            events: VecDeque::new(),
            pending_versions: BTreeMap::new(),
            last_edge: started,
            ended: None,
            task_monitor: None,
            last_tasks: tokio_metrics::TaskMetrics::default(),
            application_share: None,
            cores: online_cores(),
            load_threads: 1,
            health: Health::default(),
            nodes: NodeBuckets::default(),
            little: LittleTrack::default(),
            last_error_text: None,
            record: None,
            encoded: None,
        }
    }

    fn run(mut self, receiver: Receiver<MetricsMessage>) -> RunTotals {
        // Wait a little past each edge so the workers' hand-overs for it have arrived: a worker
        // hands over at the first step after the edge, which on a loaded two-core machine can
        // be tens of milliseconds late.
        let grace = (self.interval / 5).min(Duration::from_millis(100));
        let mut next_edge = self.started + self.interval;
        loop {
            let wake = next_edge + grace;
            let now = Instant::now();
            if now >= wake {
                self.close_interval(next_edge);
                next_edge += self.interval;
                // After a stall (a suspended process), skip edges rather than publish empty ones.
                while next_edge + grace < Instant::now() {
                    next_edge += self.interval;
                }
                continue;
            }
            match receiver.recv_timeout(wake - now) {
                Ok(message) => self.handle(message),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        let end = self.ended.unwrap_or_else(Instant::now);
        if end > self.last_edge {
            self.close_interval(end);
        }
        self.run_state = RunState::Finished;
        self.publish();
        RunTotals {
            duration: end.duration_since(self.started),
            totals: self.totals.clone(),
            service: self.service,
            response: self.response,
            pacer_late: self.pacer_late,
            paced: self.knobs.rate > 0.0,
            knobs: self.knobs,
            events: self.events.iter().map(|e| (**e).clone()).collect(),
            history: self.history.iter().map(|i| (**i).clone()).collect(),
            nodes: self.nodes.totals(),
        }
    }

    fn at_s(&self, at: Instant) -> f64 {
        at.saturating_duration_since(self.started).as_secs_f64()
    }

    fn push_event(&mut self, event: Event) {
        if self.events.len() == EVENTS_LEN {
            self.events.pop_front();
        }
        let event = Arc::new(event);
        if let Some(feed) = &self.record {
            feed.send(Record::Event(event.clone()));
        }
        self.events.push_back(event);
    }

    /// Once the recording has stopped (a write failed), says so once in the event log and stops
    /// feeding it; the run goes on.
    fn check_recording(&mut self, at: Instant) {
        let Some(feed) = &self.record else {
            return;
        };
        let Some(why) = feed.failure() else {
            return;
        };
        let text = format!(
            "recording stopped ({why}); what was written is kept in {}",
            feed.dir().display()
        );
        self.record = None;
        self.push_event(Event {
            at_s: self.at_s(at),
            text,
            kind: EventKind::Error,
        });
    }

    fn handle(&mut self, message: MetricsMessage) {
        match message {
            MetricsMessage::Report(report) => self.absorb(*report),
            MetricsMessage::Knobs {
                knobs,
                version,
                change,
                at,
            } => {
                if at > self.last_edge + self.interval {
                    self.knobs_after_edge = Some((at, *knobs));
                } else {
                    // Newer than any change still held for the next edge: that one must not
                    // overwrite these when the interval closes.
                    self.knobs_after_edge = None;
                    self.knobs = *knobs;
                }
                if let Some(change) = change {
                    let text = change.to_string();
                    self.pending_versions.insert(version, (at, text.clone()));
                    let event = Event {
                        at_s: self.at_s(at),
                        text,
                        kind: EventKind::Knob(change),
                    };
                    self.push_event(event);
                }
            }
            MetricsMessage::Event { text, kind, at } => {
                let event = Event {
                    at_s: self.at_s(at),
                    text,
                    kind,
                };
                self.push_event(event);
            }
            MetricsMessage::Profile {
                categories,
                text,
                at,
            } => {
                self.application_share = categories
                    .iter()
                    .find(|(name, _)| name == "application")
                    .map(|(_, share)| *share);
                let event = Event {
                    at_s: self.at_s(at),
                    text,
                    kind: EventKind::Info,
                };
                self.push_event(event);
            }
            MetricsMessage::Nodes(seen) => self.nodes.saw(seen),
            MetricsMessage::State(state) => {
                if state == RunState::Finished {
                    self.ended = Some(Instant::now());
                }
                self.run_state = state;
            }
        }
    }

    fn absorb(&mut self, report: WorkerReport) {
        let bucket = &mut self.bucket;
        bucket.issued += report.issued;
        bucket.ok += report.ok;
        bucket.ok_rows += report.ok_rows;
        bucket.errors.merge(&report.errors);
        bucket.maybe += report.maybe;
        bucket.maybe_rows += report.maybe_rows;
        if bucket.first_error.is_none() {
            bucket.first_error = report.first_error;
        }
        let _ = bucket.service.add(&report.service);
        let _ = bucket.response.add(&report.response);
        let _ = bucket.pacer_late.add(&report.pacer_late);
        bucket.slots.add(report.slots);
        let max = bucket.in_flight_max.entry(report.worker).or_default();
        *max = (*max).max(report.in_flight_max);
        self.in_flight.insert(report.worker, report.in_flight);
        self.nodes.absorb(report.nodes);
        absorb_reads(&mut bucket.reads, &report.reads);
        for (version, latency) in report.knobs_applied {
            // The first worker to write under a change reports it; the others find it gone.
            if let Some((at, text)) = self.pending_versions.remove(&version) {
                let event = Event {
                    at_s: self.at_s(at + latency),
                    text: format!(
                        "first write under `{text}` {:.1} ms after it was asked for",
                        latency.as_secs_f64() * 1e3
                    ),
                    kind: EventKind::Info,
                };
                self.push_event(event);
            }
        }
    }

    fn close_interval(&mut self, edge: Instant) {
        if let Some((_, knobs)) = self.knobs_after_edge.take_if(|(at, _)| *at <= edge) {
            self.knobs = knobs;
        }
        let length = edge.saturating_duration_since(self.last_edge);
        self.last_edge = edge;
        let bucket = std::mem::replace(&mut self.bucket, Bucket::new());
        let cpu = self.sampler.sample();
        let paced = self.knobs.rate > 0.0;
        let tasks = self.task_split(length);
        let mut stats = IntervalStats {
            at_s: self.at_s(edge),
            length_s: length.as_secs_f64(),
            issued: bucket.issued,
            ok: bucket.ok,
            ok_rows: bucket.ok_rows,
            errors: bucket.errors,
            maybe: bucket.maybe,
            maybe_rows: bucket.maybe_rows,
            throughput: if length.is_zero() {
                0.0
            } else {
                bucket.ok as f64 / length.as_secs_f64()
            },
            in_flight: self.in_flight.values().sum(),
            in_flight_max: bucket.in_flight_max.values().sum(),
            service: LatencySummary::of(&bucket.service),
            response: paced.then(|| LatencySummary::of(&bucket.response)),
            pacer_late: paced.then(|| LatencySummary::of(&bucket.pacer_late)),
            in_flight_mean: bucket.slots.in_flight_s / length.as_secs_f64().max(1e-9),
            head_of_line_percent: bucket.slots.head_of_line_percent(),
            cpu,
            tasks,
            node: self.health.current(),
            nodes: self.nodes.close(length.as_secs_f64()),
            reads: bucket
                .reads
                .iter()
                .filter(|r| r.ran())
                .map(|r| r.stats(length.as_secs_f64(), paced))
                .collect(),
            verdict: Verdict::default(),
        };
        // One node served every write: the workers do not note it per write, the interval's
        // own numbers are its.
        if let [only] = stats.nodes.as_mut_slice()
            && only.ok == 0
            && only.errors.total() == 0
        {
            only.ok = stats.ok;
            only.throughput = stats.throughput;
            only.service = stats.service;
            only.errors = stats.errors;
            only.in_flight_mean = stats.in_flight_mean;
        }
        if let Some((text, kind)) = self.health.judge(&mut stats, edge) {
            self.push_event(Event {
                at_s: self.at_s(edge),
                text,
                kind,
            });
        }
        if let Some((kind, detail)) = bucket.first_error {
            self.note_error(kind, detail, edge);
        }
        let knobs = &self.knobs;
        let saturation = self.little.observe(
            knobs.in_flight_limit().saturating_mul(knobs.workers),
            stats.in_flight_mean,
            // In flight counts the reads too: so must the rate it is set against.
            stats.requests_per_s(),
            !paced && !knobs.paused && stats.ok > 0 && stats.errors.total() * 2 < stats.ok,
        );
        stats.verdict = verdict::judge(&Evidence {
            saturation,
            ..self.evidence(&stats)
        });
        let _ = self.service.add(&bucket.service);
        let _ = self.response.add(&bucket.response);
        self.totals.service_buckets.add(&bucket.service);
        if paced {
            self.totals.response_buckets.add(&bucket.response);
        }
        let _ = self.pacer_late.add(&bucket.pacer_late);
        let stats = Arc::new(stats);
        if let Some(ring) = &mut self.encoded {
            ring.push(
                stats.clone(),
                &bucket.service,
                paced.then_some(&bucket.response),
                &bucket.reads,
            );
        }
        absorb_reads(&mut self.reads, &bucket.reads);
        self.check_recording(edge);
        if let Some(feed) = &self.record {
            feed.send(Record::Interval(Box::new(ClosedInterval {
                stats: stats.clone(),
                knobs: self.knobs.clone(),
                service: bucket.service,
                response: paced.then_some(bucket.response),
                reads: bucket.reads,
            })));
        }
        let totals = &mut self.totals;
        totals.issued += stats.issued;
        totals.ok += stats.ok;
        totals.ok_rows += stats.ok_rows;
        totals.errors.merge(&stats.errors);
        totals.maybe += stats.maybe;
        totals.maybe_rows += stats.maybe_rows;
        totals.add_nodes(&stats.nodes);
        let run_s = self
            .last_edge
            .saturating_duration_since(self.started)
            .as_secs_f64();
        totals.reads = self
            .reads
            .iter()
            .filter(|r| r.ran())
            .map(|r| r.stats(run_s, paced))
            .collect();
        totals.service = LatencySummary::of(&self.service);
        totals.response = LatencySummary::of(&self.response);
        totals.pacer_late = LatencySummary::of(&self.pacer_late);
        totals.slots.add(bucket.slots);
        totals.client_cpu_s = stats.cpu.process_cpu_s;
        totals.rss_max_bytes = totals.rss_max_bytes.max(stats.cpu.rss_bytes);
        if self.history.len() == HISTORY_LEN {
            self.history.pop_front();
        }
        self.history.push_back(stats);
        self.publish();
    }

    /// Puts a driver error message in the event log when it differs from the last one logged, so
    /// the log says why writes fail without repeating itself every interval.
    fn note_error(&mut self, kind: ErrorKind, detail: String, edge: Instant) {
        let text = format!("{} error: {detail}", kind.name());
        if self.last_error_text.as_deref() == Some(text.as_str()) {
            return;
        }
        self.push_event(Event {
            at_s: self.at_s(edge),
            text: text.clone(),
            kind: EventKind::Error,
        });
        self.last_error_text = Some(text);
    }

    fn task_split(&mut self, length: Duration) -> TaskSplit {
        let Some(monitor) = &self.task_monitor else {
            return TaskSplit::default();
        };
        let now = monitor.cumulative();
        let before = std::mem::replace(&mut self.last_tasks, now);
        let wall = length.as_secs_f64().max(1e-6);
        let percent = |after: Duration, before: Duration| {
            after.saturating_sub(before).as_secs_f64() / wall * 100.0
        };
        TaskSplit {
            busy_percent: percent(now.total_poll_duration, before.total_poll_duration),
            scheduled_percent: percent(
                now.total_scheduled_duration,
                before.total_scheduled_duration,
            ),
            idle_percent: percent(now.total_idle_duration, before.total_idle_duration),
        }
    }

    fn evidence(&self, stats: &IntervalStats) -> Evidence {
        let knobs = &self.knobs;
        let busiest = stats.cpu.busiest_load_thread();
        let length = stats.length_s.max(1e-6);
        // A thread preempted by the node's JVM shows less CPU than it wants; the worker tasks'
        // poll time (per runtime thread) counts that time as busy too.
        let polling =
            stats.tasks.busy_percent / f64::from(knobs.workers.min(self.load_threads).max(1));
        let thread_percent = busiest.map(|t| t.percent).unwrap_or(0.0);
        Evidence {
            strategy: Some(knobs.strategy),
            paused: knobs.paused,
            // A mix's reads are requests too: they take the rate's share and the slots.
            ok_per_s: (stats.ok + stats.reads.iter().map(|r| r.ok).sum::<u64>()) as f64 / length,
            errors_per_s: (stats.errors.total() + stats.reads.iter().map(|r| r.errors).sum::<u64>())
                as f64
                / length,
            target_rate: knobs.rate,
            in_flight_mean: stats.in_flight_mean,
            head_of_line_percent: stats.head_of_line_percent,
            // The most in flight during the interval: at its edge a sync worker may have none.
            in_flight: stats.in_flight_max,
            in_flight_limit: knobs.in_flight_limit().saturating_mul(knobs.workers),
            p50_us: stats.service.p50,
            p99_us: stats.service.p99,
            busiest_percent: thread_percent.max(polling.min(100.0)),
            busiest_thread: busiest
                .map(|t| t.name.clone())
                .unwrap_or_else(|| "the load thread".into()),
            node_percent: stats.cpu.node_percent,
            machine_percent: stats.cpu.machine_percent,
            client_percent: stats.cpu.process_percent,
            cores: self.cores,
            application_share: self.application_share,
            outlier: super::nodes::outlier(&stats.nodes),
            server_queued: super::nodes::queued(&stats.nodes),
            saturation: None,
        }
    }

    fn publish(&mut self) {
        let Some(interval) = self.history.back().cloned() else {
            return;
        };
        let snapshot = Arc::new(Snapshot {
            started: self.started,
            elapsed: self.last_edge.saturating_duration_since(self.started),
            state: self.run_state,
            knobs: self.knobs.clone(),
            paced: self.knobs.rate > 0.0,
            interval,
            totals: self.totals.clone(),
            // Shares every interval and event with the previous snapshot: no deep copies.
            history: self.history.clone(),
            events: self.events.clone(),
            encoded: self
                .encoded
                .as_ref()
                .map(EncodedRing::kept)
                .unwrap_or_default(),
        });
        // Neither send waits: a watch keeps the latest, a broadcast drops for laggards.
        let _ = self.latest.send(snapshot.clone());
        let _ = self.every.send(snapshot);
    }
}

/// Cores the machine has online (the local node shares them with casstop).
fn online_cores() -> u32 {
    super::proc::online_cores()
}

#[cfg(test)]
mod tests;
