//! One interactive session's moving parts — the engine, the profiler, the latency hop and the
//! [`App`] drawn from them — and the steps [`super::run`] takes with them each frame: take in the
//! latest state, turn keys and signals into [`Action`]s, carry them out, and finish.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use anyhow::Result;
use tokio::sync::watch;

use super::app::{Action, App, HopView, Severity};
use super::input::{Input, Inputs};
use super::screen::Screen;
use crate::config::Settings;
use crate::engine::{Changed, Engine};
use crate::hop::process::HopRoute;
use crate::local::{LocalCluster, NodeAction};
use crate::metrics::Snapshot;
use crate::profiler::{self, CaptureRequest, ProfileSummary, Profiler};
use crate::record::Recorder;
use crate::run::BenchResult;

pub(super) struct Session<'a> {
    settings: &'a Settings,
    recorder: Option<&'a Recorder>,
    hop: Option<&'a HopRoute>,
    engine: Engine,
    latest: watch::Receiver<Arc<Snapshot>>,
    profiler: Profiler,
    /// Where profiles go: the run directory while a recording is active.
    profile_base: PathBuf,
    pub app: App,
    /// A stop was asked for (`q`, Ctrl-C, a signal): the engine drains, the loop ends after.
    stopping: bool,
    /// A capture was running at the quit and is being cut short.
    profile_cut_at_quit: bool,
    cut_profile: Option<Result<ProfileSummary>>,
    /// Node actions take seconds (a stop drains, a start boots): each runs on a thread of its
    /// own and says here how it went.
    node_done: (Sender<NodeOutcome>, Receiver<NodeOutcome>),
}

/// What a node action said: its line, or why it failed.
type NodeOutcome = Result<String, String>;

impl<'a> Session<'a> {
    /// Connects and starts the load; before the terminal is taken over, so a connection error
    /// prints like any other.
    pub fn start(
        settings: &'a Settings,
        node_pid: Option<u32>,
        recorder: Option<&'a Recorder>,
        hop: Option<&'a HopRoute>,
    ) -> Result<Session<'a>> {
        let engine = Engine::start_recorded(settings, node_pid, recorder.map(Recorder::feed))?;
        let profile_base = recorder
            .map(|r| r.dir().to_path_buf())
            .unwrap_or_else(|| settings.output.dir.clone());
        let profiler = Profiler::spawn(settings.profiler.categories.clone())?;
        let latest = engine.latest();
        let mut app = App::new(
            engine.info.clone(),
            latest.borrow().clone(),
            settings.ui.window_secs,
        );
        app.hop = hop.map(|hop| HopView {
            port: hop.state.listen.port(),
            settings: hop.state.settings,
        });
        Ok(Session {
            settings,
            recorder,
            hop,
            engine,
            latest,
            profiler,
            profile_base,
            app,
            stopping: false,
            profile_cut_at_quit: false,
            cut_profile: None,
            node_done: std::sync::mpsc::channel(),
        })
    }

    /// What the control API needs to steer this session's run.
    pub fn steering(&self) -> crate::control::Attached {
        crate::control::Attached {
            engine: self.engine.handle(),
            profile: crate::control::ProfileSetup::of(self.settings, self.profile_base.clone()),
        }
    }

    /// The time between two frames.
    pub fn frame_period(&self) -> Duration {
        Duration::from_secs_f64(1.0 / f64::from(self.settings.ui.fps.max(1)))
    }

    /// Takes in the engine's latest snapshot and knobs, and the profiler's news.
    pub fn refresh(&mut self) {
        self.app.snapshot = self.latest.borrow().clone();
        self.app.knobs = self.engine.knobs();
        let capture = self.settings.profiler.duration.as_secs_f64();
        self.app.capture_left_s = self
            .profiler
            .running_since()
            .map(|since| (capture - since.elapsed().as_secs_f64()).max(0.0));
        if let Some(result) = self.profiler.poll() {
            self.profile_done(result);
        }
        while let Ok(done) = self.node_done.1.try_recv() {
            let (text, severity) = match done {
                Ok(text) => (text, Severity::Info),
                Err(text) => (text, Severity::Error),
            };
            self.engine.note(text.clone());
            self.app.message = Some((text, severity));
        }
    }

    /// Stops, kills or starts a node of the local cluster, off the UI thread; the event log
    /// has the asking and the outcome, so the charts show where the node went.
    fn act_on_node(&mut self, index: u8, action: NodeAction) {
        let cluster = LocalCluster::in_use(&self.settings.local);
        if let Err(why) = cluster.member(index) {
            self.app.message = Some((why, Severity::Error));
            return;
        }
        let asked = format!("node {index}: {} asked", action.name());
        self.engine.note(asked.clone());
        self.app.message = Some((asked, Severity::Info));
        let settings = self.settings.clone();
        let done = self.node_done.0.clone();
        let spawned = std::thread::Builder::new()
            .name("casstop-node".into())
            .spawn(move || {
                let outcome = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(anyhow::Error::from)
                    .and_then(|rt| rt.block_on(cluster.act(index, action, &settings)))
                    .map_err(|err| format!("node {index} {}: {err:#}", action.name()));
                let _ = done.send(outcome);
            });
        if let Err(err) = spawned {
            self.app.message = Some((format!("starting the node action: {err}"), Severity::Error));
        }
    }

    fn profile_done(&mut self, result: Result<ProfileSummary>) {
        self.app.capture_left_s = None;
        match result {
            Ok(summary) => {
                self.engine.note_profile(&summary);
                if self.profile_cut_at_quit {
                    self.cut_profile = Some(Ok(summary.clone()));
                }
                let text = format!("profile written: {}", summary.svg.display());
                self.app.message = Some((text, Severity::Info));
                self.app.last_profile = Some(summary);
            }
            Err(err) => {
                if self.profile_cut_at_quit {
                    self.cut_profile = Some(Err(anyhow::anyhow!("{err:#}")));
                }
                let text = format!("profile failed: {err:#}");
                self.app.message = Some((text, Severity::Error));
            }
        }
    }

    /// The stop asked for has happened: the engine has drained.
    pub fn finished(&self) -> bool {
        self.stopping && self.engine.is_finished()
    }

    /// Waits until `deadline` for a key or a signal that asks for something; `None` when the
    /// time is up, or the screen should be drawn again at once. A terminal that went away is let
    /// go of, and the session stops as for `q`.
    pub fn wait(
        &mut self,
        inputs: &mut Inputs,
        screen: &mut Screen,
        deadline: Instant,
    ) -> Option<Action> {
        next_action(&mut self.app, inputs, screen, deadline, self.stopping)
    }

    /// Carries out what a key or a signal asked for.
    pub fn apply(&mut self, action: Action) {
        match action {
            Action::Change(change) => {
                self.app.message = match self.engine.change(change) {
                    Ok(Changed::Applied) => None,
                    Ok(Changed::AlreadySo) => Some((
                        format!("{} is {} already", change.knob.name, change.value),
                        Severity::Info,
                    )),
                    Err(message) => Some((message, Severity::Error)),
                };
            }
            Action::SetRtt(None, rtt) => self.set_rtt(rtt),
            Action::SetRtt(Some(node), rtt) => self.set_node_rtt(node, rtt),
            Action::Profile => self.start_profile(),
            Action::Node(index, action) => self.act_on_node(index, action),
            // Refused by the command line outside `attach`.
            Action::Target(_) => {}
            Action::Quit => self.quit(),
            Action::QuitNow => self.quit_now(),
        }
    }

    /// Changes the hop's round trip: a local socket answered from memory, microseconds, fine on
    /// the UI thread.
    fn set_rtt(&mut self, rtt: Duration) {
        let Some(hop) = self.hop else {
            return;
        };
        match hop.set_rtt(rtt) {
            Ok(state) => {
                let text = format!(
                    "rtt {} through the latency hop",
                    crate::hop::format_rtt(state.settings.rtt)
                );
                self.engine.note(text.clone());
                self.app.message = Some((text, Severity::Info));
                self.app.hop = Some(HopView {
                    port: state.listen.port(),
                    settings: state.settings,
                });
            }
            Err(err) => self.app.message = Some((format!("{err:#}"), Severity::Error)),
        }
    }

    /// Changes node `index`'s own hop (`local up --rtt node3=5ms`): a local socket, as above.
    fn set_node_rtt(&mut self, index: u8, rtt: Duration) {
        match crate::hop::process::set_node_rtt(self.settings, index, rtt) {
            Ok(state) => {
                let text = format!(
                    "rtt {} through node {index}'s latency hop",
                    crate::hop::format_rtt(state.settings.rtt)
                );
                self.engine.note(text.clone());
                self.app.message = Some((text, Severity::Info));
            }
            Err(err) => self.app.message = Some((format!("{err:#}"), Severity::Error)),
        }
    }

    fn start_profile(&mut self) {
        let configured = &self.settings.profiler;
        // Enough samples for what the client uses: faster, then longer, for a thin client.
        let cpu = self.app.snapshot.interval.cpu.process_percent / 100.0;
        let (duration, frequency_hz) =
            profiler::plan(configured.duration, configured.frequency_hz, cpu);
        let request = CaptureRequest {
            duration,
            frequency_hz,
            dir: profiler::capture_dir(&self.profile_base),
        };
        self.app.message = Some(match self.profiler.start(request) {
            Ok(()) => (
                format!(
                    "capturing a CPU profile for {:.1} s at {frequency_hz} Hz (the client uses {:.0}% of a core; ~{:.0} samples)",
                    duration.as_secs_f64(),
                    cpu * 100.0,
                    cpu * duration.as_secs_f64() * f64::from(frequency_hz.min(profiler::TICK_HZ))
                ),
                Severity::Info,
            ),
            Err(err) => (err.to_string(), Severity::Error),
        });
    }

    /// Asks the engine to drain. A capture running at the quit is cut short rather than lost:
    /// its files are written from the samples so far and named once the terminal is back.
    fn quit(&mut self) {
        self.app.quitting = true;
        if self.profiler.running_since().is_some() {
            self.profiler.cut_short();
            self.profile_cut_at_quit = true;
        }
        if !self.stopping {
            self.stopping = true;
            self.engine.request_stop();
        }
    }

    /// Leaves at once, without waiting for writes in flight.
    fn quit_now(&self) -> ! {
        ratatui::restore();
        if let Some(hop) = self.hop {
            hop.stop_if_started();
        }
        eprintln!(
            "casstop: left at once; {} writes were still in flight and are not counted",
            self.app.snapshot.interval.in_flight
        );
        if let Some(recorder) = self.recorder {
            eprintln!(
                "casstop: the recording up to now is in {}",
                recorder.dir().display()
            );
        }
        std::process::exit(130);
    }

    /// Waits (at most 10 s) for a profile cut short at the quit: writing its files takes a
    /// moment, and the engine may have drained first.
    pub fn await_cut_profile(&mut self) {
        if self.profile_cut_at_quit && self.cut_profile.is_none() {
            self.cut_profile = self.profiler.wait(Duration::from_secs(10));
        }
    }

    /// After the terminal is given back: says what became of a profile cut short, waits for the
    /// engine, and returns the run's result for the summary.
    pub fn finish(self) -> Result<BenchResult> {
        report_cut_profile(self.profile_cut_at_quit, self.cut_profile);
        let info = self.engine.info.clone();
        let totals = self.engine.wait()?;
        let mut result = BenchResult::new(&totals, &info);
        if let Some(state) = self.hop.and_then(|h| h.state().ok()) {
            result.rtt_ms = Some(state.settings.rtt.as_secs_f64() * 1e3);
        }
        Ok(result)
    }
}

/// Waits until `deadline` for a key or a signal that asks for something; `None` when the time is
/// up, or the screen should be drawn again at once. A terminal that went away is let go of, and
/// the session stops as for `q`; a second interrupt while `stopping` leaves at once.
pub(super) fn next_action(
    app: &mut App,
    inputs: &mut Inputs,
    screen: &mut Screen,
    deadline: Instant,
    stopping: bool,
) -> Option<Action> {
    while let Some(input) = inputs.next(deadline) {
        match input {
            Input::Key(key) => {
                if let Some(action) = super::keys::on_key(app, key) {
                    return Some(action);
                }
            }
            Input::Resize => return None,
            Input::Interrupt if stopping => return Some(Action::QuitNow),
            Input::Interrupt | Input::Hangup => return Some(Action::Quit),
            Input::Closed(why) => {
                screen.lose(&why);
                return Some(Action::Quit);
            }
        }
    }
    None
}

fn report_cut_profile(cut_at_quit: bool, cut_profile: Option<Result<ProfileSummary>>) {
    match cut_profile {
        Some(Ok(summary)) => eprintln!(
            "casstop: the CPU profile was cut short at the quit ({:.1} s, {} samples): {}",
            summary.duration_s,
            summary.samples,
            summary.svg.display()
        ),
        Some(Err(err)) => {
            eprintln!("casstop: the CPU profile cut short at the quit failed: {err:#}")
        }
        None if cut_at_quit => {
            eprintln!("casstop: the CPU profile cut short at the quit was not written within 10 s")
        }
        None => {}
    }
}
