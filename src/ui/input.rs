//! What reaches the session from outside: keys, resizes and stop signals.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use crossterm::event::{self, Event, KeyEvent};

/// One thing that arrived.
pub(super) enum Input {
    Key(KeyEvent),
    /// The terminal changed size: draw again now.
    Resize,
    /// SIGINT, SIGTERM or SIGHUP: stop (a second time: leave now).
    Stop,
}

pub(super) struct Inputs {
    signals: Arc<AtomicUsize>,
    signals_seen: usize,
}

impl Inputs {
    pub fn start() -> Result<Inputs> {
        Ok(Inputs {
            signals: crate::shutdown::requests()?,
            signals_seen: 0,
        })
    }

    /// The next input before `deadline`; `None` once it has passed.
    pub fn next(&mut self, deadline: Instant) -> Result<Option<Input>> {
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let signalled = self.signals.load(Ordering::SeqCst);
            if signalled > self.signals_seen {
                self.signals_seen = signalled;
                return Ok(Some(Input::Stop));
            }
            // Short polls keep signals noticed quickly; a key is read the moment it arrives.
            if event::poll((deadline - now).min(Duration::from_millis(50)))? {
                match event::read()? {
                    Event::Key(key) => return Ok(Some(Input::Key(key))),
                    Event::Resize(..) => return Ok(Some(Input::Resize)),
                    _ => {}
                }
            }
        }
    }
}
