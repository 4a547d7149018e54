//! Canned state for the panels' `TestBackend` tests: a fixed snapshot, drawn at a fixed size.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::draw;
use crate::engine::EngineInfo;
use crate::knobs::{KnobChange, Strategy};
use crate::metrics::proc::{CpuSample, ThreadCpu};
use crate::metrics::verdict::VerdictKind;
use crate::metrics::{
    ErrorCounts, ErrorKind, Event, EventKind, IntervalStats, LatencySummary, RunState, Snapshot,
    Totals,
};
use crate::ui::app::App;

/// An app on the default knobs with an empty snapshot, for input tests.
pub fn blank() -> App {
    App::new(
        EngineInfo::for_tests(),
        Arc::new(Snapshot::empty(crate::knobs::Knobs::default())),
        120,
    )
}

/// A fixed snapshot: 90 s of pipeline at depth 384 after a switch from sync at 30 s.
pub fn canned(paced: bool) -> App {
    let knobs = crate::knobs::Knobs {
        strategy: Strategy::Pipeline,
        depth: 384,
        rate: if paced { 20_000.0 } else { 0.0 },
        ..Default::default()
    };
    let history: VecDeque<Arc<IntervalStats>> = (1..=90)
        .map(|second| canned_second(second, paced))
        .collect();
    let mut errors = ErrorCounts::default();
    errors.add(ErrorKind::Timeout);
    let events: VecDeque<Arc<Event>> = [
        (
            30.0,
            "strategy pipeline",
            EventKind::Knob(KnobChange::new(&crate::knobs::STRATEGY, Strategy::Pipeline)),
        ),
        (
            30.0,
            "first write under `strategy pipeline` 0.2 ms after it was asked for",
            EventKind::Info,
        ),
        (
            45.5,
            "depth 384",
            EventKind::Knob(KnobChange::new(&crate::knobs::DEPTH, 384)),
        ),
    ]
    .into_iter()
    .map(|(at_s, text, kind)| {
        Arc::new(Event {
            at_s,
            text: text.into(),
            kind,
        })
    })
    .collect();
    let snapshot = Snapshot {
        started: Instant::now(),
        elapsed: Duration::from_secs(90),
        state: RunState::Running,
        paced,
        knobs,
        interval: history.back().cloned().unwrap(),
        totals: Totals {
            issued: 1_755_001,
            ok: 1_755_000,
            ok_rows: 1_755_000,
            errors,
            ..Totals::default()
        },
        history,
        events,
        encoded: Default::default(),
    };
    App::new(EngineInfo::for_tests(), Arc::new(snapshot), 120)
}

/// Second `second` of [`canned`]: sync until 30 s, pipeline at depth 384 after.
fn canned_second(second: u32, paced: bool) -> Arc<IntervalStats> {
    let fast = second > 30;
    let p50 = if fast { 2_400 } else { 210 };
    Arc::new(IntervalStats {
        at_s: f64::from(second),
        length_s: 1.0,
        issued: if fast { 27_000 } else { 4_500 },
        ok: if fast { 27_000 } else { 4_500 },
        ok_rows: if fast { 27_000 } else { 4_500 },
        throughput: if fast { 27_000.0 } else { 4_500.0 },
        in_flight: if fast { 384 } else { 1 },
        in_flight_max: if fast { 384 } else { 1 },
        in_flight_mean: if fast { 65.0 } else { 0.95 },
        // Pipeline at depth 384 with 65 in flight: the rest of the slots wait on the oldest.
        head_of_line_percent: if fast { 83.0 } else { 0.0 },
        pacer_late: paced.then(|| LatencySummary {
            p50: 12,
            p99: 45,
            ..LatencySummary::default()
        }),
        service: LatencySummary {
            count: 1,
            mean: p50 as f64,
            p50,
            p90: p50 * 2,
            p99: p50 * 8,
            p999: p50 * 20,
            max: p50 * 40,
        },
        response: paced.then(|| LatencySummary {
            p99: 90_000,
            ..LatencySummary::default()
        }),
        cpu: CpuSample {
            process_percent: 31.0,
            threads: vec![ThreadCpu {
                name: "casstop-engine".into(),
                percent: 29.5,
                run_queue_percent: 3.0,
            }],
            rss_bytes: 12 << 20,
            node_percent: Some(176.0),
            node_rss_bytes: Some(1_500 << 20),
            process_cpu_s: 20.0,
            machine_percent: Some(198.0),
        },
        verdict: crate::metrics::verdict::Verdict {
            kind: VerdictKind::ServerBound,
            text:
                "server-bound: node at 176% of 2 cores, p99 19.20 ms — the client is not the limit"
                    .into(),
            limit: None,
        },
        ..IntervalStats::default()
    })
}

pub fn screen(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| draw(frame, app)).unwrap();
    let buffer = terminal.backend().buffer();
    (0..height)
        .map(|y| {
            (0..width)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}
