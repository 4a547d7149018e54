//! Running loaders seen as one: what `casstop attach` draws. A thread of its own asks each
//! loader's API for its new intervals a few times a second, puts them on one wall clock, adds
//! their histograms slot by slot (so the merged percentiles are those of every write of every
//! loader) and publishes the result as a [`Snapshot`], as the engine does for a session. The UI
//! reads the latest one and sends commands; it never waits on a loader.
//!
//! ```text
//!  loader 1 ─┐ GET /status, /intervals?since=N        ┌─► watch: Arc<RemoteView> ─► UI
//!  loader 2 ─┼────────── poller thread (merge) ────────┤
//!  loader N ─┘ PATCH /knobs, POST /profile  ◄──────────┴── commands ◄── UI
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, anyhow};
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use hyper::Method;
use tokio::sync::{mpsc, watch};

use super::client::{Client, Interval};
use crate::knobs::Knobs;
use crate::metrics::verdict::{Verdict, VerdictKind};
use crate::metrics::{
    Event, EventKind, IntervalStats, LatencySummary, NodeHealth, ReadSum, RunState, Snapshot,
    Totals, most_common, new_histogram, summed_rate,
};

/// How often each loader is asked for news.
const POLL: Duration = Duration::from_millis(250);
const HISTORY_LEN: usize = 3600;
/// How long the first merged slot waits for every loader's first answer.
const FIRST_ANSWERS: Duration = Duration::from_secs(3);
const EVENTS_LEN: usize = 500;

/// What the UI draws: the merged run and each loader.
#[derive(Clone, Debug)]
pub struct RemoteView {
    pub snapshot: Arc<Snapshot>,
    pub loaders: Vec<LoaderView>,
}

/// One loader, as the last poll found it.
#[derive(Clone, Debug, PartialEq)]
pub struct LoaderView {
    pub addr: String,
    pub health: LoaderHealth,
    /// Its last interval: writes/s, service p99 (µs), verdict.
    pub throughput: f64,
    pub p99_us: u64,
    pub verdict: String,
    pub knobs: Option<Knobs>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum LoaderHealth {
    Connecting,
    /// Answering; its run's state (`running`, `paused`, `between runs`).
    Up(String),
    /// Not answering (or refusing): why.
    Down(String),
}

impl LoaderHealth {
    pub fn is_up(&self) -> bool {
        matches!(self, LoaderHealth::Up(_))
    }
}

/// What the UI asks of the loaders (`to`: their indexes).
#[derive(Clone, Debug)]
pub enum Command {
    /// `PATCH /knobs` with `body`; `what` names the change in the replies.
    Knobs {
        to: Vec<usize>,
        body: String,
        what: String,
    },
    /// `POST path` (`/profile`, `/pause`).
    Post {
        to: Vec<usize>,
        path: String,
        what: String,
    },
}

/// The poller, running.
pub struct Remote {
    view: watch::Receiver<Arc<RemoteView>>,
    commands: mpsc::UnboundedSender<Command>,
    replies: std::sync::mpsc::Receiver<(String, bool)>,
    thread: Option<JoinHandle<()>>,
}

impl Remote {
    /// Starts polling the loaders, one client each.
    pub fn start(clients: Vec<Client>) -> Result<Remote> {
        let addrs: Vec<String> = clients.iter().map(|c| c.addr.clone()).collect();
        let merger = Merger::new(&addrs);
        let (view_tx, view) = watch::channel(Arc::new(merger.view()));
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (reply_tx, replies) = std::sync::mpsc::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the attach runtime")?;
        let thread = std::thread::Builder::new()
            .name("casstop-attach".into())
            .spawn(move || {
                runtime.block_on(poll_loop(clients, merger, view_tx, command_rx, reply_tx));
            })
            .context("starting the attach thread")?;
        Ok(Remote {
            view,
            commands,
            replies,
            thread: Some(thread),
        })
    }

    pub fn latest(&self) -> Arc<RemoteView> {
        self.view.borrow().clone()
    }

    pub fn send(&self, command: Command) {
        let _ = self.commands.send(command);
    }

    /// A reply to a command that came back since the last call: its line, and whether it is an
    /// error.
    pub fn reply(&self) -> Option<(String, bool)> {
        self.replies.try_recv().ok()
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        // Closing the command channel ends the poll loop.
        let (closed, _) = mpsc::unbounded_channel();
        drop(std::mem::replace(&mut self.commands, closed));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn poll_loop(
    clients: Vec<Client>,
    mut merger: Merger,
    view: watch::Sender<Arc<RemoteView>>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    replies: std::sync::mpsc::Sender<(String, bool)>,
) {
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let polls = clients.iter().enumerate().map(|(i, client)| {
                    let since = merger.loaders[i].seq;
                    async move { (i, poll(client, since).await) }
                });
                for (i, result) in futures::future::join_all(polls).await {
                    merger.take(i, result);
                }
                merger.close_slots();
                let _ = view.send(Arc::new(merger.view()));
            }
            command = commands.recv() => {
                let Some(command) = command else { return };
                for reply in carry_out(&clients, command).await {
                    // A change that took shows as the loader's knobs change; a refusal only here.
                    if reply.1 {
                        merger.event(&reply.0, EventKind::Error);
                    }
                    let _ = replies.send(reply);
                }
            }
        }
    }
}

/// A loader's news: its status and the intervals after `since`.
async fn poll(client: &Client, since: u64) -> Result<(super::client::Status, Vec<Interval>)> {
    let status = client.status().await?;
    let intervals = if status.knobs.is_some() {
        client.intervals(since).await?
    } else {
        Vec::new()
    };
    Ok((status, intervals))
}

/// Sends `command` to its loaders at once; one reply line per loader.
async fn carry_out(clients: &[Client], command: Command) -> Vec<(String, bool)> {
    let (to, method, path, body, what) = match command {
        Command::Knobs { to, body, what } => {
            (to, Method::PATCH, "/knobs".to_string(), Some(body), what)
        }
        Command::Post { to, path, what } => (to, Method::POST, path, None, what),
    };
    let sends = to
        .iter()
        .filter_map(|i| clients.get(*i).map(|c| (*i, c)))
        .map(|(i, client)| {
            let (method, path, body) = (method.clone(), path.clone(), body.clone());
            async move { (i, client.request(method, &path, body).await) }
        });
    futures::future::join_all(sends)
        .await
        .into_iter()
        .map(|(i, answer)| {
            let who = format!("loader {} ({})", i + 1, clients[i].addr);
            match answer {
                Ok(answer) if answer.status == 200 => {
                    let note = serde_json::from_str::<serde_json::Value>(&answer.body)
                        .ok()
                        .and_then(|v| v["svg"].as_str().map(|svg| format!(": {svg}")))
                        .unwrap_or_default();
                    (format!("{who}: {what}{note}"), false)
                }
                Ok(answer) => (format!("{who}: {what} refused: {}", answer.refusal()), true),
                Err(err) => (format!("{who}: {what} not sent: {err:#}"), true),
            }
        })
        .collect()
}

/// What the poller knows of one loader.
struct LoaderState {
    view: LoaderView,
    /// The last interval taken (its `seq`).
    seq: u64,
    /// When its run started, in seconds since the Unix epoch: its clock on the merged one.
    origin_epoch_s: Option<f64>,
    /// The slot of its newest interval.
    newest_slot: Option<i64>,
    cpu_s: f64,
    rss: u64,
}

/// One slot of the merged clock, being filled.
#[derive(Default)]
struct Slot {
    stats: Option<IntervalStats>,
    service: Option<Histogram<u64>>,
    response: Option<Histogram<u64>>,
    /// Each loader's successes and the time its intervals cover: the slot's throughput is the sum
    /// of the loaders' rates.
    covered: BTreeMap<usize, (u64, f64)>,
    verdicts: Vec<(usize, VerdictKind)>,
    /// The mix's reads, each operation summed apart as the writes are.
    reads: Vec<ReadSum>,
}

struct Merger {
    loaders: Vec<LoaderState>,
    started: Instant,
    started_epoch_s: f64,
    /// The merged clock's slot length: the first loader's interval.
    slot_s: Option<f64>,
    /// The first slot of the merged run.
    first_slot: Option<i64>,
    open: BTreeMap<i64, Slot>,
    /// Slots before this one are closed: what arrives for them goes into the oldest open slot.
    next_to_close: Option<i64>,
    history: VecDeque<Arc<IntervalStats>>,
    events: VecDeque<Arc<Event>>,
    totals: Totals,
    service_all: Histogram<u64>,
    response_all: Histogram<u64>,
    /// Each read operation over the whole run.
    reads_all: Vec<ReadSum>,
    deserializer: Deserializer,
}

fn decode(deserializer: &mut Deserializer, text: &str) -> Result<Histogram<u64>> {
    let bytes = crate::record::hlog::base64_decode(text)?;
    deserializer
        .deserialize(&mut &bytes[..])
        .map_err(|err| anyhow!("decoding a histogram: {err:?}"))
}

fn epoch_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

impl Merger {
    fn new(addrs: &[String]) -> Merger {
        Merger {
            loaders: addrs
                .iter()
                .map(|addr| LoaderState {
                    view: LoaderView {
                        addr: addr.clone(),
                        health: LoaderHealth::Connecting,
                        throughput: 0.0,
                        p99_us: 0,
                        verdict: String::new(),
                        knobs: None,
                    },
                    seq: 0,
                    origin_epoch_s: None,
                    newest_slot: None,
                    cpu_s: 0.0,
                    rss: 0,
                })
                .collect(),
            started: Instant::now(),
            started_epoch_s: epoch_now(),
            slot_s: None,
            first_slot: None,
            open: BTreeMap::new(),
            next_to_close: None,
            history: VecDeque::new(),
            events: VecDeque::new(),
            totals: Totals::default(),
            service_all: new_histogram(),
            response_all: new_histogram(),
            reads_all: Vec::new(),
            deserializer: Deserializer::new(),
        }
    }

    fn event(&mut self, text: &str, kind: EventKind) {
        if self.events.len() == EVENTS_LEN {
            self.events.pop_front();
        }
        self.events.push_back(Arc::new(Event {
            at_s: self.started.elapsed().as_secs_f64(),
            text: text.to_string(),
            kind,
        }));
    }

    /// Takes in loader `i`'s poll.
    fn take(&mut self, i: usize, result: Result<(super::client::Status, Vec<Interval>)>) {
        let name = format!("loader {} ({})", i + 1, self.loaders[i].view.addr);
        let (status, intervals) = match result {
            Ok(news) => news,
            Err(err) => {
                let why = format!("{:#}", err.root_cause());
                if !matches!(self.loaders[i].view.health, LoaderHealth::Down(_)) {
                    self.event(&format!("{name} down: {why}"), EventKind::Error);
                }
                self.loaders[i].view.health = LoaderHealth::Down(why);
                return;
            }
        };
        if !self.loaders[i].view.health.is_up() {
            self.event(&format!("{name} up: {}", status.state), EventKind::Info);
        }
        let loader = &mut self.loaders[i];
        loader.view.health = LoaderHealth::Up(status.state.clone());
        if let Some(knobs) = &status.knobs {
            if loader.origin_epoch_s.is_none() {
                loader.origin_epoch_s = Some(epoch_now() - status.elapsed_s);
            }
            if self.slot_s.is_none() {
                self.slot_s = Some(knobs.interval.as_secs_f64().max(0.1));
            }
            let changed: Vec<String> = loader
                .view
                .knobs
                .as_ref()
                .map(|before| {
                    crate::knobs::ALL
                        .iter()
                        .filter(|def| def.get(before) != def.get(knobs))
                        .map(|def| format!("{} {}", def.name, def.get(knobs)))
                        .collect()
                })
                .unwrap_or_default();
            loader.view.knobs = Some(knobs.clone());
            if !changed.is_empty() {
                self.event(&format!("{name}: {}", changed.join(", ")), EventKind::Info);
            }
        }
        for interval in intervals {
            if let Err(err) = self.add(i, interval) {
                self.event(&format!("{name}: {err:#}"), EventKind::Error);
            }
        }
    }

    /// Adds one interval of loader `i` to its slot and to the totals.
    fn add(&mut self, i: usize, interval: Interval) -> Result<()> {
        let service = decode(&mut self.deserializer, &interval.service_hdr)?;
        let response = match &interval.response_hdr {
            Some(text) => Some(decode(&mut self.deserializer, text)?),
            None => None,
        };
        let mut reads = Vec::new();
        for read in &interval.read_hdrs {
            let service = decode(&mut self.deserializer, &read.service_hdr)?;
            let response = match &read.response_hdr {
                Some(text) => Some(decode(&mut self.deserializer, text)?),
                None => None,
            };
            reads.push((read.op.as_str(), service, response));
        }
        let (Some(slot_s), Some(origin)) = (self.slot_s, self.loaders[i].origin_epoch_s) else {
            return Ok(());
        };
        let stats = interval.stats;
        let loader = &mut self.loaders[i];
        loader.seq = interval.seq;
        loader.cpu_s = stats.cpu.process_cpu_s;
        loader.rss = stats.cpu.rss_bytes;
        loader.view.throughput = stats.throughput;
        loader.view.p99_us = stats.service.p99;
        loader.view.verdict = stats.verdict.text.clone();
        let middle = origin + stats.at_s - stats.length_s / 2.0;
        let mut slot = (middle / slot_s).floor() as i64;
        loader.newest_slot = Some(loader.newest_slot.map_or(slot, |s| s.max(slot)));
        // Into a slot already drawn (a loader that answered late): the oldest open one, so that
        // no write is lost from the counts.
        if let Some(next) = self.next_to_close {
            slot = slot.max(next);
        }

        let t = &mut self.totals;
        t.issued += stats.issued;
        t.ok += stats.ok;
        t.ok_rows += stats.ok_rows;
        t.errors.merge(&stats.errors);
        t.maybe += stats.maybe;
        t.maybe_rows += stats.maybe_rows;
        let _ = self.service_all.add(&service);
        if let Some(response) = &response {
            let _ = self.response_all.add(response);
        }

        let into = self.open.entry(slot).or_default();
        let covered = into.covered.entry(i).or_default();
        covered.0 += stats.ok;
        covered.1 += stats.length_s;
        into.verdicts.push((i, stats.verdict.kind));
        add_histogram(&mut into.service, &service);
        if let Some(response) = &response {
            add_histogram(&mut into.response, response);
        }
        for read in &stats.reads {
            let logged = reads.iter().find(|(op, _, _)| *op == read.op);
            let service = logged.map(|(_, service, _)| service);
            let response = logged.and_then(|(_, _, response)| response.as_ref());
            for sums in [&mut into.reads, &mut self.reads_all] {
                ReadSum::add(sums, i, stats.length_s, read, service, response);
            }
        }
        match &mut into.stats {
            None => into.stats = Some(stats),
            Some(sum) => add_stats(sum, &stats),
        }
        Ok(())
    }

    /// Closes the slots every answering loader has moved past. Until every loader has answered
    /// once (or a few seconds have passed), nothing is closed: a loader's first answer brings
    /// the intervals it kept, which must find their slots still open.
    fn close_slots(&mut self) {
        let Some(slot_s) = self.slot_s else { return };
        let waiting = self
            .loaders
            .iter()
            .any(|l| l.view.health == LoaderHealth::Connecting);
        if waiting && self.started.elapsed() < FIRST_ANSWERS {
            return;
        }
        let reached = self
            .loaders
            .iter()
            .filter(|l| l.view.health.is_up() && l.view.knobs.is_some())
            .map(|l| l.newest_slot)
            .min()
            .flatten();
        let Some(reached) = reached else { return };
        let Some(first) = self.first_slot.or_else(|| self.open.keys().next().copied()) else {
            return;
        };
        self.first_slot = Some(first);
        let mut next = self.next_to_close.unwrap_or(first);
        // A slot is whole when every loader's newest interval is in it or after it; the
        // loaders' intervals are one slot long, so the slot of the newest is whole too.
        while next <= reached {
            let slot = self.open.remove(&next).unwrap_or_default();
            let at_s = (next - first + 1) as f64 * slot_s;
            let stats = close(slot, at_s, slot_s, self.history.back().map(|s| &**s));
            if self.history.len() == HISTORY_LEN {
                self.history.pop_front();
            }
            self.history.push_back(Arc::new(stats));
            next += 1;
        }
        self.next_to_close = Some(next);
    }

    fn view(&self) -> RemoteView {
        let up: Vec<&LoaderState> = self
            .loaders
            .iter()
            .filter(|l| l.view.health.is_up())
            .collect();
        let state = if !up.is_empty()
            && up
                .iter()
                .all(|l| l.view.knobs.as_ref().is_some_and(|k| k.paused))
        {
            RunState::Paused
        } else if up.is_empty() {
            RunState::Starting
        } else {
            RunState::Running
        };
        let mut knobs = up
            .iter()
            .find_map(|l| l.view.knobs.clone())
            .unwrap_or_default();
        // The target rate of all the loaders, when each has one: what the merged throughput is
        // measured against.
        let rates: Vec<f64> = up
            .iter()
            .filter_map(|l| l.view.knobs.as_ref().map(|k| k.rate))
            .collect();
        knobs.rate = if rates.iter().all(|r| *r > 0.0) {
            rates.iter().sum()
        } else {
            0.0
        };
        let mut totals = self.totals.clone();
        totals.service = LatencySummary::of(&self.service_all);
        totals.response = LatencySummary::of(&self.response_all);
        totals.reads = self.reads_all.iter().map(ReadSum::stats).collect();
        totals.client_cpu_s = self.loaders.iter().map(|l| l.cpu_s).sum();
        totals.rss_max_bytes = self.loaders.iter().map(|l| l.rss).sum();
        // The merged run's clock starts at its first slot.
        let origin_epoch_s = self
            .first_slot
            .zip(self.slot_s)
            .map_or(self.started_epoch_s, |(first, slot_s)| {
                first as f64 * slot_s
            });
        let elapsed = Duration::from_secs_f64((epoch_now() - origin_epoch_s).max(0.0));
        let snapshot = Snapshot {
            started: Instant::now().checked_sub(elapsed).unwrap_or(self.started),
            elapsed,
            state,
            paced: !self.response_all.is_empty(),
            interval: self.history.back().cloned().unwrap_or_default(),
            knobs,
            totals,
            history: self.history.clone(),
            events: self.events.clone(),
            encoded: VecDeque::new(),
        };
        RemoteView {
            snapshot: Arc::new(snapshot),
            loaders: self.loaders.iter().map(|l| l.view.clone()).collect(),
        }
    }
}

fn add_histogram(into: &mut Option<Histogram<u64>>, histogram: &Histogram<u64>) {
    match into {
        Some(sum) => {
            let _ = sum.add(histogram);
        }
        None => *into = Some(histogram.clone()),
    }
}

/// Adds one loader's interval to the slot's sum: counts and CPU summed; the node's health the
/// worst seen.
fn add_stats(sum: &mut IntervalStats, other: &IntervalStats) {
    sum.issued += other.issued;
    sum.ok += other.ok;
    sum.ok_rows += other.ok_rows;
    sum.errors.merge(&other.errors);
    sum.maybe += other.maybe;
    sum.maybe_rows += other.maybe_rows;
    sum.in_flight += other.in_flight;
    sum.in_flight_max += other.in_flight_max;
    sum.in_flight_mean += other.in_flight_mean;
    sum.head_of_line_percent = sum.head_of_line_percent.max(other.head_of_line_percent);
    sum.cpu.process_percent += other.cpu.process_percent;
    sum.cpu.process_cpu_s += other.cpu.process_cpu_s;
    sum.cpu.rss_bytes += other.cpu.rss_bytes;
    sum.cpu.threads.extend(other.cpu.threads.iter().cloned());
    sum.tasks.busy_percent += other.tasks.busy_percent;
    sum.tasks.scheduled_percent += other.tasks.scheduled_percent;
    sum.tasks.idle_percent += other.tasks.idle_percent;
    if other.node != NodeHealth::Up && other.node != NodeHealth::Unknown {
        sum.node = other.node;
    }
}

/// A slot as one interval: percentiles from its added histograms, throughput the sum of the
/// loaders' rates, the verdict the most common of theirs.
fn close(slot: Slot, at_s: f64, length_s: f64, before: Option<&IntervalStats>) -> IntervalStats {
    let mut stats = slot.stats.unwrap_or_else(|| IntervalStats {
        node: before.map_or(NodeHealth::Unknown, |b| b.node),
        ..IntervalStats::default()
    });
    stats.at_s = at_s;
    stats.length_s = length_s;
    stats.throughput = summed_rate(slot.covered.values().copied());
    stats.service = slot
        .service
        .as_ref()
        .map(LatencySummary::of)
        .unwrap_or_default();
    stats.response = slot.response.as_ref().map(LatencySummary::of);
    stats.reads = slot.reads.iter().map(ReadSum::stats).collect();
    // Lateness is each loader's own pacer: it does not add up.
    stats.pacer_late = None;
    stats
        .cpu
        .threads
        .sort_by(|a, b| b.percent.total_cmp(&a.percent));
    let most = most_common(slot.verdicts.iter().map(|(_, kind)| *kind));
    stats.verdict = match most {
        None => Verdict {
            kind: VerdictKind::Idle,
            text: "idle: no loader reported this interval".into(),
            limit: None,
        },
        Some((kind, n)) => Verdict {
            kind,
            text: format!(
                "{kind} ({n} of {} loaders); each loader's verdict is in the loaders panel",
                slot.verdicts.len()
            ),
            limit: None,
        },
    };
    stats
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::ReadCounts;
    use crate::metrics::encoded::EncodedRing;

    fn interval(seq: u64, at_s: f64, values: &[u64], kind: VerdictKind) -> Interval {
        let mut h = new_histogram();
        for v in values {
            h.record(*v).unwrap();
        }
        let stats = IntervalStats {
            at_s,
            length_s: 1.0,
            ok: values.len() as u64,
            issued: values.len() as u64,
            throughput: values.len() as f64,
            verdict: Verdict {
                kind,
                text: kind.to_string(),
                limit: None,
            },
            ..IntervalStats::default()
        };
        sent(seq, stats, &h, &[])
    }

    /// `stats` and its histograms encoded as the loader does, and through JSON, as the API
    /// sends it.
    fn sent(seq: u64, stats: IntervalStats, h: &Histogram<u64>, reads: &[ReadCounts]) -> Interval {
        let mut ring = EncodedRing::default();
        for _ in 0..seq {
            ring.push(Arc::new(stats.clone()), h, None, reads);
        }
        let sent = ring.kept().pop_back().unwrap();
        serde_json::from_value(serde_json::to_value(&*sent).unwrap()).unwrap()
    }

    /// An interval of 5 writes and `n` reads of `op` at `us` each.
    fn with_reads(at_s: f64, op: &str, n: u64, us: u64) -> Interval {
        let mut writes = new_histogram();
        writes.record_n(100, 5).unwrap();
        let mut read = ReadCounts::new(op.into());
        read.ok = n;
        read.rows = n;
        read.service.record_n(us, n).unwrap();
        let stats = IntervalStats {
            at_s,
            length_s: 1.0,
            ok: 5,
            issued: 5 + n,
            throughput: 5.0,
            reads: vec![read.stats(1.0, false)],
            ..IntervalStats::default()
        };
        sent(1, stats, &writes, &[read])
    }

    #[test]
    fn the_loaders_reads_merge_by_operation_with_added_histograms() {
        let mut m = Merger::new(&["a:1".into(), "b:2".into()]);
        m.take(0, Ok((status(1.0), vec![with_reads(1.0, "read", 99, 100)])));
        m.take(
            1,
            Ok((status(1.0), vec![with_reads(1.0, "read", 10, 5_000)])),
        );
        m.close_slots();
        let slot = m.history.back().unwrap();
        assert_eq!(slot.ok, 10, "the writes are the writes' alone");
        let [read] = slot.reads.as_slice() else {
            panic!("{:?}", slot.reads)
        };
        assert_eq!((read.op.as_str(), read.ok, read.rows), ("read", 109, 109));
        assert!((read.throughput - 109.0).abs() < 1e-9);
        // The p99 of every read of both loaders: a slow one, not an average of two p99s.
        assert!((4_990..=5_010).contains(&read.service.p99), "{read:?}");
        let totals = &m.view().snapshot.totals;
        assert_eq!(totals.reads.len(), 1);
        assert_eq!(totals.reads[0].ok, 109);
    }

    fn status(elapsed_s: f64) -> super::super::client::Status {
        super::super::client::Status {
            state: "running".into(),
            elapsed_s,
            paced: false,
            knobs: Some(Knobs::default()),
        }
    }

    #[test]
    fn two_loaders_merge_into_slots_with_added_histograms_and_a_down_one_stops_holding_them() {
        let mut m = Merger::new(&["a:1".into(), "b:2".into()]);
        m.take(
            0,
            Ok((
                status(2.0),
                vec![interval(1, 1.0, &[100; 99], VerdictKind::IoBound)],
            )),
        );
        m.close_slots();
        // b has not answered yet: nothing is closed without it, unless it is down.
        assert!(m.history.is_empty());
        m.take(1, Err(anyhow!("connection refused")));
        m.close_slots();
        assert_eq!(m.history.len(), 1);
        assert_eq!(m.history[0].ok, 99);
        assert!(m.view().loaders[1].health == LoaderHealth::Down("connection refused".into()));
        m.take(
            1,
            Ok((
                status(1.0),
                vec![interval(1, 1.0, &[5000; 10], VerdictKind::CpuBound)],
            )),
        );
        m.take(
            0,
            Ok((
                status(2.0),
                vec![interval(2, 2.0, &[100; 99], VerdictKind::IoBound)],
            )),
        );
        m.close_slots();
        let last = m.history.back().unwrap();
        assert_eq!(last.ok, 109);
        assert!((last.throughput - 109.0).abs() < 1e-9);
        assert!(
            (4990..=5010).contains(&last.service.p99),
            "{:?}",
            last.service
        );
        assert!(
            last.verdict.text.contains("(1 of 2 loaders)"),
            "{:?}",
            last.verdict
        );
        let view = m.view();
        assert_eq!(view.snapshot.totals.ok, 208);
        assert!(
            view.snapshot
                .events
                .iter()
                .any(|e| e.text.contains("loader 2 (b:2) down")),
            "{:?}",
            view.snapshot.events
        );
    }
}
