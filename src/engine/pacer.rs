//! Pacing under a target rate, with each write's *intended* start time kept, so latency can be
//! measured from when the write should have started (coordinated omission corrected): a client
//! that falls behind its schedule shows the wait in its response times instead of hiding it.

use std::time::{Duration, Instant};

/// How long before a write is due the worker's timer fires, at most: about what a wake-up
/// itself takes here, so the write leaves close to its time rather than that much late.
pub const WAKE_LEAD: Duration = Duration::from_micros(20);

#[derive(Debug, Clone)]
pub struct Pacer {
    /// Writes per second for this worker; 0 = open (no pacing).
    rate: f64,
    period: Duration,
    next: Instant,
    /// How early a write may leave (`pacer_slack`): the writes due within it of a wake-up
    /// share that wake-up.
    slack: Duration,
}

impl Pacer {
    pub fn new(rate: f64, slack: Duration, now: Instant) -> Self {
        let mut pacer = Pacer {
            rate: 0.0,
            period: Duration::ZERO,
            next: now,
            slack,
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

    pub fn set_slack(&mut self, slack: Duration) {
        self.slack = slack;
    }

    /// Restarts the schedule at `now` (after a pause, which is the user's doing, not the system's).
    pub fn restart(&mut self, now: Instant) {
        self.next = now;
    }

    /// When the next write is due; `None` when open.
    pub fn due(&self) -> Option<Instant> {
        self.is_paced().then_some(self.next)
    }

    /// True when a write may start at `now`: due, or due within the slack.
    pub fn ready(&self, now: Instant) -> bool {
        !self.is_paced() || now + self.slack >= self.next
    }

    /// When the worker should wake for the next write: when it is due, less what the wake-up
    /// takes (within the slack).
    pub fn wake_at(&self) -> Option<Instant> {
        let lead = WAKE_LEAD.min(self.slack);
        self.due().map(|due| due.checked_sub(lead).unwrap_or(due))
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

    const SLACK: Duration = Duration::from_micros(20);

    #[test]
    fn open_pacer_is_always_ready() {
        let now = Instant::now();
        let mut pacer = Pacer::new(0.0, SLACK, now);
        assert!(pacer.ready(now) && pacer.due().is_none());
        assert_eq!(pacer.take(now), now);
    }

    #[test]
    fn paced_schedule_keeps_intended_times_when_behind() {
        let start = Instant::now();
        let mut pacer = Pacer::new(1000.0, SLACK, start);
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
    fn the_schedule_is_evenly_spaced_and_ready_just_before_each_slot() {
        let start = Instant::now();
        let mut pacer = Pacer::new(20_000.0, SLACK, start);
        let period = Duration::from_micros(50);
        let mut now = start;
        for n in 0..1_000u32 {
            let slot = start + period * n;
            assert!(!pacer.ready(slot - SLACK - Duration::from_micros(1)));
            assert!(pacer.ready(slot - SLACK));
            assert_eq!(pacer.wake_at(), Some(slot - SLACK));
            now = now.max(slot);
            assert_eq!(
                pacer.take(now),
                slot,
                "slot {n} keeps its place on the grid"
            );
        }
        // A thousand slots at 50 µs: the 1,000th is due 50 ms after the first, exactly.
        assert_eq!(pacer.due(), Some(start + Duration::from_millis(50)));
    }

    #[test]
    fn a_wide_slack_sends_what_is_due_within_it_together() {
        let start = Instant::now();
        let mut pacer = Pacer::new(5_000.0, Duration::from_millis(1), start);
        let mut burst = 0;
        while pacer.ready(start) {
            pacer.take(start);
            burst += 1;
        }
        // Due at 0, 200, 400, 600, 800 and 1,000 µs: six in one wake-up, then a wait until the
        // next is due (less the wake-up lead), not one wake-up per write.
        assert_eq!(burst, 6);
        assert_eq!(
            pacer.wake_at(),
            Some(start + Duration::from_micros(1_200) - WAKE_LEAD)
        );
        // No slack: each write on its own, woken exactly when due.
        let exact = Pacer::new(5_000.0, Duration::ZERO, start);
        assert_eq!(exact.wake_at(), Some(start));
    }

    #[test]
    fn changing_rate_or_restarting_starts_from_now() {
        let start = Instant::now();
        let mut pacer = Pacer::new(10.0, SLACK, start);
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
