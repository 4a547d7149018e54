//! How casstop is asked to stop, for every long-running command alike (session, bench, sweep):
//! SIGINT (Ctrl-C), SIGTERM and SIGHUP are counted, never acted on inside the handler. The first
//! asks for a clean stop (writes in flight drain, the recording and summary are written); a
//! second one means "leave now" (exit 130).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use anyhow::{Context, Result};

/// Exit code of a run left at once on a second signal (128 + SIGINT, as shells report it).
pub const LEFT_AT_ONCE: i32 = 130;

/// The number of stop signals received so far; installs the handlers on first use.
pub fn requests() -> Result<Arc<AtomicUsize>> {
    static COUNT: OnceLock<Arc<AtomicUsize>> = OnceLock::new();
    if let Some(count) = COUNT.get() {
        return Ok(count.clone());
    }
    let count = Arc::new(AtomicUsize::new(0));
    for signal in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ] {
        let count = count.clone();
        // SAFETY: the handler only touches an atomic, which is async-signal-safe.
        unsafe {
            signal_hook::low_level::register(signal, move || {
                count.fetch_add(1, Ordering::SeqCst);
            })
        }
        .context("installing signal handlers")?;
    }
    Ok(COUNT.get_or_init(|| count).clone())
}

/// What the signals since the last look ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopRequest {
    None,
    /// The first signal: stop issuing, drain, write everything.
    Drain,
    /// A second signal (or two at once): leave now.
    LeaveNow,
}

/// One run's view of the stop signals.
#[derive(Debug)]
pub struct RunControl {
    count: Arc<AtomicUsize>,
    seen: usize,
}

impl RunControl {
    /// Installs the handlers (once per process) and starts counting from now.
    pub fn install() -> Result<RunControl> {
        let count = requests()?;
        let seen = count.load(Ordering::SeqCst);
        Ok(RunControl { count, seen })
    }

    /// What the signals that arrived since the last call ask for.
    pub fn poll(&mut self) -> StopRequest {
        let now = self.count.load(Ordering::SeqCst);
        if now == self.seen {
            return StopRequest::None;
        }
        let first = self.seen == 0;
        let several = now > self.seen + 1;
        self.seen = now;
        if first && !several {
            StopRequest::Drain
        } else {
            StopRequest::LeaveNow
        }
    }

    /// Whether a stop was asked for at any time (a matrix or sweep then ends after its step).
    pub fn stop_requested(&self) -> bool {
        self.count.load(Ordering::SeqCst) > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_signal_drains_and_the_second_leaves() {
        let count = Arc::new(AtomicUsize::new(0));
        let mut control = RunControl {
            count: count.clone(),
            seen: 0,
        };
        assert_eq!(control.poll(), StopRequest::None);
        count.fetch_add(1, Ordering::SeqCst);
        assert_eq!(control.poll(), StopRequest::Drain);
        assert_eq!(control.poll(), StopRequest::None);
        assert!(control.stop_requested());
        count.fetch_add(1, Ordering::SeqCst);
        assert_eq!(control.poll(), StopRequest::LeaveNow);
        let mut burst = RunControl {
            count: Arc::new(AtomicUsize::new(2)),
            seen: 0,
        };
        assert_eq!(burst.poll(), StopRequest::LeaveNow, "two signals at once");
    }
}
