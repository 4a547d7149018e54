//! One worker: a single loop, parameterised by the live knobs, that issues writes as the strategy
//! admits them, records each completion into its own histograms, and hands its numbers to the
//! aggregator once per interval.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::future::Either;
use futures::stream::FuturesUnordered;
use scylla::client::session::Session;
use tokio::sync::watch;

use super::outcome::Completion;
use super::pacer::Pacer;
use super::slots::Slots;
use super::timer::PreciseTimer;
use super::workload::{self, RequestTemplate};
use super::written::Written;
use crate::knobs::Knobs;
use crate::metrics::{ErrorKind, MAX_LATENCY_US, MetricsMessage, ReadCounts, WorkerReport};
use crate::workload::rows::RowAt;

/// Writes issued in one go before the loop looks at completions and timers again, so a
/// fire-everything strategy cannot starve the interval hand-over.
const ISSUE_BURST: u32 = 256;

/// The first and the longest wait after a write found no connection to send on.
const MIN_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_millis(500);

/// The wait after one more write found no connection, given the last (zero after a success).
fn next_backoff(last: Duration) -> Duration {
    (last * 2).clamp(MIN_BACKOFF, MAX_BACKOFF)
}

/// The longest a stop waits for the writes in flight.
pub const MAX_DRAIN: Duration = Duration::from_secs(5);

/// The knobs as the controller publishes them: a version and when it was made, so workers can
/// report how soon a change reached the wire.
#[derive(Clone, Debug)]
pub struct KnobState {
    pub knobs: Knobs,
    pub version: u64,
    pub changed_at: Instant,
}

/// A run-wide budget of requests (`--ops`), claimed in small chunks so workers rarely touch the
/// shared counter.
#[derive(Debug)]
pub struct Budget {
    remaining: Option<AtomicU64>,
}

impl Budget {
    pub fn new(ops: u64) -> Self {
        Budget {
            remaining: (ops > 0).then(|| AtomicU64::new(ops)),
        }
    }

    /// True once a limited budget has been handed out entirely.
    pub fn is_spent(&self) -> bool {
        self.remaining
            .as_ref()
            .is_some_and(|r| r.load(Ordering::Acquire) == 0)
    }

    /// Claims up to `want` requests; `u64::MAX` when unlimited, 0 when spent.
    fn claim(&self, want: u64) -> u64 {
        let Some(remaining) = &self.remaining else {
            return u64::MAX;
        };
        let mut granted = 0;
        let _ = remaining.fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
            granted = left.min(want);
            Some(left - granted)
        });
        granted
    }
}

/// Whether the driver knows more than one node (it learns of nodes as they join or leave).
fn knows_several_nodes(session: &Session) -> bool {
    session.get_cluster_state().get_nodes_info().len() > 1
}

/// What every worker shares; nothing in it is locked on the write path.
pub struct Shared {
    pub session: Arc<Session>,
    pub writes: Arc<workload::Writes>,
    pub rounds_per_us: f64,
    pub keys: workload::KeySpace,
    pub started: Instant,
    pub interval: Duration,
    pub budget: Budget,
    /// Poll, scheduled and idle time of the worker tasks (tokio-console's busy/scheduled/idle).
    pub task_monitor: tokio_metrics::TaskMonitor,
}

pub struct Worker {
    id: u32,
    shared: Arc<Shared>,
    knobs_rx: watch::Receiver<KnobState>,
    stop_rx: watch::Receiver<bool>,
    metrics: SyncSender<MetricsMessage>,
    knobs: Knobs,
    knob_version: u64,
    /// Set when a knob change has not yet been followed by a write.
    unapplied_change: Option<Instant>,
    template: Arc<RequestTemplate>,
    /// The rows written so far, by the template that placed them: what reads ask for.
    written: Written<Arc<RequestTemplate>>,
    slots: Slots,
    pacer: Pacer,
    seq: u64,
    next_row: u64,
    quota: u64,
    budget_spent: bool,
    report: WorkerReport,
    /// Current wait after a connection error, and until when it holds writes back.
    backoff: Duration,
    backoff_until: Option<Instant>,
    /// Reads of each read operation in flight: a drain that gives up counts them as read
    /// timeouts, not as writes that may have been applied.
    reads_in_flight: Vec<u64>,
    /// The driver knows more than one node: each write then notes its coordinator (on one node
    /// the interval's own numbers are that node's, and the noting cost ~0.8 µs a write).
    several_nodes: bool,
}

impl Worker {
    pub fn new(
        id: u32,
        shared: Arc<Shared>,
        knobs_rx: watch::Receiver<KnobState>,
        stop_rx: watch::Receiver<bool>,
        metrics: SyncSender<MetricsMessage>,
    ) -> Self {
        let state = knobs_rx.borrow().clone();
        let now = Instant::now();
        let several_nodes = knows_several_nodes(&shared.session);
        let template = Arc::new(RequestTemplate::new(
            &shared.writes,
            &state.knobs,
            shared.rounds_per_us,
        ));
        let mut report = WorkerReport::new(id);
        report.reads = shared
            .writes
            .reads
            .iter()
            .map(|read| ReadCounts::new(read.name.clone()))
            .collect();
        let reads = report.reads.len();
        Worker {
            id,
            pacer: Pacer::new(per_worker_rate(&state.knobs), state.knobs.pacer_slack, now),
            shared,
            knobs_rx,
            stop_rx,
            metrics,
            knobs: state.knobs,
            knob_version: state.version,
            unapplied_change: None,
            written: Written::new(template.clone()),
            template,
            slots: Slots::default(),
            seq: 0,
            next_row: 0,
            quota: 0,
            budget_spent: false,
            report,
            backoff: Duration::ZERO,
            backoff_until: None,
            reads_in_flight: vec![0; reads],
            several_nodes,
        }
    }

    fn active(&self, stopping: bool) -> bool {
        !stopping && !self.budget_spent && !self.knobs.paused && self.id < self.knobs.workers
    }

    fn adopt_knobs(&mut self) {
        let state = self.knobs_rx.borrow_and_update().clone();
        let now = Instant::now();
        let old = std::mem::replace(&mut self.knobs, state.knobs);
        self.pacer.set_slack(self.knobs.pacer_slack);
        if old.rate != self.knobs.rate || old.workers != self.knobs.workers {
            self.pacer.set_rate(per_worker_rate(&self.knobs), now);
        } else if old.paused && !self.knobs.paused {
            self.pacer.restart(now);
        }
        if self.template.is_stale(&self.knobs) {
            let next = Arc::new(RequestTemplate::new(
                &self.shared.writes,
                &self.knobs,
                self.shared.rounds_per_us,
            ));
            let end = self.next_row;
            self.next_row = self.template.next_block(&next, self.next_row);
            self.written.relayout(end, self.next_row, next.clone());
            self.template = next;
        }
        self.knob_version = state.version;
        self.unapplied_change = Some(state.changed_at);
    }

    /// Longest a stopping worker waits for its writes in flight: until each has had its request
    /// timeout, but no more than [`MAX_DRAIN`] — whoever pressed `q` wants the summary soon.
    /// Writes still unanswered then are counted as timeouts that may have been applied.
    fn drain_deadline(&self) -> Duration {
        (self.knobs.request_timeout + Duration::from_millis(500)).min(MAX_DRAIN)
    }

    /// Takes one request from the run's budget.
    fn take_quota(&mut self) -> bool {
        if self.quota == 0 {
            self.quota = self.shared.budget.claim(64);
            if self.quota == 0 {
                self.budget_spent = true;
                return false;
            }
        }
        if self.quota != u64::MAX {
            self.quota -= 1;
        }
        true
    }

    fn record(&mut self, done: &Completion) {
        self.slots.on_complete(done.seq, done.done);
        let us = |d: Duration| (d.as_micros() as u64).clamp(1, MAX_LATENCY_US);
        self.report
            .pacer_late
            .saturating_record(us(done.sent.saturating_duration_since(done.intended)));
        let service = us(done.service_time());
        if let Some(index) = done.read {
            self.reads_in_flight[usize::from(index)] -= 1;
            let counts = &mut self.report.reads[usize::from(index)];
            match &done.outcome {
                Ok(()) => {
                    counts.ok += 1;
                    counts.rows += done.found;
                    counts.service.saturating_record(service);
                    counts.response.saturating_record(us(done.response_time()));
                }
                Err(failure) => {
                    counts.errors.add(failure.kind);
                    self.report.note_error(failure.kind, &failure.detail);
                    if failure.kind == ErrorKind::Connection {
                        self.back_off(done.done);
                        return;
                    }
                }
            }
            self.backoff = Duration::ZERO;
            return;
        }
        if let Some(node) = done.coordinator {
            let counts = self.report.node(node);
            counts.busy_us += service;
            match &done.outcome {
                Ok(()) => {
                    counts.ok += 1;
                    counts.service.saturating_record(service);
                }
                Err(failure) => counts.errors.add(failure.kind),
            }
        }
        match &done.outcome {
            Ok(()) => {
                self.report.ok += 1;
                self.report.ok_rows += u64::from(done.rows);
                self.report.service.saturating_record(service);
                self.report
                    .response
                    .saturating_record(us(done.response_time()));
            }
            Err(failure) => {
                self.report.errors.add(failure.kind);
                if failure.maybe_applied {
                    self.report.maybe += 1;
                    self.report.maybe_rows += u64::from(done.rows);
                }
                self.report.note_error(failure.kind, &failure.detail);
                if failure.kind == ErrorKind::Connection {
                    self.back_off(done.done);
                    return;
                }
            }
        }
        self.backoff = Duration::ZERO;
    }

    /// The driver has no working connection: wait a little before the next write instead of
    /// failing thousands of writes a second (a broken connection fails every write sent on it
    /// until the driver drops it), doubling the wait up to [`MAX_BACKOFF`] while the
    /// node stays away. The driver reconnects in the background; the first success resets it.
    fn back_off(&mut self, now: Instant) {
        self.backoff = next_backoff(self.backoff);
        self.backoff_until = Some(now + self.backoff);
    }

    /// Whether a backoff still holds the next write back.
    fn backing_off(&mut self, now: Instant) -> bool {
        match self.backoff_until {
            Some(until) if now < until => true,
            Some(_) => {
                self.backoff_until = None;
                false
            }
            None => false,
        }
    }

    /// Hands this interval's numbers to the aggregator without waiting; if its queue is full the
    /// numbers stay here and go with the next hand-over.
    fn hand_over(&mut self) {
        self.report.slots.add(self.slots.take_time(Instant::now()));
        self.report.in_flight = self.slots.in_flight();
        self.report.in_flight_max = self
            .report
            .in_flight_max
            .max(self.slots.take_max_in_flight());
        self.several_nodes = knows_several_nodes(&self.shared.session);
        let next = self.report.next();
        let report = std::mem::replace(&mut self.report, next);
        match self
            .metrics
            .try_send(MetricsMessage::Report(Box::new(report)))
        {
            Ok(()) => {}
            Err(TrySendError::Full(MetricsMessage::Report(kept))) => {
                let fresh = std::mem::replace(&mut self.report, *kept);
                self.report.absorb(fresh);
            }
            Err(_) => {}
        }
    }

    /// The next write's intended start and key, after the client's CPU work for it (which
    /// moves `now` on).
    fn prepare_write(&mut self, now: &mut Instant) -> (Instant, i64, workload::Origin) {
        let intended = self.pacer.take(*now);
        let key = self.shared.keys.key(self.id, self.next_row);
        let origin = workload::Origin {
            worker: self.id,
            counter: self.next_row,
        };
        self.next_row += u64::from(self.template.rows);
        if self.template.cpu_work_us > 0 {
            std::hint::black_box(workload::burn_cpu(
                &self.template.payload,
                key,
                self.template.cpu_work_us,
                self.template.cpu_slice_rounds,
            ));
            *now = Instant::now();
        }
        (intended, key, origin)
    }

    /// The operation the next request is: `None` the write, `Some(i)` read `i` of the mix.
    /// Until the worker has rows far enough behind its writes in flight to read, a read's turn
    /// goes to a write when the mix writes at all (a read of a row not yet written measures a
    /// miss, not the user's read).
    fn next_op(&self) -> Option<u8> {
        let cycle = &self.template.cycle;
        let op = cycle[(self.seq % cycle.len().max(1) as u64) as usize];
        if op.is_some() && self.rows_read_back() == 0 && self.template.writes_in_mix {
            return None;
        }
        op
    }

    /// How many of this worker's first rows are surely written: those before its writes in
    /// flight, with room to spare (writes complete out of order within the in-flight window).
    fn rows_read_back(&self) -> u64 {
        let lag = u64::from(self.template.rows) * u64::from(self.knobs.in_flight_limit()) * 2 + 1;
        self.written.readable(self.next_row, lag)
    }

    /// A row this worker wrote a while ago, to read: drawn (the same for the same `seq`) from
    /// [`Self::rows_read_back`], so that a read finds what an acknowledged write left. Its key,
    /// and where the layout it was written under placed it.
    fn row_to_read(&self) -> (i64, RowAt) {
        let n = match self.rows_read_back() {
            0 => 0,
            n => crate::workload::dist::mix(self.seq ^ (u64::from(self.id) << 48)) % n,
        };
        let (counter, template) = self.written.nth(n, self.next_row);
        let at = template.place(self.id, counter);
        (self.shared.keys.key(self.id, counter), at)
    }

    /// Counts the write just issued as `seq`; the first under new knobs says how long after the
    /// change it left.
    fn note_issued(&mut self, now: Instant) {
        self.slots.on_issue(self.seq, now);
        self.seq += 1;
        self.report.issued += 1;
        if let Some(changed_at) = self.unapplied_change.take() {
            self.report
                .knobs_applied
                .push((self.knob_version, now.saturating_duration_since(changed_at)));
        }
    }

    /// Requests still unanswered past the drain deadline are given up as timeouts: never counted
    /// as successes; the writes among them may have been applied.
    fn give_up(&mut self, unanswered: usize) {
        let mut reads = 0;
        for (counts, left) in self.report.reads.iter_mut().zip(&self.reads_in_flight) {
            for _ in 0..*left {
                counts.errors.add(ErrorKind::Timeout);
            }
            reads += *left as usize;
        }
        for _ in 0..unanswered.saturating_sub(reads) {
            self.report.errors.add(ErrorKind::Timeout);
            self.report.maybe += 1;
            self.report.maybe_rows += u64::from(self.template.rows);
        }
    }

    /// With nothing in flight and nothing to issue: whether the worker is done (stopping, or
    /// the ops budget gone; a parked worker beyond `workers` ends then too).
    fn done(&self, stopping: bool) -> bool {
        stopping || self.budget_spent || (self.quota == 0 && self.shared.budget.is_spent())
    }

    pub async fn run(mut self) {
        let shared = self.shared.clone();
        let mut in_flight = FuturesUnordered::new();
        // Hand-overs fall on the aggregator's edges, `started + k * interval`, and are checked
        // against the clock at every step: a worker kept busy by completions or by its own CPU
        // work may see the timer late, and a hand-over that misses the aggregator's grace
        // credits the interval after (a zero, then a double).
        let mut next_edge = shared.started + shared.interval;
        let edge_timer = tokio::time::sleep_until(next_edge.into());
        tokio::pin!(edge_timer);
        let mut stopping = *self.stop_rx.borrow();
        let mut knobs_closed = false;
        let mut drain_until: Option<Instant> = None;
        // Without a timerfd (some sandboxes refuse one), pacing falls back to tokio's
        // millisecond timer, and the pacer's lateness shows what that costs.
        let mut timer = PreciseTimer::new().ok();

        loop {
            let mut now = Instant::now();
            if now >= next_edge {
                self.hand_over();
                next_edge = edge_after(shared.started, shared.interval, now);
                edge_timer.as_mut().reset(next_edge.into());
            }
            // Knobs and the stop flag are read at the top of every step: the select below is
            // biased towards completions and may not reach their branches under load.
            if self.knobs_rx.has_changed().unwrap_or(false) {
                self.adopt_knobs();
            }
            if !stopping && *self.stop_rx.borrow() {
                stopping = true;
                drain_until = Some(Instant::now() + self.drain_deadline());
            }
            let mut issued = 0;
            // A burst also ends at the edge, so its CPU work cannot hold the hand-over back.
            while issued < ISSUE_BURST
                && now < next_edge
                && self.active(stopping)
                && !self.backing_off(now)
                && self.pacer.ready(now)
                && self.slots.may_issue(&self.knobs)
                && self.take_quota()
            {
                match self.next_op() {
                    None => {
                        let (intended, key, origin) = self.prepare_write(&mut now);
                        in_flight.push(Either::Left(workload::write(
                            shared.session.clone(),
                            self.template.clone(),
                            key,
                            origin,
                            self.seq,
                            intended,
                            self.several_nodes,
                        )));
                    }
                    Some(read) => {
                        let intended = self.pacer.take(now);
                        let (key, at) = self.row_to_read();
                        self.reads_in_flight[usize::from(read)] += 1;
                        in_flight.push(Either::Right(workload::read(
                            shared.session.clone(),
                            self.template.clone(),
                            read,
                            key,
                            at,
                            self.seq,
                            intended,
                        )));
                    }
                }
                self.note_issued(now);
                issued += 1;
            }

            let idle = !self.active(stopping);
            if idle && in_flight.is_empty() && self.done(stopping) {
                break;
            }
            if stopping && drain_until.is_some_and(|until| Instant::now() > until) {
                self.give_up(in_flight.len());
                break;
            }
            // The pacer's wake-up matters only to a worker that could issue then: with every
            // slot taken (behind schedule, a node pause) a completion is what it waits for.
            let pacer_wake = self
                .pacer
                .wake_at()
                .filter(|_| !idle && self.backoff_until.is_none())
                .filter(|_| self.slots.may_issue(&self.knobs));
            let backoff_until = self.backoff_until.filter(|_| !idle);
            let more_to_issue = issued == ISSUE_BURST;

            tokio::select! {
                biased;
                // The top of the loop hands over.
                _ = &mut edge_timer => {}
                Some(done) = in_flight.next(), if !in_flight.is_empty() => {
                    self.record(&done);
                    // Take every other completion that is already there before issuing again.
                    while let Some(Some(done)) = futures::FutureExt::now_or_never(in_flight.next()) {
                        self.record(&done);
                    }
                }
                changed = self.knobs_rx.changed(), if !knobs_closed => {
                    if changed.is_err() {
                        knobs_closed = true;
                        stopping = true;
                        drain_until = Some(Instant::now() + self.drain_deadline());
                    } else {
                        // `changed()` marks the new knobs as seen, so the check at the top of
                        // the loop would miss them: adopt them here.
                        self.adopt_knobs();
                    }
                }
                changed = self.stop_rx.changed(), if !stopping => {
                    if changed.is_err() || *self.stop_rx.borrow() {
                        stopping = true;
                        drain_until = Some(Instant::now() + self.drain_deadline());
                    }
                }
                _ = pace(&mut timer, pacer_wake), if pacer_wake.is_some() && !more_to_issue => {}
                _ = tokio::task::yield_now(), if more_to_issue => {}
                _ = sleep_until_opt(drain_until), if drain_until.is_some() => {}
                _ = sleep_until_opt(backoff_until), if backoff_until.is_some() => {}
            }
        }
        self.hand_over();
    }
}

/// The first edge of the grid `started + k * interval` (k ≥ 1) after `now`: edges missed while
/// the process was stalled are skipped, never bunched.
fn edge_after(started: Instant, interval: Duration, now: Instant) -> Instant {
    let elapsed = now.saturating_duration_since(started).as_nanos();
    let step = interval.as_nanos().max(1);
    let k = (elapsed / step + 1).min(u128::from(u32::MAX)) as u32;
    started + interval * k
}

/// Waits for the pacer's next wake-up on the precise timer, or on tokio's when there is none.
async fn pace(timer: &mut Option<PreciseTimer>, at: Option<Instant>) {
    let Some(at) = at else { return };
    if let Some(precise) = timer {
        if precise.wait_until(at).await.is_ok() {
            return;
        }
        *timer = None;
    }
    tokio::time::sleep_until(at.into()).await;
}

async fn sleep_until_opt(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at.into()).await;
    }
}

fn per_worker_rate(knobs: &Knobs) -> f64 {
    if knobs.rate > 0.0 {
        knobs.rate / f64::from(knobs.workers.max(1))
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_back_off_starts_at_10_ms_and_doubles_up_to_500_ms() {
        let mut waits = Vec::new();
        let mut wait = Duration::ZERO;
        for _ in 0..8 {
            wait = next_backoff(wait);
            waits.push(wait.as_millis());
        }
        assert_eq!(waits, [10, 20, 40, 80, 160, 320, 500, 500]);
    }

    #[test]
    fn hand_overs_stay_on_the_grid_of_edges() {
        let started = Instant::now();
        let second = Duration::from_secs(1);
        let at = |s: f64| started + Duration::from_secs_f64(s);
        assert_eq!(edge_after(started, second, started), at(1.0));
        assert_eq!(edge_after(started, second, at(0.999)), at(1.0));
        // On an edge, the next one; late by a little, still the next one on the grid (not
        // one interval after the late hand-over); stalled for several, the first one ahead.
        assert_eq!(edge_after(started, second, at(1.0)), at(2.0));
        assert_eq!(edge_after(started, second, at(1.13)), at(2.0));
        assert_eq!(edge_after(started, second, at(7.5)), at(8.0));
    }

    #[test]
    fn budget_hands_out_exactly_what_it_has() {
        let budget = Budget::new(100);
        let mut total = 0;
        loop {
            let got = budget.claim(64);
            if got == 0 {
                break;
            }
            total += got;
        }
        assert_eq!(total, 100);
        assert_eq!(Budget::new(0).claim(64), u64::MAX);
    }
}
