//! The terminal while the session draws on it: given back however the session ends (return, `?`,
//! panic unwinding), and let go of when it goes away under the session.

use std::io::IsTerminal;
use std::os::fd::AsRawFd;

use anyhow::{Context, Result};
use ratatui::DefaultTerminal;

use super::app::App;
use super::draw;

pub(super) struct Screen {
    /// `None` once the terminal is gone.
    terminal: Option<DefaultTerminal>,
    /// Whether stdout and stderr were the terminal when the session took it over.
    on_terminal: [bool; 2],
}

impl Screen {
    /// Takes over the terminal: raw mode, the alternate screen, and ratatui's panic hook that
    /// restores both.
    pub fn take() -> Result<Screen> {
        let on_terminal = [
            std::io::stdout().is_terminal(),
            std::io::stderr().is_terminal(),
        ];
        let terminal = ratatui::try_init().context("setting up the terminal")?;
        Ok(Screen {
            terminal: Some(terminal),
            on_terminal,
        })
    }

    /// Draws `app`, and keeps the size drawn at in it. Once the terminal is gone, draws nothing;
    /// the draw that finds it gone says why.
    pub fn draw(&mut self, app: &mut App) -> Result<(), String> {
        let Some(terminal) = &mut self.terminal else {
            return Ok(());
        };
        match terminal.draw(|frame| draw::draw(frame, app)) {
            Ok(drawn) => {
                app.help_view = draw::help::view(drawn.area.as_size());
                Ok(())
            }
            Err(err) => {
                let why = format!("drawing failed: {err}");
                self.lose(&why);
                Err(why)
            }
        }
    }

    /// The terminal is gone: nothing is drawn any more, and what stdout and stderr would have
    /// carried to it goes to /dev/null. A write to a hung-up terminal fails with EIO, and
    /// `println!` panics on that, which would cut short the summary still to be written and
    /// printed after the session. Restoring is still tried, quietly, in case the terminal is
    /// there after all. Stdin is left alone: the key reader sees it hang up and ends.
    pub fn lose(&mut self, why: &str) {
        let Some(mut terminal) = self.terminal.take() else {
            return;
        };
        tracing::warn!(why, "the terminal is gone; stopping as if q was pressed");
        let _ = terminal.show_cursor();
        let _ = ratatui::try_restore();
        self.detach_streams();
        drop(terminal);
    }

    fn detach_streams(&self) {
        let null = match std::fs::OpenOptions::new().write(true).open("/dev/null") {
            Ok(null) => null,
            Err(err) => {
                tracing::warn!(%err, "opening /dev/null");
                return;
            }
        };
        let streams = [libc::STDOUT_FILENO, libc::STDERR_FILENO];
        for (fd, on_terminal) in streams.into_iter().zip(self.on_terminal) {
            if on_terminal {
                // SAFETY: dup2 onto a standard descriptor from a file open for the duration of
                // the call; Rust's stdout and stderr go on writing to the same descriptor.
                unsafe { libc::dup2(null.as_raw_fd(), fd) };
            }
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        if let Some(terminal) = self.terminal.take() {
            drop(terminal);
            ratatui::restore();
        }
    }
}
