//! What reaches the session from outside: keys, resizes, stop signals, and the terminal going
//! away.
//!
//! Keys are read on their own thread, and only once `poll(2)` says the terminal has input and has
//! not hung up. crossterm's event poll must never meet a closed terminal: its read loop retries a
//! read that returns end-of-file or an error (EIO) forever, spinning a core without returning, so
//! nothing else in a loop around it — a signal, a quit — is ever looked at. Even if that happens
//! in the short window between the check and crossterm's read, it happens on the reader thread:
//! the session's own loop keeps noticing signals and the hang-up, and stops.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use crossterm::event::{self, Event, KeyEvent};

/// One thing that arrived.
#[derive(Debug)]
pub(super) enum Input {
    Key(KeyEvent),
    /// The terminal changed size: draw again now.
    Resize,
    /// SIGINT or SIGTERM: stop; a second one means leave now.
    Interrupt,
    /// SIGHUP: stop. Never "leave now": a closing terminal sends it along with the hang-up, and
    /// the session should still drain and finish its recording.
    Hangup,
    /// The terminal is gone (hung up, closed, unreadable): stop without it. Says why.
    Closed(String),
}

/// How long the reader thread waits in `poll(2)` before looking whether it should stop.
const READER_POLL: Duration = Duration::from_millis(100);
/// How long the session waits for a key before looking at signals and the terminal again.
const SLICE: Duration = Duration::from_millis(50);

pub(super) struct Inputs {
    keys: Receiver<Input>,
    /// The reader thread has ended (after saying why).
    reader_done: bool,
    stop_reader: Arc<AtomicBool>,
    interrupts_seen: usize,
    hangups_seen: usize,
    /// The terminal's loss has been reported.
    closed: bool,
}

impl Inputs {
    /// Installs the signal handlers and starts reading keys.
    pub fn start() -> Result<Inputs> {
        install_signal_handlers()?;
        let (sender, keys) = mpsc::channel();
        let stop_reader = Arc::new(AtomicBool::new(false));
        let stop = stop_reader.clone();
        std::thread::Builder::new()
            .name("casstop-keys".into())
            .spawn(move || read_keys(&sender, &stop))
            .context("starting the key reader")?;
        Ok(Inputs {
            keys,
            reader_done: false,
            stop_reader,
            interrupts_seen: SIGNALS.interrupts.load(Ordering::SeqCst),
            hangups_seen: SIGNALS.hangups.load(Ordering::SeqCst),
            closed: false,
        })
    }

    /// The next input before `deadline`; `None` once it has passed. A key is returned the moment
    /// it arrives, a signal or the hang-up within [`SLICE`].
    pub fn next(&mut self, deadline: Instant) -> Option<Input> {
        loop {
            if let Some(input) = self.noticed() {
                return Some(input);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            let slice = (deadline - now).min(SLICE);
            if self.reader_done {
                std::thread::sleep(slice);
                continue;
            }
            match self.keys.recv_timeout(slice) {
                Ok(Input::Closed(why)) if self.closed => tracing::debug!(why, "key reader ended"),
                Ok(input) => {
                    self.closed |= matches!(input, Input::Closed(_));
                    return Some(input);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => self.reader_done = true,
            }
        }
    }

    /// A signal that came, a resize, or a terminal that is gone, looked at without reading.
    fn noticed(&mut self) -> Option<Input> {
        let interrupts = SIGNALS.interrupts.load(Ordering::SeqCst);
        if interrupts > self.interrupts_seen {
            self.interrupts_seen = interrupts;
            return Some(Input::Interrupt);
        }
        if !self.closed && readiness(TERMINAL, Duration::ZERO) == Readiness::Closed {
            self.closed = true;
            return Some(Input::Closed("the terminal hung up".into()));
        }
        let hangups = SIGNALS.hangups.load(Ordering::SeqCst);
        if hangups > self.hangups_seen {
            self.hangups_seen = hangups;
            return Some(Input::Hangup);
        }
        SIGNALS
            .resized
            .swap(false, Ordering::SeqCst)
            .then_some(Input::Resize)
    }
}

impl Drop for Inputs {
    fn drop(&mut self) {
        // The reader notices within READER_POLL and ends; nobody waits for it.
        self.stop_reader.store(true, Ordering::SeqCst);
    }
}

/// The terminal crossterm reads: standard input (the session starts only when it is one).
const TERMINAL: RawFd = libc::STDIN_FILENO;

/// The reader thread: keys and resizes to the session until the terminal is gone, the session
/// hangs up the channel, or `stop` is set.
fn read_keys(keys: &Sender<Input>, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        let why = match readiness(TERMINAL, READER_POLL) {
            Readiness::Idle => continue,
            Readiness::Closed => "the terminal hung up".to_string(),
            Readiness::Readable => match read_available() {
                Ok(inputs) => {
                    if inputs.into_iter().any(|input| keys.send(input).is_err()) {
                        return; // the session is over
                    }
                    continue;
                }
                Err(err) => format!("reading the terminal: {err}"),
            },
        };
        let _ = keys.send(Input::Closed(why));
        return;
    }
}

/// Every event crossterm can give without waiting: one read may hold several keys (a paste,
/// tmux's `send-keys + +`), and crossterm keeps what it parsed beyond the first.
fn read_available() -> std::io::Result<Vec<Input>> {
    let mut inputs = Vec::new();
    loop {
        match event::read()? {
            Event::Key(key) => inputs.push(Input::Key(key)),
            Event::Resize(..) => inputs.push(Input::Resize),
            _ => {}
        }
        if !event::poll(Duration::ZERO)? {
            return Ok(inputs);
        }
    }
}

#[derive(Debug, PartialEq)]
enum Readiness {
    /// Nothing to read within the time asked for.
    Idle,
    Readable,
    /// Hung up, closed, or in error: nothing more will ever come.
    Closed,
}

/// What `poll(2)` says about `fd` within `timeout`, without reading anything.
fn readiness(fd: RawFd, timeout: Duration) -> Readiness {
    let mut poll = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let timeout_ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd, alive for the duration of the call.
    let ready = unsafe { libc::poll(&mut poll, 1, timeout_ms) };
    if ready < 0 {
        let err = std::io::Error::last_os_error();
        return if err.kind() == std::io::ErrorKind::Interrupted {
            Readiness::Idle
        } else {
            Readiness::Closed
        };
    }
    if poll.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
        Readiness::Closed
    } else if poll.revents & libc::POLLIN != 0 {
        Readiness::Readable
    } else {
        Readiness::Idle
    }
}

/// Counted by the signal handlers, read by the session. Interrupts and hang-ups are counted
/// apart: only a second interrupt means "leave now". (The process-wide `shutdown::requests`
/// counts them together, which cannot tell a hang-up from a second Ctrl-C.)
struct Signals {
    interrupts: AtomicUsize,
    hangups: AtomicUsize,
    resized: AtomicBool,
}

static SIGNALS: Signals = Signals {
    interrupts: AtomicUsize::new(0),
    hangups: AtomicUsize::new(0),
    resized: AtomicBool::new(false),
};

fn install_signal_handlers() -> Result<()> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    let installed = INSTALLED.get_or_init(|| {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGWINCH};
        // SAFETY: each handler only touches an atomic, which is async-signal-safe.
        let register = |signal, action: fn()| unsafe {
            signal_hook::low_level::register(signal, action).map(drop)
        };
        register(SIGINT, || count(&SIGNALS.interrupts))
            .and_then(|()| register(SIGTERM, || count(&SIGNALS.interrupts)))
            .and_then(|()| register(SIGHUP, || count(&SIGNALS.hangups)))
            .and_then(|()| register(SIGWINCH, || SIGNALS.resized.store(true, Ordering::SeqCst)))
            .map_err(|err| err.to_string())
    });
    installed
        .clone()
        .map_err(|err| anyhow::anyhow!("installing signal handlers: {err}"))
}

/// What a Ctrl-C does, asked for from elsewhere (the control API's `POST /stop`): the session
/// sees an interrupt at its next look.
pub fn interrupt() {
    count(&SIGNALS.interrupts);
}

fn count(counter: &AtomicUsize) {
    counter.fetch_add(1, Ordering::SeqCst);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_tells_input_from_a_hang_up() {
        let mut fds = [0; 2];
        // SAFETY: a pipe into two fresh descriptors, closed below.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let [read, write] = fds;
        assert_eq!(readiness(read, Duration::ZERO), Readiness::Idle);
        // SAFETY: one byte from a live buffer into the pipe's write end.
        assert_eq!(unsafe { libc::write(write, b"q".as_ptr().cast(), 1) }, 1);
        assert_eq!(readiness(read, Duration::ZERO), Readiness::Readable);
        // SAFETY: closing the write end this test opened; the read end then hangs up.
        unsafe { libc::close(write) };
        assert_eq!(readiness(read, Duration::ZERO), Readiness::Closed);
        // SAFETY: closing the read end this test opened.
        unsafe { libc::close(read) };
    }
}
