//! The interactive session: the engine runs on its own threads; this thread reads keys, turns them
//! into commands, and draws the latest snapshot at a fixed frame rate. It never holds anything the
//! engine waits on: the snapshot is an `Arc` cloned out of a `watch` before drawing.

pub mod app;
pub mod draw;
pub mod keys;

use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use crossterm::event::{self, Event};

use crate::UsageError;
use crate::bench::BenchResult;
use crate::config::Settings;
use crate::engine::Engine;
use crate::hop::process::HopRoute;
use crate::profiler::{self, CaptureRequest, Profiler};
use crate::record::Recorder;
use app::{Action, App, HopView, Severity};

/// Gives the terminal back however the session ends (return, `?`, panic unwinding).
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// The smallest terminal the session starts in (it keeps running, with a message, if the
/// terminal is made smaller later).
pub const MIN_COLUMNS: u16 = 60;
pub const MIN_ROWS: u16 = 16;

/// Refuses to start the interactive session without a terminal on stdin and stdout, or in one
/// too small to show anything useful.
pub fn check_terminal() -> Result<()> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(UsageError(
            "the interactive session needs a terminal on stdin and stdout; for scripts, pipes and CI use `casstop bench`"
                .into(),
        )
        .into());
    }
    let (columns, rows) = crossterm::terminal::size().context("reading the terminal size")?;
    if columns < MIN_COLUMNS || rows < MIN_ROWS {
        return Err(UsageError(format!(
            "the terminal is {columns}×{rows}; the interactive session needs at least {MIN_COLUMNS}×{MIN_ROWS} (enlarge it, or use `casstop bench`)"
        ))
        .into());
    }
    Ok(())
}

/// Runs the interactive session until the user quits; returns the run's result for the summary.
pub fn run(
    settings: &Settings,
    node_pid: Option<u32>,
    recorder: Option<&Recorder>,
    hop: Option<&HopRoute>,
) -> Result<BenchResult> {
    check_terminal()?;
    // Connect before taking over the screen, so a connection error prints like any other.
    let engine = Engine::start_recorded(settings, node_pid, recorder.map(Recorder::feed))?;
    // Profiles land in the run directory while a recording is active.
    let profile_base = recorder
        .map(|r| r.dir().to_path_buf())
        .unwrap_or_else(|| settings.output.dir.clone());
    let signals = crate::shutdown::requests()?;
    let mut profiler = Profiler::spawn(settings.profiler.categories.clone())?;
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
    let frame_period = Duration::from_secs_f64(1.0 / f64::from(settings.ui.fps.max(1)));

    let mut terminal = ratatui::try_init().context("setting up the terminal")?;
    let guard = TerminalGuard;
    let mut signals_seen = 0;
    let mut stop_requested = false;
    let mut profile_cut_at_quit = false;
    let mut cut_profile: Option<Result<profiler::ProfileSummary>> = None;
    loop {
        app.snapshot = latest.borrow().clone();
        app.knobs = engine.knobs();
        app.capture_left_s = profiler.running_since().map(|since| {
            (settings.profiler.duration.as_secs_f64() - since.elapsed().as_secs_f64()).max(0.0)
        });
        match profiler.poll() {
            Some(Ok(summary)) => {
                engine.note_profile(&summary);
                if profile_cut_at_quit {
                    cut_profile = Some(Ok(summary.clone()));
                }
                app.message = Some((
                    format!("profile written: {}", summary.svg.display()),
                    Severity::Info,
                ));
                app.capture_left_s = None;
                app.last_profile = Some(summary);
            }
            Some(Err(err)) => {
                if profile_cut_at_quit {
                    cut_profile = Some(Err(anyhow::anyhow!("{err:#}")));
                }
                app.message = Some((format!("profile failed: {err:#}"), Severity::Error));
                app.capture_left_s = None;
            }
            None => {}
        }
        let drawn = terminal.draw(|frame| draw::draw(frame, &app))?;
        app.screen = drawn.area.as_size();
        if stop_requested && engine.is_finished() {
            break;
        }
        let next_frame = Instant::now() + frame_period;
        let mut action = None;
        while action.is_none() {
            let now = Instant::now();
            if now >= next_frame {
                break;
            }
            let signalled = signals.load(Ordering::SeqCst);
            if signalled > signals_seen {
                signals_seen = signalled;
                action = Some(if stop_requested {
                    Action::QuitNow
                } else {
                    Action::Quit
                });
                break;
            }
            // Short polls keep signals noticed quickly; a key is read the moment it arrives.
            if event::poll((next_frame - now).min(Duration::from_millis(50)))? {
                match event::read()? {
                    Event::Key(key) => action = app.on_key(key),
                    Event::Resize(..) => break,
                    _ => {}
                }
            }
        }
        match action {
            Some(Action::Change(change)) => {
                if let Err(message) = engine.change(change) {
                    app.message = Some((message, Severity::Error));
                } else {
                    app.message = None;
                }
            }
            Some(Action::SetRtt(rtt)) => {
                // A local socket answered from memory: microseconds, fine on the UI thread.
                if let Some(hop) = hop {
                    match hop.set_rtt(rtt) {
                        Ok(state) => {
                            let text = format!(
                                "rtt {} through the latency hop",
                                crate::hop::format_rtt(state.settings.rtt)
                            );
                            engine.note(text.clone());
                            app.message = Some((text, Severity::Info));
                            app.hop = Some(HopView {
                                port: state.listen.port(),
                                settings: state.settings,
                            });
                        }
                        Err(err) => {
                            app.message = Some((format!("{err:#}"), Severity::Error));
                        }
                    }
                }
            }
            Some(Action::Profile) => {
                let request = CaptureRequest {
                    duration: settings.profiler.duration,
                    frequency_hz: settings.profiler.frequency_hz,
                    dir: profiler::capture_dir(&profile_base),
                };
                app.message = Some(match profiler.start(request) {
                    Ok(()) => (
                        format!(
                            "capturing a CPU profile for {} at {} Hz",
                            humantime::format_duration(settings.profiler.duration),
                            settings.profiler.frequency_hz
                        ),
                        Severity::Info,
                    ),
                    Err(err) => (err.to_string(), Severity::Error),
                });
            }
            Some(Action::Quit) => {
                app.quitting = true;
                // A capture running at the quit is cut short rather than lost: its files are
                // written from the samples so far and named once the terminal is back.
                if profiler.running_since().is_some() {
                    profiler.cut_short();
                    profile_cut_at_quit = true;
                }
                if !stop_requested {
                    stop_requested = true;
                    engine.request_stop();
                }
            }
            Some(Action::QuitNow) => {
                drop(guard);
                if let Some(hop) = hop {
                    hop.stop_if_started();
                }
                eprintln!(
                    "casstop: left at once; {} writes were still in flight and are not counted",
                    app.snapshot.interval.in_flight
                );
                if let Some(recorder) = recorder {
                    eprintln!(
                        "casstop: the recording up to now is in {}",
                        recorder.dir().display()
                    );
                }
                std::process::exit(130);
            }
            None => {}
        }
    }
    // Writing the files takes a moment; the engine may have drained first.
    if profile_cut_at_quit && cut_profile.is_none() {
        cut_profile = profiler.wait(Duration::from_secs(10));
    }
    drop(terminal);
    drop(guard);
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
        None if profile_cut_at_quit => {
            eprintln!("casstop: the CPU profile cut short at the quit was not written within 10 s")
        }
        None => {}
    }
    let info = engine.info.clone();
    let totals = engine.wait()?;
    let mut result = BenchResult::new(&totals, &info);
    if let Some(state) = hop.and_then(|h| h.state().ok()) {
        result.rtt_ms = Some(state.settings.rtt.as_secs_f64() * 1e3);
    }
    Ok(result)
}
