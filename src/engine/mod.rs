//! The engine: workers that schedule writes by the live knobs, on a runtime of their own.
//!
//! ```text
//!  Engine::change ──(Knobs::apply: the one check)──► knobs watch ──► workers
//!        │ Changed                                                   │ hand-over per interval
//!        ▼                                                           ▼
//!  controller (spawns workers, pauses) ──── knob events ────► metrics aggregator
//! ```
//! The engine runs on its own OS thread ("casstop-engine"), with either a current-thread tokio
//! runtime (everything, the driver included, on that one thread) or a multi-thread one. The driver
//! session is created inside that runtime so its connection tasks run there too: the client's CPU
//! is all in one place, where the user's knobs put it.

pub mod outcome;
pub mod pacer;
mod probe;
pub mod reads;
pub mod slots;
mod timer;
pub mod worker;
pub mod workload;
mod written;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinSet;

use crate::config::{CommitlogSync, Settings};
use crate::knobs::{KnobChange, Knobs, Runtime};
use crate::metrics::aggregate::{Outputs, RunTotals};
use crate::metrics::{Aggregator, EventKind, MetricsMessage, RunState, Snapshot};
use crate::record::RecordFeed;
use worker::{Budget, KnobState, Shared, Worker};

/// What the UI (or a test) asks the engine to do.
#[derive(Debug)]
pub enum Command {
    /// A knob change already in the knobs watch (as `version`, giving `knobs`), with the moment
    /// it was asked for (a key press), so the event log can say how long it took to reach the
    /// first write.
    Changed {
        // Boxed: a knob change is rare and the knobs are large beside the other commands.
        change: Box<KnobChange>,
        knobs: Box<Knobs>,
        version: u64,
        at: Instant,
    },
    /// A CPU profile finished: its share of samples per category feeds the verdict.
    ProfileDone {
        categories: Vec<(String, f64)>,
        text: String,
    },
    /// Something that changed outside the engine (the hop's RTT), for the event log.
    Note(String),
    /// Stop issuing, let writes in flight finish, and end the run.
    Stop,
}

/// What [`Engine::change`] did with a valid change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Changed {
    /// The knob took the value; the change is an event.
    Applied,
    /// The knob had that value already: nothing happened, nothing is logged.
    AlreadySo,
}

/// Facts about the run fixed at start.
#[derive(Clone, Debug)]
pub struct EngineInfo {
    pub hosts: Vec<String>,
    pub server_version: String,
    pub runtime: Runtime,
    pub threads: u32,
    pub interval: Duration,
    pub cpu_rounds_per_us: f64,
    pub run_nonce: u16,
    /// What is written: `default`, the profile's file name, `2×text columns`.
    pub workload: String,
    /// The table written, `keyspace.table`.
    pub table: String,
    /// The table's values are counters: its batches are counter batches, whatever batch_type.
    pub counter_table: bool,
    /// The operations the `mix` knob may name: `insert`, then the workload's reads.
    pub ops: Vec<String>,
    /// When the load goes to the local node and its commit log syncs periodically: how far back
    /// a crash of the node may lose acknowledged writes.
    pub unsynced_window: Option<Duration>,
}

#[cfg(test)]
impl EngineInfo {
    /// The facts of a run against a local node, for drawing and input tests.
    pub fn for_tests() -> Self {
        EngineInfo {
            hosts: vec!["127.0.0.1:9042".into()],
            server_version: "5.0.9".into(),
            runtime: Runtime::CurrentThread,
            threads: 1,
            interval: Duration::from_secs(1),
            cpu_rounds_per_us: 100.0,
            run_nonce: 1,
            workload: "default".into(),
            table: "casstop.writes".into(),
            counter_table: false,
            ops: vec!["insert".into(), "read".into()],
            unsynced_window: None,
        }
    }
}

/// A running engine. Dropping it stops the run.
pub struct Engine {
    pub info: EngineInfo,
    /// The commands, the knobs and the latest snapshot: what [`Engine::handle`] shares.
    handle: EngineHandle,
    /// Kept only to subscribe from, weakly: the aggregator owns the sender, so subscribers see
    /// the channel close when the run ends.
    every: broadcast::WeakSender<Arc<Snapshot>>,
    thread: Option<JoinHandle<Result<()>>>,
    aggregator: Option<JoinHandle<RunTotals>>,
}

/// What the engine thread hands back once connected.
struct Ready {
    info: EngineInfo,
    knobs: Arc<watch::Sender<KnobState>>,
    aggregator: Aggregator,
}

impl Engine {
    /// Connects, creates the schema, prepares the INSERT and starts the workers. Returns once
    /// writes are flowing, or the error that kept them from starting.
    pub fn start(settings: &Settings, node_pid: Option<u32>) -> Result<Engine> {
        Engine::start_recorded(settings, node_pid, None)
    }

    /// [`Engine::start`], with every closed interval and event also handed to a recording.
    pub fn start_recorded(
        settings: &Settings,
        node_pid: Option<u32>,
        record: Option<RecordFeed>,
    ) -> Result<Engine> {
        let settings = settings.clone();
        let (ready_tx, ready_rx) = oneshot::channel::<Result<Ready>>();
        let (commands, command_rx) = mpsc::unbounded_channel();
        let thread = std::thread::Builder::new()
            .name("casstop-engine".into())
            .spawn(move || engine_thread(settings, node_pid, record, ready_tx, command_rx))
            .context("starting the engine thread")?;
        let ready = match ready_rx.blocking_recv() {
            Ok(Ok(ready)) => ready,
            Ok(Err(err)) => {
                let _ = thread.join();
                return Err(err);
            }
            Err(_) => {
                let outcome = thread.join();
                return Err(match outcome {
                    Ok(Err(err)) => err,
                    _ => anyhow!("the engine thread ended before it was ready"),
                });
            }
        };
        let Aggregator {
            latest,
            every,
            thread: aggregator,
            ..
        } = ready.aggregator;
        Ok(Engine {
            handle: EngineHandle {
                ops: Arc::new(ready.info.ops.clone()),
                commands,
                knobs: ready.knobs,
                latest,
            },
            every,
            thread: Some(thread),
            aggregator: Some(aggregator),
            info: ready.info,
        })
    }

    /// The knobs in force: every change made so far is in them.
    pub fn knobs(&self) -> Knobs {
        self.handle.knobs()
    }

    /// Makes a knob change, or refuses it with one line naming the knob and its range. Checked
    /// by [`Knobs::apply`] against the knobs in force (the one check), then in force for the
    /// workers' next step; never waits for the engine.
    pub fn change(&self, change: KnobChange) -> Result<Changed, String> {
        self.handle.change(change)
    }

    /// What another thread may do to the run (the control API): change knobs, read snapshots,
    /// ask it to stop. It holds channels only, so it outliving the run is harmless.
    pub fn handle(&self) -> EngineHandle {
        self.handle.clone()
    }

    /// The latest snapshot; cheap, never waits for the engine.
    pub fn latest(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.handle.latest.clone()
    }

    /// Every snapshot from now on (a slow reader skips some: it gets `Lagged`).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Snapshot>> {
        match self.every.upgrade() {
            Some(sender) => sender.subscribe(),
            // The run has ended: a receiver of a closed channel says so at once.
            None => broadcast::channel(1).1,
        }
    }

    /// Whether the run has ended by itself (its `ops` or `duration` reached).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Tells the run about a finished CPU profile (the verdict then cites its samples).
    pub fn note_profile(&self, summary: &crate::profiler::ProfileSummary) {
        self.handle.note_profile(summary);
    }

    /// Puts a line in the run's event log (a change the engine does not own, like the RTT).
    pub fn note(&self, text: impl Into<String>) {
        let _ = self.handle.commands.send(Command::Note(text.into()));
    }

    /// Asks the run to stop without waiting for it: writes in flight finish, then
    /// [`Engine::is_finished`] turns true.
    pub fn request_stop(&self) {
        let _ = self.handle.commands.send(Command::Stop);
    }

    /// Stops the run (writes in flight finish) and returns its totals.
    pub fn stop(mut self) -> Result<RunTotals> {
        let _ = self.handle.commands.send(Command::Stop);
        self.join()
    }

    /// Waits for a run limited by `ops` or `duration` to end, and returns its totals.
    pub fn wait(mut self) -> Result<RunTotals> {
        self.join()
    }

    fn join(&mut self) -> Result<RunTotals> {
        if let Some(thread) = self.thread.take() {
            thread
                .join()
                .map_err(|_| anyhow!("the engine thread panicked"))??;
        }
        let aggregator = self.aggregator.take().context("run already joined")?;
        aggregator
            .join()
            .map_err(|_| anyhow!("the metrics thread panicked"))
    }
}

/// A run's controls for another thread: see [`Engine::handle`].
#[derive(Clone)]
pub struct EngineHandle {
    commands: mpsc::UnboundedSender<Command>,
    /// The knobs in force: the workers read them at every step. A change is checked against and
    /// written into them at once, so a change made right after another (two presses of `+`)
    /// starts from the first one's result.
    knobs: Arc<watch::Sender<KnobState>>,
    latest: watch::Receiver<Arc<Snapshot>>,
    /// The operations the workload has, for the `mix` knob's names.
    ops: Arc<Vec<String>>,
}

impl EngineHandle {
    pub fn knobs(&self) -> Knobs {
        self.knobs.borrow().knobs.clone()
    }

    pub fn latest(&self) -> Arc<Snapshot> {
        self.latest.borrow().clone()
    }

    pub fn is_over(&self) -> bool {
        self.commands.is_closed()
    }

    /// As [`Engine::change`]: the same one check, the same event.
    pub fn change(&self, change: KnobChange) -> Result<Changed, String> {
        if self.commands.is_closed() {
            return Err("the run has ended".into());
        }
        if let crate::knobs::Value::Mix(mix) = change.value {
            reads::check_mix(&self.ops, &mix)?;
        }
        let at = Instant::now();
        let mut outcome = Err(String::new());
        self.knobs
            .send_if_modified(|state| match state.knobs.apply(&change) {
                // Already so (`+` at the cap, the same `:depth` twice): nothing to log or wake.
                Ok(next) if next == state.knobs => {
                    outcome = Ok(None);
                    false
                }
                Ok(next) => {
                    state.knobs = next;
                    state.version += 1;
                    state.changed_at = at;
                    outcome = Ok(Some((state.knobs.clone(), state.version)));
                    true
                }
                Err(message) => {
                    outcome = Err(message);
                    false
                }
            });
        let Some((knobs, version)) = outcome? else {
            return Ok(Changed::AlreadySo);
        };
        // The controller only reports it and grows the workers; a closed channel means the run
        // ended in between, when nothing reads the knobs any more.
        let _ = self.commands.send(Command::Changed {
            change: Box::new(change),
            knobs: Box::new(knobs),
            version,
            at,
        });
        Ok(Changed::Applied)
    }

    pub fn note_profile(&self, summary: &crate::profiler::ProfileSummary) {
        let text = format!(
            "profile: {} samples, {} -> {}",
            summary.samples,
            summary
                .categories
                .iter()
                .filter(|(_, share)| *share >= 0.01)
                .map(|(name, share)| format!("{name} {:.0}%", share * 100.0))
                .collect::<Vec<_>>()
                .join(", "),
            summary.svg.display()
        );
        let _ = self.commands.send(Command::ProfileDone {
            categories: summary.categories.clone(),
            text,
        });
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.handle.commands.send(Command::Stop);
            let _ = self.join();
        }
    }
}

fn build_runtime(settings: &Settings) -> Result<tokio::runtime::Runtime> {
    let mut builder = match settings.knobs.runtime {
        Runtime::CurrentThread => tokio::runtime::Builder::new_current_thread(),
        Runtime::MultiThread => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            let counter = std::sync::atomic::AtomicUsize::new(0);
            builder
                .worker_threads(settings.knobs.threads as usize)
                .thread_name_fn(move || {
                    let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    format!("casstop-wrk-{n}")
                });
            builder
        }
    };
    builder
        .enable_all()
        .build()
        .context("building the engine runtime")
}

fn engine_thread(
    settings: Settings,
    node_pid: Option<u32>,
    record: Option<RecordFeed>,
    ready: oneshot::Sender<Result<Ready>>,
    commands: mpsc::UnboundedReceiver<Command>,
) -> Result<()> {
    let runtime = match build_runtime(&settings) {
        Ok(runtime) => runtime,
        Err(err) => {
            let _ = ready.send(Err(err));
            return Ok(());
        }
    };
    runtime.block_on(async move {
        let setup = setup(&settings, node_pid, record).await;
        let (shared, knobs_tx, stop_tx, aggregator_sender, info_ready) = match setup {
            Ok(parts) => parts,
            Err(err) => {
                let _ = ready.send(Err(err));
                return Ok(());
            }
        };
        let Ready {
            info,
            knobs,
            aggregator,
        } = info_ready;
        if ready
            .send(Ok(Ready {
                info,
                knobs,
                aggregator,
            }))
            .is_err()
        {
            return Ok(());
        }
        control(
            &settings,
            shared,
            knobs_tx,
            stop_tx,
            aggregator_sender,
            commands,
        )
        .await;
        Ok(())
    })
}

type Setup = (
    Arc<Shared>,
    Arc<watch::Sender<KnobState>>,
    watch::Sender<bool>,
    SyncSender<MetricsMessage>,
    Ready,
);

async fn setup(
    settings: &Settings,
    node_pid: Option<u32>,
    record: Option<RecordFeed>,
) -> Result<Setup> {
    let session = crate::cluster::connect(settings).await?;
    let server_version = crate::cluster::release_version(&session)
        .await
        .unwrap_or_else(|_| "unknown".into());
    crate::cluster::create_schema(&session, settings).await?;
    let keys = workload::KeySpace::of(&settings.knobs);
    let writes = Arc::new(workload::prepare_writes(&session, settings, keys).await?);
    writes
        .check_mix(&settings.knobs.mix)
        .map_err(crate::error::UsageError)?;
    let rounds_per_us = workload::calibrate_cpu_work();

    let knobs = settings.knobs.clone();
    let started = Instant::now();
    let task_monitor = tokio_metrics::TaskMonitor::new();
    let aggregator = Aggregator::spawn(
        knobs.clone(),
        settings.knobs.interval,
        started,
        node_pid,
        task_monitor.clone(),
        settings.knobs.os_threads(),
        Outputs {
            record,
            // `/intervals` serves them; nobody else needs them encoded twice.
            keep_encoded: !settings.control.listen.is_empty(),
        },
    )?;
    let sender = aggregator.sender.clone();
    let _ = sender.send(MetricsMessage::State(RunState::Running));
    let (knobs_tx, _) = watch::channel(KnobState {
        knobs: knobs.clone(),
        version: 0,
        changed_at: started,
    });
    let knobs_tx = Arc::new(knobs_tx);
    let knobs_for_engine = knobs_tx.clone();
    let (stop_tx, _) = watch::channel(false);
    let shared = Arc::new(Shared {
        session: Arc::new(session),
        writes,
        rounds_per_us,
        keys,
        started,
        interval: settings.knobs.interval,
        budget: Budget::new(settings.knobs.ops),
        task_monitor,
    });
    let info = EngineInfo {
        hosts: crate::cluster::contact_points(&settings.cluster),
        server_version,
        runtime: settings.knobs.runtime,
        threads: settings.knobs.os_threads(),
        interval: settings.knobs.interval,
        cpu_rounds_per_us: rounds_per_us,
        run_nonce: keys.nonce,
        workload: settings.profile.label(),
        table: format!("{}.{}", settings.cluster.keyspace, settings.cluster.table),
        counter_table: shared.writes.rows.as_ref().is_some_and(|rows| rows.counter),
        ops: shared.writes.op_names(),
        // What the node was started with, which the settings may no longer say.
        unsynced_window: node_pid
            .and_then(|_| crate::local::LocalNode::new(&settings.local).running_commitlog_sync())
            .and_then(CommitlogSync::unsynced_window),
    };
    Ok((
        shared,
        knobs_tx,
        stop_tx,
        sender,
        Ready {
            info,
            knobs: knobs_for_engine,
            aggregator,
        },
    ))
}

/// The controller's messages to the aggregator, in order. The aggregator's queue is bounded and
/// this runs on the workers' runtime, so a full queue must not block it (the workers and the
/// driver would stall with it): what does not fit waits here and is sent on the next tick.
struct Outbox {
    sender: SyncSender<MetricsMessage>,
    waiting: VecDeque<MetricsMessage>,
}

impl Outbox {
    fn send(&mut self, message: MetricsMessage) {
        self.waiting.push_back(message);
        self.flush();
    }

    fn flush(&mut self) {
        while let Some(message) = self.waiting.pop_front() {
            match self.sender.try_send(message) {
                Ok(()) => {}
                Err(TrySendError::Full(message)) => {
                    self.waiting.push_front(message);
                    return;
                }
                // The aggregator has gone: the run is over, nothing to tell.
                Err(TrySendError::Disconnected(_)) => {
                    self.waiting.clear();
                    return;
                }
            }
        }
    }

    fn event(&mut self, text: String, kind: EventKind) {
        self.send(MetricsMessage::Event {
            text,
            kind,
            at: Instant::now(),
        });
    }
}

/// Reports changes, spawns workers as `workers` grows, and ends the run on Stop, on the duration
/// deadline, or once the `ops` budget is spent.
async fn control(
    settings: &Settings,
    shared: Arc<Shared>,
    knobs_tx: Arc<watch::Sender<KnobState>>,
    stop_tx: watch::Sender<bool>,
    metrics: SyncSender<MetricsMessage>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let mut workers = JoinSet::new();
    let mut spawned = 0u32;
    let spawn_up_to = |count: u32, spawned: &mut u32, workers: &mut JoinSet<()>| {
        while *spawned < count {
            let worker = Worker::new(
                *spawned,
                shared.clone(),
                knobs_tx.subscribe(),
                stop_tx.subscribe(),
                metrics.clone(),
            );
            workers.spawn(shared.task_monitor.instrument(worker.run()));
            *spawned += 1;
        }
    };
    spawn_up_to(settings.knobs.workers, &mut spawned, &mut workers);
    let probe = tokio::spawn(probe::run(
        shared.session.clone(),
        settings.knobs.interval,
        metrics.clone(),
        stop_tx.subscribe(),
    ));
    let mut outbox = Outbox {
        sender: metrics.clone(),
        waiting: VecDeque::new(),
    };
    let mut paused = settings.knobs.paused;
    let mut retry = tokio::time::interval(Duration::from_millis(10));
    retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    let deadline = (!settings.knobs.duration.is_zero())
        .then(|| tokio::time::Instant::from(shared.started + settings.knobs.duration));
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                Some(Command::Changed { change, knobs, version, at }) => {
                    spawn_up_to(knobs.workers, &mut spawned, &mut workers);
                    if knobs.paused != paused {
                        paused = knobs.paused;
                        outbox.send(MetricsMessage::State(if paused {
                            RunState::Paused
                        } else {
                            RunState::Running
                        }));
                    }
                    outbox.send(MetricsMessage::Knobs { knobs, version, change: Some(*change), at });
                }
                Some(Command::ProfileDone { categories, text }) => {
                    outbox.send(MetricsMessage::Profile { categories, text, at: Instant::now() });
                }
                Some(Command::Note(text)) => outbox.event(text, EventKind::Info),
                Some(Command::Stop) | None => break,
            },
            _ = retry.tick(), if !outbox.waiting.is_empty() => outbox.flush(),
            _ = sleep_until_opt(deadline), if deadline.is_some() => break,
            joined = workers.join_next(), if !workers.is_empty() => {
                if let Some(Err(err)) = joined {
                    outbox.event(format!("a worker failed: {err}"), EventKind::Error);
                }
                // Workers end by themselves only once the ops budget is spent.
                if workers.is_empty() {
                    break;
                }
            }
        }
    }
    outbox.send(MetricsMessage::State(RunState::Draining));
    let _ = stop_tx.send(true);
    while workers.join_next().await.is_some() {}
    let _ = probe.await;
    // The end of the run must reach the aggregator: wait for room, a tick at a time.
    outbox.send(MetricsMessage::State(RunState::Finished));
    while !outbox.waiting.is_empty() {
        retry.tick().await;
        outbox.flush();
    }
}

async fn sleep_until_opt(at: Option<tokio::time::Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at).await;
    }
}
