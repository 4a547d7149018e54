//! Pacing under a target rate, with each write's *intended* start time kept, so latency can be
//! measured from when the write should have started (coordinated omission corrected): a client
//! that falls behind its schedule shows the wait in its response times instead of hiding it.

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Pacer {
    /// Writes per second for this worker; 0 = open (no pacing).
    rate: f64,
    period: Duration,
    next: Instant,
}

impl Pacer {
    pub fn new(rate: f64, now: Instant) -> Self {
        let mut pacer = Pacer {
            rate: 0.0,
            period: Duration::ZERO,
            next: now,
        };
        pacer.set_rate(rate, now);
        pacer
    }

    pub fn is_paced(&self) -> bool {
        self.rate > 0.0
    }

    /// A new rate starts a new schedule from `now`.
    pub fn set_rate(&mut self, rate: f64, now: Instant) {
        self.rate = if rate.is_finite() && rate > 0.0 {
            rate
        } else {
            0.0
        };
        self.period = if self.rate > 0.0 {
            Duration::from_secs_f64(1.0 / self.rate)
        } else {
            Duration::ZERO
        };
        self.next = now;
    }

    /// Restarts the schedule at `now` (after a pause, which is the user's doing, not the system's).
    pub fn restart(&mut self, now: Instant) {
        self.next = now;
    }

    /// When the next write is due; `None` when open.
    pub fn due(&self) -> Option<Instant> {
        self.is_paced().then_some(self.next)
    }

    /// True when a write may start at `now`.
    pub fn ready(&self, now: Instant) -> bool {
        !self.is_paced() || now >= self.next
    }

    /// Takes the next slot of the schedule and returns the write's intended start: its scheduled
    /// time when paced (possibly in the past, when behind), else `now`.
    pub fn take(&mut self, now: Instant) -> Instant {
        if !self.is_paced() {
            return now;
        }
        let intended = self.next;
        self.next += self.period;
        intended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_pacer_is_always_ready() {
        let now = Instant::now();
        let mut pacer = Pacer::new(0.0, now);
        assert!(pacer.ready(now) && pacer.due().is_none());
        assert_eq!(pacer.take(now), now);
    }

    #[test]
    fn paced_schedule_keeps_intended_times_when_behind() {
        let start = Instant::now();
        let mut pacer = Pacer::new(1000.0, start);
        assert_eq!(pacer.take(start), start);
        assert!(!pacer.ready(start));
        assert_eq!(pacer.due(), Some(start + Duration::from_millis(1)));
        // 5 ms late: the next writes keep their schedule, so their latency includes the delay.
        let late = start + Duration::from_millis(5);
        assert!(pacer.ready(late));
        assert_eq!(pacer.take(late), start + Duration::from_millis(1));
        assert_eq!(pacer.take(late), start + Duration::from_millis(2));
    }

    #[test]
    fn changing_rate_or_restarting_starts_from_now() {
        let start = Instant::now();
        let mut pacer = Pacer::new(10.0, start);
        pacer.take(start);
        let later = start + Duration::from_secs(3);
        pacer.set_rate(100.0, later);
        assert_eq!(pacer.take(later), later);
        assert_eq!(pacer.due(), Some(later + Duration::from_millis(10)));
        pacer.restart(later + Duration::from_secs(1));
        assert_eq!(pacer.due(), Some(later + Duration::from_secs(1)));
        pacer.set_rate(f64::NAN, later);
        assert!(!pacer.is_paced());
    }
}
