//! The interactive session: the engine runs on its own threads; this thread turns keys (read on a
//! thread of their own) and signals into commands, and draws the latest snapshot at a fixed frame
//! rate. It never holds anything the engine waits on: the snapshot is an `Arc` cloned out of a
//! `watch` before drawing. A terminal that goes away ends the session as `q` does.

pub mod app;
pub mod attach;
pub mod draw;
mod input;
pub mod keys;
mod screen;
mod session;

use std::io::IsTerminal;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::config::Settings;
use crate::control::Control;
use crate::error::UsageError;
use crate::hop::process::HopRoute;
use crate::record::Recorder;
use crate::run::BenchResult;
use app::Action;
use input::Inputs;
pub use input::interrupt;
use screen::Screen;
use session::Session;

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
    control: Option<&Control>,
) -> Result<BenchResult> {
    check_terminal()?;
    let mut inputs = Inputs::start()?;
    let mut session = Session::start(settings, node_pid, recorder, hop)?;
    let _steered = control.map(|control| control.attach(session.steering()));
    let mut screen = Screen::take()?;
    loop {
        session.refresh();
        if screen.draw(&mut session.app).is_err() {
            session.apply(Action::Quit);
        }
        if session.finished() {
            break;
        }
        let deadline = Instant::now() + session.frame_period();
        if let Some(action) = session.wait(&mut inputs, &mut screen, deadline) {
            session.apply(action);
        }
    }
    session.await_cut_profile();
    drop(inputs);
    drop(screen);
    session.finish()
}
