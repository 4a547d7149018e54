//! A run without a screen (`bench`, `sweep`): a live progress line on stderr, signals passed to
//! the engine, an optional CPU profile, and the result at the end.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio::sync::broadcast::error::RecvError;

use crate::config::Settings;
use crate::control::{Attached, Control, ProfileSetup};
use crate::engine::Engine;
use crate::metrics::{RunState, Snapshot};
use crate::profiler::ProfileSummary;
use crate::record::RecordFeed;
use crate::units::{Micros, PerSecond};

use super::control::{RunControl, StopRequest};
use super::summary::BenchResult;

/// Runs the engine until its `ops` or `duration` limit, printing progress to stderr. With
/// `profile`, captures a CPU profile of that length after a short warm-up.
pub fn run_one(
    settings: &Settings,
    node_pid: Option<u32>,
    quiet: bool,
    profile: Option<Duration>,
) -> Result<BenchResult> {
    run_one_recorded(settings, node_pid, quiet, profile, None, None)
}

/// [`run_one`], recorded: intervals and events go to `record`, the profile into its directory;
/// steered from outside too when a control API listens.
pub fn run_one_recorded(
    settings: &Settings,
    node_pid: Option<u32>,
    quiet: bool,
    profile: Option<Duration>,
    record: Option<RecordFeed>,
    control: Option<&Control>,
) -> Result<BenchResult> {
    let profile_base = record
        .as_ref()
        .map(|feed| feed.dir().to_path_buf())
        .unwrap_or_else(|| settings.output.dir.clone());
    // Kept to notice a recording that fails (a full disk): the run then stops as if asked to,
    // so the summary and the recording describe the same run.
    let watch_record = record.clone();
    let mut record_failed = false;
    let engine = Engine::start_recorded(settings, node_pid, record)?;
    let _steered = control.map(|control| {
        control.attach(Attached {
            engine: engine.handle(),
            profile: ProfileSetup::of(settings, profile_base.clone()),
        })
    });
    let info = engine.info.clone();
    let mut snapshots = engine.subscribe();
    let mut control = RunControl::install()?;
    let live = !quiet && std::io::stderr().is_terminal();
    let plain = !quiet && !live;
    let summary = std::thread::scope(|scope| -> Result<Option<ProfileSummary>> {
        let capture = profile.map(|length| {
            let engine = &engine;
            let profile_base = &profile_base;
            scope.spawn(move || -> Result<ProfileSummary> {
                std::thread::sleep(Duration::from_secs(1));
                let dir = crate::profiler::capture_dir(profile_base);
                // The length is the user's (the run has its own); a thin client is sampled at
                // up to the kernel's tick instead.
                let cpu = engine.latest().borrow().interval.cpu.process_percent / 100.0;
                let (_, frequency_hz) =
                    crate::profiler::plan(length, settings.profiler.frequency_hz, cpu);
                let summary = crate::profiler::capture(
                    length,
                    frequency_hz,
                    &dir,
                    &settings.profiler.categories,
                    None,
                )?;
                engine.note_profile(&summary);
                Ok(summary)
            })
        });
        // The engine ends the run itself; this thread reads snapshots and passes on signals.
        loop {
            if !record_failed
                && let Some(why) = watch_record.as_ref().and_then(|feed| feed.failure())
            {
                record_failed = true;
                eprintln!(
                    "\nrecording failed ({why}); stopping the run, the recording so far is kept"
                );
                engine.request_stop();
            }
            match control.poll() {
                StopRequest::None => {}
                StopRequest::Drain => {
                    eprintln!(
                        "\nstopping: writes in flight drain (at most {}); signal again to leave at once",
                        humantime::format_duration(crate::engine::worker::MAX_DRAIN)
                    );
                    engine.request_stop();
                }
                StopRequest::LeaveNow => {
                    let in_flight = engine.latest().borrow().interval.in_flight;
                    eprintln!(
                        "\ncasstop: left at once; {in_flight} writes were still in flight and are not counted"
                    );
                    std::process::exit(super::control::LEFT_AT_ONCE);
                }
            }
            match snapshots.blocking_recv() {
                Ok(snapshot) if snapshot.state == RunState::Finished => break,
                Ok(snapshot) => {
                    if live {
                        eprint!("\r\x1b[2K{}", progress_line(&snapshot));
                        let _ = std::io::stderr().flush();
                    } else if plain {
                        eprintln!("{}", progress_line(&snapshot));
                    }
                }
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => break,
            }
        }
        if live {
            eprint!("\r\x1b[2K");
        }
        capture
            .map(|handle| {
                handle
                    .join()
                    .map_err(|_| anyhow::anyhow!("the profiler thread panicked"))?
            })
            .transpose()
    })?;
    let totals = engine.wait()?;
    Ok(BenchResult::with_profile(&totals, &info, summary))
}

/// The one-line live view of a snapshot.
pub fn progress_line(s: &Arc<Snapshot>) -> String {
    let i = &s.interval;
    format!(
        "{:>6.1}s  {:<9} {:>10}  ok {:>9}  err {:>5}  in flight {:>6}  p50 {:>9}  p99 {:>9}  cpu {:>4.0}%",
        s.elapsed.as_secs_f64(),
        s.knobs.strategy,
        PerSecond(i.throughput).to_string(),
        s.totals.ok,
        s.totals.errors.total(),
        i.in_flight,
        Micros(i.service.p50 as f64).to_string(),
        Micros(i.service.p99 as f64).to_string(),
        i.cpu.process_percent
    )
}
