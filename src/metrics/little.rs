//! Little's law across a change of the writes allowed in flight: throughput X = L / W. When the
//! client lets more writes be in flight (L grows) and X stays flat, W — the latency — grew by
//! the same factor: the servers serve a fixed rate and the extra writes only queue. That says
//! "server-bound" for any cluster, without the servers' CPU.

use super::evidence::Saturation;

/// In flight must grow at least this much from one setting to the next to judge the change.
pub const MORE_IN_FLIGHT: f64 = 1.5;
/// Throughput that grew by less than this factor is flat.
pub const FLAT_GAIN: f64 = 1.10;
/// Intervals a setting must run (after the first, which mixes both) before it counts.
const SETTLED_INTERVALS: u32 = 2;

/// Mean in flight and throughput over one setting's intervals.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Sum {
    in_flight: f64,
    throughput: f64,
    intervals: u32,
}

impl Sum {
    fn level(&self) -> Option<(f64, f64)> {
        (self.intervals >= SETTLED_INTERVALS).then(|| {
            let n = f64::from(self.intervals);
            (self.in_flight / n, self.throughput / n)
        })
    }
}

/// Follows the run's settings of the in-flight limit, interval by interval.
#[derive(Debug, Default)]
pub struct LittleTrack {
    limit: Option<u32>,
    /// The setting before the current one, once it had settled.
    before: Option<(f64, f64)>,
    current: Sum,
    /// The current setting's first interval is skipped: it ran partly under the one before.
    skipped_first: bool,
}

impl LittleTrack {
    /// Takes an interval run with `limit` writes allowed in flight; `judged` is false for one
    /// that says nothing (paced, paused, failing). Returns the finding when the current setting
    /// let ≥ [`MORE_IN_FLIGHT`]× the writes be in flight for < [`FLAT_GAIN`]× the throughput.
    pub fn observe(
        &mut self,
        limit: u32,
        in_flight_mean: f64,
        throughput: f64,
        judged: bool,
    ) -> Option<Saturation> {
        if self.limit != Some(limit) {
            self.before = self.current.level().or(self.before);
            self.current = Sum::default();
            self.skipped_first = false;
            self.limit = Some(limit);
        }
        if !judged {
            // A paced or failing stretch is no level to compare with.
            self.current = Sum::default();
            self.before = None;
            return None;
        }
        if !self.skipped_first {
            self.skipped_first = true;
            return None;
        }
        self.current.in_flight += in_flight_mean;
        self.current.throughput += throughput;
        self.current.intervals += 1;
        let (before_l, before_x) = self.before?;
        let (now_l, now_x) = self.current.level()?;
        let flat = before_x > 0.0 && now_x < FLAT_GAIN * before_x;
        (now_l >= MORE_IN_FLIGHT * before_l && flat).then_some(Saturation {
            in_flight_before: before_l,
            in_flight_now: now_l,
            throughput_before: before_x,
            throughput_now: now_x,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_in_flight_for_flat_throughput_is_found_once_the_new_setting_settles() {
        let mut track = LittleTrack::default();
        // Depth 64: 60 in flight, 10k/s.
        for _ in 0..4 {
            assert_eq!(track.observe(64, 60.0, 10_000.0, true), None);
        }
        // Depth 256: the first interval mixes both, the second is one alone: not yet.
        assert_eq!(track.observe(256, 150.0, 10_300.0, true), None);
        assert_eq!(track.observe(256, 250.0, 10_400.0, true), None);
        let found = track
            .observe(256, 250.0, 10_400.0, true)
            .expect("saturation");
        assert_eq!(found.in_flight_before, 60.0);
        assert_eq!(found.in_flight_now, 250.0);
        assert_eq!(found.throughput_now, 10_400.0);
        // Throughput that grows with the depth is no saturation.
        let mut growing = LittleTrack::default();
        for _ in 0..3 {
            growing.observe(64, 60.0, 10_000.0, true);
        }
        for _ in 0..4 {
            assert_eq!(growing.observe(256, 250.0, 30_000.0, true), None);
        }
        // A paced stretch in between forgets the level before it.
        let mut paced = LittleTrack::default();
        for _ in 0..3 {
            paced.observe(64, 60.0, 10_000.0, true);
        }
        paced.observe(64, 60.0, 5_000.0, false);
        for _ in 0..4 {
            assert_eq!(paced.observe(256, 250.0, 10_000.0, true), None);
        }
    }
}
