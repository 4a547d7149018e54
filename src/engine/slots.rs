//! Strategy bookkeeping: may a worker issue another write now? Pure logic, no I/O.
//!
//! Every strategy is one admission rule over the same in-flight set:
//! - `sync`: nothing in flight;
//! - `callbacks`: fewer than `depth` in flight (a completion frees its chain at once);
//! - `pipeline`: fewer than `depth` *held*, where a finished write keeps holding its slot until every
//!   older write of the FIFO has finished too (head-of-line waiting, as `future_full_pipeline`);
//! - `batches`: a round of `batch` writes starts only when nothing is in flight;
//! - `throttle`: fewer than the safety cap in flight.
//!
//! Switching strategy keeps every write in flight: writes issued under another strategy count
//! towards the new limit until they complete, so none is lost and the limit is never exceeded
//! once they have drained.
//!
//! The slots also keep the time they were taken, weighted by how many: the mean in flight over an
//! interval (Little's law measured, not estimated) and the head-of-line cost — slot time held by
//! writes that have finished but wait behind an older one (`pipeline`) or for the round's slowest
//! (`batches`). Callbacks at the same depth would give that time to new writes.

use std::collections::VecDeque;
use std::time::Instant;

use crate::knobs::{Knobs, Strategy};
use crate::metrics::SlotTime;

#[derive(Debug, Default)]
pub struct Slots {
    strategy: Option<Strategy>,
    in_flight: u32,
    /// `pipeline` only: writes issued under it, oldest first; `true` once finished.
    fifo: VecDeque<bool>,
    /// Sequence number of `fifo[0]`.
    fifo_front: u64,
    /// Finished writes still holding a FIFO slot behind an older unfinished one.
    held_done: u32,
    /// `batches` only: writes left to issue in the current round.
    round_left: u32,
    /// `batches` only: writes of the current round that have finished while others of it have
    /// not (they wait for the round's slowest).
    round_done: u32,
    /// Highest `in_flight` since the last [`Slots::take_max_in_flight`].
    max_in_flight: u32,
    /// Slot time since the last [`Slots::take_time`], and when it was last brought up to date.
    time: SlotTime,
    since: Option<Instant>,
}

impl Slots {
    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }

    /// Slots taken: in flight, plus (pipeline) finished writes waiting behind the oldest.
    pub fn held(&self) -> u32 {
        self.in_flight + self.held_done
    }

    /// Finished writes that still wait on an unfinished one: behind the oldest (`pipeline`) or
    /// for the round's slowest (`batches`).
    fn waiting_done(&self) -> u32 {
        self.held_done + self.round_done
    }

    /// Brings the slot time up to `now` with the counts as they were since the last change.
    fn advance(&mut self, now: Instant) {
        if let Some(since) = self.since {
            let dt = now.saturating_duration_since(since).as_secs_f64();
            self.time.in_flight_s += dt * f64::from(self.in_flight);
            self.time.held_done_s += dt * f64::from(self.waiting_done());
        }
        self.since = Some(self.since.map_or(now, |since| since.max(now)));
    }

    /// The slot time since the last call, up to `now`, and a fresh start.
    pub fn take_time(&mut self, now: Instant) -> SlotTime {
        self.advance(now);
        std::mem::take(&mut self.time)
    }

    /// The highest in-flight count since the last call, and a fresh start from the current count.
    pub fn take_max_in_flight(&mut self) -> u32 {
        std::mem::replace(&mut self.max_in_flight, self.in_flight)
    }

    /// Follows a strategy switch (or a batch-size change) made in `knobs`.
    fn adopt(&mut self, knobs: &Knobs) {
        if self.strategy != Some(knobs.strategy) {
            if self.strategy == Some(Strategy::Pipeline) {
                // Leaving the FIFO: finished writes release their slots, unfinished ones stay in
                // `in_flight` and simply count towards the next strategy's limit.
                self.fifo.clear();
                self.held_done = 0;
            }
            self.round_left = 0;
            self.round_done = 0;
            self.strategy = Some(knobs.strategy);
        }
        // A smaller batch mid-round shortens the round so the new size is never exceeded.
        self.round_left = self
            .round_left
            .min(knobs.batch.saturating_sub(self.in_flight));
    }

    /// Whether the worker may issue one more write now under `knobs`. Call [`Slots::on_issue`]
    /// for the write it then issues.
    pub fn may_issue(&mut self, knobs: &Knobs) -> bool {
        self.adopt(knobs);
        match knobs.strategy {
            Strategy::Sync => self.in_flight == 0,
            Strategy::Callbacks => self.in_flight < knobs.depth,
            Strategy::Throttle => self.in_flight < knobs.throttle_cap,
            Strategy::Pipeline => self.held() < knobs.depth,
            Strategy::Batches => {
                if self.round_left == 0 && self.in_flight == 0 {
                    self.round_left = knobs.batch;
                }
                self.round_left > 0
            }
        }
    }

    /// Records a write issued at `now` with sequence number `seq` (strictly increasing per
    /// worker).
    pub fn on_issue(&mut self, seq: u64, now: Instant) {
        self.advance(now);
        self.in_flight += 1;
        self.max_in_flight = self.max_in_flight.max(self.in_flight);
        match self.strategy {
            Some(Strategy::Pipeline) => {
                if self.fifo.is_empty() {
                    self.fifo_front = seq;
                }
                debug_assert_eq!(self.fifo_front + self.fifo.len() as u64, seq);
                self.fifo.push_back(false);
            }
            Some(Strategy::Batches) => self.round_left = self.round_left.saturating_sub(1),
            _ => {}
        }
    }

    /// Records the completion (success or error) of write `seq` at `now`.
    pub fn on_complete(&mut self, seq: u64, now: Instant) {
        self.advance(now);
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.strategy == Some(Strategy::Batches) {
            // The round's last write releases every finished one with it.
            self.round_done = if self.in_flight == 0 {
                0
            } else {
                self.round_done + 1
            };
        }
        if self.fifo.is_empty() || seq < self.fifo_front {
            return;
        }
        let Some(done) = self.fifo.get_mut((seq - self.fifo_front) as usize) else {
            return;
        };
        *done = true;
        self.held_done += 1;
        // The oldest finishing releases itself and every finished write right behind it.
        while self.fifo.front() == Some(&true) {
            self.fifo.pop_front();
            self.fifo_front += 1;
            self.held_done -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn knobs(strategy: Strategy, depth: u32, batch: u32) -> Knobs {
        Knobs {
            strategy,
            depth,
            batch,
            ..crate::knobs::Knobs::default()
        }
    }

    /// Issues while admitted; returns the sequence numbers issued.
    fn fill(slots: &mut Slots, k: &Knobs, next: &mut u64) -> Vec<u64> {
        let mut issued = Vec::new();
        while slots.may_issue(k) && issued.len() < 10_000 {
            slots.on_issue(*next, Instant::now());
            issued.push(*next);
            *next += 1;
        }
        issued
    }

    #[test]
    fn sync_is_one_at_a_time() {
        let (mut s, k, mut seq) = (Slots::default(), knobs(Strategy::Sync, 8, 8), 0);
        assert_eq!(fill(&mut s, &k, &mut seq), vec![0]);
        s.on_complete(0, Instant::now());
        assert_eq!(fill(&mut s, &k, &mut seq), vec![1]);
    }

    #[test]
    fn callbacks_refill_any_chain_at_once() {
        let (mut s, k, mut seq) = (Slots::default(), knobs(Strategy::Callbacks, 4, 8), 0);
        assert_eq!(fill(&mut s, &k, &mut seq).len(), 4);
        s.on_complete(2, Instant::now()); // not the oldest
        assert_eq!(fill(&mut s, &k, &mut seq), vec![4]);
        assert_eq!(s.in_flight(), 4);
    }

    #[test]
    fn pipeline_waits_for_the_oldest() {
        let (mut s, k, mut seq) = (Slots::default(), knobs(Strategy::Pipeline, 3, 8), 0);
        assert_eq!(fill(&mut s, &k, &mut seq), vec![0, 1, 2]);
        s.on_complete(1, Instant::now());
        s.on_complete(2, Instant::now());
        assert_eq!(s.in_flight(), 1);
        assert_eq!(
            s.held(),
            3,
            "finished writes hold their slots behind the oldest"
        );
        assert!(fill(&mut s, &k, &mut seq).is_empty());
        s.on_complete(0, Instant::now());
        assert_eq!(s.held(), 0, "the oldest releases the ones behind it");
        assert_eq!(fill(&mut s, &k, &mut seq), vec![3, 4, 5]);
    }

    #[test]
    fn batches_wait_for_the_whole_round() {
        let (mut s, k, mut seq) = (Slots::default(), knobs(Strategy::Batches, 8, 3), 0);
        assert_eq!(fill(&mut s, &k, &mut seq), vec![0, 1, 2]);
        s.on_complete(0, Instant::now());
        s.on_complete(2, Instant::now());
        assert!(
            fill(&mut s, &k, &mut seq).is_empty(),
            "the slowest holds the round"
        );
        s.on_complete(1, Instant::now());
        assert_eq!(fill(&mut s, &k, &mut seq), vec![3, 4, 5]);
    }

    #[test]
    fn throttle_stops_at_the_cap() {
        let mut k = knobs(Strategy::Throttle, 8, 8);
        k.throttle_cap = 50;
        let (mut s, mut seq) = (Slots::default(), 0);
        assert_eq!(fill(&mut s, &k, &mut seq).len(), 50);
        assert_eq!(s.take_max_in_flight(), 50);
    }

    #[test]
    fn switching_strategy_keeps_writes_in_flight_and_the_new_limit() {
        let mut seq = 0;
        let mut s = Slots::default();
        let callbacks = knobs(Strategy::Callbacks, 10, 4);
        let issued = fill(&mut s, &callbacks, &mut seq);
        assert_eq!(issued.len(), 10);

        // To pipeline with depth 4: the 10 old writes count, nothing new until below 4.
        let pipeline = knobs(Strategy::Pipeline, 4, 4);
        assert!(fill(&mut s, &pipeline, &mut seq).is_empty());
        for old in 0..7 {
            s.on_complete(old, Instant::now());
        }
        assert_eq!(fill(&mut s, &pipeline, &mut seq), vec![10]);
        // An old write finishing frees a slot; it is not part of the FIFO.
        s.on_complete(7, Instant::now());
        assert_eq!(fill(&mut s, &pipeline, &mut seq), vec![11]);

        // Back to callbacks: finished-but-held FIFO entries are released.
        s.on_complete(11, Instant::now());
        assert_eq!(s.held(), 4);
        let more = fill(&mut s, &callbacks, &mut seq);
        assert_eq!(s.in_flight(), 10);
        assert_eq!(more.len(), 7);

        // To batches of 4: wait until everything has drained, then exactly 4.
        let batches = knobs(Strategy::Batches, 10, 4);
        assert!(fill(&mut s, &batches, &mut seq).is_empty());
        for old in [8, 9, 10].into_iter().chain(more) {
            s.on_complete(old, Instant::now());
        }
        assert_eq!(s.in_flight(), 0);
        assert_eq!(fill(&mut s, &batches, &mut seq).len(), 4);
    }

    #[test]
    fn shrinking_the_batch_mid_round_shortens_the_round() {
        let mut s = Slots::default();
        let big = knobs(Strategy::Batches, 8, 10);
        assert!(s.may_issue(&big));
        s.on_issue(0, Instant::now());
        let small = knobs(Strategy::Batches, 8, 2);
        let mut seq = 1;
        assert_eq!(fill(&mut s, &small, &mut seq), vec![1]);
        assert_eq!(s.in_flight(), 2);
    }

    #[test]
    fn slot_time_is_weighted_by_how_many_and_names_the_finished_ones_that_wait() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + std::time::Duration::from_millis(ms);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;

        // Pipeline depth 2: 0 and 1 leave at 0 ms, 1 is done at 10 ms, 0 at 30 ms.
        let mut s = Slots::default();
        let k = knobs(Strategy::Pipeline, 2, 8);
        assert!(s.may_issue(&k));
        s.on_issue(0, at(0));
        s.on_issue(1, at(0));
        s.on_complete(1, at(10));
        s.on_complete(0, at(30));
        let time = s.take_time(at(40));
        // In flight: 2 for 10 ms, then 1 for 20 ms. Held done: write 1 for 20 ms.
        assert!(close(time.in_flight_s, 0.040), "{time:?}");
        assert!(close(time.held_done_s, 0.020), "{time:?}");
        assert_eq!(
            s.take_time(at(50)),
            SlotTime::default(),
            "a fresh start, nothing in flight"
        );

        // Callbacks never hold a finished write.
        let mut s = Slots::default();
        let k = knobs(Strategy::Callbacks, 2, 8);
        assert!(s.may_issue(&k));
        s.on_issue(0, at(0));
        s.on_issue(1, at(0));
        s.on_complete(1, at(10));
        s.on_complete(0, at(30));
        let time = s.take_time(at(30));
        assert!(
            close(time.in_flight_s, 0.040) && time.held_done_s == 0.0,
            "{time:?}"
        );

        // Batches of 3: two finish at 5 ms and wait for the third until 25 ms.
        let mut s = Slots::default();
        let k = knobs(Strategy::Batches, 8, 3);
        for seq in 0..3 {
            assert!(s.may_issue(&k));
            s.on_issue(seq, at(0));
        }
        s.on_complete(0, at(5));
        s.on_complete(1, at(5));
        s.on_complete(2, at(25));
        let time = s.take_time(at(25));
        assert!(close(time.held_done_s, 0.040), "{time:?}");
        assert!(close(time.in_flight_s, 0.015 + 0.020), "{time:?}");
        assert!(s.may_issue(&k), "the round ended with its slowest");
    }
}
