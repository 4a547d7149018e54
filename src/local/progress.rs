//! How a long step (download, boot) tells the user where it is.

use std::io::Write;
use std::time::{Duration, Instant};

/// Where progress of a long step (download, boot) is reported; stderr for the CLI.
pub trait Progress {
    /// A transient status line, replaced by the next one.
    fn update(&mut self, line: &str);
    /// A line that stays.
    fn finish(&mut self, line: &str);
    /// Removes the transient status line, so what is printed next starts on a clean line.
    fn clear(&mut self) {}
}

/// Progress on stderr: a status line rewritten in place when stderr is a terminal.
pub struct StderrProgress {
    is_terminal: bool,
    last_plain: Instant,
}

impl StderrProgress {
    pub fn new() -> Self {
        use std::io::IsTerminal;
        StderrProgress {
            is_terminal: std::io::stderr().is_terminal(),
            last_plain: Instant::now(),
        }
    }
}

impl Default for StderrProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress for StderrProgress {
    fn update(&mut self, line: &str) {
        let mut err = std::io::stderr();
        if self.is_terminal {
            let _ = write!(err, "\r\x1b[2K{line}");
            let _ = err.flush();
        } else if self.last_plain.elapsed() >= Duration::from_secs(5) {
            // Logs get a line every few seconds, not a flood of rewrites.
            self.last_plain = Instant::now();
            let _ = writeln!(err, "{line}");
        }
    }

    fn finish(&mut self, line: &str) {
        self.clear();
        let _ = writeln!(std::io::stderr(), "{line}");
    }

    fn clear(&mut self) {
        if self.is_terminal {
            let mut err = std::io::stderr();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}
