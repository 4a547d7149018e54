//! A timer precise to microseconds for the pacer. tokio's timer wheel has millisecond ticks, so a
//! write due in 200 µs waited up to a millisecond and writes left in 1 ms bursts: at 1,000/s the
//! median write left 0.66 ms late, and that lateness was reported as the system's response time.
//!
//! A `timerfd` fires on the kernel's high-resolution clock and wakes the runtime's reactor like any
//! socket, so waiting on it costs no thread and no spinning: one `timerfd_settime` when the due
//! time changes, and the reactor's wake-up when it fires (the count is never read).

use std::io;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use rustix::time::{
    Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, timerfd_create,
    timerfd_settime,
};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

pub struct PreciseTimer {
    fd: AsyncFd<OwnedFd>,
    /// The instant the timer is armed for, until its expiry has been read.
    armed: Option<Instant>,
}

impl PreciseTimer {
    /// Must be called inside the runtime that will poll it.
    pub fn new() -> io::Result<Self> {
        let fd = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )?;
        // SAFETY: the `AsyncFd` owns the descriptor, so it stays open exactly as long as it is
        // registered with the reactor.
        let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }?;
        Ok(PreciseTimer { fd, armed: None })
    }

    /// Waits until `at`. Cancel-safe: dropped and called again with the same `at`, it does not
    /// re-arm; with another `at`, arming resets the expiry count, so an old expiry cannot end
    /// the new wait.
    pub async fn wait_until(&mut self, at: Instant) -> io::Result<()> {
        if self.armed != Some(at) {
            let left = at.saturating_duration_since(Instant::now());
            if left.is_zero() {
                // Due already: still a step of the task's budget, so a caller that keeps
                // finding it due cannot hold the runtime (and the driver's I/O) forever.
                tokio::task::consume_budget().await;
                return Ok(());
            }
            let spec = Itimerspec {
                it_interval: timespec(Duration::ZERO),
                it_value: timespec(left),
            };
            timerfd_settime(self.fd.get_ref(), TimerfdTimerFlags::empty(), &spec)?;
            self.armed = Some(at);
        }
        loop {
            let mut guard = self.fd.readable().await?;
            // The reactor is edge-triggered, and every expiry is an edge of its own whether or
            // not its count was read, so the count is never read: a syscall less per wake-up.
            // Readiness left by an earlier arming (a wait dropped after its timer fired) ends
            // nothing before `at`. Clearing is safe against a race: tokio clears only the event
            // this guard saw, never a newer one.
            guard.clear_ready();
            if Instant::now() >= at {
                self.armed = None;
                return Ok(());
            }
        }
    }
}

fn timespec(d: Duration) -> Timespec {
    Timespec {
        tv_sec: d.as_secs() as _,
        tv_nsec: d.subsec_nanos() as _,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn waits_until_the_instant_and_not_before() {
        runtime().block_on(async {
            let mut timer = PreciseTimer::new().unwrap();
            for wait_us in [150, 700, 2_300] {
                let at = Instant::now() + Duration::from_micros(wait_us);
                timer.wait_until(at).await.unwrap();
                assert!(Instant::now() >= at, "woke before {wait_us} µs");
            }
            // Due already: no wait at all.
            timer.wait_until(Instant::now()).await.unwrap();
        });
    }

    #[test]
    fn a_dropped_wait_then_a_new_instant_waits_for_the_new_one() {
        runtime().block_on(async {
            let mut timer = PreciseTimer::new().unwrap();
            let soon = Instant::now() + Duration::from_millis(50);
            // Armed for `soon`, dropped before it fires, and left to expire unread.
            let dropped = futures::FutureExt::now_or_never(timer.wait_until(soon));
            assert!(dropped.is_none());
            std::thread::sleep(Duration::from_millis(60));
            let later = Instant::now() + Duration::from_millis(3);
            timer.wait_until(later).await.unwrap();
            assert!(Instant::now() >= later, "the old expiry ended the new wait");
        });
    }
}
