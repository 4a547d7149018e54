//! The aggregator's interval hand-over and closing, without a node: edges, knob changes at
//! them, per-worker merges and the event log.

use super::*;
use crate::knobs::{DEPTH, KnobChange};

const INTERVAL: Duration = Duration::from_secs(1);

fn state() -> (State, Instant) {
    let (state, started, _) = watched();
    (state, started)
}

/// A state, and what readers of its snapshots see.
fn watched() -> (State, Instant, watch::Receiver<Arc<Snapshot>>) {
    let started = Instant::now();
    let knobs = Knobs::default();
    let (latest, seen) = watch::channel(Arc::new(Snapshot::empty(knobs.clone())));
    let (every, _) = broadcast::channel(16);
    let state = State::new(knobs, INTERVAL, started, None, latest, every);
    (state, started, seen)
}

fn report(worker: u32, ok: u64, latency_us: u64, in_flight: u32) -> MetricsMessage {
    let mut report = WorkerReport::new(worker);
    report.issued = ok;
    report.ok = ok;
    report.ok_rows = ok;
    for _ in 0..ok {
        report.service.record(latency_us).unwrap();
    }
    report.in_flight = in_flight;
    report.in_flight_max = in_flight;
    MetricsMessage::Report(Box::new(report))
}

fn depth_change(depth: u32, version: u64, at: Instant) -> MetricsMessage {
    let change = KnobChange::new(&DEPTH, depth);
    let knobs = Knobs::default().apply(&change).unwrap();
    MetricsMessage::Knobs {
        knobs: Box::new(knobs),
        version,
        change: Some(change),
        at,
    }
}

#[test]
fn hand_overs_of_several_workers_merge_into_the_interval_they_arrive_in() {
    let (mut state, started) = state();
    state.handle(report(0, 300, 1_000, 4));
    state.handle(report(1, 200, 3_000, 6));
    state.close_interval(started + INTERVAL);
    let first = state.history.back().unwrap().clone();
    assert_eq!((first.issued, first.ok, first.ok_rows), (500, 500, 500));
    assert_eq!(first.service.count, 500);
    assert_eq!(first.service.max, 3_001, "HDR rounds within 3 digits");
    // In flight is a gauge per worker: their latest values add up, not their history.
    assert_eq!(first.in_flight, 10);
    assert_eq!(first.length_s, 1.0);
    assert_eq!(first.throughput, 500.0);

    // The next interval starts empty; the totals keep both.
    state.handle(report(0, 50, 1_000, 4));
    state.close_interval(started + 2 * INTERVAL);
    let second = state.history.back().unwrap().clone();
    assert_eq!(second.ok, 50);
    assert_eq!(second.at_s, 2.0);
    assert_eq!(state.totals.ok, 550);
    assert_eq!(state.service.len(), 550);
}

fn failing(worker: u32, kind: ErrorKind, detail: &str) -> MetricsMessage {
    let mut report = WorkerReport::new(worker);
    report.issued = 10;
    for _ in 0..10 {
        report.errors.add(kind);
    }
    report.first_error = Some((kind, detail.into()));
    MetricsMessage::Report(Box::new(report))
}

#[test]
fn the_event_log_quotes_a_drivers_error_once_until_another_comes() {
    let (mut state, started) = state();
    let quoted = |state: &State| -> Vec<String> {
        // Only the quotes: the node's health has events of its own.
        let events = state.events.iter().filter(|e| e.text.contains(" error: "));
        events.map(|e| e.text.clone()).collect()
    };
    let timeout = "Request timeout: Request took longer than 1ms";
    for second in 1..=3 {
        state.handle(failing(0, ErrorKind::Timeout, timeout));
        state.handle(failing(1, ErrorKind::Timeout, timeout));
        state.close_interval(started + second * INTERVAL);
    }
    assert_eq!(quoted(&state), [format!("timeout error: {timeout}")]);
    state.handle(failing(0, ErrorKind::Unavailable, "not enough replicas"));
    state.close_interval(started + 4 * INTERVAL);
    state.handle(failing(0, ErrorKind::Timeout, timeout));
    state.close_interval(started + 5 * INTERVAL);
    assert_eq!(
        quoted(&state),
        [
            format!("timeout error: {timeout}"),
            "unavailable error: not enough replicas".into(),
            format!("timeout error: {timeout}"),
        ],
        "a new error is quoted, and the old one again when it comes back"
    );
}

#[test]
fn an_interval_without_hand_overs_is_empty_not_a_copy_of_the_last() {
    let (mut state, started) = state();
    state.handle(report(0, 100, 1_000, 1));
    state.close_interval(started + INTERVAL);
    state.close_interval(started + 2 * INTERVAL);
    let last = state.history.back().unwrap();
    assert_eq!((last.issued, last.ok, last.service.count), (0, 0, 0));
    assert_eq!(state.totals.ok, 100);
}

#[test]
fn a_change_made_after_an_edge_belongs_to_the_next_interval() {
    let (mut state, started, seen) = watched();
    let before = state.knobs.depth;
    // Asked for 1.2 s in, while the aggregator still waits for the hand-overs of the
    // interval that ended at 1 s: that interval ran under the old depth.
    state.handle(depth_change(
        before + 7,
        1,
        started + INTERVAL + INTERVAL / 5,
    ));
    state.close_interval(started + INTERVAL);
    assert_eq!(seen.borrow().knobs.depth, before);
    state.close_interval(started + 2 * INTERVAL);
    assert_eq!(seen.borrow().knobs.depth, before + 7);
    // The change is an event at the moment it was asked for.
    let event = state.events.back().unwrap();
    assert_eq!(event.text, format!("depth {}", before + 7));
    assert!((event.at_s - 1.2).abs() < 1e-9, "{}", event.at_s);
}

#[test]
fn a_change_inside_the_open_interval_is_in_force_at_its_end() {
    let (mut state, started, seen) = watched();
    state.handle(depth_change(99, 1, started + INTERVAL / 2));
    state.close_interval(started + INTERVAL);
    assert_eq!(seen.borrow().knobs.depth, 99);
}

/// One change inside the open interval and one after its edge (before the hand-overs closed
/// it): the interval closes under the first, the next under the second. Holding the first for
/// the edge too would let the second overwrite it and the interval show neither.
#[test]
fn changes_either_side_of_an_edge_each_land_in_their_own_interval() {
    let (mut state, started, seen) = watched();
    let before = Knobs::default().depth;
    state.handle(depth_change(before + 5, 1, started + INTERVAL / 2));
    state.handle(depth_change(
        before + 9,
        2,
        started + INTERVAL + INTERVAL / 10,
    ));
    state.close_interval(started + INTERVAL);
    assert_eq!(seen.borrow().knobs.depth, before + 5);
    state.close_interval(started + 2 * INTERVAL);
    assert_eq!(seen.borrow().knobs.depth, before + 9);
}

#[test]
fn the_first_write_under_a_change_is_reported_once_with_its_delay() {
    let (mut state, started) = state();
    state.handle(depth_change(99, 3, started + INTERVAL / 2));
    for worker in 0..2 {
        let mut report = WorkerReport::new(worker);
        report.knobs_applied.push((3, Duration::from_millis(7)));
        state.handle(MetricsMessage::Report(Box::new(report)));
    }
    let firsts: Vec<&str> = state
        .events
        .iter()
        .map(|e| e.text.as_str())
        .filter(|t| t.starts_with("first write under"))
        .collect();
    assert_eq!(
        firsts,
        ["first write under `depth 99` 7.0 ms after it was asked for"]
    );
}
